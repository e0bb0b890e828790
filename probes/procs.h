/* The processes of a probe's target (procs.c): every process of the instance's cgroup, or
 * without one its main process and the descendants still in its process group; and the
 * parsing of /proc/PID/stat. Non-logging; never allocates. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "probe.h"

/* How many processes of one target a resource probe looks at, at most. */
#define PROCS_MAX 1024U

/* Fills buf with the pids of t's processes: those listed in t->cgroup_path/cgroup.procs when
 * the target has a cgroup, else t->pid followed by its descendants (found through
 * /proc/PID/task/TID/children, never by a scan of /proc) that are in the process group
 * t->pid. At most max of them (and, without a cgroup, at most max threads visited). Returns
 * 0 when the list is complete, 1 when the bound was hit (buf holds the first max found), or
 * -errno: -ESRCH for a target with neither cgroup nor main process, -ENOENT when the cgroup
 * is gone, -EINVAL for a cgroup.procs that is not a list of pids. *ret_n is set on success.
 * A process that exits during the walk may or may not be listed. */
int procs_list(const ProbeTarget *t, pid_t *buf, size_t max, size_t *ret_n);

/* The fields of /proc/PID/stat the probes use (proc(5); times in clock ticks). */
typedef struct ProcStat {
        pid_t pid;
        char state;
        pid_t ppid;
        pid_t pgrp;
        uint64_t utime, stime;      /* this process's own CPU time */
        uint64_t cutime, cstime;    /* of its children it has waited for (and theirs) */
        uint64_t num_threads;
} ProcStat;

/* Parses the text of /proc/PID/stat. The command name may hold anything, spaces and
 * parentheses included: the fields are found after its last ")". -EINVAL for text that is
 * not a stat line. */
int procs_parse_stat(const char *text, ProcStat *ret);

/* Reads and parses /proc/PID/stat. -ENOENT (or -ESRCH) for a process that is gone. */
int procs_read_stat(pid_t pid, ProcStat *ret);
