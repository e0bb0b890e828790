/* Tests for supervisor/notify.c. The parser is tested as a pure function: each key, several
 * in one datagram, STATUS cleaning and cutting, binary and malformed input rejected as a
 * whole. The socket is tested live, with a real sd_event loop and datagrams sent from this
 * process: credentials reach the handler, bad datagrams and handler verdicts are counted, every
 * passed fd is closed, floods lose nothing and are read in bounded batches, and Debian's real
 * `systemd-notify --ready` (as root and as an unprivileged user) gets its barrier answered.
 * Each live test runs in its own temporary directory and must leave the fd count unchanged. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test-util.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "notify.h"
#include "time-util.h"

#define SYSTEMD_NOTIFY "/usr/bin/systemd-notify"
#define FLOOD_COUNT 1000U

/* ---- helpers ---- */

typedef struct Received {
        NotifyMessage msg;
        pid_t pid;
        uid_t uid;
        gid_t gid;
} Received;

/* What the handler saw, and what it answers. */
typedef struct Collector {
        Received *items;
        size_t n, n_alloc;
        int verdict;
} Collector;

static int collect(const NotifyMessage *msg, pid_t pid, uid_t uid, gid_t gid, void *userdata) {
        Collector *c = userdata;

        if (c->n == c->n_alloc) {
                size_t n_alloc = c->n_alloc ? c->n_alloc * 2 : 16;
                Received *items = realloc(c->items, n_alloc * sizeof(Received));

                if (!items)
                        abort();
                c->items = items;
                c->n_alloc = n_alloc;
        }
        c->items[c->n++] = (Received) { .msg = *msg, .pid = pid, .uid = uid, .gid = gid };
        return c->verdict;
}

typedef struct TestState {
        unsigned n_fds;
        char dir[64];
        char path[128];
        sd_event *event;
        NotifySocket *sock;
        int sender;
        Collector got;
} TestState;

static int test_setup(void **state) {
        TestState *t;

        t = calloc(1, sizeof(TestState));
        if (!t)
                return -1;
        t->n_fds = count_fds();
        t->sender = -EBADF;
        (void) snprintf(t->dir, sizeof t->dir, "/tmp/vigil-test-notify-XXXXXX");
        if (!mkdtemp(t->dir)) {
                free(t);
                return -1;
        }
        (void) snprintf(t->path, sizeof t->path, "%s/notify.sock", t->dir);
        *state = t;

        if (sd_event_new(&t->event) < 0)
                return -1;
        if (notify_socket_new(t->event, t->path, collect, &t->got, &t->sock) < 0)
                return -1;
        /* Non-blocking, so that a full receive queue (net.unix.max_dgram_qlen) shows up as
         * EAGAIN instead of hanging the test. */
        t->sender = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (t->sender < 0)
                return -1;
        return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

static int test_teardown(void **state) {
        TestState *t = *state;
        unsigned n_fds;
        int r = 0;

        t->sock = notify_socket_free(t->sock);
        if (access(t->path, F_OK) == 0) {
                print_error("socket file %s left behind\n", t->path);
                r = -1;
        }
        t->event = sd_event_unref(t->event);
        t->sender = safe_close(t->sender);
        free(t->got.items);
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
        (void) nftw(t->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);

        n_fds = count_fds();
        if (n_fds != t->n_fds) {
                print_error("fd count changed: %u before, %u after\n", t->n_fds, n_fds);
                r = -1;
        }
        free(t);
        return r;
}

/* Sends one datagram to path, with fds (SCM_RIGHTS) and, if asked, our own credentials spelled
 * out (SCM_CREDENTIALS); without them the kernel attaches them itself, since the receiver has
 * SO_PASSCRED. Returns sendmsg()'s result, -errno on failure. */
static ssize_t send_datagram(int sock, const char *path, const void *data, size_t len, const int *fds,
                             size_t n_fds, bool explicit_creds) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        union {
                struct cmsghdr align;
                uint8_t buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 8)];
        } control = {};
        struct iovec iov = { .iov_base = (void *) data, .iov_len = len };
        struct msghdr mh = {
                .msg_name = &sa,
                .msg_namelen = sizeof(sa),
                .msg_iov = &iov,
                .msg_iovlen = 1,
        };
        struct cmsghdr *c;
        size_t controllen = 0;
        ssize_t n;

        assert_true(n_fds <= 8);
        assert_true(strlen(path) < sizeof(sa.sun_path));
        strcpy(sa.sun_path, path);

        if (n_fds > 0 || explicit_creds) {
                mh.msg_control = &control;
                mh.msg_controllen = sizeof(control);
                c = CMSG_FIRSTHDR(&mh);
                if (explicit_creds) {
                        struct ucred cred = { .pid = getpid(), .uid = getuid(), .gid = getgid() };

                        c->cmsg_level = SOL_SOCKET;
                        c->cmsg_type = SCM_CREDENTIALS;
                        c->cmsg_len = CMSG_LEN(sizeof(cred));
                        memcpy(CMSG_DATA(c), &cred, sizeof(cred));
                        controllen += CMSG_SPACE(sizeof(cred));
                        c = CMSG_NXTHDR(&mh, c);
                }
                if (n_fds > 0) {
                        c->cmsg_level = SOL_SOCKET;
                        c->cmsg_type = SCM_RIGHTS;
                        c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                        memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
                        controllen += CMSG_SPACE(sizeof(int) * n_fds);
                }
                mh.msg_controllen = controllen;
        }
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        return n < 0 ? -errno : n;
}

static void send_ok(TestState *t, const void *data, size_t len) {
        assert_int_equal(send_datagram(t->sender, t->path, data, len, NULL, 0, false), (ssize_t) len);
}

static void send_str(TestState *t, const char *s) {
        send_ok(t, s, strlen(s));
}

/* Runs the loop until nothing is pending; returns the number of dispatches. */
static unsigned dispatch_all(TestState *t) {
        unsigned n = 0;
        int r;

        while ((r = sd_event_run(t->event, 0)) > 0)
                n++;
        assert_true(r >= 0);
        return n;
}

static uint64_t dropped(TestState *t, NotifyDrop d) {
        return notify_socket_dropped(t->sock, d);
}

static uint64_t dropped_total(TestState *t) {
        uint64_t n = 0;

        for (NotifyDrop d = 0; d < _NOTIFY_DROP_MAX; d++)
                n += dropped(t, d);
        return n;
}

static NotifyMessage parse_ok(const char *s) {
        NotifyMessage m;
        NotifyDrop reason = _NOTIFY_DROP_INVALID;

        assert_int_equal(notify_parse(s, strlen(s), &m, &reason), 0);
        assert_int_equal(reason, _NOTIFY_DROP_INVALID);
        return m;
}

/* Checks that data is refused for the given reason and that ret is left untouched. */
static void parse_fails(const char *data, size_t len, NotifyDrop expected) {
        NotifyMessage m, pristine;
        NotifyDrop reason = _NOTIFY_DROP_INVALID;

        memset(&m, 0xa5, sizeof(m));
        pristine = m;
        assert_int_equal(notify_parse(data, len, &m, &reason), -EBADMSG);
        assert_int_equal(reason, expected);
        assert_memory_equal(&m, &pristine, sizeof(m));
}

#define PARSE_FAILS(lit, expected) parse_fails((lit), sizeof(lit) - 1, (expected))

/* ---- parser ---- */

static void test_parse_each_key(void **state) {
        NotifyMessage m;

        m = parse_ok("READY=1");
        assert_true(m.ready);
        assert_false(m.stopping || m.reloading || m.watchdog || m.barrier || m.has_status);

        assert_true(parse_ok("STOPPING=1").stopping);
        assert_true(parse_ok("RELOADING=1").reloading);

        m = parse_ok("WATCHDOG=1");
        assert_true(m.watchdog);
        assert_false(m.watchdog_trigger);
        m = parse_ok("WATCHDOG=trigger");
        assert_true(m.watchdog_trigger);
        assert_false(m.watchdog);

        assert_true(parse_ok("BARRIER=1").barrier);

        m = parse_ok("STATUS=Serving 12 clients");
        assert_true(m.has_status);
        assert_string_equal(m.status, "Serving 12 clients");
        m = parse_ok("STATUS=");
        assert_true(m.has_status);
        assert_string_equal(m.status, "");

        m = parse_ok("ERRNO=110");
        assert_true(m.has_errno);
        assert_int_equal(m.errno_value, 110);
        assert_int_equal(parse_ok("ERRNO=0").errno_value, 0);
        assert_int_equal(parse_ok("ERRNO=4095").errno_value, 4095);

        m = parse_ok("WATCHDOG_USEC=5000000");
        assert_true(m.has_watchdog_usec);
        assert_int_equal(m.watchdog_usec, 5 * USEC_PER_SEC);

        m = parse_ok("MAINPID=4242");
        assert_true(m.has_mainpid);
        assert_int_equal(m.mainpid, 4242);
}

static void test_parse_vigil_progress_and_queue(void **state) {
        NotifyMessage m;

        m = parse_ok("X_VIGIL_PROGRESS=1234");
        assert_true(m.has_progress);
        assert_int_equal(m.progress, 1234);
        assert_false(m.has_queue);

        m = parse_ok("X_VIGIL_QUEUE=0");
        assert_true(m.has_queue);
        assert_int_equal(m.queue, 0);
        assert_false(m.has_progress);

        /* The whole u64 range: a counter may have been running for years. */
        m = parse_ok("WATCHDOG=1\nX_VIGIL_PROGRESS=18446744073709551615\nX_VIGIL_QUEUE=7");
        assert_true(m.watchdog);
        assert_true(m.progress == UINT64_MAX);
        assert_int_equal(m.queue, 7);

        /* Neither is set by a message that does not carry it. */
        m = parse_ok("READY=1");
        assert_false(m.has_progress || m.has_queue);

        /* Other X_ variables are still somebody else's. */
        assert_false(parse_ok("X_VIGIL_OTHER=abc").has_progress);
}

static void test_parse_multiple_keys_in_one_datagram(void **state) {
        NotifyMessage m = parse_ok("READY=1\nSTATUS=Running\nMAINPID=7\nWATCHDOG=1\nWATCHDOG_USEC=250000");

        assert_true(m.ready);
        assert_true(m.watchdog);
        assert_string_equal(m.status, "Running");
        assert_int_equal(m.mainpid, 7);
        assert_int_equal(m.watchdog_usec, 250000);
        assert_false(m.stopping || m.barrier || m.has_errno);
}

static void test_parse_trailing_newline_and_empty_lines(void **state) {
        NotifyMessage m;

        m = parse_ok("READY=1\n");
        assert_true(m.ready);
        m = parse_ok("\n\nSTATUS=a\n\n\nSTOPPING=1\n\n");
        assert_string_equal(m.status, "a");
        assert_true(m.stopping);
}

static void test_parse_later_assignment_wins(void **state) {
        assert_string_equal(parse_ok("STATUS=first\nSTATUS=second").status, "second");
}

static void test_parse_status_control_characters_replaced(void **state) {
        /* Tab, ESC, DEL and a C1 control (U+0085, two bytes) each become one '?'. */
        NotifyMessage m = parse_ok("STATUS=a\tb\x1b[31mc\x7f" "d\xc2\x85" "e \xc3\xa9t\xc3\xa9");

        assert_string_equal(m.status, "a?b?[31mc?d?e \xc3\xa9t\xc3\xa9");
}

static void test_parse_status_cut_at_utf8_boundary(void **state) {
        char buf[8 + 2 * NOTIFY_STATUS_MAX];
        NotifyMessage m;

        /* 253 ASCII bytes and a 2-byte character fill exactly NOTIFY_STATUS_MAX - 1 bytes. */
        memcpy(buf, "STATUS=", 7);
        memset(buf + 7, 'a', NOTIFY_STATUS_MAX - 3);
        memcpy(buf + 7 + NOTIFY_STATUS_MAX - 3, "\xc3\xa9", 3);
        m = parse_ok(buf);
        assert_int_equal(strlen(m.status), NOTIFY_STATUS_MAX - 1);
        assert_memory_equal(m.status + NOTIFY_STATUS_MAX - 3, "\xc3\xa9", 2);

        /* One more ASCII byte: the character no longer fits and goes whole. */
        memset(buf + 7, 'a', NOTIFY_STATUS_MAX - 2);
        memcpy(buf + 7 + NOTIFY_STATUS_MAX - 2, "\xc3\xa9", 3);
        m = parse_ok(buf);
        assert_int_equal(strlen(m.status), NOTIFY_STATUS_MAX - 2);
        assert_int_equal(m.status[NOTIFY_STATUS_MAX - 3], 'a');

        /* A 4-byte character straddling the limit goes whole too. */
        memset(buf + 7, 'b', NOTIFY_STATUS_MAX - 4);
        memcpy(buf + 7 + NOTIFY_STATUS_MAX - 4, "\xf0\x9f\x98\x80", 5);
        m = parse_ok(buf);
        assert_int_equal(strlen(m.status), NOTIFY_STATUS_MAX - 4);

        /* Far too long plain text is cut at the limit. */
        memset(buf + 7, 'x', sizeof(buf) - 8);
        buf[sizeof(buf) - 1] = '\0';
        m = parse_ok(buf);
        assert_int_equal(strlen(m.status), NOTIFY_STATUS_MAX - 1);
}

static void test_parse_nul_byte_is_binary(void **state) {
        PARSE_FAILS("READY=1\0", NOTIFY_DROP_BINARY);
        PARSE_FAILS("\0READY=1", NOTIFY_DROP_BINARY);
        PARSE_FAILS("STATUS=a\0b\nREADY=1", NOTIFY_DROP_BINARY);
}

static void test_parse_invalid_utf8_is_binary(void **state) {
        PARSE_FAILS("STATUS=\xff", NOTIFY_DROP_BINARY);
        PARSE_FAILS("READY=1\nSTATUS=\x80", NOTIFY_DROP_BINARY);       /* lone continuation */
        PARSE_FAILS("STATUS=\xc0\xaf", NOTIFY_DROP_BINARY);            /* overlong '/' */
        PARSE_FAILS("STATUS=\xe0\x80\xaf", NOTIFY_DROP_BINARY);        /* overlong, 3 bytes */
        PARSE_FAILS("STATUS=\xed\xa0\x80", NOTIFY_DROP_BINARY);        /* surrogate */
        PARSE_FAILS("STATUS=\xf4\x90\x80\x80", NOTIFY_DROP_BINARY);    /* above U+10FFFF */
        PARSE_FAILS("STATUS=\xe2\x82", NOTIFY_DROP_BINARY);            /* truncated at the end */
        PARSE_FAILS("STATUS=\xe2\x82\nREADY=1", NOTIFY_DROP_BINARY);   /* truncated by a newline */

        assert_string_equal(parse_ok("STATUS=\xf0\x9f\x98\x80 \xe2\x82\xac").status,
                            "\xf0\x9f\x98\x80 \xe2\x82\xac");
}

static void test_parse_line_without_equals_is_malformed(void **state) {
        PARSE_FAILS("READY", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("READY=1\nREADY", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("=1", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("READY=1\n=", NOTIFY_DROP_MALFORMED);
}

static void test_parse_bad_values_are_malformed(void **state) {
        PARSE_FAILS("ERRNO=abc", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("ERRNO=", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("ERRNO=-1", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("ERRNO=+5", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("ERRNO= 5", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("ERRNO=4096", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("ERRNO=99999999999999999999999", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("WATCHDOG_USEC=0", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("WATCHDOG_USEC=1s", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("WATCHDOG_USEC=18446744073709551616", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("MAINPID=0", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("MAINPID=-5", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("MAINPID=2147483648", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("READY=0", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("READY=", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("READY=1 ", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("STOPPING=yes", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("WATCHDOG=2", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("BARRIER=0", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("X_VIGIL_PROGRESS=", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("X_VIGIL_PROGRESS=-1", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("X_VIGIL_PROGRESS=1.5", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("X_VIGIL_PROGRESS=12k", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("X_VIGIL_PROGRESS= 5", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("X_VIGIL_PROGRESS=18446744073709551616", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("X_VIGIL_QUEUE=abc", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("X_VIGIL_QUEUE=+3", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("WATCHDOG=1\nX_VIGIL_QUEUE=0x10", NOTIFY_DROP_MALFORMED);
}

static void test_parse_one_bad_line_rejects_the_whole_datagram(void **state) {
        PARSE_FAILS("READY=1\nSTATUS=ok\nbogus\n", NOTIFY_DROP_MALFORMED);
        PARSE_FAILS("READY=1\nERRNO=abc", NOTIFY_DROP_MALFORMED);
}

static void test_parse_empty(void **state) {
        parse_fails("", 0, NOTIFY_DROP_EMPTY);
        parse_fails(NULL, 0, NOTIFY_DROP_EMPTY);
        /* Only separators: nothing said, but nothing wrong either. */
        assert_false(parse_ok("\n\n").ready);
}

static void test_parse_unknown_keys_ignored(void **state) {
        NotifyMessage m = parse_ok("FDSTORE=1\nEXTEND_TIMEOUT_USEC=1000\nX_CUSTOM=\nFDNAME=x=y\nREADY=1");

        assert_true(m.ready);
        assert_false(m.has_status || m.has_errno || m.has_mainpid || m.has_watchdog_usec);
}

static void test_drop_reason_strings(void **state) {
        for (NotifyDrop d = 0; d < _NOTIFY_DROP_MAX; d++) {
                assert_non_null(notify_drop_to_string(d));
                assert_int_equal(notify_drop_from_string(notify_drop_to_string(d)), d);
        }
        assert_string_equal(notify_drop_to_string(NOTIFY_DROP_RATE_LIMITED), "rate-limited");
        assert_null(notify_drop_to_string(_NOTIFY_DROP_MAX));
        assert_int_equal(notify_drop_from_string("nope"), _NOTIFY_DROP_INVALID);
}

/* ---- the socket ---- */

static void test_socket_file_is_a_world_writable_socket(void **state) {
        TestState *t = *state;
        NotifySocket *other = NULL;
        char path[160];
        struct stat st;
        mode_t old;

        assert_string_equal(notify_socket_path(t->sock), t->path);
        assert_int_equal(stat(t->path, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0666);

        /* Whatever the umask: authorization is by credentials. */
        (void) snprintf(path, sizeof path, "%s/strict.sock", t->dir);
        old = umask(0077);
        assert_int_equal(notify_socket_new(t->event, path, collect, &t->got, &other), 0);
        (void) umask(old);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0666);

        other = notify_socket_free(other);
        assert_null(other);
        assert_int_equal(access(path, F_OK), -1);
        assert_null(notify_socket_free(NULL));
}

static void test_socket_replaces_a_stale_socket_but_no_other_file(void **state) {
        TestState *t = *state;
        NotifySocket *other = NULL;
        char path[160];
        int fd;

        /* The previous run's socket, its owner gone. */
        t->sock = notify_socket_free(t->sock);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };

                strcpy(sa.sun_path, t->path);
                assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        }
        (void) close(fd);
        assert_int_equal(notify_socket_new(t->event, t->path, collect, &t->got, &t->sock), 0);
        send_str(t, "READY=1");
        dispatch_all(t);
        assert_int_equal(t->got.n, 1);

        (void) snprintf(path, sizeof path, "%s/regular", t->dir);
        fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        (void) close(fd);
        assert_int_equal(notify_socket_new(t->event, path, collect, &t->got, &other), -EEXIST);
        assert_null(other);
        assert_int_equal(access(path, F_OK), 0);

        memset(path, 'x', sizeof(path) - 1);
        path[0] = '/';
        path[sizeof(path) - 1] = '\0';
        assert_int_equal(notify_socket_new(t->event, path, collect, &t->got, &other), -ENAMETOOLONG);
}

static void test_message_reaches_handler_with_credentials(void **state) {
        TestState *t = *state;

        send_str(t, "READY=1\nSTATUS=up and running\n");
        assert_int_equal(dispatch_all(t), 1);

        assert_int_equal(t->got.n, 1);
        assert_true(t->got.items[0].msg.ready);
        assert_string_equal(t->got.items[0].msg.status, "up and running");
        assert_int_equal(t->got.items[0].pid, getpid());
        assert_int_equal(t->got.items[0].uid, getuid());
        assert_int_equal(t->got.items[0].gid, getgid());
        assert_int_equal(notify_socket_accepted(t->sock), 1);
        assert_int_equal(dropped_total(t), 0);
}

static void test_explicit_credentials_are_accepted(void **state) {
        TestState *t = *state;
        const char *s = "WATCHDOG=1";

        assert_int_equal(send_datagram(t->sender, t->path, s, strlen(s), NULL, 0, true),
                         (ssize_t) strlen(s));
        dispatch_all(t);
        assert_int_equal(t->got.n, 1);
        assert_true(t->got.items[0].msg.watchdog);
        assert_int_equal(t->got.items[0].pid, getpid());
        assert_int_equal(notify_socket_accepted(t->sock), 1);
}

static void test_bad_datagrams_are_dropped_and_counted(void **state) {
        TestState *t = *state;
        char big[NOTIFY_DATAGRAM_MAX + 100];

        send_ok(t, "", 0);
        memset(big, 'x', sizeof(big));
        memcpy(big, "STATUS=", 7);
        send_ok(t, big, sizeof(big));
        send_ok(t, big, NOTIFY_DATAGRAM_MAX + 1);
        send_ok(t, "READY=1\0", 8);
        send_str(t, "STATUS=\xff");
        send_str(t, "READY");
        send_str(t, "ERRNO=abc");
        dispatch_all(t);

        assert_int_equal(t->got.n, 0);
        assert_int_equal(notify_socket_accepted(t->sock), 0);
        assert_int_equal(dropped(t, NOTIFY_DROP_EMPTY), 1);
        assert_int_equal(dropped(t, NOTIFY_DROP_OVERSIZED), 2);
        assert_int_equal(dropped(t, NOTIFY_DROP_BINARY), 2);
        assert_int_equal(dropped(t, NOTIFY_DROP_MALFORMED), 2);
        assert_int_equal(dropped_total(t), 7);

        /* Exactly the maximum is still fine; STATUS is cut to fit. */
        send_ok(t, big, NOTIFY_DATAGRAM_MAX);
        dispatch_all(t);
        assert_int_equal(t->got.n, 1);
        assert_int_equal(strlen(t->got.items[0].msg.status), NOTIFY_STATUS_MAX - 1);
        assert_int_equal(dropped_total(t), 7);
}

static void test_handler_verdicts_are_counted(void **state) {
        TestState *t = *state;

        t->got.verdict = NOTIFY_DROP_UNKNOWN_SENDER;
        send_str(t, "READY=1");
        send_str(t, "STATUS=x");
        dispatch_all(t);
        t->got.verdict = NOTIFY_DROP_VANISHED;
        send_str(t, "READY=1");
        dispatch_all(t);
        t->got.verdict = NOTIFY_DROP_RATE_LIMITED;
        send_str(t, "WATCHDOG=1");
        dispatch_all(t);
        t->got.verdict = 0;
        send_str(t, "WATCHDOG=1");
        dispatch_all(t);

        assert_int_equal(t->got.n, 5);
        assert_int_equal(dropped(t, NOTIFY_DROP_UNKNOWN_SENDER), 2);
        assert_int_equal(dropped(t, NOTIFY_DROP_VANISHED), 1);
        assert_int_equal(dropped(t, NOTIFY_DROP_RATE_LIMITED), 1);
        assert_int_equal(dropped_total(t), 4);
        assert_int_equal(notify_socket_accepted(t->sock), 1);
}

/* Sends payload with the write ends of three pipes, closes our copies, dispatches, and checks
 * that the read ends see EOF (no one holds a write end any more) and that no fd was added to
 * this process. */
static void check_fds_closed_after(TestState *t, const void *payload, size_t len) {
        int pipes[3][2], wfds[3];
        unsigned before;

        for (unsigned i = 0; i < 3; i++) {
                assert_int_equal(pipe2(pipes[i], O_CLOEXEC | O_NONBLOCK), 0);
                wfds[i] = pipes[i][1];
        }
        assert_int_equal(send_datagram(t->sender, t->path, payload, len, wfds, 3, false), (ssize_t) len);
        for (unsigned i = 0; i < 3; i++)
                (void) close(pipes[i][1]);

        /* In flight, the fds belong to no process; the read ends see no EOF yet. */
        before = count_fds();
        for (unsigned i = 0; i < 3; i++) {
                char c;

                assert_int_equal(read(pipes[i][0], &c, 1), -1);
                assert_int_equal(errno, EAGAIN);
        }

        dispatch_all(t);
        assert_int_equal(count_fds(), before);
        for (unsigned i = 0; i < 3; i++) {
                struct pollfd p = { .fd = pipes[i][0], .events = POLLIN };
                char c;

                assert_int_equal(poll(&p, 1, 0), 1);
                assert_true(p.revents & POLLHUP);
                assert_int_equal(read(pipes[i][0], &c, 1), 0);
                (void) close(pipes[i][0]);
        }
}

static void test_passed_fds_are_closed(void **state) {
        TestState *t = *state;
        char big[NOTIFY_DATAGRAM_MAX + 100];

        check_fds_closed_after(t, "BARRIER=1", 9);
        assert_int_equal(t->got.n, 1);
        assert_true(t->got.items[0].msg.barrier);

        /* Dropped datagrams too, whatever the reason. */
        check_fds_closed_after(t, "READY=1\0", 8);
        check_fds_closed_after(t, "READY", 5);
        check_fds_closed_after(t, "", 0);
        memset(big, 'x', sizeof(big));
        check_fds_closed_after(t, big, sizeof(big));
        t->got.verdict = NOTIFY_DROP_UNKNOWN_SENDER;
        check_fds_closed_after(t, "READY=1", 7);

        assert_int_equal(t->got.n, 2);
        assert_int_equal(dropped_total(t), 5);
}

/* Sends FLOOD_COUNT datagrams "STATUS=<n>" as fast as the receive queue takes them. Whenever
 * it is full, runs the loop once; each run must handle at most one batch. Returns the number
 * of loop runs. */
static unsigned flood(TestState *t) {
        unsigned runs = 0;

        for (unsigned i = 0; i < FLOOD_COUNT; i++) {
                char s[32];
                int len = snprintf(s, sizeof s, "STATUS=%u", i);
                ssize_t n;

                while ((n = send_datagram(t->sender, t->path, s, (size_t) len, NULL, 0, false)) == -EAGAIN) {
                        size_t before = t->got.n;

                        assert_int_equal(sd_event_run(t->event, USEC_PER_SEC), 1);
                        assert_true(t->got.n > before);
                        assert_true(t->got.n - before <= NOTIFY_DISPATCH_BATCH);
                        runs++;
                }
                assert_int_equal(n, len);
        }
        return runs;
}

static void check_flood_received(TestState *t) {
        assert_int_equal(t->got.n, FLOOD_COUNT);
        for (unsigned i = 0; i < FLOOD_COUNT; i++) {
                char s[16];

                (void) snprintf(s, sizeof s, "%u", i);
                assert_string_equal(t->got.items[i].msg.status, s);
        }
        assert_int_equal(notify_socket_accepted(t->sock), FLOOD_COUNT);
        assert_int_equal(dropped_total(t), 0);
}

static void test_flood_loses_nothing(void **state) {
        TestState *t = *state;

        (void) flood(t);
        while (t->got.n < FLOOD_COUNT) {
                size_t before = t->got.n;

                assert_int_equal(sd_event_run(t->event, USEC_PER_SEC), 1);
                assert_true(t->got.n - before <= NOTIFY_DISPATCH_BATCH);
        }
        assert_int_equal(dispatch_all(t), 0);
        check_flood_received(t);
}

#define CHILD_CHECK(x)                                                                          \
        do {                                                                                    \
                if (!(x)) {                                                                     \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);   \
                        _exit(1);                                                               \
                }                                                                               \
        } while (0)

/* In a child with a network namespace of its own, where net.unix.max_dgram_qlen can be raised
 * so that all FLOOD_COUNT datagrams queue up at once: then each loop iteration must take one
 * batch of NOTIFY_DISPATCH_BATCH and return, and the rest must follow on later iterations.
 * Exits 0 on success, 77 if the namespace cannot be had. */
_noreturn_ static void flood_in_bounded_batches_child(const char *dir) {
        TestState c = { .sender = -EBADF };
        int size = 16 * 1024 * 1024, fd;
        unsigned expected_runs = (FLOOD_COUNT + NOTIFY_DISPATCH_BATCH - 1) / NOTIFY_DISPATCH_BATCH;

        if (unshare(CLONE_NEWNET) < 0)
                _exit(77);
        fd = open("/proc/sys/net/unix/max_dgram_qlen", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                _exit(77);
        CHILD_CHECK(write(fd, "4096", 4) == 4);
        (void) close(fd);

        (void) snprintf(c.path, sizeof c.path, "%s/flood.sock", dir);
        CHILD_CHECK(sd_event_new(&c.event) >= 0);
        CHILD_CHECK(notify_socket_new(c.event, c.path, collect, &c.got, &c.sock) == 0);
        c.sender = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        CHILD_CHECK(c.sender >= 0);
        CHILD_CHECK(setsockopt(c.sender, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) == 0);

        for (unsigned i = 0; i < FLOOD_COUNT; i++) {
                char s[32];
                int len = snprintf(s, sizeof s, "STATUS=%u", i);

                CHILD_CHECK(send_datagram(c.sender, c.path, s, (size_t) len, NULL, 0, false) == len);
        }
        for (unsigned run = 0; run < expected_runs; run++) {
                size_t before = c.got.n;

                CHILD_CHECK(sd_event_run(c.event, 0) == 1);
                CHILD_CHECK(c.got.n - before == MIN(NOTIFY_DISPATCH_BATCH, FLOOD_COUNT - before));
        }
        CHILD_CHECK(sd_event_run(c.event, 0) == 0);
        CHILD_CHECK(c.got.n == FLOOD_COUNT);
        for (unsigned i = 0; i < FLOOD_COUNT; i++) {
                char s[16];

                (void) snprintf(s, sizeof s, "%u", i);
                CHILD_CHECK(streq(c.got.items[i].msg.status, s));
        }
        CHILD_CHECK(notify_socket_accepted(c.sock) == FLOOD_COUNT);

        c.sock = notify_socket_free(c.sock);
        c.event = sd_event_unref(c.event);
        (void) close(c.sender);
        free(c.got.items);
        _exit(0);
}

static void test_flood_is_read_in_bounded_batches(void **state) {
        TestState *t = *state;
        pid_t pid;
        int status;

        if (geteuid() != 0)
                skip();
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                flood_in_bounded_batches_child(t->dir);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) == 77)
                skip();
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* Runs the real systemd-notify --ready against our socket, as uid/gid if pw is given (else as
 * we are), while this loop serves the socket. Returns its pid and wait status. */
static void run_systemd_notify(TestState *t, const struct passwd *pw, pid_t *ret_pid, int *ret_status) {
        usec_t deadline;
        pid_t pid;

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (pw && (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
                           setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0))
                        _exit(126);
                if (setenv("NOTIFY_SOCKET", t->path, 1) < 0)
                        _exit(126);
                execl(SYSTEMD_NOTIFY, "systemd-notify", "--ready", (char *) NULL);
                _exit(127);
        }

        deadline = now(CLOCK_MONOTONIC) + 30 * USEC_PER_SEC;
        for (;;) {
                pid_t r = waitpid(pid, ret_status, WNOHANG);

                assert_true(r >= 0);
                if (r == pid)
                        break;
                if (now(CLOCK_MONOTONIC) > deadline) {
                        (void) kill(pid, SIGKILL);
                        (void) waitpid(pid, NULL, 0);
                        fail_msg("systemd-notify did not exit");
                }
                assert_true(sd_event_run(t->event, 20 * USEC_PER_MSEC) >= 0);
        }
        dispatch_all(t);
        *ret_pid = pid;
}

static const Received *find_ready(const Collector *c) {
        for (size_t i = 0; i < c->n; i++)
                if (c->items[i].msg.ready)
                        return &c->items[i];
        return NULL;
}

static bool got_barrier(const Collector *c) {
        for (size_t i = 0; i < c->n; i++)
                if (c->items[i].msg.barrier)
                        return true;
        return false;
}

static void test_systemd_notify_ready_as_root(void **state) {
        TestState *t = *state;
        const Received *r;
        pid_t pid;
        int status;

        if (geteuid() != 0 || access(SYSTEMD_NOTIFY, X_OK) < 0)
                skip();
        run_systemd_notify(t, NULL, &pid, &status);

        /* As root it speaks for its parent, which is us. */
        r = find_ready(&t->got);
        assert_non_null(r);
        assert_int_equal(r->pid, getpid());
        assert_int_equal(r->uid, 0);
        assert_true(got_barrier(&t->got));
        /* It exits 0 only if the barrier's fd was closed in time. */
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_int_equal(dropped_total(t), 0);
}

/* As root, the child becomes "nobody"; run unprivileged, the test runs it as itself. */
static void test_systemd_notify_ready_as_unprivileged_user(void **state) {
        TestState *t = *state;
        const struct passwd *pw = NULL;
        const Received *r;
        uid_t uid = getuid();
        gid_t gid = getgid();
        pid_t pid;
        int status;

        if (access(SYSTEMD_NOTIFY, X_OK) < 0)
                skip();
        if (geteuid() == 0) {
                pw = getpwnam("nobody");
                if (!pw)
                        skip();
                uid = pw->pw_uid;
                gid = pw->pw_gid;
                assert_int_equal(chmod(t->dir, 0755), 0);
        }
        run_systemd_notify(t, pw, &pid, &status);

        /* Unprivileged, it cannot claim another pid and speaks for itself. */
        r = find_ready(&t->got);
        assert_non_null(r);
        assert_int_equal(r->pid, pid);
        assert_int_equal(r->uid, uid);
        assert_int_equal(r->gid, gid);
        assert_true(got_barrier(&t->got));
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_each_key),
                cmocka_unit_test(test_parse_vigil_progress_and_queue),
                cmocka_unit_test(test_parse_multiple_keys_in_one_datagram),
                cmocka_unit_test(test_parse_trailing_newline_and_empty_lines),
                cmocka_unit_test(test_parse_later_assignment_wins),
                cmocka_unit_test(test_parse_status_control_characters_replaced),
                cmocka_unit_test(test_parse_status_cut_at_utf8_boundary),
                cmocka_unit_test(test_parse_nul_byte_is_binary),
                cmocka_unit_test(test_parse_invalid_utf8_is_binary),
                cmocka_unit_test(test_parse_line_without_equals_is_malformed),
                cmocka_unit_test(test_parse_bad_values_are_malformed),
                cmocka_unit_test(test_parse_one_bad_line_rejects_the_whole_datagram),
                cmocka_unit_test(test_parse_empty),
                cmocka_unit_test(test_parse_unknown_keys_ignored),
                cmocka_unit_test(test_drop_reason_strings),
                T(test_socket_file_is_a_world_writable_socket),
                T(test_socket_replaces_a_stale_socket_but_no_other_file),
                T(test_message_reaches_handler_with_credentials),
                T(test_explicit_credentials_are_accepted),
                T(test_bad_datagrams_are_dropped_and_counted),
                T(test_handler_verdicts_are_counted),
                T(test_passed_fds_are_closed),
                T(test_flood_loses_nothing),
                T(test_flood_is_read_in_bounded_batches),
                T(test_systemd_notify_ready_as_root),
                T(test_systemd_notify_ready_as_unprivileged_user),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
