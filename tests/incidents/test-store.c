/* Tests for incidents/store.c on a database in a private temporary directory: creation and
 * schema, grouping of events into incidents, severity and escalation, grouped commits, the
 * per-incident event cap, manual and automatic resolutions, the bounded queue while the store
 * cannot be written, quarantine of a corrupt file, refusal of a newer schema, migrations from
 * every earlier version, a failed flush retried without loss, and the retention purge. The
 * directory is removed by the teardown whether the test passed or not. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test-util.h"

#include <fcntl.h>
#include <ftw.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "fileio.h"
#include "store-query.h"
#include "store-schema.h"
#include "store.h"

typedef struct TestState {
        char dir[64];
        char *path;
        Store *store;
        unsigned n_fds;
} TestState;

static int setup(void **state) {
        TestState *t = calloc(1, sizeof(TestState));

        if (!t)
                return -1;
        (void) snprintf(t->dir, sizeof t->dir, "/tmp/vigil-test-store-XXXXXX");
        if (!mkdtemp(t->dir) || asprintf(&t->path, "%s/incidents.db", t->dir) < 0)
                return -1;
        t->n_fds = count_fds();
        *state = t;
        return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

static int teardown(void **state) {
        TestState *t = *state;
        int r = 0;

        store_free(t->store);
        if (count_fds() != t->n_fds) {
                fprintf(stderr, "fd count changed: %u before, %u after\n", t->n_fds, count_fds());
                r = -1;
        }
        (void) nftw(t->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(t->path);
        free(t);
        return r;
}

static Store *open_store(TestState *t, size_t queue_max, unsigned head, unsigned tail) {
        StoreOptions o = {
                .path = t->path,
                .queue_max = queue_max,
                .events_head = head,
                .events_tail = tail,
                .reader_gid = (gid_t) -1,
        };

        store_free(t->store);
        t->store = NULL;
        assert_int_equal(store_new(&o, &t->store), 0);
        return t->store;
}

static void record(Store *s, EventKind kind, const char *worker, int instance, usec_t at, const char *msg) {
        StoreEvent e = {
                .kind = kind,
                .worker = worker,
                .instance = instance,
                .at = at,
                .severity = _SEVERITY_INVALID,
                .category = _CATEGORY_INVALID,
                .message = msg,
                .details = "{\"exit_code\":1}",
        };

        assert_int_equal(store_record(s, &e, NULL), 0);
}

/* The first column of the first row of sql on a fresh connection, as an integer. */
static int64_t query_int(const char *path, const char *sql) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        int64_t v = -1;

        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        if (sqlite3_step(st) == SQLITE_ROW)
                v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
}

static char *query_text(const char *path, const char *sql) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        char *v = NULL;

        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
                v = strdup((const char *) sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
}

static void exec_sql(const char *path, const char *sql) {
        sqlite3 *db = NULL;

        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
}

/* A small file's text, or NULL. */
static char *read_small(const char *path) {
        char *text = NULL;

        return read_full_file(path, 4096, &text, NULL) < 0 ? NULL : text;
}

static void assert_text(char *got, const char *want) {
        assert_non_null(got);
        assert_string_equal(got, want);
        free(got);
}

/* ---- tests ---- */

static void test_created_with_schema_mode_and_wal(void **state) {
        TestState *t = *state;
        Store *s = open_store(t, 0, 0, 0);
        struct stat st;

        assert_false(store_connected(s));
        assert_int_equal(store_connect(s, NULL), 0);
        assert_true(store_connected(s));
        assert_int_equal(stat(t->path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);
        assert_int_equal(st.st_uid, geteuid());
        assert_int_equal(query_int(t->path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
        assert_text(query_text(t->path, "PRAGMA journal_mode"), "wal");
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM sqlite_master WHERE name IN"
                                            " ('incidents','events','actions')"), 3);
        /* Nothing queued: a flush writes nothing and commits nothing. */
        assert_int_equal(store_flush(s), 0);
}

/* Without a reader group the store takes its directory's group; with one, that group. */
static void test_created_with_the_right_group(void **state) {
        TestState *t = *state;
        StoreOptions o = { .path = t->path, .reader_gid = 12345 };
        char *side = NULL;
        Store *s;
        struct stat st;

        if (geteuid() != 0)
                skip();
        assert_int_equal(chown(t->dir, 0, 65534), 0);
        s = open_store(t, 0, 0, 0);
        assert_int_equal(store_connect(s, NULL), 0);
        assert_int_equal(stat(t->path, &st), 0);
        assert_int_equal(st.st_gid, 65534);

        store_free(t->store);
        t->store = NULL;
        /* A new store in its place: the file and the -wal and -shm that vigild keeps. */
        static const char *const suffixes[] = { "", "-wal", "-shm" };
        for (size_t k = 0; k < ELEMENTSOF(suffixes); k++) {
                assert_true(asprintf(&side, "%s%s", t->path, suffixes[k]) > 0);
                (void) unlink(side);
                free(side);
        }
        assert_int_equal(store_new(&o, &t->store), 0);
        assert_int_equal(store_connect(t->store, NULL), 0);
        assert_int_equal(stat(t->path, &st), 0);
        assert_int_equal(st.st_gid, 12345);
}

static void test_failures_of_an_instance_fold_into_one_incident(void **state) {
        TestState *t = *state;
        Store *s = open_store(t, 0, 0, 0);
        Severity sev;
        uint64_t n;

        record(s, EVENT_FAILED_EXIT, "api", 0, 1000, "exit 1");
        record(s, EVENT_CRASH, "api", 0, 2000, "SIGSEGV");
        record(s, EVENT_UNRESPONSIVE, "api", 0, 3000, "no WATCHDOG=1");
        record(s, EVENT_RESTARTED, "api", 0, 3500, "restart 3");
        record(s, EVENT_CRASH, "api", 1, 4000, "SIGSEGV");
        record(s, EVENT_RESOURCE_WAIT, "api", 0, 5000, "fork: EAGAIN");
        assert_true(store_lookup(s, &INCIDENT_KEY("api", 0, CAUSE_FAILURE), &sev, &n));
        assert_int_equal(n, 3);                    /* the restart is a step, not an occurrence */
        assert_int_equal(sev, SEVERITY_HIGH);      /* the crash outranks the failed exit */
        assert_int_equal(store_queued(s), 6);

        assert_int_equal(store_flush(s), 1);
        assert_int_equal(store_queued(s), 0);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM incidents"), 3);
        assert_int_equal(query_int(t->path, "SELECT occurrences FROM incidents WHERE worker='api' AND instance=0"
                                            " AND cause='failure'"), 3);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM events e JOIN incidents i ON i.id = e.incident_id"
                                            " WHERE i.instance = 0 AND i.cause = 'failure'"), 4);
        assert_text(query_text(t->path, "SELECT error_type FROM incidents WHERE instance=0 AND cause='failure'"),
                    "failed-exit");
        assert_text(query_text(t->path, "SELECT state FROM incidents WHERE instance=0 AND cause='failure'"),
                    "mitigating");
        assert_int_equal(query_int(t->path, "SELECT opened_at FROM incidents WHERE instance=0 AND cause='failure'"), 1000);
        assert_int_equal(query_int(t->path, "SELECT last_seen FROM incidents WHERE instance=0 AND cause='failure'"), 3500);
        assert_text(query_text(t->path, "SELECT group_concat(seq) FROM (SELECT seq FROM events WHERE incident_id ="
                                        " (SELECT id FROM incidents WHERE instance=0 AND cause='failure') ORDER BY seq)"),
                    "1,2,3,4");
        assert_int_equal(query_int(t->path, "SELECT severity FROM incidents WHERE cause='resource'"), SEVERITY_LOW);
        assert_text(query_text(t->path, "SELECT json_extract(details, '$.exit_code') FROM incidents LIMIT 1"), "1");

        /* More of the same later: the same incident, updated in place. */
        record(s, EVENT_CRASH, "api", 0, 6000, "SIGABRT");
        assert_int_equal(store_flush(s), 1);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM incidents"), 3);
        assert_int_equal(query_int(t->path, "SELECT occurrences FROM incidents WHERE instance=0 AND cause='failure'"), 4);
        assert_text(query_text(t->path, "SELECT message FROM incidents WHERE instance=0 AND cause='failure'"), "SIGABRT");
}

static void test_breaker_escalates_the_same_incident(void **state) {
        TestState *t = *state;
        Store *s = open_store(t, 0, 0, 0);
        Severity sev;

        record(s, EVENT_FAILED_EXIT, "w", 2, 1000, "exit 3");
        record(s, EVENT_BREAKER_OPEN, "w", 2, 2000, "5 failures within 2m");
        assert_true(store_lookup(s, &INCIDENT_KEY("w", 2, CAUSE_FAILURE), &sev, NULL));
        assert_int_equal(sev, SEVERITY_CRITICAL);
        /* Half-open and closed are steps: the incident stays escalated until resolved. */
        record(s, EVENT_BREAKER_HALF_OPEN, "w", 2, 3000, "trial");
        assert_int_equal(store_flush(s), 1);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM incidents"), 1);
        assert_int_equal(query_int(t->path, "SELECT severity FROM incidents"), SEVERITY_CRITICAL);
        assert_text(query_text(t->path, "SELECT state FROM incidents"), "escalated");
        /* The breaker is a step in the failures' story, not another failure. */
        assert_int_equal(query_int(t->path, "SELECT occurrences FROM incidents"), 1);
        assert_text(query_text(t->path, "SELECT message FROM incidents"), "exit 3");
        assert_text(query_text(t->path, "SELECT group_concat(kind) FROM (SELECT kind FROM events ORDER BY seq)"),
                    "failed-exit,breaker-open,breaker-half-open");
}

static void test_storm_costs_one_commit(void **state) {
        TestState *t = *state;
        Store *s = open_store(t, 0, 0, 0);
        StoreCounters c;

        for (int k = 0; k < 1000; k++)
                record(s, EVENT_CRASH, "storm", k, 1000 + (usec_t) k, "SIGKILL");
        assert_int_equal(store_flush(s), 1);
        store_get_counters(s, &c);
        assert_int_equal(c.commits, 1);
        assert_int_equal(c.events_written, 1000);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM incidents"), 1000);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM events"), 1000);
}

static void test_events_capped_counts_exact(void **state) {
        TestState *t = *state;
        Store *s = open_store(t, 0, 3, 5);

        /* Written in two flushes, so the trim works across commits too. */
        for (int k = 1; k <= 20; k++) {
                record(s, EVENT_FAILED_EXIT, "cap", 0, (usec_t) k, "exit 1");
                if (k == 7)
                        assert_int_equal(store_flush(s), 1);
        }
        assert_int_equal(store_flush(s), 1);
        assert_int_equal(query_int(t->path, "SELECT occurrences FROM incidents"), 20);
        assert_text(query_text(t->path, "SELECT group_concat(seq) FROM (SELECT seq FROM events ORDER BY seq)"),
                    "1,2,3,16,17,18,19,20");
        /* Repetition raised the severity: 10 failed exits (MEDIUM) are HIGH. */
        assert_int_equal(query_int(t->path, "SELECT severity FROM incidents"), SEVERITY_HIGH);
}

static void test_manual_resolution_is_never_reopened(void **state) {
        TestState *t = *state;
        Store *s = open_store(t, 0, 0, 0);

        record(s, EVENT_CRASH, "m", 0, 1000, "first");
        record(s, EVENT_CRASH, "m", 0, 2000, "second");
        assert_int_equal(store_flush(s), 1);

        /* An operator resolves it (as vigilctl resolve does) while vigild still sees it open. */
        exec_sql(t->path, "UPDATE incidents SET state='resolved', resolution='manual', resolved_at=2500,"
                          " resolved_by='uid 0', resolution_note='fixed the config'");

        record(s, EVENT_CRASH, "m", 0, 3000, "third");
        assert_int_equal(store_flush(s), 1);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM incidents"), 2);
        /* The resolved one is as the operator left it. */
        assert_int_equal(query_int(t->path, "SELECT occurrences FROM incidents WHERE resolution='manual'"), 2);
        assert_text(query_text(t->path, "SELECT resolution_note FROM incidents WHERE resolution='manual'"),
                    "fixed the config");
        assert_text(query_text(t->path, "SELECT message FROM incidents WHERE resolution='manual'"), "second");
        /* The new one holds only what came after, numbered from 1. */
        assert_int_equal(query_int(t->path, "SELECT occurrences FROM incidents WHERE resolved_at IS NULL"), 1);
        assert_int_equal(query_int(t->path, "SELECT opened_at FROM incidents WHERE resolved_at IS NULL"), 3000);
        assert_text(query_text(t->path, "SELECT group_concat(seq) FROM events WHERE incident_id ="
                                        " (SELECT id FROM incidents WHERE resolved_at IS NULL)"), "1");

        /* An automatic resolution in vigild does not overwrite a manual one either. */
        exec_sql(t->path, "UPDATE incidents SET state='resolved', resolution='manual', resolved_at=3500,"
                          " resolved_by='uid 0' WHERE resolved_at IS NULL");
        assert_int_equal(store_resolve(s, &INCIDENT_KEY("m", 0, CAUSE_FAILURE), RESOLUTION_AUTO, 4000, "vigild", NULL), 1);
        assert_int_equal(store_flush(s), 1);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM incidents WHERE resolution='manual'"), 2);
}

static void test_auto_resolution_then_a_new_incident(void **state) {
        TestState *t = *state;
        Store *s = open_store(t, 0, 0, 0);

        record(s, EVENT_CRASH, "a", 0, 1000, "crash");
        assert_int_equal(store_flush(s), 1);
        assert_int_equal(store_resolve(s, &INCIDENT_KEY("a", 0, CAUSE_FAILURE), RESOLUTION_AUTO, 2000, "vigild", "ran stably"), 1);
        assert_int_equal(store_resolve(s, &INCIDENT_KEY("a", 0, CAUSE_FAILURE), RESOLUTION_AUTO, 2000, "vigild", NULL), 0);
        assert_false(store_lookup(s, &INCIDENT_KEY("a", 0, CAUSE_FAILURE), NULL, NULL));
        record(s, EVENT_CRASH, "a", 0, 3000, "crash again");
        assert_int_equal(store_flush(s), 1);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM incidents"), 2);
        assert_text(query_text(t->path, "SELECT resolution || ' ' || resolved_at || ' ' || state FROM incidents"
                                        " WHERE resolved_at IS NOT NULL"), "auto 2000 resolved");
        /* Resolved before it was ever written: still one row, resolved. */
        record(s, EVENT_CRASH, "b", 0, 4000, "crash");
        assert_int_equal(store_resolve(s, &INCIDENT_KEY("b", 0, CAUSE_FAILURE), RESOLUTION_OBSOLETE, 5000, "vigild", NULL), 1);
        assert_int_equal(store_flush(s), 1);
        assert_text(query_text(t->path, "SELECT resolution FROM incidents WHERE worker='b'"), "obsolete");
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM events e JOIN incidents i ON e.incident_id = i.id"
                                            " WHERE i.worker='b'"), 1);
}

static void test_unwritable_store_queues_bounded_and_flushes_later(void **state) {
        TestState *t = *state;
        char *sub = NULL, *subpath = NULL;
        StoreOptions o = { .queue_max = 10, .reader_gid = (gid_t) -1 };
        StoreCounters c;
        uint64_t n;

        /* A directory that does not exist yet stands in for a store that cannot be written. */
        assert_true(asprintf(&sub, "%s/later", t->dir) > 0);
        assert_true(asprintf(&subpath, "%s/incidents.db", sub) > 0);
        o.path = subpath;
        assert_int_equal(store_new(&o, &t->store), 0);

        record(t->store, EVENT_CRASH, "q", 0, 1, "opens q:0");
        for (int k = 0; k < 30; k++)
                record(t->store, EVENT_CRASH, "q", 1, 10 + (usec_t) k, "q:1 again");
        assert_int_equal(store_flush(t->store), -ENOENT);
        assert_true(strlen(store_last_error(t->store)) > 0);
        assert_int_equal(store_queued(t->store), 10);
        assert_true(store_lookup(t->store, &INCIDENT_KEY("q", 1, CAUSE_FAILURE), NULL, &n));
        assert_int_equal(n, 30);                     /* counts stay exact */

        assert_int_equal(mkdir(sub, 0755), 0);
        assert_int_equal(store_flush(t->store), 1);
        store_get_counters(t->store, &c);
        assert_int_equal(c.events_dropped, 21);
        assert_int_equal(c.flush_failures, 1);
        assert_int_equal(query_int(subpath, "SELECT count(*) FROM events"), 10);
        /* The event that opened q:0 survived; q:1 keeps its first event and its newest. */
        assert_int_equal(query_int(subpath, "SELECT count(*) FROM events e JOIN incidents i ON e.incident_id = i.id"
                                            " WHERE i.instance = 0"), 1);
        assert_int_equal(query_int(subpath, "SELECT occurrences FROM incidents WHERE instance = 1"), 30);
        assert_int_equal(query_int(subpath, "SELECT events_dropped FROM incidents WHERE instance = 1"), 21);
        assert_text(query_text(subpath, "SELECT group_concat(seq) FROM (SELECT e.seq FROM events e JOIN incidents i"
                                        " ON e.incident_id = i.id WHERE i.instance = 1 ORDER BY e.seq)"),
                    "1,23,24,25,26,27,28,29,30");
        free(sub);
        free(subpath);
}

static int collect_open(const IncidentKey *k, void *userdata) {
        unsigned *n = userdata;

        (*n)++;
        return 0;
}

static void test_open_incidents_are_adopted_after_a_restart(void **state) {
        TestState *t = *state;
        Store *s = open_store(t, 0, 0, 0);
        unsigned n_open = 0;
        Severity sev;
        uint64_t n;

        for (int k = 0; k < 12; k++)
                record(s, EVENT_FAILED_EXIT, "ad", 0, 1000 + (usec_t) k, "exit 1");
        record(s, EVENT_CRASH, "ad", 1, 2000, "resolved one");
        assert_int_equal(store_resolve(s, &INCIDENT_KEY("ad", 1, CAUSE_FAILURE), RESOLUTION_AUTO, 2500, "vigild", NULL), 1);
        assert_int_equal(store_flush(s), 1);

        /* A new vigild: the open incident is taken over with its exact counts. */
        s = open_store(t, 0, 0, 0);
        assert_false(store_adopted(s));
        assert_int_equal(store_connect(s, NULL), 0);
        assert_true(store_adopted(s));
        assert_true(store_lookup(s, &INCIDENT_KEY("ad", 0, CAUSE_FAILURE), &sev, &n));
        assert_int_equal(n, 12);
        assert_int_equal(sev, SEVERITY_HIGH);
        assert_false(store_lookup(s, &INCIDENT_KEY("ad", 1, CAUSE_FAILURE), NULL, NULL));
        assert_int_equal(store_foreach_open(s, collect_open, &n_open), 0);
        assert_int_equal(n_open, 1);
        record(s, EVENT_FAILED_EXIT, "ad", 0, 3000, "exit 2");
        assert_int_equal(store_flush(s), 1);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM incidents"), 2);
        assert_int_equal(query_int(t->path, "SELECT occurrences FROM incidents WHERE instance = 0"), 13);
        assert_int_equal(query_int(t->path, "SELECT max(seq) FROM events"), 13);

        /* Another vigild that records before it can connect: the memory incident and the
         * database's are one, counts added, events numbered after the written ones. */
        s = open_store(t, 0, 0, 0);
        record(s, EVENT_FAILED_EXIT, "ad", 0, 4000, "exit 3");
        record(s, EVENT_FAILED_EXIT, "ad", 0, 4001, "exit 4");
        assert_int_equal(store_flush(s), 1);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM incidents"), 2);
        assert_int_equal(query_int(t->path, "SELECT occurrences FROM incidents WHERE instance = 0"), 15);
        assert_int_equal(query_int(t->path, "SELECT opened_at FROM incidents WHERE instance = 0"), 1000);
        assert_text(query_text(t->path, "SELECT group_concat(seq) FROM (SELECT seq FROM events WHERE seq > 12"
                                        " ORDER BY seq)"), "13,14,15");
        assert_text(query_text(t->path, "SELECT message FROM incidents WHERE instance = 0"), "exit 4");
}

static void test_crash_loop_state_round_trip(void **state) {
        TestState *t = *state;
        Store *s = open_store(t, 0, 0, 0);
        StoreWorkerState w = { .breaker_state = "open", .failures = { 100, 200, 300 }, .n_failures = 3,
                               .opened_at = 300, .times_opened = 2 }, wr;
        StoreInstanceState i = { .backoff_level = 4, .deaths = 7 }, ir;

        assert_int_equal(store_get_worker_state(s, "w", &wr), -ENOTCONN);
        assert_int_equal(store_set_worker_state(s, "w", &w), 0);
        assert_int_equal(store_set_instance_state(s, "w", 3, &(StoreInstanceState) { .backoff_level = 1 }), 0);
        assert_int_equal(store_set_instance_state(s, "w", 3, &i), 0);   /* the latest wins */
        assert_int_equal(store_flush(s), 1);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM instance_state"), 1);

        s = open_store(t, 0, 0, 0);
        assert_int_equal(store_connect(s, NULL), 0);
        assert_int_equal(store_get_worker_state(s, "w", &wr), 1);
        assert_string_equal(wr.breaker_state, "open");
        assert_int_equal(wr.n_failures, 3);
        assert_int_equal(wr.failures[0], 100);
        assert_int_equal(wr.failures[2], 300);
        assert_int_equal(wr.opened_at, 300);
        assert_int_equal(wr.times_opened, 2);
        assert_int_equal(store_get_instance_state(s, "w", 3, &ir), 1);
        assert_int_equal(ir.backoff_level, 4);
        assert_int_equal(ir.deaths, 7);
        assert_int_equal(store_get_instance_state(s, "w", 4, &ir), 0);
        assert_int_equal(store_get_worker_state(s, "other", &wr), 0);

        /* A state change alone is a write; a closed breaker keeps no opening time. */
        w = (StoreWorkerState) { .breaker_state = "closed", .times_opened = 2 };
        assert_int_equal(store_set_worker_state(s, "w", &w), 0);
        assert_int_equal(store_flush(s), 1);
        assert_text(query_text(t->path, "SELECT breaker_state || ' ' || failures || ' ' ||"
                                        " coalesce(opened_at, 'none') FROM worker_state"), "closed [] none");
}

static void test_actions_and_outcomes(void **state) {
        TestState *t = *state;
        Store *s = open_store(t, 0, 0, 0);

        /* No open incident: nothing to attach an action to. */
        assert_int_equal(store_action(s, &INCIDENT_KEY("a", 0, CAUSE_FAILURE), "restart", 1, NULL), 0);
        record(s, EVENT_CRASH, "a", 0, 1000, "crash");
        assert_int_equal(store_action(s, &INCIDENT_KEY("a", 0, CAUSE_FAILURE), "restart", 1100, "{\"restart\":1}"), 1);
        record(s, EVENT_CRASH, "a", 0, 2000, "crash again");
        assert_int_equal(store_action_outcome(s, &INCIDENT_KEY("a", 0, CAUSE_FAILURE), "failed", 2000), 1);
        assert_int_equal(store_action_outcome(s, &INCIDENT_KEY("a", 0, CAUSE_FAILURE), "failed", 2000), 0);   /* none pending */
        assert_int_equal(store_flush(s), 1);
        assert_int_equal(store_action(s, &INCIDENT_KEY("a", 0, CAUSE_FAILURE), "restart", 2100, NULL), 1);
        assert_int_equal(store_action(s, &INCIDENT_KEY("a", 0, CAUSE_FAILURE), "restart", 2200, NULL), 1);   /* overtakes */
        assert_int_equal(store_action_outcome(s, &INCIDENT_KEY("a", 0, CAUSE_FAILURE), "worked", 3000), 1);
        assert_int_equal(store_flush(s), 1);
        assert_text(query_text(t->path, "SELECT group_concat(seq || ':' || action || ':' || outcome || '@' || outcome_at, ' ')"
                                        " FROM (SELECT * FROM actions ORDER BY seq)"),
                    "1:restart:failed@2000 2:restart:superseded@2200 3:restart:worked@3000");
        assert_text(query_text(t->path, "SELECT json_extract(details, '$.restart') FROM actions WHERE seq = 1"), "1");

        /* A new store on the same file: an action left under way is marked, not left open. */
        assert_int_equal(store_action(s, &INCIDENT_KEY("a", 0, CAUSE_FAILURE), "restart", 4000, NULL), 1);
        assert_int_equal(store_flush(s), 1);
        s = open_store(t, 0, 0, 0);
        assert_int_equal(store_connect(s, NULL), 0);
        assert_text(query_text(t->path, "SELECT outcome FROM actions WHERE seq = 4"), "unknown: vigild restarted");
        /* and the numbering goes on */
        assert_int_equal(store_action(s, &INCIDENT_KEY("a", 0, CAUSE_FAILURE), "restart", 5000, NULL), 1);
        assert_int_equal(store_flush(s), 1);
        assert_int_equal(query_int(t->path, "SELECT max(seq) FROM actions"), 5);
}

static int count_row(const IncidentRow *row, void *userdata) {
        unsigned *n = userdata;

        (*n)++;
        return 0;
}

static void test_queries_and_json(void **state) {
        TestState *t = *state;
        Store *s = open_store(t, 0, 0, 0), *ro = NULL;
        IncidentFilter f = INCIDENT_FILTER_ALL;
        _cleanup_free_ char *json = NULL, *one = NULL, *check = NULL;
        StoreStats st;
        unsigned n = 0;

        record(s, EVENT_CRASH, "q\"uote", 0, 1000, "bell\a, tab\t, \"quoted\", back\\slash, \x1b[31mred");
        record(s, EVENT_FAILED_EXIT, "plain", 1, 2000, "exit 1");
        assert_int_equal(store_resolve(s, &INCIDENT_KEY("plain", 1, CAUSE_FAILURE), RESOLUTION_AUTO, 3000, "vigild", NULL), 1);
        assert_int_equal(store_flush(s), 1);
        assert_int_equal(store_open_existing(t->path, false, &ro), 0);

        /* Filters. */
        assert_int_equal(store_list_incidents(ro, &f, count_row, &n), 0);
        assert_int_equal(n, 2);
        f.open = 1;
        n = 0;
        assert_int_equal(store_list_incidents(ro, &f, count_row, &n), 0);
        assert_int_equal(n, 1);
        f = INCIDENT_FILTER_ALL;
        f.min_severity = SEVERITY_HIGH;
        n = 0;
        assert_int_equal(store_list_incidents(ro, &f, count_row, &n), 0);
        assert_int_equal(n, 1);
        f = INCIDENT_FILTER_ALL;
        f.since = 1500;
        n = 0;
        assert_int_equal(store_list_incidents(ro, &f, count_row, &n), 0);
        assert_int_equal(n, 1);

        /* JSON from SQLite's JSON functions: valid, with the worker's text intact. */
        f = INCIDENT_FILTER_ALL;
        assert_int_equal(store_incidents_json(ro, &f, &json), 0);
        assert_true(asprintf(&check, "SELECT json_valid('%s') AND json_array_length('%s') = 2"
                                     " AND json_extract('%s', '$[1].message') = 'bell' || char(7) || ', tab' || char(9) ||"
                                     " ', \"quoted\", back\\slash, ' || char(27) || '[31mred'"
                                     " AND json_extract('%s', '$[1].worker') = 'q\"uote'"
                                     " AND json_extract('%s', '$[0].severity') = 'MEDIUM'",
                             json, json, json, json, json) > 0);
        assert_int_equal(query_int(t->path, check), 1);
        assert_int_equal(store_incident_json(ro, 999, &one), -ENOENT);
        assert_int_equal(store_incident_json(ro, 1, &one), 0);
        assert_non_null(strstr(one, "\"events\":[{\"seq\":1"));
        assert_non_null(strstr(one, "\"actions\":[]"));

        /* Stats and manual resolution. */
        assert_int_equal(store_stats(ro, 0, &st, 0, NULL, NULL), 0);
        assert_int_equal(st.incidents, 2);
        assert_int_equal(st.open, 1);
        assert_int_equal(st.resolved, 1);
        assert_int_equal(st.by_severity[SEVERITY_HIGH], 1);
        assert_int_equal(st.by_category[CATEGORY_TRANSIENT], 2);
        assert_true(st.mean_time_to_resolve_usec == 1000.0);
        /* A read-only connection cannot resolve; a writable one can, once. */
        assert_true(store_resolve_manual(ro, 1, 4000, "uid 0", "note") < 0);
        store_free(ro);
        ro = NULL;
        assert_int_equal(store_open_existing(t->path, true, &ro), 0);
        assert_int_equal(store_resolve_manual(ro, 999, 4000, "uid 0", "note"), -ENOENT);
        assert_int_equal(store_resolve_manual(ro, 1, 4000, "uid 0", "fixed"), 0);
        assert_int_equal(store_resolve_manual(ro, 1, 5000, "uid 0", "again"), -EALREADY);
        store_free(ro);
        assert_text(query_text(t->path, "SELECT resolution || ' ' || resolved_at || ' ' || resolution_note FROM incidents"
                                        " WHERE id = 1"), "manual 4000 fixed");
}

static void test_failed_flush_is_retried_without_loss(void **state) {
        TestState *t = *state;
        Store *s = open_store(t, 0, 0, 0);
        sqlite3 *other = NULL;

        record(s, EVENT_CRASH, "r", 0, 1000, "one");
        assert_int_equal(store_flush(s), 1);
        exec_sql(t->path, "UPDATE incidents SET state='resolved', resolution='manual', resolved_at=1500");
        record(s, EVENT_CRASH, "r", 0, 2000, "two");
        record(s, EVENT_CRASH, "r", 1, 2100, "other instance");

        /* Another writer holds the lock past the busy timeout. */
        assert_int_equal(sqlite3_open_v2(t->path, &other, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(store_flush(s), -EBUSY);
        assert_int_equal(store_queued(s), 2);
        assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(other);

        assert_int_equal(store_flush(s), 1);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM incidents"), 3);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM events"), 3);
        assert_int_equal(query_int(t->path, "SELECT occurrences FROM incidents WHERE instance = 0 AND resolved_at IS NULL"), 1);
}

static void test_corrupt_file_is_quarantined_with_wal_and_shm(void **state) {
        TestState *t = *state;
        char *wal = NULL, *shm = NULL, *moved = NULL, *moved_wal = NULL, *moved_shm = NULL;
        Store *s;
        FILE *f;

        assert_true(asprintf(&wal, "%s-wal", t->path) > 0);
        assert_true(asprintf(&shm, "%s-shm", t->path) > 0);
        f = fopen(t->path, "we");
        assert_non_null(f);
        for (int k = 0; k < 100; k++)
                fputs("this is not a database, just a file full of text\n", f);
        fclose(f);
        f = fopen(wal, "we");
        fputs("wal", f);
        fclose(f);
        f = fopen(shm, "we");
        fputs("shm", f);
        fclose(f);

        s = open_store(t, 0, 0, 0);
        assert_int_equal(store_connect(s, &moved), 0);
        assert_non_null(moved);
        assert_true(strncmp(moved, t->path, strlen(t->path)) == 0);
        assert_true(asprintf(&moved_wal, "%s-wal", moved) > 0);
        assert_true(asprintf(&moved_shm, "%s-shm", moved) > 0);
        assert_int_equal(access(moved, F_OK), 0);
        /* All three as they were: SQLite never opened them. */
        assert_text(read_small(moved_wal), "wal");
        assert_text(read_small(moved_shm), "shm");
        /* And a fresh, working store in its place. */
        record(s, EVENT_CRASH, "c", 0, 1, "after quarantine");
        assert_int_equal(store_flush(s), 1);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM incidents"), 1);
        free(wal);
        free(shm);
        free(moved);
        free(moved_wal);
        free(moved_shm);
}

static void test_damaged_page_fails_quick_check_and_is_quarantined(void **state) {
        TestState *t = *state;
        char *moved = NULL, junk[4096];
        Store *s = open_store(t, 0, 0, 0);
        int fd;

        for (int k = 0; k < 500; k++)
                record(s, EVENT_CRASH, "d", k, 1 + (usec_t) k, "a message long enough to fill several pages");
        assert_int_equal(store_flush(s), 1);
        assert_int_equal(store_checkpoint(s), 0);
        store_free(t->store);
        t->store = NULL;

        /* A valid header, but page 3 overwritten: only quick_check notices. */
        memset(junk, 0x55, sizeof junk);
        fd = open(t->path, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, junk, sizeof junk, 2 * 4096), (ssize_t) sizeof junk);
        (void) close(fd);

        s = open_store(t, 0, 0, 0);
        assert_int_equal(store_connect(s, &moved), 0);
        assert_non_null(moved);
        assert_int_equal(access(moved, F_OK), 0);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM incidents"), 0);
        free(moved);
}

static void test_newer_schema_is_left_alone(void **state) {
        TestState *t = *state;
        struct stat before, after;
        Store *s;

        exec_sql(t->path, "CREATE TABLE future (x); PRAGMA user_version = 99;");
        assert_int_equal(stat(t->path, &before), 0);
        s = open_store(t, 0, 0, 0);
        assert_int_equal(store_connect(s, NULL), -EPROTONOSUPPORT);
        assert_non_null(strstr(store_last_error(s), "newer"));
        assert_false(store_connected(s));
        record(s, EVENT_CRASH, "n", 0, 1, "kept in memory");
        assert_int_equal(store_flush(s), -EPROTONOSUPPORT);
        assert_int_equal(store_queued(s), 1);
        assert_int_equal(stat(t->path, &after), 0);
        assert_int_equal(before.st_ino, after.st_ino);
        assert_int_equal(query_int(t->path, "PRAGMA user_version"), 99);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM sqlite_master WHERE name = 'incidents'"), 0);
}

static void test_migrations_from_every_earlier_version(void **state) {
        TestState *t = *state;

        for (unsigned from = 0; from < STORE_SCHEMA_VERSION; from++) {
                char pragma[64];
                Store *s;

                (void) unlink(t->path);
                exec_sql(t->path, "PRAGMA user_version = 0");
                for (unsigned v = 0; v < from; v++) {
                        exec_sql(t->path, store_schema_migration(v));
                        (void) snprintf(pragma, sizeof pragma, "PRAGMA user_version = %u", v + 1);
                        exec_sql(t->path, pragma);
                }
                s = open_store(t, 0, 0, 0);
                assert_int_equal(store_connect(s, NULL), 0);
                assert_int_equal(query_int(t->path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
                assert_text(query_text(t->path, "PRAGMA integrity_check"), "ok");
                record(s, EVENT_CRASH, "m", 0, 1, "after migration");
                assert_int_equal(store_flush(s), 1);
                store_free(t->store);
                t->store = NULL;
                (void) unlink(t->path);
        }
        assert_null(store_schema_migration(STORE_SCHEMA_VERSION));
}

static void record_probe(Store *s, EventKind kind, const char *probe, usec_t at, const char *msg) {
        StoreEvent e = {
                .kind = kind,
                .worker = "api",
                .instance = 0,
                .probe = probe,
                .at = at,
                .severity = _SEVERITY_INVALID,
                .category = CATEGORY_RESOURCE,
                .message = msg,
                .details = "{\"value\":1}",
        };

        assert_int_equal(store_record(s, &e, NULL), 0);
}

static void test_probe_incidents_are_keyed_by_probe_name(void **state) {
        TestState *t = *state;
        Store *s = open_store(t, 0, 0, 0);
        Severity sev;
        uint64_t n;

        record(s, EVENT_CRASH, "api", 0, 100, "crash");
        record_probe(s, EVENT_PROBE_WARNING, "memory", 200, "rss 600M above 512M");
        record_probe(s, EVENT_PROBE_WARNING, "fds", 210, "900 fds");
        assert_true(store_lookup(s, &INCIDENT_PROBE_KEY("api", 0, CAUSE_PROBE, "memory"), &sev, &n));
        assert_int_equal(sev, SEVERITY_MEDIUM);
        assert_int_equal(n, 1);
        /* WARNING to CRITICAL updates the same incident and raises it. */
        record_probe(s, EVENT_PROBE_CRITICAL, "memory", 300, "rss 1G above 900M");
        assert_true(store_lookup(s, &INCIDENT_PROBE_KEY("api", 0, CAUSE_PROBE, "memory"), &sev, &n));
        assert_int_equal(sev, SEVERITY_HIGH);
        assert_int_equal(n, 2);
        /* A probe that cannot run is an incident of its own, never the failure's. */
        record_probe(s, EVENT_PROBE_UNKNOWN, "memory", 310, "cannot read");
        assert_true(store_lookup(s, &INCIDENT_PROBE_KEY("api", 0, CAUSE_PROBE_UNKNOWN, "memory"), NULL, NULL));
        assert_true(store_lookup(s, &INCIDENT_KEY("api", 0, CAUSE_FAILURE), NULL, &n));
        assert_int_equal(n, 1);
        assert_false(store_lookup(s, &INCIDENT_KEY("api", 0, CAUSE_PROBE), NULL, NULL));
        /* A deferred verdict recorded under a probe's name is a step of that probe's incident. */
        record_probe(s, EVENT_VERDICT_DEFERRED, "memory", 320, "host starved");
        assert_true(store_lookup(s, &INCIDENT_PROBE_KEY("api", 0, CAUSE_PROBE, "memory"), NULL, &n));
        assert_int_equal(n, 2);

        assert_int_equal(store_resolve(s, &INCIDENT_PROBE_KEY("api", 0, CAUSE_PROBE, "memory"), RESOLUTION_AUTO, 400,
                                       "vigild", "probe recovered: 100M"),
                         1);
        assert_int_equal(store_flush(s), 1);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM incidents WHERE probe = 'memory'"), 2);
        assert_int_equal(query_int(t->path, "SELECT severity FROM incidents WHERE probe = 'memory'"
                                            " AND cause = 'probe'"), SEVERITY_HIGH);
        assert_text(query_text(t->path, "SELECT resolution_note FROM incidents WHERE probe = 'memory'"
                                        " AND cause = 'probe'"), "probe recovered: 100M");
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM events e JOIN incidents i ON i.id = e.incident_id"
                                            " WHERE i.probe = 'memory' AND i.cause = 'probe'"), 3);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM incidents WHERE probe IS NULL"), 1);
        /* No action is under way on a probe's finding: open, not mitigating. */
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM incidents WHERE probe = 'fds' AND state = 'open'"), 1);

        /* A restarted store adopts the open probe incidents by their full key. */
        store_free(t->store);
        t->store = NULL;
        s = open_store(t, 0, 0, 0);
        assert_int_equal(store_connect(s, NULL), 0);
        assert_true(store_lookup(s, &INCIDENT_PROBE_KEY("api", 0, CAUSE_PROBE, "fds"), NULL, &n));
        assert_int_equal(n, 1);
        assert_false(store_lookup(s, &INCIDENT_PROBE_KEY("api", 0, CAUSE_PROBE, "memory"), NULL, NULL));
        record_probe(s, EVENT_PROBE_CRITICAL, "fds", 500, "1000 fds");
        assert_int_equal(store_flush(s), 1);
        assert_int_equal(query_int(t->path, "SELECT occurrences FROM incidents WHERE probe = 'fds'"), 2);
}

/* A version 2 store (before probes) with an open incident: migrated, the incident is adopted
 * and goes on, and probe incidents can be written beside it. */
static void test_open_incident_survives_migration_from_version_2(void **state) {
        TestState *t = *state;
        Store *s;
        uint64_t n;

        (void) unlink(t->path);
        exec_sql(t->path, "PRAGMA user_version = 0");
        for (unsigned v = 0; v < 2; v++)
                exec_sql(t->path, store_schema_migration(v));
        exec_sql(t->path, "PRAGMA user_version = 2;"
                          "INSERT INTO incidents (worker, instance, cause, category, severity, error_type, message,"
                          " opened_at, last_seen, occurrences, state)"
                          " VALUES ('old', 1, 'failure', 'transient', 1, 'failed-exit', 'exit 1', 10, 20, 4, 'open');");
        s = open_store(t, 0, 0, 0);
        assert_int_equal(store_connect(s, NULL), 0);
        assert_int_equal(query_int(t->path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
        assert_true(store_lookup(s, &INCIDENT_KEY("old", 1, CAUSE_FAILURE), NULL, &n));
        assert_int_equal(n, 4);
        record(s, EVENT_FAILED_EXIT, "old", 1, 30, "exit 1 again");
        record_probe(s, EVENT_PROBE_WARNING, "disk", 40, "5% free");
        assert_int_equal(store_flush(s), 1);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM incidents"), 2);
        assert_int_equal(query_int(t->path, "SELECT occurrences FROM incidents WHERE worker = 'old'"), 5);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM incidents WHERE worker = 'old' AND probe IS NULL"), 1);
        assert_text(query_text(t->path, "PRAGMA integrity_check"), "ok");
}

static int check_no_probe(const IncidentRow *row, void *userdata) {
        unsigned *n = userdata;

        assert_null(row->probe);
        assert_string_equal(row->worker, "old");
        (*n)++;
        return 0;
}

/* vigilctl reads a store of an older schema without migrating it, and can resolve in it. */
static void test_reader_reads_version_2_without_migrating(void **state) {
        TestState *t = *state;
        IncidentFilter f = INCIDENT_FILTER_ALL;
        _cleanup_store_free_ Store *ro = NULL, *rw = NULL;
        unsigned n = 0;

        (void) unlink(t->path);
        exec_sql(t->path, "PRAGMA user_version = 0");
        for (unsigned v = 0; v < 2; v++)
                exec_sql(t->path, store_schema_migration(v));
        exec_sql(t->path, "PRAGMA user_version = 2;"
                          "INSERT INTO incidents (worker, instance, cause, category, severity, error_type, message,"
                          " opened_at, last_seen, occurrences, state)"
                          " VALUES ('old', 1, 'failure', 'transient', 1, 'failed-exit', 'exit 1', 10, 20, 4, 'open');");
        assert_int_equal(store_open_existing(t->path, false, &ro), 0);
        assert_int_equal(store_list_incidents(ro, &f, check_no_probe, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(store_open_existing(t->path, true, &rw), 0);
        assert_int_equal(store_resolve_manual(rw, 1, 4000, "uid 0", "fixed"), 0);
        assert_int_equal(query_int(t->path, "PRAGMA user_version"), 2);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM incidents WHERE resolution = 'manual'"), 1);
}

static void test_purge_only_old_resolved(void **state) {
        TestState *t = *state;
        Store *s = open_store(t, 0, 0, 0);
        uint64_t n = 0;

        record(s, EVENT_CRASH, "p", 0, 100, "old, resolved");
        record(s, EVENT_CRASH, "p", 1, 100, "old, open");
        record(s, EVENT_CRASH, "p", 2, 100, "resolved recently");
        assert_int_equal(store_resolve(s, &INCIDENT_KEY("p", 0, CAUSE_FAILURE), RESOLUTION_AUTO, 200, "vigild", NULL), 1);
        assert_int_equal(store_resolve(s, &INCIDENT_KEY("p", 2, CAUSE_FAILURE), RESOLUTION_AUTO, 5000, "vigild", NULL), 1);
        assert_int_equal(store_flush(s), 1);

        assert_int_equal(store_purge(s, 1000, true, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM incidents"), 3);
        assert_int_equal(store_purge(s, 1000, false, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM incidents"), 2);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM incidents WHERE instance = 0"), 0);
        assert_int_equal(query_int(t->path, "SELECT count(*) FROM events"), 2);
        assert_int_equal(store_checkpoint(s), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_created_with_schema_mode_and_wal),
                T(test_created_with_the_right_group),
                T(test_failures_of_an_instance_fold_into_one_incident),
                T(test_breaker_escalates_the_same_incident),
                T(test_storm_costs_one_commit),
                T(test_events_capped_counts_exact),
                T(test_manual_resolution_is_never_reopened),
                T(test_auto_resolution_then_a_new_incident),
                T(test_unwritable_store_queues_bounded_and_flushes_later),
                T(test_open_incidents_are_adopted_after_a_restart),
                T(test_crash_loop_state_round_trip),
                T(test_actions_and_outcomes),
                T(test_queries_and_json),
                T(test_failed_flush_is_retried_without_loss),
                T(test_corrupt_file_is_quarantined_with_wal_and_shm),
                T(test_damaged_page_fails_quick_check_and_is_quarantined),
                T(test_newer_schema_is_left_alone),
                T(test_probe_incidents_are_keyed_by_probe_name),
                T(test_open_incident_survives_migration_from_version_2),
                T(test_reader_reads_version_2_without_migrating),
                T(test_migrations_from_every_earlier_version),
                T(test_purge_only_old_resolved),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
