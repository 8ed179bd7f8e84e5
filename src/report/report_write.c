/* report_write.c: summary.json and summary.md of `mstars report`. Both are written from the
 * same results, so every number of the page is in the JSON. Absent values are JSON null
 * (and "n/a" on the page); the keys named in the README are always present. */
#include "report_internal.h"

#include "mstars/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const flagged_definition =
    "rows with store_status != 0, or a fit_flags bit other than the informational ones, or "
    "any cut_flags bit";

/* ------------------------------------------------------------------ JSON */

static void json_summary(ms_json *j, const char *key, const ms_stats_summary *s)
{
    ms_json_begin_object(j, key);
    ms_json_int(j, "n", (int64_t)s->n);
    ms_json_number(j, "bias", s->n ? s->mean : NAN);
    ms_json_number(j, "scatter", s->n ? s->std : NAN);
    ms_json_number(j, "median", s->n ? s->median : NAN);
    ms_json_number(j, "robust_scatter", s->n ? s->robust_std : NAN);
    ms_json_end_object(j);
}

static void json_comparison(ms_json *j, const char *key, const rp_comparison *cm)
{
    ms_json_begin_object(j, key);
    ms_json_string(j, "against", cm->have ? cm->kind : NULL);
    ms_json_string(j, "table", cm->have ? cm->path : NULL);
    ms_json_string(j, "table_format", cm->have ? cm->format : NULL);
    ms_json_int(j, "table_rows", (int64_t)cm->table_rows);
    ms_json_int(j, "table_duplicate_obsids", (int64_t)cm->duplicates);
    ms_json_int(j, "matched", (int64_t)cm->matched);
    ms_json_string(j, "snr_column", "snr_r");
    for (int p = 0; p < RP_N_PARAMS; p++) {
        const rp_cmp *x = &cm->p[p];
        ms_json_begin_object(j, rp_params[p].name);
        ms_json_string(j, "unit", rp_params[p].unit);
        ms_json_int(j, "n", (int64_t)x->all.n);
        ms_json_number(j, "bias", x->all.n ? x->all.mean : NAN);
        ms_json_number(j, "scatter", x->all.n ? x->all.std : NAN);
        ms_json_number(j, "median", x->all.n ? x->all.median : NAN);
        ms_json_number(j, "robust_scatter", x->all.n ? x->all.robust_std : NAN);
        json_summary(j, "clean", &x->clean);
        ms_json_begin_array(j, "by_snr");
        for (int b = 0; b < RP_N_SNR_BINS; b++) {
            const ms_stats_summary *s = &x->bins[b];
            ms_json_begin_object(j, NULL);
            ms_json_number(j, "snr_min", rp_snr_edges[b]);
            ms_json_number(j, "snr_max", rp_snr_edges[b + 1]); /* inf -> null: no bound */
            ms_json_int(j, "n", (int64_t)s->n);
            ms_json_number(j, "bias", s->n ? s->mean : NAN);
            ms_json_number(j, "scatter", s->n ? s->std : NAN);
            ms_json_end_object(j);
        }
        ms_json_end_array(j);
        ms_json_end_object(j);
    }
    ms_json_end_object(j);
}

static void json_body(ms_json *j, const rp_catalog *c, const ms_report_opts *o,
                      const rp_results *r)
{
    ms_json_begin_object(j, NULL);
    ms_json_int(j, "report_format", 1);
    ms_json_begin_object(j, "catalog");
    ms_json_string(j, "path", o->catalog);
    ms_json_string(j, "mstars_version", c->version);
    ms_json_string(j, "git_revision", c->git_revision);
    ms_json_string(j, "created", c->created);
    ms_json_string(j, "domain_adaptation", c->domain_adaptation);
    ms_json_string(j, "emulator", c->emulator);
    ms_json_string(j, "grid_quality", c->grid_quality[0] ? c->grid_quality : NULL);
    ms_json_string(j, "sanity", c->sanity[0] ? c->sanity : NULL);
    ms_json_string(j, "error_model", c->error_model[0] ? c->error_model : NULL);
    ms_json_bool(j, "trustworthy", !(c->grid_quality_fail || c->sanity_fail));
    ms_json_end_object(j);
    ms_json_string(j, "truth", o->truth);
    ms_json_string(j, "reference", o->reference);
    ms_json_string(j, "calibrated_labels", c->calibrated[0] ? c->calibrated : NULL);

    ms_json_begin_object(j, "counts");
    ms_json_int(j, "input", (int64_t)r->input);
    ms_json_int(j, "fitted", (int64_t)r->fitted);
    ms_json_int(j, "flagged", (int64_t)r->flagged);
    ms_json_int(j, "failed", (int64_t)r->failed);
    ms_json_int(j, "skipped", (int64_t)r->skipped);
    ms_json_int(j, "clean", (int64_t)r->clean);
    ms_json_string(j, "flagged_definition", flagged_definition);
    ms_json_begin_object(j, "flag_reasons");
    for (size_t k = 0; k < r->n_reasons; k++)
        ms_json_int(j, r->reasons[k].name, (int64_t)r->reasons[k].count);
    ms_json_end_object(j);
    ms_json_begin_array(j, "informational_reasons");
    for (size_t k = 0; k < r->n_reasons; k++)
        if (r->reasons[k].informational) ms_json_string(j, NULL, r->reasons[k].name);
    ms_json_end_array(j);
    ms_json_end_object(j);

    json_comparison(j, "recovery", &r->cmp[0]);
    if (r->cmp[1].have) json_comparison(j, "recovery_reference", &r->cmp[1]);

    ms_json_begin_object(j, "residual_over_sigma");
    ms_json_number(j, "with_csn", r->resid_with);
    ms_json_number(j, "without_csn", r->resid_without);
    ms_json_int(j, "n_with_csn", (int64_t)r->resid_with_s.n);
    ms_json_int(j, "n_without_csn", (int64_t)r->resid_without_s.n);
    ms_json_number(j, "median_with_csn", r->resid_with_s.n ? r->resid_with_s.median : NAN);
    ms_json_number(j, "median_without_csn",
                   r->resid_without_s.n ? r->resid_without_s.median : NAN);
    ms_json_end_object(j);

    ms_json_begin_object(j, "emulator");
    ms_json_string(j, "file", r->emulator_path[0] ? r->emulator_path : NULL);
    ms_json_int(j, "n_validation", (int64_t)r->emu_s.n);
    ms_json_number(j, "eq1_median", r->emu_s.n ? r->emu_s.median : NAN);
    ms_json_number(j, "eq1_max", r->emu_s.n ? r->emu_s.max : NAN);
    ms_json_number(j, "eq1_mean", r->emu_s.n ? r->emu_s.mean : NAN);
    ms_json_end_object(j);

    ms_json_begin_object(j, "precision_vs_snr");
    for (int p = 0; p < RP_N_PARAMS; p++) {
        const rp_repeat *x = &c->repeat[p];
        ms_json_begin_object(j, rp_params[p].name);
        ms_json_number(j, "a", x->have ? x->a : NAN);
        ms_json_number(j, "b", x->have ? x->b : NAN);
        ms_json_number(j, "n_stars", x->have ? x->n_stars : NAN);
        ms_json_begin_array(j, "bins");
        for (size_t b = 0; x->have && b < x->n_bins; b++) {
            ms_json_begin_object(j, NULL);
            ms_json_number(j, "snr_min", x->bin_min[b]);
            ms_json_number(j, "snr_max", x->bin_max[b]);
            ms_json_number(j, "n", x->bin_n[b]);
            ms_json_number(j, "scatter", x->bin_scatter[b]);
            ms_json_number(j, "inv_snr_rms", x->bin_inv_snr ? x->bin_inv_snr[b] : NAN);
            ms_json_end_object(j);
        }
        ms_json_end_array(j);
        ms_json_end_object(j);
    }
    ms_json_end_object(j);

    ms_json_begin_object(j, "spt");
    ms_json_int(j, "n", (int64_t)r->spt_n);
    ms_json_int(j, "n_with_subclass", (int64_t)r->spt_n_subclass);
    ms_json_number(j, "agree_within_1", r->spt_agree1);
    ms_json_number(j, "bias_vs_subclass", r->spt_diff.n ? r->spt_diff.mean : NAN);
    ms_json_number(j, "scatter_vs_subclass", r->spt_diff.n ? r->spt_diff.std : NAN);
    ms_json_end_object(j);

    ms_json_begin_object(j, "figures");
    for (size_t k = 0; k < r->n_figures; k++)
        ms_json_string(j, r->figures[k].key, r->figures[k].file);
    ms_json_end_object(j);
    ms_json_begin_array(j, "notes");
    for (size_t k = 0; k < r->n_notes; k++) ms_json_string(j, NULL, r->notes[k]);
    ms_json_end_array(j);
    ms_json_end_object(j);
}

ms_status rp_write_json(const rp_catalog *c, const ms_report_opts *o, const rp_results *r,
                        const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) MS_ERROR(MS_EIO, "cannot create %s: %s", path, strerror(errno));
    ms_json j;
    ms_json_init(&j, f);
    json_body(&j, c, o, r);
    ms_status st = ms_json_finish(&j, path);
    if (fclose(f) != 0 && st == MS_OK)
        st = ms_error_set(MS_EIO, __FILE__, __LINE__, "writing %s failed: %s", path,
                          strerror(errno));
    return st;
}

/* ------------------------------------------------------------------ Markdown */

static const char *num(char *buf, size_t len, double v, int digits)
{
    if (isfinite(v))
        snprintf(buf, len, "%.*f", digits, v);
    else
        snprintf(buf, len, "n/a");
    return buf;
}

static void md_comparison(FILE *f, const rp_comparison *cm, const char *title)
{
    char a[32], b[32], m[32], s[32];
    fprintf(f, "## %s\n\n", title);
    fprintf(f, "Table `%s` (%s, %zu rows", cm->path, cm->format, cm->table_rows);
    if (cm->duplicates) fprintf(f, ", %zu repeated obsids or keys: the first row is used", cm->duplicates);
    fprintf(f, "); %zu catalog rows joined by obsid, key or position. Difference = mstars - %s over the fitted "
               "rows; bias = mean, scatter = standard deviation, robust = median and 1.4826 "
               "MAD; clean = unflagged rows only.\n\n", cm->matched, cm->kind);
    fprintf(f, "| parameter | n | bias | scatter | median | robust scatter | n clean | bias "
               "clean | scatter clean |\n|---|---|---|---|---|---|---|---|---|\n");
    for (int p = 0; p < RP_N_PARAMS; p++) {
        const rp_cmp *x = &cm->p[p];
        int d = rp_params[p].digits;
        char cb[32], cs[32];
        /* no rows (a label the fit or the table does not have, e.g. [alpha/M] of a
         * teff,logg grid): n/a, never a summary of nothing that reads 0.000 */
        const double na = NAN;
        fprintf(f, "| %s (%s) | %zu | %s | %s | %s | %s | %zu | %s | %s |\n", rp_params[p].text,
                rp_params[p].unit, x->all.n, num(a, sizeof a, x->all.n ? x->all.mean : na, d),
                num(b, sizeof b, x->all.n > 1 ? x->all.std : na, d),
                num(m, sizeof m, x->all.n ? x->all.median : na, d),
                num(s, sizeof s, x->all.n ? x->all.robust_std : na, d), x->clean.n,
                num(cb, sizeof cb, x->clean.n ? x->clean.mean : na, d),
                num(cs, sizeof cs, x->clean.n > 1 ? x->clean.std : na, d));
    }
    fprintf(f, "\nBy the catalog's S/N in r (`snr_r`; spectra below 5 only in the totals): bias "
               "/ scatter (n)\n\n| parameter | 5-10 | 10-20 | 20-50 | > 50 |\n|---|---|---|---|"
               "---|\n");
    for (int p = 0; p < RP_N_PARAMS; p++) {
        fprintf(f, "| %s |", rp_params[p].text);
        for (int k = 0; k < RP_N_SNR_BINS; k++) {
            const ms_stats_summary *x = &cm->p[p].bins[k];
            int d = rp_params[p].digits;
            fprintf(f, " %s / %s (%zu) |", num(a, sizeof a, x->n ? x->mean : NAN, d),
                    num(b, sizeof b, x->n ? x->std : NAN, d), x->n);
        }
        fprintf(f, "\n");
    }
    fprintf(f, "\n");
}

static void md_body(FILE *f, const rp_catalog *c, const ms_report_opts *o, const rp_results *r)
{
    char a[32], b[32];
    fprintf(f, "# mstars report\n\n");
    /* issue 17: a failed fit says so at the top of the page */
    if (c->grid_quality_fail || c->sanity_fail) {
        fprintf(f, "> **WARNING: this catalog is not trustworthy.**\n");
        if (c->grid_quality_fail) fprintf(f, ">\n> - %s\n", c->grid_quality);
        if (c->sanity_fail) fprintf(f, ">\n> - %s\n", c->sanity);
        fprintf(f, "\n");
    }
    fprintf(f, "- catalog: `%s` (mstars %s, revision %s, created %s)\n", o->catalog,
            c->version[0] ? c->version : "?", c->git_revision[0] ? c->git_revision : "?",
            c->created[0] ? c->created : "?");
    fprintf(f, "- domain adaptation: %s\n", c->domain_adaptation[0] ? c->domain_adaptation
                                                                     : "not recorded");
    fprintf(f, "- emulator: `%s`\n", r->emulator_path[0] ? r->emulator_path
                                     : c->emulator[0] ? c->emulator : "not recorded");
    fprintf(f, "- truth: %s%s%s\n", o->truth ? "`" : "", o->truth ? o->truth : "none",
            o->truth ? "`" : "");
    fprintf(f, "- reference: %s%s%s\n", o->reference ? "`" : "",
            o->reference ? o->reference : "none", o->reference ? "`" : "");
    if (c->calibrated[0])
        fprintf(f, "- labels on the reference's zero point (`<p>_cal` of calibrate-errors "
                "--zero-point) for: %s\n", c->calibrated);
    fprintf(f, "- every number below is also in `summary.json`\n\n");

    fprintf(f, "## Counts\n\n| spectra | number |\n|---|---|\n");
    fprintf(f, "| input (catalog rows) | %zu |\n| fitted (finite Teff) | %zu |\n", r->input,
            r->fitted);
    fprintf(f, "| failed (usable in the store, no fit) | %zu |\n| skipped (store status not 0) "
               "| %zu |\n| flagged | %zu |\n| clean (fitted, not flagged) | %zu |\n\n", r->failed,
            r->skipped, r->flagged, r->clean);
    fprintf(f, "Flagged: %s. A row may have several reasons.\n\n", flagged_definition);
    if (r->n_reasons) {
        fprintf(f, "| reason | from | spectra | makes a row flagged |\n|---|---|---|---|\n");
        for (size_t k = 0; k < r->n_reasons; k++)
            fprintf(f, "| %s | %s | %zu | %s |\n", r->reasons[k].name, r->reasons[k].source,
                    r->reasons[k].count, r->reasons[k].informational ? "no (informational)"
                                                                     : "yes");
        fprintf(f, "\n");
    }

    if (r->cmp[0].have)
        md_comparison(f, &r->cmp[0], r->cmp[0].kind[0] == 't' ? "Recovery of the truth"
                                                               : "Comparison with the reference");
    if (r->cmp[1].have) md_comparison(f, &r->cmp[1], "Comparison with the reference");

    fprintf(f, "## Residuals and emulator\n\n| quantity | value |\n|---|---|\n");
    fprintf(f, "| mean \\|F_obs - F_model\\| / sigma, with Cycle-StarNet (%zu spectra) | %s |\n",
            r->resid_with_s.n, num(a, sizeof a, r->resid_with, 3));
    fprintf(f, "| mean \\|F_obs - F_model\\| / sigma, emulator only (%zu spectra) | %s |\n",
            r->resid_without_s.n, num(b, sizeof b, r->resid_without, 3));
    fprintf(f, "| emulator Eq. 1 error, median over %zu validation models | %s |\n", r->emu_s.n,
            num(a, sizeof a, r->emu_s.n ? r->emu_s.median : NAN, 5));
    fprintf(f, "| emulator Eq. 1 error, maximum | %s |\n",
            num(a, sizeof a, r->emu_s.n ? r->emu_s.max : NAN, 5));
    fprintf(f, "| SpT: spectra with a TiO5 type / with a LAMOST M or K subclass | %zu / %zu |\n",
            r->spt_n, r->spt_n_subclass);
    fprintf(f, "| SpT within 1 subtype of the LAMOST subclass | %s |\n",
            num(a, sizeof a, r->spt_agree1, 3));
    fprintf(f, "| SpT - subclass: bias / scatter | %s / %s |\n\n",
            num(a, sizeof a, r->spt_diff.n ? r->spt_diff.mean : NAN, 2),
            num(b, sizeof b, r->spt_diff.n ? r->spt_diff.std : NAN, 2));

    int have_rep = 0;
    for (int p = 0; p < RP_N_PARAMS; p++) have_rep |= c->repeat[p].have;
    if (have_rep) {
        fprintf(f, "## Precision from repeats: Err_repeat = a / (S/N) + b\n\n| parameter | a | b "
                   "| stars |\n|---|---|---|---|\n");
        for (int p = 0; p < RP_N_PARAMS; p++) {
            const rp_repeat *x = &c->repeat[p];
            if (!x->have) continue;
            fprintf(f, "| %s (%s) | %.6g | %.6g | %.0f |\n", rp_params[p].text, rp_params[p].unit,
                    x->a, x->b, x->n_stars);
        }
        fprintf(f, "\n");
    }

    if (r->n_figures) fprintf(f, "## Figures\n\n");
    for (size_t k = 0; k < r->n_figures; k++)
        fprintf(f, "### %s\n\n![%s](%s)\n\n%s.\n\n", r->figures[k].key, r->figures[k].key,
                r->figures[k].file, r->figures[k].caption);

    fprintf(f, "## Left out\n\n");
    if (r->n_notes == 0) fprintf(f, "Nothing.\n");
    for (size_t k = 0; k < r->n_notes; k++) fprintf(f, "- %s\n", r->notes[k]);
}

ms_status rp_write_markdown(const rp_catalog *c, const ms_report_opts *o,
                            const rp_results *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) MS_ERROR(MS_EIO, "cannot create %s: %s", path, strerror(errno));
    md_body(f, c, o, r);
    int bad = ferror(f);
    if (fflush(f) != 0) bad = 1;
    int err = errno;
    if (fclose(f) != 0 || bad)
        MS_ERROR(MS_EIO, "writing %s failed: %s", path, strerror(bad ? err : errno));
    return MS_OK;
}
