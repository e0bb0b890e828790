/* NULL-terminated string vectors: the argv and environment lists that config builds and the
 * spawner hands to execve(). A vector owns its strings. Every mutating function leaves the
 * vector valid and unchanged when it fails, so callers never see a half-appended list.
 * Non-logging. */

#include <stdlib.h>
#include <string.h>

#include "strv.h"

char **strv_free(char **l) {
        if (!l)
                return NULL;

        for (char **i = l; *i; i++)
                free(*i);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l) {
        size_t n = 0;

        if (!l)
                return 0;
        while (l[n])
                n++;
        return n;
}

int strv_consume(char ***l, char *value) {
        size_t n;
        char **c;

        assert(l);

        if (!value)
                return -ENOMEM;

        n = strv_length(*l);
        c = reallocarray(*l, n + 2, sizeof(char *));
        if (!c) {
                free(value);
                return -ENOMEM;
        }

        c[n] = value;
        c[n + 1] = NULL;
        *l = c;
        return 0;
}

int strv_extend(char ***l, const char *value) {
        assert(l);
        assert(value);

        return strv_consume(l, strdup(value));
}

char **strv_copy(char *const *l) {
        char **c;
        size_t n;

        if (!l)
                return NULL;

        n = strv_length(l);
        c = calloc(n + 1, sizeof(char *));
        if (!c)
                return NULL;

        for (size_t i = 0; i < n; i++) {
                c[i] = strdup(l[i]);
                if (!c[i])
                        return strv_free(c);
        }

        return c;
}

bool strv_contains(char *const *l, const char *s) {
        assert(s);

        if (!l)
                return false;
        for (char *const *i = l; *i; i++)
                if (streq(*i, s))
                        return true;
        return false;
}

/* Index of the entry whose name matches the first name_len bytes of name, or -1. */
static ssize_t env_find(char *const *l, const char *name, size_t name_len) {
        if (!l)
                return -1;

        for (size_t i = 0; l[i]; i++)
                if (strncmp(l[i], name, name_len) == 0 && l[i][name_len] == '=')
                        return (ssize_t) i;
        return -1;
}

const char *strv_env_get(char *const *l, const char *name) {
        ssize_t i;

        assert(name);

        i = env_find(l, name, strlen(name));
        if (i < 0)
                return NULL;
        return l[i];
}

int strv_env_set(char ***l, const char *assignment) {
        const char *eq;
        char *copy;
        ssize_t i;

        assert(l);
        assert(assignment);

        eq = strchr(assignment, '=');
        if (!eq || eq == assignment)
                return -EINVAL;

        i = env_find(*l, assignment, (size_t) (eq - assignment));
        if (i < 0)
                return strv_extend(l, assignment);

        copy = strdup(assignment);
        if (!copy)
                return -ENOMEM;
        free((*l)[i]);
        (*l)[i] = copy;
        return 0;
}
