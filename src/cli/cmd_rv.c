/* cmd_rv.c: `mstars rv`: radial velocities of Li et al. 2025 (stage_rv.h, rv.h). */
#include "cli.h"
#include "mstars/log.h"
#include "mstars/par.h"
#include "mstars/stage_rv.h"
#include "mstars/workq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TEMPLATES "../shared/data/templates-kesseli2017"

static const ms_cli_opt opts[] = {
    {"spectra", "FILE", "the spectra store (mstars ingest; needs its native view)", 1},
    {"out", "FILE", "the RV catalog to write (HDF5)", 1},
    {"templates", "DIR|LIST", "template library: a directory of FITS/ASCII templates or a file "
                              "listing them (default " DEFAULT_TEMPLATES ", Kesseli et al. 2017)", 0},
    {"template-resolution", "R", "resolving power of templates that do not state theirs "
                                 "(default 2000, SDSS/BOSS)", 0},
    {"full-injection", NULL, "errors by the literal 1001 shifted refits of L25 (slow; default: "
                             "the same from the spline of the chi^2 curve)", 0},
    {"full-injection-observed", NULL, "as --full-injection, shifting the observed pixels "
                                      "(linear interpolation) instead of the templates", 0},
    {"tm-range", "MIN,MAX", "observed wavelength range of template matching, A (default "
                            "4700,8899: L25 step 4b)", 0},
    {"fit-points", "N", "coarse chi^2 points around the minimum in its refinement: 3 (default) "
                        "a parabola, 5 or more a Gaussian with a baseline (odd, <= 21)", 0},
    {"resume", NULL, "continue an interrupted run of the same catalog from its journals", 0},
    {"limit", "N", "measure only the first N rows of the store", 0},
    {"max-runtime", "SECONDS", "start no new chunk after this time, save the state and exit 0", 0},
    {NULL, NULL, NULL, 0},
};

static int run(ms_cli_ctx *ctx)
{
    ms_config cfg = ctx->cfg;
    ms_rv_job_opts o;
    memset(&o, 0, sizeof o);
    ms_rv_settings_default(&o.settings);
    double v, limit = 0;
    const char *a;
    if (!ms_cli_number(ctx, "max-runtime", 0, INFINITY, &cfg.run.max_runtime) ||
        !ms_cli_number(ctx, "limit", 1, INFINITY, &limit) ||
        !ms_cli_number(ctx, "template-resolution", 100, INFINITY, &o.settings.template_R))
        return 2;
    o.limit = (size_t)limit;
    if ((a = ms_cli_get(ctx, "tm-range"))) {
        char *end;
        double lo = strtod(a, &end), hi = *end == ',' ? strtod(end + 1, &end) : 0.0;
        if (*end || !(lo >= 3700.0) || !(hi > lo + 500.0) || hi > 9100.0) {
            if (ms_par_rank() == 0)
                fprintf(stderr, "mstars rv: --tm-range '%s' is not MIN,MAX within 3700-9100 A "
                        "and 500 A wide\n", a);
            return 2;
        }
        o.settings.wave_min = lo;
        o.settings.wave_max = hi;
    }
    v = 2.0 * o.settings.fit_half_width + 1.0;
    if (!ms_cli_number(ctx, "fit-points", 3, 21, &v)) return 2;
    if ((long)v % 2 == 0) {
        if (ms_par_rank() == 0) fprintf(stderr, "mstars rv: --fit-points must be odd, 3..21\n");
        return 2;
    }
    o.settings.fit_half_width = (int)v / 2;
    o.settings.full_injection = ms_cli_flag(ctx, "full-injection-observed") ? 2
                                : ms_cli_flag(ctx, "full-injection");
    o.spectra = ms_cli_get(ctx, "spectra");
    o.out = ms_cli_get(ctx, "out");
    /* the default library: $MSTARS_SHARED/data/templates-kesseli2017, else ../shared/... */
    char deftpl[1024];
    const char *shared = getenv("MSTARS_SHARED");
    if (shared && *shared)
        snprintf(deftpl, sizeof deftpl, "%s/data/templates-kesseli2017", shared);
    else
        snprintf(deftpl, sizeof deftpl, "%s", DEFAULT_TEMPLATES);
    o.templates = ms_cli_get(ctx, "templates") ? ms_cli_get(ctx, "templates") : deftpl;
    o.resume = ms_cli_flag(ctx, "resume");
    char command[4096];
    char range[96] = "";
    if (ms_cli_get(ctx, "tm-range")) snprintf(range, sizeof range, " --tm-range %s", ms_cli_get(ctx, "tm-range"));
    snprintf(command, sizeof command, "mstars rv --spectra %s --out %s --templates %s%s%s%s%s%s",
             o.spectra, o.out, o.templates, range, o.settings.full_injection == 2 ? " --full-injection-observed"
             : o.settings.full_injection ? " --full-injection" : "",
             o.resume ? " --resume" : "", ctx->config_path ? " --config " : "",
             ctx->config_path ? ctx->config_path : "");
    o.command = command;
    ms_workq_install_signal_handlers();
    if (ms_par_bind(1, NULL) != MS_OK) return ms_cli_fail("rv");
    ms_rv_job_summary s;
    if (ms_rv_job(&cfg, &o, &s) != MS_OK) return ms_cli_fail("rv");
    double rate = s.seconds > 0 ? (double)(s.measured + s.skipped) / s.seconds : 0.0;
    ms_log0_info("rv: %ld rows; this run measured %ld (%ld without an RV, %ld without native "
                 "pixels) in %.1f s: %.1f spectra/s on %d rank(s)", s.rows, s.measured, s.no_rv,
                 s.skipped, s.seconds, rate, ms_par_size());
    if (!s.complete) {
        ms_log0_info("rv: stopped before the end; resubmit the same command with --resume to "
                     "finish %s", o.out);
        return 0;
    }
    char line[512] = "";
    for (int k = 0; k < MS_RV_N_FROM; k++)
        snprintf(line + strlen(line), sizeof line - strlen(line), "%s%s %ld", k ? ", " : "",
                 ms_rv_from_name((ms_rv_from)k), s.by_from[k]);
    ms_log0_info("rv: rv_from (this run): %s", line);
    ms_log0_info("rv: wrote %s", o.out);
    return 0;
}

const ms_cli_cmd ms_cmd_rv = {
    "rv", "radial velocities of Li et al. 2025: template matching, line shifts, rv_from", NULL,
    "Measures every spectrum of a store on its native pixels (the store's native view; a store "
    "made before it existed must be ingested again with --reprocess). Template matching (L25 "
    "Eq. 2): every template of the library on the coarse grid 60 n km/s (n = -10..10) with a "
    "4th-order multiplicative polynomial per trial, a Gaussian fitted to chi^2(RV), the best "
    "template by lowest chi^2, errors by injection (the 1001 shifts -500..500 km/s read off "
    "the best template's chi^2 curve, or refitted literally with --full-injection); TML7500; "
    "DSAL I/II on the absorption lines of L25 Table 5 and DSEL on the emission lines of Table 6; "
    "then rv_from, rv, e_rv and rv_flag by the automated form of L25's decision (docs/rv.md). "
    "Rank 0 hands out chunks of run.chunk_size spectra; journals make the run resumable "
    "(--resume), as in `mstars fit`.",
    opts, 1, run};
