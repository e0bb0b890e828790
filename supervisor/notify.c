/* Implements the notify socket (systemd's sd_notify protocol from workers) and the pure parser
 * of its datagrams. Owns the socket, its file in the runtime directory and its event source.
 * It never blocks (non-blocking reads, a bounded batch per wakeup), never keeps a file
 * descriptor that arrived with a datagram (every SCM_RIGHTS fd is closed, which is what
 * BARRIER=1 waits for), and never logs above debug: the manager decides what to report from
 * the counters. Which worker a sender belongs to is the handler's decision, not ours. */
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "log.h"
#include "notify.h"

#define NOTIFY_RCVBUF (8U * 1024U * 1024U)

struct NotifySocket {
        int fd;
        char *path;             /* set once the file exists, so that free removes it */
        sd_event_source *source;
        notify_handler_t handler;
        void *userdata;
        uint64_t n_dropped[_NOTIFY_DROP_MAX];
        uint64_t n_accepted;
};

static const char *const notify_drop_table[_NOTIFY_DROP_MAX] = {
        [NOTIFY_DROP_EMPTY] = "empty",
        [NOTIFY_DROP_OVERSIZED] = "oversized",
        [NOTIFY_DROP_BINARY] = "binary",
        [NOTIFY_DROP_MALFORMED] = "malformed",
        [NOTIFY_DROP_NO_CREDENTIALS] = "no-credentials",
        [NOTIFY_DROP_UNKNOWN_SENDER] = "unknown-sender",
        [NOTIFY_DROP_VANISHED] = "vanished",
        [NOTIFY_DROP_RATE_LIMITED] = "rate-limited",
};

DEFINE_STRING_TABLE_LOOKUP(notify_drop, NotifyDrop);

/* ---- parsing ------------------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s (n bytes available), or 0 if there is none:
 * overlong forms, surrogates and code points above U+10FFFF are refused. The code point goes
 * to *ret_cp. */
static size_t utf8_sequence(const uint8_t *s, size_t n, uint32_t *ret_cp) {
        uint8_t lo = 0x80, hi = 0xbf;
        size_t len;
        uint32_t cp;

        if (s[0] < 0x80) {
                *ret_cp = s[0];
                return 1;
        }
        if (s[0] >= 0xc2 && s[0] <= 0xdf) {
                len = 2;
                cp = s[0] & 0x1f;
        } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
                len = 3;
                cp = s[0] & 0x0f;
                if (s[0] == 0xe0)
                        lo = 0xa0;      /* overlong */
                else if (s[0] == 0xed)
                        hi = 0x9f;      /* surrogates */
        } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                len = 4;
                cp = s[0] & 0x07;
                if (s[0] == 0xf0)
                        lo = 0x90;      /* overlong */
                else if (s[0] == 0xf4)
                        hi = 0x8f;      /* above U+10FFFF */
        } else
                return 0;

        if (n < len || s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        *ret_cp = cp;
        return len;
}

static bool utf8_valid(const char *data, size_t len) {
        const uint8_t *p = (const uint8_t *) data;

        while (len > 0) {
                uint32_t cp;
                size_t n = utf8_sequence(p, len, &cp);

                if (n == 0)
                        return false;
                p += n;
                len -= n;
        }
        return true;
}

/* Copies valid UTF-8 into a NOTIFY_STATUS_MAX buffer: C0 and C1 control characters and DEL
 * become '?', and the text is cut at the last whole character that fits. */
static void status_copy(char *dest, const char *value, size_t len) {
        const uint8_t *p = (const uint8_t *) value;
        size_t out = 0;

        while (len > 0) {
                uint32_t cp;
                size_t n = utf8_sequence(p, len, &cp);
                bool control;
                size_t w;

                assert(n > 0);  /* the whole datagram was validated first */
                control = cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
                w = control ? 1 : n;
                if (out + w > NOTIFY_STATUS_MAX - 1)
                        break;
                if (control)
                        dest[out] = '?';
                else
                        memcpy(dest + out, p, n);
                out += w;
                p += n;
                len -= n;
        }
        dest[out] = '\0';
}

/* A plain decimal number: digits only, no sign, no blanks, no overflow. */
static int parse_decimal(const char *s, size_t len, uint64_t *ret) {
        uint64_t v = 0;

        if (len == 0)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                unsigned d;

                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                d = (unsigned) (s[i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

static bool value_is(const char *v, size_t len, const char *expected) {
        return strlen(expected) == len && memcmp(v, expected, len) == 0;
}

static int assign_ready(NotifyMessage *m, const char *v, size_t len) {
        if (!value_is(v, len, "1"))
                return -EINVAL;
        m->ready = true;
        return 0;
}

static int assign_stopping(NotifyMessage *m, const char *v, size_t len) {
        if (!value_is(v, len, "1"))
                return -EINVAL;
        m->stopping = true;
        return 0;
}

static int assign_reloading(NotifyMessage *m, const char *v, size_t len) {
        if (!value_is(v, len, "1"))
                return -EINVAL;
        m->reloading = true;
        return 0;
}

static int assign_watchdog(NotifyMessage *m, const char *v, size_t len) {
        if (value_is(v, len, "1"))
                m->watchdog = true;
        else if (value_is(v, len, "trigger"))
                m->watchdog_trigger = true;
        else
                return -EINVAL;
        return 0;
}

static int assign_barrier(NotifyMessage *m, const char *v, size_t len) {
        if (!value_is(v, len, "1"))
                return -EINVAL;
        m->barrier = true;
        return 0;
}

static int assign_status(NotifyMessage *m, const char *v, size_t len) {
        status_copy(m->status, v, len);
        m->has_status = true;
        return 0;
}

static int assign_errno(NotifyMessage *m, const char *v, size_t len) {
        uint64_t u;

        if (parse_decimal(v, len, &u) < 0 || u > 4095)
                return -EINVAL;
        m->errno_value = (int) u;
        m->has_errno = true;
        return 0;
}

static int assign_watchdog_usec(NotifyMessage *m, const char *v, size_t len) {
        uint64_t u;

        if (parse_decimal(v, len, &u) < 0 || u == 0 || u == USEC_INFINITY)
                return -EINVAL;
        m->watchdog_usec = u;
        m->has_watchdog_usec = true;
        return 0;
}

static int assign_mainpid(NotifyMessage *m, const char *v, size_t len) {
        uint64_t u;

        if (parse_decimal(v, len, &u) < 0 || u == 0 || u > INT32_MAX)
                return -EINVAL;
        m->mainpid = (pid_t) u;
        m->has_mainpid = true;
        return 0;
}

/* vigil's own variables: plain decimal u64, anything else is a malformed datagram (a worker
 * that sends "12k" has a bug worth seeing in the drop counters, not a silent zero). */
static int assign_progress(NotifyMessage *m, const char *v, size_t len) {
        uint64_t u;

        if (parse_decimal(v, len, &u) < 0)
                return -EINVAL;
        m->progress = u;
        m->has_progress = true;
        return 0;
}

static int assign_queue(NotifyMessage *m, const char *v, size_t len) {
        uint64_t u;

        if (parse_decimal(v, len, &u) < 0)
                return -EINVAL;
        m->queue = u;
        m->has_queue = true;
        return 0;
}

static const struct {
        const char *key;
        int (*assign)(NotifyMessage *m, const char *value, size_t len);
} notify_keys[] = {
        { "READY", assign_ready },
        { "STOPPING", assign_stopping },
        { "RELOADING", assign_reloading },
        { "WATCHDOG", assign_watchdog },
        { "BARRIER", assign_barrier },
        { "STATUS", assign_status },
        { "ERRNO", assign_errno },
        { "WATCHDOG_USEC", assign_watchdog_usec },
        { "MAINPID", assign_mainpid },
        { "X_VIGIL_PROGRESS", assign_progress },
        { "X_VIGIL_QUEUE", assign_queue },
};

static int parse_line(NotifyMessage *m, const char *line, size_t len) {
        const char *eq = memchr(line, '=', len);
        size_t klen;

        if (!eq || eq == line)
                return -EINVAL;
        klen = (size_t) (eq - line);
        for (size_t i = 0; i < ELEMENTSOF(notify_keys); i++)
                if (value_is(line, klen, notify_keys[i].key))
                        return notify_keys[i].assign(m, eq + 1, len - klen - 1);
        return 0;
}

int notify_parse(const char *data, size_t len, NotifyMessage *ret, NotifyDrop *reterr_reason) {
        NotifyMessage m = {};
        NotifyDrop reason;
        const char *end;

        assert(data || len == 0);
        assert(ret);

        if (len == 0) {
                reason = NOTIFY_DROP_EMPTY;
                goto fail;
        }
        if (memchr(data, '\0', len) || !utf8_valid(data, len)) {
                reason = NOTIFY_DROP_BINARY;
                goto fail;
        }
        end = data + len;
        for (const char *p = data; p < end;) {
                const char *eol = memchr(p, '\n', (size_t) (end - p)) ?: end;

                if (eol > p && parse_line(&m, p, (size_t) (eol - p)) < 0) {
                        reason = NOTIFY_DROP_MALFORMED;
                        goto fail;
                }
                p = eol + 1;
        }
        *ret = m;
        return 0;

fail:
        if (reterr_reason)
                *reterr_reason = reason;
        return -EBADMSG;
}

/* ---- the socket ---------------------------------------------------------------------- */

/* Closes every descriptor that arrived in the control data and finds the credentials.
 * Returns true if there were credentials. */
static bool control_take(struct msghdr *mh, struct ucred *ret_cred) {
        bool have_cred = false;

        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                if (c->cmsg_level != SOL_SOCKET)
                        continue;
                if (c->cmsg_type == SCM_RIGHTS) {
                        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

                        for (size_t i = 0; i < n; i++) {
                                int fd;

                                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                                (void) safe_close(fd);
                        }
                } else if (c->cmsg_type == SCM_CREDENTIALS &&
                           c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
                        memcpy(ret_cred, CMSG_DATA(c), sizeof(struct ucred));
                        have_cred = true;
                }
        }
        return have_cred;
}

static void notify_socket_drop(NotifySocket *s, NotifyDrop reason, pid_t pid) {
        s->n_dropped[reason]++;
        log_debug("Dropped notify datagram from PID %d: %s", (int) pid, notify_drop_to_string(reason));
}

/* Reads and handles one datagram. Returns 0, -EAGAIN when there is none, or -errno. */
static int notify_socket_receive_one(NotifySocket *s) {
        char buf[NOTIFY_DATAGRAM_MAX + 1];
        union {
                struct cmsghdr align;
                uint8_t buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * NOTIFY_FDS_MAX)];
        } control;
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof(control),
        };
        struct ucred cred = {};
        NotifyMessage msg;
        NotifyDrop reason;
        bool have_cred;
        ssize_t n;
        int r;

        n = recvmsg(s->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
        if (n < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;

        /* First, whatever the datagram turns out to be: no descriptor stays open. The kernel
         * discards those that did not fit in a truncated control buffer. */
        have_cred = control_take(&mh, &cred);
        if (mh.msg_flags & MSG_CTRUNC)
                log_debug("Notify datagram from PID %d had truncated control data", (int) cred.pid);

        if (n == 0) {
                notify_socket_drop(s, NOTIFY_DROP_EMPTY, cred.pid);
                return 0;
        }
        if ((mh.msg_flags & MSG_TRUNC) || (size_t) n > NOTIFY_DATAGRAM_MAX) {
                notify_socket_drop(s, NOTIFY_DROP_OVERSIZED, cred.pid);
                return 0;
        }
        if (!have_cred) {
                notify_socket_drop(s, NOTIFY_DROP_NO_CREDENTIALS, 0);
                return 0;
        }
        /* The kernel reports pid 0 for a sender outside our pid namespace: nobody we know. */
        if (cred.pid <= 0) {
                notify_socket_drop(s, NOTIFY_DROP_UNKNOWN_SENDER, cred.pid);
                return 0;
        }
        if (notify_parse(buf, (size_t) n, &msg, &reason) < 0) {
                notify_socket_drop(s, reason, cred.pid);
                return 0;
        }

        r = s->handler(&msg, cred.pid, cred.uid, cred.gid, s->userdata);
        assert(r >= 0 && r < _NOTIFY_DROP_MAX);
        if (r > 0) {
                notify_socket_drop(s, (NotifyDrop) r, cred.pid);
                return 0;
        }
        s->n_accepted++;
        return 0;
}

static int notify_socket_on_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        NotifySocket *s = userdata;

        /* A bounded batch: the source is level-triggered, so what is left wakes us on the next
         * loop iteration, after timers and other sources had their turn. */
        for (unsigned i = 0; i < NOTIFY_DISPATCH_BATCH; i++) {
                int r = notify_socket_receive_one(s);

                if (r == -EAGAIN)
                        break;
                if (r == -EINTR)
                        continue;
                if (r < 0) {
                        /* Returning an error would disable the source for good. */
                        log_debug_errno(r, "Failed to receive from notify socket, ignoring: %m");
                        break;
                }
        }
        return 0;
}

static void notify_socket_freep(NotifySocket **s) {
        (void) notify_socket_free(*s);
}

/* Removes a socket file left by an earlier run; refuses to remove anything else. */
static int remove_stale_socket(const char *path) {
        struct stat st;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISSOCK(st.st_mode))
                return -EEXIST;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int notify_socket_new(sd_event *event, const char *path, notify_handler_t handler, void *userdata,
                      NotifySocket **ret) {
        _cleanup_(notify_socket_freep) NotifySocket *s = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t len;
        int one = 1, size = NOTIFY_RCVBUF;
        int r;

        assert(event);
        assert(path);
        assert(handler);
        assert(ret);

        len = strlen(path);
        if (len == 0)
                return -EINVAL;
        if (len >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, len);

        s = calloc(1, sizeof(NotifySocket));
        if (!s)
                return -ENOMEM;
        s->fd = -EBADF;
        s->handler = handler;
        s->userdata = userdata;
        s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s->fd < 0)
                return -errno;
        if (setsockopt(s->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
                return -errno;
        /* Room for bursts (many workers starting at once); best effort, root may exceed
         * net.core.rmem_max. */
        if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
                (void) setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));

        r = remove_stale_socket(path);
        if (r < 0)
                return r;
        if (bind(s->fd, (const struct sockaddr *) &sa, offsetof(struct sockaddr_un, sun_path) + len + 1) < 0)
                return -errno;
        s->path = strdup(path);
        if (!s->path) {
                (void) unlink(path);
                return -ENOMEM;
        }
        /* Workers may run as any user: authorization is by credentials, not by file mode. */
        if (chmod(path, 0666) < 0)
                return -errno;

        r = sd_event_add_io(event, &s->source, s->fd, EPOLLIN, notify_socket_on_io, s);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(s->source, "notify-socket");
        /* Ahead of timers: after a stall, the WATCHDOG=1 pings queued meanwhile must be read
         * before an overdue watchdog timer can judge their sender. */
        (void) sd_event_source_set_priority(s->source, NOTIFY_SOCKET_PRIORITY);

        *ret = TAKE_PTR(s);
        return 0;
}

NotifySocket *notify_socket_free(NotifySocket *s) {
        if (!s)
                return NULL;

        s->source = sd_event_source_disable_unref(s->source);
        s->fd = safe_close(s->fd);
        if (s->path)
                (void) unlink(s->path);
        free(s->path);
        return mfree(s);
}

const char *notify_socket_path(const NotifySocket *s) {
        assert(s);
        return s->path;
}

uint64_t notify_socket_dropped(const NotifySocket *s, NotifyDrop reason) {
        assert(s);
        assert(reason >= 0 && reason < _NOTIFY_DROP_MAX);
        return s->n_dropped[reason];
}

uint64_t notify_socket_accepted(const NotifySocket *s) {
        assert(s);
        return s->n_accepted;
}
