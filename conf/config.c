/* The Config object outside of parsing: its documented defaults, its destructor, worker
 * lookup and the string tables of its enums. The defaults here are the ones vigil.conf(5)
 * documents; change both together. Owns no state of its own. Non-logging. */

#include <signal.h>
#include <stdlib.h>

#include "config.h"
#include "strv.h"

/* sysexits(3) codes that no retry can fix: usage, data, no input, no user, no host, no
 * permission, config. EX_TEMPFAIL (75) and the rest stay transient. */
static const int default_permanent_exit_codes[] = { 64, 65, 66, 67, 68, 77, 78 };

void config_worker_defaults(WorkerConfig *w) {
        assert(w);

        *w = (WorkerConfig) {
                .instances = 1,
                .umask = 0022,
                .restart = RESTART_ON_FAILURE,
                .start_secs = 1 * USEC_PER_SEC,
                .stop_signal = SIGTERM,
                .stop_timeout = 10 * USEC_PER_SEC,
                .resource_retry = 5 * USEC_PER_SEC,
                .resource_timeout = 5 * USEC_PER_MINUTE,
                .backoff = {
                        .initial = 1 * USEC_PER_SEC,
                        .max = 5 * USEC_PER_MINUTE,
                        .factor = 2.0,
                        .reset_after = 10 * USEC_PER_MINUTE,
                        .immediate_first = true,
                },
                .breaker = {
                        .failures = 5,
                        .window = 2 * USEC_PER_MINUTE,
                        .open_for = 1 * USEC_PER_MINUTE,
                        .trial_ok = 10 * USEC_PER_SEC,
                },
                .output = {
                        { .kind = OUTPUT_JOURNAL },
                        { .kind = OUTPUT_JOURNAL },
                },
                .cgroups = CGROUP_AUTO,
                .notify = false,
                .start_timeout = 30 * USEC_PER_SEC,
                .watchdog = 0,
        };

        w->rlimit_set[RLIMIT_NOFILE] = true;
        w->rlimits[RLIMIT_NOFILE] = (struct rlimit) { .rlim_cur = 1024, .rlim_max = 1024 };

        for (size_t i = 0; i < ELEMENTSOF(default_permanent_exit_codes); i++)
                w->permanent_exit[default_permanent_exit_codes[i]] = true;
}

void config_worker_done(WorkerConfig *w) {
        if (!w)
                return;

        w->name = mfree(w->name);
        w->file = mfree(w->file);
        w->argv = strv_free(w->argv);
        w->user = mfree(w->user);
        w->group = mfree(w->group);
        w->supplementary_gids = mfree(w->supplementary_gids);
        w->n_supplementary_gids = 0;
        w->home = mfree(w->home);
        w->shell = mfree(w->shell);
        w->cwd = mfree(w->cwd);
        w->environment = strv_free(w->environment);
        for (size_t i = 0; i < w->n_probes; i++)
                probe_config_done(&w->probes[i]);
        w->probes = mfree(w->probes);
        w->n_probes = 0;
        for (size_t i = 0; i < ELEMENTSOF(w->output); i++)
                w->output[i].path = mfree(w->output[i].path);
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;

        for (size_t i = 0; i < c->n_workers; i++)
                config_worker_done(&c->workers[i]);
        free(c->workers);
        for (size_t i = 0; i < c->n_host_probes; i++)
                probe_config_done(&c->host_probes[i]);
        free(c->host_probes);
        free(c->daemon.state_dir);
        free(c->daemon.reader_group);
        free(c->daemon.runtime_dir);
        free(c->path);
        free(c);
        return NULL;
}

const WorkerConfig *config_find_worker(const Config *c, const char *name) {
        assert(c);
        assert(name);

        for (size_t i = 0; i < c->n_workers; i++)
                if (streq_ptr(c->workers[i].name, name))
                        return &c->workers[i];
        return NULL;
}

static const char *const restart_mode_table[_RESTART_MODE_MAX] = {
        [RESTART_ALWAYS] = "always",
        [RESTART_ON_FAILURE] = "on-failure",
        [RESTART_NEVER] = "never",
};

DEFINE_STRING_TABLE_LOOKUP(restart_mode, RestartMode);

/* OUTPUT_FILE's config form is "file:PATH"; the table holds only the prefix's name. */
static const char *const output_kind_table[_OUTPUT_KIND_MAX] = {
        [OUTPUT_JOURNAL] = "journal",
        [OUTPUT_FILE] = "file",
        [OUTPUT_NULL] = "null",
};

DEFINE_STRING_TABLE_LOOKUP(output_kind, OutputKind);

static const char *const cgroup_mode_table[_CGROUP_MODE_MAX] = {
        [CGROUP_AUTO] = "auto",
        [CGROUP_OFF] = "off",
};

DEFINE_STRING_TABLE_LOOKUP(cgroup_mode, CgroupMode);
