/* sanity.h: does a finished catalog look like a failed fit? (issue 17 item 3)
 *
 * On the real M dwarfs with an aliased grid, 94 of 97 stars came out at one Teff with log g
 * at its bound, Teff did not follow the LAMOST SUBCLASS, and every row had a reduced chi^2
 * of 10-60, while no per-row flag said so. Three catalog-wide checks, from counts only
 * (exact sums, the same for any rank count):
 *
 *   pile-up: for each fitted label, the fitted rows are counted in 100 bins of 1% of the
 *     label's training range; more than pile_fraction (20%) of the rows in one bin (at a
 *     bound or anywhere: "at one value") fails. A real population spreads over many
 *     percent of a Z25 range (Teff 2500-4000 K: 15 K per bin; log g 4.5-5.5: 0.01 dex).
 *   chi^2 excess: more than mismatch_fraction (50%) of the fitted rows with the fit_flags
 *     bit model_mismatch (misfit beyond the noise above fit.mismatch_max): the model
 *     misses most spectra, the grid or the emulator cannot describe them.
 *   Teff against SUBCLASS: with at least 10 fitted rows of known LAMOST subclass (K5, K7,
 *     M0-M9) spanning at least 2 subtypes in classes of >= 3 rows, the weighted slope of the
 *     mean Teff per subtype against the subtype must be below teff_slope_max (-50 K per
 *     subtype; dwarfs run about -150 to -250 K per subtype from K7 to M5, Mann et al. 2015).
 *
 * Pure computation (no I/O, no MPI): the counts are gathered by the catalog pass
 * (catalog_post.h: ms_catalog_sanity). */
#ifndef MSTARS_SANITY_H
#define MSTARS_SANITY_H

#include <stddef.h>

#define MS_SANITY_BINS 100
#define MS_SANITY_LABELS 4   /* teff, logg, m_h, alpha_m */
#define MS_SANITY_SUBTYPES 12 /* K5, K7, M0 .. M9 */

typedef struct {
    double fitted;                                        /* rows counted */
    double hist[MS_SANITY_LABELS][MS_SANITY_BINS];        /* per 1% of the training range */
    double mismatch;                                      /* rows with model_mismatch */
    double sub_n[MS_SANITY_SUBTYPES];                     /* rows per subtype */
    double sub_teff[MS_SANITY_SUBTYPES];                  /* sum of round(teff) per subtype */
} ms_sanity_counts;

typedef struct {
    double pile_fraction;      /* 0.2 */
    double mismatch_fraction;  /* 0.5 */
    double teff_slope_max;     /* -50 K per subtype */
} ms_sanity_opts;
#define MS_SANITY_DEFAULTS {0.2, 0.5, -50.0}

typedef struct {
    int pass;                                 /* no check failed */
    int pile[MS_SANITY_LABELS];               /* 1: the label piles up */
    double pile_frac[MS_SANITY_LABELS];       /* largest bin fraction (NaN: label absent) */
    double pile_at[MS_SANITY_LABELS];         /* the centre of that bin (physical) */
    double mismatch_frac;                     /* rows with model_mismatch / fitted */
    int chi2_excess;
    double teff_slope;                        /* K per subtype (NaN: not enough rows) */
    int teff_subclass_bad;
    char text[1024];                          /* the verdict in one line */
} ms_sanity_result;

/* The slot of a LAMOST subclass text ("K5" 0, "K7" 1, "M0".."M9" 2..11, "dM3" as M3, half
 * types rounded down), or -1. */
int ms_sanity_subtype(const char *subclass);
/* Bin of label value x in [lo, hi] (0..MS_SANITY_BINS-1, the bounds included), -1 outside
 * or not finite. */
int ms_sanity_bin(double x, double lo, double hi);
/* The verdict. lo/hi: the labels' training ranges (NaN lo: label not fitted). */
void ms_sanity_evaluate(const ms_sanity_counts *c, const double lo[MS_SANITY_LABELS],
                        const double hi[MS_SANITY_LABELS], const ms_sanity_opts *o,
                        ms_sanity_result *r);

#endif
