/* Unit tests for supervisor/restart-policy.c: the decision for every class under every restart
 * mode, which ends count as failures, the capped exponential backoff with full jitter, the
 * jittered resource retry and the stability reset, including their saturation at extremes.
 * Random draws are passed in explicitly (a fixed LCG here), so every case is reproducible. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <string.h>

#include <cmocka.h>

#include "random-util.h"
#include "restart-policy.h"

#define MS USEC_PER_MSEC
#define SEC USEC_PER_SEC

static void worker_init(WorkerConfig *w, RestartMode mode) {
        *w = (WorkerConfig) {
                .restart = mode,
                .resource_retry = 5 * SEC,
                .backoff = {
                        .initial = 100 * MS,
                        .max = 5 * USEC_PER_MINUTE,
                        .factor = 2.0,
                        .reset_after = 10 * USEC_PER_MINUTE,
                },
        };
}

static BackoffConfig backoff(usec_t initial, usec_t max, double factor) {
        return (BackoffConfig) {
                .initial = initial,
                .max = max,
                .factor = factor,
                .reset_after = 10 * USEC_PER_MINUTE,
        };
}

/* Deterministic draws spread over all 64 bits. */
static uint64_t lcg_next(uint64_t *x) {
        *x = *x * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
        return *x ^ (*x >> 29);
}

static RestartDecision decide(ExitClass cls, RestartMode mode, const char **ret_reason) {
        WorkerConfig w;

        worker_init(&w, mode);
        return restart_policy_decide(cls, &w, ret_reason);
}

static void test_decision_table(void **state) {
        static const RestartDecision expected[_EXIT_CLASS_MAX][_RESTART_MODE_MAX] = {
                [EXIT_CLASS_STOPPED] = { RESTART_DECISION_STOPPED, RESTART_DECISION_STOPPED,
                                         RESTART_DECISION_STOPPED },
                [EXIT_CLASS_SUCCESS] = { RESTART_DECISION_RESTART, RESTART_DECISION_COMPLETED,
                                         RESTART_DECISION_COMPLETED },
                [EXIT_CLASS_TRANSIENT] = { RESTART_DECISION_RESTART, RESTART_DECISION_RESTART,
                                           RESTART_DECISION_FATAL },
                [EXIT_CLASS_CRASH] = { RESTART_DECISION_RESTART, RESTART_DECISION_RESTART,
                                       RESTART_DECISION_FATAL },
                [EXIT_CLASS_RESOURCE] = { RESTART_DECISION_RESOURCE, RESTART_DECISION_RESOURCE,
                                          RESTART_DECISION_FATAL },
                [EXIT_CLASS_PERMANENT] = { RESTART_DECISION_FATAL, RESTART_DECISION_FATAL,
                                           RESTART_DECISION_FATAL },
                [EXIT_CLASS_UNRESPONSIVE] = { RESTART_DECISION_RESTART, RESTART_DECISION_RESTART,
                                              RESTART_DECISION_FATAL },
        };

        for (ExitClass cls = 0; cls < _EXIT_CLASS_MAX; cls++)
                for (RestartMode mode = 0; mode < _RESTART_MODE_MAX; mode++) {
                        const char *reason = NULL;

                        assert_int_equal(decide(cls, mode, &reason), expected[cls][mode]);
                        assert_non_null(reason);
                        assert_true(strlen(reason) > 0);
                }
}

static void test_stopped_end_is_stopped_in_every_mode(void **state) {
        for (RestartMode mode = 0; mode < _RESTART_MODE_MAX; mode++)
                assert_int_equal(decide(EXIT_CLASS_STOPPED, mode, NULL), RESTART_DECISION_STOPPED);
}

static void test_permanent_end_is_fatal_in_every_mode(void **state) {
        for (RestartMode mode = 0; mode < _RESTART_MODE_MAX; mode++)
                assert_int_equal(decide(EXIT_CLASS_PERMANENT, mode, NULL), RESTART_DECISION_FATAL);
}

static void test_clean_exit_restarts_only_under_always(void **state) {
        assert_int_equal(decide(EXIT_CLASS_SUCCESS, RESTART_ALWAYS, NULL), RESTART_DECISION_RESTART);
        assert_int_equal(decide(EXIT_CLASS_SUCCESS, RESTART_ON_FAILURE, NULL), RESTART_DECISION_COMPLETED);
        assert_int_equal(decide(EXIT_CLASS_SUCCESS, RESTART_NEVER, NULL), RESTART_DECISION_COMPLETED);
}

static void test_failures_restart_unless_never(void **state) {
        const ExitClass failures[] = { EXIT_CLASS_TRANSIENT, EXIT_CLASS_CRASH, EXIT_CLASS_UNRESPONSIVE };

        for (size_t i = 0; i < ELEMENTSOF(failures); i++) {
                assert_int_equal(decide(failures[i], RESTART_ALWAYS, NULL), RESTART_DECISION_RESTART);
                assert_int_equal(decide(failures[i], RESTART_ON_FAILURE, NULL), RESTART_DECISION_RESTART);
                assert_int_equal(decide(failures[i], RESTART_NEVER, NULL), RESTART_DECISION_FATAL);
        }
}

static void test_resource_shortage_waits_unless_never(void **state) {
        assert_int_equal(decide(EXIT_CLASS_RESOURCE, RESTART_ALWAYS, NULL), RESTART_DECISION_RESOURCE);
        assert_int_equal(decide(EXIT_CLASS_RESOURCE, RESTART_ON_FAILURE, NULL), RESTART_DECISION_RESOURCE);
        assert_int_equal(decide(EXIT_CLASS_RESOURCE, RESTART_NEVER, NULL), RESTART_DECISION_FATAL);
}

static void test_decide_refuses_out_of_range_input(void **state) {
        WorkerConfig w;
        const char *reason = "untouched";

        worker_init(&w, RESTART_ALWAYS);
        assert_int_equal(restart_policy_decide(_EXIT_CLASS_MAX, &w, &reason), _RESTART_DECISION_INVALID);
        assert_int_equal(restart_policy_decide(_EXIT_CLASS_INVALID, &w, &reason), _RESTART_DECISION_INVALID);
        w.restart = _RESTART_MODE_MAX;
        assert_int_equal(restart_policy_decide(EXIT_CLASS_CRASH, &w, &reason), _RESTART_DECISION_INVALID);
        assert_string_equal(reason, "untouched");
}

static void test_only_transient_crash_and_unresponsive_count_as_failures(void **state) {
        for (ExitClass cls = 0; cls < _EXIT_CLASS_MAX; cls++)
                assert_int_equal(restart_policy_counts_as_failure(cls),
                                 cls == EXIT_CLASS_TRANSIENT || cls == EXIT_CLASS_CRASH ||
                                         cls == EXIT_CLASS_UNRESPONSIVE);
}

static void test_delay_cap_doubles_from_initial(void **state) {
        BackoffConfig c = backoff(100 * MS, 5 * USEC_PER_MINUTE, 2.0);

        assert_int_equal(restart_policy_delay_cap(1, &c), 100 * MS);
        assert_int_equal(restart_policy_delay_cap(2, &c), 200 * MS);
        assert_int_equal(restart_policy_delay_cap(3, &c), 400 * MS);
        assert_int_equal(restart_policy_delay_cap(4, &c), 800 * MS);
        assert_int_equal(restart_policy_delay_cap(5, &c), 1600 * MS);
        for (unsigned n = 1; n < 12; n++)
                assert_int_equal(restart_policy_delay_cap(n, &c), (100 * MS) << (n - 1));
}

static void test_delay_cap_treats_zero_as_first(void **state) {
        BackoffConfig c = backoff(100 * MS, 5 * USEC_PER_MINUTE, 2.0);

        assert_int_equal(restart_policy_delay_cap(0, &c), restart_policy_delay_cap(1, &c));
}

static void test_delay_cap_with_fractional_factor(void **state) {
        BackoffConfig c = backoff(100 * MS, 5 * USEC_PER_MINUTE, 1.5);

        assert_int_equal(restart_policy_delay_cap(2, &c), 150 * MS);
        assert_int_equal(restart_policy_delay_cap(3, &c), 225 * MS);

        c.factor = 1.0;
        for (unsigned n = 1; n < 100; n++)
                assert_int_equal(restart_policy_delay_cap(n, &c), 100 * MS);
}

static void test_delay_cap_saturates_at_max(void **state) {
        BackoffConfig c = backoff(100 * MS, 5 * USEC_PER_MINUTE, 2.0);

        /* 100ms * 2^11 = 204.8s < 5m < 100ms * 2^12. */
        assert_int_equal(restart_policy_delay_cap(12, &c), 204800 * MS);
        assert_int_equal(restart_policy_delay_cap(13, &c), 5 * USEC_PER_MINUTE);
        assert_int_equal(restart_policy_delay_cap(64, &c), 5 * USEC_PER_MINUTE);
        assert_int_equal(restart_policy_delay_cap(65, &c), 5 * USEC_PER_MINUTE);
        assert_int_equal(restart_policy_delay_cap(1000, &c), 5 * USEC_PER_MINUTE);
        assert_int_equal(restart_policy_delay_cap(UINT_MAX, &c), 5 * USEC_PER_MINUTE);

        c.factor = 100.0;
        assert_int_equal(restart_policy_delay_cap(3, &c), 5 * USEC_PER_MINUTE);
        assert_int_equal(restart_policy_delay_cap(UINT_MAX, &c), 5 * USEC_PER_MINUTE);

        /* An initial above max is clamped from the first restart on. */
        c = backoff(10 * USEC_PER_MINUTE, 5 * USEC_PER_MINUTE, 2.0);
        assert_int_equal(restart_policy_delay_cap(1, &c), 5 * USEC_PER_MINUTE);
}

static void test_delay_cap_does_not_overflow_with_infinite_max(void **state) {
        BackoffConfig c = backoff(1, USEC_INFINITY, 100.0);

        assert_int_equal(restart_policy_delay_cap(2, &c), 100);
        assert_int_equal(restart_policy_delay_cap(10, &c), UINT64_C(1000000000000000000));
        assert_int_equal(restart_policy_delay_cap(11, &c), USEC_INFINITY);
        assert_int_equal(restart_policy_delay_cap(UINT_MAX, &c), USEC_INFINITY);

        c = backoff(UINT64_MAX - 1, USEC_INFINITY, 2.0);
        assert_int_equal(restart_policy_delay_cap(2, &c), USEC_INFINITY);

        /* A max that double cannot represent exactly must still never be exceeded. */
        c = backoff((UINT64_C(1) << 53) + 1, (UINT64_C(1) << 53) + 1, 1.0);
        assert_true(restart_policy_delay_cap(1, &c) <= c.max);
        c = backoff(UINT64_MAX - 1, UINT64_MAX - 1, 1.0);
        assert_true(restart_policy_delay_cap(1, &c) <= c.max);
}

static void test_zero_initial_means_no_delay(void **state) {
        BackoffConfig c = backoff(0, 5 * USEC_PER_MINUTE, 2.0);

        for (unsigned n = 0; n < 100; n++) {
                assert_int_equal(restart_policy_delay_cap(n, &c), 0);
                assert_int_equal(restart_policy_next_delay(n, &c, UINT64_MAX), 0);
        }
        assert_int_equal(restart_policy_delay_cap(UINT_MAX, &c), 0);

        c.factor = 100.0;
        assert_int_equal(restart_policy_delay_cap(UINT_MAX, &c), 0);
        assert_int_equal(restart_policy_next_delay(UINT_MAX, &c, 12345), 0);

        c = backoff(100 * MS, 0, 2.0);
        assert_int_equal(restart_policy_next_delay(5, &c, 12345), 0);
}

static void test_delays_grow_with_n(void **state) {
        BackoffConfig c = backoff(100 * MS, 5 * USEC_PER_MINUTE, 2.0);
        usec_t previous = 0;

        /* With a draw equal to the cap, the delay is the cap itself: the largest delay each n
         * allows doubles until it reaches max. */
        for (unsigned n = 1; n <= 12; n++) {
                usec_t cap = restart_policy_delay_cap(n, &c);
                usec_t d = restart_policy_next_delay(n, &c, cap);

                assert_int_equal(d, cap);
                assert_int_equal(d, (100 * MS) << (n - 1));
                assert_true(d > previous);
                previous = d;
        }
}

static void test_delays_are_jittered_within_cap(void **state) {
        BackoffConfig c = backoff(100 * MS, 5 * USEC_PER_MINUTE, 2.0);
        uint64_t x = 42;

        for (unsigned n = 1; n <= 20; n++) {
                usec_t cap = restart_policy_delay_cap(n, &c);
                usec_t seen[200];
                size_t distinct = 0;

                for (size_t i = 0; i < ELEMENTSOF(seen); i++) {
                        usec_t d = restart_policy_next_delay(n, &c, lcg_next(&x));
                        bool dup = false;

                        assert_in_range(d, 0, cap);
                        for (size_t k = 0; k < distinct; k++)
                                dup = dup || seen[k] == d;
                        if (!dup)
                                seen[distinct++] = d;
                }

                /* Over 100001+ possible values, 200 draws collide rarely. */
                assert_true(distinct > 190);
        }
}

static void test_jitter_follows_the_draw(void **state) {
        BackoffConfig c = backoff(100 * MS, 5 * USEC_PER_MINUTE, 2.0);
        usec_t cap = restart_policy_delay_cap(3, &c);

        assert_int_not_equal(restart_policy_next_delay(3, &c, 1), restart_policy_next_delay(3, &c, 2));
        assert_int_equal(restart_policy_next_delay(3, &c, 0), 0);
        assert_int_equal(restart_policy_next_delay(3, &c, 12345), 12345);
        assert_int_equal(restart_policy_next_delay(3, &c, cap), cap);
        assert_int_equal(restart_policy_next_delay(3, &c, cap + 1), 0);
        assert_in_range(restart_policy_next_delay(3, &c, UINT64_MAX), 0, cap);
}

static void test_delay_never_exceeds_max(void **state) {
        const unsigned ns[] = { 13, 20, 64, 1000, UINT_MAX };
        BackoffConfig c = backoff(100 * MS, 5 * USEC_PER_MINUTE, 2.0);
        uint64_t x = 7;

        for (size_t i = 0; i < ELEMENTSOF(ns); i++) {
                assert_int_equal(restart_policy_next_delay(ns[i], &c, c.max), c.max);
                assert_int_equal(restart_policy_next_delay(ns[i], &c, UINT64_MAX),
                                 UINT64_MAX % (c.max + 1));
                for (unsigned k = 0; k < 1000; k++)
                        assert_in_range(restart_policy_next_delay(ns[i], &c, lcg_next(&x)), 0, c.max);
        }
}

static void test_delay_with_infinite_cap_is_the_draw(void **state) {
        BackoffConfig c = backoff(1, USEC_INFINITY, 2.0);

        assert_int_equal(restart_policy_next_delay(UINT_MAX, &c, UINT64_MAX), UINT64_MAX);
        assert_int_equal(restart_policy_next_delay(UINT_MAX, &c, 77), 77);
}

static void test_immediate_first_restart(void **state) {
        BackoffConfig c = backoff(100 * MS, 5 * USEC_PER_MINUTE, 2.0);
        uint64_t x = 1;

        c.immediate_first = true;
        for (unsigned k = 0; k < 100; k++) {
                uint64_t r = lcg_next(&x);

                assert_int_equal(restart_policy_next_delay(1, &c, r), 0);
                assert_int_equal(restart_policy_next_delay(0, &c, r), 0);
        }

        /* The second restart backs off with the n = 2 cap as usual. */
        assert_int_equal(restart_policy_next_delay(2, &c, 200 * MS), 200 * MS);
        assert_in_range(restart_policy_next_delay(2, &c, UINT64_MAX), 0, 200 * MS);

        c.immediate_first = false;
        assert_int_equal(restart_policy_next_delay(1, &c, 100 * MS), 100 * MS);
}

static void test_resource_delay_is_scaled_into_half_to_one_and_a_half(void **state) {
        WorkerConfig w;
        uint64_t x = 99;

        worker_init(&w, RESTART_ON_FAILURE);
        assert_int_equal(restart_policy_resource_delay(&w, 0), 2500 * MS);
        assert_int_equal(restart_policy_resource_delay(&w, UINT64_C(1) << 63), 5 * SEC);
        assert_int_equal(restart_policy_resource_delay(&w, UINT64_C(3) << 62), 6250 * MS);
        assert_int_equal(restart_policy_resource_delay(&w, UINT64_MAX), 7500 * MS - 1);

        for (unsigned k = 0; k < 10000; k++) {
                usec_t d = restart_policy_resource_delay(&w, lcg_next(&x));

                assert_true(d >= 2500 * MS);
                assert_true(d < 7500 * MS);
        }
}

static void test_resource_delay_matches_exact_product(void **state) {
#ifdef __SIZEOF_INT128__
        const usec_t bases[] = { 1, 3, 999, 5 * SEC, USEC_PER_DAY, UINT64_C(1) << 40, UINT64_MAX / 3 };
        WorkerConfig w;
        uint64_t x = 5;

        worker_init(&w, RESTART_ON_FAILURE);
        for (size_t i = 0; i < ELEMENTSOF(bases); i++) {
                w.resource_retry = bases[i];
                for (unsigned k = 0; k < 1000; k++) {
                        uint64_t r = lcg_next(&x);
                        unsigned __int128 exact = ((unsigned __int128) bases[i] * r) >> 64;

                        assert_int_equal(restart_policy_resource_delay(&w, r),
                                         bases[i] / 2 + (uint64_t) exact);
                }
        }
#else
        skip();
#endif
}

static void test_resource_delay_saturates(void **state) {
        WorkerConfig w;

        worker_init(&w, RESTART_ON_FAILURE);
        w.resource_retry = 0;
        assert_int_equal(restart_policy_resource_delay(&w, UINT64_MAX), 0);

        w.resource_retry = USEC_INFINITY;
        assert_int_equal(restart_policy_resource_delay(&w, 0), USEC_INFINITY);

        /* 1.5 x a huge period does not fit: it saturates instead of wrapping to something small. */
        w.resource_retry = UINT64_MAX - 1;
        assert_int_equal(restart_policy_resource_delay(&w, UINT64_MAX), USEC_INFINITY);
        assert_int_equal(restart_policy_resource_delay(&w, 0), (UINT64_MAX - 1) / 2);
}

static void test_reset_after_stable_run(void **state) {
        BackoffConfig c = backoff(100 * MS, 5 * USEC_PER_MINUTE, 2.0);
        usec_t started = 1000 * SEC;

        assert_false(restart_policy_should_reset(started, started, &c));
        assert_false(restart_policy_should_reset(started, started + c.reset_after - 1, &c));
        assert_true(restart_policy_should_reset(started, started + c.reset_after, &c));
        assert_true(restart_policy_should_reset(started, started + c.reset_after + USEC_PER_HOUR, &c));

        c.reset_after = 0;
        assert_true(restart_policy_should_reset(started, started, &c));
}

static void test_reset_saturates(void **state) {
        BackoffConfig c = backoff(100 * MS, 5 * USEC_PER_MINUTE, 2.0);

        assert_false(restart_policy_should_reset(UINT64_MAX - SEC, UINT64_MAX - 1, &c));

        c.reset_after = USEC_INFINITY;
        assert_false(restart_policy_should_reset(0, UINT64_MAX - 1, &c));
        assert_false(restart_policy_should_reset(0, UINT64_MAX, &c));
}

static void test_real_random_draws_stay_within_cap(void **state) {
        BackoffConfig c = backoff(100 * MS, 5 * USEC_PER_MINUTE, 2.0);
        uint64_t a = random_u64(), b = random_u64(), cc = random_u64();

        /* Three equal 64-bit draws in a row would mean a broken generator. */
        assert_false(a == b && b == cc);

        for (unsigned n = 1; n <= 20; n++)
                for (unsigned k = 0; k < 100; k++)
                        assert_in_range(restart_policy_next_delay(n, &c, random_u64()), 0,
                                        restart_policy_delay_cap(n, &c));
}

static void test_decision_strings_round_trip(void **state) {
        for (RestartDecision d = 0; d < _RESTART_DECISION_MAX; d++) {
                assert_non_null(restart_decision_to_string(d));
                assert_int_equal(restart_decision_from_string(restart_decision_to_string(d)), d);
        }
        assert_string_equal(restart_decision_to_string(RESTART_DECISION_COMPLETED), "completed");
        assert_null(restart_decision_to_string(_RESTART_DECISION_INVALID));
        assert_int_equal(restart_decision_from_string("later"), _RESTART_DECISION_INVALID);
}

static RestartInput input(const WorkerConfig *w, ExitClass cls) {
        return (RestartInput) { .cls = cls, .config = w, .want_up = true, .breaker_closed = true };
}

static void test_conclude_stopped_when_not_wanted(void **state) {
        WorkerConfig w;
        const char *reason = NULL;
        RestartInput in;

        worker_init(&w, RESTART_ALWAYS);
        for (ExitClass cls = 0; cls < _EXIT_CLASS_MAX; cls++) {
                in = input(&w, cls);
                in.stopping = true;
                assert_int_equal(restart_policy_conclude(&in, &reason), RESTART_DECISION_STOPPED);
                assert_false(restart_policy_breaker_failure(&in));
                in = input(&w, cls);
                in.want_up = false;
                assert_int_equal(restart_policy_conclude(&in, &reason), RESTART_DECISION_STOPPED);
                assert_false(restart_policy_breaker_failure(&in));
        }
        assert_non_null(reason);
}

static void test_conclude_starts_again_after_a_stop_by_vigild(void **state) {
        WorkerConfig w;
        RestartInput in;

        worker_init(&w, RESTART_NEVER);
        in = input(&w, EXIT_CLASS_STOPPED);
        /* Even restart=never: vigild ended it (leftovers, a restart on request), it is wanted. */
        assert_int_equal(restart_policy_conclude(&in, NULL), RESTART_DECISION_START);
        in.breaker_closed = false;
        assert_int_equal(restart_policy_conclude(&in, NULL), RESTART_DECISION_START);
}

static void test_conclude_holds_restarts_while_the_breaker_is_open(void **state) {
        WorkerConfig w;
        const char *reason;
        RestartInput in;

        worker_init(&w, RESTART_ON_FAILURE);
        for (ExitClass cls = 0; cls < _EXIT_CLASS_MAX; cls++) {
                RestartDecision table = decide(cls, RESTART_ON_FAILURE, NULL);

                in = input(&w, cls);
                if (cls != EXIT_CLASS_STOPPED)
                        assert_int_equal(restart_policy_conclude(&in, NULL), table);
                in.breaker_closed = false;
                reason = NULL;
                if (table == RESTART_DECISION_RESTART) {
                        assert_int_equal(restart_policy_conclude(&in, &reason), RESTART_DECISION_HELD);
                        assert_string_equal(reason, "crash loop, breaker open");
                } else if (cls != EXIT_CLASS_STOPPED)
                        /* Resource waits, completions and fatal ends do not wait for a breaker. */
                        assert_int_equal(restart_policy_conclude(&in, NULL), table);
        }
}

static void test_conclude_rejects_invalid_input(void **state) {
        WorkerConfig w;
        RestartInput in;

        worker_init(&w, RESTART_ALWAYS);
        in = input(&w, _EXIT_CLASS_INVALID);
        assert_int_equal(restart_policy_conclude(&in, NULL), _RESTART_DECISION_INVALID);
}

static void test_breaker_failure_and_trial(void **state) {
        WorkerConfig w;
        RestartInput in;

        worker_init(&w, RESTART_ALWAYS);
        for (ExitClass cls = 0; cls < _EXIT_CLASS_MAX; cls++) {
                in = input(&w, cls);
                assert_int_equal(restart_policy_breaker_failure(&in), restart_policy_counts_as_failure(cls));
                assert_false(restart_policy_trial_aborted(&in));
                /* A trial must stay up: any end vigild did not cause fails it, even a clean one. */
                in.trial = true;
                assert_int_equal(restart_policy_breaker_failure(&in), cls != EXIT_CLASS_STOPPED);
                assert_int_equal(restart_policy_trial_aborted(&in), cls == EXIT_CLASS_STOPPED);
                in.stopping = true;
                assert_false(restart_policy_breaker_failure(&in));
                assert_true(restart_policy_trial_aborted(&in));
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_decision_table),
                cmocka_unit_test(test_stopped_end_is_stopped_in_every_mode),
                cmocka_unit_test(test_permanent_end_is_fatal_in_every_mode),
                cmocka_unit_test(test_clean_exit_restarts_only_under_always),
                cmocka_unit_test(test_failures_restart_unless_never),
                cmocka_unit_test(test_resource_shortage_waits_unless_never),
                cmocka_unit_test(test_decide_refuses_out_of_range_input),
                cmocka_unit_test(test_only_transient_crash_and_unresponsive_count_as_failures),
                cmocka_unit_test(test_delay_cap_doubles_from_initial),
                cmocka_unit_test(test_delay_cap_treats_zero_as_first),
                cmocka_unit_test(test_delay_cap_with_fractional_factor),
                cmocka_unit_test(test_delay_cap_saturates_at_max),
                cmocka_unit_test(test_delay_cap_does_not_overflow_with_infinite_max),
                cmocka_unit_test(test_zero_initial_means_no_delay),
                cmocka_unit_test(test_delays_grow_with_n),
                cmocka_unit_test(test_delays_are_jittered_within_cap),
                cmocka_unit_test(test_jitter_follows_the_draw),
                cmocka_unit_test(test_delay_never_exceeds_max),
                cmocka_unit_test(test_delay_with_infinite_cap_is_the_draw),
                cmocka_unit_test(test_immediate_first_restart),
                cmocka_unit_test(test_resource_delay_is_scaled_into_half_to_one_and_a_half),
                cmocka_unit_test(test_resource_delay_matches_exact_product),
                cmocka_unit_test(test_resource_delay_saturates),
                cmocka_unit_test(test_reset_after_stable_run),
                cmocka_unit_test(test_reset_saturates),
                cmocka_unit_test(test_real_random_draws_stay_within_cap),
                cmocka_unit_test(test_decision_strings_round_trip),
                cmocka_unit_test(test_conclude_stopped_when_not_wanted),
                cmocka_unit_test(test_conclude_starts_again_after_a_stop_by_vigild),
                cmocka_unit_test(test_conclude_holds_restarts_while_the_breaker_is_open),
                cmocka_unit_test(test_conclude_rejects_invalid_input),
                cmocka_unit_test(test_breaker_failure_and_trial),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
