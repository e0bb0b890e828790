/* Tests for common/cgroup.c: the procfs parsers on literal texts, and, as root on a host
 * with a writable cgroup2 mount, a live hierarchy created under a unique name, populated by
 * real processes, signalled, killed and removed again. The setup that moves a process into
 * the supervisor leaf runs in a forked child so that this test process never changes cgroup.
 * Every cgroup a test creates is removed by its teardown, on failure too. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cgroup.h"
#include "clone.h"
#include "time-util.h"

#define WAIT_TIMEOUT_USEC (10 * USEC_PER_SEC)

/* ---- parsers ---- */

static const char mountinfo_hybrid[] =
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
        "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
        "41 30 0:38 / /mnt/second rw,relatime - cgroup2 cgroup2 rw\n";

static int exit_zero(void *arg) {
        return 0;
}

/* A child made by clone_vfork() into path runs (exits 0) instead of being killed at birth.
 * Where clone_vfork() is not available (valgrind, other architectures) there is nothing to
 * check. */
static void assert_born_alive_in(const char *path) {
        _cleanup_close_ int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        int pidfd = -EBADF;
        siginfo_t si = {};
        pid_t pid;

        assert_true(fd >= 0);
        pid = clone_vfork(exit_zero, NULL, fd, false, &pidfd);
        if (pid == -ENOSYS)
                return;
        assert_true(pid > 0);
        assert_int_equal(waitid(P_PIDFD, (id_t) pidfd, &si, WEXITED), 0);
        assert_int_equal(si.si_code, CLD_EXITED);
        assert_int_equal(si.si_status, 0);
        (void) close(pidfd);
}

static void test_parse_mountinfo_finds_first_cgroup2(void **state) {
        char *mount = NULL;

        assert_int_equal(cgroup_parse_mountinfo(mountinfo_hybrid, &mount), 0);
        assert_string_equal(mount, "/sys/fs/cgroup/unified");
        free(mount);
}

static void test_parse_mountinfo_decodes_escapes_and_optional_fields(void **state) {
        static const char text[] =
                "22 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n"
                "50 22 0:40 / /run/my\\040cgroup\\134dir rw,nosuid shared:5 master:2 - cgroup2 none rw,nsdelegate";
        char *mount = NULL;

        assert_int_equal(cgroup_parse_mountinfo(text, &mount), 0);
        assert_string_equal(mount, "/run/my cgroup\\dir");
        free(mount);
}

static void test_parse_mountinfo_without_cgroup2_is_enoent(void **state) {
        static const char text[] =
                "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
                "31 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
                "32 30 0:29 / /cgroup2-lookalike rw - tmpfs cgroup2 rw\n";
        char *mount = (char *) 0x1;

        assert_int_equal(cgroup_parse_mountinfo(text, &mount), -ENOENT);
        assert_ptr_equal(mount, (char *) 0x1);
        assert_int_equal(cgroup_parse_mountinfo("", &mount), -ENOENT);
}

static void test_parse_self_reads_unified_line(void **state) {
        static const char hybrid[] =
                "9:name=systemd:/\n"
                "4:memory:/process_api/abc\n"
                "1:cpu:/\n"
                "0::/\n";
        char *path = NULL;

        assert_int_equal(cgroup_parse_self(hybrid, &path), 0);
        assert_string_equal(path, "/");
        free(path);

        assert_int_equal(cgroup_parse_self("0::/system.slice/vigil.service", &path), 0);
        assert_string_equal(path, "/system.slice/vigil.service");
        free(path);
}

static void test_parse_self_without_unified_line_is_enoent(void **state) {
        char *path = (char *) 0x1;

        assert_int_equal(cgroup_parse_self("9:name=systemd:/\n1:cpu:/x\n", &path), -ENOENT);
        assert_int_equal(cgroup_parse_self("10::/not-zero\n", &path), -ENOENT);
        assert_int_equal(cgroup_parse_self("", &path), -ENOENT);
        assert_ptr_equal(path, (char *) 0x1);
}

static void test_root_setup_rejects_bad_names(void **state) {
        CgroupRoot *root = NULL;

        assert_int_equal(cgroup_root_setup("a/b", &root), -EINVAL);
        assert_int_equal(cgroup_root_setup("..", &root), -EINVAL);
        assert_int_equal(cgroup_root_setup("", &root), -EINVAL);
        assert_null(root);
}

/* ---- live hierarchy ---- */

typedef struct Live {
        CgroupRoot root;
        char name[64];
} Live;

static char *read_file(const char *path) {
        char buf[4096];
        ssize_t n;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        n = read(fd, buf, sizeof buf - 1);
        (void) close(fd);
        if (n < 0)
                return NULL;
        buf[n] = '\0';
        return strdup(buf);
}

static char *join(const char *a, const char *b) {
        char *p;

        assert_true(asprintf(&p, "%s/%s", a, b) >= 0);
        return p;
}

/* Waits for cgroup.events to report populated == want, woken by inotify on the file. */
static int wait_populated(const char *path, int want) {
        char *events = join(path, "cgroup.events");
        usec_t deadline = now(CLOCK_MONOTONIC) + WAIT_TIMEOUT_USEC;
        int ifd, r;

        ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        assert_true(ifd >= 0);
        assert_true(inotify_add_watch(ifd, events, IN_MODIFY) >= 0);
        free(events);

        for (;;) {
                struct pollfd pfd = { .fd = ifd, .events = POLLIN };
                char buf[4096];
                usec_t t;

                r = cgroup_is_populated(path);
                if (r < 0 || r == want)
                        break;
                t = now(CLOCK_MONOTONIC);
                if (t >= deadline) {
                        r = -ETIMEDOUT;
                        break;
                }
                (void) poll(&pfd, 1, (int) ((deadline - t) / USEC_PER_MSEC) + 1);
                while (read(ifd, buf, sizeof buf) > 0)
                        ;
        }

        (void) close(ifd);
        return r;
}

static int kill_and_remove(const char *name, const char *path, void *userdata) {
        (void) cgroup_kill(path);
        (void) wait_populated(path, 0);
        (void) cgroup_remove(path);
        return 0;
}

static int live_setup(void **state) {
        char *mount = NULL;
        Live *l;

        if (geteuid() != 0)
                return 0;
        if (cgroup_find_mount(&mount) < 0)
                return 0;

        l = calloc(1, sizeof(Live));
        assert_non_null(l);
        (void) snprintf(l->name, sizeof l->name, "vigil-test-cgroup-%d", (int) getpid());
        l->root.mount = mount;
        l->root.base = join(mount, l->name);
        *state = l;
        return 0;
}

static int live_teardown(void **state) {
        Live *l = *state;
        char *leaf;

        if (!l)
                return 0;

        (void) cgroup_foreach_child(&l->root, kill_and_remove, NULL);
        leaf = join(l->root.base, CGROUP_SUPERVISOR_LEAF);
        (void) kill_and_remove(CGROUP_SUPERVISOR_LEAF, leaf, NULL);
        free(leaf);
        (void) rmdir(l->root.base);

        free(l->root.mount);
        free(l->root.base);
        free(l);
        return 0;
}

/* For tests that remove what they create themselves. */
static int live_free(void **state) {
        Live *l = *state;

        if (l) {
                free(l->root.mount);
                free(l->root.base);
                free(l);
        }
        return 0;
}

/* Runs cgroup_root_setup() twice in a child and reports its result as the exit status:
 * 0, an errno, or 200 when the child did not end up in base/supervisor. */
static int run_root_setup_in_child(const Live *l) {
        int status;
        pid_t pid;

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                CgroupRoot *a = NULL, *b = NULL;
                char *self, *expect;
                int r;

                r = cgroup_root_setup(l->name, &a);
                if (r < 0)
                        _exit(-r);
                r = cgroup_root_setup(l->name, &b);
                if (r < 0)
                        _exit(-r);
                if (!streq(a->base, l->root.base) || !streq(b->base, l->root.base) ||
                    !streq(a->mount, l->root.mount))
                        _exit(200);

                self = read_file("/proc/self/cgroup");
                if (asprintf(&expect, "0::/%s/%s\n", l->name, CGROUP_SUPERVISOR_LEAF) < 0 || !self ||
                    !strstr(self, expect))
                        _exit(200);
                free(self);
                free(expect);
                cgroup_root_free(a);
                cgroup_root_free(b);
                _exit(0);
        }

        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

/* In a child: setup then teardown must leave the process in its original cgroup and remove the
 * leaf and the base that setup created. Exit status 0, an errno, or 200/201/202. */
static void test_root_teardown_restores_origin(void **state) {
        Live *l = *state;
        char name[128], base[PATH_MAX], leaf[PATH_MAX + 16];
        struct stat st;
        int status;
        pid_t pid;

        if (!l)
                skip();
        /* Fixed buffers: the child _exit()s, and must not leave heap blocks behind for valgrind. */
        (void) snprintf(name, sizeof name, "%s-teardown", l->name);
        (void) snprintf(base, sizeof base, "%s/%s", l->root.mount, name);
        (void) snprintf(leaf, sizeof leaf, "%s/%s", base, CGROUP_SUPERVISOR_LEAF);

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                CgroupRoot *r = NULL;
                char *before = read_file("/proc/self/cgroup"), *after;
                int k;

                k = cgroup_root_setup(name, &r);
                if (k < 0)
                        _exit(-k);
                if (!r->created_base || stat(leaf, &st) < 0)
                        _exit(200);
                k = cgroup_root_teardown(r);
                if (k < 0)
                        _exit(-k);
                after = read_file("/proc/self/cgroup");
                if (!before || !after || !streq(before, after))
                        _exit(201);
                if (stat(leaf, &st) >= 0 || stat(base, &st) >= 0)
                        _exit(202);
                cgroup_root_free(r);
                free(before);
                free(after);
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        (void) rmdir(leaf);
        (void) rmdir(base);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* Forks a child that joins the cgroup and then becomes "sleep 1000". Returns its pid. */
static pid_t fork_sleeper(const char *cgroup, bool double_fork, pid_t *ret_grandchild) {
        int p[2];
        pid_t pid;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char *procs = NULL;
                pid_t g = 0;
                int fd;

                if (asprintf(&procs, "%s/cgroup.procs", cgroup) < 0)
                        _exit(1);
                fd = open(procs, O_WRONLY | O_CLOEXEC);
                if (fd < 0 || write(fd, "0", 1) != 1)
                        _exit(1);
                if (double_fork) {
                        g = fork();
                        if (g < 0)
                                _exit(1);
                        if (g > 0) {
                                if (write(p[1], &g, sizeof g) != sizeof g)
                                        _exit(1);
                                _exit(0);
                        }
                        (void) setsid();
                }
                execl("/bin/sleep", "sleep", "1000", (char *) NULL);
                _exit(1);
        }

        (void) close(p[1]);
        if (double_fork) {
                int status;

                assert_int_equal(read(p[0], ret_grandchild, sizeof(pid_t)), sizeof(pid_t));
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        (void) close(p[0]);
        return pid;
}

typedef struct Seen {
        unsigned n;
        bool w0, w1;
} Seen;

static int collect_child(const char *name, const char *path, void *userdata) {
        Seen *s = userdata;

        s->n++;
        if (streq(name, "w-0"))
                s->w0 = true;
        if (streq(name, "w-1"))
                s->w1 = true;
        assert_false(streq(name, CGROUP_SUPERVISOR_LEAF));
        assert_true(strncmp(path, "/", 1) == 0);
        return 0;
}

static void test_live_hierarchy(void **state) {
        Live *l = *state;
        char *path = NULL, *path1 = NULL, *leaf, *procs;
        pid_t pid, grandchild = 0;
        uint64_t oom;
        Seen seen = {};
        int status, r;
        struct stat st;

        if (!l)
                skip();

        r = run_root_setup_in_child(l);
        if (r == EOPNOTSUPP || r == EROFS || r == EACCES || r == EPERM)
                skip();
        assert_int_equal(r, 0);

        leaf = join(l->root.base, CGROUP_SUPERVISOR_LEAF);
        assert_int_equal(stat(leaf, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(wait_populated(leaf, 0), 0);
        free(leaf);

        /* The test process itself never moved. */
        procs = read_file("/proc/self/cgroup");
        assert_non_null(procs);
        assert_null(strstr(procs, l->name));
        free(procs);

        assert_int_equal(cgroup_create(&l->root, "w-0", &path), 0);
        assert_string_equal(path + strlen(l->root.base), "/w-0");
        free(path);
        path = NULL;
        assert_int_equal(cgroup_create(&l->root, "w-0", &path), 1);   /* it exists now */
        assert_int_equal(cgroup_create(&l->root, "w-1", &path1), 0);
        assert_int_equal(cgroup_create(&l->root, CGROUP_SUPERVISOR_LEAF, &path1), -EINVAL);
        assert_int_equal(cgroup_is_populated(path), 0);

        assert_int_equal(cgroup_foreach_child(&l->root, collect_child, &seen), 0);
        assert_int_equal(seen.n, 2);
        assert_true(seen.w0 && seen.w1);

        /* A plain child, ended by cgroup_signal(). */
        pid = fork_sleeper(path, false, NULL);
        assert_int_equal(wait_populated(path, 1), 1);
        assert_int_equal(cgroup_remove(path), -EBUSY);
        assert_int_equal(cgroup_renew(path), -EBUSY);
        assert_int_equal(cgroup_signal(path, SIGTERM), 1);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
        assert_int_equal(wait_populated(path, 0), 0);
        assert_int_equal(cgroup_signal(path, SIGTERM), 0);

        /* A double-forked grandchild in its own session, ended by cgroup_kill(). We are its
         * subreaper so that we can see how it died. */
        assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
        (void) fork_sleeper(path, true, &grandchild);
        assert_true(grandchild > 0);
        assert_int_equal(wait_populated(path, 1), 1);
        assert_int_equal(cgroup_kill(path), 0);
        assert_int_equal(waitpid(grandchild, &status, 0), grandchild);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);
        assert_int_equal(wait_populated(path, 0), 0);

        /* Renewed after the kill, the cgroup takes a child cloned straight into it. */
        assert_int_equal(cgroup_renew(path), 0);
        assert_int_equal(cgroup_is_populated(path), 0);
        assert_born_alive_in(path);

        /* No memory controller on this hierarchy: no memory.events. */
        r = cgroup_read_oom_kills(path, &oom);
        if (r != 0)
                assert_int_equal(r, -ENOENT);

        assert_int_equal(cgroup_remove(path), 0);
        assert_int_equal(cgroup_is_populated(path), -ENOENT);
        assert_int_equal(cgroup_signal(path, SIGTERM), -ENOENT);
        assert_int_equal(cgroup_remove(path), -ENOENT);
        assert_int_equal(cgroup_remove(path1), 0);

        seen = (Seen) {};
        assert_int_equal(cgroup_foreach_child(&l->root, collect_child, &seen), 0);
        assert_int_equal(seen.n, 0);

        free(path);
        free(path1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_mountinfo_finds_first_cgroup2),
                cmocka_unit_test(test_parse_mountinfo_decodes_escapes_and_optional_fields),
                cmocka_unit_test(test_parse_mountinfo_without_cgroup2_is_enoent),
                cmocka_unit_test(test_parse_self_reads_unified_line),
                cmocka_unit_test(test_parse_self_without_unified_line_is_enoent),
                cmocka_unit_test(test_root_setup_rejects_bad_names),
                cmocka_unit_test_setup_teardown(test_live_hierarchy, live_setup, live_teardown),
                cmocka_unit_test_setup_teardown(test_root_teardown_restores_origin, live_setup, live_free),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
