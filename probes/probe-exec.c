/* The exec probe: runs a command and judges it by the monitoring-plugins convention (exit 0 OK,
 * 1 WARNING, 2 CRITICAL, 3 UNKNOWN; the first output line is the message, the first item of
 * performance data after '|' the value), so that Nagios-style plugins run unchanged. This file
 * holds the kind's keys, the judgement (probe_exec_judge(), pure) and the glue to the probe
 * interface; the command itself is run by probe-command.c, which owns the process, its
 * reaping and its output. Non-logging; never blocks the loop. */

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "config-user.h"
#include "config.h"
#include "escape.h"
#include "probe-command.h"
#include "probe-exec.h"
#include "strv.h"

/* Bounds of the parts of the evidence, escaped (a control character takes six bytes). */
#define EXEC_EVIDENCE_PERFDATA_MAX 512U
#define EXEC_UOM_MAX 16U

typedef struct ExecSettings {
        char **argv;
        ConfigUser user;      /* no name: the target's user (a worker's), else vigild's */
} ExecSettings;

/* The sample under way, if any. */
typedef struct ExecState {
        ProbeCommand command;
} ExecState;

/* ---- Configuration ---- */

static void exec_settings_done(void *settings) {
        ExecSettings *s = settings;

        s->argv = strv_free(s->argv);
        config_user_done(&s->user);
}

static const ConfigKey exec_keys[] = {
        CONFIG_KEY_ARGV("command", ExecSettings, argv, CONFIG_ARGV_MAX,
                        "[ \"/usr/lib/nagios/plugins/check_procs\", \"-c\", \"1:\" ]"),
        /* Resolved now, so that the child never calls into NSS (it shares vigild's memory). */
        CONFIG_KEY_AT("user", config_user_parse, ExecSettings, user),
};

static int exec_check_config(ConfigParser *p, const config_setting_t *g, const ProbeConfig *pc,
                             bool cgroups_off) {
        const ExecSettings *s = pc->settings;

        if (!s->argv)
                return config_keys_fail(p, g, "missing required key \"command\"");
        return 0;
}

/* ---- Judging the output ---- */

/* The convention's exit statuses 0..3. */
static const ProbeStatus status_by_exit[] = { PROBE_OK, PROBE_WARNING, PROBE_CRITICAL, PROBE_UNKNOWN };

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* The length of the number at the start of s (n bytes): [+-]digits[.digits][e[+-]digits] or
 * [+-].digits[...]; 0 if there is none. No "inf", "nan" or hexadecimal, unlike strtod(). */
static size_t number_span(const char *s, size_t n) {
        size_t i = 0, digits = 0;

        if (i < n && (s[i] == '+' || s[i] == '-'))
                i++;
        for (; i < n && is_digit(s[i]); i++)
                digits++;
        if (i < n && s[i] == '.')
                for (i++; i < n && is_digit(s[i]); i++)
                        digits++;
        if (digits == 0)
                return 0;
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                size_t j = i + 1, first;

                if (j < n && (s[j] == '+' || s[j] == '-'))
                        j++;
                for (first = j; j < n && is_digit(s[j]); j++)
                        ;
                if (j > first)
                        i = j;
        }
        return i;
}

/* s (n bytes) as a whole as a finite number, or NAN. */
static double parse_number(const char *s, size_t n) {
        char buf[64], *end;
        double v;

        if (n == 0 || n >= sizeof buf || number_span(s, n) != n)
                return NAN;
        memcpy(buf, s, n);
        buf[n] = 0;
        errno = 0;
        v = strtod(buf, &end);
        if (*end != 0 || errno != 0 || !isfinite(v))
                return NAN;
        return v;
}

/* The number a plugin's range is judged at: "10" (above 10), "10:" (below 10), "~:10", "5:10",
 * "@5:10" (inside). The upper bound where there is one, else the lower; NAN for none. */
static double parse_range(const char *s, size_t n) {
        const char *colon;

        if (n > 0 && s[0] == '@') {
                s++;
                n--;
        }
        colon = memchr(s, ':', n);
        if (colon) {
                const char *hi = colon + 1;
                size_t hn = n - (size_t) (hi - s);

                if (hn > 0 && !(hn == 1 && hi[0] == '~'))
                        return parse_number(hi, hn);
                n = (size_t) (colon - s);
        }
        if (n == 1 && s[0] == '~')
                return NAN;
        return parse_number(s, n);
}

typedef struct Perfdata {
        const char *raw;      /* the item as printed */
        size_t raw_size;
        double value;         /* NAN for "U" (undetermined) */
        double threshold;     /* crit, else warn; NAN: neither */
        char uom[EXEC_UOM_MAX];
} Perfdata;

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

/* The next ';'-separated field of [*i, end) of s; advances *i past the separator. */
static void next_field(const char *s, size_t *i, size_t end, size_t *ret_start, size_t *ret_size) {
        const char *semi = memchr(s + *i, ';', end - *i);
        size_t stop = semi ? (size_t) (semi - s) : end;

        *ret_start = *i;
        *ret_size = stop - *i;
        *i = semi ? stop + 1 : end;
}

/* The first item of performance data in perf (n bytes): label=value[UOM][;warn[;crit[;min[;max]]]],
 * the label in single quotes if it holds blanks or '=' (a quote in it doubled). False: none, or
 * not in that form. */
static bool perfdata_parse_first(const char *perf, size_t n, Perfdata *ret) {
        size_t i = 0, start, end, f, fn, k;
        Perfdata d = { .value = NAN, .threshold = NAN };
        double warn, crit;

        while (i < n && is_blank(perf[i]))
                i++;
        start = i;
        if (i < n && perf[i] == '\'') {
                for (i++;; i++) {
                        if (i >= n)
                                return false;
                        if (perf[i] != '\'')
                                continue;
                        if (i + 1 < n && perf[i + 1] == '\'') {
                                i++;
                                continue;
                        }
                        break;
                }
                if (i == start + 1)
                        return false;
                i++;
        } else {
                while (i < n && perf[i] != '=' && !is_blank(perf[i]))
                        i++;
                if (i == start)
                        return false;
        }
        if (i >= n || perf[i] != '=')
                return false;
        i++;
        for (end = i; end < n && !is_blank(perf[end]); end++)
                ;

        next_field(perf, &i, end, &f, &fn);
        if (fn == 1 && perf[f] == 'U')
                d.value = NAN;
        else {
                k = number_span(perf + f, fn);
                if (k == 0)
                        return false;
                d.value = parse_number(perf + f, k);
                if (isnan(d.value) || fn - k >= sizeof d.uom)
                        return false;
                for (size_t u = f + k; u < f + fn; u++)
                        if (!((perf[u] >= 'A' && perf[u] <= 'Z') || (perf[u] >= 'a' && perf[u] <= 'z') ||
                              perf[u] == '%'))
                                return false;
                memcpy(d.uom, perf + f + k, fn - k);
                d.uom[fn - k] = 0;
        }
        next_field(perf, &i, end, &f, &fn);
        warn = parse_range(perf + f, fn);
        next_field(perf, &i, end, &f, &fn);
        crit = parse_range(perf + f, fn);
        d.threshold = !isnan(crit) ? crit : warn;
        d.raw = perf + start;
        d.raw_size = end - start;
        *ret = d;
        return true;
}

/* Drops a UTF-8 sequence cut short at the end of buf[0..*len). */
static void utf8_trim_incomplete(const char *buf, size_t *len) {
        size_t l = *len, p = l, need;
        unsigned char lead;

        while (p > 0 && l - p < 4 && ((unsigned char) buf[p - 1] & 0xc0) == 0x80)
                p--;
        if (p == 0)
                return;
        lead = (unsigned char) buf[p - 1];
        need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
        if (l - (p - 1) < need)
                *len = p - 1;
}

/* Appends s (n bytes) to the string buf (of size bytes, *len used) with control characters as
 * \xNN, as far as it fits, never cutting an escape or a UTF-8 sequence. */
static void append_escaped(char *buf, size_t size, size_t *len, const char *s, size_t n) {
        size_t l = *len;
        bool cut = false;

        for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char) s[i];

                if (ch < 0x20 || ch == 0x7f) {
                        if (l + 4 >= size) {
                                cut = true;
                                break;
                        }
                        (void) snprintf(buf + l, 5, "\\x%02x", ch);
                        l += 4;
                } else {
                        if (l + 1 >= size) {
                                cut = true;
                                break;
                        }
                        buf[l++] = (char) ch;
                }
        }
        if (cut)
                utf8_trim_incomplete(buf, &l);
        buf[l] = 0;
        *len = l;
}

void probe_exec_judge(const ExecOutcome *o, ProbeResult *r) {
        const char *out = o->output ?: "", *bar;
        size_t line, text, len = 0;
        char sig[32];
        bool has_perf;
        Perfdata perf;

        assert(o->size <= PROBE_EXEC_OUTPUT_MAX);

        probe_result_init(r);
        line = probe_command_first_line(o);
        bar = memchr(out, '|', line);
        text = bar ? (size_t) (bar - out) : line;
        while (text > 0 && is_blank(out[text - 1]))
                text--;
        has_perf = bar && perfdata_parse_first(bar + 1, line - (size_t) (bar + 1 - out), &perf);

        if (o->code == CLD_EXITED && o->status >= 0 && (size_t) o->status < ELEMENTSOF(status_by_exit)) {
                r->status = status_by_exit[o->status];
                if (text == 0)
                        (void) snprintf(r->message, sizeof r->message, "no output");
                len = strlen(r->message);
        } else {
                r->status = PROBE_UNKNOWN;
                if (o->code == CLD_EXITED)
                        (void) snprintf(r->message, sizeof r->message, "unexpected exit status %d",
                                        o->status);
                else if (o->code == CLD_KILLED || o->code == CLD_DUMPED)
                        (void) snprintf(r->message, sizeof r->message, "killed by signal %s%s",
                                        probe_command_signal_name(o->status, sig, sizeof sig),
                                        o->code == CLD_DUMPED ? " (core dumped)" : "");
                else
                        (void) snprintf(r->message, sizeof r->message, "cannot tell how the command ended");
                len = strlen(r->message);
                if (text > 0 && len + 2 < sizeof r->message) {
                        memcpy(r->message + len, ": ", 3);
                        len += 2;
                }
        }
        append_escaped(r->message, sizeof r->message, &len, out, text);

        if (has_perf) {
                r->value = perf.value;
                r->threshold = perf.threshold;
        }

        probe_command_evidence(o, r);
        if (has_perf) {
                char first[EXEC_EVIDENCE_PERFDATA_MAX], raw[EXEC_EVIDENCE_PERFDATA_MAX], uom[EXEC_UOM_MAX * 6 + 3];

                (void) snprintf(first, sizeof first, "%.*s", (int) MIN(perf.raw_size, sizeof first - 1),
                                perf.raw);
                (void) json_escape(raw, sizeof raw, first);
                (void) json_escape(uom, sizeof uom, perf.uom);
                probe_result_evidence(r, "\"perfdata\":%s,\"uom\":%s", raw, uom);
        }
        if (o->truncated)
                probe_result_evidence(r, "\"output_truncated\":true");
}

/* ---- Running it ---- */

static void exec_done(ProbeCommand *cmd, const ProbeCommandOutcome *o, void *userdata) {
        ProbeCheck *c = userdata;
        ProbeResult r;

        probe_exec_judge(o, &r);
        probe_check_done(c, &r);
}

static void exec_cancel(ProbeCheck *c) {
        ExecState *s = c->state;

        probe_command_cancel(&s->command);
}

static void exec_reset(ProbeCheck *c, bool done) {
        ExecState *s = c->state;

        /* Nothing is learnt of a target between samples: only done has work to do. */
        if (done)
                probe_command_done(&s->command);
}

static int exec_check(ProbeCheck *c, const ProbeTarget *t, ProbeResult *ret) {
        const ExecSettings *set = c->settings;
        ExecState *s = c->state;

        return probe_command_sample(&s->command, c->env, t, set->argv, &set->user, exec_done, c, ret);
}

const ProbeOps probe_exec_ops = {
        .spec = {
                .kind = "exec",
                .keys = exec_keys,
                .n_keys = ELEMENTSOF(exec_keys),
                .settings_size = sizeof(ExecSettings),
                .settings_done = exec_settings_done,
                .check = exec_check_config,
                .scopes = PROBE_SCOPE_HOST | PROBE_SCOPE_INSTANCE,
                .threshold_units = 0,
                .default_every = 60 * USEC_PER_SEC,
                .default_timeout = 10 * USEC_PER_SEC,
        },
        .category = CATEGORY_TRANSIENT,
        .state_size = sizeof(ExecState),
        .timeout_status = PROBE_UNKNOWN,
        .check = exec_check,
        .cancel = exec_cancel,
        .reset = exec_reset,
};
