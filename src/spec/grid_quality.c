/* grid_quality.c: native sampling and aliasing noise of a model file (grid_quality.h). */
#include "mstars/grid_quality.h"
#include "spec_internal.h"
#include "mstars/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* median of v[n] (sorted in place); NaN for n = 0 */
static double median_inplace(double *v, size_t n)
{
    if (n == 0) return NAN;
    qsort(v, n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

ms_status ms_grid_quality_measure(ms_spec_work *w, const double *wave, const double *flux,
                                  size_t n, ms_grid_quality *q)
{
    q->step_max = q->step_median = q->samples_per_fwhm = q->alias_noise = NAN;
    const ms_wgrid g = ms_spec_work_grid(w);
    const double lo = g.start, hi = g.start + (double)(g.n - 1) * g.step;
    const size_t nh = n / 2 + 1;
    /* steps: the native steps, then the output pixels' differences */
    double *steps = ms_malloc_array("gridq.steps", (n > g.n ? n : g.n) + 1, sizeof(double));
    double *half_w = ms_malloc_array("gridq.half_w", nh, sizeof(double));
    double *half_f = ms_malloc_array("gridq.half_f", nh, sizeof(double));
    double *full = ms_malloc_array("gridq.full", g.n, sizeof(double));
    double *even = ms_malloc_array("gridq.even", g.n, sizeof(double));
    double *odd = ms_malloc_array("gridq.odd", g.n, sizeof(double));
    ms_status st = steps && half_w && half_f && full && even && odd ? MS_OK : MS_ENOMEM;

    /* native sampling over the grid's range */
    size_t ns = 0;
    for (size_t i = 0; st == MS_OK && i + 1 < n; i++)
        if (wave[i + 1] > lo && wave[i] < hi) steps[ns++] = wave[i + 1] - wave[i];
    if (st == MS_OK && ns > 0) {
        double mx = 0.0;
        for (size_t i = 0; i < ns; i++) mx = fmax(mx, steps[i]);
        q->step_max = mx;
        q->step_median = median_inplace(steps, ns);
        /* the narrowest LSF FWHM on the grid: at its blue end */
        q->samples_per_fwhm = lo / w->cfg.synthetic_resolution / mx;
    }

    /* aliasing noise: even vs odd half-samples, convolved to R */
    if (st == MS_OK) st = ms_spec_convolve_synthetic(w, wave, flux, n, full);
    for (int par = 0; st == MS_OK && par < 2; par++) {
        size_t m = 0;
        for (size_t i = (size_t)par; i < n; i += 2) {
            half_w[m] = wave[i];
            half_f[m++] = flux[i];
        }
        st = ms_spec_convolve_synthetic(w, half_w, half_f, m, par ? odd : even);
    }
    if (st == MS_OK) {
        size_t m = 0;
        for (size_t j = 0; j < g.n; j++) {
            double d = (even[j] - odd[j]) / full[j];
            if (isfinite(d)) steps[m++] = d;
        }
        double med = median_inplace(steps, m);
        for (size_t j = 0; j < m; j++) steps[j] = fabs(steps[j] - med);
        q->alias_noise = 1.4826 * median_inplace(steps, m);
    }
    ms_free(steps);
    ms_free(half_w);
    ms_free(half_f);
    ms_free(full);
    ms_free(even);
    ms_free(odd);
    return st;
}

void ms_grid_quality_summarize(const ms_grid_quality *q, size_t n, double alias_max,
                               double resolution, ms_grid_quality_summary *s)
{
    memset(s, 0, sizeof *s);
    s->alias_max = alias_max;
    s->alias_median = s->alias_worst = s->samples_min = NAN;
    double *v = ms_malloc_array("gridq.sum", n + 1, sizeof(double));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(q[i].alias_noise)) continue;
        if (v) v[m] = q[i].alias_noise;
        m++;
        if (q[i].alias_noise > alias_max) s->n_bad++;
        if (!(s->alias_worst >= q[i].alias_noise)) s->alias_worst = q[i].alias_noise;
        if (!(s->samples_min <= q[i].samples_per_fwhm)) s->samples_min = q[i].samples_per_fwhm;
    }
    s->n_models = m;
    if (v) s->alias_median = median_inplace(v, m);
    ms_free(v);
    s->pass = m > 0 && s->n_bad == 0;
    if (m == 0)
        snprintf(s->text, sizeof s->text, "grid quality: no usable model to measure");
    else if (s->pass)
        snprintf(s->text, sizeof s->text,
                 "grid quality: PASS: sampling noise at R=%.0f %.2g%% median, %.2g%% worst "
                 "(threshold %.2g%%), >= %.1f samples per LSF FWHM, %zu models",
                 resolution, 100 * s->alias_median, 100 * s->alias_worst, 100 * alias_max,
                 s->samples_min, m);
    else
        snprintf(s->text, sizeof s->text,
                 "grid quality: FAIL: %zu of %zu models have sampling (aliasing) noise above "
                 "%.2g%% at R=%.0f (median %.2g%%, worst %.2g%%; down to %.1f samples per LSF "
                 "FWHM): the files are point-sampled, not convolved; the grid cannot support "
                 "this resolution and fits to it are not trustworthy",
                 s->n_bad, m, 100 * alias_max, resolution, 100 * s->alias_median,
                 100 * s->alias_worst, s->samples_min);
}
