/* cmd_train_emulator.c: `mstars train-emulator`: train The Payne on a grid store. */
#include "cli.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/payne.h"

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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Accuracy summary of the validation models (Z25 Eq. 1). */
static void report_accuracy(const ms_emulator *e)
{
    size_t n = e->n_val, D = e->net.n_labels;
    double *s = ms_malloc_array("report", n, sizeof(double));
    if (!s || n == 0) {
        ms_free(s);
        return;
    }
    memcpy(s, e->val_accuracy, n * sizeof(double));
    qsort(s, n, sizeof(double), cmp_double);
    size_t below = 0, worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (e->val_accuracy[i] < 0.01) below++;
        if (e->val_accuracy[i] > e->val_accuracy[worst]) worst = i;
    }
    ms_log0_info("validation accuracy (Z25 Eq. 1, %zu models): median %.3f%%, 90th percentile "
                 "%.3f%%, max %.3f%%; %zu of %zu below 1%%",
                 n, 100.0 * s[n / 2], 100.0 * s[(size_t)(0.9 * (double)(n - 1))],
                 100.0 * s[n - 1], below, n);
    char buf[256];
    size_t off = 0;
    for (size_t j = 0; j < D && off < sizeof buf; j++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s=%g", j ? " " : "", e->labels[j],
                                e->val_labels[worst * D + j]);
    ms_log0_info("worst validation model: grid row %lld (%s)", (long long)e->val_index[worst], buf);
    ms_free(s);
}

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
    ms_payne_grid g;
    memset(&g, 0, sizeof g);
    ms_status st = MS_OK;
    if (ms_par_rank() == 0) st = ms_payne_grid_load(grid, ctx->cfg.emulator.labels, &g);
    st = ms_par_agree(st);
    if (st == MS_OK) st = ms_payne_grid_bcast(&g);
    if (st != MS_OK) {
        ms_payne_grid_free(&g);
        return ms_cli_fail("train-emulator");
    }
    ms_log0_info("grid %s: %zu usable models of %zu, %zu pixels (%.1f-%.1f A), labels %s", grid,
                 g.data.n_models, g.n_rows, g.data.n_pix, g.wavelength[0],
                 g.wavelength[g.data.n_pix - 1], ctx->cfg.emulator.labels);

    ms_emulator e;
    ms_emulator_init(&e);
    memcpy(e.labels, g.names, sizeof e.labels);
    ms_payne_train_opts o = {ctx->cfg.emulator, ctx->cfg.general.seed, ckpt,
                             ms_cli_flag(ctx, "resume"), max_time, 0};
    st = ms_payne_train(&g.data, &o, &e);
    if (st == MS_EINTERRUPTED) {
        ms_log0_warn("%s", ms_error_message());
        ms_payne_grid_free(&g);
        ms_emulator_free(&e);
        return 3;
    }
    if (st == MS_OK && ms_par_rank() == 0) {
        e.wavelength = ms_malloc_array("emulator.wavelength", g.data.n_pix, sizeof(double));
        e.config_text = ms_config_to_string(&ctx->cfg);
        snprintf(e.grid_path, sizeof e.grid_path, "%s", grid);
        if (!e.wavelength || !e.config_text) {
            st = MS_ENOMEM;
        } else {
            memcpy(e.wavelength, g.wavelength, g.data.n_pix * sizeof(double));
            char command[2 * MS_CFG_STR_MAX + 64];
            snprintf(command, sizeof command, "mstars train-emulator --grid %s --out %s", grid, out);
            st = ms_emulator_write(&e, out, &ctx->cfg, command);
        }
    }
    st = ms_par_agree(st);
    if (st == MS_OK) {
        if (ms_par_rank() == 0) {
            char hex[17];
            snprintf(hex, sizeof hex, "%016llx", (unsigned long long)ms_emulator_hash(&e));
            ms_log0_info("content hash %s", hex);
        }
        ms_log0_info("best validation loss %.4e at epoch %ld of %ld; %.1f s", e.best_val_loss,
                     e.best_epoch, e.epochs_run, e.train_seconds);
        report_accuracy(&e);
        ms_log0_info("wrote %s", out);
    }
    ms_payne_grid_free(&g);
    ms_emulator_free(&e);
    return st == MS_OK ? 0 : ms_cli_fail("train-emulator");
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
