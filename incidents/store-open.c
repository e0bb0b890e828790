/* Connecting the incident store: creating the file with the right mode and group, telling a
 * database from something else (moved aside, never deleted), refusing a newer schema, migrating
 * an older one, WAL and its settings, and adopting the incidents the database has open; and
 * vigilctl's plain opening of an existing store. */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store-private.h"
#include "store-schema.h"
#include "store.h"

#define STORE_BUSY_TIMEOUT_MS 200
#define STORE_JOURNAL_SIZE_LIMIT (4 * 1024 * 1024)

const char *const store_statements[_ST_MAX] = {
        [ST_INSERT_INCIDENT] =
                "INSERT INTO incidents (worker, instance, cause, category, severity, error_type, message,"
                " details, opened_at, last_seen, occurrences, events_dropped, state, resolution,"
                " resolved_at, resolved_by, resolution_note, probe)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?19)",
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

/* ---------------------------------------------------------------------------------------- *
 * Connecting                                                                                */

int store_exec(Store *s, const char *sql) {
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

        if (rc != SQLITE_OK)
                return store_fail(s, rc, sql);
        return 0;
}

/* Without a reader_group the store takes the group of its directory: the packaged tmpfiles
 * entry makes state_dir root:vigil 0750, so members of "vigil" can read it. -1 (unchanged) if
 * the directory cannot be looked at. */
static gid_t state_dir_gid(const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        struct stat st;
        char *slash;

        if (!dir)
                return (gid_t) -1;
        slash = strrchr(dir, '/');
        if (slash == dir)
                slash[1] = 0;
        else if (slash)
                *slash = 0;
        else
                strcpy(dir, ".");
        return stat(dir, &st) >= 0 ? st.st_gid : (gid_t) -1;
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
        if (fchown(fd, 0, s->reader_gid != (gid_t) -1 ? s->reader_gid : state_dir_gid(s->path)) < 0 && errno != EPERM)
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
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_fail(s, rc, "quick_check");
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                const char *v = (const char *) sqlite3_column_text(st, 0);

                if (!v || !streq(v, "ok")) {
                        (void) snprintf(s->last_error, sizeof s->last_error, "quick_check: %s", v ? v : "?");
                        return -EBADMSG;
                }
                return 0;
        }
        return store_fail(s, rc, "quick_check");
}

static int read_user_version(Store *s, unsigned *ret) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_fail(s, rc, "user_version");
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return store_fail(s, rc, "user_version");
        *ret = (unsigned) sqlite3_column_int(st, 0);
        return 0;
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

                r = store_exec(s, "BEGIN IMMEDIATE");
                if (r < 0)
                        return r;
                (void) snprintf(pragma, sizeof pragma, "PRAGMA user_version = %u", version + 1);
                r = store_exec(s, store_schema_migration(version));
                if (r >= 0)
                        r = store_exec(s, pragma);
                if (r >= 0)
                        r = store_exec(s, "COMMIT");
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

/* WAL, or nothing: the readers must never block the daemon. */
static int switch_to_wal(Store *s) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_fail(s, rc, "journal_mode");
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return store_fail(s, rc, "journal_mode");
        if (!streq_ptr((const char *) sqlite3_column_text(st, 0), "wal")) {
                (void) snprintf(s->last_error, sizeof s->last_error, "cannot switch the database to WAL mode");
                return -EIO;
        }
        return 0;
}

static int configure(Store *s) {
        char pragma[64];
        int rc, r;

        rc = sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
        if (rc != SQLITE_OK)
                return store_fail(s, rc, "busy_timeout");
        r = switch_to_wal(s);
        if (r < 0)
                return r;

        r = store_exec(s, s->sync == STORE_SYNC_FULL ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
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
                return store_fail(s, rc, "wal_autocheckpoint");
        (void) sqlite3_wal_hook(s->db, on_wal_commit, s);
        (void) snprintf(pragma, sizeof pragma, "PRAGMA journal_size_limit = %d", STORE_JOURNAL_SIZE_LIMIT);
        return store_exec(s, pragma);
}

static int open_db(Store *s, int flags) {
        int rc;

        rc = sqlite3_open_v2(s->path, &s->db, flags | SQLITE_OPEN_NOFOLLOW, NULL);
        if (rc != SQLITE_OK)
                return store_fail(s, rc, "open");
        (void) sqlite3_extended_result_codes(s->db, 1);
        return 0;
}

/* Takes over the incidents the database has open: a later occurrence of the same key lands in
 * them instead of opening a second one. An incident of the key that is only in memory (recorded
 * while the store could not be opened) is merged into the database's: its counts add up and its
 * queued events are numbered after the written ones. */
static int adopt_open_rows(Store *s) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int rc, r;

        rc = sqlite3_prepare_v2(s->db,
                                "SELECT id, worker, instance, cause, category, severity, error_type, message, details,"
                                " opened_at, last_seen, occurrences, events_dropped, state,"
                                " (SELECT coalesce(max(seq), 0) FROM events WHERE incident_id = incidents.id),"
                                " (SELECT coalesce(max(seq), 0) FROM actions WHERE incident_id = incidents.id),"
                                " probe FROM incidents WHERE resolved_at IS NULL ORDER BY id",
                                -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_fail(s, rc, "adopt");

        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *worker = (const char *) sqlite3_column_text(st, 1);
                int instance = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 2);
                IncidentCause cause = incident_cause_from_string((const char *) sqlite3_column_text(st, 3));
                const char *probe = (const char *) sqlite3_column_text(st, 16);
                IncidentKey key = { .worker = worker, .instance = instance, .cause = cause, .probe = probe };
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

                if (cause < 0 || sev < 0 || sev >= _SEVERITY_MAX || cat < 0 || state < 0 || kind < 0 ||
                    (IN_SET(cause, CAUSE_PROBE, CAUSE_PROBE_UNKNOWN) != !!probe))
                        continue;   /* written by something else: not ours to continue */

                inc = store_table_find(s, &key);
                if (inc && inc->id != 0)
                        continue;   /* a second open row of one key: the first one wins */
                if (!inc) {
                        StoreEvent e = { .kind = kind, .worker = worker, .instance = instance, .probe = probe,
                                         .category = cat };

                        r = store_table_add_new(s, &key, &e, (usec_t) sqlite3_column_int64(st, 9), &inc);
                        if (r < 0)
                                return r;
                        inc->state = state;
                        inc->last_seen = (usec_t) sqlite3_column_int64(st, 10);
                        if (store_replace_string(&inc->message, (const char *) sqlite3_column_text(st, 7)) < 0 ||
                            store_replace_string(&inc->details, (const char *) sqlite3_column_text(st, 8)) < 0)
                                return -ENOMEM;
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
        if (rc != SQLITE_DONE)
                return store_fail(s, rc, "adopt");
        return 0;
}

/* Actions an earlier vigild took but did not see the end of. */
static int end_unfinished_actions(Store *s) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(s->db, "UPDATE actions SET outcome = 'unknown: vigild restarted', outcome_at = ?1"
                                       " WHERE outcome IS NULL", -1, &st, NULL);
        rc = rc ?: sqlite3_bind_int64(st, 1, (sqlite3_int64) now(CLOCK_REALTIME));
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
                return store_fail(s, rc, "adopt");
        return 0;
}

/* Once per process: the open incidents, then the actions left without an outcome. */
static int adopt_open_incidents(Store *s) {
        int r;

        if (s->adopted)
                return 0;
        r = adopt_open_rows(s);
        if (r < 0)
                return r;
        r = end_unfinished_actions(s);
        if (r < 0)
                return r;
        s->adopted = true;
        return 0;
}

int store_foreach_open(Store *s, int (*cb)(const IncidentKey *k, void *userdata), void *userdata) {
        for (size_t k = 0; k < s->n_buckets; k++)
                for (Incident *i = s->buckets[k], *next; i; i = next) {
                        int r;

                        next = i->hash_next;   /* cb may resolve i, which unlinks it */
                        r = cb(&(const IncidentKey) { .worker = i->worker, .instance = i->instance,
                                                      .cause = i->cause, .probe = i->probe },
                               userdata);
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
                store_disconnect(s);
                if (r >= 0)
                        r = open_db(s, SQLITE_OPEN_READWRITE);
                if (r >= 0)
                        r = configure(s);
                if (r >= 0)
                        r = migrate(s);
                if (r != -EBADMSG || attempt > 0)
                        break;

                /* Not a database, or a damaged one: moved aside, never deleted, and replaced. */
                store_disconnect(s);
                r = quarantine(s, ret_quarantined);
                if (r < 0) {
                        (void) snprintf(s->last_error, sizeof s->last_error, "cannot move %s aside: %s", s->path,
                                        strerror(-r));
                        return r;
                }
        }
        if (r < 0) {
                store_disconnect(s);
                return r;
        }

        r = adopt_open_incidents(s);
        if (r < 0) {
                store_disconnect(s);
                return r;
        }

        for (int k = 0; k < _ST_MAX; k++) {
                int rc = sqlite3_prepare_v3(s->db, store_statements[k], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[k], NULL);

                if (rc != SQLITE_OK) {
                        r = store_fail(s, rc, "prepare");
                        store_disconnect(s);
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
        /* A store of an older schema is read as it is, never migrated by a reader: the columns
         * it lacks read as NULL through a temporary view that shadows the table (temp names are
         * found before main's), and writes name main.incidents. */
        if (r >= 0 && version < 3)
                r = store_exec(s, "CREATE TEMP VIEW incidents AS SELECT *, NULL AS probe FROM main.incidents");
        if (r < 0) {
                *ret = TAKE_PTR(s);   /* for store_last_error(); the caller frees */
                return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}
