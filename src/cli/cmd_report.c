/* cmd_report.c: `mstars report CATALOG.h5 [--truth T] [--reference R] --out DIR`. */
#include "cli.h"
#include "mstars/log.h"
#include "mstars/report.h"

static const ms_cli_opt opts[] = {
    {"out", "DIR", "folder for the figures, summary.md and summary.json (created)", 1},
    {"truth", "CSV", "truth table of a mock universe (truth.csv), joined by obsid, key or position", 0},
    {"reference", "CSV|FITS", "reference table with obsid, key or ra+dec and any of teff, logg, "
                              "m_h, alpha_m, rv, joined by obsid, key or position", 0},
    {"emulator", "FILE", "emulator file for the accuracy map (default: the catalog's)", 0},
    {"calibrated", NULL, "use the labels <p>_cal of calibrate-errors --zero-point", 0},
    {"baseline", "FILE", "catalog of the same store fitted without Cycle-StarNet (the overview "
                         "shows the adaptation's effect on the labels)", 0},
    {NULL, NULL, NULL, 0},
};

static int run(ms_cli_ctx *ctx)
{
    ms_report_opts o = {ctx->positional, ms_cli_get(ctx, "out"), ms_cli_get(ctx, "truth"),
                        ms_cli_get(ctx, "reference"), ms_cli_get(ctx, "emulator"),
                        ms_cli_flag(ctx, "calibrated"), ms_cli_get(ctx, "baseline"),
                        ctx->cfg.join.radius_arcsec};
    ms_report_summary s;
    if (ms_report_write(&o, &s) != MS_OK) return ms_cli_fail("report");
    ms_log0_info("report: %zu spectra, %zu fitted, %zu flagged; %zu figures, %zu item(s) left "
                 "out (listed in the page)", s.input, s.fitted, s.flagged, s.figures, s.notes);
    ms_log0_info("report: %s/summary.md (page), %s/summary.json (numbers)", o.out_dir, o.out_dir);
    return 0;
}

const ms_cli_cmd ms_cmd_report = {
    "report", "figures, a summary page and summary.json for a catalog", "CATALOG",
    "Writes into DIR PNG figures (Kiel and HR diagrams, one-to-one and S/N comparisons with "
    "a truth or reference table, precision against S/N from calibrate-errors, best-fit "
    "residuals, the emulator accuracy map, SpT against the LAMOST subclass), summary.md and "
    "summary.json with every number of the page. Tables are joined to the catalog by obsid, key (obsid, else LMJD-PLANID_spSS-FFF) or position (join.radius_arcsec); "
    "S/N bins use the catalog's snr_r. What the catalog, the tables or the emulator file do not "
    "provide is left out with a line on the page saying why (null in the JSON). An unfinished "
    "catalog is refused.",
    opts, 0, run};
