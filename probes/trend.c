/* The leak detector of trend.h. A window owns a fixed ring of at most TREND_MAX_SAMPLES
 * points and nothing else; a fit works on the stack, so it never allocates, never logs and
 * never reads a clock. Slope, tau and levels are rank-based (Theil–Sen, Kendall, medians), so
 * no single wild sample can make a leak; one can at most delay a verdict by looking like a
 * release, which errs on the side of not restarting anything. A positive slope, tau and growth
 * in the later thirds of the window still let some sawtooths and noisy steps through, hence two
 * more rules: no fall back within the window, and no single step that fits the samples as well
 * as the line. See the comment above trend_window_fit(). */
#include <math.h>
#include <stdarg.h>

#include "trend.h"

/* A fitted line must reach this Kendall's tau: pairs of samples that go up outnumber those
 * that go down three to one. Uniform noise of half the growth over the window still gives
 * about 0.7; a step in the middle of the window gives at most 0.5. */
#define MIN_TAU 0.5

/* The growth over the window must exceed this many noise sigmas. */
#define MIN_GROWTH_SIGMAS 3.0

/* A fall from one sample to a later one is a release when it exceeds half the growth over the
 * window and this many noise sigmas. Among the ~2000 pairs of a full window, noise alone
 * reaches 5 sigmas now and then; a sawtooth's fall is its whole amplitude. */
#define RELEASE_SIGMAS 6.0

/* Each third of the window must grow at least this fraction of the overall slope: enough to
 * tell a flat third from a growing one, little enough that noise seldom hides growth. */
#define MIN_THIRD_FRACTION 0.2

/* The largest number of pairs among TREND_MAX_SAMPLES points. */
#define MAX_PAIRS (TREND_MAX_SAMPLES * (TREND_MAX_SAMPLES - 1) / 2)

/* One point: a sample, or the samples merged into it. Its value is their mean rather than the
 * last of them, so that sampling faster averages the noise away instead of being thrown away;
 * its time is the mean of their times, kept as an offset from the first one so that it stays
 * exact however many samples the point holds. */
typedef struct TrendPoint {
        usec_t start;          /* time of the first sample merged into this point */
        double offset;         /* mean time of its samples - start, in usec */
        double value;          /* mean value of its samples */
        uint64_t n_merged;
} TrendPoint;

struct TrendWindow {
        usec_t window;
        usec_t bucket;         /* samples less than this apart from a point's start join it */
        usec_t newest;         /* time of the newest sample added */
        size_t head;           /* index of the oldest point */
        size_t n;
        TrendPoint points[TREND_MAX_SAMPLES];
};

int trend_window_new(usec_t window, TrendWindow **ret) {
        TrendWindow *w;

        assert(ret);

        if (window == 0)
                return -EINVAL;

        w = calloc(1, sizeof(TrendWindow));
        if (!w)
                return -ENOMEM;
        w->window = window;
        /* Point starts are at least one bucket apart, so a window of this many buckets holds
         * at most TREND_MAX_SAMPLES of them. */
        w->bucket = window / (TREND_MAX_SAMPLES - 1) + (window % (TREND_MAX_SAMPLES - 1) != 0);

        *ret = w;
        return 0;
}

TrendWindow *trend_window_free(TrendWindow *w) {
        return mfree(w);
}

void trend_window_reset(TrendWindow *w) {
        assert(w);

        w->head = 0;
        w->n = 0;
        w->newest = 0;
}

static const TrendPoint *trend_point(const TrendWindow *w, size_t i) {
        return &w->points[(w->head + i) % TREND_MAX_SAMPLES];
}

static usec_t trend_point_time(const TrendPoint *p) {
        return p->start + (usec_t) llround(p->offset);
}

void trend_window_add(TrendWindow *w, usec_t at, double value) {
        TrendPoint *p;
        usec_t cutoff;

        assert(w);

        if (!isfinite(value))
                return;
        if (w->n > 0 && at < w->newest)
                return;
        w->newest = at;

        /* A point leaves with its first sample, so that every sample in the window is at most
         * one window old and the span is what the samples cover. */
        cutoff = usec_sub_unsigned(at, w->window);
        while (w->n > 0 && trend_point(w, 0)->start < cutoff) {
                w->head = (w->head + 1) % TREND_MAX_SAMPLES;
                w->n--;
        }

        p = w->n > 0 ? &w->points[(w->head + w->n - 1) % TREND_MAX_SAMPLES] : NULL;
        if (p && at - p->start < w->bucket) {
                /* Running means: no sum that could overflow or lose the small terms. */
                p->n_merged++;
                p->offset += ((double) (at - p->start) - p->offset) / (double) p->n_merged;
                p->value += (value - p->value) / (double) p->n_merged;
                return;
        }

        /* The remaining starts lie within [at - window, at - bucket], at least a bucket apart:
         * at most window / bucket <= TREND_MAX_SAMPLES - 1 of them. */
        assert(w->n < TREND_MAX_SAMPLES);
        w->points[(w->head + w->n) % TREND_MAX_SAMPLES] = (TrendPoint) {
                .start = at,
                .value = value,
                .n_merged = 1,
        };
        w->n++;
}

/* The span a judged fit needs: TREND_COVERAGE_PERCENT of the window, without overflow. */
static usec_t trend_window_coverage(const TrendWindow *w) {
        return w->window / 100 * TREND_COVERAGE_PERCENT + w->window % 100 * TREND_COVERAGE_PERCENT / 100;
}

/* The k-th smallest of a[0..n-1] (k < n), by Hoare's selection: a is reordered so that
 * a[0..k-1] <= a[k] <= a[k+1..n-1]. Average O(n), no allocation, unlike qsort(), which glibc
 * may implement with a malloc()ed buffer. */
static double select_kth(double *a, size_t n, size_t k) {
        ptrdiff_t lo = 0, hi = (ptrdiff_t) n - 1;

        assert(k < n);

        while (lo < hi) {
                double pivot = a[k];
                ptrdiff_t i = lo, j = hi;

                do {
                        while (a[i] < pivot)
                                i++;
                        while (pivot < a[j])
                                j--;
                        if (i <= j) {
                                double t = a[i];

                                a[i] = a[j];
                                a[j] = t;
                                i++;
                                j--;
                        }
                } while (i <= j);
                if (j < (ptrdiff_t) k)
                        lo = i;
                if ((ptrdiff_t) k < i)
                        hi = j;
        }
        return a[k];
}

/* The median of a[0..n-1] (n > 0); reorders a. */
static double median(double *a, size_t n) {
        double lower, upper;

        assert(n > 0);

        upper = select_kth(a, n, n / 2);
        if (n % 2 == 1)
                return upper;
        /* Everything before n/2 is <= upper now: the lower middle is their maximum. */
        lower = a[0];
        for (size_t i = 1; i < n / 2; i++)
                lower = MAX(lower, a[i]);
        return lower / 2 + upper / 2;
}

/* The Theil–Sen slope of points [from, to) (at least two), using scratch for the pairs. */
static double theil_sen(const double *x, const double *y, size_t from, size_t to, double *scratch) {
        size_t m = 0;

        assert(to - from >= 2);

        for (size_t i = from; i < to; i++)
                for (size_t j = i + 1; j < to; j++)
                        if (x[j] > x[i])
                                scratch[m++] = (y[j] - y[i]) / (x[j] - x[i]);
        return m > 0 ? median(scratch, m) : 0;
}

/* Kendall's tau-b of y against its index: times strictly increase, so only ties in value
 * need correcting, and an integer series that stays on a level for a while (a file
 * descriptor count) is not penalised for it. */
static double kendall_tau(const double *y, size_t n) {
        double pairs = (double) n * (double) (n - 1) / 2, ties = 0, s = 0;

        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n; j++) {
                        if (y[j] > y[i])
                                s++;
                        else if (y[j] < y[i])
                                s--;
                        else
                                ties++;
                }
        if (pairs - ties <= 0)
                return 0;
        return s / sqrt(pairs * (pairs - ties));
}

/* A robust sigma of the noise on each sample, from the spread of the differences between
 * neighbours (their MAD, scaled to a normal sigma, over √2 since each difference holds two
 * samples' noise). Unlike the spread of the residuals around the line, it is not inflated by
 * a sawtooth's drop or a step, which are single large differences among many small ones. */
static double local_sigma(const double *y, size_t n, double *scratch) {
        double m;

        assert(n >= 2);

        for (size_t i = 0; i + 1 < n; i++)
                scratch[i] = y[i + 1] - y[i];
        m = median(scratch, n - 1);
        for (size_t i = 0; i + 1 < n; i++)
                scratch[i] = fabs(y[i + 1] - y[i] - m);
        return 1.4826 * median(scratch, n - 1) / M_SQRT2;
}

/* The largest fall from any sample to a later one. */
static double largest_drop(const double *y, size_t n) {
        double peak = y[0], drop = 0;

        for (size_t i = 1; i < n; i++) {
                peak = MAX(peak, y[i]);
                drop = MAX(drop, peak - y[i]);
        }
        return drop;
}

/* The sum of absolute deviations of y[from, to) from their median. */
static double level_cost(const double *y, size_t from, size_t to, double *scratch) {
        double m, cost = 0;

        memcpy(scratch, y + from, (to - from) * sizeof(double));
        m = median(scratch, to - from);
        for (size_t i = from; i < to; i++)
                cost += fabs(y[i] - m);
        return cost;
}

/* Whether one step, a level before some point and another after it, fits the series at least
 * as well (in absolute deviations) as the line does. At least two points on each side. */
static bool step_fits_better(const double *y, size_t n, double line_cost, double *scratch) {
        for (size_t s = 2; s + 2 <= n; s++)
                if (level_cost(y, 0, s, scratch) + level_cost(y, s, n, scratch) <= line_cost)
                        return true;
        return false;
}

/* Whether the middle and the last third of the span each grow at least MIN_THIRD_FRACTION
 * of slope. A third with fewer than two points cannot show growth, so it fails. */
static bool thirds_grow(const double *x, const double *y, size_t n, double slope, double *scratch) {
        double span = x[n - 1];
        size_t from = 0, to;

        while (from < n && x[from] < span / 3)
                from++;
        for (unsigned k = 2; k <= 3; k++) {
                for (to = from; to < n && (k == 3 || x[to] < span * 2 / 3); to++)
                        ;
                if (to - from < 2)
                        return false;
                if (theil_sen(x, y, from, to, scratch) < slope * MIN_THIRD_FRACTION)
                        return false;
                from = to;
        }
        return true;
}

/* The rules, in order; the first that fails is the reason:
 *  - judged: at least TREND_MIN_SAMPLES points spanning TREND_COVERAGE_PERCENT of the window;
 *  - the Theil–Sen slope is positive and at least min_slope_per_sec;
 *  - Kendall's tau is at least MIN_TAU: most pairs of samples go up, whatever the slope says;
 *  - the fitted growth over the span is at least MIN_GROWTH_SIGMAS noise sigmas;
 *  - no release: no sample lies below an earlier one by more than half the growth and more
 *    than RELEASE_SIGMAS noise sigmas. A sawtooth falls back by its whole amplitude, more than
 *    half of what a line fitted through it grows, even at the phases where its teeth pass the
 *    other rules. Heap sizes under a garbage collector are sawtooths even when they leak: feed
 *    this detector the minimum over each collection cycle, whose rise is the leak;
 *  - the middle and the last third of the span each grow, at MIN_THIRD_FRACTION of the slope
 *    or more: a step anywhere leaves one of them flat, and a ramp that stopped (a cache that
 *    filled up) leaves the last one flat. The first third is not asked to grow: a leak that
 *    started within the window is a leak, and each third checked is one more chance for
 *    noise to hide a real one;
 *  - no single step, a level before some point and another after it, fits the samples as well
 *    as the line does (in absolute deviations). A step in the middle of the window gives a tau
 *    near 0.5 and noise can lift its flat thirds over the previous rule, but two levels fit it
 *    exactly where a line cannot; a leak is the reverse. */
void trend_window_fit(const TrendWindow *w, double min_slope_per_sec, TrendFit *ret) {
        double x[TREND_MAX_SAMPLES], y[TREND_MAX_SAMPLES], scratch[MAX_PAIRS];
        double intercept, growth, sigma, line_cost = 0;
        usec_t t0;
        TrendFit f;

        assert(w);
        assert(ret);

        f = (TrendFit) {
                .n_samples = w->n,
                .reason = "too few samples",
        };

        if (w->n < 2) {
                *ret = f;
                return;
        }

        t0 = trend_point_time(trend_point(w, 0));
        for (size_t i = 0; i < w->n; i++) {
                const TrendPoint *p = trend_point(w, i);

                x[i] = (double) (trend_point_time(p) - t0) / USEC_PER_SEC;
                y[i] = p->value;
        }
        f.span = w->newest - trend_point(w, 0)->start;

        f.slope_per_sec = theil_sen(x, y, 0, w->n, scratch);
        for (size_t i = 0; i < w->n; i++)
                scratch[i] = y[i] - f.slope_per_sec * x[i];
        intercept = median(scratch, w->n);
        f.first = intercept;
        f.last = intercept + f.slope_per_sec * x[w->n - 1];
        f.tau = kendall_tau(y, w->n);

        if (w->n < TREND_MIN_SAMPLES)
                goto done;
        if (f.span < trend_window_coverage(w)) {
                f.reason = "window not yet covered";
                goto done;
        }
        f.judged = true;

        growth = f.last - f.first;
        if (!isfinite(f.slope_per_sec) || !isfinite(growth) || f.slope_per_sec <= 0) {
                f.reason = "not increasing";
                goto done;
        }
        if (f.slope_per_sec < min_slope_per_sec) {
                f.reason = "slower than the minimum slope";
                goto done;
        }
        if (f.tau < MIN_TAU) {
                f.reason = "not monotonic";
                goto done;
        }
        sigma = local_sigma(y, w->n, scratch);
        if (growth < MIN_GROWTH_SIGMAS * sigma) {
                f.reason = "growth within the noise";
                goto done;
        }
        if (largest_drop(y, w->n) > MAX(growth / 2, RELEASE_SIGMAS * sigma)) {
                f.reason = "fell back within the window";
                goto done;
        }
        if (!thirds_grow(x, y, w->n, f.slope_per_sec, scratch)) {
                f.reason = "growth stalled in part of the window";
                goto done;
        }
        for (size_t i = 0; i < w->n; i++)
                line_cost += fabs(y[i] - intercept - f.slope_per_sec * x[i]);
        if (step_fits_better(y, w->n, line_cost, scratch)) {
                f.reason = "a single step explains the growth";
                goto done;
        }

        f.growing = true;
        f.reason = "steady growth";
done:
        *ret = f;
}

double trend_fit_slope_per_min(const TrendFit *f) {
        assert(f);

        return f->slope_per_sec * 60;
}

usec_t trend_time_to_limit(const TrendFit *f, double limit) {
        double usec;

        assert(f);

        if (!f->growing || !(f->slope_per_sec > 0))
                return USEC_INFINITY;
        if (limit <= f->last)
                return 0;
        usec = (limit - f->last) / f->slope_per_sec * USEC_PER_SEC;
        /* Beyond about 2^63 usec (292 000 years) the projection means nothing anyway, and the
         * comparison stays within what a double converts to usec_t exactly. */
        if (!(usec < 0x1p63))
                return USEC_INFINITY;
        return (usec_t) llround(usec);
}

/* Appends to buf at *len like snprintf(); false once it no longer fits. */
_printf_(4, 5) static bool json_append(char *buf, size_t size, size_t *len, const char *format, ...) {
        va_list ap;
        int r;

        if (*len >= size)
                return false;
        va_start(ap, format);
        r = vsnprintf(buf + *len, size - *len, format, ap);
        va_end(ap);
        if (r < 0 || (size_t) r >= size - *len)
                return false;
        *len += (size_t) r;
        return true;
}

/* A JSON number, or null for what JSON cannot represent. %.10g keeps ten significant digits,
 * a heap's size to the byte below 10 GB, in at most 17 characters. */
static bool json_append_number(char *buf, size_t size, size_t *len, double v) {
        if (!isfinite(v))
                return json_append(buf, size, len, "null");
        return json_append(buf, size, len, "%.10g", v);
}

int trend_format_json(const TrendWindow *w, const TrendFit *f, double limit, char *buf, size_t size) {
        usec_t to_limit, t0;
        size_t len = 0;
        bool ok;

        assert(w);
        assert(f);
        assert(buf || size == 0);

        t0 = w->n > 0 ? trend_point_time(trend_point(w, 0)) : 0;
        ok = json_append(buf, size, &len, "{\"samples\":[");
        for (size_t i = 0; ok && i < w->n; i++) {
                const TrendPoint *p = trend_point(w, i);

                ok = json_append(buf, size, &len, "%s[%.9g,", i > 0 ? "," : "",
                                 (double) (trend_point_time(p) - t0) / USEC_PER_SEC) &&
                     json_append_number(buf, size, &len, p->value) &&
                     json_append(buf, size, &len, "]");
        }
        ok = ok && json_append(buf, size, &len, "],\"slope_per_min\":") &&
             json_append_number(buf, size, &len, trend_fit_slope_per_min(f)) &&
             json_append(buf, size, &len, ",\"tau\":") &&
             json_append_number(buf, size, &len, f->tau) &&
             json_append(buf, size, &len, ",\"projected_sec\":");
        to_limit = trend_time_to_limit(f, limit);
        if (ok && to_limit == USEC_INFINITY)
                ok = json_append(buf, size, &len, "null");
        else if (ok)
                ok = json_append(buf, size, &len, "%.9g", (double) to_limit / USEC_PER_SEC);
        ok = ok && json_append(buf, size, &len, "}");

        if (!ok) {
                if (size > 0)
                        buf[0] = '\0';
                return -ENOBUFS;
        }
        return (int) len;
}
