/* csn.h: Cycle-StarNet, unsupervised domain adaptation between the synthetic domain
 * (emulator spectra) and the observed domain (LAMOST), after O'Briain et al. (2021) as
 * used by Z25 section 3 (method.md section 4; docs/csn.md has the maths and choices).
 *
 * Architecture (every size from the `csn` configuration section; defaults O'Briain's):
 *
 *   E_synth, E_obs  conv (1 -> 32, k7, s4) -> conv (32 -> 64, k7, s4)         h   [64, l_h]
 *   E_sh            conv 128, 256, 512 (k7; s 4, 2, 2) -> 1x1 -> 25, inst.norm z_sh [25, L]
 *   E_sp            conv 32, 32, 32 (k7; s 4, 2, 2)    -> 1x1 -> 4,  inst.norm z_sp [4, L]
 *   D_sh            convT 25 -> 512 -> 256 -> 128 (mirrors E_sh)               [128, l_h]
 *   D_sp            convT 4 -> 32 -> 32 -> 32                                 [32, l_h]
 *   G_synth         convT 128 -> 64 -> 32 (mirrors E_synth) -> 1x1 -> 1        x [1, N]
 *   G_obs           convT on concat(D_sh, D_sp) = 160 -> 64 -> 32 -> 1x1 -> 1  x [1, N]
 *   C_synth, C_obs  spectrum: conv 16, 32, 64, 128, 256 (k7, s4); latent: 1x1 32 .. 512;
 *                   flattened, concatenated, one linear unit, sigmoid. C_synth sees z_sh,
 *                   C_obs sees concat(z_sh, z_sp).
 * Leaky ReLU (0.1) after every convolution except the 1x1 ones that make z and x; no
 * padding; instance norm without affine parameters; xavier-uniform conv weights with
 * biases 0.01 (the linear unit keeps PyTorch's default initialisation).
 *
 * Lengths: without padding, conv (l - k) / s + 1 and its transpose (l - 1) s + k invert
 * each other exactly only when (l - k) is a multiple of s at every layer. The encoder
 * stack therefore accepts exactly the lengths N(L) = the decoder stack applied to a
 * latent of length L (for the defaults N(L) = 256 L + 1023: 2815, 3071, ... pixels).
 * The n_pix pixels of a spectrum are padded to the smallest N(L) >= n_pix (length_mode
 * "pad", default: 2901 -> 3071, L = 8; the extra pixels, split evenly on both sides,
 * hold the mean flux and have no weight in the losses) or cropped to the largest
 * N(L) <= n_pix ("crop": 2901 -> 2815, L = 7; the outer pixels are not transferred and
 * pass through unchanged).
 *
 * Spectra are standardised, x = (f - mean) / std, with two global scalars. Every public
 * function below takes and returns normalised flux over the n_pix pixels; the
 * standardisation and the pad/crop happen inside.
 *
 * Parameters: the generator side (E_synth, E_obs, E_sh, E_sp, D_sh, D_sp, G_synth, G_obs)
 * in one flat ms_nn_params buffer, the two discriminators in another, so that a
 * data-parallel step all-reduces each side in one call. Weights use PyTorch's layouts and
 * the names of tensors are "<block>.<layer>.w|b" (block esyn, eobs, esh, esp, dsh, dsp,
 * gsyn, gobs; cs.x, cs.z, cs.fc, co.x, co.z, co.fc). */
#ifndef MSTARS_CSN_H
#define MSTARS_CSN_H

#include "mstars/comm.h"
#include "mstars/config.h"
#include "mstars/nn.h"
#include "mstars/status.h"

#include <stddef.h>
#include <stdint.h>

#define MS_CSN_MAX_LAYERS 12

typedef enum {
    MS_CSN_CONV = 1,  /* Conv1d, no padding */
    MS_CSN_CONVT = 2, /* ConvTranspose1d, no padding */
    MS_CSN_PW = 3     /* 1x1 convolution */
} ms_csn_kind;

typedef struct {
    ms_csn_kind kind;
    size_t c_in, c_out, kernel, stride, l_in, l_out;
    int act;          /* leaky ReLU after the layer */
    size_t iw, ib;    /* tensor indices in the side's ms_nn_params */
} ms_csn_layer;

/* A chain of layers, optionally closed by an instance norm (no affine parameters). */
typedef struct {
    char name[16];
    size_t n_layers;
    ms_csn_layer layer[MS_CSN_MAX_LAYERS];
    int norm;
    int per_sample;   /* one GEMM per sample (results independent of the batch; exact_sums)
                         rather than the samples side by side in one GEMM (faster) */
    size_t c_in, l_in, c_out, l_out;
} ms_csn_stack;

/* A discriminator: x path on the spectrum [1, N], z path on a latent [c_z, L]. */
typedef struct {
    ms_csn_stack x, z;
    size_t n_feat_x, n_feat_z; /* flattened outputs of the two paths */
    size_t iw, ib;             /* linear unit: w [1, n_feat_x + n_feat_z], b [1] */
} ms_csn_critic;

enum {
    MS_CSN_E_SYNTH = 0,
    MS_CSN_E_OBS,
    MS_CSN_E_SH,
    MS_CSN_E_SP,
    MS_CSN_D_SH,
    MS_CSN_D_SP,
    MS_CSN_G_SYNTH,
    MS_CSN_G_OBS,
    MS_CSN_N_BLOCKS
};

typedef struct {
    ms_cfg_csn cfg;        /* the configuration it was built from */
    size_t n_pix;          /* pixels of the spectra callers pass */
    size_t n_len;          /* internal, exactly invertible length N(L) */
    size_t z_len;          /* latent length L */
    int crop;              /* 0: pad, 1: crop */
    size_t offset;         /* pad: internal index of pixel 0; crop: pixel of internal 0 */
    size_t z_sh, z_sp;     /* latent channels */
    float slope;           /* leaky ReLU negative slope */
    float mean, std;       /* standardisation x = (f - mean) / std */
    ms_csn_stack block[MS_CSN_N_BLOCKS];
    ms_csn_critic c_synth, c_obs;
    ms_nn_params gen;      /* generator side: encoders, decoders, generators */
    ms_nn_params dis;      /* both discriminators */
} ms_csn;

/* Lengths the encoder stack inverts exactly. len(z) for a latent of length z; the
 * smallest/largest latent whose length is >= / <= n_pix. MS_EINVAL names the problem
 * when no such length exists (e.g. n_pix shorter than the smallest one in crop mode). */
size_t ms_csn_length_for_latent(const ms_cfg_csn *cfg, size_t z_len);
ms_status ms_csn_choose_length(const ms_cfg_csn *cfg, size_t n_pix, size_t *n_len,
                               size_t *z_len);

/* One GEMM per sample in every stack (on) or the samples side by side (off, faster; a
 * sample's numbers then change in the last bits with the batch). ms_csn_init sets it from
 * csn.exact_sums; ms_csn_model_read turns it on (inference). Arithmetic only. */
void ms_csn_set_per_sample(ms_csn *net, int on);
/* Build the architecture for spectra of n_pix pixels (zero weights, mean 0, std 1).
 * Checks the configuration (lists, strides that invert, matching latent lengths). */
ms_status ms_csn_init(ms_csn *net, const ms_cfg_csn *cfg, size_t n_pix);
/* O'Briain's initialisation: xavier-uniform conv weights, conv biases 0.01, PyTorch's
 * default for the linear units; from rng (generator side first, then discriminators). */
void ms_csn_init_weights(ms_csn *net, ms_nn_rng *rng);
void ms_csn_free(ms_csn *net);
/* Floats of the split code z_sp of one spectrum: z_sp * z_len. */
size_t ms_csn_z_sp_floats(const ms_csn *net);
size_t ms_csn_z_sh_floats(const ms_csn *net);
/* One-line description: sizes, lengths and parameter counts. */
void ms_csn_describe(const ms_csn *net, char *buf, size_t len);

/* ------------------------------------------------------------------------------------- */
/* Inference for the fit: the two transfers and their vector-Jacobian products with
 * respect to the input spectrum (and, for synthetic -> observed, the Jacobian-vector
 * products that give the fit's Jacobian), for batches. A workspace holds the activations of the
 * last call of each transfer (so that its _vjp can follow) and may serve any number of
 * calls of up to max_batch spectra. One workspace per thread; the network is read-only.
 *
 * The fit in the observed domain minimises chi2(y) = sum_p w_p (F_obs - T(P(y)))_p^2
 * with T = ms_csn_transfer_s2o (z_sp fixed, from the star) and P the emulator: with
 * r = F_obs - T(P(y)), dchi2/dP = ms_csn_transfer_s2o_vjp(v = -2 w r), then
 * dchi2/dy = ms_payne_vjp of that (payne.h); the full Jacobian dT(P(y))/dy (scaling and
 * errors) = ms_csn_transfer_s2o_jvp of ms_payne_jacobian's D rows. */
typedef struct ms_csn_ws ms_csn_ws;
ms_status ms_csn_ws_alloc(const ms_csn *net, size_t max_batch, ms_csn_ws **ws);
void ms_csn_ws_free(ms_csn_ws *ws);

/* z_sp [B, z_sp, L] = E_sp(E_obs(x_obs)) from observed spectra x_obs [B, n_pix]
 * (normalised flux; non-finite pixels are replaced by the mean flux). Optionally z_sh
 * [B, z_sh, L] = E_sh(E_obs(x_obs)) (NULL: skipped). */
ms_status ms_csn_encode_obs(const ms_csn *net, ms_csn_ws *ws, const float *x_obs, size_t B,
                            float *z_sp, float *z_sh);
/* z_sh [B, z_sh, L] = E_sh(E_synth(x_synth)). */
ms_status ms_csn_encode_synth(const ms_csn *net, ms_csn_ws *ws, const float *x_synth, size_t B,
                              float *z_sh);

/* Synthetic -> observed: out [B, n_pix] = G_obs(concat(D_sh(E_sh(E_synth(x_s))), D_sp(z_sp)))
 * for x_s [B, n_pix] and the split codes z_sp [B, z_sp, L] (one per spectrum, held fixed).
 * Keeps the activations in ws for ms_csn_transfer_s2o_vjp. */
ms_status ms_csn_transfer_s2o(const ms_csn *net, ms_csn_ws *ws, const float *x_s,
                              const float *z_sp, size_t B, float *out);
/* After ms_csn_transfer_s2o(x_s, z_sp, B) on the same ws: gx [B, n_pix] += v [B, n_pix] .
 * d out / d x_s (the gradient of sum v . out with respect to the input spectrum). */
ms_status ms_csn_transfer_s2o_vjp(const ms_csn *net, ms_csn_ws *ws, const float *v, size_t B,
                                  float *gx);
/* After ms_csn_transfer_s2o(x_s, z_sp, B) on the same ws: Jacobian-vector products (forward
 * mode), dout [B, T, n_pix] = d out / d x_s . dx [B, T, n_pix] for T tangent directions of
 * each spectrum (row t of spectrum b is one direction in normalised flux, e.g. the emulator's
 * d flux / d label_t, ms_payne_jacobian's layout; dout may be dx). The tangents follow the
 * forward's layers at its saved activations (z_sp fixed: no tangent through D_sp), up to
 * the workspace's max_batch tangent columns per GEMM; pixels outside the window in crop mode
 * pass through (dout = dx there). The exact transpose of ms_csn_transfer_s2o_vjp. */
ms_status ms_csn_transfer_s2o_jvp(const ms_csn *net, ms_csn_ws *ws, const float *dx, size_t B,
                                  size_t T, float *dout);
/* Observed -> synthetic: out [B, n_pix] = G_synth(D_sh(E_sh(E_obs(x_o)))) for x_o [B, n_pix]
 * (non-finite pixels are replaced by the mean flux and get no gradient). */
ms_status ms_csn_transfer_o2s(const ms_csn *net, ms_csn_ws *ws, const float *x_o, size_t B,
                              float *out);
/* After ms_csn_transfer_o2s(x_o, B): gx [B, n_pix] += v . d out / d x_o. */
ms_status ms_csn_transfer_o2s_vjp(const ms_csn *net, ms_csn_ws *ws, const float *v, size_t B,
                                  float *gx);

/* ------------------------------------------------------------------------------------- */
/* Training (src/nn/csn_train.c). A training set of one domain, in memory: normalised flux
 * and its errors (err NULL: every pixel gets csn.synthetic_error; otherwise non-finite or
 * non-positive errors and non-finite fluxes mark pixels without weight). */
typedef struct {
    const float *flux;   /* [n, n_pix] */
    const float *err;    /* [n, n_pix] or NULL */
    size_t n, n_pix;
} ms_csn_data;

/* The losses of one iteration (means over the global batch, Z25 Eq. 4-7 / O'Briain):
 * rec_* = d(x, x_xx), cyc_* = d(x, x_x->y->x) with d(a, b) = mean(((a - b) w)^2),
 * w = mask / err in standardised units; gen_* = BCE(C(transfer), 1) (the generators'
 * adversarial terms); real_* = BCE(C(reconstruction), 1), fake_* = BCE(C(transfer), 0)
 * (the discriminators'). total_g = l_s (rec_s + cyc_s) + l_o (rec_o + cyc_o) +
 * l_a (gen_s + gen_o); total_d = l_d (real_s + real_o + fake_s + fake_o). */
typedef struct {
    double rec_s, cyc_s, rec_o, cyc_o, gen_s, gen_o, total_g;
    double real_s, real_o, fake_s, fake_o, total_d;
} ms_csn_losses;

/* Loss weights of the generator step, one per term: rec_s, cyc_s, rec_o, cyc_o, gen_s,
 * gen_o (from the configuration: l_s, l_s, l_o, l_o, l_a, l_a). */
typedef struct {
    double w[6];
} ms_csn_gen_weights;
ms_csn_gen_weights ms_csn_gen_weights_from_cfg(const ms_cfg_csn *cfg);

/* The step machinery: activations for local batches of up to max_batch spectra per domain.
 * Usage per iteration: ms_csn_batch_set (inputs), ms_csn_gen_forward (losses),
 * ms_csn_gen_backward (generator gradients, += net->gen.grad), all-reduce, Adam step,
 * ms_csn_dis_forward_backward (discriminator losses and gradients, += net->dis.grad, using
 * the generator outputs of the same forward), all-reduce, Adam step. */
typedef struct ms_csn_step ms_csn_step;
ms_status ms_csn_step_alloc(const ms_csn *net, size_t max_batch, ms_csn_step **out);
void ms_csn_step_free(ms_csn_step *s);
/* Standardise and pad/crop B spectra of each domain into the step's inputs: flux [B, n_pix]
 * and err (NULL: synthetic error) per domain; weights 1 / (max(err, floor) / std), 0 for
 * masked pixels. B_global: the global batch size that the loss means divide by. */
ms_status ms_csn_batch_set(const ms_csn *net, ms_csn_step *s, const float *flux_s,
                           const float *err_s, const float *flux_o, const float *err_o,
                           size_t B, size_t B_global);
/* The same with inputs already standardised and at the internal length: x [B, n_len] and
 * loss weights w [B, n_len] per domain. */
ms_status ms_csn_batch_set_internal(const ms_csn *net, ms_csn_step *s, const float *x_s,
                                    const float *w_s, const float *x_o, const float *w_o,
                                    size_t B, size_t B_global);
/* Forward pass of everything the generator step needs; the generator losses into L
 * (this rank's share: sum over its samples of the global-mean terms). */
ms_status ms_csn_gen_forward(const ms_csn *net, ms_csn_step *s, const ms_csn_gen_weights *gw,
                             ms_csn_losses *L);
/* net->gen.grad += gradient of sum_k gw.w[k] term_k (this rank's share). */
ms_status ms_csn_gen_backward(ms_csn *net, ms_csn_step *s, const ms_csn_gen_weights *gw);
/* Discriminator step on the generator outputs of the last ms_csn_gen_forward (detached):
 * its losses into L and net->dis.grad += gradient of lambda_d (real + fake terms). Call
 * with the discriminator parameters of that forward (before any change to them). */
ms_status ms_csn_dis_forward_backward(ms_csn *net, ms_csn_step *s, double lambda_d,
                                      ms_csn_losses *L);
/* Views into the step's activations after ms_csn_gen_forward, for tests: "x_s", "x_o",
 * "w_s", "w_o" [B, n_len]; "x_ss", "x_oo", "x_so", "x_os", "x_sos", "x_oso" [B, n_len];
 * "z_s", "zsh_o", "zsh_os", "zsh_so" [B, z_sh, L]; "zsp_o", "zsp_so" [B, z_sp, L];
 * "c_s_fake", "c_o_fake" [B] (after ms_csn_dis_forward_backward also "c_s_real",
 * "c_o_real"). NULL for an unknown name. */
const float *ms_csn_step_view(const ms_csn_step *s, const char *name);

/* ------------------------------------------------------------------------------------- */
/* The training loop (src/nn/csn_train.c), data-parallel over the MPI ranks (par.h): every
 * iteration draws a global batch of csn.batch_size spectra per domain (per-domain epoch
 * permutations from general.seed, so the batches do not depend on the rank count or on a
 * resume), each rank takes a contiguous slice of it, the gradients of each side are summed
 * over ranks in one call, and every rank applies the same Adam steps (betas and rate from
 * the configuration, the rate multiplied by lr_gamma at each milestone). Results depend on
 * the rank count only through float rounding of the gradient sums. */

/* History columns, one row per validation. */
enum {
    MS_CSN_H_ITER = 0,  /* iterations done */
    MS_CSN_H_LR,        /* learning rate in use */
    MS_CSN_H_REC_S,     /* training losses averaged since the previous row */
    MS_CSN_H_CYC_S,
    MS_CSN_H_REC_O,
    MS_CSN_H_CYC_O,
    MS_CSN_H_GEN_S,
    MS_CSN_H_GEN_O,
    MS_CSN_H_DIS,       /* discriminator loss total_d */
    MS_CSN_H_VREC_S,    /* validation: within-domain and cycle reconstruction */
    MS_CSN_H_VCYC_S,
    MS_CSN_H_VREC_O,
    MS_CSN_H_VCYC_O,
    MS_CSN_H_VZSH_S,    /* latent agreement (O'Briain): mean |z - z'| after a min-max
                           normalisation over the batch: z_sh(x_s) vs z_sh(x_so) */
    MS_CSN_H_VZSH_O,    /* z_sh(x_o) vs z_sh(x_os) */
    MS_CSN_H_VZSP,      /* z_sp(x_o) vs z_sp(x_so) */
    MS_CSN_H_VZSH_DOM,  /* z_sh of the synthetic vs the observed batch (domain overlap) */
    MS_CSN_H_SECONDS,   /* wall time of the training so far */
    MS_CSN_H_COLS
};
extern const char *const ms_csn_hist_names[MS_CSN_H_COLS];

typedef struct {
    size_t n, cap;
    double *v; /* [n, MS_CSN_H_COLS] owned */
} ms_csn_history;

void ms_csn_history_free(ms_csn_history *h);
ms_status ms_csn_history_append(ms_csn_history *h, const double row[MS_CSN_H_COLS]);

typedef struct {
    ms_csn_data synth_train, obs_train, synth_val, obs_val;
} ms_csn_sets;

typedef struct {
    long seed;              /* general.seed */
    const char *checkpoint; /* path of the checkpoint file (NULL: none) */
    int resume;             /* continue from the checkpoint */
    double max_seconds;     /* stop with a checkpoint after this wall time (0: none) */
    int quiet;              /* no progress lines */
    const ms_comm *comm;    /* the ranks training together (NULL: this process alone) */
} ms_csn_train_opts;

/* Optimizer state of a training run (what a checkpoint holds besides the weights). */
typedef struct {
    ms_nn_optim gen, dis;
    long iteration;         /* iterations done */
    double seconds;         /* training wall time so far */
    ms_csn_history hist;
} ms_csn_state;

ms_status ms_csn_state_init(ms_csn_state *st, const ms_csn *net);
void ms_csn_state_free(ms_csn_state *st);

/* Train net (initialised, with weights, mean and std set) for net->cfg.iterations in
 * total; state receives the optimizers, the iteration count and the history (freshly
 * initialised by the caller with ms_csn_state_init; on resume it is read from the
 * checkpoint). Collective. MS_EINTERRUPTED when max_seconds stopped it (after a
 * checkpoint). */
ms_status ms_csn_train(ms_csn *net, const ms_csn_sets *sets, const ms_csn_train_opts *opt,
                       ms_csn_state *state);

/* Validation metrics of the current network on the validation sets (collective): fills
 * row[MS_CSN_H_VREC_S .. MS_CSN_H_VZSH_DOM]; uses up to csn.validation_spectra spectra of
 * each domain. */
ms_status ms_csn_validate(const ms_csn *net, ms_csn_step *s, const ms_csn_data *synth,
                          const ms_csn_data *obs, size_t max_spectra, const ms_comm *comm,
                          double *row);

/* ------------------------------------------------------------------------------------- */
/* Files (src/io/csn_h5.c, HDF5 through h5.h; written by one rank, atomically).
 * Checkpoint: weights of both sides, Adam moments and steps, iteration, wall time,
 * history, mean/std, the configuration (checked on resume: the architecture must match). */
ms_status ms_csn_checkpoint_write(const char *path, const ms_csn *net, const ms_csn_state *st);
ms_status ms_csn_checkpoint_read(const char *path, ms_csn *net, ms_csn_state *st);

/* Model file: the configuration text, n_pix and the wavelength grid, mean/std, the
 * weights of both sides (PyTorch layouts, by tensor name), the emulator's content hash,
 * the training history and record. ms_csn_model_read builds the network (ms_csn_init
 * from the stored configuration) and loads everything. */
typedef struct {
    char emulator_hash[17];    /* content hash of the emulator that made the synthetic set */
    char emulator_path[MS_CFG_STR_MAX];
    char observed_path[MS_CFG_STR_MAX];
    long n_synth_train, n_obs_train, ranks, seed;
    double train_seconds;
    double *wavelength;        /* [n_pix] owned, or NULL */
    ms_csn_history hist;       /* owned */
} ms_csn_record;

void ms_csn_record_free(ms_csn_record *r);
ms_status ms_csn_model_write(const char *path, const ms_csn *net, const ms_csn_record *rec,
                             const ms_config *cfg, const char *command);
ms_status ms_csn_model_read(const char *path, ms_csn *net, ms_csn_record *rec);

/* ------------------------------------------------------------------------------------- */
/* Labels of the synthetic training set, Z25 3.3.2 (src/nn/csn_labels.c): isochrone points
 * (Teff, [M/H] grids of csn.iso_teff / iso_mh, log g from the 5 Gyr main-sequence relation,
 * [alpha/M] 0.4 / 0.2 / 0 at [M/H] -1 / -0.5 / >= 0), expanded by a Gaussian mixture to
 * csn.mixture_size points inside the box [lo, hi] (the emulator's range; NULL: no box), then
 * n labels drawn to follow the reference (Teff, [M/H]) distribution: the CSV file ref_path
 * (columns teff, m_h) or, when ref_path is NULL or empty, the Gaussian of
 * csn.reference_teff x csn.reference_mh. labels [n, 4]: teff, logg, m_h, alpha_m.
 * Deterministic given seed. */
ms_status ms_csn_sample_labels(const ms_cfg_csn *c, uint64_t seed, const char *ref_path,
                               const double lo[4], const double hi[4], size_t n, double *labels);

/* Standardisation constants from a set of normalised spectra: mean and std over every
 * finite pixel. */
void ms_csn_flux_stats(const float *flux, size_t n, size_t n_pix, float *mean, float *std);

#endif
