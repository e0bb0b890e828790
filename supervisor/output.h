/* Worker output when there is no journald: the worker's stdout and stderr go into a pipe that
 * vigild reads, and each line is written to vigild's own stderr prefixed "worker:instance: ",
 * so the lines of many workers stay apart and attributable. Owns the pipe's read end and its
 * event source. Never blocks: the read end is non-blocking, a line longer than
 * OUTPUT_LINE_MAX is passed on in pieces, and a partial last line is flushed at EOF.
 * Non-logging (the output it forwards is not vigild's log). */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#define OUTPUT_LINE_MAX 4096U

typedef struct OutputPipe OutputPipe;

/* Creates a pipe (O_CLOEXEC both ends), watches its non-blocking read end on event, and
 * returns the write end in *ret_child_fd for the child's stdout/stderr; the caller closes it
 * once the child has been spawned. prefix is copied (e.g. "api:0"; lines are written as
 * "api:0: line\n"). Writes go to out_fd, which is not owned (vigild's stderr, 2, normally;
 * tests pass a pipe). NUL bytes are dropped, every other byte passes unchanged. A line that
 * out_fd refuses is dropped and counted, never retried. Returns 0 or -errno. */
int output_pipe_new(sd_event *event, const char *prefix, int out_fd, int *ret_child_fd, OutputPipe **ret);

/* Reads and forwards whatever is buffered now, flushes a partial line, closes and frees.
 * Accepts NULL, returns NULL. */
OutputPipe *output_pipe_free(OutputPipe *p);

/* True once the write side has been closed by every process holding it and all was read. */
int output_pipe_is_done(const OutputPipe *p);

/* How many lines (or pieces of over-long lines) out_fd refused or took only partly, so far. */
uint64_t output_pipe_get_dropped(const OutputPipe *p);
