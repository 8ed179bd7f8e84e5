/* template_read.c: the Kesseli et al. (2017) empirical templates (BOSS co-adds): HDU 2 a
 * binary table with LogLam (log10 of the vacuum wavelength in A) and Flux (relative
 * F_lambda) columns (../shared/data/templates-kesseli2017/README.md). */
#include "fits_read_util.h"
#include "mstars/mem.h"
#include "mstars/sim.h"

#include <math.h>

static ms_status column(fitsfile *fp, const char *path, const char *name, int *col)
{
    int st = 0;
    if (fits_get_colnum(fp, CASEINSEN, (char *)name, col, &st)) {
        fits_clear_errmsg();
        MS_ERROR(MS_EFITS, "%s: HDU 2 has no column %s", path, name);
    }
    return MS_OK;
}

ms_status ms_template_read(const char *path, double **wave, double **flux, size_t *n)
{
    *wave = *flux = NULL;
    *n = 0;
    fitsfile *fp = NULL;
    MS_TRY(ms_fits_open_read(path, &fp));
    int st = 0, type = 0, cw = 0, cf = 0;
    LONGLONG nrows = 0;
    ms_status rc = MS_OK;
    if (fits_movabs_hdu(fp, 2, &type, &st) || type != BINARY_TBL) {
        fits_clear_errmsg();
        rc = ms_error_set(MS_EFITS, __FILE__, __LINE__, "%s: HDU 2 is not a binary table", path);
    }
    if (rc == MS_OK) rc = column(fp, path, "LogLam", &cw);
    if (rc == MS_OK) rc = column(fp, path, "Flux", &cf);
    if (rc == MS_OK && fits_get_num_rowsll(fp, &nrows, &st))
        rc = ms_fits_fail(path, "HDU 2 row count", st);
    if (rc == MS_OK && nrows < 2)
        rc = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "%s: HDU 2 has %lld rows", path,
                          (long long)nrows);
    double *w = NULL, *f = NULL;
    if (rc == MS_OK) {
        w = ms_malloc_array("template wave", (size_t)nrows, sizeof *w);
        f = ms_malloc_array("template flux", (size_t)nrows, sizeof *f);
        if (!w || !f) rc = MS_ENOMEM;
    }
    int anynul = 0;
    if (rc == MS_OK && (fits_read_col(fp, TDOUBLE, cw, 1, 1, nrows, NULL, w, &anynul, &st) ||
                        fits_read_col(fp, TDOUBLE, cf, 1, 1, nrows, NULL, f, &anynul, &st)))
        rc = ms_fits_fail(path, "HDU 2: reading LogLam and Flux", st);
    double prev = -INFINITY;
    for (LONGLONG i = 0; rc == MS_OK && i < nrows; i++) {
        if (!isfinite(w[i]) || !(w[i] > prev))
            rc = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "%s: LogLam row %lld is not "
                              "finite and increasing", path, (long long)i + 1);
        prev = w[i];
        w[i] = pow(10.0, w[i]);
        if (rc == MS_OK && !isfinite(f[i])) f[i] = 0.0;
    }
    ms_fits_close(fp);
    if (rc != MS_OK) {
        ms_free(w);
        ms_free(f);
        return rc;
    }
    *wave = w;
    *flux = f;
    *n = (size_t)nrows;
    return MS_OK;
}
