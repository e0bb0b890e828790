/* Parsing of the human values operators write in config files and on the command line:
 * durations ("250ms", "10s", "5m", "1h30m", "2d"), sizes ("512M", "4k", "1G"), signal
 * names, octal modes and exit codes. Non-logging; every function returns 0 or -errno
 * and sets its ret_ argument only on success. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "time-util.h"

/* "0" and a sequence of <number><unit> terms, unit one of us, ms, s, m (or min), h, d, w; a
 * number without unit is refused (-EINVAL) except "0". Fractions are allowed ("1.5s"; below a
 * microsecond is truncated). Blanks may separate terms ("1h 30m"), nothing else is skipped.
 * "infinity" gives USEC_INFINITY. Overflow gives -ERANGE. */
int parse_duration(const char *s, usec_t *ret_usec);

/* A byte count with an optional binary suffix K, M, G, T in either case (powers of 1024, an
 * optional trailing "B" or "iB" accepted). A fraction needs a suffix ("1.5G"). -ERANGE on
 * overflow. */
int parse_size(const char *s, uint64_t *ret_bytes);

/* "TERM", "SIGTERM" or a decimal number 1..64. Returns the signal number. */
int parse_signal(const char *s, int *ret_signo);

/* An octal file-creation mask such as "022" or "0077" (0..0777). */
int parse_mode(const char *s, mode_t *ret_mode);

/* Formats a duration compactly ("1m30s", "250ms", "0", "infinity") into buf, which must hold
 * at least FORMAT_DURATION_MAX bytes. Returns buf. */
#define FORMAT_DURATION_MAX 64
char *format_duration(char *buf, size_t size, usec_t usec);

/* Like format_duration() with usec rounded to the nearest multiple of accuracy first, for
 * messages ("642ms" rather than "641ms406us"). A non-zero value never rounds to "0". */
char *format_duration_approx(char *buf, size_t size, usec_t usec, usec_t accuracy);
