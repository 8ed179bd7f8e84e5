/* train_emulator.c: the driver of `mstars train-emulator`: rank 0 reads the grid store, every
 * rank gets it, The Payne trains data-parallel (payne.h, with this job's ms_comm), rank 0
 * writes the model file. */
#include "mstars/stage.h"
#include "mstars/h5.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/payne.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Quantile q of sorted s[n], Hyndman-Fan type 7 (as stats.h and `mstars report`). */
static double quantile7(const double *s, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t k = (size_t)pos;
    if (k + 1 >= n) return s[n - 1];
    return s[k] + (pos - (double)k) * (s[k + 1] - s[k]);
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
                 n, 100.0 * quantile7(s, n, 0.5), 100.0 * quantile7(s, n, 0.9),
                 100.0 * s[n - 1], below, n);
    char buf[256];
    size_t off = 0;
    for (size_t j = 0; j < D && off < sizeof buf; j++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s=%g", j ? " " : "", e->labels[j],
                                e->val_labels[worst * D + j]);
    ms_log0_info("worst validation model: grid row %lld (%s)", (long long)e->val_index[worst], buf);
    if (e->pix_err) {
        const size_t P = e->net.n_pix;
        double *v = ms_malloc_array("report.pix", P, sizeof(double));
        if (v) {
            memcpy(v, e->pix_err, P * sizeof(double));
            qsort(v, P, sizeof(double), cmp_double);
            ms_log0_info("emulator error per pixel (RMS over the validation models, added to "
                         "the pixel variance by fit): median %.3f%%, 90th percentile %.3f%%",
                         100.0 * quantile7(v, P, 0.5), 100.0 * quantile7(v, P, 0.9));
            ms_free(v);
        }
    }
    ms_free(s);
}

int ms_stage_train_emulator(const ms_config *cfg, const ms_train_emulator_args *a)
{
    ms_payne_grid g;
    memset(&g, 0, sizeof g);
    ms_status st = MS_OK;
    /* a folder that cannot be written fails now, not at the first checkpoint */
    if (ms_par_rank() == 0) st = ms_h5_check_writable(a->out);
    if (st == MS_OK && ms_par_rank() == 0) st = ms_h5_check_writable(a->checkpoint);
    if (st == MS_OK && ms_par_rank() == 0) st = ms_payne_grid_load(a->grid, cfg->emulator.labels, &g);
    st = ms_par_agree(st);
    if (st == MS_OK) st = ms_payne_grid_bcast(&g, ms_par_comm());
    if (st != MS_OK) {
        ms_payne_grid_free(&g);
        return 1;
    }
    ms_log0_info("grid %s: %zu usable models of %zu, %zu pixels (%.1f-%.1f A), labels %s", a->grid,
                 g.data.n_models, g.n_rows, g.data.n_pix, g.wavelength[0],
                 g.wavelength[g.data.n_pix - 1], cfg->emulator.labels);
    if (g.grid_quality_pass == 0)
        ms_log0_warn("%s (%s): the emulator will learn the sampling noise", g.grid_quality,
                     a->grid);
    else if (g.grid_quality_pass < 0)
        ms_log0_warn("grid quality: %s was written without the quality gate (an older "
                     "ingest-grid): not measured", a->grid);

    ms_emulator e;
    ms_emulator_init(&e);
    memcpy(e.labels, g.names, sizeof e.labels);
    e.grid_quality_pass = g.grid_quality_pass;
    snprintf(e.grid_quality, sizeof e.grid_quality, "%s", g.grid_quality);
    snprintf(e.preprocess_hash, sizeof e.preprocess_hash, "%s", g.preprocess_hash);
    ms_payne_train_opts o = {cfg->emulator, cfg->general.seed, a->checkpoint,
                             a->resume, a->max_time, 0, ms_par_comm()};
    st = ms_payne_train(&g.data, &o, &e);
    if (st == MS_EINTERRUPTED) {
        ms_log0_warn("%s", ms_error_message());
        ms_payne_grid_free(&g);
        ms_emulator_free(&e);
        return 3;
    }
    if (st == MS_OK && ms_par_rank() == 0) {
        e.wavelength = ms_malloc_array("emulator.wavelength", g.data.n_pix, sizeof(double));
        e.config_text = ms_config_to_string(cfg);
        snprintf(e.grid_path, sizeof e.grid_path, "%s", a->grid);
        if (!e.wavelength || !e.config_text) {
            st = MS_ENOMEM;
        } else {
            memcpy(e.wavelength, g.wavelength, g.data.n_pix * sizeof(double));
            char command[2 * MS_CFG_STR_MAX + 64];
            snprintf(command, sizeof command, "mstars train-emulator --grid %s --out %s", a->grid, a->out);
            st = ms_emulator_write(&e, a->out, cfg, command);
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
        ms_log0_info("wrote %s", a->out);
        /* the model is complete: its checkpoint has nothing more to resume */
        if (ms_par_rank() == 0 && remove(a->checkpoint) == 0)
            ms_log_info("removed the checkpoint %s", a->checkpoint);
    }
    ms_payne_grid_free(&g);
    ms_emulator_free(&e);
    return st == MS_OK ? 0 : 1;
}

