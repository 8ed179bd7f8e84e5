/* test_config.c: defaults equal method.md, the example file documents every key with its
 * default, unknown/mistyped/out-of-range keys are rejected by name, overrides work, and
 * the written configuration reads back identically. */
#include "test_util.h"

#include "mstars/config.h"
#include "mstars/mem.h"

#include <stdio.h>
#include <string.h>

static ms_config cfg, other;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_defaults_follow_method(void **state)
{
    (void)state;
    assert_int_equal(ms_config_defaults(&cfg), MS_OK);
    assert_int_equal(ms_config_validate(&cfg), MS_OK);
    /* method.md section 2 */
    assert_true(cfg.preprocess.wave_min == 6000.0);
    assert_true(cfg.preprocess.wave_max == 8900.0);
    assert_true(cfg.preprocess.wave_step == 1.0);
    assert_true(cfg.preprocess.continuum_sigma == 30.0);
    assert_true(cfg.preprocess.synthetic_resolution == 2000.0);
    assert_true(cfg.preprocess.synthetic_error == 0.01);
    assert_int_equal(cfg.preprocess.fit_masks.n, 14);
    assert_true(cfg.preprocess.fit_masks.v[0] == 6270.0);
    assert_true(cfg.preprocess.fit_masks.v[13] == 8240.0);
    /* section 3 */
    assert_int_equal(cfg.emulator.hidden, 300);
    assert_int_equal(cfg.emulator.layers, 2);
    assert_true(cfg.emulator.leaky_slope == 0.01);
    assert_true(cfg.emulator.validation_fraction == 0.2);
}

static void test_example_file_documents_every_key(void **state)
{
    (void)state;
    char path[1024];
    ms_test_source("config/example_full.cfg", path, sizeof path);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char text[1 << 17];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    /* every key appears as "name =" inside its section, preceded by a comment */
    for (const ms_cfg_key *k = ms_config_keys; k->key; k++) {
        char needle[160];
        snprintf(needle, sizeof needle, "  %s = ", strchr(k->key, '.') + 1);
        if (!strstr(text, needle)) fail_msg("config/example_full.cfg lacks key %s", k->key);
    }
    /* and the values it shows are the defaults */
    assert_int_equal(ms_config_defaults(&cfg), MS_OK);
    assert_int_equal(ms_config_defaults(&other), MS_OK);
    assert_int_equal(ms_config_load_file(&other, path), MS_OK);
    for (const ms_cfg_key *k = ms_config_keys; k->key; k++) {
        char a[4096], b[4096];
        ms_config_format_value(&cfg, k, a, sizeof a);
        ms_config_format_value(&other, k, b, sizeof b);
        if (strcmp(a, b) != 0)
            fail_msg("config/example_full.cfg shows %s = %s, the default is %s", k->key, b, a);
    }
}

static void test_shipped_configs_load(void **state)
{
    (void)state;
    const char *names[] = {"config/mock-small.cfg", "config/mock-dr.cfg"};
    for (int i = 0; i < 2; i++) {
        char path[1024];
        ms_test_source(names[i], path, sizeof path);
        assert_int_equal(ms_config_defaults(&cfg), MS_OK);
        if (ms_config_load_file(&cfg, path) != MS_OK) fail_msg("%s", ms_error_message());
        assert_int_equal(ms_config_validate(&cfg), MS_OK);
    }
}

static void test_unknown_and_bad_keys_are_named(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/bad.cfg", ms_test_tmpdir());

    write_file(path, "preprocess = {\n  continuum_sigmaa = 25.0;\n};\n");
    assert_int_equal(ms_config_defaults(&cfg), MS_OK);
    assert_int_equal(ms_config_load_file(&cfg, path), MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "preprocess.continuum_sigmaa"));
    assert_non_null(strstr(ms_error_message(), ":2:")); /* line number */

    write_file(path, "preprocess = {\n  continuum_sigma = \"wide\";\n};\n");
    assert_int_equal(ms_config_load_file(&cfg, path), MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "preprocess.continuum_sigma"));

    write_file(path, "emulator = { hidden = -3; };\n");
    assert_int_equal(ms_config_load_file(&cfg, path), MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "emulator.hidden"));

    write_file(path, "emulator = { hidden = 64 ; };\n oops");
    assert_int_equal(ms_config_load_file(&cfg, path), MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "syntax"));

    assert_int_equal(ms_config_load_file(&cfg, "/nonexistent/x.cfg"), MS_EIO);
    assert_non_null(strstr(ms_error_message(), "/nonexistent/x.cfg"));
}

static void test_overrides(void **state)
{
    (void)state;
    assert_int_equal(ms_config_defaults(&cfg), MS_OK);
    assert_int_equal(ms_config_set(&cfg, "preprocess.continuum_sigma=25"), MS_OK);
    assert_true(cfg.preprocess.continuum_sigma == 25.0);
    assert_int_equal(ms_config_set(&cfg, "emulator.epochs=1e3"), MS_OK);
    assert_int_equal(cfg.emulator.epochs, 1000);
    assert_int_equal(ms_config_set(&cfg, "preprocess.fit_masks=6500,6600"), MS_OK);
    assert_int_equal(cfg.preprocess.fit_masks.n, 2);
    assert_int_equal(ms_config_set(&cfg, "emulator.loss=l2"), MS_OK);
    assert_string_equal(cfg.emulator.loss, "l2");

    assert_int_equal(ms_config_set(&cfg, "preprocess.sigma=25"), MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "preprocess.sigma"));
    assert_int_equal(ms_config_set(&cfg, "emulator.epochs=1.5"), MS_EINVAL);
    assert_int_equal(ms_config_set(&cfg, "emulator.epochs"), MS_EINVAL);
    assert_int_equal(ms_config_set(&cfg, "preprocess.wave_min=abc"), MS_EINVAL);

    assert_int_equal(ms_config_set(&cfg, "preprocess.fit_masks=6500,6600,6700"), MS_OK);
    assert_int_equal(ms_config_validate(&cfg), MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "fit_masks"));
    assert_int_equal(ms_config_set(&cfg, "preprocess.fit_masks=6500,6600"), MS_OK);
    assert_int_equal(ms_config_set(&cfg, "emulator.optimizer=sgd"), MS_OK);
    assert_int_equal(ms_config_validate(&cfg), MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "emulator.optimizer"));
}

static void test_written_config_reads_back(void **state)
{
    (void)state;
    assert_int_equal(ms_config_defaults(&cfg), MS_OK);
    assert_int_equal(ms_config_set(&cfg, "preprocess.continuum_sigma=27.125"), MS_OK);
    assert_int_equal(ms_config_set(&cfg, "simulate.n_stars=123"), MS_OK);
    assert_int_equal(ms_config_set(&cfg, "emulator.labels=teff,logg"), MS_OK);
    char *text = ms_config_to_string(&cfg);
    assert_non_null(text);
    char path[512];
    snprintf(path, sizeof path, "%s/roundtrip.cfg", ms_test_tmpdir());
    write_file(path, text);
    ms_free(text);
    assert_int_equal(ms_config_defaults(&other), MS_OK);
    assert_int_equal(ms_config_load_file(&other, path), MS_OK);
    for (const ms_cfg_key *k = ms_config_keys; k->key; k++) {
        char a[4096], b[4096];
        ms_config_format_value(&cfg, k, a, sizeof a);
        ms_config_format_value(&other, k, b, sizeof b);
        if (strcmp(a, b) != 0) fail_msg("%s: wrote %s, read %s", k->key, a, b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_follow_method),
        cmocka_unit_test(test_example_file_documents_every_key),
        cmocka_unit_test(test_shipped_configs_load),
        cmocka_unit_test(test_unknown_and_bad_keys_are_named),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_written_config_reads_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
