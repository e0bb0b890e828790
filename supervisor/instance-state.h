/* The vocabulary of the instance state machine, apart from the Instance itself, so that what
 * observes instances (the context's callbacks, status summaries) can name their states without
 * depending on instance.h. The string tables live in instance.c. */
#pragma once

#include <errno.h>

#include "macro.h"

typedef enum InstanceState {
        INSTANCE_STOPPED,    /* no process, none wanted or not started yet */
        INSTANCE_STARTING,   /* spawned; running at READY=1 or once start_secs have passed */
        INSTANCE_RUNNING,
        INSTANCE_STOPPING,   /* stop signal sent; waiting for the process (and cgroup) to end */
        INSTANCE_EXITED,     /* main process ended; waiting for the rest of its cgroup to go */
        INSTANCE_BACKOFF,    /* waiting to restart (backoff delay or resource wait) */
        INSTANCE_FATAL,      /* given up: permanent error, or the crash-loop breaker is open */
        INSTANCE_COMPLETED,  /* ended cleanly under on-failure / never */
        _INSTANCE_STATE_MAX,
        _INSTANCE_STATE_INVALID = -EINVAL,
} InstanceState;

/* Coarse public states (STYLE rule 13), for summaries. */
typedef enum InstanceActiveState {
        INSTANCE_INACTIVE,
        INSTANCE_ACTIVATING,
        INSTANCE_ACTIVE,
        INSTANCE_DEACTIVATING,
        INSTANCE_FAILED,
        _INSTANCE_ACTIVE_STATE_MAX,
        _INSTANCE_ACTIVE_STATE_INVALID = -EINVAL,
} InstanceActiveState;

typedef enum FatalReason {
        FATAL_NONE,
        FATAL_PERMANENT,     /* permanent exit code or spawn failure: an operator must act */
        FATAL_BREAKER,       /* the crash-loop breaker is open: retried when it half-opens */
        FATAL_POLICY,        /* restart = never */
        FATAL_RESOURCES,     /* vigild itself could not go on (a timer or watch it could not arm) */
        _FATAL_REASON_MAX,
        _FATAL_REASON_INVALID = -EINVAL,
} FatalReason;

/* Whether an instance in this state may have processes (or a cgroup still holding some). */
static inline bool instance_state_has_processes(InstanceState s) {
        return s == INSTANCE_STARTING || s == INSTANCE_RUNNING || s == INSTANCE_STOPPING || s == INSTANCE_EXITED;
}

const char *instance_state_to_string(InstanceState s) _pure_;
InstanceState instance_state_from_string(const char *s) _pure_;
const char *instance_active_state_to_string(InstanceActiveState s) _pure_;
InstanceActiveState instance_active_state_from_string(const char *s) _pure_;
const char *fatal_reason_to_string(FatalReason r) _pure_;
FatalReason fatal_reason_from_string(const char *s) _pure_;
