/* A small hash table from keys to values, for lookups that must not grow with the number of
 * entries: which instance a pid or a cgroup belongs to. Open addressing with linear probing
 * and backward-shift deletion (no tombstones, so a table that sees many puts and removes stays
 * as fast as a fresh one). Keys and values are borrowed pointers: the table never frees them,
 * and a key must stay valid and unchanged while it is in the table. Integers are stored as
 * keys with INT_TO_PTR(). Non-logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define INT_TO_PTR(i) ((void *) (intptr_t) (i))
#define PTR_TO_INT(p) ((int) (intptr_t) (p))

typedef struct HashOps {
        uint64_t (*hash)(const void *key);
        bool (*equal)(const void *a, const void *b);
} HashOps;

/* Keys compared as pointer values (integers through INT_TO_PTR()), and as NUL-terminated
 * strings. */
extern const HashOps hash_ops_direct;
extern const HashOps hash_ops_string;

typedef struct Hashmap Hashmap;

/* Returns NULL when out of memory. */
Hashmap *hashmap_new(const HashOps *ops);

/* Frees the table, never its keys or values. Accepts NULL; returns NULL. */
Hashmap *hashmap_free(Hashmap *h);
static inline void hashmap_freep(Hashmap **h) {
        hashmap_free(*h);
}

/* Makes room for n entries in all, so that puts up to that size never allocate (and so never
 * fail). -ENOMEM. */
int hashmap_reserve(Hashmap *h, size_t n);

/* Adds key -> value. Returns 1 if added, 0 if the key was there with this same value, -EEXIST
 * if it was there with another value (left as it was), -ENOMEM. */
int hashmap_put(Hashmap *h, const void *key, void *value);

/* The value of key, or NULL. */
void *hashmap_get(const Hashmap *h, const void *key);

/* Removes key and returns its value, or NULL if it was not there. */
void *hashmap_remove(Hashmap *h, const void *key);

size_t hashmap_size(const Hashmap *h) _pure_;
