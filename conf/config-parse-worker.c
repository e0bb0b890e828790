/* One entry of vigil.conf's "workers = ( ... )" list into a WorkerConfig: the worker key table,
 * the parsers of its own values (command, environment, umask, rlimits, restart, stop signal,
 * output, cgroups) and subsections (backoff, breaker), and the checks across keys (backoff max
 * not below initial, group only with user, unique names). User and group are resolved here, at
 * parse time (config-user.c), so that the child of fork() never calls into NSS.
 * Non-logging; never prints, never exits; reads the user and group databases, nothing else. */

#include <inttypes.h>

#include "config-parse-probe.h"
#include "config-parse-worker.h"
#include "config-user.h"
#include "parse-util.h"
#include "strv.h"

static bool worker_name_is_valid(const char *n) {
        size_t l = strlen(n);

        return l >= 1 && l <= CONFIG_NAME_MAX &&
               strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == l;
}

static int parse_worker_name(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *obj) {
        WorkerConfig *w = obj;
        const char *v = NULL;
        int r;

        r = config_keys_expect_string(p, s, "a string", &v);
        if (r < 0)
                return r;
        if (!worker_name_is_valid(v))
                return config_keys_fail(
                        p, s, "invalid worker name \"%s\": use 1..%u characters of A-Z a-z 0-9 _ -", v,
                        CONFIG_NAME_MAX);

        w->name = strdup(v);
        return w->name ? 0 : -ENOMEM;
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

static int parse_worker_environment(ConfigParser *p, const config_setting_t *s, const ConfigKey *k,
                                    void *obj) {
        _cleanup_strv_free_ char **env = NULL;
        WorkerConfig *w = obj;
        int r;

        r = config_keys_expect_string_list(p, s, CONFIG_ENV_MAX, "[ \"LANG=C.UTF-8\" ]", &env);
        if (r < 0)
                return r;

        for (size_t i = 0; env[i]; i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned) i);
                const char *eq = strchr(env[i], '=');
                size_t l;

                if (!eq)
                        return config_keys_fail(p, e, "\"%s\" is not of the form NAME=VALUE", env[i]);
                l = (size_t) (eq - env[i]);
                if (!env_name_is_valid(env[i], l))
                        return config_keys_fail(p, e, "invalid variable name \"%.*s\"", (int) l, env[i]);
                for (size_t j = 0; j < ELEMENTSOF(reserved_env); j++)
                        if (strlen(reserved_env[j]) == l && strncmp(reserved_env[j], env[i], l) == 0)
                                return config_keys_fail(p, e, "%s is set by vigild and cannot be configured",
                                                        reserved_env[j]);
                for (size_t j = 0; j < i; j++)
                        if (strncmp(env[j], env[i], l + 1) == 0)
                                return config_keys_fail(p, e, "%.*s is set twice", (int) l, env[i]);
        }

        w->environment = TAKE_PTR(env);
        return 0;
}

static int parse_worker_umask(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *obj) {
        WorkerConfig *w = obj;
        const char *v = NULL;
        mode_t m;

        /* libconfig has no octal integers: umask = 022 would silently mean 22 decimal. */
        if (config_setting_type(s) != CONFIG_TYPE_STRING)
                return config_keys_fail(p, s, "expected an octal string such as \"022\", got %s",
                                        config_keys_type_name(s));
        v = config_setting_get_string(s);
        if (parse_mode(v, &m) < 0)
                return config_keys_fail(p, s, "invalid umask \"%s\": expected octal 0..0777", v);

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

static int parse_rlimit_value(ConfigParser *p, const config_setting_t *s, const RlimitSpec *spec,
                              rlim_t *ret) {
        uint64_t v = 0;

        if (config_keys_is_int(s)) {
                int64_t i = config_setting_get_int64(s);

                if (i < 0)
                        return config_keys_fail(p, s, "%" PRId64 " is out of range (must be >= 0)", i);
                v = (uint64_t) i;
        } else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
                const char *str = config_setting_get_string(s);

                if (streq(str, "infinity")) {
                        *ret = RLIM_INFINITY;
                        return 0;
                }
                if (!spec->bytes)
                        return config_keys_fail(p, s, "expected an integer or \"infinity\", got \"%s\"",
                                                str);
                if (parse_size(str, &v) < 0)
                        return config_keys_fail(p, s, "invalid size \"%s\" (e.g. \"512K\", \"64M\", \"1G\")",
                                                str);
        } else if (spec->bytes)
                return config_keys_fail(p, s, "expected an integer, a size string or \"infinity\", got %s",
                                        config_keys_type_name(s));
        else
                return config_keys_fail(p, s, "expected an integer or \"infinity\", got %s",
                                        config_keys_type_name(s));

        if (v > spec->max)
                return config_keys_fail(p, s, "%" PRIu64 " is out of range 0..%" PRIu64, v, spec->max);

        *ret = (rlim_t) v;
        return 0;
}

static int parse_worker_rlimits(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *obj) {
        WorkerConfig *w = obj;
        int r;

        r = config_keys_expect_type(p, s, CONFIG_TYPE_GROUP, "a group such as { nofile = 4096; }");
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
                        return config_keys_fail(p, e, "unknown key");

                r = parse_rlimit_value(p, e, spec, &v);
                if (r < 0)
                        return r;

                w->rlimit_set[spec->resource] = true;
                w->rlimits[spec->resource] = (struct rlimit) { .rlim_cur = v, .rlim_max = v };
        }

        return 0;
}

static int parse_worker_permanent_exit_codes(ConfigParser *p, const config_setting_t *s, const ConfigKey *k,
                                             void *obj) {
        bool codes[ELEMENTSOF(((WorkerConfig *) NULL)->permanent_exit)] = {};
        WorkerConfig *w = obj;
        int r;

        if (!config_keys_is_sequence(s))
                return config_keys_fail(p, s, "expected an array of exit codes such as [ 64, 78 ], got %s",
                                        config_keys_type_name(s));

        for (int i = 0; i < config_setting_length(s); i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned) i);
                int64_t v = 0;

                /* 0 is success and can never be a permanent failure. */
                r = config_keys_expect_int(p, e, 1, 255, &v);
                if (r < 0)
                        return r;
                if (codes[v])
                        return config_keys_fail(p, e, "exit code %" PRId64 " is listed twice", v);
                codes[v] = true;
        }

        memcpy(w->permanent_exit, codes, sizeof(codes));
        return 0;
}

static int parse_worker_stop_signal(ConfigParser *p, const config_setting_t *s, const ConfigKey *k,
                                    void *obj) {
        WorkerConfig *w = obj;
        int signo, r;

        if (config_keys_is_int(s)) {
                int64_t v = 0;

                r = config_keys_expect_int(p, s, 1, 64, &v);
                if (r < 0)
                        return r;
                signo = (int) v;
        } else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
                const char *v = config_setting_get_string(s);

                if (parse_signal(v, &signo) < 0)
                        return config_keys_fail(p, s,
                                                "unknown signal \"%s\" (e.g. \"TERM\", \"SIGINT\", 15)", v);
        } else
                return config_keys_fail(p, s, "expected a signal name or number, got %s",
                                        config_keys_type_name(s));

        w->stop_signal = signo;
        return 0;
}

static int parse_worker_output(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *obj) {
        OutputConfig *o = CONFIG_KEY_FIELD(obj, k, OutputConfig);
        const char *v = NULL;
        OutputKind kind;
        int r;

        r = config_keys_expect_string(p, s, "a string", &v);
        if (r < 0)
                return r;

        if (strncmp(v, "file:", 5) == 0) {
                const char *path = v + 5;

                if (!config_keys_path_is_absolute(path))
                        return config_keys_fail(p, s, "file path \"%s\" is not absolute", path);
                free(o->path);
                o->path = strdup(path);
                if (!o->path)
                        return -ENOMEM;
                o->kind = OUTPUT_FILE;
                return 0;
        }

        /* Not a CONFIG_KEY_ENUM row: OUTPUT_FILE carries a path, so "file" alone is no value. */
        kind = output_kind_from_string(v);
        if (kind < 0 || kind == OUTPUT_FILE)
                return config_keys_fail(
                        p, s, "invalid output \"%s\" (expected journal, null or file:/absolute/path)", v);
        o->kind = kind;
        o->path = mfree(o->path);
        return 0;
}

static int parse_backoff_factor(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *obj) {
        BackoffConfig *b = obj;
        double f;

        if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
                f = config_setting_get_float(s);
        else if (config_keys_is_int(s))
                f = (double) config_setting_get_int64(s);
        else
                return config_keys_fail(p, s, "expected a number, got %s", config_keys_type_name(s));

        if (!(f >= 1.0 && f <= 100.0))
                return config_keys_fail(p, s, "%g is out of range 1.0..100.0", f);

        b->factor = f;
        return 0;
}

const ConfigKey config_backoff_keys[] = {
        CONFIG_KEY_DURATION("initial", BackoffConfig, initial, 0, false),
        CONFIG_KEY_DURATION("max", BackoffConfig, max, 0, false),
        CONFIG_KEY("factor", parse_backoff_factor),
        CONFIG_KEY_DURATION("reset_after", BackoffConfig, reset_after, 1, true),
        CONFIG_KEY_BOOL("immediate_first", BackoffConfig, immediate_first),
};
const size_t config_n_backoff_keys = ELEMENTSOF(config_backoff_keys);

static int parse_worker_backoff(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *obj) {
        WorkerConfig *w = obj;
        const config_setting_t *m;
        char buf[FORMAT_DURATION_MAX];
        int r;

        r = config_keys_parse_group(p, s, config_backoff_keys, config_n_backoff_keys, &w->backoff);
        if (r < 0)
                return r;

        if (w->backoff.max < w->backoff.initial) {
                m = config_setting_get_member(s, "max");
                if (m)
                        return config_keys_fail(p, m, "must not be less than initial (%s)",
                                                format_duration(buf, sizeof(buf), w->backoff.initial));
                return config_keys_fail(p, config_setting_get_member(s, "initial"),
                                        "must not exceed max (default %s)",
                                        format_duration(buf, sizeof(buf), w->backoff.max));
        }

        return 0;
}

const ConfigKey config_breaker_keys[] = {
        CONFIG_KEY_UINT("failures", BreakerConfig, failures, 1, CONFIG_BREAKER_FAILURES_MAX),
        CONFIG_KEY_DURATION("window", BreakerConfig, window, 1, false),
        CONFIG_KEY_DURATION("open_for", BreakerConfig, open_for, 1, false),
        CONFIG_KEY_DURATION("trial_ok", BreakerConfig, trial_ok, 1, false),
};
const size_t config_n_breaker_keys = ELEMENTSOF(config_breaker_keys);

static int parse_worker_breaker(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *obj) {
        WorkerConfig *w = obj;

        return config_keys_parse_group(p, s, config_breaker_keys, config_n_breaker_keys, &w->breaker);
}

/* Parsed after the other keys (see parse_worker()): the probes' checks need the cgroups mode. */
static int parse_worker_probes_later(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *obj) {
        return 0;
}

const ConfigKey config_worker_keys[] = {
        CONFIG_KEY("name", parse_worker_name),
        CONFIG_KEY_ARGV("command", WorkerConfig, argv, CONFIG_ARGV_MAX,
                        "[ \"/usr/bin/server\", \"--port\", \"8080\" ]"),
        CONFIG_KEY_UINT("instances", WorkerConfig, instances, 1, CONFIG_INSTANCES_MAX),
        CONFIG_KEY_STRING("user", WorkerConfig, user),
        CONFIG_KEY_STRING("group", WorkerConfig, group),
        CONFIG_KEY_PATH("cwd", WorkerConfig, cwd),
        CONFIG_KEY("environment", parse_worker_environment),
        CONFIG_KEY("umask", parse_worker_umask),
        CONFIG_KEY("rlimits", parse_worker_rlimits),
        CONFIG_KEY_ENUM("restart", WorkerConfig, restart, restart_mode, _RESTART_MODE_MAX, "restart mode"),
        CONFIG_KEY("permanent_exit_codes", parse_worker_permanent_exit_codes),
        CONFIG_KEY_DURATION("start_secs", WorkerConfig, start_secs, 0, false),
        CONFIG_KEY("stop_signal", parse_worker_stop_signal),
        CONFIG_KEY_DURATION("stop_timeout", WorkerConfig, stop_timeout, 1, false),
        CONFIG_KEY_DURATION("resource_retry", WorkerConfig, resource_retry, 1, false),
        CONFIG_KEY_DURATION("resource_timeout", WorkerConfig, resource_timeout, 1, true),
        CONFIG_KEY("backoff", parse_worker_backoff),
        CONFIG_KEY("breaker", parse_worker_breaker),
        CONFIG_KEY_AT("stdout", parse_worker_output, WorkerConfig, output[0]),
        CONFIG_KEY_AT("stderr", parse_worker_output, WorkerConfig, output[1]),
        CONFIG_KEY_ENUM("cgroups", WorkerConfig, cgroups, cgroup_mode, _CGROUP_MODE_MAX, "cgroups mode"),
        CONFIG_KEY_BOOL("notify", WorkerConfig, notify),
        CONFIG_KEY_DURATION("start_timeout", WorkerConfig, start_timeout, 1, false),
        CONFIG_KEY_DURATION("watchdog", WorkerConfig, watchdog, 0, false),
        CONFIG_KEY("probes", parse_worker_probes_later),
};
const size_t config_n_worker_keys = ELEMENTSOF(config_worker_keys);

/* Resolves user and group now, so that the child of fork() never calls into NSS. */
static int worker_resolve_identity(ConfigParser *p, const config_setting_t *g, WorkerConfig *w) {
        const config_setting_t *gs = config_setting_get_member(g, "group");
        _cleanup_(config_user_done) ConfigUser u = {};
        int r;

        if (w->group && !w->user)
                return config_keys_fail(p, gs, "group requires user");
        if (!w->user)
                return 0;

        r = config_user_resolve(p, config_setting_get_member(g, "user"), w->user, gs, w->group, &u);
        if (r < 0)
                return r;
        w->uid = u.uid;
        w->gid = u.gid;
        w->home = TAKE_PTR(u.home);
        w->shell = TAKE_PTR(u.shell);
        w->supplementary_gids = TAKE_PTR(u.groups);
        w->n_supplementary_gids = u.n_groups;
        w->has_user = true;
        return 0;
}

static int parse_worker(ConfigParser *p, const config_setting_t *g, WorkerConfig *w) {
        const char *file;
        unsigned line;
        int r;

        r = config_keys_expect_type(p, g, CONFIG_TYPE_GROUP, "a group { name = ...; command = [ ... ]; }");
        if (r < 0)
                return r;

        config_source_locate(p->source, config_setting_source_line(g), &file, &line);
        w->file = strdup(file);
        if (!w->file)
                return -ENOMEM;
        w->line = line;

        r = config_keys_parse_members(p, g, config_worker_keys, config_n_worker_keys, w);
        if (r < 0)
                return r;

        if (!w->name)
                return config_keys_fail(p, g, "missing required key \"name\"");
        if (!w->argv)
                return config_keys_fail(p, g, "missing required key \"command\"");

        r = worker_resolve_identity(p, g, w);
        if (r < 0)
                return r;

        if (config_setting_get_member(g, "probes"))
                return config_parse_probes(p, config_setting_get_member(g, "probes"), false,
                                           w->cgroups == CGROUP_OFF, &w->probes, &w->n_probes);
        return 0;
}

int config_parse_workers(ConfigParser *p, const config_setting_t *s, Config *c) {
        int n, r;

        /* An empty "workers = [];" is an empty array to libconfig; accept it like "()". */
        if (!(config_setting_is_list(s) || (config_setting_is_array(s) && config_setting_length(s) == 0)))
                return config_keys_fail(p, s, "expected a list of groups ( { ... }, { ... } ), got %s",
                                        config_keys_type_name(s));

        n = config_setting_length(s);
        if ((size_t) n > CONFIG_WORKERS_MAX)
                return config_keys_fail(p, s, "more than %u workers", CONFIG_WORKERS_MAX);
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
                                return config_keys_fail(
                                        p, config_setting_get_member(g, "name"),
                                        "duplicate worker name \"%s\" (first defined at %s:%u)", w->name,
                                        c->workers[j].file, c->workers[j].line);
        }

        return 0;
}
