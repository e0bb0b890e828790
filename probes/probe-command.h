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

/* The bound of the first line in the evidence, escaped (a control character takes six bytes). */
#define PROBE_COMMAND_EVIDENCE_OUTPUT_MAX 1024U

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

/* The user a command runs as (a NULL identity: vigild's own). */
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

/* ---- For the kinds that run commands ---- */

/* Starts argv as one sample of a probe on t, what a kind's check() does: the environment is
 * PATH (a fixed list), LANG=C.UTF-8 and, for an instance, VIGIL_WORKER, VIGIL_INSTANCE and
 * VIGIL_PID (when it has a main process); the user is user when it names one, else the
 * target's (a worker's), else vigild's. Returns what check() returns: 1, and done comes later
 * as for probe_command_start(); 0 for a command that could not start, with *ret UNKNOWN
 * "cannot start PATH: [STEP: ]REASON"; -errno when the runner could not run one. */
int probe_command_sample(ProbeCommand *cmd, const ProbeEnv *env, const ProbeTarget *t, char *const *argv,
                         const ConfigUser *user, ProbeCommandDone done, void *userdata, ProbeResult *ret);

/* The length of o's first line, without its line end ("\n" or "\r\n"). */
size_t probe_command_first_line(const ProbeCommandOutcome *o);

/* Adds to r's evidence how o ended ("exit_status":N; or null, with "signal":"SIGKILL" for a
 * death by a signal) and its first line ("output", at most PROBE_COMMAND_EVIDENCE_OUTPUT_MAX
 * bytes escaped). */
void probe_command_evidence(const ProbeCommandOutcome *o, ProbeResult *r);

/* "SIGKILL", or the number where the signal has no name. */
const char *probe_command_signal_name(int sig, char *buf, size_t size);
