/* Reading a libconfig file into a validated Config. Non-logging: the first error found is
 * returned as one message "FILE:LINE: key: what is wrong" for the caller to print. */
#pragma once

#include "config-keys.h"
#include "config-probe.h"
#include "config.h"

/* Parses and validates path completely (including every @include it names) into a fresh
 * Config. The file and every included file must not be writable by other users, must be a
 * regular file and at most CONFIG_FILE_SIZE_MAX bytes; @include of a directory is refused with
 * FILE:LINE before libconfig sees it (libconfig 1.5 would exit(2)).
 * kinds are the probe kinds and actions that exist (main.c has the registries); NULL parses
 * probes without judging their kinds' own keys, as a reader that needs only paths may.
 * On success returns 0 and sets *ret_config. On failure returns -errno (-EINVAL for invalid
 * content) and, if reterr_message is not NULL, sets it to a malloc'd message the caller frees. */
int config_parse_file(const char *path, const ConfigKinds *kinds, Config **ret_config, char **reterr_message);

/* Every key table of the file format, for the test that holds them against vigil.conf(5): the
 * daemon group, a worker entry, its backoff and breaker groups, and the keys every probe has
 * (each probe kind's own keys are in its ProbeKindSpec). Ends with an entry whose section is
 * NULL. */
typedef struct ConfigKeyTable {
        const char *section;
        const ConfigKey *keys;
        const size_t *n_keys;
} ConfigKeyTable;
extern const ConfigKeyTable config_key_tables[];
