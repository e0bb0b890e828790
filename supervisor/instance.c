/* The instance state machine (DESIGN.md "Worker lifecycle"): instance_enter_<state>() verbs,
 * one dispatcher per event source (timer, pidfd, cgroup-empty, error pipe, notify message)
 * switching on the current state, and instance_set_state() as the only writer of ->state.
 * It owns the instance's process handles (pidfd, error pipe) and event sources, and keeps the
 * context's pid and cgroup indexes true for its instance. What an end means and what follows
 * it come from the pure exit-status and restart-policy modules; this file only applies them.
 * Every timer or watch it cannot arm leads to a state with the reason logged, never to a
 * silent loss. It never blocks: every wait is an event source. */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/inotify.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <systemd/sd-journal.h>

#include "cgroup.h"
#include "hooks.h"
#include "instance-internal.h"
#include "instance-record.h"
#include "output.h"
#include "parse-util.h"
#include "random-util.h"
#include "restart-policy.h"
#include "spawn.h"

/* A worker killed by SIGTERM/SIGINT/SIGHUP that vigild did not send may be part of a host-wide
 * stop (systemd signalling the whole service, an init shutdown), whose SIGTERM to vigild itself
 * can arrive a moment after the worker's death. Such an end is judged only after this grace, so
 * that a stop request sent at the same moment makes it "stopped": no failure, no restart. */
#define EXTERNAL_STOP_GRACE_USEC (100 * USEC_PER_MSEC)

/* Notify messages accepted per instance: a burst, then a steady rate. A worker pinging its
 * watchdog a few times a second stays far below; a runaway sender is cut off. */
#define NOTIFY_BURST 200U
#define NOTIFY_RATE 100U

static void instance_enter_starting(Instance *i);
static void instance_enter_fatal(Instance *i, FatalReason reason, const char *why);
static void instance_judge_end(Instance *i);
static void instance_conclude(Instance *i);

static bool vigild_stopping(const Instance *i) {
        return i->ctx->stopping(i->ctx->userdata);
}

/* The one answer to "is an end of this instance wanted?": it is, unless config or an operator
 * still wants it up and vigild is not stopping. */
static bool instance_wanted(const Instance *i) {
        return i->want_up && !vigild_stopping(i);
}

int instance_new(const SupervisorContext *ctx, const WorkerConfig *config, CrashLoop *crash_loop, unsigned index,
                 Instance **ret) {
        _cleanup_free_ Instance *i = NULL;

        assert(ctx);
        assert(config);
        assert(crash_loop);
        assert(ret);

        i = calloc(1, sizeof(Instance));
        if (!i)
                return -ENOMEM;

        *i = (Instance) {
                .ctx = ctx,
                .config = config,
                .crash_loop = crash_loop,
                .index = index,
                .failure_key = { .worker = config->name, .instance = (int) index, .cause = CAUSE_FAILURE },
                .resource_key = { .worker = config->name, .instance = (int) index, .cause = CAUSE_RESOURCE },
                .state = INSTANCE_STOPPED,
                .pidfd = -EBADF,
                .errfd = -EBADF,
                .notify_limit = RATELIMIT_INIT(NOTIFY_BURST, NOTIFY_RATE),
        };
        if (asprintf(&i->name, "%s:%u", config->name, index) < 0)
                return -ENOMEM;
        if (instance_probes_new(i) < 0) {
                instance_probes_free(i);
                free(i->name);
                return -ENOMEM;
        }

        *ret = TAKE_PTR(i);
        return 0;
}

Instance *instance_free(Instance *i) {
        if (!i)
                return NULL;

        assert(!i->main_alive);
        instance_probes_free(i);
        sd_event_source_disable_unref(i->timer);
        sd_event_source_disable_unref(i->stable_timer);
        sd_event_source_disable_unref(i->trial_timer);
        sd_event_source_disable_unref(i->cgroup_watch);
        sd_event_source_disable_unref(i->errfd_source);
        sd_event_source_disable_unref(i->watchdog_timer);
        sd_event_source_disable_unref(i->pidfd_source);
        output_pipe_free(i->output);
        safe_close(i->pidfd);
        safe_close(i->errfd);
        if (i->cgroup_path)
                (void) cgroup_remove(i->cgroup_path);
        instance_process_set_cgroup(i, NULL);
        free(i->name);
        return mfree(i);
}

bool instance_has_processes(const Instance *i) {
        /* STOPPING and EXITED without a main process still wait for the rest of the cgroup. */
        return i->main_alive || IN_SET(i->state, INSTANCE_STOPPING, INSTANCE_EXITED);
}

/* ---------------------------------------------------------------------------------------- *
 * Timers and watches                                                                        */

static int on_state_timer(sd_event_source *s, uint64_t usec, void *userdata);
static int on_stable_timer(sd_event_source *s, uint64_t usec, void *userdata);
static int on_watchdog_timer(sd_event_source *s, uint64_t usec, void *userdata);
static int on_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata);
static int on_trial_timer(sd_event_source *s, uint64_t usec, void *userdata);
static int on_cgroup_event(sd_event_source *s, const struct inotify_event *ev, void *userdata);

int instance_arm_timer(Instance *i, sd_event_source **s, usec_t when, usec_t accuracy,
                       sd_event_time_handler_t handler) {
        int r;

        if (!*s)
                return sd_event_add_time(i->ctx->event, s, CLOCK_MONOTONIC, when, accuracy, handler, i);
        r = sd_event_source_set_time(*s, when);
        if (r >= 0)
                r = sd_event_source_set_time_accuracy(*s, accuracy);
        if (r >= 0)
                r = sd_event_source_set_enabled(*s, SD_EVENT_ONESHOT);
        return r;
}

static void disarm(sd_event_source *s) {
        if (s)
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
}

/* Without the watch, the stop timer still finds an emptied cgroup (see
 * instance_stop_timeout()), only later. */
static void watch_cgroup(Instance *i) {
        instance_process_watch_cgroup(i, on_cgroup_event);
}

/* ---------------------------------------------------------------------------------------- *
 * The one state writer                                                                      */

static bool state_has_timer(InstanceState s) {
        return IN_SET(s, INSTANCE_STARTING, INSTANCE_STOPPING, INSTANCE_EXITED, INSTANCE_BACKOFF);
}

static int state_log_level(InstanceState s, const Instance *i) {
        switch (s) {
        case INSTANCE_FATAL:
                return LOG_CRIT;
        case INSTANCE_BACKOFF:
                return IN_SET(i->last_class, EXIT_CLASS_CRASH, EXIT_CLASS_UNRESPONSIVE) ? LOG_WARNING : LOG_NOTICE;
        default:
                return LOG_INFO;
        }
}

_printf_(3, 4)
static void instance_set_state(Instance *i, InstanceState state, const char *reason_format, ...) {
        InstanceState old = i->state;
        char reason[256] = "";

        /* Each timer and watch belongs to the states it was armed for; leaving them cancels it. */
        if (old != state || !state_has_timer(state))
                disarm(i->timer);
        if (!IN_SET(state, INSTANCE_STARTING, INSTANCE_RUNNING))
                disarm(i->stable_timer);
        if (state != INSTANCE_RUNNING) {
                disarm(i->trial_timer);
                disarm(i->watchdog_timer);
        }
        if (!IN_SET(state, INSTANCE_STOPPING, INSTANCE_EXITED)) {
                instance_process_unwatch_cgroup(i);
                i->kill_rounds = 0;
        }

        i->state = state;

        if (reason_format) {
                va_list ap;

                va_start(ap, reason_format);
                (void) vsnprintf(reason, sizeof(reason), reason_format, ap);
                va_end(ap);
        }
        log_instance_full(i, state_log_level(state, i), LOG_MID_INSTANCE_STATE, instance_state_to_string(old),
                          instance_state_to_string(state), "%s -> %s%s%s%s", instance_state_to_string(old),
                          instance_state_to_string(state), reason[0] ? " (" : "", reason, reason[0] ? ")" : "");
        instance_probes_follow_state(i, old);

        i->ctx->state_changed(i->ctx->userdata, i, old);
}

/* ---------------------------------------------------------------------------------------- *
 * State verbs                                                                               */

static void instance_enter_stopped(Instance *i) {
        if (i->cgroup_path) {
                int r = cgroup_remove(i->cgroup_path);
                if (r < 0 && r != -ENOENT)
                        log_debug_errno(r, "%s: cannot remove %s: %m", i->name, i->cgroup_path);
                instance_process_set_cgroup(i, NULL);
        }
        i->restarts = 0;
        i->resource_waits = 0;
        i->resource_escalated = false;
        i->fatal_reason = FATAL_NONE;
        i->fatal_pending = FATAL_NONE;
        instance_set_state(i, INSTANCE_STOPPED, NULL);
}

static void instance_enter_fatal(Instance *i, FatalReason reason, const char *why) {
        i->fatal_reason = reason;
        i->fatal_pending = FATAL_NONE;
        if (reason == FATAL_BREAKER)
                instance_set_state(i, INSTANCE_FATAL, "%s; retried when the breaker half-opens", why);
        else if (IN_SET(reason, FATAL_PERMANENT, FATAL_RESOURCES))
                instance_set_state(i, INSTANCE_FATAL, "%s; not restarted until an operator acts", why);
        else
                instance_set_state(i, INSTANCE_FATAL, "%s", why);
}

/* vigild cannot go on with this instance: a timer it needs could not be armed (the loop is
 * out of memory). Its processes are killed for certain and it ends FATAL with the reason, as
 * systemd's services end in "failed (resources)": a start by an operator tries again. */
void instance_enter_fatal_resources(Instance *i, int error, const char *what) {
        char why[192];

        (void) snprintf(why, sizeof(why), "cannot arm the %s timer: %s", what, strerror(-error));
        log_instance(i, LOG_CRIT, "%s", why);
        if (!instance_has_processes(i)) {
                instance_enter_fatal(i, FATAL_RESOURCES, why);
                return;
        }
        i->fatal_pending = FATAL_RESOURCES;
        i->signalled_by_us = true;
        instance_process_signal(i, SIGKILL);
        watch_cgroup(i);
        instance_set_state(i, INSTANCE_STOPPING, "%s; killed", why);
}

void instance_enter_running(Instance *i) {
        int r = 0;

        i->running_at = now(CLOCK_MONOTONIC);
        instance_set_state(i, INSTANCE_RUNNING, i->config->notify ? "READY=1" : NULL);
        if (i->watchdog_usec > 0)
                r = instance_arm_watchdog(i, i->running_at);
        if (r >= 0 && i->breaker_trial)
                r = instance_arm_timer(i, &i->trial_timer, usec_add(i->running_at, i->config->breaker.trial_ok),
                              ACCURACY_TIMEOUT_USEC, on_trial_timer);
        if (r < 0)
                instance_enter_fatal_resources(i, r, i->watchdog_usec > 0 ? "watchdog" : "trial");
}

/* Ends the processes: the stop signal now, SIGKILL after stop_timeout. With a verdict the
 * instance is still wanted: it was found unresponsive and its end will count as a failure. */
void instance_enter_stopping(Instance *i, ExitVerdict verdict) {
        const WorkerConfig *c = i->config;
        int r;

        i->verdict = verdict;
        i->signalled_by_us = true;
        instance_process_signal(i, c->stop_signal);
        if (c->stop_signal != SIGKILL && c->stop_signal != SIGCONT)
                instance_process_signal(i, SIGCONT); /* a stopped process would never see the stop signal */
        watch_cgroup(i);
        instance_set_state(i, INSTANCE_STOPPING, "sent SIG%s%s", sigabbrev_np(c->stop_signal) ?: "?",
                           verdict == EXIT_VERDICT_NONE ? "" : ", unresponsive");
        r = instance_arm_timer(i, &i->timer, usec_add(now(CLOCK_MONOTONIC), c->stop_timeout), ACCURACY_TIMEOUT_USEC,
                      on_state_timer);
        if (r < 0) {
                /* No timeout can bound this stop: make it the kill it would have become. */
                log_instance(i, LOG_ERR, "cannot arm the stop timer: %s; killing now", strerror(-r));
                instance_process_signal(i, SIGKILL);
        }
}

int instance_arm_watchdog(Instance *i, usec_t from) {
        return instance_arm_timer(i, &i->watchdog_timer, usec_add(from, i->watchdog_usec), ACCURACY_TIMEOUT_USEC,
                                  on_watchdog_timer);
}

/* A verdict timer (start_timeout, watchdog) due at `due` expired: unresponsive, unless the TILT
 * guard distrusts the observation; then the timer gets a full interval again after it. */
static void instance_judge_timeout(Instance *i, ExitVerdict verdict, usec_t due, sd_event_source **timer,
                                   usec_t interval, sd_event_time_handler_t handler) {
        const char *what = verdict == EXIT_VERDICT_WATCHDOG ? "watchdog" : "start timeout";
        char d[FORMAT_DURATION_MAX], why[256] = "", msg[512];
        usec_t until;
        int r;

        if (!i->ctx->verdict_allowed(i->ctx->userdata, due, &until, why, sizeof why)) {
                (void) snprintf(msg, sizeof msg, "%s verdict deferred (%s), checking again in %s", what, why,
                                format_duration_approx(d, sizeof(d), until - now(CLOCK_MONOTONIC) + interval,
                                                       USEC_PER_MSEC));
                log_instance_full(i, LOG_WARNING, LOG_MID_VERDICT_DEFERRED, NULL, NULL, "%s", msg);
                instance_record_deferred(i, msg);
                r = instance_arm_timer(i, timer, usec_add(until, interval), ACCURACY_TIMEOUT_USEC, handler);
                if (r < 0)
                        instance_enter_fatal_resources(i, r, what);
                return;
        }
        log_instance_full(i, LOG_ERR, LOG_MID_UNRESPONSIVE, NULL, NULL, "unresponsive: %s within %s, stopping it",
                          verdict == EXIT_VERDICT_WATCHDOG ? "no WATCHDOG=1" : "no READY=1",
                          format_duration_approx(d, sizeof(d), interval, USEC_PER_MSEC));
        instance_enter_stopping(i, verdict);
}

static void instance_enter_backoff(Instance *i, usec_t delay, const char *reason) {
        int r;

        instance_set_state(i, INSTANCE_BACKOFF, "%s", reason);
        if (delay == 0) {
                instance_enter_starting(i);
                return;
        }
        r = instance_arm_timer(i, &i->timer, usec_add(now(CLOCK_MONOTONIC), delay), ACCURACY_RESTART_USEC, on_state_timer);
        if (r < 0)
                instance_enter_fatal_resources(i, r, "restart");
}

static void instance_enter_resource_wait(Instance *i) {
        const WorkerConfig *c = i->config;
        char d[FORMAT_DURATION_MAX], reason[128];
        usec_t t = now(CLOCK_MONOTONIC), delay;

        if (i->resource_waits++ == 0)
                i->resource_wait_since = t;
        if (!i->resource_escalated && t - i->resource_wait_since >= c->resource_timeout) {
                i->resource_escalated = true;
                log_instance(i, LOG_CRIT, "resources short for %s, still retrying every %s",
                             format_duration(d, sizeof(d), t - i->resource_wait_since),
                             format_duration((char[FORMAT_DURATION_MAX]) {}, FORMAT_DURATION_MAX,
                                             c->resource_retry));
        }
        delay = restart_policy_resource_delay(c, random_u64());
        (void) snprintf(reason, sizeof(reason), "resource wait %u in %s", i->resource_waits,
                        format_duration_approx(d, sizeof(d), delay, USEC_PER_MSEC));
        instance_enter_backoff(i, delay, reason);
}

static void instance_enter_restart(Instance *i) {
        const BackoffConfig *b = &i->config->backoff;
        char d[FORMAT_DURATION_MAX], cap[FORMAT_DURATION_MAX], reason[160];
        usec_t delay;

        i->restarts++;
        i->resource_waits = 0;
        i->resource_escalated = false;
        instance_record_state(i);
        delay = restart_policy_next_delay(i->restarts, b, random_u64());
        (void) snprintf(reason, sizeof(reason), "restart %u in %s (cap %s)", i->restarts,
                        format_duration_approx(d, sizeof(d), delay, USEC_PER_MSEC),
                        format_duration_approx(cap, sizeof(cap), restart_policy_delay_cap(i->restarts, b),
                                               USEC_PER_MSEC));
        instance_enter_backoff(i, delay, reason);
}

static void instance_handle_end(Instance *i, const ExitInfo *info);

static void instance_enter_starting(Instance *i) {
        const WorkerConfig *c = i->config;
        bool trial = false;
        int r;

        if (!instance_wanted(i)) {
                instance_enter_stopped(i);
                return;
        }
        if (!crash_loop_admit(i->crash_loop, &trial)) {
                instance_enter_fatal(i, FATAL_BREAKER, "breaker open");
                return;
        }
        i->breaker_trial = trial;
        if (instance_process_prepare_cgroup(i) > 0) {
                i->last_class = EXIT_CLASS_STOPPED;
                i->signalled_by_us = true;
                watch_cgroup(i);
                instance_set_state(i, INSTANCE_EXITED, "killing what is left in %s before starting", i->cgroup_path);
                r = instance_arm_timer(i, &i->timer, usec_add(now(CLOCK_MONOTONIC), c->stop_timeout), ACCURACY_TIMEOUT_USEC,
                              on_state_timer);
                if (r < 0)
                        instance_enter_fatal_resources(i, r, "stop");
                return;
        }

        i->watchdog_usec = c->watchdog;
        i->started_at = now(CLOCK_MONOTONIC);
        i->signalled_by_us = false;
        i->spawn_errno = 0;
        i->verdict = EXIT_VERDICT_NONE;
        i->worker_errno = 0;
        i->status_text[0] = 0;
        /* A new process reports afresh: the last one's counter and heartbeats are not its own. */
        i->reports = (ProbeReports) {};
        r = instance_process_spawn(i, on_pidfd);
        if (r < 0) {
                instance_handle_end(i, &(const ExitInfo) {
                        .cause = EXIT_CAUSE_SPAWN_FAILED,
                        .spawn_errno = -r,
                        .spawn_stage = SPAWN_STAGE_FORK,
                });
                return;
        }

        instance_set_state(i, INSTANCE_STARTING, "pid %d%s", (int) i->pid, trial ? ", breaker trial" : "");
        instance_record_restart(i, trial);
        r = instance_arm_timer(i, &i->stable_timer, usec_add(i->started_at, c->backoff.reset_after), ACCURACY_STABLE_USEC,
                      on_stable_timer);
        if (r < 0) {
                instance_enter_fatal_resources(i, r, "stability");
                return;
        }
        if (!c->notify && c->start_secs == 0) {
                instance_enter_running(i);
                return;
        }
        /* With notify, running begins at READY=1, and without it by start_timeout the start
         * failed; without notify, running begins after start_secs. */
        r = instance_arm_timer(i, &i->timer, usec_add(i->started_at, c->notify ? c->start_timeout : c->start_secs),
                      ACCURACY_TIMEOUT_USEC, on_state_timer);
        if (r < 0)
                instance_enter_fatal_resources(i, r, "start");
}

/* ---------------------------------------------------------------------------------------- *
 * Ends                                                                                      */

static bool is_external_stop_signal(const ExitInfo *info) {
        return IN_SET(info->cause, EXIT_CAUSE_KILLED, EXIT_CAUSE_DUMPED) && !info->sent_by_us &&
               IN_SET(info->code, SIGTERM, SIGINT, SIGHUP);
}

/* Records an end; one that looks like part of an outside stop is judged after a grace. */
static void instance_handle_end(Instance *i, const ExitInfo *info) {
        usec_t grace = hooks_stop_grace(EXTERNAL_STOP_GRACE_USEC);
        char d[FORMAT_DURATION_MAX];
        int r;

        i->last_exit = *info;
        if (!is_external_stop_signal(info) || info->stopping) {
                instance_judge_end(i);
                return;
        }
        i->end_deferred = true;
        instance_set_state(i, INSTANCE_EXITED, "pid %d got SIG%s from outside vigild; judged in %s unless vigild is stopped",
                           (int) i->pid, sigabbrev_np(info->code) ?: "?", format_duration(d, sizeof(d), grace));
        r = instance_arm_timer(i, &i->timer, usec_add(now(CLOCK_MONOTONIC), grace), ACCURACY_RESTART_USEC, on_state_timer);
        if (r < 0) {
                log_instance(i, LOG_ERR, "cannot arm the grace timer: %s; judging the end now", strerror(-r));
                instance_judge_end(i);
        }
}

/* Classifies i->last_exit, logs and records it and, once the cgroup is empty, concludes. */
static void instance_judge_end(Instance *i) {
        const WorkerConfig *c = i->config;
        const ExitInfo *info = &i->last_exit;
        char desc[256];
        int level, r;

        i->end_deferred = false;
        i->last_exit.stopping = i->last_exit.stopping || !instance_wanted(i);
        i->last_class = exit_status_classify(info, c, NULL);
        exit_status_describe(info, desc, sizeof(desc));
        level = instance_record_end(i, desc);
        if (info->cause == EXIT_CAUSE_SPAWN_FAILED && info->spawn_stage == SPAWN_STAGE_FORK)
                log_instance_full(i, level, LOG_MID_SPAWN_FAILED, NULL, NULL,
                                  "spawn failed: %s (%s)", desc, exit_class_to_string(i->last_class));
        else
                log_instance_full(i, level, LOG_MID_PROCESS_EXIT, NULL, NULL,
                                  "pid %d %s (%s)", (int) i->pid, desc, exit_class_to_string(i->last_class));
        i->pid = 0;

        if (i->cgroup_path) {
                r = cgroup_is_populated(i->cgroup_path);
                if (r > 0) {
                        /* The main process is gone but something it started is not: end that
                         * first, the same way as a stop, so a restart starts clean. */
                        if (i->state != INSTANCE_STOPPING) {
                                (void) cgroup_signal(i->cgroup_path, c->stop_signal);
                                instance_set_state(i, INSTANCE_EXITED, "stopping what is left in its cgroup");
                                r = instance_arm_timer(i, &i->timer, usec_add(now(CLOCK_MONOTONIC), c->stop_timeout),
                                              ACCURACY_TIMEOUT_USEC, on_state_timer);
                                if (r < 0) {
                                        log_instance(i, LOG_ERR, "cannot arm the stop timer: %s; killing now",
                                                     strerror(-r));
                                        (void) cgroup_kill(i->cgroup_path);
                                }
                        }
                        watch_cgroup(i);
                        return;
                }
        }
        instance_conclude(i);
}

/* The process and everything in its cgroup are gone: decide what comes next, in one pure call
 * after the end was counted by the breaker. */
static void instance_conclude(Instance *i) {
        RestartInput in = {
                .cls = i->last_class,
                .config = i->config,
                .want_up = i->want_up,
                .stopping = vigild_stopping(i),
                .trial = i->breaker_trial,
        };
        const char *reason = NULL;

        instance_process_unwatch_cgroup(i);
        i->breaker_trial = false;
        if (restart_policy_breaker_failure(&in))
                crash_loop_record_failure(i->crash_loop, (int) i->index, i->name, now(CLOCK_MONOTONIC));
        else if (restart_policy_trial_aborted(&in))
                crash_loop_trial_aborted(i->crash_loop);
        in.breaker_closed = crash_loop_state(i->crash_loop) == BREAKER_CLOSED;

        if (i->fatal_pending != FATAL_NONE && instance_wanted(i)) {
                instance_enter_fatal(i, i->fatal_pending, "ended by vigild for lack of resources");
                return;
        }
        switch (restart_policy_conclude(&in, &reason)) {
        case RESTART_DECISION_STOPPED:
                instance_enter_stopped(i);
                break;
        case RESTART_DECISION_START:
                instance_set_state(i, INSTANCE_BACKOFF, "%s", reason);
                instance_enter_starting(i);
                break;
        case RESTART_DECISION_COMPLETED:
                instance_set_state(i, INSTANCE_COMPLETED, "%s", reason);
                break;
        case RESTART_DECISION_FATAL:
                instance_enter_fatal(i, i->last_class == EXIT_CLASS_PERMANENT ? FATAL_PERMANENT : FATAL_POLICY,
                                     reason);
                break;
        case RESTART_DECISION_RESOURCE:
                instance_enter_resource_wait(i);
                break;
        case RESTART_DECISION_HELD:
                instance_enter_fatal(i, FATAL_BREAKER, reason);
                break;
        case RESTART_DECISION_RESTART:
                instance_enter_restart(i);
                break;
        default:
                assert_not_reached();
        }
}

void instance_on_exit(Instance *i, const siginfo_t *si) {
        ExitInfo info;

        assert(i->main_alive);

        instance_process_exit_info(i, si, &info);
        info.stopping = !instance_wanted(i);
        /* The worker's last words go out before the line about its end. */
        i->output = output_pipe_free(i->output);
        instance_process_clear_main(i);
        instance_handle_end(i, &info);
}

void instance_reap(Instance *i) {
        siginfo_t si;
        int r;

        if (!i->main_alive)
                return;
        r = instance_process_reap(i, &si);
        if (r == 0)
                return;    /* still running: a spurious wakeup */
        if (r < 0) {
                /* The status is lost, not the instance: it goes on as if it had been killed. */
                log_instance(i, LOG_ERR, "cannot reap pid %d: %s; its exit status is lost", (int) i->pid,
                             r == -ECHILD ? "reaped elsewhere" : strerror(-r));
                si = (siginfo_t) { .si_code = CLD_KILLED, .si_status = SIGKILL };
        }
        instance_on_exit(i, &si);
}

/* ---------------------------------------------------------------------------------------- *
 * Event dispatchers                                                                         */

static int on_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Instance *i = userdata;

        switch (i->state) {
        case INSTANCE_STARTING:
        case INSTANCE_RUNNING:
        case INSTANCE_STOPPING:
                instance_reap(i);
                break;
        default:
                /* main_alive only in the states above: the source is gone with the process. */
                assert_not_reached();
        }
        return 0;
}

/* The stop timeout: SIGKILL everything, then keep waiting (and saying so) for the kernel to
 * take it away. A cgroup found empty here ends the wait even if its watch was never armed. */
static void instance_stop_timeout(Instance *i) {
        const WorkerConfig *c = i->config;
        char d[FORMAT_DURATION_MAX];
        int r;

        if (!i->main_alive && i->cgroup_path && !i->cgroup_watch && cgroup_is_populated(i->cgroup_path) <= 0) {
                instance_conclude(i);
                return;
        }
        if (i->kill_rounds++ == 0)
                log_instance(i, LOG_WARNING, "stop timeout after %s, killing", format_duration(d, sizeof(d), c->stop_timeout));
        else
                log_instance(i, LOG_ERR, "processes still present %s after SIGKILL, waiting",
                             format_duration(d, sizeof(d), c->stop_timeout * (i->kill_rounds - 1)));
        i->signalled_by_us = true;
        instance_process_signal(i, SIGKILL);
        r = instance_arm_timer(i, &i->timer, usec_add(now(CLOCK_MONOTONIC), c->stop_timeout), ACCURACY_TIMEOUT_USEC,
                      on_state_timer);
        if (r < 0)
                log_instance(i, LOG_ERR, "cannot arm the stop timer: %s; waiting for the kernel without it",
                             strerror(-r));
}

static int on_state_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Instance *i = userdata;

        switch (i->state) {
        case INSTANCE_STARTING:
                if (i->config->notify)
                        instance_judge_timeout(i, EXIT_VERDICT_START_TIMEOUT, usec, &i->timer, i->config->start_timeout,
                                               on_state_timer);
                else
                        instance_enter_running(i);
                break;
        case INSTANCE_EXITED:
                if (i->end_deferred) {
                        instance_judge_end(i);
                        break;
                }
                _fallthrough_;
        case INSTANCE_STOPPING:
                instance_stop_timeout(i);
                break;
        case INSTANCE_BACKOFF:
                instance_enter_starting(i);
                break;
        default:
                assert_not_reached();
        }
        return 0;
}

static int on_stable_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Instance *i = userdata;

        switch (i->state) {
        case INSTANCE_STARTING:
        case INSTANCE_RUNNING:
                /* The instance has run stably: whatever incidents it had are over. */
                if (i->restarts > 0)
                        log_instance(i, LOG_INFO, "stable, backoff level %u reset", i->restarts);
                instance_record_stable(i, "ran stably");
                if (i->restarts > 0 || i->deaths > 0) {
                        i->restarts = 0;
                        i->deaths = 0;
                        instance_record_state(i);
                }
                i->resource_waits = 0;
                i->resource_escalated = false;
                break;
        default:
                assert_not_reached();
        }
        return 0;
}

static int on_trial_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Instance *i = userdata;

        switch (i->state) {
        case INSTANCE_RUNNING:
                i->breaker_trial = false;
                crash_loop_trial_succeeded(i->crash_loop);
                break;
        default:
                assert_not_reached();
        }
        return 0;
}

static int on_cgroup_event(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        Instance *i = userdata;
        int r;

        switch (i->state) {
        case INSTANCE_STOPPING:
        case INSTANCE_EXITED:
                if (i->main_alive)
                        return 0; /* the pidfd concludes once the main process is gone too */
                r = cgroup_is_populated(i->cgroup_path);
                if (r == 0 || r == -ENOENT)
                        instance_conclude(i);
                break;
        default:
                /* A late event for a watch that is being torn down. */
                break;
        }
        return 0;
}

static int on_watchdog_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Instance *i = userdata;

        switch (i->state) {
        case INSTANCE_RUNNING:
                instance_judge_timeout(i, EXIT_VERDICT_WATCHDOG, usec, &i->watchdog_timer, i->watchdog_usec,
                                       on_watchdog_timer);
                break;
        default:
                assert_not_reached();
        }
        return 0;
}

/* ---------------------------------------------------------------------------------------- *
 * Requests                                                                                  */

void instance_start(Instance *i) {
        i->want_up = true;
        switch (i->state) {
        case INSTANCE_STOPPED:
        case INSTANCE_FATAL:
        case INSTANCE_COMPLETED:
                instance_enter_starting(i);
                break;
        case INSTANCE_STARTING:
        case INSTANCE_RUNNING:
        case INSTANCE_BACKOFF:
        case INSTANCE_STOPPING:
        case INSTANCE_EXITED:
                /* Already on its way up, or concluding: instance_conclude() sees want_up. */
                break;
        default:
                assert_not_reached();
        }
}

void instance_stop(Instance *i) {
        i->want_up = false;
        switch (i->state) {
        case INSTANCE_STARTING:
        case INSTANCE_RUNNING:
                instance_enter_stopping(i, EXIT_VERDICT_NONE);
                break;
        case INSTANCE_BACKOFF:
        case INSTANCE_FATAL:
        case INSTANCE_COMPLETED:
                instance_enter_stopped(i);
                break;
        case INSTANCE_EXITED:
                /* An end waiting to be judged is judged now, as stopped. */
                if (i->end_deferred)
                        instance_judge_end(i);
                break;
        case INSTANCE_STOPPED:
        case INSTANCE_STOPPING:
                break;
        default:
                assert_not_reached();
        }
}

void instance_breaker_retry(Instance *i) {
        if (i->state == INSTANCE_FATAL && i->fatal_reason == FATAL_BREAKER && i->want_up)
                instance_enter_starting(i);
}
