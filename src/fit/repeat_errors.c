/* repeat_errors.c: Err_repeat from repeat observations (see errors.h). */
#include "mstars/errors.h"
#include "mstars/mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BINS 100000 /* a bin width far too small for the S/N range is an error */

typedef struct {
    int64_t group;
    size_t row;
} grow;

static int cmp_grow(const void *pa, const void *pb)
{
    const grow *a = pa, *b = pb;
    if (a->group != b->group) return a->group < b->group ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

ms_status ms_repeat_deviations(size_t n, const int64_t *group, const double *value,
                               const uint8_t *use, size_t min_obs, double *dev, double *dof,
                               size_t *n_stars, size_t *n_dev)
{
    if (min_obs < 2)
        MS_ERROR(MS_EINVAL, "repeat errors: a star needs at least 2 observations (min_obs %zu)",
                 min_obs);
    *n_stars = *n_dev = 0;
    for (size_t i = 0; i < n; i++) {
        dev[i] = NAN;
        if (dof) dof[i] = 0.0;
    }
    grow *g = ms_malloc_array("repeat.groups", n + 1, sizeof *g);
    if (!g) return MS_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if ((!use || use[i]) && group[i] >= 0 && isfinite(value[i])) g[m++] = (grow){group[i], i};
    qsort(g, m, sizeof *g, cmp_grow);
    for (size_t s = 0; s < m;) {
        size_t e = s;
        while (e < m && g[e].group == g[s].group) e++;
        size_t k = e - s;
        if (k >= min_obs) {
            double mean = 0;
            for (size_t j = s; j < e; j++) mean += value[g[j].row];
            mean /= (double)k;
            const double scale = sqrt((double)k / (double)(k - 1));
            for (size_t j = s; j < e; j++) {
                dev[g[j].row] = (value[g[j].row] - mean) * scale;
                if (dof) dof[g[j].row] = (double)(k - 1) / (double)k;
            }
            ++*n_stars;
            *n_dev += k;
        }
        s = e;
    }
    ms_free(g);
    return MS_OK;
}

void ms_repeat_fit_free(ms_repeat_fit *f)
{
    if (!f) return;
    double *arrays[] = {f->snr_min, f->snr_max, f->inv_snr, f->n, f->dof, f->scatter};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) ms_free(arrays[i]);
    memset(f, 0, sizeof *f);
}

double ms_repeat_error(double a, double b, double snr)
{
    if (!isfinite(snr) || snr <= 0) return NAN;
    return a / snr + b;
}

/* sum w (y - a x - b)^2 */
static double objective(size_t m, const double *x, const double *y, const double *w, double a,
                        double b)
{
    double q = 0;
    for (size_t k = 0; k < m; k++) q += w[k] * (y[k] - a * x[k] - b) * (y[k] - a * x[k] - b);
    return q;
}

/* One weighted solve with a, b >= 0 (see errors.h); va, vb the variances. */
static void solve(size_t m, const double *x, const double *y, const double *w, double *a,
                  double *b, double *va, double *vb)
{
    double sw = 0, sx = 0, sxx = 0, sy = 0, sxy = 0;
    for (size_t k = 0; k < m; k++) {
        sw += w[k];
        sx += w[k] * x[k];
        sxx += w[k] * x[k] * x[k];
        sy += w[k] * y[k];
        sxy += w[k] * x[k] * y[k];
    }
    const double det = sw * sxx - sx * sx;
    const int degenerate = !(det > 1e-9 * sw * sxx); /* one point, or all x equal */
    if (!degenerate) {
        double ua = (sw * sxy - sx * sy) / det, ub = (sxx * sy - sx * sxy) / det;
        if (ua >= 0 && ub >= 0) {
            *a = ua;
            *b = ub;
            *va = sw / det;
            *vb = sxx / det;
            return;
        }
    }
    /* on a boundary: the better of b = 0 and a = 0; a alone when they cannot be told apart */
    double aa = sxx > 0 && sxy > 0 ? sxy / sxx : 0.0;
    double bb = sw > 0 && sy > 0 ? sy / sw : 0.0;
    if (degenerate || objective(m, x, y, w, aa, 0.0) <= objective(m, x, y, w, 0.0, bb)) {
        *a = aa;
        *b = 0.0;
        *va = sxx > 0 ? 1.0 / sxx : NAN;
        *vb = 0.0;
    } else {
        *a = 0.0;
        *b = bb;
        *va = 0.0;
        *vb = sw > 0 ? 1.0 / sw : NAN;
    }
}

ms_status ms_repeat_fit_line(size_t m, const double *x, const double *y, const double *nu,
                             double *a, double *b, double *a_err, double *b_err)
{
    if (m == 0) MS_ERROR(MS_EINVAL, "repeat errors: no point to fit a / (S/N) + b to");
    double ybar = 0, nsum = 0;
    for (size_t k = 0; k < m; k++) {
        ybar += nu[k] * y[k];
        nsum += nu[k];
    }
    ybar = nsum > 0 ? ybar / nsum : 0.0;
    *a = *b = 0.0;
    if (a_err) *a_err = 0.0;
    if (b_err) *b_err = 0.0;
    if (!(ybar > 0)) return MS_OK; /* every scatter zero */
    double *w = ms_malloc_array("repeat.w", m, sizeof *w);
    if (!w) return MS_ENOMEM;
    double fa = 0, fb = 0, va = 0, vb = 0;
    for (int it = 0; it < 100; it++) {
        for (size_t k = 0; k < m; k++) {
            /* Var(s_k) = sigma_k^2 / (2 nu_k), sigma_k the model (the mean at the start) */
            double model = it == 0 ? ybar : fa * x[k] + fb;
            if (model < 1e-6 * ybar) model = 1e-6 * ybar;
            w[k] = 2.0 * nu[k] / (model * model);
        }
        double na, nb;
        solve(m, x, y, w, &na, &nb, &va, &vb);
        const int done = it > 0 && fabs(na - fa) <= 1e-12 * (fabs(na) + 1e-300) &&
                         fabs(nb - fb) <= 1e-12 * (fabs(nb) + 1e-300);
        fa = na;
        fb = nb;
        if (done) break;
    }
    ms_free(w);
    *a = fa;
    *b = fb;
    if (a_err) *a_err = sqrt(va);
    if (b_err) *b_err = sqrt(vb);
    return MS_OK;
}

ms_status ms_repeat_fit_snr(size_t n, const double *dev, const double *dof, const double *snr,
                            double bin_width, size_t min_per_bin, ms_repeat_fit *out)
{
    memset(out, 0, sizeof *out);
    if (!(bin_width > 0) || !isfinite(bin_width))
        MS_ERROR(MS_EINVAL, "repeat errors: the S/N bin width must be > 0 (got %g)", bin_width);
    if (min_per_bin < 2)
        MS_ERROR(MS_EINVAL, "repeat errors: a bin needs at least 2 deviations (got %zu)",
                 min_per_bin);
    size_t nb = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(dev[i]) || !isfinite(snr[i]) || snr[i] <= 0) continue;
        const double k = floor(snr[i] / bin_width);
        if (k >= MAX_BINS)
            MS_ERROR(MS_EINVAL, "repeat errors: S/N %g in bins of %g makes more than %d bins; "
                     "use a wider bin", snr[i], bin_width, MAX_BINS);
        if ((size_t)k + 1 > nb) nb = (size_t)k + 1;
        total++;
    }
    /* per bin: count, dof, sum dev^2, sum 1/snr^2 */
    double *acc = ms_calloc("repeat.bins", 4 * (nb + 1), sizeof *acc);
    if (!acc) return MS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(dev[i]) || !isfinite(snr[i]) || snr[i] <= 0) continue;
        double *b = acc + 4 * (size_t)floor(snr[i] / bin_width);
        b[0] += 1.0;
        b[1] += dof ? dof[i] : 1.0;
        b[2] += dev[i] * dev[i];
        b[3] += 1.0 / (snr[i] * snr[i]);
    }
    size_t used = 0, fullest = 0;
    for (size_t k = 0; k < nb; k++) {
        if (acc[4 * k] >= (double)min_per_bin) used++;
        if ((size_t)acc[4 * k] > fullest) fullest = (size_t)acc[4 * k];
    }
    if (used == 0) {
        ms_free(acc);
        MS_ERROR(MS_ENOPROG, "repeat errors: no S/N bin of width %g holds %zu deviations (%zu "
                 "deviations in all, at most %zu in one bin): too few stars with repeat "
                 "observations", bin_width, min_per_bin, total, fullest);
    }
    double **arrays[] = {&out->snr_min, &out->snr_max, &out->inv_snr, &out->n, &out->dof,
                         &out->scatter};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
        *arrays[i] = ms_malloc_array("repeat.fit", used, sizeof(double));
        if (!*arrays[i]) {
            ms_free(acc);
            ms_repeat_fit_free(out);
            return MS_ENOMEM;
        }
    }
    for (size_t k = 0, j = 0; k < nb; k++) {
        const double *b = acc + 4 * k;
        if (b[0] < (double)min_per_bin) continue;
        out->snr_min[j] = (double)k * bin_width;
        out->snr_max[j] = (double)(k + 1) * bin_width;
        out->n[j] = b[0];
        out->dof[j] = b[1];
        out->scatter[j] = sqrt(b[2] / b[0]);
        out->inv_snr[j] = sqrt(b[3] / b[0]);
        out->n_dev += (size_t)b[0];
        j++;
    }
    out->n_bins = used;
    ms_free(acc);
    ms_status st = ms_repeat_fit_line(used, out->inv_snr, out->scatter, out->dof, &out->a,
                                      &out->b, &out->a_err, &out->b_err);
    if (st != MS_OK) ms_repeat_fit_free(out);
    return st;
}
