/* test_lamost.c: the LAMOST LRS reader on the 23 real files of ../shared/data/lamost (every
 * layout), the same observation in two layouts, the DR1 subcontinuum layout, and broken
 * inputs written here (each must fail with the right status, a message naming the file
 * and the missing item, and no leak). */
#include "test_util.h"

#include "mstars/join.h"
#include "mstars/lamost.h"
#include "mstars/mem.h"
#include "mstars/status.h"

#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA "data/lamost/"

/* What ../shared/data/lamost/INDEX.md says about each file. */
typedef struct {
    const char *file;
    ms_lamost_layout layout;
    size_t npix;
    const char *data_v, *cls, *subclass;
    double snr_r, snr_i, z;
} expected_file;

static const expected_file real_files[] = {
    {"dr10-obsid-3703110.fits", MS_LAMOST_COADD, 3909,
     "LAMOST DR10", "STAR", "K7", 56.1, 98.07, -5.617e-05},
    {"dr10-obsid-3706009.fits", MS_LAMOST_COADD, 3909,
     "LAMOST DR10", "STAR", "G0", 35.43, 48.18, 1.788e-05},
    {"dr10-obsid-3706011.fits", MS_LAMOST_COADD, 3909,
     "LAMOST DR10", "STAR", "F5", 30.81, 40.34, -4.873e-05},
    {"dr10-obsid-3709013.fits", MS_LAMOST_COADD, 3902,
     "LAMOST DR10", "STAR", "G2", 26.95, 31.16, 0.00015921},
    {"dr10-obsid-3709137.fits", MS_LAMOST_COADD, 3902,
     "LAMOST DR10", "STAR", "K3", 49.45, 62.38, -0.00023009},
    {"dr10-obsid-3712166.fits", MS_LAMOST_COADD, 3906,
     "LAMOST DR10", "STAR", "G8", 17.18, 24.33, -0.00017462},
    {"dr10-obsid-3713073.fits", MS_LAMOST_COADD, 3902,
     "LAMOST DR10", "STAR", "K5", 26.86, 36.64, 9.263e-05},
    {"dr10-obsid-3713139.fits", MS_LAMOST_COADD, 3902,
     "LAMOST DR10", "STAR", "K7", 28.88, 43.95, -0.00021025},
    {"dr10-obsid-3713226.fits", MS_LAMOST_COADD, 3902,
     "LAMOST DR10", "STAR", "F9", 10.51, 12.3, -0.00022546},
    {"dr10-obsid-3715155.fits", MS_LAMOST_COADD, 3909,
     "LAMOST DR10", "STAR", "K7", 39.96, 62.16, -6.835e-05},
    {"spec-55859-F5902_sp01-001__aec13944.fits.gz", MS_LAMOST_COADD, 3908,
     "LAMOST DR9", "STAR", "G7", 27.16, 36.14, -0.0001387},
    {"spec-55859-F5902_sp01-001_dr7__253a7858.fits.gz", MS_LAMOST_IMAGE, 3908,
     "LAMOST DR7", "STAR", "G7", 27.16, 36.14, -0.0001387},
    {"spec-55859-F5902_sp01-002__12026207.fits.gz", MS_LAMOST_COADD, 3908,
     "LAMOST DR9", "STAR", "K7", 20.02, 33.87, 0.00011917},
    {"spec-55859-F5902_sp01-005__4661f26c.fits.gz", MS_LAMOST_COADD, 3908,
     "LAMOST DR9", "STAR", "G0", 16.76, 23.27, -0.00025064},
    {"spec-55859-F5902_sp01-005__48d7b363.fits.gz", MS_LAMOST_IMAGE, 3908,
     "LAMOST DR5", "STAR", "G0", 16.61, 23.05, -0.00025044},
    {"spec-55859-F5902_sp01-012__c8b4d821.fits.gz", MS_LAMOST_COADD, 3908,
     "LAMOST DR9", "STAR", "G7", 2.09, 3.48, -1.826e-05},
    {"spec-55859-F5902_sp01-013_dr8__51996314.fits.gz", MS_LAMOST_COADD, 3908,
     "LAMOST DR9", "STAR", "A2", 8.79, 9.13, -0.00106647},
    {"spec-55862-B6212_sp06-003.fits", MS_LAMOST_IMAGE_SUBCONT, 3904,
     "", "STAR", "F9", 99.0, 99.0, -7.138e-05},
    {"spec-55919-B5591903_sp01-001.fits", MS_LAMOST_IMAGE, 3909,
     "", "Unknown", "Non", 3.18, 4.81, -9999.0},
    {"spec-55939-B5593905_sp01-018.fits", MS_LAMOST_IMAGE_SUBCONT, 3909,
     "", "STAR", "G5", 42.71, 23.14, 3.996e-05},
    {"spec-56257-GAC089N38V2_sp01-001.fits", MS_LAMOST_IMAGE, 3899,
     "", "STAR", "A5V", 44.16, 46.7, -2.783e-05},
    {"spec-57287-KP193637N444141V03_sp10-161.fits.gz", MS_LAMOST_IMAGE, 3909,
     "LAMOST DR6", "STAR", "F5", 128.48, 158.11, -0.00017162},
    {"spec-58397-EG014118N254444M01_sp03-031.fits", MS_LAMOST_IMAGE, 3909,
     "LAMOST DR7", "STAR", "G3", 241.09, 320.95, -6.4e-06},
};

static const char *shared_file(const char *name, char *buf, size_t len)
{
    char rel[512];
    snprintf(rel, sizeof rel, DATA "%s", name);
    return ms_test_shared(rel, buf, len);
}

static void assert_empty(const ms_lamost_spectrum *s)
{
    assert_int_equal(s->n, 0);
    assert_null(s->wave);
    assert_null(s->flux);
    assert_null(s->ivar);
    assert_null(s->andmask);
    assert_null(s->ormask);
}

/* ------------------------------------------------------------------------------------ */

static void test_every_real_file_reads(void **state)
{
    (void)state;
    char path[1024];
    if (!shared_file("INDEX.md", path, sizeof path)) skip();
    size_t before = ms_mem_current();
    for (size_t k = 0; k < sizeof real_files / sizeof real_files[0]; k++) {
        const expected_file *e = &real_files[k];
        assert_non_null(shared_file(e->file, path, sizeof path));
        ms_lamost_spectrum s;
        ms_lamost_meta m;
        ms_status st = ms_lamost_read(path, &s, &m);
        if (st != MS_OK) print_error("%s: %s\n", e->file, ms_error_message());
        assert_int_equal(st, MS_OK);

        assert_int_equal(m.layout, e->layout);
        assert_int_equal(s.n, e->npix);
        assert_string_equal(m.data_v, e->data_v);
        assert_string_equal(m.cls, e->cls);
        assert_string_equal(m.subclass, e->subclass);
        assert_close(m.snr[2], e->snr_r, 0, 1e-9, e->file);
        assert_close(m.snr[3], e->snr_i, 0, 1e-9, e->file);
        assert_close(m.z, e->z, 1e-12, 0, e->file);
        assert_true(m.ra >= 0 && m.ra < 360 && m.dec > -90 && m.dec < 90);
        assert_true(m.lmjd > 55000 && m.lmjd < 60000);
        assert_true(m.spid >= 1 && m.spid <= 16 && m.fiberid >= 1 && m.fiberid <= 250);
        assert_true(strncmp(m.desig, "LAMOST J", 8) == 0);
        assert_true(strlen(m.planid) > 0);

        /* vacuum log-linear axis 10^(3.5682 + 1e-4 i): 3699.98 A up to ~9100 A */
        assert_close(s.wave[0], 3699.986, 0, 0.005, e->file);
        assert_true(s.wave[s.n - 1] > 9070 && s.wave[s.n - 1] < 9100);
        for (size_t i = 1; i < s.n; i++) assert_true(s.wave[i] > s.wave[i - 1]);
        for (size_t i = 0; i < s.n; i++) {
            assert_true(isfinite(s.flux[i]));
            assert_true(s.ivar[i] >= 0);
        }
        ms_lamost_spectrum_free(&s);
        assert_empty(&s);
    }
    assert_int_equal(ms_mem_current(), before);
}

/* Issue 17 item 5: every real file gets a unique key. DR1 and early files have no OBSID: the
 * key is the name LAMOST gives the file (FILENAME = spec-<key>.fits), built from LMJD,
 * PLANID, SPID and FIBERID (FIBERID is a string '1' in two of them); later files: OBSID. */
static void test_every_real_file_has_its_key(void **state)
{
    (void)state;
    char path[1024];
    if (!shared_file("INDEX.md", path, sizeof path)) skip();
    static const struct {
        const char *file, *key;
    } want[] = {
        {"spec-55862-B6212_sp06-003.fits", "55862-B6212_sp06-003"},
        {"spec-55919-B5591903_sp01-001.fits", "55919-B5591903_sp01-001"},
        {"spec-55939-B5593905_sp01-018.fits", "55939-B5593905_sp01-018"},
        {"spec-56257-GAC089N38V2_sp01-001.fits", "56257-GAC089N38V2_sp01-001"},
        {"spec-58397-EG014118N254444M01_sp03-031.fits", "677503031"},
        {"dr10-obsid-3703110.fits", "3703110"},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        assert_non_null(shared_file(want[k].file, path, sizeof path));
        ms_lamost_spectrum s;
        ms_lamost_meta m;
        assert_int_equal(ms_lamost_read(path, &s, &m), MS_OK);
        char key[MS_KEY_LEN], name[MS_KEY_LEN], from_file[MS_KEY_LEN];
        ms_lamost_key(key, sizeof key, m.obsid, m.lmjd, m.planid, m.spid, m.fiberid);
        assert_string_equal(key, want[k].key);
        /* the name built from the header is the file's own name (a DR10 file renamed by
         * obsid has none) */
        ms_lamost_name(name, sizeof name, m.lmjd, m.planid, m.spid, m.fiberid);
        ms_lamost_name_from_file(from_file, sizeof from_file, path);
        if (strncmp(want[k].file, "spec-", 5) == 0) assert_string_equal(name, from_file);
        if (!m.obsid[0]) assert_string_equal(key, from_file);
        ms_lamost_spectrum_free(&s);
    }
    /* every readable file: a key, and no two different exposures share one */
    char keys[sizeof real_files / sizeof real_files[0]][MS_KEY_LEN];
    for (size_t k = 0; k < sizeof real_files / sizeof real_files[0]; k++) {
        assert_non_null(shared_file(real_files[k].file, path, sizeof path));
        ms_lamost_spectrum s;
        ms_lamost_meta m;
        assert_int_equal(ms_lamost_read(path, &s, &m), MS_OK);
        ms_lamost_key(keys[k], MS_KEY_LEN, m.obsid, m.lmjd, m.planid, m.spid, m.fiberid);
        assert_true(strlen(keys[k]) > 0);
        ms_lamost_spectrum_free(&s);
    }
    size_t same = 0; /* spec-55859-F5902_sp01-001 and -005 are each there in two layouts */
    for (size_t a = 0; a < sizeof keys / sizeof keys[0]; a++)
        for (size_t b = a + 1; b < sizeof keys / sizeof keys[0]; b++)
            if (strcmp(keys[a], keys[b]) == 0) {
                same++;
                assert_int_equal(strncmp(real_files[a].file, real_files[b].file, 25), 0);
            }
    assert_int_equal(same, 2);
}

static void test_metadata_details(void **state)
{
    (void)state;
    char path[1024];
    ms_lamost_spectrum s;
    ms_lamost_meta m;
    /* DR10: integer OBSID, every keyword present */
    if (!shared_file("dr10-obsid-3703110.fits", path, sizeof path)) skip();
    assert_int_equal(ms_lamost_read(path, &s, &m), MS_OK);
    assert_string_equal(m.obsid, "3703110");
    assert_string_equal(m.desig, "LAMOST J091219.42+275336.4");
    assert_string_equal(m.planid, "B7708");
    assert_int_equal(m.lmjd, 55877);
    assert_int_equal(m.spid, 3);
    assert_int_equal(m.fiberid, 110);
    assert_close(m.ra, 138.080956, 0, 1e-9, "RA");
    assert_close(m.dec, 27.893459, 0, 1e-9, "DEC");
    assert_close(m.z_err, 1.341e-05, 1e-12, 0, "Z_ERR");
    assert_close(m.snr[0], 0.08, 0, 1e-12, "SNRU");
    assert_close(m.snr[4], 89.74, 0, 1e-12, "SNRZ");
    ms_lamost_spectrum_free(&s);

    /* early file: no OBSID or DATA_V, FIBERID written as the string '1', SN_U..SN_Z */
    assert_non_null(shared_file("spec-55919-B5591903_sp01-001.fits", path, sizeof path));
    assert_int_equal(ms_lamost_read(path, &s, &m), MS_OK);
    assert_string_equal(m.obsid, "");
    assert_string_equal(m.data_v, "");
    assert_int_equal(m.fiberid, 1);
    assert_close(m.snr[0], 1.11, 0, 1e-12, "SN_U");
    assert_close(m.snr[4], 3.25, 0, 1e-12, "SN_Z");
    assert_close(m.z_err, -9999.0, 0, 0, "Z_ERR sentinel kept as written");
    ms_lamost_spectrum_free(&s);

    /* meta is optional */
    assert_int_equal(ms_lamost_read(path, &s, NULL), MS_OK);
    assert_int_equal(s.n, 3909);
    ms_lamost_spectrum_free(&s);
}

/* Compare two readings pixel by pixel; returns the number of pixels whose flux or ivar
 * differ (wavelengths and masks are asserted equal). */
static size_t compare_spectra(const ms_lamost_spectrum *a, const ms_lamost_spectrum *b)
{
    assert_int_equal(a->n, b->n);
    size_t differ = 0;
    for (size_t i = 0; i < a->n; i++) {
        assert_true(a->wave[i] == b->wave[i]);
        assert_int_equal(a->andmask[i], b->andmask[i]);
        assert_int_equal(a->ormask[i], b->ormask[i]);
        differ += (a->flux[i] != b->flux[i] || a->ivar[i] != b->ivar[i]);
    }
    return differ;
}

static void test_same_observation_in_two_layouts(void **state)
{
    (void)state;
    char p9[1024], p7[1024];
    if (!shared_file("spec-55859-F5902_sp01-001__aec13944.fits.gz", p9, sizeof p9)) skip();
    assert_non_null(
        shared_file("spec-55859-F5902_sp01-001_dr7__253a7858.fits.gz", p7, sizeof p7));
    ms_lamost_spectrum a, b;
    ms_lamost_meta ma, mb;
    assert_int_equal(ms_lamost_read(p9, &a, &ma), MS_OK);
    assert_int_equal(ms_lamost_read(p7, &b, &mb), MS_OK);
    assert_int_equal(ma.layout, MS_LAMOST_COADD);
    assert_int_equal(mb.layout, MS_LAMOST_IMAGE);
    /* DR9 table and DR7 image of observation 101001: bit-for-bit the same data */
    assert_int_equal(compare_spectra(&a, &b), 0);
    assert_string_equal(ma.obsid, mb.obsid);
    ms_lamost_spectrum_free(&a);
    ms_lamost_spectrum_free(&b);

    /* sp01-005 in DR9 (table) and DR5 (image): same pixels and wavelengths, but the
     * pipeline re-reduced it (S/N r 16.76 vs 16.61): about half the fluxes differ. So
     * only the 001 pair is a true identity check. */
    assert_non_null(shared_file("spec-55859-F5902_sp01-005__4661f26c.fits.gz", p9, sizeof p9));
    assert_non_null(shared_file("spec-55859-F5902_sp01-005__48d7b363.fits.gz", p7, sizeof p7));
    assert_int_equal(ms_lamost_read(p9, &a, &ma), MS_OK);
    assert_int_equal(ms_lamost_read(p7, &b, &mb), MS_OK);
    size_t differ = compare_spectra(&a, &b);
    assert_true(differ > 1000 && differ < a.n);
    ms_lamost_spectrum_free(&a);
    ms_lamost_spectrum_free(&b);
}

/* Row `row` of the primary image as stored, read directly with cfitsio. */
static void raw_image_row(const char *path, int row, double *out, long n)
{
    fitsfile *fp;
    int st = 0, anynul = 0;
    assert_int_equal(fits_open_diskfile(&fp, path, READONLY, &st), 0);
    assert_int_equal(
        fits_read_img(fp, TDOUBLE, (LONGLONG)row * n + 1, n, NULL, out, &anynul, &st), 0);
    fits_close_file(fp, &st);
}

static void test_dr1_subcontinuum_wavelength(void **state)
{
    (void)state;
    const char *files[] = {"spec-55862-B6212_sp06-003.fits", "spec-55939-B5593905_sp01-018.fits"};
    char path[1024];
    if (!shared_file(files[0], path, sizeof path)) skip();
    for (int k = 0; k < 2; k++) {
        assert_non_null(shared_file(files[k], path, sizeof path));
        ms_lamost_spectrum s;
        ms_lamost_meta m;
        assert_int_equal(ms_lamost_read(path, &s, &m), MS_OK);
        assert_int_equal(m.layout, MS_LAMOST_IMAGE_SUBCONT);
        for (size_t i = 0; i < s.n; i++)
            assert_close(s.wave[i], pow(10.0, 3.5682 + 1e-4 * (double)i), 1e-13, 0, files[k]);
        /* row 2 is a normalised flux near 1, not a wavelength */
        double *row2 = malloc(s.n * sizeof *row2);
        raw_image_row(path, 2, row2, (long)s.n);
        for (size_t i = 0; i < s.n; i++) assert_true(row2[i] < 100.0 && row2[i] != s.wave[i]);
        free(row2);
        ms_lamost_spectrum_free(&s);
    }
}

static void test_double_precision_image(void **state)
{
    (void)state;
    char path[1024];
    /* BITPIX = -64 (DR2-era): the stored wavelength row is the log-linear axis in double */
    if (!shared_file("spec-56257-GAC089N38V2_sp01-001.fits", path, sizeof path)) skip();
    ms_lamost_spectrum s;
    ms_lamost_meta m;
    assert_int_equal(ms_lamost_read(path, &s, &m), MS_OK);
    assert_int_equal(m.layout, MS_LAMOST_IMAGE);
    for (size_t i = 0; i < s.n; i++)
        assert_close(s.wave[i], pow(10.0, 3.5682 + 1e-4 * (double)i), 1e-14, 0, "wave");
    size_t flagged = 0;
    for (size_t i = 0; i < s.n; i++) flagged += (s.ormask[i] != 0);
    assert_int_equal(flagged, 27); /* masks stored as double come back as integers */
    ms_lamost_spectrum_free(&s);
}

/* ------------------------------------------------------------------------------------ */
/* Broken inputs                                                                         */

static const char *tmp_path(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", ms_test_tmpdir(), name);
    return buf;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
}

/* Copy the first `n` bytes of src (all when n == 0) to dst. */
static void copy_prefix(const char *src, const char *dst, size_t n)
{
    FILE *in = fopen(src, "rb");
    assert_non_null(in);
    char *buf = malloc(1 << 20);
    size_t got = fread(buf, 1, 1 << 20, in);
    fclose(in);
    write_bytes(dst, buf, n && n < got ? n : got);
    free(buf);
}

/* Expect `code`, a message naming the file and `item`, nothing allocated, no leak. */
static void expect_failure(const char *path, ms_status code, const char *item)
{
    size_t before = ms_mem_current();
    ms_lamost_spectrum s;
    ms_lamost_meta m;
    ms_error_clear();
    ms_status st = ms_lamost_read(path, &s, &m);
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

typedef struct {
    long npix;       /* vector length of every column */
    int with_ivar;   /* write the IVAR column */
    int zero_wave;   /* wavelength column all zero */
    int with_table;  /* write HDU 2 at all */
} coadd_spec;

/* A DR9-like file: header-only primary (with stale NAXIS1/2 cards), COADD table. */
static void write_coadd(const char *path, coadd_spec c)
{
    char name[1100];
    snprintf(name, sizeof name, "!%s", path); /* '!' = overwrite */
    fitsfile *fp;
    int st = 0;
    assert_int_equal(fits_create_file(&fp, name, &st), 0);
    assert_int_equal(fits_create_img(fp, SHORT_IMG, 0, NULL, &st), 0);
    long stale1 = 3909, stale2 = 5, obsid = 42;
    fits_write_key(fp, TLONG, "NAXIS1", &stale1, "stale card", &st);
    fits_write_key(fp, TLONG, "NAXIS2", &stale2, "stale card", &st);
    fits_write_key(fp, TLONG, "OBSID", &obsid, NULL, &st);
    fits_write_key(fp, TSTRING, "CLASS", "STAR", NULL, &st);
    assert_int_equal(st, 0);
    if (c.with_table) {
        char tform[16];
        snprintf(tform, sizeof tform, "%ldE", c.npix);
        char *names[5] = {"FLUX", "IVAR", "WAVELENGTH", "ANDMASK", "ORMASK"};
        char *forms[5] = {tform, tform, tform, tform, tform};
        char *kept[5], *kform[5];
        int nc = 0;
        for (int i = 0; i < 5; i++)
            if (i != 1 || c.with_ivar) kept[nc] = names[i], kform[nc++] = forms[i];
        assert_int_equal(
            fits_create_tbl(fp, BINARY_TBL, 1, nc, kept, kform, NULL, "COADD", &st), 0);
        if (c.npix > 0) {
            float *v = malloc((size_t)c.npix * sizeof *v);
            for (int col = 1; col <= nc; col++) {
                for (long i = 0; i < c.npix; i++)
                    v[i] = strcmp(kept[col - 1], "WAVELENGTH") == 0
                               ? (c.zero_wave ? 0.0f : (float)(4000.0 + (double)i))
                               : (strstr(kept[col - 1], "MASK") ? 0.0f : 1.0f);
                fits_write_col(fp, TFLOAT, col, 1, 1, c.npix, v, &st);
            }
            free(v);
        }
    }
    fits_close_file(fp, &st);
    assert_int_equal(st, 0);
}

static void test_synthetic_coadd_reads(void **state)
{
    (void)state;
    char path[1024];
    tmp_path("good_coadd.fits", path, sizeof path);
    write_coadd(path, (coadd_spec){.npix = 10, .with_ivar = 1, .with_table = 1});
    ms_lamost_spectrum s;
    ms_lamost_meta m;
    assert_int_equal(ms_lamost_read(path, &s, &m), MS_OK);
    assert_int_equal(m.layout, MS_LAMOST_COADD);
    assert_int_equal(s.n, 10); /* the stale NAXIS1 = 3909 card is ignored */
    assert_string_equal(m.obsid, "42");
    assert_string_equal(m.subclass, "");
    assert_true(isnan(m.z) && isnan(m.snr[2]) && m.lmjd == -1 && m.fiberid == -1);
    assert_close(s.wave[9], 4009.0, 0, 0, "wave");
    ms_lamost_spectrum_free(&s);
}

static void test_non_fits_and_empty_files(void **state)
{
    (void)state;
    char path[1024];
    const char *text = "this is not a FITS file\n";
    write_bytes(tmp_path("text.fits", path, sizeof path), text, strlen(text));
    expect_failure(path, MS_EIO, "cannot open");
    write_bytes(tmp_path("empty.fits", path, sizeof path), "", 0);
    expect_failure(path, MS_EIO, "cannot open");
    expect_failure(tmp_path("does-not-exist.fits", path, sizeof path), MS_EIO, NULL);
}

static void test_truncated_files(void **state)
{
    (void)state;
    char src[1024], path[1024];
    if (!shared_file("spec-58397-EG014118N254444M01_sp03-031.fits", src, sizeof src)) skip();
    /* first 10 KB: the header itself is cut */
    copy_prefix(src, tmp_path("trunc10k.fits", path, sizeof path), 10240);
    expect_failure(path, MS_EIO, NULL);
    /* header complete, image cut in row 1 */
    copy_prefix(src, tmp_path("trunc30k.fits", path, sizeof path), 30000);
    expect_failure(path, MS_EIO, "row");
    /* DR10 table cut inside the data */
    assert_non_null(shared_file("dr10-obsid-3703110.fits", src, sizeof src));
    copy_prefix(src, tmp_path("trunc60k_dr10.fits", path, sizeof path), 60000);
    expect_failure(path, MS_EIO, "column");
    /* gzip stream cut: refused from its trailer before cfitsio sizes a buffer from it */
    assert_non_null(shared_file("spec-55859-F5902_sp01-001__aec13944.fits.gz", src, sizeof src));
    copy_prefix(src, tmp_path("trunc10k.fits.gz", path, sizeof path), 10240);
    expect_failure(path, MS_EIO, "gzip");
    copy_prefix(src, tmp_path("trunc10.fits.gz", path, sizeof path), 10);
    expect_failure(path, MS_EIO, "gzip");
}

/* End of the data that the reader needs in the last HDU (padding and the unread
 * NORMALIZATION column excluded).
 * *last_head: where the last HDU's header starts (a cut there leaves a valid file). */
static long long needed_bytes(const char *path, long long *last_head)
{
    fitsfile *fp;
    int st = 0, nhdu = 0, type = 0;
    LONGLONG head = 0, data = 0, end = 0;
    assert_int_equal(fits_open_diskfile(&fp, path, READONLY, &st), 0);
    fits_get_num_hdus(fp, &nhdu, &st);
    fits_movabs_hdu(fp, nhdu, &type, &st);
    fits_get_hduaddrll(fp, &head, &data, &end, &st);
    *last_head = head;
    long long need = data;
    if (type == BINARY_TBL) { /* one row; the reader stops after ORMASK, column 5 */
        for (int col = 1; col <= 5; col++) {
            int typecode = 0;
            long repeat = 0, width = 0;
            fits_get_coltype(fp, col, &typecode, &repeat, &width, &st);
            need += (long long)repeat * width;
        }
    } else {
        long naxes[2];
        int bitpix = 0, naxis = 0;
        fits_get_img_param(fp, 2, &bitpix, &naxis, naxes, &st);
        need += (long long)naxes[0] * naxes[1] * (bitpix < 0 ? -bitpix : bitpix) / 8;
    }
    fits_close_file(fp, &st);
    assert_int_equal(st, 0);
    return need;
}

/* Cut a real file at every block boundary and inside every block: before the end of
 * the needed data it must fail (MS_EIO, no leak); a cut just before the COADD header
 * leaves a valid primary-only file (MS_EFITS); the whole file reads. */
static void test_truncated_everywhere(void **state)
{
    (void)state;
    const char *files[] = {"dr10-obsid-3703110.fits",
                           "spec-58397-EG014118N254444M01_sp03-031.fits",
                           "spec-56257-GAC089N38V2_sp01-001.fits"};
    char src[1024], path[1024];
    if (!shared_file(files[0], src, sizeof src)) skip();
    for (int f = 0; f < 3; f++) {
        assert_non_null(shared_file(files[f], src, sizeof src));
        long long head = 0, need = needed_bytes(src, &head);
        FILE *in = fopen(src, "rb");
        fseek(in, 0, SEEK_END);
        long size = ftell(in);
        fclose(in);
        assert_int_equal(size % 1440, 0); /* FITS files are whole 2880-byte blocks */
        for (long cut = 0; cut <= size; cut += 1440) {
            copy_prefix(src, tmp_path("cut.fits", path, sizeof path), (size_t)(cut ? cut : 1));
            size_t before = ms_mem_current();
            ms_lamost_spectrum s;
            ms_status st = ms_lamost_read(path, &s, NULL);
            ms_status want = (cut == head && head > 0) ? MS_EFITS : MS_EIO;
            /* when only the padding is cut, cfitsio may or may not read the last block */
            if (cut >= need && st == MS_OK) want = MS_OK;
            if (st != want)
                print_error("%s cut at %ld (data end %lld): %s %s\n", files[f], cut, need,
                            ms_status_name(st), ms_error_message());
            assert_int_equal(st, want);
            if (cut == size) assert_int_equal(st, MS_OK);
            ms_lamost_spectrum_free(&s);
            assert_int_equal(ms_mem_current(), before);
        }
    }
}

static void test_missing_hdu_and_columns(void **state)
{
    (void)state;
    char path[1024];
    write_coadd(tmp_path("no_ivar.fits", path, sizeof path),
                (coadd_spec){.npix = 8, .with_ivar = 0, .with_table = 1});
    expect_failure(path, MS_EFITS, "no column IVAR");
    write_coadd(tmp_path("primary_only.fits", path, sizeof path),
                (coadd_spec){.npix = 8, .with_table = 0});
    expect_failure(path, MS_EFITS, "COADD");
    write_coadd(tmp_path("zero_pixels.fits", path, sizeof path),
                (coadd_spec){.npix = 0, .with_ivar = 1, .with_table = 1});
    expect_failure(path, MS_EFORMAT, "no pixels");
    write_coadd(tmp_path("zero_wave.fits", path, sizeof path),
                (coadd_spec){.npix = 8, .with_ivar = 1, .zero_wave = 1, .with_table = 1});
    expect_failure(path, MS_EFORMAT, "all zero");
}

/* An image whose third row is a wavelength by name but all zero; one without EXTEN0
 * whose third row is not a wavelength and no COEFF0 to compute one. */
static void write_image(const char *path, int exten0, int zero_row2, int coeffs)
{
    char name[1100];
    snprintf(name, sizeof name, "!%s", path);
    fitsfile *fp;
    int st = 0;
    long naxes[2] = {6, 5};
    double data[30];
    for (int i = 0; i < 30; i++) data[i] = (i / 6 == 2) ? (zero_row2 ? 0.0 : 1.0) : 1.0;
    fits_create_file(&fp, name, &st);
    fits_create_img(fp, DOUBLE_IMG, 2, naxes, &st);
    if (exten0)
        fits_write_key(fp, TSTRING, "EXTEN0", "Flux, Inverse, Wavelength, Andmask, Ormask",
                       NULL, &st);
    if (coeffs) {
        double c0 = 3.5682, c1 = 1e-4;
        fits_write_key(fp, TDOUBLE, "COEFF0", &c0, NULL, &st);
        fits_write_key(fp, TDOUBLE, "COEFF1", &c1, NULL, &st);
    }
    fits_write_img(fp, TDOUBLE, 1, 30, data, &st);
    fits_close_file(fp, &st);
    assert_int_equal(st, 0);
}

/* Overwrite the value of the header card starting with `prefix` (right-justified in
 * columns 11-30, as FITS writes integers). */
static void patch_card(const char *path, const char *prefix, const char *value)
{
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    char card[81] = {0};
    for (long off = 0; fread(card, 1, 80, fp) == 80; off += 80) {
        if (strncmp(card, prefix, strlen(prefix)) != 0) continue;
        char field[21];
        snprintf(field, sizeof field, "%20s", value);
        fseek(fp, off + 10, SEEK_SET);
        fwrite(field, 1, 20, fp);
        break;
    }
    fclose(fp);
}

static void test_broken_images(void **state)
{
    (void)state;
    char path[1024];
    write_image(tmp_path("image_zero_wave.fits", path, sizeof path), 1, 1, 1);
    expect_failure(path, MS_EFORMAT, "all zero");
    write_image(tmp_path("image_no_coeff.fits", path, sizeof path), 0, 0, 0);
    expect_failure(path, MS_EFITS, "COEFF0");
    /* a corrupt NAXIS1 claiming a billion pixels is refused before any allocation */
    write_image(tmp_path("image_huge.fits", path, sizeof path), 1, 0, 1);
    patch_card(path, "NAXIS1  =", "999999999");
    expect_failure(path, MS_EFORMAT, "NAXIS1");
    /* without EXTEN0, a non-wavelength row 2 plus COEFF0/1 is the DR1 layout */
    write_image(tmp_path("image_subcont.fits", path, sizeof path), 0, 0, 1);
    ms_lamost_spectrum s;
    ms_lamost_meta m;
    assert_int_equal(ms_lamost_read(path, &s, &m), MS_OK);
    assert_int_equal(m.layout, MS_LAMOST_IMAGE_SUBCONT);
    assert_int_equal(s.n, 6);
    ms_lamost_spectrum_free(&s);
}

static void test_odd_file_name(void **state)
{
    (void)state;
    char src[1024], path[1024];
    if (!shared_file("dr10-obsid-3703110.fits", src, sizeof src)) skip();
    /* '[' would start cfitsio's extended syntax if the name were parsed */
    copy_prefix(src, tmp_path("odd[1]name.fits", path, sizeof path), 0);
    ms_lamost_spectrum s;
    assert_int_equal(ms_lamost_read(path, &s, NULL), MS_OK);
    assert_int_equal(s.n, 3909);
    ms_lamost_spectrum_free(&s);
}

static void test_out_of_memory_paths(void **state)
{
    (void)state;
    char path[1024];
    if (!shared_file("dr10-obsid-3703110.fits", path, sizeof path)) skip();
    size_t before = ms_mem_current();
    for (long k = 0; k < 5; k++) {
        ms_lamost_spectrum s;
        ms_mem_fail_after(k);
        ms_status st = ms_lamost_read(path, &s, NULL);
        ms_mem_fail_after(-1);
        assert_int_equal(st, MS_ENOMEM);
        assert_non_null(strstr(ms_error_message(), path));
        assert_empty(&s);
        assert_int_equal(ms_mem_current(), before);
    }
}

static void test_layout_names(void **state)
{
    (void)state;
    assert_string_equal(ms_lamost_layout_name(MS_LAMOST_COADD), "dr9-coadd");
    assert_string_equal(ms_lamost_layout_name(MS_LAMOST_IMAGE), "dr2-dr8-image");
    assert_string_equal(ms_lamost_layout_name(MS_LAMOST_IMAGE_SUBCONT), "dr1-subcont");
    assert_string_equal(ms_lamost_layout_name((ms_lamost_layout)0), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_real_file_reads),
        cmocka_unit_test(test_metadata_details),
        cmocka_unit_test(test_every_real_file_has_its_key),
        cmocka_unit_test(test_same_observation_in_two_layouts),
        cmocka_unit_test(test_dr1_subcontinuum_wavelength),
        cmocka_unit_test(test_double_precision_image),
        cmocka_unit_test(test_synthetic_coadd_reads),
        cmocka_unit_test(test_non_fits_and_empty_files),
        cmocka_unit_test(test_truncated_files),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_missing_hdu_and_columns),
        cmocka_unit_test(test_broken_images),
        cmocka_unit_test(test_odd_file_name),
        cmocka_unit_test(test_out_of_memory_paths),
        cmocka_unit_test(test_layout_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
