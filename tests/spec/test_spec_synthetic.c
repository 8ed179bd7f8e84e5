/* test_spec_synthetic.c: model spectra through the Gaussian LSF (method.md 2.1) and the
 * synthetic preprocessing. References:
 *   - a delta-like line (sigma 0.01 A) comes out with FWHM = lambda / R (within 2%; the
 *     line's own width adds 0.001%), at three wavelengths (R constant in ln lambda), and
 *     at its own wavelength (< 0.1 km/s, although it is far narrower than the fine grid);
 *   - the equivalent width is conserved (within 1%), also for a line that is narrower
 *     than the fine grid's step, and for lines sampled only by a 0.25 A grid;
 *   - a flux linear in lambda is unchanged (Gaussian smoothing of a linear function; the
 *     lambda vs ln lambda curvature is ~1e-8), on a non-uniform 5 A / 2 A sampling;
 *   - the preprocessed constant model is 1 with ivar 1/0.01^2 everywhere;
 *   - bad models: MS_EFORMAT with a reason; a real BT-Settl file when ../shared has it. */
#include "spec_fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NG = 2901 };
static ms_spec_work *work;
static double out[NG];

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

/* Model buffer: grows as points are appended in increasing order. */
typedef struct {
    double *w, *f;
    size_t n, cap;
} model_buf;

static void push(model_buf *m, double w)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 4096;
        m->w = realloc(m->w, m->cap * sizeof *m->w);
        m->f = realloc(m->f, m->cap * sizeof *m->f);
        assert_non_null(m->w);
        assert_non_null(m->f);
    }
    m->w[m->n++] = w;
}

static void model_free(model_buf *m)
{
    free(m->w);
    free(m->f);
}

/* Sampling: `step` A over 5800-9100 A, refined to `fine` A within +-`half` A of centres. */
static model_buf sampling(double step, const double *centres, size_t nc, double fine, double half)
{
    model_buf m = {0};
    double x = 5800.0;
    while (x <= 9100.0) {
        push(&m, x);
        int refine = 0;
        for (size_t c = 0; c < nc; c++) refine |= fabs(x - centres[c]) < half;
        x += refine ? fine : step;
    }
    return m;
}

/* Integral, centroid and second moment of the absorption 1 - f around `mu` (1 A grid). */
static void line_moments(const double *f, double mu, double *ew, double *fwhm, double *centre)
{
    double m0 = 0.0, m1 = 0.0, m2 = 0.0;
    for (size_t j = 0; j < NG; j++) {
        double x = 6000.0 + (double)j;
        if (fabs(x - mu) > 20.0) continue;
        double d = 1.0 - f[j];
        m0 += d;
        m1 += d * x;
    }
    double c = m1 / m0;
    for (size_t j = 0; j < NG; j++) {
        double x = 6000.0 + (double)j;
        if (fabs(x - mu) > 20.0) continue;
        m2 += (1.0 - f[j]) * (x - c) * (x - c);
    }
    *ew = m0; /* x 1 A */
    *centre = c;
    *fwhm = 2.3548200450309493 * sqrt(m2 / m0);
}

static void test_delta_line_fwhm_and_flux(void **state)
{
    (void)state;
    const double mu[] = {6250.3, 7500.7, 8650.1};
    const double depth = 0.9, s = 0.01; /* far narrower than the fine step (~0.2 A) */
    model_buf m = sampling(0.25, mu, 3, 0.002, 0.2);
    for (size_t i = 0; i < m.n; i++) {
        double L = 0.0;
        for (size_t l = 0; l < 3; l++) L += depth * exp(-0.5 * pow((m.w[i] - mu[l]) / s, 2));
        m.f[i] = 1.0 - L;
    }
    assert_int_equal(ms_spec_convolve_synthetic(work, m.w, m.f, m.n, out), MS_OK);
    const double R = 2000.0, ew_in = depth * s * sqrt(2.0 * M_PI);
    for (size_t l = 0; l < 3; l++) {
        double ew, fwhm, centre;
        line_moments(out, mu[l], &ew, &fwhm, &centre);
        double expect = sqrt(pow(mu[l] / R, 2) + pow(2.3548200450309493 * s, 2));
        assert_close(fwhm, expect, 0.02, 0.0, "FWHM = lambda / R");
        assert_close(ew, ew_in, 0.01, 0.0, "equivalent width conserved by the LSF");
        assert_close((centre / mu[l] - 1.0) * MS_C_KMS, 0.0, 0.0, 0.1, "line position (km/s)");
    }
    model_free(&m);
}

static void test_coarse_lines_flux_conserved(void **state)
{
    (void)state;
    /* lines resolved only by the 0.25 A mock sampling (sigma 0.3 A) */
    const double mu[] = {6400.13, 7123.87, 8333.31};
    const double depth = 0.7, s = 0.3;
    model_buf m = sampling(0.25, mu, 0, 0.25, 0.0);
    for (size_t i = 0; i < m.n; i++) {
        double L = 0.0;
        for (size_t l = 0; l < 3; l++) L += depth * exp(-0.5 * pow((m.w[i] - mu[l]) / s, 2));
        m.f[i] = 1.0 - L;
    }
    assert_int_equal(ms_spec_convolve_synthetic(work, m.w, m.f, m.n, out), MS_OK);
    for (size_t l = 0; l < 3; l++) {
        double ew, fwhm, centre;
        line_moments(out, mu[l], &ew, &fwhm, &centre);
        assert_close((centre / mu[l] - 1.0) * MS_C_KMS, 0.0, 0.0, 0.1, "line position (km/s)");
        assert_close(ew, depth * s * sqrt(2.0 * M_PI), 0.01, 0.0, "equivalent width, 0.25 A model");
        double expect = sqrt(pow(mu[l] / 2000.0, 2) + pow(2.3548200450309493 * s, 2));
        assert_close(fwhm, expect, 0.02, 0.0, "FWHM of a resolved line");
    }
    model_free(&m);
}

static void test_linear_model_unchanged(void **state)
{
    (void)state;
    /* BT-Settl-like sampling: 5 A below 7000 A, 2 A above, jittered */
    model_buf m = {0};
    fx_rng r = {3, 0, 0};
    for (double x = 5000.0; x < 9600.0; x += (x < 7000.0 ? 5.0 : 2.0))
        push(&m, x + 0.3 * fx_uniform(&r));
    const double a = 2.0e6, b = -150.0;
    for (size_t i = 0; i < m.n; i++) m.f[i] = a + b * m.w[i];
    assert_int_equal(ms_spec_convolve_synthetic(work, m.w, m.f, m.n, out), MS_OK);
    for (size_t j = 0; j < NG; j++) {
        double x = 6000.0 + (double)j;
        assert_close(out[j], a + b * x, 1e-7, 0.0, "linear model through the LSF");
    }
    /* and its preprocessed form: continuum-normalised to 1 in the interior */
    ms_spec_out o = fx_out_alloc(NG);
    assert_int_equal(ms_spec_preprocess_synthetic_ws(work, m.w, m.f, m.n, &o), MS_OK);
    for (size_t j = 150; j + 150 < NG; j++)
        assert_close(o.flux[j], 1.0, 1e-6, 0.0, "normalised linear model");
    fx_out_free(&o);
    model_free(&m);
}

static void test_constant_model_preprocessed(void **state)
{
    (void)state;
    double w[2] = {5000.0, 9500.0}, f[2] = {3.3e6, 3.3e6};
    ms_spec_out o = fx_out_alloc(NG);
    ms_cfg_preprocess p = fx_defaults();
    assert_int_equal(ms_spec_preprocess_synthetic(&p, w, f, 2, &o), MS_OK);
    assert_int_equal(o.n_good, NG);
    for (size_t j = 0; j < NG; j++) {
        assert_close(o.flux[j], 1.0, 1e-6, 0.0, "normalised constant model");
        assert_close(o.ivar[j], 1.0 / (0.01 * 0.01), 1e-6, 0.0, "synthetic ivar = 1 / 0.01^2");
        assert_close(o.continuum[j], 3.3e6, 1e-6, 0.0, "continuum of a constant model");
    }
    fx_out_free(&o);
}

static void test_model_with_lines_consistent(void **state)
{
    (void)state;
    const double mu[] = {6563.0, 7665.0, 7699.0, 8183.0, 8195.0};
    model_buf m = sampling(0.25, mu, 5, 0.05, 3.0);
    for (size_t i = 0; i < m.n; i++) {
        double L = 0.0;
        for (size_t l = 0; l < 5; l++) L += 0.5 * exp(-0.5 * pow((m.w[i] - mu[l]) / 0.4, 2));
        m.f[i] = (1e5 + 20.0 * (m.w[i] - 7000.0)) * (1.0 - L);
    }
    ms_spec_out o = fx_out_alloc(NG);
    assert_int_equal(ms_spec_preprocess_synthetic_ws(work, m.w, m.f, m.n, &o), MS_OK);
    assert_int_equal(ms_spec_convolve_synthetic(work, m.w, m.f, m.n, out), MS_OK);
    for (size_t j = 0; j < NG; j++) {
        assert_close((double)o.flux[j] * o.continuum[j], out[j], 1e-6, 0.0, "flux x continuum");
        assert_true(o.ivar[j] > 0.0f);
    }
    /* line cores are local minima: EW 0.5 A over the LSF's sigma 1.4 A -> depth ~0.14 */
    assert_true(o.flux[6563 - 6000] < 0.9f && o.flux[6563 - 6000] < o.flux[6550 - 6000]);
    fx_out_free(&o);
    model_free(&m);
}

static void test_bad_models(void **state)
{
    (void)state;
    ms_spec_out o = fx_out_alloc(NG);
    double w[4] = {5000.0, 6000.0, 8000.0, 9500.0}, f[4] = {1.0, 2.0, 3.0, 4.0};

    double short_w[4] = {6100.0, 7000.0, 8000.0, 9500.0};
    assert_int_equal(ms_spec_preprocess_synthetic_ws(work, short_w, f, 4, &o), MS_EFORMAT);
    assert_non_null(strstr(ms_error_message(), "coverage"));
    assert_non_null(strstr(ms_error_message(), "misses the grid 6000-8900 A"));
    assert_true(isnan(o.flux[10]) && o.ivar[10] == 0.0f && o.n_good == 0);

    double dec_w[4] = {5000.0, 8000.0, 6000.0, 9500.0};
    assert_int_equal(ms_spec_preprocess_synthetic_ws(work, dec_w, f, 4, &o), MS_EFORMAT);
    assert_non_null(strstr(ms_error_message(), "not strictly increasing"));
    double dup_w[4] = {5000.0, 6000.0, 6000.0, 9500.0};
    assert_int_equal(ms_spec_preprocess_synthetic_ws(work, dup_w, f, 4, &o), MS_EFORMAT);

    double nan_f[4] = {1.0, NAN, 3.0, 4.0};
    assert_int_equal(ms_spec_preprocess_synthetic_ws(work, w, nan_f, 4, &o), MS_EFORMAT);
    assert_non_null(strstr(ms_error_message(), "not finite"));
    /* a non-finite value far outside the used range is never read */
    double w5[5] = {3000.0, 5000.0, 6000.0, 8000.0, 9500.0}, f5[5] = {NAN, 1.0, 2.0, 3.0, 4.0};
    assert_int_equal(ms_spec_preprocess_synthetic_ws(work, w5, f5, 5, &o), MS_OK);

    assert_int_equal(ms_spec_preprocess_synthetic_ws(work, w, f, 1, &o), MS_EFORMAT);
    double neg_f[4] = {-1.0, -2.0, -3.0, -4.0};
    assert_int_equal(ms_spec_preprocess_synthetic_ws(work, w, neg_f, 4, &o), MS_EFORMAT);
    assert_non_null(strstr(ms_error_message(), "pseudo-continuum"));
    fx_out_free(&o);
}

static void test_real_btsettl(void **state)
{
    (void)state;
    char path[1024];
    if (!ms_test_shared("data/btsettl-cifist/lte033.0-5.0-0.0a+0.0.BT-Settl.spec.txt", path,
                        sizeof path))
        skip();
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    model_buf m = {0};
    double a, b;
    while (fscanf(fp, "%lf %lf", &a, &b) == 2) {
        push(&m, a);
        m.f[m.n - 1] = b;
    }
    fclose(fp);
    assert_true(m.n > 10000);
    ms_spec_out o = fx_out_alloc(NG);
    assert_int_equal(ms_spec_preprocess_synthetic_ws(work, m.w, m.f, m.n, &o), MS_OK);
    assert_int_equal(o.n_good, NG);
    double lo = 1e9, hi = -1e9;
    for (size_t j = 0; j < NG; j++) {
        assert_true(isfinite(o.flux[j]) && o.continuum[j] > 0.0f);
        lo = fmin(lo, o.flux[j]);
        hi = fmax(hi, o.flux[j]);
    }
    /* an M3 dwarf normalised by its pseudo-continuum: bands below 1, peaks above; this
     * file's point-sampled 2 A forest (see its README) leaves spikes up to ~2.2 */
    assert_true(lo > 0.1 && lo < 0.9 && hi > 1.0 && hi < 3.0);
    fx_out_free(&o);
    model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delta_line_fwhm_and_flux),
        cmocka_unit_test(test_coarse_lines_flux_conserved),
        cmocka_unit_test(test_linear_model_unchanged),
        cmocka_unit_test(test_constant_model_preprocessed),
        cmocka_unit_test(test_model_with_lines_consistent),
        cmocka_unit_test(test_bad_models),
        cmocka_unit_test(test_real_btsettl),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
