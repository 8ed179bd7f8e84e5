/* cmd_precision.c: `mstars precision`: Du et al. 2025 3.7's repeat-observation precision of
 * any catalog's label columns (stage_laspm.h). */
#include "cli.h"
#include "mstars/stage_laspm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLS 16

static const ms_cli_opt opts[] = {
    {"columns", "A,B,...", "label columns of /catalog (e.g. laspm_teff,laspm_logg,laspm_m_h)", 1},
    {"group-by", "COLUMN", "integer column shared by a star's repeats (default source_id; rows "
                           "without one are grouped by position, join.radius_arcsec)", 0},
    {"snr", "COLUMN", "S/N column (default snr_i)", 0},
    {"bin", "W", "S/N bin width (default 5, Du 3.7)", 0},
    {"min-per-bin", "N", "bins with fewer deviations are left out (default 5)", 0},
    {"snr-min", "X", "the overall 1-sigma is over S/N >= X (default 10)", 0},
    {NULL, NULL, NULL, 0},
};

static int run(ms_cli_ctx *ctx)
{
    ms_precision_opts o = {ctx->positional, NULL, 0, "source_id", "snr_i", 5.0, 5, 10.0,
                           ctx->cfg.join.radius_arcsec};
    if (ms_cli_get(ctx, "group-by")) o.group_by = ms_cli_get(ctx, "group-by");
    if (ms_cli_get(ctx, "snr")) o.snr = ms_cli_get(ctx, "snr");
    const char *t;
    if ((t = ms_cli_get(ctx, "bin")) && !((o.bin_width = strtod(t, NULL)) > 0)) {
        fprintf(stderr, "mstars precision: --bin '%s' is not a positive width\n", t);
        return 2;
    }
    if ((t = ms_cli_get(ctx, "min-per-bin"))) {
        long v = strtol(t, NULL, 10);
        if (v < 2) {
            fprintf(stderr, "mstars precision: --min-per-bin '%s' must be >= 2\n", t);
            return 2;
        }
        o.min_per_bin = (size_t)v;
    }
    if ((t = ms_cli_get(ctx, "snr-min"))) o.snr_min = strtod(t, NULL);
    char buf[2048];
    const char *cols[MAX_COLS];
    snprintf(buf, sizeof buf, "%s", ms_cli_get(ctx, "columns"));
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (o.n_columns == MAX_COLS) {
            fprintf(stderr, "mstars precision: at most %d columns\n", MAX_COLS);
            return 2;
        }
        cols[o.n_columns++] = tok;
    }
    o.columns = cols;
    if (ms_stage_precision(&o, stdout) != MS_OK) return ms_cli_fail("precision");
    return 0;
}

const ms_cli_cmd ms_cmd_precision = {
    "precision", "repeat-observation precision of catalog columns per S/N bin (Du 2025 3.7)",
    "CATALOG",
    "Du et al. 2025 Eq. 1 for any method's label columns: each repeat observation's "
    "epsilon = sqrt(N/(N-1)) (P_i - mean P) over the N observations of its star (rows sharing "
    "--group-by), the RMS epsilon in S/N bins of --bin (5), and the overall 1-sigma at S/N >= "
    "--snr-min (10), printed as tables.",
    opts, 0, run};
