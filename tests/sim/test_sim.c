/* test_sim.c: the mock universe's pieces: random streams, the TiO5 calibration of the
 * synthetic physics (M0-M6 within half a subtype at solar metallicity), gap 0 = grid physics
 * through the instrument (a .spec.7 written and read back by the project's grid reader, then
 * observed, equals the survey's noise-free spectrum), the S/N distribution, both LAMOST layouts
 * read back by ms_lamost_read, the pathological files, and the grid file formats. */
#include "test_util.h"

#include "mstars/config.h"
#include "mstars/grid.h"
#include "mstars/lamost.h"
#include "mstars/mem.h"
#include "mstars/sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ms_sim_model *model0; /* gap 0 */
static ms_sim_model *model1; /* gap 1 */
static ms_sim_instrument *inst0, *inst1;
static ms_sim_workspace *ws0, *ws1;

static int setup(void **state)
{
    (void)state;
    if (ms_sim_model_alloc(0.25, 0.0, &model0) != MS_OK) return -1;
    if (ms_sim_model_alloc(0.25, 1.0, &model1) != MS_OK) return -1;
    if (ms_sim_instrument_alloc(model0, &inst0) != MS_OK) return -1;
    if (ms_sim_workspace_alloc(model0, &ws0) != MS_OK) return -1;
    if (ms_sim_instrument_alloc(model1, &inst1) != MS_OK) return -1;
    if (ms_sim_workspace_alloc(model1, &ws1) != MS_OK) return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ms_sim_workspace_free(ws0);
    ms_sim_instrument_free(inst0);
    ms_sim_workspace_free(ws1);
    ms_sim_instrument_free(inst1);
    ms_sim_model_free(model0);
    ms_sim_model_free(model1);
    return 0;
}

/* A plain observation (fibre 125, R0 1800) for the given star. */
static ms_sim_obs plain_obs(long index)
{
    ms_sim_obs ob;
    memset(&ob, 0, sizeof ob);
    ob.index = index;
    ob.npix = 3909;
    ob.snr_r = 30.0;
    ob.helio_rv = 12.3;
    ob.airmass = 1.2;
    ob.pwv = 1.0;
    ob.lsf_r0 = 1800.0;
    ob.lsf_tilt = 0.12;
    ob.fluxcal[1] = 0.05;
    ob.fluxcal[2] = -0.03;
    ob.flux_level = 500.0;
    ob.sky_frac = 0.1;
    ob.layout = MS_LAMOST_COADD;
    return ob;
}

static void test_rng_streams(void **state)
{
    (void)state;
    ms_sim_rng a, b, c;
    ms_sim_rng_seed(&a, 42, MS_SIM_STREAM_STAR, 7);
    ms_sim_rng_seed(&b, 42, MS_SIM_STREAM_STAR, 7);
    ms_sim_rng_seed(&c, 42, MS_SIM_STREAM_STAR, 8);
    int same = 0;
    double sum = 0, sum2 = 0;
    for (int i = 0; i < 20000; i++) {
        uint64_t x = ms_sim_rng_u64(&a), y = ms_sim_rng_u64(&b), z = ms_sim_rng_u64(&c);
        assert_true(x == y);
        same += x == z;
        double g = ms_sim_rng_gauss(&a);
        ms_sim_rng_gauss(&b);
        sum += g;
        sum2 += g * g;
    }
    assert_int_equal(same, 0);
    assert_close(sum / 20000, 0.0, 0, 0.03, "gaussian mean");
    assert_close(sum2 / 20000, 1.0, 0, 0.04, "gaussian variance");
}

/* TiO5 of the synthetic physics (R 1800, 1 A) and of a noise-free survey spectrum at gap 0
 * (LAMOST pixels, varying LSF, tellurics, flux calibration, shifted back to rest) vs the
 * SpT-TiO5 relation, M0-M6 at solar metallicity. */
static void test_tio5_sequence(void **state)
{
    (void)state;
    static const double teff[] = {3850, 3680, 3550, 3400, 3200, 3050, 2850};
    ms_sim_spectrum *sp = ms_malloc("test.sp", sizeof *sp);
    assert_non_null(sp);
    for (int k = 0; k < 7; k++) {
        ms_sim_labels lab = {teff[k], ms_sim_logg_ms(teff[k], 0.0), 0.0, 0.0};
        double t5 = ms_sim_model_tio5(model0, &lab, MS_SIM_SYNTHETIC, 1800.0);
        double spt = ms_sim_spt_from_tio5(t5);
        print_message("M%d (%.0f K): TiO5 %.3f -> SpT %.2f (model)", k, teff[k], t5, spt);
        assert_close(spt, (double)k, 0, 0.5, "SpT from the model's TiO5");

        ms_sim_star star;
        memset(&star, 0, sizeof star);
        star.lab = lab;
        star.rv = 37.0 - 10.0 * k;
        ms_sim_obs ob = plain_obs(k);
        assert_int_equal(ms_sim_observe(model0, inst0, &star, &ob, 1, MS_SIM_OBS_TELLURIC |
                                        MS_SIM_OBS_FLUXCAL, ws0, sp), MS_OK);
        double w[MS_SIM_LAMOST_NPIX_MAX], f[MS_SIM_LAMOST_NPIX_MAX];
        double D = sqrt((1 + star.rv / 299792.458) / (1 - star.rv / 299792.458));
        for (int i = 0; i < sp->npix; i++) {
            w[i] = sp->wave[i] / D;
            f[i] = sp->model[i];
        }
        double t5o = ms_sim_tio5(w, f, (size_t)sp->npix);
        double spto = ms_sim_spt_from_tio5(t5o);
        print_message("   survey pixels: TiO5 %.3f -> SpT %.2f\n", t5o, spto);
        assert_close(spto, (double)k, 0, 0.5, "SpT from the observed TiO5 (gap 0)");
    }
    /* the sequence is monotonic and metal-poor stars look earlier */
    ms_sim_labels a = {3400, ms_sim_logg_ms(3400, 0), 0.0, 0.0};
    ms_sim_labels b = {3400, ms_sim_logg_ms(3400, -0.5), -0.5, 0.2};
    assert_true(ms_sim_model_tio5(model0, &b, MS_SIM_SYNTHETIC, 1800) >
                ms_sim_model_tio5(model0, &a, MS_SIM_SYNTHETIC, 1800));
    ms_free(sp);
}

/* The physics responds to every label, smoothly: small label steps give small changes of
 * the R = 1800 spectrum on a 1 A grid over 6000-8900 A. */
static void test_labels_matter(void **state)
{
    (void)state;
    size_t N = ms_sim_model_npix(model0);
    double *hi = ms_malloc_array("t", N, sizeof *hi);
    double w[2901], f0[2901], f1[2901];
    assert_non_null(hi);
    for (int i = 0; i < 2901; i++) w[i] = 6000.0 + i;
    const double sig = 1.0 / (2.3548 * 1800.0);
    ms_sim_labels base = {3400, 4.9, -0.2, 0.1};
    assert_int_equal(ms_sim_model_flux(model0, &base, MS_SIM_SYNTHETIC, 0, N, NULL, hi), MS_OK);
    ms_sim_lsf_apply(model0, hi, 0.0, w, NULL, sig, 2901, f0);
    for (int l = 0; l < 4; l++) {
        ms_sim_labels x = base;
        double *v = l == 0 ? &x.teff : l == 1 ? &x.logg : l == 2 ? &x.m_h : &x.alpha_m;
        *v += l == 0 ? 25.0 : 0.05;
        assert_int_equal(ms_sim_model_flux(model0, &x, MS_SIM_SYNTHETIC, 0, N, NULL, hi), MS_OK);
        ms_sim_lsf_apply(model0, hi, 0.0, w, NULL, sig, 2901, f1);
        double maxd = 0;
        for (int k = 0; k < 2901; k++) {
            assert_true(isfinite(f1[k]) && f1[k] > 0);
            double d = fabs(f1[k] / f0[k] - 1.0);
            if (d > maxd) maxd = d;
        }
        print_message("label %d step: max relative change at R 1800 %.4f\n", l, maxd);
        assert_true(maxd > 2e-3); /* every label leaves a trace */
        assert_true(maxd < 0.15); /* and small steps give small changes */
    }
    /* labels outside the toy physics are refused */
    ms_sim_labels bad = {100, 5, 0, 0};
    assert_int_equal(ms_sim_model_flux(model0, &bad, MS_SIM_SYNTHETIC, 0, N, NULL, hi), MS_EINVAL);
    ms_free(hi);
}

/* Resample a read-back grid model onto the hi-res model grid (0 outside its range). */
static void to_model_grid(const ms_sim_model *m, const ms_grid_spectrum *g, double *full)
{
    const double *w = ms_sim_model_wave(m);
    size_t n = ms_sim_model_npix(m), k = 0;
    for (size_t j = 0; j < n; j++) {
        full[j] = 0;
        if (w[j] < g->wave[0] || w[j] > g->wave[g->n - 1]) continue;
        while (k + 1 < g->n && g->wave[k + 1] < w[j]) k++;
        if (k + 1 >= g->n) {
            full[j] = g->flux[g->n - 1];
            continue;
        }
        double t = (w[j] - g->wave[k]) / (g->wave[k + 1] - g->wave[k]);
        full[j] = g->flux[k] + t * (g->flux[k + 1] - g->flux[k]);
    }
}

/* Largest relative difference over 6000-8900 A after normalising both by their median-free
 * mean level there. */
static double compare_6000_8900(const ms_sim_spectrum *a, const ms_sim_spectrum *b)
{
    double sa = 0, sb = 0;
    int n = 0;
    for (int i = 0; i < a->npix; i++)
        if (a->wave[i] >= 6000 && a->wave[i] <= 8900) {
            sa += a->model[i];
            sb += b->model[i];
            n++;
        }
    double maxd = 0;
    for (int i = 0; i < a->npix; i++)
        if (a->wave[i] >= 6000 && a->wave[i] <= 8900) {
            double d = fabs((a->model[i] / sa) / (b->model[i] / sb) - 1.0);
            if (d > maxd) maxd = d;
        }
    (void)n;
    return maxd;
}

/* Gap 0: the survey's noise-free spectrum equals the grid file (written as .spec.7, read back
 * by ms_grid_read) observed through the same instrument. Gap 1 differs. */
static void test_gap_zero_is_grid_physics(void **state)
{
    (void)state;
    ms_sim_labels lab = {3400, 5.0, 0.0, 0.0};
    size_t j0, j1;
    ms_sim_model_range(model0, MS_SIM_GRID_WMIN, MS_SIM_GRID_WMAX, &j0, &j1);
    size_t n = j1 - j0, N = ms_sim_model_npix(model0);
    double *flux = ms_malloc_array("t", n, sizeof *flux), *bb = ms_malloc_array("t", n, sizeof *bb);
    double *full = ms_malloc_array("t", N, sizeof *full);
    ms_sim_spectrum *grid_obs = ms_malloc("t", sizeof *grid_obs);
    ms_sim_spectrum *survey = ms_malloc("t", sizeof *survey);
    assert_true(flux && bb && full && grid_obs && survey);
    assert_int_equal(ms_sim_model_flux(model0, &lab, MS_SIM_SYNTHETIC, j0, j1, NULL, flux), MS_OK);
    ms_sim_model_blackbody(model0, lab.teff, j0, j1, bb);
    char path[512], name[128];
    ms_sim_grid_name(&lab, "spec.7", name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", ms_test_tmpdir(), name);
    assert_int_equal(ms_sim_grid_write_spec7(path, ms_sim_model_wave(model0) + j0, flux, bb, n, 5),
                     MS_OK);
    ms_grid_spectrum g;
    ms_grid_labels gl;
    ms_grid_format fmt;
    assert_int_equal(ms_grid_read(path, 0, INFINITY, &g, &gl, &fmt), MS_OK);
    assert_int_equal(fmt, MS_GRID_SPEC7);
    assert_close(gl.teff, 3400, 0, 1e-9, "Teff from the name");
    assert_close(gl.m_h, 0.0, 0, 1e-9, "[M/H] from the name");
    to_model_grid(model0, &g, full);

    ms_sim_star star;
    memset(&star, 0, sizeof star);
    star.lab = lab;
    star.rv = -23.4;
    ms_sim_obs ob = plain_obs(3);
    int flags = MS_SIM_OBS_TELLURIC | MS_SIM_OBS_FLUXCAL;
    assert_int_equal(ms_sim_observe(model0, inst0, &star, &ob, 9, flags, ws0, survey), MS_OK);
    assert_int_equal(ms_sim_observe_hires(model0, inst0, full, star.rv, &ob, flags, ws0, grid_obs),
                     MS_OK);
    double d0 = compare_6000_8900(survey, grid_obs);
    print_message("gap 0: survey vs grid file through the instrument: max |diff| %.2e\n", d0);
    assert_true(d0 < 2e-3);

    /* with the gap on, the observed physics departs from the grid by percents */
    assert_int_equal(ms_sim_observe(model1, inst1, &star, &ob, 9, flags, ws1, survey), MS_OK);
    double d1 = compare_6000_8900(survey, grid_obs);
    print_message("gap 1: max |diff| %.2e\n", d1);
    assert_true(d1 > 0.02);
    /* and the instrument is not a no-op: without tellurics and flux calibration the spectrum
     * differs from the observed one */
    assert_int_equal(ms_sim_observe(model0, inst0, &star, &ob, 9, 0, ws0, survey), MS_OK);
    assert_true(compare_6000_8900(survey, grid_obs) > 0.02);
    ms_grid_spectrum_free(&g);
    ms_free(flux);
    ms_free(bb);
    ms_free(full);
    ms_free(grid_obs);
    ms_free(survey);
}

/* simulate.gap_components: all six at 1 is the plain gap bit for bit, all at 0 is no gap, and
 * the unmodelled band alone (ingredient 3) changes the observed spectrum only inside its
 * window 8340-8416 A; a list of the wrong length is refused naming the key. */
static void test_gap_components(void **state)
{
    (void)state;
    const size_t N = ms_sim_model_npix(model0);
    const double *wave = ms_sim_model_wave(model0);
    ms_sim_labels lab = {3200, 5.0, 0.0, 0.2};
    double *ref0 = malloc(N * sizeof *ref0), *ref1 = malloc(N * sizeof *ref1);
    double *syn = malloc(N * sizeof *syn), *f = malloc(N * sizeof *f);
    assert_non_null(ref0);
    assert_non_null(ref1);
    assert_non_null(syn);
    assert_non_null(f);
    assert_int_equal(ms_sim_model_flux(model0, &lab, MS_SIM_OBSERVED, 0, N, NULL, ref0), MS_OK);
    assert_int_equal(ms_sim_model_flux(model1, &lab, MS_SIM_OBSERVED, 0, N, NULL, ref1), MS_OK);
    assert_int_equal(ms_sim_model_flux(model1, &lab, MS_SIM_SYNTHETIC, 0, N, NULL, syn), MS_OK);

    double ones[MS_SIM_GAP_PARTS] = {1, 1, 1, 1, 1, 1}, zeros[MS_SIM_GAP_PARTS] = {0};
    double band[MS_SIM_GAP_PARTS] = {0};
    band[MS_SIM_GAP_XBAND] = 1.0;
    ms_sim_model *m = NULL;
    assert_int_equal(ms_sim_model_alloc_parts(0.25, ones, &m), MS_OK);
    assert_int_equal(ms_sim_model_flux(m, &lab, MS_SIM_OBSERVED, 0, N, NULL, f), MS_OK);
    assert_memory_equal(f, ref1, N * sizeof *f);
    ms_sim_model_free(m);
    assert_int_equal(ms_sim_model_alloc_parts(0.25, zeros, &m), MS_OK);
    assert_int_equal(ms_sim_model_flux(m, &lab, MS_SIM_OBSERVED, 0, N, NULL, f), MS_OK);
    assert_memory_equal(f, ref0, N * sizeof *f);
    ms_sim_model_free(m);
    assert_int_equal(ms_sim_model_alloc_parts(0.25, band, &m), MS_OK);
    assert_true(ms_sim_model_gap_strength(m) == 1.0);
    assert_int_equal(ms_sim_model_flux(m, &lab, MS_SIM_OBSERVED, 0, N, NULL, f), MS_OK);
    size_t inside = 0, outside = 0;
    double depth = 0;
    for (size_t j = 0; j < N; j++) {
        int in = wave[j] >= 8340.0 && wave[j] <= 8416.0;
        if (f[j] != syn[j]) {
            if (in)
                inside++;
            else
                outside++;
        }
        if (in && 1.0 - f[j] / syn[j] > depth) depth = 1.0 - f[j] / syn[j];
    }
    assert_int_equal(outside, 0);
    assert_true(inside > 100);
    assert_true(depth > 0.01);
    ms_sim_model_free(m);

    ms_config cfg;
    assert_int_equal(ms_config_defaults(&cfg), MS_OK);
    double gap[MS_SIM_GAP_PARTS];
    cfg.simulate.gap_strength = 0.5;
    assert_int_equal(ms_sim_gap_parts(&cfg.simulate, gap), MS_OK);
    assert_true(gap[MS_SIM_GAP_TIO_SCALE] == 0.5 && gap[MS_SIM_GAP_LINE_LIST] == 0.5);
    cfg.simulate.gap_components.n = 5;
    assert_int_equal(ms_sim_gap_parts(&cfg.simulate, gap), MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "simulate.gap_components"));
    free(ref0);
    free(ref1);
    free(syn);
    free(f);
}

/* S/N: about 60% of spectra below S/N_r = 20, all within 3-300, S/N_i > S/N_r for most. */
static void test_snr_distribution(void **state)
{
    (void)state;
    ms_config cfg;
    ms_config_defaults(&cfg);
    cfg.simulate.n_stars = 4000;
    ms_sim_population pop;
    assert_int_equal(ms_sim_population_build(&cfg, &pop), MS_OK);
    long below = 0;
    for (long o = 0; o < pop.n_obs; o++) {
        double s = pop.obs[o].snr_r;
        assert_true(s >= 3.0 && s <= 300.0);
        below += s < 20.0;
    }
    double frac = (double)below / (double)pop.n_obs;
    print_message("%ld observations of %ld stars, %.1f%% with S/N_r < 20\n", pop.n_obs,
                  pop.n_stars, 100 * frac);
    assert_true(frac > 0.52 && frac < 0.68);
    assert_true(pop.n_obs > pop.n_stars); /* repeats */
    /* labels inside the Z25 ranges */
    for (long s = 0; s < pop.n_stars; s++) {
        const ms_sim_star *st = &pop.stars[s];
        assert_true(st->lab.teff >= 3000 && st->lab.teff <= 4000);
        assert_true(st->lab.m_h >= -1.0 && st->lab.m_h <= 0.5);
        double lo = ms_sim_alpha_lower(st->lab.m_h);
        assert_true(st->lab.alpha_m >= lo - 1e-12 && st->lab.alpha_m <= lo + 0.4 + 1e-12);
        assert_true(st->lab.logg >= 4.5 && st->lab.logg <= 5.5);
    }
    /* S/N_i > S/N_r from the synthesised spectra */
    ms_sim_spectrum *sp = ms_malloc("t", sizeof *sp);
    assert_non_null(sp);
    int n = 0, redder = 0;
    for (long o = 0; o < pop.n_obs && n < 150; o += 7) {
        const ms_sim_obs *ob = &pop.obs[o];
        if (ob->pathology == MS_SIM_PATH_SHORT_WAVE) continue;
        assert_int_equal(ms_sim_observe(model1, inst1, &pop.stars[ob->star], ob, 1,
                                        MS_SIM_OBS_ALL, ws1, sp), MS_OK);
        assert_close(sp->snr[2], ob->snr_r, 1e-9, 0, "S/N_r as drawn");
        assert_true(sp->snr[4] > 0 && sp->snr[1] > 0);
        redder += sp->snr[3] > sp->snr[2];
        n++;
    }
    print_message("S/N_i > S/N_r for %d of %d spectra\n", redder, n);
    assert_true(redder >= 0.9 * n);
    ms_free(sp);
    ms_sim_population_free(&pop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_streams),
        cmocka_unit_test(test_tio5_sequence),
        cmocka_unit_test(test_labels_matter),
        cmocka_unit_test(test_gap_zero_is_grid_physics),
        cmocka_unit_test(test_gap_components),
        cmocka_unit_test(test_snr_distribution),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
