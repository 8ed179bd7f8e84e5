/* combine.c: the driver of `mstars combine`: several methods' catalogs of one spectra store
 * -> one catalog with every method's columns, the recommended labels and the disagreement
 * between methods (combine.h; issue 24).
 *
 * Inputs are complete catalogs of the SAME store (same rows, same /catalog/id). Each input's
 * methods are found by the schema's answer table (ms_schema_answers). Every /catalog column of
 * every input is copied once: a name met twice must hold the same values (id, obsid, ra, ...:
 * the shared columns), else it is an error naming both files. A method whose label columns are
 * unprefixed (z25: teff, e_teff, e_teff_total, ...) has them renamed with its prefix (z25_teff,
 * e_z25_teff, e_z25_teff_total), because the combined catalog's teff, e_teff, ... are the
 * recommended ones. Serial (one process); every column is read whole (memory: rows x 8 bytes
 * per column at a time). */
#include "mstars/combine.h"
#include "mstars/h5.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/schema.h"
#include "mstars/stage.h"

#include "combine_rec.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_INPUTS 16
#define MAX_METHODS 16
#define NAME_LEN 96

typedef struct {
    const ms_method_answers *a;
    int input;                            /* which catalog holds it */
    char err[MS_ANSWERS_N][NAME_LEN];     /* the error column used (total when present) */
} method_t;

/* The recommended-label row (combine_rec.h): its own column group (schema.h). */

#define RV(q, nm, unit, what)                                                                \
    {MS_CATALOG_GROUP "/" nm, MS_H5_F64, 0, offsetof(rec_row, value) + (q) * sizeof(double),   \
     unit, "recommended " what ": the value of the method with the smallest error among "      \
           "those whose flags are clean (mstars combine)"},                                       \
    {MS_CATALOG_GROUP "/e_" nm, MS_H5_F64, 0, offsetof(rec_row, error) + (q) * sizeof(double), \
     unit, "uncertainty of the recommended " what " (that method's total error, times its "       \
           "three-cornered-hat scale: attribute error_scales)"},             \
    {MS_CATALOG_GROUP "/" nm "_method", MS_H5_STR, 16, offsetof(rec_row, method) + (q) * 16,   \
     "", "the method the recommended " what " comes from (empty: none)"}

static const ms_catalog_column rec_columns[] = {
    RV(0, "teff", "K", "Teff"),
    RV(1, "logg", "dex", "log g"),
    RV(2, "m_h", "dex", "[M/H]"),
    RV(3, "alpha_m", "dex", "[alpha/M]"),
    RV(4, "rv", "km/s", "radial velocity"),
    {MS_CATALOG_GROUP "/disagree_flags", MS_H5_U32, 0, offsetof(rec_row, disagree), "",
     "bit q set when two methods differ on quantity q (teff, logg, m_h, alpha_m, rv) by more "
     "than combine's --sigma times their combined error"},
    {MS_CATALOG_GROUP "/disagree_pair", MS_H5_STR, 40, offsetof(rec_row, pair), "",
     "the most discrepant pair of methods and quantity, e.g. z25/slam:teff (empty: < 2 methods)"},
    {MS_CATALOG_GROUP "/disagree_sigma", MS_H5_F64, 0, offsetof(rec_row, pair_sigma), "",
     "|difference| / combined error of that pair"},
    {NULL, 0, 0, 0, NULL, NULL},
};
static const char *const disagree_bits[] = {"teff", "logg", "m_h", "alpha_m", "rv", NULL};
static const ms_flag_bits rec_flags[] = {{"disagree_flags", disagree_bits}, {NULL, NULL}};
const ms_column_group ms_group_rec = {
    "rec", "recommended labels and the disagreement between methods (mstars combine)",
    rec_columns, sizeof(rec_row), rec_flags};

/* The output name of column `name` of a catalog holding methods ms[0..nm) (input `in`). */
static void out_name(const char *name, const method_t *ms, size_t nm, int in, char *buf,
                     size_t len)
{
    snprintf(buf, len, "%s", name);
    for (size_t m = 0; m < nm; m++) {
        if (ms[m].input != in) continue;
        if (ms_combine_column_name(ms[m].a, name, buf, len)) return;
    }
}

static ms_status read_column(ms_h5 *f, const char *path, size_t n, ms_h5_type *t, size_t *sl,
                             void **data)
{
    MS_TRY(ms_h5_dset_type(f, path, t, sl));
    size_t e = *t == MS_H5_STR ? *sl : (*t == MS_H5_F64 || *t == MS_H5_I64 ? 8 : *t == MS_H5_U8 ? 1 : 4);
    *data = ms_malloc_array("combine.column", n ? n : 1, e);
    if (!*data) return MS_ENOMEM;
    return n ? ms_h5_read_rows(f, path, *t, *sl, 0, n, *data) : MS_OK;
}

static ms_status attr_copy(ms_h5 *from, ms_h5 *to, const char *src, const char *dst,
                           const char *name)
{
    char *v = NULL;
    if (ms_h5_attr_class(from, src, name) < 0) return MS_OK;
    if (ms_h5_attr_get_str(from, src, name, &v) != MS_OK) return MS_OK; /* not a string */
    ms_status st = ms_h5_attr_set_str(to, dst, name, v);
    ms_free(v);
    return st;
}

/* Copy every column of input `in`, checking shared ones. */
static ms_status copy_columns(ms_h5 *f, const char *fpath, int in, const method_t *ms,
                              size_t nm, size_t n, ms_h5 *out, ms_strlist *written,
                              ms_strlist *written_from)
{
    ms_strlist names = {0};
    MS_TRY(ms_h5_list(f, MS_CATALOG_GROUP, &names));
    ms_status st = MS_OK;
    for (size_t k = 0; st == MS_OK && k < names.n; k++) {
        char src[NAME_LEN + 16], dst_name[NAME_LEN], dst[NAME_LEN + 16];
        snprintf(src, sizeof src, MS_CATALOG_GROUP "/%s", names.items[k]);
        int rank;
        size_t dims[2];
        if ((st = ms_h5_dims(f, src, &rank, dims)) != MS_OK) break;
        if (rank != 1) continue; /* covariances etc. stay in the method's own catalog */
        out_name(names.items[k], ms, nm, in, dst_name, sizeof dst_name);
        snprintf(dst, sizeof dst, MS_CATALOG_GROUP "/%s", dst_name);
        ms_h5_type t;
        size_t sl = 0;
        void *data = NULL;
        if ((st = read_column(f, src, n, &t, &sl, &data)) != MS_OK) {
            ms_free(data);
            break;
        }
        size_t seen = written->n;
        for (size_t w = 0; w < written->n; w++)
            if (strcmp(written->items[w], dst_name) == 0) seen = w;
        if (seen < written->n) {
            /* a shared column: must hold the same values as where it was first met */
            ms_h5_type t2;
            size_t sl2 = 0;
            void *d2 = NULL;
            st = read_column(out, dst, n, &t2, &sl2, &d2);
            size_t e = t == MS_H5_STR ? sl : (t == MS_H5_F64 || t == MS_H5_I64 ? 8 : t == MS_H5_U8 ? 1 : 4);
            if (st == MS_OK && (t2 != t || sl2 != sl || memcmp(d2, data, n * e) != 0))
                st = ms_error_set(MS_EINVAL, __FILE__, __LINE__,
                                  "combine: column %s differs between %s and %s ---> HINT: "
                                  "combine catalogs made from the same spectra store",
                                  names.items[k], written_from->items[seen], fpath);
            ms_free(d2);
        } else {
            char *units = NULL, *desc = NULL;
            if (ms_h5_attr_get_str(f, src, "units", &units) != MS_OK) units = NULL;
            if (ms_h5_attr_get_str(f, src, "description", &desc) != MS_OK) desc = NULL;
            st = ms_h5_write_array(out, dst, t, sl, 1, &n, data, units ? units : "",
                                   desc ? desc : "");
            ms_free(units);
            ms_free(desc);
            if (st == MS_OK) st = attr_copy(f, out, src, dst, "flag_names");
            if (st == MS_OK) st = attr_copy(f, out, src, dst, "bit_names");
            if (st == MS_OK) st = ms_strlist_push(written, dst_name);
            if (st == MS_OK) st = ms_strlist_push(written_from, fpath);
        }
        ms_free(data);
    }
    ms_strlist_free(&names);
    return st;
}

/* Read a method's answers into in[m * MS_REC_N + q] for every row. */
static ms_status read_answers(ms_h5 *f, const method_t *m, size_t n, size_t mi, size_t nm,
                              ms_rec_input *in)
{
    double *v = ms_malloc_array("combine.v", n + 1, sizeof *v);
    double *e = ms_malloc_array("combine.e", n + 1, sizeof *e);
    uint32_t *flag = ms_malloc_array("combine.flag", n + 1, sizeof *flag);
    int64_t *cl = ms_calloc("combine.clean", n + 1, sizeof *cl);
    ms_status st = v && e && flag && cl ? MS_OK : MS_ENOMEM;
    for (int c = 0; st == MS_OK && c < 2 && m->a->clean[c]; c++) {
        char path[NAME_LEN + 16];
        snprintf(path, sizeof path, MS_CATALOG_GROUP "/%s", m->a->clean[c]);
        if (!ms_h5_exists(f, path)) continue; /* e.g. cut_flags before the cut pass */
        st = ms_h5_read_rows(f, path, MS_H5_U32, 0, 0, n, flag);
        for (size_t r = 0; st == MS_OK && r < n; r++) cl[r] |= flag[r] != 0;
    }
    if (st == MS_OK && m->a->good) {
        char path[NAME_LEN + 16];
        snprintf(path, sizeof path, MS_CATALOG_GROUP "/%s", m->a->good);
        if (!ms_h5_exists(f, path))
            st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "combine: %s has no %s",
                              ms_h5_path(f), path);
        if (st == MS_OK) st = ms_h5_read_rows(f, path, MS_H5_U32, 0, 0, n, flag);
        for (size_t r = 0; st == MS_OK && r < n; r++) cl[r] |= flag[r] != 1;
    }
    for (int q = 0; st == MS_OK && q < MS_REC_N; q++) {
        char pv[NAME_LEN + 16], pe[NAME_LEN + 16];
        int have = m->a->value[q] != NULL;
        if (have) {
            snprintf(pv, sizeof pv, MS_CATALOG_GROUP "/%s", m->a->value[q]);
            snprintf(pe, sizeof pe, MS_CATALOG_GROUP "/%s", m->err[q]);
            have = ms_h5_exists(f, pv) && ms_h5_exists(f, pe);
        }
        if (have) st = ms_h5_read_rows(f, pv, MS_H5_F64, 0, 0, n, v);
        if (have && st == MS_OK) st = ms_h5_read_rows(f, pe, MS_H5_F64, 0, 0, n, e);
        for (size_t r = 0; st == MS_OK && r < n; r++)
            in[(r * nm + mi) * MS_REC_N + (size_t)q] =
                have ? (ms_rec_input){v[r], e[r], cl[r] == 0, 0.0} : (ms_rec_input){NAN, NAN, 0, 0.0};
    }
    ms_free(v);
    ms_free(e);
    ms_free(flag);
    ms_free(cl);
    return st;
}

/* Honest errors (combine_rec.h, ms_rec_honest_errors): each method's errors rescaled per
 * quantity and S/N_r bin, against --reference where given (labels the methods never trained
 * on), else by the three-cornered hat; scale[] keeps the factors (all 1 with --formal-errors)
 * for the log and the output's attributes, n_ref the reference rows behind them. */
#define N_SCALE_BINS MS_COMBINE_SCALE_BINS

static ms_status honest_errors(ms_h5 *const *in, const ms_config *cfg, const ms_combine_args *a,
                               size_t n, size_t nm, ms_rec_input *ans, double *scale,
                               size_t *n_ref)
{
    for (size_t i = 0; i < nm * MS_REC_N * N_SCALE_BINS; i++) scale[i] = 1.0;
    for (size_t i = 0; i < nm * MS_REC_N; i++) n_ref[i] = 0;
    if (a->formal_errors || n == 0) return MS_OK;
    ms_h5 *f = in[0]; /* the identification columns are the same in every input (checked) */
    for (size_t i = 0; i < a->n_catalogs; i++)
        if (ms_h5_exists(in[i], MS_CATALOG_GROUP "/snr_r")) {
            f = in[i];
            break;
        }
    return ms_rec_honest_errors(f, n, a->reference, cfg->join.radius_arcsec, ans, nm, scale,
                                n_ref);
}

static ms_status write_rec(ms_h5 *out, const rec_row *rows, size_t n, double k)
{
    void *col = ms_malloc_array("combine.rec", n + 1, 40);
    if (!col) return MS_ENOMEM;
    ms_status st = MS_OK;
    for (const ms_catalog_column *c = rec_columns; st == MS_OK && c->name; c++) {
        size_t e = ms_catalog_column_size(c);
        for (size_t r = 0; r < n; r++)
            memcpy((char *)col + r * e, (const char *)&rows[r] + c->offset, e);
        st = ms_h5_write_array(out, c->name, c->type, c->str_len, 1, &n, col, c->units,
                               c->description);
    }
    ms_free(col);
    if (st == MS_OK)
        st = ms_h5_attr_set_str(out, MS_CATALOG_GROUP "/disagree_flags", "flag_names",
                                "0=teff,1=logg,2=m_h,3=alpha_m,4=rv");
    if (st == MS_OK) st = ms_h5_attr_set_f64(out, "/", "disagree_sigma", &k, 1);
    return st;
}

int ms_stage_combine(const ms_config *cfg, const ms_combine_args *a)
{
    ms_h5 *in[MAX_INPUTS] = {NULL}, *out = NULL;
    method_t ms[MAX_METHODS];
    size_t nm = 0, n = 0, na = 0;
    ms_rec_input *ans = NULL;
    rec_row *rows = NULL;
    ms_strlist written = {0}, written_from = {0};
    ms_status st = MS_OK;
    if (a->n_catalogs < 1 || a->n_catalogs > MAX_INPUTS)
        st = ms_error_set(MS_EINVAL, __FILE__, __LINE__,
                          "combine: give 1 to %d catalogs (got %zu)", MAX_INPUTS, a->n_catalogs);
    const ms_method_answers *answers = ms_schema_answers(&na);
    for (size_t i = 0; st == MS_OK && i < a->n_catalogs; i++) {
        st = ms_h5_open_read(a->catalogs[i], 0, &in[i]);
        int rank;
        size_t dims[2];
        if (st == MS_OK) st = ms_h5_dims(in[i], MS_COL_STORE_STATUS, &rank, dims);
        if (st == MS_OK && i > 0 && dims[0] != n)
            st = ms_error_set(MS_EINVAL, __FILE__, __LINE__,
                              "combine: %s has %zu rows, %s has %zu ---> HINT: combine "
                              "catalogs made from the same spectra store",
                              a->catalogs[i], dims[0], a->catalogs[0], n);
        if (st != MS_OK) break;
        n = dims[0];
        size_t before = nm;
        for (size_t k = 0; k < na && nm < MAX_METHODS; k++) {
            char p[NAME_LEN + 16];
            snprintf(p, sizeof p, MS_CATALOG_GROUP "/%s", answers[k].detect);
            if (!ms_h5_exists(in[i], p)) continue;
            for (size_t j = 0; j < nm; j++)
                if (ms[j].a == &answers[k])
                    st = ms_error_set(MS_EINVAL, __FILE__, __LINE__,
                                      "combine: method %s is in both %s and %s",
                                      answers[k].method, a->catalogs[ms[j].input], a->catalogs[i]);
            ms[nm].a = &answers[k];
            ms[nm].input = (int)i;
            for (int q = 0; q < MS_ANSWERS_N; q++) {
                ms[nm].err[q][0] = '\0';
                if (!answers[k].error[q]) continue;
                snprintf(p, sizeof p, MS_CATALOG_GROUP "/%s_total", answers[k].error[q]);
                if (ms_h5_exists(in[i], p))
                    snprintf(ms[nm].err[q], NAME_LEN, "%s_total", answers[k].error[q]);
                else
                    snprintf(ms[nm].err[q], NAME_LEN, "%s", answers[k].error[q]);
            }
            nm++;
        }
        if (st == MS_OK && nm == before)
            st = ms_error_set(MS_EINVAL, __FILE__, __LINE__,
                              "combine: %s holds no method's answers (none of the columns the "
                              "schema lists for a method) ---> HINT: give catalogs written by "
                              "fit or by a method's command",
                              a->catalogs[i]);
    }
    if (st == MS_OK) {
        ans = ms_malloc_array("combine.answers", (n ? n : 1) * nm * MS_REC_N, sizeof *ans);
        rows = ms_calloc("combine.rows", n ? n : 1, sizeof *rows);
        if (!ans || !rows) st = MS_ENOMEM;
    }
    for (size_t m = 0; st == MS_OK && m < nm; m++)
        st = read_answers(in[ms[m].input], &ms[m], n, m, nm, ans);
    const char *names[MAX_METHODS];
    for (size_t m = 0; m < nm; m++) names[m] = ms[m].a->method;
    double scale[MAX_METHODS * MS_REC_N * N_SCALE_BINS];
    size_t n_ref[MAX_METHODS * MS_REC_N];
    int has[MAX_METHODS * MS_REC_N];
    for (size_t m = 0; m < nm; m++)
        for (int q = 0; q < MS_REC_N; q++) has[m * MS_REC_N + (size_t)q] = ms[m].a->value[q] != NULL;
    if (st == MS_OK) st = honest_errors(in, cfg, a, n, nm, ans, scale, n_ref);
    for (size_t r = 0; st == MS_OK && r < n; r++) {
        ms_rec_output o;
        ms_combine_row(ans + r * nm * MS_REC_N, nm, a->sigma, &o);
        ms_rec_fill(&o, names, &rows[r]);
    }
    if (st == MS_OK) {
        FILE *fe = fopen(a->out, "r");
        if (fe) {
            fclose(fe);
            if (!a->force)
                st = ms_error_set(MS_EIO, __FILE__, __LINE__,
                                  "combine: %s exists ---> HINT: --force to overwrite it", a->out);
        }
    }
    if (st == MS_OK) st = ms_h5_create(a->out, 0, &out);
    if (st == MS_OK) st = ms_h5_write_provenance(out, cfg, a->command);
    for (size_t i = 0; st == MS_OK && i < a->n_catalogs; i++)
        st = copy_columns(in[i], a->catalogs[i], (int)i, ms, nm, n, out, &written, &written_from);
    if (st == MS_OK) st = write_rec(out, rows, n, a->sigma);
    if (st == MS_OK)
        st = ms_h5_attr_set_str(out, "/", "error_reference",
                                a->reference && !a->formal_errors ? a->reference : "");
    for (int q = 0; st == MS_OK && q < MS_REC_N; q++) {
        char text[1024], path[NAME_LEN + 16];
        ms_rec_scale_text(names, has, nm, q, scale, n_ref, text, sizeof text);
        snprintf(path, sizeof path, MS_CATALOG_GROUP "/e_%s", ms_rec_names[q]);
        st = ms_h5_attr_set_str(out, path, "error_scales", a->formal_errors ? "none (--formal-errors)" : text);
        if (st == MS_OK && !a->formal_errors && text[0])
            ms_log_info("combine: %s error scales (S/N_r < 10, 10-20, 20-50, > 50; from): %s",
                        ms_rec_names[q], text);
    }
    if (st == MS_OK) {
        char list[512] = "";
        for (size_t m = 0; m < nm; m++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", m ? "," : "",
                     ms[m].a->method);
        st = ms_h5_attr_set_str(out, "/", "methods", list);
    }
    if (st == MS_OK) {
        st = ms_h5_commit(out);
        out = NULL;
    }
    if (st == MS_OK) {
        size_t dis = 0, rec = 0;
        for (size_t r = 0; r < n; r++) {
            dis += rows[r].disagree != 0;
            rec += rows[r].method[0][0] != '\0';
        }
        ms_log_info("combine: %zu rows, %zu methods; recommended Teff for %zu rows; %zu rows "
                    "with a disagreement above %.1f sigma; wrote %s",
                    n, nm, rec, dis, a->sigma, a->out);
    }
    if (out) ms_h5_abort(out);
    for (size_t i = 0; i < a->n_catalogs && i < MAX_INPUTS; i++)
        if (in[i]) ms_h5_close(in[i]);
    ms_free(ans);
    ms_free(rows);
    ms_strlist_free(&written);
    ms_strlist_free(&written_from);
    return st == MS_OK ? 0 : 1;
}
