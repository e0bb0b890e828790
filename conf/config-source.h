/* The text of a config file with every @include expanded, as libconfig is to parse it, and the
 * map from a line of that text back to FILE:LINE. Non-logging: failures come back as -errno and
 * one malloc'd message for the caller to print. */
#pragma once

#include "macro.h"

typedef struct ConfigSource ConfigSource;

/* Reads path and, recursively, every file it @includes. Each file must be a regular file of at
 * most CONFIG_FILE_SIZE_MAX bytes that no other user may write; includes are bounded in depth,
 * count and expanded size, and cycles are refused. Integer literals beyond 32 bits get the L
 * suffix libconfig 1.5 needs to read them unwrapped.
 * On success returns 0 and sets *ret_source, which the caller frees with config_source_free().
 * On failure returns -errno and, if reterr_message is not NULL, sets it to a malloc'd
 * "FILE:LINE: problem" or "FILE: problem" the caller frees, or to NULL where there is nothing
 * to say beyond the errno (out of memory). */
int config_source_read(const char *path, ConfigSource **ret_source, char **reterr_message);

/* Accepts NULL; returns NULL. */
ConfigSource *config_source_free(ConfigSource *s);
static inline void config_source_freep(ConfigSource **s) {
        config_source_free(*s);
}

/* The expanded, NUL-terminated text; owned by s and valid until it is freed. Never NULL. */
const char *config_source_text(const ConfigSource *s);

/* Maps line text_line (1-based) of the expanded text back to the file it came from and the line
 * there. *ret_file is owned by s. Several files may start on one line (an empty included file);
 * the last one owns it. */
void config_source_locate(const ConfigSource *s, unsigned text_line, const char **ret_file,
                          unsigned *ret_line);

/* Unless *error is already set (the first error is kept: later ones are usually consequences
 * of it), sets it to "FILE:LINE: " followed by fmt, FILE:LINE being where line text_line
 * (1-based) of the expanded text came from. The caller frees *error. Returns r, so that callers
 * can return its result; on out of memory *error stays NULL. */
int config_source_error_at(const ConfigSource *s, unsigned text_line, char **error, int r, const char *fmt,
                           ...) _printf_(5, 6);
