/* export.c: a catalog's /catalog group as a FITS binary table or CSV (see export.h). */
#include "mstars/export.h"
#include "mstars/schema.h"
#include "mstars/h5.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/schema.h"
#include "mstars/strlist.h"

#include <ctype.h>
#include <errno.h>
#include <fitsio.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* One column of the export. */
typedef struct {
    const char *name; /* dataset name (in the group's strlist) */
    char path[512];
    ms_h5_type type;
    size_t str_len, elem;
    char *units, *desc;
    const char *out_name; /* the exported name (opts->names) */
    char renamed[80];
    int obsid_int;        /* a string column of LAMOST ids written as int64 (null -1) */
    int64_t *ibuf;        /* obsid_int: the block's values */
    void *buf;    /* block_rows values */
    char *sbuf;   /* strings: block_rows NUL-terminated copies of (str_len + 1) bytes */
    char **sptr;  /* strings: pointers into sbuf (FITS) */
} column;

typedef struct {
    ms_h5 *h5;
    const char *catalog, *out;
    char partial[PATH_MAX + 16];
    ms_strlist names;
    column *cols;
    size_t ncols, nrows, block;
    ms_export_names naming;
} exporter;

ms_status ms_export_format_parse(const char *name, ms_export_format *fmt)
{
    if (name && strcasecmp(name, "fits") == 0) {
        *fmt = MS_EXPORT_FITS;
        return MS_OK;
    }
    if (name && strcasecmp(name, "csv") == 0) {
        *fmt = MS_EXPORT_CSV;
        return MS_OK;
    }
    MS_ERROR(MS_EINVAL, "unknown export format '%s' (expected fits or csv)",
             name ? name : "(none)");
}

ms_status ms_export_names_parse(const char *name, ms_export_names *names)
{
    if (name && strcasecmp(name, "hdf5") == 0) {
        *names = MS_EXPORT_NAMES_HDF5;
        return MS_OK;
    }
    if (name && strcasecmp(name, "lamost") == 0) {
        *names = MS_EXPORT_NAMES_LAMOST;
        return MS_OK;
    }
    MS_ERROR(MS_EINVAL, "unknown export naming '%s' (expected hdf5 or lamost)",
             name ? name : "(none)");
}

static size_t type_size(ms_h5_type t, size_t str_len)
{
    switch (t) {
    case MS_H5_F32: return 4;
    case MS_H5_F64: return 8;
    case MS_H5_I32: return 4;
    case MS_H5_I64: return 8;
    case MS_H5_U8: return 1;
    case MS_H5_U32: return 4;
    case MS_H5_STR: return str_len;
    }
    return 0;
}

/* A string attribute of a dataset, "" when absent. */
static ms_status attr_or_empty(ms_h5 *f, const char *obj, const char *name, char **out)
{
    ms_status st = ms_h5_attr_get_str(f, obj, name, out);
    if (st == MS_ENOTFOUND) {
        ms_error_clear();
        *out = ms_calloc("export.attr", 1, 1);
        return *out ? MS_OK : MS_ENOMEM;
    }
    return st;
}

static void exporter_free(exporter *e)
{
    for (size_t i = 0; i < e->ncols; i++) {
        ms_free(e->cols[i].units);
        ms_free(e->cols[i].desc);
        ms_free(e->cols[i].buf);
        ms_free(e->cols[i].sbuf);
        ms_free(e->cols[i].sptr);
        ms_free(e->cols[i].ibuf);
    }
    ms_free(e->cols);
    ms_strlist_free(&e->names);
    if (e->h5) ms_h5_close(e->h5);
    e->h5 = NULL;
}

/* ---------------------------------------------------------------- conventions
 *
 * Nulls, one per type (documented in export.h and the README):
 *   floats: NaN; the HDF5 sentinel -9999 (tio5, spt; LAMOST's own -9999) is written as NaN;
 *   signed integers: -1 (source_id, vbflag, activity, obsid without an id), FITS TNULLn = -1;
 *   unsigned integers (bit masks): no null; strings: empty. */
#define FLOAT_SENTINEL -9999.0

/* LAMOST / APOGEE style names (opts->names = MS_EXPORT_NAMES_LAMOST): e_<x> -> <x>_err, and
 * the LAMOST spellings below; every other name unchanged. */
static const char *const lamost_names[][2] = {
    {"snr_r", "snrr"}, {"snr_i", "snri"}, {"source_id", "gaia_source_id"},
    {"e_plx", "plx_err"},
};

static const char *export_name(const char *name, ms_export_names naming, char *buf, size_t len)
{
    if (naming != MS_EXPORT_NAMES_LAMOST) return name;
    for (size_t i = 0; i < sizeof lamost_names / sizeof lamost_names[0]; i++)
        if (strcmp(name, lamost_names[i][0]) == 0) return lamost_names[i][1];
    if (strncmp(name, "e_", 2) == 0 && name[2]) {
        snprintf(buf, len, "%s_err", name + 2);
        return buf;
    }
    return name;
}

/* obsid: LAMOST ids are 64-bit integers. A string column of them (every non-empty value a
 * decimal integer) is exported as int64, -1 where empty; any other text keeps it a string. */
static int parse_id(const char *s, int64_t *v)
{
    if (!*s) {
        *v = -1;
        return 1;
    }
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || *end || !isdigit((unsigned char)s[0])) return 0;
    *v = (int64_t)x;
    return 1;
}

static ms_status check_integer_strings(exporter *e, column *c)
{
    char text[256];
    int ok = c->str_len < sizeof text;
    for (size_t row0 = 0; ok && row0 < e->nrows; row0 += e->block) {
        size_t m = e->nrows - row0 < e->block ? e->nrows - row0 : e->block;
        MS_TRY(ms_h5_read_rows(e->h5, c->path, c->type, c->str_len, row0, m, c->buf));
        for (size_t r = 0; ok && r < m; r++) {
            memcpy(text, (const char *)c->buf + r * c->str_len, c->str_len);
            text[c->str_len] = '\0';
            int64_t v;
            ok = parse_id(text, &v);
        }
    }
    c->obsid_int = ok;
    return MS_OK;
}

/* After a block is read: the null conventions above, and obsid as integers. */
static void apply_conventions(column *c, size_t n)
{
    if (c->type == MS_H5_F64)
        for (size_t r = 0; r < n; r++) {
            double *v = (double *)c->buf + r;
            if (*v == FLOAT_SENTINEL) *v = NAN;
        }
    if (c->type == MS_H5_F32)
        for (size_t r = 0; r < n; r++) {
            float *v = (float *)c->buf + r;
            if (*v == (float)FLOAT_SENTINEL) *v = NAN;
        }
    if (c->obsid_int)
        for (size_t r = 0; r < n; r++)
            if (!parse_id(c->sptr[r], &c->ibuf[r])) c->ibuf[r] = -1;
}

/* The 1-D datasets of the group, their types, attributes and block buffers. */
static ms_status load_columns(exporter *e, const char *group)
{
    MS_TRY(ms_h5_list(e->h5, group, &e->names));
    e->cols = ms_calloc("export.cols", e->names.n ? e->names.n : 1, sizeof *e->cols);
    if (!e->cols) return MS_ENOMEM;
    int have_rows = 0;
    for (size_t i = 0; i < e->names.n; i++) {
        column *c = &e->cols[e->ncols];
        c->name = e->names.items[i];
        int n = snprintf(c->path, sizeof c->path, "%s%s%s", group,
                         group[strlen(group) - 1] == '/' ? "" : "/", c->name);
        if (n < 0 || (size_t)n >= sizeof c->path)
            MS_ERROR(MS_EINVAL, "%s: dataset name too long: %s", e->catalog, c->name);
        int rank;
        size_t dims[2];
        MS_TRY(ms_h5_dims(e->h5, c->path, &rank, dims));
        if (rank != 1) {
            ms_log_warn("export: %s: skipping %s (rank %d, not a column)", e->catalog, c->path,
                        rank);
            continue;
        }
        if (have_rows && dims[0] != e->nrows)
            MS_ERROR(MS_EFORMAT, "%s: column %s has %zu rows, the previous ones %zu", e->catalog,
                     c->path, dims[0], e->nrows);
        e->nrows = dims[0];
        have_rows = 1;
        MS_TRY(ms_h5_dset_type(e->h5, c->path, &c->type, &c->str_len));
        c->elem = type_size(c->type, c->str_len);
        e->ncols++; /* from here on c is freed by exporter_free */
        MS_TRY(attr_or_empty(e->h5, c->path, "units", &c->units));
        MS_TRY(attr_or_empty(e->h5, c->path, "description", &c->desc));
        c->buf = ms_malloc_array("export.block", e->block, c->elem);
        if (!c->buf) return MS_ENOMEM;
        c->out_name = export_name(c->name, e->naming, c->renamed, sizeof c->renamed);
        if (c->type == MS_H5_STR && strcmp(c->name, "obsid") == 0) {
            MS_TRY(check_integer_strings(e, c));
            if (c->obsid_int) {
                c->ibuf = ms_malloc_array("export.obsid", e->block, sizeof *c->ibuf);
                if (!c->ibuf) return MS_ENOMEM;
            }
        }
        if (c->type == MS_H5_STR) {
            c->sbuf = ms_malloc_array("export.strings", e->block, c->str_len + 1);
            c->sptr = ms_malloc_array("export.strptr", e->block, sizeof *c->sptr);
            if (!c->sbuf || !c->sptr) return MS_ENOMEM;
            for (size_t r = 0; r < e->block; r++) c->sptr[r] = c->sbuf + r * (c->str_len + 1);
        }
    }
    if (e->ncols == 0)
        MS_ERROR(MS_EFORMAT, "%s: no 1-D dataset under %s: nothing to export", e->catalog,
                 group);
    return MS_OK;
}

/* Read rows [row0, row0 + n) of every column; strings also NUL-terminated into sbuf. */
static ms_status read_block(exporter *e, size_t row0, size_t n)
{
    for (size_t k = 0; k < e->ncols; k++) {
        column *c = &e->cols[k];
        MS_TRY(ms_h5_read_rows(e->h5, c->path, c->type, c->str_len, row0, n, c->buf));
        if (c->type == MS_H5_STR) {
            const char *src = c->buf;
            for (size_t r = 0; r < n; r++) {
                memcpy(c->sptr[r], src + r * c->str_len, c->str_len);
                c->sptr[r][c->str_len] = '\0';
            }
        }
        apply_conventions(c, n);
    }
    return MS_OK;
}

/* ---------------------------------------------------------------- FITS */

/* cfitsio's message, and the system's reason when a write or close failed for one (a full
 * disk: cfitsio only says "error writing to FITS file"). */
#define FITS_FAIL(e, st, ...)                                                              \
    do {                                                                                   \
        int errno_ = errno;                                                                \
        char fits_msg_[FLEN_STATUS];                                                       \
        fits_get_errstatus((st), fits_msg_);                                               \
        char ctx_[512];                                                                    \
        snprintf(ctx_, sizeof ctx_, __VA_ARGS__);                                          \
        int sys_ = (st) == WRITE_ERROR || (st) == FILE_NOT_CLOSED || (st) == FILE_NOT_CREATED; \
        return ms_error_set(MS_EFITS, __FILE__, __LINE__, "%s: %s: cfitsio: %s%s%s",       \
                            (e)->partial, ctx_, fits_msg_, sys_ && errno_ ? ": " : "",      \
                            sys_ && errno_ ? strerror(errno_) : "");                       \
    } while (0)

/* Header keyword name of an attribute: upper case, other characters than A-Z 0-9 - _
 * replaced by '_'. Longer than 8 characters: cfitsio writes it with HIERARCH. */
static void key_name(const char *attr, char *key, size_t len)
{
    size_t i = 0;
    for (; attr[i] && i + 1 < len && i < 60; i++) {
        unsigned char ch = (unsigned char)attr[i];
        key[i] = (isalnum(ch) || ch == '-' || ch == '_') ? (char)toupper(ch) : '_';
    }
    key[i] = '\0';
}

/* Replace control characters (tabs, ...) by blanks: FITS headers are printable ASCII. */
static void printable(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 32 || (unsigned char)*s > 126) *s = ' ';
}

/* Short keywords of the provenance attributes whose names exceed 8 characters, so that
 * their values (hashes, revisions) can use the CONTINUE convention. */
static const char *const key_alias[][2] = {
    {"mstars_version", "MSVERSN"},   {"git_revision", "GITREV"},
    {"emulator_hash", "EMUHASH"},    {"preprocess_hash", "PREPHASH"},
    {"csn_hash", "CSNHASH"},         {"catalog_version", "CATVERSN"},
};

/* A string keyword. Names of <= 8 characters (or with an alias): the long-string CONTINUE
 * convention. Longer names: HIERARCH, which cfitsio cannot continue, so a value too long
 * for one card is truncated there (ending in "...") and written in full as COMMENT cards
 * "name: value". */
static void write_str_key(fitsfile *fp, const char *name, const char *key, const char *v,
                          const char *comment, int *fst)
{
    for (size_t i = 0; i < sizeof key_alias / sizeof key_alias[0]; i++)
        if (strcmp(name, key_alias[i][0]) == 0) key = key_alias[i][1];
    if (strlen(key) <= 8) {
        fits_write_key_longstr(fp, key, v, comment, fst);
        return;
    }
    size_t quotes = 0, len = strlen(v);
    for (const char *q = v; *q; q++) quotes += *q == '\'';
    /* "HIERARCH KEY = 'value'" within 80 characters */
    size_t used = 9 + strlen(key) + 3 + 2;
    size_t avail = used < 80 ? 80 - used : 0;
    if (len + quotes <= avail) {
        fits_write_key_str(fp, key, v, comment, fst);
        return;
    }
    char cut[81];
    size_t n = 0, w = 0;
    while (v[n] && avail > 3 && w + (v[n] == '\'' ? 2 : 1) <= avail - 3) {
        w += v[n] == '\'' ? 2 : 1;
        cut[n] = v[n];
        n++;
    }
    snprintf(cut + n, sizeof cut - n, "...");
    fits_write_key_str(fp, key, cut, NULL, fst);
    size_t clen = strlen(name) + strlen(v) + 32;
    char *card = ms_malloc("export.comment", clen);
    if (!card) {
        *fst = MEMORY_ALLOCATION;
        return;
    }
    snprintf(card, clen, "%s (full): %s", name, v);
    fits_write_comment(fp, card, fst);
    ms_free(card);
}

/* Copy the root attributes of the catalog into the current HDU's header. */
static ms_status write_root_keys(exporter *e, fitsfile *fp)
{
    ms_strlist attrs;
    MS_TRY(ms_h5_attr_list(e->h5, "/", &attrs));
    ms_status st = MS_OK;
    int fst = 0;
    for (size_t i = 0; i < attrs.n && st == MS_OK; i++) {
        const char *name = attrs.items[i];
        char key[72], comment[FLEN_COMMENT];
        key_name(name, key, sizeof key);
        snprintf(comment, sizeof comment, "catalog attribute %s", name);
        int cls = ms_h5_attr_class(e->h5, "/", name);
        if (cls == 's') {
            char *v;
            st = ms_h5_attr_get_str(e->h5, "/", name, &v);
            if (st != MS_OK) break;
            if (strchr(v, '\n')) {
                /* multi-line text (the configuration): COMMENT cards, one per line */
                char *save = NULL;
                for (char *line = strtok_r(v, "\n", &save); line && !fst;
                     line = strtok_r(NULL, "\n", &save)) {
                    char card[1024];
                    snprintf(card, sizeof card, "%s: %s", name, line);
                    printable(card);
                    fits_write_comment(fp, card, &fst);
                }
            } else {
                printable(v);
                write_str_key(fp, name, key, v, comment, &fst);
            }
            ms_free(v);
        } else if (cls == 'i' || cls == 'f') {
            double dv[64];
            int64_t iv[64];
            size_t n = 0;
            st = cls == 'i' ? ms_h5_attr_get_i64(e->h5, "/", name, iv, 64, &n)
                            : ms_h5_attr_get_f64(e->h5, "/", name, dv, 64, &n);
            if (st != MS_OK) {
                /* an array too long for a keyword: note it and go on */
                ms_error_clear();
                st = MS_OK;
                continue;
            }
            if (n == 1 && cls == 'i') {
                LONGLONG l = (LONGLONG)iv[0];
                fits_write_key(fp, TLONGLONG, key, &l, comment, &fst);
            } else if (n == 1 && isfinite(dv[0])) {
                fits_write_key_dbl(fp, key, dv[0], -17, comment, &fst);
            } else {
                char text[64 * 26 + 1];
                size_t used = 0;
                text[0] = '\0';
                for (size_t j = 0; j < n && used < sizeof text; j++) {
                    int w = cls == 'i' ? snprintf(text + used, sizeof text - used, "%s%lld",
                                                  j ? " " : "", (long long)iv[j])
                                       : snprintf(text + used, sizeof text - used, "%s%.17g",
                                                  j ? " " : "", dv[j]);
                    if (w < 0) break;
                    used += (size_t)w;
                }
                write_str_key(fp, name, key, text, comment, &fst);
            }
        }
        if (fst) {
            char msg[FLEN_STATUS];
            fits_get_errstatus(fst, msg);
            st = ms_error_set(MS_EFITS, __FILE__, __LINE__, "%s: header keyword for attribute "
                              "%s: cfitsio: %s", e->partial, name, msg);
        }
    }
    ms_strlist_free(&attrs);
    return st;
}

static const char *fits_tform(const column *c, char *buf, size_t len)
{
    if (c->obsid_int) return "1K";
    switch (c->type) {
    case MS_H5_F32: return "1E";
    case MS_H5_F64: return "1D";
    case MS_H5_I32: return "1J";
    case MS_H5_I64: return "1K";
    case MS_H5_U8: return "1B";
    case MS_H5_U32: return "1V";
    case MS_H5_STR: snprintf(buf, len, "%zuA", c->str_len); return buf;
    }
    return "1E";
}

static int fits_dtype(ms_h5_type t)
{
    switch (t) {
    case MS_H5_F32: return TFLOAT;
    case MS_H5_F64: return TDOUBLE;
    case MS_H5_I32: return TINT;
    case MS_H5_I64: return TLONGLONG;
    case MS_H5_U8: return TBYTE;
    case MS_H5_U32: return TUINT;
    case MS_H5_STR: return TSTRING;
    }
    return TFLOAT;
}

/* Units that the FITS standard (and so astropy and TOPCAT) reads: "dex" is not one. */
static int fits_unit(const char *u)
{
    return u && u[0] && strcmp(u, "dex") != 0;
}

/* The bit names of a flag column as "0=name,1=name,..." into buf (0 when it has none): the
 * schema's, except at_bound's own bit_names attribute (the emulator's label order). */
static int flag_text(exporter *e, const column *c, char *buf, size_t len)
{
    buf[0] = '\0';
    if (strcmp(c->name, "at_bound") == 0) {
        char *v = NULL;
        if (ms_h5_attr_get_str(e->h5, c->path, "bit_names", &v) == MS_OK) {
            snprintf(buf, len, "%s", v);
            ms_free(v);
            return 1;
        }
        ms_error_clear();
    }
    const char *const *bits = ms_schema_flag_bits(c->name);
    if (!bits) return 0;
    for (int b = 0; bits[b]; b++) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%d=%s", b ? "," : "", b, bits[b]);
    }
    return 1;
}

/* Column k's keywords besides TTYPE/TFORM/TUNIT: the description (TTYPEn comment, whole in
 * TCOMMn), TNULLn = -1 for signed integers, TFLAGn for flag columns. */
static ms_status fits_column_keys(exporter *e, fitsfile *fp, size_t k)
{
    const column *c = &e->cols[k];
    int fst = 0;
    char key[32], comment[FLEN_COMMENT];
    char *desc = ms_malloc("export.desc", strlen(c->desc) + 16);
    if (!desc) return MS_ENOMEM;
    snprintf(desc, strlen(c->desc) + 16, "%s%s", c->desc,
             c->units[0] && !fits_unit(c->units) ? (c->desc[0] ? " [dex]" : "[dex]") : "");
    printable(desc);
    if (desc[0]) {
        snprintf(key, sizeof key, "TTYPE%zu", k + 1);
        snprintf(comment, sizeof comment, "%s", desc);
        fits_modify_comment(fp, key, comment, &fst);
        snprintf(key, sizeof key, "TCOMM%zu", k + 1);
        if (!fst) fits_write_key_longstr(fp, key, desc, "description", &fst);
    }
    ms_free(desc);
    if (!fst && (c->type == MS_H5_I32 || c->type == MS_H5_I64 || c->obsid_int)) {
        snprintf(key, sizeof key, "TNULL%zu", k + 1);
        LONGLONG null = -1;
        fits_write_key(fp, TLONGLONG, key, &null, "null value", &fst);
    }
    char bits[2048];
    if (!fst && flag_text(e, c, bits, sizeof bits)) {
        snprintf(key, sizeof key, "TFLAG%zu", k + 1);
        fits_write_key_longstr(fp, key, bits, "bit k = value 2^k: name", &fst);
    }
    if (fst) FITS_FAIL(e, fst, "keywords of column %s", c->name);
    return MS_OK;
}

static ms_status fits_body(exporter *e, fitsfile *fp)
{
    int fst = 0;
    fits_create_img(fp, BYTE_IMG, 0, NULL, &fst);
    if (fst) FITS_FAIL(e, fst, "creating the primary HDU");
    fits_write_key_longwarn(fp, &fst);
    if (fst) FITS_FAIL(e, fst, "writing LONGSTRN");
    MS_TRY(write_root_keys(e, fp));

    size_t n = e->ncols;
    char **ttype = ms_calloc("export.ttype", n, sizeof *ttype);
    char **tform = ms_calloc("export.tform", n, sizeof *tform);
    char **tunit = ms_calloc("export.tunit", n, sizeof *tunit);
    char(*forms)[32] = ms_calloc("export.forms", n, sizeof *forms);
    if (!ttype || !tform || !tunit || !forms) {
        ms_free(ttype);
        ms_free(tform);
        ms_free(tunit);
        ms_free(forms);
        return MS_ENOMEM;
    }
    for (size_t k = 0; k < n; k++) {
        ttype[k] = (char *)e->cols[k].out_name;
        tform[k] = (char *)fits_tform(&e->cols[k], forms[k], sizeof forms[k]);
        tunit[k] = fits_unit(e->cols[k].units) ? e->cols[k].units : "";
    }
    if (n > INT_MAX) fst = BAD_TFIELDS;
    else
        fits_create_tbl(fp, BINARY_TBL, 0, (int)n, ttype, tform, tunit, "CATALOG", &fst);
    ms_free(ttype);
    ms_free(tform);
    ms_free(tunit);
    ms_free(forms);
    if (fst) FITS_FAIL(e, fst, "creating the binary table of %zu columns", n);
    for (size_t k = 0; k < n; k++) MS_TRY(fits_column_keys(e, fp, k));
    MS_TRY(write_root_keys(e, fp));

    for (size_t row0 = 0; row0 < e->nrows; row0 += e->block) {
        size_t m = e->nrows - row0 < e->block ? e->nrows - row0 : e->block;
        MS_TRY(read_block(e, row0, m));
        for (size_t k = 0; k < n; k++) {
            column *c = &e->cols[k];
            void *data = c->obsid_int ? (void *)c->ibuf
                         : c->type == MS_H5_STR ? (void *)c->sptr : c->buf;
            fits_write_col(fp, c->obsid_int ? TLONGLONG : fits_dtype(c->type), (int)(k + 1),
                           (LONGLONG)row0 + 1, 1,
                           (LONGLONG)m, data, &fst);
            if (fst) FITS_FAIL(e, fst, "writing column %s rows %zu..%zu", c->name, row0,
                               row0 + m - 1);
        }
    }
    return MS_OK;
}

static ms_status write_fits(exporter *e)
{
    fitsfile *fp = NULL;
    int fst = 0;
    /* fits_create_diskfile: the name is taken literally (no extended-filename syntax) */
    fits_create_diskfile(&fp, e->partial, &fst);
    if (fst) FITS_FAIL(e, fst, "cannot create the file");
    ms_status st = fits_body(e, fp);
    int cst = 0;
    errno = 0;
    fits_close_file(fp, &cst);
    if (st == MS_OK && cst) FITS_FAIL(e, cst, "closing the file");
    return st;
}

/* ---------------------------------------------------------------- CSV */

static void csv_string(FILE *out, const char *s)
{
    size_t len = strlen(s);
    int quote = len == 0 || s[0] == ' ' || s[len - 1] == ' ' || strpbrk(s, ",\"\r\n") != NULL;
    if (!quote) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"') fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* The fewest significant digits (from `least`) that read back to exactly v: shortest round
 * trip, so 16.8375 stays 16.8375. single: v is a float32. */
static void csv_float(FILE *out, double v, int least, int single)
{
    if (isnan(v)) return; /* NaN: empty field */
    if (isinf(v)) {
        fputs(v > 0 ? "inf" : "-inf", out);
        return;
    }
    char text[40];
    int most = single ? 9 : 17;
    for (int digits = least; digits <= most; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, v);
        if (single ? strtof(text, NULL) == (float)v : strtod(text, NULL) == v) break;
    }
    fputs(text, out);
}

static void csv_value(FILE *out, const column *c, size_t r)
{
    if (c->obsid_int) {
        fprintf(out, "%lld", (long long)c->ibuf[r]);
        return;
    }
    switch (c->type) {
    case MS_H5_F32: csv_float(out, ((const float *)c->buf)[r], 6, 1); break;
    case MS_H5_F64: csv_float(out, ((const double *)c->buf)[r], 15, 0); break;
    case MS_H5_I32: fprintf(out, "%ld", (long)((const int32_t *)c->buf)[r]); break;
    case MS_H5_I64: fprintf(out, "%lld", (long long)((const int64_t *)c->buf)[r]); break;
    case MS_H5_U8: fprintf(out, "%u", (unsigned)((const uint8_t *)c->buf)[r]); break;
    case MS_H5_U32: fprintf(out, "%lu", (unsigned long)((const uint32_t *)c->buf)[r]); break;
    case MS_H5_STR: csv_string(out, c->sptr[r]); break;
    }
}

static ms_status csv_body(exporter *e, FILE *out)
{
    for (size_t k = 0; k < e->ncols; k++) {
        if (k) fputc(',', out);
        csv_string(out, e->cols[k].out_name);
    }
    fputc('\n', out);
    for (size_t row0 = 0; row0 < e->nrows; row0 += e->block) {
        size_t m = e->nrows - row0 < e->block ? e->nrows - row0 : e->block;
        MS_TRY(read_block(e, row0, m));
        for (size_t r = 0; r < m; r++) {
            for (size_t k = 0; k < e->ncols; k++) {
                if (k) fputc(',', out);
                csv_value(out, &e->cols[k], r);
            }
            fputc('\n', out);
        }
        if (ferror(out)) MS_ERROR(MS_EIO, "%s: write error: %s", e->partial, strerror(errno));
    }
    return MS_OK;
}

static ms_status write_csv(exporter *e)
{
    FILE *out = fopen(e->partial, "w");
    if (!out) MS_ERROR(MS_EIO, "%s: cannot create: %s", e->partial, strerror(errno));
    ms_status st = csv_body(e, out);
    int bad = ferror(out);
    if (fclose(out) != 0 || bad) {
        if (st == MS_OK)
            st = ms_error_set(MS_EIO, __FILE__, __LINE__, "%s: write error: %s", e->partial,
                              strerror(errno));
    }
    return st;
}

/* ---------------------------------------------------------------- driver */

ms_status ms_export_catalog(const char *catalog, const char *out, const ms_export_opts *opts,
                            size_t *nrows, size_t *ncols)
{
    if (!catalog || !out || !opts) MS_ERROR(MS_EINVAL, "export: missing argument");
    if (opts->format != MS_EXPORT_FITS && opts->format != MS_EXPORT_CSV)
        MS_ERROR(MS_EINVAL, "export: unknown format %d", (int)opts->format);
    if (!opts->force && access(out, F_OK) == 0)
        MS_ERROR(MS_EIO, "%s: the output exists (use --force to overwrite it)", out);
    exporter e;
    memset(&e, 0, sizeof e);
    e.catalog = catalog;
    e.out = out;
    e.block = opts->block_rows ? opts->block_rows : MS_EXPORT_BLOCK_ROWS;
    e.naming = opts->names;
    int n = snprintf(e.partial, sizeof e.partial, "%s.partial", out);
    if (n < 0 || (size_t)n >= sizeof e.partial) MS_ERROR(MS_EINVAL, "%s: path too long", out);

    ms_status st = ms_h5_open_read(catalog, 0, &e.h5);
    if (st != MS_OK) return st;
    st = load_columns(&e, opts->group ? opts->group : MS_CATALOG_GROUP);
    if (st == MS_OK) {
        if (unlink(e.partial) != 0 && errno != ENOENT)
            st = ms_error_set(MS_EIO, __FILE__, __LINE__, "%s: cannot remove: %s", e.partial,
                              strerror(errno));
    }
    if (st == MS_OK) st = opts->format == MS_EXPORT_FITS ? write_fits(&e) : write_csv(&e);
    if (st == MS_OK && rename(e.partial, out) != 0)
        st = ms_error_set(MS_EIO, __FILE__, __LINE__, "%s: cannot rename to %s: %s", e.partial,
                          out, strerror(errno));
    if (st != MS_OK) unlink(e.partial);
    if (st == MS_OK) {
        if (nrows) *nrows = e.nrows;
        if (ncols) *ncols = e.ncols;
    }
    exporter_free(&e);
    return st;
}
