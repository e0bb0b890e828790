/* An instance's probes: one ProbeRun per probe of its worker, sampling while the instance is
 * RUNNING and paused otherwise (their incidents stay open across restarts: the new process may
 * have the same problem), and the snapshot of the instance each sample is given. Called by
 * instance.c only; logs nothing of its own (the runs log their transitions). */

#include "instance-internal.h"

static void instance_probe_target(void *userdata, ProbeTarget *ret) {
        Instance *i = userdata;

        *ret = (ProbeTarget) {
                .worker = i->config->name,
                .instance = (int) i->index,
                .name = i->name,
                .pid = i->main_alive ? i->pid : 0,
                .cgroup_path = i->cgroup_path,
                .started_at = i->started_at,
                .has_user = i->config->has_user,
                .uid = i->config->uid,
                .gid = i->config->gid,
                .groups = i->config->supplementary_gids,
                .n_groups = i->config->n_supplementary_gids,
                .reports = &i->reports,
        };
}

int instance_probes_new(Instance *i) {
        const WorkerConfig *c = i->config;
        int r;

        if (c->n_probes == 0)
                return 0;
        i->probes = calloc(c->n_probes, sizeof(ProbeRun *));
        if (!i->probes)
                return -ENOMEM;
        for (size_t k = 0; k < c->n_probes; k++) {
                r = probe_run_new(i->ctx, &c->probes[k], c->name, (int) i->index, instance_probe_target, i,
                                  &i->probes[k]);
                if (r < 0)
                        return r;
                i->n_probes++;
        }
        return 0;
}

void instance_probes_free(Instance *i) {
        for (size_t k = 0; k < i->n_probes; k++)
                probe_run_free(i->probes[k]);
        i->probes = mfree(i->probes);
        i->n_probes = 0;
}

void instance_probes_follow_state(Instance *i, InstanceState old) {
        if (i->state == old)
                return;
        if (i->state == INSTANCE_RUNNING)
                for (size_t k = 0; k < i->n_probes; k++)
                        probe_run_start(i->probes[k]);
        else if (old == INSTANCE_RUNNING)
                for (size_t k = 0; k < i->n_probes; k++)
                        probe_run_stop(i->probes[k]);
}
