/* config_parse_file(): vigil.conf into a validated, defaulted Config. Owns the root of the file
 * and its "daemon = { }" section; each worker entry is config-parse-worker.c's, the key table
 * machinery config-keys.c's. Reading the files and expanding @include is config-source.c's job;
 * libconfig only ever parses that in-memory text, its include directory pointed at a path that
 * cannot be opened. Unknown keys are errors; the first error becomes
 * "FILE:LINE: KEYPATH: what is wrong". Non-logging; never prints, never exits. */

#include <grp.h>
#include <libconfig.h>

#include "config-keys.h"
#include "config-parse-probe.h"
#include "config-parse-worker.h"
#include "config-parse.h"
#include "config-source.h"

/* A boolean spelled in words. Not a CONFIG_KEY_ENUM row: the field is a bool with no string
 * table, and its messages are worded differently from that row's. */
static int parse_daemon_store_sync(ConfigParser *p, const config_setting_t *s, const ConfigKey *k,
                                   void *obj) {
        DaemonConfig *d = obj;
        const char *v = NULL;
        int r;

        r = config_keys_expect_string(p, s, "\"normal\" or \"full\"", &v);
        if (r < 0)
                return r;
        if (streq(v, "normal"))
                d->store_sync_full = false;
        else if (streq(v, "full"))
                d->store_sync_full = true;
        else
                return config_keys_fail(p, s, "expected \"normal\" or \"full\", got \"%s\"", v);
        return 0;
}

static int parse_daemon_reader_group(ConfigParser *p, const config_setting_t *s, const ConfigKey *k,
                                     void *obj) {
        DaemonConfig *d = obj;
        struct group *gr;
        int r;

        r = config_keys_parse_string(p, s, k, obj);
        if (r < 0)
                return r;
        errno = 0;
        gr = getgrnam(d->reader_group);
        if (!gr)
                return config_keys_fail(p, s, "unknown group \"%s\"", d->reader_group);
        d->reader_gid = gr->gr_gid;
        return 0;
}

/* A percentage of time, "80%", or "off" (0: not looked at). */
static int parse_daemon_percent(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *obj) {
        const char *v = NULL;
        char *end;
        double d;
        int r;

        r = config_keys_expect_string(p, s, "a percentage such as \"80%\", or \"off\"", &v);
        if (r < 0)
                return r;
        if (streq(v, "off")) {
                *CONFIG_KEY_FIELD(obj, k, double) = 0;
                return 0;
        }
        errno = 0;
        d = strtod(v, &end);
        if (end == v || errno != 0 || !streq(end, "%") || !(d > 0 && d <= 100))
                return config_keys_fail(p, s, "expected a percentage above 0%% and at most 100%% such as \"80%%\", "
                                        "or \"off\", got \"%s\"", v);
        *CONFIG_KEY_FIELD(obj, k, double) = d;
        return 0;
}

const ConfigKey config_daemon_keys[] = {
        CONFIG_KEY_PATH("state_dir", DaemonConfig, state_dir),
        CONFIG_KEY_PATH("runtime_dir", DaemonConfig, runtime_dir),
        CONFIG_KEY_DURATION("tilt_margin", DaemonConfig, tilt_margin, 1, false),
        CONFIG_KEY_DURATION("tilt_settle", DaemonConfig, tilt_settle, 0, false),
        CONFIG_KEY_DURATION("retention", DaemonConfig, retention, 1, true),
        CONFIG_KEY("store_sync", parse_daemon_store_sync),
        CONFIG_KEY_UINT("store_queue", DaemonConfig, store_queue, 100, 10000000),
        CONFIG_KEY_DURATION("store_flush_interval", DaemonConfig, store_flush_interval, 1, false),
        CONFIG_KEY_AT("reader_group", parse_daemon_reader_group, DaemonConfig, reader_group),
        CONFIG_KEY_AT("starved_some", parse_daemon_percent, DaemonConfig, starved_some),
        CONFIG_KEY_AT("starved_full", parse_daemon_percent, DaemonConfig, starved_full),
        CONFIG_KEY_DURATION("starved_max_defer", DaemonConfig, starved_max_defer, 0, true),
};

static const size_t config_n_daemon_keys = ELEMENTSOF(config_daemon_keys);

const ConfigKeyTable config_key_tables[] = {
        { "daemon", config_daemon_keys, &config_n_daemon_keys },
        { "workers[]", config_worker_keys, &config_n_worker_keys },
        { "workers[].backoff", config_backoff_keys, &config_n_backoff_keys },
        { "workers[].breaker", config_breaker_keys, &config_n_breaker_keys },
        { "probes[]", config_probe_keys, &config_n_probe_keys },
        {},
};

static int parse_root(ConfigParser *p, const config_setting_t *root, Config *c) {
        int r;

        c->daemon.tilt_margin = CONFIG_DEFAULT_TILT_MARGIN;
        c->daemon.tilt_settle = CONFIG_DEFAULT_TILT_SETTLE;
        c->daemon.retention = CONFIG_DEFAULT_RETENTION;
        c->daemon.store_queue = CONFIG_DEFAULT_STORE_QUEUE;
        c->daemon.store_flush_interval = CONFIG_DEFAULT_STORE_FLUSH_INTERVAL;
        c->daemon.reader_gid = (gid_t) -1;
        c->daemon.starved_some = CONFIG_DEFAULT_STARVED_SOME;
        c->daemon.starved_full = CONFIG_DEFAULT_STARVED_FULL;
        c->daemon.starved_max_defer = CONFIG_DEFAULT_STARVED_MAX_DEFER;

        for (int i = 0; i < config_setting_length(root); i++) {
                const config_setting_t *s = config_setting_get_elem(root, (unsigned) i);
                const char *name = config_setting_name(s);

                if (streq(name, "daemon"))
                        r = config_keys_parse_group(p, s, config_daemon_keys, ELEMENTSOF(config_daemon_keys), &c->daemon);
                else if (streq(name, "workers"))
                        r = config_parse_workers(p, s, c);
                else if (streq(name, "host_probes"))
                        r = config_parse_probes(p, s, true, false, &c->host_probes, &c->n_host_probes);
                else
                        r = config_keys_fail(p, s, "unknown key");
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

int config_parse_file(const char *path, const ConfigKinds *kinds, Config **ret_config, char **reterr_message) {
        _cleanup_(config_source_freep) ConfigSource *source = NULL;
        _cleanup_config_free_ Config *c = NULL;
        _cleanup_(config_destroyp) config_t *lc = NULL;
        ConfigParser p = { .kinds = kinds };
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
