/* vt-hog: a worker for the resource probe scenarios that uses memory, descriptors or CPU in a
 * known shape, and changes shape on SIGUSR1. It records its pid and each state it reaches in
 * files, each line with one write(), so that a scenario waits for states instead of time.
 * Memory is one anonymous mapping of --max MiB, touched page by page to grow and given back
 * with MADV_DONTNEED to shrink, so resident memory follows the shape exactly. It sleeps with
 * sigtimedwait(): it is a worker, not the daemon.
 *
 *   vt-hog leak      grow by --step KiB every --interval ms up to --max MiB, then hold
 *   vt-hog sawtooth  grow the same way up to --max MiB, give it all back, again and again
 *   vt-hog step      after --after ms touch --max MiB at once ("grown"), then hold
 *   vt-hog hold      touch --max MiB at once ("grown"); SIGUSR1 gives it back ("freed"), the
 *                    next touches it again ("grown"), and so on
 *   vt-hog fds       open --count descriptors of /dev/null, one every --interval ms (0: at once),
 *                    then hold ("opened"); SIGUSR1 closes them all ("closed"), the next opens
 *                    them again at once ("opened"), and so on
 *   vt-hog spin      spin on the CPU ("spinning"); SIGUSR1 toggles idling ("idle") and spinning.
 *                    --idle: start idle. --child: a forked child in the same process group
 *                    spins, told by the parent, which only waits. --nice N: the spinner runs at
 *                    nice N, so that a loaded test machine still lets it keep a core busy
 *
 *   --pid-file FILE  write the pid there (atomically, by rename) once started
 *   --state FILE     append "STATE PID" lines as the states above are reached */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helper-util.h"

#define FDS_MAX 65536L

static long arg_step_kib = 1024;
static long arg_interval_ms = 100;
static long arg_max_mib = 64;
static long arg_after_ms;
static long arg_count = 100;
static bool arg_idle;
static bool arg_child;
static int arg_nice;
static const char *arg_pid_file;
static const char *arg_state;

static sigset_t usr1;

static void state(const char *s) {
        if (arg_state)
                append_line(arg_state, "%s %d\n", s, (int) getpid());
}

static void write_pid_file(void) {
        char tmp[4096];
        FILE *f;

        if (!arg_pid_file)
                return;
        (void) snprintf(tmp, sizeof tmp, "%s.tmp", arg_pid_file);
        f = fopen(tmp, "we");
        if (!f)
                die("cannot write %s: %m", tmp);
        fprintf(f, "%d\n", (int) getpid());
        if (fclose(f) != 0 || rename(tmp, arg_pid_file) < 0)
                die("cannot write %s: %m", arg_pid_file);
}

/* Waits up to ms milliseconds (-1: for ever) for SIGUSR1: true if it came. */
static bool wait_usr1(long ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
        int r;

        for (;;) {
                r = ms < 0 ? sigwaitinfo(&usr1, NULL) : sigtimedwait(&usr1, NULL, &ts);
                if (r == SIGUSR1)
                        return true;
                if (r < 0 && errno == EAGAIN)
                        return false;
                if (r < 0 && errno != EINTR)
                        die("sigtimedwait: %m");
        }
}

static void hold_forever(void) {
        for (;;)
                (void) wait_usr1(-1);
}

/* Touches [from, to) of the region: every page becomes resident. The stores are volatile:
 * memory that is written and never read is fair game for the optimizer otherwise. */
static void touch(char *region, size_t from, size_t to) {
        volatile char *p = region;

        for (size_t i = from; i < to; i += 4096)
                p[i] = 1;
}

static void release(char *region, size_t size) {
        if (madvise(region, size, MADV_DONTNEED) < 0)
                die("madvise: %m");
}

static void run_memory(const char *mode) {
        size_t size = (size_t) arg_max_mib << 20, step = (size_t) arg_step_kib << 10, used = 0;
        char *region =
                mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

        if (region == MAP_FAILED)
                die("mmap of %zu bytes: %m", size);

        if (strcmp(mode, "hold") == 0 || strcmp(mode, "step") == 0) {
                if (strcmp(mode, "step") == 0)
                        (void) wait_usr1(arg_after_ms);
                touch(region, 0, size);
                state("grown");
                if (strcmp(mode, "step") == 0)
                        hold_forever();
                for (;;) {
                        (void) wait_usr1(-1);
                        release(region, size);
                        state("freed");
                        (void) wait_usr1(-1);
                        touch(region, 0, size);
                        state("grown");
                }
        }

        /* leak, sawtooth */
        for (;;) {
                (void) wait_usr1(arg_interval_ms);
                if (used + step > size) {
                        if (strcmp(mode, "leak") == 0) {
                                state("full");
                                hold_forever();
                        }
                        release(region, size);
                        used = 0;
                        state("fell");
                        continue;
                }
                touch(region, used, used + step);
                used += step;
        }
}

static void run_fds(void) {
        int fds[FDS_MAX];

        for (long i = 0; i < arg_count; i++) {
                if (arg_interval_ms > 0)
                        (void) wait_usr1(arg_interval_ms);
                fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (fds[i] < 0)
                        die("open /dev/null (descriptor %ld): %m", i);
        }
        state("opened");
        for (;;) {
                (void) wait_usr1(-1);
                for (long i = 0; i < arg_count; i++)
                        (void) close(fds[i]);
                state("closed");
                (void) wait_usr1(-1);
                for (long i = 0; i < arg_count; i++) {
                        fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                        if (fds[i] < 0)
                                die("open /dev/null (descriptor %ld): %m", i);
                }
                state("opened");
        }
}

/* Spins while told to: each SIGUSR1 toggles. */
static void spin_loop(bool spinning) {
        static const struct timespec zero = {};
        volatile unsigned long sink = 0;

        if (arg_nice != 0 && setpriority(PRIO_PROCESS, 0, arg_nice) < 0)
                die("setpriority: %m");
        state(spinning ? "spinning" : "idle");
        for (;;) {
                if (!spinning) {
                        (void) wait_usr1(-1);
                        spinning = true;
                        state("spinning");
                        continue;
                }
                for (unsigned long i = 0; i < 1000000; i++)
                        sink += i;
                if (sigtimedwait(&usr1, NULL, &zero) == SIGUSR1) {
                        spinning = false;
                        state("idle");
                }
        }
}

static void run_spin(void) {
        pid_t child;

        if (!arg_child)
                spin_loop(!arg_idle);

        child = fork();
        if (child < 0)
                die("fork: %m");
        if (child == 0) {
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                        die("prctl: %m");
                spin_loop(!arg_idle);
        }
        /* The parent passes each SIGUSR1 on and otherwise only waits. */
        for (;;) {
                (void) wait_usr1(-1);
                if (kill(child, SIGUSR1) < 0)
                        die("kill: %m");
        }
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "step", required_argument, NULL, 's' },
                { "interval", required_argument, NULL, 'i' },
                { "max", required_argument, NULL, 'm' },
                { "after", required_argument, NULL, 'a' },
                { "count", required_argument, NULL, 'c' },
                { "idle", no_argument, NULL, 'I' },
                { "child", no_argument, NULL, 'C' },
                { "nice", required_argument, NULL, 'n' },
                { "pid-file", required_argument, NULL, 'p' },
                { "state", required_argument, NULL, 'S' },
                {}
        };
        const char *mode;
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 's': arg_step_kib = parse_long(optarg, 4, 1L << 20, "--step"); break;
                case 'i': arg_interval_ms = parse_long(optarg, 0, 60000, "--interval"); break;
                case 'm': arg_max_mib = parse_long(optarg, 1, 4096, "--max"); break;
                case 'a': arg_after_ms = parse_long(optarg, 0, 3600000, "--after"); break;
                case 'c': arg_count = parse_long(optarg, 1, FDS_MAX, "--count"); break;
                case 'I': arg_idle = true; break;
                case 'C': arg_child = true; break;
                case 'n': arg_nice = (int) parse_long(optarg, -20, 19, "--nice"); break;
                case 'p': arg_pid_file = optarg; break;
                case 'S': arg_state = optarg; break;
                default: die("unknown option");
                }
        if (optind + 1 != argc)
                die("usage: vt-hog leak|sawtooth|step|hold|fds|spin [OPTIONS]");
        mode = argv[optind];

        /* SIGUSR1 is only ever taken with sigtimedwait(); SIGTERM keeps its default. */
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        if (sigprocmask(SIG_BLOCK, &usr1, NULL) < 0)
                die("sigprocmask: %m");
        write_pid_file();

        if (strcmp(mode, "leak") == 0 || strcmp(mode, "sawtooth") == 0 || strcmp(mode, "step") == 0 ||
            strcmp(mode, "hold") == 0)
                run_memory(mode);
        else if (strcmp(mode, "fds") == 0)
                run_fds();
        else if (strcmp(mode, "spin") == 0)
                run_spin();
        die("unknown mode \"%s\"", mode);
}
