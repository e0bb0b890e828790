/* NULL-terminated string vectors (argv, environment lists). Non-logging; allocation
 * failures return -ENOMEM or NULL as documented per function. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* Frees every string and the vector; accepts NULL and returns NULL. */
char **strv_free(char **l);
static inline void strv_freep(char ***l) {
        strv_free(*l);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)

size_t strv_length(char *const *l);

/* Appends a copy of value; on failure the vector is unchanged. */
int strv_extend(char ***l, const char *value);

/* Appends value itself, taking ownership even on failure (it is freed then). */
int strv_consume(char ***l, char *value);

/* Deep copy; NULL on OOM (or when l is NULL). */
char **strv_copy(char *const *l);

bool strv_contains(char *const *l, const char *s);

/* For an environment list: the entry whose name (before '=') equals name, or NULL. */
const char *strv_env_get(char *const *l, const char *name);

/* Sets NAME=VALUE in the environment list, replacing an earlier entry of the same name. */
int strv_env_set(char ***l, const char *assignment);
