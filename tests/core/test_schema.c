/* test_schema.c: the owner of names (schema.h): every group is well-formed, no column is
 * declared twice, and every column that other modules read by name is declared by a group. */
#include "mstars/schema.h"
#include "mstars/mem.h"

#include <stdint.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void test_groups_well_formed(void **state)
{
    (void)state;
    size_t n = 0;
    const ms_column_group *const *g = ms_schema_groups(&n);
    assert_true(n >= 2);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(g[i]->name);
        assert_non_null(g[i]->title);
        assert_true(g[i]->row_size > 0);
        assert_ptr_equal(ms_schema_group(g[i]->name), g[i]);
        for (const ms_catalog_column *c = g[i]->cols; c->name; c++) {
            assert_int_equal(strncmp(c->name, MS_CATALOG_GROUP "/", strlen(MS_CATALOG_GROUP) + 1), 0);
            assert_true(c->offset + ms_catalog_column_size(c) <= g[i]->row_size);
            assert_non_null(c->description);
            /* declared once over all groups, but for the recommended labels of a combined
             * catalog (teff, e_teff, ...), which take the names that z25's own label columns
             * give up there (they become z25_teff, ...: stage/combine.c) */
            const ms_column_group *owner = NULL;
            const ms_catalog_column *found =
                ms_schema_column(c->name + strlen(MS_CATALOG_GROUP) + 1, &owner);
            if (strcmp(g[i]->name, "rec") == 0 && owner != g[i]) {
                assert_string_equal(owner->name, "z25");
                continue;
            }
            assert_ptr_equal(found, c);
            assert_ptr_equal(owner, g[i]);
        }
    }
    assert_null(ms_schema_group("no-such-method"));
    assert_null(ms_schema_column("no_such_column", NULL));
}

static void test_named_columns_declared(void **state)
{
    (void)state;
    const char *named[] = {MS_COL_FIT_FLAGS, MS_COL_CUT_FLAGS, MS_COL_AT_BOUND, MS_COL_STORE_STATUS,
                           MS_COL_TEFF,      MS_COL_CHI2_RED,  MS_COL_OBSID,    MS_COL_TEFF_EMU};
    for (size_t k = 0; k < sizeof named / sizeof named[0]; k++)
        assert_non_null(ms_schema_column(named[k] + strlen(MS_CATALOG_GROUP) + 1, NULL));
    for (int k = 0; k < MS_N_LABELS; k++) assert_non_null(ms_schema_column(ms_label_names[k], NULL));
}

/* Two toy groups side by side: offsets shifted by the aligned base, every column kept. */
typedef struct {
    double a;
    int32_t b;
} row_x;
typedef struct {
    char s[5];
} row_y;

static void test_compose(void **state)
{
    (void)state;
    static const ms_catalog_column cx[] = {
        {MS_CATALOG_GROUP "/xa", MS_H5_F64, 0, offsetof(row_x, a), "", "x a"},
        {MS_CATALOG_GROUP "/xb", MS_H5_I32, 0, offsetof(row_x, b), "", "x b"},
        {NULL, 0, 0, 0, NULL, NULL}};
    static const ms_catalog_column cy[] = {
        {MS_CATALOG_GROUP "/ys", MS_H5_STR, 5, offsetof(row_y, s), "", "y s"},
        {NULL, 0, 0, 0, NULL, NULL}};
    const ms_column_group gx = {"x", "toy x", cx, sizeof(row_x), NULL};
    const ms_column_group gy = {"y", "toy y", cy, sizeof(row_y), NULL};
    const ms_column_group *gs[] = {&gy, &gx};
    ms_catalog_column *cols = NULL;
    size_t row = 0, base[2];
    assert_int_equal(ms_schema_compose(gs, 2, &cols, &row, base), MS_OK);
    assert_int_equal(base[0], 0);
    assert_int_equal(base[1], 8); /* row_y (5 bytes) rounded up to 8 */
    assert_int_equal(row, 8 + sizeof(row_x));
    assert_string_equal(cols[0].name, MS_CATALOG_GROUP "/ys");
    assert_int_equal(cols[1].offset, 8 + offsetof(row_x, a));
    assert_int_equal(cols[2].offset, 8 + offsetof(row_x, b));
    assert_null(cols[3].name);
    ms_free(cols);
    /* the same group twice: a column declared twice is refused by name */
    const ms_column_group *twice[] = {&gx, &gx};
    assert_int_equal(ms_schema_compose(twice, 2, &cols, &row, base), MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "xa"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_well_formed),
        cmocka_unit_test(test_named_columns_declared),
        cmocka_unit_test(test_compose),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
