/* trainset.c: a SLAM training set from a spectra store joined to a reference label table
 * (slam.h). Serial reads; every rank of a driver builds the same set.
 *
 * Join (key "auto", the default, or "obsid"): by obsid, key or position (join.h, the one
 * join of every command); key "file": by file name (the table's "file" column against the
 * base name of /meta/filename). Rows kept: store status 0, every label finite, S/N at
 * least min_snr, and inside every cut "column:min:max" (either bound may be empty) of the
 * table (L21 2.2: teff:2800:4500,e_teff::100,m_h:-2:0.5,e_m_h::0.1,logg:4:). */
#include "mstars/csv.h"
#include "mstars/h5.h"
#include "mstars/join_io.h"
#include "mstars/mem.h"
#include "mstars/schema.h"
#include "mstars/slam.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void ms_slam_trainset_free(ms_slam_trainset *s)
{
    void *p[] = {s->labels, s->flux, s->ivar, s->mask, s->wavelength, s->store_row, s->snr};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) ms_free(p[i]);
    ms_free(s->obsid);
    memset(s, 0, sizeof *s);
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

typedef struct {
    long col;
    double lo, hi;
} cut;

static ms_status parse_cuts(const ms_csv *t, const char *path, const char *text, cut *cuts,
                            size_t cap, size_t *n)
{
    *n = 0;
    if (!text || !*text) return MS_OK;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *c1 = strchr(tok, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c1 || !c2)
            MS_ERROR(MS_EINVAL, "slam cuts: '%s' is not column:min:max", tok);
        *c1 = *c2 = '\0';
        if (*n >= cap) MS_ERROR(MS_EINVAL, "slam cuts: more than %zu cuts", cap);
        cut *c = &cuts[(*n)++];
        c->col = ms_csv_column(t, tok);
        if (c->col < 0) MS_ERROR(MS_ENOTFOUND, "slam cuts: %s has no column '%s'", path, tok);
        char *end;
        c->lo = *(c1 + 1) ? strtod(c1 + 1, &end) : -INFINITY;
        if (*(c1 + 1) && *end) MS_ERROR(MS_EINVAL, "slam cuts: bad minimum '%s'", c1 + 1);
        c->hi = *(c2 + 1) ? strtod(c2 + 1, &end) : INFINITY;
        if (*(c2 + 1) && *end) MS_ERROR(MS_EINVAL, "slam cuts: bad maximum '%s'", c2 + 1);
    }
    return MS_OK;
}

static ms_status load(const ms_slam_ts_opts *o, ms_h5 *f, ms_csv *tab, ms_slam_trainset *s)
{
    /* the label table and its columns */
    MS_TRY(ms_csv_read(o->labels, tab));
    long lcol[MS_SLAM_MAX_LABELS];
    char buf[256];
    snprintf(buf, sizeof buf, "%s", o->label_cols ? o->label_cols : "teff,logg,fe_h");
    size_t D = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (D >= MS_SLAM_MAX_LABELS) MS_ERROR(MS_EINVAL, "slam: at most %d labels", MS_SLAM_MAX_LABELS);
        lcol[D] = ms_csv_column(tab, tok);
        if (lcol[D] < 0) MS_ERROR(MS_ENOTFOUND, "slam: the label table %s has no column '%s'", o->labels, tok);
        snprintf(s->label_names[D], MS_SLAM_LABEL_LEN, "%s", tok);
        D++;
    }
    if (D < 1) MS_ERROR(MS_EINVAL, "slam: no label columns given");
    s->n_labels = D;
    cut cuts[16];
    size_t n_cuts;
    MS_TRY(parse_cuts(tab, o->labels, o->cuts, cuts, 16, &n_cuts));
    int by_file = o->key && strcmp(o->key, "file") == 0;
    if (o->key && !by_file && strcmp(o->key, "obsid") != 0 && strcmp(o->key, "auto") != 0)
        MS_ERROR(MS_EINVAL, "slam: --key must be auto, obsid or file (got '%s')", o->key);
    long kcol = by_file ? ms_csv_column(tab, "file") : -1;
    if (by_file && kcol < 0)
        MS_ERROR(MS_ENOTFOUND, "slam: the label table %s has no 'file' column to join on",
                 o->labels);
    /* the store */
    int rank;
    size_t dims[2];
    MS_TRY(ms_h5_dims(f, MS_STORE_FLUX, &rank, dims));
    const size_t n_rows = dims[0], P = dims[1];
    s->n_pix = P;
    s->wavelength = ms_malloc_array("slam.ts.wave", P, sizeof(double));
    s->mask = ms_malloc_array("slam.ts.mask", P, 1);
    int32_t *status = ms_malloc_array("slam.ts.status", n_rows + 1, sizeof(int32_t));
    double *snr = ms_malloc_array("slam.ts.snr", n_rows + 1, sizeof(double));
    char **names = NULL;
    long *match = ms_malloc_array("slam.ts.match", n_rows + 1, sizeof(long));
    ms_status st = s->wavelength && s->mask && status && snr && match ? MS_OK : MS_ENOMEM;
    if (st == MS_OK) st = ms_h5_read_rows(f, MS_STORE_WAVELENGTH, MS_H5_F64, 0, 0, P, s->wavelength);
    if (st == MS_OK) st = ms_h5_read_rows(f, MS_STORE_FIT_MASK, MS_H5_U8, 0, 0, P, s->mask);
    if (st == MS_OK) st = ms_h5_read_rows(f, MS_META_STATUS, MS_H5_I32, 0, 0, n_rows, status);
    char snr_name[96];
    snprintf(snr_name, sizeof snr_name, MS_STORE_META "/%s", o->snr_col ? o->snr_col : "snr_i");
    if (st == MS_OK) st = ms_h5_read_rows(f, snr_name, MS_H5_F64, 0, 0, n_rows, snr);
    /* every store row's table row: by the base name of the file, or by obsid, key or
     * position (join.h) */
    if (st == MS_OK && by_file) {
        st = ms_h5_read_strings(f, MS_META_FILENAME, n_rows, &names);
        const char **tk = st == MS_OK ? ms_malloc_array("slam.ts.tk", tab->n_rows + 1,
                                                         sizeof *tk) : NULL;
        const char **rk = st == MS_OK ? ms_malloc_array("slam.ts.rk", n_rows + 1,
                                                         sizeof *rk) : NULL;
        if (st == MS_OK && (!tk || !rk)) st = MS_ENOMEM;
        for (size_t k = 0; st == MS_OK && k < tab->n_rows; k++)
            tk[k] = base_name(ms_csv_cell(tab, k, (size_t)kcol));
        for (size_t r = 0; st == MS_OK && r < n_rows; r++) rk[r] = base_name(names[r]);
        if (st == MS_OK) st = ms_join_keys(tk, tab->n_rows, rk, n_rows, match, NULL);
        ms_free(tk);
        ms_free(rk);
    } else if (st == MS_OK) {
        ms_join_ids rows;
        st = ms_store_join_ids(f, n_rows, &rows);
        if (st == MS_OK)
            st = ms_table_join("slam", o->labels, &rows,
                               o->radius > 0 ? o->radius : MS_JOIN_RADIUS_DEFAULT, match, NULL);
        ms_join_ids_free(&rows);
    }
    /* keep the usable store rows whose table row passes the cuts */
    size_t n = 0;
    for (size_t r = 0; st == MS_OK && r < n_rows; r++) {
        if (status[r] != 0 || !(snr[r] >= o->min_snr)) match[r] = -1;
        if (match[r] < 0) continue;
        {
            const size_t k = (size_t)match[r];
            int ok = 1;
            for (size_t d = 0; d < D; d++) ok &= isfinite(ms_csv_number(tab, k, (size_t)lcol[d]));
            for (size_t c = 0; c < n_cuts; c++) {
                double v = ms_csv_number(tab, k, (size_t)cuts[c].col);
                ok &= v > cuts[c].lo && v < cuts[c].hi;
            }
            if (!ok) match[r] = -1;
        }
        if (match[r] >= 0) n++;
    }
    s->n = n;
    if (st == MS_OK && n == 0)
        st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "slam: no usable store row of %s matches "
                          "a row of %s by %s (with the cuts and S/N >= %g)", o->store, o->labels,
                          by_file ? "file" : "obsid, key or position", o->min_snr);
    if (st == MS_OK) {
        s->labels = ms_malloc_array("slam.ts.labels", n * D, sizeof(double));
        s->flux = ms_malloc_array("slam.ts.flux", n * P, sizeof(float));
        s->ivar = ms_malloc_array("slam.ts.ivar", n * P, sizeof(float));
        s->store_row = ms_malloc_array("slam.ts.row", n, sizeof(size_t));
        s->snr = ms_malloc_array("slam.ts.snr", n, sizeof(double));
        s->obsid = ms_malloc_array("slam.ts.obsid", n, sizeof *s->obsid);
        if (!s->labels || !s->flux || !s->ivar || !s->store_row || !s->snr || !s->obsid) st = MS_ENOMEM;
    }
    for (size_t r = 0, i = 0; st == MS_OK && r < n_rows; r++) {
        if (match[r] < 0) continue;
        for (size_t d = 0; d < D; d++)
            s->labels[i * D + d] = ms_csv_number(tab, (size_t)match[r], (size_t)lcol[d]);
        st = ms_h5_read_rows(f, MS_STORE_FLUX, MS_H5_F32, 0, r, 1, s->flux + i * P);
        if (st == MS_OK) st = ms_h5_read_rows(f, MS_STORE_IVAR, MS_H5_F32, 0, r, 1, s->ivar + i * P);
        s->store_row[i] = r;
        s->snr[i] = snr[r];
        const long oc = ms_csv_column(tab, "obsid") >= 0 ? ms_csv_column(tab, "obsid")
                        : ms_csv_column(tab, "key") >= 0 ? ms_csv_column(tab, "key") : kcol;
        const char *ob = oc >= 0 ? ms_csv_cell(tab, (size_t)match[r], (size_t)oc) : NULL;
        snprintf(s->obsid[i], sizeof s->obsid[i], "%s", ob ? ob : "");
        i++;
    }
    ms_free(status);
    ms_free(snr);
    ms_free(names);
    ms_free(match);
    return st;
}

ms_status ms_slam_trainset_load(const ms_slam_ts_opts *o, ms_slam_trainset *s)
{
    memset(s, 0, sizeof *s);
    ms_h5 *f;
    MS_TRY(ms_h5_open_read(o->store, 0, &f));
    ms_csv tab;
    memset(&tab, 0, sizeof tab);
    ms_status st = load(o, f, &tab, s);
    ms_csv_free(&tab);
    ms_status cst = ms_h5_close(f);
    if (st == MS_OK) st = cst;
    if (st != MS_OK) ms_slam_trainset_free(s);
    return st;
}

ms_slam_train_set ms_slam_trainset_view(const ms_slam_trainset *s)
{
    ms_slam_train_set t;
    memset(&t, 0, sizeof t);
    t.n = s->n;
    t.n_pix = s->n_pix;
    t.n_labels = s->n_labels;
    memcpy(t.label_names, s->label_names, sizeof t.label_names);
    t.labels = s->labels;
    t.flux = s->flux;
    t.ivar = s->ivar;
    t.mask = s->mask;
    return t;
}

ms_status ms_slam_trainset_subset(const ms_slam_trainset *src, const uint8_t *keep,
                                  ms_slam_trainset *dst)
{
    memset(dst, 0, sizeof *dst);
    size_t n = 0;
    for (size_t i = 0; i < src->n; i++) n += keep[i] != 0;
    const size_t P = src->n_pix, D = src->n_labels;
    dst->n = n;
    dst->n_pix = P;
    dst->n_labels = D;
    memcpy(dst->label_names, src->label_names, sizeof dst->label_names);
    dst->labels = ms_malloc_array("slam.sub.labels", n * D + 1, sizeof(double));
    dst->flux = ms_malloc_array("slam.sub.flux", n * P + 1, sizeof(float));
    dst->ivar = ms_malloc_array("slam.sub.ivar", n * P + 1, sizeof(float));
    dst->mask = ms_malloc_array("slam.sub.mask", P, 1);
    dst->wavelength = ms_malloc_array("slam.sub.wave", P, sizeof(double));
    dst->store_row = ms_malloc_array("slam.sub.row", n + 1, sizeof(size_t));
    dst->snr = ms_malloc_array("slam.sub.snr", n + 1, sizeof(double));
    dst->obsid = ms_malloc_array("slam.sub.obsid", n + 1, sizeof *dst->obsid);
    if (!dst->labels || !dst->flux || !dst->ivar || !dst->mask || !dst->wavelength ||
        !dst->store_row || !dst->snr || !dst->obsid) {
        ms_slam_trainset_free(dst);
        return MS_ENOMEM;
    }
    memcpy(dst->mask, src->mask, P);
    memcpy(dst->wavelength, src->wavelength, P * sizeof(double));
    for (size_t i = 0, k = 0; i < src->n; i++) {
        if (!keep[i]) continue;
        memcpy(dst->labels + k * D, src->labels + i * D, D * sizeof(double));
        memcpy(dst->flux + k * P, src->flux + i * P, P * sizeof(float));
        memcpy(dst->ivar + k * P, src->ivar + i * P, P * sizeof(float));
        dst->store_row[k] = src->store_row[i];
        dst->snr[k] = src->snr[i];
        memcpy(dst->obsid[k], src->obsid[i], sizeof dst->obsid[k]);
        k++;
    }
    return MS_OK;
}
