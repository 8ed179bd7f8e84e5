/* table.h: a table of numeric columns keyed by an id column, read from CSV or FITS (the
 * truth table of a mock universe, or a reference catalog, for `mstars report`).
 *
 * The file kind is decided by its content: a FITS file (plain or gzip-compressed, the first
 * binary or ASCII table extension is read) or else CSV with a header line. The key column
 * is kept as text: FITS integer keys are printed in decimal, strings are trimmed, so an
 * integer OBSID in a FITS file matches the text OBSID of a catalog. Column names are
 * matched case-insensitively. Requested columns that the file lacks are not an error:
 * `present` says which exist (their values are NaN). */
#ifndef MSTARS_TABLE_H
#define MSTARS_TABLE_H

#include "mstars/status.h"
#include "mstars/strlist.h"

#include <stddef.h>

typedef struct {
    size_t n_rows, n_cols;
    ms_strlist keys;  /* [n_rows] the key column as text */
    int *present;     /* [n_cols] 1 when the file has the requested column */
    double *values;   /* [n_cols * n_rows] column-major; NaN when absent, empty or not a
                         number */
    char format[8];   /* "csv" or "fits" */
    size_t *order;    /* [n_rows] rows sorted by key (ms_table_match builds it) */
} ms_table;

/* Read `path`: the column `key` (MS_ENOTFOUND naming the file when absent; NULL: no key
 * column, t->keys stays empty) and the n_cols numeric columns `columns`. */
ms_status ms_table_read(const char *path, const char *key, const char *const *columns,
                        size_t n_cols, ms_table *t);
void ms_table_free(ms_table *t);

/* Values of requested column c [n_rows]. */
const double *ms_table_column(const ms_table *t, size_t c);

/* For each of the n keys, the table row with that key (the first one when the table holds
 * it twice), or -1. row [n]. *duplicates (may be NULL) receives the number of table rows
 * whose key an earlier row already has. */
ms_status ms_table_match(ms_table *t, const char *const *keys, size_t n, long *row,
                         size_t *duplicates);

/* The n_names columns `names` of the table at path as text (strings trimmed, FITS integers
 * in decimal): out[c] (n_rows strings, ms_strlist_free each) where present[c]. */
ms_status ms_table_read_text(const char *path, const char *const *names, size_t n_names,
                             ms_strlist *out, int *present, size_t *n_rows);

#endif
