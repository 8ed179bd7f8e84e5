/* fit_testlib.c: see fit_testlib.h. */
#include "fit_testlib.h"

#include "mstars/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const double TM_MIN[TM_D] = {2800.0, 4.5, -1.0, 0.0};
static const double TM_MAX[TM_D] = {4000.0, 5.5, 0.5, 0.4};
static const char *TM_NAMES[TM_D] = {"teff", "logg", "m_h", "alpha_m"};
#define TM_START 6000.0
#define TM_STEP 1.0

/* flux [n] and (J != NULL) J [D, n] at x [D] with gain g */
static void tm_flux(const tm_model *t, const double *x, double g, float *f, float *J)
{
    const size_t n = TM_NPIX;
    for (size_t p = 0; p < n; p++) f[p] = 1.0f;
    if (J) memset(J, 0, TM_D * n * sizeof(float));
    for (size_t k = 0; k < t->n_lines; k++) {
        double z = t->off[k];
        for (size_t j = 0; j < TM_D; j++) z += t->c[k][j] * x[j];
        double s = 1.0 / (1.0 + exp(-z)), d = t->amp[k] * s, dd = t->amp[k] * s * (1.0 - s);
        const double *pr = t->prof + k * t->max_len;
        for (size_t i = 0; i < t->len[k]; i++) {
            size_t p = t->p0[k] + i;
            f[p] -= (float)(g * d * pr[i]);
            if (J)
                for (size_t j = 0; j < TM_D; j++) J[j * n + p] -= (float)(g * dd * t->c[k][j] * pr[i]);
        }
    }
}

static ms_status tm_eval(void *ctx, size_t B, const size_t *ids, const double *x, float *flux,
                         float *jac)
{
    tm_model *t = ctx;
    const size_t n = TM_NPIX;
    if (B > t->max_batch) MS_ERROR(MS_EINVAL, "tm: batch %zu > %zu", B, t->max_batch);
    if (t->per_spectrum && !ids) MS_ERROR(MS_EINVAL, "tm: per-spectrum model called without ids");
    for (size_t b = 0; b < B; b++) {
        double g = 1.0;
        if (t->per_spectrum) {
            if (ids[b] >= t->n_gain) MS_ERROR(MS_EINVAL, "tm: id %zu >= %zu", ids[b], t->n_gain);
            g = t->gain[ids[b]];
        }
        float *J = jac ? jac + b * TM_D * n : t->jac + b * TM_D * n;
        tm_flux(t, x + b * TM_D, g, flux + b * n, J);
        if (ids && t->poison >= 0 && ids[b] == (size_t)t->poison)
            for (size_t p = 0; p < n; p++) flux[b * n + p] = NAN;
    }
    t->last_B = B;
    t->rows += B;
    return MS_OK;
}

static ms_status tm_vjp(void *ctx, size_t B, const float *v, double *gx)
{
    tm_model *t = ctx;
    const size_t n = TM_NPIX;
    if (B != t->last_B) MS_ERROR(MS_EINVAL, "tm: vjp of %zu rows after eval of %zu", B, t->last_B);
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < TM_D; j++) {
            const float *J = t->jac + (b * TM_D + j) * n;
            double s = 0.0;
            for (size_t p = 0; p < n; p++) s += (double)J[p] * (double)v[b * n + p];
            gx[b * TM_D + j] = s;
        }
    return MS_OK;
}

static ms_status tm_begin(void *ctx, size_t n, const float *flux, const float *ivar, size_t n_pix)
{
    tm_model *t = ctx;
    (void)flux;
    (void)ivar;
    if (n_pix != TM_NPIX) MS_ERROR(MS_EINVAL, "tm: begin with %zu pixels", n_pix);
    if (t->per_spectrum && n > t->n_gain) MS_ERROR(MS_EINVAL, "tm: %zu spectra, %zu gains", n, t->n_gain);
    t->begins++;
    return MS_OK;
}

void tm_model_make(tm_model *t, ms_fit_model *m, size_t max_batch, uint64_t seed)
{
    memset(t, 0, sizeof *t);
    ms_nn_rng r;
    ms_nn_rng_seed(&r, seed);
    t->n_lines = TM_NLINES;
    t->poison = -1;
    t->max_batch = max_batch;
    double lam[TM_NLINES], sig[TM_NLINES];
    for (size_t k = 0; k < TM_NLINES; k++) {
        int band = k < 12;
        lam[k] = 6010.0 + 2880.0 * ms_nn_rng_uniform(&r);
        sig[k] = band ? 10.0 + 20.0 * ms_nn_rng_uniform(&r) : 1.2 + 1.8 * ms_nn_rng_uniform(&r);
        t->amp[k] = band ? 0.05 + 0.15 * ms_nn_rng_uniform(&r) : 0.05 + 0.55 * ms_nn_rng_uniform(&r);
        t->off[k] = ms_nn_rng_normal(&r);
        for (size_t j = 0; j < TM_D; j++) t->c[k][j] = 1.5 * ms_nn_rng_normal(&r);
        size_t half = (size_t)ceil(5.0 * sig[k] / TM_STEP);
        if (2 * half + 3 > t->max_len) t->max_len = 2 * half + 3;
    }
    t->prof = ms_calloc("tm.prof", TM_NLINES * t->max_len, sizeof(double));
    t->jac = ms_malloc_array("tm.jac", max_batch * TM_D * TM_NPIX, sizeof(float));
    assert_non_null(t->prof);
    assert_non_null(t->jac);
    for (size_t k = 0; k < TM_NLINES; k++) {
        double c = (lam[k] - TM_START) / TM_STEP, h = ceil(5.0 * sig[k] / TM_STEP);
        long a = (long)floor(c - h), b = (long)ceil(c + h);
        if (a < 0) a = 0;
        if (b > TM_NPIX - 1) b = TM_NPIX - 1;
        t->p0[k] = (size_t)a;
        t->len[k] = (size_t)(b - a + 1);
        assert_true(t->len[k] <= t->max_len);
        for (size_t i = 0; i < t->len[k]; i++) {
            double d = (TM_START + (double)(t->p0[k] + i) * TM_STEP - lam[k]) / sig[k];
            t->prof[k * t->max_len + i] = exp(-0.5 * d * d);
        }
    }
    memset(m, 0, sizeof *m);
    m->n_labels = TM_D;
    m->n_pix = TM_NPIX;
    m->max_batch = max_batch;
    m->wave_start = TM_START;
    m->wave_step = TM_STEP;
    for (size_t j = 0; j < TM_D; j++) {
        m->phys_min[j] = TM_MIN[j];
        m->phys_max[j] = TM_MAX[j];
        snprintf(m->names[j], MS_FIT_NAME_LEN, "%s", TM_NAMES[j]);
    }
    m->ctx = t;
    m->begin = tm_begin;
    m->eval = tm_eval;
    m->vjp = tm_vjp;
}

void tm_model_free(tm_model *t)
{
    ms_free(t->prof);
    ms_free(t->jac);
    memset(t, 0, sizeof *t);
}

void tm_observe(const ms_fit_model *m, const double *x, double dv, float *flux)
{
    float *base = ms_malloc_array("tm.base", m->n_pix, sizeof(float));
    float *jac = ms_malloc_array("tm.basejac", m->n_labels * m->n_pix, sizeof(float));
    double *out = ms_malloc_array("tm.out", m->n_pix, sizeof(double));
    assert_non_null(base);
    assert_non_null(jac);
    assert_non_null(out);
    size_t id = 0;
    assert_int_equal(m->eval(m->ctx, 1, &id, x, base, jac), MS_OK);
    ms_fit_doppler_shift(base, m->n_pix, m->wave_start, m->wave_step, dv, out, NULL);
    for (size_t p = 0; p < m->n_pix; p++) flux[p] = (float)out[p];
    ms_free(base);
    ms_free(jac);
    ms_free(out);
}

void tm_payne_make(ms_emulator *e, size_t D, size_t H, uint64_t seed)
{
    ms_emulator_init(e);
    assert_int_equal(ms_payne_init(&e->net, D, H, 2, TM_NPIX, 0.01f), MS_OK);
    ms_nn_rng r;
    ms_nn_rng_seed(&r, seed);
    ms_payne_init_weights(&e->net, &r);
    /* smooth the output weights along the pixels (Gaussian, sigma 1.5 px) so that the
     * spectra are smooth on the pixel scale, as real ones at R ~ 2000 */
    float *w = ms_payne_w(&e->net, 2); /* [n_pix, H] */
    float *tmp = ms_malloc_array("tm.w", TM_NPIX * H, sizeof(float));
    assert_non_null(tmp);
    const int R = 5;
    double kern[11], ks = 0.0;
    for (int i = -R; i <= R; i++) ks += kern[i + R] = exp(-0.5 * (i / 1.5) * (i / 1.5));
    for (size_t p = 0; p < TM_NPIX; p++)
        for (size_t h = 0; h < H; h++) {
            double s = 0.0, ws = 0.0;
            for (int i = -R; i <= R; i++) {
                long q = (long)p + i;
                if (q < 0 || q >= TM_NPIX) continue;
                s += kern[i + R] * w[(size_t)q * H + h];
                ws += kern[i + R];
            }
            tmp[p * H + h] = (float)(2.0 * s / ws);
        }
    memcpy(w, tmp, TM_NPIX * H * sizeof(float));
    ms_free(tmp);
    /* output bias: a continuum with absorption lines */
    float *b = ms_payne_b(&e->net, 2);
    for (size_t p = 0; p < TM_NPIX; p++) b[p] = 1.0f;
    for (int k = 0; k < 150; k++) {
        double c = 2901.0 * ms_nn_rng_uniform(&r), s = 1.2 + 2.0 * ms_nn_rng_uniform(&r);
        double a = 0.05 + 0.4 * ms_nn_rng_uniform(&r);
        for (long p = (long)(c - 6 * s); p <= (long)(c + 6 * s); p++)
            if (p >= 0 && p < TM_NPIX) b[p] -= (float)(a * exp(-0.5 * ((double)p - c) * ((double)p - c) / (s * s)));
    }
    for (size_t j = 0; j < D; j++) {
        snprintf(e->labels[j], MS_PAYNE_LABEL_LEN, "%s", TM_NAMES[j % TM_D]);
        e->x_min[j] = TM_MIN[j % TM_D];
        e->x_max[j] = TM_MAX[j % TM_D];
    }
    e->wavelength = ms_malloc_array("tm.wave", TM_NPIX, sizeof(double));
    assert_non_null(e->wavelength);
    for (size_t p = 0; p < TM_NPIX; p++) e->wavelength[p] = TM_START + (double)p * TM_STEP;
}

ms_cfg_fit tm_cfg(void)
{
    ms_config cfg;
    assert_int_equal(ms_config_defaults(&cfg), MS_OK);
    return cfg.fit;
}

void tm_random_x(ms_nn_rng *r, double a, size_t D, double *x)
{
    for (size_t j = 0; j < D; j++) x[j] = a * (2.0 * ms_nn_rng_uniform(r) - 1.0);
}
