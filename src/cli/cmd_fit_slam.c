/* cmd_fit_slam.c: `mstars fit-slam`: every spectrum of a store fitted with a SLAM model.
 * Driver: src/stage/fit_slam.c. */
#include "cli.h"

#include "mstars/log.h"
#include "mstars/par.h"
#include "mstars/slam_job.h"
#include "mstars/workq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ms_cli_opt opts[] = {
    {"spectra", "FILE", "the spectra store (mstars ingest)", 1},
    {"model", "FILE", "the SLAM model (mstars train-slam)", 1},
    {"out", "FILE", "the catalog to write (HDF5)", 1},
    {"resume", NULL, "continue an interrupted run of the same catalog from its journals", 0},
    {"limit", "N", "fit only the first N rows of the store", 0},
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
            if (ms_par_rank() == 0) fprintf(stderr, "mstars fit-slam: --limit '%s'\n", lim);
            return 2;
        }
    }
    char command[4096];
    snprintf(command, sizeof command, "mstars fit-slam --spectra %s --model %s --out %s%s%s%s",
             ms_cli_get(ctx, "spectra"), ms_cli_get(ctx, "model"), ms_cli_get(ctx, "out"),
             ms_cli_flag(ctx, "resume") ? " --resume" : "", lim ? " --limit " : "", lim ? lim : "");
    ms_workq_install_signal_handlers();
    if (ms_par_bind(ctx->cfg.general.blas_threads, NULL) != MS_OK) return ms_cli_fail("fit-slam");
    ms_slam_fit_job_opts o = {ms_cli_get(ctx, "spectra"), ms_cli_get(ctx, "model"),
                              ms_cli_get(ctx, "out"), command, ms_cli_flag(ctx, "resume"),
                              (size_t)limit};
    ms_slam_fit_summary s;
    if (ms_slam_fit_job(&ctx->cfg, &o, &s) != MS_OK) return ms_cli_fail("fit-slam");
    double rate = s.seconds > 0 ? (double)s.fitted / s.seconds : 0;
    ms_log0_info("fit-slam: %ld rows; this run fitted %ld (%ld flagged failed, %ld unusable store "
                 "rows) in %.1f s: %.1f spectra/s on %d rank(s)", s.rows, s.fitted, s.flagged,
                 s.skipped, s.seconds, rate, ms_par_size());
    if (!s.complete) {
        ms_log0_info("fit-slam: stopped before the end; resubmit with --resume to finish %s", o.out);
        return 0;
    }
    ms_log0_info("fit-slam: wrote %s", o.out);
    return 0;
}

const ms_cli_cmd ms_cmd_fit_slam = {
    "fit-slam", "fit every spectrum of a store with a SLAM model into one catalog", NULL,
    "The survey job with a SLAM model (mstars train-slam): chunks of run.chunk_size spectra are "
    "handed out over the ranks; each spectrum is fitted by maximum likelihood (L21 Eq. 3: "
    "sigma^2 = sigma_obs^2 + CV-MSE per pixel), bounded L-BFGS-B inside the training label box "
    "from the best-matching training spectrum, errors from the Gauss-Newton covariance. The "
    "catalog (id, obsid, ra, dec, snr_r, snr_i, store_status and the slam column group: "
    "slam_<label>, e_slam_<label>, slam_<label>_start, slam_chi2, slam_chi2_red, slam_n_pix, "
    "slam_iterations, slam_flags) is journalled per chunk: --resume continues a killed run.",
    opts, 1, run};
