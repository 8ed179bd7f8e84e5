/* test_sim_io.c: the mock universe on disk. Both LAMOST layouts (plain and gzip) read back
 * through the project's reader with every value intact; each pathological kind fails or is
 * flagged as documented; .spec.7 and CIFIST FITS grid files read back through ms_grid_read
 * (rows sorted, duplicates dropped, flux within the format's precision); grid axes and names
 * follow Z25 and BT-Settl; and a whole tiny survey (ms_sim_run): every truth row has its
 * file and every file its row, headers agree with the truth, COMPLETE is written last. */
#include "test_util.h"

#include "mstars/config.h"
#include "mstars/grid.h"
#include "mstars/lamost.h"
#include "mstars/mem.h"
#include "mstars/sim.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ms_sim_model *model;
static ms_sim_instrument *inst;
static ms_sim_workspace *ws;
static ms_sim_spectrum *sp;
static ms_sim_star star;
static ms_sim_obs obs;

static int setup(void **state)
{
    (void)state;
    if (ms_sim_model_alloc(0.25, 1.0, &model) != MS_OK) return -1;
    if (ms_sim_instrument_alloc(model, &inst) != MS_OK) return -1;
    if (ms_sim_workspace_alloc(model, &ws) != MS_OK) return -1;
    sp = ms_malloc("test.sp", sizeof *sp);
    if (!sp) return -1;
    ms_config cfg;
    ms_config_defaults(&cfg);
    cfg.simulate.n_stars = 3;
    ms_sim_population pop;
    if (ms_sim_population_build(&cfg, &pop) != MS_OK) return -1;
    star = pop.stars[1];
    obs = pop.obs[pop.stars[1].first_obs];
    obs.pathology = MS_SIM_PATH_NONE;
    obs.npix = 3906;
    snprintf(obs.cls, sizeof obs.cls, "STAR");
    ms_sim_population_free(&pop);
    return ms_sim_observe(model, inst, &star, &obs, 77, MS_SIM_OBS_ALL, ws, sp) == MS_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ms_free(sp);
    ms_sim_workspace_free(ws);
    ms_sim_instrument_free(inst);
    ms_sim_model_free(model);
    return 0;
}

static ms_sim_lamost_header header(const ms_sim_spectrum *s, const char *cls)
{
    ms_sim_lamost_header h = {.filename = "spec-57000-HD000000N000000B01_sp01-001.fits",
                              .obsid = obs.obsid, .data_v = "LAMOST DR10", .lmjd = 57000,
                              .planid = "HD000000N000000B01", .obsdate = "20141208",
                              .ra = 123.456789, .dec = -5.4321, .spid = 1, .fiberid = 1,
                              .cls = cls, .subclass = "M3", .z = 1.234e-4, .z_err = 2e-5,
                              .helio_rv = -12.5, .seeing = 3.1, .moon_phase = 10.0,
                              .exptime = 1800, .objname = "12345", .mag = {17, 16, 15.5, 15, 14.8}};
    for (int b = 0; b < 5; b++) h.snr[b] = round(s->snr[b] * 100) / 100;
    return h;
}

static void check_roundtrip(ms_lamost_layout layout, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", ms_test_tmpdir(), name);
    ms_sim_lamost_header h = header(sp, "STAR");
    assert_int_equal(ms_sim_lamost_write(path, layout, &h, sp, MS_SIM_PATH_NONE), MS_OK);
    ms_lamost_spectrum s;
    ms_lamost_meta m;
    if (ms_lamost_read(path, &s, &m) != MS_OK) fail_msg("%s", ms_error_message());
    assert_int_equal(m.layout, layout);
    assert_int_equal(s.n, (size_t)sp->npix);
    for (size_t i = 0; i < s.n; i++) {
        assert_true(s.flux[i] == (double)sp->flux[i]);
        assert_true(s.ivar[i] == (double)sp->ivar[i]);
        assert_true(s.wave[i] == (double)sp->wave[i]);
        assert_true(s.andmask[i] == (uint32_t)sp->andmask[i]);
        assert_true(s.ormask[i] == (uint32_t)sp->ormask[i]);
    }
    /* log-linear vacuum wavelengths from COEFF0 3.5682, COEFF1 1e-4 */
    assert_close(s.wave[0], pow(10.0, 3.5682), 1e-6, 0, "first wavelength");
    assert_close(s.wave[3000], pow(10.0, 3.5682 + 0.3), 1e-6, 0, "pixel 3000");
    char obsid[32];
    snprintf(obsid, sizeof obsid, "%ld", obs.obsid);
    assert_string_equal(m.obsid, obsid);
    assert_string_equal(m.cls, "STAR");
    assert_string_equal(m.subclass, "M3");
    assert_string_equal(m.planid, "HD000000N000000B01");
    assert_string_equal(m.data_v, "LAMOST DR10");
    assert_int_equal(m.lmjd, 57000);
    assert_int_equal(m.spid, 1);
    assert_int_equal(m.fiberid, 1);
    assert_close(m.ra, 123.456789, 0, 1e-6, "RA");
    assert_close(m.dec, -5.4321, 0, 1e-6, "DEC");
    assert_close(m.z, 1.234e-4, 0, 1e-9, "Z");
    for (int b = 0; b < 5; b++) assert_close(m.snr[b], h.snr[b], 0, 1e-9, "SNR keyword");
    assert_true(m.snr[3] > m.snr[2]); /* M dwarf: S/N_i > S/N_r */
    /* some pixels masked with IVAR 0 is the norm, but not most */
    size_t bad = 0;
    for (size_t i = 0; i < s.n; i++) bad += s.ivar[i] <= 0;
    assert_true(bad < s.n / 5);
    ms_lamost_spectrum_free(&s);
}

static void test_layouts_read_back(void **state)
{
    (void)state;
    check_roundtrip(MS_LAMOST_COADD, "coadd.fits");
    check_roundtrip(MS_LAMOST_COADD, "coadd.fits.gz");
    check_roundtrip(MS_LAMOST_IMAGE, "image.fits");
    check_roundtrip(MS_LAMOST_IMAGE, "image.fits.gz");
}

/* Each pathology: written as survey.c does, read as the pipeline would. */
static void test_pathologies(void **state)
{
    (void)state;
    ms_sim_spectrum *p = ms_malloc("t", sizeof *p);
    assert_non_null(p);
    for (int k = 1; k < MS_SIM_PATH_COUNT; k++) {
        memcpy(p, sp, sizeof *p);
        const char *cls = "STAR";
        if (k == MS_SIM_PATH_ALL_NAN)
            for (int i = 0; i < p->npix; i++) p->flux[i] = NAN;
        if (k == MS_SIM_PATH_ZERO_IVAR)
            for (int i = 0; i < p->npix; i++) p->ivar[i] = 0;
        if (k == MS_SIM_PATH_NON_STAR) cls = "GALAXY";
        if (k == MS_SIM_PATH_SHORT_WAVE) p->npix = 2300;
        for (int lay = 0; lay < 2; lay++) {
            ms_lamost_layout layout = lay ? MS_LAMOST_IMAGE : MS_LAMOST_COADD;
            if (k == MS_SIM_PATH_MISSING_EXT && layout == MS_LAMOST_IMAGE) continue;
            char path[512];
            snprintf(path, sizeof path, "%s/path-%d-%d.fits%s", ms_test_tmpdir(), k, lay,
                     k == MS_SIM_PATH_TRUNCATED && lay ? ".gz" : "");
            ms_sim_lamost_header h = header(p, cls);
            assert_int_equal(ms_sim_lamost_write(path, layout, &h, p, (ms_sim_pathology)k), MS_OK);
            ms_lamost_spectrum s;
            ms_lamost_meta m;
            ms_status st = ms_lamost_read(path, &s, &m);
            print_message("%-12s %-10s -> %s %s\n", ms_sim_pathology_name((ms_sim_pathology)k),
                          lay ? "image" : "coadd", ms_status_name(st),
                          st ? ms_error_message() : "");
            switch (k) {
            case MS_SIM_PATH_TRUNCATED:
            case MS_SIM_PATH_MISSING_EXT:
                assert_int_not_equal(st, MS_OK);
                assert_non_null(strstr(ms_error_message(), path));
                break;
            case MS_SIM_PATH_ALL_NAN:
                assert_int_equal(st, MS_OK);
                for (size_t i = 0; i < s.n; i++) assert_true(isnan(s.flux[i]));
                break;
            case MS_SIM_PATH_ZERO_IVAR:
                assert_int_equal(st, MS_OK);
                for (size_t i = 0; i < s.n; i++) assert_true(s.ivar[i] == 0);
                break;
            case MS_SIM_PATH_NON_STAR:
                assert_int_equal(st, MS_OK);
                assert_string_equal(m.cls, "GALAXY");
                break;
            case MS_SIM_PATH_SHORT_WAVE:
                assert_int_equal(st, MS_OK);
                assert_int_equal(s.n, 2300);
                assert_true(s.wave[s.n - 1] < 6300.0); /* cannot cover 6000-8900 A */
                break;
            default: fail();
            }
            if (st == MS_OK) ms_lamost_spectrum_free(&s);
        }
    }
    ms_free(p);
}

static void test_grid_files(void **state)
{
    (void)state;
    ms_sim_labels lab = {3300, 5.0, -0.5, 0.2};
    char name[128];
    ms_sim_grid_name(&lab, "spec.7", name, sizeof name);
    assert_string_equal(name, "lte033.0-5.0-0.5a+0.2.BT-Settl.spec.7");
    ms_sim_labels sol = {2500, 4.5, 0.0, -0.2};
    ms_sim_grid_name(&sol, "spec.fits", name, sizeof name);
    assert_string_equal(name, "lte025.0-4.5-0.0a-0.2.BT-Settl.spec.fits");

    size_t j0, j1;
    ms_sim_model_range(model, MS_SIM_GRID_WMIN, MS_SIM_GRID_WMAX, &j0, &j1);
    size_t n = j1 - j0;
    const double *wave = ms_sim_model_wave(model) + j0;
    assert_true(wave[0] >= MS_SIM_GRID_WMIN && wave[n - 1] <= MS_SIM_GRID_WMAX);
    for (size_t i = 1; i < n; i++) assert_true(wave[i] - wave[i - 1] <= 0.25 + 1e-9);
    double *flux = ms_malloc_array("t", n, sizeof *flux), *bb = ms_malloc_array("t", n, sizeof *bb);
    assert_true(flux && bb);
    assert_int_equal(ms_sim_model_flux(model, &lab, MS_SIM_SYNTHETIC, j0, j1, NULL, flux), MS_OK);
    ms_sim_model_blackbody(model, lab.teff, j0, j1, bb);

    /* .spec.7: D exponents, duplicated and swapped rows; the reader sorts and de-duplicates */
    char path[512];
    ms_sim_grid_name(&lab, "spec.7", name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", ms_test_tmpdir(), name);
    assert_int_equal(ms_sim_grid_write_spec7(path, wave, flux, bb, n, 1234), MS_OK);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    double prev = 0;
    long rows = 0, dup = 0, back = 0;
    while (fgets(line, sizeof line, f)) {
        assert_non_null(strchr(line, 'D'));
        assert_int_equal(strlen(line), 39); /* 12 + 1 + 12 + 1 + 12 + newline */
        double w = atof(line);
        if (w == prev) dup++;
        if (w < prev) back++;
        prev = w;
        rows++;
    }
    fclose(f);
    print_message(".spec.7: %ld rows, %ld duplicated, %ld out of order\n", rows, dup, back);
    assert_true(dup >= 1 && back >= 1);
    assert_int_equal(rows, (long)n + dup);
    ms_grid_spectrum g;
    ms_grid_labels gl;
    ms_grid_format fmt;
    assert_int_equal(ms_grid_read(path, 0, INFINITY, &g, &gl, &fmt), MS_OK);
    assert_int_equal(fmt, MS_GRID_SPEC7);
    assert_int_equal(g.n, n);
    for (size_t i = 0; i < n; i++) {
        assert_close(g.wave[i], wave[i], 0, 1e-5, ".spec.7 wavelength");
        assert_close(g.flux[i], flux[i], 3e-4, 0, ".spec.7 flux (6-digit log mantissa)");
    }
    assert_close(gl.teff, 3300, 0, 1e-9, "Teff");
    assert_close(gl.logg, 5.0, 0, 1e-9, "log g");
    assert_close(gl.m_h, -0.5, 0, 1e-9, "[M/H]");
    assert_close(gl.alpha_m, 0.2, 0, 1e-9, "[alpha/M]");
    ms_grid_spectrum_free(&g);

    /* CIFIST FITS: Wavelength in micron, Flux */
    ms_sim_grid_name(&lab, "spec.fits", name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", ms_test_tmpdir(), name);
    assert_int_equal(ms_sim_grid_write_fits(path, wave, flux, n, &lab), MS_OK);
    assert_int_equal(ms_grid_read(path, 6000, 8000, &g, &gl, &fmt), MS_OK);
    assert_int_equal(fmt, MS_GRID_CIFIST_FITS);
    assert_true(g.n > 1000);
    size_t k0;
    ms_sim_model_range(model, 6000, 8000, &k0, &j1);
    for (size_t i = 0; i < g.n; i++) {
        assert_close(g.wave[i], wave[k0 - j0 + i], 1e-12, 0, "FITS wavelength");
        assert_close(g.flux[i], flux[k0 - j0 + i], 1e-12, 0, "FITS flux");
    }
    ms_grid_spectrum_free(&g);
    ms_free(flux);
    ms_free(bb);
}

static void test_grid_axes(void **state)
{
    (void)state;
    ms_config cfg;
    ms_config_defaults(&cfg);
    ms_sim_grid_axes ax;
    assert_int_equal(ms_sim_grid_axes_build(&cfg.simulate, &ax), MS_OK);
    /* Z25 subgrid: 16 Teff x 3 log g x 8 [M/H] x 3 [alpha/M] */
    assert_int_equal(ax.n, 16 * 3 * 8 * 3);
    int seen_m05 = 0;
    for (size_t i = 0; i < ax.n; i++) {
        const ms_sim_labels *l = &ax.labels[i];
        double lo = l->m_h >= 0 ? -0.2 : (l->m_h <= -1.0 ? 0.2 : 0.0);
        assert_true(l->alpha_m >= lo - 1e-9 && l->alpha_m <= lo + 0.4 + 1e-9);
        if (fabs(l->m_h + 0.5) < 1e-9 && fabs(l->alpha_m - 0.4) < 1e-9) seen_m05 = 1;
    }
    assert_true(seen_m05);
    ms_sim_grid_axes_free(&ax);
    cfg.simulate.grid_teff.v[2] = -1;
    assert_int_equal(ms_sim_grid_axes_build(&cfg.simulate, &ax), MS_EINVAL);
}

/* Split a CSV line in place; returns the number of fields. */
static int split_csv(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = '\0';
        p = c + 1;
    }
    char *nl = strchr(f[n - 1], '\n');
    if (nl) *nl = '\0';
    return n;
}

static int col(char **hdr, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(hdr[i], name) == 0) return i;
    fail_msg("truth.csv has no column %s", name);
    return -1;
}

static long count_files(const char *dir)
{
    long n = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(p, &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode))
            n += count_files(p);
        else
            n++;
    }
    closedir(d);
    return n;
}

/* A whole tiny survey through ms_sim_run (single process). */
static void test_tiny_survey(void **state)
{
    (void)state;
    ms_config cfg;
    ms_config_defaults(&cfg);
    assert_int_equal(ms_config_set(&cfg, "simulate.n_stars=30"), MS_OK);
    assert_int_equal(ms_config_set(&cfg, "simulate.pathological_fraction=0.3"), MS_OK);
    assert_int_equal(ms_config_set(&cfg, "simulate.gzip_fraction=0.3"), MS_OK);
    assert_int_equal(ms_config_set(&cfg, "simulate.repeat_fraction=0.5"), MS_OK);
    assert_int_equal(ms_config_set(&cfg, "simulate.grid_teff=3300,3400,100"), MS_OK);
    assert_int_equal(ms_config_set(&cfg, "simulate.grid_logg=4.5,5.0,0.5"), MS_OK);
    assert_int_equal(ms_config_set(&cfg, "simulate.grid_mh=-0.5,0,0.5"), MS_OK);
    assert_int_equal(ms_config_set(&cfg, "simulate.grid_format=both"), MS_OK);
    char out[512];
    snprintf(out, sizeof out, "%s/survey", ms_test_tmpdir());
    ms_sim_stats stats;
    if (ms_sim_run(&cfg, out, MS_SIM_RUN_ALL, &stats) != MS_OK) fail_msg("%s", ms_error_message());
    assert_int_equal(stats.n_models, 2 * 2 * 2 * 3);

    char path[1024];
    snprintf(path, sizeof path, "%s/COMPLETE", out);
    assert_int_equal(access(path, R_OK), 0);
    snprintf(path, sizeof path, "%s/simulate.cfg", out);
    ms_config back;
    ms_config_defaults(&back);
    assert_int_equal(ms_config_load_file(&back, path), MS_OK);
    assert_int_equal(back.simulate.n_stars, 30);

    /* grid.lst: every model readable with its labels */
    snprintf(path, sizeof path, "%s/grid.lst", out);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    long nmodels = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char p2[8192];
        snprintf(p2, sizeof p2, "%s/%s", out, line);
        ms_grid_spectrum g;
        ms_grid_labels gl;
        ms_grid_format fmt;
        assert_int_equal(ms_grid_read(p2, 6000, 8900, &g, &gl, &fmt), MS_OK);
        assert_true(gl.teff == 3300 || gl.teff == 3400);
        ms_grid_spectrum_free(&g);
        nmodels++;
    }
    fclose(f);
    assert_int_equal(nmodels, 24);
    snprintf(path, sizeof path, "%s/grid", out);
    assert_int_equal(count_files(path), 48); /* spec.7 and spec.fits */

    /* truth.csv: every row has its file, readable (or failing) as its pathology says */
    snprintf(path, sizeof path, "%s/truth.csv", out);
    f = fopen(path, "r");
    assert_non_null(f);
    char hline[4096];
    assert_non_null(fgets(hline, sizeof hline, f));
    char *hdr[64];
    int nh = split_csv(hline, hdr, 64);
    int c_file = col(hdr, nh, "file"), c_path = col(hdr, nh, "pathology"),
        c_obsid = col(hdr, nh, "obsid"), c_snr = col(hdr, nh, "snr_r"),
        c_class = col(hdr, nh, "class"), c_star = col(hdr, nh, "star_id"),
        c_teff = col(hdr, nh, "teff"), c_idx = col(hdr, nh, "obs_index");
    long rows = 0, failed = 0, repeats = 0, last_star = -1;
    while (fgets(line, sizeof line, f)) {
        char *v[64];
        int nv = split_csv(line, v, 64);
        assert_int_equal(nv, nh);
        assert_int_equal(atol(v[c_idx]), rows);
        if (atol(v[c_star]) == last_star) repeats++;
        last_star = atol(v[c_star]);
        assert_true(atof(v[c_teff]) >= 3000 && atof(v[c_teff]) <= 4000);
        char p2[8192];
        snprintf(p2, sizeof p2, "%s/%s", out, v[c_file]);
        assert_int_equal(access(p2, R_OK), 0);
        ms_lamost_spectrum s;
        ms_lamost_meta m;
        ms_status st = ms_lamost_read(p2, &s, &m);
        const char *pk = v[c_path];
        if (strcmp(pk, "truncated") == 0 || strcmp(pk, "missing_ext") == 0) {
            assert_int_not_equal(st, MS_OK);
            failed++;
            rows++;
            continue;
        }
        if (st != MS_OK) fail_msg("%s", ms_error_message());
        assert_string_equal(m.obsid, v[c_obsid]);
        assert_string_equal(m.cls, v[c_class]);
        assert_close(m.snr[2], atof(v[c_snr]), 0, 0.006, "SNRR = truth snr_r");
        if (strcmp(pk, "non_star") == 0) assert_string_not_equal(m.cls, "STAR");
        if (strcmp(pk, "none") == 0) {
            assert_string_equal(m.cls, "STAR");
            assert_true(s.n >= 3899 && s.n <= 3909);
            assert_true(m.snr[2] >= 3 && m.snr[2] <= 300);
        }
        ms_lamost_spectrum_free(&s);
        rows++;
    }
    fclose(f);
    print_message("%ld truth rows, %ld repeat observations, %ld unreadable by design\n", rows,
                  repeats, failed);
    assert_int_equal(rows, stats.n_spectra);
    assert_true(repeats > 0);
    /* and every file has its row */
    snprintf(path, sizeof path, "%s/spectra", out);
    assert_int_equal(count_files(path), rows);
    snprintf(path, sizeof path, "%s/input_catalog.csv", out);
    f = fopen(path, "r");
    assert_non_null(f);
    long crow = -1;
    while (fgets(line, sizeof line, f)) crow++;
    fclose(f);
    assert_int_equal(crow, rows);

    /* a second run into the same directory replaces the survey, leaving no stale files */
    assert_int_equal(ms_config_set(&cfg, "simulate.n_stars=10"), MS_OK);
    assert_int_equal(ms_config_set(&cfg, "general.seed=99"), MS_OK);
    assert_int_equal(ms_sim_run(&cfg, out, MS_SIM_RUN_SURVEY, &stats), MS_OK);
    snprintf(path, sizeof path, "%s/spectra", out);
    assert_int_equal(count_files(path), stats.n_spectra);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layouts_read_back),
        cmocka_unit_test(test_pathologies),
        cmocka_unit_test(test_grid_files),
        cmocka_unit_test(test_grid_axes),
        cmocka_unit_test(test_tiny_survey),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
