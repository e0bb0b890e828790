/* vigilctl's verbs on incidents: incidents (the list, as a table, CSV or JSON), incident ID (one
 * incident's story, paged), resolve (by hand, with a note) and purge (old resolved ones). Each
 * parses its own options and opens the store itself: read-only to read, for writing to change
 * it, which the store does in one BEGIN IMMEDIATE transaction. Never changes the store when an
 * argument is wrong; says what went wrong in one line on stderr. */

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <unistd.h>

#include "escape.h"
#include "parse-util.h"
#include "store-query.h"
#include "vigilctl-format.h"
#include "vigilctl.h"

static int print_incident_row(const IncidentRow *row, void *userdata) {
        FILE *f = userdata;
        char opened[32], who[256];

        if (row->worker)
                (void) snprintf(who, sizeof who, row->instance >= 0 ? "%s:%d" : "%s", row->worker, row->instance);
        else
                (void) snprintf(who, sizeof who, row->probe ? "(host)" : "(vigild)");
        if (row->probe) {
                size_t n = strlen(who);

                (void) snprintf(who + n, sizeof who - n, "/%s", row->probe);
        }
        fprintf(f, "%-7" PRIu64 " %-19s ", row->id,
                vigilctl_format_local(opened, sizeof opened, row->opened_at));
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
        fprintf(f, "%" PRIu64 ",%s,%s,%s,", row->id, vigilctl_format_iso(a, sizeof a, row->opened_at),
                vigilctl_format_iso(b, sizeof b, row->last_seen),
                vigilctl_format_iso(c, sizeof c, row->resolved_at));
        fputs_csv(row->worker, f);
        fprintf(f, ",%s,%s,%s,%s,%s,%s,%s,%" PRIu64 ",%" PRIu64 ",", inst, row->cause ?: "", row->category ?: "",
                severity_to_string(row->severity) ?: "", row->error_type ?: "", row->state ?: "",
                row->resolution ?: "", row->occurrences, row->events_dropped);
        fputs_csv(row->message, f);
        /* Columns added later go last, so that scripts reading by position keep working. */
        fputc(',', f);
        fputs_csv(row->probe, f);
        fputc('\n', f);
        return 0;
}

int vigilctl_incidents_list(const Paths *p, int argc, char *argv[]) {
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
                                return vigilctl_format_fail_usage("--severity: unknown severity \"%s\" "
                                                                  "(LOW, MEDIUM, HIGH, CRITICAL)", optarg);
                        break;
                case ARG_CATEGORY:
                        f.category = category_from_string(optarg);
                        if (f.category < 0)
                                return vigilctl_format_fail_usage("--category: unknown category \"%s\" "
                                                                  "(transient, resource, validation, "
                                                                  "permanent)", optarg);
                        break;
                case ARG_SINCE:
                        if (vigilctl_format_parse_time("--since", optarg, &f.since) < 0)
                                return -EINVAL;
                        break;
                case ARG_UNTIL:
                        if (vigilctl_format_parse_time("--until", optarg, &f.until) < 0)
                                return -EINVAL;
                        break;
                case ARG_LIMIT:
                        if (vigilctl_format_parse_u64("--limit", optarg, 1, &limit) < 0)
                                return -EINVAL;
                        f.limit = (unsigned) MIN(limit, (uint64_t) UINT_MAX);
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return vigilctl_format_fail_usage("incidents: unexpected argument \"%s\"", argv[optind]);

        r = vigilctl_open_store(p, false, &s);
        if (r < 0)
                return r;

        if (arg_format == OUTPUT_JSON) {
                _cleanup_free_ char *json = NULL;

                r = store_incidents_json(s, &f, &json);
                if (r >= 0)
                        printf("%s\n", json);
        } else if (arg_format == OUTPUT_CSV) {
                printf("id,opened_at,last_seen,resolved_at,worker,instance,cause,category,severity,error_type,"
                       "state,resolution,occurrences,events_dropped,message,probe\n");
                r = store_list_incidents(s, &f, print_incident_csv, stdout);
        } else {
                printf("%-7s %-19s %-16s %-8s %-10s %-10s %7s  %s\n", "ID", "OPENED", "WORKER", "SEVERITY", "CATEGORY",
                       "STATE", "COUNT", "MESSAGE");
                r = store_list_incidents(s, &f, print_incident_row, stdout);
        }
        if (r < 0)
                return vigilctl_format_fail(r, "cannot read %s: %s", p->db, store_last_error(s));
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
                fputs(row->probe ? "(host)" : "(vigild)", f);
        if (row->probe) {
                fprintf(f, "\n  probe:       ");
                fputs_escaped(row->probe, f);
        }
        fprintf(f, "\n  cause:       %s (%s), first %s\n", row->cause ?: "?", row->category ?: "?", row->error_type ?: "?");
        fprintf(f, "  severity:    %s\n  state:       %s\n", severity_to_string(row->severity) ?: "?", row->state ?: "?");
        fprintf(f, "  opened:      %s\n  last seen:   %s\n",
                vigilctl_format_local(a, sizeof a, row->opened_at),
                vigilctl_format_local(b, sizeof b, row->last_seen));
        fprintf(f, "  occurrences: %" PRIu64 "", row->occurrences);
        if (row->events_dropped > 0)
                fprintf(f, " (%" PRIu64 " events not kept)", row->events_dropped);
        fputc('\n', f);
        if (row->resolution) {
                fprintf(f, "  resolved:    %s, %s by ", vigilctl_format_local(c, sizeof c, row->resolved_at),
                        row->resolution);
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

                fprintf(f, "  %-6s %s.%03u  action: ", "", vigilctl_format_local(at, sizeof at, row->at),
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
        fprintf(f, "  #%-5" PRIu64 " %s.%03u  %-17s %-8s ", row->seq,
                vigilctl_format_local(at, sizeof at, row->at), (unsigned) (row->at % USEC_PER_SEC / 1000),
                row->kind ?: "?", severity_to_string(row->severity) ?: "?");
        fputs_escaped(row->message, f);
        if (row->details && !streq(row->details, "{}")) {
                fputs("  ", f);
                fputs_escaped(row->details, f);
        }
        fputc('\n', f);
        return 0;
}

int vigilctl_incidents_show(const Paths *p, int argc, char *argv[]) {
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
                        if (vigilctl_format_parse_u64("--offset", optarg, 0, &offset) < 0)
                                return -EINVAL;
                        break;
                case ARG_LIMIT:
                        if (vigilctl_format_parse_u64("--limit", optarg, 1, &limit) < 0)
                                return -EINVAL;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind + 1 != argc)
                return vigilctl_format_fail_usage("incident: expected one incident ID");
        if (vigilctl_format_parse_u64("incident ID", argv[optind], 1, &id) < 0)
                return -EINVAL;

        r = vigilctl_open_store(p, false, &s);
        if (r < 0)
                return r;

        if (arg_format == OUTPUT_JSON) {
                _cleanup_free_ char *json = NULL;

                r = store_incident_json(s, id, &json);
                if (r == -ENOENT)
                        return vigilctl_format_fail(-ENOENT, "no incident %" PRIu64 " in %s", id, p->db);
                if (r >= 0)
                        printf("%s\n", json);
        } else if (arg_format == OUTPUT_CSV) {
                return vigilctl_format_fail_usage("incident: --csv is for lists; use --json");
        } else {
                out = vigilctl_format_pager_open(arg_no_pager, &is_pager);
                r = store_get_incident(s, id, print_incident_detail, out);
                if (r == 0) {
                        if (is_pager)
                                (void) pclose(out);
                        return vigilctl_format_fail(-ENOENT, "no incident %" PRIu64 " in %s", id, p->db);
                }
                if (r > 0) {
                        fprintf(out, "  events and actions, oldest first%s:\n", offset || limit ? " (a page of them)" : "");
                        r = store_list_events(s, id, offset, limit, print_event_row, out);
                }
                if (is_pager)
                        (void) pclose(out);
        }
        if (r < 0)
                return vigilctl_format_fail(r, "cannot read %s: %s", p->db, store_last_error(s));
        return r;
}

int vigilctl_incidents_resolve(const Paths *p, int argc, char *argv[]) {
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
                return vigilctl_format_fail_usage("resolve: expected one incident ID");
        if (vigilctl_format_parse_u64("incident ID", argv[optind], 1, &id) < 0)
                return -EINVAL;
        if (!note || !*note)
                return vigilctl_format_fail_usage("resolve: --note TEXT is required: say what was done");

        r = vigilctl_open_store(p, true, &s);
        if (r < 0)
                return r;

        pw = getpwuid(getuid());
        if (pw)
                (void) snprintf(by, sizeof by, "uid %u (%s)", (unsigned) getuid(), pw->pw_name);
        else
                (void) snprintf(by, sizeof by, "uid %u", (unsigned) getuid());
        r = store_resolve_manual(s, id, now(CLOCK_REALTIME), by, note);
        if (r == -ENOENT)
                return vigilctl_format_fail(-ENOENT, "no incident %" PRIu64 " in %s", id, p->db);
        if (r == -EALREADY)
                return vigilctl_format_fail(-EALREADY, "incident %" PRIu64 " is resolved already; "
                                            "a resolution is never overwritten", id);
        if (r < 0)
                return vigilctl_format_fail(r, "cannot resolve incident %" PRIu64 ": %s", id, store_last_error(s));
        printf("incident %" PRIu64 " resolved by %s\n", id, by);
        return 0;
}

int vigilctl_incidents_purge(const Paths *p, int argc, char *argv[]) {
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
                                return vigilctl_format_fail_usage("--older-than: invalid duration \"%s\" "
                                                                  "(such as \"30d\")", optarg);
                        older_than_text = optarg;
                        break;
                case ARG_DRY_RUN:
                        dry_run = true;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return vigilctl_format_fail_usage("purge: unexpected argument \"%s\"", argv[optind]);
        if (older_than == USEC_INFINITY)
                return vigilctl_format_fail_usage("purge: --older-than DURATION is required");

        r = vigilctl_open_store(p, !dry_run, &s);
        if (r < 0)
                return r;
        r = store_purge(s, usec_sub_unsigned(now(CLOCK_REALTIME), older_than), dry_run, &n);
        if (r < 0)
                return vigilctl_format_fail(r, "cannot purge %s: %s", p->db, store_last_error(s));
        printf("%s %" PRIu64 " resolved incident(s) older than %s%s\n", dry_run ? "would purge" : "purged", n, older_than_text,
               dry_run ? " (dry run: nothing changed)" : "");
        return 0;
}
