/* The notify protocol's side of the instance state machine: what a worker's READY=1,
 * WATCHDOG=1, WATCHDOG_USEC=, STATUS=, STOPPING=1 and ERRNO= mean for its instance, and the
 * reports its probes read (X_VIGIL_PROGRESS=, X_VIGIL_QUEUE=, the time of the last WATCHDOG=1).
 * A dispatcher for one event source, the notify message; it changes state only through the
 * verbs of instance.c, and never judges a report (the probes do). */
#include "instance-internal.h"
#include "parse-util.h"

/* Keeps what the message reports for the probes, in i->reports (reset at each start). Only
 * WATCHDOG=1 is a heartbeat: it is the one message a worker sends to say "alive", on its own
 * schedule, whereas a STATUS= or X_VIGIL_QUEUE= may come from a thread that does not do the
 * work, and a stuck counter must not look alive because of it. A heartbeat counts whether or
 * not vigild's own watchdog is configured. */
static void instance_record_reports(Instance *i, const NotifyMessage *msg, usec_t t) {
        ProbeReports *p = &i->reports;

        if (msg->watchdog)
                p->heartbeat_at = t;
        if (msg->has_progress) {
                if (!p->has_progress || p->progress != msg->progress)
                        p->progress_at = t;
                p->has_progress = true;
                p->progress = msg->progress;
        }
        if (msg->has_queue) {
                p->has_queue = true;
                p->queue = msg->queue;
                p->queue_at = t;
        }
}

void instance_on_notify(Instance *i, const NotifyMessage *msg) {
        char d[FORMAT_DURATION_MAX];
        int r;

        /* Reports from a process on its way out (or not yet started) are no news about the
         * current one. */
        if (IN_SET(i->state, INSTANCE_STARTING, INSTANCE_RUNNING))
                instance_record_reports(i, msg, now(CLOCK_MONOTONIC));

        if (msg->has_status && !streq(i->status_text, msg->status)) {
                (void) snprintf(i->status_text, sizeof(i->status_text), "%s", msg->status);
                log_instance(i, LOG_DEBUG, "STATUS=%s", i->status_text);
        }
        if (msg->has_errno)
                i->worker_errno = msg->errno_value;
        if (msg->stopping)
                log_instance(i, LOG_INFO, "says it is stopping (STOPPING=1)");
        if (msg->has_mainpid && msg->mainpid != i->pid)
                log_instance(i, LOG_NOTICE, "MAINPID=%d ignored: vigild follows the process it started",
                             (int) msg->mainpid);

        /* Before the state switch: WATCHDOG_USEC= often comes in the same datagram as READY=1,
         * and the watchdog that READY arms must already use it. */
        if (msg->has_watchdog_usec && msg->watchdog_usec != i->watchdog_usec &&
            IN_SET(i->state, INSTANCE_STARTING, INSTANCE_RUNNING)) {
                i->watchdog_usec = msg->watchdog_usec;
                log_instance(i, LOG_INFO, "watchdog interval set to %s by the worker",
                             format_duration_approx(d, sizeof(d), i->watchdog_usec, USEC_PER_MSEC));
        }

        switch (i->state) {
        case INSTANCE_STARTING:
                if (msg->ready && i->config->notify)
                        instance_enter_running(i);
                break;
        case INSTANCE_RUNNING:
                if (msg->watchdog_trigger && i->watchdog_usec > 0) {
                        log_instance_full(i, LOG_ERR, LOG_MID_UNRESPONSIVE, NULL, NULL,
                                          "unresponsive: the worker triggered its watchdog, stopping it");
                        instance_enter_stopping(i, EXIT_VERDICT_WATCHDOG);
                        break;
                }
                if ((msg->watchdog || msg->has_watchdog_usec) && i->watchdog_usec > 0) {
                        r = instance_arm_watchdog(i, now(CLOCK_MONOTONIC));
                        if (r < 0)
                                instance_enter_fatal_resources(i, r, "watchdog");
                }
                break;
        default:
                /* A late message from a process on its way out: nothing to act on. */
                break;
        }
}
