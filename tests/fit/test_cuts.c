/* test_cuts.c: the Z25 cut decisions of one row (src/fit/cuts.c) on hand-made values:
 * each bit alone, NaNs, the dv bit of at_bound, the outlier limit, the fitted-row rule. */
#include "test_util.h"

#include "mstars/cuts.h"
#include "mstars/fit.h"

#include <math.h>
#include <string.h>

/* A clean row and limits that it passes: 4 labels, the dv bit is bit 4. */
static void clean(ms_cut_row *r, ms_cut_limits *l)
{
    *r = (ms_cut_row){3412.5, 1.37, 0, {41.3, 0.071, 0.052, 0.043, 3.85}};
    *l = (ms_cut_limits){4300.0, 50.0, 0xfu, {120.0, 0.3, 0.25, 0.2, 15.0}};
}

static void test_each_bit(void **state)
{
    (void)state;
    ms_cut_row r;
    ms_cut_limits l;
    clean(&r, &l);
    assert_int_equal(ms_cut_flags(&r, &l), 0);

    r.teff = 4300.1;
    assert_int_equal(ms_cut_flags(&r, &l), MS_CUT_TEFF_HOT);
    r.teff = 4300.0; /* "above": the limit itself passes */
    assert_int_equal(ms_cut_flags(&r, &l), 0);

    clean(&r, &l);
    r.at_bound = 1u << 1; /* log g at a bound (Z25's case) */
    assert_int_equal(ms_cut_flags(&r, &l), MS_CUT_AT_BOUNDARY);
    r.at_bound = 1u << 3; /* any label counts */
    assert_int_equal(ms_cut_flags(&r, &l), MS_CUT_AT_BOUNDARY);
    r.at_bound = 1u << 4; /* the velocity window's edge is not a training-range bound */
    assert_int_equal(ms_cut_flags(&r, &l), 0);
    l.label_bits = 0x3u;  /* a 2-label emulator: bit 2 is its dv bit */
    r.at_bound = 1u << 2;
    assert_int_equal(ms_cut_flags(&r, &l), 0);
    r.at_bound = 1u << 0;
    assert_int_equal(ms_cut_flags(&r, &l), MS_CUT_AT_BOUNDARY);

    for (int k = 0; k < MS_CUT_N_ERRORS; k++) {
        clean(&r, &l);
        r.error[k] = l.error_max[k] * 1.001;
        assert_int_equal(ms_cut_flags(&r, &l), MS_CUT_ERROR_OUTLIER);
    }

    clean(&r, &l);
    r.chi2_red = 50.5;
    assert_int_equal(ms_cut_flags(&r, &l), MS_CUT_CHI2_HIGH);

    /* all at once */
    r = (ms_cut_row){4480.0, 812.0, 0x12u, {41.3, 0.9, 0.052, 0.043, 3.85}};
    assert_int_equal(ms_cut_flags(&r, &l), MS_CUT_TEFF_HOT | MS_CUT_AT_BOUNDARY |
                                               MS_CUT_ERROR_OUTLIER | MS_CUT_CHI2_HIGH);
}

static void test_nan(void **state)
{
    (void)state;
    ms_cut_row r;
    ms_cut_limits l;
    clean(&r, &l);
    r.teff = NAN;
    r.chi2_red = NAN;
    for (int k = 0; k < MS_CUT_N_ERRORS; k++) r.error[k] = NAN;
    assert_int_equal(ms_cut_flags(&r, &l), 0);
    /* a NaN limit (column absent, or fewer than 2 values) cuts nothing */
    clean(&r, &l);
    l.error_max[4] = NAN;
    r.error[4] = 1e30;
    assert_int_equal(ms_cut_flags(&r, &l), 0);
    r.error[0] = INFINITY; /* an infinite error is above any finite limit */
    assert_int_equal(ms_cut_flags(&r, &l), MS_CUT_ERROR_OUTLIER);
}

static void test_outlier_limit(void **state)
{
    (void)state;
    /* 1.5, 2.5, 3.5, 4.5: mean 3, sample variance 5/3 */
    const double x[4] = {1.5, 2.5, 3.5, 4.5};
    double sum = 0, dev2 = 0;
    for (int i = 0; i < 4; i++) sum += x[i];
    for (int i = 0; i < 4; i++) dev2 += (x[i] - 3.0) * (x[i] - 3.0);
    assert_close(ms_cut_outlier_limit(4, sum, dev2, 5.0), 3.0 + 5.0 * sqrt(5.0 / 3.0), 1e-14, 0,
                 "mean + 5 std");
    assert_close(ms_cut_outlier_limit(4, sum, dev2, 0.0), 3.0, 1e-14, 0, "k = 0: the mean");
    assert_true(isnan(ms_cut_outlier_limit(1, 2.0, 0.0, 5.0)));
    assert_true(isnan(ms_cut_outlier_limit(0, 0.0, 0.0, 5.0)));
}

static void test_fitted_rows_and_names(void **state)
{
    (void)state;
    assert_true(ms_cut_row_fitted(0, 0));
    assert_true(ms_cut_row_fitted(0, MS_FIT_AT_BOUND | MS_FIT_NOT_CONVERGED));
    assert_false(ms_cut_row_fitted(3, 0));
    assert_false(ms_cut_row_fitted(0, MS_FIT_FEW_PIXELS));
    assert_false(ms_cut_row_fitted(0, MS_FIT_BAD_INPUT));
    assert_false(ms_cut_row_fitted(0, MS_FIT_NONFINITE | MS_FIT_AT_BOUND));
    assert_string_equal(ms_cut_flag_name(MS_CUT_TEFF_HOT), "teff_hot");
    assert_string_equal(ms_cut_flag_name(MS_CUT_AT_BOUNDARY), "at_boundary");
    assert_string_equal(ms_cut_flag_name(MS_CUT_ERROR_OUTLIER), "error_outlier");
    assert_string_equal(ms_cut_flag_name(MS_CUT_CHI2_HIGH), "chi2_high");
    assert_null(ms_cut_flag_name(1u << MS_CUT_N_FLAGS));
    assert_string_equal(ms_cut_error_params[4], "rv");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_bit),
        cmocka_unit_test(test_nan),
        cmocka_unit_test(test_outlier_limit),
        cmocka_unit_test(test_fitted_rows_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
