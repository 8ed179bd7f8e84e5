/* pool.c: 1-D max pooling (see nn.h). */
#include "mstars/nn.h"

#include <math.h>

size_t ms_nn_maxpool1d_out_len(size_t l_in, size_t kernel, size_t stride, size_t padding)
{
    if (kernel == 0 || stride == 0 || l_in + 2 * padding < kernel) return 0;
    return (l_in + 2 * padding - kernel) / stride + 1;
}

void ms_nn_maxpool1d_forward(float *out, int32_t *argmax, const float *in, size_t B, size_t C,
                             size_t l_in, size_t kernel, size_t stride, size_t padding)
{
    /* out [B, C, l_out]; argmax [B, C, l_out]; in [B, C, l_in] */
    const size_t l_out = ms_nn_maxpool1d_out_len(l_in, kernel, stride, padding);
    for (size_t r = 0; r < B * C; r++) {
        const float *x = in + r * l_in;
        for (size_t t = 0; t < l_out; t++) {
            float best = -INFINITY;
            long where = -1;
            for (size_t k = 0; k < kernel; k++) {
                long pos = (long)(t * stride + k) - (long)padding;
                if (pos < 0 || pos >= (long)l_in) continue;
                float v = x[pos];
                if (where < 0 || v > best || isnan(v)) {
                    best = v;
                    where = pos;
                    if (isnan(v)) break;
                }
            }
            out[r * l_out + t] = best;
            argmax[r * l_out + t] = (int32_t)where;
        }
    }
}

void ms_nn_maxpool1d_backward(float *din, const float *dout, const int32_t *argmax, size_t B,
                              size_t C, size_t l_in, size_t l_out)
{
    /* din [B, C, l_in] +=; dout, argmax [B, C, l_out] */
    for (size_t r = 0; r < B * C; r++)
        for (size_t t = 0; t < l_out; t++) {
            int32_t p = argmax[r * l_out + t];
            if (p >= 0) din[r * l_in + (size_t)p] += dout[r * l_out + t];
        }
}
