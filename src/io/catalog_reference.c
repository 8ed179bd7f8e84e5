/* catalog_reference.c: the reference table of calibrate-errors joined by obsid, key or
 * position (join_io.h; see catalog_reference.h). */
#include "catalog_reference.h"
#include "mstars/join_io.h"
#include "mstars/log.h"
#include "mstars/schema.h"
#include "mstars/mem.h"
#include "mstars/table.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void ms_calib_ref_free(ms_calib_ref *r)
{
    for (size_t k = 0; k < MS_CALIB_REF_MAX; k++) {
        ms_free(r->value[k]);
        ms_free(r->error[k]);
    }
    memset(r, 0, sizeof *r);
}

ms_status ms_calib_ref_read(ms_h5 *f, size_t n, const char *path, const char *const *params,
                            size_t n_par, double radius_arcsec, ms_calib_ref *out)
{
    memset(out, 0, sizeof *out);
    if (n_par > MS_CALIB_REF_MAX)
        MS_ERROR(MS_EINVAL, "reference: %zu parameters (at most %d)", n_par, MS_CALIB_REF_MAX);
    out->n = n;
    out->n_par = n_par;
    char names[2 * MS_CALIB_REF_MAX][24];
    const char *cols[2 * MS_CALIB_REF_MAX];
    for (size_t k = 0; k < n_par; k++) {
        snprintf(names[k], sizeof names[k], "%s", params[k]);
        snprintf(names[n_par + k], sizeof names[n_par + k], "e_%s", params[k]);
        cols[k] = names[k];
        cols[n_par + k] = names[n_par + k];
    }
    ms_join_ids ids;
    MS_TRY(ms_catalog_join_ids(f, n, &ids));
    ms_table t;
    memset(&t, 0, sizeof t);
    long *row = ms_malloc_array("calib.ref.row", n + 1, sizeof *row);
    ms_status st = row ? MS_OK : MS_ENOMEM;
    ms_join_stats js;
    if (st == MS_OK) st = ms_table_join("calibrate-errors", path, &ids, radius_arcsec, row, &js);
    if (st == MS_OK) st = ms_table_read(path, NULL, cols, 2 * n_par, &t);
    if (st == MS_OK) {
        out->table_rows = t.n_rows;
        out->duplicates = js.duplicates;
        out->matched = js.matched;
        snprintf(out->format, sizeof out->format, "%s", t.format);
    }
    for (size_t k = 0; st == MS_OK && k < n_par; k++) {
        if (!t.present[k]) continue;
        out->value[k] = ms_malloc_array("calib.ref.value", n + 1, sizeof(double));
        out->error[k] = ms_malloc_array("calib.ref.error", n + 1, sizeof(double));
        if (!out->value[k] || !out->error[k]) {
            st = MS_ENOMEM;
            break;
        }
        out->have_error[k] = t.present[n_par + k];
        const double *v = ms_table_column(&t, k), *e = ms_table_column(&t, n_par + k);
        for (size_t i = 0; i < n; i++) {
            const int ok = row[i] >= 0;
            out->value[k][i] = ok ? v[row[i]] : NAN;
            double err = 0.0;
            if (out->have_error[k]) {
                err = ok ? e[row[i]] : NAN;
                if (!(err >= 0) || !isfinite(err)) err = NAN;
            }
            out->error[k][i] = err;
        }
    }
    ms_free(row);
    ms_join_ids_free(&ids);
    ms_table_free(&t);
    return st;
}
