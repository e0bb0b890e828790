/* A worker's crash-loop breaker at run time: the Breaker (breaker.c decides every transition
 * from plain data), the timer that half-opens it, the log lines an operator sees (opening is
 * critical: giving up is never silent), its place in the incident store (the incident of the
 * instance whose failure opened it carries its story; the state is saved so a restarted vigild
 * goes on with it) and the call back to the instances it holds when it half-opens or closes.
 * The same object will serve the per-action breakers. Logs. */
#pragma once

#include <stdbool.h>

#include "breaker.h"
#include "config.h"
#include "context.h"
#include "store.h"

/* Called when the breaker half-opened or closed: instances held back may try to start. */
typedef void (*crash_loop_retry_t)(void *userdata);

/* Written only by crash-loop.c (and the Breaker inside only by breaker.c); public so that
 * status can read it and tests can drive its timer. */
typedef struct CrashLoop {
        const SupervisorContext *ctx;
        const char *name;
        const BreakerConfig *config;
        Breaker breaker;
        sd_event_source *timer;      /* OPEN: half-opens it at opened_at + open_for */
        int incident_instance;       /* the instance whose failure opened it; -1: none */
        crash_loop_retry_t retry;
        void *userdata;
} CrashLoop;

/* name and config are borrowed and must outlive it (the worker's). Non-logging; -ENOMEM. */
int crash_loop_new(const SupervisorContext *ctx, const char *name, const BreakerConfig *config,
                   crash_loop_retry_t retry, void *userdata, CrashLoop **ret);

/* Frees, with its timer. Accepts NULL; returns NULL. */
CrashLoop *crash_loop_free(CrashLoop *l);

/* An instance asks to start: true if the breaker lets it (closed, or the one half-open
 * trial, in which case *ret_trial is set). */
bool crash_loop_admit(CrashLoop *l, bool *ret_trial);

/* A failure of instance number `instance` (named instance_name in messages) at `now`. Logs an
 * opening and escalates that instance's incident. */
void crash_loop_record_failure(CrashLoop *l, int instance, const char *instance_name, usec_t now);

/* The half-open trial stayed up trial_ok: the breaker closes, the incident it escalated is
 * resolved and the held instances start. */
void crash_loop_trial_succeeded(CrashLoop *l);

/* The half-open trial was stopped on request: the next start is the trial. */
void crash_loop_trial_aborted(CrashLoop *l);

BreakerState crash_loop_state(const CrashLoop *l) _pure_;

/* Takes over the breaker an earlier vigild saved, before any instance starts: an open breaker
 * stays open until its time is up, a half-open one admits one trial. */
void crash_loop_restore(CrashLoop *l, const StoreWorkerState *st);
