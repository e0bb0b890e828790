/* The queue probe's mapping from a backlog reading to a result: depth thresholds, a spool
 * counted up to max_count (">= N"), the worker's X_VIGIL_QUEUE= (none yet, stale, current),
 * growth fitted over growth_window (steady growth fires by its rate, a burst that drains and a
 * flat backlog do not), a new process starting its notify trend afresh; a command's output
 * (the depth that begins its first line, and every way of not giving one), its growth; every
 * config error; real spool directories, a large one counted across loop iterations; and real
 * commands run through the vtable, one cancelled. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config-parse.h"
#include "probe-queue.h"
#include "probe.h"
#include "test-util.h"

#define SEC USEC_PER_SEC
#define T0 (1000 * USEC_PER_SEC)

static const ConfigKinds kinds = { .probe_kind_at = probe_kind_spec_at };

static int parse(const char *probes, const char *host_probes, Config **ret, char **ret_error) {
        char path[] = "/tmp/vigil-test-probe-queue.XXXXXX";
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

/* The one probe of the worker. */
static Config *parse_ok(const char *probe) {
        Config *c = NULL;
        char *error = NULL;

        if (parse(probe, "", &c, &error) < 0)
                fail_msg("%s", error);
        assert_int_equal(c->workers[0].n_probes, 1);
        return c;
}

static void assert_error_in(const char *probes, const char *host_probes, const char *want) {
        Config *c = NULL;
        char *error = NULL;

        assert_int_equal(parse(probes, host_probes, &c, &error), -EINVAL);
        assert_non_null(error);
        if (!strstr(error, want))
                fail_msg("error \"%s\" does not contain \"%s\"", error, want);
        free(error);
}

static void assert_error(const char *probe, const char *want) {
        assert_error_in(probe, "", want);
}

static ProbeResult judge(const Config *c, TrendWindow *w, QueueReading q, usec_t t) {
        ProbeResult r;

        probe_result_init(&r);
        probe_queue_judge(&c->workers[0].probes[0], w, &q, t, &r);
        return r;
}

static void test_spool_depth_thresholds_and_bound(void **state) {
        Config *c = parse_ok("{ kind = \"queue\"; spool = \"/var/spool/out\"; warning = 5; critical = 10; "
                             "max_count = 1000; }");
        char json[PROBE_EVIDENCE_MAX + 2];
        ProbeResult r;

        r = judge(c, NULL, (QueueReading) { .present = true, .depth = 5 }, T0);
        assert_int_equal(r.status, PROBE_OK);
        assert_string_equal(r.message, "queue depth 5 (spool /var/spool/out)");

        r = judge(c, NULL, (QueueReading) { .present = true, .depth = 6 }, T0);
        assert_int_equal(r.status, PROBE_WARNING);
        assert_true(r.value == 6.0);
        assert_true(r.threshold == 5.0);

        r = judge(c, NULL, (QueueReading) { .present = true, .depth = 11 }, T0);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_true(r.threshold == 10.0);
        (void) snprintf(json, sizeof json, "{%s}", r.evidence);
        assert_string_equal(
                json, "{\"source\":\"spool\",\"spool\":\"/var/spool/out\",\"max_count\":1000,\"depth\":11,"
                      "\"bounded\":false}");

        /* Counted up to max_count: the depth is at least that. */
        r = judge(c, NULL, (QueueReading) { .present = true, .depth = 1000, .bounded = true }, T0);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_string_equal(r.message,
                            "queue depth >= 1000 (spool /var/spool/out, counted up to max_count)");
        assert_non_null(strstr(r.evidence, "\"bounded\":true"));
        config_free(c);
}

static void test_notify_reports(void **state) {
        Config *c = parse_ok("{ kind = \"queue\"; source = \"notify\"; critical = 100; every = \"10s\"; }");
        ProbeResult r;

        r = judge(c, NULL, (QueueReading) {}, T0);
        assert_true(r.no_verdict);
        assert_string_equal(r.message, "no X_VIGIL_QUEUE= reported yet");

        r = judge(c, NULL, (QueueReading) { .present = true, .depth = 12 }, T0);
        assert_int_equal(r.status, PROBE_OK);
        assert_string_equal(r.message, "queue depth 12 (X_VIGIL_QUEUE=)");

        r = judge(c, NULL, (QueueReading) { .present = true, .depth = 120 }, T0);
        assert_int_equal(r.status, PROBE_CRITICAL);

        r = judge(c, NULL,
                  (QueueReading){.present = true, .stale = true, .depth = 120, .report_age = 31 * SEC}, T0);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_string_equal(r.message, "no X_VIGIL_QUEUE= for 31s (the last said 120)");
        config_free(c);
}

/* Through the vtable: a report older than 3 × every is stale; a new process (reset) starts the
 * growth window afresh. */
static void test_notify_through_check_stale_and_reset(void **state) {
        Config *c = parse_ok("{ kind = \"queue\"; source = \"notify\"; growth_warning = 60; every = \"1s\"; "
                             "growth_window = \"1m\"; }");
        usec_t t = now(CLOCK_MONOTONIC);
        ProbeReports rep = { .has_queue = true, .queue = 7, .queue_at = t };
        ProbeTarget target = { .worker = "w", .instance = 0, .name = "w:0", .reports = &rep };
        ProbeCheck check;
        ProbeResult r;

        assert_int_equal(
                probe_check_init(&check, &probe_queue_ops, &c->workers[0].probes[0], NULL, NULL, NULL), 0);
        for (unsigned k = 0; k < 3; k++) {
                assert_int_equal(probe_check_start(&check, &target, &r), 0);
                assert_int_equal(r.status, PROBE_OK);
        }
        assert_non_null(strstr(r.evidence, "\"growth_judged\":false,\"growth_reason\":\"too few samples\""));
        /* Samples this close together are merged into one point, their mean. */
        assert_non_null(strstr(r.evidence, "\"samples\":[[0,7]],"));

        /* Without the reset, the point would be (3 * 7 + 10) / 4. */
        probe_queue_ops.reset(&check, false);
        rep.queue = 10;
        assert_int_equal(probe_check_start(&check, &target, &r), 0);
        assert_non_null(strstr(r.evidence, "\"samples\":[[0,10]],"));

        rep.queue_at = t - 4 * SEC;
        assert_int_equal(probe_check_start(&check, &target, &r), 0);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_non_null(strstr(r.message, "no X_VIGIL_QUEUE= for 4s"));

        rep.has_queue = false;
        assert_int_equal(probe_check_start(&check, &target, &r), 0);
        assert_true(r.no_verdict);
        probe_check_release(&check);
        config_free(c);
}

/* Feeds depth(i) at T0 + i s for i in [from, to) and returns the last result. */
static ProbeResult feed(const Config *c, TrendWindow *w, unsigned from, unsigned to,
                        uint64_t (*depth)(unsigned)) {
        ProbeResult r = {};

        for (unsigned i = from; i < to; i++)
                r = judge(c, w, (QueueReading) { .present = true, .depth = depth(i) }, T0 + i * SEC);
        return r;
}

static uint64_t steady_10_per_sec(unsigned i) {
        return 100 + 10 * i;
}

static uint64_t steady_5_per_sec(unsigned i) {
        return 100 + 5 * i;
}

static uint64_t flat(unsigned i) {
        return 500 + (i % 3);
}

/* Bursts of 200 that drain within 20 s: no steady growth. */
static uint64_t sawtooth(unsigned i) {
        return (uint64_t) (10 * (i % 20));
}

static void test_growth_fires_by_its_rate(void **state) {
        Config *c = parse_ok(
                "{ kind = \"queue\"; source = \"notify\"; growth_warning = 200; growth_critical = 500; "
                "critical = 100000; every = \"1s\"; growth_window = \"1m\"; }");
        const ProbeConfig *pc = &c->workers[0].probes[0];
        TrendWindow *w = NULL;
        ProbeResult r;

        assert_int_equal(trend_window_new(60 * SEC, &w), 0);
        /* Too few samples to judge: depth alone. */
        r = feed(c, w, 0, 10, steady_10_per_sec);
        assert_int_equal(r.status, PROBE_OK);
        assert_non_null(strstr(r.evidence, "\"growth_judged\":false"));

        /* 10/s is 600/min, past growth_critical. */
        r = feed(c, w, 10, 61, steady_10_per_sec);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_true(r.value > 599.0 && r.value < 601.0);
        assert_true(r.threshold == 500.0);
        assert_string_equal(r.message,
                            "queue growing by 600/min over the last 1m (depth 700, X_VIGIL_QUEUE=)");
        assert_non_null(strstr(r.evidence, "\"growth\":{\"samples\":[["));
        assert_non_null(strstr(r.evidence, "\"slope_per_min\":600"));
        assert_non_null(strstr(r.evidence, "\"growth_reason\":\"steady growth\""));
        /* projected_sec: when the line reaches critical = 100000. */
        assert_non_null(strstr(r.evidence, "\"projected_sec\":9930"));

        /* 5/s is 300/min: WARNING only. */
        trend_window_reset(w);
        r = feed(c, w, 0, 61, steady_5_per_sec);
        assert_int_equal(r.status, PROBE_WARNING);
        assert_true(r.threshold == 200.0);

        /* Flat, and a sawtooth that drains: no growth. */
        trend_window_reset(w);
        r = feed(c, w, 0, 61, flat);
        assert_int_equal(r.status, PROBE_OK);
        assert_non_null(strstr(r.evidence, "\"growth_judged\":true"));
        trend_window_reset(w);
        r = feed(c, w, 0, 61, sawtooth);
        assert_int_equal(r.status, PROBE_OK);
        assert_null(strstr(r.evidence, "steady growth"));
        assert_true(pc->critical.set);

        /* A depth past its threshold is CRITICAL whatever the growth. */
        trend_window_reset(w);
        r = judge(c, w, (QueueReading) { .present = true, .depth = 200000 }, T0);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_true(r.value == 200000.0);
        trend_window_free(w);
        config_free(c);
}

static void make_files(const char *dir, unsigned n) {
        char path[256];

        for (unsigned i = 0; i < n; i++) {
                int fd;

                (void) snprintf(path, sizeof path, "%s/f%u", dir, i);
                fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
                assert_true(fd >= 0);
                assert_int_equal(close(fd), 0);
        }
}

static void remove_tree(const char *dir) {
        char *cmd = NULL;

        assert_true(asprintf(&cmd, "rm -rf '%s'", dir) > 0);
        assert_int_equal(system(cmd), 0);
        free(cmd);
}

typedef struct Run {
        bool done;
        ProbeResult result;
} Run;

static void on_done(ProbeCheck *c, const ProbeResult *r, void *userdata) {
        Run *run = userdata;

        assert_false(run->done);
        run->done = true;
        run->result = *r;
}

static void test_real_spools(void **state) {
        char dir[] = "/tmp/vigil-test-probe-queue.XXXXXX", conf[512];
        ProbeTarget t = { .instance = -1, .name = "host" };
        unsigned n_fds = count_fds(), loop_fds, iterations = 0;
        sd_event *event = NULL;
        ProbeEnv env;
        ProbeCheck check;
        Run run = {};
        ProbeResult r;
        Config *c;

        assert_non_null(mkdtemp(dir));
        make_files(dir, 10);
        (void) snprintf(conf, sizeof conf,
                        "{ kind = \"queue\"; spool = \"%s\"; warning = 3; max_count = 4; }", dir);
        c = parse_ok(conf);
        assert_int_equal(
                probe_check_init(&check, &probe_queue_ops, &c->workers[0].probes[0], NULL, NULL, NULL), 0);
        assert_int_equal(probe_check_start(&check, &t, &r), 0);
        assert_int_equal(r.status, PROBE_WARNING);
        assert_true(r.value == 4.0);
        assert_non_null(strstr(r.message, "queue depth >= 4 ("));
        probe_check_release(&check);
        config_free(c);

        /* 5000 entries: more than one batch, counted from the loop; all of them. */
        make_files(dir, 5000);
        (void) snprintf(conf, sizeof conf, "{ kind = \"queue\"; spool = \"%s\"; critical = 4999; }", dir);
        c = parse_ok(conf);
        assert_int_equal(sd_event_new(&event), 0);
        loop_fds = count_fds();
        env = (ProbeEnv) { .event = event };
        assert_int_equal(
                probe_check_init(&check, &probe_queue_ops, &c->workers[0].probes[0], &env, on_done, &run),
                0);
        assert_int_equal(probe_check_start(&check, &t, &r), 1);
        while (!run.done) {
                assert_true(sd_event_run(event, 0) >= 0);
                assert_true(++iterations < 100);
        }
        assert_int_equal(run.result.status, PROBE_CRITICAL);
        assert_true(run.result.value == 5000.0);
        assert_string_equal(strstr(run.result.message, "queue depth 5000 (") ?: "", run.result.message);
        assert_int_equal(count_fds(), loop_fds);

        /* Cancelled midway: the directory is closed, nothing is called back. */
        run.done = false;
        assert_int_equal(probe_check_start(&check, &t, &r), 1);
        probe_check_cancel(&check);
        for (unsigned k = 0; k < 5; k++)
                assert_true(sd_event_run(event, 0) >= 0);
        assert_false(run.done);
        assert_int_equal(count_fds(), loop_fds);

        /* Gone: UNKNOWN, naming the path. */
        remove_tree(dir);
        assert_int_equal(probe_check_start(&check, &t, &r), 0);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_non_null(strstr(r.message, dir));
        assert_non_null(strstr(r.message, "No such file or directory"));
        probe_check_release(&check);
        sd_event_unref(event);
        config_free(c);
        assert_int_equal(count_fds(), n_fds);
}

static void test_command_config(void **state) {
        char *error = NULL;
        Config *c = parse_ok("{ kind = \"queue\"; command = [ \"/bin/depth\", \"mail\" ]; user = \"root\"; "
                             "critical = 5; }");

        assert_int_equal(c->workers[0].probes[0].timeout, 5 * SEC);
        config_free(c);
        /* A host probe too. */
        assert_int_equal(parse("", "{ kind = \"queue\"; command = [ \"/bin/depth\" ]; warning = 1; }", &c, &error),
                         0);
        assert_int_equal(c->n_host_probes, 1);
        config_free(c);
}

/* ---- The command source ---- */

typedef struct DepthCase {
        const char *line;
        int want;             /* 0, -EINVAL or -ERANGE */
        uint64_t depth;
} DepthCase;

static const DepthCase depth_cases[] = {
        { "42", 0, 42 },
        { "0", 0, 0 },
        { "42 jobs queued", 0, 42 },
        { "  \t7\tpending", 0, 7 },
        { "18446744073709551615", 0, UINT64_MAX },
        { "00012", 0, 12 },
        { "18446744073709551616", -ERANGE, 0 },
        { "99999999999999999999999", -ERANGE, 0 },
        { "", -EINVAL, 0 },
        { "   ", -EINVAL, 0 },
        { "depth 42", -EINVAL, 0 },
        { "-1", -EINVAL, 0 },
        { "+5", -EINVAL, 0 },
        { "3.5", -EINVAL, 0 },
        { "1,200", -EINVAL, 0 },
        { "12abc", -EINVAL, 0 },
        { "0x10", -EINVAL, 0 },
};

static void test_command_depth_is_the_number_that_begins_the_line(void **state) {
        for (size_t k = 0; k < ELEMENTSOF(depth_cases); k++) {
                const DepthCase *d = &depth_cases[k];
                uint64_t depth = 4711;
                int r;

                r = probe_queue_parse_depth(d->line, strlen(d->line), &depth);
                if (r != d->want || (r == 0 && depth != d->depth))
                        fail_msg("\"%s\": got %d (%" PRIu64 "), want %d (%" PRIu64 ")", d->line, r, depth, d->want,
                                 d->depth);
                if (r < 0 && depth != 4711)
                        fail_msg("\"%s\": the depth was set on failure", d->line);
        }
        /* Only the n bytes given count: what follows the first line is not read. */
        {
                uint64_t depth = 0;

                assert_int_equal(probe_queue_parse_depth("12\n34", 2, &depth), 0);
                assert_true(depth == 12);
                assert_int_equal(probe_queue_parse_depth("12345", 2, &depth), 0);
                assert_true(depth == 12);
        }
}

static ProbeResult judge_command(const Config *c, TrendWindow *w, int code, int status, const char *out,
                                 usec_t t) {
        ProbeCommandOutcome o = { .code = code, .status = status, .output = out, .size = strlen(out) };
        ProbeResult r;

        probe_result_init(&r);
        probe_queue_judge_command(&c->workers[0].probes[0], w, &o, t, &r);
        return r;
}

static void test_command_outcomes(void **state) {
        Config *c = parse_ok("{ kind = \"queue\"; command = [ \"/usr/local/bin/depth\", \"-q\" ]; warning = 10; "
                             "critical = 100; }");
        char json[PROBE_EVIDENCE_MAX + 2];
        ProbeResult r;

        r = judge_command(c, NULL, CLD_EXITED, 0, "5 jobs\nmore\n", T0);
        assert_int_equal(r.status, PROBE_OK);
        assert_string_equal(r.message, "queue depth 5 (command /usr/local/bin/depth)");
        r = judge_command(c, NULL, CLD_EXITED, 0, "42\r\n", T0);
        assert_int_equal(r.status, PROBE_WARNING);
        assert_true(r.value == 42.0);
        assert_true(r.threshold == 10.0);
        (void) snprintf(json, sizeof json, "{%s}", r.evidence);
        assert_string_equal(json, "{\"source\":\"command\",\"command\":\"/usr/local/bin/depth\",\"depth\":42,"
                                  "\"bounded\":false,\"exit_status\":0,\"output\":\"42\"}");
        r = judge_command(c, NULL, CLD_EXITED, 0, "1000 (mail)", T0);
        assert_int_equal(r.status, PROBE_CRITICAL);

        /* Every way of not giving a depth is UNKNOWN, saying which. */
        r = judge_command(c, NULL, CLD_EXITED, 3, "broker down\n", T0);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_string_equal(r.message, "queue command /usr/local/bin/depth exited with status 3: \"broker down\"");
        (void) snprintf(json, sizeof json, "{%s}", r.evidence);
        assert_string_equal(json, "{\"source\":\"command\",\"command\":\"/usr/local/bin/depth\","
                                  "\"exit_status\":3,\"output\":\"broker down\"}");
        r = judge_command(c, NULL, CLD_EXITED, 1, "7\n", T0);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_string_equal(r.message, "queue command /usr/local/bin/depth exited with status 1: \"7\"");
        r = judge_command(c, NULL, CLD_EXITED, 2, "", T0);
        assert_string_equal(r.message, "queue command /usr/local/bin/depth exited with status 2");
        r = judge_command(c, NULL, CLD_KILLED, SIGKILL, "12", T0);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_string_equal(r.message, "queue command /usr/local/bin/depth killed by signal SIGKILL");
        assert_non_null(strstr(r.evidence, "\"exit_status\":null,\"signal\":\"SIGKILL\""));
        r = judge_command(c, NULL, CLD_DUMPED, SIGSEGV, "", T0);
        assert_string_equal(r.message, "queue command /usr/local/bin/depth killed by signal SIGSEGV (core dumped)");
        r = judge_command(c, NULL, 0, 0, "12", T0);
        assert_string_equal(r.message, "cannot tell how queue command /usr/local/bin/depth ended");
        r = judge_command(c, NULL, CLD_EXITED, 0, "depth: 12\n", T0);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_string_equal(r.message, "queue command /usr/local/bin/depth printed no depth: \"depth: 12\"");
        r = judge_command(c, NULL, CLD_EXITED, 0, "\n12\n", T0);
        assert_string_equal(r.message,
                            "queue command /usr/local/bin/depth printed no depth: its first line is empty");
        r = judge_command(c, NULL, CLD_EXITED, 0, "", T0);
        assert_string_equal(r.message,
                            "queue command /usr/local/bin/depth printed no depth: its first line is empty");
        r = judge_command(c, NULL, CLD_EXITED, 0, "99999999999999999999999", T0);
        assert_string_equal(r.message, "queue command /usr/local/bin/depth printed no depth (out of range): "
                                       "\"99999999999999999999999\"");
        /* A control character in the line is escaped, in the message as in the evidence. */
        r = judge_command(c, NULL, CLD_EXITED, 0, "\x1b[31mred", T0);
        assert_string_equal(r.message, "queue command /usr/local/bin/depth printed no depth: \"\\u001b[31mred\"");
        config_free(c);
}

static void test_command_growth_fires_by_its_rate(void **state) {
        Config *c = parse_ok("{ kind = \"queue\"; command = [ \"/bin/depth\" ]; growth_critical = 500; "
                             "every = \"1s\"; growth_window = \"1m\"; }");
        TrendWindow *w = NULL;
        char out[32];
        ProbeResult r = {};

        assert_int_equal(trend_window_new(60 * SEC, &w), 0);
        /* 10/s is 600/min, past growth_critical; a failed sample adds no point. */
        for (unsigned i = 0; i < 61; i++) {
                (void) snprintf(out, sizeof out, "%u items\n", 100 + 10 * i);
                r = judge_command(c, w, CLD_EXITED, 0, out, T0 + i * SEC);
                if (i == 30)
                        assert_int_equal(judge_command(c, w, CLD_EXITED, 1, "", T0 + i * SEC).status,
                                         PROBE_UNKNOWN);
        }
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_true(r.value > 599.0 && r.value < 601.0);
        assert_string_equal(r.message, "queue growing by 600/min over the last 1m (depth 700, command /bin/depth)");
        assert_non_null(strstr(r.evidence, "\"growth_reason\":\"steady growth\""));
        assert_non_null(strstr(r.evidence, "\"exit_status\":0,\"output\":\"700 items\""));
        trend_window_free(w);
        config_free(c);
}

/* What the probe asked of its ProbeEnv. */
typedef struct Watch {
        unsigned n_watch, n_unwatch;
} Watch;

static int env_watch(void *userdata, pid_t pid, void (*reap)(void *), void *reap_userdata) {
        ((Watch *) userdata)->n_watch++;
        return 0;
}

static void env_unwatch(void *userdata, pid_t pid) {
        ((Watch *) userdata)->n_unwatch++;
}

static void test_real_commands(void **state) {
        ProbeTarget t = { .worker = "w", .instance = 0, .name = "w:0", .pid = 99 };
        unsigned n_fds = count_fds();
        sd_event *event = NULL;
        ProbeCheck check;
        Watch watch = {};
        Run run = {};
        ProbeEnv env;
        ProbeResult r;
        Config *c;
        siginfo_t si = {};

        assert_int_equal(sd_event_new(&event), 0);
        env = (ProbeEnv) { .event = event, .child_watch = env_watch, .child_unwatch = env_unwatch,
                           .userdata = &watch };

        /* The command sees the instance's variables; its depth is judged. */
        c = parse_ok("{ kind = \"queue\"; command = [ \"/bin/sh\", \"-c\", "
                     "\"echo $((VIGIL_PID + VIGIL_INSTANCE + 3)) jobs\" ]; warning = 100; }");
        assert_int_equal(probe_check_init(&check, &probe_queue_ops, &c->workers[0].probes[0], &env, on_done, &run),
                         0);
        assert_int_equal(probe_check_start(&check, &t, &r), 1);
        assert_int_equal(watch.n_watch, 1);
        for (unsigned k = 0; !run.done; k++) {
                assert_true(k < 100);
                assert_true(sd_event_run(event, 100 * USEC_PER_MSEC) >= 0);
        }
        assert_int_equal(run.result.status, PROBE_WARNING);
        assert_string_equal(run.result.message, "queue depth 102 (command /bin/sh)");
        assert_int_equal(watch.n_unwatch, 1);
        probe_check_release(&check);
        config_free(c);

        /* A command that cannot start is UNKNOWN at once, with the reason. */
        c = parse_ok("{ kind = \"queue\"; command = [ \"/nonexistent/depth\" ]; warning = 100; }");
        assert_int_equal(probe_check_init(&check, &probe_queue_ops, &c->workers[0].probes[0], &env, on_done, &run),
                         0);
        assert_int_equal(probe_check_start(&check, &t, &r), 0);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_string_equal(r.message, "cannot start /nonexistent/depth: No such file or directory");
        /* The child that failed is reaped from the loop (released first, it would be vigild's). */
        for (unsigned k = 0; watch.n_unwatch < watch.n_watch; k++) {
                assert_true(k < 100);
                assert_true(sd_event_run(event, 100 * USEC_PER_MSEC) >= 0);
        }
        probe_check_release(&check);
        config_free(c);

        /* Cancelled (as the runner does at the timeout): killed, nothing called back. */
        run = (Run) {};
        c = parse_ok("{ kind = \"queue\"; command = [ \"/bin/sleep\", \"30\" ]; warning = 100; }");
        assert_int_equal(probe_check_init(&check, &probe_queue_ops, &c->workers[0].probes[0], &env, on_done, &run),
                         0);
        assert_int_equal(probe_check_start(&check, &t, &r), 1);
        probe_check_cancel(&check);
        for (unsigned k = 0; watch.n_unwatch < watch.n_watch; k++) {
                assert_true(k < 100);
                assert_true(sd_event_run(event, 100 * USEC_PER_MSEC) >= 0);
        }
        assert_true(sd_event_run(event, 0) >= 0);
        assert_false(run.done);
        probe_check_release(&check);
        config_free(c);

        assert_int_equal(waitid(P_ALL, 0, &si, WEXITED | WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
        sd_event_unref(event);
        assert_int_equal(count_fds(), n_fds);
}

static void test_config_errors(void **state) {
        assert_error("{ kind = \"queue\"; critical = 10; }",
                     "probes[0]: missing the queue's source: spool = \"/path\", source = \"notify\" or "
                     "command = [ \"/path\", ... ]");
        assert_error("{ kind = \"queue\"; spool = \"/s\"; source = \"notify\"; critical = 10; }",
                     "probes[0].source: a queue probe has one source: spool, source or command, not more");
        assert_error("{ kind = \"queue\"; source = \"spool\"; critical = 10; }",
                     "probes[0].source: invalid source \"spool\" (expected \"notify\"");
        assert_error("{ kind = \"queue\"; spool = \"s\"; critical = 10; }", "probes[0].spool:");
        assert_error("{ kind = \"queue\"; spool = \"/s\"; }",
                     "probes[0]: a queue probe needs warning, critical, growth_warning or growth_critical");
        assert_error("{ kind = \"queue\"; source = \"notify\"; max_count = 10; critical = 5; }",
                     "probes[0].max_count: has no use without spool");
        assert_error("{ kind = \"queue\"; spool = \"/s\"; max_count = 0; critical = 5; }",
                     "probes[0].max_count: 0 is out of range 1..100000000");
        assert_error("{ kind = \"queue\"; spool = \"/s\"; max_count = 100; critical = 100; }",
                     "probes[0].critical: must be below max_count (100)");
        assert_error("{ kind = \"queue\"; spool = \"/s\"; critical = \"1M\"; }",
                     "critical is a size (\"512M\"); probe kind \"queue\" takes a number (1000)");
        assert_error("{ kind = \"queue\"; spool = \"/s\"; growth_warning = \"10%\"; }",
                     "probes[0].growth_warning: expected a number (1000), got a percentage");
        assert_error("{ kind = \"queue\"; spool = \"/s\"; growth_warning = 100; growth_critical = 50; }",
                     "probes[0].growth_warning: must be at or below growth_critical");
        assert_error("{ kind = \"queue\"; spool = \"/s\"; critical = 5; growth_window = \"1m\"; }",
                     "probes[0].growth_window: has no use without growth_warning or growth_critical");
        assert_error("{ kind = \"queue\"; spool = \"/s\"; growth_critical = 5; growth_window = \"1m\"; "
                     "every = \"10s\"; }",
                     "probes[0].growth_window: growth_window (1m) is too short for every (10s)");
        assert_error("{ kind = \"queue\"; spool = \"/s\"; growth_critical = 5; every = \"30s\"; }",
                     "probes[0]: growth_window (5m) is too short for every (30s)");
        assert_error("{ kind = \"queue\"; spool = \"/s\"; growth_critical = 5; growth_window = \"0\"; }",
                     "probes[0].growth_window: must be greater than 0");
        assert_error("{ kind = \"queue\"; spool = \"/s\"; command = [ \"/bin/depth\" ]; critical = 10; }",
                     "probes[0].command: a queue probe has one source: spool, source or command, not more");
        assert_error("{ kind = \"queue\"; command = [ \"/bin/depth\" ]; source = \"notify\"; critical = 10; }",
                     "probes[0].source: a queue probe has one source: spool, source or command, not more");
        assert_error("{ kind = \"queue\"; command = [ \"depth\" ]; critical = 10; }",
                     "probes[0].command[0]: \"depth\" is not an absolute path");
        assert_error("{ kind = \"queue\"; command = []; critical = 10; }",
                     "probes[0].command: must not be empty");
        assert_error("{ kind = \"queue\"; command = \"/bin/depth\"; critical = 10; }",
                     "probes[0].command: expected an array of strings such as [ \"/usr/local/bin/outbox-depth\"");
        assert_error("{ kind = \"queue\"; command = [ \"/bin/depth\" ]; }",
                     "probes[0]: a queue probe needs warning, critical, growth_warning or growth_critical");
        assert_error("{ kind = \"queue\"; command = [ \"/bin/depth\" ]; max_count = 10; critical = 5; }",
                     "probes[0].max_count: has no use without spool");
        assert_error("{ kind = \"queue\"; spool = \"/s\"; user = \"root\"; critical = 5; }",
                     "probes[0].user: has no use without command");
        assert_error("{ kind = \"queue\"; command = [ \"/bin/depth\" ]; user = \"no-such-user-vigil\"; "
                     "critical = 5; }",
                     "probes[0].user: unknown user \"no-such-user-vigil\"");
        assert_error_in("", "{ kind = \"queue\"; source = \"notify\"; critical = 5; }",
                        "host_probes[0].source: source = \"notify\" reads a worker's X_VIGIL_QUEUE=: put "
                        "the probe in "
                        "the worker's probes");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_spool_depth_thresholds_and_bound),
                cmocka_unit_test(test_notify_reports),
                cmocka_unit_test(test_notify_through_check_stale_and_reset),
                cmocka_unit_test(test_growth_fires_by_its_rate),
                cmocka_unit_test(test_real_spools),
                cmocka_unit_test(test_command_depth_is_the_number_that_begins_the_line),
                cmocka_unit_test(test_command_outcomes),
                cmocka_unit_test(test_command_growth_fires_by_its_rate),
                cmocka_unit_test(test_real_commands),
                cmocka_unit_test(test_command_config),
                cmocka_unit_test(test_config_errors),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
