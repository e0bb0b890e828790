/* The queue probe: a backlog, from exactly one source, with thresholds on its depth (counts) and
 * on its growth (items per minute, fitted over growth_window by trend.h's Theil–Sen detector,
 * so that a burst that drains is not growth). Sources: a spool directory (its entries other
 * than . and .., counted without sorting or a stat per entry, at most max_count, and at most
 * QUEUE_SPOOL_BATCH per loop iteration from an idle-priority defer source, so that a huge
 * spool never holds the loop), the worker's own X_VIGIL_QUEUE= reports, or the number a
 * command prints first (run by probe-command.c, which owns the process; this file only reads
 * the outcome). Non-logging; never blocks. */

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "config.h"
#include "escape.h"
#include "parse-util.h"
#include "probe-queue.h"
#include "strv.h"

#define QUEUE_DEFAULT_MAX_COUNT 1000000U
#define QUEUE_MAX_COUNT_MAX 100000000U
#define QUEUE_DEFAULT_GROWTH_WINDOW (5 * USEC_PER_MINUTE)
#define QUEUE_SPOOL_BATCH 4096U
/* A notify report older than this many intervals says nothing about the backlog now. */
#define QUEUE_REPORT_STALE_EVERY 3U
/* How much of a command's first line a message shows, escaped (the message is cut anyway). */
#define QUEUE_OUTPUT_SHOWN_MAX 256U

typedef struct QueueSettings {
        char *spool;
        bool notify;                 /* source = "notify" */
        char **command;              /* argv of the command that prints the depth */
        ConfigUser user;             /* the command's; no name: the target's, else vigild's */
        unsigned max_count;
        Threshold growth_warning;
        Threshold growth_critical;
        usec_t growth_window;
} QueueSettings;

typedef struct QueueState {
        TrendWindow *trend;          /* NULL until the first sample, or without growth thresholds */
        /* A spool count under way (check() returned 1). */
        bool counting;
        DIR *dir;
        sd_event_source *source;
        uint64_t count;
        /* The command under way, or on its way out; allocated at the first command sample, so
         * that the other sources do not carry its output buffer. */
        ProbeCommand *command;
} QueueState;

static void queue_settings_init(void *settings) {
        QueueSettings *s = settings;

        s->max_count = QUEUE_DEFAULT_MAX_COUNT;
        s->growth_window = QUEUE_DEFAULT_GROWTH_WINDOW;
}

static void queue_settings_done(void *settings) {
        QueueSettings *s = settings;

        s->spool = mfree(s->spool);
        s->command = strv_free(s->command);
        config_user_done(&s->user);
}

static int parse_source(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *settings) {
        QueueSettings *qs = settings;
        const char *v = NULL;
        int r;

        r = config_keys_expect_string(p, s, "a string", &v);
        if (r < 0)
                return r;
        if (!streq(v, "notify"))
                return config_keys_fail(p, s,
                                        "invalid source \"%s\" (expected \"notify\"; a spool directory is "
                                        "spool = \"/path\")",
                                        v);
        qs->notify = true;
        return 0;
}

static const ConfigKey queue_keys[] = {
        CONFIG_KEY_PATH("spool", QueueSettings, spool),
        CONFIG_KEY("source", parse_source),
        CONFIG_KEY_ARGV("command", QueueSettings, command, CONFIG_ARGV_MAX,
                        "[ \"/usr/local/bin/outbox-depth\", \"--queue\", \"mail\" ]"),
        CONFIG_KEY_AT("user", config_user_parse, QueueSettings, user),
        CONFIG_KEY_UINT("max_count", QueueSettings, max_count, 1, QUEUE_MAX_COUNT_MAX),
        CONFIG_KEY_THRESHOLD("growth_warning", QueueSettings, growth_warning, THRESHOLD_COUNT),
        CONFIG_KEY_THRESHOLD("growth_critical", QueueSettings, growth_critical, THRESHOLD_COUNT),
        CONFIG_KEY_DURATION("growth_window", QueueSettings, growth_window, 1, false),
};

static bool has_growth(const QueueSettings *s) {
        return s->growth_warning.set || s->growth_critical.set;
}

static int queue_check_config(ConfigParser *p, const config_setting_t *g, const ProbeConfig *pc,
                              bool cgroups_off) {
        const QueueSettings *s = pc->settings;
        char a[FORMAT_DURATION_MAX], b[FORMAT_DURATION_MAX];

        if (!s->spool && !s->notify && !s->command)
                return config_keys_fail(p, g,
                                        "missing the queue's source: spool = \"/path\", source = \"notify\" "
                                        "or command = [ \"/path\", ... ]");
        if (!!s->spool + s->notify + !!s->command > 1)
                return config_keys_fail(p, config_setting_get_member(g, s->notify ? "source" : "command"),
                                        "a queue probe has one source: spool, source or command, not more");
        if (s->notify && pc->host)
                return config_keys_fail(
                        p, config_setting_get_member(g, "source"),
                        "source = \"notify\" reads a worker's X_VIGIL_QUEUE=: put the probe in the "
                        "worker's probes");
        if (!s->spool && config_setting_get_member(g, "max_count"))
                return config_keys_fail(p, config_setting_get_member(g, "max_count"),
                                        "has no use without spool");
        if (!s->command && config_setting_get_member(g, "user"))
                return config_keys_fail(p, config_setting_get_member(g, "user"), "has no use without command");
        if (!pc->warning.set && !pc->critical.set && !has_growth(s))
                return config_keys_fail(p, g, "a queue probe needs warning, critical, growth_warning or "
                                        "growth_critical");
        if (s->spool) {
                const char *names[] = { "warning", "critical" };
                const Threshold *t[] = { &pc->warning, &pc->critical };

                for (size_t i = 0; i < ELEMENTSOF(t); i++)
                        if (t[i]->set && t[i]->value >= (double) s->max_count)
                                return config_keys_fail(
                                        p, config_setting_get_member(g, names[i]),
                                        "must be below max_count (%u): a spool is counted up "
                                        "to max_count only",
                                        s->max_count);
        }
        if (s->growth_warning.set && s->growth_critical.set &&
            s->growth_warning.value > s->growth_critical.value)
                return config_keys_fail(p, config_setting_get_member(g, "growth_warning"),
                                        "must be at or below growth_critical");
        if (!has_growth(s) && config_setting_get_member(g, "growth_window"))
                return config_keys_fail(p, config_setting_get_member(g, "growth_window"),
                                        "has no use without growth_warning or growth_critical");
        /* The trend is judged only on TREND_MIN_SAMPLES points covering most of the window. */
        if (has_growth(s) && pc->every > s->growth_window / 16)
                return config_keys_fail(p, config_setting_get_member(g, "growth_window") ?: g,
                                        "growth_window (%s) is too short for every (%s): a growth is fitted "
                                        "over at least 16 samples",
                                        format_duration(a, sizeof a, s->growth_window),
                                        format_duration(b, sizeof b, pc->every));
        return 0;
}

/* The source, JSON-escaped for the evidence, and the depth read. */
static void source_evidence(const QueueSettings *s, const QueueReading *q, ProbeResult *r) {
        char path[PATH_MAX * 2 + 3];

        if (s->spool) {
                (void) json_escape(path, sizeof path, s->spool);
                probe_result_evidence(r, "\"source\":\"spool\",\"spool\":%s,\"max_count\":%u", path,
                                      s->max_count);
        } else if (s->command) {
                (void) json_escape(path, sizeof path, s->command[0]);
                probe_result_evidence(r, "\"source\":\"command\",\"command\":%s", path);
        } else
                probe_result_evidence(r, "\"source\":\"notify\"");
        if (q->present)
                probe_result_evidence(r, "\"depth\":%" PRIu64 ",\"bounded\":%s", q->depth,
                                      q->bounded ? "true" : "false");
}

void probe_queue_judge(const ProbeConfig *pc, TrendWindow *trend, const QueueReading *q, usec_t now,
                       ProbeResult *r) {
        const QueueSettings *s = pc->settings;
        char depth[48], where[PATH_MAX + 32], d[FORMAT_DURATION_MAX], trend_json[TREND_JSON_MAX];
        double min_slope, limit;
        ProbeResult growth;
        TrendFit fit;

        source_evidence(s, q, r);
        if (!q->present) {
                r->no_verdict = true;
                probe_result_message(r, "no X_VIGIL_QUEUE= reported yet");
                return;
        }
        if (q->stale) {
                r->status = PROBE_UNKNOWN;
                probe_result_message(r, "no X_VIGIL_QUEUE= for %s (the last said %" PRIu64 ")",
                                     format_duration_approx(d, sizeof d, q->report_age, USEC_PER_SEC),
                                     q->depth);
                return;
        }

        (void) snprintf(depth, sizeof depth, "%s%" PRIu64, q->bounded ? ">= " : "", q->depth);
        if (s->spool)
                (void) snprintf(where, sizeof where, "spool %s%s", s->spool,
                                q->bounded ? ", counted up to max_count" : "");
        else if (s->command)
                (void) snprintf(where, sizeof where, "command %s", s->command[0]);
        else
                (void) snprintf(where, sizeof where, "X_VIGIL_QUEUE=");
        probe_result_judge(r, pc, (double) q->depth, NAN);
        probe_result_message(r, "queue depth %s (%s)", depth, where);
        if (!trend)
                return;

        /* The growth: the lowest threshold set is the slope below which nothing is growth. */
        trend_window_add(trend, now, (double) q->depth);
        min_slope = (s->growth_warning.set ? s->growth_warning.value : s->growth_critical.value) / 60.0;
        trend_window_fit(trend, min_slope, &fit);
        limit = pc->critical.set ? pc->critical.value : pc->warning.set ? pc->warning.value : INFINITY;
        if (trend_format_json(trend, &fit, limit, trend_json, sizeof trend_json) >= 0)
                probe_result_evidence(r, "\"growth\":%s", trend_json);
        probe_result_evidence(r, "\"growth_judged\":%s,\"growth_reason\":\"%s\"",
                              fit.judged ? "true" : "false", fit.reason);
        if (!fit.growing)
                return;

        probe_result_init(&growth);
        growth.value = trend_fit_slope_per_min(&fit);
        /* At or above, as trend_window_fit() takes its minimum slope. */
        if (s->growth_critical.set && growth.value >= s->growth_critical.value) {
                growth.status = PROBE_CRITICAL;
                growth.threshold = s->growth_critical.value;
        } else if (s->growth_warning.set && growth.value >= s->growth_warning.value) {
                growth.status = PROBE_WARNING;
                growth.threshold = s->growth_warning.value;
        }
        if (growth.status > r->status) {
                r->status = growth.status;
                r->value = growth.value;
                r->threshold = growth.threshold;
                probe_result_message(
                        r, "queue growing by %.4g/min over the last %s (depth %s, %s)", growth.value,
                        format_duration_approx(d, sizeof d, fit.span, USEC_PER_SEC), depth, where);
        }
}

/* ---- The command source ---- */

int probe_queue_parse_depth(const char *line, size_t n, uint64_t *ret_depth) {
        uint64_t v = 0;
        size_t i = 0, start;

        while (i < n && (line[i] == ' ' || line[i] == '\t'))
                i++;
        for (start = i; i < n && line[i] >= '0' && line[i] <= '9'; i++) {
                unsigned digit = (unsigned) (line[i] - '0');

                if (v > (UINT64_MAX - digit) / 10)
                        return -ERANGE;
                v = v * 10 + digit;
        }
        /* "3.5", "1,200" or "12abc" must not read as 3, 1 or 12. */
        if (i == start || (i < n && line[i] != ' ' && line[i] != '\t'))
                return -EINVAL;
        *ret_depth = v;
        return 0;
}

void probe_queue_judge_command(const ProbeConfig *pc, TrendWindow *trend, const ProbeCommandOutcome *o,
                               usec_t now, ProbeResult *r) {
        const QueueSettings *s = pc->settings;
        const char *line = o->output ?: "";
        size_t n = probe_command_first_line(o);
        char buf[QUEUE_OUTPUT_SHOWN_MAX], shown[QUEUE_OUTPUT_SHOWN_MAX], sig[32];
        uint64_t depth = 0;
        int k = -EINVAL;

        (void) snprintf(buf, sizeof buf, "%.*s", (int) MIN(n, sizeof buf - 1), line);
        (void) json_escape(shown, sizeof shown, buf);
        if (o->code == CLD_EXITED && o->status == 0)
                k = probe_queue_parse_depth(line, n, &depth);
        if (k >= 0) {
                probe_queue_judge(pc, trend, &(QueueReading) { .present = true, .depth = depth }, now, r);
                probe_command_evidence(o, r);
                return;
        }

        r->status = PROBE_UNKNOWN;
        if (o->code == CLD_EXITED && o->status != 0)
                probe_result_message(r, "queue command %s exited with status %d%s%s", s->command[0], o->status,
                                     n > 0 ? ": " : "", n > 0 ? shown : "");
        else if (o->code == CLD_KILLED || o->code == CLD_DUMPED)
                probe_result_message(r, "queue command %s killed by signal %s%s", s->command[0],
                                     probe_command_signal_name(o->status, sig, sizeof sig),
                                     o->code == CLD_DUMPED ? " (core dumped)" : "");
        else if (o->code != CLD_EXITED)
                probe_result_message(r, "cannot tell how queue command %s ended", s->command[0]);
        else if (n == 0)
                probe_result_message(r, "queue command %s printed no depth: its first line is empty",
                                     s->command[0]);
        else
                probe_result_message(r, "queue command %s printed no depth%s: %s", s->command[0],
                                     k == -ERANGE ? " (out of range)" : "", shown);
        source_evidence(s, &(QueueReading) {}, r);
        probe_command_evidence(o, r);
}

static void on_command_done(ProbeCommand *cmd, const ProbeCommandOutcome *o, void *userdata) {
        ProbeCheck *c = userdata;
        QueueState *st = c->state;
        ProbeResult r;

        probe_result_init(&r);
        probe_queue_judge_command(c->config, st->trend, o, now(CLOCK_MONOTONIC), &r);
        probe_check_done(c, &r);
}

static int check_command(ProbeCheck *c, const ProbeTarget *t, ProbeResult *ret) {
        const QueueSettings *s = c->settings;
        QueueState *st = c->state;

        if (!st->command) {
                st->command = calloc(1, sizeof(ProbeCommand));
                if (!st->command)
                        return -ENOMEM;
        }
        return probe_command_sample(st->command, c->env, t, s->command, &s->user, on_command_done, c, ret);
}

/* ---- The spool source ---- */

static void count_stop(QueueState *st) {
        if (!st->counting)
                return;
        st->source = sd_event_source_disable_unref(st->source);
        if (st->dir)
                (void) closedir(st->dir);
        st->dir = NULL;
        st->counting = false;
}

/* Counts up to QUEUE_SPOOL_BATCH more entries. 1: more to come; 0: done (*ret_bounded set when
 * max_count was reached); -errno. */
static int count_batch(QueueState *st, unsigned max_count, bool *ret_bounded) {
        for (unsigned n = 0; n < QUEUE_SPOOL_BATCH; n++) {
                struct dirent *de;

                errno = 0;
                de = readdir(st->dir);
                if (!de) {
                        if (errno != 0)
                                return -errno;
                        *ret_bounded = false;
                        return 0;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (++st->count >= max_count) {
                        *ret_bounded = true;
                        return 0;
                }
        }
        return 1;
}

static void judge_spool(ProbeCheck *c, bool bounded, ProbeResult *ret) {
        QueueState *st = c->state;
        QueueReading q = { .present = true, .depth = st->count, .bounded = bounded };

        probe_queue_judge(c->config, st->trend, &q, now(CLOCK_MONOTONIC), ret);
}

static int on_count(sd_event_source *source, void *userdata) {
        ProbeCheck *c = userdata;
        QueueState *st = c->state;
        const QueueSettings *s = c->settings;
        bool bounded = false;
        ProbeResult r;
        int k;

        k = count_batch(st, s->max_count, &bounded);
        if (k > 0)
                return 0;
        count_stop(st);
        probe_result_init(&r);
        if (k < 0) {
                r.status = PROBE_UNKNOWN;
                probe_result_message(&r, "queue probe cannot run: %s: %s", s->spool, strerror(-k));
        } else
                judge_spool(c, bounded, &r);
        probe_check_done(c, &r);
        return 0;
}

static int check_spool(ProbeCheck *c, ProbeResult *ret) {
        QueueState *st = c->state;
        const QueueSettings *s = c->settings;
        bool bounded = false;
        int fd, k;

        fd = open(s->spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
                k = -errno;
                goto fail;
        }
        st->dir = fdopendir(fd);
        if (!st->dir) {
                k = -errno;
                (void) close(fd);
                goto fail;
        }
        st->counting = true;
        st->count = 0;

        /* Most spools are small: answer at once when one batch does. */
        k = count_batch(st, s->max_count, &bounded);
        if (k < 0) {
                count_stop(st);
                goto fail;
        }
        if (k == 0) {
                count_stop(st);
                judge_spool(c, bounded, ret);
                return 0;
        }
        if (!c->env || !c->env->event) {
                count_stop(st);
                return -EOPNOTSUPP;
        }
        k = sd_event_add_defer(c->env->event, &st->source, on_count, c);
        if (k >= 0) {
                (void) sd_event_source_set_description(st->source, "probe-queue-count");
                (void) sd_event_source_set_priority(st->source, SD_EVENT_PRIORITY_IDLE);
                k = sd_event_source_set_enabled(st->source, SD_EVENT_ON);
        }
        if (k < 0) {
                count_stop(st);
                return k;
        }
        return 1;

fail:
        /* Said with the path: "No such file or directory" alone does not say which. */
        ret->status = PROBE_UNKNOWN;
        probe_result_message(ret, "queue probe cannot run: %s: %s", s->spool, strerror(-k));
        return 0;
}

static int queue_check(ProbeCheck *c, const ProbeTarget *t, ProbeResult *ret) {
        QueueState *st = c->state;
        const QueueSettings *s = c->settings;
        const ProbeReports *rep = t->reports;
        usec_t n = now(CLOCK_MONOTONIC);
        QueueReading q = {};
        int k;

        if (has_growth(s) && !st->trend) {
                k = trend_window_new(s->growth_window, &st->trend);
                if (k < 0)
                        return k;
        }
        if (s->spool)
                return check_spool(c, ret);
        if (s->command)
                return check_command(c, t, ret);

        if (!rep)
                return -EOPNOTSUPP;    /* refused by the config check: the host reports nothing */
        if (rep->has_queue) {
                q.present = true;
                q.depth = rep->queue;
                q.report_age = usec_sub_unsigned(n, rep->queue_at);
                q.stale = q.report_age > QUEUE_REPORT_STALE_EVERY * c->config->every;
        }
        probe_queue_judge(c->config, st->trend, &q, n, ret);
        return 0;
}

static void queue_cancel(ProbeCheck *c) {
        QueueState *st = c->state;

        count_stop(st);
        probe_command_cancel(st->command);
}

static void queue_reset(ProbeCheck *c, bool done) {
        QueueState *st = c->state;
        const QueueSettings *s = c->settings;

        if (done) {
                count_stop(st);
                probe_command_done(st->command);
                st->command = mfree(st->command);
                st->trend = trend_window_free(st->trend);
                return;
        }
        /* A new process starts its own backlog; a spool outlives the process, and so does what
         * a command reads (a broker's queue, a table). */
        if (s->notify && st->trend)
                trend_window_reset(st->trend);
}

const ProbeOps probe_queue_ops = {
        .spec = {
                .kind = "queue",
                .keys = queue_keys,
                .n_keys = ELEMENTSOF(queue_keys),
                .settings_size = sizeof(QueueSettings),
                .settings_init = queue_settings_init,
                .settings_done = queue_settings_done,
                .check = queue_check_config,
                .scopes = PROBE_SCOPE_HOST | PROBE_SCOPE_INSTANCE,
                .threshold_units = THRESHOLD_COUNT,
                .default_every = 10 * USEC_PER_SEC,
                .default_timeout = 5 * USEC_PER_SEC,
        },
        .category = CATEGORY_RESOURCE,
        .state_size = sizeof(QueueState),
        .timeout_status = PROBE_UNKNOWN,
        .check = queue_check,
        .cancel = queue_cancel,
        .reset = queue_reset,
};
