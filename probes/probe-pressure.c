/* The pressure probe: the host's PSI (/proc/pressure/{cpu,memory,io}, or the test hook's
 * stand-in) for one resource, one line (some or full) and one running average, judged against
 * thresholds in percent, for alerting on a starving host. supervisor/ already defers hang
 * verdicts while the host is starved; this kind says so as an incident of its own. One small
 * file read per sample; non-logging, never blocks. */

#include <inttypes.h>

#include "probe-pressure.h"

static const char *const probe_pressure_window_table[_PRESSURE_WINDOW_MAX] = {
        [PRESSURE_AVG10] = "avg10",
        [PRESSURE_AVG60] = "avg60",
        [PRESSURE_AVG300] = "avg300",
};
DEFINE_STRING_TABLE_LOOKUP(probe_pressure_window, PressureWindow);

typedef struct PressureSettings {
        PsiResource resource;
        PsiLineKind line;
        PressureWindow window;
} PressureSettings;

static void pressure_settings_init(void *settings) {
        PressureSettings *s = settings;

        *s = (PressureSettings) {
                .resource = _PSI_RESOURCE_INVALID,
                .line = PSI_SOME,
                .window = PRESSURE_AVG10,
        };
}

static const ConfigKey pressure_keys[] = {
        CONFIG_KEY_ENUM("resource", PressureSettings, resource, psi_resource, _PSI_RESOURCE_MAX, "resource"),
        CONFIG_KEY_ENUM("line", PressureSettings, line, psi_line_kind, _PSI_LINE_KIND_MAX, "line"),
        CONFIG_KEY_ENUM("window", PressureSettings, window, probe_pressure_window, _PRESSURE_WINDOW_MAX,
                        "window"),
};

static int pressure_check_config(ConfigParser *p, const config_setting_t *g, const ProbeConfig *pc,
                                 bool cgroups_off) {
        const PressureSettings *s = pc->settings;

        if (s->resource < 0)
                return config_keys_fail(p, g, "missing required key \"resource\" (cpu, memory or io)");
        /* Without a threshold it could never fire: a probe that only costs. */
        if (!pc->warning.set && !pc->critical.set)
                return config_keys_fail(
                        p, g, "probe kind \"pressure\" needs \"warning\" or \"critical\" (a percentage)");
        return 0;
}

static double window_value(const PsiLine *l, PressureWindow w) {
        switch (w) {
        case PRESSURE_AVG10:
                return l->avg10;
        case PRESSURE_AVG60:
                return l->avg60;
        case PRESSURE_AVG300:
                return l->avg300;
        default:
                assert_not_reached();
        }
}

void probe_pressure_judge(const ProbeConfig *pc, const PsiReading *p, ProbeResult *r) {
        const PressureSettings *s = pc->settings;
        const char *res = psi_resource_to_string(s->resource), *line = psi_line_kind_to_string(s->line),
                   *win = probe_pressure_window_to_string(s->window);
        const PsiLine *l = &p->line[s->line];
        double v;

        probe_result_evidence(r, "\"resource\":\"%s\",\"line\":\"%s\",\"window\":\"%s\"", res, line, win);
        if (!l->present) {
                /* cpu has a "full" line only since Linux 5.13. */
                r->status = PROBE_UNKNOWN;
                probe_result_message(r, "%s pressure has no \"%s\" line", res, line);
                return;
        }
        v = window_value(l, s->window);
        probe_result_judge(r, pc, v, v);
        probe_result_message(r, "%s %s %s %.1f%% (avg10 %.1f%%, avg60 %.1f%%, avg300 %.1f%%)", res, line,
                             win, v, l->avg10, l->avg60, l->avg300);
        probe_result_evidence(r, "\"avg10\":%.2f,\"avg60\":%.2f,\"avg300\":%.2f,\"total_usec\":%" PRIu64,
                              l->avg10, l->avg60, l->avg300, l->total);
}

static int pressure_check(ProbeCheck *c, const ProbeTarget *t, ProbeResult *ret) {
        const PressureSettings *s = c->settings;
        PsiReading p;
        int r;

        r = psi_read(c->env ? c->env->pressure_dir : NULL, s->resource, &p);
        if (r < 0)
                return r;
        probe_pressure_judge(c->config, &p, ret);
        return 0;
}

const ProbeOps probe_pressure_ops = {
        .spec = {
                .kind = "pressure",
                .keys = pressure_keys,
                .n_keys = ELEMENTSOF(pressure_keys),
                .settings_size = sizeof(PressureSettings),
                .settings_init = pressure_settings_init,
                .check = pressure_check_config,
                .scopes = PROBE_SCOPE_HOST,
                .threshold_units = THRESHOLD_PERCENT,
                .default_every = 10 * USEC_PER_SEC,
                .default_timeout = 1 * USEC_PER_SEC,
        },
        .category = CATEGORY_RESOURCE,
        .timeout_status = PROBE_UNKNOWN,
        .check = pressure_check,
};
