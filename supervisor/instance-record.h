/* An instance's story in the incident store and its saved crash-loop state: each failed end
 * as an event of its incident, each restart as a healing action with its outcome, the
 * resolution once it ran stably, and its backoff level saved whenever it changes and taken
 * back at start (instance_restore_state(), declared in instance.h). Every
 * function is one call into the recorder with the instance's incident keys; with no recorder
 * (ctx->recorder NULL) they record nothing. Non-logging: the instance logs the events. */
#pragma once

#include <stdbool.h>

#include "instance.h"

/* The restart that just started i (a healing action on its open failure incident, if one is
 * open). trial: it is the breaker's half-open trial. */
void instance_record_restart(Instance *i, bool trial);

/* The end in i->last_exit / i->last_class, described by desc. A failure counts as a death and
 * marks the previous restart as failed. Returns the journal priority for the end's log line:
 * that of its incident's severity, or the class's own level for an end that is no failure. */
int instance_record_end(Instance *i, const char *desc);

/* i ran stably: its restart worked and its incidents are over. */
void instance_record_stable(Instance *i, const char *note);

/* Saves the backoff level and deaths, so that a restarted vigild goes on with them. */
void instance_record_state(Instance *i);

/* A hang verdict was put off (message says why): a step of the open failure incident, if any. */
void instance_record_deferred(Instance *i, const char *message);
