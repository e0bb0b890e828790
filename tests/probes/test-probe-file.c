/* The file probe's mapping from a reading to a result (existence, max_age, min_size/max_size,
 * the checksum's verdicts, message and evidence) and its config checks; then the real thing on
 * temporary files with an sd-event loop: the content hashed in 1 MiB steps across loop
 * iterations, the verdict kept while (dev, ino, size, mtime, ctime) stay the same, a changed
 * file hashed again, a file over checksum_max_size not hashed at all, a FIFO refused without
 * blocking, and a cancelled hash leaving no fd behind. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config-parse.h"
#include "probe-file.h"
#include "probe.h"
#include "sha256.h"
#include "test-util.h"

#define SEC USEC_PER_SEC
#define ABC_SHA256 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static const ConfigKinds kinds = { .probe_kind_at = probe_kind_spec_at };

/* Parses a config whose host_probes is the one probe `probe` (libconfig text). */
static int parse(const char *probe, Config **ret, char **ret_error) {
        char path[] = "/tmp/vigil-test-probe-file.XXXXXX";
        int fd = mkstemp(path), r;
        FILE *f;

        assert_true(fd >= 0);
        f = fdopen(fd, "w");
        assert_non_null(f);
        fprintf(f, "host_probes = ( %s );\n", probe);
        assert_int_equal(fclose(f), 0);
        r = config_parse_file(path, &kinds, ret, ret_error);
        (void) unlink(path);
        return r;
}

static Config *parse_ok(const char *probe) {
        Config *c = NULL;
        char *error = NULL;

        if (parse(probe, &c, &error) < 0)
                fail_msg("%s", error);
        assert_int_equal(c->n_host_probes, 1);
        return c;
}

static void assert_error(const char *probe, const char *want) {
        Config *c = NULL;
        char *error = NULL;

        assert_int_equal(parse(probe, &c, &error), -EINVAL);
        assert_non_null(error);
        if (!strstr(error, want))
                fail_msg("error \"%s\" does not contain \"%s\"", error, want);
        free(error);
}

static ProbeResult judge(const Config *c, const FileReading *f) {
        ProbeResult r;

        probe_result_init(&r);
        probe_file_judge(&c->host_probes[0], f, &r);
        return r;
}

static void test_missing_file_is_critical(void **state) {
        Config *c = parse_ok("{ kind = \"file\"; path = \"/run/app/heartbeat\"; }");
        FileReading f = {};
        char json[PROBE_EVIDENCE_MAX + 2];
        ProbeResult r = judge(c, &f);

        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_string_equal(r.message, "/run/app/heartbeat does not exist");
        (void) snprintf(json, sizeof json, "{%s}", r.evidence);
        assert_string_equal(json, "{\"path\":\"/run/app/heartbeat\",\"exists\":false}");
        assert_true(probe_file_fails_before_checksum(&c->host_probes[0], &f));

        f = (FileReading) { .exists = true, .size = 10, .age = 5 * SEC };
        r = judge(c, &f);
        assert_int_equal(r.status, PROBE_OK);
        assert_string_equal(r.message, "/run/app/heartbeat: 10, modified 5s ago");
        assert_true(r.value == 10.0);
        config_free(c);
}

static void test_max_age_is_a_heartbeat(void **state) {
        Config *c = parse_ok("{ kind = \"file\"; path = \"/run/hb\"; max_age = \"30s\"; }");
        FileReading f = { .exists = true, .size = 0, .age = 29 * SEC };
        ProbeResult r = judge(c, &f);

        assert_int_equal(r.status, PROBE_OK);
        assert_true(r.value == 29.0);
        assert_true(r.threshold == 30.0);
        assert_false(probe_file_fails_before_checksum(&c->host_probes[0], &f));

        f.age = 42 * SEC;
        r = judge(c, &f);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_true(r.value == 42.0);
        assert_string_equal(r.message, "/run/hb: last modified 42s ago, more than max_age 30s");
        assert_true(probe_file_fails_before_checksum(&c->host_probes[0], &f));
        config_free(c);
}

static void test_size_bounds(void **state) {
        Config *c = parse_ok(
                "{ kind = \"file\"; path = \"/srv/model.bin\"; min_size = \"1M\"; max_size = 4194304; }");
        FileReading f = { .exists = true, .size = 512 * 1024 };
        ProbeResult r = judge(c, &f);

        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_string_equal(r.message, "/srv/model.bin: 512K, below min_size 1M");
        assert_true(r.threshold == 1024.0 * 1024.0);

        f.size = 5ULL << 20;
        r = judge(c, &f);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_string_equal(r.message, "/srv/model.bin: 5M, above max_size 4M");

        f.size = 2ULL << 20;
        r = judge(c, &f);
        assert_int_equal(r.status, PROBE_OK);
        config_free(c);
}

static void test_checksum_verdicts(void **state) {
        Config *c =
                parse_ok("{ kind = \"file\"; path = \"/srv/m\\\"x\"; checksum = \"sha256:" ABC_SHA256 "\"; "
                         "checksum_max_size = \"1M\"; }");
        FileReading f = { .exists = true, .size = 3, .age = SEC, .checksum = FILE_CHECKSUM_MATCH,
                          .sha256 = ABC_SHA256 };
        char json[PROBE_EVIDENCE_MAX + 2];
        ProbeResult r = judge(c, &f);

        assert_int_equal(r.status, PROBE_OK);
        assert_string_equal(r.message, "/srv/m\"x: 3, modified 1s ago, checksum verified");
        /* The path is escaped: the evidence stays JSON. */
        (void) snprintf(json, sizeof json, "{%s}", r.evidence);
        assert_string_equal(json, "{\"path\":\"/srv/m\\\"x\",\"exists\":true,\"size\":3,\"age_sec\":1.000,"
                                  "\"checksum\":\"match\",\"sha256\":\"" ABC_SHA256 "\",\"cached\":false}");

        f.checksum = FILE_CHECKSUM_MISMATCH;
        f.cached = true;
        r = judge(c, &f);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_string_equal(r.message,
                            "/srv/m\"x: content differs from its checksum (sha256 is ba7816bf8f01cfea...)");
        assert_non_null(strstr(r.evidence, "\"checksum\":\"mismatch\""));
        assert_non_null(strstr(r.evidence, "\"cached\":true"));

        f = (FileReading) { .exists = true, .size = 2ULL << 20, .checksum = FILE_CHECKSUM_TOO_LARGE };
        r = judge(c, &f);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_string_equal(r.message, "/srv/m\"x: 2M is more than checksum_max_size 1M: not hashed");

        f.checksum = FILE_CHECKSUM_CHANGING;
        r = judge(c, &f);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_string_equal(r.message, "/srv/m\"x changed while it was being hashed");

        f.checksum = FILE_CHECKSUM_ERROR;
        f.error = EACCES;
        r = judge(c, &f);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_string_equal(r.message, "/srv/m\"x: cannot be hashed: Permission denied");
        config_free(c);
}

static void test_config_errors(void **state) {
        assert_error("{ kind = \"file\"; max_age = \"1m\"; }",
                     "host_probes[0]: missing required key \"path\"");
        assert_error("{ kind = \"file\"; path = \"rel/x\"; }", "host_probes[0].path:");
        assert_error("{ kind = \"file\"; path = \"/x\"; max_age = \"0\"; }",
                     "host_probes[0].max_age: must be greater than 0");
        assert_error("{ kind = \"file\"; path = \"/x\"; max_age = 30; }",
                     "host_probes[0].max_age: expected a duration");
        assert_error(
                "{ kind = \"file\"; path = \"/x\"; min_size = \"10%\"; }",
                "host_probes[0].min_size: expected a number (1000) or a size (\"512M\"), got a percentage");
        assert_error("{ kind = \"file\"; path = \"/x\"; min_size = \"2M\"; max_size = \"1M\"; }",
                     "host_probes[0].min_size: must not be above max_size");
        assert_error(
                "{ kind = \"file\"; path = \"/x\"; checksum = \"md5:d41d8cd98f00b204e9800998ecf8427e\"; }",
                "host_probes[0].checksum: invalid checksum \"md5:d41d8cd98f00b204e9800998ecf8427e\": "
                "expected \"sha256:\" and 64 hex digits");
        assert_error("{ kind = \"file\"; path = \"/x\"; checksum = \"sha256:abc\"; }",
                     "host_probes[0].checksum: invalid checksum");
        assert_error("{ kind = \"file\"; path = \"/x\"; checksum = 5; }",
                     "host_probes[0].checksum: expected a string");
        assert_error("{ kind = \"file\"; path = \"/x\"; checksum_max_size = \"1G\"; }",
                     "host_probes[0].checksum_max_size: has no use without \"checksum\"");
        assert_error("{ kind = \"file\"; path = \"/x\"; critical = \"1M\"; }",
                     "probe kind \"file\" takes no critical threshold");
        assert_error("{ kind = \"file\"; path = \"/x\"; resource = \"cpu\"; }", "host_probes[0].resource:");
}

/* ---- the real thing ---- */

typedef struct Run {
        sd_event *event;
        ProbeEnv env;
        ProbeCheck check;
        bool done;
        ProbeResult result;
} Run;

static void on_done(ProbeCheck *c, const ProbeResult *r, void *userdata) {
        Run *run = userdata;

        assert_false(run->done);
        run->done = true;
        run->result = *r;
}

/* Takes one sample; returns how many loop iterations it took (0: answered at once). */
static unsigned sample(Run *run, ProbeResult *ret) {
        ProbeTarget t = { .instance = -1, .name = "host" };
        unsigned n = 0;
        int k;

        run->done = false;
        k = probe_check_start(&run->check, &t, ret);
        if (k == 0)
                return 0;
        assert_int_equal(k, 1);
        while (!run->done) {
                assert_true(sd_event_run(run->event, 0) >= 0);
                assert_true(++n < 1000);
        }
        *ret = run->result;
        return n;
}

static void write_file(const char *path, size_t size, char fill) {
        char *buf = malloc(size ?: 1);
        FILE *f;

        assert_non_null(buf);
        memset(buf, fill, size);
        f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(buf, 1, size, f), size);
        assert_int_equal(fclose(f), 0);
        free(buf);
}

static void test_hash_in_steps_cached_and_redone_on_change(void **state) {
        char dir[] = "/tmp/vigil-test-probe-file.XXXXXX", path[64], conf[256], hex[SHA256_HEX_SIZE];
        size_t size = 2 * 1024 * 1024 + 512 * 1024;   /* 2.5 MiB: three reads */
        uint8_t digest[SHA256_DIGEST_SIZE];
        unsigned n_fds = count_fds(), loop_fds, steps;
        char *content;
        Config *c;
        Run run = {};
        ProbeResult r;

        assert_non_null(mkdtemp(dir));
        (void) snprintf(path, sizeof path, "%s/model.bin", dir);
        write_file(path, size, 'm');
        content = malloc(size);
        assert_non_null(content);
        memset(content, 'm', size);
        sha256(content, size, digest);
        free(content);
        (void) snprintf(conf, sizeof conf, "{ kind = \"file\"; path = \"%s\"; checksum = \"sha256:%s\"; }",
                        path, sha256_to_hex(digest, hex));
        c = parse_ok(conf);

        assert_int_equal(sd_event_new(&run.event), 0);
        loop_fds = count_fds();
        run.env = (ProbeEnv) { .event = run.event };
        assert_int_equal(
                probe_check_init(&run.check, &probe_file_ops, &c->host_probes[0], &run.env, on_done, &run),
                0);

        steps = sample(&run, &r);
        assert_true(steps >= 4);     /* three reads and the end, one per loop iteration */
        assert_int_equal(r.status, PROBE_OK);
        assert_non_null(strstr(r.message, "checksum verified"));
        assert_non_null(strstr(r.evidence, hex));
        assert_non_null(strstr(r.evidence, "\"cached\":false"));
        assert_int_equal(count_fds(), loop_fds);

        /* Unchanged: no hashing, the verdict stands. */
        assert_int_equal(sample(&run, &r), 0);
        assert_int_equal(r.status, PROBE_OK);
        assert_non_null(strstr(r.evidence, "\"cached\":true"));

        /* Same size, other content: (mtime, ctime) moved, so it is hashed again and differs. */
        write_file(path, size, 'x');
        assert_true(sample(&run, &r) > 0);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_non_null(strstr(r.message, "content differs from its checksum"));
        assert_null(strstr(r.evidence, hex));
        /* ... and the mismatch is cached too. */
        assert_int_equal(sample(&run, &r), 0);
        assert_int_equal(r.status, PROBE_CRITICAL);

        /* Put back (a new inode, as a deploy would): verified again. */
        assert_int_equal(unlink(path), 0);
        write_file(path, size, 'm');
        assert_true(sample(&run, &r) > 0);
        assert_int_equal(r.status, PROBE_OK);

        /* A hash cancelled midway (a timeout) leaves nothing open and calls nothing back. */
        write_file(path, size, 'y');
        run.done = false;
        assert_int_equal(probe_check_start(&run.check, &(ProbeTarget) { .instance = -1 }, &r), 1);
        assert_true(sd_event_run(run.event, 0) >= 0);
        probe_check_cancel(&run.check);
        for (unsigned k = 0; k < 10; k++)
                assert_true(sd_event_run(run.event, 0) >= 0);
        assert_false(run.done);
        assert_int_equal(count_fds(), loop_fds);

        /* Gone: CRITICAL, at once. */
        assert_int_equal(unlink(path), 0);
        assert_int_equal(sample(&run, &r), 0);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_non_null(strstr(r.message, "does not exist"));

        probe_check_release(&run.check);
        sd_event_unref(run.event);
        config_free(c);
        assert_int_equal(rmdir(dir), 0);
        assert_int_equal(count_fds(), n_fds);
}

static void test_too_large_and_fifo_are_unknown_without_blocking(void **state) {
        char dir[] = "/tmp/vigil-test-probe-file.XXXXXX", path[64], fifo[64], conf[512];
        Config *c;
        Run run = {};
        ProbeResult r;

        assert_non_null(mkdtemp(dir));
        (void) snprintf(path, sizeof path, "%s/big", dir);
        write_file(path, 4096, 'b');
        (void) snprintf(conf, sizeof conf,
                        "{ kind = \"file\"; path = \"%s\"; checksum = \"sha256:" ABC_SHA256 "\"; "
                        "checksum_max_size = 4095; }",
                        path);
        c = parse_ok(conf);
        assert_int_equal(sd_event_new(&run.event), 0);
        run.env = (ProbeEnv) { .event = run.event };
        assert_int_equal(
                probe_check_init(&run.check, &probe_file_ops, &c->host_probes[0], &run.env, on_done, &run),
                0);
        assert_int_equal(sample(&run, &r), 0);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_non_null(strstr(r.message, "big: 4K is more than checksum_max_size 3.999K: not hashed"));
        probe_check_release(&run.check);
        config_free(c);

        /* A FIFO in the file's place: open() must not wait for a writer. */
        (void) snprintf(fifo, sizeof fifo, "%s/fifo", dir);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        (void) snprintf(conf, sizeof conf,
                        "{ kind = \"file\"; path = \"%s\"; checksum = \"sha256:" ABC_SHA256 "\"; }", fifo);
        c = parse_ok(conf);
        assert_int_equal(
                probe_check_init(&run.check, &probe_file_ops, &c->host_probes[0], &run.env, on_done, &run),
                0);
        assert_int_equal(sample(&run, &r), 0);
        assert_int_equal(r.status, PROBE_UNKNOWN);
        assert_non_null(strstr(r.message, "cannot be hashed: Invalid argument"));
        probe_check_release(&run.check);
        config_free(c);

        sd_event_unref(run.event);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(unlink(fifo), 0);
        assert_int_equal(rmdir(dir), 0);
}

/* The age comes from the real mtime. */
static void test_stale_heartbeat_file(void **state) {
        char dir[] = "/tmp/vigil-test-probe-file.XXXXXX", path[64], conf[256];
        struct timeval tv[2];
        Config *c;
        Run run = {};
        ProbeResult r;

        assert_non_null(mkdtemp(dir));
        (void) snprintf(path, sizeof path, "%s/hb", dir);
        write_file(path, 0, 0);
        (void) snprintf(conf, sizeof conf, "{ kind = \"file\"; path = \"%s\"; max_age = \"1m\"; }", path);
        c = parse_ok(conf);
        assert_int_equal(
                probe_check_init(&run.check, &probe_file_ops, &c->host_probes[0], NULL, on_done, &run), 0);
        assert_int_equal(sample(&run, &r), 0);
        assert_int_equal(r.status, PROBE_OK);

        assert_int_equal(gettimeofday(&tv[0], NULL), 0);
        tv[0].tv_sec -= 120;
        tv[1] = tv[0];
        assert_int_equal(utimes(path, tv), 0);
        assert_int_equal(sample(&run, &r), 0);
        assert_int_equal(r.status, PROBE_CRITICAL);
        assert_true(r.value >= 120.0 && r.value < 130.0);
        assert_non_null(strstr(r.message, "more than max_age 1m"));
        probe_check_release(&run.check);
        config_free(c);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_missing_file_is_critical),
                cmocka_unit_test(test_max_age_is_a_heartbeat),
                cmocka_unit_test(test_size_bounds),
                cmocka_unit_test(test_checksum_verdicts),
                cmocka_unit_test(test_config_errors),
                cmocka_unit_test(test_hash_in_steps_cached_and_redone_on_change),
                cmocka_unit_test(test_too_large_and_fifo_are_unknown_without_blocking),
                cmocka_unit_test(test_stale_heartbeat_file),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
