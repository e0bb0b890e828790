/* The progress probe (probe-progress.c): a worker that is alive (it still sends WATCHDOG=1) but
 * whose work counter (X_VIGIL_PROGRESS=) has stopped advancing. */
#pragma once

#include "probe.h"

/* What the kind keeps of one process between samples. */
typedef struct ProgressState {
        bool sampled;        /* a sample of this process was taken */
        usec_t sampled_at;   /* CLOCK_MONOTONIC of the previous sample */
        bool has_value;
        uint64_t value;      /* the counter at the previous sample */
} ProgressState;

/* The result of a sample at `now` of reports (NULL: none, the host) under pc, given what the
 * previous sample left in s (updated for the next one): the mapping from reports to result,
 * apart from the clock, for the unit test. */
void probe_progress_judge(const ProbeConfig *pc, ProgressState *s, const ProbeReports *reports, usec_t now,
                          ProbeResult *r);

extern const ProbeOps probe_progress_ops;
