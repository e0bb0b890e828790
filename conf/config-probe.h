/* The configuration of probes: what conf/ knows of a probe kind (its name, its own keys as a
 * ConfigKey table, the forms its thresholds take) and the ProbeConfig each configured probe
 * becomes. conf/ never includes probes/: the kinds reach the parser as a NULL-terminated list of
 * ProbeKindSpec pointers that main.c hands to config_parse_file(). Non-logging. */
#pragma once

#include <math.h>
#include <stdbool.h>
#include <stddef.h>

#include "config-keys.h"
#include "macro.h"
#include "time-util.h"

/* Limits (STYLE rule 27). */
#define CONFIG_PROBES_MAX 32U        /* per worker, and for the host */
#define CONFIG_PROBE_ACTIONS_MAX 16U

/* The forms a threshold may be written in; a kind accepts a set of them. */
typedef enum ThresholdUnit {
        THRESHOLD_COUNT = 1 << 0,    /* 1000, "1000" */
        THRESHOLD_BYTES = 1 << 1,    /* "512M", "2G" (powers of 1024) */
        THRESHOLD_PERCENT = 1 << 2,  /* "90%", "2.5%" */
        THRESHOLD_DURATION = 1 << 3, /* "30s", "10m" (stored as seconds) */
} ThresholdUnit;

typedef struct Threshold {
        bool set;
        ThresholdUnit unit;          /* exactly one flag */
        double value;                /* count, bytes, percent (0..100) or seconds */
} Threshold;

/* Where a kind can run: per instance of a worker, for the host, or both. */
typedef enum ProbeScope {
        PROBE_SCOPE_INSTANCE = 1 << 0,
        PROBE_SCOPE_HOST = 1 << 1,
} ProbeScope;

typedef struct ProbeConfig ProbeConfig;

/* What the parser needs to know of a kind. Each kind file defines one (inside its ProbeOps). */
typedef struct ProbeKindSpec {
        const char *kind;            /* "disk", as written in kind = "disk" */
        const ConfigKey *keys;       /* its own keys, parsed into its settings struct */
        size_t n_keys;
        size_t settings_size;        /* 0: no settings */
        /* Sets defaults in fresh (zeroed) settings; NULL: zero is the default. */
        void (*settings_init)(void *settings);
        /* Frees what the keys allocated in settings (not settings itself); NULL: nothing. */
        void (*settings_done)(void *settings);
        /* Checks the probe as a whole once every key is parsed (keys that need each other,
         * thresholds that need a setting, the worker's cgroups mode): 0, or the problem recorded
         * with config_keys_fail() on the member of g it is about. cgroups_off is true for a
         * worker with cgroups = "off". NULL: nothing to check. */
        int (*check)(ConfigParser *p, const config_setting_t *g, const ProbeConfig *pc, bool cgroups_off);

        unsigned scopes;             /* ProbeScope flags */
        unsigned threshold_units;    /* ThresholdUnit flags warning/critical accept; 0: none */
        bool lower_is_worse;         /* thresholds are on what is left (disk free space) */
        usec_t default_every;        /* 0: CONFIG_PROBE_DEFAULT_EVERY */
        usec_t default_timeout;      /* 0: CONFIG_PROBE_DEFAULT_TIMEOUT */
} ProbeKindSpec;

#define CONFIG_PROBE_DEFAULT_EVERY (10 * USEC_PER_SEC)
#define CONFIG_PROBE_DEFAULT_TIMEOUT (5 * USEC_PER_SEC)

struct ProbeConfig {
        char *name;                  /* unique per worker (or among host probes); default: kind */
        char *kind;
        const ProbeKindSpec *spec;   /* NULL when parsed without the kinds (vigilctl) */
        void *settings;              /* spec->settings_size bytes: the kind's keys */
        char *file;                  /* where it was defined, for messages */
        unsigned line;
        bool host;                   /* one of host_probes, not a worker's */

        usec_t every;                /* sampling interval */
        usec_t timeout;              /* a sample that takes longer is abandoned */
        usec_t for_usec;             /* a bad condition must hold this long before it fires */
        unsigned fail_after;         /* consecutive bad (or unknown) results before firing */
        unsigned recover_after;      /* consecutive good results before recovering */
        Threshold warning;
        Threshold critical;
        char **actions;              /* action names in escalation order; empty strv if none */
};

/* The kinds a parse knows: the spec of the probe kind at an index (NULL past the last), and
 * whether an action name exists (NULL: only the built-in "restart"). */
typedef struct ConfigKinds {
        const ProbeKindSpec *(*probe_kind_at)(size_t index);
        bool (*action_exists)(const char *name);
} ConfigKinds;

/* The kind's spec of that name in kinds, or NULL. */
const ProbeKindSpec *config_kinds_find_probe(const ConfigKinds *kinds, const char *kind);

/* A kind's own threshold key (inodes_critical): a Threshold field in one of `units`
 * (ThresholdUnit flags). The common warning and critical keys are checked against the kind's
 * threshold_units instead. */
int config_probe_parse_threshold(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *settings);
#define CONFIG_KEY_THRESHOLD(n, type, field, units)                                             \
        { .name = (n), .parse = config_probe_parse_threshold,                                  \
          .offset = CONFIG_KEY_OFFSET(type, field, Threshold), .min = (units) }

/* Frees what pc owns (not pc itself). */
void probe_config_done(ProbeConfig *pc);

/* Threshold values in a threshold's own unit, for messages: "512M", "90%", "1000", "30s". */
#define THRESHOLD_FORMAT_MAX 32
const char *threshold_format(char *buf, size_t size, const Threshold *t);

/* Whether `value` (in the threshold's unit; percent 0..100, seconds for durations) is past t in
 * the direction that is worse. */
static inline bool threshold_crossed(const Threshold *t, double value, bool lower_is_worse) {
        if (!t->set || isnan(value))
                return false;
        return lower_is_worse ? value < t->value : value > t->value;
}
