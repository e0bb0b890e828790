/* Creating a child process with a pidfd: a fork-style clone(), and a vfork-style clone3() on a
 * private stack. See clone.h for when each is used. */

#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clone.h"
#include "macro.h"

/* The child's stack for clone_vfork(). Its frames are child_run()'s and a few glibc system
 * call wrappers', a few KiB; the rest is never touched, so costs no memory. */
#define CLONE_STACK_SIZE (256U * 1024U)

static bool vfork_disabled;
static bool vfork_unsupported;

void clone_vfork_disable(bool disable) {
        vfork_disabled = disable;
}

/* fork() that also yields a pidfd for the child, atomically: clone(CLONE_PIDFD). The raw
 * system call continues the child on a copy of our stack exactly as fork() would, but glibc's
 * fork handlers do not run in it; the child therefore only makes plain system calls, and
 * relies on vigild being single-threaded, as its sd-event loop is. Chosen over fork() +
 * pidfd_open() because it needs no kill-and-reap path and works under valgrind 3.19, which
 * does not know pidfd_open. */
pid_t clone_fork(int *ret_pidfd) {
        int pidfd = -EBADF;
        long pid;

        assert(ret_pidfd);

#if defined(__s390__) || defined(__s390x__)
        pid = syscall(SYS_clone, 0L, (long) (CLONE_PIDFD | SIGCHLD), &pidfd, NULL, 0L);
#else
        pid = syscall(SYS_clone, (long) (CLONE_PIDFD | SIGCHLD), 0L, &pidfd, NULL, 0L);
#endif
        if (pid < 0)
                return -errno;
        if (pid > 0)
                *ret_pidfd = pidfd;
        return (pid_t) pid;
}

#if defined(__x86_64__) && defined(SYS_clone3)
/* clone3() cannot be called through syscall(3) with a new stack: the child would return from
 * the wrapper into frames that live on the parent's stack. This trampoline keeps fn and arg in
 * registers the system call preserves (r8, r9), and in the child calls fn(arg) on the new stack,
 * then exits with its result. In the parent it returns the kernel's answer (pid or -errno). */
long vigil_clone3_trampoline(struct clone_args *args, size_t size, int (*fn)(void *), void *arg)
        __attribute__((visibility("hidden")));
__asm__(".text\n"
        ".globl vigil_clone3_trampoline\n"
        ".hidden vigil_clone3_trampoline\n"
        ".type vigil_clone3_trampoline,@function\n"
        ".p2align 4\n"
        "vigil_clone3_trampoline:\n"
        "        movq %rdx, %r8\n"
        "        movq %rcx, %r9\n"
        "        movl $" STRINGIFY(SYS_clone3) ", %eax\n"
        "        syscall\n"
        "        testq %rax, %rax\n"
        "        jz 1f\n"
        "        ret\n"
        "1:      xorl %ebp, %ebp\n"
        "        movq %r9, %rdi\n"
        "        callq *%r8\n"
        "        movl %eax, %edi\n"
        "        movl $" STRINGIFY(SYS_exit) ", %eax\n"
        "        syscall\n"
        "        hlt\n"
        ".size vigil_clone3_trampoline, .-vigil_clone3_trampoline\n");
#define HAVE_CLONE3_TRAMPOLINE 1
#endif

pid_t clone_vfork(int (*fn)(void *arg), void *arg, int cgroup_fd, bool share_fds, int *ret_pidfd) {
#ifdef HAVE_CLONE3_TRAMPOLINE
        static void *stack;
        struct clone_args args;
        int pidfd = -EBADF;
        long pid;

        assert(fn);
        assert(ret_pidfd);

        if (vfork_disabled || vfork_unsupported)
                return -ENOSYS;

        if (!stack) {
                /* A guard page below the stack turns an overflow into a crash of the child,
                 * never into a write over the parent's memory. */
                void *p = mmap(NULL, CLONE_STACK_SIZE + (size_t) getpagesize(), PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);

                if (p == MAP_FAILED)
                        return -errno;
                if (mprotect(p, (size_t) getpagesize(), PROT_NONE) < 0) {
                        int r = -errno;

                        (void) munmap(p, CLONE_STACK_SIZE + (size_t) getpagesize());
                        return r;
                }
                stack = (uint8_t *) p + getpagesize();
        }

        args = (struct clone_args) {
                .flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD,
                .pidfd = (uint64_t) (uintptr_t) &pidfd,
                .exit_signal = SIGCHLD,
                .stack = (uint64_t) (uintptr_t) stack,
                .stack_size = CLONE_STACK_SIZE,
        };
        if (share_fds)
                args.flags |= CLONE_FILES;
        if (cgroup_fd >= 0) {
                args.flags |= CLONE_INTO_CGROUP;
                args.cgroup = (uint64_t) cgroup_fd;
        }

        pid = vigil_clone3_trampoline(&args, sizeof args, fn, arg);
        if (pid < 0) {
                /* No clone3 (before 5.3, or under valgrind 3.19), or one that does not know
                 * cgroup (before 5.7): say so once, and the caller forks from then on. */
                if (pid == -ENOSYS || pid == -E2BIG) {
                        vfork_unsupported = true;
                        return -ENOSYS;
                }
                return (pid_t) pid;
        }
        *ret_pidfd = pidfd;
        return (pid_t) pid;
#else
        return -ENOSYS;
#endif
}
