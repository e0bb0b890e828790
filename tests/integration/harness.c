/* The integration scenario runner, used by automake as SH_LOG_COMPILER: runs one scenario
 * script with bash inside a cgroup v2 subtree of its own, as a child subreaper, under a
 * timeout, then checks that the scenario left nothing behind (the subtree is unpopulated),
 * kills and reports whatever it left, and removes the subtree. It kills only through the
 * scenario's cgroup (cgroup.kill, or the pids listed in its cgroup.procs files), never by name.
 * Exit status: the script's (0 pass, 77 skip, 99 hard error, other fail); 1 when the script
 * left processes behind, timed out or died of a signal; 77 without root or a writable cgroup2. */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "fileio.h"
#include "macro.h"

#define EXIT_SKIP 77
#define EXIT_HARD_ERROR 99
#define DEFAULT_TIMEOUT_SEC 600
#define DRAIN_TIMEOUT_MSEC 30000   /* how long killed leftovers may take to disappear */
#define REMOVE_TIMEOUT_MSEC 5000   /* how long rmdir may keep answering EBUSY */

static const char *arg_script;
static char *scenario_path;        /* absolute path of the scenario cgroup */
static pid_t script_pid;
static int script_status = -1;     /* wait status of the script once reaped */

static void say(const char *fmt, ...) _printf_(1, 2);
static void say(const char *fmt, ...) {
        va_list ap;

        fputs("harness: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static uint64_t now_msec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000U + (uint64_t) ts.tv_nsec / 1000000U;
}

/* Reads a whole (small, possibly virtual) file into a NUL-terminated buffer. */
#define PROC_FILE_MAX (16U * 1024U * 1024U)

static int read_full(const char *path, char **ret, size_t *ret_size) {
        return read_full_file(path, PROC_FILE_MAX, ret, ret_size);
}

/* The cgroup2 mount point and this process's cgroup, parsed by the same code vigild uses. */
static int find_cgroup2_mount(char **ret) {
        _cleanup_free_ char *text = NULL;
        int r = read_full("/proc/self/mountinfo", &text, NULL);

        return r < 0 ? r : cgroup_parse_mountinfo(text, ret);
}

static int find_own_cgroup(char **ret) {
        _cleanup_free_ char *text = NULL;
        int r = read_full("/proc/self/cgroup", &text, NULL);

        return r < 0 ? r : cgroup_parse_self(text, ret);
}

/* Calls fn for every directory of the subtree at root, children before their parent. nftw()
 * has no user data pointer, hence the file-scope slot. */
static int (*walk_fn)(const char *dir);
static int walk_result;

static int walk_one(const char *fpath, const struct stat *sb, int typeflag, struct FTW *ftwbuf) {
        int r;

        if (typeflag != FTW_DP && typeflag != FTW_D)
                return 0;
        r = walk_fn(fpath);
        if (r < 0 && walk_result >= 0)
                walk_result = r;
        return 0;
}

static int walk_cgroups(const char *root, int (*fn)(const char *dir)) {
        walk_fn = fn;
        walk_result = 0;
        if (nftw(root, walk_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
                return -errno;
        return walk_result;
}

/* Prints every process of one cgroup with its command line. */
static int print_procs(const char *dir) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        const char *rel = dir + strlen(scenario_path);
        int r;

        if (asprintf(&path, "%s/cgroup.procs", dir) < 0)
                return -ENOMEM;
        r = read_full(path, &text, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        for (char *line = text, *next; line && *line; line = next) {
                _cleanup_free_ char *cmdpath = NULL, *cmdline = NULL;
                size_t size = 0;

                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (asprintf(&cmdpath, "/proc/%s/cmdline", line) < 0)
                        return -ENOMEM;
                if (read_full(cmdpath, &cmdline, &size) >= 0) {
                        for (size_t i = 0; i + 1 < size; i++)
                                if (cmdline[i] == '\0')
                                        cmdline[i] = ' ';
                } else
                        cmdline = strdup("(gone)");
                say("left behind: pid %s in %s: %s", line, *rel ? rel : "/",
                    cmdline && *cmdline ? cmdline : "(no command line: kernel thread or zombie)");
        }
        return 0;
}

/* SIGKILLs every process listed in one cgroup: the fallback where cgroup.kill is missing. */
static int kill_procs(const char *dir) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        if (asprintf(&path, "%s/cgroup.procs", dir) < 0)
                return -ENOMEM;
        r = read_full(path, &text, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                (void) kill((pid_t) atoi(line), SIGKILL);
        }
        return 0;
}

static void kill_scenario(void) {
        _cleanup_free_ char *path = NULL;
        int r;

        if (asprintf(&path, "%s/cgroup.kill", scenario_path) < 0)
                r = -ENOMEM;
        else
                r = write_string_file(path, "1");
        if (r < 0) {
                say("cgroup.kill failed (%s), killing the listed pids", strerror(-r));
                (void) walk_cgroups(scenario_path, kill_procs);
        }
}

static int rmdir_one(const char *dir) {
        return RET_NERRNO(rmdir(dir));
}

/* Removes the scenario subtree depth-first. A cgroup whose last process has just been reaped
 * may refuse rmdir() with EBUSY for a moment; retry within a deadline. */
static int remove_scenario(void) {
        uint64_t deadline = now_msec() + REMOVE_TIMEOUT_MSEC;
        struct timespec pause = { .tv_nsec = 10 * 1000 * 1000 };
        int r;

        for (;;) {
                r = walk_cgroups(scenario_path, rmdir_one);
                if (r != -EBUSY || now_msec() >= deadline)
                        return r;
                (void) nanosleep(&pause, NULL);
        }
}

/* Reaps every child that has ended: the script, and any orphan that came to us. */
static void reap(void) {
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);

                if (pid <= 0)
                        return;
                if (pid == script_pid)
                        script_status = status;
        }
}

/* Drains the signalfd. Returns the first termination signal read, or 0. */
static int drain_signals(int sfd) {
        struct signalfd_siginfo si;
        int term = 0;

        while (read(sfd, &si, sizeof(si)) == (ssize_t) sizeof(si))
                if (si.ssi_signo != SIGCHLD && term == 0)
                        term = (int) si.ssi_signo;
        return term;
}

/* Waits until the scenario cgroup is unpopulated, reaping whatever comes to us meanwhile.
 * cgroup.events raises POLLPRI on every change of "populated". */
static int wait_unpopulated(int sfd, unsigned timeout_msec) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int efd = -EBADF;
        uint64_t deadline = now_msec() + timeout_msec;

        if (asprintf(&path, "%s/cgroup.events", scenario_path) < 0)
                return -ENOMEM;
        efd = open(path, O_RDONLY | O_CLOEXEC);
        for (;;) {
                struct pollfd p[2] = {
                        { .fd = sfd, .events = POLLIN },
                        { .fd = efd, .events = POLLPRI },
                };
                uint64_t t = now_msec();
                int r;

                reap();
                r = cgroup_is_populated(scenario_path);
                if (r <= 0)
                        return r;
                if (t >= deadline)
                        return -ETIMEDOUT;
                /* The 100 ms cap only bounds the wait should a notification be missed. */
                (void) poll(p, efd >= 0 ? 2 : 1, (int) MIN(deadline - t, 100U));
                (void) drain_signals(sfd);
        }
}

static int parse_timeout(void) {
        const char *e = getenv("VIGIL_TEST_TIMEOUT");
        char *end;
        long v;

        if (!e || !*e)
                return DEFAULT_TIMEOUT_SEC;
        errno = 0;
        v = strtol(e, &end, 10);
        if (errno != 0 || *end != '\0' || v <= 0 || v > INT_MAX / 1000) {
                say("ignoring invalid VIGIL_TEST_TIMEOUT=%s", e);
                return DEFAULT_TIMEOUT_SEC;
        }
        return (int) v;
}

/* The scenario cgroup's name: vigil-test-<script name without .sh>-<our pid>. */
static int scenario_name(const char *script, char **ret) {
        const char *base = strrchr(script, '/');
        size_t len;

        base = base ? base + 1 : script;
        len = strlen(base);
        if (len > 3 && streq(base + len - 3, ".sh"))
                len -= 3;
        if (asprintf(ret, "vigil-test-%.*s-%d", (int) len, base, (int) getpid()) < 0)
                return -ENOMEM;
        return 0;
}

/* The kernel's struct sigaction, for the signals glibc's sigaction() refuses to touch. */
struct kernel_sigaction {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        uint64_t mask;
};

/* Gives the script default dispositions for every signal. GNU make 4.3 runs its recipes with
 * signals 32 and 33 (glibc's internal SIGCANCEL and SIGSETXID) ignored, a state that glibc's
 * sigaction() can neither see nor undo; the scenarios would inherit it all the way down. */
static void reset_signals(void) {
        sigset_t none;

        for (int sig = 1; sig < _NSIG; sig++) {
                struct sigaction sa;

                if (sig == SIGKILL || sig == SIGSTOP)
                        continue;
                if (sigaction(sig, NULL, &sa) < 0) {
                        struct kernel_sigaction ksa = { .handler = SIG_DFL };

                        (void) syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof(ksa.mask));
                } else if (sa.sa_handler == SIG_IGN)
                        (void) signal(sig, SIG_DFL);
        }
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
}

static _noreturn_ void run_script(int procs_fd, char **argv) {
        size_t n = 0;

        reset_signals();
        if (write(procs_fd, "0", 1) != 1) {
                say("cannot move the script into its cgroup: %m");
                _exit(EXIT_HARD_ERROR);
        }
        if (setenv("SCENARIO_CGROUP", scenario_path, 1) < 0)
                _exit(EXIT_HARD_ERROR);

        while (argv[n])
                n++;
        char *args[n + 2];
        args[0] = (char *) "bash";
        for (size_t i = 0; i <= n; i++)
                args[i + 1] = argv[i];
        execv("/bin/bash", args);
        say("cannot execute /bin/bash: %m");
        _exit(EXIT_HARD_ERROR);
}

int main(int argc, char *argv[]) {
        _cleanup_free_ char *mount = NULL, *own = NULL, *name = NULL, *leaf = NULL, *procs = NULL;
        _cleanup_close_ int sfd = -EBADF, procs_fd = -EBADF;
        bool timed_out = false, leftovers = false;
        int term_signal = 0, timeout_sec, r, ret;
        uint64_t deadline;
        sigset_t mask;

        if (argc < 2) {
                fprintf(stderr, "usage: %s SCRIPT [ARGS...]\n", argv[0]);
                return EXIT_HARD_ERROR;
        }
        arg_script = argv[1];
        timeout_sec = parse_timeout();

        if (geteuid() != 0) {
                say("SKIP: the integration scenarios need root");
                return EXIT_SKIP;
        }
        r = find_cgroup2_mount(&mount);
        if (r < 0) {
                say("SKIP: no cgroup2 file system mounted (%s)", strerror(-r));
                return EXIT_SKIP;
        }
        r = find_own_cgroup(&own);
        if (r < 0) {
                say("SKIP: no cgroup v2 membership in /proc/self/cgroup (%s)", strerror(-r));
                return EXIT_SKIP;
        }
        r = scenario_name(arg_script, &name);
        if (r < 0)
                return EXIT_HARD_ERROR;
        if (asprintf(&scenario_path, "%s%s%s%s", mount, streq(own, "/") ? "" : own, "/", name) < 0)
                return EXIT_HARD_ERROR;

        if (mkdir(scenario_path, 0755) < 0) {
                if (errno == EACCES || errno == EPERM || errno == EROFS) {
                        say("SKIP: cannot create %s: %m", scenario_path);
                        return EXIT_SKIP;
                }
                say("cannot create %s: %m", scenario_path);
                return EXIT_HARD_ERROR;
        }
        if (asprintf(&leaf, "%s/script", scenario_path) < 0 || mkdir(leaf, 0755) < 0) {
                say("cannot create the script leaf: %m");
                (void) remove_scenario();
                return EXIT_HARD_ERROR;
        }
        if (asprintf(&procs, "%s/cgroup.procs", leaf) < 0)
                return EXIT_HARD_ERROR;
        procs_fd = open(procs, O_WRONLY | O_CLOEXEC);
        if (procs_fd < 0) {
                say("cannot open %s: %m", procs);
                (void) remove_scenario();
                return EXIT_HARD_ERROR;
        }

        /* Whoever reads our output may go away (make interrupted, a pipe into head): we must
         * still clean up. The script gets SIGPIPE back from reset_signals(). */
        (void) signal(SIGPIPE, SIG_IGN);

        /* Orphans of the scenario (daemons, double-forked workers) come to us and are reaped. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
                say("PR_SET_CHILD_SUBREAPER failed: %m");
                (void) remove_scenario();
                return EXIT_HARD_ERROR;
        }

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
            (sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
                say("cannot set up signals: %m");
                (void) remove_scenario();
                return EXIT_HARD_ERROR;
        }

        fflush(NULL);
        script_pid = fork();
        if (script_pid < 0) {
                say("fork failed: %m");
                (void) remove_scenario();
                return EXIT_HARD_ERROR;
        }
        if (script_pid == 0)
                run_script(procs_fd, argv + 1);
        procs_fd = safe_close(procs_fd);

        deadline = now_msec() + (uint64_t) timeout_sec * 1000U;
        while (script_status < 0) {
                struct pollfd p = { .fd = sfd, .events = POLLIN };
                uint64_t t = now_msec();

                if (t >= deadline) {
                        say("TIMEOUT: %s still running after %d s (VIGIL_TEST_TIMEOUT), killing the scenario",
                            arg_script, timeout_sec);
                        timed_out = true;
                        break;
                }
                r = poll(&p, 1, (int) MIN(deadline - t, (uint64_t) INT_MAX));
                if (r < 0 && errno != EINTR) {
                        say("poll failed: %m");
                        break;
                }
                term_signal = drain_signals(sfd);
                reap();
                if (term_signal != 0) {
                        say("got %s, killing the scenario", strsignal(term_signal));
                        break;
                }
        }

        if (timed_out || term_signal != 0 || script_status < 0)
                kill_scenario();
        else {
                r = cgroup_is_populated(scenario_path);
                if (r < 0)
                        say("cannot read %s/cgroup.events: %s", scenario_path, strerror(-r));
                else if (r > 0) {
                        say("FAIL: the scenario left processes behind:");
                        (void) walk_cgroups(scenario_path, print_procs);
                        leftovers = true;
                        kill_scenario();
                }
        }

        r = wait_unpopulated(sfd, DRAIN_TIMEOUT_MSEC);
        if (r < 0) {
                say("the scenario cgroup %s did not empty (%s); leaving it in place", scenario_path,
                    strerror(-r));
                return EXIT_HARD_ERROR;
        }
        reap();

        if (term_signal != 0)
                ret = EXIT_HARD_ERROR;
        else if (timed_out)
                ret = 1;
        else if (script_status < 0)
                ret = EXIT_HARD_ERROR;
        else if (WIFSIGNALED(script_status)) {
                say("FAIL: the script was killed by %s", strsignal(WTERMSIG(script_status)));
                ret = 1;
        } else if (leftovers)
                ret = 1;
        else
                ret = WEXITSTATUS(script_status);

        r = remove_scenario();
        if (r < 0) {
                say("cannot remove %s: %s", scenario_path, strerror(-r));
                if (ret == 0)
                        ret = EXIT_HARD_ERROR;
        }
        return ret;
}
