/* test_schema.c: the owner of names (schema.h): every group is well-formed, no column is
 * declared twice, and every column that other modules read by name is declared by a group. */
#include "mstars/schema.h"

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
            /* declared once over all groups */
            const ms_column_group *owner = NULL;
            assert_ptr_equal(ms_schema_column(c->name + strlen(MS_CATALOG_GROUP) + 1, &owner), c);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_well_formed),
        cmocka_unit_test(test_named_columns_declared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
