/* The file probe (probe-file.c): a file's existence, age, size and content checksum. */
#pragma once

#include "probe.h"
#include "sha256.h"

typedef enum FileChecksum {
        FILE_CHECKSUM_NONE,       /* not configured, or not looked at (another check failed) */
        FILE_CHECKSUM_MATCH,
        FILE_CHECKSUM_MISMATCH,
        FILE_CHECKSUM_TOO_LARGE,  /* over checksum_max_size: not hashed */
        FILE_CHECKSUM_CHANGING,   /* the file changed while it was hashed */
        FILE_CHECKSUM_ERROR,      /* it could not be read (FileReading.error) */
        _FILE_CHECKSUM_MAX,
        _FILE_CHECKSUM_INVALID = -EINVAL,
} FileChecksum;

const char *probe_file_checksum_to_string(FileChecksum c) _pure_;
FileChecksum probe_file_checksum_from_string(const char *s) _pure_;

typedef struct FileReading {
        bool exists;
        uint64_t size;
        usec_t age;                   /* since the last modification (0 for an mtime ahead of the clock) */
        FileChecksum checksum;
        bool cached;                  /* the verdict of an earlier hash of the very same file */
        int error;                    /* errno, for FILE_CHECKSUM_ERROR */
        char sha256[SHA256_HEX_SIZE]; /* what the content hashed to; "" if not hashed */
} FileReading;

/* Whether a reading fails the checks that need no hashing (existence, max_age, sizes): then the
 * content is not hashed at all. */
bool probe_file_fails_before_checksum(const ProbeConfig *pc, const FileReading *f);

/* The result for one reading under pc (a file probe's config): the mapping from reading to
 * result, apart from stat() and the hashing, for the unit test. */
void probe_file_judge(const ProbeConfig *pc, const FileReading *f, ProbeResult *r);

extern const ProbeOps probe_file_ops;
