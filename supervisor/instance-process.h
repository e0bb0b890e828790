/* The processes of an instance, for instance.c only: the cgroup they run in, starting the main
 * process (output, environment, spawn) and watching its pidfd, signalling everything the
 * instance started, reaping the main process, and the context's pid and cgroup indexes that
 * must follow all of these. The state machine stays in instance.c: nothing here writes
 * ->state; what a failure here means is decided there. Logs what it works around. */
#pragma once

#include <stdbool.h>

#include "instance.h"

/* Replaces the instance's cgroup path (taking ownership of path, which may be NULL) and keeps
 * ctx->by_cgroup in step. */
void instance_process_set_cgroup(Instance *i, char *path);

/* Gets the cgroup ready for a start: made on first use, renewed after a kill. Returns 1 if
 * processes of an earlier run (or an earlier vigild) were still in it: they were sent SIGKILL
 * and the start must wait until the cgroup is empty. 0: the start may go on, with or without
 * a cgroup. */
int instance_process_prepare_cgroup(Instance *i);

/* Starts the main process as configured and watches its end. 0 with main_alive set, or -errno
 * with no process left behind (-EAGAIN/-ENOMEM: resources). */
int instance_process_spawn(Instance *i);

/* Sends sig to the main process (by pidfd), its process group and its cgroup. */
void instance_process_signal(Instance *i, int sig);

/* The main process was reaped: its pid leaves the index, its pidfd and watch are closed. */
void instance_process_clear_main(Instance *i);

/* What the end of the main process (already reaped, status si) was, as far as the process
 * itself tells: how it ended, a spawn failure its error pipe reported (the pipe is closed
 * now), an OOM kill in its cgroup, whether vigild had signalled it and why. ret->stopping is
 * left false for the caller to set. */
void instance_process_exit_info(Instance *i, const siginfo_t *si, ExitInfo *ret);
