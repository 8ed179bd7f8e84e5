/* catalog_errors.c: mstars calibrate-errors, the catalog side (see catalog_post.h; the
 * numerics are in src/fit/repeat_errors.c and sys_errors.c, the reference table is joined
 * in catalog_reference.c).
 *
 * Serial: it reads a handful of whole columns (ids, S/N, status, flags and five
 * label/error pairs: about 100 bytes per row, 50 MB for 500,000 spectra) and writes two
 * columns per parameter. Everything is computed before the file is opened for writing;
 * the file is then marked incomplete (complete = 0, updating = "calibrate-errors", one
 * flush) until the last write, so that a reader never takes a half-written catalog for a
 * finished one, and an interrupted run is repaired by running the command again. */
#include "../io/catalog_reference.h"
#include "mstars/catalog_post.h"
#include "mstars/schema.h"
#include "mstars/fit.h"
#include "mstars/join_io.h"
#include "mstars/log.h"
#include "mstars/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define STEP "calibrate-errors"
#define MIN_REFERENCE_ROWS 10 /* matched rows a floor needs */

/* The parameters, in the order of Z25 Table 1. */
static const char *const params[MS_CALIB_MAX_PARAMS] = {"rv", "teff", "logg", "m_h", "alpha_m"};

typedef struct {
    size_t n;
    int32_t *status;
    uint32_t *fit_flags;
    int64_t *group;
    double *snr;
    uint8_t *use;
    double *value[MS_CALIB_MAX_PARAMS], *error[MS_CALIB_MAX_PARAMS];
    double *dev, *dof, *col;
    uint8_t *sub;     /* rows that the floor may use (fitted, in the reference fraction) */
    ms_calib_ref ref; /* the reference joined by obsid (o->reference) */
} calib_data;

static void data_free(calib_data *d)
{
    void *ptrs[] = {d->status, d->fit_flags, d->group, d->snr, d->use, d->dev, d->dof, d->col,
                    d->sub};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) ms_free(ptrs[i]);
    ms_calib_ref_free(&d->ref);
    for (int k = 0; k < MS_CALIB_MAX_PARAMS; k++) {
        ms_free(d->value[k]);
        ms_free(d->error[k]);
    }
}

void ms_calib_result_free(ms_calib_result *r)
{
    for (int k = 0; k < MS_CALIB_MAX_PARAMS; k++) ms_repeat_fit_free(&r->fit[k]);
}

static ms_status read_column(ms_h5 *f, const char *name, ms_h5_type type, size_t n, void **out,
                             size_t elem)
{
    char path[128];
    snprintf(path, sizeof path, MS_CATALOG_GROUP "/%s", name);
    int rank;
    size_t dims[2];
    if (!ms_h5_exists(f, path))
        MS_ERROR(MS_ENOTFOUND, "%s: no column %s", ms_h5_path(f), path);
    MS_TRY(ms_h5_dims(f, path, &rank, dims));
    if (rank != 1 || dims[0] != n)
        MS_ERROR(MS_EFORMAT, "%s: %s has %zu rows, the catalog %zu", ms_h5_path(f), path,
                 dims[0], n);
    *out = ms_malloc_array("calib.column", n + 1, elem);
    if (!*out) return MS_ENOMEM;
    return ms_h5_read_rows(f, path, type, 0, 0, n, *out);
}

/* The grouping column (any integer column, read as int64); rows without an id grouped by
 * position (join_io.h). */
static ms_status read_group(ms_h5 *f, const char *name, double radius, calib_data *d)
{
    size_t filled = 0;
    MS_TRY(ms_catalog_read_groups(f, name, d->n, radius, &d->group, &filled));
    if (filled)
        ms_log_info("calibrate-errors: %zu rows without a %s grouped by position (within %.3g "
                    "arcsec)", filled, name, radius);
    return MS_OK;
}

static ms_status read_inputs(ms_h5 *f, const ms_calib_opts *o, calib_data *d, ms_calib_result *r)
{
    int rank;
    size_t dims[2];
    if (!ms_h5_exists(f, MS_COL_STORE_STATUS) || !ms_h5_exists(f, MS_COL_FIT_FLAGS))
        MS_ERROR(MS_EFORMAT, "%s is not a catalog of mstars fit (no /catalog/store_status or "
                 "fit_flags)", ms_h5_path(f));
    MS_TRY(ms_h5_dims(f, MS_COL_STORE_STATUS, &rank, dims));
    d->n = dims[0];
    MS_TRY(read_column(f, "store_status", MS_H5_I32, d->n, (void **)&d->status, sizeof(int32_t)));
    MS_TRY(read_column(f, "fit_flags", MS_H5_U32, d->n, (void **)&d->fit_flags, sizeof(uint32_t)));
    MS_TRY(read_group(f, o->group_by,
                      o->radius > 0 ? o->radius : MS_JOIN_RADIUS_DEFAULT, d));
    char path[128];
    snprintf(path, sizeof path, MS_CATALOG_GROUP "/%s", o->snr_column);
    if (!ms_h5_exists(f, path))
        MS_ERROR(MS_ENOTFOUND, "%s has no S/N column %s (--snr-column)", ms_h5_path(f),
                 o->snr_column);
    MS_TRY(read_column(f, o->snr_column, MS_H5_F64, d->n, (void **)&d->snr, sizeof(double)));
    d->use = ms_malloc("calib.use", d->n + 1);
    d->dev = ms_malloc_array("calib.dev", d->n + 1, sizeof(double));
    d->dof = ms_malloc_array("calib.dof", d->n + 1, sizeof(double));
    d->col = ms_malloc_array("calib.col", d->n + 1, sizeof(double));
    if (!d->use || !d->dev || !d->dof || !d->col) return MS_ENOMEM;
    r->rows = (long)d->n;
    for (size_t i = 0; i < d->n; i++) {
        d->use[i] = (uint8_t)ms_cut_row_fitted(d->status[i], d->fit_flags[i]);
        r->fitted += d->use[i];
        r->grouped += d->use[i] && d->group[i] >= 0;
    }
    for (int k = 0; k < MS_CALIB_MAX_PARAMS; k++) {
        char v[64], e[64];
        snprintf(v, sizeof v, MS_CATALOG_GROUP "/%s", params[k]);
        snprintf(e, sizeof e, MS_CATALOG_GROUP "/e_%s", params[k]);
        if (!ms_h5_exists(f, v) || !ms_h5_exists(f, e)) continue;
        MS_TRY(read_column(f, params[k], MS_H5_F64, d->n, (void **)&d->value[k], sizeof(double)));
        snprintf(e, sizeof e, "e_%s", params[k]);
        MS_TRY(read_column(f, e, MS_H5_F64, d->n, (void **)&d->error[k], sizeof(double)));
    }
    if (!o->reference) return MS_OK;
    MS_TRY(ms_calib_ref_read(f, d->n, o->reference, params, MS_CALIB_MAX_PARAMS,
                             o->radius > 0 ? o->radius : MS_JOIN_RADIUS_DEFAULT, &d->ref));
    r->ref_rows = d->ref.table_rows;
    r->ref_matched = d->ref.matched;
    r->ref_duplicates = d->ref.duplicates;
    d->sub = ms_malloc("calib.sub", d->n + 1);
    if (!d->sub) return MS_ENOMEM;
    /* the split by star: all rows, or those of stars (id >= 0) with u(id) < fraction */
    for (size_t i = 0; i < d->n; i++)
        d->sub[i] = d->use[i] && (o->reference_fraction >= 1.0 ||
                                  (d->group[i] >= 0 &&
                                   ms_sys_split_u(d->group[i]) < o->reference_fraction));
    int any = 0;
    for (int k = 0; k < MS_CALIB_MAX_PARAMS; k++) any |= d->ref.value[k] != NULL;
    if (!any)
        MS_ERROR(MS_EFORMAT, "%s: no column rv, teff, logg, m_h or alpha_m to compare with "
                 "(--reference)", o->reference);
    if (d->ref.matched == 0)
        MS_ERROR(MS_ENOPROG, "%s: none of its %zu rows joins one of the %zu catalog rows of %s "
                 "by obsid, key or position (--reference)", o->reference, d->ref.table_rows,
                 d->n, ms_h5_path(f));
    return MS_OK;
}

/* e_<p>_total before the floor: Z25's quadrature sum of the repeat and the fitting error,
 * or the larger of the two (the repeat scatter contains the fitting noise); NaN when
 * either is NaN. */
static double combined(int use_max, double rep, double fit)
{
    if (isnan(rep) || isnan(fit)) return NAN;
    if (use_max) return rep > fit ? rep : fit;
    return sqrt(rep * rep + fit * fit);
}

/* k e with the floor sys in quadrature (k = 1 without the scaled model). */
static double with_floor(double e, const ms_sys_floor *sf)
{
    const double ke = sf->scale * e;
    return sf->floor > 0 ? sqrt(ke * ke + sf->floor * sf->floor) : ke;
}

/* The floor of parameter k (slot j) against the reference: the differences fit - ref of
 * the fitted rows with a reference value, over sqrt(e_total^2 + e_ref^2), in the
 * reference fraction. Uses d->dev, d->dof as scratch. */
static ms_status floor_param(const ms_calib_opts *o, calib_data *d, ms_calib_result *r, int k,
                             size_t j)
{
    const ms_repeat_fit *fit = &r->fit[j];
    const double *ref = d->ref.value[k], *eref = d->ref.error[k];
    size_t in_sub = 0;
    for (size_t i = 0; i < d->n; i++) {
        const double e = combined(o->combine_max, ms_repeat_error(fit->a, fit->b, d->snr[i]),
                                  d->error[k][i]);
        d->dev[i] = d->value[k][i] - ref[i];
        d->col[i] = e; /* scratch until write_param */
        d->dof[i] = sqrt(e * e + eref[i] * eref[i]);
        if (!d->use[i] || !isfinite(d->dev[i]) || !isfinite(d->dof[i]) || !(d->dof[i] > 0))
            continue;
        r->sys_matched[j]++;
        in_sub += d->sub[i];
    }
    if (in_sub < MIN_REFERENCE_ROWS)
        MS_ERROR(MS_ENOPROG, "%s: %zu fitted rows have a reference value in %s, %zu of them "
                 "of the stars of --reference-fraction %g: a systematic floor needs at least "
                 "%d", r->name[j], r->sys_matched[j], o->reference, in_sub,
                 o->reference_fraction, MIN_REFERENCE_ROWS);
    if (o->scaled) return ms_sys_scaled_fit(d->n, d->dev, d->col, eref, d->sub, &r->sys[j]);
    return ms_sys_floor_fit(d->n, d->dev, d->dof, d->sub, o->spread, &r->sys[j]);
}

/* Fit every parameter that has values in fitted rows. */
static ms_status calibrate(ms_h5 *f, const ms_calib_opts *o, calib_data *d, ms_calib_result *r)
{
    for (int k = 0; k < MS_CALIB_MAX_PARAMS; k++) {
        if (!d->value[k]) continue;
        size_t with_value = 0;
        for (size_t i = 0; i < d->n; i++)
            with_value += d->use[i] && isfinite(d->value[k][i]) && isfinite(d->error[k][i]);
        if (with_value == 0) continue; /* e.g. alpha_m of a 2-label emulator, rv not fitted */
        const size_t j = r->n_params;
        snprintf(r->name[j], sizeof r->name[j], "%s", params[k]);
        char e[64], *units = NULL;
        snprintf(e, sizeof e, MS_CATALOG_GROUP "/e_%s", params[k]);
        if (ms_h5_attr_get_str(f, e, "units", &units) != MS_OK) ms_error_clear();
        snprintf(r->units[j], sizeof r->units[j], "%s", units ? units : "");
        ms_free(units);
        size_t n_dev;
        MS_TRY(ms_repeat_deviations(d->n, d->group, d->value[k], d->use, o->min_obs, d->dev,
                                    d->dof, &r->n_stars[j], &n_dev));
        ms_status st = ms_repeat_fit_snr(d->n, d->dev, d->dof, d->snr, o->bin_width,
                                         o->min_per_bin, &r->fit[j]);
        if (st == MS_ENOPROG && o->reference && d->ref.value[k]) {
            /* no repeats to speak of (issue 17): Err_repeat = 0, and the reference alone
             * gives the floor (and with --error-model scaled the scale) of Err_total */
            ms_log_warn("calibrate-errors: %s: %s: no Err_repeat (%zu stars with >= %zu "
                        "observations); Err_total from the fitting error and the floor%s of "
                        "the reference %s", params[k], ms_error_message(), r->n_stars[j],
                        o->min_obs, o->scaled ? " and scale" : "", o->reference);
            ms_error_clear();
            ms_repeat_fit_free(&r->fit[j]);
            memset(&r->fit[j], 0, sizeof r->fit[j]);
            st = MS_OK;
        } else if (st == MS_ENOPROG && o->reference) {
            /* neither repeats nor a reference value: nothing to calibrate it with */
            ms_log_warn("calibrate-errors: %s: %s; the reference %s has no %s column: left "
                        "out", params[k], ms_error_message(), o->reference, params[k]);
            ms_error_clear();
            ms_repeat_fit_free(&r->fit[j]);
            memset(&r->fit[j], 0, sizeof r->fit[j]);
            continue;
        }
        if (st != MS_OK) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", ms_error_message());
            return ms_error_set(st, __FILE__, __LINE__, "%s: %s: %s (%zu stars with >= %zu "
                                "observations, grouped by %s)", ms_h5_path(f), params[k], msg,
                                r->n_stars[j], o->min_obs, o->group_by);
        }
        r->sys[j].bias = NAN;
        r->sys[j].scale = 1.0; /* no reference: Err_total unscaled */
        r->n_params++;
        if (o->reference && d->ref.value[k]) {
            r->sys_have[j] = 1;
            MS_TRY(floor_param(o, d, r, k, j));
        }
    }
    if (r->n_params == 0)
        MS_ERROR(MS_EFORMAT, "%s: no fitted row has a parameter with an uncertainty to "
                 "calibrate (%ld fitted rows)", ms_h5_path(f), r->fitted);
    return MS_OK;
}

/* A float64 column: written in place when it exists (a second run), else created. */
static ms_status write_column(ms_h5 *f, const char *path, size_t n, const double *v,
                              const char *units, const char *desc)
{
    if (ms_h5_exists(f, path)) {
        ms_h5_type t;
        size_t sl;
        int rank;
        size_t dims[2];
        MS_TRY(ms_h5_dset_type(f, path, &t, &sl));
        MS_TRY(ms_h5_dims(f, path, &rank, dims));
        if (t != MS_H5_F64 || rank != 1 || dims[0] != n)
            MS_ERROR(MS_EFORMAT, "%s: %s exists but is not a float64 column of %zu rows",
                     ms_h5_path(f), path, n);
        MS_TRY(ms_h5_attr_set_str(f, path, "units", units));
        MS_TRY(ms_h5_attr_set_str(f, path, "description", desc));
    } else {
        MS_TRY(ms_h5_create_dataset(f, path, MS_H5_F64, 0, 1, &n, 0, units, desc));
    }
    return ms_h5_write_rows(f, path, 0, n, v);
}

/* How e_<p>_total was combined and the floor (zero and counts 0 without a reference). */
static ms_status write_floor_attrs(ms_h5 *f, const char *path, const ms_calib_opts *o,
                                   const ms_calib_result *r, size_t j)
{
    const ms_sys_floor *sf = &r->sys[j];
    const int have = r->sys_have[j];
    const double fraction = have ? o->reference_fraction : 0.0;
    const double bias = have ? sf->bias : NAN, spread0 = have ? sf->spread0 : NAN;
    const int64_t n = (int64_t)sf->n, matched = (int64_t)r->sys_matched[j],
                  clipped = (int64_t)sf->n_clipped;
    char split[512];
    if (!have)
        snprintf(split, sizeof split, "none");
    else if (o->reference_fraction >= 1.0)
        snprintf(split, sizeof split, "all matched fitted rows");
    else
        snprintf(split, sizeof split, "the matched fitted rows whose %s g >= 0 has u(g) < %.17g, "
                 "u(g) = (splitmix64(g) >> 11) / 2^53 with splitmix64(g) = mix(g + "
                 "0x9e3779b97f4a7c15) (include/mstars/sys_errors.h); the others (u(g) >= %.17g) "
                 "are left for a check", o->group_by, o->reference_fraction,
                 o->reference_fraction);
    MS_TRY(ms_h5_attr_set_str(f, path, "combine", o->combine_max ? "max" : "z25"));
    MS_TRY(ms_h5_attr_set_f64(f, path, "sys_floor", &sf->floor, 1));
    const double scale = have ? sf->scale : 1.0;
    MS_TRY(ms_h5_attr_set_f64(f, path, "sys_scale", &scale, 1));
    MS_TRY(ms_h5_attr_set_str(f, path, "sys_model", !have ? "" : o->scaled ? "scaled" : "floor"));
    MS_TRY(ms_h5_attr_set_f64(f, path, "sys_bias", &bias, 1));
    MS_TRY(ms_h5_attr_set_f64(f, path, "sys_spread0", &spread0, 1));
    MS_TRY(ms_h5_attr_set_f64(f, path, "sys_fraction", &fraction, 1));
    MS_TRY(ms_h5_attr_set_i64(f, path, "sys_n", &n, 1));
    MS_TRY(ms_h5_attr_set_i64(f, path, "sys_n_matched", &matched, 1));
    MS_TRY(ms_h5_attr_set_i64(f, path, "sys_n_clipped", &clipped, 1));
    MS_TRY(ms_h5_attr_set_str(f, path, "sys_reference", have ? o->reference : ""));
    MS_TRY(ms_h5_attr_set_str(f, path, "sys_spread",
                              have && !o->scaled ? ms_sys_spread_name(o->spread) : ""));
    return ms_h5_attr_set_str(f, path, "sys_split", split);
}

static ms_status write_param(ms_h5 *f, const ms_calib_opts *o, calib_data *d,
                             const ms_calib_result *r, size_t j)
{
    int k = 0;
    while (strcmp(params[k], r->name[j]) != 0) k++;
    const ms_repeat_fit *fit = &r->fit[j];
    const char *p = r->name[j];
    char path[64], desc[512];
    for (size_t i = 0; i < d->n; i++)
        d->col[i] = d->use[i] && isfinite(d->value[k][i]) ? ms_repeat_error(fit->a, fit->b, d->snr[i])
                                                         : NAN;
    snprintf(path, sizeof path, MS_CATALOG_GROUP "/e_%s_repeat", p);
    snprintf(desc, sizeof desc, "Err_repeat of %s (Z25 Eq. 9): a / %s + b from stars with >= "
             "%zu observations (a = %.6g, b = %.6g; attributes repeat_*)", p, o->snr_column,
             o->min_obs, fit->a, fit->b);
    MS_TRY(write_column(f, path, d->n, d->col, r->units[j], desc));
    const double a = fit->a, b = fit->b;
    MS_TRY(ms_h5_attr_set_f64(f, path, "repeat_a", &a, 1));
    MS_TRY(ms_h5_attr_set_f64(f, path, "repeat_b", &b, 1));
    MS_TRY(ms_h5_attr_set_f64(f, path, "repeat_a_err", &fit->a_err, 1));
    MS_TRY(ms_h5_attr_set_f64(f, path, "repeat_b_err", &fit->b_err, 1));
    const int64_t ns = (int64_t)r->n_stars[j], no = (int64_t)fit->n_dev;
    MS_TRY(ms_h5_attr_set_i64(f, path, "repeat_n_stars", &ns, 1));
    MS_TRY(ms_h5_attr_set_i64(f, path, "repeat_n_obs", &no, 1));
    if (fit->n_bins > 0) { /* none without repeats (Err_repeat = 0) */
        MS_TRY(ms_h5_attr_set_f64(f, path, "repeat_bin_snr_min", fit->snr_min, fit->n_bins));
        MS_TRY(ms_h5_attr_set_f64(f, path, "repeat_bin_snr_max", fit->snr_max, fit->n_bins));
        MS_TRY(ms_h5_attr_set_f64(f, path, "repeat_bin_n", fit->n, fit->n_bins));
        MS_TRY(ms_h5_attr_set_f64(f, path, "repeat_bin_scatter", fit->scatter, fit->n_bins));
        MS_TRY(ms_h5_attr_set_f64(f, path, "repeat_bin_inv_snr", fit->inv_snr, fit->n_bins));
    }
    MS_TRY(ms_h5_attr_set_str(f, path, "repeat_group_by", o->group_by));
    MS_TRY(ms_h5_attr_set_str(f, path, "repeat_snr_column", o->snr_column));
    /* the total: repeat and fitting errors in quadrature (Z25 Eq. 8) or their max, and the
     * floor */
    const ms_sys_floor *sf = &r->sys[j];
    for (size_t i = 0; i < d->n; i++)
        d->col[i] = with_floor(combined(o->combine_max, d->col[i], d->error[k][i]), sf);
    snprintf(path, sizeof path, MS_CATALOG_GROUP "/e_%s_total", p);
    char floor_text[160] = "", scale_text[48] = "";
    if (r->sys_have[j])
        snprintf(floor_text, sizeof floor_text, " + sys^2), sys = %.6g %s%s from the reference "
                 "(attributes sys_*)", sf->floor, r->units[j], o->scaled ? " and k" : "");
    if (o->scaled) snprintf(scale_text, sizeof scale_text, "k^2 (k = %.6g) ", sf->scale);
    if (o->combine_max)
        snprintf(desc, sizeof desc, "total uncertainty of %s: sqrt(%smax(e_%s_repeat, e_%s)^2%s",
                 p, scale_text, p, p, r->sys_have[j] ? floor_text : ")");
    else
        snprintf(desc, sizeof desc, "total uncertainty of %s (Z25 Eq. 8): sqrt(%s(e_%s_repeat^2 "
                 "+ e_%s^2)%s", p, scale_text, p, p, r->sys_have[j] ? floor_text : ")");
    MS_TRY(write_column(f, path, d->n, d->col, r->units[j], desc));
    MS_TRY(write_floor_attrs(f, path, o, r, j));
    char names[128];
    snprintf(names, sizeof names, "e_%s_repeat,e_%s_total", p, p);
    return ms_catalog_column_order_append(f, names);
}

/* <p>_cal = <p> - bias (o->zero_point, a parameter with a reference), or remove a <p>_cal
 * that an earlier run wrote (a calibration without it resets the catalog). */
static ms_status write_zero_point(ms_h5 *f, const ms_calib_opts *o, calib_data *d,
                                  const ms_calib_result *r, size_t j)
{
    int k = 0;
    while (strcmp(params[k], r->name[j]) != 0) k++;
    const char *p = r->name[j];
    char path[64], name[32];
    snprintf(name, sizeof name, "%s_cal", p);
    snprintf(path, sizeof path, MS_CATALOG_GROUP "/%s", name);
    if (!o->zero_point || !r->sys_have[j]) {
        if (!ms_h5_exists(f, path)) return MS_OK;
        MS_TRY(ms_h5_unlink(f, path));
        return ms_catalog_column_order_remove(f, name);
    }
    const double zp = r->sys[j].bias;
    for (size_t i = 0; i < d->n; i++)
        d->col[i] = d->use[i] && isfinite(d->value[k][i]) ? d->value[k][i] - zp : NAN;
    char desc[512];
    snprintf(desc, sizeof desc, "%s on the zero point of the reference %s: %s - %.6g %s (the "
             "mean fit - reference of the stars with u(%s) < %g; attribute zero_point)", p,
             o->reference, p, zp, r->units[j], o->group_by, o->reference_fraction);
    MS_TRY(write_column(f, path, d->n, d->col, r->units[j], desc));
    MS_TRY(ms_h5_attr_set_f64(f, path, "zero_point", &zp, 1));
    MS_TRY(ms_h5_attr_set_str(f, path, "zero_point_reference", o->reference));
    MS_TRY(ms_h5_attr_set_f64(f, path, "zero_point_fraction", &o->reference_fraction, 1));
    return ms_catalog_column_order_append(f, name);
}

static ms_status write_record(ms_h5 *f, const ms_calib_opts *o, const ms_calib_result *r)
{
    char text[8192];
    int len = snprintf(text, sizeof text, "%s; Err_repeat = a / %s + b (Z25 Eq. 9) from the "
                       "repeats of %ld fitted rows grouped by %s (stars with >= %zu "
                       "observations; S/N bins of %g with >= %zu deviations);",
                       o->command ? o->command : "mstars calibrate-errors", o->snr_column,
                       r->grouped, o->group_by, o->min_obs, o->bin_width, o->min_per_bin);
    for (size_t j = 0; j < r->n_params && len > 0 && (size_t)len < sizeof text; j++)
        len += snprintf(text + len, sizeof text - (size_t)len, " %s: a = %.6g +- %.3g, b = %.6g "
                        "+- %.3g %s, %zu stars, %zu observations, %zu bins;", r->name[j],
                        r->fit[j].a, r->fit[j].a_err, r->fit[j].b, r->fit[j].b_err,
                        r->units[j], r->n_stars[j], r->fit[j].n_dev, r->fit[j].n_bins);
    if (len > 0 && (size_t)len < sizeof text)
        len += snprintf(text + len, sizeof text - (size_t)len, " Err_total = sqrt(%s%s%s);",
                        o->scaled ? "k^2 " : "",
                        o->combine_max ? "max(Err_repeat, Err_fitting)^2" :
                                         o->scaled ? "(Err_repeat^2 + Err_fitting^2)"
                                                   : "Err_repeat^2 + Err_fitting^2",
                        o->reference ? " + sys^2" : "");
    if (o->reference && o->scaled && len > 0 && (size_t)len < sizeof text)
        len += snprintf(text + len, sizeof text - (size_t)len, " scale k and floor sys from %s "
                        "(%zu rows, %zu catalog rows joined by obsid, key or position; maximum likelihood of "
                        "fit - ref ~ N(bias, k^2 Err^2 + sys^2 + e_ref^2), 5-sigma clipped; "
                        "stars with u(%s) < %g):", o->reference, r->ref_rows, r->ref_matched,
                        o->group_by, o->reference_fraction);
    else if (o->reference && len > 0 && (size_t)len < sizeof text)
        len += snprintf(text + len, sizeof text - (size_t)len, " systematic floor sys from %s "
                        "(%zu rows, %zu catalog rows joined by obsid, key or position; %s spread of (fit - ref "
                        "- bias) / sqrt(Err^2 + sys^2 + e_ref^2) = 1; stars with u(%s) < %g):",
                        o->reference, r->ref_rows, r->ref_matched,
                        ms_sys_spread_name(o->spread), o->group_by, o->reference_fraction);
    if (o->zero_point && len > 0 && (size_t)len < sizeof text)
        len += snprintf(text + len, sizeof text - (size_t)len, " labels on the reference's "
                        "zero point written as <p>_cal = <p> - bias;");
    for (size_t j = 0; o->reference && j < r->n_params && len > 0 && (size_t)len < sizeof text;
         j++) {
        if (!r->sys_have[j])
            len += snprintf(text + len, sizeof text - (size_t)len, " %s: no reference column;",
                            r->name[j]);
        else
            len += snprintf(text + len, sizeof text - (size_t)len, " %s: k = %.6g, sys = %.6g "
                            "%s, bias = %.6g, spread without them %.4g, from %zu of %zu matched "
                            "rows (%zu clipped);", r->name[j], r->sys[j].scale, r->sys[j].floor,
                            r->units[j],
                            r->sys[j].bias, r->sys[j].spread0, r->sys[j].n, r->sys_matched[j],
                            r->sys[j].n_clipped);
    }
    return ms_h5_attr_set_str(f, "/", "error_calibration", text);
}

/* Thresholds of the cuts: those the fit recorded, else the options'. */
static void cut_thresholds(ms_h5 *f, const ms_calib_opts *o, ms_catalog_cuts_opts *co)
{
    double thr[3];
    size_t n = 0;
    co->teff_max = o->cut_teff_max;
    co->error_sigma = o->cut_error_sigma;
    co->chi2_red_max = o->cut_chi2_red;
    if (ms_h5_attr_get_f64(f, MS_COL_CUT_FLAGS, "cut_thresholds", thr, 3, &n) == MS_OK &&
        n == 3) {
        co->teff_max = thr[0];
        co->error_sigma = thr[1];
        co->chi2_red_max = thr[2];
    } else {
        ms_error_clear();
    }
}

ms_status ms_catalog_calibrate_errors(const char *path, const ms_calib_opts *o,
                                      ms_calib_result *r)
{
    memset(r, 0, sizeof *r);
    if (o->min_obs < 2) MS_ERROR(MS_EINVAL, "calibrate-errors: --min-obs must be >= 2");
    ms_h5 *f;
    ms_status st = ms_h5_open_update_step(path, 0, STEP, &f, &r->recovered);
    if (st == MS_EFORMAT) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", ms_error_message());
        MS_ERROR(st, "%s (calibrate-errors needs a finished catalog of mstars fit)", msg);
    }
    MS_TRY(st);
    calib_data d;
    memset(&d, 0, sizeof d);
    st = read_inputs(f, o, &d, r);
    if (st == MS_OK) st = calibrate(f, o, &d, r);
    if (st != MS_OK) {
        /* nothing written yet: a complete catalog stays complete */
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", ms_error_message());
        data_free(&d);
        if (r->recovered)
            ms_h5_close(f);
        else
            ms_h5_commit(f);
        return ms_error_set(st, __FILE__, __LINE__, "%s", msg);
    }
    for (size_t j = 0; st == MS_OK && j < r->n_params; j++) st = write_param(f, o, &d, r, j);
    for (size_t j = 0; st == MS_OK && j < r->n_params; j++) st = write_zero_point(f, o, &d, r, j);
    if (st == MS_OK) st = write_record(f, o, r);
    data_free(&d);
    ms_catalog_cuts_opts co = {0, 0, 0, NULL, 0, 1, 0, NULL};
    cut_thresholds(f, o, &co);
    if (st == MS_OK) st = ms_catalog_cuts(f, &co, &r->cuts);
    if (st != MS_OK) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", ms_error_message());
        ms_h5_close(f);
        return ms_error_set(st, __FILE__, __LINE__, "%s; %s is left incomplete: run "
                            "calibrate-errors again", msg, path);
    }
    return ms_h5_commit(f);
}
