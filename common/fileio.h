/* Small file helpers for the pseudo-files vigil reads and writes (cgroupfs, procfs) and for
 * its own state files. Non-logging; return 0 or -errno, ret_ arguments set only on success.
 * Every fd they open is O_CLOEXEC. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Writes the string (no newline added) to an existing file with one write(2); it neither
 * creates nor truncates the file. A short write gives -EIO. */
int write_string_file(const char *path, const char *s);

/* Same, relative to a directory fd. */
int write_string_fileat(int dirfd, const char *path, const char *s);

/* Reads at most max bytes of a file into a NUL-terminated buffer owned by the caller. A file
 * larger than max gives -EFBIG (found by reading, since pseudo-files report no true st_size).
 * ret_size is optional. */
int read_full_file(const char *path, size_t max, char **ret_contents, size_t *ret_size);

/* Reads a whole small file (a pseudo-file of /proc or cgroupfs) into buf, NUL-terminated,
 * without allocating: the number of bytes read, or -EFBIG if it holds size - 1 bytes or more. */
ssize_t read_small_file(const char *path, char *buf, size_t size);

/* In a "key value" per line file (cgroup.events, memory.events, cpu.stat) of at most 64 KiB,
 * the decimal value of the first line whose first word is key. -ENOENT when no line has that
 * key, -EINVAL for a value that is not a plain decimal number, -ERANGE above UINT64_MAX. */
int read_keyed_u64(const char *path, const char *key, uint64_t *ret_value);

/* Writes contents to path atomically (temporary file in the same directory, fsync, rename,
 * fsync of the directory). The file gets exactly mode, whatever the umask. The temporary file
 * is removed on every failure. */
int write_file_atomic(const char *path, const char *contents, size_t size, unsigned mode);

/* Creates path and any missing parents with mode (existing ones are left as they are). */
int mkdir_p(const char *path, mode_t mode);

/* Marks an fd non-blocking / close-on-exec. */
int fd_nonblock(int fd, int nonblock);
int fd_cloexec(int fd, int cloexec);
