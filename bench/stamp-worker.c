/* The benchmark's worker: at start it appends one line "PID CLOCK_MONOTONIC_NS\n" to the stamp
 * file named by $STAMP_FILE, or by argv[1] when that is unset (runit and s6 run ./run with the
 * environment they inherited; s6 passes the service's name as argv[1], vigild passes a clean
 * environment), in a single O_APPEND write so that concurrent workers never interleave, then sleeps
 * in pause() until a signal ends it. It must stay as cheap as possible: the clock is read
 * first thing, no stdio, no allocation. Built static where the C library allows it. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Writes v in decimal ending at end; returns the first digit's address. */
static char *format_u64(char *end, uint64_t v) {
        do {
                *--end = (char) ('0' + v % 10);
                v /= 10;
        } while (v);
        return end;
}

int main(int argc, char *argv[]) {
        struct timespec ts;
        char buf[64], *p, *q;
        const char *path;
        uint64_t ns;
        int fd;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        ns = (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;

        path = getenv("STAMP_FILE");
        if (!path)
                path = argc > 1 ? argv[1] : NULL;
        if (!path)
                return 64;

        /* Build "PID NS\n" backwards from the end of buf. */
        q = buf + sizeof(buf);
        *--q = '\n';
        p = format_u64(q, ns);
        *--p = ' ';
        p = format_u64(p, (uint64_t) getpid());

        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                return 73;
        if (write(fd, p, (size_t) (buf + sizeof(buf) - p)) < 0)
                return 74;
        (void) close(fd);

        for (;;)
                pause();
}
