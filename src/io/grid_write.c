/* grid_write.c: theory-grid files in the BT-Settl formats (for `mstars simulate`).
 *
 * .spec.7 rows, as PHOENIX writes them: wavelength in A, then log10(F_lambda) + 8 and the
 * blackbody on the same scale, both with Fortran D exponents:
 *     "  5800.12345 0.138123D+02 0.139001D+02"
 * Columns: [0, 13) wavelength ("%12.5f "), [13, 25) log flux (12 chars, "0.dddddd" or
 * "-.dddddd" mantissa), [25, 38) blackbody (" " + 12 chars), newline. Both whitespace and
 * fixed-column readers work. As in real files, a few rows are written twice and a few
 * neighbouring rows are swapped (about one in 2000 and one in 3000, from the seed).
 * CIFIST .spec.fits: an empty primary HDU and a BINTABLE with columns Wavelength (micron,
 * float64) and Flux (erg/s/cm2/A, float64). */
#include "mstars/sim.h"

#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const double pow10_tab[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

/* 10^k for |k| < 16 from the table, else pow. */
static double p10(int k)
{
    if (k >= 0 && k < 16) return pow10_tab[k];
    if (k < 0 && k > -16) return 1.0 / pow10_tab[-k];
    return pow(10.0, k);
}

/* Fortran "0.ddddddD+ee" of v in exactly 12 characters at out (no terminator): 6 mantissa
 * digits; v < 0 is written "-.ddddddD+ee". */
static void fortran_d(double v, char *out)
{
    int neg = v < 0;
    double a = fabs(v);
    int e = 0;
    long mant = 0;
    if (a > 0 && isfinite(a)) {
        e = (int)floor(log10(a)) + 1;
        if (a >= 1.0 && a < 10.0) e = 1; /* the common case, exact */
        else if (a >= 10.0 && a < 100.0) e = 2;
        mant = lround(a / p10(e) * 1e6);
        if (mant >= 1000000) {
            mant = lround(a / p10(e + 1) * 1e6);
            e++;
        }
        if (mant < 100000) { /* rounding at an exact power of ten */
            mant = lround(a / p10(e - 1) * 1e6);
            e--;
        }
    }
    out[0] = neg ? '-' : '0';
    out[1] = '.';
    for (int k = 7; k >= 2; k--) {
        out[k] = (char)('0' + mant % 10);
        mant /= 10;
    }
    out[8] = 'D';
    out[9] = e < 0 ? '-' : '+';
    int ae = e < 0 ? -e : e;
    if (ae > 99) ae = 99;
    out[10] = (char)('0' + ae / 10);
    out[11] = (char)('0' + ae % 10);
}

/* "%12.5f" of a wavelength in (0, 1e6) A. */
static void wave_field(double w, char *out)
{
    long long v = llround(w * 1e5);
    char tmp[24];
    int n = 0;
    for (int k = 0; k < 5; k++) {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    }
    tmp[n++] = '.';
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0 && n < 12);
    int pad = 12 - n;
    for (int k = 0; k < pad; k++) out[k] = ' ';
    for (int k = 0; k < n; k++) out[pad + k] = tmp[n - 1 - k];
}

static size_t format_row(char *p, double w, double lf, double lb)
{
    wave_field(w, p);
    p[12] = ' ';
    fortran_d(lf, p + 13);
    p[25] = ' ';
    fortran_d(lb, p + 26);
    p[38] = '\n';
    return 39;
}

ms_status ms_sim_grid_write_spec7(const char *path, const double *wave, const double *flux,
                                  const double *bb, size_t n, uint64_t shuffle_seed)
{
    FILE *f = fopen(path, "w");
    if (!f) MS_ERROR(MS_EIO, "%s: cannot create: %s", path, strerror(errno));
    char buf[1 << 15];
    size_t used = 0;
    ms_sim_rng r;
    ms_sim_rng_seed(&r, shuffle_seed, MS_SIM_STREAM_MODEL, 0x5EC7);
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        size_t rows[3] = {i, i, i};
        int nr = 1;
        double u = ms_sim_rng_uniform(&r);
        if (u < 1.0 / 3000.0 && i + 1 < n) { /* swap with the next row */
            rows[0] = i + 1;
            rows[1] = i;
            nr = 2;
            i++;
        } else if (u < 1.0 / 3000.0 + 1.0 / 2000.0) { /* duplicate */
            nr = 2;
        }
        for (int k = 0; k < nr; k++) {
            size_t j = rows[k];
            if (!(flux[j] > 0) || !(bb[j] > 0) || !(wave[j] > 0 && wave[j] < 1e6)) {
                fclose(f);
                MS_ERROR(MS_EINVAL, "%s: non-positive flux or bad wavelength at %.3f A", path,
                         wave[j]);
            }
            if (used + 64 > sizeof buf) {
                ok = fwrite(buf, 1, used, f) == used;
                used = 0;
            }
            used += format_row(buf + used, wave[j], log10(flux[j]) + 8.0, log10(bb[j]) + 8.0);
        }
    }
    if (ok && used) ok = fwrite(buf, 1, used, f) == used;
    if (fclose(f) != 0) ok = 0;
    if (!ok) MS_ERROR(MS_EIO, "%s: write failed: %s", path, strerror(errno));
    return MS_OK;
}

ms_status ms_sim_grid_write_fits(const char *path, const double *wave, const double *flux,
                                 size_t n, const ms_sim_labels *lab)
{
    char name[1100];
    snprintf(name, sizeof name, "!%s", path);
    fitsfile *f = NULL;
    int st = 0;
    if (fits_create_file(&f, name, &st)) {
        char msg[FLEN_STATUS];
        fits_get_errstatus(st, msg);
        fits_clear_errmsg();
        MS_ERROR(MS_EIO, "%s: cannot create: cfitsio error %d (%s)", path, st, msg);
    }
    fits_create_img(f, BYTE_IMG, 0, NULL, &st);
    char *ttype[2] = {"Wavelength", "Flux"};
    char *tform[2] = {"1D", "1D"};
    char *tunit[2] = {"Micron", "erg/s/cm2/A"};
    fits_create_tbl(f, BINARY_TBL, 0, 2, ttype, tform, tunit, "SPECTRUM", &st);
    fits_write_key_fixdbl(f, "PHXTEFF", lab->teff, 1, "[K] effective temperature", &st);
    fits_write_key_fixdbl(f, "PHXLOGG", lab->logg, 2, "[cm/s2] log (surface gravity)", &st);
    fits_write_key_fixdbl(f, "PHXM_H", lab->m_h, 2, "[M/H] metallicity", &st);
    fits_write_key_fixdbl(f, "PHXALPHA", lab->alpha_m, 2, "[alpha/M] alpha enhancement", &st);
    fits_write_key_str(f, "PHXVER", "mstars-mock", "toy physics of mstars simulate", &st);
    /* wavelengths in micron */
    enum { CH = 4096 };
    double tmp[CH];
    for (size_t a = 0; a < n && !st; a += CH) {
        size_t b = a + CH < n ? a + CH : n;
        for (size_t i = a; i < b; i++) tmp[i - a] = wave[i] * 1e-4;
        fits_write_col(f, TDOUBLE, 1, (LONGLONG)a + 1, 1, (LONGLONG)(b - a), tmp, &st);
        fits_write_col(f, TDOUBLE, 2, (LONGLONG)a + 1, 1, (LONGLONG)(b - a), (void *)(flux + a),
                       &st);
    }
    int s2 = 0;
    fits_close_file(f, st ? &s2 : &st);
    if (st) {
        char msg[FLEN_STATUS];
        fits_get_errstatus(st, msg);
        fits_clear_errmsg();
        MS_ERROR(MS_EIO, "%s: writing the model table: cfitsio error %d (%s)", path, st, msg);
    }
    return MS_OK;
}
