/* Random draws for jitter. Non-cryptographic use, but seeded from getrandom(2) so that many
 * vigild instances on a fleet do not jitter in lock-step. Non-logging. */
#pragma once

#include <stdint.h>

/* A uniformly distributed 64-bit value. Never fails (falls back to a PRNG stream). */
uint64_t random_u64(void);
