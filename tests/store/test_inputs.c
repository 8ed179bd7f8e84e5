/* test_inputs.c: discovery of input files (directories, list files) and the CSV reader. */
#include "test_util.h"

#include "mstars/csv.h"
#include "mstars/mem.h"
#include "mstars/strlist.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void touch(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}

static void test_directory_scan_is_recursive_and_sorted(void **state)
{
    (void)state;
    char root[512], sub[600];
    snprintf(root, sizeof root, "%s/tree", ms_test_tmpdir());
    snprintf(sub, sizeof sub, "%s/20111024", root);
    mkdir(root, 0755);
    mkdir(sub, 0755);
    touch(root, "spec-b.fits.gz");
    touch(root, "spec-a.fits");
    touch(root, "notes.txt");
    touch(sub, "spec-c.fits");
    touch(root, ".hidden.fits");
    ms_strlist l;
    assert_int_equal(ms_filelist_spectra(root, &l), MS_OK);
    assert_int_equal(l.n, 3);
    assert_non_null(strstr(l.items[0], "/20111024/spec-c.fits"));
    assert_non_null(strstr(l.items[1], "/spec-a.fits"));
    assert_non_null(strstr(l.items[2], "/spec-b.fits.gz"));
    /* items are in blob order after the scan (needed for broadcasting) */
    assert_ptr_equal(l.items[0], l.blob);
    ms_strlist_free(&l);
    assert_int_equal(ms_filelist_spectra("/nonexistent/dir", &l), MS_EIO);
    assert_non_null(strstr(ms_error_message(), "/nonexistent/dir"));
}

static void test_list_file_relative_paths(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/inputs.lst", ms_test_tmpdir());
    FILE *f = fopen(path, "w");
    fputs("# comment\nspectra/x.fits\n\n  /abs/y.fits.gz  \r\n", f);
    fclose(f);
    ms_strlist l;
    assert_int_equal(ms_filelist_spectra(path, &l), MS_OK);
    assert_int_equal(l.n, 2);
    char want[600];
    snprintf(want, sizeof want, "%s/spectra/x.fits", ms_test_tmpdir());
    assert_string_equal(l.items[0], want);
    assert_string_equal(l.items[1], "/abs/y.fits.gz");
    ms_strlist_free(&l);
}

static void test_many_pushes(void **state)
{
    (void)state;
    ms_strlist l = {0};
    char buf[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(buf, sizeof buf, "file-%05d", 19999 - i);
        assert_int_equal(ms_strlist_push(&l, buf), MS_OK);
    }
    assert_string_equal(l.items[0], "file-19999");
    assert_string_equal(l.items[19999], "file-00000");
    ms_strlist_sort(&l);
    assert_string_equal(l.items[0], "file-00000");
    ms_strlist_free(&l);
}

static void test_csv(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/t.csv", ms_test_tmpdir());
    FILE *f = fopen(path, "w");
    fputs("obsid, G ,name\n101,12.5,\"a, \"\"quoted\"\" b\"\n102,,plain\n# skipped\n103,1e-3,z\n", f);
    fclose(f);
    ms_csv t;
    assert_int_equal(ms_csv_read(path, &t), MS_OK);
    assert_int_equal(t.n_cols, 3);
    assert_int_equal(t.n_rows, 3);
    assert_int_equal(ms_csv_column(&t, "g"), 1);
    assert_int_equal(ms_csv_column(&t, "missing"), -1);
    assert_true(t.numeric[0] && t.numeric[1] && !t.numeric[2]);
    assert_true(t.integer[0] && !t.integer[1] && !t.integer[2]);
    assert_true(ms_csv_integer(&t, 0, 0, -1) == 101);
    assert_string_equal(ms_csv_cell(&t, 0, 2), "a, \"quoted\" b");
    assert_true(ms_csv_number(&t, 0, 1) == 12.5);
    assert_true(isnan(ms_csv_number(&t, 1, 1)));
    assert_true(ms_csv_number(&t, 2, 1) == 1e-3);
    ms_csv_free(&t);

    f = fopen(path, "w");
    fputs("a,b\n1,2\n3\n", f);
    fclose(f);
    assert_int_equal(ms_csv_read(path, &t), MS_EFORMAT);
    assert_non_null(strstr(ms_error_message(), "t.csv:3"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_directory_scan_is_recursive_and_sorted),
        cmocka_unit_test(test_list_file_relative_paths),
        cmocka_unit_test(test_many_pushes),
        cmocka_unit_test(test_csv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
