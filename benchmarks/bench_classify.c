/* bench_classify.c: speed of the L25 classifiers (cnn_class.h) on one core:
 *   - classification per spectrum: the native view (mask, 1 A interpolation 3900-8899 A,
 *     z-score: ms_class_view_native) and the three CNNs (SPT 8 classes, WDM 2, dMgM 2; one
 *     model each) with their softmax (ms_class_predict), batches of 32;
 *   - a training epoch of CNN-SPT (batch 128 in shards of 16, weighted cross-entropy, the
 *     exact fixed-point sum, Adam), as the trainer does it.
 * Synthetic spectra on the LAMOST lattice; the numbers do not depend on the values.
 *   bench_classify [--spectra N] [--repeat R]
 * Prints "classify ..." and "train ..." lines with the median over R repeats (wall and CPU). */
#include "bench_util.h"

#include "mstars/cnn_class.h"
#include "mstars/mem.h"
#include "mstars/native.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    size_t N = 512, R = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        size_t v = (size_t)strtoul(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--spectra")) N = v;
        else if (!strcmp(argv[i], "--repeat")) R = v;
    }
    const size_t P = MS_NATIVE_NPIX, L = MS_CLASS_VIEW_N, IB = 32;
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 1);
    double *wave = ms_malloc_array("wave", P, sizeof(double));
    float *flux = ms_malloc_array("flux", N * P, sizeof(float)), *ivar = ms_malloc_array("ivar", N * P, sizeof(float));
    float *iv2 = ms_malloc_array("iv2", P, sizeof(float)), *x = ms_malloc_array("x", IB * L, sizeof(float));
    uint8_t *mask = ms_calloc("mask", N * P, 1);
    for (size_t k = 0; k < P; k++) wave[k] = pow(10.0, ms_native_loglam(k));
    for (size_t i = 0; i < N * P; i++) {
        flux[i] = (float)(100.0 + 10.0 * ms_nn_rng_normal(&rng));
        ivar[i] = 0.01f;
        mask[i] = ms_nn_rng_uniform(&rng) < 0.01;
    }
    ms_cnn_ensemble e[3];
    const size_t C[3] = {8, 2, 2};
    for (int t = 0; t < 3; t++) {
        ms_cnn_ensemble_init(&e[t]);
        ms_cnn_arch a = ms_cnn_arch_default(L, C[t]);
        ms_cnn_init(&e[t].net[0], &a);
        ms_cnn_init_weights(&e[t].net[0], &rng);
        e[t].n_models = 1;
        e[t].n_labels = C[t];
        e[t].softmax = 1;
    }
    ms_cnn_ws *ws;
    if (ms_cnn_ws_alloc(&e[0].net[0].arch, IB, &ws) != MS_OK) return 1;
    float scratch[32 * 8];
    double prob[32 * 8];
    double *tw = malloc(R * sizeof *tw), *tc = malloc(R * sizeof *tc);
    double *vw = malloc(R * sizeof *vw);
    printf("# L25 classifiers: view 3900-8899 A (%zu px) from the native lattice (%zu px); three "
           "CNNs (8, 2, 2 outputs), %zu weights each (SPT)\n", L, P, e[0].net[0].params.n);
    const size_t done = N / IB * IB;
    for (size_t r = 0; r < R; r++) {
        double w0 = now_s(), c0 = cpu_s(), tv = 0.0;
        for (size_t b0 = 0; b0 < done; b0 += IB) {
            double v0 = now_s();
            for (size_t b = 0; b < IB; b++) {
                const size_t i = b0 + b;
                ms_class_view_native(wave, flux + i * P, ivar + i * P, mask + i * P, P, iv2, x + b * L);
            }
            tv += now_s() - v0;
            for (int t = 0; t < 3; t++) ms_class_predict(&e[t], ws, x, IB, scratch, prob);
        }
        tw[r] = 1e3 * (now_s() - w0) / (double)done;
        tc[r] = 1e3 * (cpu_s() - c0) / (double)done;
        vw[r] = 1e3 * tv / (double)done;
    }
    printf("classify spectra %zu batch %zu: %.3f ms/spectrum wall, %.3f ms/spectrum cpu, view %.3f "
           "ms (median of %zu)\n", done, IB, median(tw, R), median(tc, R), median(vw, R), R);
    /* a training epoch of CNN-SPT on views */
    const size_t batch = 128, shard = 16, nsh = batch / shard, n = e[0].net[0].params.n;
    ms_cnn *net = &e[0].net[0];
    float *xt = ms_malloc_array("xt", N * L, sizeof(float)), *yt = ms_calloc("yt", N * 8, sizeof(float));
    for (size_t i = 0; i < N * L; i++) xt[i] = (float)ms_nn_rng_normal(&rng);
    for (size_t i = 0; i < N; i++) yt[i * 8 + i % 8] = 1.0f;
    const double w[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    ms_nn_optim opt;
    ms_nn_optim_init(&opt, MS_NN_ADAM, n, 1e-3);
    ms_nn_segments segs;
    ms_nn_segments_of(&net->params, &segs);
    float *sg = ms_malloc_array("sg", nsh * n, sizeof(float)), pred[16 * 8], dp[16 * 8];
    long *isum = ms_malloc_array("isum", n, sizeof(long));
    double *scale = ms_malloc_array("scale", segs.segs.n, sizeof(double));
    for (size_t r = 0; r < R; r++) {
        double w0 = now_s(), c0 = cpu_s();
        for (size_t b0 = 0; b0 + batch <= N; b0 += batch) {
            for (size_t s = 0; s < nsh; s++) {
                const float *xs = xt + (b0 + s * shard) * L, *ys = yt + (b0 + s * shard) * 8;
                ms_cnn_forward(net, ws, xs, shard, pred);
                memset(dp, 0, sizeof dp);
                ms_class_ce_loss(pred, ys, w, shard, 8, 1.0 / (double)batch, dp);
                memset(sg + s * n, 0, n * sizeof(float));
                ms_cnn_backward(net, ws, dp, shard, sg + s * n);
            }
            size_t bad;
            ms_comm_sum_exact(ms_comm_serial(), sg, nsh, n, &segs.segs, nsh, isum, scale,
                              net->params.grad, &bad);
            ms_nn_optim_step(&opt, net->params.param, net->params.grad);
        }
        tw[r] = now_s() - w0;
        tc[r] = cpu_s() - c0;
    }
    printf("train spectra %zu batch %zu: %.4f s/epoch wall, %.4f s/epoch cpu (median of %zu)\n", N,
           batch, median(tw, R), median(tc, R), R);
    return 0;
}
