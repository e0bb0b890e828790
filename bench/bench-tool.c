/* The clock-sensitive half of the benchmark driver (run.sh does the orchestration). Every time
 * it reports is a difference of two CLOCK_MONOTONIC readings: one taken here just before the
 * event that starts the measurement (exec of the supervisor, the SIGKILL), one taken by the
 * stamp worker itself as the first thing in its main(). How quickly this tool notices a new
 * stamp therefore never enters a figure; it only waits on inotify, never spins.
 *
 *   bench-tool exec T0FILE PROG [ARG...]      write now to T0FILE, then exec PROG
 *   bench-tool startup STAMPS N T0FILE TIMEOUT_S
 *   bench-tool restart WORKER N KILLS MIN_AGE_MS GAP_MS TIMEOUT_S SEED NAME STAMPS CGROUP...
 *   bench-tool mass STAMPS CGROUP WORKER N MIN_AGE_MS TIMEOUT_S
 *   bench-tool alive STAMPS CGROUP WORKER N TIMEOUT_S
 *   bench-tool procs CGROUP WORKER
 *
 * A process is signalled only through a pidfd opened before checking that it runs WORKER
 * and sits in CGROUP, so a recycled pid can never make it kill anything else. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC 1000000000ULL

static _Noreturn void die(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        fputs("bench-tool: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        exit(1);
}

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * NSEC_PER_SEC + (uint64_t) ts.tv_nsec;
}

static void sleep_ns(uint64_t ns) {
        struct timespec ts = { .tv_sec = (time_t) (ns / NSEC_PER_SEC), .tv_nsec = (long) (ns % NSEC_PER_SEC) };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static uint64_t parse_u64(const char *s, const char *what) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || *end)
                die("invalid %s '%s'", what, s);
        return v;
}

/* xorshift64*: reproducible choices from a seed, nothing more is asked of it. */
static uint64_t rng_state;
static uint64_t rng_next(void) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 2685821657736338717ULL;
}

/* ---------------------------------------------------------------------------------------- *
 * Reading the stamp file as it grows                                                         */

typedef struct Stamp {
        pid_t pid;
        uint64_t ns;
} Stamp;

typedef struct Reader {
        int fd;
        int inotify_fd;
        off_t offset;
        char buf[65536];
        size_t len;
} Reader;

static void reader_open(Reader *r, const char *path) {
        r->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (r->inotify_fd < 0)
                die("inotify_init1: %m");
        /* The watch exists before the first read, so no append can slip between them. */
        if (inotify_add_watch(r->inotify_fd, path, IN_MODIFY) < 0)
                die("inotify_add_watch %s: %m", path);
        r->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0)
                die("open %s: %m", path);
        r->offset = 0;
        r->len = 0;
}

/* Takes one complete line out of the buffer; 1 if there was one. A line is complete only
 * with its newline: a reader may see an append half done. */
static int reader_take(Reader *r, Stamp *ret) {
        char *nl = memchr(r->buf, '\n', r->len);
        unsigned long long pid, ns;
        size_t used;

        if (!nl)
                return 0;
        *nl = 0;
        if (sscanf(r->buf, "%llu %llu", &pid, &ns) != 2)
                die("malformed stamp line '%s'", r->buf);
        used = (size_t) (nl - r->buf) + 1;
        memmove(r->buf, nl + 1, r->len - used);
        r->len -= used;
        ret->pid = (pid_t) pid;
        ret->ns = ns;
        return 1;
}

static int reader_fill(Reader *r) {
        ssize_t n;

        if (r->len == sizeof(r->buf))
                die("stamp line too long");
        n = pread(r->fd, r->buf + r->len, sizeof(r->buf) - r->len, r->offset);
        if (n < 0)
                die("read stamps: %m");
        r->offset += n;
        r->len += (size_t) n;
        return n > 0;
}

/* Next stamp, waiting until deadline (monotonic ns); 0 on timeout. deadline 0: don't wait. */
static int reader_next(Reader *r, Stamp *ret, uint64_t deadline) {
        for (;;) {
                char ev[4096];
                uint64_t t;
                int timeout_ms;

                if (reader_take(r, ret))
                        return 1;
                if (reader_fill(r))
                        continue;
                t = now_ns();
                if (deadline == 0 || t >= deadline)
                        return 0;
                timeout_ms = (int) ((deadline - t + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC);
                struct pollfd p = { .fd = r->inotify_fd, .events = POLLIN };
                if (poll(&p, 1, timeout_ms) < 0 && errno != EINTR)
                        die("poll: %m");
                while (read(r->inotify_fd, ev, sizeof(ev)) > 0)
                        ;
        }
}

/* ---------------------------------------------------------------------------------------- *
 * The live workers: pid -> own start stamp, checked against /proc                           */

typedef struct Worker {
        pid_t pid;
        uint64_t started;
        bool alive;
} Worker;

typedef struct Table {
        Worker *w;
        size_t n, cap;
        const char *exe;    /* the worker program's real path */
        const char *cgroup; /* cgroup path relative to the cgroup2 mount, starting with '/' */
} Table;

static Worker *table_find(Table *t, pid_t pid) {
        for (size_t i = 0; i < t->n; i++)
                if (t->w[i].pid == pid)
                        return &t->w[i];
        return NULL;
}

static void table_add(Table *t, const Stamp *s) {
        Worker *w = table_find(t, s->pid);

        if (!w) {
                if (t->n == t->cap) {
                        t->cap = t->cap ? t->cap * 2 : 1024;
                        t->w = realloc(t->w, t->cap * sizeof(Worker));
                        if (!t->w)
                                die("out of memory");
                }
                w = &t->w[t->n++];
                w->pid = s->pid;
        }
        w->started = s->ns;
        w->alive = true;
}

static size_t table_alive(const Table *t) {
        size_t n = 0;

        for (size_t i = 0; i < t->n; i++)
                n += t->w[i].alive;
        return n;
}

static int read_file(const char *path, char *buf, size_t size) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        close(fd);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        return (int) n;
}

/* Whether pid is, right now, a live (not zombie) process running exe inside cgroup (or one
 * of its descendants; cgroup NULL: anywhere). */
static bool pid_is_worker(pid_t pid, const char *exe, const char *cgroup) {
        char path[64], buf[4096], link[PATH_MAX];
        const char *p;
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/%d/exe", (int) pid);
        n = readlink(path, link, sizeof(link) - 1);
        if (n < 0)
                return false;
        link[n] = 0;
        if (strcmp(link, exe) != 0)
                return false;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        if (read_file(path, buf, sizeof(buf)) < 0)
                return false;
        p = strrchr(buf, ')');
        if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
                return false;

        if (!cgroup)
                return true;
        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int) pid);
        if (read_file(path, buf, sizeof(buf)) < 0)
                return false;
        p = strstr(buf, "0::");
        if (!p || (p != buf && p[-1] != '\n'))
                return false;
        p += 3;
        size_t l = strlen(cgroup);
        return strncmp(p, cgroup, l) == 0 && (p[l] == '\n' || p[l] == '/' || p[l] == 0);
}

/* Reads every stamp written so far and keeps the pids that still run the worker. */
static void table_load(Table *t, Reader *r) {
        Stamp s;

        while (reader_next(r, &s, 0))
                table_add(t, &s);
        for (size_t i = 0; i < t->n; i++)
                if (t->w[i].alive && !pid_is_worker(t->w[i].pid, t->exe, t->cgroup))
                        t->w[i].alive = false;
}

/* Waits until n workers are alive (new stamps count as alive as they come); false on timeout. */
static bool table_wait_alive(Table *t, Reader *r, size_t n, uint64_t deadline) {
        Stamp s;

        while (table_alive(t) < n) {
                if (!reader_next(r, &s, deadline))
                        return false;
                table_add(t, &s);
        }
        return true;
}

static int pidfd_open_checked(pid_t pid, const Table *t) {
        int fd = (int) syscall(SYS_pidfd_open, pid, 0);

        if (fd < 0)
                return -errno;
        /* Checked after opening: the pidfd now pins this very process. */
        if (!pid_is_worker(pid, t->exe, t->cgroup)) {
                close(fd);
                return -ESRCH;
        }
        return fd;
}

static int pidfd_kill(int fd) {
        return syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) < 0 ? -errno : 0;
}

/* The cgroup's path as /proc/PID/cgroup writes it: relative to the cgroup2 mount. */
static const char *cgroup_relative(const char *dir) {
        static char rel[PATH_MAX];
        char buf[65536], *line, *save = NULL;

        if (read_file("/proc/self/mountinfo", buf, sizeof(buf)) < 0)
                die("cannot read mountinfo: %m");
        for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char mnt[PATH_MAX], *sep = strstr(line, " - ");
                size_t l;

                if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
                        continue;
                if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
                        continue;
                l = strlen(mnt);
                if (strncmp(dir, mnt, l) == 0 && (dir[l] == '/' || dir[l] == 0)) {
                        snprintf(rel, sizeof(rel), "%s", dir[l] ? dir + l : "/");
                        return rel;
                }
        }
        die("%s is not inside a cgroup2 mount", dir);
}

static const char *real_exe(const char *path) {
        static char buf[PATH_MAX];

        if (!realpath(path, buf))
                die("realpath %s: %m", path);
        return buf;
}

/* ---------------------------------------------------------------------------------------- *
 * Commands                                                                                   */

static int cmd_exec(int argc, char *argv[]) {
        char buf[32];
        FILE *f;

        if (argc < 2)
                die("usage: exec T0FILE PROG [ARG...]");
        f = fopen(argv[0], "we");
        if (!f)
                die("open %s: %m", argv[0]);
        snprintf(buf, sizeof(buf), "%" PRIu64 "\n", now_ns());
        fputs(buf, f);
        if (fclose(f) != 0)
                die("write %s: %m", argv[0]);
        execvp(argv[1], argv + 1);
        die("exec %s: %m", argv[1]);
}

/* Prints seconds from the supervisor's exec to the N-th worker's own stamp. */
static int cmd_startup(int argc, char *argv[]) {
        uint64_t n, t0, last = 0, deadline;
        char buf[64];
        Reader *r;
        Stamp s;

        if (argc != 4)
                die("usage: startup STAMPS N T0FILE TIMEOUT_S");
        n = parse_u64(argv[1], "N");
        deadline = now_ns() + parse_u64(argv[3], "timeout") * NSEC_PER_SEC;
        r = calloc(1, sizeof(*r));
        reader_open(r, argv[0]);
        for (uint64_t k = 0; k < n; k++) {
                if (!reader_next(r, &s, deadline))
                        die("only %" PRIu64 " of %" PRIu64 " workers stamped before the timeout", k, n);
                if (s.ns > last)
                        last = s.ns;
        }
        if (read_file(argv[2], buf, sizeof(buf)) < 0)
                die("read %s: %m", argv[2]);
        t0 = parse_u64(strtok(buf, "\n"), "t0");
        printf("%.6f\n", (double) (last - t0) / NSEC_PER_SEC);
        return 0;
}

static int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static uint64_t percentile(const uint64_t *v, size_t n, unsigned p) {
        size_t rank = (n * p + 99) / 100;

        return v[rank ? rank - 1 : 0];
}

/* One supervisor under the restart test. */
typedef struct Subject {
        const char *name;
        Reader *reader;
        Table table;
        uint64_t *lat;
        size_t n_lat, timeouts;
        const char *failed; /* why it left the rotation, or NULL */
} Subject;

static void subject_drain(Subject *x) {
        Stamp s;

        while (reader_next(x->reader, &s, 0))
                table_add(&x->table, &s);
}

/* One kill: a random worker of x that has run at least min_age is killed, and the latency is
 * its replacement's own stamp minus the moment just before the kill. */
static void subject_kill_one(Subject *x, size_t n, uint64_t min_age, uint64_t gap, uint64_t timeout) {
        Worker *victim = NULL;
        uint64_t t_kill;
        Stamp s;
        int fd, e;

        if (!table_wait_alive(&x->table, x->reader, n, now_ns() + timeout)) {
                x->failed = "not all workers running";
                return;
        }
        /* A randomised pause lets the supervisor settle after its previous restart and keeps
         * the kills out of phase with any periodic loop. */
        sleep_ns(gap + (gap ? rng_next() % gap : 0));

        while (!victim) {
                size_t n_eligible = 0, pick;
                uint64_t now, oldest = 0;

                subject_drain(x);
                /* Only workers that have run MIN_AGE: runit and s6 hold back a restart within a
                 * second of the previous start, vigild resets its backoff after reset_after. */
                now = now_ns();
                for (size_t i = 0; i < x->table.n; i++) {
                        Worker *w = &x->table.w[i];

                        if (!w->alive)
                                continue;
                        if (now >= w->started + min_age)
                                n_eligible++;
                        else if (!oldest || w->started < oldest)
                                oldest = w->started;
                }
                if (n_eligible == 0) {
                        sleep_ns(oldest + min_age - now);
                        continue;
                }
                pick = (size_t) (rng_next() % n_eligible);
                for (size_t i = 0, j = 0; i < x->table.n; i++) {
                        Worker *w = &x->table.w[i];

                        if (w->alive && now >= w->started + min_age && j++ == pick) {
                                victim = w;
                                break;
                        }
                }
                fd = pidfd_open_checked(victim->pid, &x->table);
                if (fd < 0) {
                        /* Gone or not ours: forget it, choose again. */
                        victim->alive = false;
                        victim = NULL;
                }
        }

        t_kill = now_ns();
        e = pidfd_kill(fd);
        close(fd);
        if (e < 0)
                die("kill %d: %s", (int) victim->pid, strerror(-e));
        victim->alive = false;

        for (;;) {
                if (!reader_next(x->reader, &s, t_kill + timeout)) {
                        if (++x->timeouts >= 3)
                                x->failed = "3 kills not followed by a restart";
                        return;
                }
                table_add(&x->table, &s);
                if (s.ns > t_kill) {
                        x->lat[x->n_lat++] = s.ns - t_kill;
                        return;
                }
        }
}

/* KILLS rounds; each round kills one worker of every subject, in a fresh random order, one at
 * a time: a restart is never in flight in two supervisors at once, and a slow spell of the
 * host falls on all of them alike instead of on whichever ran then. Prints one line per
 * subject: "NAME p50 p90 p99 max samples timeouts" (ms), "-" for figures it could not get. */
static int cmd_restart(int argc, char *argv[]) {
        uint64_t n, kills, min_age, gap, timeout;
        size_t n_subjects;
        Subject *x;
        size_t *order;

        if (argc < 10 || (argc - 7) % 3 != 0)
                die("usage: restart WORKER N KILLS MIN_AGE_MS GAP_MS TIMEOUT_S SEED NAME STAMPS CGROUP [NAME STAMPS CGROUP...]");
        const char *exe = real_exe(argv[0]);
        n = parse_u64(argv[1], "N");
        kills = parse_u64(argv[2], "kills");
        min_age = parse_u64(argv[3], "min age") * NSEC_PER_MSEC;
        gap = parse_u64(argv[4], "gap") * NSEC_PER_MSEC;
        timeout = parse_u64(argv[5], "timeout") * NSEC_PER_SEC;
        rng_state = parse_u64(argv[6], "seed") | 1;
        n_subjects = (size_t) (argc - 7) / 3;
        x = calloc(n_subjects, sizeof(Subject));
        order = calloc(n_subjects, sizeof(size_t));
        if (!x || !order)
                die("out of memory");
        for (size_t k = 0; k < n_subjects; k++) {
                char **a = argv + 7 + 3 * k;

                x[k].name = a[0];
                x[k].reader = calloc(1, sizeof(Reader));
                x[k].lat = calloc(kills ? kills : 1, sizeof(uint64_t));
                if (!x[k].reader || !x[k].lat)
                        die("out of memory");
                x[k].table.exe = exe;
                /* cgroup_relative() returns a static buffer. */
                x[k].table.cgroup = strdup(cgroup_relative(a[2]));
                reader_open(x[k].reader, a[1]);
                table_load(&x[k].table, x[k].reader);
        }

        for (uint64_t round = 0; round < kills; round++) {
                for (size_t k = 0; k < n_subjects; k++)
                        order[k] = k;
                for (size_t k = n_subjects; k > 1; k--) {
                        size_t j = (size_t) (rng_next() % k), t = order[k - 1];

                        order[k - 1] = order[j];
                        order[j] = t;
                }
                for (size_t k = 0; k < n_subjects; k++)
                        if (!x[order[k]].failed)
                                subject_kill_one(&x[order[k]], n, min_age, gap, timeout);
        }

        for (size_t k = 0; k < n_subjects; k++) {
                uint64_t *lat = x[k].lat;
                size_t m = x[k].n_lat;

                if (x[k].failed)
                        fprintf(stderr, "bench-tool: %s: %s\n", x[k].name, x[k].failed);
                if (m == 0) {
                        printf("%s - - - - 0 %zu\n", x[k].name, x[k].timeouts);
                        continue;
                }
                qsort(lat, m, sizeof(uint64_t), compare_u64);
                printf("%s %.3f %.3f %.3f %.3f %zu %zu\n", x[k].name, (double) percentile(lat, m, 50) / NSEC_PER_MSEC,
                       (double) percentile(lat, m, 90) / NSEC_PER_MSEC, (double) percentile(lat, m, 99) / NSEC_PER_MSEC,
                       (double) lat[m - 1] / NSEC_PER_MSEC, m, x[k].timeouts);
        }
        return 0;
}

/* All N at once: every worker's pidfd is opened and checked first, then the clock is read and
 * SIGKILL goes to all. Prints seconds until the N-th replacement's own stamp, then the
 * number of replacements seen. */
/* mass: prints the time until all N are back and how many came. storm: the same kill, and
 * prints each replacement's latency (its start stamp - the kill) as p50 p90 p99 max in ms. */
static int mass_kill(int argc, char *argv[], bool percentiles) {
        uint64_t n, min_age, timeout, t_kill, last = 0, seen = 0, *lat;
        Table t = {};
        int *fds;
        size_t n_fds = 0;
        Reader *r;
        Stamp s;

        if (argc != 6)
                die("usage: %s STAMPS CGROUP WORKER N MIN_AGE_MS TIMEOUT_S", percentiles ? "storm" : "mass");
        t.cgroup = cgroup_relative(argv[1]);
        t.exe = real_exe(argv[2]);
        n = parse_u64(argv[3], "N");
        min_age = parse_u64(argv[4], "min age") * NSEC_PER_MSEC;
        timeout = parse_u64(argv[5], "timeout") * NSEC_PER_SEC;
        r = calloc(1, sizeof(*r));
        fds = calloc(n, sizeof(int));
        lat = calloc(n, sizeof(uint64_t));
        if (!r || !fds || !lat)
                die("out of memory");
        reader_open(r, argv[0]);
        table_load(&t, r);
        if (!table_wait_alive(&t, r, n, now_ns() + timeout))
                die("only %zu of %" PRIu64 " workers running before the timeout", table_alive(&t), n);

        /* Every worker must be past MIN_AGE, for the same reason as in restart. */
        for (size_t i = 0; i < t.n; i++)
                if (t.w[i].alive) {
                        uint64_t now = now_ns();

                        if (now < t.w[i].started + min_age)
                                sleep_ns(t.w[i].started + min_age - now);
                }
        for (size_t i = 0; i < t.n && n_fds < n; i++)
                if (t.w[i].alive) {
                        int fd = pidfd_open_checked(t.w[i].pid, &t);

                        if (fd < 0)
                                die("worker %d vanished before the mass kill", (int) t.w[i].pid);
                        fds[n_fds++] = fd;
                }
        if (n_fds != n)
                die("%zu workers alive, expected %" PRIu64, n_fds, n);

        t_kill = now_ns();
        for (size_t i = 0; i < n_fds; i++) {
                int e = pidfd_kill(fds[i]);

                if (e < 0)
                        die("kill: %s", strerror(-e));
        }
        for (size_t i = 0; i < n_fds; i++)
                close(fds[i]);

        while (seen < n) {
                if (!reader_next(r, &s, t_kill + timeout))
                        break;
                if (s.ns > t_kill) {
                        lat[seen++] = s.ns - t_kill;
                        if (s.ns > last)
                                last = s.ns;
                }
        }
        if (seen < n)
                printf("timeout %" PRIu64 "\n", seen);
        else if (percentiles) {
                qsort(lat, seen, sizeof(uint64_t), compare_u64);
                printf("%.3f %.3f %.3f %.3f %" PRIu64 "\n", (double) percentile(lat, seen, 50) / NSEC_PER_MSEC,
                       (double) percentile(lat, seen, 90) / NSEC_PER_MSEC,
                       (double) percentile(lat, seen, 99) / NSEC_PER_MSEC, (double) lat[seen - 1] / NSEC_PER_MSEC,
                       seen);
        } else
                printf("%.6f %" PRIu64 "\n", (double) (last - t_kill) / NSEC_PER_SEC, seen);
        return 0;
}

static int cmd_mass(int argc, char *argv[]) {
        return mass_kill(argc, argv, false);
}

static int cmd_storm(int argc, char *argv[]) {
        return mass_kill(argc, argv, true);
}

/* Waits until N workers run (after a mass restart, before the idle window). */
static int cmd_alive(int argc, char *argv[]) {
        Table t = {};
        Reader *r;

        if (argc != 5)
                die("usage: alive STAMPS CGROUP WORKER N TIMEOUT_S");
        t.cgroup = cgroup_relative(argv[1]);
        t.exe = real_exe(argv[2]);
        r = calloc(1, sizeof(*r));
        if (!r)
                die("out of memory");
        reader_open(r, argv[0]);
        table_load(&t, r);
        if (!table_wait_alive(&t, r, parse_u64(argv[3], "N"), now_ns() + parse_u64(argv[4], "timeout") * NSEC_PER_SEC))
                die("only %zu workers running before the timeout", table_alive(&t));
        return 0;
}

typedef struct Usage {
        unsigned n;
        uint64_t ticks;   /* utime + stime, clock ticks */
        uint64_t cpu_ns;  /* sum of the threads' schedstat run time */
        uint64_t rss_kb, pss_kb;
} Usage;

static void usage_add_pid(Usage *u, pid_t pid) {
        char path[96], buf[8192], *p;
        unsigned long long utime, stime;
        DIR *d;
        struct dirent *de;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        if (read_file(path, buf, sizeof(buf)) < 0)
                return;
        p = strrchr(buf, ')');
        /* After ')': state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
         * cmajflt utime(14) stime(15). */
        if (!p || p[2] == 'Z' || p[2] == 'X')
                return; /* a dead worker not yet reaped is nobody's cost */
        if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
                return;
        u->n++;
        u->ticks += utime + stime;

        snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
        d = opendir(path);
        while (d && (de = readdir(d))) {
                unsigned long long run;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/task/%.20s/schedstat", (int) pid, de->d_name);
                if (read_file(path, buf, sizeof(buf)) >= 0 && sscanf(buf, "%llu", &run) == 1)
                        u->cpu_ns += run;
        }
        if (d)
                closedir(d);

        snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int) pid);
        if (read_file(path, buf, sizeof(buf)) >= 0) {
                unsigned long long kb;

                if ((p = strstr(buf, "\nRss:")) && sscanf(p + 5, "%llu", &kb) == 1)
                        u->rss_kb += kb;
                if ((p = strstr(buf, "\nPss:")) && sscanf(p + 5, "%llu", &kb) == 1)
                        u->pss_kb += kb;
        }
}

/* Every process in the cgroup tree that does not run the worker program is the supervisor's. */
static void usage_walk(Usage *u, const char *dir, const char *exe) {
        char path[PATH_MAX];
        DIR *d;
        FILE *f;
        struct dirent *de;
        int pid;

        snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
        f = fopen(path, "re");
        if (f) {
                while (fscanf(f, "%d", &pid) == 1)
                        if (!pid_is_worker(pid, exe, NULL))
                                usage_add_pid(u, pid);
                fclose(f);
        }
        d = opendir(dir);
        while (d && (de = readdir(d))) {
                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                usage_walk(u, path, exe);
        }
        if (d)
                closedir(d);
}

/* Prints "processes cpu_ticks_seconds cpu_schedstat_seconds rss_kib pss_kib". */
static int cmd_procs(int argc, char *argv[]) {
        Usage u = {};

        if (argc != 2)
                die("usage: procs CGROUP WORKER");
        usage_walk(&u, argv[0], real_exe(argv[1]));
        printf("%u %.2f %.6f %" PRIu64 " %" PRIu64 "\n", u.n, (double) u.ticks / (double) sysconf(_SC_CLK_TCK),
               (double) u.cpu_ns / NSEC_PER_SEC, u.rss_kb, u.pss_kb);
        return 0;
}

int main(int argc, char *argv[]) {
        static const struct {
                const char *name;
                int (*run)(int argc, char *argv[]);
        } commands[] = {
                { "exec", cmd_exec },     { "startup", cmd_startup }, { "restart", cmd_restart },
                { "mass", cmd_mass },     { "alive", cmd_alive },     { "procs", cmd_procs },
                { "storm", cmd_storm },
        };

        if (argc < 2)
                die("usage: bench-tool exec|startup|restart|mass|storm|alive|procs ARGS...");
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(argv[1], commands[i].name) == 0)
                        return commands[i].run(argc - 2, argv + 2);
        die("unknown command '%s'", argv[1]);
}
