/* cmd_calibrate_errors.c: `mstars calibrate-errors --catalog catalog.h5`: Err_repeat and
 * Err_total (Z25 Eq. 8-9) from repeat observations, optionally with a systematic floor
 * from a reference table (catalog_post.h, errors.h, sys_errors.h). */
#include "cli.h"
#include "mstars/catalog_post.h"
#include "mstars/log.h"
#include "mstars/par.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ms_cli_opt opts[] = {
    {"catalog", "FILE", "the catalog of mstars fit (HDF5), updated in place", 1},
    {"group-by", "COLUMN", "integer column shared by the repeats of a star (default source_id; "
                           "negative ids are ignored)", 0},
    {"min-obs", "N", "observations a star needs to enter (default 3, Z25)", 0},
    {"snr-column", "COLUMN", "the S/N of each spectrum (default snr_r)", 0},
    {"bin-width", "SNR", "width of the S/N bins (default 10, Z25)", 0},
    {"min-per-bin", "N", "deviations a S/N bin needs to enter the fit (default 10)", 0},
    {"combine", "z25|max", "Err_total from the repeat and fitting errors: z25 = their "
                           "quadrature sum (default, Z25 Eq. 8), max = the larger one", 0},
    {"reference", "FILE", "CSV or FITS table with obsid, key or ra+dec and any of teff, logg, m_h, alpha_m, "
                          "rv (and e_<p>): adds a systematic floor in quadrature", 0},
    {"reference-fraction", "F", "use the stars (by --group-by id) with u(id) < F for the "
                                "floor, leaving the rest for a check (default 1: all)", 0},
    {"floor-spread", "clipped|mad", "the spread the floor makes 1: the 5-sigma clipped RMS "
                                    "(default) or 1.4826 MAD", 0},
    {"error-model", "floor|scaled", "floor (default): Err_total + a constant floor in "
                                    "quadrature; scaled: k Err_total + a floor, k and the "
                                    "floor by maximum likelihood against the reference", 0},
    {"zero-point", NULL, "also write <p>_cal = <p> - bias: the labels on the reference's "
                         "zero point", 0},
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

/* --combine, --reference-fraction, --floor-spread; 0 and a message when invalid. */
static int reference_opts(const ms_cli_ctx *ctx, ms_calib_opts *o)
{
    const char *c = ms_cli_get(ctx, "combine"), *sp = ms_cli_get(ctx, "floor-spread"),
               *model = ms_cli_get(ctx, "error-model");
    if (c && strcmp(c, "z25") != 0 && strcmp(c, "max") != 0) {
        fprintf(stderr, "mstars calibrate-errors: --combine '%s' must be z25 or max\n", c);
        return 0;
    }
    o->combine_max = c && strcmp(c, "max") == 0;
    o->zero_point = ms_cli_flag(ctx, "zero-point");
    if (!o->reference && (ms_cli_get(ctx, "reference-fraction") || sp || model || o->zero_point)) {
        fprintf(stderr, "mstars calibrate-errors: --reference-fraction, --floor-spread, "
                        "--error-model and --zero-point need --reference FILE\n");
        return 0;
    }
    if (model && strcmp(model, "floor") != 0 && strcmp(model, "scaled") != 0) {
        fprintf(stderr, "mstars calibrate-errors: --error-model '%s' must be floor or scaled\n",
                model);
        return 0;
    }
    o->scaled = model && strcmp(model, "scaled") == 0;
    if (o->scaled && sp) {
        fprintf(stderr, "mstars calibrate-errors: --floor-spread applies to --error-model "
                        "floor (the scaled model is a maximum-likelihood fit)\n");
        return 0;
    }
    if (!number(ctx, "reference-fraction", 1.0, 0.0, 0, &o->reference_fraction)) return 0;
    if (!(o->reference_fraction > 0.0 && o->reference_fraction <= 1.0)) {
        fprintf(stderr, "mstars calibrate-errors: --reference-fraction %g must be > 0 and "
                        "<= 1\n", o->reference_fraction);
        return 0;
    }
    if (sp) {
        const int how = ms_sys_spread_parse(sp);
        if (how < 0) {
            fprintf(stderr, "mstars calibrate-errors: --floor-spread '%s' must be clipped or "
                            "mad\n", sp);
            return 0;
        }
        o->spread = (ms_sys_spread)how;
    }
    return 1;
}

static void print_floor(const ms_calib_opts *o, const ms_calib_result *r)
{
    printf("%s from %s (%zu rows, %zu catalog rows joined by obsid, key or position%s; %s; stars with u(%s) "
           "< %g):\n", o->scaled ? "error scale k and floor" : "systematic floor", o->reference,
           r->ref_rows, r->ref_matched,
           r->ref_duplicates ? ", repeated obsids or keys: the first row" : "",
           o->scaled ? "maximum likelihood" : ms_sys_spread_name(o->spread), o->group_by,
           o->reference_fraction);
    printf("  %-8s %-6s %8s %12s %12s %10s %8s %8s %8s\n", "param", "units", "k", "sys", "bias",
           "spread0", "used", "matched", "clipped");
    for (size_t j = 0; j < r->n_params; j++) {
        const ms_sys_floor *f = &r->sys[j];
        if (!r->sys_have[j]) {
            printf("  %-8s %-6s (the reference has no column %s)\n", r->name[j], r->units[j],
                   r->name[j]);
            continue;
        }
        printf("  %-8s %-6s %8.4g %12.5g %12.5g %10.4g %8zu %8zu %8zu\n", r->name[j],
               r->units[j], f->scale, f->floor, f->bias, f->spread0, f->n, r->sys_matched[j],
               f->n_clipped);
    }
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
    if (o->reference) print_floor(o, r);
    if (o->zero_point)
        printf("labels on the reference's zero point: <p>_cal = <p> - bias (the bias column "
               "above) for each parameter the reference has\n");
    printf("Err_total = sqrt(%s%s%s)\n", o->scaled ? "k^2 " : "",
           o->combine_max ? "max(Err_repeat, Err_fitting)^2"
           : o->scaled    ? "(Err_repeat^2 + Err_fitting^2)"
                          : "Err_repeat^2 + Err_fitting^2",
           o->reference ? " + sys^2" : "");
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
    ms_calib_opts o = {
        .group_by = ms_cli_get(ctx, "group-by") ? ms_cli_get(ctx, "group-by") : "source_id",
        .snr_column = ms_cli_get(ctx, "snr-column") ? ms_cli_get(ctx, "snr-column") : "snr_r",
        .min_obs = (size_t)min_obs,
        .bin_width = width,
        .min_per_bin = (size_t)min_bin,
        .cut_teff_max = fc->cut_teff_max,
        .cut_error_sigma = fc->cut_error_sigma,
        .cut_chi2_red = fc->cut_chi2_red,
        .reference = ms_cli_get(ctx, "reference"),
        .spread = MS_SYS_CLIPPED,
        .radius = ctx->cfg.join.radius_arcsec,
    };
    if (!reference_opts(ctx, &o)) return 2;
    char command[4096];
    int len = snprintf(command, sizeof command, "mstars calibrate-errors --catalog %s --group-by "
                       "%s --min-obs %zu --snr-column %s --bin-width %g --min-per-bin %zu "
                       "--combine %s", path, o.group_by, o.min_obs, o.snr_column, o.bin_width,
                       o.min_per_bin, o.combine_max ? "max" : "z25");
    if (o.reference && len > 0 && (size_t)len < sizeof command)
        snprintf(command + len, sizeof command - (size_t)len, " --reference %s "
                 "--reference-fraction %.17g --error-model %s%s%s", o.reference,
                 o.reference_fraction, o.scaled ? "scaled" : "floor",
                 o.scaled ? "" : " --floor-spread ", o.scaled ? "" : ms_sys_spread_name(o.spread));
    if (o.zero_point && strlen(command) + 14 < sizeof command) strcat(command, " --zero-point");
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
    "fit and its bins as attributes). --combine max takes the larger of the two instead of "
    "the quadrature sum (the repeat scatter already contains the fitting noise). With "
    "--reference, the fitted rows are joined to the table by obsid, key or position (join.radius_arcsec) and each parameter gets a "
    "constant floor sys >= 0 that makes the spread of (fit - ref - bias) / sqrt(Err_total^2 + "
    "sys^2 + e_ref^2) equal to 1 (5-sigma clipped RMS, or 1.4826 MAD with --floor-spread mad; "
    "0 when it is already <= 1), using only the stars whose hashed id u(id) is below "
    "--reference-fraction so that the others can check it; e_<p>_total then includes sys^2 "
    "(attributes sys_* of e_<p>_total). --error-model scaled also scales Err_total by a factor "
    "k: k and sys maximise the normal likelihood of fit - ref ~ N(bias, k^2 Err_total^2 + "
    "sys^2 + e_ref^2) (5-sigma clipped), for fits whose own errors are too large at low S/N "
    "and too small at high S/N. --zero-point also writes <p>_cal = <p> - bias, the labels on "
    "the reference's zero point (bias = the fitted mean difference; attribute zero_point), and "
    "a run without it removes them. Records the calibration in the root attribute "
    "error_calibration, and recomputes cut_flags with the total errors. The catalog is marked "
    "incomplete while it is modified; an interrupted run is repaired by running the command "
    "again; a second run replaces the columns. Runs as one process.",
    opts, 1, run};
