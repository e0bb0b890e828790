/* A user account named in vigil.conf (a worker's user and group, a probe command's user),
 * resolved when the file is read. See config-user.c. Non-logging. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "config-keys.h"

/* What a child process needs to take on an account, with no NSS call of its own. Zeroed: no
 * user configured. */
typedef struct ConfigUser {
        char *name;         /* NULL: none */
        uid_t uid;
        gid_t gid;          /* the configured group's, else the account's primary group */
        gid_t *groups;      /* the groups getgrouplist(3) gives for name and gid, gid included */
        size_t n_groups;
        char *home;         /* the account's home directory; "/" if the entry has none */
        char *shell;        /* its shell; "/bin/sh" if the entry has none */
} ConfigUser;

/* Looks up the user name (the value of setting us) and, unless group is NULL, the group (the
 * value of gs), whose gid then replaces the primary one, and lists the user's groups. On
 * success fills *ret, which the caller frees with config_user_done(). Returns 0; -EINVAL with
 * "unknown user", "cannot look up user", "unknown group", "cannot look up group" or "cannot
 * list the groups of user" recorded in p against us or gs; -ENOMEM. Non-logging. */
int config_user_resolve(ConfigParser *p, const config_setting_t *us, const char *name,
                        const config_setting_t *gs, const char *group, ConfigUser *ret);

/* Frees what u holds and zeroes it. */
void config_user_done(ConfigUser *u);

/* A ConfigKey parser for a ConfigUser field (CONFIG_KEY_AT("user", config_user_parse, T,
 * field)): a user name, resolved with its primary group; replaces an earlier value. */
int config_user_parse(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *settings);
