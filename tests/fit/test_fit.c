/* test_fit.c: the batched fitter on the analytic model (fit_testlib.h): Doppler shift and
 * its derivative/adjoint; noiseless spectra recovered from anywhere in the box (pre-search
 * + RV scan, including missing pipeline RVs and RVs beyond the window); honest
 * Gauss-Newton errors under white noise and under LAMOST-like resampled (correlated) noise;
 * given starts and a per-spectrum model; bad inputs flagged without touching neighbours;
 * configuration errors. */
#include "fit_testlib.h"

#include "../../src/fit/fit_internal.h"
#include "mstars/mem.h"
#include "mstars/spec.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define N_PIX TM_NPIX

typedef struct {
    size_t n;
    float *flux, *ivar;   /* [n, N_PIX] */
    double *x, *dv;       /* truth [n, D], [n] */
    double *rv_init;
    uint8_t *known;
    ms_fit_result *res;
    float *model;
} batch;

static void batch_alloc(batch *b, size_t n)
{
    memset(b, 0, sizeof *b);
    b->n = n;
    b->flux = ms_calloc("t.flux", n * N_PIX, sizeof(float));
    b->ivar = ms_calloc("t.ivar", n * N_PIX, sizeof(float));
    b->x = ms_calloc("t.x", n * TM_D, sizeof(double));
    b->dv = ms_calloc("t.dv", n, sizeof(double));
    b->rv_init = ms_calloc("t.rv", n, sizeof(double));
    b->known = ms_calloc("t.known", n, 1);
    b->res = ms_calloc("t.res", n, sizeof(ms_fit_result));
    b->model = ms_calloc("t.model", n * N_PIX, sizeof(float));
    assert_true(b->flux && b->ivar && b->x && b->dv && b->rv_init && b->known && b->res && b->model);
    for (size_t i = 0; i < n; i++) b->known[i] = 1;
}

static void batch_free(batch *b)
{
    ms_free(b->flux);
    ms_free(b->ivar);
    ms_free(b->x);
    ms_free(b->dv);
    ms_free(b->rv_init);
    ms_free(b->known);
    ms_free(b->res);
    ms_free(b->model);
}

/* spectrum i = model at b->x[i] seen at b->dv[i], ivar constant (0 where undefined), plus
 * white Gaussian noise of that ivar when noise != 0 */
static void batch_observe(batch *b, size_t i, const ms_fit_model *m, double ivar, int noise,
                          ms_nn_rng *r)
{
    float *f = b->flux + i * N_PIX, *iv = b->ivar + i * N_PIX;
    tm_observe(m, b->x + i * TM_D, b->dv[i], f);
    for (size_t p = 0; p < N_PIX; p++) {
        if (!isfinite(f[p])) {
            iv[p] = 0.0f;
            continue;
        }
        iv[p] = (float)ivar;
        if (noise) f[p] += (float)(ms_nn_rng_normal(r) / sqrt(ivar));
    }
}

static ms_fit_input batch_input(const batch *b)
{
    ms_fit_input in;
    memset(&in, 0, sizeof in);
    in.n = b->n;
    in.flux = b->flux;
    in.ivar = b->ivar;
    in.rv_init = b->rv_init;
    in.rv_known = b->known;
    return in;
}

static double scaled(const ms_fit_model *m, size_t j, double y)
{
    return (y - m->phys_min[j]) / (m->phys_max[j] - m->phys_min[j]) - 0.5;
}

/* ------------------------------------------------------------------------------------- */

static void test_shift(void **state)
{
    (void)state;
    tm_model t;
    ms_fit_model m;
    tm_model_make(&t, &m, 4, 11);
    float *M = ms_malloc_array("t.M", N_PIX, sizeof(float));
    double *o = ms_malloc_array("t.o", N_PIX, sizeof(double)), *d = ms_malloc_array("t.d", N_PIX, sizeof(double));
    double *o1 = ms_malloc_array("t.o1", N_PIX, sizeof(double)), *o2 = ms_malloc_array("t.o2", N_PIX, sizeof(double));
    assert_true(M && o && d && o1 && o2);
    const double x[TM_D] = {0.1, -0.2, 0.3, 0.05};
    tm_observe(&m, x, 0.0, M); /* dv = 0: NaN only at the first and the last two pixels */
    assert_true(isnan(M[0]) && isnan(M[N_PIX - 1]) && isfinite(M[1]) && isfinite(M[N_PIX - 3]));
    size_t id = 0;
    float *J = ms_malloc_array("t.J", TM_D * N_PIX, sizeof(float));
    assert_int_equal(m.eval(m.ctx, 1, &id, x, M, J), MS_OK);
    /* at dv = 0 the shift is the identity on the grid */
    ms_fit_doppler_shift(M, N_PIX, 6000.0, 1.0, 0.0, o, d);
    for (size_t p = 1; p < N_PIX - 2; p++) assert_close(o[p], M[p], 0, 1e-12, "identity");
    /* derivative in dv against central differences */
    const double dv = 37.3, h = 1e-3;
    ms_fit_doppler_shift(M, N_PIX, 6000.0, 1.0, dv, o, d);
    ms_fit_doppler_shift(M, N_PIX, 6000.0, 1.0, dv + h, o1, NULL);
    ms_fit_doppler_shift(M, N_PIX, 6000.0, 1.0, dv - h, o2, NULL);
    double worst = 0.0;
    for (size_t p = 0; p < N_PIX; p++) {
        if (!isfinite(o[p]) || !isfinite(o1[p]) || !isfinite(o2[p])) continue;
        double fd = (o1[p] - o2[p]) / (2 * h);
        worst = fmax(worst, fabs(fd - d[p]));
    }
    print_message("    max |d shift/d dv - central difference| = %.2e per km/s\n", worst);
    assert_true(worst < 1e-7);
    /* a line moves by lambda dv / c: the shifted spectrum at lambda matches the unshifted
     * one at lambda / doppler(dv) (smooth model: cubic convolution good to ~1e-3) */
    /* adjoint: <S M, q> = <M, S^T q> */
    fit_shift fs = fit_shift_make(6000.0, 1.0, dv);
    size_t lo, hi;
    fit_shift_range(N_PIX, 6000.0, 1.0, 100.0, &lo, &hi);
    assert_true(lo > 1 && hi < N_PIX - 3 && hi > lo);
    ms_nn_rng r;
    ms_nn_rng_seed(&r, 5);
    double *q = o1, *v = o2;
    for (size_t p = 0; p < N_PIX; p++) {
        q[p] = ms_nn_rng_normal(&r);
        v[p] = 0.0;
    }
    fit_shift_apply(&fs, M, lo, hi, o, NULL);
    fit_shift_adjoint(&fs, q, lo, hi, v);
    double a = 0.0, bsum = 0.0;
    for (size_t p = lo; p <= hi; p++) a += o[p] * q[p];
    for (size_t p = 0; p < N_PIX; p++) bsum += (double)M[p] * v[p];
    assert_close(a, bsum, 1e-12, 1e-12, "adjoint");
    /* the range is exactly what the taps allow at +-vmax */
    for (double vv = -100.0; vv <= 100.0; vv += 50.0) {
        fit_shift s2 = fit_shift_make(6000.0, 1.0, vv);
        double u_lo = (double)lo * s2.a + s2.b0, u_hi = (double)hi * s2.a + s2.b0;
        assert_true(u_lo >= 1.0 && u_hi < N_PIX - 2.0);
    }
    ms_free(M);
    ms_free(J);
    ms_free(o);
    ms_free(d);
    ms_free(o1);
    ms_free(o2);
    tm_model_free(&t);
}

/* noiseless spectra at random labels and velocities, pre-search starts */
static void test_noiseless_recovery(void **state)
{
    (void)state;
    tm_model t;
    ms_fit_model m;
    tm_model_make(&t, &m, 64, 21);
    ms_cfg_fit cfg = tm_cfg();
    cfg.batch_size = 16;
    cfg.factr = 10.0;
    cfg.pgtol = 0.0;
    ms_fitter *f;
    assert_int_equal(ms_fitter_alloc(&cfg, &m, &f), MS_OK);
    assert_int_equal(ms_fitter_bank_size(f), 512);
    const size_t n = 40;
    batch b;
    batch_alloc(&b, n);
    ms_nn_rng r;
    ms_nn_rng_seed(&r, 2024);
    for (size_t i = 0; i < n; i++) {
        tm_random_x(&r, 0.48, TM_D, b.x + i * TM_D);
        b.dv[i] = 120.0 * (ms_nn_rng_uniform(&r) - 0.5);
        b.rv_init[i] = 10.0 * i;
        if (i % 8 == 3) { /* no pipeline RV: wide scan */
            b.known[i] = 0;
            b.dv[i] = 480.0 * (ms_nn_rng_uniform(&r) - 0.5);
        }
        if (i % 8 == 5) b.dv[i] = (i % 16 == 5 ? 1 : -1) * (160.0 + 100.0 * ms_nn_rng_uniform(&r)); /* beyond the window */
        batch_observe(&b, i, &m, 1e4, 0, &r);
    }
    ms_fit_input in = batch_input(&b);
    assert_int_equal(ms_fit_batch(f, &in, b.res, b.model), MS_OK);
    double worst_x = 0.0, worst_v = 0.0;
    long evals = 0;
    for (size_t i = 0; i < n; i++) {
        const ms_fit_result *res = &b.res[i];
        char fl[128];
        ms_fit_flags_format(res->flags, fl, sizeof fl);
        for (size_t j = 0; j < TM_D; j++) {
            double e = fabs(scaled(&m, j, res->labels[j]) - b.x[i * TM_D + j]);
            worst_x = fmax(worst_x, e);
            if (e > 1e-4)
                fail_msg("spectrum %zu label %zu: %.6f vs %.6f (flags %s, task %s)", i, j,
                         scaled(&m, j, res->labels[j]), b.x[i * TM_D + j], fl, res->task);
        }
        double ev = fabs(res->dv - b.dv[i]);
        worst_v = fmax(worst_v, ev);
        if (ev > 0.1) fail_msg("spectrum %zu: dv %.3f vs %.3f (flags %s)", i, res->dv, b.dv[i], fl);
        assert_close(res->rv, b.rv_init[i] + res->dv, 1e-12, 1e-9, "rv");
        assert_int_equal(res->flags & (MS_FIT_FAILED | MS_FIT_NOT_CONVERGED | MS_FIT_SINGULAR |
                                       MS_FIT_RV_EDGE | MS_FIT_PRESEARCH_DISAGREE), 0);
        if (!b.known[i] || fabs(b.dv[i]) > cfg.rv_window) assert_true(res->flags & MS_FIT_RV_WIDE);
        else assert_false(res->flags & MS_FIT_RV_WIDE);
        assert_true(res->presearch);
        assert_true(res->chi2 < 1e-3 && res->start_chi2 > res->chi2);
        if (i == 0) print_message("    errors at S/N 100: %.2f K, %.4f, %.4f, %.4f dex, %.3f km/s\n", res->errors[0], res->errors[1], res->errors[2], res->errors[3], res->rv_err);
        assert_true(res->errors[0] > 0.0 && res->errors[0] < 50.0 && res->rv_err > 0.0 && res->rv_err < 5.0);
        evals += res->evaluations;
        /* the best-fit model reproduces the spectrum */
        for (size_t p = 100; p < N_PIX - 100; p += 97)
            assert_close(b.model[i * N_PIX + p], b.flux[i * N_PIX + p], 0, 1e-4, "model");
    }
    ms_fit_stats st = ms_fitter_stats(f);
    print_message("    %zu spectra: worst label error %.2e (box units), worst dv error %.4f km/s, "
                  "%.1f evaluations per fit, %zu batched calls of %.1f rows\n",
                  n, worst_x, worst_v, (double)evals / (double)n, st.fg_calls,
                  (double)st.fg_rows / (double)st.fg_calls);
    assert_int_equal(st.fitted, n);
    assert_int_equal(t.begins, 1);
    batch_free(&b);
    ms_fitter_free(f);
    tm_model_free(&t);
}

/* pulls (fit - truth) / err under white noise of known ivar */
static void pulls_run(int correlated, double dloglam, double lo_ok, double hi_ok)
{
    tm_model t;
    ms_fit_model m;
    tm_model_make(&t, &m, 64, 31);
    ms_cfg_fit cfg = tm_cfg();
    cfg.batch_size = 32;
    cfg.presearch_points = 128; /* the truths are near the centre */
    cfg.native_dloglam = dloglam;
    ms_fitter *f;
    assert_int_equal(ms_fitter_alloc(&cfg, &m, &f), MS_OK);
    const size_t n = 200;
    batch b;
    batch_alloc(&b, n);
    ms_nn_rng r;
    ms_nn_rng_seed(&r, correlated ? 77 : 78);
    /* the native LAMOST-like grid: log-linear, dloglam dex per pixel */
    const double l0 = log10(5990.0), dl = 1e-4;
    const size_t nn = (size_t)((log10(8910.0) - l0) / dl) + 1;
    double *nw = ms_malloc_array("t.nw", nn, sizeof(double)), *nf = ms_malloc_array("t.nf", nn, sizeof(double));
    double *ni = ms_malloc_array("t.ni", nn, sizeof(double)), *of = ms_malloc_array("t.of", N_PIX, sizeof(double));
    double *oi = ms_malloc_array("t.oi", N_PIX, sizeof(double));
    assert_true(nw && nf && ni && of && oi);
    for (size_t k = 0; k < nn; k++) nw[k] = pow(10.0, l0 + (double)k * dl);
    const ms_wgrid grid = {6000.0, 1.0, N_PIX};
    for (size_t i = 0; i < n; i++) {
        tm_random_x(&r, 0.3, TM_D, b.x + i * TM_D);
        b.dv[i] = 40.0 * (ms_nn_rng_uniform(&r) - 0.5);
        double snr = 20.0 + 40.0 * ms_nn_rng_uniform(&r), ivar = snr * snr;
        batch_observe(&b, i, &m, ivar, !correlated, &r);
        if (correlated) {
            /* noise drawn per native pixel, resampled as the preprocessing does */
            for (size_t k = 0; k < nn; k++) {
                nf[k] = ms_nn_rng_normal(&r) / snr;
                ni[k] = ivar;
            }
            assert_true(ms_spec_resample(nw, nf, ni, NULL, nn, 1.0, grid, of, oi) == N_PIX);
            for (size_t p = 0; p < N_PIX; p++) {
                if (b.ivar[i * N_PIX + p] == 0.0f) continue;
                b.flux[i * N_PIX + p] += (float)of[p];
                b.ivar[i * N_PIX + p] = (float)oi[p];
            }
        }
    }
    ms_fit_input in = batch_input(&b);
    assert_int_equal(ms_fit_batch(f, &in, b.res, NULL), MS_OK);
    double s1[TM_D + 1] = {0}, s2[TM_D + 1] = {0}, chi2r = 0.0;
    for (size_t i = 0; i < n; i++) {
        const ms_fit_result *res = &b.res[i];
        assert_int_equal(res->flags & (MS_FIT_FAILED | MS_FIT_NOT_CONVERGED | MS_FIT_AT_BOUND), 0);
        for (size_t j = 0; j <= TM_D; j++) {
            double truth = j < TM_D ? m.phys_min[j] + (b.x[i * TM_D + j] + 0.5) * (m.phys_max[j] - m.phys_min[j]) : b.dv[i];
            double fit = j < TM_D ? res->labels[j] : res->dv, err = j < TM_D ? res->errors[j] : res->rv_err;
            double pull = (fit - truth) / err;
            s1[j] += pull;
            s2[j] += pull * pull;
        }
        chi2r += res->chi2_red;
    }
    for (size_t j = 0; j <= TM_D; j++) {
        double mean = s1[j] / (double)n, sd = sqrt(s2[j] / (double)n - mean * mean);
        print_message("    %s noise, native_dloglam %g: %-8s pull mean %+.3f std %.3f\n",
                      correlated ? "resampled" : "white", dloglam, j < TM_D ? m.names[j] : "dv", mean, sd);
        if (!(sd >= lo_ok && sd <= hi_ok)) fail_msg("pull std %.3f outside [%.2f, %.2f]", sd, lo_ok, hi_ok);
        assert_true(fabs(mean) < 0.3);
    }
    print_message("    mean reduced chi^2 %.3f\n", chi2r / (double)n);
    assert_true(fabs(chi2r / (double)n - 1.0) < 0.05);
    ms_free(nw);
    ms_free(nf);
    ms_free(ni);
    ms_free(of);
    ms_free(oi);
    batch_free(&b);
    ms_fitter_free(f);
    tm_model_free(&t);
}

static void test_pulls_white(void **state)
{
    (void)state;
    pulls_run(0, 0.0, 0.8, 1.25);
}

static void test_pulls_resampled(void **state)
{
    (void)state;
    /* corrected errors are honest; the naive ones are clearly too small */
    pulls_run(1, 1e-4, 0.8, 1.25);
    pulls_run(1, 0.0, 1.3, 3.0);
}

/* ------------------------------------------------------------------------------------- */
/* The Payne emulator through ms_fit_model_emulator */

/* noisy spectra from a small random Payne (4 labels, 32 hidden) */
static void payne_batch(batch *b, const ms_fit_model *m, size_t n, uint64_t seed, double ivar,
                        int noise)
{
    batch_alloc(b, n);
    ms_nn_rng r;
    ms_nn_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        tm_random_x(&r, 0.45, TM_D, b->x + i * TM_D);
        b->dv[i] = 80.0 * (ms_nn_rng_uniform(&r) - 0.5);
        b->rv_init[i] = -30.0 + i;
        batch_observe(b, i, m, ivar, noise, &r);
    }
}

static void test_payne_model(void **state)
{
    (void)state;
    ms_emulator e;
    tm_payne_make(&e, TM_D, 32, 3);
    ms_fit_model m;
    assert_int_equal(ms_fit_model_emulator(&e, 8, &m), MS_OK);
    assert_int_equal(m.n_labels, TM_D);
    assert_close(m.wave_start, 6000.0, 0, 1e-12, "start");
    assert_close(m.wave_step, 1.0, 0, 1e-12, "step");
    assert_string_equal(m.names[2], "m_h");
    /* vjp == v . J from the forward-mode Jacobian */
    double x[3 * TM_D] = {0.1, -0.2, 0.3, 0.4, -0.45, 0.05, 0.0, 0.2, 0.33, 0.1, -0.3, -0.1};
    float *fl = ms_malloc_array("t.fl", 3 * N_PIX, sizeof(float)), *fl2 = ms_malloc_array("t.fl2", 3 * N_PIX, sizeof(float));
    float *J = ms_malloc_array("t.J", 3 * TM_D * N_PIX, sizeof(float)), *v = ms_malloc_array("t.v", 3 * N_PIX, sizeof(float));
    assert_true(fl && fl2 && J && v);
    ms_nn_rng r;
    ms_nn_rng_seed(&r, 9);
    for (size_t i = 0; i < 3 * N_PIX; i++) v[i] = (float)ms_nn_rng_normal(&r);
    assert_int_equal(m.eval(m.ctx, 3, NULL, x, fl, J), MS_OK);
    assert_int_equal(m.eval(m.ctx, 3, NULL, x, fl2, NULL), MS_OK);
    double gx[3 * TM_D];
    assert_int_equal(m.vjp(m.ctx, 3, v, gx), MS_OK);
    for (size_t b = 0; b < 3; b++) {
        for (size_t p = 0; p < N_PIX; p += 7) assert_close(fl[b * N_PIX + p], fl2[b * N_PIX + p], 1e-5, 1e-5, "flux");
        for (size_t j = 0; j < TM_D; j++) {
            double ref = 0.0, sc = 0.0;
            for (size_t p = 0; p < N_PIX; p++) {
                ref += (double)J[(b * TM_D + j) * N_PIX + p] * v[b * N_PIX + p];
                sc += fabs((double)J[(b * TM_D + j) * N_PIX + p] * v[b * N_PIX + p]);
            }
            assert_close(gx[b * TM_D + j], ref, 0, 1e-5 * sc, "vjp");
        }
    }
    assert_int_equal(m.eval(m.ctx, 9, NULL, x, fl, NULL), MS_EINVAL); /* beyond max_batch */
    ms_free(fl);
    ms_free(fl2);
    ms_free(J);
    ms_free(v);
    ms_fit_model_free(&m);
    /* a grid that the velocity shift cannot use */
    e.wavelength[100] += 0.3;
    assert_int_equal(ms_fit_model_emulator(&e, 8, &m), MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "not uniform"));
    ms_free(e.wavelength);
    e.wavelength = NULL;
    assert_int_equal(ms_fit_model_emulator(&e, 8, &m), MS_EINVAL);
    ms_emulator_free(&e);
}

static void test_payne_noiseless(void **state)
{
    (void)state;
    ms_emulator e;
    tm_payne_make(&e, TM_D, 32, 4);
    ms_fit_model m;
    assert_int_equal(ms_fit_model_emulator(&e, 16, &m), MS_OK);
    ms_cfg_fit cfg = tm_cfg();
    cfg.batch_size = 16;
    cfg.factr = 10.0;
    cfg.pgtol = 0.0;
    ms_fitter *f;
    assert_int_equal(ms_fitter_alloc(&cfg, &m, &f), MS_OK);
    batch b;
    payne_batch(&b, &m, 24, 99, 1e4, 0);
    ms_fit_input in = batch_input(&b);
    assert_int_equal(ms_fit_batch(f, &in, b.res, NULL), MS_OK);
    double wx = 0.0, wv = 0.0;
    for (size_t i = 0; i < b.n; i++) {
        assert_int_equal(b.res[i].flags & (MS_FIT_FAILED | MS_FIT_NOT_CONVERGED | MS_FIT_AT_BOUND), 0);
        for (size_t j = 0; j < TM_D; j++)
            wx = fmax(wx, fabs(scaled(&m, j, b.res[i].labels[j]) - b.x[i * TM_D + j]));
        wv = fmax(wv, fabs(b.res[i].dv - b.dv[i]));
    }
    print_message("    Payne 4-32-32-2901: worst label error %.2e (box), worst dv error %.4f km/s\n", wx, wv);
    assert_true(wx < 1e-4);
    assert_true(wv < 0.1);
    batch_free(&b);
    ms_fitter_free(f);
    ms_fit_model_free(&m);
    ms_emulator_free(&e);
}

/* ------------------------------------------------------------------------------------- */

static int same_result(const ms_fit_result *a, const ms_fit_result *b)
{
    return !memcmp(a->labels, b->labels, sizeof a->labels) && a->dv == b->dv && a->chi2 == b->chi2 &&
           a->evaluations == b->evaluations && a->flags == b->flags;
}

/* Fit b's spectra in batches of 8, one by one, and in batches of 5 in reverse order with
 * the model from make(B); the per-spectrum results (count of bitwise-identical ones
 * returned) agree to tol x the error. */
typedef void (*model_maker)(void *arg, size_t max_batch, ms_fit_model *m);

static size_t independence_run(const batch *b, model_maker make, void *arg, const char *gradient,
                               double tol, ms_fit_result *out8)
{
    const size_t n = b->n;
    ms_fit_result *one = ms_calloc("t.one", n, sizeof *one), *rev = ms_calloc("t.rev", n, sizeof *rev);
    assert_true(one && rev);
    ms_cfg_fit cfg = tm_cfg();
    snprintf(cfg.gradient, sizeof cfg.gradient, "%s", gradient);
    const long sizes[3] = {8, 1, 5};
    for (int k = 0; k < 3; k++) {
        ms_fit_model m;
        ms_fitter *f;
        cfg.batch_size = sizes[k];
        make(arg, (size_t)sizes[k], &m);
        assert_int_equal(ms_fitter_alloc(&cfg, &m, &f), MS_OK);
        if (k == 0) {
            ms_fit_input in = batch_input(b);
            assert_int_equal(ms_fit_batch(f, &in, out8, NULL), MS_OK);
        } else if (k == 1) {
            for (size_t i = 0; i < n; i++) {
                ms_fit_input in1 = {1, b->flux + i * N_PIX, b->ivar + i * N_PIX, NULL, b->rv_init + i, b->known + i, NULL, NULL};
                assert_int_equal(ms_fit_batch(f, &in1, &one[i], NULL), MS_OK);
            }
        } else {
            batch rb;
            batch_alloc(&rb, n);
            for (size_t i = 0; i < n; i++) {
                size_t q = n - 1 - i;
                memcpy(rb.flux + i * N_PIX, b->flux + q * N_PIX, N_PIX * sizeof(float));
                memcpy(rb.ivar + i * N_PIX, b->ivar + q * N_PIX, N_PIX * sizeof(float));
                rb.rv_init[i] = b->rv_init[q];
                rb.known[i] = b->known[q];
            }
            ms_fit_input inr = batch_input(&rb);
            assert_int_equal(ms_fit_batch(f, &inr, rev, NULL), MS_OK);
            batch_free(&rb);
        }
        ms_fitter_free(f);
        ms_fit_model_free(&m);
    }
    size_t bitwise = 0;
    for (size_t i = 0; i < n; i++) {
        const ms_fit_result *a = &out8[i], *c1 = &one[i], *c2 = &rev[n - 1 - i];
        bitwise += same_result(a, c1) && same_result(a, c2) && !memcmp(a->errors, c1->errors, sizeof a->errors) &&
                   !memcmp(a->errors, c2->errors, sizeof a->errors);
        for (size_t j = 0; j < TM_D; j++) {
            assert_close(c1->labels[j], a->labels[j], 0, tol * a->errors[j], "one by one");
            assert_close(c2->labels[j], a->labels[j], 0, tol * a->errors[j], "batches of 5, reversed");
        }
        assert_close(c1->dv, a->dv, 0, tol * a->rv_err, "dv one by one");
        assert_close(c2->dv, a->dv, 0, tol * a->rv_err, "dv reversed");
    }
    ms_free(one);
    ms_free(rev);
    return bitwise;
}

static void make_tm(void *arg, size_t max_batch, ms_fit_model *m)
{
    tm_model *t = arg;
    tm_model_free(t);
    tm_model_make(t, m, max_batch, 91); /* same seed: same model, any capacity */
}

static void make_payne(void *arg, size_t max_batch, ms_fit_model *m)
{
    assert_int_equal(ms_fit_model_emulator(arg, max_batch, m), MS_OK);
}

/* A spectrum's result does not depend on its batch: bitwise, with the analytic model (the
 * driver keeps every spectrum's path separate) and with The Payne (the fit's workspace
 * computes every row by the batch-independent kernel, MS_PAYNE_WS_EXACT; with OpenBLAS's
 * GEMM the rounding changed with the batch size and moved end points by up to 0.01 sigma,
 * which made the catalog depend on the chunk size). */
static void test_batch_independence(void **state)
{
    (void)state;
    const size_t n = 20;
    ms_fit_result *r8 = ms_calloc("t.r8", n, sizeof *r8), *r8j = ms_calloc("t.r8j", n, sizeof *r8j);
    assert_true(r8 && r8j);
    /* analytic model */
    tm_model t;
    ms_fit_model m;
    tm_model_make(&t, &m, 1, 91);
    batch b;
    batch_alloc(&b, n);
    ms_nn_rng r;
    ms_nn_rng_seed(&r, 919);
    for (size_t i = 0; i < n; i++) {
        tm_random_x(&r, 0.45, TM_D, b.x + i * TM_D);
        b.dv[i] = 60.0 * (ms_nn_rng_uniform(&r) - 0.5);
        b.known[i] = i % 7 != 3;
        batch_observe(&b, i, &m, 900.0, 1, &r);
    }
    size_t bw = independence_run(&b, make_tm, &t, "vjp", 1e-12, r8);
    print_message("    analytic model: %zu of %zu spectra bitwise identical across batches of 8, 1, 5 (reversed)\n", bw, n);
    assert_int_equal(bw, n);
    batch_free(&b);
    tm_model_free(&t);

    /* The Payne, reverse and forward mode */
    ms_emulator e;
    tm_payne_make(&e, TM_D, 32, 5);
    ms_fit_model m0;
    assert_int_equal(ms_fit_model_emulator(&e, 8, &m0), MS_OK);
    payne_batch(&b, &m0, n, 123, 900.0, 1);
    ms_fit_model_free(&m0);
    bw = independence_run(&b, make_payne, &e, "vjp", 0.01, r8);
    print_message("    Payne, vjp: %zu of %zu bitwise identical\n", bw, n);
    assert_int_equal(bw, n);
    bw = independence_run(&b, make_payne, &e, "jacobian", 0.01, r8j);
    print_message("    Payne, jacobian: %zu of %zu bitwise identical\n", bw, n);
    assert_int_equal(bw, n);
    /* forward and reverse mode agree to far below the errors (the convergence tolerance,
     * factr 1e10, allows a few hundredths of a sigma) */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < TM_D; j++)
            assert_close(r8j[i].labels[j], r8[i].labels[j], 0, 0.05 * r8[i].errors[j], "vjp vs jacobian");
        assert_close(r8j[i].dv, r8[i].dv, 0, 0.05 * r8[i].rv_err, "dv vjp vs jacobian");
    }
    ms_free(r8);
    ms_free(r8j);
    batch_free(&b);
    ms_emulator_free(&e);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    tm_model t;
    ms_fit_model m;
    tm_model_make(&t, &m, 8, 41);
    ms_cfg_fit cfg = tm_cfg();
    cfg.batch_size = 4;
    ms_fitter *f;
    assert_int_equal(ms_fitter_alloc(&cfg, &m, &f), MS_OK);
    const size_t n = 8;
    batch b;
    batch_alloc(&b, n);
    ms_nn_rng r;
    ms_nn_rng_seed(&r, 4242);
    for (size_t i = 0; i < n; i++) {
        tm_random_x(&r, 0.3, TM_D, b.x + i * TM_D);
        b.dv[i] = 10.0 * (ms_nn_rng_uniform(&r) - 0.5);
        if (i == 5) b.x[i * TM_D + 0] = 0.9; /* Teff beyond the training range */
        batch_observe(&b, i, &m, 2500.0, 1, &r);
    }
    float *F, *IV;
    F = b.flux + 1 * N_PIX; /* all flux NaN */
    for (size_t p = 0; p < N_PIX; p++) F[p] = NAN;
    IV = b.ivar + 2 * N_PIX; /* zero ivar everywhere */
    for (size_t p = 0; p < N_PIX; p++) IV[p] = 0.0f;
    IV = b.ivar + 3 * N_PIX; /* 100 good pixels */
    for (size_t p = 0; p < N_PIX; p++) if (p < 1000 || p >= 1100) IV[p] = 0.0f;
    F = b.flux + 4 * N_PIX; /* 30 NaN / inf pixels that claim ivar > 0 */
    for (size_t p = 500; p < 530; p++) F[p] = p % 2 ? NAN : INFINITY;
    IV = b.ivar + 6 * N_PIX; /* zero variance: ivar infinite everywhere */
    for (size_t p = 0; p < N_PIX; p++) IV[p] = INFINITY;
    ms_fit_input in = batch_input(&b);
    assert_int_equal(ms_fit_batch(f, &in, b.res, b.model), MS_OK);
    const uint32_t want[8] = {0, MS_FIT_BAD_INPUT | MS_FIT_BAD_PIXELS, MS_FIT_BAD_INPUT, MS_FIT_FEW_PIXELS,
                              MS_FIT_BAD_PIXELS, MS_FIT_AT_BOUND, MS_FIT_BAD_INPUT | MS_FIT_BAD_PIXELS, 0};
    for (size_t i = 0; i < n; i++) {
        char fl[128];
        ms_fit_flags_format(b.res[i].flags, fl, sizeof fl);
        uint32_t got = b.res[i].flags & ~(uint32_t)(MS_FIT_LINESEARCH | MS_FIT_PRESEARCH_DISAGREE);
        if (got != want[i]) fail_msg("spectrum %zu: flags %s (0x%x), expected 0x%x", i, fl, got, want[i]);
        int failed = (b.res[i].flags & MS_FIT_FAILED) != 0;
        for (size_t j = 0; j < TM_D; j++) assert_true(failed ? isnan(b.res[i].labels[j]) && isnan(b.res[i].errors[j]) : isfinite(b.res[i].labels[j]));
        assert_true(failed ? isnan(b.res[i].rv) && isnan(b.res[i].chi2) : isfinite(b.res[i].rv));
        assert_true(failed ? isnan(b.model[i * N_PIX + 1500]) : isfinite(b.model[i * N_PIX + 1500]));
    }
    assert_int_equal(b.res[3].n_good, 100);
    assert_int_equal(b.res[5].at_bound, 1u); /* Teff only */
    assert_close(b.res[5].labels[0], 4000.0, 0, 2.0, "Teff at its upper bound");
    assert_true(b.res[4].n_good < b.res[0].n_good);
    /* the neighbours are unaffected: the good spectra alone give the same results */
    batch g;
    batch_alloc(&g, 3);
    const size_t keep[3] = {0, 4, 7};
    for (size_t k = 0; k < 3; k++) {
        memcpy(g.flux + k * N_PIX, b.flux + keep[k] * N_PIX, N_PIX * sizeof(float));
        memcpy(g.ivar + k * N_PIX, b.ivar + keep[k] * N_PIX, N_PIX * sizeof(float));
    }
    ms_fit_input ing = batch_input(&g);
    assert_int_equal(ms_fit_batch(f, &ing, g.res, NULL), MS_OK);
    for (size_t k = 0; k < 3; k++) assert_true(same_result(&g.res[k], &b.res[keep[k]]));

    /* a model that goes non-finite for one spectrum: that one is flagged, the rest as before */
    t.poison = 2;
    ms_fit_result *pr = ms_calloc("t.pr", 3, sizeof *pr);
    assert_int_equal(ms_fit_batch(f, &ing, pr, NULL), MS_OK);
    assert_true(pr[2].flags & MS_FIT_NONFINITE);
    assert_true(isnan(pr[2].labels[0]) && pr[2].evaluations >= 1);
    assert_true(same_result(&pr[0], &g.res[0]) && same_result(&pr[1], &g.res[1]));
    t.poison = -1;
    ms_free(pr);
    batch_free(&g);
    batch_free(&b);
    ms_fitter_free(f);
    tm_model_free(&t);
}

/* given starts (e.g. from the synthetic-domain fit) with a per-spectrum model: no bank,
 * no scan; the ids reach the model */
static void test_given_start_per_spectrum(void **state)
{
    (void)state;
    tm_model t;
    ms_fit_model m;
    tm_model_make(&t, &m, 8, 51);
    const size_t n = 10;
    batch b;
    batch_alloc(&b, n);
    double gain[10], start[10 * TM_D], sdv[10];
    ms_nn_rng r;
    ms_nn_rng_seed(&r, 515);
    for (size_t i = 0; i < n; i++) {
        tm_random_x(&r, 0.35, TM_D, b.x + i * TM_D);
        b.dv[i] = 30.0 * (ms_nn_rng_uniform(&r) - 0.5);
        gain[i] = 0.7 + 0.6 * ms_nn_rng_uniform(&r);
        /* the observation of a per-spectrum model: evaluate as spectrum i */
        t.per_spectrum = 1;
        t.gain = gain;
        t.n_gain = n;
        float *base = ms_malloc_array("t.base", N_PIX, sizeof(float));
        double *sh = ms_malloc_array("t.sh", N_PIX, sizeof(double));
        size_t id = i;
        assert_int_equal(m.eval(m.ctx, 1, &id, b.x + i * TM_D, base, NULL), MS_OK);
        ms_fit_doppler_shift(base, N_PIX, 6000.0, 1.0, b.dv[i], sh, NULL);
        for (size_t p = 0; p < N_PIX; p++) {
            b.flux[i * N_PIX + p] = isfinite(sh[p]) ? (float)sh[p] : NAN;
            b.ivar[i * N_PIX + p] = isfinite(sh[p]) ? 1e4f : 0.0f;
        }
        ms_free(base);
        ms_free(sh);
        for (size_t j = 0; j < TM_D; j++)
            start[i * TM_D + j] = m.phys_min[j] + (b.x[i * TM_D + j] + 0.5 + 0.08) * (m.phys_max[j] - m.phys_min[j]);
        sdv[i] = b.dv[i] + 7.0;
    }
    m.per_spectrum = 1;
    ms_cfg_fit cfg = tm_cfg();
    cfg.batch_size = 4;
    cfg.factr = 10.0;
    cfg.pgtol = 0.0;
    ms_fitter *f;
    assert_int_equal(ms_fitter_alloc(&cfg, &m, &f), MS_OK);
    assert_int_equal(ms_fitter_bank_size(f), 0);
    ms_fit_input in = batch_input(&b);
    in.start = start;
    in.start_dv = sdv;
    assert_int_equal(ms_fit_batch(f, &in, b.res, NULL), MS_OK);
    for (size_t i = 0; i < n; i++) {
        assert_false(b.res[i].presearch);
        assert_int_equal(b.res[i].flags & (MS_FIT_FAILED | MS_FIT_NOT_CONVERGED), 0);
        for (size_t j = 0; j < TM_D; j++) {
            assert_close(scaled(&m, j, b.res[i].labels[j]), b.x[i * TM_D + j], 0, 1e-4, "label");
            assert_close(b.res[i].start_labels[j], start[i * TM_D + j], 1e-12, 1e-9, "start");
        }
        assert_close(b.res[i].dv, b.dv[i], 0, 0.1, "dv");
        assert_close(b.res[i].start_dv, sdv[i], 0, 1e-9, "start dv");
    }
    assert_int_equal(t.begins, 1);
    /* without a start, a per-spectrum model starts at the box centre */
    in.start = NULL;
    in.start_dv = NULL;
    in.n = 2;
    b.known[1] = 0;
    in.rv_known = b.known;
    assert_int_equal(ms_fit_batch(f, &in, b.res, NULL), MS_OK);
    assert_close(b.res[0].start_labels[0], 3400.0, 0, 1e-9, "centre");
    assert_true(b.res[1].flags & MS_FIT_NO_RV_START);
    assert_true(b.res[1].flags & MS_FIT_RV_WIDE);
    batch_free(&b);
    ms_fitter_free(f);
    tm_model_free(&t);
}

/* fit_rv off: P = D; a fixed velocity is applied */
static void test_fixed_velocity(void **state)
{
    (void)state;
    tm_model t;
    ms_fit_model m;
    tm_model_make(&t, &m, 8, 61);
    ms_cfg_fit cfg = tm_cfg();
    cfg.batch_size = 8;
    cfg.fit_rv = 0;
    cfg.factr = 10.0;
    cfg.pgtol = 0.0;
    ms_fitter *f;
    assert_int_equal(ms_fitter_alloc(&cfg, &m, &f), MS_OK);
    assert_int_equal(ms_fitter_n_params(f), TM_D);
    batch b;
    batch_alloc(&b, 4);
    ms_nn_rng r;
    ms_nn_rng_seed(&r, 616);
    double fixed[4] = {0.0, 25.0, -40.0, 0.0};
    for (size_t i = 0; i < 4; i++) {
        tm_random_x(&r, 0.4, TM_D, b.x + i * TM_D);
        b.dv[i] = fixed[i];
        b.rv_init[i] = 100.0;
        batch_observe(&b, i, &m, 1e4, 0, &r);
    }
    ms_fit_input in = batch_input(&b);
    in.start_dv = fixed;
    assert_int_equal(ms_fit_batch(f, &in, b.res, NULL), MS_OK);
    for (size_t i = 0; i < 4; i++) {
        for (size_t j = 0; j < TM_D; j++)
            assert_close(scaled(&m, j, b.res[i].labels[j]), b.x[i * TM_D + j], 0, 1e-4, "label");
        assert_true(isnan(b.res[i].rv_err));
        assert_close(b.res[i].rv, 100.0 + fixed[i], 0, 1e-12, "rv");
        assert_true(isnan(b.res[i].cov[0][TM_D]));
        assert_int_equal(b.res[i].flags & (MS_FIT_FAILED | MS_FIT_RV_WIDE), 0);
    }
    /* a shifted spectrum (no edge pixels) keeps more pixels than fits with dv free */
    assert_true(b.res[0].n_good > b.res[1].n_good);
    batch_free(&b);
    ms_fitter_free(f);
    tm_model_free(&t);
}

/* physical covariance = scaled covariance x outer product of the ranges; error scaling */
static void test_covariance_units(void **state)
{
    (void)state;
    tm_model t;
    ms_fit_model m;
    tm_model_make(&t, &m, 8, 71);
    ms_cfg_fit cfg = tm_cfg();
    cfg.batch_size = 4;
    cfg.native_dloglam = 0.0;
    snprintf(cfg.error_scaling, sizeof cfg.error_scaling, "none"); /* the default inflates */
    batch b;
    batch_alloc(&b, 3);
    ms_nn_rng r;
    ms_nn_rng_seed(&r, 717);
    for (size_t i = 0; i < 3; i++) {
        tm_random_x(&r, 0.3, TM_D, b.x + i * TM_D);
        batch_observe(&b, i, &m, 400.0, 1, &r);
        for (size_t p = 0; p < N_PIX; p++) b.ivar[i * N_PIX + p] *= 4.0f; /* errors understated 2x */
    }
    ms_fit_input in = batch_input(&b);
    ms_fit_result r1[3], r2[3], r3[3];
    ms_fitter *f;
    assert_int_equal(ms_fitter_alloc(&cfg, &m, &f), MS_OK);
    assert_int_equal(ms_fit_batch(f, &in, r1, NULL), MS_OK);
    ms_fitter_free(f);
    /* the same model with every range doubled (and moved): same scaled fit */
    ms_fit_model m2 = m;
    for (size_t j = 0; j < TM_D; j++) {
        m2.phys_min[j] = 2.0 * m.phys_min[j] - 7.0;
        m2.phys_max[j] = 2.0 * m.phys_max[j] - 7.0;
    }
    assert_int_equal(ms_fitter_alloc(&cfg, &m2, &f), MS_OK);
    assert_int_equal(ms_fit_batch(f, &in, r2, NULL), MS_OK);
    ms_fitter_free(f);
    snprintf(cfg.error_scaling, sizeof cfg.error_scaling, "chi2");
    assert_int_equal(ms_fitter_alloc(&cfg, &m, &f), MS_OK);
    assert_int_equal(ms_fit_batch(f, &in, r3, NULL), MS_OK);
    ms_fitter_free(f);
    for (size_t i = 0; i < 3; i++) {
        const size_t P = TM_D + 1;
        for (size_t a = 0; a < P; a++) {
            assert_close(r1[i].errors[a < TM_D ? a : 0], sqrt(r1[i].cov[a < TM_D ? a : 0][a < TM_D ? a : 0]), 1e-12, 0, "err");
            for (size_t c = 0; c < P; c++) {
                double k = (a < TM_D ? 2.0 : 1.0) * (c < TM_D ? 2.0 : 1.0);
                assert_close(r1[i].cov[a][c], r1[i].cov[c][a], 1e-12, 1e-300, "symmetric");
                assert_close(r2[i].cov[a][c], k * r1[i].cov[a][c], 1e-9, 1e-300, "outer product of the scales");
            }
        }
        assert_close(r1[i].rv_err, sqrt(r1[i].cov[TM_D][TM_D]), 1e-12, 0, "rv err");
        assert_close(r1[i].err_scale, 1.0, 0, 0, "no scaling");
        /* understated errors: reduced chi^2 ~ 4, "chi2" scaling doubles the errors */
        assert_close(r3[i].chi2_red, 4.0, 0.1, 0, "chi2_red");
        assert_close(r3[i].err_scale, sqrt(r3[i].chi2_red), 1e-12, 0, "err_scale");
        for (size_t j = 0; j < TM_D; j++) assert_close(r3[i].errors[j], r1[i].errors[j] * r3[i].err_scale, 1e-9, 0, "scaled");
    }
    batch_free(&b);
    tm_model_free(&t);
}

/* Issue 17: the misfit beyond the noise and the model_mismatch bit (understated errors:
 * claimed sigma 0.025, true 0.05, so misfit = sqrt(0.05^2 - 0.025^2) = 0.0433), the default
 * inflation by sqrt(chi2_red) (x2 there, x1 for honest errors), and the model's own
 * variance (pix_var = the noise variance halves every weight: the same optimum, errors x
 * sqrt(2) exactly). */
static void test_misfit_and_model_variance(void **state)
{
    (void)state;
    tm_model t;
    ms_fit_model m;
    tm_model_make(&t, &m, 8, 91);
    ms_cfg_fit cfg = tm_cfg();
    cfg.batch_size = 4;
    cfg.native_dloglam = 0.0;
    cfg.mismatch_max = 0.03;
    assert_string_equal(cfg.error_scaling, "inflate"); /* the default (config_keys.c) */
    batch b, u;
    batch_alloc(&b, 3);
    batch_alloc(&u, 3);
    ms_nn_rng r;
    ms_nn_rng_seed(&r, 917);
    for (size_t i = 0; i < 3; i++) {
        tm_random_x(&r, 0.3, TM_D, b.x + i * TM_D);
        batch_observe(&b, i, &m, 400.0, 1, &r);
        memcpy(u.x + i * TM_D, b.x + i * TM_D, TM_D * sizeof(double));
        memcpy(u.flux + i * N_PIX, b.flux + i * N_PIX, N_PIX * sizeof(float));
        for (size_t p = 0; p < N_PIX; p++) u.ivar[i * N_PIX + p] = 4.0f * b.ivar[i * N_PIX + p];
    }
    ms_fit_input in = batch_input(&b), inu = batch_input(&u);
    ms_fit_result honest[3], under[3], none[3], withvar[3];
    ms_fitter *f;
    assert_int_equal(ms_fitter_alloc(&cfg, &m, &f), MS_OK);
    assert_int_equal(ms_fit_batch(f, &in, honest, NULL), MS_OK);
    assert_int_equal(ms_fit_batch(f, &inu, under, NULL), MS_OK);
    ms_fitter_free(f);
    snprintf(cfg.error_scaling, sizeof cfg.error_scaling, "none");
    assert_int_equal(ms_fitter_alloc(&cfg, &m, &f), MS_OK);
    assert_int_equal(ms_fit_batch(f, &in, none, NULL), MS_OK);
    ms_fitter_free(f);
    double *pv = ms_malloc_array("t.pv", N_PIX, sizeof *pv);
    assert_non_null(pv);
    for (size_t p = 0; p < N_PIX; p++) pv[p] = 1.0 / 400.0;
    ms_fit_model mv = m;
    mv.pix_var = pv;
    assert_int_equal(ms_fitter_alloc(&cfg, &mv, &f), MS_OK);
    assert_int_equal(ms_fit_batch(f, &in, withvar, NULL), MS_OK);
    ms_fitter_free(f);
    for (size_t i = 0; i < 3; i++) {
        printf("row %zu: misfit honest %.4f understated %.4f; err_scale %.3f %.3f; chi2_red "
               "with pix_var %.3f\n", i, honest[i].misfit, under[i].misfit, honest[i].err_scale,
               under[i].err_scale, withvar[i].chi2_red);
        assert_true(honest[i].misfit < 0.012);
        assert_false(honest[i].flags & MS_FIT_MODEL_MISMATCH);
        assert_close(under[i].misfit, sqrt(1.0 / 400 - 1.0 / 1600), 0.1, 0, "misfit");
        assert_true(under[i].flags & MS_FIT_MODEL_MISMATCH);
        assert_close(honest[i].err_scale, 1.0, 0.06, 0, "inflate: honest errors ~unchanged");
        assert_true(honest[i].err_scale >= 1.0);
        assert_close(under[i].err_scale, 2.0, 0.1, 0, "inflate: understated errors doubled");
        assert_close(withvar[i].chi2_red, 0.5 * none[i].chi2_red, 0.02, 0, "weights halved");
        for (size_t j = 0; j < TM_D; j++) {
            assert_close(withvar[i].labels[j], none[i].labels[j], 0, 0.02 * none[i].errors[j],
                         "same optimum");
            assert_close(withvar[i].errors[j], sqrt(2.0) * none[i].errors[j], 0.02, 0,
                         "errors x sqrt(2)");
        }
    }
    ms_free(pv);
    batch_free(&b);
    batch_free(&u);
    tm_model_free(&t);
}

static void test_config_and_flags(void **state)
{
    (void)state;
    tm_model t;
    ms_fit_model m;
    tm_model_make(&t, &m, 8, 81);
    ms_fitter *f = NULL;
    ms_cfg_fit cfg = tm_cfg();
    cfg.presearch_points = 16;
    cfg.batch_size = 8;
    snprintf(cfg.gradient, sizeof cfg.gradient, "forward");
    assert_int_equal(ms_fitter_alloc(&cfg, &m, &f), MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "fit.gradient"));
    cfg = tm_cfg();
    cfg.batch_size = 8;
    snprintf(cfg.error_scaling, sizeof cfg.error_scaling, "always");
    assert_int_equal(ms_fitter_alloc(&cfg, &m, &f), MS_EINVAL);
    cfg = tm_cfg();
    cfg.batch_size = 64; /* the model takes 8 */
    assert_int_equal(ms_fitter_alloc(&cfg, &m, &f), MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "batch"));
    cfg = tm_cfg();
    cfg.batch_size = 8;
    snprintf(cfg.gradient, sizeof cfg.gradient, "vjp");
    ms_fit_model nv = m;
    nv.vjp = NULL;
    assert_int_equal(ms_fitter_alloc(&cfg, &nv, &f), MS_EINVAL);
    snprintf(cfg.gradient, sizeof cfg.gradient, "auto");
    cfg.presearch_points = 16;
    assert_int_equal(ms_fitter_alloc(&cfg, &nv, &f), MS_OK); /* falls back to the Jacobian */
    assert_int_equal(ms_fitter_bank_size(f), 16);
    const double *pts = ms_fitter_bank_points(f);
    for (size_t k = 0; k < 16 * TM_D; k++) assert_true(pts[k] >= -0.5 && pts[k] < 0.5);
    for (size_t j = 0; j < TM_D; j++) assert_true(pts[j] == 0.0); /* the centre first */
    ms_fitter_free(f);
    ms_fit_model bad = m;
    bad.phys_max[1] = bad.phys_min[1];
    assert_int_equal(ms_fitter_alloc(&cfg, &bad, &f), MS_EINVAL);
    /* NULL arguments and an empty batch */
    assert_int_equal(ms_fitter_alloc(&cfg, &m, &f), MS_OK);
    ms_fit_input in;
    memset(&in, 0, sizeof in);
    ms_fit_result res;
    assert_int_equal(ms_fit_batch(f, &in, &res, NULL), MS_OK);
    in.n = 1;
    assert_int_equal(ms_fit_batch(f, &in, &res, NULL), MS_EINVAL);
    ms_fitter_free(f);
    ms_fitter_free(NULL);
    /* flag names */
    char buf[256];
    assert_string_equal(ms_fit_flag_name(MS_FIT_AT_BOUND), "at_bound");
    assert_null(ms_fit_flag_name(3u));
    assert_string_equal(ms_fit_flags_format(0, buf, sizeof buf), "");
    assert_string_equal(ms_fit_flags_format(MS_FIT_NOT_CONVERGED | MS_FIT_RV_EDGE, buf, sizeof buf), "not_converged|rv_edge");
    for (uint32_t k = 0; k < MS_FIT_N_FLAGS; k++) assert_non_null(ms_fit_flag_name(1u << k));
    assert_string_equal(ms_fit_flags_format(MS_FIT_FEW_PIXELS, buf, 4), "");
    tm_model_free(&t);
}

/* Three groups (separate meson tests, each well under 20 s with sanitizers):
 * recovery, errors, batch. No argument: all. */
int main(int argc, char **argv)
{
    const struct CMUnitTest recovery[] = {
        cmocka_unit_test(test_shift),
        cmocka_unit_test(test_noiseless_recovery),
        cmocka_unit_test(test_payne_model),
        cmocka_unit_test(test_payne_noiseless),
    };
    const struct CMUnitTest errors[] = {
        cmocka_unit_test(test_pulls_white),
        cmocka_unit_test(test_pulls_resampled),
        cmocka_unit_test(test_covariance_units),
        cmocka_unit_test(test_misfit_and_model_variance),
    };
    const struct CMUnitTest batching[] = {
        cmocka_unit_test(test_batch_independence),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_given_start_per_spectrum),
        cmocka_unit_test(test_fixed_velocity),
        cmocka_unit_test(test_config_and_flags),
    };
    const char *g = argc > 1 ? argv[1] : "all";
    int fails = 0, any = 0;
    if (!strcmp(g, "recovery") || !strcmp(g, "all")) {
        fails += cmocka_run_group_tests_name("recovery", recovery, NULL, NULL);
        any = 1;
    }
    if (!strcmp(g, "errors") || !strcmp(g, "all")) {
        fails += cmocka_run_group_tests_name("errors", errors, NULL, NULL);
        any = 1;
    }
    if (!strcmp(g, "batch") || !strcmp(g, "all")) {
        fails += cmocka_run_group_tests_name("batch", batching, NULL, NULL);
        any = 1;
    }
    if (!any) {
        fprintf(stderr, "test_fit: unknown group '%s' (recovery, errors, batch)\n", g);
        return 2;
    }
    return fails;
}
