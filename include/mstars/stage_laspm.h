/* stage_laspm.h: the drivers of `mstars laspm` and `mstars build-library`
 * (src/stage/laspm.c, src/stage/build_library.c). The numerics are in laspm.h. */
#ifndef MSTARS_STAGE_LASPM_H
#define MSTARS_STAGE_LASPM_H

#include "mstars/config.h"
#include "mstars/h5.h"
#include "mstars/laspm.h"
#include "mstars/status.h"

#include <stddef.h>
#include <stdio.h>

/* ------------------------------------------------------------- mstars laspm */
typedef struct {
    const char *spectra, *library, *out, *command;
    int resume;
    int leave_out_self;  /* exclude library entries whose id is the spectrum's star id
                          * (the library must come from the same store) */
    size_t limit;        /* 0: all rows */
    ms_laspm_opts match;
} ms_laspm_run_opts;

typedef struct {
    long rows, matched, failed, skipped, chunks_total, chunks_before;
    int complete;
    double seconds;
} ms_laspm_summary;

/* Collective: the survey job of LASPM, on the work queue, resumable (catalog.h). */
ms_status ms_stage_laspm(const ms_config *cfg, const ms_laspm_run_opts *o, ms_laspm_summary *sum);

/* The star id of every row of a store: /input/source_id where present and >= 0, else its
 * position group within radius_arcsec (join.h: repeats of a star without a source_id share
 * it), else the row. ids[n_rows] (ms_free). Shared by both commands so leave-one-out
 * agrees. */
ms_status ms_stage_star_ids(ms_h5 *store, size_t n_rows, double radius_arcsec, int64_t **ids);

/* ------------------------------------------------------------- mstars build-library */
typedef struct {
    const char *spectra;        /* the store (mstars ingest) */
    const char **catalogues;    /* label tables (CSV: obsid, teff, logg, m_h or fe_h), in
                                 * priority order (first wins) */
    const char **names;         /* their names (source column) */
    size_t n_catalogues;
    const char *reference;      /* CSV of the reference catalogue (offsets and cuts), or NULL */
    const char *out, *command;
    const char *view;           /* "calibrated" or "normalised" */
    double cut[MS_LASPM_N_LABELS];        /* agreement cuts against the reference (100 K, 0.2, 0.2) */
    double bin[MS_LASPM_N_LABELS];        /* 50 K, 0.1, 0.1 */
    size_t bin_keep;            /* 150 highest S/N per bin */
    size_t per_bin;             /* 7 */
    double eps;                 /* 1.0 */
    int no_dbscan;              /* keep every spectrum (a library of all labelled spectra) */
    ms_laspm_nn_opts nn;        /* Du 3.5's NN check; rounds 0: skipped */
    ms_laspm_opts match;        /* for the leave-one-out cross-validation */
} ms_build_library_opts;

ms_status ms_stage_build_library(const ms_config *cfg, const ms_build_library_opts *o);

/* ------------------------------------------------------------- mstars precision */
typedef struct {
    const char *catalog;
    const char **columns;       /* label columns of /catalog */
    size_t n_columns;
    const char *group_by;       /* integer column shared by a star's repeats (source_id) */
    const char *snr;            /* S/N column (snr_i) */
    double bin_width;           /* 5 (Du 3.7) */
    size_t min_per_bin;
    double snr_min;             /* the overall 1-sigma over S/N >= snr_min (10) */
    double radius;              /* arcsec: rows without a group id grouped by position
                                   (join.radius_arcsec; <= 0: the default) */
} ms_precision_opts;

/* Du 3.7's repeat precision of each column as a table on out (serial). */
ms_status ms_stage_precision(const ms_precision_opts *o, FILE *out);

#endif
