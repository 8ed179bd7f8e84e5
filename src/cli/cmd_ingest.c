/* cmd_ingest.c: `mstars ingest` and `mstars ingest-grid`. */
#include "cli.h"
#include "mstars/log.h"
#include "mstars/par.h"
#include "mstars/store.h"

#include <stdio.h>
#include <string.h>

/* The command line as one string, recorded in the output's provenance. */
static void command_line(const ms_cli_ctx *ctx, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "mstars %s", ctx->cmd->name);
    for (int i = 0; ctx->cmd->opts[i].name && used < len; i++) {
        if (!ctx->values[i]) continue;
        used += (size_t)snprintf(buf + used, len - used, " --%s%s%s", ctx->cmd->opts[i].name,
                                 ctx->cmd->opts[i].metavar ? " " : "",
                                 ctx->cmd->opts[i].metavar ? ctx->values[i] : "");
    }
    if (ctx->config_path && used < len)
        snprintf(buf + used, len - used, " --config %s", ctx->config_path);
}

static void print_summary(const char *what, const ms_ingest_summary *s, const char *out)
{
    ms_log0_info("%s: %ld rows in %.1f s (%.0f per second); %ld processed, %ld reused from the "
                 "existing store", what, s->total, s->seconds,
                 s->seconds > 0 ? (double)s->processed / s->seconds : 0.0, s->processed,
                 s->reused);
    for (int k = 0; k < MS_ROW_N_STATUS; k++)
        if (s->by_status[k] > 0)
            ms_log0_info("  %-14s %ld", ms_row_status_name(k), s->by_status[k]);
    ms_log0_info("%s: wrote %s", what, out);
}

static const ms_cli_opt ingest_opts[] = {
    {"spectra", "DIR|LIST", "directory of LAMOST FITS files (searched recursively) or a file "
                            "listing them, one per line", 1},
    {"catalog", "CSV", "input catalog joined by obsid, key (obsid, else LMJD-PLANID_spSS-FFF) or ra+dec within join.radius_arcsec; its columns go to /input/", 0},
    {"out", "FILE", "the spectra store to write (HDF5)", 1},
    {"reprocess", NULL, "process every file even when --out already holds some of them", 0},
    {NULL, NULL, NULL, 0},
};

static int run_ingest(ms_cli_ctx *ctx)
{
    char cmd[4096];
    command_line(ctx, cmd, sizeof cmd);
    ms_ingest_opts o = {ms_cli_get(ctx, "spectra"), ms_cli_get(ctx, "catalog"),
                        ms_cli_get(ctx, "out"), cmd, ms_cli_flag(ctx, "reprocess")};
    ms_ingest_summary s;
    if (ms_ingest_spectra(&ctx->cfg, &o, &s) != MS_OK) return ms_cli_fail("ingest");
    print_summary("ingest", &s, o.out);
    long usable = s.by_status[MS_ROW_OK];
    if (usable < ctx->cfg.ingest.min_usable) {
        ms_log0_info("ingest: only %ld usable spectra (ingest.min_usable = %ld)", usable,
                     ctx->cfg.ingest.min_usable);
        return 1;
    }
    return 0;
}

const ms_cli_cmd ms_cmd_ingest = {
    "ingest", "read LAMOST spectra, preprocess them and write one HDF5 store", NULL,
    "Reads every LAMOST LRS file (any data-release layout, gzip or not), drops bad pixels, "
    "shifts to the rest frame with Z*c, resamples onto the preprocess grid carrying the "
    "inverse variance, divides by the Gaussian pseudo-continuum, and writes one row per file "
    "(in input order) into the store with parallel HDF5. Files that cannot be used become rows "
    "with a non-zero /meta/status and a /meta/status_reason; the counts per reason are printed. "
    "Exit status 0 unless nothing usable was found or the store could not be written. "
    "Re-running over a grown list copies the rows already in --out and reads only new files.",
    ingest_opts, 1, run_ingest};

static const ms_cli_opt grid_opts[] = {
    {"grid", "DIR", "directory of model spectra (BT-Settl .spec.7, CIFIST .spec.fits[.gz], "
                    "two-column ASCII)", 1},
    {"out", "FILE", "the grid store to write (HDF5)", 1},
    {"refuse-bad-grid", NULL, "write no store when the grid fails the quality gate "
                              "(as ingest.grid_refuse = true)", 0},
    {NULL, NULL, NULL, 0},
};

static int run_ingest_grid(ms_cli_ctx *ctx)
{
    char cmd[4096];
    command_line(ctx, cmd, sizeof cmd);
    ms_ingest_summary s;
    const char *out = ms_cli_get(ctx, "out");
    ms_config cfg = ctx->cfg;
    if (ms_cli_flag(ctx, "refuse-bad-grid")) cfg.ingest.grid_refuse = 1;
    if (ms_ingest_grid(&cfg, ms_cli_get(ctx, "grid"), out, cmd, &s) != MS_OK)
        return ms_cli_fail("ingest-grid");
    print_summary("ingest-grid", &s, out);
    if (s.grid_quality.pass) ms_log0_info("%s", s.grid_quality.text);
    else ms_log0_warn("%s", s.grid_quality.text);
    return s.by_status[MS_ROW_OK] > 0 ? 0 : 1;
}

const ms_cli_cmd ms_cmd_ingest_grid = {
    "ingest-grid", "read a model grid, convolve and normalise it into one HDF5 store", NULL,
    "Reads every model file of the grid folder, takes the labels from the file names "
    "(lte{Teff/100}-{logg}{[M/H]}a{[alpha/M]}), convolves to preprocess.synthetic_resolution, "
    "resamples onto the preprocess grid and divides by the same Gaussian pseudo-continuum as "
    "the observed spectra. Rows are in sorted file-name order. A quality gate measures each "
    "model's native sampling against the target LSF and its aliasing noise (the model "
    "convolved from its even and from its odd points, /quality/ of the store) and warns when "
    "any model is above ingest.grid_alias_max (1%): such a grid cannot support the "
    "resolution; --refuse-bad-grid then writes no store.",
    grid_opts, 1, run_ingest_grid};
