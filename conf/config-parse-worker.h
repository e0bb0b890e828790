/* The "workers" list of vigil.conf, for config-parse.c; implemented in config-parse-worker.c.
 * Non-logging. */
#pragma once

#include "config-keys.h"
#include "config.h"

/* Parses s, the value of the root key "workers", into c->workers and c->n_workers: each entry is
 * defaulted, checked against the worker key table, its user and group resolved, its name unique.
 * Returns 0; -EINVAL with the first problem recorded in p->error; or -ENOMEM. On failure c keeps
 * what was parsed so far, for config_free(). */
int config_parse_workers(ConfigParser *p, const config_setting_t *s, Config *c);

/* The key tables of a worker entry and its backoff and breaker groups. */
extern const ConfigKey config_worker_keys[], config_backoff_keys[], config_breaker_keys[];
extern const size_t config_n_worker_keys, config_n_backoff_keys, config_n_breaker_keys;
