/* report_methods.c: the method-against-method part of `mstars report`, for a catalog made by
 * `mstars combine` (root attribute "methods"; issue 24):
 *   - for every pair of methods and each quantity (teff, logg, m_h, alpha_m, rv): the
 *     difference on the rows where both are clean, as median and robust scatter, overall and
 *     in S/N bins (snr_r), and drawn against the recommended Teff (methods_<q>.png);
 *   - the disagreement statistics: the fraction of rows flagged per quantity;
 *   - with --truth or --reference (a table keyed by obsid): each method and the recommended
 *     labels against it (bias, scatter), and the precision of the disagreement flag: of the rows
 *     flagged on q, the fraction where one of the two methods of the pair is more than 3 of its
 *     errors from the reference value (the flag caught a real error).
 * Written to methods.md and methods.json beside the summary. */
#include "report_internal.h"

#include "mstars/combine.h"
#include "mstars/json.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/plot.h"
#include "mstars/schema.h"
#include "mstars/table.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_M 16

/* The combined catalog's name of method a's column col (z25's unprefixed label columns are
 * prefixed by combine: teff -> z25_teff, e_teff -> e_z25_teff). */
static void combined_name(const ms_method_answers *a, const char *col, char *buf, size_t len)
{
    size_t lm = strlen(a->method);
    int is_err = strncmp(col, "e_", 2) == 0;
    const char *base = is_err ? col + 2 : col;
    if (strncmp(base, a->method, lm) == 0 && base[lm] == '_')
        snprintf(buf, len, "%s", col);
    else
        snprintf(buf, len, "%s%s_%s", is_err ? "e_" : "", a->method, base);
}

ms_status rp_read_opt(ms_h5 *f, const char *name, size_t n, double **out)
{
    char path[160];
    snprintf(path, sizeof path, MS_CATALOG_GROUP "/%s", name);
    *out = NULL;
    if (!ms_h5_exists(f, path)) return MS_OK;
    *out = ms_malloc_array("report.methods", n + 1, sizeof(double));
    if (!*out) return MS_ENOMEM;
    return ms_h5_read_rows(f, path, MS_H5_F64, 0, 0, n, *out);
}

ms_status rp_method_load(ms_h5 *f, const ms_method_answers *a, size_t n, rp_method_cols *m)
{
    memset(m, 0, sizeof *m);
    m->a = a;
    m->clean = ms_malloc_array("report.methods.clean", n + 1, 1);
    if (!m->clean) return MS_ENOMEM;
    memset(m->clean, 1, n);
    char name[160], tot[176];
    for (int q = 0; q < MS_REC_N; q++) {
        if (!a->value[q]) continue;
        combined_name(a, a->value[q], name, sizeof name);
        MS_TRY(rp_read_opt(f, name, n, &m->v[q]));
        combined_name(a, a->error[q], name, sizeof name);
        snprintf(tot, sizeof tot, "%s_total", name);
        MS_TRY(rp_read_opt(f, tot, n, &m->e[q]));
        if (!m->e[q]) MS_TRY(rp_read_opt(f, name, n, &m->e[q]));
    }
    for (int c = 0; c < 3; c++) {
        const char *col = c < 2 ? a->clean[c] : a->good;
        if (!col) continue;
        double *flag = NULL;
        MS_TRY(rp_read_opt(f, col, n, &flag));
        for (size_t r = 0; flag && r < n; r++)
            if (c < 2 ? flag[r] != 0 : flag[r] != 1) m->clean[r] = 0;
        ms_free(flag);
    }
    return MS_OK;
}

void rp_method_free(rp_method_cols *m)
{
    for (int q = 0; q < MS_REC_N; q++) {
        ms_free(m->v[q]);
        ms_free(m->e[q]);
    }
    ms_free(m->clean);
}

static const char *const qlabel[MS_REC_N] = {"T#deff#u [K]", "log g [dex]", "[M/H] [dex]",
                                             "[#ga/M] [dex]", "RV [km/s]"};

ms_status rp_methods(const char *catalog, const char *reference, double radius,
                     const char *out_dir, int *written)
{
    *written = 0;
    ms_h5 *f;
    MS_TRY(ms_h5_open_read(catalog, 0, &f));
    char *list = NULL;
    if (ms_h5_attr_get_str(f, "/", "methods", &list) != MS_OK) { /* not a combined catalog */
        ms_h5_close(f);
        return MS_OK;
    }
    char methods_text[256];
    snprintf(methods_text, sizeof methods_text, "%s", list); /* before strtok cuts it */
    size_t na = 0, nm = 0, n = 0;
    const ms_method_answers *ans = ms_schema_answers(&na);
    rp_method_cols m[MAX_M];
    int rank;
    size_t dims[2] = {0, 0}; /* a catalog without store_status: an error, not a garbage size */
    ms_status st = ms_h5_dims(f, MS_COL_STORE_STATUS, &rank, dims);
    n = dims[0];
    for (char *tok = strtok(list, ","); st == MS_OK && tok && nm < MAX_M; tok = strtok(NULL, ","))
        for (size_t k = 0; k < na; k++)
            if (strcmp(ans[k].method, tok) == 0) st = rp_method_load(f, &ans[k], n, &m[nm++]);
    double *snr = NULL, *rec_teff = NULL, *dis = NULL, *work = NULL, *d = NULL, *x = NULL;
    ms_join_ids ids;
    memset(&ids, 0, sizeof ids);
    if (st == MS_OK) st = rp_read_opt(f, "snr_r", n, &snr);
    if (st == MS_OK) st = rp_read_opt(f, "teff", n, &rec_teff);
    if (st == MS_OK) st = rp_read_opt(f, "disagree_flags", n, &dis);
    int have_ids = 0;
    if (st == MS_OK && reference) {
        have_ids = ms_catalog_join_ids(f, n, &ids) == MS_OK;
        if (!have_ids) ms_error_clear();
    }
    work = ms_malloc_array("report.methods.work", n + 1, sizeof *work);
    d = ms_malloc_array("report.methods.d", n + 1, sizeof *d);
    x = ms_malloc_array("report.methods.x", n + 1, sizeof *x);
    double *zeros = ms_calloc("report.methods.zeros", n + 1, sizeof *zeros);
    if (st == MS_OK && (!work || !d || !x || !zeros)) st = MS_ENOMEM;
    /* the reference, joined by obsid, key or position (join_io.h) */
    ms_table t;
    memset(&t, 0, sizeof t);
    long *ref_row = NULL;
    int have_ref = 0;
    rp_truth_classes tc; /* a table with classes: labels judged on its M dwarfs */
    memset(&tc, 0, sizeof tc);
    if (st == MS_OK && reference && have_ids) {
        const char *cols[MS_REC_N] = {"teff", "logg", "m_h", "alpha_m", "rv"};
        ref_row = ms_malloc_array("report.methods.ref", n + 1, sizeof *ref_row);
        if (!ref_row) st = MS_ENOMEM;
        if (st == MS_OK) st = ms_table_join("report (methods)", reference, &ids, radius, ref_row,
                                            NULL);
        if (st == MS_OK) st = ms_table_read(reference, NULL, cols, MS_REC_N, &t);
        if (st == MS_OK) st = rp_truth_classes_read(reference, ref_row, n, &tc);
        for (size_t r = 0; st == MS_OK && tc.have && r < n; r++)
            if (tc.group[r] != RP_GROUP_DWARF) ref_row[r] = -1;
        rp_truth_classes_free(&tc);
        have_ref = st == MS_OK;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/methods.md", out_dir);
    FILE *md = st == MS_OK ? fopen(path, "w") : NULL;
    if (st == MS_OK && !md)
        st = ms_error_set(MS_EIO, __FILE__, __LINE__, "cannot write %s", path);
    if (md) {
        fprintf(md, "# Methods compared (%s)\n\n%zu rows, methods %s.\n\n", catalog, n,
                methods_text);
        fprintf(md, "## Differences between methods (rows where both are clean)\n\n");
        fprintf(md, "| pair | quantity | n | median | robust scatter | S/N 5-10 | 10-20 | 20-50 | 50+ |\n");
        fprintf(md, "|---|---|---|---|---|---|---|---|---|\n");
    }
    for (int q = 0; st == MS_OK && q < MS_REC_N; q++) {
        ms_plot *p = NULL;
        size_t n_pairs = 0;
        for (size_t i = 0; i < nm; i++)
            for (size_t j = i + 1; j < nm; j++) n_pairs += m[i].v[q] && m[j].v[q];
        if (n_pairs && ms_plot_available()) {
            snprintf(path, sizeof path, "%s/methods_%s.png", out_dir, ms_rec_names[q]);
            if (ms_plot_open(path, 800, 450 * (int)(n_pairs < 4 ? n_pairs : 4), 1,
                             (int)(n_pairs < 4 ? n_pairs : 4), &p) != MS_OK)
                p = NULL;
        }
        size_t drawn = 0;
        for (size_t i = 0; i < nm; i++)
            for (size_t j = i + 1; j < nm; j++) {
                if (!m[i].v[q] || !m[j].v[q]) continue;
                size_t k = 0;
                for (size_t r = 0; r < n; r++) {
                    d[r] = m[i].clean[r] && m[j].clean[r] ? m[i].v[q][r] - m[j].v[q][r] : NAN;
                    if (isfinite(d[r])) k++;
                    x[r] = rec_teff ? rec_teff[r] : NAN;
                }
                ms_stats_summary s, b[RP_N_SNR_BINS];
                ms_stats_summarize(d, n, work, &s);
                if (snr) /* d against zero, binned by S/N */
                    ms_stats_compare_binned(d, zeros, NULL, snr, n, rp_snr_edges, RP_N_SNR_BINS,
                                            work, b);
                if (s.n) /* a pair with no common clean row (a label one of them lacks): n/a */
                    fprintf(md, "| %s - %s | %s | %zu | %.4g | %.4g |", m[i].a->method,
                            m[j].a->method, ms_rec_names[q], s.n, s.median, s.robust_std);
                else
                    fprintf(md, "| %s - %s | %s | 0 | n/a | n/a |", m[i].a->method,
                            m[j].a->method, ms_rec_names[q]);
                for (int bb = 0; bb < RP_N_SNR_BINS; bb++)
                    if (snr && b[bb].n > 0)
                        fprintf(md, " %.4g +/- %.4g (%zu) |", b[bb].median, b[bb].robust_std, b[bb].n);
                    else
                        fprintf(md, " - |");
                fprintf(md, "\n");
                if (p && drawn < 4 && k > 0) {
                    double lo = s.median - 5 * (s.robust_std > 0 ? s.robust_std : 1);
                    double hi = s.median + 5 * (s.robust_std > 0 ? s.robust_std : 1);
                    char yl[96], title[96];
                    snprintf(yl, sizeof yl, "#gD %s", qlabel[q]);
                    snprintf(title, sizeof title, "%s - %s", m[i].a->method, m[j].a->method);
                    if (ms_plot_panel(p, 2500, 4500, lo, hi, "recommended T#deff#u [K]", yl, title,
                                      0) == MS_OK)
                        ms_plot_points(p, x, d, n, MS_PLOT_BLUE, 1.0);
                    drawn++;
                }
            }
        if (p) {
            if (ms_plot_close(p) == MS_OK) ++*written;
        }
    }
    if (st == MS_OK && md && dis) {
        fprintf(md, "\n## Disagreement flag (more than the threshold in combined errors)\n\n");
        fprintf(md, "| quantity | rows flagged | fraction |");
        if (have_ref) fprintf(md, " flag precision against the reference |");
        fprintf(md, "\n|---|---|---|%s\n", have_ref ? "---|" : "");
        for (int q = 0; q < MS_REC_N; q++) {
            size_t flagged = 0, judged = 0, real = 0;
            for (size_t r = 0; r < n; r++) {
                if (!(((uint32_t)dis[r] >> q) & 1u)) continue;
                flagged++;
                if (!have_ref || ref_row[r] < 0) continue;
                double tv = ms_table_column(&t, (size_t)q)[ref_row[r]];
                if (!isfinite(tv)) continue;
                judged++;
                int wrong = 0;
                for (size_t i = 0; i < nm; i++)
                    if (m[i].v[q] && m[i].e[q] && m[i].clean[r] && isfinite(m[i].v[q][r]) &&
                        fabs(m[i].v[q][r] - tv) > 3.0 * m[i].e[q][r])
                        wrong = 1;
                real += (size_t)wrong;
            }
            size_t giving = 0; /* a quantity fewer than two methods give cannot disagree */
            for (size_t i = 0; i < nm; i++) giving += m[i].v[q] != NULL;
            if (giving < 2) {
                fprintf(md, "| %s | n/a | n/a |%s\n", ms_rec_names[q], have_ref ? " n/a |" : "");
                continue;
            }
            fprintf(md, "| %s | %zu | %.4f |", ms_rec_names[q], flagged,
                    n ? (double)flagged / (double)n : 0.0);
            if (have_ref && judged)
                fprintf(md, " %.3f (%zu of %zu) |", (double)real / (double)judged, real, judged);
            else if (have_ref)
                fprintf(md, " n/a |");
            fprintf(md, "\n");
        }
    }
    if (st == MS_OK && md && have_ref) {
        fprintf(md, "\n## Each method and the recommended labels against the reference\n\n");
        fprintf(md, "| method | quantity | n | bias | scatter | median | robust scatter |\n|---|---|---|---|---|---|---|\n");
        for (int q = 0; q < MS_REC_N; q++)
            for (size_t i = 0; i <= nm; i++) {
                const double *v = i < nm ? m[i].v[q] : NULL;
                double *rec = NULL;
                if (i == nm && rp_read_opt(f, ms_rec_names[q], n, &rec) == MS_OK) v = rec;
                if (!v) continue;
                for (size_t r = 0; r < n; r++) {
                    double tv = ref_row[r] >= 0 ? ms_table_column(&t, (size_t)q)[ref_row[r]] : NAN;
                    d[r] = (i == nm || m[i].clean[r]) ? v[r] - tv : NAN;
                }
                ms_stats_summary s;
                ms_stats_summarize(d, n, work, &s);
                if (s.n)
                    fprintf(md, "| %s | %s | %zu | %.4g | %.4g | %.4g | %.4g |\n",
                            i < nm ? m[i].a->method : "recommended", ms_rec_names[q], s.n, s.mean,
                            s.std, s.median, s.robust_std);
                ms_free(rec);
            }
    }
    if (md && fclose(md) != 0 && st == MS_OK)
        st = ms_error_set(MS_EIO, __FILE__, __LINE__, "writing %s/methods.md failed", out_dir);
    if (st == MS_OK && md) ++*written;
    for (size_t i = 0; i < nm; i++) rp_method_free(&m[i]);
    if (have_ref || t.n_rows) ms_table_free(&t);
    ms_free(ref_row);
    ms_join_ids_free(&ids);
    ms_free(snr);
    ms_free(rec_teff);
    ms_free(dis);
    ms_free(work);
    ms_free(d);
    ms_free(x);
    ms_free(zeros);
    ms_free(list);
    ms_h5_close(f);
    return st;
}
