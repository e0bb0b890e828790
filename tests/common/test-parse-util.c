/* Unit tests for common/parse-util.c: durations, sizes, signals, modes and the duration
 * formatter, including the strictness that keeps typos from becoming surprising values. */

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "parse-util.h"

static void assert_duration(const char *s, usec_t expected) {
        usec_t u = 42;

        assert_int_equal(parse_duration(s, &u), 0);
        assert_true(u == expected);
}

static void assert_duration_fails(const char *s, int expected) {
        usec_t u = 42;

        assert_int_equal(parse_duration(s, &u), expected);
        assert_true(u == 42);
}

static void test_duration_parses_each_unit(void **state) {
        assert_duration("7us", 7);
        assert_duration("250ms", 250 * USEC_PER_MSEC);
        assert_duration("10s", 10 * USEC_PER_SEC);
        assert_duration("5m", 5 * USEC_PER_MINUTE);
        assert_duration("5min", 5 * USEC_PER_MINUTE);
        assert_duration("2h", 2 * USEC_PER_HOUR);
        assert_duration("3d", 3 * USEC_PER_DAY);
        assert_duration("1w", 7 * USEC_PER_DAY);
}

static void test_duration_sums_terms(void **state) {
        assert_duration("1h30m", USEC_PER_HOUR + 30 * USEC_PER_MINUTE);
        assert_duration("1h 30m", USEC_PER_HOUR + 30 * USEC_PER_MINUTE);
        assert_duration("1m30s500ms", 90 * USEC_PER_SEC + 500 * USEC_PER_MSEC);
        assert_duration("1min5s", 65 * USEC_PER_SEC);
}

static void test_duration_accepts_fractions(void **state) {
        assert_duration("1.5s", 1500 * USEC_PER_MSEC);
        assert_duration("0.25m", 15 * USEC_PER_SEC);
        assert_duration("2.5ms", 2500);
        /* Below a microsecond is truncated, never rounded up into a bigger value. */
        assert_duration("1.9us", 1);
        assert_duration("0.000000000001s", 0);
        assert_duration("0.1h", 6 * USEC_PER_MINUTE);
}

static void test_duration_zero_needs_no_unit(void **state) {
        assert_duration("0", 0);
        assert_duration("0s", 0);
}

static void test_duration_infinity(void **state) {
        assert_duration("infinity", USEC_INFINITY);
}

static void test_duration_rejects_number_without_unit(void **state) {
        assert_duration_fails("10", -EINVAL);
        assert_duration_fails("1h30", -EINVAL);
        assert_duration_fails("00", -EINVAL);
        assert_duration_fails("1.5", -EINVAL);
}

static void test_duration_rejects_malformed_input(void **state) {
        assert_duration_fails("", -EINVAL);
        assert_duration_fails("s", -EINVAL);
        assert_duration_fails("-1s", -EINVAL);
        assert_duration_fails("+1s", -EINVAL);
        assert_duration_fails(" 1s", -EINVAL);
        assert_duration_fails("1s ", -EINVAL);
        assert_duration_fails("1 s", -EINVAL);
        assert_duration_fails("1sec", -EINVAL);
        assert_duration_fails("1mins", -EINVAL);
        assert_duration_fails("1x", -EINVAL);
        assert_duration_fails(".5s", -EINVAL);
        assert_duration_fails("1.s", -EINVAL);
        assert_duration_fails("1S", -EINVAL);
        assert_duration_fails("inf", -EINVAL);
        assert_duration_fails("10s,", -EINVAL);
}

static void test_duration_reports_overflow(void **state) {
        assert_duration_fails("99999999999999999999s", -ERANGE);
        assert_duration_fails("40000000w", -ERANGE);
        assert_duration_fails("18446744073709551615us", -ERANGE);
        assert_duration("18446744073709551614us", UINT64_MAX - 1);
}

static void assert_size(const char *s, uint64_t expected) {
        uint64_t v = 42;

        assert_int_equal(parse_size(s, &v), 0);
        assert_true(v == expected);
}

static void assert_size_fails(const char *s, int expected) {
        uint64_t v = 42;

        assert_int_equal(parse_size(s, &v), expected);
        assert_true(v == 42);
}

static void test_size_plain_digits_are_bytes(void **state) {
        assert_size("0", 0);
        assert_size("4096", 4096);
}

static void test_size_binary_suffixes(void **state) {
        assert_size("4K", 4096);
        assert_size("4k", 4096);
        assert_size("512M", 512ULL << 20);
        assert_size("1G", 1ULL << 30);
        assert_size("1T", 1ULL << 40);
        assert_size("1GiB", 1ULL << 30);
        assert_size("1GB", 1ULL << 30);
        assert_size("100B", 100);
        assert_size("1.5K", 1536);
        assert_size("0.1K", 102);
}

static void test_size_rejects_malformed_input(void **state) {
        assert_size_fails("", -EINVAL);
        assert_size_fails("M", -EINVAL);
        assert_size_fails("-1", -EINVAL);
        assert_size_fails("1.5", -EINVAL);
        assert_size_fails("1X", -EINVAL);
        assert_size_fails("1 M", -EINVAL);
        assert_size_fails("1Mi", -EINVAL);
        assert_size_fails("1MBB", -EINVAL);
}

static void test_size_reports_overflow(void **state) {
        assert_size_fails("16777216T", -ERANGE);
        assert_size_fails("99999999999999999999", -ERANGE);
        assert_size("16777215T", 16777215ULL << 40);
}

static void test_signal_accepts_names_with_and_without_prefix(void **state) {
        int s = 0;

        assert_int_equal(parse_signal("TERM", &s), 0);
        assert_int_equal(s, SIGTERM);
        assert_int_equal(parse_signal("SIGINT", &s), 0);
        assert_int_equal(s, SIGINT);
        assert_int_equal(parse_signal("KILL", &s), 0);
        assert_int_equal(s, SIGKILL);
        assert_int_equal(parse_signal("SIGUSR2", &s), 0);
        assert_int_equal(s, SIGUSR2);
        assert_int_equal(parse_signal("RTMIN", &s), 0);
        assert_int_equal(s, SIGRTMIN);
        assert_int_equal(parse_signal("SIGRTMIN+3", &s), 0);
        assert_int_equal(s, SIGRTMIN + 3);
        assert_int_equal(parse_signal("RTMAX-1", &s), 0);
        assert_int_equal(s, SIGRTMAX - 1);
}

static void test_signal_accepts_numbers_1_to_64(void **state) {
        int s = 0;

        assert_int_equal(parse_signal("15", &s), 0);
        assert_int_equal(s, 15);
        assert_int_equal(parse_signal("1", &s), 0);
        assert_int_equal(s, 1);
        assert_int_equal(parse_signal("64", &s), 0);
        assert_int_equal(s, 64);
}

static void test_signal_rejects_unknown_or_out_of_range(void **state) {
        int s = 42;

        assert_int_equal(parse_signal("0", &s), -ERANGE);
        assert_int_equal(parse_signal("65", &s), -ERANGE);
        assert_int_equal(parse_signal("99999999999", &s), -ERANGE);
        assert_int_equal(parse_signal("term", &s), -EINVAL);
        assert_int_equal(parse_signal("SIGFOO", &s), -EINVAL);
        assert_int_equal(parse_signal("", &s), -EINVAL);
        assert_int_equal(parse_signal("SIG", &s), -EINVAL);
        assert_int_equal(parse_signal("-15", &s), -EINVAL);
        assert_int_equal(parse_signal("15x", &s), -EINVAL);
        assert_int_equal(parse_signal("RTMIN+", &s), -EINVAL);
        assert_int_equal(parse_signal("RTMIN-1", &s), -EINVAL);
        assert_int_equal(parse_signal("RTMIN+100", &s), -ERANGE);
        assert_int_equal(s, 42);
}

static void test_mode_parses_octal(void **state) {
        mode_t m = 0;

        assert_int_equal(parse_mode("022", &m), 0);
        assert_int_equal(m, 0022);
        assert_int_equal(parse_mode("0027", &m), 0);
        assert_int_equal(m, 0027);
        assert_int_equal(parse_mode("0", &m), 0);
        assert_int_equal(m, 0);
        assert_int_equal(parse_mode("777", &m), 0);
        assert_int_equal(m, 0777);
}

static void test_mode_rejects_non_octal_and_too_large(void **state) {
        mode_t m = 042;

        assert_int_equal(parse_mode("", &m), -EINVAL);
        assert_int_equal(parse_mode("089", &m), -EINVAL);
        assert_int_equal(parse_mode("0x1f", &m), -EINVAL);
        assert_int_equal(parse_mode(" 022", &m), -EINVAL);
        assert_int_equal(parse_mode("1000", &m), -ERANGE);
        assert_int_equal(parse_mode("7777777777777777777777", &m), -ERANGE);
        assert_int_equal(m, 042);
}

static void test_format_duration_is_compact(void **state) {
        char buf[FORMAT_DURATION_MAX];

        assert_string_equal(format_duration(buf, sizeof(buf), 0), "0");
        assert_string_equal(format_duration(buf, sizeof(buf), USEC_INFINITY), "infinity");
        assert_string_equal(format_duration(buf, sizeof(buf), 250 * USEC_PER_MSEC), "250ms");
        assert_string_equal(format_duration(buf, sizeof(buf), 90 * USEC_PER_SEC), "1m30s");
        assert_string_equal(format_duration(buf, sizeof(buf), USEC_PER_HOUR + 1), "1h1us");
        assert_string_equal(format_duration(buf, sizeof(buf), 8 * USEC_PER_DAY), "1w1d");
}

static void test_format_duration_round_trips_through_parse(void **state) {
        static const usec_t values[] = {
                1, 999, 1500 * USEC_PER_MSEC, 5 * USEC_PER_MINUTE, 36 * USEC_PER_HOUR + 7, UINT64_MAX - 1
        };
        char buf[FORMAT_DURATION_MAX];

        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
                usec_t u;

                assert_int_equal(parse_duration(format_duration(buf, sizeof(buf), values[i]), &u), 0);
                assert_true(u == values[i]);
        }
}

static void test_format_duration_approx_rounds_to_accuracy(void **state) {
        char buf[FORMAT_DURATION_MAX];

        assert_string_equal(format_duration_approx(buf, sizeof(buf), 641406, USEC_PER_MSEC), "641ms");
        assert_string_equal(format_duration_approx(buf, sizeof(buf), 641600, USEC_PER_MSEC), "642ms");
        assert_string_equal(format_duration_approx(buf, sizeof(buf), 1037978, USEC_PER_MSEC), "1s38ms");
        /* Below the accuracy the exact value stays: a real delay never reads as "0". */
        assert_string_equal(format_duration_approx(buf, sizeof(buf), 400, USEC_PER_MSEC), "400us");
        assert_string_equal(format_duration_approx(buf, sizeof(buf), 0, USEC_PER_MSEC), "0");
        assert_string_equal(format_duration_approx(buf, sizeof(buf), USEC_INFINITY, USEC_PER_MSEC), "infinity");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_duration_parses_each_unit),
                cmocka_unit_test(test_duration_sums_terms),
                cmocka_unit_test(test_duration_accepts_fractions),
                cmocka_unit_test(test_duration_zero_needs_no_unit),
                cmocka_unit_test(test_duration_infinity),
                cmocka_unit_test(test_duration_rejects_number_without_unit),
                cmocka_unit_test(test_duration_rejects_malformed_input),
                cmocka_unit_test(test_duration_reports_overflow),
                cmocka_unit_test(test_size_plain_digits_are_bytes),
                cmocka_unit_test(test_size_binary_suffixes),
                cmocka_unit_test(test_size_rejects_malformed_input),
                cmocka_unit_test(test_size_reports_overflow),
                cmocka_unit_test(test_signal_accepts_names_with_and_without_prefix),
                cmocka_unit_test(test_signal_accepts_numbers_1_to_64),
                cmocka_unit_test(test_signal_rejects_unknown_or_out_of_range),
                cmocka_unit_test(test_mode_parses_octal),
                cmocka_unit_test(test_mode_rejects_non_octal_and_too_large),
                cmocka_unit_test(test_format_duration_is_compact),
                cmocka_unit_test(test_format_duration_round_trips_through_parse),
                cmocka_unit_test(test_format_duration_approx_rounds_to_accuracy),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
