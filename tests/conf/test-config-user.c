/* Unit tests for conf/config-user.c: a user named in a file resolved to what a child needs
 * (ids, home, shell, the groups getgrouplist(3) gives, the primary group in them), a group
 * replacing the primary one, a later value replacing an earlier one without a leak, and the
 * exact "FILE:LINE: KEYPATH: problem" for an unknown user or group and a value of the wrong
 * type. Each test parses a file in a fresh temporary directory that it removes again. */

#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "conf/config-test-util.h"
#include "config-user.h"

typedef struct Settings {
        ConfigUser user;
} Settings;

static const ConfigKey keys[] = {
        CONFIG_KEY_AT("user", config_user_parse, Settings, user),
};

/* Writes text to user.conf in a fresh directory and hands its group "kind" to f. */
static int parse_with(const char *text, ConfigTestParseFunc f, Settings *s, char **ret_error) {
        return config_test_parse_group("user.conf", text, "kind", f, s, ret_error);
}

static int parse_keys(ConfigParser *p, const config_setting_t *g, void *s) {
        return config_keys_parse_group(p, g, keys, ELEMENTSOF(keys), s);
}

/* As a worker resolves its user and group: both named in the group, neither a key row. */
static int parse_user_and_group(ConfigParser *p, const config_setting_t *g, void *settings) {
        Settings *s = settings;
        const config_setting_t *us = config_setting_get_member(g, "user");
        const config_setting_t *gs = config_setting_get_member(g, "group");

        return config_user_resolve(p, us, config_setting_get_string(us), gs, config_setting_get_string(gs),
                                   &s->user);
}

static bool has_group(const ConfigUser *u, gid_t gid) {
        for (size_t i = 0; i < u->n_groups; i++)
                if (u->groups[i] == gid)
                        return true;
        return false;
}

static void assert_error(const char *text, ConfigTestParseFunc f, const char *want) {
        _cleanup_free_ char *error = NULL;
        Settings s = {};

        assert_int_equal(parse_with(text, f, &s, &error), -EINVAL);
        assert_non_null(error);
        assert_string_equal(error, want);
        assert_null(s.user.name);
        config_user_done(&s.user);
}

static void test_a_user_resolves_to_what_a_child_needs(void **state) {
        _cleanup_free_ char *error = NULL, *home = NULL, *shell = NULL;
        Settings s = {};
        struct passwd *pw;

        pw = getpwnam("root");
        assert_non_null(pw);
        home = strdup(pw->pw_dir);
        shell = strdup(pw->pw_shell);
        assert_int_equal(parse_with("kind = { user = \"root\"; };\n", parse_keys, &s, &error), 0);
        assert_null(error);
        assert_string_equal(s.user.name, "root");
        assert_int_equal(s.user.uid, 0);
        assert_int_equal(s.user.gid, 0);
        assert_string_equal(s.user.home, home);
        assert_string_equal(s.user.shell, shell);
        assert_true(s.user.n_groups >= 1);
        assert_true(has_group(&s.user, 0));
        config_user_done(&s.user);
        assert_null(s.user.name);
        assert_null(s.user.groups);
        config_user_done(&s.user);   /* idempotent */
}

static void test_a_later_value_replaces_an_earlier_one(void **state) {
        _cleanup_free_ char *error = NULL;
        Settings s = {};
        struct passwd *pw;
        uid_t uid;

        pw = getpwnam("nobody");
        if (!pw)
                skip();
        uid = pw->pw_uid;
        assert_int_equal(parse_with("kind = { user = \"root\"; };\n", parse_keys, &s, &error), 0);
        assert_int_equal(parse_with("kind = { user = \"nobody\"; };\n", parse_keys, &s, &error), 0);
        assert_string_equal(s.user.name, "nobody");
        assert_int_equal(s.user.uid, uid);
        config_user_done(&s.user);
}

static void test_a_group_replaces_the_primary_one(void **state) {
        _cleanup_free_ char *error = NULL;
        Settings s = {};

        if (!getpwnam("nobody"))
                skip();
        assert_int_equal(parse_with("kind = { user = \"nobody\"; group = \"root\"; };\n", parse_user_and_group,
                                    &s, &error),
                         0);
        assert_null(error);
        assert_int_equal(s.user.gid, 0);
        assert_true(has_group(&s.user, 0));
        config_user_done(&s.user);
}

static void test_unknown_names_and_wrong_types_are_refused(void **state) {
        assert_error("kind = {\n user = \"no-such-user-vigil\"; };\n", parse_keys,
                     "user.conf:2: kind.user: unknown user \"no-such-user-vigil\"");
        assert_error("kind = { user = 0; };\n", parse_keys,
                     "user.conf:1: kind.user: expected a user name, got an integer");
        assert_error("kind = { user = \"root\";\n group = \"no-such-group-vigil\"; };\n", parse_user_and_group,
                     "user.conf:2: kind.group: unknown group \"no-such-group-vigil\"");
        /* The user first: it is what the group is resolved for. */
        assert_error("kind = { user = \"no-such-user-vigil\";\n group = \"no-such-group-vigil\"; };\n",
                     parse_user_and_group, "user.conf:1: kind.user: unknown user \"no-such-user-vigil\"");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_a_user_resolves_to_what_a_child_needs),
                cmocka_unit_test(test_a_later_value_replaces_an_earlier_one),
                cmocka_unit_test(test_a_group_replaces_the_primary_one),
                cmocka_unit_test(test_unknown_names_and_wrong_types_are_refused),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
