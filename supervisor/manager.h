/* The Manager: vigild's event loop, signals, the reaper, the worker table, the runtime-dir lock
 * and the daemon's own lifecycle (running -> stopping -> reaping orphans -> exited). Passed
 * explicitly everywhere: there is no global manager. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "cgroup.h"
#include "config.h"
#include "instance.h"
#include "notify.h"
#include "recorder.h"
#include "tilt.h"
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

        sd_event_source *sigchld_source;
        sd_event_source *sigterm_source;
        sd_event_source *sigint_source;
        sd_event_source *sighup_source;
        sd_event_source *reap_timer;
        bool stopping_all;           /* inside manager_stop()'s loop over the workers */
        int exit_code;

        Recorder *recorder;          /* the incident store; NULL until manager_startup() */
        NotifySocket *notify;        /* NOTIFY_SOCKET for the workers */
        char *notify_env;            /* "NOTIFY_SOCKET=PATH" */
        Tilt tilt;
        sd_event_source *status_source; /* sends STATUS= to systemd once a burst of changes is over */
        char *last_status;
        bool journal_stream;         /* journald's stdout stream socket exists */
        sd_event_source *stall_source;  /* test hooks: SIGUSR2 holds the loop */
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

/* The reaper's lookup: the instance whose unreaped process has this pid, or NULL. */
Instance *manager_find_instance_by_pid(const Manager *m, pid_t pid);

/* Called by instances whenever one of them may have become idle, so a stopping manager can
 * tell when it is done. */
void manager_check_stopped(Manager *m);

/* An instance changed state: STATUS= to systemd is refreshed once the loop is idle. */
void manager_state_changed(Manager *m);

/* A timeout verdict (start_timeout, watchdog) whose timer was due at `due` is about to be
 * given: false while the TILT guard says the observation cannot be trusted. Logs the start of
 * a TILT. ret_until (optional) gets the end of the suspension. */
bool manager_verdict_allowed(Manager *m, usec_t due, usec_t *ret_until);

const char *manager_state_to_string(ManagerState s) _pure_;
ManagerState manager_state_from_string(const char *s) _pure_;
