/* Hysteresis of probe results as a table: each row is a sequence of results (one letter each,
 * O K W C U = OK, WARNING, CRITICAL, UNKNOWN, one second apart) under fail_after,
 * recover_after and for, and the transitions expected after each result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "probe-hysteresis.h"

typedef struct Row {
        const char *name;
        unsigned fail_after, recover_after;
        usec_t for_sec;
        const char *results;   /* O W C U */
        /* After each result: "." nothing, "F" fired, "L" level changed, "R" recovered,
         * "u" unknown fired, "r" unknown recovered, "rF" both...; separated by spaces. */
        const char *expect;
        const char *firing;    /* the level after each result: O W C */
} Row;

static const Row rows[] = {
        { "one noisy sample neither opens", 3, 2, 0, "OWOOWWO", ". . . . . . .", "OOOOOOO" },
        { "fires after fail_after in a row", 3, 2, 0, "WWWW", ". . F .", "OOWW" },
        { "recovers after recover_after good ones", 2, 3, 0, "WWOOWOOO", ". F . . . . . R", "OWWWWWWO" },
        { "one good sample does not close", 1, 2, 0, "WOWOO", "F . . . R", "WWWWO" },
        { "warning then critical raises the level", 2, 2, 0, "WWCC", ". F . L", "OWWC" },
        { "critical at once fires critical", 2, 2, 0, "CC", ". F", "OC" },
        { "mixed bad results fire warning", 2, 2, 0, "WCWC", ". F . .", "OWWW" },
        { "critical falls back to warning", 1, 2, 0, "CWWOO", "F . L . R", "CCWWO" },
        { "critical to ok recovers directly", 1, 2, 0, "COO", "F . R", "CCO" },
        { "for holds the condition this long", 1, 1, 3, "WWWWW", ". . . F .", "OOOWW" },
        { "for restarts after a good sample", 1, 1, 2, "WWOWWW", ". . . . . F", "OOOOOW" },
        { "unknown is no evidence either way", 2, 2, 0, "WUWUU", ". . F . u", "OOWWW" },
        { "unknown past fail_after fires apart", 2, 2, 0, "UUUO", ". u . r", "OOOO" },
        { "unknown does not recover the probe", 1, 1, 0, "WUUO", "F u . rR", "WWWO" },
        { "runs again and fires at once", 2, 1, 0, "UUWW", ". u r F", "OOOW" },
};

static unsigned transitions_of(const char *word) {
        unsigned t = 0;

        for (const char *p = word; *p && *p != ' '; p++)
                switch (*p) {
                case 'F': t |= PROBE_FIRE; break;
                case 'L': t |= PROBE_LEVEL_CHANGED; break;
                case 'R': t |= PROBE_RECOVER; break;
                case 'u': t |= PROBE_UNKNOWN_FIRE; break;
                case 'r': t |= PROBE_UNKNOWN_RECOVER; break;
                case '.': break;
                default: fail_msg("bad expectation '%c'", *p);
                }
        return t;
}

static ProbeStatus status_of(char c) {
        switch (c) {
        case 'O': return PROBE_OK;
        case 'W': return PROBE_WARNING;
        case 'C': return PROBE_CRITICAL;
        case 'U': return PROBE_UNKNOWN;
        default: fail_msg("bad result '%c'", c);
        }
        return _PROBE_STATUS_INVALID;
}

static void test_table(void **state) {
        for (size_t k = 0; k < ELEMENTSOF(rows); k++) {
                const Row *row = &rows[k];
                ProbeHysteresisRules rules = { row->fail_after, row->recover_after, row->for_sec * USEC_PER_SEC };
                ProbeHysteresis h = {};
                const char *e = row->expect;

                assert_int_equal(strlen(row->results), strlen(row->firing));
                for (size_t n = 0; row->results[n]; n++) {
                        unsigned got = probe_hysteresis_update(&h, &rules, status_of(row->results[n]),
                                                               (usec_t) (n + 1) * USEC_PER_SEC);
                        unsigned want = transitions_of(e);
                        char level = row->firing[n];

                        if (got != want)
                                fail_msg("%s: after result %zu got transitions %#x, expected %#x", row->name, n + 1,
                                         got, want);
                        if ("OWC"[h.firing] != level)
                                fail_msg("%s: after result %zu firing %c, expected %c", row->name, n + 1,
                                         "OWC"[h.firing], level);
                        e = strchr(e, ' ');
                        e = e ? e + 1 : "";
                }
        }
}

static void test_assume_firing_lets_a_left_open_incident_recover(void **state) {
        ProbeHysteresisRules rules = { 3, 2, 0 };
        ProbeHysteresis h = {};

        probe_hysteresis_assume_firing(&h, PROBE_WARNING);
        assert_int_equal(probe_hysteresis_update(&h, &rules, PROBE_OK, 1), 0);
        assert_int_equal(probe_hysteresis_update(&h, &rules, PROBE_OK, 2), PROBE_RECOVER);
        assert_int_equal(h.firing, PROBE_OK);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table),
                cmocka_unit_test(test_assume_firing_lets_a_left_open_incident_recover),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
