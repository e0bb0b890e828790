/* Tests for incidents/health.c: the thresholds of the health verdict, unhealthy winning over
 * degraded, the reasons given, and a short buffer truncated, never overflowed. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "health.h"

static void test_health_verdict_thresholds(void **state) {
        HealthInput in = { .vigild_alive = true, .max_open = 10, .max_opened_recently = 20 };
        char why[256];

        assert_int_equal(health_verdict(&in, why, sizeof why), HEALTH_HEALTHY);
        assert_string_equal(why, "0 incident(s) open, 0 opened in 24h");

        in.open = 10;   /* at the threshold: still healthy */
        in.opened_recently = 20;
        assert_int_equal(health_verdict(&in, why, sizeof why), HEALTH_HEALTHY);
        in.open = 11;
        assert_int_equal(health_verdict(&in, why, sizeof why), HEALTH_DEGRADED);
        assert_string_equal(why, "11 incidents open (more than 10)");
        in.open = 0;
        in.opened_recently = 21;
        assert_int_equal(health_verdict(&in, why, sizeof why), HEALTH_DEGRADED);
        assert_string_equal(why, "21 opened in 24h (more than 20)");
        in.opened_recently = 0;
        in.store_degraded = true;
        assert_int_equal(health_verdict(&in, why, sizeof why), HEALTH_DEGRADED);
        assert_non_null(strstr(why, "cannot be written"));

        /* Unhealthy wins over degraded, and every reason is given. */
        in.open = 12;
        in.open_critical = 1;
        assert_int_equal(health_verdict(&in, why, sizeof why), HEALTH_UNHEALTHY);
        assert_string_equal(why, "1 CRITICAL incident(s) open; 12 incidents open (more than 10); "
                                 "the incident store cannot be written (vigild holds events in memory)");
        in = (HealthInput) { .vigild_alive = false, .max_open = 10, .max_opened_recently = 20 };
        assert_int_equal(health_verdict(&in, why, sizeof why), HEALTH_UNHEALTHY);
        assert_string_equal(why, "no vigild is running");

        /* A small buffer truncates, never overflows. */
        in.open_critical = 3;
        assert_int_equal(health_verdict(&in, why, 8), HEALTH_UNHEALTHY);
        assert_int_equal(strlen(why), 7);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_health_verdict_thresholds),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
