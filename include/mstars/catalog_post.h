/* catalog_post.h: steps that run over a whole catalog of `mstars fit` once its rows are
 * written.
 *
 *   ms_catalog_cuts             the Z25 cut flags (cuts.h) into /catalog/cut_flags. They
 *                               need catalog-wide statistics (mean and std of each error
 *                               column), so they are a pass of their own: the survey job
 *                               runs it collectively on its open parallel catalog after the
 *                               last chunk and before the commit; calibrate-errors runs it
 *                               again (serially) with the total errors.
 *   ms_catalog_calibrate_errors Err_repeat and Err_total (errors.h, Z25 Eq. 8-9) into the
 *                               catalog: `mstars calibrate-errors` (serial).
 *
 * Columns written (float64 unless said; units and description attributes):
 *   cut_flags (int32)  bits of cuts.h; attributes flag_names ("0=teff_hot,1=at_boundary,
 *                      2=error_outlier,3=chi2_high"), cut_thresholds [teff_max,
 *                      error_sigma, chi2_red_max], cut_error_columns (text: the columns the
 *                      error_outlier bit used, in ms_cut_error_params order, "" absent),
 *                      cut_error_limits [5] (their mean + k std limits, NaN absent),
 *                      cut_counts [5] (fitted rows, then rows per bit), cut_settings (text)
 *   at_bound           attribute bit_names ("0=teff,1=logg,...,D=dv") when the labels are
 *                      given (the survey job)
 *   e_<p>_repeat       a_p / (S/N) + b_p per row (NaN for rows not fitted or without S/N),
 *                      p in rv, teff, logg, m_h, alpha_m (those with values); attributes
 *                      repeat_a, repeat_b, repeat_a_err, repeat_b_err (double),
 *                      repeat_n_stars, repeat_n_obs (int64), repeat_bin_snr_min,
 *                      repeat_bin_snr_max, repeat_bin_n, repeat_bin_scatter,
 *                      repeat_bin_inv_snr (double arrays, one value per S/N bin used),
 *                      repeat_group_by, repeat_snr_column (text)
 *   e_<p>_total        sqrt(e_<p>_repeat^2 + e_<p>^2 + sys_p^2) (combine z25, Z25 Eq. 8) or
 *                      sqrt(max(e_<p>_repeat, e_<p>)^2 + sys_p^2) (combine max); attributes
 *                      combine (text), sys_floor, sys_bias (mean or median fit - reference,
 *                      NaN without one), sys_spread0 (the normalised spread without the
 *                      floor), sys_fraction (double), sys_n, sys_n_matched, sys_n_clipped
 *                      (int64), sys_reference, sys_spread, sys_split (text); sys_floor = 0
 *                      and sys_n = 0 without a reference (sys_errors.h)
 * and the root attribute error_calibration (text: a, b, the floors and counts per
 * parameter). */
#ifndef MSTARS_CATALOG_POST_H
#define MSTARS_CATALOG_POST_H

#include "mstars/cuts.h"
#include "mstars/errors.h"
#include "mstars/h5.h"
#include "mstars/sanity.h"
#include "mstars/status.h"
#include "mstars/sys_errors.h"

#include <stddef.h>

typedef struct {
    double teff_max, error_sigma, chi2_red_max; /* fit.cut_teff_max, _error_sigma, _chi2_red */
    /* the fit's labels in the emulator's order (at_bound bits 0 .. n_labels - 1); NULL:
     * from the bit_names attribute of /catalog/at_bound (or, for catalogs without it, the
     * number of label columns with values) */
    const char *const *label_names;
    size_t n_labels;
    int total_errors; /* error_outlier on e_<p>_total where that column exists */
    size_t block_rows; /* rows read and written per block (0: 65536) */
    const char *method; /* NULL: the columns of a fit catalog; "z25": the z25 columns of a
                           `fit --methods` catalog (z25_teff, e_z25_teff: survey_job.h) */
} ms_catalog_cuts_opts;

typedef struct {
    long rows, fitted;
    long count[MS_CUT_N_FLAGS]; /* rows with each bit */
    long flagged;               /* rows with any bit */
    double error_max[MS_CUT_N_ERRORS]; /* the error_outlier limits (NaN: column absent) */
} ms_catalog_cuts_summary;

/* Compute /catalog/cut_flags of every row (created when absent, e.g. in a catalog written
 * before it existed) and its attributes. f open for writing; in parallel mode collective
 * (every rank reads a contiguous slice of the rows in blocks, the sums are all-reduced,
 * each rank writes its slice; rows written by other ranks with independent I/O become
 * visible by a flush-barrier-flush first). sum (may be NULL) is the same on every rank. */
ms_status ms_catalog_cuts(ms_h5 *f, const ms_catalog_cuts_opts *o, ms_catalog_cuts_summary *sum);

/* The catalog-wide sanity check of a finished fit (sanity.h): labels piled up at a bound
 * or one value, a broad chi^2 excess, Teff not following the LAMOST SUBCLASS. lo/hi: the
 * training ranges of teff, logg, m_h, alpha_m (NaN lo: not fitted). Writes the root
 * attributes sanity (the one-line verdict) and sanity_pass (1/0). Collective in parallel
 * mode (counts only: the verdict does not depend on the rank count); res on every rank. */
/* As ms_catalog_sanity, on the label columns of `method` in a `fit --methods` catalog
 * (ms_survey_column_name: z25_teff, ...). */
ms_status ms_catalog_sanity_of(ms_h5 *f, const char *method, const double lo[MS_SANITY_LABELS],
                               const double hi[MS_SANITY_LABELS], const ms_sanity_opts *o,
                               ms_sanity_result *res);
ms_status ms_catalog_sanity(ms_h5 *f, const double lo[MS_SANITY_LABELS],
                            const double hi[MS_SANITY_LABELS], const ms_sanity_opts *o,
                            ms_sanity_result *res);

/* Append names (comma-separated) that are not in it yet to the column_order attribute of
 * /catalog (mstars export lists columns in that order). Collective in parallel mode. */
ms_status ms_catalog_column_order_append(ms_h5 *f, const char *names);
/* Remove the names (comma-separated) from it (those absent are ignored). */
ms_status ms_catalog_column_order_remove(ms_h5 *f, const char *names);

/* ---- mstars calibrate-errors --------------------------------------------------------- */

#define MS_CALIB_MAX_PARAMS 5

typedef struct {
    const char *group_by;   /* integer column grouping the repeats of a star (source_id) */
    const char *snr_column; /* S/N column (snr_r) */
    size_t min_obs;         /* observations a star needs (3) */
    double bin_width;       /* S/N bin width (10) */
    size_t min_per_bin;     /* deviations a bin needs to enter the fit (10) */
    const char *command;    /* recorded in error_calibration */
    /* cut thresholds when the catalog has none recorded (cut_thresholds attribute) */
    double cut_teff_max, cut_error_sigma, cut_chi2_red;
    int combine_max;        /* 0: z25 quadrature sum of repeat and fitting; 1: their max */
    /* the systematic floor against a reference table (CSV or FITS with obsid and any of
     * the parameters, optionally e_<p>; table.h); NULL: none */
    const char *reference;
    double reference_fraction; /* stars (by group id) used for the floor: u(id) < it */
    ms_sys_spread spread;      /* the spread the floor sets to 1 */
    int scaled;                /* 0: a floor only; 1: the scaled model, k Err_total and a
                                  floor by maximum likelihood (ms_sys_scaled_fit) */
    double radius;             /* arcsec: the reference joined by position, rows without a
                                  group id grouped by position (join.radius_arcsec) */
    int zero_point;            /* write <p>_cal = <p> - bias (the reference's zero point) */
} ms_calib_opts;

typedef struct {
    size_t n_params;
    char name[MS_CALIB_MAX_PARAMS][16];   /* rv, teff, ... (those calibrated) */
    char units[MS_CALIB_MAX_PARAMS][16];
    size_t n_stars[MS_CALIB_MAX_PARAMS];  /* stars with >= min_obs observations */
    ms_repeat_fit fit[MS_CALIB_MAX_PARAMS];
    long rows, fitted, grouped;            /* catalog rows, fitted rows, fitted rows with an id */
    int recovered;                         /* an interrupted run was repaired */
    ms_catalog_cuts_summary cuts;
    /* the reference (o->reference): its rows, catalog rows matched by obsid, duplicates */
    size_t ref_rows, ref_matched, ref_duplicates;
    int sys_have[MS_CALIB_MAX_PARAMS];       /* the reference has the parameter, a floor fit */
    ms_sys_floor sys[MS_CALIB_MAX_PARAMS];   /* the floor (0 without a reference) */
    size_t sys_matched[MS_CALIB_MAX_PARAMS]; /* fitted rows with a reference value (all stars) */
} ms_calib_result;

/* Serial. With o->reference, the fitted rows are joined to the table by obsid and each
 * parameter the table has gets a floor (sys_errors.h) from the rows of the stars with
 * u(group) < o->reference_fraction, at least 10 of them (MS_ENOPROG otherwise; a table
 * without obsid, without parameter columns or matching no row is refused too). Refuses a
 * catalog that is not complete (except one left incomplete by an
 * interrupted calibrate-errors, which is repaired). Computes everything before it
 * modifies the file; while it writes, the catalog's complete attribute is 0 (and
 * updating = "calibrate-errors"); complete = 1 is written last. A second run replaces the
 * columns. Free r with ms_calib_result_free (also after a failure). */
ms_status ms_catalog_calibrate_errors(const char *path, const ms_calib_opts *o,
                                      ms_calib_result *r);
void ms_calib_result_free(ms_calib_result *r);

#endif
