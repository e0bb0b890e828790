/* journal-listener: a small stand-in for journald, for the integration scenarios. In DIR (a tmpfs
 * the scenario mounted on /run/systemd/journal in a private mount namespace) it binds the
 * datagram socket "socket" that sd_journal_send() writes to and the stream socket "stdout" that
 * sd_journal_stream_fd() connects to, decodes both protocols and appends one JSON object per
 * entry or line to OUTPUT, with one write(2) each, so a reader never sees half a record. Once
 * both sockets listen it creates READY_FILE (by rename) or, without one, prints READY on stdout.
 * It runs until SIGTERM or SIGINT, then reads what is already queued and exits 0.
 * Links only libc. It is a test tool: it trusts its peers no further than not crashing.
 *
 *   journal-listener DIR OUTPUT [READY_FILE]
 *
 * Records (keys in this order; every value a JSON string unless said otherwise):
 *   {"transport":"journal","pid":"P",["via":"memfd",]"KEY":VALUE,...}
 *       one per native-protocol entry; KEYs in the order sent; pid from SCM_CREDENTIALS. A
 *       field sent more than once has an array of its values. A value that is not valid UTF-8
 *       is an array of its byte values (numbers), as journalctl -o json shows such fields.
 *   {"transport":"stdout","stream":"N","pid":"P","identifier":"I","unit_id":"U","priority":"6",
 *    "MESSAGE":VALUE}
 *       one per line of a stdout stream; N numbers the streams from 1 in accept order; pid is
 *       the connecting process; priority is the header's, or the line's "<N>" prefix when the
 *       header asked for level prefixes. Lines end at "\n" or NUL or after LINE_MAX bytes; a
 *       partial line is flushed when the stream ends.
 *   {"transport":"error","what":"..."}
 *       a datagram or stream header this listener could not decode. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LINE_MAX_BYTES (48U * 1024U)      /* journald's own limit for a stream line */
#define HEADER_LINE_MAX 1024U
#define HEADER_LINES 7U
#define DATAGRAM_FDS_MAX 16U
#define MEMFD_MAX (256U * 1024U * 1024U)
#define STREAMS_MAX 4096U
#define RCVBUF (8 * 1024 * 1024)

static int out_fd = -1;

static void die(const char *fmt, ...) __attribute__((__format__(printf, 1, 2), __noreturn__));
static void die(const char *fmt, ...) {
        va_list ap;

        fputs("journal-listener: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(2);
}

/* ---- a growable byte buffer ---- */

typedef struct Buf {
        char *s;
        size_t n, cap;
} Buf;

static void buf_add(Buf *b, const void *data, size_t n) {
        if (b->n + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 256;

                while (cap < b->n + n + 1)
                        cap *= 2;
                b->s = realloc(b->s, cap);
                if (!b->s)
                        die("out of memory");
                b->cap = cap;
        }
        if (n > 0)
                memcpy(b->s + b->n, data, n);
        b->n += n;
        b->s[b->n] = '\0';
}

static void buf_adds(Buf *b, const char *s) {
        buf_add(b, s, strlen(s));
}

static void buf_consume(Buf *b, size_t n) {
        memmove(b->s, b->s + n, b->n - n);
        b->n -= n;
}

/* ---- JSON ---- */

/* Whether s[0..n) is well-formed UTF-8: no overlong forms, no surrogates, nothing above
 * U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t n) {
        size_t i = 0;

        while (i < n) {
                unsigned char c = s[i];
                uint32_t cp;
                size_t len;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if ((c & 0xe0) == 0xc0) {
                        len = 2;
                        cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        len = 3;
                        cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        len = 4;
                        cp = c & 0x07;
                } else
                        return false;
                if (i + len > n)
                        return false;
                for (size_t k = 1; k < len; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (s[i + k] & 0x3f);
                }
                if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
                    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += len;
        }
        return true;
}

/* Appends s[0..n) as a JSON string, or as an array of byte values if it is not UTF-8. */
static void json_value(Buf *b, const char *s, size_t n) {
        const unsigned char *u = (const unsigned char *) s;
        char esc[8];

        if (!utf8_valid(u, n)) {
                buf_add(b, "[", 1);
                for (size_t i = 0; i < n; i++) {
                        (void) snprintf(esc, sizeof(esc), "%s%u", i > 0 ? "," : "", u[i]);
                        buf_adds(b, esc);
                }
                buf_add(b, "]", 1);
                return;
        }

        buf_add(b, "\"", 1);
        for (size_t i = 0; i < n; i++) {
                switch (u[i]) {
                case '"':
                        buf_adds(b, "\\\"");
                        break;
                case '\\':
                        buf_adds(b, "\\\\");
                        break;
                case '\b':
                        buf_adds(b, "\\b");
                        break;
                case '\f':
                        buf_adds(b, "\\f");
                        break;
                case '\n':
                        buf_adds(b, "\\n");
                        break;
                case '\r':
                        buf_adds(b, "\\r");
                        break;
                case '\t':
                        buf_adds(b, "\\t");
                        break;
                default:
                        if (u[i] < 0x20 || u[i] == 0x7f) {
                                (void) snprintf(esc, sizeof(esc), "\\u%04x", u[i]);
                                buf_adds(b, esc);
                        } else
                                buf_add(b, &s[i], 1);
                }
        }
        buf_add(b, "\"", 1);
}

static void json_member(Buf *b, const char *key, const char *value, size_t n) {
        buf_add(b, ",", b->n > 1 ? 1 : 0);
        json_value(b, key, strlen(key));
        buf_add(b, ":", 1);
        json_value(b, value, n);
}

static void json_member_str(Buf *b, const char *key, const char *value) {
        json_member(b, key, value, strlen(value));
}

/* Finishes the object and appends it to OUTPUT as one line with one write. */
static void emit(Buf *b) {
        size_t done = 0;

        buf_adds(b, "}\n");
        while (done < b->n) {
                ssize_t k = write(out_fd, b->s + done, b->n - done);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        die("cannot write the output: %s", k < 0 ? strerror(errno) : "short write");
                done += (size_t) k;
        }
        b->n = 0;
}

static void emit_error(const char *what) {
        Buf b = {};

        buf_add(&b, "{", 1);
        json_member_str(&b, "transport", "error");
        json_member_str(&b, "what", what);
        emit(&b);
        free(b.s);
}

/* ---- the native protocol ---- */

typedef struct Field {
        char *key;
        const char *value;
        size_t n;
} Field;

typedef struct Entry {
        Field *fields;
        size_t n_fields;
} Entry;

static void entry_add(Entry *e, const char *key, size_t key_len, const char *value, size_t n) {
        Field *f = realloc(e->fields, (e->n_fields + 1) * sizeof(Field));

        if (!f)
                die("out of memory");
        e->fields = f;
        f[e->n_fields].key = strndup(key, key_len);
        if (!f[e->n_fields].key)
                die("out of memory");
        f[e->n_fields].value = value;
        f[e->n_fields].n = n;
        e->n_fields++;
}

static void entry_clear(Entry *e) {
        for (size_t i = 0; i < e->n_fields; i++)
                free(e->fields[i].key);
        free(e->fields);
        *e = (Entry) {};
}

/* Writes one record for the entry: fields in first-seen order, repeated keys as arrays. */
static void entry_emit(Entry *e, pid_t pid, bool memfd) {
        char pidbuf[16];
        Buf b = {};

        if (e->n_fields == 0)
                return;
        buf_add(&b, "{", 1);
        json_member_str(&b, "transport", "journal");
        (void) snprintf(pidbuf, sizeof(pidbuf), "%d", (int) pid);
        json_member_str(&b, "pid", pid > 0 ? pidbuf : "");
        if (memfd)
                json_member_str(&b, "via", "memfd");
        for (size_t i = 0; i < e->n_fields; i++) {
                size_t count = 0;
                bool seen = false;

                for (size_t j = 0; j < e->n_fields; j++)
                        if (strcmp(e->fields[j].key, e->fields[i].key) == 0) {
                                if (j < i)
                                        seen = true;
                                count++;
                        }
                if (seen)
                        continue;
                if (count == 1) {
                        json_member(&b, e->fields[i].key, e->fields[i].value, e->fields[i].n);
                        continue;
                }
                buf_add(&b, ",", 1);
                json_value(&b, e->fields[i].key, strlen(e->fields[i].key));
                buf_add(&b, ":[", 2);
                for (size_t j = i, k = 0; j < e->n_fields; j++)
                        if (strcmp(e->fields[j].key, e->fields[i].key) == 0) {
                                buf_add(&b, ",", k++ > 0 ? 1 : 0);
                                json_value(&b, e->fields[j].value, e->fields[j].n);
                        }
                buf_add(&b, "]", 1);
        }
        emit(&b);
        free(b.s);
}

/* Decodes the native protocol: "KEY=VALUE\n" fields, or "KEY\n" + 64-bit little-endian length
 * + data + "\n" for values that may hold newlines; an empty line separates entries. */
static void parse_native(const char *p, size_t n, pid_t pid, bool memfd) {
        const char *end = p + n;
        Entry e = {};

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *eq;

                if (!nl) {
                        emit_error("journal datagram ends without a newline");
                        break;
                }
                if (nl == p) {
                        entry_emit(&e, pid, memfd);
                        entry_clear(&e);
                        p++;
                        continue;
                }
                eq = memchr(p, '=', (size_t) (nl - p));
                if (eq) {
                        if (eq == p) {
                                emit_error("journal field without a name");
                                break;
                        }
                        entry_add(&e, p, (size_t) (eq - p), eq + 1, (size_t) (nl - eq - 1));
                        p = nl + 1;
                        continue;
                }

                uint64_t len = 0;
                const char *data = nl + 1;

                if (end - data < 8) {
                        emit_error("journal binary field without its length");
                        break;
                }
                for (int k = 7; k >= 0; k--)
                        len = (len << 8) | (unsigned char) data[k];
                data += 8;
                if (len >= (uint64_t) (end - data) || data[len] != '\n') {
                        emit_error("journal binary field with a bad length");
                        break;
                }
                entry_add(&e, p, (size_t) (nl - p), data, (size_t) len);
                p = data + len + 1;
        }
        entry_emit(&e, pid, memfd);
        entry_clear(&e);
}

/* Reads a whole sealed memfd (or any regular file) passed with a datagram. */
static void parse_memfd(int fd, pid_t pid) {
        struct stat st;
        char *data;
        size_t done = 0;

        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t) st.st_size > MEMFD_MAX) {
                emit_error("journal entry passed as an fd that is not a usable regular file");
                return;
        }
        data = malloc((size_t) st.st_size);
        if (!data)
                die("out of memory");
        while (done < (size_t) st.st_size) {
                ssize_t k = pread(fd, data + done, (size_t) st.st_size - done, (off_t) done);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                done += (size_t) k;
        }
        if (done == (size_t) st.st_size)
                parse_native(data, done, pid, true);
        else
                emit_error("journal entry fd could not be read");
        free(data);
}

/* Receives one datagram; returns false when none is queued. */
static bool receive_datagram(int fd) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * DATAGRAM_FDS_MAX)];
        } control;
        ssize_t size;
        char *data;
        struct iovec iov;
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof(control),
        };
        pid_t pid = 0;
        int passed_fd = -1;
        ssize_t n;

        /* The size of the next datagram, by peeking (MSG_TRUNC gives its full length). Not
         * FIONREAD: it says 0 when the queue is empty, and a datagram arriving right after
         * would then be read into a one-byte buffer. */
        size = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
        if (size < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return false;
                die("recv: %m");
        }
        data = malloc((size_t) size + 1);
        if (!data)
                die("out of memory");
        iov = (struct iovec) { data, (size_t) size + 1 };
        n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0) {
                free(data);
                if (errno == EAGAIN || errno == EINTR)
                        return false;
                die("recvmsg: %m");
        }

        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level != SOL_SOCKET)
                        continue;
                if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
                        struct ucred uc;

                        memcpy(&uc, CMSG_DATA(c), sizeof(uc));
                        pid = uc.pid;
                } else if (c->cmsg_type == SCM_RIGHTS) {
                        size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        int fds[DATAGRAM_FDS_MAX];

                        memcpy(fds, CMSG_DATA(c), nfds * sizeof(int));
                        for (size_t i = 0; i < nfds; i++) {
                                if (passed_fd < 0 && nfds == 1)
                                        passed_fd = fds[i];
                                else
                                        (void) close(fds[i]);
                        }
                }
        }

        if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
                emit_error("journal datagram or its control data was truncated");
        else if (passed_fd >= 0) {
                if (n > 0)
                        emit_error("journal datagram with both data and an fd");
                else
                        parse_memfd(passed_fd, pid);
        } else if (n > 0)
                parse_native(data, (size_t) n, pid, false);
        if (passed_fd >= 0)
                (void) close(passed_fd);
        free(data);
        return true;
}

/* ---- stdout streams ---- */

typedef struct Stream {
        int fd;
        unsigned id;
        pid_t pid;
        unsigned header_lines;
        char *identifier;
        char *unit_id;
        int priority;
        bool level_prefix;
        Buf in;
} Stream;

static void stream_line(Stream *s, const char *line, size_t n) {
        char buf[16], pidbuf[16];
        int prio = s->priority;
        Buf b = {};

        if (s->level_prefix && n >= 3 && line[0] == '<') {
                size_t k = 1;
                int v = 0;

                while (k < n && k <= 3 && line[k] >= '0' && line[k] <= '9')
                        v = v * 10 + (line[k++] - '0');
                if (k > 1 && k < n && line[k] == '>') {
                        prio = v & 7;
                        line += k + 1;
                        n -= k + 1;
                }
        }

        buf_add(&b, "{", 1);
        json_member_str(&b, "transport", "stdout");
        (void) snprintf(buf, sizeof(buf), "%u", s->id);
        json_member_str(&b, "stream", buf);
        (void) snprintf(pidbuf, sizeof(pidbuf), "%d", (int) s->pid);
        json_member_str(&b, "pid", pidbuf);
        json_member_str(&b, "identifier", s->identifier);
        json_member_str(&b, "unit_id", s->unit_id);
        (void) snprintf(buf, sizeof(buf), "%d", prio);
        json_member_str(&b, "priority", buf);
        json_member(&b, "MESSAGE", line, n);
        emit(&b);
        free(b.s);
}

/* Takes one header line; returns false if the stream must be closed. The header is seven
 * lines: identifier, unit id, priority, level_prefix, forward_to_syslog, forward_to_kmsg,
 * forward_to_console. */
static bool stream_header_line(Stream *s, const char *line, size_t n) {
        char *copy = strndup(line, n), *end;
        long v = 0;

        if (!copy)
                die("out of memory");
        if (s->header_lines >= 2) {
                errno = 0;
                v = strtol(copy, &end, 10);
                if (errno != 0 || end == copy || *end != '\0' || v < 0 ||
                    (s->header_lines == 2 ? v > 7 : v > 1)) {
                        free(copy);
                        emit_error("stdout stream header with a bad number");
                        return false;
                }
        }
        switch (s->header_lines) {
        case 0:
                s->identifier = copy;
                copy = NULL;
                break;
        case 1:
                s->unit_id = copy;
                copy = NULL;
                break;
        case 2:
                s->priority = (int) v;
                break;
        case 3:
                s->level_prefix = v;
                break;
        default:
                break;
        }
        free(copy);
        s->header_lines++;
        return true;
}

/* Consumes complete lines from the input; at_eof flushes the rest. Returns false to close. */
static bool stream_process(Stream *s, bool at_eof) {
        for (;;) {
                char *nl = memchr(s->in.s, '\n', s->in.n);
                char *nul = memchr(s->in.s, '\0', s->in.n);
                size_t k;

                if (nul && (!nl || nul < nl))
                        nl = nul;

                if (s->header_lines < HEADER_LINES) {
                        if (!nl) {
                                if (s->in.n > HEADER_LINE_MAX) {
                                        emit_error("stdout stream header line too long");
                                        return false;
                                }
                                if (at_eof && s->in.n > 0)
                                        emit_error("stdout stream ended inside its header");
                                return !at_eof;
                        }
                        k = (size_t) (nl - s->in.s);
                        if (!stream_header_line(s, s->in.s, k))
                                return false;
                        buf_consume(&s->in, k + 1);
                        continue;
                }

                if (nl) {
                        k = (size_t) (nl - s->in.s);
                        stream_line(s, s->in.s, k);
                        buf_consume(&s->in, k + 1);
                } else if (s->in.n >= LINE_MAX_BYTES) {
                        stream_line(s, s->in.s, LINE_MAX_BYTES);
                        buf_consume(&s->in, LINE_MAX_BYTES);
                } else {
                        if (at_eof && s->in.n > 0) {
                                stream_line(s, s->in.s, s->in.n);
                                s->in.n = 0;
                        }
                        return !at_eof;
                }
        }
}

/* Reads what is queued on the stream; returns false once it is finished and must be freed. */
static bool stream_read(Stream *s) {
        char chunk[16384];

        for (;;) {
                ssize_t n = read(s->fd, chunk, sizeof(chunk));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return stream_process(s, false);
                if (n <= 0) {
                        (void) stream_process(s, true);
                        return false;
                }
                buf_add(&s->in, chunk, (size_t) n);
                if (!stream_process(s, false))
                        return false;
        }
}

static void stream_free(Stream *s) {
        (void) close(s->fd);
        free(s->identifier);
        free(s->unit_id);
        free(s->in.s);
        free(s);
}

/* ---- sockets and the loop ---- */

static int bind_socket(const char *dir, const char *name, int type) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd, one = 1, rcvbuf = RCVBUF;

        if ((size_t) snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, name) >= sizeof(sa.sun_path))
                die("socket path too long: %s/%s", dir, name);
        fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                die("socket: %m");
        (void) unlink(sa.sun_path);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                die("bind %s: %m", sa.sun_path);
        if (chmod(sa.sun_path, 0666) < 0)
                die("chmod %s: %m", sa.sun_path);
        if (type == SOCK_DGRAM) {
                if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
                        die("SO_PASSCRED: %m");
                if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
                        (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        } else if (listen(fd, 128) < 0)
                die("listen %s: %m", sa.sun_path);
        return fd;
}

static void announce_ready(const char *ready_file) {
        char tmp[4096];
        int fd;

        if (!ready_file) {
                if (printf("READY\n") < 0 || fflush(stdout) != 0)
                        die("cannot write to stdout");
                return;
        }
        if ((size_t) snprintf(tmp, sizeof(tmp), "%s.tmp", ready_file) >= sizeof(tmp))
                die("ready file path too long");
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, "READY\n", 6) != 6 || close(fd) < 0 || rename(tmp, ready_file) < 0)
                die("cannot create %s: %m", ready_file);
}

static void accept_streams(int listen_fd, Stream ***streams, size_t *n_streams, unsigned *next_id) {
        for (;;) {
                struct ucred uc = {};
                socklen_t len = sizeof(uc);
                Stream *s;
                int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

                if (fd < 0) {
                        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                                return;
                        die("accept: %m");
                }
                if (*n_streams >= STREAMS_MAX) {
                        emit_error("too many stdout streams");
                        (void) close(fd);
                        continue;
                }
                s = calloc(1, sizeof(Stream));
                if (!s)
                        die("out of memory");
                s->fd = fd;
                s->id = ++*next_id;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0)
                        s->pid = uc.pid;
                *streams = realloc(*streams, (*n_streams + 1) * sizeof(Stream *));
                if (!*streams)
                        die("out of memory");
                (*streams)[(*n_streams)++] = s;
        }
}

int main(int argc, char *argv[]) {
        Stream **streams = NULL;
        size_t n_streams = 0;
        unsigned next_id = 0;
        struct pollfd *pfd = NULL;
        bool stopping = false;
        int dgram_fd, stream_fd, sig_fd;
        sigset_t mask;

        if (argc < 3 || argc > 4)
                die("usage: journal-listener DIR OUTPUT [READY_FILE]");

        (void) signal(SIGPIPE, SIG_IGN);
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                die("sigprocmask: %m");
        sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sig_fd < 0)
                die("signalfd: %m");

        out_fd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (out_fd < 0)
                die("cannot open %s: %m", argv[2]);

        dgram_fd = bind_socket(argv[1], "socket", SOCK_DGRAM);
        stream_fd = bind_socket(argv[1], "stdout", SOCK_STREAM);
        announce_ready(argc == 4 ? argv[3] : NULL);

        while (!stopping) {
                size_t n_pfd = 3 + n_streams;

                pfd = realloc(pfd, n_pfd * sizeof(struct pollfd));
                if (!pfd)
                        die("out of memory");
                pfd[0] = (struct pollfd) { .fd = sig_fd, .events = POLLIN };
                pfd[1] = (struct pollfd) { .fd = dgram_fd, .events = POLLIN };
                pfd[2] = (struct pollfd) { .fd = stream_fd, .events = POLLIN };
                for (size_t i = 0; i < n_streams; i++)
                        pfd[3 + i] = (struct pollfd) { .fd = streams[i]->fd, .events = POLLIN };

                if (poll(pfd, n_pfd, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        die("poll: %m");
                }

                /* On a signal, everything already queued is still read, once. */
                if (pfd[0].revents)
                        stopping = true;
                if (pfd[1].revents || stopping)
                        while (receive_datagram(dgram_fd))
                                ;
                /* Streams accepted now are appended, so the first n_polled still line up with
                 * their pollfd entries; the new ones are read right away (non-blocking). */
                size_t n_polled = n_streams, kept = 0;

                if (pfd[2].revents || stopping)
                        accept_streams(stream_fd, &streams, &n_streams, &next_id);
                for (size_t i = 0; i < n_streams; i++) {
                        Stream *s = streams[i];
                        bool open = true;

                        if (i >= n_polled || pfd[3 + i].revents || stopping)
                                open = stream_read(s);
                        if (open && stopping) {
                                (void) stream_process(s, true);
                                open = false;
                        }
                        if (open)
                                streams[kept++] = s;
                        else
                                stream_free(s);
                }
                n_streams = kept;
        }

        for (size_t i = 0; i < n_streams; i++)
                stream_free(streams[i]);
        free(streams);
        free(pfd);
        (void) close(dgram_fd);
        (void) close(stream_fd);
        (void) close(sig_fd);
        (void) close(out_fd);
        return 0;
}
