/* Implements what a worker's end means (DESIGN.md "Error classification"): the class that
 * drives the restart policy, a static reason and a human description for incidents.
 * Owns the string tables of ExitCause, ExitClass and SpawnStage.
 * Pure: no I/O, no clock, no logging, no allocation; exit_status_describe() writes only into
 * the caller's buffer and truncates rather than overflow it. */
#include <signal.h>
#include <stdarg.h>
#include <string.h>

#include "exit-status.h"

static const char *const exit_cause_table[_EXIT_CAUSE_MAX] = {
        [EXIT_CAUSE_EXITED] = "exited",
        [EXIT_CAUSE_KILLED] = "killed",
        [EXIT_CAUSE_DUMPED] = "dumped",
        [EXIT_CAUSE_SPAWN_FAILED] = "spawn-failed",
};

DEFINE_STRING_TABLE_LOOKUP(exit_cause, ExitCause);

static const char *const exit_class_table[_EXIT_CLASS_MAX] = {
        [EXIT_CLASS_STOPPED] = "stopped",
        [EXIT_CLASS_SUCCESS] = "success",
        [EXIT_CLASS_TRANSIENT] = "transient",
        [EXIT_CLASS_CRASH] = "crash",
        [EXIT_CLASS_RESOURCE] = "resource",
        [EXIT_CLASS_PERMANENT] = "permanent",
        [EXIT_CLASS_UNRESPONSIVE] = "unresponsive",
};

DEFINE_STRING_TABLE_LOOKUP(exit_class, ExitClass);

static const char *const exit_verdict_table[_EXIT_VERDICT_MAX] = {
        [EXIT_VERDICT_NONE] = "none",
        [EXIT_VERDICT_START_TIMEOUT] = "start-timeout",
        [EXIT_VERDICT_WATCHDOG] = "watchdog",
};

DEFINE_STRING_TABLE_LOOKUP(exit_verdict, ExitVerdict);

static const char *const spawn_stage_table[_SPAWN_STAGE_MAX] = {
        [SPAWN_STAGE_FORK] = "fork",
        [SPAWN_STAGE_PGROUP] = "pgroup",
        [SPAWN_STAGE_CGROUP] = "cgroup",
        [SPAWN_STAGE_SIGNALS] = "signals",
        [SPAWN_STAGE_GROUPS] = "groups",
        [SPAWN_STAGE_USER] = "user",
        [SPAWN_STAGE_RLIMIT] = "rlimit",
        [SPAWN_STAGE_CWD] = "cwd",
        [SPAWN_STAGE_STDIO] = "stdio",
        [SPAWN_STAGE_EXEC] = "exec",
};

DEFINE_STRING_TABLE_LOOKUP(spawn_stage, SpawnStage);

/* ret_reason must be a static string, so the "<stage> failed" reasons are spelled out. */
static const char *const spawn_stage_failed_table[_SPAWN_STAGE_MAX] = {
        [SPAWN_STAGE_FORK] = "fork failed",
        [SPAWN_STAGE_PGROUP] = "pgroup failed",
        [SPAWN_STAGE_CGROUP] = "cgroup failed",
        [SPAWN_STAGE_SIGNALS] = "signals failed",
        [SPAWN_STAGE_GROUPS] = "groups failed",
        [SPAWN_STAGE_USER] = "user failed",
        [SPAWN_STAGE_RLIMIT] = "rlimit failed",
        [SPAWN_STAGE_CWD] = "cwd failed",
        [SPAWN_STAGE_STDIO] = "stdio failed",
        [SPAWN_STAGE_EXEC] = "exec failed",
};

static const char *spawn_stage_failed(SpawnStage s) {
        if (s < 0 || (size_t) s >= ELEMENTSOF(spawn_stage_failed_table))
                return "spawn failed";
        return spawn_stage_failed_table[s];
}

/* Shortages that go away by themselves: waiting helps, so these are resources, never
 * permanent. Every other spawn errno (ENOENT, EACCES, ENOEXEC, EPERM, ...) needs an operator. */
static bool spawn_errno_is_resource(int error) {
        switch (error) {
        case EAGAIN:
        case ENOMEM:
        case EMFILE:
        case ENFILE:
                return true;
        default:
                return false;
        }
}

bool exit_status_is_crash_signal(int signo) {
        switch (signo) {
        case SIGSEGV:
        case SIGBUS:
        case SIGABRT:
        case SIGILL:
        case SIGFPE:
        case SIGSYS:
        case SIGTRAP:
        case SIGXCPU:
        case SIGXFSZ:
                return true;
        default:
                return false;
        }
}

static ExitClass classify(const ExitInfo *info, const WorkerConfig *w, const char **reason) {
        /* Once vigild wants the instance down, whatever code or signal it ended with is the
         * answer to that wish, not a failure of the worker. A worker vigild ended because it
         * stopped answering, while still wanted, did fail. */
        if (!info->stopping && info->verdict == EXIT_VERDICT_START_TIMEOUT) {
                *reason = "no READY=1 within start_timeout";
                return EXIT_CLASS_UNRESPONSIVE;
        }
        if (!info->stopping && info->verdict == EXIT_VERDICT_WATCHDOG) {
                *reason = "no WATCHDOG=1 within the watchdog interval";
                return EXIT_CLASS_UNRESPONSIVE;
        }
        if (info->stopping || info->sent_by_us) {
                *reason = "stopped by vigild";
                return EXIT_CLASS_STOPPED;
        }

        if (info->oom_killed) {
                *reason = "out of memory";
                return EXIT_CLASS_RESOURCE;
        }

        switch (info->cause) {
        case EXIT_CAUSE_EXITED:
                if (info->code == 0) {
                        *reason = "exited cleanly";
                        return EXIT_CLASS_SUCCESS;
                }
                if (info->code > 0 && (size_t) info->code < ELEMENTSOF(w->permanent_exit) &&
                    w->permanent_exit[info->code]) {
                        *reason = "permanent exit code";
                        return EXIT_CLASS_PERMANENT;
                }
                *reason = "non-zero exit code";
                return EXIT_CLASS_TRANSIENT;

        case EXIT_CAUSE_KILLED:
        case EXIT_CAUSE_DUMPED:
                *reason = exit_status_is_crash_signal(info->code) ? "crashed" : "killed by a signal";
                return EXIT_CLASS_CRASH;

        case EXIT_CAUSE_SPAWN_FAILED:
                *reason = spawn_stage_failed(info->spawn_stage);
                return spawn_errno_is_resource(info->spawn_errno) ? EXIT_CLASS_RESOURCE
                                                                  : EXIT_CLASS_PERMANENT;

        default:
                assert_not_reached();
        }
}

ExitClass exit_status_classify(const ExitInfo *info, const WorkerConfig *w, const char **ret_reason) {
        const char *reason;
        ExitClass cls;

        assert(info);
        assert(w);

        cls = classify(info, w, &reason);
        if (ret_reason)
                *ret_reason = reason;
        return cls;
}

/* Appends to buf at *pos like snprintf, but keeps *pos within the buffer so that later
 * appends after a truncation stay harmless. */
_printf_(4, 5) static void append(char *buf, size_t size, size_t *pos, const char *fmt, ...) {
        va_list ap;
        int k;

        if (*pos >= size - 1)
                return;

        va_start(ap, fmt);
        k = vsnprintf(buf + *pos, size - *pos, fmt, ap);
        va_end(ap);

        if (k < 0)
                return;
        *pos = MIN(*pos + (size_t) k, size - 1);
}

static void append_signal(char *buf, size_t size, size_t *pos, int signo) {
        const char *name = sigabbrev_np(signo);

        if (name)
                append(buf, size, pos, "SIG%s", name);
        else if (signo >= SIGRTMIN && signo <= SIGRTMAX)
                append(buf, size, pos, "SIGRTMIN+%d", signo - SIGRTMIN);
        else
                append(buf, size, pos, "signal %d", signo);
}

char *exit_status_describe(const ExitInfo *info, char *buf, size_t size) {
        size_t pos = 0;

        assert(info);
        assert(buf);

        if (size == 0)
                return buf;
        buf[0] = 0;

        switch (info->cause) {
        case EXIT_CAUSE_EXITED:
                append(buf, size, &pos, "exited with code %d", info->code);
                break;

        case EXIT_CAUSE_KILLED:
        case EXIT_CAUSE_DUMPED:
                append(buf, size, &pos, "killed by ");
                append_signal(buf, size, &pos, info->code);
                if (info->cause == EXIT_CAUSE_DUMPED)
                        append(buf, size, &pos, " (core dumped)");
                break;

        case EXIT_CAUSE_SPAWN_FAILED:
                append(buf, size, &pos, "%s: %s", spawn_stage_failed(info->spawn_stage),
                       strerror(info->spawn_errno));
                break;

        default:
                append(buf, size, &pos, "ended in an unknown way");
        }

        /* The OOM killer may have picked another process of the cgroup, so the end itself does
         * not always show it. */
        if (info->oom_killed)
                append(buf, size, &pos, " after an OOM kill");
        if (info->verdict == EXIT_VERDICT_START_TIMEOUT)
                append(buf, size, &pos, " after no READY=1 within start_timeout");
        else if (info->verdict == EXIT_VERDICT_WATCHDOG)
                append(buf, size, &pos, " after a missed watchdog");

        return buf;
}

EventKind exit_event_kind(ExitClass cls, const ExitInfo *info) {
        switch (cls) {
        case EXIT_CLASS_TRANSIENT:
                return EVENT_FAILED_EXIT;
        case EXIT_CLASS_CRASH:
                return EVENT_CRASH;
        case EXIT_CLASS_UNRESPONSIVE:
                return EVENT_UNRESPONSIVE;
        case EXIT_CLASS_RESOURCE:
                return EVENT_RESOURCE_WAIT;
        case EXIT_CLASS_PERMANENT:
                return info->cause == EXIT_CAUSE_SPAWN_FAILED ? EVENT_EXEC_FAILED : EVENT_PERMANENT_EXIT;
        default:
                return _EVENT_KIND_INVALID;
        }
}

Category exit_event_category(ExitClass cls, const ExitInfo *info) {
        switch (cls) {
        case EXIT_CLASS_RESOURCE:
                return CATEGORY_RESOURCE;
        case EXIT_CLASS_PERMANENT:
                if (info->cause == EXIT_CAUSE_EXITED && IN_SET(info->code, 64, 65, 78))
                        return CATEGORY_VALIDATION;
                return CATEGORY_PERMANENT;
        default:
                return CATEGORY_TRANSIENT;
        }
}

char *exit_status_details_json(const ExitInfo *info, ExitClass cls, int pid, char *buf, size_t size) {
        size_t pos = 0;

        assert(info);
        assert(buf);

        if (size < 3)
                return buf;
        buf[0] = 0;
        /* Every value is a number, a boolean or a name from our own tables: nothing to escape. */
        append(buf, size, &pos, "{\"class\":\"%s\"", exit_class_to_string(cls) ?: "?");
        if (pid > 0)
                append(buf, size, &pos, ",\"pid\":%d", pid);
        switch (info->cause) {
        case EXIT_CAUSE_EXITED:
                append(buf, size, &pos, ",\"exit_code\":%d", info->code);
                break;
        case EXIT_CAUSE_KILLED:
        case EXIT_CAUSE_DUMPED:
                append(buf, size, &pos, ",\"signal\":\"%s\",\"core_dumped\":%s",
                       sigabbrev_np(info->code) ?: "?", info->cause == EXIT_CAUSE_DUMPED ? "true" : "false");
                break;
        case EXIT_CAUSE_SPAWN_FAILED:
                append(buf, size, &pos, ",\"spawn_stage\":\"%s\",\"errno\":\"%s\"",
                       spawn_stage_to_string(info->spawn_stage) ?: "?", strerrorname_np(info->spawn_errno) ?: "?");
                break;
        default:
                break;
        }
        if (info->oom_killed)
                append(buf, size, &pos, ",\"oom_killed\":true");
        if (info->verdict != EXIT_VERDICT_NONE)
                append(buf, size, &pos, ",\"verdict\":\"%s\"", exit_verdict_to_string(info->verdict));
        append(buf, size, &pos, "}");
        if (pos >= size - 1 || buf[strlen(buf) - 1] != '}')
                (void) snprintf(buf, size, "{}");
        return buf;
}
