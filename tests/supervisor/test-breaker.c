/* Unit tests for supervisor/breaker.c: opening at exactly `failures` within the window and not
 * for failures spread wider, the half-open time, the single trial, closing on success,
 * re-opening on a failed trial, the operator reset, and window/deadline arithmetic at the
 * edges of usec_t. Time is passed in; no clock is read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "breaker.h"

#define SEC USEC_PER_SEC

/* failures = 5 within 2 minutes opens it for 60 seconds. */
static const BreakerConfig config = {
        .failures = 5,
        .window = 2 * USEC_PER_MINUTE,
        .open_for = 60 * SEC,
        .trial_ok = 30 * SEC,
};

static BreakerState failure_at(Breaker *b, usec_t t, bool expect_changed) {
        bool changed = !expect_changed;
        BreakerState s;

        s = breaker_record_failure(b, &config, t, &changed);
        assert_int_equal(changed, expect_changed);
        return s;
}

/* Five failures one second apart starting at t0: the breaker is OPEN at t0 + 4s. */
static void open_breaker(Breaker *b, usec_t t0) {
        for (unsigned i = 0; i < 4; i++)
                assert_int_equal(failure_at(b, t0 + i * SEC, false), BREAKER_CLOSED);
        assert_int_equal(failure_at(b, t0 + 4 * SEC, true), BREAKER_OPEN);
}

static void test_new_breaker_is_closed_and_admits(void **state) {
        Breaker b;

        breaker_init(&b);
        assert_int_equal(b.state, BREAKER_CLOSED);
        assert_int_equal(b.n_tally, 0);
        assert_int_equal(b.n_opened, 0);
        assert_true(breaker_admit(&b));
        assert_true(breaker_admit(&b));
        assert_int_equal(breaker_failures_in_window(&b, &config, 100 * SEC), 0);
        assert_int_equal(breaker_next_deadline(&b, &config), USEC_INFINITY);
}

static void test_opens_at_exactly_failures_within_window(void **state) {
        usec_t t0 = 1000 * SEC;
        Breaker b;

        breaker_init(&b);
        for (unsigned i = 0; i < 4; i++) {
                assert_int_equal(failure_at(&b, t0 + i * SEC, false), BREAKER_CLOSED);
                assert_true(breaker_admit(&b));
        }
        assert_int_equal(breaker_failures_in_window(&b, &config, t0 + 3 * SEC), 4);

        assert_int_equal(failure_at(&b, t0 + 4 * SEC, true), BREAKER_OPEN);
        assert_int_equal(b.opened_at, t0 + 4 * SEC);
        assert_int_equal(b.n_opened, 1);
        assert_false(b.trial_running);
        assert_false(breaker_admit(&b));
        assert_int_equal(breaker_next_deadline(&b, &config), t0 + 64 * SEC);
}

static void test_failures_spread_beyond_window_do_not_open(void **state) {
        usec_t t0 = 1000 * SEC;
        Breaker b;

        /* One failure every 31 s: any 2-minute window holds at most 4 of them. */
        breaker_init(&b);
        for (unsigned i = 0; i < 100; i++) {
                assert_int_equal(failure_at(&b, t0 + i * 31 * SEC, false), BREAKER_CLOSED);
                assert_true(breaker_failures_in_window(&b, &config, t0 + i * 31 * SEC) <= 4);
        }
        assert_int_equal(b.n_opened, 0);
        assert_true(breaker_admit(&b));
}

static void test_failure_exactly_window_old_is_outside(void **state) {
        usec_t t0 = 1000 * SEC;
        Breaker b;

        /* Four failures at t0, the fifth exactly one window later: the window is (now - window,
         * now], so the first four have just left it. */
        breaker_init(&b);
        for (unsigned i = 0; i < 4; i++)
                assert_int_equal(failure_at(&b, t0, false), BREAKER_CLOSED);
        assert_int_equal(breaker_failures_in_window(&b, &config, t0 + config.window - 1), 4);
        assert_int_equal(breaker_failures_in_window(&b, &config, t0 + config.window), 0);
        assert_int_equal(failure_at(&b, t0 + config.window, false), BREAKER_CLOSED);

        /* One microsecond earlier they would all still have counted. */
        breaker_init(&b);
        for (unsigned i = 0; i < 4; i++)
                assert_int_equal(failure_at(&b, t0, false), BREAKER_CLOSED);
        assert_int_equal(failure_at(&b, t0 + config.window - 1, true), BREAKER_OPEN);
}

static void test_window_reaching_before_zero_counts_everything(void **state) {
        Breaker b;

        /* now < window: "now - window" would wrap around and count nothing. */
        breaker_init(&b);
        assert_int_equal(failure_at(&b, 0, false), BREAKER_CLOSED);
        assert_int_equal(failure_at(&b, 1, false), BREAKER_CLOSED);
        assert_int_equal(failure_at(&b, 10 * SEC, false), BREAKER_CLOSED);
        assert_int_equal(breaker_failures_in_window(&b, &config, 10 * SEC), 3);
        assert_int_equal(breaker_failures_in_window(&b, &config, config.window), 2);
        assert_int_equal(breaker_failures_in_window(&b, &config, config.window + 1), 1);
}

static void test_infinite_window_counts_every_remembered_failure(void **state) {
        BreakerConfig c = config;
        Breaker b;

        c.window = USEC_INFINITY;
        breaker_init(&b);
        for (unsigned i = 0; i < 4; i++)
                assert_int_equal(breaker_record_failure(&b, &c, i * USEC_PER_DAY, NULL), BREAKER_CLOSED);
        assert_int_equal(breaker_record_failure(&b, &c, 1000 * USEC_PER_DAY, NULL), BREAKER_OPEN);
}

static void test_ring_remembers_the_newest_failures(void **state) {
        BreakerConfig c = config;
        Breaker b;

        /* failures = 0 keeps it closed, so the ring can be filled past its size. */
        c.failures = 0;
        c.window = 30 * SEC;
        breaker_init(&b);
        for (unsigned i = 0; i < 3 * BREAKER_TALLY_MAX + 5; i++)
                assert_int_equal(breaker_record_failure(&b, &c, (usec_t) i * SEC, NULL), BREAKER_CLOSED);

        assert_int_equal(b.n_tally, BREAKER_TALLY_MAX);
        assert_int_equal(breaker_failures_in_window(&b, &c, (3 * BREAKER_TALLY_MAX + 4) * SEC),
                         30);

        c.window = USEC_INFINITY;
        assert_int_equal(breaker_failures_in_window(&b, &c, (3 * BREAKER_TALLY_MAX + 4) * SEC),
                         BREAKER_TALLY_MAX);
}

static void test_failures_above_tally_size_are_capped(void **state) {
        BreakerConfig c = config;
        Breaker b;

        c.failures = 1000;
        breaker_init(&b);
        for (unsigned i = 0; i < BREAKER_TALLY_MAX - 1; i++)
                assert_int_equal(breaker_record_failure(&b, &c, i, NULL), BREAKER_CLOSED);
        assert_int_equal(breaker_record_failure(&b, &c, BREAKER_TALLY_MAX, NULL), BREAKER_OPEN);
}

static void test_zero_failures_disables_the_breaker(void **state) {
        BreakerConfig c = config;
        Breaker b;

        c.failures = 0;
        breaker_init(&b);
        for (unsigned i = 0; i < 1000; i++)
                assert_int_equal(breaker_record_failure(&b, &c, i, NULL), BREAKER_CLOSED);
        assert_true(breaker_admit(&b));
}

static void test_failures_while_open_keep_it_open(void **state) {
        usec_t t0 = 1000 * SEC;
        Breaker b;

        breaker_init(&b);
        open_breaker(&b, t0);

        assert_int_equal(failure_at(&b, t0 + 10 * SEC, false), BREAKER_OPEN);
        assert_int_equal(failure_at(&b, t0 + 20 * SEC, false), BREAKER_OPEN);
        assert_int_equal(b.opened_at, t0 + 4 * SEC);
        assert_int_equal(b.n_opened, 1);
        assert_int_equal(breaker_failures_in_window(&b, &config, t0 + 20 * SEC), 7);
        assert_int_equal(breaker_next_deadline(&b, &config), t0 + 64 * SEC);
}

static void test_half_opens_only_after_open_for(void **state) {
        usec_t t0 = 1000 * SEC, opened = t0 + 4 * SEC;
        Breaker b;

        breaker_init(&b);
        open_breaker(&b, t0);

        assert_false(breaker_tick(&b, &config, opened));
        assert_false(breaker_tick(&b, &config, opened + config.open_for - 1));
        assert_int_equal(b.state, BREAKER_OPEN);
        assert_false(breaker_admit(&b));

        assert_true(breaker_tick(&b, &config, opened + config.open_for));
        assert_int_equal(b.state, BREAKER_HALF_OPEN);
        assert_false(b.trial_running);
        assert_int_equal(breaker_next_deadline(&b, &config), USEC_INFINITY);

        /* A late tick changes nothing more. */
        assert_false(breaker_tick(&b, &config, opened + 10 * config.open_for));
        assert_int_equal(b.state, BREAKER_HALF_OPEN);
}

static void test_tick_past_deadline_half_opens(void **state) {
        usec_t t0 = 1000 * SEC;
        Breaker b;

        /* The timer may fire late; it must still half-open. */
        breaker_init(&b);
        open_breaker(&b, t0);
        assert_true(breaker_tick(&b, &config, t0 + USEC_PER_HOUR));
        assert_int_equal(b.state, BREAKER_HALF_OPEN);
}

static void test_tick_when_not_open_does_nothing(void **state) {
        Breaker b;

        breaker_init(&b);
        assert_false(breaker_tick(&b, &config, 0));
        assert_false(breaker_tick(&b, &config, USEC_INFINITY));
        assert_int_equal(b.state, BREAKER_CLOSED);
}

static void test_half_open_admits_exactly_one_trial(void **state) {
        usec_t t0 = 1000 * SEC;
        Breaker b;

        breaker_init(&b);
        open_breaker(&b, t0);
        assert_true(breaker_tick(&b, &config, t0 + 4 * SEC + config.open_for));

        assert_true(breaker_admit(&b));
        assert_true(b.trial_running);
        for (unsigned i = 0; i < 10; i++)
                assert_false(breaker_admit(&b));
        assert_int_equal(b.state, BREAKER_HALF_OPEN);
}

static void test_successful_trial_closes(void **state) {
        usec_t t0 = 1000 * SEC, t;
        Breaker b;

        breaker_init(&b);
        open_breaker(&b, t0);
        t = t0 + 4 * SEC + config.open_for;
        assert_true(breaker_tick(&b, &config, t));
        assert_true(breaker_admit(&b));

        assert_true(breaker_record_success(&b));
        assert_int_equal(b.state, BREAKER_CLOSED);
        assert_int_equal(b.n_tally, 0);
        assert_false(b.trial_running);
        assert_int_equal(breaker_failures_in_window(&b, &config, t), 0);
        assert_true(breaker_admit(&b));
        assert_true(breaker_admit(&b));
        assert_int_equal(breaker_next_deadline(&b, &config), USEC_INFINITY);

        /* The old tally is gone: it takes a full `failures` again to re-open. */
        for (unsigned i = 1; i <= 4; i++)
                assert_int_equal(failure_at(&b, t + i, false), BREAKER_CLOSED);
        assert_int_equal(failure_at(&b, t + 5, true), BREAKER_OPEN);
        assert_int_equal(b.n_opened, 2);
}

static void test_success_outside_half_open_changes_nothing(void **state) {
        usec_t t0 = 1000 * SEC;
        Breaker b;

        breaker_init(&b);
        assert_int_equal(failure_at(&b, t0, false), BREAKER_CLOSED);
        assert_false(breaker_record_success(&b));
        assert_int_equal(b.state, BREAKER_CLOSED);
        assert_int_equal(b.n_tally, 1);

        breaker_init(&b);
        open_breaker(&b, t0);
        assert_false(breaker_record_success(&b));
        assert_int_equal(b.state, BREAKER_OPEN);
        assert_int_equal(b.n_tally, 5);
}

static void test_failed_trial_reopens(void **state) {
        usec_t t0 = 1000 * SEC, t;
        Breaker b;

        breaker_init(&b);
        open_breaker(&b, t0);
        t = t0 + 4 * SEC + config.open_for;
        assert_true(breaker_tick(&b, &config, t));
        assert_true(breaker_admit(&b));

        assert_int_equal(failure_at(&b, t + 2 * SEC, true), BREAKER_OPEN);
        assert_int_equal(b.opened_at, t + 2 * SEC);
        assert_int_equal(b.n_opened, 2);
        assert_false(b.trial_running);
        assert_false(breaker_admit(&b));
        assert_int_equal(breaker_next_deadline(&b, &config), t + 2 * SEC + config.open_for);

        /* And the cycle repeats: half-open again after another open_for, one more trial. */
        assert_false(breaker_tick(&b, &config, t + 2 * SEC + config.open_for - 1));
        assert_true(breaker_tick(&b, &config, t + 2 * SEC + config.open_for));
        assert_true(breaker_admit(&b));
        assert_false(breaker_admit(&b));
}

static void test_reset_closes_and_clears_tally(void **state) {
        usec_t t0 = 1000 * SEC;
        Breaker b;

        breaker_init(&b);
        open_breaker(&b, t0);
        breaker_reset(&b);

        assert_int_equal(b.state, BREAKER_CLOSED);
        assert_int_equal(b.n_tally, 0);
        assert_false(b.trial_running);
        assert_true(breaker_admit(&b));
        assert_int_equal(breaker_failures_in_window(&b, &config, t0 + 5 * SEC), 0);
        assert_int_equal(breaker_next_deadline(&b, &config), USEC_INFINITY);
        /* How often it opened is history for status, not state. */
        assert_int_equal(b.n_opened, 1);

        /* With the old tally kept, one more failure would re-open it at once. */
        assert_int_equal(failure_at(&b, t0 + 5 * SEC, false), BREAKER_CLOSED);

        /* Reset from HALF_OPEN with a trial running, too. */
        breaker_init(&b);
        open_breaker(&b, t0);
        assert_true(breaker_tick(&b, &config, t0 + USEC_PER_HOUR));
        assert_true(breaker_admit(&b));
        breaker_reset(&b);
        assert_int_equal(b.state, BREAKER_CLOSED);
        assert_false(b.trial_running);
        assert_true(breaker_admit(&b));
}

static void test_deadline_saturates(void **state) {
        BreakerConfig c = config;
        Breaker b;

        c.failures = 1;
        c.open_for = USEC_INFINITY;
        breaker_init(&b);
        assert_int_equal(breaker_record_failure(&b, &c, 5 * SEC, NULL), BREAKER_OPEN);
        assert_int_equal(breaker_next_deadline(&b, &c), USEC_INFINITY);
        assert_false(breaker_tick(&b, &c, UINT64_MAX - 1));
        assert_int_equal(b.state, BREAKER_OPEN);

        c.open_for = 60 * SEC;
        breaker_init(&b);
        assert_int_equal(breaker_record_failure(&b, &c, UINT64_MAX - SEC, NULL), BREAKER_OPEN);
        assert_int_equal(breaker_next_deadline(&b, &c), USEC_INFINITY);
}

static void test_zero_open_for_half_opens_at_once(void **state) {
        BreakerConfig c = config;
        Breaker b;

        c.failures = 1;
        c.open_for = 0;
        breaker_init(&b);
        assert_int_equal(breaker_record_failure(&b, &c, 7 * SEC, NULL), BREAKER_OPEN);
        assert_int_equal(breaker_next_deadline(&b, &c), 7 * SEC);
        assert_true(breaker_tick(&b, &c, 7 * SEC));
        assert_int_equal(b.state, BREAKER_HALF_OPEN);
}

static void test_state_strings_round_trip(void **state) {
        for (BreakerState s = 0; s < _BREAKER_STATE_MAX; s++) {
                assert_non_null(breaker_state_to_string(s));
                assert_int_equal(breaker_state_from_string(breaker_state_to_string(s)), s);
        }
        assert_string_equal(breaker_state_to_string(BREAKER_HALF_OPEN), "half-open");
        assert_null(breaker_state_to_string(_BREAKER_STATE_MAX));
        assert_int_equal(breaker_state_from_string("ajar"), _BREAKER_STATE_INVALID);
}

static void test_restore_keeps_failures_in_the_window(void **state) {
        const usec_t t0 = 1000 * SEC, failures[] = { t0, t0 + SEC, t0 + 2 * SEC, t0 + 3 * SEC };
        Breaker b;

        breaker_restore(&b, BREAKER_CLOSED, failures, ELEMENTSOF(failures), 0, 2);
        assert_int_equal(b.state, BREAKER_CLOSED);
        assert_int_equal(b.n_opened, 2);
        assert_int_equal(breaker_failures_in_window(&b, &config, t0 + 4 * SEC), 4);
        /* The fifth failure is the one that opens it, as if vigild had never restarted. */
        assert_int_equal(failure_at(&b, t0 + 4 * SEC, true), BREAKER_OPEN);
        assert_int_equal(b.n_opened, 3);
}

static void test_restore_open_keeps_its_deadline(void **state) {
        const usec_t t0 = 1000 * SEC;
        Breaker b;

        breaker_restore(&b, BREAKER_OPEN, NULL, 0, t0, 1);
        assert_int_equal(b.state, BREAKER_OPEN);
        assert_int_equal(b.n_opened, 1);
        assert_false(breaker_admit(&b));
        assert_int_equal(breaker_next_deadline(&b, &config), t0 + config.open_for);
        assert_false(breaker_tick(&b, &config, t0 + config.open_for - 1));
        assert_true(breaker_tick(&b, &config, t0 + config.open_for));
        assert_int_equal(b.state, BREAKER_HALF_OPEN);
}

static void test_restore_half_open_comes_back_open_then_trial(void **state) {
        const usec_t now = 1000 * SEC;
        Breaker b;

        /* The caller passes an opened_at whose deadline has passed: the next tick half-opens. */
        breaker_restore(&b, BREAKER_HALF_OPEN, NULL, 0, now - config.open_for, 4);
        assert_int_equal(b.state, BREAKER_OPEN);
        assert_true(breaker_tick(&b, &config, now));
        assert_true(breaker_admit(&b));
        assert_false(breaker_admit(&b));
        assert_int_equal(b.n_opened, 4);
}

static void test_trial_abort_admits_the_next_start(void **state) {
        Breaker b;

        breaker_init(&b);
        open_breaker(&b, 1000 * SEC);
        breaker_trial_abort(&b);     /* no effect while open */
        assert_false(breaker_admit(&b));
        assert_true(breaker_tick(&b, &config, 2000 * SEC));
        assert_true(breaker_admit(&b));
        assert_false(breaker_admit(&b));
        breaker_trial_abort(&b);
        assert_int_equal(b.state, BREAKER_HALF_OPEN);
        assert_true(breaker_admit(&b));
        assert_false(breaker_admit(&b));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_new_breaker_is_closed_and_admits),
                cmocka_unit_test(test_opens_at_exactly_failures_within_window),
                cmocka_unit_test(test_failures_spread_beyond_window_do_not_open),
                cmocka_unit_test(test_failure_exactly_window_old_is_outside),
                cmocka_unit_test(test_window_reaching_before_zero_counts_everything),
                cmocka_unit_test(test_infinite_window_counts_every_remembered_failure),
                cmocka_unit_test(test_ring_remembers_the_newest_failures),
                cmocka_unit_test(test_failures_above_tally_size_are_capped),
                cmocka_unit_test(test_zero_failures_disables_the_breaker),
                cmocka_unit_test(test_failures_while_open_keep_it_open),
                cmocka_unit_test(test_half_opens_only_after_open_for),
                cmocka_unit_test(test_tick_past_deadline_half_opens),
                cmocka_unit_test(test_tick_when_not_open_does_nothing),
                cmocka_unit_test(test_half_open_admits_exactly_one_trial),
                cmocka_unit_test(test_successful_trial_closes),
                cmocka_unit_test(test_success_outside_half_open_changes_nothing),
                cmocka_unit_test(test_failed_trial_reopens),
                cmocka_unit_test(test_reset_closes_and_clears_tally),
                cmocka_unit_test(test_deadline_saturates),
                cmocka_unit_test(test_zero_open_for_half_opens_at_once),
                cmocka_unit_test(test_state_strings_round_trip),
                cmocka_unit_test(test_restore_keeps_failures_in_the_window),
                cmocka_unit_test(test_restore_open_keeps_its_deadline),
                cmocka_unit_test(test_restore_half_open_comes_back_open_then_trial),
                cmocka_unit_test(test_trial_abort_admits_the_next_start),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
