/* Leak detection for the resource kinds (probe-leak.c): the keys leak_window and
 * leak_min_rate, their checks, and a verdict from the trend of the samples (trend.h). The
 * memory and fds kinds embed ProbeLeakSettings in their settings and ProbeLeak in their state. */
#pragma once

#include "probe.h"
#include "trend.h"

/* leak_window must hold this many sampling intervals: a trend is judged on TREND_MIN_SAMPLES
 * or more samples spread over most of the window (trend.h asks for window / 16). */
#define PROBE_LEAK_INTERVALS_MIN 16U

typedef struct ProbeLeakSettings {
        usec_t window;              /* leak_window; 0: no leak detection */
        double min_rate;            /* leak_min_rate, per minute in the value's unit; 0: any growth */
} ProbeLeakSettings;

/* Per target: the samples of the window (allocated at the first sample) and the last fit. */
typedef struct ProbeLeak {
        TrendWindow *window;
        bool fitted;
        usec_t fitted_at;
        TrendFit fit;
} ProbeLeak;

/* Rows for a kind's key table; type's field `leak` is a ProbeLeakSettings. */
#define PROBE_LEAK_KEY_WINDOW(type) CONFIG_KEY_DURATION("leak_window", type, leak.window, 1, false)
#define PROBE_LEAK_KEY_MIN_RATE_SIZE(type)                                                       \
        CONFIG_KEY_AT("leak_min_rate", probe_leak_parse_min_rate_size, type, leak.min_rate)
#define PROBE_LEAK_KEY_MIN_RATE_COUNT(type)                                                      \
        CONFIG_KEY_AT("leak_min_rate", probe_leak_parse_min_rate_count, type, leak.min_rate)

/* leak_min_rate as a size per minute ("1M", or a number of bytes), or as a count per minute (a
 * number), into the double at k->offset. Problems are recorded in p (-EINVAL). */
int probe_leak_parse_min_rate_size(ConfigParser *p, const config_setting_t *s, const ConfigKey *k,
                                   void *settings);
int probe_leak_parse_min_rate_count(ConfigParser *p, const config_setting_t *s, const ConfigKey *k,
                                    void *settings);

/* The checks across keys, for a kind's spec->check: leak_min_rate needs leak_window, and
 * leak_window must be at least PROBE_LEAK_INTERVALS_MIN times every. */
int probe_leak_check_config(ConfigParser *p, const config_setting_t *g, const ProbeConfig *pc,
                            const ProbeLeakSettings *s);

/* Adds the sample (value at `at`) to l and, when the trend says the value leaks, raises r to
 * WARNING, or to CRITICAL when limit (> 0; 0: none known) is projected to be reached within
 * the window; the message gets "; leaking 1.2M/min..." (slope formatted in unit, followed by
 * noun: "" for sizes, " fds"), the evidence a "leak" object and the limit. limit_source names
 * the limit in the message ("limit", "memory.max"). The fit is redone once per point of the
 * window (window / (TREND_MAX_SAMPLES - 1)) at most: samples in between reuse it. Does
 * nothing when leak detection is off. -ENOMEM (at the first sample only). */
int probe_leak_judge(ProbeLeak *l, const ProbeLeakSettings *s, usec_t at, double value, double limit,
                     const char *limit_source, ThresholdUnit unit, const char *noun, ProbeResult *r);

/* Forgets the samples (a new process: its trend starts afresh); frees them when done. */
void probe_leak_reset(ProbeLeak *l, bool done);
