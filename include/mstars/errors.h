/* errors.h: the repeat-observation uncertainty Err_repeat (Z25 4.1, Eq. 8-9; method.md 6).
 * Pure numerics, no I/O (the catalog side is ms_catalog_calibrate_errors, catalog_post.h).
 *
 *   Err_total = sqrt(Err_repeat^2 + Err_fitting^2),    Err_repeat,p = a_p / (S/N) + b_p
 *
 * 1. ms_repeat_deviations: observations are grouped by star (e.g. the Gaia source_id that
 *    repeats of a star share); only stars with >= min_obs usable observations count. Each
 *    observation's deviation from its star's mean is scaled by sqrt(m / (m - 1)) (m the
 *    star's observations), which makes E[dev^2] = sigma^2 when the star's observations
 *    share one sigma. (When the S/N of a star's observations differs, E[dev^2] is pulled
 *    from sigma_i^2 towards the star's mean variance; Z25 ignores this, so do we.)
 * 2. ms_repeat_fit_snr: deviations binned by the observation's S/N in bins
 *    [k w, (k + 1) w) (Z25: w = 10); a bin with at least min_per_bin deviations gives the
 *    scatter s_k = sqrt(mean dev^2) (the RMS about zero: the deviations have zero mean by
 *    construction) at x_k = the RMS of 1/(S/N) over the bin's deviations. The bins are
 *    wide (S/N 3-10 in the first), so the abscissa matters: with Err = a/(S/N) the bin's
 *    RMS is exactly a x_k (the bin's mean 1/(S/N) would bias a by ~5% in the first bin);
 *    with both terms only the cross term 2ab(x_k - mean 1/(S/N)) is approximated.
 * 3. ms_repeat_fit_line: weighted least squares of s_k = a x_k + b. The weight of a bin is
 *    the inverse variance of a sample RMS, Var(s_k) = sigma_k^2 / (2 nu_k), where nu_k is
 *    the bin's degrees of freedom (each deviation of a star of m observations carries
 *    (m - 1) / m, since a star's deviations sum to zero) and sigma_k the MODEL value
 *    a x_k + b (iteratively reweighted; weighting by the noisy s_k itself would favour bins
 *    that scattered low). a >= 0 and b >= 0 are enforced (a negative floor or a scatter
 *    that grows with S/N is unphysical): when the unconstrained solution violates them,
 *    the better of the fits with b = 0 or a = 0 is taken. */
#ifndef MSTARS_ERRORS_H
#define MSTARS_ERRORS_H

#include "mstars/status.h"

#include <stddef.h>
#include <stdint.h>

/* Deviations of repeat observations from their star's mean. Row i takes part when use[i]
 * (use may be NULL: all), group[i] >= 0 (no id: ignored) and value[i] is finite; a star
 * counts when it has >= min_obs (>= 2) such rows. Out: dev[n] = (value - star mean)
 * sqrt(m / (m - 1)) for the rows of counted stars, NaN for every other row; dof[n] (may be
 * NULL) = (m - 1) / m for those rows, 0 for others; *n_stars, *n_dev the counted stars and
 * their rows. MS_EINVAL (min_obs < 2), MS_ENOMEM. */
ms_status ms_repeat_deviations(size_t n, const int64_t *group, const double *value,
                               const uint8_t *use, size_t min_obs, double *dev, double *dof,
                               size_t *n_stars, size_t *n_dev);

/* The S/N bins and the fit of one parameter. Arrays [n_bins] owned by the struct
 * (ms_repeat_fit_free). */
typedef struct {
    size_t n_bins;
    double *snr_min, *snr_max; /* bin edges: [k w, (k + 1) w) */
    double *inv_snr;           /* RMS of 1/(S/N) of the bin's deviations (the abscissa) */
    double *n;                 /* deviations in the bin */
    double *dof;               /* their degrees of freedom (sum of (m - 1) / m) */
    double *scatter;           /* sqrt(mean dev^2) */
    double a, b;               /* Err_repeat = a / (S/N) + b */
    double a_err, b_err;       /* formal 1-sigma errors of a and b (0 for one held at 0) */
    size_t n_dev;              /* deviations in the used bins */
} ms_repeat_fit;

/* Bin dev[n] (NaN: skipped) by snr[n] (skipped unless finite and > 0) in bins of
 * bin_width, keep bins with >= min_per_bin (>= 2) deviations, fit a and b (dof[n] from
 * ms_repeat_deviations; NULL: 1 per deviation). out is filled from scratch (free it with
 * ms_repeat_fit_free, also after a failure). MS_ENOPROG when no bin has enough
 * deviations (the message gives the counts), MS_EINVAL, MS_ENOMEM. */
ms_status ms_repeat_fit_snr(size_t n, const double *dev, const double *dof, const double *snr,
                            double bin_width, size_t min_per_bin, ms_repeat_fit *out);
void ms_repeat_fit_free(ms_repeat_fit *f);

/* Weighted least squares of y[k] = a x[k] + b over k < m points, each with nu[k] > 0
 * degrees of freedom (weights 2 nu_k / (a x_k + b)^2, iterated), subject to a, b >= 0.
 * With one point (or all x equal) only one of a, b can be determined: a (b = 0).
 * a_err, b_err (may be NULL): formal errors (0 for a parameter held at 0). MS_EINVAL
 * when m == 0. */
ms_status ms_repeat_fit_line(size_t m, const double *x, const double *y, const double *nu,
                             double *a, double *b, double *a_err, double *b_err);

/* Err_repeat at S/N snr: a / snr + b; NaN unless snr is finite and > 0. */
double ms_repeat_error(double a, double b, double snr);

#endif
