/* vigilctl: review the incident store, with vigild running or not. This file is main(): it
 * parses the global options into arg_*, finds the store through the configuration file
 * (state_dir) or --db, and runs the verb the table names; the verbs live in vigilctl-<group>.c
 * (incidents, health), the shared output helpers in vigilctl-format.c. No verb logic here.
 * Read verbs open the store read-only; resolve and purge open it for writing and change it in
 * one BEGIN IMMEDIATE transaction. */

#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "config-parse.h"
#include "health.h"
#include "store.h"
#include "vigilctl-format.h"
#include "vigilctl.h"

#define EXIT_USAGE 2

static const char *arg_config = NULL;
static const char *arg_db = NULL;
static const char *arg_runtime_dir = NULL;
OutputFormat arg_format = OUTPUT_TABLE;
bool arg_no_pager = false;

static void paths_done(Paths *p) {
        free(p->db);
        free(p->runtime_dir);
}

static int find_paths(Paths *ret) {
        _cleanup_config_free_ Config *config = NULL;
        _cleanup_free_ char *error = NULL;
        const char *path = arg_config ?: CONFIG_DEFAULT_PATH;
        const char *state_dir = CONFIG_DEFAULT_STATE_DIR, *runtime_dir = CONFIG_DEFAULT_RUNTIME_DIR;
        int r;

        /* The default configuration may be absent (the defaults then apply); a named one must
         * be there and valid. --db needs no configuration at all. */
        if (!arg_db && (arg_config || access(path, F_OK) >= 0)) {
                r = config_parse_file(path, NULL, &config, &error);
                if (r < 0)
                        return vigilctl_format_fail(r, "%s", error ?: strerror(-r));
                state_dir = config->daemon.state_dir;
                runtime_dir = config->daemon.runtime_dir;
        }
        if (arg_db)
                ret->db = strdup(arg_db);
        else if (asprintf(&ret->db, "%s/" CONFIG_INCIDENTS_DB, state_dir) < 0)
                ret->db = NULL;
        ret->runtime_dir = strdup(arg_runtime_dir ?: runtime_dir);
        if (!ret->db || !ret->runtime_dir)
                return -ENOMEM;
        return 0;
}

int vigilctl_open_store(const Paths *p, bool writable, Store **ret) {
        _cleanup_store_free_ Store *s = NULL;
        int r;

        r = store_open_existing(p->db, writable, &s);
        if (r >= 0) {
                *ret = TAKE_PTR(s);
                return 0;
        }
        if (r == -ENOENT)
                return vigilctl_format_fail(r, "no incident store at %s (has vigild run with this "
                                            "configuration?)", p->db);
        if (r == -EACCES || r == -EPERM || r == -EROFS)
                return vigilctl_format_fail(r, "cannot open %s%s: %s%s", p->db,
                                            writable ? " for writing" : "", strerror(-r),
                                            writable ? " (changing the store needs write access to it, as root)"
                                                     : "");
        return vigilctl_format_fail(r, "cannot open %s: %s", p->db,
                                    s && *store_last_error(s) ? store_last_error(s) : strerror(-r));
}

static void help(void) {
        printf("%s [OPTIONS...] COMMAND ...\n\n"
               "Review vigild's incident store.\n\n"
               "Commands:\n"
               "  incidents [--open|--resolved] [--worker NAME] [--severity LEVEL] [--category CAT]\n"
               "            [--since TIME] [--until TIME] [--limit N]   List incidents, newest first\n"
               "  incident ID [--offset N] [--limit N]   One incident: its events, resolution\n"
               "  resolve ID --note TEXT                 Resolve an incident by hand\n"
               "  stats [--since TIME]                   Totals, error rate, distributions, MTTR\n"
               "  health [--max-open N] [--max-opened-24h N]\n"
               "                                         healthy/degraded/unhealthy (exit 0/1/2; 3 unknown)\n"
               "  purge --older-than DURATION [--dry-run] Delete old resolved incidents\n\n"
               "Options:\n"
               "  -c --config=FILE       Find the store through this configuration (default: %s)\n"
               "     --db=FILE           Use this incident store\n"
               "     --runtime-dir=DIR   vigild's runtime directory (for health)\n"
               "     --json              JSON output\n"
               "     --csv               CSV output (incidents)\n"
               "     --no-pager          Do not page the output of \"incident\"\n"
               "  -h --help              Show this help\n"
               "     --version           Show the version\n\n"
               "TIME is a duration meaning that long ago (\"24h\"), a local date and time\n"
               "(\"2026-11-23 14:00\"), or @SECONDS since the epoch.\n",
               program_invocation_short_name, CONFIG_DEFAULT_PATH);
}

static const struct {
        const char *name;
        int (*run)(const Paths *p, int argc, char *argv[]);
} verbs[] = {
        { "incidents", vigilctl_incidents_list },
        { "incident", vigilctl_incidents_show },
        { "resolve", vigilctl_incidents_resolve },
        { "stats", vigilctl_health_stats },
        { "health", vigilctl_health_check },
        { "purge", vigilctl_incidents_purge },
};

int main(int argc, char *argv[]) {
        enum { ARG_DB = 0x100, ARG_RUNTIME_DIR, ARG_JSON, ARG_CSV, ARG_NO_PAGER, ARG_VERSION };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "db", required_argument, NULL, ARG_DB },
                { "runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR },
                { "json", no_argument, NULL, ARG_JSON },
                { "csv", no_argument, NULL, ARG_CSV },
                { "no-pager", no_argument, NULL, ARG_NO_PAGER },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {}
        };
        Paths paths = {};
        int c, r;

        /* Global options come before the command; the command parses its own. */
        while ((c = getopt_long(argc, argv, "+c:h", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        arg_config = optarg;
                        break;
                case ARG_DB:
                        arg_db = optarg;
                        break;
                case ARG_RUNTIME_DIR:
                        arg_runtime_dir = optarg;
                        break;
                case ARG_JSON:
                        arg_format = OUTPUT_JSON;
                        break;
                case ARG_CSV:
                        arg_format = OUTPUT_CSV;
                        break;
                case ARG_NO_PAGER:
                        arg_no_pager = true;
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("vigilctl %s\n", PACKAGE_VERSION);
                        return 0;
                default:
                        return EXIT_USAGE;
                }
        if (optind >= argc) {
                vigilctl_format_fail_usage("a command is needed (see --help)");
                return EXIT_USAGE;
        }

        for (size_t k = 0; k < ELEMENTSOF(verbs); k++) {
                if (!streq(argv[optind], verbs[k].name))
                        continue;
                r = find_paths(&paths);
                if (r >= 0) {
                        /* The command sees its own name as argv[0]. */
                        r = verbs[k].run(&paths, argc - optind, argv + optind);
                        if (streq(verbs[k].name, "health") && r >= 0) {
                                paths_done(&paths);
                                return r;
                        }
                }
                paths_done(&paths);
                if (streq(verbs[k].name, "health") && r < 0 && r != -EINVAL)
                        return (int) HEALTH_UNKNOWN;
                return r == -EINVAL ? EXIT_USAGE : r < 0 ? EXIT_FAILURE : 0;
        }
        vigilctl_format_fail_usage("unknown command \"%s\" (see --help)", argv[optind]);
        return EXIT_USAGE;
}
