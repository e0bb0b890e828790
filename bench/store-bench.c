/* The incident store, driven directly (no vigild): how many events per second it records with
 * grouped commits, and a large database for timing vigilctl.
 *
 *   store-bench rate DB N normal|full   record N crash events over 1000 instances, flushing every
 *                                       1024 events as vigild's recorder does; prints
 *                                       "events N seconds S per_second R commits C"
 *   store-bench fill DB EVENTS KEYS     record EVENTS events over KEYS instances, resolving each
 *                                       incident after 50 occurrences (so most are resolved and
 *                                       each key has a history); prints a summary
 *
 * Built with the tree (make bench/store-bench); run by bench/store.sh. */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

#define BATCH 1024U

static _noreturn_ void die(const char *msg, int r) {
        fprintf(stderr, "store-bench: %s: %s\n", msg, strerror(r < 0 ? -r : r));
        exit(1);
}

static uint64_t mono_ns(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static Store *open_store(const char *path, StoreSync sync) {
        StoreOptions o = { .path = path, .sync = sync, .reader_gid = (gid_t) -1 };
        Store *s = NULL;
        int r;

        r = store_new(&o, &s);
        if (r < 0)
                die("store_new", r);
        r = store_connect(s, NULL);
        if (r < 0)
                die(store_last_error(s), r);
        return s;
}

static void record(Store *s, unsigned key, usec_t at, const char *details) {
        char worker[32];
        int r;

        (void) snprintf(worker, sizeof worker, "w%u", key / 200);
        r = store_record(s, &(const StoreEvent) {
                .kind = EVENT_CRASH,
                .worker = worker,
                .instance = (int) (key % 200),
                .at = at,
                .severity = _SEVERITY_INVALID,
                .category = _CATEGORY_INVALID,
                .message = "killed by SIGKILL",
                .details = details,
        }, NULL);
        if (r < 0)
                die("store_record", r);
}

/* A flush, and the checkpoint vigild's recorder would run at the next idle moment. */
static void flush(Store *s) {
        int r = store_flush(s);

        if (r < 0)
                die(store_last_error(s), r);
        if (store_wal_frames(s) >= STORE_WAL_CHECKPOINT_FRAMES) {
                r = store_checkpoint(s);
                if (r < 0)
                        die(store_last_error(s), r);
        }
}

static int cmd_rate(const char *path, uint64_t n, StoreSync sync) {
        Store *s = open_store(path, sync);
        usec_t base = now(CLOCK_REALTIME);
        StoreCounters c;
        uint64_t t0, t1;

        t0 = mono_ns();
        for (uint64_t k = 0; k < n; k++) {
                record(s, (unsigned) (k % 1000), base + k, "{\"class\":\"crash\",\"pid\":12345,\"signal\":\"KILL\"}");
                if (store_queued(s) >= BATCH)
                        flush(s);
        }
        flush(s);
        t1 = mono_ns();
        store_get_counters(s, &c);
        printf("events %" PRIu64 " seconds %.6f per_second %.0f commits %" PRIu64 "\n", n, (double) (t1 - t0) / 1e9,
               (double) n / ((double) (t1 - t0) / 1e9), c.commits);
        store_free(s);
        return 0;
}

static int cmd_fill(const char *path, uint64_t events, unsigned keys) {
        Store *s = open_store(path, STORE_SYNC_NORMAL);
        usec_t base = now(CLOCK_REALTIME) - events * 1000;   /* one event a millisecond, up to now */
        uint64_t *count = calloc(keys, sizeof(uint64_t)), resolved = 0;
        char worker[32];

        if (!count)
                die("calloc", -ENOMEM);
        for (uint64_t k = 0; k < events; k++) {
                unsigned key = (unsigned) (k % keys);
                usec_t at = base + k * 1000;

                record(s, key, at, "{\"class\":\"crash\",\"pid\":12345,\"signal\":\"KILL\"}");
                if (++count[key] % 50 == 0) {
                        (void) snprintf(worker, sizeof worker, "w%u", key / 200);
                        if (store_resolve(s, &INCIDENT_KEY(worker, (int) (key % 200), CAUSE_FAILURE), RESOLUTION_AUTO, at + 500,
                                          "vigild", "ran stably") > 0)
                                resolved++;
                }
                if (store_queued(s) >= 8 * BATCH)
                        flush(s);
        }
        flush(s);
        (void) store_checkpoint(s);
        printf("events %" PRIu64 " keys %u incidents_resolved %" PRIu64 "\n", events, keys, resolved);
        free(count);
        store_free(s);
        return 0;
}

int main(int argc, char *argv[]) {
        if (argc == 5 && strcmp(argv[1], "rate") == 0) {
                StoreSync sync = store_sync_from_string(argv[4]);

                if (sync < 0)
                        die("sync must be normal or full", EINVAL);
                return cmd_rate(argv[2], strtoull(argv[3], NULL, 10), sync);
        }
        if (argc == 5 && strcmp(argv[1], "fill") == 0)
                return cmd_fill(argv[2], strtoull(argv[3], NULL, 10), (unsigned) strtoul(argv[4], NULL, 10));
        fprintf(stderr, "usage: store-bench rate DB N normal|full | fill DB EVENTS KEYS\n");
        return 2;
}
