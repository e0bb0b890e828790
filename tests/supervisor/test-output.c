/* Tests for supervisor/output.c on a real sd_event loop: the test writes into the pipe's write
 * end as a worker would, runs the loop until nothing is pending and reads what the OutputPipe
 * wrote to a capture pipe standing in for vigild's stderr. Covers line joining and splitting,
 * over-long lines, flushing at EOF and at free, NUL/CR/control bytes, binary input, refused
 * writes and, in every test's teardown, that the number of open fds is unchanged. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test-util.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>

#include "fileio.h"
#include "macro.h"
#include "output.h"

#define PREFIX "w:0"
#define CAPTURE_PIPE_SIZE (1024 * 1024)

typedef struct Fixture {
        unsigned n_fds;
        sd_event *event;
        int cap[2];        /* the OutputPipe writes to cap[1]; the test reads cap[0] */
        OutputPipe *pipe;
        int child_fd;      /* the worker's stdout */
        char *got;         /* everything read from cap[0] since the last expect_output() */
        size_t n_got;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));

        if (!f)
                return -1;
        f->n_fds = count_fds();
        f->cap[0] = f->cap[1] = f->child_fd = -EBADF;
        *state = f;

        if (sd_event_new(&f->event) < 0)
                return -1;
        if (pipe2(f->cap, O_CLOEXEC) < 0)
                return -1;
        if (fd_nonblock(f->cap[0], true) < 0)
                return -1;
        /* Large enough for the biggest test's output, so that the capture never blocks. */
        if (fcntl(f->cap[1], F_SETPIPE_SZ, CAPTURE_PIPE_SIZE) < 0)
                return -1;
        if (output_pipe_new(f->event, PREFIX, f->cap[1], &f->child_fd, &f->pipe) < 0)
                return -1;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        unsigned n;

        f->pipe = output_pipe_free(f->pipe);
        f->child_fd = safe_close(f->child_fd);
        f->cap[0] = safe_close(f->cap[0]);
        f->cap[1] = safe_close(f->cap[1]);
        f->event = sd_event_unref(f->event);
        free(f->got);
        n = f->n_fds;
        free(f);
        if (count_fds() != n) {
                fprintf(stderr, "open fds: %u before the test, %u after\n", n, count_fds());
                return -1;
        }
        return 0;
}

/* Appends whatever the capture pipe holds to f->got. */
static void collect(Fixture *f) {
        char buf[64 * 1024];

        for (;;) {
                ssize_t n = read(f->cap[0], buf, sizeof(buf));

                if (n < 0 && errno == EAGAIN)
                        return;
                assert_true(n >= 0);
                if (n == 0)
                        return;
                f->got = realloc(f->got, f->n_got + (size_t) n + 1);
                assert_non_null(f->got);
                memcpy(f->got + f->n_got, buf, (size_t) n);
                f->n_got += (size_t) n;
                f->got[f->n_got] = '\0';
        }
}

/* Dispatches every event that is pending now, then collects the output. */
static void run(Fixture *f) {
        int r;

        while ((r = sd_event_run(f->event, 0)) > 0)
                ;
        assert_int_equal(r, 0);
        collect(f);
}

static void send_bytes(int fd, const void *data, size_t n) {
        assert_int_equal(write(fd, data, n), (ssize_t) n);
}

static void send_str(Fixture *f, const char *s) {
        send_bytes(f->child_fd, s, strlen(s));
}

/* Asserts that exactly n bytes equal to want arrived since the last call, and forgets them. */
static void expect_bytes(Fixture *f, const char *want, size_t n) {
        if (f->n_got != n || (n > 0 && memcmp(f->got, want, n) != 0)) {
                fprintf(stderr, "expected %zu bytes, got %zu: \"%.*s\"\n", n, f->n_got, (int) MIN(f->n_got, 200U),
                        f->got ? f->got : "");
                fail();
        }
        f->got = mfree(f->got);
        f->n_got = 0;
}

static void expect_output(Fixture *f, const char *want) {
        expect_bytes(f, want, strlen(want));
}

/* ---- tests ---- */

static void test_lines_split_across_reads_are_joined(void **state) {
        Fixture *f = *state;

        send_str(f, "hel");
        run(f);
        expect_output(f, "");
        send_str(f, "lo wor");
        run(f);
        expect_output(f, "");
        send_str(f, "ld\nnext");
        run(f);
        expect_output(f, PREFIX ": hello world\n");
        send_str(f, " one\n");
        run(f);
        expect_output(f, PREFIX ": next one\n");
}

static void test_several_lines_in_one_read_are_each_prefixed(void **state) {
        Fixture *f = *state;

        send_str(f, "a\nbb\n\nccc\n");
        run(f);
        expect_output(f, PREFIX ": a\n" PREFIX ": bb\n" PREFIX ": \n" PREFIX ": ccc\n");
}

static void test_over_long_line_is_split_into_prefixed_pieces(void **state) {
        Fixture *f = *state;
        size_t n = 2 * OUTPUT_LINE_MAX + 10;
        _cleanup_free_ char *line = malloc(n + 1), *want = NULL;
        size_t plen = strlen(PREFIX ": ");

        assert_non_null(line);
        memset(line, 'x', n);
        line[n] = '\n';
        send_bytes(f->child_fd, line, n + 1);
        run(f);

        /* Pieces of OUTPUT_LINE_MAX, OUTPUT_LINE_MAX and 10 bytes, each a prefixed line. */
        want = malloc(3 * (plen + 1) + n);
        assert_non_null(want);
        char *w = want;
        for (size_t left = n; left > 0;) {
                size_t k = MIN(left, (size_t) OUTPUT_LINE_MAX);

                memcpy(w, PREFIX ": ", plen);
                w += plen;
                memset(w, 'x', k);
                w += k;
                *w++ = '\n';
                left -= k;
        }
        expect_bytes(f, want, (size_t) (w - want));
}

static void test_over_long_line_across_reads_is_split_at_the_limit(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *a = malloc(OUTPUT_LINE_MAX - 1), *want = NULL;
        size_t plen = strlen(PREFIX ": ");

        assert_non_null(a);
        memset(a, 'a', OUTPUT_LINE_MAX - 1);
        send_bytes(f->child_fd, a, OUTPUT_LINE_MAX - 1);
        run(f);
        expect_output(f, "");

        send_str(f, "bbbbbbbbbbbbbbbbbbbb\n");
        run(f);
        want = malloc(plen + OUTPUT_LINE_MAX + 1 + plen + 20);
        assert_non_null(want);
        memcpy(want, PREFIX ": ", plen);
        memcpy(want + plen, a, OUTPUT_LINE_MAX - 1);
        memcpy(want + plen + OUTPUT_LINE_MAX - 1, "b\n" PREFIX ": bbbbbbbbbbbbbbbbbbb\n", 2 + plen + 20);
        expect_bytes(f, want, plen + OUTPUT_LINE_MAX + 1 + plen + 20);
}

static void test_line_of_exactly_the_limit_stays_one_line(void **state) {
        Fixture *f = *state;
        size_t plen = strlen(PREFIX ": ");
        _cleanup_free_ char *line = malloc(OUTPUT_LINE_MAX + 1), *want = malloc(plen + OUTPUT_LINE_MAX + 1);

        assert_non_null(line);
        assert_non_null(want);
        memset(line, 'y', OUTPUT_LINE_MAX);
        line[OUTPUT_LINE_MAX] = '\n';
        memcpy(want, PREFIX ": ", plen);
        memcpy(want + plen, line, OUTPUT_LINE_MAX + 1);

        /* In one read, */
        send_bytes(f->child_fd, line, OUTPUT_LINE_MAX + 1);
        run(f);
        expect_bytes(f, want, plen + OUTPUT_LINE_MAX + 1);

        /* and with the newline in a read of its own: no empty line follows. */
        send_bytes(f->child_fd, line, OUTPUT_LINE_MAX);
        run(f);
        expect_output(f, "");
        send_str(f, "\n");
        run(f);
        expect_bytes(f, want, plen + OUTPUT_LINE_MAX + 1);
}

static void test_partial_last_line_is_flushed_at_eof(void **state) {
        Fixture *f = *state;

        send_str(f, "a\npartial");
        run(f);
        expect_output(f, PREFIX ": a\n");
        assert_false(output_pipe_is_done(f->pipe));

        f->child_fd = safe_close(f->child_fd);
        run(f);
        expect_output(f, PREFIX ": partial\n");
        assert_true(output_pipe_is_done(f->pipe));

        /* Nothing more happens on a finished pipe. */
        run(f);
        expect_output(f, "");
        assert_int_equal(output_pipe_get_dropped(f->pipe), 0);
}

static void test_eof_without_partial_line_adds_nothing(void **state) {
        Fixture *f = *state;

        send_str(f, "whole\n");
        f->child_fd = safe_close(f->child_fd);
        run(f);
        expect_output(f, PREFIX ": whole\n");
        assert_true(output_pipe_is_done(f->pipe));
}

static void test_free_drains_and_flushes_the_partial_line(void **state) {
        Fixture *f = *state;

        /* The loop never ran, and the writer is still open. */
        send_str(f, "x\ny");
        f->pipe = output_pipe_free(f->pipe);
        assert_null(f->pipe);
        collect(f);
        expect_output(f, PREFIX ": x\n" PREFIX ": y\n");

        /* The read end is closed: the worker's next write fails with EPIPE. */
        assert_int_equal(write(f->child_fd, "z", 1), -1);
        assert_int_equal(errno, EPIPE);
}

static void test_nul_is_dropped_cr_and_control_bytes_pass_unchanged(void **state) {
        Fixture *f = *state;
        static const char in[] = "a\0b\r\x1b[31mc\x07\x7f\n\0\0\nend\r\n";
        static const char want[] = PREFIX ": ab\r\x1b[31mc\x07\x7f\n" PREFIX ": \n" PREFIX ": end\r\n";

        send_bytes(f->child_fd, in, sizeof(in) - 1);
        run(f);
        expect_bytes(f, want, sizeof(want) - 1);
}

static void test_binary_input_is_passed_through_line_by_line(void **state) {
        Fixture *f = *state;
        enum { ROUNDS = 200 };
        _cleanup_free_ char *in = malloc(256 * ROUNDS), *rebuilt = NULL;
        size_t n_rebuilt = 0, plen = strlen(PREFIX ": "), n_in = 0;

        assert_non_null(in);
        for (unsigned r = 0; r < ROUNDS; r++)
                for (unsigned b = 0; b < 256; b++)
                        in[n_in++] = (char) b;
        send_bytes(f->child_fd, in, n_in);
        f->child_fd = safe_close(f->child_fd);
        run(f);
        assert_true(output_pipe_is_done(f->pipe));

        /* Every line starts with the prefix; without the prefixes the output is the input without
         * its NULs, plus the newline that ended the partial last line. */
        rebuilt = malloc(f->n_got + 1);
        assert_non_null(rebuilt);
        for (size_t at = 0; at < f->n_got;) {
                char *nl = memchr(f->got + at, '\n', f->n_got - at);

                assert_non_null(nl);
                assert_true((size_t) (nl - (f->got + at)) >= plen);
                assert_memory_equal(f->got + at, PREFIX ": ", plen);
                at += plen;
                memcpy(rebuilt + n_rebuilt, f->got + at, (size_t) (nl - (f->got + at)) + 1);
                n_rebuilt += (size_t) (nl - (f->got + at)) + 1;
                at = (size_t) (nl - f->got) + 1;
        }
        n_in = 0;
        for (unsigned r = 0; r < ROUNDS; r++)
                for (unsigned b = 1; b < 256; b++)
                        in[n_in++] = (char) b;
        in[n_in++] = '\n';
        assert_int_equal(n_rebuilt, n_in);
        assert_memory_equal(rebuilt, in, n_in);
        f->got = mfree(f->got);
        f->n_got = 0;
}

static void test_random_bytes_do_not_crash(void **state) {
        Fixture *f = *state;
        enum { SIZE = 60000 };
        _cleanup_free_ char *in = malloc(SIZE);
        uint32_t x = 2463534242U;

        assert_non_null(in);
        for (size_t i = 0; i < SIZE; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                in[i] = (char) (x >> 24);
        }
        send_bytes(f->child_fd, in, SIZE);
        f->child_fd = safe_close(f->child_fd);
        run(f);
        assert_true(output_pipe_is_done(f->pipe));
        assert_true(f->n_got > 0);
        assert_int_equal(f->got[f->n_got - 1], '\n');
        for (char *p = f->got; p < f->got + f->n_got;) {
                char *nl = memchr(p, '\n', (size_t) (f->got + f->n_got - p));

                assert_memory_equal(p, PREFIX ": ", strlen(PREFIX ": "));
                assert_true((size_t) (nl - p) <= strlen(PREFIX ": ") + OUTPUT_LINE_MAX);
                p = nl + 1;
        }
        f->got = mfree(f->got);
        f->n_got = 0;
}

static void test_lines_of_two_workers_do_not_interleave(void **state) {
        Fixture *f = *state;
        _cleanup_close_ int other_fd = -EBADF;
        OutputPipe *other = NULL;

        assert_int_equal(output_pipe_new(f->event, "v:1", f->cap[1], &other_fd, &other), 0);
        send_str(f, "first half ");
        send_bytes(other_fd, "other ", 6);
        run(f);
        send_bytes(other_fd, "worker\n", 7);
        send_str(f, "second half\n");
        run(f);
        other = output_pipe_free(other);

        /* The order of the two lines depends on dispatch order; each line is whole. */
        if (f->n_got > 0 && f->got[0] == 'v')
                expect_output(f, "v:1: other worker\n" PREFIX ": first half second half\n");
        else
                expect_output(f, PREFIX ": first half second half\n" "v:1: other worker\n");
}

static void test_refused_writes_drop_the_line_and_never_block(void **state) {
        Fixture *f = *state;
        _cleanup_close_ int child_fd = -EBADF;
        OutputPipe *p = NULL;
        int full[2];
        char junk[4096] = {};

        /* A non-blocking "stderr" that is full: EAGAIN. */
        assert_int_equal(pipe2(full, O_CLOEXEC | O_NONBLOCK), 0);
        while (write(full[1], junk, sizeof(junk)) > 0)
                ;
        assert_int_equal(errno, EAGAIN);
        assert_int_equal(output_pipe_new(f->event, "full:0", full[1], &child_fd, &p), 0);

        send_bytes(child_fd, "one\ntwo\n", 8);
        run(f);
        assert_int_equal(output_pipe_get_dropped(p), 2);

        /* A "stderr" whose reader is gone: EPIPE (SIGPIPE is ignored, as in vigild). */
        full[0] = safe_close(full[0]);
        send_bytes(child_fd, "three\npartial", 13);
        run(f);
        assert_int_equal(output_pipe_get_dropped(p), 3);

        /* The partial line is dropped at EOF the same way. */
        child_fd = safe_close(child_fd);
        run(f);
        assert_true(output_pipe_is_done(p));
        assert_int_equal(output_pipe_get_dropped(p), 4);

        p = output_pipe_free(p);
        (void) safe_close(full[1]);
        expect_output(f, "");
}

static void test_create_and_free_many_leaks_no_fd(void **state) {
        Fixture *f = *state;
        unsigned before = count_fds();

        assert_null(output_pipe_free(NULL));
        for (unsigned i = 0; i < 100; i++) {
                _cleanup_close_ int child_fd = -EBADF;
                OutputPipe *p = NULL;

                assert_int_equal(output_pipe_new(f->event, "many:0", f->cap[1], &child_fd, &p), 0);
                if (i % 2 == 0) {
                        /* Half of them reach EOF in the loop before being freed. */
                        send_bytes(child_fd, "bye", 3);
                        child_fd = safe_close(child_fd);
                        run(f);
                        assert_true(output_pipe_is_done(p));
                }
                p = output_pipe_free(p);
        }
        collect(f);
        assert_int_equal(count_fds(), before);

        /* 100 flushes of "bye" (the odd ones were never written to). */
        assert_int_equal(f->n_got, 50 * strlen("many:0: bye\n"));
        f->got = mfree(f->got);
        f->n_got = 0;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_lines_split_across_reads_are_joined),
                T(test_several_lines_in_one_read_are_each_prefixed),
                T(test_over_long_line_is_split_into_prefixed_pieces),
                T(test_over_long_line_across_reads_is_split_at_the_limit),
                T(test_line_of_exactly_the_limit_stays_one_line),
                T(test_partial_last_line_is_flushed_at_eof),
                T(test_eof_without_partial_line_adds_nothing),
                T(test_free_drains_and_flushes_the_partial_line),
                T(test_nul_is_dropped_cr_and_control_bytes_pass_unchanged),
                T(test_binary_input_is_passed_through_line_by_line),
                T(test_random_bytes_do_not_crash),
                T(test_lines_of_two_workers_do_not_interleave),
                T(test_refused_writes_drop_the_line_and_never_block),
                T(test_create_and_free_many_leaks_no_fd),
        };

        /* vigild ignores SIGPIPE; so does this test, which writes into closed pipes. */
        (void) signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
