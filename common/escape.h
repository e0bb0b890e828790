/* Writing untrusted text (worker names, exit descriptions, operators' notes) so that no
 * terminal, spreadsheet or JSON reader acts on it. Non-logging. */
#pragma once

#include <stddef.h>
#include <stdio.h>

/* For a terminal: control characters (below 0x20, and 0x7f) as \xNN, the rest as is. */
void fputs_escaped(const char *s, FILE *f);

/* One CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or LF, with quotes
 * doubled; other control characters as \xNN. NULL is an empty field. */
void fputs_csv(const char *s, FILE *f);

/* A JSON string with its quotes: quote, backslash and control characters escaped. NULL is "". */
void fputs_json_string(const char *s, FILE *f);

/* The same into buf (of size bytes, at least 3): always a complete JSON string with its quotes,
 * cut short at a character boundary of the escaped form if s does not fit. Returns its length. */
size_t json_escape(char *buf, size_t size, const char *s);
