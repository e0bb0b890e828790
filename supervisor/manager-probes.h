/* The manager's side of probes (manager-probes.c): the ProbeEnv it lends every probe (the
 * care of their child processes, the pressure directory), the host probes, and whether the
 * host is starved. For manager.c only. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

typedef struct Manager Manager;

/* Fills m->probe_env and makes the table of probe children; -ENOMEM. */
int manager_probes_setup(Manager *m);
/* Makes and starts the host probes (after the recorder exists). Logs; -ENOMEM. */
int manager_probes_start(Manager *m);
/* Stops the host probes (vigild is stopping). */
void manager_probes_stop(Manager *m);
void manager_probes_free(Manager *m);

/* If pid is a probe's child, lets its owner reap it and returns true. */
bool manager_probes_reap_child(Manager *m, pid_t pid);
bool manager_probes_owns_child(const Manager *m, pid_t pid);

/* Whether /proc/pressure (or the test hook's stand-in) shows the host starved by the
 * daemon.starved_* bounds, read at most once a second; why says which line. */
bool manager_probes_host_starved(Manager *m, char *why, size_t size);
