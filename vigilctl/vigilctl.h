/* What the files of vigilctl share: the global options main() parsed, where the store is, and
 * the verbs, one file per group of them as systemctl has its systemctl-<verb>.c. Only
 * vigilctl/ includes this. */
#pragma once

#include <stdbool.h>

#include "store.h"

typedef enum OutputFormat { OUTPUT_TABLE, OUTPUT_JSON, OUTPUT_CSV } OutputFormat;

/* Set by main() from the global options before any verb runs (--json, --csv, --no-pager). */
extern OutputFormat arg_format;
extern bool arg_no_pager;

/* Where the incident store and vigild's runtime directory are (--db, --runtime-dir, or the
 * configuration's state_dir and runtime_dir). Owned by main(). */
typedef struct Paths {
        char *db;
        char *runtime_dir;
} Paths;

/* vigilctl.c: opens the store at p->db for a verb, read-only or for writing. On failure says why
 * on stderr in one line and returns -errno; on success *ret is the caller's to free. */
int vigilctl_open_store(const Paths *p, bool writable, Store **ret);

/* The verbs. Each gets its own name as argv[0], parses its own options and prints its result on
 * stdout and its failures on stderr. 0 or -errno; -EINVAL means a usage error (exit status 2).
 * vigilctl_health_check() returns the verdict (0 to 3) instead of 0. */

/* vigilctl-incidents.c */
int vigilctl_incidents_list(const Paths *p, int argc, char *argv[]);
int vigilctl_incidents_show(const Paths *p, int argc, char *argv[]);
int vigilctl_incidents_resolve(const Paths *p, int argc, char *argv[]);
int vigilctl_incidents_purge(const Paths *p, int argc, char *argv[]);

/* vigilctl-health.c */
int vigilctl_health_stats(const Paths *p, int argc, char *argv[]);
int vigilctl_health_check(const Paths *p, int argc, char *argv[]);
