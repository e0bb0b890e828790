/* The exec probe (probe-exec.c): a command judged by the monitoring-plugins convention. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "probe-command.h"
#include "probe.h"

/* At most this much of a command's output is kept (the first line is what counts). */
#define PROBE_EXEC_OUTPUT_MAX PROBE_COMMAND_OUTPUT_MAX

/* How a command ended and what it printed. */
typedef ProbeCommandOutcome ExecOutcome;

/* The result for an outcome: the status from the exit status (0 OK, 1 WARNING, 2 CRITICAL,
 * 3 UNKNOWN, anything else and a signal UNKNOWN), the message from the first line, the value
 * and threshold from the first performance data item. Pure: the mapping apart from the
 * process, for the unit test. Fills every part of r. */
void probe_exec_judge(const ExecOutcome *o, ProbeResult *r);

extern const ProbeOps probe_exec_ops;
