/* test_grid_quality.c: the grid quality gate (grid_quality.h). References:
 *   - a model that resolves its lines (Gaussian lines of sigma 0.3 A sampled every 0.1 A)
 *     has ~no aliasing noise (< 1e-4) and samples_per_fwhm = (wave_min / R) / step exactly;
 *   - the same kind of spectrum with an unresolved forest (lines of sigma 0.05 A, random
 *     depths, every ~1.5 A) point-sampled every 2 A, as the CIFIST files are, has several
 *     percent: above the 1% threshold; its figure agrees within 30% with the true error of
 *     that sample's convolution (robust sigma against the forest convolved from 0.01 A
 *     samples);
 *   - the summary passes a clean grid and fails one with a single bad model, naming the
 *     count in its text. */
#include "spec_fixtures.h"

#include "mstars/grid_quality.h"
#include "mstars/stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NLINES = 2000 };
static double line_c[NLINES], line_d[NLINES];

/* the "true" high-resolution spectrum: continuum 1 with NLINES Gaussian lines of sigma s */
static double truth(double w, double s)
{
    double f = 1.0;
    for (int k = 0; k < NLINES; k++) {
        double x = (w - line_c[k]) / s;
        if (fabs(x) < 8) f -= line_d[k] * exp(-0.5 * x * x);
    }
    return f > 0.02 ? f : 0.02;
}

static void make_lines(unsigned seed)
{
    srand(seed);
    for (int k = 0; k < NLINES; k++) {
        line_c[k] = 5900.0 + 3100.0 * (double)k / NLINES + 1.0 * rand() / (double)RAND_MAX;
        line_d[k] = 0.6 * rand() / (double)RAND_MAX;
    }
}

/* points every `step` A from 5800 A with phase `phase` (A) of the truth with sigma s */
static size_t sample(double step, double phase, double s, double **w, double **f)
{
    size_t n = (size_t)((9100.0 - 5800.0) / step);
    *w = malloc(n * sizeof **w);
    *f = malloc(n * sizeof **f);
    assert_non_null(*w);
    assert_non_null(*f);
    for (size_t i = 0; i < n; i++) {
        (*w)[i] = 5800.0 + phase + (double)i * step;
        (*f)[i] = truth((*w)[i], s);
    }
    return n;
}

static void test_resolved_model_passes(void **state)
{
    (void)state;
    ms_cfg_preprocess p = fx_defaults();
    ms_spec_work *w;
    assert_int_equal(ms_spec_work_alloc(&p, &w), MS_OK);
    make_lines(7);
    double *wv, *fl;
    size_t n = sample(0.1, 0.0, 0.3, &wv, &fl);
    ms_grid_quality q;
    assert_int_equal(ms_grid_quality_measure(w, wv, fl, n, &q), MS_OK);
    printf("resolved: alias %.3g, step %.4f, samples/FWHM %.3f\n", q.alias_noise, q.step_max,
           q.samples_per_fwhm);
    assert_true(q.alias_noise < 1e-4);
    assert_true(fabs(q.step_max - 0.1) < 1e-9);
    assert_true(fabs(q.step_median - 0.1) < 1e-9);
    assert_true(fabs(q.samples_per_fwhm - p.wave_min / p.synthetic_resolution / 0.1) < 1e-6);
    free(wv);
    free(fl);
    ms_spec_work_free(w);
}

static void test_point_sampled_forest_fails(void **state)
{
    (void)state;
    ms_cfg_preprocess p = fx_defaults();
    ms_spec_work *w;
    assert_int_equal(ms_spec_work_alloc(&p, &w), MS_OK);
    make_lines(11);
    double *wv, *fl;
    size_t n = sample(2.0, 0.0, 0.05, &wv, &fl);
    ms_grid_quality q;
    assert_int_equal(ms_grid_quality_measure(w, wv, fl, n, &q), MS_OK);
    double *a = malloc(2901 * sizeof *a), *b = malloc(2901 * sizeof *b);
    assert_int_equal(ms_spec_convolve_synthetic(w, wv, fl, n, a), MS_OK);
    /* the truth of the error: the full 2 A sample's convolution against the exact one
     * (the forest sampled every 0.01 A), robust sigma as the gate */
    double *wt, *ft;
    size_t nt = sample(0.01, 0.0, 0.05, &wt, &ft);
    assert_int_equal(ms_spec_convolve_synthetic(w, wt, ft, nt, b), MS_OK);
    double *d = malloc(2901 * sizeof *d), *work = malloc(2901 * sizeof *work);
    for (int j = 0; j < 2901; j++) d[j] = (a[j] - b[j]) / b[j];
    ms_stats_summary sm;
    ms_stats_summarize(d, 2901, work, &sm);
    printf("point-sampled: alias %.4f, true error %.4f (rms %.4f), samples/FWHM %.2f\n",
           q.alias_noise, sm.robust_std, sm.std, q.samples_per_fwhm);
    assert_true(q.alias_noise > 0.01);
    assert_true(q.alias_noise > 0.7 * sm.robust_std && q.alias_noise < 1.3 * sm.robust_std);
    free(wt);
    free(ft);
    free(d);
    free(work);
    assert_true(fabs(q.step_max - 2.0) < 1e-9);
    free(wv);
    free(fl);
    free(a);
    free(b);
    ms_spec_work_free(w);
}

static void test_summary(void **state)
{
    (void)state;
    ms_grid_quality q[4] = {{0.1, 0.1, 10, 1e-4}, {0.1, 0.1, 10, 2e-4},
                            {0.1, 0.1, 10, 3e-4}, {0.1, 0.1, 10, NAN}};
    ms_grid_quality_summary s;
    ms_grid_quality_summarize(q, 4, 0.01, 2000, &s);
    assert_int_equal(s.pass, 1);
    assert_int_equal(s.n_models, 3);
    assert_int_equal(s.n_bad, 0);
    assert_true(fabs(s.alias_median - 2e-4) < 1e-12);
    assert_non_null(strstr(s.text, "PASS"));
    q[1].alias_noise = 0.05;
    q[1].samples_per_fwhm = 0.6;
    ms_grid_quality_summarize(q, 4, 0.01, 2000, &s);
    assert_int_equal(s.pass, 0);
    assert_int_equal(s.n_bad, 1);
    assert_true(s.alias_worst == 0.05 && s.samples_min == 0.6);
    assert_non_null(strstr(s.text, "FAIL: 1 of 3 models"));
    ms_grid_quality_summarize(q, 0, 0.01, 2000, &s);
    assert_int_equal(s.pass, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolved_model_passes),
        cmocka_unit_test(test_point_sampled_forest_fails),
        cmocka_unit_test(test_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
