/* cmd_train_slam.c: `mstars train-slam`: a SLAM model (per-pixel SVR, L21) from a spectra
 * store joined to reference labels. Driver: src/stage/train_slam.c. */
#include "slam_cli.h"

#include "mstars/log.h"
#include "mstars/par.h"
#include "mstars/slam_job.h"
#include "mstars/workq.h"

#include <stdio.h>
#include <stdlib.h>

static const ms_cli_opt opts[] = {
    MS_SLAM_CLI_TRAIN_OPTS,
    {"out", "FILE", "the SLAM model file to write (HDF5)", 1},
    {"pixels-per-chunk", "N", "pixels handed out per work request (default 16)", 0},
    {"resume", NULL, "continue an interrupted search from <out>.search.h5.journal", 0},
    {NULL, NULL, NULL, 0},
};

static int run(ms_cli_ctx *ctx)
{
    ms_slam_train_job_opts o = {0};
    if (ms_slam_cli_train_opts(ctx, "train-slam", &o.ts, &o.grid)) return 2;
    const char *v = ms_cli_get(ctx, "pixels-per-chunk");
    if (v) {
        char *end;
        long k = strtol(v, &end, 10);
        if (end == v || *end || k < 1) {
            if (ms_par_rank() == 0) fprintf(stderr, "mstars train-slam: --pixels-per-chunk '%s'\n", v);
            return 2;
        }
        o.pixels_per_chunk = (size_t)k;
    }
    char command[4096];
    ms_slam_cli_command(ctx, "train-slam", command, sizeof command);
    o.out = ms_cli_get(ctx, "out");
    o.command = command;
    o.resume = ms_cli_flag(ctx, "resume");
    ms_workq_install_signal_handlers();
    if (ms_par_bind(ctx->cfg.general.blas_threads, NULL) != MS_OK) return ms_cli_fail("train-slam");
    ms_status st = ms_slam_train_job(&ctx->cfg, &o);
    if (st == MS_EINTERRUPTED) return 0;
    return st == MS_OK ? 0 : ms_cli_fail("train-slam");
}

const ms_cli_cmd ms_cmd_train_slam = {
    "train-slam", "train a SLAM model (per-pixel RBF SVR, Li et al. 2021) on labelled spectra", NULL,
    "The training set is the store's usable rows joined to a reference label table (CSV) by "
    "obsid or file name, with optional cuts and a minimum S/N. Labels and, per pixel, fluxes are "
    "standardised; per pixel an epsilon-SVR with an RBF kernel (libsvm) is chosen by k-fold "
    "cross-validated MSE over the grid C x epsilon x gamma (the public SLAM code's default: "
    "2^-5..2^5 x {0.01,0.05,0.1,0.15} x {auto,0.2,0.25,0.3,0.5}, 8 folds; --search coordinate "
    "visits ~1/6 of it). Pixels are handed out over the MPI ranks; the search is journalled in "
    "<out>.search.h5 (--resume continues it). The model file holds the hyperparameters, the "
    "CV-MSE per pixel (the fit's model variance), the label scaling, the training spectra and "
    "the training set's hash; it does not depend on the rank count.",
    opts, 1, run};
