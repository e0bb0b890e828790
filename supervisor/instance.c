/* The instance state machine (DESIGN.md "Worker lifecycle"): instance_enter_<state>() verbs,
 * one dispatcher per event source (timer, exit, cgroup-empty, error pipe) switching on the
 * current state, and instance_set_state() as the only writer of ->state. It owns the
 * instance's process handles (pidfd, error pipe) and event sources. Decisions about what an
 * end means and how long to wait come from the pure exit-status and restart-policy modules;
 * this file only applies them. It never blocks: every wait is an event source. */
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
#include "instance.h"
#include "log.h"
#include "manager.h"
#include "notify.h"
#include "output.h"
#include "parse-util.h"
#include "random-util.h"
#include "spawn.h"
#include "worker.h"

/* A worker killed by SIGTERM/SIGINT/SIGHUP that vigild did not send may be part of a host-wide
 * stop (systemd signalling the whole service, an init shutdown), whose SIGTERM to vigild itself
 * can arrive a moment after the worker's death. Such an end is judged only after this grace, so
 * that a stop request sent at the same moment makes it "stopped": no failure, no restart. */
#define EXTERNAL_STOP_GRACE_USEC (100 * USEC_PER_MSEC)

/* Notify messages accepted per instance: a burst, then a steady rate. A worker pinging its
 * watchdog a few times a second stays far below; a runaway sender is cut off. */
#define NOTIFY_BURST 200U
#define NOTIFY_RATE 100U

/* Timer slack: restarts must be prompt; stop timeouts and stability checks need not be. */
#define ACCURACY_RESTART_USEC (1 * USEC_PER_MSEC)
#define ACCURACY_TIMEOUT_USEC (10 * USEC_PER_MSEC)
#define ACCURACY_STABLE_USEC (1 * USEC_PER_SEC)

static const char *const instance_state_table[_INSTANCE_STATE_MAX] = {
        [INSTANCE_STOPPED] = "stopped",   [INSTANCE_STARTING] = "starting", [INSTANCE_RUNNING] = "running",
        [INSTANCE_STOPPING] = "stopping", [INSTANCE_EXITED] = "exited",     [INSTANCE_BACKOFF] = "backoff",
        [INSTANCE_FATAL] = "fatal",       [INSTANCE_COMPLETED] = "completed",
};

DEFINE_STRING_TABLE_LOOKUP(instance_state, InstanceState);

static const char *const instance_active_state_table[_INSTANCE_ACTIVE_STATE_MAX] = {
        [INSTANCE_INACTIVE] = "inactive", [INSTANCE_ACTIVATING] = "activating",
        [INSTANCE_ACTIVE] = "active",     [INSTANCE_DEACTIVATING] = "deactivating",
        [INSTANCE_FAILED] = "failed",
};

DEFINE_STRING_TABLE_LOOKUP(instance_active_state, InstanceActiveState);

static const char *const fatal_reason_table[_FATAL_REASON_MAX] = {
        [FATAL_NONE] = "none",
        [FATAL_PERMANENT] = "permanent",
        [FATAL_BREAKER] = "breaker",
        [FATAL_POLICY] = "policy",
};

DEFINE_STRING_TABLE_LOOKUP(fatal_reason, FatalReason);

static const InstanceActiveState state_translation_table[_INSTANCE_STATE_MAX] = {
        [INSTANCE_STOPPED] = INSTANCE_INACTIVE,       [INSTANCE_STARTING] = INSTANCE_ACTIVATING,
        [INSTANCE_RUNNING] = INSTANCE_ACTIVE,         [INSTANCE_STOPPING] = INSTANCE_DEACTIVATING,
        [INSTANCE_EXITED] = INSTANCE_DEACTIVATING,    [INSTANCE_BACKOFF] = INSTANCE_ACTIVATING,
        [INSTANCE_FATAL] = INSTANCE_FAILED,           [INSTANCE_COMPLETED] = INSTANCE_INACTIVE,
};

InstanceActiveState instance_active_state(const Instance *i) {
        return state_translation_table[i->state];
}

static Manager *instance_manager(const Instance *i) {
        return i->worker->manager;
}

static const WorkerConfig *instance_config(const Instance *i) {
        return i->worker->config;
}

#define log_instance_full(i, level, mid, old, new, fmt, ...)                                       \
        log_fields_internal((level), 0,                                                            \
                            &(const LogFields) { .message_id = (mid),                              \
                                                 .worker = instance_config(i)->name,               \
                                                 .instance = (int) (i)->index,                     \
                                                 .old_state = (old),                               \
                                                 .new_state = (new) },                             \
                            "%s: " fmt, (i)->name, ##__VA_ARGS__)

#define log_instance(i, level, fmt, ...) \
        log_instance_full(i, level, LOG_MID_INSTANCE_STATE, NULL, NULL, fmt, ##__VA_ARGS__)

static void instance_enter_starting(Instance *i);
static void instance_conclude(Instance *i);

int instance_new(Worker *w, unsigned index, Instance **ret) {
        _cleanup_free_ Instance *i = NULL;

        assert(w);
        assert(ret);

        i = calloc(1, sizeof(Instance));
        if (!i)
                return -ENOMEM;

        *i = (Instance) {
                .worker = w,
                .index = index,
                .state = INSTANCE_STOPPED,
                .pidfd = -EBADF,
                .errfd = -EBADF,
                .notify_limit = RATELIMIT_INIT(NOTIFY_BURST, NOTIFY_RATE),
        };
        if (asprintf(&i->name, "%s:%u", w->config->name, index) < 0)
                return -ENOMEM;

        *ret = TAKE_PTR(i);
        return 0;
}

Instance *instance_free(Instance *i) {
        if (!i)
                return NULL;

        assert(!i->main_alive);
        sd_event_source_disable_unref(i->timer);
        sd_event_source_disable_unref(i->stable_timer);
        sd_event_source_disable_unref(i->trial_timer);
        sd_event_source_disable_unref(i->cgroup_watch);
        sd_event_source_disable_unref(i->errfd_source);
        sd_event_source_disable_unref(i->watchdog_timer);
        output_pipe_free(i->output);
        safe_close(i->pidfd);
        safe_close(i->errfd);
        if (i->cgroup_path)
                (void) cgroup_remove(i->cgroup_path);
        free(i->cgroup_path);
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
static int on_trial_timer(sd_event_source *s, uint64_t usec, void *userdata);
static int on_watchdog_timer(sd_event_source *s, uint64_t usec, void *userdata);

static int arm_timer(Instance *i, sd_event_source **s, usec_t when, usec_t accuracy,
                     sd_event_time_handler_t handler) {
        int r;

        if (*s) {
                r = sd_event_source_set_time(*s, when);
                if (r >= 0)
                        r = sd_event_source_set_time_accuracy(*s, accuracy);
                if (r >= 0)
                        r = sd_event_source_set_enabled(*s, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time(instance_manager(i)->event, s, CLOCK_MONOTONIC, when, accuracy, handler, i);
        if (r < 0)
                return log_error_errno(r, "%s: failed to arm a timer: %m", i->name);
        return 0;
}

static void disarm(sd_event_source *s) {
        if (s)
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
}

static int on_cgroup_event(sd_event_source *s, const struct inotify_event *ev, void *userdata);

static void unwatch_cgroup(Instance *i) {
        i->cgroup_watch = sd_event_source_disable_unref(i->cgroup_watch);
}

static int watch_cgroup(Instance *i) {
        _cleanup_free_ char *events = NULL;
        int r;

        if (!i->cgroup_path || i->cgroup_watch)
                return 0;
        if (asprintf(&events, "%s/cgroup.events", i->cgroup_path) < 0)
                return log_error_errno(-ENOMEM, "%s: out of memory", i->name);
        r = sd_event_add_inotify(instance_manager(i)->event, &i->cgroup_watch, events, IN_MODIFY,
                                 on_cgroup_event, i);
        if (r < 0)
                return log_error_errno(r, "%s: cannot watch %s: %m", i->name, events);
        return 0;
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
                unwatch_cgroup(i);
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

        if (old != state)
                manager_state_changed(instance_manager(i));
        if (!instance_has_processes(i))
                manager_check_stopped(instance_manager(i));
}

/* ---------------------------------------------------------------------------------------- *
 * Signalling                                                                                */

static void signal_processes(Instance *i, int sig) {
        /* The main process through its pidfd (pid reuse cannot misdirect it), then its process
         * group and, with a cgroup, every process in it, including those that left the group. */
        if (i->main_alive && i->pidfd >= 0 && pidfd_send_signal(i->pidfd, sig, NULL, 0) < 0 && errno != ESRCH)
                log_warning_errno(errno, "%s: cannot signal pid %d: %m, ignoring", i->name, (int) i->pid);
        if (i->main_alive && i->pid > 0)
                (void) kill(-i->pid, sig);
        if (i->cgroup_path) {
                int r = sig == SIGKILL ? cgroup_kill(i->cgroup_path) : cgroup_signal(i->cgroup_path, sig);
                if (sig == SIGKILL)
                        i->cgroup_stale = true;
                if (r < 0 && r != -ENOENT)
                        log_warning_errno(r, "%s: cannot signal cgroup %s: %m, ignoring", i->name,
                                          i->cgroup_path);
        }
}

/* ---------------------------------------------------------------------------------------- *
 * State verbs                                                                               */

static void instance_enter_stopped(Instance *i) {
        if (i->cgroup_path) {
                int r = cgroup_remove(i->cgroup_path);
                if (r < 0 && r != -ENOENT)
                        log_debug_errno(r, "%s: cannot remove %s: %m", i->name, i->cgroup_path);
                i->cgroup_path = mfree(i->cgroup_path);
        }
        i->restarts = 0;
        i->resource_waits = 0;
        i->resource_escalated = false;
        i->fatal_reason = FATAL_NONE;
        instance_set_state(i, INSTANCE_STOPPED, NULL);
}

static void instance_enter_fatal(Instance *i, FatalReason reason, const char *why) {
        i->fatal_reason = reason;
        if (reason == FATAL_BREAKER)
                instance_set_state(i, INSTANCE_FATAL, "%s; retried when the breaker half-opens", why);
        else if (reason == FATAL_PERMANENT)
                instance_set_state(i, INSTANCE_FATAL, "%s; not restarted until an operator acts", why);
        else
                instance_set_state(i, INSTANCE_FATAL, "%s", why);
}

static void instance_enter_running(Instance *i) {
        const WorkerConfig *c = instance_config(i);

        i->running_at = now(CLOCK_MONOTONIC);
        instance_set_state(i, INSTANCE_RUNNING, c->notify ? "READY=1" : NULL);
        if (i->watchdog_usec > 0)
                (void) arm_timer(i, &i->watchdog_timer, usec_add(i->running_at, i->watchdog_usec),
                                 ACCURACY_TIMEOUT_USEC, on_watchdog_timer);
        if (i->breaker_trial)
                (void) arm_timer(i, &i->trial_timer, usec_add(i->running_at, c->breaker.trial_ok),
                                 ACCURACY_TIMEOUT_USEC, on_trial_timer);
}

/* Ends the processes: the stop signal now, SIGKILL after stop_timeout. With a verdict the
 * instance is still wanted: it was found unresponsive and its end will count as a failure. */
static void instance_enter_stopping(Instance *i, ExitVerdict verdict) {
        const WorkerConfig *c = instance_config(i);

        i->verdict = verdict;
        i->signalled_by_us = true;
        signal_processes(i, c->stop_signal);
        if (c->stop_signal != SIGKILL && c->stop_signal != SIGCONT)
                signal_processes(i, SIGCONT); /* a stopped process would never see the stop signal */
        (void) watch_cgroup(i);
        instance_set_state(i, INSTANCE_STOPPING, "sent SIG%s%s", sigabbrev_np(c->stop_signal) ?: "?",
                           verdict == EXIT_VERDICT_NONE ? "" : ", unresponsive");
        (void) arm_timer(i, &i->timer, usec_add(now(CLOCK_MONOTONIC), c->stop_timeout), ACCURACY_TIMEOUT_USEC,
                         on_state_timer);
}

/* A verdict timer (start_timeout, watchdog) that was due at `due` expired. Unless the TILT
 * guard distrusts the observation, the worker is unresponsive; otherwise it gets a full
 * interval again after the suspension. */
static void instance_judge_timeout(Instance *i, ExitVerdict verdict, usec_t due, sd_event_source **timer,
                                   usec_t interval, sd_event_time_handler_t handler) {
        char d[FORMAT_DURATION_MAX];
        usec_t until;

        if (!manager_verdict_allowed(instance_manager(i), due, &until)) {
                log_instance(i, LOG_NOTICE, "%s verdict suspended by TILT, checking again in %s",
                             verdict == EXIT_VERDICT_WATCHDOG ? "watchdog" : "start timeout",
                             format_duration_approx(d, sizeof(d), until - now(CLOCK_MONOTONIC) + interval,
                                                    USEC_PER_MSEC));
                (void) arm_timer(i, timer, usec_add(until, interval), ACCURACY_TIMEOUT_USEC, handler);
                return;
        }
        log_instance_full(i, LOG_ERR, LOG_MID_UNRESPONSIVE, NULL, NULL, "unresponsive: %s within %s, stopping it",
                          verdict == EXIT_VERDICT_WATCHDOG ? "no WATCHDOG=1" : "no READY=1",
                          format_duration_approx(d, sizeof(d), interval, USEC_PER_MSEC));
        instance_enter_stopping(i, verdict);
}

static void instance_enter_backoff(Instance *i, usec_t delay, const char *reason) {
        instance_set_state(i, INSTANCE_BACKOFF, "%s", reason);
        if (delay == 0) {
                instance_enter_starting(i);
                return;
        }
        if (arm_timer(i, &i->timer, usec_add(now(CLOCK_MONOTONIC), delay), ACCURACY_RESTART_USEC,
                      on_state_timer) < 0)
                instance_enter_fatal(i, FATAL_PERMANENT, "cannot arm the restart timer");
}

static void instance_enter_resource_wait(Instance *i) {
        const WorkerConfig *c = instance_config(i);
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

static bool is_external_stop_signal(const ExitInfo *info) {
        return IN_SET(info->cause, EXIT_CAUSE_KILLED, EXIT_CAUSE_DUMPED) && !info->sent_by_us &&
               IN_SET(info->code, SIGTERM, SIGINT, SIGHUP);
}

static void save_state(Instance *i);

static void instance_enter_restart(Instance *i) {
        const WorkerConfig *c = instance_config(i);
        char d[FORMAT_DURATION_MAX], cap[FORMAT_DURATION_MAX], reason[160];
        usec_t delay;

        i->restarts++;
        save_state(i);
        delay = restart_policy_next_delay(i->restarts, &c->backoff, random_u64());
        (void) snprintf(reason, sizeof(reason), "restart %u in %s (cap %s)", i->restarts,
                        format_duration_approx(d, sizeof(d), delay, USEC_PER_MSEC),
                        format_duration_approx(cap, sizeof(cap), restart_policy_delay_cap(i->restarts, &c->backoff),
                                               USEC_PER_MSEC));
        instance_enter_backoff(i, delay, reason);
}

static int on_errfd(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* Where the child's stdout/stderr go when they are "journal": a journald stream each, named
 * "WORKER:INSTANCE"; without journald one pipe for both that vigild forwards to its own stderr
 * with that prefix. Files and /dev/null are opened by the child, after it dropped privileges.
 * *ret_out and *ret_err may be the same descriptor. */
static void setup_output(Instance *i, int *ret_out, int *ret_err) {
        Manager *m = instance_manager(i);
        const WorkerConfig *c = instance_config(i);
        bool want[2] = { c->output[0].kind == OUTPUT_JOURNAL, c->output[1].kind == OUTPUT_JOURNAL };
        int *ret[2] = { ret_out, ret_err }, fd, r;

        *ret_out = *ret_err = -EBADF;
        if (!want[0] && !want[1])
                return;

        if (m->journal_stream) {
                for (unsigned k = 0; k < 2; k++) {
                        if (!want[k])
                                continue;
                        fd = sd_journal_stream_fd(i->name, k == 0 ? LOG_INFO : LOG_WARNING, true);
                        if (fd < 0)
                                log_warning_errno(fd, "%s: cannot open a journal stream: %m, sharing vigild's", i->name);
                        *ret[k] = fd < 0 ? -EBADF : fd;
                }
                return;
        }

        i->output = output_pipe_free(i->output);
        r = output_pipe_new(m->event, i->name, STDERR_FILENO, &fd, &i->output);
        if (r < 0) {
                log_warning_errno(r, "%s: cannot forward output: %m, sharing vigild's stderr", i->name);
                return;
        }
        for (unsigned k = 0; k < 2; k++)
                if (want[k])
                        *ret[k] = fd;
}

static void instance_handle_end(Instance *i, const ExitInfo *info);

/* A restart is the healing action on an open incident: it goes into the incident's story. */
static void record_restart(Instance *i, bool trial) {
        Manager *m = instance_manager(i);
        const char *name = instance_config(i)->name;
        char message[128], details[96];

        if (!m->recorder || !recorder_has_open(m->recorder, name, (int) i->index, CAUSE_FAILURE))
                return;
        (void) snprintf(message, sizeof(message), "restarted as pid %d%s", (int) i->pid,
                        trial ? " (breaker trial)" : "");
        (void) snprintf(details, sizeof(details), "{\"pid\":%d,\"restart\":%u,\"trial\":%s}", (int) i->pid,
                        i->restarts, trial ? "true" : "false");
        (void) recorder_event(m->recorder, &(const StoreEvent) {
                .kind = EVENT_RESTARTED,
                .worker = name,
                .instance = (int) i->index,
                .severity = _SEVERITY_INVALID,
                .category = _CATEGORY_INVALID,
                .message = message,
                .details = details,
        });
        /* Its outcome comes with the next end ("failed") or with a stable run ("worked"). */
        recorder_action(m->recorder, name, (int) i->index, CAUSE_FAILURE, "restart", details);
}

static void instance_enter_starting(Instance *i) {
        Manager *m = instance_manager(i);
        const WorkerConfig *c = instance_config(i);
        _cleanup_close_ int out = -EBADF, err = -EBADF;
        bool trial = false;
        pid_t pid;
        int r;

        if (manager_is_stopping(m) || !i->want_up) {
                instance_enter_stopped(i);
                return;
        }
        if (!worker_breaker_admit(i->worker, &trial)) {
                instance_enter_fatal(i, FATAL_BREAKER, "breaker open");
                return;
        }
        i->breaker_trial = trial;

        if (!i->cgroup_path && c->cgroups == CGROUP_AUTO && m->cgroup_root) {
                _cleanup_free_ char *name = NULL;

                if (asprintf(&name, "%s-%u", c->name, i->index) < 0)
                        return (void) log_error_errno(-ENOMEM, "%s: out of memory", i->name);
                r = cgroup_create(m->cgroup_root, name, &i->cgroup_path);
                if (r < 0)
                        log_warning_errno(r, "%s: cannot create cgroup %s: %m; using its process group only",
                                          i->name, name);
                i->cgroup_stale = r > 0;
        }
        if (i->cgroup_path) {
                /* A cgroup that still holds processes (of an earlier run or an earlier vigild) is
                 * emptied before anything new goes in, so a restart never runs beside leftovers. */
                r = cgroup_is_populated(i->cgroup_path);
                if (r > 0) {
                        i->last_class = EXIT_CLASS_STOPPED;
                        i->signalled_by_us = true;
                        i->cgroup_stale = true;
                        (void) cgroup_kill(i->cgroup_path);
                        (void) watch_cgroup(i);
                        instance_set_state(i, INSTANCE_EXITED, "killing what is left in %s before starting",
                                           i->cgroup_path);
                        (void) arm_timer(i, &i->timer, usec_add(now(CLOCK_MONOTONIC), c->stop_timeout),
                                         ACCURACY_TIMEOUT_USEC, on_state_timer);
                        return;
                }
                if (i->cgroup_stale) {
                        i->cgroup_stale = false;
                        r = cgroup_renew(i->cgroup_path);
                        if (r < 0 && access(i->cgroup_path, F_OK) >= 0)
                                /* Still there: spawn_worker() joins it the slower way. */
                                log_debug_errno(r, "%s: cannot renew cgroup %s: %m", i->name, i->cgroup_path);
                        else if (r < 0) {
                                log_warning_errno(r, "%s: cannot recreate cgroup %s: %m; this start uses its process group only",
                                                  i->name, i->cgroup_path);
                                i->cgroup_path = mfree(i->cgroup_path);
                        }
                }
        }
        if (i->cgroup_path) {
                i->have_oom_baseline = cgroup_read_oom_kills(i->cgroup_path, &i->oom_kills_at_start) >= 0;
        }

        setup_output(i, &out, &err);
        if (err == out)
                err = -EBADF; /* one pipe for both: closed once, through out */

        char wd[64];
        char *env[3] = {};
        size_t n_env = 0;

        if (m->notify_env)
                env[n_env++] = m->notify_env;
        i->watchdog_usec = c->watchdog;
        if (c->watchdog > 0) {
                (void) snprintf(wd, sizeof(wd), "WATCHDOG_USEC=%" PRIu64, c->watchdog);
                env[n_env++] = wd;
        }
        SpawnParams p = {
                .worker = c,
                .instance = i->index,
                .cgroup_path = i->cgroup_path,
                .stdout_fd = out,
                .stderr_fd = err >= 0 ? err : (c->output[1].kind == OUTPUT_JOURNAL ? out : -EBADF),
                .extra_env = env,
                .watchdog_pid = c->watchdog > 0,
        };
        i->started_at = now(CLOCK_MONOTONIC);
        i->signalled_by_us = false;
        i->spawn_errno = 0;
        i->verdict = EXIT_VERDICT_NONE;
        i->worker_errno = 0;
        i->status_text[0] = 0;
        r = spawn_worker(&p, &pid, &i->pidfd, &i->errfd);
        if (r < 0) {
                ExitInfo info = {
                        .cause = EXIT_CAUSE_SPAWN_FAILED,
                        .spawn_errno = -r,
                        .spawn_stage = SPAWN_STAGE_FORK,
                };
                instance_handle_end(i, &info);
                return;
        }
        i->pid = pid;
        i->main_alive = true;

        r = sd_event_add_io(m->event, &i->errfd_source, i->errfd, EPOLLIN, on_errfd, i);
        if (r < 0)
                log_warning_errno(r, "%s: cannot watch the spawn error pipe: %m, ignoring", i->name);

        instance_set_state(i, INSTANCE_STARTING, "pid %d%s", (int) pid, trial ? ", breaker trial" : "");
        record_restart(i, trial);
        (void) arm_timer(i, &i->stable_timer, usec_add(i->started_at, c->backoff.reset_after),
                         ACCURACY_STABLE_USEC, on_stable_timer);
        if (c->notify)
                /* Running begins at READY=1; without it by start_timeout, the start failed. */
                (void) arm_timer(i, &i->timer, usec_add(i->started_at, c->start_timeout), ACCURACY_TIMEOUT_USEC,
                                 on_state_timer);
        else if (c->start_secs == 0)
                instance_enter_running(i);
        else
                (void) arm_timer(i, &i->timer, usec_add(i->started_at, c->start_secs), ACCURACY_TIMEOUT_USEC,
                                 on_state_timer);
}

/* ---------------------------------------------------------------------------------------- *
 * Ends                                                                                      */

static int exit_log_level(ExitClass cls) {
        switch (cls) {
        case EXIT_CLASS_STOPPED:
        case EXIT_CLASS_SUCCESS:
                return LOG_INFO;
        case EXIT_CLASS_TRANSIENT:
        case EXIT_CLASS_RESOURCE:
                return LOG_WARNING;
        case EXIT_CLASS_CRASH:
        case EXIT_CLASS_UNRESPONSIVE:
                return LOG_ERR;
        case EXIT_CLASS_PERMANENT:
                return LOG_CRIT;
        default:
                assert_not_reached();
        }
}

/* Classifies i->last_exit, logs it and, once the cgroup is empty, concludes. */
static void instance_judge_end(Instance *i);

/* Records an end; one that looks like part of an outside stop is judged after a grace. */
static void instance_handle_end(Instance *i, const ExitInfo *info) {
        usec_t grace = hooks_stop_grace(EXTERNAL_STOP_GRACE_USEC);
        char d[FORMAT_DURATION_MAX];

        i->last_exit = *info;
        if (!is_external_stop_signal(info) || info->stopping) {
                instance_judge_end(i);
                return;
        }
        i->end_deferred = true;
        instance_set_state(i, INSTANCE_EXITED, "pid %d got SIG%s from outside vigild; judged in %s unless vigild is stopped",
                           (int) i->pid, sigabbrev_np(info->code) ?: "?",
                           format_duration(d, sizeof(d), grace));
        (void) arm_timer(i, &i->timer, usec_add(now(CLOCK_MONOTONIC), grace),
                         ACCURACY_RESTART_USEC, on_state_timer);
}

/* The crash-loop state goes to the store whenever it changes, so a restarted vigild goes on
 * with the same backoff level. A stop does not touch it: vigild stopping is no recovery. */
static void save_state(Instance *i) {
        Manager *m = instance_manager(i);

        if (m->recorder)
                recorder_save_instance_state(m->recorder, instance_config(i)->name, i->index,
                                             &(const StoreInstanceState) { .backoff_level = i->restarts,
                                                                           .deaths = i->deaths });
}

void instance_restore_state(Instance *i, const StoreInstanceState *st) {
        i->restarts = st->backoff_level;
        i->deaths = st->deaths;
}

/* Records a failed end as an event of the instance's incident. Returns the journal priority of
 * the end's log line: that of the incident's severity, or the class's level for an end that is
 * no failure. */
static int record_end(Instance *i, const char *desc) {
        Manager *m = instance_manager(i);
        EventKind kind = exit_event_kind(i->last_class, &i->last_exit);
        char details[256];
        Severity sev;

        if (kind < 0 || !m->recorder)
                return exit_log_level(i->last_class);
        if (event_kind_is_occurrence(kind) && kind != EVENT_RESOURCE_WAIT) {
                i->deaths++;
                save_state(i);
                /* The restart before this end did not help. */
                recorder_action_outcome(m->recorder, instance_config(i)->name, (int) i->index, CAUSE_FAILURE,
                                        "failed");
        }
        sev = recorder_event(m->recorder, &(const StoreEvent) {
                .kind = kind,
                .worker = instance_config(i)->name,
                .instance = (int) i->index,
                .severity = _SEVERITY_INVALID,
                .category = exit_event_category(i->last_class, &i->last_exit),
                .message = desc,
                .details = exit_status_details_json(&i->last_exit, i->last_class, (int) i->pid, details,
                                                    sizeof(details)),
        });
        return severity_to_priority(sev);
}

static void instance_judge_end(Instance *i) {
        const WorkerConfig *c = instance_config(i);
        const ExitInfo *info = &i->last_exit;
        char desc[256];
        int level, r;

        i->end_deferred = false;
        i->last_exit.stopping = i->last_exit.stopping || !i->want_up || manager_is_stopping(instance_manager(i));
        i->last_class = exit_status_classify(info, c, NULL);
        exit_status_describe(info, desc, sizeof(desc));
        level = record_end(i, desc);
        if (info->cause == EXIT_CAUSE_SPAWN_FAILED && info->spawn_stage == SPAWN_STAGE_FORK)
                log_instance_full(i, level, LOG_MID_SPAWN_FAILED, NULL, NULL,
                                  "spawn failed: %s (%s)", desc, exit_class_to_string(i->last_class));
        else
                log_instance_full(i, level, LOG_MID_PROCESS_EXIT, NULL, NULL,
                                  "pid %d %s (%s)", (int) i->pid, desc, exit_class_to_string(i->last_class));
        i->pid = 0;

        if (i->breaker_trial) {
                /* A trial that ends before it proved itself failed, whatever the exit looked
                 * like; one that vigild stopped proved nothing either way. */
                i->breaker_trial = false;
                if (i->last_class == EXIT_CLASS_STOPPED)
                        worker_trial_aborted(i->worker);
                else {
                        (void) worker_record_failure(i->worker, i, now(CLOCK_MONOTONIC));
                        i->failure_recorded = true;
                }
        }

        if (i->cgroup_path) {
                r = cgroup_is_populated(i->cgroup_path);
                if (r > 0) {
                        /* The main process is gone but something it started is not: end that
                         * first, the same way as a stop, so a restart starts clean. */
                        if (i->state != INSTANCE_STOPPING) {
                                (void) cgroup_signal(i->cgroup_path, c->stop_signal);
                                instance_set_state(i, INSTANCE_EXITED, "stopping what is left in its cgroup");
                                (void) arm_timer(i, &i->timer, usec_add(now(CLOCK_MONOTONIC), c->stop_timeout),
                                                 ACCURACY_TIMEOUT_USEC, on_state_timer);
                        }
                        (void) watch_cgroup(i);
                        return;
                }
        }
        instance_conclude(i);
}

/* The process and everything in its cgroup are gone: decide what comes next. */
static void instance_conclude(Instance *i) {
        Manager *m = instance_manager(i);
        const WorkerConfig *c = instance_config(i);
        const char *reason = NULL;
        RestartDecision d;

        bool counted = i->failure_recorded;

        i->failure_recorded = false;
        unwatch_cgroup(i);
        d = restart_policy_decide(i->last_class, c, &reason);
        if (manager_is_stopping(m) || !i->want_up)
                d = RESTART_DECISION_STOPPED;

        switch (d) {
        case RESTART_DECISION_STOPPED:
                if (i->want_up && !manager_is_stopping(m)) {
                        /* Stopped on request and wanted again (a restart, or leftovers removed). */
                        instance_set_state(i, INSTANCE_BACKOFF, "starting again");
                        instance_enter_starting(i);
                } else
                        instance_enter_stopped(i);
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
        case RESTART_DECISION_RESTART:
                i->resource_waits = 0;
                i->resource_escalated = false;
                if (restart_policy_counts_as_failure(i->last_class) && !counted)
                        (void) worker_record_failure(i->worker, i, now(CLOCK_MONOTONIC));
                if (i->worker->breaker.state != BREAKER_CLOSED) {
                        instance_enter_fatal(i, FATAL_BREAKER, "crash loop, breaker open");
                        break;
                }
                instance_enter_restart(i);
                break;
        default:
                assert_not_reached();
        }
}

void instance_on_exit(Instance *i, const siginfo_t *si) {
        Manager *m = instance_manager(i);
        ExitInfo info = {};
        SpawnStage stage;
        int r, err;

        assert(i->main_alive);

        info.cause = si->si_code == CLD_EXITED ? EXIT_CAUSE_EXITED
                     : si->si_code == CLD_DUMPED ? EXIT_CAUSE_DUMPED
                                                 : EXIT_CAUSE_KILLED;
        info.code = si->si_status;

        /* A child that failed before exec wrote its reason before exiting, so it is readable now
         * even if the pipe's own event has not been dispatched yet. */
        if (i->errfd >= 0) {
                r = spawn_read_error(i->errfd, &stage, &err);
                if (r > 0) {
                        i->spawn_stage = stage;
                        i->spawn_errno = err;
                }
                i->errfd_source = sd_event_source_disable_unref(i->errfd_source);
                i->errfd = safe_close(i->errfd);
        }
        if (i->spawn_errno > 0) {
                info.cause = EXIT_CAUSE_SPAWN_FAILED;
                info.spawn_errno = i->spawn_errno;
                info.spawn_stage = i->spawn_stage;
        }
        if (i->cgroup_path && i->have_oom_baseline) {
                uint64_t n;

                if (cgroup_read_oom_kills(i->cgroup_path, &n) >= 0 && n > i->oom_kills_at_start)
                        info.oom_killed = true;
        }
        info.sent_by_us = i->signalled_by_us;
        info.stopping = !i->want_up || manager_is_stopping(m);
        info.verdict = i->verdict;

        /* The worker's last words go out before the line about its end. */
        i->output = output_pipe_free(i->output);
        i->pidfd = safe_close(i->pidfd);
        i->main_alive = false;
        instance_handle_end(i, &info);
}

/* ---------------------------------------------------------------------------------------- *
 * Event dispatchers                                                                         */

static int on_state_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Instance *i = userdata;
        const WorkerConfig *c = instance_config(i);
        char d[FORMAT_DURATION_MAX];

        switch (i->state) {
        case INSTANCE_STARTING:
                if (c->notify)
                        instance_judge_timeout(i, EXIT_VERDICT_START_TIMEOUT, usec, &i->timer, c->start_timeout,
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
                /* The stop timeout: SIGKILL everything, then keep waiting (and saying so) for the
                 * kernel to take it away. */
                if (i->kill_rounds++ == 0)
                        log_instance(i, LOG_WARNING, "stop timeout after %s, killing",
                                     format_duration(d, sizeof(d), c->stop_timeout));
                else
                        log_instance(i, LOG_ERR, "processes still present %s after SIGKILL, waiting",
                                     format_duration(d, sizeof(d), c->stop_timeout * (i->kill_rounds - 1)));
                i->signalled_by_us = true;
                signal_processes(i, SIGKILL);
                (void) arm_timer(i, &i->timer, usec_add(now(CLOCK_MONOTONIC), c->stop_timeout),
                                 ACCURACY_TIMEOUT_USEC, on_state_timer);
                break;
        case INSTANCE_BACKOFF:
                instance_enter_starting(i);
                break;
        default:
                assert_not_reached();
        }
        return 0;
}

/* The instance has run stably: whatever incidents it had are over. */
static void resolve_incidents(Instance *i, const char *note) {
        Manager *m = instance_manager(i);

        if (!m->recorder)
                return;
        recorder_action_outcome(m->recorder, instance_config(i)->name, (int) i->index, CAUSE_FAILURE, "worked");
        recorder_resolve(m->recorder, instance_config(i)->name, (int) i->index, CAUSE_FAILURE, RESOLUTION_AUTO, note);
        recorder_resolve(m->recorder, instance_config(i)->name, (int) i->index, CAUSE_RESOURCE, RESOLUTION_AUTO, note);
}

static int on_stable_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Instance *i = userdata;

        switch (i->state) {
        case INSTANCE_STARTING:
        case INSTANCE_RUNNING:
                if (i->restarts > 0)
                        log_instance(i, LOG_INFO, "stable, backoff level %u reset", i->restarts);
                resolve_incidents(i, "ran stably");
                if (i->restarts > 0 || i->deaths > 0) {
                        i->restarts = 0;
                        i->deaths = 0;
                        save_state(i);
                }
                i->restarts = 0;
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
                worker_trial_succeeded(i->worker);
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
                        return 0; /* the reaper concludes once the main process is gone too */
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

static int on_errfd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Instance *i = userdata;
        SpawnStage stage;
        int r, err;

        r = spawn_read_error(fd, &stage, &err);
        if (r == -EAGAIN)
                return 0;
        if (r > 0) {
                i->spawn_stage = stage;
                i->spawn_errno = err;
        }
        /* EOF: exec succeeded. Either way the pipe has said all it will. */
        i->errfd_source = sd_event_source_disable_unref(i->errfd_source);
        i->errfd = safe_close(i->errfd);
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

void instance_on_notify(Instance *i, const NotifyMessage *msg) {
        const WorkerConfig *c = instance_config(i);
        char d[FORMAT_DURATION_MAX];

        if (msg->has_status && !streq(i->status_text, msg->status)) {
                (void) snprintf(i->status_text, sizeof(i->status_text), "%s", msg->status);
                log_instance(i, LOG_DEBUG, "STATUS=%s", i->status_text);
        }
        if (msg->has_errno)
                i->worker_errno = msg->errno_value;
        if (msg->stopping)
                log_instance(i, LOG_INFO, "says it is stopping (STOPPING=1)");
        if (msg->has_mainpid && msg->mainpid != i->pid)
                log_instance(i, LOG_NOTICE, "MAINPID=%d ignored: vigild follows the process it started",
                             (int) msg->mainpid);

        /* Before the state switch: WATCHDOG_USEC= often comes in the same datagram as READY=1,
         * and the watchdog that READY arms must already use it. */
        if (msg->has_watchdog_usec && msg->watchdog_usec != i->watchdog_usec &&
            IN_SET(i->state, INSTANCE_STARTING, INSTANCE_RUNNING)) {
                i->watchdog_usec = msg->watchdog_usec;
                log_instance(i, LOG_INFO, "watchdog interval set to %s by the worker",
                             format_duration_approx(d, sizeof(d), i->watchdog_usec, USEC_PER_MSEC));
        }

        switch (i->state) {
        case INSTANCE_STARTING:
                if (msg->ready && c->notify)
                        instance_enter_running(i);
                break;
        case INSTANCE_RUNNING:
                if (msg->watchdog_trigger && i->watchdog_usec > 0) {
                        log_instance_full(i, LOG_ERR, LOG_MID_UNRESPONSIVE, NULL, NULL,
                                          "unresponsive: the worker triggered its watchdog, stopping it");
                        instance_enter_stopping(i, EXIT_VERDICT_WATCHDOG);
                        break;
                }
                if ((msg->watchdog || msg->has_watchdog_usec) && i->watchdog_usec > 0)
                        (void) arm_timer(i, &i->watchdog_timer, usec_add(now(CLOCK_MONOTONIC), i->watchdog_usec),
                                         ACCURACY_TIMEOUT_USEC, on_watchdog_timer);
                break;
        default:
                /* A late message from a process on its way out: nothing to act on. */
                break;
        }
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
