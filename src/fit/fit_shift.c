/* fit_shift.c: the Doppler shift of a model spectrum on the uniform grid, its derivative
 * in dv and its adjoint (for the chi^2 gradient), and chi^2 velocity scans (Z25 2.3 RV;
 * method.md 5.1).
 *
 * The observation, already moved to the rest frame by the pipeline RV, still carries a
 * residual velocity dv: F_obs(lambda) = M(lambda / doppler(dv)). The model is known on
 * the grid only, so it is interpolated by cubic convolution (Keys 1981, a = -1/2), which
 * is C1: chi^2 stays differentiable in dv, which L-BFGS-B needs (linear interpolation,
 * as The Payne's np.interp, has kinks at every pixel crossing). */
#include "fit_internal.h"

#include "mstars/spec.h"

#include <math.h>

/* The kernels below are loops over contiguous arrays; GCC vectorises them only from -O3
 * (-O2 uses the "very cheap" vectoriser cost model), so ask for it per function. The sums
 * keep a fixed order (results do not depend on the build's vector width). */
#if defined(__GNUC__) && !defined(__clang__)
#define FIT_VECTORIZE __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic")))
#else
#define FIT_VECTORIZE
#endif

fit_shift fit_shift_make(double start, double step, double dv)
{
    fit_shift s;
    double beta = dv / MS_C_KMS;
    s.a = 1.0 / ms_spec_doppler(dv);
    s.s0 = start / step;
    s.b0 = s.s0 * (s.a - 1.0);
    s.dadv = -s.a / (MS_C_KMS * (1.0 - beta * beta));
    return s;
}

void fit_keys(double t, double w[4], double dw[4])
{
    const double t2 = t * t, t3 = t2 * t;
    w[0] = 0.5 * (-t3 + 2.0 * t2 - t);
    w[1] = 0.5 * (3.0 * t3 - 5.0 * t2 + 2.0);
    w[2] = 0.5 * (-3.0 * t3 + 4.0 * t2 + t);
    w[3] = 0.5 * (t3 - t2);
    if (dw) {
        dw[0] = 0.5 * (-3.0 * t2 + 4.0 * t - 1.0);
        dw[1] = 0.5 * (9.0 * t2 - 10.0 * t);
        dw[2] = 0.5 * (-9.0 * t2 + 8.0 * t + 1.0);
        dw[3] = 0.5 * (3.0 * t2 - 2.0 * t);
    }
}

void fit_shift_range(size_t n, double start, double step, double vmax, size_t *lo, size_t *hi)
{
    /* taps i-1..i+2 with i = floor(u_p) must lie in [0, n): 1 <= u_p < n - 2 (one more
     * pixel of safety each side: segment boundaries may round either way) */
    const double s0 = start / step;
    const double amin = 1.0 / ms_spec_doppler(fabs(vmax)), amax = 1.0 / ms_spec_doppler(-fabs(vmax));
    double plo = ceil((1.0 - s0 * (amin - 1.0)) / amin) + 1.0;
    double phi = ceil(((double)n - 2.0 - s0 * (amax - 1.0)) / amax) - 2.0;
    if (plo < 0.0) plo = 0.0;
    if (phi > (double)n - 1.0) phi = (double)n - 1.0;
    if (phi < plo) { /* nothing usable */
        *lo = 1;
        *hi = 0;
        return;
    }
    *lo = (size_t)plo;
    *hi = (size_t)phi;
}

/* Segments of [lo, hi] where the tap offset k = floor(u_p) - p is constant: within one,
 * t_p = p (a - 1) + b0 - k and the taps of pixel p are p + k - 1 .. p + k + 2, so the loops
 * run over contiguous arrays (vectorisable). e(p) = p (a - 1) + b0 is monotonic; at most
 * |a - 1| (hi - lo) + 2 segments (31 at 3000 km/s). */
#define MAX_SEGMENTS 256
typedef struct {
    size_t p0, p1; /* inclusive */
    long k;
} shift_seg;

static size_t segments(const fit_shift *s, size_t lo, size_t hi, shift_seg *seg)
{
    const double am1 = s->a - 1.0;
    size_t ns = 0, p = lo;
    while (p <= hi) {
        long k = (long)floor((double)p * am1 + s->b0);
        size_t pend = hi;
        if (am1 < 0.0) { /* e decreasing: stays >= k while p <= (k - b0) / am1 */
            double lim = floor(((double)k - s->b0) / am1);
            if (lim < (double)hi) pend = lim < (double)p ? p : (size_t)lim;
        } else if (am1 > 0.0) { /* e increasing: stays < k + 1 while p < (k + 1 - b0) / am1 */
            double lim = ceil(((double)k + 1.0 - s->b0) / am1) - 1.0;
            if (lim < (double)hi) pend = lim < (double)p ? p : (size_t)lim;
        }
        if (ns == MAX_SEGMENTS) { /* cannot happen for |dv| < 0.08 c; keep going one pixel each */
            pend = p;
            ns--;
        }
        seg[ns++] = (shift_seg){p, pend, k};
        p = pend + 1;
    }
    return ns;
}

FIT_VECTORIZE void fit_shift_apply(const fit_shift *s, const float *M, size_t lo, size_t hi,
                                   double *m, double *dm)
{
    shift_seg seg[MAX_SEGMENTS];
    if (hi < lo) return;
    const size_t ns = segments(s, lo, hi, seg);
    const double am1 = s->a - 1.0;
    for (size_t g = 0; g < ns; g++) {
        const size_t p0 = seg[g].p0, p1 = seg[g].p1;
        const double c0 = s->b0 - (double)seg[g].k;
        const float *restrict q = M + (long)seg[g].k - 1; /* q[p + c] = M[p + k - 1 + c] */
        double *restrict mo = m;
        if (!dm) {
            for (size_t p = p0; p <= p1; p++) {
                const double t = (double)p * am1 + c0, t2 = t * t, t3 = t2 * t;
                mo[p] = 0.5 * ((-t3 + 2.0 * t2 - t) * q[p] + (3.0 * t3 - 5.0 * t2 + 2.0) * q[p + 1] +
                               (-3.0 * t3 + 4.0 * t2 + t) * q[p + 2] + (t3 - t2) * q[p + 3]);
            }
            continue;
        }
        double *restrict d = dm;
        for (size_t p = p0; p <= p1; p++) {
            const double t = (double)p * am1 + c0, t2 = t * t, t3 = t2 * t;
            const double q0 = q[p], q1 = q[p + 1], q2 = q[p + 2], q3 = q[p + 3];
            mo[p] = 0.5 * ((-t3 + 2.0 * t2 - t) * q0 + (3.0 * t3 - 5.0 * t2 + 2.0) * q1 +
                           (-3.0 * t3 + 4.0 * t2 + t) * q2 + (t3 - t2) * q3);
            const double dudv = ((double)p + s->s0) * s->dadv;
            d[p] = 0.5 * dudv *
                   ((-3.0 * t2 + 4.0 * t - 1.0) * q0 + (9.0 * t2 - 10.0 * t) * q1 +
                    (-9.0 * t2 + 8.0 * t + 1.0) * q2 + (3.0 * t2 - 2.0 * t) * q3);
        }
    }
}

FIT_VECTORIZE void fit_shift_adjoint(const fit_shift *s, const double *q, size_t lo, size_t hi,
                                     double *v)
{
    shift_seg seg[MAX_SEGMENTS];
    if (hi < lo) return;
    const size_t ns = segments(s, lo, hi, seg);
    const double am1 = s->a - 1.0;
    for (size_t g = 0; g < ns; g++) {
        const size_t p0 = seg[g].p0, p1 = seg[g].p1;
        const double c0 = s->b0 - (double)seg[g].k;
        /* v[p + k - 1 + c] += w_c(t_p) q[p], one tap c at a time (no overlap within a loop) */
        double *restrict v0 = v + (long)seg[g].k - 1;
        for (size_t p = p0; p <= p1; p++) {
            const double t = (double)p * am1 + c0;
            v0[p] += 0.5 * t * (-t * t + 2.0 * t - 1.0) * q[p];
        }
        for (size_t p = p0; p <= p1; p++) {
            const double t = (double)p * am1 + c0;
            v0[p + 1] += 0.5 * ((3.0 * t - 5.0) * t * t + 2.0) * q[p];
        }
        for (size_t p = p0; p <= p1; p++) {
            const double t = (double)p * am1 + c0;
            v0[p + 2] += 0.5 * t * ((-3.0 * t + 4.0) * t + 1.0) * q[p];
        }
        for (size_t p = p0; p <= p1; p++) {
            const double t = (double)p * am1 + c0;
            v0[p + 3] += 0.5 * t * t * (t - 1.0) * q[p];
        }
    }
}

void fit_clean_flux(const float *F, const double *w, size_t n, double *out)
{
    for (size_t p = 0; p < n; p++) out[p] = w[p] > 0.0 ? (double)F[p] : 0.0;
}

/* chi^2 = sum w (F - m)^2 over [p0, p1] with four interleaved partial sums (fixed order) */
static double wsum(const double *F, const double *w, const double *m, size_t p0, size_t p1)
{
    double a[4] = {0.0, 0.0, 0.0, 0.0};
    size_t p = p0;
    for (; p + 3 <= p1; p += 4)
        for (size_t k = 0; k < 4; k++) {
            const double r = F[p + k] - m[p + k];
            a[k] += w[p + k] * r * r;
        }
    for (; p <= p1; p++) {
        const double r = F[p] - m[p];
        a[0] += w[p] * r * r;
    }
    return (a[0] + a[1]) + (a[2] + a[3]);
}

FIT_VECTORIZE static void keys_block(double *restrict m, const float *restrict q, size_t p0,
                                     size_t p1, double am1, double c0)
{
    for (size_t p = p0; p <= p1; p++) {
        const double t = (double)p * am1 + c0, t2 = t * t, t3 = t2 * t;
        m[p] = 0.5 * ((-t3 + 2.0 * t2 - t) * q[p] + (3.0 * t3 - 5.0 * t2 + 2.0) * q[p + 1] +
                      (-3.0 * t3 + 4.0 * t2 + t) * q[p + 2] + (t3 - t2) * q[p + 3]);
    }
}

double fit_chi2_at(const float *M, const double *F, const double *w, size_t lo, size_t hi,
                   double start, double step, int shift, double dv, double *buf)
{
    if (hi < lo) return 0.0;
    if (!shift) {
        for (size_t p = lo; p <= hi; p++) buf[p] = (double)M[p];
        return wsum(F, w, buf, lo, hi);
    }
    const fit_shift s = fit_shift_make(start, step, dv);
    shift_seg seg[MAX_SEGMENTS];
    const size_t ns = segments(&s, lo, hi, seg);
    for (size_t g = 0; g < ns; g++)
        keys_block(buf, M + (long)seg[g].k - 1, seg[g].p0, seg[g].p1, s.a - 1.0, s.b0 - (double)seg[g].k);
    return wsum(F, w, buf, lo, hi);
}

double fit_rv_scan(const float *M, const double *F, const double *w, size_t lo, size_t hi,
                   double start, double step, double vc, double half, double vstep,
                   double vlo, double vhi, double *chi2, double *buf)
{
    long kmax = (long)floor(half / vstep + 1e-9);
    double best = INFINITY, best_v = NAN, cur = NAN, best_l = NAN, best_r = NAN;
    long best_k = 0;
    int have = 0;
    for (long k = -kmax; k <= kmax; k++) {
        double v = vc + (double)k * vstep;
        if (v < vlo - 1e-9 || v > vhi + 1e-9) {
            cur = NAN;
            continue;
        }
        double c = fit_chi2_at(M, F, w, lo, hi, start, step, 1, v, buf);
        if (have && k == best_k + 1) best_r = c;
        if (!have || c < best) {
            best = c;
            best_v = v;
            best_k = k;
            best_l = cur; /* chi^2 at k - 1, or NaN */
            best_r = NAN;
            have = 1;
        }
        cur = c;
    }
    if (!have) { /* no grid point inside the bounds */
        best_v = vc < vlo ? vlo : vc > vhi ? vhi : vc;
        best = fit_chi2_at(M, F, w, lo, hi, start, step, 1, best_v, buf);
    }
    if (have && isfinite(best_l) && isfinite(best_r)) {
        double den = best_l - 2.0 * best + best_r;
        if (den > 0.0) {
            double d = 0.5 * vstep * (best_l - best_r) / den;
            if (d > vstep) d = vstep;
            if (d < -vstep) d = -vstep;
            double v = best_v + d;
            if (v >= vlo && v <= vhi) {
                double c = fit_chi2_at(M, F, w, lo, hi, start, step, 1, v, buf);
                if (c < best) {
                    best = c;
                    best_v = v;
                }
            }
        }
    }
    *chi2 = best;
    return best_v;
}

void ms_fit_doppler_shift(const float *model, size_t n_pix, double start, double step,
                          double dv, double *out, double *dout)
{
    const fit_shift s = fit_shift_make(start, step, dv);
    for (size_t p = 0; p < n_pix; p++) {
        const double u = (double)p * s.a + s.b0;
        if (!(u >= 1.0) || !(u < (double)n_pix - 2.0)) {
            out[p] = NAN;
            if (dout) dout[p] = NAN;
            continue;
        }
        fit_shift_apply(&s, model, p, p, out, dout);
    }
}
