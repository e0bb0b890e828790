/* Unit tests for common/ratelimit.c: the burst passes then is refused, tokens come back at the
 * configured rate (fractions included), the bucket never holds more than the burst, refusals
 * are counted, a clock going backwards refills nothing and huge gaps and extreme settings do
 * not overflow. Time is passed in; no clock is read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ratelimit.h"

#define SEC USEC_PER_SEC
#define T0 (1000 * SEC)

static unsigned count_passing(RateLimit *rl, usec_t t, unsigned tries) {
        unsigned n = 0;

        for (unsigned i = 0; i < tries; i++)
                if (ratelimit_below(rl, t))
                        n++;
        return n;
}

static void test_burst_passes_then_refuses(void **state) {
        RateLimit rl = RATELIMIT_INIT(5, 1);

        for (unsigned i = 0; i < 5; i++)
                assert_true(ratelimit_below(&rl, T0));
        assert_false(ratelimit_below(&rl, T0));
        assert_false(ratelimit_below(&rl, T0 + 1));
        assert_int_equal(rl.n_suppressed, 2);
}

static void test_refills_at_the_rate(void **state) {
        RateLimit rl = RATELIMIT_INIT(10, 2);

        assert_int_equal(count_passing(&rl, T0, 20), 10);

        /* Two tokens per second: one every 500ms, and nothing before that. */
        assert_false(ratelimit_below(&rl, T0 + 499 * USEC_PER_MSEC));
        assert_true(ratelimit_below(&rl, T0 + 500 * USEC_PER_MSEC));
        assert_false(ratelimit_below(&rl, T0 + 500 * USEC_PER_MSEC));
        assert_int_equal(count_passing(&rl, T0 + 3 * SEC, 20), 5);
}

static void test_fractions_of_a_token_accumulate(void **state) {
        RateLimit rl = RATELIMIT_INIT(1, 1);

        assert_true(ratelimit_below(&rl, T0));
        /* Ten steps of 100ms each add a tenth of a token; only the tenth step completes one. */
        for (unsigned i = 1; i < 10; i++)
                assert_false(ratelimit_below(&rl, T0 + i * 100 * USEC_PER_MSEC));
        assert_true(ratelimit_below(&rl, T0 + SEC));
}

static void test_never_exceeds_burst(void **state) {
        RateLimit rl = RATELIMIT_INIT(3, 100);

        assert_int_equal(count_passing(&rl, T0, 10), 3);
        assert_int_equal(count_passing(&rl, T0 + USEC_PER_HOUR, 10), 3);
        assert_int_equal(count_passing(&rl, T0 + 2 * USEC_PER_HOUR, 10), 3);
        assert_int_equal(rl.n_suppressed, 21);
}

static void test_counts_suppressed(void **state) {
        RateLimit rl = RATELIMIT_INIT(2, 1);

        assert_int_equal(count_passing(&rl, T0, 102), 2);
        assert_int_equal(rl.n_suppressed, 100);
        assert_int_equal(count_passing(&rl, T0 + SEC, 3), 1);
        assert_int_equal(rl.n_suppressed, 102);
}

static void test_time_going_backwards_refills_nothing(void **state) {
        RateLimit rl = RATELIMIT_INIT(2, 1);

        assert_int_equal(count_passing(&rl, T0, 2), 2);
        assert_false(ratelimit_below(&rl, T0 - 500 * SEC));
        /* Coming back to where we were is not time that passed either. */
        assert_false(ratelimit_below(&rl, T0));
        assert_false(ratelimit_below(&rl, T0 + SEC - 1));
        assert_true(ratelimit_below(&rl, T0 + SEC));
}

static void test_huge_gaps_do_not_overflow(void **state) {
        RateLimit rl = RATELIMIT_INIT(UINT32_MAX, UINT32_MAX);
        RateLimit small = RATELIMIT_INIT(4, UINT32_MAX);

        assert_true(ratelimit_below(&rl, 0));
        assert_true(ratelimit_below(&rl, USEC_INFINITY - 1));
        assert_true(ratelimit_below(&rl, USEC_INFINITY));
        assert_int_equal(rl.tokens_micro, (uint64_t) UINT32_MAX * 1000000ULL - 1000000ULL);

        assert_int_equal(count_passing(&small, 0, 10), 4);
        assert_int_equal(count_passing(&small, USEC_INFINITY, 10), 4);
        assert_int_equal(small.tokens_micro, 0);
}

static void test_zero_rate_never_refills(void **state) {
        RateLimit rl = RATELIMIT_INIT(2, 0);

        assert_int_equal(count_passing(&rl, T0, 5), 2);
        assert_int_equal(count_passing(&rl, USEC_INFINITY, 5), 0);
}

static void test_zero_burst_disables_the_limit(void **state) {
        RateLimit rl = RATELIMIT_INIT(0, 0);

        assert_int_equal(count_passing(&rl, T0, 1000), 1000);
        assert_int_equal(rl.n_suppressed, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_burst_passes_then_refuses),
                cmocka_unit_test(test_refills_at_the_rate),
                cmocka_unit_test(test_fractions_of_a_token_accumulate),
                cmocka_unit_test(test_never_exceeds_burst),
                cmocka_unit_test(test_counts_suppressed),
                cmocka_unit_test(test_time_going_backwards_refills_nothing),
                cmocka_unit_test(test_huge_gaps_do_not_overflow),
                cmocka_unit_test(test_zero_rate_never_refills),
                cmocka_unit_test(test_zero_burst_disables_the_limit),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
