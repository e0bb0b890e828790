/* Forking and exec'ing one worker instance. The parent prepares everything that allocates or
 * may block (argv, environment, journal stream fds) before fork(); the child only makes
 * system calls, in the order the design fixes: process group, cgroup, signals, groups and
 * user, umask, rlimits, cwd, stdio, exec. A failing child reports (stage, errno) through a
 * close-on-exec pipe and _exit()s. Non-logging. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "exit-status.h"

typedef struct SpawnParams {
        const WorkerConfig *worker;
        unsigned instance;
        const char *cgroup_path;   /* NULL: no cgroup, process group only */
        int stdout_fd;             /* -EBADF: open from worker->output[0] in the child */
        int stderr_fd;             /* -EBADF: open from worker->output[1] in the child */
        char *const *extra_env;    /* more "NAME=VALUE" set after vigil's own, before the config's */
        bool watchdog_pid;         /* set WATCHDOG_PID to the child's own pid (with WATCHDOG_USEC
                                    * in extra_env, sd_watchdog_enabled() in the worker says yes) */
} SpawnParams;

/* Builds the worker's environment (PATH, LANG, HOME/USER/LOGNAME/SHELL of its user,
 * VIGIL_WORKER, VIGIL_INSTANCE, extra_env, then the configured environment; never vigild's
 * own NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*, JOURNAL_STREAM or INVOCATION_ID).
 * Returns a strv the caller frees. */
int spawn_build_env(const WorkerConfig *w, unsigned instance, char *const *extra_env, char ***ret_env);

/* Starts the instance. On success returns 0 with the child's pid, a pidfd for it (O_CLOEXEC)
 * and the read end of the error pipe (O_CLOEXEC|O_NONBLOCK): EOF on it means exec succeeded.
 * The child is made by clone_vfork() (it shares vigild's memory until exec and is born in its
 * cgroup; spawn_worker() returns once it has exec'd or failed), else by clone_fork() with the
 * child writing itself into cgroup.procs. Either way the pidfd refers to this child from its
 * first instant. The stdout_fd/stderr_fd given in p are not consumed; the caller closes them
 * after this call. Fails with -errno of clone()/pipe() (-EAGAIN, -ENOMEM: resource), or of
 * the environment build; on failure no child is left behind. */
int spawn_worker(const SpawnParams *p, pid_t *ret_pid, int *ret_pidfd, int *ret_errfd);

/* Reserves three low descriptor numbers (and a /dev/null descriptor) through which a spawn
 * hands the child its descriptors, so that the child can drop the rest of vigild's table
 * without copying it first (see spawn.c). Idempotent. Call early, while low numbers are free;
 * without it every vfork-style spawn copies the whole table. */
int spawn_reserve_slots(void);

/* Gives the slots back (tests, leak checkers). */
void spawn_release_slots(void);

/* Non-blocking read of the error pipe. Returns 1 and fills stage/errno if the child reported
 * a failure, 0 on EOF (exec succeeded, or the child died before writing anything), -EAGAIN if
 * the child has neither exec'd nor failed yet. */
int spawn_read_error(int errfd, SpawnStage *ret_stage, int *ret_errno);
