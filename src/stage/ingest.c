/* ingest.c: LAMOST spectra -> one HDF5 store (`mstars ingest`, see store.h).
 *
 * Rank 0 lists the input files and broadcasts the list. Rows are cut into batches of
 * ingest.write_batch; batch b belongs to rank b % ranks, and in each round every rank
 * writes its batch collectively into the store (parallel HDF5), so rows stay in
 * input-list order whatever the rank count. A bad file becomes a row with a non-zero
 * status and a reason; only I/O failures of the store itself stop the run, and then the
 * partial store is deleted. When the output store already exists with the same
 * preprocessing settings, rows of files it already holds are copied instead of read
 * again, so re-running over a list that grew only processes the new files. */
#include "../io/ingest_util.h"
#include "mstars/csv.h"
#include "mstars/schema.h"
#include "mstars/hash.h"
#include "mstars/join_io.h"
#include "mstars/lamost.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/schema.h"
#include "mstars/native.h"
#include "mstars/par.h"
#include "mstars/spec.h"
#include "mstars/store.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *ms_row_status_name(int status)
{
    static const char *names[] = {"ok",          "unreadable", "bad_structure", "no_data",
                                  "coverage",    "not_star",   "few_pixels"};
    return status >= 0 && status < MS_ROW_N_STATUS ? names[status] : "unknown";
}

#define COL(name, type, len, field, units, desc)                                           \
    {name, type, len, offsetof(ms_store_meta, field), units, desc}

static const ms_column meta_columns[] = {
    COL(MS_META_FILENAME, MS_H5_STR, 256, filename, "", "input file as listed"),
    COL(MS_META_OBSID, MS_H5_STR, 32, obsid, "", "LAMOST observation id (OBSID)"),
    COL(MS_META_KEY, MS_H5_STR, MS_KEY_LEN, key, "",
        "unique key of the spectrum: OBSID, else LMJD-PLANID_spSS-FFF as LAMOST names the "
        "file (DR1 files have no OBSID); the key every join uses"),
    COL(MS_META_DESIGNATION, MS_H5_STR, 48, desig, "", "LAMOST designation (DESIG)"),
    COL(MS_META_RA, MS_H5_F64, 0, ra, "deg", "right ascension (RA)"),
    COL(MS_META_DEC, MS_H5_F64, 0, dec, "deg", "declination (DEC)"),
    COL(MS_META_CLASS, MS_H5_STR, 16, cls, "", "LAMOST pipeline class (CLASS)"),
    COL(MS_META_SUBCLASS, MS_H5_STR, 16, subclass, "", "LAMOST pipeline subclass (SUBCLASS)"),
    COL(MS_META_Z, MS_H5_F64, 0, z, "", "LAMOST pipeline redshift (Z)"),
    COL(MS_META_Z_ERR, MS_H5_F64, 0, z_err, "", "uncertainty of Z (Z_ERR)"),
    COL(MS_META_RV_INIT, MS_H5_F64, 0, rv_init, "km/s",
        "initial radial velocity Z*c removed before resampling (0 when Z is missing)"),
    {MS_META_SNR_U, MS_H5_F64, 0, offsetof(ms_store_meta, snr), "", "S/N in u (SNRU / SN_U)"},
    {MS_META_SNR_G, MS_H5_F64, 0, offsetof(ms_store_meta, snr) + 8, "", "S/N in g (SNRG)"},
    {MS_META_SNR_R, MS_H5_F64, 0, offsetof(ms_store_meta, snr) + 16, "", "S/N in r (SNRR)"},
    {MS_META_SNR_I, MS_H5_F64, 0, offsetof(ms_store_meta, snr) + 24, "", "S/N in i (SNRI)"},
    {MS_META_SNR_Z, MS_H5_F64, 0, offsetof(ms_store_meta, snr) + 32, "", "S/N in z (SNRZ)"},
    COL(MS_META_LMJD, MS_H5_I64, 0, lmjd, "d", "local modified Julian date (LMJD)"),
    COL(MS_META_PLANID, MS_H5_STR, 48, planid, "", "plan id (PLANID)"),
    COL(MS_META_SPID, MS_H5_I32, 0, spid, "", "spectrograph id (SPID)"),
    COL(MS_META_FIBERID, MS_H5_I32, 0, fiberid, "", "fibre id (FIBERID)"),
    COL(MS_META_DATA_V, MS_H5_STR, 32, data_v, "", "data release (DATA_V)"),
    COL(MS_META_LAYOUT, MS_H5_STR, 16, layout, "", "file layout detected by the reader"),
    COL(MS_META_N_PIX_NATIVE, MS_H5_I32, 0, n_pix_native, "", "pixels in the file"),
    COL(MS_META_N_GOOD, MS_H5_I32, 0, n_good, "", "good pixels on the output grid"),
    COL(MS_META_STATUS, MS_H5_I32, 0, status, "",
        "0 usable; 1 unreadable, 2 bad structure, 3 no data, 4 coverage, 5 not a star, "
        "6 too few good pixels"),
    COL(MS_META_STATUS_REASON, MS_H5_STR, MS_REASON_LEN, reason, "",
        "why the row is not usable (empty when status is 0)"),
    {NULL, 0, 0, 0, NULL, NULL},
};

/* ------------------------------------------------------------- one spectrum */

typedef struct {
    float *flux, *ivar, *cont; /* [n_pix] this row's output */
    float *nflux, *nivar;      /* [MS_NATIVE_NPIX] the native view (native.h) */
    uint8_t *nmask;
} row_pixels;

/* The native view of a row whose file could not be read: no data anywhere. */
static void native_empty(row_pixels px)
{
    for (size_t k = 0; k < MS_NATIVE_NPIX; k++) {
        px.nflux[k] = NAN;
        px.nivar[k] = 0.0f;
        px.nmask[k] = MS_NATIVE_NODATA;
    }
}

static void flag_row(ms_store_meta *m, int status, const char *reason, row_pixels px,
                     size_t n_pix)
{
    m->status = status;
    snprintf(m->reason, sizeof m->reason, "%s", reason);
    for (size_t i = 0; i < n_pix; i++) {
        px.flux[i] = NAN;
        px.ivar[i] = 0.0f;
        px.cont[i] = NAN;
    }
    m->n_good = 0;
}

static void copy_meta(ms_store_meta *m, const ms_lamost_meta *h)
{
    snprintf(m->obsid, sizeof m->obsid, "%s", h->obsid);
    snprintf(m->desig, sizeof m->desig, "%s", h->desig);
    snprintf(m->cls, sizeof m->cls, "%s", h->cls);
    snprintf(m->subclass, sizeof m->subclass, "%s", h->subclass);
    snprintf(m->planid, sizeof m->planid, "%s", h->planid);
    snprintf(m->data_v, sizeof m->data_v, "%s", h->data_v);
    snprintf(m->layout, sizeof m->layout, "%s", ms_lamost_layout_name(h->layout));
    m->ra = h->ra;
    m->dec = h->dec;
    m->z = h->z;
    m->z_err = h->z_err;
    memcpy(m->snr, h->snr, sizeof m->snr);
    m->lmjd = h->lmjd;
    m->spid = h->spid;
    m->fiberid = h->fiberid;
    ms_lamost_key(m->key, sizeof m->key, h->obsid, h->lmjd, h->planid, h->spid, h->fiberid);
}

/* Pipeline RV from Z, or 0 when Z is missing (-9999) or absurd. */
static double initial_rv(double z)
{
    double v = z * MS_C_KMS;
    return isfinite(v) && fabs(v) < 3000.0 ? v : 0.0;
}

/* The reader's messages start with the file's full path, and the reason column is short: a
 * deep directory would push what went wrong out of it. Name the file by its base name (the
 * row's full path is in the file list) and keep the rest of the message. */
static void reason_with_base_name(char *out, size_t len, const char *message, const char *path)
{
    size_t n = strlen(path);
    const char *slash = strrchr(path, '/');
    if (slash && strncmp(message, path, n) == 0 && message[n] == ':')
        snprintf(out, len, "%s%s", slash + 1, message + n);
    else
        snprintf(out, len, "%s", message);
}

static void ingest_one(const ms_config *cfg, ms_spec_work *work, const char *path,
                       ms_store_meta *m, row_pixels px, size_t n_pix, uint8_t **bad_buf,
                       size_t *bad_cap)
{
    const ms_cfg_preprocess *p = &cfg->preprocess;
    ms_lamost_spectrum s;
    ms_lamost_meta h;
    char reason[MS_REASON_LEN];
    ms_status st = ms_lamost_read(path, &s, &h);
    if (st != MS_OK) {
        reason_with_base_name(reason, sizeof reason, ms_error_message(), path);
        flag_row(m, st == MS_EIO ? MS_ROW_UNREADABLE : MS_ROW_BAD_STRUCTURE, reason, px, n_pix);
        native_empty(px);
        return;
    }
    /* the native view: every readable file, whatever the Z25 view's verdict */
    int on_lattice;
    ms_native_place(s.wave, s.flux, s.ivar, s.andmask, s.ormask, s.n, px.nflux, px.nivar,
                    px.nmask, &on_lattice);
    copy_meta(m, &h);
    m->n_pix_native = (int32_t)s.n;
    m->rv_init = initial_rv(h.z);
    if (p->required_class[0] && strcmp(h.cls, p->required_class) != 0) {
        snprintf(reason, sizeof reason, "CLASS is '%s', not %s", h.cls, p->required_class);
        flag_row(m, MS_ROW_NOT_STAR, reason, px, n_pix);
        goto done;
    }
    size_t finite_flux = 0, positive_ivar = 0;
    for (size_t i = 0; i < s.n; i++) {
        finite_flux += isfinite(s.flux[i]);
        positive_ivar += s.ivar[i] > 0;
    }
    if (finite_flux == 0 || positive_ivar == 0) {
        flag_row(m, MS_ROW_NO_DATA, finite_flux == 0 ? "all flux values are NaN or infinite"
                                                     : "IVAR is zero everywhere", px, n_pix);
        goto done;
    }
    double dop = ms_spec_doppler(m->rv_init), lo = s.wave[0] / dop, hi = s.wave[s.n - 1] / dop;
    double tol = MS_SPEC_COVERAGE_TOL_PIXELS * p->wave_step; /* as the preprocessor allows */
    if (lo > p->wave_min + tol || hi < p->wave_max - tol) {
        snprintf(reason, sizeof reason, "wavelength coverage %.0f-%.0f A misses the range "
                 "%.0f-%.0f A", lo, hi, p->wave_min, p->wave_max);
        flag_row(m, MS_ROW_COVERAGE, reason, px, n_pix);
        goto done;
    }
    if (s.n > *bad_cap) {
        ms_free(*bad_buf);
        *bad_buf = ms_malloc("ingest.bad", s.n);
        *bad_cap = *bad_buf ? s.n : 0;
        if (!*bad_buf) {
            flag_row(m, MS_ROW_NO_DATA, "out of memory", px, n_pix);
            goto done;
        }
    }
    uint8_t *bad = *bad_buf;
    int use_or = !strcmp(p->mask_source, "ormask") || !strcmp(p->mask_source, "both");
    int use_and = !strcmp(p->mask_source, "andmask") || !strcmp(p->mask_source, "both");
    for (size_t i = 0; i < s.n; i++)
        bad[i] = (use_or && s.ormask[i] != 0) || (use_and && s.andmask[i] != 0);
    ms_spec_out out = {px.flux, px.ivar, px.cont, 0};
    st = ms_spec_preprocess_observed_ws(work, s.wave, s.flux, s.ivar, bad, s.n, m->rv_init,
                                        &out);
    if (st != MS_OK) {
        flag_row(m, MS_ROW_NO_DATA, ms_error_message(), px, n_pix);
        goto done;
    }
    m->n_good = (int32_t)out.n_good;
    if ((double)out.n_good < p->min_good_fraction * (double)n_pix) {
        snprintf(reason, sizeof reason, "only %zu of %zu pixels are good (minimum fraction "
                 "%.2f)", out.n_good, n_pix, p->min_good_fraction);
        flag_row(m, MS_ROW_FEW_PIXELS, reason, px, n_pix);
        goto done;
    }
    m->status = MS_ROW_OK;
    m->reason[0] = '\0';
done:
    ms_lamost_spectrum_free(&s);
}

/* ------------------------------------------------------------- input catalog */

typedef struct {
    ms_csv csv;
    long key;               /* obsid column (-1: none; /meta/obsid holds it) */
    ms_join_ids ids;        /* the table's side of the join (join_io.h) */
    ms_join_index *ix;      /* sorted once, looked up batch by batch */
    double radius;          /* join.radius_arcsec */
    size_t *str_len;        /* per column: fixed string length (0 for numeric) */
    long stats[5];          /* this rank's rows: matched, obsid, key, position, ambiguous */
    size_t duplicates;      /* table rows repeating an earlier row's obsid or key */
} catalog;

static ms_status catalog_load(const char *path, double radius, catalog *c)
{
    memset(c, 0, sizeof *c);
    c->radius = radius;
    MS_TRY(ms_csv_read(path, &c->csv));
    c->key = ms_csv_column(&c->csv, "obsid");
    ms_status st = ms_table_join_ids(path, &c->ids);
    if (st == MS_OK) st = ms_join_index_build(&c->ids.side, radius, &c->ix);
    if (st == MS_OK) {
        ms_join_stats none;
        ms_join_side empty = {0, NULL, NULL, NULL, NULL, NULL};
        st = ms_join_lookup(c->ix, &empty, radius, NULL, &none);
        c->duplicates = none.duplicates;
    }
    if (st == MS_OK && c->ids.side.n != c->csv.n_rows)
        st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "%s: %zu rows read twice as %zu",
                          path, c->csv.n_rows, c->ids.side.n);
    if (st != MS_OK) return st;
    c->str_len = ms_calloc("catalog.strlen", c->csv.n_cols, sizeof *c->str_len);
    if (!c->str_len) return MS_ENOMEM;
    for (size_t col = 0; col < c->csv.n_cols; col++) {
        if (c->csv.numeric[col] && (long)col != c->key) continue;
        size_t len = 1;
        for (size_t r = 0; r < c->csv.n_rows; r++) {
            size_t l = strlen(ms_csv_cell(&c->csv, r, col)) + 1;
            if (l > len) len = l;
        }
        c->str_len[col] = len;
    }
    return MS_OK;
}

static void catalog_free(catalog *c)
{
    ms_csv_free(&c->csv);
    ms_join_index_free(c->ix);
    ms_join_ids_free(&c->ids);
    ms_free(c->str_len);
}

/* The catalog row of each of the n store rows (-1: none), by obsid, key or position. */
static ms_status catalog_match(catalog *c, const ms_store_meta *rows, size_t n, long *cr)
{
    const char **ptr = ms_malloc_array("catalog.ptr", 3 * n + 1, sizeof *ptr);
    double *pos = ms_malloc_array("catalog.pos", 2 * n + 1, sizeof *pos);
    char(*name)[MS_KEY_LEN] = ms_malloc_array("catalog.name", n + 1, sizeof *name);
    ms_status st = ptr && pos && name ? MS_OK : MS_ENOMEM;
    for (size_t r = 0; st == MS_OK && r < n; r++) {
        ms_lamost_name(name[r], MS_KEY_LEN, (long)rows[r].lmjd, rows[r].planid, rows[r].spid,
                       rows[r].fiberid);
        if (!name[r][0]) ms_lamost_name_from_file(name[r], MS_KEY_LEN, rows[r].filename);
        ptr[r] = rows[r].obsid;
        ptr[n + r] = rows[r].key;
        ptr[2 * n + r] = name[r];
        pos[r] = rows[r].ra;
        pos[n + r] = rows[r].dec;
    }
    ms_join_stats s;
    if (st == MS_OK) {
        ms_join_side side = {n, ptr, ptr + n, ptr + 2 * n, pos, pos + n};
        st = ms_join_lookup(c->ix, &side, c->radius, cr, &s);
    }
    if (st == MS_OK) {
        c->stats[0] += (long)s.matched;
        c->stats[1] += (long)s.by_obsid;
        c->stats[2] += (long)s.by_key;
        c->stats[3] += (long)s.by_position;
        c->stats[4] += (long)s.ambiguous;
    }
    ms_free(ptr);
    ms_free(pos);
    ms_free(name);
    return st;
}

static void dataset_name(char *buf, size_t len, const char *column)
{
    snprintf(buf, len, MS_STORE_INPUT "/%s", column);
    for (char *p = buf + 7; *p; p++)
        if (*p == '/' || *p == ' ') *p = '_';
}

static ms_status catalog_create(ms_h5 *f, const catalog *c, size_t n_rows, const char *path)
{
    for (size_t col = 0; col < c->csv.n_cols; col++) {
        if ((long)col == c->key) continue;
        char name[256], desc[512];
        dataset_name(name, sizeof name, c->csv.names.items[col]);
        snprintf(desc, sizeof desc, "column '%s' of the input catalog %s joined by obsid, key "
                 "or position (join.h)",
                 c->csv.names.items[col], path);
        ms_h5_type type = c->str_len[col] ? MS_H5_STR
                          : c->csv.integer[col] ? MS_H5_I64 : MS_H5_F64;
        MS_TRY(ms_h5_create_dataset(f, name, type, c->str_len[col], 1, &n_rows, 0,
                                    c->csv.integer[col] ? "-1 when unmatched" : "", desc));
    }
    return MS_OK;
}

static ms_status catalog_write(ms_h5 *f, catalog *c, const ms_store_meta *rows,
                               size_t row0, size_t n, char *buf, size_t buf_len)
{
    long *match = ms_malloc_array("catalog.match", n + 1, sizeof *match);
    if (!match) return ms_par_any_failed(MS_ENOMEM);
    ms_status st = ms_par_any_failed(catalog_match(c, rows, n, match));
    for (size_t col = 0; st == MS_OK && col < c->csv.n_cols; col++) {
        if ((long)col == c->key) continue;
        size_t e = c->str_len[col] ? c->str_len[col] : sizeof(double);
        if (e * n > buf_len) {
            ms_free(match);
            MS_ERROR(MS_ENOMEM, "catalog column buffer too small");
        }
        for (size_t r = 0; r < n; r++) {
            long cr = match[r];
            if (c->str_len[col]) {
                memset(buf + r * e, 0, e);
                if (cr >= 0) memcpy(buf + r * e, ms_csv_cell(&c->csv, (size_t)cr, col),
                                    strlen(ms_csv_cell(&c->csv, (size_t)cr, col)));
            } else if (c->csv.integer[col]) { /* ids keep every digit */
                int64_t v = cr >= 0 ? ms_csv_integer(&c->csv, (size_t)cr, col, -1) : -1;
                memcpy(buf + r * e, &v, sizeof v);
            } else {
                double v = cr >= 0 ? ms_csv_number(&c->csv, (size_t)cr, col) : NAN;
                memcpy(buf + r * e, &v, sizeof v);
            }
        }
        char name[256];
        dataset_name(name, sizeof name, c->csv.names.items[col]);
        st = ms_par_any_failed(ms_h5_write_rows(f, name, row0, n, buf));
    }
    ms_free(match);
    return st;
}

/* ------------------------------------------------------------- reuse of an old store */

typedef struct {
    ms_h5 *f;
    size_t n;
    char (*names)[256]; /* [n] */
    size_t *order;      /* rows sorted by name */
    int32_t *status;
} old_store;

static const old_store *old_ctx;
static int cmp_old_rows(const void *a, const void *b)
{
    return strcmp(old_ctx->names[*(const size_t *)a], old_ctx->names[*(const size_t *)b]);
}

/* Open the existing store when its rows can be reused; otherwise leave o->f NULL. */
static ms_status old_store_open(const ms_config *cfg, const char *path, old_store *o)
{
    memset(o, 0, sizeof *o);
    if (access(path, F_OK) != 0) return MS_OK;
    ms_h5 *f;
    if (ms_h5_open_read(path, 0, &f) != MS_OK) {
        ms_log0_warn("existing %s is not reusable (%s); processing every file", path,
                     ms_error_message());
        return MS_OK;
    }
    /* finished work of another kind (a catalog, a grid store, a models file) is never
     * replaced by a spectra store */
    const char *kind = ms_h5_exists(f, MS_CATALOG_GROUP) ? "a catalog (it has /catalog)"
                       : ms_h5_exists(f, MS_STORE_LABELS) ? "a grid store (it has /labels)"
                       : !ms_h5_exists(f, MS_STORE_FLUX) ? "not a spectra store (no /spectra/flux)"
                                                         : NULL;
    if (kind) {
        ms_h5_close(f);
        MS_ERROR(MS_EINVAL, "%s exists and is %s: ingest does not overwrite it; choose another "
                 "--out or remove it", path, kind);
    }
    char *hash_text = NULL, want[17];
    ms_hash_hex(ms_preprocess_hash(cfg), want);
    if (ms_h5_attr_get_str(f, "/", "preprocess_hash", &hash_text) != MS_OK ||
        strcmp(hash_text, want) != 0) {
        ms_log0_warn("existing %s was made with other preprocessing settings; processing "
                     "every file", path);
        ms_free(hash_text);
        ms_h5_close(f);
        return MS_OK;
    }
    ms_free(hash_text);
    if (!ms_h5_exists(f, MS_META_KEY)) {
        ms_log0_warn("existing %s has no %s (made by an older ingest); processing every file",
                     path, MS_META_KEY);
        ms_h5_close(f);
        return MS_OK;
    }
    if (!ms_h5_exists(f, MS_STORE_NATIVE_FLUX)) {
        ms_log0_warn("existing %s has no native view (%s, made by an older ingest); processing "
                     "every file", path, MS_STORE_NATIVE_FLUX);
        ms_h5_close(f);
        return MS_OK;
    }
    int rank;
    size_t dims[2];
    MS_TRY(ms_h5_dims(f, MS_META_FILENAME, &rank, dims));
    o->f = f;
    o->n = dims[0];
    o->names = ms_malloc_array("old.names", o->n + 1, sizeof *o->names);
    o->order = ms_malloc_array("old.order", o->n + 1, sizeof *o->order);
    o->status = ms_malloc_array("old.status", o->n + 1, sizeof *o->status);
    if (!o->names || !o->order || !o->status) return MS_ENOMEM;
    MS_TRY(ms_h5_read_rows(f, MS_META_FILENAME, MS_H5_STR, 256, 0, o->n, o->names));
    MS_TRY(ms_h5_read_rows(f, MS_META_STATUS, MS_H5_I32, 0, 0, o->n, o->status));
    for (size_t i = 0; i < o->n; i++) {
        o->names[i][255] = '\0';
        o->order[i] = i;
    }
    old_ctx = o;
    qsort(o->order, o->n, sizeof *o->order, cmp_old_rows);
    return MS_OK;
}

static void old_store_close(old_store *o)
{
    if (o->f) ms_h5_close(o->f);
    ms_free(o->names);
    ms_free(o->order);
    ms_free(o->status);
    memset(o, 0, sizeof *o);
}

/* Old row holding `name`, or -1. Unreadable files are retried (they may be back). */
static long old_store_find(const old_store *o, const char *name)
{
    if (!o->f) return -1;
    size_t lo = 0, hi = o->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcmp(o->names[o->order[mid]], name);
        if (cmp == 0) {
            long r = (long)o->order[mid];
            return o->status[r] == MS_ROW_UNREADABLE ? -1 : r;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Copy old rows [old0, old0 + n) into batch slots [slot, slot + n). */
static ms_status old_store_copy(const old_store *o, size_t old0, size_t n, ms_store_meta *meta,
                                float *flux, float *ivar, float *cont, float *nflux,
                                float *nivar, uint8_t *nmask, size_t n_pix, void *buf)
{
    MS_TRY(ms_columns_read(o->f, meta_columns, meta, sizeof *meta, old0, n, buf));
    MS_TRY(ms_h5_read_rows(o->f, MS_STORE_FLUX, MS_H5_F32, 0, old0, n, flux));
    MS_TRY(ms_h5_read_rows(o->f, MS_STORE_IVAR, MS_H5_F32, 0, old0, n, ivar));
    MS_TRY(ms_h5_read_rows(o->f, MS_STORE_CONTINUUM, MS_H5_F32, 0, old0, n, cont));
    MS_TRY(ms_h5_read_rows(o->f, MS_STORE_NATIVE_FLUX, MS_H5_F32, 0, old0, n, nflux));
    MS_TRY(ms_h5_read_rows(o->f, MS_STORE_NATIVE_IVAR, MS_H5_F32, 0, old0, n, nivar));
    MS_TRY(ms_h5_read_rows(o->f, MS_STORE_NATIVE_MASK, MS_H5_U8, 0, old0, n, nmask));
    (void)n_pix;
    return MS_OK;
}

/* ------------------------------------------------------------- the driver */

typedef struct {
    size_t batch, n_pix;
    ms_store_meta *meta;       /* [batch] */
    float *flux, *ivar, *cont; /* [batch * n_pix] */
    float *nflux, *nivar;      /* [batch * MS_NATIVE_NPIX] */
    uint8_t *nmask;
    char *buf;                 /* column scratch */
    size_t buf_len;
    uint8_t *bad;
    size_t bad_cap;
    ms_spec_work *work;        /* preprocessing workspace, reused for every spectrum */
} batch_buffers;

static ms_status buffers_alloc(batch_buffers *b, const ms_cfg_preprocess *preprocess,
                               size_t batch, size_t n_pix, size_t max_str)
{
    memset(b, 0, sizeof *b);
    b->batch = batch;
    b->n_pix = n_pix;
    b->meta = ms_calloc("ingest.meta", batch, sizeof *b->meta);
    b->flux = ms_malloc_array("ingest.flux", batch * n_pix, sizeof(float));
    b->ivar = ms_malloc_array("ingest.ivar", batch * n_pix, sizeof(float));
    b->cont = ms_malloc_array("ingest.cont", batch * n_pix, sizeof(float));
    b->nflux = ms_malloc_array("ingest.nflux", batch * MS_NATIVE_NPIX, sizeof(float));
    b->nivar = ms_malloc_array("ingest.nivar", batch * MS_NATIVE_NPIX, sizeof(float));
    b->nmask = ms_malloc_array("ingest.nmask", batch * MS_NATIVE_NPIX, sizeof(uint8_t));
    b->buf_len = batch * (max_str > 256 ? max_str : 256);
    b->buf = ms_malloc("ingest.colbuf", b->buf_len);
    if (!b->meta || !b->flux || !b->ivar || !b->cont || !b->buf || !b->nflux || !b->nivar ||
        !b->nmask)
        return MS_ENOMEM;
    return ms_spec_work_alloc(preprocess, &b->work);
}

static void buffers_free(batch_buffers *b)
{
    ms_free(b->meta);
    ms_free(b->flux);
    ms_free(b->ivar);
    ms_free(b->cont);
    ms_free(b->nflux);
    ms_free(b->nivar);
    ms_free(b->nmask);
    ms_free(b->buf);
    ms_free(b->bad);
    ms_spec_work_free(b->work);
}

/* Fill this rank's batch: copy reusable rows in runs, process the others. */
static ms_status fill_batch(const ms_config *cfg, const ms_strlist *files, const old_store *old,
                            size_t row0, size_t n, batch_buffers *b, long *reused)
{
    size_t np = b->n_pix;
    for (size_t r = 0; r < n;) {
        long o = old_store_find(old, files->items[row0 + r]);
        if (o >= 0) { /* extend the run while old rows stay consecutive */
            size_t run = 1;
            while (r + run < n &&
                   old_store_find(old, files->items[row0 + r + run]) == o + (long)run)
                run++;
            MS_TRY(old_store_copy(old, (size_t)o, run, b->meta + r, b->flux + r * np,
                                  b->ivar + r * np, b->cont + r * np,
                                  b->nflux + r * MS_NATIVE_NPIX, b->nivar + r * MS_NATIVE_NPIX,
                                  b->nmask + r * MS_NATIVE_NPIX, np, b->buf));
            *reused += (long)run;
            r += run;
            continue;
        }
        ms_store_meta *m = &b->meta[r];
        memset(m, 0, sizeof *m);
        m->ra = m->dec = m->z = m->z_err = NAN;
        for (int k = 0; k < 5; k++) m->snr[k] = NAN;
        m->lmjd = -1;
        m->spid = m->fiberid = -1;
        snprintf(m->filename, sizeof m->filename, "%s", files->items[row0 + r]);
        row_pixels px = {b->flux + r * np, b->ivar + r * np, b->cont + r * np,
                         b->nflux + r * MS_NATIVE_NPIX, b->nivar + r * MS_NATIVE_NPIX,
                         b->nmask + r * MS_NATIVE_NPIX};
        ingest_one(cfg, b->work, files->items[row0 + r], m, px, np, &b->bad, &b->bad_cap);
        if (!m->key[0]) /* an unreadable file: the name LAMOST gave it, when it has one */
            ms_lamost_name_from_file(m->key, sizeof m->key, m->filename);
        r++;
    }
    return MS_OK;
}

static ms_status write_batch(ms_h5 *f, catalog *cat, size_t row0, size_t n,
                             batch_buffers *b)
{
    /* each collective write is agreed on before the next: a rank whose write failed (a full
     * disk) must not leave the others waiting in the following one */
    MS_TRY(ms_columns_write(f, meta_columns, b->meta, sizeof *b->meta, row0, n, b->buf));
    MS_TRY(ms_par_any_failed(ms_h5_write_rows(f, MS_STORE_FLUX, row0, n, b->flux)));
    MS_TRY(ms_par_any_failed(ms_h5_write_rows(f, MS_STORE_IVAR, row0, n, b->ivar)));
    MS_TRY(ms_par_any_failed(ms_h5_write_rows(f, MS_STORE_CONTINUUM, row0, n, b->cont)));
    MS_TRY(ms_par_any_failed(ms_h5_write_rows(f, MS_STORE_NATIVE_FLUX, row0, n, b->nflux)));
    MS_TRY(ms_par_any_failed(ms_h5_write_rows(f, MS_STORE_NATIVE_IVAR, row0, n, b->nivar)));
    MS_TRY(ms_par_any_failed(ms_h5_write_rows(f, MS_STORE_NATIVE_MASK, row0, n, b->nmask)));
    if (cat) MS_TRY(catalog_write(f, cat, b->meta, row0, n, b->buf, b->buf_len));
    return MS_OK;
}

static ms_status write_summary_attrs(ms_h5 *f, const ms_config *cfg, const ms_ingest_summary *s,
                                     const char *command)
{
    MS_TRY(ms_h5_write_provenance(f, cfg, command));
    char hex[17];
    ms_hash_hex(ms_preprocess_hash(cfg), hex);
    MS_TRY(ms_h5_attr_set_str(f, "/", "preprocess_hash", hex));
    int64_t counts[MS_ROW_N_STATUS];
    for (int k = 0; k < MS_ROW_N_STATUS; k++) counts[k] = s->by_status[k];
    MS_TRY(ms_h5_attr_set_i64(f, "/", "count_by_status", counts, MS_ROW_N_STATUS));
    return ms_h5_attr_set_str(f, "/", "status_names",
                              "ok,unreadable,bad_structure,no_data,coverage,not_star,few_pixels");
}

ms_status ms_ingest_spectra(const ms_config *cfg, const ms_ingest_opts *opts,
                            ms_ingest_summary *summary)
{
    memset(summary, 0, sizeof *summary);
    double t0 = ms_par_wtime();
    ms_strlist files = {0};
    ms_status st = MS_OK;
    if (ms_par_rank() == 0) st = ms_filelist_spectra(opts->spectra, &files);
    MS_TRY(ms_strlist_bcast(&files, st));
    if (files.n == 0) {
        ms_strlist_free(&files);
        MS_ERROR(MS_EINVAL, "no spectra (*.fits, *.fits.gz) found in %s", opts->spectra);
    }
    for (size_t i = 0; i < files.n; i++)
        if (strlen(files.items[i]) >= 256) {
            ms_strlist_free(&files);
            MS_ERROR(MS_EINVAL, "file name longer than 255 characters: %s", files.items[i]);
        }
    ms_log0_info("ingest: %zu spectra from %s on %d rank(s)", files.n, opts->spectra,
                 ms_par_size());

    catalog cat_store, *cat = NULL;
    st = MS_OK;
    if (opts->catalog) {
        st = catalog_load(opts->catalog, cfg->join.radius_arcsec, &cat_store);
        if (st == MS_OK) cat = &cat_store;
    }
    st = ms_par_any_failed(st);
    old_store old = {0};
    if (st == MS_OK && !opts->reprocess) st = ms_par_any_failed(old_store_open(cfg, opts->out, &old));

    size_t n_pix = ms_spec_grid(&cfg->preprocess).n;
    batch_buffers b = {0};
    size_t max_str = 256;
    if (cat)
        for (size_t c = 0; c < cat->csv.n_cols; c++)
            if (cat->str_len[c] > max_str) max_str = cat->str_len[c];
    if (st == MS_OK)
        st = ms_par_any_failed(buffers_alloc(&b, &cfg->preprocess, (size_t)cfg->ingest.write_batch,
                                             n_pix, max_str));

    ms_h5 *f = NULL;
    if (st == MS_OK) st = ms_h5_create(opts->out, 1, &f);
    st = ms_par_any_failed(st);
    if (st == MS_OK) st = ms_store_create_pixels(f, cfg, files.n, 1);
    if (st == MS_OK) st = ms_store_create_native(f, files.n);
    if (st == MS_OK) st = ms_columns_create(f, meta_columns, files.n);
    if (st == MS_OK && cat) st = catalog_create(f, cat, files.n, opts->catalog);

    long reused = 0, by_status[MS_ROW_N_STATUS] = {0};
    /* (no rounds when the set-up failed: b.batch is then 0) */
    size_t batch = b.batch;
    size_t rounds = st == MS_OK ? ms_batches_rounds(files.n, batch, ms_par_size()) : 0;
    double last_report = t0;
    for (size_t r = 0; st == MS_OK && r < rounds; r++) {
        size_t row0, n = ms_batches_mine(files.n, batch, ms_par_size(), ms_par_rank(), r, &row0);
        ms_status local = fill_batch(cfg, &files, &old, row0, n, &b, &reused);
        st = ms_par_any_failed(local);
        if (st == MS_OK) st = write_batch(f, cat, row0, n, &b);
        /* a write can fail on one rank only (disk full): all must stop together */
        st = ms_par_any_failed(st);
        for (size_t i = 0; i < n; i++)
            if (b.meta[i].status >= 0 && b.meta[i].status < MS_ROW_N_STATUS)
                by_status[b.meta[i].status]++;
        double now = ms_par_wtime();
        if (ms_par_rank() == 0 && now - last_report > 5.0) {
            size_t done = (r + 1) * batch * (size_t)ms_par_size();
            ms_log_info("ingest: ~%zu / %zu spectra, %.0f spectra/s", done < files.n ? done : files.n,
                        files.n, (double)done / (now - t0));
            last_report = now;
        }
    }
    if (st == MS_OK) st = ms_par_allreduce_sum_l(by_status, MS_ROW_N_STATUS);
    if (st == MS_OK) st = ms_par_allreduce_sum_l(&reused, 1);
    if (st == MS_OK && cat) st = ms_par_allreduce_sum_l(cat->stats, 5);
    if (st == MS_OK && cat) {
        ms_log0_info("ingest: input catalog %s (joins by %s): %ld of %zu spectra joined: %ld by "
                     "obsid, %ld by key, %ld by position within %.3g arcsec", opts->catalog,
                     cat->ids.routes, cat->stats[0], files.n, cat->stats[1], cat->stats[2],
                     cat->stats[3], cat->radius);
        if (cat->stats[4])
            ms_log0_warn("ingest: input catalog %s: %ld spectra had two or more catalog rows "
                         "within %.3g arcsec (ambiguous: the nearest was taken)", opts->catalog,
                         cat->stats[4], cat->radius);
        if (cat->duplicates)
            ms_log0_warn("ingest: input catalog %s: %zu rows repeat an obsid or key of an earlier "
                         "row (the first is used)", opts->catalog, cat->duplicates);
    }
    summary->total = (long)files.n;
    summary->reused = reused;
    summary->processed = (long)files.n - reused;
    memcpy(summary->by_status, by_status, sizeof by_status);
    if (st == MS_OK) st = ms_par_any_failed(write_summary_attrs(f, cfg, summary, opts->command));
    old_store_close(&old); /* before the commit may replace the old file */
    st = ms_store_finish(f, st);
    summary->seconds = ms_par_wtime() - t0;
    buffers_free(&b);
    if (cat) catalog_free(cat);
    ms_strlist_free(&files);
    return st;
}
