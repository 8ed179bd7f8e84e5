/* test_sys_errors.c: the systematic floor against a reference (src/fit/sys_errors.c):
 *   - analytic cases: homoscedastic and heteroscedastic differences whose floor solves a
 *     closed equation, for the MAD and the clipped RMS; no extra scatter -> exactly 0;
 *   - recovery of a known floor from synthetic differences (known per-row errors plus a
 *     known extra scatter, seeded) within 4 standard errors of the estimator, the standard
 *     error following from the sample size (below), and the pulls over many seeds;
 *   - gross outliers: the clipped floor equals the floor without them;
 *   - the rows taking part (use, NaN, err <= 0) and the refusals;
 *   - the split by star id against values computed independently (Python);
 *   - the scaled model (k and the floor by maximum likelihood): two error sizes with
 *     residuals symmetric about the bias, where the solution is closed (each group's
 *     variance is its mean square), inside the bounds and at the floor's bound 0;
 *     recovery of known (bias, k, sys) within 4 standard errors from the inverse Fisher
 *     matrix; gross outliers; the refusals (one error size, too few rows).
 *
 * Standard error of the RMS floor: it solves sum_i r_i^2 / (e_i^2 + s^2) = m - 1, a sum of
 * m terms of variance 2 (chi^2 with one degree of freedom) whose derivative by s^2 is
 * about -sum_i 1 / (e_i^2 + s^2); so SE(s^2) = sqrt(2 m) / sum_i 1 / (e_i^2 + s^2) and
 * SE(s) = SE(s^2) / (2 s). The MAD has 2.72 times the variance of the standard deviation
 * for normal data (efficiency 37%): its SE is 1.65 times larger. */
#include "test_util.h"

#include "mstars/mem.h"
#include "mstars/rng.h"
#include "mstars/sys_errors.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAD_SCALE 1.482602218505602

static double uniform(uint64_t s[4]) { return (double)(ms_rng_xoshiro256ss(s) >> 11) * 0x1.0p-53; }

static double gauss(uint64_t s[4])
{
    double u = uniform(s), v = uniform(s);
    return sqrt(-2.0 * log(u > 0 ? u : 1e-300)) * cos(2.0 * M_PI * v);
}

static void seed_rng(uint64_t seed, uint64_t s[4])
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) s[i] = ms_rng_splitmix64(&x);
}

/* ---------------------------------------------------------------- analytic cases */

static void test_mad_analytic(void **state)
{
    (void)state;
    const double bias = 7.3, e = 2.385;
    const double d[5] = {bias - 1.1, bias, bias + 3.7, bias - 2.9, bias + 5.3};
    const double err[5] = {e, e, e, e, e};
    ms_sys_floor f;
    /* median |d - bias| = 2.9: 1.4826 * 2.9 / sqrt(e^2 + s^2) = 1 */
    assert_int_equal(ms_sys_floor_fit(5, d, err, NULL, MS_SYS_MAD, &f), MS_OK);
    assert_close(f.bias, bias, 1e-15, 0, "median");
    assert_close(f.floor, sqrt(pow(MAD_SCALE * 2.9, 2) - e * e), 1e-10, 0, "MAD floor");
    assert_close(f.spread0, MAD_SCALE * 2.9 / e, 1e-14, 0, "MAD spread at 0");
    assert_int_equal(f.n, 5);
    /* errors larger than the spread: no floor */
    const double big[5] = {5, 5, 5, 5, 5};
    assert_int_equal(ms_sys_floor_fit(5, d, big, NULL, MS_SYS_MAD, &f), MS_OK);
    assert_true(f.floor == 0.0);
    /* heteroscedastic: the row (3.1, err 1.7) is the median |z| for every s < 148 */
    const double dh[5] = {bias, bias + 0.01, bias - 3.1, bias + 100, bias - 100};
    const double eh[5] = {1, 1, 1.7, 1, 1};
    assert_int_equal(ms_sys_floor_fit(5, dh, eh, NULL, MS_SYS_MAD, &f), MS_OK);
    assert_close(f.floor, sqrt(pow(MAD_SCALE * 3.1, 2) - 1.7 * 1.7), 1e-10, 0,
                 "heteroscedastic MAD floor");
}

static void test_clipped_analytic(void **state)
{
    (void)state;
    /* homoscedastic, 6 rows (none can lie 5 sigma out): s^2 = sample variance - e^2 */
    const double d[6] = {3.2, -1.7, 0.45, 2.385, -0.9, 1.1}, e = 0.8;
    const double err[6] = {e, e, e, e, e, e};
    double mean = 0, var = 0;
    for (int i = 0; i < 6; i++) mean += d[i] / 6.0;
    for (int i = 0; i < 6; i++) var += (d[i] - mean) * (d[i] - mean) / 5.0;
    ms_sys_floor f;
    assert_int_equal(ms_sys_floor_fit(6, d, err, NULL, MS_SYS_CLIPPED, &f), MS_OK);
    assert_close(f.bias, mean, 1e-14, 1e-15, "mean");
    assert_close(f.floor, sqrt(var - e * e), 1e-10, 0, "clipped floor");
    assert_close(f.spread0, sqrt(var) / e, 1e-13, 0, "RMS spread at 0");
    assert_int_equal(f.n_clipped, 0);
    /* heteroscedastic, 2 rows c +- x with errors e1, e2: x^2 / (e1^2 + S) + x^2 / (e2^2 + S)
     * = 1, a quadratic in S = s^2 */
    const double c = -4.2, x = 3, e1 = 1, e2 = 2;
    const double d2[2] = {c + x, c - x}, err2[2] = {e1, e2};
    const double B = e1 * e1 + e2 * e2 - 2 * x * x;
    const double C = e1 * e1 * e2 * e2 - x * x * (e1 * e1 + e2 * e2);
    const double S = 0.5 * (-B + sqrt(B * B - 4 * C));
    assert_int_equal(ms_sys_floor_fit(2, d2, err2, NULL, MS_SYS_CLIPPED, &f), MS_OK);
    assert_close(f.bias, c, 1e-15, 0, "mean of 2");
    assert_close(f.floor, sqrt(S), 1e-10, 0, "heteroscedastic clipped floor");
    assert_close(f.floor, 3.9527387714655937, 1e-10, 0, "the same, computed in Python");
}

/* d = bias +- 0.6 err (alternating): a normalised spread of about 0.6, no floor; the RMS
 * spread at 0 against a direct computation. */
static void test_no_extra_scatter(void **state)
{
    (void)state;
    enum { N = 100 };
    double d[N], err[N], mean = 0, q = 0;
    for (int i = 0; i < N; i++) {
        err[i] = 0.5 + 0.037 * i;
        d[i] = 2.385 + (i % 2 ? 0.6 : -0.6) * err[i];
        mean += d[i] / N;
    }
    for (int i = 0; i < N; i++) q += (d[i] - mean) * (d[i] - mean) / (err[i] * err[i]);
    ms_sys_floor f;
    assert_int_equal(ms_sys_floor_fit(N, d, err, NULL, MS_SYS_CLIPPED, &f), MS_OK);
    assert_true(f.floor == 0.0);
    assert_close(f.bias, mean, 1e-13, 0, "mean");
    assert_close(f.spread0, sqrt(q / (N - 1)), 1e-12, 0, "RMS spread at 0");
    assert_true(f.spread0 > 0.55 && f.spread0 < 0.65);
    assert_int_equal(ms_sys_floor_fit(N, d, err, NULL, MS_SYS_MAD, &f), MS_OK);
    assert_true(f.floor == 0.0);
    assert_true(f.spread0 > 0.55 * MAD_SCALE && f.spread0 < 0.65 * MAD_SCALE);
}

/* ---------------------------------------------------------------- recovery */

/* n differences: err_i lognormal (median 1, 0.7 in ln), d_i = bias + sqrt(err_i^2 +
 * sys^2) N(0, 1). SE of the RMS floor into *se (see the top). */
static void draw(uint64_t seed, size_t n, double bias, double sys, double *d, double *err,
                 double *se)
{
    uint64_t s[4];
    seed_rng(seed, s);
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        err[i] = exp(0.7 * gauss(s));
        d[i] = bias + sqrt(err[i] * err[i] + sys * sys) * gauss(s);
        w += 1.0 / (err[i] * err[i] + sys * sys);
    }
    *se = sys > 0 ? sqrt(2.0 * (double)n) / w / (2.0 * sys) : NAN;
}

static void test_recovery(void **state)
{
    (void)state;
    enum { N = 3000 };
    double *d = ms_malloc_array("t.d", N, sizeof *d), *err = ms_malloc_array("t.e", N, sizeof *err);
    const double bias = 0.3, sys = 0.8;
    double se;
    draw(20251121, N, bias, sys, d, err, &se);
    ms_sys_floor f;
    assert_int_equal(ms_sys_floor_fit(N, d, err, NULL, MS_SYS_CLIPPED, &f), MS_OK);
    printf("clipped: floor %.4f (true %.1f, SE %.4f), bias %.4f, spread at 0 %.3f, %d "
           "iterations, %zu clipped\n", f.floor, sys, se, f.bias, f.spread0, f.iterations,
           f.n_clipped);
    assert_true(fabs(f.floor - sys) < 4.0 * se);
    assert_true(se < 0.1 * sys); /* the data do constrain it */
    assert_true(f.spread0 > 1.2);
    assert_true(f.n_clipped <= 2 && f.iterations >= 1);
    assert_true(fabs(f.bias - bias) < 4.0 * sqrt(2.0 * 2.0 + sys * sys) / sqrt((double)N));
    ms_sys_floor g;
    assert_int_equal(ms_sys_floor_fit(N, d, err, NULL, MS_SYS_MAD, &g), MS_OK);
    printf("mad:     floor %.4f (true %.1f, SE %.4f), bias %.4f\n", g.floor, sys, 1.65 * se,
           g.bias);
    assert_true(fabs(g.floor - sys) < 4.0 * 1.65 * se);
    /* no extra scatter: the floor is 0 or within the noise of 0 (s^2 < 4 SE(s^2)) */
    double w = 0;
    draw(77, N, bias, 0.0, d, err, &se);
    for (size_t i = 0; i < N; i++) w += 1.0 / (err[i] * err[i]);
    const double se2 = sqrt(2.0 * N) / w;
    assert_int_equal(ms_sys_floor_fit(N, d, err, NULL, MS_SYS_CLIPPED, &f), MS_OK);
    printf("no extra scatter: floor %.4f (noise level of s: %.4f)\n", f.floor, sqrt(4 * se2));
    assert_true(f.floor * f.floor < 4.0 * se2);
    ms_free(d);
    ms_free(err);
}

/* Over many seeds, the pulls (floor - true) / SE have mean ~0 and std ~1 (RMS) or ~1.65
 * (MAD): the tolerance above is the right one. */
static void test_pulls(void **state)
{
    (void)state;
    enum { N = 1500, RUNS = 100 };
    double *d = ms_malloc_array("t.d", N, sizeof *d), *err = ms_malloc_array("t.e", N, sizeof *err);
    double sum[2] = {0, 0}, sum2[2] = {0, 0};
    for (int r = 0; r < RUNS; r++) {
        double se;
        draw(5000 + (uint64_t)r, N, -1.1, 0.6, d, err, &se);
        for (int k = 0; k < 2; k++) {
            ms_sys_floor f;
            assert_int_equal(ms_sys_floor_fit(N, d, err, NULL, k ? MS_SYS_MAD : MS_SYS_CLIPPED,
                                              &f), MS_OK);
            const double z = (f.floor - 0.6) / se;
            sum[k] += z;
            sum2[k] += z * z;
        }
    }
    double mean[2], sd[2];
    for (int k = 0; k < 2; k++) {
        mean[k] = sum[k] / RUNS;
        sd[k] = sqrt(sum2[k] / RUNS - mean[k] * mean[k]);
    }
    printf("pulls over %d samples: clipped mean %.2f std %.2f; mad mean %.2f std %.2f\n", RUNS,
           mean[0], sd[0], mean[1], sd[1]);
    /* the mean of 100 unit pulls has std 0.1, their std ~0.07 */
    assert_true(fabs(mean[0]) < 0.4 && sd[0] > 0.75 && sd[0] < 1.3);
    assert_true(fabs(mean[1]) < 0.7 && sd[1] > 1.2 && sd[1] < 2.2);
    ms_free(d);
    ms_free(err);
}

/* Gross outliers (a wrong cross-match): the clipped floor is that of the sample without
 * them; the MAD floor stays within its noise. */
static void test_outliers(void **state)
{
    (void)state;
    enum { N = 2000, OUT = 3 };
    double *d = ms_malloc_array("t.d", N + OUT, sizeof *d);
    double *err = ms_malloc_array("t.e", N + OUT, sizeof *err);
    double se;
    draw(31337, N, 0.0, 0.5, d, err, &se);
    ms_sys_floor clean, dirty, mclean, mdirty;
    assert_int_equal(ms_sys_floor_fit(N, d, err, NULL, MS_SYS_CLIPPED, &clean), MS_OK);
    assert_int_equal(ms_sys_floor_fit(N, d, err, NULL, MS_SYS_MAD, &mclean), MS_OK);
    for (int k = 0; k < OUT; k++) {
        err[N + k] = 1.0;
        d[N + k] = (k % 2 ? -1e3 : 1e3) * (k + 1);
    }
    assert_int_equal(ms_sys_floor_fit(N + OUT, d, err, NULL, MS_SYS_CLIPPED, &dirty), MS_OK);
    assert_int_equal(ms_sys_floor_fit(N + OUT, d, err, NULL, MS_SYS_MAD, &mdirty), MS_OK);
    assert_int_equal(dirty.n_clipped, clean.n_clipped + OUT);
    assert_close(dirty.floor, clean.floor, 1e-12, 0, "clipped floor with outliers");
    assert_close(dirty.bias, clean.bias, 1e-12, 1e-15, "clipped mean with outliers");
    assert_true(fabs(mdirty.floor - mclean.floor) < 1.65 * se);
    /* without clipping they would dominate: the RMS of 1e3-ish over 2000 rows */
    assert_true(clean.floor < 0.5 + 4 * se);
    ms_free(d);
    ms_free(err);
}

/* ---------------------------------------------------------------- rows and refusals */

static void test_rows(void **state)
{
    (void)state;
    /* the rows of test_clipped_analytic among rows that must not take part */
    const double d[10] = {3.2, 99, -1.7, 0.45, NAN, 2.385, 5, -0.9, 1.1, 7};
    const double err[10] = {0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0, 0.8, 0.8, NAN};
    const uint8_t use[10] = {1, 0, 1, 1, 1, 1, 1, 1, 1, 1};
    const double dc[6] = {3.2, -1.7, 0.45, 2.385, -0.9, 1.1};
    const double ec[6] = {0.8, 0.8, 0.8, 0.8, 0.8, 0.8};
    ms_sys_floor a, b;
    for (int how = 0; how < 2; how++) {
        assert_int_equal(ms_sys_floor_fit(10, d, err, use, (ms_sys_spread)how, &a), MS_OK);
        assert_int_equal(ms_sys_floor_fit(6, dc, ec, NULL, (ms_sys_spread)how, &b), MS_OK);
        assert_int_equal(a.n, 6);
        assert_true(a.floor == b.floor && a.bias == b.bias);
    }
    assert_int_equal(ms_sys_floor_fit(1, d, err, NULL, MS_SYS_CLIPPED, &a), MS_ENOPROG);
    assert_true(isnan(a.bias) && a.floor == 0.0);
    assert_int_equal(ms_sys_floor_fit(10, d, err, use, (ms_sys_spread)7, &a), MS_EINVAL);
    assert_int_equal(ms_sys_spread_parse("mad"), MS_SYS_MAD);
    assert_int_equal(ms_sys_spread_parse("clipped"), MS_SYS_CLIPPED);
    assert_int_equal(ms_sys_spread_parse("std"), -1);
    assert_string_equal(ms_sys_spread_name(MS_SYS_MAD), "mad");
    assert_string_equal(ms_sys_spread_name(MS_SYS_CLIPPED), "clipped");
}

/* ---------------------------------------------------------------- the split */

static void test_split(void **state)
{
    (void)state;
    /* values from an independent Python implementation of splitmix64 */
    assert_close(ms_sys_split_u(0), 0.8833108082136426, 1e-15, 0, "u(0)");
    assert_close(ms_sys_split_u(INT64_C(1000000000000001009)), 0.9285419702155743, 1e-15, 0,
                 "u(source_id)");
    assert_close(ms_sys_split_u(-1), 0.8939429202831845, 1e-15, 0, "u(-1)");
    assert_close(ms_sys_split_u(42), 0.7415648787718233, 1e-15, 0, "u(42)");
    /* source ids of a mock survey: 10^18 + 1009 k; fraction below 0.5 and 0.2 binomial */
    enum { N = 100000 };
    size_t half = 0, fifth = 0;
    for (int64_t k = 0; k < N; k++) {
        const double u = ms_sys_split_u(INT64_C(1000000000000000000) + 1009 * k);
        assert_true(u >= 0.0 && u < 1.0);
        half += u < 0.5;
        fifth += u < 0.2;
    }
    printf("split: %zu of %d ids below 0.5, %zu below 0.2\n", half, N, fifth);
    assert_true(fabs((double)half - 0.5 * N) < 4.0 * sqrt(0.25 * N));
    assert_true(fabs((double)fifth - 0.2 * N) < 4.0 * sqrt(0.16 * N));
}


/* ---------------------------------------------------------------- the scaled model */

/* Groups g = 0, 1 of n_g rows with error e_g, reference error c_g and d = bias +- r_g
 * (half each): the 1/var-weighted mean is bias whatever the weights, and the likelihood
 * is maximised by var_g = r_g^2 when that is reachable with A, B >= 0. */
static void two_groups(size_t n0, size_t n1, const double e[2], const double c[2],
                       const double r[2], double bias, double *d, double *err, double *eref)
{
    for (size_t i = 0; i < n0 + n1; i++) {
        const int g = i >= n0;
        d[i] = bias + (i % 2 ? r[g] : -r[g]);
        err[i] = e[g];
        eref[i] = c[g];
    }
}

static void test_scaled_analytic(void **state)
{
    (void)state;
    enum { N0 = 40, N1 = 60 };
    double d[N0 + N1], err[N0 + N1], eref[N0 + N1];
    const double e[2] = {12.0, 45.0}, c[2] = {5.0, 0.0}, r[2] = {20.0, 31.0}, bias = -17.5;
    two_groups(N0, N1, e, c, r, bias, d, err, eref);
    /* A e0^2 + B + c0^2 = r0^2, A e1^2 + B + c1^2 = r1^2 */
    const double A = ((r[1] * r[1] - c[1] * c[1]) - (r[0] * r[0] - c[0] * c[0])) /
                     (e[1] * e[1] - e[0] * e[0]);
    const double B = r[0] * r[0] - c[0] * c[0] - A * e[0] * e[0];
    assert_true(A > 0 && B > 0);
    ms_sys_floor f;
    assert_int_equal(ms_sys_scaled_fit(N0 + N1, d, err, eref, NULL, &f), MS_OK);
    printf("scaled, analytic: k %.10g (%.10g), sys %.10g (%.10g), %d clipping pass(es)\n",
           f.scale, sqrt(A), f.floor, sqrt(B), f.iterations);
    assert_close(f.scale, sqrt(A), 1e-8, 0, "k");
    assert_close(f.floor, sqrt(B), 1e-8, 0, "sys");
    assert_close(f.bias, bias, 1e-12, 0, "bias");
    assert_int_equal(f.n, N0 + N1);
    assert_int_equal(f.n_clipped, 0);
    /* spread at k = 1, sys = 0: RMS of r / sqrt(e^2 + c^2) with m - 1 degrees of freedom */
    const double q = N0 * r[0] * r[0] / (e[0] * e[0] + c[0] * c[0]) +
                     N1 * r[1] * r[1] / (e[1] * e[1] + c[1] * c[1]);
    assert_close(f.spread0, sqrt(q / (N0 + N1 - 1)), 1e-12, 0, "spread at k = 1, sys = 0");

    /* the interior solution would need B < 0: B = 0 and A = the mean of r^2 / (e^2) (c = 0) */
    const double e2[2] = {1.0, 2.0}, c2[2] = {0.0, 0.0}, r2[2] = {1.0, 2.2};
    two_groups(N0, N1, e2, c2, r2, 3.0, d, err, eref);
    assert_int_equal(ms_sys_scaled_fit(N0 + N1, d, err, eref, NULL, &f), MS_OK);
    const double A2 = (N0 * 1.0 + N1 * 1.21) / (N0 + N1);
    assert_close(f.scale, sqrt(A2), 1e-8, 0, "k with the floor at its bound");
    assert_true(f.floor < 1e-6);
    assert_close(f.bias, 3.0, 1e-12, 0, "bias with the floor at its bound");
}

/* Recovery of a known model: errors log-uniform over a factor 20, reference errors on
 * half the rows, d = bias + sqrt(k^2 e^2 + sys^2 + e_ref^2) N(0, 1); within 4 standard
 * errors from the inverse Fisher matrix of log L (I = 1/2 sum dvar dvar / var^2). */
static void test_scaled_recovery(void **state)
{
    (void)state;
    enum { N = 20000 };
    const double bias = 50.0, k = 0.6, sys = 30.0;
    double *d = ms_malloc_array("t", N, sizeof *d), *err = ms_malloc_array("t", N, sizeof *err),
           *eref = ms_malloc_array("t", N, sizeof *eref);
    assert_non_null(d);
    assert_non_null(err);
    assert_non_null(eref);
    uint64_t s[4];
    seed_rng(20261121, s);
    double iAA = 0, iAB = 0, iBB = 0, sw = 0;
    for (size_t i = 0; i < N; i++) {
        err[i] = 10.0 * exp(log(20.0) * uniform(s));
        eref[i] = i % 2 ? 15.0 : 0.0;
        const double v = k * k * err[i] * err[i] + sys * sys + eref[i] * eref[i];
        d[i] = bias + sqrt(v) * gauss(s);
        const double a = err[i] * err[i];
        iAA += 0.5 * a * a / (v * v);
        iAB += 0.5 * a / (v * v);
        iBB += 0.5 / (v * v);
        sw += 1.0 / v;
    }
    const double det = iAA * iBB - iAB * iAB;
    const double se_A = sqrt(iBB / det), se_B = sqrt(iAA / det);
    const double se_k = se_A / (2.0 * k), se_sys = se_B / (2.0 * sys), se_bias = sqrt(1.0 / sw);
    ms_sys_floor f;
    assert_int_equal(ms_sys_scaled_fit(N, d, err, eref, NULL, &f), MS_OK);
    printf("scaled, recovery: k %.4f (true %.2f, SE %.4f), sys %.3f (true %.1f, SE %.3f), "
           "bias %.3f (true %.1f, SE %.3f), %zu clipped\n", f.scale, k, se_k, f.floor, sys,
           se_sys, f.bias, bias, se_bias, f.n_clipped);
    assert_true(fabs(f.scale - k) < 4.0 * se_k);
    assert_true(fabs(f.floor - sys) < 4.0 * se_sys);
    assert_true(fabs(f.bias - bias) < 4.0 * se_bias);
    /* the standard errors are small enough for the test to mean something */
    assert_true(se_k < 0.02 && se_sys < 2.0);
    /* gross outliers are clipped: the same solution as without them */
    ms_sys_floor clean = f;
    for (size_t i = 0; i < 10; i++) d[i * 7] = bias + (i % 2 ? 1e5 : -3e4);
    ms_sys_floor dirty;
    /* the rows those 10 replaced differ, so compare against a fit without those rows */
    uint8_t *use = ms_malloc("t", N);
    assert_non_null(use);
    for (size_t i = 0; i < N; i++) use[i] = !(i % 7 == 0 && i / 7 < 10);
    assert_int_equal(ms_sys_scaled_fit(N, d, err, eref, use, &clean), MS_OK);
    assert_int_equal(ms_sys_scaled_fit(N, d, err, eref, NULL, &dirty), MS_OK);
    assert_int_equal(dirty.n_clipped, clean.n_clipped + 10);
    assert_close(dirty.scale, clean.scale, 1e-8, 0, "k with outliers");
    assert_close(dirty.floor, clean.floor, 1e-8, 0, "sys with outliers");
    assert_close(dirty.bias, clean.bias, 1e-8, 1e-12, "bias with outliers");
    ms_free(use);
    ms_free(d);
    ms_free(err);
    ms_free(eref);
}

static void test_scaled_refusals(void **state)
{
    (void)state;
    double d[6] = {1, 2, 3, 4, 5, 6}, err[6] = {2, 2, 2, 2, 2, 2}, eref[6] = {0, 0, 0, 0, 0, NAN};
    ms_sys_floor f;
    /* one error size: k cannot be told from sys */
    assert_int_equal(ms_sys_scaled_fit(6, d, err, NULL, NULL, &f), MS_ENOPROG);
    assert_non_null(strstr(ms_error_message(), "same size"));
    ms_error_clear();
    /* rows taking part: NaN e_ref, e <= 0, NaN d, use = 0 are left out; < 3 refused */
    double e2[6] = {1, 2, 0, 3, -1, 4}, d2[6] = {1, 2, 3, NAN, 5, 6};
    const uint8_t use[6] = {1, 0, 1, 1, 1, 1};
    assert_int_equal(ms_sys_scaled_fit(6, d2, e2, eref, use, &f), MS_ENOPROG);
    assert_int_equal(f.n, 1); /* only row 0: 1 no use, 2 e = 0, 3 NaN d, 4 e < 0, 5 NaN e_ref */
    ms_error_clear();
    assert_true(isnan(f.scale));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mad_analytic),
        cmocka_unit_test(test_clipped_analytic),
        cmocka_unit_test(test_no_extra_scatter),
        cmocka_unit_test(test_recovery),
        cmocka_unit_test(test_pulls),
        cmocka_unit_test(test_outliers),
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_scaled_analytic),
        cmocka_unit_test(test_scaled_recovery),
        cmocka_unit_test(test_scaled_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
