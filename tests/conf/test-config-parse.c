/* Unit tests for conf/config-parse.c (with config-parse-worker.c and config-keys.c behind it)
 * and conf/config.c: every file check, every @include rule and every validation error, each
 * asserting the exact "FILE:LINE: KEYPATH: problem" message.
 * Each test works in a fresh temporary directory that it removes again. */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "config-parse.h"
#include "probe.h"
#include "strv.h"

typedef struct Fixture {
        char dir[64];
} Fixture;

/* The probe kinds vigild knows, as main.c hands them to the parser. */
static const ConfigKinds test_kinds = { .probe_kind_at = probe_kind_spec_at };

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));

        assert_non_null(f);
        strcpy(f->dir, "/tmp/test-config-parse.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        *state = f;
        return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static int teardown(void **state) {
        Fixture *f = *state;

        assert_int_equal(nftw(f->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
        free(f);
        return 0;
}

static char *path_in(const Fixture *f, const char *name) {
        char *p;

        assert_true(asprintf(&p, "%s/%s", f->dir, name) >= 0);
        return p;
}

/* Writes name (relative to the fixture directory) with mode 0644, creating parent directories. */
static void write_file(const Fixture *f, const char *name, const char *content) {
        char p[PATH_MAX];
        size_t base = strlen(f->dir) + 1;
        FILE *fp;

        assert_true((size_t) snprintf(p, sizeof(p), "%s/%s", f->dir, name) < sizeof(p));
        for (size_t i = base; p[i]; i++) {
                if (p[i] != '/')
                        continue;
                p[i] = '\0';
                assert_true(mkdir(p, 0755) == 0 || errno == EEXIST);
                p[i] = '/';
        }

        fp = fopen(p, "we");
        assert_non_null(fp);
        assert_true(fputs(content, fp) >= 0);
        assert_int_equal(fclose(fp), 0);
        assert_int_equal(chmod(p, 0644), 0);
}

static int parse_in(const Fixture *f, const char *name, Config **ret, char **ret_error) {
        _cleanup_free_ char *p = path_in(f, name);

        return config_parse_file(p, &test_kinds, ret, ret_error);
}

/* Parses main.conf holding content, which must succeed. */
static Config *parse_ok(void **state, const char *content) {
        Fixture *f = *state;
        _cleanup_free_ char *error = NULL;
        Config *c = NULL;
        int r;

        write_file(f, "main.conf", content);
        r = parse_in(f, "main.conf", &c, &error);
        if (r < 0)
                fail_msg("unexpected error %d: %s", r, strna(error));
        assert_non_null(c);
        assert_null(error);
        return c;
}

/* Parses name, which must fail with expected_r and the message dir + "/" + expected. */
static void assert_file_error(void **state, const char *name, int expected_r, const char *expected) {
        Fixture *f = *state;
        _cleanup_free_ char *error = NULL, *full = NULL;
        Config *c = NULL;
        int r;

        r = parse_in(f, name, &c, &error);
        assert_null(c);
        assert_non_null(error);
        full = path_in(f, expected);
        assert_string_equal(error, full);
        assert_int_equal(r, expected_r);
}

/* Writes content as main.conf; parsing it must fail with -EINVAL and "DIR/main.conf:..." */
static void assert_error(void **state, const char *content, const char *expected) {
        write_file(*state, "main.conf", content);
        assert_file_error(state, "main.conf", -EINVAL, expected);
}

#define W(body) "workers = ( { name = \"w\"; command = [ \"/bin/true\" ];\n" body "\n} );\n"

/* ---- probes ---- */

/* As assert_error(), for a message that only has to begin with expected. */
static void assert_error_prefix(void **state, const char *content, const char *expected) {
        Fixture *f = *state;
        _cleanup_free_ char *error = NULL, *full = NULL;
        Config *c = NULL;

        write_file(f, "main.conf", content);
        assert_int_equal(parse_in(f, "main.conf", &c, &error), -EINVAL);
        assert_null(c);
        assert_non_null(error);
        full = path_in(f, expected);
        if (strncmp(error, full, strlen(full)) != 0)
                fail_msg("error \"%s\" does not begin with \"%s\"", error, full);
}

#define P(body) W("probes = ( " body " );")
#define H(body) "host_probes = ( " body " );\n"

static void test_probe_defaults(void **state) {
        _cleanup_config_free_ Config *c = parse_ok(state, P("{ kind = \"disk\"; path = \"/var\"; }, "
                                                             "{ name = \"logs\"; kind = \"disk\"; path = \"/var/log\"; "
                                                             "every = \"1s\"; for = \"5s\"; fail_after = 1; "
                                                             "recover_after = 4; warning = \"10%\"; critical = \"1G\"; "
                                                             "actions = [ \"restart\" ]; }")
                                                           H("{ kind = \"disk\"; path = \"/\"; }"));
        const ProbeConfig *a, *b;

        assert_int_equal(c->workers[0].n_probes, 2);
        a = &c->workers[0].probes[0];
        b = &c->workers[0].probes[1];
        assert_string_equal(a->name, "disk");
        assert_string_equal(a->kind, "disk");
        assert_non_null(a->spec);
        assert_true(a->every == 30 * USEC_PER_SEC);
        assert_true(a->timeout == 5 * USEC_PER_SEC);
        assert_true(a->for_usec == 0);
        assert_int_equal(a->fail_after, 3);
        assert_int_equal(a->recover_after, 2);
        assert_false(a->warning.set || a->critical.set);
        assert_non_null(a->actions);
        assert_null(a->actions[0]);
        assert_string_equal(b->name, "logs");
        /* A timeout longer than a short interval is cut to the interval. */
        assert_true(b->every == USEC_PER_SEC && b->timeout == USEC_PER_SEC);
        assert_true(b->for_usec == 5 * USEC_PER_SEC);
        assert_int_equal(b->fail_after, 1);
        assert_int_equal(b->recover_after, 4);
        assert_true(b->warning.set && b->warning.unit == THRESHOLD_PERCENT && b->warning.value == 10);
        assert_true(b->critical.set && b->critical.unit == THRESHOLD_BYTES && b->critical.value == 1073741824.0);
        assert_string_equal(b->actions[0], "restart");
        assert_int_equal(c->n_host_probes, 1);
        assert_true(c->daemon.starved_some == CONFIG_DEFAULT_STARVED_SOME);
        assert_true(c->daemon.starved_full == CONFIG_DEFAULT_STARVED_FULL);
}

static void test_starved_bounds(void **state) {
        _cleanup_config_free_ Config *c =
                parse_ok(state, "daemon = { starved_some = \"off\"; starved_full = \"12.5%\"; };");

        assert_true(c->daemon.starved_some == 0);
        assert_true(c->daemon.starved_full == 12.5);
        assert_error(state, "daemon = { starved_some = \"120%\"; };",
                     "main.conf:1: daemon.starved_some: expected a percentage above 0% and at most 100% such as "
                     "\"80%\", or \"off\", got \"120%\"");
}

static void test_probe_errors(void **state) {
        assert_error_prefix(state, P("{ path = \"/\"; }"), "main.conf:2: workers[0].probes[0]: missing required key \"kind\"");
        assert_error_prefix(state, P("{ kind = \"telepathy\"; }"),
                     "main.conf:2: workers[0].probes[0].kind: unknown probe kind \"telepathy\" (known: ");
        assert_error_prefix(state, P("{ kind = \"disk\"; path = \"/\"; colour = 1; }"),
                     "main.conf:2: workers[0].probes[0].colour: unknown key");
        assert_error_prefix(state, P("{ kind = \"disk\"; path = \"/\"; url = \"http://127.0.0.1/\"; }"),
                     "main.conf:2: workers[0].probes[0].url: not a key of probe kind \"disk\" (it belongs to kind "
                     "\"http\")");
        assert_error_prefix(state, P("{ kind = \"disk\"; path = \"/\"; }, { kind = \"disk\"; path = \"/var\"; }"),
                     "main.conf:2: workers[0].probes[1]: duplicate probe name \"disk\" (first defined at ");
        assert_error_prefix(state, P("{ kind = \"disk\"; path = \"/\"; every = \"1s\"; timeout = \"5s\"; }"),
                     "main.conf:2: workers[0].probes[0].every: every (1s) is shorter than timeout (5s)");
        assert_error_prefix(state, P("{ kind = \"disk\"; path = \"/\"; critical = \"lots\"; }"),
                     "main.conf:2: workers[0].probes[0].critical: invalid threshold \"lots\"");
        assert_error_prefix(state, P("{ kind = \"disk\"; path = \"/\"; critical = -5; }"),
                     "main.conf:2: workers[0].probes[0].critical: a threshold must not be negative");
        assert_error_prefix(state, P("{ kind = \"disk\"; path = \"/\"; critical = \"30s\"; }"),
                     "main.conf:2: workers[0].probes[0].critical: critical is a duration (\"30s\"); probe kind "
                     "\"disk\" takes a size (\"512M\") or a percentage (\"90%\")");
        assert_error_prefix(state, P("{ kind = \"disk\"; path = \"/\"; actions = [ \"pray\" ]; }"),
                     "main.conf:2: workers[0].probes[0].actions[0]: unknown action \"pray\"");
        assert_error_prefix(state, H("{ kind = \"disk\"; path = \"/\"; actions = [ \"restart\" ]; }"),
                     "main.conf:1: host_probes[0].actions[0]: a host probe has no worker to restart");
        assert_error_prefix(state, P("{ kind = \"disk\"; path = \"/\"; fail_after = 0; }"),
                     "main.conf:2: workers[0].probes[0].fail_after: ");
        assert_error_prefix(state, P("{ name = \"a b\"; kind = \"disk\"; path = \"/\"; }"),
                     "main.conf:2: workers[0].probes[0].name: invalid probe name \"a b\"");
        assert_error_prefix(state, W("probes = { kind = \"disk\"; };"),
                     "main.conf:2: workers[0].probes: expected a list of groups");
        assert_error_prefix(state, H("{ name = \"x\"; kind = \"disk\"; path = \"/\"; }, { name = \"x\"; kind = \"disk\"; "
                              "path = \"/tmp\"; }"),
                     "main.conf:1: host_probes[1].name: duplicate probe name \"x\"");
}

/* Without the kinds (vigilctl needs only paths), a probe's own keys are not judged. */
static void test_probes_without_kinds(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "main.conf"), *error = NULL;
        _cleanup_config_free_ Config *c = NULL;

        write_file(f, "main.conf", P("{ kind = \"future\"; whatever = 1; }"));
        assert_int_equal(config_parse_file(p, NULL, &c, &error), 0);
        assert_int_equal(c->workers[0].n_probes, 1);
        assert_null(c->workers[0].probes[0].spec);
        config_free(TAKE_PTR(c));
        assert_true(config_parse_file(p, &test_kinds, &c, &error) < 0);
}

/* ---- successful parses and defaults ---- */

static void test_empty_file_gives_zero_workers_and_default_dirs(void **state) {
        _cleanup_config_free_ Config *c = parse_ok(state, "");

        assert_int_equal(c->n_workers, 0);
        assert_string_equal(c->daemon.state_dir, CONFIG_DEFAULT_STATE_DIR);
        assert_string_equal(c->daemon.runtime_dir, CONFIG_DEFAULT_RUNTIME_DIR);
        assert_true(c->daemon.tilt_margin == CONFIG_DEFAULT_TILT_MARGIN);
        assert_true(c->daemon.tilt_settle == CONFIG_DEFAULT_TILT_SETTLE);
        assert_true(c->daemon.retention == 30 * USEC_PER_DAY);
        assert_false(c->daemon.store_sync_full);
        assert_int_equal(c->daemon.store_queue, 10000);
        assert_true(c->daemon.store_flush_interval == USEC_PER_SEC);
        assert_null(c->daemon.reader_group);
        assert_int_equal(c->daemon.reader_gid, (gid_t) -1);
        assert_non_null(strstr(c->path, "/main.conf"));
}

static void test_empty_workers_list_or_array_is_valid(void **state) {
        Config *c = parse_ok(state, "workers = ();\n");

        assert_int_equal(c->n_workers, 0);
        config_free(c);
        c = parse_ok(state, "workers = [];\n");
        assert_int_equal(c->n_workers, 0);
        config_free(c);
}

static void test_minimal_worker_gets_documented_defaults(void **state) {
        _cleanup_config_free_ Config *c =
                parse_ok(state, "workers = ( { name = \"api\"; command = [ \"/usr/bin/api\" ]; } );\n");
        const WorkerConfig *w;

        assert_int_equal(c->n_workers, 1);
        w = &c->workers[0];
        assert_string_equal(w->name, "api");
        assert_int_equal(strv_length(w->argv), 1);
        assert_string_equal(w->argv[0], "/usr/bin/api");
        assert_int_equal(w->line, 1);
        assert_non_null(strstr(w->file, "/main.conf"));
        assert_int_equal(w->instances, 1);
        assert_false(w->has_user);
        assert_null(w->user);
        assert_null(w->group);
        assert_null(w->cwd);
        assert_null(w->environment);
        assert_int_equal(w->umask, 0022);
        assert_true(w->rlimit_set[RLIMIT_NOFILE]);
        assert_int_equal(w->rlimits[RLIMIT_NOFILE].rlim_cur, 1024);
        assert_int_equal(w->rlimits[RLIMIT_NOFILE].rlim_max, 1024);
        assert_false(w->rlimit_set[RLIMIT_CORE]);
        assert_int_equal(w->restart, RESTART_ON_FAILURE);
        for (int code = 0; code < 256; code++)
                assert_int_equal(w->permanent_exit[code],
                                 (code >= 64 && code <= 68) || code == 77 || code == 78);
        assert_true(w->start_secs == 1 * USEC_PER_SEC);
        assert_int_equal(w->stop_signal, SIGTERM);
        assert_true(w->stop_timeout == 10 * USEC_PER_SEC);
        assert_true(w->resource_retry == 5 * USEC_PER_SEC);
        assert_true(w->resource_timeout == 5 * USEC_PER_MINUTE);
        assert_true(w->backoff.initial == 1 * USEC_PER_SEC);
        assert_true(w->backoff.max == 5 * USEC_PER_MINUTE);
        assert_true(w->backoff.factor == 2.0);
        assert_true(w->backoff.reset_after == 10 * USEC_PER_MINUTE);
        assert_true(w->backoff.immediate_first);
        assert_int_equal(w->breaker.failures, 5);
        assert_true(w->breaker.window == 2 * USEC_PER_MINUTE);
        assert_true(w->breaker.open_for == 1 * USEC_PER_MINUTE);
        assert_true(w->breaker.trial_ok == 10 * USEC_PER_SEC);
        assert_int_equal(w->output[0].kind, OUTPUT_JOURNAL);
        assert_int_equal(w->output[1].kind, OUTPUT_JOURNAL);
        assert_null(w->output[0].path);
        assert_int_equal(w->cgroups, CGROUP_AUTO);
        assert_false(w->notify);
        assert_true(w->start_timeout == 30 * USEC_PER_SEC);
        assert_true(w->watchdog == 0);
}

static void test_every_worker_key_is_parsed(void **state) {
        _cleanup_config_free_ Config *c = parse_ok(
                state,
                "daemon = { state_dir = \"/srv/vigil/state\"; runtime_dir = \"/srv/vigil/run\";\n"
                "           tilt_margin = \"250ms\"; tilt_settle = \"1m\";\n"
                "           retention = \"90d\"; store_sync = \"full\"; store_queue = 500;\n"
                "           store_flush_interval = \"250ms\"; reader_group = \"root\"; };\n"
                "workers = ( {\n"
                "  name = \"api-1_x\";\n"
                "  command = ( \"/usr/bin/api\", \"--port\", \"8080\", \"\" );\n"
                "  instances = 3;\n"
                "  user = \"root\";\n"
                "  cwd = \"/srv\";\n"
                "  environment = [ \"LANG=C.UTF-8\", \"EMPTY=\", \"URL=a=b\" ];\n"
                "  umask = \"0027\";\n"
                "  rlimits = { nofile = 65536; core = \"infinity\"; as = \"2G\"; memlock = 4096;\n"
                "              nice = 40;\n"
                "              cpu = \"infinity\"; stack = \"8M\"; };\n"
                "  restart = \"always\";\n"
                "  permanent_exit_codes = [ 78, 1 ];\n"
                "  start_secs = \"0\";\n"
                "  stop_signal = \"SIGINT\";\n"
                "  stop_timeout = \"1m30s\";\n"
                "  resource_retry = \"250ms\";\n"
                "  resource_timeout = \"infinity\";\n"
                "  backoff = { initial = \"0\"; max = \"30s\"; factor = 1.5; reset_after = \"1h\";\n"
                "              immediate_first = false; };\n"
                "  breaker = { failures = 64; window = \"10m\"; open_for = \"5m\"; trial_ok = \"30s\"; };\n"
                "  stdout = \"file:/var/log/api.log\";\n"
                "  stderr = \"null\";\n"
                "  cgroups = \"off\";\n"
                "  notify = true;\n"
                "  start_timeout = \"2m\";\n"
                "  watchdog = \"10s\";\n"
                "} );\n");
        const WorkerConfig *w = &c->workers[0];

        assert_string_equal(c->daemon.state_dir, "/srv/vigil/state");
        assert_string_equal(c->daemon.runtime_dir, "/srv/vigil/run");
        assert_true(c->daemon.tilt_margin == 250 * USEC_PER_MSEC);
        assert_true(c->daemon.tilt_settle == USEC_PER_MINUTE);
        assert_true(c->daemon.retention == 90 * USEC_PER_DAY);
        assert_true(c->daemon.store_sync_full);
        assert_int_equal(c->daemon.store_queue, 500);
        assert_true(c->daemon.store_flush_interval == 250 * USEC_PER_MSEC);
        assert_string_equal(c->daemon.reader_group, "root");
        assert_int_equal(c->daemon.reader_gid, 0);
        assert_string_equal(w->name, "api-1_x");
        assert_int_equal(strv_length(w->argv), 4);
        assert_string_equal(w->argv[2], "8080");
        assert_string_equal(w->argv[3], "");
        assert_int_equal(w->instances, 3);
        assert_true(w->has_user);
        assert_string_equal(w->user, "root");
        assert_int_equal(w->uid, 0);
        assert_int_equal(w->gid, 0);
        assert_string_equal(w->home, "/root");
        assert_non_null(w->shell);
        assert_true(w->n_supplementary_gids >= 1);
        assert_int_equal(w->supplementary_gids[0], 0);
        assert_string_equal(w->cwd, "/srv");
        assert_int_equal(strv_length(w->environment), 3);
        assert_string_equal(w->environment[2], "URL=a=b");
        assert_int_equal(w->umask, 0027);
        assert_int_equal(w->rlimits[RLIMIT_NOFILE].rlim_cur, 65536);
        assert_int_equal(w->rlimits[RLIMIT_NOFILE].rlim_max, 65536);
        assert_true(w->rlimit_set[RLIMIT_CORE]);
        assert_true(w->rlimits[RLIMIT_CORE].rlim_cur == RLIM_INFINITY);
        assert_true(w->rlimits[RLIMIT_AS].rlim_max == 2ULL << 30);
        assert_int_equal(w->rlimits[RLIMIT_MEMLOCK].rlim_cur, 4096);
        assert_int_equal(w->rlimits[RLIMIT_NICE].rlim_cur, 40);
        assert_true(w->rlimits[RLIMIT_CPU].rlim_cur == RLIM_INFINITY);
        assert_true(w->rlimits[RLIMIT_STACK].rlim_cur == 8ULL << 20);
        assert_false(w->rlimit_set[RLIMIT_NPROC]);
        assert_int_equal(w->restart, RESTART_ALWAYS);
        for (int code = 0; code < 256; code++)
                assert_int_equal(w->permanent_exit[code], code == 1 || code == 78);
        assert_true(w->start_secs == 0);
        assert_int_equal(w->stop_signal, SIGINT);
        assert_true(w->stop_timeout == 90 * USEC_PER_SEC);
        assert_true(w->resource_retry == 250 * USEC_PER_MSEC);
        assert_true(w->resource_timeout == USEC_INFINITY);
        assert_true(w->backoff.initial == 0);
        assert_true(w->backoff.max == 30 * USEC_PER_SEC);
        assert_true(w->backoff.factor == 1.5);
        assert_true(w->backoff.reset_after == USEC_PER_HOUR);
        assert_false(w->backoff.immediate_first);
        assert_int_equal(w->breaker.failures, 64);
        assert_true(w->breaker.window == 10 * USEC_PER_MINUTE);
        assert_true(w->breaker.open_for == 5 * USEC_PER_MINUTE);
        assert_true(w->breaker.trial_ok == 30 * USEC_PER_SEC);
        assert_int_equal(w->output[0].kind, OUTPUT_FILE);
        assert_string_equal(w->output[0].path, "/var/log/api.log");
        assert_int_equal(w->output[1].kind, OUTPUT_NULL);
        assert_null(w->output[1].path);
        assert_int_equal(w->cgroups, CGROUP_OFF);
        assert_true(w->notify);
        assert_true(w->start_timeout == 2 * USEC_PER_MINUTE);
        assert_true(w->watchdog == 10 * USEC_PER_SEC);
}

static void test_user_resolves_uid_gid_home_shell_and_groups(void **state) {
        _cleanup_config_free_ Config *c = NULL;
        struct passwd *pw = getpwnam("nobody");

        if (!pw)
                skip();
        c = parse_ok(state, W("user = \"nobody\";"));
        assert_true(c->workers[0].has_user);
        assert_int_equal(c->workers[0].uid, pw->pw_uid);
        assert_int_equal(c->workers[0].gid, pw->pw_gid);
        assert_string_equal(c->workers[0].home, pw->pw_dir);
        assert_string_equal(c->workers[0].shell, pw->pw_shell);
        assert_true(c->workers[0].n_supplementary_gids >= 1);
}

static void test_group_overrides_primary_gid(void **state) {
        _cleanup_config_free_ Config *c = NULL;
        struct group *gr = getgrnam("nogroup");

        if (!gr || !getpwnam("nobody"))
                skip();
        c = parse_ok(state, W("user = \"root\"; group = \"nogroup\";"));
        assert_int_equal(c->workers[0].uid, 0);
        assert_int_equal(c->workers[0].gid, gr->gr_gid);
        assert_string_equal(c->workers[0].group, "nogroup");
}

static void test_integer_forms_are_accepted_where_documented(void **state) {
        _cleanup_config_free_ Config *c =
                parse_ok(state, W("stop_signal = 9; backoff = { factor = 3; }; instances = 4096; rlimits = "
                                  "{ as = 5000000000; };"));

        assert_int_equal(c->workers[0].stop_signal, SIGKILL);
        assert_true(c->workers[0].backoff.factor == 3.0);
        assert_int_equal(c->workers[0].instances, 4096);
        assert_true(c->workers[0].rlimits[RLIMIT_AS].rlim_cur == 5000000000ULL);
}

static void test_empty_permanent_exit_codes_clears_the_list(void **state) {
        _cleanup_config_free_ Config *c = parse_ok(state, W("permanent_exit_codes = [];"));

        for (int code = 0; code < 256; code++)
                assert_false(c->workers[0].permanent_exit[code]);
}

static void test_find_worker_by_name(void **state) {
        _cleanup_config_free_ Config *c =
                parse_ok(state, "workers = ( { name = \"a\"; command = [ \"/a\" ]; }, { name = \"b\"; "
                                "command = [ \"/b\" ]; } );\n");

        assert_ptr_equal(config_find_worker(c, "b"), &c->workers[1]);
        assert_ptr_equal(config_find_worker(c, "a"), &c->workers[0]);
        assert_null(config_find_worker(c, "c"));
}

static void test_string_tables_round_trip(void **state) {
        for (RestartMode m = 0; m < _RESTART_MODE_MAX; m++)
                assert_int_equal(restart_mode_from_string(restart_mode_to_string(m)), m);
        for (OutputKind k = 0; k < _OUTPUT_KIND_MAX; k++)
                assert_int_equal(output_kind_from_string(output_kind_to_string(k)), k);
        for (CgroupMode m = 0; m < _CGROUP_MODE_MAX; m++)
                assert_int_equal(cgroup_mode_from_string(cgroup_mode_to_string(m)), m);
        assert_string_equal(restart_mode_to_string(RESTART_ON_FAILURE), "on-failure");
        assert_int_equal(restart_mode_from_string("sometimes"), _RESTART_MODE_INVALID);
        assert_null(cgroup_mode_to_string(_CGROUP_MODE_MAX));
}

static void test_config_free_accepts_null(void **state) {
        assert_null(config_free(NULL));
}

static void test_example_config_is_valid(void **state) {
        _cleanup_config_free_ Config *c = NULL;
        _cleanup_free_ char *error = NULL;

        if (!getpwnam("nobody") || !getgrnam("nogroup"))
                skip();
        assert_int_equal(config_parse_file(TEST_SRCDIR "/conf/vigil.conf.example", &test_kinds, &c, &error), 0);
        assert_null(error);
        assert_int_equal(c->n_workers, 3);
        assert_string_equal(c->workers[0].name, "api");
        assert_int_equal(c->workers[0].instances, 4);
        assert_true(c->workers[0].has_user);
        assert_true(c->workers[0].notify);
        assert_true(c->workers[0].watchdog == 15 * USEC_PER_SEC);
        assert_int_equal(c->workers[0].stop_signal, SIGINT);
        assert_int_equal(c->workers[1].output[1].kind, OUTPUT_FILE);
        assert_true(c->workers[1].rlimits[RLIMIT_AS].rlim_max == 4ULL << 30);
        assert_int_equal(c->workers[2].restart, RESTART_NEVER);
}

static void test_demo_config_is_valid(void **state) {
        _cleanup_config_free_ Config *c = NULL;
        _cleanup_free_ char *error = NULL;

        assert_int_equal(config_parse_file(TEST_SRCDIR "/conf/demo.conf", &test_kinds, &c, &error), 0);
        assert_null(error);
}

/* ---- file checks ---- */

static void test_missing_file_reports_enoent(void **state) {
        assert_file_error(state, "nope.conf", -ENOENT, "nope.conf: No such file or directory");
}

static void test_directory_as_config_file_is_refused(void **state) {
        write_file(*state, "d/x.conf", "");
        assert_file_error(state, "d", -EISDIR, "d: is a directory");
}

static void test_fifo_as_config_file_is_refused_without_blocking(void **state) {
        _cleanup_free_ char *p = path_in(*state, "fifo");

        assert_int_equal(mkfifo(p, 0600), 0);
        assert_file_error(state, "fifo", -EINVAL, "fifo: not a regular file");
}

static void test_world_writable_config_file_is_refused(void **state) {
        _cleanup_free_ char *p = path_in(*state, "main.conf");

        write_file(*state, "main.conf", "");
        assert_int_equal(chmod(p, 0666), 0);
        assert_file_error(state, "main.conf", -EPERM,
                          "main.conf: refusing config file writable by other users (mode 0666)");
}

static void test_group_writable_config_file_with_non_root_group_is_refused(void **state) {
        _cleanup_free_ char *p = path_in(*state, "main.conf");

        write_file(*state, "main.conf", "");
        if (chown(p, (uid_t) -1, 65534) < 0)
                skip();
        assert_int_equal(chmod(p, 0664), 0);
        assert_file_error(state, "main.conf", -EPERM,
                          "main.conf: refusing config file writable by group 65534 (mode 0664)");
}

static void test_group_writable_config_file_with_root_group_is_accepted(void **state) {
        _cleanup_free_ char *p = path_in(*state, "main.conf");
        _cleanup_free_ char *error = NULL;
        _cleanup_config_free_ Config *c = NULL;

        write_file(*state, "main.conf", "");
        if (chown(p, (uid_t) -1, 0) < 0)
                skip();
        assert_int_equal(chmod(p, 0664), 0);
        assert_int_equal(config_parse_file(p, &test_kinds, &c, &error), 0);
}

static void test_config_file_owned_by_another_user_is_refused(void **state) {
        _cleanup_free_ char *p = path_in(*state, "main.conf");

        if (geteuid() != 0)
                skip();
        write_file(*state, "main.conf", "");
        assert_int_equal(chown(p, 65534, 0), 0);
        assert_file_error(state, "main.conf", -EPERM,
                          "main.conf: refusing config file owned by another user (uid 65534)");
}

static void test_oversized_config_file_is_refused(void **state) {
        _cleanup_free_ char *big = malloc(CONFIG_FILE_SIZE_MAX + 2);
        _cleanup_free_ char *expected = NULL;

        assert_non_null(big);
        memset(big, '#', CONFIG_FILE_SIZE_MAX + 1);
        big[CONFIG_FILE_SIZE_MAX + 1] = '\0';
        write_file(*state, "main.conf", big);
        assert_true(asprintf(&expected, "main.conf: larger than %u bytes", CONFIG_FILE_SIZE_MAX) >= 0);
        assert_file_error(state, "main.conf", -EFBIG, expected);
}

static void test_nul_byte_is_refused_with_its_line(void **state) {
        _cleanup_free_ char *p = path_in(*state, "main.conf");
        int fd;

        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "a = 1;\nb = 2;\0 c = 3;\n", 22), 22);
        assert_int_equal(close(fd), 0);
        assert_file_error(state, "main.conf", -EINVAL, "main.conf:2: NUL byte in config file");
}

static void test_syntax_error_reports_file_and_line(void **state) {
        assert_error(state, "workers = (\n  { name = \"a\";\n    instances = ; }\n);\n",
                     "main.conf:3: syntax error: syntax error");
}

static void test_duplicate_setting_is_a_syntax_error(void **state) {
        assert_error(state, W("instances = 1;\ninstances = 2;"),
                     "main.conf:3: syntax error: duplicate setting name");
}

static void test_unterminated_comment_is_refused(void **state) {
        assert_error(state, "a = 1;\n/* no end\n\n", "main.conf:2: unterminated comment");
}

static void test_unterminated_string_is_refused(void **state) {
        assert_error(state, "daemon = {\n state_dir = \"/x;\n};\n", "main.conf:2: unterminated string");
}

/* ---- @include ---- */

static void test_include_of_directory_is_refused_without_exiting(void **state) {
        write_file(*state, "conf.d/a.conf", "");
        /* libconfig 1.5 itself would exit(2) here; getting a message back proves it never saw it. */
        write_file(*state, "main.conf", "daemon = { };\n\n@include \"conf.d\"\n");
        assert_file_error(state, "main.conf", -EISDIR, "main.conf:3: @include \"conf.d\": is a directory");
}

static void test_include_of_directory_in_nested_file_is_refused(void **state) {
        write_file(*state, "sub/dir/x", "");
        write_file(*state, "sub/inner.conf", "# nested\n@include \"dir\"\n");
        write_file(*state, "main.conf", "@include \"sub/inner.conf\"\n");
        assert_file_error(state, "main.conf", -EISDIR, "sub/inner.conf:2: @include \"dir\": is a directory");
}

static void test_include_of_missing_file_reports_file_and_line(void **state) {
        write_file(*state, "main.conf", "a = 1;\n  @include \"missing.conf\"\n");
        assert_file_error(state, "main.conf", -ENOENT,
                          "main.conf:2: @include \"missing.conf\": No such file or directory");
}

static void test_include_of_fifo_is_refused(void **state) {
        _cleanup_free_ char *p = path_in(*state, "pipe");

        assert_int_equal(mkfifo(p, 0600), 0);
        assert_error(state, "@include \"pipe\"\n", "main.conf:1: @include \"pipe\": not a regular file");
}

static void test_include_of_world_writable_file_is_refused(void **state) {
        _cleanup_free_ char *p = path_in(*state, "inc.conf");

        write_file(*state, "inc.conf", "");
        assert_int_equal(chmod(p, 0646), 0);
        write_file(*state, "main.conf", "@include \"inc.conf\"\n");
        assert_file_error(state, "main.conf", -EPERM,
                          "main.conf:1: @include \"inc.conf\": refusing config file writable by other users "
                          "(mode 0646)");
}

static void test_include_relative_paths_follow_the_including_file(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *main_conf = NULL, *abs = path_in(f, "abs.conf");
        _cleanup_config_free_ Config *c = NULL;

        write_file(f, "abs.conf", "{ name = \"abs\"; command = [ \"/abs\" ]; },\n");
        write_file(f, "sub/one.conf",
                   "{ name = \"one\"; command = [ \"/one\" ]; },\n@include \"two.conf\"\n");
        write_file(f, "sub/two.conf", "{ name = \"two\"; command = [ \"/two\" ]; }\n");
        /* A same-named file beside main.conf must not be picked for the nested include. */
        write_file(f, "two.conf", "this is not valid libconfig\n");
        assert_true(asprintf(&main_conf, "workers = (\n@include \"%s\"\n@include \"sub/one.conf\"\n);\n",
                             abs) >= 0);
        c = parse_ok(state, main_conf);
        assert_int_equal(c->n_workers, 3);
        assert_string_equal(c->workers[0].name, "abs");
        assert_string_equal(c->workers[2].name, "two");
}

static void test_settings_in_included_files_report_their_own_file_and_line(void **state) {
        Fixture *f = *state;
        _cleanup_config_free_ Config *c = NULL;
        _cleanup_free_ char *sub = path_in(f, "sub/w.conf"), *main_conf = path_in(f, "main.conf");

        write_file(f, "sub/w.conf", "\n\n{ name = \"inc\";\n  command = [ \"/x\" ]; }\n");
        c = parse_ok(state, "workers = (\n# first\n@include \"sub/w.conf\"\n,\n\n{ name = \"after\"; "
                            "command = [ \"/y\" ]; }\n);\n");
        assert_string_equal(c->workers[0].file, sub);
        assert_int_equal(c->workers[0].line, 3);
        assert_string_equal(c->workers[1].file, main_conf);
        assert_int_equal(c->workers[1].line, 6);
}

static void test_error_in_included_file_reports_its_file_and_line(void **state) {
        write_file(*state, "sub/w.conf",
                   "{ name = \"inc\";\n  command = [ \"/x\" ];\n  instances = \"two\"; }\n");
        assert_error(state, "workers = (\n@include \"sub/w.conf\"\n);\n",
                     "sub/w.conf:3: workers[0].instances: expected an integer, got a string");
}

static void test_error_after_an_include_reports_the_main_file_line(void **state) {
        write_file(*state, "inc.conf", "daemon = {\n state_dir = \"/a\";\n};");
        assert_error(state, "@include \"inc.conf\" # no newline at the end of inc.conf\n\nbogus = 1;\n",
                     "main.conf:3: bogus: unknown key");
}

static void test_syntax_error_in_included_file_reports_its_line(void **state) {
        write_file(*state, "inc.conf", "a = 1;\nb = ;\n");
        assert_error(state, "x = 1;\n@include \"inc.conf\"\n", "inc.conf:2: syntax error: syntax error");
}

static void test_empty_included_file_keeps_line_numbers(void **state) {
        write_file(*state, "empty.conf", "");
        assert_error(state, "@include \"empty.conf\"\nnope = 1;\n", "main.conf:2: nope: unknown key");
}

static void test_include_cycle_is_refused(void **state) {
        write_file(*state, "a.conf", "@include \"b.conf\"\n");
        write_file(*state, "b.conf", "\n@include \"a.conf\"\n");
        write_file(*state, "main.conf", "@include \"a.conf\"\n");
        assert_file_error(state, "main.conf", -ELOOP, "b.conf:2: @include \"a.conf\": include cycle");
}

static void test_self_include_is_refused(void **state) {
        write_file(*state, "main.conf", "@include \"main.conf\"\n");
        assert_file_error(state, "main.conf", -ELOOP, "main.conf:1: @include \"main.conf\": include cycle");
}

static void test_include_depth_is_limited_to_ten(void **state) {
        char name[32], content[64];

        /* main -> i1 -> ... -> i10 is allowed; i10 including i11 is one level too deep. */
        for (int i = 1; i <= 11; i++) {
                snprintf(name, sizeof(name), "i%d.conf", i);
                snprintf(content, sizeof(content), "@include \"i%d.conf\"\n", i + 1);
                write_file(*state, name, i == 11 ? "" : content);
        }
        write_file(*state, "main.conf", "@include \"i1.conf\"\n");
        assert_file_error(state, "main.conf", -ELOOP,
                          "i10.conf:1: @include \"i11.conf\": nested more than 10 levels deep");

        write_file(*state, "i10.conf", "");
        Config *c = NULL;
        _cleanup_free_ char *error = NULL;
        assert_int_equal(parse_in(*state, "main.conf", &c, &error), 0);
        config_free(c);
}

static void test_include_count_is_limited(void **state) {
        size_t n = 300 * sizeof("@include \"e.conf\"\n");
        _cleanup_free_ char *content = calloc(1, n);

        assert_non_null(content);
        for (int i = 0; i < 300; i++)
                strcat(content, "@include \"e.conf\"\n");
        write_file(*state, "e.conf", "");
        write_file(*state, "main.conf", content);
        assert_file_error(state, "main.conf", -E2BIG,
                          "main.conf:257: @include \"e.conf\": more than 256 includes");
}

static void test_expanded_size_is_limited(void **state) {
        _cleanup_free_ char *big = malloc(CONFIG_FILE_SIZE_MAX);
        _cleanup_free_ char *expected = NULL;

        /* Five includes of an almost maximal file: each file passes, the sum does not. */
        assert_non_null(big);
        memset(big, '#', CONFIG_FILE_SIZE_MAX - 2);
        big[CONFIG_FILE_SIZE_MAX - 2] = '\n';
        big[CONFIG_FILE_SIZE_MAX - 1] = '\0';
        write_file(*state, "big.conf", big);
        write_file(*state, "main.conf",
                   "@include \"big.conf\"\n@include \"big.conf\"\n@include \"big.conf\"\n"
                   "@include \"big.conf\"\n@include \"big.conf\"\n");
        assert_true(asprintf(&expected,
                             "main.conf:4: configuration larger than %u bytes after @include expansion",
                             4 * CONFIG_FILE_SIZE_MAX) >= 0);
        assert_file_error(state, "main.conf", -EFBIG, expected);
}

static void test_include_in_comments_and_strings_is_not_followed(void **state) {
        _cleanup_config_free_ Config *c =
                parse_ok(state, "# @include \"/\"\n"
                                "// @include \"/\"\n"
                                "/*\n@include \"/\"\n*/\n"
                                "daemon = { state_dir = \"/a\n@include \\\"/\\\"\"; };\n");

        assert_string_equal(c->daemon.state_dir, "/a\n@include \"/\"");
}

static void test_include_not_at_line_start_is_left_to_libconfig(void **state) {
        assert_error(state, "a = 1; @include \"/\"\n", "main.conf:1: syntax error: syntax error");
}

static void test_include_with_empty_path_is_refused(void **state) {
        assert_error(state, "@include \"\"\n", "main.conf:1: @include \"\": empty path");
}

static void test_include_with_unterminated_path_is_refused(void **state) {
        assert_error(state, "\n@include \"x.conf\n", "main.conf:2: @include: missing closing quote");
}

/* ---- unknown keys ---- */

static void test_unknown_top_level_key_is_refused(void **state) {
        assert_error(state, "daemon = { };\nworker = ();\n", "main.conf:2: worker: unknown key");
}

static void test_unknown_daemon_key_is_refused(void **state) {
        assert_error(state, "daemon = {\n  state_dir = \"/a\";\n  admin_group = \"vigil\";\n};\n",
                     "main.conf:3: daemon.admin_group: unknown key");
}

static void test_unknown_worker_key_is_refused(void **state) {
        assert_error(state, W("restart_policy = \"always\";"),
                     "main.conf:2: workers[0].restart_policy: unknown key");
}

static void test_unknown_backoff_key_is_refused(void **state) {
        assert_error(state, W("backoff = {\n initial = \"1s\";\n maximum = \"1m\"; };"),
                     "main.conf:4: workers[0].backoff.maximum: unknown key");
}

static void test_unknown_breaker_key_is_refused(void **state) {
        assert_error(state, W("breaker = { successes = 1; };"),
                     "main.conf:2: workers[0].breaker.successes: unknown key");
}

static void test_unknown_rlimit_is_refused(void **state) {
        assert_error(state, W("rlimits = { nofile = 10; files = 10; };"),
                     "main.conf:2: workers[0].rlimits.files: unknown key");
}

/* ---- structure and types ---- */

static void test_daemon_must_be_a_group(void **state) {
        assert_error(state, "daemon = \"/var/lib/vigil\";\n",
                     "main.conf:1: daemon: expected a group, got a string");
}

static void test_daemon_store_keys_are_checked(void **state) {
        assert_error(state, "daemon = {\n store_sync = \"sometimes\"; };\n",
                     "main.conf:2: daemon.store_sync: expected \"normal\" or \"full\", got \"sometimes\"");
        assert_error(state, "daemon = {\n\n store_queue = 10; };\n", "main.conf:3: daemon.store_queue: 10 is out of range 100..10000000");
        assert_error(state, "daemon = {\n reader_group = \"no-such-group-vigil\"; };\n",
                     "main.conf:2: daemon.reader_group: unknown group \"no-such-group-vigil\"");
        assert_error(state, "daemon = {\n retention = \"0\"; };\n", "main.conf:2: daemon.retention: must be greater than 0");
        assert_error(state, "daemon = {\n store_flush_interval = \"infinity\"; };\n",
                     "main.conf:2: daemon.store_flush_interval: \"infinity\" is not allowed here");
}

static void test_daemon_tilt_margin_must_be_positive(void **state) {
        assert_error(state, "daemon = {\n tilt_margin = \"0\"; };\n", "main.conf:2: daemon.tilt_margin: must be greater than 0");
}

static void test_daemon_relative_path_is_refused(void **state) {
        assert_error(state, "daemon = { runtime_dir = \"run/vigil\"; };\n",
                     "main.conf:1: daemon.runtime_dir: \"run/vigil\" is not an absolute path");
}

static void test_workers_must_be_a_list(void **state) {
        assert_error(state, "workers = { name = \"a\"; };\n",
                     "main.conf:1: workers: expected a list of groups ( { ... }, { ... } ), got a group");
}

static void test_worker_must_be_a_group(void **state) {
        assert_error(state, "workers = ( { name = \"a\"; command = [ \"/a\" ]; },\n \"b\" );\n",
                     "main.conf:2: workers[1]: expected a group { name = ...; command = [ ... ]; }, got a "
                     "string");
}

static void test_missing_name_is_refused(void **state) {
        assert_error(state, "workers = (\n { command = [ \"/bin/true\" ]; }\n);\n",
                     "main.conf:2: workers[0]: missing required key \"name\"");
}

static void test_missing_command_is_refused(void **state) {
        assert_error(state,
                     "workers = (\n { name = \"a\"; command = [ \"/a\" ]; },\n { name = \"b\"; }\n);\n",
                     "main.conf:3: workers[1]: missing required key \"command\"");
}

static void test_invalid_worker_name_is_refused(void **state) {
        assert_error(state, "workers = ( { name = \"a b\"; command = [ \"/a\" ]; } );\n",
                     "main.conf:1: workers[0].name: invalid worker name \"a b\": use 1..64 characters of "
                     "A-Z a-z 0-9 _ -");
        assert_error(state, "workers = ( { name = \"\"; command = [ \"/a\" ]; } );\n",
                     "main.conf:1: workers[0].name: invalid worker name \"\": use 1..64 characters of A-Z "
                     "a-z 0-9 _ -");
}

static void test_worker_name_of_65_characters_is_refused(void **state) {
        char name[66], content[256], expected[256];

        memset(name, 'n', 65);
        name[65] = '\0';
        snprintf(content, sizeof(content), "workers = ( { name = \"%s\"; command = [ \"/a\" ]; } );\n",
                 name);
        snprintf(expected, sizeof(expected),
                 "main.conf:1: workers[0].name: invalid worker name \"%s\": use 1..64 characters of A-Z a-z "
                 "0-9 _ -",
                 name);
        assert_error(state, content, expected);

        name[64] = '\0';
        snprintf(content, sizeof(content), "workers = ( { name = \"%s\"; command = [ \"/a\" ]; } );\n",
                 name);
        config_free(parse_ok(state, content));
}

static void test_duplicate_worker_name_mentions_first_definition(void **state) {
        _cleanup_free_ char *expected = NULL;

        assert_true(asprintf(&expected,
                             "main.conf:5: workers[2].name: duplicate worker name \"a\" (first defined at "
                             "%s/main.conf:2)",
                             ((Fixture *) *state)->dir) >= 0);
        assert_error(state,
                     "workers = (\n"
                     " { name = \"a\"; command = [ \"/a\" ]; },\n"
                     " { name = \"b\"; command = [ \"/b\" ]; },\n"
                     " { command = [ \"/c\" ];\n"
                     "   name = \"a\"; }\n"
                     ");\n",
                     expected);
}

static void test_command_as_plain_string_is_refused(void **state) {
        assert_error(state, "workers = ( { name = \"a\";\n command = \"/bin/x\"; } );\n",
                     "main.conf:2: workers[0].command: expected an array of strings such as "
                     "[ \"/usr/bin/server\", \"--port\", \"8080\" ], got a string");
}

static void test_empty_command_is_refused(void **state) {
        assert_error(state, "workers = ( { name = \"a\";\n command = [ ]; } );\n",
                     "main.conf:2: workers[0].command: must not be empty");
}

static void test_relative_argv0_is_refused(void **state) {
        assert_error(state, "workers = ( { name = \"a\";\n command = [\n \"bin/x\", \"-v\" ]; } );\n",
                     "main.conf:3: workers[0].command[0]: \"bin/x\" is not an absolute path");
}

static void test_command_with_non_string_element_is_refused(void **state) {
        assert_error(state,
                     "workers = ( { name = \"a\";\n command = ( \"/bin/x\", \"--port\",\n 8080 ); } );\n",
                     "main.conf:3: workers[0].command[2]: expected a string, got an integer");
}

static void test_command_with_more_than_1024_arguments_is_refused(void **state) {
        size_t n = strlen("workers = ( { name = \"a\"; command = [ ") + 1025 * 6 + 32;
        _cleanup_free_ char *content = malloc(n);
        char *p = content;

        assert_non_null(content);
        p = stpcpy(p, "workers = ( { name = \"a\"; command = [ \"/x\"");
        for (int i = 0; i < 1024; i++)
                p = stpcpy(p, ", \"a\"");
        stpcpy(p, " ]; } );\n");
        assert_error(state, content, "main.conf:1: workers[0].command: more than 1024 entries");
}

static void test_instances_as_string_is_refused(void **state) {
        assert_error(state, W("instances = \"two\";"),
                     "main.conf:2: workers[0].instances: expected an integer, got a string");
}

static void test_instances_out_of_range_is_refused(void **state) {
        assert_error(state, W("instances = 0;"),
                     "main.conf:2: workers[0].instances: 0 is out of range 1..4096");
        assert_error(state, W("instances = 4097;"),
                     "main.conf:2: workers[0].instances: 4097 is out of range 1..4096");
        assert_error(state, W("instances = 5000000000;"),
                     "main.conf:2: workers[0].instances: 5000000000 is out of range 1..4096");
}

static void test_integers_beyond_32_bits_keep_their_value(void **state) {
        /* libconfig 1.5 alone would wrap 4294967297 to 1 and accept it. */
        assert_error(state, W("instances = 4294967297;"),
                     "main.conf:2: workers[0].instances: 4294967297 is out of range 1..4096");
        assert_error(state, W("instances = 0x100000001;"),
                     "main.conf:2: workers[0].instances: 4294967297 is out of range 1..4096");
        assert_error(state, W("instances = -4294967295;"),
                     "main.conf:2: workers[0].instances: -4294967295 is out of range 1..4096");
}

static void test_integer_beyond_64_bits_is_refused(void **state) {
        write_file(*state, "main.conf", W("rlimits = { as = 9223372036854775808; };"));
        assert_file_error(state, "main.conf", -ERANGE,
                          "main.conf:2: integer 9223372036854775808 is too large");
}

static void test_large_numbers_in_names_floats_and_strings_are_left_alone(void **state) {
        _cleanup_config_free_ Config *c =
                parse_ok(state, "workers = ( { name = \"w\"; command = [ \"/x\", \"5000000000\" ];\n"
                                "backoff = { factor = 1.0000000000000000001; }; environment = [ "
                                "\"A=99999999999999999999\" ]; } );\n");

        assert_true(c->workers[0].backoff.factor == 1.0);
        assert_string_equal(c->workers[0].argv[1], "5000000000");
        assert_error(state, W("x5000000000 = .5000000000;"),
                     "main.conf:2: workers[0].x5000000000: unknown key");
}

static void test_notify_as_integer_is_refused(void **state) {
        assert_error(state, W("notify = 1;"),
                     "main.conf:2: workers[0].notify: expected true or false, got an integer");
}

static void test_unknown_user_is_refused(void **state) {
        assert_error(state, W("user = \"no-such-user-vigil\";"),
                     "main.conf:2: workers[0].user: unknown user \"no-such-user-vigil\"");
}

static void test_empty_user_is_refused(void **state) {
        assert_error(state, W("user = \"\";"), "main.conf:2: workers[0].user: must not be empty");
}

static void test_unknown_group_is_refused(void **state) {
        assert_error(state, W("user = \"root\";\ngroup = \"no-such-group-vigil\";"),
                     "main.conf:3: workers[0].group: unknown group \"no-such-group-vigil\"");
}

static void test_group_without_user_is_refused(void **state) {
        assert_error(state, W("group = \"root\";"), "main.conf:2: workers[0].group: group requires user");
}

static void test_relative_cwd_is_refused(void **state) {
        assert_error(state, W("cwd = \"srv\";"),
                     "main.conf:2: workers[0].cwd: \"srv\" is not an absolute path");
}

static void test_environment_entry_without_equals_is_refused(void **state) {
        assert_error(state, W("environment = [ \"A=1\",\n \"B\" ];"),
                     "main.conf:3: workers[0].environment[1]: \"B\" is not of the form NAME=VALUE");
}

static void test_environment_invalid_name_is_refused(void **state) {
        assert_error(state, W("environment = [ \"1A=1\" ];"),
                     "main.conf:2: workers[0].environment[0]: invalid variable name \"1A\"");
        assert_error(state, W("environment = [ \"A-B=1\" ];"),
                     "main.conf:2: workers[0].environment[0]: invalid variable name \"A-B\"");
        assert_error(state, W("environment = [ \"=1\" ];"),
                     "main.conf:2: workers[0].environment[0]: invalid variable name \"\"");
}

static void test_environment_reserved_name_is_refused(void **state) {
        assert_error(state, W("environment = [ \"NOTIFY_SOCKET=/tmp/x\" ];"),
                     "main.conf:2: workers[0].environment[0]: NOTIFY_SOCKET is set by vigild and cannot be "
                     "configured");
        assert_error(state, W("environment = [ \"VIGIL_INSTANCE=3\" ];"),
                     "main.conf:2: workers[0].environment[0]: VIGIL_INSTANCE is set by vigild and cannot be "
                     "configured");
        assert_error(state, W("environment = [ \"LISTEN_FDNAMES=x\" ];"),
                     "main.conf:2: workers[0].environment[0]: LISTEN_FDNAMES is set by vigild and cannot be "
                     "configured");
}

static void test_environment_duplicate_name_is_refused(void **state) {
        assert_error(state, W("environment = [ \"A=1\", \"AB=2\", \"A=3\" ];"),
                     "main.conf:2: workers[0].environment[2]: A is set twice");
}

static void test_environment_as_string_is_refused(void **state) {
        assert_error(state, W("environment = \"A=1\";"),
                     "main.conf:2: workers[0].environment: expected an array of strings such as [ "
                     "\"LANG=C.UTF-8\" ], got a string");
}

static void test_umask_as_integer_is_refused(void **state) {
        assert_error(
                state, W("umask = 022;"),
                "main.conf:2: workers[0].umask: expected an octal string such as \"022\", got an integer");
}

static void test_umask_out_of_range_or_not_octal_is_refused(void **state) {
        assert_error(state, W("umask = \"1000\";"),
                     "main.conf:2: workers[0].umask: invalid umask \"1000\": expected octal 0..0777");
        assert_error(state, W("umask = \"089\";"),
                     "main.conf:2: workers[0].umask: invalid umask \"089\": expected octal 0..0777");
}

static void test_rlimit_negative_is_refused(void **state) {
        assert_error(state, W("rlimits = { nofile = -1; };"),
                     "main.conf:2: workers[0].rlimits.nofile: -1 is out of range (must be >= 0)");
}

static void test_rlimit_size_string_only_for_byte_limits(void **state) {
        assert_error(
                state, W("rlimits = { nofile = \"4K\"; };"),
                "main.conf:2: workers[0].rlimits.nofile: expected an integer or \"infinity\", got \"4K\"");
        assert_error(
                state, W("rlimits = { as = \"4Q\"; };"),
                "main.conf:2: workers[0].rlimits.as: invalid size \"4Q\" (e.g. \"512K\", \"64M\", \"1G\")");
}

static void test_rlimit_nice_and_rtprio_are_bounded(void **state) {
        assert_error(state, W("rlimits = { nice = 41; };"),
                     "main.conf:2: workers[0].rlimits.nice: 41 is out of range 0..40");
        assert_error(state, W("rlimits = { rtprio = 100; };"),
                     "main.conf:2: workers[0].rlimits.rtprio: 100 is out of range 0..99");
}

static void test_rlimits_without_nofile_keep_the_default_nofile(void **state) {
        _cleanup_config_free_ Config *c = parse_ok(state, W("rlimits = { core = 0; };"));

        assert_true(c->workers[0].rlimit_set[RLIMIT_NOFILE]);
        assert_int_equal(c->workers[0].rlimits[RLIMIT_NOFILE].rlim_cur, 1024);
        assert_true(c->workers[0].rlimit_set[RLIMIT_CORE]);
        assert_int_equal(c->workers[0].rlimits[RLIMIT_CORE].rlim_max, 0);
}

static void test_invalid_restart_mode_is_refused(void **state) {
        assert_error(state, W("restart = \"on-crash\";"),
                     "main.conf:2: workers[0].restart: invalid restart mode \"on-crash\" (expected always, "
                     "on-failure or never)");
}

static void test_permanent_exit_code_out_of_range_is_refused(void **state) {
        assert_error(state, W("permanent_exit_codes = [ 64, 0 ];"),
                     "main.conf:2: workers[0].permanent_exit_codes[1]: 0 is out of range 1..255");
        assert_error(state, W("permanent_exit_codes = [ 256 ];"),
                     "main.conf:2: workers[0].permanent_exit_codes[0]: 256 is out of range 1..255");
}

static void test_permanent_exit_code_listed_twice_is_refused(void **state) {
        assert_error(state, W("permanent_exit_codes = [ 64, 64 ];"),
                     "main.conf:2: workers[0].permanent_exit_codes[1]: exit code 64 is listed twice");
}

static void test_permanent_exit_codes_as_integer_is_refused(void **state) {
        assert_error(state, W("permanent_exit_codes = 64;"),
                     "main.conf:2: workers[0].permanent_exit_codes: expected an array of exit codes such as "
                     "[ 64, 78 ], got an integer");
}

static void test_unknown_stop_signal_is_refused(void **state) {
        assert_error(state, W("stop_signal = \"SIGFOO\";"),
                     "main.conf:2: workers[0].stop_signal: unknown signal \"SIGFOO\" (e.g. \"TERM\", "
                     "\"SIGINT\", 15)");
        assert_error(state, W("stop_signal = 65;"),
                     "main.conf:2: workers[0].stop_signal: 65 is out of range 1..64");
        assert_error(state, W("stop_signal = true;"),
                     "main.conf:2: workers[0].stop_signal: expected a signal name or number, got a boolean");
}

static void test_duration_rejects_number_without_unit(void **state) {
        assert_error(state, W("stop_timeout = \"10\";"),
                     "main.conf:2: workers[0].stop_timeout: invalid duration \"10\": a unit is required, "
                     "e.g. \"10s\"");
}

static void test_duration_as_integer_is_refused(void **state) {
        assert_error(state, W("start_secs = 5;"),
                     "main.conf:2: workers[0].start_secs: expected a duration string such as \"10s\", got "
                     "an integer");
}

static void test_duration_with_unknown_unit_is_refused(void **state) {
        assert_error(state, W("backoff = { reset_after = \"10 minutes\"; };"),
                     "main.conf:2: workers[0].backoff.reset_after: invalid duration \"10 minutes\" (units: "
                     "us, ms, s, m, h, d, w)");
}

static void test_zero_stop_timeout_is_refused(void **state) {
        assert_error(state, W("stop_timeout = \"0\";"),
                     "main.conf:2: workers[0].stop_timeout: must be greater than 0");
        assert_error(state, W("start_timeout = \"0s\";"),
                     "main.conf:2: workers[0].start_timeout: must be greater than 0");
        assert_error(state, W("breaker = { window = \"0\"; };"),
                     "main.conf:2: workers[0].breaker.window: must be greater than 0");
}

static void test_infinite_stop_timeout_is_refused(void **state) {
        assert_error(state, W("stop_timeout = \"infinity\";"),
                     "main.conf:2: workers[0].stop_timeout: \"infinity\" is not allowed here");
        assert_error(state, W("watchdog = \"infinity\";"),
                     "main.conf:2: workers[0].watchdog: \"infinity\" is not allowed here");
}

static void test_duration_overflow_is_refused(void **state) {
        assert_error(state, W("watchdog = \"99999999999w\";"),
                     "main.conf:2: workers[0].watchdog: duration \"99999999999w\" is too large");
}

static void test_backoff_max_below_initial_is_refused(void **state) {
        assert_error(state, W("backoff = { initial = \"10s\";\n max = \"5s\"; };"),
                     "main.conf:3: workers[0].backoff.max: must not be less than initial (10s)");
        assert_error(state, W("backoff = { initial = \"10m\"; };"),
                     "main.conf:2: workers[0].backoff.initial: must not exceed max (default 5m)");
}

static void test_backoff_factor_out_of_range_is_refused(void **state) {
        assert_error(state, W("backoff = { factor = 0.5; };"),
                     "main.conf:2: workers[0].backoff.factor: 0.5 is out of range 1.0..100.0");
        assert_error(state, W("backoff = { factor = 101; };"),
                     "main.conf:2: workers[0].backoff.factor: 101 is out of range 1.0..100.0");
        assert_error(state, W("backoff = { factor = \"2\"; };"),
                     "main.conf:2: workers[0].backoff.factor: expected a number, got a string");
}

static void test_backoff_must_be_a_group(void **state) {
        assert_error(state, W("backoff = \"1s\";"),
                     "main.conf:2: workers[0].backoff: expected a group, got a string");
}

static void test_breaker_failures_out_of_range_is_refused(void **state) {
        assert_error(state, W("breaker = { failures = 65; };"),
                     "main.conf:2: workers[0].breaker.failures: 65 is out of range 1..64");
        assert_error(state, W("breaker = { failures = 0; };"),
                     "main.conf:2: workers[0].breaker.failures: 0 is out of range 1..64");
}

static void test_output_relative_file_is_refused(void **state) {
        assert_error(state, W("stderr = \"file:log/err.log\";"),
                     "main.conf:2: workers[0].stderr: file path \"log/err.log\" is not absolute");
}

static void test_invalid_output_is_refused(void **state) {
        assert_error(state, W("stdout = \"syslog\";"),
                     "main.conf:2: workers[0].stdout: invalid output \"syslog\" (expected journal, null or "
                     "file:/absolute/path)");
}

static void test_invalid_cgroups_mode_is_refused(void **state) {
        assert_error(state, W("cgroups = \"on\";"),
                     "main.conf:2: workers[0].cgroups: invalid cgroups mode \"on\" (expected auto or off)");
}

static void test_first_error_wins(void **state) {
        assert_error(state, W("instances = 0;\nnotify = 1;"),
                     "main.conf:2: workers[0].instances: 0 is out of range 1..4096");
}

static void test_error_message_is_optional(void **state) {
        Config *c = NULL;

        write_file(*state, "main.conf", "bogus = 1;\n");
        assert_int_equal(parse_in(*state, "main.conf", &c, NULL), -EINVAL);
        assert_null(c);
}

#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_empty_file_gives_zero_workers_and_default_dirs),
                T(test_empty_workers_list_or_array_is_valid),
                T(test_minimal_worker_gets_documented_defaults),
                T(test_every_worker_key_is_parsed),
                T(test_user_resolves_uid_gid_home_shell_and_groups),
                T(test_group_overrides_primary_gid),
                T(test_integer_forms_are_accepted_where_documented),
                T(test_empty_permanent_exit_codes_clears_the_list),
                T(test_find_worker_by_name),
                T(test_string_tables_round_trip),
                T(test_config_free_accepts_null),
                T(test_example_config_is_valid),
                T(test_demo_config_is_valid),
                T(test_missing_file_reports_enoent),
                T(test_directory_as_config_file_is_refused),
                T(test_fifo_as_config_file_is_refused_without_blocking),
                T(test_world_writable_config_file_is_refused),
                T(test_group_writable_config_file_with_non_root_group_is_refused),
                T(test_group_writable_config_file_with_root_group_is_accepted),
                T(test_config_file_owned_by_another_user_is_refused),
                T(test_oversized_config_file_is_refused),
                T(test_nul_byte_is_refused_with_its_line),
                T(test_syntax_error_reports_file_and_line),
                T(test_duplicate_setting_is_a_syntax_error),
                T(test_unterminated_comment_is_refused),
                T(test_unterminated_string_is_refused),
                T(test_include_of_directory_is_refused_without_exiting),
                T(test_include_of_directory_in_nested_file_is_refused),
                T(test_include_of_missing_file_reports_file_and_line),
                T(test_include_of_fifo_is_refused),
                T(test_include_of_world_writable_file_is_refused),
                T(test_include_relative_paths_follow_the_including_file),
                T(test_settings_in_included_files_report_their_own_file_and_line),
                T(test_error_in_included_file_reports_its_file_and_line),
                T(test_error_after_an_include_reports_the_main_file_line),
                T(test_syntax_error_in_included_file_reports_its_line),
                T(test_empty_included_file_keeps_line_numbers),
                T(test_include_cycle_is_refused),
                T(test_self_include_is_refused),
                T(test_include_depth_is_limited_to_ten),
                T(test_include_count_is_limited),
                T(test_expanded_size_is_limited),
                T(test_include_in_comments_and_strings_is_not_followed),
                T(test_include_not_at_line_start_is_left_to_libconfig),
                T(test_include_with_empty_path_is_refused),
                T(test_include_with_unterminated_path_is_refused),
                T(test_unknown_top_level_key_is_refused),
                T(test_unknown_daemon_key_is_refused),
                T(test_unknown_worker_key_is_refused),
                T(test_unknown_backoff_key_is_refused),
                T(test_unknown_breaker_key_is_refused),
                T(test_unknown_rlimit_is_refused),
                T(test_daemon_must_be_a_group),
                T(test_daemon_relative_path_is_refused),
                T(test_daemon_tilt_margin_must_be_positive),
                T(test_daemon_store_keys_are_checked),
                T(test_workers_must_be_a_list),
                T(test_worker_must_be_a_group),
                T(test_missing_name_is_refused),
                T(test_missing_command_is_refused),
                T(test_invalid_worker_name_is_refused),
                T(test_worker_name_of_65_characters_is_refused),
                T(test_duplicate_worker_name_mentions_first_definition),
                T(test_command_as_plain_string_is_refused),
                T(test_empty_command_is_refused),
                T(test_relative_argv0_is_refused),
                T(test_command_with_non_string_element_is_refused),
                T(test_command_with_more_than_1024_arguments_is_refused),
                T(test_instances_as_string_is_refused),
                T(test_instances_out_of_range_is_refused),
                T(test_integers_beyond_32_bits_keep_their_value),
                T(test_integer_beyond_64_bits_is_refused),
                T(test_large_numbers_in_names_floats_and_strings_are_left_alone),
                T(test_notify_as_integer_is_refused),
                T(test_unknown_user_is_refused),
                T(test_empty_user_is_refused),
                T(test_unknown_group_is_refused),
                T(test_group_without_user_is_refused),
                T(test_relative_cwd_is_refused),
                T(test_environment_entry_without_equals_is_refused),
                T(test_environment_invalid_name_is_refused),
                T(test_environment_reserved_name_is_refused),
                T(test_environment_duplicate_name_is_refused),
                T(test_environment_as_string_is_refused),
                T(test_umask_as_integer_is_refused),
                T(test_umask_out_of_range_or_not_octal_is_refused),
                T(test_rlimit_negative_is_refused),
                T(test_rlimit_size_string_only_for_byte_limits),
                T(test_rlimit_nice_and_rtprio_are_bounded),
                T(test_rlimits_without_nofile_keep_the_default_nofile),
                T(test_invalid_restart_mode_is_refused),
                T(test_permanent_exit_code_out_of_range_is_refused),
                T(test_permanent_exit_code_listed_twice_is_refused),
                T(test_permanent_exit_codes_as_integer_is_refused),
                T(test_unknown_stop_signal_is_refused),
                T(test_duration_rejects_number_without_unit),
                T(test_duration_as_integer_is_refused),
                T(test_duration_with_unknown_unit_is_refused),
                T(test_zero_stop_timeout_is_refused),
                T(test_infinite_stop_timeout_is_refused),
                T(test_duration_overflow_is_refused),
                T(test_backoff_max_below_initial_is_refused),
                T(test_backoff_factor_out_of_range_is_refused),
                T(test_backoff_must_be_a_group),
                T(test_breaker_failures_out_of_range_is_refused),
                T(test_output_relative_file_is_refused),
                T(test_invalid_output_is_refused),
                T(test_invalid_cgroups_mode_is_refused),
                T(test_first_error_wins),
                T(test_error_message_is_optional),
                T(test_probe_defaults),
                T(test_starved_bounds),
                T(test_probe_errors),
                T(test_probes_without_kinds),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
