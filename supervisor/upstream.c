/* The service manager's side of sd_notify, sent without ever blocking (see upstream.h). Owns a
 * connected non-blocking datagram socket to $NOTIFY_SOCKET, what is pending for it, and three
 * event sources: the socket's EPOLLOUT (only while something waits for room), a retry timer
 * (STATUS= rate limit, reconnecting after the receiver went away) and the watchdog timer.
 * Each message is its own datagram with one assignment, as sd_notify() callers usually send
 * them. Debug logging only: a service manager that reads slowly is not vigild's error. */
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "upstream.h"

#define RECONNECT_USEC (1 * USEC_PER_SEC)
#define STATUS_GAP_USEC (USEC_PER_SEC / UPSTREAM_STATUS_PER_SEC)

/* The kinds of message, in the order one flush sends them: a summary first (systemd shows it
 * with the state it comes with), READY and STOPPING next, the ping last. */
typedef enum UpstreamKind {
        UPSTREAM_STATUS,
        UPSTREAM_READY,
        UPSTREAM_STOPPING,
        UPSTREAM_WATCHDOG,
        _UPSTREAM_KIND_MAX,
} UpstreamKind;

struct Upstream {
        sd_event *event;
        struct sockaddr_un address;
        socklen_t address_len;       /* 0: no $NOTIFY_SOCKET, every call is a no-op */
        int fd;
        sd_event_source *io;         /* EPOLLOUT, enabled while a send found the socket full */
        sd_event_source *retry;      /* the next STATUS= slot, or a reconnect */
        sd_event_source *watchdog;
        usec_t watchdog_usec;

        bool pending[_UPSTREAM_KIND_MAX];
        char *status;                /* the text pending[UPSTREAM_STATUS] stands for */
        char *status_sent;
        usec_t status_sent_at;
        usec_t reconnect_at;
        bool full;                   /* the last send found the receiver's queue full */
        uint64_t blocked;
};

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);
static int on_retry(sd_event_source *s, uint64_t usec, void *userdata);
static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata);

static int parse_address(const char *e, struct sockaddr_un *ret, socklen_t *ret_len) {
        size_t n = strlen(e);

        /* A path, or "@name" in the abstract namespace; other kinds (vsock) are not for us. */
        if (!IN_SET(e[0], '/', '@') || n < 2 || n >= sizeof(ret->sun_path))
                return -EINVAL;
        *ret = (struct sockaddr_un) { .sun_family = AF_UNIX };
        memcpy(ret->sun_path, e, n);
        if (e[0] == '@')
                ret->sun_path[0] = 0;
        *ret_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + (e[0] == '/'));
        return 0;
}

static void disconnect(Upstream *u) {
        u->io = sd_event_source_disable_unref(u->io);
        u->fd = safe_close(u->fd);
}

static int connect_socket(Upstream *u) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *) &u->address, u->address_len) < 0)
                return -errno;
        r = sd_event_add_io(u->event, &u->io, fd, EPOLLOUT, on_io, u);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(u->io, SD_EVENT_OFF);
        u->fd = TAKE_FD(fd);
        return 0;
}

static void arm_retry(Upstream *u, usec_t when) {
        int r;

        if (u->retry) {
                uint64_t t;

                /* An earlier slot already armed serves this one too. */
                if (sd_event_source_get_enabled(u->retry, NULL) > 0 && sd_event_source_get_time(u->retry, &t) >= 0 &&
                    t <= when)
                        return;
                r = sd_event_source_set_time(u->retry, when);
                if (r >= 0)
                        r = sd_event_source_set_enabled(u->retry, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time(u->event, &u->retry, CLOCK_MONOTONIC, when, 10 * USEC_PER_MSEC, on_retry, u);
        if (r < 0)
                /* The next message or ping tries again. */
                log_debug_errno(r, "upstream: cannot arm the retry timer: %m");
}

static int send_one(Upstream *u, UpstreamKind k) {
        static const char *const fixed[_UPSTREAM_KIND_MAX] = {
                [UPSTREAM_READY] = "READY=1",
                [UPSTREAM_STOPPING] = "STOPPING=1",
                [UPSTREAM_WATCHDOG] = "WATCHDOG=1",
        };
        _cleanup_free_ char *text = NULL;
        const char *msg = fixed[k];

        if (k == UPSTREAM_STATUS) {
                if (asprintf(&text, "STATUS=%s", u->status) < 0)
                        return -ENOMEM;
                msg = text;
        }
        if (send(u->fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
                return -errno;
        return 0;
}

/* Sends what is pending, in order, until the socket is full. */
static void flush(Upstream *u) {
        usec_t t = now(CLOCK_MONOTONIC);
        int r;

        if (u->address_len == 0)
                return;
        if (u->fd < 0) {
                if (t < u->reconnect_at) {
                        arm_retry(u, u->reconnect_at);
                        return;
                }
                r = connect_socket(u);
                if (r < 0) {
                        log_debug_errno(r, "upstream: cannot connect to $NOTIFY_SOCKET: %m, retrying");
                        u->reconnect_at = t + RECONNECT_USEC;
                        arm_retry(u, u->reconnect_at);
                        return;
                }
        }

        for (UpstreamKind k = 0; k < _UPSTREAM_KIND_MAX; k++) {
                if (!u->pending[k])
                        continue;
                if (k == UPSTREAM_STATUS && u->status_sent && t < u->status_sent_at + STATUS_GAP_USEC) {
                        arm_retry(u, u->status_sent_at + STATUS_GAP_USEC);
                        continue;
                }
                r = send_one(u, k);
                if (r == -EAGAIN) {
                        /* The receiver's queue is full: wait for room, never for the receiver. */
                        if (!u->full)
                                log_debug("upstream: the service manager's socket is full; %u message(s) wait",
                                          upstream_pending(u));
                        u->full = true;
                        u->blocked++;
                        (void) sd_event_source_set_enabled(u->io, SD_EVENT_ON);
                        return;
                }
                if (r < 0) {
                        /* The receiver went away (systemd re-executing) or refused: reconnect
                         * later, keeping what is pending. */
                        log_debug_errno(r, "upstream: send failed: %m, reconnecting");
                        disconnect(u);
                        u->reconnect_at = t + RECONNECT_USEC;
                        arm_retry(u, u->reconnect_at);
                        return;
                }
                if (u->full)
                        log_debug("upstream: the service manager's socket has room again");
                u->full = false;
                u->pending[k] = false;
                if (k == UPSTREAM_STATUS) {
                        free(u->status_sent);
                        u->status_sent = TAKE_PTR(u->status);
                        u->status_sent_at = t;
                }
        }
        (void) sd_event_source_set_enabled(u->io, SD_EVENT_OFF);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        flush(userdata);
        return 0;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        flush(userdata);
        return 0;
}

static int arm_watchdog(Upstream *u) {
        usec_t when = now(CLOCK_MONOTONIC) + u->watchdog_usec / 2;
        int r;

        if (u->watchdog) {
                r = sd_event_source_set_time(u->watchdog, when);
                if (r >= 0)
                        r = sd_event_source_set_enabled(u->watchdog, SD_EVENT_ONESHOT);
                return r;
        }
        /* Due at half the interval, late by at most a quarter of it. */
        return sd_event_add_time(u->event, &u->watchdog, CLOCK_MONOTONIC, when, u->watchdog_usec / 4, on_watchdog, u);
}

static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata) {
        Upstream *u = userdata;
        int r;

        u->pending[UPSTREAM_WATCHDOG] = true;
        flush(u);
        r = arm_watchdog(u);
        if (r < 0)
                /* No more pings: systemd's watchdog will end vigild, which is the right outcome
                 * for a loop that cannot arm a timer. */
                log_error_errno(r, "cannot re-arm the watchdog timer: %m");
        return 0;
}

Upstream *upstream_free(Upstream *u) {
        if (!u)
                return NULL;
        disconnect(u);
        sd_event_source_disable_unref(u->retry);
        sd_event_source_disable_unref(u->watchdog);
        sd_event_unref(u->event);
        free(u->status);
        free(u->status_sent);
        return mfree(u);
}

static void upstream_freep(Upstream **u) {
        upstream_free(*u);
}

int upstream_new(sd_event *event, Upstream **ret) {
        _cleanup_(upstream_freep) Upstream *u = NULL;
        const char *e;
        uint64_t usec = 0;
        int r;

        assert(event);
        assert(ret);

        u = calloc(1, sizeof(Upstream));
        if (!u)
                return -ENOMEM;
        u->event = sd_event_ref(event);
        u->fd = -EBADF;

        e = getenv("NOTIFY_SOCKET");
        if (e && parse_address(e, &u->address, &u->address_len) < 0)
                log_warning("NOTIFY_SOCKET=%s is not a socket vigild can use, ignoring", e);

        if (u->address_len > 0 && sd_watchdog_enabled(false, &usec) > 0 && usec > 0) {
                u->watchdog_usec = usec;
                r = arm_watchdog(u);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(u);
        return 0;
}

void upstream_ready(Upstream *u) {
        u->pending[UPSTREAM_READY] = true;
        flush(u);
}

void upstream_stopping(Upstream *u) {
        u->pending[UPSTREAM_STOPPING] = true;
        flush(u);
}

void upstream_status(Upstream *u, const char *text) {
        char *copy;

        if (u->address_len == 0)
                return;
        if (streq_ptr(text, u->status_sent)) {
                /* Back to what systemd already shows: nothing to send. */
                u->pending[UPSTREAM_STATUS] = false;
                u->status = mfree(u->status);
                return;
        }
        if (streq_ptr(text, u->status))
                return;
        copy = strdup(text);
        if (!copy) {
                log_debug("upstream: out of memory for STATUS=, keeping the previous text");
                return;
        }
        free(u->status);
        u->status = copy;
        u->pending[UPSTREAM_STATUS] = true;
        flush(u);
}

usec_t upstream_watchdog_usec(const Upstream *u) {
        return u->watchdog_usec;
}

unsigned upstream_pending(const Upstream *u) {
        unsigned n = 0;

        for (UpstreamKind k = 0; k < _UPSTREAM_KIND_MAX; k++)
                n += u->pending[k];
        return n;
}

uint64_t upstream_blocked(const Upstream *u) {
        return u->blocked;
}
