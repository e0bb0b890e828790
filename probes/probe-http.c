/* The http probe: one GET of a URL per sample, through libcurl's multi interface driven by the
 * loop (its sockets are sd-event io sources, its one timer an sd-event timer), judged on the
 * status code, optionally on a substring of the first 64 KiB of the body (the download stops
 * there), and on the response time (value and threshold in milliseconds). curl reports its
 * own timeout just before the runner's, so a silent server is CRITICAL and a hang.
 *
 * Each sample gets a CURLM of its own, made in check() and destroyed at its result or cancel:
 * nothing lives between samples (no connection is reused, so every sample connects as a new
 * client would), cancel is one teardown, and no multi handle has to be shared between checks
 * through a global. A multi handle per sample costs little next to tens of probes sampling
 * every few seconds; the price is that an https sample parses the CA bundle afresh (libcurl
 * caches it in the CURLM), some milliseconds of the loop's time per sample. Owns its CURLM,
 * CURL, io and timer sources during a sample; never blocks the loop (host names only with an
 * asynchronous resolver, checked at config time). Non-logging. */

#include <arpa/inet.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "escape.h"
#include "probe-http.h"

#define HTTP_BODY_MAX (64U * 1024U)          /* read of the body, at most */
#define HTTP_BODY_CONTAINS_MAX 1024U
#define HTTP_SOCKETS_MAX 8U                  /* sockets of one transfer (curl uses one or two) */
#define HTTP_REDIRECTS_MAX 5L
#define HTTP_TIMEOUT_MARGIN_MAX (250 * USEC_PER_MSEC)

typedef struct HttpSettings {
        char *url;
        char *shown_url;                     /* url without its user and password, for messages */
        unsigned status_min, status_max;     /* the accepted status codes */
        char *body_contains;                 /* NULL: the body is not looked at */
        bool follow_redirects;
} HttpSettings;

typedef struct HttpSocket {
        int fd;
        sd_event_source *io;                 /* NULL: a free slot */
} HttpSocket;

/* What a sample under way holds (all NULL and zero between samples). */
typedef struct HttpState {
        CURLM *multi;
        CURL *easy;
        sd_event_source *timer;
        HttpSocket sockets[HTTP_SOCKETS_MAX];
        char *body;                          /* the first bytes of the body, with body_contains */
        size_t body_len;
        uint64_t bytes;                      /* of the body received */
        bool found;                          /* body_contains was seen */
        bool stopped;                        /* we ended the download: enough was read */
        char error[CURL_ERROR_SIZE];
} HttpState;

/* ---- Configuration ---- */

static void http_settings_init(void *settings) {
        HttpSettings *s = settings;

        s->status_min = 200;
        s->status_max = 399;
}

static void http_settings_done(void *settings) {
        HttpSettings *s = settings;

        s->url = mfree(s->url);
        s->shown_url = mfree(s->shown_url);
        s->body_contains = mfree(s->body_contains);
}

/* Whether host (as curl_url gives it: IPv6 in brackets) needs no resolver. */
static bool host_is_literal(const char *host) {
        unsigned char buf[sizeof(struct in6_addr)];
        char v6[INET6_ADDRSTRLEN];
        size_t l = strlen(host);

        if (streq(host, "localhost") || inet_pton(AF_INET, host, buf) == 1)
                return true;
        if (l < 3 || l - 2 >= sizeof v6 || host[0] != '[' || host[l - 1] != ']')
                return false;
        memcpy(v6, host + 1, l - 2);
        v6[l - 2] = 0;
        return inet_pton(AF_INET6, v6, buf) == 1;
}

static int parse_url(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *settings) {
        HttpSettings *h = settings;
        CURLU *u = NULL;
        char *scheme = NULL, *host = NULL, *shown = NULL;
        const curl_version_info_data *info;
        const char *v = NULL;
        CURLUcode uc;
        int r;

        r = config_keys_expect_string(p, s, "a string (\"http://127.0.0.1:8080/health\")", &v);
        if (r < 0)
                return r;
        u = curl_url();
        if (!u)
                return -ENOMEM;
        uc = curl_url_set(u, CURLUPART_URL, v, 0);
        if (uc == CURLUE_OUT_OF_MEMORY) {
                r = -ENOMEM;
                goto finish;
        }
        if (uc != CURLUE_OK) {
                r = config_keys_fail(p, s, "invalid URL \"%s\": %s", v, curl_url_strerror(uc));
                goto finish;
        }
        if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
                r = config_keys_fail(p, s, "invalid URL \"%s\": expected http://HOST[:PORT]/PATH", v);
                goto finish;
        }
        if (!streq(scheme, "http") && !streq(scheme, "https")) {
                r = config_keys_fail(p, s, "invalid URL \"%s\": the scheme must be http or https", v);
                goto finish;
        }
        /* Without an asynchronous resolver, libcurl would resolve a name inside the loop. */
        info = curl_version_info(CURLVERSION_NOW);
        if (!host_is_literal(host) && !(info->features & CURL_VERSION_ASYNCHDNS)) {
                r = config_keys_fail(p, s,
                                     "host \"%s\" is a name, and this libcurl resolves names blocking: "
                                     "use a numeric address or localhost",
                                     host);
                goto finish;
        }
        /* Messages and evidence reach the journal and the incident store: no credentials there. */
        if (curl_url_set(u, CURLUPART_USER, NULL, 0) != CURLUE_OK ||
            curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_URL, &shown, 0) != CURLUE_OK) {
                r = -ENOMEM;
                goto finish;
        }
        free(h->url);
        free(h->shown_url);
        h->url = strdup(v);
        h->shown_url = strdup(shown);
        r = h->url && h->shown_url ? 0 : -ENOMEM;
finish:
        curl_free(shown);
        curl_free(scheme);
        curl_free(host);
        curl_url_cleanup(u);
        return r;
}

/* One status code "200" (or 200), or a range "200-299", of codes 100..599. */
static int parse_status(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *settings) {
        HttpSettings *h = settings;
        unsigned long lo, hi;
        const char *v = NULL;
        char *end;
        int r;

        if (config_keys_is_int(s)) {
                int64_t n = config_setting_get_int64(s);

                if (n < 100 || n > 599)
                        return config_keys_fail(p, s, "invalid status %" PRIi64 ": expected a code 100..599",
                                                n);
                h->status_min = h->status_max = (unsigned) n;
                return 0;
        }
        r = config_keys_expect_string(p, s, "a status code (200) or a range (\"200-299\")", &v);
        if (r < 0)
                return r;
        errno = 0;
        lo = hi = strtoul(v, &end, 10);
        if (end != v && *end == '-' && end[1] >= '0' && end[1] <= '9')
                hi = strtoul(end + 1, &end, 10);
        if (errno != 0 || end == v || *end != 0 || v[0] < '0' || v[0] > '9' || lo < 100 || hi > 599 ||
            lo > hi)
                return config_keys_fail(p, s,
                                        "invalid status range \"%s\": expected a code (\"200\") or a range "
                                        "(\"200-299\") of codes 100..599, lowest first",
                                        v);
        h->status_min = (unsigned) lo;
        h->status_max = (unsigned) hi;
        return 0;
}

static const ConfigKey http_keys[] = {
        CONFIG_KEY("url", parse_url),
        CONFIG_KEY("status", parse_status),
        CONFIG_KEY_STRING("body_contains", HttpSettings, body_contains),
        CONFIG_KEY_BOOL("follow_redirects", HttpSettings, follow_redirects),
};

static int http_check_config(ConfigParser *p, const config_setting_t *g, const ProbeConfig *pc,
                             bool cgroups_off) {
        const HttpSettings *s = pc->settings;

        if (!s->url)
                return config_keys_fail(p, g, "missing required key \"url\"");
        if (s->body_contains && strlen(s->body_contains) > HTTP_BODY_CONTAINS_MAX)
                return config_keys_fail(p, config_setting_get_member(g, "body_contains"),
                                        "longer than %u bytes", HTTP_BODY_CONTAINS_MAX);
        return 0;
}

/* ---- One sample ---- */

static HttpSocket *http_socket_find(HttpState *st, int fd) {
        for (size_t i = 0; i < HTTP_SOCKETS_MAX; i++)
                if (st->sockets[i].io && st->sockets[i].fd == fd)
                        return &st->sockets[i];
        return NULL;
}

static void http_socket_drop(HttpSocket *h) {
        if (!h)
                return;
        h->io = sd_event_source_disable_unref(h->io);
        h->fd = -EBADF;
}

/* Frees everything of the sample under way, curl first (it may still call back into the
 * sources), then whatever source curl did not ask to remove. */
static void http_sample_free(HttpState *st) {
        if (st->multi && st->easy)
                (void) curl_multi_remove_handle(st->multi, st->easy);
        if (st->easy)
                curl_easy_cleanup(st->easy);
        st->easy = NULL;
        if (st->multi)
                (void) curl_multi_cleanup(st->multi);
        st->multi = NULL;
        for (size_t i = 0; i < HTTP_SOCKETS_MAX; i++)
                http_socket_drop(&st->sockets[i]);
        st->timer = sd_event_source_disable_unref(st->timer);
        st->body = mfree(st->body);
        st->body_len = 0;
        st->bytes = 0;
        st->found = st->stopped = false;
        st->error[0] = 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata) {
        ProbeCheck *c = userdata;
        const HttpSettings *s = c->settings;
        HttpState *st = c->state;
        size_t len = size * n, keep = MIN(len, HTTP_BODY_MAX - st->body_len);

        st->bytes += len;
        if (st->body) {
                size_t needle = strlen(s->body_contains);
                /* Search the new bytes and the tail of the old ones a match could start in. */
                size_t from = st->body_len >= needle ? st->body_len - needle + 1 : 0;

                memcpy(st->body + st->body_len, data, keep);
                st->body_len += keep;
                if (memmem(st->body + from, st->body_len - from, s->body_contains, needle)) {
                        st->found = true;
                        st->stopped = true;
                        return 0;   /* found: the rest is not needed */
                }
        } else
                st->body_len += keep;
        if (st->body_len >= HTTP_BODY_MAX) {
                st->stopped = true;
                return 0;
        }
        return len;
}

/* Judges the transfer that ended with code, into r. */
static void http_judge(const ProbeCheck *c, CURLcode code, ProbeResult *r) {
        const HttpSettings *s = c->settings;
        HttpState *st = c->state;
        char url[512], err[CURL_ERROR_SIZE * 2 + 2], needle[HTTP_BODY_CONTAINS_MAX * 2 + 2];
        char status[24] = "null";
        const char *why = st->error[0] ? st->error : curl_easy_strerror(code);
        curl_off_t total = 0;
        long http_status = 0;
        double ms;
        bool answered = code == CURLE_OK || (code == CURLE_WRITE_ERROR && st->stopped);

        (void) curl_easy_getinfo(st->easy, CURLINFO_RESPONSE_CODE, &http_status);
        (void) curl_easy_getinfo(st->easy, CURLINFO_TOTAL_TIME_T, &total);
        ms = (double) total / 1000.0;
        if (http_status > 0)
                (void) snprintf(status, sizeof status, "%ld", http_status);

        if (answered && (http_status < (long) s->status_min || http_status > (long) s->status_max)) {
                r->status = PROBE_CRITICAL;
                probe_result_message(r, "HTTP %ld from %s (expected %u-%u)", http_status, s->shown_url,
                                     s->status_min, s->status_max);
        } else if (answered && s->body_contains && !st->found) {
                r->status = PROBE_CRITICAL;
                probe_result_message(r, "HTTP %ld from %s: \"%s\" not in the first %zu bytes of the body",
                                     http_status, s->shown_url, s->body_contains, st->body_len);
        } else if (answered) {
                /* Thresholds are durations, kept in seconds; the reading is reported in ms. */
                probe_result_judge(r, c->config, ms / 1000.0, NAN);
                r->value = ms;
                if (!isnan(r->threshold))
                        r->threshold *= 1000.0;
                if (IN_SET(r->status, PROBE_WARNING, PROBE_CRITICAL))
                        probe_result_message(r, "HTTP %ld from %s in %.3g ms, above %.4g ms", http_status,
                                             s->shown_url, ms, r->threshold);
                else
                        probe_result_message(r, "HTTP %ld from %s in %.3g ms", http_status, s->shown_url,
                                             ms);
        } else if (code == CURLE_OPERATION_TIMEDOUT) {
                r->status = PROBE_CRITICAL;
                r->hang = true;
                probe_result_message(r, "%s: no answer: %s", s->shown_url, why);
        } else {
                /* Out of memory or a broken handle is this host's problem, not the server's. */
                r->status = IN_SET(code, (CURLcode) CURLE_OUT_OF_MEMORY, CURLE_FAILED_INIT,
                                   CURLE_ABORTED_BY_CALLBACK)
                                    ? PROBE_UNKNOWN
                                    : PROBE_CRITICAL;
                probe_result_message(r, "%s: %s", s->shown_url, why);
        }

        /* "http_status", not "status": the incident's details already have a "status" member, the
         * probe's verdict, and the evidence is merged into that object. */
        (void) json_escape(url, sizeof url, s->shown_url);
        probe_result_evidence(r, "\"url\":%s,\"http_status\":%s,\"time_ms\":%.3f,\"bytes\":%" PRIu64, url,
                              status, ms, st->bytes);
        if (s->body_contains && answered) {
                (void) json_escape(needle, sizeof needle, s->body_contains);
                probe_result_evidence(r, "\"body_contains\":%s,\"found\":%s", needle,
                                      st->found ? "true" : "false");
        }
        if (!answered) {
                (void) json_escape(err, sizeof err, why);
                probe_result_evidence(r, "\"error\":%s", err);
        }
}

/* Ends the sample: the result, then a clean state, then the runner. */
static void http_finish(ProbeCheck *c, CURLcode code, const char *failure) {
        HttpState *st = c->state;
        const HttpSettings *s = c->settings;
        ProbeResult r;

        probe_result_init(&r);
        if (failure) {
                r.status = PROBE_UNKNOWN;
                probe_result_message(&r, "%s: %s", s->shown_url, failure);
        } else
                http_judge(c, code, &r);
        http_sample_free(st);
        probe_check_done(c, &r);
}

/* Lets curl act on fd (or on its timeout) and finishes the sample if the transfer is over. */
static void http_action(ProbeCheck *c, curl_socket_t fd, int flags) {
        HttpState *st = c->state;
        CURLMcode m;
        CURLMsg *msg;
        int running, left;

        m = curl_multi_socket_action(st->multi, fd, flags, &running);
        if (m != CURLM_OK) {
                http_finish(c, CURLE_OK, curl_multi_strerror(m));
                return;
        }
        while ((msg = curl_multi_info_read(st->multi, &left)))
                if (msg->msg == CURLMSG_DONE && msg->easy_handle == st->easy) {
                        http_finish(c, msg->data.result, NULL);
                        return;
                }
}

static int on_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        int flags = (revents & EPOLLIN ? CURL_CSELECT_IN : 0) | (revents & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                    (revents & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);

        http_action(userdata, fd, flags);
        return 0;
}

static int on_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        http_action(userdata, CURL_SOCKET_TIMEOUT, 0);
        return 0;
}

static uint32_t poll_to_epoll(int what) {
        return (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what curl wants, or stop watching it. Sockets are
 * found by fd, never through curl_multi_assign(): a pointer curl kept could outlive its source. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        ProbeCheck *c = userp;
        HttpState *st = c->state;
        HttpSocket *h = http_socket_find(st, fd);
        uint32_t events = poll_to_epoll(what);
        int r;

        if (what == CURL_POLL_REMOVE) {
                http_socket_drop(h);
                return 0;
        }
        /* A failed update means fd was closed and reused behind our back: watch it afresh. */
        if (h && sd_event_source_set_io_events(h->io, events) >= 0 &&
            sd_event_source_set_enabled(h->io, events ? SD_EVENT_ON : SD_EVENT_OFF) >= 0)
                return 0;
        http_socket_drop(h);
        for (h = st->sockets; h < st->sockets + HTTP_SOCKETS_MAX && h->io; h++)
                ;
        if (h == st->sockets + HTTP_SOCKETS_MAX)
                return -1;
        r = sd_event_add_io(c->env->event, &h->io, fd, events, on_io, c);
        if (r < 0)
                return -1;
        h->fd = fd;
        (void) sd_event_source_set_description(h->io, "probe-http");
        if (events == 0)
                (void) sd_event_source_set_enabled(h->io, SD_EVENT_OFF);
        return 0;
}

/* CURLMOPT_TIMERFUNCTION: one timer, re-armed or stopped as curl asks. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
        ProbeCheck *c = userp;
        HttpState *st = c->state;
        usec_t when;
        int r;

        if (timeout_ms < 0) {
                if (st->timer)
                        (void) sd_event_source_set_enabled(st->timer, SD_EVENT_OFF);
                return 0;
        }
        when = usec_add(now(CLOCK_MONOTONIC), (usec_t) timeout_ms * USEC_PER_MSEC);
        if (!st->timer) {
                r = sd_event_add_time(c->env->event, &st->timer, CLOCK_MONOTONIC, when, USEC_PER_MSEC,
                                      on_timer, c);
                if (r >= 0)
                        (void) sd_event_source_set_description(st->timer, "probe-http-timer");
        } else {
                r = sd_event_source_set_time(st->timer, when);
                if (r >= 0)
                        r = sd_event_source_set_enabled(st->timer, SD_EVENT_ONESHOT);
        }
        return r < 0 ? -1 : 0;
}

/* CURLOPT_OPENSOCKETFUNCTION: curl's sockets, close-on-exec like every fd of ours. */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address) {
        int fd;

        fd = socket(address->family, address->socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, address->protocol);
        return fd < 0 ? CURL_SOCKET_BAD : fd;
}

/* CURLOPT_CLOSESOCKETFUNCTION: the source goes before the fd, so that no io source ever names
 * an fd number that was closed (and maybe reused elsewhere in the loop). */
static int on_close_socket(void *clientp, curl_socket_t fd) {
        ProbeCheck *c = clientp;

        http_socket_drop(http_socket_find(c->state, fd));
        return close(fd);
}

static int http_curl_init(void) {
        /* Once per process: vigild is single-threaded and nothing else in it uses libcurl. */
        static bool initialized = false;

        if (initialized)
                return 0;
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return -ENOMEM;
        initialized = true;
        return 0;
}

/* The easy handle for one sample of c. */
static int http_easy_setup(ProbeCheck *c, CURL *e) {
        const HttpSettings *s = c->settings;
        HttpState *st = c->state;
        usec_t timeout = c->config->timeout;
        /* curl's own timeout comes first, so that the result says what curl saw; the runner's
         * is the backstop. */
        usec_t margin = MIN(timeout / 10, HTTP_TIMEOUT_MARGIN_MAX);
        long timeout_ms = (long) MAX((timeout - margin) / USEC_PER_MSEC, (usec_t) 1);
        bool ok;

        /* CURLOPT_QUICK_EXIT: a sample cancelled or timed out while a name is being resolved must
         * not wait for getaddrinfo() (curl would join its resolver thread, inside our loop): the
         * thread is left to finish and clean up alone. */
        ok = curl_easy_setopt(e, CURLOPT_URL, s->url) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, s->follow_redirects ? 1L : 0L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_MAXREDIRS, HTTP_REDIRECTS_MAX) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_PROXY, "") == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_USERAGENT, "vigil-probe/" PACKAGE_VERSION) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_ERRORBUFFER, st->error) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_WRITEDATA, c) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, c) == CURLE_OK;
        return ok ? 0 : -ENOMEM;
}

static int http_check(ProbeCheck *c, const ProbeTarget *t, ProbeResult *ret) {
        const HttpSettings *s = c->settings;
        HttpState *st = c->state;
        int r;

        assert(c->env && c->env->event);
        assert(!st->multi);

        r = http_curl_init();
        if (r < 0)
                return r;
        for (size_t i = 0; i < HTTP_SOCKETS_MAX; i++)
                st->sockets[i].fd = -EBADF;
        if (s->body_contains) {
                st->body = malloc(HTTP_BODY_MAX);
                if (!st->body)
                        return -ENOMEM;
        }
        st->multi = curl_multi_init();
        st->easy = curl_easy_init();
        if (!st->multi || !st->easy) {
                r = -ENOMEM;
                goto fail;
        }
        r = http_easy_setup(c, st->easy);
        if (r < 0)
                goto fail;
        if (curl_multi_setopt(st->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) != CURLM_OK ||
            curl_multi_setopt(st->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
            curl_multi_setopt(st->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
            curl_multi_setopt(st->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK) {
                r = -ENOMEM;
                goto fail;
        }
        /* Arms the timer for the start of the transfer: nothing is called back before we return. */
        if (curl_multi_add_handle(st->multi, st->easy) != CURLM_OK) {
                r = -ENOMEM;
                goto fail;
        }
        return 1;

fail:
        http_sample_free(st);
        return r;
}

static void http_cancel(ProbeCheck *c) {
        http_sample_free(c->state);
}

const ProbeOps probe_http_ops = {
        .spec = {
                .kind = "http",
                .keys = http_keys,
                .n_keys = ELEMENTSOF(http_keys),
                .settings_size = sizeof(HttpSettings),
                .settings_init = http_settings_init,
                .settings_done = http_settings_done,
                .check = http_check_config,
                .scopes = PROBE_SCOPE_HOST | PROBE_SCOPE_INSTANCE,
                .threshold_units = THRESHOLD_DURATION,
                .default_every = 30 * USEC_PER_SEC,
                .default_timeout = 10 * USEC_PER_SEC,
        },
        .category = CATEGORY_TRANSIENT,
        .state_size = sizeof(HttpState),
        .timeout_status = PROBE_CRITICAL,
        .check = http_check,
        .cancel = http_cancel,
};
