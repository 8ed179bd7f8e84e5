/* templates.c: template libraries for the RV module (rv.h): FITS and ASCII files, put on a
 * uniform log10 grid, broadened to the spectra's resolution, scaled to median 1. */
#include "mstars/hash.h"
#include "mstars/mem.h"
#include "mstars/rv.h"
#include "mstars/spec.h"

#include <ctype.h>
#include <dirent.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* The common template grid: log10 step 1e-5 (6.9 km/s, 1/10 of a LAMOST pixel). */
#define TPL_DLOGLAM 1e-5
/* Velocity margin the templates must cover beyond the TM range. */
#define TPL_MARGIN_KMS 1000.0

void ms_rv_settings_default(ms_rv_settings *s)
{
    s->wave_min = 4700.0;
    s->wave_max = 8899.0;
    s->tml_wave_max = 7500.0;
    s->step_kms = 60.0;
    s->n_steps = 10;
    s->poly_order = 4;
    s->fit_half_width = 1; /* 3 points: the parabola (see docs/rv.md: 7-point Gaussian is worse) */
    s->inject_max = 500;
    s->full_injection = 0;
    s->curve_step_kms = 5.0;
    s->template_R = 2000.0;
    s->spectrum_R = 1800.0;
    s->reject_bits = 1u | 4u; /* MS_NATIVE_ORMASK | MS_NATIVE_NODATA */
    s->min_pixels = 500;
}

/* A raw template as read: wavelengths (A, increasing) and flux. */
typedef struct {
    size_t n;
    double *wave, *flux;
    double R; /* resolving power from the file, 0 when not given */
} raw_tpl;

static void raw_free(raw_tpl *r)
{
    ms_free(r->wave);
    ms_free(r->flux);
    memset(r, 0, sizeof *r);
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcasecmp(s + n - m, suf) == 0;
}

static int is_fits(const char *p)
{
    return has_suffix(p, ".fits") || has_suffix(p, ".fit") || has_suffix(p, ".fits.gz");
}

static int is_ascii(const char *p)
{
    return has_suffix(p, ".txt") || has_suffix(p, ".dat") || has_suffix(p, ".csv");
}

/* ------------------------------------------------------------- FITS */

#define FTRY(call, what)                                                                   \
    do {                                                                                   \
        if (call) {                                                                        \
            char msg_[FLEN_STATUS];                                                        \
            fits_get_errstatus(fst, msg_);                                                 \
            int close_ = 0;                                                                \
            fits_close_file(f, &close_);                                                   \
            raw_free(r);                                                                   \
            MS_ERROR(MS_EFITS, "%s: %s (%s)", path, what, msg_);                           \
        }                                                                                  \
    } while (0)

static int find_col(fitsfile *f, const char *const *names)
{
    for (int i = 0; names[i]; i++) {
        int col, st = 0;
        fits_get_colnum(f, CASEINSEN, (char *)names[i], &col, &st);
        if (st == 0) return col;
    }
    return 0;
}

static ms_status read_fits(const char *path, raw_tpl *r)
{
    fitsfile *f = NULL;
    int fst = 0;
    memset(r, 0, sizeof *r);
    if (fits_open_file(&f, path, READONLY, &fst)) {
        char msg[FLEN_STATUS];
        fits_get_errstatus(fst, msg);
        MS_ERROR(MS_EIO, "%s: cannot open (%s)", path, msg);
    }
    int nhdu = 0;
    FTRY(fits_get_num_hdus(f, &nhdu, &fst), "cannot count HDUs");
    static const char *const logcols[] = {"LogLam", "LOGLAM", "LOGLAMBDA", NULL};
    static const char *const wcols[] = {"WAVELENGTH", "Wave", "LAMBDA", "WAVE", NULL};
    static const char *const fcols[] = {"Flux", "FLUX", NULL};
    for (int h = 1; h <= nhdu; h++) {
        int type = 0;
        FTRY(fits_movabs_hdu(f, h, &type, &fst), "cannot move to an HDU");
        double R = 0;
        int kst = 0;
        if (fits_read_key(f, TDOUBLE, "RESOLUT", &R, NULL, &kst)) {
            kst = 0;
            R = 0;
            if (fits_read_key(f, TDOUBLE, "R", &R, NULL, &kst)) R = 0;
        }
        if (R > 0) r->R = R;
        if (type == BINARY_TBL || type == ASCII_TBL) {
            int lc = find_col(f, logcols), wc = lc ? 0 : find_col(f, wcols), fc = find_col(f, fcols);
            if (!(lc || wc) || !fc) continue;
            long nrows = 0;
            FTRY(fits_get_num_rows(f, &nrows, &fst), "cannot read the row count");
            int tc;
            long repeat = 0, width;
            FTRY(fits_get_coltype(f, fc, &tc, &repeat, &width, &fst), "bad flux column");
            size_t n = repeat > 1 && nrows == 1 ? (size_t)repeat : (size_t)nrows;
            r->wave = ms_malloc_array("rv.tpl.wave", n + 1, sizeof(double));
            r->flux = ms_malloc_array("rv.tpl.flux", n + 1, sizeof(double));
            if (!r->wave || !r->flux) {
                raw_free(r);
                fits_close_file(f, &fst);
                return MS_ENOMEM;
            }
            r->n = n;
            long nr = repeat > 1 && nrows == 1 ? 1 : nrows;
            long ne = repeat > 1 && nrows == 1 ? repeat : 1;
            (void)ne;
            FTRY(fits_read_col(f, TDOUBLE, lc ? lc : wc, 1, 1, (LONGLONG)n, NULL, r->wave, NULL,
                               &fst), "cannot read the wavelength column");
            FTRY(fits_read_col(f, TDOUBLE, fc, 1, 1, (LONGLONG)n, NULL, r->flux, NULL, &fst),
                 "cannot read the flux column");
            (void)nr;
            if (lc)
                for (size_t i = 0; i < n; i++) r->wave[i] = pow(10.0, r->wave[i]);
            fits_close_file(f, &fst);
            return MS_OK;
        }
        if (type == IMAGE_HDU) {
            int naxis = 0;
            long naxes[2] = {0, 0};
            FTRY(fits_get_img_dim(f, &naxis, &fst), "bad image");
            if (naxis < 1) continue;
            FTRY(fits_get_img_size(f, 2, naxes, &fst), "bad image size");
            double crval = NAN, cdelt = NAN, crpix = 1.0, dcflag = 0.0;
            kst = 0;
            if (fits_read_key(f, TDOUBLE, "CRVAL1", &crval, NULL, &kst)) continue;
            kst = 0;
            if (fits_read_key(f, TDOUBLE, "CDELT1", &cdelt, NULL, &kst)) {
                kst = 0;
                if (fits_read_key(f, TDOUBLE, "CD1_1", &cdelt, NULL, &kst)) continue;
            }
            kst = 0;
            if (fits_read_key(f, TDOUBLE, "CRPIX1", &crpix, NULL, &kst)) crpix = 1.0;
            kst = 0;
            if (fits_read_key(f, TDOUBLE, "DC-FLAG", &dcflag, NULL, &kst)) dcflag = 0.0;
            size_t n = (size_t)naxes[0];
            r->wave = ms_malloc_array("rv.tpl.wave", n + 1, sizeof(double));
            r->flux = ms_malloc_array("rv.tpl.flux", n + 1, sizeof(double));
            if (!r->wave || !r->flux) {
                raw_free(r);
                fits_close_file(f, &fst);
                return MS_ENOMEM;
            }
            r->n = n;
            long fpix[2] = {1, 1};
            FTRY(fits_read_pix(f, TDOUBLE, fpix, (LONGLONG)n, NULL, r->flux, NULL, &fst),
                 "cannot read the image's first row");
            for (size_t i = 0; i < n; i++) {
                double x = crval + ((double)i + 1.0 - crpix) * cdelt;
                r->wave[i] = dcflag == 1.0 ? pow(10.0, x) : x;
            }
            fits_close_file(f, &fst);
            return MS_OK;
        }
    }
    fits_close_file(f, &fst);
    MS_ERROR(MS_EFORMAT, "%s: no binary table with a LogLam/WAVELENGTH and a Flux column and "
             "no 1-D image with CRVAL1/CDELT1 (see docs/rv.md for the template formats)", path);
}

/* ------------------------------------------------------------- ASCII */

static ms_status read_ascii(const char *path, raw_tpl *r)
{
    memset(r, 0, sizeof *r);
    FILE *fp = fopen(path, "r");
    if (!fp) MS_ERROR(MS_EIO, "%s: cannot open", path);
    size_t cap = 0;
    char line[1024];
    long lineno = 0;
    ms_status st = MS_OK;
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        char *p = line;
        while (isspace((unsigned char)*p)) p++;
        if (*p == '\0') continue;
        if (*p == '#') {
            char *q = strstr(p, "resolution:");
            if (q) r->R = strtod(q + 11, NULL);
            continue;
        }
        for (char *c = p; *c; c++)
            if (*c == ',') *c = ' ';
        char *end;
        double w = strtod(p, &end), fl;
        if (end == p) { /* a header line of column names */
            if (r->n == 0) continue;
            st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "%s:%ld: not two numbers", path,
                              lineno);
            break;
        }
        char *end2;
        fl = strtod(end, &end2);
        if (end2 == end) {
            st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "%s:%ld: no flux column", path,
                              lineno);
            break;
        }
        if (r->n == cap) {
            cap = cap ? 2 * cap : 4096;
            double *nw = ms_realloc("rv.tpl.wave", r->wave, cap * sizeof(double));
            if (!nw) { st = MS_ENOMEM; break; }
            r->wave = nw;
            double *nf = ms_realloc("rv.tpl.flux", r->flux, cap * sizeof(double));
            if (!nf) { st = MS_ENOMEM; break; }
            r->flux = nf;
        }
        r->wave[r->n] = w;
        r->flux[r->n] = fl;
        r->n++;
    }
    fclose(fp);
    if (st != MS_OK) raw_free(r);
    return st;
}

/* ------------------------------------------------------------- preparation */

/* Raw template -> uniform log grid over [lo, hi] (log10 A): bin averages where the raw
 * sampling is finer than the grid, linear interpolation where it is coarser. */
static ms_status to_log_grid(const raw_tpl *r, const char *path, double lo, double hi,
                             ms_rv_template *t)
{
    for (size_t i = 1; i < r->n; i++)
        if (!(r->wave[i] > r->wave[i - 1]))
            MS_ERROR(MS_EFORMAT, "%s: wavelengths not increasing at row %zu (%.4f after %.4f)",
                     path, i + 1, r->wave[i], r->wave[i - 1]);
    if (r->n < 2 || log10(r->wave[0]) > lo || log10(r->wave[r->n - 1]) < hi)
        MS_ERROR(MS_EINVAL, "%s covers %.1f-%.1f A; the RV module needs %.1f-%.1f A (the TM range "
                 "with %.0f km/s to spare)", path, r->n ? r->wave[0] : 0.0,
                 r->n ? r->wave[r->n - 1] : 0.0, pow(10.0, lo), pow(10.0, hi), TPL_MARGIN_KMS);
    size_t n = (size_t)ceil((hi - lo) / TPL_DLOGLAM) + 1;
    t->n = n;
    t->loglam0 = lo;
    t->dloglam = TPL_DLOGLAM;
    t->flux = ms_malloc_array("rv.tpl", n, sizeof(double));
    if (!t->flux) return MS_ENOMEM;
    size_t j = 0;
    for (size_t k = 0; k < n; k++) {
        double a = lo + ((double)k - 0.5) * TPL_DLOGLAM, b = a + TPL_DLOGLAM;
        double wa = pow(10.0, a), wb = pow(10.0, b), wc = pow(10.0, lo + (double)k * TPL_DLOGLAM);
        while (j + 1 < r->n && r->wave[j + 1] < wa) j++;
        double sum = 0.0;
        size_t cnt = 0;
        for (size_t i = j; i < r->n && r->wave[i] < wb; i++)
            if (r->wave[i] >= wa && isfinite(r->flux[i])) {
                sum += r->flux[i];
                cnt++;
            }
        if (cnt >= 2) {
            t->flux[k] = sum / (double)cnt;
            continue;
        }
        size_t i = j;
        while (i + 2 < r->n && r->wave[i + 1] < wc) i++;
        double u = (wc - r->wave[i]) / (r->wave[i + 1] - r->wave[i]);
        t->flux[k] = (1.0 - u) * r->flux[i] + u * r->flux[i + 1];
    }
    for (size_t k = 0; k < n; k++)
        if (!isfinite(t->flux[k]))
            MS_ERROR(MS_EFORMAT, "%s: flux not finite near %.2f A", path,
                     pow(10.0, lo + (double)k * TPL_DLOGLAM));
    return MS_OK;
}

/* Gaussian broadening, constant in velocity (sigma in grid pixels). */
static ms_status broaden(ms_rv_template *t, double sigma_pix)
{
    if (!(sigma_pix > 0.05)) return MS_OK;
    int half = (int)ceil(4.0 * sigma_pix);
    double *k = ms_malloc_array("rv.kernel", (size_t)(2 * half + 1), sizeof *k);
    double *out = ms_malloc_array("rv.broad", t->n, sizeof *out);
    if (!k || !out) {
        ms_free(k);
        ms_free(out);
        return MS_ENOMEM;
    }
    double norm = 0.0;
    for (int i = -half; i <= half; i++) norm += k[i + half] = exp(-0.5 * i * i / (sigma_pix * sigma_pix));
    for (int i = 0; i <= 2 * half; i++) k[i] /= norm;
    for (size_t p = 0; p < t->n; p++) {
        double s = 0.0, w = 0.0;
        for (int i = -half; i <= half; i++) {
            long q = (long)p + i;
            if (q < 0 || q >= (long)t->n) continue;
            s += k[i + half] * t->flux[q];
            w += k[i + half];
        }
        out[p] = s / w;
    }
    ms_free(t->flux);
    t->flux = out;
    ms_free(k);
    return MS_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static ms_status prepare(const char *path, const ms_rv_settings *s, ms_rv_template *t)
{
    raw_tpl r;
    ms_status st = is_fits(path) ? read_fits(path, &r) : read_ascii(path, &r);
    MS_TRY(st);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(t->name, sizeof t->name, "%s", base);
    char *dot = strstr(t->name, ".fits");
    if (!dot) dot = strrchr(t->name, '.');
    if (dot && dot != t->name) *dot = '\0';
    double margin = log10(1.0 + TPL_MARGIN_KMS / MS_C_KMS);
    double lo = log10(s->wave_min) - margin, hi = log10(s->wave_max) + margin;
    st = to_log_grid(&r, path, lo, hi, t);
    double R_t = r.R > 0 ? r.R : s->template_R;
    raw_free(&r);
    MS_TRY(st);
    /* broaden from the template's resolving power to the spectra's */
    if (R_t > s->spectrum_R) {
        double fwhm = MS_C_KMS * sqrt(1.0 / (s->spectrum_R * s->spectrum_R) - 1.0 / (R_t * R_t));
        double sigma_kms = fwhm / 2.3548200450309493;
        MS_TRY(broaden(t, sigma_kms / (MS_C_KMS * log(10.0) * TPL_DLOGLAM)));
    }
    /* scale to median 1 over the TM range */
    size_t k0 = (size_t)((log10(s->wave_min) - lo) / TPL_DLOGLAM);
    size_t k1 = (size_t)((log10(s->wave_max) - lo) / TPL_DLOGLAM);
    double *tmp = ms_malloc_array("rv.median", k1 - k0 + 1, sizeof *tmp);
    if (!tmp) return MS_ENOMEM;
    memcpy(tmp, t->flux + k0, (k1 - k0 + 1) * sizeof *tmp);
    qsort(tmp, k1 - k0 + 1, sizeof *tmp, cmp_double);
    double med = tmp[(k1 - k0) / 2];
    ms_free(tmp);
    if (!(med > 0.0)) MS_ERROR(MS_EFORMAT, "%s: median flux over %.0f-%.0f A is not positive",
                               path, s->wave_min, s->wave_max);
    for (size_t k = 0; k < t->n; k++) t->flux[k] /= med;
    return MS_OK;
}

/* ------------------------------------------------------------- the library */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static ms_status list_paths(const char *path, char ***out, size_t *n_out)
{
    struct stat sb;
    if (stat(path, &sb) != 0) MS_ERROR(MS_EIO, "template library %s: no such file or directory", path);
    char **v = NULL;
    size_t n = 0, cap = 0;
    char buf[4096];
#define PUSH(str)                                                                          \
    do {                                                                                   \
        if (n == cap) {                                                                    \
            cap = cap ? 2 * cap : 64;                                                      \
            char **nv = ms_realloc("rv.paths", v, cap * sizeof *v);                        \
            if (!nv) goto oom;                                                             \
            v = nv;                                                                        \
        }                                                                                  \
        v[n] = ms_malloc("rv.path", strlen(str) + 1);                                      \
        if (!v[n]) goto oom;                                                               \
        strcpy(v[n++], str);                                                               \
    } while (0)
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (!d) MS_ERROR(MS_EIO, "template library %s: cannot open the directory", path);
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.' || !(is_fits(e->d_name) || is_ascii(e->d_name))) continue;
            snprintf(buf, sizeof buf, "%s/%s", path, e->d_name);
            PUSH(buf);
        }
        closedir(d);
        qsort(v, n, sizeof *v, cmp_str);
    } else {
        FILE *fp = fopen(path, "r");
        if (!fp) MS_ERROR(MS_EIO, "template list %s: cannot open", path);
        while (fgets(buf, sizeof buf, fp)) {
            buf[strcspn(buf, "\r\n")] = '\0';
            char *p = buf;
            while (isspace((unsigned char)*p)) p++;
            if (*p == '\0' || *p == '#') continue;
            PUSH(p);
        }
        fclose(fp);
    }
    if (n == 0) {
        ms_free(v);
        MS_ERROR(MS_EINVAL, "template library %s holds no template (*.fits, *.fits.gz, *.txt, "
                 "*.dat, *.csv)", path);
    }
    *out = v;
    *n_out = n;
    return MS_OK;
oom:
    for (size_t i = 0; i < n; i++) ms_free(v[i]);
    ms_free(v);
    return MS_ENOMEM;
#undef PUSH
}

ms_status ms_rv_library_load(const char *path, const ms_rv_settings *s, ms_rv_library *lib)
{
    memset(lib, 0, sizeof *lib);
    char **paths;
    size_t n;
    MS_TRY(list_paths(path, &paths, &n));
    ms_status st = MS_OK;
    lib->t = ms_calloc("rv.library", n, sizeof *lib->t);
    if (!lib->t) st = MS_ENOMEM;
    uint64_t h = MS_HASH_INIT;
    for (size_t i = 0; st == MS_OK && i < n; i++) {
        st = prepare(paths[i], s, &lib->t[i]);
        if (st != MS_OK) break;
        lib->n++;
        h = ms_hash_bytes(h, lib->t[i].name, strlen(lib->t[i].name) + 1);
        h = ms_hash_bytes(h, lib->t[i].flux, lib->t[i].n * sizeof(double));
    }
    for (size_t i = 0; i < n; i++) ms_free(paths[i]);
    ms_free(paths);
    snprintf(lib->source, sizeof lib->source, "%s", path);
    ms_hash_hex(h, lib->hash);
    if (st != MS_OK) ms_rv_library_free(lib);
    return st;
}

void ms_rv_library_free(ms_rv_library *lib)
{
    for (size_t i = 0; lib->t && i < lib->n; i++) ms_free(lib->t[i].flux);
    ms_free(lib->t);
    memset(lib, 0, sizeof *lib);
}
