/* The notify protocol's side of the instance state machine: what a worker's READY=1,
 * WATCHDOG=1, WATCHDOG_USEC=, STATUS=, STOPPING=1 and ERRNO= mean for its instance, the
 * watchdog timer, and the timeout verdicts (no READY=1, no ping) that the TILT guard may
 * suspend. Uses the verbs of instance.c; writes no state itself. */
#include "instance-internal.h"
#include "parse-util.h"

static int on_watchdog_timer(sd_event_source *s, uint64_t usec, void *userdata);

int instance_arm_watchdog(Instance *i, usec_t from) {
        return instance_arm_timer(i, &i->watchdog_timer, usec_add(from, i->watchdog_usec), ACCURACY_TIMEOUT_USEC,
                                  on_watchdog_timer);
}

void instance_judge_timeout(Instance *i, ExitVerdict verdict, usec_t due, sd_event_source **timer,
                                   usec_t interval, sd_event_time_handler_t handler) {
        const char *what = verdict == EXIT_VERDICT_WATCHDOG ? "watchdog" : "start timeout";
        char d[FORMAT_DURATION_MAX];
        usec_t until;
        int r;

        if (!i->ctx->verdict_allowed(i->ctx->userdata, due, &until)) {
                log_instance(i, LOG_NOTICE, "%s verdict suspended by TILT, checking again in %s", what,
                             format_duration_approx(d, sizeof(d), until - now(CLOCK_MONOTONIC) + interval,
                                                    USEC_PER_MSEC));
                r = instance_arm_timer(i, timer, usec_add(until, interval), ACCURACY_TIMEOUT_USEC, handler);
                if (r < 0)
                        instance_enter_fatal_resources(i, r, what);
                return;
        }
        log_instance_full(i, LOG_ERR, LOG_MID_UNRESPONSIVE, NULL, NULL, "unresponsive: %s within %s, stopping it",
                          verdict == EXIT_VERDICT_WATCHDOG ? "no WATCHDOG=1" : "no READY=1",
                          format_duration_approx(d, sizeof(d), interval, USEC_PER_MSEC));
        instance_enter_stopping(i, verdict);
}

static int on_watchdog_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Instance *i = userdata;

        switch (i->state) {
        case INSTANCE_RUNNING:
                instance_judge_timeout(i, EXIT_VERDICT_WATCHDOG, usec, &i->watchdog_timer, i->watchdog_usec,
                                       on_watchdog_timer);
                break;
        default:
                assert_not_reached();
        }
        return 0;
}

void instance_on_notify(Instance *i, const NotifyMessage *msg) {
        char d[FORMAT_DURATION_MAX];
        int r;

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
