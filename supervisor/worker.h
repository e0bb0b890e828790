/* A configured worker: its instances and its crash-loop breaker, which the instances share.
 * A thin owner: what an instance does is instance.c's, what the breaker does crash-loop.c's;
 * this file makes them, starts and stops them together and lets the breaker's retries reach
 * the instances it held back. */
#pragma once

#include <stdbool.h>

#include "config.h"
#include "context.h"
#include "crash-loop.h"
#include "instance.h"

typedef struct Worker {
        const SupervisorContext *ctx;
        const WorkerConfig *config;  /* owned by the manager's Config */
        Instance **instances;
        unsigned n_instances;
        CrashLoop *crash_loop;
} Worker;

/* Creates the worker, its breaker and its config->instances instances (all STOPPED). ctx and
 * c must outlive it. Non-logging; -ENOMEM. */
int worker_new(const SupervisorContext *ctx, const WorkerConfig *c, Worker **ret);

/* Frees the worker and its instances; they must have no processes. Accepts NULL. */
Worker *worker_free(Worker *w);

void worker_start(Worker *w);
void worker_stop(Worker *w);

/* Takes over what an earlier vigild saved of its crash loops (the breaker, and each instance's
 * backoff level), before the worker starts. Logs what it restores and what it cannot read. */
void worker_restore_state(Worker *w);
