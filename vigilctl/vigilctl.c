/* vigilctl: review the incident store, with vigild running or not. Read verbs open the store
 * read-only; resolve and purge open it for writing and change it in one BEGIN IMMEDIATE
 * transaction. The store is found through the configuration file (state_dir), or --db. */

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "config-parse.h"
#include "escape.h"
#include "health.h"
#include "parse-util.h"
#include "store-query.h"
#include "store.h"

#define EXIT_USAGE 2
#define RUNTIME_LOCK_FILE "vigild.lock"   /* supervisor/manager.c's LOCK_FILE */
#define STORE_DEGRADED_FILE "store-degraded"

typedef enum OutputFormat { OUTPUT_TABLE, OUTPUT_JSON, OUTPUT_CSV } OutputFormat;

static const char *arg_config = NULL;
static const char *arg_db = NULL;
static const char *arg_runtime_dir = NULL;
static OutputFormat arg_format = OUTPUT_TABLE;
static bool arg_no_pager = false;

/* ---- small helpers ---- */

/* One line on stderr; returns r. -EINVAL marks a usage error (exit 2), anything else exit 1. */
static int fail_with(int r, const char *fmt, ...) _printf_(2, 3);
static int fail_with(int r, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "%s: ", program_invocation_short_name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return r;
}

#define fail_usage(...) fail_with(-EINVAL, __VA_ARGS__)



static char *format_local(char *buf, size_t size, usec_t t) {
        time_t sec = (time_t) (t / USEC_PER_SEC);
        struct tm tm;

        if (t == 0 || !localtime_r(&sec, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                (void) snprintf(buf, size, "-");
        return buf;
}

static char *format_iso(char *buf, size_t size, usec_t t) {
        time_t sec = (time_t) (t / USEC_PER_SEC);
        struct tm tm;

        if (t == 0 || !gmtime_r(&sec, &tm))
                buf[0] = 0;
        else {
                size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);

                (void) snprintf(buf + n, size - n, ".%06uZ", (unsigned) (t % USEC_PER_SEC));
        }
        return buf;
}

/* A point in time: a duration means that long ago ("24h"), else a local date and time
 * ("2026-11-23", "2026-11-23 14:00", "2026-11-23T14:00:05") or "@SECONDS" since the epoch. */
static int parse_time_arg(const char *option, const char *s, usec_t *ret) {
        const char *formats[] = { "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M",
                                  "%Y-%m-%d" };
        usec_t d;

        if (parse_duration(s, &d) >= 0 && d != USEC_INFINITY) {
                *ret = usec_sub_unsigned(now(CLOCK_REALTIME), d);
                return 0;
        }
        if (s[0] == '@') {
                char *end;
                unsigned long long v;

                errno = 0;
                v = strtoull(s + 1, &end, 10);
                if (errno == 0 && end != s + 1 && *end == 0 && v < UINT64_MAX / USEC_PER_SEC) {
                        *ret = (usec_t) v * USEC_PER_SEC;
                        return 0;
                }
        }
        for (size_t k = 0; k < ELEMENTSOF(formats); k++) {
                struct tm tm = { .tm_isdst = -1 };
                const char *end = strptime(s, formats[k], &tm);
                time_t t;

                if (!end || *end)
                        continue;
                t = mktime(&tm);
                if (t == (time_t) -1 || t < 0)
                        break;
                *ret = (usec_t) t * USEC_PER_SEC;
                return 0;
        }
        return fail_usage("%s: invalid time \"%s\" (a duration such as \"24h\", a date such as \"2026-11-23 14:00\", "
                          "or @SECONDS)", option, s);
}

static int parse_u64_arg(const char *what, const char *s, uint64_t min, uint64_t *ret) {
        unsigned long long v;
        char *end;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *end || s[0] == '-' || v < min)
                return fail_usage("%s: invalid number \"%s\"", what, s);
        *ret = v;
        return 0;
}

/* ---- finding and opening the store ---- */

typedef struct Paths {
        char *db;
        char *runtime_dir;
} Paths;

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
                r = config_parse_file(path, &config, &error);
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", program_invocation_short_name, error ?: strerror(-r));
                        return r;
                }
                state_dir = config->daemon.state_dir;
                runtime_dir = config->daemon.runtime_dir;
        }
        if (arg_db)
                ret->db = strdup(arg_db);
        else if (asprintf(&ret->db, "%s/incidents.db", state_dir) < 0)
                ret->db = NULL;
        ret->runtime_dir = strdup(arg_runtime_dir ?: runtime_dir);
        if (!ret->db || !ret->runtime_dir)
                return -ENOMEM;
        return 0;
}

static int open_store(const Paths *p, bool writable, Store **ret) {
        Store *s = NULL;
        int r;

        r = store_open_existing(p->db, writable, &s);
        if (r >= 0) {
                *ret = s;
                return 0;
        }
        if (r == -ENOENT)
                fprintf(stderr, "%s: no incident store at %s (has vigild run with this configuration?)\n",
                        program_invocation_short_name, p->db);
        else if (r == -EACCES || r == -EPERM || r == -EROFS)
                fprintf(stderr, "%s: cannot open %s%s: %s%s\n", program_invocation_short_name, p->db,
                        writable ? " for writing" : "", strerror(-r),
                        writable ? " (changing the store needs write access to it, as root)" : "");
        else
                fprintf(stderr, "%s: cannot open %s: %s\n", program_invocation_short_name, p->db,
                        s && *store_last_error(s) ? store_last_error(s) : strerror(-r));
        store_free(s);
        return r;
}

static FILE *pager_open(bool *ret_is_pager) {
        const char *pager = getenv("PAGER");
        FILE *f;

        *ret_is_pager = false;
        if (arg_no_pager || !isatty(STDOUT_FILENO) || (pager && (!*pager || streq(pager, "cat"))))
                return stdout;
        (void) setenv("LESS", "FRX", 0);
        f = popen(pager ?: "less", "we");
        if (!f)
                return stdout;
        *ret_is_pager = true;
        return f;
}

/* ---- verbs ---- */

static int print_incident_row(const IncidentRow *row, void *userdata) {
        FILE *f = userdata;
        char opened[32], who[256];

        if (row->worker)
                (void) snprintf(who, sizeof who, row->instance >= 0 ? "%s:%d" : "%s", row->worker, row->instance);
        else
                (void) snprintf(who, sizeof who, "(vigild)");
        fprintf(f, "%-7" PRIu64 " %-19s ", row->id, format_local(opened, sizeof opened, row->opened_at));
        fputs_escaped(who, f);
        fprintf(f, "%*s %-8s %-10s %-10s %7" PRIu64 "  ", (int) MAX(0, 16 - (int) strlen(who)), "",
                severity_to_string(row->severity) ?: "?", row->category ?: "?", row->state ?: "?", row->occurrences);
        fputs_escaped(row->message, f);
        fputc('\n', f);
        return 0;
}

static int print_incident_csv(const IncidentRow *row, void *userdata) {
        FILE *f = userdata;
        char a[40], b[40], c[40], inst[16] = "";

        if (row->instance >= 0)
                (void) snprintf(inst, sizeof inst, "%d", row->instance);
        fprintf(f, "%" PRIu64 ",%s,%s,%s,", row->id, format_iso(a, sizeof a, row->opened_at),
                format_iso(b, sizeof b, row->last_seen), format_iso(c, sizeof c, row->resolved_at));
        fputs_csv(row->worker, f);
        fprintf(f, ",%s,%s,%s,%s,%s,%s,%s,%" PRIu64 ",%" PRIu64 ",", inst, row->cause ?: "", row->category ?: "",
                severity_to_string(row->severity) ?: "", row->error_type ?: "", row->state ?: "",
                row->resolution ?: "", row->occurrences, row->events_dropped);
        fputs_csv(row->message, f);
        fputc('\n', f);
        return 0;
}

static int verb_incidents(const Paths *p, int argc, char *argv[]) {
        enum { ARG_OPEN = 0x100, ARG_RESOLVED, ARG_WORKER, ARG_SEVERITY, ARG_CATEGORY, ARG_SINCE, ARG_UNTIL, ARG_LIMIT };
        static const struct option options[] = {
                { "open", no_argument, NULL, ARG_OPEN },
                { "resolved", no_argument, NULL, ARG_RESOLVED },
                { "worker", required_argument, NULL, ARG_WORKER },
                { "severity", required_argument, NULL, ARG_SEVERITY },
                { "category", required_argument, NULL, ARG_CATEGORY },
                { "since", required_argument, NULL, ARG_SINCE },
                { "until", required_argument, NULL, ARG_UNTIL },
                { "limit", required_argument, NULL, ARG_LIMIT },
                {}
        };
        _cleanup_store_free_ Store *s = NULL;
        IncidentFilter f = INCIDENT_FILTER_ALL;
        uint64_t limit;
        int c, r;

        optind = 0;   /* 0, not 1: glibc then forgets the permutation state of main()'s parse */
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case ARG_OPEN:
                        f.open = 1;
                        break;
                case ARG_RESOLVED:
                        f.open = 0;
                        break;
                case ARG_WORKER:
                        f.worker = optarg;
                        break;
                case ARG_SEVERITY:
                        f.min_severity = severity_from_string(optarg);
                        if (f.min_severity < 0)
                                return fail_usage("--severity: unknown severity \"%s\" (LOW, MEDIUM, HIGH, CRITICAL)",
                                                  optarg);
                        break;
                case ARG_CATEGORY:
                        f.category = category_from_string(optarg);
                        if (f.category < 0)
                                return fail_usage("--category: unknown category \"%s\" (transient, resource, "
                                                  "validation, permanent)", optarg);
                        break;
                case ARG_SINCE:
                        if (parse_time_arg("--since", optarg, &f.since) < 0)
                                return -EINVAL;
                        break;
                case ARG_UNTIL:
                        if (parse_time_arg("--until", optarg, &f.until) < 0)
                                return -EINVAL;
                        break;
                case ARG_LIMIT:
                        if (parse_u64_arg("--limit", optarg, 1, &limit) < 0)
                                return -EINVAL;
                        f.limit = (unsigned) MIN(limit, (uint64_t) UINT_MAX);
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return fail_usage("incidents: unexpected argument \"%s\"", argv[optind]);

        r = open_store(p, false, &s);
        if (r < 0)
                return r;

        if (arg_format == OUTPUT_JSON) {
                _cleanup_free_ char *json = NULL;

                r = store_incidents_json(s, &f, &json);
                if (r >= 0)
                        printf("%s\n", json);
        } else if (arg_format == OUTPUT_CSV) {
                printf("id,opened_at,last_seen,resolved_at,worker,instance,cause,category,severity,error_type,"
                       "state,resolution,occurrences,events_dropped,message\n");
                r = store_list_incidents(s, &f, print_incident_csv, stdout);
        } else {
                printf("%-7s %-19s %-16s %-8s %-10s %-10s %7s  %s\n", "ID", "OPENED", "WORKER", "SEVERITY", "CATEGORY",
                       "STATE", "COUNT", "MESSAGE");
                r = store_list_incidents(s, &f, print_incident_row, stdout);
        }
        if (r < 0)
                fprintf(stderr, "%s: cannot read %s: %s\n", program_invocation_short_name, p->db, store_last_error(s));
        return r;
}

static int print_incident_detail(const IncidentRow *row, void *userdata) {
        FILE *f = userdata;
        char a[32], b[32], c[32];

        fprintf(f, "incident %" PRIu64 ": ", row->id);
        fputs_escaped(row->message, f);
        fprintf(f, "\n  worker:      ");
        if (row->worker) {
                fputs_escaped(row->worker, f);
                if (row->instance >= 0)
                        fprintf(f, ":%d", row->instance);
        } else
                fputs("(vigild)", f);
        fprintf(f, "\n  cause:       %s (%s), first %s\n", row->cause ?: "?", row->category ?: "?", row->error_type ?: "?");
        fprintf(f, "  severity:    %s\n  state:       %s\n", severity_to_string(row->severity) ?: "?", row->state ?: "?");
        fprintf(f, "  opened:      %s\n  last seen:   %s\n", format_local(a, sizeof a, row->opened_at),
                format_local(b, sizeof b, row->last_seen));
        fprintf(f, "  occurrences: %" PRIu64 "", row->occurrences);
        if (row->events_dropped > 0)
                fprintf(f, " (%" PRIu64 " events not kept)", row->events_dropped);
        fputc('\n', f);
        if (row->resolution) {
                fprintf(f, "  resolved:    %s, %s by ", format_local(c, sizeof c, row->resolved_at), row->resolution);
                fputs_escaped(row->resolved_by ?: "?", f);
                if (row->note) {
                        fputs(": ", f);
                        fputs_escaped(row->note, f);
                }
                fputc('\n', f);
        }
        fprintf(f, "  details:     ");
        fputs_escaped(row->details, f);
        fputs("\n\n", f);
        return 0;
}

static int print_event_row(const EventRow *row, void *userdata) {
        FILE *f = userdata;
        char at[32];

        if (row->action) {
                char d[FORMAT_DURATION_MAX];

                fprintf(f, "  %-6s %s.%03u  action: ", "", format_local(at, sizeof at, row->at),
                        (unsigned) (row->at % USEC_PER_SEC / 1000));
                fputs_escaped(row->kind, f);
                if (!row->message)
                        fputs(" (under way)", f);
                else {
                        fputs(" -> ", f);
                        fputs_escaped(row->message, f);
                        if (row->outcome_at >= row->at)
                                fprintf(f, " after %s", format_duration_approx(d, sizeof d, row->outcome_at - row->at,
                                                                               USEC_PER_MSEC));
                }
                fputc('\n', f);
                return 0;
        }
        fprintf(f, "  #%-5" PRIu64 " %s.%03u  %-17s %-8s ", row->seq, format_local(at, sizeof at, row->at),
                (unsigned) (row->at % USEC_PER_SEC / 1000), row->kind ?: "?", severity_to_string(row->severity) ?: "?");
        fputs_escaped(row->message, f);
        if (row->details && !streq(row->details, "{}")) {
                fputs("  ", f);
                fputs_escaped(row->details, f);
        }
        fputc('\n', f);
        return 0;
}

static int verb_incident(const Paths *p, int argc, char *argv[]) {
        enum { ARG_OFFSET = 0x100, ARG_LIMIT };
        static const struct option options[] = {
                { "offset", required_argument, NULL, ARG_OFFSET },
                { "limit", required_argument, NULL, ARG_LIMIT },
                {}
        };
        _cleanup_store_free_ Store *s = NULL;
        uint64_t id, offset = 0, limit = 0;
        bool is_pager;
        FILE *out;
        int c, r;

        optind = 0;   /* 0, not 1: glibc then forgets the permutation state of main()'s parse */
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case ARG_OFFSET:
                        if (parse_u64_arg("--offset", optarg, 0, &offset) < 0)
                                return -EINVAL;
                        break;
                case ARG_LIMIT:
                        if (parse_u64_arg("--limit", optarg, 1, &limit) < 0)
                                return -EINVAL;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind + 1 != argc)
                return fail_usage("incident: expected one incident ID");
        if (parse_u64_arg("incident ID", argv[optind], 1, &id) < 0)
                return -EINVAL;

        r = open_store(p, false, &s);
        if (r < 0)
                return r;

        if (arg_format == OUTPUT_JSON) {
                _cleanup_free_ char *json = NULL;

                r = store_incident_json(s, id, &json);
                if (r == -ENOENT)
                        return fail_with(-ENOENT, "no incident %" PRIu64 " in %s", id, p->db);
                if (r >= 0)
                        printf("%s\n", json);
        } else if (arg_format == OUTPUT_CSV) {
                return fail_usage("incident: --csv is for lists; use --json");
        } else {
                out = pager_open(&is_pager);
                r = store_get_incident(s, id, print_incident_detail, out);
                if (r == 0) {
                        if (is_pager)
                                (void) pclose(out);
                        return fail_with(-ENOENT, "no incident %" PRIu64 " in %s", id, p->db);
                }
                if (r > 0) {
                        fprintf(out, "  events and actions, oldest first%s:\n", offset || limit ? " (a page of them)" : "");
                        r = store_list_events(s, id, offset, limit, print_event_row, out);
                }
                if (is_pager)
                        (void) pclose(out);
        }
        if (r < 0)
                fprintf(stderr, "%s: cannot read %s: %s\n", program_invocation_short_name, p->db, store_last_error(s));
        return r;
}

static int verb_resolve(const Paths *p, int argc, char *argv[]) {
        enum { ARG_NOTE = 0x100 };
        static const struct option options[] = {
                { "note", required_argument, NULL, ARG_NOTE },
                {}
        };
        _cleanup_store_free_ Store *s = NULL;
        const char *note = NULL;
        struct passwd *pw;
        char by[128];
        uint64_t id;
        int c, r;

        optind = 0;   /* 0, not 1: glibc then forgets the permutation state of main()'s parse */
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case ARG_NOTE:
                        note = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind + 1 != argc)
                return fail_usage("resolve: expected one incident ID");
        if (parse_u64_arg("incident ID", argv[optind], 1, &id) < 0)
                return -EINVAL;
        if (!note || !*note)
                return fail_usage("resolve: --note TEXT is required: say what was done");

        r = open_store(p, true, &s);
        if (r < 0)
                return r;

        pw = getpwuid(getuid());
        if (pw)
                (void) snprintf(by, sizeof by, "uid %u (%s)", (unsigned) getuid(), pw->pw_name);
        else
                (void) snprintf(by, sizeof by, "uid %u", (unsigned) getuid());
        r = store_resolve_manual(s, id, now(CLOCK_REALTIME), by, note);
        if (r == -ENOENT)
                return fail_with(-ENOENT, "no incident %" PRIu64 " in %s", id, p->db);
        if (r == -EALREADY)
                return fail_with(-EALREADY, "incident %" PRIu64 " is resolved already; a resolution is never overwritten",
                                 id);
        if (r < 0) {
                fprintf(stderr, "%s: cannot resolve incident %" PRIu64 ": %s\n", program_invocation_short_name, id,
                        store_last_error(s));
                return r;
        }
        printf("incident %" PRIu64 " resolved by %s\n", id, by);
        return 0;
}


typedef struct TopState {
        bool json;
        unsigned n;
} TopState;

static int print_top(const char *worker, uint64_t n, void *userdata) {
        TopState *t = userdata;

        if (t->json) {
                fprintf(stdout, "%s{\"worker\":", t->n++ ? "," : "");
                fputs_json_string(worker, stdout);
                printf(",\"occurrences\":%" PRIu64 "}", n);
        } else {
                printf("  %7" PRIu64 "  ", n);
                fputs_escaped(worker, stdout);
                putchar('\n');
                t->n++;
        }
        return 0;
}

static int verb_stats(const Paths *p, int argc, char *argv[]) {
        enum { ARG_SINCE = 0x100 };
        static const struct option options[] = {
                { "since", required_argument, NULL, ARG_SINCE },
                {}
        };
        _cleanup_store_free_ Store *s = NULL;
        usec_t since = 0, now_rt = now(CLOCK_REALTIME), from;
        TopState top = { .json = arg_format == OUTPUT_JSON };
        char d[FORMAT_DURATION_MAX];
        StoreStats st;
        double hours;
        int c, r;

        optind = 0;   /* 0, not 1: glibc then forgets the permutation state of main()'s parse */
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case ARG_SINCE:
                        if (parse_time_arg("--since", optarg, &since) < 0)
                                return -EINVAL;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return fail_usage("stats: unexpected argument \"%s\"", argv[optind]);
        if (arg_format == OUTPUT_CSV)
                return fail_usage("stats: --csv is for lists; use --json");

        r = open_store(p, false, &s);
        if (r < 0)
                return r;
        r = store_stats(s, since, &st, 0, NULL, NULL);
        if (r < 0)
                goto fail;

        /* The rate is over the window asked for, or over the store's history. */
        from = since > 0 ? since : (st.first > 0 ? st.first : now_rt);
        hours = MAX((double) usec_sub_unsigned(now_rt, from) / (double) USEC_PER_HOUR, 1.0 / 60);

        if (top.json) {
                printf("{\"since\":%" PRIu64 ",\"incidents\":%" PRIu64 ",\"occurrences\":%" PRIu64
                       ",\"error_rate_per_hour\":%.3f,\"open\":%" PRIu64 ",\"open_critical\":%" PRIu64
                       ",\"resolved\":%" PRIu64 ",\"mean_time_to_resolve_s\":%.3f,\"by_category\":{",
                       since / USEC_PER_SEC, st.incidents, st.occurrences, (double) st.occurrences / hours,
                       st.open, st.open_critical, st.resolved, st.mean_time_to_resolve_usec / USEC_PER_SEC);
                for (Category k = 0; k < _CATEGORY_MAX; k++)
                        printf("%s\"%s\":%" PRIu64, k ? "," : "", category_to_string(k), st.by_category[k]);
                printf("},\"by_severity\":{");
                for (Severity k = 0; k < _SEVERITY_MAX; k++)
                        printf("%s\"%s\":%" PRIu64, k ? "," : "", severity_to_string(k), st.by_severity[k]);
                printf("},\"top_workers\":[");
                r = store_stats(s, since, &st, 10, print_top, &top);
                printf("]}\n");
        } else {
                printf("since:                %s\n", since ? format_local(d, sizeof d, since) : "the start of the store");
                printf("incidents:            %" PRIu64 " (%" PRIu64 " open, %" PRIu64 " of them CRITICAL; %" PRIu64
                       " resolved)\n", st.incidents, st.open, st.open_critical, st.resolved);
                printf("occurrences:          %" PRIu64 "\n", st.occurrences);
                printf("error rate:           %.2f per hour\n", (double) st.occurrences / hours);
                if (st.resolved > 0)
                        printf("mean time to resolve: %s\n",
                               format_duration_approx(d, sizeof d, (usec_t) st.mean_time_to_resolve_usec, USEC_PER_SEC));
                else
                        printf("mean time to resolve: - (none resolved)\n");
                printf("by category:         ");
                for (Category k = 0; k < _CATEGORY_MAX; k++)
                        printf(" %s %" PRIu64 "%s", category_to_string(k), st.by_category[k],
                               k + 1 < _CATEGORY_MAX ? "," : "\n");
                printf("by severity:         ");
                for (Severity k = 0; k < _SEVERITY_MAX; k++)
                        printf(" %s %" PRIu64 "%s", severity_to_string(k), st.by_severity[k],
                               k + 1 < _SEVERITY_MAX ? "," : "\n");
                printf("top workers (occurrences):\n");
                r = store_stats(s, since, &st, 10, print_top, &top);
                if (r >= 0 && top.n == 0)
                        printf("  -\n");
        }
        if (r >= 0)
                return 0;
fail:
        fprintf(stderr, "%s: cannot read %s: %s\n", program_invocation_short_name, p->db, store_last_error(s));
        return r;
}

/* Whether a live vigild holds the runtime directory's lock: 1 yes, 0 no. */
static int vigild_alive(const char *runtime_dir) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (asprintf(&path, "%s/" RUNTIME_LOCK_FILE, runtime_dir) < 0)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        if (flock(fd, LOCK_SH | LOCK_NB) >= 0)
                return 0;   /* nobody holds it */
        return errno == EWOULDBLOCK ? 1 : -errno;
}

/* healthy 0, degraded 1, unhealthy 2, unknown 3: the monitoring-plugin convention. */
static int verb_health(const Paths *p, int argc, char *argv[]) {
        enum { ARG_MAX_OPEN = 0x100, ARG_MAX_OPENED };
        static const struct option options[] = {
                { "max-open", required_argument, NULL, ARG_MAX_OPEN },
                { "max-opened-24h", required_argument, NULL, ARG_MAX_OPENED },
                {}
        };
        _cleanup_store_free_ Store *s = NULL;
        _cleanup_free_ char *marker = NULL;
        uint64_t max_open = 10, max_opened = 20, open = 0, critical = 0, opened = 0;
        const char *verdict = "healthy";
        char why[512] = "";
        int c, r, alive, level = 0;
        bool degraded_store;

        optind = 0;   /* 0, not 1: glibc then forgets the permutation state of main()'s parse */
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case ARG_MAX_OPEN:
                        if (parse_u64_arg("--max-open", optarg, 0, &max_open) < 0)
                                return -EINVAL;
                        break;
                case ARG_MAX_OPENED:
                        if (parse_u64_arg("--max-opened-24h", optarg, 0, &max_opened) < 0)
                                return -EINVAL;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return fail_usage("health: unexpected argument \"%s\"", argv[optind]);

        r = store_open_existing(p->db, false, &s);
        if (r >= 0)
                r = store_health_counts(s, usec_sub_unsigned(now(CLOCK_REALTIME), USEC_PER_DAY), &open, &critical,
                                        &opened);
        if (r < 0) {
                printf("unknown: cannot read the incident store %s: %s\n", p->db,
                       s && *store_last_error(s) ? store_last_error(s) : strerror(-r));
                return (int) HEALTH_UNKNOWN;
        }
        alive = vigild_alive(p->runtime_dir);
        if (asprintf(&marker, "%s/" STORE_DEGRADED_FILE, p->runtime_dir) < 0)
                return -ENOMEM;
        degraded_store = alive > 0 && access(marker, F_OK) >= 0;

        level = (int) health_verdict(&(const HealthInput) {
                                             .open = open,
                                             .open_critical = critical,
                                             .opened_recently = opened,
                                             .vigild_alive = alive > 0,
                                             .store_degraded = degraded_store,
                                             .max_open = max_open,
                                             .max_opened_recently = max_opened,
                                     }, why, sizeof why);
        verdict = level == HEALTH_UNHEALTHY ? "unhealthy" : level == HEALTH_DEGRADED ? "degraded" : "healthy";
        printf("%s: %s\n", verdict, why);
        return level;
}

static int verb_purge(const Paths *p, int argc, char *argv[]) {
        enum { ARG_OLDER_THAN = 0x100, ARG_DRY_RUN };
        static const struct option options[] = {
                { "older-than", required_argument, NULL, ARG_OLDER_THAN },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                {}
        };
        _cleanup_store_free_ Store *s = NULL;
        usec_t older_than = USEC_INFINITY;
        const char *older_than_text = NULL;
        bool dry_run = false;
        uint64_t n = 0;
        int c, r;

        optind = 0;   /* 0, not 1: glibc then forgets the permutation state of main()'s parse */
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case ARG_OLDER_THAN:
                        if (parse_duration(optarg, &older_than) < 0 || older_than == USEC_INFINITY)
                                return fail_usage("--older-than: invalid duration \"%s\" (such as \"30d\")", optarg);
                        older_than_text = optarg;
                        break;
                case ARG_DRY_RUN:
                        dry_run = true;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return fail_usage("purge: unexpected argument \"%s\"", argv[optind]);
        if (older_than == USEC_INFINITY)
                return fail_usage("purge: --older-than DURATION is required");

        r = open_store(p, !dry_run, &s);
        if (r < 0)
                return r;
        r = store_purge(s, usec_sub_unsigned(now(CLOCK_REALTIME), older_than), dry_run, &n);
        if (r < 0) {
                fprintf(stderr, "%s: cannot purge %s: %s\n", program_invocation_short_name, p->db, store_last_error(s));
                return r;
        }
        printf("%s %" PRIu64 " resolved incident(s) older than %s%s\n", dry_run ? "would purge" : "purged", n, older_than_text,
               dry_run ? " (dry run: nothing changed)" : "");
        return 0;
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
        { "incidents", verb_incidents },
        { "incident", verb_incident },
        { "resolve", verb_resolve },
        { "stats", verb_stats },
        { "health", verb_health },
        { "purge", verb_purge },
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
                fail_usage("a command is needed (see --help)");
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
        fail_usage("unknown command \"%s\" (see --help)", argv[optind]);
        return EXIT_USAGE;
}
