/* The incident store: the one module that touches SQLite.
 *
 * vigild records events here as they happen; each lands in the open incident of its key
 * (worker, instance, cause) or opens one. Everything is kept exact in memory first: incidents
 * with their counts, and the events and actions not yet written, in a bounded queue. A flush
 * writes the queue in one transaction (BEGIN IMMEDIATE), so the caller decides when writes
 * happen (grouped, off the restart path) and a store that cannot be written costs nothing but
 * queue space: nothing is lost but the oldest repeated events of an overflowing queue, and
 * those are counted. Non-logging: failures come back as -errno plus store_last_error(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "incident.h"
#include "time-util.h"

#define STORE_QUEUE_MAX_DEFAULT 10000U
#define STORE_EVENTS_HEAD_DEFAULT 100U
#define STORE_EVENTS_TAIL_DEFAULT 1000U

/* The schema version this build writes (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 3

typedef struct Store Store;

typedef enum StoreSync {
        STORE_SYNC_NORMAL,  /* WAL, synchronous=NORMAL: a commit survives a crash of vigild */
        STORE_SYNC_FULL,    /* synchronous=FULL: and a power loss */
        _STORE_SYNC_MAX,
        _STORE_SYNC_INVALID = -EINVAL,
} StoreSync;

const char *store_sync_to_string(StoreSync s) _pure_;
StoreSync store_sync_from_string(const char *s) _pure_;

typedef struct StoreOptions {
        const char *path;
        StoreSync sync;
        size_t queue_max;        /* queued events and actions at most; 0: the default */
        unsigned events_head;    /* events kept from the start of an incident; 0: default */
        unsigned events_tail;    /* and from its end; 0: default */
        gid_t reader_gid;        /* group of a newly created file (mode 0640); -1: its directory's */
} StoreOptions;

typedef struct StoreCounters {
        uint64_t commits;           /* transactions committed */
        uint64_t events_written;
        uint64_t events_dropped;    /* dropped from a full queue, all time */
        uint64_t actions_dropped;   /* actions and outcomes dropped from a full queue */
        uint64_t flush_failures;
} StoreCounters;

/* A new store for o->path, not yet connected: events can be recorded at once. */
int store_new(const StoreOptions *o, Store **ret);
Store *store_free(Store *s);
static inline void store_freep(Store **s) {
        store_free(*s);
}
#define _cleanup_store_free_ _cleanup_(store_freep)

/* Opens the database, creating it (mode 0640, root and reader_gid) and migrating its schema
 * as needed, and adopts the incidents it has open (once); a no-op when connected. A file that is not a database or is corrupt (including
 * a failed quick_check) is moved aside with its -wal and -shm, never deleted, and replaced:
 * then *ret_quarantined (if given) gets the new name of the old file, to record as an
 * incident. Fails, leaving the file alone, with -EPROTONOSUPPORT for a schema newer than
 * this build, -EACCES, -EROFS, -EBUSY, -ENOSPC, -EIO... */
int store_connect(Store *s, char **ret_quarantined);
bool store_connected(const Store *s);

/* For vigilctl: opens an existing store, read-only or for writing, never creating, migrating or
 * moving anything. -ENOENT if there is none, -EBADMSG if it is no incident store,
 * -EPROTONOSUPPORT if its schema is newer than this build. On failure *ret may still be set
 * (for store_last_error()); the caller frees it either way. */
int store_open_existing(const char *path, bool writable, Store **ret);

/* True once the open incidents of the database were adopted (the first connect). */
bool store_adopted(const Store *s);

/* Calls cb for every open incident in memory (after the first connect, those the database had
 * open are among them: vigild adopts them by key). cb may resolve the one it is given. Stops
 * at the first negative return. */
int store_foreach_open(Store *s, int (*cb)(const IncidentKey *k, void *userdata), void *userdata);

/* The SQLite message of the last failure ("" if none). */
const char *store_last_error(const Store *s);

typedef struct StoreEvent {
        EventKind kind;
        const char *worker;      /* NULL: vigild itself */
        int instance;            /* -1: none (the worker as a whole, or vigild) */
        const char *probe;       /* a probe's event: its name (part of the incident's key) */
        usec_t at;               /* CLOCK_REALTIME; 0: now */
        Severity severity;       /* _SEVERITY_INVALID: the kind's default */
        Category category;       /* _CATEGORY_INVALID: the kind's default */
        const char *message;
        const char *details;     /* JSON object text; NULL: {} */
} StoreEvent;

/* Adds e to the open incident of its key, opening one if there is none (severity and state
 * follow the event: a breaker opening or a permanent end escalates it), and queues it.
 * ret_severity (if given) gets the incident's severity after the event. -ENOMEM only. */
int store_record(Store *s, const StoreEvent *e, Severity *ret_severity);

/* Resolves the open incident of the key, if any: 1 if there was one, 0 if not. by is who
 * (for manual resolutions: "uid N"), note may be NULL. */
int store_resolve(Store *s, const IncidentKey *k, Resolution how, usec_t at, const char *by, const char *note);

/* A healing action taken on the open incident of the key ("restart"), and later its outcome
 * ("worked", "failed"): the incident's record of what vigild did and whether it helped. An
 * action still without an outcome when the next one is taken gets "superseded". Both return
 * 1, or 0 when there is no open incident (or no action waiting for an outcome). -ENOMEM. */
int store_action(Store *s, const IncidentKey *k, const char *action, usec_t at, const char *details);
int store_action_outcome(Store *s, const IncidentKey *k, const char *outcome, usec_t at);

/* The open incident of a key in memory: its severity and exact occurrence count. */
bool store_lookup(const Store *s, const IncidentKey *k, Severity *ret_severity, uint64_t *ret_occurrences);

/* Writes everything queued in one transaction. 1 if it committed, 0 if there was nothing to
 * write, -errno if it failed (everything stays queued, in order; connects first if needed). */
int store_flush(Store *s);

/* Queued events and actions not yet written. */
size_t store_queued(const Store *s);

/* Whether anything at all waits for a flush: queued events and actions, but also resolutions
 * and crash-loop states, which queue nothing. */
bool store_pending(const Store *s);

/* The WAL checkpoint vigild runs when idle (the connection does none by itself). */
int store_checkpoint(Store *s);

/* Frames in the write-ahead log after the last commit (0 after a checkpoint): the caller
 * checkpoints soon once it passes STORE_WAL_CHECKPOINT_FRAMES. */
#define STORE_WAL_CHECKPOINT_FRAMES 1000U
unsigned store_wal_frames(const Store *s);

/* Deletes resolved incidents (with their events and actions) resolved before `before`;
 * open ones never. Writes ret_count (if given). With dry_run only counts. */
int store_purge(Store *s, usec_t before, bool dry_run, uint64_t *ret_count);

void store_get_counters(const Store *s, StoreCounters *ret);

/* Crash-loop state, kept across restarts of vigild. Times are CLOCK_REALTIME. */
#define STORE_FAILURES_MAX CONFIG_BREAKER_FAILURES_MAX /* every failure a breaker remembers */
typedef struct StoreWorkerState {
        char breaker_state[16];              /* "closed", "open", "half-open" */
        usec_t failures[STORE_FAILURES_MAX]; /* oldest first */
        unsigned n_failures;
        usec_t opened_at;                    /* 0: never */
        unsigned times_opened;
} StoreWorkerState;

typedef struct StoreInstanceState {
        unsigned backoff_level;
        unsigned deaths;                     /* failures since it last ran stably */
} StoreInstanceState;

/* Queue the latest state of a worker or an instance; written by the next flush (only the
 * latest of several). -ENOMEM only. */
int store_set_worker_state(Store *s, const char *worker, const StoreWorkerState *st);
int store_set_instance_state(Store *s, const char *worker, unsigned instance, const StoreInstanceState *st);

/* The state the database holds: 1 and *ret filled, 0 if none, -errno if it cannot be read
 * (not connected: -ENOTCONN). */
int store_get_worker_state(Store *s, const char *worker, StoreWorkerState *ret);
int store_get_instance_state(Store *s, const char *worker, unsigned instance, StoreInstanceState *ret);
