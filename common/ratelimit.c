/* Implements the token bucket of ratelimit.h. Owns nothing but the RateLimit fields it is
 * given. Pure: the caller passes the time; nothing here reads a clock, allocates or logs.
 * Tokens are counted in millionths so that refilling at `rate` per second is exact per
 * microsecond, and every product is bounded before it is formed, so no gap overflows. */
#include "macro.h"
#include "ratelimit.h"

#define TOKEN 1000000ULL   /* one token, in millionths */

static void ratelimit_refill(RateLimit *rl, uint64_t full, usec_t now) {
        usec_t elapsed;

        if (!rl->started) {
                rl->tokens_micro = full;
                rl->last = now;
                rl->started = true;
                return;
        }
        /* A clock that went backwards grants nothing, and `last` stays where it was, so the
         * same stretch of time is never counted twice. */
        if (now <= rl->last)
                return;
        elapsed = now - rl->last;
        rl->last = now;
        if (rl->tokens_micro >= full) {
                rl->tokens_micro = full;
                return;
        }
        /* One microsecond at `rate` tokens per second adds exactly `rate` millionths. */
        if (rl->rate > 0 && elapsed >= (full - rl->tokens_micro) / rl->rate)
                rl->tokens_micro = full;
        else
                rl->tokens_micro += elapsed * rl->rate;
}

bool ratelimit_below(RateLimit *rl, usec_t now) {
        assert(rl);

        if (rl->burst == 0)
                return true;

        ratelimit_refill(rl, (uint64_t) rl->burst * TOKEN, now);
        if (rl->tokens_micro < TOKEN) {
                rl->n_suppressed++;
                return false;
        }
        rl->tokens_micro -= TOKEN;
        return true;
}
