/* Tests for common/escape.c: untrusted text for terminals, CSV fields and JSON strings. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "escape.h"

static void check(void (*fn)(const char *, FILE *), const char *in, const char *want) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        assert_non_null(f);
        fn(in, f);
        assert_int_equal(fclose(f), 0);
        assert_string_equal(buf, want);
        free(buf);
}

static void test_terminal(void **state) {
        check(fputs_escaped, "plain text", "plain text");
        check(fputs_escaped, "bell\a and \x1b[31mred\x1b[0m", "bell\\x07 and \\x1b[31mred\\x1b[0m");
        check(fputs_escaped, "line\nbreak\ttab\x7f", "line\\x0abreak\\x09tab\\x7f");
        check(fputs_escaped, "caf\xc3\xa9", "caf\xc3\xa9");   /* UTF-8 stays */
        check(fputs_escaped, NULL, "");
}

static void test_csv(void **state) {
        check(fputs_csv, "plain", "plain");
        check(fputs_csv, "a,b", "\"a,b\"");
        check(fputs_csv, "say \"hi\"", "\"say \"\"hi\"\"\"");
        check(fputs_csv, "two\nlines", "\"two\nlines\"");
        check(fputs_csv, "cr\r,lf\n", "\"cr\r,lf\n\"");
        check(fputs_csv, "esc\x1b[2J", "esc\\x1b[2J");
        check(fputs_csv, "tab\there, and\x01", "\"tab\\x09here, and\\x01\"");
        check(fputs_csv, "", "");
        check(fputs_csv, NULL, "");
}

static void test_json(void **state) {
        check(fputs_json_string, "plain", "\"plain\"");
        check(fputs_json_string, "q\"b\\", "\"q\\\"b\\\\\"");
        check(fputs_json_string, "nl\nesc\x1b", "\"nl\\u000aesc\\u001b\"");
        check(fputs_json_string, NULL, "\"\"");
}

static void test_json_into_a_buffer_stays_json_when_cut(void **state) {
        char buf[16];

        assert_int_equal(json_escape(buf, sizeof buf, "a\"b"), 6);
        assert_string_equal(buf, "\"a\\\"b\"");
        /* Cut short: still quoted, never half an escape. */
        assert_int_equal(json_escape(buf, 8, "\x01\x02"), 2);
        assert_string_equal(buf, "\"\"");
        (void) json_escape(buf, 9, "\x01\x02");
        assert_string_equal(buf, "\"\\u0001\"");
        (void) json_escape(buf, sizeof buf, "0123456789abcdefgh");
        assert_string_equal(buf, "\"0123456789abc\"");
        assert_int_equal(json_escape(buf, 2, "x"), 0);
        assert_string_equal(buf, "");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_terminal),
                cmocka_unit_test(test_csv),
                cmocka_unit_test(test_json),
                cmocka_unit_test(test_json_into_a_buffer_stays_json_when_cut),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
