/* activations.c: leaky ReLU, ReLU, sigmoid (see nn.h). */
#include "mstars/nn.h"

#include <math.h>

void ms_nn_leaky_relu_forward(float *out, const float *in, size_t n, float slope)
{
    /* out [n]; in [n] (may alias out) */
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        out[i] = x > 0.0f ? x : slope * x;
    }
}

void ms_nn_leaky_relu_backward(float *din, const float *dout, const float *x, size_t n,
                               float slope)
{
    /* din [n] +=; dout [n]; x [n]: forward input or output */
    for (size_t i = 0; i < n; i++) din[i] += x[i] > 0.0f ? dout[i] : slope * dout[i];
}

void ms_nn_relu_forward(float *out, const float *in, size_t n)
{
    ms_nn_leaky_relu_forward(out, in, n, 0.0f);
}

void ms_nn_relu_backward(float *din, const float *dout, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] > 0.0f) din[i] += dout[i];
}

void ms_nn_sigmoid_forward(float *out, const float *in, size_t n)
{
    /* out [n]; in [n]; stable on both sides */
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        if (x >= 0.0f) {
            out[i] = 1.0f / (1.0f + expf(-x));
        } else {
            float e = expf(x);
            out[i] = e / (1.0f + e);
        }
    }
}

void ms_nn_sigmoid_backward(float *din, const float *dout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) din[i] += dout[i] * out[i] * (1.0f - out[i]);
}
