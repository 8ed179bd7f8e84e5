/* report_catalog.c: what `mstars report` reads from a catalog: the columns it uses (those
 * that exist), flag names, root attributes and the Err_repeat fits of calibrate-errors. */
#include "report_internal.h"

#include "mstars/log.h"
#include "mstars/schema.h"
#include "mstars/mem.h"
#include "mstars/strlist.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const rp_param rp_params[RP_N_PARAMS] = {
    {"teff", "T#deff#u (K)", "T#deff#u", "Teff", "K", 0},
    {"logg", "log g (dex)", "log g", "log g", "dex", 3},
    {"m_h", "[M/H] (dex)", "[M/H]", "[M/H]", "dex", 3},
    {"alpha_m", "[#ga/M] (dex)", "[#ga/M]", "[alpha/M]", "dex", 3},
    {"rv", "RV (km/s)", "RV", "RV", "km/s", 2},
};

const double rp_snr_edges[RP_N_SNR_BINS + 1] = {5, 10, 20, 50, HUGE_VAL};

static ms_status column_path(const rp_catalog *c, const char *name, char *buf, size_t len)
{
    if (snprintf(buf, len, MS_CATALOG_GROUP "/%s", name) >= (int)len)
        MS_ERROR(MS_EINVAL, "%s: column name too long: %s", c->path, name);
    return MS_OK;
}

/* A 1-D column of n rows, or MS_EFORMAT naming it. */
static ms_status check_column(ms_h5 *f, const rp_catalog *c, const char *path)
{
    int rank = 0;
    size_t dims[2] = {0, 0};
    MS_TRY(ms_h5_dims(f, path, &rank, dims));
    if (rank != 1 || dims[0] != c->n)
        MS_ERROR(MS_EFORMAT, "%s: %s is not a column of %zu rows (rank %d, %zu rows)", c->path,
                 path, c->n, rank, dims[0]);
    return MS_OK;
}

/* Read a numeric column as type (elem bytes each); *out stays NULL when absent. */
static ms_status read_numeric(ms_h5 *f, const rp_catalog *c, const char *name, ms_h5_type type,
                              size_t elem, void **out)
{
    *out = NULL;
    char path[160];
    MS_TRY(column_path(c, name, path, sizeof path));
    if (!ms_h5_exists(f, path)) return MS_OK;
    MS_TRY(check_column(f, c, path));
    void *v = ms_malloc_array("report.column", c->n ? c->n : 1, elem);
    if (!v) return MS_ENOMEM;
    ms_status st = c->n ? ms_h5_read_rows(f, path, type, 0, 0, c->n, v) : MS_OK;
    if (st != MS_OK) {
        ms_free(v);
        return st;
    }
    *out = v;
    return MS_OK;
}

static ms_status read_f64(ms_h5 *f, const rp_catalog *c, const char *name, double **out)
{
    void *v;
    MS_TRY(read_numeric(f, c, name, MS_H5_F64, sizeof(double), &v));
    *out = v;
    return MS_OK;
}

/* A string column as n NUL-terminated strings (one allocation: pointers, then text). */
static ms_status read_strings(ms_h5 *f, const rp_catalog *c, const char *name, char ***out)
{
    *out = NULL;
    char path[160];
    MS_TRY(column_path(c, name, path, sizeof path));
    if (!ms_h5_exists(f, path)) return MS_OK;
    MS_TRY(check_column(f, c, path));
    return ms_h5_read_strings(f, path, c->n, out);
}

/* A root string attribute into buf ("" when absent). */
static ms_status root_attr(ms_h5 *f, const char *name, char *buf, size_t len)
{
    buf[0] = '\0';
    char *v = NULL;
    ms_status st = ms_h5_attr_get_str(f, "/", name, &v);
    if (st == MS_ENOTFOUND || st == MS_EFORMAT) { /* informative only: left empty */
        if (st == MS_EFORMAT) ms_log_warn("report: %s", ms_error_message());
        ms_error_clear();
        return MS_OK;
    }
    MS_TRY(st);
    snprintf(buf, len, "%s", v);
    ms_free(v);
    return MS_OK;
}

/* The flag_names attribute of a flags column: "0=name,1=name,..." (or "name,name,...",
 * bit = position). Bits without a name stay "". */
static ms_status flag_names(ms_h5 *f, const char *dset, char names[][RP_NAME_LEN])
{
    for (int b = 0; b < RP_MAX_FLAG_BITS; b++) names[b][0] = '\0';
    char *v = NULL;
    ms_status st = ms_h5_attr_get_str(f, dset, "flag_names", &v);
    if (st == MS_ENOTFOUND || st == MS_EFORMAT) { /* bits stay unnamed: "<column>_bit<k>" */
        if (st == MS_EFORMAT) ms_log_warn("report: %s", ms_error_message());
        ms_error_clear();
        return MS_OK;
    }
    MS_TRY(st);
    int pos = 0;
    for (char *save = NULL, *item = strtok_r(v, ",;", &save); item;
         item = strtok_r(NULL, ",;", &save), pos++) {
        while (*item == ' ') item++;
        int bit = pos;
        char *eq = strchr(item, '=');
        if (eq) {
            char *end;
            long b = strtol(item, &end, 10);
            if (end == eq && b >= 0 && b < RP_MAX_FLAG_BITS) bit = (int)b;
            item = eq + 1;
        }
        size_t len = strcspn(item, " ");
        if (bit < RP_MAX_FLAG_BITS && len > 0)
            snprintf(names[bit], RP_NAME_LEN, "%.*s", (int)len, item);
    }
    ms_free(v);
    return MS_OK;
}

/* Err_repeat attributes of /catalog/e_<p>_repeat (written by calibrate-errors). */
static ms_status read_repeat(ms_h5 *f, const rp_catalog *c, const char *p, rp_repeat *r)
{
    memset(r, 0, sizeof *r);
    char path[160], col[64];
    snprintf(col, sizeof col, "e_%s_repeat", p);
    MS_TRY(column_path(c, col, path, sizeof path));
    if (!ms_h5_exists(f, path)) {
        snprintf(r->why, sizeof r->why, "no column /catalog/%s: run mstars calibrate-errors", col);
        return MS_OK;
    }
    size_t n = 0;
    const char *scalars[3] = {"repeat_a", "repeat_b", "repeat_n_stars"};
    double *dst[3] = {&r->a, &r->b, &r->n_stars};
    for (int k = 0; k < 3; k++) {
        ms_status st = ms_h5_attr_get_f64(f, path, scalars[k], dst[k], 1, &n);
        if (st == MS_ENOTFOUND || (st == MS_OK && n != 1)) {
            ms_error_clear();
            snprintf(r->why, sizeof r->why, MS_CATALOG_GROUP "/%s has no attribute %s", col, scalars[k]);
            return MS_OK;
        }
        MS_TRY(st);
    }
    enum { CAP = 4096 };
    const char *arrays[5] = {"repeat_bin_snr_min", "repeat_bin_snr_max", "repeat_bin_n",
                             "repeat_bin_scatter", "repeat_bin_inv_snr"};
    double *buf = ms_malloc_array("report.repeat", 5 * CAP, sizeof *buf);
    if (!buf) return MS_ENOMEM;
    size_t nb = 0;
    int have_inv = 0;
    for (int k = 0; k < 5; k++) {
        size_t got = 0;
        ms_status st = ms_h5_attr_get_f64(f, path, arrays[k], buf + k * CAP, CAP, &got);
        if (st == MS_ENOTFOUND) {
            ms_error_clear();
            got = 0;
        } else if (st != MS_OK) {
            ms_free(buf);
            return st;
        }
        if (k == 0) nb = got;
        if (k == 4) { /* optional */
            have_inv = got == nb;
            break;
        }
        if (got != nb) {
            snprintf(r->why, sizeof r->why, MS_CATALOG_GROUP "/%s: attribute %s has %zu values, %s %zu",
                     col, arrays[k], got, arrays[0], nb);
            ms_free(buf);
            return MS_OK;
        }
    }
    /* compact: the four arrays back to back */
    for (int k = 1; k < 5; k++) memmove(buf + k * nb, buf + k * CAP, nb * sizeof *buf);
    r->n_bins = nb;
    r->bin_min = buf;
    r->bin_max = buf + nb;
    r->bin_n = buf + 2 * nb;
    r->bin_scatter = buf + 3 * nb;
    r->bin_inv_snr = have_inv ? buf + 4 * nb : NULL;
    r->have = 1;
    return MS_OK;
}

/* Rows of the catalog: the length of its first 1-D dataset. */
static ms_status row_count(ms_h5 *f, rp_catalog *c)
{
    ms_strlist names = {0};
    ms_status st = ms_h5_list(f, MS_CATALOG_GROUP, &names);
    if (st == MS_ENOTFOUND) {
        ms_strlist_free(&names);
        MS_ERROR(MS_EFORMAT, "%s has no /catalog group: not a catalog of mstars fit", c->path);
    }
    int found = 0;
    for (size_t i = 0; st == MS_OK && i < names.n && !found; i++) {
        char path[160];
        int rank = 0;
        size_t dims[2];
        st = column_path(c, names.items[i], path, sizeof path);
        if (st == MS_OK) st = ms_h5_dims(f, path, &rank, dims);
        if (st == MS_OK && rank == 1) {
            c->n = dims[0];
            found = 1;
        }
    }
    ms_strlist_free(&names);
    MS_TRY(st);
    if (!found) MS_ERROR(MS_EFORMAT, "%s: no column under /catalog", c->path);
    return MS_OK;
}

/* The labels: <p>, or with calibrated <p>_cal where it exists (calibrate-errors
 * --zero-point); refused when no parameter has one. */
static ms_status read_labels(ms_h5 *f, rp_catalog *c, int calibrated)
{
    for (int p = 0; p < RP_N_PARAMS; p++) {
        char name[48], path[160];
        snprintf(name, sizeof name, "%s_cal", rp_params[p].name);
        MS_TRY(column_path(c, name, path, sizeof path));
        if (calibrated && ms_h5_exists(f, path)) {
            MS_TRY(read_f64(f, c, name, &c->label[p]));
            const size_t len = strlen(c->calibrated);
            snprintf(c->calibrated + len, sizeof c->calibrated - len, "%s%s", len ? "," : "",
                     rp_params[p].name);
        } else {
            MS_TRY(read_f64(f, c, rp_params[p].name, &c->label[p]));
        }
    }
    if (calibrated && !c->calibrated[0])
        MS_ERROR(MS_ENOTFOUND, "%s has no column teff_cal, logg_cal, m_h_cal, alpha_m_cal or "
                 "rv_cal for --calibrated: run mstars calibrate-errors --reference FILE "
                 "--zero-point first", c->path);
    return MS_OK;
}

static ms_status read_all(ms_h5 *f, rp_catalog *c, int calibrated)
{
    MS_TRY(row_count(f, c));
    MS_TRY(read_labels(f, c, calibrated));
    MS_TRY(read_f64(f, c, "snr_r", &c->snr_r));
    MS_TRY(read_f64(f, c, "gmag", &c->gmag));
    MS_TRY(read_f64(f, c, "bpmag", &c->bpmag));
    MS_TRY(read_f64(f, c, "rpmag", &c->rpmag));
    MS_TRY(read_f64(f, c, "plx", &c->plx));
    MS_TRY(read_f64(f, c, "spt", &c->spt));
    MS_TRY(read_f64(f, c, "resid_sigma", &c->resid));
    MS_TRY(read_f64(f, c, "resid_sigma_emu", &c->resid_emu));
    void *v;
    MS_TRY(read_numeric(f, c, "store_status", MS_H5_I32, sizeof(int32_t), &v));
    c->store_status = v;
    MS_TRY(read_numeric(f, c, "fit_flags", MS_H5_I64, sizeof(int64_t), &v));
    c->fit_flags = v;
    MS_TRY(read_numeric(f, c, "cut_flags", MS_H5_I64, sizeof(int64_t), &v));
    c->cut_flags = v;
    MS_TRY(read_strings(f, c, "obsid", &c->obsid));
    if (ms_catalog_join_ids(f, c->n, &c->ids) != MS_OK) { /* nothing to join on: noted later */
        memset(&c->ids, 0, sizeof c->ids);
        ms_error_clear();
    }
    MS_TRY(read_strings(f, c, "subclass", &c->subclass));
    if (c->fit_flags) MS_TRY(flag_names(f, MS_COL_FIT_FLAGS, c->fit_names));
    if (c->cut_flags) MS_TRY(flag_names(f, MS_COL_CUT_FLAGS, c->cut_names));
    MS_TRY(root_attr(f, "emulator", c->emulator, sizeof c->emulator));
    MS_TRY(root_attr(f, "domain_adaptation", c->domain_adaptation, sizeof c->domain_adaptation));
    MS_TRY(root_attr(f, "mstars_version", c->version, sizeof c->version));
    MS_TRY(root_attr(f, "git_revision", c->git_revision, sizeof c->git_revision));
    MS_TRY(root_attr(f, "created", c->created, sizeof c->created));
    MS_TRY(root_attr(f, MS_ATTR_GRID_QUALITY, c->grid_quality, sizeof c->grid_quality));
    MS_TRY(root_attr(f, "sanity", c->sanity, sizeof c->sanity));
    MS_TRY(root_attr(f, "error_model", c->error_model, sizeof c->error_model));
    int64_t pass;
    size_t na;
    if (ms_h5_attr_get_i64(f, "/", MS_ATTR_GRID_QUALITY_PASS, &pass, 1, &na) == MS_OK && na == 1)
        c->grid_quality_fail = pass == 0;
    if (ms_h5_attr_get_i64(f, "/", "sanity_pass", &pass, 1, &na) == MS_OK && na == 1)
        c->sanity_fail = pass == 0;
    ms_error_clear();
    c->csn_run = strncmp(c->domain_adaptation, "Cycle-StarNet", 13) == 0 ||
                 c->resid_emu != NULL || ms_h5_exists(f, MS_COL_TEFF_EMU);
    for (int p = 0; p < RP_N_PARAMS; p++)
        MS_TRY(read_repeat(f, c, rp_params[p].name, &c->repeat[p]));
    return MS_OK;
}

ms_status rp_catalog_read(const char *path, int calibrated, rp_catalog *c)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    ms_h5 *f = NULL;
    MS_TRY(ms_h5_open_read(path, 0, &f)); /* refuses a catalog without complete = 1 */
    ms_status st = read_all(f, c, calibrated);
    ms_status cs = ms_h5_close(f);
    if (st == MS_OK) st = cs;
    if (st != MS_OK) rp_catalog_free(c);
    return st;
}

void rp_catalog_free(rp_catalog *c)
{
    for (int p = 0; p < RP_N_PARAMS; p++) {
        ms_free(c->label[p]);
        ms_free(c->repeat[p].bin_min);
    }
    double *cols[] = {c->snr_r, c->gmag, c->bpmag, c->rpmag, c->plx, c->spt, c->resid,
                      c->resid_emu};
    for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) ms_free(cols[k]);
    ms_free(c->store_status);
    ms_free(c->fit_flags);
    ms_free(c->cut_flags);
    ms_free(c->obsid);
    ms_join_ids_free(&c->ids);
    ms_free(c->subclass);
    const char *path = c->path;
    memset(c, 0, sizeof *c);
    c->path = path;
}
