/* test_grid.c: the synthetic-grid reader on the 131 real BT-Settl CIFIST models of
 * ../shared/data/btsettl-cifist (two-column ASCII), on a BT-Settl .spec.7 and a CIFIST
 * FITS table written here with every quirk of those formats, and on bad names and
 * broken files. */
#include "test_util.h"

#include "mstars/grid.h"
#include "mstars/mem.h"
#include "mstars/status.h"

#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRID "data/btsettl-cifist/"

static const char *tmp_path(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", ms_test_tmpdir(), name);
    return buf;
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    fclose(fp);
}

static void assert_empty(const ms_grid_spectrum *s)
{
    assert_int_equal(s->n, 0);
    assert_null(s->wave);
    assert_null(s->flux);
}

/* ------------------------------------------------------------------------------------ */
/* Real models                                                                           */

/* Every row of a two-column file, parsed independently with strtod. */
static size_t reference_rows(const char *path, double **w, double **f)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = 0, cap = 1024;
    *w = malloc(cap * sizeof **w);
    *f = malloc(cap * sizeof **f);
    char line[256];
    while (fgets(line, sizeof line, fp)) {
        char *end;
        double a = strtod(line, &end), b = strtod(end, NULL);
        if (n == cap) {
            cap *= 2;
            *w = realloc(*w, cap * sizeof **w);
            *f = realloc(*f, cap * sizeof **f);
        }
        (*w)[n] = a;
        (*f)[n++] = b;
    }
    fclose(fp);
    return n;
}

/* grid_index.csv: filename,teff,logg,m_h,alpha_m,step,step,n_points,... */
static void test_every_real_model_reads(void **state)
{
    (void)state;
    char index[1024], path[1024];
    if (!ms_test_shared(GRID "grid_index.csv", index, sizeof index)) skip();
    FILE *csv = fopen(index, "r");
    assert_non_null(csv);
    char line[1024];
    assert_non_null(fgets(line, sizeof line, csv)); /* header */
    size_t before = ms_mem_current(), models = 0;
    while (fgets(line, sizeof line, csv)) {
        char *field[8], *save = NULL, *tok = strtok_r(line, ",", &save);
        int nf = 0;
        for (; tok && nf < 8; tok = strtok_r(NULL, ",", &save)) field[nf++] = tok;
        assert_int_equal(nf, 8);
        snprintf(path, sizeof path, "%s/" GRID "%s",
                 getenv("MSTARS_SHARED") ? getenv("MSTARS_SHARED") : "../shared", field[0]);

        ms_grid_spectrum s;
        ms_grid_labels lab;
        ms_grid_format fmt = 0;
        ms_status st = ms_grid_read(path, 0, INFINITY, &s, &lab, &fmt);
        if (st != MS_OK) print_error("%s\n", ms_error_message());
        assert_int_equal(st, MS_OK);
        assert_int_equal(fmt, MS_GRID_ASCII2);
        assert_close(lab.teff, strtod(field[1], NULL), 0, 1e-9, field[0]);
        assert_close(lab.logg, strtod(field[2], NULL), 0, 1e-12, field[0]);
        assert_close(lab.m_h, strtod(field[3], NULL), 0, 1e-12, field[0]);
        assert_close(lab.alpha_m, strtod(field[4], NULL), 0, 1e-12, field[0]);
        assert_int_equal(s.n, strtoul(field[7], NULL, 10));

        /* the fast number parser agrees with strtod bit for bit */
        double *w, *f;
        size_t n = reference_rows(path, &w, &f);
        assert_int_equal(n, s.n);
        for (size_t i = 0; i < n; i++) {
            assert_true(s.wave[i] == w[i]);
            assert_true(s.flux[i] == f[i]);
            if (i) assert_true(s.wave[i] > s.wave[i - 1]);
        }
        free(w);
        free(f);
        ms_grid_spectrum_free(&s);
        assert_empty(&s);
        models++;
    }
    fclose(csv);
    assert_int_equal(models, 131);
    assert_int_equal(ms_mem_current(), before);
}

static void test_wavelength_window(void **state)
{
    (void)state;
    char path[1024];
    if (!ms_test_shared(GRID "lte033.0-5.0-0.0a+0.0.BT-Settl.spec.txt", path, sizeof path)) skip();
    ms_grid_spectrum s;
    assert_int_equal(ms_grid_read(path, 6000, 8900, &s, NULL, NULL), MS_OK);
    assert_int_equal(s.n, 1451); /* README: 1451 points at 2 A in 6000-8900 A */
    assert_true(s.wave[0] == 6000.0 && s.wave[s.n - 1] == 8900.0);
    ms_grid_spectrum_free(&s);
}

/* ------------------------------------------------------------------------------------ */
/* BT-Settl .spec.7                                                                      */

/* Rows out of order, a duplicate wavelength (the first must win), D and d exponents,
 * ".5" mantissas, extra columns, and columns run together: with a sign (6002) and
 * without one (6004.5 with a 12-character second column, 6005.12345678 with a full
 * 13-character one), where only the fixed columns 0-12 / 13-25 work. */
static const char spec7_text[] =
    " 6003.00000000 -0.1500000D+01  0.1000000D+01  0.2D+00\n"
    " 6001.00000000 -0.1234567D+01  0.2000000D+01\n"
    " 6002.00000000-0.2000000D+01 0.3000000D+01\n"
    " 6001.00000000 -0.9999999D+01  0.2000000D+01\n"
    "6004.500000000.123456D+01 0.5D+00\n"
    "6005.123456780.2500000D+01-0.5D+00\n"
    "  6006.0 -.5D+00\n"
    "  6007.0 -0.15d+01 7 8 9\n"
    "\n"
    "  5999.0 -0.1D+01\n";

static const double spec7_wave[] = {5999.0, 6001.0, 6002.0,        6003.0,
                                    6004.5, 6005.12345678, 6006.0, 6007.0};
static const double spec7_col2[] = {-1.0, -1.234567, -2.0, -1.5, 1.23456, 2.5, -0.5, -1.5};

static void test_spec7_quirks(void **state)
{
    (void)state;
    char path[1024];
    write_text(tmp_path("lte033.5-4.5+0.5a-0.2.BT-Settl.spec.7", path, sizeof path), spec7_text);
    ms_grid_spectrum s;
    ms_grid_labels lab;
    ms_grid_format fmt = 0;
    ms_status st = ms_grid_read(path, 0, INFINITY, &s, &lab, &fmt);
    if (st != MS_OK) print_error("%s\n", ms_error_message());
    assert_int_equal(st, MS_OK);
    assert_int_equal(fmt, MS_GRID_SPEC7);
    assert_close(lab.teff, 3350, 0, 0, "teff");
    assert_close(lab.logg, 4.5, 0, 0, "logg");
    assert_close(lab.m_h, 0.5, 0, 0, "m_h");
    assert_close(lab.alpha_m, -0.2, 0, 0, "alpha_m");
    assert_int_equal(s.n, 8);
    for (size_t i = 0; i < 8; i++) {
        assert_true(s.wave[i] == spec7_wave[i]);
        assert_true(s.flux[i] == pow(10.0, spec7_col2[i] - 8.0));
    }
    ms_grid_spectrum_free(&s);

    /* window: both ends inclusive */
    assert_int_equal(ms_grid_read(path, 6001.0, 6004.5, &s, NULL, NULL), MS_OK);
    assert_int_equal(s.n, 4);
    assert_true(s.wave[0] == 6001.0 && s.wave[3] == 6004.5);
    assert_true(s.flux[0] == pow(10.0, -1.234567 - 8.0));
    ms_grid_spectrum_free(&s);

    /* the same content under a .txt name is recognised as spec7 by its D exponents */
    write_text(tmp_path("lte033.5-4.5+0.5a-0.2.BT-Settl.spec.7.txt", path, sizeof path),
               spec7_text);
    assert_int_equal(ms_grid_read(path, 0, INFINITY, &s, NULL, &fmt), MS_OK);
    assert_int_equal(fmt, MS_GRID_SPEC7);
    assert_int_equal(s.n, 8);
    ms_grid_spectrum_free(&s);
}

static void test_plain_two_columns(void **state)
{
    (void)state;
    char path[1024];
    /* CRLF, comments, exponents, unsorted: flux taken as is */
    write_text(tmp_path("model.dat", path, sizeof path),
               "# wavelength flux\r\n7000.5 1.25e-3\r\n6999.5 2.5E+04\r\n7001 0\r\n");
    ms_grid_spectrum s;
    ms_grid_format fmt = 0;
    assert_int_equal(ms_grid_read(path, 0, INFINITY, &s, NULL, &fmt), MS_OK);
    assert_int_equal(fmt, MS_GRID_ASCII2);
    assert_int_equal(s.n, 3);
    assert_true(s.wave[0] == 6999.5 && s.flux[0] == 2.5e4);
    assert_true(s.wave[1] == 7000.5 && s.flux[1] == 1.25e-3);
    assert_true(s.wave[2] == 7001.0 && s.flux[2] == 0.0);
    ms_grid_spectrum_free(&s);
}

/* ------------------------------------------------------------------------------------ */
/* CIFIST FITS                                                                           */

typedef struct {
    int vector;              /* one row of vectors instead of scalar rows */
    const char *wave_unit;   /* NULL: no TUNIT1 */
    const char *flux_unit;   /* NULL: no TUNIT2 */
    int with_flux;
} cifist_spec;

static const double cifist_wave[] = {0.6003, 0.6001, 0.6002, 0.6001, 0.6004};
static const double cifist_flux[] = {3.0, 1.0, 2.0, 99.0, 4.0};

static void write_cifist(const char *path, cifist_spec c)
{
    char name[1100];
    snprintf(name, sizeof name, "!%s", path);
    fitsfile *fp;
    int st = 0;
    char *ttype[2] = {"Wavelength", "Flux"};
    char *tform[2] = {c.vector ? "5D" : "1D", c.vector ? "5D" : "1D"};
    char *tunit[2] = {(char *)(c.wave_unit ? c.wave_unit : ""),
                      (char *)(c.flux_unit ? c.flux_unit : "")};
    assert_int_equal(fits_create_file(&fp, name, &st), 0);
    assert_int_equal(fits_create_img(fp, BYTE_IMG, 0, NULL, &st), 0);
    assert_int_equal(fits_create_tbl(fp, BINARY_TBL, c.vector ? 1 : 5, c.with_flux ? 2 : 1,
                                     ttype, tform, tunit, "SPECTRUM", &st), 0);
    if (!c.wave_unit) fits_delete_key(fp, "TUNIT1", &st);
    if (!c.flux_unit && c.with_flux) fits_delete_key(fp, "TUNIT2", &st);
    st = 0; /* a missing TUNIT is fine */
    fits_write_col(fp, TDOUBLE, 1, 1, 1, 5, (void *)cifist_wave, &st);
    if (c.with_flux) fits_write_col(fp, TDOUBLE, 2, 1, 1, 5, (void *)cifist_flux, &st);
    fits_close_file(fp, &st);
    assert_int_equal(st, 0);
}

/* Sorted, first of the duplicated 0.6001 kept, micron -> A. */
static void check_cifist(const char *path, double wave_scale, double flux_scale)
{
    static const int order[4] = {1, 2, 0, 4};
    ms_grid_spectrum s;
    ms_grid_labels lab;
    ms_grid_format fmt = 0;
    ms_status st = ms_grid_read(path, 0, INFINITY, &s, &lab, &fmt);
    if (st != MS_OK) print_error("%s\n", ms_error_message());
    assert_int_equal(st, MS_OK);
    assert_int_equal(fmt, MS_GRID_CIFIST_FITS);
    assert_close(lab.teff, 3000, 0, 0, "teff");
    assert_int_equal(s.n, 4);
    for (int i = 0; i < 4; i++) {
        assert_true(s.wave[i] == cifist_wave[order[i]] * wave_scale);
        assert_true(s.flux[i] == cifist_flux[order[i]] * flux_scale);
    }
    ms_grid_spectrum_free(&s);
}

static void test_cifist_fits(void **state)
{
    (void)state;
    char path[1024];
    write_cifist(tmp_path("lte030.0-5.0-0.0a+0.0.BT-Settl.spec.fits", path, sizeof path),
                 (cifist_spec){.wave_unit = "Micron", .with_flux = 1});
    check_cifist(path, 1e4, 1.0);
    /* gzip-compressed, one row of vectors, no units: micron assumed */
    write_cifist(tmp_path("lte030.0-5.0-0.0a+0.0.BT-Settl.spec.fits.gz", path, sizeof path),
                 (cifist_spec){.vector = 1, .with_flux = 1});
    check_cifist(path, 1e4, 1.0);
    /* explicit units are converted: um and W/m2/um (= 0.1 erg/s/cm2/A) */
    write_cifist(tmp_path("lte030-5.0-0.0.units.spec.fits", path, sizeof path),
                 (cifist_spec){.wave_unit = "um", .flux_unit = "W m-2 um-1", .with_flux = 1});
    check_cifist(path, 1e4, 0.1);
}

/* ------------------------------------------------------------------------------------ */
/* Names and broken files                                                                */

static void test_names(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        double teff, logg, m_h, alpha;
    } good[] = {
        {"lte033-5.0-0.0a+0.0.BT-Settl.spec.7", 3300, 5.0, 0.0, 0.0},
        {"/grid/CIFIST2011/lte033.0-5.0-0.0a+0.0.BT-Settl.spec.7", 3300, 5.0, 0.0, 0.0},
        {"lte025.5-4.5-1.0a+0.4.BT-Settl.7", 2550, 4.5, -1.0, 0.4},
        {"lte040-4.0+0.5.BT-Settl.spec.7", 4000, 4.0, 0.5, 0.0},
        {"lte030.0-5.5-0.0a+0.0.BT-Settl.spec.fits.gz", 3000, 5.5, 0.0, 0.0},
        {"lte03300-4.50-0.0.PHOENIX-ACES-AGSS-COND-2011-HiRes.fits", 3300, 4.5, 0.0, 0.0},
        {"lte033-5.0-0.0a+0.0", 3300, 5.0, 0.0, 0.0},
        {"lte033.3-5.0-0.0a+0.0.BT-Settl.spec.7", 3330, 5.0, 0.0, 0.0},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ms_grid_labels lab;
        ms_status st = ms_grid_parse_name(good[i].name, &lab);
        if (st != MS_OK) print_error("%s\n", ms_error_message());
        assert_int_equal(st, MS_OK);
        assert_close(lab.teff, good[i].teff, 0, 0, good[i].name);
        assert_close(lab.logg, good[i].logg, 0, 0, good[i].name);
        assert_close(lab.m_h, good[i].m_h, 0, 0, good[i].name);
        assert_close(lab.alpha_m, good[i].alpha, 0, 0, good[i].name);
        assert_false(signbit(lab.m_h) && lab.m_h == 0.0); /* "-0.0" reads as +0 */
    }
    static const char *const bad[] = {
        "model.spec.7",                 "lte.spec.7",
        "ltex33-5.0-0.0a+0.0.spec.7",   "lte033.0-5.0.BT-Settl.spec.7",
        "lte033.0_5.0-0.0a+0.0.spec.7", "lte033.0-5.0-0.0a.BT-Settl.spec.7",
        "lte033.0-5.0-0.0x+0.0.spec.7", "lte033.0-5.0-0.0a0.0.spec.7",
        "lte000-5.0-0.0a+0.0.spec.7",   "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ms_grid_labels lab;
        ms_error_clear();
        assert_int_equal(ms_grid_parse_name(bad[i], &lab), MS_EFORMAT);
        assert_non_null(strstr(ms_error_message(), bad[i]));
    }
}

static void expect_failure(const char *path, int with_labels, ms_status code, const char *item)
{
    size_t before = ms_mem_current();
    ms_grid_spectrum s;
    ms_grid_labels lab;
    ms_error_clear();
    ms_status st = ms_grid_read(path, 0, INFINITY, &s, with_labels ? &lab : NULL, NULL);
    const char *msg = ms_error_message();
    if (st != code || !strstr(msg, path) || (item && !strstr(msg, item)))
        print_error("%s: got %s '%s', wanted %s naming '%s'\n", path, ms_status_name(st), msg,
                    ms_status_name(code), item ? item : "");
    assert_int_equal(st, code);
    assert_non_null(strstr(msg, path));
    if (item) assert_non_null(strstr(msg, item));
    assert_empty(&s);
    assert_int_equal(ms_mem_current(), before);
}

static void test_broken_files(void **state)
{
    (void)state;
    char path[1024];
    expect_failure(tmp_path("lte030-5.0-0.0a+0.0.missing.spec.7", path, sizeof path), 1, MS_EIO,
                   NULL);
    write_text(tmp_path("bad-name.spec.7", path, sizeof path), spec7_text);
    expect_failure(path, 1, MS_EFORMAT, "lte");
    write_text(tmp_path("lte030-5.0-0.0a+0.0.garbage.spec.7", path, sizeof path),
               " 6000.0 -0.1D+01\n 6001.0 abc\n");
    expect_failure(path, 1, MS_EFORMAT, "line 2");
    write_text(tmp_path("lte030-5.0-0.0a+0.0.onecol.spec.7", path, sizeof path), " 6000.0\n");
    expect_failure(path, 1, MS_EFORMAT, "line 1");
    write_text(tmp_path("lte030-5.0-0.0a+0.0.empty.spec.7", path, sizeof path), "");
    expect_failure(path, 1, MS_EFORMAT, "no rows");
    write_text(tmp_path("lte030-5.0-0.0a+0.0.nanwave.txt", path, sizeof path), "nan 1.0\n");
    expect_failure(path, 1, MS_EFORMAT, "not finite");
    write_text(tmp_path("lte030-5.0-0.0a+0.0.BT-Settl.spec.7.bz2", path, sizeof path), "BZh9");
    expect_failure(path, 1, MS_EFORMAT, "compressed");
    write_cifist(tmp_path("lte030-5.0-0.0a+0.0.noflux.spec.fits", path, sizeof path),
                 (cifist_spec){.wave_unit = "Micron", .with_flux = 0});
    expect_failure(path, 1, MS_EFITS, "no column Flux");
    write_cifist(tmp_path("lte030-5.0-0.0a+0.0.badunit.spec.fits", path, sizeof path),
                 (cifist_spec){.wave_unit = "furlong", .with_flux = 1});
    expect_failure(path, 1, MS_EFORMAT, "furlong");
    char gz[1024];
    write_cifist(tmp_path("lte030-5.0-0.0a+0.0.cut.spec.fits.gz", gz, sizeof gz),
                 (cifist_spec){.wave_unit = "Micron", .with_flux = 1});
    FILE *in = fopen(gz, "rb");
    char head[200];
    size_t got = fread(head, 1, sizeof head, in);
    fclose(in);
    assert_true(got == sizeof head);
    in = fopen(gz, "wb");
    fwrite(head, 1, sizeof head, in);
    fclose(in);
    expect_failure(gz, 1, MS_EIO, NULL);
    write_text(tmp_path("lte030-5.0-0.0a+0.0.notfits.spec.fits", path, sizeof path), "hello\n");
    expect_failure(path, 1, MS_EIO, "cannot open");

    /* a window that holds no row */
    ms_grid_spectrum s;
    write_text(tmp_path("lte030-5.0-0.0a+0.0.window.spec.7", path, sizeof path), spec7_text);
    assert_int_equal(ms_grid_read(path, 1000, 2000, &s, NULL, NULL), MS_EFORMAT);
    assert_non_null(strstr(ms_error_message(), "no rows"));
    assert_empty(&s);
    assert_int_equal(ms_grid_read(path, 2000, 1000, &s, NULL, NULL), MS_EINVAL);
}

static void test_out_of_memory_paths(void **state)
{
    (void)state;
    char path[1024];
    write_text(tmp_path("lte030-5.0-0.0a+0.0.oom.spec.7", path, sizeof path), spec7_text);
    size_t before = ms_mem_current();
    int failures = 0;
    for (long k = 0; k < 20; k++) {
        ms_grid_spectrum s;
        ms_mem_fail_after(k);
        ms_status st = ms_grid_read(path, 0, INFINITY, &s, NULL, NULL);
        ms_mem_fail_after(-1);
        if (st == MS_OK) {
            ms_grid_spectrum_free(&s);
            break;
        }
        failures++;
        assert_int_equal(st, MS_ENOMEM);
        assert_non_null(strstr(ms_error_message(), path));
        assert_empty(&s);
        assert_int_equal(ms_mem_current(), before);
    }
    assert_true(failures >= 4); /* text, rows, sort scratch, wave/flux */
    assert_int_equal(ms_mem_current(), before);
}

static void test_format_names(void **state)
{
    (void)state;
    assert_string_equal(ms_grid_format_name(MS_GRID_SPEC7), "spec7");
    assert_string_equal(ms_grid_format_name(MS_GRID_CIFIST_FITS), "cifist-fits");
    assert_string_equal(ms_grid_format_name(MS_GRID_ASCII2), "ascii2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_real_model_reads),
        cmocka_unit_test(test_wavelength_window),
        cmocka_unit_test(test_spec7_quirks),
        cmocka_unit_test(test_plain_two_columns),
        cmocka_unit_test(test_cifist_fits),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_broken_files),
        cmocka_unit_test(test_out_of_memory_paths),
        cmocka_unit_test(test_format_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
