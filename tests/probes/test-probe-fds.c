/* The fds probe: file-nr parsing, counting a directory's numeric entries within a bound,
 * thresholds on counts and on the highest percentage of RLIMIT_NOFILE, leak detection through
 * the kind's own judge (a steady fd leak is found, projected to the tightest limit; a sawtooth
 * and a step are not), its config errors, and real samples: this process, a child with a low
 * RLIMIT_NOFILE in a stand-in cgroup, and the host. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config-parse.h"
#include "probe-fds.h"
#include "probe.h"

static const ConfigKinds kinds = { .probe_kind_at = probe_kind_spec_at };

static int parse(const char *probe, bool host, Config **ret, char **ret_error) {
        char path[] = "/tmp/vigil-test-probe-fds.XXXXXX";
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

static const ProbeConfig *parse_ok(const char *probe, Config **ret) {
        char *error = NULL;

        if (parse(probe, false, ret, &error) < 0)
                fail_msg("%s", error);
        return &(*ret)->workers[0].probes[0];
}

static void assert_error(const char *probe, const char *want) {
        Config *c = NULL;
        char *error = NULL;

        assert_int_equal(parse(probe, false, &c, &error), -EINVAL);
        assert_non_null(error);
        if (!strstr(error, want))
                fail_msg("error \"%s\" does not contain \"%s\"", error, want);
        free(error);
}

static double evidence_double(const ProbeResult *r, const char *key) {
        char k[64];
        const char *p;

        (void) snprintf(k, sizeof k, "\"%s\":", key);
        p = strstr(r->evidence, k);
        if (!p)
                fail_msg("no %s in evidence {%s}", key, r->evidence);
        return strtod(p + strlen(k), NULL);
}

static void test_parse_file_nr(void **state) {
        uint64_t allocated = 0, max = 0;

        assert_int_equal(probe_fds_parse_file_nr("926\t0\t2466235\n", &allocated, &max), 0);
        assert_true(allocated == 926 && max == 2466235);
        assert_int_equal(probe_fds_parse_file_nr("926\t0\n", &allocated, &max), -EINVAL);
        assert_int_equal(probe_fds_parse_file_nr("926\t0\t0\n", &allocated, &max), -EINVAL);
        assert_int_equal(probe_fds_parse_file_nr("a\tb\tc\n", &allocated, &max), -EINVAL);
        assert_true(allocated == 926);
}

static void test_count_dir_counts_numbers_within_the_bound(void **state) {
        static const char *const names[] = { "0", "1", "17", "2048", "x", ".hidden" };
        char dir[] = "/tmp/vigil-test-fds.XXXXXX", path[128];
        uint64_t n = 0;
        int dfd;

        assert_non_null(mkdtemp(dir));
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                (void) snprintf(path, sizeof path, "%s/%s", dir, names[i]);
                assert_true(close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) == 0);
        }
        assert_true((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0);
        assert_int_equal(probe_fds_count_dir(dfd, 100, &n), 0);
        assert_true(n == 4);
        assert_true(lseek(dfd, 0, SEEK_SET) == 0);
        assert_int_equal(probe_fds_count_dir(dfd, 3, &n), 1);
        assert_true(n == 3);
        assert_true(lseek(dfd, 0, SEEK_SET) == 0);
        assert_int_equal(probe_fds_count_dir(dfd, 4, &n), 0);
        assert_true(n == 4);
        assert_int_equal(close(dfd), 0);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                (void) snprintf(path, sizeof path, "%s/%s", dir, names[i]);
                assert_int_equal(unlink(path), 0);
        }
        assert_int_equal(rmdir(dir), 0);
}

static ProbeFdsReading reading(uint64_t total, uint64_t worst_count, uint64_t worst_limit, usec_t at) {
        return (ProbeFdsReading) {
                .at = at,
                .total = total,
                .percent = worst_limit ? 100.0 * (double) worst_count / (double) worst_limit : NAN,
                .worst_pid = worst_limit ? 4242 : 0,
                .worst_count = worst_count,
                .worst_limit = worst_limit,
                .headroom = worst_limit ? worst_limit - worst_count : UINT64_MAX,
                .n_processes = 2,
        };
}

static void judge(ProbeCheck *c, ProbeFdsReading f, ProbeResult *r) {
        probe_result_init(r);
        assert_int_equal(probe_fds_judge(c, &f, r), 0);
}

static void test_thresholds_on_counts_and_percentages(void **state) {
        Config *conf = NULL;
        const ProbeConfig *pc = parse_ok("{ kind = \"fds\"; warning = 500; critical = \"80%\"; }", &conf);
        char json[PROBE_EVIDENCE_MAX + 2];
        ProbeCheck c;
        ProbeResult r;

        assert_int_equal(probe_check_init(&c, &probe_fds_ops, pc, NULL, NULL, NULL), 0);
        judge(&c, reading(120, 100, 1024, 1), &r);
        assert_int_equal(r.status, PROBE_OK);
        assert_string_equal(r.message,
                            "120 open fds in 2 processes, 9.8% of RLIMIT_NOFILE in pid 4242 (100 of 1024)");
        (void) snprintf(json, sizeof json, "{%s}", r.evidence);
        assert_string_equal(json, "{\"open\":120,\"percent\":9.766,\"worst_pid\":4242,\"worst_count\":100,"
                                  "\"worst_limit\":1024,\"n_processes\":2}");

        /* 600 in all: WARNING on the count, though no process is near its own limit. */
        judge(&c, reading(600, 300, 1024, 2), &r);
        assert_int_equal(r.status, PROBE_WARNING);
        assert_true(r.threshold == 500);

        /* One process at 90% of its limit: CRITICAL, however few in all. */
        judge(&c, reading(240, 230, 256, 3), &r);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_true(r.threshold == 80);

        /* No limit readable: a percentage cannot be judged. */
        judge(&c, reading(240, 0, 0, 4), &r);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_string_equal(r.message,
                            "240 open fds in 2 processes: no RLIMIT_NOFILE to take a percentage of");
        probe_check_release(&c);
        config_free(conf);
}

static unsigned feed(ProbeCheck *c, uint64_t (*f)(unsigned), unsigned from, unsigned to, uint64_t limit,
                     ProbeResult *r) {
        unsigned first = UINT_MAX;

        for (unsigned s = from; s < to; s++) {
                judge(c, reading(f(s), f(s), limit, (usec_t) (s + 1) * USEC_PER_SEC), r);
                if (r->status != PROBE_OK && first == UINT_MAX)
                        first = s;
        }
        return first;
}

static uint64_t fd_leak(unsigned s) {
        return 50 + s;   /* one more a second */
}

static uint64_t fd_sawtooth(unsigned s) {
        return 50 + s % 12;   /* a batch of connections opened, then all closed */
}

static uint64_t fd_step(unsigned s) {
        return s < 100 ? 50 : 80;   /* a pool that grew once */
}

static void test_fd_leak_is_found_and_projected(void **state) {
        Config *conf = NULL;
        const ProbeConfig *pc =
                parse_ok("{ kind = \"fds\"; every = \"1s\"; leak_window = \"60s\"; }", &conf);
        ProbeCheck c;
        ProbeResult r;
        unsigned found;

        assert_int_equal(probe_check_init(&c, &probe_fds_ops, pc, NULL, NULL, NULL), 0);
        /* A limit of 100000: far, WARNING. */
        found = feed(&c, fd_leak, 0, 61, 100000, &r);
        assert_true(found >= 47 && found <= 60);
        assert_int_equal(r.status, PROBE_WARNING);
        assert_non_null(strstr(r.message, "; leaking 60 fds/min, RLIMIT_NOFILE (100000) reached in ~1d"));
        assert_true(evidence_double(&r, "slope_per_min") == 60);
        assert_true(evidence_double(&r, "leak_limit") == 100000);

        /* The tightest process has 40 to go at one a second: CRITICAL. 111 + 40 = 151. */
        judge(&c, reading(fd_leak(61), fd_leak(61), fd_leak(61) + 40, 62 * USEC_PER_SEC), &r);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_non_null(strstr(r.message, "leaking 60 fds/min, RLIMIT_NOFILE (151) reached in ~4"));
        assert_true(evidence_double(&r, "projected_sec") > 35 && evidence_double(&r, "projected_sec") < 45);
        probe_check_release(&c);
        config_free(conf);

        /* leak_min_rate: 60 a minute is not above 100 a minute. */
        pc = parse_ok("{ kind = \"fds\"; every = \"1s\"; leak_window = \"60s\"; leak_min_rate = 100; }",
                      &conf);
        assert_int_equal(probe_check_init(&c, &probe_fds_ops, pc, NULL, NULL, NULL), 0);
        assert_int_equal(feed(&c, fd_leak, 0, 200, 100000, &r), UINT_MAX);
        probe_check_release(&c);
        config_free(conf);
}

static void test_fd_sawtooth_and_step_are_not_leaks(void **state) {
        uint64_t (*const series[])(unsigned) = { fd_sawtooth, fd_step };

        for (size_t i = 0; i < ELEMENTSOF(series); i++) {
                Config *conf = NULL;
                const ProbeConfig *pc =
                        parse_ok("{ kind = \"fds\"; every = \"1s\"; leak_window = \"60s\"; }", &conf);
                ProbeCheck c;
                ProbeResult r;

                assert_int_equal(probe_check_init(&c, &probe_fds_ops, pc, NULL, NULL, NULL), 0);
                assert_int_equal(feed(&c, series[i], 0, 300, 1024, &r), UINT_MAX);
                probe_check_release(&c);
                config_free(conf);
        }
}

static void test_config_errors(void **state) {
        assert_error(
                "{ kind = \"fds\"; critical = \"1G\"; }",
                "critical is a size (\"512M\"); probe kind \"fds\" takes a number (1000) or a percentage");
        assert_error("{ kind = \"fds\"; warning = \"10s\"; }", "warning is a duration");
        assert_error("{ kind = \"fds\"; warning = 900; critical = 800; }",
                     "warning (900) must be at or below critical");
        assert_error("{ kind = \"fds\"; every = \"1s\"; leak_window = \"15s\"; }",
                     "leak_window: leak_window (15s) must be at least 16 times every (1s)");
        assert_error("{ kind = \"fds\"; leak_min_rate = 10; }",
                     "leak_min_rate: leak_min_rate needs leak_window");
        assert_error("{ kind = \"fds\"; leak_window = \"1h\"; leak_min_rate = \"1M\"; }",
                     "leak_min_rate: expected a number per minute such as 10, got a string");
        assert_error("{ kind = \"fds\"; leak_window = \"1h\"; leak_min_rate = -3; }",
                     "leak_min_rate: -3 is out of range");
        assert_error("{ kind = \"fds\"; measure = \"pss\"; }",
                     "not a key of probe kind \"fds\" (it belongs to kind \"memory\")");
}

static void test_real_sample_of_this_process(void **state) {
        Config *conf = NULL;
        const ProbeConfig *pc = parse_ok("{ kind = \"fds\"; critical = \"100%\"; }", &conf);
        ProbeTarget t = { .worker = "w", .instance = 0, .name = "w:0", .pid = getpid() };
        int fds[30];
        ProbeCheck c;
        ProbeResult r;
        double before;

        assert_int_equal(probe_check_init(&c, &probe_fds_ops, pc, NULL, NULL, NULL), 0);
        assert_int_equal(probe_check_start(&c, &t, &r), 0);
        assert_int_equal(r.status, PROBE_OK);
        before = r.value;
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                assert_true((fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0);
        assert_int_equal(probe_check_start(&c, &t, &r), 0);
        assert_true(r.value == before + ELEMENTSOF(fds));
        assert_true(evidence_double(&r, "worst_pid") == getpid());
        assert_true(evidence_double(&r, "n_processes") == 1);
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                assert_int_equal(close(fds[i]), 0);
        probe_check_release(&c);
        config_free(conf);
}

/* A child with RLIMIT_NOFILE 64 holding 40 more descriptors than it was born with, listed in
 * a stand-in cgroup directory beside this process: the percentage is the child's. */
static void test_real_sample_highest_percentage_wins(void **state) {
        char dir[] = "/tmp/vigil-test-fds-cg.XXXXXX", path[128];
        Config *conf = NULL;
        const ProbeConfig *pc = parse_ok("{ kind = \"fds\"; critical = \"50%\"; }", &conf);
        ProbeTarget t = { .worker = "w", .instance = 0, .name = "w:0" };
        int ready[2], hold[2], status;
        ProbeCheck c;
        ProbeResult r;
        pid_t child;
        char byte;
        FILE *f;

        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                (void) close(hold[1]);
                for (int i = 0; i < 40; i++)
                        if (open("/dev/null", O_RDONLY | O_CLOEXEC) < 0)
                                _exit(3);
                if (write(ready[1], "x", 1) != 1)
                        _exit(5);
                (void) read(hold[0], &byte, 1);
                _exit(0);
        }
        (void) close(hold[0]);
        (void) close(ready[1]);
        assert_int_equal(read(ready[0], &byte, 1), 1);
        /* Set from here: valgrind, when it runs the test, refuses a process it runs a
         * setrlimit() of its own RLIMIT_NOFILE (EPERM). */
        assert_int_equal(
                prlimit(child, RLIMIT_NOFILE, &(const struct rlimit){.rlim_cur = 64, .rlim_max = 64}, NULL),
                0);

        assert_non_null(mkdtemp(dir));
        (void) snprintf(path, sizeof path, "%s/cgroup.procs", dir);
        assert_non_null(f = fopen(path, "we"));
        fprintf(f, "%d\n%d\n", (int) getpid(), (int) child);
        assert_int_equal(fclose(f), 0);
        t.cgroup_path = dir;

        assert_int_equal(probe_check_init(&c, &probe_fds_ops, pc, NULL, NULL, NULL), 0);
        assert_int_equal(probe_check_start(&c, &t, &r), 0);
        assert_true(evidence_double(&r, "worst_pid") == child);
        assert_true(evidence_double(&r, "worst_limit") == 64);
        assert_true(evidence_double(&r, "worst_count") >= 40);
        assert_true(evidence_double(&r, "n_processes") == 2);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_non_null(strstr(r.message, "of RLIMIT_NOFILE in pid"));

        (void) close(hold[1]);
        (void) close(ready[0]);
        assert_int_equal(waitpid(child, &status, 0), child);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("the child ended with status 0x%x", (unsigned) status);
        assert_int_equal(unlink(path), 0);
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

        if (parse("{ kind = \"fds\"; critical = \"100%\"; }", true, &conf, &error) < 0)
                fail_msg("%s", error);
        assert_int_equal(probe_check_init(&c, &probe_fds_ops, &conf->host_probes[0], NULL, NULL, NULL), 0);
        assert_int_equal(probe_check_start(&c, &t, &r), 0);
        assert_int_equal(r.status, PROBE_OK);
        assert_true(r.value > 0);
        assert_non_null(strstr(r.message, " file handles allocated of "));
        probe_check_release(&c);
        config_free(conf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_file_nr),
                cmocka_unit_test(test_count_dir_counts_numbers_within_the_bound),
                cmocka_unit_test(test_thresholds_on_counts_and_percentages),
                cmocka_unit_test(test_fd_leak_is_found_and_projected),
                cmocka_unit_test(test_fd_sawtooth_and_step_are_not_leaks),
                cmocka_unit_test(test_config_errors),
                cmocka_unit_test(test_real_sample_of_this_process),
                cmocka_unit_test(test_real_sample_highest_percentage_wins),
                cmocka_unit_test(test_real_sample_of_the_host),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
