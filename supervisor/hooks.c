/* Test hooks: fault injection read from vigild's environment, compiled only with
 * --enable-test-hooks (VIGIL_TEST_HOOKS). Owns the parsed hook settings and their remaining
 * counts. Without VIGIL_TEST_HOOKS this file is an empty unit and hooks.h supplies inline
 * no-ops; nothing here may be needed by a normal build. Non-logging. */

#ifdef VIGIL_TEST_HOOKS

#include <string.h>

#include <inttypes.h>
#include <stdio.h>

#include "fileio.h"
#include "hooks.h"

static bool spawn_fault_loaded;
static char *spawn_fault_worker;
static int spawn_fault_errno;
static unsigned spawn_fault_count;

static int errno_from_name(const char *s) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno == 0 && end != s && *end == '\0')
                return v > 0 && v < 4096 ? (int) v : -EINVAL;

        for (int e = 1; e < 4096; e++) {
                const char *name = strerrorname_np(e);

                if (name && streq(name, s))
                        return e;
        }
        return -EINVAL;
}

/* VIGIL_TEST_SPAWN_FAIL=WORKER:ERRNO:COUNT, split from the right so that only the worker
 * part may hold a colon. A malformed value injects nothing. */
static void spawn_fault_load(void) {
        _cleanup_free_ char *copy = NULL;
        const char *v;
        char *count, *err, *end;
        unsigned long n;
        int e;

        spawn_fault_loaded = true;

        v = getenv("VIGIL_TEST_SPAWN_FAIL");
        if (!v)
                return;
        copy = strdup(v);
        if (!copy)
                return;

        count = strrchr(copy, ':');
        if (!count)
                return;
        *count++ = '\0';
        err = strrchr(copy, ':');
        if (!err)
                return;
        *err++ = '\0';

        e = errno_from_name(err);
        if (e < 0)
                return;
        errno = 0;
        n = strtoul(count, &end, 10);
        if (errno != 0 || end == count || *end != '\0' || n > UINT32_MAX)
                return;

        spawn_fault_worker = TAKE_PTR(copy);
        spawn_fault_errno = e;
        spawn_fault_count = (unsigned) n;
}

int hooks_spawn_fault(const char *worker) {
        if (!spawn_fault_loaded)
                spawn_fault_load();

        if (spawn_fault_count == 0 || !worker || !spawn_fault_worker || !streq(worker, spawn_fault_worker))
                return 0;

        spawn_fault_count--;
        return -spawn_fault_errno;
}

usec_t hooks_stop_grace(usec_t def) {
        const char *v = getenv("VIGIL_TEST_STOP_GRACE_MS");
        unsigned long ms;
        char *end;

        if (!v)
                return def;
        errno = 0;
        ms = strtoul(v, &end, 10);
        if (errno != 0 || end == v || *end != '\0' || ms > 3600 * 1000UL)
                return def;
        return (usec_t) ms * USEC_PER_MSEC;
}

usec_t hooks_stall_ms(void) {
        const char *v = getenv("VIGIL_TEST_STALL_MS");
        unsigned long ms;
        char *end;

        if (!v)
                return 0;
        errno = 0;
        ms = strtoul(v, &end, 10);
        if (errno != 0 || end == v || *end != '\0' || ms > 3600 * 1000UL)
                return 0;
        return ms;
}

void hooks_store_committed(const Store *s) {
        const char *path = getenv("VIGIL_TEST_STORE_STATS");
        StoreCounters c;
        char text[256];

        if (!path || !*path)
                return;
        store_get_counters(s, &c);
        (void) snprintf(text, sizeof text,
                        "commits %" PRIu64 "\nevents_written %" PRIu64 "\nevents_dropped %" PRIu64
                        "\nflush_failures %" PRIu64 "\n",
                        c.commits, c.events_written, c.events_dropped, c.flush_failures);
        (void) write_file_atomic(path, text, strlen(text), 0644);
}

bool hooks_store_off(void) {
        const char *v = getenv("VIGIL_TEST_STORE_OFF");

        return v && streq(v, "1");
}

const char *hooks_pressure_dir(void) {
        const char *v = getenv("VIGIL_TEST_PRESSURE_DIR");

        return v && v[0] ? v : NULL;
}

void hooks_reset(void) {
        spawn_fault_worker = mfree(spawn_fault_worker);
        spawn_fault_errno = 0;
        spawn_fault_count = 0;
        spawn_fault_loaded = false;
}

#else

typedef int hooks_unused_t;

#endif
