/* The processes of an instance (see instance-internal.h): its cgroup, the spawn of its main
 * process and the watch on its pidfd, signals, reaping, and the context's pid and cgroup
 * indexes. Never writes ->state: problems are logged and handed back to instance.c as return
 * values or as an end (instance_on_exit()). */
#include <inttypes.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <systemd/sd-journal.h>

#include "cgroup.h"
#include "instance-internal.h"
#include "spawn.h"

static int on_errfd(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static void set_main(Instance *i, pid_t pid, int pidfd) {
        int r;

        i->pid = pid;
        i->pidfd = pidfd;
        i->main_alive = true;
        if (!i->ctx->by_pid)
                return;
        r = hashmap_put(i->ctx->by_pid, INT_TO_PTR(pid), i);
        if (r < 0)
                log_warning_errno(r, "%s: cannot index pid %d: %m; its notify messages will be dropped", i->name,
                                  (int) pid);
}

void instance_process_clear_main(Instance *i) {
        if (i->ctx->by_pid && hashmap_get(i->ctx->by_pid, INT_TO_PTR(i->pid)) == i)
                (void) hashmap_remove(i->ctx->by_pid, INT_TO_PTR(i->pid));
        i->pidfd_source = sd_event_source_disable_unref(i->pidfd_source);
        i->pidfd = safe_close(i->pidfd);
        i->main_alive = false;
}

void instance_process_set_cgroup(Instance *i, char *path) {
        int r;

        if (i->cgroup_path && i->ctx->by_cgroup && hashmap_get(i->ctx->by_cgroup, i->cgroup_path) == i)
                (void) hashmap_remove(i->ctx->by_cgroup, i->cgroup_path);
        free(i->cgroup_path);
        i->cgroup_path = path;
        if (!path || !i->ctx->by_cgroup)
                return;
        r = hashmap_put(i->ctx->by_cgroup, path, i);
        if (r < 0)
                log_warning_errno(r, "%s: cannot index cgroup %s: %m; notify messages from its other processes "
                                  "will be dropped", i->name, path);
}

void instance_process_signal(Instance *i, int sig) {
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

/* Where the child's stdout/stderr go when they are "journal": a journald stream each, named
 * "WORKER:INSTANCE"; without journald one pipe for both that vigild forwards to its own stderr
 * with that prefix. Files and /dev/null are opened by the child, after it dropped privileges.
 * *ret_out and *ret_err may be the same descriptor. */
static void setup_output(Instance *i, int *ret_out, int *ret_err) {
        const WorkerConfig *c = i->config;
        bool want[2] = { c->output[0].kind == OUTPUT_JOURNAL, c->output[1].kind == OUTPUT_JOURNAL };
        int *ret[2] = { ret_out, ret_err }, fd, r;

        *ret_out = *ret_err = -EBADF;
        if (!want[0] && !want[1])
                return;

        if (i->ctx->journal_stream) {
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
        r = output_pipe_new(i->ctx->event, i->name, STDERR_FILENO, &fd, &i->output);
        if (r < 0) {
                log_warning_errno(r, "%s: cannot forward output: %m, sharing vigild's stderr", i->name);
                return;
        }
        for (unsigned k = 0; k < 2; k++)
                if (want[k])
                        *ret[k] = fd;
}

int instance_process_prepare_cgroup(Instance *i) {
        const WorkerConfig *c = i->config;
        int r;

        if (!i->cgroup_path && c->cgroups == CGROUP_AUTO && i->ctx->cgroup_root) {
                _cleanup_free_ char *name = NULL;
                char *path = NULL;

                if (asprintf(&name, "%s-%u", c->name, i->index) < 0)
                        return log_warning_errno(-ENOMEM, "%s: out of memory; this start uses its process group only",
                                                 i->name), 0;
                r = cgroup_create(i->ctx->cgroup_root, name, &path);
                if (r < 0)
                        log_warning_errno(r, "%s: cannot create cgroup %s: %m; using its process group only",
                                          i->name, name);
                instance_process_set_cgroup(i, path);
                i->cgroup_stale = r > 0;
        }
        if (!i->cgroup_path)
                return 0;

        r = cgroup_prepare_leaf(i->cgroup_path, &i->cgroup_stale);
        if (r > 0) {
                /* Processes of an earlier run or an earlier vigild: emptied before anything new
                 * goes in, so a restart never runs beside leftovers. */
                i->cgroup_stale = true;
                r = cgroup_kill(i->cgroup_path);
                if (r < 0)
                        log_warning_errno(r, "%s: cannot kill what is left in %s: %m", i->name, i->cgroup_path);
                return 1;
        }
        if (r < 0) {
                log_warning_errno(r, "%s: cannot recreate cgroup %s: %m; this start uses its process group only",
                                  i->name, i->cgroup_path);
                instance_process_set_cgroup(i, NULL);
        }
        i->have_oom_baseline = i->cgroup_path && cgroup_read_oom_kills(i->cgroup_path, &i->oom_kills_at_start) >= 0;
        return 0;
}

/* Watches the new process's end (its pidfd, for on_end) and the spawn error pipe. Without the
 * pidfd watch nothing would ever report the process's end, so it is killed and reaped at once
 * and the start counts as failed for lack of resources (retried later, as a failed fork is). */
static int watch_process(Instance *i, sd_event_io_handler_t on_end) {
        siginfo_t si;
        int r;

        /* Edge-triggered: a level-triggered source stays on epoll's ready list until it is
         * dispatched, and each loop turn (one dispatch) would poll all of them again, so a mass
         * failure of N instances cost O(N^2) polls. A pidfd becomes readable once. */
        r = sd_event_add_io(i->ctx->event, &i->pidfd_source, i->pidfd, EPOLLIN | EPOLLET, on_end, i);
        if (r < 0) {
                log_instance(i, LOG_ERR, "cannot watch pid %d: %s; killing it", (int) i->pid, strerror(-r));
                (void) pidfd_send_signal(i->pidfd, SIGKILL, NULL, 0);
                while (waitid(P_PIDFD, (id_t) i->pidfd, &si, WEXITED) < 0 && errno == EINTR)
                        ;
                instance_process_clear_main(i);
                return r;
        }
        r = sd_event_add_io(i->ctx->event, &i->errfd_source, i->errfd, EPOLLIN | EPOLLET, on_errfd, i);
        if (r < 0)
                /* The pipe is read when the process ends, which is all that a lost early read
                 * costs: the reason of a failed exec is still reported. */
                log_warning_errno(r, "%s: cannot watch the spawn error pipe: %m, reading it at the end", i->name);
        return 0;
}

int instance_process_spawn(Instance *i, sd_event_io_handler_t on_end) {
        const WorkerConfig *c = i->config;
        _cleanup_close_ int out = -EBADF, err = -EBADF;
        char wd[64];
        char *env[3] = {};
        size_t n_env = 0;
        pid_t pid;
        int pidfd, r;

        setup_output(i, &out, &err);
        if (err == out)
                err = -EBADF; /* one pipe for both: closed once, through out */

        if (i->ctx->notify_env)
                env[n_env++] = (char *) i->ctx->notify_env;
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
        r = spawn_worker(&p, &pid, &pidfd, &i->errfd);
        if (r < 0)
                return r;
        set_main(i, pid, pidfd);
        r = watch_process(i, on_end);
        if (r < 0)
                i->errfd = safe_close(i->errfd);
        return r;
}

void instance_process_unwatch_cgroup(Instance *i) {
        i->cgroup_watch = sd_event_source_disable_unref(i->cgroup_watch);
}

void instance_process_watch_cgroup(Instance *i, sd_event_inotify_handler_t on_event) {
        _cleanup_free_ char *events = NULL;
        int r;

        if (!i->cgroup_path || i->cgroup_watch)
                return;
        if (asprintf(&events, "%s/cgroup.events", i->cgroup_path) < 0)
                r = -ENOMEM;
        else
                r = sd_event_add_inotify(i->ctx->event, &i->cgroup_watch, events, IN_MODIFY, on_event, i);
        if (r < 0)
                log_warning_errno(r, "%s: cannot watch %s/cgroup.events: %m; checking at each stop timeout instead",
                                  i->name, i->cgroup_path);
}

/* waitid() on the pidfd, never giving up on EINTR: the pidfd's source is edge-triggered and
 * will not report this end again. */
static int wait_pidfd(Instance *i, siginfo_t *si, int flags) {
        for (;;) {
                *si = (siginfo_t) {};
                if (waitid(P_PIDFD, (id_t) i->pidfd, si, WEXITED | WNOHANG | flags) >= 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

int instance_process_reap(Instance *i, siginfo_t *ret) {
        int r;

        /* Without a cgroup the unreaped leader still pins its process group id, so the group
         * cannot be a stranger's: end what the worker left in it, then reap. */
        if (!i->cgroup_path) {
                r = wait_pidfd(i, ret, WNOWAIT);
                if (r < 0 || ret->si_pid == 0)
                        return r;
                (void) kill(-i->pid, SIGKILL);
        }
        r = wait_pidfd(i, ret, 0);
        if (r < 0)
                return r;
        return ret->si_pid != 0;
}

void instance_process_exit_info(Instance *i, const siginfo_t *si, ExitInfo *ret) {
        ExitInfo info = {};
        SpawnStage stage;
        int r, err;

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
        info.verdict = i->verdict;
        *ret = info;
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
