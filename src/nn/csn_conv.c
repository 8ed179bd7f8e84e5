/* csn_conv.c: batched convolution layers of the Cycle-StarNet stacks (csn_internal.h).
 *
 * The engine's layers (nn.h) run one GEMM per sample. Deep in the network the per-sample
 * GEMMs are thin (an output length of 8 to 47 positions against weight matrices of up to
 * 512 x 1792) and packing the weights dominates; here the samples of a batch go side by side
 * along the GEMM's N dimension instead: im2col (or a gather) of every sample into one matrix
 * [K, B * l], one GEMM, then a scatter back to [B, C, l]. Same arithmetic per output element
 * (each is one dot product over K in the BLAS kernel's order), so a sample's result does not
 * depend on the batch it travels in; weight gradients sum over samples inside the GEMM.
 * No padding (the stacks never pad). */
#include "csn_internal.h"

#include "nn_internal.h"

#include <string.h>

/* col [(ci k + kk), ld] at columns [s l_cols, (s + 1) l_cols) = x_s [ci, t stride + kk]. */
static void im2col_b(float *col, size_t ld, const float *x, size_t B, size_t c, size_t l_x,
                     size_t k, size_t stride, size_t l_cols)
{
    for (size_t ci = 0; ci < c; ci++)
        for (size_t kk = 0; kk < k; kk++) {
            float *row = col + (ci * k + kk) * ld;
            for (size_t s = 0; s < B; s++) {
                const float *xs = x + (s * c + ci) * l_x + kk; /* [l_x] from kk */
                float *r = row + s * l_cols;
                if (stride == 1)
                    memcpy(r, xs, l_cols * sizeof(float));
                else
                    for (size_t t = 0; t < l_cols; t++) r[t] = xs[t * stride];
            }
        }
}

/* The adjoint: x_s [ci, t stride + kk] += col [(ci k + kk), s l_cols + t]. */
static void col2im_b(float *x, const float *col, size_t ld, size_t B, size_t c, size_t l_x,
                     size_t k, size_t stride, size_t l_cols)
{
    for (size_t ci = 0; ci < c; ci++)
        for (size_t kk = 0; kk < k; kk++) {
            const float *row = col + (ci * k + kk) * ld;
            for (size_t s = 0; s < B; s++) {
                float *xs = x + (s * c + ci) * l_x + kk;
                const float *r = row + s * l_cols;
                for (size_t t = 0; t < l_cols; t++) xs[t * stride] += r[t];
            }
        }
}

/* all [c, B l] from x [B, c, l]. */
static void gather(float *all, const float *x, size_t B, size_t c, size_t l)
{
    for (size_t ci = 0; ci < c; ci++)
        for (size_t s = 0; s < B; s++)
            memcpy(all + ci * B * l + s * l, x + (s * c + ci) * l, l * sizeof(float));
}

/* x [B, c, l] (+)= all [c, B l] (+ b [c] when b and not accumulating). */
static void scatter(float *x, const float *all, size_t B, size_t c, size_t l, const float *b,
                    int add)
{
    for (size_t ci = 0; ci < c; ci++)
        for (size_t s = 0; s < B; s++) {
            float *dst = x + (s * c + ci) * l;
            const float *src = all + ci * B * l + s * l;
            if (add)
                for (size_t t = 0; t < l; t++) dst[t] += src[t];
            else if (b)
                for (size_t t = 0; t < l; t++) dst[t] = src[t] + b[ci];
            else
                memcpy(dst, src, l * sizeof(float));
        }
}

static void bias_grad(float *db, const float *dout, size_t B, size_t c, size_t l)
{
    /* db [c] += sum over samples and positions of dout [B, c, l] */
    for (size_t o = 0; o < c; o++) {
        float acc = 0.0f;
        for (size_t s = 0; s < B; s++) {
            const float *g = dout + (s * c + o) * l;
            for (size_t t = 0; t < l; t++) acc += g[t];
        }
        db[o] += acc;
    }
}

size_t csn_layer_ws_floats(const ms_csn_layer *ly, size_t B)
{
    const size_t ck = ly->c_in * ly->kernel, ok = ly->c_out * ly->kernel;
    switch (ly->kind) {
    case MS_CSN_CONV: return B * ly->l_out * (ck + ly->c_out);
    case MS_CSN_CONVT: return B * ly->l_in * (ok + ly->c_in);
    case MS_CSN_PW: return B * ly->l_in * (ly->c_in + ly->c_out);
    }
    return 0;
}

void csn_layer_forward(const ms_csn_layer *ly, float *out, float *ws, const float *in,
                       const float *w, const float *b, size_t B)
{
    /* in [B, c_in, l_in]; out [B, c_out, l_out]; ws [csn_layer_ws_floats] */
    const size_t ci = ly->c_in, co = ly->c_out, k = ly->kernel, li = ly->l_in, lo = ly->l_out;
    if (B == 0) return;
    switch (ly->kind) {
    case MS_CSN_CONV: {
        const size_t ck = ci * k, n = B * lo;
        float *col = ws, *y = ws + ck * n; /* col [ck, n]; y [co, n] */
        im2col_b(col, n, in, B, ci, li, k, ly->stride, lo);
        ms_nn_sgemm(0, 0, co, n, ck, 1.0f, w, ck, col, n, 0.0f, y, n);
        scatter(out, y, B, co, lo, b, 0);
        break;
    }
    case MS_CSN_CONVT: {
        const size_t ok = co * k, n = B * li;
        float *x = ws, *col = ws + ci * n; /* x [ci, n]; col [ok, n] */
        gather(x, in, B, ci, li);
        ms_nn_sgemm(1, 0, ok, n, ci, 1.0f, w, ok, x, n, 0.0f, col, n);
        for (size_t s = 0; s < B; s++)
            for (size_t o = 0; o < co; o++) {
                float *row = out + (s * co + o) * lo;
                for (size_t t = 0; t < lo; t++) row[t] = b ? b[o] : 0.0f;
            }
        col2im_b(out, col, n, B, co, lo, k, ly->stride, li);
        break;
    }
    case MS_CSN_PW: {
        const size_t n = B * li;
        float *x = ws, *y = ws + ci * n; /* x [ci, n]; y [co, n] */
        gather(x, in, B, ci, li);
        ms_nn_sgemm(0, 0, co, n, ci, 1.0f, w, ci, x, n, 0.0f, y, n);
        scatter(out, y, B, co, lo, b, 0);
        break;
    }
    }
}

void csn_layer_backward(const ms_csn_layer *ly, float *din, float *dw, float *db, float *ws,
                        const float *dout, const float *in, const float *w, size_t B)
{
    /* dout [B, c_out, l_out]; in [B, c_in, l_in]; din [B, c_in, l_in] +=; dw, db += */
    const size_t ci = ly->c_in, co = ly->c_out, k = ly->kernel, li = ly->l_in, lo = ly->l_out;
    if (B == 0) return;
    if (db) bias_grad(db, dout, B, co, lo);
    if (!dw && !din) return;
    switch (ly->kind) {
    case MS_CSN_CONV: {
        const size_t ck = ci * k, n = B * lo;
        float *g = ws, *col = ws + co * n; /* g [co, n]; col [ck, n] */
        gather(g, dout, B, co, lo);
        if (dw) {
            im2col_b(col, n, in, B, ci, li, k, ly->stride, lo);
            ms_nn_sgemm(0, 1, co, ck, n, 1.0f, g, n, col, n, 1.0f, dw, ck);
        }
        if (din) {
            ms_nn_sgemm(1, 0, ck, n, co, 1.0f, w, ck, g, n, 0.0f, col, n);
            col2im_b(din, col, n, B, ci, li, k, ly->stride, lo);
        }
        break;
    }
    case MS_CSN_CONVT: {
        const size_t ok = co * k, n = B * li;
        float *col = ws, *x = ws + ok * n; /* col [ok, n]; x [ci, n] */
        im2col_b(col, n, dout, B, co, lo, k, ly->stride, li);
        if (din) {
            ms_nn_sgemm(0, 0, ci, n, ok, 1.0f, w, ok, col, n, 0.0f, x, n);
            scatter(din, x, B, ci, li, NULL, 1);
        }
        if (dw) {
            gather(x, in, B, ci, li);
            ms_nn_sgemm(0, 1, ci, ok, n, 1.0f, x, n, col, n, 1.0f, dw, ok);
        }
        break;
    }
    case MS_CSN_PW: {
        const size_t n = B * li;
        float *g = ws, *x = ws + co * n; /* g [co, n]; x [ci, n] */
        gather(g, dout, B, co, lo);
        if (dw) {
            gather(x, in, B, ci, li);
            ms_nn_sgemm(0, 1, co, ci, n, 1.0f, g, n, x, n, 1.0f, dw, ci);
        }
        if (din) {
            ms_nn_sgemm(1, 0, ci, n, co, 1.0f, w, ci, g, n, 0.0f, x, n);
            scatter(din, x, B, ci, li, NULL, 1);
        }
        break;
    }
    }
}
