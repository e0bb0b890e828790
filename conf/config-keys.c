/* The machinery behind key tables: FILE:LINE error reporting for a libconfig setting, the
 * expect_* checks of one value's type and range, the walk of a group against a ConfigKey
 * table, and the generic parsers the CONFIG_KEY_* rows name.
 * Owns no state beyond the ConfigParser it is handed; knows no section of vigil.conf (those
 * tables live with their sections). Non-logging; never prints, never exits. */

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>

#include "config-keys.h"
#include "parse-util.h"
#include "strv.h"

static const char *setting_type_name(int type) {
        switch (type) {
        case CONFIG_TYPE_GROUP:
                return "a group";
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
                return "an integer";
        case CONFIG_TYPE_FLOAT:
                return "a float";
        case CONFIG_TYPE_STRING:
                return "a string";
        case CONFIG_TYPE_BOOL:
                return "a boolean";
        case CONFIG_TYPE_ARRAY:
                return "an array";
        case CONFIG_TYPE_LIST:
                return "a list";
        default:
                return "nothing";
        }
}

const char *config_keys_type_name(const config_setting_t *s) {
        return setting_type_name(config_setting_type(s));
}

/* "workers[2].backoff.factor": names for group members, 0-based indexes for elements. */
static char *setting_path(const config_setting_t *s) {
        _cleanup_free_ char *parent = NULL;
        const config_setting_t *up = config_setting_parent(s);
        const char *name = config_setting_name(s);
        char *r;

        if (!up)
                return strdup("");
        parent = setting_path(up);
        if (!parent)
                return NULL;

        if (name) {
                if (asprintf(&r, "%s%s%s", parent, parent[0] ? "." : "", name) < 0)
                        return NULL;
        } else if (asprintf(&r, "%s[%d]", parent, config_setting_index(s)) < 0)
                return NULL;
        return r;
}

int config_keys_fail(ConfigParser *p, const config_setting_t *s, const char *fmt, ...) {
        _cleanup_free_ char *path = NULL, *what = NULL;
        unsigned line = config_setting_source_line(s);
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&what, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        path = setting_path(s);
        if (!path)
                return -ENOMEM;

        if (path[0])
                return config_source_error_at(p->source, line, &p->error, -EINVAL, "%s: %s", path, what);
        return config_source_error_at(p->source, line, &p->error, -EINVAL, "%s", what);
}

bool config_keys_is_int(const config_setting_t *s) {
        return config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64;
}

bool config_keys_is_sequence(const config_setting_t *s) {
        return config_setting_is_array(s) || config_setting_is_list(s);
}

bool config_keys_path_is_absolute(const char *path) {
        return path[0] == '/' && strlen(path) < PATH_MAX;
}

int config_keys_expect_type(ConfigParser *p, const config_setting_t *s, int type, const char *expected) {
        if (config_setting_type(s) == type)
                return 0;
        return config_keys_fail(p, s, "expected %s, got %s", expected, config_keys_type_name(s));
}

int config_keys_expect_int(ConfigParser *p, const config_setting_t *s, int64_t min, int64_t max,
                           int64_t *ret_value) {
        int64_t v = 0;

        if (!config_keys_is_int(s))
                return config_keys_fail(p, s, "expected an integer, got %s", config_keys_type_name(s));

        v = config_setting_get_int64(s);
        if (v < min || v > max)
                return config_keys_fail(p, s, "%" PRId64 " is out of range %" PRId64 "..%" PRId64, v, min,
                                        max);

        *ret_value = v;
        return 0;
}

int config_keys_expect_string(ConfigParser *p, const config_setting_t *s, const char *expected,
                              const char **ret_value) {
        int r;

        r = config_keys_expect_type(p, s, CONFIG_TYPE_STRING, expected);
        if (r < 0)
                return r;
        *ret_value = config_setting_get_string(s);
        return 0;
}

int config_keys_expect_absolute_path(ConfigParser *p, const config_setting_t *s, const char **ret_path) {
        const char *v = NULL;
        int r;

        r = config_keys_expect_string(p, s, "an absolute path", &v);
        if (r < 0)
                return r;
        if (!config_keys_path_is_absolute(v))
                return config_keys_fail(p, s, "\"%s\" is not an absolute path", v);

        *ret_path = v;
        return 0;
}

int config_keys_expect_string_list(ConfigParser *p, const config_setting_t *s, size_t max,
                                   const char *example, char ***ret_strv) {
        _cleanup_strv_free_ char **l = NULL;
        int n, r;

        if (!config_keys_is_sequence(s))
                return config_keys_fail(p, s, "expected an array of strings such as %s, got %s", example,
                                        config_keys_type_name(s));

        n = config_setting_length(s);
        if ((size_t) n > max)
                return config_keys_fail(p, s, "more than %zu entries", max);

        /* An empty vector is still a vector: callers tell "set to empty" from "unset". */
        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;

        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned) i);
                const char *v = NULL;

                r = config_keys_expect_string(p, e, "a string", &v);
                if (r < 0)
                        return r;
                r = strv_extend(&l, v);
                if (r < 0)
                        return r;
        }

        *ret_strv = TAKE_PTR(l);
        return 0;
}

int config_keys_expect_argv(ConfigParser *p, const config_setting_t *s, size_t max, const char *example,
                           char ***ret_argv) {
        _cleanup_strv_free_ char **argv = NULL;
        int r;

        r = config_keys_expect_string_list(p, s, max, example, &argv);
        if (r < 0)
                return r;
        if (!argv[0])
                return config_keys_fail(p, s, "must not be empty");
        /* No shell and no PATH search: what runs is exactly what the file names. */
        if (!config_keys_path_is_absolute(argv[0]))
                return config_keys_fail(p, config_setting_get_elem(s, 0), "\"%s\" is not an absolute path",
                                        argv[0]);

        *ret_argv = TAKE_PTR(argv);
        return 0;
}

int config_keys_parse_members(ConfigParser *p, const config_setting_t *g, const ConfigKey *keys,
                              size_t n_keys, void *settings) {
        int r;

        for (int i = 0; i < config_setting_length(g); i++) {
                const config_setting_t *s = config_setting_get_elem(g, (unsigned) i);
                const ConfigKey *k = NULL;

                for (size_t j = 0; j < n_keys; j++)
                        if (streq(keys[j].name, config_setting_name(s))) {
                                k = &keys[j];
                                break;
                        }
                if (!k)
                        return config_keys_fail(p, s, "unknown key");

                r = k->parse(p, s, k, settings);
                if (r < 0)
                        return r;
        }

        return 0;
}

int config_keys_parse_group(ConfigParser *p, const config_setting_t *s, const ConfigKey *keys, size_t n_keys,
                            void *settings) {
        int r;

        r = config_keys_expect_type(p, s, CONFIG_TYPE_GROUP, "a group");
        if (r < 0)
                return r;
        return config_keys_parse_members(p, s, keys, n_keys, settings);
}

/* ---- generic key parsers ---- */

int config_keys_parse_unsigned(ConfigParser *p, const config_setting_t *s, const ConfigKey *k,
                               void *settings) {
        int64_t v = 0;
        int r;

        r = config_keys_expect_int(p, s, k->min, k->max, &v);
        if (r < 0)
                return r;
        *CONFIG_KEY_FIELD(settings, k, unsigned) = (unsigned) v;
        return 0;
}

int config_keys_parse_bool(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *settings) {
        int r;

        r = config_keys_expect_type(p, s, CONFIG_TYPE_BOOL, "true or false");
        if (r < 0)
                return r;
        *CONFIG_KEY_FIELD(settings, k, bool) = config_setting_get_bool(s);
        return 0;
}

int config_keys_parse_duration(ConfigParser *p, const config_setting_t *s, const ConfigKey *k,
                               void *settings) {
        const char *v = NULL;
        usec_t u;
        int r;

        if (config_setting_type(s) != CONFIG_TYPE_STRING)
                return config_keys_fail(p, s, "expected a duration string such as \"10s\", got %s",
                                        config_keys_type_name(s));
        v = config_setting_get_string(s);

        r = parse_duration(v, &u);
        if (r == -ERANGE)
                return config_keys_fail(p, s, "duration \"%s\" is too large", v);
        if (r < 0) {
                if (v[0] && strspn(v, "0123456789.") == strlen(v))
                        return config_keys_fail(
                                p, s, "invalid duration \"%s\": a unit is required, e.g. \"%ss\"", v, v);
                return config_keys_fail(p, s, "invalid duration \"%s\" (units: us, ms, s, m, h, d, w)", v);
        }
        if (u == USEC_INFINITY && !k->infinity)
                return config_keys_fail(p, s, "\"infinity\" is not allowed here");
        if (u == 0 && k->min > 0)
                return config_keys_fail(p, s, "must be greater than 0");

        *CONFIG_KEY_FIELD(settings, k, usec_t) = u;
        return 0;
}

static int set_string_field(char **field, const char *v) {
        free(*field);
        *field = strdup(v);
        return *field ? 0 : -ENOMEM;
}

int config_keys_parse_string(ConfigParser *p, const config_setting_t *s, const ConfigKey *k,
                             void *settings) {
        const char *v = NULL;
        int r;

        r = config_keys_expect_string(p, s, "a string", &v);
        if (r < 0)
                return r;
        if (!v[0])
                return config_keys_fail(p, s, "must not be empty");

        return set_string_field(CONFIG_KEY_FIELD(settings, k, char *), v);
}

int config_keys_parse_absolute_path(ConfigParser *p, const config_setting_t *s, const ConfigKey *k,
                                    void *settings) {
        const char *v = NULL;
        int r;

        r = config_keys_expect_absolute_path(p, s, &v);
        if (r < 0)
                return r;

        return set_string_field(CONFIG_KEY_FIELD(settings, k, char *), v);
}

/* "a, b or c": the names of the values k->min..k->max that have one, for a message. */
static char *enum_value_list(const ConfigKey *k) {
        _cleanup_free_ char *list = NULL;
        const char *pending = NULL;
        char *t;

        for (int64_t i = k->min; i <= k->max; i++) {
                const char *name = k->enum_to_string((int) i);

                if (!name)
                        continue;
                if (pending) {
                        if (asprintf(&t, "%s%s%s", list ?: "", list ? ", " : "", pending) < 0)
                                return NULL;
                        free(list);
                        list = t;
                }
                pending = name;
        }

        if (asprintf(&t, "%s%s%s", list ?: "", list ? " or " : "", pending ?: "") < 0)
                return NULL;
        return t;
}

int config_keys_parse_enum(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *settings) {
        _cleanup_free_ char *names = NULL;
        const char *v = NULL;
        int e, r;

        r = config_keys_expect_string(p, s, "a string", &v);
        if (r < 0)
                return r;

        /* from_string() gives -EINVAL for a name it does not know, below any k->min. */
        e = k->enum_from_string(v);
        if (e < k->min || e > k->max) {
                names = enum_value_list(k);
                if (!names)
                        return -ENOMEM;
                return config_keys_fail(p, s, "invalid %s \"%s\" (expected %s)", k->enum_what, v, names);
        }

        *CONFIG_KEY_FIELD(settings, k, int) = e;
        return 0;
}

int config_keys_parse_argv(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *settings) {
        char ***field = CONFIG_KEY_FIELD(settings, k, char **), **argv = NULL;
        int r;

        r = config_keys_expect_argv(p, s, (size_t) k->max, k->example, &argv);
        if (r < 0)
                return r;
        strv_free(*field);
        *field = argv;
        return 0;
}
