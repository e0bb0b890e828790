/* A worker: its instances and their shared crash-loop breaker (see worker.h). Owns both; the
 * breaker's retry callback walks the instances it holds back. Logs only what it restores. */
#include "log.h"
#include "worker.h"

static void retry_held_instances(void *userdata) {
        Worker *w = userdata;

        /* Half-open admits one trial: the first held instance takes it, the rest stay held
         * (instance_breaker_retry() asks the breaker, which says no to them). */
        for (unsigned k = 0; k < w->n_instances; k++)
                instance_breaker_retry(w->instances[k]);
}

int worker_new(const SupervisorContext *ctx, const WorkerConfig *c, Worker **ret) {
        Worker *w;
        int r;

        assert(ctx);
        assert(c);
        assert(ret);

        w = calloc(1, sizeof(Worker));
        if (!w)
                return -ENOMEM;
        w->ctx = ctx;
        w->config = c;
        r = crash_loop_new(ctx, c->name, &c->breaker, retry_held_instances, w, &w->crash_loop);
        if (r < 0)
                goto fail;
        w->instances = calloc(c->instances, sizeof(Instance *));
        if (!w->instances) {
                r = -ENOMEM;
                goto fail;
        }
        for (unsigned k = 0; k < c->instances; k++) {
                r = instance_new(ctx, c, w->crash_loop, k, &w->instances[k]);
                if (r < 0)
                        goto fail;
                w->n_instances++;
        }
        *ret = w;
        return 0;

fail:
        worker_free(w);
        return r;
}

Worker *worker_free(Worker *w) {
        if (!w)
                return NULL;
        for (unsigned k = 0; k < w->n_instances; k++)
                instance_free(w->instances[k]);
        free(w->instances);
        crash_loop_free(w->crash_loop);
        return mfree(w);
}

void worker_start(Worker *w) {
        for (unsigned k = 0; k < w->n_instances; k++)
                instance_start(w->instances[k]);
}

void worker_stop(Worker *w) {
        for (unsigned k = 0; k < w->n_instances; k++)
                instance_stop(w->instances[k]);
}

void worker_restore_state(Worker *w) {
        Recorder *recorder = w->ctx->recorder;
        const char *name = w->config->name;
        StoreWorkerState ws;
        int r;

        r = recorder_load_worker_state(recorder, name, &ws);
        if (r == -ENOTCONN)
                return;   /* no store: nothing to restore; logged already */
        if (r < 0)
                log_warning_errno(r, "cannot read the saved breaker of %s: %m; starting afresh", name);
        else if (r > 0)
                crash_loop_restore(w->crash_loop, &ws);

        for (unsigned k = 0; k < w->n_instances; k++) {
                Instance *i = w->instances[k];
                StoreInstanceState is;

                r = recorder_load_instance_state(recorder, name, k, &is);
                if (r < 0)
                        log_warning_errno(r, "cannot read the saved state of %s: %m; starting afresh", i->name);
                else if (r > 0 && (is.backoff_level > 0 || is.deaths > 0)) {
                        instance_restore_state(i, &is);
                        log_info("%s: restored backoff level %u, %u failure(s) since it last ran stably", i->name,
                                 is.backoff_level, is.deaths);
                }
        }
}
