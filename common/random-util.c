/* Implements random_u64() for jitter: a xoshiro256** generator seeded once from getrandom(2).
 * Owns the generator's process-wide state, which is neither thread-safe nor meant for secrets.
 * Never blocks and never fails: without getrandom(2) entropy (early boot, old kernel) it seeds
 * from the clock, pid and an address instead, which is still enough to keep hosts of a fleet
 * from jittering in lock-step. Non-logging. */
#include <sys/random.h>
#include <time.h>

#include "macro.h"
#include "random-util.h"

static uint64_t state[4];
static bool seeded;

static uint64_t rotl(uint64_t x, unsigned k) {
        return (x << k) | (x >> (64 - k));
}

/* splitmix64: spreads a weak seed (clock, pid) over all 256 bits of state. */
static uint64_t splitmix64(uint64_t *x) {
        uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static void seed(void) {
        uint64_t buf[ELEMENTSOF(state)] = {};
        struct timespec ts = {};
        ssize_t k;
        uint64_t x;

        do
                k = getrandom(buf, sizeof(buf), GRND_NONBLOCK);
        while (k < 0 && errno == EINTR);

        /* Mixed in whether or not getrandom() worked: with entropy it changes nothing that
         * matters, without it (k < 0, buf still zero) it is the whole seed. */
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        x = (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
        (void) clock_gettime(CLOCK_REALTIME, &ts);
        x ^= rotl((uint64_t) ts.tv_nsec, 32) ^ (uint64_t) ts.tv_sec;
        x ^= rotl((uint64_t) getpid(), 48) ^ (uint64_t) (uintptr_t) &x;

        for (size_t i = 0; i < ELEMENTSOF(state); i++)
                state[i] = buf[i] ^ splitmix64(&x);

        /* xoshiro never leaves the all-zero state; 2^-256 odds, but cheap to rule out. */
        if ((state[0] | state[1] | state[2] | state[3]) == 0)
                state[0] = UINT64_C(0x9e3779b97f4a7c15);

        seeded = true;
}

uint64_t random_u64(void) {
        uint64_t result, t;

        if (!seeded)
                seed();

        result = rotl(state[1] * 5, 7) * 9;
        t = state[1] << 17;

        state[2] ^= state[0];
        state[3] ^= state[1];
        state[1] ^= state[2];
        state[0] ^= state[3];
        state[2] ^= t;
        state[3] = rotl(state[3], 45);

        return result;
}
