/* The steps between clone and execve() that every child vigild starts takes (a worker's main
 * process, a probe's command), and the record a child that fails on the way sends back. See
 * child-setup.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "macro.h"

/* Every signal's disposition back to SIG_DFL (but SIGKILL's and SIGSTOP's, which cannot
 * change), glibc's two reserved real-time signals included, and an empty signal mask: nothing
 * vigild ignores or blocks survives exec. Returns 0 or -errno. Async-signal-safe. */
int child_setup_reset_signals(void);

/* Takes on an identity: the supplementary groups (n_groups of groups), then gid and uid, each
 * as real, effective and saved id. Returns 0; or -errno with *reterr_groups true when the
 * groups could not be set, false when the gid or the uid could not. Async-signal-safe. */
int child_setup_identity(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, bool *reterr_groups);

/* Moves *fd out of 0..2, which the child is about to overwrite with its stdio, to a
 * close-on-exec descriptor above 2 (the old one stays open). A negative *fd or one above 2 is
 * left as it is. Returns 0 or -errno. Async-signal-safe. */
int child_setup_lift_fd(int *fd);

/* Writes the record (stage, error) to errfd, the child's end of a close-on-exec pipe, in one
 * atomic write, and _exit()s with 127. stage is the caller's own enum. Async-signal-safe. */
_noreturn_ void child_setup_fail(int errfd, int stage, int error);

/* The parent's read of that pipe. Returns 1 with the stage (unchecked: the caller knows its
 * range) and the error (> 0); 0 on EOF (the child exec'd, or died without a word); -EAGAIN
 * where errfd is non-blocking and the child has neither exec'd nor failed yet; -EBADMSG for a
 * record that is torn or says nothing; other -errno of read(2). The outputs are set only for
 * 1. Non-logging. */
int child_setup_read_error(int errfd, int *ret_stage, int *ret_error);
