/* Tests for common/clone.c: the vfork-style child really shares our memory and runs while
 * we wait, its pidfd refers to it, it is born in the cgroup it was given, and the fork-style
 * clone and the switch that disables the vfork path behave as documented. Every child is
 * reaped; the cgroup is removed by the teardown whether the test passed or not. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test-util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "cgroup.h"
#include "clone.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND (RUNNING_ON_VALGRIND != 0)
#else
#define UNDER_VALGRIND false
#endif

typedef struct Shared {
        pid_t pid_seen;          /* the child's getpid(), written by the child */
        char cgroup[4096];       /* the child's /proc/self/cgroup, read by the child */
        int exit_status;
} Shared;

static int child_fn(void *arg) {
        Shared *s = arg;
        ssize_t n = 0;
        int fd;

        s->pid_seen = (pid_t) syscall(SYS_getpid);
        fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                n = read(fd, s->cgroup, sizeof s->cgroup - 1);
                (void) close(fd);
        }
        s->cgroup[n > 0 ? n : 0] = '\0';
        return s->exit_status;
}

static void reap(pid_t pid, int pidfd, int want_status) {
        siginfo_t si = {};

        assert_int_equal(waitid(P_PIDFD, (id_t) pidfd, &si, WEXITED), 0);
        assert_int_equal(si.si_pid, pid);
        assert_int_equal(si.si_code, CLD_EXITED);
        assert_int_equal(si.si_status, want_status);
        assert_int_equal(close(pidfd), 0);
}

static bool vfork_available(void) {
#if defined(__x86_64__)
        return !UNDER_VALGRIND;   /* valgrind 3.19 answers clone3 with ENOSYS */
#else
        return false;
#endif
}

static void test_vfork_child_shares_memory_and_ran_before_return(void **state) {
        unsigned n_fds = count_fds();
        Shared s = { .exit_status = 7 };
        int pidfd = -EBADF;
        pid_t pid;

        if (!vfork_available())
                skip();

        pid = clone_vfork(child_fn, &s, -EBADF, false, &pidfd);
        assert_true(pid > 0);
        assert_true(pidfd >= 0);
        /* Written by the child into our memory, and complete when the call returned: the
         * child shared the address space and we waited for it. */
        assert_int_equal(s.pid_seen, pid);
        assert_non_null(strstr(s.cgroup, "::"));
        /* The pidfd is this child's: waiting on it yields its pid and status. */
        reap(pid, pidfd, 7);
        assert_int_equal(count_fds(), n_fds);
}

static void test_vfork_disabled_says_enosys(void **state) {
        Shared s = {};
        int pidfd = -EBADF;

        clone_vfork_disable(true);
        assert_int_equal(clone_vfork(child_fn, &s, -EBADF, false, &pidfd), -ENOSYS);
        clone_vfork_disable(false);
        assert_int_equal(s.pid_seen, 0);
        assert_int_equal(pidfd, -EBADF);
}

static void test_fork_child_has_own_memory(void **state) {
        int pidfd = -EBADF;
        volatile int value = 1;
        pid_t pid;

        pid = clone_fork(&pidfd);
        if (pid == 0) {
                value = 2;
                _exit(value == 2 ? 3 : 4);
        }
        assert_true(pid > 0);
        assert_true(pidfd >= 0);
        reap(pid, pidfd, 3);
        assert_int_equal(value, 1);
}

static int cgroup_teardown(void **state) {
        char *path = *state;

        if (path) {
                (void) rmdir(path);
                free(path);
        }
        return 0;
}

static void test_vfork_child_is_born_in_its_cgroup(void **state) {
        _cleanup_free_ char *mount = NULL, *want = NULL;
        _cleanup_close_ int fd = -EBADF;
        Shared s = { .exit_status = 0 };
        char name[64], *path = NULL;
        int pidfd = -EBADF;
        pid_t pid;

        if (!vfork_available() || geteuid() != 0)
                skip();
        if (cgroup_find_mount(&mount) < 0)
                skip();
        (void) snprintf(name, sizeof name, "vigil-test-clone-%d", (int) getpid());
        assert_true(asprintf(&path, "%s/%s", mount, name) > 0);
        *state = path;
        if (mkdir(path, 0755) < 0)
                skip();

        fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        pid = clone_vfork(child_fn, &s, fd, false, &pidfd);
        assert_true(pid > 0);
        /* The child read its own cgroup as its first act: it was there from birth. */
        assert_true(asprintf(&want, "0::/%s\n", name) > 0);
        assert_non_null(strstr(s.cgroup, want));
        reap(pid, pidfd, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_vfork_child_shares_memory_and_ran_before_return),
                cmocka_unit_test(test_vfork_disabled_says_enosys),
                cmocka_unit_test(test_fork_child_has_own_memory),
                cmocka_unit_test_teardown(test_vfork_child_is_born_in_its_cgroup, cgroup_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
