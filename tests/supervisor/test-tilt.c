/* Tests for the TILT guard's decisions (supervisor/tilt.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tilt.h"

#define S USEC_PER_SEC
#define MS USEC_PER_MSEC
#define REAL0 (1700000000ULL * S)

static void test_punctual_timers_do_not_tilt(void **state) {
        Tilt t;

        tilt_init(&t, 1 * S, 10 * S);
        for (usec_t now = 100 * S; now < 200 * S; now += 5 * S)
                assert_int_equal(tilt_observe(&t, now - 50 * MS, now, REAL0 + now, NULL), TILT_NONE);
        assert_false(tilt_active(&t, 200 * S));
        assert_int_equal(t.n_tilts, 0);
}

static void test_late_timer_tilts_for_the_settle_period(void **state) {
        usec_t amount = 0;
        Tilt t;

        tilt_init(&t, 1 * S, 10 * S);
        assert_int_equal(tilt_observe(&t, 100 * S, 100 * S, REAL0 + 100 * S, NULL), TILT_NONE);
        /* Due at 110 s, run at 115 s: the loop was 5 s late. */
        assert_int_equal(tilt_observe(&t, 110 * S, 115 * S, REAL0 + 115 * S, &amount), TILT_LATE);
        assert_true(amount == 5 * S);
        assert_true(tilt_active(&t, 115 * S));
        assert_true(tilt_active(&t, 125 * S - 1));
        assert_false(tilt_active(&t, 125 * S));
        assert_int_equal(t.n_tilts, 1);
}

static void test_lateness_up_to_the_margin_is_tolerated(void **state) {
        Tilt t;

        tilt_init(&t, 1 * S, 10 * S);
        assert_int_equal(tilt_observe(&t, 10 * S, 11 * S, REAL0 + 11 * S, NULL), TILT_NONE);
        assert_int_equal(tilt_observe(&t, 20 * S, 21 * S + 1, REAL0 + 21 * S + 1, NULL), TILT_LATE);
}

static void test_realtime_jump_tilts_either_way(void **state) {
        usec_t amount = 0;
        Tilt t;

        tilt_init(&t, 1 * S, 10 * S);
        assert_int_equal(tilt_observe(&t, 10 * S, 10 * S, REAL0 + 10 * S, NULL), TILT_NONE);
        /* Somebody set the clock an hour ahead (or the host slept an hour). */
        assert_int_equal(tilt_observe(&t, 20 * S, 20 * S, REAL0 + 20 * S + 3600 * S, &amount), TILT_CLOCK_JUMP);
        assert_true(amount == 3600 * S);
        assert_true(tilt_active(&t, 25 * S));
        /* Then back by two minutes. */
        assert_int_equal(tilt_observe(&t, 40 * S, 40 * S, REAL0 + 40 * S + 3480 * S, &amount), TILT_CLOCK_JUMP);
        assert_true(amount == 120 * S);
        /* Steady again at the new offset: no further tilt. */
        assert_int_equal(tilt_observe(&t, 60 * S, 60 * S, REAL0 + 60 * S + 3480 * S, NULL), TILT_NONE);
}

static void test_a_new_tilt_extends_the_suspension(void **state) {
        Tilt t;

        tilt_init(&t, 1 * S, 10 * S);
        assert_int_equal(tilt_observe(&t, 10 * S, 15 * S, REAL0 + 15 * S, NULL), TILT_LATE);
        assert_int_equal(tilt_observe(&t, 20 * S, 22 * S, REAL0 + 22 * S, NULL), TILT_LATE);
        assert_true(tilt_active(&t, 31 * S));
        assert_false(tilt_active(&t, 32 * S));
        assert_int_equal(t.n_tilts, 2);
}

static void test_timer_run_early_is_not_late(void **state) {
        Tilt t;

        tilt_init(&t, 1 * S, 10 * S);
        /* sd-event may run a timer within its accuracy window, a little before "due". */
        assert_int_equal(tilt_observe(&t, 10 * S, 9 * S, REAL0 + 9 * S, NULL), TILT_NONE);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_punctual_timers_do_not_tilt),
                cmocka_unit_test(test_late_timer_tilts_for_the_settle_period),
                cmocka_unit_test(test_lateness_up_to_the_margin_is_tolerated),
                cmocka_unit_test(test_realtime_jump_tilts_either_way),
                cmocka_unit_test(test_a_new_tilt_extends_the_suspension),
                cmocka_unit_test(test_timer_run_early_is_not_late),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
