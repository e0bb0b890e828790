/* The exec probe: a plugin's output and exit status to a result (message from the first line,
 * control characters escaped and bounded, the first item of performance data in its forms,
 * exit statuses and signals), its config checks, and real commands run asynchronously on an
 * sd_event loop of the test's own, with a ProbeEnv that records what the probe watches: a
 * result with nothing left behind, a cancel that leaves no process and calls nothing back,
 * what a command leaves running killed, a command that cannot start, the daemon's reaper
 * reaching the child first, bounded output, the environment and the user the command gets. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config-parse.h"
#include "probe-exec.h"
#include "probe.h"

static const ConfigKinds kinds = { .probe_kind_at = probe_kind_spec_at };

/* Parses a config whose host_probes is the one probe `probe` (libconfig text). */
static int parse(const char *probe, Config **ret, char **ret_error) {
        char path[] = "/tmp/vigil-test-probe-exec.XXXXXX";
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

static bool same_number(double a, double b) {
        return (isnan(a) && isnan(b)) || a == b;
}

/* ---- The output and the exit status ---- */

typedef struct OutputCase {
        const char *output;
        size_t size;          /* 0: strlen(output) */
        int code, status;
        ProbeStatus want_status;
        const char *want_message;
        double want_value, want_threshold;
        const char *want_perfdata; /* the raw item in the evidence, NULL: none */
        const char *want_uom;
} OutputCase;

#define EXITED(n) CLD_EXITED, (n)

static const OutputCase output_cases[] = {
        /* The message is the first line, before '|', its blanks trimmed. */
        { "OK - fine | x=3;5;10\n", 0, EXITED(1), PROBE_WARNING, "OK - fine", 3, 10, "x=3;5;10", "" },
        { "first\nsecond | y=1\n", 0, EXITED(2), PROBE_CRITICAL, "first", NAN, NAN, NULL, NULL },
        { "OK   |x=1", 0, EXITED(0), PROBE_OK, "OK", 1, NAN, "x=1", "" },
        { "no newline at all", 0, EXITED(3), PROBE_UNKNOWN, "no newline at all", NAN, NAN, NULL, NULL },
        { "", 0, EXITED(0), PROBE_OK, "no output", NAN, NAN, NULL, NULL },
        { "| x=5;6;7\n", 0, EXITED(0), PROBE_OK, "no output", 5, 7, "x=5;6;7", "" },
        /* Control characters escaped; the CR of a CRLF line end dropped; a NUL is one too. */
        { "bad\x1b[31mred\ttab\r\nnext", 0, EXITED(0), PROBE_OK, "bad\\x1b[31mred\\x09tab", NAN, NAN, NULL, NULL },
        { "a\0b", 3, EXITED(0), PROBE_OK, "a\\x00b", NAN, NAN, NULL, NULL },
        /* Real plugins' forms: a UOM, several items (the first counts), a range. */
        { "DISK OK - free space: / 3326 MB (56%);| /=2643MB;5948;5958;0;5968\n/ 15272 MB (77%);\n", 0,
          EXITED(0), PROBE_OK, "DISK OK - free space: / 3326 MB (56%);", 2643, 5958,
          "/=2643MB;5948;5958;0;5968", "MB" },
        { "PROCS CRITICAL: 0 processes with args 'x' | procs=0;;1:1;0;\n", 0, EXITED(2), PROBE_CRITICAL,
          "PROCS CRITICAL: 0 processes with args 'x'", 0, 1, "procs=0;;1:1;0;", "" },
        { "OK | a=1;2;3 b=4;5;6", 0, EXITED(0), PROBE_OK, "OK", 1, 3, "a=1;2;3", "" },
        { "W | usage=85%;80;90", 0, EXITED(1), PROBE_WARNING, "W", 85, 90, "usage=85%;80;90", "%" },
        /* Quoted labels (blanks, '=' and a doubled quote inside), floats, exponents. */
        { "OK | 'my label'=1.5s;2;3;0;", 0, EXITED(0), PROBE_OK, "OK", 1.5, 3, "'my label'=1.5s;2;3;0;",
          "s" },
        { "OK | 'it''s=x'=7c", 0, EXITED(0), PROBE_OK, "OK", 7, NAN, "'it''s=x'=7c", "c" },
        { "OK | t=-2.5e1ms;;-10", 0, EXITED(0), PROBE_OK, "OK", -25, -10, "t=-2.5e1ms;;-10", "ms" },
        { "OK | t=.5KB", 0, EXITED(0), PROBE_OK, "OK", 0.5, NAN, "t=.5KB", "KB" },
        /* Missing warn or crit: crit, else warn, else none; ranges at their upper bound, else lower. */
        { "OK | load=0.5", 0, EXITED(0), PROBE_OK, "OK", 0.5, NAN, "load=0.5", "" },
        { "OK | load=0.5;4", 0, EXITED(0), PROBE_OK, "OK", 0.5, 4, "load=0.5;4", "" },
        { "OK | load=0.5;4;;0", 0, EXITED(0), PROBE_OK, "OK", 0.5, 4, "load=0.5;4;;0", "" },
        { "OK | free=50;20:;10:", 0, EXITED(0), PROBE_OK, "OK", 50, 10, "free=50;20:;10:", "" },
        { "OK | v=5;~:8;@2:9", 0, EXITED(0), PROBE_OK, "OK", 5, 9, "v=5;~:8;@2:9", "" },
        { "OK | v=5;3;junk", 0, EXITED(0), PROBE_OK, "OK", 5, 3, "v=5;3;junk", "" },
        { "OK | x=U;1;2", 0, EXITED(0), PROBE_OK, "OK", NAN, 2, "x=U;1;2", "" },
        /* Garbage: no value, no perfdata; the exit status still decides. */
        { "OK | garbage", 0, EXITED(0), PROBE_OK, "OK", NAN, NAN, NULL, NULL },
        { "OK | x=abc", 0, EXITED(0), PROBE_OK, "OK", NAN, NAN, NULL, NULL },
        { "OK | =3", 0, EXITED(0), PROBE_OK, "OK", NAN, NAN, NULL, NULL },
        { "OK | ''=3", 0, EXITED(0), PROBE_OK, "OK", NAN, NAN, NULL, NULL },
        { "OK | 'unterminated=3", 0, EXITED(0), PROBE_OK, "OK", NAN, NAN, NULL, NULL },
        { "OK | x=nan;1;2", 0, EXITED(1), PROBE_WARNING, "OK", NAN, NAN, NULL, NULL },
        { "OK | x=inf", 0, EXITED(0), PROBE_OK, "OK", NAN, NAN, NULL, NULL },
        { "OK | x=0x10", 0, EXITED(0), PROBE_OK, "OK", NAN, NAN, NULL, NULL },
        { "OK | x=3 MB", 0, EXITED(0), PROBE_OK, "OK", 3, NAN, "x=3", "" },
        { "OK | x=3M/s", 0, EXITED(0), PROBE_OK, "OK", NAN, NAN, NULL, NULL },
        { "OK | x=3;4;5\nlong text | y=9", 0, EXITED(0), PROBE_OK, "OK", 3, 5, "x=3;4;5", "" },
        /* Exit statuses outside the convention, and signals: UNKNOWN, saying so. */
        { "oops\n", 0, EXITED(4), PROBE_UNKNOWN, "unexpected exit status 4: oops", NAN, NAN, NULL, NULL },
        { "", 0, EXITED(127), PROBE_UNKNOWN, "unexpected exit status 127", NAN, NAN, NULL, NULL },
        { "x | v=1", 0, EXITED(255), PROBE_UNKNOWN, "unexpected exit status 255: x", 1, NAN, "v=1", "" },
        { "", 0, CLD_KILLED, SIGKILL, PROBE_UNKNOWN, "killed by signal SIGKILL", NAN, NAN, NULL, NULL },
        { "partial", 0, CLD_KILLED, SIGTERM, PROBE_UNKNOWN, "killed by signal SIGTERM: partial", NAN, NAN, NULL, NULL },
        { "", 0, CLD_DUMPED, SIGSEGV, PROBE_UNKNOWN, "killed by signal SIGSEGV (core dumped)", NAN, NAN, NULL, NULL },
        { "", 0, 0, 0, PROBE_UNKNOWN, "cannot tell how the command ended", NAN, NAN, NULL, NULL },
};

static void test_output_and_exit_status_table(void **state) {
        for (size_t k = 0; k < ELEMENTSOF(output_cases); k++) {
                const OutputCase *t = &output_cases[k];
                ExecOutcome o = {
                        .code = t->code,
                        .status = t->status,
                        .output = t->output,
                        .size = t->size ?: strlen(t->output),
                };
                char want[256];
                ProbeResult r;
                const char *p;

                probe_exec_judge(&o, &r);
                if (r.status != t->want_status || !streq(r.message, t->want_message) ||
                    !same_number(r.value, t->want_value) || !same_number(r.threshold, t->want_threshold))
                        fail_msg("case %zu (%s): got %s \"%s\" value %g threshold %g, want %s \"%s\" %g %g",
                                 k, t->output, probe_status_to_string(r.status), r.message, r.value, r.threshold,
                                 probe_status_to_string(t->want_status), t->want_message, t->want_value,
                                 t->want_threshold);
                p = strstr(r.evidence, "\"perfdata\":");
                (void) snprintf(want, sizeof want, "\"perfdata\":\"%s\",\"uom\":\"%s\"",
                                t->want_perfdata ?: "", t->want_uom ?: "");
                if (t->want_perfdata ? !p || !streq(p, want) : p != NULL)
                        fail_msg("case %zu (%s): evidence %s, want perfdata %s", k, t->output, r.evidence,
                                 strna(t->want_perfdata));
        }
}

static void test_evidence_is_json_of_exit_and_first_line(void **state) {
        const char *out = "OK - \"fine\" | x=3;5;10\nmore\n";
        ProbeResult r;

        probe_exec_judge(&(ExecOutcome) { .code = CLD_EXITED, .status = 1, .output = out, .size = strlen(out) }, &r);
        assert_string_equal(r.evidence, "\"exit_status\":1,\"output\":\"OK - \\\"fine\\\" | x=3;5;10\","
                                        "\"perfdata\":\"x=3;5;10\",\"uom\":\"\"");

        probe_exec_judge(&(ExecOutcome) { .code = CLD_KILLED, .status = SIGKILL, .output = "a\tb", .size = 3,
                                          .truncated = true }, &r);
        assert_string_equal(r.evidence, "\"exit_status\":null,\"signal\":\"SIGKILL\",\"output\":\"a\\u0009b\","
                                        "\"output_truncated\":true");
}

static void test_message_is_bounded_at_character_boundaries(void **state) {
        char out[PROBE_EXEC_OUTPUT_MAX], want[PROBE_MESSAGE_MAX];
        ProbeResult r;

        /* Plain text: as much as fits. */
        memset(out, 'a', sizeof out);
        probe_exec_judge(&(ExecOutcome) { .code = CLD_EXITED, .output = out, .size = sizeof out }, &r);
        assert_int_equal(strlen(r.message), PROBE_MESSAGE_MAX - 1);

        /* Escapes are never cut: 63 whole "\x01" fit in 255 bytes. */
        memset(out, 1, 300);
        probe_exec_judge(&(ExecOutcome) { .code = CLD_EXITED, .output = out, .size = 300 }, &r);
        assert_int_equal(strlen(r.message), 63 * 4);
        assert_string_equal(r.message + 62 * 4, "\\x01");

        /* Nor is a UTF-8 character: 254 bytes and a 2-byte "é" keep only the 254. */
        memset(out, 'a', 254);
        memcpy(out + 254, "\xc3\xa9zz", 4);
        probe_exec_judge(&(ExecOutcome) { .code = CLD_EXITED, .output = out, .size = 258 }, &r);
        memset(want, 'a', 254);
        want[254] = 0;
        assert_string_equal(r.message, want);
        memcpy(out + 253, "\xc3\xa9zz", 4);
        probe_exec_judge(&(ExecOutcome) { .code = CLD_EXITED, .output = out, .size = 257 }, &r);
        assert_int_equal(strlen(r.message), 255);
        assert_memory_equal(r.message + 253, "\xc3\xa9", 2);

        /* The prefix of an unexpected status comes first, the text after it. */
        memset(out, 'b', sizeof out);
        probe_exec_judge(&(ExecOutcome) { .code = CLD_EXITED, .status = 9, .output = out, .size = sizeof out },
                         &r);
        assert_int_equal(strlen(r.message), PROBE_MESSAGE_MAX - 1);
        assert_memory_equal(r.message, "unexpected exit status 9: bbb", 29);
}

/* ---- Configuration ---- */

static void test_config(void **state) {
        Config *c = parse_ok("{ kind = \"exec\"; command = [ \"/bin/true\", \"-x\" ]; }");
        const ProbeConfig *pc = &c->host_probes[0];

        assert_string_equal(pc->name, "exec");
        assert_true(pc->every == 60 * USEC_PER_SEC);
        assert_true(pc->timeout == 10 * USEC_PER_SEC);
        assert_ptr_equal(probe_ops_find("exec"), &probe_exec_ops);
        assert_int_equal(probe_exec_ops.timeout_status, PROBE_UNKNOWN);
        config_free(c);

        c = parse_ok("{ kind = \"exec\"; command = [ \"/bin/true\" ]; user = \"root\"; every = \"5s\"; }");
        assert_true(c->host_probes[0].timeout == 5 * USEC_PER_SEC);
        config_free(c);
}

static void test_config_errors(void **state) {
        assert_error("{ kind = \"exec\"; }", "host_probes[0]: missing required key \"command\"");
        assert_error("{ kind = \"exec\"; command = [ \"check_dummy\", \"0\" ]; }",
                     "host_probes[0].command[0]: \"check_dummy\" is not an absolute path");
        assert_error("{ kind = \"exec\"; command = []; }", "host_probes[0].command: must not be empty");
        assert_error("{ kind = \"exec\"; command = \"/bin/true\"; }", "host_probes[0].command: expected");
        assert_error("{ kind = \"exec\"; command = [ \"/bin/true\" ]; user = \"no-such-user-vigil\"; }",
                     "host_probes[0].user: unknown user \"no-such-user-vigil\"");
        assert_error("{ kind = \"exec\"; command = [ \"/bin/true\" ]; user = 0; }",
                     "host_probes[0].user: expected");
        assert_error("{ kind = \"exec\"; command = [ \"/bin/true\" ]; warning = 5; }",
                     "host_probes[0].warning: probe kind \"exec\" takes no warning threshold");
        assert_error("{ kind = \"exec\"; command = [ \"/bin/true\" ]; critical = \"5%\"; }",
                     "probe kind \"exec\" takes no critical threshold");
        assert_error("{ kind = \"exec\"; command = [ \"/bin/true\" ]; path = \"/\"; }",
                     "host_probes[0].path: not a key of probe kind \"exec\" (it belongs to kind \"disk\")");
}

/* ---- Real commands on a loop of our own ---- */

/* What the probe asked of its ProbeEnv, and what it delivered. */
typedef struct Record {
        pid_t watched, unwatched;
        unsigned n_watch, n_unwatch;
        void (*reap)(void *userdata);
        void *reap_userdata;
        unsigned done;
        ProbeResult result;
} Record;

static Record rec;

static int env_watch(void *userdata, pid_t pid, void (*reap)(void *), void *reap_userdata) {
        assert_ptr_equal(userdata, &rec);
        rec.watched = pid;
        rec.n_watch++;
        rec.reap = reap;
        rec.reap_userdata = reap_userdata;
        return 0;
}

static void env_unwatch(void *userdata, pid_t pid) {
        assert_int_equal(pid, rec.watched);
        rec.unwatched = pid;
        rec.n_unwatch++;
}

static void on_done(ProbeCheck *c, const ProbeResult *r, void *userdata) {
        assert_ptr_equal(userdata, &rec);
        rec.done++;
        rec.result = *r;
}

typedef struct Run {
        sd_event *event;
        ProbeEnv env;
        Config *config;
        ProbeCheck check;
} Run;

static void run_setup(Run *run, const char *probe) {
        rec = (Record) {};
        *run = (Run) {};
        assert_int_equal(sd_event_new(&run->event), 0);
        run->env = (ProbeEnv) {
                .event = run->event,
                .child_watch = env_watch,
                .child_unwatch = env_unwatch,
                .userdata = &rec,
        };
        run->config = parse_ok(probe);
        assert_int_equal(probe_check_init(&run->check, &probe_exec_ops, &run->config->host_probes[0], &run->env,
                                          on_done, &rec), 0);
}

static void run_teardown(Run *run) {
        probe_check_release(&run->check);
        config_free(run->config);
        sd_event_unref(run->event);
}

/* Runs the loop until *flag reaches want; fails after 10 seconds. */
static void loop_until(Run *run, const unsigned *flag, unsigned want) {
        for (unsigned k = 0; *flag < want; k++) {
                if (k >= 100)
                        fail_msg("timed out waiting on the loop");
                assert_true(sd_event_run(run->event, 100 * USEC_PER_MSEC) >= 0);
        }
}

static void assert_no_child_left(void) {
        siginfo_t si = {};

        assert_int_equal(waitid(P_ALL, 0, &si, WEXITED | WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
}

static void test_run_judges_a_plugin_and_leaves_nothing(void **state) {
        ProbeTarget t = { .instance = -1, .name = "host" };
        ProbeResult r;
        Run run;

        run_setup(&run, "{ kind = \"exec\"; command = [ \"/bin/sh\", \"-c\", "
                        "\"echo \\\"OK - fine | x=3;5;10\\\"; exit 1\" ]; }");
        assert_int_equal(probe_check_start(&run.check, &t, &r), 1);
        assert_true(run.check.pending);
        assert_int_equal(rec.n_watch, 1);
        assert_true(rec.watched > 0);
        loop_until(&run, &rec.done, 1);

        assert_int_equal(rec.done, 1);
        assert_false(run.check.pending);
        assert_int_equal(rec.result.status, PROBE_WARNING);
        assert_string_equal(rec.result.message, "OK - fine");
        assert_true(rec.result.value == 3);
        assert_true(rec.result.threshold == 10);
        assert_non_null(strstr(rec.result.evidence, "\"exit_status\":1,"));
        assert_int_equal(rec.n_unwatch, 1);
        assert_int_equal(rec.unwatched, rec.watched);
        assert_no_child_left();

        /* The next sample runs a new command. */
        assert_int_equal(probe_check_start(&run.check, &t, &r), 1);
        loop_until(&run, &rec.done, 2);
        assert_int_equal(rec.result.status, PROBE_WARNING);
        assert_int_equal(rec.n_unwatch, 2);
        assert_no_child_left();
        run_teardown(&run);
}

static void test_cancel_kills_the_group_and_calls_nothing_back(void **state) {
        ProbeTarget t = { .instance = -1, .name = "host" };
        char path[] = "/tmp/vigil-test-probe-exec-pids.XXXXXX", probe[512];
        int fd = mkstemp(path);
        pid_t pid, grandchild = 0;
        siginfo_t si = {};
        ProbeResult r;
        FILE *f;
        Run run;

        assert_true(fd >= 0);
        (void) close(fd);
        /* The grandchild is ours to wait for once its parent is gone. */
        assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
        (void) snprintf(probe, sizeof probe,
                        "{ kind = \"exec\"; command = [ \"/bin/sh\", \"-c\", "
                        "\"/bin/sleep 30 & echo $! > %s.tmp; mv %s.tmp %s; exec /bin/sleep 30\" ]; }",
                        path, path, path);
        (void) unlink(path);
        run_setup(&run, probe);
        assert_int_equal(probe_check_start(&run.check, &t, &r), 1);
        pid = rec.watched;

        /* Until the grandchild is started (its pid is in the file): the loop has nothing to do. */
        for (unsigned k = 0; !(f = fopen(path, "re")); k++) {
                if (k >= 100)
                        fail_msg("the command did not start its grandchild");
                assert_true(sd_event_run(run.event, 100 * USEC_PER_MSEC) >= 0);
        }
        assert_int_equal(fscanf(f, "%d", &grandchild), 1);
        (void) fclose(f);
        (void) unlink(path);
        assert_true(grandchild > 0);
        assert_int_equal(kill(pid, 0), 0);

        probe_check_cancel(&run.check);
        assert_false(run.check.pending);
        loop_until(&run, &rec.n_unwatch, 1);
        assert_int_equal(rec.unwatched, pid);
        assert_int_equal(kill(pid, 0), -1);
        assert_int_equal(errno, ESRCH);
        /* The grandchild in the same session died of the same SIGKILL. */
        assert_int_equal(waitid(P_PID, (id_t) grandchild, &si, WEXITED), 0);
        assert_int_equal(si.si_code, CLD_KILLED);
        assert_int_equal(si.si_status, SIGKILL);
        assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);

        /* However long the loop runs, nothing is called back. */
        assert_true(sd_event_run(run.event, 50 * USEC_PER_MSEC) >= 0);
        assert_int_equal(rec.done, 0);
        assert_no_child_left();
        run_teardown(&run);
        assert_int_equal(rec.done, 0);
}

static void test_what_the_command_leaves_running_is_killed(void **state) {
        ProbeTarget t = { .instance = -1, .name = "host" };
        pid_t grandchild = 0;
        siginfo_t si = {};
        ProbeResult r;
        Run run;

        /* A background process that keeps the output pipe open must neither hold the result
         * up until it ends nor outlive the sample. */
        assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
        run_setup(&run, "{ kind = \"exec\"; command = [ \"/bin/sh\", \"-c\", "
                        "\"/bin/sleep 30 & echo OK $!\" ]; }");
        assert_int_equal(probe_check_start(&run.check, &t, &r), 1);
        loop_until(&run, &rec.done, 1);
        assert_int_equal(rec.result.status, PROBE_OK);
        assert_int_equal(sscanf(rec.result.message, "OK %d", &grandchild), 1);
        assert_int_equal(waitid(P_PID, (id_t) grandchild, &si, WEXITED), 0);
        assert_int_equal(si.si_code, CLD_KILLED);
        assert_int_equal(si.si_status, SIGKILL);
        assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
        assert_no_child_left();
        run_teardown(&run);
}

static void test_release_while_running_hands_the_child_over(void **state) {
        ProbeTarget t = { .instance = -1, .name = "host" };
        siginfo_t si = {};
        ProbeResult r;
        Run run;
        pid_t pid;

        run_setup(&run, "{ kind = \"exec\"; command = [ \"/bin/sleep\", \"30\" ]; }");
        assert_int_equal(probe_check_start(&run.check, &t, &r), 1);
        pid = rec.watched;
        /* Freed at once: killed, and unwatched whether reaped or not (vigild reaps the rest). */
        run_teardown(&run);
        assert_int_equal(rec.n_unwatch, 1);
        assert_int_equal(rec.done, 0);
        if (waitid(P_PID, (id_t) pid, &si, WEXITED) == 0) {
                assert_int_equal(si.si_code, CLD_KILLED);
                assert_int_equal(si.si_status, SIGKILL);
        } else
                assert_int_equal(errno, ECHILD);   /* the probe reaped it itself */
        assert_no_child_left();
}

static void test_a_command_that_cannot_start_is_unknown(void **state) {
        ProbeTarget t = { .instance = -1, .name = "host" };
        ProbeResult r;
        Run run;

        run_setup(&run, "{ kind = \"exec\"; command = [ \"/nonexistent/check_x\" ]; }");
        assert_int_equal(probe_check_start(&run.check, &t, &r), 0);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_string_equal(r.message, "cannot start /nonexistent/check_x: No such file or directory");
        /* The child that failed is reaped from the loop; meanwhile another sample waits. */
        if (rec.n_unwatch == 0) {
                assert_int_equal(probe_check_start(&run.check, &t, &r), 0);
                assert_int_equal(r.status, PROBE_UNKNOWN);
                assert_non_null(strstr(r.message, "Device or resource busy"));
                loop_until(&run, &rec.n_unwatch, 1);
        }
        assert_no_child_left();
        assert_int_equal(rec.done, 0);
        run_teardown(&run);

        run_setup(&run, "{ kind = \"exec\"; command = [ \"/dev/null\" ]; }");
        assert_int_equal(probe_check_start(&run.check, &t, &r), 0);
        assert_string_equal(r.message, "cannot start /dev/null: Permission denied");
        loop_until(&run, &rec.n_unwatch, 1);
        assert_no_child_left();
        run_teardown(&run);
}

static void test_the_daemons_reaper_may_come_first(void **state) {
        ProbeTarget t = { .instance = -1, .name = "host" };
        siginfo_t si = {};
        ProbeResult r;
        Run run;

        run_setup(&run, "{ kind = \"exec\"; command = [ \"/bin/sh\", \"-c\", \"echo CRIT; exit 2\" ]; }");
        assert_int_equal(probe_check_start(&run.check, &t, &r), 1);
        /* As vigild's orphan sweep does: peek at the ended child, then hand it to its owner. */
        assert_int_equal(waitid(P_PID, (id_t) rec.watched, &si, WEXITED | WNOWAIT), 0);
        rec.reap(rec.reap_userdata);
        assert_int_equal(rec.n_unwatch, 1);
        loop_until(&run, &rec.done, 1);
        assert_int_equal(rec.result.status, PROBE_CRITICAL);
        assert_string_equal(rec.result.message, "CRIT");
        assert_no_child_left();
        run_teardown(&run);
}

static void test_output_is_bounded(void **state) {
        ProbeTarget t = { .instance = -1, .name = "host" };
        ProbeResult r;
        Run run;

        /* 1 MiB of output: the first line is kept, the pipe closed after a bounded read, and the
         * writer, meeting EPIPE, does not hold the sample up. */
        run_setup(&run, "{ kind = \"exec\"; command = [ \"/bin/sh\", \"-c\", "
                        "\"echo first; head -c 1048576 /dev/zero; exit 0\" ]; }");
        assert_int_equal(probe_check_start(&run.check, &t, &r), 1);
        loop_until(&run, &rec.done, 1);
        assert_int_equal(rec.result.status, PROBE_OK);
        assert_string_equal(rec.result.message, "first");
        assert_non_null(strstr(rec.result.evidence, "\"output_truncated\":true"));
        assert_no_child_left();
        run_teardown(&run);
}

static void test_environment_of_an_instance_probe(void **state) {
        ProbeTarget t = { .worker = "api", .instance = 2, .name = "api:2", .pid = 4242 };
        ProbeResult r;
        Run run;

        /* env -0 prints the whole environment on one "line", NUL-separated. */
        run_setup(&run, "{ kind = \"exec\"; command = [ \"/usr/bin/env\", \"-0\" ]; }");
        assert_int_equal(probe_check_start(&run.check, &t, &r), 1);
        loop_until(&run, &rec.done, 1);
        assert_int_equal(rec.result.status, PROBE_OK);
        assert_string_equal(rec.result.message,
                            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\\x00LANG=C.UTF-8\\x00"
                            "VIGIL_WORKER=api\\x00VIGIL_INSTANCE=2\\x00VIGIL_PID=4242\\x00");
        run_teardown(&run);

        /* A host probe gets none of the instance's variables. */
        t = (ProbeTarget) { .instance = -1, .name = "host" };
        run_setup(&run, "{ kind = \"exec\"; command = [ \"/usr/bin/env\", \"-0\" ]; }");
        assert_int_equal(probe_check_start(&run.check, &t, &r), 1);
        loop_until(&run, &rec.done, 1);
        assert_string_equal(rec.result.message,
                            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\\x00LANG=C.UTF-8\\x00");
        run_teardown(&run);
}

static void test_only_stdio_is_inherited(void **state) {
        ProbeTarget t = { .instance = -1, .name = "host" };
        int leak = fcntl(STDERR_FILENO, F_DUPFD, 10);   /* not close-on-exec */
        ProbeResult r;
        Run run;

        assert_true(leak >= 10);
        /* ls opens one descriptor of its own (3) for the listing; nothing else is open. */
        run_setup(&run, "{ kind = \"exec\"; command = [ \"/bin/sh\", \"-c\", "
                        "\"exec /bin/ls /proc/self/fd | tr '\\\\n' ' '\" ]; }");
        assert_int_equal(probe_check_start(&run.check, &t, &r), 1);
        loop_until(&run, &rec.done, 1);
        assert_int_equal(rec.result.status, PROBE_OK);
        assert_string_equal(rec.result.message, "0 1 2 3");
        run_teardown(&run);
        (void) close(leak);
}

static void test_user(void **state) {
        ProbeTarget t = { .instance = -1, .name = "host" };
        gid_t groups[] = { 4 };
        ProbeTarget wt = { .worker = "w", .instance = 0, .name = "w:0", .has_user = true, .uid = 1, .gid = 1,
                           .groups = groups, .n_groups = 1 };
        ProbeResult r;
        Run run;

        if (geteuid() != 0)
                skip();
        /* The probe's own user... */
        run_setup(&run, "{ kind = \"exec\"; command = [ \"/bin/sh\", \"-c\", \"echo $(id -u) $(id -g)\" ]; "
                        "user = \"nobody\"; }");
        assert_int_equal(probe_check_start(&run.check, &t, &r), 1);
        loop_until(&run, &rec.done, 1);
        assert_string_equal(rec.result.message, "65534 65534");
        run_teardown(&run);

        /* ... else the worker's, with its groups. */
        run_setup(&run, "{ kind = \"exec\"; command = [ \"/bin/sh\", \"-c\", "
                        "\"echo $(id -u) $(id -g) $(id -G)\" ]; }");
        assert_int_equal(probe_check_start(&run.check, &wt, &r), 1);
        loop_until(&run, &rec.done, 1);
        assert_string_equal(rec.result.message, "1 1 1 4");
        run_teardown(&run);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_output_and_exit_status_table),
                cmocka_unit_test(test_evidence_is_json_of_exit_and_first_line),
                cmocka_unit_test(test_message_is_bounded_at_character_boundaries),
                cmocka_unit_test(test_config),
                cmocka_unit_test(test_config_errors),
                cmocka_unit_test(test_run_judges_a_plugin_and_leaves_nothing),
                cmocka_unit_test(test_cancel_kills_the_group_and_calls_nothing_back),
                cmocka_unit_test(test_what_the_command_leaves_running_is_killed),
                cmocka_unit_test(test_release_while_running_hands_the_child_over),
                cmocka_unit_test(test_a_command_that_cannot_start_is_unknown),
                cmocka_unit_test(test_the_daemons_reaper_may_come_first),
                cmocka_unit_test(test_output_is_bounded),
                cmocka_unit_test(test_environment_of_an_instance_probe),
                cmocka_unit_test(test_only_stdio_is_inherited),
                cmocka_unit_test(test_user),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
