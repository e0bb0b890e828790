/* The command runner on an sd_event loop of the test's own, with a ProbeEnv that records what
 * the runner watches: a real run hands back the exit status and the output, watched from
 * before the loop runs to the reap, with nothing left behind; the output is kept up to its
 * bound and the pipe closed after a bounded read; a cancel kills the command's whole session
 * and calls nothing back; a command that cannot start says which step failed, and the next
 * start is refused with -EBUSY until the failed child is reaped; done may free the command;
 * the fork-style clone where clone3 is missing does the same; and a kind's sample: the
 * probe's environment, its user else the target's, a command that cannot start as a result. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "clone.h"
#include "probe-command.h"
#include "test-util.h"

/* What the runner asked of its ProbeEnv, and what it delivered. */
typedef struct Record {
        pid_t watched, unwatched;
        unsigned n_watch, n_unwatch;
        void (*reap)(void *userdata);
        void *reap_userdata;
        unsigned done;
        int code, status;
        char output[PROBE_COMMAND_OUTPUT_MAX + 1];
        size_t size;
        bool truncated;
        bool free_in_done;
} Record;

static Record rec;
static sd_event *event;
static ProbeEnv env;

static int env_watch(void *userdata, pid_t pid, void (*reap)(void *), void *reap_userdata) {
        assert_ptr_equal(userdata, &rec);
        /* Watched before anything could reap it: it has not been waited for yet. */
        assert_int_equal(kill(pid, 0), 0);
        rec.watched = pid;
        rec.n_watch++;
        rec.reap = reap;
        rec.reap_userdata = reap_userdata;
        return 0;
}

static void env_unwatch(void *userdata, pid_t pid) {
        assert_int_equal(pid, rec.watched);
        rec.unwatched = pid;
        rec.n_unwatch++;
}

static void on_done(ProbeCommand *cmd, const ProbeCommandOutcome *o, void *userdata) {
        assert_ptr_equal(userdata, &rec);
        assert_true(o->size <= PROBE_COMMAND_OUTPUT_MAX);
        rec.done++;
        rec.code = o->code;
        rec.status = o->status;
        memcpy(rec.output, o->output, o->size);
        rec.output[o->size] = 0;
        rec.size = o->size;
        rec.truncated = o->truncated;
        if (rec.free_in_done) {
                probe_command_done(cmd);
                free(cmd);
        }
}

static int setup(void **state) {
        rec = (Record) {};
        assert_int_equal(sd_event_new(&event), 0);
        env = (ProbeEnv) {
                .event = event,
                .child_watch = env_watch,
                .child_unwatch = env_unwatch,
                .userdata = &rec,
        };
        return 0;
}

static int teardown(void **state) {
        event = sd_event_unref(event);
        return 0;
}

/* Runs the loop until *flag reaches want; fails after 10 seconds. */
static void loop_until(const unsigned *flag, unsigned want) {
        for (unsigned k = 0; *flag < want; k++) {
                if (k >= 100)
                        fail_msg("timed out waiting on the loop");
                assert_true(sd_event_run(event, 100 * USEC_PER_MSEC) >= 0);
        }
}

static void assert_no_child_left(void) {
        siginfo_t si = {};

        assert_int_equal(waitid(P_ALL, 0, &si, WEXITED | WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
}

static char *const plain_env[] = { (char *) "PATH=/usr/bin:/bin", (char *) "MARK=x", NULL };

static int start(ProbeCommand *cmd, char *const *argv, ProbeCommandFailure *f) {
        return probe_command_start(cmd, &env, argv, NULL, plain_env, on_done, &rec, f);
}

static void test_a_run_hands_back_exit_status_and_output(void **state) {
        char *argv[] = { (char *) "/bin/sh", (char *) "-c",
                         (char *) "echo \"out $MARK $(pwd)\"; echo err >&2; exit 3", NULL };
        unsigned n_fds = count_fds();
        ProbeCommand cmd = {};
        ProbeCommandFailure f;

        assert_int_equal(start(&cmd, argv, &f), 0);
        assert_int_equal(rec.n_watch, 1);
        assert_int_equal(rec.n_unwatch, 0);
        loop_until(&rec.done, 1);
        assert_int_equal(rec.code, CLD_EXITED);
        assert_int_equal(rec.status, 3);
        assert_string_equal(rec.output, "out x /\nerr\n");
        assert_false(rec.truncated);
        assert_int_equal(rec.n_unwatch, 1);
        assert_int_equal(rec.unwatched, rec.watched);
        assert_no_child_left();
        assert_int_equal(count_fds(), n_fds);

        /* Again, on the same command: a new process. */
        assert_int_equal(start(&cmd, argv, &f), 0);
        loop_until(&rec.done, 2);
        assert_int_equal(rec.status, 3);
        assert_int_equal(rec.n_unwatch, 2);
        probe_command_done(&cmd);
        assert_no_child_left();
        assert_int_equal(count_fds(), n_fds);
}

static void test_a_signal_is_the_outcome(void **state) {
        char *argv[] = { (char *) "/bin/sh", (char *) "-c", (char *) "echo partial; kill -TERM $$", NULL };
        ProbeCommand cmd = {};
        char buf[32];

        assert_int_equal(start(&cmd, argv, NULL), 0);
        loop_until(&rec.done, 1);
        assert_int_equal(rec.code, CLD_KILLED);
        assert_int_equal(rec.status, SIGTERM);
        assert_string_equal(rec.output, "partial\n");
        assert_string_equal(probe_command_signal_name(SIGTERM, buf, sizeof buf), "SIGTERM");
        probe_command_done(&cmd);
        assert_no_child_left();
}

static void test_output_is_bounded(void **state) {
        char *argv[] = { (char *) "/bin/sh", (char *) "-c",
                         (char *) "echo first; head -c 1048576 /dev/zero | tr '\\000' x; exit 0", NULL };
        ProbeCommand cmd = {};

        /* 1 MiB: the first PROBE_COMMAND_OUTPUT_MAX bytes kept, the pipe closed after a bounded
         * read, and the writer, meeting EPIPE, does not hold the outcome up. */
        assert_int_equal(start(&cmd, argv, NULL), 0);
        loop_until(&rec.done, 1);
        assert_int_equal(rec.size, PROBE_COMMAND_OUTPUT_MAX);
        assert_true(rec.truncated);
        assert_memory_equal(rec.output, "first\nxxx", 9);
        assert_true(cmd.n_read >= PROBE_COMMAND_READ_MAX && cmd.n_read < PROBE_COMMAND_READ_MAX + 4096);
        probe_command_done(&cmd);
        assert_no_child_left();
}

static void test_cancel_kills_the_session_and_calls_nothing_back(void **state) {
        char path[] = "/tmp/vigil-test-probe-command-pids.XXXXXX", script[512];
        char *argv[] = { (char *) "/bin/sh", (char *) "-c", script, NULL };
        int fd = mkstemp(path);
        pid_t pid, grandchild = 0;
        ProbeCommand cmd = {};
        siginfo_t si = {};
        FILE *f;

        assert_true(fd >= 0);
        (void) close(fd);
        (void) unlink(path);
        /* The grandchild is ours to wait for once its parent is gone. */
        assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
        (void) snprintf(script, sizeof script,
                        "/bin/sleep 30 & echo $! > %s.tmp; mv %s.tmp %s; exec /bin/sleep 30", path, path, path);
        assert_int_equal(start(&cmd, argv, NULL), 0);
        pid = rec.watched;

        /* Until the grandchild is started (its pid is in the file): the loop has nothing to do. */
        for (unsigned k = 0; !(f = fopen(path, "re")); k++) {
                if (k >= 100)
                        fail_msg("the command did not start its grandchild");
                assert_true(sd_event_run(event, 100 * USEC_PER_MSEC) >= 0);
        }
        assert_int_equal(fscanf(f, "%d", &grandchild), 1);
        (void) fclose(f);
        (void) unlink(path);
        assert_true(grandchild > 0);

        probe_command_cancel(&cmd);
        /* Until the killed command is reaped, no other starts. */
        if (rec.n_unwatch == 0)
                assert_int_equal(start(&cmd, argv, NULL), -EBUSY);
        loop_until(&rec.n_unwatch, 1);
        assert_int_equal(rec.unwatched, pid);
        assert_int_equal(kill(pid, 0), -1);
        assert_int_equal(errno, ESRCH);
        assert_int_equal(waitid(P_PID, (id_t) grandchild, &si, WEXITED), 0);
        assert_int_equal(si.si_code, CLD_KILLED);
        assert_int_equal(si.si_status, SIGKILL);
        assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);

        assert_true(sd_event_run(event, 50 * USEC_PER_MSEC) >= 0);
        assert_int_equal(rec.done, 0);
        probe_command_cancel(&cmd);   /* idempotent */
        probe_command_done(&cmd);
        assert_int_equal(rec.done, 0);
        assert_no_child_left();
}

static void test_done_hands_a_running_command_over(void **state) {
        char *argv[] = { (char *) "/bin/sleep", (char *) "30", NULL };
        ProbeCommand cmd = {};
        siginfo_t si = {};
        pid_t pid;

        assert_int_equal(start(&cmd, argv, NULL), 0);
        pid = rec.watched;
        /* Freed at once: killed, and unwatched whether reaped or not (vigild reaps the rest). */
        probe_command_done(&cmd);
        assert_int_equal(rec.n_unwatch, 1);
        assert_int_equal(cmd.pid, 0);
        assert_null(cmd.child_source);
        assert_null(cmd.output_source);
        if (waitid(P_PID, (id_t) pid, &si, WEXITED) == 0) {
                assert_int_equal(si.si_code, CLD_KILLED);
                assert_int_equal(si.si_status, SIGKILL);
        } else
                assert_int_equal(errno, ECHILD);
        assert_true(sd_event_run(event, 0) >= 0);
        assert_int_equal(rec.done, 0);
        assert_no_child_left();

        probe_command_done(&(ProbeCommand) {});   /* an idle one holds nothing */
        probe_command_done(NULL);
}

static void test_a_command_that_cannot_start_says_why(void **state) {
        char *missing[] = { (char *) "/nonexistent/vigil-command", NULL };
        char *not_executable[] = { (char *) "/dev/null", NULL };
        ProbeCommandFailure f;
        ProbeCommand cmd = {};

        assert_int_equal(start(&cmd, missing, &f), -ENOENT);
        assert_true(f.cannot_start);
        assert_null(f.step);
        /* The child that failed is reaped from the loop; until then the next start waits. */
        if (rec.n_unwatch == 0) {
                assert_int_equal(start(&cmd, missing, &f), -EBUSY);
                assert_false(f.cannot_start);
                loop_until(&rec.n_unwatch, 1);
        }
        assert_int_equal(rec.done, 0);
        assert_no_child_left();

        assert_int_equal(start(&cmd, not_executable, &f), -EACCES);
        assert_true(f.cannot_start);
        loop_until(&rec.n_unwatch, 2);
        assert_int_equal(rec.done, 0);
        assert_no_child_left();

        /* The runner's own failures are not the command's. */
        assert_int_equal(probe_command_start(&cmd, &(ProbeEnv) {}, missing, NULL, plain_env, on_done, &rec, &f),
                         -EOPNOTSUPP);
        assert_false(f.cannot_start);
        probe_command_done(&cmd);
}

static void test_a_step_that_fails_is_named(void **state) {
        /* More groups than the kernel takes (NGROUPS_MAX): EINVAL for root, EPERM for others. */
        static gid_t groups[65537];
        char *argv[] = { (char *) "/bin/true", NULL };
        ProbeCommandIdentity id = { .uid = 1, .gid = 1, .groups = groups, .n_groups = ELEMENTSOF(groups) };
        ProbeCommandFailure f;
        ProbeCommand cmd = {};

        assert_int_equal(probe_command_start(&cmd, &env, argv, &id, plain_env, on_done, &rec, &f),
                         geteuid() == 0 ? -EINVAL : -EPERM);
        assert_true(f.cannot_start);
        assert_string_equal(f.step, "setgroups");
        loop_until(&rec.n_unwatch, 1);
        assert_int_equal(rec.done, 0);
        probe_command_done(&cmd);
        assert_no_child_left();
}

static void test_done_may_free_the_command(void **state) {
        char *argv[] = { (char *) "/bin/echo", (char *) "bye", NULL };
        ProbeCommand *cmd = calloc(1, sizeof(ProbeCommand));

        assert_non_null(cmd);
        rec.free_in_done = true;
        assert_int_equal(start(cmd, argv, NULL), 0);
        loop_until(&rec.done, 1);   /* valgrind sees a use after free, if any */
        assert_string_equal(rec.output, "bye\n");
        assert_true(sd_event_run(event, 0) >= 0);
        assert_no_child_left();
}

static void test_the_fork_path_does_the_same(void **state) {
        char *argv[] = { (char *) "/bin/sh", (char *) "-c", (char *) "echo \"$MARK\"; exit 1", NULL };
        char *missing[] = { (char *) "/nonexistent/vigil-command", NULL };
        ProbeCommandFailure f;
        ProbeCommand cmd = {};

        clone_vfork_disable(true);
        assert_int_equal(start(&cmd, argv, &f), 0);
        loop_until(&rec.done, 1);
        assert_int_equal(rec.code, CLD_EXITED);
        assert_int_equal(rec.status, 1);
        assert_string_equal(rec.output, "x\n");
        assert_int_equal(start(&cmd, missing, &f), -ENOENT);
        assert_true(f.cannot_start);
        loop_until(&rec.n_unwatch, 2);
        clone_vfork_disable(false);
        probe_command_done(&cmd);
        assert_no_child_left();
}

/* Runs argv as a sample on t with user, to its outcome. */
static void sample(const ProbeTarget *t, char *const *argv, const ConfigUser *user) {
        ProbeCommand cmd = {};
        unsigned want = rec.done + 1;
        ProbeResult r;

        assert_int_equal(probe_command_sample(&cmd, &env, t, argv, user, on_done, &rec, &r), 1);
        loop_until(&rec.done, want);
        assert_int_equal(rec.code, CLD_EXITED);
        assert_int_equal(rec.status, 0);
        probe_command_done(&cmd);
}

static void test_a_sample_has_the_probe_environment(void **state) {
        char *argv[] = { (char *) "/usr/bin/env", NULL };
        ProbeTarget host = { .instance = -1, .name = "host" };
        ProbeTarget inst = { .worker = "api", .instance = 2, .name = "api:2", .pid = 4242 };

        sample(&inst, argv, NULL);
        assert_string_equal(rec.output, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
                                        "LANG=C.UTF-8\nVIGIL_WORKER=api\nVIGIL_INSTANCE=2\nVIGIL_PID=4242\n");
        inst.pid = 0;
        sample(&inst, argv, NULL);
        assert_string_equal(rec.output, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
                                        "LANG=C.UTF-8\nVIGIL_WORKER=api\nVIGIL_INSTANCE=2\n");
        sample(&host, argv, NULL);
        assert_string_equal(rec.output, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
                                        "LANG=C.UTF-8\n");
        assert_no_child_left();
}

static void test_a_sample_runs_as_the_probe_user_else_the_targets(void **state) {
        char *argv[] = { (char *) "/bin/sh", (char *) "-c", (char *) "echo $(id -u) $(id -g) $(id -G)", NULL };
        gid_t user_groups[] = { 8, 9 }, target_groups[] = { 1, 4 };
        ConfigUser user = { .name = (char *) "u", .uid = 7, .gid = 8, .groups = user_groups, .n_groups = 2 };
        ProbeTarget host = { .instance = -1, .name = "host" };
        ProbeTarget inst = { .worker = "w", .instance = 0, .name = "w:0", .has_user = true, .uid = 1, .gid = 1,
                             .groups = target_groups, .n_groups = 2 };
        char want[64];

        if (geteuid() != 0)
                skip();
        sample(&inst, argv, &user);
        assert_string_equal(rec.output, "7 8 8 9\n");
        sample(&inst, argv, &(ConfigUser) {});
        assert_string_equal(rec.output, "1 1 1 4\n");
        sample(&host, argv, &(ConfigUser) {});
        (void) snprintf(want, sizeof want, "%u %u ", (unsigned) geteuid(), (unsigned) getegid());
        assert_true(strncmp(rec.output, want, strlen(want)) == 0);
        assert_no_child_left();
}

static void test_a_sample_that_cannot_start_is_a_result(void **state) {
        char *missing[] = { (char *) "/nonexistent/vigil-command", NULL };
        ProbeTarget host = { .instance = -1, .name = "host" };
        ProbeCommand cmd = {};
        ProbeResult r;

        probe_result_init(&r);
        assert_int_equal(probe_command_sample(&cmd, &env, &host, missing, NULL, on_done, &rec, &r), 0);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_string_equal(r.message, "cannot start /nonexistent/vigil-command: No such file or directory");
        loop_until(&rec.n_unwatch, 1);

        /* The runner's own failures are the caller's to report. */
        probe_result_init(&r);
        assert_int_equal(probe_command_sample(&cmd, &(ProbeEnv) {}, &host, missing, NULL, on_done, &rec, &r),
                         -EOPNOTSUPP);
        assert_int_equal(r.status, PROBE_OK);
        probe_command_done(&cmd);
        assert_int_equal(rec.done, 0);
        assert_no_child_left();
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_a_run_hands_back_exit_status_and_output, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_signal_is_the_outcome, setup, teardown),
                cmocka_unit_test_setup_teardown(test_output_is_bounded, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cancel_kills_the_session_and_calls_nothing_back, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_done_hands_a_running_command_over, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_command_that_cannot_start_says_why, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_step_that_fails_is_named, setup, teardown),
                cmocka_unit_test_setup_teardown(test_done_may_free_the_command, setup, teardown),
                cmocka_unit_test_setup_teardown(test_the_fork_path_does_the_same, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_sample_has_the_probe_environment, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_sample_runs_as_the_probe_user_else_the_targets, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_a_sample_that_cannot_start_is_a_result, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
