/* combine.h: several methods' answers for one spectrum -> the recommended labels and the
 * disagreement between methods (issue 24). Pure computation: no I/O, no MPI.
 *
 * For each quantity q of MS_REC_N (teff, logg, m_h, alpha_m, rv):
 *   candidates  the methods whose value and error are finite, error > 0, and whose row is
 *               clean (the method's own flags are 0: a failed or cut fit never speaks);
 *   recommended the candidate with the smallest honest error: its `score` where > 0 (the RMS
 *               of its differences from reference labels in the row's S/N bin, shrunk
 *               toward its all-rows value where the bin has few rows), else its
 *               `error` (ties: the earlier method of the list),
 *               with its error and its method index (-1 and NaN when there is no candidate).
 *               Smallest HONEST error: the caller passes each method's total (calibrated)
 *               error where the catalog has one, so a method with understated errors is not
 *               rewarded once calibrate-errors has run;
 *   disagreement two candidates i, j disagree on q when |v_i - v_j| > k sqrt(e_i^2 + e_j^2)
 *               (k = combine.disagree_sigma, 3 by default): bit q of `disagree` is set. The
 *               pair with the largest |v_i - v_j| / sqrt(e_i^2 + e_j^2) over all quantities
 *               is named (pair[0] < pair[1]; -1 when no pair was compared) with that
 *               significance and its quantity. */
#ifndef MSTARS_COMBINE_H
#define MSTARS_COMBINE_H

#include <stddef.h>
#include <stdint.h>

#define MS_REC_N 5
extern const char *const ms_rec_names[MS_REC_N]; /* teff, logg, m_h, alpha_m, rv */
extern const char *const ms_rec_units[MS_REC_N]; /* K, dex, dex, dex, km/s */

typedef struct {
    double value, error;
    int clean;    /* 1: the method's flags are 0 for this row */
    double score; /* the honest error that ranks the candidates (> 0: the method's RMS against
                   * reference labels in the row's S/N bin, shrunk toward its all-rows value,
                   * set by ms_combine_rescale_errors); 0 or NaN: rank by `error` */
} ms_rec_input;

typedef struct {
    double value[MS_REC_N], error[MS_REC_N];
    int method[MS_REC_N];   /* index into the method list, -1: none */
    uint32_t disagree;      /* bit q: two candidates disagree on quantity q */
    int pair[2];            /* the most discrepant pair of methods, or -1, -1 */
    int pair_quantity;      /* its quantity, or -1 */
    double pair_sigma;      /* its |difference| / combined error (NaN: no pair) */
} ms_rec_output;

/* The name column `name` of method `a` (schema.h's answer table) takes in a catalog that also
 * holds the recommended labels: a value column without the method's prefix (z25's teff) gets
 * it (z25_teff), and its errors too (e_teff -> e_z25_teff, e_teff_total -> e_z25_teff_total);
 * other names are kept. Returns 1 when renamed (buf holds the name in every case). */
int ms_combine_column_name(const void *answers, const char *name, char *buf, size_t len);

/* in: [n_methods][MS_REC_N] for one row. */
void ms_combine_row(const ms_rec_input *in, size_t n_methods, double k, ms_rec_output *out);

/* Honest errors from the methods' mutual differences (the "three-cornered hat"; Gray & Allan
 * 1974 for clocks, "triple collocation" in geophysics): if methods i and j have independent
 * errors of standard deviation s_i and s_j, the differences v_i - v_j over the rows both give
 * have variance s_i^2 + s_j^2. With three or more methods these equations, one per pair, are
 * solved for every s_m^2 by least squares (LAPACK dposv on the normal equations), per quantity
 * and per bin of key (S/N); the variance of a pair's differences is the robust one (1.4826 MAD,
 * squared), so that a few outliers do not set it. The scale of method m is s_m / median(e_m):
 * the factor that makes its formal errors match its actual scatter.
 * With two methods only the sum is known: both get the one factor that makes the pulls of
 * their differences 1. A scale stays 1 (not estimated) where fewer than min_rows rows of a
 * pair fall in the bin, or where the solution gives s_m^2 <= 0 (errors correlated between
 * methods); a bin that cannot be estimated takes the method's all-rows value.
 *   in      [n][n_methods][MS_REC_N]: every row's answers (ms_combine_row's layout, row by row)
 *   key     [n] the binning value (NULL: one bin); edges [n_bins + 1] increasing
 *   scale   [n_methods][MS_REC_N][n_bins] out
 * Deterministic: a function of the inputs only (fixed loop order). Returns 0, or -1 when an
 * allocation failed (scales left at 1). */
int ms_combine_error_scales(const ms_rec_input *in, size_t n, size_t n_methods,
                            const double *key, const double *edges, size_t n_bins,
                            size_t min_rows, double *scale);

/* Honest errors against REFERENCE labels (issue 24): the three-cornered hat above assumes
 * independent errors, which label-transfer methods trained on one reference set (cnn, slam,
 * laspm) do not have: their mutual differences are small, so the hat makes their errors look
 * too small. Given reference labels of rows that NONE of the methods trained on (the caller's
 * duty: a held-out part of the reference subset), the scale of method m for quantity q in a
 * bin of key is the robust spread about zero of its pulls against the reference,
 *   k = 1.4826 median |(v_m - ref) / e_m|      (a bias counts as error),
 * the factor that makes its errors honest against the reference (1 for honest errors). A bin
 * with fewer than min_rows such rows takes the all-rows value; with fewer than min_rows in all
 * the scale is NaN (not estimated). The reference's own errors are not counted (the reference
 * must be much more precise than the methods).
 *   ref     [n][MS_REC_N]: the reference value of every row and quantity (NaN: none)
 *   scale   [n_methods][MS_REC_N][max(n_bins, 1)] out; rms (NULL: not wanted) the same layout:
 *           sqrt(mean((v_m - ref)^2)) over the same rows (the bin's, else all rows; NaN where
 *           the scale is NaN); n_used [n_methods][MS_REC_N] out (the
 *           rows of the all-rows value; NULL: not wanted)
 * Returns 0, or -1 when an allocation failed. */
int ms_combine_reference_scales(const ms_rec_input *in, size_t n, size_t n_methods,
                                const double *ref, const double *key, const double *edges,
                                size_t n_bins, size_t min_rows, double *scale, double *rms,
                                size_t *n_used);

/* The S/N_r bins of the rescaling both `mstars combine` and `fit --methods` apply:
 * S/N_r < 10, 10-20, 20-50, > 50. */
#define MS_COMBINE_SCALE_BINS 4
extern const double ms_combine_scale_edges[MS_COMBINE_SCALE_BINS + 1];
#define MS_COMBINE_SCALE_MIN_ROWS 20
#define MS_COMBINE_REF_MIN_ROWS 10

/* THE rescaling of `mstars combine` and `fit --methods` (one function for both): the hat's
 * factors (ms_combine_error_scales over the S/N_r bins above; snr NULL: one bin), replaced by
 * the reference's (ms_combine_reference_scales, MS_COMBINE_REF_MIN_ROWS) for every method and
 * quantity the reference could measure when ref is not NULL; then every row's errors
 * multiplied by its method's factor in its bin, in place, and, where the reference measured
 * the method, its `score` set to the method's reference RMS in the row's bin, shrunk toward
 * what its all-rows RMS predicts for the bin with the weight of MS_COMBINE_REF_MIN_ROWS rows
 * (error_scales.c, rank_scores: log s^2 = (k log mse_bin + n0 log(f mse_all)) / (k + n0), f
 * the bin's common factor over the methods), so the rule recommends, per S/N bin, the clean
 * method that is closest to the reference labels there, comparing like with like however few
 * rows a method has in the bin (the per-row errors of learned methods track their actual
 * errors too poorly to choose by); where a usable candidate of a row has no reference RMS at
 * all, every candidate of the row keeps score NaN: ranked by its rescaled error, like with
 * like. scale: [n_methods][MS_REC_N]
 * [MS_COMBINE_SCALE_BINS] out; n_ref [n_methods][MS_REC_N] out (NULL: not wanted): the
 * reference rows behind each method's factors, 0 where the hat's were used. Returns 0, or -1
 * when an allocation failed (errors unchanged). */
int ms_combine_rescale_errors(ms_rec_input *in, size_t n, size_t n_methods, const double *snr,
                              const double *ref, double *scale, size_t *n_ref);

#endif
