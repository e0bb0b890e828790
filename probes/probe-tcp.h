/* The tcp probe (probe-tcp.c): whether a TCP port accepts connections, and how fast. */
#pragma once

#include "probe.h"

extern const ProbeOps probe_tcp_ops;
