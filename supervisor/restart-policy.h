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
        RESTART_DECISION_START,    /* stopped by vigild but still wanted: start again at once */
        RESTART_DECISION_HELD,     /* would restart, but the crash-loop breaker is open */
        _RESTART_DECISION_MAX,
        _RESTART_DECISION_INVALID = -EINVAL,
} RestartDecision;

/* What to do after an end of the given class under w->restart. ret_reason (optional) gets a
 * static string. An out-of-range class or mode gives _RESTART_DECISION_INVALID. */
RestartDecision restart_policy_decide(ExitClass cls, const WorkerConfig *w, const char **ret_reason);

/* Whether an end of this class counts as a failure for the crash-loop breaker. */
bool restart_policy_counts_as_failure(ExitClass cls) _pure_;

/* Everything that decides what follows one end of an instance, once its processes are gone. */
typedef struct RestartInput {
        ExitClass cls;
        const WorkerConfig *config;
        bool want_up;           /* config or an operator wants the instance up */
        bool stopping;          /* vigild is stopping */
        bool trial;             /* this run was the breaker's half-open trial */
        bool breaker_closed;    /* the breaker's state once this end was counted */
} RestartInput;

/* Whether the end is a failure for the crash-loop breaker: never while vigild stops it or it
 * is no longer wanted; for the breaker's trial, any end vigild did not cause (a trial must
 * stay up to prove anything); otherwise restart_policy_counts_as_failure(). */
bool restart_policy_breaker_failure(const RestartInput *in) _pure_;

/* Whether the end of the breaker's trial proved nothing either way (vigild stopped it). */
bool restart_policy_trial_aborted(const RestartInput *in) _pure_;

/* The one decision about an end: STOPPED if vigild stops or the instance is not wanted; START
 * if vigild ended it but it is still wanted (a restart on request, leftovers removed);
 * otherwise restart_policy_decide()'s answer for the class and restart mode, with RESTART
 * turned into HELD while the breaker is not closed. ret_reason (optional) gets a static
 * string. Invalid input gives _RESTART_DECISION_INVALID. */
RestartDecision restart_policy_conclude(const RestartInput *in, const char **ret_reason);

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
