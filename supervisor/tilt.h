/* The TILT guard (after redis sentinel's TILT mode): when vigild's own loop ran late, or the
 * realtime clock moved against the monotonic one, what vigild observed about timeouts cannot
 * be trusted, so timeout verdicts are suspended for a settle period while supervision goes on.
 * Pure state: every function takes the clocks as arguments; the caller logs and re-arms. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"
#include "time-util.h"

typedef enum TiltCause {
        TILT_NONE,
        TILT_LATE,        /* a timer fired later than the margin after its time */
        TILT_CLOCK_JUMP,  /* realtime - monotonic changed by more than the margin */
        _TILT_CAUSE_MAX,
        _TILT_CAUSE_INVALID = -EINVAL,
} TiltCause;

typedef struct Tilt {
        usec_t margin;
        usec_t settle;
        usec_t until;          /* CLOCK_MONOTONIC: verdicts suspended before this */
        bool have_offset;
        int64_t offset;        /* realtime - monotonic at the last observation */
        unsigned n_tilts;
} Tilt;

void tilt_init(Tilt *t, usec_t margin, usec_t settle);

/* Observes one timer that was due at `due` and runs at `now_mono` (realtime `now_real`).
 * Returns the cause when this observation starts (or extends) a TILT, else TILT_NONE; with
 * ret_amount (optional) set to the lateness or the size of the jump. */
TiltCause tilt_observe(Tilt *t, usec_t due, usec_t now_mono, usec_t now_real, usec_t *ret_amount);

/* Whether verdicts are suspended at now_mono. */
bool tilt_active(const Tilt *t, usec_t now_mono) _pure_;

const char *tilt_cause_to_string(TiltCause c) _pure_;
TiltCause tilt_cause_from_string(const char *s) _pure_;
