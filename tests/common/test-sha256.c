/* SHA-256 against the examples of FIPS 180-4 (and its companion test vectors: the empty
 * message, "abc", the 448-bit two-block message, one million 'a'), fed whole and in pieces of
 * every awkward size, and the hex conversions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sha256.h"

static void assert_digest(const uint8_t d[SHA256_DIGEST_SIZE], const char *want) {
        char hex[SHA256_HEX_SIZE];

        assert_string_equal(sha256_to_hex(d, hex), want);
}

static void assert_sha256(const char *msg, size_t len, const char *want) {
        uint8_t d[SHA256_DIGEST_SIZE];

        sha256(msg, len, d);
        assert_digest(d, want);
}

static void test_fips_180_4_examples(void **state) {
        assert_sha256("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_sha256("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
                      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_one_million_a(void **state) {
        char *a = malloc(1000000);
        uint8_t d[SHA256_DIGEST_SIZE];
        Sha256 s;

        assert_non_null(a);
        memset(a, 'a', 1000000);
        assert_sha256(a, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

        /* The same in uneven pieces that straddle block boundaries. */
        sha256_init(&s);
        for (size_t off = 0, step = 1; off < 1000000; off += step, step = step * 7 % 1021 + 1)
                sha256_update(&s, a + off, step < 1000000 - off ? step : 1000000 - off);
        sha256_finish(&s, d);
        assert_digest(d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
        free(a);
}

/* Lengths around the padding's edges (55, 56, 63, 64, 65 bytes) give the same digest whole or
 * byte by byte. */
static void test_pieces_equal_whole_at_padding_edges(void **state) {
        static const size_t lengths[] = { 0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129 };
        uint8_t buf[129], whole[SHA256_DIGEST_SIZE], bytewise[SHA256_DIGEST_SIZE];

        for (size_t i = 0; i < sizeof buf; i++)
                buf[i] = (uint8_t) (i * 31 + 7);
        for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
                Sha256 s;

                sha256(buf, lengths[i], whole);
                sha256_init(&s);
                for (size_t j = 0; j < lengths[i]; j++)
                        sha256_update(&s, buf + j, 1);
                sha256_finish(&s, bytewise);
                assert_memory_equal(whole, bytewise, SHA256_DIGEST_SIZE);
        }
}

static void test_hex_round_trip(void **state) {
        uint8_t d[SHA256_DIGEST_SIZE], back[SHA256_DIGEST_SIZE];
        char hex[SHA256_HEX_SIZE];

        sha256("abc", 3, d);
        assert_int_equal(sha256_from_hex(sha256_to_hex(d, hex), back), 0);
        assert_memory_equal(d, back, sizeof d);
        assert_int_equal(
                sha256_from_hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", back),
                0);
        assert_memory_equal(d, back, sizeof d);

        memset(back, 0x5a, sizeof back);
        assert_int_equal(sha256_from_hex("", back), -EINVAL);
        assert_int_equal(sha256_from_hex("ba7816bf", back), -EINVAL);
        assert_int_equal(
                sha256_from_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0", back),
                -EINVAL);
        assert_int_equal(
                sha256_from_hex("ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", back),
                -EINVAL);
        assert_int_equal(
                sha256_from_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a ", back),
                -EINVAL);
        for (size_t i = 0; i < sizeof back; i++)
                assert_int_equal(back[i], 0x5a);   /* untouched on failure */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fips_180_4_examples),
                cmocka_unit_test(test_one_million_a),
                cmocka_unit_test(test_pieces_equal_whole_at_padding_edges),
                cmocka_unit_test(test_hex_round_trip),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
