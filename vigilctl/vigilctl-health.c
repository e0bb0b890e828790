/* vigilctl's verbs on the store as a whole: stats (totals, error rate, distributions, mean time
 * to resolve, the workers with the most occurrences) and health (the verdict of incidents/health.c
 * over the store's counts and whether a vigild runs, as the exit status). Read-only: they never
 * open the store for writing, and look at vigild's runtime directory only to read it. */

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

#include "config.h"
#include "escape.h"
#include "health.h"
#include "parse-util.h"
#include "store-query.h"
#include "vigilctl-format.h"
#include "vigilctl.h"

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

int vigilctl_health_stats(const Paths *p, int argc, char *argv[]) {
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
                        if (vigilctl_format_parse_time("--since", optarg, &since) < 0)
                                return -EINVAL;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return vigilctl_format_fail_usage("stats: unexpected argument \"%s\"", argv[optind]);
        if (arg_format == OUTPUT_CSV)
                return vigilctl_format_fail_usage("stats: --csv is for lists; use --json");

        r = vigilctl_open_store(p, false, &s);
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
                printf("since:                %s\n",
                       since ? vigilctl_format_local(d, sizeof d, since) : "the start of the store");
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
        return vigilctl_format_fail(r, "cannot read %s: %s", p->db, store_last_error(s));
}

/* Whether a live vigild holds the runtime directory's lock: 1 yes, 0 no. */
static int vigild_alive(const char *runtime_dir) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (asprintf(&path, "%s/" CONFIG_RUNTIME_LOCK_FILE, runtime_dir) < 0)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        if (flock(fd, LOCK_SH | LOCK_NB) >= 0)
                return 0;   /* nobody holds it */
        return errno == EWOULDBLOCK ? 1 : -errno;
}

/* healthy 0, degraded 1, unhealthy 2, unknown 3: the monitoring-plugin convention. */
int vigilctl_health_check(const Paths *p, int argc, char *argv[]) {
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
                        if (vigilctl_format_parse_u64("--max-open", optarg, 0, &max_open) < 0)
                                return -EINVAL;
                        break;
                case ARG_MAX_OPENED:
                        if (vigilctl_format_parse_u64("--max-opened-24h", optarg, 0, &max_opened) < 0)
                                return -EINVAL;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return vigilctl_format_fail_usage("health: unexpected argument \"%s\"", argv[optind]);

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
        if (asprintf(&marker, "%s/" CONFIG_RUNTIME_STORE_DEGRADED, p->runtime_dir) < 0)
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
