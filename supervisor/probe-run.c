/* A probe running on one target: schedule, timeout, hysteresis, deferral and incidents. See
 * probe-run.h. The state has one writer, probe_run_set_state(). Logs the probe's transitions
 * (fired, level changed, recovered, cannot run, runs again, verdict deferred), once each, with
 * VIGIL_PROBE= and their own MESSAGE_IDs; never blocks (a kind that waits answers later). */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "escape.h"
#include "log.h"
#include "parse-util.h"
#include "probe-run.h"
#include "random-util.h"

#define log_probe(r, level, mid, fmt, ...)                                                         \
        log_fields_internal((level), 0,                                                            \
                            &(const LogFields) { .message_id = (mid),                              \
                                                 .worker = (r)->key.worker,                        \
                                                 .instance = (r)->key.instance,                    \
                                                 .probe = (r)->config->name },                     \
                            "%s: " fmt, (r)->name, ##__VA_ARGS__)

/* Samples need not be punctual: let the loop wake once for many of them. */
#define PROBE_ACCURACY_MAX_USEC (250 * USEC_PER_MSEC)
/* While a verdict is deferred, the host is asked again at the next sample. */

static const char *const probe_run_state_table[_PROBE_RUN_STATE_MAX] = {
        [PROBE_RUN_STOPPED] = "stopped",
        [PROBE_RUN_WAITING] = "waiting",
        [PROBE_RUN_SAMPLING] = "sampling",
};
DEFINE_STRING_TABLE_LOOKUP(probe_run_state, ProbeRunState);

static void probe_run_set_state(ProbeRun *r, ProbeRunState state) {
        if (r->state == state)
                return;
        if (state == PROBE_RUN_STOPPED) {
                probe_check_cancel(&r->check);
                if (r->timer)
                        (void) sd_event_source_set_enabled(r->timer, SD_EVENT_OFF);
        }
        log_fields_internal(LOG_DEBUG, 0,
                            &(const LogFields) { .worker = r->key.worker, .instance = r->key.instance,
                                                 .probe = r->config->name,
                                                 .old_state = probe_run_state_to_string(r->state),
                                                 .new_state = probe_run_state_to_string(state) },
                            "%s: probe %s -> %s", r->name, probe_run_state_to_string(r->state),
                            probe_run_state_to_string(state));
        r->state = state;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);

static void arm(ProbeRun *r, usec_t when) {
        usec_t accuracy = MIN(r->config->every / 10, PROBE_ACCURACY_MAX_USEC);
        int k;

        if (!r->timer) {
                k = sd_event_add_time(r->ctx->event, &r->timer, CLOCK_MONOTONIC, when, accuracy, on_timer, r);
                if (k >= 0)
                        (void) sd_event_source_set_description(r->timer, "probe");
        } else {
                k = sd_event_source_set_time(r->timer, when);
                if (k >= 0)
                        k = sd_event_source_set_enabled(r->timer, SD_EVENT_ONESHOT);
        }
        if (k < 0)
                /* Rare (no memory): the probe is blind until its target restarts. Say so. */
                log_probe(r, LOG_ERR, LOG_MID_PROBE_UNKNOWN, "cannot schedule the next sample: %s; probe paused",
                          strerror(-k));
}

static void schedule_next(ProbeRun *r) {
        usec_t t = now(CLOCK_MONOTONIC), next = usec_add(r->due, r->config->every);

        /* Fixed rate, unless a sample overran or the loop was late: then one interval from now. */
        if (next <= t)
                next = usec_add(t, r->config->every);
        r->due = next;
        probe_run_set_state(r, PROBE_RUN_WAITING);
        arm(r, next);
}

/* "status":"critical","value":...,...: the details of a probe event, as a JSON object. */
static void result_details(const ProbeRun *r, const ProbeResult *res, char *buf, size_t size) {
        char msg[PROBE_MESSAGE_MAX * 2], v[64] = "null", th[64] = "null";
        int n;

        (void) json_escape(msg, sizeof msg, res->message);
        if (!isnan(res->value))
                (void) snprintf(v, sizeof v, "%.17g", res->value);
        if (!isnan(res->threshold))
                (void) snprintf(th, sizeof th, "%.17g", res->threshold);
        n = snprintf(buf, size,
                     "{\"probe\":\"%s\",\"kind\":\"%s\",\"status\":\"%s\",\"value\":%s,\"threshold\":%s,"
                     "\"message\":%s,\"every_sec\":%.3f,\"fail_after\":%u,\"for_sec\":%.3f%s%s}",
                     r->config->name, r->ops->spec.kind, probe_status_to_string(res->status), v, th, msg,
                     (double) r->config->every / USEC_PER_SEC, r->config->fail_after,
                     (double) r->config->for_usec / USEC_PER_SEC, res->evidence[0] ? "," : "", res->evidence);
        if (n < 0 || (size_t) n >= size)
                /* The evidence did not fit: keep what identifies the result. */
                (void) snprintf(buf, size, "{\"probe\":\"%s\",\"kind\":\"%s\",\"status\":\"%s\",\"value\":%s,"
                                "\"threshold\":%s,\"message\":%s,\"evidence_dropped\":true}",
                                r->config->name, r->ops->spec.kind, probe_status_to_string(res->status), v, th,
                                msg);
}

static void record_fired(ProbeRun *r, const ProbeResult *res, bool changed) {
        char details[PROBE_EVIDENCE_MAX + 1024];
        EventKind kind = r->hysteresis.firing == PROBE_CRITICAL ? EVENT_PROBE_CRITICAL : EVENT_PROBE_WARNING;
        Severity sev;

        result_details(r, res, details, sizeof details);
        sev = recorder_event(r->ctx->recorder, &r->key, &(const StoreEvent) {
                .kind = kind,
                .probe = r->config->name,
                .severity = _SEVERITY_INVALID,
                .category = r->ops->category,
                .message = res->message,
                .details = details,
        });
        log_probe(r, severity_to_priority(sev), LOG_MID_PROBE_FIRED, "%s %s: %s",
                  changed ? "now" : "fired,", probe_status_to_string(r->hysteresis.firing), res->message);
}

static void handle_transitions(ProbeRun *r, unsigned t, const ProbeResult *res) {
        char note[PROBE_MESSAGE_MAX + 32], details[PROBE_EVIDENCE_MAX + 1024];

        if (t & PROBE_UNKNOWN_RECOVER) {
                recorder_resolve(r->ctx->recorder, &r->unknown_key, RESOLUTION_AUTO, "auto: probe runs again");
                log_probe(r, LOG_NOTICE, LOG_MID_PROBE_UNKNOWN, "probe runs again");
        }
        if (t & PROBE_UNKNOWN_FIRE) {
                result_details(r, res, details, sizeof details);
                (void) recorder_event(r->ctx->recorder, &r->unknown_key, &(const StoreEvent) {
                        .kind = EVENT_PROBE_UNKNOWN,
                        .probe = r->config->name,
                        .severity = _SEVERITY_INVALID,
                        .category = CATEGORY_TRANSIENT,
                        .message = res->message,
                        .details = details,
                });
                log_probe(r, LOG_WARNING, LOG_MID_PROBE_UNKNOWN, "probe cannot run (%u times in a row): %s",
                          r->hysteresis.unknown, res->message);
        }
        if (t & (PROBE_FIRE | PROBE_LEVEL_CHANGED))
                record_fired(r, res, t & PROBE_LEVEL_CHANGED);
        if (t & PROBE_RECOVER) {
                (void) snprintf(note, sizeof note, "auto: probe recovered: %s", res->message);
                recorder_resolve(r->ctx->recorder, &r->key, RESOLUTION_AUTO, note);
                log_probe(r, LOG_NOTICE, LOG_MID_PROBE_RECOVERED, "recovered: %s", res->message);
        }
}

/* A bad result that says "does not respond" on a host that cannot be trusted to let anything
 * respond (starved, or vigild's own loop late) is put off: neither counted nor ignored. */
static bool defer_verdict(ProbeRun *r, const ProbeResult *res) {
        char why[256] = "", d[FORMAT_DURATION_MAX], msg[512];
        usec_t until;

        if (!res->hang || !IN_SET(res->status, PROBE_WARNING, PROBE_CRITICAL))
                return false;
        if (r->ctx->verdict_allowed(r->ctx->userdata, r->verdict_due, r->deferred_since, &until, why, sizeof why))
                return false;

        r->deferrals++;
        if (r->deferred_since == 0) {
                r->deferred_since = now(CLOCK_MONOTONIC);
                (void) snprintf(msg, sizeof msg, "%s verdict deferred: %s (%s)", probe_status_to_string(res->status),
                                why, res->message);
                log_probe(r, LOG_WARNING, LOG_MID_VERDICT_DEFERRED, "%s", msg);
                if (recorder_has_open(r->ctx->recorder, &r->key))
                        (void) recorder_event(r->ctx->recorder, &r->key, &(const StoreEvent) {
                                .kind = EVENT_VERDICT_DEFERRED,
                                .probe = r->config->name,
                                .severity = _SEVERITY_INVALID,
                                .category = _CATEGORY_INVALID,
                                .message = msg,
                        });
        } else
                log_probe(r, LOG_DEBUG, LOG_MID_VERDICT_DEFERRED, "verdict still deferred (%s) for %s", why,
                          format_duration_approx(d, sizeof d, now(CLOCK_MONOTONIC) - r->deferred_since,
                                                 USEC_PER_SEC));
        return true;
}

void probe_run_handle_result(ProbeRun *r, const ProbeResult *res) {
        ProbeHysteresisRules rules = {
                .fail_after = r->config->fail_after,
                .recover_after = r->config->recover_after,
                .for_usec = r->config->for_usec,
        };
        char d[FORMAT_DURATION_MAX];
        unsigned t;

        r->samples++;
        if (r->verdict_due == 0)
                r->verdict_due = now(CLOCK_MONOTONIC);
        log_probe(r, LOG_DEBUG, NULL, "sample: %s %s", probe_status_to_string(res->status), res->message);
        if (res->no_verdict)
                return;
        if (defer_verdict(r, res))
                return;
        if (r->deferred_since != 0) {
                log_probe(r, LOG_NOTICE, LOG_MID_VERDICT_DEFERRED, "verdicts judged again after %s of deferral",
                          format_duration_approx(d, sizeof d, now(CLOCK_MONOTONIC) - r->deferred_since,
                                                 USEC_PER_MSEC));
                r->deferred_since = 0;
        }
        t = probe_hysteresis_update(&r->hysteresis, &rules, res->status, now(CLOCK_MONOTONIC));
        handle_transitions(r, t, res);
}

static void on_check_done(ProbeCheck *c, const ProbeResult *res, void *userdata) {
        ProbeRun *r = userdata;

        assert(r->state == PROBE_RUN_SAMPLING);
        /* An answer is not late because the sample took a while: only the loop's own lateness
         * (a timer's) may tell TILT anything. */
        r->verdict_due = now(CLOCK_MONOTONIC);
        probe_run_handle_result(r, res);
        schedule_next(r);
}

static void sample(ProbeRun *r) {
        ProbeTarget target = { .instance = -1 };
        ProbeResult res;
        int k;

        r->target(r->target_userdata, &target);
        /* Another process than the one the kind learnt about: trends start afresh. */
        if (target.started_at != r->target_started_at) {
                if (r->target_started_at != 0 && r->ops->reset)
                        r->ops->reset(&r->check, false);
                r->target_started_at = target.started_at;
        }

        r->verdict_due = r->due;
        k = probe_check_start(&r->check, &target, &res);
        if (k > 0) {
                probe_run_set_state(r, PROBE_RUN_SAMPLING);
                arm(r, usec_add(now(CLOCK_MONOTONIC), r->config->timeout));
                return;
        }
        probe_run_handle_result(r, &res);
        schedule_next(r);
}

static void sample_timed_out(ProbeRun *r) {
        char d[FORMAT_DURATION_MAX];
        ProbeResult res;

        probe_check_cancel(&r->check);
        probe_result_init(&res);
        res.status = r->ops->timeout_status;
        res.hang = res.status != PROBE_UNKNOWN;
        probe_result_message(&res, "no answer within %s",
                             format_duration_approx(d, sizeof d, r->config->timeout, USEC_PER_MSEC));
        probe_run_handle_result(r, &res);
        schedule_next(r);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        ProbeRun *r = userdata;

        switch (r->state) {
        case PROBE_RUN_WAITING:
                r->due = usec;
                sample(r);
                break;
        case PROBE_RUN_SAMPLING:
                r->verdict_due = usec;
                sample_timed_out(r);
                break;
        case PROBE_RUN_STOPPED:
                break;
        default:
                assert_not_reached();
        }
        return 0;
}

void probe_run_start(ProbeRun *r) {
        usec_t offset;

        if (r->state != PROBE_RUN_STOPPED)
                return;
        /* An incident an earlier vigild left open (adopted by the store once it connected):
         * the run must be able to recover it. */
        if (!r->adopted) {
                r->adopted = true;
                if (r->hysteresis.firing == PROBE_OK && recorder_has_open(r->ctx->recorder, &r->key))
                        probe_hysteresis_assume_firing(&r->hysteresis, PROBE_WARNING);
                if (recorder_has_open(r->ctx->recorder, &r->unknown_key))
                        r->hysteresis.unknown_firing = true;
        }
        /* Anywhere in the first interval: instances started together must not sample together. */
        offset = r->config->every > 1 ? random_u64() % r->config->every : 0;
        r->due = usec_add(now(CLOCK_MONOTONIC), offset);
        probe_run_set_state(r, PROBE_RUN_WAITING);
        arm(r, r->due);
}

void probe_run_stop(ProbeRun *r) {
        probe_run_set_state(r, PROBE_RUN_STOPPED);
        r->deferred_since = 0;
}

int probe_run_new(const SupervisorContext *ctx, const ProbeConfig *config, const char *worker, int instance,
                  ProbeRunTargetFunc target, void *target_userdata, ProbeRun **ret) {
        _cleanup_free_ ProbeRun *r = NULL;
        const ProbeOps *ops;
        int k;

        assert(ctx);
        assert(config);
        assert(target);

        ops = probe_ops_find(config->kind);
        if (!ops)
                return -EOPNOTSUPP;
        r = calloc(1, sizeof(ProbeRun));
        if (!r)
                return -ENOMEM;
        *r = (ProbeRun) {
                .ctx = ctx,
                .config = config,
                .ops = ops,
                .target = target,
                .target_userdata = target_userdata,
        };
        if (worker && !(r->worker = strdup(worker)))
                return -ENOMEM;
        if ((worker && instance >= 0 ? asprintf(&r->name, "%s:%d/%s", worker, instance, config->name)
             : worker                ? asprintf(&r->name, "%s/%s", worker, config->name)
                                     : asprintf(&r->name, "host/%s", config->name)) < 0) {
                r->name = NULL;
                free(r->worker);
                return -ENOMEM;
        }
        r->key = (IncidentKey) { .worker = r->worker, .instance = instance, .cause = CAUSE_PROBE,
                                 .probe = config->name };
        r->unknown_key = r->key;
        r->unknown_key.cause = CAUSE_PROBE_UNKNOWN;
        k = probe_check_init(&r->check, ops, config, ctx->probe_env, on_check_done, r);
        if (k < 0) {
                free(r->name);
                free(r->worker);
                return k;
        }
        *ret = TAKE_PTR(r);
        return 0;
}

ProbeRun *probe_run_free(ProbeRun *r) {
        if (!r)
                return NULL;
        probe_check_release(&r->check);
        sd_event_source_disable_unref(r->timer);
        free(r->name);
        free(r->worker);
        return mfree(r);
}
