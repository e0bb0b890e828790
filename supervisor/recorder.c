/* vigild's side of the incident store: when to flush, degraded mode, checkpoints, retention.
 * See recorder.h. */

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "fileio.h"
#include "hooks.h"
#include "log.h"
#include "parse-util.h"
#include "recorder.h"

/* Flush at once past this many queued events, whatever the loop is doing. */
#define RECORDER_FLUSH_BATCH 1024U
/* A burst of events (a mass failure: each restart is its own loop turn, with idle moments in
 * between) is committed once no event came for this long; the age timer and the batch size
 * bound how long a burst that never ends can wait. */
#define RECORDER_QUIET_USEC (5 * USEC_PER_MSEC)
#define RECORDER_RETRY_MIN_USEC (1 * USEC_PER_SEC)
#define RECORDER_RETRY_MAX_USEC (60 * USEC_PER_SEC)
#define RECORDER_CHECKPOINT_USEC (30 * USEC_PER_SEC)
#define RECORDER_PURGE_USEC (1 * USEC_PER_HOUR)

#define log_store(level, error, ...)                                                          \
        log_fields_internal((level), (error),                                                 \
                            &(const LogFields) { .message_id = LOG_MID_STORE, .instance = -1 }, \
                            __VA_ARGS__)

struct Recorder {
        sd_event *event;
        const Config *config;
        char *degraded_marker;
        bool obsolete_done;
        Store *store;
        char *path;
        usec_t flush_interval;
        usec_t retention;
        unsigned queue_max;

        sd_event_source *idle_source;     /* flush once a burst is over: RECORDER_QUIET_USEC after
                                           * its last event, when nothing else is pending */
        sd_event_source *age_timer;       /* flush when the oldest event has waited long enough */
        sd_event_source *retry_timer;     /* degraded: next attempt */
        sd_event_source *maintenance_timer; /* checkpoints and retention */
        sd_event_source *checkpoint_source; /* a checkpoint at the next idle moment: long WAL */

        usec_t first_queued_at;           /* CLOCK_MONOTONIC; 0: nothing queued */
        bool flushing;
        bool degraded;
        usec_t degraded_since;            /* CLOCK_REALTIME */
        usec_t retry_delay;
        uint64_t dropped_at_outage;       /* counters.events_dropped when the outage began */
        uint64_t actions_dropped_at_outage;
        size_t max_queued;                /* the most events held during this outage */
        char *outage_error;
        uint64_t commits_at_checkpoint;
        usec_t last_purge;                /* CLOCK_MONOTONIC */
};

static int recorder_flush(Recorder *r);

/* vigild's own incidents about the store. */
static const IncidentKey store_key = { .worker = NULL, .instance = -1, .cause = CAUSE_STORE };
static void maintenance_soon(Recorder *r);

static bool probe_configured(const ProbeConfig *probes, size_t n, const char *name) {
        for (size_t k = 0; k < n; k++)
                if (streq(probes[k].name, name))
                        return true;
        return false;
}

static int resolve_if_obsolete(const IncidentKey *k, void *userdata) {
        Recorder *r = userdata;
        const WorkerConfig *w;

        if (!k->worker) {
                /* vigild's own, or a host probe's. */
                if (k->probe && !probe_configured(r->config->host_probes, r->config->n_host_probes, k->probe))
                        recorder_resolve(r, k, RESOLUTION_OBSOLETE, "host probe no longer configured");
                return 0;
        }
        w = config_find_worker(r->config, k->worker);
        if (!w || (k->instance >= 0 && (unsigned) k->instance >= w->instances))
                recorder_resolve(r, k, RESOLUTION_OBSOLETE,
                                 w ? "instance no longer configured" : "worker no longer configured");
        else if (k->probe && !probe_configured(w->probes, w->n_probes, k->probe))
                recorder_resolve(r, k, RESOLUTION_OBSOLETE, "probe no longer configured");
        return 0;
}

/* Once, right after the store's open incidents were adopted. */
static void resolve_obsolete(Recorder *r) {
        if (r->obsolete_done || !store_adopted(r->store))
                return;
        r->obsolete_done = true;
        (void) store_foreach_open(r->store, resolve_if_obsolete, r);
}

static int on_flush_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) recorder_flush(userdata);
        return 0;
}

static void enable_oneshot(sd_event_source *s) {
        if (s)
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static void disable(sd_event_source *s) {
        if (s)
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
}

static void arm_relative(Recorder *r, sd_event_source *s, usec_t delay) {
        usec_t t;

        if (sd_event_now(r->event, CLOCK_MONOTONIC, &t) < 0)
                t = now(CLOCK_MONOTONIC);
        (void) sd_event_source_set_time(s, usec_add(t, delay));
        enable_oneshot(s);
}

/* Something was queued: make sure a flush comes, by whichever trigger is first. The age and
 * size limits are also checked here, synchronously: a storm handled in one long dispatch
 * gives timers no chance to run, and its events must not wait for its end. */
static void schedule(Recorder *r) {
        int enabled = SD_EVENT_OFF;
        usec_t t;

        if (r->degraded || r->flushing)
                return;   /* the retry timer decides; or the flush under way takes it */
        t = now(CLOCK_MONOTONIC);
        if (r->first_queued_at == 0)
                r->first_queued_at = t;
        if (store_queued(r->store) >= RECORDER_FLUSH_BATCH || t - r->first_queued_at >= r->flush_interval) {
                (void) recorder_flush(r);
                return;
        }
        /* Each event pushes the quiet-period flush back: it comes once the burst is over. */
        (void) sd_event_source_set_time(r->idle_source, usec_add(t, RECORDER_QUIET_USEC));
        enable_oneshot(r->idle_source);
        (void) sd_event_source_get_enabled(r->age_timer, &enabled);
        if (enabled == SD_EVENT_OFF) {
                (void) sd_event_source_set_time(r->age_timer, usec_add(r->first_queued_at, r->flush_interval));
                enable_oneshot(r->age_timer);
        }
}

static void enter_degraded(Recorder *r, int error) {
        StoreCounters c;

        free(r->outage_error);
        r->outage_error = strdup(store_last_error(r->store));
        if (!r->degraded) {
                store_get_counters(r->store, &c);
                r->degraded = true;
                r->degraded_since = now(CLOCK_REALTIME);
                r->dropped_at_outage = c.events_dropped;
                r->actions_dropped_at_outage = c.actions_dropped;
                r->retry_delay = RECORDER_RETRY_MIN_USEC;
                r->max_queued = 0;
                log_store(LOG_ERR, error, "cannot write the incident store %s: %s; supervision goes on, "
                          "up to %u events are kept in memory until it can be written", r->path,
                          r->outage_error ?: "?", r->queue_max);
                const char *why = r->outage_error ?: "?";
                int k = write_file_atomic(r->degraded_marker, why, strlen(why), 0644);

                if (k < 0)
                        log_store(LOG_WARNING, k, "cannot create %s: %m; vigilctl health will not see the outage",
                                  r->degraded_marker);
        } else
                r->retry_delay = MIN(r->retry_delay * 2, RECORDER_RETRY_MAX_USEC);
        disable(r->idle_source);
        disable(r->age_timer);
        arm_relative(r, r->retry_timer, r->retry_delay);
}

/* The store is writable again: the outage becomes an incident of its own, resolved at once. */
static void leave_degraded(Recorder *r) {
        char message[512], details[256], since[FORMAT_DURATION_MAX];
        usec_t until = now(CLOCK_REALTIME);
        uint64_t dropped, actions_dropped;
        StoreCounters c;

        store_get_counters(r->store, &c);
        dropped = c.events_dropped - r->dropped_at_outage;
        actions_dropped = c.actions_dropped - r->actions_dropped_at_outage;
        r->degraded = false;
        (void) unlink(r->degraded_marker);
        disable(r->retry_timer);
        (void) format_duration_approx(since, sizeof since, usec_sub_unsigned(until, r->degraded_since),
                                      USEC_PER_MSEC);
        (void) snprintf(message, sizeof message,
                        "incident store could not be written for %s (%s): %zu events and actions held in memory, "
                        "%" PRIu64 " events and %" PRIu64 " action records dropped",
                        since, r->outage_error ?: "?", r->max_queued, dropped, actions_dropped);
        (void) snprintf(details, sizeof details,
                        "{\"since\":%" PRIu64 ",\"until\":%" PRIu64 ",\"queued\":%zu,\"dropped\":%" PRIu64
                        ",\"actions_dropped\":%" PRIu64 "}",
                        r->degraded_since, until, r->max_queued, dropped, actions_dropped);
        log_store(LOG_NOTICE, 0, "incident store %s is writable again after %s; %zu events were held, %" PRIu64
                  " dropped", r->path, since, r->max_queued, dropped);

        (void) recorder_event(r, &store_key, &(const StoreEvent) {
                .kind = EVENT_STORE_OUTAGE,
                .at = r->degraded_since,
                .severity = _SEVERITY_INVALID,
                .category = _CATEGORY_INVALID,
                .message = message,
                .details = details,
        });
        recorder_resolve(r, &store_key, RESOLUTION_AUTO, "the store is writable again");
        r->outage_error = mfree(r->outage_error);
}

static int recorder_flush(Recorder *r) {
        int k;

        disable(r->idle_source);
        disable(r->age_timer);
        if (r->flushing)
                return 0;

        r->flushing = true;
        r->max_queued = MAX(r->max_queued, store_queued(r->store));
        k = store_flush(r->store);
        r->first_queued_at = 0;
        if (k < 0) {
                enter_degraded(r, k);
                r->flushing = false;
                return k;
        }
        hooks_store_committed(r->store);
        if (k > 0)
                maintenance_soon(r);
        if (store_wal_frames(r->store) >= STORE_WAL_CHECKPOINT_FRAMES)
                enable_oneshot(r->checkpoint_source);
        resolve_obsolete(r);
        if (r->degraded)
                leave_degraded(r);
        r->flushing = false;
        if (store_pending(r->store))
                /* The outage incident, obsolete resolutions: at the next idle moment. */
                schedule(r);
        return k;
}

static int on_checkpoint(sd_event_source *s, void *userdata) {
        Recorder *r = userdata;
        StoreCounters c;
        int k;

        if (r->degraded || !store_connected(r->store))
                return 0;
        k = store_checkpoint(r->store);
        if (k < 0)
                log_store(LOG_WARNING, k, "checkpoint of %s failed: %s", r->path, store_last_error(r->store));
        else {
                store_get_counters(r->store, &c);
                r->commits_at_checkpoint = c.commits;
        }
        return 0;
}

static int on_maintenance(sd_event_source *s, uint64_t usec, void *userdata) {
        Recorder *r = userdata;
        StoreCounters c;
        uint64_t purged = 0;
        int k;

        if (!r->degraded && store_connected(r->store)) {
                store_get_counters(r->store, &c);
                if (c.commits != r->commits_at_checkpoint) {
                        k = store_checkpoint(r->store);
                        if (k < 0)
                                log_store(LOG_WARNING, k, "checkpoint of %s failed: %s", r->path,
                                          store_last_error(r->store));
                        else
                                r->commits_at_checkpoint = c.commits;
                }
                if (r->retention != USEC_INFINITY &&
                    (r->last_purge == 0 || usec - r->last_purge >= RECORDER_PURGE_USEC)) {
                        r->last_purge = usec;
                        k = store_purge(r->store, usec_sub_unsigned(now(CLOCK_REALTIME), r->retention), false,
                                        &purged);
                        if (k < 0)
                                log_store(LOG_WARNING, k, "retention purge of %s failed: %s", r->path,
                                          store_last_error(r->store));
                        else if (purged > 0)
                                log_store(LOG_INFO, 0, "purged %" PRIu64 " resolved incident(s) past the retention",
                                          purged);
                }
        }
        /* Idle, vigild sleeps until the next purge is due; a commit brings the next
         * checkpoint closer (maintenance_soon()). */
        if (r->retention == USEC_INFINITY)
                disable(s);
        else
                arm_relative(r, s, RECORDER_PURGE_USEC);
        return 0;
}

/* Something was committed: a checkpoint within RECORDER_CHECKPOINT_USEC. */
static void maintenance_soon(Recorder *r) {
        int enabled = SD_EVENT_OFF;
        uint64_t when = USEC_INFINITY, t;

        if (sd_event_now(r->event, CLOCK_MONOTONIC, &t) < 0)
                t = now(CLOCK_MONOTONIC);
        (void) sd_event_source_get_enabled(r->maintenance_timer, &enabled);
        if (enabled != SD_EVENT_OFF)
                (void) sd_event_source_get_time(r->maintenance_timer, &when);
        if (enabled == SD_EVENT_OFF || when > t + RECORDER_CHECKPOINT_USEC)
                arm_relative(r, r->maintenance_timer, RECORDER_CHECKPOINT_USEC);
}

int recorder_new(sd_event *event, const Config *config, Recorder **ret) {
        const DaemonConfig *d = &config->daemon;
        _cleanup_(recorder_freep) Recorder *r = NULL;
        _cleanup_free_ char *quarantined = NULL;
        StoreOptions o;
        int k;

        assert(event);
        assert(config);
        assert(ret);

        r = calloc(1, sizeof(Recorder));
        if (!r)
                return log_error_errno(-ENOMEM, "out of memory");
        r->event = sd_event_ref(event);
        r->config = config;
        r->flush_interval = d->store_flush_interval;
        r->retention = d->retention;
        r->queue_max = d->store_queue;
        if (asprintf(&r->path, "%s/" CONFIG_INCIDENTS_DB, d->state_dir) < 0 ||
            asprintf(&r->degraded_marker, "%s/" CONFIG_RUNTIME_STORE_DEGRADED, d->runtime_dir) < 0)
                return log_error_errno(-ENOMEM, "out of memory");
        (void) unlink(r->degraded_marker);   /* an earlier vigild's */

        /* state_dir may not exist yet (a first run outside the packaged setup). Readers are
         * given its group, so it is made 0750 like the packaged /var/lib/vigil. */
        k = mkdir_p(d->state_dir, 0750);
        if (k < 0)
                log_store(LOG_WARNING, k, "cannot create the state directory %s: %m", d->state_dir);

        o = (StoreOptions) {
                .path = r->path,
                .sync = d->store_sync_full ? STORE_SYNC_FULL : STORE_SYNC_NORMAL,
                .queue_max = d->store_queue,
                .reader_gid = d->reader_gid,
        };
        k = store_new(&o, &r->store);
        if (k < 0)
                return log_error_errno(k, "cannot set up the incident store: %m");

        k = sd_event_add_time(event, &r->idle_source, CLOCK_MONOTONIC, USEC_INFINITY, USEC_PER_MSEC, on_flush_timer, r);
        if (k >= 0)
                k = sd_event_source_set_priority(r->idle_source, SD_EVENT_PRIORITY_IDLE);
        if (k >= 0)
                k = sd_event_add_time(event, &r->age_timer, CLOCK_MONOTONIC, USEC_INFINITY,
                                      r->flush_interval / 10, on_flush_timer, r);
        if (k >= 0)
                k = sd_event_add_time(event, &r->retry_timer, CLOCK_MONOTONIC, USEC_INFINITY, 100 * USEC_PER_MSEC,
                                      on_flush_timer, r);
        if (k >= 0)
                k = sd_event_add_time_relative(event, &r->maintenance_timer, CLOCK_MONOTONIC, USEC_PER_SEC,
                                               USEC_PER_SEC, on_maintenance, r);
        if (k >= 0)
                k = sd_event_source_set_priority(r->maintenance_timer, SD_EVENT_PRIORITY_IDLE);
        if (k >= 0)
                k = sd_event_add_defer(event, &r->checkpoint_source, on_checkpoint, r);
        if (k >= 0)
                k = sd_event_source_set_priority(r->checkpoint_source, SD_EVENT_PRIORITY_IDLE + 1);
        if (k < 0)
                return log_error_errno(k, "cannot set up the incident store's event sources: %m");
        disable(r->idle_source);
        disable(r->age_timer);
        disable(r->retry_timer);
        disable(r->checkpoint_source);

        k = store_connect(r->store, &quarantined);
        if (quarantined) {
                char message[PATH_MAX + 128];

                (void) snprintf(message, sizeof message,
                                "incident store %s was not a database or was damaged; moved aside to %s and "
                                "replaced by a new one", r->path, quarantined);
                log_store(LOG_CRIT, 0, "%s", message);
                (void) recorder_event(r, &(const IncidentKey) { .instance = -1, .cause = CAUSE_STORE_CORRUPT },
                                      &(const StoreEvent) {
                        .kind = EVENT_STORE_QUARANTINED,
                        .severity = _SEVERITY_INVALID,
                        .category = _CATEGORY_INVALID,
                        .message = message,
                });
        }
        if (k < 0)
                enter_degraded(r, k);
        else {
                log_store(LOG_INFO, 0, "incident store %s", r->path);
                resolve_obsolete(r);
        }

        *ret = TAKE_PTR(r);
        return 0;
}

Recorder *recorder_free(Recorder *r) {
        if (!r)
                return NULL;
        if (r->store && store_pending(r->store)) {
                int k = store_flush(r->store);

                if (k < 0)
                        log_store(LOG_ERR, k, "%zu events could not be written to %s at exit: %s",
                                  store_queued(r->store), r->path, store_last_error(r->store));
                else
                        hooks_store_committed(r->store);
        }
        sd_event_source_disable_unref(r->idle_source);
        sd_event_source_disable_unref(r->age_timer);
        sd_event_source_disable_unref(r->retry_timer);
        sd_event_source_disable_unref(r->maintenance_timer);
        sd_event_source_disable_unref(r->checkpoint_source);
        store_free(r->store);
        if (r->degraded_marker)
                (void) unlink(r->degraded_marker);
        free(r->degraded_marker);
        sd_event_unref(r->event);
        free(r->outage_error);
        free(r->path);
        return mfree(r);
}

Severity recorder_event(Recorder *r, const IncidentKey *k, const StoreEvent *e) {
        StoreEvent keyed = *e;
        Severity sev;
        int q;

        assert(k);
        /* A deferred verdict is a step of whichever incident it is recorded under. */
        assert(event_kind_cause(e->kind) == k->cause || (e->kind == EVENT_VERDICT_DEFERRED && k->probe));

        if (!r)
                return e->severity >= 0 ? e->severity : event_kind_severity(e->kind);
        keyed.worker = k->worker;
        keyed.instance = k->instance;
        keyed.probe = k->probe;
        q = store_record(r->store, &keyed, &sev);
        if (q < 0) {
                log_store(LOG_ERR, q, "cannot record a %s event: %m", event_kind_to_string(e->kind));
                return e->severity >= 0 ? e->severity : event_kind_severity(e->kind);
        }
        if (r->degraded)
                r->max_queued = MAX(r->max_queued, store_queued(r->store));
        schedule(r);
        return sev;
}

void recorder_resolve(Recorder *r, const IncidentKey *k, Resolution how, const char *note) {
        int q;

        if (!r)
                return;
        q = store_resolve(r->store, k, how, 0, "vigild", note);
        if (q < 0)
                log_store(LOG_ERR, q, "cannot record a resolution: %m");
        else if (q > 0)
                schedule(r);
}

void recorder_action(Recorder *r, const IncidentKey *k, const char *action, const char *details) {
        int q;

        if (!r)
                return;
        q = store_action(r->store, k, action, 0, details);
        if (q < 0)
                log_store(LOG_ERR, q, "cannot record a %s action: %m", action);
        else if (q > 0)
                schedule(r);
}

void recorder_action_outcome(Recorder *r, const IncidentKey *k, const char *outcome) {
        int q;

        if (!r)
                return;
        q = store_action_outcome(r->store, k, outcome, 0);
        if (q < 0)
                log_store(LOG_ERR, q, "cannot record an action's outcome: %m");
        else if (q > 0)
                schedule(r);
}

bool recorder_has_open(const Recorder *r, const IncidentKey *k) {
        return r && store_lookup(r->store, k, NULL, NULL);
}

void recorder_save_worker_state(Recorder *r, const char *worker, const StoreWorkerState *st) {
        int k;

        if (!r)
                return;
        k = store_set_worker_state(r->store, worker, st);

        if (k < 0)
                log_store(LOG_ERR, k, "cannot save the breaker state of %s: %m", worker);
        else
                schedule(r);
}

void recorder_save_instance_state(Recorder *r, const char *worker, unsigned instance, const StoreInstanceState *st) {
        int k;

        if (!r)
                return;
        k = store_set_instance_state(r->store, worker, instance, st);

        if (k < 0)
                log_store(LOG_ERR, k, "cannot save the state of %s:%u: %m", worker, instance);
        else
                schedule(r);
}

int recorder_load_worker_state(Recorder *r, const char *worker, StoreWorkerState *ret) {
        if (!r)
                return 0;
        return store_get_worker_state(r->store, worker, ret);
}

int recorder_load_instance_state(Recorder *r, const char *worker, unsigned instance, StoreInstanceState *ret) {
        if (!r)
                return 0;
        return store_get_instance_state(r->store, worker, instance, ret);
}
