/* What an incident is, without any storage: the kinds of events vigild records, the incident
 * each kind belongs to (its cause), default severities and categories, and how repetition and
 * duration raise a severity. Pure functions and string tables; non-logging. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"
#include "time-util.h"

typedef enum Severity {
        SEVERITY_LOW,
        SEVERITY_MEDIUM,
        SEVERITY_HIGH,
        SEVERITY_CRITICAL,
        _SEVERITY_MAX,
        _SEVERITY_INVALID = -EINVAL,
} Severity;

typedef enum Category {
        CATEGORY_TRANSIENT,
        CATEGORY_RESOURCE,
        CATEGORY_VALIDATION,
        CATEGORY_PERMANENT,
        _CATEGORY_MAX,
        _CATEGORY_INVALID = -EINVAL,
} Category;

typedef enum IncidentState {
        INCIDENT_OPEN,
        INCIDENT_MITIGATING,  /* a healing action is under way (a restart is pending or running) */
        INCIDENT_ESCALATED,   /* healing gave up or cannot help: the breaker opened, a permanent end */
        INCIDENT_RESOLVED,
        _INCIDENT_STATE_MAX,
        _INCIDENT_STATE_INVALID = -EINVAL,
} IncidentState;

typedef enum Resolution {
        RESOLUTION_NONE,
        RESOLUTION_AUTO,      /* its cause went away (ran stably, breaker closed, store writable) */
        RESOLUTION_MANUAL,    /* an operator, with a note */
        RESOLUTION_OBSOLETE,  /* its worker is no longer configured */
        _RESOLUTION_MAX,
        _RESOLUTION_INVALID = -EINVAL,
} Resolution;

/* The problems an incident can be about: the part of its key besides worker and instance. */
typedef enum IncidentCause {
        CAUSE_FAILURE,        /* an instance ending badly: crash, failed exit, unresponsive, permanent */
        CAUSE_RESOURCE,       /* an instance waiting for memory or processes */
        CAUSE_STORE,          /* the incident store could not be written */
        CAUSE_STORE_CORRUPT,  /* the incident store was corrupt and was moved aside */
        CAUSE_PROBE,          /* a probe fired: WARNING or CRITICAL past its hysteresis */
        CAUSE_PROBE_UNKNOWN,  /* a probe could not run (its result was UNKNOWN) past fail_after */
        _CAUSE_MAX,
        _CAUSE_INVALID = -EINVAL,
} IncidentCause;

/* Which incident something belongs to: at most one is open per key. Built once by its owner
 * (an instance has one per cause) and passed by pointer; the strings are borrowed. */
typedef struct IncidentKey {
        const char *worker;   /* NULL: vigild itself, or the host (host probes) */
        int instance;         /* -1: none (the worker as a whole, vigild, the host) */
        IncidentCause cause;
        const char *probe;    /* the probe's name for CAUSE_PROBE and CAUSE_PROBE_UNKNOWN, else NULL */
} IncidentKey;

/* A key as a compound literal, for one call: &INCIDENT_KEY("api", 0, CAUSE_FAILURE). */
#define INCIDENT_KEY(w, i, c) ((const IncidentKey) { .worker = (w), .instance = (i), .cause = (c) })
#define INCIDENT_PROBE_KEY(w, i, c, p)                                                          \
        ((const IncidentKey) { .worker = (w), .instance = (i), .cause = (c), .probe = (p) })

typedef enum EventKind {
        EVENT_CRASH,          /* killed by a signal vigild did not send */
        EVENT_FAILED_EXIT,    /* non-zero exit, restarted */
        EVENT_UNRESPONSIVE,   /* missed READY=1 or WATCHDOG=1 */
        EVENT_PERMANENT_EXIT, /* permanent exit code: fatal */
        EVENT_EXEC_FAILED,    /* the program could not be started at all */
        EVENT_RESOURCE_WAIT,  /* OOM kill, or fork/exec EAGAIN/ENOMEM */
        EVENT_BREAKER_OPEN,
        EVENT_BREAKER_HALF_OPEN,
        EVENT_BREAKER_CLOSED,
        EVENT_RESTARTED,      /* a restart was done (an action on the incident) */
        EVENT_STORE_OUTAGE,
        EVENT_STORE_QUARANTINED,
        EVENT_PROBE_WARNING,  /* a probe fired at WARNING, or fell back to it from CRITICAL */
        EVENT_PROBE_CRITICAL, /* a probe fired at CRITICAL, or rose to it */
        EVENT_PROBE_UNKNOWN,  /* a probe could not run fail_after times in a row */
        EVENT_VERDICT_DEFERRED, /* a hang verdict was put off: the host was starved or the loop late */
        _EVENT_KIND_MAX,
        _EVENT_KIND_INVALID = -EINVAL,
} EventKind;

const char *severity_to_string(Severity s) _pure_;
Severity severity_from_string(const char *s) _pure_;   /* case-insensitive: "high", "HIGH" */
const char *category_to_string(Category c) _pure_;
Category category_from_string(const char *s) _pure_;
const char *incident_state_to_string(IncidentState s) _pure_;
IncidentState incident_state_from_string(const char *s) _pure_;
const char *resolution_to_string(Resolution r) _pure_;
Resolution resolution_from_string(const char *s) _pure_;
const char *incident_cause_to_string(IncidentCause c) _pure_;
IncidentCause incident_cause_from_string(const char *s) _pure_;
const char *event_kind_to_string(EventKind k) _pure_;
EventKind event_kind_from_string(const char *s) _pure_;

/* The journal priority of a severity: CRITICAL crit, HIGH err, MEDIUM warning, LOW notice. */
int severity_to_priority(Severity s) _const_;

/* The incident an event of this kind belongs to, and the defaults for a new one: failed exit,
 * probe WARNING or probe unknown MEDIUM, crash, unresponsive or probe CRITICAL HIGH, permanent
 * exit, exec failure or breaker open CRITICAL, resource wait LOW. A deferred verdict belongs to
 * the failures (a missed WATCHDOG=1) unless the caller records it under a probe's key. */
IncidentCause event_kind_cause(EventKind k) _const_;
Severity event_kind_severity(EventKind k) _const_;
Category event_kind_category(EventKind k) _const_;

/* Kinds that are something going wrong, counted as occurrences of their incident. The others
 * (restarted, the breaker's transitions, a deferred verdict) are steps in its story; a step can still raise the
 * incident's severity (the breaker opening makes it CRITICAL). */
bool event_kind_is_occurrence(EventKind k) _const_;

/* The severity an incident has after `occurrences` occurrences over `open_for`: its highest
 * event severity, raised one step at 10 occurrences or an hour open, and another at 100
 * occurrences or a day open; never above CRITICAL and never below `base`. */
Severity incident_severity(Severity base, uint64_t occurrences, usec_t open_for) _const_;
