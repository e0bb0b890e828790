/* Leak detection over a time series: whether a value (memory, file descriptors, a queue's
 * length) has been growing steadily across a sliding window, at what rate, and when it would
 * reach a limit. A sawtooth that falls back, a one-time step to a new plateau, flat noise and
 * a decreasing series are not leaks. Pure: the caller passes the sample times; nothing here
 * reads a clock or logs, and only trend_window_new()/trend_window_free() touch the heap. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
#include "time-util.h"

/* At most this many points are kept per window: samples closer together than about
 * window / (TREND_MAX_SAMPLES - 1) are merged into one point (their mean time and value), so
 * a fit costs O(TREND_MAX_SAMPLES²) however fast the caller samples. */
#define TREND_MAX_SAMPLES 64

/* A fit is judged only with at least this many points spanning at least
 * TREND_COVERAGE_PERCENT of the window; sample at least every window / 16. */
#define TREND_MIN_SAMPLES 12
#define TREND_COVERAGE_PERCENT 80

/* A buffer of this size always holds trend_format_json()'s output. */
#define TREND_JSON_MAX 4096

typedef struct TrendWindow TrendWindow;

/* Allocates an empty window of `window` usec. Returns -EINVAL for a zero window, -ENOMEM.
 * The caller frees *ret with trend_window_free(). */
int trend_window_new(usec_t window, TrendWindow **ret);

/* Accepts NULL; returns NULL. */
TrendWindow *trend_window_free(TrendWindow *w);
static inline void trend_window_freep(TrendWindow **w) {
        trend_window_free(*w);
}

/* Forgets every sample, e.g. because the process was restarted and its counters start over. */
void trend_window_reset(TrendWindow *w);

/* Adds one sample taken at `at` (CLOCK_MONOTONIC). Samples older than `at - window` are
 * dropped. A sample older than the newest one, or a value that is not finite, is ignored:
 * the series stays ordered and every stored value can be printed as JSON. */
void trend_window_add(TrendWindow *w, usec_t at, double value);

typedef struct TrendFit {
        size_t n_samples;            /* points in the window (merged samples count once) */
        usec_t span;                 /* newest sample's time - oldest sample's time */
        double slope_per_sec;        /* Theil–Sen: the median of the pairwise slopes */
        double tau;                  /* Kendall's tau-b of value against time, -1..1 */
        double first, last;          /* the fitted line at the oldest and the newest point */
        bool judged;                 /* enough points covering enough of the window */
        bool growing;                /* judged, and a steady leak by the rules of trend.c */
        const char *reason;          /* static string: why growing is what it is; never NULL */
} TrendFit;

/* Fits the samples in the window. growing requires a slope of at least min_slope_per_sec
 * (0 or less: any positive slope). Always fills *ret; never allocates. */
void trend_window_fit(const TrendWindow *w, double min_slope_per_sec, TrendFit *ret);

double trend_fit_slope_per_min(const TrendFit *f) _pure_;

/* Usec until the fitted line reaches limit, counted from the newest point: USEC_INFINITY if
 * not growing (or too far to count), 0 if the fitted line is already at or above limit. */
usec_t trend_time_to_limit(const TrendFit *f, double limit) _pure_;

/* Writes the evidence of a fit as one JSON object into buf:
 *   {"samples":[[t_rel_sec,value],...],"slope_per_min":x,"tau":x,"projected_sec":x}
 * with at most TREND_MAX_SAMPLES samples, times in seconds since the oldest point and
 * projected_sec the time to limit (null when infinite). Returns the length written (without
 * the terminating NUL), or -ENOBUFS if it does not fit in size bytes, leaving buf an empty
 * string (if size > 0); TREND_JSON_MAX always suffices. */
int trend_format_json(const TrendWindow *w, const TrendFit *f, double limit, char *buf, size_t size);
