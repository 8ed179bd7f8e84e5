/* test_laspm.c: the LASPM matcher and the curation numerics (src/laspm):
 *   - chi2 with the per-pair quadratic recalibration (GEMM closed form) against a direct
 *     weighted least-squares fit of every pair (GSL gsl_multifit_wlinear), with masked
 *     and zero-weight pixels;
 *   - an analytic case: a library spectrum times a known quadratic is recovered exactly
 *     (chi2 0, the polynomial's coefficients, the labels of that entry); leave-one-out
 *     skips it;
 *   - the NNLS combination: an observed spectrum made of 0.3 t_a + 0.7 t_b gets the
 *     weights 0.3 / 0.7 and the combined labels;
 *   - the Gaussian-core offset with outliers, DBSCAN on a known configuration, the
 *     minPts rule, the distance; the library file round trip;
 *   - the view (flux x continuum, median 1), Du's repeat precision, the NN check. */
#include "test_util.h"

#include "mstars/laspm.h"
#include "mstars/mem.h"
#include "mstars/nn.h"

#include <gsl/gsl_multifit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPIX 400
#define NLIB 9

/* A library of smooth random "spectra" on a 5 A grid 5800-7795 A (the match range
 * 6000-7600 A cuts both ends). */
static void make_library(ms_laspm_library *lib, uint64_t seed)
{
    ms_laspm_library_init(lib);
    assert_int_equal(ms_laspm_library_alloc(lib, NLIB, NPIX), MS_OK);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, seed);
    for (size_t p = 0; p < NPIX; p++) lib->wavelength[p] = 5800.0 + 5.0 * (double)p;
    for (size_t j = 0; j < NLIB; j++) {
        double a1 = ms_nn_rng_uniform(&rng), a2 = ms_nn_rng_uniform(&rng), ph = 6 * ms_nn_rng_uniform(&rng);
        for (size_t p = 0; p < NPIX; p++)
            lib->flux[j * NPIX + p] =
                (float)(1.0 + 0.3 * a1 * sin(0.05 * (double)p + ph) + 0.2 * a2 * cos(0.011 * (double)p * (1 + j)) +
                        0.05 * ms_nn_rng_normal(&rng));
        lib->labels[j * 3 + 0] = 3000.0 + 100.0 * (double)j;
        lib->labels[j * 3 + 1] = 4.5 + 0.05 * (double)j;
        lib->labels[j * 3 + 2] = -0.5 + 0.1 * (double)j;
        lib->id[j] = 100 + (int64_t)j;
        lib->snr[j] = 50;
        snprintf(lib->name[j], 32, "lib%zu", j);
        snprintf(lib->source[j], 32, "test");
    }
}

static ms_laspm_opts test_opts(void)
{
    ms_laspm_opts o;
    ms_laspm_opts_default(&o);
    o.wave_min = 6000.0;
    o.wave_max = 7600.0;
    o.n_curv = 6;
    o.batch = 3; /* batches of 3 over 5 spectra: a partial last batch */
    return o;
}

static void test_chi2_vs_direct(void **state)
{
    (void)state;
    ms_laspm_library lib;
    make_library(&lib, 11);
    uint8_t mask[NPIX] = {0};
    for (size_t p = 150; p < 160; p++) mask[p] = 1;
    ms_laspm_opts o = test_opts();
    ms_laspm *m;
    assert_int_equal(ms_laspm_prepare(&lib, &o, mask, &m), MS_OK);
    enum { N = 5 };
    float flux[N * NPIX], ivar[N * NPIX];
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 5);
    for (size_t i = 0; i < N; i++)
        for (size_t p = 0; p < NPIX; p++) {
            flux[i * NPIX + p] = (float)(1.0 + 0.2 * ms_nn_rng_normal(&rng));
            ivar[i * NPIX + p] = ms_nn_rng_uniform(&rng) < 0.05 ? 0.0f : (float)(100.0 + 900.0 * ms_nn_rng_uniform(&rng));
        }
    flux[2 * NPIX + 200] = NAN; /* a bad value with a positive ivar: unused */
    double chi2[N * NLIB], coef[N * NLIB * 3];
    assert_int_equal(ms_laspm_chi2(m, N, flux, ivar, chi2, coef), MS_OK);
    /* the reference: weighted least squares per pair over the same pixels */
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < NLIB; j++) {
            size_t np = 0;
            for (size_t p = 0; p < NPIX; p++) {
                double w = lib.wavelength[p];
                np += w >= 6000.0 && w <= 7600.0 && !mask[p] && ivar[i * NPIX + p] > 0 &&
                      isfinite(flux[i * NPIX + p]);
            }
            gsl_matrix *X = gsl_matrix_alloc(np, 3);
            gsl_vector *y = gsl_vector_alloc(np), *wt = gsl_vector_alloc(np), *c = gsl_vector_alloc(3);
            gsl_matrix *cov = gsl_matrix_alloc(3, 3);
            size_t r = 0;
            for (size_t p = 0; p < NPIX; p++) {
                double w = lib.wavelength[p];
                if (!(w >= 6000.0 && w <= 7600.0 && !mask[p] && ivar[i * NPIX + p] > 0 &&
                      isfinite(flux[i * NPIX + p])))
                    continue;
                double x = (w - 6800.0) / 800.0, t = lib.flux[j * NPIX + p];
                gsl_matrix_set(X, r, 0, t);
                gsl_matrix_set(X, r, 1, x * t);
                gsl_matrix_set(X, r, 2, x * x * t);
                gsl_vector_set(y, r, flux[i * NPIX + p]);
                gsl_vector_set(wt, r, ivar[i * NPIX + p]);
                r++;
            }
            double ref;
            gsl_multifit_linear_workspace *ws = gsl_multifit_linear_alloc(np, 3);
            assert_int_equal(gsl_multifit_wlinear(X, wt, y, c, cov, &ref, ws), 0);
            char what[64];
            snprintf(what, sizeof what, "chi2 spectrum %zu library %zu", i, j);
            assert_close(chi2[i * NLIB + j], ref, 1e-9, 0, what);
            for (int k = 0; k < 3; k++)
                assert_close(coef[(i * NLIB + j) * 3 + k], gsl_vector_get(c, (size_t)k), 1e-8, 1e-12, "coefficient");
            gsl_multifit_linear_free(ws);
            gsl_matrix_free(X);
            gsl_matrix_free(cov);
            gsl_vector_free(y);
            gsl_vector_free(wt);
            gsl_vector_free(c);
        }
    ms_laspm_free(m);
    ms_laspm_library_free(&lib);
}

static void test_exact_quadratic(void **state)
{
    (void)state;
    ms_laspm_library lib;
    make_library(&lib, 12);
    ms_laspm_opts o = test_opts();
    ms_laspm *m;
    assert_int_equal(ms_laspm_prepare(&lib, &o, NULL, &m), MS_OK);
    const size_t jt = 4;
    const double c0 = 1.7, c1 = -0.4, c2 = 0.25;
    float flux[NPIX], ivar[NPIX];
    for (size_t p = 0; p < NPIX; p++) {
        double x = (lib.wavelength[p] - 6800.0) / 800.0;
        flux[p] = (float)((c0 + c1 * x + c2 * x * x) * lib.flux[jt * NPIX + p]);
        ivar[p] = 400.0f;
    }
    double chi2[NLIB], coef[NLIB * 3];
    assert_int_equal(ms_laspm_chi2(m, 1, flux, ivar, chi2, coef), MS_OK);
    /* float flux: the exact match is zero to float rounding (chi2 of the others >> 1) */
    assert_true(chi2[jt] < 1e-6);
    for (size_t j = 0; j < NLIB; j++)
        if (j != jt) assert_true(chi2[j] > 1.0);
    assert_close(coef[jt * 3 + 0], c0, 1e-6, 0, "c0");
    assert_close(coef[jt * 3 + 1], c1, 0, 1e-6, "c1");
    assert_close(coef[jt * 3 + 2], c2, 0, 1e-6, "c2");
    ms_laspm_result r;
    assert_int_equal(ms_laspm_match(m, 1, flux, ivar, NULL, &r), MS_OK);
    assert_int_equal(r.best_index[0], (int)jt);
    assert_int_equal(r.best_id[0], lib.id[jt]);
    assert_close(r.weight[0], 1.0, 1e-6, 0, "weight of the exact match");
    for (int d = 0; d < 3; d++) assert_close(r.label[d], lib.labels[jt * 3 + d], 1e-6, 1e-6, "label");
    assert_true(r.chi2_comb < 1e-6);
    /* leave-one-out: the same spectrum with its own entry excluded */
    int64_t ex = lib.id[jt];
    assert_int_equal(ms_laspm_match(m, 1, flux, ivar, &ex, &r), MS_OK);
    for (int k = 0; k < MS_LASPM_K; k++) assert_true(r.best_index[k] != (int)jt);
    assert_true(r.chi2_best > 1.0);
    ms_laspm_free(m);
    ms_laspm_library_free(&lib);
}

static void test_nnls_combination(void **state)
{
    (void)state;
    ms_laspm_library lib;
    make_library(&lib, 13);
    ms_laspm_opts o = test_opts();
    ms_laspm *m;
    assert_int_equal(ms_laspm_prepare(&lib, &o, NULL, &m), MS_OK);
    const size_t ja = 2, jb = 6;
    float flux[NPIX], ivar[NPIX];
    for (size_t p = 0; p < NPIX; p++) {
        flux[p] = (float)(0.3 * lib.flux[ja * NPIX + p] + 0.7 * lib.flux[jb * NPIX + p]);
        ivar[p] = 1e4f;
    }
    ms_laspm_result r;
    assert_int_equal(ms_laspm_match(m, 1, flux, ivar, NULL, &r), MS_OK);
    double wa = 0, wb = 0, wo = 0;
    for (int k = 0; k < MS_LASPM_K; k++) {
        if (r.best_index[k] == (int)ja) wa = r.weight[k];
        else if (r.best_index[k] == (int)jb) wb = r.weight[k];
        else wo += r.weight[k];
    }
    assert_close(wa, 0.3, 0, 1e-4, "weight of t_a");
    assert_close(wb, 0.7, 0, 1e-4, "weight of t_b");
    assert_close(wo, 0.0, 0, 1e-4, "weight of the others");
    for (int d = 0; d < 3; d++)
        assert_close(r.label[d], 0.3 * lib.labels[ja * 3 + d] + 0.7 * lib.labels[jb * 3 + d],
                     1e-4, 1e-4, "combined label");
    assert_true(r.chi2_comb < 1e-3 * r.chi2_best);
    for (int d = 0; d < 3; d++) assert_true(r.error[d] > 0);
    ms_laspm_free(m);
    ms_laspm_library_free(&lib);
}

static void test_offset_dbscan(void **state)
{
    (void)state;
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 3);
    enum { N = 4000 };
    static double d[N];
    for (size_t i = 0; i < N; i++)
        d[i] = i % 20 == 0 ? 800.0 + 100 * ms_nn_rng_uniform(&rng) : 87.0 + 40.0 * ms_nn_rng_normal(&rng);
    d[7] = NAN;
    double mu, sd;
    size_t used;
    assert_int_equal(ms_laspm_gauss_offset(N, d, &mu, &sd, &used), MS_OK);
    assert_close(mu, 87.0, 0, 4 * 40.0 / sqrt(N), "offset");
    assert_close(sd, 40.0, 0.05, 0, "sigma");
    assert_true(used < N * 0.96 && used > N * 0.9);
    assert_int_equal(ms_laspm_gauss_offset(2, d, &mu, &sd, &used), MS_ENOPROG);
    /* points on a line: 0, 0.5, 1.0, 1.5 (a chain) and 5, 5.6 (a pair) and 20 (noise) */
    const double x[7] = {0, 0.5, 1.0, 1.5, 5, 5.6, 20};
    double dist[49];
    for (int i = 0; i < 7; i++)
        for (int j = 0; j < 7; j++) dist[i * 7 + j] = fabs(x[i] - x[j]);
    int lab[7];
    assert_int_equal(ms_laspm_dbscan(7, dist, 1.0, 2, lab), 2);
    const int want2[7] = {0, 0, 0, 0, 1, 1, -1};
    for (int i = 0; i < 7; i++) assert_int_equal(lab[i], want2[i]);
    /* minPts 3: the pair is noise; the chain's ends are border points */
    assert_int_equal(ms_laspm_dbscan(7, dist, 1.0, 3, lab), 1);
    const int want3[7] = {0, 0, 0, 0, -1, -1, -1};
    for (int i = 0; i < 7; i++) assert_int_equal(lab[i], want3[i]);
    assert_int_equal(ms_laspm_min_pts(1), 2);
    assert_int_equal(ms_laspm_min_pts(7), 3);
    assert_int_equal(ms_laspm_min_pts(29), 4);
    assert_int_equal(ms_laspm_min_pts(150), 5);
    /* the distance in units of the joint noise */
    float fa[3] = {1, 2, 3}, fb[3] = {1.1f, 2, 3}, ia[3] = {50, 50, 0}, ib[3] = {50, 50, 50};
    assert_close(ms_laspm_distance(3, fa, ia, fb, ib, NULL),
                 sqrt((0.1 * 0.1 / (2.0 / 50.0)) / 2.0), 1e-5, 0, "distance");
}

static void test_library_file(void **state)
{
    (void)state;
    ms_laspm_library lib, back;
    make_library(&lib, 14);
    assert_int_equal(ms_laspm_library_step(&lib, "pool", 45), MS_OK);
    assert_int_equal(ms_laspm_library_step(&lib, "dbscan", 9), MS_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/lib.h5", ms_test_tmpdir());
    assert_int_equal(ms_laspm_library_write(path, &lib, NULL, "test"), MS_OK);
    assert_int_equal(ms_laspm_library_read(path, &back), MS_OK);
    assert_int_equal(back.n, NLIB);
    assert_int_equal(back.n_pix, NPIX);
    assert_string_equal(back.view, "calibrated");
    assert_memory_equal(back.flux, lib.flux, NLIB * NPIX * sizeof(float));
    assert_memory_equal(back.labels, lib.labels, NLIB * 3 * sizeof(double));
    assert_memory_equal(back.id, lib.id, NLIB * sizeof(int64_t));
    assert_string_equal(back.name[3], "lib3");
    ms_laspm_library_free(&back);
    ms_laspm_library_free(&lib);
}

/* Du Eq. 1 on synthetic repeats: stars of 2-4 observations with sigma = 200 / (S/N); the
 * bins' RMS epsilon recovers sigma at the bin's RMS 1/(S/N) (the sqrt(N/(N-1)) factor makes
 * it unbiased), and a star seen once does not count. */
static void test_repeat_precision(void **state)
{
    (void)state;
    enum { NS = 3000 };
    static int64_t group[NS * 4 + 1];
    static double val[NS * 4 + 1], snr[NS * 4 + 1];
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 9);
    size_t n = 0;
    for (size_t s = 0; s < NS; s++) {
        size_t m = 2 + (size_t)(s % 3);
        double truth = 3000 + 10 * (double)s, sn = 10.0 + 5.0 * (double)(s % 2); /* bins 10-15, 15-20 */
        for (size_t k = 0; k < m; k++) {
            group[n] = (int64_t)s;
            snr[n] = sn + 4.9 * ms_nn_rng_uniform(&rng);
            val[n] = truth + 200.0 / snr[n] * ms_nn_rng_normal(&rng);
            n++;
        }
    }
    group[n] = 99999999; /* a single observation */
    snr[n] = 12;
    val[n++] = 1e6;
    ms_repeat_fit bins;
    double eps;
    size_t n_eps, n_stars;
    assert_int_equal(ms_laspm_repeat_precision(n, group, val, snr, 5.0, 5, 10.0, &bins, &eps,
                                               &n_eps, &n_stars), MS_OK);
    assert_int_equal(n_stars, NS);
    assert_int_equal(n_eps, n - 1);
    assert_int_equal(bins.n_bins, 2);
    for (size_t b = 0; b < 2; b++) {
        double want = 200.0 * bins.inv_snr[b];
        assert_close(bins.scatter[b], want, 0.04, 0, "RMS epsilon of the bin");
        assert_close(bins.snr_min[b], 10.0 + 5.0 * (double)b, 0, 1e-12, "bin edge");
    }
    ms_repeat_fit_free(&bins);
}

/* Du 3.5's NN check: 80 spectra whose labels are smooth functions of their features, two
 * of them with a Teff 2000 K off: both are removed (each lands in a test set: 5 rounds of
 * 50% splits, fixed seed), and few clean entries are. */
static void test_nn_check(void **state)
{
    (void)state;
    enum { N = 80 };
    ms_laspm_library lib;
    ms_laspm_library_init(&lib);
    assert_int_equal(ms_laspm_library_alloc(&lib, N, NPIX), MS_OK);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 21);
    for (size_t p = 0; p < NPIX; p++) lib.wavelength[p] = 5800.0 + 5.0 * (double)p;
    for (size_t j = 0; j < N; j++) {
        double u = ms_nn_rng_uniform(&rng), v = ms_nn_rng_uniform(&rng), w = ms_nn_rng_uniform(&rng);
        for (size_t p = 0; p < NPIX; p++)
            lib.flux[j * NPIX + p] = (float)(1.0 + 0.3 * u * sin(0.03 * (double)p) +
                                             0.2 * v * cos(0.05 * (double)p) + 0.1 * w * sin(0.011 * (double)p));
        lib.labels[j * 3 + 0] = 3000.0 + 800.0 * u;
        lib.labels[j * 3 + 1] = 4.5 + 0.5 * v;
        lib.labels[j * 3 + 2] = -0.5 + w;
        lib.id[j] = (int64_t)j;
    }
    lib.labels[5 * 3] += 2000.0;
    lib.labels[40 * 3] -= 2000.0;
    ms_laspm_nn_opts o;
    ms_laspm_nn_opts_default(&o);
    o.wave_min = 6000.0;
    o.wave_max = 6600.0; /* 121 inputs: fast enough under ASan */
    o.steps = 120;
    o.batch = 16;
    o.test_fraction = 0.5;
    o.cut[0] = 150.0;
    o.cut[1] = 0.1;
    o.cut[2] = 0.2;
    uint8_t keep[N];
    memset(keep, 1, sizeof keep);
    ms_laspm_nn_report rep;
    assert_int_equal(ms_laspm_nn_check(&lib, &o, keep, &rep), MS_OK);
    assert_int_equal(rep.rounds, 5);
    assert_int_equal(keep[5], 0);
    assert_int_equal(keep[40], 0);
    size_t clean_removed = 0;
    for (size_t j = 0; j < N; j++) clean_removed += j != 5 && j != 40 && !keep[j];
    assert_true(clean_removed <= 8);
    ms_laspm_library_free(&lib);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The view: calibrated = flux x continuum (ivar / continuum^2), then scaled to median 1 over
 * the range's good pixels (the upper median, element n/2 of the sorted good values). */
static void test_view(void **state)
{
    (void)state;
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 4);
    double wave[NPIX];
    for (size_t p = 0; p < NPIX; p++) wave[p] = 5800.0 + 5.0 * (double)p;
    for (int trial = 0; trial < 20; trial++) {
        float f[NPIX], iv[NPIX], c[NPIX], f0[NPIX], iv0[NPIX], good[NPIX];
        size_t ng = 0;
        for (size_t p = 0; p < NPIX; p++) {
            f[p] = f0[p] = (float)(1.0 + ms_nn_rng_uniform(&rng));
            iv[p] = iv0[p] = ms_nn_rng_uniform(&rng) < 0.1 ? 0.0f : 4.0f;
            c[p] = (float)(2.0 + ms_nn_rng_uniform(&rng));
            if (wave[p] >= 6000.0 && wave[p] <= 7600.0 && iv[p] > 0) good[ng++] = f[p] * c[p];
        }
        qsort(good, ng, sizeof *good, cmp_float);
        const double med = good[ng / 2];
        ms_laspm_view("calibrated", wave, NPIX, 6000.0, 7600.0, f, iv, c);
        for (size_t p = 0; p < NPIX; p += 37) {
            assert_close(f[p], (double)(f0[p] * c[p]) / med, 1e-5, 0, "calibrated flux / median");
            assert_close(iv[p], (double)iv0[p] / ((double)c[p] * c[p]) * med * med, 1e-5, 1e-12, "ivar");
        }
    }
}

/* Three groups, one meson test each (the NN check is the slow one under ASan). */
int main(int argc, char **argv)
{
    const char *g = argc > 1 ? argv[1] : "all";
    const struct CMUnitTest match[] = {
        cmocka_unit_test(test_chi2_vs_direct),
        cmocka_unit_test(test_exact_quadratic),
        cmocka_unit_test(test_nnls_combination),
        cmocka_unit_test(test_view),
    };
    const struct CMUnitTest curation[] = {
        cmocka_unit_test(test_offset_dbscan),
        cmocka_unit_test(test_library_file),
        cmocka_unit_test(test_repeat_precision),
    };
    const struct CMUnitTest nn[] = {
        cmocka_unit_test(test_nn_check),
    };
    int fails = 0;
    if (!strcmp(g, "match") || !strcmp(g, "all")) fails += cmocka_run_group_tests(match, NULL, NULL);
    if (!strcmp(g, "curation") || !strcmp(g, "all")) fails += cmocka_run_group_tests(curation, NULL, NULL);
    if (!strcmp(g, "nn") || !strcmp(g, "all")) fails += cmocka_run_group_tests(nn, NULL, NULL);
    return fails;
}
