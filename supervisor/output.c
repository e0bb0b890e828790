/* Worker output without journald: one pipe per instance, read non-blocking from an sd-event io
 * source, each line written to out_fd as "PREFIX: line\n" with a single writev(2), so lines of
 * different workers never interleave within a line. Owns the pipe's read end, its event source
 * and at most one pending partial line (OUTPUT_LINE_MAX bytes). Never blocks on the pipe and
 * never retries a failed write: a line that out_fd refuses (EAGAIN, EPIPE, short write) is
 * dropped and counted. NUL bytes are dropped; every other byte, CR and escape sequences included,
 * is passed through unchanged. Non-logging. */
#include <fcntl.h>
#include <sys/uio.h>

#include "fileio.h"
#include "macro.h"
#include "output.h"

/* One read(2) takes at most this much; one dispatch does at most OUTPUT_READS_PER_DISPATCH
 * reads, so that a chatty worker cannot keep the loop from everything else. */
#define OUTPUT_READ_CHUNK (16U * 1024U)
#define OUTPUT_READS_PER_DISPATCH 8U
/* output_pipe_free() drains at most this much, in case a writer is still writing. */
#define OUTPUT_DRAIN_MAX (1024U * 1024U)

struct OutputPipe {
        sd_event_source *source;
        int fd;                 /* read end; -EBADF after EOF */
        int out_fd;             /* not owned */
        char *prefix;           /* "PREFIX: " */
        size_t prefix_len;
        bool eof;
        uint64_t n_dropped;
        size_t len;             /* bytes of the pending partial line in buf */
        char buf[OUTPUT_LINE_MAX];
};

/* Writes prefix, the pending bytes, n bytes of data and a newline with one syscall; the pending
 * line is consumed either way. */
static void emit(OutputPipe *p, const char *data, size_t n) {
        struct iovec iov[] = {
                { p->prefix, p->prefix_len },
                { p->buf, p->len },
                { (void *) data, n },
                { (void *) "\n", 1 },
        };
        size_t total = p->prefix_len + p->len + n + 1;
        ssize_t k;

        p->len = 0;
        do
                k = writev(p->out_fd, iov, ELEMENTSOF(iov));
        while (k < 0 && errno == EINTR);
        if (k < 0 || (size_t) k != total)
                p->n_dropped++;
}

/* Removes NUL bytes in place and returns the new length. A NUL cannot be passed on in a line
 * that a terminal, a file reader or journald's own stream parser would treat as text. */
static size_t drop_nuls(char *s, size_t n) {
        char *w = memchr(s, 0, n);

        if (!w)
                return n;
        for (const char *r = w; r < s + n; r++)
                if (*r != '\0')
                        *w++ = *r;
        return (size_t) (w - s);
}

/* Cuts data into lines, completing the pending line first. A line that reaches OUTPUT_LINE_MAX
 * bytes without a newline is written as a piece of exactly OUTPUT_LINE_MAX bytes; a line of
 * exactly OUTPUT_LINE_MAX bytes followed by its newline stays one line. */
static void feed(OutputPipe *p, const char *data, size_t n) {
        while (n > 0) {
                const char *nl = memchr(data, '\n', n);
                size_t k = nl ? (size_t) (nl - data) : n;

                if (p->len + k > OUTPUT_LINE_MAX) {
                        size_t piece = OUTPUT_LINE_MAX - p->len;

                        emit(p, data, piece);
                        data += piece;
                        n -= piece;
                } else if (nl) {
                        emit(p, data, k);
                        data += k + 1;
                        n -= k + 1;
                } else {
                        memcpy(p->buf + p->len, data, k);
                        p->len += k;
                        return;
                }
        }
}

/* Flushes a partial line, stops watching and closes the read end. */
static void finish(OutputPipe *p) {
        if (p->len > 0)
                emit(p, NULL, 0);
        p->source = sd_event_source_disable_unref(p->source);
        p->fd = safe_close(p->fd);
        p->eof = true;
}

/* Reads up to max_reads times. Returns 1 when the pipe is exhausted for now (EAGAIN), 0 when
 * max_reads was reached with data possibly left, and finishes the pipe at EOF or on a read
 * error (returning 1). */
static int pump(OutputPipe *p, unsigned max_reads) {
        char chunk[OUTPUT_READ_CHUNK];

        for (unsigned i = 0; i < max_reads; i++) {
                ssize_t n = read(p->fd, chunk, sizeof(chunk));

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 1;
                        finish(p);
                        return 1;
                }
                if (n == 0) {
                        finish(p);
                        return 1;
                }
                feed(p, chunk, drop_nuls(chunk, (size_t) n));
        }
        return 0;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        OutputPipe *p = userdata;

        (void) pump(p, OUTPUT_READS_PER_DISPATCH);
        return 0;
}

int output_pipe_new(sd_event *event, const char *prefix, int out_fd, int *ret_child_fd, OutputPipe **ret) {
        _cleanup_close_ int child_fd = -EBADF;
        OutputPipe *p;
        int fds[2], r;

        assert(event);
        assert(prefix);
        assert(out_fd >= 0);
        assert(ret_child_fd);
        assert(ret);

        p = malloc(sizeof(OutputPipe));
        if (!p)
                return -ENOMEM;
        *p = (OutputPipe) { .fd = -EBADF, .out_fd = out_fd };

        if (asprintf(&p->prefix, "%s: ", prefix) < 0) {
                p->prefix = NULL;
                r = -ENOMEM;
                goto fail;
        }
        p->prefix_len = strlen(p->prefix);

        if (pipe2(fds, O_CLOEXEC) < 0) {
                r = -errno;
                goto fail;
        }
        p->fd = fds[0];
        child_fd = fds[1];

        /* Only the read end: a worker must see an ordinary blocking stdout. */
        r = fd_nonblock(p->fd, true);
        if (r < 0)
                goto fail;

        r = sd_event_add_io(event, &p->source, p->fd, EPOLLIN, on_io, p);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(p->source, "worker-output");

        *ret_child_fd = TAKE_FD(child_fd);
        *ret = p;
        return 0;

fail:
        /* Not output_pipe_free(): there is nothing to drain, and the read end may still be
         * blocking. */
        (void) sd_event_source_unref(p->source);
        (void) safe_close(p->fd);
        free(p->prefix);
        free(p);
        return r;
}

OutputPipe *output_pipe_free(OutputPipe *p) {
        if (!p)
                return NULL;

        if (p->fd >= 0) {
                /* Reads stop at EAGAIN, so only a writer that keeps writing makes this loop
                 * run to the bound. */
                (void) pump(p, OUTPUT_DRAIN_MAX / OUTPUT_READ_CHUNK);
                if (!p->eof)
                        finish(p);
        }
        free(p->prefix);
        return mfree(p);
}

int output_pipe_is_done(const OutputPipe *p) {
        assert(p);
        return p->eof;
}

uint64_t output_pipe_get_dropped(const OutputPipe *p) {
        assert(p);
        return p->n_dropped;
}
