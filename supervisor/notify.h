/* The notify socket: a datagram socket, passed to workers as NOTIFY_SOCKET, that speaks
 * systemd's sd_notify protocol so that programs written for systemd run unchanged. This
 * module owns the socket and its event source; it receives, checks and parses datagrams and
 * hands each accepted message to the manager. Authorization is by the sender's credentials
 * (SCM_CREDENTIALS), never by file mode. Every passed file descriptor is closed (which is
 * also the answer BARRIER=1 waits for). Logs only at debug level; counts what it drops. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "time-util.h"

#define NOTIFY_DATAGRAM_MAX 4096U   /* longer datagrams are dropped as oversized */
#define NOTIFY_STATUS_MAX 256U      /* STATUS= text kept per instance, longer is cut */
#define NOTIFY_SOCKET_PRIORITY (-10) /* sd-event priority: before timers (0), after stop signals */
#define NOTIFY_FDS_MAX 253U         /* fds one datagram can carry (the kernel's SCM_MAX_FD) */
#define NOTIFY_DISPATCH_BATCH 256U  /* datagrams read per wakeup before yielding to the loop */

/* What one datagram said. Fields not present keep their zero value. */
typedef struct NotifyMessage {
        bool ready;              /* READY=1 */
        bool stopping;           /* STOPPING=1 */
        bool reloading;          /* RELOADING=1 */
        bool watchdog;           /* WATCHDOG=1 */
        bool watchdog_trigger;   /* WATCHDOG=trigger */
        bool barrier;            /* BARRIER=1 */
        bool has_status;
        char status[NOTIFY_STATUS_MAX]; /* STATUS=, control characters replaced by '?' */
        bool has_errno;
        int errno_value;         /* ERRNO= */
        bool has_watchdog_usec;
        usec_t watchdog_usec;    /* WATCHDOG_USEC= */
        bool has_mainpid;
        pid_t mainpid;           /* MAINPID= (recorded, not acted on) */
        bool has_progress;
        uint64_t progress;       /* X_VIGIL_PROGRESS=: a counter that advances as work is done */
        bool has_queue;
        uint64_t queue;          /* X_VIGIL_QUEUE=: the worker's backlog depth */
} NotifyMessage;

/* Why datagrams were dropped; exposed for status and tests. */
typedef enum NotifyDrop {
        NOTIFY_DROP_EMPTY,       /* zero length */
        NOTIFY_DROP_OVERSIZED,   /* longer than NOTIFY_DATAGRAM_MAX */
        NOTIFY_DROP_BINARY,      /* NUL bytes or invalid UTF-8 */
        NOTIFY_DROP_MALFORMED,   /* a line that is not KEY=VALUE, or a bad value */
        NOTIFY_DROP_NO_CREDENTIALS,
        NOTIFY_DROP_UNKNOWN_SENDER, /* not a process of any worker instance */
        NOTIFY_DROP_VANISHED,    /* the sender was gone before we could check it */
        NOTIFY_DROP_RATE_LIMITED,
        _NOTIFY_DROP_MAX,
        _NOTIFY_DROP_INVALID = -EINVAL,
} NotifyDrop;

/* Parses one datagram's payload (not NUL-terminated, len bytes): newline-separated KEY=VALUE
 * assignments, empty lines skipped. Pure: no I/O, no logging. Returns 0 and fills ret, or
 * -EBADMSG with the reason (EMPTY, BINARY or MALFORMED) in *reterr_reason (which may be NULL);
 * ret is left untouched on failure, so one bad line rejects the whole datagram. Unknown keys
 * are ignored, as systemd does; a later assignment of a known key overrides an earlier one. */
int notify_parse(const char *data, size_t len, NotifyMessage *ret, NotifyDrop *reterr_reason);

typedef struct NotifySocket NotifySocket;

/* Called for each accepted message with the sender's credentials (pid > 0); the callee decides
 * which instance it belongs to and returns 0 to accept it, or a positive NotifyDrop reason
 * (UNKNOWN_SENDER, VANISHED, RATE_LIMITED) to have it counted as dropped. Any file
 * descriptors the datagram carried are already closed; msg is valid during the call only. The
 * handler must not free the socket it is called from. */
typedef int (*notify_handler_t)(const NotifyMessage *msg, pid_t pid, uid_t uid, gid_t gid, void *userdata);

/* Creates and binds the socket at path (removing a stale socket file first; any other kind of
 * file there is refused with -EEXIST), mode 0666 so that unprivileged workers can send, with
 * SO_PASSCRED, and watches it on event. Each wakeup reads at most NOTIFY_DISPATCH_BATCH
 * datagrams. The handler is never called after notify_socket_free(), nor if this fails.
 * Non-logging; returns -errno. */
int notify_socket_new(sd_event *event, const char *path, notify_handler_t handler, void *userdata,
                      NotifySocket **ret);

/* Closes the socket, removes its file and frees. Accepts NULL, returns NULL. */
NotifySocket *notify_socket_free(NotifySocket *s);

const char *notify_socket_path(const NotifySocket *s);

/* Datagrams dropped so far for the given reason, and messages accepted. */
uint64_t notify_socket_dropped(const NotifySocket *s, NotifyDrop reason);
uint64_t notify_socket_accepted(const NotifySocket *s);

const char *notify_drop_to_string(NotifyDrop d) _pure_;
NotifyDrop notify_drop_from_string(const char *s) _pure_;
