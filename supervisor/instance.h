/* One running copy of a worker and its state machine (DESIGN.md "Worker lifecycle"). The
 * Instance is the one authoritative record of that copy: nothing else creates a second one.
 * Its state has one writer, instance_set_state(); desired state (want_up) is kept apart from
 * the observed state. */
#pragma once

#include <stdbool.h>
#include <signal.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "exit-status.h"
#include "macro.h"
#include "notify.h"
#include "output.h"
#include "ratelimit.h"
#include "restart-policy.h"
#include "store.h"
#include "time-util.h"

typedef struct Worker Worker;

typedef enum InstanceState {
        INSTANCE_STOPPED,    /* no process, none wanted or not started yet */
        INSTANCE_STARTING,   /* forked; running once start_secs have passed */
        INSTANCE_RUNNING,
        INSTANCE_STOPPING,   /* stop signal sent; waiting for the process (and cgroup) to end */
        INSTANCE_EXITED,     /* main process ended; waiting for the rest of its cgroup to go */
        INSTANCE_BACKOFF,    /* waiting to restart (backoff delay or resource wait) */
        INSTANCE_FATAL,      /* given up: permanent error, or the worker's breaker is open */
        INSTANCE_COMPLETED,  /* ended cleanly under on-failure / never */
        _INSTANCE_STATE_MAX,
        _INSTANCE_STATE_INVALID = -EINVAL,
} InstanceState;

/* Coarse public states (STYLE rule 13), for summaries. */
typedef enum InstanceActiveState {
        INSTANCE_INACTIVE,
        INSTANCE_ACTIVATING,
        INSTANCE_ACTIVE,
        INSTANCE_DEACTIVATING,
        INSTANCE_FAILED,
        _INSTANCE_ACTIVE_STATE_MAX,
        _INSTANCE_ACTIVE_STATE_INVALID = -EINVAL,
} InstanceActiveState;

typedef enum FatalReason {
        FATAL_NONE,
        FATAL_PERMANENT,     /* permanent exit code or spawn failure: an operator must act */
        FATAL_BREAKER,       /* the worker's breaker is open: retried when it half-opens */
        FATAL_POLICY,        /* restart = never */
        _FATAL_REASON_MAX,
        _FATAL_REASON_INVALID = -EINVAL,
} FatalReason;

typedef struct Instance {
        Worker *worker;
        unsigned index;
        char *name;                  /* "api:0", for messages */
        char *cgroup_path;           /* NULL without a cgroup */
        bool cgroup_stale;           /* emptied by cgroup.kill, or left by an earlier vigild:
                                      * renewed before the next start (cgroup_renew()) */

        InstanceState state;
        bool want_up;

        /* The current process. pid is kept only as the key the reaper looks us up by: it cannot
         * be reused before we reap it. Signals go through pidfd. */
        pid_t pid;
        int pidfd;
        int errfd;                   /* spawn error pipe until exec or exit */
        sd_event_source *errfd_source;
        bool main_alive;
        usec_t started_at;           /* CLOCK_MONOTONIC of the fork */
        usec_t running_at;
        uint64_t oom_kills_at_start;
        bool have_oom_baseline;
        bool signalled_by_us;        /* we sent the stop signal or SIGKILL to this process */
        SpawnStage spawn_stage;      /* valid when spawn_errno != 0 */
        int spawn_errno;

        ExitInfo last_exit;
        ExitClass last_class;
        bool end_deferred;           /* EXITED: last_exit waits out the outside-stop grace */
        bool failure_recorded;       /* this end was already counted by the breaker (failed trial) */
        FatalReason fatal_reason;

        unsigned restarts;           /* consecutive restarts: the backoff level */
        unsigned deaths;             /* failed ends since it last ran stably */
        unsigned resource_waits;
        usec_t resource_wait_since;
        bool resource_escalated;
        bool breaker_trial;          /* this run is the breaker's half-open trial */

        sd_event_source *timer;      /* the state's timer: start_secs, stop timeout, backoff */
        sd_event_source *stable_timer; /* reset_after: clears the backoff level */
        sd_event_source *trial_timer;  /* trial_ok: closes the breaker */
        sd_event_source *cgroup_watch; /* inotify on cgroup.events while waiting for it to empty */
        unsigned kill_rounds;        /* STOPPING/EXITED: SIGKILLs sent after stop timeouts */

        /* The notify protocol. */
        sd_event_source *watchdog_timer; /* RUNNING with a watchdog: WATCHDOG=1 must come first */
        usec_t watchdog_usec;        /* current interval (config, or the worker's WATCHDOG_USEC=) */
        ExitVerdict verdict;         /* set when vigild ends the process as unresponsive */
        RateLimit notify_limit;      /* messages accepted from this instance's processes */
        char status_text[NOTIFY_STATUS_MAX]; /* the worker's last STATUS= */
        int worker_errno;            /* the worker's last ERRNO=, 0 if none */
        OutputPipe *output;          /* worker output forwarded to stderr without journald */
} Instance;

/* Allocates an instance of w, STOPPED with want_up false. Non-logging. */
int instance_new(Worker *w, unsigned index, Instance **ret);

/* Frees; the instance must have no process (callers stop it first). Accepts NULL. */
Instance *instance_free(Instance *i);

/* Operator/config intent: want it up and start it if it is not (also out of FATAL and
 * COMPLETED). Logs. */
void instance_start(Instance *i);

/* Want it down: stop the process if there is one. Logs. */
void instance_stop(Instance *i);

/* A message from one of the instance's processes on the notify socket. Logs. */
void instance_on_notify(Instance *i, const NotifyMessage *msg);

/* Called by the reaper with the reaped status of i->pid. Logs. */
void instance_on_exit(Instance *i, const siginfo_t *si);

/* The worker's breaker half-opened or closed: an instance held in FATAL by the breaker that is
 * still wanted starts again (as the trial when the breaker is half-open). */
void instance_breaker_retry(Instance *i);

/* True while the instance has a process or a cgroup still holding processes. */
bool instance_has_processes(const Instance *i) _pure_;

InstanceActiveState instance_active_state(const Instance *i) _pure_;

const char *instance_state_to_string(InstanceState s) _pure_;
InstanceState instance_state_from_string(const char *s) _pure_;
const char *instance_active_state_to_string(InstanceActiveState s) _pure_;
InstanceActiveState instance_active_state_from_string(const char *s) _pure_;
const char *fatal_reason_to_string(FatalReason r) _pure_;
FatalReason fatal_reason_from_string(const char *s) _pure_;

/* Takes over the crash-loop state an earlier vigild saved (backoff level, deaths), before
 * the instance first starts. */
void instance_restore_state(Instance *i, const StoreInstanceState *st);
