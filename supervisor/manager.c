/* The Manager: vigild's event loop and its own lifecycle. It owns the sd-event loop, the
 * signal sources, the worker table, the cgroup root, the runtime-directory lock, the indexes
 * and counts the instances keep through the SupervisorContext it hands them, and the reaping
 * of orphaned descendants (vigild is their subreaper). Each worker's main process is reaped by
 * its instance through its pidfd and sends no SIGCHLD, so the work per event does not grow
 * with the number of instances: SIGCHLD means an orphan. It never blocks (not even on
 * systemd: see upstream.c) and never exit()s: it asks the loop to end with an exit code. */
#include <dirent.h>
#include <inttypes.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <systemd/sd-daemon.h>

#include "fileio.h"
#include "hooks.h"
#include "log.h"
#include "manager-probes.h"
#include "manager.h"
#include "notify.h"
#include "parse-util.h"
#include "spawn.h"

#define JOURNAL_STREAM_SOCKET "/run/systemd/journal/stdout"
/* An explained SIGCHLD (see on_sigchld()) is followed by a sweep for orphans this much later. */
#define SIGCHLD_PRIORITY (-5)
#define ORPHAN_SWEEP_USEC (1 * USEC_PER_SEC)
/* After the workers are gone, orphaned descendants get this long after SIGTERM before SIGKILL. */
#define REAP_TIMEOUT_USEC (5 * USEC_PER_SEC)

static const char *const manager_state_table[_MANAGER_STATE_MAX] = {
        [MANAGER_STARTING] = "starting", [MANAGER_RUNNING] = "running", [MANAGER_STOPPING] = "stopping",
        [MANAGER_REAPING] = "reaping",   [MANAGER_EXITED] = "exited",
};

DEFINE_STRING_TABLE_LOOKUP(manager_state, ManagerState);

static void manager_set_state(Manager *m, ManagerState state) {
        ManagerState old = m->state;

        if (old == state)
                return;
        if (state != MANAGER_REAPING && m->reap_timer)
                (void) sd_event_source_set_enabled(m->reap_timer, SD_EVENT_OFF);
        m->state = state;
        log_fields_internal(LOG_DEBUG, 0,
                            &(const LogFields) { .message_id = LOG_MID_DAEMON, .instance = -1,
                                                 .old_state = manager_state_to_string(old),
                                                 .new_state = manager_state_to_string(state) },
                            "vigild %s -> %s", manager_state_to_string(old), manager_state_to_string(state));
}

bool manager_is_stopping(const Manager *m) {
        return m->state >= MANAGER_STOPPING;
}

/* The instance whose live main process has this pid, or NULL. */
static Instance *instance_by_pid(const Manager *m, pid_t pid) {
        return hashmap_get(m->by_pid, INT_TO_PTR(pid));
}

/* ---------------------------------------------------------------------------------------- *
 * Orphans: descendants that left their process group and lost their parent come to vigild. */

/* Reads the pids of our own children from /proc/self/task/TID/children (single-threaded). */
static int list_children(pid_t **ret_pids, size_t *ret_n) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0, size = 0;
        int r;

        if (asprintf(&path, "/proc/self/task/%d/children", (int) getpid()) < 0)
                return -ENOMEM;
        r = read_full_file(path, 4 * 1024 * 1024, &text, &size);
        if (r < 0)
                return r;
        for (char *p = text, *end; *p; p = end) {
                long v = strtol(p, &end, 10);

                if (end == p)
                        break;
                pid_t *np = reallocarray(pids, n + 1, sizeof(pid_t));
                if (!np)
                        return -ENOMEM;
                pids = np;
                pids[n++] = (pid_t) v;
        }
        *ret_pids = TAKE_PTR(pids);
        *ret_n = n;
        return 0;
}

static int signal_orphans(Manager *m, int sig) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        int r, count = 0;

        r = list_children(&pids, &n);
        if (r < 0)
                return log_warning_errno(r, "cannot list vigild's children: %m");
        for (size_t k = 0; k < n; k++) {
                if (instance_by_pid(m, pids[k]) || manager_probes_owns_child(m, pids[k]))
                        continue;
                if (kill(pids[k], sig) >= 0)
                        count++;
        }
        return count;
}

static bool have_children(void) {
        siginfo_t si = {};

        return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) >= 0;
}

static void manager_finish(Manager *m) {
        int r;

        manager_set_state(m, MANAGER_EXITED);
        if (m->cgroup_root) {
                /* Leave the hierarchy as we found it: our leaf (and the base we made) go. */
                r = cgroup_root_teardown(m->cgroup_root);
                if (r < 0)
                        log_debug_errno(r, "cannot remove our cgroup leaf: %m");
        }
        log_fields_internal(LOG_NOTICE, 0, &(const LogFields) { .message_id = LOG_MID_DAEMON, .instance = -1 },
                            "stopped all workers, exiting");
        (void) sd_event_exit(m->event, m->exit_code);
}

static int on_reap_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        int n;

        n = signal_orphans(m, SIGKILL);
        log_warning("%d orphaned descendant(s) did not end after SIGTERM, killed", MAX(n, 0));
        if (!have_children())
                manager_finish(m);
        return 0;
}

static unsigned instances_with_processes(const Manager *m) {
        unsigned n = 0;

        for (InstanceState st = 0; st < _INSTANCE_STATE_MAX; st++)
                if (instance_state_has_processes(st))
                        n += m->n_by_state[st];
        return n;
}

static void manager_check_stopped(Manager *m) {
        int n, r;

        if (m->state != MANAGER_STOPPING || m->stopping_all || instances_with_processes(m) > 0)
                return;

        /* Every worker is down. Without cgroups, descendants that left their process group are
         * still running as vigild's adopted children: end them before vigild goes. */
        manager_set_state(m, MANAGER_REAPING);
        if (!have_children()) {
                manager_finish(m);
                return;
        }
        n = signal_orphans(m, SIGTERM);
        if (n > 0)
                log_notice("ending %d orphaned descendant(s) of workers", n);
        r = sd_event_add_time_relative(m->event, &m->reap_timer, CLOCK_MONOTONIC, REAP_TIMEOUT_USEC,
                                       10 * USEC_PER_MSEC, on_reap_timer, m);
        if (r < 0) {
                log_error_errno(r, "cannot arm the orphan timer: %m; killing orphans now");
                (void) signal_orphans(m, SIGKILL);
        }
}

/* ---------------------------------------------------------------------------------------- *
 * Signals                                                                                   */

/* Reaps every ended child that is not an instance's main process, and hands an ended main
 * process found on the way to its instance (whose pidfd event may still be pending). Peeking
 * first keeps /proc/PID valid and never takes a status away from an instance. The kernel walks
 * all of vigild's children for each peek: this runs for orphans only, never per restart. */
static void reap_orphans(Manager *m) {
        for (;;) {
                siginfo_t si = {};
                Instance *i;

                if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != ECHILD)
                                log_error_errno(errno, "waitid() failed: %m");
                        break;
                }
                if (si.si_pid <= 0)
                        break;

                i = instance_by_pid(m, si.si_pid);
                if (i) {
                        instance_reap(i);
                        if (i->main_alive && i->pid == si.si_pid)
                                break;   /* not reaped (logged): do not spin on it */
                        continue;
                }
                if (manager_probes_reap_child(m, si.si_pid)) {
                        if (manager_probes_owns_child(m, si.si_pid))
                                break;   /* its probe could not reap it: do not spin on it */
                        continue;
                }
                if (waitid(P_PID, si.si_pid, &si, WEXITED | WNOHANG) < 0) {
                        if (errno == EINTR)
                                continue;
                        log_error_errno(errno, "cannot reap pid %d: %m", (int) si.si_pid);
                        break;
                }
                log_debug("reaped orphaned descendant %d", (int) si.si_pid);
        }
        if (m->state == MANAGER_REAPING && !have_children())
                manager_finish(m);
}

static int on_orphan_sweep(sd_event_source *s, uint64_t usec, void *userdata) {
        reap_orphans(userdata);
        return 0;
}

static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *ssi, void *userdata) {
        Manager *m = userdata;
        int r;

        /* SIGCHLD carries the pid of one child, and signals that arrive while one is pending are
         * merged into it. From an instance's main process it is explained: its pidfd reaps it.
         * But an orphan may have ended under the same signal, so a sweep follows within
         * ORPHAN_SWEEP_USEC: once per second at most, however many children end. */
        if (m->state != MANAGER_REAPING &&
            (instance_by_pid(m, (pid_t) ssi->ssi_pid) || manager_probes_owns_child(m, (pid_t) ssi->ssi_pid))) {
                if (sd_event_source_get_enabled(m->orphan_sweep, NULL) > 0)
                        return 0;
                r = sd_event_source_set_time_relative(m->orphan_sweep, ORPHAN_SWEEP_USEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(m->orphan_sweep, SD_EVENT_ONESHOT);
                if (r >= 0)
                        return 0;
                log_warning_errno(r, "cannot arm the orphan sweep: %m; sweeping now");
        }
        reap_orphans(m);
        return 0;
}

static void manager_stop(Manager *m, const char *why) {
        if (manager_is_stopping(m))
                return;
        log_notice("%s: stopping all workers", why);
        upstream_stopping(m->upstream);
        manager_set_state(m, MANAGER_STOPPING);
        manager_probes_stop(m);
        /* Instances report idleness as they stop; judge only once every one was asked. */
        m->stopping_all = true;
        for (size_t k = 0; k < m->n_workers; k++)
                worker_stop(m->workers[k]);
        m->stopping_all = false;
        manager_check_stopped(m);
}

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *ssi, void *userdata) {
        manager_stop(userdata, ssi->ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        return 0;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *ssi, void *userdata) {
        log_notice("SIGHUP: configuration reload is not implemented yet, ignoring");
        return 0;
}

/* ---------------------------------------------------------------------------------------- *
 * The notify socket: which instance a sender belongs to                                     */

/* The instance whose processes include pid: its main process, a process in its cgroup, or
 * (without a cgroup) a process in its process group. Sets *ret_drop when there is none. Three
 * lookups, none of which walks the instances. */
static Instance *find_sender(Manager *m, pid_t pid, NotifyDrop *ret_drop) {
        _cleanup_free_ char *path = NULL, *text = NULL, *own = NULL, *full = NULL;
        Instance *i;
        pid_t pgid;

        i = instance_by_pid(m, pid);
        if (i)
                return i;

        if (asprintf(&path, "/proc/%d/cgroup", (int) pid) < 0 || read_full_file(path, 64 * 1024, &text, NULL) < 0) {
                *ret_drop = NOTIFY_DROP_VANISHED;
                return NULL;
        }
        if (m->cgroup_root && cgroup_parse_self(text, &own) >= 0 &&
            asprintf(&full, "%s%s", m->cgroup_root->mount, own) >= 0) {
                i = hashmap_get(m->by_cgroup, full);
                if (i && instance_has_processes(i))
                        return i;
        }

        pgid = getpgid(pid);
        if (pgid < 0) {
                *ret_drop = NOTIFY_DROP_VANISHED;
                return NULL;
        }
        i = instance_by_pid(m, pgid);
        if (i && !i->cgroup_path)
                return i;

        *ret_drop = NOTIFY_DROP_UNKNOWN_SENDER;
        return NULL;
}

static int on_notify(const NotifyMessage *msg, pid_t pid, uid_t uid, gid_t gid, void *userdata) {
        Manager *m = userdata;
        NotifyDrop drop = NOTIFY_DROP_UNKNOWN_SENDER;
        Instance *i;

        i = find_sender(m, pid, &drop);
        if (!i)
                return drop;
        if (!ratelimit_below(&i->notify_limit, now(CLOCK_MONOTONIC)))
                return NOTIFY_DROP_RATE_LIMITED;
        instance_on_notify(i, msg);
        return 0;
}

/* ---------------------------------------------------------------------------------------- *
 * Status to systemd, and the TILT guard                                                    */

static int on_status(sd_event_source *s, void *userdata) {
        Manager *m = userdata;
        const unsigned *n = m->n_by_state;
        char text[160];

        (void) snprintf(text, sizeof(text), "%s%u running, %u starting, %u backoff, %u fatal",
                        manager_is_stopping(m) ? "stopping: " : "", n[INSTANCE_RUNNING], n[INSTANCE_STARTING],
                        n[INSTANCE_BACKOFF], n[INSTANCE_FATAL]);
        upstream_status(m->upstream, text);
        return 0;
}

static bool manager_verdict_allowed(Manager *m, usec_t due, usec_t held_since, usec_t *ret_until, char *why,
                                    size_t why_size) {
        usec_t t = now(CLOCK_MONOTONIC), amount = 0;
        char a[FORMAT_DURATION_MAX], b[FORMAT_DURATION_MAX];
        TiltCause cause;

        cause = tilt_observe(&m->tilt, due, t, now(CLOCK_REALTIME), &amount);
        if (cause != TILT_NONE)
                log_fields_internal(LOG_WARNING, 0,
                                    &(const LogFields) { .message_id = LOG_MID_TILT, .instance = -1 },
                                    "TILT: %s %s; timeout verdicts suspended for %s",
                                    cause == TILT_LATE ? "vigild's loop ran late by" : "the clock jumped by",
                                    format_duration_approx(a, sizeof(a), amount, USEC_PER_MSEC),
                                    format_duration_approx(b, sizeof(b), m->tilt.settle, USEC_PER_MSEC));
        if (tilt_active(&m->tilt, t)) {
                if (ret_until)
                        *ret_until = MAX(m->tilt.until, t);
                if (why)
                        (void) snprintf(why, why_size, "TILT");
                return false;
        }
        /* A starved host must not look like a thousand hung workers; but a host that stays
         * starved must not keep a hung worker from its verdict forever either. */
        if (manager_probes_host_starved(m, why, why_size)) {
                usec_t max = m->config->daemon.starved_max_defer;

                if (held_since > 0 && max != USEC_INFINITY && t - held_since >= max) {
                        log_fields_internal(LOG_WARNING, 0,
                                            &(const LogFields) { .message_id = LOG_MID_VERDICT_DEFERRED,
                                                                 .instance = -1 },
                                            "a hang verdict held back for %s is given although the host is still "
                                            "starved (%s): starved_max_defer",
                                            format_duration_approx(a, sizeof a, t - held_since, USEC_PER_SEC),
                                            why ? why : "?");
                        return true;
                }
                if (ret_until)
                        *ret_until = t;
                return false;
        }
        if (ret_until)
                *ret_until = t;
        return true;
}

/* ---------------------------------------------------------------------------------------- *
 * The SupervisorContext's callbacks                                                         */

static bool ctx_stopping(void *userdata) {
        return manager_is_stopping(userdata);
}

static void ctx_state_changed(void *userdata, Instance *i, InstanceState old) {
        Manager *m = userdata;

        if (old == i->state)
                return;
        m->n_by_state[old]--;
        m->n_by_state[i->state]++;
        /* Once per burst of changes: the source runs when nothing more urgent is pending. */
        (void) sd_event_source_set_enabled(m->status_source, SD_EVENT_ONESHOT);
        if (!instance_state_has_processes(i->state))
                manager_check_stopped(m);
}

static bool ctx_verdict_allowed(void *userdata, usec_t due, usec_t held_since, usec_t *ret_until, char *why,
                                size_t why_size) {
        return manager_verdict_allowed(userdata, due, held_since, ret_until, why, why_size);
}

#ifdef VIGIL_TEST_HOOKS
static int on_stall(sd_event_source *s, const struct signalfd_siginfo *ssi, void *userdata) {
        usec_t ms = hooks_stall_ms();
        struct timespec ts = { .tv_sec = (time_t) (ms / 1000), .tv_nsec = (long) (ms % 1000) * 1000000L };

        /* The test hook that holds the loop, as a starved or frozen host would: the one place
         * vigild sleeps, and only in a test build. */
        log_notice("test hook: holding the loop for %" PRIu64 "ms", ms);
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
        log_notice("test hook: loop released");
        return 0;
}
#endif

/* ---------------------------------------------------------------------------------------- *
 * Construction                                                                              */

int manager_new(Config *config, Manager **ret) {
        _cleanup_config_free_ Config *c = config;
        Manager *m;
        sigset_t mask;
        int r;

        assert(ret);

        m = calloc(1, sizeof(Manager));
        if (!m)
                return log_error_errno(-ENOMEM, "out of memory");
        m->lock_fd = -EBADF;
        m->state = MANAGER_STARTING;
        m->config = TAKE_PTR(c);

        /* First, while low descriptor numbers are free: a spawn's cost must not grow with the
         * descriptors vigild holds (see spawn.c). */
        r = spawn_reserve_slots();
        if (r < 0)
                log_warning_errno(r, "cannot reserve descriptors for spawning: %m; each start copies vigild's "
                                  "descriptor table");

        /* sd-event takes signals from a signalfd, which needs them blocked; spawn.c resets the
         * mask and dispositions in every child. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
                r = log_error_errno(errno, "cannot block signals: %m");
                goto fail;
        }
        (void) signal(SIGPIPE, SIG_IGN);

        r = sd_event_new(&m->event);
        if (r < 0) {
                log_error_errno(r, "cannot create the event loop: %m");
                goto fail;
        }
        /* Under systemd with WatchdogSec=, a timer of the loop pings: a stalled loop stops
         * pinging. */
        r = upstream_new(m->event, &m->upstream);
        if (r < 0) {
                log_error_errno(r, "cannot set up messages to the service manager: %m");
                goto fail;
        }
        r = sd_event_add_signal(m->event, &m->sigchld_source, SIGCHLD, on_sigchld, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sigterm_source, SIGTERM, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sigint_source, SIGINT, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sighup_source, SIGHUP, on_sighup, m);
        if (r < 0) {
                log_error_errno(r, "cannot watch signals: %m");
                goto fail;
        }
        r = sd_event_add_time_relative(m->event, &m->orphan_sweep, CLOCK_MONOTONIC, ORPHAN_SWEEP_USEC,
                                       USEC_PER_SEC / 4, on_orphan_sweep, m);
        if (r < 0) {
                log_error_errno(r, "cannot create the orphan sweep timer: %m");
                goto fail;
        }
        (void) sd_event_source_set_enabled(m->orphan_sweep, SD_EVENT_OFF);
        tilt_init(&m->tilt, m->config->daemon.tilt_margin, m->config->daemon.tilt_settle);
        r = sd_event_add_defer(m->event, &m->status_source, on_status, m);
        if (r < 0) {
                log_error_errno(r, "cannot create the status source: %m");
                goto fail;
        }
        (void) sd_event_source_set_priority(m->status_source, SD_EVENT_PRIORITY_IDLE);
        (void) sd_event_source_set_enabled(m->status_source, SD_EVENT_OFF);
#ifdef VIGIL_TEST_HOOKS
        if (hooks_stall_ms() > 0) {
                sigset_t usr2;

                sigemptyset(&usr2);
                sigaddset(&usr2, SIGUSR2);
                (void) sigprocmask(SIG_BLOCK, &usr2, NULL);
                r = sd_event_add_signal(m->event, &m->stall_source, SIGUSR2, on_stall, m);
                if (r < 0)
                        log_warning_errno(r, "test hook: cannot watch SIGUSR2: %m");
        }
#endif

        /* A stop request outranks child ends that arrive with it: a worker killed by the same
         * SIGTERM that stops vigild must be seen as stopped, not restarted. */
        (void) sd_event_source_set_priority(m->sigterm_source, SD_EVENT_PRIORITY_IMPORTANT);
        (void) sd_event_source_set_priority(m->sigint_source, SD_EVENT_PRIORITY_IMPORTANT);
        /* SIGCHLD before the pidfd events of the same turn, so that its pid is still in the
         * index and the signal is explained (see on_sigchld()). */
        (void) sd_event_source_set_priority(m->sigchld_source, SIGCHLD_PRIORITY);

        for (size_t k = 0; k < m->config->n_workers; k++)
                m->n_instances += m->config->workers[k].instances;
        m->n_by_state[INSTANCE_STOPPED] = m->n_instances;
        m->by_pid = hashmap_new(&hash_ops_direct);
        m->by_cgroup = hashmap_new(&hash_ops_string);
        m->workers = calloc(MAX(m->config->n_workers, 1U), sizeof(Worker *));
        if (!m->by_pid || !m->by_cgroup || !m->workers || hashmap_reserve(m->by_pid, m->n_instances) < 0 ||
            hashmap_reserve(m->by_cgroup, m->n_instances) < 0) {
                r = log_error_errno(-ENOMEM, "out of memory");
                goto fail;
        }
        r = manager_probes_setup(m);
        if (r < 0) {
                log_error_errno(r, "out of memory");
                goto fail;
        }
        m->ctx = (SupervisorContext) {
                .event = m->event,
                .probe_env = &m->probe_env,
                .by_pid = m->by_pid,
                .by_cgroup = m->by_cgroup,
                .stopping = ctx_stopping,
                .state_changed = ctx_state_changed,
                .verdict_allowed = ctx_verdict_allowed,
                .userdata = m,
        };
        for (size_t k = 0; k < m->config->n_workers; k++) {
                r = worker_new(&m->ctx, &m->config->workers[k], &m->workers[m->n_workers]);
                if (r < 0) {
                        log_error_errno(r, "cannot create worker %s: %m", m->config->workers[k].name);
                        goto fail;
                }
                m->n_workers++;
        }

        *ret = m;
        return 0;

fail:
        manager_free(m);
        return r;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        for (size_t k = 0; k < m->n_workers; k++)
                worker_free(m->workers[k]);
        free(m->workers);
        manager_probes_free(m);
        sd_event_source_disable_unref(m->sigchld_source);
        sd_event_source_disable_unref(m->sigterm_source);
        sd_event_source_disable_unref(m->sigint_source);
        sd_event_source_disable_unref(m->sighup_source);
        sd_event_source_disable_unref(m->reap_timer);
        sd_event_source_disable_unref(m->orphan_sweep);
        sd_event_source_disable_unref(m->status_source);
        sd_event_source_disable_unref(m->stall_source);
        notify_socket_free(m->notify);
        upstream_free(m->upstream);
        /* After the workers, so that their last ends are in; before the loop goes. */
        recorder_free(m->recorder);
        free(m->notify_env);
        hashmap_free(m->by_pid);
        hashmap_free(m->by_cgroup);
        sd_event_unref(m->event);
        cgroup_root_free(m->cgroup_root);
        safe_close(m->lock_fd);
        spawn_release_slots();
        config_free(m->config);
        return mfree(m);
}

/* ---------------------------------------------------------------------------------------- *
 * Start-up                                                                                  */

static int take_lock(Manager *m) {
        const char *dir = m->config->daemon.runtime_dir;
        _cleanup_free_ char *path = NULL, *holder = NULL;
        _cleanup_close_ int fd = -EBADF;
        char buf[32];
        int r;

        r = mkdir_p(dir, 0755);
        if (r < 0)
                return log_error_errno(r, "cannot create runtime directory %s: %m", dir);
        if (asprintf(&path, "%s/" CONFIG_RUNTIME_LOCK_FILE, dir) < 0)
                return log_error_errno(-ENOMEM, "out of memory");
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return log_error_errno(errno, "cannot open %s: %m", path);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno != EWOULDBLOCK)
                        return log_error_errno(errno, "cannot lock %s: %m", path);
                if (read_full_file(path, 64, &holder, NULL) >= 0)
                        holder[strcspn(holder, "\n")] = 0;
                log_error("another vigild (pid %s) holds %s; refusing to start", holder ? holder : "?", path);
                return -EBUSY;
        }
        (void) snprintf(buf, sizeof(buf), "%d\n", (int) getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, strlen(buf), 0) < 0)
                log_warning_errno(errno, "cannot record our pid in %s: %m, ignoring", path);
        m->lock_fd = TAKE_FD(fd);
        return 0;
}

static void raise_nofile(void) {
        struct rlimit rl;

        /* vigild holds a pidfd per running instance; workers get their own configured limit. */
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
                return;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_warning_errno(errno, "cannot raise the open-file limit: %m, ignoring");
}

static int kill_leftover(const char *name, const char *path, void *userdata) {
        int r = cgroup_is_populated(path);

        if (r <= 0)
                return 0;
        r = cgroup_kill(path);
        if (r < 0)
                log_error_errno(r, "cannot kill leftover cgroup %s: %m", name);
        else
                log_warning("killed leftover cgroup %s of an earlier vigild", name);
        return 0;
}

static void setup_cgroups(Manager *m) {
        char root_name[32];
        uint32_t h = 2166136261U;
        bool wanted = false;
        int r;

        for (size_t k = 0; k < m->config->n_workers; k++)
                wanted = wanted || m->config->workers[k].cgroups == CGROUP_AUTO;
        if (!wanted)
                return;

        /* Started in the hierarchy's root (no systemd delegation), vigild manages a child of
         * the root named after its runtime directory, so a restarted vigild finds the same one. */
        for (const char *p = m->config->daemon.runtime_dir; *p; p++)
                h = (h ^ (uint8_t) *p) * 16777619U;
        (void) snprintf(root_name, sizeof(root_name), "vigil-%08x", h);

        r = cgroup_root_setup(root_name, &m->cgroup_root);
        if (r < 0) {
                log_warning_errno(r, "cannot use cgroup v2 (%m); workers run in their own process groups only");
                return;
        }
        log_info("managing cgroup %s", m->cgroup_root->base);
        (void) cgroup_foreach_child(m->cgroup_root, kill_leftover, m);
}

static int setup_notify(Manager *m) {
        _cleanup_free_ char *path = NULL;
        bool needed = false;
        int r;

        for (size_t k = 0; k < m->config->n_workers; k++)
                needed = needed || m->config->workers[k].notify || m->config->workers[k].watchdog > 0;

        if (asprintf(&path, "%s/" CONFIG_RUNTIME_NOTIFY_SOCKET, m->config->daemon.runtime_dir) < 0)
                return log_error_errno(-ENOMEM, "out of memory");
        r = notify_socket_new(m->event, path, on_notify, m, &m->notify);
        if (r < 0) {
                if (needed)
                        return log_error_errno(r, "cannot create the notify socket %s: %m", path);
                log_warning_errno(r, "cannot create the notify socket %s: %m; workers cannot report status", path);
                return 0;
        }
        if (asprintf(&m->notify_env, "NOTIFY_SOCKET=%s", path) < 0)
                return log_error_errno(-ENOMEM, "out of memory");
        return 0;
}

static void setup_output(Manager *m) {
        struct stat st;
        bool wanted = false;

        m->journal_stream = stat(JOURNAL_STREAM_SOCKET, &st) >= 0 && S_ISSOCK(st.st_mode);
        if (m->journal_stream)
                return;
        for (size_t k = 0; k < m->config->n_workers; k++)
                for (unsigned j = 0; j < 2; j++)
                        wanted = wanted || m->config->workers[k].output[j].kind == OUTPUT_JOURNAL;
        if (wanted)
                log_warning("no journal (%s): worker output goes to vigild's stderr, each line prefixed "
                            "with WORKER:INSTANCE", JOURNAL_STREAM_SOCKET);
}

int manager_startup(Manager *m) {
        unsigned n_instances = 0;
        int r;

        r = take_lock(m);
        if (r < 0)
                return r;

        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                return log_error_errno(errno, "cannot become a subreaper: %m");
        raise_nofile();
        setup_cgroups(m);
        r = setup_notify(m);
        if (r < 0)
                return r;
        setup_output(m);
        m->ctx.cgroup_root = m->cgroup_root;
        m->ctx.notify_env = m->notify_env;
        m->ctx.journal_stream = m->journal_stream;
        if (hooks_store_off())
                /* The benchmark's baseline: every caller does without a recorder. */
                log_warning("test hook VIGIL_TEST_STORE_OFF: no incident store, nothing is recorded");
        else {
                r = recorder_new(m->event, m->config, &m->recorder);
                if (r < 0)
                        return r;
                m->ctx.recorder = m->recorder;
                /* What an earlier vigild saved of its crash loops: breakers and backoff levels. */
                for (size_t k = 0; k < m->n_workers; k++)
                        worker_restore_state(m->workers[k]);
        }

        manager_set_state(m, MANAGER_RUNNING);
        r = manager_probes_start(m);
        if (r < 0)
                return r;
        for (size_t k = 0; k < m->n_workers; k++) {
                worker_start(m->workers[k]);
                n_instances += m->workers[k]->n_instances;
        }
        log_fields_internal(LOG_NOTICE, 0, &(const LogFields) { .message_id = LOG_MID_DAEMON, .instance = -1 },
                            "ready: %u instances of %zu workers", n_instances, m->n_workers);
        (void) on_status(m->status_source, m);
        /* Under systemd (Type=notify) the service is up once every worker was started. */
        upstream_ready(m->upstream);
        return 0;
}

int manager_run(Manager *m) {
        int r;

        r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "event loop failed: %m");
        return r;
}
