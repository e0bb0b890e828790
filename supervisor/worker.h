/* A configured worker: its instances and its crash-loop breaker. The breaker's transitions
 * are decided by breaker.c (pure); this file arms its timer, logs its transitions and tells
 * the instances. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "breaker.h"
#include "config.h"
#include "instance.h"

typedef struct Manager Manager;

typedef struct Worker {
        Manager *manager;
        const WorkerConfig *config;  /* owned by the manager's Config */
        Instance **instances;
        unsigned n_instances;
        Breaker breaker;
        sd_event_source *breaker_timer;
        int breaker_instance;        /* the instance whose failure opened the breaker: its
                                      * incident carries the breaker's story; -1 none */
} Worker;

/* Creates the worker and its config->instances instances (all STOPPED). Non-logging. */
int worker_new(Manager *m, const WorkerConfig *c, Worker **ret);

/* Frees the worker and its instances; they must have no processes. Accepts NULL. */
Worker *worker_free(Worker *w);

void worker_start(Worker *w);
void worker_stop(Worker *w);

/* An instance of w failed (a failure as restart_policy_counts_as_failure() sees it). Records it
 * in the breaker and logs a transition. Returns true if restarts are still allowed (the
 * breaker is closed). */
bool worker_record_failure(Worker *w, Instance *i, usec_t now);

/* An instance asks to start: true if the breaker lets it (closed, or the half-open trial). */
bool worker_breaker_admit(Worker *w, bool *ret_trial);

/* The half-open trial instance stayed up trial_ok: close the breaker and restart the instances
 * held back by it. */
void worker_trial_succeeded(Worker *w);

/* The half-open trial was stopped on request: it proved nothing; the next start is the trial. */
void worker_trial_aborted(Worker *w);

/* Whether any instance of w has a process. */
bool worker_has_processes(const Worker *w) _pure_;

/* Takes over the breaker an earlier vigild saved, before the worker starts: an open breaker
 * stays open until its time is up (its timer armed), a half-open one admits one trial. */
void worker_restore_state(Worker *w, const StoreWorkerState *st);
