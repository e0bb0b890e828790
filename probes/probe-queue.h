/* The queue probe (probe-queue.c): a backlog's depth and its growth, from a spool directory or
 * from the worker's own X_VIGIL_QUEUE= reports. */
#pragma once

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

extern const ProbeOps probe_queue_ops;
