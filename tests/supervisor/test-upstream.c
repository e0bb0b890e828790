/* Unit tests for supervisor/upstream.c against a datagram socket of the test's own standing in
 * for systemd: nothing is sent without $NOTIFY_SOCKET; one assignment per datagram, STATUS=
 * before READY=1; STATUS= coalesced (the latest text wins, at most 5 a second, never the text
 * already shown); a full receiver queue (filled with other datagrams first, so the test does
 * not depend on net.unix.max_dgram_qlen) makes messages wait, never the caller, and they
 * arrive once it is read; watchdog pings between 1/2 and 3/4 of WATCHDOG_USEC apart; a
 * receiver that went away and came back gets what was pending. The loop runs only until what
 * a test waits for has arrived, with a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "log.h"
#include "test-util.h"
#include "upstream.h"

#if __has_include(<valgrind/valgrind.h>)
#  include <valgrind/valgrind.h>
#else
#  define RUNNING_ON_VALGRIND 0
#endif

#define DEADLINE_USEC (5 * USEC_PER_SEC)

typedef struct Listener {
        char dir[64];
        char path[96];
        int fd;
        char received[64][512];  /* each with its receive time in at[] */
        usec_t at[64];
        unsigned n;
} Listener;

static void listener_bind(Listener *l) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        assert_true(l->fd >= 0);
        (void) snprintf(sa.sun_path, sizeof sa.sun_path, "%s", l->path);
        (void) unlink(l->path);
        assert_int_equal(bind(l->fd, (struct sockaddr *) &sa, sizeof sa), 0);
}

static Listener *listener_new(void) {
        Listener *l = calloc(1, sizeof(Listener));

        assert_non_null(l);
        (void) snprintf(l->dir, sizeof l->dir, "/tmp/vigil-test-upstream-XXXXXX");
        assert_non_null(mkdtemp(l->dir));
        (void) snprintf(l->path, sizeof l->path, "%s/notify", l->dir);
        listener_bind(l);
        assert_int_equal(setenv("NOTIFY_SOCKET", l->path, 1), 0);
        return l;
}

static void listener_free(Listener *l) {
        (void) close(l->fd);
        (void) unlink(l->path);
        (void) rmdir(l->dir);
        assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);
        free(l);
}

/* Reads whatever is queued; filler datagrams ("X") are dropped. */
static void listener_read(Listener *l) {
        char buf[512];
        ssize_t n;

        while ((n = recv(l->fd, buf, sizeof buf - 1, 0)) > 0) {
                buf[n] = 0;
                if (streq(buf, "X"))
                        continue;
                assert_true(l->n < ELEMENTSOF(l->received));
                (void) snprintf(l->received[l->n], sizeof l->received[0], "%s", buf);
                l->at[l->n++] = now(CLOCK_MONOTONIC);
        }
}

/* Runs the loop and reads until n messages have come, or fails at the deadline. */
static void wait_for(sd_event *e, Listener *l, unsigned n) {
        usec_t deadline = now(CLOCK_MONOTONIC) + DEADLINE_USEC;

        for (;;) {
                listener_read(l);
                if (l->n >= n)
                        return;
                assert_true(now(CLOCK_MONOTONIC) < deadline);
                assert_true(sd_event_run(e, 10 * USEC_PER_MSEC) >= 0);
        }
}

/* Dispatches what is pending now, without waiting. */
static void drain(sd_event *e) {
        while (sd_event_run(e, 0) > 0)
                ;
}

static void test_without_notify_socket_nothing_is_sent(void **state) {
        unsigned n_fds = count_fds();
        sd_event *e = NULL;
        Upstream *u = NULL;

        assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(upstream_new(e, &u), 0);
        upstream_status(u, "1 running");
        upstream_ready(u);
        upstream_stopping(u);
        assert_int_equal(upstream_watchdog_usec(u), 0);
        assert_int_equal(upstream_blocked(u), 0);
        upstream_free(u);
        sd_event_unref(e);
        assert_int_equal(count_fds(), n_fds);
}

static void test_one_message_per_datagram_status_first(void **state) {
        Listener *l = listener_new();
        sd_event *e = NULL;
        Upstream *u = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(upstream_new(e, &u), 0);
        upstream_status(u, "0 running, 1 starting");
        upstream_ready(u);
        wait_for(e, l, 2);
        assert_string_equal(l->received[0], "STATUS=0 running, 1 starting");
        assert_string_equal(l->received[1], "READY=1");
        assert_int_equal(upstream_pending(u), 0);

        upstream_stopping(u);
        wait_for(e, l, 3);
        assert_string_equal(l->received[2], "STOPPING=1");
        upstream_free(u);
        sd_event_unref(e);
        listener_free(l);
}

static void test_status_is_coalesced_and_rate_limited(void **state) {
        Listener *l = listener_new();
        sd_event *e = NULL;
        Upstream *u = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(upstream_new(e, &u), 0);
        upstream_status(u, "a");
        upstream_status(u, "b");
        upstream_status(u, "c");
        upstream_status(u, "d");
        wait_for(e, l, 2);
        assert_string_equal(l->received[0], "STATUS=a");
        assert_string_equal(l->received[1], "STATUS=d");
        /* The second waited for its slot: at most UPSTREAM_STATUS_PER_SEC a second. */
        assert_true(l->at[1] - l->at[0] >= USEC_PER_SEC / UPSTREAM_STATUS_PER_SEC - 20 * USEC_PER_MSEC);

        /* What systemd shows already is not sent again, and a change back to it cancels a
         * pending one. */
        upstream_status(u, "d");
        assert_int_equal(upstream_pending(u), 0);
        upstream_status(u, "e");
        upstream_status(u, "d");
        assert_int_equal(upstream_pending(u), 0);
        drain(e);
        listener_read(l);
        assert_int_equal(l->n, 2);
        upstream_free(u);
        sd_event_unref(e);
        listener_free(l);
}

static void test_full_receiver_delays_messages_not_the_caller(void **state) {
        Listener *l = listener_new();
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        sd_event *e = NULL;
        Upstream *u = NULL;
        int filler;
        unsigned n_filled = 0;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(upstream_new(e, &u), 0);

        /* Fill the receiver's queue, whatever its length, from a socket of the test's own. */
        filler = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(filler >= 0);
        (void) snprintf(sa.sun_path, sizeof sa.sun_path, "%s", l->path);
        assert_int_equal(connect(filler, (struct sockaddr *) &sa, sizeof sa), 0);
        while (send(filler, "X", 1, MSG_DONTWAIT) == 1)
                n_filled++;
        assert_int_equal(errno, EAGAIN);
        assert_true(n_filled > 0);

        /* Each call returns at once; what does not fit waits. */
        upstream_status(u, "5 running");
        upstream_ready(u);
        assert_true(upstream_blocked(u) >= 1);
        assert_int_equal(upstream_pending(u), 2);
        drain(e);
        assert_int_equal(upstream_pending(u), 2);

        /* systemd reads again: both arrive, in order. */
        wait_for(e, l, 2);
        assert_string_equal(l->received[0], "STATUS=5 running");
        assert_string_equal(l->received[1], "READY=1");
        assert_int_equal(upstream_pending(u), 0);

        (void) close(filler);
        upstream_free(u);
        sd_event_unref(e);
        listener_free(l);
}

static void test_watchdog_pings_from_the_loop(void **state) {
        Listener *l = listener_new();
        sd_event *e = NULL;
        Upstream *u = NULL;
        char pid[32];

        (void) snprintf(pid, sizeof pid, "%d", (int) getpid());
        assert_int_equal(setenv("WATCHDOG_USEC", "200000", 1), 0);
        assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(upstream_new(e, &u), 0);
        assert_int_equal(upstream_watchdog_usec(u), 200 * USEC_PER_MSEC);

        wait_for(e, l, 3);
        for (unsigned k = 0; k < 3; k++)
                assert_string_equal(l->received[k], "WATCHDOG=1");
        for (unsigned k = 1; k < 3; k++) {
                /* 1/2 to 3/4 of the interval, and a little for this test's own reading (not
                 * bounded above under valgrind, which slows the loop down). */
                assert_true(l->at[k] - l->at[k - 1] >= 90 * USEC_PER_MSEC);
                if (!RUNNING_ON_VALGRIND)
                        assert_true(l->at[k] - l->at[k - 1] <= 150 * USEC_PER_MSEC + 30 * USEC_PER_MSEC);
        }
        upstream_free(u);
        sd_event_unref(e);
        assert_int_equal(unsetenv("WATCHDOG_USEC"), 0);
        assert_int_equal(unsetenv("WATCHDOG_PID"), 0);
        listener_free(l);
}

static void test_receiver_that_comes_back_gets_what_was_pending(void **state) {
        Listener *l = listener_new();
        sd_event *e = NULL;
        Upstream *u = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(upstream_new(e, &u), 0);
        upstream_ready(u);
        wait_for(e, l, 1);

        /* systemd re-executes: its socket is gone, then bound anew at the same path. */
        (void) close(l->fd);
        (void) unlink(l->path);
        upstream_stopping(u);
        assert_int_equal(upstream_pending(u), 1);
        listener_bind(l);
        wait_for(e, l, 2);
        assert_string_equal(l->received[1], "STOPPING=1");

        upstream_free(u);
        sd_event_unref(e);
        listener_free(l);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_without_notify_socket_nothing_is_sent),
                cmocka_unit_test(test_one_message_per_datagram_status_first),
                cmocka_unit_test(test_status_is_coalesced_and_rate_limited),
                cmocka_unit_test(test_full_receiver_delays_messages_not_the_caller),
                cmocka_unit_test(test_watchdog_pings_from_the_loop),
                cmocka_unit_test(test_receiver_that_comes_back_gets_what_was_pending),
        };

        log_setup(LOG_TARGET_STDERR, LOG_DEBUG);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
