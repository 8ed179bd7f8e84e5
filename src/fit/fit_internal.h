/* fit_internal.h: shared between the src/fit sources (not installed). */
#ifndef MSTARS_FIT_INTERNAL_H
#define MSTARS_FIT_INTERNAL_H

#include "mstars/fit.h"
#include "mstars/lbfgsb.h"

#include <stddef.h>
#include <stdint.h>

/* Velocity shift of a model on the uniform grid (fit_shift.c). Rest-frame position of
 * observed pixel p in model-pixel units: u_p = p a + b0 with a = 1 / doppler(dv),
 * b0 = (start / step)(a - 1); du_p / d dv = -(p + start / step) a / (c (1 - beta^2)). */
typedef struct {
    double a, b0;      /* u_p = p a + b0 */
    double dadv;       /* d a / d dv (per km/s) */
    double s0;         /* start / step */
} fit_shift;

fit_shift fit_shift_make(double start, double step, double dv);
/* Keys cubic-convolution weights (a = -1/2) of taps i-1..i+2 for fraction t, and their
 * derivatives in t. */
void fit_keys(double t, double w[4], double dw[4]);
/* Pixel range [*lo, *hi] whose taps stay inside [0, n) for every |dv| <= vmax. */
void fit_shift_range(size_t n, double start, double step, double vmax, size_t *lo,
                     size_t *hi);
/* m [n] = the model M [n] seen at the shift's dv and dm [n] (may be NULL) = d m / d dv
 * (per km/s), over [lo, hi] (other entries untouched). */
void fit_shift_apply(const fit_shift *s, const float *M, size_t lo, size_t hi, double *m,
                     double *dm);
/* v [n] += S^T q: the adjoint of fit_shift_apply for q [n] over [lo, hi]. */
void fit_shift_adjoint(const fit_shift *s, const double *q, size_t lo, size_t hi, double *v);
/* chi^2 of the model M [n] seen at dv against F [n] (finite: fit_clean_flux) with weights
 * w [n] over [lo, hi]. shift == 0: identity (dv ignored). buf [n]: scratch. */
double fit_chi2_at(const float *M, const double *F, const double *w, size_t lo, size_t hi,
                   double start, double step, int shift, double dv, double *buf);
/* out [n] = F where w > 0, else 0 (the kernels multiply by w and need finite values). */
void fit_clean_flux(const float *F, const double *w, size_t n, double *out);
/* Best dv on the grid v = vc + k vstep, |k vstep| <= half, clipped to [vlo, vhi]; then a
 * parabola through the best point and its neighbours (kept within one step and the
 * bounds). *chi2 = chi^2 at the returned dv (exact). buf [n]: scratch. */
double fit_rv_scan(const float *M, const double *F, const double *w, size_t lo, size_t hi,
                   double start, double step, double vc, double half, double vstep,
                   double vlo, double vhi, double *chi2, double *buf);

/* The [alpha/M] prior (fit_prior.c): the term ((alpha - mu) / sigma)^2 of the objective. */
enum { FIT_PRIOR_NONE = 0, FIT_PRIOR_TREND, FIT_PRIOR_FIXED };
typedef struct {
    int kind;
    size_t ia, im;            /* label indices of alpha_m and m_h */
    double sigma, center;     /* dex */
    double min_a, scale_a, min_m, scale_m; /* physical = min + (z + 0.5) scale */
} fit_prior;
/* From fit.alpha_prior*, the model's label names and ranges; MS_EINVAL naming the key. */
ms_status fit_prior_setup(const ms_cfg_fit *c, const ms_fit_model *m, fit_prior *p);
/* The prior's term r^2 at scaled labels z [D] (0 for kind none); *res = r (may be NULL);
 * jp [P] (may be NULL) = d r / d z (zeros but for alpha_m and, for the trend, m_h). The
 * objective's gradient is 2 r jp, its Gauss-Newton curvature jp jp^T. */
double fit_prior_eval(const fit_prior *p, const double *z, size_t P, double *res, double *jp);

/* The fitter (fit_batch.c), its pre-search (fit_presearch.c). */
struct ms_fitter {
    ms_cfg_fit cfg;
    ms_fit_model model;
    size_t D, P, n_pix, batch;
    int use_vjp;              /* gradient mode */
    int error_scaling;        /* 0 none, 1 chi2, 2 inflate */
    fit_prior prior;          /* fit.alpha_prior */
    float *bank_prior;        /* [K] the prior's term at each bank point (NULL: no prior) */
    double vmax_all;          /* largest |dv| any fit may try (km/s) */
    size_t lo_all, hi_all;    /* pixel range for fits with dv free */
    double *corr;             /* [n_pix] pixel-correlation variance factor C_p */
    /* pre-search bank */
    size_t K;
    double *bank_x;           /* [K, D] scaled Sobol points */
    float *bank_cat;          /* [K, 2 n_pix]: M_k^2 then M_k */
    double *g2;               /* [P, n_pix] mean over the bank of (d flux / d z_j)^2 (z: scaled
                                 labels, u): the fit's diagonal preconditioner (NULL: none) */
    /* pre-search chunk buffers */
    size_t ps_rows;
    float *ps_cat;            /* [ps_rows, 2 n_pix]: W then -2 W F */
    float *ps_score;          /* [ps_rows, K] */
    double *ps_w;             /* [n_pix] */
    double *ps_f;             /* [n_pix] */
    /* slots and batched-call buffers */
    ms_lbfgsb **opt;          /* [batch] */
    double *slot_w;           /* [batch, n_pix] */
    double *slot_f;           /* [batch, n_pix] flux, 0 where the weight is 0 */
    double *xrows;            /* [batch, D] */
    size_t *ids;              /* [batch] */
    size_t *rowslot;          /* [batch] */
    float *mflux;             /* [batch, n_pix] */
    float *mjac;              /* [batch, D, n_pix] */
    float *vrows;             /* [batch, n_pix] */
    double *gx;               /* [batch, D] */
    double *scratch;          /* [(MS_FIT_MAX_PARAMS + 2) n_pix] per-row work */
    ms_fit_stats stats;
};

/* Per-spectrum preparation of one ms_fit_batch call. */
typedef struct {
    uint32_t flags;
    size_t n_good, lo, hi;
    int skip;                 /* not fitted (MS_FIT_FAILED bits) */
    int shift;                /* model is shifted (dv free or fixed non-zero) */
    int wide;                 /* dv bound is the wide scan range */
    int presearch;            /* start from the pre-search */
    double dv_fixed;          /* km/s, when dv is not fitted */
    double z0[MS_FIT_MAX_PARAMS]; /* start: scaled labels then u = dv / MS_FIT_RV_UNIT */
    double chi2_start;        /* exact chi^2 of the start when known, else NaN */
} fit_prep;

/* Weights of spectrum row (flux F, ivar iv [n_pix]) over [lo, hi]: w [n_pix] (0 outside
 * or unusable); returns the count of good pixels, ORs MS_FIT_BAD_INPUT / BAD_PIXELS into
 * *flags. */
size_t fit_weights(const float *F, const float *iv, const uint8_t *mask, size_t n_pix,
                   size_t lo, size_t hi, const double *pix_var, double *w, uint32_t *flags);

/* Build the bank (ms_fitter_alloc). */
ms_status fit_bank_build(ms_fitter *f);
/* Pre-search and RV start for spectra [i0, i0 + R) whose prep (flags, lo, hi, wide,
 * shift) is filled and skip == 0 rows are to be searched: fills z0, chi2_start,
 * presearch. */
ms_status fit_presearch_chunk(ms_fitter *f, const ms_fit_input *in, size_t i0, size_t R,
                              fit_prep *prep);

double fit_now(void);

#endif
