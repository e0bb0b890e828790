/* The progress probe: "alive but stuck". A worker reports a counter that advances as work gets
 * done (X_VIGIL_PROGRESS=) and heartbeats (WATCHDOG=1); a counter that stays put while the
 * heartbeats continue is a hang the watchdog cannot see. Silence (no heartbeat either) is not
 * judged here: that is the watchdog's verdict. Reads only the instance's reports, kept by
 * supervisor/ from the notify socket: no I/O, never blocks, non-logging. */

#include <inttypes.h>
#include <string.h>

#include "probe-progress.h"

static int progress_check_config(ConfigParser *p, const config_setting_t *g, const ProbeConfig *pc,
                                 bool cgroups_off) {
        const config_setting_t *f = config_setting_get_member(g, "for");

        /* One stuck sample means nothing (the work item may just be long): how long is the
         * operator's call, and must be made. */
        if (!f)
                return config_keys_fail(p, g, "missing required key \"for\": how long the counter may stand "
                                        "still while heartbeats continue");
        if (pc->for_usec == 0)
                return config_keys_fail(p, f, "must be greater than 0 for probe kind \"progress\"");
        return 0;
}

void probe_progress_judge(const ProbeConfig *pc, ProgressState *s, const ProbeReports *reports, usec_t now,
                          ProbeResult *r) {
        bool baseline = !s->has_value, heartbeat;
        double stuck, beat_ago;

        heartbeat = reports && reports->heartbeat_at > 0 &&
                    (!s->sampled || reports->heartbeat_at > s->sampled_at);
        r->threshold = (double) pc->for_usec / USEC_PER_SEC;
        if (!reports || !reports->has_progress) {
                r->no_verdict = true;
                probe_result_message(r, "no X_VIGIL_PROGRESS= reported yet");
                goto done;
        }

        stuck = (double) usec_sub_unsigned(now, reports->progress_at) / USEC_PER_SEC;
        beat_ago = reports->heartbeat_at > 0
                           ? (double) usec_sub_unsigned(now, reports->heartbeat_at) / USEC_PER_SEC
                           : NAN;
        r->value = stuck;
        probe_result_evidence(r, "\"progress\":%" PRIu64 ",\"unchanged_sec\":%.3f", reports->progress,
                              stuck);
        if (!isnan(beat_ago))
                probe_result_evidence(r, "\"last_heartbeat_sec\":%.3f", beat_ago);
        else
                probe_result_evidence(r, "\"last_heartbeat_sec\":null");
        probe_result_evidence(r, "\"heartbeat_since_last_sample\":%s", heartbeat ? "true" : "false");

        if (baseline) {
                /* The first value seen of this process: nothing to compare with yet. */
                r->no_verdict = true;
                probe_result_message(r, "X_VIGIL_PROGRESS at %" PRIu64 " (first sample)", reports->progress);
        } else if (reports->progress != s->value) {
                r->status = PROBE_OK;
                probe_result_message(r, "X_VIGIL_PROGRESS advanced from %" PRIu64 " to %" PRIu64, s->value,
                                     reports->progress);
        } else if (heartbeat) {
                r->status = PROBE_CRITICAL;
                r->hang = true;
                probe_result_message(r, "no progress for %.0fs (X_VIGIL_PROGRESS stuck at %" PRIu64
                                     ") while heartbeats continue", stuck, reports->progress);
        } else {
                r->no_verdict = true;
                probe_result_message(r,
                                     "X_VIGIL_PROGRESS stuck at %" PRIu64 " and no heartbeat since the last "
                                     "sample: silence is the watchdog's to judge",
                                     reports->progress);
        }
        s->has_value = true;
        s->value = reports->progress;
done:
        s->sampled = true;
        s->sampled_at = now;
}

static int progress_check(ProbeCheck *c, const ProbeTarget *t, ProbeResult *ret) {
        probe_progress_judge(c->config, c->state, t->reports, now(CLOCK_MONOTONIC), ret);
        return 0;
}

static void progress_reset(ProbeCheck *c, bool done) {
        ProgressState *s = c->state;

        *s = (ProgressState) {};
}

const ProbeOps probe_progress_ops = {
        .spec = {
                .kind = "progress",
                .check = progress_check_config,
                .scopes = PROBE_SCOPE_INSTANCE,
                .threshold_units = 0,
                .default_every = 10 * USEC_PER_SEC,
                .default_timeout = 1 * USEC_PER_SEC,
        },
        .category = CATEGORY_TRANSIENT,
        .state_size = sizeof(ProgressState),
        .timeout_status = PROBE_UNKNOWN,
        .check = progress_check,
        .reset = progress_reset,
};
