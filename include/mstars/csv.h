/* csv.h: a small reader for comma-separated tables with a header line (the input
 * catalog, truth tables). Quoted fields ("a,b") are supported; every cell is kept as
 * text; columns whose non-empty cells all parse as numbers are marked numeric. */
#ifndef MSTARS_CSV_H
#define MSTARS_CSV_H

#include "mstars/status.h"
#include "mstars/strlist.h"

#include <stddef.h>

typedef struct {
    size_t n_cols, n_rows;
    ms_strlist names;  /* [n_cols] header names, trimmed */
    ms_strlist cells;  /* [n_rows * n_cols] row-major */
    int *numeric;      /* [n_cols] 1 when every non-empty cell is a number */
    int *integer;      /* [n_cols] 1 when every non-empty cell is a 64-bit integer (ids) */
} ms_csv;

/* Read a whole CSV file. Errors name the file and line (e.g. a row with the wrong number
 * of fields). */
ms_status ms_csv_read(const char *path, ms_csv *t);
void ms_csv_free(ms_csv *t);
/* Column index by name (case-insensitive), -1 when absent. */
long ms_csv_column(const ms_csv *t, const char *name);
const char *ms_csv_cell(const ms_csv *t, size_t row, size_t col);
/* Cell as a number (NaN when empty or not a number). */
double ms_csv_number(const ms_csv *t, size_t row, size_t col);
/* Cell as an integer (`missing` when empty or not an integer). */
long long ms_csv_integer(const ms_csv *t, size_t row, size_t col, long long missing);

#endif
