/* Config keys as data: a table of ConfigKey rows (name, parser, offset into a settings struct,
 * limits) checks one libconfig group against a settings struct, and every problem becomes one
 * "FILE:LINE: KEYPATH: what is wrong" in the ConfigParser. The daemon and worker sections use
 * it, and so can any kind whose keys are declared as a table in its own file.
 * Non-logging. */
#pragma once

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config-source.h"
#include "macro.h"
#include "time-util.h"

/* The state of one parse: the expanded text (to map lines back to FILE:LINE) and the first
 * error, a malloc'd message the owner of the parser frees or hands on. */
typedef struct ConfigKinds ConfigKinds;

typedef struct ConfigParser {
        const ConfigSource *source;
        const ConfigKinds *kinds;   /* the probe kinds and actions that exist; NULL: not checked */
        char *error;
} ConfigParser;

typedef struct ConfigKey ConfigKey;

/* Parses s, the value of key k, into settings (the struct k->offset points into). Returns 0,
 * -EINVAL once the problem has been recorded with config_keys_fail(), or -ENOMEM. */
typedef int (*ConfigKeyParseFunc)(ConfigParser *p, const config_setting_t *s, const ConfigKey *k,
                                  void *settings);

struct ConfigKey {
        const char *name;
        ConfigKeyParseFunc parse;
        size_t offset;    /* of the field in settings, for the generic parsers */
        int64_t min, max; /* integers and enums: inclusive range; durations: min 0 or 1 */
        bool infinity;    /* durations: "infinity" is accepted */

        /* CONFIG_KEY_ENUM: the enum's string table lookups, and what a value is called in
         * messages ("restart mode"). */
        int (*enum_from_string)(const char *s);
        const char *(*enum_to_string)(int v);
        const char *enum_what;

        /* CONFIG_KEY_ARGV: a command line shown in the type error ("[ \"/usr/bin/x\" ]"). */
        const char *example;
};

/* The offset of field in type, refused at compile time unless the field has type ftype, so a
 * row can never write a value of the wrong size. */
#define CONFIG_KEY_OFFSET(type, field, ftype)                                                   \
        (offsetof(type, field) +                                                               \
         0 * sizeof(char[1 - 2 * !__builtin_types_compatible_p(__typeof__(((type *) 0)->field), \
                                                               ftype)]))

/* A key parsed by f alone (f knows its field), or by f into the field at offset. */
#define CONFIG_KEY(n, f) { .name = (n), .parse = (f) }
#define CONFIG_KEY_AT(n, f, type, field) { .name = (n), .parse = (f), .offset = offsetof(type, field) }

/* An unsigned field: an integer in lo..hi. */
#define CONFIG_KEY_UINT(n, type, field, lo, hi)                                                 \
        { .name = (n), .parse = config_keys_parse_unsigned,                                    \
          .offset = CONFIG_KEY_OFFSET(type, field, unsigned), .min = (lo), .max = (hi) }

/* A usec_t field: a duration string, greater than 0 if lo is 1, "infinity" only if inf. */
#define CONFIG_KEY_DURATION(n, type, field, lo, inf)                                            \
        { .name = (n), .parse = config_keys_parse_duration,                                    \
          .offset = CONFIG_KEY_OFFSET(type, field, usec_t), .min = (lo), .infinity = (inf) }

/* A bool field: true or false. */
#define CONFIG_KEY_BOOL(n, type, field)                                                         \
        { .name = (n), .parse = config_keys_parse_bool, .offset = CONFIG_KEY_OFFSET(type, field, bool) }

/* A char * field: a non-empty string, copied. */
#define CONFIG_KEY_STRING(n, type, field)                                                       \
        { .name = (n), .parse = config_keys_parse_string, .offset = CONFIG_KEY_OFFSET(type, field, char *) }

/* A char * field: an absolute path shorter than PATH_MAX, copied. */
#define CONFIG_KEY_PATH(n, type, field)                                                         \
        { .name = (n), .parse = config_keys_parse_absolute_path,                               \
          .offset = CONFIG_KEY_OFFSET(type, field, char *) }

/* A char ** field: a command line (config_keys_expect_argv()) of at most max entries, copied;
 * example is shown when the value is not an array. */
#define CONFIG_KEY_ARGV(n, type, field, max_entries, ex)                                        \
        { .name = (n), .parse = config_keys_parse_argv, .offset = CONFIG_KEY_OFFSET(type, field, char **), \
          .max = (max_entries), .example = (ex) }

/* A field of an enum with prefix##_from_string() and prefix##_to_string() (rule 8) and n_values
 * (its _MAX) values: one of their names. what names a value in the message
 * 'invalid WHAT "x" (expected a, b or c)', whose list comes from prefix##_to_string(), so it
 * follows the enum's string table. The field must have the type prefix##_from_string() returns. */
#define CONFIG_KEY_ENUM(n, type, field, prefix, n_values, what)                                 \
        { .name = (n), .parse = config_keys_parse_enum,                                        \
          .offset = CONFIG_KEY_OFFSET(type, field, __typeof__(prefix##_from_string(NULL))),      \
          .min = 0, .max = (int64_t) (n_values) - 1, .enum_from_string = prefix##_from_string,   \
          .enum_to_string = prefix##_to_string, .enum_what = (what) }

/* The field of settings that k points at, as a type *. */
#define CONFIG_KEY_FIELD(settings, k, type) ((type *) ((uint8_t *) (settings) + (k)->offset))

/* Records "FILE:LINE: KEYPATH: what" for setting s in p->error unless an error is recorded
 * already (the first one wins). KEYPATH is "workers[2].backoff.factor": member names, 0-based
 * element indexes. Returns -EINVAL, or -ENOMEM if the message could not be built. */
int config_keys_fail(ConfigParser *p, const config_setting_t *s, const char *fmt, ...) _printf_(3, 4);

/* What s is, for messages: "an integer", "a group", ... */
const char *config_keys_type_name(const config_setting_t *s);
bool config_keys_is_int(const config_setting_t *s);
bool config_keys_is_sequence(const config_setting_t *s);
bool config_keys_path_is_absolute(const char *path);

/* Each checks s and, on success, sets its ret_ argument; a problem is recorded with
 * config_keys_fail(). expected says what was wanted in "expected EXPECTED, got a list". A
 * returned string is owned by libconfig's tree. A string list is a fresh strv (empty, not
 * NULL, for "[]") the caller frees; example shows the form in the type error. */
int config_keys_expect_type(ConfigParser *p, const config_setting_t *s, int type, const char *expected);
int config_keys_expect_int(ConfigParser *p, const config_setting_t *s, int64_t min, int64_t max,
                           int64_t *ret_value);
int config_keys_expect_string(ConfigParser *p, const config_setting_t *s, const char *expected,
                              const char **ret_value);
int config_keys_expect_absolute_path(ConfigParser *p, const config_setting_t *s, const char **ret_path);
int config_keys_expect_string_list(ConfigParser *p, const config_setting_t *s, size_t max,
                                   const char *example, char ***ret_strv);

/* A command line: a string list of at most max entries, not empty, whose first entry is an
 * absolute path (no shell and no PATH search), as a fresh strv the caller frees. */
int config_keys_expect_argv(ConfigParser *p, const config_setting_t *s, size_t max, const char *example,
                           char ***ret_argv);

/* Parses every member of group g with the row of keys named like it; a member no row names is
 * an "unknown key". Fields of settings no member names keep their values (the defaults). Stops
 * at the first problem, leaving what was parsed so far in settings for its owner to free. */
int config_keys_parse_members(ConfigParser *p, const config_setting_t *g, const ConfigKey *keys,
                              size_t n_keys, void *settings);

/* The same, after checking that s is a group at all ("expected a group, got ..."). */
int config_keys_parse_group(ConfigParser *p, const config_setting_t *s, const ConfigKey *keys,
                            size_t n_keys, void *settings);

/* The generic parsers behind the CONFIG_KEY_* rows; a string field's earlier value is freed. */
int config_keys_parse_unsigned(ConfigParser *p, const config_setting_t *s, const ConfigKey *k,
                               void *settings);
int config_keys_parse_bool(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *settings);
int config_keys_parse_duration(ConfigParser *p, const config_setting_t *s, const ConfigKey *k,
                               void *settings);
int config_keys_parse_string(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *settings);
int config_keys_parse_absolute_path(ConfigParser *p, const config_setting_t *s, const ConfigKey *k,
                                    void *settings);
int config_keys_parse_enum(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *settings);
int config_keys_parse_argv(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *settings);
