/* vigild's one logging path: structured entries to the journal (MESSAGE_ID per event kind,
 * VIGIL_WORKER, VIGIL_INSTANCE, OLD_STATE, NEW_STATE), or "level: message" lines on stderr
 * in the foreground or where no journal is reachable. The log target and level are the only
 * process-wide state besides arg_* (STYLE: only arg_* and the log target are global). */
#pragma once

#include <stdbool.h>
#include <syslog.h>

#include "macro.h"

typedef enum LogTarget {
        LOG_TARGET_AUTO,    /* journal if its socket exists, else stderr */
        LOG_TARGET_JOURNAL,
        LOG_TARGET_STDERR,
        _LOG_TARGET_MAX,
        _LOG_TARGET_INVALID = -EINVAL,
} LogTarget;

/* MESSAGE_IDs, one per kind of event, so operators can filter with journalctl MESSAGE_ID=. */
#define LOG_MID_INSTANCE_STATE "5f0d7c1c8a2e4b7e9a4c3f2b1d0e9a01"
#define LOG_MID_PROCESS_EXIT   "5f0d7c1c8a2e4b7e9a4c3f2b1d0e9a02"
#define LOG_MID_BREAKER        "5f0d7c1c8a2e4b7e9a4c3f2b1d0e9a03"
#define LOG_MID_SPAWN_FAILED   "5f0d7c1c8a2e4b7e9a4c3f2b1d0e9a04"
#define LOG_MID_DAEMON         "5f0d7c1c8a2e4b7e9a4c3f2b1d0e9a05"
#define LOG_MID_UNRESPONSIVE   "5f0d7c1c8a2e4b7e9a4c3f2b1d0e9a06"
#define LOG_MID_TILT           "5f0d7c1c8a2e4b7e9a4c3f2b1d0e9a07"
#define LOG_MID_STORE          "5f0d7c1c8a2e4b7e9a4c3f2b1d0e9a08"
#define LOG_MID_PROBE_FIRED    "5f0d7c1c8a2e4b7e9a4c3f2b1d0e9a09" /* WARNING or CRITICAL past hysteresis */
#define LOG_MID_PROBE_RECOVERED "5f0d7c1c8a2e4b7e9a4c3f2b1d0e9a0a"
#define LOG_MID_PROBE_UNKNOWN  "5f0d7c1c8a2e4b7e9a4c3f2b1d0e9a0b" /* cannot run, or runs again */
#define LOG_MID_VERDICT_DEFERRED "5f0d7c1c8a2e4b7e9a4c3f2b1d0e9a0c" /* host starved: hang verdict put off */

/* Structured fields of one entry; every member is optional (NULL / -1). */
typedef struct LogFields {
        const char *message_id;
        const char *worker;
        int instance;
        const char *old_state;
        const char *new_state;
        const char *probe;
} LogFields;

#define LOG_FIELDS_NONE ((const LogFields) { .instance = -1 })

void log_setup(LogTarget target, int max_level);
int log_get_max_level(void);
LogTarget log_get_target(void);

/* Logs one entry. error is a positive or negative errno (0 for none) made available to %m.
 * Returns -abs(error), so that callers can write "return log_error_errno(r, ...)". */
int log_fields_internal(int level, int error, const LogFields *fields, const char *format, ...)
        _printf_(4, 5);

#define log_full_errno(level, error, ...) log_fields_internal((level), (error), &LOG_FIELDS_NONE, __VA_ARGS__)
#define log_full(level, ...) (void) log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)
#define log_crit(...) log_full(LOG_CRIT, __VA_ARGS__)

#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, (error), __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, (error), __VA_ARGS__)
#define log_crit_errno(error, ...) log_full_errno(LOG_CRIT, (error), __VA_ARGS__)

const char *log_target_to_string(LogTarget t) _pure_;
LogTarget log_target_from_string(const char *s) _pure_;
