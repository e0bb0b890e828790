/* The health verdict over the incident store: whether vigil and what it watches are healthy,
 * degraded or unhealthy, from counts the caller gathered. vigilctl health gives it, and the
 * control socket's health verb will give the same one. A pure function; non-logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* As monitoring plugins expect it: vigilctl health exits with the verdict. */
typedef enum HealthVerdict {
        HEALTH_HEALTHY = 0,
        HEALTH_DEGRADED = 1,
        HEALTH_UNHEALTHY = 2,
        HEALTH_UNKNOWN = 3,
} HealthVerdict;

typedef struct HealthInput {
        uint64_t open;               /* incidents open */
        uint64_t open_critical;      /* of them CRITICAL */
        uint64_t opened_recently;    /* opened in the last 24 h */
        bool vigild_alive;           /* a live vigild holds the runtime lock */
        bool store_degraded;         /* vigild cannot write the store */
        uint64_t max_open;           /* more than this open: degraded */
        uint64_t max_opened_recently;
} HealthInput;

/* Unhealthy if a CRITICAL incident is open or no vigild runs; degraded if more than max_open
 * are open, more than max_opened_recently were opened in 24 h, or the store is degraded;
 * healthy otherwise. why (the caller's buffer of size > 0 bytes) gets the reasons joined by
 * "; " (or a summary when healthy), truncated to fit and always terminated. */
HealthVerdict health_verdict(const HealthInput *in, char *why, size_t size);
