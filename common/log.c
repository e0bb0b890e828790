/* The log wrapper over sd_journal_sendv(): fixed structured fields per entry, a stderr
 * fallback in the foreground. It owns the process-wide log target and level. It never
 * allocates on the heap and never fails its caller: a journal that refuses an entry gets
 * the entry written to stderr instead. */
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
/* Without this, sd_journal_sendv() stamps every entry with this file's own location. */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#include "log.h"

#define LOG_LINE_MAX 2048
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

static LogTarget log_target = LOG_TARGET_STDERR;
static int log_max_level = LOG_INFO;

static const char *const log_target_table[_LOG_TARGET_MAX] = {
        [LOG_TARGET_AUTO] = "auto",
        [LOG_TARGET_JOURNAL] = "journal",
        [LOG_TARGET_STDERR] = "stderr",
};

DEFINE_STRING_TABLE_LOOKUP(log_target, LogTarget);

static const char *const level_names[] = {
        [LOG_EMERG] = "emergency", [LOG_ALERT] = "alert",   [LOG_CRIT] = "critical",
        [LOG_ERR] = "error",       [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info",       [LOG_DEBUG] = "debug",
};

void log_setup(LogTarget target, int max_level) {
        struct stat st;

        if (target == LOG_TARGET_AUTO)
                target = stat(JOURNAL_SOCKET, &st) >= 0 && S_ISSOCK(st.st_mode) ? LOG_TARGET_JOURNAL
                                                                               : LOG_TARGET_STDERR;
        log_target = target;
        log_max_level = max_level;
}

int log_get_max_level(void) {
        return log_max_level;
}

LogTarget log_get_target(void) {
        return log_target;
}

static void write_stderr(int level, const LogFields *f, const char *msg) {
        /* One fprintf per line so that lines from vigild and from workers sharing the same
         * stderr do not interleave within a line. */
        (void) f;
        fprintf(stderr, "%s: %s\n", level_names[level & LOG_PRIMASK], msg);
}

static int write_journal(int level, int error, const LogFields *f, const char *msg) {
        char b_msg[LOG_LINE_MAX + 16], b_prio[32], b_mid[64], b_worker[128], b_inst[48], b_old[64],
                b_new[64], b_errno[32], b_probe[128];
        struct iovec iov[9];
        size_t n = 0;

#define ADD(buf, ...)                                                   \
        do {                                                            \
                int _k = snprintf(buf, sizeof(buf), __VA_ARGS__);       \
                if (_k < 0)                                             \
                        break;                                          \
                iov[n++] = (struct iovec) { buf, MIN((size_t) _k, sizeof(buf) - 1) }; \
        } while (0)

        ADD(b_msg, "MESSAGE=%s", msg);
        ADD(b_prio, "PRIORITY=%i", level & LOG_PRIMASK);
        if (f->message_id)
                ADD(b_mid, "MESSAGE_ID=%s", f->message_id);
        if (f->worker)
                ADD(b_worker, "VIGIL_WORKER=%s", f->worker);
        if (f->instance >= 0)
                ADD(b_inst, "VIGIL_INSTANCE=%i", f->instance);
        if (f->old_state)
                ADD(b_old, "OLD_STATE=%s", f->old_state);
        if (f->new_state)
                ADD(b_new, "NEW_STATE=%s", f->new_state);
        if (f->probe)
                ADD(b_probe, "VIGIL_PROBE=%s", f->probe);
        if (error != 0)
                ADD(b_errno, "ERRNO=%i", abs(error));
#undef ADD
        return sd_journal_sendv(iov, (int) n);
}

int log_fields_internal(int level, int error, const LogFields *fields, const char *format, ...) {
        char msg[LOG_LINE_MAX];
        va_list ap;
        int saved_errno = errno;

        if ((level & LOG_PRIMASK) > log_max_level)
                goto finish;

        /* %m in format refers to error, not to whatever errno happens to be. */
        errno = abs(error);
        va_start(ap, format);
        (void) vsnprintf(msg, sizeof(msg), format, ap);
        va_end(ap);

        /* Every entry carries a MESSAGE_ID, so operators can select all of vigild's own. */
        LogFields f = *fields;
        if (!f.message_id)
                f.message_id = LOG_MID_DAEMON;
        if (log_target != LOG_TARGET_JOURNAL || write_journal(level, error, &f, msg) < 0)
                write_stderr(level, &f, msg);

finish:
        errno = saved_errno;
        return -abs(error);
}
