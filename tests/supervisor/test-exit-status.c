/* Unit tests for supervisor/exit-status.c: the complete classification table of DESIGN.md
 * "Error classification", the configurable permanent list, the crash signal set, the wording
 * of exit_status_describe() and its refusal to overflow the caller's buffer.
 * Builds WorkerConfig structs by hand so that it depends on nothing but the module under test. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "exit-status.h"

static const int default_permanent[] = { 64, 65, 66, 67, 68, 77, 78 };

static void worker_init(WorkerConfig *w) {
        *w = (WorkerConfig) {
                .restart = RESTART_ON_FAILURE,
        };
        for (size_t i = 0; i < ELEMENTSOF(default_permanent); i++)
                w->permanent_exit[default_permanent[i]] = true;
}

static bool is_default_permanent(int code) {
        for (size_t i = 0; i < ELEMENTSOF(default_permanent); i++)
                if (default_permanent[i] == code)
                        return true;
        return false;
}

static ExitInfo exited(int code) {
        return (ExitInfo) { .cause = EXIT_CAUSE_EXITED, .code = code };
}

static ExitInfo killed(int signo) {
        return (ExitInfo) { .cause = EXIT_CAUSE_KILLED, .code = signo };
}

static ExitInfo dumped(int signo) {
        return (ExitInfo) { .cause = EXIT_CAUSE_DUMPED, .code = signo };
}

static ExitInfo spawn_failed(SpawnStage stage, int error) {
        return (ExitInfo) { .cause = EXIT_CAUSE_SPAWN_FAILED, .spawn_stage = stage, .spawn_errno = error };
}

static ExitClass classify(const ExitInfo *info, const char **ret_reason) {
        WorkerConfig w;

        worker_init(&w);
        return exit_status_classify(info, &w, ret_reason);
}

typedef struct ClassifyCase {
        ExitInfo info;
        ExitClass cls;
        const char *reason;
} ClassifyCase;

static void test_classification_table(void **state) {
        const ClassifyCase cases[] = {
                { exited(0), EXIT_CLASS_SUCCESS, "exited cleanly" },
                { exited(1), EXIT_CLASS_TRANSIENT, "non-zero exit code" },
                { exited(2), EXIT_CLASS_TRANSIENT, "non-zero exit code" },
                { exited(64), EXIT_CLASS_PERMANENT, "permanent exit code" },
                { exited(65), EXIT_CLASS_PERMANENT, "permanent exit code" },
                { exited(66), EXIT_CLASS_PERMANENT, "permanent exit code" },
                { exited(67), EXIT_CLASS_PERMANENT, "permanent exit code" },
                { exited(68), EXIT_CLASS_PERMANENT, "permanent exit code" },
                { exited(69), EXIT_CLASS_TRANSIENT, "non-zero exit code" },
                { exited(70), EXIT_CLASS_TRANSIENT, "non-zero exit code" },
                { exited(74), EXIT_CLASS_TRANSIENT, "non-zero exit code" },
                { exited(75), EXIT_CLASS_TRANSIENT, "non-zero exit code" },
                { exited(76), EXIT_CLASS_TRANSIENT, "non-zero exit code" },
                { exited(77), EXIT_CLASS_PERMANENT, "permanent exit code" },
                { exited(78), EXIT_CLASS_PERMANENT, "permanent exit code" },
                { exited(79), EXIT_CLASS_TRANSIENT, "non-zero exit code" },
                { exited(126), EXIT_CLASS_TRANSIENT, "non-zero exit code" },
                { exited(127), EXIT_CLASS_TRANSIENT, "non-zero exit code" },
                { exited(255), EXIT_CLASS_TRANSIENT, "non-zero exit code" },
                { killed(SIGSEGV), EXIT_CLASS_CRASH, "crashed" },
                { killed(SIGKILL), EXIT_CLASS_CRASH, "killed by a signal" },
                { killed(SIGTERM), EXIT_CLASS_CRASH, "killed by a signal" },
                { dumped(SIGABRT), EXIT_CLASS_CRASH, "crashed" },
                { dumped(SIGBUS), EXIT_CLASS_CRASH, "crashed" },
                { spawn_failed(SPAWN_STAGE_FORK, EAGAIN), EXIT_CLASS_RESOURCE, "fork failed" },
                { spawn_failed(SPAWN_STAGE_FORK, ENOMEM), EXIT_CLASS_RESOURCE, "fork failed" },
                { spawn_failed(SPAWN_STAGE_EXEC, EAGAIN), EXIT_CLASS_RESOURCE, "exec failed" },
                { spawn_failed(SPAWN_STAGE_EXEC, ENOMEM), EXIT_CLASS_RESOURCE, "exec failed" },
                { spawn_failed(SPAWN_STAGE_STDIO, EMFILE), EXIT_CLASS_RESOURCE, "stdio failed" },
                { spawn_failed(SPAWN_STAGE_STDIO, ENFILE), EXIT_CLASS_RESOURCE, "stdio failed" },
                { spawn_failed(SPAWN_STAGE_EXEC, ENOENT), EXIT_CLASS_PERMANENT, "exec failed" },
                { spawn_failed(SPAWN_STAGE_EXEC, EACCES), EXIT_CLASS_PERMANENT, "exec failed" },
                { spawn_failed(SPAWN_STAGE_EXEC, ENOEXEC), EXIT_CLASS_PERMANENT, "exec failed" },
                { spawn_failed(SPAWN_STAGE_EXEC, ENOTDIR), EXIT_CLASS_PERMANENT, "exec failed" },
                { spawn_failed(SPAWN_STAGE_EXEC, ELOOP), EXIT_CLASS_PERMANENT, "exec failed" },
                { spawn_failed(SPAWN_STAGE_EXEC, E2BIG), EXIT_CLASS_PERMANENT, "exec failed" },
                { spawn_failed(SPAWN_STAGE_USER, EPERM), EXIT_CLASS_PERMANENT, "user failed" },
                { spawn_failed(SPAWN_STAGE_GROUPS, EPERM), EXIT_CLASS_PERMANENT, "groups failed" },
                { spawn_failed(SPAWN_STAGE_CGROUP, EACCES), EXIT_CLASS_PERMANENT, "cgroup failed" },
                { spawn_failed(SPAWN_STAGE_CWD, ENOENT), EXIT_CLASS_PERMANENT, "cwd failed" },
                { spawn_failed(SPAWN_STAGE_RLIMIT, EINVAL), EXIT_CLASS_PERMANENT, "rlimit failed" },
                { spawn_failed(SPAWN_STAGE_PGROUP, EPERM), EXIT_CLASS_PERMANENT, "pgroup failed" },
                { spawn_failed(SPAWN_STAGE_SIGNALS, EINVAL), EXIT_CLASS_PERMANENT, "signals failed" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const char *reason = NULL;

                assert_int_equal(classify(&cases[i].info, &reason), cases[i].cls);
                assert_string_equal(reason, cases[i].reason);
        }
}

static void test_every_exit_code_follows_the_default_permanent_list(void **state) {
        for (int code = 1; code < 256; code++) {
                ExitInfo info = exited(code);

                assert_int_equal(classify(&info, NULL),
                                 is_default_permanent(code) ? EXIT_CLASS_PERMANENT : EXIT_CLASS_TRANSIENT);
        }
}

static void test_exit_tempfail_is_transient(void **state) {
        ExitInfo info = exited(75);

        assert_int_equal(classify(&info, NULL), EXIT_CLASS_TRANSIENT);
}

static void test_permanent_list_override_is_honoured(void **state) {
        WorkerConfig w;
        ExitInfo info;

        /* An operator who says 78 is worth retrying and 1 is not. */
        worker_init(&w);
        w.permanent_exit[78] = false;
        w.permanent_exit[1] = true;

        info = exited(78);
        assert_int_equal(exit_status_classify(&info, &w, NULL), EXIT_CLASS_TRANSIENT);
        info = exited(1);
        assert_int_equal(exit_status_classify(&info, &w, NULL), EXIT_CLASS_PERMANENT);
        info = exited(64);
        assert_int_equal(exit_status_classify(&info, &w, NULL), EXIT_CLASS_PERMANENT);

        /* An empty list: nothing is permanent, 0 is still success. */
        memset(w.permanent_exit, 0, sizeof(w.permanent_exit));
        info = exited(78);
        assert_int_equal(exit_status_classify(&info, &w, NULL), EXIT_CLASS_TRANSIENT);
        info = exited(0);
        assert_int_equal(exit_status_classify(&info, &w, NULL), EXIT_CLASS_SUCCESS);

        /* permanent_exit[0] cannot turn a clean exit into a failure. */
        w.permanent_exit[0] = true;
        assert_int_equal(exit_status_classify(&info, &w, NULL), EXIT_CLASS_SUCCESS);
}

static void test_out_of_range_exit_codes_are_transient(void **state) {
        ExitInfo info = exited(256);

        assert_int_equal(classify(&info, NULL), EXIT_CLASS_TRANSIENT);
        info = exited(-1);
        assert_int_equal(classify(&info, NULL), EXIT_CLASS_TRANSIENT);
}

static void test_end_while_stopping_is_stopped_whatever_it_was(void **state) {
        const ExitInfo ends[] = {
                exited(0),
                exited(1),
                exited(78),
                killed(SIGTERM),
                killed(SIGKILL),
                dumped(SIGSEGV),
                spawn_failed(SPAWN_STAGE_EXEC, ENOENT),
                spawn_failed(SPAWN_STAGE_FORK, EAGAIN),
        };

        for (size_t i = 0; i < ELEMENTSOF(ends); i++) {
                for (unsigned variant = 1; variant < 8; variant++) {
                        ExitInfo info = ends[i];
                        const char *reason = NULL;

                        info.stopping = variant & 1;
                        info.sent_by_us = variant & 2;
                        info.oom_killed = variant & 4;
                        if (!info.stopping && !info.sent_by_us)
                                continue;

                        assert_int_equal(classify(&info, &reason), EXIT_CLASS_STOPPED);
                        assert_string_equal(reason, "stopped by vigild");
                }
        }
}

static void test_signal_sent_by_us_is_stopped(void **state) {
        ExitInfo info = killed(SIGTERM);

        info.sent_by_us = true;
        assert_int_equal(classify(&info, NULL), EXIT_CLASS_STOPPED);

        /* A worker that ignores SIGTERM is killed by our SIGKILL: still our doing. */
        info = killed(SIGKILL);
        info.sent_by_us = true;
        assert_int_equal(classify(&info, NULL), EXIT_CLASS_STOPPED);
}

static void test_unresponsive_kill_is_a_failure_unless_stopping(void **state) {
        const ExitVerdict verdicts[] = { EXIT_VERDICT_START_TIMEOUT, EXIT_VERDICT_WATCHDOG };
        char buf[256];

        for (size_t i = 0; i < ELEMENTSOF(verdicts); i++) {
                /* vigild sent the signal, but because the worker stopped answering. */
                ExitInfo info = killed(SIGKILL);
                const char *reason = NULL;

                info.sent_by_us = true;
                info.verdict = verdicts[i];
                assert_int_equal(classify(&info, &reason), EXIT_CLASS_UNRESPONSIVE);
                assert_non_null(strstr(reason, verdicts[i] == EXIT_VERDICT_WATCHDOG ? "WATCHDOG=1" : "READY=1"));
                assert_non_null(strstr(exit_status_describe(&info, buf, sizeof(buf)),
                                       verdicts[i] == EXIT_VERDICT_WATCHDOG ? "missed watchdog" : "READY=1"));

                /* An operator stop during that kill wins: the end is stopped. */
                info.stopping = true;
                assert_int_equal(classify(&info, NULL), EXIT_CLASS_STOPPED);
        }
}

static void test_oom_kill_is_resource_whatever_the_end(void **state) {
        const ExitInfo ends[] = { killed(SIGKILL), exited(1), exited(0), exited(78), dumped(SIGSEGV) };

        for (size_t i = 0; i < ELEMENTSOF(ends); i++) {
                ExitInfo info = ends[i];
                const char *reason = NULL;

                info.oom_killed = true;
                assert_int_equal(classify(&info, &reason), EXIT_CLASS_RESOURCE);
                assert_string_equal(reason, "out of memory");
        }
}

static void test_exit_zero_is_success(void **state) {
        ExitInfo info = exited(0);

        assert_int_equal(classify(&info, NULL), EXIT_CLASS_SUCCESS);
}

static void test_signal_not_sent_by_us_is_crash(void **state) {
        for (int signo = 1; signo < SIGRTMIN; signo++) {
                ExitInfo info = killed(signo);

                assert_int_equal(classify(&info, NULL), EXIT_CLASS_CRASH);
                info = dumped(signo);
                assert_int_equal(classify(&info, NULL), EXIT_CLASS_CRASH);
        }
}

static void test_spawn_shortages_are_resource_at_any_stage(void **state) {
        const int errors[] = { EAGAIN, ENOMEM, EMFILE, ENFILE };

        for (SpawnStage s = 0; s < _SPAWN_STAGE_MAX; s++)
                for (size_t i = 0; i < ELEMENTSOF(errors); i++) {
                        ExitInfo info = spawn_failed(s, errors[i]);

                        assert_int_equal(classify(&info, NULL), EXIT_CLASS_RESOURCE);
                }
}

static void test_other_spawn_failures_are_permanent(void **state) {
        const int errors[] = { ENOENT, EACCES, ENOEXEC, EPERM, ENOTDIR, ELOOP, EINVAL, E2BIG, EIO, ETXTBSY };

        for (SpawnStage s = 0; s < _SPAWN_STAGE_MAX; s++)
                for (size_t i = 0; i < ELEMENTSOF(errors); i++) {
                        ExitInfo info = spawn_failed(s, errors[i]);
                        const char *reason = NULL;
                        char expected[64];

                        assert_int_equal(classify(&info, &reason), EXIT_CLASS_PERMANENT);
                        (void) snprintf(expected, sizeof(expected), "%s failed", spawn_stage_to_string(s));
                        assert_string_equal(reason, expected);
                }
}

static void test_reason_is_optional(void **state) {
        ExitInfo info = exited(3);

        assert_int_equal(classify(&info, NULL), EXIT_CLASS_TRANSIENT);
}

static void test_crash_signals(void **state) {
        const int crash[] = { SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE, SIGSYS, SIGTRAP, SIGXCPU, SIGXFSZ };
        const int other[] = { 0, SIGHUP, SIGINT, SIGQUIT, SIGKILL, SIGTERM, SIGUSR1, SIGUSR2, SIGPIPE,
                              SIGALRM, SIGCHLD, SIGCONT, SIGSTOP, -1, 1000 };

        for (size_t i = 0; i < ELEMENTSOF(crash); i++)
                assert_true(exit_status_is_crash_signal(crash[i]));
        for (size_t i = 0; i < ELEMENTSOF(other); i++)
                assert_false(exit_status_is_crash_signal(other[i]));
}

static void assert_described(ExitInfo info, const char *expected) {
        char buf[128];

        assert_ptr_equal(exit_status_describe(&info, buf, sizeof(buf)), buf);
        assert_string_equal(buf, expected);
}

static void test_describe_wording(void **state) {
        ExitInfo info;

        assert_described(exited(78), "exited with code 78");
        assert_described(exited(0), "exited with code 0");
        assert_described(dumped(SIGSEGV), "killed by SIGSEGV (core dumped)");
        assert_described(killed(SIGKILL), "killed by SIGKILL");
        assert_described(killed(SIGRTMIN + 2), "killed by SIGRTMIN+2");
        assert_described(killed(1000), "killed by signal 1000");
        assert_described(spawn_failed(SPAWN_STAGE_EXEC, ENOENT), "exec failed: No such file or directory");
        assert_described(spawn_failed(SPAWN_STAGE_CGROUP, EACCES), "cgroup failed: Permission denied");
        assert_described(spawn_failed(SPAWN_STAGE_FORK, EAGAIN),
                         "fork failed: Resource temporarily unavailable");

        info = killed(SIGKILL);
        info.oom_killed = true;
        assert_described(info, "killed by SIGKILL after an OOM kill");

        /* Describing is independent of who wanted the end. */
        info = killed(SIGTERM);
        info.sent_by_us = true;
        assert_described(info, "killed by SIGTERM");
}

static void test_describe_never_overflows(void **state) {
        const ExitInfo infos[] = {
                exited(255),
                dumped(SIGSEGV),
                spawn_failed(SPAWN_STAGE_CGROUP, EACCES),
                spawn_failed(SPAWN_STAGE_EXEC, 123456),
                { .cause = EXIT_CAUSE_DUMPED, .code = SIGABRT, .oom_killed = true },
        };

        for (size_t i = 0; i < ELEMENTSOF(infos); i++) {
                char full[256];

                exit_status_describe(&infos[i], full, sizeof(full));

                for (size_t size = 1; size <= strlen(full) + 1; size++) {
                        char buf[300];

                        memset(buf, 'X', sizeof(buf));
                        exit_status_describe(&infos[i], buf, size);

                        assert_int_equal(strlen(buf), size - 1);
                        assert_memory_equal(buf, full, size - 1);
                        for (size_t k = size; k < sizeof(buf); k++)
                                assert_int_equal(buf[k], 'X');
                }
        }
}

static void test_describe_with_empty_buffer_writes_nothing(void **state) {
        ExitInfo info = exited(1);
        char c = 'X';

        assert_ptr_equal(exit_status_describe(&info, &c, 0), &c);
        assert_int_equal(c, 'X');
}

static void test_string_tables_round_trip(void **state) {
        for (ExitCause c = 0; c < _EXIT_CAUSE_MAX; c++) {
                assert_non_null(exit_cause_to_string(c));
                assert_int_equal(exit_cause_from_string(exit_cause_to_string(c)), c);
        }
        for (ExitClass c = 0; c < _EXIT_CLASS_MAX; c++) {
                assert_non_null(exit_class_to_string(c));
                assert_int_equal(exit_class_from_string(exit_class_to_string(c)), c);
        }
        for (SpawnStage s = 0; s < _SPAWN_STAGE_MAX; s++) {
                assert_non_null(spawn_stage_to_string(s));
                assert_int_equal(spawn_stage_from_string(spawn_stage_to_string(s)), s);
        }

        assert_string_equal(exit_class_to_string(EXIT_CLASS_PERMANENT), "permanent");
        assert_string_equal(spawn_stage_to_string(SPAWN_STAGE_EXEC), "exec");
        assert_null(exit_class_to_string(_EXIT_CLASS_MAX));
        assert_null(exit_cause_to_string(_EXIT_CAUSE_INVALID));
        assert_int_equal(exit_class_from_string("bogus"), _EXIT_CLASS_INVALID);
        assert_int_equal(exit_cause_from_string(NULL), _EXIT_CAUSE_INVALID);
        assert_int_equal(spawn_stage_from_string(""), _SPAWN_STAGE_INVALID);
}

static void test_event_kind_and_category_of_ends(void **state) {
        ExitInfo exited = { .cause = EXIT_CAUSE_EXITED, .code = 78 };
        ExitInfo exited66 = { .cause = EXIT_CAUSE_EXITED, .code = 66 };
        ExitInfo spawn = { .cause = EXIT_CAUSE_SPAWN_FAILED, .spawn_errno = ENOENT, .spawn_stage = SPAWN_STAGE_EXEC };
        ExitInfo killed = { .cause = EXIT_CAUSE_KILLED, .code = SIGSEGV };

        assert_int_equal(exit_event_kind(EXIT_CLASS_STOPPED, &killed), _EVENT_KIND_INVALID);
        assert_int_equal(exit_event_kind(EXIT_CLASS_SUCCESS, &exited), _EVENT_KIND_INVALID);
        assert_int_equal(exit_event_kind(EXIT_CLASS_TRANSIENT, &exited), EVENT_FAILED_EXIT);
        assert_int_equal(exit_event_kind(EXIT_CLASS_CRASH, &killed), EVENT_CRASH);
        assert_int_equal(exit_event_kind(EXIT_CLASS_UNRESPONSIVE, &killed), EVENT_UNRESPONSIVE);
        assert_int_equal(exit_event_kind(EXIT_CLASS_RESOURCE, &spawn), EVENT_RESOURCE_WAIT);
        assert_int_equal(exit_event_kind(EXIT_CLASS_PERMANENT, &exited), EVENT_PERMANENT_EXIT);
        assert_int_equal(exit_event_kind(EXIT_CLASS_PERMANENT, &spawn), EVENT_EXEC_FAILED);

        assert_int_equal(exit_event_category(EXIT_CLASS_PERMANENT, &exited), CATEGORY_VALIDATION);
        assert_int_equal(exit_event_category(EXIT_CLASS_PERMANENT, &exited66), CATEGORY_PERMANENT);
        assert_int_equal(exit_event_category(EXIT_CLASS_PERMANENT, &spawn), CATEGORY_PERMANENT);
        assert_int_equal(exit_event_category(EXIT_CLASS_RESOURCE, &spawn), CATEGORY_RESOURCE);
        assert_int_equal(exit_event_category(EXIT_CLASS_CRASH, &killed), CATEGORY_TRANSIENT);
}

static void test_details_json(void **state) {
        ExitInfo dumped = { .cause = EXIT_CAUSE_DUMPED, .code = SIGABRT, .oom_killed = true };
        ExitInfo spawn = { .cause = EXIT_CAUSE_SPAWN_FAILED, .spawn_errno = EACCES, .spawn_stage = SPAWN_STAGE_CWD };
        ExitInfo watchdog = { .cause = EXIT_CAUSE_KILLED, .code = SIGABRT, .verdict = EXIT_VERDICT_WATCHDOG };
        ExitInfo exited = { .cause = EXIT_CAUSE_EXITED, .code = 3 };
        char buf[256], tiny[12];

        assert_string_equal(exit_status_details_json(&dumped, EXIT_CLASS_CRASH, 42, buf, sizeof buf),
                            "{\"class\":\"crash\",\"pid\":42,\"signal\":\"ABRT\",\"core_dumped\":true,"
                            "\"oom_killed\":true}");
        assert_string_equal(exit_status_details_json(&spawn, EXIT_CLASS_PERMANENT, 0, buf, sizeof buf),
                            "{\"class\":\"permanent\",\"spawn_stage\":\"cwd\",\"errno\":\"EACCES\"}");
        assert_string_equal(exit_status_details_json(&watchdog, EXIT_CLASS_UNRESPONSIVE, 7, buf, sizeof buf),
                            "{\"class\":\"unresponsive\",\"pid\":7,\"signal\":\"ABRT\",\"core_dumped\":false,"
                            "\"verdict\":\"watchdog\"}");
        assert_string_equal(exit_status_details_json(&exited, EXIT_CLASS_TRANSIENT, 9, buf, sizeof buf),
                            "{\"class\":\"transient\",\"pid\":9,\"exit_code\":3}");
        /* Too small: valid JSON all the same. */
        assert_string_equal(exit_status_details_json(&dumped, EXIT_CLASS_CRASH, 42, tiny, sizeof tiny), "{}");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_classification_table),
                cmocka_unit_test(test_every_exit_code_follows_the_default_permanent_list),
                cmocka_unit_test(test_exit_tempfail_is_transient),
                cmocka_unit_test(test_permanent_list_override_is_honoured),
                cmocka_unit_test(test_out_of_range_exit_codes_are_transient),
                cmocka_unit_test(test_end_while_stopping_is_stopped_whatever_it_was),
                cmocka_unit_test(test_signal_sent_by_us_is_stopped),
                cmocka_unit_test(test_unresponsive_kill_is_a_failure_unless_stopping),
                cmocka_unit_test(test_oom_kill_is_resource_whatever_the_end),
                cmocka_unit_test(test_exit_zero_is_success),
                cmocka_unit_test(test_signal_not_sent_by_us_is_crash),
                cmocka_unit_test(test_spawn_shortages_are_resource_at_any_stage),
                cmocka_unit_test(test_other_spawn_failures_are_permanent),
                cmocka_unit_test(test_reason_is_optional),
                cmocka_unit_test(test_crash_signals),
                cmocka_unit_test(test_describe_wording),
                cmocka_unit_test(test_describe_never_overflows),
                cmocka_unit_test(test_describe_with_empty_buffer_writes_nothing),
                cmocka_unit_test(test_string_tables_round_trip),
                cmocka_unit_test(test_event_kind_and_category_of_ends),
                cmocka_unit_test(test_details_json),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
