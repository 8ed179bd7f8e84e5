/* catalog_cuts.c: the cut-flag pass over a whole catalog (see catalog_post.h, cuts.h).
 *
 * Three streaming passes over each rank's contiguous slice of the rows, in blocks:
 *   1. sums and counts of every error column over the fitted rows (all-reduced) -> means;
 *   2. sums of squared deviations from the means (all-reduced) -> std, limits (rank 0's
 *      limits are broadcast, so that every rank decides with identical numbers);
 *      both sums the same for any rank count: rows add into groups of a size set by the
 *      row count alone, each group within one rank's slice, and the groups' partials are
 *      added in group order (group_sums);
 *   3. the bits of every row, written with one collective write per block.
 * Memory: a few columns of one block per rank, whatever the survey size. Every rank makes
 * the same sequence of HDF5 calls (blocks past the end of a short slice read and write 0
 * rows): the catalog is opened with collective metadata operations. */
#include "mstars/catalog_post.h"
#include "mstars/schema.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"

#include "mstars/survey_job.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CUT_FLAGS MS_COL_CUT_FLAGS
#define DEFAULT_BLOCK 65536
#define N_LABEL_COLS 4

static const char *const *const label_cols = ms_label_names; /* [N_LABEL_COLS] */

typedef struct {
    ms_h5 *f;
    int par;
    size_t lo, hi, block, n_blocks;
    size_t group, n_groups;            /* rows per sum group, groups (group_sums) */
    double *gacc;                      /* [n_groups, 2 MS_CUT_N_ERRORS] group partials */
    char err_col[MS_CUT_N_ERRORS][96]; /* dataset paths; "" when absent */
    /* block buffers [block] */
    int32_t *status, *out;
    uint32_t *fit_flags, *at_bound;
    double *teff, *chi2_red, *err[MS_CUT_N_ERRORS], *lab[N_LABEL_COLS];
    char teff_col[96], lab_col[N_LABEL_COLS][96]; /* the label columns' names */
} cut_pass;

enum { READ_ERRORS = 1, READ_ROW = 2, READ_LABELS = 4 };

static ms_status pass_alloc(cut_pass *p)
{
    const size_t b = p->block + 1;
    p->status = ms_malloc_array("cuts.status", b, sizeof *p->status);
    p->out = ms_malloc_array("cuts.out", b, sizeof *p->out);
    p->fit_flags = ms_malloc_array("cuts.fit_flags", b, sizeof *p->fit_flags);
    p->at_bound = ms_malloc_array("cuts.at_bound", b, sizeof *p->at_bound);
    p->teff = ms_malloc_array("cuts.teff", b, sizeof *p->teff);
    p->chi2_red = ms_malloc_array("cuts.chi2_red", b, sizeof *p->chi2_red);
    p->gacc = ms_calloc("cuts.groups", p->n_groups * 2 * MS_CUT_N_ERRORS + 1, sizeof(double));
    int ok = p->status && p->out && p->fit_flags && p->at_bound && p->teff && p->chi2_red && p->gacc;
    for (int k = 0; k < MS_CUT_N_ERRORS; k++)
        ok &= (p->err[k] = ms_malloc_array("cuts.err", b, sizeof(double))) != NULL;
    for (int k = 0; k < N_LABEL_COLS; k++)
        ok &= (p->lab[k] = ms_malloc_array("cuts.label", b, sizeof(double))) != NULL;
    return ok ? MS_OK : MS_ENOMEM;
}

static void pass_free(cut_pass *p)
{
    void *ptrs[] = {p->status, p->out, p->fit_flags, p->at_bound, p->teff, p->chi2_red, p->gacc};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) ms_free(ptrs[i]);
    for (int k = 0; k < MS_CUT_N_ERRORS; k++) ms_free(p->err[k]);
    for (int k = 0; k < N_LABEL_COLS; k++) ms_free(p->lab[k]);
}

/* Rows [*row0, *row0 + *n) of block `blk` of this rank's slice (n may be 0). */
static void block_rows(const cut_pass *p, size_t blk, size_t *row0, size_t *n)
{
    size_t r = p->lo + blk * p->block;
    if (r > p->hi) r = p->hi;
    *row0 = r;
    *n = p->hi - r < p->block ? p->hi - r : p->block;
}

static ms_status read_block(cut_pass *p, size_t row0, size_t n, int what)
{
    ms_h5 *f = p->f;
    MS_TRY(ms_h5_read_rows(f, MS_COL_STORE_STATUS, MS_H5_I32, 0, row0, n, p->status));
    MS_TRY(ms_h5_read_rows(f, MS_COL_FIT_FLAGS, MS_H5_U32, 0, row0, n, p->fit_flags));
    if (what & READ_ERRORS)
        for (int k = 0; k < MS_CUT_N_ERRORS; k++) {
            if (p->err_col[k][0])
                MS_TRY(ms_h5_read_rows(f, p->err_col[k], MS_H5_F64, 0, row0, n, p->err[k]));
            else
                for (size_t i = 0; i < n; i++) p->err[k][i] = NAN;
        }
    if (what & READ_ROW) {
        MS_TRY(ms_h5_read_rows(f, MS_COL_AT_BOUND, MS_H5_U32, 0, row0, n, p->at_bound));
        MS_TRY(ms_h5_read_rows(f, p->teff_col, MS_H5_F64, 0, row0, n, p->teff));
        MS_TRY(ms_h5_read_rows(f, MS_COL_CHI2_RED, MS_H5_F64, 0, row0, n, p->chi2_red));
    }
    if (what & READ_LABELS)
        for (int k = 0; k < N_LABEL_COLS; k++)
            MS_TRY(ms_h5_read_rows(f, p->lab_col[k], MS_H5_F64, 0, row0, n, p->lab[k]));
    return MS_OK;
}

static ms_status allreduce(const cut_pass *p, double *v, size_t n)
{
    return p->par ? ms_par_allreduce_sum_d(v, n) : MS_OK;
}

/* total [w] = the sums of p->gacc [n_groups, w] over the groups of every rank: the
 * all-reduce adds, for each group, its one rank's partial to zeros (exact), then the groups
 * are added in their order on every rank, so the totals do not depend on the rank count or
 * the slices; gacc is zeroed for the next pass. */
static ms_status group_sums(cut_pass *p, size_t w, double *total)
{
    MS_TRY(allreduce(p, p->gacc, p->n_groups * w));
    for (size_t k = 0; k < w; k++) total[k] = 0.0;
    for (size_t g = 0; g < p->n_groups; g++)
        for (size_t k = 0; k < w; k++) total[k] += p->gacc[g * w + k];
    memset(p->gacc, 0, p->n_groups * w * sizeof(double));
    return MS_OK;
}

/* at_bound bits that are labels, from the names "0=teff,1=logg,...,4=dv" (0 when absent). */
static uint32_t label_bits_from_names(ms_h5 *f)
{
    char *names = NULL;
    if (ms_h5_attr_get_str(f, MS_COL_AT_BOUND, "bit_names", &names) != MS_OK) {
        ms_error_clear();
        return 0;
    }
    uint32_t bits = 0;
    for (char *save = NULL, *tok = strtok_r(names, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int bit;
        char name[32];
        if (sscanf(tok, "%d=%31s", &bit, name) == 2 && bit >= 0 && bit < 32 &&
            strcmp(name, "dv") != 0)
            bits |= 1u << bit;
    }
    ms_free(names);
    return bits;
}

ms_status ms_catalog_column_order_append(ms_h5 *f, const char *names)
{
    char *order = NULL;
    if (ms_h5_attr_get_str(f, MS_CATALOG_GROUP, "column_order", &order) != MS_OK) {
        ms_error_clear();
        order = NULL;
    }
    size_t len = (order ? strlen(order) : 0) + strlen(names) + 2;
    char *text = ms_malloc("catalog.order", len);
    if (!text) {
        ms_free(order);
        return MS_ENOMEM;
    }
    snprintf(text, len, "%s", order ? order : "");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", names);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int found = 0;
        const size_t tl = strlen(tok);
        for (const char *s = text; *s && !found;) {
            const char *e = strchr(s, ',');
            size_t l = e ? (size_t)(e - s) : strlen(s);
            found = l == tl && strncmp(s, tok, l) == 0;
            s = e ? e + 1 : s + l;
        }
        if (!found) {
            if (text[0]) strcat(text, ",");
            strcat(text, tok);
        }
    }
    ms_status st = ms_h5_attr_set_str(f, MS_CATALOG_GROUP, "column_order", text);
    ms_free(text);
    ms_free(order);
    return st;
}

/* The cut_flags dataset, created when the catalog has none. */
static ms_status ensure_dataset(ms_h5 *f, size_t n_rows)
{
    if (ms_h5_exists(f, CUT_FLAGS)) {
        int rank;
        size_t dims[2];
        MS_TRY(ms_h5_dims(f, CUT_FLAGS, &rank, dims));
        if (rank != 1 || dims[0] != n_rows)
            MS_ERROR(MS_EFORMAT, "%s: %s has %zu rows, the catalog %zu", ms_h5_path(f),
                     CUT_FLAGS, dims[0], n_rows);
        return MS_OK;
    }
    MS_TRY(ms_h5_create_dataset(f, CUT_FLAGS, MS_H5_I32, 0, 1, &n_rows, 0, "",
                                "Z25 cuts, flags not deletions (attribute flag_names): "
                                "teff_hot, at_boundary, error_outlier, chi2_high; 0 for rows "
                                "not fitted"));
    return ms_catalog_column_order_append(f, "cut_flags");
}

static ms_status write_attributes(ms_h5 *f, const ms_catalog_cuts_opts *o, const cut_pass *p,
                                  const ms_cut_limits *lim, const ms_catalog_cuts_summary *s)
{
    char text[2048] = "";
    for (int b = 0; b < MS_CUT_N_FLAGS; b++) {
        size_t l = strlen(text);
        snprintf(text + l, sizeof text - l, "%s%d=%s", b ? "," : "", b,
                 ms_cut_flag_name(1u << b));
    }
    MS_TRY(ms_h5_attr_set_str(f, CUT_FLAGS, "flag_names", text));
    const double thr[3] = {o->teff_max, o->error_sigma, o->chi2_red_max};
    MS_TRY(ms_h5_attr_set_f64(f, CUT_FLAGS, "cut_thresholds", thr, 3));
    MS_TRY(ms_h5_attr_set_f64(f, CUT_FLAGS, "cut_error_limits", lim->error_max, MS_CUT_N_ERRORS));
    int64_t counts[1 + MS_CUT_N_FLAGS] = {s->fitted};
    for (int b = 0; b < MS_CUT_N_FLAGS; b++) counts[1 + b] = s->count[b];
    MS_TRY(ms_h5_attr_set_i64(f, CUT_FLAGS, "cut_counts", counts, 1 + MS_CUT_N_FLAGS));
    text[0] = '\0';
    for (int k = 0; k < MS_CUT_N_ERRORS; k++) {
        const char *base = p->err_col[k][0] ? strrchr(p->err_col[k], '/') + 1 : "";
        size_t l = strlen(text);
        snprintf(text + l, sizeof text - l, "%s%s", k ? "," : "", base);
    }
    MS_TRY(ms_h5_attr_set_str(f, CUT_FLAGS, "cut_error_columns", text));
    int len = snprintf(text, sizeof text,
                       "teff_hot: teff > %g K; at_boundary: at_bound & 0x%x (the label bits); "
                       "error_outlier: error > mean + %g std over the %ld fitted rows:",
                       o->teff_max, lim->label_bits, o->error_sigma, s->fitted);
    for (int k = 0; k < MS_CUT_N_ERRORS && len > 0 && (size_t)len < sizeof text; k++)
        if (p->err_col[k][0])
            len += snprintf(text + len, sizeof text - (size_t)len, " %s > %.6g",
                            strrchr(p->err_col[k], '/') + 1, lim->error_max[k]);
    if (len > 0 && (size_t)len < sizeof text)
        snprintf(text + len, sizeof text - (size_t)len, "; chi2_high: chi2_red > %g; rows not "
                 "fitted: 0", o->chi2_red_max);
    MS_TRY(ms_h5_attr_set_str(f, CUT_FLAGS, "cut_settings", text));
    if (o->label_names) {
        text[0] = '\0';
        for (size_t j = 0; j <= o->n_labels; j++) {
            size_t l = strlen(text);
            snprintf(text + l, sizeof text - l, "%s%zu=%s", j ? "," : "", j,
                     j < o->n_labels ? o->label_names[j] : "dv");
        }
        MS_TRY(ms_h5_attr_set_str(f, MS_COL_AT_BOUND, "bit_names", text));
    }
    return MS_OK;
}

/* The three passes (see the top of the file). */
static ms_status run_passes(cut_pass *p, const ms_catalog_cuts_opts *o, ms_cut_limits *lim,
                            ms_catalog_cuts_summary *s)
{
    const int fallback_labels = o->label_names == NULL && lim->label_bits == 0;
    /* pass 1: counts and sums (and, for old catalogs, how many labels were fitted) */
    double acc[2 * MS_CUT_N_ERRORS] = {0}, n_labels = 0;
    for (size_t blk = 0; blk < p->n_blocks; blk++) {
        size_t row0, n;
        block_rows(p, blk, &row0, &n);
        MS_TRY(read_block(p, row0, n, READ_ERRORS | (fallback_labels ? READ_LABELS : 0)));
        for (size_t i = 0; i < n; i++) {
            if (!ms_cut_row_fitted(p->status[i], p->fit_flags[i])) continue;
            double *ga = p->gacc + (row0 + i) / p->group * 2 * MS_CUT_N_ERRORS;
            for (int k = 0; k < MS_CUT_N_ERRORS; k++)
                if (isfinite(p->err[k][i])) {
                    ga[2 * k] += 1.0;
                    ga[2 * k + 1] += p->err[k][i];
                }
            if (fallback_labels) {
                double d = 0;
                for (int k = 0; k < N_LABEL_COLS; k++) d += isfinite(p->lab[k][i]);
                if (d > n_labels) n_labels = d;
            }
        }
    }
    MS_TRY(group_sums(p, 2 * MS_CUT_N_ERRORS, acc));
    if (fallback_labels) {
        if (p->par) MS_TRY(ms_par_allreduce_max_d(&n_labels, 1));
        lim->label_bits = (1u << (unsigned)n_labels) - 1u;
    }
    double mean[MS_CUT_N_ERRORS];
    for (int k = 0; k < MS_CUT_N_ERRORS; k++)
        mean[k] = acc[2 * k] > 0 ? acc[2 * k + 1] / acc[2 * k] : NAN;
    /* pass 2: squared deviations */
    double dev2[MS_CUT_N_ERRORS] = {0};
    for (size_t blk = 0; blk < p->n_blocks; blk++) {
        size_t row0, n;
        block_rows(p, blk, &row0, &n);
        MS_TRY(read_block(p, row0, n, READ_ERRORS));
        for (size_t i = 0; i < n; i++) {
            if (!ms_cut_row_fitted(p->status[i], p->fit_flags[i])) continue;
            double *ga = p->gacc + (row0 + i) / p->group * MS_CUT_N_ERRORS;
            for (int k = 0; k < MS_CUT_N_ERRORS; k++)
                if (isfinite(p->err[k][i])) ga[k] += (p->err[k][i] - mean[k]) * (p->err[k][i] - mean[k]);
        }
    }
    MS_TRY(group_sums(p, MS_CUT_N_ERRORS, dev2));
    for (int k = 0; k < MS_CUT_N_ERRORS; k++)
        lim->error_max[k] = p->err_col[k][0] ? ms_cut_outlier_limit(acc[2 * k], acc[2 * k + 1],
                                                                   dev2[k], o->error_sigma)
                                             : NAN;
    if (p->par) MS_TRY(ms_par_bcast(lim, sizeof *lim)); /* identical decisions everywhere */
    /* pass 3: the bits */
    double counts[2 + MS_CUT_N_FLAGS] = {0};
    for (size_t blk = 0; blk < p->n_blocks; blk++) {
        size_t row0, n;
        block_rows(p, blk, &row0, &n);
        MS_TRY(read_block(p, row0, n, READ_ERRORS | READ_ROW));
        for (size_t i = 0; i < n; i++) {
            p->out[i] = 0;
            if (!ms_cut_row_fitted(p->status[i], p->fit_flags[i])) continue;
            ms_cut_row r = {p->teff[i], p->chi2_red[i], p->at_bound[i], {0}};
            for (int k = 0; k < MS_CUT_N_ERRORS; k++) r.error[k] = p->err[k][i];
            p->out[i] = ms_cut_flags(&r, lim);
            counts[0] += 1;
            counts[1] += p->out[i] != 0;
            for (int b = 0; b < MS_CUT_N_FLAGS; b++) counts[2 + b] += (p->out[i] >> b) & 1;
        }
        MS_TRY(ms_h5_write_rows(p->f, CUT_FLAGS, row0, n, p->out));
    }
    MS_TRY(allreduce(p, counts, 2 + MS_CUT_N_FLAGS));
    s->fitted = (long)counts[0];
    s->flagged = (long)counts[1];
    for (int b = 0; b < MS_CUT_N_FLAGS; b++) s->count[b] = (long)counts[2 + b];
    for (int k = 0; k < MS_CUT_N_ERRORS; k++) s->error_max[k] = lim->error_max[k];
    return MS_OK;
}

ms_status ms_catalog_cuts(ms_h5 *f, const ms_catalog_cuts_opts *o, ms_catalog_cuts_summary *sum)
{
    ms_catalog_cuts_summary s;
    memset(&s, 0, sizeof s);
    cut_pass p;
    memset(&p, 0, sizeof p);
    p.f = f;
    p.par = ms_h5_parallel(f);
    if (o->label_names && (o->n_labels == 0 || o->n_labels > 31))
        MS_ERROR(MS_EINVAL, "catalog cuts: %zu labels", o->n_labels);
    /* rows written by other ranks (independent I/O) must be visible: sync-barrier-sync */
    if (p.par) {
        MS_TRY(ms_h5_flush(f));
        MS_TRY(ms_par_barrier());
        MS_TRY(ms_h5_flush(f));
    }
    int rank;
    size_t dims[2];
    MS_TRY(ms_h5_dims(f, MS_COL_STORE_STATUS, &rank, dims));
    const size_t n_rows = dims[0];
    /* column names: a fit catalog's, or those of o->method in a fit --methods catalog */
#define NAMED(buf, name)                                                                   \
    do {                                                                                   \
        if (o->method) ms_survey_column_name(o->method, name, buf, sizeof buf);            \
        else snprintf(buf, sizeof buf, "%s", name);                                        \
    } while (0)
    NAMED(p.teff_col, MS_COL_TEFF);
    for (int k = 0; k < N_LABEL_COLS; k++) {
        char name[64];
        snprintf(name, sizeof name, MS_CATALOG_GROUP "/%s", label_cols[k]);
        NAMED(p.lab_col[k], name);
    }
    const char *const need[] = {MS_COL_FIT_FLAGS, MS_COL_AT_BOUND, p.teff_col, MS_COL_CHI2_RED,
                                NULL};
    for (int i = 0; need[i]; i++)
        if (!ms_h5_exists(f, need[i]))
            MS_ERROR(MS_EFORMAT, "%s is not a catalog of mstars fit: no %s", ms_h5_path(f),
                     need[i]);
    MS_TRY(ensure_dataset(f, n_rows));
    for (int k = 0; k < MS_CUT_N_ERRORS; k++) {
        char name[64], named[96];
        snprintf(name, sizeof name, MS_CATALOG_GROUP "/e_%s_total", ms_cut_error_params[k]);
        NAMED(named, name);
        if (!(o->total_errors && ms_h5_exists(f, named))) {
            snprintf(name, sizeof name, MS_CATALOG_GROUP "/e_%s", ms_cut_error_params[k]);
            NAMED(named, name);
        }
        if (ms_h5_exists(f, named)) snprintf(p.err_col[k], sizeof p.err_col[k], "%s", named);
    }
    ms_cut_limits lim = {o->teff_max, o->chi2_red_max, 0, {0}};
    if (o->label_names)
        lim.label_bits = (1u << o->n_labels) - 1u;
    else
        lim.label_bits = label_bits_from_names(f);
    /* the sum groups (a size set by the row count alone, at most 1024 groups); this rank's
     * slice (whole groups) and the block count every rank loops over */
    const size_t P = (size_t)(p.par ? ms_par_size() : 1), r = (size_t)(p.par ? ms_par_rank() : 0);
    p.group = (n_rows + 1023) / 1024 > 1024 ? (n_rows + 1023) / 1024 : 1024;
    p.n_groups = (n_rows + p.group - 1) / p.group;
    p.lo = p.n_groups * r / P * p.group;
    p.hi = p.n_groups * (r + 1) / P * p.group;
    if (p.lo > n_rows) p.lo = n_rows;
    if (p.hi > n_rows) p.hi = n_rows;
    p.block = o->block_rows ? o->block_rows : DEFAULT_BLOCK;
    const size_t widest = (p.n_groups + P - 1) / P * p.group;
    p.n_blocks = (widest + p.block - 1) / p.block;
    ms_status st = pass_alloc(&p);
    if (st == MS_OK) st = run_passes(&p, o, &lim, &s);
    pass_free(&p);
    if (p.par) st = ms_par_any_failed(st);
    MS_TRY(st);
    s.rows = (long)n_rows;
    MS_TRY(write_attributes(f, o, &p, &lim, &s));
    ms_log0_info("cuts: %ld of %ld fitted rows flagged (teff_hot %ld, at_boundary %ld, "
                 "error_outlier %ld, chi2_high %ld)", s.flagged, s.fitted, s.count[0],
                 s.count[1], s.count[2], s.count[3]);
    if (sum) *sum = s;
    return MS_OK;
}

/* Is the name of length l at s one of the comma-separated names? */
static int listed(const char *names, const char *s, size_t l)
{
    for (const char *t = names; *t;) {
        const char *e = strchr(t, ',');
        const size_t tl = e ? (size_t)(e - t) : strlen(t);
        if (tl == l && strncmp(t, s, l) == 0) return 1;
        t = e ? e + 1 : t + tl;
    }
    return 0;
}

ms_status ms_catalog_column_order_remove(ms_h5 *f, const char *names)
{
    char *order = NULL;
    if (ms_h5_attr_get_str(f, MS_CATALOG_GROUP, "column_order", &order) != MS_OK) {
        ms_error_clear();
        return MS_OK; /* nothing to remove from */
    }
    char *text = ms_malloc("catalog.order", strlen(order) + 1);
    if (!text) {
        ms_free(order);
        return MS_ENOMEM;
    }
    text[0] = '\0';
    for (const char *s = order; *s;) {
        const char *e = strchr(s, ',');
        const size_t l = e ? (size_t)(e - s) : strlen(s);
        if (!listed(names, s, l)) {
            if (text[0]) strcat(text, ",");
            strncat(text, s, l);
        }
        s = e ? e + 1 : s + l;
    }
    ms_status st = ms_h5_attr_set_str(f, MS_CATALOG_GROUP, "column_order", text);
    ms_free(text);
    ms_free(order);
    return st;
}
