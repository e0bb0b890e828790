/* The pressure probe (probe-pressure.c): the host's pressure stall information as a probe. */
#pragma once

#include "probe.h"
#include "psi.h"

/* Which of a PSI line's running averages is judged. */
typedef enum PressureWindow {
        PRESSURE_AVG10,
        PRESSURE_AVG60,
        PRESSURE_AVG300,
        _PRESSURE_WINDOW_MAX,
        _PRESSURE_WINDOW_INVALID = -EINVAL,
} PressureWindow;

const char *probe_pressure_window_to_string(PressureWindow w) _pure_;
PressureWindow probe_pressure_window_from_string(const char *s) _pure_;

/* The result for one reading of the configured resource under pc (a pressure probe's config):
 * the mapping from reading to result, apart from the file, for the unit test. */
void probe_pressure_judge(const ProbeConfig *pc, const PsiReading *p, ProbeResult *r);

extern const ProbeOps probe_pressure_ops;
