/* The http probe against a tiny HTTP responder inside the test, served from the same sd_event
 * loop that drives libcurl (as the daemon's loop would): 200 is OK with the time in ms, 500 is
 * CRITICAL, an accepted status range, a body substring found or missing (also past the first
 * 64 KiB, where the download stops), redirects followed or not, a refused port is CRITICAL
 * and not a hang, and a server that accepts but never answers is CRITICAL and a hang, reported
 * by curl before the probe's timeout; credentials in the URL are sent but kept out of the
 * message and evidence. A cancelled sample never answers and leaves no fd. Also
 * the config checks: url required and valid, status ranges, thresholds in durations. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
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
#include "probe-http.h"
#include "probe.h"
#include "test-util.h"

static const ConfigKinds kinds = { .probe_kind_at = probe_kind_spec_at };

/* ---- Config ---- */

static int parse_text(const char *text, Config **ret, char **ret_error) {
        char path[] = "/tmp/vigil-test-probe-http.XXXXXX";
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

static void assert_error(const char *probe, const char *want) {
        char text[1024];
        Config *c = NULL;
        char *error = NULL;

        (void) snprintf(text, sizeof text, "host_probes = ( %s );\n", probe);
        assert_int_equal(parse_text(text, &c, &error), -EINVAL);
        assert_non_null(error);
        if (!strstr(error, want) || !strstr(error, "vigil-test-probe-http.") || !strstr(error, ":1: "))
                fail_msg("error \"%s\" does not contain FILE:1 and \"%s\"", error, want);
        free(error);
}

/* ---- A tiny HTTP server on 127.0.0.1, in the test's loop ----
 *
 * It reads a request up to its blank line and answers by the path: /500 with 500, /redirect
 * with 302 to /ok, /big with a 200 of 96 KiB whose "needle" starts at 70 KiB, /silent never,
 * anything else with 200 "vigil says ok". */

#define SERVER_CONNS_MAX 8
#define BIG_BODY (96 * 1024)

typedef struct Server Server;

typedef struct Conn {
        Server *server;
        int fd;
        sd_event_source *io;
        char request[4096];
        size_t got;
        char *response;
        size_t len, sent;
} Conn;

struct Server {
        int fd;
        unsigned port;
        sd_event_source *accept;
        Conn conns[SERVER_CONNS_MAX];
        unsigned requests;
        char last_request[4096];
};

static void conn_close(Conn *k) {
        k->io = sd_event_source_disable_unref(k->io);
        if (k->fd >= 0)
                close(k->fd);
        k->fd = -1;
        k->response = mfree(k->response);
}

static char *response_for(const char *path) {
        char *r = NULL, *body;

        if (strncmp(path, "/500 ", 5) == 0)
                r = strdup("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\nConnection: close\r\n\r\noops\n");
        else if (strncmp(path, "/redirect ", 10) == 0)
                r = strdup("HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        else if (strncmp(path, "/big ", 5) == 0) {
                body = malloc(BIG_BODY + 1);
                assert_non_null(body);
                memset(body, 'x', BIG_BODY);
                memcpy(body + 70 * 1024, "needle", 6);
                body[BIG_BODY] = 0;
                assert_true(asprintf(&r, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
                                     BIG_BODY, body) > 0);
                free(body);
        } else
                r = strdup("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n"
                           "Connection: close\r\n\r\nvigil says ok\n");
        assert_non_null(r);
        return r;
}

static int on_conn(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Conn *k = userdata;
        Server *srv = k->server;
        ssize_t n;

        if (!k->response) {
                n = read(fd, k->request + k->got, sizeof k->request - 1 - k->got);
                if (n <= 0) {
                        conn_close(k);
                        return 0;
                }
                k->got += (size_t) n;
                k->request[k->got] = 0;
                if (!strstr(k->request, "\r\n\r\n"))
                        return 0;
                srv->requests++;
                memcpy(srv->last_request, k->request, sizeof srv->last_request);
                assert_ptr_equal(strstr(k->request, "GET "), k->request);
                assert_non_null(strstr(k->request, "\r\nUser-Agent: vigil-probe/" PACKAGE_VERSION "\r\n"));
                if (strncmp(k->request + 4, "/silent ", 8) == 0) {
                        /* Keep the connection open and say nothing; stop reading it. */
                        assert_int_equal(sd_event_source_set_enabled(s, SD_EVENT_OFF), 0);
                        return 0;
                }
                k->response = response_for(k->request + 4);
                k->len = strlen(k->response);
                assert_int_equal(sd_event_source_set_io_events(s, EPOLLOUT), 0);
        }
        n = send(fd, k->response + k->sent, k->len - k->sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN)
                return 0;
        if (n < 0) {   /* the client stopped reading early: fine */
                conn_close(k);
                return 0;
        }
        k->sent += (size_t) n;
        if (k->sent == k->len)
                conn_close(k);
        return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Server *srv = userdata;
        Conn *k = NULL;
        int c;

        c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0)
                return 0;
        for (size_t i = 0; i < SERVER_CONNS_MAX; i++)
                if (srv->conns[i].fd < 0) {
                        k = &srv->conns[i];
                        break;
                }
        assert_non_null(k);
        *k = (Conn) { .server = srv, .fd = c };
        assert_int_equal(sd_event_add_io(sd_event_source_get_event(s), &k->io, c, EPOLLIN, on_conn, k), 0);
        return 0;
}

static void server_start(Server *srv, sd_event *e) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;

        *srv = (Server) {};
        for (size_t i = 0; i < SERVER_CONNS_MAX; i++)
                srv->conns[i].fd = -1;
        srv->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        assert_true(srv->fd >= 0);
        assert_int_equal(bind(srv->fd, (struct sockaddr *) &a, len), 0);
        assert_int_equal(listen(srv->fd, 16), 0);
        assert_int_equal(getsockname(srv->fd, (struct sockaddr *) &a, &len), 0);
        srv->port = ntohs(a.sin_port);
        assert_int_equal(sd_event_add_io(e, &srv->accept, srv->fd, EPOLLIN, on_accept, srv), 0);
}

static void server_stop(Server *srv) {
        for (size_t i = 0; i < SERVER_CONNS_MAX; i++)
                conn_close(&srv->conns[i]);
        srv->accept = sd_event_source_disable_unref(srv->accept);
        close(srv->fd);
}

/* ---- Driving a sample ---- */

typedef struct Fixture {
        sd_event *event;
        ProbeEnv env;
        Server server;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));

        assert_non_null(f);
        assert_int_equal(sd_event_new(&f->event), 0);
        f->env.event = f->event;
        server_start(&f->server, f->event);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        server_stop(&f->server);
        sd_event_unref(f->event);
        free(f);
        return 0;
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

static const ProbeTarget host_target = { .instance = -1, .name = "host" };

/* The host probe text of kind http with the url http://127.0.0.1:PORT<path> and more keys. */
static Config *http_probe(Fixture *f, const char *path, const char *more) {
        char probe[512];

        (void) snprintf(probe, sizeof probe, "{ kind = \"http\"; url = \"http://127.0.0.1:%u%s\"; %s }",
                        f->server.port, path, more);
        return parse_host_probe(probe);
}

/* One sample of c's probe, answered from the loop within 5 s; ret_elapsed: how long it took. */
static void sample(Fixture *f, const Config *c, ProbeResult *ret, usec_t *ret_elapsed) {
        usec_t start = now(CLOCK_MONOTONIC), deadline = start + 5 * USEC_PER_SEC;
        ProbeCheck check;
        Outcome o = {};

        assert_int_equal(probe_check_init(&check, &probe_http_ops, &c->host_probes[0], &f->env, on_done, &o), 0);
        /* Never answers inside check(): the result always comes from the loop. */
        assert_int_equal(probe_check_start(&check, &host_target, ret), 1);
        assert_int_equal(o.calls, 0);
        while (o.calls == 0 && now(CLOCK_MONOTONIC) < deadline)
                assert_true(sd_event_run(f->event, 100 * USEC_PER_MSEC) >= 0);
        assert_int_equal(o.calls, 1);
        if (ret_elapsed)
                *ret_elapsed = now(CLOCK_MONOTONIC) - start;
        *ret = o.result;
        for (int i = 0; i < 3; i++)
                assert_true(sd_event_run(f->event, 0) >= 0);
        assert_int_equal(o.calls, 1);
        probe_check_release(&check);
}

/* ---- Tests ---- */

static void test_config_errors(void **state) {
        assert_error("{ kind = \"http\"; }", "host_probes[0]: missing required key \"url\"");
        assert_error("{ kind = \"http\"; url = \"not a url\"; }", "host_probes[0].url: invalid URL \"not a url\"");
        assert_error("{ kind = \"http\"; url = \"http://\"; }", "host_probes[0].url: invalid URL \"http://\"");
        assert_error("{ kind = \"http\"; url = \"ftp://127.0.0.1/x\"; }",
                     "host_probes[0].url: invalid URL \"ftp://127.0.0.1/x\": the scheme must be http or https");
        assert_error("{ kind = \"http\"; url = 80; }", "host_probes[0].url: expected a string");
        assert_error("{ kind = \"http\"; url = \"http://127.0.0.1/\"; status = \"abc\"; }",
                     "host_probes[0].status: invalid status range \"abc\"");
        assert_error("{ kind = \"http\"; url = \"http://127.0.0.1/\"; status = \"300-200\"; }",
                     "invalid status range \"300-200\"");
        assert_error("{ kind = \"http\"; url = \"http://127.0.0.1/\"; status = \"200-\"; }",
                     "invalid status range \"200-\"");
        assert_error("{ kind = \"http\"; url = \"http://127.0.0.1/\"; status = \"99\"; }",
                     "invalid status range \"99\"");
        assert_error("{ kind = \"http\"; url = \"http://127.0.0.1/\"; status = \"200-600\"; }",
                     "invalid status range \"200-600\"");
        assert_error("{ kind = \"http\"; url = \"http://127.0.0.1/\"; status = \"-200\"; }",
                     "invalid status range \"-200\"");
        assert_error("{ kind = \"http\"; url = \"http://127.0.0.1/\"; status = 600; }",
                     "host_probes[0].status: invalid status 600");
        assert_error("{ kind = \"http\"; url = \"http://127.0.0.1/\"; critical = \"5%\"; }",
                     "critical is a percentage (\"90%\"); probe kind \"http\" takes a duration (\"30s\")");
        assert_error("{ kind = \"http\"; url = \"http://127.0.0.1/\"; warning = \"1G\"; }",
                     "warning is a size (\"512M\"); probe kind \"http\" takes a duration");
        assert_error("{ kind = \"http\"; url = \"http://127.0.0.1/\"; body_contains = \"\"; }",
                     "host_probes[0].body_contains: must not be empty");
        assert_error("{ kind = \"http\"; url = \"http://127.0.0.1/\"; follow_redirects = \"yes\"; }",
                     "host_probes[0].follow_redirects:");
        assert_error("{ kind = \"http\"; url = \"http://127.0.0.1/\"; port = 80; }",
                     "not a key of probe kind \"http\" (it belongs to kind \"tcp\")");
}

static void test_config_forms(void **state) {
        Config *c;

        /* A name is accepted where libcurl resolves off the loop; nothing is resolved here. */
        c = parse_host_probe("{ kind = \"http\"; url = \"https://example.invalid:8443/health?x=1\"; status = 204; }");
        config_free(c);
        c = parse_host_probe("{ kind = \"http\"; url = \"http://[::1]:8080/\"; status = \"200-299\"; "
                             "warning = \"200ms\"; critical = \"1s\"; follow_redirects = true; }");
        config_free(c);
}

static void test_200_is_ok_in_ms(void **state) {
        Fixture *f = *state;
        Config *c = http_probe(f, "/health", "warning = \"2s\";");
        char want[256];
        ProbeResult r;

        sample(f, c, &r, NULL);
        assert_int_equal(r.status, PROBE_OK);
        assert_false(r.hang);
        assert_true(r.value > 0 && r.value < 2000);
        assert_true(r.threshold == 2000.0);
        (void) snprintf(want, sizeof want, "HTTP 200 from http://127.0.0.1:%u/health in ", f->server.port);
        assert_ptr_equal(strstr(r.message, want), r.message);
        (void) snprintf(want, sizeof want, "\"url\":\"http://127.0.0.1:%u/health\",\"http_status\":200,\"time_ms\":",
                        f->server.port);
        assert_ptr_equal(strstr(r.evidence, want), r.evidence);
        assert_non_null(strstr(r.evidence, ",\"bytes\":14"));
        assert_null(strstr(r.evidence, "\"error\""));
        assert_int_equal(f->server.requests, 1);
        config_free(c);
}

static void test_response_time_past_the_threshold(void **state) {
        Fixture *f = *state;
        Config *c = http_probe(f, "/health", "warning = \"1us\";");
        ProbeResult r;

        sample(f, c, &r, NULL);
        assert_int_equal(r.status, PROBE_WARNING);
        assert_true(fabs(r.threshold - 0.001) < 1e-9);
        assert_non_null(strstr(r.message, " ms, above 0.001 ms"));
        config_free(c);
}

static void test_500_is_critical(void **state) {
        Fixture *f = *state;
        Config *c = http_probe(f, "/500", "");
        char want[256];
        ProbeResult r;

        sample(f, c, &r, NULL);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_false(r.hang);
        (void) snprintf(want, sizeof want, "HTTP 500 from http://127.0.0.1:%u/500 (expected 200-399)", f->server.port);
        assert_string_equal(r.message, want);
        assert_non_null(strstr(r.evidence, "\"http_status\":500,"));
        config_free(c);

        /* The same answer, accepted by its status range. */
        c = http_probe(f, "/500", "status = \"500-503\";");
        sample(f, c, &r, NULL);
        assert_int_equal(r.status, PROBE_OK);
        config_free(c);
}

static void test_credentials_are_sent_but_never_shown(void **state) {
        Fixture *f = *state;
        char probe[256], want[128];
        Config *c;
        ProbeResult r;

        (void) snprintf(probe, sizeof probe, "{ kind = \"http\"; url = \"http://vigil:s3cret@127.0.0.1:%u/500\"; }",
                        f->server.port);
        c = parse_host_probe(probe);
        sample(f, c, &r, NULL);
        assert_int_equal(r.status, PROBE_CRITICAL);
        /* "vigil:s3cret" in base64 reached the server... */
        assert_non_null(strstr(f->server.last_request, "\r\nAuthorization: Basic dmlnaWw6czNjcmV0\r\n"));
        /* ...and neither the message nor the evidence, which the journal and the store keep. */
        (void) snprintf(want, sizeof want, "HTTP 500 from http://127.0.0.1:%u/500 (expected 200-399)", f->server.port);
        assert_string_equal(r.message, want);
        assert_null(strstr(r.evidence, "s3cret"));
        assert_null(strstr(r.evidence, "vigil@"));
        config_free(c);
}

static void test_body_substring_present_or_missing(void **state) {
        Fixture *f = *state;
        Config *c = http_probe(f, "/health", "body_contains = \"says ok\";");
        char want[256];
        ProbeResult r;

        sample(f, c, &r, NULL);
        assert_int_equal(r.status, PROBE_OK);
        assert_non_null(strstr(r.evidence, "\"body_contains\":\"says ok\",\"found\":true"));
        config_free(c);

        c = http_probe(f, "/health", "body_contains = \"says \\\"no\\\"\";");
        sample(f, c, &r, NULL);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_false(r.hang);
        (void) snprintf(want, sizeof want,
                        "HTTP 200 from http://127.0.0.1:%u/health: \"says \"no\"\" not in the first 14 bytes of the body",
                        f->server.port);
        assert_string_equal(r.message, want);
        assert_non_null(strstr(r.evidence, "\"body_contains\":\"says \\\"no\\\"\",\"found\":false"));
        config_free(c);
}

static void test_body_is_read_up_to_64k(void **state) {
        Fixture *f = *state;
        unsigned long long bytes;
        const char *p;
        Config *c;
        ProbeResult r;

        /* "needle" is at 70 KiB of 96: past what is read. */
        c = http_probe(f, "/big", "body_contains = \"needle\";");
        sample(f, c, &r, NULL);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_non_null(strstr(r.message, "\"needle\" not in the first 65536 bytes of the body"));
        config_free(c);

        /* Without body_contains the download stops there too, and the answer is still OK. */
        c = http_probe(f, "/big", "");
        sample(f, c, &r, NULL);
        assert_int_equal(r.status, PROBE_OK);
        p = strstr(r.evidence, "\"bytes\":");
        assert_non_null(p);
        bytes = strtoull(p + 8, NULL, 10);
        assert_true(bytes >= 64 * 1024 && bytes < BIG_BODY);
        config_free(c);
}

static void test_redirects_followed_only_when_asked(void **state) {
        Fixture *f = *state;
        Config *c;
        ProbeResult r;

        c = http_probe(f, "/redirect", "");
        sample(f, c, &r, NULL);
        assert_int_equal(r.status, PROBE_OK);
        assert_non_null(strstr(r.message, "HTTP 302 from "));
        assert_int_equal(f->server.requests, 1);
        config_free(c);

        c = http_probe(f, "/redirect", "follow_redirects = true; status = \"200\";");
        sample(f, c, &r, NULL);
        assert_int_equal(r.status, PROBE_OK);
        assert_non_null(strstr(r.message, "HTTP 200 from "));
        assert_int_equal(f->server.requests, 3);
        config_free(c);
}

static void test_refused_is_critical_not_a_hang(void **state) {
        Fixture *f = *state;
        char probe[256];
        unsigned port = f->server.port;
        Config *c;
        ProbeResult r;

        /* Nothing listens on the server's port once it is stopped. */
        server_stop(&f->server);
        server_start(&f->server, f->event);
        (void) snprintf(probe, sizeof probe, "{ kind = \"http\"; url = \"http://127.0.0.1:%u/\"; }", port);
        if (f->server.port == port)
                skip();
        c = parse_host_probe(probe);
        sample(f, c, &r, NULL);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_false(r.hang);
        assert_true(isnan(r.value));
        assert_non_null(strstr(r.evidence, "\"http_status\":null,"));
        assert_non_null(strstr(r.evidence, "\"error\":\"Failed to connect to 127.0.0.1 port"));
        config_free(c);
}

static void test_silence_is_a_hang_before_the_timeout(void **state) {
        Fixture *f = *state;
        Config *c = http_probe(f, "/silent", "every = \"3s\"; timeout = \"2s\";");
        usec_t elapsed;
        ProbeResult r;

        sample(f, c, &r, &elapsed);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_true(r.hang);
        assert_int_equal(f->server.requests, 1);
        assert_non_null(strstr(r.message, ": no answer: "));
        assert_non_null(strstr(r.evidence, "\"error\":\"Operation timed out after "));
        /* curl's own timeout (2s less a tenth), before the runner's would have struck. */
        assert_true(elapsed >= 1800 * USEC_PER_MSEC);
        assert_true(elapsed < 2 * USEC_PER_SEC);
        config_free(c);
}

static void test_cancel_never_answers_and_closes(void **state) {
        Fixture *f = *state;
        Config *c = http_probe(f, "/silent", "");
        usec_t deadline = now(CLOCK_MONOTONIC) + 5 * USEC_PER_SEC;
        sd_event_source *timer = NULL;
        ProbeCheck check;
        Outcome o = {};
        ProbeResult r;
        unsigned fds;

        /* The loop makes its timerfd for CLOCK_MONOTONIC with the first such timer, and keeps
         * it: count from there. */
        assert_int_equal(sd_event_add_time(f->event, &timer, CLOCK_MONOTONIC, 0, 0, NULL, NULL), 0);
        timer = sd_event_source_unref(timer);
        fds = count_fds();
        assert_int_equal(probe_check_init(&check, &probe_http_ops, &c->host_probes[0], &f->env, on_done, &o), 0);
        assert_int_equal(probe_check_start(&check, &host_target, &r), 1);
        while (f->server.requests == 0 && now(CLOCK_MONOTONIC) < deadline)
                assert_true(sd_event_run(f->event, 100 * USEC_PER_MSEC) >= 0);
        assert_int_equal(f->server.requests, 1);

        probe_check_cancel(&check);
        /* The server sees the client go; nothing of the sample is left to wake up. */
        for (int i = 0; i < 5; i++)
                assert_true(sd_event_run(f->event, 20 * USEC_PER_MSEC) >= 0);
        assert_int_equal(o.calls, 0);
        for (size_t i = 0; i < SERVER_CONNS_MAX; i++)
                conn_close(&f->server.conns[i]);
        assert_int_equal(count_fds(), fds);

        /* The check runs again after a cancel. */
        assert_int_equal(probe_check_start(&check, &host_target, &r), 1);
        probe_check_release(&check);
        assert_int_equal(count_fds(), fds);
        config_free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_config_errors),
                cmocka_unit_test(test_config_forms),
                cmocka_unit_test_setup_teardown(test_200_is_ok_in_ms, setup, teardown),
                cmocka_unit_test_setup_teardown(test_response_time_past_the_threshold, setup, teardown),
                cmocka_unit_test_setup_teardown(test_500_is_critical, setup, teardown),
                cmocka_unit_test_setup_teardown(test_credentials_are_sent_but_never_shown, setup, teardown),
                cmocka_unit_test_setup_teardown(test_body_substring_present_or_missing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_body_is_read_up_to_64k, setup, teardown),
                cmocka_unit_test_setup_teardown(test_redirects_followed_only_when_asked, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refused_is_critical_not_a_hang, setup, teardown),
                cmocka_unit_test_setup_teardown(test_silence_is_a_hang_before_the_timeout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cancel_never_answers_and_closes, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
