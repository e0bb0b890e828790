/* The cpu probe (probe-cpu.c): CPU use of an instance's processes, or of the host, as a rate
 * between two samples. */
#pragma once

#include <inttypes.h>

#include "probe.h"

typedef enum ProbeCpuSource {
        PROBE_CPU_SOURCE_CGROUP,    /* usage_usec of the instance's cgroup.stat */
        PROBE_CPU_SOURCE_PROC,      /* the sum over its processes of /proc/PID/stat */
        PROBE_CPU_SOURCE_HOST,      /* the first line of /proc/stat */
        _PROBE_CPU_SOURCE_MAX,
        _PROBE_CPU_SOURCE_INVALID = -EINVAL,
} ProbeCpuSource;

const char *probe_cpu_source_to_string(ProbeCpuSource s) _pure_;
ProbeCpuSource probe_cpu_source_from_string(const char *s) _pure_;

/* One reading of a cumulative counter; the rate comes from two of them. */
typedef struct ProbeCpuReading {
        ProbeCpuSource source;
        usec_t at;                  /* CLOCK_MONOTONIC when it was read */
        uint64_t usage_usec;        /* cgroup, proc: CPU time used so far */
        uint64_t busy_ticks;        /* host: total - idle - iowait */
        uint64_t total_ticks;       /* host: every state of every CPU */
        unsigned n_cpus;            /* host, for messages; 0: not known */
        size_t n_processes;         /* SIZE_MAX: not counted */
        bool truncated;             /* more processes than PROCS_MAX: usage is of the first ones */
} ProbeCpuReading;

/* The result for reading r under c (a cpu probe's check, whose state keeps the previous
 * reading): the percentage of one core (instance) or of all cores (host) over the interval
 * since the previous reading. The first reading, and one whose counter went backwards or whose
 * source changed, gives no verdict and becomes the new baseline. Pure apart from c->state. */
void probe_cpu_judge(ProbeCheck *c, const ProbeCpuReading *reading, ProbeResult *r);

/* The usage_usec of the text of a cgroup's cpu.stat. -ENOENT when it has none. */
int probe_cpu_parse_cgroup_stat(const char *text, uint64_t *ret_usage_usec);

/* From the text of /proc/stat (its first line is enough): busy and total ticks of all CPUs.
 * busy leaves out idle and iowait; total adds user, nice, system, idle, iowait, irq, softirq
 * and steal (guest time is part of user already). -EINVAL when it has no "cpu " line. */
int probe_cpu_parse_proc_stat(const char *text, uint64_t *ret_busy, uint64_t *ret_total);

extern const ProbeOps probe_cpu_ops;
