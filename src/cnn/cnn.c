/* cnn.c: the L25 network (Fig. 2: 4 x [conv -> ReLU -> max-pool] -> dense), forward and
 * backward on the nn engine.
 *
 * Our choice of sizes (L25 gives none), for a LAMOST low-resolution spectrum on a 1 A grid
 * (R ~ 1800: a resolution element is 3-5 A):
 *   - conv kernels 9, 7, 5, 3 with "same" padding: the first layer sees ~2 resolution elements
 *     (a line profile), deeper ones combine features already pooled;
 *   - pools 4, 4, 2, 2: the receptive field of a unit of the last layer is 224 A, the width of
 *     the TiO and CaH band heads that carry Teff and [M/H] in M stars; the dense layer sees
 *     the whole spectrum in 45 (Z25-range view, 2900 A) or 78 (3900-8899 A view) positions;
 *   - channels 8, 16, 32, 32: ~17,000 weights for the 5000-pixel view. The labelled sets
 *     are small (L25: 12,541 dM; our mock and real sets: hundreds and 35), so capacity is kept
 *     low; this also keeps the ten-model ensemble under 10 ms per spectrum on one core
 *     (~2.8 M multiply-adds per model);
 *   - one dense layer straight to the outputs (L25: "one fully connected layer").
 * Initialisation is PyTorch's default (so the PyTorch benchmark trains the same network). */
#include "mstars/cnn.h"

#include "mstars/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

ms_cnn_arch ms_cnn_arch_default(size_t n_in, size_t n_out)
{
    ms_cnn_arch a = {n_in, {8, 16, 32, 32}, {9, 7, 5, 3}, {4, 4, 2, 2}, n_out};
    return a;
}

size_t ms_cnn_len(const ms_cnn_arch *a, int i)
{
    size_t l = a->n_in;
    for (int k = 0; k <= i; k++) l = a->pool[k] ? l / a->pool[k] : 0;
    return l;
}

size_t ms_cnn_fc_in(const ms_cnn_arch *a)
{
    return a->channels[MS_CNN_N_CONV - 1] * ms_cnn_len(a, MS_CNN_N_CONV - 1);
}

ms_status ms_cnn_arch_check(const ms_cnn_arch *a)
{
    if (a->n_out == 0 || a->n_out > MS_CNN_MAX_OUT)
        MS_ERROR(MS_EINVAL, "cnn: %zu outputs (1..%d)", a->n_out, MS_CNN_MAX_OUT);
    size_t l = a->n_in;
    for (int i = 0; i < MS_CNN_N_CONV; i++) {
        if (a->channels[i] == 0 || a->kernel[i] % 2 == 0 || a->pool[i] == 0)
            MS_ERROR(MS_EINVAL, "cnn layer %d: channels %zu, kernel %zu (must be odd), pool %zu",
                     i, a->channels[i], a->kernel[i], a->pool[i]);
        if (l < a->kernel[i] || l / a->pool[i] == 0)
            MS_ERROR(MS_EINVAL, "cnn layer %d: length %zu is too short for kernel %zu and pool "
                                "%zu (input %zu pixels)",
                     i, l, a->kernel[i], a->pool[i], a->n_in);
        l /= a->pool[i];
    }
    return MS_OK;
}

ms_status ms_cnn_init(ms_cnn *net, const ms_cnn_arch *a)
{
    memset(net, 0, sizeof *net);
    MS_TRY(ms_cnn_arch_check(a));
    net->arch = *a;
    ms_nn_params_init(&net->params);
    size_t c_in = 1;
    for (int i = 0; i < MS_CNN_N_CONV; i++) {
        char name[MS_NN_NAME_MAX];
        size_t ws[3] = {a->channels[i], c_in, a->kernel[i]}, bs[1] = {a->channels[i]};
        snprintf(name, sizeof name, "conv%d.weight", i);
        MS_TRY(ms_nn_params_add(&net->params, name, 3, ws, &net->iw[i]));
        snprintf(name, sizeof name, "conv%d.bias", i);
        MS_TRY(ms_nn_params_add(&net->params, name, 1, bs, &net->ib[i]));
        c_in = a->channels[i];
    }
    size_t fw[2] = {a->n_out, ms_cnn_fc_in(a)}, fb[1] = {a->n_out};
    MS_TRY(ms_nn_params_add(&net->params, "fc.weight", 2, fw, &net->iw[MS_CNN_N_CONV]));
    MS_TRY(ms_nn_params_add(&net->params, "fc.bias", 1, fb, &net->ib[MS_CNN_N_CONV]));
    return ms_nn_params_alloc(&net->params);
}

void ms_cnn_init_weights(ms_cnn *net, ms_nn_rng *rng)
{
    for (int i = 0; i <= MS_CNN_N_CONV; i++) {
        const ms_nn_tensor *w = &net->params.t[net->iw[i]], *b = &net->params.t[net->ib[i]];
        size_t fan_in = w->size / w->shape[0];
        ms_nn_init_torch_default(ms_nn_param(&net->params, net->iw[i]), w->size, fan_in, rng);
        ms_nn_init_torch_default(ms_nn_param(&net->params, net->ib[i]), b->size, fan_in, rng);
    }
}

void ms_cnn_free(ms_cnn *net)
{
    ms_nn_params_free(&net->params);
    memset(net, 0, sizeof *net);
}

/* ------------------------------------------------------------------ workspace */
struct ms_cnn_ws {
    size_t max_batch;
    float *in[MS_CNN_N_CONV + 1]; /* in[0] = the input copy, in[i+1] = pooled output of i */
    float *act[MS_CNN_N_CONV];    /* conv output (before ReLU) [B, c_i, l_i] */
    int32_t *arg[MS_CNN_N_CONV];  /* max-pool argmax */
    float *col;                   /* im2col of one spectrum */
    float *g_act, *g_in;          /* backward scratch (largest activation) */
};

static size_t conv_len_in(const ms_cnn_arch *a, int i)
{
    return i == 0 ? a->n_in : ms_cnn_len(a, i - 1);
}

static ms_nn_conv_dims conv_dims(const ms_cnn_arch *a, int i, size_t B)
{
    ms_nn_conv_dims d = {B, i == 0 ? 1 : a->channels[i - 1], a->channels[i], conv_len_in(a, i),
                         a->kernel[i], 1, a->kernel[i] / 2, 0};
    return d;
}

ms_status ms_cnn_ws_alloc(const ms_cnn_arch *a, size_t max_batch, ms_cnn_ws **out)
{
    *out = NULL;
    MS_TRY(ms_cnn_arch_check(a));
    if (max_batch == 0) MS_ERROR(MS_EINVAL, "cnn workspace: batch 0");
    ms_cnn_ws *w = ms_calloc("cnn.ws", 1, sizeof *w);
    if (!w) return MS_ENOMEM;
    w->max_batch = max_batch;
    const size_t B = max_batch;
    size_t big = a->n_in, colmax = 0;
    int ok = (w->in[0] = ms_malloc_array("cnn.ws.in", B * a->n_in, sizeof(float))) != NULL;
    for (int i = 0; ok && i < MS_CNN_N_CONV; i++) {
        size_t l = conv_len_in(a, i), lp = ms_cnn_len(a, i), c = a->channels[i];
        ms_nn_conv_dims d = conv_dims(a, i, 1);
        if (ms_nn_conv1d_ws_floats(&d) > colmax) colmax = ms_nn_conv1d_ws_floats(&d);
        if (c * l > big) big = c * l;
        ok = (w->act[i] = ms_malloc_array("cnn.ws.act", B * c * l, sizeof(float))) &&
             (w->arg[i] = ms_malloc_array("cnn.ws.arg", B * c * lp, sizeof(int32_t))) &&
             (w->in[i + 1] = ms_malloc_array("cnn.ws.pool", B * c * lp, sizeof(float)));
    }
    if (ok) ok = (w->col = ms_malloc_array("cnn.ws.col", colmax + 1, sizeof(float))) &&
                 (w->g_act = ms_malloc_array("cnn.ws.gact", B * big, sizeof(float))) &&
                 (w->g_in = ms_malloc_array("cnn.ws.gin", B * big, sizeof(float)));
    if (!ok) {
        ms_cnn_ws_free(w);
        return MS_ENOMEM;
    }
    *out = w;
    return MS_OK;
}

void ms_cnn_ws_free(ms_cnn_ws *w)
{
    if (!w) return;
    for (int i = 0; i <= MS_CNN_N_CONV; i++) ms_free(w->in[i]);
    for (int i = 0; i < MS_CNN_N_CONV; i++) {
        ms_free(w->act[i]);
        ms_free(w->arg[i]);
    }
    ms_free(w->col);
    ms_free(w->g_act);
    ms_free(w->g_in);
    ms_free(w);
}

/* ------------------------------------------------------------------ passes */

/* ReLU then max-pool (kernel = stride = p, PyTorch's floor mode) of one spectrum's conv output
 * in [C, l], fused: as ReLU is monotone, pool(relu(x)) = relu(pool(x)), so the window's
 * maximum is found on the conv output and clipped at 0. arg [C, l / p] receives the input
 * position of the first maximum, or -1 where the output is 0 (no gradient flows there, as
 * through ReLU). Bit-identical to ms_nn_relu_forward + ms_nn_maxpool1d_forward, one pass
 * over the activation while it is in cache. */
static void relu_pool(float *out, int32_t *arg, const float *in, size_t C, size_t l, size_t p)
{
    const size_t lp = l / p;
    for (size_t c = 0; c < C; c++) {
        const float *x = in + c * l;
        float *y = out + c * lp;
        int32_t *a = arg + c * lp;
        for (size_t t = 0; t < lp; t++) {
            const float *w = x + t * p;
            float best = w[0];
            size_t where = 0;
            for (size_t k = 1; k < p; k++)
                if (w[k] > best) {
                    best = w[k];
                    where = k;
                }
            if (best > 0.0f) {
                y[t] = best;
                a[t] = (int32_t)(t * p + where);
            } else {
                y[t] = 0.0f;
                a[t] = -1;
            }
        }
    }
}

ms_status ms_cnn_forward(const ms_cnn *net, ms_cnn_ws *ws, const float *x, size_t B, float *y)
{
    const ms_cnn_arch *a = &net->arch;
    if (B > ws->max_batch)
        MS_ERROR(MS_EINVAL, "cnn forward: batch %zu exceeds the workspace (%zu)", B, ws->max_batch);
    if (B == 0) return MS_OK;
    memcpy(ws->in[0], x, B * a->n_in * sizeof(float));
    const size_t fi = ms_cnn_fc_in(a);
    const float *fw = ms_nn_param(&net->params, net->iw[MS_CNN_N_CONV]),
                *fb = ms_nn_param(&net->params, net->ib[MS_CNN_N_CONV]);
    /* one spectrum at a time through every layer (its activations stay in cache; a
     * spectrum's output does not depend on its batch) */
    for (size_t b = 0; b < B; b++) {
        for (int i = 0; i < MS_CNN_N_CONV; i++) {
            ms_nn_conv_dims d = conv_dims(a, i, 1);
            const size_t l = d.l_in, c = a->channels[i], lp = ms_cnn_len(a, i);
            float *act = ws->act[i] + b * c * l;
            ms_nn_conv1d_forward(act, ws->col, ws->in[i] + b * d.c_in * l,
                                 ms_nn_param(&net->params, net->iw[i]),
                                 ms_nn_param(&net->params, net->ib[i]), &d);
            relu_pool(ws->in[i + 1] + b * c * lp, ws->arg[i] + b * c * lp, act, c, l, a->pool[i]);
        }
        ms_nn_dense_forward(y + b * a->n_out, ws->in[MS_CNN_N_CONV] + b * fi, fw, fb, 1, fi,
                            a->n_out);
    }
    return MS_OK;
}

ms_status ms_cnn_backward(const ms_cnn *net, ms_cnn_ws *ws, const float *dy, size_t B,
                          float *grad)
{
    const ms_cnn_arch *a = &net->arch;
    const ms_nn_params *p = &net->params;
    if (B > ws->max_batch)
        MS_ERROR(MS_EINVAL, "cnn backward: batch %zu exceeds the workspace (%zu)", B, ws->max_batch);
    if (B == 0) return MS_OK;
    const size_t fi = ms_cnn_fc_in(a);
    const int F = MS_CNN_N_CONV;
    /* dense: g_in = d pooled output of the last conv layer */
    memset(ws->g_in, 0, B * fi * sizeof(float));
    ms_nn_dense_backward(ws->g_in, grad + p->t[net->iw[F]].offset, grad + p->t[net->ib[F]].offset,
                         dy, ws->in[F], ms_nn_param(p, net->iw[F]), B, fi, a->n_out);
    for (int i = F - 1; i >= 0; i--) {
        ms_nn_conv_dims d = conv_dims(a, i, B);
        const size_t l = d.l_in, c = a->channels[i], lp = ms_cnn_len(a, i), n = B * c * l;
        /* max-pool and ReLU: the gradient goes to the winning position of every window
         * with a positive output (arg -1 elsewhere) */
        memset(ws->g_act, 0, n * sizeof(float));
        ms_nn_maxpool1d_backward(ws->g_act, ws->g_in, ws->arg[i], B, c, l, lp);
        float *din = NULL;
        if (i > 0) {
            din = ws->g_in;
            memset(din, 0, B * d.c_in * l * sizeof(float));
        }
        ms_nn_conv1d_backward(din, grad + p->t[net->iw[i]].offset, grad + p->t[net->ib[i]].offset,
                              ws->col, ws->g_act, ws->in[i], ms_nn_param(p, net->iw[i]), &d);
    }
    return MS_OK;
}
