/* test_combine.c: the recommended-label rule and the disagreement flag (combine.h) on cases
 * worked by hand. */
#include "mstars/combine.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static void set(ms_rec_input *in, size_t m, int q, double v, double e, int clean)
{
    in[m * MS_REC_N + (size_t)q] = (ms_rec_input){v, e, clean};
}

static void blank(ms_rec_input *in, size_t n)
{
    for (size_t i = 0; i < n * MS_REC_N; i++) in[i] = (ms_rec_input){NAN, NAN, 1};
}

static void test_smallest_clean_error_wins(void **state)
{
    (void)state;
    ms_rec_input in[3 * MS_REC_N];
    ms_rec_output out;
    blank(in, 3);
    set(in, 0, 0, 3500, 50, 1);  /* z25 */
    set(in, 1, 0, 3520, 30, 1);  /* slam: smaller error */
    set(in, 2, 0, 3400, 10, 0);  /* flagged: never recommended, never compared */
    set(in, 0, 4, 12.0, 2.0, 1); /* rv from z25 only */
    ms_combine_row(in, 3, 3.0, &out);
    assert_int_equal(out.method[0], 1);
    assert_true(out.value[0] == 3520 && out.error[0] == 30);
    assert_int_equal(out.method[4], 0);
    assert_int_equal(out.method[1], -1); /* no method gave log g */
    assert_true(isnan(out.value[1]) && isnan(out.error[1]));
    /* 20 K apart with a combined error of sqrt(50^2 + 30^2) = 58.3 K: agreement */
    assert_int_equal(out.disagree, 0);
    assert_int_equal(out.pair[0], 0);
    assert_int_equal(out.pair[1], 1);
    assert_int_equal(out.pair_quantity, 0);
    assert_true(fabs(out.pair_sigma - 20.0 / sqrt(3400.0)) < 1e-12);
}

static void test_disagreement_and_ties(void **state)
{
    (void)state;
    ms_rec_input in[2 * MS_REC_N];
    ms_rec_output out;
    blank(in, 2);
    set(in, 0, 2, 0.10, 0.03, 1);
    set(in, 1, 2, -0.20, 0.04, 1); /* 0.30 / 0.05 = 6 sigma */
    set(in, 0, 0, 3300, 40, 1);
    set(in, 1, 0, 3300, 40, 1); /* a tie: the earlier method */
    ms_combine_row(in, 2, 3.0, &out);
    assert_int_equal(out.disagree, 1u << 2);
    assert_int_equal(out.pair_quantity, 2);
    assert_true(fabs(out.pair_sigma - 6.0) < 1e-9);
    assert_int_equal(out.method[0], 0);
    assert_int_equal(out.method[2], 0);
    /* a looser threshold: the same pair, no flag */
    ms_combine_row(in, 2, 7.0, &out);
    assert_int_equal(out.disagree, 0);
    /* a zero or non-finite error is not a candidate */
    set(in, 1, 2, -0.20, 0.0, 1);
    set(in, 0, 2, NAN, 0.03, 1);
    ms_combine_row(in, 2, 3.0, &out);
    assert_int_equal(out.method[2], -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smallest_clean_error_wins),
        cmocka_unit_test(test_disagreement_and_ties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
