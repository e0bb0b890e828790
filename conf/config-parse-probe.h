/* The probe lists of vigil.conf ("probes" in a worker's entry, "host_probes" at the top), for
 * config-parse.c and config-parse-worker.c; implemented in config-parse-probe.c. Non-logging. */
#pragma once

#include "config-keys.h"
#include "config-probe.h"
#include "config-source.h"

/* Parses s, a list of probe groups, with the kinds in p->kinds (NULL: the kinds' own keys are
 * skipped unchecked, for readers such as vigilctl). host: these are host probes. cgroups_off:
 * their worker runs without cgroups. Returns 0 with a fresh array in *ret_probes (NULL when
 * empty) and its length; -EINVAL with the first problem recorded in p->error; or -ENOMEM.
 * Nothing is left allocated on failure. */
/* The keys every probe has, whatever its kind. */
extern const ConfigKey config_probe_keys[];
extern const size_t config_n_probe_keys;

int config_parse_probes(ConfigParser *p, const config_setting_t *s, bool host, bool cgroups_off,
                        ProbeConfig **ret_probes, size_t *ret_n);
