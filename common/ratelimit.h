/* A token-bucket rate limit over plain data: `burst` events at once, refilled at `rate` per
 * second. Pure: the caller passes the time. Non-logging. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "time-util.h"

typedef struct RateLimit {
        unsigned burst;     /* bucket size */
        unsigned rate;      /* tokens added per second */
        uint64_t tokens_micro; /* current tokens, in millionths */
        usec_t last;        /* when tokens were last topped up */
        bool started;
        uint64_t n_suppressed; /* events refused so far */
} RateLimit;

#define RATELIMIT_INIT(b, r) ((RateLimit) { .burst = (b), .rate = (r) })

/* Takes one token if there is one: true if the event may pass, false (and n_suppressed counted)
 * if not. The bucket starts full at the first call. Time that goes backwards refills nothing;
 * any gap, however large, refills at most `burst`. A zero burst disables the limit (every
 * event passes); a zero rate never refills. */
bool ratelimit_below(RateLimit *rl, usec_t now);
