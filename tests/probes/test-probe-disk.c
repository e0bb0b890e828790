/* The disk probe's mapping from a reading to a result: thresholds on free space as a size or a
 * percentage (lower is worse), inodes, read-only, the message and evidence; its config checks
 * (path required, inodes thresholds in order, units); and one real statvfs. */
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
#include "probe-disk.h"
#include "probe.h"

static const ConfigKinds kinds = { .probe_kind_at = probe_kind_spec_at };

/* Parses a config whose host_probes is the one probe `probe` (libconfig text). */
static int parse(const char *probe, Config **ret, char **ret_error) {
        char path[] = "/tmp/vigil-test-probe-disk.XXXXXX";
        int fd = mkstemp(path), r;
        FILE *f;

        assert_true(fd >= 0);
        f = fdopen(fd, "w");
        assert_non_null(f);
        fprintf(f, "host_probes = ( %s );\n", probe);
        assert_int_equal(fclose(f), 0);
        r = config_parse_file(path, &kinds, ret, ret_error);
        (void) unlink(path);
        return r;
}

static Config *parse_ok(const char *probe) {
        Config *c = NULL;
        char *error = NULL;

        if (parse(probe, &c, &error) < 0)
                fail_msg("%s", error);
        assert_int_equal(c->n_host_probes, 1);
        return c;
}

static void assert_error(const char *probe, const char *want) {
        Config *c = NULL;
        char *error = NULL;

        assert_int_equal(parse(probe, &c, &error), -EINVAL);
        assert_non_null(error);
        if (!strstr(error, want))
                fail_msg("error \"%s\" does not contain \"%s\"", error, want);
        free(error);
}

static const DiskReading half = {
        .free_bytes = 512ULL << 20, .total_bytes = 1024ULL << 20, .free_inodes = 5000, .total_inodes = 10000,
};

static void test_free_space_as_percentage_fires_below(void **state) {
        Config *c = parse_ok("{ kind = \"disk\"; path = \"/var\"; warning = \"60%\"; critical = \"40%\"; }");
        DiskReading d = half;
        ProbeResult r;

        probe_result_init(&r);
        probe_disk_judge(&c->host_probes[0], &d, &r);
        assert_int_equal(r.status, PROBE_WARNING);        /* 50% free < 60% */
        assert_true(r.value == (double) (512ULL << 20));
        assert_true(r.threshold == 60.0);
        assert_string_equal(r.message, "/var: 512M free of 1G (50.0%)");

        d.free_bytes = 300ULL << 20;                       /* 29% free */
        probe_result_init(&r);
        probe_disk_judge(&c->host_probes[0], &d, &r);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_true(r.threshold == 40.0);

        d.free_bytes = 700ULL << 20;                       /* 68% free */
        probe_result_init(&r);
        probe_disk_judge(&c->host_probes[0], &d, &r);
        assert_int_equal(r.status, PROBE_OK);
        config_free(c);
}

static void test_free_space_as_size_and_inodes(void **state) {
        Config *c = parse_ok("{ kind = \"disk\"; path = \"/srv\"; critical = \"1G\"; inodes_warning = 6000; "
                             "inodes_critical = \"10%\"; }");
        DiskReading d = half;
        ProbeResult r;

        probe_result_init(&r);
        probe_disk_judge(&c->host_probes[0], &d, &r);
        /* 512M free is below 1G: CRITICAL on space, and inodes (5000 < 6000) only WARNING. */
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_true(r.threshold == (double) (1ULL << 30));

        d.free_bytes = 2ULL << 30;
        d.total_bytes = 4ULL << 30;
        probe_result_init(&r);
        probe_disk_judge(&c->host_probes[0], &d, &r);
        assert_int_equal(r.status, PROBE_WARNING);
        assert_string_equal(r.message, "/srv: 5000 inodes free of 10000 (50.0%)");

        d.free_inodes = 900;                               /* 9% */
        probe_result_init(&r);
        probe_disk_judge(&c->host_probes[0], &d, &r);
        assert_int_equal(r.status, PROBE_CRITICAL);

        /* A filesystem that does not count inodes is judged on space alone. */
        d.free_inodes = d.total_inodes = 0;
        probe_result_init(&r);
        probe_disk_judge(&c->host_probes[0], &d, &r);
        assert_int_equal(r.status, PROBE_OK);
        config_free(c);
}

static void test_read_only_is_critical_and_evidence_is_json(void **state) {
        Config *c = parse_ok("{ kind = \"disk\"; path = \"/data\"; critical = \"1%\"; }");
        DiskReading d = half;
        char json[PROBE_EVIDENCE_MAX + 2];
        ProbeResult r;

        d.read_only = true;
        probe_result_init(&r);
        probe_disk_judge(&c->host_probes[0], &d, &r);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_string_equal(r.message, "/data: filesystem is read-only");
        (void) snprintf(json, sizeof json, "{%s}", r.evidence);
        assert_string_equal(json, "{\"path\":\"/data\",\"free_bytes\":536870912,\"total_bytes\":1073741824,"
                                  "\"free_inodes\":5000,\"total_inodes\":10000,\"read_only\":true}");
        config_free(c);
}

static void test_config_errors(void **state) {
        assert_error("{ kind = \"disk\"; critical = \"5%\"; }", "missing required key \"path\"");
        assert_error("{ kind = \"disk\"; path = \"/\"; critical = 1000; }",
                     "critical is a number (1000); probe kind \"disk\" takes a size (\"512M\") or a percentage");
        assert_error("{ kind = \"disk\"; path = \"/\"; warning = \"5%\"; critical = \"10%\"; }",
                     "warning (5%) must be at or above critical (10%)");
        assert_error("{ kind = \"disk\"; path = \"/\"; inodes_warning = \"5%\"; inodes_critical = \"10%\"; }",
                     "inodes_warning: must be at or above inodes_critical");
        assert_error("{ kind = \"disk\"; path = \"/\"; inodes_critical = \"1G\"; }",
                     "inodes_critical: expected a number (1000) or a percentage (\"90%\"), got a size");
        assert_error("{ kind = \"disk\"; path = \"relative\"; }", "path");
        assert_error("{ kind = \"disk\"; path = \"/\"; every = \"1s\"; timeout = \"2s\"; }",
                     "every (1s) is shorter than timeout (2s)");
}

static void test_statvfs_of_a_real_path(void **state) {
        Config *c = parse_ok("{ kind = \"disk\"; path = \"/\"; critical = \"0%\"; }");
        const ProbeOps *ops = probe_ops_find("disk");
        ProbeTarget t = { .instance = -1, .name = "host" };
        ProbeCheck check;
        ProbeResult r;

        assert_ptr_equal(ops, &probe_disk_ops);
        assert_int_equal(probe_check_init(&check, ops, &c->host_probes[0], NULL, NULL, NULL), 0);
        assert_int_equal(probe_check_start(&check, &t, &r), 0);
        assert_int_equal(r.status, PROBE_OK);
        assert_true(r.value > 0);
        assert_non_null(strstr(r.evidence, "\"total_bytes\":"));
        probe_check_release(&check);
        config_free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_free_space_as_percentage_fires_below),
                cmocka_unit_test(test_free_space_as_size_and_inodes),
                cmocka_unit_test(test_read_only_is_critical_and_evidence_is_json),
                cmocka_unit_test(test_config_errors),
                cmocka_unit_test(test_statvfs_of_a_real_path),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
