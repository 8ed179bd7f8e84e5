/* test_h5.c: HDF5 layer: round trips of every type, attributes, provenance, and the rule
 * that an unfinished file never looks complete. */
#include "test_util.h"

#include "mstars/config.h"
#include "mstars/h5.h"
#include "mstars/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void test_round_trip(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/rt.h5", ms_test_tmpdir());
    ms_h5 *f;
    assert_int_equal(ms_h5_create(path, 0, &f), MS_OK);
    size_t dims[2] = {5, 3};
    float m[15];
    for (int i = 0; i < 15; i++) m[i] = 0.5f * (float)i - 2.385f;
    assert_int_equal(ms_h5_create_dataset(f, "/spectra/flux", MS_H5_F32, 0, 2, dims, 2, "",
                                          "normalised flux"), MS_OK);
    assert_int_equal(ms_h5_write_rows(f, "/spectra/flux", 0, 2, m), MS_OK);
    assert_int_equal(ms_h5_write_rows(f, "/spectra/flux", 2, 3, m + 6), MS_OK);
    char names[3][8] = {"alpha", "b", "gamma12"};
    size_t n3 = 3;
    assert_int_equal(ms_h5_write_array(f, "/meta/name", MS_H5_STR, 8, 1, &n3, names, "", "n"),
                     MS_OK);
    int64_t big[3] = {INT64_C(9007199254740993), -1, 42};
    assert_int_equal(ms_h5_write_array(f, "/meta/id", MS_H5_I64, 0, 1, &n3, big, "", "id"),
                     MS_OK);
    double a[2] = {1.25, -3e-300};
    assert_int_equal(ms_h5_attr_set_f64(f, "/spectra/flux", "scale", a, 2), MS_OK);
    assert_int_equal(ms_h5_attr_set_str(f, "/", "note", "hello"), MS_OK);
    assert_int_equal(ms_h5_attr_set_str(f, "/", "note", "replaced"), MS_OK);
    ms_config cfg;
    assert_int_equal(ms_config_defaults(&cfg), MS_OK);
    assert_int_equal(ms_h5_write_provenance(f, &cfg, "mstars test"), MS_OK);

    /* not committed yet: only the partial file exists, and it is refused */
    assert_int_equal(access(path, F_OK), -1);
    ms_h5 *g;
    assert_int_equal(ms_h5_open_read(path, 0, &g), MS_EIO);
    assert_non_null(strstr(ms_error_message(), ".partial"));
    assert_int_equal(ms_h5_commit(f), MS_OK);
    assert_int_equal(access(path, F_OK), 0);

    assert_int_equal(ms_h5_open_read(path, 0, &g), MS_OK);
    double back[15]; /* stored float32, read as float64 */
    assert_int_equal(ms_h5_read_rows(g, "/spectra/flux", MS_H5_F64, 0, 0, 5, back), MS_OK);
    for (int i = 0; i < 15; i++) assert_true(back[i] == (double)m[i]);
    int rank;
    size_t d[2];
    assert_int_equal(ms_h5_dims(g, "/spectra/flux", &rank, d), MS_OK);
    assert_int_equal(rank, 2);
    assert_int_equal(d[0], 5);
    assert_int_equal(d[1], 3);
    char nb[3][8];
    assert_int_equal(ms_h5_read_rows(g, "/meta/name", MS_H5_STR, 8, 0, 3, nb), MS_OK);
    assert_memory_equal(nb, names, sizeof names);
    int64_t ib[3];
    assert_int_equal(ms_h5_read_rows(g, "/meta/id", MS_H5_I64, 0, 0, 3, ib), MS_OK);
    assert_memory_equal(ib, big, sizeof big);
    double ab[4];
    size_t na = 0;
    assert_int_equal(ms_h5_attr_get_f64(g, "/spectra/flux", "scale", ab, 4, &na), MS_OK);
    assert_int_equal(na, 2);
    assert_true(ab[0] == 1.25 && ab[1] == -3e-300);
    char *s = NULL;
    assert_int_equal(ms_h5_attr_get_str(g, "/", "note", &s), MS_OK);
    assert_string_equal(s, "replaced");
    ms_free(s);
    assert_int_equal(ms_h5_attr_get_str(g, "/spectra/flux", "units", &s), MS_OK);
    assert_string_equal(s, "");
    ms_free(s);
    assert_int_equal(ms_h5_attr_get_str(g, "/", "config", &s), MS_OK);
    assert_non_null(strstr(s, "continuum_sigma = 30.0;"));
    ms_free(s);
    assert_int_equal(ms_h5_attr_get_str(g, "/", "git_revision", &s), MS_OK);
    ms_free(s);
    assert_true(ms_h5_exists(g, "/meta/id"));
    assert_false(ms_h5_exists(g, "/meta/nope"));
    assert_false(ms_h5_exists(g, "/nogroup/x"));
    assert_int_equal(ms_h5_read_rows(g, "/meta/id", MS_H5_I64, 0, 2, 5, ib), MS_EINVAL);
    assert_int_equal(ms_h5_read_rows(g, "/meta/nope", MS_H5_I64, 0, 0, 1, ib), MS_EHDF5);
    assert_non_null(strstr(ms_error_message(), "/meta/nope"));
    assert_int_equal(ms_h5_close(g), MS_OK);
}

static void test_abort_and_incomplete(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/aborted.h5", ms_test_tmpdir());
    ms_h5 *f;
    assert_int_equal(ms_h5_create(path, 0, &f), MS_OK);
    ms_h5_abort(f);
    char partial[600];
    snprintf(partial, sizeof partial, "%s.partial", path);
    assert_int_equal(access(partial, F_OK), -1);
    assert_int_equal(access(path, F_OK), -1);

    /* an update in progress clears "complete": a crash then leaves a refused file */
    snprintf(path, sizeof path, "%s/updated.h5", ms_test_tmpdir());
    assert_int_equal(ms_h5_create(path, 0, &f), MS_OK);
    assert_int_equal(ms_h5_commit(f), MS_OK);
    assert_int_equal(ms_h5_open_update(path, 0, &f), MS_OK);
    ms_h5 *g;
    assert_int_equal(ms_h5_open_read(path, 0, &g), MS_EFORMAT);
    assert_non_null(strstr(ms_error_message(), "incomplete"));
    assert_int_equal(ms_h5_commit(f), MS_OK);
    assert_int_equal(ms_h5_open_read(path, 0, &g), MS_OK);
    assert_int_equal(ms_h5_close(g), MS_OK);

    /* not HDF5 at all */
    snprintf(path, sizeof path, "%s/text.h5", ms_test_tmpdir());
    FILE *t = fopen(path, "w");
    assert_non_null(t);
    fputs("not hdf5\n", t);
    fclose(t);
    assert_int_equal(ms_h5_open_read(path, 0, &g), MS_EHDF5);
    assert_non_null(strstr(ms_error_message(), "text.h5"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_abort_and_incomplete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
