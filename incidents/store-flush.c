/* Writing the incident store: one BEGIN IMMEDIATE transaction per flush with the dirty
 * incidents, the queued events and actions and the crash-loop states (written by
 * store-state.c); rolled back and kept queued on any failure. Also checkpoints and the
 * retention purge. */

#include "store-private.h"
#include "store.h"

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
        if (sqlite3_bind_parameter_count(st) >= 19)
                rc = rc ?: bind_text(st, 19, inc->probe);
        return rc;
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
                r = store_write_state(s, s->dirty_states[k], now(CLOCK_REALTIME));
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
