/* test_emulator.c: The Payne trained on a small smooth synthetic grid reaches a stated
 * accuracy; checkpoint + resume reproduces an uninterrupted run bit for bit; the model
 * file round-trips (identical predictions, stable hash); missing, corrupt and foreign
 * files fail with a message naming the file; the grid-store loader skips unusable rows. */
#include "nn_testlib.h"

#include "mstars/h5.h"
#include "mstars/mem.h"
#include "mstars/payne.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 3 labels (teff, logg, m_h) on a 9 x 3 x 5 grid, 240 pixels */
static const size_t GRID[4] = {9, 3, 5, 1};
#define NPIX 240

static ms_payne_train_opts small_opts(long epochs)
{
    ms_payne_train_opts o;
    memset(&o, 0, sizeof o);
    ms_config cfg;
    assert_int_equal(ms_config_defaults(&cfg), MS_OK);
    o.cfg = cfg.emulator;
    o.cfg.hidden = 48;
    o.cfg.layers = 2;
    o.cfg.batch_size = 16;
    o.cfg.epochs = epochs;
    o.cfg.learning_rate = 3e-3;
    snprintf(o.cfg.optimizer, sizeof o.cfg.optimizer, "radam");
    o.cfg.validate_every = 10;
    o.cfg.checkpoint_every = 10;
    o.seed = 1234;
    o.quiet = 1;
    return o;
}

/* The synthetic set with 3 labels (drop alpha_m, constant here). */
static ms_payne_data make_data(nn_synth *s, double **labels3)
{
    nn_synth_make(s, GRID, NPIX);
    *labels3 = ms_malloc_array("test.labels3", s->n_models * 3, sizeof(double));
    assert_non_null(*labels3);
    for (size_t i = 0; i < s->n_models; i++)
        for (size_t j = 0; j < 3; j++) (*labels3)[i * 3 + j] = s->labels[i * 4 + j];
    return (ms_payne_data){s->flux, *labels3, NULL, s->n_models, NPIX, 3};
}

static void name3(ms_emulator *e)
{
    snprintf(e->labels[0], MS_PAYNE_LABEL_LEN, "teff");
    snprintf(e->labels[1], MS_PAYNE_LABEL_LEN, "logg");
    snprintf(e->labels[2], MS_PAYNE_LABEL_LEN, "m_h");
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void test_train_accuracy(void **state)
{
    (void)state;
    nn_synth s;
    double *lab;
    ms_payne_data d = make_data(&s, &lab);
    ms_payne_train_opts o = small_opts(400);
    o.cfg.validate_every = 20;
    ms_emulator e;
    ms_emulator_init(&e);
    name3(&e);
    assert_int_equal(ms_payne_train(&d, &o, &e), MS_OK);
    /* 8:2 split of 135 models */
    assert_int_equal(e.n_val, 27);
    assert_int_equal(e.n_train, 108);
    assert_int_equal(e.n_history, 20);
    assert_true(e.best_epoch >= 20 && e.best_epoch <= 400);
    for (size_t j = 0; j < 3; j++) assert_true(e.x_max[j] > e.x_min[j]);
    double *acc = ms_malloc_array("test.acc", e.n_val, sizeof(double));
    assert_non_null(acc);
    memcpy(acc, e.val_accuracy, e.n_val * sizeof(double));
    qsort(acc, e.n_val, sizeof(double), cmp_d);
    print_message("synthetic grid: validation Eq.1 median %.3f%%, max %.3f%%, best val L1 %.3e "
                  "at epoch %ld, %.2f s\n",
                  100 * acc[e.n_val / 2], 100 * acc[e.n_val - 1], e.best_val_loss, e.best_epoch,
                  e.train_seconds);
    /* the stated accuracy of this small problem (Z25 Eq. 1) */
    assert_true(acc[e.n_val / 2] < 0.005);
    assert_true(acc[e.n_val - 1] < 0.01);
    /* the recorded labels and accuracy belong to the validation models */
    ms_payne_ws *ws;
    assert_int_equal(ms_payne_ws_alloc(&e.net, 1, 0, &ws), MS_OK);
    float f[NPIX], truth[NPIX];
    double y4[4] = {0, 0, 0, 0};
    for (size_t j = 0; j < 3; j++) y4[j] = e.val_labels[j];
    assert_int_equal(ms_emulator_predict(&e, ws, e.val_labels, 1, f, NULL), MS_OK);
    nn_synth_spectrum(y4, s.wavelength, NPIX, truth);
    assert_close(ms_emulator_eq1(truth, f, NPIX), e.val_accuracy[0], 1e-4, 1e-7,
                 "stored Eq. 1 of the first validation model");
    ms_payne_ws_free(ws);
    ms_free(acc);
    ms_emulator_free(&e);
    nn_synth_free(&s);
    ms_free(lab);
}

static void weights_equal(const ms_emulator *a, const ms_emulator *b, const char *what)
{
    assert_int_equal(a->net.params.n, b->net.params.n);
    if (memcmp(a->net.params.param, b->net.params.param, a->net.params.n * sizeof(float)) != 0)
        fail_msg("%s: weights differ", what);
}

static void test_checkpoint_resume(void **state)
{
    (void)state;
    nn_synth s;
    double *lab;
    ms_payne_data d = make_data(&s, &lab);
    char ck[512];
    snprintf(ck, sizeof ck, "%s/resume.ckpt", ms_test_tmpdir());
    remove(ck);

    ms_emulator full, part;
    ms_emulator_init(&full);
    name3(&full);
    ms_payne_train_opts o = small_opts(40);
    assert_int_equal(ms_payne_train(&d, &o, &full), MS_OK);

    /* interrupted by the time limit after the first epoch, then resumed twice */
    ms_emulator_init(&part);
    name3(&part);
    o.checkpoint = ck;
    o.max_seconds = 1e-9;
    assert_int_equal(ms_payne_train(&d, &o, &part), MS_EINTERRUPTED);
    assert_int_equal(access(ck, R_OK), 0);
    ms_emulator_free(&part);
    ms_emulator_init(&part);
    name3(&part);
    o.max_seconds = 0;
    o.resume = 1;
    o.cfg.epochs = 20;
    assert_int_equal(ms_payne_train(&d, &o, &part), MS_OK);
    ms_emulator_free(&part);
    ms_emulator_init(&part);
    name3(&part);
    o.cfg.epochs = 40;
    assert_int_equal(ms_payne_train(&d, &o, &part), MS_OK);
    weights_equal(&full, &part, "resumed run vs uninterrupted run");
    assert_int_equal(full.best_epoch, part.best_epoch);
    assert_int_equal(full.n_history, part.n_history);
    for (size_t i = 0; i < full.n_history; i++)
        assert_true(full.hist_val_loss[i] == part.hist_val_loss[i]);
    ms_emulator_free(&part);

    /* other settings: refused with a hint */
    ms_emulator_init(&part);
    name3(&part);
    o.cfg.learning_rate = 1e-3;
    assert_int_equal(ms_payne_train(&d, &o, &part), MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), ck));
    assert_non_null(strstr(ms_error_message(), "HINT"));
    ms_emulator_free(&part);

    /* a damaged checkpoint is detected */
    FILE *fp = fopen(ck, "r+b");
    assert_non_null(fp);
    fseek(fp, 4000, SEEK_SET);
    fputc(0x5a, fp);
    fclose(fp);
    ms_emulator_init(&part);
    name3(&part);
    o.cfg.learning_rate = 3e-3;
    assert_int_equal(ms_payne_train(&d, &o, &part), MS_EFORMAT);
    assert_non_null(strstr(ms_error_message(), "corrupt"));
    ms_emulator_free(&part);

    /* a constant label is refused by name */
    ms_emulator_init(&part);
    snprintf(part.labels[0], MS_PAYNE_LABEL_LEN, "alpha_m");
    ms_payne_data d1 = {s.flux, s.labels + 3, NULL, s.n_models, NPIX, 1};
    (void)d1;
    double *alpha = ms_malloc_array("test.alpha", s.n_models, sizeof(double));
    assert_non_null(alpha);
    for (size_t i = 0; i < s.n_models; i++) alpha[i] = s.labels[i * 4 + 3];
    d1.labels = alpha;
    o.resume = 0;
    o.checkpoint = NULL;
    assert_int_equal(ms_payne_train(&d1, &o, &part), MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "alpha_m"));
    ms_free(alpha);
    ms_emulator_free(&part);

    ms_emulator_free(&full);
    nn_synth_free(&s);
    ms_free(lab);
}

static void test_model_file(void **state)
{
    (void)state;
    nn_synth s;
    double *lab;
    ms_payne_data d = make_data(&s, &lab);
    ms_emulator e, r;
    ms_emulator_init(&e);
    name3(&e);
    ms_payne_train_opts o = small_opts(20);
    assert_int_equal(ms_payne_train(&d, &o, &e), MS_OK);
    e.wavelength = ms_malloc_array("test.wave", NPIX, sizeof(double));
    assert_non_null(e.wavelength);
    memcpy(e.wavelength, s.wavelength, NPIX * sizeof(double));
    snprintf(e.grid_path, sizeof e.grid_path, "synthetic");
    ms_config cfg;
    assert_int_equal(ms_config_defaults(&cfg), MS_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/model.h5", ms_test_tmpdir());
    assert_int_equal(ms_emulator_write(&e, path, &cfg, "test_emulator"), MS_OK);
    assert_int_equal(ms_emulator_read(path, &r), MS_OK);

    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)ms_emulator_hash(&e));
    assert_string_equal(r.content_hash, hex);
    assert_true(ms_emulator_hash(&r) == ms_emulator_hash(&e));
    weights_equal(&e, &r, "model file round trip");
    assert_string_equal(r.labels[2], "m_h");
    assert_int_equal(r.n_val, e.n_val);
    assert_int_equal(r.n_history, e.n_history);
    assert_int_equal(r.best_epoch, e.best_epoch);
    assert_true(r.val_accuracy[3] == e.val_accuracy[3]);
    assert_true(r.val_labels[5] == e.val_labels[5]);
    assert_true(r.val_index[2] == e.val_index[2]);
    assert_true(r.x_min[0] == e.x_min[0] && r.x_max[2] == e.x_max[2]);
    assert_non_null(r.config_text);
    assert_non_null(strstr(r.config_text, "emulator"));
    ms_payne_ws *w1, *w2;
    assert_int_equal(ms_payne_ws_alloc(&e.net, 4, 1, &w1), MS_OK);
    assert_int_equal(ms_payne_ws_alloc(&r.net, 4, 1, &w2), MS_OK);
    const double y[12] = {3000, 4.6, -0.8, 3500, 5.0, 0.0, 3950, 5.4, 0.3, 2900, 4.9, -0.2};
    float f1[4 * NPIX], f2[4 * NPIX], j1[4 * 3 * NPIX], j2[4 * 3 * NPIX];
    assert_int_equal(ms_emulator_predict(&e, w1, y, 4, f1, j1), MS_OK);
    assert_int_equal(ms_emulator_predict(&r, w2, y, 4, f2, j2), MS_OK);
    assert_memory_equal(f1, f2, sizeof f1);
    assert_memory_equal(j1, j2, sizeof j1);
    ms_payne_ws_free(w1);
    ms_payne_ws_free(w2);

    /* writing the read model again gives the same hash */
    char path2[512];
    snprintf(path2, sizeof path2, "%s/model2.h5", ms_test_tmpdir());
    assert_int_equal(ms_emulator_write(&r, path2, NULL, "rewrite"), MS_OK);
    ms_emulator r2;
    assert_int_equal(ms_emulator_read(path2, &r2), MS_OK);
    assert_string_equal(r2.content_hash, hex);
    ms_emulator_free(&r2);

    /* a modified weight: content hash mismatch naming the file */
    ms_h5 *f;
    assert_int_equal(ms_h5_open_update(path2, 0, &f), MS_OK);
    float row[48];
    assert_int_equal(ms_h5_read_rows(f, "/network/w_array_1", MS_H5_F32, 0, 3, 1, row), MS_OK);
    row[7] += 0.5f;
    assert_int_equal(ms_h5_write_rows(f, "/network/w_array_1", 3, 1, row), MS_OK);
    assert_int_equal(ms_h5_commit(f), MS_OK);
    assert_int_equal(ms_emulator_read(path2, &r2), MS_EFORMAT);
    assert_non_null(strstr(ms_error_message(), path2));
    assert_non_null(strstr(ms_error_message(), "hash"));

    /* missing file */
    char missing[512];
    snprintf(missing, sizeof missing, "%s/no-such-model.h5", ms_test_tmpdir());
    assert_int_not_equal(ms_emulator_read(missing, &r2), MS_OK);
    assert_non_null(strstr(ms_error_message(), missing));

    /* truncated file */
    char trunc[512];
    snprintf(trunc, sizeof trunc, "%s/truncated.h5", ms_test_tmpdir());
    FILE *in = fopen(path, "rb"), *out = fopen(trunc, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[4096];
    size_t total = 0, nr;
    while ((nr = fread(buf, 1, sizeof buf, in)) > 0 && total < 20000) {
        fwrite(buf, 1, nr, out);
        total += nr;
    }
    fclose(in);
    fclose(out);
    assert_int_not_equal(ms_emulator_read(trunc, &r2), MS_OK);
    assert_non_null(strstr(ms_error_message(), trunc));

    /* a grid store is not a model */
    char store[512];
    snprintf(store, sizeof store, "%s/store.h5", ms_test_tmpdir());
    nn_synth_write_store(&s, store, 1000000);
    assert_int_equal(ms_emulator_read(store, &r2), MS_EFORMAT);
    assert_non_null(strstr(ms_error_message(), "not an mstars emulator"));
    assert_non_null(strstr(ms_error_message(), store));

    ms_emulator_free(&r);
    ms_emulator_free(&e);
    nn_synth_free(&s);
    ms_free(lab);
}

static void test_grid_loader(void **state)
{
    (void)state;
    nn_synth s;
    nn_synth_make(&s, (size_t[4]){3, 2, 2, 2}, 50);
    char path[512];
    snprintf(path, sizeof path, "%s/grid.h5", ms_test_tmpdir());
    nn_synth_write_store(&s, path, 5);
    ms_payne_grid g;
    assert_int_equal(ms_payne_grid_load(path, "teff, m_h,alpha_m", &g), MS_OK);
    assert_int_equal(g.n_rows, 24);
    assert_int_equal(g.data.n_models, 23);
    assert_int_equal(g.data.n_labels, 3);
    assert_string_equal(g.names[1], "m_h");
    assert_int_equal(g.rows[5], 6); /* row 5 is skipped */
    assert_true(g.labels[5 * 3 + 2] == s.labels[6 * 4 + 3]);
    assert_memory_equal(g.flux + 5 * 50, s.flux + 6 * 50, 50 * sizeof(float));
    assert_true(g.wavelength[49] == s.wavelength[49]);
    assert_int_equal(ms_payne_grid_bcast(&g, ms_comm_serial()), MS_OK); /* one rank: nothing to do */
    ms_payne_grid_free(&g);
    assert_int_equal(ms_payne_grid_load(path, "teff,vmic", &g), MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "vmic"));
    assert_int_equal(ms_payne_grid_load(path, "teff,teff", &g), MS_EINVAL);
    char missing[512];
    snprintf(missing, sizeof missing, "%s/nothing.h5", ms_test_tmpdir());
    assert_int_not_equal(ms_payne_grid_load(missing, "teff", &g), MS_OK);
    assert_non_null(strstr(ms_error_message(), missing));
    nn_synth_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_accuracy),
        cmocka_unit_test(test_checkpoint_resume),
        cmocka_unit_test(test_model_file),
        cmocka_unit_test(test_grid_loader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
