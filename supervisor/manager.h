/* The Manager: vigild's event loop, signals, the reaper, the worker table, the runtime-dir lock
 * and the daemon's own lifecycle (running -> stopping -> reaping orphans -> exited). Passed
 * explicitly everywhere: there is no global manager. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "cgroup.h"
#include "config.h"
#include "context.h"
#include "hashmap.h"
#include "instance.h"
#include "notify.h"
#include "recorder.h"
#include "tilt.h"
#include "upstream.h"
#include "worker.h"

typedef enum ManagerState {
        MANAGER_STARTING,
        MANAGER_RUNNING,
        MANAGER_STOPPING,    /* stopping every worker */
        MANAGER_REAPING,     /* workers gone; ending orphaned descendants that left their group */
        MANAGER_EXITED,
        _MANAGER_STATE_MAX,
        _MANAGER_STATE_INVALID = -EINVAL,
} ManagerState;

typedef struct Manager {
        sd_event *event;
        Config *config;
        Worker **workers;
        size_t n_workers;
        CgroupRoot *cgroup_root;     /* NULL when no worker uses cgroups or none can be made */
        int lock_fd;
        ManagerState state;
        SupervisorContext ctx;       /* what workers and instances see of the manager */

        /* Kept by the instances through ctx, sized for all of them: the instance of a live
         * main pid, and of a cgroup path (notify senders, orphans). */
        Hashmap *by_pid;
        Hashmap *by_cgroup;
        /* Instances per state, kept by ctx.state_changed: STATUS= and "all stopped?" without
         * walking every instance. */
        unsigned n_instances;
        unsigned n_by_state[_INSTANCE_STATE_MAX];

        sd_event_source *sigchld_source;
        sd_event_source *sigterm_source;
        sd_event_source *sigint_source;
        sd_event_source *sighup_source;
        sd_event_source *reap_timer;
        sd_event_source *orphan_sweep; /* after explained SIGCHLDs: reaps orphans they hid */
        sd_event_source *status_source; /* refreshes STATUS= once a burst of changes is over */
        bool stopping_all;           /* inside manager_stop()'s loop over the workers */
        int exit_code;

        Recorder *recorder;          /* the incident store; NULL until manager_startup() */
        NotifySocket *notify;        /* NOTIFY_SOCKET for the workers */
        char *notify_env;            /* "NOTIFY_SOCKET=PATH" */
        Upstream *upstream;          /* READY=1, STATUS=, pings to our own service manager */
        Tilt tilt;
        bool journal_stream;         /* journald's stdout stream socket exists */
        sd_event_source *stall_source;  /* test hooks: SIGUSR2 holds the loop */

        /* Probes (manager-probes.c): what they are lent, the pids of their children (pid ->
         * who reaps it), the host probes, and the last reading of the host's pressure. */
        ProbeEnv probe_env;
        Hashmap *probe_children;
        ProbeRun **host_probes;
        size_t n_host_probes;
        usec_t starved_checked_at;
        bool starved;
        char starved_why[128];
} Manager;

/* Creates a manager that takes ownership of config (even on failure). Blocks the signals it
 * handles. Logs. */
int manager_new(Config *config, Manager **ret);

/* Frees; accepts NULL; returns NULL. Releases the lock. */
Manager *manager_free(Manager *m);
static inline void manager_freep(Manager **m) {
        manager_free(*m);
}

/* Takes the runtime-dir lock, becomes subreaper, sets up cgroups, kills leftovers of a dead
 * predecessor and starts every worker. Logs; returns -errno on a fatal start-up error. */
int manager_startup(Manager *m);

/* Runs the loop until every worker has stopped after SIGTERM/SIGINT. Returns the exit code. */
int manager_run(Manager *m);

/* True once vigild is stopping: worker ends are "stopped" and nothing restarts. */
bool manager_is_stopping(const Manager *m) _pure_;

const char *manager_state_to_string(ManagerState s) _pure_;
ManagerState manager_state_from_string(const char *s) _pure_;
