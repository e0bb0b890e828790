/* Parsing one group of a small file with a ConfigParser, for the unit tests of conf/'s key
 * tables and key parsers. Include after <cmocka.h>. */
#pragma once

#include <libconfig.h>
#include <stdio.h>
#include <sys/stat.h>

#include "config-keys.h"

typedef int (*ConfigTestParseFunc)(ConfigParser *p, const config_setting_t *g, void *userdata);

static inline void config_test_destroyp(config_t **c) {
        if (*c)
                config_destroy(*c);
}

/* Writes text to a file named name in a fresh directory (removed again) and hands the setting
 * group of the parsed text (NULL if there is none) to f. Returns what f returned and sets
 * *ret_error to the message recorded in the parser without the directory ("kind.conf:2: ..."),
 * or NULL. */
static inline int config_test_parse_group(const char *name, const char *text, const char *group,
                                          ConfigTestParseFunc f, void *userdata, char **ret_error) {
        _cleanup_(config_source_freep) ConfigSource *source = NULL;
        _cleanup_(config_test_destroyp) config_t *lc = NULL;
        _cleanup_free_ char *path = NULL;
        char dir[] = "/tmp/vigil-test-config.XXXXXX";
        ConfigParser p = {};
        config_t cfg;
        FILE *fp;
        int r;

        assert_non_null(mkdtemp(dir));
        assert_true(asprintf(&path, "%s/%s", dir, name) >= 0);
        fp = fopen(path, "we");
        assert_non_null(fp);
        assert_true(fputs(text, fp) >= 0);
        assert_int_equal(fclose(fp), 0);
        assert_int_equal(chmod(path, 0644), 0);

        assert_int_equal(config_source_read(path, &source, NULL), 0);
        p.source = source;
        config_init(&cfg);
        lc = &cfg;
        assert_int_equal(config_read_string(&cfg, config_source_text(source)), CONFIG_TRUE);

        r = f(&p, config_lookup(&cfg, group), userdata);

        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
        *ret_error = NULL;
        if (p.error) {
                size_t n = strlen(dir) + 1;

                assert_true(strncmp(p.error, dir, n - 1) == 0 && p.error[n - 1] == '/');
                *ret_error = strdup(p.error + n);
                assert_non_null(*ret_error);
                free(p.error);
        }
        return r;
}
