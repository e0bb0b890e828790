/* Implements the crash-loop circuit breaker: a ring of recent failure times and the
 * closed -> open -> half-open -> closed cycle over it. Owns the Breaker struct's fields and
 * the BreakerState string table; breaker_set_state() is the only writer of ->state.
 * Pure: every function takes `now`; nothing here reads a clock, arms a timer, allocates or
 * logs. The caller arms a timer at breaker_next_deadline() and logs the transitions it is
 * told about. */
#include <string.h>

#include "breaker.h"

static const char *const breaker_state_table[_BREAKER_STATE_MAX] = {
        [BREAKER_CLOSED] = "closed",
        [BREAKER_OPEN] = "open",
        [BREAKER_HALF_OPEN] = "half-open",
};

DEFINE_STRING_TABLE_LOOKUP(breaker_state, BreakerState);

static void tally_clear(Breaker *b) {
        memset(b->tally, 0, sizeof(b->tally));
        b->n_tally = 0;
        b->tally_head = 0;
}

static void tally_push(Breaker *b, usec_t t) {
        b->tally[b->tally_head] = t;
        b->tally_head = (b->tally_head + 1) % BREAKER_TALLY_MAX;
        if (b->n_tally < BREAKER_TALLY_MAX)
                b->n_tally++;
}

/* The single writer of ->state. Entering OPEN stamps opened_at and counts the opening; every
 * transition ends any trial, since a trial belongs to one HALF_OPEN period only. */
static void breaker_set_state(Breaker *b, BreakerState state, usec_t now) {
        if (state == BREAKER_OPEN) {
                b->opened_at = now;
                b->n_opened++;
        }
        if (state == BREAKER_CLOSED)
                tally_clear(b);

        b->trial_running = false;
        b->state = state;
}

void breaker_init(Breaker *b) {
        assert(b);

        *b = (Breaker) {
                .state = BREAKER_CLOSED,
        };
}

unsigned breaker_failures_in_window(const Breaker *b, const BreakerConfig *c, usec_t now) {
        unsigned n = 0;

        assert(b);
        assert(c);

        /* The ring holds the newest n_tally entries, ending just before tally_head. */
        for (unsigned i = 0; i < b->n_tally; i++) {
                usec_t t = b->tally[(b->tally_head + BREAKER_TALLY_MAX - 1 - i) % BREAKER_TALLY_MAX];

                /* "t > now - window", written so that now < window does not wrap around:
                 * then the window reaches back past 0 and every entry is inside. */
                if (now < c->window || t > now - c->window)
                        n++;
        }

        return n;
}

BreakerState breaker_record_failure(Breaker *b, const BreakerConfig *c, usec_t now, bool *ret_changed) {
        BreakerState old;
        unsigned threshold;

        assert(b);
        assert(c);

        old = b->state;
        tally_push(b, now);

        /* The ring cannot count past BREAKER_TALLY_MAX, so a larger threshold would never be
         * reached; the parser caps it, this keeps the breaker working if it did not. */
        threshold = MIN(c->failures, BREAKER_TALLY_MAX);

        switch (b->state) {
        case BREAKER_CLOSED:
                if (threshold > 0 && breaker_failures_in_window(b, c, now) >= threshold)
                        breaker_set_state(b, BREAKER_OPEN, now);
                break;

        case BREAKER_OPEN:
                /* Remembered for the window, but it must not push the half-open time back: a
                 * failure while open cannot come from an admitted start. */
                break;

        case BREAKER_HALF_OPEN:
                breaker_set_state(b, BREAKER_OPEN, now);
                break;

        default:
                assert_not_reached();
        }

        if (ret_changed)
                *ret_changed = b->state != old;
        return b->state;
}

bool breaker_record_success(Breaker *b) {
        assert(b);

        if (b->state != BREAKER_HALF_OPEN)
                return false;

        breaker_set_state(b, BREAKER_CLOSED, 0);
        return true;
}

bool breaker_tick(Breaker *b, const BreakerConfig *c, usec_t now) {
        assert(b);
        assert(c);

        if (b->state != BREAKER_OPEN || now < usec_add(b->opened_at, c->open_for))
                return false;

        breaker_set_state(b, BREAKER_HALF_OPEN, now);
        return true;
}

bool breaker_admit(Breaker *b) {
        assert(b);

        switch (b->state) {
        case BREAKER_CLOSED:
                return true;

        case BREAKER_OPEN:
                return false;

        case BREAKER_HALF_OPEN:
                if (b->trial_running)
                        return false;
                b->trial_running = true;
                return true;

        default:
                assert_not_reached();
        }
}

usec_t breaker_next_deadline(const Breaker *b, const BreakerConfig *c) {
        assert(b);
        assert(c);

        if (b->state != BREAKER_OPEN)
                return USEC_INFINITY;

        return usec_add(b->opened_at, c->open_for);
}

void breaker_reset(Breaker *b) {
        assert(b);

        /* n_opened survives: it is history for status, not state. */
        breaker_set_state(b, BREAKER_CLOSED, 0);
}

void breaker_restore(Breaker *b, BreakerState state, const usec_t *failures, unsigned n_failures, usec_t opened_at,
                     unsigned n_opened) {
        assert(b);
        assert(failures || n_failures == 0);

        breaker_init(b);
        for (unsigned k = 0; k < n_failures; k++)
                tally_push(b, failures[k]);
        b->n_opened = n_opened;
        if (IN_SET(state, BREAKER_OPEN, BREAKER_HALF_OPEN)) {
                /* Set directly: restoring is not an opening, so n_opened stays as saved. */
                b->state = BREAKER_OPEN;
                b->opened_at = opened_at;
        }
}

void breaker_trial_abort(Breaker *b) {
        assert(b);

        if (b->state == BREAKER_HALF_OPEN)
                b->trial_running = false;
}
