/* Small routines shared by the test helper programs (vt-worker, vt-notify): failing loudly,
 * parsing numbers, appending stamp lines atomically, reading the monotonic clock, waiting. */
#pragma once

#include <stddef.h>

/* Prints "PROGRAM: message" to stderr and exits 2. */
void die(const char *fmt, ...) __attribute__((__format__(printf, 1, 2), __noreturn__));

/* A decimal number in [min, max], or die() naming what it was. */
long parse_long(const char *s, long min, long max, const char *what);

/* Appends one formatted line (the caller supplies the newline) to path with one write() on an
 * O_APPEND descriptor, so that lines from many processes never interleave. */
void append_line(const char *path, const char *fmt, ...) __attribute__((__format__(printf, 2, 3)));

/* CLOCK_MONOTONIC in microseconds: the clock the scenarios compare stamps with. */
unsigned long long now_usec(void);

/* Waits ms milliseconds (a helper is a worker, not the daemon: it may sleep). */
void delay_ms(unsigned long long ms);
