/* bench_nn.c: speed of the neural-network engine on The Payne emulator.
 *
 * Inference (one rank): the Z25 network 4 -> 300 -> 300 -> 2901 (leaky ReLU 0.01) with
 * random weights, at batch 1 and 64:
 *   forward       flux only
 *   jacobian      flux + the full label Jacobian (forward mode, one GEMM of B (D+1) rows)
 *   forward+vjp   flux, then one vector-Jacobian product (the gradient of a chi^2)
 * Reported per spectrum: thread CPU time (us; time-slicing by other jobs on a shared
 * machine does not count), median and minimum of 25 timings.
 *
 * Training (any number of ranks under mpirun): ms_payne_train on a synthetic grid of
 * --models spectra (default 468, the size of config/mock-small.cfg's grid: 13 Teff x 3
 * log g x 4 [M/H] x 3 [alpha/M]) of --pix pixels, the seconds per epoch (validation every
 * 10 epochs included, as in a real run): wall time (best of --repeat runs) and the thread
 * CPU time of the busiest rank (Open MPI's busy-waiting in the all-reduce counts as CPU).
 *
 * Usage: [mpirun -n N] bench_nn [--infer] [--train] [--hidden H] [--layers L] [--pix P]
 *        [--labels D] [--models N] [--batch B] [--epochs E] [--optimizer adam|radam]
 *        [--shard S] [--repeat R]   (training: best of R runs)
 * Set OPENBLAS_NUM_THREADS=1 (one core per rank). */
#include "mstars/config.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/payne.h"

#include "bench_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    long hidden, layers, pix, labels, models, batch, epochs, shard, repeat;
    char optimizer[8];
    int infer, train;
} bench_opts;

/* Median (and *mn the minimum) over `reps` timings of `inner` calls of kind k; us per
 * spectrum. */
static double time_kind(int k, const ms_payne *net, ms_payne_ws *ws, const float *x, size_t B,
                        float *flux, float *jac, const float *v, float *gx, int reps, int inner,
                        double *mn)
{
    double *t = malloc((size_t)reps * sizeof *t);
    if (!t) return NAN;
    for (int r = 0; r < reps; r++) {
        double t0 = cpu_s();
        for (int i = 0; i < inner; i++) {
            if (k == 0) ms_payne_forward(net, ws, x, B, flux);
            if (k == 1) ms_payne_jacobian(net, ws, x, B, flux, jac);
            if (k == 2) {
                ms_payne_forward(net, ws, x, B, flux);
                ms_payne_vjp(net, ws, v, B, gx);
            }
        }
        t[r] = (cpu_s() - t0) / inner / (double)B * 1e6;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    double m = t[reps / 2];
    if (mn) *mn = t[0];
    free(t);
    return m;
}

static int bench_infer(const bench_opts *o)
{
    ms_payne net;
    const size_t D = (size_t)o->labels, P = (size_t)o->pix;
    if (ms_payne_init(&net, D, (size_t)o->hidden, (size_t)o->layers, P, 0.01f) != MS_OK) return 1;
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 1);
    ms_payne_init_weights(&net, &rng);
    const size_t batches[2] = {1, 64};
    ms_payne_ws *ws;
    if (ms_payne_ws_alloc(&net, 64, 1, &ws) != MS_OK) return 1;
    float *x = ms_malloc_array("x", 64 * D, sizeof(float));
    float *flux = ms_malloc_array("flux", 64 * P, sizeof(float));
    float *jac = ms_malloc_array("jac", 64 * D * P, sizeof(float));
    float *v = ms_malloc_array("v", 64 * P, sizeof(float));
    float *gx = ms_calloc("gx", 64 * D, sizeof(float));
    if (!x || !flux || !jac || !v || !gx) return 1;
    ms_nn_init_uniform(x, 64 * D, -0.5, 0.5, &rng);
    ms_nn_init_uniform(v, 64 * P, -1, 1, &rng);
    printf("# inference: The Payne %zu -> %ld x %ld -> %zu, leaky ReLU 0.01, float32, 1 core\n",
           D, o->layers, o->hidden, P);
    printf("# %-8s %18s %18s %18s   (thread CPU us per spectrum: median [min] of 25)\n", "batch",
           "forward", "jacobian", "forward+vjp");
    for (int bi = 0; bi < 2; bi++) {
        size_t B = batches[bi];
        int inner = B == 1 ? 200 : 10;
        double mf, mj, mv;
        time_kind(1, &net, ws, x, B, flux, jac, v, gx, 3, inner, NULL); /* warm up */
        double tf = time_kind(0, &net, ws, x, B, flux, jac, v, gx, 25, inner, &mf);
        double tj = time_kind(1, &net, ws, x, B, flux, jac, v, gx, 25, inner, &mj);
        double tv = time_kind(2, &net, ws, x, B, flux, jac, v, gx, 25, inner, &mv);
        printf("infer batch %-4zu %9.2f [%6.2f] %9.2f [%6.2f] %9.2f [%6.2f]\n", B, tf, mf, tj, mj,
               tv, mv);
    }
    ms_free(x);
    ms_free(flux);
    ms_free(jac);
    ms_free(v);
    ms_free(gx);
    ms_payne_ws_free(ws);
    ms_payne_free(&net);
    return 0;
}

/* A smooth synthetic grid: flux = 1 - sum of label-dependent Gaussian features. */
static void synth(size_t N, size_t D, size_t P, float *flux, double *labels)
{
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 7);
    for (size_t i = 0; i < N; i++) {
        double *y = labels + i * D;
        for (size_t j = 0; j < D; j++) y[j] = ms_nn_rng_uniform(&rng);
        for (size_t p = 0; p < P; p++) {
            double lam = (double)p / (double)P, f = 1.0;
            for (int k = 0; k < 12; k++) {
                double c = (k + 0.5) / 12.0, w = 0.004 + 0.01 * (k % 3);
                double depth = 0.2 * (0.5 + 0.5 * y[k % D]) * (0.7 + 0.3 * y[(k + 1) % D]);
                f -= depth * exp(-0.5 * (lam - c) * (lam - c) / (w * w));
            }
            flux[i * P + p] = (float)f;
        }
    }
}

static int bench_train(const bench_opts *o)
{
    const size_t N = (size_t)o->models, D = (size_t)o->labels, P = (size_t)o->pix;
    float *flux = ms_malloc_array("flux", N * P, sizeof(float));
    double *labels = ms_malloc_array("labels", N * D, sizeof(double));
    if (!flux || !labels) return 1;
    synth(N, D, P, flux, labels);
    ms_payne_data d = {flux, labels, NULL, N, P, D};
    ms_config cfg;
    ms_config_defaults(&cfg);
    ms_payne_train_opts to;
    memset(&to, 0, sizeof to);
    to.cfg = cfg.emulator;
    to.cfg.hidden = o->hidden;
    to.cfg.layers = o->layers;
    to.cfg.batch_size = o->batch;
    to.cfg.epochs = o->epochs;
    to.cfg.validate_every = 10;
    if (o->shard >= 0) to.cfg.shard_size = o->shard;
    snprintf(to.cfg.optimizer, sizeof to.cfg.optimizer, "%s", o->optimizer);
    to.seed = 1;
    to.quiet = 1;
    ms_emulator e;
    double best = INFINITY, sum = 0.0, cbest = INFINITY;
    for (long r = 0; r < o->repeat; r++) {
        ms_emulator_init(&e);
        snprintf(e.labels[0], MS_PAYNE_LABEL_LEN, "teff");
        for (size_t j = 1; j < D; j++) snprintf(e.labels[j], MS_PAYNE_LABEL_LEN, "label%zu", j);
        ms_par_barrier();
        double t0 = ms_par_wtime(), c0 = cpu_s();
        ms_status st = ms_payne_train(&d, &to, &e);
        double t = (ms_par_wtime() - t0) / (double)o->epochs;
        double c = (cpu_s() - c0) / (double)o->epochs;
        ms_par_allreduce_max_d(&t, 1);
        ms_par_allreduce_max_d(&c, 1);
        cbest = c < cbest ? c : cbest;
        if (st != MS_OK) {
            fprintf(stderr, "bench_nn: %s\n", ms_error_message());
            return 1;
        }
        best = t < best ? t : best;
        sum += t;
        if (r + 1 < o->repeat) ms_emulator_free(&e);
    }
    if (ms_par_rank() == 0)
        printf("train ranks %d models %zu (train %zu) pix %zu hidden %ld x %ld batch %ld shard %ld "
               "%s: %.4f s/epoch wall (best of %ld runs of %ld epochs; mean %.4f), %.4f s/epoch "
               "CPU of the busiest rank; val L1 %.3e\n",
               ms_par_size(), N, e.n_train, P, o->layers, o->hidden, o->batch,
               (long)to.cfg.shard_size, o->optimizer, best, o->repeat, o->epochs,
               sum / (double)o->repeat, cbest, e.best_val_loss);
    ms_emulator_free(&e);
    ms_free(flux);
    ms_free(labels);
    return 0;
}

int main(int argc, char **argv)
{
    bench_opts o = {300, 2, 2901, 4, 468, 256, 20, -1, 3, "radam", 0, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "0";
        if (strcmp(a, "--infer") == 0) o.infer = 1;
        else if (strcmp(a, "--train") == 0) o.train = 1;
        else if (strcmp(a, "--hidden") == 0) o.hidden = atol(v), i++;
        else if (strcmp(a, "--layers") == 0) o.layers = atol(v), i++;
        else if (strcmp(a, "--pix") == 0) o.pix = atol(v), i++;
        else if (strcmp(a, "--labels") == 0) o.labels = atol(v), i++;
        else if (strcmp(a, "--models") == 0) o.models = atol(v), i++;
        else if (strcmp(a, "--batch") == 0) o.batch = atol(v), i++;
        else if (strcmp(a, "--epochs") == 0) o.epochs = atol(v), i++;
        else if (strcmp(a, "--shard") == 0) o.shard = atol(v), i++;
        else if (strcmp(a, "--repeat") == 0) o.repeat = atol(v), i++;
        else if (strcmp(a, "--optimizer") == 0) snprintf(o.optimizer, sizeof o.optimizer, "%s", v), i++;
        else {
            fprintf(stderr, "bench_nn: unknown argument %s\n", a);
            return 2;
        }
    }
    if (!o.infer && !o.train) o.infer = o.train = 1;
    ms_log_init();
    if (ms_par_init(&argc, &argv) != MS_OK) return 1;
    int rc = 0;
    if (o.infer && ms_par_rank() == 0) rc = bench_infer(&o);
    if (rc == 0 && o.train) rc = bench_train(&o);
    ms_par_finalize();
    return rc;
}
