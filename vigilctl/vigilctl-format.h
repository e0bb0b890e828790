/* vigilctl's output and argument helpers, shared by its verbs: time formats for tables, CSV and
 * JSON, the pager, one-line failure messages on stderr, and the parsers of times and numbers.
 * Non-logging: what they say is for the user who ran vigilctl. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "macro.h"
#include "time-util.h"

/* One line on stderr, "vigilctl: " first; returns r. -EINVAL marks a usage error (exit 2),
 * anything else exit 1. */
int vigilctl_format_fail(int r, const char *fmt, ...) _printf_(2, 3);
#define vigilctl_format_fail_usage(...) vigilctl_format_fail(-EINVAL, __VA_ARGS__)

/* t as local "YYYY-MM-DD HH:MM:SS" ("-" for 0), or as UTC ISO 8601 with microseconds ("" for
 * 0), into the caller's buf. Both return buf. */
char *vigilctl_format_local(char *buf, size_t size, usec_t t);
char *vigilctl_format_iso(char *buf, size_t size, usec_t t);

/* A point in time: a duration means that long ago ("24h"), else a local date and time
 * ("2026-11-23", "2026-11-23 14:00", "2026-11-23T14:00:05") or "@SECONDS" since the epoch.
 * option names the argument in the message a bad one gets (-EINVAL). */
int vigilctl_format_parse_time(const char *option, const char *s, usec_t *ret);

/* A decimal number of at least min; what names it in the message a bad one gets (-EINVAL). */
int vigilctl_format_parse_u64(const char *what, const char *s, uint64_t min, uint64_t *ret);

/* Where paged output goes: $PAGER (less by default, with LESS=FRX unless set) when stdout is a
 * terminal and no_pager is false, stdout otherwise. *ret_is_pager tells the caller to pclose()
 * what it got. */
FILE *vigilctl_format_pager_open(bool no_pager, bool *ret_is_pager);
