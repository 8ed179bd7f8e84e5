/* cnn.h: the Li et al. 2025 (L25) CNN ensembles for Teff, log g, [M/H] and [alpha/M] of
 * LAMOST M dwarfs and giants (seeds_summary.md 1.3 Module 4, 1.4, 1.5; after Zheng et al.
 * 2020). A library module on the nn engine (nn.h): no MPI; trainers take an ms_comm.
 *
 * The network (L25 Fig. 2: four convolutions, four max-poolings, one fully connected layer,
 * ReLU): x [B, 1, L0] -> (conv k_i "same" -> ReLU -> max-pool p_i) x 4 -> flatten -> dense ->
 * y [B, n_out]. L25 does not give kernel sizes, channels or the FC width; ours
 * (ms_cnn_arch_default, recorded in every model file) are justified in src/cnn/cnn.c.
 *
 * The L25 view of a spectrum (ms_cnn_view): bad pixels dropped (filled by linear
 * interpolation from their good neighbours), rest frame, 1 A linear grid, z-scored per
 * spectrum ((x - mean) / std over the view). Regression labels are z-scored with the
 * training set's mean and std (stored in the model). Ensemble (L25 1.3 Module 4): K random
 * equal folds; model k trains on the other K-1 folds and stops early on fold k; value = mean
 * of the K predictions, error = their standard deviation. */
#ifndef MSTARS_CNN_H
#define MSTARS_CNN_H

#include "mstars/comm.h"
#include "mstars/config.h"
#include "mstars/nn.h"
#include "mstars/status.h"

#include <stddef.h>
#include <stdint.h>

#define MS_CNN_N_CONV 4
#define MS_CNN_MAX_OUT 16
#define MS_CNN_MAX_MODELS 32
#define MS_CNN_LABEL_LEN 32

/* ------------------------------------------------------------------ architecture */
typedef struct {
    size_t n_in;                    /* input length L0 (pixels of the view) */
    size_t channels[MS_CNN_N_CONV]; /* conv output channels */
    size_t kernel[MS_CNN_N_CONV];   /* conv kernel (odd; padding kernel/2: "same" length) */
    size_t pool[MS_CNN_N_CONV];     /* max-pool kernel = stride */
    size_t n_out;                   /* outputs of the dense layer (labels or classes) */
} ms_cnn_arch;

/* Our choice for an input of n_in pixels and n_out outputs: channels 8, 16, 32, 32; kernels
 * 9, 7, 5, 3; pools 4, 4, 2, 2 (see cnn.c for why). */
ms_cnn_arch ms_cnn_arch_default(size_t n_in, size_t n_out);
/* MS_EINVAL naming the problem when a layer does not fit (length 0 after a pool, even
 * kernel, too many outputs). */
ms_status ms_cnn_arch_check(const ms_cnn_arch *a);
/* Length after conv/pool layer i (i = 0..3), and the dense layer's input size. */
size_t ms_cnn_len(const ms_cnn_arch *a, int i);
size_t ms_cnn_fc_in(const ms_cnn_arch *a);

typedef struct {
    ms_cnn_arch arch;
    ms_nn_params params;              /* conv<i>.weight [c_out, c_in, k], conv<i>.bias, fc.weight
                                         [n_out, fc_in], fc.bias (PyTorch's names and layouts) */
    size_t iw[MS_CNN_N_CONV + 1], ib[MS_CNN_N_CONV + 1]; /* tensor indices; [4] = fc */
} ms_cnn;

ms_status ms_cnn_init(ms_cnn *net, const ms_cnn_arch *a);
/* PyTorch's default initialisation of Conv1d and Linear (U(-1/sqrt(fan_in), ..)). */
void ms_cnn_init_weights(ms_cnn *net, ms_nn_rng *rng);
void ms_cnn_free(ms_cnn *net);

/* Activations and scratch for batches of up to max_batch spectra (one per thread). */
typedef struct ms_cnn_ws ms_cnn_ws;
ms_status ms_cnn_ws_alloc(const ms_cnn_arch *a, size_t max_batch, ms_cnn_ws **ws);
void ms_cnn_ws_free(ms_cnn_ws *ws);

/* y [B, n_out] from x [B, n_in]; keeps the activations for ms_cnn_backward. Every row is
 * computed alone (per-spectrum GEMMs), so a row's output does not depend on the batch. */
ms_status ms_cnn_forward(const ms_cnn *net, ms_cnn_ws *ws, const float *x, size_t B, float *y);
/* After ms_cnn_forward(x, B) on ws: grad [params.n] += d(sum dy . y)/d params. */
ms_status ms_cnn_backward(const ms_cnn *net, ms_cnn_ws *ws, const float *dy, size_t B,
                          float *grad);

/* ------------------------------------------------------------------ the L25 view */
typedef struct {
    double lo, step; /* first pixel (A) and step (A): pixel j at lo + j step */
    size_t n;        /* pixels */
} ms_cnn_view_spec;

/* The L25 view of one spectrum given on the grid wave [n_pix] (rest frame, A): flux [n_pix]
 * (physical or normalised) and ivar [n_pix] (pixels with ivar <= 0 or non-finite values are
 * dropped), linearly interpolated onto v, z-scored over the view. Pixels of v outside the
 * good pixels' span take the nearest good value. Returns MS_EFORMAT when fewer than
 * min_good of v's pixels fall between good pixels or the view is flat. out [v->n]. */
ms_status ms_cnn_view(const ms_cnn_view_spec *v, const double *wave, const float *flux,
                      const float *ivar, size_t n_pix, double min_good, float *out);

/* ------------------------------------------------------------------ the L25 input */
/* L25's input (seeds_summary.md 1.2 step 4a): the native spectrum with its ormask pixels
 * dropped, in the rest frame of the chosen RV, on a 1 A linear grid 3900-8899 A (5000
 * pixels), z-scored per spectrum. MS_CNN_INPUT names this definition in the model files. */
#define MS_CNN_L25_LO 3900.0
#define MS_CNN_L25_HI 8899.0
#define MS_CNN_INPUT "native pixels, mask != 0 (ormask, andmask, no data) dropped, rest frame, 1 A linear, z-scored"
#define MS_CNN_MIN_GOOD 0.8 /* a view needs >= 80% of its pixels between good native pixels */

/* The velocity an input was made with (ms_cnn_choose_rv); 0: none (no input made). */
#define MS_CNN_RV_NONE 0
#define MS_CNN_RV_CATALOG 1  /* the rv catalog's rv_adopted (rv_flag = 1) */
#define MS_CNN_RV_PIPELINE 2 /* the LAMOST pipeline Z * c */
/* The velocity definitions a model records (attribute input_velocity). */
#define MS_CNN_VEL_RV "rv_adopted where rv_flag = 1, else pipeline Z*c"
#define MS_CNN_VEL_PIPELINE "pipeline Z*c"
#define MS_CNN_VEL_NONE "none (observed frame)" /* the classifiers (cnn_class.h) */

/* The L25 grid: 3900-8899 A at 1 A. */
ms_cnn_view_spec ms_cnn_view_l25(void);

/* The chosen RV of a row: rv_adopted when rv_flag == 1 and it is finite (pass NAN, 0 when
 * there is no rv catalog), else the pipeline z*c when finite and |z c| < 3000 km/s (ingest's
 * rule for Z), else none. *v_kms = the velocity (NaN for none); returns MS_CNN_RV_*. */
int ms_cnn_choose_rv(double rv_adopted, int32_t rv_flag, double z, double *v_kms);

/* The L25 input of one spectrum from its native pixels (native.h, the store's native datasets):
 * loglam [n_pix] (log10 vacuum A, observed frame), flux, ivar, mask [n_pix]; pixels with any
 * mask bit (ormask, andmask, no data) or ivar <= 0 are dropped; wavelengths to the rest frame
 * of v_kms (relativistic Doppler, spec.h); then ms_cnn_view onto v with MS_CNN_MIN_GOOD.
 * MS_EFORMAT when no view can be made (too few good pixels, flat), MS_EINVAL for a
 * non-finite velocity. No MPI; allocates its own scratch. out [v->n]. */
ms_status ms_cnn_native_view(const ms_cnn_view_spec *v, const double *loglam, const float *flux,
                             const float *ivar, const uint8_t *mask, size_t n_pix, double v_kms,
                             float *out);

/* ------------------------------------------------------------------ the ensemble */
typedef struct {
    size_t n_models;
    ms_cnn net[MS_CNN_MAX_MODELS];
    size_t n_labels;
    char labels[MS_CNN_MAX_OUT][MS_CNN_LABEL_LEN];
    double y_mean[MS_CNN_MAX_OUT], y_std[MS_CNN_MAX_OUT]; /* label z-scoring */
    ms_cnn_view_spec view;
    char view_source[128]; /* the input definition (MS_CNN_INPUT) */
    char input_velocity[64]; /* the velocity definition (MS_CNN_VEL_*) */
    /* Error calibration (ms_cnn_calibrate): e_total^2 = (err_scale std)^2 + err_floor^2 per
     * label; calibrated = 0: none (e_total = std). */
    int calibrated;
    double err_scale[MS_CNN_MAX_OUT], err_floor[MS_CNN_MAX_OUT];
    double calib_pull_rstd[MS_CNN_MAX_OUT]; /* robust std of the raw pulls r / std, before */
    char cls[8];           /* "dM" or "gM"; a classifier's task ("spt", "wdm", "dmgm") */
    int softmax;           /* 1: a classifier (cnn_class.h): labels are the class names, the
                              outputs logits, y_mean 0 and y_std 1 */
    char content_hash[17];
    /* training record */
    long seed, ranks, epochs_max, batch;
    double lr;
    long best_epoch[MS_CNN_MAX_MODELS];
    double best_val[MS_CNN_MAX_MODELS]; /* MSE of the z-scored labels on the held-out fold */
    double train_seconds;
    size_t n_train;        /* training spectra */
    int64_t *train_rows;   /* [n_train] rows of the spectra store, owned */
    int32_t *train_fold;   /* [n_train] the fold each one validated */
    float *oof;            /* [n_train, n_labels] out-of-fold prediction (physical units) */
    float *oof_std;        /* [n_train, n_labels] std of the K-1 models that trained on it, or NULL */
    double *train_rv;      /* [n_train] km/s of the input, or NULL */
    int32_t *train_rv_source; /* [n_train] MS_CNN_RV_*, or NULL */
} ms_cnn_ensemble;

void ms_cnn_ensemble_init(ms_cnn_ensemble *e);
void ms_cnn_ensemble_free(ms_cnn_ensemble *e);
/* Label index by name, -1 when absent. */
int ms_cnn_label_index(const ms_cnn_ensemble *e, const char *name);

/* mean, std [B, n_labels] (physical units) from views x [B, n_in]: every model runs on the
 * batch (GEMM-shaped convolutions), the mean and the standard deviation (divided by K - 1;
 * 0 for one model) over the K models are taken in model order. ws for >= B spectra,
 * scratch [K B n_labels]. */
ms_status ms_cnn_ensemble_predict(const ms_cnn_ensemble *e, ms_cnn_ws *ws, const float *x,
                                  size_t B, float *scratch, double *mean, double *std);

/* The calibrated error of a label j from the ensemble std (e_total^2 = (s std)^2 + floor^2;
 * std itself when the ensemble is not calibrated). */
double ms_cnn_calibrated_error(const ms_cnn_ensemble *e, size_t j, double std);

/* 64-bit FNV-1a over the architecture, weights, labels, scaling, input definition and
 * error calibration. */
uint64_t ms_cnn_ensemble_hash(const ms_cnn_ensemble *e);

/* Model file (src/cnn/cnn_h5.c): serial, one rank; atomic (<path>.partial, then rename);
 * the content hash is written and checked. cfg NULL: no provenance but the command. */
ms_status ms_cnn_ensemble_write(const ms_cnn_ensemble *e, const char *path,
                                const ms_config *cfg, const char *command);
ms_status ms_cnn_ensemble_read(const char *path, ms_cnn_ensemble *e);

/* ------------------------------------------------------------------ training */
typedef struct {
    const float *x;      /* [n, n_in] views */
    const double *y;     /* [n, n_labels] physical labels */
    const int64_t *rows; /* [n] store rows (record), or NULL */
    size_t n, n_in, n_labels;
} ms_cnn_data;

typedef struct {
    size_t folds;            /* ensemble size K (L25: 10) */
    size_t batch;            /* global mini-batch (L25: 128) */
    size_t shard;            /* spectra per gradient shard (fixed by the batch, not the ranks) */
    size_t max_epochs;
    size_t patience;         /* early stopping: epochs without a better validation loss */
    size_t lr_patience;      /* adaptive decay: epochs without improvement before lr *= factor */
    double lr, lr_factor, lr_min;
    long seed;
    const char *checkpoint;  /* NULL: none */
    int resume;
    double max_seconds;      /* 0: none; stop with a checkpoint (MS_EINTERRUPTED) */
    int quiet;
    const ms_comm *comm;     /* NULL: this process alone */
    size_t models;           /* train only the first `models` folds' models (0: all K); a
                                classifier trains 1 of K = 4 folds: L25's train:val 3:1 */
    const double *class_weight; /* non-NULL: classification (cnn_class.h): y one-hot [n, C],
                                   weighted softmax cross-entropy with these C weights */
} ms_cnn_train_opts;

/* L25's settings: 10 folds, batch 128, Adam lr 1e-3, factor 0.5 after 5 flat epochs (min
 * 1e-5), early stopping after 12, at most 200 epochs; shards of 16. */
void ms_cnn_train_opts_default(ms_cnn_train_opts *o);

/* Train the K-fold ensemble on d. e: initialised, with labels, view, view_source and cls set
 * by the caller; fills the networks, the label scaling and the training record. With
 * class_weight the loss is cnn_class.h's weighted cross-entropy, the labels are not scaled and
 * the out-of-fold predictions are class probabilities. Collective
 * over opt->comm (every rank passes the same data); the networks are bit-identical for any
 * rank count (ms_comm_sum_exact over fixed shards). */
ms_status ms_cnn_train(const ms_cnn_data *d, const ms_cnn_train_opts *opt, ms_cnn_ensemble *e);

/* ------------------------------------------------------------------ parameter_flag */
/* L25 Table 10: the recommended ranges (teff, logg, m_h, alpha_m) of a class ("dM", "gM");
 * lo/hi [4]. MS_EINVAL for another class. */
ms_status ms_cnn_class_ranges(const char *cls, double *lo, double *hi);

/* L25 1.5 parameter_flag over n rows: value [n, 4], error [n, 4] (teff, logg, m_h, alpha_m;
 * NaN where not predicted), snr_i [n]. Per S/N_i bin ((0,20], (20,50], (50,100], >100) and
 * label p a least-squares fit sigma_p ~ a0 + a1 S/N_i + a2 Teff + .. + a5 [alpha/M] (Eq. 3)
 * over the predicted rows; a row keeps flag 1 when every label's residual sigma_p - fit is
 * below mean + 3 std of the bin's residuals (Eq. 4) AND every value lies in the class's
 * Table 10 range; 0 when S/N_i <= 0 (or not finite) or a value is NaN. Labels the model does
 * not predict (all NaN, e.g. no [alpha/M]) are left out of both tests. flag [n]. */
ms_status ms_cnn_parameter_flag(const char *cls, size_t n, const double *value,
                                const double *error, const double *snr_i, int32_t *flag);

/* ------------------------------------------------------------------ honest errors */
/* Honest errors (src/cnn/calibrate.c): per label, fit e_total^2 = (s std)^2 + floor^2 to the
 * out-of-fold residuals r = oof - y of the training set, std = the spread of the K-1 models
 * that trained on the spectrum (the OOF model left out, so that std does not contain the
 * residual it is to predict): robust residual variances in quantile bins of std against the
 * bins' mean std^2 (non-negative least squares in s^2, floor^2), then both scaled so that the
 * pulls r / e_total have unit robust std (1.4826 MAD). Fills e->oof_std, err_scale, err_floor,
 * calib_pull_rstd and sets calibrated. d: the training data of ms_cnn_train (views x, labels
 * y); the folds are e->train_fold. */
ms_status ms_cnn_calibrate(ms_cnn_ensemble *e, const ms_cnn_data *d);
/* The fit alone: r [n], std [n] -> scale, floor (see above). */
ms_status ms_cnn_fit_error_model(const double *r, const double *std, size_t n, double *scale,
                                 double *floor);

#endif
