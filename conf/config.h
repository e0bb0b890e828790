/* The parsed, validated and defaulted configuration: one immutable Config built by
 * config_parse_file() and swapped in whole. Every value here has already been checked;
 * consumers never re-validate. Ownership: a Config owns every string and array below it. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "config-probe.h"
#include "macro.h"
#include "time-util.h"

#define CONFIG_DEFAULT_PATH "/etc/vigil/vigil.conf"
#define CONFIG_DEFAULT_STATE_DIR "/var/lib/vigil"
#define CONFIG_DEFAULT_RUNTIME_DIR "/run/vigil"

/* Below runtime_dir: the lock a running vigild holds (vigilctl tests it to see whether one
 * runs), the workers' notify socket, and the marker present while vigild cannot write the
 * incident store (for vigilctl health). Below state_dir: the incident store. */
#define CONFIG_RUNTIME_LOCK_FILE "vigild.lock"
#define CONFIG_RUNTIME_NOTIFY_SOCKET "notify.sock"
#define CONFIG_RUNTIME_STORE_DEGRADED "store-degraded"
#define CONFIG_INCIDENTS_DB "incidents.db"

/* Limits on what a config may ask for (STYLE rule 27). */
#define CONFIG_FILE_SIZE_MAX (1024U * 1024U)
#define CONFIG_WORKERS_MAX 4096U
#define CONFIG_INSTANCES_MAX 4096U
#define CONFIG_ARGV_MAX 1024U
#define CONFIG_ENV_MAX 1024U
#define CONFIG_NAME_MAX 64U
/* The most failures breaker.failures may ask for: a breaker remembers this many failure times,
 * and the store keeps as many across restarts of vigild. */
#define CONFIG_BREAKER_FAILURES_MAX 64U

typedef enum RestartMode {
        RESTART_ALWAYS,
        RESTART_ON_FAILURE,
        RESTART_NEVER,
        _RESTART_MODE_MAX,
        _RESTART_MODE_INVALID = -EINVAL,
} RestartMode;

typedef enum OutputKind {
        OUTPUT_JOURNAL,  /* journal stream; falls back to vigild's own stderr without journald */
        OUTPUT_FILE,     /* "file:PATH", opened O_APPEND|O_NOFOLLOW after the privilege drop */
        OUTPUT_NULL,     /* /dev/null */
        _OUTPUT_KIND_MAX,
        _OUTPUT_KIND_INVALID = -EINVAL,
} OutputKind;

typedef enum CgroupMode {
        CGROUP_AUTO,     /* own cgroup v2 per instance where vigild can create one */
        CGROUP_OFF,      /* process group only */
        _CGROUP_MODE_MAX,
        _CGROUP_MODE_INVALID = -EINVAL,
} CgroupMode;

typedef struct BackoffConfig {
        usec_t initial;
        usec_t max;
        double factor;
        usec_t reset_after;
        bool immediate_first;
} BackoffConfig;

typedef struct BreakerConfig {
        unsigned failures;      /* this many failures ... */
        usec_t window;          /* ... within this window open the breaker */
        usec_t open_for;        /* then wait this long before one half-open trial */
        usec_t trial_ok;        /* a trial instance that stays running this long closes it */
} BreakerConfig;

typedef struct OutputConfig {
        OutputKind kind;
        char *path;             /* OUTPUT_FILE only, absolute */
} OutputConfig;

typedef struct WorkerConfig {
        char *name;
        char *file;             /* where it was defined, for messages */
        unsigned line;

        char **argv;            /* argv[0] is an absolute path; no shell */
        unsigned instances;

        /* Identity. has_user false: the worker runs as vigild's own user. uid/gid/home/shell and
         * the supplementary groups are resolved at parse time so that the child of fork() never
         * calls into NSS. */
        bool has_user;
        char *user;
        char *group;            /* NULL: the user's primary group */
        uid_t uid;
        gid_t gid;
        gid_t *supplementary_gids;
        size_t n_supplementary_gids;
        char *home;
        char *shell;

        char *cwd;              /* NULL: the user's home, or / */
        char **environment;     /* "NAME=VALUE", applied after vigil's own variables */
        mode_t umask;
        bool rlimit_set[RLIM_NLIMITS];
        struct rlimit rlimits[RLIM_NLIMITS]; /* RLIMIT_NOFILE is always set (default 1024) */

        RestartMode restart;
        bool permanent_exit[256]; /* exit codes that mean "do not retry" */
        usec_t start_secs;        /* without notify: up this long means running */
        int stop_signal;
        usec_t stop_timeout;
        usec_t resource_retry;    /* retry period after OOM kill or fork/exec EAGAIN/ENOMEM */
        usec_t resource_timeout;  /* resource waits longer than this are escalated */
        BackoffConfig backoff;
        BreakerConfig breaker;
        OutputConfig output[2];   /* [0] stdout, [1] stderr */
        CgroupMode cgroups;

        /* Parsed and validated here; they take effect with the notify socket. */
        bool notify;
        usec_t start_timeout;
        usec_t watchdog;          /* 0: off */

        ProbeConfig *probes;      /* run per instance while it runs */
        size_t n_probes;
} WorkerConfig;

/* TILT guard defaults: a loop late by more than the margin, or a jump between the realtime
 * and monotonic clocks, suspends timeout verdicts (start_timeout, watchdog) for the settle
 * period. */
#define CONFIG_DEFAULT_TILT_MARGIN (1 * USEC_PER_SEC)
#define CONFIG_DEFAULT_TILT_SETTLE (10 * USEC_PER_SEC)

/* Starvation defaults (DaemonConfig.starved_*), in percent of avg10. */
#define CONFIG_DEFAULT_STARVED_SOME 80.0
#define CONFIG_DEFAULT_STARVED_FULL 40.0
#define CONFIG_DEFAULT_STARVED_MAX_DEFER (2 * USEC_PER_MINUTE)

/* Incident store defaults. */
#define CONFIG_DEFAULT_RETENTION (30 * USEC_PER_DAY)
#define CONFIG_DEFAULT_STORE_QUEUE 10000U
#define CONFIG_DEFAULT_STORE_FLUSH_INTERVAL (1 * USEC_PER_SEC)

typedef struct DaemonConfig {
        char *state_dir;
        char *runtime_dir;
        usec_t tilt_margin;
        usec_t tilt_settle;

        /* The incident store, state_dir/incidents.db. */
        usec_t retention;             /* resolved incidents older than this are purged */
        bool store_sync_full;         /* synchronous=FULL instead of NORMAL */
        unsigned store_queue;         /* events held in memory while the store cannot be written */
        usec_t store_flush_interval;  /* no event waits longer than this to be written */
        char *reader_group;           /* group that may read the store (vigilctl); NULL: state_dir's */
        gid_t reader_gid;

        /* The host is starved when any of /proc/pressure/{cpu,memory,io} has its "some" or its
         * "full" avg10 above these (percent; 0: that line is not looked at): hang verdicts
         * (missed WATCHDOG=1, no progress, probe timeouts) are then deferred. */
        double starved_some;
        double starved_full;
        usec_t starved_max_defer;     /* a verdict waits at most this long on a starved host */
} DaemonConfig;

typedef struct Config {
        char *path;
        DaemonConfig daemon;
        WorkerConfig *workers;
        size_t n_workers;
        ProbeConfig *host_probes;
        size_t n_host_probes;
} Config;

/* Frees a Config and everything it owns. Accepts NULL, returns NULL. Non-logging. */
Config *config_free(Config *c);
static inline void config_freep(Config **c) {
        config_free(*c);
}
#define _cleanup_config_free_ _cleanup_(config_freep)

/* Fills a WorkerConfig with the documented defaults (see vigil.conf(5)); strings stay NULL. */
void config_worker_defaults(WorkerConfig *w);

/* Releases what a WorkerConfig owns, not the struct itself. */
void config_worker_done(WorkerConfig *w);

const WorkerConfig *config_find_worker(const Config *c, const char *name);

const char *restart_mode_to_string(RestartMode m) _pure_;
RestartMode restart_mode_from_string(const char *s) _pure_;
const char *output_kind_to_string(OutputKind k) _pure_;
OutputKind output_kind_from_string(const char *s) _pure_;
const char *cgroup_mode_to_string(CgroupMode m) _pure_;
CgroupMode cgroup_mode_from_string(const char *s) _pure_;
