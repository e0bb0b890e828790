/* One configured probe on one target (an instance, or the host), running: its schedule (a
 * first sample at a random point of the interval, so that a thousand instances do not sample
 * together, then one every `every`), the sample's timeout, the hysteresis, the deferral of
 * hang verdicts on a starved host, and the incidents: firing opens or raises the probe's
 * incident, recovering resolves it, a probe that cannot run has an incident of its own. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "context.h"
#include "incident.h"
#include "probe-hysteresis.h"
#include "probe.h"

typedef enum ProbeRunState {
        PROBE_RUN_STOPPED,   /* its target does not run: no sample is taken */
        PROBE_RUN_WAITING,   /* the next sample is due when the timer fires */
        PROBE_RUN_SAMPLING,  /* a sample is under way; the timer is its timeout */
        _PROBE_RUN_STATE_MAX,
        _PROBE_RUN_STATE_INVALID = -EINVAL,
} ProbeRunState;

const char *probe_run_state_to_string(ProbeRunState s) _pure_;
ProbeRunState probe_run_state_from_string(const char *s) _pure_;

/* Fills a snapshot of the target at the moment of a sample (the instance's pid, cgroup...). */
typedef void (*ProbeRunTargetFunc)(void *userdata, ProbeTarget *ret);

typedef struct ProbeRun {
        const SupervisorContext *ctx;
        const ProbeConfig *config;
        const ProbeOps *ops;
        char *name;                  /* "api:0/memory", "host/disk": for messages */
        char *worker;                /* the key's strings, owned; NULL for the host */
        IncidentKey key;             /* CAUSE_PROBE */
        IncidentKey unknown_key;     /* CAUSE_PROBE_UNKNOWN */
        ProbeCheck check;
        ProbeHysteresis hysteresis;
        ProbeRunState state;
        sd_event_source *timer;
        usec_t due;                  /* CLOCK_MONOTONIC the current (or next) sample is due */
        usec_t verdict_due;          /* when the result in hand was due: a timer's time, or now
                                      * for an answer that came by itself (for TILT) */
        usec_t target_started_at;    /* the process what the kind learnt is about */
        ProbeRunTargetFunc target;
        void *target_userdata;
        usec_t deferred_since;       /* CLOCK_MONOTONIC; 0: no verdict is being deferred */
        uint64_t samples;
        uint64_t deferrals;
        bool adopted;                /* incidents left open were looked for (first start) */
} ProbeRun;

/* A run of config (whose kind must be registered) for instance `instance` of worker (NULL and
 * -1: the host), STOPPED. target is asked for a snapshot at each sample. If an incident of the
 * probe is open when it first starts (an earlier vigild's), it starts as firing, so that it
 * can recover.
 * Non-logging; -ENOMEM, -EOPNOTSUPP for an unknown kind. */
int probe_run_new(const SupervisorContext *ctx, const ProbeConfig *config, const char *worker, int instance,
                  ProbeRunTargetFunc target, void *target_userdata, ProbeRun **ret);
ProbeRun *probe_run_free(ProbeRun *r);

/* The target runs: sample from now on (the first sample within one interval). Idempotent. */
void probe_run_start(ProbeRun *r);
/* The target stopped: no more samples, a sample under way is abandoned. The hysteresis and any
 * open incident stay: they are about the target, which may come back. Idempotent. */
void probe_run_stop(ProbeRun *r);

/* Feeds one result as if a sample had just produced it (tests, and the async path). */
void probe_run_handle_result(ProbeRun *r, const ProbeResult *result);
