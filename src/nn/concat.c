/* concat.c: concatenation along the channels (see nn.h). */
#include "mstars/nn.h"

#include <string.h>

void ms_nn_concat_forward(float *out, const float *const *in, const size_t *c, size_t n_in,
                          size_t B, size_t L)
{
    /* out [B, sum c, L]; in[k] [B, c[k], L] */
    size_t ctot = 0;
    for (size_t k = 0; k < n_in; k++) ctot += c[k];
    for (size_t s = 0; s < B; s++) {
        float *y = out + s * ctot * L;
        for (size_t k = 0; k < n_in; k++) {
            memcpy(y, in[k] + s * c[k] * L, c[k] * L * sizeof(float));
            y += c[k] * L;
        }
    }
}

void ms_nn_concat_backward(float *const *din, const float *dout, const size_t *c, size_t n_in,
                           size_t B, size_t L)
{
    /* din[k] [B, c[k], L] +=; dout [B, sum c, L] */
    size_t ctot = 0;
    for (size_t k = 0; k < n_in; k++) ctot += c[k];
    for (size_t s = 0; s < B; s++) {
        const float *g = dout + s * ctot * L;
        for (size_t k = 0; k < n_in; k++) {
            if (din[k]) {
                float *dx = din[k] + s * c[k] * L;
                for (size_t i = 0; i < c[k] * L; i++) dx[i] += g[i];
            }
            g += c[k] * L;
        }
    }
}
