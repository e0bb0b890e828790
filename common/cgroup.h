/* cgroup v2 for worker instances: finding the unified hierarchy and vigild's own cgroup,
 * moving vigild into a leaf of its own, creating one cgroup per instance, signalling,
 * killing and watching them. Paths are discovered from /proc/self/mountinfo and the "0::"
 * line of /proc/self/cgroup, never hard-coded. Non-logging: every function returns 0 or
 * -errno and the caller decides what to say. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

#define CGROUP_SUPERVISOR_LEAF "supervisor"

typedef struct CgroupRoot {
        char *mount;    /* the cgroup2 mount point, e.g. /sys/fs/cgroup/unified */
        char *base;     /* absolute path of the cgroup vigild manages: its own cgroup, or a
                         * child of the root cgroup when vigild was started in the root */
        char *origin;   /* absolute path of the cgroup vigild was in before setup */
        bool created_base; /* base was made by setup (vigild started in the root) */
} CgroupRoot;

/* Parses the text of /proc/self/mountinfo: the mount point of the first cgroup2 filesystem.
 * -ENOENT if none. Mount points with octal escapes (\040) are decoded. */
int cgroup_parse_mountinfo(const char *text, char **ret_mount);

/* The same, read from this process's /proc/self/mountinfo. */
int cgroup_find_mount(char **ret_mount);

/* Parses the text of /proc/self/cgroup: the path of the "0::" line. -ENOENT if none. */
int cgroup_parse_self(const char *text, char **ret_path);

/* Discovers the hierarchy and vigild's own cgroup, creates the leaf CGROUP_SUPERVISOR_LEAF
 * under it, moves the calling process there, and enables whatever controllers the parent
 * offers in base/cgroup.subtree_control (failures to enable are ignored: this machine's v2
 * hierarchy has none). When the own cgroup is the hierarchy root, base is
 * <mount>/<root_name> instead, so vigild never populates the root with its workers. When
 * the calling process already sits in a CGROUP_SUPERVISOR_LEAF (a second call, a re-exec),
 * the leaf's parent is the base again rather than a new level below it. root_name must be
 * one path component (-EINVAL otherwise).
 * Returns -EOPNOTSUPP when there is no cgroup2 mount, -EACCES/-EPERM/-EROFS when it is not
 * writable. */
int cgroup_root_setup(const char *root_name, CgroupRoot **ret_root);

/* Undoes cgroup_root_setup() for the calling process: moves it back to origin and removes the
 * supervisor leaf, and base too when setup created it. Worker cgroups must be gone already;
 * a base that still has children is left in place (-EBUSY). */
int cgroup_root_teardown(const CgroupRoot *r);

/* Frees; accepts NULL; returns NULL. Does not touch the filesystem. */
CgroupRoot *cgroup_root_free(CgroupRoot *r);

/* Creates (or reuses, if it exists) base/name and returns its absolute path (the caller frees
 * it): 0 if it was made now, 1 if it existed. name must be one path component other than
 * CGROUP_SUPERVISOR_LEAF (-EINVAL). */
int cgroup_create(const CgroupRoot *r, const char *name, char **ret_path);

/* 1 if cgroup.events says populated, 0 if not, -errno on error (-ENOENT: no such cgroup). */
int cgroup_is_populated(const char *path);

/* Sends sig to every process listed in path/cgroup.procs (re-reading until a pass finds no
 * process it has not signalled yet, bounded). Returns the number of processes signalled. */
int cgroup_signal(const char *path, int sig);

/* SIGKILLs everything in the cgroup through cgroup.kill (kernel 5.14+); falls back to
 * cgroup_signal(path, SIGKILL) where cgroup.kill does not exist. Returns 0 after cgroup.kill,
 * or the fallback's count. Does not wait for the cgroup to drain. */
int cgroup_kill(const char *path);

/* The oom_kill counter of path/memory.events; -ENOENT where the memory controller is absent,
 * -ENOENT too if the file has no oom_kill line. */
int cgroup_read_oom_kills(const char *path, uint64_t *ret_count);

/* Removes the (empty) cgroup directory. -EBUSY while populated. */
int cgroup_remove(const char *path);

/* Replaces the empty cgroup with a fresh one of the same name (rmdir, mkdir). The kernel kills
 * any child cloned into a cgroup that cgroup.kill once emptied (see spawn.c), so a cgroup that
 * was killed, or that an earlier vigild left, is renewed before a worker starts in it.
 * -EBUSY while populated. */
int cgroup_renew(const char *path);

/* Readies the leaf cgroup `path` (made by cgroup_create()) for a new process. Returns 1 if
 * it still holds processes (left as it is: the caller empties it and waits first), 0 when a
 * process may join it, then with a stale cgroup renewed (see cgroup_renew(); *stale is
 * cleared) unless renewing failed while the directory stayed (joining it works, only more
 * slowly). -errno when renewing removed it and could not make it again: the caller goes on
 * without it. */
int cgroup_prepare_leaf(const char *path, bool *stale);

/* Calls cb for every direct child cgroup of base other than the supervisor leaf (names of
 * worker cgroups left behind by an earlier vigild). Stops at the first negative return of cb. */
int cgroup_foreach_child(const CgroupRoot *r, int (*cb)(const char *name, const char *path, void *userdata),
                         void *userdata);
