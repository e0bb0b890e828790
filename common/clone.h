/* Creating a child process with a pidfd, two ways. Non-logging.
 *
 * clone_fork(): a copy of the caller, like fork(), continuing where it was called.
 * clone_vfork(): a child that borrows the caller's memory and runs fn(arg) on a private stack
 * while the caller waits, until the child execs or exits (CLONE_VM | CLONE_VFORK, as
 * posix_spawn does), optionally born straight into a cgroup (CLONE_INTO_CGROUP). No page table
 * is copied and no copy-on-write fault follows in the caller, so its cost does not grow with
 * the caller's size, and joining the cgroup takes no write to cgroup.procs (whose lock waits
 * for an RCU grace period). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* Returns the child's pid in the parent (and its pidfd in *ret_pidfd, which is -EBADF only on
 * a kernel older than 5.2), 0 in the child, -errno on failure. The child may only make
 * system calls: glibc's fork handlers did not run in it. */
pid_t clone_fork(int *ret_pidfd);

/* Returns the child's pid and pidfd, or -errno: -ENOSYS when this build or kernel cannot do
 * it (no clone3, an architecture without the trampoline, or clone_vfork_disable()), and the
 * kernel's error otherwise (for instance for a cgroup_fd that cannot take the child). fn must
 * not return to the caller's frames, must not allocate or take locks (the caller's memory is
 * shared), and must end in execve() or _exit(); its return value becomes the exit status.
 * cgroup_fd < 0: the child stays in the caller's cgroup. share_fds: the child shares the
 * caller's descriptor table (CLONE_FILES) instead of getting a copy, until it unshares it;
 * while shared, whatever it opens, closes or dup2()s happens to the caller's table too.
 * Not reentrant: one private stack. */
pid_t clone_vfork(int (*fn)(void *arg), void *arg, int cgroup_fd, bool share_fds, int *ret_pidfd);

/* Makes clone_vfork() answer -ENOSYS (or not), so that tests can drive the fork path on a
 * kernel that has both. */
void clone_vfork_disable(bool disable);
