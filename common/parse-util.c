/* Value parsers for durations, sizes, signals and octal modes, and the compact duration
 * formatter. Every parser is strict: it accepts the whole string or refuses it, never reads
 * a prefix, never skips leading signs or blanks the way strtoul() would, and reports overflow
 * as -ERANGE instead of saturating. Non-logging, no allocation, no global state. */

#include <inttypes.h>
#include <signal.h>
#include <string.h>

#include "macro.h"
#include "parse-util.h"

typedef struct DurationUnit {
        const char *suffix;
        usec_t usec;
} DurationUnit;

/* Longer suffixes first: "ms" and "min" must win over "m". */
static const DurationUnit duration_units[] = {
        { "us", 1 },
        { "ms", USEC_PER_MSEC },
        { "min", USEC_PER_MINUTE },
        { "s", USEC_PER_SEC },
        { "m", USEC_PER_MINUTE },
        { "h", USEC_PER_HOUR },
        { "d", USEC_PER_DAY },
        { "w", 7 * USEC_PER_DAY },
};

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

/* Reads "<digits>[.<digits>]" at *p. The integer part goes to *ret_int; the fraction, as the
 * digits after the dot, to *ret_frac and *ret_frac_len (the caller scales it). At least one
 * digit before and, if there is a dot, after it. */
static int read_decimal(const char **p, uint64_t *ret_int, const char **ret_frac, size_t *ret_frac_len) {
        const char *s = *p;
        uint64_t n = 0;

        if (!is_digit(*s))
                return -EINVAL;

        for (; is_digit(*s); s++) {
                unsigned d = (unsigned) (*s - '0');

                if (n > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                n = n * 10 + d;
        }

        const char *frac = NULL;
        size_t frac_len = 0;
        if (*s == '.') {
                s++;
                if (!is_digit(*s))
                        return -EINVAL;
                frac = s;
                while (is_digit(*s))
                        s++;
                frac_len = (size_t) (s - frac);
        }

        *p = s;
        *ret_int = n;
        *ret_frac = frac;
        *ret_frac_len = frac_len;
        return 0;
}

/* (n + 0.frac) * unit, truncated to an integer. Only the first 18 fraction digits count: with
 * units below 10^18, later digits cannot change the integer result by more than rounding. */
static int scale_decimal(uint64_t n, const char *frac, size_t frac_len, uint64_t unit, uint64_t *ret) {
        unsigned __int128 f = 0, denominator = 1, v;

        if (unit != 0 && n > UINT64_MAX / unit)
                return -ERANGE;
        v = (unsigned __int128) n * unit;

        for (size_t i = 0; i < frac_len && i < 18; i++) {
                f = f * 10 + (unsigned) (frac[i] - '0');
                denominator *= 10;
        }
        v += f * unit / denominator;
        if (v > UINT64_MAX)
                return -ERANGE;

        *ret = (uint64_t) v;
        return 0;
}

int parse_duration(const char *s, usec_t *ret_usec) {
        usec_t total = 0;
        const char *p;
        int r;

        assert(s);
        assert(ret_usec);

        if (streq(s, "infinity")) {
                *ret_usec = USEC_INFINITY;
                return 0;
        }

        /* A bare "0" needs no unit because its meaning does not depend on one. */
        if (streq(s, "0")) {
                *ret_usec = 0;
                return 0;
        }

        if (!is_digit(*s))
                return -EINVAL;

        for (p = s; *p;) {
                const DurationUnit *unit = NULL;
                const char *frac;
                size_t frac_len;
                uint64_t n, v;

                r = read_decimal(&p, &n, &frac, &frac_len);
                if (r < 0)
                        return r;

                for (size_t i = 0; i < ELEMENTSOF(duration_units); i++) {
                        size_t l = strlen(duration_units[i].suffix);

                        if (strncmp(p, duration_units[i].suffix, l) == 0 && !(p[l] >= 'a' && p[l] <= 'z')) {
                                unit = &duration_units[i];
                                p += l;
                                break;
                        }
                }
                if (!unit)
                        return -EINVAL;

                r = scale_decimal(n, frac, frac_len, unit->usec, &v);
                if (r < 0)
                        return r;
                if (total > USEC_INFINITY - v)
                        return -ERANGE;
                total += v;

                /* Blanks may separate terms ("1h 30m") but may not end the string. */
                if (is_blank(*p)) {
                        while (is_blank(*p))
                                p++;
                        if (!is_digit(*p))
                                return -EINVAL;
                } else if (*p && !is_digit(*p))
                        return -EINVAL;
        }

        /* USEC_INFINITY is reserved for "infinity"; a finite term list that reaches it overflowed. */
        if (total == USEC_INFINITY)
                return -ERANGE;

        *ret_usec = total;
        return 0;
}

int parse_size(const char *s, uint64_t *ret_bytes) {
        static const char suffixes[] = "KMGT";
        uint64_t n, unit = 1, v;
        const char *p = s, *frac;
        size_t frac_len;
        int r;

        assert(s);
        assert(ret_bytes);

        r = read_decimal(&p, &n, &frac, &frac_len);
        if (r < 0)
                return r;

        if (*p) {
                const char *c = strchr(suffixes, *p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);

                if (c) {
                        for (const char *i = suffixes; i <= c; i++)
                                unit *= 1024;
                        p++;
                        if (streq(p, "iB"))
                                p += 2;
                }
                if (streq(p, "B"))
                        p++;
                if (*p)
                        return -EINVAL;
        }

        /* A fraction of a byte means nothing: "1.5" is refused, "1.5K" is 1536. */
        if (frac && unit == 1)
                return -EINVAL;

        r = scale_decimal(n, frac, frac_len, unit, &v);
        if (r < 0)
                return r;

        *ret_bytes = v;
        return 0;
}

static int parse_signal_number(const char *s, int *ret) {
        int n = 0;

        if (!is_digit(*s))
                return -EINVAL;
        for (; *s; s++) {
                if (!is_digit(*s))
                        return -EINVAL;
                n = n * 10 + (*s - '0');
                if (n > 1000)
                        return -ERANGE;
        }

        *ret = n;
        return 0;
}

int parse_signal(const char *s, int *ret_signo) {
        const char *name;
        int signo, r;

        assert(s);
        assert(ret_signo);

        if (is_digit(*s)) {
                r = parse_signal_number(s, &signo);
                if (r < 0)
                        return r;
                if (signo < 1 || signo > 64 || signo >= NSIG)
                        return -ERANGE;
                *ret_signo = signo;
                return 0;
        }

        name = strncmp(s, "SIG", 3) == 0 ? s + 3 : s;

        /* Real-time signals have no fixed name; accept the forms kill(1) prints. */
        if (strncmp(name, "RTMIN", 5) == 0 || strncmp(name, "RTMAX", 5) == 0) {
                int base = name[4] == 'N' ? SIGRTMIN : SIGRTMAX, off = 0;
                const char *tail = name + 5;

                if (*tail) {
                        if (*tail != (base == SIGRTMIN ? '+' : '-'))
                                return -EINVAL;
                        r = parse_signal_number(tail + 1, &off);
                        if (r < 0)
                                return r;
                }
                signo = base == SIGRTMIN ? base + off : base - off;
                if (signo < SIGRTMIN || signo > SIGRTMAX)
                        return -ERANGE;
                *ret_signo = signo;
                return 0;
        }

        for (signo = 1; signo < SIGRTMIN; signo++) {
                const char *abbrev = sigabbrev_np(signo);

                if (abbrev && streq(abbrev, name)) {
                        *ret_signo = signo;
                        return 0;
                }
        }

        return -EINVAL;
}

int parse_mode(const char *s, mode_t *ret_mode) {
        mode_t m = 0;

        assert(s);
        assert(ret_mode);

        if (!*s)
                return -EINVAL;

        for (; *s; s++) {
                if (*s < '0' || *s > '7')
                        return -EINVAL;
                m = m * 8 + (mode_t) (*s - '0');
                if (m > 0777)
                        return -ERANGE;
        }

        *ret_mode = m;
        return 0;
}

char *format_duration(char *buf, size_t size, usec_t usec) {
        static const DurationUnit table[] = {
                { "w", 7 * USEC_PER_DAY },
                { "d", USEC_PER_DAY },
                { "h", USEC_PER_HOUR },
                { "m", USEC_PER_MINUTE },
                { "s", USEC_PER_SEC },
                { "ms", USEC_PER_MSEC },
                { "us", 1 },
        };
        size_t n = 0;

        assert(buf);
        assert(size > 0);

        if (usec == USEC_INFINITY) {
                (void) snprintf(buf, size, "infinity");
                return buf;
        }
        if (usec == 0) {
                (void) snprintf(buf, size, "0");
                return buf;
        }

        buf[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(table) && usec > 0; i++) {
                uint64_t k = usec / table[i].usec;
                int l;

                if (k == 0)
                        continue;
                l = snprintf(buf + n, size - n, "%" PRIu64 "%s", k, table[i].suffix);
                if (l < 0 || (size_t) l >= size - n)
                        break;
                n += (size_t) l;
                usec -= k * table[i].usec;
        }

        return buf;
}

char *format_duration_approx(char *buf, size_t size, usec_t usec, usec_t accuracy) {
        if (accuracy > 1 && usec != USEC_INFINITY && usec >= accuracy)
                usec = usec_add(usec, accuracy / 2) / accuracy * accuracy;
        return format_duration(buf, size, usec);
}
