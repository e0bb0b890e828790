/* What a worker, an instance or a crash-loop breaker may use of the daemon around it, in place
 * of the Manager: the loop, the recorder, the cgroup root, the notify environment, the indexes
 * that map a pid or a cgroup to its instance, and three questions and one report for the
 * manager. The manager builds one and outlives everything that holds it; a unit test builds
 * its own with fakes (a loop that is never run, no recorder, callbacks that count). */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "cgroup.h"
#include "hashmap.h"
#include "instance-state.h"
#include "probe.h"
#include "recorder.h"
#include "time-util.h"

typedef struct Instance Instance;

typedef struct SupervisorContext {
        sd_event *event;
        Recorder *recorder;            /* NULL: nothing is recorded */
        const CgroupRoot *cgroup_root; /* NULL: no cgroups, process groups only */
        const char *notify_env;        /* "NOTIFY_SOCKET=PATH" for workers; NULL: none */
        bool journal_stream;           /* journald's stdout stream socket exists */
        const ProbeEnv *probe_env;     /* what probes are lent: loop, pressure, child care */

        /* pid of a live main process -> Instance, and cgroup path -> Instance, kept by
         * instance.c as pids and cgroups come and go. Sized by their owner for every instance,
         * so that keeping them never allocates. NULL: not kept. */
        Hashmap *by_pid;
        Hashmap *by_cgroup;

        /* Whether vigild is stopping: every end is then "stopped" and nothing starts. */
        bool (*stopping)(void *userdata);
        /* An instance changed state (once per change, after it): counts, STATUS=, "all
         * stopped?". */
        void (*state_changed)(void *userdata, Instance *i, InstanceState old);
        /* A hang verdict (a missed READY=1 or WATCHDOG=1, a probe timeout, no progress) due at
         * `due` is about to be given: false while it cannot be trusted, because the TILT guard
         * distrusts the observation or the host is starved (pressure), with the time to ask
         * again in *ret_until and why in why (why_size bytes, a short phrase). held_since is
         * when the caller began to defer this verdict (0: it has not): a starved host holds a
         * verdict back for daemon.starved_max_defer at most. */
        bool (*verdict_allowed)(void *userdata, usec_t due, usec_t held_since, usec_t *ret_until, char *why,
                                size_t why_size);
        void *userdata;
} SupervisorContext;
