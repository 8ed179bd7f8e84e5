/* test_payne.c: The Payne network against PyTorch (forward, parameter gradients of the L1
 * loss, label Jacobian), the forward-mode Jacobian against the VJP and finite
 * differences, batch independence, and the emulator's physical-unit scaling. */
#include "nn_testlib.h"

#include "mstars/mem.h"
#include "mstars/payne.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RTOL 1e-5

static void load_torch_net(const nn_fx *f, ms_payne *net)
{
    size_t D = nn_fx_int(f, "dims", 1), H = nn_fx_int(f, "dims", 2), P = nn_fx_int(f, "dims", 3);
    assert_int_equal(ms_payne_init(net, D, H, 2, P, 0.01f), MS_OK);
    const char *wn[] = {"w0", "w1", "w2"}, *bn[] = {"b0", "b1", "b2"};
    for (size_t l = 0; l < 3; l++) {
        size_t nw = net->params.t[net->iw[l]].size, nb = net->params.t[net->ib[l]].size;
        float *w = nn_fx_floats(f, wn[l], nw), *b = nn_fx_floats(f, bn[l], nb);
        memcpy(ms_payne_w(net, l), w, nw * sizeof(float));
        memcpy(ms_payne_b(net, l), b, nb * sizeof(float));
        ms_free(w);
        ms_free(b);
    }
}

static void test_against_torch(void **state)
{
    (void)state;
    nn_fx *f = nn_fx_load("payne");
    ms_payne net;
    load_torch_net(f, &net);
    const size_t B = nn_fx_int(f, "dims", 0), D = net.n_labels, P = net.n_pix;
    float *x = nn_fx_floats(f, "x", B * D), *target = nn_fx_floats(f, "target", B * P);
    float *flux = nn_zeros(B * P), *dflux = nn_zeros(B * P), *gx = nn_zeros(B * D);
    float *jac = nn_zeros(B * D * P), *flux2 = nn_zeros(B * P);
    ms_payne_ws *ws;
    assert_int_equal(ms_payne_ws_alloc(&net, 8, 1, &ws), MS_OK);

    assert_int_equal(ms_payne_forward(&net, ws, x, B, flux), MS_OK);
    nn_check(flux, nn_fx_get(f, "out", B * P)->v, B * P, RTOL, "payne forward");
    const double sc = 1.0 / (double)(B * P);
    float loss = (float)ms_nn_l1_loss_forward(flux, target, NULL, B * P, sc);
    nn_check(&loss, nn_fx_get(f, "loss", 1)->v, 1, RTOL, "payne L1 loss");
    ms_nn_l1_loss_backward(dflux, flux, target, NULL, B * P, sc);
    ms_nn_params_zero_grad(&net.params);
    assert_int_equal(ms_payne_backward(&net, ws, x, dflux, B, gx), MS_OK);
    const char *gw[] = {"gw0", "gw1", "gw2"}, *gb[] = {"gb0", "gb1", "gb2"};
    for (size_t l = 0; l < 3; l++) {
        size_t nw = net.params.t[net.iw[l]].size, nb = net.params.t[net.ib[l]].size;
        nn_check(ms_nn_grad(&net.params, net.iw[l]), nn_fx_get(f, gw[l], nw)->v, nw, RTOL, gw[l]);
        nn_check(ms_nn_grad(&net.params, net.ib[l]), nn_fx_get(f, gb[l], nb)->v, nb, RTOL, gb[l]);
    }
    nn_check(gx, nn_fx_get(f, "gx", B * D)->v, B * D, RTOL, "payne label gradient of the loss");

    /* VJP of the same upstream gradient gives the same label gradient */
    memset(gx, 0, B * D * sizeof *gx);
    assert_int_equal(ms_payne_vjp(&net, ws, dflux, B, gx), MS_OK);
    nn_check(gx, nn_fx_get(f, "gx", B * D)->v, B * D, RTOL, "payne vjp");

    /* full Jacobian (forward mode) against torch.autograd.functional.jacobian */
    assert_int_equal(ms_payne_jacobian(&net, ws, x, B, flux2, jac), MS_OK);
    nn_check(flux2, nn_fx_get(f, "out", B * P)->v, B * P, RTOL, "payne flux of the jacobian path");
    nn_check(jac, nn_fx_get(f, "jac", B * D * P)->v, B * D * P, RTOL, "payne jacobian");

    /* backward/vjp refuse to run without a matching forward pass */
    assert_int_equal(ms_payne_vjp(&net, ws, dflux, B, gx), MS_EINVAL);
    assert_int_equal(ms_payne_forward(&net, ws, x, 9, flux), MS_EINVAL);

    ms_payne_ws_free(ws);
    float *ptrs[] = {x, target, flux, dflux, gx, jac, flux2};
    for (size_t i = 0; i < sizeof ptrs / sizeof *ptrs; i++) ms_free(ptrs[i]);
    ms_payne_free(&net);
    nn_fx_free(f);
}

/* A realistic-width net (3 hidden layers, leaky slope 0.1) with random weights. */
static void random_net(ms_payne *net, size_t D, size_t H, size_t L, size_t P, uint64_t seed)
{
    assert_int_equal(ms_payne_init(net, D, H, L, P, 0.1f), MS_OK);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, seed);
    ms_payne_init_weights(net, &rng);
}

/* The network in double precision with plain loops (reference for finite differences). */
static void forward_double(const ms_payne *net, const double *x, double *flux)
{
    double a[2][256];
    const size_t H = net->n_hidden;
    assert_true(H <= 256);
    const double *in = x;
    size_t n_in = net->n_labels;
    for (size_t l = 0; l <= net->n_layers; l++) {
        const float *w = ms_payne_w(net, l), *bb = ms_payne_b(net, l);
        size_t n_out = l == net->n_layers ? net->n_pix : H;
        double *o = l == net->n_layers ? flux : a[l % 2];
        for (size_t i = 0; i < n_out; i++) {
            double s = bb[i];
            for (size_t k = 0; k < n_in; k++) s += (double)w[i * n_in + k] * in[k];
            o[i] = (l == net->n_layers || s > 0) ? s : net->slope * s;
        }
        in = o;
        n_in = H;
    }
}

static void test_jacobian_consistency(void **state)
{
    (void)state;
    const size_t D = 4, H = 40, L = 3, P = 97, B = 7;
    ms_payne net;
    random_net(&net, D, H, L, P, 5);
    ms_payne_ws *ws;
    assert_int_equal(ms_payne_ws_alloc(&net, B, 1, &ws), MS_OK);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 6);
    float *x = nn_zeros(B * D), *flux = nn_zeros(B * P), *jac = nn_zeros(B * D * P);
    float *f1 = nn_zeros(B * P), *v = nn_zeros(B * P), *gx = nn_zeros(B * D);
    nn_fill(x, B * D, -0.5, 0.5, &rng);
    nn_fill(v, B * P, -1, 1, &rng);
    assert_int_equal(ms_payne_jacobian(&net, ws, x, B, flux, jac), MS_OK);
    assert_int_equal(ms_payne_forward(&net, ws, x, B, f1), MS_OK);
    nn_check_f(flux, f1, B * P, 1e-5, "jacobian-path flux vs forward");

    /* VJP == v . J for every spectrum */
    assert_int_equal(ms_payne_vjp(&net, ws, v, B, gx), MS_OK);
    float want[B * D];
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < D; j++) {
            double s = 0;
            for (size_t p = 0; p < P; p++) s += (double)v[b * P + p] * jac[(b * D + j) * P + p];
            want[b * D + j] = (float)s;
        }
    nn_check_f(gx, want, B * D, 1e-4, "vjp vs v . J");

    /* batch independence: each spectrum alone gives the same rows */
    float jb[D * P], fb[P];
    for (size_t b = 0; b < B; b++) {
        assert_int_equal(ms_payne_jacobian(&net, ws, x + b * D, 1, fb, jb), MS_OK);
        nn_check_f(fb, flux + b * P, P, 1e-4, "batch-1 flux vs batched");
        nn_check_f(jb, jac + b * D * P, D * P, 1e-4, "batch-1 jacobian vs batched");
    }

    /* finite differences of a double-precision forward pass (plain loops over the same
     * weights), central with h = 1e-6: exact to ~1e-8, so the float32 Jacobian is checked
     * to float accuracy rather than to the accuracy of a float difference quotient */
    double *num = calloc(D * P, sizeof(double));
    assert_non_null(num);
    for (size_t b = 0; b < B; b++) {
        for (size_t j = 0; j < D; j++) {
            double xs[D], fp[P], fm[P];
            for (size_t k = 0; k < D; k++) xs[k] = x[b * D + k];
            xs[j] = x[b * D + j] + 1e-6;
            forward_double(&net, xs, fp);
            xs[j] = x[b * D + j] - 1e-6;
            forward_double(&net, xs, fm);
            for (size_t p = 0; p < P; p++) num[j * P + p] = (fp[p] - fm[p]) / 2e-6;
        }
        nn_check(jac + b * D * P, num, D * P, 1e-4, "jacobian vs finite differences");
    }
    free(num);
    ms_payne_ws_free(ws);
    float *ptrs[] = {x, flux, jac, f1, v, gx};
    for (size_t i = 0; i < sizeof ptrs / sizeof *ptrs; i++) ms_free(ptrs[i]);
    ms_payne_free(&net);
}

static void test_emulator_scaling(void **state)
{
    (void)state;
    ms_emulator e;
    ms_emulator_init(&e);
    const size_t D = 2, P = 31, B = 3;
    random_net(&e.net, D, 16, 2, P, 9);
    snprintf(e.labels[0], sizeof e.labels[0], "teff");
    snprintf(e.labels[1], sizeof e.labels[1], "logg");
    e.x_min[0] = 2500;
    e.x_max[0] = 4000;
    e.x_min[1] = 4.0;
    e.x_max[1] = 5.5;
    assert_int_equal(ms_emulator_label_index(&e, "logg"), 1);
    assert_int_equal(ms_emulator_label_index(&e, "m_h"), -1);
    const double y[6] = {2500, 4.0, 3250, 4.75, 3900, 5.1};
    float x[B * D];
    ms_emulator_scale(&e, y, B, x);
    assert_close(x[0], -0.5, 0, 1e-7, "scaled min");
    assert_close(x[2], 0.0, 0, 1e-7, "scaled mid");
    assert_close(x[3], 0.0, 0, 1e-7, "scaled mid");
    ms_payne_ws *ws;
    assert_int_equal(ms_payne_ws_alloc(&e.net, B, 1, &ws), MS_OK);
    float flux[B * P], jac[B * D * P], fs[B * P], js[B * D * P];
    assert_int_equal(ms_emulator_predict(&e, ws, y, B, flux, jac), MS_OK);
    assert_int_equal(ms_payne_jacobian(&e.net, ws, x, B, fs, js), MS_OK);
    nn_check_f(flux, fs, B * P, 1e-6, "emulator flux");
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < D; j++)
            for (size_t p = 0; p < P; p++) js[(b * D + j) * P + p] /= (float)(e.x_max[j] - e.x_min[j]);
    nn_check_f(jac, js, B * D * P, 1e-6, "emulator jacobian in physical units");
    assert_int_equal(ms_emulator_predict(&e, ws, y, B, fs, NULL), MS_OK);
    nn_check_f(fs, flux, B * P, 1e-5, "emulator forward-only path");
    uint64_t h1 = ms_emulator_hash(&e);
    ms_payne_w(&e.net, 1)[3] += 1e-3f;
    assert_true(ms_emulator_hash(&e) != h1);
    const float fm[3] = {1.0f, 0.5f, 0.0f}, fr[3] = {1.01f, 0.49f, 7.0f};
    assert_close(ms_emulator_eq1(fm, fr, 3), 0.015, 1e-5, 0, "Z25 Eq. 1 skips F <= 0");
    ms_payne_ws_free(ws);
    ms_emulator_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_torch),
        cmocka_unit_test(test_jacobian_consistency),
        cmocka_unit_test(test_emulator_scaling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
