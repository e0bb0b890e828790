/* The instance's side of the incident store (see instance-record.h): which event, action or
 * resolution each moment of an instance's life is, under which of its two incident keys.
 * Reads the instance, never changes its state machine; the counters it updates (deaths) are
 * the store's view of the instance, written only here and by instance.c's stable verdict. */
#include <syslog.h>

#include "instance-record.h"

static int exit_log_level(ExitClass cls) {
        switch (cls) {
        case EXIT_CLASS_STOPPED:
        case EXIT_CLASS_SUCCESS:
                return LOG_INFO;
        case EXIT_CLASS_TRANSIENT:
        case EXIT_CLASS_RESOURCE:
                return LOG_WARNING;
        case EXIT_CLASS_CRASH:
        case EXIT_CLASS_UNRESPONSIVE:
                return LOG_ERR;
        case EXIT_CLASS_PERMANENT:
                return LOG_CRIT;
        default:
                assert_not_reached();
        }
}

void instance_record_restart(Instance *i, bool trial) {
        Recorder *r = i->ctx->recorder;
        char message[128], details[96];

        if (!recorder_has_open(r, &i->failure_key))
                return;
        (void) snprintf(message, sizeof(message), "restarted as pid %d%s", (int) i->pid,
                        trial ? " (breaker trial)" : "");
        (void) snprintf(details, sizeof(details), "{\"pid\":%d,\"restart\":%u,\"trial\":%s}", (int) i->pid,
                        i->restarts, trial ? "true" : "false");
        (void) recorder_event(r, &i->failure_key, &(const StoreEvent) {
                .kind = EVENT_RESTARTED,
                .severity = _SEVERITY_INVALID,
                .category = _CATEGORY_INVALID,
                .message = message,
                .details = details,
        });
        /* Its outcome comes with the next end ("failed") or with a stable run ("worked"). */
        recorder_action(r, &i->failure_key, "restart", details);
}

void instance_record_deferred(Instance *i, const char *message) {
        Recorder *r = i->ctx->recorder;

        /* A step in the story of an incident that is open; without one, the journal has it. */
        if (!recorder_has_open(r, &i->failure_key))
                return;
        (void) recorder_event(r, &i->failure_key, &(const StoreEvent) {
                .kind = EVENT_VERDICT_DEFERRED,
                .severity = _SEVERITY_INVALID,
                .category = _CATEGORY_INVALID,
                .message = message,
        });
}

void instance_record_state(Instance *i) {
        recorder_save_instance_state(i->ctx->recorder, i->config->name, i->index,
                                     &(const StoreInstanceState) { .backoff_level = i->restarts,
                                                                   .deaths = i->deaths });
}

int instance_record_end(Instance *i, const char *desc) {
        Recorder *r = i->ctx->recorder;
        EventKind kind = exit_event_kind(i->last_class, &i->last_exit);
        char details[256];
        Severity sev;

        if (kind < 0 || !r)
                return exit_log_level(i->last_class);
        if (event_kind_is_occurrence(kind) && kind != EVENT_RESOURCE_WAIT) {
                i->deaths++;
                instance_record_state(i);
                /* The restart before this end did not help. */
                recorder_action_outcome(r, &i->failure_key, "failed");
        }
        sev = recorder_event(r, event_kind_cause(kind) == CAUSE_RESOURCE ? &i->resource_key : &i->failure_key,
                             &(const StoreEvent) {
                                     .kind = kind,
                                     .severity = _SEVERITY_INVALID,
                                     .category = exit_event_category(i->last_class, &i->last_exit),
                                     .message = desc,
                                     .details = exit_status_details_json(&i->last_exit, i->last_class,
                                                                         (int) i->pid, details, sizeof(details)),
                             });
        return severity_to_priority(sev);
}

void instance_record_stable(Instance *i, const char *note) {
        Recorder *r = i->ctx->recorder;

        recorder_action_outcome(r, &i->failure_key, "worked");
        recorder_resolve(r, &i->failure_key, RESOLUTION_AUTO, note);
        recorder_resolve(r, &i->resource_key, RESOLUTION_AUTO, note);
}

void instance_restore_state(Instance *i, const StoreInstanceState *st) {
        i->restarts = st->backoff_level;
        i->deaths = st->deaths;
}
