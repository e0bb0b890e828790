/* vt-report: a worker for the probe scenarios that reports its work over the notify protocol
 * with sd_notify(): READY=1 once, then every interval a datagram with WATCHDOG=1 (its heartbeat),
 * X_VIGIL_PROGRESS= (a counter that advances by a step each time, unless it is held) and, if
 * asked, X_VIGIL_QUEUE= (a backlog that grows by a step each time). It is a test tool: it
 * sleeps with nanosleep() between reports and runs until a signal ends it.
 *
 *   vt-report [--stamp FILE] [--every MS] [--hold FILE] [--no-heartbeat]
 *             [--queue START] [--queue-step N]
 *       --stamp FILE   appends "start PID INSTANCE MONOTONIC_USEC" to FILE at start (as vt-worker)
 *       --every MS     the interval between reports (default 100)
 *       --hold FILE    while FILE exists the counter does not advance (the heartbeats go on):
 *                      alive but stuck
 *       --no-heartbeat never sends WATCHDOG=1: silent, as far as the watchdog goes
 *       --queue START  reports X_VIGIL_QUEUE=, starting at START
 *       --queue-step N adds N to the queue at each report (default 0) */

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "helper-util.h"

int main(int argc, char *argv[]) {
        enum { ARG_STAMP = 0x100, ARG_EVERY, ARG_HOLD, ARG_NO_HEARTBEAT, ARG_QUEUE, ARG_QUEUE_STEP };
        static const struct option options[] = {
                { "stamp", required_argument, NULL, ARG_STAMP },
                { "every", required_argument, NULL, ARG_EVERY },
                { "hold", required_argument, NULL, ARG_HOLD },
                { "no-heartbeat", no_argument, NULL, ARG_NO_HEARTBEAT },
                { "queue", required_argument, NULL, ARG_QUEUE },
                { "queue-step", required_argument, NULL, ARG_QUEUE_STEP },
                {}
        };
        const char *stamp = NULL, *hold = NULL, *instance = getenv("VIGIL_INSTANCE");
        long every = 100, queue = -1, queue_step = 0;
        bool heartbeat = true;
        unsigned long long progress = 0;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case ARG_STAMP:
                        stamp = optarg;
                        break;
                case ARG_EVERY:
                        every = parse_long(optarg, 1, 3600L * 1000, "interval");
                        break;
                case ARG_HOLD:
                        hold = optarg;
                        break;
                case ARG_NO_HEARTBEAT:
                        heartbeat = false;
                        break;
                case ARG_QUEUE:
                        queue = parse_long(optarg, 0, 1L << 40, "queue depth");
                        break;
                case ARG_QUEUE_STEP:
                        queue_step = parse_long(optarg, 0, 1L << 20, "queue step");
                        break;
                default:
                        exit(2);
                }
        if (optind < argc)
                die("unexpected argument '%s'", argv[optind]);

        if (stamp)
                append_line(stamp, "start %d %s %llu\n", (int) getpid(), instance ? instance : "-",
                            now_usec());
        r = sd_notify(0, "READY=1\nSTATUS=working");
        if (r <= 0)
                fprintf(stderr, "vt-report: sd_notify(READY=1): %s\n",
                        r < 0 ? strerror(-r) : "NOTIFY_SOCKET is not set");

        for (;;) {
                char msg[128], q[48] = "";

                delay_ms((unsigned long long) every);
                if (!hold || access(hold, F_OK) < 0)
                        progress++;
                if (queue >= 0) {
                        (void) snprintf(q, sizeof q, "\nX_VIGIL_QUEUE=%ld", queue);
                        queue += queue_step;
                }
                (void) snprintf(msg, sizeof msg, "%sX_VIGIL_PROGRESS=%llu%s",
                                heartbeat ? "WATCHDOG=1\n" : "", progress, q);
                if (sd_notify(0, msg) <= 0)
                        fprintf(stderr, "vt-report: sd_notify failed\n");
        }
}
