/* sys_errors.c: the systematic floor of the uncertainties against a reference (see
 * sys_errors.h). */
#include "mstars/sys_errors.h"
#include "mstars/stats.h"
#include "mstars/mem.h"
#include "mstars/rng.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#define MAD_SCALE 1.482602218505602 /* 1 / Phi^-1(3/4): MAD -> sigma for normal data */
#define MAX_CLIP_ITER 100
#define MAX_BISECT 300
#define MAX_SCORE 500   /* Fisher-scoring steps of the scaled model */
#define MAX_HALVING 60
#define MIN_SCALE2 1e-12 /* k^2 >= this */

const char *ms_sys_spread_name(ms_sys_spread how)
{
    return how == MS_SYS_MAD ? "mad" : "clipped";
}

int ms_sys_spread_parse(const char *name)
{
    if (strcmp(name, "clipped") == 0) return MS_SYS_CLIPPED;
    if (strcmp(name, "mad") == 0) return MS_SYS_MAD;
    return -1;
}

double ms_sys_split_u(int64_t group)
{
    uint64_t x = (uint64_t)group;
    return (double)(ms_rng_splitmix64(&x) >> 11) * 0x1.0p-53;
}

/* The rows taking part, compacted: d, err^2, and scratch. */
typedef struct {
    size_t m;
    double *d, *e2, *r, *work;
    uint8_t *keep;
} rows;

/* The spread of z = r / sqrt(e2 + s^2): MAD over all rows, or the RMS over the kept ones
 * (m_kept - 1 degrees of freedom). */
static double spread(const rows *w, ms_sys_spread how, double s, size_t m_kept)
{
    const double s2 = s * s;
    if (how == MS_SYS_MAD) {
        for (size_t i = 0; i < w->m; i++) w->work[i] = fabs(w->r[i]) / sqrt(w->e2[i] + s2);
        return MAD_SCALE * ms_stats_median_inplace(w->work, w->m);
    }
    double q = 0;
    for (size_t i = 0; i < w->m; i++)
        if (w->keep[i]) q += w->r[i] * w->r[i] / (w->e2[i] + s2);
    return sqrt(q / (double)(m_kept - 1));
}

/* The sys >= 0 with spread(sys) = 1 (0 when spread(0) <= 1), by bisection; *spread0 the
 * spread at 0. */
static double solve(const rows *w, ms_sys_spread how, size_t m_kept, double *spread0)
{
    const double f0 = spread(w, how, 0.0, m_kept);
    *spread0 = f0;
    if (!(f0 > 1.0)) return 0.0;
    double scale = 0;
    for (size_t i = 0; i < w->m; i++)
        if (how == MS_SYS_MAD || w->keep[i]) scale += w->r[i] * w->r[i];
    double hi = sqrt(scale / (double)w->m) + 1e-300, lo = 0.0;
    for (int k = 0; k < MAX_BISECT && spread(w, how, hi, m_kept) > 1.0; k++) {
        lo = hi;
        hi *= 2.0;
    }
    for (int k = 0; k < MAX_BISECT && hi - lo > 1e-13 * hi; k++) {
        const double mid = 0.5 * (lo + hi);
        if (spread(w, how, mid, m_kept) > 1.0)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* The MAD solution: bias = median d, sys from the MAD of z. */
static void fit_mad(rows *w, ms_sys_floor *out)
{
    memcpy(w->work, w->d, w->m * sizeof *w->work);
    out->bias = ms_stats_median_inplace(w->work, w->m);
    for (size_t i = 0; i < w->m; i++) w->r[i] = w->d[i] - out->bias;
    out->floor = solve(w, MS_SYS_MAD, w->m, &out->spread0);
}

/* Sigma clipping from the MAD solution: keep |d - bias| <= MS_SYS_CLIP sqrt(err^2 + sys^2),
 * bias = mean of the kept d, sys from their RMS, until the kept rows stay the same. */
static ms_status fit_clipped(rows *w, ms_sys_floor *out)
{
    fit_mad(w, out);
    memset(w->keep, 1, w->m);
    size_t kept = w->m;
    for (int it = 1; it <= MAX_CLIP_ITER; it++) {
        const double s2 = out->floor * out->floor;
        int changed = it == 1;
        kept = 0;
        for (size_t i = 0; i < w->m; i++) {
            const uint8_t k = fabs(w->d[i] - out->bias) <= MS_SYS_CLIP * sqrt(w->e2[i] + s2);
            changed |= k != w->keep[i];
            w->keep[i] = k;
            kept += k;
        }
        if (!changed) break;
        if (kept < 2)
            MS_ERROR(MS_ENOPROG, "systematic floor: %zu of %zu differences within %g sigma "
                     "of their mean (at least 2 are needed)", kept, w->m, MS_SYS_CLIP);
        double mean = 0;
        for (size_t i = 0; i < w->m; i++)
            if (w->keep[i]) mean += w->d[i];
        out->bias = mean / (double)kept;
        for (size_t i = 0; i < w->m; i++) w->r[i] = w->d[i] - out->bias;
        out->floor = solve(w, MS_SYS_CLIPPED, kept, &out->spread0);
        out->iterations = it;
    }
    out->n_clipped = w->m - kept;
    return MS_OK;
}

ms_status ms_sys_floor_fit(size_t n, const double *d, const double *err, const uint8_t *use,
                           ms_sys_spread how, ms_sys_floor *out)
{
    memset(out, 0, sizeof *out);
    out->bias = NAN;
    out->scale = 1.0;
    if (how != MS_SYS_CLIPPED && how != MS_SYS_MAD)
        MS_ERROR(MS_EINVAL, "systematic floor: unknown spread %d", (int)how);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += (!use || use[i]) && isfinite(d[i]) && isfinite(err[i]) && err[i] > 0;
    out->n = m;
    if (m < 2)
        MS_ERROR(MS_ENOPROG, "systematic floor: %zu difference(s) with a finite value and an "
                 "error > 0 (at least 2 are needed)", m);
    rows w = {m, NULL, NULL, NULL, NULL, NULL};
    w.d = ms_malloc_array("sys.d", m, sizeof *w.d);
    w.e2 = ms_malloc_array("sys.e2", m, sizeof *w.e2);
    w.r = ms_malloc_array("sys.r", m, sizeof *w.r);
    w.work = ms_malloc_array("sys.work", m, sizeof *w.work);
    w.keep = ms_malloc("sys.keep", m);
    ms_status st = (!w.d || !w.e2 || !w.r || !w.work || !w.keep) ? MS_ENOMEM : MS_OK;
    if (st == MS_OK) {
        for (size_t i = 0, j = 0; i < n; i++)
            if ((!use || use[i]) && isfinite(d[i]) && isfinite(err[i]) && err[i] > 0) {
                w.d[j] = d[i];
                w.e2[j] = err[i] * err[i];
                j++;
            }
        if (how == MS_SYS_MAD)
            fit_mad(&w, out);
        else
            st = fit_clipped(&w, out);
    }
    ms_free(w.d);
    ms_free(w.e2);
    ms_free(w.r);
    ms_free(w.work);
    ms_free(w.keep);
    return st;
}

/* ---- the scaled model: var_i = A e_i^2 + B + e_ref,i^2, A = k^2, B = sys^2 ---------- */

typedef struct {
    size_t m;
    double *d, *a, *c; /* d_i, e_i^2, e_ref,i^2 */
    double a_mean;     /* mean e_i^2: the scale of B */
    uint8_t *keep;
} scaled_rows;

/* The 1/var-weighted mean of the kept d. */
static double weighted_bias(const scaled_rows *w, double A, double B)
{
    double sw = 0, swd = 0;
    for (size_t i = 0; i < w->m; i++)
        if (w->keep[i]) {
            const double wi = 1.0 / (A * w->a[i] + B + w->c[i]);
            sw += wi;
            swd += wi * w->d[i];
        }
    return swd / sw;
}

/* sum over the kept rows of log var + r^2 / var (-2 log L up to a constant), at the
 * weighted mean for (A, B) (written to *bias). */
static double neg_log_like(const scaled_rows *w, double A, double B, double *bias)
{
    *bias = weighted_bias(w, A, B);
    double f = 0;
    for (size_t i = 0; i < w->m; i++)
        if (w->keep[i]) {
            const double v = A * w->a[i] + B + w->c[i], r = w->d[i] - *bias;
            f += log(v) + r * r / v;
        }
    return f;
}

/* Fisher scoring in (A, B) >= (MIN_SCALE2, 0) over the kept rows, with step halving so that
 * -2 log L never rises, and projection onto the bounds (a step that would take B below 0
 * is replaced by the scoring step in A alone with B = 0). */
static ms_status score(const scaled_rows *w, double *A, double *B, double *bias)
{
    double f = neg_log_like(w, *A, *B, bias);
    for (int it = 0; it < MAX_SCORE; it++) {
        double gA = 0, gB = 0, iAA = 0, iAB = 0, iBB = 0;
        for (size_t i = 0; i < w->m; i++) {
            if (!w->keep[i]) continue;
            const double v = *A * w->a[i] + *B + w->c[i], r = w->d[i] - *bias;
            const double g = (1.0 - r * r / v) / v, h = 1.0 / (v * v);
            gA += g * w->a[i];
            gB += g;
            iAA += h * w->a[i] * w->a[i];
            iAB += h * w->a[i];
            iBB += h;
        }
        const double det = iAA * iBB - iAB * iAB;
        if (!(det > 1e-9 * iAA * iBB))
            MS_ERROR(MS_ENOPROG, "scaled error model: the errors of the reference rows are "
                     "(nearly) all the same size, so a scale cannot be told from a floor");
        double dA = -(iBB * gA - iAB * gB) / det, dB = -(iAA * gB - iAB * gA) / det;
        if (*B + dB < 0.0) { /* the floor is at its bound: score A alone */
            dA = -gA / iAA;
            dB = -*B;
        }
        double t = 1.0, nA = *A, nB = *B, nbias = *bias, nf = f;
        int h;
        for (h = 0; h < MAX_HALVING; h++, t *= 0.5) {
            nA = fmax(*A + t * dA, MIN_SCALE2);
            nB = fmax(*B + t * dB, 0.0);
            nf = neg_log_like(w, nA, nB, &nbias);
            if (nf <= f + 1e-14 * fabs(f)) break;
        }
        if (h == MAX_HALVING) return MS_OK; /* no step lowers it: at the optimum */
        const double moved = fabs(nA - *A) / *A + fabs(nB - *B) / (*B + *A * w->a_mean);
        *A = nA;
        *B = nB;
        *bias = nbias;
        f = nf;
        if (moved < 1e-12) return MS_OK;
    }
    MS_ERROR(MS_ENOPROG, "scaled error model: Fisher scoring did not converge in %d steps",
             MAX_SCORE);
}

static ms_status scaled_clip(scaled_rows *w, ms_sys_floor *out)
{
    memset(w->keep, 1, w->m);
    size_t kept = w->m;
    double A = 1.0, B = 0.5 * w->a_mean, bias = 0; /* inside the bounds */
    for (int it = 1; it <= MAX_CLIP_ITER; it++) {
        MS_TRY(score(w, &A, &B, &bias));
        out->iterations = it;
        int changed = 0;
        kept = 0;
        for (size_t i = 0; i < w->m; i++) {
            const double v = A * w->a[i] + B + w->c[i];
            const uint8_t k = fabs(w->d[i] - bias) <= MS_SYS_CLIP * sqrt(v);
            changed |= k != w->keep[i];
            w->keep[i] = k;
            kept += k;
        }
        if (kept < 3)
            MS_ERROR(MS_ENOPROG, "scaled error model: %zu of %zu differences within %g sigma "
                     "(at least 3 are needed)", kept, w->m, MS_SYS_CLIP);
        if (!changed) break;
    }
    double q = 0;
    for (size_t i = 0; i < w->m; i++)
        if (w->keep[i]) q += (w->d[i] - bias) * (w->d[i] - bias) / (w->a[i] + w->c[i]);
    out->spread0 = sqrt(q / (double)(kept - 1));
    out->scale = sqrt(A);
    out->floor = sqrt(B);
    out->bias = bias;
    out->n_clipped = w->m - kept;
    return MS_OK;
}

ms_status ms_sys_scaled_fit(size_t n, const double *d, const double *e, const double *e_ref,
                            const uint8_t *use, ms_sys_floor *out)
{
    memset(out, 0, sizeof *out);
    out->bias = NAN;
    out->scale = NAN;
#define TAKES_PART(i)                                                                         \
    ((!use || use[i]) && isfinite(d[i]) && isfinite(e[i]) && e[i] > 0 &&                    \
     (!e_ref || (isfinite(e_ref[i]) && e_ref[i] >= 0)))
    size_t m = 0;
    for (size_t i = 0; i < n; i++) m += TAKES_PART(i);
    out->n = m;
    if (m < 3)
        MS_ERROR(MS_ENOPROG, "scaled error model: %zu difference(s) with a finite value and an "
                 "error > 0 (at least 3 are needed)", m);
    scaled_rows w = {m, NULL, NULL, NULL, 0.0, NULL};
    w.d = ms_malloc_array("sys.d", m, sizeof *w.d);
    w.a = ms_malloc_array("sys.a", m, sizeof *w.a);
    w.c = ms_malloc_array("sys.c", m, sizeof *w.c);
    w.keep = ms_malloc("sys.keep", m);
    ms_status st = (!w.d || !w.a || !w.c || !w.keep) ? MS_ENOMEM : MS_OK;
    if (st == MS_OK) {
        for (size_t i = 0, j = 0; i < n; i++)
            if (TAKES_PART(i)) {
                w.d[j] = d[i];
                w.a[j] = e[i] * e[i];
                w.c[j] = e_ref ? e_ref[i] * e_ref[i] : 0.0;
                w.a_mean += w.a[j] / (double)m;
                j++;
            }
        st = scaled_clip(&w, out);
    }
#undef TAKES_PART
    ms_free(w.d);
    ms_free(w.a);
    ms_free(w.c);
    ms_free(w.keep);
    return st;
}
