/* The disk probe (probe-disk.c): free space and inodes of a filesystem. */
#pragma once

#include <inttypes.h>

#include "probe.h"

typedef struct DiskReading {
        uint64_t free_bytes, total_bytes;   /* free: available to unprivileged users */
        uint64_t free_inodes, total_inodes; /* total 0: the filesystem does not count them */
        bool read_only;
} DiskReading;

/* The result for one reading under pc (a disk probe's config): the mapping from raw reading
 * to result, apart from statvfs for the unit test. */
void probe_disk_judge(const ProbeConfig *pc, const DiskReading *d, ProbeResult *r);

extern const ProbeOps probe_disk_ops;
