/* The health verdict: the thresholds that make vigil healthy, degraded or unhealthy, and the
 * reasons given for it. Owns no state; reads no clock, store or file (the caller passes the
 * counts in), and never logs. */

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "health.h"
#include "macro.h"

_printf_(3, 4) static void add_reason(char *buf, size_t size, const char *fmt, ...) {
        size_t n = strlen(buf);
        va_list ap;

        if (n > 0 && n + 2 < size) {
                memcpy(buf + n, "; ", 3);
                n += 2;
        }
        if (n >= size)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(buf + n, size - n, fmt, ap);
        va_end(ap);
}

HealthVerdict health_verdict(const HealthInput *in, char *why, size_t size) {
        HealthVerdict v = HEALTH_HEALTHY;

        assert(in);
        assert(why && size > 0);

        why[0] = 0;
        if (!in->vigild_alive) {
                v = HEALTH_UNHEALTHY;
                add_reason(why, size, "no vigild is running");
        }
        if (in->open_critical > 0) {
                v = HEALTH_UNHEALTHY;
                add_reason(why, size, "%" PRIu64 " CRITICAL incident(s) open", in->open_critical);
        }
        if (in->open > in->max_open) {
                v = MAX(v, HEALTH_DEGRADED);
                add_reason(why, size, "%" PRIu64 " incidents open (more than %" PRIu64 ")", in->open, in->max_open);
        }
        if (in->opened_recently > in->max_opened_recently) {
                v = MAX(v, HEALTH_DEGRADED);
                add_reason(why, size, "%" PRIu64 " opened in 24h (more than %" PRIu64 ")", in->opened_recently,
                           in->max_opened_recently);
        }
        if (in->store_degraded) {
                v = MAX(v, HEALTH_DEGRADED);
                add_reason(why, size, "the incident store cannot be written (vigild holds events in memory)");
        }
        if (v == HEALTH_HEALTHY)
                (void) snprintf(why, size, "%" PRIu64 " incident(s) open, %" PRIu64 " opened in 24h", in->open,
                                in->opened_recently);
        return v;
}
