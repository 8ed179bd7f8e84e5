/* grid_read.c: synthetic model spectra (BT-Settl / PHOENIX) in their real formats.
 *
 * ASCII models are read into memory in one go and parsed with a small decimal parser
 * (exactly rounded for the usual <= 19-digit, |exp| <= 22 numbers, strtod otherwise) that
 * also takes Fortran D exponents; a grid of ~1000 files of up to 50,000 rows is parsed in
 * seconds. Every format ends in the same place: (wave, flux) rows inside the requested
 * range, stably sorted by wavelength, the first of equal wavelengths kept. */
#include "mstars/grid.h"
#include "fits_read_util.h"
#include "mstars/mem.h"
#include "mstars/status.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    double w, f;
} row;

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ------------------------------------------------------------------------------------ */
/* Labels from the file name                                                             */

/* Length of a number "[sign]digits[.digits]" at p (0 when there is none). The sign is
 * required when `sign` is 2, allowed when 1, refused when 0. */
static size_t number_span(const char *p, int sign)
{
    size_t k = 0;
    if (p[0] == '+' || p[0] == '-') {
        if (!sign) return 0;
        k++;
    } else if (sign == 2) {
        return 0;
    }
    size_t digits = strspn(p + k, "0123456789");
    if (digits == 0) return 0;
    k += digits;
    if (p[k] == '.' && isdigit((unsigned char)p[k + 1])) k += 1 + strspn(p + k + 1, "0123456789");
    return k;
}

/* Parse the number of length len at *p and advance. */
static double take_number(const char **p, size_t len)
{
    char buf[32];
    if (len >= sizeof buf) len = sizeof buf - 1;
    memcpy(buf, *p, len);
    buf[len] = '\0';
    *p += len;
    return strtod(buf, NULL) + 0.0; /* + 0.0 turns the "-0.0" of the names into 0 */
}

ms_status ms_grid_parse_name(const char *path, ms_grid_labels *labels)
{
    if (!path || !labels) MS_ERROR(MS_EINVAL, "ms_grid_parse_name: NULL argument");
    const char *name = base_name(path), *p = name;
    const char *want = "lte{Teff/100}-{logg}{[M/H]}[a{[alpha/M]}]";
    size_t k;

    if (strncmp(p, "lte", 3) != 0)
        MS_ERROR(MS_EFORMAT, "%s: grid file name does not start with 'lte' (expected %s)", path,
                 want);
    p += 3;
    if ((k = number_span(p, 0)) == 0)
        MS_ERROR(MS_EFORMAT, "%s: no Teff after 'lte' in the file name (expected %s)", path, want);
    double t = take_number(&p, k);
    /* BT-Settl writes Teff/100 (033, 033.5); the 5-digit PHOENIX form (03300) is in K.
     * Rounding to 1e-4 K keeps "033.3" at 3330 instead of 3329.9999999999995. */
    labels->teff = t < 1000.0 ? nearbyint(t * 1e6) / 1e4 : t;
    if (*p != '-' || (k = number_span(p + 1, 1)) == 0)
        MS_ERROR(MS_EFORMAT, "%s: no '-{logg}' after Teff in the file name (expected %s)", path,
                 want);
    p++;
    labels->logg = take_number(&p, k);
    if ((k = number_span(p, 2)) == 0)
        MS_ERROR(MS_EFORMAT, "%s: no signed [M/H] after logg in the file name (expected %s)",
                 path, want);
    labels->m_h = take_number(&p, k);
    labels->alpha_m = 0.0;
    if (*p == 'a') {
        if ((k = number_span(p + 1, 2)) == 0)
            MS_ERROR(MS_EFORMAT, "%s: no signed [alpha/M] after 'a' in the file name "
                     "(expected %s)", path, want);
        p++;
        labels->alpha_m = take_number(&p, k);
    }
    if (*p != '\0' && *p != '.')
        MS_ERROR(MS_EFORMAT, "%s: unexpected '%c' after the labels in the file name "
                 "(expected %s)", path, *p, want);
    if (!(labels->teff > 0.0))
        MS_ERROR(MS_EFORMAT, "%s: Teff %g from the file name is not positive", path,
                 labels->teff);
    return MS_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Numbers                                                                               */

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* strtod on a copy of the token at p with D exponents turned into E. */
static int parse_slow(const char *p, const char **end, double *out)
{
    char buf[64];
    size_t k = 0;
    while (k < sizeof buf - 1 && p[k] && !isspace((unsigned char)p[k])) {
        buf[k] = (p[k] == 'D' || p[k] == 'd') ? 'E' : p[k];
        k++;
    }
    buf[k] = '\0';
    char *e;
    errno = 0;
    double v = strtod(buf, &e);
    if (e == buf) return 0;
    *out = v;
    *end = p + (e - buf);
    return 1;
}

/* Parse a decimal number at p: [sign] digits [. digits] [(e|E|d|D) [sign] digits].
 * Returns 0 when there is no number; *end is the first character after it. The fast
 * path is exact: mantissa < 2^53 and |exponent| <= 22 give one correctly rounded
 * operation (the classic fast path of decimal conversion); the rest goes to strtod. */
static int parse_number(const char *p, const char **end, double *out)
{
    const char *s = p;
    int neg = 0;
    if (*p == '+' || *p == '-') neg = (*p++ == '-');
    uint64_t mant = 0;
    int digits = 0, ndig = 0, exp10 = 0, truncated = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (ndig < 19) {
            mant = mant * 10 + (uint64_t)(*p - '0');
            ndig += (mant != 0);
        } else {
            exp10++;
            truncated |= (*p != '0');
        }
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
            if (ndig < 19) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                ndig += (mant != 0);
                exp10--;
            } else {
                truncated |= (*p != '0');
            }
        }
    }
    if (digits == 0) return parse_slow(s, end, out); /* nan, inf, or nothing */
    if (*p == 'e' || *p == 'E' || *p == 'd' || *p == 'D') {
        const char *q = p + 1;
        int eneg = 0, e = 0;
        if (*q == '+' || *q == '-') eneg = (*q++ == '-');
        if (*q >= '0' && *q <= '9') {
            for (; *q >= '0' && *q <= '9'; q++)
                if (e < 100000) e = e * 10 + (*q - '0');
            exp10 += eneg ? -e : e;
            p = q;
        } /* else: the letter is not part of the number */
    }
    *end = p;
    if (mant == 0 && !truncated) {
        *out = neg ? -0.0 : 0.0;
        return 1;
    }
    if (truncated || mant > (UINT64_C(1) << 53) || exp10 < -22 || exp10 > 22)
        return parse_slow(s, end, out);
    double v = (double)mant;
    v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
    *out = neg ? -v : v;
    return 1;
}

/* ------------------------------------------------------------------------------------ */
/* ASCII rows                                                                            */

static int ends_field(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\0' || c == '+' ||
           c == '-';
}

/* Whitespace-separated first two columns. A column that runs into the next one is
 * accepted when the next starts with its sign ("0.5D+04-0.1D+01"), otherwise refused. */
static int split_whitespace(const char *p, double *a, double *b)
{
    const char *e;
    while (*p == ' ' || *p == '\t') p++;
    if (!parse_number(p, &e, a) || !ends_field(*e)) return 0;
    p = e;
    while (*p == ' ' || *p == '\t') p++;
    if (!parse_number(p, &e, b) || !ends_field(*e)) return 0;
    return 1;
}

/* Columns as BT-Settl writes them when they run together: characters 0-12 hold the
 * wavelength, 13-25 (both inclusive) log10(F) + 8. The second number may be one
 * character short and be followed at once by the next column's sign. */
static int split_fixed(const char *line, size_t len, double *a, double *b)
{
    char buf[16];
    if (len < 14) return 0;
    memcpy(buf, line, 13);
    buf[13] = '\0';
    const char *p = buf, *e;
    while (*p == ' ') p++;
    if (!parse_number(p, &e, a)) return 0;
    while (*e == ' ') e++;
    if (*e != '\0') return 0;

    size_t k = 13; /* offsets, not pointers: the line may end before column 26 */
    while (line[k] == ' ' && k < 26) k++;
    if (!parse_number(line + k, &e, b)) return 0;
    size_t end = (size_t)(e - line);
    return end == 26 || (end < 26 && ends_field(*e));
}

typedef struct {
    row *rows;
    size_t n, cap;
} row_buf;

static int is_blank_or_comment(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r') p++;
    return *p == '\n' || *p == '\0' || *p == '#' || *p == '!';
}

/* Parse every line of buf (NUL-terminated, out->cap >= number of lines) keeping rows
 * with wmin <= w <= wmax. spec7: flux = 10^(col2 - 8), else flux = col2. Whitespace
 * splitting is tried first, the fixed BT-Settl columns when it fails. */
static ms_status parse_rows(const char *path, char *buf, size_t len, int spec7, double wmin,
                            double wmax, row_buf *out)
{
    size_t lineno = 0;
    char *p = buf, *stop = buf + len;
    while (p < stop) {
        char *nl = memchr(p, '\n', (size_t)(stop - p));
        char *eol = nl ? nl : stop;
        lineno++;
        *eol = '\0'; /* bound the parsers to this line */
        double a, b;
        if (!is_blank_or_comment(p)) {
            if (!split_whitespace(p, &a, &b) && !split_fixed(p, (size_t)(eol - p), &a, &b))
                MS_ERROR(MS_EFORMAT, "%s: line %zu: expected two numeric columns "
                         "(wavelength, flux)", path, lineno);
            if (!isfinite(a))
                MS_ERROR(MS_EFORMAT, "%s: line %zu: wavelength is not finite", path, lineno);
            if (a >= wmin && a <= wmax) {
                if (out->n == out->cap)
                    MS_ERROR(MS_EFORMAT, "%s: more rows than lines (internal)", path);
                out->rows[out->n].w = a;
                out->rows[out->n].f = spec7 ? pow(10.0, b - 8.0) : b;
                out->n++;
            }
        }
        p = eol + 1;
    }
    return MS_OK;
}

/* Whole file into a NUL-terminated ms_malloc buffer. */
static ms_status slurp(const char *path, char **buf, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) MS_ERROR(MS_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        MS_ERROR(MS_EIO, "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    char *b = ms_malloc("grid file text", size + 1);
    if (!b) {
        close(fd);
        MS_ERROR(MS_ENOMEM, "%s: out of memory reading %zu bytes", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, b + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int err = r < 0 ? errno : 0;
            close(fd);
            ms_free(b);
            MS_ERROR(MS_EIO, "%s: read failed after %zu of %zu bytes: %s", path, got, size,
                     err ? strerror(err) : "unexpected end of file");
        }
        got += (size_t)r;
    }
    close(fd);
    b[size] = '\0';
    *buf = b;
    *len = size;
    return MS_OK;
}

static ms_status rows_alloc(const char *path, row_buf *rb, size_t cap)
{
    rb->n = 0;
    rb->cap = cap;
    rb->rows = ms_malloc_array("grid rows", cap ? cap : 1, sizeof *rb->rows);
    if (!rb->rows) MS_ERROR(MS_ENOMEM, "%s: out of memory for %zu rows", path, cap);
    return MS_OK;
}

/* Rows of an ASCII model already in memory (buf is modified: lines get terminated). */
static ms_status read_ascii(const char *path, char *buf, size_t len, int spec7, double wmin,
                            double wmax, row_buf *rb)
{
    size_t lines = 1;
    for (const char *q = buf; (q = memchr(q, '\n', (size_t)(buf + len - q))) != NULL; q++)
        lines++;
    MS_TRY(rows_alloc(path, rb, lines));
    return parse_rows(path, buf, len, spec7, wmin, wmax, rb);
}

/* ------------------------------------------------------------------------------------ */
/* CIFIST FITS table                                                                     */

/* Unit string reduced to lower-case letters and the digit 2 ("erg s-1 cm-2 A-1" and
 * "erg/s/cm^2/A" both become "ergscm2a"); the Greek mu (UTF-8 or Latin-1) becomes 'u'. */
static void unit_key(const char *unit, char *key, size_t len)
{
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)unit; *p && k + 1 < len; p++) {
        if ((p[0] == 0xC2 && p[1] == 0xB5) || (p[0] == 0xCE && p[1] == 0xBC)) {
            key[k++] = 'u';
            p++;
        } else if (*p == 0xB5) {
            key[k++] = 'u';
        } else if (isalpha(*p)) {
            key[k++] = (char)tolower(*p);
        } else if (*p == '2') {
            key[k++] = '2';
        }
    }
    key[k] = '\0';
}

typedef struct {
    const char *key;
    double scale;
} unit_scale;

/* Factor to Angstrom; absent unit = micron (CIFIST convention). 0 when unknown. */
static double wave_scale(const char *unit)
{
    static const unit_scale known[] = {
        {"", 1e4},        {"micron", 1e4}, {"microns", 1e4},   {"um", 1e4},
        {"micrometer", 1e4}, {"micrometers", 1e4}, {"micrometre", 1e4},
        {"a", 1.0},       {"aa", 1.0},     {"angstrom", 1.0}, {"angstroms", 1.0},
        {"nm", 10.0},     {"nanometer", 10.0}, {"cm", 1e8}, {"m", 1e10},
    };
    char key[64];
    unit_key(unit, key, sizeof key);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(key, known[i].key) == 0) return known[i].scale;
    return 0.0;
}

/* Factor to erg/s/cm2/A; absent unit = already erg/s/cm2/A. 0 when unknown. */
static double flux_scale(const char *unit)
{
    static const unit_scale known[] = {
        {"", 1.0},              {"flam", 1.0},          {"ergscm2a", 1.0},
        {"ergscm2aa", 1.0},     {"ergscm2angstrom", 1.0}, {"ergcm2sa", 1.0},
        {"ergscm2cm", 1e-8},    {"ergcm2scm", 1e-8},    {"wm2um", 0.1},
        {"wm2micron", 0.1},     {"wm2m", 1e-7},         {"wm2nm", 100.0},
    };
    char key[64];
    unit_key(unit, key, sizeof key);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(key, known[i].key) == 0) return known[i].scale;
    return 0.0;
}

/* Column number, element count and unit of one column of the current table. */
static ms_status fits_column(fitsfile *fp, const char *path, const char *name, int *col,
                             LONGLONG *count, char unit[FLEN_VALUE])
{
    int st = 0, typecode = 0;
    LONGLONG repeat = 0, width = 0, nrows = 0;
    if (fits_get_colnum(fp, CASEINSEN, (char *)name, col, &st)) {
        fits_clear_errmsg();
        MS_ERROR(MS_EFITS, "%s: HDU 2 has no column %s", path, name);
    }
    if (fits_get_coltypell(fp, *col, &typecode, &repeat, &width, &st) ||
        fits_get_num_rowsll(fp, &nrows, &st))
        return ms_fits_fail(path, "HDU 2 column description", st);
    if (typecode < 0 || typecode == TSTRING || typecode == TLOGICAL || typecode == TBIT)
        MS_ERROR(MS_EFORMAT, "%s: HDU 2 column %s is not a fixed-size numeric column", path,
                 name);
    *count = repeat * nrows;
    char key[FLEN_KEYWORD];
    snprintf(key, sizeof key, "TUNIT%d", *col);
    unit[0] = '\0';
    if (fits_read_key(fp, TSTRING, key, unit, NULL, &st)) {
        fits_clear_errmsg();
        unit[0] = '\0';
    }
    return MS_OK;
}

static ms_status read_fits_open(fitsfile *fp, const char *path, double wmin, double wmax,
                                row_buf *rb, double **w, double **f)
{
    int st = 0, type = 0;
    if (fits_movabs_hdu(fp, 2, &type, &st)) {
        fits_clear_errmsg();
        MS_ERROR(MS_EFITS, "%s: no HDU 2 (the model table)", path);
    }
    if (type != BINARY_TBL && type != ASCII_TBL)
        MS_ERROR(MS_EFORMAT, "%s: HDU 2 is not a table", path);
    int cw, cf;
    LONGLONG nw, nf;
    char uw[FLEN_VALUE], uf[FLEN_VALUE];
    MS_TRY(fits_column(fp, path, "Wavelength", &cw, &nw, uw));
    MS_TRY(fits_column(fp, path, "Flux", &cf, &nf, uf));
    if (nw != nf)
        MS_ERROR(MS_EFORMAT, "%s: HDU 2 columns Wavelength (%lld values) and Flux (%lld) differ "
                 "in length", path, (long long)nw, (long long)nf);
    double sw = wave_scale(uw), sf = flux_scale(uf);
    if (sw == 0.0)
        MS_ERROR(MS_EFORMAT, "%s: HDU 2 column Wavelength has unknown unit '%s'", path, uw);
    if (sf == 0.0)
        MS_ERROR(MS_EFORMAT, "%s: HDU 2 column Flux has unknown unit '%s'", path, uf);

    size_t n = (size_t)nw;
    *w = ms_malloc_array("grid fits wave", n ? n : 1, sizeof **w);
    *f = ms_malloc_array("grid fits flux", n ? n : 1, sizeof **f);
    if (!*w || !*f) MS_ERROR(MS_ENOMEM, "%s: out of memory for %zu rows", path, n);
    int anynul = 0;
    if (n && (fits_read_col(fp, TDOUBLE, cw, 1, 1, nw, NULL, *w, &anynul, &st) ||
              fits_read_col(fp, TDOUBLE, cf, 1, 1, nf, NULL, *f, &anynul, &st)))
        return ms_fits_fail(path, "HDU 2: reading columns Wavelength and Flux", st);

    MS_TRY(rows_alloc(path, rb, n));
    for (size_t i = 0; i < n; i++) {
        double a = (*w)[i] * sw;
        if (!isfinite(a))
            MS_ERROR(MS_EFORMAT, "%s: HDU 2 column Wavelength row %zu is not finite", path, i + 1);
        if (a >= wmin && a <= wmax) rb->rows[rb->n++] = (row){a, (*f)[i] * sf};
    }
    return MS_OK;
}

static ms_status read_fits(const char *path, double wmin, double wmax, row_buf *rb)
{
    fitsfile *fp = NULL;
    MS_TRY(ms_fits_open_read(path, &fp));
    double *w = NULL, *f = NULL;
    ms_status rc = read_fits_open(fp, path, wmin, wmax, rb, &w, &f);
    ms_free(w);
    ms_free(f);
    ms_fits_close(fp);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Format, sorting, output                                                               */

/* Stable merge sort by wavelength. Runs already in order (the common case in these
 * files) are detected and skipped, so sorted input costs one comparison per split. */
static void merge_sort(row *a, row *tmp, size_t n)
{
    if (n < 2) return;
    size_t h = n / 2;
    merge_sort(a, tmp, h);
    merge_sort(a + h, tmp, n - h);
    if (a[h - 1].w <= a[h].w) return;
    memcpy(tmp, a, h * sizeof *a);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) a[k++] = (a[j].w < tmp[i].w) ? a[j++] : tmp[i++]; /* ties: left */
    while (i < h) a[k++] = tmp[i++];
}

static ms_status sort_unique(const char *path, row_buf *rb)
{
    size_t n = rb->n;
    int sorted = 1;
    for (size_t i = 1; i < n && sorted; i++) sorted = rb->rows[i].w > rb->rows[i - 1].w;
    if (sorted) return MS_OK;
    row *tmp = ms_malloc_array("grid sort", n / 2 + 1, sizeof *tmp);
    if (!tmp) MS_ERROR(MS_ENOMEM, "%s: out of memory sorting %zu rows", path, n);
    merge_sort(rb->rows, tmp, n);
    ms_free(tmp);
    size_t k = 1;
    for (size_t i = 1; i < n; i++)
        if (rb->rows[i].w != rb->rows[k - 1].w) rb->rows[k++] = rb->rows[i];
    rb->n = k;
    return MS_OK;
}

/* Has the first non-blank, non-comment line a Fortran D exponent? */
static int first_row_has_d_exponent(const char *buf)
{
    const char *p = buf;
    while (*p && is_blank_or_comment(p)) {
        const char *nl = strchr(p, '\n');
        if (!nl) return 0;
        p = nl + 1;
    }
    for (; *p && *p != '\n'; p++)
        if ((*p == 'D' || *p == 'd') && p > buf && isdigit((unsigned char)p[-1])) return 1;
    return 0;
}

static int fits_by_name(const char *name)
{
    return ends_with(name, ".fits") || ends_with(name, ".fits.gz") || ends_with(name, ".fit") ||
           ends_with(name, ".fit.gz");
}

/* Format from the name (.fits[.gz] -> FITS table, .7 -> spec7), else from the content
 * (a FITS header, or D exponents in the first row -> spec7, else two plain columns).
 * ASCII content stays in *buf for the parser. */
static ms_status detect_format(const char *path, ms_grid_format *fmt, char **buf, size_t *len)
{
    const char *name = base_name(path);
    *buf = NULL;
    *len = 0;
    if (fits_by_name(name)) {
        *fmt = MS_GRID_CIFIST_FITS;
        return MS_OK;
    }
    if (ends_with(name, ".gz") || ends_with(name, ".bz2") || ends_with(name, ".xz") ||
        ends_with(name, ".Z"))
        MS_ERROR(MS_EFORMAT, "%s: compressed ASCII models are not supported; decompress first",
                 path);
    MS_TRY(slurp(path, buf, len));
    if (*len >= 9 && memcmp(*buf, "SIMPLE  =", 9) == 0) {
        ms_free(*buf);
        *buf = NULL;
        *fmt = MS_GRID_CIFIST_FITS;
        return MS_OK;
    }
    *fmt = (ends_with(name, ".7") || first_row_has_d_exponent(*buf)) ? MS_GRID_SPEC7
                                                                      : MS_GRID_ASCII2;
    return MS_OK;
}

ms_status ms_grid_read(const char *path, double wave_min, double wave_max,
                       ms_grid_spectrum *spec, ms_grid_labels *labels, ms_grid_format *format)
{
    if (!path || !spec) MS_ERROR(MS_EINVAL, "ms_grid_read: NULL path or spectrum");
    memset(spec, 0, sizeof *spec);
    if (!(wave_min <= wave_max))
        MS_ERROR(MS_EINVAL, "%s: empty wavelength range [%g, %g]", path, wave_min, wave_max);
    if (labels) MS_TRY(ms_grid_parse_name(path, labels));
    ms_grid_format fmt = MS_GRID_ASCII2;
    char *text = NULL;
    size_t len = 0;
    MS_TRY(detect_format(path, &fmt, &text, &len));

    row_buf rb = {0};
    ms_status st = fmt == MS_GRID_CIFIST_FITS
                       ? read_fits(path, wave_min, wave_max, &rb)
                       : read_ascii(path, text, len, fmt == MS_GRID_SPEC7, wave_min, wave_max, &rb);
    ms_free(text);
    if (st == MS_OK && rb.n == 0)
        st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__,
                          "%s: no rows with wavelength in [%g, %g] A", path, wave_min, wave_max);
    if (st == MS_OK) st = sort_unique(path, &rb);
    if (st == MS_OK) {
        spec->wave = ms_malloc_array("grid wave", rb.n, sizeof *spec->wave);
        spec->flux = ms_malloc_array("grid flux", rb.n, sizeof *spec->flux);
        if (!spec->wave || !spec->flux) {
            ms_grid_spectrum_free(spec);
            st = ms_error_set(MS_ENOMEM, __FILE__, __LINE__, "%s: out of memory for %zu rows",
                              path, rb.n);
        }
    }
    if (st == MS_OK) {
        spec->n = rb.n;
        for (size_t i = 0; i < rb.n; i++) {
            spec->wave[i] = rb.rows[i].w;
            spec->flux[i] = rb.rows[i].f;
        }
        if (format) *format = fmt;
    }
    ms_free(rb.rows);
    return st;
}

void ms_grid_spectrum_free(ms_grid_spectrum *spec)
{
    if (!spec) return;
    ms_free(spec->wave);
    ms_free(spec->flux);
    memset(spec, 0, sizeof *spec);
}

const char *ms_grid_format_name(ms_grid_format format)
{
    switch (format) {
    case MS_GRID_SPEC7: return "spec7";
    case MS_GRID_CIFIST_FITS: return "cifist-fits";
    case MS_GRID_ASCII2: return "ascii2";
    }
    return "unknown";
}
