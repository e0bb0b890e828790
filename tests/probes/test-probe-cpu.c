/* The cpu probe: cpu.stat and /proc/stat parsing, rates across samples (the first sample, a
 * counter that went backwards, a changed source, reset), percentages of one core and of the
 * host, its config errors, and real samples: the test process itself without a cgroup, a
 * stand-in cgroup directory, and the host. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config-parse.h"
#include "probe-cpu.h"
#include "probe.h"

static const ConfigKinds kinds = { .probe_kind_at = probe_kind_spec_at };

/* Parses a config whose host_probes, or whose one worker's probes, is the one probe `probe`. */
static int parse(const char *probe, bool host, Config **ret, char **ret_error) {
        char path[] = "/tmp/vigil-test-probe-cpu.XXXXXX";
        int fd = mkstemp(path), r;
        FILE *f;

        assert_true(fd >= 0);
        f = fdopen(fd, "w");
        assert_non_null(f);
        if (host)
                fprintf(f, "host_probes = ( %s );\n", probe);
        else
                fprintf(f,
                        "workers = ( { name = \"w\"; command = [ \"/bin/true\" ]; probes = ( %s ); } );\n",
                        probe);
        assert_int_equal(fclose(f), 0);
        r = config_parse_file(path, &kinds, ret, ret_error);
        (void) unlink(path);
        return r;
}

static Config *parse_ok(const char *probe) {
        Config *c = NULL;
        char *error = NULL;

        if (parse(probe, true, &c, &error) < 0)
                fail_msg("%s", error);
        assert_int_equal(c->n_host_probes, 1);
        return c;
}

static void assert_error(const char *probe, bool host, const char *want) {
        Config *c = NULL;
        char *error = NULL;

        assert_int_equal(parse(probe, host, &c, &error), -EINVAL);
        assert_non_null(error);
        if (!strstr(error, want))
                fail_msg("error \"%s\" does not contain \"%s\"", error, want);
        free(error);
}

static void test_parse_cgroup_stat(void **state) {
        uint64_t u = 7;

        assert_int_equal(probe_cpu_parse_cgroup_stat("usage_usec 5837476000\nuser_usec 2816372000\n"
                                                     "system_usec 3021104000\nnice_usec 0\n", &u), 0);
        assert_true(u == 5837476000ULL);
        /* The key, not a key it begins: "usage_usec_x" is not it. */
        assert_int_equal(probe_cpu_parse_cgroup_stat("usage_usec_x 1\nusage_usec 2", &u), 0);
        assert_true(u == 2);
        assert_int_equal(probe_cpu_parse_cgroup_stat("user_usec 1\n", &u), -ENOENT);
        assert_int_equal(probe_cpu_parse_cgroup_stat("usage_usec many\n", &u), -EINVAL);
        assert_int_equal(probe_cpu_parse_cgroup_stat("usage_usec 12x\n", &u), -EINVAL);
        assert_true(u == 2);
}

static void test_parse_proc_stat(void **state) {
        uint64_t busy = 0, total = 0;

        /* user nice system idle iowait irq softirq steal guest guest_nice */
        assert_int_equal(
                probe_cpu_parse_proc_stat("cpu  100 20 30 800 50 5 5 10 40 0\ncpu0 1 2 3 4 5 6 7 8 9 0\n",
                                          &busy, &total),
                0);
        assert_true(total == 1020);          /* guest is within user already */
        assert_true(busy == 1020 - 800 - 50);
        /* An old kernel's shorter line. */
        assert_int_equal(probe_cpu_parse_proc_stat("cpu 1 2 3 4 5 6 7\n", &busy, &total), 0);
        assert_true(total == 28 && busy == 28 - 4 - 5);
        assert_int_equal(probe_cpu_parse_proc_stat("cpu0 1 2 3 4 5 6 7 8\n", &busy, &total), -EINVAL);
        assert_int_equal(probe_cpu_parse_proc_stat("cpu 1 2 x\n", &busy, &total), -EINVAL);
        assert_int_equal(probe_cpu_parse_proc_stat("intr 1 2 3\n", &busy, &total), -EINVAL);
}

static ProbeCpuReading proc_reading(usec_t at_ms, uint64_t usage_ms) {
        return (ProbeCpuReading) {
                .source = PROBE_CPU_SOURCE_PROC,
                .at = at_ms * USEC_PER_MSEC,
                .usage_usec = usage_ms * USEC_PER_MSEC,
                .n_processes = 2,
        };
}

static void judge(ProbeCheck *c, ProbeCpuReading reading, ProbeResult *r) {
        probe_result_init(r);
        probe_cpu_judge(c, &reading, r);
}

static void test_rate_across_samples(void **state) {
        Config *conf = parse_ok("{ kind = \"cpu\"; warning = \"50%\"; critical = \"150%\"; }");
        ProbeCheck c;
        ProbeResult r;
        char json[PROBE_EVIDENCE_MAX + 2];

        assert_int_equal(probe_check_init(&c, &probe_cpu_ops, &conf->host_probes[0], NULL, NULL, NULL), 0);

        /* The first sample has nothing to make a rate with. */
        judge(&c, proc_reading(1000, 5000), &r);
        assert_true(r.no_verdict);
        assert_int_equal(r.status, PROBE_OK);
        assert_string_equal(r.message, "first sample (proc): the rate comes with the next");

        /* 250ms of CPU in 1s: 25% of one core. */
        judge(&c, proc_reading(2000, 5250), &r);
        assert_false(r.no_verdict);
        assert_int_equal(r.status, PROBE_OK);
        assert_true(r.value == 25.0);
        assert_true(r.threshold == 50.0);
        assert_string_equal(r.message, "CPU 25.0% of one core (proc)");
        (void) snprintf(json, sizeof json, "{%s}", r.evidence);
        assert_string_equal(json, "{\"source\":\"proc\",\"percent\":25.000,\"usage_usec_delta\":250000,"
                                  "\"wall_usec_delta\":1000000,\"n_processes\":2}");

        /* 1.2s of CPU in 1s (two threads): above 50% of one core, below 150%. */
        judge(&c, proc_reading(3000, 6450), &r);
        assert_int_equal(r.status, PROBE_WARNING);
        assert_true(r.value == 120.0);
        judge(&c, proc_reading(3500, 7300), &r);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_true(r.value == 170.0);
        assert_true(r.threshold == 150.0);

        /* A process ended and took its time with it: no negative rate, a new baseline... */
        judge(&c, proc_reading(4000, 2000), &r);
        assert_true(r.no_verdict);
        assert_string_equal(r.message, "CPU time went backwards (proc): baseline restarted");
        /* ...from which the next rate is measured. */
        judge(&c, proc_reading(5000, 2100), &r);
        assert_false(r.no_verdict);
        assert_true(r.value == 10.0);

        /* No time passed: no verdict, and the baseline stays. */
        judge(&c, proc_reading(5000, 2200), &r);
        assert_true(r.no_verdict);
        judge(&c, proc_reading(6000, 2600), &r);
        assert_true(r.value == 50.0);

        /* The instance got a cgroup: the counters are not comparable. */
        judge(&c, (ProbeCpuReading) { .source = PROBE_CPU_SOURCE_CGROUP, .at = 7 * USEC_PER_SEC,
                                      .usage_usec = 1, .n_processes = SIZE_MAX }, &r);
        assert_true(r.no_verdict);
        judge(&c,
              (ProbeCpuReading){.source = PROBE_CPU_SOURCE_CGROUP,
                                .at = 8 * USEC_PER_SEC,
                                .usage_usec = 1 + 900000,
                                .n_processes = SIZE_MAX,
                                .truncated = true},
              &r);
        assert_int_equal(r.status, PROBE_WARNING);
        assert_string_equal(r.message, "CPU 90.0% of one core (cgroup, first processes only)");
        assert_non_null(strstr(r.evidence, "\"source\":\"cgroup\""));
        assert_non_null(strstr(r.evidence, "\"truncated\":true"));
        assert_null(strstr(r.evidence, "n_processes"));

        /* A new main process: start over. */
        probe_cpu_ops.reset(&c, false);
        judge(&c, (ProbeCpuReading) { .source = PROBE_CPU_SOURCE_CGROUP, .at = 9 * USEC_PER_SEC,
                                      .usage_usec = 2000000, .n_processes = SIZE_MAX }, &r);
        assert_true(r.no_verdict);

        probe_check_release(&c);
        config_free(conf);
}

static void test_host_rate_is_of_all_cores(void **state) {
        Config *conf = parse_ok("{ kind = \"cpu\"; critical = \"90%\"; }");
        ProbeCpuReading h = { .source = PROBE_CPU_SOURCE_HOST, .at = USEC_PER_SEC, .busy_ticks = 1000,
                              .total_ticks = 4000, .n_cpus = 4, .n_processes = SIZE_MAX };
        ProbeCheck c;
        ProbeResult r;

        assert_int_equal(probe_check_init(&c, &probe_cpu_ops, &conf->host_probes[0], NULL, NULL, NULL), 0);
        judge(&c, h, &r);
        assert_true(r.no_verdict);

        /* 400 ticks in all over 4 cores, 380 of them busy: 95%. */
        h.at += USEC_PER_SEC;
        h.busy_ticks += 380;
        h.total_ticks += 400;
        judge(&c, h, &r);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_true(r.value == 95.0);
        assert_string_equal(r.message, "CPU 95.0% of all 4 cores busy");
        assert_non_null(strstr(r.evidence, "\"busy_ticks_delta\":380,\"total_ticks_delta\":400"));

        /* Total ticks that did not move (the same tick) are no interval. */
        h.at += 1000;
        judge(&c, h, &r);
        assert_true(r.no_verdict);
        h.at += USEC_PER_SEC;
        h.busy_ticks += 40;
        h.total_ticks += 400;
        judge(&c, h, &r);
        assert_int_equal(r.status, PROBE_OK);
        assert_true(r.value == 10.0);

        probe_check_release(&c);
        config_free(conf);
}

static void test_config_errors(void **state) {
        assert_error("{ kind = \"cpu\"; critical = \"1G\"; }", true,
                     "critical is a size (\"512M\"); probe kind \"cpu\" takes a percentage (\"90%\")");
        assert_error("{ kind = \"cpu\"; warning = 90; }", false,
                     "warning is a number (1000); probe kind \"cpu\" takes a percentage (\"90%\")");
        assert_error("{ kind = \"cpu\"; warning = \"95%\"; critical = \"90%\"; }", false,
                     "warning (95%) must be at or below critical (90%)");
        assert_error("{ kind = \"cpu\"; critical = \"90%\"; per_core = true; }", false,
                     "per_core: unknown key");
        assert_error("{ kind = \"cpu\"; critical = \"90%\"; for = 2; }", false,
                     "for: expected a duration string");
}

/* Spends about ms of CPU time in this thread. */
static void burn_cpu(unsigned ms) {
        struct timespec ts;
        usec_t start;

        assert_int_equal(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts), 0);
        start = timespec_to_usec(&ts);
        do
                assert_int_equal(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts), 0);
        while (timespec_to_usec(&ts) - start < ms * USEC_PER_MSEC);
}

static uint64_t evidence_u64(const ProbeResult *r, const char *key) {
        char k[64];
        const char *p;

        (void) snprintf(k, sizeof k, "\"%s\":", key);
        p = strstr(r->evidence, k);
        if (!p)
                fail_msg("no %s in evidence {%s}", key, r->evidence);
        return strtoull(p + strlen(k), NULL, 10);
}

static void test_real_sample_of_this_process(void **state) {
        Config *conf = NULL;
        char *error = NULL;
        ProbeTarget t = { .worker = "w", .instance = 0, .name = "w:0", .pid = getpid() };
        ProbeCheck c;
        ProbeResult r;

        if (parse("{ kind = \"cpu\"; critical = \"100000%\"; }", false, &conf, &error) < 0)
                fail_msg("%s", error);
        assert_int_equal(probe_check_init(&c, &probe_cpu_ops, &conf->workers[0].probes[0], NULL, NULL, NULL),
                         0);
        assert_int_equal(probe_check_start(&c, &t, &r), 0);
        assert_true(r.no_verdict);
        burn_cpu(150);
        assert_int_equal(probe_check_start(&c, &t, &r), 0);
        assert_false(r.no_verdict);
        assert_int_equal(r.status, PROBE_OK);
        assert_non_null(strstr(r.evidence, "\"source\":\"proc\""));
        /* 150ms burnt, counted in clock ticks of 10ms (or less) each. */
        assert_true(evidence_u64(&r, "usage_usec_delta") >= 130000);
        assert_true(evidence_u64(&r, "n_processes") >= 1);
        assert_true(r.value > 0);
        probe_check_release(&c);
        config_free(conf);
}

static void test_real_sample_of_a_cgroup_directory(void **state) {
        char dir[] = "/tmp/vigil-test-cpu.XXXXXX", path[64];
        ProbeTarget t = { .worker = "w", .instance = 0, .name = "w:0", .pid = getpid() };
        Config *conf = NULL;
        char *error = NULL;
        ProbeCheck c;
        ProbeResult r;
        FILE *f;

        assert_non_null(mkdtemp(dir));
        (void) snprintf(path, sizeof path, "%s/cpu.stat", dir);
        t.cgroup_path = dir;
        if (parse("{ kind = \"cpu\"; warning = \"50%\"; }", false, &conf, &error) < 0)
                fail_msg("%s", error);
        assert_int_equal(probe_check_init(&c, &probe_cpu_ops, &conf->workers[0].probes[0], NULL, NULL, NULL),
                         0);

        assert_non_null(f = fopen(path, "we"));
        fputs("usage_usec 1000000\nuser_usec 1\n", f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(probe_check_start(&c, &t, &r), 0);
        assert_true(r.no_verdict);

        assert_non_null(f = fopen(path, "we"));
        fputs("usage_usec 1500000\nuser_usec 1\n", f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(probe_check_start(&c, &t, &r), 0);
        assert_false(r.no_verdict);
        assert_non_null(strstr(r.evidence, "\"source\":\"cgroup\""));
        assert_int_equal(evidence_u64(&r, "usage_usec_delta"), 500000);

        /* A cgroup directory without cpu.stat: the sum over the processes it lists. */
        assert_int_equal(unlink(path), 0);
        (void) snprintf(path, sizeof path, "%s/cgroup.procs", dir);
        assert_non_null(f = fopen(path, "we"));
        fprintf(f, "%d\n", (int) getpid());
        assert_int_equal(fclose(f), 0);
        assert_int_equal(probe_check_start(&c, &t, &r), 0);
        assert_true(r.no_verdict);
        assert_string_equal(r.message, "first sample (proc): the rate comes with the next");
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);

        /* The cgroup is gone: the probe cannot run. */
        assert_int_equal(probe_check_start(&c, &t, &r), 0);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        probe_check_release(&c);
        config_free(conf);
}

static void test_real_sample_of_the_host(void **state) {
        Config *conf = parse_ok("{ kind = \"cpu\"; critical = \"100%\"; }");
        ProbeTarget t = { .instance = -1, .name = "host" };
        ProbeCheck c;
        ProbeResult r;

        assert_int_equal(probe_check_init(&c, &probe_cpu_ops, &conf->host_probes[0], NULL, NULL, NULL), 0);
        assert_int_equal(probe_check_start(&c, &t, &r), 0);
        assert_true(r.no_verdict);
        /* At least a few ticks must pass for a rate. */
        burn_cpu(60);
        assert_int_equal(probe_check_start(&c, &t, &r), 0);
        assert_false(r.no_verdict);
        assert_int_equal(r.status, PROBE_OK);
        assert_true(r.value > 0 && r.value <= 100);
        assert_non_null(strstr(r.evidence, "\"source\":\"host\""));
        probe_check_release(&c);
        config_free(conf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_cgroup_stat),
                cmocka_unit_test(test_parse_proc_stat),
                cmocka_unit_test(test_rate_across_samples),
                cmocka_unit_test(test_host_rate_is_of_all_cores),
                cmocka_unit_test(test_config_errors),
                cmocka_unit_test(test_real_sample_of_this_process),
                cmocka_unit_test(test_real_sample_of_a_cgroup_directory),
                cmocka_unit_test(test_real_sample_of_the_host),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
