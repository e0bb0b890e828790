/* Internals shared by the files of the store module (store.c, store-open.c, store-flush.c,
 * store-state.c, store-query.c); nothing outside the module includes this. */
#pragma once

#include <sqlite3.h>

#include "store.h"

/* For _cleanup_(sqlite3_finalizep): a statement prepared for one call is finalized when its
 * variable goes out of scope, NULL included (never prepared, or prepare failed). Not for the
 * persistent statements of Store.stmt[], which store_disconnect() finalizes. */
static inline void sqlite3_finalizep(sqlite3_stmt **st) {
        (void) sqlite3_finalize(*st);
}

typedef struct Counts {
        uint64_t occurrences;
        uint64_t seq;            /* events numbered */
        uint64_t dropped;
        uint64_t actions;        /* healing actions numbered */
} Counts;

typedef struct Incident Incident;
struct Incident {
        uint64_t id;             /* row id; 0 until first written */
        char *worker;            /* NULL: vigild itself */
        int instance;
        IncidentCause cause;
        char *probe;             /* the probe of a probe's incident, else NULL */
        Severity base_severity;  /* highest event severity */
        Severity severity;       /* raised by repetition and duration */
        Category category;
        IncidentState state;
        EventKind error_type;    /* the kind of its first occurrence */
        char *message;
        char *details;
        usec_t opened_at;
        usec_t last_seen;
        usec_t unwritten_since;  /* first occurrence after the last commit */
        Resolution resolution;
        usec_t resolved_at;
        char *resolved_by;
        char *note;

        Counts total, written, base;
        uint64_t pending_action; /* the action without an outcome yet; 0: none */
        uint64_t txn_id;
        Counts txn_base;
        bool txn_remapped;

        bool open;               /* in the table of open incidents */
        bool dirty;              /* listed in Store.dirty */
        unsigned queued;         /* queued events that point at it */
        Incident *hash_next;
};

/* What a queue entry writes: an event, a healing action taken, or the outcome of one. */
typedef enum QueuedType {
        QUEUED_EVENT,
        QUEUED_ACTION,     /* message: the action's name */
        QUEUED_OUTCOME,    /* message: the outcome; seq: the action's */
} QueuedType;

typedef struct QueuedEvent {
        Incident *incident;
        QueuedType type;
        uint64_t seq;            /* the event's, or the action's */
        EventKind kind;
        Severity severity;
        usec_t at;
        char *message;
        char *details;
        bool dropped;
} QueuedEvent;

/* The latest crash-loop state of a worker (instance < 0) or an instance. */
typedef struct StateEntry StateEntry;
struct StateEntry {
        char *worker;
        int instance;
        bool dirty;
        StoreWorkerState worker_state;
        StoreInstanceState instance_state;
        StateEntry *hash_next;
};

enum {
        ST_INSERT_INCIDENT,
        ST_UPDATE_INCIDENT,
        ST_INSERT_EVENT,
        ST_TRIM_EVENT,
        ST_UPSERT_WORKER_STATE,
        ST_UPSERT_INSTANCE_STATE,
        ST_INSERT_ACTION,
        ST_ACTION_OUTCOME,
        _ST_MAX,
};

struct Store {
        char *path;
        StoreSync sync;
        size_t queue_max;
        unsigned events_head, events_tail;
        gid_t reader_gid;

        sqlite3 *db;
        sqlite3_stmt *stmt[_ST_MAX];
        char last_error[256];

        Incident **buckets;      /* open incidents by key */
        size_t n_buckets, n_open;

        Incident **dirty;
        size_t n_dirty, dirty_size;

        QueuedEvent *queue;      /* [0, queue_end) in use; dropped ones are holes until compacted */
        size_t queue_end, queue_size;
        size_t n_queued;         /* live (not dropped) */
        size_t drop_cursor;      /* where the search for the oldest repeat resumes */

        StateEntry **state_buckets;   /* crash-loop states by (worker, instance) */
        size_t n_state_buckets, n_states;
        StateEntry **dirty_states;
        size_t n_dirty_states, dirty_states_size;

        StoreCounters counters;
        unsigned wal_frames;     /* frames in the WAL after the last commit (sqlite3_wal_hook) */
        bool adopted;            /* open incidents of the database taken over (once) */
};

/* The SQL of each prepared statement (store-open.c prepares them on connect). */
extern const char *const store_statements[_ST_MAX];

/* store.c */
size_t store_key_hash(const IncidentKey *k);
Incident *store_table_find(const Store *s, const IncidentKey *k);
int store_table_add(Store *s, Incident *inc);
/* A new open incident of key k for its first event e, in the table; -ENOMEM (nothing added). */
int store_table_add_new(Store *s, const IncidentKey *k, const StoreEvent *e, usec_t at, Incident **ret);
Incident *store_incident_free(Incident *inc);
void store_incident_release(Incident *inc);
void store_queued_event_done(QueuedEvent *e);
int store_replace_string(char **dst, const char *src);
void store_disconnect(Store *s);

/* Steps a persistent statement to its end, then resets it and clears its bindings; 0, or the
 * failure as store_fail() gives it. */
int store_step_done(Store *s, sqlite3_stmt *st, const char *what);

/* store-open.c */
int store_exec(Store *s, const char *sql);

/* store-state.c: writes the crash-loop state e inside the caller's transaction. */
int store_write_state(Store *s, const StateEntry *e, usec_t now_rt);

/* The connection; NULL when not connected. */
sqlite3 *store_db(Store *s);

/* Records the SQLite error of rc for store_last_error() and returns it as -errno. */
int store_fail(Store *s, int rc, const char *what);

/* Sets store_last_error()'s text. */
void store_set_error(Store *s, const char *message);
