/* The progress probe's mapping from what a worker reported (its X_VIGIL_PROGRESS= counter and
 * the time of its last WATCHDOG=1) to a result, sample after sample: no report is no verdict, the
 * first value a baseline, an advancing counter OK, a stuck one with heartbeats CRITICAL (a hang),
 * a stuck one without heartbeats no verdict (the watchdog's case); reset forgets the process;
 * and its config checks (`for` required and > 0, no thresholds, instance scope only). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config-parse.h"
#include "probe-progress.h"
#include "probe.h"

#define SEC USEC_PER_SEC
#define T0 (1000 * USEC_PER_SEC)

static const ConfigKinds kinds = { .probe_kind_at = probe_kind_spec_at };

/* Parses a config with one worker whose probes are `probes` (libconfig text), and host_probes. */
static int parse(const char *probes, const char *host_probes, Config **ret, char **ret_error) {
        char path[] = "/tmp/vigil-test-probe-progress.XXXXXX";
        int fd = mkstemp(path), r;
        FILE *f;

        assert_true(fd >= 0);
        f = fdopen(fd, "w");
        assert_non_null(f);
        fprintf(f, "workers = ( { name = \"w\"; command = [ \"/bin/true\" ]; probes = ( %s ); } );\n"
                   "host_probes = ( %s );\n", probes, host_probes);
        assert_int_equal(fclose(f), 0);
        r = config_parse_file(path, &kinds, ret, ret_error);
        (void) unlink(path);
        return r;
}

static Config *parse_ok(const char *probe) {
        Config *c = NULL;
        char *error = NULL;

        if (parse(probe, "", &c, &error) < 0)
                fail_msg("%s", error);
        assert_int_equal(c->workers[0].n_probes, 1);
        return c;
}

static void assert_error(const char *probes, const char *host_probes, const char *want) {
        Config *c = NULL;
        char *error = NULL;

        assert_int_equal(parse(probes, host_probes, &c, &error), -EINVAL);
        assert_non_null(error);
        if (!strstr(error, want))
                fail_msg("error \"%s\" does not contain \"%s\"", error, want);
        free(error);
}

static ProbeResult judge(const ProbeConfig *pc, ProgressState *s, const ProbeReports *rep, usec_t t) {
        ProbeResult r;

        probe_result_init(&r);
        probe_progress_judge(pc, s, rep, t, &r);
        return r;
}

static void test_no_report_is_no_verdict(void **state) {
        Config *c = parse_ok("{ kind = \"progress\"; for = \"30s\"; }");
        const ProbeConfig *pc = &c->workers[0].probes[0];
        ProbeReports rep = { .heartbeat_at = T0 };
        ProgressState s = {};
        ProbeResult r;

        r = judge(pc, &s, &rep, T0 + SEC);
        assert_true(r.no_verdict);
        assert_string_equal(r.message, "no X_VIGIL_PROGRESS= reported yet");
        r = judge(pc, &s, NULL, T0 + 2 * SEC);
        assert_true(r.no_verdict);
        config_free(c);
}

static void test_advancing_counter_is_ok_and_stuck_with_heartbeats_is_a_hang(void **state) {
        Config *c = parse_ok("{ kind = \"progress\"; for = \"30s\"; every = \"10s\"; }");
        const ProbeConfig *pc = &c->workers[0].probes[0];
        ProbeReports rep = { .has_progress = true, .progress = 1000, .progress_at = T0, .heartbeat_at = T0 };
        char json[PROBE_EVIDENCE_MAX + 2];
        ProgressState s = {};
        ProbeResult r;

        /* The first value is a baseline: nothing to compare with. */
        r = judge(pc, &s, &rep, T0 + 1 * SEC);
        assert_true(r.no_verdict);
        assert_string_equal(r.message, "X_VIGIL_PROGRESS at 1000 (first sample)");

        rep.progress = 1234;
        rep.progress_at = T0 + 5 * SEC;
        rep.heartbeat_at = T0 + 6 * SEC;
        r = judge(pc, &s, &rep, T0 + 11 * SEC);
        assert_false(r.no_verdict);
        assert_int_equal(r.status, PROBE_OK);
        assert_false(r.hang);
        assert_string_equal(r.message, "X_VIGIL_PROGRESS advanced from 1000 to 1234");
        assert_true(r.value == 6.0);

        /* Stuck, heartbeats still coming: CRITICAL, a hang, for as long as it has not moved. */
        rep.heartbeat_at = T0 + 40 * SEC;
        r = judge(pc, &s, &rep, T0 + 47 * SEC);
        assert_false(r.no_verdict);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_true(r.hang);
        assert_true(r.value == 42.0);
        assert_true(r.threshold == 30.0);
        assert_string_equal(
                r.message, "no progress for 42s (X_VIGIL_PROGRESS stuck at 1234) while heartbeats continue");
        (void) snprintf(json, sizeof json, "{%s}", r.evidence);
        assert_string_equal(json, "{\"progress\":1234,\"unchanged_sec\":42.000,\"last_heartbeat_sec\":7.000,"
                                  "\"heartbeat_since_last_sample\":true}");

        /* Moving again: OK. */
        rep.progress = 1300;
        rep.progress_at = T0 + 50 * SEC;
        rep.heartbeat_at = T0 + 55 * SEC;
        r = judge(pc, &s, &rep, T0 + 57 * SEC);
        assert_int_equal(r.status, PROBE_OK);
        assert_false(r.no_verdict);

        /* A counter that goes back (the worker reset it) has changed, too. */
        rep.progress = 3;
        r = judge(pc, &s, &rep, T0 + 67 * SEC);
        assert_int_equal(r.status, PROBE_OK);
        config_free(c);
}

static void test_stuck_and_silent_is_the_watchdogs_case(void **state) {
        Config *c = parse_ok("{ kind = \"progress\"; for = \"20s\"; }");
        const ProbeConfig *pc = &c->workers[0].probes[0];
        ProbeReports rep = {
                .has_progress = true, .progress = 7, .progress_at = T0, .heartbeat_at = T0 + SEC};
        ProgressState s = {};
        ProbeResult r;

        r = judge(pc, &s, &rep, T0 + 2 * SEC);
        assert_true(r.no_verdict);
        /* The last heartbeat came before the previous sample: none since. */
        r = judge(pc, &s, &rep, T0 + 12 * SEC);
        assert_true(r.no_verdict);
        assert_false(r.hang);
        assert_string_equal(r.message, "X_VIGIL_PROGRESS stuck at 7 and no heartbeat since the last sample: "
                                       "silence is the watchdog's to judge");
        /* A worker that never sent a heartbeat at all: the same. */
        rep.heartbeat_at = 0;
        r = judge(pc, &s, &rep, T0 + 22 * SEC);
        assert_true(r.no_verdict);
        assert_non_null(strstr(r.evidence, "\"last_heartbeat_sec\":null"));
        /* A heartbeat comes back, the counter still stuck: now it is a hang. */
        rep.heartbeat_at = T0 + 25 * SEC;
        r = judge(pc, &s, &rep, T0 + 32 * SEC);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_true(r.hang);
        config_free(c);
}

/* Through the vtable, as the runner calls it: the state lives in the ProbeCheck and reset
 * (a new process) makes the next value a baseline again. */
static void test_check_keeps_state_and_reset_forgets(void **state) {
        Config *c = parse_ok("{ kind = \"progress\"; for = \"1s\"; every = \"1s\"; }");
        const ProbeOps *ops = probe_ops_find("progress");
        usec_t t = now(CLOCK_MONOTONIC);
        ProbeReports rep = {
                .has_progress = true, .progress = 1, .progress_at = t - 5 * SEC, .heartbeat_at = t};
        ProbeTarget target = { .worker = "w", .instance = 0, .name = "w:0", .reports = &rep };
        ProbeCheck check;
        ProbeResult r;

        assert_ptr_equal(ops, &probe_progress_ops);
        assert_int_equal(probe_check_init(&check, ops, &c->workers[0].probes[0], NULL, NULL, NULL), 0);
        assert_int_equal(probe_check_start(&check, &target, &r), 0);
        assert_true(r.no_verdict);              /* baseline */
        rep.heartbeat_at = now(CLOCK_MONOTONIC) + 1;
        assert_int_equal(probe_check_start(&check, &target, &r), 0);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_true(r.value >= 5.0);

        ops->reset(&check, false);
        assert_int_equal(probe_check_start(&check, &target, &r), 0);
        assert_true(r.no_verdict);
        assert_string_equal(r.message, "X_VIGIL_PROGRESS at 1 (first sample)");
        probe_check_release(&check);
        config_free(c);
}

static void test_config_errors(void **state) {
        assert_error("{ kind = \"progress\"; }", "",
                     "probes[0]: missing required key \"for\"");
        assert_error("{ kind = \"progress\"; for = \"0\"; }", "",
                     "probes[0].for: must be greater than 0 for probe kind \"progress\"");
        assert_error("{ kind = \"progress\"; for = \"30s\"; critical = 5; }", "",
                     "probe kind \"progress\" takes no critical threshold");
        assert_error("{ kind = \"progress\"; for = \"30s\"; warning = \"10s\"; }", "",
                     "probe kind \"progress\" takes no warning threshold");
        assert_error("{ kind = \"progress\"; for = \"30s\"; path = \"/x\"; }", "",
                     "not a key of probe kind \"progress\" (it belongs to kind \"disk\")");
        assert_error("", "{ kind = \"progress\"; for = \"30s\"; }",
                     "probe kind \"progress\" measures a worker: put it in a worker's probes");
        assert_error("{ kind = \"progress\"; for = \"1m\"; bogus = 1; }", "", "bogus: unknown key");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_no_report_is_no_verdict),
                cmocka_unit_test(test_advancing_counter_is_ok_and_stuck_with_heartbeats_is_a_hang),
                cmocka_unit_test(test_stuck_and_silent_is_the_watchdogs_case),
                cmocka_unit_test(test_check_keeps_state_and_reset_forgets),
                cmocka_unit_test(test_config_errors),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
