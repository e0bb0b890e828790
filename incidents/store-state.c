/* The crash-loop state the store keeps across restarts of vigild: each worker's breaker and
 * recent failures, each instance's backoff level and deaths. The latest state of each (worker,
 * instance) waits in memory, in Store.state_buckets, until a flush writes the dirty ones with
 * store_write_state() inside its transaction (store-flush.c); the getters read the
 * worker_state and instance_state tables back. Never begins or ends a transaction itself;
 * non-logging. */

#include <inttypes.h>
#include <stdio.h>

#include "store-private.h"
#include "store.h"

static StateEntry *state_entry(Store *s, const char *worker, int instance) {
        size_t b;
        StateEntry *e;

        if (s->n_state_buckets > 0)
                for (e = s->state_buckets[store_key_hash(&INCIDENT_KEY(worker, instance, 0)) & (s->n_state_buckets - 1)]; e;
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
                                b = store_key_hash(&INCIDENT_KEY(i->worker, i->instance, 0)) & (n - 1);
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
        b = store_key_hash(&INCIDENT_KEY(worker, instance, 0)) & (s->n_state_buckets - 1);
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

int store_write_state(Store *s, const StateEntry *e, usec_t now_rt) {
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
