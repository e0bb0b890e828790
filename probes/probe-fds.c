/* The fds probe: open file descriptors of an instance's processes, counted from the entries of
 * each /proc/PID/fd (getdents64 through a stack buffer, no stat per entry), and how near each
 * process is to its own soft RLIMIT_NOFILE (prlimit): the percentage reported is the highest
 * over the processes, since each runs out on its own. For the host, the allocated file handles
 * of /proc/sys/fs/file-nr, and the percentage of file-max. leak_window adds leak detection on
 * the total (probe-leak.c). A sample costs an open, a getdents or a few and a prlimit per
 * process; the state is the leak trend, allocated once. Non-logging; never blocks. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fileio.h"
#include "probe-fds.h"
#include "probe-leak.h"
#include "procs.h"

typedef struct FdsSettings {
        ProbeLeakSettings leak;
} FdsSettings;

typedef struct FdsState {
        ProbeLeak leak;
} FdsState;

static const ConfigKey fds_keys[] = {
        PROBE_LEAK_KEY_WINDOW(FdsSettings),
        PROBE_LEAK_KEY_MIN_RATE_COUNT(FdsSettings),
};

static int fds_check_config(ConfigParser *p, const config_setting_t *g, const ProbeConfig *pc,
                            bool cgroups_off) {
        const FdsSettings *s = pc->settings;

        return probe_leak_check_config(p, g, pc, &s->leak);
}

int probe_fds_parse_file_nr(const char *text, uint64_t *ret_allocated, uint64_t *ret_max) {
        uint64_t v[3];
        const char *p = text;

        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                char *end;

                p += strspn(p, " \t");
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                errno = 0;
                v[i] = strtoull(p, &end, 10);
                if (errno != 0)
                        return -EINVAL;
                p = end;
        }
        if (!IN_SET(*p, '\n', 0) || v[2] == 0)
                return -EINVAL;
        *ret_allocated = v[0];
        *ret_max = v[2];
        return 0;
}

int probe_fds_count_dir(int dirfd, uint64_t max, uint64_t *ret_count) {
        union {
                struct dirent64 d;
                uint8_t raw[8192];
        } buf;
        uint64_t n = 0;

        for (;;) {
                ssize_t k = getdents64(dirfd, &buf, sizeof buf);

                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                for (ssize_t off = 0; off < k;) {
                        const struct dirent64 *d = (const struct dirent64 *) (buf.raw + off);

                        off += d->d_reclen;
                        if (d->d_name[0] < '0' || d->d_name[0] > '9')
                                continue;
                        if (n >= max) {
                                *ret_count = max;
                                return 1;
                        }
                        n++;
                }
        }
        *ret_count = n;
        return 0;
}

int probe_fds_judge(ProbeCheck *c, const ProbeFdsReading *f, ProbeResult *r) {
        const FdsSettings *s = c->settings;
        FdsState *st = c->state;
        char procs[64] = "", worst[96] = "";
        double limit;

        probe_result_judge(r, c->config, (double) f->total, f->percent);
        if (f->n_processes != SIZE_MAX)
                (void) snprintf(procs, sizeof procs, " in %zu process%s%s", f->n_processes,
                                f->n_processes == 1 ? "" : "es", f->truncated ? " (the first only)" : "");
        if (f->host)
                probe_result_message(
                        r, "%" PRIu64 " file handles allocated of %" PRIu64 " (%.1f%% of file-max)",
                        f->total, f->worst_limit, f->percent);
        else {
                if (!isnan(f->percent))
                        (void) snprintf(worst, sizeof worst, ", %.1f%% of RLIMIT_NOFILE in pid %d (%" PRIu64
                                        " of %" PRIu64 ")", f->percent, (int) f->worst_pid, f->worst_count,
                                        f->worst_limit);
                else if (r->status == PROBE_UNKNOWN)
                        (void) snprintf(worst, sizeof worst, ": no RLIMIT_NOFILE to take a percentage of");
                probe_result_message(r, "%" PRIu64 " open fds%s%s", f->total, procs, worst);
        }

        probe_result_evidence(r, "\"open\":%" PRIu64, f->total);
        if (!isnan(f->percent))
                probe_result_evidence(r,
                                      "\"percent\":%.3f,\"worst_pid\":%d,\"worst_count\":%" PRIu64
                                      ",\"worst_limit\":%" PRIu64,
                                      f->percent, (int) f->worst_pid, f->worst_count, f->worst_limit);
        if (f->n_processes != SIZE_MAX)
                probe_result_evidence(r, "\"n_processes\":%zu", f->n_processes);
        if (f->truncated)
                probe_result_evidence(r, "\"truncated\":true");

        limit = f->headroom == UINT64_MAX ? 0 : (double) f->total + (double) f->headroom;
        return probe_leak_judge(&st->leak, &s->leak, f->at, (double) f->total, limit,
                                f->host ? "file-max" : "RLIMIT_NOFILE", THRESHOLD_COUNT, " fds", r);
}

static int read_host(ProbeFdsReading *f) {
        char text[128];
        uint64_t allocated, max;
        ssize_t n;
        int r;

        n = read_small_file("/proc/sys/fs/file-nr", text, sizeof text);
        if (n < 0)
                return (int) n;
        r = probe_fds_parse_file_nr(text, &allocated, &max);
        if (r < 0)
                return r;
        f->host = true;
        f->total = allocated;
        f->percent = 100.0 * (double) allocated / (double) max;
        f->worst_count = allocated;
        f->worst_limit = max;
        f->headroom = max > allocated ? max - allocated : 0;
        return 0;
}

/* One process: its count, and its share of its soft limit when it has one. -ENOENT: gone. */
static int read_process(pid_t pid, ProbeFdsReading *f) {
        _cleanup_close_ int dfd = -EBADF;
        struct rlimit rl;
        char path[64];
        uint64_t count;
        int r;

        (void) snprintf(path, sizeof path, "/proc/%d/fd", (int) pid);
        dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        r = probe_fds_count_dir(dfd, PROBE_FDS_PER_PROCESS_MAX, &count);
        if (r < 0)
                return r;
        if (r > 0)
                f->truncated = true;
        f->total += count;
        f->n_processes++;

        /* Without the right to read its limit (vigild not root), the count alone. */
        if (prlimit(pid, RLIMIT_NOFILE, NULL, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur == 0)
                return 0;
        if (isnan(f->percent) || 100.0 * (double) count / (double) rl.rlim_cur > f->percent) {
                f->percent = 100.0 * (double) count / (double) rl.rlim_cur;
                f->worst_pid = pid;
                f->worst_count = count;
                f->worst_limit = rl.rlim_cur;
        }
        f->headroom = MIN(f->headroom, rl.rlim_cur > count ? rl.rlim_cur - count : 0);
        return 0;
}

static int read_processes(const ProbeTarget *t, ProbeFdsReading *f) {
        pid_t pids[PROCS_MAX];
        size_t n;
        int r;

        r = procs_list(t, pids, ELEMENTSOF(pids), &n);
        if (r < 0)
                return r;
        f->truncated = r > 0;
        f->n_processes = 0;
        for (size_t i = 0; i < n; i++) {
                r = read_process(pids[i], f);
                if (IN_SET(r, -ENOENT, -ESRCH))
                        continue;   /* gone since it was listed */
                if (r < 0)
                        return r;
        }
        if (f->n_processes == 0)
                return -ESRCH;
        return 0;
}

static int fds_check(ProbeCheck *c, const ProbeTarget *t, ProbeResult *ret) {
        ProbeFdsReading f = { .percent = NAN, .headroom = UINT64_MAX, .n_processes = SIZE_MAX };
        int r;

        r = t->instance < 0 ? read_host(&f) : read_processes(t, &f);
        if (r < 0)
                return r;
        f.at = now(CLOCK_MONOTONIC);
        return probe_fds_judge(c, &f, ret);
}

static void fds_reset(ProbeCheck *c, bool done) {
        FdsState *st = c->state;

        probe_leak_reset(&st->leak, done);
}

const ProbeOps probe_fds_ops = {
        .spec = {
                .kind = "fds",
                .keys = fds_keys,
                .n_keys = ELEMENTSOF(fds_keys),
                .settings_size = sizeof(FdsSettings),
                .check = fds_check_config,
                .scopes = PROBE_SCOPE_HOST | PROBE_SCOPE_INSTANCE,
                .threshold_units = THRESHOLD_COUNT | THRESHOLD_PERCENT,
        },
        .category = CATEGORY_RESOURCE,
        .state_size = sizeof(FdsState),
        .timeout_status = PROBE_UNKNOWN,
        .check = fds_check,
        .reset = fds_reset,
};
