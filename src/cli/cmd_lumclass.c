/* cmd_lumclass.c: `mstars lumclass`: dwarf or giant, Li et al. 2025 (stage_lumclass.h,
 * lumclass.h). */
#include "cli.h"
#include "mstars/log.h"
#include "mstars/par.h"
#include "mstars/stage_lumclass.h"
#include "mstars/workq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ms_cli_opt opts[] = {
    {"spectra", "FILE", "the spectra store (mstars ingest, with its native view; Gaia columns "
                        "from ingest --catalog)", 1},
    {"out", "FILE", "the catalog to write (HDF5)", 1},
    {"classify", "FILE", "a catalog of the same store with /catalog/dmgm_prob (CNN-dMgM); "
                         "default: no CNN vote", 0},
    {"rv", "FILE", "a catalog of the same store from `mstars rv`: its rv_adopted takes the "
                   "spectra to the rest frame (default: the LAMOST Z)", 0},
    {"resume", NULL, "continue an interrupted run of the same catalog from its journals", 0},
    {"limit", "N", "only the first N rows of the store", 0},
    {"max-runtime", "SECONDS", "start no new chunk after this time, save the state and exit 0", 0},
    {NULL, NULL, NULL, 0},
};

static int run(ms_cli_ctx *ctx)
{
    ms_config cfg = ctx->cfg;
    ms_lum_job_opts o;
    memset(&o, 0, sizeof o);
    double limit = 0;
    if (!ms_cli_number(ctx, "max-runtime", 0, INFINITY, &cfg.run.max_runtime) ||
        !ms_cli_number(ctx, "limit", 1, INFINITY, &limit))
        return 2;
    o.limit = (size_t)limit;
    o.spectra = ms_cli_get(ctx, "spectra");
    o.out = ms_cli_get(ctx, "out");
    o.classify = ms_cli_get(ctx, "classify");
    o.rv = ms_cli_get(ctx, "rv");
    o.resume = ms_cli_flag(ctx, "resume");
    char command[4096];
    snprintf(command, sizeof command, "mstars lumclass --spectra %s --out %s%s%s%s%s%s%s%s",
             o.spectra, o.out, o.classify ? " --classify " : "", o.classify ? o.classify : "",
             o.rv ? " --rv " : "", o.rv ? o.rv : "", o.resume ? " --resume" : "",
             ctx->config_path ? " --config " : "", ctx->config_path ? ctx->config_path : "");
    o.command = command;
    ms_workq_install_signal_handlers();
    if (ms_par_bind(1, NULL) != MS_OK) return ms_cli_fail("lumclass");
    ms_lum_job_summary s;
    if (ms_lum_job(&cfg, &o, &s) != MS_OK) return ms_cli_fail("lumclass");
    if (!s.complete) {
        ms_log0_info("lumclass: stopped before the end; resubmit the same command with --resume "
                     "to finish %s", o.out);
        return 0;
    }
    ms_log0_info("lumclass: %ld rows in %.1f s on %d rank(s) (this run): luminosity_class dwarf "
                 "%ld, giant %ld, unknown %ld; CMD_flag=1 %ld; lines dwarf %ld, giant %ld", s.rows,
                 s.seconds, ms_par_size(), s.dwarf, s.giant, s.unknown, s.cmd_flagged,
                 s.line_dwarf, s.line_giant);
    ms_log0_info("lumclass: wrote %s", o.out);
    return 0;
}

const ms_cli_cmd ms_cmd_lumclass = {
    "lumclass", "dwarf or giant (Li et al. 2025): Gaia CMD, Table 3 lines, luminosity_class", NULL,
    "For every spectrum of a store: the Gaia CMD module of L25 (Eq. 1: M_G = G - 5 lg d + 5 - "
    "A_G from the store's input columns r_med_geo or parallax, a_g/e_bp_rp or ebv; the five "
    "quality cuts give CMD_flag; CMD_pos dM inside the quadrilateral (0.7,5) (1.4,5) (5,16.5) "
    "(4,16.5), gM brighter than M_G = 1.8 (BP-RP)_0 - 2.2, else other), the line criteria of "
    "L25 Table 3 (CaH, K I, Na I, Ca II triplet) measured on the native spectrum in its rest "
    "frame with a calibrated dwarf/giant vote, and luminosity_class (dwarf, giant, unknown) "
    "from those and the CNN-dMgM probability (--classify) with the reason when they disagree "
    "(docs/lumclass.md). Rank 0 hands out chunks of run.chunk_size spectra; journals make the "
    "run resumable (--resume), as in `mstars rv`.",
    opts, 1, run};
