/* vt-worker: the one small program the integration scenarios run as a worker. Flags combine;
 * without any it pause()s forever with the signal dispositions it was given. It records what
 * the scenarios assert on (start stamps, its credentials, signal state and environment, the
 * SIGTERM it got) in files, each line written with one write() so that readers never see half
 * a line. It sleeps with nanosleep(): it is a worker, not the daemon. It never dumps core.
 *
 *   --stamp FILE            append "start PID INSTANCE MONOTONIC_USEC" (INSTANCE from VIGIL_INSTANCE)
 *   --exit CODE             exit with CODE (after --after)
 *   --crash SIGNAL          die of SIGNAL, a name (SEGV, SIGSEGV) or number (after --after)
 *   --after MS              delay before --exit/--crash/--crash-if-exists (default 0)
 *   --crash-if-exists FILE  after --after: die of SIGSEGV if FILE exists, else run forever
 *   --ignore-term           ignore SIGTERM
 *   --double-fork PIDFILE   fork a child that forks a grandchild and exits; the grandchild calls
 *                           setsid(), writes its pid to PIDFILE and pauses forever
 *   --report FILE           write uid/gid/groups, pgid, sid, SigBlk/SigIgn/SigCgt, the cgroup
 *                           line, limits and the environment to FILE (atomically, by rename)
 *   --term-log FILE         on SIGTERM append "term PID" to FILE, then die of SIGTERM
 *   --now                   print CLOCK_MONOTONIC in microseconds (the stamps' clock) and exit */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helper-util.h"

extern char **environ;

static const char *arg_stamp;
static int arg_exit = -1;
static int arg_crash;
static long arg_after_ms;
static const char *arg_crash_if_exists;
static int arg_ignore_term;
static const char *arg_double_fork;
static const char *arg_report;
static const char *arg_term_log;

static void pause_forever(void) {
        for (;;)
                pause();
}

static int parse_signal(const char *s) {
        char *end;
        long v;

        if (strncmp(s, "SIG", 3) == 0)
                s += 3;
        for (int sig = 1; sig < NSIG; sig++) {
                const char *abbrev = sigabbrev_np(sig);

                if (abbrev && strcmp(abbrev, s) == 0)
                        return sig;
        }
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || *end != '\0' || v <= 0 || v >= NSIG)
                die("unknown signal '%s'", s);
        return (int) v;
}

/* Writes path.tmp.PID and renames it over path, so that a reader sees all of it or nothing. */
static void write_atomic(const char *path, const char *buf, size_t len) {
        char tmp[PATH_MAX];
        int fd;

        if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int) getpid()) >= (int) sizeof(tmp))
                die("path too long: %s", path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                die("cannot create %s: %m", tmp);
        if (write(fd, buf, len) != (ssize_t) len)
                die("cannot write %s: %m", tmp);
        if (close(fd) < 0 || rename(tmp, path) < 0)
                die("cannot write %s: %m", path);
}

/* Only async-signal-safe calls: formats "term PID\n" by hand, appends it, dies of SIGTERM. */
static void on_term(int sig) {
        char buf[32] = "term ", digits[16];
        size_t len = 5, n = 0;
        unsigned pid = (unsigned) getpid();
        int fd;

        do
                digits[n++] = (char) ('0' + pid % 10);
        while ((pid /= 10) > 0);
        while (n > 0)
                buf[len++] = digits[--n];
        buf[len++] = '\n';

        fd = open(arg_term_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) {
                (void) !write(fd, buf, len);
                (void) close(fd);
        }
        /* Still blocked while the handler runs: delivered, with the default action, on return. */
        (void) signal(sig, SIG_DFL);
        (void) raise(sig);
}

static void stamp(void) {
        const char *instance = getenv("VIGIL_INSTANCE");

        append_line(arg_stamp, "start %d %s %llu\n", (int) getpid(), instance ? instance : "-", now_usec());
}

/* Appends the lines of a /proc file that start with one of the prefixes. */
static void copy_proc_lines(FILE *out, const char *path, const char *const *prefixes, const char *label) {
        FILE *f = fopen(path, "re");
        char line[4096];

        if (!f)
                die("cannot open %s: %m", path);
        while (fgets(line, sizeof(line), f))
                for (const char *const *p = prefixes; *p; p++)
                        if (strncmp(line, *p, strlen(*p)) == 0)
                                fprintf(out, "%s%s", label, line);
        (void) fclose(f);
}

static void report(void) {
        static const char *const status_keys[] = { "SigBlk:", "SigIgn:", "SigCgt:", "Umask:", NULL };
        static const char *const cgroup_keys[] = { "0::", NULL };
        uid_t ruid, euid, suid;
        gid_t rgid, egid, sgid;
        gid_t groups[NGROUPS_MAX];
        struct rlimit nofile;
        char *buf = NULL, cwd[PATH_MAX];
        size_t size = 0;
        FILE *out;
        int n;

        out = open_memstream(&buf, &size);
        if (!out)
                die("open_memstream: %m");
        if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0)
                die("getresuid: %m");
        fprintf(out, "pid %d\n", (int) getpid());
        fprintf(out, "uid %u %u %u\n", (unsigned) ruid, (unsigned) euid, (unsigned) suid);
        fprintf(out, "gid %u %u %u\n", (unsigned) rgid, (unsigned) egid, (unsigned) sgid);
        n = getgroups((int) (sizeof(groups) / sizeof(groups[0])), groups);
        if (n < 0)
                die("getgroups: %m");
        fputs("groups", out);
        for (int i = 0; i < n; i++)
                fprintf(out, " %u", (unsigned) groups[i]);
        fputc('\n', out);
        fprintf(out, "pgid %d\n", (int) getpgid(0));
        fprintf(out, "sid %d\n", (int) getsid(0));
        copy_proc_lines(out, "/proc/self/status", status_keys, "");
        copy_proc_lines(out, "/proc/self/cgroup", cgroup_keys, "cgroup ");
        if (getrlimit(RLIMIT_NOFILE, &nofile) < 0)
                die("getrlimit: %m");
        fprintf(out, "nofile %llu %llu\n", (unsigned long long) nofile.rlim_cur,
                (unsigned long long) nofile.rlim_max);
        fprintf(out, "cwd %s\n", getcwd(cwd, sizeof(cwd)) ? cwd : "?");
        for (char **e = environ; e && *e; e++)
                fprintf(out, "env %s\n", *e);
        if (fclose(out) != 0)
                die("cannot format the report");
        write_atomic(arg_report, buf, size);
        free(buf);
}

static void double_fork(void) {
        pid_t middle = fork(), grandchild;
        int status;

        if (middle < 0)
                die("fork: %m");
        if (middle == 0) {
                grandchild = fork();
                if (grandchild == 0) {
                        char buf[32];
                        int len;

                        if (setsid() < 0)
                                die("setsid: %m");
                        len = snprintf(buf, sizeof(buf), "%d\n", (int) getpid());
                        write_atomic(arg_double_fork, buf, (size_t) len);
                        pause_forever();
                }
                _exit(grandchild < 0 ? 1 : 0);
        }
        if (waitpid(middle, &status, 0) < 0)
                die("waitpid: %m");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                die("the middle child failed");
}

static void crash(int sig) {
        struct rlimit none = { 0, 0 };
        sigset_t set;

        /* No core files, whatever core_pattern says. */
        (void) setrlimit(RLIMIT_CORE, &none);
        (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        (void) signal(sig, SIG_DFL);
        sigemptyset(&set);
        sigaddset(&set, sig);
        (void) sigprocmask(SIG_UNBLOCK, &set, NULL);
        (void) raise(sig);
        die("still alive after raising signal %d", sig);
}

static void parse_argv(int argc, char *argv[]) {
        enum {
                ARG_STAMP = 0x100,
                ARG_EXIT,
                ARG_CRASH,
                ARG_AFTER,
                ARG_CRASH_IF_EXISTS,
                ARG_IGNORE_TERM,
                ARG_DOUBLE_FORK,
                ARG_REPORT,
                ARG_TERM_LOG,
                ARG_NOW,
        };
        static const struct option options[] = {
                { "stamp", required_argument, NULL, ARG_STAMP },
                { "exit", required_argument, NULL, ARG_EXIT },
                { "crash", required_argument, NULL, ARG_CRASH },
                { "after", required_argument, NULL, ARG_AFTER },
                { "crash-if-exists", required_argument, NULL, ARG_CRASH_IF_EXISTS },
                { "ignore-term", no_argument, NULL, ARG_IGNORE_TERM },
                { "double-fork", required_argument, NULL, ARG_DOUBLE_FORK },
                { "report", required_argument, NULL, ARG_REPORT },
                { "term-log", required_argument, NULL, ARG_TERM_LOG },
                { "now", no_argument, NULL, ARG_NOW },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case ARG_STAMP:
                        arg_stamp = optarg;
                        break;
                case ARG_EXIT:
                        arg_exit = (int) parse_long(optarg, 0, 255, "exit code");
                        break;
                case ARG_CRASH:
                        arg_crash = parse_signal(optarg);
                        break;
                case ARG_AFTER:
                        arg_after_ms = parse_long(optarg, 0, 24L * 3600 * 1000, "duration");
                        break;
                case ARG_CRASH_IF_EXISTS:
                        arg_crash_if_exists = optarg;
                        break;
                case ARG_IGNORE_TERM:
                        arg_ignore_term = 1;
                        break;
                case ARG_DOUBLE_FORK:
                        arg_double_fork = optarg;
                        break;
                case ARG_REPORT:
                        arg_report = optarg;
                        break;
                case ARG_TERM_LOG:
                        arg_term_log = optarg;
                        break;
                case ARG_NOW:
                        /* The clock of the start stamps, for scenarios to compare with. */
                        printf("%llu\n", now_usec());
                        exit(0);
                default:
                        exit(2);
                }
        if (optind < argc)
                die("unexpected argument '%s'", argv[optind]);
}

int main(int argc, char *argv[]) {
        parse_argv(argc, argv);

        /* Handlers first: a stop may come as soon as a stamp or report is visible. */
        if (arg_term_log) {
                struct sigaction sa = { .sa_handler = on_term };

                sigemptyset(&sa.sa_mask);
                if (sigaction(SIGTERM, &sa, NULL) < 0)
                        die("sigaction: %m");
        }
        if (arg_ignore_term)
                (void) signal(SIGTERM, SIG_IGN);

        if (arg_stamp)
                stamp();
        if (arg_report)
                report();
        if (arg_double_fork)
                double_fork();

        if (arg_after_ms > 0 && (arg_crash_if_exists || arg_crash || arg_exit >= 0))
                delay_ms(arg_after_ms);
        if (arg_crash_if_exists) {
                if (access(arg_crash_if_exists, F_OK) == 0)
                        crash(SIGSEGV);
                pause_forever();
        }
        if (arg_crash)
                crash(arg_crash);
        if (arg_exit >= 0)
                exit(arg_exit);
        pause_forever();
        return 0;
}
