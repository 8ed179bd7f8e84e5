/* report_overview.c: the overview that opens `mstars report`'s summary.md (issue 24): what a
 * user should look at first, on one screen.
 *
 *   1. every method's recovery against the table (--truth, else --reference) per S/N bin:
 *      bias / scatter (n) over the rows where the method's own flags are clean, and the rms
 *      pull (difference / the method's error: 1 for honest errors); the methods are those of
 *      a combined catalog (root attribute "methods", mstars combine), the baseline catalog
 *      (--baseline: the fit without Cycle-StarNet) and the recommended labels;
 *   2. Cycle-StarNet: the mean |F_obs - F_model| / sigma with and without the adaptation, and
 *      the labels of the baseline against the adapted fit;
 *   3. the recommended labels against each single method on the rows both cover (paired RMS
 *      against the table): the recommendation is meant to be at least as good as the best;
 *   4. the disagreement flag: its precision (of the rows flagged on q, the fraction where a
 *      clean method is more than 3 of its errors from the table, as in methods.md) next to the
 *      same fraction on the rows not flagged (the base rate: a flag without skill has
 *      precision = base rate);
 *   5. warnings: what the numbers above say is wrong or weak.
 * Written to overview.md and overview.json and put at the top of summary.md. */
#include "report_internal.h"

#include "mstars/combine.h"
#include "mstars/json.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/rng.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OV_MAX 20
#define OV_MAX_WARN 48
#define OV_PULL_HIGH 2.0   /* rms pull above: errors too small */
#define OV_PULL_LOW 0.5    /* rms pull below: errors too large */
#define OV_TEFF_TARGET 40.0 /* Teff scatter at S/N > 50, K (method.md; issue 7 target) */

enum { OV_METHOD, OV_BASELINE, OV_RECOMMENDED, OV_CATALOG };

typedef struct {
    char name[48];
    int kind;
    const double *v[RP_N_PARAMS], *e[RP_N_PARAMS];
    const uint8_t *sel; /* rows that count (NULL: every finite row) */
    ms_stats_summary all[RP_N_PARAMS], bins[RP_N_PARAMS][RP_N_SNR_BINS];
    double rms_pull[RP_N_PARAMS];
    size_t n_pull[RP_N_PARAMS];
    int has_ref[RP_N_PARAMS]; /* the table has the quantity */
} ov_series;

typedef struct {
    size_t n_pair;
    double rms_method, rms_rec;
    double diff_sd; /* bootstrap sd of rms_rec - rms_method (rows resampled, fixed seed) */
} ov_paired;

/* Worse only when the paired RMS difference exceeds 2 bootstrap sd: with a few hundred rows a
 * difference of 1 K in Teff is noise, and calling it "worse" sent users after nothing. */
#define OV_BOOT 500
static int paired_worse(const ov_paired *x)
{
    return x->n_pair >= 10 && x->rms_rec - x->rms_method > 2.0 * x->diff_sd;
}

typedef struct {
    size_t flagged, judged, wrong;         /* flagged rows; with a table value; wrong */
    size_t base_judged, base_wrong;        /* the same over unflagged rows with >= 2 methods */
} ov_flag;

typedef struct {
    size_t n;
    char warn[OV_MAX_WARN][RP_NOTE_LEN];
} ov_warnings;

static void warn(ov_warnings *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(ov_warnings *w, const char *fmt, ...)
{
    if (w->n >= OV_MAX_WARN) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->warn[w->n++], RP_NOTE_LEN, fmt, ap);
    va_end(ap);
}

static const char *fmtv(char *buf, size_t len, double x, int digits)
{
    if (!isfinite(x))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.*f", digits, x);
    return buf;
}

/* "bias / scatter (n)" of a summary, or "-" */
static const char *cell(char *buf, size_t len, const ms_stats_summary *s, int digits)
{
    char a[32], b[32];
    if (s->n == 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%s / %s (%zu)", fmtv(a, sizeof a, s->mean, digits),
                 fmtv(b, sizeof b, s->std, digits), s->n);
    return buf;
}

static void evaluate(ov_series *s, const double *const *ref, const double *snr, size_t n,
                     double *work)
{
    for (int p = 0; p < RP_N_PARAMS; p++) {
        memset(&s->all[p], 0, sizeof s->all[p]);
        memset(s->bins[p], 0, sizeof s->bins[p]);
        s->rms_pull[p] = NAN;
        s->n_pull[p] = 0;
        s->has_ref[p] = ref[p] != NULL;
        if (!s->v[p] || !ref[p]) continue;
        ms_stats_compare(s->v[p], ref[p], s->sel, n, work, &s->all[p]);
        if (snr)
            ms_stats_compare_binned(s->v[p], ref[p], s->sel, snr, n, rp_snr_edges,
                                    RP_N_SNR_BINS, work, s->bins[p]);
        if (!s->e[p]) continue;
        double sum = 0.0;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (s->sel && !s->sel[i]) continue;
            double d = s->v[p][i] - ref[p][i], e = s->e[p][i];
            if (!isfinite(d) || !isfinite(e) || e <= 0.0) continue;
            sum += (d / e) * (d / e);
            k++;
        }
        s->n_pull[p] = k;
        s->rms_pull[p] = k ? sqrt(sum / (double)k) : NAN;
    }
}

/* Paired RMS of method m and the recommended labels against the table, on the rows both cover. */
static ov_paired paired(const ov_series *m, const ov_series *rec, const double *ref, int p,
                        size_t n)
{
    ov_paired out = {0, NAN, NAN, NAN};
    if (!m->v[p] || !rec->v[p] || !ref) return out;
    double sm = 0.0, sr = 0.0;
    double *sq = ms_malloc_array("report.paired", 2 * n + 2, sizeof *sq); /* [k]: dm^2, dr^2 */
    for (size_t i = 0; i < n; i++) {
        if (m->sel && !m->sel[i]) continue;
        double dm = m->v[p][i] - ref[i], dr = rec->v[p][i] - ref[i];
        if (!isfinite(dm) || !isfinite(dr)) continue;
        sm += dm * dm;
        sr += dr * dr;
        if (sq) {
            sq[2 * out.n_pair] = dm * dm;
            sq[2 * out.n_pair + 1] = dr * dr;
        }
        out.n_pair++;
    }
    if (out.n_pair) {
        out.rms_method = sqrt(sm / (double)out.n_pair);
        out.rms_rec = sqrt(sr / (double)out.n_pair);
    }
    if (sq && out.n_pair >= 2) {
        /* bootstrap of the paired difference: rows resampled with replacement, a fixed seed
         * (the report is the same for the same catalog) */
        uint64_t seed = 0x6d737461727321ull + (uint64_t)p, st[4];
        for (int j = 0; j < 4; j++) st[j] = ms_rng_splitmix64(&seed);
        double s1 = 0.0, s2 = 0.0;
        for (int b = 0; b < OV_BOOT; b++) {
            double bm = 0.0, br = 0.0;
            for (size_t k = 0; k < out.n_pair; k++) {
                const size_t j = (size_t)(ms_rng_xoshiro256ss(st) % out.n_pair);
                bm += sq[2 * j];
                br += sq[2 * j + 1];
            }
            const double d = sqrt(br / (double)out.n_pair) - sqrt(bm / (double)out.n_pair);
            s1 += d;
            s2 += d * d;
        }
        const double mean = s1 / OV_BOOT, var = s2 / OV_BOOT - mean * mean;
        out.diff_sd = var > 0.0 ? sqrt(var) : 0.0;
    }
    ms_free(sq);
    return out;
}

/* A clean method of the combined catalog more than 3 of its errors from the table at row i. */
static int some_method_wrong(const rp_method_cols *m, size_t nm, int q, double tv, size_t i,
                             int *n_candidates)
{
    int wrong = 0;
    *n_candidates = 0;
    for (size_t k = 0; k < nm; k++) {
        if (!m[k].v[q] || !m[k].e[q] || !m[k].clean[i]) continue;
        double v = m[k].v[q][i], e = m[k].e[q][i];
        if (!isfinite(v) || !isfinite(e) || e <= 0.0) continue;
        ++*n_candidates;
        if (fabs(v - tv) > 3.0 * e) wrong = 1;
    }
    return wrong;
}

static ms_status read_baseline(const char *path, const rp_catalog *c, double *v[RP_N_PARAMS],
                               double *e[RP_N_PARAMS], uint8_t **clean, char *why, size_t why_len)
{
    ms_h5 *f;
    MS_TRY(ms_h5_open_read(path, 0, &f));
    int rank;
    size_t dims[2] = {0, 0};
    ms_status st = ms_h5_dims(f, MS_COL_STORE_STATUS, &rank, dims);
    char **obsid = NULL;
    if (st == MS_OK && dims[0] != c->n) {
        snprintf(why, why_len, "--baseline %s has %zu rows, the catalog %zu: not the same store",
                 path, dims[0], c->n);
        ms_h5_close(f);
        return MS_OK;
    }
    if (st == MS_OK && c->obsid && ms_h5_exists(f, MS_COL_OBSID)) {
        st = ms_h5_read_strings(f, MS_COL_OBSID, c->n, &obsid);
        for (size_t i = 0; st == MS_OK && i < c->n; i++)
            if (strcmp(obsid[i], c->obsid[i]) != 0) {
                snprintf(why, why_len, "--baseline %s: row %zu has obsid %s, the catalog %s: not "
                         "the same store", path, i, obsid[i], c->obsid[i]);
                break;
            }
        ms_free(obsid);
        if (why[0]) {
            ms_h5_close(f);
            return st;
        }
    }
    *clean = ms_malloc_array("report.overview.baseline", c->n + 1, 1);
    if (st == MS_OK && !*clean) st = MS_ENOMEM;
    if (st == MS_OK) memset(*clean, 1, c->n);
    char name[96];
    for (int p = 0; st == MS_OK && p < RP_N_PARAMS; p++) {
        st = rp_read_opt(f, rp_params[p].name, c->n, &v[p]);
        snprintf(name, sizeof name, "e_%s_total", rp_params[p].name);
        if (st == MS_OK) st = rp_read_opt(f, name, c->n, &e[p]);
        snprintf(name, sizeof name, "e_%s", rp_params[p].name);
        if (st == MS_OK && !e[p]) st = rp_read_opt(f, name, c->n, &e[p]);
    }
    /* clean as combine's z25: fit_flags and cut_flags both 0 */
    static const char *const flags[] = {"fit_flags", "cut_flags"};
    for (int k = 0; st == MS_OK && k < 2; k++) {
        double *fl = NULL;
        st = rp_read_opt(f, flags[k], c->n, &fl);
        for (size_t i = 0; st == MS_OK && fl && i < c->n; i++)
            if (fl[i] != 0) (*clean)[i] = 0;
        ms_free(fl);
    }
    ms_h5_close(f);
    return st;
}

static void md_recovery(FILE *md, const ov_series *s, size_t ns)
{
    fprintf(md, "### Recovery against the table, per S/N (bias / scatter (n); rows where the "
                "method's flags are clean)\n\n");
    fprintf(md, "| quantity | method | all S/N | S/N 5-10 | 10-20 | 20-50 | > 50 | rms pull |\n");
    fprintf(md, "|---|---|---|---|---|---|---|---|\n");
    char buf[128], pb[32];
    for (int p = 0; p < RP_N_PARAMS; p++)
        for (size_t k = 0; k < ns; k++) {
            if (!s[k].v[p] || !s[k].has_ref[p]) continue; /* shown even with no clean row */
            const int dg = rp_params[p].digits;
            fprintf(md, "| %s (%s) | %s%s%s | %s |", rp_params[p].text, rp_params[p].unit,
                    s[k].kind == OV_RECOMMENDED ? "**" : "", s[k].name,
                    s[k].kind == OV_RECOMMENDED ? "**" : "", cell(buf, sizeof buf, &s[k].all[p], dg));
            for (int b = 0; b < RP_N_SNR_BINS; b++)
                fprintf(md, " %s |", cell(buf, sizeof buf, &s[k].bins[p][b], dg));
            fprintf(md, " %s |\n", fmtv(pb, sizeof pb, s[k].rms_pull[p], 2));
        }
    fprintf(md, "\nrms pull = sqrt(mean((value - table) / error)^2): 1 for honest errors; above "
                "1 the method's errors are too small. The scatter of n values is uncertain by "
                "about scatter / sqrt(2 (n - 1)).\n\n");
}

static void json_series(ms_json *j, const ov_series *s)
{
    ms_json_begin_object(j, s->name);
    ms_json_string(j, "kind", s->kind == OV_RECOMMENDED ? "recommended"
                              : s->kind == OV_BASELINE  ? "baseline"
                              : s->kind == OV_CATALOG   ? "catalog"
                                                        : "method");
    for (int p = 0; p < RP_N_PARAMS; p++) {
        if (!s->v[p] || !s->has_ref[p]) continue;
        ms_json_begin_object(j, rp_params[p].name);
        ms_json_int(j, "n", (int64_t)s->all[p].n);
        ms_json_number(j, "bias", s->all[p].mean);
        ms_json_number(j, "scatter", s->all[p].std);
        ms_json_number(j, "rms_pull", s->rms_pull[p]);
        ms_json_begin_array(j, "by_snr");
        for (int b = 0; b < RP_N_SNR_BINS; b++) {
            ms_json_begin_object(j, NULL);
            ms_json_number(j, "snr_min", rp_snr_edges[b]);
            ms_json_number(j, "snr_max", rp_snr_edges[b + 1]);
            ms_json_int(j, "n", (int64_t)s->bins[p][b].n);
            ms_json_number(j, "bias", s->bins[p][b].mean);
            ms_json_number(j, "scatter", s->bins[p][b].std);
            ms_json_end_object(j);
        }
        ms_json_end_array(j);
        ms_json_end_object(j);
    }
    ms_json_end_object(j);
}

/* Put overview.md at the top of summary.md. */
static ms_status prepend(const char *out_dir)
{
    char ov[4200], sm[4200], tmp[4300];
    snprintf(ov, sizeof ov, "%s/overview.md", out_dir);
    snprintf(sm, sizeof sm, "%s/summary.md", out_dir);
    snprintf(tmp, sizeof tmp, "%s/summary.md.tmp", out_dir);
    FILE *out = fopen(tmp, "w");
    if (!out) MS_ERROR(MS_EIO, "cannot write %s", tmp);
    const char *const parts[2] = {ov, sm};
    ms_status st = MS_OK;
    for (int k = 0; k < 2 && st == MS_OK; k++) {
        FILE *in = fopen(parts[k], "r");
        if (!in) {
            st = ms_error_set(MS_EIO, __FILE__, __LINE__, "cannot read %s", parts[k]);
            break;
        }
        char buf[8192];
        size_t got;
        while ((got = fread(buf, 1, sizeof buf, in)) > 0)
            if (fwrite(buf, 1, got, out) != got) {
                st = ms_error_set(MS_EIO, __FILE__, __LINE__, "writing %s failed", tmp);
                break;
            }
        if (ferror(in) && st == MS_OK)
            st = ms_error_set(MS_EIO, __FILE__, __LINE__, "reading %s failed", parts[k]);
        fclose(in);
        if (k == 0 && st == MS_OK) fprintf(out, "\n---\n\n");
    }
    if (fclose(out) != 0 && st == MS_OK)
        st = ms_error_set(MS_EIO, __FILE__, __LINE__, "writing %s failed", tmp);
    if (st == MS_OK && rename(tmp, sm) != 0)
        st = ms_error_set(MS_EIO, __FILE__, __LINE__, "cannot rename %s to %s", tmp, sm);
    if (st != MS_OK) remove(tmp);
    return st;
}

ms_status rp_overview(const ms_report_opts *o, const rp_catalog *c, rp_results *r)
{
    const size_t n = c->n;
    const rp_comparison *cmp = &r->cmp[0];
    const double *ref[RP_N_PARAMS] = {NULL};
    if (cmp->have)
        for (int p = 0; p < RP_N_PARAMS; p++) ref[p] = cmp->ref[p];
    ov_warnings *w = ms_calloc("report.overview.warnings", 1, sizeof *w);
    ov_series *s = ms_calloc("report.overview.series", OV_MAX, sizeof *s);
    rp_method_cols m[OV_MAX];
    size_t nm = 0, ns = 0;
    double *base_v[RP_N_PARAMS] = {NULL}, *base_e[RP_N_PARAMS] = {NULL}, *rec_e[RP_N_PARAMS] = {NULL};
    uint8_t *base_clean = NULL;
    double *dis = NULL, *work = ms_malloc_array("report.overview.work", n + 1, sizeof(double));
    char *list = NULL, methods_text[256] = "";
    ms_h5 *f = NULL;
    ms_status st = (!w || !s || !work) ? MS_ENOMEM : MS_OK;
    if (st == MS_OK) st = ms_h5_open_read(o->catalog, 0, &f);
    /* the series: the baseline, the methods of a combined catalog, the recommended labels */
    char why[600] = "";
    if (st == MS_OK && o->baseline) {
        st = read_baseline(o->baseline, c, base_v, base_e, &base_clean, why, sizeof why);
        if (st == MS_OK && why[0]) {
            rp_note(r, "overview: %s", why);
            warn(w, "%s", why);
        } else if (st == MS_OK) {
            ov_series *b = &s[ns++];
            snprintf(b->name, sizeof b->name, "z25 without CSN (baseline)");
            b->kind = OV_BASELINE;
            b->sel = base_clean;
            for (int p = 0; p < RP_N_PARAMS; p++) b->v[p] = base_v[p], b->e[p] = base_e[p];
        }
    }
    int combined = st == MS_OK && ms_h5_attr_get_str(f, "/", "methods", &list) == MS_OK;
    if (combined) {
        snprintf(methods_text, sizeof methods_text, "%s", list);
        size_t na = 0;
        const ms_method_answers *ans = ms_schema_answers(&na);
        for (char *tok = strtok(list, ","); st == MS_OK && tok && nm < OV_MAX - 2;
             tok = strtok(NULL, ","))
            for (size_t k = 0; k < na && st == MS_OK; k++)
                if (strcmp(ans[k].method, tok) == 0) {
                    st = rp_method_load(f, &ans[k], n, &m[nm]);
                    ov_series *x = &s[ns++];
                    snprintf(x->name, sizeof x->name, "%s%s", tok,
                             strcmp(tok, "z25") == 0 && c->csn_run ? " (with CSN)" : "");
                    x->kind = OV_METHOD;
                    x->sel = m[nm].clean;
                    for (int p = 0; p < RP_N_PARAMS; p++) x->v[p] = m[nm].v[p], x->e[p] = m[nm].e[p];
                    nm++;
                }
        char name[32];
        for (int p = 0; st == MS_OK && p < RP_N_PARAMS; p++) {
            snprintf(name, sizeof name, "e_%s", rp_params[p].name);
            st = rp_read_opt(f, name, n, &rec_e[p]);
        }
        if (st == MS_OK) st = rp_read_opt(f, "disagree_flags", n, &dis);
    }
    ov_series *rec = NULL;
    if (st == MS_OK) {
        rec = &s[ns++];
        snprintf(rec->name, sizeof rec->name, "%s", combined ? "recommended" : "this catalog");
        rec->kind = combined ? OV_RECOMMENDED : OV_CATALOG;
        rec->sel = combined ? NULL : r->is_clean;
        for (int p = 0; p < RP_N_PARAMS; p++) rec->v[p] = c->label[p], rec->e[p] = rec_e[p];
        if (!combined) { /* a plain catalog: its own error columns */
            char name[32];
            for (int p = 0; st == MS_OK && p < RP_N_PARAMS; p++) {
                snprintf(name, sizeof name, "e_%s_total", rp_params[p].name);
                st = rp_read_opt(f, name, n, &rec_e[p]);
                snprintf(name, sizeof name, "e_%s", rp_params[p].name);
                if (st == MS_OK && !rec_e[p]) st = rp_read_opt(f, name, n, &rec_e[p]);
                rec->e[p] = rec_e[p];
            }
        }
        for (size_t k = 0; k < ns; k++) evaluate(&s[k], ref, c->snr_r, n, work);
    }
    /* the classification and the routing (a catalog with class or lum columns) */
    rp_class_stats cls;
    memset(&cls, 0, sizeof cls);
    if (st == MS_OK) st = rp_classes(f, n, &r->truth_classes, &cls);
    /* the paired comparison and the flag */
    ov_paired pair[RP_N_PARAMS][OV_MAX];
    ov_flag flag[RP_N_PARAMS];
    memset(pair, 0, sizeof pair);
    memset(flag, 0, sizeof flag);
    for (int p = 0; st == MS_OK && combined && p < RP_N_PARAMS; p++) {
        for (size_t k = 0; k < ns; k++)
            if (s[k].kind == OV_METHOD) pair[p][k] = paired(&s[k], rec, ref[p], p, n);
        for (size_t i = 0; dis && i < n; i++) {
            int flagged = ((uint32_t)dis[i] >> p) & 1u;
            flag[p].flagged += (size_t)flagged;
            double tv = ref[p] ? ref[p][i] : NAN;
            if (!isfinite(tv)) continue;
            int nc = 0, wrong = some_method_wrong(m, nm, p, tv, i, &nc);
            if (flagged) {
                flag[p].judged++;
                flag[p].wrong += (size_t)wrong;
            } else if (nc >= 2) {
                flag[p].base_judged++;
                flag[p].base_wrong += (size_t)wrong;
            }
        }
    }
    /* warnings */
    if (st == MS_OK) {
        if (!cmp->have)
            warn(w, "no --truth or --reference table: nothing below is judged against known labels");
        if (c->grid_quality_fail) warn(w, "%s", c->grid_quality);
        if (c->sanity_fail) warn(w, "%s", c->sanity);
        if (isfinite(r->resid_with) && isfinite(r->resid_without) && r->resid_with >= r->resid_without)
            warn(w, "Cycle-StarNet did not reduce the fit residual (%.3f with, %.3f without)",
                 r->resid_with, r->resid_without);
        for (size_t k = 0; k < ns; k++)
            for (int p = 0; p < RP_N_PARAMS; p++) {
                if (s[k].n_pull[p] < 10 || s[k].kind == OV_BASELINE) continue;
                if (s[k].rms_pull[p] > OV_PULL_HIGH)
                    warn(w, "%s: the %s errors are too small (rms pull %.2f over %zu rows)%s",
                         s[k].name, rp_params[p].text, s[k].rms_pull[p], s[k].n_pull[p],
                         s[k].kind == OV_METHOD ? "; the recommended-label rule rescales them "
                                                  "first (attribute error_scales of e_<q>)"
                                                : "");
                else if (s[k].rms_pull[p] < OV_PULL_LOW)
                    warn(w, "%s: the %s errors are too large (rms pull %.2f over %zu rows)",
                         s[k].name, rp_params[p].text, s[k].rms_pull[p], s[k].n_pull[p]);
            }
        for (int p = 0; combined && p < RP_N_PARAMS; p++)
            for (size_t k = 0; k < ns; k++) {
                const ov_paired *x = &pair[p][k];
                if (paired_worse(x))
                    warn(w, "%s: the recommended labels are worse than %s alone on the %zu rows "
                            "%s covers (RMS %.4g against %.4g, difference %.2g +- %.2g, bootstrap "
                            "sd)", rp_params[p].text, s[k].name, x->n_pair, s[k].name,
                         x->rms_rec, x->rms_method, x->rms_rec - x->rms_method, x->diff_sd);
            }
        for (int p = 0; combined && p < RP_N_PARAMS; p++) {
            const ov_flag *g = &flag[p];
            if (g->judged < 5 || g->base_judged < 5) continue;
            double prec = (double)g->wrong / (double)g->judged;
            double base = (double)g->base_wrong / (double)g->base_judged;
            if (prec < base + 0.1)
                warn(w, "disagreement flag on %s: precision %.2f is not clearly above the base "
                        "rate %.2f of the rows not flagged (little skill)", rp_params[p].text,
                     prec, base);
        }
        const ms_stats_summary *hi = &rec->bins[RP_TEFF][RP_N_SNR_BINS - 1];
        if (hi->n >= 2 && hi->std > OV_TEFF_TARGET)
            warn(w, "%s Teff scatter at S/N > 50 is %.0f K over %zu rows (+-%.0f K), above the "
                    "%.0f K target", rec->name, hi->std, hi->n,
                 hi->std / sqrt(2.0 * (double)(hi->n - 1)), OV_TEFF_TARGET);
        if (hi->n > 0 && hi->n < 30)
            warn(w, "only %zu judged rows at S/N > 50: the numbers of that bin are uncertain",
                 hi->n);
        if (cls.have && cls.reason_mismatch)
            warn(w, "classification: %zu rows' skip_reason differs from the route of their class "
                    "columns", cls.reason_mismatch);
        if (cls.have_truth && cls.purity.n >= 20 && cls.purity.k < 0.95 * (double)cls.purity.n)
            warn(w, "classification: %zu of the %zu judged rows routed as M dwarfs are not M "
                    "dwarfs (purity %.1f%%): their labels enter the catalog",
                 cls.purity.n - cls.purity.k, cls.purity.n,
                 100.0 * (double)cls.purity.k / (double)cls.purity.n);
        if (cls.have_truth && cls.completeness.n >= 20 &&
            cls.completeness.k < 0.9 * (double)cls.completeness.n)
            warn(w, "classification: only %zu of the %zu judged M dwarfs were routed to the "
                    "M-dwarf methods (completeness %.1f%%)", cls.completeness.k, cls.completeness.n,
                 100.0 * (double)cls.completeness.k / (double)cls.completeness.n);
        if (r->n_notes)
            warn(w, "%zu item(s) of the report were left out (section \"Left out\" below)",
                 r->n_notes);
    }
    /* overview.md */
    char path[4200];
    FILE *md = NULL;
    if (st == MS_OK) {
        snprintf(path, sizeof path, "%s/overview.md", o->out_dir);
        md = fopen(path, "w");
        if (!md) st = ms_error_set(MS_EIO, __FILE__, __LINE__, "cannot write %s", path);
    }
    if (md) {
        fprintf(md, "# Overview: what to look at\n\n");
        fprintf(md, "- catalog `%s`%s%s%s\n", o->catalog, combined ? " (combined: methods " : "",
                combined ? methods_text : "", combined ? ")" : "");
        if (cmp->have)
            fprintf(md, "- judged against the %s `%s`: %zu of %zu rows matched by obsid\n",
                    cmp->kind, cmp->path, cmp->matched, n);
        if (o->baseline) fprintf(md, "- baseline without Cycle-StarNet: `%s`\n", o->baseline);
        fprintf(md, "\n### Warnings\n\n");
        if (w->n == 0) fprintf(md, "None.\n");
        for (size_t k = 0; k < w->n; k++) fprintf(md, "- %s\n", w->warn[k]);
        fprintf(md, "\n");
        if (cmp->have) md_recovery(md, s, ns);
        if (cls.have) rp_classes_md(md, &cls, &r->truth_classes);
        /* Cycle-StarNet */
        fprintf(md, "### Cycle-StarNet\n\n");
        char a[32], b[32];
        if (isfinite(r->resid_with) && isfinite(r->resid_without))
            fprintf(md, "Mean \\|F_obs - F_model\\| / sigma: %.3f without, %.3f with the adaptation "
                        "(%+.1f%%; %zu spectra).\n",
                    r->resid_without, r->resid_with,
                    100.0 * (r->resid_with / r->resid_without - 1.0), r->resid_with_s.n);
        else
            fprintf(md, "No residual with and without the adaptation in this catalog (fit --csn "
                        "writes both).\n");
        ov_series *z = NULL, *bl = NULL;
        for (size_t k = 0; k < ns; k++) {
            if (s[k].kind == OV_BASELINE) bl = &s[k];
            if (s[k].kind == OV_METHOD && strncmp(s[k].name, "z25", 3) == 0) z = &s[k];
        }
        if (!z && !combined) z = rec;
        if (bl && z && cmp->have) {
            fprintf(md, "\n| quantity | without CSN: all | with CSN: all | without: S/N > 50 | "
                        "with: S/N > 50 |\n|---|---|---|---|---|\n");
            for (int p = 0; p < RP_N_PARAMS; p++) {
                if (!bl->all[p].n && !z->all[p].n) continue;
                const int dg = rp_params[p].digits;
                char c1[128], c2[128], c3[128], c4[128];
                fprintf(md, "| %s | %s | %s | %s | %s |\n", rp_params[p].text,
                        cell(c1, sizeof c1, &bl->all[p], dg), cell(c2, sizeof c2, &z->all[p], dg),
                        cell(c3, sizeof c3, &bl->bins[p][RP_N_SNR_BINS - 1], dg),
                        cell(c4, sizeof c4, &z->bins[p][RP_N_SNR_BINS - 1], dg));
            }
        } else if (!o->baseline)
            fprintf(md, "\n(give `--baseline` the catalog fitted without `--csn` to see the "
                        "adaptation's effect on the labels)\n");
        fprintf(md, "\n");
        if (combined && cmp->have) {
            fprintf(md, "### Recommended labels against each method (paired RMS against the "
                        "table on the rows the method covers)\n\n| quantity |");
            for (size_t k = 0; k < ns; k++)
                if (s[k].kind == OV_METHOD) fprintf(md, " %s: method / recommended (n) |", s[k].name);
            fprintf(md, " as good as the best? (worse: by more than 2 bootstrap sd) |\n|---|");
            for (size_t k = 0; k < ns; k++)
                if (s[k].kind == OV_METHOD) fprintf(md, "---|");
            fprintf(md, "---|\n");
            for (int p = 0; p < RP_N_PARAMS; p++) {
                int any = 0, ok = 1;
                for (size_t k = 0; k < ns; k++) any |= pair[p][k].n_pair > 0;
                if (!any) continue;
                const int dg = rp_params[p].digits;
                fprintf(md, "| %s |", rp_params[p].text);
                for (size_t k = 0; k < ns; k++) {
                    if (s[k].kind != OV_METHOD) continue;
                    const ov_paired *x = &pair[p][k];
                    if (!x->n_pair) {
                        fprintf(md, " - |");
                        continue;
                    }
                    fprintf(md, " %s / %s (%zu) |", fmtv(a, sizeof a, x->rms_method, dg),
                            fmtv(b, sizeof b, x->rms_rec, dg), x->n_pair);
                    if (paired_worse(x)) ok = 0;
                }
                fprintf(md, " %s |\n", ok ? "yes" : "**no**");
            }
            fprintf(md, "\n");
        }
        if (combined && dis) {
            fprintf(md, "### Disagreement flag\n\nA row is flagged on a quantity when two clean "
                        "methods differ by more than combine's threshold in combined errors. "
                        "\"Really wrong\": a clean method is more than 3 of its errors from the "
                        "table. Precision = the fraction of flagged rows that are really wrong; "
                        "base rate = the same fraction over the rows not flagged that have at "
                        "least two methods.\n\n");
            fprintf(md, "| quantity | flagged | judged | precision | base rate (n) |\n"
                        "|---|---|---|---|---|\n");
            for (int p = 0; p < RP_N_PARAMS; p++) {
                const ov_flag *g = &flag[p];
                fprintf(md, "| %s | %zu (%.1f%%) | %zu | %s | %s (%zu) |\n", rp_params[p].text,
                        g->flagged, n ? 100.0 * (double)g->flagged / (double)n : 0.0, g->judged,
                        g->judged ? fmtv(a, sizeof a, (double)g->wrong / (double)g->judged, 2) : "-",
                        g->base_judged
                            ? fmtv(b, sizeof b, (double)g->base_wrong / (double)g->base_judged, 2)
                            : "-",
                        g->base_judged);
            }
            fprintf(md, "\nmethods.md has every pair of methods against each other.\n\n");
        }
        if (fclose(md) != 0)
            st = ms_error_set(MS_EIO, __FILE__, __LINE__, "writing %s failed", path);
    }
    /* overview.json */
    if (st == MS_OK) {
        snprintf(path, sizeof path, "%s/overview.json", o->out_dir);
        FILE *fj = fopen(path, "w");
        if (!fj) st = ms_error_set(MS_EIO, __FILE__, __LINE__, "cannot write %s", path);
        if (fj) {
            ms_json j;
            ms_json_init(&j, fj);
            ms_json_begin_object(&j, NULL);
            ms_json_string(&j, "catalog", o->catalog);
            ms_json_string(&j, "methods", combined ? methods_text : NULL);
            ms_json_string(&j, "against", cmp->have ? cmp->kind : NULL);
            ms_json_begin_object(&j, "series");
            for (size_t k = 0; k < ns; k++) json_series(&j, &s[k]);
            ms_json_end_object(&j);
            ms_json_begin_object(&j, "csn");
            ms_json_number(&j, "resid_with", r->resid_with);
            ms_json_number(&j, "resid_without", r->resid_without);
            ms_json_number(&j, "reduction", 1.0 - r->resid_with / r->resid_without);
            ms_json_end_object(&j);
            ms_json_begin_object(&j, "flag");
            for (int p = 0; combined && p < RP_N_PARAMS; p++) {
                ms_json_begin_object(&j, rp_params[p].name);
                ms_json_int(&j, "flagged", (int64_t)flag[p].flagged);
                ms_json_int(&j, "judged", (int64_t)flag[p].judged);
                ms_json_number(&j, "precision", flag[p].judged ? (double)flag[p].wrong / (double)flag[p].judged : NAN);
                ms_json_number(&j, "base_rate", flag[p].base_judged ? (double)flag[p].base_wrong / (double)flag[p].base_judged : NAN);
                ms_json_end_object(&j);
            }
            ms_json_end_object(&j);
            if (cls.have) rp_classes_json(&j, &cls);
            ms_json_begin_array(&j, "warnings");
            for (size_t k = 0; k < w->n; k++) ms_json_string(&j, NULL, w->warn[k]);
            ms_json_end_array(&j);
            ms_json_end_object(&j);
            st = ms_json_finish(&j, path);
            if (fclose(fj) != 0 && st == MS_OK)
                st = ms_error_set(MS_EIO, __FILE__, __LINE__, "writing %s failed", path);
        }
    }
    if (st == MS_OK) st = prepend(o->out_dir);
    rp_class_stats_free(&cls);
    for (size_t k = 0; k < nm; k++) rp_method_free(&m[k]);
    for (int p = 0; p < RP_N_PARAMS; p++) {
        ms_free(base_v[p]);
        ms_free(base_e[p]);
        ms_free(rec_e[p]);
    }
    ms_free(base_clean);
    ms_free(dis);
    ms_free(work);
    ms_free(list);
    ms_free(s);
    ms_free(w);
    if (f) ms_h5_close(f);
    return st;
}
