/* The queue probe (probe-queue.c): a backlog's depth and its growth, from a spool directory,
 * from the worker's own X_VIGIL_QUEUE= reports, or from what a command prints. */
#pragma once

#include "probe-command.h"
#include "probe.h"
#include "trend.h"

/* One reading of the backlog. */
typedef struct QueueReading {
        bool present;          /* false: nothing reported yet (notify): no verdict */
        bool stale;            /* the last report is older than 3 × every: UNKNOWN */
        uint64_t depth;
        bool bounded;          /* a spool with max_count entries or more: depth is max_count */
        usec_t report_age;     /* notify: since the last X_VIGIL_QUEUE= */
} QueueReading;

/* The result for a reading taken at `now` under pc (a queue probe's config). trend is the
 * probe's window for the growth (NULL when no growth threshold is set): the reading is added to
 * it first. The mapping from reading to result, apart from the directory and the reports, for
 * the unit test. */
void probe_queue_judge(const ProbeConfig *pc, TrendWindow *trend, const QueueReading *q, usec_t now,
                       ProbeResult *r);

/* The depth a command printed: line (n bytes, its first line without the line end) begins,
 * after blanks, with a whole number that ends the line or is followed by a blank ("42",
 * "42 jobs"). Returns 0 with *ret_depth; -EINVAL for no such number ("", "depth 42", "3.5",
 * "-1", "1,200"); -ERANGE past UINT64_MAX. Pure. */
int probe_queue_parse_depth(const char *line, size_t n, uint64_t *ret_depth);

/* The result for a command's outcome under pc (a queue probe with command): exit status 0 and
 * a depth on the first line are judged as probe_queue_judge() judges a reading; another exit
 * status, a signal or a first line without a depth is UNKNOWN, saying which. The evidence adds
 * the exit status (or the signal) and the first line. Pure but for trend. */
void probe_queue_judge_command(const ProbeConfig *pc, TrendWindow *trend, const ProbeCommandOutcome *o,
                               usec_t now, ProbeResult *r);

extern const ProbeOps probe_queue_ops;
