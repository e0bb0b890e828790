/* The memory probe: resident memory of an instance's processes, measured as rss (statm
 * resident pages, the cheapest: a shared page counts once per process that maps it), pss
 * (smaps_rollup Pss: shared pages split between their sharers, so a sum counts them once;
 * the kernel walks the page tables for it) or cgroup (memory.current: page cache and kernel
 * memory too, only with the memory controller); the host's is MemTotal - MemAvailable.
 * Thresholds are sizes or percentages of a limit (the limit key, memory.max, MemTotal), and
 * leak_window adds leak detection (probe-leak.c). A sample is one small read per process (or
 * one per cgroup); the state is the leak trend, allocated once. Non-logging; never blocks. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "parse-util.h"
#include "probe-leak.h"
#include "probe-memory.h"
#include "procs.h"

static const char *const probe_memory_measure_table[_PROBE_MEMORY_MEASURE_MAX] = {
        [PROBE_MEMORY_RSS] = "rss",
        [PROBE_MEMORY_PSS] = "pss",
        [PROBE_MEMORY_CGROUP] = "cgroup",
};
DEFINE_STRING_TABLE_LOOKUP(probe_memory_measure, ProbeMemoryMeasure);

typedef struct MemorySettings {
        ProbeMemoryMeasure measure;
        uint64_t limit;             /* bytes; 0: none */
        ProbeLeakSettings leak;
} MemorySettings;

/* memory.max serves leak projections for this long before it is read again: a limit seldom
 * changes, and a failed open at every sample (no memory controller) is a cost for nothing. */
#define MEMORY_MAX_REREAD_USEC (60 * USEC_PER_SEC)

typedef struct MemoryState {
        ProbeLeak leak;
        usec_t memory_max_at;       /* when memory.max was last read; 0: never */
        uint64_t memory_max;        /* what it said; 0: "max", or no such file */
} MemoryState;

/* limit: a size ("1G") or a number of bytes, above 0. */
static int parse_limit(ConfigParser *p, const config_setting_t *s, const ConfigKey *k, void *settings) {
        uint64_t bytes;

        if (config_keys_is_int(s)) {
                int64_t v = config_setting_get_int64(s);

                if (v <= 0)
                        return config_keys_fail(p, s, "must be greater than 0");
                bytes = (uint64_t) v;
        } else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
                if (parse_size(config_setting_get_string(s), &bytes) < 0)
                        return config_keys_fail(p, s, "invalid size \"%s\" (e.g. \"512M\", \"2G\")",
                                                config_setting_get_string(s));
                if (bytes == 0)
                        return config_keys_fail(p, s, "must be greater than 0");
        } else
                return config_keys_fail(p, s, "expected a size such as \"512M\", got %s",
                                        config_keys_type_name(s));
        *CONFIG_KEY_FIELD(settings, k, uint64_t) = bytes;
        return 0;
}

static const ConfigKey memory_keys[] = {
        CONFIG_KEY_ENUM("measure", MemorySettings, measure, probe_memory_measure, _PROBE_MEMORY_MEASURE_MAX,
                        "measure"),
        CONFIG_KEY_AT("limit", parse_limit, MemorySettings, limit),
        PROBE_LEAK_KEY_WINDOW(MemorySettings),
        PROBE_LEAK_KEY_MIN_RATE_SIZE(MemorySettings),
};

static int memory_check_config(ConfigParser *p, const config_setting_t *g, const ProbeConfig *pc,
                               bool cgroups_off) {
        const MemorySettings *s = pc->settings;
        const struct {
                const char *key;
                const Threshold *t;
        } thresholds[] = { { "warning", &pc->warning }, { "critical", &pc->critical } };

        if (pc->host) {
                if (config_setting_get_member(g, "measure"))
                        return config_keys_fail(
                                p, config_setting_get_member(g, "measure"),
                                "a host memory probe measures the host's used memory "
                                "(MemTotal - MemAvailable): measure is for a worker's probes");
                if (config_setting_get_member(g, "limit"))
                        return config_keys_fail(
                                p, config_setting_get_member(g, "limit"),
                                "a host memory probe's percentages are of MemTotal: limit is for a "
                                "worker's probes");
                return probe_leak_check_config(p, g, pc, &s->leak);
        }
        if (s->measure == PROBE_MEMORY_CGROUP && cgroups_off)
                return config_keys_fail(p, config_setting_get_member(g, "measure"),
                                        "measure \"cgroup\" reads the instance's cgroup, but the worker has "
                                        "cgroups = \"off\"");
        for (size_t i = 0; i < ELEMENTSOF(thresholds); i++)
                if (thresholds[i].t->set && thresholds[i].t->unit == THRESHOLD_PERCENT && s->limit == 0 &&
                    s->measure != PROBE_MEMORY_CGROUP)
                        return config_keys_fail(
                                p, config_setting_get_member(g, thresholds[i].key),
                                "%s is a percentage, but measure \"%s\" has nothing to take it "
                                "of: set limit (limit = \"1G\") or measure = \"cgroup\" "
                                "(a percentage of memory.max)",
                                thresholds[i].key, probe_memory_measure_to_string(s->measure));
        return probe_leak_check_config(p, g, pc, &s->leak);
}

/* ---- Parsing ---- */

static int parse_u64(const char *p, char **end, uint64_t *ret) {
        if (*p < '0' || *p > '9')
                return -EINVAL;
        errno = 0;
        *ret = strtoull(p, end, 10);
        return errno != 0 ? -EINVAL : 0;
}

int probe_memory_parse_statm(const char *text, uint64_t *ret_resident_pages) {
        char *end;
        uint64_t size, resident;

        if (parse_u64(text, &end, &size) < 0 || *end != ' ' || parse_u64(end + 1, &end, &resident) < 0 ||
            !IN_SET(*end, ' ', '\n', 0))
                return -EINVAL;
        *ret_resident_pages = resident;
        return 0;
}

/* In "Key:   1234 kB" lines, the value of key (with its colon) in bytes. */
static int kb_line(const char *text, const char *key, uint64_t *ret) {
        size_t l = strlen(key);

        for (const char *line = text; *line;) {
                const char *eol = strchrnul(line, '\n');

                if (strncmp(line, key, l) == 0) {
                        const char *p = line + l + strspn(line + l, " \t");
                        char *end;
                        uint64_t v;

                        if (parse_u64(p, &end, &v) < 0 || strncmp(end, " kB", 3) != 0 ||
                            v > UINT64_MAX / 1024)
                                return -EINVAL;
                        *ret = v * 1024;
                        return 0;
                }
                line = *eol ? eol + 1 : eol;
        }
        return -ENOENT;
}

int probe_memory_parse_smaps_rollup(const char *text, uint64_t *ret_pss_bytes) {
        return kb_line(text, "Pss:", ret_pss_bytes);
}

int probe_memory_parse_meminfo(const char *text, uint64_t *ret_total_bytes, uint64_t *ret_available_bytes) {
        uint64_t total, available;
        int r;

        r = kb_line(text, "MemTotal:", &total);
        if (r < 0)
                return r;
        r = kb_line(text, "MemAvailable:", &available);
        if (r < 0)
                return r;
        *ret_total_bytes = total;
        *ret_available_bytes = MIN(available, total);
        return 0;
}

int probe_memory_parse_cgroup_value(const char *text, uint64_t *ret_bytes) {
        char *end;
        uint64_t v;

        if (strncmp(text, "max", 3) == 0 && IN_SET(text[3], '\n', 0))
                return -ERANGE;
        if (parse_u64(text, &end, &v) < 0 || !IN_SET(*end, '\n', 0))
                return -EINVAL;
        *ret_bytes = v;
        return 0;
}

/* ---- Judging ---- */

int probe_memory_judge(ProbeCheck *c, const ProbeMemoryReading *m, ProbeResult *r) {
        const MemorySettings *s = c->settings;
        MemoryState *st = c->state;
        const char *what = m->host ? "used" : probe_memory_measure_to_string(m->measure);
        char v[THRESHOLD_FORMAT_MAX], l[THRESHOLD_FORMAT_MAX], procs[64] = "";
        double pct = m->limit > 0 ? 100.0 * (double) m->bytes / (double) m->limit : NAN;

        probe_result_judge(r, c->config, (double) m->bytes, pct);
        (void) probe_format_value(v, sizeof v, (double) m->bytes, THRESHOLD_BYTES);
        if (m->n_processes != SIZE_MAX)
                (void) snprintf(procs, sizeof procs, " in %zu process%s%s", m->n_processes,
                                m->n_processes == 1 ? "" : "es", m->truncated ? " (the first only)" : "");
        if (r->status == PROBE_UNKNOWN)
                probe_result_message(r, "%s %s%s: no limit to take a percentage of", what, v, procs);
        else if (m->limit > 0)
                probe_result_message(r, "%s %s of %s %s (%.1f%%)%s", what, v,
                                     probe_format_value(l, sizeof l, (double) m->limit, THRESHOLD_BYTES),
                                     m->limit_source, pct, procs);
        else
                probe_result_message(r, "%s %s%s", what, v, procs);

        probe_result_evidence(r, "\"measure\":\"%s\",\"bytes\":%" PRIu64, what, m->bytes);
        if (m->limit > 0)
                probe_result_evidence(r, "\"limit\":%" PRIu64 ",\"limit_source\":\"%s\",\"percent\":%.3f",
                                      m->limit, m->limit_source, pct);
        if (m->n_processes != SIZE_MAX)
                probe_result_evidence(r, "\"n_processes\":%zu%s", m->n_processes,
                                      m->truncated ? ",\"truncated\":true" : "");

        return probe_leak_judge(&st->leak, &s->leak, m->at, (double) m->bytes, (double) m->limit,
                                m->limit_source ?: "limit", THRESHOLD_BYTES, "", r);
}

/* ---- Reading ---- */

static int read_host(ProbeMemoryReading *m) {
        char text[8192];
        uint64_t total, available;
        ssize_t n;
        int r;

        n = read_small_file("/proc/meminfo", text, sizeof text);
        if (n < 0)
                return (int) n;
        r = probe_memory_parse_meminfo(text, &total, &available);
        if (r < 0)
                return r;
        m->host = true;
        m->bytes = total - available;
        m->limit = total;
        m->limit_source = "MemTotal";
        return 0;
}

/* The value of a cgroup's memory.current or memory.max. */
static int read_cgroup_value(const char *cgroup_path, const char *file, uint64_t *ret) {
        char path[PATH_MAX], text[64];
        ssize_t n;

        if ((size_t) snprintf(path, sizeof path, "%s/%s", cgroup_path, file) >= sizeof path)
                return -ENAMETOOLONG;
        n = read_small_file(path, text, sizeof text);
        if (n < 0)
                return (int) n;
        return probe_memory_parse_cgroup_value(text, ret);
}

/* One process's share: -ENOENT/-ESRCH when it is gone. */
static int read_process(pid_t pid, ProbeMemoryMeasure measure, uint64_t page_size, uint64_t *ret) {
        char path[64], text[4096];
        uint64_t pages;
        ssize_t n;
        int r;

        (void) snprintf(path, sizeof path,
                        measure == PROBE_MEMORY_PSS ? "/proc/%d/smaps_rollup" : "/proc/%d/statm", (int) pid);
        n = read_small_file(path, text, sizeof text);
        if (n < 0)
                return (int) n;
        /* A zombie, or a kernel thread: no memory of its own. */
        if (n == 0) {
                *ret = 0;
                return 0;
        }
        if (measure == PROBE_MEMORY_PSS)
                return probe_memory_parse_smaps_rollup(text, ret);
        r = probe_memory_parse_statm(text, &pages);
        if (r < 0)
                return r;
        *ret = pages * page_size;
        return 0;
}

static int read_processes(const ProbeTarget *t, ProbeMemoryMeasure measure, ProbeMemoryReading *m) {
        pid_t pids[PROCS_MAX];
        long page_size = sysconf(_SC_PAGESIZE);
        size_t n;
        int r;

        if (page_size <= 0)
                return -EINVAL;
        r = procs_list(t, pids, ELEMENTSOF(pids), &n);
        if (r < 0)
                return r;
        m->truncated = r > 0;
        m->n_processes = 0;
        for (size_t i = 0; i < n; i++) {
                uint64_t bytes;

                r = read_process(pids[i], measure, (uint64_t) page_size, &bytes);
                if (IN_SET(r, -ENOENT, -ESRCH))
                        continue;   /* gone since it was listed */
                if (r < 0)
                        return r;
                m->bytes += bytes;
                m->n_processes++;
        }
        if (m->n_processes == 0)
                return -ESRCH;
        return 0;
}

static bool has_percent_threshold(const ProbeConfig *pc) {
        return (pc->warning.set && pc->warning.unit == THRESHOLD_PERCENT) ||
               (pc->critical.set && pc->critical.unit == THRESHOLD_PERCENT);
}

static int memory_check(ProbeCheck *c, const ProbeTarget *t, ProbeResult *ret) {
        const MemorySettings *s = c->settings;
        MemoryState *st = c->state;
        ProbeMemoryReading m = { .measure = s->measure, .n_processes = SIZE_MAX };
        int r;

        if (t->instance < 0)
                r = read_host(&m);
        else if (s->measure == PROBE_MEMORY_CGROUP) {
                if (!t->cgroup_path) {
                        ret->status = PROBE_UNKNOWN;
                        probe_result_message(ret, "measure \"cgroup\": the instance has no cgroup");
                        return 0;
                }
                r = read_cgroup_value(t->cgroup_path, "memory.current", &m.bytes);
                if (r == -ENOENT && access(t->cgroup_path, F_OK) == 0) {
                        ret->status = PROBE_UNKNOWN;
                        probe_result_message(ret, "measure \"cgroup\": no memory.current in %s (the memory "
                                             "controller is not enabled for it)", t->cgroup_path);
                        return 0;
                }
        } else
                r = read_processes(t, s->measure, &m);
        if (r < 0)
                return r;

        m.at = now(CLOCK_MONOTONIC);
        if (!m.host && s->limit > 0) {
                m.limit = s->limit;
                m.limit_source = "limit";
        } else if (!m.host && t->cgroup_path && (has_percent_threshold(c->config) || s->leak.window > 0)) {
                /* A percentage is judged on the limit of now; a projection can use one a minute old. */
                if (has_percent_threshold(c->config) || st->memory_max_at == 0 ||
                    m.at - st->memory_max_at >= MEMORY_MAX_REREAD_USEC) {
                        if (read_cgroup_value(t->cgroup_path, "memory.max", &st->memory_max) < 0)
                                st->memory_max = 0;
                        st->memory_max_at = m.at;
                }
                m.limit = st->memory_max;
                m.limit_source = "memory.max";
        }
        return probe_memory_judge(c, &m, ret);
}

static void memory_reset(ProbeCheck *c, bool done) {
        MemoryState *st = c->state;

        probe_leak_reset(&st->leak, done);
        st->memory_max_at = 0;
}

const ProbeOps probe_memory_ops = {
        .spec = {
                .kind = "memory",
                .keys = memory_keys,
                .n_keys = ELEMENTSOF(memory_keys),
                .settings_size = sizeof(MemorySettings),
                .check = memory_check_config,
                .scopes = PROBE_SCOPE_HOST | PROBE_SCOPE_INSTANCE,
                .threshold_units = THRESHOLD_BYTES | THRESHOLD_PERCENT,
        },
        .category = CATEGORY_RESOURCE,
        .state_size = sizeof(MemoryState),
        .timeout_status = PROBE_UNKNOWN,
        .check = memory_check,
        .reset = memory_reset,
};
