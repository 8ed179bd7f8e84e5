/* payne.h: The Payne spectral emulator (Ting et al. 2019; Z25 2.2; method.md section 3).
 *
 * The network: scaled labels x [D] -> (dense -> leaky ReLU) x n_layers -> dense -> flux
 * [n_pix], hidden width H, no output activation. Weights in PyTorch's (out, in) layout:
 * w0 [H, D], b0 [H], w1 [H, H], ..., w_out [n_pix, H], b_out [n_pix]; all of them in one
 * flat ms_nn_params buffer (so that gradients all-reduce in one call).
 *
 * Three batched evaluations, all GEMM-shaped (float32, OpenBLAS):
 *   - ms_payne_forward:  flux [B, n_pix];
 *   - ms_payne_jacobian: flux and the full Jacobian jac [B, D, n_pix], where
 *     jac[b][j][p] = d flux[b][p] / d x[b][j] (each row one derivative spectrum; J^T of
 *     the spectrum, i.e. J (n_pix x D) stored column-major). Forward mode: the D tangent
 *     directions travel with the primal through every layer, so the whole Jacobian costs
 *     one GEMM with B (D + 1) rows per layer;
 *   - ms_payne_vjp: after a forward pass, gx [B, D] += v [B, n_pix] . J (one reverse
 *     sweep: a chi^2 gradient without the full Jacobian).
 * Training uses ms_payne_backward (parameter gradients, accumulated into params.grad).
 *
 * The emulator (ms_emulator) adds what a model file holds: label names and their
 * training range (the scaling x = (y - min) / (max - min) - 0.5), the wavelength grid,
 * the effective configuration of the training run (preprocessing settings), training
 * history, per-validation-model accuracy (Z25 Eq. 1) and a content hash. */
#ifndef MSTARS_PAYNE_H
#define MSTARS_PAYNE_H

#include "mstars/config.h"
#include "mstars/comm.h"
#include "mstars/nn.h"
#include "mstars/status.h"

#include <stddef.h>
#include <stdint.h>

#define MS_PAYNE_MAX_LABELS 8
#define MS_PAYNE_MAX_LAYERS 16
#define MS_PAYNE_LABEL_LEN 32

typedef struct {
    size_t n_labels, n_hidden, n_layers, n_pix;
    float slope;                           /* leaky ReLU negative slope */
    ms_nn_params params;                   /* all weights and biases, and their gradients */
    size_t iw[MS_PAYNE_MAX_LAYERS + 1];    /* tensor indices: hidden layers, then output */
    size_t ib[MS_PAYNE_MAX_LAYERS + 1];
} ms_payne;

/* Declare and allocate the network (zero weights). Tensor names: w_array_<l>, b_array_<l>
 * for l = 0..n_layers (the last one is the output layer), as in The Payne's npz files. */
ms_status ms_payne_init(ms_payne *net, size_t n_labels, size_t n_hidden, size_t n_layers,
                        size_t n_pix, float slope);
/* PyTorch's nn.Linear default initialisation (The Payne's), from rng. */
void ms_payne_init_weights(ms_payne *net, ms_nn_rng *rng);
void ms_payne_free(ms_payne *net);
/* Weight / bias views of layer l (0..n_layers). */
float *ms_payne_w(const ms_payne *net, size_t l);
float *ms_payne_b(const ms_payne *net, size_t l);

/* Workspace for batches of up to max_batch spectra (activations, gradients, and with
 * MS_PAYNE_WS_JACOBIAN the tangent stacks). One workspace per thread.
 * MS_PAYNE_WS_EXACT: forward, Jacobian and vjp compute every spectrum by
 * ms_nn_gemm_nt_exact (nn.h), so that its numbers do not depend on the batch it travels in
 * (a BLAS GEMM's rows change in the last bits with the batch size); the workspace keeps
 * transposed copies of the weights for the vjp: allocate it once the weights are final. For
 * inference (the fit); training keeps OpenBLAS. */
#define MS_PAYNE_WS_JACOBIAN 1
#define MS_PAYNE_WS_EXACT 2
typedef struct ms_payne_ws ms_payne_ws;
ms_status ms_payne_ws_alloc(const ms_payne *net, size_t max_batch, int flags,
                            ms_payne_ws **ws);
void ms_payne_ws_free(ms_payne_ws *ws);

/* flux [B, n_pix] from scaled labels x [B, D]. Keeps the activations in ws for
 * ms_payne_backward / ms_payne_vjp. MS_EINVAL when B exceeds the workspace. */
ms_status ms_payne_forward(const ms_payne *net, ms_payne_ws *ws, const float *x, size_t B,
                           float *flux);
/* flux [B, n_pix] (may be NULL) and jac [B, D, n_pix] = d flux / d x (see above). Needs a
 * workspace allocated with jacobian = 1. Does not keep state for backward/vjp. */
ms_status ms_payne_jacobian(const ms_payne *net, ms_payne_ws *ws, const float *x, size_t B,
                            float *flux, float *jac);
/* Vector-Jacobian product after ms_payne_forward(x, B) on the same ws:
 * gx [B, D] += v [B, n_pix] . d flux / d x. */
ms_status ms_payne_vjp(const ms_payne *net, ms_payne_ws *ws, const float *v, size_t B,
                       float *gx);
/* Parameter gradients after ms_payne_forward(x, B) on the same ws: net->params.grad +=
 * d(sum dflux . flux)/d params; gx [B, D] (may be NULL) += the label gradient. */
ms_status ms_payne_backward(ms_payne *net, ms_payne_ws *ws, const float *x, const float *dflux,
                            size_t B, float *gx);

/* ------------------------------------------------------------------------------------- */
/* The emulator: network + scaling + provenance, as stored in a model file. */
typedef struct {
    ms_payne net;
    char labels[MS_PAYNE_MAX_LABELS][MS_PAYNE_LABEL_LEN]; /* grid label names (teff, ...) */
    double x_min[MS_PAYNE_MAX_LABELS];                    /* training range of each label */
    double x_max[MS_PAYNE_MAX_LABELS];
    double *wavelength;       /* [n_pix] (A), owned */
    char *config_text;        /* effective configuration of the training run, owned (or NULL) */
    char content_hash[17];    /* ms_emulator_hash as hex, set by write and checked by read */
    /* training record */
    char grid_path[MS_CFG_STR_MAX];
    char grid_hash[17];       /* content hash of the grid store's flux (hex) */
    char loss[8], optimizer[8];
    double learning_rate;
    long batch_size, epochs_run, best_epoch, seed, ranks;
    double best_val_loss;     /* mean |F - F_recon| on the validation set, best weights */
    double train_seconds;
    size_t n_history;         /* validation points */
    double *hist_epoch, *hist_train_loss, *hist_val_loss; /* [n_history] owned */
    /* accuracy on the validation models (Z25 Eq. 1), best weights */
    size_t n_val;
    int64_t *val_index;       /* [n_val] rows of the grid store */
    double *val_labels;       /* [n_val, n_labels] physical labels */
    double *val_accuracy;     /* [n_val] mean_p |F_model - F_recon| / F_model */
    /* [n_pix] or NULL: the emulator's error per pixel, RMS over the validation models of
     * F_model - F_recon (normalised flux); pix_var its square (computed on read) */
    double *pix_err, *pix_var;
    /* the grid store's quality gate (grid_quality.h), copied at training: -1 unknown
     * (grid store without it), 0 fail, 1 pass; the one-line verdict */
    int grid_quality_pass;
    char grid_quality[400];
    char preprocess_hash[17]; /* the grid store's preprocess_hash ("" unknown) */
    size_t n_train;
} ms_emulator;

/* Zero everything (no network). */
void ms_emulator_init(ms_emulator *e);
void ms_emulator_free(ms_emulator *e);
size_t ms_emulator_n_labels(const ms_emulator *e);
size_t ms_emulator_n_pix(const ms_emulator *e);
/* Index of a label name; -1 when the emulator does not take it. */
int ms_emulator_label_index(const ms_emulator *e, const char *name);

/* x [B, D] = (y - min) / (max - min) - 0.5 from physical labels y [B, D]. */
void ms_emulator_scale(const ms_emulator *e, const double *y, size_t B, float *x);
/* Spectra at physical labels y [B, D]: flux [B, n_pix] and, when jac is not NULL,
 * jac [B, D, n_pix] = d flux / d y in physical units (per K, per dex). Any B: it runs in
 * chunks of up to 64, so ws needs max_batch >= min(B, 64), and jacobian = 1 for jac. */
ms_status ms_emulator_predict(const ms_emulator *e, ms_payne_ws *ws, const double *y, size_t B,
                              float *flux, float *jac);
/* 64-bit FNV-1a over the architecture, weights, label names, scaling and wavelengths. */
uint64_t ms_emulator_hash(const ms_emulator *e);

/* Z25 Eq. 1 for one model: mean over pixels of |F_model - F_recon| / F_model (pixels
 * with F_model <= 0 or non-finite are skipped; NaN when none is left). */
double ms_emulator_eq1(const float *f_model, const float *f_recon, size_t n_pix);

/* Model file (src/io/emulator_h5.c, HDF5 through h5.h). write: serial, call on one rank;
 * the file appears atomically (<path>.partial, then rename). read: every array owned by
 * e; the content hash is recomputed and compared; a missing, incomplete or corrupt file
 * fails with a message naming it. */
ms_status ms_emulator_write(const ms_emulator *e, const char *path, const ms_config *cfg,
                            const char *command);
ms_status ms_emulator_read(const char *path, ms_emulator *e);

/* ------------------------------------------------------------------------------------- */
/* Training (src/nn/payne_train.c), data-parallel over the MPI ranks (par.h): each rank
 * takes a disjoint slice of every global mini-batch; gradients of the summed loss are
 * all-reduced in one call and every rank applies the same optimizer step, so the result
 * does not depend on the rank count beyond float rounding. Collective: all ranks call it
 * with the same data. */
typedef struct {
    const float *flux;      /* [n_models, n_pix] continuum-normalised training spectra */
    const double *labels;   /* [n_models, n_labels] physical labels */
    const int64_t *rows;    /* [n_models] rows of the grid store (for the record), or NULL */
    size_t n_models, n_pix, n_labels;
} ms_payne_data;

typedef struct {
    ms_cfg_emulator cfg;       /* architecture and training settings */
    long seed;                 /* general.seed: split, shuffles and initial weights */
    const char *checkpoint;    /* checkpoint path (NULL: none) */
    int resume;                /* continue from the checkpoint */
    double max_seconds;        /* stop (with a checkpoint) after this wall time; 0: none */
    int quiet;                 /* no progress lines */
    const ms_comm *comm;       /* the ranks training together (NULL: this process alone) */
} ms_payne_train_opts;

/* A training set read from a grid store (`mstars ingest-grid`; store.h): the usable rows
 * (/meta/status == 0 when present, finite labels and flux) with the chosen labels. */
typedef struct {
    ms_payne_data data;   /* views of the arrays below */
    float *flux;          /* [n_models, n_pix] owned */
    double *labels;       /* [n_models, n_labels] owned */
    int64_t *rows;        /* [n_models] owned: rows of the store */
    double *wavelength;   /* [n_pix] owned */
    size_t n_rows;        /* rows in the store, usable or not */
    char names[MS_PAYNE_MAX_LABELS][MS_PAYNE_LABEL_LEN];
    int grid_quality_pass;  /* the store's quality gate: -1 not measured, 0 fail, 1 pass */
    char grid_quality[400]; /* its one-line verdict (rank 0 only) */
    char preprocess_hash[17]; /* the store's preprocess_hash ("" unknown; rank 0 only) */
} ms_payne_grid;

/* Split "teff,logg,..." into names (each one of teff, logg, m_h, alpha_m, no repeats). */
ms_status ms_emulator_parse_labels(const char *csv, char names[][MS_PAYNE_LABEL_LEN],
                                   size_t *n);
/* Read the grid store at path (serial; src/io/emulator_h5.c). Errors name the file and
 * dataset. */
ms_status ms_payne_grid_load(const char *path, const char *labels_csv, ms_payne_grid *g);
/* Collective over comm: rank 0's loaded grid to every rank (the others pass a zeroed g). */
ms_status ms_payne_grid_bcast(ms_payne_grid *g, const ms_comm *comm);
void ms_payne_grid_free(ms_payne_grid *g);

/* Train e->net from data; fills the scaling, the training record, the history and the
 * validation accuracy of e (labels, wavelength and config_text are left to the caller).
 * e must be freshly initialised (ms_emulator_init) with e->labels filled. */
ms_status ms_payne_train(const ms_payne_data *data, const ms_payne_train_opts *opt,
                         ms_emulator *e);

#endif
