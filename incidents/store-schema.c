/* The incident store's schema and its forward migrations. migrations[k] takes a database from
 * user_version k to k + 1; version 0 is an empty file. A release never edits a migration it has
 * shipped: it appends one.
 *
 * The names in text columns (category, state, resolution, breaker_state) are checked by the
 * store module, the only writer, not by CHECK (x IN (...)): SQLite builds an ephemeral table
 * for such a list at every execution of a statement, which made each incident update cost
 * several page faults. */

#include "store-schema.h"

static const char *const migrations[STORE_SCHEMA_VERSION] = {
        /* 0 -> 1: incidents, their events and actions. Times are microseconds since the
         * epoch; severities are 0 (LOW) to 3 (CRITICAL), so "at least HIGH" is a comparison. */
        "CREATE TABLE incidents ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  worker TEXT,"                                 /* NULL: vigild itself */
        "  instance INTEGER,"                            /* NULL: no instance */
        "  cause TEXT NOT NULL,"
        "  category TEXT NOT NULL,"
        "  severity INTEGER NOT NULL CHECK (severity BETWEEN 0 AND 3),"
        "  error_type TEXT NOT NULL,"
        "  message TEXT NOT NULL,"
        "  details TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details)),"
        "  opened_at INTEGER NOT NULL,"
        "  last_seen INTEGER NOT NULL,"
        "  resolved_at INTEGER,"
        "  occurrences INTEGER NOT NULL,"
        "  events_dropped INTEGER NOT NULL DEFAULT 0,"
        "  state TEXT NOT NULL,"
        "  resolution TEXT,"
        "  resolved_by TEXT,"
        "  resolution_note TEXT,"
        "  CHECK ((resolved_at IS NULL) = (state <> 'resolved'))"
        ");"
        "CREATE INDEX incidents_open ON incidents (worker, instance, cause) WHERE resolved_at IS NULL;"
        "CREATE INDEX incidents_opened_at ON incidents (opened_at);"
        "CREATE INDEX incidents_resolved_at ON incidents (resolved_at) WHERE resolved_at IS NOT NULL;"
        "CREATE INDEX incidents_worker ON incidents (worker, opened_at);"
        "CREATE TABLE events ("
        "  id INTEGER PRIMARY KEY,"
        "  incident_id INTEGER NOT NULL REFERENCES incidents (id),"
        "  seq INTEGER NOT NULL,"                        /* 1, 2, ... within the incident */
        "  at INTEGER NOT NULL,"
        "  kind TEXT NOT NULL,"
        "  severity INTEGER NOT NULL CHECK (severity BETWEEN 0 AND 3),"
        "  message TEXT NOT NULL,"
        "  details TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details))"
        ");"
        "CREATE UNIQUE INDEX events_incident_seq ON events (incident_id, seq);"
        "CREATE INDEX events_at ON events (at);"
        "CREATE TABLE actions ("
        "  id INTEGER PRIMARY KEY,"
        "  incident_id INTEGER NOT NULL REFERENCES incidents (id),"
        "  seq INTEGER NOT NULL,"
        "  at INTEGER NOT NULL,"
        "  action TEXT NOT NULL,"
        "  outcome TEXT,"                                /* NULL while under way */
        "  outcome_at INTEGER,"
        "  details TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details))"
        ");"
        "CREATE UNIQUE INDEX actions_incident_seq ON actions (incident_id, seq);",

        /* 1 -> 2: the crash-loop state, so that a restarted vigild goes on where it was: each
         * worker's breaker (its failure times as a JSON array, microseconds since the epoch) and
         * each instance's backoff level and failures since it last ran stably. */
        "CREATE TABLE worker_state ("
        "  worker TEXT PRIMARY KEY,"
        "  breaker_state TEXT NOT NULL,"
        "  failures TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(failures)),"
        "  opened_at INTEGER,"
        "  times_opened INTEGER NOT NULL DEFAULT 0,"
        "  updated_at INTEGER NOT NULL"
        ");"
        "CREATE TABLE instance_state ("
        "  worker TEXT NOT NULL,"
        "  instance INTEGER NOT NULL,"
        "  backoff_level INTEGER NOT NULL,"
        "  deaths INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL,"
        "  PRIMARY KEY (worker, instance)"
        ") WITHOUT ROWID;",

        /* 2 -> 3: probes. A probe's incident is keyed by its name as well: one open incident
         * per worker instance and probe (DESIGN.md), so the open-incident index gains it. */
        "ALTER TABLE incidents ADD COLUMN probe TEXT;"
        "DROP INDEX incidents_open;"
        "CREATE INDEX incidents_open ON incidents (worker, instance, cause, probe) WHERE resolved_at IS NULL;",
};

const char *store_schema_migration(unsigned from_version) {
        if (from_version >= STORE_SCHEMA_VERSION)
                return NULL;
        return migrations[from_version];
}
