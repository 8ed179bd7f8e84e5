/* laspm.h: empirical-library matching (LASPM, Du et al. 2021/2025) and the golden-sample
 * curation of Du et al. 2025 (seeds_summary.md section 3). Pure numerics plus the
 * library file's reader and writer; no MPI (the drivers are src/stage/laspm.c and
 * src/stage/build_library.c).
 *
 * Matching (Du 3.3 + 3.6). For spectrum i (flux f, inverse variance w) and library
 * spectrum j (t), over the pixels p of [wave_min, wave_max] (6000-8800 A):
 *
 *   chi2_ij = min_c sum_p w_ip (f_ip - (c0 + c1 x_p + c2 x_p^2) t_jp)^2,
 *   x_p = (lambda_p - lambda_mid) / half_width  in [-1, 1]
 *
 * (the second-order multiplicative flux recalibration of Du 3.3 per pair). Its normal
 * system M c = b has M_kl = sum_p w_ip x_p^(k+l) t_jp^2 and b_k = sum_p w_ip x_p^k f_ip t_jp,
 * so chi2_ij = sum_p w_ip f_ip^2 - b^T M^-1 b. Over a batch of n spectra the b's are one
 * GEMM [3n x P] x [P x L] against the library and the M's one GEMM [5n x P] x [P x L]
 * against the squared library (OpenBLAS dgemm, double: the subtraction above cancels).
 * The library's own noise is not in w (its spectra are the high-S/N ones; keeping it
 * would make the weight depend on the pair and break the GEMM shape).
 *
 * Labels: the K = 5 smallest chi2 (with `exclude` for leave-one-out); the combination
 * P(x) sum_k a_k t_k with a_k >= 0 and one shared quadratic P that minimises the chi2
 * (alternating: non-negative least squares for the a's, solved exactly by trying the 31
 * subsets, and the 3x3 system for P). This is "minimising chi2 over a linear combination of
 * the five best-matching templates" (L25 on LASPM): an interpolation in spectrum space
 * that chooses itself how many neighbours carry the fit, rather than weights set from the
 * chi2 values alone. Labels = sum a_k y_k / sum a_k. (MS_LASPM_W_INVCHI2 gives weights
 * exp(-(chi2_k - chi2_1)/2 / chi2_red,1) instead, for comparison.)
 *
 * Errors: e = sqrt(e_spread^2 + e_curv^2): e_spread the standard deviation of the five
 * best labels about the combined label; e_curv from the chi2 curvature along each label
 * over the n_curv best matches (least-squares parabola chi2 = a + b y + c y^2;
 * e_curv = sqrt(chi2_red / c), i.e. Delta chi2 = 1 after scaling chi2 to a reduced chi2
 * of 1; NaN and flag MS_LASPM_CURV_BAD when c <= 0). */
#ifndef MSTARS_LASPM_H
#define MSTARS_LASPM_H

#include "mstars/config.h"
#include "mstars/errors.h"
#include "mstars/status.h"

#include <stddef.h>
#include <stdint.h>

#define MS_LASPM_N_LABELS 3 /* teff, logg, m_h */
#define MS_LASPM_K 5        /* best matches combined */
extern const char *const ms_laspm_label_names[MS_LASPM_N_LABELS];

/* ------------------------------------------------------------------ the library */

/* An empirical library: spectra on the store's wavelength grid with labels. */
typedef struct {
    size_t n, n_pix;
    double *wavelength;       /* [n_pix], the spectra store's grid */
    float *flux;              /* [n x n_pix], the view below, median 1 over the match range */
    double *labels;           /* [n x 3] teff, logg, m_h */
    int64_t *id;              /* [n] star id (leave-one-out excludes entries of the same id) */
    double *snr;              /* [n] */
    char (*name)[32];         /* [n] e.g. obsid or template file */
    char (*source)[32];       /* [n] the catalogue each label came from */
    char view[16];            /* "calibrated" (store flux x continuum) or "normalised" */
    /* the curation record (build-library): counts after each step */
    size_t n_steps;
    char (*step_name)[48];
    int64_t *step_count;
    double *cv_labels;        /* [n x 3] leave-one-out predictions, or NULL */
} ms_laspm_library;

void ms_laspm_library_init(ms_laspm_library *lib);
ms_status ms_laspm_library_alloc(ms_laspm_library *lib, size_t n, size_t n_pix);
void ms_laspm_library_free(ms_laspm_library *lib);
/* Append a curation step's count. */
ms_status ms_laspm_library_step(ms_laspm_library *lib, const char *name, int64_t count);

/* HDF5 (serial). Layout: /library/{flux [n x n_pix] f32, wavelength [n_pix] f64,
 * teff, logg, m_h, id, snr, name, source, [cv_teff, cv_logg, cv_m_h]}, /curation/{step,
 * count}; root attributes view, provenance (ms_h5_write_provenance; cfg NULL: none)
 * and complete. */
ms_status ms_laspm_library_write(const char *path, const ms_laspm_library *lib,
                                 const ms_config *cfg, const char *command);
ms_status ms_laspm_library_read(const char *path, ms_laspm_library *lib);

/* ------------------------------------------------------------------ matching */

typedef enum { MS_LASPM_W_NNLS = 0, MS_LASPM_W_INVCHI2 = 1 } ms_laspm_weighting;

typedef struct {
    double wave_min, wave_max; /* the match range (Du: 6000-8800 A) */
    size_t n_curv;             /* matches used for the chi2 curvature (4-256) */
    ms_laspm_weighting weighting;
    size_t batch;              /* spectra per GEMM */
} ms_laspm_opts;

void ms_laspm_opts_default(ms_laspm_opts *o);

/* Result flags */
#define MS_LASPM_NO_PIXELS 1u  /* no usable pixel: nothing matched */
#define MS_LASPM_CURV_BAD 2u   /* the chi2 curvature of some label is not positive */
#define MS_LASPM_AT_EDGE 4u    /* a combined label sits on the library's range */
#define MS_LASPM_FEW_LIB 8u    /* fewer than 5 library spectra usable */
#define MS_LASPM_N_FLAGS 4
extern const char *const ms_laspm_flag_names[MS_LASPM_N_FLAGS + 1];

typedef struct {
    double label[MS_LASPM_N_LABELS], error[MS_LASPM_N_LABELS];
    double e_spread[MS_LASPM_N_LABELS], e_curv[MS_LASPM_N_LABELS];
    int64_t best_id[MS_LASPM_K];
    int32_t best_index[MS_LASPM_K]; /* library rows, -1 when fewer */
    double best_chi2[MS_LASPM_K], weight[MS_LASPM_K];
    double chi2_best, chi2_comb, chi2_red; /* best single match; combination; comb / (n - dof) */
    int32_t n_pix;
    uint32_t flags;
} ms_laspm_result;

typedef struct ms_laspm ms_laspm;

/* Prepare the library matrices over the match range (lib must outlive m). mask [n_pix]
 * (may be NULL): 1 = pixel never used. */
ms_status ms_laspm_prepare(const ms_laspm_library *lib, const ms_laspm_opts *o,
                           const uint8_t *mask, ms_laspm **out);
void ms_laspm_free(ms_laspm *m);

/* chi2[n x L] (and the polynomial coef[n x L x 3] if non-NULL) of n spectra (flux,
 * ivar [n x n_pix] on the library's grid; ivar <= 0 or non-finite flux = unused pixel).
 * Pairs with a singular normal system get +inf. */
ms_status ms_laspm_chi2(ms_laspm *m, size_t n, const float *flux, const float *ivar,
                        double *chi2, double *coef);

/* Match n spectra: res[n]. exclude[n] (may be NULL): library entries with this id are
 * skipped for that spectrum (-1: none), for leave-one-out. */
ms_status ms_laspm_match(ms_laspm *m, size_t n, const float *flux, const float *ivar,
                         const int64_t *exclude, ms_laspm_result *res);

/* The observed spectrum's view: calibrated = flux x continuum (ivar / continuum^2);
 * either way scaled to median 1 over [wave_min, wave_max]. In place on n_pix pixels. */
void ms_laspm_view(const char *view, const double *wavelength, size_t n_pix, double wave_min,
                   double wave_max, float *flux, float *ivar, const float *continuum);

/* ------------------------------------------------------------------ curation (Du 3.2-3.5) */

/* Du 3.2: the offset of a catalogue against the reference from a Gaussian fit of the
 * differences d[n] (NaN skipped): the mean and sigma of the Gaussian core, estimated by
 * iterated 3-sigma clipping (the maximum-likelihood Gaussian of the clipped core; a
 * histogram fit depends on the bin width). MS_ENOPROG with fewer than 3 values. */
ms_status ms_laspm_gauss_offset(size_t n, const double *d, double *mean, double *sigma,
                                size_t *n_used);

/* DBSCAN (Ester et al. 1996) on a symmetric distance matrix dist[n x n]: label[i] = cluster
 * 0, 1, ... or -1 noise. Core points have >= min_pts points (itself included) within eps.
 * Deterministic: points are visited in index order. Returns the number of clusters. */
size_t ms_laspm_dbscan(size_t n, const double *dist, double eps, size_t min_pts, int *label);

/* Du 3.4's minPts "from 2 to 5 by the bin's count": 2 for < 5 spectra, 3 for < 10, 4 for
 * < 30, else 5. */
size_t ms_laspm_min_pts(size_t n_in_bin);

/* The DBSCAN distance between two continuum-normalised spectra: the RMS over pixels good
 * in both of (f_a - f_b) / sqrt(sigma_a^2 + sigma_b^2), i.e. their difference in units
 * of the joint noise (eps = 1.0: spectra that agree to within the noise on average). */
double ms_laspm_distance(size_t n_pix, const float *fa, const float *ia, const float *fb,
                         const float *ib, const uint8_t *use);

/* ------------------------------------------------------------------ precision (Du 3.7) */

/* Du et al. 2025 Eq. 1, for any method's label column: every repeat observation's
 * epsilon_i = sqrt(N / (N - 1)) (P_i - mean P) over the N observations of its star (rows
 * grouped by group[i] >= 0; value NaN: left out; ms_repeat_deviations), binned by snr in
 * bins [k w, (k + 1) w) (Du: w = 5) with the bins' RMS epsilon (ms_repeat_fit_snr; bins of
 * fewer than min_per_bin deviations are dropped), and the overall 1-sigma (RMS epsilon)
 * at snr >= snr_min (Du quotes S/N >= 10). bins is filled from scratch (free with
 * ms_repeat_fit_free). MS_ENOPROG when no bin has min_per_bin deviations. */
ms_status ms_laspm_repeat_precision(size_t n, const int64_t *group, const double *value,
                                    const double *snr, double bin_width, size_t min_per_bin,
                                    double snr_min, ms_repeat_fit *bins, double *eps_1sigma,
                                    size_t *n_eps, size_t *n_stars);

/* ------------------------------------------------------------------ NN check (Du 3.5) */

/* Du 3.5's neural-network cleaning: a fully connected network, library flux over
 * [wave_min, wave_max] (standardised per pixel over the training set; on the store's 1-A
 * grid 2801 inputs where Du's 69 km/s pixels give 1657) -> 512 -> 64 -> 3 standardised
 * labels, leaky ReLU (slope 0.01), mean squared error, Adam, minibatches, from src/nn. For
 * each of `rounds` rounds (Du: 5): a seeded random split of the entries still kept into a
 * training set and a test set (test_fraction), `steps` minibatch steps of training, and the
 * test entries whose prediction misses their label by >= cut (100 K, 0.2, 0.2 dex) are
 * removed (keep[i] = 0). keep[n] in/out: entries with 0 take no part. Du does not state
 * the activation, loss, optimiser or split: these are our choices. */
#define MS_LASPM_NN_MAX_ROUNDS 16
typedef struct {
    size_t rounds, steps, batch;
    double test_fraction, lr, cut[MS_LASPM_N_LABELS], wave_min, wave_max;
    uint64_t seed;
} ms_laspm_nn_opts;

typedef struct {
    size_t rounds;
    size_t n_train[MS_LASPM_NN_MAX_ROUNDS], n_test[MS_LASPM_NN_MAX_ROUNDS];
    size_t removed[MS_LASPM_NN_MAX_ROUNDS];
    double test_rms[MS_LASPM_NN_MAX_ROUNDS][MS_LASPM_N_LABELS]; /* RMS test residual */
    double final_loss[MS_LASPM_NN_MAX_ROUNDS];                  /* last steps' training loss */
} ms_laspm_nn_report;

void ms_laspm_nn_opts_default(ms_laspm_nn_opts *o);
ms_status ms_laspm_nn_check(const ms_laspm_library *lib, const ms_laspm_nn_opts *o,
                            uint8_t *keep, ms_laspm_nn_report *rep);

#endif
