/* test_cnn_class.c: the L25 classifiers (cnn_class.h).
 *   - the weighted cross-entropy against a hand-computed case (PyTorch's weighted mean) and its
 *     gradient against central finite differences; class weights 30000/N;
 *   - the native view without rest-frame shift: a flux linear in wavelength on LAMOST's
 *     lattice, with garbage in masked pixels, gives the z-scored ramp (analytic);
 *   - confusion counts on a planted case; the verdict of a row (flags and reason);
 *   - training a 3-class toy problem: it learns (held-out accuracy), one model of four folds,
 *     a run stopped after every epoch and resumed equals an uninterrupted one bit for bit; the
 *     model file keeps softmax and the task, ms_class_predict is the mean softmax. */
#include "nn_testlib.h"

#include "mstars/cnn_class.h"
#include "mstars/h5.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/native.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_loss(void **state)
{
    (void)state;
    /* row 0: logits (0, ln 2, ln 3) -> softmax (1/6, 2/6, 3/6), target 0; row 1: (0, 0, 0),
     * target 2. Weights (1, 2, 3): PyTorch's mean = (1 ln 6 + 3 ln 3) / (1 + 3). */
    const float z[6] = {0.0f, (float)log(2.0), (float)log(3.0), 0.0f, 0.0f, 0.0f};
    const float y[6] = {1, 0, 0, 0, 0, 1};
    const double w[3] = {1.0, 2.0, 3.0};
    float dz[6] = {0};
    const double loss = ms_class_ce_loss(z, y, w, 2, 3, 1.0 / 4.0, dz);
    assert_close(loss, (log(6.0) + 3.0 * log(3.0)) / 4.0, 1e-6, 0, "weighted cross-entropy");
    const double want[6] = {0.25 * (1.0 / 6 - 1), 0.25 * 2.0 / 6, 0.25 * 3.0 / 6,
                            0.75 / 3, 0.75 / 3, 0.75 * (1.0 / 3 - 1)};
    for (int i = 0; i < 6; i++) assert_close(dz[i], want[i], 1e-6, 1e-7, "gradient");
    /* finite differences on random logits */
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 3);
    float zr[12], yr[12] = {0}, g[12] = {0};
    nn_fill(zr, 12, -3, 3, &rng);
    for (int b = 0; b < 3; b++) yr[b * 4 + (b * 3) % 4] = 1.0f;
    const double w4[4] = {0.5, 1.0, 2.0, 4.0};
    ms_class_ce_loss(zr, yr, w4, 3, 4, 0.3, g);
    for (int i = 0; i < 12; i++) {
        const float keep = zr[i];
        zr[i] = keep + 1e-2f;
        const double lp = ms_class_ce_loss(zr, yr, w4, 3, 4, 0.3, NULL);
        zr[i] = keep - 1e-2f;
        const double lm = ms_class_ce_loss(zr, yr, w4, 3, 4, 0.3, NULL);
        zr[i] = keep;
        assert_close(g[i], (lp - lm) / 2e-2, 1e-3, 1e-5, "finite difference");
    }
    /* softmax and class weights */
    double p[3];
    ms_class_softmax(z, 3, p);
    assert_close(p[2], 0.5, 1e-7, 0, "softmax");
    assert_int_equal(ms_class_argmax(p, 3), 2);
    const size_t count[3] = {100, 50, 0};
    double cw[3];
    ms_class_weights(count, 3, cw);
    assert_close(cw[0], 300.0, 1e-12, 0, "30000/100");
    assert_close(cw[1], 600.0, 1e-12, 0, "30000/50");
    assert_true(cw[2] == 0.0);
    ms_class_task t;
    assert_int_equal(ms_class_task_parse("dMgM", &t), MS_OK);
    assert_int_equal(t, MS_CLASS_DMGM);
    assert_int_equal(ms_class_task_parse("xyz", &t), MS_EINVAL);
    ms_error_clear();
    assert_int_equal(ms_class_index(ms_class_task_get(MS_CLASS_SPT), "galaxy"), 6);
}

static void test_view(void **state)
{
    (void)state;
    const size_t n = MS_NATIVE_NPIX;
    double *wave = malloc(n * sizeof *wave);
    float *flux = malloc(n * sizeof *flux), *ivar = malloc(n * sizeof *ivar),
          *iv2 = malloc(n * sizeof *iv2), *out = malloc(MS_CLASS_VIEW_N * sizeof *out);
    uint8_t *mask = calloc(n, 1);
    for (size_t k = 0; k < n; k++) {
        wave[k] = pow(10.0, ms_native_loglam(k));
        flux[k] = (float)(2.0 + 1e-3 * (wave[k] - 4000.0));
        ivar[k] = 1.0f;
        if (k % 37 == 5) { /* masked pixels carry garbage */
            mask[k] = MS_NATIVE_ORMASK;
            flux[k] = 1e6f;
        }
    }
    assert_int_equal(ms_class_view_native(wave, flux, ivar, mask, n, iv2, out), MS_OK);
    /* z-scored ramp over j = 0..4999: mean 2499.5, std sqrt((N^2 - 1) / 12) */
    const double sd = sqrt((5000.0 * 5000.0 - 1.0) / 12.0);
    double worst = 0;
    for (size_t j = 0; j < MS_CLASS_VIEW_N; j++)
        worst = fmax(worst, fabs(out[j] - ((double)j - 2499.5) / sd));
    printf("  native view: largest deviation from the z-scored ramp %.2e\n", worst);
    assert_true(worst < 2e-4);
    /* a spectrum without good pixels has no view */
    memset(mask, MS_NATIVE_NODATA, n);
    assert_int_equal(ms_class_view_native(wave, flux, ivar, mask, n, iv2, out), MS_EFORMAT);
    ms_error_clear();
    free(wave);
    free(flux);
    free(ivar);
    free(iv2);
    free(out);
    free(mask);
}

static void test_confusion(void **state)
{
    (void)state;
    const int32_t truth[5] = {0, 1, 1, 2, -1};
    const float prob[15] = {0.8f, 0.1f, 0.1f, 0.2f, 0.7f, 0.1f, 0.6f, 0.3f, 0.1f,
                            0.1f, 0.1f, 0.8f, 1, 0, 0};
    long c[9];
    assert_int_equal(ms_class_confusion(truth, prob, 5, 3, c), 4);
    const long want[9] = {1, 0, 0, 1, 1, 0, 0, 0, 1};
    assert_memory_equal(c, want, sizeof want);
}

static ms_class_row row(const char *cls, int code, double p, double wd, double g)
{
    ms_class_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.cls, sizeof r.cls, "%s", cls);
    r.class_code = code;
    r.class_prob = p;
    r.wd_prob = wd;
    r.dmgm_prob = g;
    return r;
}

static void test_verdict(void **state)
{
    (void)state;
    /* SPT first: a G star stays non-M whatever the M-only models say */
    ms_class_row r = row("G", 3, 0.4, 0.99, 0.99);
    ms_class_row_verdict(&r, 0, 50.0);
    assert_string_equal(r.class_reason, "non-M: G");
    assert_int_equal(r.class_flags, MS_CLASS_NOT_M | MS_CLASS_UNCERTAIN);
    r = row("M", 5, 0.9, 0.7, 0.2);
    ms_class_row_verdict(&r, 0, 3.0);
    assert_string_equal(r.class_reason, "white dwarf");
    assert_int_equal(r.class_flags, MS_CLASS_WD | MS_CLASS_LOW_SNR);
    r = row("M", 5, 0.9, 0.1, 0.8);
    ms_class_row_verdict(&r, 0, 50.0);
    assert_string_equal(r.class_reason, "M giant");
    assert_int_equal(r.class_flags, MS_CLASS_GIANT);
    r = row("M", 5, 0.9, 0.1, 0.2);
    ms_class_row_verdict(&r, 0, 50.0);
    assert_string_equal(r.class_reason, "M dwarf");
    assert_int_equal(r.class_flags, 0);
    /* models not given: NaN; WDM alone says M; nothing at all says nothing */
    r = row("", -1, NAN, 0.1, NAN);
    ms_class_row_verdict(&r, 0, 50.0);
    assert_string_equal(r.class_reason, "M");
    r = row("", -1, NAN, NAN, NAN);
    ms_class_row_verdict(&r, 0, 50.0);
    assert_string_equal(r.class_reason, "");
    assert_int_equal(r.class_flags, 0);
    r = row("", -1, NAN, NAN, NAN);
    ms_class_row_verdict(&r, 1, NAN);
    assert_string_equal(r.class_reason, "no view");
    assert_int_equal(r.class_flags, MS_CLASS_NO_VIEW | MS_CLASS_LOW_SNR);
}

/* Three toy classes: a Gaussian absorption line at one of three positions, with noise. */
static void toy_classes(size_t n, size_t L, float *x, double *y, int32_t *cls, ms_nn_rng *rng)
{
    for (size_t i = 0; i < n; i++) {
        const size_t c = i % 3;
        const double centre = (double)L * (0.25 + 0.25 * (double)c);
        for (size_t j = 0; j < L; j++) {
            const double u = ((double)j - centre) / 5.0;
            x[i * L + j] = (float)(-2.0 * exp(-0.5 * u * u) + 0.3 * ms_nn_rng_normal(rng));
        }
        for (size_t k = 0; k < 3; k++) y[i * 3 + k] = k == c;
        cls[i] = (int32_t)c;
    }
}

static ms_status train_class(const ms_cnn_data *d, const double *w, const char *ckpt,
                             double max_s, ms_cnn_ensemble *e)
{
    ms_cnn_ensemble_init(e);
    static const char *names[3] = {"a", "b", "c"};
    for (int k = 0; k < 3; k++) strcpy(e->labels[k], names[k]);
    e->n_labels = 3;
    e->view = (ms_cnn_view_spec){3900.0, 1.0, d->n_in};
    strcpy(e->view_source, "toy");
    strcpy(e->cls, "spt");
    e->softmax = 1;
    ms_cnn_train_opts o;
    ms_cnn_train_opts_default(&o);
    o.folds = 4;
    o.models = 1;
    o.class_weight = w;
    o.batch = 16;
    o.shard = 4;
    o.max_epochs = 15;
    o.lr = 3e-3;
    o.quiet = 1;
    o.checkpoint = ckpt;
    o.resume = ckpt != NULL;
    o.max_seconds = max_s;
    return ms_cnn_train(d, &o, e);
}

static void test_train(void **state)
{
    (void)state;
    const size_t n = 72, L = 128;
    float *x = malloc(n * L * sizeof *x);
    double *y = malloc(n * 3 * sizeof *y);
    int32_t *cls = malloc(n * sizeof *cls);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 11);
    toy_classes(n, L, x, y, cls, &rng);
    ms_cnn_data d = {x, y, NULL, n, L, 3};
    const double w[3] = {1.0, 1.0, 1.0};
    ms_cnn_ensemble a, b;
    assert_int_equal(train_class(&d, w, NULL, 0, &a), MS_OK);
    assert_int_equal(a.n_models, 1);
    assert_true(a.softmax);
    /* one fold held out (18 spectra): they have probabilities, the others NaN */
    long c[9];
    const size_t used = ms_class_confusion(cls, a.oof, n, 3, c);
    assert_int_equal(used, n / 4);
    const long right = c[0] + c[4] + c[8];
    printf("  toy classifier: %ld of %zu held-out spectra right\n", right, used);
    assert_true(right >= (long)(0.8 * (double)used));
    /* a one-hot check: a label that is not one-hot is refused */
    y[5] = 0.5;
    ms_cnn_ensemble bad;
    assert_int_equal(train_class(&d, w, NULL, 0, &bad), MS_EINVAL);
    ms_error_clear();
    ms_cnn_ensemble_free(&bad);
    y[5] = 0.0;
    /* stopped after every epoch and resumed: the same bits */
    char ckpt[512];
    snprintf(ckpt, sizeof ckpt, "%s/class.ckpt", ms_test_tmpdir());
    remove(ckpt);
    int stops = 0;
    for (;;) {
        ms_status st = train_class(&d, w, ckpt, 1e-9, &b);
        if (st == MS_OK) break;
        assert_int_equal(st, MS_EINTERRUPTED);
        ms_error_clear();
        ms_cnn_ensemble_free(&b);
        assert_true(++stops < 100);
    }
    assert_true(stops > 2);
    assert_memory_equal(a.net[0].params.param, b.net[0].params.param, a.net[0].params.n * sizeof(float));
    /* the model file: softmax and the task kept; predictions = the softmax of the network */
    char path[512];
    snprintf(path, sizeof path, "%s/class.h5", ms_test_tmpdir());
    assert_int_equal(ms_cnn_ensemble_write(&a, path, NULL, "test"), MS_OK);
    ms_cnn_ensemble r;
    assert_int_equal(ms_cnn_ensemble_read(path, &r), MS_OK);
    assert_true(r.softmax);
    assert_string_equal(r.cls, "spt");
    ms_cnn_ws *ws;
    assert_int_equal(ms_cnn_ws_alloc(&r.net[0].arch, 4, &ws), MS_OK);
    float logits[12], scratch[12];
    double prob[12], p[3];
    assert_int_equal(ms_cnn_forward(&a.net[0], ws, x, 4, logits), MS_OK);
    assert_int_equal(ms_class_predict(&r, ws, x, 4, scratch, prob), MS_OK);
    for (int i = 0; i < 4; i++) {
        ms_class_softmax(logits + 3 * i, 3, p);
        for (int k = 0; k < 3; k++) assert_close(prob[3 * i + k], p[k], 1e-12, 0, "predict");
    }
    /* ms_class_run with only an "spt" model (untrained, 8 classes): the argmax class and its
     * probability; the other tasks NaN; a model given as another task is refused */
    {
        ms_cnn_ensemble e8;
        ms_cnn_ensemble_init(&e8);
        const ms_class_task_def *spt = ms_class_task_get(MS_CLASS_SPT);
        ms_cnn_arch a8 = r.net[0].arch;
        a8.n_out = 8;
        assert_int_equal(ms_cnn_init(&e8.net[0], &a8), MS_OK);
        ms_nn_rng_seed(&rng, 5);
        ms_cnn_init_weights(&e8.net[0], &rng);
        e8.n_models = 1;
        e8.n_labels = 8;
        e8.softmax = 1;
        strcpy(e8.cls, "spt");
        for (int k = 0; k < 8; k++) strcpy(e8.labels[k], spt->classes[k]);
        const ms_cnn_ensemble *models[MS_CLASS_N_TASKS] = {&e8, NULL, NULL};
        ms_class_row out[4];
        float sc[4 * MS_CLASS_MAX], z8[4 * 8];
        double pr[4 * MS_CLASS_MAX], p8[8];
        assert_int_equal(ms_class_run(models, ws, x, 4, sc, pr, out), MS_OK);
        assert_int_equal(ms_cnn_forward(&e8.net[0], ws, x, 4, z8), MS_OK);
        for (int i = 0; i < 4; i++) {
            ms_class_softmax(z8 + 8 * i, 8, p8);
            const size_t k = ms_class_argmax(p8, 8);
            assert_int_equal(out[i].class_code, (int)k);
            assert_string_equal(out[i].cls, spt->classes[k]);
            assert_close(out[i].class_prob, p8[k], 1e-12, 0, "class_prob");
            assert_true(isnan(out[i].wd_prob) && isnan(out[i].dmgm_prob));
        }
        const ms_cnn_ensemble *wrong[MS_CLASS_N_TASKS] = {NULL, &e8, NULL};
        assert_int_equal(ms_class_run(wrong, ws, x, 4, sc, pr, out), MS_EINVAL);
        ms_error_clear();
        ms_cnn_ensemble_free(&e8);
    }
    /* the hash sees the softmax flag: a regression model of the same weights differs */
    const uint64_t h = ms_cnn_ensemble_hash(&r);
    r.softmax = 0;
    assert_true(ms_cnn_ensemble_hash(&r) != h);
    assert_int_equal(ms_class_predict(&r, ws, x, 4, scratch, prob), MS_EINVAL);
    ms_error_clear();
    ms_cnn_ws_free(ws);
    ms_cnn_ensemble_free(&r);
    ms_cnn_ensemble_free(&a);
    ms_cnn_ensemble_free(&b);
    free(x);
    free(y);
    free(cls);
}

int main(void)
{
    ms_log_set_level(MS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss),
        cmocka_unit_test(test_view),
        cmocka_unit_test(test_confusion),
        cmocka_unit_test(test_verdict),
        cmocka_unit_test(test_train),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
