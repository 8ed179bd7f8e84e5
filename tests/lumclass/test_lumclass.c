/* test_lumclass.c: the dwarf/giant module (lumclass.h): the Gaia CMD module (Eq. 1 arithmetic,
 * the cuts, points on each side of the quadrilateral's edges and of the gM line), the Table 3
 * indices (analytic box lines, error pulls by Monte Carlo, the rest-frame shift of the native
 * view, and an independent numpy computation on real spectra), the verdict on the real Kesseli
 * dwarfs and giants, the combination rule and the column group. */
#include "mstars/lamost.h"
#include "mstars/lumclass.h"
#include "mstars/native.h"
#include "mstars/schema.h"
#include "mstars/spec.h"

#include "test_util.h"

#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ Gaia CMD */

static ms_cmd_input good_star(void)
{
    ms_cmd_input in;
    ms_cmd_input_init(&in);
    in.g = 14.5;
    in.bp = 13.2;
    in.rp = 10.9;
    in.parallax = 10.0;
    in.parallax_error = 0.05;
    in.r_med_geo = 100.0;
    in.flux_over_error[0] = in.flux_over_error[1] = in.flux_over_error[2] = 500.0;
    in.ruwe = 1.0;
    return in;
}

static void test_cmd_eq1(void **state)
{
    (void)state;
    ms_cmd_result r;
    ms_cmd_input in = good_star();
    ms_cmd_classify(&in, &r); /* 14.5 - 5 lg 100 + 5 = 9.5, colour 2.3, no extinction */
    assert_true(fabs(r.m_g0 - 9.5) < 1e-12);
    assert_true(fabs(r.bp_rp0 - 2.3) < 1e-12);
    assert_int_equal(r.flag, 1);
    assert_int_equal(r.bits, MS_CMD_BIT_NO_EXT);
    assert_int_equal(r.pos, MS_CMD_DM);
    /* A_G and E(BP-RP) given */
    in.a_g = 0.3;
    in.e_bp_rp = 0.15;
    ms_cmd_classify(&in, &r);
    assert_true(fabs(r.m_g0 - 9.2) < 1e-12);
    assert_true(fabs(r.bp_rp0 - 2.15) < 1e-12);
    assert_int_equal(r.bits, 0);
    /* E(B-V) with Casagrande & VandenBerg 2018: A_G = 2.740 E, E(BP-RP) = 1.339 E */
    in.a_g = in.e_bp_rp = NAN;
    in.ebv = 0.1;
    ms_cmd_classify(&in, &r);
    assert_true(fabs(r.m_g0 - (9.5 - 0.274)) < 1e-12);
    assert_true(fabs(r.bp_rp0 - (2.3 - 0.1339)) < 1e-12);
    /* distance from the parallax: 1000/25 = 40 pc, M_G = 14.5 - 5 lg 40 + 5 */
    in = good_star();
    in.r_med_geo = NAN;
    in.parallax = 25.0;
    ms_cmd_classify(&in, &r);
    assert_true(fabs(r.m_g0 - (19.5 - 5.0 * log10(40.0))) < 1e-12);
    assert_true(fabs(r.dist_pc - 40.0) < 1e-12);
    assert_true(r.bits & MS_CMD_BIT_DIST_PLX);
    /* no distance at all, no photometry */
    in.parallax = -1.0;
    ms_cmd_classify(&in, &r);
    assert_true(isnan(r.m_g0));
    assert_int_equal(r.pos, MS_CMD_NONE);
    assert_int_equal(r.flag, 0);
    assert_true(r.bits & MS_CMD_BIT_NO_DIST);
    in = good_star();
    in.bp = NAN;
    ms_cmd_classify(&in, &r);
    assert_true(isnan(r.bp_rp0) && (r.bits & MS_CMD_BIT_NO_PHOT) && r.flag == 0);
}

static void test_cmd_cuts(void **state)
{
    (void)state;
    ms_cmd_result r;
    ms_cmd_input in = good_star();
    /* parallax_over_error from parallax / error: 10 / 2 = 5 is not > 5 */
    in.parallax_error = 2.0;
    ms_cmd_classify(&in, &r);
    assert_int_equal(r.flag, 0);
    assert_true(r.bits & MS_CMD_BIT_CUT_PLX);
    in.parallax_error = 1.99;
    ms_cmd_classify(&in, &r);
    assert_int_equal(r.flag, 1);
    /* a given parallax_over_error column wins */
    in.parallax_over_error = 4.0;
    ms_cmd_classify(&in, &r);
    assert_int_equal(r.flag, 0);
    static const uint32_t bit[3] = {MS_CMD_BIT_CUT_G, MS_CMD_BIT_CUT_BP, MS_CMD_BIT_CUT_RP};
    for (int b = 0; b < 3; b++) {
        in = good_star();
        in.flux_over_error[b] = 20.0; /* not > 20 */
        ms_cmd_classify(&in, &r);
        assert_int_equal(r.flag, 0);
        assert_int_equal(r.bits, MS_CMD_BIT_NO_EXT | bit[b]);
        assert_int_equal(r.pos, MS_CMD_DM); /* the position is still given */
        in.flux_over_error[b] = NAN;      /* missing fails too */
        ms_cmd_classify(&in, &r);
        assert_int_equal(r.flag, 0);
    }
    in = good_star();
    in.ruwe = 1.4;
    ms_cmd_classify(&in, &r);
    assert_int_equal(r.bits, MS_CMD_BIT_NO_EXT | MS_CMD_BIT_CUT_RUWE);
    in.ruwe = 1.3999;
    ms_cmd_classify(&in, &r);
    assert_int_equal(r.flag, 1);
}

static void test_cmd_regions(void **state)
{
    (void)state;
    /* the vertices and edge midpoints are inside (closed region) */
    const double in_pts[][2] = {{0.7, 5}, {1.4, 5}, {5, 16.5}, {4, 16.5}, {1.05, 5},
                                {4.5, 16.5}, {3.2, 10.75}, {2.35, 10.75}, {2.8, 10.5}};
    for (size_t i = 0; i < sizeof in_pts / sizeof in_pts[0]; i++)
        assert_int_equal(ms_cmd_region(in_pts[i][0], in_pts[i][1]), MS_CMD_DM);
    /* just outside each edge: above the top (brighter), below the bottom, left of the left
     * edge (0.7,5)-(4,16.5), right of the right edge (1.4,5)-(5,16.5) */
    assert_int_equal(ms_cmd_region(1.0, 4.99), MS_CMD_OTHER);
    assert_int_equal(ms_cmd_region(4.5, 16.51), MS_CMD_OTHER);
    assert_int_equal(ms_cmd_region(2.35 - 0.01, 10.75), MS_CMD_OTHER);
    assert_int_equal(ms_cmd_region(3.2 + 0.01, 10.75), MS_CMD_OTHER);
    /* the gM line M_G = 1.8 c - 2.2: at c = 3 it is 3.2; brighter (smaller M_G) is gM */
    assert_int_equal(ms_cmd_region(3.0, 3.19), MS_CMD_GM);
    assert_int_equal(ms_cmd_region(3.0, 3.21), MS_CMD_OTHER);
    assert_int_equal(ms_cmd_region(2.5, -1.0), MS_CMD_GM); /* a typical M giant */
    assert_int_equal(ms_cmd_region(0.5, 4.0), MS_CMD_OTHER); /* a hotter dwarf */
    assert_int_equal(ms_cmd_region(NAN, 4.0), MS_CMD_NONE);
    /* the regions never meet for colours 0..6 */
    for (double c = 0.0; c <= 6.0; c += 0.01)
        for (double m = -5.0; m <= 20.0; m += 0.01) {
            ms_cmd_pos p = ms_cmd_region(c, m);
            if (p == MS_CMD_DM) assert_true(m >= 1.8 * c - 2.2);
        }
    assert_string_equal(ms_cmd_pos_name(MS_CMD_GM), "gM");
    assert_string_equal(ms_cmd_pos_name(MS_CMD_NONE), "none");
}

/* ------------------------------------------------------------ line indices */

/* A flat spectrum on a 1 A grid (pixel centres at integers, cells [x-0.5, x+0.5]). */
#define W0 6800.0
#define NW 2000
static void flat(double *w, float *f, float *iv, double level, double sigma)
{
    for (size_t i = 0; i < NW; i++) {
        w[i] = W0 + (double)i;
        f[i] = (float)level;
        if (iv) iv[i] = (float)(1.0 / (sigma * sigma));
    }
}
static void box(const double *w, float *f, double lo, double hi, double factor)
{
    for (size_t i = 0; i < NW; i++)
        if (w[i] - 0.5 >= lo - 1e-9 && w[i] + 0.5 <= hi + 1e-9) f[i] = (float)(f[i] * factor);
}

static void test_indices_analytic(void **state)
{
    (void)state;
    double *w = malloc(NW * sizeof *w);
    float *f = malloc(NW * sizeof *f), *iv = malloc(NW * sizeof *iv);
    assert_non_null(w);
    assert_non_null(f);
    assert_non_null(iv);
    flat(w, f, iv, 2.0, 0.01);
    ms_lum_indices ix;
    ms_lum_measure(w, f, iv, NULL, NW, &ix);
    assert_true(fabs(ix.cah - 1.0) < 1e-12 && fabs(ix.tio5 - 1.0) < 1e-12);
    assert_true(fabs(ix.ki) < 1e-12 && fabs(ix.nai) < 1e-12 && fabs(ix.cat) < 1e-12);
    /* box lines of known depth: pixels whose whole cell lies in [lo, hi] */
    box(w, f, 8180.5, 8195.5, 0.5);  /* Na I: 15 A at half depth -> EW 7.5 */
    box(w, f, 8538.5, 8548.5, 0.25); /* Ca II 8544: 10 A at 3/4 -> 7.5 */
    box(w, f, 8660.5, 8666.5, 0.0);  /* Ca II 8665: 6 A black -> 6 */
    box(w, f, 7663.5, 7670.5, 0.8);  /* K I 7667: 7 A at 0.2 -> 1.4 */
    box(w, f, 6961.5, 6992.5, 0.6);  /* CaH: 0.6 over the whole numerator band */
    ms_lum_measure(w, f, iv, NULL, NW, &ix);
    printf("box lines: nai %.12g cat %.12g ki %.12g cah %.12g\n", ix.nai, ix.cat, ix.ki, ix.cah);
    assert_true(fabs(ix.nai - 7.5) < 1e-9);
    assert_true(fabs(ix.cat - 13.5) < 1e-9);
    assert_true(fabs(ix.ki - 1.4) < 1e-6); /* 0.8 in float32 */
    assert_true(fabs(ix.cah - 0.6) < 1e-6);
    /* the ratio error: band means of N pixels of sigma 0.01 */
    /* 6961.9-6991.9: overlaps 0.6, 29 x 1, 0.4; 7043.9-7047.9: 0.6, 3 x 1, 0.4 */
    double vn = 1e-4 * (0.36 + 29.0 + 0.16) / (30.0 * 30.0), vd = 1e-4 * 3.52 / 16.0;
    double expect = sqrt(vn / 4.0 + 0.36 * vd / 4.0);
    assert_true(fabs(ix.e_cah - expect) / expect < 1e-5);
    /* a missing pixel in a line window is covered by the others (scaled); a gap over 30%
     * makes the index NaN; ivar NULL gives no errors */
    uint8_t *bad = calloc(NW, 1);
    assert_non_null(bad);
    for (int k = 8179; k <= 8188; k++) bad[k - (int)W0] = 1; /* 10 of 26 A */
    ms_lum_measure(w, f, iv, bad, NW, &ix);
    assert_true(isnan(ix.nai) && isnan(ix.e_nai));
    assert_true(isfinite(ix.cat));
    ms_lum_measure(w, f, NULL, NULL, NW, &ix);
    assert_true(isfinite(ix.nai) && isnan(ix.e_nai));
    free(bad);
    free(w);
    free(f);
    free(iv);
}

/* Error propagation: the std of (index - truth)/error over noisy copies is ~1. */
static double gauss(unsigned long long *s)
{
    double u1, u2;
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    u1 = ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    u2 = ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static void test_indices_pulls(void **state)
{
    (void)state;
    double *w = malloc(NW * sizeof *w);
    float *f0 = malloc(NW * sizeof *f0), *f = malloc(NW * sizeof *f), *iv = malloc(NW * sizeof *iv);
    assert_true(w && f0 && f && iv);
    const double sigma = 0.05;
    flat(w, f0, iv, 1.0, sigma);
    box(w, f0, 8180.5, 8195.5, 0.5);
    box(w, f0, 8538.5, 8548.5, 0.4);
    box(w, f0, 6961.5, 6992.5, 0.7);
    ms_lum_indices truth, ix;
    ms_lum_measure(w, f0, NULL, NULL, NW, &truth);
    unsigned long long seed = 12345;
    const int n = 1500;
    double s[4] = {0}, s2[4] = {0};
    for (int t = 0; t < n; t++) {
        for (size_t i = 0; i < NW; i++) f[i] = (float)(f0[i] + sigma * gauss(&seed));
        ms_lum_measure(w, f, iv, NULL, NW, &ix);
        double p[4] = {(ix.cah - truth.cah) / ix.e_cah, (ix.ki - truth.ki) / ix.e_ki,
                       (ix.nai - truth.nai) / ix.e_nai, (ix.cat - truth.cat) / ix.e_cat};
        for (int k = 0; k < 4; k++) {
            s[k] += p[k];
            s2[k] += p[k] * p[k];
        }
    }
    for (int k = 0; k < 4; k++) {
        double mean = s[k] / n, sd = sqrt(s2[k] / n - mean * mean);
        printf("pull %d: mean %+.3f std %.3f\n", k, mean, sd);
        assert_true(fabs(mean) < 0.15);
        assert_true(sd > 0.9 && sd < 1.1);
    }
    free(w);
    free(f0);
    free(f);
    free(iv);
}

/* The native view: a spectrum observed at +150 km/s measured with rv = 150 equals the same
 * spectrum at rest measured with rv = 0 (lines placed by their rest wavelength). */
static void native_spectrum(double rv, float *flux)
{
    for (size_t k = 0; k < MS_NATIVE_NPIX; k++) {
        double lam = pow(10.0, ms_native_loglam(k)) / (1.0 + rv / MS_C_KMS);
        double v = 1.0;
        const double lines[] = {7667.0, 7701.1, 8185.5, 8197.0, 8500.4, 8544.4, 8664.5};
        for (size_t l = 0; l < sizeof lines / sizeof lines[0]; l++)
            v -= 0.4 * exp(-0.5 * pow((lam - lines[l]) / 1.8, 2));
        flux[k] = (float)v;
    }
}

static void test_native_rest_frame(void **state)
{
    (void)state;
    static float f0[MS_NATIVE_NPIX], f1[MS_NATIVE_NPIX], iv[MS_NATIVE_NPIX];
    static uint8_t mask[MS_NATIVE_NPIX];
    for (size_t k = 0; k < MS_NATIVE_NPIX; k++) iv[k] = 1e4f;
    native_spectrum(0.0, f0);
    native_spectrum(150.0, f1);
    ms_lum_indices a, b, c;
    ms_lum_measure_native(f0, iv, mask, 0xff, 0.0, &a);
    ms_lum_measure_native(f1, iv, mask, 0xff, 150.0, &b);
    ms_lum_measure_native(f1, iv, mask, 0xff, 0.0, &c); /* not shifted back */
    /* Gaussian lines of area 0.4 * 1.8 * sqrt(2 pi) = 1.805 A each */
    double one = 0.4 * 1.8 * sqrt(2.0 * M_PI);
    printf("native: ki %.4f (2 lines: %.4f), nai %.4f, cat %.4f\n", a.ki, 2 * one, a.nai, a.cat);
    assert_true(fabs(a.ki - 2 * one) < 0.05 * one);
    assert_true(fabs(a.cat - 3 * one) < 0.05 * one);
    assert_true(fabs(b.ki - a.ki) < 0.01 && fabs(b.nai - a.nai) < 0.01 && fabs(b.cat - a.cat) < 0.01);
    assert_true(fabs(c.ki - a.ki) > 0.05); /* 3.8 A off: the windows lose part of the lines */
    /* a rejected mask bit removes pixels */
    for (size_t k = 0; k < MS_NATIVE_NPIX; k++) {
        double lam = pow(10.0, ms_native_loglam(k));
        if (lam > 8170 && lam < 8210) mask[k] = MS_NATIVE_ORMASK;
    }
    ms_lum_measure_native(f0, iv, mask, MS_NATIVE_ORMASK, 0.0, &c);
    assert_true(isnan(c.nai));
    ms_lum_measure_native(f0, iv, mask, MS_NATIVE_ANDMASK, 0.0, &c);
    assert_true(fabs(c.nai - a.nai) < 1e-12);
}

/* ------------------------------------------------------------ real spectra */

static const char *shared(void)
{
    const char *s = getenv("MSTARS_SHARED");
    return s && *s ? s : "../shared";
}

/* A Kesseli template: LogLam (log10 vacuum A) and Flux of HDU 2; 0 when absent. */
static int read_template(const char *name, double **w, float **f, size_t *n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/data/templates-kesseli2017/%s.fits", shared(), name);
    fitsfile *fp;
    int st = 0, col;
    long nrows;
    if (fits_open_file(&fp, path, READONLY, &st)) return 0;
    fits_movabs_hdu(fp, 2, NULL, &st);
    fits_get_num_rows(fp, &nrows, &st);
    float *ll = malloc((size_t)nrows * sizeof *ll);
    *f = malloc((size_t)nrows * sizeof **f);
    *w = malloc((size_t)nrows * sizeof **w);
    assert_true(ll && *f && *w);
    fits_get_colnum(fp, CASEINSEN, "LogLam", &col, &st);
    fits_read_col(fp, TFLOAT, col, 1, 1, nrows, NULL, ll, NULL, &st);
    fits_get_colnum(fp, CASEINSEN, "Flux", &col, &st);
    fits_read_col(fp, TFLOAT, col, 1, 1, nrows, NULL, *f, NULL, &st);
    fits_close_file(fp, &st);
    assert_int_equal(st, 0);
    for (long i = 0; i < nrows; i++) (*w)[i] = pow(10.0, (double)ll[i]);
    free(ll);
    *n = (size_t)nrows;
    return 1;
}

/* Against benchmarks/lumclass_calibrate.py (numpy, its own implementation of the bands):
 *   M0_Giant:      cah 0.9851766082 ki 0.7088011398 nai 0.3321190565 cat 7.626653351
 *                  tio5 0.9414169477
 *   M3_+0.0_Dwarf: cah 0.7506784076 ki 3.77603364 nai 2.837791944 cat 3.343535552
 *                  tio5 0.5377101909 */
static void test_numpy_reference(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        double v[5];
    } ref[] = {
        {"M0_Giant", {0.9851766082, 0.7088011398, 0.3321190565, 7.626653351, 0.9414169477}},
        {"M3_+0.0_Dwarf", {0.7506784076, 3.77603364, 2.837791944, 3.343535552, 0.5377101909}},
    };
    for (size_t t = 0; t < 2; t++) {
        double *w;
        float *f;
        size_t n;
        if (!read_template(ref[t].name, &w, &f, &n)) {
            printf("no templates under %s\n", shared());
            skip();
        }
        ms_lum_indices ix;
        ms_lum_measure(w, f, NULL, NULL, n, &ix);
        double got[5] = {ix.cah, ix.ki, ix.nai, ix.cat, ix.tio5};
        for (int k = 0; k < 5; k++) {
            double tol = 1e-7 * fmax(1.0, fabs(ref[t].v[k]));
            if (!(fabs(got[k] - ref[t].v[k]) < tol))
                fail_msg("%s index %d: C %.10g numpy %.10g", ref[t].name, k, got[k], ref[t].v[k]);
        }
        free(w);
        free(f);
    }
    /* a real LAMOST M dwarf through the reader and the native lattice, with errors:
     * numpy on the file's own pixels (rest frame Z*c, ormask/andmask dropped) */
    char path[1024];
    snprintf(path, sizeof path, "%s/data/lamost-mdwarfs/spec-56362-HD141351N461930M01_sp08-161.fits",
             shared());
    ms_lamost_spectrum s;
    ms_lamost_meta m;
    if (ms_lamost_read(path, &s, &m) != MS_OK) skip();
    static float fl[MS_NATIVE_NPIX], iv[MS_NATIVE_NPIX];
    static uint8_t mk[MS_NATIVE_NPIX];
    int on;
    ms_native_place(s.wave, s.flux, s.ivar, s.andmask, s.ormask, s.n, fl, iv, mk, &on);
    assert_int_equal(on, 1);
    ms_lum_indices ix;
    ms_lum_measure_native(fl, iv, mk, 0xff, m.z * MS_C_KMS, &ix);
    const double v[10] = {0.6729603197, 0.001461266884, 6.646462017, 0.02763711795,
                          4.338048873, 0.02269597582, -0.03146173253, 0.05845339737,
                          0.4430972654, 0.001204039421};
    const double got[10] = {ix.cah, ix.e_cah, ix.ki, ix.e_ki, ix.nai, ix.e_nai,
                            ix.cat, ix.e_cat, ix.tio5, ix.e_tio5};
    for (int k = 0; k < 10; k++)
        if (!(fabs(got[k] - v[k]) < 1e-6 * fmax(1.0, fabs(v[k]))))
            fail_msg("LAMOST index %d: C %.10g numpy %.10g", k, got[k], v[k]);
    ms_lamost_spectrum_free(&s);
}

/* The verdict on every K5-M9 Kesseli template: the giants are giants, the M dwarfs dwarfs
 * (in-sample: the thresholds were calibrated on these with the LAMOST dwarfs; the
 * cross-validated accuracy is in benchmarks/RESULTS.md). */
static void test_verdict_templates(void **state)
{
    (void)state;
    static const char *giants[] = {"K5_+0.0_Giant", "K5_+0.5_Giant", "K5_-0.5_Giant",
                                   "K5_-1.0_Giant", "K5_-1.5_Giant", "K5_-2.0_Giant",
                                   "K7_Giant", "M0_Giant"};
    static const char *dwarfs[] = {"M0_+0.0_Dwarf", "M0_-0.5_Dwarf", "M1_+0.0_Dwarf", "M1_-1.0_Dwarf",
                                   "M2_+0.5_Dwarf", "M3_+0.0_Dwarf", "M4_+0.0_Dwarf", "M5_+0.0_Dwarf",
                                   "M6_+0.0_Dwarf", "M7_+0.0_Dwarf", "M8_+0.0_Dwarf", "M9",
                                   "K7_+0.0_Dwarf", "K5_+0.5_Dwarf"};
    for (int cls = 0; cls < 2; cls++) {
        const char *const *list = cls ? dwarfs : giants;
        size_t n_list = cls ? sizeof dwarfs / sizeof *dwarfs : sizeof giants / sizeof *giants;
        for (size_t t = 0; t < n_list; t++) {
            double *w;
            float *f;
            size_t n;
            if (!read_template(list[t], &w, &f, &n)) skip();
            ms_lum_indices ix;
            ms_lum_verdict v;
            ms_lum_measure(w, f, NULL, NULL, n, &ix);
            ms_lum_line_verdict(&ix, NULL, &v);
            printf("%-14s -> %s (%d giant, %d dwarf votes)\n", list[t], ms_lum_class_name(v.cls),
                   v.n_giant, v.n_dwarf);
            assert_int_equal(v.cls, cls ? MS_LUM_DWARF : MS_LUM_GIANT);
            free(w);
            free(f);
        }
    }
}

/* ------------------------------------------------------------ verdict and combination */

static void test_verdict_rule(void **state)
{
    (void)state;
    ms_lum_thresholds t = {0.9, 1.0, 1.0, 6.0};
    ms_lum_indices g = {0.99, NAN, 0.5, NAN, 0.3, NAN, 8.0, NAN, 0.9, NAN};
    ms_lum_verdict v;
    ms_lum_line_verdict(&g, &t, &v);
    assert_int_equal(v.cls, MS_LUM_GIANT);
    assert_int_equal(v.n_giant, 4);
    assert_int_equal(v.giant_votes, 15u);
    ms_lum_indices d = {0.7, NAN, 4.0, NAN, 3.0, NAN, 2.0, NAN, 0.5, NAN};
    ms_lum_line_verdict(&d, &t, &v);
    assert_int_equal(v.cls, MS_LUM_DWARF);
    /* 2 against 2: unknown; 3 against 1: decided */
    ms_lum_indices x = {0.99, NAN, 0.5, NAN, 3.0, NAN, 2.0, NAN, 0.5, NAN};
    ms_lum_line_verdict(&x, &t, &v);
    assert_int_equal(v.cls, MS_LUM_UNKNOWN);
    x.cat = 8.0;
    ms_lum_line_verdict(&x, &t, &v);
    assert_int_equal(v.cls, MS_LUM_GIANT);
    /* within 1 sigma of the threshold: abstain (3 giant votes left of 3 -> still giant;
     * 2 left -> unknown) */
    x.e_cat = 2.5;
    ms_lum_line_verdict(&x, &t, &v);
    assert_int_equal(v.n_giant, 2);
    assert_int_equal(v.cls, MS_LUM_UNKNOWN);
    /* NaN abstains; 3 of 3 decide */
    ms_lum_indices y = {0.7, NAN, NAN, NAN, 3.0, NAN, 2.0, NAN, 0.5, NAN};
    ms_lum_line_verdict(&y, &t, &v);
    assert_int_equal(v.cls, MS_LUM_DWARF);
    y.cat = NAN;
    ms_lum_line_verdict(&y, &t, &v);
    assert_int_equal(v.cls, MS_LUM_UNKNOWN);
}

static void test_combine(void **state)
{
    (void)state;
    char why[MS_LUM_REASON_LEN];
    ms_cmd_result dm = {10, 2.5, 50, 0, 0, 1, MS_CMD_DM, 0}, gm = dm, noflag = dm;
    gm.pos = MS_CMD_GM;
    noflag.pos = MS_CMD_GM;
    noflag.flag = 0;
    ms_lum_verdict ld = {MS_LUM_DWARF, 0, 4, 0, 15}, lg = {MS_LUM_GIANT, 4, 0, 15, 0},
                   lu = {MS_LUM_UNKNOWN, 2, 2, 3, 12};
    /* all agree */
    assert_int_equal(ms_lum_combine(0.1, &dm, &ld, MS_LUM_UNKNOWN, why, sizeof why), MS_LUM_DWARF);
    assert_string_equal(why, "agree dwarf: cnn,cmd,lines");
    assert_int_equal(ms_lum_combine(0.9, &gm, &lg, MS_LUM_UNKNOWN, why, sizeof why), MS_LUM_GIANT);
    /* the CNN absent, the CMD unreliable: the lines alone */
    assert_int_equal(ms_lum_combine(NAN, &noflag, &lg, MS_LUM_UNKNOWN, why, sizeof why), MS_LUM_GIANT);
    assert_string_equal(why, "agree giant: lines");
    /* disagreement: a giant candidate, the lines decide */
    assert_int_equal(ms_lum_combine(0.9, &dm, &ld, MS_LUM_UNKNOWN, why, sizeof why), MS_LUM_DWARF);
    assert_string_equal(why, "disagree: dwarf cmd,lines, giant cnn; lines decide");
    assert_int_equal(ms_lum_combine(0.2, &gm, &lg, MS_LUM_UNKNOWN, why, sizeof why), MS_LUM_GIANT);
    assert_int_equal(ms_lum_combine(0.2, &gm, &lu, MS_LUM_UNKNOWN, why, sizeof why), MS_LUM_UNKNOWN);
    assert_string_equal(why, "disagree: dwarf cnn, giant cmd; no line verdict");
    /* agreement without the lines */
    assert_int_equal(ms_lum_combine(0.2, &dm, &lu, MS_LUM_UNKNOWN, why, sizeof why), MS_LUM_DWARF);
    /* nothing */
    assert_int_equal(ms_lum_combine(NAN, NULL, &lu, MS_LUM_UNKNOWN, why, sizeof why), MS_LUM_UNKNOWN);
    assert_string_equal(why, "no vote: cnn absent, cmd none, lines undecided");
}

/* LAMOST's SUBCLASS as a luminosity vote (ms_lum_lamost_vote). */
static void test_lamost_vote(void **state)
{
    (void)state;
    static const char *giant[] = {"gM0", "gM5", "gK5", "K3III", "G8II", "M2III", "K0 III",
                                  "F0Ib", "B2Ia", "K1III-IV", "gM"};
    static const char *dwarf[] = {"dM0", "dM3", "sdM1", "esdM2", "usdM0", "A5V", "K3V", "M1V",
                                  "F5VI", " dM4"};
    static const char *none[] = {"M0", "K7", "G5", "A2", "Non", "", "G8IV", "M", "g", "d",
                                 "sd", "Unknown", "DA", "WD", "CV", "K5VII", "QSO"};
    for (size_t k = 0; k < sizeof giant / sizeof *giant; k++)
        assert_int_equal(ms_lum_lamost_vote(giant[k]), MS_LUM_GIANT);
    for (size_t k = 0; k < sizeof dwarf / sizeof *dwarf; k++)
        assert_int_equal(ms_lum_lamost_vote(dwarf[k]), MS_LUM_DWARF);
    for (size_t k = 0; k < sizeof none / sizeof *none; k++)
        assert_int_equal(ms_lum_lamost_vote(none[k]), MS_LUM_UNKNOWN);
    assert_int_equal(ms_lum_lamost_vote(NULL), MS_LUM_UNKNOWN);
}

/* The fourth source in the combination: half a vote. */
static void test_combine_lamost(void **state)
{
    (void)state;
    char why[MS_LUM_REASON_LEN];
    ms_cmd_result dm = {10, 2.5, 50, 0, 0, 1, MS_CMD_DM, 0}, gm = dm;
    gm.pos = MS_CMD_GM;
    ms_lum_verdict ld = {MS_LUM_DWARF, 0, 4, 0, 15}, lg = {MS_LUM_GIANT, 4, 0, 15, 0},
                   lu = {MS_LUM_UNKNOWN, 0, 0, 0, 0};
    const ms_lum_class D = MS_LUM_DWARF, G = MS_LUM_GIANT, U = MS_LUM_UNKNOWN;
    /* agreement: LAMOST joins the list */
    assert_int_equal(ms_lum_combine(0.1, &dm, &ld, D, why, sizeof why), D);
    assert_string_equal(why, "agree dwarf: cnn,cmd,lines,lamost");
    /* LAMOST alone decides nothing (weight 0.5 < 1), either way */
    assert_int_equal(ms_lum_combine(NAN, NULL, &lu, G, why, sizeof why), U);
    assert_string_equal(why, "only lamost says giant: weight 0.5 < 1");
    assert_int_equal(ms_lum_combine(NAN, NULL, &lu, D, why, sizeof why), U);
    /* LAMOST with one full source: weight 1.5, agreement */
    assert_int_equal(ms_lum_combine(0.9, NULL, &lu, G, why, sizeof why), G);
    assert_string_equal(why, "agree giant: cnn,lamost");
    /* LAMOST-gM against CNN and CMD dwarf: a giant candidate; the lines decide it ... */
    assert_int_equal(ms_lum_combine(0.1, &dm, &lg, G, why, sizeof why), G);
    assert_string_equal(why, "disagree: dwarf cnn,cmd, giant lines,lamost; lines decide");
    assert_int_equal(ms_lum_combine(0.1, &dm, &ld, G, why, sizeof why), D);
    /* ... and without a line verdict the weights: 2 against 0.5 -> dwarf */
    assert_int_equal(ms_lum_combine(0.1, &dm, &lu, G, why, sizeof why), D);
    assert_string_equal(why, "disagree: dwarf cnn,cmd, giant lamost; weight decides");
    /* 1 against 0.5: no decision; 1.5 against 1: no decision (a lead below 1) */
    assert_int_equal(ms_lum_combine(0.1, NULL, &lu, G, why, sizeof why), U);
    assert_string_equal(why, "disagree: dwarf cnn, giant lamost; no line verdict");
    assert_int_equal(ms_lum_combine(0.9, &dm, &lu, G, why, sizeof why), U);
    assert_int_equal(ms_lum_combine(0.9, &gm, &lu, D, why, sizeof why), G);
    /* no LAMOST vote: the three-source rule unchanged */
    assert_int_equal(ms_lum_combine(0.9, &dm, &lu, U, why, sizeof why), U);
    assert_string_equal(why, "disagree: dwarf cmd, giant cnn; no line verdict");
}

/* ms_lum_fill_row_lamost: the store's SUBCLASS reaches luminosity_class. */
static void test_fill_row_lamost(void **state)
{
    (void)state;
    ms_lum_row r;
    ms_lum_fill_row_lamost(NULL, NULL, NULL, NULL, NAN, 0.8, "gM3", NULL, &r);
    assert_string_equal(r.luminosity_class, "giant");
    assert_string_equal(r.lum_reason, "agree giant: cnn,lamost");
    ms_lum_fill_row_lamost(NULL, NULL, NULL, NULL, NAN, NAN, "gM3", NULL, &r);
    assert_string_equal(r.luminosity_class, "unknown");
    ms_lum_fill_row_lamost(NULL, NULL, NULL, NULL, NAN, 0.8, "M3", NULL, &r);
    assert_string_equal(r.lum_reason, "agree giant: cnn");
}

static void test_group_and_row(void **state)
{
    (void)state;
    const ms_column_group *g = ms_schema_group("lum");
    assert_non_null(g);
    assert_int_equal(g->row_size, sizeof(ms_lum_row));
    const ms_column_group *owner;
    assert_non_null(ms_schema_column("luminosity_class", &owner));
    assert_ptr_equal(owner, g);
    assert_non_null(ms_schema_column("CMD_pos", NULL));
    assert_non_null(ms_schema_flag_bits("cmd_bits"));
    /* a row without a spectrum and with a good CMD position and a CNN vote */
    ms_cmd_input in = good_star();
    ms_lum_row r;
    ms_lum_fill_row(&in, NULL, NULL, NULL, NAN, 0.2, NULL, &r);
    assert_string_equal(r.cmd_pos, "dM");
    assert_int_equal(r.cmd_flag, 1);
    assert_string_equal(r.line_class, "unknown");
    assert_string_equal(r.luminosity_class, "dwarf");
    assert_int_equal(r.lum_code, 1);
    assert_string_equal(r.lum_reason, "agree dwarf: cnn,cmd");
    assert_true(isnan(r.cah) && fabs(r.m_g0 - 9.5) < 1e-12 && r.rv_rest == 0.0);
    ms_lum_fill_row(NULL, NULL, NULL, NULL, NAN, NAN, NULL, &r);
    assert_string_equal(r.cmd_pos, "none");
    assert_string_equal(r.luminosity_class, "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd_eq1),
        cmocka_unit_test(test_cmd_cuts),
        cmocka_unit_test(test_cmd_regions),
        cmocka_unit_test(test_indices_analytic),
        cmocka_unit_test(test_indices_pulls),
        cmocka_unit_test(test_native_rest_frame),
        cmocka_unit_test(test_numpy_reference),
        cmocka_unit_test(test_verdict_templates),
        cmocka_unit_test(test_verdict_rule),
        cmocka_unit_test(test_combine),
        cmocka_unit_test(test_lamost_vote),
        cmocka_unit_test(test_combine_lamost),
        cmocka_unit_test(test_fill_row_lamost),
        cmocka_unit_test(test_group_and_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
