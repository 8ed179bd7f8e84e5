/* test_survey_job.c: the pieces of the survey skeleton (survey_job.h) that need no MPI: the
 * chunk context reads each dataset once per chunk and gives every method the same rows; the
 * row predicate and its configuration key; the job's columns (identification columns once,
 * z25's renamed as `mstars combine` names them, a name declared by two methods refused). */
#include "test_util.h"

#include "mstars/config.h"
#include "mstars/h5.h"
#include "mstars/mem.h"
#include "mstars/schema.h"
#include "mstars/survey_job.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

static void test_rows_cached(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/cache.h5", ms_test_tmpdir());
    ms_h5 *f;
    assert_int_equal(ms_h5_create(path, 0, &f), MS_OK);
    size_t dims[2] = {7, 3};
    float m[21];
    for (int i = 0; i < 21; i++) m[i] = (float)i;
    assert_int_equal(ms_h5_create_dataset(f, "/x", MS_H5_F32, 0, 2, dims, 7, "", "x"), MS_OK);
    assert_int_equal(ms_h5_write_rows(f, "/x", 0, 7, m), MS_OK);
    assert_int_equal(ms_h5_commit(f), MS_OK);
    assert_int_equal(ms_h5_open_read(path, 0, &f), MS_OK);
    ms_survey_chunk ck;
    memset(&ck, 0, sizeof ck);
    ck.store = f;
    ck.cache = 1;
    ck.chunk_rows = 4;
    float a[12], b[12];
    for (size_t chunk = 0; chunk < 2; chunk++) {
        ck.chunk_id = chunk;
        ck.row0 = chunk * 4;
        ck.n = chunk ? 3 : 4;
        assert_int_equal(ms_survey_rows(&ck, "/x", MS_H5_F32, 0, a), MS_OK);
        assert_int_equal(ms_survey_rows(&ck, "/x", MS_H5_F32, 0, b), MS_OK); /* from the cache */
        for (size_t i = 0; i < ck.n * 3; i++) {
            assert_true(a[i] == m[ck.row0 * 3 + i]);
            assert_true(b[i] == a[i]);
        }
    }
    assert_int_equal(ck.n_cached, 1); /* one buffer, refilled per chunk */
    /* a plain context (no cache) reads the store */
    ms_survey_chunk pl;
    ms_survey_chunk_plain(&pl, f, 5, 2);
    assert_int_equal(ms_survey_rows(&pl, "/x", MS_H5_F32, 0, a), MS_OK);
    assert_true(a[0] == 15.0f && a[5] == 20.0f);
    assert_int_not_equal(ms_survey_rows(&ck, "/nothing", MS_H5_F32, 0, a), MS_OK);
    ms_error_clear();
    for (size_t k = 0; k < ck.n_cached; k++) ms_free(ck.c[k].buf);
    ms_h5_close(f);
}

static void test_predicate(void **state)
{
    (void)state;
    ms_config cfg;
    assert_int_equal(ms_config_defaults(&cfg), MS_OK);
    assert_int_equal(ms_survey_apply_of(&cfg, "z25"), MS_APPLY_DWARFS);
    assert_int_equal(ms_survey_apply_of(&cfg, "cnn"), MS_APPLY_DWARFS);
    assert_int_equal(ms_survey_apply_of(&cfg, "slam"), MS_APPLY_ALL);
    assert_int_equal(ms_survey_apply_of(&cfg, "z2"), MS_APPLY_ALL); /* whole names only */
    snprintf(cfg.run.dwarfs_only, sizeof cfg.run.dwarfs_only, "%s", "");
    assert_int_equal(ms_survey_apply_of(&cfg, "z25"), MS_APPLY_ALL);
    ms_survey_chunk ck;
    memset(&ck, 0, sizeof ck);
    /* no classifier in the job: every row */
    assert_true(ms_survey_applies(MS_APPLY_DWARFS, &ck, 0));
    int32_t cls[4] = {MS_SURVEY_CLASS_DWARF, MS_SURVEY_CLASS_GIANT, MS_SURVEY_CLASS_UNKNOWN,
                      MS_SURVEY_CLASS_OTHER};
    ck.cls = cls;
    assert_true(ms_survey_applies(MS_APPLY_DWARFS, &ck, 0));
    for (size_t i = 1; i < 4; i++) {
        assert_false(ms_survey_applies(MS_APPLY_DWARFS, &ck, i));
        assert_true(ms_survey_applies(MS_APPLY_ALL, &ck, i));
        assert_int_equal(ms_survey_applies(MS_APPLY_GIANTS, &ck, i), i == 1);
    }
    assert_false(ms_survey_applies(MS_APPLY_GIANTS, &ck, 0));
    /* run.giants_only; a method in both lists is refused */
    snprintf(cfg.run.giants_only, sizeof cfg.run.giants_only, "%s", "cnn, slam");
    assert_int_equal(ms_survey_apply_of(&cfg, "slam"), MS_APPLY_GIANTS);
    assert_int_equal(ms_survey_apply_check(&cfg, "slam"), MS_OK);
    snprintf(cfg.run.dwarfs_only, sizeof cfg.run.dwarfs_only, "%s", "slam");
    assert_int_not_equal(ms_survey_apply_check(&cfg, "slam"), MS_OK);
    assert_non_null(strstr(ms_error_message(), "run.giants_only"));
    ms_error_clear();
    assert_string_equal(ms_survey_class_name(MS_SURVEY_CLASS_WD), "white dwarf");
    assert_string_equal(ms_survey_class_name(MS_SURVEY_CLASS_OTHER), "non-M");
    assert_string_equal(ms_survey_class_name(MS_SURVEY_CLASS_UNKNOWN), "unclassified");
}

typedef struct { int64_t id; double teff, e_teff; } row_a;
typedef struct { int64_t id; double other_teff; } row_b;
static const ms_catalog_column ids[] = {
    {MS_CATALOG_GROUP "/id", MS_H5_I64, 0, 0, "", "row"}, {NULL, 0, 0, 0, NULL, NULL}};
static const ms_catalog_column a_cols[] = {
    {MS_CATALOG_GROUP "/teff", MS_H5_F64, 0, offsetof(row_a, teff), "K", "t"},
    {MS_CATALOG_GROUP "/e_teff", MS_H5_F64, 0, offsetof(row_a, e_teff), "K", "e"},
    {NULL, 0, 0, 0, NULL, NULL}};
static const ms_catalog_column b_cols[] = {
    {MS_CATALOG_GROUP "/other_teff", MS_H5_F64, 0, offsetof(row_b, other_teff), "K", "t"},
    {NULL, 0, 0, 0, NULL, NULL}};
static const ms_column_group ga = {"z25", "a", a_cols, sizeof(row_a), NULL};
static const ms_column_group gb = {"other", "b", b_cols, sizeof(row_b), NULL};

static void test_columns(void **state)
{
    (void)state;
    ms_survey_method a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.name = "z25";
    a.id_cols = ids;
    a.groups[0] = &ga;
    a.row_size = sizeof(row_a);
    b.name = "other";
    b.id_cols = ids;
    b.groups[0] = &gb;
    b.row_size = sizeof(row_b);
    ms_catalog_column *cols = NULL;
    size_t row_size, base[4];
    /* alone: the method's own catalog, names unchanged */
    ms_survey_method *one[1] = {&a};
    assert_int_equal(ms_survey_columns(one, 1, NULL, &cols, &row_size, base), MS_OK);
    assert_string_equal(cols[1].name, MS_CATALOG_GROUP "/teff");
    assert_int_equal(row_size, sizeof(row_a));
    ms_free(cols);
    /* together: id once (the first method's), z25's teff -> z25_teff, e_teff -> e_z25_teff */
    ms_survey_method *two[2] = {&a, &b};
    assert_int_equal(ms_survey_columns(two, 2, NULL, &cols, &row_size, base), MS_OK);
    size_t n = 0;
    while (cols[n].name) n++;
    assert_int_equal(n, 4);
    assert_string_equal(cols[0].name, MS_CATALOG_GROUP "/id");
    assert_int_equal(cols[0].offset, 0);
    assert_string_equal(cols[1].name, MS_CATALOG_GROUP "/z25_teff");
    assert_string_equal(cols[2].name, MS_CATALOG_GROUP "/e_z25_teff");
    assert_string_equal(cols[3].name, MS_CATALOG_GROUP "/other_teff");
    assert_int_equal(base[1], (sizeof(row_a) + 7) / 8 * 8);
    assert_int_equal(cols[3].offset, base[1] + offsetof(row_b, other_teff));
    ms_free(cols);
    /* the same non-identification name from two methods: refused, naming it */
    b.groups[0] = &ga;
    a.name = "x"; /* methods without a rename rule */
    b.name = "y";
    assert_int_equal(ms_survey_columns(two, 2, NULL, &cols, &row_size, base), MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "declared by two methods"));
    ms_error_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_cached),
        cmocka_unit_test(test_predicate),
        cmocka_unit_test(test_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
