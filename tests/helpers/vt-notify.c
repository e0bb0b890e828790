/* vt-notify: the integration scenarios' tool for systemd's notify protocol, on both ends. It
 * stands in for systemd (a listener that records what vigild sends), for a misbehaving sender
 * (raw datagrams of any shape), and for a real program written against libsystemd (a worker
 * that calls sd_notify() and pings only when sd_watchdog_enabled() says so). Files it writes
 * get one write() per line, so a reader never sees half a line. It is a test tool: it sleeps
 * with nanosleep() and trusts its peers no further than not crashing.
 *
 *   vt-notify listen SOCKET OUT
 *       Binds the datagram socket SOCKET (mode 0666), creates OUT.ready once bound, and appends
 *       "<CLOCK_MONOTONIC usec> <payload>" to OUT for every datagram: newlines are shown as
 *       '|', other control bytes and DEL as \xHH. Passed fds are closed. On SIGTERM or SIGINT
 *       it records what is already queued and exits 0.
 *   vt-notify send [--size N] [--empty] [--fds N] [--pid PID|parent] [PAYLOAD]
 *       Sends one datagram to $NOTIFY_SOCKET ("@name" for the abstract namespace). PAYLOAD may
 *       hold the C escapes \n \t \r \\ \0 and \xHH; --size N pads it with 'A' up to N bytes
 *       (N 'A's without a PAYLOAD); --empty sends zero bytes; --fds N attaches N pipe ends;
 *       --pid sends credentials naming PID or our parent (root only, as systemd-notify --pid
 *       does, so that the receiver does not race against our exit).
 *       Exits 0 if sendmsg() succeeded, 1 if not, 2 on a usage error.
 *   vt-notify worker [--stamp FILE] [--ready-after MS] [--no-ready] [--pings N]
 *       Appends "start PID INSTANCE MONOTONIC_USEC" to FILE (as vt-worker does), waits MS,
 *       appends "ready PID MONOTONIC_USEC" and sends READY=1 with STATUS=serving (unless
 *       --no-ready). Then, only if sd_watchdog_enabled() says so, sends WATCHDOG=1 every
 *       third of the interval (only N times with --pings N), appending "ping PID SEQ
 *       MONOTONIC_USEC" before each. Writes "watchdog usec=USEC" or "watchdog off" to stderr
 *       once. Runs until a signal ends it. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "helper-util.h"

#define DATAGRAM_MAX (128U * 1024U)    /* what the listener reads of one datagram */
#define FDS_MAX 253U                   /* the kernel's SCM_MAX_FD */
#define PAYLOAD_MAX (1024U * 1024U)
#define RCVBUF (8 * 1024 * 1024)

static void write_all(int fd, const char *buf, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, buf, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        die("write: %m");
                buf += n;
                len -= (size_t) n;
        }
}

/* Fills sa from a NOTIFY_SOCKET-style address: a path, or "@name" in the abstract namespace. */
static socklen_t socket_address(const char *addr, struct sockaddr_un *sa) {
        size_t len = strlen(addr);

        *sa = (struct sockaddr_un) { .sun_family = AF_UNIX };
        if (len == 0 || len >= sizeof(sa->sun_path))
                die("invalid socket address '%s'", addr);
        memcpy(sa->sun_path, addr, len);
        if (addr[0] == '@') {
                sa->sun_path[0] = '\0';
                return (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len);
        }
        return (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len + 1);
}

/* ---- listen ---------------------------------------------------------------------------- */

static void close_passed_fds(struct msghdr *mh) {
        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
                        int fd;

                        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                        (void) close(fd);
                }
        }
}

/* Receives one datagram and appends its line to out_fd. Returns false when none is queued. */
static bool listen_one(int sock, int out_fd, char *data, char *line) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * FDS_MAX)];
        } control;
        struct iovec iov = { .iov_base = data, .iov_len = DATAGRAM_MAX };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof(control),
        };
        unsigned long long t;
        ssize_t n;
        size_t len;

        n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return false;
                die("recvmsg: %m");
        }
        t = now_usec();
        close_passed_fds(&mh);

        len = (size_t) snprintf(line, 32, "%llu ", t);
        for (ssize_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) data[i];

                if (c == '\n')
                        line[len++] = '|';
                else if (c < 0x20 || c == 0x7f)
                        len += (size_t) sprintf(line + len, "\\x%02x", c);
                else
                        line[len++] = (char) c;
        }
        line[len++] = '\n';
        write_all(out_fd, line, len);
        return true;
}

static int do_listen(int argc, char *argv[]) {
        struct sockaddr_un sa;
        struct pollfd p[2];
        char *ready, *data, *line;
        int sock, out_fd, sig_fd, fd, size = RCVBUF;
        socklen_t salen;
        sigset_t mask;

        if (argc != 3)
                die("usage: vt-notify listen SOCKET OUT");
        salen = socket_address(argv[1], &sa);

        /* Signals first, so that a SIGTERM right after OUT.ready appears is not fatal. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                die("sigprocmask: %m");
        sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
        if (sig_fd < 0)
                die("signalfd: %m");

        data = malloc(DATAGRAM_MAX);
        line = malloc(32 + 4 * DATAGRAM_MAX + 2);
        if (!data || !line)
                die("out of memory");
        out_fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out_fd < 0)
                die("cannot open %s: %m", argv[2]);

        sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (sock < 0)
                die("socket: %m");
        if (setsockopt(sock, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
                (void) setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        if (argv[1][0] != '@' && unlink(argv[1]) < 0 && errno != ENOENT)
                die("cannot remove %s: %m", argv[1]);
        if (bind(sock, (struct sockaddr *) &sa, salen) < 0)
                die("cannot bind %s: %m", argv[1]);
        if (argv[1][0] != '@' && chmod(argv[1], 0666) < 0)
                die("cannot chmod %s: %m", argv[1]);

        if (asprintf(&ready, "%s.ready", argv[2]) < 0)
                die("out of memory");
        fd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                die("cannot create %s: %m", ready);
        (void) close(fd);

        p[0] = (struct pollfd) { .fd = sock, .events = POLLIN };
        p[1] = (struct pollfd) { .fd = sig_fd, .events = POLLIN };
        for (;;) {
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        die("poll: %m");
                }
                if (p[0].revents)
                        while (listen_one(sock, out_fd, data, line))
                                ;
                if (p[1].revents) {
                        /* Whatever was sent before the signal is recorded too. */
                        while (listen_one(sock, out_fd, data, line))
                                ;
                        return 0;
                }
        }
}

/* ---- send ------------------------------------------------------------------------------ */

static int hex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Decodes the C escapes of s into buf (as long as s); returns the number of bytes. */
static size_t unescape(const char *s, char *buf) {
        size_t n = 0;

        while (*s) {
                if (*s != '\\') {
                        buf[n++] = *s++;
                        continue;
                }
                s++;
                switch (*s) {
                case 'n':
                        buf[n++] = '\n';
                        s++;
                        break;
                case 't':
                        buf[n++] = '\t';
                        s++;
                        break;
                case 'r':
                        buf[n++] = '\r';
                        s++;
                        break;
                case '0':
                        buf[n++] = '\0';
                        s++;
                        break;
                case '\\':
                        buf[n++] = '\\';
                        s++;
                        break;
                case 'x': {
                        int hi = hex_digit(s[1]), lo = hi >= 0 ? hex_digit(s[2]) : -1;

                        if (hi < 0)
                                die("invalid \\x escape");
                        if (lo < 0) {
                                buf[n++] = (char) hi;
                                s += 2;
                        } else {
                                buf[n++] = (char) (hi * 16 + lo);
                                s += 3;
                        }
                        break;
                }
                default:
                        die("unknown escape '\\%c'", *s ? *s : '0');
                }
        }
        return n;
}

static int do_send(int argc, char *argv[]) {
        enum { ARG_SIZE = 0x100, ARG_EMPTY, ARG_FDS, ARG_PID };
        static const struct option options[] = {
                { "size", required_argument, NULL, ARG_SIZE },
                { "empty", no_argument, NULL, ARG_EMPTY },
                { "fds", required_argument, NULL, ARG_FDS },
                { "pid", required_argument, NULL, ARG_PID },
                {}
        };
        long size = -1, n_fds = 0, pid = 0;
        bool empty = false;
        const char *addr;
        struct sockaddr_un sa;
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * FDS_MAX)];
        } control;
        int fds[FDS_MAX + 1];
        struct iovec iov;
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        char *buf;
        size_t len = 0;
        int c, sock;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case ARG_SIZE:
                        size = parse_long(optarg, 0, PAYLOAD_MAX, "size");
                        break;
                case ARG_EMPTY:
                        empty = true;
                        break;
                case ARG_FDS:
                        n_fds = parse_long(optarg, 0, FDS_MAX, "number of fds");
                        break;
                case ARG_PID:
                        if (strcmp(optarg, "parent") == 0)
                                pid = (long) getppid();
                        else
                                pid = parse_long(optarg, 1, INT32_MAX, "pid");
                        break;
                default:
                        exit(2);
                }
        if (argc - optind > 1)
                die("unexpected argument '%s'", argv[optind + 1]);
        if (empty && (size >= 0 || optind < argc))
                die("--empty takes no payload");
        if (!empty && size < 0 && optind == argc)
                die("usage: vt-notify send [--size N] [--empty] [--fds N] [--pid PID|parent] [PAYLOAD]");

        buf = malloc(PAYLOAD_MAX + 1);
        if (!buf)
                die("out of memory");
        if (optind < argc) {
                if (strlen(argv[optind]) > PAYLOAD_MAX)
                        die("payload too long");
                len = unescape(argv[optind], buf);
        }
        if (size >= 0) {
                if ((size_t) size < len)
                        die("--size %ld is shorter than the payload (%zu bytes)", size, len);
                memset(buf + len, 'A', (size_t) size - len);
                len = (size_t) size;
        }

        addr = getenv("NOTIFY_SOCKET");
        if (!addr)
                die("NOTIFY_SOCKET is not set");
        mh.msg_name = &sa;
        mh.msg_namelen = socket_address(addr, &sa);
        iov = (struct iovec) { .iov_base = buf, .iov_len = len };

        for (long i = 0; i < n_fds; i += 2)
                if (pipe2(fds + i, O_CLOEXEC) < 0)
                        die("pipe2: %m");
        if (n_fds > 0 || pid > 0) {
                struct cmsghdr *cm;

                memset(&control, 0, sizeof(control));
                mh.msg_control = &control;
                mh.msg_controllen = (pid > 0 ? CMSG_SPACE(sizeof(struct ucred)) : 0) +
                                    (n_fds > 0 ? CMSG_SPACE(sizeof(int) * (size_t) n_fds) : 0);
                cm = CMSG_FIRSTHDR(&mh);
                if (pid > 0) {
                        struct ucred cred = { .pid = (pid_t) pid, .uid = getuid(), .gid = getgid() };

                        cm->cmsg_level = SOL_SOCKET;
                        cm->cmsg_type = SCM_CREDENTIALS;
                        cm->cmsg_len = CMSG_LEN(sizeof(cred));
                        memcpy(CMSG_DATA(cm), &cred, sizeof(cred));
                        cm = CMSG_NXTHDR(&mh, cm);
                }
                if (n_fds > 0) {
                        cm->cmsg_level = SOL_SOCKET;
                        cm->cmsg_type = SCM_RIGHTS;
                        cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t) n_fds);
                        memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t) n_fds);
                }
        }

        sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (sock < 0)
                die("socket: %m");
        if (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0) {
                fprintf(stderr, "vt-notify: sendmsg to %s: %m\n", addr);
                return 1;
        }
        return 0;
}

/* ---- worker ---------------------------------------------------------------------------- */

static int do_worker(int argc, char *argv[]) {
        enum { ARG_STAMP = 0x100, ARG_READY_AFTER, ARG_NO_READY, ARG_PINGS };
        static const struct option options[] = {
                { "stamp", required_argument, NULL, ARG_STAMP },
                { "ready-after", required_argument, NULL, ARG_READY_AFTER },
                { "no-ready", no_argument, NULL, ARG_NO_READY },
                { "pings", required_argument, NULL, ARG_PINGS },
                {}
        };
        const char *stamp = NULL, *instance = getenv("VIGIL_INSTANCE");
        long ready_after = 0, pings = -1;
        bool ready = true;
        uint64_t usec = 0;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case ARG_STAMP:
                        stamp = optarg;
                        break;
                case ARG_READY_AFTER:
                        ready_after = parse_long(optarg, 0, 24L * 3600 * 1000, "duration");
                        break;
                case ARG_NO_READY:
                        ready = false;
                        break;
                case ARG_PINGS:
                        pings = parse_long(optarg, 0, INT32_MAX, "number of pings");
                        break;
                default:
                        exit(2);
                }
        if (optind < argc)
                die("unexpected argument '%s'", argv[optind]);

        if (stamp)
                append_line(stamp, "start %d %s %llu\n", (int) getpid(), instance ? instance : "-",
                            now_usec());
        delay_ms((unsigned long long) ready_after);

        if (ready) {
                /* Stamped first: the READY=1 cannot have been sent earlier than this line says. */
                if (stamp)
                        append_line(stamp, "ready %d %llu\n", (int) getpid(), now_usec());
                r = sd_notify(0, "READY=1\nSTATUS=serving");
                if (r <= 0)
                        fprintf(stderr, "vt-notify: sd_notify(READY=1): %s\n",
                                r < 0 ? strerror(-r) : "NOTIFY_SOCKET is not set");
        }

        r = sd_watchdog_enabled(0, &usec);
        if (r < 0)
                fprintf(stderr, "vt-notify: sd_watchdog_enabled: %s\n", strerror(-r));
        if (r > 0)
                fprintf(stderr, "watchdog usec=%llu\n", (unsigned long long) usec);
        else
                fprintf(stderr, "watchdog off\n");

        for (long seq = 1; r > 0 && (pings < 0 || seq <= pings); seq++) {
                delay_ms(usec / 3000);
                if (stamp)
                        append_line(stamp, "ping %d %ld %llu\n", (int) getpid(), seq, now_usec());
                if (sd_notify(0, "WATCHDOG=1") <= 0)
                        fprintf(stderr, "vt-notify: sd_notify(WATCHDOG=1) failed\n");
        }
        for (;;)
                pause();
}

int main(int argc, char *argv[]) {
        if (argc >= 2 && strcmp(argv[1], "listen") == 0)
                return do_listen(argc - 1, argv + 1);
        if (argc >= 2 && strcmp(argv[1], "send") == 0)
                return do_send(argc - 1, argv + 1);
        if (argc >= 2 && strcmp(argv[1], "worker") == 0)
                return do_worker(argc - 1, argv + 1);
        die("usage: vt-notify listen SOCKET OUT | send [OPTIONS] [PAYLOAD] | worker [OPTIONS]");
}
