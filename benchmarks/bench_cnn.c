/* bench_cnn.c: speed of the L25 CNN (cnn.h) on one core: a training epoch (batch 128, the
 * trainer's work: shards of 16 spectra, per-shard gradients, the exact fixed-point sum,
 * Adam), ensemble inference per spectrum (K models, batches of 32), and making L25's input
 * from a native spectrum (ms_cnn_native_view: 3910 native pixels, rest frame, 1 A 3900-8899
 * A, z-scored). Synthetic inputs; the numbers do not depend on the values.
 *   bench_cnn [--n-in L] [--spectra N] [--epochs E] [--models K] [--repeat R]
 * Prints "train ..." and "infer ..." lines with the median over R repeats (wall and CPU). */
#include "bench_util.h"

#include "mstars/cnn.h"
#include "mstars/mem.h"
#include "mstars/native.h"

#include <math.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    size_t L = 5000, N = 512, E = 1, K = 10, R = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        size_t v = (size_t)strtoul(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--n-in")) L = v;
        else if (!strcmp(argv[i], "--spectra")) N = v;
        else if (!strcmp(argv[i], "--epochs")) E = v;
        else if (!strcmp(argv[i], "--models")) K = v;
        else if (!strcmp(argv[i], "--repeat")) R = v;
    }
    const size_t D = 4, batch = 128, shard = 16, IB = 32;
    ms_cnn_arch a = ms_cnn_arch_default(L, D);
    ms_cnn net;
    if (ms_cnn_init(&net, &a) != MS_OK) return 1;
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 1);
    ms_cnn_init_weights(&net, &rng);
    const size_t n = net.params.n;
    float *x = ms_malloc_array("x", N * L, sizeof(float)), *y = ms_malloc_array("y", N * D, sizeof(float));
    for (size_t i = 0; i < N * L; i++) x[i] = (float)ms_nn_rng_normal(&rng);
    for (size_t i = 0; i < N * D; i++) y[i] = (float)ms_nn_rng_normal(&rng);
    ms_cnn_ws *ws;
    if (ms_cnn_ws_alloc(&a, IB > shard ? IB : shard, &ws) != MS_OK) return 1;
    ms_nn_optim opt;
    ms_nn_optim_init(&opt, MS_NN_ADAM, n, 1e-3);
    ms_nn_segments segs;
    ms_nn_segments_of(&net.params, &segs);
    const size_t nsh = batch / shard;
    float *sg = ms_malloc_array("sg", nsh * n, sizeof(float));
    float pred[16 * 4], dp[16 * 4];
    long *isum = ms_malloc_array("isum", n, sizeof(long));
    double *scale = ms_malloc_array("scale", segs.segs.n, sizeof(double));
    double *tw = malloc(R * sizeof *tw), *tc = malloc(R * sizeof *tc);
    printf("# L25 CNN: input %zu, channels 8,16,32,32, kernels 9,7,5,3, pools 4,4,2,2, dense %zu -> %zu; "
           "%zu weights\n", L, ms_cnn_fc_in(&a), D, n);
    for (size_t r = 0; r < R; r++) {
        double w0 = now_s(), c0 = cpu_s();
        for (size_t e = 0; e < E; e++)
            for (size_t b0 = 0; b0 + batch <= N; b0 += batch) {
                for (size_t s = 0; s < nsh; s++) {
                    const float *xs = x + (b0 + s * shard) * L, *ys = y + (b0 + s * shard) * D;
                    ms_cnn_forward(&net, ws, xs, shard, pred);
                    memset(dp, 0, sizeof dp);
                    ms_nn_l2_loss_backward(dp, pred, ys, NULL, shard * D, 1.0 / (double)(batch * D));
                    memset(sg + s * n, 0, n * sizeof(float));
                    ms_cnn_backward(&net, ws, dp, shard, sg + s * n);
                }
                size_t bad;
                ms_comm_sum_exact(ms_comm_serial(), sg, nsh, n, &segs.segs, nsh, isum, scale,
                                  net.params.grad, &bad);
                ms_nn_optim_step(&opt, net.params.param, net.params.grad);
            }
        tw[r] = (now_s() - w0) / (double)E;
        tc[r] = (cpu_s() - c0) / (double)E;
    }
    printf("train n_in %zu spectra %zu batch %zu: %.4f s/epoch wall, %.4f s/epoch cpu (median of %zu)\n",
           L, N, batch, median(tw, R), median(tc, R), R);
    /* ensemble inference */
    ms_cnn_ensemble ens;
    ms_cnn_ensemble_init(&ens);
    for (size_t k = 0; k < K; k++) {
        ms_cnn_init(&ens.net[k], &a);
        ms_cnn_init_weights(&ens.net[k], &rng);
    }
    ens.n_models = K;
    ens.n_labels = D;
    for (size_t j = 0; j < D; j++) ens.y_std[j] = 1.0;
    float *scr = ms_malloc_array("scr", K * IB * D, sizeof(float));
    double mean[32 * 4], sd[32 * 4];
    for (size_t r = 0; r < R; r++) {
        double w0 = now_s(), c0 = cpu_s();
        for (size_t b0 = 0; b0 + IB <= N; b0 += IB)
            ms_cnn_ensemble_predict(&ens, ws, x + b0 * L, IB, scr, mean, sd);
        const size_t done = N / IB * IB;
        tw[r] = 1e3 * (now_s() - w0) / (double)done;
        tc[r] = 1e3 * (cpu_s() - c0) / (double)done;
    }
    printf("infer n_in %zu models %zu batch %zu: %.3f ms/spectrum wall, %.3f ms/spectrum cpu (median of %zu)\n",
           L, K, IB, median(tw, R), median(tc, R), R);
    /* the input from native pixels */
    const size_t np = MS_NATIVE_NPIX;
    double *ll = ms_malloc_array("ll", np, sizeof(double));
    float *nf = ms_malloc_array("nf", np, sizeof(float)), *ni = ms_malloc_array("ni", np, sizeof(float));
    uint8_t *nm = ms_malloc_array("nm", np, 1);
    for (size_t k = 0; k < np; k++) {
        ll[k] = ms_native_loglam(k);
        nf[k] = (float)(1.0 + 0.1 * ms_nn_rng_normal(&rng));
        ni[k] = 1.0f;
        nm[k] = k % 97 == 0 ? MS_NATIVE_ORMASK : 0;
    }
    const ms_cnn_view_spec v = ms_cnn_view_l25();
    float *out = ms_malloc_array("out", v.n, sizeof(float));
    for (size_t r = 0; r < R; r++) {
        double w0 = now_s(), c0 = cpu_s();
        for (size_t i = 0; i < N; i++) ms_cnn_native_view(&v, ll, nf, ni, nm, np, 30.0 + (double)i, out);
        tw[r] = 1e3 * (now_s() - w0) / (double)N;
        tc[r] = 1e3 * (cpu_s() - c0) / (double)N;
    }
    printf("input native %zu -> %zu: %.3f ms/spectrum wall, %.3f ms/spectrum cpu (median of %zu)\n",
           np, v.n, median(tw, R), median(tc, R), R);
    return 0;
}
