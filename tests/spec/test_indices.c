/* test_indices.c: H-alpha EW, TiO5 / SpT and VBFlag against analytic cases (indices.h). */
#include "test_util.h"

#include "mstars/indices.h"

#include <math.h>
#include <string.h>

#define NPIX 2901
static const ms_wgrid GRID = {6000.0, 1.0, NPIX}; /* the default store grid */

static float flux[NPIX], ivar[NPIX], cont[NPIX];

/* Normalised flux 1 + amp * Gaussian(sigma) at H-alpha on a sloped pseudo-continuum;
 * ivar of the normalised flux 1 / noise^2. */
static void make_line(ms_wgrid g, double amp, double sigma, double noise)
{
    for (size_t i = 0; i < g.n; i++) {
        double x = g.start + (double)i * g.step;
        double d = (x - MS_HALPHA_WAVE) / sigma;
        flux[i] = (float)(1.0 + amp * exp(-0.5 * d * d));
        cont[i] = (float)(100.0 + 0.01 * (x - 6000.0)); /* linear, exact in float */
        ivar[i] = (float)(1.0 / (noise * noise));
    }
}

static double analytic_ew(double amp, double sigma)
{
    return amp * sigma * sqrt(2.0 * 3.14159265358979323846) * erf(MS_HALPHA_HALF_WIDTH / (sigma * sqrt(2.0)));
}

static void test_ew_emission_absorption(void **state)
{
    (void)state;
    const double amps[] = {2.5, -0.6, 0.0};
    for (size_t k = 0; k < 3; k++) {
        make_line(GRID, amps[k], 1.5, 0.05);
        double err;
        double ew = ms_index_halpha_ew(GRID, flux, ivar, cont, &err);
        assert_close(ew, analytic_ew(amps[k], 1.5), 1e-5, 1e-6, "EW");
        /* window [6557.6, 6571.6] on integer pixels: overlaps 0.9, 13 x 1, 0.1 */
        assert_close(err, 0.05 * sqrt(0.81 + 13.0 + 0.01), 1e-5, 0, "EW error");
        assert_int_equal(ms_index_activity(ew), amps[k] > 0 ? 1 : 0);
    }
    make_line(GRID, 2.5, 1.5, 0.05);
    assert_true(ms_index_halpha_ew(GRID, flux, ivar, cont, NULL) > 0); /* emission: EW > 0 */
    /* without the pseudo-continuum the normalised flux is used as is: same EW here */
    assert_close(ms_index_halpha_ew(GRID, flux, ivar, NULL, NULL), analytic_ew(2.5, 1.5), 1e-5,
                 1e-6, "EW normalised");
}

static void test_ew_grid_phase(void **state)
{
    (void)state;
    /* a grid shifted by 0.3 A and a finer step: the window stays exactly 14 A */
    ms_wgrid g = {6000.3, 0.5, NPIX};
    make_line(g, 1.2, 2.0, 0.1);
    assert_close(ms_index_halpha_ew(g, flux, ivar, cont, NULL), analytic_ew(1.2, 2.0), 1e-5,
                 1e-6, "EW shifted grid");
    /* a missing side-band pixel changes nothing for a linear continuum */
    ivar[(size_t)((6546.3 - g.start) / g.step)] = 0;
    assert_close(ms_index_halpha_ew(g, flux, ivar, cont, NULL), analytic_ew(1.2, 2.0), 1e-5,
                 1e-6, "EW missing side pixel");
}

static void test_ew_missing(void **state)
{
    (void)state;
    size_t core = (size_t)(6565.0 - GRID.start);
    double err = 0;
    make_line(GRID, 2.0, 1.5, 0.05);
    ivar[core] = 0;
    assert_true(isnan(ms_index_halpha_ew(GRID, flux, ivar, cont, &err)));
    assert_true(isnan(err));
    make_line(GRID, 2.0, 1.5, 0.05);
    flux[core] = NAN;
    assert_true(isnan(ms_index_halpha_ew(GRID, flux, ivar, cont, NULL)));
    make_line(GRID, 2.0, 1.5, 0.05);
    cont[core] = NAN;
    assert_true(isnan(ms_index_halpha_ew(GRID, flux, ivar, cont, NULL)));
    /* a side band with fewer than half of its pixels */
    make_line(GRID, 2.0, 1.5, 0.05);
    for (size_t i = 6575 - 6000; i <= 6580 - 6000; i++) ivar[i] = 0;
    assert_true(isnan(ms_index_halpha_ew(GRID, flux, ivar, cont, NULL)));
    /* a grid that stops inside the window or the red band */
    make_line(GRID, 2.0, 1.5, 0.05);
    ms_wgrid short_grid = {6000.0, 1.0, 580};
    assert_true(isnan(ms_index_halpha_ew(short_grid, flux, ivar, cont, NULL)));
    assert_int_equal(ms_index_activity(NAN), 0);
    assert_int_equal(ms_index_activity(0.75), 0);
    assert_int_equal(ms_index_activity(0.76), 1);
}

/* Un-normalised flux F given by value; continuum alternating 2 and 4 so that flux = F / c
 * is exact in float. */
static void set_F(size_t i, double F)
{
    cont[i] = (i % 2) ? 2.0f : 4.0f;
    flux[i] = (float)(F / (double)cont[i]);
    ivar[i] = 100.0f;
}

static void make_tio(double den)
{
    for (size_t i = 0; i < NPIX; i++) set_F(i, 3.0);
    for (size_t i = 7042 - 6000; i <= 7046 - 6000; i++) set_F(i, den);
    /* numerator band 7126..7135: 5 pixels of 0.5, 5 of 0.75 -> mean 0.625 */
    for (size_t i = 7126 - 6000; i <= 7135 - 6000; i++) set_F(i, i < 7131 - 6000 ? 0.5 : 0.75);
}

static void test_tio5_spt(void **state)
{
    (void)state;
    make_tio(1.25);
    double t = ms_index_tio5(GRID, flux, ivar, cont);
    assert_true(t == 0.5);
    assert_close(ms_index_spt(t), 8.2 - 10.775 * 0.5, 1e-14, 0, "SpT");
    /* the ratio is of the un-normalised flux: the normalised flux alone differs */
    assert_true(ms_index_tio5(GRID, flux, ivar, NULL) != 0.5);
    /* a bad pixel (any value) is skipped: the mean of the remaining ones */
    flux[7044 - 6000] = 1e6f;
    ivar[7044 - 6000] = 0;
    assert_true(ms_index_tio5(GRID, flux, ivar, cont) == 0.5);
    /* ivar NULL: every finite pixel good */
    make_tio(1.25);
    assert_true(ms_index_tio5(GRID, flux, NULL, cont) == 0.5);
    char buf[16];
    assert_string_equal(ms_index_spt_string(ms_index_spt(t), buf, sizeof buf), "M3");
}

static void test_tio5_missing(void **state)
{
    (void)state;
    make_tio(0.0); /* zero denominator */
    assert_true(ms_index_tio5(GRID, flux, ivar, cont) == MS_INDEX_MISSING);
    make_tio(-1.0);
    assert_true(ms_index_tio5(GRID, flux, ivar, cont) == MS_INDEX_MISSING);
    make_tio(1.25);
    for (size_t i = 7042 - 6000; i <= 7044 - 6000; i++) ivar[i] = 0; /* 3 of 5 missing */
    assert_true(ms_index_tio5(GRID, flux, ivar, cont) == MS_INDEX_MISSING);
    make_tio(1.25);
    for (size_t i = 7126 - 6000; i <= 7135 - 6000; i++) flux[i] = NAN;
    assert_true(ms_index_tio5(GRID, flux, ivar, cont) == MS_INDEX_MISSING);
    make_tio(1.25);
    ms_wgrid short_grid = {6000.0, 1.0, 1130}; /* ends at 7129 A */
    assert_true(ms_index_tio5(short_grid, flux, ivar, cont) == MS_INDEX_MISSING);
    assert_true(ms_index_tio5(GRID, NULL, ivar, cont) == MS_INDEX_MISSING);
    /* SpT bounds: -2 .. 7 valid, outside missing */
    assert_true(ms_index_spt(MS_INDEX_MISSING) == MS_INDEX_MISSING);
    assert_true(ms_index_spt(NAN) == MS_INDEX_MISSING);
    assert_close(ms_index_spt((8.2 - 7.0) / 10.775), 7.0, 1e-12, 0, "SpT = 7");
    assert_close(ms_index_spt((8.2 + 2.0) / 10.775), -2.0, 1e-12, 0, "SpT = -2");
    assert_true(ms_index_spt((8.2 - 7.0) / 10.775 - 1e-6) == MS_INDEX_MISSING);
    assert_true(ms_index_spt((8.2 + 2.0) / 10.775 + 1e-6) == MS_INDEX_MISSING);
    assert_true(ms_index_spt(0.0) == MS_INDEX_MISSING); /* 8.2 */
    assert_true(ms_index_spt(1.5) == MS_INDEX_MISSING); /* -7.96 */
}

static void test_spt_string(void **state)
{
    (void)state;
    char buf[16];
    assert_string_equal(ms_index_spt_string(0.0, buf, sizeof buf), "M0");
    assert_string_equal(ms_index_spt_string(3.5, buf, sizeof buf), "M3.5");
    assert_string_equal(ms_index_spt_string(3.6, buf, sizeof buf), "M3.5");
    assert_string_equal(ms_index_spt_string(3.8, buf, sizeof buf), "M4");
    assert_string_equal(ms_index_spt_string(7.0, buf, sizeof buf), "M7");
    assert_string_equal(ms_index_spt_string(-1.0, buf, sizeof buf), "K7");
    assert_string_equal(ms_index_spt_string(-1.5, buf, sizeof buf), "K6");
    assert_string_equal(ms_index_spt_string(-2.0, buf, sizeof buf), "K5");
    assert_string_equal(ms_index_spt_string(-0.5, buf, sizeof buf), "K7");
    assert_string_equal(ms_index_spt_string(-0.2, buf, sizeof buf), "M0");
    assert_string_equal(ms_index_spt_string(MS_INDEX_MISSING, buf, sizeof buf), "");
    assert_string_equal(ms_index_spt_string(7.5, buf, sizeof buf), "");
    assert_string_equal(ms_index_spt_string(NAN, buf, sizeof buf), "");
}

static void test_vbflag(void **state)
{
    (void)state;
    assert_int_equal(ms_index_vbflag(0, 0), 0);
    assert_int_equal(ms_index_vbflag(1, 0), 1);
    assert_int_equal(ms_index_vbflag(0, 1), 2);
    assert_int_equal(ms_index_vbflag(1, 1), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ew_emission_absorption),
        cmocka_unit_test(test_ew_grid_phase),
        cmocka_unit_test(test_ew_missing),
        cmocka_unit_test(test_tio5_spt),
        cmocka_unit_test(test_tio5_missing),
        cmocka_unit_test(test_spt_string),
        cmocka_unit_test(test_vbflag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
