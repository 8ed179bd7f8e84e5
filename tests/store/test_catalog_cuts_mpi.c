/* test_catalog_cuts_mpi.c: the cut-flag pass over a whole catalog (src/io/catalog_cuts.c)
 * under 1-3 ranks, as the survey job runs it: chunks written by the ranks with independent
 * I/O into the open parallel catalog, then the collective pass (small blocks, so that the
 * ranks' slices span several blocks of different counts) before the commit. The flags are
 * checked against a brute-force reference computed here (means and standard deviations of
 * every error column over the fitted rows, then each rule). Then serially, as
 * calibrate-errors runs it: the error_outlier bit on e_<p>_total columns, and the labels
 * taken from the at_bound bit_names attribute (or counted, for catalogs without it); and
 * an update (ms_h5_open_update_step) interrupted before its commit. */
#include "test_util.h"

#include "mstars/catalog.h"
#include "mstars/catalog_post.h"
#include "mstars/fit.h"
#include "mstars/h5.h"
#include "mstars/mem.h"
#include "mstars/par.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define N_ROWS 1003
#define CHUNK 10
#define NE 5

typedef struct {
    int32_t status, cut;
    uint32_t flags, at_bound;
    double teff, logg, m_h, alpha_m, chi2_red;
    double err[NE]; /* teff logg m_h alpha_m rv */
} row;

#define D(name, field) {"/catalog/" name, MS_H5_F64, 0, offsetof(row, field), "", name}
static const ms_catalog_column cols[] = {
    {"/catalog/store_status", MS_H5_I32, 0, offsetof(row, status), "", "status"},
    {"/catalog/fit_flags", MS_H5_U32, 0, offsetof(row, flags), "", "bits"},
    {"/catalog/at_bound", MS_H5_U32, 0, offsetof(row, at_bound), "", "bits"},
    D("teff", teff), D("logg", logg), D("m_h", m_h), D("alpha_m", alpha_m),
    D("chi2_red", chi2_red),
    D("e_teff", err[0]), D("e_logg", err[1]), D("e_m_h", err[2]), D("e_alpha_m", err[3]),
    D("e_rv", err[4]),
    {"/catalog/cut_flags", MS_H5_I32, 0, offsetof(row, cut), "", "cuts"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static int fitted(const row *r) { return r->status == 0 && !(r->flags & MS_FIT_FAILED); }

/* Row i: every rule fires somewhere, failed rows have NaN values as in a real catalog. */
static void make_row(size_t i, row *r)
{
    memset(r, 0, sizeof *r);
    const double x = (double)i;
    r->status = i % 37 == 5 ? 3 : 0;
    r->flags = i % 41 == 7 ? MS_FIT_FEW_PIXELS : i % 13 == 0 ? MS_FIT_AT_BOUND : 0;
    r->at_bound = i % 13 == 0 ? 1u << (i / 13 % 5) : 0; /* bit 4: dv (4 labels) */
    r->teff = 3000.0 + fmod(x * 7.31, 1500.0);
    r->logg = 4.8 + 0.1 * sin(x);
    r->m_h = -0.2 + 0.3 * cos(x);
    r->alpha_m = 0.1;
    r->chi2_red = 0.8 + fmod(x * 0.917, 3.0) + (i % 97 == 3 ? 80.0 : 0.0);
    const double scale[NE] = {31.0, 0.071, 0.052, 0.043, 3.85};
    for (int k = 0; k < NE; k++) r->err[k] = scale[k] * (1.0 + 0.4 * sin(x * (0.37 + 0.1 * k)));
    if (i == 500) r->err[0] = 400.0;
    if (i == 777) r->err[3] = 0.9;
    if (i % 11 == 4) r->err[4] = NAN; /* e.g. no RV error */
    if (r->status != 0 || !fitted(r)) {
        r->teff = r->logg = r->m_h = r->alpha_m = r->chi2_red = NAN;
        for (int k = 0; k < NE; k++) r->err[k] = NAN;
        if (r->flags & MS_FIT_FAILED) r->err[0] = 1e6; /* must not enter the statistics */
    }
}

/* The expected flags of every row: brute force from the rules of cuts.h. err_total: the
 * error values to use (NULL: the rows' own). */
static void reference(const row *rows, const double (*err)[NE], int32_t *want, double *limit)
{
    double n[NE] = {0}, mean[NE] = {0}, var[NE] = {0};
    for (size_t i = 0; i < N_ROWS; i++)
        for (int k = 0; k < NE; k++) {
            const double e = err ? err[i][k] : rows[i].err[k];
            if (fitted(&rows[i]) && isfinite(e)) {
                n[k]++;
                mean[k] += e;
            }
        }
    for (int k = 0; k < NE; k++) mean[k] /= n[k];
    for (size_t i = 0; i < N_ROWS; i++)
        for (int k = 0; k < NE; k++) {
            const double e = err ? err[i][k] : rows[i].err[k];
            if (fitted(&rows[i]) && isfinite(e)) var[k] += (e - mean[k]) * (e - mean[k]);
        }
    for (int k = 0; k < NE; k++) limit[k] = mean[k] + 5.0 * sqrt(var[k] / (n[k] - 1));
    for (size_t i = 0; i < N_ROWS; i++) {
        const row *r = &rows[i];
        int32_t f = 0;
        if (fitted(r)) {
            if (r->teff > 4300) f |= 1;
            if (r->at_bound & 0xf) f |= 2;
            for (int k = 0; k < NE; k++)
                if ((err ? err[i][k] : r->err[k]) > limit[k]) f |= 4;
            if (r->chi2_red > 50) f |= 8;
        }
        want[i] = f;
    }
}

static char path[512];
static row rows[N_ROWS];
static int32_t want[N_ROWS], got[N_ROWS];

static void check_flags(ms_h5 *f, const char *what)
{
    assert_int_equal(ms_h5_read_rows(f, "/catalog/cut_flags", MS_H5_I32, 0, 0, N_ROWS, got),
                     MS_OK);
    long bad = 0, bits[4] = {0};
    for (size_t i = 0; i < N_ROWS; i++) {
        if (got[i] != want[i] && bad++ < 5)
            printf("%s: row %zu: cut_flags %d, expected %d\n", what, i, got[i], want[i]);
        for (int b = 0; b < 4; b++) bits[b] += (want[i] >> b) & 1;
    }
    assert_int_equal(bad, 0);
    for (int b = 0; b < 4; b++) assert_true(bits[b] > 0); /* every rule was exercised */
}

static void test_survey_pass(void **state)
{
    (void)state;
    if (ms_par_rank() == 0) snprintf(path, sizeof path, "%s/cuts.h5", ms_test_tmpdir());
    assert_int_equal(ms_par_bcast(path, sizeof path), MS_OK);
    for (size_t i = 0; i < N_ROWS; i++) make_row(i, &rows[i]);
    ms_catalog_opts o = {path, cols, sizeof(row), N_ROWS, CHUNK, 99, 0};
    ms_catalog *cat;
    uint8_t *done;
    assert_int_equal(ms_catalog_open(&o, &cat, &done), MS_OK);
    ms_free(done);
    /* chunks by rank, in reverse order (independent writes, cut_flags written as 0) */
    const size_t n_chunks = (N_ROWS + CHUNK - 1) / CHUNK;
    for (size_t c = n_chunks; c-- > 0;)
        if ((int)(c % (size_t)ms_par_size()) == ms_par_rank()) {
            size_t row0 = c * CHUNK, n = row0 + CHUNK > N_ROWS ? N_ROWS - row0 : CHUNK;
            assert_int_equal(ms_catalog_write_chunk(cat, c, row0, n, rows + row0), MS_OK);
        }
    const char *const labels[4] = {"teff", "logg", "m_h", "alpha_m"};
    ms_catalog_cuts_opts co = {4300.0, 5.0, 50.0, labels, 4, 0, 7, NULL};
    ms_catalog_cuts_summary s;
    assert_int_equal(ms_catalog_cuts(ms_catalog_file(cat), &co, &s), MS_OK);
    assert_int_equal(ms_catalog_finish(cat, 1), MS_OK);

    double limit[NE];
    reference(rows, NULL, want, limit);
    long fitted_rows = 0, flagged = 0;
    for (size_t i = 0; i < N_ROWS; i++) {
        fitted_rows += fitted(&rows[i]);
        flagged += want[i] != 0;
    }
    assert_int_equal(s.rows, N_ROWS);
    assert_int_equal(s.fitted, fitted_rows);
    assert_int_equal(s.flagged, flagged);
    for (int k = 0; k < NE; k++) assert_close(s.error_max[k], limit[k], 1e-12, 0, "limit");
    ms_par_barrier();
    if (ms_par_rank() != 0) return;

    ms_h5 *f;
    assert_int_equal(ms_h5_open_read(path, 0, &f), MS_OK);
    check_flags(f, "survey pass");
    char *text;
    assert_int_equal(ms_h5_attr_get_str(f, "/catalog/cut_flags", "flag_names", &text), MS_OK);
    assert_string_equal(text, "0=teff_hot,1=at_boundary,2=error_outlier,3=chi2_high");
    ms_free(text);
    assert_int_equal(ms_h5_attr_get_str(f, "/catalog/at_bound", "bit_names", &text), MS_OK);
    assert_string_equal(text, "0=teff,1=logg,2=m_h,3=alpha_m,4=dv");
    ms_free(text);
    double lim[NE];
    size_t n;
    assert_int_equal(ms_h5_attr_get_f64(f, "/catalog/cut_flags", "cut_error_limits", lim, NE, &n),
                     MS_OK);
    assert_int_equal(n, NE);
    assert_close(lim[0], limit[0], 1e-12, 0, "recorded e_teff limit");
    assert_int_equal(ms_h5_close(f), MS_OK);
}

/* Serially (calibrate-errors): e_<p>_total where present; labels from bit_names, or
 * counted when a catalog has no bit_names. */
static void test_serial_total_errors(void **state)
{
    (void)state;
    if (ms_par_rank() != 0) return;
    static double tot[N_ROWS][NE];
    static double col[N_ROWS];
    for (size_t i = 0; i < N_ROWS; i++) {
        for (int k = 0; k < NE; k++) tot[i][k] = rows[i].err[k];
        tot[i][1] = sqrt(rows[i].err[1] * rows[i].err[1] + 0.05 * 0.05);
        if (i == 321 && fitted(&rows[i])) tot[i][1] = 3.0;
        col[i] = tot[i][1];
    }
    assert_true(fitted(&rows[321]));
    ms_h5 *f;
    assert_int_equal(ms_h5_open_update(path, 0, &f), MS_OK);
    size_t n = N_ROWS;
    assert_int_equal(ms_h5_write_array(f, "/catalog/e_logg_total", MS_H5_F64, 0, 1, &n, col, "dex",
                                       "total"), MS_OK);
    ms_catalog_cuts_opts co = {4300.0, 5.0, 50.0, NULL, 0, 1, 64, NULL};
    ms_catalog_cuts_summary s;
    const size_t held = ms_mem_current();
    assert_int_equal(ms_catalog_cuts(f, &co, &s), MS_OK);
    assert_int_equal(ms_mem_current(), held); /* every block buffer freed */
    double limit[NE];
    reference(rows, (const double(*)[NE])tot, want, limit);
    assert_true(want[321] & 4);
    check_flags(f, "total errors");
    char *text;
    assert_int_equal(ms_h5_attr_get_str(f, "/catalog/cut_flags", "cut_error_columns", &text),
                     MS_OK);
    assert_string_equal(text, "e_teff,e_logg_total,e_m_h,e_alpha_m,e_rv");
    ms_free(text);
    /* a catalog without bit_names: the labels are the label columns with values (4) */
    assert_int_equal(ms_h5_attr_set_str(f, "/catalog/at_bound", "bit_names", ""), MS_OK);
    memset(got, 0xff, sizeof got);
    assert_int_equal(ms_catalog_cuts(f, &co, &s), MS_OK);
    check_flags(f, "labels counted");
    assert_int_equal(ms_h5_commit(f), MS_OK);
}

/* The crash safety of calibrate-errors at the HDF5 layer: an update interrupted before its
 * commit leaves a file that readers refuse and that only a rerun of the same step opens. */
static void test_interrupted_update(void **state)
{
    (void)state;
    if (ms_par_rank() != 0) return;
    ms_h5 *f, *g;
    int recovered = -1;
    assert_int_equal(ms_h5_open_update_step(path, 0, "calibrate-errors", &f, &recovered), MS_OK);
    assert_int_equal(recovered, 0);
    int64_t c = -1;
    size_t n = 0;
    assert_int_equal(ms_h5_attr_get_i64(f, "/", "complete", &c, 1, &n), MS_OK);
    assert_true(n == 1 && c == 0);
    assert_int_equal(ms_h5_close(f), MS_OK); /* "killed" before the commit */
    assert_int_equal(ms_h5_open_read(path, 0, &g), MS_EFORMAT);
    assert_non_null(strstr(ms_error_message(), "incomplete"));
    assert_int_equal(ms_h5_open_update(path, 0, &g), MS_EFORMAT);
    assert_int_equal(ms_h5_open_update_step(path, 0, "another-step", &g, NULL), MS_EFORMAT);
    assert_non_null(strstr(ms_error_message(), "incomplete"));
    assert_int_equal(ms_h5_open_update_step(path, 0, "calibrate-errors", &f, &recovered), MS_OK);
    assert_int_equal(recovered, 1);
    assert_int_equal(ms_h5_commit(f), MS_OK);
    assert_int_equal(ms_h5_open_read(path, 0, &g), MS_OK);
    assert_int_equal(ms_h5_attr_class(g, "/", "updating"), 0); /* the marker is gone */
    assert_int_equal(ms_h5_attr_get_i64(g, "/", "complete", &c, 1, &n), MS_OK);
    assert_true(c == 1);
    assert_int_equal(ms_h5_close(g), MS_OK);
}

int main(int argc, char **argv)
{
    if (ms_par_init(&argc, &argv) != MS_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_survey_pass),
        cmocka_unit_test(test_serial_total_errors),
        cmocka_unit_test(test_interrupted_update),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ms_par_finalize();
    return rc;
}
