/* The TILT guard's decisions over plain data: how late a timer ran, whether the realtime and
 * monotonic clocks drifted apart, and until when verdicts stay suspended. No clock reads, no
 * logging, no event loop: manager.c feeds it the times and acts on its answers. */
#include <stdlib.h>

#include "tilt.h"

static const char *const tilt_cause_table[_TILT_CAUSE_MAX] = {
        [TILT_NONE] = "none",
        [TILT_LATE] = "late",
        [TILT_CLOCK_JUMP] = "clock-jump",
};

DEFINE_STRING_TABLE_LOOKUP(tilt_cause, TiltCause);

void tilt_init(Tilt *t, usec_t margin, usec_t settle) {
        *t = (Tilt) { .margin = margin, .settle = settle };
}

TiltCause tilt_observe(Tilt *t, usec_t due, usec_t now_mono, usec_t now_real, usec_t *ret_amount) {
        int64_t offset = (int64_t) (now_real - now_mono);
        TiltCause cause = TILT_NONE;
        usec_t amount = 0;

        if (t->have_offset) {
                int64_t d = offset - t->offset;
                usec_t jump = (usec_t) (d < 0 ? -d : d);

                if (jump > t->margin) {
                        cause = TILT_CLOCK_JUMP;
                        amount = jump;
                }
        }
        t->offset = offset;
        t->have_offset = true;

        if (cause == TILT_NONE && now_mono > due && now_mono - due > t->margin) {
                cause = TILT_LATE;
                amount = now_mono - due;
        }
        if (cause == TILT_NONE)
                return TILT_NONE;

        t->until = usec_add(now_mono, t->settle);
        t->n_tilts++;
        if (ret_amount)
                *ret_amount = amount;
        return cause;
}

bool tilt_active(const Tilt *t, usec_t now_mono) {
        return now_mono < t->until;
}
