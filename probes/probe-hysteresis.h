/* Hysteresis of a probe's results, as a pure function over a small struct: a probe fires
 * after fail_after consecutive bad results that have lasted at least `for`, changes level
 * (WARNING <-> CRITICAL) by the same rules, and recovers after recover_after consecutive good
 * ones, so that one noisy sample neither opens nor closes an incident. UNKNOWN results (the
 * probe could not run) are no evidence either way about the target: they are counted apart
 * and, past fail_after, make a "cannot run" condition of their own that ends with the next
 * result that is not UNKNOWN. No clock reads, no I/O. */
#pragma once

#include <stdbool.h>

#include "probe.h"

typedef struct ProbeHysteresis {
        ProbeStatus firing;       /* OK: not firing; else the level of its incident */
        bool unknown_firing;      /* the "cannot run" condition is open */
        unsigned bad;             /* consecutive WARNING or CRITICAL results */
        unsigned critical;        /* consecutive CRITICAL results */
        unsigned good;            /* consecutive OK results */
        unsigned not_critical;    /* consecutive OK or WARNING results */
        unsigned unknown;         /* consecutive UNKNOWN results */
        usec_t bad_since;         /* the first of the current bad results */
        usec_t critical_since;
} ProbeHysteresis;

/* What one result did; several may happen at once (a result after UNKNOWNs can end the
 * "cannot run" condition and fire). */
typedef enum ProbeTransition {
        PROBE_FIRE = 1 << 0,            /* now firing at h->firing */
        PROBE_LEVEL_CHANGED = 1 << 1,   /* still firing, at a new level (h->firing) */
        PROBE_RECOVER = 1 << 2,         /* no longer firing */
        PROBE_UNKNOWN_FIRE = 1 << 3,    /* the probe cannot run */
        PROBE_UNKNOWN_RECOVER = 1 << 4, /* it runs again */
} ProbeTransition;

typedef struct ProbeHysteresisRules {
        unsigned fail_after;
        unsigned recover_after;
        usec_t for_usec;
} ProbeHysteresisRules;

/* Feeds one result taken at `now` (any monotonic clock); returns ProbeTransition flags. */
unsigned probe_hysteresis_update(ProbeHysteresis *h, const ProbeHysteresisRules *rules, ProbeStatus status,
                                 usec_t now);

/* Starts firing at `level` without evidence: an incident an earlier vigild left open. */
void probe_hysteresis_assume_firing(ProbeHysteresis *h, ProbeStatus level);
