/* The probe interface: what a kind is (ProbeOps, a const vtable in one file per kind, listed
 * once in probe-registry.c), what it is given (a ProbeTarget snapshot and its ProbeCheck) and
 * what it gives back (a ProbeResult). Kinds see neither Instance nor Manager: supervisor/
 * builds the target and runs the schedule, the hysteresis and the incidents. probes/ never
 * logs above debug and never blocks: a kind that waits (a command, a socket) returns 1 and
 * calls probe_check_done() later from the loop, exactly once, never after cancel. */
#pragma once

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "config-probe.h"
#include "incident.h"
#include "macro.h"
#include "time-util.h"

typedef enum ProbeStatus {
        PROBE_OK,
        PROBE_WARNING,
        PROBE_CRITICAL,
        PROBE_UNKNOWN,     /* the probe itself could not run: no verdict on the worker */
        _PROBE_STATUS_MAX,
        _PROBE_STATUS_INVALID = -EINVAL,
} ProbeStatus;

const char *probe_status_to_string(ProbeStatus s) _pure_;
ProbeStatus probe_status_from_string(const char *s) _pure_;

#define PROBE_MESSAGE_MAX 256
#define PROBE_EVIDENCE_MAX 3072

typedef struct ProbeResult {
        ProbeStatus status;
        bool no_verdict;   /* nothing to judge yet (a rate's first sample): counts neither way */
        bool hang;         /* a bad status that says "does not respond" (a timeout, no progress):
                            * deferred while the host is starved */
        double value;      /* what was measured, in the kind's unit; NAN: nothing */
        double threshold;  /* what it was compared with; NAN: none */
        char message[PROBE_MESSAGE_MAX];    /* one line, for the journal and the incident */
        char evidence[PROBE_EVIDENCE_MAX];  /* members of a JSON object without the braces
                                             * ("\"samples\":[...],\"slope\":1.5"); "" for none */
} ProbeResult;

/* What the worker itself reported over the notify socket; kept by its instance. */
typedef struct ProbeReports {
        bool has_progress;
        uint64_t progress;          /* X_VIGIL_PROGRESS= */
        usec_t progress_at;         /* CLOCK_MONOTONIC of the last change of the counter */
        usec_t heartbeat_at;        /* of the last WATCHDOG=1; 0: none yet */
        bool has_queue;
        uint64_t queue;             /* X_VIGIL_QUEUE= */
        usec_t queue_at;
} ProbeReports;

/* A snapshot of what is probed, valid during check() only (copy what outlives it). */
typedef struct ProbeTarget {
        const char *worker;         /* NULL: the host */
        int instance;               /* -1: the host */
        const char *name;           /* "api:0", or "host" */
        pid_t pid;                  /* main process (also its process group and session); 0: none */
        const char *cgroup_path;    /* its own cgroup directory; NULL: none */
        usec_t started_at;          /* CLOCK_MONOTONIC start of this process: a new one starts
                                     * trends afresh */
        bool has_user;              /* run commands as this user (the worker's) */
        uid_t uid;
        gid_t gid;
        const gid_t *groups;
        size_t n_groups;
        const ProbeReports *reports; /* NULL for the host */
} ProbeTarget;

/* What the daemon lends every probe: the loop, where the host's pressure is read, and the care
 * of child processes. vigild reaps any child it does not know; a kind that starts a command
 * registers its pid here first, so that the daemon leaves the reaping to it (and, should it
 * meet the end first, calls reap(reap_userdata), which must reap without blocking). */
typedef struct ProbeEnv {
        sd_event *event;
        const char *pressure_dir;   /* "/proc/pressure", or a test's stand-in */
        int (*child_watch)(void *userdata, pid_t pid, void (*reap)(void *reap_userdata), void *reap_userdata);
        void (*child_unwatch)(void *userdata, pid_t pid);
        void *userdata;
} ProbeEnv;

typedef struct ProbeCheck ProbeCheck;
typedef void (*ProbeCheckDone)(ProbeCheck *c, const ProbeResult *r, void *userdata);

/* One configured probe on one target, as the runner holds it across samples. */
struct ProbeCheck {
        const struct ProbeOps *ops;
        const ProbeConfig *config;
        const void *settings;       /* config->settings: the kind's keys */
        const ProbeEnv *env;        /* borrowed; outlives the check */
        void *state;                /* ops->state_size bytes kept between samples, zeroed at first */
        bool pending;               /* a sample is under way (check() returned 1) */
        ProbeCheckDone done;
        void *userdata;
};

typedef struct ProbeOps {
        ProbeKindSpec spec;         /* the kind's name, keys and threshold forms, for conf/ */
        Category category;          /* of its incidents: resource, transient... */
        size_t state_size;          /* per-target state kept between samples; 0: none */
        /* A result past the timeout: the runner cancels the sample and reports this status,
         * flagged as a hang when it is not UNKNOWN (tcp, http: CRITICAL; a command: UNKNOWN). */
        ProbeStatus timeout_status;

        /* Takes one sample. 0: *ret is filled now. 1: the result comes later through
         * probe_check_done(), exactly once, from the loop. -errno: the probe could not run at
         * all (the runner reports UNKNOWN with the error). Non-logging. */
        int (*check)(ProbeCheck *c, const ProbeTarget *t, ProbeResult *ret);
        /* Abandons the sample under way (after a timeout, or the target went away); nothing is
         * called back afterwards. NULL for kinds that always answer at once. */
        void (*cancel)(ProbeCheck *c);
        /* Forgets what was learnt of the target (its process was replaced), and frees what the
         * state holds when done is true. NULL: the state holds nothing to forget. */
        void (*reset)(ProbeCheck *c, bool done);
} ProbeOps;

/* Prepares c for ops and config (allocating its state); -ENOMEM. */
int probe_check_init(ProbeCheck *c, const ProbeOps *ops, const ProbeConfig *config, const ProbeEnv *env,
                     ProbeCheckDone done, void *userdata);
/* Cancels a sample under way and frees the state. Idempotent. */
void probe_check_release(ProbeCheck *c);

/* Runs one sample: what ops->check() returns, with c->pending set for 1 and ret filled with
 * UNKNOWN and the error for -errno (then returns 0). */
int probe_check_start(ProbeCheck *c, const ProbeTarget *t, ProbeResult *ret);
/* Stops a sample under way (ops->cancel), if any. */
void probe_check_cancel(ProbeCheck *c);

/* For async kinds: delivers the result of the sample under way. Must be called exactly once
 * per check() that returned 1, from a loop callback, never after cancel. */
void probe_check_done(ProbeCheck *c, const ProbeResult *r);

/* ---- Helpers for kinds ---- */

/* A fresh result: OK, no value, no threshold, empty message and evidence. */
void probe_result_init(ProbeResult *r);

/* Sets r's status, value and threshold from the probe's warning and critical thresholds: a
 * threshold in percent is compared with percent (NAN: no base to take a percentage of, then
 * the status is UNKNOWN), any other with value. lower_is_worse comes from the kind. */
void probe_result_judge(ProbeResult *r, const ProbeConfig *pc, double value, double percent);

/* printf into r->message, r->evidence (appending, with a comma between members): silently
 * truncated at the buffer's end (evidence: dropped whole rather than cut, so it stays JSON). */
void probe_result_message(ProbeResult *r, const char *fmt, ...) _printf_(2, 3);
void probe_result_evidence(ProbeResult *r, const char *fmt, ...) _printf_(2, 3);

/* A count or size for messages: "512M" for THRESHOLD_BYTES, "1000" otherwise. */
const char *probe_format_value(char *buf, size_t size, double value, ThresholdUnit unit);

/* The registry (probe-registry.c): the kind of that name, or NULL; and the spec of the kind at
 * index (NULL past the last), for ConfigKinds.probe_kind_at. */
const ProbeOps *probe_ops_find(const char *kind);
const ProbeKindSpec *probe_kind_spec_at(size_t index);
