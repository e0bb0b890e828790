/* Test hooks: fault injection for the test suite, compiled in only with --enable-test-hooks
 * (VIGIL_TEST_HOOKS). In a normal build every hook is an inline no-op, so shipped binaries
 * carry none of this code. Hooks are configured from the environment of vigild at start:
 *   VIGIL_TEST_SPAWN_FAIL=WORKER:ERRNO:COUNT  the next COUNT spawns of WORKER fail at fork()
 *                                             with ERRNO (a name such as EAGAIN or ENOMEM).
 *   VIGIL_TEST_STOP_GRACE_MS=N                the outside-stop grace (instance.c) is N ms, so
 *                                             a test can act inside it deterministically.
 *   VIGIL_TEST_STALL_MS=N                     SIGUSR2 makes vigild hold its loop for N ms, as a
 *                                             starved or frozen host would.
 *   VIGIL_TEST_PRESSURE_DIR=DIR               host pressure (PSI) is read from DIR/cpu,
 *                                             DIR/memory and DIR/io instead of /proc/pressure,
 *                                             so a test can starve the host on paper.
 * Non-logging. */
#pragma once

#include "macro.h"
#include "store.h"
#include "time-util.h"

#ifdef VIGIL_TEST_HOOKS
/* Returns a negative errno to inject for this spawn of worker, or 0. Consumes one count. */
int hooks_spawn_fault(const char *worker);

/* Forgets every hook setting (and frees it) so that the next hook call reads the environment
 * again. For tests that change the environment, and for leak checkers at exit. */
void hooks_reset(void);

/* The outside-stop grace to use: the environment's override, or def. */
usec_t hooks_stop_grace(usec_t def);

/* How long SIGUSR2 holds the loop, in ms; 0 (the default) installs no SIGUSR2 handler. */
usec_t hooks_stall_ms(void);

/* After each commit of the incident store: with VIGIL_TEST_STORE_STATS=FILE, replaces FILE
 * with the store's counters ("commits N", "events_written N", "events_dropped N",
 * "flush_failures N", one per line), so a test can count the commits of a crash storm. */
void hooks_store_committed(const Store *s);

/* VIGIL_TEST_STORE_OFF=1: vigild runs without an incident store (the benchmark's "store
 * off" baseline). */
bool hooks_store_off(void);

/* VIGIL_TEST_PRESSURE_DIR, or NULL. */
const char *hooks_pressure_dir(void);
#else
static inline int hooks_spawn_fault(const char *worker) {
        return 0;
}

static inline void hooks_reset(void) {
}

static inline usec_t hooks_stop_grace(usec_t def) {
        return def;
}

static inline void hooks_store_committed(const Store *s) {
}

static inline bool hooks_store_off(void) {
        return false;
}

static inline const char *hooks_pressure_dir(void) {
        return NULL;
}
#endif
