/* test_spec_continuum.c: the pseudo-continuum of Z25 Eq. 2-3, w = exp(-d^2 / sigma^2).
 * References:
 *   - constant flux: F = the constant everywhere (edges and masks included), because the
 *     kernel is normalised over the good pixels it reaches;
 *   - linear flux: exact at least K = 5 sigma from the edges (the kernel is symmetric);
 *   - quadratic a + b x + c x^2: a + b x + c (x^2 + sigma^2 / 2) in the interior, since
 *     the kernel exp(-d^2/sigma^2) has variance sigma^2 / 2 (not sigma^2);
 *   - a continuum times Gaussian absorption lines: closed form of the smoothed product,
 *     so the normalised flux's pseudo-continuum bias is known exactly;
 *   - random flux and random masks of every density: a brute-force double sum written
 *     here, independent of the vectorised/sparse implementation;
 *   - no good pixel within reach: NaN. */
#include "spec_fixtures.h"

#include <stdlib.h>
#include <string.h>

enum { NG = 2901, K = 150 };
static const double SIGMA = 30.0;

static ms_spec_work *work;
static double flux[NG], ivar[NG], cont[NG];

static int setup(void **state)
{
    (void)state;
    ms_cfg_preprocess p = fx_defaults();
    return ms_spec_work_alloc(&p, &work) == MS_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ms_spec_work_free(work);
    return 0;
}

static double xg(size_t j) { return 6000.0 + (double)j; }

/* Brute force: Z25 Eq. 2 over the good pixels within 5 sigma, on the 1 A grid. */
static double reference(size_t j)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < NG; i++) {
        double d = xg(i) - xg(j);
        if (fabs(d) > 5.0 * SIGMA + 1e-9) continue;
        if (!(ivar[i] > 0.0) || !isfinite(flux[i])) continue;
        double wgt = exp(-d * d / (SIGMA * SIGMA));
        num += wgt * flux[i];
        den += wgt;
    }
    return den > 0.0 ? num / den : NAN;
}

static void test_constant_with_masks(void **state)
{
    (void)state;
    fx_rng r = {5, 0, 0};
    /* 600 masked pixels in a block plus random ones: the first two densities stay below
     * the n/4 switch (sparse denominator), the others above it (convolved denominator) */
    const double frac[] = {0.0, 0.03, 0.2, 0.6};
    for (size_t f = 0; f < 4; f++) {
        for (size_t j = 0; j < NG; j++) {
            int bad = fx_uniform(&r) < frac[f] || (j >= 1000 && j < 1600);
            flux[j] = bad ? (j % 2 ? NAN : 1e30) : 3.7;
            ivar[j] = bad ? 0.0 : 1.0 + fx_uniform(&r);
        }
        /* a lone good pixel inside the block: its neighbourhood's denominator is tiny */
        flux[1200] = 3.7;
        ivar[1200] = 1.0;
        ms_spec_continuum(work, flux, ivar, cont);
        for (size_t j = 0; j < NG; j++) {
            /* nothing good within K of j: only inside the block, > K from its ends and
             * from the lone pixel */
            int unreachable = j >= 1000 + K && j < 1600 - K && j > 1200 + K;
            if (unreachable) {
                if (!isnan(cont[j]))
                    fail_msg("density %g, pixel %zu: %g, expected NaN", frac[f], j, cont[j]);
            } else {
                assert_close(cont[j], 3.7, 1e-12, 0.0, "continuum of a constant");
            }
        }
    }
}

static void test_linear_interior(void **state)
{
    (void)state;
    for (size_t j = 0; j < NG; j++) {
        flux[j] = 250.0 - 0.031 * (xg(j) - 7450.0);
        ivar[j] = 1.0;
    }
    ms_spec_continuum(work, flux, ivar, cont);
    for (size_t j = K; j + K < NG; j++)
        assert_close(cont[j], flux[j], 1e-12, 0.0, "continuum of a linear flux");
    /* at the ends the one-sided kernel bends it towards the interior (documented) */
    assert_true(cont[0] < flux[0] - 0.1);
    assert_close(cont[0], reference(0), 1e-12, 0.0, "edge against brute force");
}

static void test_quadratic_analytic(void **state)
{
    (void)state;
    const double a = 100.0, b = 0.01, c = 1e-4, x0 = 7450.0;
    for (size_t j = 0; j < NG; j++) {
        double x = xg(j) - x0;
        flux[j] = a + b * x + c * x * x;
        ivar[j] = 1.0;
    }
    ms_spec_continuum(work, flux, NULL, cont);
    for (size_t j = K; j + K < NG; j++) {
        double x = xg(j) - x0;
        double expect = a + b * x + c * (x * x + SIGMA * SIGMA / 2.0);
        assert_close(cont[j], expect, 1e-10, 0.0, "continuum of a quadratic");
    }
    /* the 2 sigma^2 convention would give c sigma^2 = 0.09 instead of 0.045 */
    size_t mid = 1450;
    assert_close(cont[mid] - flux[mid], c * SIGMA * SIGMA / 2.0, 1e-6, 0.0, "variance sigma^2/2");
}

/* Gaussian density N(x; mu, var). */
static double npdf(double x, double mu, double var)
{
    return exp(-0.5 * (x - mu) * (x - mu) / var) / sqrt(2.0 * M_PI * var);
}

static void test_lines_analytic(void **state)
{
    (void)state;
    /* continuum C(x) = c0 + c1 (x - x0) times (1 - sum of Gaussian lines) */
    const double c0 = 500.0, c1 = 0.05, x0 = 7450.0;
    const double mu[] = {6320.3, 6471.7, 6655.2, 6812.9, 7003.4, 7150.0, 7307.7,
                         7489.1, 7650.6, 7811.2, 7966.8, 8133.3, 8300.5, 8477.9};
    const double depth = 0.6, s = 1.5;
    const size_t nl = sizeof mu / sizeof *mu;
    for (size_t j = 0; j < NG; j++) {
        double x = xg(j), L = 0.0;
        for (size_t l = 0; l < nl; l++)
            L += depth * exp(-0.5 * (x - mu[l]) * (x - mu[l]) / (s * s));
        flux[j] = (c0 + c1 * (x - x0)) * (1.0 - L);
        ivar[j] = 1.0;
    }
    ms_spec_continuum(work, flux, ivar, cont);
    /* smooth(C L)(x) = sum_l d s sqrt(2 pi) N(x; mu_l, S^2) C(m_l), S^2 = s^2 + sigma^2/2,
     * m_l = (mu_l sigma^2/2 + x s^2) / S^2 (product of two Gaussians; C linear) */
    const double S2 = s * s + SIGMA * SIGMA / 2.0;
    double max_dip = 0.0;
    for (size_t j = K; j + K < NG; j++) {
        double x = xg(j), F = c0 + c1 * (x - x0);
        double C = F;
        for (size_t l = 0; l < nl; l++) {
            double m = (mu[l] * SIGMA * SIGMA / 2.0 + x * s * s) / S2;
            F -= depth * s * sqrt(2.0 * M_PI) * npdf(x, mu[l], S2) * (c0 + c1 * (m - x0));
        }
        assert_close(cont[j], F, 1e-9, 0.0, "continuum under absorption lines");
        /* normalised flux = C (1 - L) / F: the lines come back, over a continuum raised by
         * the known pseudo-continuum dip C / F - 1 */
        double norm = flux[j] / cont[j];
        assert_close(norm, (flux[j] / C) * (C / F), 1e-9, 0.0, "normalised flux");
        if (C / F - 1.0 > max_dip) max_dip = C / F - 1.0;
    }
    /* the dip of one isolated line: d s sqrt(2 pi) / sqrt(2 pi S^2) ~ 4% */
    assert_true(max_dip > 0.03 && max_dip < 0.06);
}

static void test_against_brute_force(void **state)
{
    (void)state;
    fx_rng r = {99, 0, 0};
    /* with the 260 masked end pixels: sparse, sparse, sparse, convolved, convolved */
    const double frac[] = {0.0, 0.01, 0.15, 0.2, 0.9};
    for (size_t f = 0; f < 5; f++) {
        for (size_t j = 0; j < NG; j++) {
            flux[j] = 1000.0 + 300.0 * sin(xg(j) / 41.0) + 50.0 * fx_normal(&r);
            ivar[j] = fx_uniform(&r) < frac[f] ? 0.0 : 0.5;
        }
        /* runs of bad pixels at both ends and a NaN flux marked good-by-ivar */
        for (size_t j = 0; j < 60; j++) ivar[j] = 0.0;
        for (size_t j = NG - 200; j < NG; j++) ivar[j] = 0.0;
        flux[500] = NAN;
        ms_spec_continuum(work, flux, ivar, cont);
        for (size_t j = 0; j < NG; j++) {
            double ref = reference(j);
            if (isnan(ref)) {
                if (!isnan(cont[j]))
                    fail_msg("density %g pixel %zu: %g, expected NaN", frac[f], j, cont[j]);
                continue;
            }
            if (!(fabs(cont[j] - ref) <= 1e-11 * 1000.0))
                fail_msg("density %g pixel %zu: %.15g vs brute force %.15g", frac[f], j, cont[j],
                         ref);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constant_with_masks), cmocka_unit_test(test_linear_interior),
        cmocka_unit_test(test_quadratic_analytic),  cmocka_unit_test(test_lines_analytic),
        cmocka_unit_test(test_against_brute_force),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
