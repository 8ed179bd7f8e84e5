/* slam.h: SLAM, the Stellar LAbel Machine (Zhang et al. 2020), as Li, Liu & Zhang 2021
 * ("L21", ApJS 253, 45) applied it to LAMOST M dwarfs: a data-driven forward model
 * labels -> flux made of one epsilon-SVR with an RBF kernel per wavelength pixel, trained
 * on real spectra with reference labels, then a maximum-likelihood fit of each spectrum.
 *
 * Library module: no MPI. The drivers (src/stage/train_slam.c, fit_slam.c, cv_slam.c)
 * distribute pixels or spectra over ranks.
 *
 * Training (L21 2, Eq. 1). Labels are standardised (mean 0, sd 1 over the training set) and,
 * per pixel, so are the fluxes. Per pixel the hyperparameters (C, epsilon, gamma) minimise
 * the k-fold cross-validated MSE over a grid (the public SLAM code's default: C = 2^-5..2^5,
 * epsilon in {0.01, 0.05, 0.1, 0.15}, gamma in {auto = 1/n_labels, 0.2, 0.25, 0.3, 0.5},
 * 8 folds). Each SVR is fitted by libsvm (Chang & Lin 2011). The RBF kernel depends only
 * on the labels and gamma, never on the pixel, so the trainer builds one Gram matrix per
 * gamma once and hands it to libsvm as a precomputed kernel for every pixel, fold, C and
 * epsilon ("kernel reuse"); the search can also run as a coordinate search (one
 * hyperparameter at a time from the grid's centre, repeated until nothing changes), which
 * visits ~1/6 of the grid.
 *
 * Model variance (L21 Eq. 3): sigma_model,j^2 = CV-MSE_j in flux units (the CV-MSE in
 * standardised flux times the pixel's flux variance). L21 writes "sigma_model is replaced
 * with CV-MSE_j"; an MSE is a variance, so we take sigma^2 = MSE (dimensionally a flux^2);
 * see README "SLAM".
 *
 * Prediction: f_j(x) = mean_j + scale_j (sum_i a_ji exp(-gamma_j |x - x_i|^2) + b_j), with
 * a_ji libsvm's dual coefficients (0 for non-support vectors) over the n training labels
 * x_i. The pixels sharing a gamma are evaluated with one BLAS call, and so is the analytic
 * Jacobian d f_j / d x = scale_j sum_i a_ji K_ji (-2 gamma_j)(x - x_i).
 *
 * Fit (L21 Eq. 3): chi^2(x) = sum_j (f_obs,j - f_j(x))^2 / (sigma_obs,j^2 + sigma_model,j^2)
 * (the log term of Eq. 3 does not depend on x because sigma_model does not), minimised by
 * bounded L-BFGS-B (lbfgsb.h) inside the training label box, from the labels of the
 * best-matching training spectrum (chi^2 over the training set, as SLAM's
 * predict_labels_quick); errors from the Gauss-Newton covariance (J^T W J)^-1. */
#ifndef MSTARS_SLAM_H
#define MSTARS_SLAM_H

#include "mstars/catalog.h"
#include "mstars/config.h"
#include "mstars/join.h"
#include "mstars/status.h"

#include <stddef.h>
#include <stdint.h>

#define MS_SLAM_MAX_LABELS 4
#define MS_SLAM_MAX_GRID 32
#define MS_SLAM_LABEL_LEN 16

/* ------------------------------------------------------------- hyperparameter search */

typedef enum {
    MS_SLAM_SEARCH_FULL = 0, /* every grid point (L21 / the public code) */
    MS_SLAM_SEARCH_COORD = 1 /* coordinate search over the same grid (see above) */
} ms_slam_search;

typedef struct {
    size_t n_c, n_eps, n_gamma;
    double c[MS_SLAM_MAX_GRID];        /* penalty C */
    double eps[MS_SLAM_MAX_GRID];      /* tube radius epsilon (standardised flux) */
    double gamma[MS_SLAM_MAX_GRID];    /* RBF width; 0 means "auto" = 1 / n_labels */
    int folds;                         /* k of the k-fold CV (>= 2) */
    ms_slam_search search;
    double tol;                        /* libsvm stopping tolerance (1e-3, as sklearn) */
    uint64_t seed;                     /* the random assignment of stars to folds */
} ms_slam_grid;

/* The public SLAM code's default grid, 8 folds, full search, tol 1e-3. */
void ms_slam_grid_default(ms_slam_grid *g);
/* Parse a list "a,b,c" or a log2 range "2^-5:2^5" (every integer power) into v[cap]. */
ms_status ms_slam_parse_list(const char *what, const char *text, double *v, size_t cap,
                             size_t *n);
/* One line describing the grid (model file attribute, logs). */
void ms_slam_grid_describe(const ms_slam_grid *g, char *buf, size_t len);

/* ------------------------------------------------------------- training set */

typedef struct {
    size_t n, n_pix, n_labels;
    char label_names[MS_SLAM_MAX_LABELS][MS_SLAM_LABEL_LEN];
    const double *labels;  /* [n, n_labels] physical units */
    const float *flux;     /* [n, n_pix] normalised flux */
    const float *ivar;     /* [n, n_pix]; a pixel with ivar <= 0 or NaN flux is left out */
    const uint8_t *mask;   /* [n_pix] 1: pixel not modelled (fit masks), or NULL */
} ms_slam_train_set;

/* A training set built from a spectra store joined to a reference label table (CSV). */
typedef struct {
    const char *store;      /* spectra store (mstars ingest) */
    const char *labels;     /* reference label table (CSV) */
    const char *label_cols; /* e.g. "teff,logg,fe_h" (2-4 columns of the table) */
    const char *key;        /* "auto" (default; "obsid" is the same): obsid, key or position
                               (join.h); "file": base name of /meta/filename */
    const char *cuts;       /* "col:min:max,..." on table columns (open bounds), or NULL */
    const char *snr_col;    /* store meta S/N column for min_snr (default snr_i) */
    double min_snr;
    double radius;          /* arcsec, position joins (join.radius_arcsec; <= 0: default) */
} ms_slam_ts_opts;

typedef struct {
    size_t n, n_pix, n_labels;
    char label_names[MS_SLAM_MAX_LABELS][MS_SLAM_LABEL_LEN];
    double *labels;         /* [n, n_labels] */
    float *flux, *ivar;     /* [n, n_pix] */
    uint8_t *mask;          /* [n_pix] the store's fit mask */
    double *wavelength;     /* [n_pix] */
    size_t *store_row;      /* [n] */
    double *snr;            /* [n] */
    char (*obsid)[32];      /* [n] the table's obsid (or key) */
} ms_slam_trainset;

/* Join, cut, read (serial). Errors name the store, table and column. */
ms_status ms_slam_trainset_load(const ms_slam_ts_opts *o, ms_slam_trainset *s);
void ms_slam_trainset_free(ms_slam_trainset *s);
/* The rows with keep[i] != 0, copied. */
ms_status ms_slam_trainset_subset(const ms_slam_trainset *src, const uint8_t *keep,
                                  ms_slam_trainset *dst);
/* A view for the trainer (valid while s lives). */
ms_slam_train_set ms_slam_trainset_view(const ms_slam_trainset *s);

/* Content hash of a training set (labels, fluxes, ivars, mask, label names), hex [17]. */
void ms_slam_train_hash(const ms_slam_train_set *t, char hex[17]);

/* The result of one pixel's search. */
typedef struct {
    double c, epsilon, gamma;  /* chosen hyperparameters (gamma resolved: never 0) */
    double cv_mse;             /* k-fold CV MSE in STANDARDISED flux (Eq. 1); NaN: no model */
    double flux_mean, flux_scale; /* the pixel's standardisation */
    int32_t n_train;           /* training spectra usable at this pixel */
    int32_t n_fits;            /* SVR fits made by the search */
    int32_t status;            /* 0 ok, 1 masked, 2 too few spectra, 3 flat flux */
} ms_slam_pixel;

typedef struct ms_slam_trainer ms_slam_trainer;

/* Standardise the labels, assign folds, build the Gram matrix of every gamma of the grid.
 * `t` must stay valid while the trainer is used. */
ms_status ms_slam_trainer_alloc(const ms_slam_train_set *t, const ms_slam_grid *g,
                                ms_slam_trainer **out);
void ms_slam_trainer_free(ms_slam_trainer *tr);
/* The label standardisation (mean, sd over the training set) [n_labels]. */
const double *ms_slam_trainer_label_mean(const ms_slam_trainer *tr);
const double *ms_slam_trainer_label_scale(const ms_slam_trainer *tr);
/* Fold of training spectrum i (0..folds-1). */
int ms_slam_trainer_fold(const ms_slam_trainer *tr, size_t i);

/* The hyperparameter search of pixel j (L21 Eq. 1). Depends only on the training set, the
 * grid and j: identical on any rank. Not thread safe per trainer. */
ms_status ms_slam_train_pixel(ms_slam_trainer *tr, size_t j, ms_slam_pixel *res);
/* The final SVR of pixel j at the chosen hyperparameters: coef [n] (dual coefficients per
 * training spectrum, 0 for non-support vectors, standardised flux) and *b. A pixel without
 * a model (status != 0) gets coef 0 and b 0. */
ms_status ms_slam_fit_pixel(ms_slam_trainer *tr, size_t j, const ms_slam_pixel *hp,
                            double *coef, double *b);

/* ------------------------------------------------------------- the model */

typedef struct {
    size_t n_pix, n_train, n_labels;
    char label_names[MS_SLAM_MAX_LABELS][MS_SLAM_LABEL_LEN];
    double label_mean[MS_SLAM_MAX_LABELS], label_scale[MS_SLAM_MAX_LABELS];
    double label_min[MS_SLAM_MAX_LABELS], label_max[MS_SLAM_MAX_LABELS]; /* physical */
    double error_floor[MS_SLAM_MAX_LABELS]; /* added in quadrature to the fit's errors (0 until
                                               `cv-slam --calibrate` sets it) */
    double *wavelength;    /* [n_pix] */
    double *x;             /* [n_train, n_labels] standardised training labels */
    double *coef;          /* [n_pix, n_train] */
    double *b, *c, *epsilon, *gamma, *cv_mse, *flux_mean, *flux_scale; /* [n_pix] */
    int32_t *n_fit, *status; /* [n_pix] */
    float *train_flux;     /* [n_train, n_pix] training spectra (the start of a fit) */
    float *train_ivar;     /* [n_train, n_pix] */
    char train_hash[17];
    char grid[512];        /* ms_slam_grid_describe of the search */
    /* derived by ms_slam_model_prepare (not stored) */
    double *sigma2_model;  /* [n_pix] CV-MSE in flux units (Eq. 3 sigma_model^2); NaN: none */
    size_t n_gval;
    double gval[MS_SLAM_MAX_GRID];
    size_t *order;         /* [n_pix] pixels grouped by gamma */
    size_t gstart[MS_SLAM_MAX_GRID + 1];
    double *coef_g;        /* [n_pix, n_train] rows in `order` */
} ms_slam_model;

void ms_slam_model_init(ms_slam_model *m);
/* Allocate the stored arrays for the given sizes (zeroed). */
ms_status ms_slam_model_alloc(ms_slam_model *m, size_t n_pix, size_t n_train, size_t n_labels);
void ms_slam_model_free(ms_slam_model *m);
/* Derive the prediction layout (grouping by gamma, model variance). Called by the reader;
 * call it after filling a model in memory. */
ms_status ms_slam_model_prepare(ms_slam_model *m);
/* Serial HDF5 through the project's h5 layer (written under .partial, committed). Root
 * attribute "model" = "slam"; /slam/... datasets; provenance from cfg and command. */
ms_status ms_slam_model_write(const char *path, const ms_slam_model *m, const ms_config *cfg,
                              const char *command);
ms_status ms_slam_model_read(const char *path, ms_slam_model *m);
/* Rewrite a model file's error floor [n_labels] in place (cv-slam --calibrate). */
ms_status ms_slam_model_set_error_floor(const char *path, const double *floor, size_t n_labels);

/* Fill m from a training's per-pixel results: px [n_pix], coef [n_pix, n], b [n_pix]
 * (ms_slam_fit_pixel), the wavelengths [n_pix] (NULL: pixel numbers). Prepared. */
ms_status ms_slam_model_assemble(const ms_slam_train_set *t, const ms_slam_trainer *tr,
                                 const ms_slam_grid *g, const double *wavelength,
                                 const ms_slam_pixel *px, const double *coef, const double *b,
                                 ms_slam_model *m);
/* Search and fit every pixel in one process (tests, small sets; the MPI driver is
 * `mstars train-slam`). */
ms_status ms_slam_train_serial(const ms_slam_train_set *t, const ms_slam_grid *g,
                               const double *wavelength, ms_slam_model *m);

/* Prediction workspace. */
typedef struct ms_slam_ws ms_slam_ws;
ms_status ms_slam_ws_alloc(const ms_slam_model *m, ms_slam_ws **out);
void ms_slam_ws_free(ms_slam_ws *ws);
/* The model spectrum at standardised labels z [n_labels]: flux [n_pix] and, when jac is not
 * NULL, d flux / d z [n_pix, n_labels]. Pixels without a model give NaN. */
void ms_slam_predict(const ms_slam_model *m, ms_slam_ws *ws, const double *z, double *flux,
                     double *jac);

/* ------------------------------------------------------------- the fit */

enum {
    MS_SLAM_FLAG_NOT_FITTED = 1u << 0, /* store status not 0, or no usable pixel */
    MS_SLAM_FLAG_FAILED = 1u << 1,     /* the optimiser failed (non-finite chi^2, ...) */
    MS_SLAM_FLAG_AT_BOUND = 1u << 2,   /* a label ended at the training box's edge */
    MS_SLAM_FLAG_MAX_ITER = 1u << 3,   /* iteration limit reached */
    MS_SLAM_FLAG_NO_ERRORS = 1u << 4,  /* J^T W J not positive definite */
    MS_SLAM_N_FLAGS = 5
};
extern const char *const ms_slam_flag_names[MS_SLAM_N_FLAGS];

typedef struct {
    double label[MS_SLAM_MAX_LABELS];  /* physical units, model label order */
    double error[MS_SLAM_MAX_LABELS];
    double start[MS_SLAM_MAX_LABELS];
    double chi2, chi2_red;
    int32_t n_pix, iterations, start_index;
    uint32_t flags;
} ms_slam_result;

typedef struct {
    int max_iter;           /* L-BFGS-B iterations (200) */
    double factr, pgtol;    /* L-BFGS-B tolerances (1e7, 1e-6) */
    long exclude_train;     /* >= 0: training spectrum not used as a start (self-fits) */
} ms_slam_fit_opts;
void ms_slam_fit_opts_default(ms_slam_fit_opts *o);

/* Fit one spectrum: flux, ivar [n_pix] on the model's grid; mask [n_pix] (1: skip) or NULL. */
ms_status ms_slam_fit(const ms_slam_model *m, ms_slam_ws *ws, const ms_slam_fit_opts *o,
                      const float *flux, const float *ivar, const uint8_t *mask,
                      ms_slam_result *r);

/* The error floor F of one label from cross-validation: the smallest F >= 0 with
 * rms(delta_i / sqrt(err_i^2 + F^2)) <= 1 over the finite pairs (0 when the formal errors
 * already cover the deltas). delta [n] = estimate - reference, err [n] formal errors. */
double ms_slam_error_floor(const double *delta, const double *err, size_t n);

/* ------------------------------------------------------------- the catalog row */

/* A row of a `fit-slam` catalog: identification, then the `slam` column group. Labels go to
 * the catalog slot of their name: teff, logg, m_h (also for fe_h / feh / mh), alpha_m;
 * NaN for labels the model does not have. */
typedef struct {
    int64_t id;
    char obsid[32];
    char key[MS_KEY_LEN]; /* the store's /meta/key (join.h) */
    double ra, dec, snr_r, snr_i;
    int32_t store_status;
    double label[4], error[4], start[4]; /* teff, logg, m_h, alpha_m */
    double chi2, chi2_red;
    int32_t n_pix, iterations;
    uint32_t flags;
} ms_slam_row;

/* The identification columns of a fit-slam catalog (id, obsid, key, ra, dec, snr_r, snr_i,
 * store_status), {NULL}-terminated, over ms_slam_row. */
extern const ms_catalog_column ms_slam_id_columns[];
/* The catalog slot (0..3) of a label name, -1 when none. */
int ms_slam_label_slot(const char *name);

#endif
