/* Unit tests for common/strv.c: building, copying and searching string vectors, and the
 * environment-list helpers the spawner relies on. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "strv.h"

static void test_free_accepts_null_and_returns_null(void **state) {
        assert_null(strv_free(NULL));
}

static void test_length_of_null_is_zero(void **state) {
        assert_int_equal(strv_length(NULL), 0);
}

static void test_extend_appends_copies_in_order(void **state) {
        _cleanup_strv_free_ char **l = NULL;
        char buf[] = "two";

        assert_int_equal(strv_extend(&l, "one"), 0);
        assert_int_equal(strv_extend(&l, buf), 0);
        buf[0] = 'X';

        assert_int_equal(strv_length(l), 2);
        assert_string_equal(l[0], "one");
        assert_string_equal(l[1], "two");
        assert_null(l[2]);
}

static void test_consume_takes_ownership(void **state) {
        _cleanup_strv_free_ char **l = NULL;

        assert_int_equal(strv_consume(&l, strdup("owned")), 0);
        assert_string_equal(l[0], "owned");
        assert_null(l[1]);
}

static void test_consume_of_null_reports_oom_and_leaves_vector(void **state) {
        _cleanup_strv_free_ char **l = NULL;

        assert_int_equal(strv_extend(&l, "a"), 0);
        assert_int_equal(strv_consume(&l, NULL), -ENOMEM);
        assert_int_equal(strv_length(l), 1);
}

static void test_copy_is_deep(void **state) {
        _cleanup_strv_free_ char **l = NULL, **c = NULL;

        assert_int_equal(strv_extend(&l, "a"), 0);
        assert_int_equal(strv_extend(&l, "b"), 0);
        c = strv_copy(l);
        assert_non_null(c);
        assert_int_equal(strv_length(c), 2);
        assert_ptr_not_equal(c[0], l[0]);
        assert_string_equal(c[1], "b");
        assert_null(strv_copy(NULL));
}

static void test_copy_of_empty_vector_is_empty_not_null(void **state) {
        char *empty[] = { NULL };
        _cleanup_strv_free_ char **c = strv_copy(empty);

        assert_non_null(c);
        assert_null(c[0]);
}

static void test_contains_matches_whole_strings(void **state) {
        _cleanup_strv_free_ char **l = NULL;

        assert_false(strv_contains(NULL, "a"));
        assert_int_equal(strv_extend(&l, "abc"), 0);
        assert_true(strv_contains(l, "abc"));
        assert_false(strv_contains(l, "ab"));
}

static void test_env_get_matches_name_exactly(void **state) {
        _cleanup_strv_free_ char **l = NULL;

        assert_int_equal(strv_extend(&l, "PATHX=1"), 0);
        assert_int_equal(strv_extend(&l, "PATH=/bin"), 0);
        assert_string_equal(strv_env_get(l, "PATH"), "PATH=/bin");
        assert_null(strv_env_get(l, "PAT"));
        assert_null(strv_env_get(NULL, "PATH"));
}

static void test_env_set_replaces_existing_entry(void **state) {
        _cleanup_strv_free_ char **l = NULL;

        assert_int_equal(strv_env_set(&l, "A=1"), 0);
        assert_int_equal(strv_env_set(&l, "B=2"), 0);
        assert_int_equal(strv_env_set(&l, "A=3"), 0);
        assert_int_equal(strv_length(l), 2);
        assert_string_equal(l[0], "A=3");
        assert_string_equal(l[1], "B=2");
}

static void test_env_set_accepts_empty_value(void **state) {
        _cleanup_strv_free_ char **l = NULL;

        assert_int_equal(strv_env_set(&l, "EMPTY="), 0);
        assert_string_equal(strv_env_get(l, "EMPTY"), "EMPTY=");
}

static void test_env_set_rejects_assignment_without_name_or_equals(void **state) {
        _cleanup_strv_free_ char **l = NULL;

        assert_int_equal(strv_env_set(&l, "NOEQUALS"), -EINVAL);
        assert_int_equal(strv_env_set(&l, "=value"), -EINVAL);
        assert_null(l);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_free_accepts_null_and_returns_null),
                cmocka_unit_test(test_length_of_null_is_zero),
                cmocka_unit_test(test_extend_appends_copies_in_order),
                cmocka_unit_test(test_consume_takes_ownership),
                cmocka_unit_test(test_consume_of_null_reports_oom_and_leaves_vector),
                cmocka_unit_test(test_copy_is_deep),
                cmocka_unit_test(test_copy_of_empty_vector_is_empty_not_null),
                cmocka_unit_test(test_contains_matches_whole_strings),
                cmocka_unit_test(test_env_get_matches_name_exactly),
                cmocka_unit_test(test_env_set_replaces_existing_entry),
                cmocka_unit_test(test_env_set_accepts_empty_value),
                cmocka_unit_test(test_env_set_rejects_assignment_without_name_or_equals),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
