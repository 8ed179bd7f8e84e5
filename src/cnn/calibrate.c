/* calibrate.c: honest errors for the CNN ensemble. The standard deviation of the K models is
 * 2-6x smaller than their actual error (benchmarks/RESULTS.md, issue 21): the models share
 * 8/9 of their training data and so most of their error. The out-of-fold predictions of the
 * K-fold training (each model on the fold it did not see) are an unbiased sample of the
 * error on new spectra; per label they fix the error model
 *     e_total^2 = (s std)^2 + floor^2
 * where std is the ensemble spread. A training spectrum's own ensemble spread would contain
 * the out-of-fold model's residual (the quantity to predict), so its std is taken over the
 * K-1 models that trained on it. */
#include "mstars/cnn.h"

#include "mstars/mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 32
#define MAX_BINS 5
#define PER_BIN 25 /* spectra per std bin at least */

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* 1.4826 x the median absolute deviation from the median of x [n] (tmp [n]). */
static double robust_std(const double *x, size_t n, double *tmp)
{
    memcpy(tmp, x, n * sizeof *tmp);
    qsort(tmp, n, sizeof *tmp, cmp_double);
    const double med = n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
    for (size_t i = 0; i < n; i++) tmp[i] = fabs(x[i] - med);
    qsort(tmp, n, sizeof *tmp, cmp_double);
    const double mad = n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
    return 1.4826 * mad;
}

typedef struct {
    double s;
    size_t i;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->s != y->s) return (x->s > y->s) - (x->s < y->s);
    return (x->i > y->i) - (x->i < y->i);
}

ms_status ms_cnn_fit_error_model(const double *r, const double *std, size_t n, double *scale,
                                 double *floor)
{
    if (n < 3) MS_ERROR(MS_EINVAL, "cnn error model: %zu residuals are too few", n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(r[i]) || !isfinite(std[i]) || std[i] < 0.0)
            MS_ERROR(MS_EINVAL, "cnn error model: residual %zu not finite (%g, std %g)", i, r[i],
                     std[i]);
    keyed *k = ms_malloc_array("cnn.calib.k", n, sizeof *k);
    double *x = ms_malloc_array("cnn.calib.x", n, sizeof *x);
    double *tmp = ms_malloc_array("cnn.calib.tmp", n, sizeof *tmp);
    if (!k || !x || !tmp) {
        ms_free(k);
        ms_free(x);
        ms_free(tmp);
        return MS_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) k[i] = (keyed){std[i], i};
    qsort(k, n, sizeof *k, cmp_keyed);
    /* robust residual variance v_b and mean std^2 m_b in B quantile bins of std */
    size_t B = n / PER_BIN;
    if (B < 1) B = 1;
    if (B > MAX_BINS) B = MAX_BINS;
    double v[MAX_BINS], m[MAX_BINS];
    for (size_t b = 0; b < B; b++) {
        const size_t lo = n * b / B, hi = n * (b + 1) / B;
        double s2 = 0.0;
        for (size_t q = lo; q < hi; q++) {
            x[q - lo] = r[k[q].i];
            s2 += k[q].s * k[q].s;
        }
        const double rs = robust_std(x, hi - lo, tmp);
        v[b] = rs * rs;
        m[b] = s2 / (double)(hi - lo);
    }
    /* v_b = a m_b + c, a = s^2 >= 0, c = floor^2 >= 0 (least squares, non-negative) */
    double a = 0.0, c = 0.0;
    double sm = 0, sv = 0, smm = 0, smv = 0;
    for (size_t b = 0; b < B; b++) {
        sm += m[b];
        sv += v[b];
        smm += m[b] * m[b];
        smv += m[b] * v[b];
    }
    const double det = (double)B * smm - sm * sm;
    if (B >= 2 && det > 1e-12 * smm * (double)B) {
        a = ((double)B * smv - sm * sv) / det;
        c = (sv - a * sm) / (double)B;
    } else {
        a = -1.0; /* one bin or no spread in std: the scale alone, else the floor alone */
        c = -1.0;
        if (smm > 0.0) {
            a = smv / smm;
            c = 0.0;
        }
    }
    if (a < 0.0 || c < 0.0) {
        if (a >= 0.0 && smm > 0.0) { /* c < 0: scale alone */
            a = smv / smm;
            c = 0.0;
        } else { /* floor alone */
            a = 0.0;
            c = sv / (double)B;
        }
    }
    if (!(a > 0.0) && !(c > 0.0)) c = 1e-300; /* every residual zero */
    /* one common factor: the pulls r / e have unit robust std */
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        const double e2 = a * std[i] * std[i] + c;
        if (e2 > 0.0) x[np++] = r[i] / sqrt(e2);
    }
    double kappa = np >= 3 ? robust_std(x, np, tmp) : 1.0;
    if (!(kappa > 0.0) || !isfinite(kappa)) kappa = 1.0;
    *scale = sqrt(a) * kappa;
    *floor = sqrt(c) * kappa;
    ms_free(k);
    ms_free(x);
    ms_free(tmp);
    return MS_OK;
}

double ms_cnn_calibrated_error(const ms_cnn_ensemble *e, size_t j, double std)
{
    if (!e->calibrated) return std;
    const double s = e->err_scale[j] * std, f = e->err_floor[j];
    return sqrt(s * s + f * f);
}

ms_status ms_cnn_calibrate(ms_cnn_ensemble *e, const ms_cnn_data *d)
{
    const size_t K = e->n_models, D = e->n_labels, N = d->n, L = d->n_in;
    if (K < 3) MS_ERROR(MS_EINVAL, "cnn calibration: %zu models (needs >= 3)", K);
    if (N != e->n_train || !e->oof || !e->train_fold || D != d->n_labels)
        MS_ERROR(MS_EINVAL, "cnn calibration: the data (%zu spectra) are not the ensemble's "
                            "training set (%zu)", N, e->n_train);
    ms_free(e->oof_std);
    e->oof_std = ms_malloc_array("cnn.calib.oof_std", N * D + 1, sizeof(float));
    float *pred = ms_malloc_array("cnn.calib.pred", K * BATCH * D, sizeof(float));
    double *r = ms_malloc_array("cnn.calib.r", N + 1, sizeof(double));
    double *sd = ms_malloc_array("cnn.calib.sd", N + 1, sizeof(double));
    double *tmp = ms_malloc_array("cnn.calib.tmp", N + 1, sizeof(double));
    ms_cnn_ws *ws = NULL;
    ms_status st = e->oof_std && pred && r && sd && tmp ? MS_OK : MS_ENOMEM;
    if (st == MS_OK) st = ms_cnn_ws_alloc(&e->net[0].arch, BATCH, &ws);
    /* every model on every training spectrum; std over the models that trained on it */
    for (size_t b0 = 0; st == MS_OK && b0 < N; b0 += BATCH) {
        const size_t B = N - b0 < BATCH ? N - b0 : BATCH;
        for (size_t k = 0; st == MS_OK && k < K; k++)
            st = ms_cnn_forward(&e->net[k], ws, d->x + b0 * L, B, pred + k * B * D);
        for (size_t b = 0; st == MS_OK && b < B; b++) {
            const size_t out = (size_t)e->train_fold[b0 + b];
            for (size_t j = 0; j < D; j++) {
                double s = 0.0, ss = 0.0;
                for (size_t k = 0; k < K; k++)
                    if (k != out) s += pred[(k * B + b) * D + j];
                const double mean = s / (double)(K - 1);
                for (size_t k = 0; k < K; k++)
                    if (k != out) {
                        const double q = pred[(k * B + b) * D + j] - mean;
                        ss += q * q;
                    }
                e->oof_std[(b0 + b) * D + j] = (float)(e->y_std[j] * sqrt(ss / (double)(K - 2)));
            }
        }
    }
    for (size_t j = 0; st == MS_OK && j < D; j++) {
        size_t n = 0;
        for (size_t i = 0; i < N; i++) {
            const double ri = (double)e->oof[i * D + j] - d->y[i * D + j];
            if (!isfinite(ri)) continue; /* a fold whose model never validated */
            r[n] = ri;
            sd[n++] = e->oof_std[i * D + j];
        }
        st = ms_cnn_fit_error_model(r, sd, n, &e->err_scale[j], &e->err_floor[j]);
        size_t np = 0;
        for (size_t i = 0; i < n; i++)
            if (sd[i] > 0.0) r[np] = r[i] / sd[i], np++;
        e->calib_pull_rstd[j] = np >= 3 ? robust_std(r, np, tmp) : NAN;
    }
    if (st == MS_OK) e->calibrated = 1;
    ms_cnn_ws_free(ws);
    ms_free(pred);
    ms_free(r);
    ms_free(sd);
    ms_free(tmp);
    return st;
}
