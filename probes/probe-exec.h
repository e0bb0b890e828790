/* The exec probe (probe-exec.c): a command judged by the monitoring-plugins convention. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "probe.h"

/* At most this much of a command's output is kept (the first line is what counts). */
#define PROBE_EXEC_OUTPUT_MAX 4096U

/* How a command ended and what it printed. */
typedef struct ExecOutcome {
        int code;            /* siginfo si_code: CLD_EXITED, CLD_KILLED, CLD_DUMPED; 0: unknown */
        int status;          /* the exit status, or the signal */
        const char *output;  /* stdout and stderr as they came, not NUL-terminated */
        size_t size;         /* bytes of output, at most PROBE_EXEC_OUTPUT_MAX */
        bool truncated;      /* the command printed more than was kept */
} ExecOutcome;

/* The result for an outcome: the status from the exit status (0 OK, 1 WARNING, 2 CRITICAL,
 * 3 UNKNOWN, anything else and a signal UNKNOWN), the message from the first line, the value
 * and threshold from the first performance data item. Pure: the mapping apart from the
 * process, for the unit test. Fills every part of r. */
void probe_exec_judge(const ExecOutcome *o, ProbeResult *r);

extern const ProbeOps probe_exec_ops;
