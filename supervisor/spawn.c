/* Starting one worker instance. The parent side builds everything that allocates (environment,
 * paths) before the clone and hands back the pid, a pidfd and the error pipe. The child side
 * runs the fixed setup order of spawn.h (the steps it shares with a probe's command from
 * child-setup.h) with plain system calls only: no malloc, no stdio, no
 * NSS, no logging, and no writes but to its own SpawnChild, its environment and errno: in the
 * vfork-style clone it runs in vigild's memory while vigild waits. A failing child writes one
 * SpawnError record to the close-on-exec error pipe and _exit()s with 127. Non-logging. */

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child-setup.h"
#include "clone.h"
#include "hooks.h"
#include "spawn.h"
#include "strv.h"

#define SPAWN_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define SPAWN_DEFAULT_LANG "C.UTF-8"

/* Everything the child needs, prepared by the parent. */
typedef struct SpawnChild {
        const WorkerConfig *worker;
        char *const *envp;
        char *watchdog_pid;        /* the digits of "WATCHDOG_PID=...", filled in by the child */
        const char *cgroup_procs;
        int stdout_fd;
        int stderr_fd;
        int errfd;
        unsigned unshare_from;     /* > 0: born sharing vigild's descriptor table, which it
                                    * first replaces by a copy of the descriptors below this */
        bool ran;                  /* set by the child first thing (seen by vigild after a
                                    * vfork-style clone, which shares memory) */
} SpawnChild;

/* Low descriptor numbers reserved for handing the child its error pipe, stdout and stderr, and
 * /dev/null to fill them between spawns. A child born sharing vigild's descriptor table
 * (CLONE_FILES) takes a private copy of only the descriptors below the highest slot
 * (close_range(CLOSE_RANGE_UNSHARE)), so a spawn costs the same whether vigild holds ten
 * descriptors or ten thousand (a pidfd per instance): a copied table is copied and closed
 * descriptor by descriptor, the largest cost of a restart at a few thousand instances. */
static int slots[3] = { -EBADF, -EBADF, -EBADF };
static int slot_filler = -EBADF;

static void clear_slots(void);

static int env_set(char ***env, const char *name, const char *value) {
        _cleanup_free_ char *s = NULL;

        if (asprintf(&s, "%s=%s", name, value) < 0)
                return -ENOMEM;
        return strv_env_set(env, s);
}

/* vigild's own account, looked up once per effective uid: a lookup reads /etc/passwd (or asks
 * NSS services), which has no place on the path of every restart. */
typedef struct OwnUser {
        bool looked_up;
        uid_t uid;
        char *home, *name, *shell;
} OwnUser;

static OwnUser own_user;

static void own_user_clear(OwnUser *u) {
        u->home = mfree(u->home);
        u->name = mfree(u->name);
        u->shell = mfree(u->shell);
        u->looked_up = false;
}

static int own_user_lookup(OwnUser *u) {
        _cleanup_free_ char *buf = NULL;
        struct passwd pw, *result = NULL;
        uid_t uid = geteuid();
        size_t size = 1024;
        int r;

        if (u->looked_up && u->uid == uid)
                return 0;
        own_user_clear(u);

        for (;;) {
                char *p = realloc(buf, size);

                if (!p)
                        return -ENOMEM;
                buf = p;

                r = getpwuid_r(uid, &pw, buf, size, &result);
                if (r != ERANGE)
                        break;
                if (size >= 1024 * 1024)
                        return -ERANGE;
                size *= 2;
        }
        if (r == 0 && result) {
                if ((pw.pw_dir && *pw.pw_dir && !(u->home = strdup(pw.pw_dir))) ||
                    (pw.pw_name && *pw.pw_name && !(u->name = strdup(pw.pw_name))) ||
                    (pw.pw_shell && *pw.pw_shell && !(u->shell = strdup(pw.pw_shell)))) {
                        own_user_clear(u);
                        return -ENOMEM;
                }
        }
        /* No entry is an answer too: the variables are then left out. */
        u->uid = uid;
        u->looked_up = true;
        return 0;
}

/* The identity variables for a worker without a configured user: vigild's own account. */
static int env_set_own_user(char ***env) {
        int r;

        r = own_user_lookup(&own_user);
        if (r < 0)
                return r;
        if (own_user.home) {
                r = env_set(env, "HOME", own_user.home);
                if (r < 0)
                        return r;
        }
        if (own_user.name) {
                r = env_set(env, "USER", own_user.name);
                if (r < 0)
                        return r;
                r = env_set(env, "LOGNAME", own_user.name);
                if (r < 0)
                        return r;
        }
        if (own_user.shell) {
                r = env_set(env, "SHELL", own_user.shell);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int env_set_worker_user(char ***env, const WorkerConfig *w) {
        int r;

        if (w->home) {
                r = env_set(env, "HOME", w->home);
                if (r < 0)
                        return r;
        }
        if (w->user) {
                r = env_set(env, "USER", w->user);
                if (r < 0)
                        return r;
                r = env_set(env, "LOGNAME", w->user);
                if (r < 0)
                        return r;
        }
        if (w->shell) {
                r = env_set(env, "SHELL", w->shell);
                if (r < 0)
                        return r;
        }
        return 0;
}

int spawn_build_env(const WorkerConfig *w, unsigned instance, char *const *extra_env, char ***ret_env) {
        _cleanup_strv_free_ char **env = NULL;
        char num[16];
        const char *lang;
        int r;

        assert(w);
        assert(w->name);
        assert(ret_env);

        /* Built from nothing, so vigild's own NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*,
         * JOURNAL_STREAM and INVOCATION_ID can never leak into a worker. */
        r = env_set(&env, "PATH", SPAWN_DEFAULT_PATH);
        if (r < 0)
                return r;

        lang = getenv("LANG");
        r = env_set(&env, "LANG", lang && *lang ? lang : SPAWN_DEFAULT_LANG);
        if (r < 0)
                return r;

        r = w->has_user ? env_set_worker_user(&env, w) : env_set_own_user(&env);
        if (r < 0)
                return r;

        r = env_set(&env, "VIGIL_WORKER", w->name);
        if (r < 0)
                return r;
        (void) snprintf(num, sizeof num, "%u", instance);
        r = env_set(&env, "VIGIL_INSTANCE", num);
        if (r < 0)
                return r;

        for (char *const *e = extra_env; e && *e; e++) {
                r = strv_env_set(&env, *e);
                if (r < 0)
                        return r;
        }
        for (char *const *e = w->environment; e && *e; e++) {
                r = strv_env_set(&env, *e);
                if (r < 0)
                        return r;
        }

        *ret_env = TAKE_PTR(env);
        return 0;
}

/* ---- child side: async-signal-safe only ---- */

/* Writes the child's own pid into the space reserved after "WATCHDOG_PID=". The pid is known
 * only in the child, which must not allocate: the parent reserved WATCHDOG_PID_DIGITS bytes. */
#define WATCHDOG_PID_DIGITS 20
static void child_fill_watchdog_pid(char *digits) {
        char tmp[WATCHDOG_PID_DIGITS];
        unsigned long v = (unsigned long) syscall(SYS_getpid);
        size_t n = 0;

        do {
                tmp[n++] = (char) ('0' + v % 10);
                v /= 10;
        } while (v > 0 && n < sizeof tmp);
        for (size_t k = 0; k < n; k++)
                digits[k] = tmp[n - 1 - k];
        digits[n] = '\0';
}

static int child_join_cgroup(const char *procs) {
        ssize_t n;
        int fd;

        fd = open(procs, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        n = write(fd, "0", 1);
        if (n < 0) {
                int r = -errno;

                (void) close(fd);
                return r;
        }
        (void) close(fd);
        return n == 1 ? 0 : -EIO;
}

static int child_chdir(const WorkerConfig *w) {
        if (w->cwd)
                return RET_NERRNO(chdir(w->cwd));
        if (w->has_user && w->home && chdir(w->home) >= 0)
                return 0;
        return RET_NERRNO(chdir("/"));
}

/* Makes fd the descriptor target, inherited across exec. */
static int child_install_fd(int fd, int target) {
        if (fd == target)
                return RET_NERRNO(fcntl(fd, F_SETFD, 0));
        return RET_NERRNO(dup2(fd, target));
}

static int child_output_fd(const OutputConfig *o, int given, int target) {
        int fd;

        if (given >= 0)
                return child_install_fd(given, target);

        switch (o->kind) {
        case OUTPUT_NULL:
                fd = open("/dev/null", O_WRONLY | O_CLOEXEC | O_NOCTTY);
                break;
        case OUTPUT_FILE:
                if (!o->path)
                        return -EINVAL;
                /* Never wait for a reader: vigild waits for this child (clone_vfork()), so a
                 * FIFO without one would stall the whole loop. It fails with ENXIO instead. */
                fd = open(o->path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                          0640);
                if (fd >= 0 && fcntl(fd, F_SETFL, O_APPEND) < 0)
                        return -errno;
                break;
        case OUTPUT_JOURNAL:
                /* No stream given: the worker shares vigild's own descriptor. */
                return 0;
        default:
                return -EINVAL;
        }
        if (fd < 0)
                return -errno;

        return child_install_fd(fd, target);
}

static int child_setup_stdio(const SpawnChild *c) {
        int out = c->stdout_fd, err = c->stderr_fd, fd, r;

        r = child_setup_lift_fd(&out);
        if (r < 0)
                return r;
        r = child_setup_lift_fd(&err);
        if (r < 0)
                return r;

        fd = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        r = child_install_fd(fd, STDIN_FILENO);
        if (r < 0)
                return r;

        r = child_output_fd(&c->worker->output[0], out, STDOUT_FILENO);
        if (r < 0)
                return r;
        return child_output_fd(&c->worker->output[1], err, STDERR_FILENO);
}

/* Closes every descriptor above 2 except the ones the child still needs (the error pipe, and
 * given stdout/stderr streams). It must happen before the worker's RLIMIT_NOFILE is applied:
 * vigild holds a descriptor per instance, and with more than the worker's limit still open
 * the child could not open /dev/null or its output file. */
static int child_close_inherited(const SpawnChild *c) {
        int keep[3] = { c->errfd, c->stdout_fd, c->stderr_fd }, n = 0;
        unsigned next = 3;

        for (int i = 0; i < 3; i++)
                if (keep[i] > STDERR_FILENO)
                        keep[n++] = keep[i];
        /* Sort the few survivors, then close the gaps between them. */
        for (int i = 1; i < n; i++)
                for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
                        int t = keep[j];
                        keep[j] = keep[j - 1];
                        keep[j - 1] = t;
                }
        for (int i = 0; i < n; i++) {
                if ((unsigned) keep[i] > next && close_range(next, (unsigned) keep[i] - 1, 0) < 0)
                        return -errno;
                next = MAX(next, (unsigned) keep[i] + 1);
        }
        return RET_NERRNO(close_range(next, ~0U, 0));
}

static _noreturn_ void child_run(SpawnChild *c) {
        const WorkerConfig *w = c->worker;
        int r;

        /* First, while nothing else has touched the shared table: a private one, copied from
         * the few descriptors below the slots' end (a kernel before 5.9 copies them all). */
        if (c->unshare_from > 0 && close_range(c->unshare_from, ~0U, CLOSE_RANGE_UNSHARE) < 0 &&
            unshare(CLONE_FILES) < 0)
                child_setup_fail(c->errfd, SPAWN_STAGE_STDIO, errno);

        if (c->watchdog_pid)
                child_fill_watchdog_pid(c->watchdog_pid);

        /* The error pipe must survive the stdio setup below, which overwrites fds 0..2. */
        if (child_setup_lift_fd(&c->errfd) < 0)
                _exit(127);

        if (setpgid(0, 0) < 0)
                child_setup_fail(c->errfd, SPAWN_STAGE_PGROUP, errno);

        if (c->cgroup_procs) {
                r = child_join_cgroup(c->cgroup_procs);
                if (r < 0)
                        child_setup_fail(c->errfd, SPAWN_STAGE_CGROUP, -r);
        }

        r = child_setup_reset_signals();
        if (r < 0)
                child_setup_fail(c->errfd, SPAWN_STAGE_SIGNALS, -r);

        r = child_close_inherited(c);
        if (r < 0)
                child_setup_fail(c->errfd, SPAWN_STAGE_STDIO, -r);

        if (w->has_user) {
                bool groups = false;

                r = child_setup_identity(w->uid, w->gid, w->supplementary_gids, w->n_supplementary_gids,
                                         &groups);
                if (r < 0)
                        child_setup_fail(c->errfd, groups ? SPAWN_STAGE_GROUPS : SPAWN_STAGE_USER, -r);
        }

        (void) umask(w->umask & 0777);

        for (int i = 0; i < RLIM_NLIMITS; i++)
                if (w->rlimit_set[i] && setrlimit(i, &w->rlimits[i]) < 0)
                        child_setup_fail(c->errfd, SPAWN_STAGE_RLIMIT, errno);

        r = child_chdir(w);
        if (r < 0)
                child_setup_fail(c->errfd, SPAWN_STAGE_CWD, -r);

        r = child_setup_stdio(c);
        if (r < 0)
                child_setup_fail(c->errfd, SPAWN_STAGE_STDIO, -r);

        /* Everything above 2 is closed by exec; the error pipe already is close-on-exec. */
        if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                child_setup_fail(c->errfd, SPAWN_STAGE_STDIO, errno);

        execve(w->argv[0], w->argv, c->envp);
        child_setup_fail(c->errfd, SPAWN_STAGE_EXEC, errno);
}

/* ---- parent side ---- */

static int child_main(void *arg) {
        SpawnChild *c = arg;

        c->ran = true;
        child_run(c);
}

int spawn_reserve_slots(void) {
        _cleanup_close_ int filler = -EBADF;
        int fds[3] = { -EBADF, -EBADF, -EBADF };

        if (slot_filler >= 0)
                return 0;
        filler = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (filler < 0)
                return -errno;
        for (unsigned k = 0; k < ELEMENTSOF(fds); k++) {
                fds[k] = fcntl(filler, F_DUPFD_CLOEXEC, 3);
                if (fds[k] < 0) {
                        int r = -errno;

                        for (unsigned j = 0; j < k; j++)
                                (void) safe_close(fds[j]);
                        return r;
                }
        }
        memcpy(slots, fds, sizeof(slots));
        slot_filler = TAKE_FD(filler);
        return 0;
}

void spawn_release_slots(void) {
        for (unsigned k = 0; k < ELEMENTSOF(slots); k++)
                slots[k] = safe_close(slots[k]);
        slot_filler = safe_close(slot_filler);
}

/* Puts the child's descriptors into the slots and tells the child to unshare above them.
 * False (and c unchanged) where there are no slots or they could not be filled: the child
 * then gets a copy of the whole table, as fork() gives. */
static bool install_slots(SpawnChild *c) {
        int *given[3] = { &c->errfd, &c->stdout_fd, &c->stderr_fd };
        unsigned top = 0;

        if (slot_filler < 0)
                return false;
        for (unsigned k = 0; k < ELEMENTSOF(slots); k++) {
                if (*given[k] < 0)
                        continue;
                if (dup3(*given[k], slots[k], O_CLOEXEC) < 0) {
                        clear_slots();
                        return false;
                }
        }
        for (unsigned k = 0; k < ELEMENTSOF(slots); k++) {
                if (*given[k] >= 0)
                        *given[k] = slots[k];
                top = MAX(top, (unsigned) slots[k]);
        }
        c->unshare_from = top + 1;
        return true;
}

/* Back to /dev/null: vigild must not keep the child's error pipe open (its EOF says exec). */
static void clear_slots(void) {
        for (unsigned k = 0; k < ELEMENTSOF(slots); k++)
                (void) dup3(slot_filler, slots[k], O_CLOEXEC);
}

static int pidfd_open_fd(pid_t pid) {
        long fd;

        fd = syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0)
                return -errno;
        return (int) fd;
}

int spawn_worker(const SpawnParams *p, pid_t *ret_pid, int *ret_pidfd, int *ret_errfd) {
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *procs = NULL;
        _cleanup_close_ int err_read = -EBADF, err_write = -EBADF, cgroup_fd = -EBADF;
        int pipefd[2], pidfd = -EBADF, r;
        char *watchdog_pid = NULL;
        SpawnChild child;
        pid_t pid;

        assert(p);
        assert(p->worker);
        assert(p->worker->argv && p->worker->argv[0]);
        assert(ret_pid);
        assert(ret_pidfd);
        assert(ret_errfd);

        r = hooks_spawn_fault(p->worker->name);
        if (r < 0)
                return r;

        r = spawn_build_env(p->worker, p->instance, p->extra_env, &env);
        if (r < 0)
                return r;

        if (p->watchdog_pid) {
                char *slot;

                if (asprintf(&slot, "WATCHDOG_PID=%0*d", WATCHDOG_PID_DIGITS, 0) < 0)
                        return -ENOMEM;
                r = strv_consume(&env, slot);
                if (r < 0)
                        return r;
                watchdog_pid = strchr(env[strv_length(env) - 1], '=') + 1;
        }

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        err_read = pipefd[0];
        err_write = pipefd[1];

        /* Before the clone, so that nothing can fail once a child exists. */
        if (fcntl(err_read, F_SETFL, O_NONBLOCK) < 0)
                return -errno;

        child = (SpawnChild) {
                .worker = p->worker,
                .envp = env,
                .watchdog_pid = watchdog_pid,
                .stdout_fd = p->stdout_fd,
                .stderr_fd = p->stderr_fd,
                .errfd = err_write,
        };

        /* First choice: a vfork-style child born in its cgroup. A cgroup that cannot be
         * opened or cannot take the child sends us down the fork path, whose child then
         * reports the precise error from its write to cgroup.procs. */
        if (p->cgroup_path)
                cgroup_fd = open(p->cgroup_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (!p->cgroup_path || cgroup_fd >= 0) {
                SpawnChild vchild = child;
                bool shared = install_slots(&vchild);

                pid = clone_vfork(child_main, &vchild, cgroup_fd, shared, &pidfd);
                if (shared)
                        clear_slots();
                if (pid > 0 && *(volatile bool *) &vchild.ran)
                        goto spawned;
                if (pid > 0) {
                        /* Killed before its first instruction. Linux (seen on 6.18) sends
                         * SIGKILL to a child cloned into a cgroup that was once emptied
                         * through cgroup.kill: it compares that cgroup's kill count with the
                         * one of our own cgroup. Writing cgroup.procs is not subject to it:
                         * take the fork path. */
                        siginfo_t si;

                        while (waitid(P_PIDFD, (id_t) pidfd, &si, WEXITED) < 0 && errno == EINTR)
                                ;
                        pidfd = safe_close(pidfd);
                } else if (pid == -EAGAIN || pid == -ENOMEM)
                        return pid;
                /* No child ran: child is as we built it. */
        }

        if (p->cgroup_path) {
                if (asprintf(&procs, "%s/cgroup.procs", p->cgroup_path) < 0)
                        return -ENOMEM;
                child.cgroup_procs = procs;
        }
        pid = clone_fork(&pidfd);
        if (pid < 0)
                return pid;
        if (pid == 0)
                child_run(&child);

spawned:
        err_write = safe_close(err_write);

        /* A kernel older than 5.2 ignores CLONE_PIDFD and leaves no pidfd: ask for one, and if
         * that is impossible too, do not leave behind a child nobody can track. */
        if (pidfd < 0)
                pidfd = pidfd_open_fd(pid);
        if (pidfd < 0) {
                (void) kill(pid, SIGKILL);
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                return pidfd;
        }

        *ret_pid = pid;
        *ret_pidfd = pidfd;
        *ret_errfd = TAKE_FD(err_read);
        return 0;
}

int spawn_read_error(int errfd, SpawnStage *ret_stage, int *ret_errno) {
        int stage, error, r;

        assert(errfd >= 0);
        assert(ret_stage);
        assert(ret_errno);

        r = child_setup_read_error(errfd, &stage, &error);
        if (r <= 0)
                return r;
        if (stage < 0 || stage >= _SPAWN_STAGE_MAX)
                return -EBADMSG;

        *ret_stage = (SpawnStage) stage;
        *ret_errno = error;
        return 1;
}
