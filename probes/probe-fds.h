/* The fds probe (probe-fds.c): open file descriptors of an instance's processes, or the
 * host's allocated file handles, with thresholds and leak detection. */
#pragma once

#include <inttypes.h>

#include "probe.h"

/* Entries of one process's /proc/PID/fd counted at most (the kernel's default nr_open). */
#define PROBE_FDS_PER_PROCESS_MAX (1U << 20)

/* One reading, as check() takes it. */
typedef struct ProbeFdsReading {
        bool host;                  /* /proc/sys/fs/file-nr */
        usec_t at;                  /* CLOCK_MONOTONIC */
        uint64_t total;             /* open descriptors, summed over the processes (host: allocated) */
        double percent;             /* the highest count / soft RLIMIT_NOFILE over the processes
                                     * (host: allocated / file-max); NAN: no limit known */
        pid_t worst_pid;            /* the process of that percentage (0: host, or none) */
        uint64_t worst_count, worst_limit;
        uint64_t headroom;          /* the least soft limit - count over the processes (host:
                                     * file-max - allocated); UINT64_MAX: no limit known */
        size_t n_processes;         /* SIZE_MAX: not counted (host) */
        bool truncated;             /* more processes, or descriptors, than were counted */
} ProbeFdsReading;

/* The result for reading f under c (an fds probe's check, whose state holds the leak trend):
 * thresholds on the total count or on the percentage, then leak detection on the total when
 * leak_window is set, projected to total + headroom (the limit of the process nearest to its
 * own, should the growth be there). -ENOMEM when the trend could not be allocated. Pure apart
 * from c->state. */
int probe_fds_judge(ProbeCheck *c, const ProbeFdsReading *f, ProbeResult *r);

/* The allocated and maximum file handles of the text of /proc/sys/fs/file-nr. */
int probe_fds_parse_file_nr(const char *text, uint64_t *ret_allocated, uint64_t *ret_max);

/* The entries of the directory dirfd (a /proc/PID/fd) whose names are numbers, read with
 * getdents64() from its current position, without a stat() per entry. At most max: returns 1
 * when there were more (*ret_count is then max), 0 otherwise, or -errno. */
int probe_fds_count_dir(int dirfd, uint64_t max, uint64_t *ret_count);

extern const ProbeOps probe_fds_ops;
