/* Routines shared by the test helper programs; see helper-util.h. They die() on any failure:
 * a helper that cannot do what a scenario asked must not pretend it did. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "helper-util.h"

void die(const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "%s: ", program_invocation_short_name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(2);
}

long parse_long(const char *s, long min, long max, const char *what) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || *end != '\0' || end == s || v < min || v > max)
                die("invalid %s '%s'", what, s);
        return v;
}

void append_line(const char *path, const char *fmt, ...) {
        char buf[512];
        va_list ap;
        int fd, len;

        va_start(ap, fmt);
        len = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (len < 0 || (size_t) len >= sizeof(buf))
                die("line too long for %s", path);
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                die("cannot open %s: %m", path);
        if (write(fd, buf, (size_t) len) != len)
                die("cannot write %s: %m", path);
        (void) close(fd);
}

unsigned long long now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (unsigned long long) ts.tv_sec * 1000000ULL + (unsigned long long) ts.tv_nsec / 1000ULL;
}

void delay_ms(unsigned long long ms) {
        struct timespec ts = { .tv_sec = (time_t) (ms / 1000), .tv_nsec = (long) (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}
