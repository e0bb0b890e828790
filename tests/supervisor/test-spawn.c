/* Tests for supervisor/spawn.c: real workers (/bin/cat, /bin/sh, /usr/bin/env) spawned with a
 * hand-filled WorkerConfig, their output captured through a pipe or a file, checked for
 * process group, signal state, environment, umask, rlimits, cwd, identity, cgroup and
 * inherited fds, plus the child's error reports. Every child is reaped, and each test checks
 * that it leaves the number of open fds of this process unchanged. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test-util.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cgroup.h"
#include "clone.h"
#include "hooks.h"
#include "spawn.h"
#include "strv.h"
#include "time-util.h"

#define TIMEOUT_MSEC 10000

/* Valgrind virtualises RLIMIT_NOFILE: in a (not yet exec'd) child under valgrind, setrlimit()
 * of it fails unless the hard limit stays valgrind's own, and never reaches the kernel. */
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND (RUNNING_ON_VALGRIND != 0)
#else
#define UNDER_VALGRIND false
#endif

/* ---- helpers ---- */

/* Set for the second run of the tests, which disables the vfork-style path. */
static bool fork_path;

/* Per-test scratch: a private temporary directory and, for the cgroup test, a cgroup; both
 * are removed by the teardown whether the test passed or not. */
typedef struct TestState {
        unsigned n_fds;
        char dir[64];
        char *cgroup;
} TestState;

static int test_setup(void **state) {
        TestState *t;

        t = calloc(1, sizeof(TestState));
        if (!t)
                return -1;
        t->n_fds = count_fds();
        (void) snprintf(t->dir, sizeof t->dir, "/tmp/vigil-test-spawn-XXXXXX");
        if (!mkdtemp(t->dir)) {
                free(t);
                return -1;
        }
        *state = t;
        return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

static void remove_cgroup(const char *path) {
        usec_t deadline = now(CLOCK_MONOTONIC) + 10 * USEC_PER_SEC;
        int ifd;

        (void) cgroup_kill(path);
        ifd = inotify_init1(IN_CLOEXEC);
        if (ifd >= 0) {
                char *events = NULL;

                if (asprintf(&events, "%s/cgroup.events", path) >= 0)
                        (void) inotify_add_watch(ifd, events, IN_MODIFY);
                free(events);
        }
        while (cgroup_is_populated(path) > 0 && now(CLOCK_MONOTONIC) < deadline) {
                struct pollfd pfd = { .fd = ifd, .events = POLLIN };
                char buf[4096];

                if (poll(&pfd, 1, 100) > 0)
                        (void) read(ifd, buf, sizeof buf);
        }
        (void) safe_close(ifd);
        (void) cgroup_remove(path);
}

static int test_teardown(void **state) {
        TestState *t = *state;
        unsigned n_fds;

        if (t->cgroup) {
                remove_cgroup(t->cgroup);
                free(t->cgroup);
        }
        /* Reap whatever a failed test left behind, without blocking. */
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
        (void) nftw(t->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);

        n_fds = count_fds();
        if (n_fds != t->n_fds) {
                print_error("fd count changed: %u before, %u after\n", t->n_fds, n_fds);
                free(t);
                return -1;
        }
        free(t);
        return 0;
}

static void worker_init(WorkerConfig *w, char **argv) {
        *w = (WorkerConfig) {
                .name = (char *) "w",
                .argv = argv,
                .instances = 1,
                .umask = 0022,
                .output = { { .kind = OUTPUT_JOURNAL }, { .kind = OUTPUT_JOURNAL } },
        };
}

static SpawnParams params(const WorkerConfig *w) {
        return (SpawnParams) {
                .worker = w,
                .instance = 0,
                .stdout_fd = -EBADF,
                .stderr_fd = -EBADF,
        };
}

/* Waits for the error pipe to say exec succeeded (0) or the child failed (1). */
static int wait_exec(int errfd, SpawnStage *ret_stage, int *ret_errno) {
        struct pollfd pfd = { .fd = errfd, .events = POLLIN };

        assert_int_equal(poll(&pfd, 1, TIMEOUT_MSEC), 1);
        return spawn_read_error(errfd, ret_stage, ret_errno);
}

static int reap(pid_t pid, int pidfd) {
        struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
        int status;

        assert_int_equal(poll(&pfd, 1, TIMEOUT_MSEC), 1);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return status;
}

typedef struct Run {
        pid_t pid;
        int status;
        int stage_result;   /* spawn_read_error(): 0 exec'd, 1 failed */
        SpawnStage stage;
        int error;
        char out[16384];
} Run;

/* Spawns p with stdout on a pipe, collects all output, waits for exit. */
static void run(SpawnParams *p, Run *ret) {
        int pipefd[2], pidfd, errfd;
        size_t size = 0;

        *ret = (Run) {};
        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        p->stdout_fd = pipefd[1];
        assert_int_equal(spawn_worker(p, &ret->pid, &pidfd, &errfd), 0);
        (void) close(pipefd[1]);
        p->stdout_fd = -EBADF;

        for (;;) {
                ssize_t n = read(pipefd[0], ret->out + size, sizeof ret->out - 1 - size);

                assert_true(n >= 0);
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        ret->out[size] = '\0';
        (void) close(pipefd[0]);

        ret->stage_result = wait_exec(errfd, &ret->stage, &ret->error);
        ret->status = reap(ret->pid, pidfd);
        (void) close(errfd);
        (void) close(pidfd);
}

static void assert_exited_ok(const Run *r) {
        assert_int_equal(r->stage_result, 0);
        assert_true(WIFEXITED(r->status));
        assert_int_equal(WEXITSTATUS(r->status), 0);
}

/* The value after "key:" in /proc/PID/status style text, up to the end of the line. */
static char *status_field(const char *text, const char *key, char *buf, size_t size) {
        const char *p = text, *eol;
        size_t klen = strlen(key);

        for (;;) {
                if (strncmp(p, key, klen) == 0 && p[klen] == ':')
                        break;
                p = strchr(p, '\n');
                assert_non_null(p);
                p++;
        }
        p += klen + 1;
        while (*p == '\t' || *p == ' ')
                p++;
        eol = strchrnul(p, '\n');
        while (eol > p && (eol[-1] == ' ' || eol[-1] == '\t'))
                eol--;
        assert_true((size_t) (eol - p) < size);
        memcpy(buf, p, (size_t) (eol - p));
        buf[eol - p] = '\0';
        return buf;
}

static bool has_line(const char *text, const char *line) {
        size_t len = strlen(line);

        for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, line, len) == 0 && (p[len] == '\n' || p[len] == '\0'))
                        return true;
        return false;
}

static bool has_var(const char *text, const char *name) {
        size_t len = strlen(name);

        for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, name, len) == 0 && p[len] == '=')
                        return true;
        return false;
}

/* ---- spawn_build_env ---- */

static void test_build_env_order_and_override(void **state) {
        char *argv[] = { (char *) "/bin/true", NULL };
        char *config_env[] = { (char *) "FOO=config", (char *) "PATH=/opt/bin", NULL };
        char *extra[] = { (char *) "FOO=extra", (char *) "BAZ=x", (char *) "VIGIL_INSTANCE=9", NULL };
        char *saved_lang = getenv("LANG") ? strdup(getenv("LANG")) : NULL;
        char want[PATH_MAX];
        struct passwd *pw;
        WorkerConfig w;
        char **env = NULL;

        worker_init(&w, argv);
        w.environment = config_env;
        w.has_user = true;
        w.user = (char *) "alice";
        w.home = (char *) "/home/alice";
        w.shell = (char *) "/bin/zsh";
        assert_int_equal(setenv("LANG", "de_DE.UTF-8", 1), 0);

        assert_int_equal(spawn_build_env(&w, 3, extra, &env), 0);
        assert_string_equal(strv_env_get(env, "FOO"), "FOO=config");
        assert_string_equal(strv_env_get(env, "BAZ"), "BAZ=x");
        assert_string_equal(strv_env_get(env, "PATH"), "PATH=/opt/bin");
        assert_string_equal(strv_env_get(env, "VIGIL_WORKER"), "VIGIL_WORKER=w");
        assert_string_equal(strv_env_get(env, "VIGIL_INSTANCE"), "VIGIL_INSTANCE=9");
        assert_string_equal(strv_env_get(env, "LANG"), "LANG=de_DE.UTF-8");
        assert_string_equal(strv_env_get(env, "HOME"), "HOME=/home/alice");
        assert_string_equal(strv_env_get(env, "USER"), "USER=alice");
        assert_string_equal(strv_env_get(env, "LOGNAME"), "LOGNAME=alice");
        assert_string_equal(strv_env_get(env, "SHELL"), "SHELL=/bin/zsh");
        assert_int_equal(strv_length(env), 10);
        strv_free(env);

        assert_int_equal(unsetenv("LANG"), 0);
        w.environment = NULL;
        assert_int_equal(spawn_build_env(&w, 3, NULL, &env), 0);
        assert_string_equal(strv_env_get(env, "LANG"), "LANG=C.UTF-8");
        assert_string_equal(strv_env_get(env, "VIGIL_INSTANCE"), "VIGIL_INSTANCE=3");
        assert_string_equal(strv_env_get(env, "PATH"),
                            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        strv_free(env);

        /* Without a configured user the identity is vigild's own. */
        w.has_user = false;
        pw = getpwuid(geteuid());
        assert_non_null(pw);
        assert_int_equal(spawn_build_env(&w, 0, NULL, &env), 0);
        (void) snprintf(want, sizeof want, "USER=%s", pw->pw_name);
        assert_string_equal(strv_env_get(env, "USER"), want);
        (void) snprintf(want, sizeof want, "HOME=%s", pw->pw_dir);
        assert_string_equal(strv_env_get(env, "HOME"), want);
        strv_free(env);

        if (saved_lang)
                assert_int_equal(setenv("LANG", saved_lang, 1), 0);
        free(saved_lang);
}

/* ---- spawned workers ---- */

static void test_spawn_own_process_group_and_pidfd(void **state) {
        char *argv[] = { (char *) "/bin/cat", (char *) "/proc/self/stat", NULL };
        WorkerConfig w;
        SpawnParams p;
        Run r;
        int pid, ppid, pgrp, sid;
        const char *rest;

        worker_init(&w, argv);
        p = params(&w);
        run(&p, &r);
        assert_exited_ok(&r);

        rest = strrchr(r.out, ')');
        assert_non_null(rest);
        assert_int_equal(sscanf(r.out, "%d", &pid), 1);
        assert_int_equal(sscanf(rest + 1, " %*c %d %d %d", &ppid, &pgrp, &sid), 3);
        assert_int_equal(pid, r.pid);
        assert_int_equal(pgrp, r.pid);
        assert_int_equal(ppid, getpid());
}

static void test_spawn_pidfd_refers_to_child(void **state) {
        char *argv[] = { (char *) "/bin/true", NULL };
        char path[64], *info = NULL, want[32];
        WorkerConfig w;
        SpawnParams p;
        SpawnStage stage;
        int pidfd, errfd, error, fd, flags;
        pid_t pid;
        ssize_t n;

        worker_init(&w, argv);
        w.output[0].kind = OUTPUT_NULL;
        w.output[1].kind = OUTPUT_NULL;
        p = params(&w);
        assert_int_equal(spawn_worker(&p, &pid, &pidfd, &errfd), 0);

        assert_true(fcntl(pidfd, F_GETFD) & FD_CLOEXEC);
        assert_true(fcntl(errfd, F_GETFD) & FD_CLOEXEC);
        flags = fcntl(errfd, F_GETFL);
        assert_true(flags & O_NONBLOCK);

        (void) snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
        info = calloc(1, 4096);
        assert_non_null(info);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        n = read(fd, info, 4095);
        assert_true(n > 0);
        (void) close(fd);
        (void) snprintf(want, sizeof want, "Pid:\t%d", (int) pid);
        assert_non_null(strstr(info, want));
        free(info);

        assert_int_equal(wait_exec(errfd, &stage, &error), 0);
        assert_int_equal(reap(pid, pidfd), 0);
        (void) close(pidfd);
        (void) close(errfd);
}

static void test_spawn_resets_signal_mask_and_dispositions(void **state) {
        char *argv[] = { (char *) "/bin/cat", (char *) "/proc/self/status", NULL };
        struct sigaction ign = { .sa_handler = SIG_IGN }, old_hup, old_pipe;
        sigset_t block, old_mask;
        char buf[64];
        WorkerConfig w;
        SpawnParams p;
        Run r;

        assert_int_equal(sigemptyset(&block), 0);
        assert_int_equal(sigaddset(&block, SIGTERM), 0);
        assert_int_equal(sigaddset(&block, SIGCHLD), 0);
        assert_int_equal(sigaddset(&block, SIGINT), 0);
        assert_int_equal(sigaddset(&block, SIGHUP), 0);
        assert_int_equal(sigprocmask(SIG_BLOCK, &block, &old_mask), 0);
        assert_int_equal(sigaction(SIGHUP, &ign, &old_hup), 0);
        assert_int_equal(sigaction(SIGPIPE, &ign, &old_pipe), 0);
        /* glibc's sigaction() cannot set its reserved signal 33; GNU make leaves it ignored in
         * every test it runs. Set it here too, so the reset is tested however the test runs. */
        struct { void (*h)(int); unsigned long f; void (*r)(void); uint64_t m; } raw_ign = { .h = SIG_IGN },
                raw_old;
        assert_int_equal(syscall(SYS_rt_sigaction, 33, &raw_ign, &raw_old, sizeof(uint64_t)), 0);

        worker_init(&w, argv);
        p = params(&w);
        run(&p, &r);
        assert_int_equal(syscall(SYS_rt_sigaction, 33, &raw_old, NULL, sizeof(uint64_t)), 0);

        assert_int_equal(sigaction(SIGPIPE, &old_pipe, NULL), 0);
        assert_int_equal(sigaction(SIGHUP, &old_hup, NULL), 0);
        assert_int_equal(sigprocmask(SIG_SETMASK, &old_mask, NULL), 0);

        assert_exited_ok(&r);
        assert_string_equal(status_field(r.out, "SigBlk", buf, sizeof buf), "0000000000000000");
        assert_string_equal(status_field(r.out, "SigIgn", buf, sizeof buf), "0000000000000000");
}

/* vigild holds a descriptor per instance; a worker whose RLIMIT_NOFILE is below that count must
 * still get its stdio and exec (the child closes what it inherited before lowering the limit). */
static void test_spawn_with_more_inherited_fds_than_the_worker_limit(void **state) {
        char *argv[] = { (char *) "/bin/sh", (char *) "-c", (char *) "ls /proc/self/fd | wc -l", NULL };
        int fds[64];
        WorkerConfig w;
        SpawnParams p;
        Run r;

        if (UNDER_VALGRIND)
                skip(); /* valgrind refuses a child's setrlimit(NOFILE) below its own reserve */
        for (size_t k = 0; k < ELEMENTSOF(fds); k++) {
                fds[k] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                assert_true(fds[k] >= 0);
        }
        worker_init(&w, argv);
        w.output[1].kind = OUTPUT_NULL;
        w.rlimit_set[RLIMIT_NOFILE] = true;
        w.rlimits[RLIMIT_NOFILE] = (struct rlimit) { .rlim_cur = 16, .rlim_max = 16 };
        p = params(&w);
        run(&p, &r);
        for (size_t k = 0; k < ELEMENTSOF(fds); k++)
                (void) close(fds[k]);

        assert_exited_ok(&r);
        /* sh's own stdio plus the directory ls reads: a handful, not 64. */
        assert_true(atoi(r.out) < 8);
}

static void test_spawn_sets_watchdog_pid_to_the_child_itself(void **state) {
        char *argv[] = { (char *) "/bin/sh", (char *) "-c", (char *) "echo \"$WATCHDOG_PID $$ $WATCHDOG_USEC\"", NULL };
        char *extra[] = { (char *) "WATCHDOG_USEC=3000000", NULL };
        char expect[64];
        WorkerConfig w;
        SpawnParams p;
        Run r;

        worker_init(&w, argv);
        p = params(&w);
        p.extra_env = extra;
        p.watchdog_pid = true;
        run(&p, &r);
        assert_exited_ok(&r);
        (void) snprintf(expect, sizeof expect, "%d %d 3000000\n", (int) r.pid, (int) r.pid);
        assert_string_equal(r.out, expect);
}

static void test_spawn_environment_is_built_from_scratch(void **state) {
        char *argv[] = { (char *) "/usr/bin/env", NULL };
        char *config_env[] = { (char *) "FOO=config", (char *) "BAR=1", NULL };
        char *extra[] = { (char *) "FOO=extra", (char *) "BAZ=x", NULL };
        static const char *const leaked[] = {
                "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
                "LISTEN_FDNAMES", "JOURNAL_STREAM", "INVOCATION_ID",
        };
        WorkerConfig w;
        SpawnParams p;
        Run r;

        for (size_t i = 0; i < ELEMENTSOF(leaked); i++)
                assert_int_equal(setenv(leaked[i], "1", 1), 0);

        worker_init(&w, argv);
        w.name = (char *) "api";
        w.environment = config_env;
        p = params(&w);
        p.instance = 7;
        p.extra_env = extra;
        run(&p, &r);

        for (size_t i = 0; i < ELEMENTSOF(leaked); i++)
                assert_int_equal(unsetenv(leaked[i]), 0);

        assert_exited_ok(&r);
        assert_true(has_line(r.out, "VIGIL_WORKER=api"));
        assert_true(has_line(r.out, "VIGIL_INSTANCE=7"));
        assert_true(has_line(r.out, "FOO=config"));
        assert_false(has_line(r.out, "FOO=extra"));
        assert_true(has_line(r.out, "BAR=1"));
        assert_true(has_line(r.out, "BAZ=x"));
        assert_true(has_line(r.out, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
        assert_true(has_var(r.out, "LANG"));
        for (size_t i = 0; i < ELEMENTSOF(leaked); i++)
                assert_false(has_var(r.out, leaked[i]));
}

static void test_spawn_applies_umask_rlimit_and_cwd(void **state) {
        TestState *t = *state;
        char *dir = t->dir;
        char *argv[] = { (char *) "/bin/sh", (char *) "-c", (char *) "umask; pwd; cat /proc/self/limits", NULL };
        char want[PATH_MAX + 2];
        WorkerConfig w;
        SpawnParams p;
        Run r;

        worker_init(&w, argv);
        w.umask = 0027;
        w.cwd = dir;
        w.rlimit_set[RLIMIT_CORE] = true;
        w.rlimits[RLIMIT_CORE] = (struct rlimit) { .rlim_cur = 4096, .rlim_max = 8192 };
        if (!UNDER_VALGRIND) {
                w.rlimit_set[RLIMIT_NOFILE] = true;
                w.rlimits[RLIMIT_NOFILE] = (struct rlimit) { .rlim_cur = 123, .rlim_max = 456 };
        }
        p = params(&w);
        run(&p, &r);

        assert_exited_ok(&r);
        assert_true(has_line(r.out, "0027"));
        assert_true(has_line(r.out, dir));
        assert_non_null(strstr(r.out, "Max core file size        4096                 8192                 bytes"));
        if (!UNDER_VALGRIND)
                assert_non_null(strstr(r.out, "Max open files            123                  456                  files"));

        /* Without cwd or user: the root directory. */
        argv[2] = (char *) "pwd";
        w.cwd = NULL;
        run(&p, &r);
        assert_exited_ok(&r);
        (void) snprintf(want, sizeof want, "/\n");
        assert_string_equal(r.out, want);
}

static void test_spawn_closes_inherited_fds_and_nulls_stdio(void **state) {
        /* The shell lists its own descriptors once it is fully started, so the dynamic
         * loader's passing descriptors of an exec'd program cannot be mistaken for leaks. */
        char *argv[] = { (char *) "/bin/sh", (char *) "-c",
                         (char *) "ls /proc/$$/fd; readlink /proc/$$/fd/0 /proc/$$/fd/2", NULL };
        WorkerConfig w;
        SpawnParams p;
        Run r;
        int leak;

        leak = open("/dev/null", O_RDONLY);
        assert_true(leak >= 3);
        assert_int_equal(fcntl(leak, F_GETFD) & FD_CLOEXEC, 0);

        worker_init(&w, argv);
        w.output[1].kind = OUTPUT_NULL;
        p = params(&w);
        run(&p, &r);
        (void) close(leak);

        assert_exited_ok(&r);
        assert_string_equal(r.out, "0\n1\n2\n/dev/null\n/dev/null\n");
}

static void test_spawn_output_null_and_stderr_fd(void **state) {
        char *argv[] = { (char *) "/bin/sh", (char *) "-c", (char *) "echo hidden; echo visible >&2", NULL };
        int pipefd[2], pidfd, errfd, error;
        char out[256];
        SpawnStage stage;
        WorkerConfig w;
        SpawnParams p;
        size_t size = 0;
        pid_t pid;

        worker_init(&w, argv);
        w.output[0].kind = OUTPUT_NULL;
        p = params(&w);
        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        p.stderr_fd = pipefd[1];
        assert_int_equal(spawn_worker(&p, &pid, &pidfd, &errfd), 0);
        (void) close(pipefd[1]);
        for (;;) {
                ssize_t n = read(pipefd[0], out + size, sizeof out - 1 - size);

                assert_true(n >= 0);
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        out[size] = '\0';
        (void) close(pipefd[0]);
        assert_int_equal(wait_exec(errfd, &stage, &error), 0);
        assert_int_equal(reap(pid, pidfd), 0);
        (void) close(pidfd);
        (void) close(errfd);

        assert_string_equal(out, "visible\n");
}

static void assert_spawn_fails(const SpawnParams *p, SpawnStage want_stage, int want_errno) {
        int pidfd, errfd, error, status;
        SpawnStage stage;
        pid_t pid;

        assert_int_equal(spawn_worker(p, &pid, &pidfd, &errfd), 0);
        assert_int_equal(wait_exec(errfd, &stage, &error), 1);
        assert_int_equal(stage, want_stage);
        assert_int_equal(error, want_errno);
        /* Nothing more follows the record: EOF once the child is gone. */
        status = reap(pid, pidfd);
        assert_int_equal(spawn_read_error(errfd, &stage, &error), 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 127);
        (void) close(pidfd);
        (void) close(errfd);
}

static void test_spawn_output_file_appends(void **state) {
        TestState *t = *state;
        char *dir = t->dir;
        char *argv[] = { (char *) "/bin/sh", (char *) "-c", (char *) "echo out; echo err >&2", NULL };
        char *file = NULL, buf[256];
        int pidfd, errfd, error, fd;
        SpawnStage stage;
        WorkerConfig w;
        SpawnParams p;
        struct stat st;
        ssize_t n;
        pid_t pid;

        assert_true(asprintf(&file, "%s/out.log", dir) > 0);
        worker_init(&w, argv);
        w.output[0] = (OutputConfig) { .kind = OUTPUT_FILE, .path = file };
        w.output[1] = (OutputConfig) { .kind = OUTPUT_FILE, .path = file };
        p = params(&w);

        for (unsigned i = 0; i < 2; i++) {
                assert_int_equal(spawn_worker(&p, &pid, &pidfd, &errfd), 0);
                assert_int_equal(wait_exec(errfd, &stage, &error), 0);
                assert_int_equal(reap(pid, pidfd), 0);
                (void) close(pidfd);
                (void) close(errfd);
        }

        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0640);
        fd = open(file, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        n = read(fd, buf, sizeof buf - 1);
        assert_true(n >= 0);
        buf[n] = '\0';
        (void) close(fd);
        assert_string_equal(buf, "out\nerr\nout\nerr\n");

        /* O_NOFOLLOW: a symlink in place of the log file is refused. */
        assert_int_equal(unlink(file), 0);
        assert_int_equal(symlink("/dev/null", file), 0);
        assert_int_equal(spawn_worker(&p, &pid, &pidfd, &errfd), 0);
        assert_int_equal(wait_exec(errfd, &stage, &error), 1);
        assert_int_equal(stage, SPAWN_STAGE_STDIO);
        assert_int_equal(error, ELOOP);
        assert_true(WIFEXITED(reap(pid, pidfd)));
        (void) close(pidfd);
        (void) close(errfd);

        free(file);
}


/* An output FIFO nobody reads: the open must not wait for a reader, since vigild itself waits
 * for a vfork-style child. The start fails with ENXIO instead; the alarm turns a hang into a
 * failure. */
static void test_spawn_output_fifo_without_reader_fails_at_once(void **state) {
        TestState *t = *state;
        char *argv[] = { (char *) "/bin/true", NULL };
        char *fifo = NULL;
        WorkerConfig w;
        SpawnParams p;

        assert_true(asprintf(&fifo, "%s/out.fifo", t->dir) > 0);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        worker_init(&w, argv);
        w.output[0] = (OutputConfig) { .kind = OUTPUT_FILE, .path = fifo };
        p = params(&w);
        (void) alarm(TIMEOUT_MSEC / 1000);
        assert_spawn_fails(&p, SPAWN_STAGE_STDIO, ENXIO);
        (void) alarm(0);
        free(fifo);
}

static void test_spawn_exec_failure_is_reported(void **state) {
        char *argv[] = { (char *) "/nonexistent/vigil-worker", NULL };
        WorkerConfig w;
        SpawnParams p;

        worker_init(&w, argv);
        w.output[0].kind = OUTPUT_NULL;
        w.output[1].kind = OUTPUT_NULL;
        p = params(&w);
        assert_spawn_fails(&p, SPAWN_STAGE_EXEC, ENOENT);
}

static void test_spawn_bad_cwd_is_reported(void **state) {
        char *argv[] = { (char *) "/bin/true", NULL };
        WorkerConfig w;
        SpawnParams p;

        worker_init(&w, argv);
        w.cwd = (char *) "/nonexistent/vigil-cwd";
        p = params(&w);
        assert_spawn_fails(&p, SPAWN_STAGE_CWD, ENOENT);
}

/* The error pipe as the loop sees it: nothing to say while the write end is open (the child
 * has neither exec'd nor failed), a torn record is refused, EOF means exec went through. */
static void test_spawn_read_error_states(void **state) {
        int32_t torn = SPAWN_STAGE_CWD;
        int fds[2], error;
        SpawnStage stage;

        assert_int_equal(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
        assert_int_equal(spawn_read_error(fds[0], &stage, &error), -EAGAIN);
        assert_int_equal(write(fds[1], &torn, sizeof torn), (ssize_t) sizeof torn);
        assert_int_equal(spawn_read_error(fds[0], &stage, &error), -EBADMSG);
        (void) close(fds[1]);
        assert_int_equal(spawn_read_error(fds[0], &stage, &error), 0);
        (void) close(fds[0]);
}

/* The vfork-style spawn returns only once the child is past exec or has failed: a failure is
 * on the error pipe at once, never "not yet". (After a successful exec the EOF may still lag
 * a moment: the kernel lets the parent go before it closes the child's close-on-exec fds.) */
static void test_spawn_returns_after_exec_or_failure(void **state) {
        char *bad_argv[] = { (char *) "/nonexistent/vigil-worker", NULL };
        int pidfd, errfd, error;
        SpawnStage stage;
        WorkerConfig w;
        SpawnParams p;
        pid_t pid;

#if !defined(__x86_64__)
        skip();   /* clone_vfork() has its trampoline on x86-64 only */
#endif
        if (fork_path || UNDER_VALGRIND)
                skip();

        worker_init(&w, bad_argv);
        p = params(&w);
        assert_int_equal(spawn_worker(&p, &pid, &pidfd, &errfd), 0);
        assert_int_equal(spawn_read_error(errfd, &stage, &error), 1);
        assert_int_equal(stage, SPAWN_STAGE_EXEC);
        assert_int_equal(error, ENOENT);
        (void) reap(pid, pidfd);
        (void) close(pidfd);
        (void) close(errfd);
}

static void test_spawn_drops_privileges(void **state) {
        char *argv[] = { (char *) "/bin/sh", (char *) "-c", (char *) "cat /proc/self/status; pwd", NULL };
        gid_t groups[] = { 65534 };
        char buf[128];
        WorkerConfig w;
        SpawnParams p;
        Run r;

        if (geteuid() != 0)
                skip();

        worker_init(&w, argv);
        w.has_user = true;
        w.user = (char *) "nobody";
        w.uid = 65534;
        w.gid = 65534;
        w.supplementary_gids = groups;
        w.n_supplementary_gids = ELEMENTSOF(groups);
        w.home = (char *) "/nonexistent";
        w.shell = (char *) "/usr/sbin/nologin";
        p = params(&w);
        run(&p, &r);

        assert_exited_ok(&r);
        assert_string_equal(status_field(r.out, "Uid", buf, sizeof buf), "65534\t65534\t65534\t65534");
        assert_string_equal(status_field(r.out, "Gid", buf, sizeof buf), "65534\t65534\t65534\t65534");
        assert_string_equal(status_field(r.out, "Groups", buf, sizeof buf), "65534");
        /* The home directory does not exist: the worker starts in /. */
        assert_true(has_line(r.out, "/"));
}

static void test_spawn_output_file_opened_after_privilege_drop(void **state) {
        TestState *t = *state;
        char *dir = t->dir;
        char *argv[] = { (char *) "/bin/true", NULL };
        char *file = NULL;
        WorkerConfig w;
        SpawnParams p;

        if (geteuid() != 0)
                skip();

        assert_int_equal(chmod(dir, 0700), 0);
        assert_true(asprintf(&file, "%s/out.log", dir) > 0);

        worker_init(&w, argv);
        w.has_user = true;
        w.uid = 65534;
        w.gid = 65534;
        w.output[0] = (OutputConfig) { .kind = OUTPUT_FILE, .path = file };
        p = params(&w);
        assert_spawn_fails(&p, SPAWN_STAGE_STDIO, EACCES);

        assert_int_equal(access(file, F_OK), -1);
        free(file);
}

static void test_spawn_joins_cgroup(void **state) {
        char *argv[] = { (char *) "/bin/cat", (char *) "/proc/self/cgroup", NULL };
        char *mount, *want = NULL, *gone = NULL, name[64];
        TestState *t = *state;
        WorkerConfig w;
        SpawnParams p;
        Run r;

        if (geteuid() != 0)
                skip();
        if (cgroup_find_mount(&mount) < 0)
                skip();

        (void) snprintf(name, sizeof name, "vigil-test-spawn-%d", (int) getpid());
        assert_true(asprintf(&t->cgroup, "%s/%s", mount, name) > 0);
        free(mount);
        if (mkdir(t->cgroup, 0755) < 0)
                skip();

        worker_init(&w, argv);
        p = params(&w);
        p.cgroup_path = t->cgroup;
        run(&p, &r);
        assert_exited_ok(&r);
        assert_true(asprintf(&want, "0::/%s", name) > 0);
        assert_true(has_line(r.out, want));

        /* The same cgroup after a cgroup.kill (it was empty): a child cloned into it would be
         * killed by the kernel before it ran; the spawn must still start the worker there. */
        assert_int_equal(cgroup_kill(t->cgroup), 0);
        run(&p, &r);
        assert_exited_ok(&r);
        assert_true(has_line(r.out, want));
        free(want);

        /* A cgroup that does not exist: the child fails before anything else. */
        assert_true(asprintf(&gone, "%s/gone", t->cgroup) > 0);
        p.cgroup_path = gone;
        assert_spawn_fails(&p, SPAWN_STAGE_CGROUP, ENOENT);
        free(gone);
}

static void test_spawn_fault_hook(void **state) {
#ifdef VIGIL_TEST_HOOKS
        char *argv[] = { (char *) "/bin/true", NULL };
        WorkerConfig w, other;
        SpawnParams p, q;
        SpawnStage stage;
        int pidfd = -EBADF, errfd = -EBADF, error;
        pid_t pid = 0;

        assert_int_equal(setenv("VIGIL_TEST_SPAWN_FAIL", "w:EAGAIN:2", 1), 0);
        hooks_reset();

        worker_init(&w, argv);
        worker_init(&other, argv);
        other.name = (char *) "other";
        p = params(&w);
        q = params(&other);

        assert_int_equal(spawn_worker(&p, &pid, &pidfd, &errfd), -EAGAIN);
        assert_int_equal(pidfd, -EBADF);
        assert_int_equal(spawn_worker(&q, &pid, &pidfd, &errfd), 0);
        assert_int_equal(wait_exec(errfd, &stage, &error), 0);
        assert_int_equal(reap(pid, pidfd), 0);
        (void) close(pidfd);
        (void) close(errfd);
        pidfd = errfd = -EBADF;

        assert_int_equal(spawn_worker(&p, &pid, &pidfd, &errfd), -EAGAIN);
        assert_int_equal(spawn_worker(&p, &pid, &pidfd, &errfd), 0);
        assert_int_equal(wait_exec(errfd, &stage, &error), 0);
        assert_int_equal(reap(pid, pidfd), 0);
        (void) close(pidfd);
        (void) close(errfd);

        assert_int_equal(setenv("VIGIL_TEST_SPAWN_FAIL", "w:ENOMEM:1", 1), 0);
        hooks_reset();
        assert_int_equal(spawn_worker(&p, &pid, &pidfd, &errfd), -ENOMEM);

        assert_int_equal(unsetenv("VIGIL_TEST_SPAWN_FAIL"), 0);
        hooks_reset();
#else
        skip();
#endif
}

static int group_reserve_slots(void **state) {
        return spawn_reserve_slots();
}

static int group_release_slots(void **state) {
        spawn_release_slots();
        return 0;
}

#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_build_env_order_and_override),
                T(test_spawn_own_process_group_and_pidfd),
                T(test_spawn_pidfd_refers_to_child),
                T(test_spawn_resets_signal_mask_and_dispositions),
                T(test_spawn_with_more_inherited_fds_than_the_worker_limit),
                T(test_spawn_sets_watchdog_pid_to_the_child_itself),
                T(test_spawn_environment_is_built_from_scratch),
                T(test_spawn_applies_umask_rlimit_and_cwd),
                T(test_spawn_closes_inherited_fds_and_nulls_stdio),
                T(test_spawn_output_null_and_stderr_fd),
                T(test_spawn_output_file_appends),
                T(test_spawn_output_fifo_without_reader_fails_at_once),
                T(test_spawn_exec_failure_is_reported),
                T(test_spawn_bad_cwd_is_reported),
                T(test_spawn_read_error_states),
                T(test_spawn_returns_after_exec_or_failure),
                T(test_spawn_drops_privileges),
                T(test_spawn_output_file_opened_after_privilege_drop),
                T(test_spawn_joins_cgroup),
                T(test_spawn_fault_hook),
        };

        int failed;

        /* Once as vigild runs: vfork-style, born in the cgroup where the kernel can, sharing
         * the descriptor table until it keeps only the slots (see spawn.c). Then the fork
         * path, which runs where clone3 is missing (valgrind, kernels before 5.7). */
        failed = cmocka_run_group_tests_name("clone_vfork", tests, group_reserve_slots, group_release_slots);
        clone_vfork_disable(true);
        fork_path = true;
        failed += cmocka_run_group_tests_name("clone_fork", tests, NULL, NULL);
        return failed;
}
