/* test_spec_resample.c: linear resampling with inverse variance (method.md 2.3).
 * References: a linear flux is reproduced exactly; ivar_out follows the analytic
 * (1-t)^2 var_a + t^2 var_b with t found independently (bisection); a Monte-Carlo over
 * noise realisations gives the empirical variance per output pixel and the covariance of
 * neighbours (the oversampling correlation documented in resample.c); bad pixels are
 * never interpolated across. */
#include "spec_fixtures.h"

#include <stdlib.h>

/* Independent bracketing: largest a with wave[a] <= x (bisection). */
static size_t bracket(const double *wave, size_t n, double x)
{
    size_t lo = 0, hi = n - 1;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (wave[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static void test_linear_flux_exact(void **state)
{
    (void)state;
    static double wave[LAMOST_N], flux[LAMOST_N], ivar[LAMOST_N], fo[2901], io[2901];
    for (size_t i = 0; i < LAMOST_N; i++) {
        wave[i] = lamost_wave(i);
        flux[i] = 37.25 - 0.0123 * wave[i];
        ivar[i] = 1.0;
    }
    ms_wgrid g = {6000.0, 1.0, 2901};
    const double dops[] = {1.0, ms_spec_doppler(-87.6), ms_spec_doppler(412.0)};
    for (size_t d = 0; d < 3; d++) {
        size_t ng = ms_spec_resample(wave, flux, ivar, NULL, LAMOST_N, dops[d], g, fo, io);
        assert_int_equal(ng, g.n);
        for (size_t j = 0; j < g.n; j++) {
            /* native pixel i sits at rest wavelength wave[i] / doppler, where the linear
             * flux is 37.25 - 0.0123 * wave[i]; so at rest x the value is at x * doppler */
            double x = (g.start + (double)j * g.step) * dops[d];
            assert_close(fo[j], 37.25 - 0.0123 * x, 1e-13, 0.0, "linear flux resampled");
        }
    }
}

static void test_variance_formula(void **state)
{
    (void)state;
    static double wave[LAMOST_N], flux[LAMOST_N], ivar[LAMOST_N], fo[2901], io[2901];
    fx_rng r = {11, 0, 0};
    for (size_t i = 0; i < LAMOST_N; i++) {
        wave[i] = lamost_wave(i);
        flux[i] = 100.0 + 10.0 * fx_normal(&r);
        ivar[i] = 0.01 + 2.0 * fx_uniform(&r); /* high-entropy per-pixel variances */
    }
    ms_wgrid g = {6000.0, 1.0, 2901};
    const double dop = ms_spec_doppler(-23.7);
    size_t ng = ms_spec_resample(wave, flux, ivar, NULL, LAMOST_N, dop, g, fo, io);
    assert_int_equal(ng, g.n);
    /* rest-frame native wavelengths wave / dop, bracketed independently */
    static double rest[LAMOST_N];
    for (size_t i = 0; i < LAMOST_N; i++) rest[i] = wave[i] / dop;
    for (size_t j = 0; j < g.n; j++) {
        double xr = g.start + (double)j * g.step; /* rest frame */
        size_t a = bracket(rest, LAMOST_N, xr);
        double t = (xr - rest[a]) / (rest[a + 1] - rest[a]);
        double var = (1 - t) * (1 - t) / ivar[a] + t * t / ivar[a + 1];
        assert_close(io[j], 1.0 / var, 1e-11, 0.0, "ivar_out = 1/((1-t)^2 var_a + t^2 var_b)");
        assert_close(fo[j], (1 - t) * flux[a] + t * flux[a + 1], 1e-11, 0.0, "flux_out");
    }
}

/* Empirical variance and neighbour covariance over many noise realisations. */
static void test_monte_carlo_variance(void **state)
{
    (void)state;
    /* native pixels around 6000-6400 A only (keeps the test fast under sanitizers) */
    enum { I0 = 2090, M = 300, NOUT = 300, REAL = 20000 };
    double wave[M], sig[M], ivar[M], flux[M], fo[NOUT], io[NOUT], io_ref[NOUT];
    fx_rng r = {2024, 0, 0};
    for (size_t i = 0; i < M; i++) {
        wave[i] = lamost_wave(I0 + i);
        sig[i] = 1.0 + 0.6 * sin(0.37 * (double)i) + 0.3 * fx_uniform(&r);
        ivar[i] = 1.0 / (sig[i] * sig[i]);
    }
    assert_true(wave[0] < 6000.0 && wave[M - 1] > 6000.0 + NOUT);
    ms_wgrid g = {6000.0, 1.0, NOUT};
    static double sum[NOUT], sum2[NOUT], sumx[NOUT];
    for (size_t k = 0; k < REAL; k++) {
        for (size_t i = 0; i < M; i++) flux[i] = 5.0 + sig[i] * fx_normal(&r);
        size_t ng = ms_spec_resample(wave, flux, ivar, NULL, M, 1.0, g, fo, io);
        assert_int_equal(ng, NOUT);
        for (size_t j = 0; j < NOUT; j++) {
            double d = fo[j] - 5.0;
            sum[j] += d;
            sum2[j] += d * d;
            if (j + 1 < NOUT) sumx[j] += d * (fo[j + 1] - 5.0);
        }
        if (k == 0)
            for (size_t j = 0; j < NOUT; j++) io_ref[j] = io[j];
    }
    /* per pixel: the variance estimate has relative sd sqrt(2 / REAL) = 1%; allow 5 sd */
    double mean_ratio = 0.0;
    for (size_t j = 0; j < NOUT; j++) {
        double var = sum2[j] / REAL - (sum[j] / REAL) * (sum[j] / REAL);
        double ratio = var * io_ref[j];
        if (fabs(ratio - 1.0) > 0.05)
            fail_msg("pixel %zu: empirical variance / (1/ivar_out) = %.4f", j, ratio);
        mean_ratio += ratio / NOUT;
    }
    assert_close(mean_ratio, 1.0, 0.0, 0.005, "mean empirical / predicted variance");

    /* neighbours sharing a native pixel are correlated: cov = sum of shared weights^2 var */
    double corr_sum = 0.0;
    size_t n_corr = 0;
    for (size_t j = 0; j + 1 < NOUT; j++) {
        double x0 = 6000.0 + (double)j, x1 = x0 + 1.0;
        size_t a0 = bracket(wave, M, x0), a1 = bracket(wave, M, x1);
        double t0 = (x0 - wave[a0]) / (wave[a0 + 1] - wave[a0]);
        double t1 = (x1 - wave[a1]) / (wave[a1 + 1] - wave[a1]);
        double cov;
        if (a0 == a1) /* same native pair */
            cov = (1 - t0) * (1 - t1) * sig[a0] * sig[a0] + t0 * t1 * sig[a0 + 1] * sig[a0 + 1];
        else if (a1 == a0 + 1) /* share native a0 + 1 */
            cov = t0 * (1 - t1) * sig[a1] * sig[a1];
        else
            cov = 0.0;
        double emp = sumx[j] / REAL - (sum[j] / REAL) * (sum[j + 1] / REAL);
        double sd = sqrt((1.0 / io_ref[j]) * (1.0 / io_ref[j + 1]));
        /* correlation coefficients: the estimate has sd ~ 1/sqrt(REAL) = 0.007 */
        if (fabs(emp / sd - cov / sd) > 0.04)
            fail_msg("pixels %zu,%zu: correlation %.4f, predicted %.4f", j, j + 1, emp / sd,
                     cov / sd);
        corr_sum += cov / sd;
        n_corr++;
    }
    /* the 1 A grid oversamples the 1.4 A native pixels: substantial positive correlation */
    assert_true(corr_sum / (double)n_corr > 0.3);
}

static void test_bad_pixels_not_bridged(void **state)
{
    (void)state;
    enum { M = 400 };
    double wave[M], flux[M], ivar[M], fo[200], io[200];
    uint8_t good[M];
    for (size_t i = 0; i < M; i++) {
        wave[i] = 6000.0 + 1.7 * (double)i - 20.0;
        flux[i] = 3.0;
        ivar[i] = 4.0;
        good[i] = 1;
    }
    const size_t badi[] = {40, 41, 77, 150};
    for (size_t k = 0; k < 4; k++) {
        good[badi[k]] = 0;
        /* must never leak into a good output: NaN / zero ivar, or finite garbage (a mask
         * on an otherwise valid pixel) */
        flux[badi[k]] = k % 2 ? NAN : 1e6;
        ivar[badi[k]] = k % 2 ? 0.0 : 1.0;
    }
    ms_wgrid g = {6000.0, 1.0, 200};
    size_t ng = ms_spec_resample(wave, flux, ivar, good, M, 1.0, g, fo, io);
    size_t expect_good = 0;
    for (size_t j = 0; j < g.n; j++) {
        double x = 6000.0 + (double)j;
        size_t a = bracket(wave, M, x);
        double t = (x - wave[a]) / (wave[a + 1] - wave[a]);
        int ok = (t == 1.0 || good[a]) && (t == 0.0 || good[a + 1]);
        expect_good += (size_t)ok;
        if (ok) {
            assert_close(fo[j], 3.0, 1e-14, 0.0, "flux next to a bad pixel");
            assert_true(io[j] > 0.0);
        } else {
            assert_true(isnan(fo[j]));
            assert_true(io[j] == 0.0);
        }
    }
    assert_int_equal(ng, expect_good);
    assert_true(ng < g.n && ng > g.n - 20);

    /* outside the native range: bad */
    ms_wgrid wide = {5960.0, 1.0, 200};
    ng = ms_spec_resample(wave, flux, ivar, good, M, 1.0, wide, fo, io);
    assert_true(isnan(fo[0]) && io[0] == 0.0); /* 5960 < wave[0] = 5980 */
    assert_true(io[25] > 0.0);                 /* 5985 */
    /* exactly on a native pixel, the neighbour's badness does not matter (zero weight) */
    double w2[3] = {6000.0, 6001.0, 6002.0}, f2[3] = {1.0, 2.0, NAN}, i2[3] = {1.0, 1.0, 0.0};
    uint8_t g2[3] = {1, 1, 0};
    ms_wgrid one = {6001.0, 1.0, 1};
    ng = ms_spec_resample(w2, f2, i2, g2, 3, 1.0, one, fo, io);
    assert_int_equal(ng, 1);
    assert_close(fo[0], 2.0, 0.0, 0.0, "flux exactly on a native pixel");
    assert_close(io[0], 1.0, 1e-15, 0.0, "ivar exactly on a native pixel");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_flux_exact),
        cmocka_unit_test(test_variance_formula),
        cmocka_unit_test(test_monte_carlo_variance),
        cmocka_unit_test(test_bad_pixels_not_bridged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
