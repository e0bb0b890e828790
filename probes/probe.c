/* The probe plumbing every kind shares: starting, cancelling and finishing a sample (the
 * "exactly once, never after cancel" contract lives here), judging a value against the
 * configured thresholds, and building a result's message and JSON evidence within their
 * bounds. Non-logging; never blocks. */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

static const char *const probe_status_table[_PROBE_STATUS_MAX] = {
        [PROBE_OK] = "ok",
        [PROBE_WARNING] = "warning",
        [PROBE_CRITICAL] = "critical",
        [PROBE_UNKNOWN] = "unknown",
};
DEFINE_STRING_TABLE_LOOKUP(probe_status, ProbeStatus);

int probe_check_init(ProbeCheck *c, const ProbeOps *ops, const ProbeConfig *config, const ProbeEnv *env,
                     ProbeCheckDone done, void *userdata) {
        assert(c);
        assert(ops);
        assert(config);

        *c = (ProbeCheck) {
                .ops = ops,
                .config = config,
                .settings = config->settings,
                .env = env,
                .done = done,
                .userdata = userdata,
        };
        if (ops->state_size > 0) {
                c->state = calloc(1, ops->state_size);
                if (!c->state)
                        return -ENOMEM;
        }
        return 0;
}

void probe_check_cancel(ProbeCheck *c) {
        if (!c->pending)
                return;
        c->pending = false;
        if (c->ops->cancel)
                c->ops->cancel(c);
}

void probe_check_release(ProbeCheck *c) {
        if (!c || !c->ops)
                return;
        probe_check_cancel(c);
        if (c->state && c->ops->reset)
                c->ops->reset(c, true);
        c->state = mfree(c->state);
}

int probe_check_start(ProbeCheck *c, const ProbeTarget *t, ProbeResult *ret) {
        int r;

        assert(c);
        assert(!c->pending);

        probe_result_init(ret);
        r = c->ops->check(c, t, ret);
        if (r > 0) {
                c->pending = true;
                return 1;
        }
        if (r < 0) {
                probe_result_init(ret);
                ret->status = PROBE_UNKNOWN;
                probe_result_message(ret, "%s probe cannot run: %s", c->ops->spec.kind, strerror(-r));
        }
        return 0;
}

void probe_check_done(ProbeCheck *c, const ProbeResult *r) {
        assert(c);
        assert(c->pending);

        c->pending = false;
        if (c->done)
                c->done(c, r, c->userdata);
}

void probe_result_init(ProbeResult *r) {
        r->status = PROBE_OK;
        r->no_verdict = false;
        r->hang = false;
        r->value = NAN;
        r->threshold = NAN;
        r->message[0] = 0;
        r->evidence[0] = 0;
}

void probe_result_judge(ProbeResult *r, const ProbeConfig *pc, double value, double percent) {
        bool lower = pc->spec && pc->spec->lower_is_worse;
        const Threshold *levels[] = { &pc->critical, &pc->warning };
        const ProbeStatus status[] = { PROBE_CRITICAL, PROBE_WARNING };

        r->value = value;
        r->status = PROBE_OK;
        for (size_t k = 0; k < ELEMENTSOF(levels); k++) {
                const Threshold *t = levels[k];
                double v = t->unit == THRESHOLD_PERCENT ? percent : value;

                if (!t->set)
                        continue;
                if (isnan(v)) {
                        r->status = PROBE_UNKNOWN;
                        r->threshold = t->value;
                        return;
                }
                if (isnan(r->threshold))
                        r->threshold = t->value;   /* the nearest one, as far as OK goes */
                if (threshold_crossed(t, v, lower)) {
                        r->status = status[k];
                        r->threshold = t->value;
                        return;
                }
        }
        /* OK: report the level that would be crossed first. */
        if (pc->warning.set)
                r->threshold = pc->warning.value;
}

void probe_result_message(ProbeResult *r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(r->message, sizeof r->message, fmt, ap);
        va_end(ap);
}

void probe_result_evidence(ProbeResult *r, const char *fmt, ...) {
        size_t n = strlen(r->evidence);
        va_list ap;
        int k;

        if (n > 0 && n + 1 < sizeof r->evidence)
                r->evidence[n] = ',';
        va_start(ap, fmt);
        k = vsnprintf(r->evidence + n + (n > 0), sizeof r->evidence - n - (n > 0), fmt, ap);
        va_end(ap);
        if (k < 0 || (size_t) k >= sizeof r->evidence - n - (n > 0))
                r->evidence[n] = 0;   /* did not fit: leave the object as it was */
}

const char *probe_format_value(char *buf, size_t size, double value, ThresholdUnit unit) {
        Threshold t = { .set = true, .unit = unit, .value = value };

        if (isnan(value)) {
                (void) snprintf(buf, size, "-");
                return buf;
        }
        return threshold_format(buf, size, &t);
}
