/* test_cnn.c: the L25 CNN module (cnn.h).
 *   - forward and parameter gradients against PyTorch (tests/fixtures/nn/cnn.txt, made by
 *     tests/reference/make_nn_fixtures.py from nn.Conv1d/ReLU/MaxPool1d/Linear + autograd);
 *   - the whole network's parameter gradients against central finite differences in double;
 *   - the L25 view of a linear spectrum with dropped pixels (analytic: a z-scored ramp);
 *   - the ensemble's mean and standard deviation against the individual models;
 *   - parameter_flag (Eq. 3-4, Table 10) on a planted error outlier and out-of-range rows;
 *   - training: a learnable toy problem improves; a run stopped by its time limit and resumed
 *     from the checkpoint equals an uninterrupted one bit for bit; the model file round trip
 *     keeps the predictions and its content hash refuses an edited file;
 *   - the L25 input from native pixels: a line at a known rest wavelength lands on its rest
 *     pixel with the right velocity (and 3 pixels off with none), ormask pixels are dropped;
 *     the choice of the velocity (rv catalog, pipeline, none);
 *   - the error model: (s, floor) recovered from residuals drawn with known ones, pulls of
 *     unit robust std; the calibration of a trained toy ensemble survives the model file. */
#include "nn_testlib.h"

#include "mstars/cnn.h"
#include "mstars/h5.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/native.h"
#include "mstars/spec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ms_cnn_arch tiny_arch(size_t n_in, size_t n_out)
{
    ms_cnn_arch a = {n_in, {2, 3, 4, 3}, {5, 3, 3, 3}, {2, 2, 2, 2}, n_out};
    return a;
}

/* ------------------------------------------------------------------ PyTorch */
static void test_torch(void **state)
{
    (void)state;
    nn_fx *fx = nn_fx_load("cnn");
    ms_cnn_arch a = tiny_arch(64, 3);
    ms_cnn net;
    assert_int_equal(ms_cnn_init(&net, &a), MS_OK);
    static const char *names[] = {"0.weight", "0.bias", "3.weight", "3.bias", "6.weight",
                                  "6.bias",   "9.weight", "9.bias", "fc.weight", "fc.bias"};
    size_t idx[10];
    for (int i = 0; i < 4; i++) {
        idx[2 * i] = net.iw[i];
        idx[2 * i + 1] = net.ib[i];
    }
    idx[8] = net.iw[4];
    idx[9] = net.ib[4];
    for (int k = 0; k < 10; k++) {
        char nm[32];
        snprintf(nm, sizeof nm, "p.%s", names[k]);
        const ms_nn_tensor *t = &net.params.t[idx[k]];
        float *v = nn_fx_floats(fx, nm, t->size);
        memcpy(ms_nn_param(&net.params, idx[k]), v, t->size * sizeof(float));
        ms_free(v);
    }
    const size_t B = 2;
    float *x = nn_fx_floats(fx, "x", B * 64), *target = nn_fx_floats(fx, "target", B * 3);
    float y[6], dy[6];
    ms_cnn_ws *ws;
    assert_int_equal(ms_cnn_ws_alloc(&a, B, &ws), MS_OK);
    assert_int_equal(ms_cnn_forward(&net, ws, x, B, y), MS_OK);
    nn_check(y, nn_fx_get(fx, "out", 6)->v, 6, 1e-5, "cnn out");
    double loss = ms_nn_l2_loss_forward(y, target, NULL, 6, 1.0 / 6.0);
    assert_close(loss, nn_fx_get(fx, "loss", 1)->v[0], 1e-5, 0, "cnn loss");
    memset(dy, 0, sizeof dy);
    ms_nn_l2_loss_backward(dy, y, target, NULL, 6, 1.0 / 6.0);
    ms_nn_params_zero_grad(&net.params);
    assert_int_equal(ms_cnn_backward(&net, ws, dy, B, net.params.grad), MS_OK);
    for (int k = 0; k < 10; k++) {
        char nm[32];
        snprintf(nm, sizeof nm, "g.%s", names[k]);
        const ms_nn_tensor *t = &net.params.t[idx[k]];
        nn_check(ms_nn_grad(&net.params, idx[k]), nn_fx_get(fx, nm, t->size)->v, t->size, 1e-4, nm);
    }
    ms_cnn_ws_free(ws);
    ms_cnn_free(&net);
    ms_free(x);
    ms_free(target);
    nn_fx_free(fx);
}

/* ------------------------------------------------------------------ finite differences */
static double loss_r(const ms_cnn *net, ms_cnn_ws *ws, const float *x, size_t B, const float *r,
                     float *y)
{
    ms_cnn_forward(net, ws, x, B, y);
    double s = 0.0;
    for (size_t i = 0; i < B * net->arch.n_out; i++) s += (double)y[i] * r[i];
    return s;
}

static void test_finite_differences(void **state)
{
    (void)state;
    ms_cnn_arch a = tiny_arch(48, 2);
    ms_cnn net;
    assert_int_equal(ms_cnn_init(&net, &a), MS_OK);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 7);
    ms_cnn_init_weights(&net, &rng);
    const size_t B = 3, n = net.params.n;
    float x[3 * 48], r[6], y[6];
    nn_fill(x, B * 48, -2, 2, &rng);
    nn_fill(r, B * 2, -1, 1, &rng);
    ms_cnn_ws *ws;
    assert_int_equal(ms_cnn_ws_alloc(&a, B, &ws), MS_OK);
    loss_r(&net, ws, x, B, r, y);
    float *g = nn_zeros(n), *g2 = nn_zeros(n);
    assert_int_equal(ms_cnn_backward(&net, ws, r, B, g), MS_OK);
    /* backward accumulates */
    assert_int_equal(ms_cnn_backward(&net, ws, r, B, g2), MS_OK);
    assert_int_equal(ms_cnn_backward(&net, ws, r, B, g2), MS_OK);
    for (size_t i = 0; i < n; i++) assert_close(g2[i], 2.0 * g[i], 1e-6, 1e-12, "accumulate");
    /* central differences. With all other weights fixed the network is piecewise LINEAR in
     * one weight (conv, dense: affine; ReLU, max-pool: piecewise linear), so inside a piece
     * the difference is exact up to float rounding; when D(h) and D(h/2) disagree a kink
     * (ReLU sign or max-pool winner change) lies within h and the element is skipped. */
    size_t checked = 0, bad = 0, kinks = 0;
    for (size_t ti = 0; ti < net.params.n_tensors; ti++) {
        const ms_nn_tensor *t = &net.params.t[ti];
        float *p = ms_nn_param(&net.params, ti);
        double scale = 0.0;
        for (size_t i = 0; i < t->size; i++) scale = fmax(scale, fabs(g[t->offset + i]));
        for (size_t i = 0; i < t->size; i++) {
            const float keep = p[i];
            double fd[2];
            for (int k = 0; k < 2; k++) {
                const double h = k ? 2e-3 : 4e-3;
                p[i] = (float)(keep + h);
                double lp = loss_r(&net, ws, x, B, r, y);
                p[i] = (float)(keep - h);
                double lm = loss_r(&net, ws, x, B, r, y);
                p[i] = keep;
                fd[k] = (lp - lm) / ((double)(float)(keep + h) - (double)(float)(keep - h));
            }
            const double tol = 1e-3 * scale + 1e-3 * fabs(fd[1]);
            if (fabs(fd[0] - fd[1]) > tol) {
                kinks++;
                continue;
            }
            checked++;
            if (fabs(fd[1] - g[t->offset + i]) > tol) {
                bad++;
                printf("  %s[%zu]: analytic %.6g, finite difference %.6g\n", t->name, i,
                       g[t->offset + i], fd[1]);
            }
        }
    }
    printf("  %zu gradients checked, %zu off, %zu skipped at a kink\n", checked, bad, kinks);
    assert_true(kinks * 3 < checked);
    assert_int_equal(bad, 0);
    ms_free(g);
    ms_free(g2);
    ms_cnn_ws_free(ws);
    ms_cnn_free(&net);
}

/* ------------------------------------------------------------------ the view */
static void test_view(void **state)
{
    (void)state;
    /* input: 0.5 A grid 5990-8910 A, flux = 3 + 0.01 (w - 6000), bad pixels inside */
    const size_t np = 5841;
    double *w = malloc(np * sizeof *w);
    float *f = malloc(np * sizeof *f), *iv = malloc(np * sizeof *iv);
    for (size_t i = 0; i < np; i++) {
        w[i] = 5990.0 + 0.5 * (double)i;
        f[i] = (float)(3.0 + 0.01 * (w[i] - 6000.0));
        iv[i] = 1.0f;
    }
    for (size_t i = 1000; i < 1040; i++) { /* a masked stretch: garbage flux, ivar 0 */
        iv[i] = 0.0f;
        f[i] = 1e6f;
    }
    f[3000] = NAN;
    ms_cnn_view_spec v = {6000.0, 1.0, 2900};
    float *out = malloc(v.n * sizeof *out);
    assert_int_equal(ms_cnn_view(&v, w, f, iv, np, 0.8, out), MS_OK);
    /* a linear ramp z-scored: (j - mean j) / std j */
    const double m = (double)(v.n - 1) / 2.0, sd = sqrt(((double)v.n * v.n - 1.0) / 12.0);
    for (size_t j = 0; j < v.n; j++) assert_close(out[j], ((double)j - m) / sd, 0, 2e-4, "view ramp");
    /* a flat spectrum, or one without good pixels, is refused */
    for (size_t i = 0; i < np; i++) f[i] = 2.0f;
    assert_int_equal(ms_cnn_view(&v, w, f, iv, np, 0.8, out), MS_EFORMAT);
    for (size_t i = 0; i < np; i++) iv[i] = 0.0f;
    assert_int_equal(ms_cnn_view(&v, w, f, iv, np, 0.8, out), MS_EFORMAT);
    free(w);
    free(f);
    free(iv);
    free(out);
}

/* ------------------------------------------------------------------ the L25 input */
/* A native spectrum (observed frame, velocity v) of a ramp with a Gaussian line at rest 6000 A. */
static double rest_flux(double w)
{
    return 3.0 + 0.0005 * (w - 3900.0) - 1.5 * exp(-0.5 * (w - 6000.0) * (w - 6000.0) / 9.0);
}

static void test_native_view(void **state)
{
    (void)state;
    const size_t np = MS_NATIVE_NPIX;
    double *ll = malloc(np * sizeof *ll);
    float *f = malloc(np * sizeof *f), *iv = malloc(np * sizeof *iv);
    uint8_t *mk = malloc(np);
    const double v = 150.0, dop = ms_spec_doppler(v);
    for (size_t k = 0; k < np; k++) {
        ll[k] = ms_native_loglam(k);
        f[k] = (float)rest_flux(pow(10.0, ll[k]) / dop);
        iv[k] = 1.0f;
        mk[k] = 0;
    }
    for (size_t k = 2000; k < 2010; k++) { /* ormask pixels with garbage flux (ivar still > 0) */
        mk[k] = MS_NATIVE_ORMASK;
        f[k] = 1e5f;
    }
    const ms_cnn_view_spec l25 = ms_cnn_view_l25();
    assert_int_equal(l25.n, 5000);
    assert_true(l25.lo == 3900.0 && l25.step == 1.0);
    float *out = malloc(l25.n * sizeof *out), *out0 = malloc(l25.n * sizeof *out0);
    assert_int_equal(ms_cnn_native_view(&l25, ll, f, iv, mk, np, v, out), MS_OK);
    size_t jmin = 0;
    double mx = -1e30, s = 0.0, ss = 0.0;
    for (size_t j = 0; j < l25.n; j++) {
        if (out[j] < out[jmin]) jmin = j;
        mx = fmax(mx, out[j]);
        s += out[j];
        ss += (double)out[j] * out[j];
    }
    assert_int_equal(jmin, 2100); /* 6000 A in the rest frame */
    assert_true(mx < 5.0);        /* the garbage pixels were dropped */
    assert_close(s / 5000.0, 0.0, 0, 1e-5, "z-scored mean");
    assert_close(sqrt(ss / 5000.0), 1.0, 0, 1e-4, "z-scored std");
    /* the same pixels read at rest: the line 3 A redder (6000 x D(150 km/s) = 6003.0 A) */
    assert_int_equal(ms_cnn_native_view(&l25, ll, f, iv, mk, np, 0.0, out0), MS_OK);
    size_t j0 = 0;
    for (size_t j = 0; j < l25.n; j++)
        if (out0[j] < out0[j0]) j0 = j;
    assert_int_equal(j0, 2103);
    /* no velocity, or no good pixel: no input */
    assert_int_equal(ms_cnn_native_view(&l25, ll, f, iv, mk, np, NAN, out), MS_EINVAL);
    ms_error_clear();
    memset(mk, MS_NATIVE_ORMASK, np);
    assert_int_equal(ms_cnn_native_view(&l25, ll, f, iv, mk, np, v, out), MS_EFORMAT);
    ms_error_clear();
    /* the chosen velocity */
    double rv;
    assert_int_equal(ms_cnn_choose_rv(12.5, 1, 1e-4, &rv), MS_CNN_RV_CATALOG);
    assert_true(rv == 12.5);
    assert_int_equal(ms_cnn_choose_rv(12.5, 0, 1e-4, &rv), MS_CNN_RV_PIPELINE);
    assert_close(rv, 1e-4 * MS_C_KMS, 1e-12, 0, "z c");
    assert_int_equal(ms_cnn_choose_rv(NAN, 1, 1e-4, &rv), MS_CNN_RV_PIPELINE);
    assert_int_equal(ms_cnn_choose_rv(NAN, 0, -9999.0, &rv), MS_CNN_RV_NONE);
    assert_true(isnan(rv));
    free(ll);
    free(f);
    free(iv);
    free(mk);
    free(out);
    free(out0);
}

/* ------------------------------------------------------------------ the error model */
static double rstd(double *x, size_t n)
{
    double *t = malloc(n * sizeof *t);
    for (size_t i = 0; i < n; i++) t[i] = x[i];
    for (size_t i = 1; i < n; i++) /* insertion sort: small n */
        for (size_t j = i; j > 0 && t[j - 1] > t[j]; j--) {
            double q = t[j];
            t[j] = t[j - 1];
            t[j - 1] = q;
        }
    const double med = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    for (size_t i = 0; i < n; i++) t[i] = fabs(x[i] - med);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && t[j - 1] > t[j]; j--) {
            double q = t[j];
            t[j] = t[j - 1];
            t[j - 1] = q;
        }
    const double mad = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    free(t);
    return 1.4826 * mad;
}

static void test_error_model(void **state)
{
    (void)state;
    const size_t n = 3000;
    double *r = malloc(n * sizeof *r), *sd = malloc(n * sizeof *sd), *p = malloc(n * sizeof *p);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 5);
    const double s_true = 2.5, f_true = 1.5;
    for (size_t i = 0; i < n; i++) {
        sd[i] = 0.2 + 2.8 * ms_nn_rng_uniform(&rng);
        r[i] = sqrt(s_true * s_true * sd[i] * sd[i] + f_true * f_true) * ms_nn_rng_normal(&rng);
    }
    double s, fl;
    assert_int_equal(ms_cnn_fit_error_model(r, sd, n, &s, &fl), MS_OK);
    printf("  error model: scale %.3f (true %.1f), floor %.3f (true %.1f)\n", s, s_true, fl, f_true);
    assert_close(s, s_true, 0, 0.08, "scale");
    assert_close(fl, f_true, 0, 0.25, "floor");
    for (size_t i = 0; i < n; i++) p[i] = r[i] / sqrt(s * s * sd[i] * sd[i] + fl * fl);
    assert_close(rstd(p, n), 1.0, 1e-9, 0, "unit robust pulls");
    /* errors without a relation to the spread: the floor alone */
    for (size_t i = 0; i < n; i++) r[i] = 0.7 * ms_nn_rng_normal(&rng);
    assert_int_equal(ms_cnn_fit_error_model(r, sd, n, &s, &fl), MS_OK);
    assert_true(s < 0.1);
    assert_close(fl, 0.7, 0, 0.1, "floor alone");
    /* few residuals (one bin): the scale alone */
    for (size_t i = 0; i < 20; i++) r[i] = 3.0 * sd[i] * ms_nn_rng_normal(&rng);
    assert_int_equal(ms_cnn_fit_error_model(r, sd, 20, &s, &fl), MS_OK);
    assert_true(fl == 0.0 && s > 1.0 && s < 6.0);
    assert_int_equal(ms_cnn_fit_error_model(r, sd, 2, &s, &fl), MS_EINVAL);
    ms_error_clear();
    free(r);
    free(sd);
    free(p);
}

/* ------------------------------------------------------------------ ensemble */
static void make_ensemble(ms_cnn_ensemble *e, size_t K, size_t n_in)
{
    ms_cnn_ensemble_init(e);
    ms_cnn_arch a = tiny_arch(n_in, 2);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 11);
    for (size_t k = 0; k < K; k++) {
        assert_int_equal(ms_cnn_init(&e->net[k], &a), MS_OK);
        ms_cnn_init_weights(&e->net[k], &rng);
    }
    e->n_models = K;
    e->n_labels = 2;
    strcpy(e->labels[0], "teff");
    strcpy(e->labels[1], "m_h");
    e->y_mean[0] = 3500.0;
    e->y_std[0] = 200.0;
    e->y_mean[1] = -0.2;
    e->y_std[1] = 0.3;
    e->view = (ms_cnn_view_spec){6000.0, 1.0, n_in};
    strcpy(e->view_source, "test");
    strcpy(e->cls, "dM");
}

static void test_ensemble(void **state)
{
    (void)state;
    ms_cnn_ensemble e;
    make_ensemble(&e, 4, 48);
    const size_t B = 5;
    float x[5 * 48], scratch[4 * 5 * 2], y[4][10];
    double mean[10], sd[10];
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 3);
    nn_fill(x, B * 48, -2, 2, &rng);
    ms_cnn_ws *ws;
    assert_int_equal(ms_cnn_ws_alloc(&e.net[0].arch, B, &ws), MS_OK);
    for (size_t k = 0; k < 4; k++) assert_int_equal(ms_cnn_forward(&e.net[k], ws, x, B, y[k]), MS_OK);
    assert_int_equal(ms_cnn_ensemble_predict(&e, ws, x, B, scratch, mean, sd), MS_OK);
    for (size_t i = 0; i < B * 2; i++) {
        double m = 0, ss = 0;
        for (int k = 0; k < 4; k++) m += y[k][i] / 4.0;
        for (int k = 0; k < 4; k++) ss += (y[k][i] - m) * (y[k][i] - m);
        const size_t j = i % 2;
        assert_close(mean[i], e.y_mean[j] + e.y_std[j] * m, 1e-12, 1e-9, "ensemble mean");
        assert_close(sd[i], e.y_std[j] * sqrt(ss / 3.0), 1e-6, 1e-9, "ensemble std");
    }
    /* a row's prediction does not depend on its batch */
    double m1[2], s1[2];
    assert_int_equal(ms_cnn_ensemble_predict(&e, ws, x + 3 * 48, 1, scratch, m1, s1), MS_OK);
    assert_true(m1[0] == mean[6] && m1[1] == mean[7] && s1[0] == sd[6]);
    ms_cnn_ws_free(ws);
    ms_cnn_ensemble_free(&e);
}

/* ------------------------------------------------------------------ parameter_flag */
static void test_parameter_flag(void **state)
{
    (void)state;
    const size_t n = 400;
    double *v = malloc(n * 4 * sizeof *v), *e = malloc(n * 4 * sizeof *e), *snr = malloc(n * sizeof *snr);
    int32_t *flag = malloc(n * sizeof *flag);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 5);
    for (size_t i = 0; i < n; i++) {
        snr[i] = 5.0 + 150.0 * ms_nn_rng_uniform(&rng);
        v[i * 4 + 0] = 3300 + 700 * ms_nn_rng_uniform(&rng);
        v[i * 4 + 1] = 4.5 + 0.8 * ms_nn_rng_uniform(&rng);
        v[i * 4 + 2] = -0.7 + 0.9 * ms_nn_rng_uniform(&rng);
        v[i * 4 + 3] = NAN; /* a model without [alpha/M] */
        /* errors: a linear model of S/N and labels plus small scatter (Eq. 3 holds) */
        for (int p = 0; p < 3; p++)
            e[i * 4 + p] = (p == 0 ? 40.0 : 0.05) * (1.0 + 20.0 / snr[i] + 0.1 * v[i * 4 + 2]) *
                           (1.0 + 0.02 * ms_nn_rng_normal(&rng));
        e[i * 4 + 3] = NAN;
    }
    e[7 * 4 + 0] *= 3.0;     /* an error outlier */
    v[9 * 4 + 1] = 5.6;      /* log g out of Table 10 (dM: 4.35-5.45) */
    snr[11] = 0.0;           /* S/N_i <= 0 */
    v[13 * 4 + 2] = NAN;     /* not predicted */
    assert_int_equal(ms_cnn_parameter_flag("dM", n, v, e, snr, flag), MS_OK);
    assert_int_equal(flag[7], 0);
    assert_int_equal(flag[9], 0);
    assert_int_equal(flag[11], 0);
    assert_int_equal(flag[13], 0);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) kept += (size_t)flag[i];
    printf("  %zu of %zu rows flagged 1\n", kept, n);
    assert_true(kept >= n - 12 && kept <= n - 4);
    /* the same rows as giants: the log g range [-0.05, 1.55] rejects every one */
    assert_int_equal(ms_cnn_parameter_flag("gM", n, v, e, snr, flag), MS_OK);
    for (size_t i = 0; i < n; i++) assert_int_equal(flag[i], 0);
    assert_int_equal(ms_cnn_parameter_flag("sdM", n, v, e, snr, flag), MS_EINVAL);
    free(v);
    free(e);
    free(snr);
    free(flag);
}

/* ------------------------------------------------------------------ training */
/* Toy spectra: a Gaussian absorption line whose depth is the label (plus noise). */
static void toy_set(size_t n, size_t L, float *x, double *y, ms_nn_rng *rng)
{
    for (size_t i = 0; i < n; i++) {
        const double depth = ms_nn_rng_uniform(rng);
        y[i] = 3000.0 + 1000.0 * depth;
        double s = 0, ss = 0;
        for (size_t j = 0; j < L; j++) {
            const double u = ((double)j - (double)L / 2) / 6.0;
            x[i * L + j] = (float)(1.0 - depth * exp(-0.5 * u * u) + 0.01 * ms_nn_rng_normal(rng));
            s += x[i * L + j];
        }
        for (size_t j = 0; j < L; j++) ss += (x[i * L + j] - s / L) * (x[i * L + j] - s / L);
        for (size_t j = 0; j < L; j++) x[i * L + j] = (float)((x[i * L + j] - s / L) / sqrt(ss / L));
    }
}

static void train_toy(ms_cnn_ensemble *e, const ms_cnn_data *d, const char *ckpt, double max_s,
                      int resume, size_t epochs, ms_status want)
{
    ms_cnn_ensemble_init(e);
    strcpy(e->labels[0], "teff");
    e->n_labels = 1;
    e->view = (ms_cnn_view_spec){6000.0, 1.0, d->n_in};
    strcpy(e->view_source, "toy");
    strcpy(e->cls, "dM");
    ms_cnn_train_opts o;
    ms_cnn_train_opts_default(&o);
    o.folds = 3;
    o.batch = 16;
    o.shard = 4;
    o.max_epochs = epochs;
    o.lr = 3e-3;
    o.quiet = 1;
    o.checkpoint = ckpt;
    o.resume = resume;
    o.max_seconds = max_s;
    assert_int_equal(ms_cnn_train(d, &o, e), want);
}

static void test_train_resume_file(void **state)
{
    (void)state;
    const size_t n = 60, L = 256;
    float *x = malloc(n * L * sizeof *x);
    double *y = malloc(n * sizeof *y);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 9);
    toy_set(n, L, x, y, &rng);
    ms_cnn_data d = {x, y, NULL, n, L, 1};
    ms_cnn_ensemble a, b;
    train_toy(&a, &d, NULL, 0, 0, 25, MS_OK);
    /* it learns: the out-of-fold error is well below the label spread (289 K) */
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (a.oof[i] - y[i]) * (a.oof[i] - y[i]);
    printf("  toy out-of-fold rms %.1f K (label std %.1f K)\n", sqrt(ss / n), a.y_std[0]);
    assert_true(sqrt(ss / n) < 0.6 * a.y_std[0]);
    /* interrupted after every epoch (time limit 1 ns), resumed until done: same bits */
    char ckpt[512];
    snprintf(ckpt, sizeof ckpt, "%s/cnn.ckpt", ms_test_tmpdir());
    remove(ckpt);
    int stops = 0;
    for (;;) {
        ms_cnn_train_opts o;
        ms_cnn_ensemble c;
        ms_cnn_ensemble_init(&c);
        strcpy(c.labels[0], "teff");
        c.n_labels = 1;
        c.view = (ms_cnn_view_spec){6000.0, 1.0, L};
        strcpy(c.cls, "dM");
        ms_cnn_train_opts_default(&o);
        o.folds = 3;
        o.batch = 16;
        o.shard = 4;
        o.max_epochs = 25;
        o.lr = 3e-3;
        o.quiet = 1;
        o.checkpoint = ckpt;
        o.resume = 1;
        o.max_seconds = 1e-9; /* one epoch per call */
        ms_status st = ms_cnn_train(&d, &o, &c);
        if (st == MS_OK) {
            b = c;
            break;
        }
        assert_int_equal(st, MS_EINTERRUPTED);
        ms_error_clear();
        ms_cnn_ensemble_free(&c);
        stops++;
        assert_true(stops < 200);
    }
    printf("  %d interruptions\n", stops);
    assert_true(stops > 3);
    assert_int_equal(a.n_models, b.n_models);
    for (size_t k = 0; k < a.n_models; k++) {
        assert_memory_equal(a.net[k].params.param, b.net[k].params.param, a.net[k].params.n * sizeof(float));
        assert_int_equal(a.best_epoch[k], b.best_epoch[k]);
    }
    assert_memory_equal(a.oof, b.oof, n * sizeof(float));
    /* the error calibration: spreads of the models that trained on each spectrum, and the model */
    assert_int_equal(ms_cnn_calibrate(&a, &d), MS_OK);
    assert_true(a.calibrated && a.err_scale[0] >= 0.0 && a.err_floor[0] >= 0.0);
    assert_true(a.err_scale[0] > 0.0 || a.err_floor[0] > 0.0);
    for (size_t i = 0; i < n; i++) assert_true(isfinite(a.oof_std[i]) && a.oof_std[i] >= 0.0f);
    printf("  toy calibration: scale %.3g, floor %.3g K (raw pulls robust std %.2f)\n",
           a.err_scale[0], a.err_floor[0], a.calib_pull_rstd[0]);
    {
        double p[60];
        for (size_t i = 0; i < n; i++)
            p[i] = (a.oof[i] - y[i]) / ms_cnn_calibrated_error(&a, 0, a.oof_std[i]);
        assert_close(rstd(p, n), 1.0, 1e-6, 0, "calibrated toy pulls");
    }
    strcpy(a.input_velocity, MS_CNN_VEL_PIPELINE);
    /* the model file keeps everything; an edited one is refused */
    char path[512];
    snprintf(path, sizeof path, "%s/cnn.h5", ms_test_tmpdir());
    assert_int_equal(ms_cnn_ensemble_write(&a, path, NULL, "test"), MS_OK);
    ms_cnn_ensemble r;
    assert_int_equal(ms_cnn_ensemble_read(path, &r), MS_OK);
    assert_int_equal(r.n_models, 3);
    assert_string_equal(r.cls, "dM");
    for (size_t k = 0; k < 3; k++)
        assert_memory_equal(a.net[k].params.param, r.net[k].params.param, a.net[k].params.n * sizeof(float));
    assert_memory_equal(a.oof, r.oof, n * sizeof(float));
    assert_true(r.calibrated && r.err_scale[0] == a.err_scale[0] && r.err_floor[0] == a.err_floor[0]);
    assert_memory_equal(a.oof_std, r.oof_std, n * sizeof(float));
    assert_string_equal(r.input_velocity, MS_CNN_VEL_PIPELINE);
    assert_true(ms_cnn_calibrated_error(&r, 0, 2.0) ==
                sqrt(4.0 * a.err_scale[0] * a.err_scale[0] + a.err_floor[0] * a.err_floor[0]));
    ms_cnn_ensemble_free(&r);
    {
        /* a file whose weights differ from those its hash was computed over */
        ms_h5 *f;
        ms_cnn_ensemble m = a;
        float keep = m.net[1].params.param[0];
        m.net[1].params.param[0] = keep + 1.0f;
        assert_int_equal(ms_cnn_ensemble_write(&m, path, NULL, "test"), MS_OK);
        m.net[1].params.param[0] = keep;
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)ms_cnn_ensemble_hash(&m));
        assert_int_equal(ms_h5_open_update(path, 0, &f), MS_OK);
        assert_int_equal(ms_h5_attr_set_str(f, "/", "content_hash", hex), MS_OK);
        assert_int_equal(ms_h5_commit(f), MS_OK);
        assert_int_equal(ms_cnn_ensemble_read(path, &r), MS_EFORMAT);
        ms_error_clear();
    }
    ms_cnn_ensemble_free(&a);
    ms_cnn_ensemble_free(&b);
    free(x);
    free(y);
}

int main(void)
{
    ms_log_set_level(MS_LOG_ERROR); /* the resume loop's stop and resume lines */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torch),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_view),
        cmocka_unit_test(test_native_view),
        cmocka_unit_test(test_error_model),
        cmocka_unit_test(test_ensemble),
        cmocka_unit_test(test_parameter_flag),
        cmocka_unit_test(test_train_resume_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
