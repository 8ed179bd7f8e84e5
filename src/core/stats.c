/* stats.c: summary statistics of samples (see stats.h). */
#include "mstars/stats.h"

#include <stddef.h>

#include <math.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Copy the finite values of x into work; returns their count. */
static size_t gather_finite(const double *x, size_t n, double *work)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) work[m++] = x[i];
    return m;
}

/* Type-7 quantile of sorted v [m] (m > 0). */
static double sorted_quantile(const double *v, size_t m, double q)
{
    if (q <= 0) return v[0];
    if (q >= 1) return v[m - 1];
    double pos = q * (double)(m - 1);
    size_t lo = (size_t)floor(pos);
    if (lo + 1 >= m) return v[m - 1];
    double f = pos - (double)lo;
    return v[lo] + f * (v[lo + 1] - v[lo]);
}

/* Summary of the m values in work (all finite); sorts work. */
static void summarize_gathered(double *work, size_t m, ms_stats_summary *s)
{
    s->n = m;
    s->mean = s->std = s->median = s->robust_std = s->min = s->max = NAN;
    if (m == 0) return;
    double sum = 0;
    for (size_t i = 0; i < m; i++) sum += work[i];
    double mean = sum / (double)m, ss = 0;
    for (size_t i = 0; i < m; i++) ss += (work[i] - mean) * (work[i] - mean);
    s->mean = mean;
    if (m > 1) s->std = sqrt(ss / (double)(m - 1));
    qsort(work, m, sizeof *work, cmp_double);
    s->min = work[0];
    s->max = work[m - 1];
    s->median = sorted_quantile(work, m, 0.5);
    for (size_t i = 0; i < m; i++) work[i] = fabs(work[i] - s->median);
    qsort(work, m, sizeof *work, cmp_double);
    s->robust_std = 1.4826 * sorted_quantile(work, m, 0.5);
}

void ms_stats_summarize(const double *x, size_t n, double *work, ms_stats_summary *s)
{
    summarize_gathered(work, gather_finite(x, n, work), s);
}

void ms_stats_compare(const double *est, const double *ref, const uint8_t *sel, size_t n,
                      double *work, ms_stats_summary *s)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (sel && !sel[i]) continue;
        double d = est[i] - ref[i];
        if (isfinite(est[i]) && isfinite(ref[i]) && isfinite(d)) work[m++] = d;
    }
    summarize_gathered(work, m, s);
}

void ms_stats_compare_binned(const double *est, const double *ref, const uint8_t *sel,
                             const double *key, size_t n, const double *edges, size_t n_bins,
                             double *work, ms_stats_summary *out)
{
    for (size_t k = 0; k < n_bins; k++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (sel && !sel[i]) continue;
            if (!(key[i] >= edges[k] && key[i] < edges[k + 1])) continue; /* NaN fails too */
            double d = est[i] - ref[i];
            if (isfinite(est[i]) && isfinite(ref[i]) && isfinite(d)) work[m++] = d;
        }
        summarize_gathered(work, m, &out[k]);
    }
}

double ms_stats_quantile(const double *x, size_t n, double q, double *work)
{
    size_t m = gather_finite(x, n, work);
    if (m == 0 || !(q == q)) return NAN;
    qsort(work, m, sizeof *work, cmp_double);
    return sorted_quantile(work, m, q);
}

size_t ms_stats_histogram(const double *x, size_t n, double lo, double hi, size_t n_bins,
                          double *counts)
{
    for (size_t k = 0; k < n_bins; k++) counts[k] = 0;
    if (n_bins == 0 || !(hi > lo) || !isfinite(lo) || !isfinite(hi)) return 0;
    size_t used = 0;
    double width = (hi - lo) / (double)n_bins;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]) || x[i] < lo || x[i] > hi) continue;
        size_t k = (size_t)floor((x[i] - lo) / width);
        if (k >= n_bins) k = n_bins - 1;
        counts[k] += 1;
        used++;
    }
    return used;
}

double ms_stats_select(double *a, size_t n, size_t k)
{
    ptrdiff_t l = 0, m = (ptrdiff_t)n - 1;
    const ptrdiff_t kk = (ptrdiff_t)k;
    while (l < m) {
        const double x = a[kk];
        ptrdiff_t i = l, j = m;
        do {
            while (a[i] < x) i++;
            while (x < a[j]) j--;
            if (i <= j) {
                const double t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        } while (i <= j);
        if (j < kk) l = i;
        if (kk < i) m = j;
    }
    return a[kk];
}

double ms_stats_median_inplace(double *a, size_t n)
{
    const size_t k = n / 2;
    const double hi = ms_stats_select(a, n, k);
    if (n % 2) return hi;
    double lo = a[0]; /* the largest of a[0..k), all <= a[k] */
    for (size_t i = 1; i < k; i++)
        if (a[i] > lo) lo = a[i];
    return 0.5 * (lo + hi);
}

void ms_stats_wilson(size_t k, size_t n, double z, double *lo, double *hi)
{
    if (n == 0) {
        *lo = *hi = NAN;
        return;
    }
    const double nn = (double)n, p = (double)k / nn, z2 = z * z;
    const double centre = (p + z2 / (2.0 * nn)) / (1.0 + z2 / nn);
    const double half = z * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn)) / (1.0 + z2 / nn);
    *lo = k == 0 ? 0.0 : fmax(0.0, centre - half); /* exact ends (rounding leaves 1 - 1e-16) */
    *hi = k == n ? 1.0 : fmin(1.0, centre + half);
}
