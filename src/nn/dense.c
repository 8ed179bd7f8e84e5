/* dense.c: fully connected layer, OpenBLAS and reference loops (see nn.h). */
#include "mstars/nn.h"

#include "nn_internal.h"

void ms_nn_dense_forward(float *out, const float *in, const float *w, const float *b, size_t B,
                         size_t n_in, size_t n_out)
{
    /* out [B, n_out]; in [B, n_in]; w [n_out, n_in]; b [n_out] */
    if (b) {
        for (size_t i = 0; i < B; i++)
            for (size_t o = 0; o < n_out; o++) out[i * n_out + o] = b[o];
    }
    if (B <= MS_NN_SMALL_M)
        ms_nn_gemm_nt_small(B, n_out, n_in, in, n_in, w, n_in, out, n_out, b != NULL);
    else
        ms_nn_sgemm(0, 1, B, n_out, n_in, 1.0f, in, n_in, w, n_in, b ? 1.0f : 0.0f, out, n_out);
}

void ms_nn_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                          const float *w, size_t B, size_t n_in, size_t n_out)
{
    /* din [B, n_in]; dw [n_out, n_in]; db [n_out]; dout [B, n_out]; in [B, n_in];
     * w [n_out, n_in] */
    if (din && B == 1) /* one pass over w, no packing */
        cblas_sgemv(CblasRowMajor, CblasTrans, ms_nn_bi(n_out), ms_nn_bi(n_in), 1.0f, w,
                    ms_nn_bi(n_in), dout, 1, 1.0f, din, 1);
    else if (din)
        ms_nn_sgemm(0, 0, B, n_in, n_out, 1.0f, dout, n_out, w, n_in, 1.0f, din, n_in);
    if (dw) ms_nn_sgemm(1, 0, n_out, n_in, B, 1.0f, dout, n_out, in, n_in, 1.0f, dw, n_in);
    if (db) {
        for (size_t i = 0; i < B; i++) {
            const float *g = dout + i * n_out; /* [n_out] */
            for (size_t o = 0; o < n_out; o++) db[o] += g[o];
        }
    }
}

void ms_nn_dense_forward_naive(float *out, const float *in, const float *w, const float *b,
                               size_t B, size_t n_in, size_t n_out)
{
    for (size_t i = 0; i < B; i++)
        for (size_t o = 0; o < n_out; o++) {
            double s = b ? b[o] : 0.0;
            for (size_t k = 0; k < n_in; k++) s += (double)in[i * n_in + k] * w[o * n_in + k];
            out[i * n_out + o] = (float)s;
        }
}

void ms_nn_dense_backward_naive(float *din, float *dw, float *db, const float *dout,
                                const float *in, const float *w, size_t B, size_t n_in,
                                size_t n_out)
{
    if (din)
        for (size_t i = 0; i < B; i++)
            for (size_t k = 0; k < n_in; k++) {
                double s = 0.0;
                for (size_t o = 0; o < n_out; o++) s += (double)dout[i * n_out + o] * w[o * n_in + k];
                din[i * n_in + k] += (float)s;
            }
    if (dw)
        for (size_t o = 0; o < n_out; o++)
            for (size_t k = 0; k < n_in; k++) {
                double s = 0.0;
                for (size_t i = 0; i < B; i++) s += (double)dout[i * n_out + o] * in[i * n_in + k];
                dw[o * n_in + k] += (float)s;
            }
    if (db)
        for (size_t o = 0; o < n_out; o++) {
            double s = 0.0;
            for (size_t i = 0; i < B; i++) s += dout[i * n_out + o];
            db[o] += (float)s;
        }
}
