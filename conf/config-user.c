/* Resolving a user account (and optionally a group) named in vigil.conf at parse time: its
 * ids, its home and shell, and its supplementary groups, for a worker's main process and for a
 * probe's command. Done here, once per read of the file, so that no child of a clone ever
 * calls into NSS (it runs in vigild's memory, and NSS may allocate, lock or talk to a
 * daemon). Non-logging; reads the user and group databases, nothing else. */

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "config-user.h"

/* getpwnam(3) and getgrnam(3) report "no such entry" with any of these, depending on the NSS
 * module. */
static bool errno_means_not_found(int e) {
        return e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM;
}

/* The groups of user name with primary group gid. The list may grow between two calls:
 * retried a few times with the size getgrouplist(3) reports. */
static int list_groups(ConfigParser *p, const config_setting_t *us, const char *name, gid_t gid,
                       gid_t **ret_groups, size_t *ret_n) {
        _cleanup_free_ gid_t *groups = NULL;
        int n = 16;

        for (unsigned attempt = 0;; attempt++) {
                gid_t *a = reallocarray(groups, (size_t) n, sizeof(gid_t));
                int m = n;

                if (!a)
                        return -ENOMEM;
                groups = a;
                if (getgrouplist(name, gid, groups, &m) >= 0) {
                        n = m;
                        break;
                }
                if (attempt >= 3 || m <= n)
                        return config_keys_fail(p, us, "cannot list the groups of user \"%s\"", name);
                n = m;
        }
        *ret_groups = TAKE_PTR(groups);
        *ret_n = (size_t) n;
        return 0;
}

int config_user_resolve(ConfigParser *p, const config_setting_t *us, const char *name,
                        const config_setting_t *gs, const char *group, ConfigUser *ret) {
        _cleanup_(config_user_done) ConfigUser u = {};
        struct passwd *pw;
        int r;

        assert(p);
        assert(name);
        assert(ret);

        errno = 0;
        pw = getpwnam(name);
        if (!pw) {
                if (!errno_means_not_found(errno))
                        return config_keys_fail(p, us, "cannot look up user \"%s\": %m", name);
                return config_keys_fail(p, us, "unknown user \"%s\"", name);
        }
        u.uid = pw->pw_uid;
        u.gid = pw->pw_gid;
        u.name = strdup(name);
        u.home = strdup(pw->pw_dir ?: "/");
        u.shell = strdup(pw->pw_shell ?: "/bin/sh");
        if (!u.name || !u.home || !u.shell)
                return -ENOMEM;

        if (group) {
                struct group *gr;

                errno = 0;
                gr = getgrnam(group);
                if (!gr) {
                        if (!errno_means_not_found(errno))
                                return config_keys_fail(p, gs, "cannot look up group \"%s\": %m", group);
                        return config_keys_fail(p, gs, "unknown group \"%s\"", group);
                }
                u.gid = gr->gr_gid;
        }

        r = list_groups(p, us, name, u.gid, &u.groups, &u.n_groups);
        if (r < 0)
                return r;
        *ret = u;
        u = (ConfigUser) {};
        return 0;
}

void config_user_done(ConfigUser *u) {
        if (!u)
                return;
        free(u->name);
        free(u->groups);
        free(u->home);
        free(u->shell);
        *u = (ConfigUser) {};
}

int config_user_parse(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *settings) {
        ConfigUser *field = CONFIG_KEY_FIELD(settings, k, ConfigUser), u = {};
        const char *v = NULL;
        int r;

        r = config_keys_expect_string(p, s, "a user name", &v);
        if (r < 0)
                return r;
        r = config_user_resolve(p, s, v, NULL, NULL, &u);
        if (r < 0)
                return r;
        config_user_done(field);
        *field = u;
        return 0;
}
