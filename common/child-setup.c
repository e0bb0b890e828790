/* The child side shared by supervisor/spawn.c (a worker's main process) and
 * probes/probe-command.c (a probe's command): resetting signals, taking on a user, keeping a
 * descriptor clear of stdio, and the failure record sent back over a close-on-exec pipe, with
 * its reader for the parent. The child functions run in a vfork-style child that shares
 * vigild's memory while vigild waits: raw system calls only, no allocation, no locks, no
 * stdio, no NSS, no logging, and no writes but to their arguments and errno. The order of the
 * steps, the stages and the messages are the callers'. Non-logging. */

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "child-setup.h"

/* 32-bit architectures keep the 16-bit-id system calls under the plain names. */
#ifdef SYS_setresuid32
#  define SYS_SETGROUPS SYS_setgroups32
#  define SYS_SETRESGID SYS_setresgid32
#  define SYS_SETRESUID SYS_setresuid32
#else
#  define SYS_SETGROUPS SYS_setgroups
#  define SYS_SETRESGID SYS_setresgid
#  define SYS_SETRESUID SYS_setresuid
#endif

/* The record a failing child writes; smaller than PIPE_BUF, so the write is atomic. */
typedef struct ChildSetupError {
        int32_t stage;
        int32_t error;
} ChildSetupError;

/* The kernel's struct sigaction for rt_sigaction(2) on the architectures we build for. */
struct kernel_sigaction {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        uint64_t mask;
};

int child_setup_reset_signals(void) {
        struct kernel_sigaction sa = { .handler = SIG_DFL };
        sigset_t mask;

        /* The raw system call, not sigaction(): glibc refuses to touch the two real-time
         * signals it reserves (32, 33) with EINVAL, yet an ignored disposition of them, which
         * GNU make for one passes on, would survive exec. */
        for (int sig = 1; sig < _NSIG; sig++) {
                if (sig == SIGKILL || sig == SIGSTOP)
                        continue;
                if (syscall(SYS_rt_sigaction, sig, &sa, NULL, sizeof(sa.mask)) < 0 && errno != EINVAL)
                        return -errno;
        }

        if (sigemptyset(&mask) < 0 || sigprocmask(SIG_SETMASK, &mask, NULL) < 0)
                return -errno;
        return 0;
}

int child_setup_identity(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, bool *reterr_groups) {
        /* The system calls, not glibc's wrappers, which would try to bring the other threads
         * of a process along: the child shares vigild's memory but is none of its threads. */
        if (syscall(SYS_SETGROUPS, n_groups, groups) < 0) {
                *reterr_groups = true;
                return -errno;
        }
        if (syscall(SYS_SETRESGID, gid, gid, gid) < 0 || syscall(SYS_SETRESUID, uid, uid, uid) < 0) {
                *reterr_groups = false;
                return -errno;
        }
        return 0;
}

int child_setup_lift_fd(int *fd) {
        int nfd;

        if (*fd < 0 || *fd > STDERR_FILENO)
                return 0;
        nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
        if (nfd < 0)
                return -errno;
        *fd = nfd;
        return 0;
}

_noreturn_ void child_setup_fail(int errfd, int stage, int error) {
        ChildSetupError e = { .stage = stage, .error = error };
        ssize_t n;

        do
                n = write(errfd, &e, sizeof e);
        while (n < 0 && errno == EINTR);

        _exit(127);
}

int child_setup_read_error(int errfd, int *ret_stage, int *ret_error) {
        ChildSetupError e;
        ssize_t n;

        do
                n = read(errfd, &e, sizeof e);
        while (n < 0 && errno == EINTR);

        if (n < 0)
                return -errno;
        if (n == 0)
                return 0;
        if ((size_t) n != sizeof e || e.error <= 0)
                return -EBADMSG;

        *ret_stage = e.stage;
        *ret_error = e.error;
        return 1;
}
