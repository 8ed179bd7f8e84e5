/* test_rv.c: the RV module (src/rv) against analytic cases: a synthetic line spectrum
 * shifted by a known velocity, template formats, the line-shift rules, the decision,
 * rv_flag, and the native lattice. */
#include "test_util.h"

#include "mstars/mem.h"
#include "mstars/native.h"
#include "mstars/rv.h"
#include "mstars/spec.h"

#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A smooth "star": slope + Gaussian absorption lines of depth d_l at lambda_l (seeded). */
static double star_flux(double lam, unsigned seed)
{
    double f = 1.0 + 0.4 * (lam - 6500.0) / 2000.0;
    unsigned s = seed;
    for (int l = 0; l < 400; l++) {
        s = s * 1103515245u + 12345u;
        double c = 4600.0 + 4500.0 * (double)(s >> 8) / 16777216.0;
        s = s * 1103515245u + 12345u;
        double d = 0.05 + 0.5 * (double)(s >> 8) / 16777216.0;
        double w = 0.6; /* A: narrow, the loader broadens to R 1800 */
        f *= 1.0 - d * exp(-0.5 * (lam - c) * (lam - c) / (w * w));
    }
    return f;
}

/* An ASCII template at R 100000 sampled at 0.05 A. */
static void write_ascii_template(const char *path, unsigned seed)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "# synthetic test template\n# resolution: 100000\nwavelength flux\n");
    for (double lam = 4500.0; lam <= 9200.0; lam += 0.05) fprintf(fp, "%.3f %.9g\n", lam, star_flux(lam, seed));
    fclose(fp);
}

static char dir_buf[512];

static const char *library_dir(void)
{
    if (dir_buf[0]) return dir_buf;
    snprintf(dir_buf, sizeof dir_buf, "%s/tpl", ms_test_tmpdir());
    mkdir(dir_buf, 0755);
    char p[600];
    snprintf(p, sizeof p, "%s/a_star.txt", dir_buf);
    write_ascii_template(p, 11u);
    snprintf(p, sizeof p, "%s/b_other.txt", dir_buf);
    write_ascii_template(p, 97u);
    return dir_buf;
}

/* The observed spectrum: template a broadened to R 1800 (through the loader's own template
 * on its grid), shifted by v, times a quadratic, on the native lattice, Gaussian noise. */
static void make_observed(const ms_rv_library *lib, double v, double snr, unsigned seed,
                          float *flux, float *ivar, uint8_t *mask)
{
    const ms_rv_template *t = &lib->t[0];
    srand(seed);
    for (size_t k = 0; k < MS_NATIVE_NPIX; k++) {
        double ll = ms_native_loglam(k) - log10(ms_spec_doppler(v));
        double q = (ll - t->loglam0) / t->dloglam;
        mask[k] = MS_NATIVE_NODATA;
        flux[k] = NAN;
        ivar[k] = 0.0f;
        if (q < 0 || q >= (double)t->n - 1) continue;
        size_t i = (size_t)q;
        double u = q - (double)i, f = (1 - u) * t->flux[i] + u * t->flux[i + 1];
        double x = (ms_native_loglam(k) - 3.75) / 0.2;
        f *= 300.0 * (1.0 + 0.3 * x - 0.2 * x * x);
        double sigma = 300.0 / snr;
        double g = 0.0;
        for (int j = 0; j < 12; j++) g += (double)rand() / RAND_MAX;
        flux[k] = (float)(f + sigma * (g - 6.0));
        ivar[k] = (float)(1.0 / (sigma * sigma));
        mask[k] = 0;
    }
}

static void test_tm_recovers_velocity(void **state)
{
    (void)state;
    ms_rv_settings s;
    ms_rv_settings_default(&s);
    ms_rv_library lib;
    assert_int_equal(ms_rv_library_load(library_dir(), &s, &lib), MS_OK);
    assert_int_equal(lib.n, 2);
    assert_string_equal(lib.t[0].name, "a_star");
    ms_rv_engine *e;
    assert_int_equal(ms_rv_engine_alloc(&lib, &s, &e), MS_OK);
    float *flux = malloc(MS_NATIVE_NPIX * sizeof *flux), *ivar = malloc(MS_NATIVE_NPIX * sizeof *ivar);
    uint8_t *mask = malloc(MS_NATIVE_NPIX);
    const double vs[] = {-251.3, -37.9, 0.0, 12.4, 88.8, 433.0};
    for (size_t j = 0; j < sizeof vs / sizeof vs[0]; j++) {
        make_observed(&lib, vs[j], 100.0, 5u + (unsigned)j, flux, ivar, mask);
        ms_rv_native sp = {flux, ivar, mask};
        ms_rv_tm_result r;
        assert_int_equal(ms_rv_tm(e, &sp, 0.0, &r), MS_OK);
        assert_true(r.ok);
        assert_int_equal(r.template_index, 0); /* the right template wins */
        assert_close(r.rv, vs[j], 0.0, 1.0, "TM velocity");
        assert_true(r.e_rv >= 0.0 && r.e_rv < 5.0);
        assert_true(r.e_stat > 0.0 && r.e_stat < 5.0);
        /* chi^2 is lowest near the truth (Eq. 2 evaluated directly) */
        assert_true(ms_rv_chi2_at(e, 0, vs[j]) < ms_rv_chi2_at(e, 0, vs[j] + 30.0));
        /* TML7500 on the same spectrum */
        ms_rv_tm_result t7;
        assert_int_equal(ms_rv_tm(e, &sp, 7500.0, &t7), MS_OK);
        assert_true(t7.ok);
        assert_close(t7.rv, vs[j], 0.0, 2.0, "TML7500 velocity");
    }
    free(flux);
    free(ivar);
    free(mask);
    ms_rv_engine_free(e);
    ms_rv_library_free(&lib);
}

/* The cheap injections (spline of the chi^2 curve) against the literal shifted refits. */
static void test_injection_cheap_equals_full(void **state)
{
    (void)state;
    ms_rv_settings s;
    ms_rv_settings_default(&s);
    s.inject_max = 120; /* 241 literal refits keep the test short */
    ms_rv_library lib;
    assert_int_equal(ms_rv_library_load(library_dir(), &s, &lib), MS_OK);
    ms_rv_settings sf = s;
    sf.full_injection = 1;
    ms_rv_engine *e, *ef;
    assert_int_equal(ms_rv_engine_alloc(&lib, &s, &e), MS_OK);
    assert_int_equal(ms_rv_engine_alloc(&lib, &sf, &ef), MS_OK);
    float *flux = malloc(MS_NATIVE_NPIX * sizeof *flux), *ivar = malloc(MS_NATIVE_NPIX * sizeof *ivar);
    uint8_t *mask = malloc(MS_NATIVE_NPIX);
    make_observed(&lib, 23.7, 30.0, 77u, flux, ivar, mask);
    ms_rv_native sp = {flux, ivar, mask};
    ms_rv_tm_result a, b;
    assert_int_equal(ms_rv_tm(e, &sp, 0.0, &a), MS_OK);
    assert_int_equal(ms_rv_tm(ef, &sp, 0.0, &b), MS_OK);
    assert_true(a.ok && b.ok);
    assert_close(a.rv_init, b.rv_init, 0.0, 1e-9, "same RV_init");
    assert_close(a.rv, b.rv, 0.0, 0.05, "cheap vs literal injections: RV");
    assert_close(a.e_rv, b.e_rv, 0.0, 0.05, "cheap vs literal injections: error");
    free(flux);
    free(ivar);
    free(mask);
    ms_rv_engine_free(e);
    ms_rv_engine_free(ef);
    ms_rv_library_free(&lib);
}

/* A FITS binary-table template (LogLam, Flux) loads to the same flux as its ASCII twin. */
static void test_fits_template_format(void **state)
{
    (void)state;
    char dir[600], path[700], fpath[700];
    snprintf(dir, sizeof dir, "%s/fitslib", ms_test_tmpdir());
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/twin.txt", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    size_t n = 0;
    double *ll = malloc(200000 * sizeof *ll), *fl = malloc(200000 * sizeof *fl);
    for (double x = log10(4500.0); x <= log10(9200.0); x += 2e-5, n++) {
        ll[n] = x;
        fl[n] = star_flux(pow(10.0, x), 3u);
        fprintf(fp, "%.12f %.12g\n", pow(10.0, x), fl[n]);
    }
    fclose(fp);
    snprintf(fpath, sizeof fpath, "!%s/twin_fits.fits", dir);
    fitsfile *f;
    int st = 0;
    char *names[] = {"LogLam", "Flux"}, *forms[] = {"1D", "1D"}, *units[] = {"", ""};
    fits_create_file(&f, fpath, &st);
    fits_create_tbl(f, BINARY_TBL, (LONGLONG)n, 2, names, forms, units, "TPL", &st);
    fits_write_col(f, TDOUBLE, 1, 1, 1, (LONGLONG)n, ll, &st);
    fits_write_col(f, TDOUBLE, 2, 1, 1, (LONGLONG)n, fl, &st);
    fits_close_file(f, &st);
    assert_int_equal(st, 0);
    free(ll);
    free(fl);
    ms_rv_settings s;
    ms_rv_settings_default(&s);
    ms_rv_library lib;
    assert_int_equal(ms_rv_library_load(dir, &s, &lib), MS_OK);
    assert_int_equal(lib.n, 2);
    assert_string_equal(lib.t[1].name, "twin_fits");
    assert_int_equal(lib.t[0].n, lib.t[1].n);
    double maxd = 0.0;
    for (size_t i = 0; i < lib.t[0].n; i++) maxd = fmax(maxd, fabs(lib.t[0].flux[i] - lib.t[1].flux[i]));
    assert_true(maxd < 1e-6);
    ms_rv_library_free(&lib);
    /* a template that does not cover the TM range is refused with its name */
    snprintf(path, sizeof path, "%s/short.dat", dir);
    fp = fopen(path, "w");
    for (double lam = 6000.0; lam <= 9000.0; lam += 1.0) fprintf(fp, "%.1f 1.0\n", lam);
    fclose(fp);
    snprintf(fpath, sizeof fpath, "%s/list.lst", dir);
    fp = fopen(fpath, "w");
    fprintf(fp, "%s\n", path);
    fclose(fp);
    assert_int_not_equal(ms_rv_library_load(fpath, &s, &lib), MS_OK);
    assert_non_null(strstr(ms_error_message(), "short.dat"));
}

static void test_line_rules(void **state)
{
    (void)state;
    const double v[8] = {10.0, 12.0, 11.0, 200.0, -150.0, 13.0, NAN, NAN};
    ms_rv_lines_result r;
    ms_rv_dsal1(v, &r);
    assert_true(r.ok);
    assert_int_equal(r.n_used, 4);
    assert_close(r.rv, 11.5, 0.0, 1e-12, "DSAL I mean");
    assert_close(r.e_rv, sqrt(1.25), 0.0, 1e-12, "DSAL I std");
    /* DSAL II: 1-sigma clipping until std < 20 */
    ms_rv_clip(v, &r);
    assert_true(r.ok);
    assert_true(r.e_rv < 20.0);
    assert_close(r.rv, 11.5, 0.0, 1e-12, "DSAL II after clipping");
    /* two inconsistent values only: no DSAL I; DSAL II keeps both (nothing left to clip) */
    const double w[8] = {0.0, 100.0, NAN, NAN, NAN, NAN, NAN, NAN};
    ms_rv_dsal1(w, &r);
    assert_false(r.ok);
    ms_rv_clip(w, &r);
    assert_true(r.ok);
    assert_close(r.rv, 50.0, 0.0, 1e-12, "DSAL II falls back to the previous iteration");
    const double one[8] = {5.0, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    ms_rv_clip(one, &r);
    assert_false(r.ok);
}

/* The line fits on a noise-free synthetic spectrum: Gaussian lines (sigma 1.8 A) at the
 * Table 5 / Table 6 wavelengths shifted by v, on a sloped continuum, native lattice. */
static void make_lines(const double *lines, double depth, double v, float *flux, float *ivar,
                       uint8_t *mask)
{
    for (size_t k = 0; k < MS_NATIVE_NPIX; k++) {
        double lam = pow(10.0, ms_native_loglam(k)), f = 100.0 * (1.0 + 0.1 * (lam - 7000.0) / 2000.0);
        for (int l = 0; l < MS_RV_N_LINES; l++) {
            double c = lines[l] * ms_spec_doppler(v);
            f *= 1.0 - depth * exp(-0.5 * (lam - c) * (lam - c) / (1.8 * 1.8));
        }
        flux[k] = (float)f;
        ivar[k] = 1.0f;
        mask[k] = 0;
    }
}

static void test_line_shifts(void **state)
{
    (void)state;
    float *flux = malloc(MS_NATIVE_NPIX * sizeof *flux), *ivar = malloc(MS_NATIVE_NPIX * sizeof *ivar);
    uint8_t *mask = malloc(MS_NATIVE_NPIX);
    ms_rv_native sp = {flux, ivar, mask};
    double rv[MS_RV_N_LINES];
    const double v = 47.5;
    make_lines(ms_rv_dsal_lines, 0.4, v, flux, ivar, mask);
    ms_rv_measure_lines(&sp, ms_rv_dsal_lines, 0, v + 20.0, rv); /* start 20 km/s off */
    int n = 0;
    for (int l = 0; l < MS_RV_N_LINES; l++)
        if (isfinite(rv[l])) {
            n++;
            assert_close(rv[l], v, 0.0, 3.0, "absorption line RV");
        }
    assert_true(n >= 6);
    ms_rv_lines_result r;
    ms_rv_dsal1(rv, &r);
    assert_true(r.ok);
    assert_close(r.rv, v, 0.0, 2.0, "DSAL I");
    /* the same lines as absorption are no emission */
    ms_rv_measure_lines(&sp, ms_rv_dsal_lines, 1, v, rv);
    for (int l = 0; l < MS_RV_N_LINES; l++) assert_true(isnan(rv[l]));
    /* emission lines (negative depth) for DSEL */
    make_lines(ms_rv_dsel_lines, -0.8, -120.0, flux, ivar, mask);
    ms_rv_measure_lines(&sp, ms_rv_dsel_lines, 1, -100.0, rv);
    ms_rv_clip(rv, &r);
    assert_true(r.ok);
    assert_close(r.rv, -120.0, 0.0, 3.0, "DSEL");
    free(flux);
    free(ivar);
    free(mask);
}

static void test_decision(void **state)
{
    (void)state;
    ms_rv_measurements m;
    memset(&m, 0, sizeof m);
    m.rv_lamost = 20.0;
    m.e_rv_lamost = 3.0;
    m.tm.ok = 1;
    m.tm.rv = 25.0;
    m.tm.e_rv = 1.0;
    m.tm.e_stat = 2.0;
    ms_rv_choice c = ms_rv_decide(&m);
    assert_int_equal(c.from, MS_RV_FROM_LAMOST);
    assert_close(c.rv, 20.0, 0, 0, "LAMOST kept");
    /* LAMOST off by 100 km/s: TM confirmed by DSAL I wins */
    m.rv_lamost = 125.0;
    m.dsal1.ok = 1;
    m.dsal1.rv = 27.0;
    m.dsal1.e_rv = 4.0;
    c = ms_rv_decide(&m);
    assert_int_equal(c.from, MS_RV_FROM_TM);
    assert_close(c.rv, 25.0, 0, 0, "TM");
    assert_close(c.e_rv, hypot(1.0, 2.0), 0, 1e-12, "TM error in quadrature");
    /* |RV| > 150 confirmed only by DSAL: not kept */
    m.rv_lamost = 170.0;
    m.tm.rv = 20.0;
    m.dsal1.rv = 175.0;
    c = ms_rv_decide(&m);
    assert_int_not_equal(c.from, MS_RV_FROM_LAMOST);
    /* nothing usable */
    memset(&m, 0, sizeof m);
    m.rv_lamost = NAN;
    for (int l = 0; l < MS_RV_N_LINES; l++) m.dsal2.line_rv[l] = NAN;
    c = ms_rv_decide(&m);
    assert_int_equal(c.from, MS_RV_FROM_NORV_LOWQ);
    assert_true(isnan(c.rv));
    assert_string_equal(ms_rv_from_name(MS_RV_FROM_DSAL2), "DSAL II");
    assert_int_equal(ms_rv_flag(10.0, 55940), 0);
    assert_int_equal(ms_rv_flag(10.0, 55941), 1);
    assert_int_equal(ms_rv_flag(NAN, 57000), 0);
}

static void test_native_lattice(void **state)
{
    (void)state;
    enum { N = 100 };
    double wave[N], flux[N], ivar[N];
    uint32_t orm[N] = {0}, andm[N] = {0};
    for (int i = 0; i < N; i++) {
        wave[i] = pow(10.0, MS_NATIVE_LOGLAM0 + (10 + i) * MS_NATIVE_DLOGLAM);
        flux[i] = i;
        ivar[i] = 2.0;
    }
    orm[5] = 8;
    andm[6] = 1;
    ivar[7] = 0.0;
    float *f = malloc(MS_NATIVE_NPIX * sizeof *f), *iv = malloc(MS_NATIVE_NPIX * sizeof *iv);
    uint8_t *m = malloc(MS_NATIVE_NPIX);
    int on;
    size_t good = ms_native_place(wave, flux, ivar, andm, orm, N, f, iv, m, &on);
    assert_int_equal(on, 1);
    assert_int_equal(good, N - 3);
    assert_close(f[10 + 42], 42.0, 0, 0, "copied pixel");
    assert_int_equal(m[15], MS_NATIVE_ORMASK);
    assert_int_equal(m[16], MS_NATIVE_ANDMASK);
    assert_int_equal(m[17], MS_NATIVE_NODATA);
    assert_int_equal(m[9], MS_NATIVE_NODATA);
    /* off the lattice by half a pixel: linear interpolation */
    for (int i = 0; i < N; i++) {
        wave[i] = pow(10.0, MS_NATIVE_LOGLAM0 + (10.5 + i) * MS_NATIVE_DLOGLAM);
        flux[i] = 2.0 * i;
        ivar[i] = 1.0;
        orm[i] = andm[i] = 0;
    }
    good = ms_native_place(wave, flux, ivar, andm, orm, N, f, iv, m, &on);
    assert_int_equal(on, 0);
    assert_int_equal(good, N - 1);
    assert_close(f[11 + 20], 2.0 * 20.5, 1e-6, 1e-6, "interpolated pixel");
    assert_close(iv[11 + 20], 1.0, 1e-6, 0, "interpolated ivar");
    free(f);
    free(iv);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tm_recovers_velocity),
        cmocka_unit_test(test_injection_cheap_equals_full),
        cmocka_unit_test(test_fits_template_format),
        cmocka_unit_test(test_line_rules),
        cmocka_unit_test(test_line_shifts),
        cmocka_unit_test(test_decision),
        cmocka_unit_test(test_native_lattice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
