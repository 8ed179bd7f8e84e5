/* cmd_laspm.c: `mstars laspm`: empirical-library matching of a store (stage_laspm.h). */
#include "cli.h"
#include "mstars/log.h"
#include "mstars/par.h"
#include "mstars/stage_laspm.h"
#include "mstars/workq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ms_cli_opt opts[] = {
    {"spectra", "FILE", "the spectra store (mstars ingest)", 1},
    {"library", "FILE", "the library (mstars build-library), on the store's wavelength grid", 1},
    {"out", "FILE", "the catalog to write (HDF5)", 1},
    {"resume", NULL, "continue an interrupted run of the same catalog from its journals", 0},
    {"limit", "N", "match only the first N rows of the store", 0},
    {"leave-out-self", NULL, "leave out the library entries of each spectrum's own star (a "
                             "library built from the same store: leave-one-out)", 0},
    {"wave-min", "A", "start of the match range (default 6000)", 0},
    {"wave-max", "A", "end of the match range (default 8800)", 0},
    {"weights", "nnls|inv-chi2", "how the five best matches are combined (default nnls)", 0},
    {"n-curv", "N", "best matches used for the chi2 curvature (default 20)", 0},
    {"max-runtime", "SECONDS", "start no new chunk after this time, save the state and exit 0", 0},
    {NULL, NULL, NULL, 0},
};

static int run(ms_cli_ctx *ctx)
{
    ms_config cfg = ctx->cfg;
    ms_laspm_run_opts o;
    memset(&o, 0, sizeof o);
    ms_laspm_opts_default(&o.match);
    double limit = 0, n_curv = (double)o.match.n_curv;
    const char *t;
    if (!ms_cli_number(ctx, "max-runtime", 0, INFINITY, &cfg.run.max_runtime) ||
        !ms_cli_number(ctx, "limit", 1, INFINITY, &limit) ||
        !ms_cli_number(ctx, "wave-min", -INFINITY, INFINITY, &o.match.wave_min) ||
        !ms_cli_number(ctx, "wave-max", -INFINITY, INFINITY, &o.match.wave_max) ||
        !ms_cli_number(ctx, "n-curv", 4, 256, &n_curv))
        return 2;
    o.limit = (size_t)limit;
    o.match.n_curv = (size_t)n_curv;
    if ((t = ms_cli_get(ctx, "weights"))) {
        if (strcmp(t, "nnls") == 0) o.match.weighting = MS_LASPM_W_NNLS;
        else if (strcmp(t, "inv-chi2") == 0) o.match.weighting = MS_LASPM_W_INVCHI2;
        else {
            if (ms_par_rank() == 0)
                fprintf(stderr, "mstars laspm: --weights '%s' is neither nnls nor inv-chi2\n", t);
            return 2;
        }
    }
    o.spectra = ms_cli_get(ctx, "spectra");
    o.library = ms_cli_get(ctx, "library");
    o.out = ms_cli_get(ctx, "out");
    o.resume = ms_cli_flag(ctx, "resume");
    o.leave_out_self = ms_cli_flag(ctx, "leave-out-self");
    char command[4096];
    snprintf(command, sizeof command, "mstars laspm --spectra %s --library %s --out %s%s%s "
             "(%s, %.1f-%.1f A, n_curv %zu)%s%s", o.spectra, o.library, o.out,
             o.leave_out_self ? " --leave-out-self" : "", o.resume ? " --resume" : "",
             o.match.weighting == MS_LASPM_W_NNLS ? "nnls" : "inv-chi2", o.match.wave_min,
             o.match.wave_max, o.match.n_curv, ctx->config_path ? " --config " : "",
             ctx->config_path ? ctx->config_path : "");
    o.command = command;
    ms_workq_install_signal_handlers();
    if (ms_par_bind(cfg.general.blas_threads, NULL) != MS_OK) return ms_cli_fail("laspm");
    ms_laspm_summary s;
    if (ms_stage_laspm(&cfg, &o, &s) != MS_OK) return ms_cli_fail("laspm");
    double rate = s.seconds > 0 ? (double)(s.matched + s.skipped) / s.seconds : 0.0;
    ms_log0_info("laspm: %ld rows; this run matched %ld (%ld without pixels, %ld unusable store "
                 "rows) in %.1f s: %.1f spectra/s on %d rank(s), %.2f per rank", s.rows,
                 s.matched, s.failed, s.skipped, s.seconds, rate, ms_par_size(),
                 rate / ms_par_size());
    if (!s.complete) {
        ms_log0_info("laspm: stopped before the end; resubmit with --resume to finish %s", o.out);
        return 0;
    }
    ms_log0_info("laspm: wrote %s", o.out);
    return 0;
}

const ms_cli_cmd ms_cmd_laspm = {
    "laspm", "match every spectrum of a store against an empirical library (LASPM)", NULL,
    "Du et al. 2025's LASPM: each spectrum's chi2 against every library spectrum over "
    "6000-8800 A (the library's view: calibrated = store flux x continuum, or normalised), each "
    "library spectrum scaled by its own best second-order multiplicative polynomial (two GEMMs "
    "per batch, include/mstars/laspm.h); the labels of the combination of the five best "
    "matches that minimises chi2 (non-negative weights, one shared polynomial); errors from "
    "the five's spread and the chi2 curvature. Pixels of the store's fit_mask are not used. "
    "Rank 0 hands out chunks of run.chunk_size spectra; each finished chunk is journalled, so "
    "--resume continues an interrupted run. Columns: group laspm of the schema.",
    opts, 1, run};
