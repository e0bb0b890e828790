/* Every key the parser accepts is documented in vigil.conf(5): each key of the daemon group,
 * a worker entry, its backoff and breaker groups and every probe appears in bold in the
 * manual, and each probe kind has its own entry under PROBES / Kinds in which each of its own
 * keys appears in bold. A key added to a table without its documentation fails here. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config-parse.h"
#include "fileio.h"
#include "probe.h"

#define MANUAL TEST_SRCDIR "/packaging/vigil.conf.5"

/* Whether word appears as a bold word in lines [from, to) of the manual: on a line made by
 * .B, .BR, .BI or .IB, as one of its words (quotes and commas around it stripped). */
static bool bold_in(char *const *lines, size_t from, size_t to, const char *word) {
        for (size_t k = from; k < to; k++) {
                const char *l = lines[k];
                char buf[512], *save = NULL;

                if (strncmp(l, ".B ", 3) != 0 && strncmp(l, ".BR ", 4) != 0 && strncmp(l, ".BI ", 4) != 0 &&
                    strncmp(l, ".IB ", 4) != 0)
                        continue;
                (void) snprintf(buf, sizeof buf, "%s", strchr(l, ' ') + 1);
                for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
                        size_t n;

                        w += strspn(w, "\",(");
                        n = strcspn(w, "\",)");
                        if (n == strlen(word) && strncmp(w, word, n) == 0)
                                return true;
                }
        }
        return false;
}

static char **read_lines(size_t *ret_n) {
        char *text = NULL, **lines = NULL;
        size_t n = 0;

        assert_int_equal(read_full_file(MANUAL, 1 << 20, &text, NULL), 0);
        for (char *p = text, *eol; p && *p; p = eol ? eol + 1 : NULL) {
                eol = strchr(p, '\n');
                if (eol)
                        *eol = 0;
                lines = realloc(lines, (n + 1) * sizeof(char *));
                assert_non_null(lines);
                lines[n] = strdup(p);
                assert_non_null(lines[n]);
                n++;
        }
        free(text);
        *ret_n = n;
        return lines;
}

static void free_lines(char **lines, size_t n) {
        for (size_t k = 0; k < n; k++)
                free(lines[k]);
        free(lines);
}

static void test_every_table_key_is_documented(void **state) {
        size_t n, missing = 0;
        char **lines = read_lines(&n);

        for (const ConfigKeyTable *t = config_key_tables; t->section; t++)
                for (size_t k = 0; k < *t->n_keys; k++)
                        if (!bold_in(lines, 0, n, t->keys[k].name)) {
                                print_error("%s.%s is not documented in vigil.conf(5)\n", t->section, t->keys[k].name);
                                missing++;
                        }
        free_lines(lines, n);
        assert_int_equal(missing, 0);
}

/* The lines of kind's entry under ".SS Kinds": from its ".B kind" after a .TP to the next
 * entry or section. */
static bool kind_entry(char *const *lines, size_t n, const char *kind, size_t *ret_from, size_t *ret_to) {
        size_t start = n;
        char want[64];

        for (size_t k = 0; k < n; k++)
                if (strcmp(lines[k], ".SS Kinds") == 0) {
                        start = k;
                        break;
                }
        (void) snprintf(want, sizeof want, ".B %s", kind);
        for (size_t k = start; k + 1 < n; k++) {
                if (strcmp(lines[k], ".TP") != 0 || strcmp(lines[k + 1], want) != 0)
                        continue;
                *ret_from = k + 2;
                for (k += 2; k < n; k++)
                        if (strncmp(lines[k], ".SH ", 4) == 0 || strncmp(lines[k], ".SS ", 4) == 0 ||
                            (strcmp(lines[k], ".TP") == 0 && k + 1 < n && strncmp(lines[k + 1], ".B ", 3) == 0 &&
                             !strchr(lines[k + 1] + 3, ' ')))
                                break;
                *ret_to = k;
                return true;
        }
        return false;
}

static void test_every_probe_kind_and_its_keys_are_documented(void **state) {
        const ProbeKindSpec *s;
        size_t n, missing = 0, from, to, kinds = 0;
        char **lines = read_lines(&n);

        for (size_t i = 0; (s = probe_kind_spec_at(i)); i++, kinds++) {
                if (!kind_entry(lines, n, s->kind, &from, &to)) {
                        print_error("probe kind %s has no entry under PROBES / Kinds in vigil.conf(5)\n", s->kind);
                        missing++;
                        continue;
                }
                for (size_t k = 0; k < s->n_keys; k++)
                        if (!bold_in(lines, from, to, s->keys[k].name)) {
                                print_error("key %s of probe kind %s is not documented in its entry\n",
                                            s->keys[k].name, s->kind);
                                missing++;
                        }
        }
        free_lines(lines, n);
        assert_true(kinds > 0);
        assert_int_equal(missing, 0);
}

/* The check itself can fail: a key that is nowhere in the manual is not found. */
static void test_an_undocumented_key_is_noticed(void **state) {
        size_t n, from, to;
        char **lines = read_lines(&n);

        assert_false(bold_in(lines, 0, n, "no_such_key_anywhere"));
        assert_true(bold_in(lines, 0, n, "state_dir"));
        assert_false(kind_entry(lines, n, "no-such-kind", &from, &to));
        assert_true(kind_entry(lines, n, "disk", &from, &to));
        assert_true(bold_in(lines, from, to, "path"));
        assert_false(bold_in(lines, from, to, "state_dir"));
        free_lines(lines, n);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_table_key_is_documented),
                cmocka_unit_test(test_every_probe_kind_and_its_keys_are_documented),
                cmocka_unit_test(test_an_undocumented_key_is_noticed),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
