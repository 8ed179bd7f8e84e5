/* stats.h: summary statistics of samples (no I/O, no allocation): the one median, quantile and
 * robust scatter of the tree (the report, the error calibration, the mock universe).
 *
 * Every function skips non-finite values (NaN marks "no value" throughout the catalog).
 * Functions that sort take a caller workspace `work` of at least n doubles (GSL style: no
 * scratch allocation inside); the input is never modified.
 *
 * Definitions (what the report and summary.json mean by them):
 *   mean            sum x / n
 *   std             sample standard deviation, sqrt(sum (x - mean)^2 / (n - 1)); NaN for n < 2
 *   median          middle value (mean of the two middle values for even n)
 *   robust_std      1.4826 * median(|x - median|) (the MAD scaled to a Gaussian sigma)
 *   quantile q      linear interpolation between order statistics (Hyndman-Fan type 7:
 *                   position q (n - 1) in the sorted values)
 * For a comparison "estimate - reference": bias = mean of the differences, scatter = std. */
#ifndef MSTARS_STATS_H
#define MSTARS_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t n;          /* finite values used */
    double mean, std;  /* NaN when n = 0 (std: n < 2) */
    double median, robust_std;
    double min, max;
} ms_stats_summary;

/* Summary of the finite values of x [n]. work [n]. */
void ms_stats_summarize(const double *x, size_t n, double *work, ms_stats_summary *s);

/* Summary of the differences est[i] - ref[i] over the rows where both are finite and
 * sel is NULL or sel[i] != 0. work [n]. s->mean is the bias, s->std the scatter. */
void ms_stats_compare(const double *est, const double *ref, const uint8_t *sel, size_t n,
                      double *work, ms_stats_summary *s);

/* The comparison in bins of a key (e.g. S/N): bin k holds rows with
 * edges[k] <= key[i] < edges[k + 1] (edges[n_bins] may be INFINITY; rows with a
 * non-finite key or outside every bin are left out). out [n_bins]. work [n]. */
void ms_stats_compare_binned(const double *est, const double *ref, const uint8_t *sel,
                             const double *key, size_t n, const double *edges, size_t n_bins,
                             double *work, ms_stats_summary *out);

/* Quantile q in [0, 1] of the finite values (type 7, see above); NaN when there are none.
 * work [n]. */
double ms_stats_quantile(const double *x, size_t n, double q, double *work);

/* The k-th smallest of a[0..n) (0 <= k < n; Wirth's selection, O(n)); reorders a so that
 * a[i] <= a[k] for i < k. */
double ms_stats_select(double *a, size_t n, size_t k);
/* Median of a[0..n) (n >= 1; mean of the two middle values for even n); reorders a. */
double ms_stats_median_inplace(double *a, size_t n);

/* Counts of the finite values in n_bins equal bins over [lo, hi) (the value hi itself goes
 * into the last bin); values outside are not counted. Returns the number counted. */
size_t ms_stats_histogram(const double *x, size_t n, double lo, double hi, size_t n_bins,
                          double *counts);

/* Wilson score interval of a proportion k / n at z (1.959964 for 95%): [*lo, *hi] (E. B.
 * Wilson 1927, Eq. of the score test); NaN for n = 0. */
void ms_stats_wilson(size_t k, size_t n, double z, double *lo, double *hi);

#endif
