/* Implements the restart policy: what follows an end of each class under each restart mode,
 * the full-jitter exponential backoff, the jittered resource retry and the stability reset.
 * Owns the RestartDecision string table.
 * Pure (STYLE rule 14): the caller passes the random draw and the time in; nothing here reads
 * a clock or a random source, allocates or logs. Every delay saturates instead of overflowing. */
#include <math.h>

#include "restart-policy.h"

static const char *const restart_decision_table[_RESTART_DECISION_MAX] = {
        [RESTART_DECISION_RESTART] = "restart",
        [RESTART_DECISION_RESOURCE] = "resource",
        [RESTART_DECISION_COMPLETED] = "completed",
        [RESTART_DECISION_FATAL] = "fatal",
        [RESTART_DECISION_STOPPED] = "stopped",
        [RESTART_DECISION_START] = "start",
        [RESTART_DECISION_HELD] = "held",
};

DEFINE_STRING_TABLE_LOOKUP(restart_decision, RestartDecision);

typedef struct PolicyEntry {
        RestartDecision decision;
        const char *reason;
} PolicyEntry;

/* The whole policy, reviewable at a glance (DESIGN.md "Error classification"). */
static const PolicyEntry policy_table[_EXIT_CLASS_MAX][_RESTART_MODE_MAX] = {
        [EXIT_CLASS_STOPPED] = {
                [RESTART_ALWAYS] = { RESTART_DECISION_STOPPED, "stopped by vigild" },
                [RESTART_ON_FAILURE] = { RESTART_DECISION_STOPPED, "stopped by vigild" },
                [RESTART_NEVER] = { RESTART_DECISION_STOPPED, "stopped by vigild" },
        },
        [EXIT_CLASS_SUCCESS] = {
                [RESTART_ALWAYS] = { RESTART_DECISION_RESTART, "clean exit, restart=always" },
                [RESTART_ON_FAILURE] = { RESTART_DECISION_COMPLETED, "clean exit" },
                [RESTART_NEVER] = { RESTART_DECISION_COMPLETED, "clean exit" },
        },
        [EXIT_CLASS_TRANSIENT] = {
                [RESTART_ALWAYS] = { RESTART_DECISION_RESTART, "transient failure" },
                [RESTART_ON_FAILURE] = { RESTART_DECISION_RESTART, "transient failure" },
                [RESTART_NEVER] = { RESTART_DECISION_FATAL, "transient failure, restart=never" },
        },
        [EXIT_CLASS_CRASH] = {
                [RESTART_ALWAYS] = { RESTART_DECISION_RESTART, "crashed" },
                [RESTART_ON_FAILURE] = { RESTART_DECISION_RESTART, "crashed" },
                [RESTART_NEVER] = { RESTART_DECISION_FATAL, "crashed, restart=never" },
        },
        [EXIT_CLASS_UNRESPONSIVE] = {
                [RESTART_ALWAYS] = { RESTART_DECISION_RESTART, "unresponsive" },
                [RESTART_ON_FAILURE] = { RESTART_DECISION_RESTART, "unresponsive" },
                [RESTART_NEVER] = { RESTART_DECISION_FATAL, "unresponsive, restart=never" },
        },
        [EXIT_CLASS_RESOURCE] = {
                [RESTART_ALWAYS] = { RESTART_DECISION_RESOURCE, "resource shortage" },
                [RESTART_ON_FAILURE] = { RESTART_DECISION_RESOURCE, "resource shortage" },
                [RESTART_NEVER] = { RESTART_DECISION_FATAL, "resource shortage, restart=never" },
        },
        [EXIT_CLASS_PERMANENT] = {
                [RESTART_ALWAYS] = { RESTART_DECISION_FATAL, "permanent failure" },
                [RESTART_ON_FAILURE] = { RESTART_DECISION_FATAL, "permanent failure" },
                [RESTART_NEVER] = { RESTART_DECISION_FATAL, "permanent failure" },
        },
};

RestartDecision restart_policy_decide(ExitClass cls, const WorkerConfig *w, const char **ret_reason) {
        const PolicyEntry *e;

        assert(w);

        if (cls < 0 || cls >= _EXIT_CLASS_MAX || w->restart < 0 || w->restart >= _RESTART_MODE_MAX)
                return _RESTART_DECISION_INVALID;

        e = &policy_table[cls][w->restart];
        if (ret_reason)
                *ret_reason = e->reason;
        return e->decision;
}

bool restart_policy_counts_as_failure(ExitClass cls) {
        /* Resource shortages are the host's fault and stopped/clean ends no fault at all: none
         * of them may push a worker toward its breaker. */
        return cls == EXIT_CLASS_TRANSIENT || cls == EXIT_CLASS_CRASH || cls == EXIT_CLASS_UNRESPONSIVE;
}

bool restart_policy_breaker_failure(const RestartInput *in) {
        assert(in);

        if (in->stopping || !in->want_up)
                return false;
        if (in->trial)
                return in->cls != EXIT_CLASS_STOPPED;
        return restart_policy_counts_as_failure(in->cls);
}

bool restart_policy_trial_aborted(const RestartInput *in) {
        assert(in);

        return in->trial && (in->stopping || !in->want_up || in->cls == EXIT_CLASS_STOPPED);
}

RestartDecision restart_policy_conclude(const RestartInput *in, const char **ret_reason) {
        RestartDecision d;
        const char *reason = NULL;

        assert(in);
        assert(in->config);

        if (in->stopping || !in->want_up) {
                d = RESTART_DECISION_STOPPED;
                reason = in->stopping ? "vigild is stopping" : "not wanted";
        } else if (in->cls == EXIT_CLASS_STOPPED) {
                d = RESTART_DECISION_START;
                reason = "starting again";
        } else {
                d = restart_policy_decide(in->cls, in->config, &reason);
                if (d == RESTART_DECISION_RESTART && !in->breaker_closed) {
                        d = RESTART_DECISION_HELD;
                        reason = "crash loop, breaker open";
                }
        }
        if (d >= 0 && ret_reason)
                *ret_reason = reason;
        return d;
}

usec_t restart_policy_delay_cap(unsigned n, const BackoffConfig *c) {
        double d;
        usec_t cap;

        assert(c);

        if (n == 0)
                n = 1;

        /* Zero initial stays zero whatever the factor; also keeps 0 * inf from becoming NaN. */
        if (c->initial == 0 || c->max == 0)
                return 0;

        /* In double, a huge n or factor only reaches +inf, which the comparison below turns into
         * max; converting a double at or above 2^64 to usec_t would be undefined. */
        d = round((double) c->initial * pow(c->factor, (double) (n - 1)));
        if (isnan(d) || d >= (double) c->max)
                return c->max;
        if (d <= 0)
                return 0;

        /* (double) max may have rounded up past max, so clamp again in integers. */
        cap = (usec_t) d;
        return MIN(cap, c->max);
}

usec_t restart_policy_next_delay(unsigned n, const BackoffConfig *c, uint64_t random) {
        usec_t cap;

        assert(c);

        if (c->immediate_first && n <= 1)
                return 0;

        cap = restart_policy_delay_cap(n, c);
        if (cap == UINT64_MAX)
                return random;
        return random % (cap + 1);
}

/* The high 64 bits of the 128-bit product a * b, from 32-bit halves so that it needs no
 * __int128 on 32-bit targets. */
static uint64_t mul_high_u64(uint64_t a, uint64_t b) {
        uint64_t a_lo = (uint32_t) a, a_hi = a >> 32;
        uint64_t b_lo = (uint32_t) b, b_hi = b >> 32;
        uint64_t lo_lo = a_lo * b_lo;
        uint64_t hi_lo = a_hi * b_lo;
        uint64_t lo_hi = a_lo * b_hi;
        uint64_t hi_hi = a_hi * b_hi;
        uint64_t middle = (lo_lo >> 32) + (uint32_t) hi_lo + lo_hi;

        return hi_hi + (hi_lo >> 32) + (middle >> 32);
}

usec_t restart_policy_resource_delay(const WorkerConfig *w, uint64_t random) {
        usec_t base;

        assert(w);

        base = w->resource_retry;
        if (base == USEC_INFINITY)
                return USEC_INFINITY;

        /* base * (0.5 + random / 2^64): mul_high_u64(base, random) is base * random / 2^64,
         * uniform in [0, base), exact in integers. */
        return usec_add(base / 2, mul_high_u64(base, random));
}

bool restart_policy_should_reset(usec_t started_at, usec_t now, const BackoffConfig *c) {
        assert(c);

        /* An infinite reset_after means the backoff level never resets by itself. */
        if (c->reset_after == USEC_INFINITY)
                return false;

        return now >= usec_add(started_at, c->reset_after);
}
