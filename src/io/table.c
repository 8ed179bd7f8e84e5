/* table.c: keyed numeric tables from CSV or FITS (see table.h). */
#include "mstars/table.h"
#include "fits_read_util.h"
#include "mstars/csv.h"
#include "mstars/mem.h"

#include <ctype.h>
#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ms_table_free(ms_table *t)
{
    ms_strlist_free(&t->keys);
    ms_free(t->present);
    ms_free(t->values);
    ms_free(t->order);
    memset(t, 0, sizeof *t);
}

const double *ms_table_column(const ms_table *t, size_t c)
{
    return t->values + c * t->n_rows;
}

/* Trimmed copy of s into buf. */
static void trim_copy(const char *s, char *buf, size_t len)
{
    while (*s && isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) n--;
    if (n >= len) n = len - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
}

static ms_status alloc_values(ms_table *t, size_t n_cols)
{
    t->n_cols = n_cols;
    t->present = ms_calloc("table.present", n_cols ? n_cols : 1, sizeof *t->present);
    t->values = ms_malloc_array("table.values", n_cols * t->n_rows + 1, sizeof *t->values);
    if (!t->present || !t->values) return MS_ENOMEM;
    for (size_t i = 0; i < n_cols * t->n_rows; i++) t->values[i] = NAN;
    return MS_OK;
}

/* ------------------------------------------------------------------------- CSV */

static ms_status read_csv(const char *path, const char *key, const char *const *columns,
                          size_t n_cols, ms_table *t)
{
    ms_csv csv;
    MS_TRY(ms_csv_read(path, &csv));
    ms_status st = MS_OK;
    long kc = key ? ms_csv_column(&csv, key) : -1;
    if (key && kc < 0)
        st = ms_error_set(MS_ENOTFOUND, __FILE__, __LINE__, "%s: no column '%s'", path, key);
    t->n_rows = csv.n_rows;
    if (st == MS_OK) st = alloc_values(t, n_cols);
    for (size_t r = 0; st == MS_OK && key && r < csv.n_rows; r++) {
        char buf[256];
        trim_copy(ms_csv_cell(&csv, r, (size_t)kc), buf, sizeof buf);
        st = ms_strlist_push(&t->keys, buf);
    }
    for (size_t c = 0; st == MS_OK && c < n_cols; c++) {
        long col = ms_csv_column(&csv, columns[c]);
        if (col < 0) continue;
        t->present[c] = 1;
        for (size_t r = 0; r < csv.n_rows; r++)
            t->values[c * t->n_rows + r] = ms_csv_number(&csv, r, (size_t)col);
    }
    ms_csv_free(&csv);
    return st;
}

/* ------------------------------------------------------------------------ FITS */

/* Move to the first table extension. */
static ms_status first_table(fitsfile *fp, const char *path)
{
    int n_hdu = 0, fs = 0;
    if (fits_get_num_hdus(fp, &n_hdu, &fs)) return ms_fits_fail(path, "counting HDUs", fs);
    for (int h = 2; h <= n_hdu; h++) {
        int type = 0;
        if (fits_movabs_hdu(fp, h, &type, &fs)) return ms_fits_fail(path, "moving to an HDU", fs);
        if (type == BINARY_TBL || type == ASCII_TBL) return MS_OK;
    }
    MS_ERROR(MS_EFITS, "%s: no table extension", path);
}

/* Column number of `name` (case-insensitive, exact: no wildcards), 0 when absent. */
static int find_column(fitsfile *fp, const char *name)
{
    int n = 0, fs = 0;
    if (fits_get_num_cols(fp, &n, &fs)) return 0;
    for (int c = 1; c <= n; c++) {
        char key[FLEN_KEYWORD], value[FLEN_VALUE], comment[FLEN_COMMENT];
        snprintf(key, sizeof key, "TTYPE%d", c);
        fs = 0;
        if (fits_read_key(fp, TSTRING, key, value, comment, &fs)) {
            fits_clear_errmsg();
            continue;
        }
        char trimmed[FLEN_VALUE];
        trim_copy(value, trimmed, sizeof trimmed);
        if (strcasecmp(trimmed, name) == 0) return c;
    }
    return 0;
}

/* Column col (named key) of n rows as text into out: strings trimmed, integers in decimal. */
static ms_status read_fits_text(fitsfile *fp, const char *path, const char *key, int col,
                                size_t n, ms_strlist *out)
{
    int type = 0, fs = 0;
    long repeat = 0, width = 0;
    if (fits_get_eqcoltype(fp, col, &type, &repeat, &width, &fs))
        return ms_fits_fail(path, "key column type", fs);
    ms_status st = MS_OK;
    if (type == TSTRING) {
        size_t w = (size_t)(width > 0 ? width : 1) + 1;
        char *blob = ms_malloc_array("table.fits.str", n ? n : 1, w);
        char **ptr = ms_malloc_array("table.fits.ptr", n ? n : 1, sizeof *ptr);
        if (!blob || !ptr) st = MS_ENOMEM;
        for (size_t r = 0; st == MS_OK && r < n; r++) ptr[r] = blob + r * w;
        int anynul = 0;
        if (st == MS_OK && n &&
            fits_read_col(fp, TSTRING, col, 1, 1, (LONGLONG)n, "", ptr, &anynul, &fs))
            st = ms_fits_fail(path, key, fs);
        for (size_t r = 0; st == MS_OK && r < n; r++) {
            char buf[256];
            trim_copy(ptr[r], buf, sizeof buf);
            st = ms_strlist_push(out, buf);
        }
        ms_free(blob);
        ms_free(ptr);
        return st;
    }
    if (repeat != 1) MS_ERROR(MS_EFORMAT, "%s: key column '%s' is a vector", path, key);
    int integer = type == TBYTE || type == TSBYTE || type == TSHORT || type == TUSHORT ||
                  type == TINT || type == TUINT || type == TLONG || type == TULONG ||
                  type == TLONGLONG || type == TLOGICAL;
    double *v = ms_malloc_array("table.fits.key", n ? n : 1, sizeof *v);
    if (!v) return MS_ENOMEM;
    int anynul = 0;
    double nul = NAN;
    if (n && fits_read_col(fp, TDOUBLE, col, 1, 1, (LONGLONG)n, &nul, v, &anynul, &fs))
        st = ms_fits_fail(path, key, fs);
    long long *k = NULL;
    if (st == MS_OK && integer) { /* doubles cannot hold every 64-bit id: read exactly */
        k = ms_malloc_array("table.fits.ikey", n ? n : 1, sizeof *k);
        long long knul = 0;
        if (!k) st = MS_ENOMEM;
        else if (n && fits_read_col(fp, TLONGLONG, col, 1, 1, (LONGLONG)n, &knul, k, &anynul, &fs))
            st = ms_fits_fail(path, key, fs);
    }
    for (size_t r = 0; st == MS_OK && r < n; r++) {
        char buf[64] = "";
        if (k && isfinite(v[r]))
            snprintf(buf, sizeof buf, "%lld", k[r]);
        else if (isfinite(v[r]) && v[r] == floor(v[r]) && fabs(v[r]) < 9e15)
            snprintf(buf, sizeof buf, "%.0f", v[r]);
        else if (isfinite(v[r]))
            snprintf(buf, sizeof buf, "%.17g", v[r]);
        st = ms_strlist_push(out, buf);
    }
    ms_free(k);
    ms_free(v);
    return st;
}

static ms_status read_fits_body(fitsfile *fp, const char *path, const char *key,
                                const char *const *columns, size_t n_cols, ms_table *t)
{
    MS_TRY(first_table(fp, path));
    long rows = 0;
    int fs = 0;
    if (fits_get_num_rows(fp, &rows, &fs)) return ms_fits_fail(path, "row count", fs);
    t->n_rows = (size_t)rows;
    int kc = key ? find_column(fp, key) : 0;
    if (key && !kc) MS_ERROR(MS_ENOTFOUND, "%s: no column '%s'", path, key);
    MS_TRY(alloc_values(t, n_cols));
    if (key) MS_TRY(read_fits_text(fp, path, key, kc, t->n_rows, &t->keys));
    for (size_t c = 0; c < n_cols; c++) {
        int col = find_column(fp, columns[c]);
        if (!col) continue;
        int type = 0;
        long repeat = 0, width = 0;
        if (fits_get_eqcoltype(fp, col, &type, &repeat, &width, &fs))
            return ms_fits_fail(path, columns[c], fs);
        if (type == TSTRING || repeat != 1)
            MS_ERROR(MS_EFORMAT, "%s: column '%s' is not a numeric scalar column", path,
                     columns[c]);
        double nul = NAN;
        int anynul = 0;
        if (rows && fits_read_col(fp, TDOUBLE, col, 1, 1, (LONGLONG)rows, &nul,
                                  t->values + c * t->n_rows, &anynul, &fs))
            return ms_fits_fail(path, columns[c], fs);
        t->present[c] = 1;
    }
    return MS_OK;
}

static ms_status read_fits(const char *path, const char *key, const char *const *columns,
                           size_t n_cols, ms_table *t)
{
    fitsfile *fp = NULL;
    MS_TRY(ms_fits_open_read(path, &fp));
    ms_status st = read_fits_body(fp, path, key, columns, n_cols, t);
    ms_fits_close(fp);
    return st;
}

/* FITS (or gzip, taken as a compressed FITS file) by the first bytes. */
static ms_status sniff_fits(const char *path, int *is_fits)
{
    FILE *f = fopen(path, "rb");
    if (!f) MS_ERROR(MS_EIO, "cannot open %s: %s", path, strerror(errno));
    unsigned char head[9] = {0};
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    *is_fits = (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) ||
               (n == 9 && memcmp(head, "SIMPLE  =", 9) == 0);
    return MS_OK;
}

ms_status ms_table_read(const char *path, const char *key, const char *const *columns,
                        size_t n_cols, ms_table *t)
{
    memset(t, 0, sizeof *t);
    int is_fits = 0;
    MS_TRY(sniff_fits(path, &is_fits));
    snprintf(t->format, sizeof t->format, "%s", is_fits ? "fits" : "csv");
    ms_status st = is_fits ? read_fits(path, key, columns, n_cols, t)
                           : read_csv(path, key, columns, n_cols, t);
    if (st == MS_OK && key && t->keys.n != t->n_rows)
        st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "%s: %zu keys for %zu rows", path,
                          t->keys.n, t->n_rows);
    if (st != MS_OK) {
        char fmt[8];
        memcpy(fmt, t->format, sizeof fmt);
        ms_table_free(t);
        memcpy(t->format, fmt, sizeof fmt);
    }
    return st;
}

/* ---------------------------------------------------------------- text columns */

static ms_status text_csv(const char *path, const char *const *names, size_t n_names,
                          ms_strlist *out, int *present, size_t *n_rows)
{
    ms_csv csv;
    MS_TRY(ms_csv_read(path, &csv));
    ms_status st = MS_OK;
    *n_rows = csv.n_rows;
    for (size_t c = 0; st == MS_OK && c < n_names; c++) {
        long col = ms_csv_column(&csv, names[c]);
        present[c] = col >= 0;
        if (col < 0) continue;
        for (size_t r = 0; st == MS_OK && r < csv.n_rows; r++) {
            char buf[256];
            trim_copy(ms_csv_cell(&csv, r, (size_t)col), buf, sizeof buf);
            st = ms_strlist_push(&out[c], buf);
        }
    }
    ms_csv_free(&csv);
    return st;
}

static ms_status text_fits(const char *path, const char *const *names, size_t n_names,
                           ms_strlist *out, int *present, size_t *n_rows)
{
    fitsfile *fp = NULL;
    MS_TRY(ms_fits_open_read(path, &fp));
    ms_status st = first_table(fp, path);
    long rows = 0;
    int fs = 0;
    if (st == MS_OK && fits_get_num_rows(fp, &rows, &fs)) st = ms_fits_fail(path, "row count", fs);
    *n_rows = (size_t)rows;
    for (size_t c = 0; st == MS_OK && c < n_names; c++) {
        int col = find_column(fp, names[c]);
        present[c] = col > 0;
        if (col > 0) st = read_fits_text(fp, path, names[c], col, (size_t)rows, &out[c]);
    }
    ms_fits_close(fp);
    return st;
}

ms_status ms_table_read_text(const char *path, const char *const *names, size_t n_names,
                             ms_strlist *out, int *present, size_t *n_rows)
{
    for (size_t c = 0; c < n_names; c++) {
        memset(&out[c], 0, sizeof out[c]);
        present[c] = 0;
    }
    *n_rows = 0;
    int is_fits = 0;
    MS_TRY(sniff_fits(path, &is_fits));
    ms_status st = is_fits ? text_fits(path, names, n_names, out, present, n_rows)
                           : text_csv(path, names, n_names, out, present, n_rows);
    if (st != MS_OK)
        for (size_t c = 0; c < n_names; c++) ms_strlist_free(&out[c]);
    return st;
}

/* ------------------------------------------------------------------- matching */

typedef struct {
    const char *key;
    size_t row;
} keyed_row;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed_row *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c) return c;
    return (x->row > y->row) - (x->row < y->row);
}

ms_status ms_table_match(ms_table *t, const char *const *keys, size_t n, long *row,
                         size_t *duplicates)
{
    size_t m = t->n_rows;
    if (!t->order) {
        keyed_row *kr = ms_malloc_array("table.sort", m ? m : 1, sizeof *kr);
        t->order = ms_malloc_array("table.order", m ? m : 1, sizeof *t->order);
        if (!kr || !t->order) {
            ms_free(kr);
            ms_free(t->order);
            t->order = NULL;
            return MS_ENOMEM;
        }
        for (size_t r = 0; r < m; r++) kr[r] = (keyed_row){t->keys.items[r], r};
        qsort(kr, m, sizeof *kr, cmp_keyed);
        for (size_t r = 0; r < m; r++) t->order[r] = kr[r].row;
        ms_free(kr);
    }
    if (duplicates) {
        *duplicates = 0;
        for (size_t r = 1; r < m; r++)
            if (strcmp(t->keys.items[t->order[r]], t->keys.items[t->order[r - 1]]) == 0)
                (*duplicates)++;
    }
    for (size_t i = 0; i < n; i++) {
        row[i] = -1;
        char buf[256];
        trim_copy(keys[i] ? keys[i] : "", buf, sizeof buf);
        if (!buf[0]) continue;
        size_t lo = 0, hi = m; /* first sorted position with key >= buf */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (strcmp(t->keys.items[t->order[mid]], buf) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < m && strcmp(t->keys.items[t->order[lo]], buf) == 0) row[i] = (long)t->order[lo];
    }
    return MS_OK;
}
