/* Writing the incident store: one BEGIN IMMEDIATE transaction per flush with the dirty
 * incidents, the queued events and actions and the crash-loop states; rolled back and kept
 * queued on any failure. Also the crash-loop state, checkpoints and the retention purge. */

#include <inttypes.h>
#include <stdio.h>

#include "store-private.h"
#include "store.h"

/* ---------------------------------------------------------------------------------------- *
 * Crash-loop state                                                                          */

int store_step_done(Store *s, sqlite3_stmt *st, const char *what);

static StateEntry *state_entry(Store *s, const char *worker, int instance) {
        size_t b;
        StateEntry *e;

        if (s->n_state_buckets > 0)
                for (e = s->state_buckets[store_key_hash(worker, instance, 0) & (s->n_state_buckets - 1)]; e;
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
                                b = store_key_hash(i->worker, i->instance, 0) & (n - 1);
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
        b = store_key_hash(worker, instance, 0) & (s->n_state_buckets - 1);
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
                return store_fail(s, rc, "bind");
        }
        return store_step_done(s, st, "save state");
}

/* The worker's row of worker_state but its failures: 1 and *w filled, 0 if it has none. */
static int read_worker_row(Store *s, const char *worker, StoreWorkerState *w) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(s->db,
                                "SELECT breaker_state, coalesce(opened_at, 0), times_opened FROM worker_state"
                                " WHERE worker = ?1", -1, &st, NULL);
        rc = rc ?: sqlite3_bind_text(st, 1, worker, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return 0;
        if (rc != SQLITE_ROW)
                return store_fail(s, rc, "read worker state");
        (void) snprintf(w->breaker_state, sizeof w->breaker_state, "%s",
                        (const char *) sqlite3_column_text(st, 0) ?: "closed");
        w->opened_at = (usec_t) sqlite3_column_int64(st, 1);
        w->times_opened = (unsigned) sqlite3_column_int64(st, 2);
        return 1;
}

/* The failures of the worker's row, oldest first, at most STORE_FAILURES_MAX, into *w. */
static int read_worker_failures(Store *s, const char *worker, StoreWorkerState *w) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(s->db,
                                "SELECT j.value FROM worker_state, json_each(worker_state.failures) AS j"
                                " WHERE worker_state.worker = ?1 ORDER BY j.key", -1, &st, NULL);
        rc = rc ?: sqlite3_bind_text(st, 1, worker, -1, SQLITE_STATIC);
        while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (w->n_failures < STORE_FAILURES_MAX)
                        w->failures[w->n_failures++] = (usec_t) sqlite3_column_int64(st, 0);
                rc = SQLITE_OK;
        }
        if (rc != SQLITE_DONE && rc != SQLITE_OK)
                return store_fail(s, rc, "read worker state");
        return 0;
}

int store_get_worker_state(Store *s, const char *worker, StoreWorkerState *ret) {
        StoreWorkerState w = {};
        int r;

        if (!s->db)
                return -ENOTCONN;
        r = read_worker_row(s, worker, &w);
        if (r <= 0)
                return r;
        r = read_worker_failures(s, worker, &w);
        if (r < 0)
                return r;
        *ret = w;
        return 1;
}

int store_get_instance_state(Store *s, const char *worker, unsigned instance, StoreInstanceState *ret) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int rc;

        if (!s->db)
                return -ENOTCONN;
        rc = sqlite3_prepare_v2(s->db,
                                "SELECT backoff_level, deaths FROM instance_state WHERE worker = ?1 AND instance = ?2",
                                -1, &st, NULL);
        rc = rc ?: sqlite3_bind_text(st, 1, worker, -1, SQLITE_STATIC);
        rc = rc ?: sqlite3_bind_int(st, 2, (int) instance);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return 0;
        if (rc != SQLITE_ROW)
                return store_fail(s, rc, "read instance state");
        ret->backoff_level = (unsigned) sqlite3_column_int64(st, 0);
        ret->deaths = (unsigned) sqlite3_column_int64(st, 1);
        return 1;
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

int store_step_done(Store *s, sqlite3_stmt *st, const char *what) {
        int rc = sqlite3_step(st);

        (void) sqlite3_reset(st);
        (void) sqlite3_clear_bindings(st);
        if (rc != SQLITE_DONE)
                return store_fail(s, rc, what);
        return 0;
}

static int insert_incident(Store *s, Incident *inc, usec_t opened_at) {
        sqlite3_stmt *st = s->stmt[ST_INSERT_INCIDENT];
        int rc, r;

        rc = bind_incident(st, inc, opened_at);
        if (rc != SQLITE_OK) {
                (void) sqlite3_clear_bindings(st);
                return store_fail(s, rc, "bind");
        }
        r = store_step_done(s, st, "insert incident");
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
                return store_fail(s, rc, "bind");
        }
        r = store_step_done(s, st, "update incident");
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
                return store_fail(s, rc, "bind");
        }
        r = store_step_done(s, st, "insert event");
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
                        return store_fail(s, rc, "bind");
                }
                r = store_step_done(s, st, "trim events");
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
                return store_fail(s, rc, "bind");
        }
        return store_step_done(s, st, e->type == QUEUED_ACTION ? "insert action" : "action outcome");
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
                        store_queued_event_done(&s->queue[k]);
                }
        /* Only now, when no event points at them any more, may resolved ones go. */
        for (size_t k = 0; k < s->n_dirty; k++) {
                s->dirty[k]->dirty = false;
                store_incident_release(s->dirty[k]);
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

        r = store_exec(s, "BEGIN IMMEDIATE");
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
                r = store_exec(s, "COMMIT");
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
                store_disconnect(s);
        return r;
}

int store_checkpoint(Store *s) {
        int rc;

        if (!s->db)
                return 0;
        rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        if (rc != SQLITE_OK)
                return store_fail(s, rc, "checkpoint");
        s->wal_frames = 0;
        return 0;
}

unsigned store_wal_frames(const Store *s) {
        return s->wal_frames;
}

/* Runs one statement of a purge with ?1 bound to before: a count (ret_count set from its row)
 * or, without ret_count, a DELETE to its end. */
static int purge_step(Store *s, const char *sql, usec_t before, uint64_t *ret_count) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        rc = rc ?: sqlite3_bind_int64(st, 1, (sqlite3_int64) before);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc != (ret_count ? SQLITE_ROW : SQLITE_DONE))
                return store_fail(s, rc, "purge");
        if (ret_count)
                *ret_count = (uint64_t) sqlite3_column_int64(st, 0);
        return 0;
}

int store_purge(Store *s, usec_t before, bool dry_run, uint64_t *ret_count) {
        static const char *const deletes[] = {
                "DELETE FROM events WHERE incident_id IN"
                " (SELECT id FROM incidents WHERE resolved_at IS NOT NULL AND resolved_at < ?1)",
                "DELETE FROM actions WHERE incident_id IN"
                " (SELECT id FROM incidents WHERE resolved_at IS NOT NULL AND resolved_at < ?1)",
                "DELETE FROM incidents WHERE resolved_at IS NOT NULL AND resolved_at < ?1",
        };
        uint64_t count = 0;
        int r;

        r = store_connect(s, NULL);
        if (r < 0)
                return r;
        r = store_exec(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;

        r = purge_step(s, "SELECT count(*) FROM incidents WHERE resolved_at IS NOT NULL AND resolved_at < ?1",
                       before, &count);
        for (size_t k = 0; r >= 0 && !dry_run && k < ELEMENTSOF(deletes); k++)
                r = purge_step(s, deletes[k], before, NULL);
        if (r < 0) {
                (void) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                return r;
        }
        r = store_exec(s, dry_run ? "ROLLBACK" : "COMMIT");
        if (r >= 0 && ret_count)
                *ret_count = count;
        return r;
}
