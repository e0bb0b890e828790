/* Incident rules: string tables, default severities and categories per event kind, and the
 * raise of severity by repetition and duration. */

#include <strings.h>
#include <syslog.h>

#include "incident.h"

static const char *const severity_table[_SEVERITY_MAX] = {
        [SEVERITY_LOW] = "LOW",
        [SEVERITY_MEDIUM] = "MEDIUM",
        [SEVERITY_HIGH] = "HIGH",
        [SEVERITY_CRITICAL] = "CRITICAL",
};

const char *severity_to_string(Severity s) {
        if (s < 0 || s >= _SEVERITY_MAX)
                return NULL;
        return severity_table[s];
}

Severity severity_from_string(const char *s) {
        if (!s)
                return _SEVERITY_INVALID;
        for (Severity k = 0; k < _SEVERITY_MAX; k++)
                if (strcasecmp(severity_table[k], s) == 0)
                        return k;
        return _SEVERITY_INVALID;
}

static const char *const category_table[_CATEGORY_MAX] = {
        [CATEGORY_TRANSIENT] = "transient",
        [CATEGORY_RESOURCE] = "resource",
        [CATEGORY_VALIDATION] = "validation",
        [CATEGORY_PERMANENT] = "permanent",
};
DEFINE_STRING_TABLE_LOOKUP(category, Category);

static const char *const incident_state_table[_INCIDENT_STATE_MAX] = {
        [INCIDENT_OPEN] = "open",
        [INCIDENT_MITIGATING] = "mitigating",
        [INCIDENT_ESCALATED] = "escalated",
        [INCIDENT_RESOLVED] = "resolved",
};
DEFINE_STRING_TABLE_LOOKUP(incident_state, IncidentState);

static const char *const resolution_table[_RESOLUTION_MAX] = {
        [RESOLUTION_NONE] = NULL,
        [RESOLUTION_AUTO] = "auto",
        [RESOLUTION_MANUAL] = "manual",
        [RESOLUTION_OBSOLETE] = "obsolete",
};
DEFINE_STRING_TABLE_LOOKUP(resolution, Resolution);

static const char *const incident_cause_table[_CAUSE_MAX] = {
        [CAUSE_FAILURE] = "failure",
        [CAUSE_RESOURCE] = "resource",
        [CAUSE_STORE] = "store",
        [CAUSE_STORE_CORRUPT] = "store-corrupt",
        [CAUSE_PROBE] = "probe",
        [CAUSE_PROBE_UNKNOWN] = "probe-unknown",
};
DEFINE_STRING_TABLE_LOOKUP(incident_cause, IncidentCause);

static const char *const event_kind_table[_EVENT_KIND_MAX] = {
        [EVENT_CRASH] = "crash",
        [EVENT_FAILED_EXIT] = "failed-exit",
        [EVENT_UNRESPONSIVE] = "unresponsive",
        [EVENT_PERMANENT_EXIT] = "permanent-exit",
        [EVENT_EXEC_FAILED] = "exec-failed",
        [EVENT_RESOURCE_WAIT] = "resource-wait",
        [EVENT_BREAKER_OPEN] = "breaker-open",
        [EVENT_BREAKER_HALF_OPEN] = "breaker-half-open",
        [EVENT_BREAKER_CLOSED] = "breaker-closed",
        [EVENT_RESTARTED] = "restarted",
        [EVENT_STORE_OUTAGE] = "store-outage",
        [EVENT_STORE_QUARANTINED] = "store-quarantined",
        [EVENT_PROBE_WARNING] = "probe-warning",
        [EVENT_PROBE_CRITICAL] = "probe-critical",
        [EVENT_PROBE_UNKNOWN] = "probe-unknown",
        [EVENT_VERDICT_DEFERRED] = "verdict-deferred",
};
DEFINE_STRING_TABLE_LOOKUP(event_kind, EventKind);

int severity_to_priority(Severity s) {
        switch (s) {
        case SEVERITY_CRITICAL:
                return LOG_CRIT;
        case SEVERITY_HIGH:
                return LOG_ERR;
        case SEVERITY_MEDIUM:
                return LOG_WARNING;
        default:
                return LOG_NOTICE;
        }
}

IncidentCause event_kind_cause(EventKind k) {
        switch (k) {
        case EVENT_RESOURCE_WAIT:
                return CAUSE_RESOURCE;
        case EVENT_STORE_OUTAGE:
                return CAUSE_STORE;
        case EVENT_STORE_QUARANTINED:
                return CAUSE_STORE_CORRUPT;
        case EVENT_PROBE_WARNING:
        case EVENT_PROBE_CRITICAL:
                return CAUSE_PROBE;
        case EVENT_PROBE_UNKNOWN:
                return CAUSE_PROBE_UNKNOWN;
        default:
                /* The breaker belongs to the failures that opened it: it escalates their
                 * incident instead of opening one of its own. */
                return CAUSE_FAILURE;
        }
}

Severity event_kind_severity(EventKind k) {
        switch (k) {
        case EVENT_FAILED_EXIT:
        case EVENT_PROBE_WARNING:
        case EVENT_PROBE_UNKNOWN:
                return SEVERITY_MEDIUM;
        case EVENT_PROBE_CRITICAL:
        case EVENT_CRASH:
        case EVENT_UNRESPONSIVE:
        case EVENT_STORE_OUTAGE:
        case EVENT_STORE_QUARANTINED:
                return SEVERITY_HIGH;
        case EVENT_PERMANENT_EXIT:
        case EVENT_EXEC_FAILED:
        case EVENT_BREAKER_OPEN:
                return SEVERITY_CRITICAL;
        default:
                return SEVERITY_LOW;
        }
}

Category event_kind_category(EventKind k) {
        switch (k) {
        case EVENT_RESOURCE_WAIT:
        case EVENT_STORE_OUTAGE:
                return CATEGORY_RESOURCE;
        case EVENT_PERMANENT_EXIT:
        case EVENT_EXEC_FAILED:
        case EVENT_STORE_QUARANTINED:
                return CATEGORY_PERMANENT;
        default:
                return CATEGORY_TRANSIENT;
        }
}

bool event_kind_is_occurrence(EventKind k) {
        return !IN_SET(k, EVENT_BREAKER_OPEN, EVENT_BREAKER_HALF_OPEN, EVENT_BREAKER_CLOSED, EVENT_RESTARTED,
                       EVENT_VERDICT_DEFERRED);
}

Severity incident_severity(Severity base, uint64_t occurrences, usec_t open_for) {
        Severity s = base;

        if (s < 0 || s >= _SEVERITY_MAX)
                return _SEVERITY_INVALID;
        if (occurrences >= 10 || open_for >= USEC_PER_HOUR)
                s++;
        if (occurrences >= 100 || open_for >= USEC_PER_DAY)
                s++;
        return MIN(s, SEVERITY_CRITICAL);
}
