/* The manager's side of probes: the ProbeEnv (probe children are reaped by their probe, never
 * as orphans), the host probes, and the starvation check behind every hang verdict. Logs only
 * what it cannot do. See manager-probes.h. */

#include <stdlib.h>

#include "hooks.h"
#include "log.h"
#include "manager-probes.h"
#include "manager.h"
#include "psi.h"

/* Pressure is re-read at most this often: avg10 moves slowly, and a storm of verdicts must
 * not become a storm of reads. */
#define STARVED_CACHE_USEC (1 * USEC_PER_SEC)

typedef struct ProbeChild {
        void (*reap)(void *userdata);
        void *userdata;
} ProbeChild;

static int env_child_watch(void *userdata, pid_t pid, void (*reap)(void *), void *reap_userdata) {
        Manager *m = userdata;
        ProbeChild *c = malloc(sizeof(ProbeChild));
        int r;

        if (!c)
                return -ENOMEM;
        *c = (ProbeChild) { .reap = reap, .userdata = reap_userdata };
        r = hashmap_put(m->probe_children, INT_TO_PTR(pid), c);
        if (r < 0) {
                free(c);
                return r;
        }
        return 0;
}

static void env_child_unwatch(void *userdata, pid_t pid) {
        Manager *m = userdata;

        free(hashmap_remove(m->probe_children, INT_TO_PTR(pid)));
}

bool manager_probes_owns_child(const Manager *m, pid_t pid) {
        return m->probe_children && hashmap_get(m->probe_children, INT_TO_PTR(pid));
}

bool manager_probes_reap_child(Manager *m, pid_t pid) {
        ProbeChild *c = m->probe_children ? hashmap_get(m->probe_children, INT_TO_PTR(pid)) : NULL;

        if (!c)
                return false;
        c->reap(c->userdata);   /* which unwatches it */
        return true;
}

int manager_probes_setup(Manager *m) {
        const char *dir = hooks_pressure_dir();

        m->probe_children = hashmap_new(&hash_ops_direct);
        if (!m->probe_children)
                return -ENOMEM;
        m->probe_env = (ProbeEnv) {
                .event = m->event,
                .pressure_dir = dir ?: PSI_DEFAULT_DIR,
                .child_watch = env_child_watch,
                .child_unwatch = env_child_unwatch,
                .userdata = m,
        };
        if (dir)
                log_notice("test hook VIGIL_TEST_PRESSURE_DIR: host pressure is read from %s", dir);
        return 0;
}

static void host_target(void *userdata, ProbeTarget *ret) {
        *ret = (ProbeTarget) { .instance = -1, .name = "host" };
}

int manager_probes_start(Manager *m) {
        const Config *c = m->config;
        int r;

        if (c->n_host_probes == 0)
                return 0;
        m->host_probes = calloc(c->n_host_probes, sizeof(ProbeRun *));
        if (!m->host_probes)
                return log_error_errno(-ENOMEM, "out of memory");
        for (size_t k = 0; k < c->n_host_probes; k++) {
                r = probe_run_new(&m->ctx, &c->host_probes[k], NULL, -1, host_target, m, &m->host_probes[k]);
                if (r < 0)
                        return log_error_errno(r, "cannot set up host probe %s: %m", c->host_probes[k].name);
                m->n_host_probes++;
                probe_run_start(m->host_probes[k]);
        }
        return 0;
}

void manager_probes_stop(Manager *m) {
        for (size_t k = 0; k < m->n_host_probes; k++)
                probe_run_stop(m->host_probes[k]);
}

void manager_probes_free(Manager *m) {
        for (size_t k = 0; k < m->n_host_probes; k++)
                probe_run_free(m->host_probes[k]);
        m->host_probes = mfree(m->host_probes);
        m->n_host_probes = 0;
        /* Every run is gone, and with it every child it watched. */
        hashmap_free(m->probe_children);
        m->probe_children = NULL;
}

bool manager_probes_host_starved(Manager *m, char *why, size_t size) {
        const DaemonConfig *d = &m->config->daemon;
        usec_t t = now(CLOCK_MONOTONIC);

        if (d->starved_some <= 0 && d->starved_full <= 0)
                return false;
        if (m->starved_checked_at == 0 || t - m->starved_checked_at >= STARVED_CACHE_USEC) {
                m->starved_checked_at = t;
                m->starved = psi_host_starved(m->probe_env.pressure_dir, d->starved_some, d->starved_full,
                                              m->starved_why, sizeof m->starved_why);
        }
        if (m->starved && why)
                (void) snprintf(why, size, "%s", m->starved_why);
        return m->starved;
}
