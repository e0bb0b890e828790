/* The memory probe (probe-memory.c): resident memory of an instance's processes, or the host's
 * used memory, with thresholds and leak detection. */
#pragma once

#include <inttypes.h>

#include "probe.h"

typedef enum ProbeMemoryMeasure {
        PROBE_MEMORY_RSS,           /* sum of /proc/PID/statm resident pages */
        PROBE_MEMORY_PSS,           /* sum of Pss of /proc/PID/smaps_rollup */
        PROBE_MEMORY_CGROUP,        /* memory.current of the instance's cgroup */
        _PROBE_MEMORY_MEASURE_MAX,
        _PROBE_MEMORY_MEASURE_INVALID = -EINVAL,
} ProbeMemoryMeasure;

const char *probe_memory_measure_to_string(ProbeMemoryMeasure m) _pure_;
ProbeMemoryMeasure probe_memory_measure_from_string(const char *s) _pure_;

/* One reading, as check() takes it. */
typedef struct ProbeMemoryReading {
        bool host;                  /* MemTotal - MemAvailable; measure is ignored */
        ProbeMemoryMeasure measure;
        usec_t at;                  /* CLOCK_MONOTONIC */
        uint64_t bytes;             /* what was measured */
        uint64_t limit;             /* what percentages and the leak projection are of; 0: none known */
        const char *limit_source;   /* "limit", "memory.max", "MemTotal" */
        size_t n_processes;         /* SIZE_MAX: not counted (host, cgroup) */
        bool truncated;             /* more than PROCS_MAX processes: bytes is of the first ones */
} ProbeMemoryReading;

/* The result for reading m under c (a memory probe's check: its config and its state, which
 * holds the leak trend): thresholds on bytes or on a percentage of m->limit (UNKNOWN "no limit
 * to take a percentage of" without one), then leak detection when leak_window is set.
 * -ENOMEM when the trend's window could not be allocated (first sample). Pure apart from
 * c->state. */
int probe_memory_judge(ProbeCheck *c, const ProbeMemoryReading *m, ProbeResult *r);

/* Parsers of the texts the probe reads. -EINVAL for text that is not what it should be; the
 * meminfo and smaps_rollup parsers give -ENOENT when a line they need is missing. */
int probe_memory_parse_statm(const char *text, uint64_t *ret_resident_pages);
int probe_memory_parse_smaps_rollup(const char *text, uint64_t *ret_pss_bytes);
int probe_memory_parse_meminfo(const char *text, uint64_t *ret_total_bytes, uint64_t *ret_available_bytes);
/* memory.current, or memory.max: a number, or "max" (-ERANGE: no limit). */
int probe_memory_parse_cgroup_value(const char *text, uint64_t *ret_bytes);

extern const ProbeOps probe_memory_ops;
