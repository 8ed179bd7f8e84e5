/* fit_presearch.c: the pre-search of the fit start (method.md 5, "a coarse grid or Sobol
 * pre-search before the local fit"; Payne-Che's Sobol start, anchors_code.md 1) and the
 * RV start (Z25 2.3: the Doppler shift fitted with the emulator).
 *
 * A bank of K model spectra M_k at Sobol points over the label box is computed once per
 * fitter. For a chunk of spectra, chi^2 against every bank spectrum is one GEMM:
 *   chi^2_k = |F|_W^2 - 2 F W M_k + M_k W M_k = const + [W, -2 W F] . [M_k^2, M_k]
 * (the constant does not change the argmin; float is ample for a coarse choice, and the
 * chosen start's chi^2 is then recomputed exactly in double). The RV start is a chi^2
 * scan of the best bank spectrum over dv; when |dv| is large the label pre-search is
 * repeated on the spectrum moved to rest by dv (the first search saw shifted lines). */
#include "fit_internal.h"

#include "mstars/mem.h"
#include "mstars/nn.h"
#include "mstars/spec.h"

#include <gsl/gsl_qrng.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <time.h>

/* redo the label pre-search on the rest-frame spectrum beyond this |dv| (km/s): about a
 * quarter of the R ~ 1800 resolution element, where line positions are visibly off */
#define PRESEARCH_REDO_KMS 30.0

double fit_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

ms_status fit_bank_build(ms_fitter *f)
{
    const size_t K = f->K, D = f->D, n = f->n_pix;
    if (K == 0) return MS_OK;
    double t0 = fit_now();
    /* point 0: the box centre; then the Sobol sequence (GSL), mapped to [-0.5, 0.5) */
    gsl_qrng *q = gsl_qrng_alloc(gsl_qrng_sobol, (unsigned)D);
    if (!q) MS_ERROR(MS_ENOMEM, "fit: cannot allocate a %zu-dimensional Sobol generator", D);
    double u[MS_FIT_MAX_LABELS];
    for (size_t j = 0; j < D; j++) f->bank_x[j] = 0.0;
    for (size_t k = 1; k < K; k++) {
        int centre;
        do { /* skip points equal to the centre (the sequence starts there in some dims) */
            if (gsl_qrng_get(q, u) != 0) {
                gsl_qrng_free(q);
                MS_ERROR(MS_EINVAL, "fit: Sobol generator failed at point %zu", k);
            }
            centre = 1;
            for (size_t j = 0; j < D; j++)
                if (u[j] != 0.5) centre = 0;
        } while (centre);
        for (size_t j = 0; j < D; j++) f->bank_x[k * D + j] = u[j] - 0.5;
    }
    gsl_qrng_free(q);
    /* the [alpha/M] prior's term at each point: added to the bank's scores */
    if (f->prior.kind != FIT_PRIOR_NONE) {
        f->bank_prior = ms_malloc_array("fit.bank_prior", K, sizeof(float));
        if (!f->bank_prior) return MS_ENOMEM;
        for (size_t k = 0; k < K; k++)
            f->bank_prior[k] = (float)fit_prior_eval(&f->prior, f->bank_x + k * D, D, NULL, NULL);
    }
    /* model spectra, in batches of the slot count */
    for (size_t k0 = 0; k0 < K; k0 += f->batch) {
        size_t B = K - k0 < f->batch ? K - k0 : f->batch;
        MS_TRY(f->model.eval(f->model.ctx, B, NULL, f->bank_x + k0 * D, f->mflux, NULL));
        for (size_t b = 0; b < B; b++) {
            const float *M = f->mflux + b * n; /* [n] */
            float *row = f->bank_cat + (k0 + b) * 2 * n; /* [2n] */
            for (size_t p = 0; p < n; p++) {
                if (!isfinite(M[p]))
                    MS_ERROR(MS_EFORMAT,
                             "fit: the model gives a non-finite flux at pre-search point %zu "
                             "(pixel %zu) inside its training box",
                             k0 + b, p);
                row[p] = M[p] * M[p];
                row[n + p] = M[p];
            }
        }
    }
    /* mean squared Jacobian over the bank: the preconditioner of the fits (fit_batch.c) */
    memset(f->g2, 0, f->P * n * sizeof(double));
    double *dm = f->scratch, *mm = f->scratch + n;
    size_t lo = 1, hi = n - 3;
    const fit_shift s0 = fit_shift_make(f->model.wave_start, f->model.wave_step, 0.0);
    for (size_t k0 = 0; k0 < K; k0 += f->batch) {
        size_t B = K - k0 < f->batch ? K - k0 : f->batch;
        MS_TRY(f->model.eval(f->model.ctx, B, NULL, f->bank_x + k0 * D, f->mflux, f->mjac));
        for (size_t b = 0; b < B; b++) {
            const float *J = f->mjac + b * D * n; /* [D, n] */
            for (size_t j = 0; j < D; j++)
                for (size_t p = 0; p < n; p++) f->g2[j * n + p] += (double)J[j * n + p] * J[j * n + p] / (double)K;
            if (f->P > D) { /* d model / d u at dv = 0 */
                fit_shift_apply(&s0, f->mflux + b * n, lo, hi, mm, dm);
                for (size_t p = lo; p <= hi; p++) {
                    double d = dm[p] * MS_FIT_RV_UNIT;
                    f->g2[D * n + p] += d * d / (double)K;
                }
            }
        }
    }
    f->stats.bank_rows += K;
    f->stats.t_bank += fit_now() - t0;
    return MS_OK;
}

/* row [2n] = [w, -2 w F] from weights w and flux F (0 where w is 0). */
static void cat_row(float *row, const double *w, const float *F, size_t n)
{
    for (size_t p = 0; p < n; p++) {
        row[p] = (float)w[p];
        row[n + p] = w[p] > 0.0 ? (float)(-2.0 * w[p] * (double)F[p]) : 0.0f;
    }
}

/* The spectrum moved to rest by dv (linear interpolation with ivar propagation, method.md
 * 2.3): row [2n] = [w', -2 w' F'] at lambda_p doppler(dv). */
static void cat_row_shifted(float *row, const double *w, const float *F, size_t n, double start,
                            double step, double dv)
{
    const double Dp = ms_spec_doppler(dv), s0 = start / step;
    for (size_t p = 0; p < n; p++) {
        double u = (double)p * Dp + s0 * (Dp - 1.0);
        row[p] = row[n + p] = 0.0f;
        if (!(u >= 0.0) || !(u < (double)n - 1.0)) continue;
        size_t j = (size_t)u;
        double t = u - (double)j;
        if (!(w[j] > 0.0) || !(w[j + 1] > 0.0)) continue;
        double var = (1.0 - t) * (1.0 - t) / w[j] + t * t / w[j + 1];
        double ww = 1.0 / var, ff = (1.0 - t) * (double)F[j] + t * (double)F[j + 1];
        row[p] = (float)ww;
        row[n + p] = (float)(-2.0 * ww * ff);
    }
}

/* score [R, K] = rows [R, 2n] . bank [K, 2n]^T; best index per row into best [R]. Each
 * score by the batch-independent kernel (nn.h): a BLAS GEMM's rows change with R, i.e. with
 * the spectra that share the chunk, and a near-tie then picks another start. */
static ms_status score_rows(ms_fitter *f, size_t R, size_t *best)
{
    const size_t K = f->K, n2 = 2 * f->n_pix;
    if (R == 0) return MS_OK;
    ms_nn_gemm_nt_exact(R, K, n2, f->ps_cat, n2, f->bank_cat, n2, f->ps_score, K, 0);
    for (size_t r = 0; r < R; r++) {
        float *s = f->ps_score + r * K; /* [K] */
        if (f->bank_prior) /* the objective: chi^2 + the [alpha/M] prior */
            for (size_t k = 0; k < K; k++) s[k] += f->bank_prior[k];
        size_t kb = 0;
        float sb = INFINITY;
        for (size_t k = 0; k < K; k++)
            if (s[k] < sb) { /* NaN never wins */
                sb = s[k];
                kb = k;
            }
        best[r] = kb;
    }
    return MS_OK;
}

ms_status fit_presearch_chunk(ms_fitter *f, const ms_fit_input *in, size_t i0, size_t R,
                              fit_prep *prep)
{
    const size_t n = f->n_pix, D = f->D, K = f->K;
    const ms_cfg_fit *c = &f->cfg;
    const double start = f->model.wave_start, step = f->model.wave_step;
    if (K == 0 || R == 0) return MS_OK;
    if (R > f->ps_rows) MS_ERROR(MS_EINVAL, "fit: pre-search chunk %zu > %zu", R, f->ps_rows);
    double t0 = fit_now();
    size_t idx[256], best[256], m = 0;
    if (f->ps_rows > 256) MS_ERROR(MS_EINVAL, "fit: pre-search chunk buffer too large");

    /* 1. labels at dv = 0 (the spectrum as stored: rest frame of the pipeline RV) */
    for (size_t r = 0; r < R; r++) {
        fit_prep *pp = &prep[i0 + r];
        if (pp->skip || !pp->presearch) continue;
        const float *F = in->flux + (i0 + r) * n, *iv = in->ivar + (i0 + r) * n;
        uint32_t fl = 0;
        fit_weights(F, iv, in->mask, n, pp->lo, pp->hi, f->model.pix_var, f->ps_w, &fl);
        cat_row(f->ps_cat + m * 2 * n, f->ps_w, F, n);
        idx[m++] = i0 + r;
    }
    MS_TRY(score_rows(f, m, best));

    /* 2. RV start by a chi^2 scan of the best bank spectrum; collect large shifts */
    size_t redo[256], redo_best[256], m2 = 0;
    double vstart[256];
    for (size_t r = 0; r < m; r++) {
        fit_prep *pp = &prep[idx[r]];
        const float *F = in->flux + idx[r] * n, *iv = in->ivar + idx[r] * n;
        uint32_t fl = 0;
        fit_weights(F, iv, in->mask, n, pp->lo, pp->hi, f->model.pix_var, f->ps_w, &fl);
        fit_clean_flux(F, f->ps_w, n, f->ps_f);
        const float *M = f->bank_cat + best[r] * 2 * n + n; /* [n] */
        double v = pp->dv_fixed, chi2;
        if (c->fit_rv) {
            double vb = pp->wide ? c->rv_scan_range : c->rv_window;
            v = fit_rv_scan(M, f->ps_f, f->ps_w, pp->lo, pp->hi, start, step, 0.0, vb, c->rv_scan_step,
                            -vb, vb, &chi2, f->scratch);
            if (!pp->wide && fabs(v) >= vb - 0.5 * c->rv_scan_step) {
                /* the best velocity is on the window's edge: the pipeline RV is off */
                pp->wide = 1;
                pp->flags |= MS_FIT_RV_WIDE;
                vb = c->rv_scan_range;
                v = fit_rv_scan(M, f->ps_f, f->ps_w, pp->lo, pp->hi, start, step, 0.0, vb,
                                c->rv_scan_step, -vb, vb, &chi2, f->scratch);
            }
        } else {
            chi2 = fit_chi2_at(M, f->ps_f, f->ps_w, pp->lo, pp->hi, start, step, pp->shift, v,
                               f->scratch);
        }
        for (size_t j = 0; j < D; j++) pp->z0[j] = f->bank_x[best[r] * D + j];
        pp->z0[D] = v / MS_FIT_RV_UNIT;
        pp->chi2_start = chi2;
        vstart[r] = v;
        if (c->fit_rv && fabs(v) > PRESEARCH_REDO_KMS) {
            cat_row_shifted(f->ps_cat + m2 * 2 * n, f->ps_w, F, n, start, step, v);
            redo[m2++] = r;
        }
    }

    /* 3. large shifts: labels again on the spectrum moved to rest, then a narrow rescan */
    MS_TRY(score_rows(f, m2, redo_best));
    for (size_t q = 0; q < m2; q++) {
        size_t r = redo[q];
        fit_prep *pp = &prep[idx[r]];
        if (redo_best[q] == best[r]) continue;
        const float *F = in->flux + idx[r] * n, *iv = in->ivar + idx[r] * n;
        uint32_t fl = 0;
        fit_weights(F, iv, in->mask, n, pp->lo, pp->hi, f->model.pix_var, f->ps_w, &fl);
        fit_clean_flux(F, f->ps_w, n, f->ps_f);
        const float *M = f->bank_cat + redo_best[q] * 2 * n + n;
        double vb = pp->wide ? c->rv_scan_range : c->rv_window, chi2;
        double v = fit_rv_scan(M, f->ps_f, f->ps_w, pp->lo, pp->hi, start, step, vstart[r],
                               3.0 * c->rv_scan_step, c->rv_scan_step, -vb, vb, &chi2, f->scratch);
        /* compared as objectives: chi^2 + the [alpha/M] prior's term */
        const double p_new = f->bank_prior ? f->bank_prior[redo_best[q]] : 0.0;
        const double p_old = f->bank_prior ? f->bank_prior[best[r]] : 0.0;
        if (chi2 + p_new < pp->chi2_start + p_old) {
            for (size_t j = 0; j < D; j++) pp->z0[j] = f->bank_x[redo_best[q] * D + j];
            pp->z0[D] = v / MS_FIT_RV_UNIT;
            pp->chi2_start = chi2;
        }
    }
    f->stats.t_presearch += fit_now() - t0;
    return MS_OK;
}
