/* What vigild tells the service manager above it (systemd, through $NOTIFY_SOCKET): READY=1,
 * STOPPING=1, WATCHDOG=1 pings and a STATUS= summary. sd_notify() would block the loop
 * whenever the receiver reads slowly (its queue holds only net.unix.max_dgram_qlen datagrams),
 * so this module owns a non-blocking socket instead: a message that does not fit now stays
 * pending and goes out as soon as the socket is writable again. A full socket delays
 * messages, never supervision. STATUS= is coalesced (the latest text wins) and sent at most
 * UPSTREAM_STATUS_PER_SEC times a second; READY=1, STOPPING=1 and pings are never dropped
 * while vigild runs, only merged (two pending pings are one). Logs at debug level only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "time-util.h"

#define UPSTREAM_STATUS_PER_SEC 5U

typedef struct Upstream Upstream;

/* Reads $NOTIFY_SOCKET and, where sd_watchdog_enabled() says so, $WATCHDOG_USEC: pings are
 * then sent from a timer on event, between 1/2 and 3/4 of the interval after the previous
 * one, so a stalled loop stops them. Without $NOTIFY_SOCKET every call is a no-op. The
 * environment is left as it is. Returns -errno only for lack of memory or event sources. */
int upstream_new(sd_event *event, Upstream **ret);

/* Frees without sending what is still pending. Accepts NULL; returns NULL. */
Upstream *upstream_free(Upstream *u);

void upstream_ready(Upstream *u);
void upstream_stopping(Upstream *u);

/* Replaces the STATUS= text to send; a text equal to the last one sent is not sent again. */
void upstream_status(Upstream *u, const char *text);

/* The watchdog interval in use (0: none), for logs and tests. */
usec_t upstream_watchdog_usec(const Upstream *u);

/* Messages waiting for the socket to take them, and how many times a send found it full. */
unsigned upstream_pending(const Upstream *u);
uint64_t upstream_blocked(const Upstream *u);
