/* csn_stack.c: the Cycle-StarNet stack engine: tapes, forward and backward of layer
 * chains and discriminators, and the standardise/pad/crop of spectra (csn_internal.h). */
#include "csn_internal.h"

#include <assert.h>
#include <math.h>
#include <string.h>

float *csn_arena_take(csn_arena *a, size_t n)
{
    float *p = a->base ? a->base + a->n : NULL;
    a->n += (n + 15) / 16 * 16;
    return p;
}

void csn_tape_layout(csn_tape *t, const ms_csn_stack *st, size_t cap, csn_arena *a)
{
    memset(t, 0, sizeof *t);
    t->st = st;
    for (size_t i = 0; i < st->n_layers; i++) {
        const ms_csn_layer *ly = &st->layer[i];
        t->act[i] = csn_arena_take(a, cap * ly->c_out * ly->l_out);
    }
    if (st->norm) {
        t->out = csn_arena_take(a, cap * csn_out_floats(st));
        t->mean = csn_arena_take(a, cap * st->c_out);
        t->rstd = csn_arena_take(a, cap * st->c_out);
    } else {
        t->out = t->act[st->n_layers - 1];
    }
}

void csn_critic_tape_layout(csn_critic_tape *t, const ms_csn_critic *c, size_t cap,
                            csn_arena *a)
{
    memset(t, 0, sizeof *t);
    csn_tape_layout(&t->x, &c->x, cap, a);
    csn_tape_layout(&t->z, &c->z, cap, a);
    t->zin = csn_arena_take(a, cap * csn_in_floats(&c->z));
    t->feat = csn_arena_take(a, cap * (c->n_feat_x + c->n_feat_z));
    t->logit = csn_arena_take(a, cap);
    t->prob = csn_arena_take(a, cap);
}

static void stack_sizes(const ms_csn_stack *st, size_t cap, size_t *col, size_t *act)
{
    if (csn_in_floats(st) > *act) *act = csn_in_floats(st);
    for (size_t i = 0; i < st->n_layers; i++) {
        const ms_csn_layer *ly = &st->layer[i];
        size_t c = csn_layer_ws_floats(ly, cap);
        if (c > *col) *col = c;
        if (ly->c_out * ly->l_out > *act) *act = ly->c_out * ly->l_out;
    }
}

void csn_scratch_layout(csn_scratch *s, const ms_csn *net, size_t cap, csn_arena *a)
{
    memset(s, 0, sizeof *s);
    size_t col = 1, act = 1, crit = 1;
    for (int b = 0; b < MS_CSN_N_BLOCKS; b++) stack_sizes(&net->block[b], cap, &col, &act);
    const ms_csn_critic *cs[2] = {&net->c_synth, &net->c_obs};
    for (int k = 0; k < 2; k++) {
        stack_sizes(&cs[k]->x, cap, &col, &act);
        stack_sizes(&cs[k]->z, cap, &col, &act);
        size_t F = cs[k]->n_feat_x + cs[k]->n_feat_z;
        size_t need = 16 + F + 16 + cs[k]->n_feat_x + 16 + cs[k]->n_feat_z + 16 +
                      csn_in_floats(&cs[k]->z) + 16;
        if (need > crit) crit = need;
    }
    s->cap = cap;
    s->col_floats = col;
    s->act_floats = act;
    s->crit_floats = crit;
    s->col = csn_arena_take(a, col);
    s->g[0] = csn_arena_take(a, cap * act);
    s->g[1] = csn_arena_take(a, cap * act);
    s->crit = csn_arena_take(a, cap * crit);
}

/* g [n] *= leaky ReLU derivative at the layer output y [n] (same sign as its input). */
static void mask_mul(float *g, const float *y, size_t n, float slope)
{
    for (size_t i = 0; i < n; i++)
        if (!(y[i] > 0.0f)) g[i] *= slope;
}

void csn_stack_forward(const ms_csn_stack *st, const ms_nn_params *p, csn_tape *t,
                       const float *in, size_t B, float slope, float *col)
{
    /* in [B, c_in, l_in]; t->act[i] [B, c_out_i, l_out_i]; t->out [B, c_out, l_out] */
    assert(t->st == st);
    t->in = in;
    t->B = B;
    const float *x = in;
    for (size_t i = 0; i < st->n_layers; i++) {
        const ms_csn_layer *ly = &st->layer[i];
        float *y = t->act[i];
        const float *w = ms_nn_param(p, ly->iw), *b = ms_nn_param(p, ly->ib);
        if (st->per_sample) {
            const size_t pi = ly->c_in * ly->l_in, po = ly->c_out * ly->l_out;
            for (size_t j = 0; j < B; j++) csn_layer_forward(ly, y + j * po, col, x + j * pi, w, b, 1);
        } else {
            csn_layer_forward(ly, y, col, x, w, b, B);
        }
        if (ly->act) ms_nn_leaky_relu_forward(y, y, B * ly->c_out * ly->l_out, slope);
        x = y;
    }
    if (st->norm)
        ms_nn_instnorm_forward(t->out, t->mean, t->rstd, x, NULL, NULL, B, st->c_out, st->l_out,
                               CSN_NORM_EPS);
}

void csn_stack_backward(const ms_csn_stack *st, const ms_nn_params *p, int with_grad,
                        const csn_tape *t, const float *dout, float *din, size_t b0, size_t nb,
                        float slope, csn_scratch *s)
{
    /* dout [nb, c_out, l_out]; din [nb, c_in, l_in] +=; buf[k] [nb, <= act_floats] */
    assert(t->st == st && b0 + nb <= t->B && nb <= s->cap);
    float *buf[2] = {s->g[0], s->g[1]};
    const size_t n = st->n_layers;
    const float *g = dout;
    if (st->norm) {
        const size_t per = csn_out_floats(st);
        memset(buf[0], 0, nb * per * sizeof(float));
        ms_nn_instnorm_backward(buf[0], NULL, NULL, dout, t->act[n - 1] + b0 * per,
                                t->mean + b0 * st->c_out, t->rstd + b0 * st->c_out, NULL, nb,
                                st->c_out, st->l_out);
        g = buf[0];
    }
    for (size_t i = n; i-- > 0;) {
        const ms_csn_layer *ly = &st->layer[i];
        const size_t per_out = ly->c_out * ly->l_out, per_in = ly->c_in * ly->l_in;
        if (ly->act) {
            float *gw = (float *)(g == buf[0] || g == buf[1] ? g : buf[0]);
            if (gw != g) memcpy(gw, g, nb * per_out * sizeof(float));
            mask_mul(gw, t->act[i] + b0 * per_out, nb * per_out, slope);
            g = gw;
        }
        if (i == 0 && !din && !with_grad) break;
        const float *in = i == 0 ? t->in + b0 * per_in : t->act[i - 1] + b0 * per_in;
        float *dst = din;
        if (i > 0) {
            dst = g == buf[0] ? buf[1] : buf[0];
            memset(dst, 0, nb * per_in * sizeof(float));
        }
        float *dw = with_grad ? ms_nn_grad(p, ly->iw) : NULL;
        float *db = with_grad ? ms_nn_grad(p, ly->ib) : NULL;
        const float *w = ms_nn_param(p, ly->iw);
        if (st->per_sample) {
            for (size_t j = 0; j < nb; j++)
                csn_layer_backward(ly, dst ? dst + j * per_in : NULL, dw, db, s->col, g + j * per_out,
                                   in + j * per_in, w, 1);
        } else {
            csn_layer_backward(ly, dst, dw, db, s->col, g, in, w, nb);
        }
        g = dst;
    }
}

void csn_critic_forward(const ms_csn_critic *c, const ms_nn_params *p, csn_critic_tape *t,
                        const float *x, const float *za, size_t ca, const float *zb, size_t cb,
                        size_t B, size_t L, float slope, float *col)
{
    /* x [B, 1, n_len]; za [B, ca, L]; zb [B, cb, L]; t->prob [B] */
    assert(ca + cb == c->z.c_in && L == c->z.l_in);
    csn_stack_forward(&c->x, p, &t->x, x, B, slope, col);
    const float *zin = za;
    if (zb) {
        const float *parts[2] = {za, zb};
        const size_t ch[2] = {ca, cb};
        ms_nn_concat_forward(t->zin, parts, ch, 2, B, L);
        zin = t->zin;
    }
    csn_stack_forward(&c->z, p, &t->z, zin, B, slope, col);
    const float *feats[2] = {t->x.out, t->z.out};
    const size_t nf[2] = {c->n_feat_x, c->n_feat_z};
    ms_nn_concat_forward(t->feat, feats, nf, 2, B, 1);
    const size_t F = c->n_feat_x + c->n_feat_z;
    /* one sample at a time: results independent of the batch size (exact sums, csn_train.c) */
    for (size_t i = 0; i < B; i++)
        ms_nn_dense_forward(t->logit + i, t->feat + i * F, ms_nn_param(p, c->iw),
                            ms_nn_param(p, c->ib), 1, F, 1);
    ms_nn_sigmoid_forward(t->prob, t->logit, B);
}

void csn_critic_backward(const ms_csn_critic *c, const ms_nn_params *p, int with_grad,
                         const csn_critic_tape *t, const float *dprob, float *dx, float *dza,
                         size_t ca, float *dzb, size_t cb, size_t b0, size_t nb, size_t L,
                         float slope, csn_scratch *s)
{
    /* dprob [nb]; dx [nb, 1, n_len]; dza [nb, ca, L]; dzb [nb, cb, L] */
    const size_t Fx = c->n_feat_x, Fz = c->n_feat_z, F = Fx + Fz, cz = c->z.c_in;
    assert(nb <= s->cap);
    csn_arena a = {s->crit, 0};
    float *dlogit = csn_arena_take(&a, nb);      /* [nb] */
    float *dfeat = csn_arena_take(&a, nb * F);   /* [nb, F] */
    float *dxo = csn_arena_take(&a, nb * Fx);    /* [nb, Fx] */
    float *dzo = csn_arena_take(&a, nb * Fz);    /* [nb, Fz] */
    float *dzin = csn_arena_take(&a, nb * cz * L); /* [nb, cz, L] */
    assert(a.n <= nb * s->crit_floats);
    memset(dlogit, 0, nb * sizeof(float));
    ms_nn_sigmoid_backward(dlogit, dprob, t->prob + b0, nb);
    memset(dfeat, 0, nb * F * sizeof(float));
    ms_nn_dense_backward(dfeat, with_grad ? ms_nn_grad(p, c->iw) : NULL,
                         with_grad ? ms_nn_grad(p, c->ib) : NULL, dlogit, t->feat + b0 * F,
                         ms_nn_param(p, c->iw), nb, F, 1);
    memset(dxo, 0, nb * Fx * sizeof(float));
    memset(dzo, 0, nb * Fz * sizeof(float));
    float *parts[2] = {dxo, dzo};
    const size_t nf[2] = {Fx, Fz};
    ms_nn_concat_backward(parts, dfeat, nf, 2, nb, 1);
    csn_stack_backward(&c->x, p, with_grad, &t->x, dxo, dx, b0, nb, slope, s);
    if (cb == 0) {
        csn_stack_backward(&c->z, p, with_grad, &t->z, dzo, dza, b0, nb, slope, s);
        return;
    }
    const int need = dza || dzb;
    if (need) memset(dzin, 0, nb * cz * L * sizeof(float));
    csn_stack_backward(&c->z, p, with_grad, &t->z, dzo, need ? dzin : NULL, b0, nb, slope, s);
    if (need) {
        float *dparts[2] = {dza, dzb};
        const size_t ch[2] = {ca, cb};
        ms_nn_concat_backward(dparts, dzin, ch, 2, nb, L);
    }
}

void csn_to_internal(const ms_csn *net, const float *flux, const float *err, size_t B,
                     float *x, float *w)
{
    /* flux, err [B, n_pix]; x, w [B, n_len] */
    const size_t N = net->n_len, P = net->n_pix;
    const ms_cfg_csn *c = &net->cfg;
    const double mean = net->mean, sd = net->std;
    const double floor_ = c->err_floor, emax = c->err_max, synth = c->synthetic_error;
    for (size_t b = 0; b < B; b++) {
        const float *f = flux + b * P, *e = err ? err + b * P : NULL;
        float *xb = x + b * N, *wb = w ? w + b * N : NULL;
        for (size_t j = 0; j < N; j++) {
            size_t pix;
            int inside;
            if (net->crop) {
                pix = j + net->offset;
                inside = 1;
            } else {
                inside = j >= net->offset && j - net->offset < P;
                pix = inside ? j - net->offset : 0;
            }
            float v = inside ? f[pix] : NAN;
            int ok = isfinite(v);
            xb[j] = ok ? (float)(((double)v - mean) / sd) : 0.0f;
            if (!wb) continue;
            double ww = 0.0;
            if (ok && !e) {
                ww = sd / synth;
            } else if (ok) {
                double ev = e[pix];
                if (isfinite(ev) && ev > 0.0 && (emax <= 0.0 || ev <= emax))
                    ww = sd / (ev > floor_ ? ev : floor_);
            }
            wb[j] = (float)ww;
        }
    }
}

void csn_from_internal(const ms_csn *net, const float *x, const float *pass, size_t B,
                       float *flux)
{
    /* x [B, n_len]; pass, flux [B, n_pix] */
    const size_t N = net->n_len, P = net->n_pix;
    for (size_t b = 0; b < B; b++) {
        const float *xb = x + b * N;
        float *fb = flux + b * P;
        if (net->crop) {
            for (size_t p = 0; p < P; p++) {
                if (p >= net->offset && p - net->offset < N)
                    fb[p] = (float)((double)xb[p - net->offset] * net->std + net->mean);
                else
                    fb[p] = pass ? pass[b * P + p] : NAN;
            }
        } else {
            for (size_t p = 0; p < P; p++)
                fb[p] = (float)((double)xb[p + net->offset] * net->std + net->mean);
        }
    }
}
