/* cmd_combine.c: `mstars combine --catalogs A.h5,B.h5,... --out combined.h5`. */
#include "cli.h"
#include "mstars/stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ms_cli_opt opts[] = {
    {"catalogs", "A.h5,B.h5,...", "the methods' catalogs of one spectra store, comma-separated", 1},
    {"out", "FILE", "the combined catalog to write (HDF5)", 1},
    {"sigma", "K", "disagreement threshold in combined errors (default 3)", 0},
    {"force", NULL, "overwrite FILE when it exists", 0},
    {"formal-errors", NULL, "compare the methods' errors as written, without rescaling them by "
                            "the three-cornered hat", 0},
    {"reference", "FILE", "labels (CSV or FITS: obsid/key/ra,dec and any of teff, logg, m_h, "
                          "alpha_m, rv) of rows that NONE of the methods trained on: each "
                          "method's error scale per quantity and S/N_r bin is measured against "
                          "them (the three-cornered hat where they cannot)", 0},
    {NULL, NULL, NULL, 0},
};

static int run(ms_cli_ctx *ctx)
{
    char list[4096];
    snprintf(list, sizeof list, "%s", ms_cli_get(ctx, "catalogs"));
    const char *cats[16];
    size_t n = 0;
    for (char *tok = strtok(list, ","); tok && n < 16; tok = strtok(NULL, ","))
        if (*tok) cats[n++] = tok;
    double sigma = 3.0;
    if (ms_cli_get(ctx, "sigma")) {
        char *end;
        sigma = strtod(ms_cli_get(ctx, "sigma"), &end);
        if (*end || !(sigma > 0)) {
            fprintf(stderr, "mstars combine: --sigma needs a positive number\n");
            return 2;
        }
    }
    char command[4400];
    int formal = ms_cli_flag(ctx, "formal-errors");
    const char *ref = ms_cli_get(ctx, "reference");
    snprintf(command, sizeof command, "mstars combine --catalogs %s --out %s --sigma %g%s%s%s",
             ms_cli_get(ctx, "catalogs"), ms_cli_get(ctx, "out"), sigma,
             formal ? " --formal-errors" : "", ref ? " --reference " : "", ref ? ref : "");
    ms_combine_args a = {cats, n, ms_cli_get(ctx, "out"), command, sigma, ms_cli_flag(ctx, "force"),
                         formal, ref};
    return ms_stage_combine(&ctx->cfg, &a) == 0 ? 0 : ms_cli_fail("combine");
}

const ms_cli_cmd ms_cmd_combine = {
    "combine", "several methods' catalogs of one store -> one catalog with recommended labels",
    NULL,
    "Joins the catalogs that several methods wrote for the same spectra store (same rows) into "
    "one catalog: every method's columns once (the shared ones, id, obsid, ra, ... checked equal; "
    "z25's unprefixed label columns renamed z25_teff, e_z25_teff, ...), and the recommended "
    "teff, logg, m_h, alpha_m and rv with e_* and *_method: for each quantity, the value of the "
    "method with the smallest error among those whose flags are clean (the total error when "
    "calibrate-errors has run), each method's errors first rescaled per quantity and S/N_r bin "
    "to its actual scatter: measured against --reference (labels of rows no method trained on) "
    "where given (and then the candidates are ranked by their RMS against those labels in the "
    "row's S/N_r bin), else estimated from the methods' mutual differences (the three-cornered "
    "hat, which assumes independent errors; --formal-errors: as written). disagree_flags sets bit q when two clean methods differ on "
    "quantity q by more than --sigma times their combined error; disagree_pair names the most "
    "discrepant pair and disagree_sigma its significance. One process; the output is written as "
    "FILE.partial and renamed when complete.",
    opts, 0, run};
