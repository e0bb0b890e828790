/* Unit tests for conf/config-keys.c: a key table declared outside conf/'s own sections, as a probe
 * or action kind will declare one, checked against its own settings struct, with the generic
 * CONFIG_KEY_ENUM row in particular. Each test parses a file in a fresh temporary directory that
 * it removes again, and asserts the exact "FILE:LINE: KEYPATH: problem" message. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "conf/config-test-util.h"
#include "config-keys.h"

typedef enum Fruit {
        FRUIT_APPLE,
        FRUIT_PEAR,
        FRUIT_PLUM,
        _FRUIT_MAX,
        _FRUIT_INVALID = -EINVAL,
} Fruit;

typedef enum Side {
        SIDE_LEFT,
        SIDE_RIGHT,
        _SIDE_MAX,
        _SIDE_INVALID = -EINVAL,
} Side;

const char *fruit_to_string(Fruit f);
Fruit fruit_from_string(const char *s);
const char *side_to_string(Side s);
Side side_from_string(const char *s);

static const char *const fruit_table[_FRUIT_MAX] = {
        [FRUIT_APPLE] = "apple",
        [FRUIT_PEAR] = "pear",
        [FRUIT_PLUM] = "plum",
};

DEFINE_STRING_TABLE_LOOKUP(fruit, Fruit);

static const char *const side_table[_SIDE_MAX] = {
        [SIDE_LEFT] = "left",
        [SIDE_RIGHT] = "right",
};

DEFINE_STRING_TABLE_LOOKUP(side, Side);

typedef struct KindSettings {
        Fruit fruit;
        Side side;
        unsigned count;
        usec_t every;
        bool loud;
        char *label;
} KindSettings;

static const ConfigKey kind_keys[] = {
        CONFIG_KEY_ENUM("fruit", KindSettings, fruit, fruit, _FRUIT_MAX, "fruit"),
        CONFIG_KEY_ENUM("side", KindSettings, side, side, _SIDE_MAX, "side"),
        CONFIG_KEY_UINT("count", KindSettings, count, 1, 10),
        CONFIG_KEY_DURATION("every", KindSettings, every, 1, false),
        CONFIG_KEY_BOOL("loud", KindSettings, loud),
        CONFIG_KEY_STRING("label", KindSettings, label),
};

static const KindSettings kind_defaults = {
        .fruit = FRUIT_APPLE,
        .side = SIDE_LEFT,
        .count = 1,
        .every = 5 * USEC_PER_SEC,
};

static int parse_kind_group(ConfigParser *p, const config_setting_t *g, void *settings) {
        return config_keys_parse_group(p, g, kind_keys, ELEMENTSOF(kind_keys), settings);
}

/* Writes text to kind.conf in a fresh directory and parses its group "kind" against kind_keys
 * into *settings. Returns what config_keys_parse_group() returned and sets *ret_error to its
 * message without the directory ("kind.conf:2: ..."), or NULL. */
static int parse_kind(const char *text, KindSettings *settings, char **ret_error) {
        return config_test_parse_group("kind.conf", text, "kind", parse_kind_group, settings, ret_error);
}

static void assert_kind_error(const char *text, const char *expected) {
        _cleanup_free_ char *error = NULL;
        KindSettings s = kind_defaults;

        assert_int_equal(parse_kind(text, &s, &error), -EINVAL);
        assert_non_null(error);
        assert_string_equal(error, expected);
        free(s.label);
}

static void test_enum_row_sets_the_field_by_name(void **state) {
        _cleanup_free_ char *error = NULL;
        KindSettings s = kind_defaults;

        assert_int_equal(parse_kind("kind = { fruit = \"plum\"; side = \"right\"; };\n", &s, &error), 0);
        assert_null(error);
        assert_int_equal(s.fruit, FRUIT_PLUM);
        assert_int_equal(s.side, SIDE_RIGHT);
}

static void test_enum_row_lists_every_name_of_the_table(void **state) {
        assert_kind_error("kind = {\n fruit = \"kiwi\"; };\n",
                          "kind.conf:2: kind.fruit: invalid fruit \"kiwi\" (expected apple, pear or plum)");
}

static void test_enum_row_of_two_values_lists_them_with_or(void **state) {
        assert_kind_error("kind = { side = \"up\"; };\n",
                          "kind.conf:1: kind.side: invalid side \"up\" (expected left or right)");
}

static void test_enum_row_is_case_sensitive(void **state) {
        assert_kind_error("kind = { side = \"Left\"; };\n",
                          "kind.conf:1: kind.side: invalid side \"Left\" (expected left or right)");
}

static void test_enum_row_wants_a_string(void **state) {
        assert_kind_error("kind = {\n\n fruit = 1; };\n",
                          "kind.conf:3: kind.fruit: expected a string, got an integer");
}

static void test_every_row_type_fills_its_field(void **state) {
        _cleanup_free_ char *error = NULL;
        KindSettings s = kind_defaults;

        assert_int_equal(parse_kind("kind = { count = 7; every = \"1m\"; loud = true; label = \"x\"; };\n",
                                    &s, &error),
                         0);
        assert_null(error);
        assert_int_equal(s.count, 7);
        assert_true(s.every == 1 * USEC_PER_MINUTE);
        assert_true(s.loud);
        assert_string_equal(s.label, "x");
        free(s.label);
}

static void test_keys_not_named_keep_their_defaults(void **state) {
        _cleanup_free_ char *error = NULL;
        KindSettings s = kind_defaults;

        assert_int_equal(parse_kind("kind = { count = 3; };\n", &s, &error), 0);
        assert_int_equal(s.count, 3);
        assert_int_equal(s.fruit, FRUIT_APPLE);
        assert_int_equal(s.side, SIDE_LEFT);
        assert_true(s.every == 5 * USEC_PER_SEC);
        assert_false(s.loud);
        assert_null(s.label);
}

static void test_unknown_key_is_refused(void **state) {
        assert_kind_error("kind = { count = 3;\n colour = \"red\"; };\n",
                          "kind.conf:2: kind.colour: unknown key");
}

static void test_row_limits_are_checked(void **state) {
        assert_kind_error("kind = { count = 11; };\n", "kind.conf:1: kind.count: 11 is out of range 1..10");
        assert_kind_error("kind = { every = \"0\"; };\n", "kind.conf:1: kind.every: must be greater than 0");
}

static void test_group_is_required(void **state) {
        assert_kind_error("kind = 3;\n", "kind.conf:1: kind: expected a group, got an integer");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_enum_row_sets_the_field_by_name),
                cmocka_unit_test(test_enum_row_lists_every_name_of_the_table),
                cmocka_unit_test(test_enum_row_of_two_values_lists_them_with_or),
                cmocka_unit_test(test_enum_row_is_case_sensitive),
                cmocka_unit_test(test_enum_row_wants_a_string),
                cmocka_unit_test(test_every_row_type_fills_its_field),
                cmocka_unit_test(test_keys_not_named_keep_their_defaults),
                cmocka_unit_test(test_unknown_key_is_refused),
                cmocka_unit_test(test_row_limits_are_checked),
                cmocka_unit_test(test_group_is_required),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
