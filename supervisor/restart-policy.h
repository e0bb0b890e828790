/* Restart decisions and delays as pure functions (STYLE rule 14): they take the worker's
 * config, counters, `now` and a random draw as inputs and never read a clock, a random
 * source or anything else. Non-logging. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "exit-status.h"
#include "time-util.h"

typedef enum RestartDecision {
        RESTART_DECISION_RESTART,  /* restart after the backoff delay; counts toward backoff */
        RESTART_DECISION_RESOURCE, /* retry after restart_policy_resource_delay(); counts toward nothing */
        RESTART_DECISION_COMPLETED,/* clean end under on-failure or never */
        RESTART_DECISION_FATAL,    /* give up until an operator acts */
        RESTART_DECISION_STOPPED,  /* vigild asked for this end */
        _RESTART_DECISION_MAX,
        _RESTART_DECISION_INVALID = -EINVAL,
} RestartDecision;

/* What to do after an end of the given class under w->restart. ret_reason (optional) gets a
 * static string. An out-of-range class or mode gives _RESTART_DECISION_INVALID. */
RestartDecision restart_policy_decide(ExitClass cls, const WorkerConfig *w, const char **ret_reason);

/* Whether this end counts as a failure for the crash-loop breaker. */
bool restart_policy_counts_as_failure(ExitClass cls) _pure_;

/* Full-jitter backoff: the n-th consecutive restart (n >= 1) waits
 * random % (min(max, initial * factor^(n-1)) + 1) usec; with immediate_first, n == 1 waits 0.
 * n == 0 is treated as 1. Never exceeds c->max. */
usec_t restart_policy_next_delay(unsigned n, const BackoffConfig *c, uint64_t random);

/* The cap before jitter for the n-th restart: min(max, initial * factor^(n-1)). */
usec_t restart_policy_delay_cap(unsigned n, const BackoffConfig *c) _pure_;

/* Resource waits: retry after resource_retry scaled by a factor drawn in [0.5, 1.5), exactly
 * resource_retry / 2 + resource_retry * random / 2^64; saturates at USEC_INFINITY. */
usec_t restart_policy_resource_delay(const WorkerConfig *w, uint64_t random);

/* Whether an instance that started at started_at and is still up at now has been stable long
 * enough for its backoff level to reset: now >= started_at + reset_after (saturating). An
 * infinite reset_after never resets. */
bool restart_policy_should_reset(usec_t started_at, usec_t now, const BackoffConfig *c) _pure_;

const char *restart_decision_to_string(RestartDecision d) _pure_;
RestartDecision restart_decision_from_string(const char *s) _pure_;
