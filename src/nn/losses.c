/* losses.c: weighted L1 and L2, binary cross-entropy (see nn.h). */
#include "mstars/nn.h"

#include <math.h>

double ms_nn_l1_loss_forward(const float *pred, const float *target, const float *w, size_t n,
                             double scale)
{
    /* pred, target, w [n] */
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = (double)pred[i] - (double)target[i];
        if (w) r *= w[i];
        s += fabs(r);
    }
    return s * scale;
}

void ms_nn_l1_loss_backward(float *dpred, const float *pred, const float *target,
                            const float *w, size_t n, double scale)
{
    float sc = (float)scale;
    for (size_t i = 0; i < n; i++) {
        float d = pred[i] - target[i];
        float g = d > 0.0f ? sc : (d < 0.0f ? -sc : 0.0f);
        if (w) g *= fabsf(w[i]);
        dpred[i] += g;
    }
}

double ms_nn_l2_loss_forward(const float *pred, const float *target, const float *w, size_t n,
                             double scale)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = (double)pred[i] - (double)target[i];
        if (w) r *= w[i];
        s += r * r;
    }
    return s * scale;
}

void ms_nn_l2_loss_backward(float *dpred, const float *pred, const float *target,
                            const float *w, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++) {
        double r = (double)pred[i] - (double)target[i];
        double ww = w ? (double)w[i] * w[i] : 1.0;
        dpred[i] += (float)(2.0 * scale * ww * r);
    }
}

void ms_nn_loss_weights(float *w, const float *mask, const float *err, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float m = mask ? mask[i] : 1.0f;
        float e = err ? err[i] : 1.0f;
        w[i] = (m == 0.0f || !(e > 0.0f) || !isfinite(e)) ? 0.0f : m / e;
    }
}

double ms_nn_bce_loss_forward(const float *p, const float *y, size_t n, double scale)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double lp = p[i] > 0.0f ? log((double)p[i]) : -100.0;
        double lq = p[i] < 1.0f ? log1p(-(double)p[i]) : -100.0;
        if (lp < -100.0) lp = -100.0;
        if (lq < -100.0) lq = -100.0;
        s -= (double)y[i] * lp + (1.0 - (double)y[i]) * lq;
    }
    return s * scale;
}

void ms_nn_bce_loss_backward(float *dp, const float *p, const float *y, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++) {
        double pi = p[i];
        double den = pi * (1.0 - pi);
        if (den < 1e-12) den = 1e-12;
        dp[i] += (float)(scale * (pi - (double)y[i]) / den);
    }
}
