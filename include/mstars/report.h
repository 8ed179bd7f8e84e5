/* report.h: `mstars report`: figures, a summary page and summary.json for a catalog.
 *
 * Reads a complete catalog (refuses others), optionally a truth table (the mock
 * universe's truth.csv) and/or a reference table (CSV or FITS with an `obsid` column and
 * any of teff, logg, m_h, alpha_m, rv), and the emulator file recorded in the catalog (or
 * given). Writes into out_dir: PNG figures (PLplot, pngcairo), summary.md and summary.json
 * (every number of the page; README "mstars report" lists the keys). What cannot be shown
 * (a missing optional column, attribute or file) is left out with a line on the page saying
 * why, and null in summary.json; that is not an error. */
#ifndef MSTARS_REPORT_H
#define MSTARS_REPORT_H

#include "mstars/status.h"

#include <stddef.h>

typedef struct {
    const char *catalog;   /* catalog.h5 (required) */
    const char *out_dir;   /* created when missing */
    const char *truth;     /* truth table, or NULL */
    const char *reference; /* reference table, or NULL */
    const char *emulator;  /* emulator file for Fig. 3; NULL: the catalog's `emulator` */
    int calibrated;        /* the labels <p>_cal of calibrate-errors --zero-point instead of
                              <p> (every parameter that has one; MS_ENOTFOUND when none has) */
    const char *baseline;  /* a catalog of the same store without Cycle-StarNet (fit without
                              --csn), compared in the overview; NULL: none */
    double radius;         /* arcsec: truth/reference joined by position where obsid and key
                              do not match (join.radius_arcsec; <= 0: the default) */
} ms_report_opts;

typedef struct {
    size_t input, fitted, flagged; /* rows; finite teff; any non-informational flag */
    size_t figures, notes;         /* PNG files written; things left out */
} ms_report_summary;

ms_status ms_report_write(const ms_report_opts *o, ms_report_summary *s);

#endif
