/* lamost_read.c: LAMOST LRS spectra in every data-release layout (see lamost.h).
 *
 * One call = open, look at the primary header, read the five arrays with one cfitsio
 * call each, close. The layout is decided from the structure (primary NAXIS, EXTEN0,
 * the COADD table), never from DATA_V. Metadata keywords are read from the primary
 * header; for the table layout any that are missing there are looked up in the COADD
 * header as well.
 *
 * Error discipline: the inner helpers only record a message and return a status; the
 * single caller ms_lamost_read frees the arrays and closes the file on every path. */
#include "mstars/lamost.h"
#include "fits_read_util.h"
#include "mstars/mem.h"
#include "mstars/status.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N_ROWS = 5 }; /* flux, ivar, wavelength (or subcontinuum), andmask, ormask */

/* LRS spectra have ~3900 pixels. A header claiming far more is corrupt: refuse it before
 * allocating (a 4-byte garbage NAXIS1 would otherwise ask for gigabytes). */
enum { MAX_PIXELS = 1 << 20 };

/* ------------------------------------------------------------------------------------ */
/* Header keywords                                                                       */

/* Raw value text of a keyword (quotes included), or 0 when absent or without a value. */
static int key_raw(fitsfile *fp, const char *key, char value[FLEN_VALUE])
{
    int st = 0;
    char comment[FLEN_COMMENT];
    if (fits_read_keyword(fp, key, value, comment, &st) != 0) {
        fits_clear_errmsg();
        return 0;
    }
    return value[0] != '\0';
}

/* Text of a value: a quoted string is unquoted ('' -> ') and trimmed, a bare value (a
 * number written without quotes) is copied as is. */
static void value_text(const char *raw, char *dst, size_t len)
{
    size_t k = 0;
    if (raw[0] == '\'') {
        for (const char *p = raw + 1; *p; p++) {
            if (*p == '\'') {
                if (p[1] != '\'') break;
                p++;
            }
            if (k + 1 < len) dst[k++] = *p;
        }
    } else {
        for (const char *p = raw; *p && k + 1 < len; p++) dst[k++] = *p;
    }
    while (k > 0 && dst[k - 1] == ' ') k--;
    dst[k] = '\0';
    size_t lead = strspn(dst, " ");
    if (lead) memmove(dst, dst + lead, k - lead + 1);
}

/* Number from a value, quoted or not, with Fortran D exponents allowed. */
static int value_double(const char *raw, double *out)
{
    char txt[FLEN_VALUE];
    value_text(raw, txt, sizeof txt);
    for (char *p = txt; *p; p++)
        if (*p == 'D' || *p == 'd') *p = 'E';
    char *end;
    double v = strtod(txt, &end);
    if (end == txt || *end != '\0') return 0;
    *out = v;
    return 1;
}

static void key_string(fitsfile *fp, const char *key, char *dst, size_t len)
{
    char raw[FLEN_VALUE];
    if (dst[0] == '\0' && key_raw(fp, key, raw)) value_text(raw, dst, len);
}

static void key_double(fitsfile *fp, const char *key, double *dst)
{
    char raw[FLEN_VALUE];
    if (isnan(*dst) && key_raw(fp, key, raw) && !value_double(raw, dst)) *dst = NAN;
}

/* Integers may be written as strings in old files (FIBERID = '1       '). */
static void key_long(fitsfile *fp, const char *key, long *dst)
{
    char raw[FLEN_VALUE];
    double v;
    if (*dst == -1 && key_raw(fp, key, raw) && value_double(raw, &v) && v == floor(v) &&
        fabs(v) < 9e15)
        *dst = (long)v;
}

static void meta_init(ms_lamost_meta *m)
{
    memset(m, 0, sizeof *m);
    m->ra = m->dec = m->z = m->z_err = NAN;
    for (int i = 0; i < 5; i++) m->snr[i] = NAN;
    m->lmjd = -1;
    m->spid = m->fiberid = -1;
}

/* Fill the fields of `m` that are still missing from the current header. Keys are asked
 * in the order LAMOST writes them, which keeps cfitsio's keyword search short. */
static void meta_read(fitsfile *fp, ms_lamost_meta *m)
{
    static const char *const snr_new[5] = {"SNRU", "SNRG", "SNRR", "SNRI", "SNRZ"};
    static const char *const snr_dr1[5] = {"SN_U", "SN_G", "SN_R", "SN_I", "SN_Z"};
    long spid = m->spid, fiberid = m->fiberid;

    key_string(fp, "OBSID", m->obsid, sizeof m->obsid);
    key_string(fp, "DATA_V", m->data_v, sizeof m->data_v);
    key_long(fp, "LMJD", &m->lmjd);
    key_string(fp, "PLANID", m->planid, sizeof m->planid);
    key_double(fp, "RA", &m->ra);
    key_double(fp, "DEC", &m->dec);
    key_string(fp, "DESIG", m->desig, sizeof m->desig);
    key_long(fp, "FIBERID", &fiberid);
    key_long(fp, "SPID", &spid);
    key_string(fp, "CLASS", m->cls, sizeof m->cls);
    key_string(fp, "SUBCLASS", m->subclass, sizeof m->subclass);
    key_double(fp, "Z", &m->z);
    key_double(fp, "Z_ERR", &m->z_err);
    for (int i = 0; i < 5; i++) key_double(fp, snr_new[i], &m->snr[i]);
    for (int i = 0; i < 5; i++) key_double(fp, snr_dr1[i], &m->snr[i]);

    if (fiberid >= -1 && fiberid <= 100000) m->fiberid = (int)fiberid;
    if (spid >= -1 && spid <= 100000) m->spid = (int)spid;
}

static int meta_incomplete(const ms_lamost_meta *m)
{
    int missing = !m->obsid[0] || !m->desig[0] || !m->cls[0] || !m->subclass[0] ||
                  !m->planid[0] || !m->data_v[0] || isnan(m->ra) || isnan(m->dec) ||
                  isnan(m->z) || isnan(m->z_err) || m->lmjd == -1 || m->spid == -1 ||
                  m->fiberid == -1;
    for (int i = 0; i < 5; i++) missing |= isnan(m->snr[i]);
    return missing;
}

/* ------------------------------------------------------------------------------------ */
/* Arrays                                                                                */

static ms_status alloc_spectrum(const char *path, ms_lamost_spectrum *s, size_t n)
{
    s->n = n;
    s->wave = ms_malloc_array("lamost wave", n, sizeof *s->wave);
    s->flux = ms_malloc_array("lamost flux", n, sizeof *s->flux);
    s->ivar = ms_malloc_array("lamost ivar", n, sizeof *s->ivar);
    s->andmask = ms_malloc_array("lamost andmask", n, sizeof *s->andmask);
    s->ormask = ms_malloc_array("lamost ormask", n, sizeof *s->ormask);
    if (!s->wave || !s->flux || !s->ivar || !s->andmask || !s->ormask)
        MS_ERROR(MS_ENOMEM, "%s: out of memory for a spectrum of %zu pixels", path, n);
    return MS_OK;
}

/* Masks are stored as floating point. They were read as float into the uint32 array
 * itself (same size, saves a scratch buffer); convert in place. A value that is not a
 * small non-negative integer cannot be a mask: flag the pixel with every bit. */
static void masks_from_float(uint32_t *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float f;
        memcpy(&f, &m[i], sizeof f);
        uint32_t u = (f >= 0.0f && f <= 4294967040.0f) ? (uint32_t)f : UINT32_MAX;
        m[i] = ((float)u == f) ? u : UINT32_MAX; /* also catches NaN and fractions */
    }
}

/* The wavelength must be usable as an axis: finite, positive, strictly increasing. An
 * all-zero row gets its own message. */
static ms_status check_wave(const char *path, const char *where, const double *w, size_t n)
{
    double prev = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (w[i] > prev && w[i] <= 1e300) { /* the common case: one test per pixel */
            prev = w[i];
            continue;
        }
        size_t zeros = 0;
        for (size_t j = 0; j < n; j++) zeros += (w[j] == 0.0);
        if (zeros == n) MS_ERROR(MS_EFORMAT, "%s: %s: wavelength is all zero", path, where);
        if (!(isfinite(w[i]) && w[i] > 0.0))
            MS_ERROR(MS_EFORMAT, "%s: %s: wavelength[%zu] = %g is not a positive number", path,
                     where, i, w[i]);
        MS_ERROR(MS_EFORMAT, "%s: %s: wavelength not increasing at pixel %zu (%g after %g)",
                 path, where, i, w[i], prev);
    }
    return MS_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Image layouts (DR1-DR8)                                                               */

/* 1 when the third row is named a wavelength, 0 when it is named a (sub)continuum flux,
 * -1 when EXTEN0 is absent or names neither. EXTEN0 separates names by commas or spaces:
 * 'Flux, Inverse, Wavelength, Andmask, Ormask' or 'Flux Inverse Subcontinuum ...'. */
static int row2_is_wavelength(fitsfile *fp)
{
    char raw[FLEN_VALUE], txt[FLEN_VALUE];
    if (!key_raw(fp, "EXTEN0", raw)) return -1;
    value_text(raw, txt, sizeof txt);
    char *save = NULL, *tok = strtok_r(txt, ", ", &save);
    for (int i = 0; tok && i < 2; i++) tok = strtok_r(NULL, ", ", &save);
    if (!tok) return -1;
    if (strncasecmp(tok, "wave", 4) == 0) return 1;
    if (strncasecmp(tok, "subcont", 7) == 0 || strncasecmp(tok, "cont", 4) == 0) return 0;
    return -1;
}

/* Without a usable EXTEN0: row 2 is the wavelength if it looks like one (increasing,
 * inside 1000..100000 A); otherwise treat it as the DR1 subcontinuum row. */
static int row2_looks_like_wavelength(const double *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!(w[i] > 1000.0 && w[i] < 100000.0)) return 0;
        if (i > 0 && !(w[i] > w[i - 1])) return 0;
    }
    return 1;
}

/* 10^(COEFF0 + COEFF1 i). Exact pow every 64 pixels, a constant ratio in between: the
 * relative error stays below ~1e-14 at a fraction of the cost of a pow per pixel. */
static ms_status wave_from_coeffs(fitsfile *fp, const char *path, double *w, size_t n)
{
    char raw[FLEN_VALUE];
    double c0, c1;
    if (!key_raw(fp, "COEFF0", raw) || !value_double(raw, &c0))
        MS_ERROR(MS_EFITS, "%s: primary HDU: no numeric keyword COEFF0 (needed for the "
                 "wavelength of the subcontinuum layout)", path);
    if (!key_raw(fp, "COEFF1", raw) || !value_double(raw, &c1))
        MS_ERROR(MS_EFITS, "%s: primary HDU: no numeric keyword COEFF1 (needed for the "
                 "wavelength of the subcontinuum layout)", path);
    double ratio = pow(10.0, c1);
    for (size_t i = 0; i < n; i++)
        w[i] = (i % 64 == 0) ? pow(10.0, c0 + c1 * (double)i) : w[i - 1] * ratio;
    return MS_OK;
}

static ms_status read_image_row(fitsfile *fp, const char *path, int datatype, long n, int row,
                                void *dst)
{
    static const char *const names[N_ROWS] = {"flux", "inverse variance", "wavelength",
                                              "andmask", "ormask"};
    int st = 0, anynul = 0;
    if (fits_read_img(fp, datatype, (LONGLONG)row * n + 1, n, NULL, dst, &anynul, &st)) {
        char what[96];
        snprintf(what, sizeof what, "primary HDU: reading image row %d (%s)", row, names[row]);
        return ms_fits_fail(path, what, st);
    }
    return MS_OK;
}

static ms_status read_image(fitsfile *fp, const char *path, long npix, long nrows,
                            ms_lamost_spectrum *s, ms_lamost_layout *layout)
{
    if (npix <= 0 || npix > MAX_PIXELS)
        MS_ERROR(MS_EFORMAT, "%s: primary HDU: implausible pixel count NAXIS1 = %ld", path,
                 npix);
    MS_TRY(alloc_spectrum(path, s, (size_t)npix));
    MS_TRY(read_image_row(fp, path, TDOUBLE, npix, 0, s->flux));
    MS_TRY(read_image_row(fp, path, TDOUBLE, npix, 1, s->ivar));
    MS_TRY(read_image_row(fp, path, TDOUBLE, npix, 2, s->wave));
    if (nrows >= 5) {
        MS_TRY(read_image_row(fp, path, TFLOAT, npix, 3, s->andmask));
        MS_TRY(read_image_row(fp, path, TFLOAT, npix, 4, s->ormask));
        masks_from_float(s->andmask, s->n);
        masks_from_float(s->ormask, s->n);
    } else { /* a 3- or 4-row image carries no masks: every pixel unflagged */
        memset(s->andmask, 0, s->n * sizeof *s->andmask);
        memset(s->ormask, 0, s->n * sizeof *s->ormask);
    }

    int named = row2_is_wavelength(fp);
    int is_wave = named >= 0 ? named : row2_looks_like_wavelength(s->wave, s->n);
    if (is_wave) {
        *layout = MS_LAMOST_IMAGE;
        return check_wave(path, "primary HDU image row 2", s->wave, s->n);
    }
    *layout = MS_LAMOST_IMAGE_SUBCONT;
    MS_TRY(wave_from_coeffs(fp, path, s->wave, s->n));
    return check_wave(path, "primary HDU COEFF0/COEFF1", s->wave, s->n);
}

/* ------------------------------------------------------------------------------------ */
/* Table layout (DR9 and later)                                                          */

/* Move to the COADD extension (by name, else HDU 2) and check it is a binary table.
 * A file that ends cleanly after the primary HDU lacks the table (MS_EFITS); one with
 * bytes after it that do not make an HDU is truncated or damaged (MS_EIO). */
static ms_status goto_coadd(fitsfile *fp, const char *path, char hduname[32])
{
    int st = 0, type = 0, nhdu = 0;
    LONGLONG head = 0, data = 0, primary_end = 0;
    fits_get_hduaddrll(fp, &head, &data, &primary_end, &st);
    st = 0;
    if (fits_movnam_hdu(fp, BINARY_TBL, "COADD", 0, &st) == 0) {
        snprintf(hduname, 32, "HDU %d 'COADD'", fits_get_hdu_num(fp, &nhdu));
        return MS_OK;
    }
    fits_clear_errmsg();
    st = 0;
    if (fits_movabs_hdu(fp, 2, &type, &st) != 0) {
        /* filesize: bytes in the file (inflated size for gzip), from cfitsio's handle */
        char text[FLEN_STATUS];
        fits_get_errstatus(st, text);
        fits_clear_errmsg();
        if (st != END_OF_FILE || fp->Fptr->filesize > primary_end)
            MS_ERROR(MS_EIO, "%s: the bytes after the primary HDU do not make a readable HDU 2 "
                     "(truncated or damaged): cfitsio status %d (%s)", path, st, text);
        MS_ERROR(MS_EFITS, "%s: no HDU 'COADD' and no HDU 2: the file ends after a primary "
                 "HDU that holds no spectrum image (that needs NAXIS = 2, NAXIS2 >= 3)", path);
    }
    snprintf(hduname, 32, "HDU 2");
    if (type != BINARY_TBL)
        MS_ERROR(MS_EFORMAT, "%s: %s is not a binary table and the primary HDU holds no "
                 "spectrum image", path, hduname);
    return MS_OK;
}

/* Column number and element count of one vector column in row 1. */
static ms_status find_column(fitsfile *fp, const char *path, const char *hdu, const char *name,
                             int *col, long *repeat)
{
    int st = 0, typecode = 0;
    long width = 0;
    if (fits_get_colnum(fp, CASEINSEN, (char *)name, col, &st)) {
        fits_clear_errmsg();
        MS_ERROR(MS_EFITS, "%s: %s has no column %s", path, hdu, name);
    }
    if (fits_get_coltype(fp, *col, &typecode, repeat, &width, &st)) {
        char what[96];
        snprintf(what, sizeof what, "%s column %s", hdu, name);
        return ms_fits_fail(path, what, st);
    }
    if (typecode < 0) { /* variable-length array: the count is in the row descriptor */
        LONGLONG len = 0, off = 0;
        if (fits_read_descriptll(fp, *col, 1, &len, &off, &st)) {
            char what[96];
            snprintf(what, sizeof what, "%s column %s descriptor", hdu, name);
            return ms_fits_fail(path, what, st);
        }
        *repeat = (long)len;
        typecode = -typecode;
    }
    if (typecode == TSTRING || typecode == TLOGICAL || typecode == TBIT)
        MS_ERROR(MS_EFORMAT, "%s: %s column %s is not numeric", path, hdu, name);
    return MS_OK;
}

static ms_status read_column(fitsfile *fp, const char *path, const char *hdu, const char *name,
                             int col, int datatype, long n, void *dst)
{
    int st = 0, anynul = 0;
    if (fits_read_col(fp, datatype, col, 1, 1, n, NULL, dst, &anynul, &st)) {
        char what[96];
        snprintf(what, sizeof what, "%s: reading column %s", hdu, name);
        return ms_fits_fail(path, what, st);
    }
    return MS_OK;
}

static ms_status read_table(fitsfile *fp, const char *path, ms_lamost_spectrum *s)
{
    static const char *const names[N_ROWS] = {"FLUX", "IVAR", "WAVELENGTH", "ANDMASK",
                                              "ORMASK"};
    char hdu[32];
    MS_TRY(goto_coadd(fp, path, hdu));

    int st = 0;
    long nrows = 0;
    if (fits_get_num_rows(fp, &nrows, &st)) return ms_fits_fail(path, hdu, st);
    if (nrows < 1) MS_ERROR(MS_EFORMAT, "%s: %s has no rows", path, hdu);

    int col[N_ROWS];
    long rep[N_ROWS];
    for (int i = 0; i < N_ROWS; i++)
        MS_TRY(find_column(fp, path, hdu, names[i], &col[i], &rep[i]));
    for (int i = 1; i < N_ROWS; i++)
        if (rep[i] != rep[0])
            MS_ERROR(MS_EFORMAT, "%s: %s column %s has %ld elements but FLUX has %ld", path, hdu,
                     names[i], rep[i], rep[0]);
    if (rep[0] <= 0) MS_ERROR(MS_EFORMAT, "%s: %s column FLUX has no pixels", path, hdu);
    if (rep[0] > MAX_PIXELS)
        MS_ERROR(MS_EFORMAT, "%s: %s column FLUX has an implausible %ld pixels", path, hdu,
                 rep[0]);

    MS_TRY(alloc_spectrum(path, s, (size_t)rep[0]));
    MS_TRY(read_column(fp, path, hdu, names[0], col[0], TDOUBLE, rep[0], s->flux));
    MS_TRY(read_column(fp, path, hdu, names[1], col[1], TDOUBLE, rep[0], s->ivar));
    MS_TRY(read_column(fp, path, hdu, names[2], col[2], TDOUBLE, rep[0], s->wave));
    MS_TRY(read_column(fp, path, hdu, names[3], col[3], TFLOAT, rep[0], s->andmask));
    MS_TRY(read_column(fp, path, hdu, names[4], col[4], TFLOAT, rep[0], s->ormask));
    masks_from_float(s->andmask, s->n);
    masks_from_float(s->ormask, s->n);

    char where[64];
    snprintf(where, sizeof where, "%s column WAVELENGTH", hdu);
    return check_wave(path, where, s->wave, s->n);
}

/* ------------------------------------------------------------------------------------ */

static ms_status read_open(fitsfile *fp, const char *path, ms_lamost_spectrum *spec,
                           ms_lamost_meta *meta)
{
    int st = 0, bitpix = 0, naxis = 0;
    long naxes[2] = {0, 0};
    /* cfitsio takes the shape from NAXIS, so stale NAXIS1/NAXIS2 cards (DR9+) are ignored */
    if (fits_get_img_param(fp, 2, &bitpix, &naxis, naxes, &st))
        return ms_fits_fail(path, "primary HDU", st);

    ms_lamost_meta m;
    meta_init(&m);
    if (meta) meta_read(fp, &m);

    if (naxis == 2 && naxes[1] >= 3) {
        MS_TRY(read_image(fp, path, naxes[0], naxes[1], spec, &m.layout));
    } else if (naxis != 0 && !(naxis == 2 && naxes[1] < 3)) {
        MS_ERROR(MS_EFORMAT, "%s: primary HDU has NAXIS = %d: neither a spectrum image "
                 "(NAXIS = 2, NAXIS2 >= 3) nor a header for a COADD table", path, naxis);
    } else {
        MS_TRY(read_table(fp, path, spec));
        m.layout = MS_LAMOST_COADD;
        if (meta && meta_incomplete(&m)) meta_read(fp, &m); /* fall back to HDU 2 header */
    }
    if (meta) *meta = m;
    return MS_OK;
}

ms_status ms_lamost_read(const char *path, ms_lamost_spectrum *spec, ms_lamost_meta *meta)
{
    if (!path || !spec) MS_ERROR(MS_EINVAL, "ms_lamost_read: NULL path or spectrum");
    memset(spec, 0, sizeof *spec);
    if (meta) meta_init(meta);

    fitsfile *fp = NULL;
    MS_TRY(ms_fits_open_read(path, &fp));
    ms_status rc = read_open(fp, path, spec, meta);
    ms_fits_close(fp);
    if (rc != MS_OK) {
        ms_lamost_spectrum_free(spec);
        if (meta) meta_init(meta);
    }
    return rc;
}

void ms_lamost_spectrum_free(ms_lamost_spectrum *spec)
{
    if (!spec) return;
    ms_free(spec->wave);
    ms_free(spec->flux);
    ms_free(spec->ivar);
    ms_free(spec->andmask);
    ms_free(spec->ormask);
    memset(spec, 0, sizeof *spec);
}

const char *ms_lamost_layout_name(ms_lamost_layout layout)
{
    switch (layout) {
    case MS_LAMOST_COADD: return "dr9-coadd";
    case MS_LAMOST_IMAGE: return "dr2-dr8-image";
    case MS_LAMOST_IMAGE_SUBCONT: return "dr1-subcont";
    }
    return "unknown";
}
