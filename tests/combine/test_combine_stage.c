/* test_combine_stage.c: `mstars combine`'s driver on small catalogs written here:
 *   - z25's own label columns are renamed (teff -> z25_teff, e_teff_total -> e_z25_teff_total),
 *     the shared columns are copied once, and the recommended teff is z25's where its flags
 *     are clean (with the TOTAL error when the catalog has one) and NaN where they are not;
 *   - catalogs of different stores (row counts, or a shared column that differs) and the same
 *     method twice are refused by name; an existing output needs force. */
#include "test_util.h"

#include "mstars/config.h"
#include "mstars/h5.h"
#include "mstars/mem.h"
#include "mstars/schema.h"
#include "mstars/stage.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define N 6

static void write_z25(const char *path, size_t n, double id_shift)
{
    ms_h5 *f;
    assert_int_equal(ms_h5_create(path, 0, &f), MS_OK);
    double teff[N], e[N], et[N], id[N];
    int32_t status[N];
    uint32_t flags[N] = {0, 0, 4, 0, 0, 0}, cut[N] = {0, 0, 0, 2, 0, 0};
    for (size_t i = 0; i < n; i++) {
        teff[i] = 3000 + 100 * (double)i;
        e[i] = 5;
        et[i] = 40;
        id[i] = (double)i + id_shift;
        status[i] = 0;
    }
    assert_int_equal(ms_h5_write_array(f, MS_CATALOG_GROUP "/id", MS_H5_F64, 0, 1, &n, id, "", "row"), MS_OK);
    assert_int_equal(ms_h5_write_array(f, MS_COL_TEFF, MS_H5_F64, 0, 1, &n, teff, "K", "Teff"), MS_OK);
    assert_int_equal(ms_h5_write_array(f, MS_CATALOG_GROUP "/e_teff", MS_H5_F64, 0, 1, &n, e, "K", "fit"), MS_OK);
    assert_int_equal(ms_h5_write_array(f, MS_CATALOG_GROUP "/e_teff_total", MS_H5_F64, 0, 1, &n, et, "K", "total"), MS_OK);
    assert_int_equal(ms_h5_write_array(f, MS_COL_STORE_STATUS, MS_H5_I32, 0, 1, &n, status, "", "s"), MS_OK);
    assert_int_equal(ms_h5_write_array(f, MS_COL_FIT_FLAGS, MS_H5_U32, 0, 1, &n, flags, "", "f"), MS_OK);
    assert_int_equal(ms_h5_write_array(f, MS_COL_CUT_FLAGS, MS_H5_U32, 0, 1, &n, cut, "", "c"), MS_OK);
    assert_int_equal(ms_h5_commit(f), MS_OK);
}

static void read_f64(const char *path, const char *name, double *out)
{
    ms_h5 *f;
    assert_int_equal(ms_h5_open_read(path, 0, &f), MS_OK);
    assert_int_equal(ms_h5_read_rows(f, name, MS_H5_F64, 0, 0, N, out), MS_OK);
    ms_h5_close(f);
}

static void test_combine_one_method(void **state)
{
    (void)state;
    ms_config cfg;
    assert_int_equal(ms_config_defaults(&cfg), MS_OK);
    char a[512], b[512], c[512], out[512];
    snprintf(a, sizeof a, "%s/z25.h5", ms_test_tmpdir());
    snprintf(b, sizeof b, "%s/short.h5", ms_test_tmpdir());
    snprintf(c, sizeof c, "%s/other.h5", ms_test_tmpdir());
    snprintf(out, sizeof out, "%s/combined.h5", ms_test_tmpdir());
    remove(out);
    write_z25(a, N, 0);
    write_z25(b, N - 1, 0);
    write_z25(c, N, 100);
    const char *one[] = {a};
    ms_combine_args args = {one, 1, out, "test", 3.0, 0, 0, NULL};
    assert_int_equal(ms_stage_combine(&cfg, &args), 0);
    double v[N], e[N], z[N], ez[N];
    read_f64(out, MS_COL_TEFF, v);
    read_f64(out, MS_CATALOG_GROUP "/e_teff", e);
    read_f64(out, MS_CATALOG_GROUP "/z25_teff", z);
    read_f64(out, MS_CATALOG_GROUP "/e_z25_teff_total", ez);
    for (int i = 0; i < N; i++) {
        assert_true(z[i] == 3000 + 100 * i);
        assert_true(ez[i] == 40);
        if (i == 2 || i == 3) { /* fit_flags / cut_flags set: no recommendation */
            assert_true(isnan(v[i]) && isnan(e[i]));
        } else {
            assert_true(v[i] == z[i]);
            assert_true(e[i] == 40); /* the total error, not the 5 K of the fit alone */
        }
    }
    /* an existing output needs force */
    assert_int_equal(ms_stage_combine(&cfg, &args), 1);
    assert_non_null(strstr(ms_error_message(), "--force"));
    /* other stores and the same method twice are refused by name */
    const char *two[] = {a, b};
    args = (ms_combine_args){two, 2, out, "test", 3.0, 1, 0, NULL};
    assert_int_equal(ms_stage_combine(&cfg, &args), 1);
    assert_non_null(strstr(ms_error_message(), "rows"));
    const char *same[] = {a, c};
    args = (ms_combine_args){same, 2, out, "test", 3.0, 1, 0, NULL};
    assert_int_equal(ms_stage_combine(&cfg, &args), 1);
    assert_non_null(strstr(ms_error_message(), "z25"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_combine_one_method),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
