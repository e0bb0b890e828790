/* vigilctl's queries on the incident store. See store-query.h. */

#include <inttypes.h>
#include <stdio.h>

#include "store-private.h"
#include "store-query.h"

#define INCIDENT_COLUMNS                                                                          \
        "id, worker, coalesce(instance, -1), cause, category, severity, error_type, message, details, state," \
        " resolution, resolved_by, resolution_note, opened_at, last_seen, coalesce(resolved_at, 0),"  \
        " occurrences, events_dropped, probe"

/* ?1 open (-1, 0, 1), ?2 worker, ?3 minimum severity (-1: any), ?4 category, ?5 since, ?6 until,
 * ?7 limit (-1: none). */
#define INCIDENT_WHERE                                                                            \
        " WHERE (?1 < 0 OR (?1 = 1 AND resolved_at IS NULL) OR (?1 = 0 AND resolved_at IS NOT NULL))" \
        " AND (?2 IS NULL OR worker = ?2) AND (?3 < 0 OR severity >= ?3)"                         \
        " AND (?4 IS NULL OR category = ?4) AND (?5 = 0 OR opened_at >= ?5) AND (?6 = 0 OR opened_at < ?6)"

#define SEVERITY_NAME(col)                                                                        \
        "CASE " col " WHEN 0 THEN 'LOW' WHEN 1 THEN 'MEDIUM' WHEN 2 THEN 'HIGH' ELSE 'CRITICAL' END"
#define ISO_TIME(col) "strftime('%Y-%m-%dT%H:%M:%fZ', " col " / 1000000.0, 'unixepoch')"

#define INCIDENT_JSON_OBJECT                                                                      \
        "json_object('id', id, 'worker', worker, 'instance', instance, 'cause', cause, 'probe', probe,"  \
        " 'category', category, 'severity', " SEVERITY_NAME("severity") ", 'error_type', error_type," \
        " 'message', message, 'details', json(details), 'state', state, 'resolution', resolution," \
        " 'resolved_by', resolved_by, 'note', resolution_note, 'opened_at', " ISO_TIME("opened_at") "," \
        " 'last_seen', " ISO_TIME("last_seen") ", 'resolved_at', " ISO_TIME("resolved_at") ","    \
        " 'occurrences', occurrences, 'events_dropped', events_dropped)"

static int prepare(Store *s, const char *sql, sqlite3_stmt **ret) {
        sqlite3 *db = store_db(s);
        int rc;

        if (!db)
                return -ENOTCONN;
        rc = sqlite3_prepare_v2(db, sql, -1, ret, NULL);
        if (rc != SQLITE_OK)
                return store_fail(s, rc, "query");
        return 0;
}

static int bind_filter(sqlite3_stmt *st, const IncidentFilter *f) {
        int rc;

        rc = sqlite3_bind_int(st, 1, f->open);
        rc = rc ?: (f->worker ? sqlite3_bind_text(st, 2, f->worker, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 2));
        rc = rc ?: sqlite3_bind_int(st, 3, f->min_severity >= 0 ? (int) f->min_severity : -1);
        rc = rc ?: (f->category >= 0 ? sqlite3_bind_text(st, 4, category_to_string(f->category), -1, SQLITE_STATIC)
                                     : sqlite3_bind_null(st, 4));
        rc = rc ?: sqlite3_bind_int64(st, 5, (sqlite3_int64) f->since);
        rc = rc ?: sqlite3_bind_int64(st, 6, (sqlite3_int64) f->until);
        rc = rc ?: sqlite3_bind_int64(st, 7, f->limit > 0 ? (sqlite3_int64) f->limit : -1);
        return rc;
}

static void read_incident(sqlite3_stmt *st, IncidentRow *row) {
        *row = (IncidentRow) {
                .id = (uint64_t) sqlite3_column_int64(st, 0),
                .worker = (const char *) sqlite3_column_text(st, 1),
                .instance = sqlite3_column_int(st, 2),
                .cause = (const char *) sqlite3_column_text(st, 3),
                .category = (const char *) sqlite3_column_text(st, 4),
                .severity = (Severity) sqlite3_column_int(st, 5),
                .error_type = (const char *) sqlite3_column_text(st, 6),
                .message = (const char *) sqlite3_column_text(st, 7),
                .details = (const char *) sqlite3_column_text(st, 8),
                .state = (const char *) sqlite3_column_text(st, 9),
                .resolution = (const char *) sqlite3_column_text(st, 10),
                .resolved_by = (const char *) sqlite3_column_text(st, 11),
                .note = (const char *) sqlite3_column_text(st, 12),
                .opened_at = (usec_t) sqlite3_column_int64(st, 13),
                .last_seen = (usec_t) sqlite3_column_int64(st, 14),
                .resolved_at = (usec_t) sqlite3_column_int64(st, 15),
                .occurrences = (uint64_t) sqlite3_column_int64(st, 16),
                .events_dropped = (uint64_t) sqlite3_column_int64(st, 17),
                .probe = (const char *) sqlite3_column_text(st, 18),
        };
}

/* Where run_rows() hands each row: one of the two callbacks is set. */
typedef struct RowSink {
        int (*incident)(const IncidentRow *row, void *userdata);
        int (*event)(const EventRow *row, void *userdata);
        void *userdata;
} RowSink;

static void read_event(sqlite3_stmt *st, EventRow *row) {
        *row = (EventRow) {
                .seq = (uint64_t) sqlite3_column_int64(st, 0),
                .at = (usec_t) sqlite3_column_int64(st, 1),
                .kind = (const char *) sqlite3_column_text(st, 2),
                .severity = (Severity) sqlite3_column_int(st, 3),
                .message = (const char *) sqlite3_column_text(st, 4),
                .details = (const char *) sqlite3_column_text(st, 5),
                .action = sqlite3_column_int(st, 6),
                .outcome_at = (usec_t) sqlite3_column_int64(st, 7),
        };
}

/* Steps st to its end, handing each row to the sink. */
static int run_rows(Store *s, sqlite3_stmt *st, const RowSink *sink) {
        int rc, r = 0;

        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (sink->incident) {
                        IncidentRow row;

                        read_incident(st, &row);
                        r = sink->incident(&row, sink->userdata);
                } else {
                        EventRow row;

                        read_event(st, &row);
                        r = sink->event(&row, sink->userdata);
                }
                if (r < 0)
                        break;
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = store_fail(s, rc, "query");
        return r;
}

/* The end of binding a statement's parameters: 0, or the error if rc says binding failed. */
static int bound(Store *s, int rc) {
        if (rc == SQLITE_OK)
                return 0;
        return store_fail(s, rc, "bind");
}

/* A statement of INCIDENT_WHERE's parameters, bound from f. */
static int prepare_filtered(Store *s, const char *sql, const IncidentFilter *f, sqlite3_stmt **ret) {
        int r = prepare(s, sql, ret);

        return r < 0 ? r : bound(s, bind_filter(*ret, f));
}

int store_list_incidents(Store *s, const IncidentFilter *f, int (*cb)(const IncidentRow *row, void *userdata),
                         void *userdata) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int r;

        r = prepare_filtered(s, "SELECT " INCIDENT_COLUMNS " FROM incidents" INCIDENT_WHERE
                                " ORDER BY opened_at DESC, id DESC LIMIT ?7", f, &st);
        if (r < 0)
                return r;
        return run_rows(s, st, &(const RowSink) { .incident = cb, .userdata = userdata });
}

/* The first column of the single row of st, as a new string. */
static int single_text(Store *s, sqlite3_stmt *st, char **ret) {
        int rc, r = 0;

        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                const char *v = (const char *) sqlite3_column_text(st, 0);

                if (!v)
                        r = -ENOENT;
                else if (!(*ret = strdup(v)))
                        r = -ENOMEM;
        } else
                r = rc == SQLITE_DONE ? -ENOENT : store_fail(s, rc, "query");
        return r;
}

int store_incidents_json(Store *s, const IncidentFilter *f, char **ret) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int r;

        r = prepare_filtered(s, "SELECT coalesce(json_group_array(json(o)), '[]') FROM (SELECT " INCIDENT_JSON_OBJECT
                                " AS o FROM incidents" INCIDENT_WHERE " ORDER BY opened_at DESC, id DESC LIMIT ?7)", f, &st);
        if (r < 0)
                return r;
        return single_text(s, st, ret);
}

int store_get_incident(Store *s, uint64_t id, int (*cb)(const IncidentRow *row, void *userdata), void *userdata) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        IncidentRow row;
        int r, rc;

        r = prepare(s, "SELECT " INCIDENT_COLUMNS " FROM incidents WHERE id = ?1", &st);
        if (r < 0)
                return r;
        rc = sqlite3_bind_int64(st, 1, (sqlite3_int64) id);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return rc == SQLITE_DONE ? 0 : store_fail(s, rc, "query");
        read_incident(st, &row);
        r = cb(&row, userdata);
        return r < 0 ? r : 1;
}

int store_list_events(Store *s, uint64_t id, uint64_t offset, uint64_t limit,
                      int (*cb)(const EventRow *row, void *userdata), void *userdata) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int r;

        r = prepare(s, "SELECT seq, at, kind, severity, message, details, 0, 0 FROM events WHERE incident_id = ?1"
                       " UNION ALL SELECT seq, at, action, -1, outcome, details, 1, coalesce(outcome_at, 0)"
                       " FROM actions WHERE incident_id = ?1"
                       " ORDER BY 2, 7, 1 LIMIT ?2 OFFSET ?3", &st);
        if (r < 0)
                return r;
        r = bound(s, sqlite3_bind_int64(st, 1, (sqlite3_int64) id) ?:
                     sqlite3_bind_int64(st, 2, limit > 0 ? (sqlite3_int64) limit : -1) ?:
                     sqlite3_bind_int64(st, 3, (sqlite3_int64) offset));
        if (r < 0)
                return r;
        return run_rows(s, st, &(const RowSink) { .event = cb, .userdata = userdata });
}

int store_incident_json(Store *s, uint64_t id, char **ret) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int r;

        r = prepare(s, "SELECT json_set(" INCIDENT_JSON_OBJECT ", '$.events', (SELECT coalesce(json_group_array(json(e)), '[]')"
                       " FROM (SELECT json_object('seq', seq, 'at', " ISO_TIME("at") ", 'kind', kind, 'severity', "
                       SEVERITY_NAME("severity") ", 'message', message, 'details', json(details)) AS e"
                       " FROM events WHERE incident_id = ?1 ORDER BY seq)),"
                       " '$.actions', (SELECT coalesce(json_group_array(json(a)), '[]')"
                       " FROM (SELECT json_object('seq', seq, 'at', " ISO_TIME("at") ", 'action', action,"
                       " 'outcome', outcome, 'outcome_at', " ISO_TIME("outcome_at") ", 'details', json(details)) AS a"
                       " FROM actions WHERE incident_id = ?1 ORDER BY seq)))"
                       " FROM incidents WHERE id = ?1", &st);
        if (r < 0)
                return r;
        r = bound(s, sqlite3_bind_int64(st, 1, (sqlite3_int64) id));
        if (r < 0)
                return r;
        return single_text(s, st, ret);
}

static int exec_simple(Store *s, const char *sql) {
        int rc = sqlite3_exec(store_db(s), sql, NULL, NULL, NULL);

        return rc == SQLITE_OK ? 0 : store_fail(s, rc, sql);
}

/* 0 if incident id is open, -ENOENT if there is none, -EALREADY if it is resolved. */
static int check_open(Store *s, uint64_t id) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int r, rc;

        r = prepare(s, "SELECT resolved_at IS NOT NULL FROM incidents WHERE id = ?1", &st);
        if (r < 0)
                return r;
        rc = sqlite3_bind_int64(st, 1, (sqlite3_int64) id);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_fail(s, rc, "query");
        return sqlite3_column_int(st, 0) ? -EALREADY : 0;
}

static int write_manual_resolution(Store *s, uint64_t id, usec_t at, const char *by, const char *note) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int r, rc;

        r = prepare(s, "UPDATE main.incidents SET state = 'resolved', resolution = 'manual', resolved_at = ?2,"
                       " resolved_by = ?3, resolution_note = ?4 WHERE id = ?1 AND resolved_at IS NULL", &st);
        if (r < 0)
                return r;
        rc = sqlite3_bind_int64(st, 1, (sqlite3_int64) id);
        rc = rc ?: sqlite3_bind_int64(st, 2, (sqlite3_int64) at);
        rc = rc ?: sqlite3_bind_text(st, 3, by, -1, SQLITE_STATIC);
        rc = rc ?: (note ? sqlite3_bind_text(st, 4, note, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 4));
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
                return store_fail(s, rc, "resolve");
        return 0;
}

int store_resolve_manual(Store *s, uint64_t id, usec_t at, const char *by, const char *note) {
        int r;

        if (!store_db(s))
                return -ENOTCONN;
        r = exec_simple(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = check_open(s, id);
        if (r >= 0)
                r = write_manual_resolution(s, id, at, by, note);
        if (r < 0) {
                (void) sqlite3_exec(store_db(s), "ROLLBACK", NULL, NULL, NULL);
                return r;
        }
        return exec_simple(s, "COMMIT");
}

static int query_u64(Store *s, const char *sql, usec_t since, uint64_t *ret) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int r, rc;

        r = prepare(s, sql, &st);
        if (r < 0)
                return r;
        rc = sqlite3_bind_int64(st, 1, (sqlite3_int64) since);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return store_fail(s, rc, "query");
        *ret = (uint64_t) sqlite3_column_int64(st, 0);
        return 0;
}

/* The totals over incidents opened at or after since, into *t. */
static int stats_totals(Store *s, usec_t since, StoreStats *t) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int r, rc;

        r = prepare(s, "SELECT count(*), coalesce(sum(occurrences), 0),"
                       " coalesce(sum(resolved_at IS NULL), 0),"
                       " coalesce(sum(resolved_at IS NULL AND severity = 3), 0),"
                       " coalesce(sum(resolved_at IS NOT NULL), 0),"
                       " coalesce(avg(resolved_at - opened_at), 0),"
                       " coalesce(min(opened_at), 0), coalesce(max(last_seen), 0)"
                       " FROM incidents WHERE opened_at >= ?1", &st);
        if (r < 0)
                return r;
        rc = sqlite3_bind_int64(st, 1, (sqlite3_int64) since);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return store_fail(s, rc, "stats");
        t->incidents = (uint64_t) sqlite3_column_int64(st, 0);
        t->occurrences = (uint64_t) sqlite3_column_int64(st, 1);
        t->open = (uint64_t) sqlite3_column_int64(st, 2);
        t->open_critical = (uint64_t) sqlite3_column_int64(st, 3);
        t->resolved = (uint64_t) sqlite3_column_int64(st, 4);
        t->mean_time_to_resolve_usec = sqlite3_column_double(st, 5);
        t->first = (usec_t) sqlite3_column_int64(st, 6);
        t->last = (usec_t) sqlite3_column_int64(st, 7);
        return 0;
}

/* The same incidents by category and by severity, into *t. */
static int stats_distribution(Store *s, usec_t since, StoreStats *t) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int r, rc;

        r = prepare(s, "SELECT category, severity, count(*) FROM incidents WHERE opened_at >= ?1"
                       " GROUP BY category, severity", &st);
        if (r < 0)
                return r;
        rc = sqlite3_bind_int64(st, 1, (sqlite3_int64) since);
        while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                Category c = category_from_string((const char *) sqlite3_column_text(st, 0));
                int sev = sqlite3_column_int(st, 1);
                uint64_t n = (uint64_t) sqlite3_column_int64(st, 2);

                if (c >= 0)
                        t->by_category[c] += n;
                if (sev >= 0 && sev < _SEVERITY_MAX)
                        t->by_severity[sev] += n;
                rc = SQLITE_OK;
        }
        if (rc != SQLITE_DONE && rc != SQLITE_OK)
                return store_fail(s, rc, "stats");
        return 0;
}

/* The top_n workers with the most occurrences, most first, handed to top_cb. */
static int stats_top(Store *s, usec_t since, unsigned top_n,
                     int (*top_cb)(const char *worker, uint64_t occurrences, void *userdata), void *userdata) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int r, rc;

        r = prepare(s, "SELECT worker, sum(occurrences) AS n FROM incidents WHERE opened_at >= ?1"
                       " AND worker IS NOT NULL GROUP BY worker ORDER BY n DESC, worker LIMIT ?2", &st);
        if (r < 0)
                return r;
        rc = sqlite3_bind_int64(st, 1, (sqlite3_int64) since);
        rc = rc ?: sqlite3_bind_int(st, 2, (int) top_n);
        while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                r = top_cb((const char *) sqlite3_column_text(st, 0), (uint64_t) sqlite3_column_int64(st, 1),
                           userdata);
                if (r < 0)
                        return r;
                rc = SQLITE_OK;
        }
        if (rc != SQLITE_DONE && rc != SQLITE_OK)
                return store_fail(s, rc, "stats");
        return 0;
}

int store_stats(Store *s, usec_t since, StoreStats *ret, unsigned top_n,
                int (*top_cb)(const char *worker, uint64_t occurrences, void *userdata), void *userdata) {
        StoreStats t = {};
        int r;

        r = stats_totals(s, since, &t);
        if (r >= 0)
                r = stats_distribution(s, since, &t);
        if (r >= 0 && top_cb && top_n > 0)
                r = stats_top(s, since, top_n, top_cb, userdata);
        if (r < 0)
                return r;
        *ret = t;
        return 0;
}

int store_health_counts(Store *s, usec_t since, uint64_t *ret_open, uint64_t *ret_critical,
                        uint64_t *ret_opened_since) {
        int r;

        r = query_u64(s, "SELECT count(*) FROM incidents WHERE resolved_at IS NULL AND ?1 >= 0", 0, ret_open);
        if (r >= 0)
                r = query_u64(s, "SELECT count(*) FROM incidents WHERE resolved_at IS NULL AND severity = 3 AND ?1 >= 0",
                              0, ret_critical);
        if (r >= 0)
                r = query_u64(s, "SELECT count(*) FROM incidents WHERE opened_at >= ?1", since, ret_opened_since);
        return r;
}
