/* cmd_train_csn.c: `mstars train-csn`: train the Cycle-StarNet domain adaptation between
 * emulator spectra and the observed spectra of a store (Z25 3; csn.h). */
#include "cli.h"
#include "mstars/par.h"
#include "mstars/stage.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ms_cli_opt opts[] = {
    {"emulator", "FILE", "emulator model written by `mstars train-emulator` (HDF5)", 1},
    {"observed", "FILE", "spectra store written by `mstars ingest` (HDF5)", 1},
    {"out", "FILE", "model file to write (HDF5)", 1},
    {"checkpoint", "FILE", "checkpoint for --resume (default: <out>.ckpt)", 0},
    {"resume", NULL, "continue from the checkpoint", 0},
    {"max-time", "SECONDS", "stop with a checkpoint after this wall time (exit code 3)", 0},
    {"reference", "FILE", "CSV (teff, m_h) reference distribution (overrides csn.reference_file)", 0},
    {NULL, NULL, NULL, 0},
};

static int parse_time(const char *v, double *t)
{
    if (!v) return 0;
    char *end;
    *t = strtod(v, &end);
    return *end || !(*t > 0) ? -1 : 0;
}

static int run(ms_cli_ctx *ctx)
{
    const char *emu = ms_cli_get(ctx, "emulator"), *obs = ms_cli_get(ctx, "observed");
    const char *out = ms_cli_get(ctx, "out");
    const ms_config *cfg = &ctx->cfg;
    char ckpt[MS_CFG_STR_MAX + 8];
    if (ms_cli_get(ctx, "checkpoint"))
        snprintf(ckpt, sizeof ckpt, "%s", ms_cli_get(ctx, "checkpoint"));
    else
        snprintf(ckpt, sizeof ckpt, "%s.ckpt", out);
    double max_time = 0.0;
    if (parse_time(ms_cli_get(ctx, "max-time"), &max_time) != 0) {
        if (ms_par_rank() == 0)
            fprintf(stderr, "mstars train-csn: --max-time needs a positive number of seconds\n");
        return 2;
    }
    const char *ref = ms_cli_get(ctx, "reference") ? ms_cli_get(ctx, "reference")
                                                   : cfg->csn.reference_file;
    ms_train_csn_args a = {emu, obs, out, ckpt, ref, ms_cli_flag(ctx, "resume"), max_time};
    int code = ms_stage_train_csn(cfg, &a);
    return code == 1 ? ms_cli_fail("train-csn") : code;
}

const ms_cli_cmd ms_cmd_train_csn = {
    "train-csn", "train the Cycle-StarNet domain adaptation (MPI data-parallel)", NULL,
    "Trains Cycle-StarNet (Z25 section 3; O'Briain et al. 2021) between the synthetic domain "
    "(emulator spectra at labels drawn as Z25 3.3.2 describes: 5 Gyr isochrone points, a "
    "Gaussian-mixture expansion inside the emulator's range, resampled to a reference (Teff, "
    "[M/H]) distribution from csn.reference_* or --reference) and the observed domain (a random "
    "subset of csn.n_observed usable spectra of the store, no S/N cut). Both sets are split "
    "csn.split (8:2:1). Each iteration takes one generator step (Z25 Eq. 4-7: weighted "
    "reconstruction and cycle losses, adversarial terms) and one discriminator step with Adam; "
    "every rank takes a slice of each global batch of csn.batch_size spectra per domain and the "
    "gradients are summed over ranks. Validation every csn.validate_every iterations prints a "
    "progress line; a checkpoint is written every csn.checkpoint_every iterations (--resume "
    "continues; exit code 3 when --max-time stopped the run). The model file records the "
    "weights, the csn configuration, the flux standardisation, the emulator's content hash and "
    "the training history.",
    opts, 1, run};
