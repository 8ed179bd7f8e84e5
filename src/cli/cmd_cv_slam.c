/* cmd_cv_slam.c: `mstars cv-slam`: k-fold cross-validation of SLAM on labelled spectra.
 * Driver: src/stage/cv_slam.c. */
#include "slam_cli.h"

#include "mstars/par.h"
#include "mstars/slam_job.h"

#include <stdio.h>
#include <stdlib.h>

static const ms_cli_opt opts[] = {
    MS_SLAM_CLI_TRAIN_OPTS,
    {"out", "CSV", "per-star predictions (CSV); the summary goes to <out>.summary.txt", 1},
    {"folds", "K", "outer folds (default 10, as L21; 0 or >= n: leave-one-out)", 0},
    {"snr-bins", "LIST", "S/N bin edges for the summary (default 0,20,50,100,inf)", 0},
    {"bootstrap", "B", "bootstrap resamples for the error bars (default 1000)", 0},
    {"calibrate", "MODEL", "write the CV error floors (rms pull = 1) into this train-slam model", 0},
    {NULL, NULL, NULL, 0},
};

static int run(ms_cli_ctx *ctx)
{
    ms_slam_cv_job_opts o = {0};
    if (ms_slam_cli_train_opts(ctx, "cv-slam", &o.ts, &o.grid)) return 2;
    o.folds = 10;
    o.bootstrap = 1000;
    const char *v;
    char *end;
    if ((v = ms_cli_get(ctx, "folds"))) {
        o.folds = (int)strtol(v, &end, 10);
        if (end == v || *end || o.folds < 0) {
            if (ms_par_rank() == 0) fprintf(stderr, "mstars cv-slam: --folds '%s'\n", v);
            return 2;
        }
    }
    if ((v = ms_cli_get(ctx, "bootstrap"))) {
        o.bootstrap = (int)strtol(v, &end, 10);
        if (end == v || *end || o.bootstrap < 0) {
            if (ms_par_rank() == 0) fprintf(stderr, "mstars cv-slam: --bootstrap '%s'\n", v);
            return 2;
        }
    }
    o.snr_bins = ms_cli_get(ctx, "snr-bins");
    o.calibrate = ms_cli_get(ctx, "calibrate");
    o.out = ms_cli_get(ctx, "out");
    char command[4096];
    ms_slam_cli_command(ctx, "cv-slam", command, sizeof command);
    o.command = command;
    if (ms_par_bind(ctx->cfg.general.blas_threads, NULL) != MS_OK) return ms_cli_fail("cv-slam");
    return ms_slam_cv_job(&ctx->cfg, &o) == MS_OK ? 0 : ms_cli_fail("cv-slam");
}

const ms_cli_cmd ms_cmd_cv_slam = {
    "cv-slam", "k-fold cross-validation of SLAM on labelled spectra (bias, scatter, pulls)", NULL,
    "For each of K folds of the training set (same options as train-slam) a SLAM model is "
    "trained on the other folds, with the full per-pixel hyperparameter search (pixels over the "
    "ranks), and the fold's spectra are fitted with it. Writes the per-star predictions (CSV) "
    "and a summary per label, overall and per S/N bin (L21 4.1.1): bias = mean(SLAM - reference), "
    "scatter = sd, both with bootstrap errors, rms, and the pulls (SLAM - reference) / error "
    "(rms and median |pull|; 1 and 0.67 for honest Gaussian errors). The formal errors ignore "
    "the correlation of the model's errors between pixels, so the summary also gives the error "
    "floor F per label that, added in quadrature, makes the rms pull 1 (checked by leave-one-out "
    "over the stars); --calibrate MODEL writes F into a model, and fit-slam then reports "
    "sqrt(formal^2 + F^2).",
    opts, 1, run};
