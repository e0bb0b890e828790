/* The tcp probe against real loopback sockets, driven by an sd_event loop as the daemon
 * drives it: a listener accepts (OK, with the connect time in ms against a duration
 * threshold), a closed port refuses (CRITICAL, not a hang), a listener whose accept queue is
 * full never answers (CRITICAL and a hang, before the timeout), a worker's probe defaults to
 * 127.0.0.1, ::1 works where lo has IPv6, and a cancelled sample leaves no descriptor and
 * never answers. Also the config checks: port and host required, the address numeric. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "config-parse.h"
#include "probe-tcp.h"
#include "probe.h"
#include "test-util.h"

static const ConfigKinds kinds = { .probe_kind_at = probe_kind_spec_at };

/* Parses text as a whole config file. */
static int parse_text(const char *text, Config **ret, char **ret_error) {
        char path[] = "/tmp/vigil-test-probe-tcp.XXXXXX";
        int fd = mkstemp(path), r;
        FILE *f;

        assert_true(fd >= 0);
        f = fdopen(fd, "w");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
        r = config_parse_file(path, &kinds, ret, ret_error);
        (void) unlink(path);
        return r;
}

static Config *parse_host_probe(const char *probe) {
        char text[1024];
        Config *c = NULL;
        char *error = NULL;

        (void) snprintf(text, sizeof text, "host_probes = ( %s );\n", probe);
        if (parse_text(text, &c, &error) < 0)
                fail_msg("%s", error);
        assert_int_equal(c->n_host_probes, 1);
        return c;
}

/* The host probe `probe` is refused with an error that contains want, at FILE:1. */
static void assert_error(const char *probe, const char *want) {
        char text[1024];
        Config *c = NULL;
        char *error = NULL;

        (void) snprintf(text, sizeof text, "host_probes = ( %s );\n", probe);
        assert_int_equal(parse_text(text, &c, &error), -EINVAL);
        assert_non_null(error);
        if (!strstr(error, want) || !strstr(error, "vigil-test-probe-tcp.") || !strstr(error, ":1: "))
                fail_msg("error \"%s\" does not contain FILE:1 and \"%s\"", error, want);
        free(error);
}

/* A listening socket on the loopback address of family, on a free port; connections are
 * completed by the kernel and never accepted. */
static int listener_backlog(int family, int backlog, unsigned *ret_port) {
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } a = {};
        socklen_t len = family == AF_INET6 ? sizeof a.in6 : sizeof a.in;
        int fd;

        if (family == AF_INET6)
                a.in6 = (struct sockaddr_in6) { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
        else
                a.in = (struct sockaddr_in) { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, &a.sa, len) < 0 || listen(fd, backlog) < 0 || getsockname(fd, &a.sa, &len) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        *ret_port = ntohs(family == AF_INET6 ? a.in6.sin6_port : a.in.sin_port);
        return fd;
}

static int listener(int family, unsigned *ret_port) {
        return listener_backlog(family, 16, ret_port);
}

typedef struct Outcome {
        unsigned calls;
        ProbeResult result;
} Outcome;

static void on_done(ProbeCheck *c, const ProbeResult *r, void *userdata) {
        Outcome *o = userdata;

        o->calls++;
        o->result = *r;
}

/* One sample of pc on target, answered now or from the loop within 5 s. */
static void sample(const ProbeConfig *pc, const ProbeTarget *target, ProbeResult *ret) {
        sd_event *e = NULL;
        ProbeEnv env = {};
        ProbeCheck check;
        Outcome o = {};
        usec_t deadline;
        int k;

        assert_int_equal(sd_event_new(&e), 0);
        env.event = e;
        assert_int_equal(probe_check_init(&check, &probe_tcp_ops, pc, &env, on_done, &o), 0);
        k = probe_check_start(&check, target, ret);
        if (k > 0) {
                deadline = now(CLOCK_MONOTONIC) + 5 * USEC_PER_SEC;
                while (o.calls == 0 && now(CLOCK_MONOTONIC) < deadline)
                        assert_true(sd_event_run(e, 100 * USEC_PER_MSEC) >= 0);
                assert_int_equal(o.calls, 1);
                *ret = o.result;
                /* Answered once, and never again. */
                assert_true(sd_event_run(e, 0) >= 0);
                assert_int_equal(o.calls, 1);
        }
        probe_check_release(&check);
        sd_event_unref(e);
}

static const ProbeTarget host_target = { .instance = -1, .name = "host" };

static void test_config_errors(void **state) {
        assert_error("{ kind = \"tcp\"; host = \"127.0.0.1\"; }", "host_probes[0]: missing required key \"port\"");
        assert_error("{ kind = \"tcp\"; port = 80; }", "host_probes[0]: missing required key \"host\"");
        assert_error("{ kind = \"tcp\"; host = \"127.0.0.1\"; port = 0; }", "host_probes[0].port:");
        assert_error("{ kind = \"tcp\"; host = \"127.0.0.1\"; port = 70000; }", "host_probes[0].port:");
        assert_error("{ kind = \"tcp\"; host = \"127.0.0.1\"; port = \"80\"; }", "host_probes[0].port:");
        assert_error("{ kind = \"tcp\"; host = \"db.example.com\"; port = 5432; }",
                     "host_probes[0].host: invalid address \"db.example.com\": expected a numeric IPv4 or IPv6 "
                     "address or \"localhost\" (names are not resolved)");
        assert_error("{ kind = \"tcp\"; host = \"127.1\"; port = 80; }", "invalid address \"127.1\"");
        assert_error("{ kind = \"tcp\"; host = \"[::1]\"; port = 80; }", "invalid address \"[::1]\"");
        assert_error("{ kind = \"tcp\"; host = 127; port = 80; }", "host_probes[0].host: expected a string");
        assert_error("{ kind = \"tcp\"; host = \"::1\"; port = 80; warning = 200; }",
                     "warning is a number (1000); probe kind \"tcp\" takes a duration (\"30s\")");
        assert_error("{ kind = \"tcp\"; host = \"::1\"; port = 80; critical = \"90%\"; }",
                     "critical is a percentage (\"90%\"); probe kind \"tcp\" takes a duration");
        assert_error("{ kind = \"tcp\"; host = \"::1\"; port = 80; warning = \"1s\"; critical = \"200ms\"; }",
                     "warning (1s) must be at or below critical (0.2s)");
        assert_error("{ kind = \"tcp\"; host = \"::1\"; port = 80; path = \"/\"; }",
                     "not a key of probe kind \"tcp\" (it belongs to kind \"disk\")");
}

static void test_connect_to_a_listener_is_ok_in_ms(void **state) {
        char probe[256], want[128];
        unsigned port;
        int fd = listener(AF_INET, &port);
        Config *c;
        ProbeResult r;

        assert_true(fd >= 0);
        (void) snprintf(probe, sizeof probe,
                        "{ kind = \"tcp\"; host = \"127.0.0.1\"; port = %u; warning = \"200ms\"; }", port);
        c = parse_host_probe(probe);
        sample(&c->host_probes[0], &host_target, &r);
        assert_int_equal(r.status, PROBE_OK);
        assert_false(r.hang);
        assert_true(r.value >= 0 && r.value < 200);
        assert_true(r.threshold == 200.0);   /* "200ms", in the unit of the value */
        (void) snprintf(want, sizeof want, "127.0.0.1:%u: connected in ", port);
        assert_ptr_equal(strstr(r.message, want), r.message);
        (void) snprintf(want, sizeof want, "\"address\":\"127.0.0.1\",\"port\":%u,\"connect_ms\":", port);
        assert_ptr_equal(strstr(r.evidence, want), r.evidence);
        config_free(c);
        close(fd);
}

static void test_connect_time_past_the_threshold(void **state) {
        char probe[256];
        unsigned port;
        int fd = listener(AF_INET, &port);
        Config *c;
        ProbeResult r;

        assert_true(fd >= 0);
        /* No connect takes less than a microsecond, even on loopback. */
        (void) snprintf(probe, sizeof probe,
                        "{ kind = \"tcp\"; host = \"localhost\"; port = %u; critical = \"1us\"; }", port);
        c = parse_host_probe(probe);
        sample(&c->host_probes[0], &host_target, &r);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_false(r.hang);
        assert_true(fabs(r.threshold - 0.001) < 1e-9);
        assert_true(r.value > 0.001);
        assert_non_null(strstr(r.message, "ms, above 0.001 ms"));
        config_free(c);
        close(fd);
}

static void test_closed_port_is_refused_and_critical(void **state) {
        char probe[256], want[128];
        unsigned port;
        int fd = listener(AF_INET, &port);
        Config *c;
        ProbeResult r;

        assert_true(fd >= 0);
        close(fd);   /* nothing listens on port any more */
        (void) snprintf(probe, sizeof probe, "{ kind = \"tcp\"; host = \"127.0.0.1\"; port = %u; }", port);
        c = parse_host_probe(probe);
        sample(&c->host_probes[0], &host_target, &r);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_false(r.hang);
        assert_true(isnan(r.value));
        (void) snprintf(want, sizeof want, "127.0.0.1:%u: connect: Connection refused", port);
        assert_string_equal(r.message, want);
        assert_non_null(strstr(r.evidence, "\"error\":\"Connection refused\""));
        config_free(c);
}

static void test_silence_is_a_hang_before_the_timeout(void **state) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        char probe[256], want[128];
        int fill[8], n = 0;
        unsigned port;
        int fd = listener_backlog(AF_INET, 0, &port);
        usec_t start, elapsed;
        Config *c;
        ProbeResult r;

        assert_true(fd >= 0);
        /* Nobody accepts: once the accept queue is full, the kernel drops connection requests,
         * and a connect hears nothing at all. */
        a.sin_port = htons((uint16_t) port);
        for (;;) {
                struct pollfd p;

                assert_true(n < (int) ELEMENTSOF(fill));
                fill[n] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                assert_true(fill[n] >= 0);
                if (connect(fill[n++], (struct sockaddr *) &a, sizeof a) == 0)
                        continue;
                assert_int_equal(errno, EINPROGRESS);
                p = (struct pollfd) { .fd = fill[n - 1], .events = POLLOUT };
                assert_true(poll(&p, 1, 200) >= 0);
                if (p.revents == 0)
                        break;
        }

        (void) snprintf(probe, sizeof probe, "{ kind = \"tcp\"; host = \"127.0.0.1\"; port = %u; every = \"2s\"; "
                        "timeout = \"500ms\"; }", port);
        c = parse_host_probe(probe);
        start = now(CLOCK_MONOTONIC);
        sample(&c->host_probes[0], &host_target, &r);
        elapsed = now(CLOCK_MONOTONIC) - start;
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_true(r.hang);
        assert_true(isnan(r.value));
        (void) snprintf(want, sizeof want, "127.0.0.1:%u: connect: no answer within 45", port);
        assert_ptr_equal(strstr(r.message, want), r.message);
        assert_non_null(strstr(r.evidence, "\"error\":\"no answer\""));
        /* At the timeout less a tenth: before the runner's backstop. */
        assert_true(elapsed >= 450 * USEC_PER_MSEC && elapsed < 500 * USEC_PER_MSEC);
        config_free(c);
        for (int i = 0; i < n; i++)
                close(fill[i]);
        close(fd);
}

static void test_worker_probe_defaults_to_127_0_0_1(void **state) {
        char text[512], want[64];
        unsigned port;
        int fd = listener(AF_INET, &port);
        ProbeTarget t = { .worker = "w", .instance = 0, .name = "w:0" };
        Config *c = NULL;
        char *error = NULL;
        ProbeResult r;

        assert_true(fd >= 0);
        (void) snprintf(text, sizeof text,
                        "workers = ( { name = \"w\"; command = [ \"/bin/true\" ];\n"
                        "  probes = ( { kind = \"tcp\"; port = %u; } ); } );\n", port);
        if (parse_text(text, &c, &error) < 0)
                fail_msg("%s", error);
        assert_int_equal(c->workers[0].n_probes, 1);
        sample(&c->workers[0].probes[0], &t, &r);
        assert_int_equal(r.status, PROBE_OK);
        (void) snprintf(want, sizeof want, "127.0.0.1:%u: connected in ", port);
        assert_ptr_equal(strstr(r.message, want), r.message);
        config_free(c);
        close(fd);
}

static void test_ipv6_loopback(void **state) {
        char probe[256], want[128];
        unsigned port;
        int fd = listener(AF_INET6, &port);
        Config *c;
        ProbeResult r;

        if (fd < 0) {
                print_message("no IPv6 on lo here (%s): skipping\n", strerror(-fd));
                skip();
        }
        (void) snprintf(probe, sizeof probe, "{ kind = \"tcp\"; host = \"::1\"; port = %u; }", port);
        c = parse_host_probe(probe);
        sample(&c->host_probes[0], &host_target, &r);
        assert_int_equal(r.status, PROBE_OK);
        (void) snprintf(want, sizeof want, "[::1]:%u: connected in ", port);
        assert_ptr_equal(strstr(r.message, want), r.message);
        (void) snprintf(want, sizeof want, "\"address\":\"::1\",\"port\":%u,", port);
        assert_ptr_equal(strstr(r.evidence, want), r.evidence);
        config_free(c);
        close(fd);
}

static void test_cancel_closes_and_never_answers(void **state) {
        char probe[256];
        unsigned port, fds;
        int fd = listener(AF_INET, &port);
        sd_event *e = NULL;
        sd_event_source *timer = NULL;
        ProbeEnv env = {};
        ProbeCheck check;
        Outcome o = {};
        Config *c;
        ProbeResult r;
        int k;

        assert_true(fd >= 0);
        (void) snprintf(probe, sizeof probe, "{ kind = \"tcp\"; host = \"127.0.0.1\"; port = %u; }", port);
        c = parse_host_probe(probe);
        assert_int_equal(sd_event_new(&e), 0);
        env.event = e;
        /* The loop makes its timerfd for CLOCK_MONOTONIC with the first such timer, and keeps
         * it: count from there. */
        assert_int_equal(sd_event_add_time(e, &timer, CLOCK_MONOTONIC, 0, 0, NULL, NULL), 0);
        timer = sd_event_source_unref(timer);
        fds = count_fds();
        assert_int_equal(probe_check_init(&check, &probe_tcp_ops, &c->host_probes[0], &env, on_done, &o), 0);
        k = probe_check_start(&check, &host_target, &r);
        if (k == 0)
                print_message("connect() completed at once: nothing to cancel\n");
        else {
                assert_int_equal(k, 1);
                assert_true(check.pending);
                probe_check_cancel(&check);
                assert_false(check.pending);
                for (int i = 0; i < 5; i++)
                        assert_true(sd_event_run(e, 10 * USEC_PER_MSEC) >= 0);
                assert_int_equal(o.calls, 0);
        }
        assert_int_equal(count_fds(), fds);
        probe_check_release(&check);
        sd_event_unref(e);
        config_free(c);
        close(fd);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_config_errors),
                cmocka_unit_test(test_connect_to_a_listener_is_ok_in_ms),
                cmocka_unit_test(test_connect_time_past_the_threshold),
                cmocka_unit_test(test_closed_port_is_refused_and_critical),
                cmocka_unit_test(test_silence_is_a_hang_before_the_timeout),
                cmocka_unit_test(test_worker_probe_defaults_to_127_0_0_1),
                cmocka_unit_test(test_ipv6_loopback),
                cmocka_unit_test(test_cancel_closes_and_never_answers),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
