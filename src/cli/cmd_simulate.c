/* cmd_simulate.c: `mstars simulate`: the mock universe (theory grid + LAMOST survey with
 * known truth) of docs/simulate.md. */
#include "cli.h"

#include "mstars/log.h"
#include "mstars/par.h"
#include "mstars/sim.h"

#include <stdlib.h>

static const ms_cli_opt opts[] = {
    {"out", "DIR", "output directory (grid/, spectra/, truth.csv, input_catalog.csv, ...)", 1},
    {"grid-only", NULL, "write only the theory grid", 0},
    {"survey-only", NULL, "write only the survey (spectra and side files)", 0},
    {"from-templates", "DIR", "instead of the mock: spectra from the real templates in DIR "
                              "(Kesseli 2017 files) through the mock's instrument", 0},
    {"n", "N", "with --from-templates: number of spectra (default 1000)", 0},
    {"clean", NULL, "with --from-templates: no noise, RV, flux-calibration tilt, tellurics, sky "
                    "or masks (tests)", 0},
    {NULL, NULL, NULL, 0},
};

static int run(ms_cli_ctx *ctx)
{
    int what = MS_SIM_RUN_ALL;
    if (ms_cli_flag(ctx, "grid-only") && ms_cli_flag(ctx, "survey-only")) {
        if (ms_par_rank() == 0) ms_log_error("simulate: --grid-only and --survey-only exclude each other");
        return 2;
    }
    const char *tdir = ms_cli_get(ctx, "from-templates");
    if (tdir) {
        long n = 1000;
        const char *ns = ms_cli_get(ctx, "n");
        char *end = NULL;
        if (ns) n = strtol(ns, &end, 10);
        if (ns && (*ns == '\0' || *end != '\0' || n < 1)) {
            if (ms_par_rank() == 0) ms_log_error("simulate: --n '%s': need a positive integer", ns);
            return 2;
        }
        ms_sim_stats st;
        if (ms_sim_run_templates(&ctx->cfg, tdir, n, ms_cli_flag(ctx, "clean"), ms_cli_get(ctx, "out"),
                                 &st) != MS_OK)
            return ms_cli_fail("simulate");
        ms_log0_info("simulate: wrote %ld template spectra to %s", st.n_spectra,
                     ms_cli_get(ctx, "out"));
        return 0;
    }
    if (ms_cli_get(ctx, "n") || ms_cli_flag(ctx, "clean")) {
        if (ms_par_rank() == 0) ms_log_error("simulate: --n and --clean need --from-templates");
        return 2;
    }
    if (ms_cli_flag(ctx, "grid-only")) what = MS_SIM_RUN_GRID;
    if (ms_cli_flag(ctx, "survey-only")) what = MS_SIM_RUN_SURVEY;
    ms_sim_stats stats;
    if (ms_sim_run(&ctx->cfg, ms_cli_get(ctx, "out"), what, &stats) != MS_OK)
        return ms_cli_fail("simulate");
    ms_log0_info("simulate: wrote %ld grid models and %ld spectra to %s", stats.n_models,
                 stats.n_spectra, ms_cli_get(ctx, "out"));
    return 0;
}

const ms_cli_cmd ms_cmd_simulate = {
    "simulate", "write a mock universe: BT-Settl-format grid and LAMOST-format survey with truth",
    NULL,
    "Writes a simulated universe whose truth is known: a theory grid of toy M-dwarf spectra "
    "in the BT-Settl .spec.7 (and/or CIFIST FITS) format, and a LAMOST low-resolution survey "
    "in the real DR5-8 and DR9+ FITS layouts, observed through a synthetic gap (scaled by "
    "simulate.gap_strength), tellurics, the LSF, flux-calibration errors, sky and noise; plus "
    "truth.csv, input_catalog.csv (Gaia-like), spectra.lst and grid.lst. The same seed gives "
    "the same files for any number of MPI ranks. COMPLETE is written last. "
    "simulate.fraction_* add M giants, OB-K stars, white dwarfs, galaxies and QSOs. "
    "--from-templates DIR writes --n spectra made from real templates (Kesseli et al. 2017) "
    "through the same instrument instead. See docs/simulate.md.",
    opts, 1, run};
