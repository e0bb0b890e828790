/* A worker: its instances and its crash-loop breaker. breaker.c decides the breaker's
 * transitions from plain data; this file owns the breaker's timer, logs each transition at a
 * priority an operator will see (opening is critical: giving up is never silent) and lets the
 * instances held back by the breaker try again when it half-opens or closes. */
#include "log.h"
#include "manager.h"
#include "parse-util.h"
#include "worker.h"

#define log_worker(w, level, fmt, ...)                                                         \
        log_fields_internal((level), 0,                                                        \
                            &(const LogFields) { .message_id = LOG_MID_BREAKER,                \
                                                 .worker = (w)->config->name,                  \
                                                 .instance = -1 },                             \
                            "%s: " fmt, (w)->config->name, ##__VA_ARGS__)

int worker_new(Manager *m, const WorkerConfig *c, Worker **ret) {
        Worker *w;
        int r;

        assert(m);
        assert(c);
        assert(ret);

        w = calloc(1, sizeof(Worker));
        if (!w)
                return -ENOMEM;
        w->manager = m;
        w->config = c;
        breaker_init(&w->breaker);
        w->breaker_instance = -1;

        w->instances = calloc(c->instances, sizeof(Instance *));
        if (!w->instances) {
                worker_free(w);
                return -ENOMEM;
        }
        for (unsigned k = 0; k < c->instances; k++) {
                r = instance_new(w, k, &w->instances[k]);
                if (r < 0) {
                        worker_free(w);
                        return r;
                }
                w->n_instances++;
        }

        *ret = w;
        return 0;
}

Worker *worker_free(Worker *w) {
        if (!w)
                return NULL;
        for (unsigned k = 0; k < w->n_instances; k++)
                instance_free(w->instances[k]);
        free(w->instances);
        sd_event_source_disable_unref(w->breaker_timer);
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

bool worker_has_processes(const Worker *w) {
        for (unsigned k = 0; k < w->n_instances; k++)
                if (instance_has_processes(w->instances[k]))
                        return true;
        return false;
}

static void arm_breaker_timer(Worker *w);

/* The breaker goes to the store whenever it changes, its monotonic times as wall-clock times,
 * so that a restarted vigild keeps a crash loop's breaker as it was. */
static void save_breaker(Worker *w) {
        usec_t mono = now(CLOCK_MONOTONIC), rt = now(CLOCK_REALTIME);
        StoreWorkerState st = { .times_opened = w->breaker.n_opened };
        const Breaker *b = &w->breaker;

        if (!w->manager->recorder)
                return;
        (void) snprintf(st.breaker_state, sizeof(st.breaker_state), "%s", breaker_state_to_string(b->state));
        for (unsigned k = 0; k < b->n_tally && k < STORE_FAILURES_MAX; k++) {
                /* Oldest first: the ring's oldest entry is at head - n. */
                usec_t t = b->tally[(b->tally_head + BREAKER_TALLY_MAX - b->n_tally + k) % BREAKER_TALLY_MAX];

                st.failures[st.n_failures++] = usec_sub_unsigned(rt, usec_sub_unsigned(mono, t));
        }
        if (b->state != BREAKER_CLOSED)
                st.opened_at = usec_sub_unsigned(rt, usec_sub_unsigned(mono, b->opened_at));
        recorder_save_worker_state(w->manager->recorder, w->config->name, &st);
}

void worker_restore_state(Worker *w, const StoreWorkerState *st) {
        usec_t mono = now(CLOCK_MONOTONIC), rt = now(CLOCK_REALTIME);
        BreakerState state = breaker_state_from_string(st->breaker_state);
        Breaker *b = &w->breaker;

        breaker_init(b);
        /* A time from before our clock's start comes out as 0: long past, for the window. */
        for (unsigned k = 0; k < st->n_failures && k < BREAKER_TALLY_MAX; k++) {
                b->tally[b->tally_head] = usec_sub_unsigned(mono, usec_sub_unsigned(rt, st->failures[k]));
                b->tally_head = (b->tally_head + 1) % BREAKER_TALLY_MAX;
                b->n_tally++;
        }
        b->n_opened = st->times_opened;
        if (IN_SET(state, BREAKER_OPEN, BREAKER_HALF_OPEN)) {
                /* Half-open comes back open with its deadline passed: the first start is the
                 * trial, as it would have been. */
                b->state = BREAKER_OPEN;
                b->opened_at = state == BREAKER_OPEN ? usec_sub_unsigned(mono, usec_sub_unsigned(rt, st->opened_at))
                                                     : usec_sub_unsigned(mono, w->config->breaker.open_for);
                if (breaker_tick(b, &w->config->breaker, mono))
                        log_worker(w, LOG_WARNING, "breaker restored half-open: the next start is a trial");
                else {
                        char d[FORMAT_DURATION_MAX];

                        log_worker(w, LOG_CRIT, "breaker restored open; next trial in %s",
                                   format_duration(d, sizeof(d),
                                                   usec_sub_unsigned(breaker_next_deadline(b, &w->config->breaker), mono)));
                        arm_breaker_timer(w);
                }
        }
}

/* A breaker transition is part of the incident of the instance that opened it: opening
 * escalates that incident to CRITICAL; half-open and closed are steps in its story. */
static void record_breaker(Worker *w, EventKind kind, const char *message) {
        Recorder *r = w->manager->recorder;

        if (!r || w->breaker_instance < 0)
                return;
        (void) recorder_event(r, &(const StoreEvent) {
                .kind = kind,
                .worker = w->config->name,
                .instance = w->breaker_instance,
                .severity = _SEVERITY_INVALID,
                .category = _CATEGORY_INVALID,
                .message = message,
        });
}

static void retry_held_instances(Worker *w) {
        /* Half-open admits one trial: the first held instance takes it, the rest stay held. */
        for (unsigned k = 0; k < w->n_instances; k++) {
                if (w->breaker.state == BREAKER_HALF_OPEN && w->breaker.trial_running)
                        break;
                instance_breaker_retry(w->instances[k]);
        }
}

static int on_breaker_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Worker *w = userdata;

        if (!breaker_tick(&w->breaker, &w->config->breaker, now(CLOCK_MONOTONIC)))
                return 0;
        log_worker(w, LOG_WARNING, "breaker open -> half-open");
        record_breaker(w, EVENT_BREAKER_HALF_OPEN, "breaker half-open: one trial start");
        save_breaker(w);
        retry_held_instances(w);
        return 0;
}

static void arm_breaker_timer(Worker *w) {
        usec_t when = breaker_next_deadline(&w->breaker, &w->config->breaker);
        int r;

        if (when == USEC_INFINITY)
                return;
        if (w->breaker_timer) {
                r = sd_event_source_set_time(w->breaker_timer, when);
                if (r >= 0)
                        r = sd_event_source_set_enabled(w->breaker_timer, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time(w->manager->event, &w->breaker_timer, CLOCK_MONOTONIC, when,
                                      10 * USEC_PER_MSEC, on_breaker_timer, w);
        if (r < 0)
                log_error_errno(r, "%s: cannot arm the breaker timer, it stays open: %m", w->config->name);
}

bool worker_record_failure(Worker *w, Instance *i, usec_t t) {
        const BreakerConfig *c = &w->config->breaker;
        BreakerState old = w->breaker.state, state;
        char d[FORMAT_DURATION_MAX], o[FORMAT_DURATION_MAX];
        bool changed = false;

        state = breaker_record_failure(&w->breaker, c, t, &changed);
        save_breaker(w);
        if (changed) {
                char message[256];

                if (old == BREAKER_HALF_OPEN)
                        (void) snprintf(message, sizeof(message), "breaker half-open -> open (trial failed); next trial in %s",
                                        format_duration(o, sizeof(o), c->open_for));
                else
                        (void) snprintf(message, sizeof(message),
                                        "breaker closed -> open (%u failures within %s, last %s); next trial in %s",
                                        breaker_failures_in_window(&w->breaker, c, t),
                                        format_duration(d, sizeof(d), c->window), i->name,
                                        format_duration(o, sizeof(o), c->open_for));
                log_worker(w, LOG_CRIT, "%s", message);
                w->breaker_instance = (int) i->index;
                record_breaker(w, EVENT_BREAKER_OPEN, message);
                arm_breaker_timer(w);
        }
        return state == BREAKER_CLOSED;
}

bool worker_breaker_admit(Worker *w, bool *ret_trial) {
        BreakerState before = w->breaker.state;
        bool ok = breaker_admit(&w->breaker);

        *ret_trial = ok && before == BREAKER_HALF_OPEN;
        return ok;
}

void worker_trial_succeeded(Worker *w) {
        if (!breaker_record_success(&w->breaker))
                return;
        log_worker(w, LOG_NOTICE, "breaker half-open -> closed (trial stayed up)");
        record_breaker(w, EVENT_BREAKER_CLOSED, "breaker closed: the trial stayed up");
        /* The crash loop is over: the incident the breaker escalated is resolved. */
        if (w->manager->recorder && w->breaker_instance >= 0)
                recorder_resolve(w->manager->recorder, w->config->name, w->breaker_instance, CAUSE_FAILURE,
                                 RESOLUTION_AUTO, "breaker closed: the trial stayed up");
        save_breaker(w);
        retry_held_instances(w);
}

void worker_trial_aborted(Worker *w) {
        /* The trial was stopped on request: it proved nothing, so the next start is the trial. */
        if (w->breaker.state == BREAKER_HALF_OPEN)
                w->breaker.trial_running = false;
}
