/* payne.c: The Payne network: batched forward, forward-mode Jacobian, VJP and parameter
 * backward on OpenBLAS; emulator scaling and hashing (see payne.h). */
#include "mstars/payne.h"
#include "mstars/schema.h"

#include "mstars/hash.h"
#include "mstars/mem.h"
#include "nn_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct ms_payne_ws {
    size_t max_batch;
    int jacobian;
    size_t fwd_batch;  /* batch of the last ms_payne_forward (0: none) */
    float *act;        /* [n_layers, max_batch, H] post-activations of the hidden layers */
    float *g0, *g1;    /* [max_batch, H] backward ping-pong */
    float *s0, *s1;    /* [max_batch (D + 1), H] primal rows then tangent rows */
    float *o;          /* [max_batch (D + 1), n_pix] output stack */
    float *block;      /* the one allocation */
    int exact;         /* MS_PAYNE_WS_EXACT: every product by ms_nn_gemm_nt_exact */
    float *wt[MS_PAYNE_MAX_LAYERS + 1]; /* exact: transposed weights [n_in, n_out] (vjp) */
};

/* out [B, n_out] = in [B, n_in] . w^T + b; with an exact workspace each row by the
 * batch-independent kernel for any B (bias first, then the product added, as
 * ms_nn_dense_forward does for small batches). */
static void dense_fwd(const ms_payne_ws *ws, float *out, const float *in, const float *w,
                      const float *b, size_t B, size_t n_in, size_t n_out)
{
    if (!ws->exact) {
        ms_nn_dense_forward(out, in, w, b, B, n_in, n_out);
        return;
    }
    for (size_t i = 0; i < B; i++) memcpy(out + i * n_out, b, n_out * sizeof(float));
    ms_nn_gemm_nt_exact(B, n_out, n_in, in, n_in, w, n_in, out, n_out, 1);
}

/* din [B, n_in] += dout [B, n_out] . w_l [n_out, n_in] (input gradient of layer l). */
static void dense_din(const ms_payne *net, const ms_payne_ws *ws, size_t l, float *din,
                      const float *dout, size_t B, size_t n_in, size_t n_out)
{
    if (ws->exact)
        ms_nn_gemm_nt_exact(B, n_in, n_out, dout, n_out, ws->wt[l], n_out, din, n_in, 1);
    else
        ms_nn_dense_backward(din, NULL, NULL, dout, NULL, ms_payne_w(net, l), B, n_in, n_out);
}

ms_status ms_payne_init(ms_payne *net, size_t n_labels, size_t n_hidden, size_t n_layers,
                        size_t n_pix, float slope)
{
    memset(net, 0, sizeof *net);
    ms_nn_params_init(&net->params);
    if (n_labels < 1 || n_labels > MS_PAYNE_MAX_LABELS)
        MS_ERROR(MS_EINVAL, "payne: %zu labels (1..%d)", n_labels, MS_PAYNE_MAX_LABELS);
    if (n_layers < 1 || n_layers > MS_PAYNE_MAX_LAYERS)
        MS_ERROR(MS_EINVAL, "payne: %zu hidden layers (1..%d)", n_layers, MS_PAYNE_MAX_LAYERS);
    if (n_hidden < 1 || n_pix < 1 || n_hidden > 1000000 || n_pix > 10000000)
        MS_ERROR(MS_EINVAL, "payne: hidden width %zu or pixel count %zu out of range", n_hidden,
                 n_pix);
    net->n_labels = n_labels;
    net->n_hidden = n_hidden;
    net->n_layers = n_layers;
    net->n_pix = n_pix;
    net->slope = slope;
    for (size_t l = 0; l <= n_layers; l++) {
        size_t n_in = l == 0 ? n_labels : n_hidden, n_out = l == n_layers ? n_pix : n_hidden;
        char name[32];
        snprintf(name, sizeof name, "w_array_%zu", l);
        MS_TRY(ms_nn_params_add(&net->params, name, 2, (size_t[]){n_out, n_in}, &net->iw[l]));
        snprintf(name, sizeof name, "b_array_%zu", l);
        MS_TRY(ms_nn_params_add(&net->params, name, 1, (size_t[]){n_out}, &net->ib[l]));
    }
    return ms_nn_params_alloc(&net->params);
}

void ms_payne_init_weights(ms_payne *net, ms_nn_rng *rng)
{
    for (size_t l = 0; l <= net->n_layers; l++) {
        size_t fan_in = l == 0 ? net->n_labels : net->n_hidden;
        const ms_nn_tensor *tw = &net->params.t[net->iw[l]], *tb = &net->params.t[net->ib[l]];
        ms_nn_init_torch_default(ms_payne_w(net, l), tw->size, fan_in, rng);
        ms_nn_init_torch_default(ms_payne_b(net, l), tb->size, fan_in, rng);
    }
}

void ms_payne_free(ms_payne *net)
{
    ms_nn_params_free(&net->params);
    memset(net, 0, sizeof *net);
}

float *ms_payne_w(const ms_payne *net, size_t l) { return ms_nn_param(&net->params, net->iw[l]); }
float *ms_payne_b(const ms_payne *net, size_t l) { return ms_nn_param(&net->params, net->ib[l]); }

ms_status ms_payne_ws_alloc(const ms_payne *net, size_t max_batch, int flags,
                            ms_payne_ws **out)
{
    *out = NULL;
    const int jacobian = (flags & MS_PAYNE_WS_JACOBIAN) != 0, exact = (flags & MS_PAYNE_WS_EXACT) != 0;
    if (max_batch == 0) MS_ERROR(MS_EINVAL, "payne workspace: batch size 0");
    const size_t H = net->n_hidden, D1 = net->n_labels + 1, P = net->n_pix;
    if (max_batch > (size_t)INT_MAX / (D1 * (H > P ? H : P)))
        MS_ERROR(MS_EINVAL, "payne workspace: batch %zu too large", max_batch);
    ms_payne_ws *ws = ms_calloc("payne.ws", 1, sizeof *ws);
    if (!ws) return MS_ENOMEM;
    /* pieces rounded to 16 floats (64 bytes) */
#define R16(n) (((n) + 15) / 16 * 16)
    size_t n_act = R16(net->n_layers * max_batch * H), n_g = R16(max_batch * H);
    size_t n_s = jacobian ? R16(max_batch * D1 * H) : 0, n_o = jacobian ? R16(max_batch * D1 * P) : 0;
    size_t n_wt = 0;
    for (size_t l = 0; exact && l <= net->n_layers; l++)
        n_wt += R16(net->params.t[net->iw[l]].size);
#undef R16
    ws->block = ms_malloc_array("payne.ws.block", n_act + 2 * n_g + 2 * n_s + n_o + n_wt,
                                sizeof(float));
    if (!ws->block) {
        ms_free(ws);
        return MS_ENOMEM;
    }
    ws->max_batch = max_batch;
    ws->jacobian = jacobian;
    ws->act = ws->block;
    ws->g0 = ws->act + n_act;
    ws->g1 = ws->g0 + n_g;
    if (jacobian) {
        ws->s0 = ws->g1 + n_g;
        ws->s1 = ws->s0 + n_s;
        ws->o = ws->s1 + n_s;
    }
    ws->exact = exact;
    float *wt = ws->block + n_act + 2 * n_g + 2 * n_s + n_o;
    for (size_t l = 0; exact && l <= net->n_layers; l++) {
        const size_t n_in = l == 0 ? net->n_labels : H, n_out = l == net->n_layers ? P : H;
        const float *w = ms_payne_w(net, l); /* [n_out, n_in] */
        ws->wt[l] = wt;
        for (size_t o = 0; o < n_out; o++)
            for (size_t i = 0; i < n_in; i++) wt[i * n_out + o] = w[o * n_in + i];
        wt += (n_out * n_in + 15) / 16 * 16;
    }
    *out = ws;
    return MS_OK;
}

void ms_payne_ws_free(ms_payne_ws *ws)
{
    if (!ws) return;
    ms_free(ws->block);
    ms_free(ws);
}

ms_status ms_payne_forward(const ms_payne *net, ms_payne_ws *ws, const float *x, size_t B,
                           float *flux)
{
    /* x [B, D]; flux [B, n_pix]; act[l] [B, H] */
    if (B > ws->max_batch)
        MS_ERROR(MS_EINVAL, "payne: batch %zu exceeds the workspace's %zu", B, ws->max_batch);
    const size_t H = net->n_hidden, L = net->n_layers;
    const float *in = x;
    size_t n_in = net->n_labels;
    for (size_t l = 0; l < L; l++) {
        float *a = ws->act + l * ws->max_batch * H; /* [B, H] */
        dense_fwd(ws, a, in, ms_payne_w(net, l), ms_payne_b(net, l), B, n_in, H);
        ms_nn_leaky_relu_forward(a, a, B * H, net->slope);
        in = a;
        n_in = H;
    }
    dense_fwd(ws, flux, in, ms_payne_w(net, L), ms_payne_b(net, L), B, H, net->n_pix);
    ws->fwd_batch = B;
    return MS_OK;
}

ms_status ms_payne_jacobian(const ms_payne *net, ms_payne_ws *ws, const float *x, size_t B,
                            float *flux, float *jac)
{
    /* x [B, D]; flux [B, n_pix]; jac [B, D, n_pix].
     * Stacks s [B (D + 1), H]: rows 0..B-1 the primal activations, row B + b D + j the
     * tangent d a[b] / d x[b][j]. */
    if (!ws->jacobian) MS_ERROR(MS_EINVAL, "payne: workspace allocated without Jacobian buffers");
    if (B > ws->max_batch)
        MS_ERROR(MS_EINVAL, "payne: batch %zu exceeds the workspace's %zu", B, ws->max_batch);
    const size_t H = net->n_hidden, D = net->n_labels, L = net->n_layers, P = net->n_pix;
    const size_t rows = B * (D + 1);
    const float slope = net->slope;
    float *s = ws->s0, *t = ws->s1;
    ws->fwd_batch = 0; /* the activations in ws->act are not kept by this path */

    /* layer 0: primal z = W0 x + b0; tangent j = column j of W0 */
    const float *w0 = ms_payne_w(net, 0); /* [H, D] */
    dense_fwd(ws, s, x, w0, ms_payne_b(net, 0), B, D, H);
    for (size_t b = 0; b < B; b++) {
        const float *z = s + b * H; /* [H] */
        for (size_t j = 0; j < D; j++) {
            float *tg = s + (B + b * D + j) * H; /* [H] */
            for (size_t h = 0; h < H; h++) tg[h] = z[h] > 0.0f ? w0[h * D + j] : slope * w0[h * D + j];
        }
    }
    ms_nn_leaky_relu_forward(s, s, B * H, slope);

    /* hidden layers 1..L-1: one GEMM over all rows, bias on the primal rows only */
    for (size_t l = 1; l < L; l++) {
        const float *bl = ms_payne_b(net, l); /* [H] */
        if (ws->exact)
            ms_nn_gemm_nt_exact(rows, H, H, s, H, ms_payne_w(net, l), H, t, H, 0);
        else if (rows <= MS_NN_SMALL_M)
            ms_nn_gemm_nt_small(rows, H, H, s, H, ms_payne_w(net, l), H, t, H, 0);
        else
            ms_nn_sgemm(0, 1, rows, H, H, 1.0f, s, H, ms_payne_w(net, l), H, 0.0f, t, H);
        for (size_t b = 0; b < B; b++) {
            float *z = t + b * H;
            for (size_t h = 0; h < H; h++) z[h] += bl[h];
            for (size_t j = 0; j < D; j++) {
                float *tg = t + (B + b * D + j) * H;
                for (size_t h = 0; h < H; h++)
                    if (!(z[h] > 0.0f)) tg[h] *= slope;
            }
        }
        ms_nn_leaky_relu_forward(t, t, B * H, slope);
        float *tmp = s;
        s = t;
        t = tmp;
    }

    /* output layer: [B (D + 1), H] . w_out^T -> [B (D + 1), n_pix] */
    const float *bo = ms_payne_b(net, L); /* [n_pix] */
    float *o = ws->o;
    if (ws->exact)
        ms_nn_gemm_nt_exact(rows, P, H, s, H, ms_payne_w(net, L), H, o, P, 0);
    else if (rows <= MS_NN_SMALL_M)
        ms_nn_gemm_nt_small(rows, P, H, s, H, ms_payne_w(net, L), H, o, P, 0);
    else
        ms_nn_sgemm(0, 1, rows, P, H, 1.0f, s, H, ms_payne_w(net, L), H, 0.0f, o, P);
    if (flux) {
        for (size_t b = 0; b < B; b++) {
            float *f = flux + b * P;
            const float *ob = o + b * P;
            for (size_t p = 0; p < P; p++) f[p] = ob[p] + bo[p];
        }
    }
    if (jac) memcpy(jac, o + B * P, B * D * P * sizeof(float));
    return MS_OK;
}

/* Backward through the hidden stack from g [B, H] (gradient at the last hidden
 * activation), accumulating parameter gradients when `params` and the label gradient
 * into gx when not NULL. */
static void hidden_backward(const ms_payne *net, ms_payne_ws *ws, const float *x, size_t B,
                            int params, float *gx)
{
    const size_t H = net->n_hidden, L = net->n_layers, D = net->n_labels;
    float *g = ws->g0, *gn = ws->g1;
    for (size_t l = L; l-- > 0;) {
        const float *a = ws->act + l * ws->max_batch * H; /* [B, H] output of layer l */
        /* through the leaky ReLU (its output has the sign of its input) */
        memset(gn, 0, B * H * sizeof(float));
        ms_nn_leaky_relu_backward(gn, g, a, B * H, net->slope);
        const float *in = l == 0 ? x : ws->act + (l - 1) * ws->max_batch * H;
        size_t n_in = l == 0 ? D : H;
        float *din = NULL;
        if (l > 0) {
            din = g;
            memset(din, 0, B * H * sizeof(float));
        } else {
            din = gx;
        }
        if (!params)
            dense_din(net, ws, l, din, gn, B, n_in, H);
        else
            ms_nn_dense_backward(din, ms_nn_grad(&net->params, net->iw[l]),
                                 ms_nn_grad(&net->params, net->ib[l]), gn, in,
                                 ms_payne_w(net, l), B, n_in, H);
    }
}

ms_status ms_payne_vjp(const ms_payne *net, ms_payne_ws *ws, const float *v, size_t B,
                       float *gx)
{
    /* v [B, n_pix]; gx [B, D] += */
    if (ws->fwd_batch != B || B == 0)
        MS_ERROR(MS_EINVAL, "payne: vjp needs a forward pass of the same batch (%zu) first", B);
    const size_t H = net->n_hidden, L = net->n_layers;
    memset(ws->g0, 0, B * H * sizeof(float));
    dense_din(net, ws, L, ws->g0, v, B, H, net->n_pix);
    hidden_backward(net, ws, NULL, B, 0, gx);
    return MS_OK;
}

ms_status ms_payne_backward(ms_payne *net, ms_payne_ws *ws, const float *x, const float *dflux,
                            size_t B, float *gx)
{
    /* x [B, D]; dflux [B, n_pix]; gx [B, D] += (may be NULL) */
    if (ws->fwd_batch != B || B == 0)
        MS_ERROR(MS_EINVAL, "payne: backward needs a forward pass of the same batch (%zu) first",
                 B);
    const size_t H = net->n_hidden, L = net->n_layers;
    const float *a_last = ws->act + (L - 1) * ws->max_batch * H; /* [B, H] */
    memset(ws->g0, 0, B * H * sizeof(float));
    ms_nn_dense_backward(ws->g0, ms_nn_grad(&net->params, net->iw[L]),
                         ms_nn_grad(&net->params, net->ib[L]), dflux, a_last, ms_payne_w(net, L),
                         B, H, net->n_pix);
    hidden_backward(net, ws, x, B, 1, gx);
    return MS_OK;
}

ms_status ms_payne_backward_into(const ms_payne *net, ms_payne_ws *ws, const float *x,
                                 const float *dflux, size_t B, float *grad)
{
    /* like ms_payne_backward, but the parameter gradients are written (GEMMs with beta = 0)
     * into grad [params.n] instead of added: no zeroing pass over the large buffer */
    if (ws->fwd_batch != B || B == 0)
        MS_ERROR(MS_EINVAL, "payne: backward needs a forward pass of the same batch (%zu) first",
                 B);
    const size_t H = net->n_hidden, L = net->n_layers, D = net->n_labels, P = net->n_pix;
    const ms_nn_params *pp = &net->params;
    float *g = ws->g0, *gn = ws->g1;
    for (size_t l = L + 1; l-- > 0;) {
        const size_t n_in = l == 0 ? D : H, n_out = l == L ? P : H;
        const float *in = l == 0 ? x : ws->act + (l - 1) * ws->max_batch * H; /* [B, n_in] */
        const float *go;                                                     /* [B, n_out] */
        if (l == L) {
            go = dflux;
        } else {
            /* through the leaky ReLU of layer l (its output has the sign of its input) */
            const float *a = ws->act + l * ws->max_batch * H;
            memset(gn, 0, B * H * sizeof(float));
            ms_nn_leaky_relu_backward(gn, g, a, B * H, net->slope);
            go = gn;
        }
        float *dw = grad + pp->t[net->iw[l]].offset, *db = grad + pp->t[net->ib[l]].offset;
        ms_nn_sgemm(1, 0, n_out, n_in, B, 1.0f, go, n_out, in, n_in, 0.0f, dw, n_in);
        for (size_t o = 0; o < n_out; o++) db[o] = 0.0f;
        for (size_t i = 0; i < B; i++)
            for (size_t o = 0; o < n_out; o++) db[o] += go[i * n_out + o];
        if (l > 0) {
            /* the gradient at the input of layer l (= output of layer l - 1) */
            /* g is free once gn holds layer l's gradient (or, for l = L, go is dflux) */
            memset(g, 0, B * H * sizeof(float));
            ms_nn_dense_backward(g, NULL, NULL, go, NULL, ms_payne_w(net, l), B, H, n_out);
        }
    }
    return MS_OK;
}

/* ------------------------------------------------------------------------------------- */

void ms_emulator_init(ms_emulator *e)
{
    memset(e, 0, sizeof *e);
    e->grid_quality_pass = -1;
}

void ms_emulator_free(ms_emulator *e)
{
    ms_payne_free(&e->net);
    ms_free(e->wavelength);
    ms_free(e->config_text);
    ms_free(e->hist_epoch);
    ms_free(e->hist_train_loss);
    ms_free(e->hist_val_loss);
    ms_free(e->val_index);
    ms_free(e->val_labels);
    ms_free(e->val_accuracy);
    ms_free(e->pix_err);
    ms_free(e->pix_var);
    ms_emulator_init(e);
}

size_t ms_emulator_n_labels(const ms_emulator *e) { return e->net.n_labels; }
size_t ms_emulator_n_pix(const ms_emulator *e) { return e->net.n_pix; }

int ms_emulator_label_index(const ms_emulator *e, const char *name)
{
    for (size_t j = 0; j < e->net.n_labels; j++)
        if (strcmp(e->labels[j], name) == 0) return (int)j;
    return -1;
}

void ms_emulator_scale(const ms_emulator *e, const double *y, size_t B, float *x)
{
    /* y, x [B, D] */
    const size_t D = e->net.n_labels;
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < D; j++)
            x[b * D + j] = (float)((y[b * D + j] - e->x_min[j]) / (e->x_max[j] - e->x_min[j]) - 0.5);
}

ms_status ms_emulator_predict(const ms_emulator *e, ms_payne_ws *ws, const double *y, size_t B,
                              float *flux, float *jac)
{
    /* y [B, D]; flux [B, n_pix]; jac [B, D, n_pix] */
    const size_t D = e->net.n_labels, P = e->net.n_pix;
    float x[64 * MS_PAYNE_MAX_LABELS];
    for (size_t b0 = 0; b0 < B; b0 += 64) {
        size_t nb = B - b0 < 64 ? B - b0 : 64;
        ms_emulator_scale(e, y + b0 * D, nb, x);
        if (jac) {
            float *jb = jac + b0 * D * P;
            MS_TRY(ms_payne_jacobian(&e->net, ws, x, nb, flux ? flux + b0 * P : NULL, jb));
            for (size_t b = 0; b < nb; b++)
                for (size_t j = 0; j < D; j++) {
                    float s = (float)(1.0 / (e->x_max[j] - e->x_min[j]));
                    float *row = jb + (b * D + j) * P;
                    for (size_t p = 0; p < P; p++) row[p] *= s;
                }
        } else {
            MS_TRY(ms_payne_forward(&e->net, ws, x, nb, flux + b0 * P));
        }
    }
    return MS_OK;
}

uint64_t ms_emulator_hash(const ms_emulator *e)
{
    uint64_t h = MS_HASH_INIT;
    const ms_payne *n = &e->net;
    uint64_t arch[4] = {n->n_labels, n->n_hidden, n->n_layers, n->n_pix};
    h = ms_hash_bytes(h, arch, sizeof arch);
    h = ms_hash_bytes(h, &n->slope, sizeof n->slope);
    for (size_t l = 0; l <= n->n_layers; l++) {
        h = ms_hash_bytes(h, ms_payne_w(n, l), n->params.t[n->iw[l]].size * sizeof(float));
        h = ms_hash_bytes(h, ms_payne_b(n, l), n->params.t[n->ib[l]].size * sizeof(float));
    }
    for (size_t j = 0; j < n->n_labels; j++) {
        h = ms_hash_bytes(h, e->labels[j], strlen(e->labels[j]) + 1);
        h = ms_hash_bytes(h, &e->x_min[j], sizeof(double));
        h = ms_hash_bytes(h, &e->x_max[j], sizeof(double));
    }
    if (e->wavelength) h = ms_hash_bytes(h, e->wavelength, n->n_pix * sizeof(double));
    return h;
}

double ms_emulator_eq1(const float *f_model, const float *f_recon, size_t n_pix)
{
    double s = 0.0;
    size_t n = 0;
    for (size_t p = 0; p < n_pix; p++) {
        double fm = f_model[p], fr = f_recon[p];
        if (!(fm > 0.0) || !isfinite(fm) || !isfinite(fr)) continue;
        s += fabs(fm - fr) / fm;
        n++;
    }
    return n ? s / (double)n : NAN;
}

ms_status ms_emulator_parse_labels(const char *csv, char names[][MS_PAYNE_LABEL_LEN], size_t *n)
{
    const char *const *known = ms_label_names;
    *n = 0;
    const char *p = csv;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        size_t len = strcspn(p, ", ");
        if (*n == MS_PAYNE_MAX_LABELS)
            MS_ERROR(MS_EINVAL, "emulator.labels: more than %d labels in '%s'", MS_PAYNE_MAX_LABELS,
                     csv);
        int ok = 0;
        for (size_t k = 0; k < MS_N_LABELS; k++)
            if (strlen(known[k]) == len && strncmp(known[k], p, len) == 0) ok = 1;
        if (!ok)
            MS_ERROR(MS_EINVAL, "emulator.labels: unknown label '%.*s' (expected teff, logg, m_h, "
                                "alpha_m)",
                     (int)len, p);
        for (size_t k = 0; k < *n; k++)
            if (strlen(names[k]) == len && strncmp(names[k], p, len) == 0)
                MS_ERROR(MS_EINVAL, "emulator.labels: label '%.*s' given twice", (int)len, p);
        memset(names[*n], 0, MS_PAYNE_LABEL_LEN);
        memcpy(names[*n], p, len);
        (*n)++;
        p += len;
    }
    if (*n == 0) MS_ERROR(MS_EINVAL, "emulator.labels: no label given");
    return MS_OK;
}
