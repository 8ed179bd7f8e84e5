/* precision.c: the repeat-observation precision of Du et al. 2025 (3.7, Eq. 1); laspm.h. */
#include "mstars/errors.h"
#include "mstars/laspm.h"
#include "mstars/mem.h"

#include <math.h>
#include <string.h>

ms_status ms_laspm_repeat_precision(size_t n, const int64_t *group, const double *value,
                                    const double *snr, double bin_width, size_t min_per_bin,
                                    double snr_min, ms_repeat_fit *bins, double *eps_1sigma,
                                    size_t *n_eps, size_t *n_stars)
{
    memset(bins, 0, sizeof *bins);
    *eps_1sigma = NAN;
    *n_eps = 0;
    double *dev = ms_malloc_array("precision.dev", n + 1, sizeof *dev);
    double *dof = ms_malloc_array("precision.dof", n + 1, sizeof *dof);
    if (!dev || !dof) {
        ms_free(dev);
        ms_free(dof);
        return MS_ENOMEM;
    }
    size_t n_dev = 0;
    /* Eq. 1: epsilon = sqrt(N / (N - 1)) (P_i - mean P) */
    ms_status st = ms_repeat_deviations(n, group, value, NULL, 2, dev, dof, n_stars, &n_dev);
    if (st == MS_OK) {
        double s2 = 0.0;
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (isfinite(dev[i]) && isfinite(snr[i]) && snr[i] >= snr_min) {
                s2 += dev[i] * dev[i];
                k++;
            }
        *n_eps = k;
        if (k) *eps_1sigma = sqrt(s2 / (double)k);
        st = ms_repeat_fit_snr(n, dev, dof, snr, bin_width, min_per_bin, bins);
    }
    ms_free(dev);
    ms_free(dof);
    return st;
}
