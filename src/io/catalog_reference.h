/* catalog_reference.h: the reference table of `mstars calibrate-errors --reference` (CSV or
 * FITS, table.h) joined to the rows of a catalog by obsid, key or position (join_io.h).
 * Private to src/io. */
#ifndef MSTARS_CATALOG_REFERENCE_H
#define MSTARS_CATALOG_REFERENCE_H

#include "mstars/h5.h"
#include "mstars/status.h"

#include <stddef.h>

#define MS_CALIB_REF_MAX 8

typedef struct {
    size_t n;      /* catalog rows */
    size_t n_par;  /* parameters asked for */
    /* per parameter k, [n] per catalog row: the reference value (NaN: no matching row, or
     * empty) and its error (0 where the table has no e_<p> column, NaN where the column
     * exists but the row's error is empty, not a number or negative); NULL where the table
     * has no column <p> */
    double *value[MS_CALIB_REF_MAX], *error[MS_CALIB_REF_MAX];
    int have_error[MS_CALIB_REF_MAX]; /* the table has e_<p> */
    size_t table_rows, matched, duplicates; /* matched: catalog rows with a table row */
    char format[8];                         /* "csv" or "fits" */
} ms_calib_ref;

/* Read the identification columns of f (n rows: obsid, key, ra, dec; MS_ENOTFOUND when
 * none: nothing to join on) and the table at path with the columns params[k] and
 * e_<params[k]> (k < n_par <= MS_CALIB_REF_MAX), and join them (radius_arcsec for
 * positions). Free out with ms_calib_ref_free (also after a failure). */
ms_status ms_calib_ref_read(ms_h5 *f, size_t n, const char *path, const char *const *params,
                            size_t n_par, double radius_arcsec, ms_calib_ref *out);
void ms_calib_ref_free(ms_calib_ref *r);

#endif
