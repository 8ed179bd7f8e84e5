/* test_csn_train.c: the training loop on a toy two-domain problem (the observed domain is
 * the synthetic one times a smooth multiplicative distortion, with an extra absorption
 * line and noise): the synthetic -> observed transfer error falls; checkpoint + resume
 * gives bit-identical weights; the model file round-trips. */
#include "csn_testlib.h"

#include "mstars/h5.h"
#include "mstars/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPIX 180

typedef struct {
    size_t n;
    double *labels; /* [n, 4] */
    float *synth;   /* [n, NPIX] */
    float *obs;     /* [n, NPIX] noiseless observed-domain spectra */
    float *noisy;   /* [n, NPIX] with noise */
    float *err;     /* [n, NPIX] */
} toy_set;

static double wave(size_t p) { return 6000.0 + 2900.0 * (double)p / (NPIX - 1); }

/* The "synthetic gap": a smooth tilt and ripple, and a line the models lack. */
static float observe(float f, size_t p, const double *y)
{
    double lam = wave(p), t = (lam - 7450.0) / 1450.0;
    double distort = 1.0 + 0.06 * t + 0.03 * sin(lam / 180.0);
    double d = (lam - 7100.0) / 12.0;
    double line = 0.15 * (0.6 + 0.4 * (y[0] - 2800.0) / 1200.0) * exp(-0.5 * d * d);
    return (float)(f * distort - line);
}

static void toy_make(toy_set *s, size_t n, uint64_t seed)
{
    s->n = n;
    s->labels = calloc(n * 4, sizeof(double));
    s->synth = nn_zeros(n * NPIX);
    s->obs = nn_zeros(n * NPIX);
    s->noisy = nn_zeros(n * NPIX);
    s->err = nn_zeros(n * NPIX);
    assert_non_null(s->labels);
    double w[NPIX];
    for (size_t p = 0; p < NPIX; p++) w[p] = wave(p);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) {
        double *y = s->labels + i * 4;
        y[0] = 2800.0 + 1200.0 * ms_nn_rng_uniform(&rng);
        y[1] = 4.5 + ms_nn_rng_uniform(&rng);
        y[2] = -1.0 + 1.5 * ms_nn_rng_uniform(&rng);
        y[3] = 0.4 * ms_nn_rng_uniform(&rng);
        nn_synth_spectrum(y, w, NPIX, s->synth + i * NPIX);
        for (size_t p = 0; p < NPIX; p++) {
            float o = observe(s->synth[i * NPIX + p], p, y);
            s->obs[i * NPIX + p] = o;
            s->err[i * NPIX + p] = 0.01f;
            s->noisy[i * NPIX + p] = o + (float)(0.01 * ms_nn_rng_normal(&rng));
        }
    }
}

static void toy_free(toy_set *s)
{
    free(s->labels);
    ms_free(s->synth);
    ms_free(s->obs);
    ms_free(s->noisy);
    ms_free(s->err);
}

static ms_cfg_csn toy_cfg(void)
{
    ms_cfg_csn k = csn_test_tiny_cfg(0);
    const double dom_f[] = {8, 8}, sh_f[] = {16, 16, 16}, sp_f[] = {4, 4, 4};
    csn_test_set_list(&k.dom_filters, 2, dom_f);
    csn_test_set_list(&k.sh_filters, 3, sh_f);
    csn_test_set_list(&k.sp_filters, 3, sp_f);
    k.z_shared = 6;
    k.z_split = 2;
    k.kernel = 5;
    k.flux_mean = 0.0; /* from the synthetic set */
    k.flux_std = 0.0;
    k.learning_rate = 1e-3;
    k.batch_size = 8;
    k.validate_every = 100;
    k.validation_spectra = 32;
    k.checkpoint_every = 1000000;
    k.synthetic_error = 0.01;
    k.err_floor = 0.005;
    return k;
}

static void setup_net(ms_csn *net, const ms_cfg_csn *k, const toy_set *train, uint64_t seed)
{
    assert_int_equal(ms_csn_init(net, k, NPIX), MS_OK);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, seed);
    ms_csn_init_weights(net, &rng);
    ms_csn_flux_stats(train->synth, train->n, NPIX, &net->mean, &net->std);
}

static ms_csn_sets toy_sets(const toy_set *s_train, const toy_set *o_train, const toy_set *val)
{
    ms_csn_sets sets;
    sets.synth_train = (ms_csn_data){s_train->synth, NULL, s_train->n, NPIX};
    sets.obs_train = (ms_csn_data){o_train->noisy, o_train->err, o_train->n, NPIX};
    sets.synth_val = (ms_csn_data){val->synth, NULL, val->n, NPIX};
    sets.obs_val = (ms_csn_data){val->noisy, val->err, val->n, NPIX};
    return sets;
}

/* Mean squared error of the synthetic -> observed transfer of the test stars (z_sp from
 * each star's noisy observed spectrum) against their noiseless observed spectra. */
static double transfer_error(const ms_csn *net, const toy_set *test)
{
    ms_csn_ws *ws;
    assert_int_equal(ms_csn_ws_alloc(net, test->n, &ws), MS_OK);
    float *z = nn_zeros(test->n * ms_csn_z_sp_floats(net)), *out = nn_zeros(test->n * NPIX);
    assert_int_equal(ms_csn_encode_obs(net, ws, test->noisy, test->n, z, NULL), MS_OK);
    assert_int_equal(ms_csn_transfer_s2o(net, ws, test->synth, z, test->n, out), MS_OK);
    double s = 0.0;
    for (size_t i = 0; i < test->n * NPIX; i++) {
        double d = (double)out[i] - test->obs[i];
        s += d * d;
    }
    ms_free(z);
    ms_free(out);
    ms_csn_ws_free(ws);
    return s / (double)(test->n * NPIX);
}

static double identity_error(const toy_set *test)
{
    double s = 0.0;
    for (size_t i = 0; i < test->n * NPIX; i++) {
        double d = (double)test->synth[i] - test->obs[i];
        s += d * d;
    }
    return s / (double)(test->n * NPIX);
}

static void test_transfer_loss_falls(void **state)
{
    (void)state;
    toy_set s_train, o_train, val, test;
    toy_make(&s_train, 256, 1);
    toy_make(&o_train, 256, 2); /* different stars: unpaired domains */
    toy_make(&val, 32, 3);
    toy_make(&test, 32, 4);
    ms_cfg_csn k = toy_cfg();
    /* GAN training converges after 800-3000 iterations here depending on the initial
     * weights (measured over seeds 7-12: transfer MSE at 1500 iterations between 6e-5 and
     * 4e-3; all below the 1.5e-3 of no adaptation by 3000). Seed 8 is a fast one (1.1e-4 at
     * 800 iterations); a change of float rounding anywhere in the engine changes the
     * trajectory, and a slower one would fail the last assertion below while the robust ones
     * hold. */
    k.iterations = getenv("CSN_IT") ? atol(getenv("CSN_IT")) : 1000;
    k.exact_sums = 0; /* one process: the plain sums are the same maths, and cheaper */
    uint64_t wseed = getenv("CSN_SEED") ? (uint64_t)atol(getenv("CSN_SEED")) : 8;
    k.validate_every = 200;
    ms_csn net;
    setup_net(&net, &k, &s_train, wseed);
    double e0 = transfer_error(&net, &test), base = identity_error(&test);
    ms_csn_sets sets = toy_sets(&s_train, &o_train, &val);
    ms_csn_train_opts opt = {20250101, NULL, 0, 0.0, 1, NULL};
    ms_csn_state st;
    assert_int_equal(ms_csn_state_init(&st, &net), MS_OK);
    assert_int_equal(ms_csn_train(&net, &sets, &opt, &st), MS_OK);
    double e1 = transfer_error(&net, &test);
    print_message("  transfer MSE: untrained %.3g, after %ld iterations %.3g; no adaptation "
                  "(identity) %.3g\n",
                  e0, st.iteration, e1, base);
    assert_int_equal(st.iteration, k.iterations);
    assert_int_equal(st.hist.n, (size_t)((k.iterations + 199) / 200));
    const double *last = st.hist.v + (st.hist.n - 1) * MS_CSN_H_COLS, *first = st.hist.v;
    print_message("  validation rec_o %.3g -> %.3g, cyc_o %.3g -> %.3g, z_sh(domains) %.3f\n",
                  first[MS_CSN_H_VREC_O], last[MS_CSN_H_VREC_O], first[MS_CSN_H_VCYC_O],
                  last[MS_CSN_H_VCYC_O], last[MS_CSN_H_VZSH_DOM]);
    for (int c = 0; c < MS_CSN_H_COLS; c++) assert_true(isfinite(last[c]));
    assert_true(last[MS_CSN_H_VREC_O] < first[MS_CSN_H_VREC_O]);
    /* robust: the reconstructions learn, the transfer error falls */
    assert_true(last[MS_CSN_H_VCYC_O] < 0.8 * first[MS_CSN_H_VCYC_O]);
    assert_true(e1 < 0.9 * e0);
    /* seed 8: 9.2e-5 after 1000 iterations, 17x better than no adaptation */
    if (!(e1 < 0.5 * base))
        fail_msg("transfer MSE %.3g after %ld iterations is not below half of no adaptation "
                 "(%.3g): slower convergence (see the comment above) or a regression",
                 e1, st.iteration, base);
    ms_csn_state_free(&st);
    ms_csn_free(&net);
    toy_free(&s_train);
    toy_free(&o_train);
    toy_free(&val);
    toy_free(&test);
}

static void test_checkpoint_resume(void **state)
{
    (void)state;
    toy_set s_train, o_train, val;
    toy_make(&s_train, 64, 1);
    toy_make(&o_train, 64, 2);
    toy_make(&val, 16, 3);
    ms_csn_sets sets = toy_sets(&s_train, &o_train, &val);
    ms_cfg_csn k = toy_cfg();
    k.iterations = 30;
    k.validate_every = 10;
    const double ms[2] = {12, 25};
    csn_test_set_list(&k.lr_milestones, 2, ms); /* a decay on each side of the break */
    /* straight */
    ms_csn a;
    setup_net(&a, &k, &s_train, 9);
    ms_csn_train_opts opt = {5, NULL, 0, 0.0, 1, NULL};
    ms_csn_state sa;
    assert_int_equal(ms_csn_state_init(&sa, &a), MS_OK);
    assert_int_equal(ms_csn_train(&a, &sets, &opt, &sa), MS_OK);
    /* 20 iterations with a checkpoint, then resumed in a fresh network */
    char path[1024];
    snprintf(path, sizeof path, "%s/csn_ckpt.h5", ms_test_tmpdir());
    ms_cfg_csn k20 = k;
    k20.iterations = 20;
    k20.checkpoint_every = 20;
    ms_csn b;
    setup_net(&b, &k20, &s_train, 9);
    ms_csn_train_opts ob = {5, path, 0, 0.0, 1, NULL};
    ms_csn_state sb;
    assert_int_equal(ms_csn_state_init(&sb, &b), MS_OK);
    assert_int_equal(ms_csn_train(&b, &sets, &ob, &sb), MS_OK);
    /* the last iteration writes no checkpoint: write it as the CLI does at the end */
    assert_int_equal(ms_csn_checkpoint_write(path, &b, &sb), MS_OK);
    ms_csn c;
    setup_net(&c, &k, &s_train, 1234); /* different weights: the checkpoint replaces them */
    c.mean = c.std = 1.0f;
    ms_csn_train_opts oc = {5, path, 1, 0.0, 1, NULL};
    ms_csn_state sc;
    assert_int_equal(ms_csn_state_init(&sc, &c), MS_OK);
    assert_int_equal(ms_csn_train(&c, &sets, &oc, &sc), MS_OK);
    assert_int_equal(sc.iteration, 30);
    assert_int_equal(sc.hist.n, sa.hist.n);
    assert_true(c.mean == a.mean && c.std == a.std);
    assert_memory_equal(c.gen.param, a.gen.param, a.gen.n * sizeof(float));
    assert_memory_equal(c.dis.param, a.dis.param, a.dis.n * sizeof(float));
    for (size_t i = 0; i < sa.hist.n; i++)
        for (int col = 0; col < MS_CSN_H_SECONDS; col++)
            assert_true(sc.hist.v[i * MS_CSN_H_COLS + col] == sa.hist.v[i * MS_CSN_H_COLS + col]);
    /* a checkpoint of another architecture is refused */
    ms_cfg_csn other = k;
    other.z_split = 3;
    ms_csn d;
    setup_net(&d, &other, &s_train, 1);
    ms_csn_state sd;
    assert_int_equal(ms_csn_state_init(&sd, &d), MS_OK);
    assert_int_equal(ms_csn_checkpoint_read(path, &d, &sd), MS_EFORMAT);
    ms_csn_state_free(&sd);
    ms_csn_free(&d);

    /* model file round trip */
    char mpath[1024];
    snprintf(mpath, sizeof mpath, "%s/csn_model.h5", ms_test_tmpdir());
    ms_csn_record rec;
    memset(&rec, 0, sizeof rec);
    snprintf(rec.emulator_hash, sizeof rec.emulator_hash, "0123456789abcdef");
    snprintf(rec.emulator_path, sizeof rec.emulator_path, "emulator.h5");
    rec.hist = sa.hist;
    rec.n_synth_train = 64;
    rec.wavelength = calloc(NPIX, sizeof(double));
    assert_non_null(rec.wavelength);
    for (size_t p = 0; p < NPIX; p++) rec.wavelength[p] = wave(p);
    assert_int_equal(ms_csn_model_write(mpath, &a, &rec, NULL, "test"), MS_OK);
    free(rec.wavelength);
    ms_csn m;
    ms_csn_record r2;
    assert_int_equal(ms_csn_model_read(mpath, &m, &r2), MS_OK);
    assert_string_equal(r2.emulator_hash, "0123456789abcdef");
    assert_int_equal(r2.hist.n, sa.hist.n);
    assert_int_equal(r2.n_synth_train, 64);
    assert_true(r2.wavelength && r2.wavelength[NPIX - 1] == 8900.0);
    assert_int_equal(m.n_len, a.n_len);
    assert_true(m.mean == a.mean && m.std == a.std);
    assert_memory_equal(m.gen.param, a.gen.param, a.gen.n * sizeof(float));
    assert_memory_equal(m.dis.param, a.dis.param, a.dis.n * sizeof(float));
    assert_int_equal(m.cfg.z_shared, 6);
    assert_int_equal(m.cfg.kernel, 5);
    ms_csn_record_free(&r2);
    ms_csn_free(&m);

    ms_csn_state_free(&sa);
    ms_csn_state_free(&sb);
    ms_csn_state_free(&sc);
    ms_csn_free(&a);
    ms_csn_free(&b);
    ms_csn_free(&c);
    toy_free(&s_train);
    toy_free(&o_train);
    toy_free(&val);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfer_loss_falls),
        cmocka_unit_test(test_checkpoint_resume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
