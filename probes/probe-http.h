/* The http probe (probe-http.c): a GET of a URL, judged on status, body and response time. */
#pragma once

#include "probe.h"

extern const ProbeOps probe_http_ops;
