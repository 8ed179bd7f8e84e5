/* cmd_fit.c: `mstars fit`: the survey job (survey.h). */
#include "cli.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/survey.h"
#include "mstars/workq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const ms_cli_opt opts[] = {
    {"spectra", "FILE", "the spectra store (mstars ingest)", 1},
    {"emulator", "FILE", "the emulator model (mstars train-emulator); required unless --methods "
                         "leaves out z25", 0},
    {"out", "FILE", "the catalog to write (HDF5)", 1},
    {"csn", "FILE", "a Cycle-StarNet model (mstars train-csn, on the same emulator): final fit in "
                    "the observed domain", 0},
    {"resume", NULL, "continue an interrupted run of the same catalog from its journals (a "
                     "complete catalog: nothing to do, exit 0)", 0},
    {"force", NULL, "replace an existing complete catalog (otherwise refused)", 0},
    {"limit", "N", "fit only the first N rows of the store (a trial run; the catalog has N rows)", 0},
    {"max-runtime", "SECONDS", "start no new chunk after this time, save the state and exit 0 "
                               "(overrides run.max_runtime)", 0},
    {"models", "FILE", "also write the best-fit model spectra (HDF5, row i = catalog row i; "
                       "not with --resume or --methods)", 0},
    {"methods", "LIST", "several methods in one pass over the store into one catalog (issue 24): "
                        "a comma-separated subset of class,lum,rv,z25,slam,cnn,cnn_gm,laspm (run in that order; "
                        "the classification routes the rows, the rv velocity starts the others), "
                        "with the recommended labels", 0},
    {"templates", "DIR", "--methods rv: the template library (as mstars rv --templates)", 0},
    {"slam-model", "FILE", "--methods slam: the SLAM model (mstars train-slam)", 0},
    {"cnn-model", "FILE", "--methods cnn: the CNN ensemble (mstars train-cnn)", 0},
    {"cnn-gm-model", "FILE", "--methods cnn_gm: the M giants' CNN ensemble (mstars train-cnn "
                             "--class gM; run on the giants, run.giants_only)", 0},
    {"laspm-library", "FILE", "--methods laspm: the empirical library (mstars build-library)", 0},
    {"spt", "FILE", "--methods class: CNN-SPT model (as mstars classify --spt)", 0},
    {"wdm", "FILE", "--methods class: CNN-WDM model (as mstars classify --wdm)", 0},
    {"dmgm", "FILE", "--methods class: CNN-dMgM model (as mstars classify --dmgm)", 0},
    {"leave-out-self", NULL, "--methods laspm: leave out the library entries of each spectrum's "
                             "own star (as mstars laspm --leave-out-self)", 0},
    {"tm-range", "MIN,MAX", "--methods rv: the template-matching range, A (as mstars rv "
                            "--tm-range)", 0},
    {"reference", "FILE", "--methods: labels of rows that NONE of the methods trained on (as "
                          "combine --reference): the error scales of the recommended labels", 0},
    {NULL, NULL, NULL, 0},
};

/* Finished work is never redone silently (issue 18): a complete catalog at --out is refused
 * unless --force, and --resume on it does nothing. Rank 0 looks; every rank gets the answer:
 * -1 go on, else the exit status. */
static int existing_catalog(ms_cli_ctx *ctx)
{
    const char *out = ms_cli_get(ctx, "out");
    int32_t code = -1;
    char journal[4200];
    snprintf(journal, sizeof journal, "%s.journal", out);
    /* journals of an interrupted --force run: --resume continues that run */
    int journals = access(journal, F_OK) == 0;
    if (ms_par_rank() == 0 && access(out, F_OK) == 0 && !(journals && ms_cli_flag(ctx, "resume"))) {
        if (ms_cli_flag(ctx, "resume")) {
            ms_log_info("fit: %s is already complete: nothing to resume (its calibration and "
                        "cut columns are kept); use --force without --resume to fit it again",
                        out);
            code = 0;
        } else if (!ms_cli_flag(ctx, "force")) {
            ms_log_error("fit: %s exists (a finished catalog): not overwritten; use --force to "
                         "replace it, or choose another --out", out);
            code = 1;
        }
    }
    if (ms_par_bcast(&code, sizeof code) != MS_OK) return 1;
    return code;
}

/* fit --methods (survey.h: ms_fit_methods). */
static int run_methods(ms_cli_ctx *ctx, ms_config *cfg, long limit)
{
    if (ms_cli_get(ctx, "models")) {
        if (ms_par_rank() == 0) fprintf(stderr, "mstars fit: --models is not available with --methods\n");
        return 2;
    }
    const char *opt[] = {"emulator", "csn", "templates", "slam-model", "cnn-model", "cnn-gm-model",
                         "laspm-library",
                         "spt", "wdm", "dmgm", "reference", "tm-range"};
    char command[8192];
    int len = snprintf(command, sizeof command, "mstars fit --methods %s --spectra %s --out %s",
                       ms_cli_get(ctx, "methods"), ms_cli_get(ctx, "spectra"), ms_cli_get(ctx, "out"));
    for (size_t k = 0; k < sizeof opt / sizeof opt[0]; k++)
        if (ms_cli_get(ctx, opt[k]) && len > 0 && (size_t)len < sizeof command)
            len += snprintf(command + len, sizeof command - (size_t)len, " --%s %s", opt[k],
                            ms_cli_get(ctx, opt[k]));
    if (ms_cli_flag(ctx, "leave-out-self") && len > 0 && (size_t)len < sizeof command)
        len += snprintf(command + len, sizeof command - (size_t)len, " --leave-out-self");
    if (limit && len > 0 && (size_t)len < sizeof command)
        len += snprintf(command + len, sizeof command - (size_t)len, " --limit %ld", limit);
    if (len > 0 && (size_t)len < sizeof command)
        snprintf(command + len, sizeof command - (size_t)len, "%s%s%s",
                 ms_cli_flag(ctx, "resume") ? " --resume" : "", ctx->config_path ? " --config " : "",
                 ctx->config_path ? ctx->config_path : "");
    ms_workq_install_signal_handlers();
    if (ms_par_bind(cfg->general.blas_threads, NULL) != MS_OK) return ms_cli_fail("fit");
    ms_fit_methods_opts o = {ms_cli_get(ctx, "methods"), ms_cli_get(ctx, "spectra"),
                             ms_cli_get(ctx, "out"), command, ms_cli_flag(ctx, "resume"),
                             (size_t)limit, ms_cli_get(ctx, "emulator"), ms_cli_get(ctx, "csn"),
                             ms_cli_get(ctx, "templates"), ms_cli_get(ctx, "slam-model"),
                             ms_cli_get(ctx, "cnn-model"), ms_cli_get(ctx, "cnn-gm-model"),
                             ms_cli_get(ctx, "laspm-library"),
                             {ms_cli_get(ctx, "spt"), ms_cli_get(ctx, "wdm"),
                              ms_cli_get(ctx, "dmgm")},
                             ms_cli_get(ctx, "reference"), {0.0, 0.0},
                             ms_cli_flag(ctx, "leave-out-self")};
    const char *tm = ms_cli_get(ctx, "tm-range");
    if (tm) {
        char *end;
        double lo = strtod(tm, &end), hi = *end == ',' ? strtod(end + 1, &end) : 0.0;
        if (*end || !(lo >= 3700.0) || !(hi > lo + 500.0) || hi > 9100.0) {
            if (ms_par_rank() == 0)
                fprintf(stderr, "mstars fit: --tm-range '%s' is not MIN,MAX within 3700-9100 A "
                        "and 500 A wide\n", tm);
            return 2;
        }
        o.tm_range[0] = lo;
        o.tm_range[1] = hi;
    }
    ms_fit_methods_summary s;
    if (ms_fit_methods(cfg, &o, &s) != MS_OK) return ms_cli_fail("fit");
    ms_log0_info("fit --methods %s: %ld rows in %.1f s on %d rank(s)%s", s.methods, s.rows,
                 s.seconds, ms_par_size(), s.chunks_before ? " (resumed)" : "");
    if (!s.complete) {
        ms_log0_info("fit: stopped before the end (signal or max runtime); the state is saved. "
                     "Resubmit the same command with --resume to finish %s", o.out);
        return 0;
    }
    ms_log0_info("fit: wrote %s", o.out);
    return 0;
}

static int run(ms_cli_ctx *ctx)
{
    int done = existing_catalog(ctx);
    if (done >= 0) return done;
    ms_config cfg = ctx->cfg;
    const char *mr = ms_cli_get(ctx, "max-runtime");
    if (mr) {
        char *end;
        double v = strtod(mr, &end);
        if (end == mr || *end || v < 0) {
            if (ms_par_rank() == 0)
                fprintf(stderr, "mstars fit: --max-runtime '%s' is not a number of seconds\n", mr);
            return 2;
        }
        cfg.run.max_runtime = v;
    }
    long limit = 0;
    const char *lim = ms_cli_get(ctx, "limit");
    if (lim) {
        char *end;
        limit = strtol(lim, &end, 10);
        if (end == lim || *end || limit < 1) {
            if (ms_par_rank() == 0)
                fprintf(stderr, "mstars fit: --limit '%s' is not a positive number of rows\n", lim);
            return 2;
        }
    }
    if (ms_cli_get(ctx, "methods")) return run_methods(ctx, &cfg, limit);
    if (!ms_cli_get(ctx, "emulator")) {
        if (ms_par_rank() == 0) fprintf(stderr, "mstars fit: --emulator FILE is required\n");
        return 2;
    }
    char command[4096];
    const char *csn = ms_cli_get(ctx, "csn");
    char limit_text[48 + MS_CFG_STR_MAX] = "";
    if (limit) snprintf(limit_text, sizeof limit_text, " --limit %ld", limit);
    if (ms_cli_get(ctx, "models"))
        snprintf(limit_text + strlen(limit_text), sizeof limit_text - strlen(limit_text),
                 " --models %s", ms_cli_get(ctx, "models"));
    snprintf(command, sizeof command, "mstars fit --spectra %s --emulator %s --out %s%s%s%s%s%s%s",
             ms_cli_get(ctx, "spectra"), ms_cli_get(ctx, "emulator"), ms_cli_get(ctx, "out"),
             csn ? " --csn " : "", csn ? csn : "",
             limit_text, ms_cli_flag(ctx, "resume") ? " --resume" : "", ctx->config_path ? " --config " : "",
             ctx->config_path ? ctx->config_path : "");
    ms_workq_install_signal_handlers();
    if (ms_par_bind(cfg.general.blas_threads, NULL) != MS_OK) return ms_cli_fail("fit");
    ms_survey_opts o = {ms_cli_get(ctx, "spectra"), ms_cli_get(ctx, "emulator"), csn,
                        ms_cli_get(ctx, "out"), command, ms_cli_flag(ctx, "resume"), (size_t)limit,
                        ms_cli_get(ctx, "models")};
    ms_survey_summary s;
    if (ms_survey_fit(&cfg, &o, &s) != MS_OK) return ms_cli_fail("fit");
    double rate = s.seconds > 0 ? (double)(s.fitted + s.skipped) / s.seconds : 0.0;
    ms_log0_info("fit: %ld rows; this run fitted %ld (%ld failed fits, %ld unusable store rows) in "
                 "%.1f s: %.1f spectra/s on %d rank(s), %.2f per rank", s.rows, s.fitted,
                 s.failed, s.skipped, s.seconds, rate, ms_par_size(), rate / ms_par_size());
    ms_log0_info("fit: master served %zu requests, busy %.3f s (%.1f us per request)", s.requests,
                 s.master_busy, s.requests ? 1e6 * s.master_busy / (double)s.requests : 0.0);
    double rss = (double)ms_mem_peak_rss() / 1048576.0, all[1024];
    if (ms_par_size() <= 1024 && ms_par_allgather_d(&rss, 1, all) == MS_OK) {
        double max = 0;
        for (int r = 0; r < ms_par_size(); r++) max = all[r] > max ? all[r] : max;
        ms_log0_info("fit: peak memory (RSS) per rank: max %.1f MiB, rank 0 %.1f MiB", max,
                     all[0]);
    }
    if (!s.complete) {
        ms_log0_info("fit: stopped before the end (signal or max runtime); the state is saved. "
                     "Resubmit the same command with --resume to finish %s", o.out);
        return 0;
    }
    ms_log0_info("fit: wrote %s%s%s", o.out, o.models ? " and the models " : "",
                 o.models ? o.models : "");
    return 0;
}

const ms_cli_cmd ms_cmd_fit = {
    "fit", "fit every spectrum of a store against the emulator into one catalog", NULL,
    "The survey job. Rank 0 hands out chunks of run.chunk_size spectra on demand; every rank "
    "fits its chunks with the batched bounded L-BFGS-B fitter (pre-search, residual RV, labels, "
    "Gauss-Newton errors; the fit section of the configuration) and writes the rows into the "
    "catalog with parallel HDF5. Each finished chunk is also journalled, so a run that is killed "
    "or reaches --max-runtime (or receives SIGTERM, e.g. from Slurm's --signal) continues with "
    "--resume, losing no row and computing none twice. Rows whose store status is not 0 are "
    "kept, flagged, with NaN labels. With --csn the emulator-only fit (which gives the RV) "
    "is followed by the two fits of Z25 3.5: the emulator against CSN_obs->synth(F_obs) (the "
    "start, fit.synthetic_start) and the final fit in the observed domain, "
    "CSN_synth->obs(Payne(labels)) with each star's split code at the emulator fit's velocity "
    "(refitted from there unless fit.csn_fit_rv = false); the columns teff_emu .. alpha_m_emu, chi2_emu and "
    "resid_sigma_emu keep the emulator-only fit. --models FILE also writes the best-fit model "
    "spectra (/models/flux, and /models/flux_emu with --csn; row i = catalog row i, on the "
    "store's grid at the fitted velocity, NaN where not fitted), committed with the catalog. "
    "--methods class,lum,rv,z25,slam,cnn,cnn_gm,laspm runs several methods in ONE pass (each chunk read "
    "once, the methods in that order; one journal, one --resume) into one catalog: the identification "
    "columns once, each method's column group (z25's teff, e_teff, rv, ... named z25_teff, "
    "e_z25_teff, z25_rv as mstars combine names them), the recommended labels teff, logg, m_h, "
    "alpha_m, rv with *_method, disagree_flags/pair/sigma (combine's rule, run.disagree_sigma) "
    "and methods_skipped. The rv method's velocity (rv_adopted where rv_flag = 1) is the CNN's "
    "rest frame and narrows the Z25 velocity scan of rows without a pipeline velocity. The "
    "classification (class: the L25 CNN classifiers of --spt/--wdm/--dmgm, as mstars classify; "
    "lum: Gaia CMD, Table 3 lines and luminosity_class, as mstars lumclass) runs first and routes "
    "the rows: the methods of run.dwarfs_only (default z25,cnn) run on M dwarfs only, those of "
    "run.giants_only (default cnn_gm) on M giants only; methods_skipped and skip_reason (non-M, "
    "white dwarf, giant, dwarf, unclassified) say where and why a method was skipped. cnn_gm is "
    "L25's second CNN ensemble, the M giants' (--cnn-gm-model, a train-cnn --class gM model), "
    "beside cnn (the dwarfs') in the same pass: its columns cnn_gm_teff, ..., "
    "cnn_gm_parameter_flag, a recommended-label candidate on the giants.",
    opts, 1, run};
