/* test_spec_grid.c: output grid size, the relativistic Doppler factor (identities and the
 * closed form), and the fit mask against the analytic pixel count of method.md 2.5. */
#include "spec_fixtures.h"

#include <string.h>

static void test_default_grid(void **state)
{
    (void)state;
    ms_cfg_preprocess p = fx_defaults();
    ms_wgrid g = ms_spec_grid(&p);
    assert_int_equal(g.n, 2901); /* method.md 2.3 */
    assert_true(g.start == 6000.0 && g.step == 1.0);
    /* a step that does not divide the range: last pixel stays <= wave_max */
    p.wave_step = 0.7;
    g = ms_spec_grid(&p);
    assert_int_equal(g.n, 4143); /* floor(2900 / 0.7) + 1 */
    assert_true(g.start + (double)(g.n - 1) * g.step <= 8900.0);
    assert_true(g.start + (double)g.n * g.step > 8900.0);
    /* degenerate settings give an empty grid, and the workspace refuses them */
    p.wave_step = 1.0;
    p.wave_max = 5000.0;
    assert_int_equal(ms_spec_grid(&p).n, 0);
    ms_spec_work *w = (ms_spec_work *)&p; /* must be overwritten with NULL */
    assert_int_equal(ms_spec_work_alloc(&p, &w), MS_EINVAL);
    assert_null(w);
    assert_non_null(strstr(ms_error_message(), "grid"));
}

static void test_doppler_identities(void **state)
{
    (void)state;
    const double v[] = {1e-3, 0.7, 29.8, 137.3, 300.0, 999.9, 3333.3, 1e5, 2.5e5};
    assert_true(ms_spec_doppler(0.0) == 1.0);
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        double up = ms_spec_doppler(v[i]), down = ms_spec_doppler(-v[i]);
        assert_close(up * down, 1.0, 0.0, 1e-15, "doppler(v) * doppler(-v)");
        assert_true(up > 1.0 && down < 1.0); /* v > 0 receding: redshift */
        /* closed form, written differently: (1 + beta) / sqrt(1 - beta^2) */
        double b = v[i] / MS_C_KMS;
        assert_close(up, (1.0 + b) / sqrt(1.0 - b * b), 1e-14, 0.0, "doppler closed form");
    }
    /* small v: 1 + beta + beta^2 / 2 + beta^3 / 2 */
    double b = 12.5 / MS_C_KMS;
    assert_close(ms_spec_doppler(12.5), 1.0 + b + 0.5 * b * b + 0.5 * b * b * b, 1e-15, 0.0,
                 "doppler series");
    assert_true(isnan(ms_spec_doppler(MS_C_KMS)));
    assert_true(isnan(ms_spec_doppler(-2.0 * MS_C_KMS)));
    assert_true(isnan(ms_spec_doppler(NAN)));
    assert_true(isnan(ms_spec_doppler(INFINITY)));
}

static void test_fit_mask_default(void **state)
{
    (void)state;
    ms_cfg_preprocess p = fx_defaults();
    ms_wgrid g = ms_spec_grid(&p);
    uint8_t mask[2901];
    memset(mask, 7, sizeof mask);
    ms_spec_fit_mask(&p, g, mask);
    /* method.md 2.5, bounds inclusive on the 1 A grid: sum of (hi - lo + 1) */
    const double r[][2] = {{6270, 6330}, {6546, 6586}, {6700, 6725}, {6850, 6885},
                           {7150, 7350}, {7587, 7687}, {8100, 8240}};
    size_t expected = 0;
    for (size_t k = 0; k < 7; k++) expected += (size_t)(r[k][1] - r[k][0] + 1);
    assert_int_equal(expected, 607);
    size_t count = 0;
    for (size_t i = 0; i < g.n; i++) {
        assert_true(mask[i] == 0 || mask[i] == 1);
        count += mask[i];
        double x = g.start + (double)i * g.step;
        int in = 0;
        for (size_t k = 0; k < 7; k++) in |= x >= r[k][0] && x <= r[k][1];
        if (mask[i] != in) fail_msg("pixel %.0f A: mask %d, expected %d", x, mask[i], in);
    }
    assert_int_equal(count, expected);
    assert_int_equal(mask[6269 - 6000], 0);
    assert_int_equal(mask[6270 - 6000], 1);
    assert_int_equal(mask[6330 - 6000], 1);
    assert_int_equal(mask[6331 - 6000], 0);
}

static void test_fit_mask_custom(void **state)
{
    (void)state;
    ms_cfg_preprocess p = fx_defaults();
    p.wave_step = 0.5;
    /* a range off the pixel centres, one straddling the start, one beyond the end, and a
     * trailing odd value that is ignored */
    p.fit_masks.n = 7;
    const double v[] = {6100.2, 6101.3, 5990.0, 6000.4, 8899.9, 9500.0, 7000.0};
    memcpy(p.fit_masks.v, v, sizeof v);
    ms_wgrid g = ms_spec_grid(&p);
    assert_int_equal(g.n, 5801);
    uint8_t *mask = test_malloc(g.n);
    ms_spec_fit_mask(&p, g, mask);
    size_t count = 0;
    for (size_t i = 0; i < g.n; i++) count += mask[i];
    /* 6100.5, 6101.0 | 6000.0 | 8900.0 */
    assert_int_equal(count, 4);
    assert_int_equal(mask[(size_t)((6100.5 - 6000) / 0.5)], 1);
    assert_int_equal(mask[(size_t)((6101.0 - 6000) / 0.5)], 1);
    assert_int_equal(mask[0], 1);
    assert_int_equal(mask[1], 0);
    assert_int_equal(mask[g.n - 1], 1);
    assert_int_equal(mask[(size_t)((7000.0 - 6000) / 0.5)], 0);
    test_free(mask);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_grid),
        cmocka_unit_test(test_doppler_identities),
        cmocka_unit_test(test_fit_mask_default),
        cmocka_unit_test(test_fit_mask_custom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
