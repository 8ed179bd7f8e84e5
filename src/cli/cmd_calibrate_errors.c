/* cmd_calibrate_errors.c: `mstars calibrate-errors --catalog catalog.h5`: Err_repeat and
 * Err_total (Z25 Eq. 8-9) from repeat observations (catalog_post.h, errors.h). */
#include "cli.h"
#include "mstars/catalog_post.h"
#include "mstars/log.h"
#include "mstars/par.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const ms_cli_opt opts[] = {
    {"catalog", "FILE", "the catalog of mstars fit (HDF5), updated in place", 1},
    {"group-by", "COLUMN", "integer column shared by the repeats of a star (default source_id; "
                           "negative ids are ignored)", 0},
    {"min-obs", "N", "observations a star needs to enter (default 3, Z25)", 0},
    {"snr-column", "COLUMN", "the S/N of each spectrum (default snr_r)", 0},
    {"bin-width", "SNR", "width of the S/N bins (default 10, Z25)", 0},
    {"min-per-bin", "N", "deviations a S/N bin needs to enter the fit (default 10)", 0},
    {NULL, NULL, NULL, 0},
};

/* A number option (default when absent; integer: whole numbers only); 0 and a message when
 * invalid. */
static int number(const ms_cli_ctx *ctx, const char *name, double dflt, double min, int integer,
                  double *v)
{
    const char *s = ms_cli_get(ctx, name);
    *v = dflt;
    if (!s) return 1;
    char *end;
    *v = strtod(s, &end);
    if (end == s || *end || !isfinite(*v) || *v < min || (integer && *v != floor(*v))) {
        fprintf(stderr, "mstars calibrate-errors: --%s '%s' must be %s >= %g\n", name, s,
                integer ? "a whole number" : "a number", min);
        return 0;
    }
    return 1;
}

static void print_result(const char *path, const ms_calib_opts *o, const ms_calib_result *r)
{
    printf("calibrate-errors: %s: %ld rows, %ld fitted, %ld of them with a %s%s\n", path,
           r->rows, r->fitted, r->grouped, o->group_by,
           r->recovered ? " (an interrupted run was repaired)" : "");
    printf("Err_repeat = a / %s + b (S/N bins of %g, stars with >= %zu observations):\n",
           o->snr_column, o->bin_width, o->min_obs);
    printf("  %-8s %-6s %12s %10s %12s %10s %6s %6s %5s %12s %12s\n", "param", "units", "a",
           "+-", "b", "+-", "stars", "obs", "bins", "at S/N 10", "at S/N 100");
    for (size_t j = 0; j < r->n_params; j++) {
        const ms_repeat_fit *f = &r->fit[j];
        printf("  %-8s %-6s %12.5g %10.3g %12.5g %10.3g %6zu %6zu %5zu %12.4g %12.4g\n",
               r->name[j], r->units[j], f->a, f->a_err, f->b, f->b_err, r->n_stars[j], f->n_dev,
               f->n_bins, ms_repeat_error(f->a, f->b, 10.0), ms_repeat_error(f->a, f->b, 100.0));
    }
    printf("cut_flags recomputed with the total errors: %ld of %ld fitted rows flagged "
           "(teff_hot %ld, at_boundary %ld, error_outlier %ld, chi2_high %ld)\n",
           r->cuts.flagged, r->cuts.fitted, r->cuts.count[0], r->cuts.count[1],
           r->cuts.count[2], r->cuts.count[3]);
    fflush(stdout);
}

static int run(ms_cli_ctx *ctx)
{
    if (ms_par_size() > 1) {
        /* one process reads a few columns; several would write the same file */
        if (ms_par_rank() == 0)
            fprintf(stderr, "mstars calibrate-errors: run it as a single process (not under "
                            "mpirun -n %d): it reads only a few columns of the catalog\n",
                    ms_par_size());
        return 2;
    }
    double min_obs, width, min_bin;
    if (!number(ctx, "min-obs", 3, 2, 1, &min_obs) ||
        !number(ctx, "bin-width", 10, 1e-9, 0, &width) ||
        !number(ctx, "min-per-bin", 10, 2, 1, &min_bin))
        return 2;
    const char *path = ms_cli_get(ctx, "catalog");
    const ms_cfg_fit *fc = &ctx->cfg.fit;
    ms_calib_opts o = {ms_cli_get(ctx, "group-by") ? ms_cli_get(ctx, "group-by") : "source_id",
                       ms_cli_get(ctx, "snr-column") ? ms_cli_get(ctx, "snr-column") : "snr_r",
                       (size_t)min_obs, width, (size_t)min_bin, NULL,
                       fc->cut_teff_max, fc->cut_error_sigma, fc->cut_chi2_red};
    char command[4096];
    snprintf(command, sizeof command, "mstars calibrate-errors --catalog %s --group-by %s "
             "--min-obs %zu --snr-column %s --bin-width %g --min-per-bin %zu", path, o.group_by,
             o.min_obs, o.snr_column, o.bin_width, o.min_per_bin);
    o.command = command;
    ms_calib_result r;
    ms_status st = ms_catalog_calibrate_errors(path, &o, &r);
    if (st == MS_OK) print_result(path, &o, &r);
    ms_calib_result_free(&r);
    if (st != MS_OK) return ms_cli_fail("calibrate-errors");
    ms_log0_info("calibrate-errors: wrote e_<p>_repeat and e_<p>_total of %zu parameter(s) "
                 "into %s", r.n_params, path);
    return 0;
}

const ms_cli_cmd ms_cmd_calibrate_errors = {
    "calibrate-errors", "add Err_repeat and Err_total (Z25 Eq. 8-9) to a catalog", NULL,
    "Groups the successfully fitted rows of a complete catalog of mstars fit by star (--group-by, "
    "the Gaia source_id that the repeats of a star share), takes the stars with at least "
    "--min-obs observations, and for each of rv, teff, logg, m_h, alpha_m (those with values) "
    "bins the unbiased deviations of the observations from their star's mean by S/N (bins of "
    "--bin-width), takes the scatter of each bin with at least --min-per-bin deviations and "
    "fits Err_repeat = a / (S/N) + b (weighted least squares, a, b >= 0). Writes "
    "e_<p>_repeat and e_<p>_total = sqrt(e_<p>_repeat^2 + e_<p>^2) into the catalog (with the "
    "fit and its bins as attributes), records the calibration in the root attribute "
    "error_calibration, and recomputes cut_flags with the total errors. The catalog is marked "
    "incomplete while it is modified; an interrupted run is repaired by running the command "
    "again; a second run replaces the columns. Runs as one process.",
    opts, 1, run};
