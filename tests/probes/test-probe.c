/* The probe plumbing every kind shares: judging a value against thresholds (absolute and
 * percent, either direction, no base for a percentage), the bounded message and evidence,
 * the status strings, and the sample contract (a failing check is UNKNOWN with its error; an
 * async result is delivered once; a cancelled sample is never delivered). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "probe.h"

static ProbeKindSpec higher = { .kind = "fake", .threshold_units = THRESHOLD_COUNT | THRESHOLD_PERCENT };
static ProbeKindSpec lower = { .kind = "fake", .threshold_units = THRESHOLD_BYTES | THRESHOLD_PERCENT,
                               .lower_is_worse = true };

static void test_judge_higher_is_worse(void **state) {
        ProbeConfig pc = { .spec = &higher,
                           .warning = { true, THRESHOLD_COUNT, 100 },
                           .critical = { true, THRESHOLD_PERCENT, 90 } };
        ProbeResult r;

        probe_result_init(&r);
        probe_result_judge(&r, &pc, 50, 40);
        assert_int_equal(r.status, PROBE_OK);
        assert_true(r.threshold == 100);
        probe_result_judge(&r, &pc, 150, 40);
        assert_int_equal(r.status, PROBE_WARNING);
        assert_true(r.threshold == 100);
        probe_result_judge(&r, &pc, 150, 95);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_true(r.threshold == 90);
        /* At the threshold is not past it. */
        probe_result_judge(&r, &pc, 100, 90);
        assert_int_equal(r.status, PROBE_OK);
        /* A percentage with nothing to take it of: the probe cannot judge. */
        probe_result_judge(&r, &pc, 50, NAN);
        assert_int_equal(r.status, PROBE_UNKNOWN);
}

static void test_judge_lower_is_worse(void **state) {
        ProbeConfig pc = { .spec = &lower,
                           .warning = { true, THRESHOLD_PERCENT, 10 },
                           .critical = { true, THRESHOLD_BYTES, 1024 } };
        ProbeResult r;

        probe_result_init(&r);
        probe_result_judge(&r, &pc, 4096, 50);
        assert_int_equal(r.status, PROBE_OK);
        probe_result_judge(&r, &pc, 4096, 5);
        assert_int_equal(r.status, PROBE_WARNING);
        probe_result_judge(&r, &pc, 1000, 50);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_true(r.value == 1000);
}

static void test_message_and_evidence_are_bounded(void **state) {
        char big[PROBE_EVIDENCE_MAX];
        ProbeResult r;

        probe_result_init(&r);
        assert_true(isnan(r.value) && isnan(r.threshold));
        probe_result_evidence(&r, "\"a\":%d", 1);
        probe_result_evidence(&r, "\"b\":\"%s\"", "x");
        assert_string_equal(r.evidence, "\"a\":1,\"b\":\"x\"");
        /* A member that does not fit is dropped whole, never cut. */
        memset(big, 'y', sizeof big - 1);
        big[sizeof big - 1] = 0;
        probe_result_evidence(&r, "\"c\":\"%s\"", big);
        assert_string_equal(r.evidence, "\"a\":1,\"b\":\"x\"");
        probe_result_message(&r, "%s", big);
        assert_int_equal(strlen(r.message), PROBE_MESSAGE_MAX - 1);
}

static void test_status_strings(void **state) {
        for (ProbeStatus s = 0; s < _PROBE_STATUS_MAX; s++)
                assert_int_equal(probe_status_from_string(probe_status_to_string(s)), s);
        assert_string_equal(probe_status_to_string(PROBE_CRITICAL), "critical");
        assert_int_equal(probe_status_from_string("bogus"), _PROBE_STATUS_INVALID);
}

/* A fake kind: fails, answers at once, or answers later, as `mode` says. */
static int mode, cancels, delivered;
static ProbeStatus delivered_status;

static int fake_check(ProbeCheck *c, const ProbeTarget *t, ProbeResult *ret) {
        switch (mode) {
        case 0:
                return -EACCES;
        case 1:
                ret->status = PROBE_WARNING;
                return 0;
        default:
                return 1;
        }
}

static void fake_cancel(ProbeCheck *c) {
        cancels++;
}

static const ProbeOps fake_ops = {
        .spec = { .kind = "fake" },
        .state_size = 16,
        .check = fake_check,
        .cancel = fake_cancel,
};

static void on_done(ProbeCheck *c, const ProbeResult *r, void *userdata) {
        delivered++;
        delivered_status = r->status;
}

static void test_sample_contract(void **state) {
        ProbeConfig pc = { .spec = &fake_ops.spec, .kind = (char *) "fake" };
        ProbeTarget t = { .instance = -1 };
        ProbeCheck c;
        ProbeResult r, later;

        assert_int_equal(probe_check_init(&c, &fake_ops, &pc, NULL, on_done, NULL), 0);
        assert_non_null(c.state);

        mode = 0;
        assert_int_equal(probe_check_start(&c, &t, &r), 0);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_string_equal(r.message, "fake probe cannot run: Permission denied");

        mode = 1;
        assert_int_equal(probe_check_start(&c, &t, &r), 0);
        assert_int_equal(r.status, PROBE_WARNING);
        assert_false(c.pending);

        mode = 2;
        assert_int_equal(probe_check_start(&c, &t, &r), 1);
        assert_true(c.pending);
        probe_result_init(&later);
        later.status = PROBE_CRITICAL;
        probe_check_done(&c, &later);
        assert_int_equal(delivered, 1);
        assert_int_equal(delivered_status, PROBE_CRITICAL);
        assert_false(c.pending);

        /* Cancelled: the kind is told once, nothing is delivered, and release does not cancel
         * again. */
        assert_int_equal(probe_check_start(&c, &t, &r), 1);
        probe_check_cancel(&c);
        probe_check_cancel(&c);
        assert_int_equal(cancels, 1);
        probe_check_release(&c);
        assert_int_equal(cancels, 1);
        assert_int_equal(delivered, 1);
        assert_null(c.state);
}

static void test_registry(void **state) {
        const ProbeKindSpec *s;
        size_t n = 0;

        for (; (s = probe_kind_spec_at(n)); n++)
                assert_ptr_equal(&probe_ops_find(s->kind)->spec, s);
        assert_true(n >= 1);
        assert_null(probe_ops_find("no-such-kind"));
        assert_null(probe_ops_find(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_judge_higher_is_worse),
                cmocka_unit_test(test_judge_lower_is_worse),
                cmocka_unit_test(test_message_and_evidence_are_bounded),
                cmocka_unit_test(test_status_strings),
                cmocka_unit_test(test_sample_contract),
                cmocka_unit_test(test_registry),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
