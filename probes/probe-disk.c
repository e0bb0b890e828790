/* The disk probe: free space and free inodes of the filesystem holding a path (statvfs), with
 * thresholds on what is free ("5%" fires below 5% free, "2G" below 2 GiB free; inodes_* alike),
 * and a filesystem that became read-only is CRITICAL. A host probe, and a worker's too (its
 * spool or data directory). One statvfs per sample; never blocks on a local filesystem (a hung
 * network mount can: point it at local paths). Non-logging. */

#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "probe-disk.h"

typedef struct DiskSettings {
        char *path;
        Threshold inodes_warning;
        Threshold inodes_critical;
} DiskSettings;

static void disk_settings_done(void *settings) {
        DiskSettings *s = settings;

        s->path = mfree(s->path);
}

static const ConfigKey disk_keys[] = {
        CONFIG_KEY_PATH("path", DiskSettings, path),
        CONFIG_KEY_THRESHOLD("inodes_warning", DiskSettings, inodes_warning, THRESHOLD_COUNT | THRESHOLD_PERCENT),
        CONFIG_KEY_THRESHOLD("inodes_critical", DiskSettings, inodes_critical, THRESHOLD_COUNT | THRESHOLD_PERCENT),
};

static int disk_check_config(ConfigParser *p, const config_setting_t *g, const ProbeConfig *pc, bool cgroups_off) {
        const DiskSettings *s = pc->settings;

        if (!s->path)
                return config_keys_fail(p, g, "missing required key \"path\"");
        if (s->inodes_warning.set && s->inodes_critical.set && s->inodes_warning.unit == s->inodes_critical.unit &&
            s->inodes_warning.value < s->inodes_critical.value)
                return config_keys_fail(p, config_setting_get_member(g, "inodes_warning"),
                                        "must be at or above inodes_critical: disk thresholds are on what is free");
        return 0;
}

void probe_disk_judge(const ProbeConfig *pc, const DiskReading *d, ProbeResult *r) {
        const DiskSettings *s = pc->settings;
        char free_s[THRESHOLD_FORMAT_MAX], total_s[THRESHOLD_FORMAT_MAX];
        double pct = d->total_bytes > 0 ? 100.0 * (double) d->free_bytes / (double) d->total_bytes : NAN;
        double ipct = d->total_inodes > 0 ? 100.0 * (double) d->free_inodes / (double) d->total_inodes : NAN;
        ProbeResult inodes;

        probe_result_judge(r, pc, (double) d->free_bytes, pct);
        (void) probe_format_value(free_s, sizeof free_s, (double) d->free_bytes, THRESHOLD_BYTES);
        (void) probe_format_value(total_s, sizeof total_s, (double) d->total_bytes, THRESHOLD_BYTES);
        probe_result_message(r, "%s: %s free of %s (%.1f%%)", s->path, free_s, total_s, pct);

        /* Inodes, where the filesystem counts them (tmpfs with nr_inodes, ext4...). */
        if (d->total_inodes > 0 && (s->inodes_warning.set || s->inodes_critical.set)) {
                ProbeConfig ic = *pc;

                ic.warning = s->inodes_warning;
                ic.critical = s->inodes_critical;
                probe_result_init(&inodes);
                probe_result_judge(&inodes, &ic, (double) d->free_inodes, ipct);
                if (inodes.status > r->status && inodes.status != PROBE_UNKNOWN) {
                        r->status = inodes.status;
                        r->value = inodes.value;
                        r->threshold = inodes.threshold;
                        probe_result_message(r, "%s: %" PRIu64 " inodes free of %" PRIu64 " (%.1f%%)", s->path,
                                             d->free_inodes, d->total_inodes, ipct);
                }
        }
        if (d->read_only) {
                r->status = PROBE_CRITICAL;
                probe_result_message(r, "%s: filesystem is read-only", s->path);
        }
        probe_result_evidence(r, "\"path\":\"%s\",\"free_bytes\":%" PRIu64 ",\"total_bytes\":%" PRIu64
                              ",\"free_inodes\":%" PRIu64 ",\"total_inodes\":%" PRIu64 ",\"read_only\":%s",
                              s->path, d->free_bytes, d->total_bytes, d->free_inodes, d->total_inodes,
                              d->read_only ? "true" : "false");
}

static int disk_check(ProbeCheck *c, const ProbeTarget *t, ProbeResult *ret) {
        const DiskSettings *s = c->settings;
        struct statvfs sv;
        DiskReading d;

        if (statvfs(s->path, &sv) < 0)
                return -errno;
        d = (DiskReading) {
                .free_bytes = (uint64_t) sv.f_bavail * sv.f_frsize,
                .total_bytes = (uint64_t) sv.f_blocks * sv.f_frsize,
                .free_inodes = (uint64_t) sv.f_favail,
                .total_inodes = (uint64_t) sv.f_files,
                .read_only = sv.f_flag & ST_RDONLY,
        };
        probe_disk_judge(c->config, &d, ret);
        return 0;
}

const ProbeOps probe_disk_ops = {
        .spec = {
                .kind = "disk",
                .keys = disk_keys,
                .n_keys = ELEMENTSOF(disk_keys),
                .settings_size = sizeof(DiskSettings),
                .settings_done = disk_settings_done,
                .check = disk_check_config,
                .scopes = PROBE_SCOPE_HOST | PROBE_SCOPE_INSTANCE,
                .threshold_units = THRESHOLD_BYTES | THRESHOLD_PERCENT,
                .lower_is_worse = true,
                .default_every = 30 * USEC_PER_SEC,
                .default_timeout = 5 * USEC_PER_SEC,
        },
        .category = CATEGORY_RESOURCE,
        .timeout_status = PROBE_UNKNOWN,
        .check = disk_check,
};
