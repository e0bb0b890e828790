/* Running a probe's command asynchronously, for the kinds that judge one (exec, queue): the
 * clone (vfork-style, else fork-style where clone3 is missing), the child's setup in its own
 * session, and the parent's following of the pidfd and the output pipe with event sources,
 * up to one outcome: how the command ended and the bounded start of its output. The runner
 * owns the child's reaping (registered with the ProbeEnv before the loop runs again), kills
 * whatever the command left in its session, and leaves neither a process nor a zombie behind
 * after an outcome or a cancel; it judges nothing. The child side makes system calls only.
 * Non-logging; never blocks the loop, but a vfork-style spawn waits for the command's
 * execve(). */

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child-setup.h"
#include "clone.h"
#include "escape.h"
#include "probe-command.h"
#include "strv.h"

#define COMMAND_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define COMMAND_LANG "C.UTF-8"

/* ---- The child: system calls only ---- */

typedef enum CommandStage {
        COMMAND_STAGE_SESSION,
        COMMAND_STAGE_SIGNALS,
        COMMAND_STAGE_STDIO,
        COMMAND_STAGE_GROUPS,
        COMMAND_STAGE_USER,
        COMMAND_STAGE_CWD,
        COMMAND_STAGE_EXEC,
        _COMMAND_STAGE_MAX,
        _COMMAND_STAGE_INVALID = -EINVAL,
} CommandStage;

static const char *const command_stage_table[_COMMAND_STAGE_MAX] = {
        [COMMAND_STAGE_SESSION] = "setsid",
        [COMMAND_STAGE_SIGNALS] = "resetting signals",
        [COMMAND_STAGE_STDIO] = "setting up stdio",
        [COMMAND_STAGE_GROUPS] = "setgroups",
        [COMMAND_STAGE_USER] = "changing user",
        [COMMAND_STAGE_CWD] = "chdir",
        [COMMAND_STAGE_EXEC] = "execve",
};

static const char *command_stage_to_string(CommandStage s) {
        if (s < 0 || (size_t) s >= ELEMENTSOF(command_stage_table))
                return NULL;
        return command_stage_table[s];
}

/* Everything the child needs, prepared by the parent. */
typedef struct CommandChild {
        char *const *argv;
        char *const *envp;
        int stdin_fd, output_fd, errfd;
        const ProbeCommandIdentity *id;
} CommandChild;

static _noreturn_ void command_child_run(CommandChild *c) {
        int r;

        if (child_setup_lift_fd(&c->errfd) < 0)
                _exit(127);
        /* A session (and process group) of its own: cancel kills the group, whatever the
         * command started, and no terminal of vigild's reaches it. */
        if (setsid() < 0)
                child_setup_fail(c->errfd, COMMAND_STAGE_SESSION, errno);
        r = child_setup_reset_signals();
        if (r < 0)
                child_setup_fail(c->errfd, COMMAND_STAGE_SIGNALS, -r);

        if (child_setup_lift_fd(&c->stdin_fd) < 0 || child_setup_lift_fd(&c->output_fd) < 0 ||
            dup2(c->stdin_fd, STDIN_FILENO) < 0 || dup2(c->output_fd, STDOUT_FILENO) < 0 ||
            dup2(c->output_fd, STDERR_FILENO) < 0)
                child_setup_fail(c->errfd, COMMAND_STAGE_STDIO, errno);
        /* Only 0, 1 and 2 survive exec; the error pipe stays open until then. */
        if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                child_setup_fail(c->errfd, COMMAND_STAGE_STDIO, errno);

        if (c->id) {
                bool groups = false;

                r = child_setup_identity(c->id->uid, c->id->gid, c->id->groups, c->id->n_groups, &groups);
                if (r < 0)
                        child_setup_fail(c->errfd, groups ? COMMAND_STAGE_GROUPS : COMMAND_STAGE_USER, -r);
        }
        if (chdir("/") < 0)
                child_setup_fail(c->errfd, COMMAND_STAGE_CWD, errno);

        execve(c->argv[0], c->argv, c->envp);
        child_setup_fail(c->errfd, COMMAND_STAGE_EXEC, errno);
}

static int command_child_main(void *arg) {
        command_child_run(arg);
}

/* ---- The parent: following and reaping ---- */

/* Waits for the child's execve() or its failure: EOF, or the record it wrote. The write end
 * is the child's alone, close-on-exec, so this returns as soon as the command runs. 1 with
 * the failure, 0 for a command that runs. */
static int command_read_error(int errfd, CommandStage *ret_stage, int *ret_error) {
        int stage, error, r;

        r = child_setup_read_error(errfd, &stage, &error);
        if (r <= 0)
                return r;
        if (!command_stage_to_string(stage))
                return -EBADMSG;
        *ret_stage = (CommandStage) stage;
        *ret_error = error;
        return 1;
}

/* Forgets the child once reaped (or handed to the daemon). */
static void command_forget_child(ProbeCommand *cmd) {
        cmd->env->child_unwatch(cmd->env->userdata, cmd->pid);
        cmd->child_source = sd_event_source_disable_unref(cmd->child_source);
        cmd->pid = 0;
}

/* Reaps the child if it has ended; never waits. Whatever it left running in its session is
 * killed first, while the unreaped child still holds the session's id: its output would come
 * too late, and a probe must not leave processes behind, one more each sample. */
static void command_reap(ProbeCommand *cmd) {
        siginfo_t si = {};
        int fd, k;

        if (cmd->pid <= 0)
                return;
        fd = sd_event_source_get_io_fd(cmd->child_source);
        do
                k = waitid(P_PIDFD, (id_t) fd, &si, WEXITED | WNOHANG | WNOWAIT);
        while (k < 0 && errno == EINTR);
        if (k >= 0 && si.si_pid == 0)
                return;   /* still running */
        if (k >= 0) {
                (void) kill(-cmd->pid, SIGKILL);
                do
                        k = waitid(P_PIDFD, (id_t) fd, &si, WEXITED | WNOHANG);
                while (k < 0 && errno == EINTR);
        }
        if (k < 0 || si.si_pid == 0) {
                /* Reaped by someone else (it cannot be, while watched): how it ended is lost. */
                cmd->code = 0;
                cmd->status = 0;
        } else {
                cmd->code = si.si_code;
                cmd->status = si.si_status;
        }
        command_forget_child(cmd);
}

/* Delivers the outcome once the command is reaped and its output is read. Last thing done:
 * done may free cmd. */
static void command_finish(ProbeCommand *cmd) {
        if (!cmd->running || cmd->pid > 0 || cmd->output_source)
                return;
        cmd->running = false;
        cmd->done(cmd,
                  &(const ProbeCommandOutcome) {
                          .code = cmd->code,
                          .status = cmd->status,
                          .output = cmd->output,
                          .size = cmd->n_output,
                          .truncated = cmd->n_read > cmd->n_output,
                  },
                  cmd->userdata);
}

/* The daemon's call, when its orphan reaper met the child first. */
static void command_reap_callback(void *userdata) {
        ProbeCommand *cmd = userdata;

        command_reap(cmd);
        command_finish(cmd);
}

static int on_child(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        ProbeCommand *cmd = userdata;

        command_reap(cmd);
        command_finish(cmd);
        return 0;
}

static int on_output(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        ProbeCommand *cmd = userdata;
        char scratch[4096], *buf;
        size_t room;
        ssize_t n;

        if (cmd->n_output < sizeof cmd->output) {
                buf = cmd->output + cmd->n_output;
                room = sizeof cmd->output - cmd->n_output;
        } else {
                buf = scratch;
                room = sizeof scratch;
        }
        n = read(fd, buf, room);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n > 0) {
                if (buf != scratch)
                        cmd->n_output += (size_t) n;
                cmd->n_read += (size_t) n;
                if (cmd->n_read < PROBE_COMMAND_READ_MAX)
                        return 0;
        }
        /* EOF, an error, or enough read: nothing more is waited for on the pipe. */
        cmd->output_source = sd_event_source_disable_unref(cmd->output_source);
        command_finish(cmd);
        return 0;
}

/* Kills the command and whatever it started in its session. Only while the command is not
 * reaped: until then neither its pid nor its session's id (the same) can be reused. */
static void command_kill(ProbeCommand *cmd) {
        if (cmd->pid <= 0)
                return;
        (void) kill(-cmd->pid, SIGKILL);
        /* Its plain pid where the pidfd call is missing (valgrind) is as safe, for that reason. */
        if (pidfd_send_signal(sd_event_source_get_io_fd(cmd->child_source), SIGKILL, NULL, 0) < 0 &&
            errno == ENOSYS)
                (void) kill(cmd->pid, SIGKILL);
}

void probe_command_cancel(ProbeCommand *cmd) {
        if (!cmd)
                return;
        cmd->running = false;
        cmd->output_source = sd_event_source_disable_unref(cmd->output_source);
        command_kill(cmd);
        /* The pidfd's source stays until the zombie is reaped; then the child is unwatched. */
        command_reap(cmd);
}

void probe_command_done(ProbeCommand *cmd) {
        if (!cmd)
                return;
        probe_command_cancel(cmd);
        if (cmd->pid > 0)
                /* Killed but not dead yet, and cmd goes now: vigild reaps the children it does
                 * not know, so unwatching hands it over without waiting. */
                command_forget_child(cmd);
}

/* ---- Starting ---- */

static int cannot_start(ProbeCommandFailure *reterr, const char *step, int error) {
        *reterr = (ProbeCommandFailure) { .cannot_start = true, .step = step };
        return -error;
}

/* Follows the child just cloned: watched (so vigild leaves its reaping to us), its pidfd's
 * source, and its execve() or the failure it reported. Consumes pidfd. */
static int command_follow(ProbeCommand *cmd, pid_t pid, int pidfd, int err_r, ProbeCommandFailure *reterr) {
        CommandStage stage = COMMAND_STAGE_EXEC;
        int error = 0, r;

        /* vigild reaps only from loop callbacks, and the loop does not run before this: the
         * child is ours from its first instant. */
        r = cmd->env->child_watch(cmd->env->userdata, pid, command_reap_callback, cmd);
        if (r < 0) {
                (void) pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                (void) safe_close(pidfd);
                return r;   /* not watched: vigild reaps it */
        }
        r = sd_event_add_io(cmd->env->event, &cmd->child_source, pidfd, EPOLLIN, on_child, cmd);
        if (r < 0) {
                (void) pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                (void) safe_close(pidfd);
                cmd->env->child_unwatch(cmd->env->userdata, pid);
                return r;
        }
        (void) sd_event_source_set_io_fd_own(cmd->child_source, true);
        (void) sd_event_source_set_description(cmd->child_source, "probe-command-child");
        cmd->pid = pid;
        cmd->code = cmd->status = 0;

        r = command_read_error(err_r, &stage, &error);
        if (r == 0)
                return 0;
        /* It never ran (and is exiting): the pidfd's source reaps it. */
        command_kill(cmd);
        command_reap(cmd);
        if (r < 0)
                return r;
        return cannot_start(reterr, stage == COMMAND_STAGE_EXEC ? NULL : command_stage_to_string(stage), error);
}

int probe_command_start(ProbeCommand *cmd, const ProbeEnv *env, char *const *argv,
                        const ProbeCommandIdentity *id, char *const *envp, ProbeCommandDone done,
                        void *userdata, ProbeCommandFailure *reterr) {
        _cleanup_close_ int devnull = -EBADF, out_r = -EBADF, out_w = -EBADF, err_r = -EBADF, err_w = -EBADF;
        ProbeCommandFailure unused;
        CommandChild child;
        int fds[2], pidfd = -EBADF, r;
        pid_t pid;

        assert(cmd);
        assert(argv && argv[0]);
        assert(envp);
        assert(done);

        if (!reterr)
                reterr = &unused;
        *reterr = (ProbeCommandFailure) {};
        if (!env || !env->event || !env->child_watch || !env->child_unwatch)
                return -EOPNOTSUPP;
        /* One command at a time: the one killed last may still be on its way out. */
        if (cmd->pid > 0 || cmd->output_source)
                return -EBUSY;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return cannot_start(reterr, "pipe", errno);
        out_r = fds[0];
        out_w = fds[1];
        /* Only our end: the command's stdout blocks as a pipe should. */
        if (fcntl(out_r, F_SETFL, O_NONBLOCK) < 0)
                return -errno;
        if (pipe2(fds, O_CLOEXEC) < 0)
                return cannot_start(reterr, "pipe", errno);
        err_r = fds[0];
        err_w = fds[1];
        devnull = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (devnull < 0)
                return cannot_start(reterr, "/dev/null", errno);

        child = (CommandChild) {
                .argv = argv,
                .envp = envp,
                .stdin_fd = devnull,
                .output_fd = out_w,
                .errfd = err_w,
                .id = id,
        };
        pid = clone_vfork(command_child_main, &child, -EBADF, false, &pidfd);
        if (pid == -ENOSYS) {
                /* No clone3 (an old kernel, valgrind): a copy of vigild, doing the same. */
                pid = clone_fork(&pidfd);
                if (pid == 0)
                        command_child_run(&child);
        }
        if (pid < 0)
                return cannot_start(reterr, NULL, -pid);
        if (pidfd < 0) {
                /* A kernel without CLONE_PIDFD (before 5.2): the child cannot be followed. It is
                 * not watched, so vigild reaps it. */
                (void) kill(pid, SIGKILL);
                return -EOPNOTSUPP;
        }

        cmd->env = env;
        err_w = safe_close(err_w);
        out_w = safe_close(out_w);
        r = command_follow(cmd, pid, pidfd, err_r, reterr);
        if (r < 0)
                return r;

        r = sd_event_add_io(env->event, &cmd->output_source, out_r, EPOLLIN, on_output, cmd);
        if (r < 0) {
                command_kill(cmd);
                command_reap(cmd);
                return r;
        }
        (void) sd_event_source_set_io_fd_own(cmd->output_source, true);
        TAKE_FD(out_r);
        (void) sd_event_source_set_description(cmd->output_source, "probe-command-output");
        cmd->n_output = cmd->n_read = 0;
        cmd->done = done;
        cmd->userdata = userdata;
        cmd->running = true;
        return 0;
}

/* ---- For the kinds ---- */

static int build_env(const ProbeTarget *t, char ***ret) {
        _cleanup_strv_free_ char **env = NULL;
        char *e;
        int r;

        r = strv_extend(&env, "PATH=" COMMAND_PATH);
        if (r < 0)
                return r;
        r = strv_extend(&env, "LANG=" COMMAND_LANG);
        if (r < 0)
                return r;
        if (t->worker && t->instance >= 0) {
                if (asprintf(&e, "VIGIL_WORKER=%s", t->worker) < 0)
                        return -ENOMEM;
                r = strv_consume(&env, e);
                if (r < 0)
                        return r;
                if (asprintf(&e, "VIGIL_INSTANCE=%d", t->instance) < 0)
                        return -ENOMEM;
                r = strv_consume(&env, e);
                if (r < 0)
                        return r;
                if (t->pid > 0) {
                        if (asprintf(&e, "VIGIL_PID=%d", (int) t->pid) < 0)
                                return -ENOMEM;
                        r = strv_consume(&env, e);
                        if (r < 0)
                                return r;
                }
        }
        *ret = TAKE_PTR(env);
        return 0;
}

/* Who runs the command: the probe's own user, else the target's, else vigild's (NULL). */
static const ProbeCommandIdentity *identity(const ConfigUser *user, const ProbeTarget *t, ProbeCommandIdentity *buf) {
        if (user && user->name)
                *buf = (ProbeCommandIdentity) {
                        .uid = user->uid,
                        .gid = user->gid,
                        .groups = user->groups,
                        .n_groups = user->n_groups,
                };
        else if (t->has_user)
                *buf = (ProbeCommandIdentity) {
                        .uid = t->uid,
                        .gid = t->gid,
                        .groups = t->groups,
                        .n_groups = t->n_groups,
                };
        else
                return NULL;
        return buf;
}

int probe_command_sample(ProbeCommand *cmd, const ProbeEnv *env, const ProbeTarget *t, char *const *argv,
                         const ConfigUser *user, ProbeCommandDone done, void *userdata, ProbeResult *ret) {
        _cleanup_strv_free_ char **envp = NULL;
        ProbeCommandIdentity buf;
        ProbeCommandFailure f;
        int r;

        r = build_env(t, &envp);
        if (r < 0)
                return r;
        r = probe_command_start(cmd, env, argv, identity(user, t, &buf), envp, done, userdata, &f);
        if (r >= 0)
                return 1;
        if (!f.cannot_start)
                return r;
        ret->status = PROBE_UNKNOWN;
        probe_result_message(ret, "cannot start %s: %s%s%s", argv[0], f.step ?: "", f.step ? ": " : "",
                             strerror(-r));
        return 0;
}

size_t probe_command_first_line(const ProbeCommandOutcome *o) {
        const char *nl = o->size > 0 ? memchr(o->output, '\n', o->size) : NULL;
        size_t n = nl ? (size_t) (nl - o->output) : o->size;

        if (n > 0 && o->output[n - 1] == '\r')
                n--;
        return n;
}

void probe_command_evidence(const ProbeCommandOutcome *o, ProbeResult *r) {
        char sig[32], first[PROBE_COMMAND_EVIDENCE_OUTPUT_MAX], esc[PROBE_COMMAND_EVIDENCE_OUTPUT_MAX];
        size_t n = probe_command_first_line(o);

        if (o->code == CLD_EXITED)
                probe_result_evidence(r, "\"exit_status\":%d", o->status);
        else if (o->code == CLD_KILLED || o->code == CLD_DUMPED)
                probe_result_evidence(r, "\"exit_status\":null,\"signal\":\"%s\"",
                                      probe_command_signal_name(o->status, sig, sizeof sig));
        else
                probe_result_evidence(r, "\"exit_status\":null");
        (void) snprintf(first, sizeof first, "%.*s", (int) MIN(n, sizeof first - 1), n > 0 ? o->output : "");
        (void) json_escape(esc, sizeof esc, first);
        probe_result_evidence(r, "\"output\":%s", esc);
}

const char *probe_command_signal_name(int sig, char *buf, size_t size) {
        const char *n = sigabbrev_np(sig);

        if (n)
                (void) snprintf(buf, size, "SIG%s", n);
        else
                (void) snprintf(buf, size, "%d", sig);
        return buf;
}
