/* cmd_train_emulator.c: `mstars train-emulator`: train The Payne on a grid store. */
#include "cli.h"
#include "mstars/log.h"
#include "mstars/par.h"
#include "mstars/stage.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ms_cli_opt opts[] = {
    {"grid", "FILE", "grid store written by `mstars ingest-grid` (HDF5)", 1},
    {"out", "FILE", "model file to write (HDF5)", 1},
    {"checkpoint", "FILE", "checkpoint for --resume (default: <out>.ckpt)", 0},
    {"resume", NULL, "continue from the checkpoint when it exists", 0},
    {"max-time", "SECONDS", "stop with a checkpoint after this wall time (exit code 3)", 0},
    {NULL, NULL, NULL, 0},
};

static int run(ms_cli_ctx *ctx)
{
    const char *grid = ms_cli_get(ctx, "grid"), *out = ms_cli_get(ctx, "out");
    char ckpt[MS_CFG_STR_MAX + 8];
    if (ms_cli_get(ctx, "checkpoint"))
        snprintf(ckpt, sizeof ckpt, "%s", ms_cli_get(ctx, "checkpoint"));
    else
        snprintf(ckpt, sizeof ckpt, "%s.ckpt", out);
    double max_time = 0.0;
    if (ms_cli_get(ctx, "max-time")) {
        char *end;
        max_time = strtod(ms_cli_get(ctx, "max-time"), &end);
        if (*end || !(max_time > 0)) {
            if (ms_par_rank() == 0)
                fprintf(stderr, "mstars train-emulator: --max-time needs a positive number of "
                                "seconds\n");
            return 2;
        }
    }
    ms_train_emulator_args a = {grid, out, ckpt, ms_cli_flag(ctx, "resume"), max_time};
    int code = ms_stage_train_emulator(&ctx->cfg, &a);
    return code == 1 ? ms_cli_fail("train-emulator") : code;
}

const ms_cli_cmd ms_cmd_train_emulator = {
    "train-emulator", "train The Payne emulator on a grid store (MPI data-parallel)", NULL,
    "Trains the neural spectral emulator (The Payne: labels -> emulator.layers x emulator.hidden "
    "leaky-ReLU layers -> flux) on the usable models of a grid store, with the labels of "
    "emulator.labels scaled to [-0.5, 0.5]. general.seed fixes the 8:2 train/validation split, "
    "the shuffles and the initial weights; the weights of the best validation loss are kept. "
    "Each rank takes a slice of every mini-batch and the gradients are summed over the ranks, "
    "so the result does not depend on the rank count beyond float rounding. A checkpoint is "
    "written every emulator.checkpoint_every epochs; --resume continues from it (exit code 3 "
    "when --max-time stopped the run). The model file records the weights, label names and "
    "scaling, wavelengths, the configuration, the training history, the Z25 Eq. 1 accuracy of "
    "every validation model and a content hash.",
    opts, 1, run};
