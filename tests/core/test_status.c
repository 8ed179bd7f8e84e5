/* test_status.c: error messages travel with status codes; the hash is FNV-1a. */
#include "test_util.h"

#include "mstars/hash.h"
#include "mstars/status.h"

#include <string.h>

static ms_status fails_with_key(const char *key)
{
    MS_ERROR(MS_EINVAL, "missing key '%s'", key);
}

static ms_status chained(void)
{
    MS_TRY(fails_with_key("FLUX"));
    return MS_OK;
}

static void test_error_message_names_the_key(void **state)
{
    (void)state;
    ms_error_clear();
    assert_int_equal(chained(), MS_EINVAL);
    assert_string_equal(ms_error_message(), "missing key 'FLUX'");
    assert_string_equal(ms_status_name(MS_EHDF5), "EHDF5");
}

static void test_fnv1a_known_vectors(void **state)
{
    (void)state;
    /* reference values of 64-bit FNV-1a (Fowler/Noll/Vo test vectors) */
    assert_true(ms_hash_bytes(MS_HASH_INIT, "", 0) == UINT64_C(0xcbf29ce484222325));
    assert_true(ms_hash_bytes(MS_HASH_INIT, "a", 1) == UINT64_C(0xaf63dc4c8601ec8c));
    assert_true(ms_hash_bytes(MS_HASH_INIT, "foobar", 6) == UINT64_C(0x85944171f73967e8));
    char hex[17];
    ms_hash_hex(UINT64_C(0x85944171f73967e8), hex);
    assert_string_equal(hex, "85944171f73967e8");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_message_names_the_key),
        cmocka_unit_test(test_fnv1a_known_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
