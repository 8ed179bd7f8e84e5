/* fit.h: the batched per-spectrum fitting engine (Z25 2.3 and 3.5; method.md sections 5-6).
 *
 * For each spectrum: labels y (Teff, log g, [M/H], [alpha/M]: whatever the model takes)
 * and a residual radial velocity dv minimise
 *
 *     chi^2 = sum_p w_p (F_obs,p - S(dv)[M(y)]_p)^2,     w_p = ivar_p on good pixels, else 0
 *
 * (method.md 5.3 with M = The Payne now, M = CSN_synth->obs(Payne(y)) later), where S(dv) is
 * a Doppler shift of the model spectrum on the uniform wavelength grid. Good pixels: ivar
 * finite and > 0, flux finite, fit_mask 0, and not within reach of the grid ends under the
 * largest velocity the fit may try (a fixed margin: the pixel set never changes during a
 * fit, so chi^2 stays smooth).
 *
 * Per spectrum (ms_fit_batch):
 *   1. Pre-search (Payne-Che's Sobol start; anchors_code.md 1): chi^2 against a fixed bank
 *      of model spectra at Sobol points over the label box, all spectra of a chunk at once
 *      with two GEMMs (chi^2_k = |F|_W^2 - 2 F W M_k + M_k W M_k); the best point starts the
 *      fit.
 *   2. RV start: a chi^2 scan over dv (S(dv) applied to the best bank spectrum) within
 *      +-fit.rv_window, or +-fit.rv_scan_range when the pipeline RV is missing; when the
 *      best dv is large the pre-search is repeated on the spectrum shifted to rest.
 *   3. Bounded L-BFGS-B (lbfgsb.h) in scaled coordinates: labels x = (y - min) / (max -
 *      min) - 0.5 in the training box [-0.5, 0.5] (the bounds), u = dv / 100 km/s within
 *      the window, each variable further scaled by the square root of its Gauss-Newton
 *      curvature sum_p w_p (d M / d z)^2 (from the bank's mean squared Jacobian; for
 *      per-spectrum models from a Jacobian at the start), so that L-BFGS-B's identity
 *      initial Hessian fits and its first step is a diagonal Gauss-Newton step (unscaled,
 *      chi^2 gradients of ~1e3 throw the first step to a corner of the box). fit.pgtol
 *      therefore reads in units of the statistical error (a 1-sigma offset gives a
 *      gradient of ~2); fit.factr 1e10 stops above the float32 noise of chi^2 (~1e-7
 *      relative), where the line search would otherwise burn evaluations. The gradient is
 *      -2 J^T W r from the model's reverse mode (a vector-Jacobian product: forward + one
 *      backward sweep) or its forward-mode Jacobian: no finite differences. A fit that
 *      ends on the velocity window is rescanned over the wide range and restarted once.
 *   4. Batching: up to fit.batch_size spectra advance together, each with its own L-BFGS-B
 *      state; every spectrum that needs chi^2 and its gradient at a new point joins ONE
 *      batched model call (GEMM-shaped); finished spectra leave and new ones take their
 *      slot. Spectra that finish wait (up to a quarter of the slots) for one batched
 *      Jacobian call at their optima. A spectrum's path depends only on its own data and
 *      the model's values for its rows: with a model whose rows do not depend on the batch
 *      the results are bitwise independent of batch size and composition (tested); The
 *      Payne's float rounding changes with the batch size (payne.c picks other GEMM
 *      kernels for small batches), which moves the end point within the convergence
 *      tolerance (< 0.01 sigma in the tests).
 *   5. Errors (Z25 4.1 Err_fitting): Gauss-Newton covariance at the optimum, (J^T W J)^-1
 *      in scaled coordinates, converted to physical units with the outer product of the
 *      scales (max - min per label, 100 km/s for dv; not Payne-Che's single
 *      multiplication). Pixel correlation: the 1 A grid oversamples LAMOST's native pixels
 *      (10^-4 dex, 1.4-2 A) by k = 1.4-2, and linear resampling makes neighbours
 *      correlated, so J^T W J over-counts the information. For white native noise and a
 *      Jacobian smooth on the pixel scale the variance of the weighted fit is
 *      (pi/2) k times the naive one (derivation and numerical check in src/fit/fit_batch.c);
 *      with fit.native_dloglam > 0 the covariance is the sandwich A^-1 B A^-1, A = J^T W J,
 *      B = J^T W C J with the per-pixel factor C_p = max(1, (pi/2) k_p). Errors are thus
 *      about 1.5-1.8 x larger than the naive ones on LAMOST data; set fit.native_dloglam =
 *      0 for independent pixels. fit.error_scaling multiplies the covariance by the reduced
 *      chi^2 (chi2) or by max(1, reduced chi^2) (inflate). The reduced chi^2 is
 *      chi^2 / (n_good - n_params): with the resampled ivar each pixel has unit expected
 *      weighted residual, so it is ~1 for a correct model even though pixels correlate.
 *   6. Prior (fit.alpha_prior = trend | fixed; off by default): the objective becomes
 *      chi^2 + ((alpha - mu) / fit.alpha_prior_sigma)^2 with mu = ms_fit_alpha_trend([M/H])
 *      (Z25 3.3.2's empirical relation) or fit.alpha_prior_center, in the pre-search scores,
 *      the L-BFGS-B objective and gradient, and the errors: the covariance is that of the
 *      posterior, A = J^T W J / s + j_p j_p^T and B = J^T W C J / s + j_p j_p^T in the
 *      sandwich A^-1 B A^-1 (s the error scaling's factor, j_p the gradient of the prior's
 *      residual over the labels). ms_fit_result.chi2 stays the data's chi^2. At R ~ 1800
 *      the fit barely measures [alpha/M] and Teff trades ~200 K per dex against it: the
 *      prior stops that (benchmarks/RESULTS.md, issue 24 part 3; src/fit/fit_prior.c).
 *
 * Bad input never stops the batch: such a spectrum gets status bits, NaN labels, and the
 * others are unaffected. ms_fit_batch fails (returns non-OK) only for programming or
 * resource errors (invalid arguments, allocation, a model call that fails as a whole).
 *
 * The model is an interface (ms_fit_model): The Payne now (ms_fit_model_emulator); the
 * Cycle-StarNet synth->obs transfer later, as a model with per-spectrum state (its z_sp),
 * see ms_fit_model below. */
#ifndef MSTARS_FIT_H
#define MSTARS_FIT_H

#include "mstars/config.h"
#include "mstars/csn.h"
#include "mstars/payne.h"
#include "mstars/status.h"

#include <stddef.h>
#include <stdint.h>

#define MS_FIT_MAX_LABELS MS_PAYNE_MAX_LABELS
#define MS_FIT_MAX_PARAMS (MS_FIT_MAX_LABELS + 1) /* labels and dv */
#define MS_FIT_NAME_LEN 32
/* the scale of the velocity parameter in the optimiser: u = dv / MS_FIT_RV_UNIT */
#define MS_FIT_RV_UNIT 100.0 /* km/s */

/* ------------------------------------------------------------------------------------- */
/* The model interface.
 *
 * Coordinates are the emulator's scaled labels x in [-0.5, 0.5] (the training box):
 * physical y_j = phys_min[j] + (x_j + 0.5) (phys_max[j] - phys_min[j]). The model's flux
 * lives on a uniform grid wave_start + i wave_step, i < n_pix (the fitter shifts it in
 * velocity itself).
 *
 * eval: flux [B, n_pix] = M(x [B, D]) and, when jac != NULL, jac [B, D, n_pix] =
 *   d flux / d x (row j of spectrum b is the derivative spectrum of label j), for B <=
 *   max_batch rows. ids [B] are the indices (in the ms_fit_input of the current
 *   ms_fit_batch call) of the spectra the rows belong to, so that a model with
 *   per-spectrum state can find it; ids == NULL asks for spectrum-independent spectra
 *   (the pre-search bank; never done when per_spectrum is set). Rows must not influence
 *   each other. A non-finite output value is not an error: the fitter flags that spectrum.
 *   Return non-OK only when the call fails as a whole (the batch is then abandoned).
 * vjp (optional, NULL: the fitter uses eval with the Jacobian): right after eval(..., jac
 *   = NULL) of the same rows: gx [B, D] = v [B, n_pix] . d flux / d x (overwritten).
 * begin (optional): called once at the start of each ms_fit_batch with that call's spectra
 *   (n, flux [n, n_pix], ivar [n, n_pix]), so that a per-spectrum model can prepare its
 *   state (CSN: z_sp = E_sp(E_obs(F_obs)) held fixed during the fit, method.md 5.3).
 * free (optional): releases ctx (ms_fit_model_free).
 *
 * Plugging in Cycle-StarNet: eval = Payne forward (ms_payne_forward / _jacobian) ->
 * standardise -> E_synth -> E_sh -> D_sh (+) D_sp(z_sp[ids[b]]) -> G_obs -> crop to n_pix;
 * vjp = the reverse sweep of the same chain ending in ms_payne_vjp; the Jacobian = the
 * forward-mode tangents of ms_payne_jacobian through ms_csn_transfer_s2o_jvp;
 * per_spectrum = 1. */
typedef struct {
    size_t n_labels;   /* D */
    size_t n_pix;
    size_t max_batch;  /* largest B that eval/vjp accept */
    double wave_start, wave_step; /* A */
    double phys_min[MS_FIT_MAX_LABELS], phys_max[MS_FIT_MAX_LABELS];
    char names[MS_FIT_MAX_LABELS][MS_FIT_NAME_LEN];
    int per_spectrum;  /* 1: eval depends on ids (no shared pre-search bank, no RV scan) */
    /* [n_pix] the model's own variance per pixel (normalised flux^2), added to 1/ivar of
     * every spectrum (the emulator's error on its validation models; SLAM adds its
     * cross-validation error the same way), or NULL. Not owned. */
    const double *pix_var;
    void *ctx;
    ms_status (*begin)(void *ctx, size_t n, const float *flux, const float *ivar, size_t n_pix);
    ms_status (*eval)(void *ctx, size_t B, const size_t *ids, const double *x, float *flux,
                      float *jac);
    ms_status (*vjp)(void *ctx, size_t B, const float *v, double *gx);
    void (*free)(void *ctx);
} ms_fit_model;

/* The Payne emulator as a model (labels, training range, uniform wavelength grid from e;
 * e must outlive the model). Owns its network workspace for max_batch rows (forward,
 * Jacobian and vjp; not shareable between threads). MS_EINVAL when e has no wavelength
 * grid or a non-uniform one, MS_ENOMEM. Free with ms_fit_model_free. */
ms_status ms_fit_model_emulator(const ms_emulator *e, size_t max_batch, ms_fit_model *m);
/* The observed-domain model of Z25 (method.md 5.3): M(x) = CSN_synth->obs(Payne(x); z_sp)
 * with z_sp = E_sp(E_obs(F_obs)) of each spectrum, computed in begin() (per_spectrum = 1;
 * a non-finite flux enters E_obs as the mean flux, as in CSN training). vjp is exact
 * (reverse sweep through the CSN transfer and The Payne); so is the Jacobian (eval with
 * jac, used by the fitter only at the start and the optimum: scaling and errors), in
 * forward mode: The Payne's Jacobian carried through the CSN by ms_csn_transfer_s2o_jvp
 * (csn.h). Labels, ranges and grid from e (checked as ms_fit_model_emulator
 * does); net must take e's n_pix. e and net must outlive the model. MS_EINVAL, MS_ENOMEM.
 * Free with ms_fit_model_free. */
ms_status ms_fit_model_csn(const ms_emulator *e, const ms_csn *net, size_t max_batch,
                           ms_fit_model *m);
void ms_fit_model_free(ms_fit_model *m);

/* Z25 3.3.2's empirical [alpha/M] of [M/H] (0.0 at [M/H] >= 0, 0.2 at -0.5, 0.4 at <= -1.0:
 * the broken line through these, flat outside [-1, 0], corners smoothed over 0.05 dex):
 * the centre of fit.alpha_prior = trend. *deriv (may be NULL) = d[alpha/M] / d[M/H]. */
double ms_fit_alpha_trend(double m_h, double *deriv);

/* ------------------------------------------------------------------------------------- */
/* Per-spectrum status bits (ms_fit_result.flags). A spectrum with MS_FIT_FAILED bits set
 * has NaN labels, errors, RV and chi^2. */
enum {
    MS_FIT_NOT_CONVERGED = 1u << 0,      /* iteration limit reached */
    MS_FIT_LINESEARCH = 1u << 1,         /* L-BFGS-B ended in an abnormal line search:
                                            labels kept (usually the float floor of chi^2) */
    MS_FIT_AT_BOUND = 1u << 2,           /* a label ended at its training-range bound;
                                            which ones: ms_fit_result.at_bound */
    MS_FIT_PRESEARCH_DISAGREE = 1u << 3, /* ended farther than fit.presearch_disagree from
                                            the pre-search best (a different minimum) */
    MS_FIT_FEW_PIXELS = 1u << 4,         /* fewer usable pixels than fit.min_good_pixels */
    MS_FIT_BAD_INPUT = 1u << 5,          /* no usable pixel: all flux non-finite, or ivar
                                            zero / non-finite everywhere */
    MS_FIT_NONFINITE = 1u << 6,          /* the model or chi^2 became non-finite */
    MS_FIT_RV_EDGE = 1u << 7,            /* dv ended at the edge of the widest window */
    MS_FIT_BAD_PIXELS = 1u << 8,         /* some pixels had ivar > 0 with non-finite flux,
                                            or non-finite ivar: they were dropped */
    MS_FIT_SINGULAR = 1u << 9,           /* J^T W J not positive definite: errors NaN */
    MS_FIT_RV_WIDE = 1u << 10,           /* the wide velocity range was used (no pipeline RV,
                                            or the fit hit rv_window) */
    MS_FIT_NO_RV_START = 1u << 11,       /* info: no scan was possible for the RV start */
    MS_FIT_MODEL_MISMATCH = 1u << 12,    /* the model misses the spectrum by more than the
                                            noise explains: misfit > fit.mismatch_max */
    MS_FIT_GRID_FAILED = 1u << 13,       /* set by the survey job on every fitted row when
                                            the emulator's grid failed the quality gate of
                                            ingest-grid (grid_quality.h) */
};
#define MS_FIT_FAILED (MS_FIT_FEW_PIXELS | MS_FIT_BAD_INPUT | MS_FIT_NONFINITE)
#define MS_FIT_N_FLAGS 14

/* Name of one bit ("not_converged", "at_bound", ...), NULL for an unknown bit. */
const char *ms_fit_flag_name(uint32_t bit);
/* The names of bits 0 .. MS_FIT_N_FLAGS - 1, NULL-terminated (the schema's fit_flags). */
extern const char *const ms_fit_flag_names[MS_FIT_N_FLAGS + 1];
/* The set bits as "name|name" into buf ("" for 0; names that do not fit are left out);
 * returns buf. */
char *ms_fit_flags_format(uint32_t flags, char *buf, size_t len);

/* ------------------------------------------------------------------------------------- */
typedef struct {
    size_t n;              /* spectra */
    const float *flux;     /* [n, n_pix] normalised flux (store /spectra/flux) */
    const float *ivar;     /* [n, n_pix] inverse variance, 0 = unusable (/spectra/ivar) */
    const uint8_t *mask;   /* [n_pix] 1 = excluded (/spectra/fit_mask), or NULL */
    const double *rv_init; /* [n] km/s already removed (/meta/rv_init); NULL: 0. Non-finite:
                              treated as 0 and unknown */
    const uint8_t *rv_known; /* [n] 0: pipeline RV missing or untrusted -> wide scan;
                                NULL: all known */
    const double *start;   /* [n, D] physical start labels (e.g. the synthetic-domain fit);
                              NULL or a row with a NaN: pre-search */
    const double *start_dv; /* [n] km/s residual velocity: the start with `start` (fit_rv),
                               or the fixed dv (fit_rv off); NULL: 0 */
} ms_fit_input;

typedef struct {
    double labels[MS_FIT_MAX_LABELS]; /* physical, model order (NaN when failed) */
    double errors[MS_FIT_MAX_LABELS]; /* Err_fitting, physical */
    /* covariance, physical units: labels 0..D-1 then dv (km/s) at index D when fitted */
    double cov[MS_FIT_MAX_PARAMS][MS_FIT_MAX_PARAMS];
    double rv;             /* rv_init + dv (km/s) */
    double rv_err;         /* km/s (NaN when dv was not fitted) */
    double dv;             /* fitted residual velocity (km/s) */
    double chi2;           /* over the n_good pixels */
    double chi2_red;       /* chi2 / (n_good - n_params) */
    double err_scale;      /* factor applied to the errors by fit.error_scaling (the
                              covariance gets its square) */
    double misfit;         /* the model's misfit beyond the noise, in normalised flux:
                              sqrt(max(0, sum v^2 (r^2 - 1/v) / sum v^2)) over the fitted
                              pixels, r = F - model, v the spectrum's ivar (its pixel noise
                              only, so the emulator's error counts as misfit). A perfect
                              model gives ~0 at any S/N; see MS_FIT_MODEL_MISMATCH */
    double start_labels[MS_FIT_MAX_LABELS]; /* where L-BFGS-B started: pre-search best or
                                               the given start (physical) */
    double start_dv;
    double start_chi2;     /* chi^2 there (exact) */
    int presearch;         /* 1: start from the pre-search, 0: given start / box centre */
    size_t n_good;         /* pixels in chi^2 */
    long iterations;       /* L-BFGS-B iterations (all restarts) */
    long evaluations;      /* chi^2 + gradient evaluations (all restarts; + 1 final Jacobian
                              evaluation not counted) */
    uint32_t flags;        /* MS_FIT_* */
    uint32_t at_bound;     /* bit j: label j ended at a bound; bit D: dv at its window edge */
    char task[64];         /* last L-BFGS-B task text (diagnostics) */
} ms_fit_result;

/* Work counters of a fitter (cumulative over ms_fit_batch calls). */
typedef struct {
    size_t spectra, fitted;
    size_t bank_rows;             /* pre-search bank spectra computed (once) */
    size_t fg_calls, fg_rows;     /* batched model calls for chi^2 and gradient, their rows */
    size_t jac_calls, jac_rows;   /* batched Jacobian calls (fit starts and optima), rows */
    size_t evaluations, iterations; /* sums over spectra */
    double t_bank, t_presearch, t_total; /* seconds */
    double t_fg, t_jac;           /* seconds in the two kinds of model calls (with the
                                     per-row chi^2 / gradient / error work) */
} ms_fit_stats;

typedef struct ms_fitter ms_fitter;

/* A fitter for `model` with the fit section of the configuration (copied). Checks the
 * settings (gradient, error_scaling names; model sizes), allocates everything for
 * cfg->batch_size slots (model->max_batch must be >= batch_size) and, unless the model is
 * per-spectrum or presearch_points is 0, computes the pre-search bank (presearch_points
 * model spectra). The model (and what it points to) must outlive the fitter. */
ms_status ms_fitter_alloc(const ms_cfg_fit *cfg, const ms_fit_model *model, ms_fitter **out);
void ms_fitter_free(ms_fitter *f);
/* The number of fitted parameters (labels + 1 with fit_rv). */
size_t ms_fitter_n_params(const ms_fitter *f);
ms_fit_stats ms_fitter_stats(const ms_fitter *f);
/* Scaled Sobol points of the pre-search bank: [K, D] (K = ms_fitter_bank_size). */
size_t ms_fitter_bank_size(const ms_fitter *f);
const double *ms_fitter_bank_points(const ms_fitter *f);

/* Fit in->n spectra (any number: they are advanced fit.batch_size at a time), res [n].
 * model_out [n, n_pix] (may be NULL): the best-fit model, shifted by dv, NaN outside the
 * fitted pixel range and for failed fits. Single-threaded; a fitter serves one thread.
 * Returns MS_OK whatever happens to single spectra (their flags say it); non-OK only when
 * the arguments are invalid or a model call fails as a whole (then results not yet
 * written are NaN with flags 0). */
ms_status ms_fit_batch(ms_fitter *f, const ms_fit_input *in, ms_fit_result *res,
                       float *model_out);

/* The velocity shift used by the fitter (exposed for tests and plots): out [n_pix] =
 * model [n_pix] (uniform grid start, step) seen at residual velocity dv (km/s), i.e.
 * model evaluated at lambda / doppler(dv) by cubic convolution (Keys, a = -1/2; C1 in
 * dv); dout [n_pix] (may be NULL) = d out / d dv (per km/s). Pixels whose taps leave the
 * grid are NaN. */
void ms_fit_doppler_shift(const float *model, size_t n_pix, double start, double step,
                          double dv, double *out, double *dout);

#endif
