/* The file probe: a file that must exist, be fresh (max_age, as monit's timestamp test: a
 * heartbeat file some job touches), have a plausible size, or hold exactly the content whose
 * SHA-256 the operator wrote down (data or model files that corruption would break). One stat()
 * per sample; the content is hashed only when (dev, ino, size, mtime, ctime) changed since the
 * last verified sample, never beyond checksum_max_size, and in 1 MiB reads, one per loop
 * iteration at idle priority (a defer source), so that hashing a large file never holds the
 * loop for longer than one read. Non-logging. */

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "escape.h"
#include "parse-util.h"
#include "probe-file.h"

#define FILE_HASH_CHUNK (1024U * 1024U)
#define FILE_DEFAULT_CHECKSUM_MAX_SIZE (1024.0 * 1024.0 * 1024.0)

static const char *const probe_file_checksum_table[_FILE_CHECKSUM_MAX] = {
        [FILE_CHECKSUM_NONE] = "unchecked",
        [FILE_CHECKSUM_MATCH] = "match",
        [FILE_CHECKSUM_MISMATCH] = "mismatch",
        [FILE_CHECKSUM_TOO_LARGE] = "too-large",
        [FILE_CHECKSUM_CHANGING] = "changing",
        [FILE_CHECKSUM_ERROR] = "error",
};
DEFINE_STRING_TABLE_LOOKUP(probe_file_checksum, FileChecksum);

typedef struct FileSettings {
        char *path;
        usec_t max_age;              /* 0: not checked */
        Threshold min_size;
        Threshold max_size;
        bool has_checksum;
        uint8_t checksum[SHA256_DIGEST_SIZE];
        Threshold checksum_max_size;
} FileSettings;

/* Which file a hash was of: any change to it changes one of these. */
typedef struct FileIdentity {
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime, ctime;
} FileIdentity;

typedef struct FileState {
        /* The last hash that ran to the end, and its verdict. */
        bool verified;
        FileIdentity verified_id;
        bool match;
        char sha256[SHA256_HEX_SIZE];

        /* A hash under way (check() returned 1): fd and source are valid only while hashing. */
        bool hashing;
        int fd;
        sd_event_source *source;
        Sha256 ctx;
        FileIdentity hashing_id;
        uint64_t hashed;
        FileReading reading;         /* the stat part of the sample, completed by the hash */
} FileState;

/* One loop, one thread: a read is consumed by sha256_update() within the same dispatch, so one
 * buffer serves every file probe of the daemon, and the memory does not grow with the number of
 * instances that hash at once. */
static uint8_t hash_buffer[FILE_HASH_CHUNK];

static void file_settings_init(void *settings) {
        FileSettings *s = settings;

        s->checksum_max_size = (Threshold) { .set = true, .unit = THRESHOLD_BYTES,
                                             .value = FILE_DEFAULT_CHECKSUM_MAX_SIZE };
}

static void file_settings_done(void *settings) {
        FileSettings *s = settings;

        s->path = mfree(s->path);
}

static int parse_checksum(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *settings) {
        FileSettings *fs = settings;
        const char *v = NULL;
        int r;

        r = config_keys_expect_string(p, s, "a string \"sha256:<64 hex digits>\"", &v);
        if (r < 0)
                return r;
        if (strncmp(v, "sha256:", 7) != 0 || sha256_from_hex(v + 7, fs->checksum) < 0)
                return config_keys_fail(p, s,
                                        "invalid checksum \"%s\": expected \"sha256:\" and 64 hex digits "
                                        "(as sha256sum prints them)",
                                        v);
        fs->has_checksum = true;
        return 0;
}

static const ConfigKey file_keys[] = {
        CONFIG_KEY_PATH("path", FileSettings, path),
        CONFIG_KEY_DURATION("max_age", FileSettings, max_age, 1, false),
        CONFIG_KEY_THRESHOLD("min_size", FileSettings, min_size, THRESHOLD_BYTES | THRESHOLD_COUNT),
        CONFIG_KEY_THRESHOLD("max_size", FileSettings, max_size, THRESHOLD_BYTES | THRESHOLD_COUNT),
        CONFIG_KEY("checksum", parse_checksum),
        CONFIG_KEY_THRESHOLD("checksum_max_size", FileSettings, checksum_max_size,
                             THRESHOLD_BYTES | THRESHOLD_COUNT),
};

static int file_check_config(ConfigParser *p, const config_setting_t *g, const ProbeConfig *pc,
                             bool cgroups_off) {
        const FileSettings *s = pc->settings;

        if (!s->path)
                return config_keys_fail(p, g, "missing required key \"path\"");
        if (s->min_size.set && s->max_size.set && s->min_size.value > s->max_size.value)
                return config_keys_fail(p, config_setting_get_member(g, "min_size"),
                                        "must not be above max_size");
        if (config_setting_get_member(g, "checksum_max_size") && !s->has_checksum)
                return config_keys_fail(p, config_setting_get_member(g, "checksum_max_size"),
                                        "has no use without \"checksum\"");
        return 0;
}

bool probe_file_fails_before_checksum(const ProbeConfig *pc, const FileReading *f) {
        const FileSettings *s = pc->settings;

        return !f->exists || (s->max_age > 0 && f->age > s->max_age) ||
               (s->min_size.set && (double) f->size < s->min_size.value) ||
               (s->max_size.set && (double) f->size > s->max_size.value);
}

void probe_file_judge(const ProbeConfig *pc, const FileReading *f, ProbeResult *r) {
        const FileSettings *s = pc->settings;
        char path[PATH_MAX * 2 + 3], size[THRESHOLD_FORMAT_MAX], lim[THRESHOLD_FORMAT_MAX],
                age[FORMAT_DURATION_MAX], max_age[FORMAT_DURATION_MAX];
        double age_sec = (double) f->age / USEC_PER_SEC;

        (void) json_escape(path, sizeof path, s->path);
        probe_result_evidence(r, "\"path\":%s,\"exists\":%s", path, f->exists ? "true" : "false");
        if (!f->exists) {
                r->status = PROBE_CRITICAL;
                probe_result_message(r, "%s does not exist", s->path);
                return;
        }

        (void) probe_format_value(size, sizeof size, (double) f->size, THRESHOLD_BYTES);
        /* "1s200ms" for a heartbeat judged in seconds, "3h12m" for an old file. */
        (void) format_duration_approx(age, sizeof age, f->age,
                                      f->age < 60 * USEC_PER_SEC ? 100 * USEC_PER_MSEC : USEC_PER_SEC);
        probe_result_evidence(r, "\"size\":%" PRIu64 ",\"age_sec\":%.3f,\"checksum\":\"%s\"", f->size,
                              age_sec, probe_file_checksum_to_string(f->checksum));
        if (f->sha256[0])
                probe_result_evidence(r, "\"sha256\":\"%s\",\"cached\":%s", f->sha256,
                                      f->cached ? "true" : "false");

        /* The value is what the failing check measured; for an OK file its age, if that is
         * watched, else its size. */
        r->status = PROBE_OK;
        if (s->max_age > 0) {
                r->value = age_sec;
                r->threshold = (double) s->max_age / USEC_PER_SEC;
        } else {
                r->value = (double) f->size;
        }
        if (s->max_age > 0 && f->age > s->max_age) {
                r->status = PROBE_CRITICAL;
                probe_result_message(r, "%s: last modified %s ago, more than max_age %s", s->path, age,
                                     format_duration(max_age, sizeof max_age, s->max_age));
                return;
        }
        if (s->min_size.set && (double) f->size < s->min_size.value) {
                r->status = PROBE_CRITICAL;
                r->value = (double) f->size;
                r->threshold = s->min_size.value;
                probe_result_message(
                        r, "%s: %s, below min_size %s", s->path, size,
                        probe_format_value(lim, sizeof lim, s->min_size.value, THRESHOLD_BYTES));
                return;
        }
        if (s->max_size.set && (double) f->size > s->max_size.value) {
                r->status = PROBE_CRITICAL;
                r->value = (double) f->size;
                r->threshold = s->max_size.value;
                probe_result_message(
                        r, "%s: %s, above max_size %s", s->path, size,
                        probe_format_value(lim, sizeof lim, s->max_size.value, THRESHOLD_BYTES));
                return;
        }

        switch (f->checksum) {
        case FILE_CHECKSUM_MISMATCH:
                r->status = PROBE_CRITICAL;
                probe_result_message(r, "%s: content differs from its checksum (sha256 is %.16s...)",
                                     s->path, f->sha256);
                return;
        case FILE_CHECKSUM_TOO_LARGE:
                r->status = PROBE_UNKNOWN;
                probe_result_message(
                        r, "%s: %s is more than checksum_max_size %s: not hashed", s->path, size,
                        probe_format_value(lim, sizeof lim, s->checksum_max_size.value, THRESHOLD_BYTES));
                return;
        case FILE_CHECKSUM_CHANGING:
                r->status = PROBE_UNKNOWN;
                probe_result_message(r, "%s changed while it was being hashed", s->path);
                return;
        case FILE_CHECKSUM_ERROR:
                r->status = PROBE_UNKNOWN;
                probe_result_message(r, "%s: cannot be hashed: %s", s->path, strerror(f->error));
                return;
        case FILE_CHECKSUM_NONE:
        case FILE_CHECKSUM_MATCH:
                break;
        default:
                assert_not_reached();
        }
        probe_result_message(r, "%s: %s, modified %s ago%s", s->path, size, age,
                             f->checksum == FILE_CHECKSUM_MATCH ? ", checksum verified" : "");
}

static FileIdentity identity_of(const struct stat *st) {
        return (FileIdentity) {
                .dev = st->st_dev,
                .ino = st->st_ino,
                .size = st->st_size,
                .mtime = st->st_mtim,
                .ctime = st->st_ctim,
        };
}

static bool identity_equal(const FileIdentity *a, const FileIdentity *b) {
        return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
               a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
               a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static void hash_stop(FileState *st) {
        if (!st->hashing)
                return;
        st->source = sd_event_source_disable_unref(st->source);
        st->fd = safe_close(st->fd);
        st->hashing = false;
}

/* Ends the sample under way with the reading as it stands. */
static void hash_finish(ProbeCheck *c, FileChecksum checksum, int error) {
        FileState *st = c->state;
        ProbeResult r;

        hash_stop(st);
        st->reading.checksum = checksum;
        st->reading.error = error;
        probe_result_init(&r);
        probe_file_judge(c->config, &st->reading, &r);
        probe_check_done(c, &r);
}

static int on_hash(sd_event_source *source, void *userdata) {
        ProbeCheck *c = userdata;
        FileState *st = c->state;
        const FileSettings *s = c->settings;
        uint8_t digest[SHA256_DIGEST_SIZE];
        struct stat now_st;
        FileIdentity end;
        ssize_t n;

        n = read(st->fd, hash_buffer, sizeof hash_buffer);
        if (n < 0) {
                if (errno == EINTR || errno == EAGAIN)
                        return 0;
                hash_finish(c, FILE_CHECKSUM_ERROR, errno);
                return 0;
        }
        if (n > 0) {
                sha256_update(&st->ctx, hash_buffer, (size_t) n);
                st->hashed += (uint64_t) n;
                /* Growing while read: what is hashed would be no version of the file. */
                if (st->hashed > (uint64_t) st->hashing_id.size)
                        hash_finish(c, FILE_CHECKSUM_CHANGING, 0);
                return 0;
        }

        /* The end: the digest counts only if the file is still the one whose hashing began. */
        if (fstat(st->fd, &now_st) < 0) {
                hash_finish(c, FILE_CHECKSUM_ERROR, errno);
                return 0;
        }
        end = identity_of(&now_st);
        if (!identity_equal(&end, &st->hashing_id) || st->hashed != (uint64_t) st->hashing_id.size) {
                hash_finish(c, FILE_CHECKSUM_CHANGING, 0);
                return 0;
        }
        sha256_finish(&st->ctx, digest);
        st->verified = true;
        st->verified_id = st->hashing_id;
        st->match = memcmp(digest, s->checksum, sizeof digest) == 0;
        (void) sha256_to_hex(digest, st->sha256);
        memcpy(st->reading.sha256, st->sha256, sizeof st->sha256);
        hash_finish(c, st->match ? FILE_CHECKSUM_MATCH : FILE_CHECKSUM_MISMATCH, 0);
        return 0;
}

/* Opens the file and starts hashing it from the loop. 1: under way; 0: *ret is filled (it could
 * not start: the reading says why). */
static int hash_start(ProbeCheck *c, ProbeResult *ret) {
        FileState *st = c->state;
        const FileSettings *s = c->settings;
        struct stat fst;
        int r;

        /* O_NONBLOCK: a FIFO put in the file's place must not hold the loop in open(). */
        st->fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (st->fd < 0) {
                r = errno;
                goto fail;
        }
        st->hashing = true;
        if (fstat(st->fd, &fst) < 0) {
                r = errno;
                goto fail;
        }
        if (!S_ISREG(fst.st_mode)) {
                r = S_ISDIR(fst.st_mode) ? EISDIR : EINVAL;
                goto fail;
        }
        st->hashing_id = identity_of(&fst);
        st->hashed = 0;
        sha256_init(&st->ctx);
        r = sd_event_add_defer(c->env->event, &st->source, on_hash, c);
        if (r < 0) {
                r = -r;
                goto fail;
        }
        (void) sd_event_source_set_description(st->source, "probe-file-hash");
        (void) sd_event_source_set_priority(st->source, SD_EVENT_PRIORITY_IDLE);
        r = sd_event_source_set_enabled(st->source, SD_EVENT_ON);
        if (r < 0) {
                r = -r;
                goto fail;
        }
        return 1;

fail:
        hash_stop(st);
        st->reading.checksum = FILE_CHECKSUM_ERROR;
        st->reading.error = r;
        probe_file_judge(c->config, &st->reading, ret);
        return 0;
}

static int file_check(ProbeCheck *c, const ProbeTarget *t, ProbeResult *ret) {
        const FileSettings *s = c->settings;
        FileState *st = c->state;
        usec_t wall = now(CLOCK_REALTIME), mtime;
        struct stat sb;
        FileIdentity id;

        st->reading = (FileReading) {};
        if (stat(s->path, &sb) < 0) {
                if (!IN_SET(errno, ENOENT, ENOTDIR))
                        return -errno;
                probe_file_judge(c->config, &st->reading, ret);
                return 0;
        }
        mtime = timespec_to_usec(&sb.st_mtim);
        st->reading.exists = true;
        st->reading.size = (uint64_t) sb.st_size;
        st->reading.age = wall > mtime ? wall - mtime : 0;

        if (!s->has_checksum || probe_file_fails_before_checksum(c->config, &st->reading)) {
                probe_file_judge(c->config, &st->reading, ret);
                return 0;
        }
        id = identity_of(&sb);
        if (st->verified && identity_equal(&id, &st->verified_id)) {
                st->reading.checksum = st->match ? FILE_CHECKSUM_MATCH : FILE_CHECKSUM_MISMATCH;
                st->reading.cached = true;
                memcpy(st->reading.sha256, st->sha256, sizeof st->sha256);
                probe_file_judge(c->config, &st->reading, ret);
                return 0;
        }
        if ((double) sb.st_size > s->checksum_max_size.value) {
                st->reading.checksum = FILE_CHECKSUM_TOO_LARGE;
                probe_file_judge(c->config, &st->reading, ret);
                return 0;
        }
        if (!c->env || !c->env->event)
                return -EOPNOTSUPP;
        return hash_start(c, ret);
}

static void file_cancel(ProbeCheck *c) {
        hash_stop(c->state);
}

static void file_reset(ProbeCheck *c, bool done) {
        FileState *st = c->state;

        /* The file is not the process's: what was verified stays verified across restarts. */
        if (done)
                hash_stop(st);
}

const ProbeOps probe_file_ops = {
        .spec = {
                .kind = "file",
                .keys = file_keys,
                .n_keys = ELEMENTSOF(file_keys),
                .settings_size = sizeof(FileSettings),
                .settings_init = file_settings_init,
                .settings_done = file_settings_done,
                .check = file_check_config,
                .scopes = PROBE_SCOPE_HOST | PROBE_SCOPE_INSTANCE,
                .threshold_units = 0,
                .default_every = 30 * USEC_PER_SEC,
                .default_timeout = 30 * USEC_PER_SEC,
        },
        .category = CATEGORY_VALIDATION,
        .state_size = sizeof(FileState),
        .timeout_status = PROBE_UNKNOWN,
        .check = file_check,
        .cancel = file_cancel,
        .reset = file_reset,
};
