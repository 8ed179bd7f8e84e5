/* test_csn_grad.c: exact lengths of the convolution stack, and finite-difference checks of
 * the transfer VJPs (with respect to the input spectrum) and of the parameter gradients of
 * every loss term, on the tiny architectures (pad and crop modes). */
#include "csn_testlib.h"

#include "mstars/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------- */
/* Lengths */

static void test_lengths_default(void **state)
{
    (void)state;
    ms_config c;
    assert_int_equal(ms_config_defaults(&c), MS_OK);
    /* O'Briain's stack: N(L) = 256 L + 1023 */
    for (size_t L = 2; L < 30; L++) assert_int_equal(ms_csn_length_for_latent(&c.csn, L), 256 * L + 1023);
    size_t n_len, z;
    assert_int_equal(ms_csn_choose_length(&c.csn, 2901, &n_len, &z), MS_OK);
    assert_int_equal(n_len, 3071);
    assert_int_equal(z, 8);
    ms_csn net;
    assert_int_equal(ms_csn_init(&net, &c.csn, 2901), MS_OK);
    assert_int_equal(net.n_len, 3071);
    assert_int_equal(net.z_len, 8);
    assert_int_equal(net.offset, 85);
    assert_int_equal(net.crop, 0);
    /* every block's lengths chain exactly: encoders down, decoders back up */
    const ms_csn_stack *b = net.block;
    assert_int_equal(b[MS_CSN_E_SYNTH].l_out, 191);
    assert_int_equal(b[MS_CSN_E_SYNTH].l_out, b[MS_CSN_D_SH].l_out);
    assert_int_equal(b[MS_CSN_D_SP].l_out, b[MS_CSN_D_SH].l_out);
    assert_int_equal(b[MS_CSN_E_SP].l_out, 8);
    assert_int_equal(b[MS_CSN_G_SYNTH].l_out, 3071);
    assert_int_equal(b[MS_CSN_G_OBS].l_out, 3071);
    assert_int_equal(b[MS_CSN_G_OBS].c_in, 128 + 32);
    assert_int_equal(net.c_synth.n_feat_x, 256 * 2);
    assert_int_equal(net.c_synth.n_feat_z, 512 * 8);
    assert_int_equal(net.c_obs.z.c_in, 25 + 4);
    char desc[512];
    ms_csn_describe(&net, desc, sizeof desc);
    print_message("  %s\n", desc);
    ms_csn_free(&net);
    /* O'Briain's own length: 7167 -> latent 24 */
    assert_int_equal(ms_csn_choose_length(&c.csn, 7167, &n_len, &z), MS_OK);
    assert_int_equal(n_len, 7167);
    assert_int_equal(z, 24);
    /* crop mode */
    snprintf(c.csn.length_mode, sizeof c.csn.length_mode, "crop");
    assert_int_equal(ms_csn_init(&net, &c.csn, 2901), MS_OK);
    assert_int_equal(net.n_len, 2815);
    assert_int_equal(net.z_len, 7);
    assert_int_equal(net.offset, 43);
    ms_csn_free(&net);
    /* too short for any crop */
    assert_int_equal(ms_csn_choose_length(&c.csn, 1500, &n_len, &z), MS_EINVAL);
}

static void test_lengths_invert_exactly(void **state)
{
    (void)state;
    /* random stride/kernel choices: at the chosen length every convolution divides exactly
     * and the decoders give back the encoder lengths (ms_csn_init checks both) */
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 99);
    for (int trial = 0; trial < 40; trial++) {
        ms_cfg_csn k = csn_test_tiny_cfg(0);
        int nd = 1 + (int)ms_nn_rng_below(&rng, 3), ns = 1 + (int)ms_nn_rng_below(&rng, 3);
        double df[4], ds[4], sf[4], ss[4], pf[4];
        for (int i = 0; i < nd; i++) df[i] = 2 + (double)ms_nn_rng_below(&rng, 3), ds[i] = 1 + (double)ms_nn_rng_below(&rng, 4);
        for (int i = 0; i < ns; i++) sf[i] = 2 + (double)ms_nn_rng_below(&rng, 3), ss[i] = 1 + (double)ms_nn_rng_below(&rng, 3), pf[i] = 2;
        csn_test_set_list(&k.dom_filters, nd, df);
        csn_test_set_list(&k.dom_strides, nd, ds);
        csn_test_set_list(&k.sh_filters, ns, sf);
        csn_test_set_list(&k.sh_strides, ns, ss);
        csn_test_set_list(&k.sp_filters, ns, pf);
        csn_test_set_list(&k.sp_strides, ns, ss);
        k.kernel = 1 + (long)ms_nn_rng_below(&rng, 7);
        const double one = 1;
        csn_test_set_list(&k.dis_x_strides, 1, &one);
        csn_test_set_list(&k.dis_x_filters, 1, &one);
        k.dis_kernel = 1;
        size_t n_pix = 40 + (size_t)ms_nn_rng_below(&rng, 400);
        for (int mode = 0; mode < 2; mode++) {
            snprintf(k.length_mode, sizeof k.length_mode, "%s", mode ? "crop" : "pad");
            size_t n_len, z;
            if (ms_csn_choose_length(&k, n_pix, &n_len, &z) != MS_OK) continue;
            if (mode) assert_true(n_len <= n_pix && ms_csn_length_for_latent(&k, z + 1) > n_pix);
            else assert_true(n_len >= n_pix && (z == 2 || ms_csn_length_for_latent(&k, z - 1) < n_pix));
            ms_csn net;
            assert_int_equal(ms_csn_init(&net, &k, n_pix), MS_OK);
            assert_int_equal(net.n_len, n_len);
            assert_int_equal(net.block[MS_CSN_E_SH].l_out, z);
            assert_int_equal(net.block[MS_CSN_G_SYNTH].l_out, n_len);
            ms_csn_free(&net);
        }
    }
    /* a split encoder whose strides do not match the shared one is refused */
    ms_cfg_csn k = csn_test_tiny_cfg(0);
    const double bad[3] = {2, 2, 1};
    csn_test_set_list(&k.sp_strides, 3, bad);
    ms_csn net;
    assert_int_equal(ms_csn_init(&net, &k, 180), MS_EINVAL);
}

/* ------------------------------------------------------------------------------------- */
/* Finite differences */


/* A tiny network with random (xavier) weights times gain, and the fixture's
 * standardisation. */
static void tiny_net(ms_csn *net, int crop, size_t n_pix, uint64_t seed, float gain)
{
    ms_cfg_csn k = csn_test_tiny_cfg(crop);
    assert_int_equal(ms_csn_init(net, &k, n_pix), MS_OK);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, seed);
    csn_test_random_gen_weights(net, &rng, gain);
    for (size_t i = 0; i < net->dis.n_tensors; i++) {
        float *w = ms_nn_param(&net->dis, i);
        const ms_nn_tensor *t = &net->dis.t[i];
        if (t->ndim == 1) nn_fill(w, t->size, -0.1, 0.1, &rng);
        if (strstr(t->name, ".fc.w"))
            for (size_t j = 0; j < t->size; j++) w[j] *= 0.3f;
    }
}


/* sum v . T(x + h u) for T = s2o (dir 0) or o2s (dir 1) */
static double transfer_dot(const ms_csn *net, ms_csn_ws *ws, int dir, const float *x,
                           const float *u, double h, const float *z_sp, const float *v,
                           size_t B, float *xp, float *out)
{
    const size_t n = B * net->n_pix;
    for (size_t i = 0; i < n; i++) xp[i] = (float)((double)x[i] + h * u[i]);
    if (dir == 0)
        assert_int_equal(ms_csn_transfer_s2o(net, ws, xp, z_sp, B, out), MS_OK);
    else
        assert_int_equal(ms_csn_transfer_o2s(net, ws, xp, B, out), MS_OK);
    return csn_test_dot(v, out, n);
}

static void check_transfer_vjp(int crop)
{
    const size_t B = 2, P = crop ? 140 : 180;
    ms_csn net;
    /* gain 2: the instance norms see a variance far above their epsilon, so the transfer is
     * smooth at the small steps that float32 allows */
    tiny_net(&net, crop, P, 11 + (uint64_t)crop, 2.0f);
    ms_csn_ws *ws;
    assert_int_equal(ms_csn_ws_alloc(&net, B, &ws), MS_OK);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 5);
    const size_t n = B * P;
    float *x = nn_zeros(n), *xo = nn_zeros(n), *v = nn_zeros(n), *u = nn_zeros(n);
    float *gx = nn_zeros(n), *xp = nn_zeros(n), *out = nn_zeros(n), *du = nn_zeros(n);
    float *z_sp = nn_zeros(B * ms_csn_z_sp_floats(&net));
    nn_fill(x, n, 0.75, 1.05, &rng);
    nn_fill(xo, n, 0.75, 1.05, &rng);
    nn_fill(v, n, -1, 1, &rng);
    assert_int_equal(ms_csn_encode_obs(&net, ws, xo, B, z_sp, NULL), MS_OK);
    for (int dir = 0; dir < 2; dir++) {
        memset(gx, 0, n * sizeof *gx);
        if (dir == 0) {
            assert_int_equal(ms_csn_transfer_s2o(&net, ws, x, z_sp, B, out), MS_OK);
            assert_int_equal(ms_csn_transfer_s2o_vjp(&net, ws, v, B, gx), MS_OK);
        } else {
            assert_int_equal(ms_csn_transfer_o2s(&net, ws, x, B, out), MS_OK);
            assert_int_equal(ms_csn_transfer_o2s_vjp(&net, ws, v, B, gx), MS_OK);
        }
        /* random directions (single pixels give derivatives below float32's noise) */
        double fd[4], an[4], scale = 0.0;
        for (int trial = 0; trial < 4; trial++) {
            nn_fill(u, n, -1, 1, &rng);
            /* small steps (gain 2 makes the net nonlinear already at 1e-5); the analytic
             * side uses the perturbation actually realised in float */
            const double h = 3e-6;
            double fp = transfer_dot(&net, ws, dir, x, u, h, z_sp, v, B, xp, out);
            memcpy(du, xp, n * sizeof *du);
            double fm = transfer_dot(&net, ws, dir, x, u, -h, z_sp, v, B, xp, out);
            for (size_t i = 0; i < n; i++) du[i] -= xp[i];
            fd[trial] = fp - fm;
            an[trial] = csn_test_dot(gx, du, n);
            scale = fabs(an[trial]) > scale ? fabs(an[trial]) : scale;
        }
        for (int trial = 0; trial < 4; trial++) {
            char what[96];
            snprintf(what, sizeof what, "%s %s vjp, direction %d", crop ? "crop" : "pad",
                     dir ? "o2s" : "s2o", trial);
            if (getenv("MSTARS_NN_VERBOSE"))
                print_message("  %s: fd %.6g analytic %.6g\n", what, fd[trial], an[trial]);
            assert_close(an[trial], fd[trial], 5e-2, 2e-2 * scale, what);
        }
    }
    float *ptrs[] = {x, xo, v, u, gx, xp, out, z_sp, du};
    for (size_t i = 0; i < sizeof ptrs / sizeof *ptrs; i++) ms_free(ptrs[i]);
    ms_csn_ws_free(ws);
    ms_csn_free(&net);
}

static void test_transfer_vjp_pad(void **state)
{
    (void)state;
    check_transfer_vjp(0);
}

static void test_transfer_vjp_crop(void **state)
{
    (void)state;
    check_transfer_vjp(1);
}

/* The generator loss (weights gw) or, with gw NULL, the discriminator loss at the current
 * parameters, for the inputs already in the step. */
static double step_loss(ms_csn *net, ms_csn_step *s, const ms_csn_gen_weights *gw)
{
    ms_csn_losses L;
    const ms_csn_gen_weights all = {{1, 1, 1, 1, 1, 1}};
    assert_int_equal(ms_csn_gen_forward(net, s, gw ? gw : &all, &L), MS_OK);
    if (gw) return L.total_g;
    ms_nn_params_zero_grad(&net->dis);
    assert_int_equal(ms_csn_dis_forward_backward(net, s, 1.0, &L), MS_OK);
    return L.total_d;
}

static void check_param_grads(int crop)
{
    const size_t B = 2, P = crop ? 140 : 180, n = B * P;
    ms_csn net;
    tiny_net(&net, crop, P, 21 + (uint64_t)crop, 1.0f);
    ms_csn_step *s;
    assert_int_equal(ms_csn_step_alloc(&net, B, &s), MS_OK);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 6);
    float *fs = nn_zeros(n), *fo = nn_zeros(n), *eo = nn_zeros(n);
    nn_fill(fs, n, 0.75, 1.05, &rng);
    nn_fill(fo, n, 0.75, 1.05, &rng);
    nn_fill(eo, n, 0.01, 0.05, &rng);
    assert_int_equal(ms_csn_batch_set(&net, s, fs, NULL, fo, eo, B, B), MS_OK);
    const char *terms[7] = {"rec_s", "cyc_s", "rec_o", "cyc_o", "gen_s", "gen_o", "dis"};
    for (int t = 0; t < 7; t++) {
        ms_csn_gen_weights gw = {{0, 0, 0, 0, 0, 0}};
        if (t < 6) gw.w[t] = 1.0;
        ms_nn_params *p = t < 6 ? &net.gen : &net.dis;
        ms_nn_params_zero_grad(&net.gen);
        ms_nn_params_zero_grad(&net.dis);
        ms_csn_losses L;
        double base;
        if (t < 6) {
            assert_int_equal(ms_csn_gen_forward(&net, s, &gw, &L), MS_OK);
            assert_int_equal(ms_csn_gen_backward(&net, s, &gw), MS_OK);
            base = L.total_g;
        } else {
            base = step_loss(&net, s, NULL);
        }
        float *g = nn_zeros(p->n), *keep = nn_zeros(p->n), *u = nn_zeros(p->n);
        float *du = nn_zeros(p->n);
        memcpy(g, p->grad, p->n * sizeof *g);
        memcpy(keep, p->param, p->n * sizeof *keep);
        for (int trial = 0; trial < 3; trial++) {
            /* a random direction, relative to each parameter's size */
            for (size_t i = 0; i < p->n; i++)
                u[i] = (float)(ms_nn_rng_normal(&rng) * (fabs(keep[i]) + 0.02));
            double h = 1e-4, f[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                for (size_t i = 0; i < p->n; i++)
                    p->param[i] = (float)((double)keep[i] + (sgn ? -h : h) * u[i]);
                if (sgn == 0) memcpy(du, p->param, p->n * sizeof *du);
                f[sgn] = step_loss(&net, s, t < 6 ? &gw : NULL);
            }
            for (size_t i = 0; i < p->n; i++) du[i] -= p->param[i];
            memcpy(p->param, keep, p->n * sizeof *keep);
            double fd = f[0] - f[1], an = csn_test_dot(g, du, p->n);
            char what[96];
            snprintf(what, sizeof what, "%s: d %s / d params, direction %d (loss %.4g)",
                     crop ? "crop" : "pad", terms[t], trial, base);
            if (getenv("MSTARS_NN_VERBOSE")) print_message("  %s: fd %.6g analytic %.6g\n", what, fd, an);
            assert_close(an, fd, 1e-2, 1e-6 * fabs(base), what);
        }
        ms_free(g);
        ms_free(keep);
        ms_free(u);
        ms_free(du);
    }
    ms_free(fs);
    ms_free(fo);
    ms_free(eo);
    ms_csn_step_free(s);
    ms_csn_free(&net);
}

static void test_param_grads_pad(void **state)
{
    (void)state;
    check_param_grads(0);
}

static void test_param_grads_crop(void **state)
{
    (void)state;
    check_param_grads(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lengths_default),  cmocka_unit_test(test_lengths_invert_exactly),
        cmocka_unit_test(test_transfer_vjp_pad), cmocka_unit_test(test_transfer_vjp_crop),
        cmocka_unit_test(test_param_grads_pad),  cmocka_unit_test(test_param_grads_crop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
