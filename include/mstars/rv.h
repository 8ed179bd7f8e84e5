/* rv.h: radial velocities from real templates, the RV module of Li et al. 2025 (L25 3.4.3,
 * reference/seeds_summary.md 1.3 Module 3). Pure computation: no MPI, no store I/O (the
 * driver is src/stage/rv.c, `mstars rv`).
 *
 * Input: one spectrum's native view (native.h: LAMOST's log-linear lattice, observed frame,
 * not normalised), the LAMOST pipeline velocity Z*c and the observation date.
 *
 *  - TM, template matching (L25 Eq. 2): for every template, chi^2(RV) on the coarse grid
 *    RV = 60 n km/s, n = -10..10, with a 4th-order multiplicative polynomial fitted per
 *    trial by linear least squares (normal equations, LAPACK dposv); the minimum of
 *    chi^2(RV) refined on the coarse points around it (default the 3-point parabola; a
 *    Gaussian fit with fit_half_width >= 2: docs/rv.md compares them) gives the template's
 *    RV and minimum chi^2; the template with the lowest chi^2 gives RV_init. Errors by injection (L25 step 2): the spectrum,
 *    shifted by every s in -500..500 km/s after removing RV_init, is remeasured with the
 *    best template on the same coarse grid; RV = RV_init + mean(residual), error =
 *    std(residual). The 1001 remeasurements are done cheaply: each is a function of the
 *    best template's chi^2 curve only (chi^2 of the spectrum shifted by s at trial v equals
 *    chi^2 of the unshifted spectrum at v + RV_init - s), so the curve is computed once on
 *    a 5 km/s grid around RV_init, interpolated by a cubic spline, and the 1001 coarse
 *    grids are read off it (ms_rv_settings.full_injection = 1 runs the literal 1001
 *    shifts and refits instead; docs/rv.md compares the two).
 *  - TML7500: the same below 7500 A (spectra with a red-end anomaly).
 *  - DSAL I / II (Table 5 absorption lines), DSEL (Table 6 emission lines): a Gaussian
 *    line profile on a linear continuum per line; DSAL I: at least 3 lines with consistent
 *    shifts; DSAL II and DSEL: iterative 1-sigma clipping (L25 3.4.3).
 *  - The decision (L25 3.4.3, Table 7): rv_from and rv, rv_flag (L25 1.5). */
#ifndef MSTARS_RV_H
#define MSTARS_RV_H

#include "mstars/join.h"
#include "mstars/status.h"

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- settings */
typedef struct {
    double wave_min, wave_max;  /* TM range of the observed spectrum, A (L25 step 4b: 4700-8899) */
    double tml_wave_max;        /* TML7500: 7500 A */
    double step_kms;            /* coarse grid step: 60 km/s */
    int n_steps;                /* coarse grid: n = -n_steps..n_steps (10) */
    int poly_order;             /* k of P_k (L25: 4) */
    int fit_half_width;         /* coarse points each side of the minimum in its refinement: 1
                                   (default) the 3-point parabola; >= 2 a Gaussian fit */
    int inject_max;             /* injections s = -inject_max..inject_max km/s (500) */
    int full_injection;         /* 1: the 1001 refits literally (slow, for checks); 2: the same
                                   shifting the observed pixels instead of the templates */
    double curve_step_kms;      /* spacing of the chi^2 curve of the cheap injections (5) */
    double template_R;          /* resolving power of the templates (Kesseli 2017: 2000) */
    double spectrum_R;          /* of the spectra (LAMOST LRS: 1800); templates are broadened
                                   to it when template_R is larger */
    unsigned reject_bits;       /* native mask bits that drop a pixel (L25 step 1: ormask) */
    double min_pixels;          /* fewest good pixels for a TM measurement (500) */
} ms_rv_settings;

void ms_rv_settings_default(ms_rv_settings *s);

/* ---------------------------------------------------------------- templates */
/* One template after loading: flux on a uniform log10 grid (rest frame, vacuum),
 * broadened to the spectra's resolution and scaled to median 1 over the TM range. */
typedef struct {
    char name[64];      /* file name without directory and extension */
    size_t n;
    double loglam0, dloglam;
    double *flux;       /* [n] */
} ms_rv_template;

typedef struct {
    size_t n;
    ms_rv_template *t;
    char source[512];   /* the directory or list it came from */
    char hash[17];      /* content hash of the loaded templates (provenance) */
} ms_rv_library;

/* Load a template library: a directory (every *.fits, *.fit, *.fits.gz, *.txt, *.dat, *.csv
 * in it, sorted by name) or a text file listing template paths, one per line. Formats (docs/rv.md):
 *   FITS: a binary table (first table HDU) with a wavelength column LogLam / LOGLAM (log10 A)
 *         or WAVELENGTH / Wave / LAMBDA (A), and a flux column Flux / FLUX; or a 1-D image
 *         with CRVAL1, CDELT1 (or CD1_1), CRPIX1, log10 wavelengths when DC-FLAG = 1.
 *         Optional header keyword RESOLUT / R: the template's resolving power.
 *   ASCII: two whitespace- or comma-separated columns, vacuum wavelength (A) and flux;
 *         lines starting with '#' are comments; "# resolution: R" sets the resolving power.
 * Wavelengths must be vacuum, rest frame, and cover wave_min..wave_max with 1000 km/s to
 * spare. Errors name the file and what is wrong. */
ms_status ms_rv_library_load(const char *path, const ms_rv_settings *s, ms_rv_library *lib);
void ms_rv_library_free(ms_rv_library *lib);

/* ---------------------------------------------------------------- one spectrum */
typedef struct {
    const float *flux, *ivar;  /* [MS_NATIVE_NPIX] native view */
    const uint8_t *mask;
} ms_rv_native;

typedef struct {
    int ok;              /* 1: measured */
    double rv, e_rv;     /* km/s: RV_init + mean(residual), std(residual) */
    double rv_init;      /* the best template's Gaussian centre */
    double chi2;         /* the best template's minimum chi^2 (Eq. 2, flux scaled to median 1) */
    int template_index;  /* into the library */
    int n_pix;           /* pixels in Eq. 2 */
    int at_edge;         /* the chi^2 minimum lies at the end of the coarse grid */
    double rv_min;       /* km/s: minimum of the best template's fine chi^2 curve (diagnostic) */
    double e_stat;       /* km/s: statistical error from the chi^2 curvature, the residual
                            variance taken as the noise (not in L25) */
    double red_blue;     /* rms residual of the best fit above 7500 A / below (red-end anomaly) */
} ms_rv_tm_result;

typedef struct ms_rv_engine ms_rv_engine;

/* The templates shifted to every coarse velocity on the native lattice, and the scratch
 * of one spectrum. One per thread of work. */
ms_status ms_rv_engine_alloc(const ms_rv_library *lib, const ms_rv_settings *s,
                             ms_rv_engine **out);
void ms_rv_engine_free(ms_rv_engine *e);

/* TM (wave_max_override <= 0) or TML7500 (wave_max_override = s->tml_wave_max). */
ms_status ms_rv_tm(ms_rv_engine *e, const ms_rv_native *sp, double wave_max_override,
                   ms_rv_tm_result *out);

/* chi^2 (Eq. 2) of template t against the spectrum at velocity v (km/s), using the pixel set
 * of the last ms_rv_tm call on this engine (for tests and the benchmark). */
double ms_rv_chi2_at(ms_rv_engine *e, int t, double v);

/* ---------------------------------------------------------------- line shifts */
#define MS_RV_N_LINES 8
extern const double ms_rv_dsal_lines[MS_RV_N_LINES]; /* L25 Table 5, vacuum A */
extern const double ms_rv_dsel_lines[MS_RV_N_LINES]; /* L25 Table 6 */

typedef struct {
    int ok;
    double rv, e_rv;                 /* km/s */
    int n_used;                      /* lines in the final mean */
    double line_rv[MS_RV_N_LINES];   /* per line, NaN when not measured */
} ms_rv_lines_result;

/* Measure each line of `lines` (emission = 0: absorption, 1: emission) near the velocity
 * v0 (km/s; a window of +-25 A around the shifted line). */
void ms_rv_measure_lines(const ms_rv_native *sp, const double *lines, int emission, double v0,
                         double *line_rv);
/* DSAL I: the largest set of >= 3 line RVs within +-dsal1_tol of their median. */
void ms_rv_dsal1(const double *line_rv, ms_rv_lines_result *out);
/* DSAL II and DSEL: iterative 1-sigma clipping, stop when std < 20 km/s with > 1 left; when
 * fewer than 2 remain, the previous iteration. */
void ms_rv_clip(const double *line_rv, ms_rv_lines_result *out);

/* ---------------------------------------------------------------- the decision */
typedef enum {
    MS_RV_FROM_LAMOST = 0,
    MS_RV_FROM_TM,
    MS_RV_FROM_DSAL1,
    MS_RV_FROM_DSAL2,
    MS_RV_FROM_TML7500,
    MS_RV_FROM_DSEL,
    MS_RV_FROM_NORV_LOWQ,
    MS_RV_FROM_NORV_WAVEERR,
    MS_RV_N_FROM
} ms_rv_from;

/* L25's field values: "LAMOST", "TM", "DSAL I", "DSAL II", "TML7500", "DSEL",
 * "NoRV_lowQuality", "NoRV_waveErr". */
const char *ms_rv_from_name(ms_rv_from f);

/* Consistency of a method with LAMOST (L25 Fig. 10): residual method - LAMOST within
 * mean +- k sigma: TM 3.63 +- 3 x 11.95, DSAL I 5.02 +- 2 x 28.90, DSAL II 14.05 +- 2 x 45.93. */
int ms_rv_agrees_tm(double rv_tm, double rv_lamost);
int ms_rv_agrees_dsal(double rv_dsal, double rv_lamost, int dsal1);

/* Everything measured for one spectrum, and the decision. */
typedef struct {
    double rv_lamost, e_rv_lamost;  /* Z*c, Z_ERR*c (NaN when Z is missing) */
    ms_rv_tm_result tm, tml;        /* tml.ok = 0 when TML7500 was not needed */
    ms_rv_lines_result dsal1, dsal2, dsel;
    int red_anomaly;                /* chi^2 per pixel above 7500 A >> below */
} ms_rv_measurements;

typedef struct {
    ms_rv_from from;
    double rv, e_rv;                /* NaN for the NoRV classes */
} ms_rv_choice;

/* The automated form of L25's decision (docs/rv.md): LAMOST when TM agrees (3 sigma) or,
 * failing that, DSAL (I else II, 2 sigma) agrees, and |RV| <= 150 km/s or a method
 * confirms it; otherwise the first of TM, DSAL I, DSAL II, TML7500, DSEL that a second
 * method confirms (or DSAL I alone); NoRV_waveErr when the absorption lines disagree with
 * each other by hundreds of km/s while TM finds a minimum; NoRV_lowQuality otherwise. */
ms_rv_choice ms_rv_decide(const ms_rv_measurements *m);

/* rv_flag (L25 1.5): 1 when rv is not null and the spectrum was observed after 2012 January
 * 14 (LMJD > 55940), when the red-channel arc-lamp problem ended. */
int ms_rv_flag(double rv, int64_t lmjd);

/* ---------------------------------------------------------------- one spectrum, end to end */
/* TM, the line methods, TML7500 (when the LAMOST RV is not confirmed) and the red-end test:
 * everything the decision needs. rv_lamost NaN when Z is missing. */
ms_status ms_rv_measure_all(ms_rv_engine *e, const ms_rv_native *sp, double rv_lamost,
                            double e_rv_lamost, ms_rv_measurements *m);

/* ---------------------------------------------------------------- the catalog row */
/* The column group "rv" (schema.h) is defined over this row (src/rv/rv_columns.c). */
typedef struct {
    int64_t id, lmjd;
    char obsid[32];
    char key[MS_KEY_LEN]; /* the store's /meta/key (join.h) */
    char rv_template[64];
    char rv_from[16];
    double snr_r;
    double rv_pipeline, e_rv_pipeline;
    double rv_tm, e_rv_tm, e_rv_tm_stat, rv_tm_min, rv_tm_init, chi2_tm, red_blue;
    double rv_tml7500, e_rv_tml7500;
    double rv_dsal, e_rv_dsal, rv_dsal1, e_rv_dsal1, rv_dsal2, e_rv_dsal2, rv_dsel, e_rv_dsel;
    double rv, e_rv;
    int32_t n_pix_tm, n_dsal1, n_dsal2, n_dsel, rv_flag, rv_from_code, store_status;
    uint32_t rv_bits;  /* bit 0 TM failed, 1 TM minimum at the grid edge, 2 red-end anomaly */
} ms_rv_row;

#define MS_RV_BIT_TM_FAILED 1u
#define MS_RV_BIT_TM_EDGE 2u
#define MS_RV_BIT_RED_ANOMALY 4u

/* Fill the measured and chosen columns of a row (id, obsid, lmjd, snr_r, store_status are
 * the caller's). */
void ms_rv_fill_row(const ms_rv_measurements *m, const ms_rv_choice *c, const ms_rv_library *lib,
                    ms_rv_row *r);
/* A row that was not measured (no usable native pixels). */
void ms_rv_fill_unmeasured(ms_rv_row *r);

#endif
