/* convtranspose1d.c: 1-D transposed convolution, the adjoint of conv1d (GEMM + col2im). */
#include "mstars/nn.h"

#include "nn_internal.h"

#include <stdlib.h>
#include <string.h>

size_t ms_nn_convt1d_ws_floats(const ms_nn_conv_dims *d)
{
    return d->c_out * d->kernel * d->l_in;
}

void ms_nn_convt1d_forward(float *out, float *ws, const float *in, const float *w,
                           const float *b, const ms_nn_conv_dims *d)
{
    /* out [B, c_out, l_out]; ws [c_out kernel, l_in]; in [B, c_in, l_in];
     * w [c_in, c_out kernel]; b [c_out] */
    const size_t l_out = ms_nn_convt1d_out_len(d), ck = d->c_out * d->kernel;
    assert(l_out > 0);
    for (size_t s = 0; s < d->B; s++) {
        const float *x = in + s * d->c_in * d->l_in; /* [c_in, l_in] */
        float *y = out + s * d->c_out * l_out;      /* [c_out, l_out] */
        if (b) {
            for (size_t o = 0; o < d->c_out; o++)
                for (size_t t = 0; t < l_out; t++) y[o * l_out + t] = b[o];
        } else {
            memset(y, 0, d->c_out * l_out * sizeof(float));
        }
        ms_nn_sgemm(1, 0, ck, d->l_in, d->c_in, 1.0f, w, ck, x, d->l_in, 0.0f, ws, d->l_in);
        ms_nn_col2im(y, ws, d->c_out, l_out, d->kernel, d->stride, d->padding, d->l_in);
    }
}

void ms_nn_convt1d_backward(float *din, float *dw, float *db, float *ws, const float *dout,
                            const float *in, const float *w, const ms_nn_conv_dims *d)
{
    /* din [B, c_in, l_in]; dw [c_in, c_out kernel]; db [c_out]; ws [c_out kernel, l_in];
     * dout [B, c_out, l_out]; in [B, c_in, l_in]; w [c_in, c_out kernel] */
    const size_t l_out = ms_nn_convt1d_out_len(d), ck = d->c_out * d->kernel;
    for (size_t s = 0; s < d->B; s++) {
        const float *g = dout + s * d->c_out * l_out; /* [c_out, l_out] */
        if (db)
            for (size_t o = 0; o < d->c_out; o++) {
                float acc = 0.0f;
                for (size_t t = 0; t < l_out; t++) acc += g[o * l_out + t];
                db[o] += acc;
            }
        if (!dw && !din) continue;
        ms_nn_im2col(ws, g, d->c_out, l_out, d->kernel, d->stride, d->padding, d->l_in);
        if (din)
            ms_nn_sgemm(0, 0, d->c_in, d->l_in, ck, 1.0f, w, ck, ws, d->l_in, 1.0f,
                        din + s * d->c_in * d->l_in, d->l_in);
        if (dw)
            ms_nn_sgemm(0, 1, d->c_in, ck, d->l_in, 1.0f, in + s * d->c_in * d->l_in, d->l_in, ws,
                        d->l_in, 1.0f, dw, ck);
    }
}

void ms_nn_convt1d_forward_naive(float *out, const float *in, const float *w, const float *b,
                                 const ms_nn_conv_dims *d)
{
    const size_t l_out = ms_nn_convt1d_out_len(d), K = d->kernel;
    double *acc = calloc(d->c_out * l_out, sizeof(double));
    if (!acc) return; /* reference code for tests only */
    for (size_t s = 0; s < d->B; s++) {
        for (size_t i = 0; i < d->c_out * l_out; i++) acc[i] = b ? b[i / l_out] : 0.0;
        for (size_t ci = 0; ci < d->c_in; ci++)
            for (size_t t = 0; t < d->l_in; t++) {
                double x = in[(s * d->c_in + ci) * d->l_in + t];
                for (size_t o = 0; o < d->c_out; o++)
                    for (size_t k = 0; k < K; k++) {
                        long pos = (long)(t * d->stride + k) - (long)d->padding;
                        if (pos < 0 || pos >= (long)l_out) continue;
                        acc[o * l_out + (size_t)pos] += x * w[(ci * d->c_out + o) * K + k];
                    }
            }
        for (size_t i = 0; i < d->c_out * l_out; i++) out[s * d->c_out * l_out + i] = (float)acc[i];
    }
    free(acc);
}
