/* cmd_classify.c: `mstars train-classifier` and `mstars classify`: the Li et al. 2025 CNN
 * classifiers (CNN-SPT, CNN-WDM, CNN-dMgM). */
#include "cli.h"
#include "mstars/par.h"
#include "mstars/stage_classify.h"
#include "mstars/workq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ms_cli_opt train_opts[] = {
    {"spectra", "FILE", "the spectra store (mstars ingest, with the native view)", 1},
    {"labels", "CSV", "truth table: obsid, spt_class (OB, A, F, G, K, M, GALAXY, QSO), is_wd "
                      "(0/1), lum_class (dwarf, giant or empty)", 1},
    {"task", "spt|wdm|dmgm", "CNN-SPT (8 classes), CNN-WDM (white dwarf against M) or CNN-dMgM "
                             "(M dwarf against M giant)", 1},
    {"out", "FILE", "model file to write (HDF5)", 1},
    {"folds", "K", "folds: one held out for validation (default 4: L25's train:val 3:1)", 0},
    {"models", "M", "models to train, each on its own held-out fold (default 1; the "
                    "probabilities of M models are averaged)", 0},
    {"max-epochs", "N", "epochs per model at most (default 200; early stopping ends most sooner)", 0},
    {"patience", "N", "early stopping: epochs without a better validation loss (default 12)", 0},
    {"checkpoint", "FILE", "checkpoint for --resume (default: <out>.ckpt)", 0},
    {"resume", NULL, "continue from the checkpoint when it exists", 0},
    {"max-time", "SECONDS", "stop with a checkpoint after this wall time (exit code 3)", 0},
    {NULL, NULL, NULL, 0},
};

static int count(const char *cmd, const ms_cli_ctx *ctx, const char *name, size_t min, size_t *out)
{
    const char *v = ms_cli_get(ctx, name);
    if (!v) return 0;
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end || n < (long)min) {
        if (ms_par_rank() == 0)
            fprintf(stderr, "mstars %s: --%s '%s' must be an integer >= %zu\n", cmd, name, v, min);
        return -1;
    }
    *out = (size_t)n;
    return 0;
}

static int run_train(ms_cli_ctx *ctx)
{
    const char *out = ms_cli_get(ctx, "out");
    char ckpt[MS_CFG_STR_MAX + 8], command[4096];
    if (ms_cli_get(ctx, "checkpoint"))
        snprintf(ckpt, sizeof ckpt, "%s", ms_cli_get(ctx, "checkpoint"));
    else
        snprintf(ckpt, sizeof ckpt, "%s.ckpt", out);
    snprintf(command, sizeof command, "mstars train-classifier --spectra %s --labels %s --task %s "
             "--out %s", ms_cli_get(ctx, "spectra"), ms_cli_get(ctx, "labels"),
             ms_cli_get(ctx, "task"), out);
    ms_train_classifier_args a = {ms_cli_get(ctx, "spectra"), ms_cli_get(ctx, "labels"),
                                  ms_cli_get(ctx, "task"), out, ckpt, 0, 0, 0, 0,
                                  ms_cli_flag(ctx, "resume"), 0.0, command};
    const char *c = "train-classifier";
    if (count(c, ctx, "folds", 2, &a.folds) || count(c, ctx, "models", 1, &a.models) ||
        count(c, ctx, "max-epochs", 1, &a.max_epochs) || count(c, ctx, "patience", 1, &a.patience))
        return 2;
    if (ms_cli_get(ctx, "max-time")) {
        char *end;
        a.max_time = strtod(ms_cli_get(ctx, "max-time"), &end);
        if (*end || !(a.max_time > 0)) {
            if (ms_par_rank() == 0)
                fprintf(stderr, "mstars train-classifier: --max-time needs a positive number of "
                                "seconds\n");
            return 2;
        }
    }
    int code = ms_stage_train_classifier(&ctx->cfg, &a);
    return code == 1 ? ms_cli_fail(c) : code;
}

const ms_cli_cmd ms_cmd_train_classifier = {
    "train-classifier", "train a Li et al. 2025 CNN classifier (SPT, WD/M, dM/gM; MPI data-parallel)",
    NULL,
    "Trains one of L25's classifiers on the CNN engine of train-cnn (4 convolutions, 4 "
    "max-poolings, 1 dense layer, ReLU): the store's rows are joined to the truth table by "
    "OBSID, rows with S/N_max < 5 are left out (L25), and each spectrum's view is L25 "
    "preprocessing 1, 3, 4a, 5 of the native view: masked pixels dropped, 1 A, 3900-8899 A, "
    "z-scored, in the observed frame (no rest-frame shift). One-hot labels, softmax, "
    "cross-entropy with class weights 30000/N_class, Adam (batch 128, lr 1e-3, halved after 5 "
    "epochs without improvement), early stopping on the held-out fold (--folds 4: train:val "
    "3:1). Logs the validation accuracy and confusion matrix and keeps them in the model file "
    "(/validation/confusion, validation_accuracy). The gradients are summed exactly over the "
    "ranks: the model file is bit-identical for any rank count. A checkpoint is written every "
    "epoch; --resume continues from it (exit code 3 when --max-time stopped the run).",
    train_opts, 1, run_train};

static const ms_cli_opt classify_opts[] = {
    {"spectra", "FILE", "the spectra store (mstars ingest, with the native view)", 1},
    {"spt", "FILE", "CNN-SPT model (train-classifier --task spt)", 0},
    {"wdm", "FILE", "CNN-WDM model (train-classifier --task wdm)", 0},
    {"dmgm", "FILE", "CNN-dMgM model (train-classifier --task dmgm)", 0},
    {"out", "FILE", "the catalog to write (HDF5; columns of the class group)", 1},
    {"resume", NULL, "continue an interrupted run of the same catalog from its journals", 0},
    {"limit", "N", "only the first N rows of the store", 0},
    {NULL, NULL, NULL, 0},
};

static int run_classify(ms_cli_ctx *ctx)
{
    size_t limit = 0;
    if (count("classify", ctx, "limit", 1, &limit)) return 2;
    char command[4096];
    int k = snprintf(command, sizeof command, "mstars classify --spectra %s --out %s",
                     ms_cli_get(ctx, "spectra"), ms_cli_get(ctx, "out"));
    static const char *names[3] = {"spt", "wdm", "dmgm"};
    for (int t = 0; t < 3 && k < (int)sizeof command; t++)
        if (ms_cli_get(ctx, names[t]))
            k += snprintf(command + k, sizeof command - (size_t)k, " --%s %s", names[t],
                          ms_cli_get(ctx, names[t]));
    ms_workq_install_signal_handlers();
    if (ms_par_bind(ctx->cfg.general.blas_threads, NULL) != MS_OK) return ms_cli_fail("classify");
    ms_classify_args a = {ms_cli_get(ctx, "spectra"), ms_cli_get(ctx, "out"),
                          {ms_cli_get(ctx, "spt"), ms_cli_get(ctx, "wdm"), ms_cli_get(ctx, "dmgm")},
                          ms_cli_flag(ctx, "resume"), limit, command};
    int code = ms_stage_classify(&ctx->cfg, &a);
    return code == 1 ? ms_cli_fail("classify") : code;
}

const ms_cli_cmd ms_cmd_cnn_classify = {
    "classify", "the Li et al. 2025 CNN classifiers over a spectra store (survey job)", NULL,
    "Runs the given classifiers (any of --spt, --wdm, --dmgm) on every row of the store (work "
    "queue over the ranks, resumable catalog) and writes the column group class: class and "
    "class_prob (CNN-SPT: OB, A, F, G, K, M, GALAXY, QSO), wd_prob (CNN-WDM: probability of a "
    "white dwarf), dmgm_prob (CNN-dMgM: probability of an M giant), class_flags and "
    "class_reason; NaN or empty where a model was not given. Exit code 3 when run.max_runtime "
    "stopped the job (--resume continues).",
    classify_opts, 1, run_classify};
