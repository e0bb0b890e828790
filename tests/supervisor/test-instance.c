/* Unit tests for supervisor/instance.c, the instance state machine, driven through a fake
 * SupervisorContext: an sd-event loop that is never left running (a test makes a timer due
 * and dispatches what is pending, so no test waits for real time), no recorder, callbacks that
 * count, and spawn_worker(), random_u64() and sd_event_add_time() replaced at link time
 * (-Wl,--wrap): a spawn makes no process (its pid is above the kernel's PID_MAX_LIMIT, so a
 * signal to its process group reaches nobody) and an end is handed in as instance_on_exit()
 * gets it from the pidfd. Covered: exit -> backoff -> restart -> breaker open -> half-open
 * trial -> closed, a failed trial, a stop and a stop timeout, a missing READY=1 judged and a
 * judgement suspended by TILT, and a timer that cannot be armed ending FATAL with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "config-parse.h"
#include "crash-loop.h"
#include "instance.h"
#include "log.h"
#include "spawn.h"
#include "test-util.h"

/* Above PID_MAX_LIMIT (2^22): no process can have these pids. */
#define FAKE_PID_BASE 0x10000000

/* ---- what the wrapped functions do ---- */

static unsigned n_spawns;
static int spawn_fail;              /* -errno for the next spawns, 0: succeed */
static uint64_t random_value = 9000000;
static bool add_time_fails;

int __real_sd_event_add_time(sd_event *e, sd_event_source **s, clockid_t clock, uint64_t usec, uint64_t accuracy,
                             sd_event_time_handler_t callback, void *userdata);
int __wrap_sd_event_add_time(sd_event *e, sd_event_source **s, clockid_t clock, uint64_t usec, uint64_t accuracy,
                             sd_event_time_handler_t callback, void *userdata);
int __wrap_spawn_worker(const SpawnParams *p, pid_t *ret_pid, int *ret_pidfd, int *ret_errfd);
uint64_t __wrap_random_u64(void);

int __wrap_sd_event_add_time(sd_event *e, sd_event_source **s, clockid_t clock, uint64_t usec, uint64_t accuracy,
                             sd_event_time_handler_t callback, void *userdata) {
        if (add_time_fails)
                return -ENOMEM;
        return __real_sd_event_add_time(e, s, clock, usec, accuracy, callback, userdata);
}

/* The "pidfd" is an eventfd that never becomes readable (the test reports the end itself); the
 * error pipe is at EOF, as after a successful exec. */
int __wrap_spawn_worker(const SpawnParams *p, pid_t *ret_pid, int *ret_pidfd, int *ret_errfd) {
        int pipefd[2];

        if (spawn_fail < 0)
                return spawn_fail;
        assert_int_equal(pipe2(pipefd, O_CLOEXEC | O_NONBLOCK), 0);
        (void) close(pipefd[1]);
        *ret_pidfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        assert_true(*ret_pidfd >= 0);
        *ret_errfd = pipefd[0];
        *ret_pid = FAKE_PID_BASE + (pid_t) ++n_spawns;
        return 0;
}

uint64_t __wrap_random_u64(void) {
        return random_value;
}

/* ---- the fake context ---- */

typedef struct Fake {
        char dir[64];
        Config *config;
        sd_event *event;
        SupervisorContext ctx;
        CrashLoop *crash_loop;
        Instance *i;
        bool stopping;
        bool tilt;              /* verdicts suspended */
        unsigned n_changes;
        unsigned n_fds;
} Fake;

static bool fake_stopping(void *userdata) {
        return ((Fake *) userdata)->stopping;
}

static void fake_state_changed(void *userdata, Instance *i, InstanceState old) {
        ((Fake *) userdata)->n_changes++;
}

static bool fake_verdict_allowed(void *userdata, usec_t due, usec_t *ret_until, char *why, size_t why_size) {
        Fake *f = userdata;

        *ret_until = now(CLOCK_MONOTONIC) + (f->tilt ? 10 * USEC_PER_SEC : 0);
        if (f->tilt)
                (void) snprintf(why, why_size, "TILT");
        return !f->tilt;
}

static void fake_retry(void *userdata) {
        instance_breaker_retry(((Fake *) userdata)->i);
}

/* A worker "w" with one instance, from a config file like an operator's: its breaker opens at
 * the third failure within a minute, for 10 s. */
static Fake *fake_new(const char *worker_settings) {
        Fake *f = calloc(1, sizeof(Fake));
        char *path = NULL, *error = NULL;
        FILE *file;

        assert_non_null(f);
        f->n_fds = count_fds();
        (void) snprintf(f->dir, sizeof f->dir, "/tmp/vigil-test-instance-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        assert_true(asprintf(&path, "%s/vigil.conf", f->dir) > 0);
        file = fopen(path, "we");
        assert_non_null(file);
        fprintf(file,
                "workers = ( { name = \"w\"; command = [ \"/bin/true\" ]; cgroups = \"off\";\n"
                "  stdout = \"null\"; stderr = \"null\"; start_secs = \"0\"; restart = \"always\";\n"
                "  stop_timeout = \"20s\";\n"
                "  backoff = { initial = \"10s\"; max = \"1m\"; factor = 2.0; reset_after = \"1h\";\n"
                "    immediate_first = false; };\n"
                "  breaker = { failures = 3; window = \"1m\"; open_for = \"10s\"; trial_ok = \"5s\"; };\n"
                "  %s } );\n",
                worker_settings);
        assert_int_equal(fclose(file), 0);
        assert_int_equal(chmod(path, 0600), 0);
        if (config_parse_file(path, NULL, &f->config, &error) < 0) {
                print_error("config: %s\n", strna(error));
                fail();
        }
        free(path);

        assert_int_equal(sd_event_new(&f->event), 0);
        f->ctx = (SupervisorContext) {
                .event = f->event,
                .by_pid = hashmap_new(&hash_ops_direct),
                .by_cgroup = hashmap_new(&hash_ops_string),
                .stopping = fake_stopping,
                .state_changed = fake_state_changed,
                .verdict_allowed = fake_verdict_allowed,
                .userdata = f,
        };
        assert_int_equal(crash_loop_new(&f->ctx, "w", &f->config->workers[0].breaker, fake_retry, f, &f->crash_loop),
                         0);
        assert_int_equal(instance_new(&f->ctx, &f->config->workers[0], f->crash_loop, 0, &f->i), 0);
        n_spawns = 0;
        spawn_fail = 0;
        add_time_fails = false;
        random_value = 9000000;
        return f;
}

static void fake_free(Fake *f) {
        char *cmd = NULL;

        assert_false(f->i->main_alive);
        instance_free(f->i);
        crash_loop_free(f->crash_loop);
        hashmap_free(f->ctx.by_pid);
        hashmap_free(f->ctx.by_cgroup);
        sd_event_unref(f->event);
        config_free(f->config);
        assert_true(asprintf(&cmd, "rm -rf '%s'", f->dir) > 0);
        assert_int_equal(system(cmd), 0);
        free(cmd);
        assert_int_equal(count_fds(), f->n_fds);
        free(f);
}

/* Dispatches everything that is pending now, without waiting. */
static void drain(Fake *f) {
        for (unsigned n = 0; sd_event_run(f->event, 0) > 0; n++)
                assert_true(n < 1000);
}

/* Makes an armed timer due and dispatches it (and whatever else is pending). */
static void fire(Fake *f, sd_event_source *s) {
        int enabled = SD_EVENT_OFF;

        assert_non_null(s);
        assert_int_equal(sd_event_source_get_enabled(s, &enabled), 1);
        assert_int_equal(enabled, SD_EVENT_ONESHOT);
        assert_int_equal(sd_event_source_set_time(s, 1), 0);
        drain(f);
}

/* Asserts that the instance's state timer is armed `delay` after some moment between
 * `before` and now (the moment the instance armed it), however slowly the test runs. */
static void assert_timer_in(const Fake *f, usec_t before, usec_t delay) {
        uint64_t when;

        assert_int_equal(sd_event_source_get_time(f->i->timer, &when), 0);
        assert_true(when >= before + delay);
        assert_true(when <= now(CLOCK_MONOTONIC) + delay);
}

static void end(Fake *f, int code, int status) {
        pid_t pid = f->i->pid;
        siginfo_t si = {};

        assert_true(f->i->main_alive);
        assert_ptr_equal(hashmap_get(f->ctx.by_pid, INT_TO_PTR(pid)), f->i);
        /* si_pid and si_status share a union: set one by one, not by designated initializers. */
        si.si_code = code;
        si.si_pid = pid;
        si.si_status = status;
        instance_on_exit(f->i, &si);
        assert_null(hashmap_get(f->ctx.by_pid, INT_TO_PTR(pid)));
        drain(f);
}

static void crash(Fake *f) {
        end(f, CLD_KILLED, SIGSEGV);
}

/* Starts the instance and crashes it three times, each restart after its backoff: the third
 * failure within the window opens the breaker. */
static void crash_loop(Fake *f) {
        instance_start(f->i);
        for (unsigned k = 0; k < 2; k++) {
                crash(f);
                fire(f, f->i->timer);
        }
        crash(f);
        assert_int_equal(crash_loop_state(f->crash_loop), BREAKER_OPEN);
        assert_int_equal(n_spawns, 3);
}

/* open_for passes: the breaker's opening is moved back by it (a clock of the test's own). */
static void half_open(Fake *f) {
        CrashLoop *l = f->crash_loop;

        assert_int_equal(l->breaker.state, BREAKER_OPEN);
        l->breaker.opened_at = usec_sub_unsigned(l->breaker.opened_at, l->config->open_for);
        fire(f, l->timer);
        assert_int_equal(l->breaker.state, BREAKER_HALF_OPEN);
}

static void test_crash_loop_opens_the_breaker_and_a_trial_closes_it(void **state) {
        Fake *f = fake_new("");

        instance_start(f->i);
        assert_int_equal(f->i->state, INSTANCE_RUNNING);
        assert_int_equal(n_spawns, 1);
        assert_ptr_equal(hashmap_get(f->ctx.by_pid, INT_TO_PTR(f->i->pid)), f->i);

        /* Two crashes: each waits its jittered backoff (the draw of 9 s, within the caps of 10 s
         * and 20 s: far enough ahead that no timer comes due while the test runs, even under
         * valgrind), then starts again. */
        for (unsigned k = 1; k <= 2; k++) {
                usec_t before = now(CLOCK_MONOTONIC);

                crash(f);
                assert_int_equal(f->i->state, INSTANCE_BACKOFF);
                assert_int_equal(f->i->restarts, k);
                assert_timer_in(f, before, 9 * USEC_PER_SEC);
                assert_int_equal(n_spawns, k);
                fire(f, f->i->timer);
                assert_int_equal(f->i->state, INSTANCE_RUNNING);
                assert_int_equal(n_spawns, k + 1);
                assert_int_equal(crash_loop_state(f->crash_loop), BREAKER_CLOSED);
        }

        /* The third within the window opens the breaker: held, not restarted. */
        crash(f);
        assert_int_equal(crash_loop_state(f->crash_loop), BREAKER_OPEN);
        assert_int_equal(f->i->state, INSTANCE_FATAL);
        assert_int_equal(f->i->fatal_reason, FATAL_BREAKER);
        assert_int_equal(n_spawns, 3);

        /* Half-open after open_for: the held instance starts as the trial... */
        half_open(f);
        assert_int_equal(f->i->state, INSTANCE_RUNNING);
        assert_true(f->i->breaker_trial);
        assert_int_equal(n_spawns, 4);

        /* ...and the trial staying up trial_ok closes it. */
        fire(f, f->i->trial_timer);
        assert_int_equal(crash_loop_state(f->crash_loop), BREAKER_CLOSED);
        assert_false(f->i->breaker_trial);
        assert_int_equal(f->i->state, INSTANCE_RUNNING);

        instance_stop(f->i);
        end(f, CLD_KILLED, SIGTERM);
        assert_int_equal(f->i->state, INSTANCE_STOPPED);
        fake_free(f);
}

static void test_breaker_open_holds_the_instance_until_half_open(void **state) {
        Fake *f = fake_new("");

        crash_loop(f);
        assert_int_equal(crash_loop_state(f->crash_loop), BREAKER_OPEN);
        assert_int_equal(f->i->state, INSTANCE_FATAL);
        assert_int_equal(f->i->fatal_reason, FATAL_BREAKER);
        assert_int_equal(n_spawns, 3);
        assert_false(f->i->main_alive);

        /* An operator's stop takes it out of FATAL; nothing starts while the breaker is open. */
        instance_stop(f->i);
        assert_int_equal(f->i->state, INSTANCE_STOPPED);
        instance_start(f->i);
        assert_int_equal(f->i->state, INSTANCE_FATAL);
        assert_int_equal(n_spawns, 3);
        fake_free(f);
}

static void test_failed_trial_reopens_the_breaker(void **state) {
        Fake *f = fake_new("");

        crash_loop(f);
        half_open(f);
        assert_true(f->i->breaker_trial);
        assert_int_equal(n_spawns, 4);

        /* Even a clean exit fails a trial: it had to stay up. The breaker opens again and holds
         * the instance until its next half-open. */
        end(f, CLD_EXITED, 0);
        assert_int_equal(crash_loop_state(f->crash_loop), BREAKER_OPEN);
        assert_int_equal(f->i->state, INSTANCE_FATAL);
        assert_false(f->i->breaker_trial);
        half_open(f);
        assert_true(f->i->breaker_trial);
        assert_int_equal(n_spawns, 5);

        instance_stop(f->i);
        end(f, CLD_KILLED, SIGTERM);
        assert_int_equal(f->i->state, INSTANCE_STOPPED);
        /* A trial stopped on request proved nothing: the breaker still waits for one. */
        assert_int_equal(crash_loop_state(f->crash_loop), BREAKER_HALF_OPEN);
        assert_false(f->crash_loop->breaker.trial_running);
        fake_free(f);
}

static void test_stop_and_stop_timeout(void **state) {
        Fake *f = fake_new("");
        unsigned changes;
        usec_t before;

        instance_start(f->i);
        before = now(CLOCK_MONOTONIC);
        instance_stop(f->i);
        assert_int_equal(f->i->state, INSTANCE_STOPPING);
        assert_false(f->i->want_up);
        assert_timer_in(f, before, 20 * USEC_PER_SEC);

        /* The stop timeout: SIGKILL, and the wait goes on. */
        changes = f->n_changes;
        fire(f, f->i->timer);
        assert_int_equal(f->i->state, INSTANCE_STOPPING);
        assert_int_equal(f->i->kill_rounds, 1);
        assert_int_equal(f->n_changes, changes);

        end(f, CLD_KILLED, SIGKILL);
        assert_int_equal(f->i->state, INSTANCE_STOPPED);
        assert_int_equal(f->i->last_class, EXIT_CLASS_STOPPED);
        assert_int_equal(crash_loop_state(f->crash_loop), BREAKER_CLOSED);
        assert_int_equal(n_spawns, 1);
        fake_free(f);
}

static void test_missing_ready_is_unresponsive_unless_tilt(void **state) {
        Fake *f = fake_new("notify = true; start_timeout = \"30s\";");
        usec_t before;

        instance_start(f->i);
        assert_int_equal(f->i->state, INSTANCE_STARTING);

        /* While the TILT guard distrusts the clock (for 10 s here), the verdict waits for the end
         * of that and a full interval more. */
        f->tilt = true;
        before = now(CLOCK_MONOTONIC);
        fire(f, f->i->timer);
        assert_int_equal(f->i->state, INSTANCE_STARTING);
        assert_timer_in(f, before, 10 * USEC_PER_SEC + 30 * USEC_PER_SEC);

        f->tilt = false;
        fire(f, f->i->timer);
        assert_int_equal(f->i->state, INSTANCE_STOPPING);
        assert_int_equal(f->i->verdict, EXIT_VERDICT_START_TIMEOUT);
        assert_true(f->i->want_up);

        /* Its end counts as an unresponsive failure and it is restarted. */
        end(f, CLD_KILLED, SIGTERM);
        assert_int_equal(f->i->last_class, EXIT_CLASS_UNRESPONSIVE);
        assert_int_equal(f->i->state, INSTANCE_BACKOFF);
        fire(f, f->i->timer);
        assert_int_equal(f->i->state, INSTANCE_STARTING);
        assert_int_equal(n_spawns, 2);

        /* READY=1 makes it running. */
        instance_on_notify(f->i, &(const NotifyMessage) { .ready = true });
        assert_int_equal(f->i->state, INSTANCE_RUNNING);

        f->stopping = true;
        instance_stop(f->i);
        end(f, CLD_KILLED, SIGTERM);
        assert_int_equal(f->i->state, INSTANCE_STOPPED);
        fake_free(f);
}

/* What a worker reports for its probes: the counter's time moves only when it changes, a
 * heartbeat is a WATCHDOG=1 and nothing else, and a restarted process starts with no reports. */
static void test_notify_reports_are_kept_and_reset_at_restart(void **state) {
        Fake *f = fake_new("notify = true; start_timeout = \"30s\";");
        const ProbeReports *p = &f->i->reports;
        usec_t before, first;

        instance_start(f->i);
        before = now(CLOCK_MONOTONIC);
        instance_on_notify(f->i, &(const NotifyMessage) { .ready = true, .has_progress = true, .progress = 5 });
        assert_int_equal(f->i->state, INSTANCE_RUNNING);
        assert_true(p->has_progress);
        assert_int_equal(p->progress, 5);
        assert_true(p->progress_at >= before);
        assert_int_equal(p->heartbeat_at, 0);   /* READY=1 is not a heartbeat */
        first = p->progress_at;

        /* The same value again: not a change. STATUS= is no heartbeat either. */
        instance_on_notify(f->i, &(const NotifyMessage) { .has_progress = true, .progress = 5, .has_status = true });
        assert_int_equal(p->progress_at, first);
        assert_int_equal(p->heartbeat_at, 0);

        before = now(CLOCK_MONOTONIC);
        instance_on_notify(f->i, &(const NotifyMessage) { .watchdog = true, .has_queue = true, .queue = 17 });
        assert_true(p->heartbeat_at >= before);
        assert_true(p->has_queue);
        assert_int_equal(p->queue, 17);
        assert_true(p->queue_at >= before);
        assert_int_equal(p->progress_at, first);

        instance_on_notify(f->i, &(const NotifyMessage) { .has_progress = true, .progress = 6 });
        assert_int_equal(p->progress, 6);
        assert_true(p->progress_at >= before);

        /* A crash and a restart: the new process has reported nothing yet. */
        crash(f);
        assert_int_equal(f->i->state, INSTANCE_BACKOFF);
        /* A late message from the dead process is not kept either. */
        instance_on_notify(f->i, &(const NotifyMessage) { .has_queue = true, .queue = 99 });
        assert_int_equal(p->queue, 17);
        fire(f, f->i->timer);
        assert_int_equal(f->i->state, INSTANCE_STARTING);
        assert_false(p->has_progress || p->has_queue);
        assert_int_equal(p->heartbeat_at, 0);

        f->stopping = true;
        instance_stop(f->i);
        end(f, CLD_KILLED, SIGTERM);
        fake_free(f);
}

static void test_timer_that_cannot_be_armed_ends_fatal_with_a_reason(void **state) {
        Fake *f = fake_new("");

        instance_start(f->i);
        assert_int_equal(f->i->state, INSTANCE_RUNNING);
        assert_null(f->i->timer);    /* start_secs = 0: no state timer was ever needed */

        /* The restart timer cannot be made: no silent loss, FATAL for lack of resources. */
        add_time_fails = true;
        crash(f);
        assert_int_equal(f->i->state, INSTANCE_FATAL);
        assert_int_equal(f->i->fatal_reason, FATAL_RESOURCES);
        assert_int_equal(n_spawns, 1);

        /* An operator's start tries again once the loop can arm timers. */
        add_time_fails = false;
        instance_start(f->i);
        assert_int_equal(f->i->state, INSTANCE_RUNNING);
        assert_int_equal(n_spawns, 2);

        instance_stop(f->i);
        end(f, CLD_KILLED, SIGTERM);
        fake_free(f);
}

static void test_spawn_failure_for_lack_of_resources_waits_and_retries(void **state) {
        Fake *f = fake_new("resource_retry = \"20s\";");

        usec_t before = now(CLOCK_MONOTONIC);

        spawn_fail = -EAGAIN;
        instance_start(f->i);
        assert_int_equal(f->i->state, INSTANCE_BACKOFF);
        assert_int_equal(f->i->last_class, EXIT_CLASS_RESOURCE);
        assert_int_equal(f->i->restarts, 0);
        /* resource_retry scaled by [0.5, 1.5): 10 s for a draw as small as 9e6 / 2^64. */
        assert_timer_in(f, before, 10 * USEC_PER_SEC);
        assert_int_equal(crash_loop_state(f->crash_loop), BREAKER_CLOSED);

        spawn_fail = 0;
        fire(f, f->i->timer);
        assert_int_equal(f->i->state, INSTANCE_RUNNING);
        assert_int_equal(n_spawns, 1);

        instance_stop(f->i);
        end(f, CLD_KILLED, SIGTERM);
        fake_free(f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_crash_loop_opens_the_breaker_and_a_trial_closes_it),
                cmocka_unit_test(test_breaker_open_holds_the_instance_until_half_open),
                cmocka_unit_test(test_failed_trial_reopens_the_breaker),
                cmocka_unit_test(test_stop_and_stop_timeout),
                cmocka_unit_test(test_missing_ready_is_unresponsive_unless_tilt),
                cmocka_unit_test(test_notify_reports_are_kept_and_reset_at_restart),
                cmocka_unit_test(test_timer_that_cannot_be_armed_ends_fatal_with_a_reason),
                cmocka_unit_test(test_spawn_failure_for_lack_of_resources_waits_and_retries),
        };

        log_setup(LOG_TARGET_STDERR, LOG_INFO);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
