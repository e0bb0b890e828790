/* A circuit breaker for crash loops (per worker; later per action): closed -> open after
 * `failures` failures within `window` -> half-open after `open_for`, admitting one trial ->
 * closed once the trial has stayed up `trial_ok`, or open again when it fails.
 * The only writer of a Breaker's fields. Pure state: every function takes `now`, none reads a
 * clock, arms a timer or logs; the caller (crash-loop.c) arms timers at
 * breaker_next_deadline() and logs the transitions it is told about. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "time-util.h"

/* Failures remembered: `failures` is capped to this at parse time. */
#define BREAKER_TALLY_MAX CONFIG_BREAKER_FAILURES_MAX

typedef enum BreakerState {
        BREAKER_CLOSED,
        BREAKER_OPEN,
        BREAKER_HALF_OPEN,
        _BREAKER_STATE_MAX,
        _BREAKER_STATE_INVALID = -EINVAL,
} BreakerState;

typedef struct Breaker {
        BreakerState state;
        usec_t tally[BREAKER_TALLY_MAX]; /* ring of failure times (monotonic) */
        unsigned n_tally;                /* entries in the ring */
        unsigned tally_head;             /* next slot to write */
        usec_t opened_at;                /* when it last opened */
        bool trial_running;              /* HALF_OPEN: the one trial has been admitted */
        unsigned n_opened;               /* how many times it opened, for status */
} Breaker;

void breaker_init(Breaker *b);

/* Records a failure at now. Returns the new state; *ret_changed (optional) tells whether it
 * changed (CLOSED -> OPEN when the tally within the window reaches `failures`; HALF_OPEN -> OPEN
 * when the trial failed). A failure while OPEN is remembered but leaves opened_at alone.
 * failures == 0 disables the breaker: it never opens. */
BreakerState breaker_record_failure(Breaker *b, const BreakerConfig *c, usec_t now, bool *ret_changed);

/* Called when the trial instance has stayed up trial_ok: HALF_OPEN -> CLOSED (tally cleared).
 * Returns true if the state changed. */
bool breaker_record_success(Breaker *b);

/* Called at or after the deadline from breaker_next_deadline(): OPEN -> HALF_OPEN once now >=
 * opened_at + open_for. Returns true if the state changed. */
bool breaker_tick(Breaker *b, const BreakerConfig *c, usec_t now);

/* Whether a start may happen now: CLOSED always; OPEN never; HALF_OPEN once (the first call
 * that returns true admits the trial and marks it running). */
bool breaker_admit(Breaker *b);

/* Number of remembered failures t with now - window < t (all of them while now < window). */
unsigned breaker_failures_in_window(const Breaker *b, const BreakerConfig *c, usec_t now) _pure_;

/* When the breaker next changes by itself (OPEN: opened_at + open_for), else USEC_INFINITY. */
usec_t breaker_next_deadline(const Breaker *b, const BreakerConfig *c) _pure_;

/* Takes over a breaker an earlier vigild saved: failure times oldest first (on this process's
 * monotonic clock; only the newest BREAKER_TALLY_MAX are kept), how many times it opened,
 * and, for a breaker saved open or half-open, when it opened. Either comes back OPEN (a
 * half-open one with opened_at set so that breaker_tick() half-opens it at once): the first
 * start after the restore is the trial, as it would have been. */
void breaker_restore(Breaker *b, BreakerState state, const usec_t *failures, unsigned n_failures, usec_t opened_at,
                     unsigned n_opened);

/* The half-open trial was stopped on request: it proved nothing, so the next start admitted is
 * the trial again. No effect in any other state. */
void breaker_trial_abort(Breaker *b);

/* Operator reset: back to CLOSED with an empty tally; n_opened is kept as history. */
void breaker_reset(Breaker *b);

const char *breaker_state_to_string(BreakerState s) _pure_;
BreakerState breaker_state_from_string(const char *s) _pure_;
