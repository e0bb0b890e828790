/* Unit tests for probes/trend.c: steady leaks, noisy or not and sampled slowly or every second,
 * are found once the window is covered and not before; sawtooths, a rise that falls back,
 * steps to a plateau, flat noise and decreasing series are never reported, at any sample of a
 * run several windows long; a leak that starts mid-window is found within a window; the
 * minimum slope, the projection to a limit, reset, the window's bounds and the JSON evidence.
 * Series are synthetic, with noise from a small LCG of the test's own, so every run is the
 * same. Time is passed in; no clock is read. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "trend.h"

#define SEC USEC_PER_SEC
#define WINDOW (600 * SEC)
/* CLOCK_MONOTONIC does not start at 0, and nothing may depend on it doing so. */
#define T0 (12345 * SEC)

/* A series: base × (1 + shape(t)) × (1 + noise × u), t in windows since T0, u uniform in
 * [-1, 1) from a 64-bit LCG (Knuth's MMIX constants). */
typedef double (*ShapeFn)(double t, const double *arg);

typedef struct Series {
        ShapeFn shape;
        double arg[3];
        double base;
        double noise;
        uint64_t seed;
} Series;

typedef struct Run {
        unsigned n_fits;
        unsigned n_judged;
        unsigned n_growing;
        double first_judged;         /* t of the first judged fit, or -1 */
        double first_growing;        /* t of the first growing fit, or -1 */
        const char *first_growing_reason;
        double last_not_growing;     /* t of the last judged fit that was not growing, or -1 */
        const char *last_not_growing_reason;
        size_t max_samples;
        TrendFit last_fit;
} Run;

static double uniform(uint64_t *state) {
        *state = *state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
        return (double) (*state >> 11) / (double) (UINT64_C(1) << 53) * 2 - 1;
}

static double series_value(const Series *s, double t, uint64_t *state) {
        double v = s->base * (1 + s->shape(t, s->arg));

        return v * (1 + s->noise * uniform(state));
}

static usec_t at_windows(double t) {
        return T0 + (usec_t) llround(t * (double) WINDOW);
}

/* Feeds w one sample every `step` from t = from to t = to (in windows) and fits after each
 * one. The window is not reset first, so runs can follow each other. */
static void feed(TrendWindow *w, const Series *s, uint64_t *state, double from, double to, usec_t step,
                 double min_slope, Run *run) {
        double dt = (double) step / (double) WINDOW;

        for (double t = from; t <= to + dt / 2; t += dt) {
                TrendFit f;

                trend_window_add(w, at_windows(t), series_value(s, t, state));
                trend_window_fit(w, min_slope, &f);
                assert_non_null(f.reason);
                assert_true(f.judged || !f.growing);

                run->n_fits++;
                run->max_samples = MAX(run->max_samples, f.n_samples);
                run->last_fit = f;
                if (!f.judged)
                        continue;
                run->n_judged++;
                if (run->first_judged < 0)
                        run->first_judged = t;
                if (f.growing) {
                        run->n_growing++;
                        if (run->first_growing < 0) {
                                run->first_growing = t;
                                run->first_growing_reason = f.reason;
                        }
                } else {
                        run->last_not_growing = t;
                        run->last_not_growing_reason = f.reason;
                }
        }
}

static Run run_series(const Series *s, double to, usec_t step) {
        _cleanup_(trend_window_freep) TrendWindow *w = NULL;
        uint64_t state = s->seed;
        Run run = {
                .first_judged = -1,
                .first_growing = -1,
                .last_not_growing = -1,
        };

        assert_int_equal(trend_window_new(WINDOW, &w), 0);
        feed(w, s, &state, 0, to, step, 0, &run);
        return run;
}

/* A judged run in which no fit was growing; says when and why if one was. */
static void assert_never_growing(const Run *run, const char *what) {
        if (run->n_growing > 0)
                print_error("%s: growing at t=%.3f windows (%u of %u judged fits)\n", what,
                            run->first_growing, run->n_growing, run->n_judged);
        assert_true(run->n_judged > 0);
        assert_int_equal(run->n_growing, 0);
}

static double shape_line(double t, const double *arg) {
        return arg[0] * t;
}

static double shape_sawtooth(double t, const double *arg) {
        /* arg: amplitude, period (windows), phase (windows). */
        return arg[0] * fmod(t + arg[2], arg[1]) / arg[1];
}

static double shape_step(double t, const double *arg) {
        /* arg: height, when (windows). */
        return t >= arg[1] ? arg[0] : 0;
}

static double shape_plateau_then_line(double t, const double *arg) {
        /* arg: growth per window, start (windows). */
        return t > arg[1] ? arg[0] * (t - arg[1]) : 0;
}

static double shape_rise_and_release(double t, const double *arg) {
        /* arg: amplitude, rise start, fall (windows). */
        if (t < arg[1] || t >= arg[2])
                return 0;
        return arg[0] * (t - arg[1]) / (arg[2] - arg[1]);
}

static void test_steady_leak_is_found_once_the_window_is_covered(void **state) {
        /* Growth per window (relative to the starting value) and noise (± relative to the
         * current value). Sampling every 10s gives 60 samples a window, so even a growth of
         * 40% with ±5% noise grows less per sample (0.7%) than the noise. */
        static const struct {
                double growth, noise;
        } cases[] = {
                { 0.05, 0 }, { 0.1, 0.005 }, { 0.2, 0.01 }, { 0.4, 0.02 }, { 0.4, 0.05 }, { 1, 0.05 },
                { 3, 0.05 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                for (uint64_t seed = 1; seed <= 3; seed++) {
                        Series s = {
                                .shape = shape_line,
                                .arg = { cases[i].growth },
                                .base = 1000,
                                .noise = cases[i].noise,
                                .seed = seed,
                        };
                        Run run = run_series(&s, 3, 10 * SEC);

                        /* Judged from 80% of the window on, not before, and found there. */
                        assert_true(fabs(run.first_judged - 0.8) < 0.001);
                        assert_true(fabs(run.first_growing - 0.8) < 0.001);
                        /* Noise may hide a leak from a fit now and then: a third of the window
                         * holds 20 samples, and with ±5% noise one of them now and then looks
                         * flat. Seldom, and never for long. */
                        if (run.n_growing * 100 < run.n_judged * 95)
                                print_error("growth %g noise %g seed %u: growing in %u of %u fits, "
                                            "last not at t=%.3f: %s\n",
                                            cases[i].growth, cases[i].noise, (unsigned) seed,
                                            run.n_growing, run.n_judged, run.last_not_growing,
                                            run.last_not_growing_reason);
                        assert_true(run.n_growing * 100 >= run.n_judged * 95);
                        if (cases[i].noise <= 0.01)
                                assert_int_equal(run.n_growing, run.n_judged);
                }
}

static void test_leak_is_not_judged_before_80_percent_of_the_window(void **state) {
        _cleanup_(trend_window_freep) TrendWindow *w = NULL;
        TrendFit f;

        assert_int_equal(trend_window_new(WINDOW, &w), 0);

        /* A clean leak of 1/s sampled every 10s: spans of 0..470s are too short. */
        for (usec_t t = 0; t < 480 * SEC; t += 10 * SEC) {
                trend_window_add(w, T0 + t, 100 + (double) t / SEC);
                trend_window_fit(w, 0, &f);
                assert_false(f.judged);
                assert_false(f.growing);
                assert_int_equal(f.span, t);
        }
        assert_string_equal(f.reason, "window not yet covered");
        /* The fit is still computed, for the evidence. */
        assert_true(fabs(f.slope_per_sec - 1) < 1e-9);

        trend_window_add(w, T0 + 480 * SEC, 580);
        trend_window_fit(w, 0, &f);
        assert_true(f.judged);
        assert_true(f.growing);
        assert_string_equal(f.reason, "steady growth");
        assert_true(fabs(f.tau - 1) < 1e-9);
        assert_true(fabs(f.first - 100) < 1e-6);
        assert_true(fabs(f.last - 580) < 1e-6);
}

static void test_too_few_samples_are_not_judged(void **state) {
        _cleanup_(trend_window_freep) TrendWindow *w = NULL;
        TrendFit f;

        assert_int_equal(trend_window_new(WINDOW, &w), 0);

        trend_window_fit(w, 0, &f);
        assert_int_equal(f.n_samples, 0);
        assert_false(f.judged);

        /* Eleven samples across the whole window: covered, but too thin to judge. */
        for (unsigned i = 0; i < TREND_MIN_SAMPLES - 1; i++)
                trend_window_add(w, T0 + i * 60 * SEC, 100 + i * 10);
        trend_window_fit(w, 0, &f);
        assert_int_equal(f.n_samples, TREND_MIN_SAMPLES - 1);
        assert_true(f.span >= WINDOW / 100 * TREND_COVERAGE_PERCENT);
        assert_false(f.judged);
        assert_false(f.growing);
        assert_string_equal(f.reason, "too few samples");
}

static void test_sawtooth_is_not_a_leak(void **state) {
        /* One tooth per window (a period of 0.9 windows, so that a fall is always within the
         * window), two, three, and one and a half. */
        static const double periods[] = { 0.9, 1.0 / 2, 1.0 / 3, 2.0 / 3 };
        static const double amplitudes[] = { 0.2, 1 };
        static const double noises[] = { 0, 0.01, 0.05 };

        for (size_t p = 0; p < ELEMENTSOF(periods); p++)
                for (size_t a = 0; a < ELEMENTSOF(amplitudes); a++)
                        for (size_t n = 0; n < ELEMENTSOF(noises); n++) {
                                Series s = {
                                        .shape = shape_sawtooth,
                                        .arg = { amplitudes[a], periods[p], 0.37 },
                                        .base = 1000,
                                        .noise = noises[n],
                                        .seed = 7,
                                };
                                Run run = run_series(&s, 5, 10 * SEC);

                                assert_never_growing(&run, "sawtooth");
                        }
}

static void test_rise_over_half_the_window_that_falls_back_is_not_a_leak(void **state) {
        /* Half a sawtooth's period within the window: flat, a rise over half a window, a fall
         * back to the baseline, flat again. */
        for (uint64_t seed = 1; seed <= 3; seed++) {
                Series s = {
                        .shape = shape_rise_and_release,
                        .arg = { 0.3, 1, 1.5 },
                        .base = 1000,
                        .noise = 0.01,
                        .seed = seed,
                };
                Run run = run_series(&s, 3, 10 * SEC);

                assert_never_growing(&run, "rise and release");
        }
}

static void test_step_to_a_plateau_is_not_a_leak(void **state) {
        /* At t = 2 windows the step lies at 30%, 50% and 70% of the window; before and after,
         * the run passes it through every other place. */
        static const double when[] = { 1.3, 1.5, 1.7 };
        static const double heights[] = { 0.05, 0.2, 1 };
        static const double noises[] = { 0, 0.01, 0.05 };

        for (size_t i = 0; i < ELEMENTSOF(when); i++)
                for (size_t h = 0; h < ELEMENTSOF(heights); h++)
                        for (size_t n = 0; n < ELEMENTSOF(noises); n++) {
                                Series s = {
                                        .shape = shape_step,
                                        .arg = { heights[h], when[i] },
                                        .base = 1000,
                                        .noise = noises[n],
                                        .seed = 11 + i,
                                };
                                Run run = run_series(&s, 3.5, 10 * SEC);

                                assert_never_growing(&run, "step");
                        }
}

static void test_flat_noise_is_not_a_leak(void **state) {
        static const double noises[] = { 0, 0.01, 0.05, 0.2 };

        for (size_t n = 0; n < ELEMENTSOF(noises); n++)
                for (uint64_t seed = 1; seed <= 5; seed++) {
                        Series s = {
                                .shape = shape_line,
                                .base = 1000,
                                .noise = noises[n],
                                .seed = seed,
                        };
                        Run run = run_series(&s, 5, 10 * SEC);

                        assert_never_growing(&run, "flat noise");
                }
}

static void test_decreasing_series_is_not_a_leak(void **state) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
                Series s = {
                        .shape = shape_line,
                        .arg = { -0.2 },
                        .base = 1000,
                        .noise = 0.01 * seed,
                        .seed = seed,
                };
                Run run = run_series(&s, 3, 10 * SEC);

                assert_never_growing(&run, "decreasing");
                assert_true(run.last_fit.slope_per_sec < 0);
                assert_string_equal(run.last_fit.reason, "not increasing");
        }
}

static void test_leak_after_a_plateau_is_found_within_one_window(void **state) {
        static const double noises[] = { 0, 0.01, 0.02 };

        for (size_t n = 0; n < ELEMENTSOF(noises); n++) {
                /* Flat for one and a half windows, then growing 50% a window. */
                Series s = {
                        .shape = shape_plateau_then_line,
                        .arg = { 0.5, 1.5 },
                        .base = 1000,
                        .noise = noises[n],
                        .seed = 3,
                };
                Run run = run_series(&s, 4, 10 * SEC);

                assert_true(run.first_growing > 1.5);
                assert_true(run.first_growing <= 2.5);
                /* And once the window holds nothing but growth, it stays found. */
                assert_true(run.last_not_growing < 2.5);
        }
}

static void test_integer_counter_leak_is_found(void **state) {
        _cleanup_(trend_window_freep) TrendWindow *w = NULL;
        TrendFit f;

        assert_int_equal(trend_window_new(WINDOW, &w), 0);

        /* One more file descriptor every 30s, sampled every 5s: long runs of equal values. */
        for (usec_t t = 0; t <= WINDOW; t += 5 * SEC)
                trend_window_add(w, T0 + t, (double) (40 + t / (30 * SEC)));
        trend_window_fit(w, 0, &f);
        assert_true(f.growing);
        assert_true(f.tau > 0.9);
        assert_true(fabs(trend_fit_slope_per_min(&f) - 2) < 0.1);
}

static void test_min_slope_is_respected(void **state) {
        _cleanup_(trend_window_freep) TrendWindow *w = NULL;
        TrendFit f;

        assert_int_equal(trend_window_new(WINDOW, &w), 0);

        /* 2 units a second, exactly. */
        for (usec_t t = 0; t <= WINDOW; t += 10 * SEC)
                trend_window_add(w, T0 + t, 500 + 2 * (double) t / SEC);

        trend_window_fit(w, 0, &f);
        assert_true(f.growing);
        assert_true(fabs(f.slope_per_sec - 2) < 1e-9);
        assert_true(fabs(trend_fit_slope_per_min(&f) - 120) < 1e-6);

        trend_window_fit(w, 1.99, &f);
        assert_true(f.growing);
        trend_window_fit(w, -5, &f);
        assert_true(f.growing);

        trend_window_fit(w, 2.01, &f);
        assert_true(f.judged);
        assert_false(f.growing);
        assert_string_equal(f.reason, "slower than the minimum slope");
        /* The fit itself does not depend on the minimum. */
        assert_true(fabs(f.slope_per_sec - 2) < 1e-9);
}

static void test_sampling_every_second_keeps_at_most_max_samples_and_finds_a_leak(void **state) {
        _cleanup_(trend_window_freep) TrendWindow *w = NULL;
        Series s = {
                .shape = shape_line,
                .arg = { 0.2 },
                .base = 1000,
                .noise = 0.05,
                .seed = 5,
        };
        uint64_t lcg = s.seed;
        Run run = {
                .first_judged = -1,
                .first_growing = -1,
                .last_not_growing = -1,
        };

        assert_int_equal(trend_window_new(WINDOW, &w), 0);
        /* Three windows of 600 samples each; 20% growth with ±5% noise is a hard case at 60
         * samples a window, but the means of ~10 samples per point divide the noise by ~3. */
        feed(w, &s, &lcg, 0, 3, SEC, 0, &run);

        assert_int_equal(run.n_fits, 3 * 600 + 1);
        assert_true(run.max_samples <= TREND_MAX_SAMPLES);
        /* Samples 1s apart merge ten to a point (points start at least 600/63 s apart). */
        assert_true(run.last_fit.n_samples >= 60);
        assert_true(run.first_judged < 0.81);
        assert_true(run.first_growing < 0.81);
        assert_true(run.n_growing * 100 >= run.n_judged * 99);
        assert_true(run.last_fit.growing);
        /* 20% of 1000 a window: 1/3 a second. */
        assert_true(fabs(run.last_fit.slope_per_sec - 1.0 / 3) < 0.05);
}

static void test_old_samples_leave_the_window(void **state) {
        _cleanup_(trend_window_freep) TrendWindow *w = NULL;
        TrendFit f;

        assert_int_equal(trend_window_new(WINDOW, &w), 0);

        for (usec_t t = 0; t <= WINDOW; t += 10 * SEC)
                trend_window_add(w, T0 + t, (double) t);
        trend_window_fit(w, 0, &f);
        assert_int_equal(f.n_samples, 61);
        assert_int_equal(f.span, WINDOW);

        /* The last sample, exactly one window after the first, kept it; the next one pushes
         * it out. */
        trend_window_add(w, T0 + WINDOW + 10 * SEC, 0);
        trend_window_fit(w, 0, &f);
        assert_int_equal(f.n_samples, 61);
        assert_int_equal(f.span, WINDOW);

        trend_window_add(w, T0 + 3 * WINDOW, 0);
        trend_window_fit(w, 0, &f);
        assert_int_equal(f.n_samples, 1);
        assert_int_equal(f.span, 0);
        assert_false(f.judged);
}

static void test_out_of_order_and_non_finite_samples_are_ignored(void **state) {
        _cleanup_(trend_window_freep) TrendWindow *w = NULL;
        TrendFit f;

        assert_int_equal(trend_window_new(WINDOW, &w), 0);

        trend_window_add(w, T0 + 100 * SEC, 1);
        trend_window_add(w, T0 + 200 * SEC, 2);
        trend_window_add(w, T0 + 150 * SEC, 1000);
        trend_window_add(w, T0 + 300 * SEC, NAN);
        trend_window_add(w, T0 + 300 * SEC, INFINITY);
        trend_window_add(w, T0 + 300 * SEC, -INFINITY);
        trend_window_fit(w, 0, &f);
        assert_int_equal(f.n_samples, 2);
        assert_int_equal(f.span, 100 * SEC);
        assert_true(fabs(f.slope_per_sec - 0.01) < 1e-12);
}

static void test_reset_forgets_every_sample(void **state) {
        _cleanup_(trend_window_freep) TrendWindow *w = NULL;
        TrendFit f;

        assert_int_equal(trend_window_new(WINDOW, &w), 0);

        for (usec_t t = 0; t <= WINDOW; t += 10 * SEC)
                trend_window_add(w, T0 + t, (double) t / SEC);
        trend_window_fit(w, 0, &f);
        assert_true(f.growing);

        trend_window_reset(w);
        trend_window_fit(w, 0, &f);
        assert_int_equal(f.n_samples, 0);
        assert_false(f.judged);
        assert_false(f.growing);

        /* The restarted process starts over, flat this time, and at any time. */
        for (usec_t t = 0; t <= WINDOW; t += 10 * SEC)
                trend_window_add(w, T0 + t, 5);
        trend_window_fit(w, 0, &f);
        assert_int_equal(f.n_samples, 61);
        assert_true(f.judged);
        assert_false(f.growing);
        assert_true(f.slope_per_sec == 0);
}

static void test_time_to_limit(void **state) {
        TrendFit f = {
                .slope_per_sec = 2,
                .last = 100,
                .judged = true,
                .growing = true,
        };

        assert_int_equal(trend_time_to_limit(&f, 160), 30 * SEC);
        assert_int_equal(trend_time_to_limit(&f, 100.5), 250 * USEC_PER_MSEC);
        /* Already there, or beyond. */
        assert_int_equal(trend_time_to_limit(&f, 100), 0);
        assert_int_equal(trend_time_to_limit(&f, 50), 0);
        /* Too far to count is never. */
        assert_int_equal(trend_time_to_limit(&f, 1e300), USEC_INFINITY);
        assert_int_equal(trend_time_to_limit(&f, INFINITY), USEC_INFINITY);

        f.slope_per_sec = 1.0 / 60;
        assert_int_equal(trend_time_to_limit(&f, 101), USEC_PER_MINUTE);

        /* Only a leak has a time to the limit. */
        f.growing = false;
        assert_int_equal(trend_time_to_limit(&f, 160), USEC_INFINITY);
        assert_int_equal(trend_time_to_limit(&f, 50), USEC_INFINITY);
}

static void test_time_to_limit_of_a_fitted_leak(void **state) {
        _cleanup_(trend_window_freep) TrendWindow *w = NULL;
        usec_t to_limit;
        TrendFit f;

        assert_int_equal(trend_window_new(WINDOW, &w), 0);

        /* 1 MiB a minute from 100 MiB; at the newest sample, 110 MiB. */
        for (usec_t t = 0; t <= WINDOW; t += 15 * SEC)
                trend_window_add(w, T0 + t, 100 * 1048576.0 + (double) t / USEC_PER_MINUTE * 1048576.0);
        trend_window_fit(w, 0, &f);
        assert_true(f.growing);
        assert_true(fabs(f.last - 110 * 1048576.0) < 1);
        assert_true(fabs(trend_fit_slope_per_min(&f) - 1048576.0) < 1e-3);
        /* 128 MiB is 18 minutes away, to the millisecond. */
        to_limit = trend_time_to_limit(&f, 128 * 1048576.0);
        assert_true(to_limit > 18 * USEC_PER_MINUTE - USEC_PER_MSEC);
        assert_true(to_limit < 18 * USEC_PER_MINUTE + USEC_PER_MSEC);
}

/* Checks the shape {"samples":[[t,v],...],"slope_per_min":x,"tau":x,"projected_sec":x|null}
 * and returns the number of samples. */
static size_t check_json(const char *json, bool projected) {
        const char *p = json;
        char *end;
        size_t n = 0;

        assert_true(strncmp(p, "{\"samples\":[", 12) == 0);
        p += 12;
        while (*p == '[') {
                (void) strtod(p + 1, &end);
                assert_true(end > p + 1 && *end == ',');
                p = end + 1;
                (void) strtod(p, &end);
                assert_true(end > p && *end == ']');
                p = end + 1;
                n++;
                if (*p == ',')
                        p++;
        }
        assert_true(strncmp(p, "],\"slope_per_min\":", 18) == 0);
        p += 18;
        (void) strtod(p, &end);
        assert_true(end > p);
        p = end;
        assert_true(strncmp(p, ",\"tau\":", 7) == 0);
        p += 7;
        (void) strtod(p, &end);
        assert_true(end > p);
        p = end;
        assert_true(strncmp(p, ",\"projected_sec\":", 17) == 0);
        p += 17;
        if (projected) {
                (void) strtod(p, &end);
                assert_true(end > p);
                p = end;
        } else {
                assert_true(strncmp(p, "null", 4) == 0);
                p += 4;
        }
        assert_string_equal(p, "}");
        assert_null(strstr(json, "nan"));
        assert_null(strstr(json, "inf"));
        return n;
}

static void test_json_evidence_is_valid_and_bounded(void **state) {
        _cleanup_(trend_window_freep) TrendWindow *w = NULL;
        char buf[TREND_JSON_MAX], small[64];
        usec_t to_limit;
        TrendFit f;
        int r;

        assert_int_equal(trend_window_new(WINDOW, &w), 0);

        trend_window_fit(w, 0, &f);
        r = trend_format_json(w, &f, 100, buf, sizeof(buf));
        assert_int_equal(r, strlen(buf));
        assert_int_equal(check_json(buf, false), 0);

        for (usec_t t = 0; t <= WINDOW; t += SEC)
                trend_window_add(w, T0 + t, 1000 + (double) t / SEC);
        trend_window_fit(w, 0, &f);
        assert_true(f.growing);

        r = trend_format_json(w, &f, 5000, buf, sizeof(buf));
        assert_true(r > 0);
        assert_int_equal(r, strlen(buf));
        assert_int_equal(check_json(buf, true), f.n_samples);
        assert_true(f.n_samples <= TREND_MAX_SAMPLES);
        assert_non_null(strstr(buf, "\"slope_per_min\":60,"));
        assert_non_null(strstr(buf, "\"tau\":1,"));
        /* From about 1600 (the newest point is the mean of the last second's samples) to
         * 5000 at 1 a second. */
        to_limit = trend_time_to_limit(&f, 5000);
        assert_true(to_limit > 3395 * SEC);
        assert_true(to_limit < 3405 * SEC);
        snprintf(small, sizeof(small), "\"projected_sec\":%.9g}", (double) to_limit / SEC);
        assert_non_null(strstr(buf, small));

        /* Exactly large enough, and one byte short. */
        assert_int_equal(trend_format_json(w, &f, 5000, buf, r + 1), r);
        assert_int_equal(trend_format_json(w, &f, 5000, buf, r), -ENOBUFS);
        assert_string_equal(buf, "");
        assert_int_equal(trend_format_json(w, &f, 5000, small, sizeof(small)), -ENOBUFS);
        assert_string_equal(small, "");
        assert_int_equal(trend_format_json(w, &f, 5000, NULL, 0), -ENOBUFS);
}

static void test_json_of_extreme_values_fits_the_documented_size(void **state) {
        _cleanup_(trend_window_freep) TrendWindow *w = NULL;
        usec_t bucket = USEC_INFINITY / TREND_MAX_SAMPLES;
        char buf[TREND_JSON_MAX];
        TrendFit f;
        int r;

        /* The longest window there is, full of points one bucket apart, with the longest
         * numbers there are. */
        assert_int_equal(trend_window_new(bucket * (TREND_MAX_SAMPLES - 1), &w), 0);
        for (unsigned i = 0; i < TREND_MAX_SAMPLES; i++)
                trend_window_add(w, i * bucket, (i % 2 ? -1 : 1) * 1.2345678901234567e300 * (i + 1));
        trend_window_fit(w, 0, &f);
        assert_int_equal(f.n_samples, TREND_MAX_SAMPLES);
        f.growing = true;
        f.slope_per_sec = 1.2345678901234567e-12;
        f.last = 0;
        f.tau = -0.12345678901234567;

        r = trend_format_json(w, &f, 1.2345678901234567, buf, sizeof(buf));
        assert_true(r > 2000);
        assert_true(r < TREND_JSON_MAX);
        assert_int_equal(check_json(buf, true), TREND_MAX_SAMPLES);
}

static void test_new_rejects_a_zero_window(void **state) {
        TrendWindow *w = (TrendWindow *) 0x1;

        assert_int_equal(trend_window_new(0, &w), -EINVAL);
        assert_ptr_equal(w, (TrendWindow *) 0x1);
        assert_null(trend_window_free(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_steady_leak_is_found_once_the_window_is_covered),
                cmocka_unit_test(test_leak_is_not_judged_before_80_percent_of_the_window),
                cmocka_unit_test(test_too_few_samples_are_not_judged),
                cmocka_unit_test(test_sawtooth_is_not_a_leak),
                cmocka_unit_test(test_rise_over_half_the_window_that_falls_back_is_not_a_leak),
                cmocka_unit_test(test_step_to_a_plateau_is_not_a_leak),
                cmocka_unit_test(test_flat_noise_is_not_a_leak),
                cmocka_unit_test(test_decreasing_series_is_not_a_leak),
                cmocka_unit_test(test_leak_after_a_plateau_is_found_within_one_window),
                cmocka_unit_test(test_integer_counter_leak_is_found),
                cmocka_unit_test(test_min_slope_is_respected),
                cmocka_unit_test(test_sampling_every_second_keeps_at_most_max_samples_and_finds_a_leak),
                cmocka_unit_test(test_old_samples_leave_the_window),
                cmocka_unit_test(test_out_of_order_and_non_finite_samples_are_ignored),
                cmocka_unit_test(test_reset_forgets_every_sample),
                cmocka_unit_test(test_time_to_limit),
                cmocka_unit_test(test_time_to_limit_of_a_fitted_leak),
                cmocka_unit_test(test_json_evidence_is_valid_and_bounded),
                cmocka_unit_test(test_json_of_extreme_values_fits_the_documented_size),
                cmocka_unit_test(test_new_rejects_a_zero_window),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
