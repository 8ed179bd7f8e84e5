/* lines.c: RVs from the Doppler shifts of single lines: DSAL I and II (L25 Table 5,
 * absorption) and DSEL (Table 6, emission), L25 3.4.3. */
#include "mstars/native.h"
#include "mstars/rv.h"
#include "mstars/spec.h"
#include "rv_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const double ms_rv_dsal_lines[MS_RV_N_LINES] = {7667.0089, 7701.0825, 8185.5054, 8197.0766,
                                                8437.2600, 8500.3600, 8544.4400, 8664.5200};
const double ms_rv_dsel_lines[MS_RV_N_LINES] = {6549.8600, 6564.6000, 6585.2700, 6718.2940,
                                                6732.6730, 8500.3600, 8544.4400, 8664.5200};

#define WINDOW_A 25.0      /* half-width of the fitting window around the shifted line */
#define SEARCH_A 12.0      /* the line centre must lie within this of the expected place */
#define DSAL1_TOL_KMS 25.0 /* DSAL I: "consistent" = within +-25 km/s of each other's median */
#define CLIP_STD_KMS 20.0  /* DSAL II / DSEL stop: std < 20 km/s (L25) */

/* Line profile on a linear continuum: p0 + p1 (x - xc) - p2 exp(-(x - p3)^2 / (2 p4^2)),
 * x in A relative to the window centre (xc = 0). */
static double line_model(double x, const double *p, double *g)
{
    double d = x - p[3], s2 = p[4] * p[4], e = exp(-0.5 * d * d / s2);
    if (g) {
        g[0] = 1.0;
        g[1] = x;
        g[2] = -e;
        g[3] = -p[2] * e * d / s2;
        g[4] = -p[2] * e * d * d / (s2 * p[4]);
    }
    return p[0] + p[1] * x - p[2] * e;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* RV of one line, or NaN. */
static double measure_line(const ms_rv_native *sp, double lam0, int emission, double v0)
{
    double centre = lam0 * ms_spec_doppler(v0);
    double x[160], y[160], w[160], tmp[160];
    size_t n = 0;
    long k0 = lround((log10(centre - WINDOW_A) - MS_NATIVE_LOGLAM0) / MS_NATIVE_DLOGLAM);
    long k1 = lround((log10(centre + WINDOW_A) - MS_NATIVE_LOGLAM0) / MS_NATIVE_DLOGLAM);
    if (k0 < 0 || k1 >= MS_NATIVE_NPIX) return NAN;
    for (long k = k0; k <= k1 && n < 160; k++) {
        if (sp->mask[k] & (MS_NATIVE_NODATA | MS_NATIVE_ORMASK)) continue;
        if (!(sp->ivar[k] > 0.0f) || !isfinite(sp->flux[k])) continue;
        x[n] = pow(10.0, ms_native_loglam((size_t)k)) - centre;
        y[n] = sp->flux[k];
        w[n] = sp->ivar[k];
        n++;
    }
    if (n < 12) return NAN;
    memcpy(tmp, y, n * sizeof *tmp);
    qsort(tmp, n, sizeof *tmp, cmp_double);
    double level = tmp[n / 2];
    if (!(level != 0.0)) return NAN;
    /* scale to the local level for conditioning */
    for (size_t i = 0; i < n; i++) {
        y[i] /= level;
        w[i] *= level * level;
    }
    size_t ext = 0;
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(x[i]) > SEARCH_A) continue;
        if (!found || (emission ? y[i] > y[ext] : y[i] < y[ext])) ext = i;
        found = 1;
    }
    if (!found) return NAN;
    double p[5] = {1.0, 0.0, emission ? 1.0 - y[ext] : 1.0 - y[ext], x[ext], 2.0};
    ms_rv_lm(line_model, 5, p, n, x, y, w, 60);
    double sig = fabs(p[4]);
    /* the noise of the depth: 1 / sqrt(sum of weights over the line's pixels) */
    double wsum = 0.0;
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i] - p[3]) < 2.0 * sig) wsum += w[i];
    double e_depth = wsum > 0.0 ? 1.0 / sqrt(wsum / 3.0) : INFINITY;
    int sign_ok = emission ? p[2] < 0.0 : p[2] > 0.0;
    if (!sign_ok || fabs(p[2]) < 3.0 * e_depth || sig < 0.7 || sig > 8.0 ||
        fabs(p[3]) > SEARCH_A || !isfinite(p[3]))
        return NAN;
    double r = (centre + p[3]) / lam0, r2 = r * r;
    return MS_C_KMS * (r2 - 1.0) / (r2 + 1.0);
}

void ms_rv_measure_lines(const ms_rv_native *sp, const double *lines, int emission, double v0,
                         double *line_rv)
{
    for (int l = 0; l < MS_RV_N_LINES; l++)
        line_rv[l] = measure_line(sp, lines[l], emission, isfinite(v0) ? v0 : 0.0);
}

static void mean_std(const double *v, int n, double *mean, double *sd)
{
    double s = 0.0, s2 = 0.0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) s2 += (v[i] - *mean) * (v[i] - *mean);
    *sd = sqrt(s2 / n);
}

static void init_result(const double *line_rv, ms_rv_lines_result *out)
{
    memset(out, 0, sizeof *out);
    out->rv = out->e_rv = NAN;
    memcpy(out->line_rv, line_rv, sizeof out->line_rv);
}

void ms_rv_dsal1(const double *line_rv, ms_rv_lines_result *out)
{
    init_result(line_rv, out);
    double v[MS_RV_N_LINES];
    int n = 0;
    for (int l = 0; l < MS_RV_N_LINES; l++)
        if (isfinite(line_rv[l])) v[n++] = line_rv[l];
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int best_i = 0, best_n = 0;
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j + 1 < n && v[j + 1] - v[i] <= 2.0 * DSAL1_TOL_KMS) j++;
        if (j - i + 1 > best_n) {
            best_n = j - i + 1;
            best_i = i;
        }
    }
    if (best_n < 3) return;
    mean_std(v + best_i, best_n, &out->rv, &out->e_rv);
    out->n_used = best_n;
    out->ok = 1;
}

void ms_rv_clip(const double *line_rv, ms_rv_lines_result *out)
{
    init_result(line_rv, out);
    double v[MS_RV_N_LINES], keep[MS_RV_N_LINES];
    int n = 0;
    for (int l = 0; l < MS_RV_N_LINES; l++)
        if (isfinite(line_rv[l])) v[n++] = line_rv[l];
    if (n < 2) return;
    for (;;) {
        double mean, sd;
        mean_std(v, n, &mean, &sd);
        out->rv = mean;
        out->e_rv = sd;
        out->n_used = n;
        out->ok = 1;
        if (sd < CLIP_STD_KMS) return;
        int m = 0;
        for (int i = 0; i < n; i++)
            if (fabs(v[i] - mean) <= sd) keep[m++] = v[i];
        if (m < 2 || m == n) return; /* fewer than 2 left: iteration n - 1 stands */
        memcpy(v, keep, (size_t)m * sizeof *v);
        n = m;
    }
}
