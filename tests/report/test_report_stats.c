/* test_report_stats.c: the pieces of `mstars report` without figures:
 *   - statistics (stats.h) against values computed by hand;
 *   - the JSON writer: exact output, escapes, NaN -> null, misuse detected;
 *   - keyed tables (table.h) from CSV and FITS, matched by obsid. */
#include "test_util.h"

#include "mstars/json.h"
#include "mstars/mem.h"
#include "mstars/stats.h"
#include "mstars/table.h"

#include <fitsio.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ statistics */

static void test_summary_by_hand(void **state)
{
    (void)state;
    /* finite values 2.5, -1.25, 4.0, 0.75 (NaN and Inf skipped):
     * mean 6/4 = 1.5; deviations 1, -2.75, 2.5, -0.75; squares 1 + 7.5625 + 6.25 + 0.5625
     * = 15.375; sample variance 15.375 / 3 = 5.125; std sqrt(5.125);
     * sorted -1.25 0.75 2.5 4.0 -> median (0.75 + 2.5) / 2 = 1.625;
     * |x - 1.625| = 0.875 2.875 2.375 0.875 -> sorted 0.875 0.875 2.375 2.875 -> MAD 1.625;
     * robust std 1.4826 * 1.625 = 2.409225 */
    const double x[] = {2.5, -1.25, NAN, 4.0, INFINITY, 0.75};
    double work[6];
    ms_stats_summary s;
    ms_stats_summarize(x, 6, work, &s);
    assert_int_equal(s.n, 4);
    assert_close(s.mean, 1.5, 0, 1e-15, "mean");
    assert_close(s.std, sqrt(5.125), 1e-15, 0, "std");
    assert_close(s.median, 1.625, 0, 1e-15, "median");
    assert_close(s.robust_std, 2.409225, 1e-14, 0, "robust std");
    assert_close(s.min, -1.25, 0, 0, "min");
    assert_close(s.max, 4.0, 0, 0, "max");
    /* the input is untouched */
    assert_close(x[0], 2.5, 0, 0, "input kept");
    assert_true(isnan(x[2]));

    /* one value: std undefined; none: everything NaN */
    ms_stats_summarize(x, 1, work, &s);
    assert_int_equal(s.n, 1);
    assert_close(s.mean, 2.5, 0, 0, "mean of one");
    assert_true(isnan(s.std));
    ms_stats_summarize(x + 2, 1, work, &s);
    assert_int_equal(s.n, 0);
    assert_true(isnan(s.mean) && isnan(s.median));
}

static void test_compare_and_bins(void **state)
{
    (void)state;
    /* est - ref = 10, -20, 30, (NaN ref), 40, 0 ; sel drops the last row in one call */
    const double est[] = {110, 80, 330, 5, 440, 7};
    const double ref[] = {100, 100, 300, NAN, 400, 7};
    const double snr[] = {6, 12, 25, 60, 70, 3};
    const uint8_t sel[] = {1, 1, 1, 1, 1, 0};
    double work[6];
    ms_stats_summary s;
    ms_stats_compare(est, ref, NULL, 6, work, &s);
    /* differences 10 -20 30 40 0: mean 60/5 = 12; deviations -2 -32 18 28 -12;
     * squares 4 + 1024 + 324 + 784 + 144 = 2280; variance 2280 / 4 = 570 */
    assert_int_equal(s.n, 5);
    assert_close(s.mean, 12, 0, 1e-12, "bias");
    assert_close(s.std, sqrt(570), 1e-14, 0, "scatter");
    assert_close(s.median, 10, 0, 0, "median difference");
    ms_stats_compare(est, ref, sel, 6, work, &s);
    /* 10 -20 30 40: mean 15 */
    assert_int_equal(s.n, 4);
    assert_close(s.mean, 15, 0, 1e-12, "bias of the selection");

    const double edges[] = {5, 10, 20, 50, HUGE_VAL};
    ms_stats_summary b[4];
    ms_stats_compare_binned(est, ref, NULL, snr, 6, edges, 4, work, b);
    assert_int_equal(b[0].n, 1); /* snr 6: +10 */
    assert_close(b[0].mean, 10, 0, 0, "bin 5-10");
    assert_int_equal(b[1].n, 1); /* snr 12: -20 */
    assert_close(b[1].mean, -20, 0, 0, "bin 10-20");
    assert_int_equal(b[2].n, 1); /* snr 25: +30 */
    assert_int_equal(b[3].n, 1); /* snr 60 has a NaN ref; snr 70: +40 */
    assert_close(b[3].mean, 40, 0, 0, "bin 50+");
    /* snr 3 (difference 0) is in no bin */
}

static void test_quantile_histogram(void **state)
{
    (void)state;
    const double x[] = {4, NAN, 1, 3, 2};
    double work[5];
    /* sorted 1 2 3 4: q 0.25 at position 0.75 -> 1.75; q 0.5 -> 2.5; ends exact */
    assert_close(ms_stats_quantile(x, 5, 0.25, work), 1.75, 0, 1e-15, "q25");
    assert_close(ms_stats_quantile(x, 5, 0.5, work), 2.5, 0, 1e-15, "median");
    assert_close(ms_stats_quantile(x, 5, 0.0, work), 1, 0, 0, "q0");
    assert_close(ms_stats_quantile(x, 5, 1.0, work), 4, 0, 0, "q1");
    assert_true(isnan(ms_stats_quantile(x + 1, 1, 0.5, work)));

    const double h[] = {0.0, 0.49, 0.5, 0.99, 1.0, -0.1, 1.2, NAN};
    double counts[2];
    /* [0, 0.5): 0.0 0.49; [0.5, 1]: 0.5 0.99 1.0 (hi goes into the last bin) */
    assert_int_equal(ms_stats_histogram(h, 8, 0, 1, 2, counts), 5);
    assert_close(counts[0], 2, 0, 0, "bin 0");
    assert_close(counts[1], 3, 0, 0, "bin 1");
    assert_int_equal(ms_stats_histogram(h, 8, 1, 1, 2, counts), 0); /* empty range */
}

/* ------------------------------------------------------------------ JSON */

static char *json_text(void (*fill)(ms_json *), ms_status *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    ms_json j;
    ms_json_init(&j, f);
    fill(&j);
    *st = ms_json_finish(&j, "test.json");
    fclose(f);
    return buf;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The one selection and median of the tree against a full sort, on odd and even sizes with
 * ties (the error calibration and the mock universe use them). */
static void test_select_median(void **state)
{
    (void)state;
    double a[64], b[64], sorted[64];
    uint64_t x = 12345;
    for (size_t n = 1; n <= 64; n++) {
        for (size_t i = 0; i < n; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            a[i] = (double)((x >> 33) % 17); /* many ties */
        }
        memcpy(sorted, a, n * sizeof *a);
        qsort(sorted, n, sizeof *sorted, cmp_d);
        for (size_t k = 0; k < n; k++) {
            memcpy(b, a, n * sizeof *a);
            assert_true(ms_stats_select(b, n, k) == sorted[k]);
            for (size_t i = 0; i < k; i++) assert_true(b[i] <= b[k]);
        }
        memcpy(b, a, n * sizeof *a);
        double want = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
        assert_true(ms_stats_median_inplace(b, n) == want);
    }
}

static void fill_good(ms_json *j)
{
    ms_json_begin_object(j, NULL);
    ms_json_int(j, "n", 12);
    ms_json_number(j, "x", 0.125);
    ms_json_number(j, "nan", NAN);
    ms_json_number(j, "inf", -INFINITY);
    ms_json_string(j, "s", "a\"b\\c\nd\x01");
    ms_json_string(j, "none", NULL);
    ms_json_begin_array(j, "list");
    ms_json_bool(j, NULL, 1);
    ms_json_null(j, NULL);
    ms_json_begin_object(j, NULL);
    ms_json_end_object(j);
    ms_json_end_array(j);
    ms_json_begin_array(j, "empty");
    ms_json_end_array(j);
    ms_json_end_object(j);
}

static void fill_key_in_array(ms_json *j)
{
    ms_json_begin_array(j, NULL);
    ms_json_int(j, "k", 1);
    ms_json_end_array(j);
}

static void fill_unclosed(ms_json *j)
{
    ms_json_begin_object(j, NULL);
    ms_json_begin_object(j, "a");
    ms_json_end_object(j);
}

static void fill_missing_key(ms_json *j)
{
    ms_json_begin_object(j, NULL);
    ms_json_number(j, NULL, 1);
    ms_json_end_object(j);
}

/* Wilson 95% intervals against the published ones of Newcombe (1998, Stat. Med. 17, 857,
 * Table I, method 3: 81/263 -> 0.2553-0.3662, 15/148 -> 0.0624-0.1605, 0/20 -> 0-0.1611,
 * 1/29 -> 0.0061-0.1718), and the ends. */
static void test_wilson(void **state)
{
    (void)state;
    static const struct { size_t k, n; double lo, hi; } pub[] = {
        {81, 263, 0.2553, 0.3662}, {15, 148, 0.0624, 0.1605}, {0, 20, 0.0, 0.1611}, {1, 29, 0.0061, 0.1718}};
    double lo, hi;
    for (size_t i = 0; i < sizeof pub / sizeof pub[0]; i++) {
        ms_stats_wilson(pub[i].k, pub[i].n, 1.959964, &lo, &hi);
        assert_float_equal(lo, pub[i].lo, 5e-5);
        assert_float_equal(hi, pub[i].hi, 5e-5);
    }
    ms_stats_wilson(50, 50, 1.959964, &lo, &hi);
    assert_true(lo > 0.92 && lo < 0.93 && hi == 1.0);
    ms_stats_wilson(0, 0, 1.959964, &lo, &hi);
    assert_true(isnan(lo) && isnan(hi));
}

static void test_json_writer(void **state)
{
    (void)state;
    ms_status st;
    char *t = json_text(fill_good, &st);
    assert_int_equal(st, MS_OK);
    const char *want = "{\n"
                       "  \"n\": 12,\n"
                       "  \"x\": 0.125,\n"
                       "  \"nan\": null,\n"
                       "  \"inf\": null,\n"
                       "  \"s\": \"a\\\"b\\\\c\\nd\\u0001\",\n"
                       "  \"none\": null,\n"
                       "  \"list\": [\n"
                       "    true,\n"
                       "    null,\n"
                       "    {}\n"
                       "  ],\n"
                       "  \"empty\": []\n"
                       "}\n";
    assert_string_equal(t, want);
    free(t);

    t = json_text(fill_key_in_array, &st);
    assert_int_equal(st, MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "key inside an array"));
    free(t);
    t = json_text(fill_unclosed, &st);
    assert_int_equal(st, MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "left open"));
    free(t);
    t = json_text(fill_missing_key, &st);
    assert_int_equal(st, MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "without a key"));
    free(t);
}

/* ------------------------------------------------------------------ tables */

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_table_csv(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/ref.csv", ms_test_tmpdir());
    write_text(path, "OBSID,teff,other,m_h\n"
                     " 1001 ,3500.5,x,-0.25\n"
                     "1002,,y,0.1\n"
                     "1001,9999,z,9\n"
                     "abc,3000,w,nan-ish\n");
    const char *cols[] = {"teff", "logg", "m_h"};
    ms_table t;
    assert_int_equal(ms_table_read(path, "obsid", cols, 3, &t), MS_OK);
    assert_string_equal(t.format, "csv");
    assert_int_equal(t.n_rows, 4);
    assert_int_equal(t.present[0], 1);
    assert_int_equal(t.present[1], 0);
    assert_int_equal(t.present[2], 1);
    assert_close(ms_table_column(&t, 0)[0], 3500.5, 0, 0, "teff row 0");
    assert_true(isnan(ms_table_column(&t, 0)[1])); /* empty cell */
    assert_true(isnan(ms_table_column(&t, 1)[0])); /* absent column */
    assert_true(isnan(ms_table_column(&t, 2)[3])); /* not a number */
    const char *keys[] = {"1002", "1001", "9", "abc", ""};
    long row[5];
    size_t dup = 0;
    assert_int_equal(ms_table_match(&t, keys, 5, row, &dup), MS_OK);
    assert_int_equal(row[0], 1);
    assert_int_equal(row[1], 0); /* the first of the two 1001 rows */
    assert_int_equal(row[2], -1);
    assert_int_equal(row[3], 3);
    assert_int_equal(row[4], -1);
    assert_int_equal(dup, 1);
    ms_table_free(&t);

    write_text(path, "id,teff\n1,2\n");
    assert_int_equal(ms_table_read(path, "obsid", cols, 3, &t), MS_ENOTFOUND);
    assert_non_null(strstr(ms_error_message(), "obsid"));
    assert_int_equal(ms_table_read("/nonexistent/ref.csv", "obsid", cols, 3, &t), MS_EIO);
}

/* A FITS table with an integer obsid (64-bit, beyond double precision) and teff. */
static void write_fits(const char *path, int string_key)
{
    remove(path);
    fitsfile *fp;
    int fs = 0;
    char *ttype[] = {"ObsID", "TEFF", "rv"};
    char *tform[] = {string_key ? "20A" : "1K", "1D", "1E"};
    fits_create_file(&fp, path, &fs);
    fits_create_tbl(fp, BINARY_TBL, 0, 3, ttype, tform, NULL, "REF", &fs);
    if (string_key) {
        char *k[3] = {"1001", " 1002", "9007199254740993"};
        fits_write_col(fp, TSTRING, 1, 1, 1, 3, k, &fs);
    } else {
        LONGLONG k[3] = {1001, 1002, 9007199254740993LL}; /* 2^53 + 1 */
        fits_write_col(fp, TLONGLONG, 1, 1, 1, 3, k, &fs);
    }
    double teff[3] = {3100, 3200.25, 3300};
    float rv[3] = {1.5f, -2.0f, 0.0f};
    fits_write_col(fp, TDOUBLE, 2, 1, 1, 3, teff, &fs);
    fits_write_col(fp, TFLOAT, 3, 1, 1, 3, rv, &fs);
    fits_close_file(fp, &fs);
    assert_int_equal(fs, 0);
}

static void test_table_fits(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/ref.fits", ms_test_tmpdir());
    const char *cols[] = {"teff", "logg", "rv"};
    const char *keys[] = {"9007199254740993", "1002", "9007199254740992"};
    for (int string_key = 0; string_key < 2; string_key++) {
        write_fits(path, string_key);
        ms_table t;
        assert_int_equal(ms_table_read(path, "obsid", cols, 3, &t), MS_OK);
        assert_string_equal(t.format, "fits");
        assert_int_equal(t.n_rows, 3);
        assert_int_equal(t.present[1], 0);
        long row[3];
        assert_int_equal(ms_table_match(&t, keys, 3, row, NULL), MS_OK);
        assert_int_equal(row[0], 2); /* exact 64-bit key */
        assert_int_equal(row[1], 1);
        assert_int_equal(row[2], -1);
        assert_close(ms_table_column(&t, 0)[1], 3200.25, 0, 0, "teff");
        assert_close(ms_table_column(&t, 2)[0], 1.5, 0, 0, "rv");
        ms_table_free(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary_by_hand),
        cmocka_unit_test(test_compare_and_bins),
        cmocka_unit_test(test_quantile_histogram),
        cmocka_unit_test(test_select_median),
        cmocka_unit_test(test_wilson),
        cmocka_unit_test(test_json_writer),
        cmocka_unit_test(test_table_csv),
        cmocka_unit_test(test_table_fits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
