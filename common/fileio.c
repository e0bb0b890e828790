/* Implements the small file helpers of fileio.h: one-write pseudo-file writes (cgroupfs,
 * procfs), bounded whole-file reads, "key value" lookups and atomic replacement of files vigil
 * owns. Owns nothing beyond each call: every fd is O_CLOEXEC and closed before returning, and
 * an atomic write never leaves its temporary file behind. Non-logging; returns 0 or -errno. */
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "fileio.h"
#include "macro.h"

/* Bigger than any "key value" pseudo-file vigil reads (memory.stat is a few KiB). */
#define KEYED_FILE_MAX (64U * 1024U)

int write_string_fileat(int dirfd, const char *path, const char *s) {
        _cleanup_close_ int fd = -EBADF;
        size_t len;
        ssize_t k;

        assert(path);
        assert(s);

        fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;

        /* Pseudo-files take one write(2) as one command, so the string is never split. */
        len = strlen(s);
        do
                k = write(fd, s, len);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return -errno;
        if ((size_t) k != len)
                return -EIO;

        return 0;
}

int write_string_file(const char *path, const char *s) {
        return write_string_fileat(AT_FDCWD, path, s);
}

int read_full_file(const char *path, size_t max, char **ret_contents, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t limit, hint, cap = 0, n = 0;
        struct stat st;

        assert(path);
        assert(ret_contents);

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;

        /* Reading one byte more than max is how a too large file shows itself: st_size cannot
         * be trusted, pseudo-files report 0 or 4096 whatever they hold. The last byte of the
         * allocation is kept for the NUL. */
        limit = max < SIZE_MAX - 1 ? max + 1 : SIZE_MAX - 1;
        hint = 4096;
        if (S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t) st.st_size < SIZE_MAX - 1)
                hint = (size_t) st.st_size + 1;

        for (;;) {
                ssize_t k;

                if (n == cap) {
                        size_t want;
                        char *p;

                        if (cap >= limit)
                                return -EFBIG;

                        want = cap == 0 ? hint : cap > limit / 2 ? limit : cap * 2;
                        want = MIN(want, limit);

                        p = realloc(buf, want + 1);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        cap = want;
                }

                k = read(fd, buf + n, cap - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }

        buf[n] = 0;
        *ret_contents = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = n;
        return 0;
}

/* A decimal u64 followed by nothing but whitespace. strtoull() alone would accept a sign,
 * leading blanks and a trailing unit. */
static int parse_u64_value(const char *s, size_t len, uint64_t *ret) {
        uint64_t v = 0;
        size_t i = 0;

        if (len == 0 || s[0] < '0' || s[0] > '9')
                return -EINVAL;

        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
                unsigned digit = (unsigned) (s[i] - '0');

                if (v > (UINT64_MAX - digit) / 10)
                        return -ERANGE;
                v = v * 10 + digit;
        }

        for (; i < len; i++)
                if (!strchr(" \t\r", s[i]))
                        return -EINVAL;

        *ret = v;
        return 0;
}

int read_keyed_u64(const char *path, const char *key, uint64_t *ret_value) {
        _cleanup_free_ char *contents = NULL;
        size_t key_len;
        int r;

        assert(path);
        assert(key);
        assert(ret_value);

        key_len = strlen(key);
        assert(key_len > 0);

        r = read_full_file(path, KEYED_FILE_MAX, &contents, NULL);
        if (r < 0)
                return r;

        for (const char *line = contents; *line;) {
                const char *eol = strchrnul(line, '\n');
                const char *value;

                /* A key must be followed by blanks, so "oom" does not match "oom_kill 3". */
                if ((size_t) (eol - line) > key_len && strncmp(line, key, key_len) == 0 &&
                    strchr(" \t", line[key_len])) {
                        value = line + key_len;
                        while (value < eol && strchr(" \t", *value))
                                value++;

                        return parse_u64_value(value, (size_t) (eol - value), ret_value);
                }

                line = *eol ? eol + 1 : eol;
        }

        return -ENOENT;
}

static void unlink_and_freep(char **p) {
        if (!*p)
                return;
        (void) unlink(*p);
        free(*p);
}

int write_file_atomic(const char *path, const char *contents, size_t size, unsigned mode) {
        _cleanup_(unlink_and_freep) char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF, dir_fd = -EBADF;
        _cleanup_free_ char *dir = NULL;
        const char *slash, *base;

        assert(path);
        assert(contents || size == 0);

        slash = strrchr(path, '/');
        base = slash ? slash + 1 : path;
        if (*base == 0 || streq(base, ".") || streq(base, ".."))
                return -EISDIR;

        if (!slash)
                dir = strdup(".");
        else if (slash == path)
                dir = strdup("/");
        else
                dir = strndup(path, (size_t) (slash - path));
        if (!dir)
                return -ENOMEM;

        /* A hidden name in the same directory, so that rename() stays within one file system. */
        if (asprintf(&tmp, "%s/.#%sXXXXXX", dir, base) < 0) {
                tmp = NULL;
                return -ENOMEM;
        }

        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                tmp = mfree(tmp);
                return -errno;
        }

        /* fchmod() rather than the umask: the caller asked for exactly this mode. */
        if (fchmod(fd, (mode_t) mode & 07777) < 0)
                return -errno;

        for (size_t done = 0; done < size;) {
                ssize_t k = write(fd, contents + done, size - done);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t) k;
        }

        if (fsync(fd) < 0)
                return -errno;
        if (close(TAKE_FD(fd)) < 0)
                return -errno;

        if (rename(tmp, path) < 0)
                return -errno;
        tmp = mfree(tmp);

        /* The rename itself is durable only once the directory is synced. */
        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return -errno;
        if (fsync(dir_fd) < 0)
                return -errno;

        return 0;
}

int fd_nonblock(int fd, int nonblock) {
        int flags, nflags;

        assert(fd >= 0);

        flags = fcntl(fd, F_GETFL);
        if (flags < 0)
                return -errno;

        nflags = nonblock ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
        if (nflags == flags)
                return 0;

        return RET_NERRNO(fcntl(fd, F_SETFL, nflags));
}

int fd_cloexec(int fd, int cloexec) {
        int flags, nflags;

        assert(fd >= 0);

        flags = fcntl(fd, F_GETFD);
        if (flags < 0)
                return -errno;

        nflags = cloexec ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
        if (nflags == flags)
                return 0;

        return RET_NERRNO(fcntl(fd, F_SETFD, nflags));
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

ssize_t read_small_file(const char *path, char *buf, size_t size) {
        _cleanup_close_ int fd = -EBADF;
        size_t n = 0;

        assert(path);
        assert(buf);
        assert(size > 0);

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        /* Pseudo-files may answer in pieces: read until EOF, one byte past the room to tell a
         * file that does not fit. */
        for (;;) {
                ssize_t k = read(fd, buf + n, size - n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n >= size)
                        return -EFBIG;
        }
        buf[n] = 0;
        return (ssize_t) n;
}
