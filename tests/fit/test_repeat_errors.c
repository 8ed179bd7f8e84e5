/* test_repeat_errors.c: Err_repeat = a / (S/N) + b from repeat observations
 * (src/fit/repeat_errors.c):
 *   - the weighted line fit: exact data, the a, b >= 0 constraints against their analytic
 *     solutions, one point;
 *   - the grouping: singles, doubles, failed rows, missing ids and NaN values are left out;
 *     deviations against a hand computation;
 *   - recovery of known a, b from synthetic repeat data drawn with that scatter (seeded),
 *     within 4 times the formal errors of the fit, and the pulls (a - a_true) / a_err over
 *     many seeds: the formal errors (from the bins' sample sizes) are honest. */
#include "test_util.h"

#include "mstars/errors.h"
#include "mstars/mem.h"
#include "mstars/rng.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- the line fit */

static void test_line_exact(void **state)
{
    (void)state;
    const double x[4] = {0.23, 0.071, 0.028, 0.0113}, nu[4] = {37, 55.5, 20, 9};
    double y[4], a, b, ea, eb;
    for (int k = 0; k < 4; k++) y[k] = 52.7 * x[k] + 2.385;
    assert_int_equal(ms_repeat_fit_line(4, x, y, nu, &a, &b, &ea, &eb), MS_OK);
    assert_close(a, 52.7, 1e-9, 0, "a");
    assert_close(b, 2.385, 1e-9, 0, "b");
    assert_true(ea > 0 && eb > 0);
}

static void test_line_constraints(void **state)
{
    (void)state;
    const double x[4] = {0.2, 0.1, 0.05, 0.02}, nu[4] = {30, 12, 50, 7};
    double y[4], a, b, ea, eb;
    /* a negative intercept: b = 0, and with weights 2 nu / (a x)^2 the fixed point is
     * a = sum nu (y / x) / sum nu */
    const double yb[4] = {9.1, 4.2, 1.7, 0.41};
    double num = 0, den = 0;
    for (int k = 0; k < 4; k++) {
        num += nu[k] * yb[k] / x[k];
        den += nu[k];
    }
    assert_int_equal(ms_repeat_fit_line(4, x, yb, nu, &a, &b, &ea, &eb), MS_OK);
    assert_true(b == 0.0);
    assert_close(a, num / den, 1e-9, 0, "a with b held at 0");
    assert_true(eb == 0.0 && ea > 0);
    /* a scatter that grows with S/N (decreasing in x): a = 0, b = the nu-weighted mean */
    num = 0;
    for (int k = 0; k < 4; k++) {
        y[k] = 3.0 - 10.0 * x[k];
        num += nu[k] * y[k];
    }
    assert_int_equal(ms_repeat_fit_line(4, x, y, nu, &a, &b, &ea, &eb), MS_OK);
    assert_true(a == 0.0);
    assert_close(b, num / den, 1e-9, 0, "b with a held at 0");
    /* one point: a alone */
    assert_int_equal(ms_repeat_fit_line(1, x + 1, yb + 1, nu, &a, &b, NULL, NULL), MS_OK);
    assert_close(a, yb[1] / x[1], 1e-12, 0, "a from one point");
    assert_true(b == 0.0);
    assert_int_equal(ms_repeat_fit_line(0, x, y, nu, &a, &b, NULL, NULL), MS_EINVAL);
}

/* ---------------------------------------------------------------- grouping */

static void test_grouping(void **state)
{
    (void)state;
    /* star 5: 3 obs; 7: 2 (too few); 9: 1; -1: no id; 11: 4 rows, one failed -> 3;
     * 12: 3 rows, one NaN -> 2 (too few) */
    const int64_t g[] = {5, 7, 11, 5, 9, -1, 11, 12, 5, 7, -1, 11, 12, 11, 12, -1};
    const double v[] = {1.0, 4, 10.0, 2.0, 3, 8, 20.0, 1, 6.0, 5, 8, 30.0, NAN, 99.0, 2, 9};
    const uint8_t use[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1};
    const size_t n = sizeof g / sizeof g[0];
    double dev[16], dof[16];
    size_t ns, nd;
    assert_int_equal(ms_repeat_deviations(n, g, v, use, 3, dev, dof, &ns, &nd), MS_OK);
    assert_int_equal(ns, 2);
    assert_int_equal(nd, 6);
    const double s = sqrt(1.5);
    const double want[16] = {(1 - 3) * s, NAN, (10 - 20) * s, (2 - 3) * s, NAN, NAN, 0.0, NAN,
                             (6 - 3) * s, NAN, NAN, (30 - 20) * s, NAN, NAN, NAN, NAN};
    for (size_t i = 0; i < n; i++) {
        char what[32];
        snprintf(what, sizeof what, "deviation of row %zu", i);
        if (isnan(want[i])) {
            assert_true(isnan(dev[i]));
            assert_true(dof[i] == 0.0);
        } else {
            assert_close(dev[i], want[i], 1e-14, 1e-14, what);
            assert_close(dof[i], 2.0 / 3.0, 1e-15, 0, "dof");
        }
    }
    /* min_obs 2 takes star 7 and star 12 too; NULL use takes the failed row of 11 */
    assert_int_equal(ms_repeat_deviations(n, g, v, use, 2, dev, NULL, &ns, &nd), MS_OK);
    assert_int_equal(ns, 4);
    assert_int_equal(nd, 10);
    assert_close(dev[1], (4.0 - 4.5) * sqrt(2.0), 1e-14, 0, "star 7");
    assert_int_equal(ms_repeat_deviations(n, g, v, NULL, 3, dev, NULL, &ns, &nd), MS_OK);
    assert_int_equal(ns, 2);
    assert_int_equal(nd, 7);
    assert_close(dev[13], (99.0 - 39.75) * sqrt(4.0 / 3.0), 1e-14, 0, "star 11 with 4 rows");
    assert_int_equal(ms_repeat_deviations(n, g, v, use, 1, dev, NULL, &ns, &nd), MS_EINVAL);
}

/* ---------------------------------------------------------------- recovery */

static double uniform(uint64_t s[4]) { return (double)(ms_rng_xoshiro256ss(s) >> 11) * 0x1.0p-53; }

static double gauss(uint64_t s[4])
{
    double u = uniform(s), v = uniform(s);
    return sqrt(-2.0 * log(u > 0 ? u : 1e-300)) * cos(2.0 * M_PI * v);
}

/* A survey of n_stars stars, 1-5 observations each, every observation of a star at the
 * star's S/N (lognormal around 15, 3-300, as LAMOST M dwarfs), values scattered by
 * a / snr + b around the star's value. Returns the fit of ms_repeat_fit_snr. */
static ms_status simulate_and_fit(uint64_t seed, size_t n_stars, double a, double b,
                                  ms_repeat_fit *fit, size_t *stars_used)
{
    uint64_t s[4], x = seed;
    for (int i = 0; i < 4; i++) s[i] = ms_rng_splitmix64(&x);
    const size_t cap = n_stars * 5;
    int64_t *g = ms_malloc_array("t.g", cap, sizeof *g);
    double *v = ms_malloc_array("t.v", cap, sizeof *v), *snr = ms_malloc_array("t.s", cap, sizeof *snr);
    double *dev = ms_malloc_array("t.d", cap, sizeof *dev), *dof = ms_malloc_array("t.f", cap, sizeof *dof);
    uint8_t *use = ms_malloc("t.u", cap);
    size_t n = 0;
    for (size_t k = 0; k < n_stars; k++) {
        const int m = 1 + (int)(5.0 * uniform(s));
        double sn = 15.0 * exp(0.95 * gauss(s));
        sn = sn < 3 ? 3 : sn > 300 ? 300 : sn;
        const double mu = 3500.0 + 200.0 * gauss(s), sigma = a / sn + b;
        for (int j = 0; j < m; j++) {
            g[n] = (int64_t)(1000003 * k + 17);
            snr[n] = sn;
            v[n] = mu + sigma * gauss(s);
            use[n] = uniform(s) > 0.03; /* a few failed fits */
            n++;
        }
    }
    size_t nd;
    ms_status st = ms_repeat_deviations(n, g, v, use, 3, dev, dof, stars_used, &nd);
    if (st == MS_OK) st = ms_repeat_fit_snr(n, dev, dof, snr, 10.0, 10, fit);
    ms_free(g);
    ms_free(v);
    ms_free(snr);
    ms_free(dev);
    ms_free(dof);
    ms_free(use);
    return st;
}

static void test_recovery(void **state)
{
    (void)state;
    const double a = 300.0, b = 20.0; /* K: 50 K at S/N 10, 23 K at S/N 100 (Z25-like) */
    ms_repeat_fit fit;
    size_t used;
    assert_int_equal(simulate_and_fit(20251121, 3000, a, b, &fit, &used), MS_OK);
    printf("recovery: %zu stars, %zu deviations, %zu bins: a = %.2f +- %.2f (true %.1f), "
           "b = %.3f +- %.3f (true %.1f)\n", used, fit.n_dev, fit.n_bins, fit.a, fit.a_err, a,
           fit.b, fit.b_err, b);
    assert_true(used > 1000);
    assert_true(fit.n_bins >= 5);
    assert_true(fit.a_err > 0 && fit.b_err > 0);
    /* the tolerance follows from the sample size through the fit's formal errors */
    assert_true(fabs(fit.a - a) < 4.0 * fit.a_err);
    assert_true(fabs(fit.b - b) < 4.0 * fit.b_err);
    assert_true(fit.a_err < 0.1 * a && fit.b_err < 0.1 * b); /* and the data do constrain them */
    for (size_t k = 0; k < fit.n_bins; k++) {
        assert_true(fit.n[k] >= 10);
        assert_true(fit.snr_max[k] - fit.snr_min[k] == 10.0);
        assert_true(1.0 / fit.inv_snr[k] >= fit.snr_min[k] && 1.0 / fit.inv_snr[k] < fit.snr_max[k] + 1e-9);
    }
    ms_repeat_fit_free(&fit);
}

/* Over many seeds the pulls (fit - true) / formal error have mean ~0 and std ~1. */
static void test_pulls(void **state)
{
    (void)state;
    const double a = 48.0, b = 1.5; /* km/s (the RV of the mock survey) */
    const int runs = 60;
    double pa = 0, pa2 = 0, pb = 0, pb2 = 0;
    for (int r = 0; r < runs; r++) {
        ms_repeat_fit fit;
        size_t used;
        assert_int_equal(simulate_and_fit(1000 + (uint64_t)r, 1500, a, b, &fit, &used), MS_OK);
        const double za = (fit.a - a) / fit.a_err, zb = (fit.b - b) / fit.b_err;
        pa += za;
        pa2 += za * za;
        pb += zb;
        pb2 += zb * zb;
        ms_repeat_fit_free(&fit);
    }
    pa /= runs;
    pb /= runs;
    const double sa = sqrt(pa2 / runs - pa * pa), sb = sqrt(pb2 / runs - pb * pb);
    printf("pulls over %d surveys: a mean %.2f std %.2f, b mean %.2f std %.2f\n", runs, pa, sa,
           pb, sb);
    /* the mean of 60 unit pulls has std 0.13; the std of 60 has std ~0.09 */
    assert_true(fabs(pa) < 0.6 && fabs(pb) < 0.6);
    assert_true(sa > 0.7 && sa < 1.4 && sb > 0.7 && sb < 1.4);
}

static void test_fit_snr_errors(void **state)
{
    (void)state;
    const double dev[4] = {1, -1, 0.5, NAN}, snr[4] = {12, 15, 18, 11};
    ms_repeat_fit fit;
    assert_int_equal(ms_repeat_fit_snr(4, dev, NULL, snr, 10.0, 10, &fit), MS_ENOPROG);
    assert_non_null(strstr(ms_error_message(), "3 deviations"));
    ms_repeat_fit_free(&fit);
    assert_int_equal(ms_repeat_fit_snr(4, dev, NULL, snr, 0.0, 2, &fit), MS_EINVAL);
    ms_repeat_fit_free(&fit);
    assert_int_equal(ms_repeat_fit_snr(4, dev, NULL, snr, 10.0, 1, &fit), MS_EINVAL);
    ms_repeat_fit_free(&fit);
    /* three deviations in one bin: the scatter is their RMS, at the RMS of 1/snr */
    assert_int_equal(ms_repeat_fit_snr(4, dev, NULL, snr, 10.0, 2, &fit), MS_OK);
    assert_int_equal(fit.n_bins, 1);
    assert_close(fit.scatter[0], sqrt(2.25 / 3.0), 1e-14, 0, "RMS");
    const double x = sqrt((1.0 / 144 + 1.0 / 225 + 1.0 / 324) / 3.0);
    assert_close(fit.inv_snr[0], x, 1e-14, 0, "RMS of 1/snr");
    assert_close(fit.a, fit.scatter[0] / x, 1e-12, 0, "one bin: a alone");
    assert_close(ms_repeat_error(fit.a, fit.b, 1.0 / x), fit.scatter[0], 1e-12, 0, "Err_repeat");
    assert_true(isnan(ms_repeat_error(1, 1, 0.0)) && isnan(ms_repeat_error(1, 1, NAN)));
    ms_repeat_fit_free(&fit);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_exact),
        cmocka_unit_test(test_line_constraints),
        cmocka_unit_test(test_grouping),
        cmocka_unit_test(test_recovery),
        cmocka_unit_test(test_pulls),
        cmocka_unit_test(test_fit_snr_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
