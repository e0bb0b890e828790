/* The memory probe: statm, smaps_rollup, meminfo and cgroup file parsing; thresholds on sizes
 * and on percentages of a limit (and UNKNOWN without one); leak detection fed synthetic series
 * through the kind's own judge (a steady leak is found within the window, with its slope and
 * projection; a sawtooth, a step, noise and slow creep under leak_min_rate are not); every
 * config error; and real samples: this process (rss, pss), a stand-in cgroup, the host. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config-parse.h"
#include "probe-memory.h"
#include "probe.h"

#define MiB (1024.0 * 1024.0)

static const ConfigKinds kinds = { .probe_kind_at = probe_kind_spec_at };

/* Parses a config with the one probe `probe`: a host probe, or the probe of a worker whose
 * other keys are worker_keys. */
static int parse(const char *probe, bool host, const char *worker_keys, Config **ret, char **ret_error) {
        char path[] = "/tmp/vigil-test-probe-memory.XXXXXX";
        int fd = mkstemp(path), r;
        FILE *f;

        assert_true(fd >= 0);
        f = fdopen(fd, "w");
        assert_non_null(f);
        if (host)
                fprintf(f, "host_probes = ( %s );\n", probe);
        else
                fprintf(f,
                        "workers = ( { name = \"w\"; command = [ \"/bin/true\" ]; %s probes = ( %s ); } "
                        ");\n",
                        worker_keys, probe);
        assert_int_equal(fclose(f), 0);
        r = config_parse_file(path, &kinds, ret, ret_error);
        (void) unlink(path);
        return r;
}

static const ProbeConfig *parse_ok(const char *probe, Config **ret) {
        char *error = NULL;

        if (parse(probe, false, "", ret, &error) < 0)
                fail_msg("%s", error);
        assert_int_equal((*ret)->workers[0].n_probes, 1);
        return &(*ret)->workers[0].probes[0];
}

static void assert_error(const char *probe, bool host, const char *worker_keys, const char *want) {
        Config *c = NULL;
        char *error = NULL;

        assert_int_equal(parse(probe, host, worker_keys, &c, &error), -EINVAL);
        assert_non_null(error);
        if (!strstr(error, want))
                fail_msg("error \"%s\" does not contain \"%s\"", error, want);
        free(error);
}

static void test_parse_statm(void **state) {
        uint64_t pages = 3;

        assert_int_equal(probe_memory_parse_statm("5432 1234 567 12 0 890 0\n", &pages), 0);
        assert_true(pages == 1234);
        assert_int_equal(probe_memory_parse_statm("5432\n", &pages), -EINVAL);
        assert_int_equal(probe_memory_parse_statm("5432 x 5\n", &pages), -EINVAL);
        assert_int_equal(probe_memory_parse_statm("", &pages), -EINVAL);
        assert_true(pages == 1234);
}

static void test_parse_smaps_rollup(void **state) {
        static const char text[] =
                "55d0c0a1b000-7ffd5a3f1000 ---p 00000000 00:00 0                          [rollup]\n"
                "Rss:                4220 kB\n"
                "Pss:                1024 kB\n"
                "Pss_Dirty:           300 kB\n"
                "Pss_Anon:            280 kB\n"
                "Pss_File:            744 kB\n"
                "Shared_Clean:       3100 kB\n";
        uint64_t pss = 0;

        assert_int_equal(probe_memory_parse_smaps_rollup(text, &pss), 0);
        assert_true(pss == 1024 * 1024);
        /* Pss_Anon alone is not Pss. */
        assert_int_equal(probe_memory_parse_smaps_rollup("Rss: 1 kB\nPss_Anon: 5 kB\n", &pss), -ENOENT);
        assert_int_equal(probe_memory_parse_smaps_rollup("Pss: many kB\n", &pss), -EINVAL);
        assert_int_equal(probe_memory_parse_smaps_rollup("Pss: 12 pages\n", &pss), -EINVAL);
}

static void test_parse_meminfo_and_cgroup_values(void **state) {
        uint64_t total = 0, available = 0, v = 0;

        assert_int_equal(
                probe_memory_parse_meminfo("MemTotal:       16318756 kB\nMemFree:         1000000 kB\n"
                                           "MemAvailable:    8159378 kB\nBuffers:  1 kB\n",
                                           &total, &available),
                0);
        assert_true(total == 16318756ULL * 1024);
        assert_true(available == 8159378ULL * 1024);
        assert_int_equal(probe_memory_parse_meminfo("MemTotal: 100 kB\nMemFree: 5 kB\n", &total, &available),
                         -ENOENT);

        assert_int_equal(probe_memory_parse_cgroup_value("536870912\n", &v), 0);
        assert_true(v == 536870912);
        assert_int_equal(probe_memory_parse_cgroup_value("max\n", &v), -ERANGE);
        assert_int_equal(probe_memory_parse_cgroup_value("maximum\n", &v), -EINVAL);
        assert_int_equal(probe_memory_parse_cgroup_value("12 34\n", &v), -EINVAL);
        assert_true(v == 536870912);
}

/* The number after "key": in r's evidence. */
static double evidence_double(const ProbeResult *r, const char *key) {
        char k[64];
        const char *p;

        (void) snprintf(k, sizeof k, "\"%s\":", key);
        p = strstr(r->evidence, k);
        if (!p)
                fail_msg("no %s in evidence {%s}", key, r->evidence);
        return strtod(p + strlen(k), NULL);
}

static ProbeMemoryReading reading(double bytes, uint64_t limit, const char *source, usec_t at) {
        return (ProbeMemoryReading) {
                .measure = PROBE_MEMORY_RSS,
                .at = at,
                .bytes = (uint64_t) bytes,
                .limit = limit,
                .limit_source = source,
                .n_processes = 2,
        };
}

static void judge(ProbeCheck *c, ProbeMemoryReading m, ProbeResult *r) {
        probe_result_init(r);
        assert_int_equal(probe_memory_judge(c, &m, r), 0);
}

static void test_thresholds_on_sizes_and_percentages(void **state) {
        Config *conf = NULL;
        const ProbeConfig *pc =
                parse_ok("{ kind = \"memory\"; warning = \"256M\"; critical = \"512M\"; }", &conf);
        ProbeCheck c;
        ProbeResult r;

        assert_int_equal(probe_check_init(&c, &probe_memory_ops, pc, NULL, NULL, NULL), 0);
        judge(&c, reading(100 * MiB, 0, NULL, 1), &r);
        assert_int_equal(r.status, PROBE_OK);
        assert_string_equal(r.message, "rss 100M in 2 processes");
        assert_string_equal(r.evidence, "\"measure\":\"rss\",\"bytes\":104857600,\"n_processes\":2");
        judge(&c, reading(300 * MiB, 0, NULL, 2), &r);
        assert_int_equal(r.status, PROBE_WARNING);
        assert_true(r.threshold == 256 * MiB);
        judge(&c, reading(600 * MiB, 0, NULL, 3), &r);
        assert_int_equal(r.status, PROBE_CRITICAL);
        probe_check_release(&c);
        config_free(conf);

        pc = parse_ok("{ kind = \"memory\"; limit = \"1G\"; critical = \"50%\"; }", &conf);
        assert_int_equal(probe_check_init(&c, &probe_memory_ops, pc, NULL, NULL, NULL), 0);
        judge(&c, reading(600 * MiB, 1024 * 1024 * 1024, "limit", 1), &r);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_true(r.threshold == 50);
        assert_string_equal(r.message, "rss 600M of 1G limit (58.6%) in 2 processes");
        assert_non_null(
                strstr(r.evidence, "\"limit\":1073741824,\"limit_source\":\"limit\",\"percent\":58.594"));
        probe_check_release(&c);
        config_free(conf);

        /* measure cgroup, percentages of memory.max: "max" leaves nothing to take one of. */
        pc = parse_ok("{ kind = \"memory\"; measure = \"cgroup\"; warning = \"80%\"; }", &conf);
        assert_int_equal(probe_check_init(&c, &probe_memory_ops, pc, NULL, NULL, NULL), 0);
        judge(&c, (ProbeMemoryReading) { .measure = PROBE_MEMORY_CGROUP, .at = 1, .bytes = 64 << 20,
                                         .n_processes = SIZE_MAX }, &r);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_string_equal(r.message, "cgroup 64M: no limit to take a percentage of");
        judge(&c, (ProbeMemoryReading) { .measure = PROBE_MEMORY_CGROUP, .at = 2, .bytes = 64 << 20,
                                         .limit = 70 << 20, .limit_source = "memory.max",
                                         .n_processes = SIZE_MAX }, &r);
        assert_int_equal(r.status, PROBE_WARNING);
        assert_string_equal(r.message, "cgroup 64M of 70M memory.max (91.4%)");
        probe_check_release(&c);
        config_free(conf);
}

/* ---- Leak detection on synthetic series, one sample a second, a 60s window. */

static unsigned long long rng = 88172645463325252ULL;

/* Uniform in [-1, 1], the same sequence on every run. */
static double noise(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (double) (rng % 2000001) / 1000000.0 - 1.0;
}

typedef double (*Series)(unsigned second);

/* Feeds seconds [from, to) of series; returns the first second judged status (or UINT_MAX). */
static unsigned feed(ProbeCheck *c, Series f, unsigned from, unsigned to, uint64_t limit, ProbeStatus status,
                     ProbeResult *last) {
        unsigned first = UINT_MAX;

        for (unsigned s = from; s < to; s++) {
                judge(c, reading(f(s), limit, "limit", (usec_t) (s + 1) * USEC_PER_SEC), last);
                if (last->status == status && first == UINT_MAX)
                        first = s;
        }
        return first;
}

static double steady_leak(unsigned s) {
        return 100 * MiB + s * 1 * MiB + noise() * 64 * 1024;
}

static double sawtooth(unsigned s) {
        return 100 * MiB + (s % 10) * 2 * MiB + noise() * 64 * 1024;
}

static double step(unsigned s) {
        return (s < 90 ? 100 * MiB : 160 * MiB) + noise() * 64 * 1024;
}

static double noisy_flat(unsigned s) {
        return 100 * MiB + noise() * 5 * MiB;
}

static double slow_creep(unsigned s) {
        return 100 * MiB + s * (1 * MiB / 60);   /* 1M a minute */
}

static void test_steady_leak_is_found_within_the_window(void **state) {
        Config *conf = NULL;
        const ProbeConfig *pc = parse_ok("{ kind = \"memory\"; every = \"1s\"; critical = \"10G\"; "
                                         "leak_window = \"60s\"; }", &conf);
        char json[PROBE_EVIDENCE_MAX + 2];
        ProbeCheck c;
        ProbeResult r;
        unsigned found;

        assert_int_equal(probe_check_init(&c, &probe_memory_ops, pc, NULL, NULL, NULL), 0);
        /* Not before the samples cover most of the window, then within it. */
        assert_int_equal(feed(&c, steady_leak, 0, 40, 0, PROBE_WARNING, &r), UINT_MAX);
        found = feed(&c, steady_leak, 40, 61, 0, PROBE_WARNING, &r);
        assert_true(found >= 47 && found <= 60);
        assert_int_equal(r.status, PROBE_WARNING);
        /* 1M a second, give or take the noise. */
        assert_non_null(strstr(r.message, "; leaking 59.9"));
        assert_non_null(strstr(r.message, "M/min, no limit known"));
        assert_true(evidence_double(&r, "slope_per_min") > 59.5 * MiB);
        assert_true(evidence_double(&r, "slope_per_min") < 60.5 * MiB);
        assert_true(strncmp(r.message, "rss 16", 6) == 0);
        (void) snprintf(json, sizeof json, "{%s}", r.evidence);
        assert_non_null(strstr(json, "\"leak\":{\"samples\":[[0,"));
        assert_non_null(strstr(json, "\"slope_per_min\":"));
        assert_non_null(strstr(json, "\"projected_sec\":null}"));

        /* A limit far away: still WARNING, with the projection. */
        judge(&c, reading(steady_leak(61), 10ULL << 30, "limit", 62 * USEC_PER_SEC), &r);
        assert_int_equal(r.status, PROBE_WARNING);
        assert_non_null(strstr(r.message, "M/min, limit (10G) reached in ~2h4"));
        assert_non_null(strstr(r.evidence, "\"leak_limit\":10737418240,\"leak_limit_source\":\"limit\""));

        /* A limit reached sooner than the window is long: CRITICAL. 162M now, 40M to go at 1M/s. */
        judge(&c, reading(steady_leak(62), 202ULL << 20, "memory.max", 63 * USEC_PER_SEC), &r);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_true(r.threshold == (double) (202ULL << 20));
        assert_non_null(strstr(r.message, "M/min, memory.max (202M) reached in ~4"));

        /* A new process: the trend starts over. */
        probe_memory_ops.reset(&c, false);
        assert_int_equal(feed(&c, steady_leak, 100, 140, 0, PROBE_WARNING, &r), UINT_MAX);
        probe_check_release(&c);
        config_free(conf);
}

static void assert_never_a_leak(Series f, const char *probe) {
        Config *conf = NULL;
        const ProbeConfig *pc = parse_ok(probe, &conf);
        ProbeCheck c;
        ProbeResult r;

        assert_int_equal(probe_check_init(&c, &probe_memory_ops, pc, NULL, NULL, NULL), 0);
        /* Five windows, each point of the step and each phase of the teeth inside one. */
        assert_int_equal(feed(&c, f, 0, 300, 0, PROBE_WARNING, &r), UINT_MAX);
        assert_int_equal(r.status, PROBE_OK);
        assert_null(strstr(r.message, "leaking"));
        probe_check_release(&c);
        config_free(conf);
}

static void test_sawtooth_step_and_noise_are_not_leaks(void **state) {
        const char *probe = "{ kind = \"memory\"; every = \"1s\"; leak_window = \"60s\"; }";

        assert_never_a_leak(sawtooth, probe);
        assert_never_a_leak(step, probe);
        assert_never_a_leak(noisy_flat, probe);
}

static void test_leak_min_rate_ignores_slow_creep(void **state) {
        Config *conf = NULL;
        const ProbeConfig *pc;
        ProbeCheck c;
        ProbeResult r;

        assert_never_a_leak(slow_creep, "{ kind = \"memory\"; every = \"1s\"; leak_window = \"60s\"; "
                                        "leak_min_rate = \"2M\"; }");

        pc = parse_ok(
                "{ kind = \"memory\"; every = \"1s\"; leak_window = \"60s\"; leak_min_rate = \"512K\"; }",
                &conf);
        assert_int_equal(probe_check_init(&c, &probe_memory_ops, pc, NULL, NULL, NULL), 0);
        assert_true(feed(&c, slow_creep, 0, 61, 0, PROBE_WARNING, &r) <= 60);
        assert_non_null(strstr(r.message, "leaking 1M/min"));
        probe_check_release(&c);
        config_free(conf);
}

static void test_config_errors(void **state) {
        assert_error("{ kind = \"memory\"; critical = 1000; }", false, "",
                     "critical is a number (1000); probe kind \"memory\" takes a size (\"512M\") or a "
                     "percentage");
        assert_error("{ kind = \"memory\"; critical = \"30s\"; }", false, "", "critical is a duration");
        assert_error("{ kind = \"memory\"; critical = \"90%\"; }", false, "",
                     "critical: critical is a percentage, but measure \"rss\" has nothing to take it of: "
                     "set limit");
        assert_error("{ kind = \"memory\"; measure = \"pss\"; warning = \"50%\"; critical = \"1G\"; }",
                     false, "", "warning: warning is a percentage, but measure \"pss\"");
        assert_error("{ kind = \"memory\"; measure = \"cgroup\"; critical = \"1G\"; }", false,
                     "cgroups = \"off\";",
                     "measure: measure \"cgroup\" reads the instance's cgroup, but the worker has cgroups = "
                     "\"off\"");
        assert_error("{ kind = \"memory\"; measure = \"vss\"; }", false, "",
                     "measure: invalid measure \"vss\" (expected rss, pss or cgroup)");
        assert_error("{ kind = \"memory\"; limit = 0; }", false, "", "limit: must be greater than 0");
        assert_error("{ kind = \"memory\"; limit = \"lots\"; }", false, "", "limit: invalid size \"lots\"");
        assert_error("{ kind = \"memory\"; limit = 1.5; }", false, "",
                     "limit: expected a size such as \"512M\"");
        assert_error("{ kind = \"memory\"; every = \"1s\"; leak_window = \"10s\"; }", false, "",
                     "leak_window: leak_window (10s) must be at least 16 times every (1s)");
        assert_error("{ kind = \"memory\"; leak_window = \"10s\"; }", false, "",
                     "leak_window (10s) must be at least 16 times every (10s)");
        assert_error("{ kind = \"memory\"; leak_window = 600; }", false, "",
                     "leak_window: expected a duration");
        assert_error("{ kind = \"memory\"; leak_window = \"0\"; }", false, "",
                     "leak_window: must be greater than 0");
        assert_error("{ kind = \"memory\"; leak_min_rate = \"1M\"; }", false, "",
                     "leak_min_rate: leak_min_rate needs leak_window");
        assert_error("{ kind = \"memory\"; leak_window = \"1h\"; leak_min_rate = \"fast\"; }", false, "",
                     "leak_min_rate: invalid size \"fast\"");
        assert_error("{ kind = \"memory\"; leak_window = \"1h\"; leak_min_rate = -1; }", false, "",
                     "leak_min_rate: must not be negative");
        assert_error("{ kind = \"memory\"; measure = \"pss\"; }", true, "",
                     "measure: a host memory probe measures the host's used memory");
        assert_error("{ kind = \"memory\"; limit = \"1G\"; critical = \"90%\"; }", true, "",
                     "limit: a host memory probe's percentages are of MemTotal");
        assert_error("{ kind = \"memory\"; inodes_critical = 5; }", false, "",
                     "not a key of probe kind \"memory\" (it belongs to kind \"disk\")");
}

static void test_configs_that_are_fine(void **state) {
        Config *conf = NULL;
        char *error = NULL;

        /* A host probe's percentages are of MemTotal; memory.max stands in for limit. */
        if (parse("{ kind = \"memory\"; critical = \"90%\"; leak_window = \"10m\"; every = \"5s\"; }", true,
                  "", &conf, &error) < 0)
                fail_msg("%s", error);
        config_free(conf);
        if (parse("{ kind = \"memory\"; measure = \"cgroup\"; critical = \"90%\"; }", false, "", &conf,
                  &error) < 0)
                fail_msg("%s", error);
        config_free(conf);
}

static void test_real_sample_of_this_process(void **state) {
        static const char *const probes[] = {
                "{ kind = \"memory\"; critical = \"100G\"; }",
                "{ kind = \"memory\"; measure = \"pss\"; critical = \"100G\"; }",
        };
        ProbeTarget t = { .worker = "w", .instance = 0, .name = "w:0", .pid = getpid() };
        /* Touched, so resident: at least this much is counted. */
        size_t size = 8 << 20;
        char *ballast = malloc(size);

        assert_non_null(ballast);
        memset(ballast, 1, size);
        for (size_t i = 0; i < ELEMENTSOF(probes); i++) {
                Config *conf = NULL;
                const ProbeConfig *pc = parse_ok(probes[i], &conf);
                ProbeCheck c;
                ProbeResult r;

                assert_int_equal(probe_check_init(&c, &probe_memory_ops, pc, NULL, NULL, NULL), 0);
                assert_int_equal(probe_check_start(&c, &t, &r), 0);
                assert_int_equal(r.status, PROBE_OK);
                assert_true(r.value >= (double) size);
                assert_true(r.value < 100.0 * (1 << 30));
                assert_true(evidence_double(&r, "n_processes") == 1);
                assert_non_null(strstr(r.message, i == 0 ? "rss " : "pss "));
                probe_check_release(&c);
                config_free(conf);
        }
        free(ballast);
}

static void write_file(const char *dir, const char *name, const char *text) {
        char path[128];
        FILE *f;

        (void) snprintf(path, sizeof path, "%s/%s", dir, name);
        if (!text) {
                assert_int_equal(unlink(path), 0);
                return;
        }
        assert_non_null(f = fopen(path, "we"));
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

static void test_real_sample_of_a_cgroup_directory(void **state) {
        char dir[] = "/tmp/vigil-test-memory.XXXXXX";
        ProbeTarget t = { .worker = "w", .instance = 0, .name = "w:0", .pid = getpid() };
        Config *conf = NULL;
        const ProbeConfig *pc =
                parse_ok("{ kind = \"memory\"; measure = \"cgroup\"; critical = \"90%\"; }", &conf);
        ProbeCheck c;
        ProbeResult r;

        assert_non_null(mkdtemp(dir));
        t.cgroup_path = dir;
        assert_int_equal(probe_check_init(&c, &probe_memory_ops, pc, NULL, NULL, NULL), 0);

        /* No memory controller: no memory.current. */
        assert_int_equal(probe_check_start(&c, &t, &r), 0);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_non_null(strstr(r.message, "no memory.current in /tmp/vigil-test-memory."));

        write_file(dir, "memory.current", "100663296\n");
        write_file(dir, "memory.max", "104857600\n");
        assert_int_equal(probe_check_start(&c, &t, &r), 0);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_string_equal(r.message, "cgroup 96M of 100M memory.max (96.0%)");

        write_file(dir, "memory.max", "max\n");
        assert_int_equal(probe_check_start(&c, &t, &r), 0);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_string_equal(r.message, "cgroup 96M: no limit to take a percentage of");

        /* No cgroup at all. */
        t.cgroup_path = NULL;
        assert_int_equal(probe_check_start(&c, &t, &r), 0);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_string_equal(r.message, "measure \"cgroup\": the instance has no cgroup");

        write_file(dir, "memory.current", NULL);
        write_file(dir, "memory.max", NULL);
        assert_int_equal(rmdir(dir), 0);
        probe_check_release(&c);
        config_free(conf);
}

static void test_real_sample_of_the_host(void **state) {
        Config *conf = NULL;
        char *error = NULL;
        ProbeTarget t = { .instance = -1, .name = "host" };
        ProbeCheck c;
        ProbeResult r;

        if (parse("{ kind = \"memory\"; critical = \"100%\"; }", true, "", &conf, &error) < 0)
                fail_msg("%s", error);
        assert_int_equal(probe_check_init(&c, &probe_memory_ops, &conf->host_probes[0], NULL, NULL, NULL),
                         0);
        assert_int_equal(probe_check_start(&c, &t, &r), 0);
        assert_int_equal(r.status, PROBE_OK);
        assert_true(r.value > 0);
        assert_true(strncmp(r.message, "used ", 5) == 0);
        assert_non_null(strstr(r.evidence, "\"limit_source\":\"MemTotal\""));
        probe_check_release(&c);
        config_free(conf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_statm),
                cmocka_unit_test(test_parse_smaps_rollup),
                cmocka_unit_test(test_parse_meminfo_and_cgroup_values),
                cmocka_unit_test(test_thresholds_on_sizes_and_percentages),
                cmocka_unit_test(test_steady_leak_is_found_within_the_window),
                cmocka_unit_test(test_sawtooth_step_and_noise_are_not_leaks),
                cmocka_unit_test(test_leak_min_rate_ignores_slow_creep),
                cmocka_unit_test(test_config_errors),
                cmocka_unit_test(test_configs_that_are_fine),
                cmocka_unit_test(test_real_sample_of_this_process),
                cmocka_unit_test(test_real_sample_of_a_cgroup_directory),
                cmocka_unit_test(test_real_sample_of_the_host),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
