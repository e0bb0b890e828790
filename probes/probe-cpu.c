/* The cpu probe: how busy an instance's processes, or the host, kept the CPUs between two
 * samples. An instance's CPU time is its cgroup's usage_usec (cpu.stat exists in every cgroup
 * v2 cgroup, controllers or not), else the sum over its processes of /proc/PID/stat; 100% is
 * one core busy, so a multi-threaded instance can exceed it. The host's is the first line of
 * /proc/stat; 100% is every core busy. The state holds the previous reading and nothing else:
 * a sample is one small read (a few per process without a cgroup) and no allocation.
 * Non-logging; never blocks. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "probe-cpu.h"
#include "procs.h"

static const char *const probe_cpu_source_table[_PROBE_CPU_SOURCE_MAX] = {
        [PROBE_CPU_SOURCE_CGROUP] = "cgroup",
        [PROBE_CPU_SOURCE_PROC] = "proc",
        [PROBE_CPU_SOURCE_HOST] = "host",
};
DEFINE_STRING_TABLE_LOOKUP(probe_cpu_source, ProbeCpuSource);

typedef struct CpuState {
        bool has_last;
        ProbeCpuReading last;
} CpuState;

/* The value of the line "key N" in text. */
static int keyed_value(const char *text, const char *key, uint64_t *ret) {
        size_t l = strlen(key);

        for (const char *line = text; *line;) {
                const char *eol = strchrnul(line, '\n');

                if ((size_t) (eol - line) > l && strncmp(line, key, l) == 0 && line[l] == ' ') {
                        char *end;
                        uint64_t v;

                        if (line[l + 1] < '0' || line[l + 1] > '9')
                                return -EINVAL;
                        errno = 0;
                        v = strtoull(line + l + 1, &end, 10);
                        if (errno != 0 || end != eol)
                                return -EINVAL;
                        *ret = v;
                        return 0;
                }
                line = *eol ? eol + 1 : eol;
        }
        return -ENOENT;
}

int probe_cpu_parse_cgroup_stat(const char *text, uint64_t *ret_usage_usec) {
        return keyed_value(text, "usage_usec", ret_usage_usec);
}

int probe_cpu_parse_proc_stat(const char *text, uint64_t *ret_busy, uint64_t *ret_total) {
        uint64_t v[8] = {}, total = 0;   /* user nice system idle iowait irq softirq steal */
        const char *p;

        if (strncmp(text, "cpu ", 4) != 0)
                return -EINVAL;
        p = text + 4;
        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                char *end;

                p += strspn(p, " ");
                /* Kernels before 2.6.11 stop after iowait or softirq: the rest count as 0. */
                if (i >= 5 && (*p == '\n' || *p == 0))
                        break;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                errno = 0;
                v[i] = strtoull(p, &end, 10);
                if (errno != 0)
                        return -EINVAL;
                p = end;
                total += v[i];
        }
        *ret_busy = total - v[3] - v[4];
        *ret_total = total;
        return 0;
}

static void remember(CpuState *s, const ProbeCpuReading *reading) {
        s->last = *reading;
        s->has_last = true;
}

void probe_cpu_judge(ProbeCheck *c, const ProbeCpuReading *reading, ProbeResult *r) {
        CpuState *s = c->state;
        const ProbeCpuReading *last = &s->last;
        const char *source = probe_cpu_source_to_string(reading->source);
        bool host = reading->source == PROBE_CPU_SOURCE_HOST;
        uint64_t used, wall;
        double pct;

        if (!s->has_last || last->source != reading->source) {
                remember(s, reading);
                r->no_verdict = true;
                probe_result_message(r, "first sample (%s): the rate comes with the next", source);
                return;
        }
        if (reading->at <= last->at) {
                /* No time has passed: nothing to divide by. Keep the older baseline. */
                r->no_verdict = true;
                probe_result_message(r, "no time since the previous sample");
                return;
        }
        /* Less CPU time than before: the cgroup was made anew, or a process whose time was
         * counted ended and was reaped outside the set. A rate across that would be wrong
         * (negative, or too low): start again from here. */
        if (host ? reading->busy_ticks < last->busy_ticks || reading->total_ticks <= last->total_ticks
                 : reading->usage_usec < last->usage_usec) {
                remember(s, reading);
                r->no_verdict = true;
                probe_result_message(r, "CPU time went backwards (%s): baseline restarted", source);
                return;
        }

        wall = reading->at - last->at;
        if (host) {
                uint64_t busy = reading->busy_ticks - last->busy_ticks,
                         total = reading->total_ticks - last->total_ticks;

                pct = 100.0 * (double) busy / (double) total;
                probe_result_judge(r, c->config, pct, pct);
                if (reading->n_cpus > 0)
                        probe_result_message(r, "CPU %.1f%% of all %u cores busy", pct, reading->n_cpus);
                else
                        probe_result_message(r, "CPU %.1f%% of all cores busy", pct);
                probe_result_evidence(r, "\"source\":\"host\",\"percent\":%.3f,\"busy_ticks_delta\":%" PRIu64
                                      ",\"total_ticks_delta\":%" PRIu64 ",\"wall_usec_delta\":%" PRIu64
                                      ",\"n_cpus\":%u", pct, busy, total, wall, reading->n_cpus);
        } else {
                used = reading->usage_usec - last->usage_usec;
                pct = 100.0 * (double) used / (double) wall;
                probe_result_judge(r, c->config, pct, pct);
                probe_result_message(r, "CPU %.1f%% of one core (%s%s)", pct, source,
                                     reading->truncated ? ", first processes only" : "");
                probe_result_evidence(r, "\"source\":\"%s\",\"percent\":%.3f,\"usage_usec_delta\":%" PRIu64
                                      ",\"wall_usec_delta\":%" PRIu64, source, pct, used, wall);
                if (reading->n_processes != SIZE_MAX)
                        probe_result_evidence(r, "\"n_processes\":%zu", reading->n_processes);
                if (reading->truncated)
                        probe_result_evidence(r, "\"truncated\":true");
        }
        remember(s, reading);
}

/* The first line of /proc/stat only: the rest of the file (a line per CPU, every interrupt
 * counter) can be tens of kilobytes that read_small_file() would have to take whole. */
static int read_host(ProbeCpuReading *ret) {
        _cleanup_close_ int fd = -EBADF;
        char buf[512];
        ssize_t n;
        long ncpu;
        int r;

        fd = open("/proc/stat", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof buf - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        if (!memchr(buf, '\n', (size_t) n))
                return -EINVAL;
        ret->source = PROBE_CPU_SOURCE_HOST;
        r = probe_cpu_parse_proc_stat(buf, &ret->busy_ticks, &ret->total_ticks);
        if (r < 0)
                return r;
        ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        ret->n_cpus = ncpu > 0 ? (unsigned) ncpu : 0;
        return 0;
}

static int read_cgroup(const char *cgroup_path, ProbeCpuReading *ret) {
        char path[PATH_MAX], text[1024];
        ssize_t n;

        if ((size_t) snprintf(path, sizeof path, "%s/cpu.stat", cgroup_path) >= sizeof path)
                return -ENAMETOOLONG;
        n = read_small_file(path, text, sizeof text);
        if (n < 0)
                return (int) n;
        ret->source = PROBE_CPU_SOURCE_CGROUP;
        return probe_cpu_parse_cgroup_stat(text, &ret->usage_usec);
}

/* The sum of utime, stime, cutime and cstime over the processes: with the time of the
 * children they have reaped, a child that ends within the set moves its time to its parent
 * instead of taking it away. */
static int read_processes(const ProbeTarget *t, ProbeCpuReading *ret) {
        pid_t pids[PROCS_MAX];
        uint64_t ticks = 0;
        long hz = sysconf(_SC_CLK_TCK);
        size_t n;
        int r;

        if (hz <= 0)
                return -EINVAL;
        r = procs_list(t, pids, ELEMENTSOF(pids), &n);
        if (r < 0)
                return r;
        ret->truncated = r > 0;
        ret->n_processes = 0;
        for (size_t i = 0; i < n; i++) {
                ProcStat st;

                if (procs_read_stat(pids[i], &st) < 0)
                        continue;   /* gone since it was listed */
                ticks += st.utime + st.stime + st.cutime + st.cstime;
                ret->n_processes++;
        }
        if (ret->n_processes == 0)
                return -ESRCH;
        ret->source = PROBE_CPU_SOURCE_PROC;
        ret->usage_usec =
                ticks / (uint64_t) hz * USEC_PER_SEC + ticks % (uint64_t) hz * USEC_PER_SEC / (uint64_t) hz;
        return 0;
}

static int cpu_check(ProbeCheck *c, const ProbeTarget *t, ProbeResult *ret) {
        ProbeCpuReading reading = { .n_processes = SIZE_MAX };
        int r;

        if (t->instance < 0)
                r = read_host(&reading);
        else if (t->cgroup_path) {
                r = read_cgroup(t->cgroup_path, &reading);
                /* A cgroup without cpu.stat (a kernel before 4.15) is a set of processes still. */
                if (r == -ENOENT && access(t->cgroup_path, F_OK) == 0)
                        r = read_processes(t, &reading);
        } else
                r = read_processes(t, &reading);
        if (r < 0)
                return r;
        reading.at = now(CLOCK_MONOTONIC);

        probe_cpu_judge(c, &reading, ret);

        /* The count of a cgroup's processes is evidence, worth its read of cgroup.procs only
         * when the result will be recorded. */
        if (reading.source == PROBE_CPU_SOURCE_CGROUP &&
            IN_SET(ret->status, PROBE_WARNING, PROBE_CRITICAL)) {
                pid_t pids[PROCS_MAX];
                size_t n;

                r = procs_list(t, pids, ELEMENTSOF(pids), &n);
                if (r >= 0)
                        probe_result_evidence(ret, "\"n_processes\":%zu%s", n,
                                              r > 0 ? ",\"truncated\":true" : "");
        }
        return 0;
}

static void cpu_reset(ProbeCheck *c, bool done) {
        CpuState *s = c->state;

        s->has_last = false;
}

const ProbeOps probe_cpu_ops = {
        .spec = {
                .kind = "cpu",
                .scopes = PROBE_SCOPE_HOST | PROBE_SCOPE_INSTANCE,
                .threshold_units = THRESHOLD_PERCENT,
        },
        .category = CATEGORY_RESOURCE,
        .state_size = sizeof(CpuState),
        .timeout_status = PROBE_UNKNOWN,
        .check = cpu_check,
        .reset = cpu_reset,
};
