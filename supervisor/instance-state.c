/* The string tables of the instance state machine's vocabulary (instance-state.h) and the
 * translation of fine states into the coarse public ones. Pure data; non-logging. */
#include "instance-state.h"
#include "instance.h"

static const char *const instance_state_table[_INSTANCE_STATE_MAX] = {
        [INSTANCE_STOPPED] = "stopped",   [INSTANCE_STARTING] = "starting", [INSTANCE_RUNNING] = "running",
        [INSTANCE_STOPPING] = "stopping", [INSTANCE_EXITED] = "exited",     [INSTANCE_BACKOFF] = "backoff",
        [INSTANCE_FATAL] = "fatal",       [INSTANCE_COMPLETED] = "completed",
};

DEFINE_STRING_TABLE_LOOKUP(instance_state, InstanceState);

static const char *const instance_active_state_table[_INSTANCE_ACTIVE_STATE_MAX] = {
        [INSTANCE_INACTIVE] = "inactive", [INSTANCE_ACTIVATING] = "activating",
        [INSTANCE_ACTIVE] = "active",     [INSTANCE_DEACTIVATING] = "deactivating",
        [INSTANCE_FAILED] = "failed",
};

DEFINE_STRING_TABLE_LOOKUP(instance_active_state, InstanceActiveState);

static const char *const fatal_reason_table[_FATAL_REASON_MAX] = {
        [FATAL_NONE] = "none",     [FATAL_PERMANENT] = "permanent", [FATAL_BREAKER] = "breaker",
        [FATAL_POLICY] = "policy", [FATAL_RESOURCES] = "resources",
};

DEFINE_STRING_TABLE_LOOKUP(fatal_reason, FatalReason);

static const InstanceActiveState state_translation_table[_INSTANCE_STATE_MAX] = {
        [INSTANCE_STOPPED] = INSTANCE_INACTIVE,       [INSTANCE_STARTING] = INSTANCE_ACTIVATING,
        [INSTANCE_RUNNING] = INSTANCE_ACTIVE,         [INSTANCE_STOPPING] = INSTANCE_DEACTIVATING,
        [INSTANCE_EXITED] = INSTANCE_DEACTIVATING,    [INSTANCE_BACKOFF] = INSTANCE_ACTIVATING,
        [INSTANCE_FATAL] = INSTANCE_FAILED,           [INSTANCE_COMPLETED] = INSTANCE_INACTIVE,
};

InstanceActiveState instance_active_state(const Instance *i) {
        return state_translation_table[i->state];
}
