/* Pressure stall information (/proc/pressure/{cpu,memory,io}, Documentation/accounting/psi):
 * parsing its two lines, reading one resource, and the question "is the host starved?" asked
 * before any hang verdict. Non-logging; each read is one small file. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define PSI_DEFAULT_DIR "/proc/pressure"

typedef enum PsiResource {
        PSI_CPU,
        PSI_MEMORY,
        PSI_IO,
        _PSI_RESOURCE_MAX,
        _PSI_RESOURCE_INVALID = -EINVAL,
} PsiResource;

typedef enum PsiLineKind {
        PSI_SOME,   /* some tasks stalled */
        PSI_FULL,   /* all non-idle tasks stalled at once */
        _PSI_LINE_KIND_MAX,
        _PSI_LINE_KIND_INVALID = -EINVAL,
} PsiLineKind;

const char *psi_resource_to_string(PsiResource r) _pure_;
PsiResource psi_resource_from_string(const char *s) _pure_;
const char *psi_line_kind_to_string(PsiLineKind k) _pure_;
PsiLineKind psi_line_kind_from_string(const char *s) _pure_;

typedef struct PsiLine {
        bool present;
        double avg10, avg60, avg300;   /* percent of wall time */
        uint64_t total;                /* microseconds stalled since boot */
} PsiLine;

typedef struct PsiReading {
        PsiLine line[_PSI_LINE_KIND_MAX];
} PsiReading;

/* Parses the text of one pressure file ("some avg10=... total=...\nfull ...\n"). -EBADMSG if
 * it has no well-formed "some" line. */
int psi_parse(const char *text, PsiReading *ret);

/* Reads dir/cpu, dir/memory or dir/io. -ENOENT where the kernel has no PSI. */
int psi_read(const char *dir, PsiResource res, PsiReading *ret);

/* Whether any resource has its some avg10 above some_max or its full avg10 above full_max (a
 * bound of 0 is not looked at); if so *why (size bytes) says which ("memory full avg10 52.0%
 * > 40%"). Resources that cannot be read are skipped. */
bool psi_host_starved(const char *dir, double some_max, double full_max, char *why, size_t size);
