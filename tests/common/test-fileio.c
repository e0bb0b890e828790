/* Unit tests for common/fileio.c against real files: one-write string writes, bounded reads
 * (-EFBIG past max, pseudo-files whose st_size lies), "key value" lookups, atomic replacement
 * (content, exact mode, no temporary file left behind, even on failure) and the fd flag helpers.
 * Each test runs in its own mkdtemp() directory, removed afterwards, and checks that it leaked
 * no fd. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "test-util.h"

#include "fileio.h"
#include "macro.h"

typedef struct Fixture {
        char dir[64];
        unsigned n_fds;
} Fixture;

static mode_t current_umask(void) {
        mode_t m = umask(0);

        (void) umask(m);
        return m;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));

        if (!f)
                return -1;
        strcpy(f->dir, "/tmp/test-fileio.XXXXXX");
        if (!mkdtemp(f->dir)) {
                free(f);
                return -1;
        }
        f->n_fds = count_fds();
        *state = f;
        return 0;
}

static void remove_tree(int dirfd) {
        DIR *d = fdopendir(dirfd);
        struct dirent *de;

        assert_non_null(d);
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (unlinkat(dirfd, de->d_name, 0) < 0 && errno == EISDIR) {
                        int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

                        assert_true(sub >= 0);
                        remove_tree(sub);
                        assert_return_code(unlinkat(dirfd, de->d_name, AT_REMOVEDIR), errno);
                }
        }
        (void) closedir(d);
}

static int teardown(void **state) {
        Fixture *f = *state;
        /* Every helper closes what it opened, on success and on failure alike. */
        bool leaked = count_fds() != f->n_fds;
        int fd;

        fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
                remove_tree(fd);
        (void) rmdir(f->dir);
        free(f);

        return leaked ? -1 : 0;
}

static char *path_in(const Fixture *f, const char *name) {
        char *p;

        assert_true(asprintf(&p, "%s/%s", f->dir, name) >= 0);
        return p;
}

static void create_file(const char *path, const char *contents, mode_t mode) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        size_t len = strlen(contents);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, contents, len), (ssize_t) len);
        assert_return_code(close(fd), errno);
}

static unsigned count_entries(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        unsigned n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        (void) closedir(d);
        return n;
}

static void assert_file_contents(const char *path, const char *expected) {
        _cleanup_free_ char *contents = NULL;
        size_t size = 0;

        assert_int_equal(read_full_file(path, 1024 * 1024, &contents, &size), 0);
        assert_int_equal(size, strlen(expected));
        assert_string_equal(contents, expected);
}

static void test_write_string_file_then_read_it_back(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "events");
        _cleanup_free_ char *contents = NULL;
        size_t size = 0;

        create_file(p, "", 0644);
        assert_int_equal(write_string_file(p, "populated 1\nfrozen 0\n"), 0);

        assert_int_equal(read_full_file(p, 4096, &contents, &size), 0);
        assert_int_equal(size, 21);
        assert_string_equal(contents, "populated 1\nfrozen 0\n");
        assert_int_equal(contents[size], 0);
}

static void test_write_string_file_does_not_create(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "missing");

        assert_int_equal(write_string_file(p, "1"), -ENOENT);
        assert_int_equal(count_entries(f->dir), 0);
}

static void test_write_string_fileat_is_relative_to_dirfd(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "cgroup.freeze");
        int dirfd;

        create_file(p, "", 0644);
        dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dirfd >= 0);
        assert_int_equal(write_string_fileat(dirfd, "cgroup.freeze", "1"), 0);
        assert_int_equal(write_string_fileat(dirfd, "nope", "1"), -ENOENT);
        (void) close(dirfd);

        assert_file_contents(p, "1");
}

static void test_write_string_file_to_directory_fails(void **state) {
        Fixture *f = *state;

        assert_int_equal(write_string_file(f->dir, "x"), -EISDIR);
}

static void test_read_full_file_refuses_more_than_max(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "ten");
        _cleanup_free_ char *contents = NULL;
        char *untouched = (char *) "untouched", *out = untouched;
        size_t size = 4242;

        create_file(p, "0123456789", 0644);

        assert_int_equal(read_full_file(p, 9, &out, &size), -EFBIG);
        assert_ptr_equal(out, untouched);
        assert_int_equal(size, 4242);
        assert_int_equal(read_full_file(p, 0, &out, &size), -EFBIG);
        assert_ptr_equal(out, untouched);

        /* Exactly max bytes is fine. */
        assert_int_equal(read_full_file(p, 10, &contents, &size), 0);
        assert_int_equal(size, 10);
        assert_string_equal(contents, "0123456789");
}

static void test_read_small_file_fits_or_refuses(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "ten");
        char buf[11], small[10];

        create_file(p, "0123456789", 0644);
        assert_int_equal(read_small_file(p, buf, sizeof buf), 10);
        assert_string_equal(buf, "0123456789");
        assert_int_equal(read_small_file(p, small, sizeof small), -EFBIG);
        assert_int_equal(read_small_file(f->dir, buf, sizeof buf), -EISDIR);
        assert_int_equal(read_small_file("/nonexistent/x", buf, sizeof buf), -ENOENT);
        /* A pseudo-file that reports no size. */
        assert_true(read_small_file("/proc/self/stat", buf, sizeof buf) == -EFBIG);
}

static void test_read_full_file_reads_large_files(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "large");
        _cleanup_free_ char *big = malloc(100001);
        _cleanup_free_ char *contents = NULL;
        size_t size = 0;

        assert_non_null(big);
        for (size_t i = 0; i < 100000; i++)
                big[i] = (char) ('a' + i % 26);
        big[100000] = 0;
        create_file(p, big, 0644);

        assert_int_equal(read_full_file(p, 100000, &contents, &size), 0);
        assert_int_equal(size, 100000);
        assert_memory_equal(contents, big, 100000);
        contents = mfree(contents);

        assert_int_equal(read_full_file(p, 99999, &contents, &size), -EFBIG);
        assert_null(contents);
        assert_int_equal(read_full_file(p, SIZE_MAX, &contents, NULL), 0);
        assert_memory_equal(contents, big, 100000);
}

static void test_read_full_file_of_empty_file(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "empty");
        _cleanup_free_ char *contents = NULL;
        size_t size = 1;

        create_file(p, "", 0644);
        assert_int_equal(read_full_file(p, 0, &contents, &size), 0);
        assert_int_equal(size, 0);
        assert_string_equal(contents, "");
}

static void test_read_full_file_of_pseudo_file(void **state) {
        _cleanup_free_ char *contents = NULL;
        size_t size = 0;
        struct stat st;

        /* procfs reports st_size 0: the size comes from reading, and so does -EFBIG. */
        assert_return_code(stat("/proc/self/status", &st), errno);
        assert_int_equal(st.st_size, 0);

        assert_int_equal(read_full_file("/proc/self/status", 1024 * 1024, &contents, &size), 0);
        assert_true(size > 100);
        assert_int_equal(strlen(contents), size);
        assert_non_null(strstr(contents, "Pid:"));
        contents = mfree(contents);

        assert_int_equal(read_full_file("/proc/self/status", 10, &contents, &size), -EFBIG);
        assert_null(contents);
}

static void test_read_full_file_errors(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "missing");
        char *contents = NULL;

        assert_int_equal(read_full_file(p, 100, &contents, NULL), -ENOENT);
        assert_int_equal(read_full_file(f->dir, 100, &contents, NULL), -EISDIR);
        assert_null(contents);
}

static void test_read_keyed_u64_finds_keys(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "cgroup.events");
        uint64_t v = 42;

        create_file(p, "populated 1\nfrozen 0\n", 0644);
        assert_int_equal(read_keyed_u64(p, "populated", &v), 0);
        assert_int_equal(v, 1);
        assert_int_equal(read_keyed_u64(p, "frozen", &v), 0);
        assert_int_equal(v, 0);
}

static void test_read_keyed_u64_missing_key(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "memory.events");
        uint64_t v = 42;

        create_file(p, "low 0\nhigh 0\nmax 3\noom 2\noom_kill 7\n", 0644);

        assert_int_equal(read_keyed_u64(p, "oom_group_kill", &v), -ENOENT);
        assert_int_equal(v, 42);

        /* Neither a prefix nor an extension of a key matches. */
        assert_int_equal(read_keyed_u64(p, "oo", &v), -ENOENT);
        assert_int_equal(read_keyed_u64(p, "oom_kil", &v), -ENOENT);
        assert_int_equal(read_keyed_u64(p, "ax", &v), -ENOENT);
        assert_int_equal(v, 42);

        assert_int_equal(read_keyed_u64(p, "oom", &v), 0);
        assert_int_equal(v, 2);
        assert_int_equal(read_keyed_u64(p, "oom_kill", &v), 0);
        assert_int_equal(v, 7);
}

static void test_read_keyed_u64_value_forms(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "cpu.stat");
        uint64_t v = 42;

        create_file(p,
                    "usage_usec 18446744073709551615\n"
                    "user_usec  \t 12 \n"
                    "too_big 18446744073709551616\n"
                    "negative -1\n"
                    "word abc\n"
                    "unit 12us\n"
                    "empty \n"
                    "bare\n"
                    "system_usec 5",
                    0644);

        assert_int_equal(read_keyed_u64(p, "usage_usec", &v), 0);
        assert_int_equal(v, UINT64_MAX);
        assert_int_equal(read_keyed_u64(p, "user_usec", &v), 0);
        assert_int_equal(v, 12);
        /* The last line needs no newline. */
        assert_int_equal(read_keyed_u64(p, "system_usec", &v), 0);
        assert_int_equal(v, 5);

        v = 42;
        assert_int_equal(read_keyed_u64(p, "too_big", &v), -ERANGE);
        assert_int_equal(read_keyed_u64(p, "negative", &v), -EINVAL);
        assert_int_equal(read_keyed_u64(p, "word", &v), -EINVAL);
        assert_int_equal(read_keyed_u64(p, "unit", &v), -EINVAL);
        assert_int_equal(read_keyed_u64(p, "empty", &v), -EINVAL);
        assert_int_equal(read_keyed_u64(p, "bare", &v), -ENOENT);
        assert_int_equal(v, 42);
}

static void test_read_keyed_u64_missing_file(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "nope");
        uint64_t v = 42;

        assert_int_equal(read_keyed_u64(p, "populated", &v), -ENOENT);
        assert_int_equal(v, 42);
}

static void test_write_file_atomic_content_and_mode(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "state");
        struct stat st;
        mode_t old_umask;

        /* The mode is exact: the umask does not apply. */
        old_umask = umask(0077);
        assert_int_equal(write_file_atomic(p, "hello\n", 6, 0644), 0);
        (void) umask(old_umask);

        assert_file_contents(p, "hello\n");
        assert_return_code(stat(p, &st), errno);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(count_entries(f->dir), 1);
}

static void test_write_file_atomic_replaces_existing(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "state");
        struct stat before, after;

        create_file(p, "a much longer old content\n", 0666);
        assert_return_code(stat(p, &before), errno);

        assert_int_equal(write_file_atomic(p, "new\n", 4, 0600), 0);
        assert_file_contents(p, "new\n");
        assert_return_code(stat(p, &after), errno);
        assert_int_equal(after.st_mode & 07777, 0600);
        /* Replaced by rename, not rewritten in place. */
        assert_int_not_equal(before.st_ino, after.st_ino);
        assert_int_equal(count_entries(f->dir), 1);
}

static void test_write_file_atomic_binary_and_empty(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "blob");
        _cleanup_free_ char *contents = NULL;
        const char blob[] = { 'a', 0, 'b', 0, 'c' };
        size_t size = 0;

        assert_int_equal(write_file_atomic(p, blob, sizeof(blob), 0640), 0);
        assert_int_equal(read_full_file(p, 100, &contents, &size), 0);
        assert_int_equal(size, sizeof(blob));
        assert_memory_equal(contents, blob, sizeof(blob));

        assert_int_equal(write_file_atomic(p, NULL, 0, 0640), 0);
        assert_file_contents(p, "");
        assert_int_equal(count_entries(f->dir), 1);
}

static void test_write_file_atomic_failure_leaves_nothing_behind(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *target = path_in(f, "occupied");
        _cleanup_free_ char *inner = path_in(f, "occupied/child");
        _cleanup_free_ char *missing = path_in(f, "no-such-dir/state");
        _cleanup_free_ char *slash = path_in(f, "dir/");

        /* rename() over a non-empty directory fails after the temporary file was written. */
        assert_return_code(mkdir(target, 0755), errno);
        create_file(inner, "x", 0644);
        assert_true(write_file_atomic(target, "data", 4, 0644) < 0);
        assert_int_equal(count_entries(f->dir), 1);
        assert_int_equal(count_entries(target), 1);

        assert_int_equal(write_file_atomic(missing, "data", 4, 0644), -ENOENT);
        assert_int_equal(write_file_atomic(slash, "data", 4, 0644), -EISDIR);
        assert_int_equal(count_entries(f->dir), 1);
}

static void test_fd_nonblock(void **state) {
        int fds[2], flags;

        assert_return_code(pipe2(fds, O_CLOEXEC), errno);

        assert_int_equal(fd_nonblock(fds[0], true), 0);
        flags = fcntl(fds[0], F_GETFL);
        assert_true(flags & O_NONBLOCK);
        assert_int_equal(fd_nonblock(fds[0], true), 0);
        assert_true(fcntl(fds[0], F_GETFL) & O_NONBLOCK);

        assert_int_equal(fd_nonblock(fds[0], false), 0);
        assert_false(fcntl(fds[0], F_GETFL) & O_NONBLOCK);
        /* Only O_NONBLOCK changes. */
        assert_int_equal(fcntl(fds[0], F_GETFL), flags & ~O_NONBLOCK);

        (void) close(fds[0]);
        (void) close(fds[1]);
        assert_int_equal(fd_nonblock(fds[0], true), -EBADF);
}

static void test_fd_cloexec(void **state) {
        int fds[2];

        assert_return_code(pipe2(fds, 0), errno);

        assert_false(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
        assert_int_equal(fd_cloexec(fds[0], true), 0);
        assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
        assert_int_equal(fd_cloexec(fds[0], true), 0);
        assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
        assert_int_equal(fd_cloexec(fds[0], false), 0);
        assert_false(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);

        (void) close(fds[0]);
        (void) close(fds[1]);
        assert_int_equal(fd_cloexec(fds[0], true), -EBADF);
}

static void test_mkdir_p(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *deep = path_in(f, "a/b/c"), *mid = path_in(f, "a"), *file = path_in(f, "file"),
                            *under_file = path_in(f, "file/x");
        struct stat st;

        assert_int_equal(mkdir_p(deep, 0750), 0);
        assert_return_code(stat(deep, &st), errno);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0750 & ~current_umask());
        assert_return_code(stat(mid, &st), errno);
        assert_true(S_ISDIR(st.st_mode));
        /* Existing directories are fine and left as they are. */
        assert_int_equal(chmod(mid, 0700), 0);
        assert_int_equal(mkdir_p(deep, 0755), 0);
        assert_return_code(stat(mid, &st), errno);
        assert_int_equal(st.st_mode & 0777, 0700);
        /* A file in the way. */
        assert_int_equal(write_file_atomic(file, "", 0, 0644), 0);
        assert_int_equal(mkdir_p(under_file, 0755), -ENOTDIR);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_write_string_file_then_read_it_back),
                T(test_write_string_file_does_not_create),
                T(test_write_string_fileat_is_relative_to_dirfd),
                T(test_write_string_file_to_directory_fails),
                T(test_read_full_file_refuses_more_than_max),
                T(test_read_small_file_fits_or_refuses),
                T(test_read_full_file_reads_large_files),
                T(test_read_full_file_of_empty_file),
                T(test_read_full_file_of_pseudo_file),
                T(test_read_full_file_errors),
                T(test_read_keyed_u64_finds_keys),
                T(test_read_keyed_u64_missing_key),
                T(test_read_keyed_u64_value_forms),
                T(test_read_keyed_u64_missing_file),
                T(test_write_file_atomic_content_and_mode),
                T(test_write_file_atomic_replaces_existing),
                T(test_write_file_atomic_binary_and_empty),
                T(test_write_file_atomic_failure_leaves_nothing_behind),
                T(test_fd_nonblock),
                T(test_fd_cloexec),
                T(test_mkdir_p),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
