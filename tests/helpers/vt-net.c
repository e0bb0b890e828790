/* vt-net: the far end of the tcp and http probe scenarios, on loopback only. Each server
 * writes its state to a file (atomically, by rename) after every change, so a scenario waits
 * for the file rather than for time; signals are read through a signalfd in the poll loop.
 * It is a test tool: it trusts its peers no further than not crashing, and serves one
 * connection at a time.
 *
 *   vt-net tcp-listen [--host ADDR] [--backlog N] STATE
 *       Listens on ADDR (127.0.0.1, or ::1) on a free port with a backlog of N (default 16),
 *       accepts connections and closes them at once. SIGUSR1 closes the listening socket
 *       (connects are refused), SIGUSR2 listens again on the same port. STATE says
 *       "listening PORT" or "closed PORT".
 *   vt-net tcp-fill ADDR PORT READY
 *       Connects to ADDR:PORT again and again, holding every connection, until one does not
 *       complete within 500 ms: the listener's accept queue is full (it has stopped accepting)
 *       and its kernel now drops new connection requests. Then creates READY and holds the
 *       connections until SIGTERM. Gives up (exit 2) after 64 connections.
 *   vt-net http-serve STATE
 *       Serves HTTP/1.0 on 127.0.0.1 on a free port: "200 OK" with the body "vigil ok\n", or
 *       "500 Internal Server Error" once SIGUSR1 toggled it (and 200 again at the next).
 *       STATE says "200 PORT" or "500 PORT". */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helper-util.h"

#define FILL_MAX 64
#define FILL_WAIT_MS 500
#define REQUEST_WAIT_MS 2000

typedef union Address {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
} Address;

static socklen_t address_parse(const char *host, unsigned port, Address *ret) {
        *ret = (Address) {};
        if (inet_pton(AF_INET, host, &ret->in.sin_addr) == 1) {
                ret->in.sin_family = AF_INET;
                ret->in.sin_port = htons((uint16_t) port);
                return sizeof ret->in;
        }
        if (inet_pton(AF_INET6, host, &ret->in6.sin6_addr) == 1) {
                ret->in6.sin6_family = AF_INET6;
                ret->in6.sin6_port = htons((uint16_t) port);
                return sizeof ret->in6;
        }
        die("not a numeric address: %s", host);
}

/* Writes one line to path through a temporary file and rename(), so readers see all or none. */
static void state_write(const char *path, const char *fmt, ...) __attribute__((__format__(printf, 2, 3)));
static void state_write(const char *path, const char *fmt, ...) {
        char tmp[4096];
        va_list ap;
        FILE *f;

        (void) snprintf(tmp, sizeof tmp, "%s.tmp", path);
        f = fopen(tmp, "we");
        if (!f)
                die("%s: %m", tmp);
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        if (fclose(f) != 0 || rename(tmp, path) < 0)
                die("%s: %m", path);
}

/* A listening socket on host:port (port 0: a free one, returned in *ret_port). */
static int listen_on(const char *host, unsigned *port, int backlog) {
        Address a;
        socklen_t len = address_parse(host, *port, &a);
        int fd, one = 1;

        fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                die("socket: %m");
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
                die("SO_REUSEADDR: %m");
        if (bind(fd, &a.sa, len) < 0)
                die("bind %s:%u: %m", host, *port);
        if (listen(fd, backlog) < 0)
                die("listen: %m");
        if (getsockname(fd, &a.sa, &len) < 0)
                die("getsockname: %m");
        *port = ntohs(a.sa.sa_family == AF_INET6 ? a.in6.sin6_port : a.in.sin_port);
        return fd;
}

/* SIGTERM, SIGINT, SIGUSR1, SIGUSR2 through a descriptor. */
static int signals_fd(void) {
        sigset_t mask;
        int fd;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGUSR1);
        sigaddset(&mask, SIGUSR2);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                die("sigprocmask: %m");
        fd = signalfd(-1, &mask, SFD_CLOEXEC);
        if (fd < 0)
                die("signalfd: %m");
        return fd;
}

static int signal_read(int fd) {
        struct signalfd_siginfo si;

        if (read(fd, &si, sizeof si) != (ssize_t) sizeof si)
                die("signalfd read: %m");
        return (int) si.ssi_signo;
}

static int tcp_listen(int argc, char **argv) {
        const char *host = "127.0.0.1", *state;
        int backlog = 16, sfd, lfd, c;
        unsigned port = 0;

        for (; argc > 2 && strncmp(argv[0], "--", 2) == 0; argc -= 2, argv += 2)
                if (strcmp(argv[0], "--host") == 0)
                        host = argv[1];
                else if (strcmp(argv[0], "--backlog") == 0)
                        backlog = (int) parse_long(argv[1], 1, 4096, "backlog");
                else
                        die("unknown option %s", argv[0]);
        if (argc != 1)
                die("usage: vt-net tcp-listen [--host ADDR] [--backlog N] STATE");
        state = argv[0];

        sfd = signals_fd();
        lfd = listen_on(host, &port, backlog);
        state_write(state, "listening %u\n", port);
        for (;;) {
                struct pollfd p[2] = { { .fd = sfd, .events = POLLIN }, { .fd = lfd, .events = POLLIN } };

                if (poll(p, lfd >= 0 ? 2 : 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        die("poll: %m");
                }
                if (p[0].revents & POLLIN)
                        switch (signal_read(sfd)) {
                        case SIGUSR1:
                                if (lfd >= 0)
                                        close(lfd);
                                lfd = -1;
                                state_write(state, "closed %u\n", port);
                                continue;
                        case SIGUSR2:
                                if (lfd < 0)
                                        lfd = listen_on(host, &port, backlog);
                                state_write(state, "listening %u\n", port);
                                continue;
                        default:
                                return 0;
                        }
                if (lfd >= 0 && (p[1].revents & POLLIN)) {
                        c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                        if (c >= 0)
                                close(c);
                }
        }
}

static int tcp_fill(int argc, char **argv) {
        unsigned port;
        int fds[FILL_MAX], sfd, n;
        Address a;
        socklen_t len;

        if (argc != 3)
                die("usage: vt-net tcp-fill ADDR PORT READY");
        port = (unsigned) parse_long(argv[1], 1, 65535, "port");
        len = address_parse(argv[0], port, &a);
        sfd = signals_fd();

        for (n = 0; n < FILL_MAX; n++) {
                struct pollfd p;

                fds[n] = socket(a.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fds[n] < 0)
                        die("socket: %m");
                if (connect(fds[n], &a.sa, len) == 0)
                        continue;
                if (errno != EINPROGRESS)
                        die("connect %s:%u: %m", argv[0], port);
                p = (struct pollfd) { .fd = fds[n], .events = POLLOUT };
                if (poll(&p, 1, FILL_WAIT_MS) < 0)
                        die("poll: %m");
                if (p.revents == 0)
                        break;   /* no SYN-ACK: the queue is full */
        }
        if (n == FILL_MAX)
                die("%d connections to %s:%u all completed: is the listener still accepting?", FILL_MAX, argv[0],
                    port);
        state_write(argv[2], "full after %d connections\n", n);
        for (;;)
                if (signal_read(sfd) != SIGUSR1)
                        return 0;
}

static void serve_one(int c, bool failing) {
        static const char ok[] = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nvigil ok\n";
        static const char bad[] = "HTTP/1.0 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
                                  "Content-Length: 6\r\n\r\nbroken";
        const char *r = failing ? bad : ok;
        char req[8192];
        size_t got = 0;

        /* Up to the blank line that ends the request's head, or until the client goes quiet. */
        while (got < sizeof req - 1) {
                struct pollfd p = { .fd = c, .events = POLLIN };
                ssize_t k;

                if (poll(&p, 1, REQUEST_WAIT_MS) <= 0)
                        return;
                k = read(c, req + got, sizeof req - 1 - got);
                if (k <= 0)
                        return;
                got += (size_t) k;
                req[got] = 0;
                if (strstr(req, "\r\n\r\n"))
                        break;
        }
        (void) send(c, r, strlen(r), MSG_NOSIGNAL);
}

static int http_serve(int argc, char **argv) {
        bool failing = false;
        unsigned port = 0;
        int sfd, lfd, c;

        if (argc != 1)
                die("usage: vt-net http-serve STATE");
        sfd = signals_fd();
        lfd = listen_on("127.0.0.1", &port, 16);
        state_write(argv[0], "200 %u\n", port);
        for (;;) {
                struct pollfd p[2] = { { .fd = sfd, .events = POLLIN }, { .fd = lfd, .events = POLLIN } };

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        die("poll: %m");
                }
                if (p[0].revents & POLLIN) {
                        if (signal_read(sfd) != SIGUSR1)
                                return 0;
                        failing = !failing;
                        state_write(argv[0], "%d %u\n", failing ? 500 : 200, port);
                        continue;
                }
                c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0)
                        continue;
                serve_one(c, failing);
                close(c);
        }
}

int main(int argc, char **argv) {
        if (argc >= 2 && strcmp(argv[1], "tcp-listen") == 0)
                return tcp_listen(argc - 2, argv + 2);
        if (argc >= 2 && strcmp(argv[1], "tcp-fill") == 0)
                return tcp_fill(argc - 2, argv + 2);
        if (argc >= 2 && strcmp(argv[1], "http-serve") == 0)
                return http_serve(argc - 2, argv + 2);
        die("usage: vt-net tcp-listen|tcp-fill|http-serve ...");
}
