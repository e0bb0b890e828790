/* Turns the parsed libconfig tree of vigil.conf into a validated, defaulted Config. Reading the
 * files and expanding @include is config-source.c's job; libconfig only ever parses that
 * in-memory text, its include directory pointed at a path that cannot be opened.
 * Per-group key tables check every key's type and range; unknown keys are errors; the first
 * error becomes "FILE:LINE: KEYPATH: what is wrong".
 * Non-logging; never prints, never exits. */

#include <grp.h>
#include <inttypes.h>
#include <libconfig.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>

#include "config-parse.h"
#include "config-source.h"
#include "parse-util.h"
#include "strv.h"

/* Must not exceed BREAKER_TALLY_MAX in supervisor/breaker.h, which conf/ does not include. */
#define BREAKER_FAILURES_MAX 64

typedef struct Parser {
        const ConfigSource *source;
        char *error;
} Parser;

typedef struct KeySpec KeySpec;
typedef int (*KeyParseFunc)(Parser *p, const config_setting_t *s, const KeySpec *k, void *obj);

struct KeySpec {
        const char *name;
        KeyParseFunc parse;
        size_t offset; /* of the field in obj, for the generic parsers */
        int64_t min, max; /* integers; durations use min (0 or 1) */
        bool infinity; /* durations: "infinity" is accepted */
};

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

static int parser_fail(Parser *p, const config_setting_t *s, const char *fmt, ...) _printf_(3, 4);
static int parser_fail(Parser *p, const config_setting_t *s, const char *fmt, ...) {
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

static int expect_type(Parser *p, const config_setting_t *s, int type, const char *expected) {
        if (config_setting_type(s) == type)
                return 0;
        return parser_fail(p, s, "expected %s, got %s", expected, setting_type_name(config_setting_type(s)));
}

static bool setting_is_int(const config_setting_t *s) {
        return config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64;
}

static bool setting_is_sequence(const config_setting_t *s) {
        return config_setting_is_array(s) || config_setting_is_list(s);
}

static int expect_int(Parser *p, const config_setting_t *s, int64_t min, int64_t max, int64_t *ret) {
        int64_t v = 0;

        if (!setting_is_int(s))
                return parser_fail(p, s, "expected an integer, got %s",
                                   setting_type_name(config_setting_type(s)));

        v = config_setting_get_int64(s);
        if (v < min || v > max)
                return parser_fail(p, s, "%" PRId64 " is out of range %" PRId64 "..%" PRId64, v, min, max);

        *ret = v;
        return 0;
}

static int expect_string(Parser *p, const config_setting_t *s, const char *expected, const char **ret) {
        int r;

        r = expect_type(p, s, CONFIG_TYPE_STRING, expected);
        if (r < 0)
                return r;
        *ret = config_setting_get_string(s);
        return 0;
}

static bool path_is_valid_absolute(const char *path) {
        return path[0] == '/' && strlen(path) < PATH_MAX;
}

static int expect_absolute_path(Parser *p, const config_setting_t *s, const char **ret) {
        const char *v = NULL;
        int r;

        r = expect_string(p, s, "an absolute path", &v);
        if (r < 0)
                return r;
        if (!path_is_valid_absolute(v))
                return parser_fail(p, s, "\"%s\" is not an absolute path", v);

        *ret = v;
        return 0;
}

/* An array or list whose elements are all strings, copied into a fresh strv. */
static int expect_string_list(Parser *p, const config_setting_t *s, size_t max, const char *example,
                              char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int n, r;

        if (!setting_is_sequence(s))
                return parser_fail(p, s, "expected an array of strings such as %s, got %s", example,
                                   setting_type_name(config_setting_type(s)));

        n = config_setting_length(s);
        if ((size_t) n > max)
                return parser_fail(p, s, "more than %zu entries", max);

        /* An empty vector is still a vector: callers tell "set to empty" from "unset". */
        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;

        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned) i);
                const char *v = NULL;

                r = expect_string(p, e, "a string", &v);
                if (r < 0)
                        return r;
                r = strv_extend(&l, v);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(l);
        return 0;
}

static int parse_members(Parser *p, const config_setting_t *g, const KeySpec *keys, size_t n_keys,
                         void *obj) {
        int r;

        for (int i = 0; i < config_setting_length(g); i++) {
                const config_setting_t *s = config_setting_get_elem(g, (unsigned) i);
                const KeySpec *k = NULL;

                for (size_t j = 0; j < n_keys; j++)
                        if (streq(keys[j].name, config_setting_name(s))) {
                                k = &keys[j];
                                break;
                        }
                if (!k)
                        return parser_fail(p, s, "unknown key");

                r = k->parse(p, s, k, obj);
                if (r < 0)
                        return r;
        }

        return 0;
}

#define KEY(n, f) { .name = (n), .parse = (f) }
#define KEY_AT(n, f, type, field) { .name = (n), .parse = (f), .offset = offsetof(type, field) }
#define KEY_UINT(n, type, field, lo, hi)                                                  \
        { .name = (n), .parse = parse_key_unsigned, .offset = offsetof(type, field),      \
          .min = (lo), .max = (hi) }
#define KEY_DURATION(n, type, field, lo, inf)                                             \
        { .name = (n), .parse = parse_key_duration, .offset = offsetof(type, field),      \
          .min = (lo), .infinity = (inf) }

#define FIELD(obj, k, type) ((type *) ((uint8_t *) (obj) + (k)->offset))

/* ---- generic key parsers ---- */

static int parse_key_unsigned(Parser *p, const config_setting_t *s, const KeySpec *k, void *obj) {
        int64_t v = 0;
        int r;

        r = expect_int(p, s, k->min, k->max, &v);
        if (r < 0)
                return r;
        *FIELD(obj, k, unsigned) = (unsigned) v;
        return 0;
}

static int parse_key_bool(Parser *p, const config_setting_t *s, const KeySpec *k, void *obj) {
        int r;

        r = expect_type(p, s, CONFIG_TYPE_BOOL, "true or false");
        if (r < 0)
                return r;
        *FIELD(obj, k, bool) = config_setting_get_bool(s);
        return 0;
}

static int parse_key_duration(Parser *p, const config_setting_t *s, const KeySpec *k, void *obj) {
        const char *v = NULL;
        usec_t u;
        int r;

        if (config_setting_type(s) != CONFIG_TYPE_STRING)
                return parser_fail(p, s, "expected a duration string such as \"10s\", got %s",
                                   setting_type_name(config_setting_type(s)));
        v = config_setting_get_string(s);

        r = parse_duration(v, &u);
        if (r == -ERANGE)
                return parser_fail(p, s, "duration \"%s\" is too large", v);
        if (r < 0) {
                if (v[0] && strspn(v, "0123456789.") == strlen(v))
                        return parser_fail(p, s, "invalid duration \"%s\": a unit is required, e.g. \"%ss\"",
                                           v, v);
                return parser_fail(p, s, "invalid duration \"%s\" (units: us, ms, s, m, h, d, w)", v);
        }
        if (u == USEC_INFINITY && !k->infinity)
                return parser_fail(p, s, "\"infinity\" is not allowed here");
        if (u == 0 && k->min > 0)
                return parser_fail(p, s, "must be greater than 0");

        *FIELD(obj, k, usec_t) = u;
        return 0;
}

static int parse_key_string(Parser *p, const config_setting_t *s, const KeySpec *k, void *obj) {
        char **field = FIELD(obj, k, char *);
        const char *v = NULL;
        int r;

        r = expect_string(p, s, "a string", &v);
        if (r < 0)
                return r;
        if (!v[0])
                return parser_fail(p, s, "must not be empty");

        free(*field);
        *field = strdup(v);
        return *field ? 0 : -ENOMEM;
}

static int parse_key_absolute_path(Parser *p, const config_setting_t *s, const KeySpec *k, void *obj) {
        char **field = FIELD(obj, k, char *);
        const char *v = NULL;
        int r;

        r = expect_absolute_path(p, s, &v);
        if (r < 0)
                return r;

        free(*field);
        *field = strdup(v);
        return *field ? 0 : -ENOMEM;
}

/* ---- worker keys ---- */

static bool worker_name_is_valid(const char *n) {
        size_t l = strlen(n);

        return l >= 1 && l <= CONFIG_NAME_MAX &&
               strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == l;
}

static int parse_worker_name(Parser *p, const config_setting_t *s, const KeySpec *k, void *obj) {
        WorkerConfig *w = obj;
        const char *v = NULL;
        int r;

        r = expect_string(p, s, "a string", &v);
        if (r < 0)
                return r;
        if (!worker_name_is_valid(v))
                return parser_fail(p, s,
                                   "invalid worker name \"%s\": use 1..%u characters of A-Z a-z 0-9 _ -", v,
                                   CONFIG_NAME_MAX);

        w->name = strdup(v);
        return w->name ? 0 : -ENOMEM;
}

static int parse_worker_command(Parser *p, const config_setting_t *s, const KeySpec *k, void *obj) {
        _cleanup_strv_free_ char **argv = NULL;
        WorkerConfig *w = obj;
        int r;

        r = expect_string_list(p, s, CONFIG_ARGV_MAX, "[ \"/usr/bin/server\", \"--port\", \"8080\" ]",
                               &argv);
        if (r < 0)
                return r;
        if (!argv[0])
                return parser_fail(p, s, "must not be empty");
        /* No shell and no PATH search: what runs is exactly what the file names. */
        if (!path_is_valid_absolute(argv[0]))
                return parser_fail(p, config_setting_get_elem(s, 0), "\"%s\" is not an absolute path",
                                   argv[0]);

        w->argv = TAKE_PTR(argv);
        return 0;
}

static bool env_name_is_valid(const char *n, size_t l) {
        if (l == 0 || (n[0] >= '0' && n[0] <= '9'))
                return false;
        for (size_t i = 0; i < l; i++)
                if (!((n[i] >= 'A' && n[i] <= 'Z') || (n[i] >= 'a' && n[i] <= 'z') ||
                      (n[i] >= '0' && n[i] <= '9') || n[i] == '_'))
                        return false;
        return true;
}

/* Variables vigild sets itself for each instance; a config must not fake them. */
static const char *const reserved_env[] = {
        "VIGIL_WORKER", "VIGIL_INSTANCE", "NOTIFY_SOCKET", "WATCHDOG_USEC",
        "WATCHDOG_PID", "LISTEN_FDS",     "LISTEN_PID",    "LISTEN_FDNAMES",
};

static int parse_worker_environment(Parser *p, const config_setting_t *s, const KeySpec *k, void *obj) {
        _cleanup_strv_free_ char **env = NULL;
        WorkerConfig *w = obj;
        int r;

        r = expect_string_list(p, s, CONFIG_ENV_MAX, "[ \"LANG=C.UTF-8\" ]", &env);
        if (r < 0)
                return r;

        for (size_t i = 0; env[i]; i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned) i);
                const char *eq = strchr(env[i], '=');
                size_t l;

                if (!eq)
                        return parser_fail(p, e, "\"%s\" is not of the form NAME=VALUE", env[i]);
                l = (size_t) (eq - env[i]);
                if (!env_name_is_valid(env[i], l))
                        return parser_fail(p, e, "invalid variable name \"%.*s\"", (int) l, env[i]);
                for (size_t j = 0; j < ELEMENTSOF(reserved_env); j++)
                        if (strlen(reserved_env[j]) == l && strncmp(reserved_env[j], env[i], l) == 0)
                                return parser_fail(p, e, "%s is set by vigild and cannot be configured",
                                                   reserved_env[j]);
                for (size_t j = 0; j < i; j++)
                        if (strncmp(env[j], env[i], l + 1) == 0)
                                return parser_fail(p, e, "%.*s is set twice", (int) l, env[i]);
        }

        w->environment = TAKE_PTR(env);
        return 0;
}

static int parse_worker_umask(Parser *p, const config_setting_t *s, const KeySpec *k, void *obj) {
        WorkerConfig *w = obj;
        const char *v = NULL;
        mode_t m;

        /* libconfig has no octal integers: umask = 022 would silently mean 22 decimal. */
        if (config_setting_type(s) != CONFIG_TYPE_STRING)
                return parser_fail(p, s, "expected an octal string such as \"022\", got %s",
                                   setting_type_name(config_setting_type(s)));
        v = config_setting_get_string(s);
        if (parse_mode(v, &m) < 0)
                return parser_fail(p, s, "invalid umask \"%s\": expected octal 0..0777", v);

        w->umask = m;
        return 0;
}

typedef struct RlimitSpec {
        const char *name;
        int resource;
        bool bytes; /* size strings such as "64M" are accepted */
        uint64_t max;
} RlimitSpec;

static const RlimitSpec rlimit_specs[] = {
        { "as", RLIMIT_AS, true, UINT64_MAX },
        { "core", RLIMIT_CORE, true, UINT64_MAX },
        { "cpu", RLIMIT_CPU, false, UINT64_MAX },
        { "data", RLIMIT_DATA, true, UINT64_MAX },
        { "fsize", RLIMIT_FSIZE, true, UINT64_MAX },
        { "locks", RLIMIT_LOCKS, false, UINT64_MAX },
        { "memlock", RLIMIT_MEMLOCK, true, UINT64_MAX },
        { "msgqueue", RLIMIT_MSGQUEUE, true, UINT64_MAX },
        { "nice", RLIMIT_NICE, false, 40 }, /* ceiling is 20 - value: 40 allows nice -20 */
        { "nofile", RLIMIT_NOFILE, false, UINT64_MAX },
        { "nproc", RLIMIT_NPROC, false, UINT64_MAX },
        { "rss", RLIMIT_RSS, true, UINT64_MAX },
        { "rtprio", RLIMIT_RTPRIO, false, 99 },
        { "rttime", RLIMIT_RTTIME, false, UINT64_MAX },
        { "sigpending", RLIMIT_SIGPENDING, false, UINT64_MAX },
        { "stack", RLIMIT_STACK, true, UINT64_MAX },
};

static int parse_rlimit_value(Parser *p, const config_setting_t *s, const RlimitSpec *spec, rlim_t *ret) {
        uint64_t v = 0;

        if (setting_is_int(s)) {
                int64_t i = config_setting_get_int64(s);

                if (i < 0)
                        return parser_fail(p, s, "%" PRId64 " is out of range (must be >= 0)", i);
                v = (uint64_t) i;
        } else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
                const char *str = config_setting_get_string(s);

                if (streq(str, "infinity")) {
                        *ret = RLIM_INFINITY;
                        return 0;
                }
                if (!spec->bytes)
                        return parser_fail(p, s, "expected an integer or \"infinity\", got \"%s\"", str);
                if (parse_size(str, &v) < 0)
                        return parser_fail(p, s, "invalid size \"%s\" (e.g. \"512K\", \"64M\", \"1G\")",
                                           str);
        } else if (spec->bytes)
                return parser_fail(p, s, "expected an integer, a size string or \"infinity\", got %s",
                                   setting_type_name(config_setting_type(s)));
        else
                return parser_fail(p, s, "expected an integer or \"infinity\", got %s",
                                   setting_type_name(config_setting_type(s)));

        if (v > spec->max)
                return parser_fail(p, s, "%" PRIu64 " is out of range 0..%" PRIu64, v, spec->max);

        *ret = (rlim_t) v;
        return 0;
}

static int parse_worker_rlimits(Parser *p, const config_setting_t *s, const KeySpec *k, void *obj) {
        WorkerConfig *w = obj;
        int r;

        r = expect_type(p, s, CONFIG_TYPE_GROUP, "a group such as { nofile = 4096; }");
        if (r < 0)
                return r;

        for (int i = 0; i < config_setting_length(s); i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned) i);
                const RlimitSpec *spec = NULL;
                rlim_t v = 0;

                for (size_t j = 0; j < ELEMENTSOF(rlimit_specs); j++)
                        if (streq(rlimit_specs[j].name, config_setting_name(e))) {
                                spec = &rlimit_specs[j];
                                break;
                        }
                if (!spec)
                        return parser_fail(p, e, "unknown key");

                r = parse_rlimit_value(p, e, spec, &v);
                if (r < 0)
                        return r;

                w->rlimit_set[spec->resource] = true;
                w->rlimits[spec->resource] = (struct rlimit) { .rlim_cur = v, .rlim_max = v };
        }

        return 0;
}

static int parse_worker_restart(Parser *p, const config_setting_t *s, const KeySpec *k, void *obj) {
        WorkerConfig *w = obj;
        const char *v = NULL;
        RestartMode m;
        int r;

        r = expect_string(p, s, "a string", &v);
        if (r < 0)
                return r;
        m = restart_mode_from_string(v);
        if (m < 0)
                return parser_fail(p, s,
                                   "invalid restart mode \"%s\" (expected always, on-failure or never)", v);

        w->restart = m;
        return 0;
}

static int parse_worker_permanent_exit_codes(Parser *p, const config_setting_t *s, const KeySpec *k,
                                             void *obj) {
        bool codes[ELEMENTSOF(((WorkerConfig *) NULL)->permanent_exit)] = {};
        WorkerConfig *w = obj;
        int r;

        if (!setting_is_sequence(s))
                return parser_fail(p, s, "expected an array of exit codes such as [ 64, 78 ], got %s",
                                   setting_type_name(config_setting_type(s)));

        for (int i = 0; i < config_setting_length(s); i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned) i);
                int64_t v = 0;

                /* 0 is success and can never be a permanent failure. */
                r = expect_int(p, e, 1, 255, &v);
                if (r < 0)
                        return r;
                if (codes[v])
                        return parser_fail(p, e, "exit code %" PRId64 " is listed twice", v);
                codes[v] = true;
        }

        memcpy(w->permanent_exit, codes, sizeof(codes));
        return 0;
}

static int parse_worker_stop_signal(Parser *p, const config_setting_t *s, const KeySpec *k, void *obj) {
        WorkerConfig *w = obj;
        int signo, r;

        if (setting_is_int(s)) {
                int64_t v = 0;

                r = expect_int(p, s, 1, 64, &v);
                if (r < 0)
                        return r;
                signo = (int) v;
        } else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
                const char *v = config_setting_get_string(s);

                if (parse_signal(v, &signo) < 0)
                        return parser_fail(p, s, "unknown signal \"%s\" (e.g. \"TERM\", \"SIGINT\", 15)", v);
        } else
                return parser_fail(p, s, "expected a signal name or number, got %s",
                                   setting_type_name(config_setting_type(s)));

        w->stop_signal = signo;
        return 0;
}

static int parse_worker_output(Parser *p, const config_setting_t *s, const KeySpec *k, void *obj) {
        OutputConfig *o = FIELD(obj, k, OutputConfig);
        const char *v = NULL;
        int r;

        r = expect_string(p, s, "a string", &v);
        if (r < 0)
                return r;

        if (strncmp(v, "file:", 5) == 0) {
                const char *path = v + 5;

                if (!path_is_valid_absolute(path))
                        return parser_fail(p, s, "file path \"%s\" is not absolute", path);
                free(o->path);
                o->path = strdup(path);
                if (!o->path)
                        return -ENOMEM;
                o->kind = OUTPUT_FILE;
                return 0;
        }

        if (streq(v, "journal"))
                o->kind = OUTPUT_JOURNAL;
        else if (streq(v, "null"))
                o->kind = OUTPUT_NULL;
        else
                return parser_fail(
                        p, s, "invalid output \"%s\" (expected journal, null or file:/absolute/path)", v);
        o->path = mfree(o->path);
        return 0;
}

static int parse_worker_cgroups(Parser *p, const config_setting_t *s, const KeySpec *k, void *obj) {
        WorkerConfig *w = obj;
        const char *v = NULL;
        CgroupMode m;
        int r;

        r = expect_string(p, s, "a string", &v);
        if (r < 0)
                return r;
        m = cgroup_mode_from_string(v);
        if (m < 0)
                return parser_fail(p, s, "invalid cgroups mode \"%s\" (expected auto or off)", v);

        w->cgroups = m;
        return 0;
}

static int parse_backoff_factor(Parser *p, const config_setting_t *s, const KeySpec *k, void *obj) {
        BackoffConfig *b = obj;
        double f;

        if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
                f = config_setting_get_float(s);
        else if (setting_is_int(s))
                f = (double) config_setting_get_int64(s);
        else
                return parser_fail(p, s, "expected a number, got %s",
                                   setting_type_name(config_setting_type(s)));

        if (!(f >= 1.0 && f <= 100.0))
                return parser_fail(p, s, "%g is out of range 1.0..100.0", f);

        b->factor = f;
        return 0;
}

static const KeySpec backoff_keys[] = {
        KEY_DURATION("initial", BackoffConfig, initial, 0, false),
        KEY_DURATION("max", BackoffConfig, max, 0, false),
        KEY("factor", parse_backoff_factor),
        KEY_DURATION("reset_after", BackoffConfig, reset_after, 1, true),
        KEY_AT("immediate_first", parse_key_bool, BackoffConfig, immediate_first),
};

static int parse_worker_backoff(Parser *p, const config_setting_t *s, const KeySpec *k, void *obj) {
        WorkerConfig *w = obj;
        const config_setting_t *m;
        char buf[FORMAT_DURATION_MAX];
        int r;

        r = expect_type(p, s, CONFIG_TYPE_GROUP, "a group");
        if (r < 0)
                return r;
        r = parse_members(p, s, backoff_keys, ELEMENTSOF(backoff_keys), &w->backoff);
        if (r < 0)
                return r;

        if (w->backoff.max < w->backoff.initial) {
                m = config_setting_get_member(s, "max");
                if (m)
                        return parser_fail(p, m, "must not be less than initial (%s)",
                                           format_duration(buf, sizeof(buf), w->backoff.initial));
                return parser_fail(p, config_setting_get_member(s, "initial"),
                                   "must not exceed max (default %s)",
                                   format_duration(buf, sizeof(buf), w->backoff.max));
        }

        return 0;
}

static const KeySpec breaker_keys[] = {
        KEY_UINT("failures", BreakerConfig, failures, 1, BREAKER_FAILURES_MAX),
        KEY_DURATION("window", BreakerConfig, window, 1, false),
        KEY_DURATION("open_for", BreakerConfig, open_for, 1, false),
        KEY_DURATION("trial_ok", BreakerConfig, trial_ok, 1, false),
};

static int parse_worker_breaker(Parser *p, const config_setting_t *s, const KeySpec *k, void *obj) {
        WorkerConfig *w = obj;
        int r;

        r = expect_type(p, s, CONFIG_TYPE_GROUP, "a group");
        if (r < 0)
                return r;
        return parse_members(p, s, breaker_keys, ELEMENTSOF(breaker_keys), &w->breaker);
}

static const KeySpec worker_keys[] = {
        KEY("name", parse_worker_name),
        KEY("command", parse_worker_command),
        KEY_UINT("instances", WorkerConfig, instances, 1, CONFIG_INSTANCES_MAX),
        KEY_AT("user", parse_key_string, WorkerConfig, user),
        KEY_AT("group", parse_key_string, WorkerConfig, group),
        KEY_AT("cwd", parse_key_absolute_path, WorkerConfig, cwd),
        KEY("environment", parse_worker_environment),
        KEY("umask", parse_worker_umask),
        KEY("rlimits", parse_worker_rlimits),
        KEY("restart", parse_worker_restart),
        KEY("permanent_exit_codes", parse_worker_permanent_exit_codes),
        KEY_DURATION("start_secs", WorkerConfig, start_secs, 0, false),
        KEY("stop_signal", parse_worker_stop_signal),
        KEY_DURATION("stop_timeout", WorkerConfig, stop_timeout, 1, false),
        KEY_DURATION("resource_retry", WorkerConfig, resource_retry, 1, false),
        KEY_DURATION("resource_timeout", WorkerConfig, resource_timeout, 1, true),
        KEY("backoff", parse_worker_backoff),
        KEY("breaker", parse_worker_breaker),
        KEY_AT("stdout", parse_worker_output, WorkerConfig, output[0]),
        KEY_AT("stderr", parse_worker_output, WorkerConfig, output[1]),
        KEY("cgroups", parse_worker_cgroups),
        KEY_AT("notify", parse_key_bool, WorkerConfig, notify),
        KEY_DURATION("start_timeout", WorkerConfig, start_timeout, 1, false),
        KEY_DURATION("watchdog", WorkerConfig, watchdog, 0, false),
};

/* getpwnam(3) and getgrnam(3) report "no such entry" with any of these, depending on the NSS module. */
static bool errno_means_not_found(int e) {
        return e == ENOENT || e == ESRCH || e == EBADF || e == EPERM;
}

/* Resolves user and group now, so that the child of fork() never calls into NSS. */
static int worker_resolve_identity(Parser *p, const config_setting_t *g, WorkerConfig *w) {
        const config_setting_t *us = config_setting_get_member(g, "user");
        const config_setting_t *gs = config_setting_get_member(g, "group");
        _cleanup_free_ gid_t *gids = NULL;
        struct passwd *pw;
        int n = 16;

        if (w->group && !w->user)
                return parser_fail(p, gs, "group requires user");
        if (!w->user)
                return 0;

        errno = 0;
        pw = getpwnam(w->user);
        if (!pw) {
                if (errno != 0 && !errno_means_not_found(errno))
                        return parser_fail(p, us, "cannot look up user \"%s\": %m", w->user);
                return parser_fail(p, us, "unknown user \"%s\"", w->user);
        }
        w->uid = pw->pw_uid;
        w->gid = pw->pw_gid;
        w->home = strdup(pw->pw_dir ?: "/");
        w->shell = strdup(pw->pw_shell ?: "/bin/sh");
        if (!w->home || !w->shell)
                return -ENOMEM;

        if (w->group) {
                struct group *gr;

                errno = 0;
                gr = getgrnam(w->group);
                if (!gr) {
                        if (errno != 0 && !errno_means_not_found(errno))
                                return parser_fail(p, gs, "cannot look up group \"%s\": %m", w->group);
                        return parser_fail(p, gs, "unknown group \"%s\"", w->group);
                }
                w->gid = gr->gr_gid;
        }

        /* The list may grow between the two calls; retry a few times with the size it reports. */
        for (unsigned attempt = 0;; attempt++) {
                gid_t *a = reallocarray(gids, (size_t) n, sizeof(gid_t));
                int m = n;

                if (!a)
                        return -ENOMEM;
                gids = a;
                if (getgrouplist(w->user, w->gid, gids, &m) >= 0) {
                        n = m;
                        break;
                }
                if (attempt >= 3 || m <= n)
                        return parser_fail(p, us, "cannot list the groups of user \"%s\"", w->user);
                n = m;
        }

        w->supplementary_gids = TAKE_PTR(gids);
        w->n_supplementary_gids = (size_t) n;
        w->has_user = true;
        return 0;
}

static int parse_worker(Parser *p, const config_setting_t *g, WorkerConfig *w) {
        const char *file;
        unsigned line;
        int r;

        r = expect_type(p, g, CONFIG_TYPE_GROUP, "a group { name = ...; command = [ ... ]; }");
        if (r < 0)
                return r;

        config_source_locate(p->source, config_setting_source_line(g), &file, &line);
        w->file = strdup(file);
        if (!w->file)
                return -ENOMEM;
        w->line = line;

        r = parse_members(p, g, worker_keys, ELEMENTSOF(worker_keys), w);
        if (r < 0)
                return r;

        if (!w->name)
                return parser_fail(p, g, "missing required key \"name\"");
        if (!w->argv)
                return parser_fail(p, g, "missing required key \"command\"");

        return worker_resolve_identity(p, g, w);
}

static int parse_workers(Parser *p, const config_setting_t *s, Config *c) {
        int n, r;

        /* An empty "workers = [];" is an empty array to libconfig; accept it like "()". */
        if (!(config_setting_is_list(s) || (config_setting_is_array(s) && config_setting_length(s) == 0)))
                return parser_fail(p, s, "expected a list of groups ( { ... }, { ... } ), got %s",
                                   setting_type_name(config_setting_type(s)));

        n = config_setting_length(s);
        if ((size_t) n > CONFIG_WORKERS_MAX)
                return parser_fail(p, s, "more than %u workers", CONFIG_WORKERS_MAX);
        if (n == 0)
                return 0;

        c->workers = calloc((size_t) n, sizeof(WorkerConfig));
        if (!c->workers)
                return -ENOMEM;
        for (int i = 0; i < n; i++)
                config_worker_defaults(&c->workers[i]);
        c->n_workers = (size_t) n;

        for (int i = 0; i < n; i++) {
                const config_setting_t *g = config_setting_get_elem(s, (unsigned) i);
                WorkerConfig *w = &c->workers[i];

                r = parse_worker(p, g, w);
                if (r < 0)
                        return r;

                for (int j = 0; j < i; j++)
                        if (streq(c->workers[j].name, w->name))
                                return parser_fail(p, config_setting_get_member(g, "name"),
                                                   "duplicate worker name \"%s\" (first defined at %s:%u)",
                                                   w->name, c->workers[j].file, c->workers[j].line);
        }

        return 0;
}

static int parse_daemon_store_sync(Parser *p, const config_setting_t *s, const KeySpec *k, void *obj) {
        DaemonConfig *d = obj;
        const char *v = NULL;
        int r;

        r = expect_string(p, s, "\"normal\" or \"full\"", &v);
        if (r < 0)
                return r;
        if (streq(v, "normal"))
                d->store_sync_full = false;
        else if (streq(v, "full"))
                d->store_sync_full = true;
        else
                return parser_fail(p, s, "expected \"normal\" or \"full\", got \"%s\"", v);
        return 0;
}

static int parse_daemon_reader_group(Parser *p, const config_setting_t *s, const KeySpec *k, void *obj) {
        DaemonConfig *d = obj;
        struct group *gr;
        int r;

        r = parse_key_string(p, s, k, obj);
        if (r < 0)
                return r;
        errno = 0;
        gr = getgrnam(d->reader_group);
        if (!gr)
                return parser_fail(p, s, "unknown group \"%s\"", d->reader_group);
        d->reader_gid = gr->gr_gid;
        return 0;
}

static const KeySpec daemon_keys[] = {
        KEY_AT("state_dir", parse_key_absolute_path, DaemonConfig, state_dir),
        KEY_AT("runtime_dir", parse_key_absolute_path, DaemonConfig, runtime_dir),
        KEY_DURATION("tilt_margin", DaemonConfig, tilt_margin, 1, false),
        KEY_DURATION("tilt_settle", DaemonConfig, tilt_settle, 0, false),
        KEY_DURATION("retention", DaemonConfig, retention, 1, true),
        KEY("store_sync", parse_daemon_store_sync),
        KEY_UINT("store_queue", DaemonConfig, store_queue, 100, 10000000),
        KEY_DURATION("store_flush_interval", DaemonConfig, store_flush_interval, 1, false),
        KEY_AT("reader_group", parse_daemon_reader_group, DaemonConfig, reader_group),
};

static int parse_root(Parser *p, const config_setting_t *root, Config *c) {
        int r;

        c->daemon.tilt_margin = CONFIG_DEFAULT_TILT_MARGIN;
        c->daemon.tilt_settle = CONFIG_DEFAULT_TILT_SETTLE;
        c->daemon.retention = CONFIG_DEFAULT_RETENTION;
        c->daemon.store_queue = CONFIG_DEFAULT_STORE_QUEUE;
        c->daemon.store_flush_interval = CONFIG_DEFAULT_STORE_FLUSH_INTERVAL;
        c->daemon.reader_gid = (gid_t) -1;

        for (int i = 0; i < config_setting_length(root); i++) {
                const config_setting_t *s = config_setting_get_elem(root, (unsigned) i);
                const char *name = config_setting_name(s);

                if (streq(name, "daemon")) {
                        r = expect_type(p, s, CONFIG_TYPE_GROUP, "a group");
                        if (r < 0)
                                return r;
                        r = parse_members(p, s, daemon_keys, ELEMENTSOF(daemon_keys), &c->daemon);
                } else if (streq(name, "workers"))
                        r = parse_workers(p, s, c);
                else
                        r = parser_fail(p, s, "unknown key");
                if (r < 0)
                        return r;
        }

        if (!c->daemon.state_dir) {
                c->daemon.state_dir = strdup(CONFIG_DEFAULT_STATE_DIR);
                if (!c->daemon.state_dir)
                        return -ENOMEM;
        }
        if (!c->daemon.runtime_dir) {
                c->daemon.runtime_dir = strdup(CONFIG_DEFAULT_RUNTIME_DIR);
                if (!c->daemon.runtime_dir)
                        return -ENOMEM;
        }

        return 0;
}

static void config_destroyp(config_t **c) {
        if (*c)
                config_destroy(*c);
}

int config_parse_file(const char *path, Config **ret_config, char **reterr_message) {
        _cleanup_(config_source_freep) ConfigSource *source = NULL;
        _cleanup_config_free_ Config *c = NULL;
        _cleanup_(config_destroyp) config_t *lc = NULL;
        Parser p = {};
        config_t cfg;
        int r;

        assert(path);
        assert(ret_config);

        r = config_source_read(path, &source, &p.error);
        if (r < 0)
                goto fail;
        p.source = source;

        config_init(&cfg);
        lc = &cfg;
        /* Any @include that reaches libconfig (none should) fails to open instead of being read
         * behind our checks: nothing can be opened below a character device. */
        config_set_include_dir(&cfg, "/dev/null");

        if (config_read_string(&cfg, config_source_text(source)) != CONFIG_TRUE) {
                r = config_source_error_at(source, (unsigned) MAX(config_error_line(&cfg), 1), &p.error,
                                           -EINVAL, "syntax error: %s", strna(config_error_text(&cfg)));
                goto fail;
        }

        c = calloc(1, sizeof(Config));
        if (!c) {
                r = -ENOMEM;
                goto fail;
        }
        c->path = strdup(path);
        if (!c->path) {
                r = -ENOMEM;
                goto fail;
        }

        r = parse_root(&p, config_root_setting(&cfg), c);
        if (r < 0)
                goto fail;

        *ret_config = TAKE_PTR(c);
        return 0;

fail:
        if (!p.error && asprintf(&p.error, "%s: %s", path, strerror(-r)) < 0)
                p.error = NULL;
        if (reterr_message)
                *reterr_message = TAKE_PTR(p.error);
        else
                free(p.error);
        return r;
}
