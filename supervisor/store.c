/* The incident store: in-memory incidents and a queue of unwritten events, written to SQLite in
 * one transaction per flush. See store.h.
 *
 * An incident's row is written as a whole from memory at each flush that touches it. Counts
 * kept in memory are exact; `written` is what the database holds as of the last commit, and
 * `base` is what belongs to earlier rows of the same in-memory incident: when an operator
 * resolves an incident while vigild still sees it, the next occurrence starts a new row (a
 * manual resolution is never reopened or overwritten), and the counts start over from there.
 * Anything decided inside a transaction lives in txn_* fields until the commit succeeds, so a
 * failed flush can be retried as if it never happened. */

#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store-private.h"
#include "store-schema.h"
#include "store.h"

#define STORE_BUSY_TIMEOUT_MS 200
#define STORE_JOURNAL_SIZE_LIMIT (4 * 1024 * 1024)

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

static const char *const statements[_ST_MAX] = {
        [ST_INSERT_INCIDENT] =
                "INSERT INTO incidents (worker, instance, cause, category, severity, error_type, message,"
                " details, opened_at, last_seen, occurrences, events_dropped, state, resolution,"
                " resolved_at, resolved_by, resolution_note)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        [ST_UPDATE_INCIDENT] =
                "UPDATE incidents SET category = ?4, severity = ?5, message = ?7, details = ?8,"
                " last_seen = ?10, occurrences = ?11, events_dropped = ?12, state = ?13, resolution = ?14,"
                " resolved_at = ?15, resolved_by = ?16, resolution_note = ?17"
                " WHERE id = ?18 AND resolved_at IS NULL",
        [ST_INSERT_EVENT] =
                "INSERT INTO events (incident_id, seq, at, kind, severity, message, details)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        [ST_TRIM_EVENT] = "DELETE FROM events WHERE incident_id = ?1 AND seq = ?2",
        [ST_UPSERT_WORKER_STATE] =
                "INSERT INTO worker_state (worker, breaker_state, failures, opened_at, times_opened, updated_at)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (worker) DO UPDATE SET"
                " breaker_state = excluded.breaker_state, failures = excluded.failures,"
                " opened_at = excluded.opened_at, times_opened = excluded.times_opened,"
                " updated_at = excluded.updated_at",
        [ST_UPSERT_INSTANCE_STATE] =
                "INSERT INTO instance_state (worker, instance, backoff_level, deaths, updated_at)"
                " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (worker, instance) DO UPDATE SET"
                " backoff_level = excluded.backoff_level, deaths = excluded.deaths,"
                " updated_at = excluded.updated_at",
        [ST_INSERT_ACTION] =
                "INSERT INTO actions (incident_id, seq, at, action, details) VALUES (?1, ?2, ?3, ?4, ?5)",
        [ST_ACTION_OUTCOME] =
                "UPDATE actions SET outcome = ?3, outcome_at = ?4 WHERE incident_id = ?1 AND seq = ?2"
                " AND outcome IS NULL",
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

static const char *const store_sync_table[_STORE_SYNC_MAX] = {
        [STORE_SYNC_NORMAL] = "normal",
        [STORE_SYNC_FULL] = "full",
};
DEFINE_STRING_TABLE_LOOKUP(store_sync, StoreSync);

/* ---------------------------------------------------------------------------------------- *
 * Errors                                                                                    */

static int sqlite_to_errno(sqlite3 *db, int rc) {
        int sys = db ? sqlite3_system_errno(db) : 0;

        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_CANTOPEN:
        case SQLITE_IOERR:
                return sys > 0 ? -sys : -EIO;
        default:
                return -EIO;
        }
}

static int fail(Store *s, int rc, const char *what) {
        const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);

        (void) snprintf(s->last_error, sizeof s->last_error, "%s: %s", what, msg);
        return sqlite_to_errno(s->db, rc);
}

const char *store_last_error(const Store *s) {
        return s->last_error;
}

int store_fail(Store *s, int rc, const char *what) {
        return fail(s, rc, what);
}

void store_set_error(Store *s, const char *message) {
        (void) snprintf(s->last_error, sizeof s->last_error, "%s", message);
}

sqlite3 *store_db(Store *s) {
        return s->db;
}


/* ---------------------------------------------------------------------------------------- *
 * Open incidents                                                                            */

static bool streq_null(const char *a, const char *b) {
        return a == b || (a && b && streq(a, b));
}

static size_t key_hash(const char *worker, int instance, IncidentCause cause) {
        uint64_t h = 1469598103934665603ULL;

        for (const char *p = worker ? worker : ""; *p; p++)
                h = (h ^ (uint8_t) *p) * 1099511628211ULL;
        h = (h ^ (uint32_t) instance) * 1099511628211ULL;
        h = (h ^ (uint32_t) cause) * 1099511628211ULL;
        return (size_t) h;
}

static Incident *table_find(const Store *s, const char *worker, int instance, IncidentCause cause) {
        if (s->n_buckets == 0)
                return NULL;
        for (Incident *i = s->buckets[key_hash(worker, instance, cause) & (s->n_buckets - 1)]; i; i = i->hash_next)
                if (i->instance == instance && i->cause == cause && streq_null(i->worker, worker))
                        return i;
        return NULL;
}

static int table_add(Store *s, Incident *inc) {
        size_t b;

        if (s->n_open >= s->n_buckets) {
                size_t n = MAX(s->n_buckets * 2, (size_t) 64);
                Incident **nb = calloc(n, sizeof(Incident *));

                if (!nb)
                        return -ENOMEM;
                for (size_t k = 0; k < s->n_buckets; k++)
                        for (Incident *i = s->buckets[k], *next; i; i = next) {
                                next = i->hash_next;
                                b = key_hash(i->worker, i->instance, i->cause) & (n - 1);
                                i->hash_next = nb[b];
                                nb[b] = i;
                        }
                free(s->buckets);
                s->buckets = nb;
                s->n_buckets = n;
        }
        b = key_hash(inc->worker, inc->instance, inc->cause) & (s->n_buckets - 1);
        inc->hash_next = s->buckets[b];
        s->buckets[b] = inc;
        inc->open = true;
        s->n_open++;
        return 0;
}

static void table_remove(Store *s, Incident *inc) {
        Incident **p;

        if (!inc->open)
                return;
        for (p = &s->buckets[key_hash(inc->worker, inc->instance, inc->cause) & (s->n_buckets - 1)]; *p;
             p = &(*p)->hash_next)
                if (*p == inc) {
                        *p = inc->hash_next;
                        break;
                }
        inc->hash_next = NULL;
        inc->open = false;
        s->n_open--;
}

static Incident *incident_free(Incident *inc) {
        if (!inc)
                return NULL;
        free(inc->worker);
        free(inc->message);
        free(inc->details);
        free(inc->resolved_by);
        free(inc->note);
        return mfree(inc);
}

static Incident *incident_new(const StoreEvent *e, IncidentCause cause, usec_t at) {
        Incident *inc = calloc(1, sizeof(Incident));

        if (!inc)
                return NULL;
        *inc = (Incident) {
                .instance = e->instance,
                .cause = cause,
                .base_severity = SEVERITY_LOW,
                .severity = SEVERITY_LOW,
                .category = e->category >= 0 ? e->category : event_kind_category(e->kind),
                .state = INCIDENT_OPEN,
                .error_type = e->kind,
                .opened_at = at,
                .last_seen = at,
        };
        if (e->worker && !(inc->worker = strdup(e->worker)))
                return incident_free(inc);
        return inc;
}

/* Frees an incident nothing refers to any more: resolved, written, no queued events. */
static void incident_release(Incident *inc) {
        if (!inc->open && !inc->dirty && inc->queued == 0)
                incident_free(inc);
}

static int mark_dirty(Store *s, Incident *inc) {
        if (inc->dirty)
                return 0;
        if (s->n_dirty >= s->dirty_size) {
                size_t n = MAX(s->dirty_size * 2, (size_t) 64);
                Incident **d = reallocarray(s->dirty, n, sizeof(Incident *));

                if (!d)
                        return -ENOMEM;
                s->dirty = d;
                s->dirty_size = n;
        }
        s->dirty[s->n_dirty++] = inc;
        inc->dirty = true;
        return 0;
}

static int replace_string(char **dst, const char *src) {
        char *c = NULL;

        if (src && !(c = strdup(src)))
                return -ENOMEM;
        free(*dst);
        *dst = c;
        return 0;
}

/* ---------------------------------------------------------------------------------------- *
 * The queue                                                                                 */

static void queued_event_done(QueuedEvent *e) {
        e->message = mfree(e->message);
        e->details = mfree(e->details);
        if (e->incident) {
                e->incident->queued--;
                incident_release(e->incident);
                e->incident = NULL;
        }
}

static int queue_reserve(Store *s) {
        if (s->queue_end < s->queue_size)
                return 0;
        if (s->n_queued < s->queue_end) {
                /* Close the holes dropped events left, keeping the order. */
                size_t n = 0;

                for (size_t k = 0; k < s->queue_end; k++)
                        if (!s->queue[k].dropped)
                                s->queue[n++] = s->queue[k];
                s->queue_end = n;
                s->drop_cursor = 0;
                if (s->queue_end < s->queue_size)
                        return 0;
        }
        size_t n = MAX(s->queue_size * 2, (size_t) 256);
        QueuedEvent *q = reallocarray(s->queue, n, sizeof(QueuedEvent));
        if (!q)
                return -ENOMEM;
        s->queue = q;
        s->queue_size = n;
        return 0;
}

/* Makes room for one more by dropping the oldest repeat: an event that is not the first of its
 * incident, so that every incident keeps the event that opened it. Failing that, the oldest. */
static void queue_drop_one(Store *s) {
        QueuedEvent *victim = NULL;

        for (size_t k = s->drop_cursor; k < s->queue_end; k++) {
                QueuedEvent *e = &s->queue[k];

                if (!e->dropped && e->seq > 1) {
                        victim = e;
                        s->drop_cursor = k + 1;
                        break;
                }
        }
        for (size_t k = 0; !victim && k < s->queue_end; k++)
                if (!s->queue[k].dropped)
                        victim = &s->queue[k];
        if (!victim)
                return;

        victim->dropped = true;
        if (victim->type == QUEUED_EVENT) {
                victim->incident->total.dropped++;
                (void) mark_dirty(s, victim->incident);   /* its events_dropped changes */
                s->counters.events_dropped++;
        } else
                s->counters.actions_dropped++;
        s->n_queued--;
        queued_event_done(victim);
}

/* ---------------------------------------------------------------------------------------- *
 * Life cycle                                                                                */

int store_new(const StoreOptions *o, Store **ret) {
        Store *s;

        assert(o);
        assert(o->path);
        assert(ret);

        s = calloc(1, sizeof(Store));
        if (!s)
                return -ENOMEM;
        *s = (Store) {
                .sync = o->sync,
                .queue_max = o->queue_max > 0 ? o->queue_max : STORE_QUEUE_MAX_DEFAULT,
                .events_head = o->events_head > 0 ? o->events_head : STORE_EVENTS_HEAD_DEFAULT,
                .events_tail = o->events_tail > 0 ? o->events_tail : STORE_EVENTS_TAIL_DEFAULT,
                .reader_gid = o->reader_gid,
        };
        s->path = strdup(o->path);
        if (!s->path)
                return free(s), -ENOMEM;
        *ret = s;
        return 0;
}

static void disconnect(Store *s) {
        for (int k = 0; k < _ST_MAX; k++) {
                sqlite3_finalize(s->stmt[k]);
                s->stmt[k] = NULL;
        }
        if (s->db) {
                (void) sqlite3_close_v2(s->db);
                s->db = NULL;
        }
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        disconnect(s);
        for (size_t k = 0; k < s->queue_end; k++)
                if (!s->queue[k].dropped)
                        queued_event_done(&s->queue[k]);
        free(s->queue);
        /* Dirty incidents may be resolved ones, out of the table: free them through the list. */
        for (size_t k = 0; k < s->n_dirty; k++) {
                s->dirty[k]->dirty = false;
                if (!s->dirty[k]->open)
                        incident_free(s->dirty[k]);
        }
        free(s->dirty);
        for (size_t k = 0; k < s->n_buckets; k++)
                for (Incident *i = s->buckets[k], *next; i; i = next) {
                        next = i->hash_next;
                        incident_free(i);
                }
        free(s->buckets);
        for (size_t k = 0; k < s->n_state_buckets; k++)
                for (StateEntry *e = s->state_buckets[k], *next; e; e = next) {
                        next = e->hash_next;
                        free(e->worker);
                        free(e);
                }
        free(s->state_buckets);
        free(s->dirty_states);
        free(s->path);
        return mfree(s);
}

bool store_connected(const Store *s) {
        return s->db;
}

bool store_adopted(const Store *s) {
        return s->adopted;
}

void store_get_counters(const Store *s, StoreCounters *ret) {
        *ret = s->counters;
}

size_t store_queued(const Store *s) {
        return s->n_queued;
}

/* ---------------------------------------------------------------------------------------- *
 * Connecting                                                                                */

static int exec(Store *s, const char *sql) {
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

        if (rc != SQLITE_OK)
                return fail(s, rc, sql);
        return 0;
}

/* Creates the file ourselves, so that mode and group are right from its first byte. */
static int ensure_file(Store *s) {
        _cleanup_close_ int fd = -EBADF;

        fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640);
        if (fd < 0) {
                if (errno != EEXIST)
                        return -errno;
                fd = open(s->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
                return fd < 0 ? -errno : 0;
        }
        if (fchown(fd, 0, s->reader_gid) < 0 && errno != EPERM)
                return -errno;
        if (fchmod(fd, 0640) < 0)
                return -errno;
        return 0;
}

static int quarantine(Store *s, char **ret_name) {
        _cleanup_free_ char *dest = NULL;
        static const char *const suffixes[] = { "-wal", "-shm" };

        if (asprintf(&dest, "%s.corrupt-%" PRIu64, s->path, now(CLOCK_REALTIME)) < 0)
                return -ENOMEM;
        if (rename(s->path, dest) < 0)
                return -errno;
        for (size_t k = 0; k < ELEMENTSOF(suffixes); k++) {
                _cleanup_free_ char *from = NULL, *to = NULL;

                if (asprintf(&from, "%s%s", s->path, suffixes[k]) < 0 ||
                    asprintf(&to, "%s%s", dest, suffixes[k]) < 0)
                        return -ENOMEM;
                if (rename(from, to) < 0 && errno != ENOENT)
                        return -errno;
        }
        if (ret_name)
                *ret_name = TAKE_PTR(dest);
        return 0;
}

/* -EBADMSG unless the file is empty or starts with SQLite's magic string. */
static int check_header(Store *s) {
        static const char magic[16] = "SQLite format 3";   /* with its NUL: 16 bytes */
        _cleanup_close_ int fd = -EBADF;
        char header[sizeof magic];
        ssize_t n;

        fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return -errno;
        n = read(fd, header, sizeof header);
        if (n < 0)
                return -errno;
        if (n == 0 || ((size_t) n == sizeof header && memcmp(header, magic, sizeof magic) == 0))
                return 0;
        (void) snprintf(s->last_error, sizeof s->last_error, "%s is not an SQLite database", s->path);
        return -EBADMSG;
}

/* 0 if quick_check says ok, -EBADMSG if it finds damage, other -errno if it cannot run. */
static int quick_check(Store *s) {
        sqlite3_stmt *st = NULL;
        int rc, r = 0;

        rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return fail(s, rc, "quick_check");
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                const char *v = (const char *) sqlite3_column_text(st, 0);

                if (!v || !streq(v, "ok")) {
                        (void) snprintf(s->last_error, sizeof s->last_error, "quick_check: %s", v ? v : "?");
                        r = -EBADMSG;
                }
        } else
                r = fail(s, rc, "quick_check");
        sqlite3_finalize(st);
        return r;
}

static int read_user_version(Store *s, unsigned *ret) {
        sqlite3_stmt *st = NULL;
        int rc, r = 0;

        rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return fail(s, rc, "user_version");
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                *ret = (unsigned) sqlite3_column_int(st, 0);
        else
                r = fail(s, rc, "user_version");
        sqlite3_finalize(st);
        return r;
}

static int check_version(Store *s) {
        unsigned version = 0;
        int r;

        r = read_user_version(s, &version);
        if (r < 0)
                return r;
        if (version > STORE_SCHEMA_VERSION) {
                (void) snprintf(s->last_error, sizeof s->last_error,
                                "schema version %u is newer than this vigil knows (%u)", version,
                                STORE_SCHEMA_VERSION);
                return -EPROTONOSUPPORT;
        }
        return 0;
}

static int migrate(Store *s) {
        unsigned version = 0;
        int r;

        r = check_version(s);
        if (r < 0)
                return r;
        r = read_user_version(s, &version);
        if (r < 0)
                return r;
        for (; version < STORE_SCHEMA_VERSION; version++) {
                char pragma[64];

                r = exec(s, "BEGIN IMMEDIATE");
                if (r < 0)
                        return r;
                (void) snprintf(pragma, sizeof pragma, "PRAGMA user_version = %u", version + 1);
                r = exec(s, store_schema_migration(version));
                if (r >= 0)
                        r = exec(s, pragma);
                if (r >= 0)
                        r = exec(s, "COMMIT");
                if (r < 0) {
                        (void) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                        return r;
                }
        }
        return 0;
}

static int on_wal_commit(void *userdata, sqlite3 *db, const char *name, int frames) {
        Store *s = userdata;

        s->wal_frames = frames > 0 ? (unsigned) frames : 0;
        return SQLITE_OK;
}

static int configure(Store *s) {
        sqlite3_stmt *st = NULL;
        char pragma[64];
        int rc, r;

        rc = sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
        if (rc != SQLITE_OK)
                return fail(s, rc, "busy_timeout");

        /* WAL, or nothing: the readers must never block the daemon. */
        rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return fail(s, rc, "journal_mode");
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
                r = fail(s, rc, "journal_mode");
                sqlite3_finalize(st);
                return r;
        }
        r = streq_null((const char *) sqlite3_column_text(st, 0), "wal") ? 0 : -EIO;
        sqlite3_finalize(st);
        if (r < 0) {
                (void) snprintf(s->last_error, sizeof s->last_error, "cannot switch the database to WAL mode");
                return r;
        }

        r = exec(s, s->sync == STORE_SYNC_FULL ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
        if (r < 0)
                return r;
        /* The -wal and -shm files stay when vigild closes the store: a reader who may not
         * create files in state_dir (vigilctl as a member of reader_group) needs them there to
         * read a WAL database at all. */
        {
                int persist = 1;

                (void) sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
        }

        /* No checkpoint ever runs inside a commit: vigild runs them when idle, sooner when the
         * WAL grows (a long WAL makes every page lookup slower). */
        rc = sqlite3_wal_autocheckpoint(s->db, 0);
        if (rc != SQLITE_OK)
                return fail(s, rc, "wal_autocheckpoint");
        (void) sqlite3_wal_hook(s->db, on_wal_commit, s);
        (void) snprintf(pragma, sizeof pragma, "PRAGMA journal_size_limit = %d", STORE_JOURNAL_SIZE_LIMIT);
        return exec(s, pragma);
}

static int open_db(Store *s, int flags) {
        int rc;

        rc = sqlite3_open_v2(s->path, &s->db, flags | SQLITE_OPEN_NOFOLLOW, NULL);
        if (rc != SQLITE_OK)
                return fail(s, rc, "open");
        (void) sqlite3_extended_result_codes(s->db, 1);
        return 0;
}

/* Takes over the incidents the database has open, once per process: a later occurrence of the
 * same key lands in them instead of opening a second one. An incident of the key that is only
 * in memory (recorded while the store could not be opened) is merged into the database's:
 * its counts add up and its queued events are numbered after the written ones. */
static int adopt_open_incidents(Store *s) {
        sqlite3_stmt *st = NULL;
        int rc, r = 0;

        if (s->adopted)
                return 0;

        rc = sqlite3_prepare_v2(s->db,
                                "SELECT id, worker, instance, cause, category, severity, error_type, message, details,"
                                " opened_at, last_seen, occurrences, events_dropped, state,"
                                " (SELECT coalesce(max(seq), 0) FROM events WHERE incident_id = incidents.id),"
                                " (SELECT coalesce(max(seq), 0) FROM actions WHERE incident_id = incidents.id)"
                                " FROM incidents WHERE resolved_at IS NULL ORDER BY id",
                                -1, &st, NULL);
        if (rc != SQLITE_OK)
                return fail(s, rc, "adopt");

        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *worker = (const char *) sqlite3_column_text(st, 1);
                int instance = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 2);
                IncidentCause cause = incident_cause_from_string((const char *) sqlite3_column_text(st, 3));
                Counts db = {
                        .occurrences = (uint64_t) sqlite3_column_int64(st, 11),
                        .dropped = (uint64_t) sqlite3_column_int64(st, 12),
                        .seq = (uint64_t) sqlite3_column_int64(st, 14),
                        .actions = (uint64_t) sqlite3_column_int64(st, 15),
                };
                Severity sev = (Severity) sqlite3_column_int(st, 5);
                Category cat = category_from_string((const char *) sqlite3_column_text(st, 4));
                IncidentState state = incident_state_from_string((const char *) sqlite3_column_text(st, 13));
                EventKind kind = event_kind_from_string((const char *) sqlite3_column_text(st, 6));
                Incident *inc;

                if (cause < 0 || sev < 0 || sev >= _SEVERITY_MAX || cat < 0 || state < 0 || kind < 0)
                        continue;   /* written by something else: not ours to continue */

                inc = table_find(s, worker, instance, cause);
                if (inc && inc->id != 0)
                        continue;   /* a second open row of one key: the first one wins */
                if (!inc) {
                        StoreEvent e = { .kind = kind, .worker = worker, .instance = instance, .category = cat };

                        inc = incident_new(&e, cause, (usec_t) sqlite3_column_int64(st, 9));
                        if (!inc) {
                                r = -ENOMEM;
                                break;
                        }
                        r = table_add(s, inc);
                        if (r < 0) {
                                incident_free(inc);
                                break;
                        }
                        inc->state = state;
                        inc->last_seen = (usec_t) sqlite3_column_int64(st, 10);
                        if (replace_string(&inc->message, (const char *) sqlite3_column_text(st, 7)) < 0 ||
                            replace_string(&inc->details, (const char *) sqlite3_column_text(st, 8)) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                } else {
                        /* Merge: what was recorded in memory follows what the database has. */
                        for (size_t k = 0; k < s->queue_end; k++)
                                if (!s->queue[k].dropped && s->queue[k].incident == inc &&
                                    s->queue[k].type == QUEUED_EVENT)
                                        s->queue[k].seq += db.seq;
                        inc->opened_at = (usec_t) sqlite3_column_int64(st, 9);
                        inc->error_type = kind;
                        if (inc->state != INCIDENT_ESCALATED && state == INCIDENT_ESCALATED)
                                inc->state = state;
                }
                inc->id = (uint64_t) sqlite3_column_int64(st, 0);
                inc->total.occurrences += db.occurrences;
                inc->total.seq += db.seq;
                inc->total.dropped += db.dropped;
                inc->total.actions += db.actions;
                for (size_t k = 0; k < s->queue_end; k++)
                        if (!s->queue[k].dropped && s->queue[k].incident == inc && s->queue[k].type != QUEUED_EVENT)
                                s->queue[k].seq += db.actions;
                if (inc->pending_action > 0)
                        inc->pending_action += db.actions;
                inc->written = db;
                inc->base_severity = MAX(inc->base_severity, sev);
                inc->severity = MAX(inc->severity, sev);
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = fail(s, rc, "adopt");
        sqlite3_finalize(st);
        if (r < 0)
                return r;

        /* Actions an earlier vigild took but did not see the end of. */
        rc = sqlite3_prepare_v2(s->db, "UPDATE actions SET outcome = 'unknown: vigild restarted', outcome_at = ?1"
                                       " WHERE outcome IS NULL", -1, &st, NULL);
        rc = rc ?: sqlite3_bind_int64(st, 1, (sqlite3_int64) now(CLOCK_REALTIME));
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return fail(s, rc, "adopt");
        s->adopted = true;
        return 0;
}

int store_foreach_open(Store *s, int (*cb)(const char *worker, int instance, IncidentCause cause, void *userdata),
                       void *userdata) {
        for (size_t k = 0; k < s->n_buckets; k++)
                for (Incident *i = s->buckets[k], *next; i; i = next) {
                        int r;

                        next = i->hash_next;   /* cb may resolve i, which unlinks it */
                        r = cb(i->worker, i->instance, i->cause, userdata);
                        if (r < 0)
                                return r;
                }
        return 0;
}

int store_connect(Store *s, char **ret_quarantined) {
        int r;

        if (s->db)
                return 0;

        for (unsigned attempt = 0;; attempt++) {
                r = ensure_file(s);
                if (r < 0) {
                        (void) snprintf(s->last_error, sizeof s->last_error, "cannot open %s: %s", s->path,
                                        strerror(-r));
                        return r;
                }
                /* A file that does not even start like one is no database: moved aside
                 * before SQLite opens it at all, so its -wal and -shm go along untouched. */
                r = check_header(s);
                if (r >= 0)
                        /* Then through a read-only connection: closing a read-write one on a
                         * file that is not a database deletes its -wal, which must be kept. */
                        r = open_db(s, SQLITE_OPEN_READONLY);
                if (r >= 0)
                        r = quick_check(s);
                if (r >= 0)
                        r = check_version(s);
                disconnect(s);
                if (r >= 0)
                        r = open_db(s, SQLITE_OPEN_READWRITE);
                if (r >= 0)
                        r = configure(s);
                if (r >= 0)
                        r = migrate(s);
                if (r != -EBADMSG || attempt > 0)
                        break;

                /* Not a database, or a damaged one: moved aside, never deleted, and replaced. */
                disconnect(s);
                r = quarantine(s, ret_quarantined);
                if (r < 0) {
                        (void) snprintf(s->last_error, sizeof s->last_error, "cannot move %s aside: %s", s->path,
                                        strerror(-r));
                        return r;
                }
        }
        if (r < 0) {
                disconnect(s);
                return r;
        }

        r = adopt_open_incidents(s);
        if (r < 0) {
                disconnect(s);
                return r;
        }

        for (int k = 0; k < _ST_MAX; k++) {
                int rc = sqlite3_prepare_v3(s->db, statements[k], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[k], NULL);

                if (rc != SQLITE_OK) {
                        r = fail(s, rc, "prepare");
                        disconnect(s);
                        return r;
                }
        }
        return 0;
}

int store_open_existing(const char *path, bool writable, Store **ret) {
        _cleanup_store_free_ Store *s = NULL;
        StoreOptions o = { .path = path, .reader_gid = (gid_t) -1 };
        unsigned version = 0;
        struct stat st;
        int r;

        assert(path);
        assert(ret);

        /* Never created here: a reader must not leave an empty database behind. */
        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        r = store_new(&o, &s);
        if (r < 0)
                return r;
        r = open_db(s, writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY);
        /* SQLite quietly opens a file it may not write read-only: say why instead. */
        if (r >= 0 && writable && sqlite3_db_readonly(s->db, "main") == 1) {
                r = access(path, W_OK) < 0 ? -errno : -EROFS;
                (void) snprintf(s->last_error, sizeof s->last_error, "%s", strerror(-r));
        }
        if (r >= 0)
                r = sqlite3_busy_timeout(s->db, writable ? 5000 : 1000) == SQLITE_OK ? 0 : -EIO;
        if (r >= 0)
                r = read_user_version(s, &version);
        if (r >= 0 && version > STORE_SCHEMA_VERSION) {
                (void) snprintf(s->last_error, sizeof s->last_error,
                                "schema version %u is newer than this vigil knows (%u)", version,
                                STORE_SCHEMA_VERSION);
                r = -EPROTONOSUPPORT;
        } else if (r >= 0 && version == 0) {
                (void) snprintf(s->last_error, sizeof s->last_error, "%s is not an incident store", path);
                r = -EBADMSG;
        }
        if (r < 0) {
                *ret = TAKE_PTR(s);   /* for store_last_error(); the caller frees */
                return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

/* ---------------------------------------------------------------------------------------- *
 * Recording                                                                                 */

static IncidentState state_after(IncidentState old, EventKind kind) {
        if (IN_SET(kind, EVENT_BREAKER_OPEN, EVENT_PERMANENT_EXIT, EVENT_EXEC_FAILED))
                return INCIDENT_ESCALATED;
        if (old == INCIDENT_ESCALATED)
                return old;   /* until resolved */
        if (IN_SET(kind, EVENT_STORE_OUTAGE, EVENT_STORE_QUARANTINED))
                return INCIDENT_OPEN;
        return INCIDENT_MITIGATING;   /* vigild restarts or retries */
}


int store_record(Store *s, const StoreEvent *e, Severity *ret_severity) {
        IncidentCause cause;
        QueuedEvent *q;
        Incident *inc;
        Severity sev;
        usec_t at;
        int r;

        assert(s);
        assert(e);
        assert(e->kind >= 0 && e->kind < _EVENT_KIND_MAX);

        cause = event_kind_cause(e->kind);
        at = e->at > 0 ? e->at : now(CLOCK_REALTIME);
        sev = e->severity >= 0 ? e->severity : event_kind_severity(e->kind);

        inc = table_find(s, e->worker, e->instance, cause);
        if (!inc) {
                inc = incident_new(e, cause, at);
                if (!inc)
                        return -ENOMEM;
                r = table_add(s, inc);
                if (r < 0) {
                        incident_free(inc);
                        return r;
                }
        }

        if (s->n_queued >= s->queue_max)
                queue_drop_one(s);
        r = queue_reserve(s);
        if (r < 0)
                return r;
        r = mark_dirty(s, inc);
        if (r < 0)
                return r;

        q = &s->queue[s->queue_end];
        *q = (QueuedEvent) {
                .incident = inc,
                .seq = inc->total.seq + 1,
                .kind = e->kind,
                .severity = sev,
                .at = at,
        };
        if ((e->message && !(q->message = strdup(e->message))) || (e->details && !(q->details = strdup(e->details)))) {
                free(q->message);
                free(q->details);
                return -ENOMEM;
        }

        if (event_kind_is_occurrence(e->kind)) {
                if (replace_string(&inc->message, e->message) < 0 || replace_string(&inc->details, e->details) < 0) {
                        free(q->message);
                        free(q->details);
                        return -ENOMEM;
                }
                if (inc->total.occurrences == inc->written.occurrences)
                        inc->unwritten_since = at;
                inc->total.occurrences++;
                if (e->category >= 0)
                        inc->category = e->category;
        }
        inc->base_severity = MAX(inc->base_severity, sev);
        inc->last_seen = MAX(inc->last_seen, at);
        inc->state = state_after(inc->state, e->kind);
        inc->severity = incident_severity(inc->base_severity, inc->total.occurrences - inc->base.occurrences,
                                          usec_sub_unsigned(inc->last_seen, inc->opened_at));
        inc->total.seq++;
        inc->queued++;
        s->queue_end++;
        s->n_queued++;

        if (ret_severity)
                *ret_severity = inc->severity;
        return 0;
}

int store_resolve(Store *s, const char *worker, int instance, IncidentCause cause, Resolution how, usec_t at,
                  const char *by, const char *note) {
        Incident *inc;
        int r;

        assert(s);
        assert(how > RESOLUTION_NONE && how < _RESOLUTION_MAX);

        inc = table_find(s, worker, instance, cause);
        if (!inc)
                return 0;
        r = mark_dirty(s, inc);
        if (r < 0)
                return r;
        if (replace_string(&inc->resolved_by, by) < 0 || replace_string(&inc->note, note) < 0)
                return -ENOMEM;
        inc->resolution = how;
        inc->resolved_at = at > 0 ? at : now(CLOCK_REALTIME);
        inc->state = INCIDENT_RESOLVED;
        table_remove(s, inc);
        return 1;
}

/* Appends an action or an outcome for inc; the queue's bound applies as to events. */
static int queue_push(Store *s, Incident *inc, QueuedType type, uint64_t seq, usec_t at, const char *text,
                      const char *details) {
        QueuedEvent *q;
        int r;

        if (s->n_queued >= s->queue_max)
                queue_drop_one(s);
        r = queue_reserve(s);
        if (r < 0)
                return r;
        q = &s->queue[s->queue_end];
        *q = (QueuedEvent) { .incident = inc, .type = type, .seq = seq, .at = at > 0 ? at : now(CLOCK_REALTIME) };
        if ((text && !(q->message = strdup(text))) || (details && !(q->details = strdup(details)))) {
                free(q->message);
                free(q->details);
                return -ENOMEM;
        }
        inc->queued++;
        s->queue_end++;
        s->n_queued++;
        return 0;
}

int store_action(Store *s, const char *worker, int instance, IncidentCause cause, const char *action, usec_t at,
                 const char *details) {
        Incident *inc;
        int r;

        assert(s);
        assert(action);

        inc = table_find(s, worker, instance, cause);
        if (!inc)
                return 0;
        /* An action still without an outcome when the next one starts was overtaken. */
        if (inc->pending_action > 0) {
                r = queue_push(s, inc, QUEUED_OUTCOME, inc->pending_action, at, "superseded", NULL);
                if (r < 0)
                        return r;
        }
        r = queue_push(s, inc, QUEUED_ACTION, inc->total.actions + 1, at, action, details);
        if (r < 0)
                return r;
        inc->pending_action = ++inc->total.actions;
        return 1;
}

int store_action_outcome(Store *s, const char *worker, int instance, IncidentCause cause, const char *outcome,
                         usec_t at) {
        Incident *inc;
        int r;

        assert(s);
        assert(outcome);

        inc = table_find(s, worker, instance, cause);
        if (!inc || inc->pending_action == 0)
                return 0;
        r = queue_push(s, inc, QUEUED_OUTCOME, inc->pending_action, at, outcome, NULL);
        if (r < 0)
                return r;
        inc->pending_action = 0;
        return 1;
}

bool store_lookup(const Store *s, const char *worker, int instance, IncidentCause cause, Severity *ret_severity,
                  uint64_t *ret_occurrences) {
        Incident *inc = table_find(s, worker, instance, cause);

        if (!inc)
                return false;
        if (ret_severity)
                *ret_severity = inc->severity;
        if (ret_occurrences)
                *ret_occurrences = inc->total.occurrences;
        return true;
}

/* ---------------------------------------------------------------------------------------- *
 * Crash-loop state                                                                          */

static int step_done(Store *s, sqlite3_stmt *st, const char *what);

static StateEntry *state_entry(Store *s, const char *worker, int instance) {
        size_t b;
        StateEntry *e;

        if (s->n_state_buckets > 0)
                for (e = s->state_buckets[key_hash(worker, instance, 0) & (s->n_state_buckets - 1)]; e;
                     e = e->hash_next)
                        if (e->instance == instance && streq(e->worker, worker))
                                return e;

        if (s->n_states >= s->n_state_buckets) {
                size_t n = MAX(s->n_state_buckets * 2, (size_t) 64);
                StateEntry **nb = calloc(n, sizeof(StateEntry *));

                if (!nb)
                        return NULL;
                for (size_t k = 0; k < s->n_state_buckets; k++)
                        for (StateEntry *i = s->state_buckets[k], *next; i; i = next) {
                                next = i->hash_next;
                                b = key_hash(i->worker, i->instance, 0) & (n - 1);
                                i->hash_next = nb[b];
                                nb[b] = i;
                        }
                free(s->state_buckets);
                s->state_buckets = nb;
                s->n_state_buckets = n;
        }
        e = calloc(1, sizeof(StateEntry));
        if (!e || !(e->worker = strdup(worker))) {
                free(e);
                return NULL;
        }
        e->instance = instance;
        b = key_hash(worker, instance, 0) & (s->n_state_buckets - 1);
        e->hash_next = s->state_buckets[b];
        s->state_buckets[b] = e;
        s->n_states++;
        return e;
}

static int state_mark_dirty(Store *s, StateEntry *e) {
        if (e->dirty)
                return 0;
        if (s->n_dirty_states >= s->dirty_states_size) {
                size_t n = MAX(s->dirty_states_size * 2, (size_t) 64);
                StateEntry **d = reallocarray(s->dirty_states, n, sizeof(StateEntry *));

                if (!d)
                        return -ENOMEM;
                s->dirty_states = d;
                s->dirty_states_size = n;
        }
        s->dirty_states[s->n_dirty_states++] = e;
        e->dirty = true;
        return 0;
}

int store_set_worker_state(Store *s, const char *worker, const StoreWorkerState *st) {
        StateEntry *e;

        assert(s);
        assert(worker);
        assert(st);
        assert(st->n_failures <= STORE_FAILURES_MAX);

        e = state_entry(s, worker, -1);
        if (!e)
                return -ENOMEM;
        e->worker_state = *st;
        return state_mark_dirty(s, e);
}

int store_set_instance_state(Store *s, const char *worker, unsigned instance, const StoreInstanceState *st) {
        StateEntry *e;

        assert(s);
        assert(worker);
        assert(st);

        e = state_entry(s, worker, (int) instance);
        if (!e)
                return -ENOMEM;
        e->instance_state = *st;
        return state_mark_dirty(s, e);
}

static int write_state(Store *s, const StateEntry *e, usec_t now_rt) {
        sqlite3_stmt *st;
        int rc;

        if (e->instance < 0) {
                const StoreWorkerState *w = &e->worker_state;
                char json[STORE_FAILURES_MAX * 21 + 3];
                size_t pos = 0;

                json[pos++] = '[';
                for (unsigned k = 0; k < w->n_failures; k++)
                        pos += (size_t) snprintf(json + pos, sizeof json - pos, "%s%" PRIu64, k ? "," : "",
                                                 w->failures[k]);
                (void) snprintf(json + pos, sizeof json - pos, "]");

                st = s->stmt[ST_UPSERT_WORKER_STATE];
                rc = sqlite3_bind_text(st, 1, e->worker, -1, SQLITE_STATIC);
                rc = rc ?: sqlite3_bind_text(st, 2, w->breaker_state, -1, SQLITE_STATIC);
                rc = rc ?: sqlite3_bind_text(st, 3, json, -1, SQLITE_TRANSIENT);
                rc = rc ?: (w->opened_at > 0 ? sqlite3_bind_int64(st, 4, (sqlite3_int64) w->opened_at)
                                             : sqlite3_bind_null(st, 4));
                rc = rc ?: sqlite3_bind_int64(st, 5, w->times_opened);
                rc = rc ?: sqlite3_bind_int64(st, 6, (sqlite3_int64) now_rt);
        } else {
                st = s->stmt[ST_UPSERT_INSTANCE_STATE];
                rc = sqlite3_bind_text(st, 1, e->worker, -1, SQLITE_STATIC);
                rc = rc ?: sqlite3_bind_int(st, 2, e->instance);
                rc = rc ?: sqlite3_bind_int64(st, 3, e->instance_state.backoff_level);
                rc = rc ?: sqlite3_bind_int64(st, 4, e->instance_state.deaths);
                rc = rc ?: sqlite3_bind_int64(st, 5, (sqlite3_int64) now_rt);
        }
        if (rc != SQLITE_OK) {
                (void) sqlite3_clear_bindings(st);
                return fail(s, rc, "bind");
        }
        return step_done(s, st, "save state");
}

int store_get_worker_state(Store *s, const char *worker, StoreWorkerState *ret) {
        sqlite3_stmt *st = NULL;
        StoreWorkerState w = {};
        int rc, r = 0;

        if (!s->db)
                return -ENOTCONN;
        rc = sqlite3_prepare_v2(s->db,
                                "SELECT breaker_state, coalesce(opened_at, 0), times_opened FROM worker_state"
                                " WHERE worker = ?1", -1, &st, NULL);
        rc = rc ?: sqlite3_bind_text(st, 1, worker, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                (void) snprintf(w.breaker_state, sizeof w.breaker_state, "%s",
                                (const char *) sqlite3_column_text(st, 0) ?: "closed");
                w.opened_at = (usec_t) sqlite3_column_int64(st, 1);
                w.times_opened = (unsigned) sqlite3_column_int64(st, 2);
                r = 1;
                rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE)
                rc = SQLITE_OK;
        sqlite3_finalize(st);
        st = NULL;
        if (rc != SQLITE_OK)
                return fail(s, rc, "read worker state");
        if (r == 0)
                return 0;

        rc = sqlite3_prepare_v2(s->db,
                                "SELECT j.value FROM worker_state, json_each(worker_state.failures) AS j"
                                " WHERE worker_state.worker = ?1 ORDER BY j.key", -1, &st, NULL);
        rc = rc ?: sqlite3_bind_text(st, 1, worker, -1, SQLITE_STATIC);
        while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (w.n_failures < STORE_FAILURES_MAX)
                        w.failures[w.n_failures++] = (usec_t) sqlite3_column_int64(st, 0);
                rc = SQLITE_OK;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE && rc != SQLITE_OK)
                return fail(s, rc, "read worker state");
        *ret = w;
        return 1;
}

int store_get_instance_state(Store *s, const char *worker, unsigned instance, StoreInstanceState *ret) {
        sqlite3_stmt *st = NULL;
        int rc, r = 0;

        if (!s->db)
                return -ENOTCONN;
        rc = sqlite3_prepare_v2(s->db,
                                "SELECT backoff_level, deaths FROM instance_state WHERE worker = ?1 AND instance = ?2",
                                -1, &st, NULL);
        rc = rc ?: sqlite3_bind_text(st, 1, worker, -1, SQLITE_STATIC);
        rc = rc ?: sqlite3_bind_int(st, 2, (int) instance);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                ret->backoff_level = (unsigned) sqlite3_column_int64(st, 0);
                ret->deaths = (unsigned) sqlite3_column_int64(st, 1);
                r = 1;
                rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE)
                rc = SQLITE_OK;
        sqlite3_finalize(st);
        if (rc != SQLITE_OK)
                return fail(s, rc, "read instance state");
        return r;
}

/* ---------------------------------------------------------------------------------------- *
 * Flushing                                                                                  */

static uint64_t incident_row_id(const Incident *inc) {
        return inc->txn_id ? inc->txn_id : inc->id;
}

static const Counts *incident_row_base(const Incident *inc) {
        return inc->txn_remapped ? &inc->txn_base : &inc->base;
}

static int bind_text(sqlite3_stmt *st, int k, const char *v) {
        return v ? sqlite3_bind_text(st, k, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, k);
}

static int bind_incident(sqlite3_stmt *st, const Incident *inc, usec_t opened_at) {
        const Counts *base = incident_row_base(inc);
        int rc = SQLITE_OK;

        rc = rc ?: bind_text(st, 1, inc->worker);
        rc = rc ?: (inc->instance >= 0 ? sqlite3_bind_int(st, 2, inc->instance) : sqlite3_bind_null(st, 2));
        rc = rc ?: sqlite3_bind_text(st, 3, incident_cause_to_string(inc->cause), -1, SQLITE_STATIC);
        rc = rc ?: sqlite3_bind_text(st, 4, category_to_string(inc->category), -1, SQLITE_STATIC);
        rc = rc ?: sqlite3_bind_int(st, 5, inc->severity);
        rc = rc ?: sqlite3_bind_text(st, 6, event_kind_to_string(inc->error_type), -1, SQLITE_STATIC);
        rc = rc ?: sqlite3_bind_text(st, 7, inc->message ?: "", -1, SQLITE_STATIC);
        rc = rc ?: sqlite3_bind_text(st, 8, inc->details ?: "{}", -1, SQLITE_STATIC);
        rc = rc ?: sqlite3_bind_int64(st, 9, (sqlite3_int64) opened_at);
        rc = rc ?: sqlite3_bind_int64(st, 10, (sqlite3_int64) inc->last_seen);
        rc = rc ?: sqlite3_bind_int64(st, 11, (sqlite3_int64) (inc->total.occurrences - base->occurrences));
        rc = rc ?: sqlite3_bind_int64(st, 12, (sqlite3_int64) (inc->total.dropped - base->dropped));
        rc = rc ?: sqlite3_bind_text(st, 13, incident_state_to_string(inc->state), -1, SQLITE_STATIC);
        rc = rc ?: bind_text(st, 14, resolution_to_string(inc->resolution));
        rc = rc ?: (inc->resolution != RESOLUTION_NONE ? sqlite3_bind_int64(st, 15, (sqlite3_int64) inc->resolved_at)
                                                       : sqlite3_bind_null(st, 15));
        rc = rc ?: bind_text(st, 16, inc->resolved_by);
        rc = rc ?: bind_text(st, 17, inc->note);
        return rc;
}

static int step_done(Store *s, sqlite3_stmt *st, const char *what) {
        int rc = sqlite3_step(st);

        (void) sqlite3_reset(st);
        (void) sqlite3_clear_bindings(st);
        if (rc != SQLITE_DONE)
                return fail(s, rc, what);
        return 0;
}

static int insert_incident(Store *s, Incident *inc, usec_t opened_at) {
        sqlite3_stmt *st = s->stmt[ST_INSERT_INCIDENT];
        int rc, r;

        rc = bind_incident(st, inc, opened_at);
        if (rc != SQLITE_OK) {
                (void) sqlite3_clear_bindings(st);
                return fail(s, rc, "bind");
        }
        r = step_done(s, st, "insert incident");
        if (r < 0)
                return r;
        inc->txn_id = (uint64_t) sqlite3_last_insert_rowid(s->db);
        return 0;
}

static int write_incident(Store *s, Incident *inc) {
        sqlite3_stmt *st = s->stmt[ST_UPDATE_INCIDENT];
        int rc, r;

        if (inc->id == 0)
                return insert_incident(s, inc, inc->opened_at);

        rc = bind_incident(st, inc, inc->opened_at);
        rc = rc ?: sqlite3_bind_int64(st, 18, (sqlite3_int64) inc->id);
        if (rc != SQLITE_OK) {
                (void) sqlite3_clear_bindings(st);
                return fail(s, rc, "bind");
        }
        r = step_done(s, st, "update incident");
        if (r < 0)
                return r;
        if (sqlite3_changes(s->db) > 0)
                return 0;

        /* Resolved by an operator (or purged) since we last wrote it. That resolution stands;
         * what happened since then is a new incident of its own. */
        if (inc->total.seq == inc->written.seq && inc->total.actions == inc->written.actions)
                return 0;
        inc->txn_remapped = true;
        inc->txn_base = inc->written;
        return insert_incident(s, inc, inc->unwritten_since > 0 ? inc->unwritten_since : inc->last_seen);
}

static int write_event(Store *s, const QueuedEvent *e) {
        sqlite3_stmt *st = s->stmt[ST_INSERT_EVENT];
        const Incident *inc = e->incident;
        uint64_t id = incident_row_id(inc), seq;
        int rc, r;

        if (e->seq <= incident_row_base(inc)->seq)
                /* Written after its incident was resolved by an operator, and from before the
                 * new occurrence: the resolved incident's story stays as the operator saw it. */
                return 0;
        seq = e->seq - incident_row_base(inc)->seq;

        rc = sqlite3_bind_int64(st, 1, (sqlite3_int64) id);
        rc = rc ?: sqlite3_bind_int64(st, 2, (sqlite3_int64) seq);
        rc = rc ?: sqlite3_bind_int64(st, 3, (sqlite3_int64) e->at);
        rc = rc ?: sqlite3_bind_text(st, 4, event_kind_to_string(e->kind), -1, SQLITE_STATIC);
        rc = rc ?: sqlite3_bind_int(st, 5, e->severity);
        rc = rc ?: sqlite3_bind_text(st, 6, e->message ?: "", -1, SQLITE_STATIC);
        rc = rc ?: sqlite3_bind_text(st, 7, e->details ?: "{}", -1, SQLITE_STATIC);
        if (rc != SQLITE_OK) {
                (void) sqlite3_clear_bindings(st);
                return fail(s, rc, "bind");
        }
        r = step_done(s, st, "insert event");
        if (r < 0)
                return r;

        /* The first events_head and the last events_tail stay; the one that just left the
         * tail goes (the incident's counts stay exact). */
        if (seq > (uint64_t) s->events_head + s->events_tail) {
                st = s->stmt[ST_TRIM_EVENT];
                rc = sqlite3_bind_int64(st, 1, (sqlite3_int64) id);
                rc = rc ?: sqlite3_bind_int64(st, 2, (sqlite3_int64) (seq - s->events_tail));
                if (rc != SQLITE_OK) {
                        (void) sqlite3_clear_bindings(st);
                        return fail(s, rc, "bind");
                }
                r = step_done(s, st, "trim events");
                if (r < 0)
                        return r;
        }
        return 0;
}

static int write_action(Store *s, const QueuedEvent *e) {
        const Incident *inc = e->incident;
        uint64_t base = incident_row_base(inc)->actions;
        sqlite3_stmt *st;
        int rc;

        if (e->seq <= base)
                return 0;   /* of a row an operator resolved meanwhile: left as it was */
        if (e->type == QUEUED_ACTION) {
                st = s->stmt[ST_INSERT_ACTION];
                rc = sqlite3_bind_int64(st, 1, (sqlite3_int64) incident_row_id(inc));
                rc = rc ?: sqlite3_bind_int64(st, 2, (sqlite3_int64) (e->seq - base));
                rc = rc ?: sqlite3_bind_int64(st, 3, (sqlite3_int64) e->at);
                rc = rc ?: sqlite3_bind_text(st, 4, e->message ?: "?", -1, SQLITE_STATIC);
                rc = rc ?: sqlite3_bind_text(st, 5, e->details ?: "{}", -1, SQLITE_STATIC);
        } else {
                st = s->stmt[ST_ACTION_OUTCOME];
                rc = sqlite3_bind_int64(st, 1, (sqlite3_int64) incident_row_id(inc));
                rc = rc ?: sqlite3_bind_int64(st, 2, (sqlite3_int64) (e->seq - base));
                rc = rc ?: sqlite3_bind_text(st, 3, e->message ?: "?", -1, SQLITE_STATIC);
                rc = rc ?: sqlite3_bind_int64(st, 4, (sqlite3_int64) e->at);
        }
        if (rc != SQLITE_OK) {
                (void) sqlite3_clear_bindings(st);
                return fail(s, rc, "bind");
        }
        return step_done(s, st, e->type == QUEUED_ACTION ? "insert action" : "action outcome");
}

static void flush_rollback(Store *s) {
        if (s->db && !sqlite3_get_autocommit(s->db))
                (void) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        for (size_t k = 0; k < s->n_dirty; k++) {
                Incident *inc = s->dirty[k];

                inc->txn_id = 0;
                inc->txn_remapped = false;
        }
}

static void flush_committed(Store *s) {
        size_t written = 0;

        for (size_t k = 0; k < s->n_dirty; k++) {
                Incident *inc = s->dirty[k];

                if (inc->txn_id)
                        inc->id = inc->txn_id;
                if (inc->txn_remapped)
                        inc->base = inc->txn_base;
                inc->txn_id = 0;
                inc->txn_remapped = false;
                inc->written = inc->total;
                inc->unwritten_since = 0;
        }
        for (size_t k = 0; k < s->queue_end; k++)
                if (!s->queue[k].dropped) {
                        written += s->queue[k].type == QUEUED_EVENT;
                        queued_event_done(&s->queue[k]);
                }
        /* Only now, when no event points at them any more, may resolved ones go. */
        for (size_t k = 0; k < s->n_dirty; k++) {
                s->dirty[k]->dirty = false;
                incident_release(s->dirty[k]);
        }
        s->n_dirty = 0;
        s->queue_end = s->drop_cursor = 0;
        s->n_queued = 0;
        for (size_t k = 0; k < s->n_dirty_states; k++)
                s->dirty_states[k]->dirty = false;
        s->n_dirty_states = 0;
        s->counters.commits++;
        s->counters.events_written += written;
}

int store_flush(Store *s) {
        int r;

        assert(s);

        if (s->n_dirty == 0 && s->n_queued == 0 && s->n_dirty_states == 0)
                return 0;

        r = store_connect(s, NULL);
        if (r < 0)
                goto fail;

        r = exec(s, "BEGIN IMMEDIATE");
        if (r < 0)
                goto fail;
        for (size_t k = 0; k < s->n_dirty && r >= 0; k++)
                r = write_incident(s, s->dirty[k]);
        for (size_t k = 0; k < s->queue_end && r >= 0; k++)
                if (!s->queue[k].dropped)
                        r = s->queue[k].type == QUEUED_EVENT ? write_event(s, &s->queue[k]) : write_action(s, &s->queue[k]);
        for (size_t k = 0; k < s->n_dirty_states && r >= 0; k++)
                r = write_state(s, s->dirty_states[k], now(CLOCK_REALTIME));
        if (r >= 0)
                r = exec(s, "COMMIT");
        if (r < 0)
                goto fail;

        flush_committed(s);
        return 1;

fail:
        flush_rollback(s);
        s->counters.flush_failures++;
        /* A damaged file is found again (and moved aside) by the next connect; an I/O error
         * may have left the connection unusable. Either way, start over. */
        if (IN_SET(r, -EBADMSG, -EIO))
                disconnect(s);
        return r;
}

int store_checkpoint(Store *s) {
        int rc;

        if (!s->db)
                return 0;
        rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        if (rc != SQLITE_OK)
                return fail(s, rc, "checkpoint");
        s->wal_frames = 0;
        return 0;
}

unsigned store_wal_frames(const Store *s) {
        return s->wal_frames;
}

int store_purge(Store *s, usec_t before, bool dry_run, uint64_t *ret_count) {
        static const char *const deletes[] = {
                "DELETE FROM events WHERE incident_id IN"
                " (SELECT id FROM incidents WHERE resolved_at IS NOT NULL AND resolved_at < ?1)",
                "DELETE FROM actions WHERE incident_id IN"
                " (SELECT id FROM incidents WHERE resolved_at IS NOT NULL AND resolved_at < ?1)",
                "DELETE FROM incidents WHERE resolved_at IS NOT NULL AND resolved_at < ?1",
        };
        sqlite3_stmt *st = NULL;
        uint64_t count = 0;
        int rc, r;

        r = store_connect(s, NULL);
        if (r < 0)
                return r;
        r = exec(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;

        rc = sqlite3_prepare_v2(s->db,
                                "SELECT count(*) FROM incidents WHERE resolved_at IS NOT NULL AND resolved_at < ?1",
                                -1, &st, NULL);
        rc = rc ?: sqlite3_bind_int64(st, 1, (sqlite3_int64) before);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                count = (uint64_t) sqlite3_column_int64(st, 0);
                rc = SQLITE_OK;
        }
        sqlite3_finalize(st);
        st = NULL;
        if (rc != SQLITE_OK) {
                r = fail(s, rc, "purge");
                goto finish;
        }

        for (size_t k = 0; !dry_run && k < ELEMENTSOF(deletes); k++) {
                rc = sqlite3_prepare_v2(s->db, deletes[k], -1, &st, NULL);
                rc = rc ?: sqlite3_bind_int64(st, 1, (sqlite3_int64) before);
                if (rc == SQLITE_OK)
                        rc = sqlite3_step(st);
                sqlite3_finalize(st);
                st = NULL;
                if (rc != SQLITE_DONE) {
                        r = fail(s, rc, "purge");
                        goto finish;
                }
        }
        r = exec(s, dry_run ? "ROLLBACK" : "COMMIT");
        if (r >= 0 && ret_count)
                *ret_count = count;
        return r;

finish:
        (void) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}
