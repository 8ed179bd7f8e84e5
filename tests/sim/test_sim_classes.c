/* test_sim_classes.c: the mock's other populations (simulate.fraction_*): kinds drawn in
 * the configured fractions with the M dwarfs' draws untouched, truth classes and header
 * classes (a label_error_fraction of them "M"), and the toy physics showing what a classifier
 * must see: giants against dwarfs in the L25 Table 3 features, Balmer lines peaking in A
 * stars, Ca II K growing to cool stars, He I only in OB stars, the white dwarfs' broad wings,
 * redshifted emission lines of galaxies and QSOs. */
#include "test_util.h"

#include "mstars/config.h"
#include "mstars/mem.h"
#include "mstars/sim.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static ms_sim_model *model;
static ms_sim_classes *classes;

static int setup(void **state)
{
    (void)state;
    if (ms_sim_model_alloc(0.25, 0.0, &model) != MS_OK) return -1;
    if (ms_sim_classes_alloc(model, &classes) != MS_OK) return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ms_sim_classes_free(classes);
    ms_sim_model_free(model);
    return 0;
}

static const double fr[MS_SIM_KIND_COUNT] = {0, 0.10, 0.05, 0.05, 0.05, 0.05, 0.10, 0.05, 0.05, 0.05};

static void set_fractions(ms_config *cfg)
{
    ms_cfg_simulate *c = &cfg->simulate;
    c->fraction_mgiant = fr[MS_SIM_KIND_MGIANT];
    c->fraction_ob = fr[MS_SIM_KIND_OB];
    c->fraction_a = fr[MS_SIM_KIND_A];
    c->fraction_f = fr[MS_SIM_KIND_F];
    c->fraction_g = fr[MS_SIM_KIND_G];
    c->fraction_k = fr[MS_SIM_KIND_K];
    c->fraction_wd = fr[MS_SIM_KIND_WD];
    c->fraction_galaxy = fr[MS_SIM_KIND_GALAXY];
    c->fraction_qso = fr[MS_SIM_KIND_QSO];
}

static void test_kind_fractions(void **state)
{
    (void)state;
    ms_config cfg, cfg0;
    ms_config_defaults(&cfg0);
    cfg0.simulate.n_stars = 8000;
    cfg = cfg0;
    set_fractions(&cfg);
    assert_int_equal(ms_config_validate(&cfg), MS_OK);
    ms_sim_population pop, pop0;
    assert_int_equal(ms_sim_population_build(&cfg, &pop), MS_OK);
    assert_int_equal(ms_sim_population_build(&cfg0, &pop0), MS_OK);
    long count[MS_SIM_KIND_COUNT] = {0};
    for (long s = 0; s < pop.n_stars; s++) {
        const ms_sim_star *st = &pop.stars[s];
        assert_true(st->kind >= 0 && st->kind < MS_SIM_KIND_COUNT);
        count[st->kind]++;
        assert_int_equal(pop0.stars[s].kind, MS_SIM_KIND_MDWARF); /* default: M dwarfs only */
        if (st->kind == MS_SIM_KIND_MDWARF) { /* the M dwarfs' own draws are untouched */
            assert_memory_equal(&st->lab, &pop0.stars[s].lab, sizeof st->lab);
            assert_true(st->gmag == pop0.stars[s].gmag && st->rv == pop0.stars[s].rv);
        }
        double lo, hi;
        ms_sim_kind_teff_range((ms_sim_kind)st->kind, &lo, &hi);
        if (st->kind != MS_SIM_KIND_GALAXY && st->kind != MS_SIM_KIND_QSO && st->kind != MS_SIM_KIND_MDWARF)
            assert_true(st->lab.teff >= lo && st->lab.teff <= hi);
        if (st->kind == MS_SIM_KIND_MGIANT) assert_true(st->lab.logg <= 1.8);
        if (st->kind == MS_SIM_KIND_WD) assert_true(st->lab.logg > 7.0);
        if (st->kind >= MS_SIM_KIND_OB && st->kind <= MS_SIM_KIND_K) {
            /* the class letter of the Teff's subtype is the kind's */
            const char *sub = ms_sim_subtype_ms(st->lab.teff, 0);
            const char *cls = ms_sim_spt_class((ms_sim_kind)st->kind, st->lab.teff);
            assert_true(strchr(cls, sub[0]) != NULL);
        }
        if (st->kind == MS_SIM_KIND_GALAXY) assert_true(st->redshift > 0.01 && st->redshift < 0.3);
        if (st->kind == MS_SIM_KIND_QSO) assert_true(st->redshift > 0.05 && st->redshift < 3.6);
    }
    for (int k = 0; k < MS_SIM_KIND_COUNT; k++) {
        double p = fr[k], nexp;
        if (k == 0) {
            p = 1.0;
            for (int j = 1; j < MS_SIM_KIND_COUNT; j++) p -= fr[j];
        }
        nexp = p * (double)pop.n_stars;
        double sd = sqrt(nexp * (1 - p));
        print_message("%-7s %5ld stars (expected %.0f +- %.0f)\n", ms_sim_kind_name((ms_sim_kind)k),
                      count[k], nexp, sd);
        assert_true(fabs((double)count[k] - nexp) < 4.0 * sd);
    }
    /* header classes: right for most, "M" for label_error_fraction */
    long nonm = 0, wrong = 0, giants = 0, gm = 0, bad = 0;
    for (long o = 0; o < pop.n_obs; o++) {
        const ms_sim_obs *ob = &pop.obs[o];
        const ms_sim_star *st = &pop.stars[ob->star];
        if (st->kind == MS_SIM_KIND_MDWARF || ob->pathology == MS_SIM_PATH_NON_STAR) continue;
        int says_mdwarf = strcmp(ob->cls, "STAR") == 0 && ob->subclass[0] == 'M';
        if (st->kind == MS_SIM_KIND_MGIANT) {
            giants++;
            gm += strncmp(ob->subclass, "gM", 2) == 0;
            continue;
        }
        nonm++;
        wrong += says_mdwarf;
        switch (st->kind) {
        case MS_SIM_KIND_GALAXY: bad += !says_mdwarf && strcmp(ob->cls, "GALAXY") != 0; break;
        case MS_SIM_KIND_QSO: bad += !says_mdwarf && strcmp(ob->cls, "QSO") != 0; break;
        case MS_SIM_KIND_WD: bad += !says_mdwarf && strcmp(ob->subclass, "WD") != 0; break;
        default: {
            double lo, hi;
            ms_sim_kind_teff_range((ms_sim_kind)st->kind, &lo, &hi);
            /* the header type is the star's, or a neighbouring subtype */
            bad += !says_mdwarf && strcmp(ob->subclass, ms_sim_subtype_ms(st->lab.teff, 0)) != 0 &&
                   strcmp(ob->subclass, ms_sim_subtype_ms(st->lab.teff, -1)) != 0 &&
                   strcmp(ob->subclass, ms_sim_subtype_ms(st->lab.teff, 1)) != 0;
        }
        }
    }
    double fw = (double)wrong / (double)nonm, sd = sqrt(0.05 * 0.95 / (double)nonm);
    print_message("non-M: %ld observations, %.2f%% labelled M; giants %ld, %.2f%% gM\n", nonm,
                  100 * fw, giants, 100.0 * (double)gm / (double)giants);
    assert_true(fabs(fw - 0.05) < 4 * sd);
    assert_int_equal(bad, 0);
    assert_true(fabs((double)gm / (double)giants - 0.95) < 4 * sqrt(0.05 * 0.95 / (double)giants));
    ms_sim_population_free(&pop);
    ms_sim_population_free(&pop0);
    /* fractions adding up to more than 1 are refused */
    cfg.simulate.fraction_qso = 0.8;
    assert_int_equal(ms_config_validate(&cfg), MS_EINVAL);
}

/* Spectrum through a Gaussian LSF of R 1800 on 1 A pixels 3700-9100 A (observed frame). */
#define NW 5401
static void at_r1800(const double *hires, double *f)
{
    double w[NW];
    for (int i = 0; i < NW; i++) w[i] = 3700.0 + i;
    ms_sim_lsf_apply(model, hires, 0.0, w, NULL, 1.0 / (2.3548 * 1800.0), NW, f);
}

static double mean(const double *f, double lo, double hi)
{
    double s = 0;
    int n = 0;
    for (int i = (int)ceil(lo - 3700.0); i <= (int)floor(hi - 3700.0); i++, n++) s += f[i];
    return s / n;
}

/* 1 - F(line window) / mean of the two side windows */
static double depth(const double *f, double c, double hw, double side)
{
    double l = mean(f, c - hw, c + hw);
    double cont = 0.5 * (mean(f, c - side - 3, c - side + 3) + mean(f, c + side - 3, c + side + 3));
    return 1.0 - l / cont;
}

static void test_giant_features(void **state)
{
    (void)state;
    size_t N = ms_sim_model_npix(model);
    double *hi = ms_malloc_array("t", N, sizeof *hi);
    static double fd[NW], fg[NW];
    assert_non_null(hi);
    ms_sim_labels dwarf = {3600, 4.8, 0.0, 0.0}, giant = {3600, 1.0, 0.0, 0.0};
    assert_int_equal(ms_sim_model_flux(model, &dwarf, MS_SIM_SYNTHETIC, 0, N, NULL, hi), MS_OK);
    at_r1800(hi, fd);
    assert_int_equal(ms_sim_model_flux(model, &giant, MS_SIM_SYNTHETIC, 0, N, NULL, hi), MS_OK);
    at_r1800(hi, fg);
    /* L25 Table 3: CaH 6946-7050 dip (dwarf) / flat (giant); K I 7665/7699 and Na I 8183/8195
     * deep / shallow; Ca II triplet shallow / deep */
    double cah_d = 1.0 - mean(fd, 6960, 6990) / mean(fd, 7042, 7046);
    double cah_g = 1.0 - mean(fg, 6960, 6990) / mean(fg, 7042, 7046);
    double ki_d = depth(fd, 7701.1, 2, 12), ki_g = depth(fg, 7701.1, 2, 12);
    /* Na I against the blue side only: TiO 8206 starts just redward */
    double na_d = 1.0 - mean(fd, 8195, 8199) / mean(fd, 8168, 8174);
    double na_g = 1.0 - mean(fg, 8195, 8199) / mean(fg, 8168, 8174);
    double ca_d = depth(fd, 8544.4, 2, 12), ca_g = depth(fg, 8544.4, 2, 12);
    print_message("dwarf / giant at 3600 K: CaH %.3f / %.3f, K I %.3f / %.3f, Na I %.3f / %.3f, "
                  "Ca II %.3f / %.3f\n", cah_d, cah_g, ki_d, ki_g, na_d, na_g, ca_d, ca_g);
    assert_true(cah_d > 0.1 && fabs(cah_g) < 0.5 * cah_d);
    assert_true(ki_d > 1.5 * ki_g);
    assert_true(na_d > 1.5 * na_g);
    assert_true(ca_g > 1.3 * ca_d);
    ms_free(hi);
}

static void class_spectrum(ms_sim_kind k, double teff, double z, double *f, double *hi)
{
    ms_sim_star st;
    memset(&st, 0, sizeof st);
    st.kind = k;
    st.lab = (ms_sim_labels){teff, k == MS_SIM_KIND_WD ? 8.0 : 4.3, 0.0, 0.0};
    st.redshift = z;
    st.vdisp = k == MS_SIM_KIND_QSO ? 4000.0 : 150.0;
    st.line_ew = k == MS_SIM_KIND_GALAXY ? 30.0 : 0.0;
    size_t N = ms_sim_model_npix(model);
    assert_int_equal(ms_sim_classes_flux(classes, &st, 0, N, hi), MS_OK);
    for (size_t j = 0; j < N; j++) assert_true(isfinite(hi[j]) && hi[j] > 0);
    at_r1800(hi, f);
}

static void test_class_physics(void **state)
{
    (void)state;
    size_t N = ms_sim_model_npix(model);
    double *hi = ms_malloc_array("t", N, sizeof *hi);
    static double fa[NW], fgs[NW], fb[NW], fw[NW], fq[NW], fgal[NW];
    assert_non_null(hi);
    class_spectrum(MS_SIM_KIND_A, 9500, 0, fa, hi);
    class_spectrum(MS_SIM_KIND_G, 5700, 0, fgs, hi);
    class_spectrum(MS_SIM_KIND_OB, 20000, 0, fb, hi);
    class_spectrum(MS_SIM_KIND_WD, 12000, 0, fw, hi);
    double hb_a = depth(fa, 4862.7, 3, 60), hb_g = depth(fgs, 4862.7, 3, 60);
    double k_a = depth(fa, 3934.8, 2, 15), k_g = depth(fgs, 3934.8, 2, 15);
    double he_b = depth(fb, 4472.7, 2, 10), he_a = depth(fa, 4472.7, 2, 10);
    /* the white dwarf's H-beta is still deep 25 A from the core; the A star's is not */
    double ww = 1.0 - mean(fw, 4885, 4890) / (0.5 * (mean(fw, 4600, 4610) + mean(fw, 5140, 5150)));
    double wa = 1.0 - mean(fa, 4885, 4890) / (0.5 * (mean(fa, 4600, 4610) + mean(fa, 5140, 5150)));
    print_message("H-beta depth A %.3f G %.3f; Ca K A %.3f G %.3f; He I 4472 B %.3f A %.3f; "
                  "H-beta at +25 A WD %.3f A %.3f\n", hb_a, hb_g, k_a, k_g, he_b, he_a, ww, wa);
    assert_true(hb_a > 0.3 && hb_a > 1.5 * hb_g);
    assert_true(k_g > 0.3 && k_g > 2 * k_a);
    assert_true(he_b > 0.05 && he_b > 3 * fabs(he_a));
    assert_true(ww > 0.15 && ww > 2 * wa);
    /* QSO at z = 1.0: Mg II 2799 at 5598 A and H-beta at 9725 (outside); galaxy at 0.1:
     * H-alpha emission at 7221 A */
    class_spectrum(MS_SIM_KIND_QSO, 0, 1.0, fq, hi);
    double peak = 0, wpk = 0;
    for (int i = 1500; i < 2500; i++)
        if (fq[i] > peak) {
            peak = fq[i];
            wpk = 3700.0 + i;
        }
    class_spectrum(MS_SIM_KIND_GALAXY, 0, 0.1, fgal, hi);
    double ha = depth(fgal, 6564.61 * 1.1, 3, 40);
    double cak = depth(fgal, 3934.78 * 1.1, 3, 20);
    print_message("QSO z 1: peak at %.0f A (Mg II 5598); galaxy z 0.1: H-alpha %.3f, Ca K %.3f\n",
                  wpk, ha, cak);
    assert_true(fabs(wpk - 2799.12 * 2.0) < 5.0);
    assert_true(ha < -0.5);  /* emission */
    assert_true(cak > 0.15); /* old population: Ca II K in absorption */
    ms_free(hi);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_fractions),
        cmocka_unit_test(test_giant_features),
        cmocka_unit_test(test_class_physics),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
