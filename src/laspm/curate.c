/* curate.c: the numerical steps of the golden-sample curation (Du et al. 2025 3.2, 3.4):
 * catalogue offsets from a Gaussian core, DBSCAN, its minPts rule and its distance. */
#include "mstars/laspm.h"
#include "mstars/mem.h"

#include <math.h>
#include <string.h>

/* Du 3.2 (Fig. 3): mean and sigma of the Gaussian fitted to the differences. */
ms_status ms_laspm_gauss_offset(size_t n, const double *d, double *mean, double *sigma,
                                size_t *n_used)
{
    double mu = 0.0, sd = INFINITY;
    size_t used = 0;
    for (int it = 0; it < 50; it++) {
        double s = 0.0, s2 = 0.0;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(d[i]) || fabs(d[i] - mu) > 3.0 * sd) continue;
            s += d[i];
            k++;
        }
        if (k < 3) break;
        double m = s / (double)k;
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(d[i]) || fabs(d[i] - mu) > 3.0 * sd) continue;
            s2 += (d[i] - m) * (d[i] - m);
        }
        double v = sqrt(s2 / (double)(k - 1));
        int same = k == used && m == mu;
        mu = m;
        sd = v;
        used = k;
        if (same || sd == 0.0) break;
    }
    *mean = mu;
    *sigma = sd;
    *n_used = used;
    if (used < 3)
        MS_ERROR(MS_ENOPROG, "catalogue offset: %zu differences with the reference (need 3)", used);
    return MS_OK;
}

size_t ms_laspm_min_pts(size_t n_in_bin)
{
    if (n_in_bin < 5) return 2;
    if (n_in_bin < 10) return 3;
    if (n_in_bin < 30) return 4;
    return 5;
}

/* Ester et al. 1996, in index order. */
size_t ms_laspm_dbscan(size_t n, const double *dist, double eps, size_t min_pts, int *label)
{
    enum { UNSEEN = -2, NOISE = -1 };
    for (size_t i = 0; i < n; i++) label[i] = UNSEEN;
    size_t *queue = ms_malloc_array("dbscan.queue", n + 1, sizeof *queue);
    if (!queue) {
        for (size_t i = 0; i < n; i++) label[i] = NOISE;
        return 0;
    }
    int cluster = 0;
    for (size_t i = 0; i < n; i++) {
        if (label[i] != UNSEEN) continue;
        size_t nn = 0;
        for (size_t j = 0; j < n; j++) nn += dist[i * n + j] <= eps;
        if (nn < min_pts) {
            label[i] = NOISE;
            continue;
        }
        label[i] = cluster;
        size_t head = 0, tail = 0;
        for (size_t j = 0; j < n; j++)
            if (j != i && dist[i * n + j] <= eps) {
                if (label[j] == NOISE) label[j] = cluster; /* border point */
                if (label[j] == UNSEEN) {
                    label[j] = cluster;
                    queue[tail++] = j;
                }
            }
        while (head < tail) {
            size_t q = queue[head++];
            size_t nq = 0;
            for (size_t j = 0; j < n; j++) nq += dist[q * n + j] <= eps;
            if (nq < min_pts) continue; /* border point: does not expand */
            for (size_t j = 0; j < n; j++)
                if (dist[q * n + j] <= eps) {
                    if (label[j] == NOISE) label[j] = cluster;
                    if (label[j] == UNSEEN) {
                        label[j] = cluster;
                        queue[tail++] = j;
                    }
                }
        }
        cluster++;
    }
    ms_free(queue);
    return (size_t)cluster;
}

double ms_laspm_distance(size_t n_pix, const float *fa, const float *ia, const float *fb,
                         const float *ib, const uint8_t *use)
{
    double s = 0.0;
    size_t k = 0;
    for (size_t p = 0; p < n_pix; p++) {
        if (use && !use[p]) continue;
        if (!(ia[p] > 0.0f) || !(ib[p] > 0.0f) || !isfinite(fa[p]) || !isfinite(fb[p])) continue;
        const double d = (double)fa[p] - (double)fb[p];
        s += d * d / (1.0 / ia[p] + 1.0 / ib[p]);
        k++;
    }
    return k ? sqrt(s / (double)k) : INFINITY;
}
