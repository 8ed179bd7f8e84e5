/* lm.c: small Levenberg-Marquardt fits (the chi^2 curve's Gaussian of L25 3.4.3 step 1, the
 * line profiles of DSAL/DSEL), normal equations solved by LAPACK dposv. */
#include "rv_internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define LM_MAXP 6

static double cost(ms_rv_model_fn f, const double *p, size_t n, const double *x, const double *y,
                   const double *w)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = y[i] - f(x[i], p, NULL);
        s += (w ? w[i] : 1.0) * r * r;
    }
    return isfinite(s) ? s : DBL_MAX;
}

int ms_rv_lm(ms_rv_model_fn f, int np, double *p, size_t n, const double *x, const double *y,
             const double *w, int max_iter)
{
    double lambda = 1e-3, c = cost(f, p, n, x, y, w);
    for (int it = 0; it < max_iter; it++) {
        double JtJ[LM_MAXP * LM_MAXP] = {0}, Jtr[LM_MAXP] = {0}, g[LM_MAXP];
        for (size_t i = 0; i < n; i++) {
            double wi = w ? w[i] : 1.0, r = y[i] - f(x[i], p, g);
            for (int a = 0; a < np; a++) {
                Jtr[a] += wi * g[a] * r;
                for (int b = 0; b <= a; b++) JtJ[a * np + b] += wi * g[a] * g[b];
            }
        }
        for (int a = 0; a < np; a++)
            for (int b = 0; b < a; b++) JtJ[b * np + a] = JtJ[a * np + b];
        int improved = 0;
        for (int tries = 0; tries < 12 && !improved; tries++) {
            double A[LM_MAXP * LM_MAXP], d[LM_MAXP], q[LM_MAXP];
            memcpy(A, JtJ, sizeof A);
            memcpy(d, Jtr, sizeof d);
            for (int a = 0; a < np; a++) A[a * np + a] += lambda * (JtJ[a * np + a] + 1e-12);
            int nn = np, one = 1, info = 0;
            dposv_("U", &nn, &one, A, &nn, d, &nn, &info);
            if (info != 0) {
                lambda *= 10.0;
                continue;
            }
            double step = 0.0, size = 0.0;
            for (int a = 0; a < np; a++) {
                q[a] = p[a] + d[a];
                step += d[a] * d[a];
                size += p[a] * p[a];
            }
            double cq = cost(f, q, n, x, y, w);
            if (cq <= c) {
                int small = step <= 1e-20 * (size + 1e-20) || c - cq <= 1e-14 * c;
                memcpy(p, q, (size_t)np * sizeof *p);
                c = cq;
                lambda = lambda > 1e-9 ? lambda * 0.2 : lambda;
                improved = 1;
                if (small) return 1;
            } else {
                lambda *= 10.0;
            }
        }
        if (!improved) return 1; /* no descent left: at the minimum to working precision */
    }
    return 0;
}

double ms_rv_gauss_dip(double x, const double *p, double *grad)
{
    double s2 = p[3] * p[3], d = x - p[2], e = exp(-0.5 * d * d / s2);
    if (grad) {
        grad[0] = 1.0;
        grad[1] = -e;
        grad[2] = -p[1] * e * d / s2;
        grad[3] = -p[1] * e * d * d / (s2 * p[3]);
    }
    return p[0] - p[1] * e;
}

double ms_rv_refine_min(const double *c, int n, int hw, double *cmin, int *edge)
{
    int im = 0;
    for (int i = 1; i < n; i++)
        if (c[i] < c[im]) im = i;
    *edge = im == 0 || im == n - 1;
    int lo = im - hw < 0 ? 0 : im - hw, hi = im + hw > n - 1 ? n - 1 : im + hw;
    double x[64], y[64];
    int m = 0;
    double top = c[im];
    for (int i = lo; i <= hi && m < 64; i++) {
        if (!isfinite(c[i])) continue;
        x[m] = i;
        y[m++] = c[i];
        if (c[i] > top) top = c[i];
    }
    if (m >= 4 && top > c[im]) {
        double p[4] = {top, top - c[im], (double)im, 1.5};
        ms_rv_lm(ms_rv_gauss_dip, 4, p, (size_t)m, x, y, NULL, 100);
        double s = fabs(p[3]);
        if (p[1] > 0.0 && s > 0.2 && s < 20.0 && fabs(p[2] - im) <= 1.5 && isfinite(p[0])) {
            *cmin = p[0] - p[1];
            return p[2];
        }
    }
    if (!*edge && isfinite(c[im - 1]) && isfinite(c[im + 1])) { /* parabola */
        double a = 0.5 * (c[im - 1] + c[im + 1]) - c[im], b = 0.5 * (c[im + 1] - c[im - 1]);
        if (a > 0.0) {
            double t = -b / (2.0 * a);
            *cmin = c[im] + b * t + a * t * t;
            return im + t;
        }
    }
    *cmin = c[im];
    return im;
}
