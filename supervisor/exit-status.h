/* What a worker's end means (DESIGN.md "Error classification"), as pure functions over plain
 * structs: no I/O, no clock, no logging. */
#pragma once

#include <stdbool.h>

#include "config.h"
#include "incident.h"
#include "macro.h"

typedef enum ExitCause {
        EXIT_CAUSE_EXITED,       /* exit(code) */
        EXIT_CAUSE_KILLED,       /* killed by a signal */
        EXIT_CAUSE_DUMPED,       /* killed by a signal, core dumped */
        EXIT_CAUSE_SPAWN_FAILED, /* fork(), setup in the child, or exec failed: see errno/stage */
        _EXIT_CAUSE_MAX,
        _EXIT_CAUSE_INVALID = -EINVAL,
} ExitCause;

/* Where in the child's setup a spawn failed. */
typedef enum SpawnStage {
        SPAWN_STAGE_FORK,
        SPAWN_STAGE_PGROUP,
        SPAWN_STAGE_CGROUP,
        SPAWN_STAGE_SIGNALS,
        SPAWN_STAGE_GROUPS,
        SPAWN_STAGE_USER,
        SPAWN_STAGE_RLIMIT,
        SPAWN_STAGE_CWD,
        SPAWN_STAGE_STDIO,
        SPAWN_STAGE_EXEC,
        _SPAWN_STAGE_MAX,
        _SPAWN_STAGE_INVALID = -EINVAL,
} SpawnStage;

/* Why vigild itself ended a worker it still wanted up: it stopped answering. */
typedef enum ExitVerdict {
        EXIT_VERDICT_NONE,
        EXIT_VERDICT_START_TIMEOUT, /* notify = true and no READY=1 within start_timeout */
        EXIT_VERDICT_WATCHDOG,      /* no WATCHDOG=1 within the watchdog interval */
        _EXIT_VERDICT_MAX,
        _EXIT_VERDICT_INVALID = -EINVAL,
} ExitVerdict;

typedef struct ExitInfo {
        ExitCause cause;
        int code;             /* exit code (EXITED) or signal number (KILLED, DUMPED) */
        int spawn_errno;      /* SPAWN_FAILED: positive errno */
        SpawnStage spawn_stage;
        bool oom_killed;      /* the cgroup's memory.events oom_kill rose during this run */
        bool sent_by_us;      /* vigild itself sent the signal that ended it (stop) */
        bool stopping;        /* the end happened while vigild wanted the instance down */
        ExitVerdict verdict;  /* vigild ended it as unresponsive (sent_by_us is set too) */
} ExitInfo;

typedef enum ExitClass {
        EXIT_CLASS_STOPPED,   /* an end vigild asked for: no restart, no failure */
        EXIT_CLASS_SUCCESS,   /* exit 0 */
        EXIT_CLASS_TRANSIENT, /* non-zero, non-permanent exit code */
        EXIT_CLASS_CRASH,     /* killed by a signal vigild did not send (transient) */
        EXIT_CLASS_RESOURCE,  /* OOM kill, or fork/exec EAGAIN/ENOMEM */
        EXIT_CLASS_PERMANENT, /* permanent exit code, or a spawn failure that retrying cannot fix */
        EXIT_CLASS_UNRESPONSIVE, /* ended by vigild for a missed READY=1 or WATCHDOG=1 (transient) */
        _EXIT_CLASS_MAX,
        _EXIT_CLASS_INVALID = -EINVAL,
} ExitClass;

/* Classifies one end of a worker. ret_reason (optional) gets a static description such as
 * "permanent exit code" or "exec failed" ("<stage> failed" for any spawn failure). */
ExitClass exit_status_classify(const ExitInfo *info, const WorkerConfig *w, const char **ret_reason);

/* Crash signals (SEGV, BUS, ABRT, ILL, FPE, SYS, TRAP, XCPU, XFSZ) give a HIGH-severity crash;
 * used for wording and, later, severity. */
bool exit_status_is_crash_signal(int signo) _pure_;

/* Formats e.g. "exited with code 78", "killed by SIGSEGV (core dumped)", "exec failed: No such
 * file or directory" into buf (128 bytes always suffice); with oom_killed, " after an OOM kill"
 * follows. Truncates rather than overflow a smaller buffer; size 0 writes nothing. Returns buf. */
char *exit_status_describe(const ExitInfo *info, char *buf, size_t size);

const char *exit_cause_to_string(ExitCause c) _pure_;
ExitCause exit_cause_from_string(const char *s) _pure_;
const char *exit_class_to_string(ExitClass c) _pure_;
ExitClass exit_class_from_string(const char *s) _pure_;
const char *exit_verdict_to_string(ExitVerdict v) _pure_;
ExitVerdict exit_verdict_from_string(const char *s) _pure_;
const char *spawn_stage_to_string(SpawnStage s) _pure_;
SpawnStage spawn_stage_from_string(const char *s) _pure_;

/* The incident event an end of this class gives, or _EVENT_KIND_INVALID for an end that is no
 * failure (stopped, success). */
EventKind exit_event_kind(ExitClass cls, const ExitInfo *info) _pure_;

/* The category of a failed end: permanent ends that say the worker was given bad input or
 * configuration (EX_USAGE, EX_DATAERR, EX_CONFIG) are "validation", other permanent ends and
 * exec failures "permanent", OOM and fork/exec shortages "resource", the rest "transient". */
Category exit_event_category(ExitClass cls, const ExitInfo *info) _pure_;

/* The end as a JSON object for an event's details, e.g. {"pid":12,"class":"crash",
 * "signal":"SEGV","core_dumped":true}; truncates rather than overflow (then "{}"). */
char *exit_status_details_json(const ExitInfo *info, ExitClass cls, int pid, char *buf, size_t size);
