/* The processes of a target: /proc/PID/stat parsing with hostile command names, cgroup.procs
 * read within the bound (a stand-in directory plays the cgroup), and the walk down a real
 * process tree without a cgroup: descendants in the process group are found, those that left
 * it are not, a child forked by a second thread is found, and the bound is reported. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "procs.h"

static void test_parse_stat_plain(void **state) {
        ProcStat st;

        assert_int_equal(procs_parse_stat("4242 (vt-hog) S 1 4242 4242 0 -1 4194560 120 0 0 0 "
                                          "250 75 10 5 20 0 3 0 12345 1000000 200 18446744073709551615\n",
                                          &st),
                         0);
        assert_int_equal(st.pid, 4242);
        assert_int_equal(st.state, 'S');
        assert_int_equal(st.ppid, 1);
        assert_int_equal(st.pgrp, 4242);
        assert_int_equal(st.utime, 250);
        assert_int_equal(st.stime, 75);
        assert_int_equal(st.cutime, 10);
        assert_int_equal(st.cstime, 5);
        assert_int_equal(st.num_threads, 3);
}

static void test_parse_stat_hostile_names(void **state) {
        static const char *const names[] = {
                "a) (b", "with spaces", ")", "(", "x) R 1 2 3 4 5", ") S 9 9 9", "", "new\nline",
        };
        char text[512];
        ProcStat st;

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                (void) snprintf(text, sizeof text, "77 (%s) R 5 77 77 34816 77 4194304 1 2 3 4 "
                                "11 22 33 44 20 -5 1 0 999 0 0", names[i]);
                assert_int_equal(procs_parse_stat(text, &st), 0);
                assert_int_equal(st.pid, 77);
                assert_int_equal(st.state, 'R');
                assert_int_equal(st.ppid, 5);
                assert_int_equal(st.pgrp, 77);
                assert_int_equal(st.utime, 11);
                assert_int_equal(st.stime, 22);
                assert_int_equal(st.cutime, 33);
                assert_int_equal(st.cstime, 44);
                assert_int_equal(st.num_threads, 1);
        }
}

static void test_parse_stat_refuses_what_is_not_a_stat_line(void **state) {
        ProcStat st = { .pid = -7 };

        assert_int_equal(procs_parse_stat("", &st), -EINVAL);
        assert_int_equal(procs_parse_stat("77", &st), -EINVAL);
        assert_int_equal(procs_parse_stat("77 (name R 5 77", &st), -EINVAL);
        assert_int_equal(procs_parse_stat("x (n) R 5 77 77 0 0 0 0 0 0 0 1 2 3 4 20 0 1", &st), -EINVAL);
        /* Cut short before num_threads. */
        assert_int_equal(procs_parse_stat("77 (n) R 5 77 77 0 0 0 0 0 0 0 1 2 3 4 20 0", &st), -EINVAL);
        /* utime must not be negative. */
        assert_int_equal(procs_parse_stat("77 (n) R 5 77 77 0 0 0 0 0 0 0 -1 2 3 4 20 0 1", &st), -EINVAL);
        assert_int_equal(st.pid, -7);   /* untouched on failure */
}

static void test_read_stat_of_self(void **state) {
        ProcStat st;

        assert_int_equal(procs_read_stat(getpid(), &st), 0);
        assert_int_equal(st.pid, getpid());
        assert_int_equal(st.ppid, getppid());
        assert_int_equal(st.pgrp, getpgrp());
        assert_true(st.num_threads >= 1);
}

/* A directory standing in for a cgroup, its cgroup.procs written with text. */
static char *fake_cgroup(const char *text) {
        char *dir = strdup("/tmp/vigil-test-procs.XXXXXX"), path[128];
        FILE *f;

        assert_non_null(dir);
        assert_non_null(mkdtemp(dir));
        (void) snprintf(path, sizeof path, "%s/cgroup.procs", dir);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
        return dir;
}

static void remove_fake_cgroup(char *dir) {
        char path[128];

        (void) snprintf(path, sizeof path, "%s/cgroup.procs", dir);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
        free(dir);
}

static void test_cgroup_procs_within_the_bound(void **state) {
        char *dir = fake_cgroup("12\n0\n345\n6789\n");
        ProbeTarget t = { .instance = 0, .pid = 12 };
        pid_t pids[8];
        size_t n = 99;

        t.cgroup_path = dir;
        assert_int_equal(procs_list(&t, pids, ELEMENTSOF(pids), &n), 0);
        /* The 0 another pid namespace shows is no process of ours. */
        assert_int_equal(n, 3);
        assert_int_equal(pids[0], 12);
        assert_int_equal(pids[1], 345);
        assert_int_equal(pids[2], 6789);

        /* Exactly full is complete; one more is the bound. */
        assert_int_equal(procs_list(&t, pids, 3, &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(procs_list(&t, pids, 2, &n), 1);
        assert_int_equal(n, 2);
        assert_int_equal(pids[1], 345);
        remove_fake_cgroup(dir);
}

static void test_cgroup_procs_longer_than_any_buffer(void **state) {
        size_t size = 3000 * 8 + 1, len = 0;
        char *text = malloc(size), *dir;
        ProbeTarget t = { .instance = 0 };
        pid_t pids[PROCS_MAX];
        size_t n;

        assert_non_null(text);
        for (int i = 1; i <= 3000; i++)
                len += (size_t) snprintf(text + len, size - len, "%d\n", 1000000 + i);
        dir = fake_cgroup(text);
        t.cgroup_path = dir;
        assert_int_equal(procs_list(&t, pids, ELEMENTSOF(pids), &n), 1);
        assert_int_equal(n, PROCS_MAX);
        assert_int_equal(pids[0], 1000001);
        assert_int_equal(pids[PROCS_MAX - 1], 1000000 + PROCS_MAX);
        remove_fake_cgroup(dir);
        free(text);
}

static void test_cgroup_procs_errors(void **state) {
        char *dir = fake_cgroup("12\nabc\n");
        ProbeTarget t = { .instance = 0, .cgroup_path = "/nonexistent/vigil-cgroup" };
        pid_t pids[8];
        size_t n = 99;

        assert_int_equal(procs_list(&t, pids, ELEMENTSOF(pids), &n), -ENOENT);
        t.cgroup_path = dir;
        assert_int_equal(procs_list(&t, pids, ELEMENTSOF(pids), &n), -EINVAL);
        assert_int_equal(n, 99);
        remove_fake_cgroup(dir);

        dir = fake_cgroup("99999999999\n");
        t.cgroup_path = dir;
        assert_int_equal(procs_list(&t, pids, ELEMENTSOF(pids), &n), -EINVAL);
        remove_fake_cgroup(dir);

        /* Neither cgroup nor main process. */
        t.cgroup_path = NULL;
        assert_int_equal(procs_list(&t, pids, ELEMENTSOF(pids), &n), -ESRCH);
}

/* ---- A real tree: main (a group leader) with a child and a grandchild in its group, a child
 * that left the group, and a child forked by a second thread. Everyone blocks on ctl until the
 * test closes it, then exits; each reaps its own children. */

typedef struct Tree {
        pid_t main, child, grandchild, escaped, thread_child;
        int ctl;   /* the write end: closing it ends the tree */
} Tree;

typedef struct Report {
        char tag;
        pid_t pid;
} Report;

static int report_fd, ctl_fd;

static void report(char tag) {
        Report r;

        memset(&r, 0, sizeof r);   /* the padding goes down the pipe too */
        r.tag = tag;
        r.pid = getpid();

        if (write(report_fd, &r, sizeof r) != (ssize_t) sizeof r)
                _exit(3);
}

static void block_until_closed(void) {
        char c;

        while (read(ctl_fd, &c, 1) > 0)
                ;
}

static pid_t fork_blocker(char tag, bool leave_group, bool with_child) {
        pid_t pid = fork();

        if (pid < 0)
                _exit(4);
        if (pid > 0)
                return pid;
        if (leave_group && setpgid(0, 0) < 0)
                _exit(5);
        if (with_child)
                (void) fork_blocker('g', false, false);
        report(tag);
        block_until_closed();
        while (wait(NULL) > 0)
                ;
        _exit(0);
}

static void *thread_main(void *arg) {
        (void) fork_blocker('t', false, false);
        block_until_closed();
        return NULL;
}

static void tree_start(Tree *t) {
        int rep[2], ctl[2];
        Report r;

        assert_int_equal(pipe2(rep, O_CLOEXEC), 0);
        assert_int_equal(pipe2(ctl, O_CLOEXEC), 0);
        t->main = fork();
        assert_true(t->main >= 0);
        if (t->main == 0) {
                pthread_t thread;

                report_fd = rep[1];
                ctl_fd = ctl[0];
                (void) close(ctl[1]);
                (void) close(rep[0]);
                if (setpgid(0, 0) < 0)
                        _exit(6);
                (void) fork_blocker('c', false, true);
                (void) fork_blocker('e', true, false);
                if (pthread_create(&thread, NULL, thread_main, NULL) != 0)
                        _exit(7);
                report('m');
                block_until_closed();
                (void) pthread_join(thread, NULL);
                while (wait(NULL) > 0)
                        ;
                _exit(0);
        }
        (void) close(ctl[0]);
        (void) close(rep[1]);
        t->ctl = ctl[1];
        for (int i = 0; i < 5; i++) {
                assert_int_equal(read(rep[0], &r, sizeof r), (ssize_t) sizeof r);
                switch (r.tag) {
                case 'm': t->main = r.pid; break;
                case 'c': t->child = r.pid; break;
                case 'g': t->grandchild = r.pid; break;
                case 'e': t->escaped = r.pid; break;
                case 't': t->thread_child = r.pid; break;
                default: fail();
                }
        }
        (void) close(rep[0]);
}

static void tree_stop(Tree *t) {
        int status;

        (void) close(t->ctl);
        assert_int_equal(waitpid(t->main, &status, 0), t->main);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("the tree's main process ended with status 0x%x", (unsigned) status);
}

static bool listed(const pid_t *pids, size_t n, pid_t pid) {
        for (size_t i = 0; i < n; i++)
                if (pids[i] == pid)
                        return true;
        return false;
}

static void test_walk_finds_the_group_below_main(void **state) {
        ProbeTarget t = { .instance = 0 };
        pid_t pids[16];
        size_t n;
        Tree tree = {};

        tree_start(&tree);
        t.pid = tree.main;
        assert_int_equal(procs_list(&t, pids, ELEMENTSOF(pids), &n), 0);
        assert_int_equal(pids[0], tree.main);
        assert_true(listed(pids, n, tree.child));
        assert_true(listed(pids, n, tree.grandchild));
        assert_true(listed(pids, n, tree.thread_child));
        assert_false(listed(pids, n, tree.escaped));
        assert_int_equal(n, 4);

        /* Two of four: the bound is reported, the main process comes first. */
        assert_int_equal(procs_list(&t, pids, 2, &n), 1);
        assert_int_equal(n, 2);
        assert_int_equal(pids[0], tree.main);
        tree_stop(&tree);

        /* The main process is gone. */
        assert_int_equal(procs_list(&t, pids, ELEMENTSOF(pids), &n), -ESRCH);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_stat_plain),
                cmocka_unit_test(test_parse_stat_hostile_names),
                cmocka_unit_test(test_parse_stat_refuses_what_is_not_a_stat_line),
                cmocka_unit_test(test_read_stat_of_self),
                cmocka_unit_test(test_cgroup_procs_within_the_bound),
                cmocka_unit_test(test_cgroup_procs_longer_than_any_buffer),
                cmocka_unit_test(test_cgroup_procs_errors),
                cmocka_unit_test(test_walk_finds_the_group_below_main),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
