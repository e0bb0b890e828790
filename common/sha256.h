/* SHA-256 (FIPS 180-4), incrementally: for checking that a file's content is what the operator
 * says it should be. Not constant-time and not meant for secrets. Non-logging, no allocation. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32
#define SHA256_HEX_SIZE (2 * SHA256_DIGEST_SIZE + 1)   /* with the NUL */

typedef struct Sha256 {
        uint32_t h[8];
        uint64_t length;      /* bytes hashed so far */
        uint8_t block[64];    /* a partial block */
        size_t n;             /* bytes in block */
} Sha256;

void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *data, size_t len);
/* Pads, writes the digest, and leaves s to be initialised again before any reuse. */
void sha256_finish(Sha256 *s, uint8_t ret[SHA256_DIGEST_SIZE]);

/* The digest of data in one call. */
void sha256(const void *data, size_t len, uint8_t ret[SHA256_DIGEST_SIZE]);

/* Lowercase hex of a digest, NUL-terminated, into SHA256_HEX_SIZE bytes. Returns ret. */
char *sha256_to_hex(const uint8_t digest[SHA256_DIGEST_SIZE], char ret[SHA256_HEX_SIZE]);
/* 64 hex digits (either case, nothing else) into a digest: 0 or -EINVAL. */
int sha256_from_hex(const char *s, uint8_t ret[SHA256_DIGEST_SIZE]);
