/* test_report.c: `mstars report` on small hand-made catalogs whose every number is known:
 *   - counts and flag reasons (store status, fit flags with informational bits, cut flags);
 *   - recovery against a truth table (bias, scatter, S/N bins, clean rows), a second
 *     comparison with a reference table;
 *   - residuals, Err_repeat attributes, SpT against the subclass;
 *   - missing optional columns, attributes and files leave the numbers null with a note;
 *   - the figures that can be drawn are valid PNG files, the others are absent;
 *   - a catalog with complete = 0 is refused. */
#include "test_util.h"

#include "mstars/h5.h"
#include "mstars/mem.h"
#include "mstars/plot.h"
#include "mstars/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define N 10

static void put(ms_h5 *f, const char *name, ms_h5_type type, size_t len, const void *data)
{
    size_t n = N;
    assert_int_equal(ms_h5_write_array(f, name, type, len, 1, &n, data, "", name), MS_OK);
}

/* The full test catalog (see the expected values in test_full_catalog). */
static void write_full_catalog(const char *path)
{
    ms_h5 *f;
    assert_int_equal(ms_h5_create(path, 0, &f), MS_OK);
    char obsid[N][32] = {{0}}, subclass[N][16] = {{0}};
    const char *sub[N] = {"M0", "M1", "M1", "M2", "K7", "dM2", "M3", "M4", "", ""};
    double teff[N], logg[N], mh[N], rv[N], spt[N], resid[N], e_rep[N];
    const double snr[N] = {3, 6, 8, 12, 15, 25, 40, 60, 70, 2};
    int32_t status[N] = {0}, cut[N] = {0};
    uint32_t flags[N] = {0};
    for (int i = 0; i < N; i++) {
        snprintf(obsid[i], sizeof obsid[i], "%d", 101 + i);
        snprintf(subclass[i], sizeof subclass[i], "%s", sub[i]);
        int fitted = i < 8;
        teff[i] = fitted ? 3000 + 100 * i : NAN;
        logg[i] = fitted ? 4.8 + 0.02 * i : NAN;
        mh[i] = fitted ? -0.5 + 0.1 * i : NAN;
        rv[i] = fitted ? 10.0 * i - 30 : NAN;
        spt[i] = fitted ? 0.5 * i : -9999;
        resid[i] = fitted ? 1.0 + 0.1 * i : NAN;
        e_rep[i] = 0;
    }
    status[9] = 4;               /* coverage */
    flags[0] = 1u << 2 | 1u << 10; /* at_bound + rv_wide (informational) */
    flags[1] = 1u << 10;           /* rv_wide only: not flagged */
    flags[8] = 1u << 4;            /* few_pixels */
    flags[9] = 1u << 5;            /* bad_input */
    cut[2] = 1;                    /* teff_hot */
    cut[3] = 4;                    /* error_outlier */
    put(f, "/catalog/obsid", MS_H5_STR, 32, obsid);
    put(f, "/catalog/subclass", MS_H5_STR, 16, subclass);
    put(f, "/catalog/teff", MS_H5_F64, 0, teff);
    put(f, "/catalog/logg", MS_H5_F64, 0, logg);
    put(f, "/catalog/m_h", MS_H5_F64, 0, mh);
    put(f, "/catalog/rv", MS_H5_F64, 0, rv);
    put(f, "/catalog/snr_r", MS_H5_F64, 0, snr);
    put(f, "/catalog/spt", MS_H5_F64, 0, spt);
    put(f, "/catalog/resid_sigma", MS_H5_F64, 0, resid);
    put(f, "/catalog/store_status", MS_H5_I32, 0, status);
    put(f, "/catalog/fit_flags", MS_H5_U32, 0, flags);
    put(f, "/catalog/cut_flags", MS_H5_I32, 0, cut);
    put(f, "/catalog/e_teff_repeat", MS_H5_F64, 0, e_rep);
    assert_int_equal(ms_h5_attr_set_str(f, "/catalog/fit_flags", "flag_names",
                                        "0=not_converged,1=linesearch,2=at_bound,"
                                        "3=presearch_disagree,4=few_pixels,5=bad_input,"
                                        "6=nonfinite,7=rv_edge,8=bad_pixels,9=singular,"
                                        "10=rv_wide,11=no_rv_start"),
                     MS_OK);
    assert_int_equal(ms_h5_attr_set_str(f, "/catalog/cut_flags", "flag_names",
                                        "0=teff_hot,1=at_boundary,2=error_outlier,3=chi2_high"),
                     MS_OK);
    const double a = 500, b = 20, lo[2] = {5, 15}, hi[2] = {15, 25}, nb[2] = {4, 3},
                 sc[2] = {60, 45};
    const int64_t ns = 7;
    const char *e = "/catalog/e_teff_repeat";
    assert_int_equal(ms_h5_attr_set_f64(f, e, "repeat_a", &a, 1), MS_OK);
    assert_int_equal(ms_h5_attr_set_f64(f, e, "repeat_b", &b, 1), MS_OK);
    assert_int_equal(ms_h5_attr_set_i64(f, e, "repeat_n_stars", &ns, 1), MS_OK);
    assert_int_equal(ms_h5_attr_set_f64(f, e, "repeat_bin_snr_min", lo, 2), MS_OK);
    assert_int_equal(ms_h5_attr_set_f64(f, e, "repeat_bin_snr_max", hi, 2), MS_OK);
    assert_int_equal(ms_h5_attr_set_f64(f, e, "repeat_bin_n", nb, 2), MS_OK);
    assert_int_equal(ms_h5_attr_set_f64(f, e, "repeat_bin_scatter", sc, 2), MS_OK);
    assert_int_equal(ms_h5_attr_set_str(f, "/", "emulator", "no_such_emulator.h5"), MS_OK);
    assert_int_equal(ms_h5_attr_set_str(f, "/", "domain_adaptation", "none (emulator-only fit)"),
                     MS_OK);
    assert_int_equal(ms_h5_commit(f), MS_OK);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    buf[len] = '\0';
    fclose(f);
    return buf;
}

/* The value after the keys, each searched after the previous one ("key": ...); `nth` > 0
 * skips to the nth occurrence of the last key. */
static const char *value_at(const char *json, const char *const *keys, int nth)
{
    const char *p = json;
    for (int k = 0; keys[k]; k++) {
        char pat[96];
        snprintf(pat, sizeof pat, "\"%s\": ", keys[k]);
        int times = keys[k + 1] ? 1 : (nth > 0 ? nth : 1);
        for (int t = 0; t < times; t++) {
            p = strstr(p, pat);
            if (!p) fail_msg("summary.json: no key %s", keys[k]);
            p += strlen(pat);
        }
    }
    return p;
}

static double number_at(const char *json, const char *const *keys, int nth)
{
    const char *p = value_at(json, keys, nth);
    if (strncmp(p, "null", 4) == 0) return NAN;
    return strtod(p, NULL);
}

#define NUM(json, nth, ...) number_at((json), (const char *const[]){__VA_ARGS__, NULL}, (nth))
#define IS_NULL(json, nth, ...)                                                            \
    (strncmp(value_at((json), (const char *const[]){__VA_ARGS__, NULL}, (nth)), "null", 4) == 0)

static int is_png(const char *dir, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char sig[8] = {0};
    size_t got = fread(sig, 1, 8, f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    return got == 8 && memcmp(sig, png, 8) == 0 && size > 5000;
}

static int exists(const char *dir, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void test_full_catalog(void **state)
{
    (void)state;
    const char *tmp = ms_test_tmpdir();
    char cat[512], truth[512], ref[512], out[512], json_path[600], md_path[600];
    snprintf(cat, sizeof cat, "%s/full.h5", tmp);
    snprintf(truth, sizeof truth, "%s/truth.csv", tmp);
    snprintf(ref, sizeof ref, "%s/ref.csv", tmp);
    snprintf(out, sizeof out, "%s/report-full", tmp);
    write_full_catalog(cat);
    /* truth: teff = catalog - d with d = 10 -20 30 40 0 5 -5 20 for rows 0..7; the other
     * labels equal to the catalog's; no row for obsid 109; one obsid not in the catalog */
    write_text(truth, "obsid,star_id,teff,logg,m_h,alpha_m,rv\n"
                      "101,0,2990,4.80,-0.5,0.1,-30\n"
                      "102,1,3120,4.82,-0.4,0.1,-20\n"
                      "103,2,3170,4.84,-0.3,0.1,-10\n"
                      "104,3,3260,4.86,-0.2,0.1,0\n"
                      "105,4,3400,4.88,-0.1,0.1,10\n"
                      "106,5,3495,4.90,0.0,0.1,20\n"
                      "107,6,3605,4.92,0.1,0.1,30\n"
                      "108,7,3680,4.94,0.2,0.1,40\n"
                      "110,9,3000,5.00,0.0,0.0,0\n"
                      "999,9,3000,5.00,0.0,0.0,0\n");
    /* reference: rv only, 1 km/s above the catalog for rows 0..3 */
    write_text(ref, "obsid,rv\n101,-29\n102,-19\n103,-9\n104,1\n");
    ms_report_opts o = {cat, out, truth, ref, NULL, 0, NULL, 0};
    ms_report_summary s;
    assert_int_equal(ms_report_write(&o, &s), MS_OK);
    assert_int_equal(s.input, 10);
    assert_int_equal(s.fitted, 8);
    assert_int_equal(s.flagged, 5);

    snprintf(json_path, sizeof json_path, "%s/summary.json", out);
    snprintf(md_path, sizeof md_path, "%s/summary.md", out);
    char *j = read_all(json_path);
    char *md = read_all(md_path);
    assert_non_null(j);
    assert_non_null(md);
    /* counts: rows 0 (at_bound), 2, 3 (cuts), 8 (few_pixels), 9 (store) are flagged; row 1
     * has only the informational rv_wide */
    assert_close(NUM(j, 0, "counts", "input"), 10, 0, 0, "input");
    assert_close(NUM(j, 0, "counts", "fitted"), 8, 0, 0, "fitted");
    assert_close(NUM(j, 0, "counts", "flagged"), 5, 0, 0, "flagged");
    assert_close(NUM(j, 0, "counts", "failed"), 1, 0, 0, "failed");
    assert_close(NUM(j, 0, "counts", "skipped"), 1, 0, 0, "skipped");
    assert_close(NUM(j, 0, "counts", "clean"), 5, 0, 0, "clean");
    assert_close(NUM(j, 0, "flag_reasons", "store_coverage"), 1, 0, 0, "store_coverage");
    assert_close(NUM(j, 0, "flag_reasons", "store_unreadable"), 0, 0, 0, "store_unreadable");
    assert_close(NUM(j, 0, "flag_reasons", "at_bound"), 1, 0, 0, "at_bound");
    assert_close(NUM(j, 0, "flag_reasons", "rv_wide"), 2, 0, 0, "rv_wide");
    assert_close(NUM(j, 0, "flag_reasons", "few_pixels"), 1, 0, 0, "few_pixels");
    assert_close(NUM(j, 0, "flag_reasons", "bad_input"), 1, 0, 0, "bad_input");
    assert_close(NUM(j, 0, "flag_reasons", "teff_hot"), 1, 0, 0, "teff_hot");
    assert_close(NUM(j, 0, "flag_reasons", "error_outlier"), 1, 0, 0, "error_outlier");
    assert_close(NUM(j, 0, "flag_reasons", "chi2_high"), 0, 0, 0, "chi2_high");

    /* recovery of Teff: d = 10 -20 30 40 0 5 -5 20: mean 10, sum of squared deviations
     * 0 + 900 + 400 + 900 + 100 + 25 + 225 + 100 = 2650 over 7 */
    assert_close(NUM(j, 0, "recovery", "teff", "n"), 8, 0, 0, "recovery.teff.n");
    assert_close(NUM(j, 0, "recovery", "teff", "bias"), 10, 0, 1e-9, "teff bias");
    assert_close(NUM(j, 0, "recovery", "teff", "scatter"), sqrt(2650.0 / 7), 1e-12, 0,
                 "teff scatter");
    assert_close(NUM(j, 0, "recovery", "matched"), 9, 0, 0, "matched rows");
    /* clean rows 1, 4, 5, 6, 7: -20 0 5 -5 20 -> mean 0 */
    assert_close(NUM(j, 0, "recovery", "teff", "clean", "n"), 5, 0, 0, "clean n");
    assert_close(NUM(j, 0, "recovery", "teff", "clean", "bias"), 0, 0, 1e-9, "clean bias");
    /* S/N bins: 5-10 rows 1, 2 (-20, 30); 10-20 rows 3, 4 (40, 0); 20-50 rows 5, 6
     * (5, -5); 50+ row 7 (20); row 0 (S/N 3) in none */
    assert_close(NUM(j, 1, "recovery", "teff", "by_snr", "n"), 2, 0, 0, "bin 1 n");
    assert_close(NUM(j, 1, "recovery", "teff", "by_snr", "bias"), 5, 0, 1e-9, "bin 1 bias");
    assert_close(NUM(j, 1, "recovery", "teff", "by_snr", "scatter"), sqrt(1250.0), 1e-12, 0,
                 "bin 1 scatter");
    assert_close(NUM(j, 2, "recovery", "teff", "by_snr", "bias"), 20, 0, 1e-9, "bin 2 bias");
    assert_close(NUM(j, 2, "recovery", "teff", "by_snr", "scatter"), sqrt(800.0), 1e-12, 0,
                 "bin 2 scatter");
    assert_close(NUM(j, 3, "recovery", "teff", "by_snr", "bias"), 0, 0, 1e-9, "bin 3 bias");
    assert_close(NUM(j, 4, "recovery", "teff", "by_snr", "n"), 1, 0, 0, "bin 4 n");
    assert_close(NUM(j, 4, "recovery", "teff", "by_snr", "snr_min"), 50, 0, 0, "bin 4 min");
    assert_true(IS_NULL(j, 4, "recovery", "teff", "by_snr", "snr_max"));
    assert_true(IS_NULL(j, 4, "recovery", "teff", "by_snr", "scatter")); /* one value */
    assert_close(NUM(j, 0, "recovery", "logg", "bias"), 0, 0, 1e-9, "logg bias");
    /* the catalog has no alpha_m: n 0, null */
    assert_close(NUM(j, 0, "recovery", "alpha_m", "n"), 0, 0, 0, "alpha_m n");
    assert_true(IS_NULL(j, 0, "recovery", "alpha_m", "bias"));
    /* the reference: rv 1 km/s above for 4 rows */
    assert_close(NUM(j, 0, "recovery_reference", "rv", "n"), 4, 0, 0, "reference rv n");
    assert_close(NUM(j, 0, "recovery_reference", "rv", "bias"), -1, 0, 1e-9, "reference bias");
    assert_close(NUM(j, 0, "recovery_reference", "teff", "n"), 0, 0, 0, "reference teff n");

    /* residuals: emulator-only run, mean of 1.0 ... 1.7 */
    assert_close(NUM(j, 0, "residual_over_sigma", "without_csn"), 1.35, 1e-12, 0, "resid");
    assert_true(IS_NULL(j, 0, "residual_over_sigma", "with_csn"));
    /* emulator file unreadable: null and a note */
    assert_true(IS_NULL(j, 0, "emulator", "eq1_median"));
    assert_true(IS_NULL(j, 0, "emulator", "eq1_max"));
    assert_non_null(strstr(j, "no_such_emulator.h5"));
    /* Err_repeat */
    assert_close(NUM(j, 0, "precision_vs_snr", "teff", "a"), 500, 0, 0, "repeat a");
    assert_close(NUM(j, 0, "precision_vs_snr", "teff", "b"), 20, 0, 0, "repeat b");
    assert_close(NUM(j, 0, "precision_vs_snr", "teff", "n_stars"), 7, 0, 0, "repeat stars");
    assert_true(IS_NULL(j, 0, "precision_vs_snr", "logg", "a"));
    /* SpT 0 .. 3.5 against M0 M1 M1 M2 K7 dM2 M3 M4: row 4 (1.0 vs K7 = -1) differs by 2 */
    assert_close(NUM(j, 0, "spt", "n_with_subclass"), 8, 0, 0, "spt n");
    assert_close(NUM(j, 0, "spt", "agree_within_1"), 0.875, 0, 1e-12, "spt agreement");

    /* the page has the same numbers and says what was left out */
    assert_non_null(strstr(md, "| fitted (finite Teff) | 8 |"));
    assert_non_null(strstr(md, "| Teff (K) | 8 | 10 |"));
    /* a label the catalog does not have ([alpha/M] of a teff,logg fit) reads n/a, never a
     * summary of nothing shown as 0.000 (issue 17 item 6) */
    assert_non_null(strstr(md, "| [alpha/M] (dex) | 0 | n/a | n/a | n/a | n/a | 0 | n/a | n/a |"));
    assert_null(strstr(md, "| [alpha/M] (dex) | 0 | 0.000"));
    assert_non_null(strstr(md, "no_such_emulator.h5"));
    assert_non_null(strstr(md, "Gaia"));

    if (ms_plot_available()) {
        const char *drawn[] = {"kiel.png", "recovery.png", "recovery_snr.png", "reference.png",
                               "reference_snr.png", "residuals.png", "precision_snr.png",
                               "spt_subclass.png"};
        for (size_t k = 0; k < sizeof drawn / sizeof drawn[0]; k++)
            if (!is_png(out, drawn[k])) fail_msg("%s/%s is not a valid PNG", out, drawn[k]);
        assert_false(exists(out, "hr.png"));                /* no Gaia columns */
        assert_false(exists(out, "emulator_accuracy.png")); /* no emulator file */
        assert_non_null(strstr(md, "![kiel](kiel.png)"));
    }
    free(j);
    free(md);
}

/* A catalog with nothing but obsid and teff, no tables: everything else is left out. */
static void test_minimal_catalog(void **state)
{
    (void)state;
    const char *tmp = ms_test_tmpdir();
    char cat[512], out[512], json_path[600];
    snprintf(cat, sizeof cat, "%s/minimal.h5", tmp);
    snprintf(out, sizeof out, "%s/report-min/nested", tmp);
    ms_h5 *f;
    assert_int_equal(ms_h5_create(cat, 0, &f), MS_OK);
    char obsid[N][32] = {{0}};
    double teff[N];
    for (int i = 0; i < N; i++) {
        snprintf(obsid[i], sizeof obsid[i], "%d", 7 + i);
        teff[i] = i % 3 ? 3300 + i : NAN;
    }
    put(f, "/catalog/obsid", MS_H5_STR, 32, obsid);
    put(f, "/catalog/teff", MS_H5_F64, 0, teff);
    assert_int_equal(ms_h5_commit(f), MS_OK);
    ms_report_opts o = {cat, out, NULL, NULL, NULL, 0, NULL, 0};
    ms_report_summary s;
    assert_int_equal(ms_report_write(&o, &s), MS_OK);
    assert_int_equal(s.input, 10);
    assert_int_equal(s.fitted, 6);
    assert_int_equal(s.flagged, 0);
    assert_int_equal(s.figures, 0);
    assert_true(s.notes >= 6);
    snprintf(json_path, sizeof json_path, "%s/summary.json", out);
    char *j = read_all(json_path);
    assert_non_null(j);
    /* every key named in the README is there, null when unknown */
    assert_close(NUM(j, 0, "counts", "input"), 10, 0, 0, "input");
    assert_true(IS_NULL(j, 0, "recovery", "against"));
    assert_close(NUM(j, 0, "recovery", "teff", "n"), 0, 0, 0, "teff n");
    assert_true(IS_NULL(j, 0, "recovery", "rv", "scatter"));
    assert_true(IS_NULL(j, 4, "recovery", "rv", "by_snr", "bias"));
    assert_true(IS_NULL(j, 0, "residual_over_sigma", "with_csn"));
    assert_true(IS_NULL(j, 0, "residual_over_sigma", "without_csn"));
    assert_true(IS_NULL(j, 0, "emulator", "eq1_median"));
    assert_true(IS_NULL(j, 0, "precision_vs_snr", "alpha_m", "b"));
    assert_non_null(strstr(j, "run mstars calibrate-errors"));
    assert_non_null(strstr(j, "no --truth or --reference"));
    free(j);
    /* an explicitly given table that does not exist is an error naming it */
    o.truth = "/nonexistent/truth.csv";
    assert_int_not_equal(ms_report_write(&o, &s), MS_OK);
    assert_non_null(strstr(ms_error_message(), "/nonexistent/truth.csv"));
}

static void test_incomplete_catalog_refused(void **state)
{
    (void)state;
    const char *tmp = ms_test_tmpdir();
    char cat[512], out[512];
    snprintf(cat, sizeof cat, "%s/incomplete.h5", tmp);
    snprintf(out, sizeof out, "%s/report-incomplete", tmp);
    write_full_catalog(cat);
    ms_h5 *f;
    /* opened for update: complete = 0 until committed; closed without committing */
    assert_int_equal(ms_h5_open_update(cat, 0, &f), MS_OK);
    assert_int_equal(ms_h5_close(f), MS_OK);
    ms_report_opts o = {cat, out, NULL, NULL, NULL, 0, NULL, 0};
    ms_report_summary s;
    assert_int_equal(ms_report_write(&o, &s), MS_EFORMAT);
    assert_non_null(strstr(ms_error_message(), "incomplete"));
    char json_path[600];
    snprintf(json_path, sizeof json_path, "%s/summary.json", out);
    struct stat sb;
    assert_int_not_equal(stat(json_path, &sb), 0);
}

/* A classified catalog (fit --methods class,lum,z25) against a truth table with classes: the
 * labels are judged on the true M dwarfs only, and the classification section's numbers equal
 * those counted here by hand from the rows below (rows 0-8 in the table, row 9 not).
 *   row  truth (spt, is_wd, lum)   flags lum code wd   dmgm  route        teff - truth
 *   0    M dwarf                   0     1   M    0.1  0.1   dwarf        +10
 *   1    M dwarf                   0     0   M    0.2  0.1   dwarf        +20
 *   2    M dwarf                   1     0   -    -    -     unclassified +30
 *   3    M giant                   16    0   M    0.1  0.9   giant        +1000
 *   4    M giant                   0     2   M    0.1  0.4   giant        +1000
 *   5    A white dwarf             8     0   M    0.9  0.1   white dwarf  +1000
 *   6    OB white dwarf            4     0   A    0.3  0.1   non-M        +1000
 *   7    K                         4     0   K    0.8  0.1   non-M        +1000
 *   8    K                         0     1   M    0.1  0.1   dwarf        +1000
 *   9    (not in the table)        0     1   M    0.1  0.1   dwarf
 * Route right 6/9 (0, 1, 3, 4, 5, 7); M dwarfs routed dwarf 2/3; routed dwarfs that are M
 * dwarfs 2/3; CNN-SPT 5/8 (row 2 has no class; 5 A->M, 6 OB->A, 8 K->M wrong); CNN-WDM on rows
 * 0, 1, 3-6: 5/6 (row 6); CNN-dMgM on rows 0, 1, 3, 4: 3/4 (row 4). z25 (dwarfs only) ran on
 * rows 0, 1, 8, 9. Teff judged on rows 0-2: n 3, bias 20 (any other row would add 1000s). */
static void test_classified_catalog(void **state)
{
    (void)state;
    const char *tmp = ms_test_tmpdir();
    char cat[512], out[512], truth[512], path[600];
    snprintf(cat, sizeof cat, "%s/classified.h5", tmp);
    snprintf(out, sizeof out, "%s/report-classified", tmp);
    snprintf(truth, sizeof truth, "%s/truth_classes.csv", tmp);
    const uint32_t flags[N] = {0, 0, 1, 16, 0, 8, 4, 4, 0, 0};
    const int32_t lum[N] = {1, 0, 0, 0, 2, 0, 0, 0, 1, 1};
    const int32_t code[N] = {5, 5, -1, 5, 5, 5, 1, 4, 5, 5};
    const double wd[N] = {0.1, 0.2, NAN, 0.1, 0.1, 0.9, 0.3, 0.8, 0.1, 0.1};
    const double dmgm[N] = {0.1, 0.1, NAN, 0.9, 0.4, 0.1, 0.1, 0.1, 0.1, 0.1};
    const char *reason[N] = {"", "", "unclassified", "giant", "giant", "white dwarf", "non-M",
                             "non-M", "", ""};
    const char *spt[9] = {"M", "M", "M", "M", "M", "A", "OB", "K", "K"};
    const char *wdt[9] = {"0", "0", "0", "0", "0", "1", "1", "0", "0"};
    const char *lumt[9] = {"dwarf", "dwarf", "dwarf", "giant", "giant", "", "", "dwarf", "dwarf"};
    char obsid[N][32] = {{0}}, skip[N][16] = {{0}};
    double teff[N], snr[N];
    uint32_t skipped[N];
    FILE *t = fopen(truth, "w");
    assert_non_null(t);
    fprintf(t, "obsid,teff,spt_class,is_wd,lum_class\n");
    for (int i = 0; i < N; i++) {
        snprintf(obsid[i], sizeof obsid[i], "%d", 501 + i);
        snprintf(skip[i], sizeof skip[i], "%s", reason[i]);
        teff[i] = 3200.0 + 10.0 * i;
        snr[i] = 30.0;
        skipped[i] = reason[i][0] ? 1u << 2 : 0u; /* z25, method 2 of "class,lum,z25" */
        if (i < 9)
            fprintf(t, "%s,%.1f,%s,%s,%s\n", obsid[i], teff[i] - (i < 3 ? 10.0 * (i + 1) : 1000.0),
                    spt[i], wdt[i], lumt[i]);
    }
    fclose(t);
    ms_h5 *f;
    assert_int_equal(ms_h5_create(cat, 0, &f), MS_OK);
    put(f, "/catalog/obsid", MS_H5_STR, 32, obsid);
    put(f, "/catalog/teff", MS_H5_F64, 0, teff);
    put(f, "/catalog/snr_r", MS_H5_F64, 0, snr);
    put(f, "/catalog/class_flags", MS_H5_U32, 0, flags);
    put(f, "/catalog/class_code", MS_H5_I32, 0, code);
    put(f, "/catalog/lum_code", MS_H5_I32, 0, lum);
    put(f, "/catalog/wd_prob", MS_H5_F64, 0, wd);
    put(f, "/catalog/dmgm_prob", MS_H5_F64, 0, dmgm);
    put(f, "/catalog/methods_skipped", MS_H5_U32, 0, skipped);
    put(f, "/catalog/skip_reason", MS_H5_STR, 16, skip);
    const int32_t status[N] = {0};
    put(f, "/catalog/store_status", MS_H5_I32, 0, status);
    assert_int_equal(ms_h5_attr_set_str(f, "/", "methods", "class,lum,z25"), MS_OK);
    assert_int_equal(ms_h5_commit(f), MS_OK);
    ms_report_opts o = {cat, out, truth, NULL, NULL, 0, NULL, 0};
    ms_report_summary s;
    if (ms_report_write(&o, &s) != MS_OK) fail_msg("report: %s", ms_error_message());
    snprintf(path, sizeof path, "%s/summary.json", out);
    char *j = read_all(path);
    assert_non_null(j);
    assert_close(NUM(j, 0, "recovery", "teff", "n"), 3, 0, 0, "teff judged on the M dwarfs");
    assert_close(NUM(j, 0, "recovery", "teff", "bias"), 20, 0, 1e-9, "teff bias");
    free(j);
    snprintf(path, sizeof path, "%s/overview.json", out);
    j = read_all(path);
    assert_non_null(j);
    static const struct { const char *key; double k, n; } want[] = {
        {"route_accuracy", 6, 9}, {"mdwarf_completeness", 2, 3}, {"mdwarf_purity", 2, 3},
        {"spt_accuracy", 5, 8}, {"wdm_accuracy", 5, 6}, {"dmgm_accuracy", 3, 4}};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        assert_close(NUM(j, 0, "classification", want[k].key, "k"), want[k].k, 0, 0, want[k].key);
        assert_close(NUM(j, 0, "classification", want[k].key, "n"), want[k].n, 0, 0, want[k].key);
    }
    assert_close(NUM(j, 0, "classification", "judged"), 9, 0, 0, "judged");
    assert_close(NUM(j, 0, "classification", "skip_reason_mismatch"), 0, 0, 0, "mismatch");
    assert_close(NUM(j, 0, "classification", "routed", "dwarf"), 4, 0, 0, "routed dwarf");
    assert_close(NUM(j, 0, "classification", "routed", "non-M"), 2, 0, 0, "routed non-M");
    assert_close(NUM(j, 0, "classification", "methods", "z25", "ran"), 4, 0, 0, "z25 ran");
    assert_close(NUM(j, 0, "classification", "methods", "class", "ran"), 10, 0, 0, "class ran");
    assert_close(NUM(j, 0, "classification", "methods", "z25", "judged_ran", "non-M"), 1, 0, 0,
                 "z25 on a non-M row");
    /* Wilson 95% of 6/9: 0.3542-0.8794 (the formula of test_report_stats) */
    assert_close(NUM(j, 0, "classification", "route_accuracy", "wilson95_lo"), 0.3542, 0, 5e-4, "lo");
    assert_close(NUM(j, 0, "classification", "route_accuracy", "wilson95_hi"), 0.8794, 0, 5e-4, "hi");
    free(j);
    snprintf(path, sizeof path, "%s/summary.md", out);
    j = read_all(path);
    assert_non_null(j);
    assert_non_null(strstr(j, "### Classification and routing"));
    assert_non_null(strstr(j, "| M dwarf | 2 | 0 | 0 | 0 | 1 |"));
    assert_non_null(strstr(j, "| non-M | 1 | 0 | 0 | 1 | 0 |"));
    assert_non_null(strstr(j, "| K | 0 | 0 | 0 | 0 | 1 | 1 | 0 | 0 |"));
    free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_catalog),
        cmocka_unit_test(test_minimal_catalog),
        cmocka_unit_test(test_incomplete_catalog_refused),
        cmocka_unit_test(test_classified_catalog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
