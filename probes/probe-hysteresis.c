/* Hysteresis of probe results. See probe-hysteresis.h. Pure: no clock, no I/O, no logging. */

#include "probe-hysteresis.h"

static bool held(unsigned count, usec_t since, const ProbeHysteresisRules *rules, usec_t now) {
        return count >= rules->fail_after && usec_sub_unsigned(now, since) >= rules->for_usec;
}

unsigned probe_hysteresis_update(ProbeHysteresis *h, const ProbeHysteresisRules *rules, ProbeStatus status,
                                 usec_t now) {
        ProbeStatus level = PROBE_OK;
        unsigned t = 0;

        assert(h);
        assert(rules);
        assert(status >= 0 && status < _PROBE_STATUS_MAX);

        if (status == PROBE_UNKNOWN) {
                h->unknown++;
                if (!h->unknown_firing && h->unknown >= rules->fail_after) {
                        h->unknown_firing = true;
                        t |= PROBE_UNKNOWN_FIRE;
                }
                return t;
        }
        h->unknown = 0;
        if (h->unknown_firing) {
                h->unknown_firing = false;
                t |= PROBE_UNKNOWN_RECOVER;
        }

        if (status == PROBE_OK) {
                h->good++;
                h->not_critical++;
                h->bad = h->critical = 0;
        } else {
                if (h->bad++ == 0)
                        h->bad_since = now;
                h->good = 0;
                if (status == PROBE_CRITICAL) {
                        if (h->critical++ == 0)
                                h->critical_since = now;
                        h->not_critical = 0;
                } else {
                        h->critical = 0;
                        h->not_critical++;
                }
        }

        if (held(h->critical, h->critical_since, rules, now))
                level = PROBE_CRITICAL;
        else if (held(h->bad, h->bad_since, rules, now))
                level = PROBE_WARNING;

        switch (h->firing) {
        case PROBE_OK:
                if (level != PROBE_OK) {
                        h->firing = level;
                        t |= PROBE_FIRE;
                }
                break;
        case PROBE_WARNING:
                if (h->good >= rules->recover_after) {
                        h->firing = PROBE_OK;
                        t |= PROBE_RECOVER;
                } else if (level == PROBE_CRITICAL) {
                        h->firing = PROBE_CRITICAL;
                        t |= PROBE_LEVEL_CHANGED;
                }
                break;
        case PROBE_CRITICAL:
                if (h->good >= rules->recover_after) {
                        h->firing = PROBE_OK;
                        t |= PROBE_RECOVER;
                } else if (h->not_critical >= rules->recover_after && status != PROBE_CRITICAL) {
                        /* Better, not well: back to WARNING by the same count that recovers. */
                        h->firing = PROBE_WARNING;
                        t |= PROBE_LEVEL_CHANGED;
                }
                break;
        default:
                assert_not_reached();
        }
        return t;
}

void probe_hysteresis_assume_firing(ProbeHysteresis *h, ProbeStatus level) {
        assert(IN_SET(level, PROBE_WARNING, PROBE_CRITICAL));
        h->firing = level;
}
