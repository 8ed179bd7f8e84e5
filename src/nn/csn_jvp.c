/* csn_jvp.c: forward-mode tangents (Jacobian-vector products) through a Cycle-StarNet
 * stack, linearised at the stack's last forward (csn_internal.h).
 *
 * A tangent is a perturbation of the stack's input; it follows the primal through the
 * same layers: convolutions and their transposes are linear (applied without bias, as
 * GEMMs over the tangent columns side by side), a leaky ReLU multiplies by its slope at the
 * forward's output (1 where it was positive, else the negative slope), and the instance
 * norm by its linearisation (ms_nn_instnorm_jvp: the mean and variance terms). Several
 * tangents per sample travel as extra columns: column c belongs to sample c / T. */
#include "csn_internal.h"

#include <assert.h>
#include <string.h>

/* g [per] *= leaky ReLU derivative at the layer output y [per] (same sign as its input). */
static void slope_mul(float *g, const float *y, size_t per, float slope)
{
    for (size_t i = 0; i < per; i++)
        if (!(y[i] > 0.0f)) g[i] *= slope;
}

static void layer_linear(const ms_csn_stack *st, const ms_csn_layer *ly, const ms_nn_params *p,
                         float *dst, const float *src, size_t nc, float *col)
{
    /* dst [nc, c_out, l_out] = W * src [nc, c_in, l_in] (no bias) */
    const float *w = ms_nn_param(p, ly->iw);
    if (st->per_sample) {
        const size_t pi = ly->c_in * ly->l_in, po = ly->c_out * ly->l_out;
        for (size_t j = 0; j < nc; j++) csn_layer_forward(ly, dst + j * po, col, src + j * pi, w, NULL, 1);
    } else {
        csn_layer_forward(ly, dst, col, src, w, NULL, nc);
    }
}

void csn_stack_jvp(const ms_csn_stack *st, const ms_nn_params *p, const csn_tape *t,
                   const float *din, float *dout, size_t c0, size_t nc, size_t T, float slope,
                   csn_scratch *s)
{
    /* din [nc, c_in, l_in], dout [nc, c_out, l_out]: tangent columns [c0, c0 + nc) of
     * t->B * T; intermediate layers in s->g[0], s->g[1] */
    assert(t->st == st && T > 0 && nc <= s->cap && (c0 + nc + T - 1) / T <= t->B);
    const size_t n = st->n_layers;
    const float *src = din;
    for (size_t i = 0; i < n; i++) {
        const ms_csn_layer *ly = &st->layer[i];
        const size_t per = ly->c_out * ly->l_out;
        float *dst = (i + 1 == n && !st->norm) ? dout : s->g[i % 2];
        assert(dst != src);
        layer_linear(st, ly, p, dst, src, nc, s->col);
        if (ly->act)
            for (size_t j = 0; j < nc; j++)
                slope_mul(dst + j * per, t->act[i] + (c0 + j) / T * per, per, slope);
        src = dst;
    }
    if (st->norm) {
        const size_t C = st->c_out, L = st->l_out, per = C * L;
        for (size_t j = 0; j < nc; j++) {
            const size_t b = (c0 + j) / T;
            ms_nn_instnorm_jvp(dout + j * per, src + j * per, t->act[n - 1] + b * per,
                               t->mean + b * C, t->rstd + b * C, NULL, 1, C, L);
        }
    }
}
