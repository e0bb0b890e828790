/* The processes of a probe's target, bounded in cost: one read of the cgroup's cgroup.procs,
 * or, without a cgroup, a walk down from the main process through the children files of each
 * thread, which costs one small read per thread of each process found and never a scan of
 * all of /proc. Lists of pids are parsed as they are read, through a small stack buffer, so
 * nothing is allocated whatever their length; the caller's array bounds the result.
 * Non-logging; never blocks (procfs and cgroupfs answer from memory). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "procs.h"

/* Where the pids found go: at most max of them into buf, and only those of process group
 * pgrp when that is not 0. */
typedef struct PidSink {
        pid_t *buf;
        size_t max;
        size_t n;
        pid_t pgrp;
} PidSink;

/* 0: taken or passed over; 1: a pid beyond the bound. */
static int sink_add(PidSink *s, pid_t pid) {
        /* cgroup.procs lists processes of other pid namespaces as 0. */
        if (pid <= 0)
                return 0;
        /* A child that left the group (a daemon that called setsid()) is someone else's: so
         * is one that is already gone (-1, ESRCH). */
        if (s->pgrp > 0 && getpgid(pid) != s->pgrp)
                return 0;
        if (s->n >= s->max)
                return 1;
        s->buf[s->n++] = pid;
        return 0;
}

/* Adds the pids the file dirfd/path lists (decimal, separated by blanks or newlines) to s.
 * 0, 1 when s overflowed (the rest of the file is not read), or -errno. */
static int read_pid_list(int dirfd, const char *path, PidSink *s) {
        _cleanup_close_ int fd = -EBADF;
        char chunk[512];
        int64_t v = 0;
        bool digits = false;
        int r;

        fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t k = read(fd, chunk, sizeof chunk);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                for (ssize_t i = 0; i < k; i++) {
                        char c = chunk[i];

                        if (c >= '0' && c <= '9') {
                                v = v * 10 + (c - '0');
                                if (v > INT_MAX)
                                        return -EINVAL;
                                digits = true;
                        } else if (IN_SET(c, ' ', '\n')) {
                                if (digits) {
                                        r = sink_add(s, (pid_t) v);
                                        if (r != 0)
                                                return r;
                                }
                                digits = false;
                                v = 0;
                        } else
                                return -EINVAL;
                }
        }
        return digits ? sink_add(s, (pid_t) v) : 0;
}

/* Adds the children of every thread of pid to s, spending one of *budget per thread.
 * 0, 1 when s or the budget ran out, or -errno (-ENOENT: pid is gone). */
static int add_children(pid_t pid, PidSink *s, size_t *budget) {
        _cleanup_close_ int dfd = -EBADF;
        union {
                struct dirent64 d;
                uint8_t raw[2048];
        } buf;
        char path[64], children[sizeof buf.d.d_name + 16];
        int r;

        (void) snprintf(path, sizeof path, "/proc/%d/task", (int) pid);
        dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        for (;;) {
                ssize_t k = getdents64(dfd, &buf, sizeof buf);

                if (k < 0)
                        return -errno;
                if (k == 0)
                        return 0;
                for (ssize_t off = 0; off < k;) {
                        const struct dirent64 *d = (const struct dirent64 *) (buf.raw + off);

                        off += d->d_reclen;
                        if (d->d_name[0] < '0' || d->d_name[0] > '9')
                                continue;
                        if (*budget == 0)
                                return 1;
                        (*budget)--;
                        (void) snprintf(children, sizeof children, "%s/children", d->d_name);
                        r = read_pid_list(dfd, children, s);
                        /* A thread that ended since the directory was read has no children. */
                        if (IN_SET(r, -ENOENT, -ESRCH))
                                continue;
                        if (r != 0)
                                return r;
                }
        }
}

/* t->pid, then breadth first its descendants in its process group: buf is the queue. */
static int walk_descendants(pid_t main_pid, PidSink *s) {
        size_t budget = s->max;
        int r;

        if (s->max == 0)
                return 1;
        s->buf[s->n++] = main_pid;
        for (size_t i = 0; i < s->n; i++) {
                r = add_children(s->buf[i], s, &budget);
                if (IN_SET(r, -ENOENT, -ESRCH)) {
                        if (i == 0)
                                return -ESRCH;
                        continue;   /* exited since its parent's children were read */
                }
                if (r != 0)
                        return r;
        }
        return 0;
}

int procs_list(const ProbeTarget *t, pid_t *buf, size_t max, size_t *ret_n) {
        PidSink s = { .buf = buf, .max = max };
        char path[PATH_MAX];
        int r;

        assert(t);
        assert(buf || max == 0);
        assert(ret_n);

        if (t->cgroup_path) {
                if ((size_t) snprintf(path, sizeof path, "%s/cgroup.procs", t->cgroup_path) >= sizeof path)
                        return -ENAMETOOLONG;
                r = read_pid_list(AT_FDCWD, path, &s);
        } else if (t->pid > 0) {
                s.pgrp = t->pid;
                r = walk_descendants(t->pid, &s);
        } else
                return -ESRCH;
        if (r < 0)
                return r;
        *ret_n = s.n;
        return r;
}

/* Moves *p past one blank and the number after it, which it stores in *ret when ret is not
 * NULL (a field that may be negative must not be asked for). */
static int next_field(const char **p, uint64_t *ret) {
        const char *q = *p;
        char *end;
        uint64_t v;

        if (*q != ' ')
                return -EINVAL;
        q++;
        if (*q == '-' && !ret)
                q++;
        if (*q < '0' || *q > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(q, &end, 10);
        if (errno != 0)
                return -EINVAL;
        if (ret)
                *ret = v;
        *p = end;
        return 0;
}

int procs_parse_stat(const char *text, ProcStat *ret) {
        /* Fields 4..20 of proc(5); NULL: skipped (some of them may be negative). */
        uint64_t ppid, pgrp, utime, stime, cutime, cstime, num_threads;
        uint64_t *const fields[] = {
                &ppid, &pgrp, NULL, NULL, NULL, NULL,   /* ppid pgrp session tty_nr tpgid flags */
                NULL, NULL, NULL, NULL,                 /* minflt cminflt majflt cmajflt */
                &utime, &stime, &cutime, &cstime,       /* cutime and cstime are never negative */
                NULL, NULL, &num_threads,               /* priority nice num_threads */
        };
        const char *close, *p;
        char *end;
        long pid;
        char state;

        assert(text);
        assert(ret);

        errno = 0;
        pid = strtol(text, &end, 10);
        if (errno != 0 || end == text || pid <= 0 || pid > INT_MAX || strncmp(end, " (", 2) != 0)
                return -EINVAL;
        /* The name is whatever the process made it (prctl(PR_SET_NAME)): ") R 1 2" included. The
         * fields after it hold no ")", so the last one ends the name. */
        close = strrchr(end, ')');
        if (!close || close < end + 1)
                return -EINVAL;
        p = close + 1;
        if (p[0] != ' ' || p[1] == 0 || p[1] == ' ')
                return -EINVAL;
        state = p[1];
        p += 2;
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (next_field(&p, fields[i]) < 0)
                        return -EINVAL;
        if (ppid > INT_MAX || pgrp > INT_MAX)
                return -EINVAL;

        *ret = (ProcStat) {
                .pid = (pid_t) pid,
                .state = state,
                .ppid = (pid_t) ppid,
                .pgrp = (pid_t) pgrp,
                .utime = utime,
                .stime = stime,
                .cutime = cutime,
                .cstime = cstime,
                .num_threads = num_threads,
        };
        return 0;
}

int procs_read_stat(pid_t pid, ProcStat *ret) {
        /* 52 fields of up to 20 digits and a 15-byte name fit, with room to spare. */
        char path[64], text[2048];
        ssize_t n;

        (void) snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        n = read_small_file(path, text, sizeof text);
        if (n < 0)
                return (int) n;
        return procs_parse_stat(text, ret);
}
