/* Reading and changing the incident store for vigilctl: listing, the story of one incident,
 * statistics, health counts, manual resolution. Part of the store module (the only code that
 * touches SQLite); the caller formats what it gets. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

typedef struct IncidentFilter {
        int open;                /* 1 open only, 0 resolved only, -1 both */
        const char *worker;      /* NULL: any */
        Severity min_severity;   /* _SEVERITY_INVALID: any */
        Category category;       /* _CATEGORY_INVALID: any */
        usec_t since, until;     /* opened in [since, until); 0: unbounded */
        unsigned limit;          /* 0: no limit */
} IncidentFilter;

#define INCIDENT_FILTER_ALL                                                                    \
        ((IncidentFilter) { .open = -1, .min_severity = _SEVERITY_INVALID, .category = _CATEGORY_INVALID })

typedef struct IncidentRow {
        uint64_t id;
        const char *worker;      /* NULL: vigild itself */
        int instance;            /* -1: none */
        const char *cause, *category, *error_type, *message, *details, *state;
        const char *probe;       /* a probe's incident: its name; else NULL */
        const char *resolution, *resolved_by, *note;   /* NULL while open */
        Severity severity;
        usec_t opened_at, last_seen, resolved_at;      /* resolved_at 0 while open */
        uint64_t occurrences, events_dropped;
} IncidentRow;

typedef struct EventRow {
        uint64_t seq;
        usec_t at;
        const char *kind, *message, *details;
        Severity severity;
        bool action;             /* a healing action: kind is its name, message its outcome */
        usec_t outcome_at;       /* actions: when the outcome was known; 0 while under way */
} EventRow;

/* Newest first. cb's row is valid during the call only; a negative return stops. */
int store_list_incidents(Store *s, const IncidentFilter *f, int (*cb)(const IncidentRow *row, void *userdata),
                         void *userdata);

/* The same list as one JSON array of objects, made by SQLite's JSON functions. */
int store_incidents_json(Store *s, const IncidentFilter *f, char **ret);

/* One incident: 1 and cb called once, 0 if there is no such id. */
int store_get_incident(Store *s, uint64_t id, int (*cb)(const IncidentRow *row, void *userdata), void *userdata);

/* Its story: events and healing actions (with their outcomes) in time order, from the
 * offset-th on (0: the first), at most limit (0: all). */
int store_list_events(Store *s, uint64_t id, uint64_t offset, uint64_t limit,
                      int (*cb)(const EventRow *row, void *userdata), void *userdata);

/* One incident with its events as one JSON object; -ENOENT for no such id. */
int store_incident_json(Store *s, uint64_t id, char **ret);

/* Resolves an open incident by hand, in one BEGIN IMMEDIATE transaction: -ENOENT for no such
 * id, -EALREADY if it is resolved already (a resolution is never overwritten). */
int store_resolve_manual(Store *s, uint64_t id, usec_t at, const char *by, const char *note);

typedef struct StoreStats {
        uint64_t incidents, occurrences;
        uint64_t open, open_critical;
        uint64_t resolved;
        double mean_time_to_resolve_usec;         /* over those resolved; 0 if none */
        uint64_t by_category[_CATEGORY_MAX];      /* incidents opened */
        uint64_t by_severity[_SEVERITY_MAX];
        usec_t first, last;                       /* the span the events cover */
} StoreStats;

/* Figures over incidents opened at or after since (0: all time), from the incidents alone (a
 * count of the events table would cost a pass over all of them). top_cb is called for the
 * workers with the most occurrences, most first, at most top_n of them. */
int store_stats(Store *s, usec_t since, StoreStats *ret, unsigned top_n,
                int (*top_cb)(const char *worker, uint64_t occurrences, void *userdata), void *userdata);

/* For the health verdict: open incidents, open CRITICAL ones, and those opened since `since`. */
int store_health_counts(Store *s, usec_t since, uint64_t *ret_open, uint64_t *ret_critical,
                        uint64_t *ret_opened_since);
