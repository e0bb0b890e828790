/* vigilctl's side of the terminal: times as tables, CSV and JSON show them, the pager, the
 * one-line failure messages, and the parsers of the arguments several verbs take (times,
 * numbers). It knows nothing of the store or of any verb; messages go to stderr for the user
 * who ran vigilctl, never to the journal. See vigilctl-format.h. */

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "parse-util.h"
#include "vigilctl-format.h"

int vigilctl_format_fail(int r, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "%s: ", program_invocation_short_name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return r;
}

char *vigilctl_format_local(char *buf, size_t size, usec_t t) {
        time_t sec = (time_t) (t / USEC_PER_SEC);
        struct tm tm;

        if (t == 0 || !localtime_r(&sec, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                (void) snprintf(buf, size, "-");
        return buf;
}

char *vigilctl_format_iso(char *buf, size_t size, usec_t t) {
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

int vigilctl_format_parse_time(const char *option, const char *s, usec_t *ret) {
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
        return vigilctl_format_fail_usage("%s: invalid time \"%s\" (a duration such as \"24h\", "
                                          "a date such as \"2026-11-23 14:00\", or @SECONDS)", option, s);
}

int vigilctl_format_parse_u64(const char *what, const char *s, uint64_t min, uint64_t *ret) {
        unsigned long long v;
        char *end;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *end || s[0] == '-' || v < min)
                return vigilctl_format_fail_usage("%s: invalid number \"%s\"", what, s);
        *ret = v;
        return 0;
}

FILE *vigilctl_format_pager_open(bool no_pager, bool *ret_is_pager) {
        const char *pager = getenv("PAGER");
        FILE *f;

        *ret_is_pager = false;
        if (no_pager || !isatty(STDOUT_FILENO) || (pager && (!*pager || streq(pager, "cat"))))
                return stdout;
        (void) setenv("LESS", "FRX", 0);
        f = popen(pager ?: "less", "we");
        if (!f)
                return stdout;
        *ret_is_pager = true;
        return f;
}
