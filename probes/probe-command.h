/* A probe's command run asynchronously (probe-command.c): what the exec kind judges as a
 * monitoring plugin and what the queue kind reads a depth from. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "config-user.h"
#include "probe.h"

/* At most this much of a command's output is kept (stdout and stderr as they came). */
#define PROBE_COMMAND_OUTPUT_MAX 4096U

/* Output past what is kept is read and dropped up to this much in all; then the pipe is
 * closed, and a command that goes on writing meets EPIPE: a sample does bounded work. */
#define PROBE_COMMAND_READ_MAX (64U * 1024U)

/* How a command ended and what it printed. */
typedef struct ProbeCommandOutcome {
        int code;            /* siginfo si_code: CLD_EXITED, CLD_KILLED, CLD_DUMPED; 0: unknown */
        int status;          /* the exit status, or the signal */
        const char *output;  /* stdout and stderr as they came, not NUL-terminated */
        size_t size;         /* bytes of output, at most PROBE_COMMAND_OUTPUT_MAX */
        bool truncated;      /* the command printed more than was kept */
} ProbeCommandOutcome;

/* The user a command runs as; NULL where one is asked for: vigild's own. */
typedef struct ProbeCommandIdentity {
        uid_t uid;
        gid_t gid;
        const gid_t *groups;
        size_t n_groups;
} ProbeCommandIdentity;

/* Why probe_command_start() failed. */
typedef struct ProbeCommandFailure {
        bool cannot_start;   /* the command itself could not be started (its path, its user): a
                              * fact about the command; false: the runner could not run one now
                              * (busy, out of memory, no pidfd) */
        const char *step;    /* with cannot_start: the step that failed ("pipe", "setgroups",
                              * ...); NULL for the clone and the execve() of argv[0] */
} ProbeCommandFailure;

typedef struct ProbeCommand ProbeCommand;
typedef void (*ProbeCommandDone)(ProbeCommand *cmd, const ProbeCommandOutcome *o, void *userdata);

/* A command under way or on its way out, kept in a kind's state. Zeroed means idle; the
 * fields are the runner's own. The descriptors belong to the event sources. */
struct ProbeCommand {
        const ProbeEnv *env;            /* of the last start */
        pid_t pid;                      /* the command until it is reaped; 0: none */
        sd_event_source *child_source;  /* on its pidfd, while pid != 0 */
        sd_event_source *output_source; /* on the read end of its output pipe, until EOF */
        bool running;                   /* an outcome is owed: started, not cancelled */
        int code, status;               /* how it ended, once reaped */
        size_t n_output, n_read;
        ProbeCommandDone done;
        void *userdata;
        char output[PROBE_COMMAND_OUTPUT_MAX];
};

/* Starts argv (argv[0] an absolute path) with envp as its whole environment, as id (NULL:
 * vigild's user), in a session of its own, with /dev/null as stdin and one pipe for stdout and
 * stderr, nothing else open, default signal dispositions, in /. The child is registered with
 * env->child_watch() before the loop runs again, and reaped by cmd alone. Returns 0: done(cmd,
 * outcome, userdata) is called exactly once from the loop, once the command has ended and its
 * output is read (whatever it left running in its session is then killed), unless
 * probe_command_cancel() or probe_command_done() comes first; the outcome is valid during the
 * call, and done may free cmd. -EBUSY while the last command (killed, or failed to start) is
 * not reaped yet; -errno otherwise, with *reterr saying whether it is the command that could
 * not start. Nothing is called back after a failure. argv, id and envp are used during the
 * call only. Non-logging; waits for the command's execve() (or its failure) at most. */
int probe_command_start(ProbeCommand *cmd, const ProbeEnv *env, char *const *argv,
                        const ProbeCommandIdentity *id, char *const *envp, ProbeCommandDone done,
                        void *userdata, ProbeCommandFailure *reterr);

/* Kills the command under way with its whole session; nothing is called back. Its pidfd is
 * followed until the process is gone, then it is reaped and unwatched. Idempotent. */
void probe_command_cancel(ProbeCommand *cmd);

/* Cancels, and hands a command not yet dead to the daemon (unwatched: vigild reaps it):
 * cmd holds nothing afterwards and may be freed. Accepts an idle (zeroed) cmd. */
void probe_command_done(ProbeCommand *cmd);

/* ---- Helpers for the kinds that run commands ---- */

/* The environment of a probe's command on t: PATH (a fixed list), LANG=C.UTF-8 and, for an
 * instance, VIGIL_WORKER, VIGIL_INSTANCE and VIGIL_PID (when there is a main process). A strv
 * the caller frees. -ENOMEM. */
int probe_command_build_env(const ProbeTarget *t, char ***ret);

/* Who runs a probe's command: the probe's own user when configured, else the target's (a
 * worker's), else vigild's (NULL). Points into user, t or *buf. */
const ProbeCommandIdentity *probe_command_identity(const ConfigUser *user, const ProbeTarget *t,
                                                   ProbeCommandIdentity *buf);

/* For a check() whose probe_command_start() of path failed with error: a command that could
 * not start is a result, UNKNOWN "cannot start PATH: [STEP: ]REASON", in *ret, and 0 is
 * returned; else error, for check() to return. */
int probe_command_failure_result(const char *path, int error, const ProbeCommandFailure *f, ProbeResult *ret);

/* "SIGKILL", or the number where the signal has no name. */
const char *probe_command_signal_name(int sig, char *buf, size_t size);
