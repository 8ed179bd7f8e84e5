/* cuts.h: the quality cuts of the catalog (Z25 4; method.md 7: "Cuts (flags, not
 * deletions)"), as pure decisions on one row's values. No I/O: the catalog-wide pass that
 * gathers the statistics and writes /catalog/cut_flags is ms_catalog_cuts
 * (catalog_post.h).
 *
 * Bits of cut_flags:
 *   0 teff_hot       teff > fit.cut_teff_max (4300 K)
 *   1 at_boundary    a fitted LABEL ended at a bound of the emulator's training range
 *                    (at_bound bits 0 .. n_labels-1; Z25 names log g, any label counts
 *                    here; the dv bit of at_bound, the velocity window's edge, does not:
 *                    fit_flags has rv_edge for it)
 *   2 error_outlier  one of the uncertainties (e_teff, e_logg, e_m_h, e_alpha_m, e_rv:
 *                    those present) above mean + fit.cut_error_sigma (5) x standard
 *                    deviation of that column over the fitted rows
 *   3 chi2_high      chi2_red > fit.cut_chi2_red (50). Z25 writes "chi^2 > 50"; the raw
 *                    chi^2 over ~2800 pixels is ~2800 for a perfect fit, so the cut is on
 *                    the reduced chi^2.
 * Rows that were not fitted (store_status != 0, or a fit with MS_FIT_FAILED bits) get 0:
 * their fit_flags / store_status already say why. Comparisons with NaN are false, so a
 * NaN value never sets a bit (a singular fit's NaN errors are flagged in fit_flags). */
#ifndef MSTARS_CUTS_H
#define MSTARS_CUTS_H

#include <stddef.h>
#include <stdint.h>

enum {
    MS_CUT_TEFF_HOT = 1u << 0,
    MS_CUT_AT_BOUNDARY = 1u << 1,
    MS_CUT_ERROR_OUTLIER = 1u << 2,
    MS_CUT_CHI2_HIGH = 1u << 3,
};
#define MS_CUT_N_FLAGS 4

/* The uncertainties the error_outlier bit looks at, by parameter name (the catalog column
 * is e_<name>, or e_<name>_total after mstars calibrate-errors). */
#define MS_CUT_N_ERRORS 5
extern const char *const ms_cut_error_params[MS_CUT_N_ERRORS]; /* teff logg m_h alpha_m rv */

/* Name of one bit ("teff_hot", ...), NULL for an unknown bit. */
const char *ms_cut_flag_name(uint32_t bit);
/* The names of bits 0 .. MS_CUT_N_FLAGS - 1, NULL-terminated (the schema's cut_flags). */
extern const char *const ms_cut_flag_names[MS_CUT_N_FLAGS + 1];

/* The thresholds of one catalog. */
typedef struct {
    double teff_max;                    /* K */
    double chi2_red_max;
    uint32_t label_bits;                /* at_bound bits that are labels */
    double error_max[MS_CUT_N_ERRORS];  /* per ms_cut_error_params; NaN: no cut */
} ms_cut_limits;

/* One fitted row's values (NaN where a column is absent). */
typedef struct {
    double teff, chi2_red;
    uint32_t at_bound;
    double error[MS_CUT_N_ERRORS];
} ms_cut_row;

/* The cut_flags bits of a fitted row. */
int32_t ms_cut_flags(const ms_cut_row *r, const ms_cut_limits *l);

/* 1 when a catalog row holds a fit (store_status 0 and no MS_FIT_FAILED bit in
 * fit_flags): the rows that are cut, and over which the error statistics run. */
int ms_cut_row_fitted(int32_t store_status, uint32_t fit_flags);

/* The error_outlier threshold mean + k x std from the two-pass sums of one column over n
 * finite values: sum = sum x, dev2 = sum (x - mean)^2 (std with n - 1). NaN (no cut) when
 * n < 2. */
double ms_cut_outlier_limit(double n, double sum, double dev2, double k);

#endif
