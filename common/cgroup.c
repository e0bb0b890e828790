/* cgroup v2 support for worker instances: locating the unified hierarchy and vigild's own
 * cgroup from procfs, the supervisor leaf vigild moves itself into, and the per-instance
 * cgroups below the managed base (create, signal, kill, watch, remove, enumerate).
 * Owns nothing but the paths in a CgroupRoot. Non-logging: every function returns 0 (or a
 * count) or -errno. Only reads and writes small cgroupfs/procfs files; never waits for a
 * cgroup to drain. Every fd is O_CLOEXEC. */

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "cgroup.h"
#include "fileio.h"

#define CGROUP_FILE_MAX (4U * 1024U * 1024U)
#define CGROUP_SIGNAL_PASSES 16U

static int path_join(const char *a, const char *b, char **ret_path) {
        char *p;

        if (asprintf(&p, "%s/%s", a, b) < 0)
                return -ENOMEM;
        *ret_path = p;
        return 0;
}

/* The value of key in dir/file, a "key value" per line file such as cgroup.events. */
static int read_keyed(const char *dir, const char *file, const char *key, uint64_t *ret_value) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = path_join(dir, file, &path);
        if (r < 0)
                return r;
        return read_keyed_u64(path, key, ret_value);
}

static bool cgroup_name_is_valid(const char *name) {
        return name && *name && !strchr(name, '/') && !streq(name, ".") && !streq(name, "..");
}

static int octal_digit(char c) {
        return c >= '0' && c <= '7' ? c - '0' : -1;
}

/* Copies a mountinfo field of length len, decoding the kernel's \ooo escapes. */
static char *mountinfo_unescape(const char *s, size_t len) {
        char *out, *o;

        out = malloc(len + 1);
        if (!out)
                return NULL;

        o = out;
        for (size_t i = 0; i < len; i++) {
                if (s[i] == '\\' && i + 3 < len && octal_digit(s[i + 1]) >= 0 &&
                    octal_digit(s[i + 2]) >= 0 && octal_digit(s[i + 3]) >= 0) {
                        int v = octal_digit(s[i + 1]) * 64 + octal_digit(s[i + 2]) * 8 + octal_digit(s[i + 3]);

                        if (v > 0 && v < 256) {
                                *o++ = (char) v;
                                i += 3;
                                continue;
                        }
                }
                *o++ = s[i];
        }
        *o = '\0';
        return out;
}

/* Field n (0-based) of a space separated line that ends at eol; sets *ret_len. */
static const char *field_n(const char *line, const char *eol, unsigned n, size_t *ret_len) {
        const char *p = line;

        for (unsigned i = 0;; i++) {
                const char *end;

                while (p < eol && *p == ' ')
                        p++;
                if (p >= eol)
                        return NULL;
                end = p;
                while (end < eol && *end != ' ')
                        end++;
                if (i == n) {
                        *ret_len = (size_t) (end - p);
                        return p;
                }
                p = end;
        }
}

int cgroup_parse_mountinfo(const char *text, char **ret_mount) {
        assert(text);
        assert(ret_mount);

        for (const char *line = text; *line;) {
                const char *eol = strchrnul(line, '\n'), *sep, *fstype, *mnt;
                size_t fstype_len = 0, mnt_len = 0;

                /* The optional fields end at the first " - "; the filesystem type follows it. */
                sep = memmem(line, (size_t) (eol - line), " - ", 3);
                if (sep) {
                        fstype = field_n(sep + 3, eol, 0, &fstype_len);
                        mnt = field_n(line, sep, 4, &mnt_len);
                        if (fstype && mnt && fstype_len == strlen("cgroup2") &&
                            memcmp(fstype, "cgroup2", fstype_len) == 0) {
                                char *m = mountinfo_unescape(mnt, mnt_len);

                                if (!m)
                                        return -ENOMEM;
                                *ret_mount = m;
                                return 0;
                        }
                }

                line = *eol ? eol + 1 : eol;
        }

        return -ENOENT;
}

int cgroup_parse_self(const char *text, char **ret_path) {
        assert(text);
        assert(ret_path);

        for (const char *line = text; *line;) {
                const char *eol = strchrnul(line, '\n');

                if (strncmp(line, "0::", 3) == 0 && eol > line + 3) {
                        char *p = strndup(line + 3, (size_t) (eol - line - 3));

                        if (!p)
                                return -ENOMEM;
                        *ret_path = p;
                        return 0;
                }

                line = *eol ? eol + 1 : eol;
        }

        return -ENOENT;
}

CgroupRoot *cgroup_root_free(CgroupRoot *r) {
        if (!r)
                return NULL;
        free(r->mount);
        free(r->base);
        free(r->origin);
        return mfree(r);
}

static void cgroup_enable_controllers(const char *base) {
        _cleanup_free_ char *controllers = NULL, *available = NULL, *subtree = NULL;
        char *saveptr = NULL;

        if (path_join(base, "cgroup.controllers", &available) < 0 ||
            path_join(base, "cgroup.subtree_control", &subtree) < 0)
                return;
        if (read_full_file(available, CGROUP_FILE_MAX, &controllers, NULL) < 0)
                return;

        for (char *c = strtok_r(controllers, " \n", &saveptr); c; c = strtok_r(NULL, " \n", &saveptr)) {
                char buf[64];

                if ((size_t) snprintf(buf, sizeof buf, "+%s", c) >= sizeof buf)
                        continue;
                (void) write_string_file(subtree, buf);
        }
}

static int make_dir(const char *path) {
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int cgroup_find_mount(char **ret_mount) {
        _cleanup_free_ char *mountinfo = NULL;
        int r;

        assert(ret_mount);

        r = read_full_file("/proc/self/mountinfo", CGROUP_FILE_MAX, &mountinfo, NULL);
        if (r < 0)
                return r;
        return cgroup_parse_mountinfo(mountinfo, ret_mount);
}

int cgroup_root_setup(const char *root_name, CgroupRoot **ret_root) {
        _cleanup_free_ char *self = NULL, *mount = NULL, *own = NULL, *base = NULL,
                            *leaf = NULL, *procs = NULL, *origin = NULL;
        bool created_base = false;
        CgroupRoot *root;
        size_t len;
        int r;

        assert(ret_root);

        if (!cgroup_name_is_valid(root_name))
                return -EINVAL;

        r = cgroup_find_mount(&mount);
        if (r == -ENOENT)
                return -EOPNOTSUPP;
        if (r < 0)
                return r;

        r = read_full_file("/proc/self/cgroup", CGROUP_FILE_MAX, &self, NULL);
        if (r < 0)
                return r;
        r = cgroup_parse_self(self, &own);
        if (r == -ENOENT)
                return -EOPNOTSUPP;
        if (r < 0)
                return r;

        /* Already inside a supervisor leaf (a second setup, or a re-exec): manage its parent
         * again rather than nesting a new base below the leaf. */
        len = strlen(own);
        if (len > strlen("/" CGROUP_SUPERVISOR_LEAF) &&
            streq(own + len - strlen("/" CGROUP_SUPERVISOR_LEAF), "/" CGROUP_SUPERVISOR_LEAF))
                own[len - strlen("/" CGROUP_SUPERVISOR_LEAF)] = '\0';

        if (asprintf(&origin, "%s%s", mount, streq(own, "/") ? "" : own) < 0)
                return -ENOMEM;
        if (streq(own, "/")) {
                r = path_join(mount, root_name, &base);
                if (r < 0)
                        return r;
                r = make_dir(base);
                if (r < 0)
                        return r;
                created_base = true;
        } else if (asprintf(&base, "%s%s", mount, own) < 0)
                return -ENOMEM;

        r = path_join(base, CGROUP_SUPERVISOR_LEAF, &leaf);
        if (r < 0)
                return r;
        r = make_dir(leaf);
        if (r < 0)
                return r;

        r = path_join(leaf, "cgroup.procs", &procs);
        if (r < 0)
                return r;
        r = write_string_file(procs, "0");
        if (r < 0)
                return r;

        /* Only now is base free of processes of its own, which the kernel requires before
         * controllers can be enabled for its children. */
        cgroup_enable_controllers(base);

        root = calloc(1, sizeof(CgroupRoot));
        if (!root)
                return -ENOMEM;
        root->mount = TAKE_PTR(mount);
        root->base = TAKE_PTR(base);
        root->origin = TAKE_PTR(origin);
        root->created_base = created_base;
        *ret_root = root;
        return 0;
}

int cgroup_root_teardown(const CgroupRoot *r) {
        _cleanup_free_ char *procs = NULL, *leaf = NULL;
        int k;

        assert(r);

        k = path_join(r->origin, "cgroup.procs", &procs);
        if (k < 0)
                return k;
        k = write_string_file(procs, "0");
        if (k < 0)
                return k;
        k = path_join(r->base, CGROUP_SUPERVISOR_LEAF, &leaf);
        if (k < 0)
                return k;
        if (rmdir(leaf) < 0 && errno != ENOENT)
                return -errno;
        if (r->created_base && rmdir(r->base) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int cgroup_create(const CgroupRoot *r, const char *name, char **ret_path) {
        _cleanup_free_ char *path = NULL;
        bool existed = false;
        int k;

        assert(r);
        assert(ret_path);

        if (!cgroup_name_is_valid(name) || streq(name, CGROUP_SUPERVISOR_LEAF))
                return -EINVAL;

        k = path_join(r->base, name, &path);
        if (k < 0)
                return k;
        if (mkdir(path, 0755) < 0) {
                if (errno != EEXIST)
                        return -errno;
                existed = true;
        }

        *ret_path = TAKE_PTR(path);
        return existed;
}

int cgroup_renew(const char *path) {
        assert(path);

        if (rmdir(path) < 0 && errno != ENOENT)
                return -errno;
        return RET_NERRNO(mkdir(path, 0755));
}

int cgroup_prepare_leaf(const char *path, bool *stale) {
        int r;

        assert(path);
        assert(stale);

        r = cgroup_is_populated(path);
        if (r > 0)
                return 1;
        if (!*stale)
                return 0;
        *stale = false;
        r = cgroup_renew(path);
        if (r < 0 && access(path, F_OK) < 0)
                return r;
        return 0;
}

int cgroup_is_populated(const char *path) {
        uint64_t v;
        int r;

        assert(path);

        r = read_keyed(path, "cgroup.events", "populated", &v);
        if (r < 0)
                return r;
        return v != 0;
}

static bool pid_in(const pid_t *pids, size_t n, pid_t pid) {
        for (size_t i = 0; i < n; i++)
                if (pids[i] == pid)
                        return true;
        return false;
}

int cgroup_signal(const char *path, int sig) {
        _cleanup_free_ char *procs = NULL;
        _cleanup_free_ pid_t *seen = NULL;
        size_t n_seen = 0, n_allocated = 0;
        int r, n_signalled = 0, first_error = 0;

        assert(path);

        r = path_join(path, "cgroup.procs", &procs);
        if (r < 0)
                return r;

        /* A process may fork between our read of cgroup.procs and its signal; its child is
         * only visible to the next read. Stop once a pass adds nothing new. */
        for (unsigned pass = 0; pass < CGROUP_SIGNAL_PASSES; pass++) {
                _cleanup_free_ char *text = NULL;
                bool added = false;
                char *saveptr = NULL;

                r = read_full_file(procs, CGROUP_FILE_MAX, &text, NULL);
                if (r == -ENOENT && pass > 0)
                        break;
                if (r < 0)
                        return r;

                for (char *tok = strtok_r(text, "\n", &saveptr); tok; tok = strtok_r(NULL, "\n", &saveptr)) {
                        char *end;
                        long v;

                        errno = 0;
                        v = strtol(tok, &end, 10);
                        if (errno != 0 || *end != '\0' || v <= 0 || v > INT32_MAX)
                                continue;
                        if (pid_in(seen, n_seen, (pid_t) v))
                                continue;

                        if (n_seen == n_allocated) {
                                size_t want = n_allocated == 0 ? 16 : n_allocated * 2;
                                pid_t *p = reallocarray(seen, want, sizeof(pid_t));

                                if (!p)
                                        return -ENOMEM;
                                seen = p;
                                n_allocated = want;
                        }
                        seen[n_seen++] = (pid_t) v;
                        added = true;

                        if (kill((pid_t) v, sig) < 0) {
                                if (errno != ESRCH && first_error == 0)
                                        first_error = -errno;
                                continue;
                        }
                        n_signalled++;
                }

                if (!added)
                        break;
        }

        if (n_signalled == 0 && first_error < 0)
                return first_error;
        return n_signalled;
}

int cgroup_kill(const char *path) {
        _cleanup_free_ char *kill_file = NULL;
        int r;

        assert(path);

        r = path_join(path, "cgroup.kill", &kill_file);
        if (r < 0)
                return r;

        r = write_string_file(kill_file, "1");
        if (r == -ENOENT)
                return cgroup_signal(path, SIGKILL);
        return r;
}

int cgroup_read_oom_kills(const char *path, uint64_t *ret_count) {
        assert(path);
        assert(ret_count);

        return read_keyed(path, "memory.events", "oom_kill", ret_count);
}

int cgroup_remove(const char *path) {
        assert(path);

        return RET_NERRNO(rmdir(path));
}

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

int cgroup_foreach_child(const CgroupRoot *r, int (*cb)(const char *name, const char *path, void *userdata),
                         void *userdata) {
        _cleanup_(closedirp) DIR *d = NULL;
        int fd;

        assert(r);
        assert(cb);

        fd = open(r->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                (void) safe_close(fd);
                return -errno;
        }

        for (;;) {
                _cleanup_free_ char *path = NULL;
                struct dirent *de;
                int k;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return -errno;
                        return 0;
                }

                if (streq(de->d_name, ".") || streq(de->d_name, "..") ||
                    streq(de->d_name, CGROUP_SUPERVISOR_LEAF))
                        continue;
                if (de->d_type == DT_UNKNOWN) {
                        struct stat st;

                        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                                continue;
                } else if (de->d_type != DT_DIR)
                        continue;

                k = path_join(r->base, de->d_name, &path);
                if (k < 0)
                        return k;
                k = cb(de->d_name, path, userdata);
                if (k < 0)
                        return k;
        }
}
