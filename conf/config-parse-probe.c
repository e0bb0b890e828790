/* A list of probes ("probes = ( ... )" in a worker's entry, "host_probes = ( ... )" at the top)
 * into ProbeConfigs: the keys every kind shares (name, kind, every, timeout, for, fail_after,
 * recover_after, warning, critical, actions), each kind's own keys from its ProbeKindSpec, and
 * the checks across them (threshold units and order, every against timeout, unique names,
 * scope, known actions, the kind's own check). A key of another kind is named as such.
 * Non-logging; never prints, never exits. */

#include <stdlib.h>

#include "config-parse-probe.h"
#include "config.h"
#include "parse-util.h"
#include "strv.h"

#define PROBE_DEFAULT_FAIL_AFTER 3U
#define PROBE_DEFAULT_RECOVER_AFTER 2U
#define PROBE_FAIL_AFTER_MAX 1000U

const ProbeKindSpec *config_kinds_find_probe(const ConfigKinds *kinds, const char *kind) {
        const ProbeKindSpec *k;

        if (!kinds || !kinds->probe_kind_at || !kind)
                return NULL;
        for (size_t i = 0; (k = kinds->probe_kind_at(i)); i++)
                if (streq(k->kind, kind))
                        return k;
        return NULL;
}

void probe_config_done(ProbeConfig *pc) {
        if (!pc)
                return;
        if (pc->settings && pc->spec && pc->spec->settings_done)
                pc->spec->settings_done(pc->settings);
        pc->settings = mfree(pc->settings);
        pc->name = mfree(pc->name);
        pc->kind = mfree(pc->kind);
        pc->file = mfree(pc->file);
        pc->actions = strv_free(pc->actions);
}

const char *threshold_format(char *buf, size_t size, const Threshold *t) {
        static const char *const suffixes[] = { "", "K", "M", "G", "T", "P" };
        double v = t->value;
        size_t k = 0;

        switch (t->unit) {
        case THRESHOLD_BYTES:
                while (v >= 1024.0 && k + 1 < ELEMENTSOF(suffixes)) {
                        v /= 1024.0;
                        k++;
                }
                (void) snprintf(buf, size, "%.4g%s", v, suffixes[k]);
                break;
        case THRESHOLD_PERCENT:
                (void) snprintf(buf, size, "%.4g%%", v);
                break;
        case THRESHOLD_DURATION:
                (void) snprintf(buf, size, "%.4gs", v);
                break;
        default:
                (void) snprintf(buf, size, "%.6g", v);
                break;
        }
        return buf;
}

static const char *threshold_unit_name(ThresholdUnit u) {
        switch (u) {
        case THRESHOLD_COUNT:
                return "a number (1000)";
        case THRESHOLD_BYTES:
                return "a size (\"512M\")";
        case THRESHOLD_PERCENT:
                return "a percentage (\"90%\")";
        case THRESHOLD_DURATION:
                return "a duration (\"30s\")";
        }
        return "?";
}

/* "a number (1000) or a percentage ("90%")": what a kind accepts, for messages. */
static void threshold_units_list(unsigned units, char *buf, size_t size) {
        size_t n = 0;
        unsigned left = units;

        buf[0] = 0;
        for (unsigned u = 1; u <= THRESHOLD_DURATION; u <<= 1) {
                if (!(units & u))
                        continue;
                left &= ~u;
                n += (size_t) snprintf(buf + n, n < size ? size - n : 0, "%s%s",
                                       n == 0 ? "" : left ? ", " : " or ", threshold_unit_name(u));
                if (n >= size)
                        break;
        }
}

/* Parses a threshold's value: an integer or a float is a count, a string a count, size,
 * percentage or duration by its form. */
static int parse_threshold_value(ConfigParser *p, const config_setting_t *s, Threshold *ret) {
        const char *v;
        char *end;
        double d;
        uint64_t bytes;
        usec_t u;

        switch (config_setting_type(s)) {
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
                *ret = (Threshold) { .set = true, .unit = THRESHOLD_COUNT, .value = (double) config_setting_get_int64(s) };
                break;
        case CONFIG_TYPE_FLOAT:
                *ret = (Threshold) { .set = true, .unit = THRESHOLD_COUNT, .value = config_setting_get_float(s) };
                break;
        case CONFIG_TYPE_STRING:
                v = config_setting_get_string(s);
                errno = 0;
                d = strtod(v, &end);
                if (end != v && errno == 0 && streq(end, "%")) {
                        *ret = (Threshold) { .set = true, .unit = THRESHOLD_PERCENT, .value = d };
                        break;
                }
                if (end != v && errno == 0 && *end == 0) {
                        *ret = (Threshold) { .set = true, .unit = THRESHOLD_COUNT, .value = d };
                        break;
                }
                if (parse_size(v, &bytes) >= 0) {
                        *ret = (Threshold) { .set = true, .unit = THRESHOLD_BYTES, .value = (double) bytes };
                        break;
                }
                if (parse_duration(v, &u) >= 0 && u != USEC_INFINITY) {
                        *ret = (Threshold) { .set = true, .unit = THRESHOLD_DURATION,
                                             .value = (double) u / (double) USEC_PER_SEC };
                        break;
                }
                return config_keys_fail(p, s, "invalid threshold \"%s\": expected a number (1000), a size "
                                        "(\"512M\"), a percentage (\"90%%\") or a duration (\"30s\")", v);
        default:
                return config_keys_fail(p, s, "expected a threshold such as 1000, \"512M\" or \"90%%\", got %s",
                                        config_keys_type_name(s));
        }
        if (isnan(ret->value) || ret->value < 0)
                return config_keys_fail(p, s, "a threshold must not be negative");
        if (ret->unit == THRESHOLD_PERCENT && ret->value > 100000)
                return config_keys_fail(p, s, "percentage out of range 0..100000");
        return 0;
}

/* A threshold key of the common table: checked against the kind's units after the parse. */
static int parse_threshold(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *settings) {
        return parse_threshold_value(p, s, CONFIG_KEY_FIELD(settings, k, Threshold));
}

int config_probe_parse_threshold(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *settings) {
        Threshold *t = CONFIG_KEY_FIELD(settings, k, Threshold);
        char units[160];
        int r;

        r = parse_threshold_value(p, s, t);
        if (r < 0)
                return r;
        if (k->min != 0 && !((unsigned) k->min & t->unit)) {
                threshold_units_list((unsigned) k->min, units, sizeof units);
                return config_keys_fail(p, s, "expected %s, got %s", units, threshold_unit_name(t->unit));
        }
        return 0;
}

static bool probe_name_is_valid(const char *n) {
        size_t l = strlen(n);

        return l >= 1 && l <= CONFIG_NAME_MAX &&
               strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == l;
}

static int parse_probe_name(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *settings) {
        ProbeConfig *pc = settings;
        const char *v = NULL;
        int r;

        r = config_keys_expect_string(p, s, "a string", &v);
        if (r < 0)
                return r;
        if (!probe_name_is_valid(v))
                return config_keys_fail(p, s, "invalid probe name \"%s\": use 1..%u characters of A-Z a-z 0-9 _ . -",
                                        v, CONFIG_NAME_MAX);
        free(pc->name);
        pc->name = strdup(v);
        return pc->name ? 0 : -ENOMEM;
}

/* Parsed before the other keys (it selects the kind's table); here only accepted. */
static int parse_probe_kind(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *settings) {
        return 0;
}

static int parse_probe_actions(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *settings) {
        ProbeConfig *pc = settings;
        char **l = NULL;
        int r;

        r = config_keys_expect_string_list(p, s, CONFIG_PROBE_ACTIONS_MAX, "[ \"restart\" ]", &l);
        if (r < 0)
                return r;
        strv_free(pc->actions);
        pc->actions = l;
        return 0;
}

const ConfigKey config_probe_keys[] = {
        CONFIG_KEY("name", parse_probe_name),
        CONFIG_KEY("kind", parse_probe_kind),
        CONFIG_KEY_DURATION("every", ProbeConfig, every, 1, false),
        CONFIG_KEY_DURATION("timeout", ProbeConfig, timeout, 1, false),
        CONFIG_KEY_DURATION("for", ProbeConfig, for_usec, 0, false),
        CONFIG_KEY_UINT("fail_after", ProbeConfig, fail_after, 1, PROBE_FAIL_AFTER_MAX),
        CONFIG_KEY_UINT("recover_after", ProbeConfig, recover_after, 1, PROBE_FAIL_AFTER_MAX),
        CONFIG_KEY_AT("warning", parse_threshold, ProbeConfig, warning),
        CONFIG_KEY_AT("critical", parse_threshold, ProbeConfig, critical),
        CONFIG_KEY("actions", parse_probe_actions),
};
const size_t config_n_probe_keys = ELEMENTSOF(config_probe_keys);

static const ConfigKey *find_key(const ConfigKey *keys, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(keys[i].name, name))
                        return &keys[i];
        return NULL;
}

/* The first other kind that has a key of this name, for "belongs to" messages. */
static const ProbeKindSpec *key_owner(const ConfigKinds *kinds, const char *name) {
        const ProbeKindSpec *k;

        if (!kinds || !kinds->probe_kind_at)
                return NULL;
        for (size_t i = 0; (k = kinds->probe_kind_at(i)); i++)
                if (find_key(k->keys, k->n_keys, name))
                        return k;
        return NULL;
}

static int check_threshold(ConfigParser *p, const config_setting_t *g, const ProbeConfig *pc, const char *key,
                           const Threshold *t) {
        char units[160];

        if (!t->set || !pc->spec)
                return 0;
        if (pc->spec->threshold_units == 0)
                return config_keys_fail(p, config_setting_get_member(g, key),
                                        "probe kind \"%s\" takes no %s threshold", pc->kind, key);
        if (!(pc->spec->threshold_units & t->unit)) {
                threshold_units_list(pc->spec->threshold_units, units, sizeof units);
                return config_keys_fail(p, config_setting_get_member(g, key),
                                        "%s is %s; probe kind \"%s\" takes %s", key, threshold_unit_name(t->unit),
                                        pc->kind, units);
        }
        return 0;
}

static int check_probe(ConfigParser *p, const config_setting_t *g, ProbeConfig *pc, bool host, bool cgroups_off,
                       const ConfigKinds *kinds) {
        const ProbeKindSpec *spec = pc->spec;
        char a[FORMAT_DURATION_MAX], b[FORMAT_DURATION_MAX], wa[THRESHOLD_FORMAT_MAX], cr[THRESHOLD_FORMAT_MAX];
        int r;

        if (pc->timeout > pc->every)
                return config_keys_fail(p, config_setting_get_member(g, "every") ?: config_setting_get_member(g, "timeout"),
                                        "every (%s) is shorter than timeout (%s): a sample would still run when "
                                        "the next is due", format_duration(a, sizeof a, pc->every),
                                        format_duration(b, sizeof b, pc->timeout));
        r = check_threshold(p, g, pc, "warning", &pc->warning);
        if (r < 0)
                return r;
        r = check_threshold(p, g, pc, "critical", &pc->critical);
        if (r < 0)
                return r;
        if (spec && pc->warning.set && pc->critical.set && pc->warning.unit == pc->critical.unit &&
            (spec->lower_is_worse ? pc->warning.value < pc->critical.value : pc->warning.value > pc->critical.value))
                return config_keys_fail(p, config_setting_get_member(g, "warning"),
                                        "warning (%s) must be %s critical (%s): probe kind \"%s\" fires when the "
                                        "value is %s", threshold_format(wa, sizeof wa, &pc->warning),
                                        spec->lower_is_worse ? "at or above" : "at or below",
                                        threshold_format(cr, sizeof cr, &pc->critical), pc->kind,
                                        spec->lower_is_worse ? "below the threshold" : "above the threshold");

        if (spec && !(spec->scopes & (host ? PROBE_SCOPE_HOST : PROBE_SCOPE_INSTANCE)))
                return config_keys_fail(p, config_setting_get_member(g, "kind"),
                                        host ? "probe kind \"%s\" measures a worker: put it in a worker's probes"
                                             : "probe kind \"%s\" measures the host: put it in host_probes",
                                        pc->kind);

        for (int i = 0; pc->actions && pc->actions[i]; i++) {
                const char *n = pc->actions[i];
                bool known = kinds && kinds->action_exists ? kinds->action_exists(n) : streq(n, "restart");

                if (host && streq(n, "restart"))
                        return config_keys_fail(p, config_setting_get_elem(config_setting_get_member(g, "actions"),
                                                                           (unsigned) i),
                                                "a host probe has no worker to restart");
                if (!known)
                        return config_keys_fail(p, config_setting_get_elem(config_setting_get_member(g, "actions"),
                                                                           (unsigned) i),
                                                "unknown action \"%s\"", n);
        }

        if (spec && spec->check)
                return spec->check(p, g, pc, cgroups_off);
        return 0;
}

static int parse_probe(ConfigParser *p, const config_setting_t *g, const ConfigKinds *kinds, bool host,
                       bool cgroups_off, ProbeConfig *pc) {
        const config_setting_t *ks;
        const char *kind = NULL, *file;
        bool explicit_timeout;
        unsigned line;
        int r;

        r = config_keys_expect_type(p, g, CONFIG_TYPE_GROUP, "a group { kind = \"disk\"; ... }");
        if (r < 0)
                return r;
        config_source_locate(p->source, config_setting_source_line(g), &file, &line);
        pc->file = strdup(file);
        if (!pc->file)
                return -ENOMEM;
        pc->line = line;
        pc->host = host;

        ks = config_setting_get_member(g, "kind");
        if (!ks)
                return config_keys_fail(p, g, "missing required key \"kind\"");
        r = config_keys_expect_string(p, ks, "a string", &kind);
        if (r < 0)
                return r;
        pc->kind = strdup(kind);
        if (!pc->kind)
                return -ENOMEM;
        if (kinds && kinds->probe_kind_at) {
                _cleanup_free_ char *names = NULL;

                pc->spec = config_kinds_find_probe(kinds, kind);
                if (!pc->spec) {
                        const ProbeKindSpec *k;

                        for (size_t i = 0; (k = kinds->probe_kind_at(i)); i++) {
                                char *t = NULL;

                                if (asprintf(&t, "%s%s%s", names ?: "", names ? ", " : "", k->kind) < 0)
                                        return -ENOMEM;
                                free(names);
                                names = t;
                        }
                        return config_keys_fail(p, ks, "unknown probe kind \"%s\" (known: %s)", kind, names ?: "none");
                }
        }

        if (pc->spec && pc->spec->settings_size > 0) {
                pc->settings = calloc(1, pc->spec->settings_size);
                if (!pc->settings)
                        return -ENOMEM;
                if (pc->spec->settings_init)
                        pc->spec->settings_init(pc->settings);
        }

        for (int i = 0; i < config_setting_length(g); i++) {
                const config_setting_t *s = config_setting_get_elem(g, (unsigned) i);
                const char *name = config_setting_name(s);
                const ConfigKey *k;
                const ProbeKindSpec *owner;

                k = find_key(config_probe_keys, config_n_probe_keys, name);
                if (k) {
                        r = k->parse(p, s, k, pc);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (!pc->spec) {
                        if (kinds && kinds->probe_kind_at)
                                return config_keys_fail(p, s, "unknown key");
                        continue;   /* parsed without the kinds: their keys are not ours to judge */
                }
                k = find_key(pc->spec->keys, pc->spec->n_keys, name);
                if (k) {
                        r = k->parse(p, s, k, pc->settings);
                        if (r < 0)
                                return r;
                        continue;
                }
                owner = key_owner(kinds, name);
                if (owner)
                        return config_keys_fail(p, s, "not a key of probe kind \"%s\" (it belongs to kind \"%s\")",
                                                pc->kind, owner->kind);
                return config_keys_fail(p, s, "unknown key");
        }

        if (!pc->name) {
                pc->name = strdup(pc->kind);
                if (!pc->name)
                        return -ENOMEM;
        }
        if (!pc->actions) {
                pc->actions = calloc(1, sizeof(char *));
                if (!pc->actions)
                        return -ENOMEM;
        }
        explicit_timeout = pc->timeout > 0;
        if (pc->every == 0)
                pc->every = pc->spec && pc->spec->default_every ? pc->spec->default_every : CONFIG_PROBE_DEFAULT_EVERY;
        if (!explicit_timeout)
                pc->timeout = MIN(pc->spec && pc->spec->default_timeout ? pc->spec->default_timeout
                                                                        : CONFIG_PROBE_DEFAULT_TIMEOUT,
                                  pc->every);
        if (pc->fail_after == 0)
                pc->fail_after = PROBE_DEFAULT_FAIL_AFTER;
        if (pc->recover_after == 0)
                pc->recover_after = PROBE_DEFAULT_RECOVER_AFTER;

        return check_probe(p, g, pc, host, cgroups_off, kinds);
}

int config_parse_probes(ConfigParser *p, const config_setting_t *s, bool host, bool cgroups_off,
                        ProbeConfig **ret_probes, size_t *ret_n) {
        _cleanup_free_ ProbeConfig *probes = NULL;
        size_t n_parsed = 0;
        int n, r = 0;

        if (!(config_setting_is_list(s) || (config_setting_is_array(s) && config_setting_length(s) == 0)))
                return config_keys_fail(p, s, "expected a list of groups ( { kind = \"...\"; }, ... ), got %s",
                                        config_keys_type_name(s));
        n = config_setting_length(s);
        if ((size_t) n > CONFIG_PROBES_MAX)
                return config_keys_fail(p, s, "more than %u probes", CONFIG_PROBES_MAX);
        if (n == 0) {
                *ret_probes = NULL;
                *ret_n = 0;
                return 0;
        }

        probes = calloc((size_t) n, sizeof(ProbeConfig));
        if (!probes)
                return -ENOMEM;

        for (int i = 0; i < n; i++) {
                const config_setting_t *g = config_setting_get_elem(s, (unsigned) i);

                n_parsed++;
                r = parse_probe(p, g, p->kinds, host, cgroups_off, &probes[i]);
                if (r < 0)
                        break;
                for (int j = 0; j < i; j++)
                        if (streq(probes[j].name, probes[i].name)) {
                                r = config_keys_fail(p, config_setting_get_member(g, "name") ?: g,
                                                     "duplicate probe name \"%s\" (first defined at %s:%u)%s",
                                                     probes[i].name, probes[j].file, probes[j].line,
                                                     config_setting_get_member(g, "name")
                                                             ? ""
                                                             : "; give one of them a name");
                                break;
                        }
                if (r < 0)
                        break;
        }
        if (r < 0) {
                for (size_t i = 0; i < n_parsed; i++)
                        probe_config_done(&probes[i]);
                return r;
        }

        *ret_probes = TAKE_PTR(probes);
        *ret_n = (size_t) n;
        return 0;
}
