/* combine.h: several methods' answers for one spectrum -> the recommended labels and the
 * disagreement between methods (issue 24). Pure computation: no I/O, no MPI.
 *
 * For each quantity q of MS_REC_N (teff, logg, m_h, alpha_m, rv):
 *   candidates  the methods whose value and error are finite, error > 0, and whose row is
 *               clean (the method's own flags are 0: a failed or cut fit never speaks);
 *   recommended the candidate with the smallest error (ties: the earlier method of the list),
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
    int clean; /* 1: the method's flags are 0 for this row */
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

#endif
