/* One running copy of a worker and its state machine (DESIGN.md "Worker lifecycle"). The
 * Instance is the one authoritative record of that copy: nothing else creates a second one.
 * Its state has one writer, instance_set_state(); desired state (want_up) is kept apart from
 * the observed state. It sees the daemon only through its SupervisorContext, its worker's
 * config and the worker's crash-loop breaker, never the Manager or the Worker. */
#pragma once

#include <stdbool.h>
#include <signal.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "context.h"
#include "crash-loop.h"
#include "exit-status.h"
#include "incident.h"
#include "instance-state.h"
#include "macro.h"
#include "notify.h"
#include "output.h"
#include "probe-run.h"
#include "ratelimit.h"
#include "store.h"
#include "time-util.h"

struct Instance {
        const SupervisorContext *ctx;
        const WorkerConfig *config;  /* the worker's, owned by the manager's Config */
        CrashLoop *crash_loop;       /* the worker's breaker, shared by its instances */
        unsigned index;
        char *name;                  /* "api:0", for messages */
        IncidentKey failure_key;     /* its incidents: failures, and resource waits */
        IncidentKey resource_key;
        char *cgroup_path;           /* NULL without a cgroup */
        bool cgroup_stale;           /* emptied by cgroup.kill, or left by an earlier vigild:
                                      * renewed before the next start (cgroup_renew()) */

        InstanceState state;
        bool want_up;

        /* The current process, tracked and reaped through its pidfd: the pid cannot be reused
         * before we reap it, and is kept as the key of ctx->by_pid. */
        pid_t pid;
        int pidfd;
        sd_event_source *pidfd_source; /* the process ended: reap it */
        int errfd;                   /* spawn error pipe until exec or exit */
        sd_event_source *errfd_source;
        bool main_alive;
        usec_t started_at;           /* CLOCK_MONOTONIC of the spawn */
        usec_t running_at;
        uint64_t oom_kills_at_start;
        bool have_oom_baseline;
        bool signalled_by_us;        /* we sent the stop signal or SIGKILL to this process */
        SpawnStage spawn_stage;      /* valid when spawn_errno != 0 */
        int spawn_errno;

        ExitInfo last_exit;
        ExitClass last_class;
        bool end_deferred;           /* EXITED: last_exit waits out the outside-stop grace */
        FatalReason fatal_reason;
        FatalReason fatal_pending;   /* ended by vigild for lack of resources: FATAL once gone */

        unsigned restarts;           /* consecutive restarts: the backoff level */
        unsigned deaths;             /* failed ends since it last ran stably */
        unsigned resource_waits;
        usec_t resource_wait_since;
        bool resource_escalated;
        bool breaker_trial;          /* this run is the breaker's half-open trial */

        /* Made with the instance and only armed later, so that arming cannot fail for lack of
         * memory in the middle of a transition. */
        sd_event_source *timer;      /* the state's timer: start_secs, stop timeout, backoff */
        sd_event_source *stable_timer; /* reset_after: clears the backoff level */
        sd_event_source *trial_timer;  /* trial_ok: closes the breaker */
        sd_event_source *watchdog_timer; /* RUNNING with a watchdog: WATCHDOG=1 must come first */
        sd_event_source *cgroup_watch; /* inotify on cgroup.events while waiting for it to empty */
        unsigned kill_rounds;        /* STOPPING/EXITED: SIGKILLs sent after stop timeouts */

        /* The notify protocol. */
        usec_t watchdog_usec;        /* current interval (config, or the worker's WATCHDOG_USEC=) */
        ExitVerdict verdict;         /* set when vigild ends the process as unresponsive */
        usec_t verdict_held_since;   /* a hang verdict has been deferred since (0: none) */
        RateLimit notify_limit;      /* messages accepted from this instance's processes */
        char status_text[NOTIFY_STATUS_MAX]; /* the worker's last STATUS= */
        int worker_errno;            /* the worker's last ERRNO=, 0 if none */
        OutputPipe *output;          /* worker output forwarded to stderr without journald */

        /* Probes: one run per probe of the worker, and what the worker reports for them. */
        ProbeRun **probes;
        size_t n_probes;
        ProbeReports reports;
};

/* Allocates instance `index` of the worker `config`, STOPPED with want_up false, with its
 * timers made (disarmed) on ctx->event. ctx, config and crash_loop are borrowed and must
 * outlive it. Non-logging; -ENOMEM. */
int instance_new(const SupervisorContext *ctx, const WorkerConfig *config, CrashLoop *crash_loop, unsigned index,
                 Instance **ret);

/* Frees; the instance must have no process (callers stop it first). Accepts NULL. */
Instance *instance_free(Instance *i);

/* Operator/config intent: want it up and start it if it is not (also out of FATAL and
 * COMPLETED). Logs. */
void instance_start(Instance *i);

/* Want it down: stop the process if there is one. Logs. */
void instance_stop(Instance *i);

/* A message from one of the instance's processes on the notify socket. Logs. */
void instance_on_notify(Instance *i, const NotifyMessage *msg);

/* The main process ended with this status (already reaped). Normally called from the
 * instance's own pidfd source; the manager calls it for a child whose end it met first, and
 * tests call it directly. Logs. */
void instance_on_exit(Instance *i, const siginfo_t *si);

/* Reaps the main process if it has ended and hands its status to instance_on_exit(): for the
 * manager, when a SIGCHLD shows that a watched process ended before its pidfd was seen. */
void instance_reap(Instance *i);

/* The breaker half-opened or closed: an instance held in FATAL by the breaker that is still
 * wanted starts again (as the trial when the breaker is half-open). */
void instance_breaker_retry(Instance *i);

/* True while the instance has a process or a cgroup still holding processes. */
bool instance_has_processes(const Instance *i) _pure_;

InstanceActiveState instance_active_state(const Instance *i) _pure_;

/* Takes over the crash-loop state an earlier vigild saved (backoff level, deaths), before
 * the instance first starts. */
void instance_restore_state(Instance *i, const StoreInstanceState *st);
