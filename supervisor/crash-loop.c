/* The crash-loop breaker at run time (see crash-loop.h). breaker.c is the only writer of the
 * Breaker; this file turns its answers into a timer, log lines, store records and retries.
 * Times are monotonic inside and saved as wall-clock times, so that a restarted vigild keeps
 * a breaker as it was. Never decides a transition itself. */
#include "crash-loop.h"
#include "log.h"
#include "parse-util.h"


#define log_loop(l, level, fmt, ...)                                                           \
        log_fields_internal((level), 0,                                                        \
                            &(const LogFields) { .message_id = LOG_MID_BREAKER,                \
                                                 .worker = (l)->name,                          \
                                                 .instance = -1 },                             \
                            "%s: " fmt, (l)->name, ##__VA_ARGS__)

int crash_loop_new(const SupervisorContext *ctx, const char *name, const BreakerConfig *config,
                   crash_loop_retry_t retry, void *userdata, CrashLoop **ret) {
        CrashLoop *l;

        assert(ctx);
        assert(name);
        assert(config);
        assert(ret);

        l = calloc(1, sizeof(CrashLoop));
        if (!l)
                return -ENOMEM;
        *l = (CrashLoop) {
                .ctx = ctx,
                .name = name,
                .config = config,
                .incident_instance = -1,
                .retry = retry,
                .userdata = userdata,
        };
        breaker_init(&l->breaker);
        *ret = l;
        return 0;
}

CrashLoop *crash_loop_free(CrashLoop *l) {
        if (!l)
                return NULL;
        sd_event_source_disable_unref(l->timer);
        return mfree(l);
}

BreakerState crash_loop_state(const CrashLoop *l) {
        return l->breaker.state;
}

static IncidentKey incident_key(const CrashLoop *l) {
        return (IncidentKey) { .worker = l->name, .instance = l->incident_instance, .cause = CAUSE_FAILURE };
}

/* Saved whenever it changes, monotonic times as wall-clock times. */
static void save(CrashLoop *l) {
        usec_t mono = now(CLOCK_MONOTONIC), rt = now(CLOCK_REALTIME);
        const Breaker *b = &l->breaker;
        StoreWorkerState st = { .times_opened = b->n_opened };

        if (!l->ctx->recorder)
                return;
        (void) snprintf(st.breaker_state, sizeof(st.breaker_state), "%s", breaker_state_to_string(b->state));
        for (unsigned k = 0; k < b->n_tally && k < STORE_FAILURES_MAX; k++) {
                /* Oldest first: the ring's oldest entry is at head - n. */
                usec_t t = b->tally[(b->tally_head + BREAKER_TALLY_MAX - b->n_tally + k) % BREAKER_TALLY_MAX];

                st.failures[st.n_failures++] = usec_sub_unsigned(rt, usec_sub_unsigned(mono, t));
        }
        if (b->state != BREAKER_CLOSED)
                st.opened_at = usec_sub_unsigned(rt, usec_sub_unsigned(mono, b->opened_at));
        recorder_save_worker_state(l->ctx->recorder, l->name, &st);
}

/* A transition is part of the incident of the instance that opened the breaker: opening
 * escalates it to CRITICAL; half-open and closed are steps in its story. */
static void record(CrashLoop *l, EventKind kind, const char *message) {
        IncidentKey k = incident_key(l);

        if (l->incident_instance < 0)
                return;
        (void) recorder_event(l->ctx->recorder, &k, &(const StoreEvent) {
                .kind = kind,
                .severity = _SEVERITY_INVALID,
                .category = _CATEGORY_INVALID,
                .message = message,
        });
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        CrashLoop *l = userdata;

        if (!breaker_tick(&l->breaker, l->config, now(CLOCK_MONOTONIC)))
                return 0;
        log_loop(l, LOG_WARNING, "breaker open -> half-open");
        record(l, EVENT_BREAKER_HALF_OPEN, "breaker half-open: one trial start");
        save(l);
        l->retry(l->userdata);
        return 0;
}

static void arm_timer(CrashLoop *l) {
        usec_t when = breaker_next_deadline(&l->breaker, l->config);
        int r;

        if (when == USEC_INFINITY)
                return;
        if (l->timer) {
                r = sd_event_source_set_time(l->timer, when);
                if (r >= 0)
                        r = sd_event_source_set_enabled(l->timer, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time(l->ctx->event, &l->timer, CLOCK_MONOTONIC, when, 10 * USEC_PER_MSEC, on_timer, l);
        if (r < 0)
                /* The instances it holds stay FATAL with "breaker open" as their reason, and the
                 * operator is told why nothing will try again by itself. */
                log_loop(l, LOG_CRIT, "cannot arm the breaker timer (%s); it stays open until vigild restarts",
                         strerror(-r));
}

void crash_loop_record_failure(CrashLoop *l, int instance, const char *instance_name, usec_t t) {
        const BreakerConfig *c = l->config;
        BreakerState old = l->breaker.state;
        char d[FORMAT_DURATION_MAX], o[FORMAT_DURATION_MAX], message[256];
        bool changed = false;

        (void) breaker_record_failure(&l->breaker, c, t, &changed);
        save(l);
        if (!changed)
                return;
        if (old == BREAKER_HALF_OPEN)
                (void) snprintf(message, sizeof(message), "breaker half-open -> open (trial failed); next trial in %s",
                                format_duration(o, sizeof(o), c->open_for));
        else
                (void) snprintf(message, sizeof(message),
                                "breaker closed -> open (%u failures within %s, last %s); next trial in %s",
                                breaker_failures_in_window(&l->breaker, c, t), format_duration(d, sizeof(d), c->window),
                                instance_name, format_duration(o, sizeof(o), c->open_for));
        log_loop(l, LOG_CRIT, "%s", message);
        l->incident_instance = instance;
        record(l, EVENT_BREAKER_OPEN, message);
        arm_timer(l);
}

bool crash_loop_admit(CrashLoop *l, bool *ret_trial) {
        BreakerState before = l->breaker.state;
        bool ok = breaker_admit(&l->breaker);

        *ret_trial = ok && before == BREAKER_HALF_OPEN;
        return ok;
}

void crash_loop_trial_succeeded(CrashLoop *l) {
        IncidentKey k = incident_key(l);

        if (!breaker_record_success(&l->breaker))
                return;
        log_loop(l, LOG_NOTICE, "breaker half-open -> closed (trial stayed up)");
        record(l, EVENT_BREAKER_CLOSED, "breaker closed: the trial stayed up");
        /* The crash loop is over: the incident the breaker escalated is resolved. */
        if (l->incident_instance >= 0)
                recorder_resolve(l->ctx->recorder, &k, RESOLUTION_AUTO, "breaker closed: the trial stayed up");
        save(l);
        l->retry(l->userdata);
}

void crash_loop_trial_aborted(CrashLoop *l) {
        breaker_trial_abort(&l->breaker);
}

void crash_loop_restore(CrashLoop *l, const StoreWorkerState *st) {
        usec_t mono = now(CLOCK_MONOTONIC), rt = now(CLOCK_REALTIME), failures[BREAKER_TALLY_MAX];
        BreakerState state = breaker_state_from_string(st->breaker_state);
        unsigned n = MIN(st->n_failures, BREAKER_TALLY_MAX), skip = st->n_failures - n;
        usec_t opened_at = 0;

        /* A time from before our clock's start comes out as 0: long past, for the window. */
        for (unsigned k = 0; k < n; k++)
                failures[k] = usec_sub_unsigned(mono, usec_sub_unsigned(rt, st->failures[skip + k]));
        if (state == BREAKER_OPEN)
                opened_at = usec_sub_unsigned(mono, usec_sub_unsigned(rt, st->opened_at));
        else if (state == BREAKER_HALF_OPEN)
                /* Half-open comes back with its deadline passed: the first start is the trial. */
                opened_at = usec_sub_unsigned(mono, l->config->open_for);
        breaker_restore(&l->breaker, state, failures, n, opened_at, st->times_opened);
        if (l->breaker.state != BREAKER_OPEN)
                return;
        if (breaker_tick(&l->breaker, l->config, mono))
                log_loop(l, LOG_WARNING, "breaker restored half-open: the next start is a trial");
        else {
                char d[FORMAT_DURATION_MAX];

                log_loop(l, LOG_CRIT, "breaker restored open; next trial in %s",
                         format_duration(d, sizeof(d), usec_sub_unsigned(breaker_next_deadline(&l->breaker, l->config), mono)));
                arm_timer(l);
        }
}
