/* cmd_train_cnn.c: `mstars train-cnn`: the L25 CNN ensemble on store rows with reference labels. */
#include "cli.h"
#include "mstars/par.h"
#include "mstars/stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ms_cli_opt opts[] = {
    {"spectra", "FILE", "the spectra store (mstars ingest)", 1},
    {"labels", "CSV", "reference labels: obsid, key or ra+dec, and teff, logg, m_h (or fe_h), alpha_m (those "
                      "present are trained); optional luminosity_class (dM/gM) must agree", 1},
    {"class", "dM|gM", "the luminosity class of this ensemble (store subclass gM* = giants)", 1},
    {"out", "FILE", "model file to write (HDF5)", 1},
    {"rv", "FILE", "rv catalog of this store (mstars rv): rest frames from rv_adopted where "
                   "rv_flag = 1, else the pipeline Z*c (default: the pipeline Z*c for all)", 0},
    {"folds", "K", "ensemble size = cross-validation folds (default 10, L25)", 0},
    {"max-epochs", "N", "epochs per model at most (default 200; early stopping ends most sooner)", 0},
    {"patience", "N", "early stopping: epochs without a better validation loss (default 12)", 0},
    {"checkpoint", "FILE", "checkpoint for --resume (default: <out>.ckpt)", 0},
    {"resume", NULL, "continue from the checkpoint when it exists", 0},
    {"max-time", "SECONDS", "stop with a checkpoint after this wall time (exit code 3)", 0},
    {NULL, NULL, NULL, 0},
};

static int count(const ms_cli_ctx *ctx, const char *name, size_t min, size_t *out)
{
    const char *v = ms_cli_get(ctx, name);
    if (!v) return 0;
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end || n < (long)min) {
        if (ms_par_rank() == 0)
            fprintf(stderr, "mstars train-cnn: --%s '%s' must be an integer >= %zu\n", name, v, min);
        return -1;
    }
    *out = (size_t)n;
    return 0;
}

static int run(ms_cli_ctx *ctx)
{
    const char *out = ms_cli_get(ctx, "out");
    char ckpt[MS_CFG_STR_MAX + 8];
    if (ms_cli_get(ctx, "checkpoint"))
        snprintf(ckpt, sizeof ckpt, "%s", ms_cli_get(ctx, "checkpoint"));
    else
        snprintf(ckpt, sizeof ckpt, "%s.ckpt", out);
    ms_train_cnn_args a = {ms_cli_get(ctx, "spectra"), ms_cli_get(ctx, "labels"),
                           ms_cli_get(ctx, "class"), out, ckpt, 10, 0, 0,
                           ms_cli_flag(ctx, "resume"), 0.0, ms_cli_get(ctx, "rv")};
    if (count(ctx, "folds", 2, &a.folds) || count(ctx, "max-epochs", 1, &a.max_epochs) ||
        count(ctx, "patience", 1, &a.patience))
        return 2;
    if (ms_cli_get(ctx, "max-time")) {
        char *end;
        a.max_time = strtod(ms_cli_get(ctx, "max-time"), &end);
        if (*end || !(a.max_time > 0)) {
            if (ms_par_rank() == 0)
                fprintf(stderr, "mstars train-cnn: --max-time needs a positive number of seconds\n");
            return 2;
        }
    }
    int code = ms_stage_train_cnn(&ctx->cfg, &a);
    return code == 1 ? ms_cli_fail("train-cnn") : code;
}

const ms_cli_cmd ms_cmd_train_cnn = {
    "train-cnn", "train the Li et al. 2025 CNN ensemble on labelled spectra (MPI data-parallel)",
    NULL,
    "Trains the L25 CNN (4 convolutions, 4 max-poolings, 1 dense layer, ReLU) as a K-fold "
    "ensemble: the store's rows are joined to the reference labels by obsid, key or position (join.radius_arcsec), with L25's cuts "
    "(usable row, S/N_max >= 5, the --class), and turned into L25's input: the native "
    "spectrum with its masked pixels dropped, in the rest frame of the chosen RV (--rv: the rv "
    "catalog's rv_adopted where rv_flag = 1, else the pipeline Z*c), 1 A 3900-8899 A, z-scored "
    "per spectrum. Labels are "
    "z-scored; MSE loss, Adam (batch 128, lr 1e-3, halved after 5 epochs without improvement), "
    "early stopping on the held-out fold; each model keeps its best weights. general.seed fixes "
    "the folds, the initial weights and the shuffles; the gradients are summed exactly over the "
    "ranks, so the model file is bit-identical for any rank count. The out-of-fold predictions "
    "calibrate the error (e_cnn^2 = (s std)^2 + floor^2 per label, pulls of unit robust std), "
    "stored in the model. A checkpoint is written every "
    "epoch; --resume continues from it (exit code 3 when --max-time stopped the run).",
    opts, 1, run};
