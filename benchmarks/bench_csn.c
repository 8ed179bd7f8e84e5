/* bench_csn.c: speed of Cycle-StarNet (csn.h) at O'Briain's default sizes.
 *
 * --train: one training iteration (generator forward + backward, gradient sum, Adam;
 *   discriminator forward + backward, gradient sum, Adam) with csn.batch_size spectra per
 *   domain (default 8), through ms_csn_train on random smooth spectra (no validation
 *   inside the timed part). Reported: seconds per iteration (median of --repeat runs of
 *   --iters iterations each) and spectra per second (both domains); under mpirun the
 *   global batch is split over the ranks (throughput scaling). --exact 0|1 chooses
 *   csn.exact_sums.
 * --parts: one rank, the same iteration broken into its parts (step API).
 * --transfer: the fit's transfers at batch 1 and 8: s2o, s2o + its VJP, o2s + VJP (ms per
 *   spectrum).
 *
 * Usage: [mpirun -n N] bench_csn [--train] [--parts] [--transfer] [--pix P] [--batch B]
 *        [--iters I] [--repeat R] [--exact 0|1]
 * Set OPENBLAS_NUM_THREADS=1 (one core per rank). */
#include "mstars/config.h"
#include "mstars/csn.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"

#include "bench_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* n smooth pseudo-spectra of P pixels around 0.9 with absorption features. */
static void fake_spectra(float *f, float *e, size_t n, size_t P, uint64_t seed)
{
    ms_nn_rng r;
    ms_nn_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        double a = ms_nn_rng_uniform(&r), b = ms_nn_rng_uniform(&r);
        for (size_t p = 0; p < P; p++) {
            double x = (double)p / (double)P;
            f[i * P + p] = (float)(0.95 - 0.2 * a * exp(-0.5 * pow((x - 0.3 - 0.2 * b) / 0.02, 2)) -
                                   0.1 * sin(20.0 * x + 3.0 * a) * b +
                                   0.01 * ms_nn_rng_normal(&r));
            if (e) e[i * P + p] = 0.01f + 0.02f * (float)b;
        }
    }
}

static ms_status bench_train(ms_config *cfg, size_t P, int iters, int repeat, double *sec)
{
    const size_t n = 256;
    float *fs = ms_malloc_array("b.fs", n * P, sizeof(float));
    float *fo = ms_malloc_array("b.fo", n * P, sizeof(float));
    float *eo = ms_malloc_array("b.eo", n * P, sizeof(float));
    if (!fs || !fo || !eo) return MS_ENOMEM;
    fake_spectra(fs, NULL, n, P, 1);
    fake_spectra(fo, eo, n, P, 2);
    ms_csn_sets sets = {{fs, NULL, n, P}, {fo, eo, n, P}, {fs, NULL, 8, P}, {fo, eo, 8, P}};
    double t[64];
    for (int r = 0; r < repeat && r < 64; r++) {
        ms_csn net;
        MS_TRY(ms_csn_init(&net, &cfg->csn, P));
        ms_nn_rng rng;
        ms_nn_rng_seed(&rng, 3);
        ms_csn_init_weights(&net, &rng);
        ms_csn_flux_stats(fs, n, P, &net.mean, &net.std);
        ms_csn_state st;
        MS_TRY(ms_csn_state_init(&st, &net));
        /* warm-up: 2 iterations */
        net.cfg.iterations = 2;
        net.cfg.validate_every = 1000000000;
        ms_csn_train_opts o = {1, NULL, 0, 0.0, 1, NULL};
        MS_TRY(ms_csn_train(&net, &sets, &o, &st));
        MS_TRY(ms_par_barrier());
        double t0 = now_s();
        net.cfg.iterations = 2 + iters;
        MS_TRY(ms_csn_train(&net, &sets, &o, &st));
        MS_TRY(ms_par_barrier());
        t[r] = (now_s() - t0) / iters;
        ms_csn_state_free(&st);
        ms_csn_free(&net);
    }
    MS_TRY(ms_par_allreduce_max_d(t, (size_t)repeat));
    *sec = median(t, repeat);
    ms_free(fs);
    ms_free(fo);
    ms_free(eo);
    return MS_OK;
}

static ms_status bench_parts(ms_config *cfg, size_t P, size_t B, int iters)
{
    ms_csn net;
    MS_TRY(ms_csn_init(&net, &cfg->csn, P));
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 3);
    ms_csn_init_weights(&net, &rng);
    float *fs = ms_malloc_array("b.fs", B * P, sizeof(float));
    float *fo = ms_malloc_array("b.fo", B * P, sizeof(float));
    float *eo = ms_malloc_array("b.eo", B * P, sizeof(float));
    if (!fs || !fo || !eo) return MS_ENOMEM;
    fake_spectra(fs, NULL, B, P, 1);
    fake_spectra(fo, eo, B, P, 2);
    ms_csn_flux_stats(fs, B, P, &net.mean, &net.std);
    ms_csn_step *s;
    MS_TRY(ms_csn_step_alloc(&net, B, &s));
    ms_csn_state st;
    MS_TRY(ms_csn_state_init(&st, &net));
    ms_csn_gen_weights gw = ms_csn_gen_weights_from_cfg(&cfg->csn);
    double tf[64], tb[64], td[64], to[64];
    int n = iters < 64 ? iters : 64;
    for (int i = 0; i < n + 1; i++) {
        ms_csn_losses L;
        double t0 = now_s();
        MS_TRY(ms_csn_batch_set(&net, s, fs, NULL, fo, eo, B, B));
        MS_TRY(ms_csn_gen_forward(&net, s, &gw, &L));
        double t1 = now_s();
        ms_nn_params_zero_grad(&net.gen);
        MS_TRY(ms_csn_gen_backward(&net, s, &gw));
        double t2 = now_s();
        ms_nn_optim_step(&st.gen, net.gen.param, net.gen.grad);
        double t3 = now_s();
        ms_nn_params_zero_grad(&net.dis);
        MS_TRY(ms_csn_dis_forward_backward(&net, s, 1.0, &L));
        double t4 = now_s();
        ms_nn_optim_step(&st.dis, net.dis.param, net.dis.grad);
        double t5 = now_s();
        if (i == 0) continue; /* warm-up */
        tf[i - 1] = t1 - t0;
        tb[i - 1] = t2 - t1;
        td[i - 1] = t4 - t3;
        to[i - 1] = (t3 - t2) + (t5 - t4);
    }
    printf("parts (batch %zu per domain, one rank, ms): generator forward %.1f, generator "
           "backward %.1f, discriminator forward+backward %.1f, Adam (both) %.1f\n",
           B, 1e3 * median(tf, n), 1e3 * median(tb, n), 1e3 * median(td, n), 1e3 * median(to, n));
    ms_csn_state_free(&st);
    ms_csn_step_free(s);
    ms_csn_free(&net);
    ms_free(fs);
    ms_free(fo);
    ms_free(eo);
    return MS_OK;
}

static ms_status bench_transfer(ms_config *cfg, size_t P, int iters)
{
    ms_csn net;
    MS_TRY(ms_csn_init(&net, &cfg->csn, P));
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 3);
    ms_csn_init_weights(&net, &rng);
    const size_t Bmax = 8;
    float *x = ms_malloc_array("b.x", Bmax * P, sizeof(float));
    float *v = ms_malloc_array("b.v", Bmax * P, sizeof(float));
    float *out = ms_malloc_array("b.o", Bmax * P, sizeof(float));
    float *gx = ms_calloc("b.g", Bmax * P, sizeof(float));
    float *z = ms_malloc_array("b.z", Bmax * ms_csn_z_sp_floats(&net), sizeof(float));
    if (!x || !v || !out || !gx || !z) return MS_ENOMEM;
    fake_spectra(x, NULL, Bmax, P, 1);
    fake_spectra(v, NULL, Bmax, P, 5);
    ms_csn_flux_stats(x, Bmax, P, &net.mean, &net.std);
    ms_csn_ws *ws;
    MS_TRY(ms_csn_ws_alloc(&net, Bmax, &ws));
    MS_TRY(ms_csn_encode_obs(&net, ws, x, Bmax, z, NULL));
    const size_t Bs[2] = {1, 8};
    for (int k = 0; k < 2; k++) {
        size_t B = Bs[k];
        double t1[64], t2[64], t3[64];
        int n = iters < 64 ? iters : 64;
        for (int i = 0; i < n; i++) {
            double a = now_s();
            MS_TRY(ms_csn_transfer_s2o(&net, ws, x, z, B, out));
            double b = now_s();
            MS_TRY(ms_csn_transfer_s2o_vjp(&net, ws, v, B, gx));
            double c = now_s();
            MS_TRY(ms_csn_transfer_o2s(&net, ws, x, B, out));
            MS_TRY(ms_csn_transfer_o2s_vjp(&net, ws, v, B, gx));
            double d = now_s();
            t1[i] = (b - a) / (double)B;
            t2[i] = (c - a) / (double)B;
            t3[i] = (d - c) / (double)B;
        }
        printf("transfer at batch %zu (ms per spectrum): s2o %.2f, s2o + vjp %.2f, o2s + vjp "
               "%.2f\n",
               B, 1e3 * median(t1, n), 1e3 * median(t2, n), 1e3 * median(t3, n));
    }
    ms_csn_ws_free(ws);
    ms_csn_free(&net);
    ms_free(x);
    ms_free(v);
    ms_free(out);
    ms_free(gx);
    ms_free(z);
    return MS_OK;
}

int main(int argc, char **argv)
{
    ms_log_init();
    if (ms_par_init(&argc, &argv) != MS_OK) return 1;
    ms_log_set_level(MS_LOG_WARN);
    ms_config cfg;
    ms_config_defaults(&cfg);
    int train = 0, parts = 0, transfer = 0, iters = 10, repeat = 3;
    size_t P = 2901;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--train")) train = 1;
        else if (!strcmp(a, "--parts")) parts = 1;
        else if (!strcmp(a, "--transfer")) transfer = 1;
        else if (!strcmp(a, "--pix") && v) P = (size_t)atol(argv[++i]);
        else if (!strcmp(a, "--batch") && v) cfg.csn.batch_size = atol(argv[++i]);
        else if (!strcmp(a, "--iters") && v) iters = atoi(argv[++i]);
        else if (!strcmp(a, "--repeat") && v) repeat = atoi(argv[++i]);
        else if (!strcmp(a, "--exact") && v) cfg.csn.exact_sums = atoi(argv[++i]);
        else {
            fprintf(stderr, "bench_csn: unknown argument %s\n", a);
            return 2;
        }
    }
    if (!train && !parts && !transfer) train = parts = transfer = 1;
    if (repeat < 1) repeat = 1;
    if (iters < 1) iters = 1;
    ms_status st = MS_OK;
    if (ms_par_rank() == 0) {
        ms_csn net;
        if (ms_csn_init(&net, &cfg.csn, P) == MS_OK) {
            char d[512];
            ms_csn_describe(&net, d, sizeof d);
            printf("%s\n", d);
            ms_csn_free(&net);
        }
    }
    if (train) {
        double sec = 0.0;
        st = bench_train(&cfg, P, iters, repeat, &sec);
        if (st == MS_OK && ms_par_rank() == 0)
            printf("train: %d rank(s), batch %ld per domain, exact sums %s: %.3f s per iteration, "
                   "%.1f spectra/s (both domains)\n",
                   ms_par_size(), cfg.csn.batch_size, cfg.csn.exact_sums ? "on" : "off", sec,
                   2.0 * (double)cfg.csn.batch_size / sec);
    }
    if (st == MS_OK && parts && ms_par_rank() == 0)
        st = bench_parts(&cfg, P, (size_t)cfg.csn.batch_size, iters);
    if (st == MS_OK && transfer && ms_par_rank() == 0) st = bench_transfer(&cfg, P, iters);
    if (st != MS_OK) fprintf(stderr, "bench_csn: %s\n", ms_error_message());
    ms_par_finalize();
    return st == MS_OK ? 0 : 1;
}
