/* The pressure probe's mapping from a PSI reading to a result (the chosen line and window
 * against percent thresholds, a missing line, message and evidence), its config checks, and
 * reading real files in the /proc/pressure format from a stand-in directory. */
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
#include "probe-pressure.h"
#include "probe.h"

static const ConfigKinds kinds = { .probe_kind_at = probe_kind_spec_at };

static int parse(const char *workers, const char *probe, Config **ret, char **ret_error) {
        char path[] = "/tmp/vigil-test-probe-pressure.XXXXXX";
        int fd = mkstemp(path), r;
        FILE *f;

        assert_true(fd >= 0);
        f = fdopen(fd, "w");
        assert_non_null(f);
        fprintf(f, "workers = ( %s );\nhost_probes = ( %s );\n", workers, probe);
        assert_int_equal(fclose(f), 0);
        r = config_parse_file(path, &kinds, ret, ret_error);
        (void) unlink(path);
        return r;
}

static Config *parse_ok(const char *probe) {
        Config *c = NULL;
        char *error = NULL;

        if (parse("", probe, &c, &error) < 0)
                fail_msg("%s", error);
        assert_int_equal(c->n_host_probes, 1);
        return c;
}

static void assert_error_in(const char *workers, const char *probe, const char *want) {
        Config *c = NULL;
        char *error = NULL;

        assert_int_equal(parse(workers, probe, &c, &error), -EINVAL);
        assert_non_null(error);
        if (!strstr(error, want))
                fail_msg("error \"%s\" does not contain \"%s\"", error, want);
        free(error);
}

static void assert_error(const char *probe, const char *want) {
        assert_error_in("", probe, want);
}

static PsiReading reading(const char *text) {
        PsiReading p;

        assert_int_equal(psi_parse(text, &p), 0);
        return p;
}

static ProbeResult judge(const Config *c, const PsiReading *p) {
        ProbeResult r;

        probe_result_init(&r);
        probe_pressure_judge(&c->host_probes[0], p, &r);
        return r;
}

static void test_some_avg10_against_percent_thresholds(void **state) {
        Config *c = parse_ok(
                "{ kind = \"pressure\"; resource = \"cpu\"; warning = \"50%\"; critical = \"80%\"; }");
        PsiReading p = reading("some avg10=95.00 avg60=60.50 avg300=20.25 total=123456789\n"
                               "full avg10=1.00 avg60=0.00 avg300=0.00 total=42\n");
        char json[PROBE_EVIDENCE_MAX + 2];
        ProbeResult r = judge(c, &p);

        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_false(r.hang);
        assert_true(r.value == 95.0);
        assert_true(r.threshold == 80.0);
        assert_string_equal(r.message, "cpu some avg10 95.0% (avg10 95.0%, avg60 60.5%, avg300 20.2%)");
        (void) snprintf(json, sizeof json, "{%s}", r.evidence);
        assert_string_equal(json,
                            "{\"resource\":\"cpu\",\"line\":\"some\",\"window\":\"avg10\",\"avg10\":95.00,"
                            "\"avg60\":60.50,\"avg300\":20.25,\"total_usec\":123456789}");

        p = reading("some avg10=60.00 avg60=0.00 avg300=0.00 total=1\n");
        r = judge(c, &p);
        assert_int_equal(r.status, PROBE_WARNING);
        assert_true(r.threshold == 50.0);

        p = reading("some avg10=50.00 avg60=0.00 avg300=0.00 total=1\n");   /* at, not above */
        r = judge(c, &p);
        assert_int_equal(r.status, PROBE_OK);
        config_free(c);
}

static void test_full_line_and_other_window(void **state) {
        Config *c = parse_ok(
                "{ kind = \"pressure\"; resource = \"memory\"; line = \"full\"; window = \"avg60\"; "
                "critical = \"20%\"; }");
        PsiReading p = reading("some avg10=90.00 avg60=90.00 avg300=90.00 total=1\n"
                               "full avg10=99.00 avg60=10.00 avg300=5.00 total=2\n");
        ProbeResult r = judge(c, &p);

        /* Only full avg60 counts: 10% is below 20%. */
        assert_int_equal(r.status, PROBE_OK);
        assert_true(r.value == 10.0);
        assert_string_equal(r.message, "memory full avg60 10.0% (avg10 99.0%, avg60 10.0%, avg300 5.0%)");

        p = reading("some avg10=0.00 avg60=0.00 avg300=0.00 total=1\nfull avg10=0.00 avg60=20.01 "
                    "avg300=0.00 total=2\n");
        r = judge(c, &p);
        assert_int_equal(r.status, PROBE_CRITICAL);

        /* A kernel without the full line for it: the probe cannot say. */
        p = reading("some avg10=0.00 avg60=0.00 avg300=0.00 total=1\n");
        r = judge(c, &p);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_string_equal(r.message, "memory pressure has no \"full\" line");
        config_free(c);
}

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

static void test_reads_the_stand_in_directory(void **state) {
        char dir[] = "/tmp/vigil-test-probe-pressure.XXXXXX", path[128];
        Config *c = parse_ok("{ kind = \"pressure\"; resource = \"io\"; critical = \"30%\"; }");
        ProbeEnv env = {};
        ProbeTarget t = { .instance = -1, .name = "host" };
        ProbeCheck check;
        ProbeResult r;

        assert_non_null(mkdtemp(dir));
        env.pressure_dir = dir;
        (void) snprintf(path, sizeof path, "%s/io", dir);
        assert_int_equal(
                probe_check_init(&check, probe_ops_find("pressure"), &c->host_probes[0], &env, NULL, NULL),
                0);

        /* No file: the probe cannot run. */
        assert_int_equal(probe_check_start(&check, &t, &r), 0);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_string_equal(r.message, "pressure probe cannot run: No such file or directory");

        write_file(path, "some avg10=31.00 avg60=2.00 avg300=1.00 total=77\nfull avg10=0.00 avg60=0.00 "
                         "avg300=0.00 total=0\n");
        assert_int_equal(probe_check_start(&check, &t, &r), 0);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_non_null(strstr(r.evidence, "\"total_usec\":77"));

        write_file(path, "garbage\n");
        assert_int_equal(probe_check_start(&check, &t, &r), 0);
        assert_int_equal(r.status, PROBE_UNKNOWN);

        probe_check_release(&check);
        config_free(c);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
}

static void test_config_errors(void **state) {
        assert_error("{ kind = \"pressure\"; critical = \"80%\"; }",
                     "host_probes[0]: missing required key \"resource\" (cpu, memory or io)");
        assert_error("{ kind = \"pressure\"; resource = \"disk\"; critical = \"80%\"; }",
                     "host_probes[0].resource: invalid resource \"disk\" (expected cpu, memory or io)");
        assert_error("{ kind = \"pressure\"; resource = \"cpu\"; line = \"all\"; critical = \"80%\"; }",
                     "host_probes[0].line: invalid line \"all\" (expected some or full)");
        assert_error("{ kind = \"pressure\"; resource = \"cpu\"; window = \"avg30\"; critical = \"80%\"; }",
                     "host_probes[0].window: invalid window \"avg30\" (expected avg10, avg60 or avg300)");
        assert_error("{ kind = \"pressure\"; resource = \"cpu\"; }",
                     "host_probes[0]: probe kind \"pressure\" needs \"warning\" or \"critical\"");
        assert_error("{ kind = \"pressure\"; resource = \"cpu\"; critical = 80; }",
                     "critical is a number (1000); probe kind \"pressure\" takes a percentage");
        assert_error("{ kind = \"pressure\"; resource = \"cpu\"; warning = \"90%\"; critical = \"80%\"; }",
                     "warning (90%) must be at or below critical (80%)");
        assert_error("{ kind = \"pressure\"; resource = 1; critical = \"80%\"; }",
                     "host_probes[0].resource: expected a string");
        assert_error_in("{ name = \"w\"; command = [ \"/bin/true\" ]; probes = ( { kind = \"pressure\"; "
                        "resource = \"cpu\"; "
                        "critical = \"80%\"; } ); }",
                        "", "probe kind \"pressure\" measures the host: put it in host_probes");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_some_avg10_against_percent_thresholds),
                cmocka_unit_test(test_full_line_and_other_window),
                cmocka_unit_test(test_reads_the_stand_in_directory),
                cmocka_unit_test(test_config_errors),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
