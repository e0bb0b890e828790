/* The hash table of hashmap.h. The slot array's size is a power of two kept at most 3/4 full;
 * an entry sits at the first free slot at or after its home slot (hash & mask), and removal
 * moves later entries of the same run back so that every run stays unbroken. Owns only the
 * slot array. Never logs, never reads a clock. */
#include "hashmap.h"

#define MIN_SLOTS 8U

typedef struct Slot {
        const void *key;
        void *value;
        uint64_t hash;
        bool used;
} Slot;

struct Hashmap {
        const HashOps *ops;
        Slot *slots;
        size_t n_slots;   /* 0 or a power of two */
        size_t n_entries;
};

/* splitmix64's finalizer: every bit of the input moves about half the output bits, so pids
 * that differ in their low bits land far apart. */
static uint64_t mix64(uint64_t x) {
        x ^= x >> 30;
        x *= UINT64_C(0xbf58476d1ce4e5b9);
        x ^= x >> 27;
        x *= UINT64_C(0x94d049bb133111eb);
        x ^= x >> 31;
        return x;
}

static uint64_t direct_hash(const void *key) {
        return mix64((uint64_t) (uintptr_t) key);
}

static bool direct_equal(const void *a, const void *b) {
        return a == b;
}

static uint64_t string_hash(const void *key) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        /* FNV-1a, then mixed: cgroup paths share long prefixes and differ at the end. */
        for (const unsigned char *p = key; *p; p++)
                h = (h ^ *p) * UINT64_C(0x100000001b3);
        return mix64(h);
}

static bool string_equal(const void *a, const void *b) {
        return streq(a, b);
}

const HashOps hash_ops_direct = { .hash = direct_hash, .equal = direct_equal };
const HashOps hash_ops_string = { .hash = string_hash, .equal = string_equal };

Hashmap *hashmap_new(const HashOps *ops) {
        Hashmap *h;

        assert(ops);

        h = calloc(1, sizeof(Hashmap));
        if (!h)
                return NULL;
        h->ops = ops;
        return h;
}

Hashmap *hashmap_free(Hashmap *h) {
        if (!h)
                return NULL;
        free(h->slots);
        return mfree(h);
}

size_t hashmap_size(const Hashmap *h) {
        return h ? h->n_entries : 0;
}

/* The slot holding key, or the free slot where it would go. */
static size_t find_slot(const Hashmap *h, const void *key, uint64_t hash) {
        size_t mask = h->n_slots - 1, k = hash & mask;

        while (h->slots[k].used && !(h->slots[k].hash == hash && h->ops->equal(h->slots[k].key, key)))
                k = (k + 1) & mask;
        return k;
}

static int resize(Hashmap *h, size_t n_slots) {
        Slot *old = h->slots;
        size_t n_old = h->n_slots;

        h->slots = calloc(n_slots, sizeof(Slot));
        if (!h->slots) {
                h->slots = old;
                return -ENOMEM;
        }
        h->n_slots = n_slots;
        for (size_t k = 0; k < n_old; k++)
                if (old[k].used)
                        h->slots[find_slot(h, old[k].key, old[k].hash)] = old[k];
        free(old);
        return 0;
}

int hashmap_reserve(Hashmap *h, size_t n) {
        size_t want = MIN_SLOTS;

        assert(h);

        if (n > SIZE_MAX / 8)
                return -ENOMEM;
        /* At most 3/4 full: 4n/3 slots, rounded up to a power of two. */
        while (want / 4 * 3 < n)
                want *= 2;
        if (want <= h->n_slots)
                return 0;
        return resize(h, want);
}

int hashmap_put(Hashmap *h, const void *key, void *value) {
        uint64_t hash;
        size_t k;
        int r;

        assert(h);

        r = hashmap_reserve(h, h->n_entries + 1);
        if (r < 0)
                return r;
        hash = h->ops->hash(key);
        k = find_slot(h, key, hash);
        if (h->slots[k].used)
                return h->slots[k].value == value ? 0 : -EEXIST;
        h->slots[k] = (Slot) { .key = key, .value = value, .hash = hash, .used = true };
        h->n_entries++;
        return 1;
}

void *hashmap_get(const Hashmap *h, const void *key) {
        size_t k;

        if (!h || h->n_entries == 0)
                return NULL;
        k = find_slot(h, key, h->ops->hash(key));
        return h->slots[k].used ? h->slots[k].value : NULL;
}

void *hashmap_remove(Hashmap *h, const void *key) {
        size_t mask, hole, k;
        void *value;

        if (!h || h->n_entries == 0)
                return NULL;
        mask = h->n_slots - 1;
        hole = find_slot(h, key, h->ops->hash(key));
        if (!h->slots[hole].used)
                return NULL;
        value = h->slots[hole].value;
        h->n_entries--;

        /* Close the gap: an entry further along the run moves into the hole unless its home
         * lies cyclically after the hole (then it is already as close to home as it can be). */
        for (k = (hole + 1) & mask; h->slots[k].used; k = (k + 1) & mask) {
                size_t home = h->slots[k].hash & mask;

                if (((k - home) & mask) >= ((k - hole) & mask)) {
                        h->slots[hole] = h->slots[k];
                        hole = k;
                }
        }
        h->slots[hole] = (Slot) {};
        return value;
}
