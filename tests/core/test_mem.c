/* test_mem.c: tracked allocation counts bytes exactly, aligns, and fails on demand. */
#include "test_util.h"

#include "mstars/mem.h"
#include "mstars/status.h"

#include <stdint.h>
#include <string.h>

static void test_tracking_and_alignment(void **state)
{
    (void)state;
    size_t before = ms_mem_current();
    double *a = ms_malloc("test.a", 1000 * sizeof(double));
    float *b = ms_calloc("test.b", 77, sizeof(float));
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal((uintptr_t)a % 64, 0);
    assert_int_equal((uintptr_t)b % 64, 0);
    for (int i = 0; i < 77; i++) assert_true(b[i] == 0.0f);
    assert_int_equal(ms_mem_current() - before, 1000 * sizeof(double) + 77 * sizeof(float));
    assert_true(ms_mem_peak() >= ms_mem_current());
    a[999] = 1.5;
    a = ms_realloc("test.a", a, 2000 * sizeof(double));
    assert_non_null(a);
    assert_true(a[999] == 1.5);
    ms_free(a);
    ms_free(b);
    assert_int_equal(ms_mem_current(), before);
    assert_true(ms_mem_peak_rss() > 0);
}

static void test_fault_injection(void **state)
{
    (void)state;
    ms_mem_fail_after(1);
    void *ok = ms_malloc("first", 16);
    void *bad = ms_malloc("second", 16);
    void *again = ms_malloc("third", 16);
    assert_non_null(ok);
    assert_null(bad);
    assert_non_null(again);
    assert_non_null(strstr(ms_error_message(), "second"));
    ms_free(ok);
    ms_free(again);
    ms_mem_fail_after(-1);
}

static void test_overflow_rejected(void **state)
{
    (void)state;
    assert_null(ms_malloc_array("huge", SIZE_MAX / 2, 4));
    assert_null(ms_calloc("huge", SIZE_MAX / 8, 16));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tracking_and_alignment),
        cmocka_unit_test(test_fault_injection),
        cmocka_unit_test(test_overflow_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
