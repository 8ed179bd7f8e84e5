/* cmd_predict_cnn.c: `mstars predict-cnn`: the CNN ensemble over a spectra store (survey job). */
#include "cli.h"
#include "mstars/par.h"
#include "mstars/stage.h"
#include "mstars/workq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ms_cli_opt opts[] = {
    {"spectra", "FILE", "the spectra store (mstars ingest)", 1},
    {"model", "FILE", "the CNN ensemble (mstars train-cnn)", 1},
    {"out", "FILE", "the catalog to write (HDF5; columns of the cnn group)", 1},
    {"rv", "FILE", "rv catalog of this store (mstars rv); required when the model was trained "
                   "with --rv, refused when it was not", 0},
    {"resume", NULL, "continue an interrupted run of the same catalog from its journals", 0},
    {"limit", "N", "only the first N rows of the store", 0},
    {NULL, NULL, NULL, 0},
};

static int run(ms_cli_ctx *ctx)
{
    long limit = 0;
    const char *lim = ms_cli_get(ctx, "limit");
    if (lim) {
        char *end;
        limit = strtol(lim, &end, 10);
        if (end == lim || *end || limit < 1) {
            if (ms_par_rank() == 0)
                fprintf(stderr, "mstars predict-cnn: --limit '%s' is not a positive number\n", lim);
            return 2;
        }
    }
    char command[4096];
    const char *rv = ms_cli_get(ctx, "rv");
    snprintf(command, sizeof command, "mstars predict-cnn --spectra %s --model %s --out %s%s%s%s",
             ms_cli_get(ctx, "spectra"), ms_cli_get(ctx, "model"), ms_cli_get(ctx, "out"),
             rv ? " --rv " : "", rv ? rv : "", ms_cli_flag(ctx, "resume") ? " --resume" : "");
    ms_workq_install_signal_handlers();
    if (ms_par_bind(ctx->cfg.general.blas_threads, NULL) != MS_OK) return ms_cli_fail("predict-cnn");
    ms_predict_cnn_args a = {ms_cli_get(ctx, "spectra"), ms_cli_get(ctx, "model"),
                             ms_cli_get(ctx, "out"), command, ms_cli_flag(ctx, "resume"),
                             (size_t)limit, rv, 0};
    int code = ms_stage_predict_cnn(&ctx->cfg, &a);
    return code == 1 ? ms_cli_fail("predict-cnn") : code;
}

const ms_cli_cmd ms_cmd_predict_cnn = {
    "predict-cnn", "the Li et al. 2025 CNN ensemble over a spectra store (survey job)", NULL,
    "Runs every model of a train-cnn ensemble on every usable row of the store (work queue over "
    "the ranks, resumable catalog) on L25's input of each spectrum (native pixels, rest frame of "
    "the chosen RV, as at training): cnn_<label> = mean of the models' predictions, "
    "e_cnn_<label> = the calibrated error (the model's error model on the ensemble spread), "
    "e_cnn_<label>_ens = the spread itself (standard deviation of the models), cnn_rv and "
    "cnn_rv_source (1: rv catalog, 2: pipeline Z*c), cnn_n_models. After the last chunk, parameter_flag (L25 1.5) "
    "is computed over the whole catalog: the Eq. 3 error model per S/N_i bin, the Eq. 4 "
    "3-sigma cut and the Table 10 ranges of the model's class. Exit code 3 when run.max_runtime "
    "stopped the job (--resume continues).",
    opts, 1, run};
