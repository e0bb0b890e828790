/* The probe kinds, each registered once by name: adding a kind is one file, one line in the
 * table below, one unit test and one integration test. Nothing else lists the kinds. */

#include "probe-cpu.h"
#include "probe-disk.h"
#include "probe-exec.h"
#include "probe-fds.h"
#include "probe-file.h"
#include "probe-http.h"
#include "probe-memory.h"
#include "probe-pressure.h"
#include "probe-progress.h"
#include "probe-queue.h"
#include "probe-tcp.h"
#include "probe.h"

static const ProbeOps *const probe_ops[] = {
        &probe_cpu_ops,
        &probe_disk_ops,
        &probe_exec_ops,
        &probe_fds_ops,
        &probe_file_ops,
        &probe_http_ops,
        &probe_memory_ops,
        &probe_pressure_ops,
        &probe_progress_ops,
        &probe_queue_ops,
        &probe_tcp_ops,
        NULL,
};

const ProbeKindSpec *probe_kind_spec_at(size_t index) {
        if (index >= ELEMENTSOF(probe_ops) - 1)
                return NULL;
        return &probe_ops[index]->spec;
}

const ProbeOps *probe_ops_find(const char *kind) {
        if (!kind)
                return NULL;
        for (const ProbeOps *const *o = probe_ops; *o; o++)
                if (streq((*o)->spec.kind, kind))
                        return *o;
        return NULL;
}
