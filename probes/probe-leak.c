/* Leak detection shared by the memory and fds kinds: the leak_window and leak_min_rate keys,
 * and the step from a sample to a verdict. The judgement itself (a steady rise, not a
 * sawtooth, a step or noise) is trend.c's; here it becomes a status (WARNING, CRITICAL when
 * the limit is near), a message and evidence. The window is allocated once per target, and
 * refitted at most once per point it keeps, so that fast sampling does not multiply the cost
 * of the O(n²) fit. Non-logging; never blocks. */

#include <stdio.h>
#include <string.h>

#include "parse-util.h"
#include "probe-leak.h"

int probe_leak_parse_min_rate_size(ConfigParser *p, const config_setting_t *s, const ConfigKey *k,
                                   void *settings) {
        uint64_t bytes;

        if (config_keys_is_int(s)) {
                int64_t v = config_setting_get_int64(s);

                if (v < 0)
                        return config_keys_fail(p, s, "must not be negative");
                *CONFIG_KEY_FIELD(settings, k, double) = (double) v;
                return 0;
        }
        if (config_setting_type(s) != CONFIG_TYPE_STRING)
                return config_keys_fail(p, s, "expected a size per minute such as \"1M\", got %s",
                                        config_keys_type_name(s));
        if (parse_size(config_setting_get_string(s), &bytes) < 0)
                return config_keys_fail(p, s,
                                        "invalid size \"%s\": expected a size per minute such as \"1M\"",
                                        config_setting_get_string(s));
        *CONFIG_KEY_FIELD(settings, k, double) = (double) bytes;
        return 0;
}

int probe_leak_parse_min_rate_count(ConfigParser *p, const config_setting_t *s, const ConfigKey *k,
                                    void *settings) {
        int64_t v;
        int r;

        if (!config_keys_is_int(s))
                return config_keys_fail(p, s, "expected a number per minute such as 10, got %s",
                                        config_keys_type_name(s));
        r = config_keys_expect_int(p, s, 0, INT64_MAX, &v);
        if (r < 0)
                return r;
        *CONFIG_KEY_FIELD(settings, k, double) = (double) v;
        return 0;
}

int probe_leak_check_config(ConfigParser *p, const config_setting_t *g, const ProbeConfig *pc,
                            const ProbeLeakSettings *s) {
        char w[FORMAT_DURATION_MAX], e[FORMAT_DURATION_MAX];

        if (s->window == 0) {
                if (config_setting_get_member(g, "leak_min_rate"))
                        return config_keys_fail(
                                p, config_setting_get_member(g, "leak_min_rate"),
                                "leak_min_rate needs leak_window (leak detection is off without it)");
                return 0;
        }
        if (s->window / PROBE_LEAK_INTERVALS_MIN < pc->every)
                return config_keys_fail(
                        p, config_setting_get_member(g, "leak_window"),
                        "leak_window (%s) must be at least %u times every (%s): a trend is judged "
                        "on %u samples or more spread over the window",
                        format_duration(w, sizeof w, s->window), PROBE_LEAK_INTERVALS_MIN,
                        format_duration(e, sizeof e, pc->every), TREND_MIN_SAMPLES);
        return 0;
}

/* Samples closer than this join one point of the window (as in trend.c): no new fit before. */
static usec_t leak_bucket(usec_t window) {
        return window / (TREND_MAX_SAMPLES - 1) + (window % (TREND_MAX_SAMPLES - 1) != 0);
}

int probe_leak_judge(ProbeLeak *l, const ProbeLeakSettings *s, usec_t at, double value, double limit,
                     const char *limit_source, ThresholdUnit unit, const char *noun, ProbeResult *r) {
        char slope[THRESHOLD_FORMAT_MAX], lim[THRESHOLD_FORMAT_MAX], when[FORMAT_DURATION_MAX],
                json[TREND_JSON_MAX], msg[PROBE_MESSAGE_MAX], projected[32] = "null";
        double per_min;
        usec_t to_limit;
        ProbeStatus status;
        int k;

        if (s->window == 0)
                return 0;
        if (!l->window) {
                k = trend_window_new(s->window, &l->window);
                if (k < 0)
                        return k;
        }
        trend_window_add(l->window, at, value);
        if (!l->fitted || at < l->fitted_at || at - l->fitted_at >= leak_bucket(s->window)) {
                trend_window_fit(l->window, s->min_rate / 60.0, &l->fit);
                l->fitted = true;
                l->fitted_at = at;
        }
        if (!l->fit.growing)
                return 0;

        per_min = trend_fit_slope_per_min(&l->fit);
        to_limit = limit > 0 ? trend_time_to_limit(&l->fit, limit) : USEC_INFINITY;
        status = limit > 0 && to_limit < s->window ? PROBE_CRITICAL : PROBE_WARNING;

        (void) probe_format_value(slope, sizeof slope, per_min, unit);
        if (limit <= 0)
                (void) snprintf(msg, sizeof msg, "leaking %s%s/min, no limit known", slope, noun);
        else if (to_limit == 0)
                (void) snprintf(msg, sizeof msg, "leaking %s%s/min, at the %s (%s) already", slope, noun,
                                limit_source, probe_format_value(lim, sizeof lim, limit, unit));
        else if (to_limit == USEC_INFINITY)
                (void) snprintf(msg, sizeof msg, "leaking %s%s/min, %s (%s) beyond reach", slope, noun,
                                limit_source, probe_format_value(lim, sizeof lim, limit, unit));
        else
                (void) snprintf(msg, sizeof msg, "leaking %s%s/min, %s (%s) reached in ~%s", slope, noun,
                                limit_source, probe_format_value(lim, sizeof lim, limit, unit),
                                format_duration_approx(when, sizeof when, to_limit, USEC_PER_SEC));

        if (r->status == PROBE_UNKNOWN || status > r->status) {
                r->status = status;
                r->threshold = limit > 0 ? limit : NAN;
        }
        if (r->message[0]) {
                char base[PROBE_MESSAGE_MAX];

                memcpy(base, r->message, sizeof base);
                probe_result_message(r, "%s; %s", base, msg);
        } else
                probe_result_message(r, "%s", msg);

        /* The samples themselves when they fit, the fit alone otherwise. */
        if (trend_format_json(l->window, &l->fit, limit > 0 ? limit : INFINITY, json, sizeof json) >= 0)
                probe_result_evidence(r, "\"leak\":%s", json);
        if (!strstr(r->evidence, "\"leak\":")) {
                if (to_limit != USEC_INFINITY)
                        (void) snprintf(projected, sizeof projected, "%.3f",
                                        (double) to_limit / USEC_PER_SEC);
                probe_result_evidence(r,
                                      "\"leak\":{\"slope_per_min\":%.10g,\"tau\":%.4f,\"projected_sec\":%s}",
                                      per_min, l->fit.tau, projected);
        }
        if (limit > 0)
                probe_result_evidence(r, "\"leak_limit\":%.0f,\"leak_limit_source\":\"%s\"", limit,
                                      limit_source);
        return 0;
}

void probe_leak_reset(ProbeLeak *l, bool done) {
        if (done)
                l->window = trend_window_free(l->window);
        else if (l->window)
                trend_window_reset(l->window);
        l->fitted = false;
        l->fitted_at = 0;
}
