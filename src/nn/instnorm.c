/* instnorm.c: instance normalisation over the length (PyTorch InstanceNorm1d). */
#include "mstars/nn.h"

#include <math.h>

void ms_nn_instnorm_forward(float *out, float *mean, float *rstd, const float *in,
                            const float *gamma, const float *beta, size_t B, size_t C,
                            size_t L, float eps)
{
    /* out, in [B, C, L]; mean, rstd [B, C]; gamma, beta [C] */
    for (size_t r = 0; r < B * C; r++) {
        const float *x = in + r * L; /* [L] */
        float *y = out + r * L;
        double m = 0.0;
        for (size_t t = 0; t < L; t++) m += x[t];
        m /= (double)L;
        double v = 0.0;
        for (size_t t = 0; t < L; t++) {
            double dx = x[t] - m;
            v += dx * dx;
        }
        v /= (double)L;
        double rs = 1.0 / sqrt(v + (double)eps);
        mean[r] = (float)m;
        rstd[r] = (float)rs;
        size_t c = r % C;
        double g = gamma ? gamma[c] : 1.0, bb = beta ? beta[c] : 0.0;
        for (size_t t = 0; t < L; t++) y[t] = (float)(((double)x[t] - m) * rs * g + bb);
    }
}

void ms_nn_instnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                             const float *in, const float *mean, const float *rstd,
                             const float *gamma, size_t B, size_t C, size_t L)
{
    /* din, dout, in [B, C, L]; mean, rstd [B, C]; dgamma, dbeta, gamma [C] */
    for (size_t r = 0; r < B * C; r++) {
        const float *x = in + r * L, *dy = dout + r * L;
        size_t c = r % C;
        double m = mean[r], rs = rstd[r], g = gamma ? gamma[c] : 1.0;
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (size_t t = 0; t < L; t++) {
            double xhat = ((double)x[t] - m) * rs;
            sum_dy += dy[t];
            sum_dy_xhat += dy[t] * xhat;
        }
        if (gamma && dgamma) dgamma[c] += (float)sum_dy_xhat;
        if (gamma && dbeta) dbeta[c] += (float)sum_dy;
        if (!din) continue;
        /* dxhat = dy g; dx = rs (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) */
        double a = g * sum_dy / (double)L, bcoef = g * sum_dy_xhat / (double)L;
        float *dx = din + r * L;
        for (size_t t = 0; t < L; t++) {
            double xhat = ((double)x[t] - m) * rs;
            dx[t] += (float)(rs * (g * dy[t] - a - xhat * bcoef));
        }
    }
}

void ms_nn_instnorm_jvp(float *dout, const float *din, const float *in, const float *mean,
                        const float *rstd, const float *gamma, size_t B, size_t C, size_t L)
{
    /* dout, din, in [B, C, L]; mean, rstd [B, C]; gamma [C]. With xhat = (x - m) rs:
     * dm = mean(dx), d rs = -rs^3 mean((x - m) dx) = -rs^2 mean(xhat dx), so
     * dy = g (rs (dx - dm) + (x - m) d rs) = g rs (dx - dm - xhat mean(xhat dx)). */
    for (size_t r = 0; r < B * C; r++) {
        const float *x = in + r * L, *dx = din + r * L;
        double m = mean[r], rs = rstd[r], g = gamma ? gamma[r % C] : 1.0;
        double sum_dx = 0.0, sum_xhat_dx = 0.0;
        for (size_t t = 0; t < L; t++) {
            double xhat = ((double)x[t] - m) * rs;
            sum_dx += dx[t];
            sum_xhat_dx += xhat * dx[t];
        }
        double dm = sum_dx / (double)L, c = sum_xhat_dx / (double)L;
        float *dy = dout + r * L;
        for (size_t t = 0; t < L; t++) {
            double xhat = ((double)x[t] - m) * rs;
            dy[t] = (float)(g * rs * ((double)dx[t] - dm - xhat * c));
        }
    }
}
