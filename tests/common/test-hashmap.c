/* Unit tests for common/hashmap.c: put/get/remove for integer and string keys, -EEXIST for a
 * key held with another value, reserve making later puts allocation-free, runs of colliding
 * keys surviving removals in any order (a hash that sends every key home to one slot), and a
 * long random sequence of operations checked against a plain array after every step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hashmap.h"
#include "random-util.h"

static void test_put_get_remove_integers(void **state) {
        Hashmap *h = hashmap_new(&hash_ops_direct);
        int values[100];

        assert_non_null(h);
        assert_null(hashmap_get(h, INT_TO_PTR(1)));
        assert_null(hashmap_remove(h, INT_TO_PTR(1)));
        for (int k = 0; k < 100; k++)
                assert_int_equal(hashmap_put(h, INT_TO_PTR(k * 4096 + 1), &values[k]), 1);
        assert_int_equal(hashmap_size(h), 100);
        for (int k = 0; k < 100; k++)
                assert_ptr_equal(hashmap_get(h, INT_TO_PTR(k * 4096 + 1)), &values[k]);
        assert_null(hashmap_get(h, INT_TO_PTR(2)));

        for (int k = 0; k < 100; k += 2)
                assert_ptr_equal(hashmap_remove(h, INT_TO_PTR(k * 4096 + 1)), &values[k]);
        assert_int_equal(hashmap_size(h), 50);
        for (int k = 0; k < 100; k++)
                assert_ptr_equal(hashmap_get(h, INT_TO_PTR(k * 4096 + 1)), k % 2 ? &values[k] : NULL);
        hashmap_free(h);
}

static void test_put_existing_key(void **state) {
        Hashmap *h = hashmap_new(&hash_ops_direct);
        int a, b;

        assert_int_equal(hashmap_put(h, INT_TO_PTR(7), &a), 1);
        assert_int_equal(hashmap_put(h, INT_TO_PTR(7), &a), 0);
        assert_int_equal(hashmap_put(h, INT_TO_PTR(7), &b), -EEXIST);
        assert_ptr_equal(hashmap_get(h, INT_TO_PTR(7)), &a);
        assert_int_equal(hashmap_size(h), 1);
        hashmap_free(h);
}

static void test_string_keys_compare_by_content(void **state) {
        Hashmap *h = hashmap_new(&hash_ops_string);
        char key[] = "/sys/fs/cgroup/unified/vigil/api-0", probe[] = "/sys/fs/cgroup/unified/vigil/api-0";
        int v;

        assert_int_equal(hashmap_put(h, key, &v), 1);
        assert_ptr_equal(hashmap_get(h, probe), &v);
        assert_null(hashmap_get(h, "/sys/fs/cgroup/unified/vigil/api-1"));
        assert_ptr_equal(hashmap_remove(h, probe), &v);
        assert_null(hashmap_get(h, key));
        hashmap_free(h);
}

static void test_free_accepts_null(void **state) {
        assert_null(hashmap_free(NULL));
        assert_int_equal(hashmap_size(NULL), 0);
        assert_null(hashmap_get(NULL, INT_TO_PTR(1)));
}

/* Every key hashes alike: one long run from one home slot, the worst case for removal. */
static uint64_t same_hash(const void *key) {
        return 5;
}

static bool same_equal(const void *a, const void *b) {
        return a == b;
}

static const HashOps same_ops = { .hash = same_hash, .equal = same_equal };

static void test_colliding_run_survives_removals(void **state) {
        Hashmap *h = hashmap_new(&same_ops);
        int values[20];

        for (int k = 0; k < 20; k++)
                assert_int_equal(hashmap_put(h, INT_TO_PTR(k + 1), &values[k]), 1);
        /* From the middle, the front and the back of the run. */
        const int order[] = { 10, 0, 19, 5, 15, 1, 18 };
        for (size_t n = 0; n < ELEMENTSOF(order); n++) {
                assert_ptr_equal(hashmap_remove(h, INT_TO_PTR(order[n] + 1)), &values[order[n]]);
                for (int k = 0; k < 20; k++) {
                        bool removed = false;

                        for (size_t j = 0; j <= n; j++)
                                removed = removed || order[j] == k;
                        assert_ptr_equal(hashmap_get(h, INT_TO_PTR(k + 1)), removed ? NULL : &values[k]);
                }
        }
        hashmap_free(h);
}

static void test_reserve_makes_room(void **state) {
        Hashmap *h = hashmap_new(&hash_ops_direct);
        int v;

        assert_int_equal(hashmap_reserve(h, 1000), 0);
        for (int k = 1; k <= 1000; k++)
                assert_int_equal(hashmap_put(h, INT_TO_PTR(k), &v), 1);
        assert_int_equal(hashmap_size(h), 1000);
        assert_int_equal(hashmap_reserve(h, 10), 0);
        for (int k = 1; k <= 1000; k++)
                assert_ptr_equal(hashmap_get(h, INT_TO_PTR(k)), &v);
        assert_int_equal(hashmap_reserve(h, SIZE_MAX), -ENOMEM);
        hashmap_free(h);
}

/* Random puts and removes over a small key space (so that keys come back after removal),
 * checked against an array indexed by key after every operation. */
static void test_random_operations_match_a_model(void **state) {
        enum { KEYS = 300, STEPS = 20000 };
        Hashmap *h = hashmap_new(&hash_ops_direct);
        int values[KEYS];
        bool present[KEYS] = {};
        size_t n = 0;

        for (int step = 0; step < STEPS; step++) {
                int k = (int) (random_u64() % KEYS);
                void *key = INT_TO_PTR(k * 1000003 + 17);

                if (random_u64() % 3 == 0) {
                        assert_ptr_equal(hashmap_remove(h, key), present[k] ? &values[k] : NULL);
                        n -= present[k];
                        present[k] = false;
                } else {
                        assert_int_equal(hashmap_put(h, key, &values[k]), present[k] ? 0 : 1);
                        n += !present[k];
                        present[k] = true;
                }
                assert_int_equal(hashmap_size(h), n);
                if (step % 97 == 0)
                        for (int j = 0; j < KEYS; j++)
                                assert_ptr_equal(hashmap_get(h, INT_TO_PTR(j * 1000003 + 17)),
                                                 present[j] ? &values[j] : NULL);
        }
        hashmap_free(h);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_put_get_remove_integers),
                cmocka_unit_test(test_put_existing_key),
                cmocka_unit_test(test_string_keys_compare_by_content),
                cmocka_unit_test(test_free_accepts_null),
                cmocka_unit_test(test_colliding_run_survives_removals),
                cmocka_unit_test(test_reserve_makes_room),
                cmocka_unit_test(test_random_operations_match_a_model),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
