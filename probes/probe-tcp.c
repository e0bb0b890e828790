/* The tcp probe: whether a TCP port accepts connections, and how fast. A sample is one
 * non-blocking connect() whose completion is an io source on the loop; the socket is closed as
 * soon as the handshake is over, and nothing is sent. The address is a numeric IPv4 or IPv6
 * literal or "localhost" (127.0.0.1), parsed once at config time: a name would have to be
 * resolved, and resolving can block the loop, so names are refused. Connected: OK, judged on
 * the connect time (value and threshold in milliseconds); refused or unreachable: CRITICAL
 * with the error; no answer at all: CRITICAL and a hang, judged by our own timer just before
 * the runner's timeout (the backstop) so that the result names the address. Owns the socket,
 * its io source and the timer while a sample is under way, nothing in between. Non-logging. */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "parse-util.h"
#include "probe-tcp.h"

/* "[ffff:...:ffff]:65535" */
#define TCP_ENDPOINT_MAX (INET6_ADDRSTRLEN + 8)

/* Silence is judged at the timeout less a tenth of it, less this at most. */
#define TCP_TIMEOUT_MARGIN_MAX (250 * USEC_PER_MSEC)

typedef union TcpAddress {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
} TcpAddress;

typedef struct TcpSettings {
        char *host;           /* as written; NULL: not given (a worker's probe: 127.0.0.1) */
        TcpAddress address;   /* host, parsed; its port is set at each sample */
        unsigned port;        /* 0: not given */
} TcpSettings;

/* What a sample under way holds; nothing between samples. */
typedef struct TcpState {
        sd_event_source *io;     /* owns the connecting socket */
        sd_event_source *timer;  /* our deadline, just before the runner's */
        usec_t started;          /* CLOCK_MONOTONIC of the connect() */
} TcpState;

static void tcp_settings_init(void *settings) {
        TcpSettings *s = settings;

        s->address.in.sin_family = AF_INET;
        s->address.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static void tcp_settings_done(void *settings) {
        TcpSettings *s = settings;

        s->host = mfree(s->host);
}

static int parse_host(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *settings) {
        TcpSettings *t = settings;
        TcpAddress a = {};
        const char *v = NULL;
        int r;

        r = config_keys_expect_string(p, s, "a string", &v);
        if (r < 0)
                return r;
        if (streq(v, "localhost")) {
                a.in.sin_family = AF_INET;
                a.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        } else if (inet_pton(AF_INET, v, &a.in.sin_addr) == 1)
                a.in.sin_family = AF_INET;
        else if (inet_pton(AF_INET6, v, &a.in6.sin6_addr) == 1)
                a.in6.sin6_family = AF_INET6;
        else
                return config_keys_fail(p, s,
                                        "invalid address \"%s\": expected a numeric IPv4 or IPv6 address "
                                        "or \"localhost\" (names are not resolved)",
                                        v);
        free(t->host);
        t->host = strdup(v);
        if (!t->host)
                return -ENOMEM;
        t->address = a;
        return 0;
}

static const ConfigKey tcp_keys[] = {
        CONFIG_KEY("host", parse_host),
        CONFIG_KEY_UINT("port", TcpSettings, port, 1, 65535),
};

/* Whether g is an element of the top-level host_probes (else of a worker's probes). */
static bool is_host_probe(const config_setting_t *g) {
        const config_setting_t *list = config_setting_parent(g);
        const char *name = list ? config_setting_name(list) : NULL;

        return name && streq(name, "host_probes");
}

static int tcp_check_config(ConfigParser *p, const config_setting_t *g, const ProbeConfig *pc,
                            bool cgroups_off) {
        const TcpSettings *s = pc->settings;

        if (!s->host && is_host_probe(g))
                return config_keys_fail(p, g, "missing required key \"host\" (a host probe has no worker "
                                        "to default to 127.0.0.1 for)");
        if (s->port == 0)
                return config_keys_fail(p, g, "missing required key \"port\"");
        return 0;
}

static socklen_t tcp_address(const TcpSettings *s, TcpAddress *ret) {
        *ret = s->address;
        if (ret->sa.sa_family == AF_INET6) {
                ret->in6.sin6_port = htons((uint16_t) s->port);
                return sizeof(struct sockaddr_in6);
        }
        ret->in.sin_port = htons((uint16_t) s->port);
        return sizeof(struct sockaddr_in);
}

/* The numeric address as text, without brackets; endpoint: "127.0.0.1:80", "[::1]:80". */
static void tcp_format(const TcpSettings *s, char *address, size_t size, char *endpoint, size_t esize) {
        const void *a = s->address.sa.sa_family == AF_INET6 ? (const void *) &s->address.in6.sin6_addr
                                                            : (const void *) &s->address.in.sin_addr;

        if (!inet_ntop(s->address.sa.sa_family, a, address, (socklen_t) size))
                (void) snprintf(address, size, "?");
        (void) snprintf(endpoint, esize, s->address.sa.sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", address,
                        s->port);
}

/* Errors that say this host could not even try (no memory, no descriptor, no local port):
 * the probe cannot run, which is no verdict on what it probes. */
static bool tcp_error_is_local(int error) {
        return IN_SET(error, ENOMEM, ENOBUFS, EMFILE, ENFILE, EAGAIN, EADDRNOTAVAIL);
}

/* The result of one connect that ended after elapsed with error (0: connected). */
static void tcp_judge(const ProbeCheck *c, int error, usec_t elapsed, ProbeResult *r) {
        const TcpSettings *s = c->settings;
        char address[INET6_ADDRSTRLEN], endpoint[TCP_ENDPOINT_MAX];
        double ms = (double) elapsed / (double) USEC_PER_MSEC;

        tcp_format(s, address, sizeof address, endpoint, sizeof endpoint);
        if (error != 0) {
                r->status = tcp_error_is_local(error) ? PROBE_UNKNOWN : PROBE_CRITICAL;
                probe_result_message(r, "%s: connect: %s", endpoint, strerror(error));
                probe_result_evidence(r,
                                      "\"address\":\"%s\",\"port\":%u,\"connect_ms\":%.3f,\"error\":\"%s\"",
                                      address, s->port, ms, strerror(error));
                return;
        }

        /* Thresholds are durations, kept in seconds; the reading is reported in milliseconds. */
        probe_result_judge(r, c->config, ms / 1000.0, NAN);
        r->value = ms;
        if (!isnan(r->threshold))
                r->threshold *= 1000.0;
        if (IN_SET(r->status, PROBE_WARNING, PROBE_CRITICAL))
                probe_result_message(r, "%s: connected in %.3g ms, above %.4g ms", endpoint, ms,
                                     r->threshold);
        else
                probe_result_message(r, "%s: connected in %.3g ms", endpoint, ms);
        probe_result_evidence(r, "\"address\":\"%s\",\"port\":%u,\"connect_ms\":%.3f", address, s->port, ms);
}

/* The result of a connect that had no answer after elapsed: a hang. */
static void tcp_judge_silence(const ProbeCheck *c, usec_t elapsed, ProbeResult *r) {
        const TcpSettings *s = c->settings;
        char address[INET6_ADDRSTRLEN], endpoint[TCP_ENDPOINT_MAX], d[FORMAT_DURATION_MAX];

        tcp_format(s, address, sizeof address, endpoint, sizeof endpoint);
        r->status = PROBE_CRITICAL;
        r->hang = true;
        probe_result_message(r, "%s: connect: no answer within %s", endpoint,
                             format_duration_approx(d, sizeof d, elapsed, USEC_PER_MSEC));
        probe_result_evidence(r,
                              "\"address\":\"%s\",\"port\":%u,\"connect_ms\":%.3f,\"error\":\"no answer\"",
                              address, s->port, (double) elapsed / (double) USEC_PER_MSEC);
}

/* Ends the sample under way: the socket and the timer go before the runner hears of it. */
static void tcp_finish(ProbeCheck *c, int error, bool timed_out) {
        TcpState *st = c->state;
        usec_t elapsed = usec_sub_unsigned(now(CLOCK_MONOTONIC), st->started);
        ProbeResult r;

        st->io = sd_event_source_disable_unref(st->io);
        st->timer = sd_event_source_disable_unref(st->timer);

        probe_result_init(&r);
        if (timed_out)
                tcp_judge_silence(c, elapsed, &r);
        else
                tcp_judge(c, error, elapsed, &r);
        probe_check_done(c, &r);
}

static int on_connect(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        socklen_t len = sizeof(int);
        int error = 0;

        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
                error = errno;
        tcp_finish(userdata, error, false);
        return 0;
}

static int on_timeout(sd_event_source *source, uint64_t usec, void *userdata) {
        tcp_finish(userdata, 0, true);
        return 0;
}

static int tcp_check(ProbeCheck *c, const ProbeTarget *t, ProbeResult *ret) {
        const TcpSettings *s = c->settings;
        TcpState *st = c->state;
        _cleanup_close_ int fd = -EBADF;
        usec_t timeout = c->config->timeout;
        TcpAddress a;
        socklen_t len = tcp_address(s, &a);
        int r;

        assert(c->env && c->env->event);
        assert(!st->io && !st->timer);

        fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
        if (fd < 0)
                return -errno;
        st->started = now(CLOCK_MONOTONIC);
        if (connect(fd, &a.sa, len) >= 0) {
                tcp_judge(c, 0, usec_sub_unsigned(now(CLOCK_MONOTONIC), st->started), ret);
                return 0;
        }
        /* Interrupted, a non-blocking connect goes on in the background just the same. */
        if (!IN_SET(errno, EINPROGRESS, EINTR)) {
                if (tcp_error_is_local(errno))
                        return -errno;
                tcp_judge(c, errno, usec_sub_unsigned(now(CLOCK_MONOTONIC), st->started), ret);
                return 0;
        }

        r = sd_event_add_io(c->env->event, &st->io, fd, EPOLLOUT, on_connect, c);
        if (r < 0)
                return r;
        r = sd_event_source_set_io_fd_own(st->io, true);
        if (r < 0) {
                st->io = sd_event_source_disable_unref(st->io);
                return r;
        }
        TAKE_FD(fd);
        (void) sd_event_source_set_description(st->io, "probe-tcp");

        /* Our own deadline, a little before the runner's, so that silence is reported with the
         * address it came from; the runner's timeout remains the backstop. */
        r = sd_event_add_time(c->env->event, &st->timer, CLOCK_MONOTONIC,
                              usec_add(st->started, timeout - MIN(timeout / 10, TCP_TIMEOUT_MARGIN_MAX)),
                              USEC_PER_MSEC, on_timeout, c);
        if (r < 0) {
                st->io = sd_event_source_disable_unref(st->io);
                return r;
        }
        (void) sd_event_source_set_description(st->timer, "probe-tcp-timeout");
        return 1;
}

static void tcp_cancel(ProbeCheck *c) {
        TcpState *st = c->state;

        st->io = sd_event_source_disable_unref(st->io);
        st->timer = sd_event_source_disable_unref(st->timer);
}

const ProbeOps probe_tcp_ops = {
        .spec = {
                .kind = "tcp",
                .keys = tcp_keys,
                .n_keys = ELEMENTSOF(tcp_keys),
                .settings_size = sizeof(TcpSettings),
                .settings_init = tcp_settings_init,
                .settings_done = tcp_settings_done,
                .check = tcp_check_config,
                .scopes = PROBE_SCOPE_HOST | PROBE_SCOPE_INSTANCE,
                .threshold_units = THRESHOLD_DURATION,
                .default_every = 10 * USEC_PER_SEC,
                .default_timeout = 5 * USEC_PER_SEC,
        },
        .category = CATEGORY_TRANSIENT,
        .state_size = sizeof(TcpState),
        .timeout_status = PROBE_CRITICAL,
        .check = tcp_check,
        .cancel = tcp_cancel,
};
