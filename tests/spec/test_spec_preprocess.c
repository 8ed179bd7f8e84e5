/* test_spec_preprocess.c: ms_spec_preprocess_observed end to end (method.md 2.2-2.4).
 *   - unusable inputs give MS_EFORMAT with a reason naming the problem, and `out` is left
 *     as "no data";
 *   - masked / invalid native pixels never reach the output: garbage in them changes
 *     nothing, and exactly the output pixels that would interpolate them are bad;
 *   - the coverage tolerance (MS_SPEC_COVERAGE_TOL_PIXELS) at either end, with the RV;
 *   - flux and errors are divided by the same continuum: out.flux * F and out.ivar / F^2
 *     equal the resampled spectrum, F equals the continuum of the resampled good pixels;
 *   - a non-positive continuum makes pixels bad; all of them: MS_EFORMAT;
 *   - the workspace and allocating forms agree; every allocation failure is clean. */
#include "spec_fixtures.h"

#include "mstars/mem.h"

#include <string.h>

enum { NG = 2901 };
static double wave[LAMOST_N], flux[LAMOST_N], ivar[LAMOST_N];
static uint8_t bad[LAMOST_N];

/* A LAMOST-like noisy spectrum with a sloped continuum and some lines. */
static void lamost_spectrum(uint64_t seed)
{
    fx_rng r = {seed, 0, 0};
    for (size_t i = 0; i < LAMOST_N; i++) {
        wave[i] = lamost_wave(i);
        double f = 800.0 + 0.2 * (wave[i] - 6000.0);
        f *= 1.0 - 0.4 * exp(-0.5 * pow((wave[i] - 7665.0) / 3.0, 2));
        double sig = f / 25.0;
        flux[i] = f + sig * fx_normal(&r);
        ivar[i] = 1.0 / (sig * sig);
        bad[i] = 0;
    }
}

static void assert_no_data(const ms_spec_out *o)
{
    assert_int_equal(o->n_good, 0);
    for (size_t j = 0; j < NG; j++)
        assert_true(isnan(o->flux[j]) && o->ivar[j] == 0.0f && isnan(o->continuum[j]));
}

static void expect_eformat(const char *what, size_t n, double rv, const char *needle)
{
    ms_cfg_preprocess p = fx_defaults();
    ms_spec_out o = fx_out_alloc(NG);
    ms_status st = ms_spec_preprocess_observed(&p, wave, flux, ivar, bad, n, rv, &o);
    if (st != MS_EFORMAT) fail_msg("%s: status %s, expected EFORMAT", what, ms_status_name(st));
    if (!strstr(ms_error_message(), needle))
        fail_msg("%s: reason \"%s\" lacks \"%s\"", what, ms_error_message(), needle);
    assert_no_data(&o);
    fx_out_free(&o);
}

static void test_unusable_inputs(void **state)
{
    (void)state;
    lamost_spectrum(1);
    for (size_t i = 0; i < LAMOST_N; i++) flux[i] = NAN;
    expect_eformat("all NaN flux", LAMOST_N, 0.0, "flux values are NaN");

    lamost_spectrum(1);
    for (size_t i = 0; i < LAMOST_N; i++) ivar[i] = 0.0;
    expect_eformat("all ivar zero", LAMOST_N, 0.0, "inverse variances are zero");

    lamost_spectrum(1);
    memset(bad, 1, sizeof bad);
    expect_eformat("all masked", LAMOST_N, 0.0, "pixels are masked");

    /* each pixel unusable, for alternating reasons */
    lamost_spectrum(1);
    for (size_t i = 0; i < LAMOST_N; i++) {
        if (i % 3 == 0) flux[i] = INFINITY;
        if (i % 3 == 1) ivar[i] = -1.0;
        if (i % 3 == 2) bad[i] = 1;
    }
    expect_eformat("mixed", LAMOST_N, 0.0, "no pixel has finite flux");

    /* 3700-5900 A only */
    lamost_spectrum(1);
    size_t n_blue = 0;
    while (wave[n_blue] < 5900.0) n_blue++;
    expect_eformat("blue arm only", n_blue, 0.0, "misses the grid 6000-8900 A");

    /* good pixels exist, but none in 6000-8900 A */
    lamost_spectrum(1);
    for (size_t i = 0; i < LAMOST_N; i++) bad[i] = wave[i] > 5990.0 && wave[i] < 8910.0;
    expect_eformat("masked range", LAMOST_N, 0.0, "no good pixels in 6000-8900 A");

    lamost_spectrum(1);
    wave[1000] = wave[999];
    expect_eformat("repeated wavelength", LAMOST_N, 0.0, "not strictly increasing at pixel 1000");
    lamost_spectrum(1);
    wave[5] = NAN;
    expect_eformat("NaN wavelength", LAMOST_N, 0.0, "wavelength of pixel 5");

    lamost_spectrum(1);
    expect_eformat("RV beyond c", LAMOST_N, 4e5, "radial velocity");
    expect_eformat("one pixel", 1, 0.0, "1 pixels");

    /* a negative spectrum has a negative pseudo-continuum everywhere */
    for (size_t i = 0; i < LAMOST_N; i++) flux[i] = -5.0;
    expect_eformat("negative flux", LAMOST_N, 0.0, "pseudo-continuum not positive");

    ms_cfg_preprocess p = fx_defaults();
    ms_spec_out o = fx_out_alloc(NG);
    assert_int_equal(ms_spec_preprocess_observed(&p, wave, NULL, ivar, bad, LAMOST_N, 0.0, &o),
                     MS_EINVAL);
    p.continuum_sigma = 0.0;
    assert_int_equal(ms_spec_preprocess_observed(&p, wave, flux, ivar, bad, LAMOST_N, 0.0, &o),
                     MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "continuum_sigma"));
    fx_out_free(&o);
}

/* Largest a with w[a] <= x. */
static size_t bracket(const double *w, size_t n, double x)
{
    size_t a = 0;
    while (a + 2 < n && w[a + 1] <= x) a++;
    return a;
}

static void test_masked_pixels_excluded(void **state)
{
    (void)state;
    ms_cfg_preprocess p = fx_defaults();
    ms_spec_out o1 = fx_out_alloc(NG), o2 = fx_out_alloc(NG);
    const double rv = -41.3, dop = ms_spec_doppler(rv);
    lamost_spectrum(7);
    fx_rng r = {77, 0, 0};
    uint8_t unusable[LAMOST_N] = {0};
    for (size_t i = 0; i < LAMOST_N; i++) {
        double u = fx_uniform(&r);
        if (u < 0.02)
            bad[i] = 1; /* mask */
        else if (u < 0.03)
            ivar[i] = 0.0; /* no variance */
        else if (u < 0.035)
            flux[i] = NAN; /* no flux */
        unusable[i] = u < 0.035;
    }
    /* a masked block around Halpha too */
    for (size_t i = 0; i < LAMOST_N; i++)
        if (wave[i] > 6550.0 && wave[i] < 6580.0) bad[i] = unusable[i] = 1;
    /* garbage A in the masked pixels (that still have finite values) */
    for (size_t i = 0; i < LAMOST_N; i++)
        if (bad[i]) {
            flux[i] = 1e9;
            ivar[i] = 1e9;
        }
    assert_int_equal(ms_spec_preprocess_observed(&p, wave, flux, ivar, bad, LAMOST_N, rv, &o1),
                     MS_OK);
    /* garbage B */
    for (size_t i = 0; i < LAMOST_N; i++)
        if (bad[i]) {
            flux[i] = -3.0;
            ivar[i] = 1e-9;
        }
    assert_int_equal(ms_spec_preprocess_observed(&p, wave, flux, ivar, bad, LAMOST_N, rv, &o2),
                     MS_OK);
    assert_memory_equal(o1.flux, o2.flux, NG * sizeof(float));
    assert_memory_equal(o1.ivar, o2.ivar, NG * sizeof(float));
    assert_memory_equal(o1.continuum, o2.continuum, NG * sizeof(float));

    /* exactly the outputs whose bracketing native pixels include an unusable one are bad */
    static double rest[LAMOST_N];
    for (size_t i = 0; i < LAMOST_N; i++) rest[i] = wave[i] / dop;
    size_t expect_good = 0;
    for (size_t j = 0; j < NG; j++) {
        double x = 6000.0 + (double)j;
        size_t a = bracket(rest, LAMOST_N, x);
        int ok = !unusable[a] && !unusable[a + 1];
        expect_good += (size_t)ok;
        if (ok != (o1.ivar[j] > 0.0f))
            fail_msg("pixel %.0f A: good %d, expected %d", x, o1.ivar[j] > 0.0f, ok);
        if (ok)
            assert_true(isfinite(o1.flux[j]) && fabs(o1.flux[j] - 1.0) < 0.5);
        else
            assert_true(isnan(o1.flux[j]));
        assert_true(o1.continuum[j] > 700.0f && o1.continuum[j] < 1500.0f);
    }
    assert_int_equal(o1.n_good, expect_good);
    assert_true(expect_good < NG - 30);
    fx_out_free(&o1);
    fx_out_free(&o2);
}

static void test_coverage_tolerance(void **state)
{
    (void)state;
    ms_cfg_preprocess p = fx_defaults();
    ms_spec_out o = fx_out_alloc(NG);
    enum { NU = 5000 };
    static double uw[NU], uf[NU], ui[NU];
    static uint8_t ub[NU];
    /* uniform 0.9 A pixels from ~5000 A, ending exactly at `last` */
    const double lasts[] = {8899.4, 8897.6};
    for (size_t k = 0; k < 2; k++) {
        size_t n = 0, count = (size_t)((lasts[k] - 5000.0) / 0.9) + 1;
        assert_true(count <= NU);
        for (size_t i = 0; i < count; i++) {
            uw[n] = lasts[k] - 0.9 * (double)(count - 1 - i);
            uf[n] = 10.0;
            ui[n] = 1.0;
            ub[n] = 0;
            n++;
        }
        ms_status st = ms_spec_preprocess_observed(&p, uw, uf, ui, ub, n, 0.0, &o);
        if (k == 0) { /* 0.6 A short: accepted, the last pixel bad */
            assert_int_equal(st, MS_OK);
            assert_int_equal(o.n_good, NG - 1);
            assert_true(o.ivar[NG - 1] == 0.0f && isnan(o.flux[NG - 1]) && o.ivar[NG - 2] > 0.0f);
        } else { /* 2.4 A short: more than 2 pixels */
            assert_int_equal(st, MS_EFORMAT);
            assert_non_null(strstr(ms_error_message(), "coverage"));
        }
    }
    /* the blue end likewise, and the RV moves the coverage: 6001.5-8909.4 A observed */
    size_t n = 0;
    for (double x = 6001.5; x <= 8910.0; x += 0.9) uw[n++] = x;
    assert_int_equal(ms_spec_preprocess_observed(&p, uw, uf, ui, ub, n, 0.0, &o), MS_OK);
    assert_true(o.ivar[0] == 0.0f && o.ivar[1] == 0.0f && o.ivar[2] > 0.0f);
    /* +500 km/s: rest coverage 5991.5-8894.6 A, 5.4 A short in the red */
    assert_int_equal(ms_spec_preprocess_observed(&p, uw, uf, ui, ub, n, 500.0, &o), MS_EFORMAT);
    assert_non_null(strstr(ms_error_message(), "(rest frame) misses the grid"));
    /* -100 km/s: 6003.5-8913.0 A, 3.5 A short in the blue */
    assert_int_equal(ms_spec_preprocess_observed(&p, uw, uf, ui, ub, n, -100.0, &o), MS_EFORMAT);
    fx_out_free(&o);
}

static void test_normalisation_consistent(void **state)
{
    (void)state;
    ms_cfg_preprocess p = fx_defaults();
    ms_spec_work *w;
    assert_int_equal(ms_spec_work_alloc(&p, &w), MS_OK);
    ms_wgrid g = ms_spec_work_grid(w);
    ms_spec_out o = fx_out_alloc(NG);
    lamost_spectrum(3);
    for (size_t i = 100; i < LAMOST_N; i += 97) bad[i] = 1;
    const double rv = 18.8;
    assert_int_equal(ms_spec_preprocess_observed_ws(w, wave, flux, ivar, bad, LAMOST_N, rv, &o),
                     MS_OK);

    static double rf[NG], ri[NG], cont[NG];
    uint8_t good[LAMOST_N];
    for (size_t i = 0; i < LAMOST_N; i++) good[i] = !bad[i];
    size_t ng = ms_spec_resample(wave, flux, ivar, good, LAMOST_N, ms_spec_doppler(rv), g, rf, ri);
    assert_int_equal(ng, o.n_good);
    ms_spec_continuum(w, rf, ri, cont);
    for (size_t j = 0; j < NG; j++) {
        assert_close(o.continuum[j], cont[j], 1e-6, 0.0, "continuum of the resampled spectrum");
        if (ri[j] > 0.0) {
            assert_close((double)o.flux[j] * cont[j], rf[j], 1e-6, 0.0, "flux = F x normalised");
            /* the error is divided by the same F: sigma_norm = sigma / F */
            assert_close(1.0 / sqrt(o.ivar[j]), (1.0 / sqrt(ri[j])) / cont[j], 1e-6, 0.0,
                         "sigma / F");
        } else {
            assert_true(isnan(o.flux[j]) && o.ivar[j] == 0.0f);
        }
    }
    ms_spec_work_free(w);
    fx_out_free(&o);
}

static void test_partly_negative_continuum(void **state)
{
    (void)state;
    ms_cfg_preprocess p = fx_defaults();
    ms_spec_out o = fx_out_alloc(NG);
    lamost_spectrum(5);
    /* a stretch of strongly negative flux (e.g. bad sky subtraction) */
    for (size_t i = 0; i < LAMOST_N; i++)
        if (wave[i] > 7000.0 && wave[i] < 7400.0) flux[i] = -2000.0;
    assert_int_equal(ms_spec_preprocess_observed(&p, wave, flux, ivar, bad, LAMOST_N, 0.0, &o),
                     MS_OK);
    size_t ng = 0;
    for (size_t j = 0; j < NG; j++) {
        int pos = o.continuum[j] > 0.0f;
        assert_true(pos ? o.ivar[j] > 0.0f : (o.ivar[j] == 0.0f && isnan(o.flux[j])));
        ng += (size_t)pos;
    }
    assert_int_equal(o.n_good, ng);
    assert_true(o.continuum[7200 - 6000] < 0.0f && ng < NG - 300 && ng > NG / 2);
    fx_out_free(&o);
}

static void test_workspace_matches_allocating(void **state)
{
    (void)state;
    ms_cfg_preprocess p = fx_defaults();
    ms_spec_work *w;
    assert_int_equal(ms_spec_work_alloc(&p, &w), MS_OK);
    ms_spec_out a = fx_out_alloc(NG), b = fx_out_alloc(NG);
    for (uint64_t s = 0; s < 3; s++) {
        lamost_spectrum(100 + s);
        double rv = -60.0 + 50.0 * (double)s;
        assert_int_equal(ms_spec_preprocess_observed_ws(w, wave, flux, ivar, bad, LAMOST_N, rv, &a),
                         MS_OK);
        assert_int_equal(ms_spec_preprocess_observed(&p, wave, flux, ivar, bad, LAMOST_N, rv, &b),
                         MS_OK);
        assert_memory_equal(a.flux, b.flux, NG * sizeof(float));
        assert_memory_equal(a.ivar, b.ivar, NG * sizeof(float));
        assert_memory_equal(a.continuum, b.continuum, NG * sizeof(float));
        assert_int_equal(a.n_good, b.n_good);
    }
    ms_spec_work_free(w);
    fx_out_free(&a);
    fx_out_free(&b);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    ms_cfg_preprocess p = fx_defaults();
    ms_spec_out o = fx_out_alloc(NG);
    lamost_spectrum(9);
    double mw[2] = {5000.0, 9500.0}, mf[2] = {1.0, 1.0};
    size_t base = ms_mem_current();
    int ok_obs = 0, ok_syn = 0;
    for (long k = 0; k < 12; k++) {
        ms_mem_fail_after(k);
        ms_status st = ms_spec_preprocess_observed(&p, wave, flux, ivar, bad, LAMOST_N, 0.0, &o);
        ms_mem_fail_after(-1);
        assert_true(st == MS_OK || st == MS_ENOMEM);
        if (st == MS_ENOMEM) assert_no_data(&o);
        ok_obs += st == MS_OK;
        assert_int_equal(ms_mem_current(), base);

        ms_mem_fail_after(k);
        st = ms_spec_preprocess_synthetic(&p, mw, mf, 2, &o);
        ms_mem_fail_after(-1);
        assert_true(st == MS_OK || st == MS_ENOMEM);
        ok_syn += st == MS_OK;
        assert_int_equal(ms_mem_current(), base);
    }
    /* a few allocations each, then success */
    assert_true(ok_obs >= 8 && ok_obs < 12 && ok_syn >= 6 && ok_syn < 12);
    fx_out_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unusable_inputs),
        cmocka_unit_test(test_masked_pixels_excluded),
        cmocka_unit_test(test_coverage_tolerance),
        cmocka_unit_test(test_normalisation_consistent),
        cmocka_unit_test(test_partly_negative_continuum),
        cmocka_unit_test(test_workspace_matches_allocating),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
