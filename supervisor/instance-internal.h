/* What the files of the instance state machine share and nothing else includes: instance.c
 * (states, verbs, dispatchers), instance-notify.c (what notify messages mean for the instance),
 * instance-process.c (the processes), instance-record.c (the incident store) and
 * instance-probes.c (its probe runs). The log macros, the timer slack, and each file's
 * functions that another of them calls. Calls go one way: instance-notify.c calls instance.c,
 * instance.c calls instance-process.c, instance-record.c and instance-probes.c, and these call
 * nothing of the others. */
#pragma once

#include <stdbool.h>

#include "instance.h"
#include "log.h"

/* Timer slack: restarts must be prompt; stop timeouts and stability checks need not be. */
#define ACCURACY_RESTART_USEC (1 * USEC_PER_MSEC)
#define ACCURACY_TIMEOUT_USEC (10 * USEC_PER_MSEC)
#define ACCURACY_STABLE_USEC (1 * USEC_PER_SEC)

#define log_instance_full(i, level, mid, old, new, fmt, ...)                                       \
        log_fields_internal((level), 0,                                                            \
                            &(const LogFields) { .message_id = (mid),                              \
                                                 .worker = (i)->config->name,                      \
                                                 .instance = (int) (i)->index,                     \
                                                 .old_state = (old),                               \
                                                 .new_state = (new) },                             \
                            "%s: " fmt, (i)->name, ##__VA_ARGS__)

#define log_instance(i, level, fmt, ...) \
        log_instance_full(i, level, LOG_MID_INSTANCE_STATE, NULL, NULL, fmt, ##__VA_ARGS__)

/* ---- instance.c ---- */

/* Arms (making on first use) a timer of the instance. Non-logging: the caller decides what a
 * timer it cannot arm means for the instance. */
int instance_arm_timer(Instance *i, sd_event_source **s, usec_t when, usec_t accuracy,
                       sd_event_time_handler_t handler);

void instance_enter_running(Instance *i);
void instance_enter_stopping(Instance *i, ExitVerdict verdict);

/* A timer the instance needs could not be armed: FATAL (resources) with `what` in the reason,
 * after killing its processes. */
void instance_enter_fatal_resources(Instance *i, int error, const char *what);

/* (Re)arms the watchdog: WATCHDOG=1 must come within watchdog_usec of `from`. */
int instance_arm_watchdog(Instance *i, usec_t from);

/* ---- instance-probes.c ---- */

/* Makes a ProbeRun for each probe of the worker (STOPPED); -ENOMEM, leaving those made so far
 * for instance_probes_free(). */
int instance_probes_new(Instance *i);
void instance_probes_free(Instance *i);

/* The instance went from old to its current state: its probes sample while it is RUNNING. */
void instance_probes_follow_state(Instance *i, InstanceState old);

/* ---- instance-process.c ---- */

/* Replaces the instance's cgroup path (taking ownership of path, which may be NULL) and keeps
 * ctx->by_cgroup in step. */
void instance_process_set_cgroup(Instance *i, char *path);

/* Gets the cgroup ready for a start: made on first use, renewed after a kill. Returns 1 if
 * processes of an earlier run (or an earlier vigild) were still in it: they were sent SIGKILL
 * and the start must wait until the cgroup is empty. 0: the start may go on, with or without
 * a cgroup. */
int instance_process_prepare_cgroup(Instance *i);

/* Starts the main process as configured and watches its end: on_end is called when its pidfd
 * says it ended. 0 with main_alive set, or -errno with no process left behind (-EAGAIN,
 * -ENOMEM: resources). */
int instance_process_spawn(Instance *i, sd_event_io_handler_t on_end);

/* Reaps the main process if it has ended: 1 with its status in *ret, 0 while it runs, -errno
 * when its status cannot be had (-ECHILD: reaped elsewhere). */
int instance_process_reap(Instance *i, siginfo_t *ret);

/* Watches the cgroup's cgroup.events for on_event while the instance waits for it to empty
 * (no-op without a cgroup, or when already watching). A watch that cannot be made is logged;
 * the stop timeout then finds the empty cgroup instead. */
void instance_process_watch_cgroup(Instance *i, sd_event_inotify_handler_t on_event);
void instance_process_unwatch_cgroup(Instance *i);

/* Sends sig to the main process (by pidfd), its process group and its cgroup. */
void instance_process_signal(Instance *i, int sig);

/* The main process was reaped: its pid leaves the index, its pidfd and watch are closed. */
void instance_process_clear_main(Instance *i);

/* What the end of the main process (already reaped, status si) was, as far as the process
 * itself tells: how it ended, a spawn failure its error pipe reported (the pipe is closed
 * now), an OOM kill in its cgroup, whether vigild had signalled it and why. ret->stopping is
 * left false for the caller to set. */
void instance_process_exit_info(Instance *i, const siginfo_t *si, ExitInfo *ret);
