/* nn.h: a small, exact neural-network engine in float32 on OpenBLAS.
 *
 * Shared by the emulator (The Payne, payne.h), the domain-adaptation network and the CNN
 * methods. Design (llm.c style, see ../shared/reference/style.md):
 *
 *   - Every layer is a pair of functions, <layer>_forward and <layer>_backward. Arguments
 *     go outputs, caches/workspaces, inputs, weights, then sizes. Tensors are batched,
 *     row-major, batch first: a dense activation is [B, n], a 1-D signal [B, C, L].
 *   - Backward passes ACCUMULATE (+=) into every gradient they produce: weight gradients
 *     (dw, db) and input gradients (din, a vector-Jacobian product). Zeroing is explicit
 *     (ms_nn_params_zero_grad, memset). Any gradient pointer may be NULL to skip it.
 *   - Parameters, gradients and optimizer moments live in flat buffers with named views
 *     (ms_nn_params, ms_nn_optim), so that a checkpoint is one write and an MPI all-reduce
 *     of the gradients is one call.
 *   - Nothing allocates inside forward/backward: layers that need scratch memory take a
 *     workspace sized by a *_ws_floats() function. All functions are thread-compatible
 *     (no global state besides OpenBLAS).
 *   - Weights use PyTorch's layouts (dense [out, in]; conv [c_out, c_in, k]; transposed
 *     conv [c_in, c_out, k]), so that PyTorch weights load without reshuffling.
 *
 * Sizes must fit in an int (the BLAS interface); the functions assert it. */
#ifndef MSTARS_NN_H
#define MSTARS_NN_H

#include "mstars/comm.h"
#include "mstars/status.h"

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------------------- */
/* Random numbers: xoshiro256** seeded through splitmix64. The state is plain data, so it
 * is saved in checkpoints and gives identical streams on every rank. */
typedef struct {
    uint64_t s[4];
} ms_nn_rng;

void ms_nn_rng_seed(ms_nn_rng *r, uint64_t seed);
uint64_t ms_nn_rng_next(ms_nn_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double ms_nn_rng_uniform(ms_nn_rng *r);
/* Standard normal deviate (Box-Muller, no cached pair: one call = two uniforms). */
double ms_nn_rng_normal(ms_nn_rng *r);
/* Uniform integer in [0, n) without modulo bias (n > 0). */
uint64_t ms_nn_rng_below(ms_nn_rng *r, uint64_t n);
/* Fisher-Yates shuffle of idx[0..n). */
void ms_nn_rng_shuffle(ms_nn_rng *r, size_t *idx, size_t n);

/* ------------------------------------------------------------------------------------- */
/* Flat parameter buffers with named views.
 *
 * Usage: ms_nn_params_init; ms_nn_params_add for every tensor (the layout phase);
 * ms_nn_params_alloc (one zero-filled block for the values, one for the gradients);
 * ms_nn_param / ms_nn_grad for the views; ms_nn_params_free. Each tensor starts on a
 * 64-byte boundary; the padding between tensors stays zero. */
#define MS_NN_NAME_MAX 48
#define MS_NN_MAX_TENSORS 160
#define MS_NN_MAX_DIMS 4

typedef struct {
    char name[MS_NN_NAME_MAX];
    int ndim;
    size_t shape[MS_NN_MAX_DIMS];
    size_t size;   /* product of the shape */
    size_t offset; /* floats from the start of the flat buffers (multiple of 16) */
} ms_nn_tensor;

typedef struct {
    size_t n_tensors;
    ms_nn_tensor t[MS_NN_MAX_TENSORS];
    size_t n;     /* floats in each flat buffer, padding included */
    float *param; /* [n] values, owned (NULL before ms_nn_params_alloc) */
    float *grad;  /* [n] gradients, owned */
} ms_nn_params;

/* The tensors of a parameter set as segments of its flat gradient (comm.h), for the exact
 * all-reduce of the trainers. */
typedef struct {
    size_t *off, *len;
    ms_segments segs;
} ms_nn_segments;
ms_status ms_nn_segments_of(const ms_nn_params *p, ms_nn_segments *out);
void ms_nn_segments_free(ms_nn_segments *s);

void ms_nn_params_init(ms_nn_params *p);
/* Declare a tensor (before ms_nn_params_alloc). *index (may be NULL) receives its index.
 * Fails on a duplicate name, a zero dimension or too many tensors. */
ms_status ms_nn_params_add(ms_nn_params *p, const char *name, int ndim, const size_t *shape,
                           size_t *index);
/* Allocate the zero-filled value and gradient buffers. */
ms_status ms_nn_params_alloc(ms_nn_params *p);
/* Index of a tensor by name; MS_ENOTFOUND when absent. */
ms_status ms_nn_params_find(const ms_nn_params *p, const char *name, size_t *index);
/* Views (not owned) of tensor `index`. */
float *ms_nn_param(const ms_nn_params *p, size_t index);
float *ms_nn_grad(const ms_nn_params *p, size_t index);
void ms_nn_params_zero_grad(ms_nn_params *p);
/* Copy the values (not the gradients) of src into dst; the layouts must be identical. */
ms_status ms_nn_params_copy(ms_nn_params *dst, const ms_nn_params *src);
/* Same tensors, shapes and offsets? */
int ms_nn_params_same_layout(const ms_nn_params *a, const ms_nn_params *b);
void ms_nn_params_free(ms_nn_params *p);

/* ------------------------------------------------------------------------------------- */
/* Initialisation (PyTorch's formulas; the random stream is ours). */

/* w[i] ~ U(lo, hi) */
void ms_nn_init_uniform(float *w, size_t n, double lo, double hi, ms_nn_rng *rng);
/* w[i] ~ N(0, std^2) */
void ms_nn_init_normal(float *w, size_t n, double std, ms_nn_rng *rng);
void ms_nn_init_const(float *w, size_t n, float value);
/* Xavier/Glorot: U(-a, a), a = gain sqrt(6 / (fan_in + fan_out)). */
void ms_nn_init_xavier_uniform(float *w, size_t n, size_t fan_in, size_t fan_out, double gain,
                               ms_nn_rng *rng);
/* Xavier/Glorot normal: std = gain sqrt(2 / (fan_in + fan_out)). */
void ms_nn_init_xavier_normal(float *w, size_t n, size_t fan_in, size_t fan_out, double gain,
                              ms_nn_rng *rng);
/* He/Kaiming for a leaky ReLU of negative slope `slope` (0: ReLU):
 * gain = sqrt(2 / (1 + slope^2)); uniform U(-b, b), b = gain sqrt(3 / fan_in);
 * normal std = gain / sqrt(fan_in). */
void ms_nn_init_he_uniform(float *w, size_t n, size_t fan_in, double slope, ms_nn_rng *rng);
void ms_nn_init_he_normal(float *w, size_t n, size_t fan_in, double slope, ms_nn_rng *rng);
/* PyTorch's default for nn.Linear / nn.Conv1d weights and biases: U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)). */
void ms_nn_init_torch_default(float *w, size_t n, size_t fan_in, ms_nn_rng *rng);

/* ------------------------------------------------------------------------------------- */
/* C [M, N] = A [M, K] . B [N, K]^T (accumulate: C +=) with each element C[i][j] one fixed
 * sequence of operations on row i of A and row j of B: the same value for any M, N, position
 * of the row or cache blocking, where a BLAS GEMM's rows change in the last bits with M.
 * For results that must not depend on how a batch is cut (the fit). Row strides lda, ldb,
 * ldc in floats (gemm_small.c). */
void ms_nn_gemm_nt_exact(size_t M, size_t N, size_t K, const float *A, size_t lda,
                         const float *B, size_t ldb, float *C, size_t ldc, int accumulate);

/* ------------------------------------------------------------------------------------- */
/* Dense (fully connected) layer.
 * out [B, n_out] = in [B, n_in] . w^T + b;  w [n_out, n_in], b [n_out] (b may be NULL). */
void ms_nn_dense_forward(float *out, const float *in, const float *w, const float *b, size_t B,
                         size_t n_in, size_t n_out);
/* din [B, n_in] += dout . w;  dw [n_out, n_in] += dout^T . in;  db [n_out] += sum_b dout.
 * dout [B, n_out]; in [B, n_in] (needed only for dw). */
void ms_nn_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                          const float *w, size_t B, size_t n_in, size_t n_out);
/* Plain loops, same contract: the reference for tests. */
void ms_nn_dense_forward_naive(float *out, const float *in, const float *w, const float *b,
                               size_t B, size_t n_in, size_t n_out);
void ms_nn_dense_backward_naive(float *din, float *dw, float *db, const float *dout,
                                const float *in, const float *w, size_t B, size_t n_in,
                                size_t n_out);

/* ------------------------------------------------------------------------------------- */
/* Element-wise activations over n values (any shape). Forward may run in place
 * (out == in). Leaky ReLU: y = x for x > 0, slope x otherwise (slope 0: ReLU); its
 * backward takes `x` = the forward input OR output (same sign for slope >= 0), so an
 * in-place forward loses nothing. Sigmoid's backward takes the forward output. */
void ms_nn_leaky_relu_forward(float *out, const float *in, size_t n, float slope);
/* din [n] += dout * (x > 0 ? 1 : slope) */
void ms_nn_leaky_relu_backward(float *din, const float *dout, const float *x, size_t n,
                               float slope);
void ms_nn_relu_forward(float *out, const float *in, size_t n);
void ms_nn_relu_backward(float *din, const float *dout, const float *x, size_t n);
void ms_nn_sigmoid_forward(float *out, const float *in, size_t n);
/* din [n] += dout * out (1 - out) */
void ms_nn_sigmoid_backward(float *din, const float *dout, const float *out, size_t n);

/* ------------------------------------------------------------------------------------- */
/* Losses: values in double (accumulated in double), gradients added to dpred.
 *
 * Weighted Lp losses over n elements (any shape): r_i = (pred_i - target_i) w_i, with
 * w NULL meaning w_i = 1. For an uncertainty-weighted, masked loss set w_i = mask_i/err_i
 * (ms_nn_loss_weights). `scale` multiplies the sum: 1/n gives PyTorch's mean reduction; a
 * data-parallel step uses 1/(global element count) on every rank.
 *   L1: loss = scale sum_i |r_i|      (gradient sign(r_i) w_i scale, 0 at r_i = 0)
 *   L2: loss = scale sum_i r_i^2      (gradient 2 r_i w_i scale)                        */
double ms_nn_l1_loss_forward(const float *pred, const float *target, const float *w, size_t n,
                             double scale);
void ms_nn_l1_loss_backward(float *dpred, const float *pred, const float *target,
                            const float *w, size_t n, double scale);
double ms_nn_l2_loss_forward(const float *pred, const float *target, const float *w, size_t n,
                             double scale);
void ms_nn_l2_loss_backward(float *dpred, const float *pred, const float *target,
                            const float *w, size_t n, double scale);
/* w [n] = mask_i / err_i, and 0 where mask_i == 0, err_i <= 0 or err_i is not finite.
 * mask may be NULL (all 1); err may be NULL (all 1). */
void ms_nn_loss_weights(float *w, const float *mask, const float *err, size_t n);
/* Binary cross-entropy of probabilities p against targets y in [0, 1], as PyTorch's
 * BCELoss: loss = -scale sum_i [y_i log p_i + (1 - y_i) log(1 - p_i)], each log clamped
 * at -100; gradient scale (p - y) / max(p (1 - p), 1e-12). */
double ms_nn_bce_loss_forward(const float *p, const float *y, size_t n, double scale);
void ms_nn_bce_loss_backward(float *dp, const float *p, const float *y, size_t n, double scale);

/* ------------------------------------------------------------------------------------- */
/* Optimizers over flat buffers: Adam and RAdam with PyTorch's exact update formulas
 * (torch.optim.Adam / RAdam, 1.13, coupled L2 weight decay). The moments m and v are one
 * flat block `moments` [2n] (m = moments, v = moments + n) for one-call checkpoints. */
typedef enum { MS_NN_ADAM = 1, MS_NN_RADAM = 2 } ms_nn_optim_kind;

typedef struct {
    ms_nn_optim_kind kind;
    double lr, beta1, beta2, eps, weight_decay;
    long step;       /* steps taken so far */
    size_t n;        /* parameters */
    float *moments;  /* [2n] owned: m [n] then v [n] */
} ms_nn_optim;

/* Defaults: betas (0.9, 0.999), eps 1e-8, no weight decay; zero moments. */
ms_status ms_nn_optim_init(ms_nn_optim *o, ms_nn_optim_kind kind, size_t n, double lr);
/* "adam" or "radam" (case-insensitive). */
ms_status ms_nn_optim_parse(const char *name, ms_nn_optim_kind *kind);
const char *ms_nn_optim_name(ms_nn_optim_kind kind);
/* One update of param [n] with grad [n]. */
void ms_nn_optim_step(ms_nn_optim *o, float *param, const float *grad);
void ms_nn_optim_free(ms_nn_optim *o);

/* ------------------------------------------------------------------------------------- */
/* 1-D convolution, transposed convolution and 1x1 convolution.
 * Signals are [B, C, L]. Lengths follow PyTorch:
 *   conv:       l_out = (l_in + 2 padding - kernel) / stride + 1
 *   transposed: l_out = (l_in - 1) stride - 2 padding + kernel + output_padding
 * (output_padding < stride; only for the transposed convolution). */
typedef struct {
    size_t B, c_in, c_out, l_in;
    size_t kernel, stride, padding, output_padding;
} ms_nn_conv_dims;

/* Output length, or 0 when the dimensions are invalid (see ms_nn_conv_check). */
size_t ms_nn_conv1d_out_len(const ms_nn_conv_dims *d);
size_t ms_nn_convt1d_out_len(const ms_nn_conv_dims *d);
/* MS_EINVAL with a message when a dimension is zero, the kernel does not fit, or a size
 * exceeds the BLAS int range. transposed: check as a transposed convolution. */
ms_status ms_nn_conv_check(const ms_nn_conv_dims *d, int transposed);
/* Workspace floats (the im2col buffer of one sample) of both passes. */
size_t ms_nn_conv1d_ws_floats(const ms_nn_conv_dims *d);
size_t ms_nn_convt1d_ws_floats(const ms_nn_conv_dims *d);

/* out [B, c_out, l_out] = conv(in [B, c_in, l_in], w [c_out, c_in, kernel]) + b [c_out]
 * (b may be NULL); ws [ms_nn_conv1d_ws_floats]. */
void ms_nn_conv1d_forward(float *out, float *ws, const float *in, const float *w,
                          const float *b, const ms_nn_conv_dims *d);
/* din [B, c_in, l_in] +=, dw [c_out, c_in, kernel] +=, db [c_out] +=; dout [B, c_out, l_out].
 * in is needed only for dw, w only for din. */
void ms_nn_conv1d_backward(float *din, float *dw, float *db, float *ws, const float *dout,
                           const float *in, const float *w, const ms_nn_conv_dims *d);
/* Direct loops, same contract, no workspace: the reference for tests. */
void ms_nn_conv1d_forward_naive(float *out, const float *in, const float *w, const float *b,
                                const ms_nn_conv_dims *d);
void ms_nn_conv1d_backward_naive(float *din, float *dw, float *db, const float *dout,
                                 const float *in, const float *w, const ms_nn_conv_dims *d);

/* out [B, c_out, l_out] = conv_transpose(in [B, c_in, l_in], w [c_in, c_out, kernel]) + b
 * [c_out]: the adjoint of ms_nn_conv1d_forward; ws [ms_nn_convt1d_ws_floats]. */
void ms_nn_convt1d_forward(float *out, float *ws, const float *in, const float *w,
                           const float *b, const ms_nn_conv_dims *d);
/* din [B, c_in, l_in] +=, dw [c_in, c_out, kernel] +=, db [c_out] +=. */
void ms_nn_convt1d_backward(float *din, float *dw, float *db, float *ws, const float *dout,
                            const float *in, const float *w, const ms_nn_conv_dims *d);
void ms_nn_convt1d_forward_naive(float *out, const float *in, const float *w, const float *b,
                                 const ms_nn_conv_dims *d);

/* 1x1 convolution (a dense layer along the channels at every position):
 * out [B, c_out, L] = w [c_out, c_in] . in [B, c_in, L] + b [c_out]. */
void ms_nn_conv1x1_forward(float *out, const float *in, const float *w, const float *b,
                           size_t B, size_t c_in, size_t c_out, size_t L);
void ms_nn_conv1x1_backward(float *din, float *dw, float *db, const float *dout,
                            const float *in, const float *w, size_t B, size_t c_in,
                            size_t c_out, size_t L);

/* ------------------------------------------------------------------------------------- */
/* Instance normalisation over the length of every (sample, channel), as PyTorch's
 * InstanceNorm1d (biased variance, eps inside the square root):
 * out = (in - mean) rstd gamma + beta with rstd = 1/sqrt(var + eps).
 * in/out [B, C, L]; mean, rstd [B, C] caches written by forward; gamma, beta [C] or NULL
 * (affine = False). */
void ms_nn_instnorm_forward(float *out, float *mean, float *rstd, const float *in,
                            const float *gamma, const float *beta, size_t B, size_t C,
                            size_t L, float eps);
/* din [B, C, L] +=, dgamma [C] +=, dbeta [C] += (both skipped when gamma is NULL). */
void ms_nn_instnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                             const float *in, const float *mean, const float *rstd,
                             const float *gamma, size_t B, size_t C, size_t L);
/* Forward-mode tangent (the linearisation at the forward's input in, mean, rstd):
 * dout [B, C, L] = rstd gamma (din - mean(din) - xhat mean(xhat din)), xhat = (in - mean)
 * rstd, means over L (the mean and variance terms of the normalisation). */
void ms_nn_instnorm_jvp(float *dout, const float *din, const float *in, const float *mean,
                        const float *rstd, const float *gamma, size_t B, size_t C, size_t L);

/* ------------------------------------------------------------------------------------- */
/* Max pooling along the length: out [B, C, l_out], l_out = (l_in + 2 padding - kernel) /
 * stride + 1, implicit -inf padding (padding <= kernel / 2, as PyTorch). argmax [B, C,
 * l_out] (cache) receives the input position of each maximum (first one on ties). */
size_t ms_nn_maxpool1d_out_len(size_t l_in, size_t kernel, size_t stride, size_t padding);
void ms_nn_maxpool1d_forward(float *out, int32_t *argmax, const float *in, size_t B, size_t C,
                             size_t l_in, size_t kernel, size_t stride, size_t padding);
/* din [B, C, l_in] += dout scattered to the argmax positions. */
void ms_nn_maxpool1d_backward(float *din, const float *dout, const int32_t *argmax, size_t B,
                              size_t C, size_t l_in, size_t l_out);

/* ------------------------------------------------------------------------------------- */
/* Concatenation along the channels of n_in signals in[k] [B, c[k], L] into
 * out [B, sum c, L]. Backward adds the slices of dout into din[k] (NULL: skipped). */
void ms_nn_concat_forward(float *out, const float *const *in, const size_t *c, size_t n_in,
                          size_t B, size_t L);
void ms_nn_concat_backward(float *const *din, const float *dout, const size_t *c, size_t n_in,
                           size_t B, size_t L);

#endif
