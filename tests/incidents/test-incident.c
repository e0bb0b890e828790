/* Tests for incidents/incident.c: string tables, default severities and categories per event
 * kind, the incident each kind belongs to, journal priorities and the severity raise. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <syslog.h>

#include "incident.h"

static void test_string_tables_round_trip(void **state) {
        for (Severity s = 0; s < _SEVERITY_MAX; s++)
                assert_int_equal(severity_from_string(severity_to_string(s)), s);
        assert_int_equal(severity_from_string("high"), SEVERITY_HIGH);
        assert_int_equal(severity_from_string("Critical"), SEVERITY_CRITICAL);
        assert_int_equal(severity_from_string("urgent"), _SEVERITY_INVALID);
        assert_int_equal(severity_from_string(NULL), _SEVERITY_INVALID);
        assert_null(severity_to_string(_SEVERITY_MAX));

        for (Category c = 0; c < _CATEGORY_MAX; c++)
                assert_int_equal(category_from_string(category_to_string(c)), c);
        for (IncidentState s = 0; s < _INCIDENT_STATE_MAX; s++)
                assert_int_equal(incident_state_from_string(incident_state_to_string(s)), s);
        for (Resolution r = RESOLUTION_AUTO; r < _RESOLUTION_MAX; r++)
                assert_int_equal(resolution_from_string(resolution_to_string(r)), r);
        assert_null(resolution_to_string(RESOLUTION_NONE));
        for (IncidentCause c = 0; c < _CAUSE_MAX; c++)
                assert_int_equal(incident_cause_from_string(incident_cause_to_string(c)), c);
        for (EventKind k = 0; k < _EVENT_KIND_MAX; k++) {
                assert_non_null(event_kind_to_string(k));
                assert_int_equal(event_kind_from_string(event_kind_to_string(k)), k);
        }
}

static void test_defaults_per_kind(void **state) {
        assert_int_equal(event_kind_severity(EVENT_FAILED_EXIT), SEVERITY_MEDIUM);
        assert_int_equal(event_kind_severity(EVENT_CRASH), SEVERITY_HIGH);
        assert_int_equal(event_kind_severity(EVENT_UNRESPONSIVE), SEVERITY_HIGH);
        assert_int_equal(event_kind_severity(EVENT_PERMANENT_EXIT), SEVERITY_CRITICAL);
        assert_int_equal(event_kind_severity(EVENT_EXEC_FAILED), SEVERITY_CRITICAL);
        assert_int_equal(event_kind_severity(EVENT_BREAKER_OPEN), SEVERITY_CRITICAL);
        assert_int_equal(event_kind_severity(EVENT_RESOURCE_WAIT), SEVERITY_LOW);
        assert_int_equal(event_kind_severity(EVENT_PROBE_WARNING), SEVERITY_MEDIUM);
        assert_int_equal(event_kind_severity(EVENT_PROBE_CRITICAL), SEVERITY_HIGH);
        assert_int_equal(event_kind_severity(EVENT_PROBE_UNKNOWN), SEVERITY_MEDIUM);

        /* All failures of an instance, and its breaker, share one incident. */
        for (EventKind k = EVENT_CRASH; k <= EVENT_EXEC_FAILED; k++)
                assert_int_equal(event_kind_cause(k), CAUSE_FAILURE);
        assert_int_equal(event_kind_cause(EVENT_BREAKER_OPEN), CAUSE_FAILURE);
        assert_int_equal(event_kind_cause(EVENT_RESOURCE_WAIT), CAUSE_RESOURCE);
        assert_int_equal(event_kind_cause(EVENT_STORE_OUTAGE), CAUSE_STORE);
        assert_int_equal(event_kind_cause(EVENT_STORE_QUARANTINED), CAUSE_STORE_CORRUPT);
        assert_int_equal(event_kind_cause(EVENT_PROBE_WARNING), CAUSE_PROBE);
        assert_int_equal(event_kind_cause(EVENT_PROBE_CRITICAL), CAUSE_PROBE);
        assert_int_equal(event_kind_cause(EVENT_PROBE_UNKNOWN), CAUSE_PROBE_UNKNOWN);
        assert_int_equal(event_kind_cause(EVENT_VERDICT_DEFERRED), CAUSE_FAILURE);

        assert_int_equal(event_kind_category(EVENT_CRASH), CATEGORY_TRANSIENT);
        assert_int_equal(event_kind_category(EVENT_PERMANENT_EXIT), CATEGORY_PERMANENT);
        assert_int_equal(event_kind_category(EVENT_RESOURCE_WAIT), CATEGORY_RESOURCE);

        assert_true(event_kind_is_occurrence(EVENT_CRASH));
        assert_false(event_kind_is_occurrence(EVENT_BREAKER_OPEN));
        assert_false(event_kind_is_occurrence(EVENT_RESTARTED));
        assert_false(event_kind_is_occurrence(EVENT_BREAKER_CLOSED));
        assert_false(event_kind_is_occurrence(EVENT_VERDICT_DEFERRED));
        assert_true(event_kind_is_occurrence(EVENT_PROBE_WARNING));
        assert_true(event_kind_is_occurrence(EVENT_PROBE_UNKNOWN));
}

static void test_priorities(void **state) {
        assert_int_equal(severity_to_priority(SEVERITY_CRITICAL), LOG_CRIT);
        assert_int_equal(severity_to_priority(SEVERITY_HIGH), LOG_ERR);
        assert_int_equal(severity_to_priority(SEVERITY_MEDIUM), LOG_WARNING);
        assert_int_equal(severity_to_priority(SEVERITY_LOW), LOG_NOTICE);
}

static void test_severity_raised_by_repetition_and_duration(void **state) {
        assert_int_equal(incident_severity(SEVERITY_MEDIUM, 1, 0), SEVERITY_MEDIUM);
        assert_int_equal(incident_severity(SEVERITY_MEDIUM, 9, USEC_PER_HOUR - 1), SEVERITY_MEDIUM);
        assert_int_equal(incident_severity(SEVERITY_MEDIUM, 10, 0), SEVERITY_HIGH);
        assert_int_equal(incident_severity(SEVERITY_MEDIUM, 1, USEC_PER_HOUR), SEVERITY_HIGH);
        assert_int_equal(incident_severity(SEVERITY_LOW, 100, 0), SEVERITY_HIGH);
        assert_int_equal(incident_severity(SEVERITY_LOW, 1, USEC_PER_DAY), SEVERITY_HIGH);
        assert_int_equal(incident_severity(SEVERITY_HIGH, 1000, USEC_PER_DAY), SEVERITY_CRITICAL);
        assert_int_equal(incident_severity(SEVERITY_CRITICAL, 1, 0), SEVERITY_CRITICAL);
        assert_int_equal(incident_severity(_SEVERITY_INVALID, 1, 0), _SEVERITY_INVALID);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_string_tables_round_trip),
                cmocka_unit_test(test_defaults_per_kind),
                cmocka_unit_test(test_priorities),
                cmocka_unit_test(test_severity_raised_by_repetition_and_duration),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
