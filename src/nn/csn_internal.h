/* csn_internal.h: the stack engine shared by the Cycle-StarNet sources (not installed).
 *
 * A tape holds the activations of one application of a stack to a batch: forward fills
 * it, backward reads it (for any slice [b0, b0 + nb) of the batch). Tapes and scratch
 * buffers are carved out of one allocation by a two-pass arena: the first pass (base
 * NULL) only counts, the second assigns the pointers. */
#ifndef MSTARS_CSN_INTERNAL_H
#define MSTARS_CSN_INTERNAL_H

#include "mstars/csn.h"

#include <stddef.h>

#define CSN_NORM_EPS 1e-5f /* PyTorch InstanceNorm1d default */

typedef struct {
    float *base; /* NULL in the counting pass */
    size_t n;    /* floats taken so far */
} csn_arena;

/* n floats (rounded up to 16) from the arena; NULL in the counting pass. */
float *csn_arena_take(csn_arena *a, size_t n);

typedef struct {
    const ms_csn_stack *st;
    const float *in;                  /* [B, c_in, l_in] input of the last forward (not owned) */
    size_t B;                         /* batch of the last forward */
    float *act[MS_CSN_MAX_LAYERS];    /* [cap, c_out_i, l_out_i] layer outputs (activated) */
    float *out;                       /* [cap, c_out, l_out]: act[last] or the normalised one */
    float *mean, *rstd;               /* [cap, c_out] instance-norm caches (norm only) */
} csn_tape;

void csn_tape_layout(csn_tape *t, const ms_csn_stack *st, size_t cap, csn_arena *a);

typedef struct {
    csn_tape x, z;
    float *zin;   /* [cap, c_z, L] concatenated latent (two-part inputs only) */
    float *feat;  /* [cap, F] flattened x-path then z-path outputs */
    float *logit; /* [cap] */
    float *prob;  /* [cap] */
} csn_critic_tape;

void csn_critic_tape_layout(csn_critic_tape *t, const ms_csn_critic *c, size_t cap,
                            csn_arena *a);

/* Scratch shared by every backward call of one workspace. */
typedef struct {
    float *col;  /* [col_floats] batched-layer workspace (capacity cap) */
    float *g[2]; /* [cap * act_floats] ping-pong gradient buffers */
    float *crit; /* [cap * crit_floats] critic backward buffers */
    size_t cap, col_floats, act_floats, crit_floats;
} csn_scratch;

/* Batched layers (csn_conv.c): the samples side by side in one GEMM. ws holds
 * csn_layer_ws_floats(ly, B) floats. forward: out [B, c_out, l_out] = layer(in [B, c_in,
 * l_in]) + b; backward: din +=, dw +=, db += (each may be NULL). */
size_t csn_layer_ws_floats(const ms_csn_layer *ly, size_t B);
void csn_layer_forward(const ms_csn_layer *ly, float *out, float *ws, const float *in,
                       const float *w, const float *b, size_t B);
void csn_layer_backward(const ms_csn_layer *ly, float *din, float *dw, float *db, float *ws,
                        const float *dout, const float *in, const float *w, size_t B);

/* Size the scratch for the whole network at batch capacity cap and take it from a. */
void csn_scratch_layout(csn_scratch *s, const ms_csn *net, size_t cap, csn_arena *a);

/* Per-sample floats of a stack's input and output. */
static inline size_t csn_in_floats(const ms_csn_stack *st) { return st->c_in * st->l_in; }
static inline size_t csn_out_floats(const ms_csn_stack *st) { return st->c_out * st->l_out; }

/* t->out [B, c_out, l_out] = stack(in [B, c_in, l_in]); col: the scratch im2col buffer. */
void csn_stack_forward(const ms_csn_stack *st, const ms_nn_params *p, csn_tape *t,
                       const float *in, size_t B, float slope, float *col);
/* Backward over samples [b0, b0 + nb) of the last forward: din [nb, c_in, l_in] += (NULL:
 * skipped); with_grad: p->grad += the parameter gradients. dout [nb, c_out, l_out]. */
void csn_stack_backward(const ms_csn_stack *st, const ms_nn_params *p, int with_grad,
                        const csn_tape *t, const float *dout, float *din, size_t b0, size_t nb,
                        float slope, csn_scratch *s);

/* Forward-mode tangents (csn_jvp.c) through the stack linearised at its last forward
 * (tape t, batch t->B): T tangents per sample, column c of the t->B * T belonging to sample
 * c / T; this call takes columns [c0, c0 + nc), nc <= s->cap: din [nc, c_in, l_in] ->
 * dout [nc, c_out, l_out] (overwritten; neither may be s->g[0] or s->g[1], which hold the
 * intermediate layers). */
void csn_stack_jvp(const ms_csn_stack *st, const ms_nn_params *p, const csn_tape *t,
                   const float *din, float *dout, size_t c0, size_t nc, size_t T, float slope,
                   csn_scratch *s);

/* t->prob [B] = critic(x [B, 1, n_len], concat(za [B, ca, L], zb [B, cb, L])) (zb NULL:
 * za alone, cb 0). */
void csn_critic_forward(const ms_csn_critic *c, const ms_nn_params *p, csn_critic_tape *t,
                        const float *x, const float *za, size_t ca, const float *zb, size_t cb,
                        size_t B, size_t L, float slope, float *col);
/* Backward over samples [b0, b0 + nb): dprob [nb]; dx [nb, 1, n_len], dza [nb, ca, L],
 * dzb [nb, cb, L] += (each may be NULL); with_grad: p->grad += parameter gradients. */
void csn_critic_backward(const ms_csn_critic *c, const ms_nn_params *p, int with_grad,
                         const csn_critic_tape *t, const float *dprob, float *dx, float *dza,
                         size_t ca, float *dzb, size_t cb, size_t b0, size_t nb, size_t L,
                         float slope, csn_scratch *s);

/* Step internals (csn_step.c) for per-sample gradients: the local batch size, the
 * generator backward pass over samples [b0, b0 + nb) (net->gen.grad +=), the discriminator
 * forward (losses into L) and its backward over a slice (net->dis.grad +=). */
typedef struct ms_csn_step ms_csn_step;
size_t csn_step_batch(const ms_csn_step *s);
ms_status csn_gen_backward_slice(ms_csn *net, ms_csn_step *s, const ms_csn_gen_weights *gw,
                                 size_t b0, size_t nb);
ms_status csn_dis_forward(ms_csn *net, ms_csn_step *s, double lambda_d, ms_csn_losses *L);
ms_status csn_dis_backward_slice(ms_csn *net, ms_csn_step *s, double lambda_d, size_t b0,
                                 size_t nb);

/* Internal input of B spectra: x [B, n_len] standardised and padded/cropped from flux
 * [B, n_pix]; non-finite flux becomes 0 (the mean). When w is not NULL, w [B, n_len] =
 * 1 / (max(err, err_floor) / std) for good pixels (err NULL: synthetic_error), 0 for
 * pads, non-finite flux or errors, errors <= 0 or > err_max (err_max > 0). */
void csn_to_internal(const ms_csn *net, const float *flux, const float *err, size_t B,
                     float *x, float *w);
/* flux [B, n_pix] = std x + mean at the pixels inside the internal window; in crop mode
 * the pixels outside take pass [B, n_pix] (the input of the transfer). */
void csn_from_internal(const ms_csn *net, const float *x, const float *pass, size_t B,
                       float *flux);

#endif
