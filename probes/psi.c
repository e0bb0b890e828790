/* Pressure stall information. See psi.h. Non-logging. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "psi.h"

static const char *const psi_resource_table[_PSI_RESOURCE_MAX] = {
        [PSI_CPU] = "cpu",
        [PSI_MEMORY] = "memory",
        [PSI_IO] = "io",
};
DEFINE_STRING_TABLE_LOOKUP(psi_resource, PsiResource);

static const char *const psi_line_kind_table[_PSI_LINE_KIND_MAX] = {
        [PSI_SOME] = "some",
        [PSI_FULL] = "full",
};
DEFINE_STRING_TABLE_LOOKUP(psi_line_kind, PsiLineKind);

static int parse_line(const char *s, PsiLine *ret) {
        PsiLine l = { .present = true };
        unsigned long long total;

        if (sscanf(s, " avg10=%lf avg60=%lf avg300=%lf total=%llu", &l.avg10, &l.avg60, &l.avg300, &total) != 4)
                return -EBADMSG;
        if (!(l.avg10 >= 0 && l.avg60 >= 0 && l.avg300 >= 0))
                return -EBADMSG;
        l.total = total;
        *ret = l;
        return 0;
}

int psi_parse(const char *text, PsiReading *ret) {
        PsiReading r = {};

        for (const char *p = text; p && *p;) {
                const char *eol = strchr(p, '\n');

                for (PsiLineKind k = 0; k < _PSI_LINE_KIND_MAX; k++) {
                        size_t n = strlen(psi_line_kind_table[k]);

                        if (strncmp(p, psi_line_kind_table[k], n) == 0 && p[n] == ' ')
                                (void) parse_line(p + n, &r.line[k]);
                }
                p = eol ? eol + 1 : NULL;
        }
        if (!r.line[PSI_SOME].present)
                return -EBADMSG;
        *ret = r;
        return 0;
}

int psi_read(const char *dir, PsiResource res, PsiReading *ret) {
        char path[512], buf[512];
        int r;

        if (res < 0 || res >= _PSI_RESOURCE_MAX)
                return -EINVAL;
        (void) snprintf(path, sizeof path, "%s/%s", dir ?: PSI_DEFAULT_DIR, psi_resource_table[res]);
        r = read_small_file(path, buf, sizeof buf);
        if (r < 0)
                return r;
        return psi_parse(buf, ret);
}

bool psi_host_starved(const char *dir, double some_max, double full_max, char *why, size_t size) {
        for (PsiResource res = 0; res < _PSI_RESOURCE_MAX; res++) {
                PsiReading p;

                if (psi_read(dir, res, &p) < 0)
                        continue;
                for (PsiLineKind k = 0; k < _PSI_LINE_KIND_MAX; k++) {
                        double max = k == PSI_SOME ? some_max : full_max;

                        if (max <= 0 || !p.line[k].present || p.line[k].avg10 <= max)
                                continue;
                        if (why)
                                (void) snprintf(why, size, "host starved: %s %s avg10 %.1f%% > %g%%",
                                                psi_resource_table[res], psi_line_kind_table[k], p.line[k].avg10,
                                                max);
                        return true;
                }
        }
        return false;
}
