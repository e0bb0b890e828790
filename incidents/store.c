/* The incident store's memory side: the open incidents by key, the queue of unwritten events
 * and actions, recording and resolving. store-open.c connects, store-flush.c writes,
 * store-state.c keeps the crash-loop state. See store.h.
 *
 * An incident's row is written as a whole from memory at each flush that touches it. Counts
 * kept in memory are exact; `written` is what the database holds as of the last commit, and
 * `base` is what belongs to earlier rows of the same in-memory incident: when an operator
 * resolves an incident while vigild still sees it, the next occurrence starts a new row (a
 * manual resolution is never reopened or overwritten), and the counts start over from there.
 * Anything decided inside a transaction lives in txn_* fields until the commit succeeds, so a
 * failed flush can be retried as if it never happened. */

#include <stdio.h>

#include "store-private.h"
#include "store.h"


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

const char *store_last_error(const Store *s) {
        return s->last_error;
}

int store_fail(Store *s, int rc, const char *what) {
        const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);

        (void) snprintf(s->last_error, sizeof s->last_error, "%s: %s", what, msg);
        return sqlite_to_errno(s->db, rc);
}

int store_step_done(Store *s, sqlite3_stmt *st, const char *what) {
        int rc = sqlite3_step(st);

        (void) sqlite3_reset(st);
        (void) sqlite3_clear_bindings(st);
        if (rc != SQLITE_DONE)
                return store_fail(s, rc, what);
        return 0;
}

void store_set_error(Store *s, const char *message) {
        (void) snprintf(s->last_error, sizeof s->last_error, "%s", message);
}

sqlite3 *store_db(Store *s) {
        return s->db;
}

/* ---------------------------------------------------------------------------------------- *
 * Open incidents                                                                            */

size_t store_key_hash(const IncidentKey *k) {
        uint64_t h = 1469598103934665603ULL;

        for (const char *p = k->worker ? k->worker : ""; *p; p++)
                h = (h ^ (uint8_t) *p) * 1099511628211ULL;
        h = (h ^ (uint32_t) k->instance) * 1099511628211ULL;
        h = (h ^ (uint32_t) k->cause) * 1099511628211ULL;
        for (const char *p = k->probe ? k->probe : ""; *p; p++)
                h = (h ^ (uint8_t) *p) * 1099511628211ULL;
        return (size_t) h;
}

static size_t incident_hash(const Incident *i) {
        return store_key_hash(&(const IncidentKey) { .worker = i->worker, .instance = i->instance,
                                                     .cause = i->cause, .probe = i->probe });
}

Incident *store_table_find(const Store *s, const IncidentKey *k) {
        if (s->n_buckets == 0)
                return NULL;
        for (Incident *i = s->buckets[store_key_hash(k) & (s->n_buckets - 1)]; i; i = i->hash_next)
                if (i->instance == k->instance && i->cause == k->cause && streq_ptr(i->worker, k->worker) &&
                    streq_ptr(i->probe, k->probe))
                        return i;
        return NULL;
}

int store_table_add(Store *s, Incident *inc) {
        size_t b;

        if (s->n_open >= s->n_buckets) {
                size_t n = MAX(s->n_buckets * 2, (size_t) 64);
                Incident **nb = calloc(n, sizeof(Incident *));

                if (!nb)
                        return -ENOMEM;
                for (size_t k = 0; k < s->n_buckets; k++)
                        for (Incident *i = s->buckets[k], *next; i; i = next) {
                                next = i->hash_next;
                                b = incident_hash(i) & (n - 1);
                                i->hash_next = nb[b];
                                nb[b] = i;
                        }
                free(s->buckets);
                s->buckets = nb;
                s->n_buckets = n;
        }
        b = incident_hash(inc) & (s->n_buckets - 1);
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
        for (p = &s->buckets[incident_hash(inc) & (s->n_buckets - 1)]; *p;
             p = &(*p)->hash_next)
                if (*p == inc) {
                        *p = inc->hash_next;
                        break;
                }
        inc->hash_next = NULL;
        inc->open = false;
        s->n_open--;
}

Incident *store_incident_free(Incident *inc) {
        if (!inc)
                return NULL;
        free(inc->worker);
        free(inc->probe);
        free(inc->message);
        free(inc->details);
        free(inc->resolved_by);
        free(inc->note);
        return mfree(inc);
}

static Incident *incident_new(const IncidentKey *k, const StoreEvent *e, usec_t at) {
        Incident *inc = calloc(1, sizeof(Incident));

        if (!inc)
                return NULL;
        *inc = (Incident) {
                .instance = k->instance,
                .cause = k->cause,
                .base_severity = SEVERITY_LOW,
                .severity = SEVERITY_LOW,
                .category = e->category >= 0 ? e->category : event_kind_category(e->kind),
                .state = INCIDENT_OPEN,
                .error_type = e->kind,
                .opened_at = at,
                .last_seen = at,
        };
        if ((k->worker && !(inc->worker = strdup(k->worker))) || (k->probe && !(inc->probe = strdup(k->probe))))
                return store_incident_free(inc);
        return inc;
}

int store_table_add_new(Store *s, const IncidentKey *k, const StoreEvent *e, usec_t at, Incident **ret) {
        Incident *inc = incident_new(k, e, at);
        int r;

        if (!inc)
                return -ENOMEM;
        r = store_table_add(s, inc);
        if (r < 0) {
                store_incident_free(inc);
                return r;
        }
        *ret = inc;
        return 0;
}

/* Frees an incident nothing refers to any more: resolved, written, no queued events. */
void store_incident_release(Incident *inc) {
        if (!inc->open && !inc->dirty && inc->queued == 0)
                store_incident_free(inc);
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

int store_replace_string(char **dst, const char *src) {
        char *c = NULL;

        if (src && !(c = strdup(src)))
                return -ENOMEM;
        free(*dst);
        *dst = c;
        return 0;
}

/* ---------------------------------------------------------------------------------------- *
 * The queue                                                                                 */

void store_queued_event_done(QueuedEvent *e) {
        e->message = mfree(e->message);
        e->details = mfree(e->details);
        if (e->incident) {
                e->incident->queued--;
                store_incident_release(e->incident);
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
        store_queued_event_done(victim);
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

void store_disconnect(Store *s) {
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
        store_disconnect(s);
        for (size_t k = 0; k < s->queue_end; k++)
                if (!s->queue[k].dropped)
                        store_queued_event_done(&s->queue[k]);
        free(s->queue);
        /* Dirty incidents may be resolved ones, out of the table: free them through the list. */
        for (size_t k = 0; k < s->n_dirty; k++) {
                s->dirty[k]->dirty = false;
                if (!s->dirty[k]->open)
                        store_incident_free(s->dirty[k]);
        }
        free(s->dirty);
        for (size_t k = 0; k < s->n_buckets; k++)
                for (Incident *i = s->buckets[k], *next; i; i = next) {
                        next = i->hash_next;
                        store_incident_free(i);
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

bool store_pending(const Store *s) {
        return s->n_queued > 0 || s->n_dirty > 0 || s->n_dirty_states > 0;
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
        /* A probe's finding stays open until an action on it is under way (or it recovers);
         * a deferred verdict changes nothing. */
        if (IN_SET(kind, EVENT_PROBE_WARNING, EVENT_PROBE_CRITICAL, EVENT_PROBE_UNKNOWN, EVENT_VERDICT_DEFERRED))
                return old;
        return INCIDENT_MITIGATING;   /* vigild restarts or retries */
}


int store_record(Store *s, const StoreEvent *e, Severity *ret_severity) {
        IncidentKey key;
        QueuedEvent *q;
        Incident *inc;
        Severity sev;
        usec_t at;
        int r;

        assert(s);
        assert(e);
        assert(e->kind >= 0 && e->kind < _EVENT_KIND_MAX);

        /* A step recorded under a probe's name (a deferred verdict) belongs to that probe's
         * incident; every other event to the incident its kind names. */
        key = (IncidentKey) { .worker = e->worker, .instance = e->instance, .cause = event_kind_cause(e->kind),
                              .probe = e->probe };
        if (e->probe && !IN_SET(key.cause, CAUSE_PROBE, CAUSE_PROBE_UNKNOWN))
                key.cause = CAUSE_PROBE;
        at = e->at > 0 ? e->at : now(CLOCK_REALTIME);
        sev = e->severity >= 0 ? e->severity : event_kind_severity(e->kind);

        inc = store_table_find(s, &key);
        if (!inc) {
                r = store_table_add_new(s, &key, e, at, &inc);
                if (r < 0)
                        return r;
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
                if (store_replace_string(&inc->message, e->message) < 0 || store_replace_string(&inc->details, e->details) < 0) {
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

int store_resolve(Store *s, const IncidentKey *k, Resolution how, usec_t at,
                  const char *by, const char *note) {
        Incident *inc;
        int r;

        assert(s);
        assert(how > RESOLUTION_NONE && how < _RESOLUTION_MAX);

        inc = store_table_find(s, k);
        if (!inc)
                return 0;
        r = mark_dirty(s, inc);
        if (r < 0)
                return r;
        if (store_replace_string(&inc->resolved_by, by) < 0 || store_replace_string(&inc->note, note) < 0)
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

int store_action(Store *s, const IncidentKey *k, const char *action, usec_t at,
                 const char *details) {
        Incident *inc;
        int r;

        assert(s);
        assert(action);

        inc = store_table_find(s, k);
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

int store_action_outcome(Store *s, const IncidentKey *k, const char *outcome,
                         usec_t at) {
        Incident *inc;
        int r;

        assert(s);
        assert(outcome);

        inc = store_table_find(s, k);
        if (!inc || inc->pending_action == 0)
                return 0;
        r = queue_push(s, inc, QUEUED_OUTCOME, inc->pending_action, at, outcome, NULL);
        if (r < 0)
                return r;
        inc->pending_action = 0;
        return 1;
}

bool store_lookup(const Store *s, const IncidentKey *k, Severity *ret_severity, uint64_t *ret_occurrences) {
        Incident *inc = store_table_find(s, k);

        if (!inc)
                return false;
        if (ret_severity)
                *ret_severity = inc->severity;
        if (ret_occurrences)
                *ret_occurrences = inc->total.occurrences;
        return true;
}

