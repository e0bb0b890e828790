/* The recorder: vigild's side of the incident store. It owns the Store and the event sources
 * that decide when it is written:
 *
 *  - an idle-priority timer flushes once no event came for 5 ms and nothing else is
 *    pending, so a storm of crashes (each restart its own loop turn) is a few commits, made
 *    after the restarts;
 *  - an age timer flushes when the oldest queued event has waited store_flush_interval, and a
 *    size threshold flushes at once, so a busy loop cannot starve the store;
 *  - a failed flush enters degraded mode: supervision goes on unchanged, the store keeps
 *    everything in memory (bounded), retries with backoff, and once writable records the
 *    outage as an incident of its own with how many events were queued and dropped;
 *  - WAL checkpoints run from a timer 30 s after a commit, or at the next idle moment once the
 *    WAL is long (the connection never checkpoints inside a commit), and the retention purge
 *    hourly: with nothing happening, the purge is the only thing that wakes vigild.
 *
 * Logs (store failures and recoveries); the events themselves are logged by their callers. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "store.h"

typedef struct Recorder Recorder;

/* Creates the store for state_dir/incidents.db and connects it; a store that cannot be opened
 * is not fatal (degraded from the start). Once the store's open incidents are adopted, those
 * of workers or instances no longer in config are resolved as obsolete. config must outlive
 * the recorder. Fails only for lack of memory or event sources. */
int recorder_new(sd_event *event, const Config *config, Recorder **ret);

/* Writes what is queued (a final attempt) and frees. Accepts NULL; returns NULL. */
Recorder *recorder_free(Recorder *r);
static inline void recorder_freep(Recorder **r) {
        recorder_free(*r);
}

/* Every function below accepts r == NULL (vigild running without a store) and then records
 * nothing. */

/* Records an event of the incident of k (see store_record(); e->worker and e->instance are
 * taken from k, and k->cause must be the cause of e->kind) and schedules a flush. Returns the
 * severity of its incident afterwards, for the journal priority of the caller's log line.
 * Never fails: lack of memory is logged and the severity of the event kind returned. */
Severity recorder_event(Recorder *r, const IncidentKey *k, const StoreEvent *e);

/* Resolves the open incident of k, if there is one (see store_resolve()). */
void recorder_resolve(Recorder *r, const IncidentKey *k, Resolution how, const char *note);

/* A healing action on the open incident of k, and its outcome (see store_action()). */
void recorder_action(Recorder *r, const IncidentKey *k, const char *action, const char *details);
void recorder_action_outcome(Recorder *r, const IncidentKey *k, const char *outcome);

/* True if an incident of k is open. */
bool recorder_has_open(const Recorder *r, const IncidentKey *k);

/* Crash-loop state: saved with the next flush; loaded at start (1 found, 0 none, -errno when
 * the store cannot be read). */
void recorder_save_worker_state(Recorder *r, const char *worker, const StoreWorkerState *st);
void recorder_save_instance_state(Recorder *r, const char *worker, unsigned instance, const StoreInstanceState *st);
int recorder_load_worker_state(Recorder *r, const char *worker, StoreWorkerState *ret);
int recorder_load_instance_state(Recorder *r, const char *worker, unsigned instance, StoreInstanceState *ret);

