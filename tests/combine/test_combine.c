/* test_combine.c: the recommended-label rule and the disagreement flag (combine.h) on cases
 * worked by hand. */
#include "mstars/combine.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

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

/* Gaussian deviates from a fixed LCG + Box-Muller: the test's data are the same every run. */
static double gauss(uint64_t *st)
{
    double u[2];
    for (int k = 0; k < 2; k++) {
        *st = *st * 6364136223846793005ull + 1442695040888963407ull;
        u[k] = ((double)(*st >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

/* The three-cornered hat on a case with a known answer: three methods with independent
 * Gaussian errors of sd 10, 12 and 15 that all state an error of 10 get scales ~1, 1.2, 1.5
 * (each s^2 is a difference of pair variances, each good to ~4% from 2000-4000 rows: the
 * scales to within 10%; a much smaller s beside large ones is poorly determined, which is the
 * method's nature); a method with no rows keeps 1; two
 * methods alone share the factor sqrt((10^2 + 12^2) / (10^2 + 10^2)) = 1.10. Binned by a key,
 * each bin gets its own scales (the second half of the rows has twice the errors; over all rows the robust sd of that 1:1 mixture of sd 1 and 2 is
 * 1.4826 x 0.924 = 1.370, 0.924 solving Phi(m) + Phi(m / 2) = 1.5). */
static void test_error_scales_three_cornered_hat(void **state)
{
    (void)state;
    enum { N = 4000, M = 4 };
    static ms_rec_input in[N * M * MS_REC_N];
    static double key[N];
    const double sd[M] = {10, 12, 15, 5};
    uint64_t st = 12345;
    for (size_t r = 0; r < N; r++) {
        double truth = 3500 + 100 * gauss(&st);
        key[r] = r < N / 2 ? 15.0 : 60.0;
        double f = r < N / 2 ? 1.0 : 2.0;
        for (size_t m = 0; m < M; m++)
            for (int q = 0; q < MS_REC_N; q++)
                in[(r * M + m) * MS_REC_N + (size_t)q] =
                    (q == 0 && m < 3) ? (ms_rec_input){truth + f * sd[m] * gauss(&st), 10.0, 1}
                    : (q == 4 && m < 2) ? (ms_rec_input){f * sd[m] * gauss(&st), 10.0, 1}
                                        : (ms_rec_input){NAN, NAN, 1};
    }
    double scale[M * MS_REC_N];
    assert_int_equal(ms_combine_error_scales(in, N, M, NULL, NULL, 0, 20, scale), 0);
    for (size_t m = 0; m < 3; m++) {
        double want = sd[m] / 10.0 * 1.370; /* robust sd of the 1:1 mixture of sd 1 and 2 */
        assert_true(fabs(scale[m * MS_REC_N + 0] / want - 1.0) < 0.1);
    }
    assert_true(scale[3 * MS_REC_N + 0] == 1.0);              /* no rows: not estimated */
    const double two = sqrt((100.0 + 144.0) / 200.0) * 1.370; /* rv: two methods */
    assert_true(fabs(scale[0 * MS_REC_N + 4] / two - 1.0) < 0.1);
    assert_true(scale[0 * MS_REC_N + 4] == scale[1 * MS_REC_N + 4]);
    /* two bins of the key: 1x and 2x the errors */
    const double edges[3] = {-HUGE_VAL, 50.0, HUGE_VAL};
    double sb[M * MS_REC_N * 2];
    assert_int_equal(ms_combine_error_scales(in, N, M, key, edges, 2, 20, sb), 0);
    for (size_t m = 0; m < 3; m++) {
        assert_true(fabs(sb[(m * MS_REC_N + 0) * 2 + 0] / (sd[m] / 10.0) - 1.0) < 0.1);
        assert_true(fabs(sb[(m * MS_REC_N + 0) * 2 + 1] / (2.0 * sd[m] / 10.0) - 1.0) < 0.1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smallest_clean_error_wins),
        cmocka_unit_test(test_disagreement_and_ties),
        cmocka_unit_test(test_error_scales_three_cornered_hat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
