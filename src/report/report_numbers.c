/* report_numbers.c: the numbers of `mstars report`: counts and flag reasons, comparisons
 * with a truth or reference table, best-fit residuals, the emulator's validation accuracy
 * and SpT against the LAMOST subclass. */
#include "report_internal.h"

#include "mstars/h5.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/store.h"
#include "mstars/table.h"

#include <ctype.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void rp_note(rp_results *r, const char *fmt, ...)
{
    if (r->n_notes >= RP_MAX_NOTES) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->notes[r->n_notes], RP_NOTE_LEN, fmt, ap);
    va_end(ap);
    ms_log_info("report: left out: %s", r->notes[r->n_notes]);
    r->n_notes++;
}

void rp_results_free(rp_results *r)
{
    ms_free(r->is_flagged);
    ms_free(r->is_clean);
    for (int k = 0; k < 2; k++)
        for (int p = 0; p < RP_N_PARAMS; p++) ms_free(r->cmp[k].ref[p]);
    ms_free(r->emu_labels);
    ms_free(r->emu_accuracy);
    ms_free(r->subclass_num);
    rp_truth_classes_free(&r->truth_classes);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------ counts */

/* fit_flags bits that describe how a fit went without making it doubtful: they are
 * counted among the reasons but do not make a row "flagged". */
static const char *const informational_fit_flags[] = {"linesearch", "bad_pixels", "rv_wide",
                                                      "no_rv_start", NULL};

static int is_informational(const char *name)
{
    for (int i = 0; informational_fit_flags[i]; i++)
        if (strcmp(name, informational_fit_flags[i]) == 0) return 1;
    return 0;
}

static rp_reason *find_reason(rp_results *r, const char *name)
{
    for (size_t i = 0; i < r->n_reasons; i++)
        if (strcmp(r->reasons[i].name, name) == 0) return &r->reasons[i];
    return NULL;
}

static rp_reason *add_reason(rp_results *r, const char *name, const char *source, int info)
{
    if (r->n_reasons >= RP_MAX_REASONS) return NULL;
    rp_reason *x = &r->reasons[r->n_reasons++];
    snprintf(x->name, sizeof x->name, "%s", name);
    x->source = source;
    x->informational = info;
    x->count = 0;
    return x;
}

/* The reasons of one flags column: a named entry per named bit (count 0 included, so
 * that runs can be compared key by key), "<prefix>bit<k>" for set bits without a name. */
static void count_bits(rp_results *r, const int64_t *flags, size_t n,
                       char names[][RP_NAME_LEN], const char *source, int cut)
{
    rp_reason *slot[RP_MAX_FLAG_BITS] = {0};
    for (int b = 0; b < RP_MAX_FLAG_BITS; b++) {
        char name[RP_NAME_LEN + 8];
        if (names[b][0])
            snprintf(name, sizeof name, "%s%s", cut && find_reason(r, names[b]) ? "cut_" : "",
                     names[b]);
        else
            continue;
        slot[b] = add_reason(r, name, source, !cut && is_informational(names[b]));
    }
    for (size_t i = 0; i < n; i++) {
        int64_t f = flags[i];
        for (int b = 0; b < RP_MAX_FLAG_BITS && f; b++) {
            if (!(f & ((int64_t)1 << b))) continue;
            if (!slot[b]) {
                char name[RP_NAME_LEN + 8];
                snprintf(name, sizeof name, "%s_bit%d", cut ? "cut" : "fit", b);
                slot[b] = add_reason(r, name, source, 0);
                if (!slot[b]) continue;
            }
            slot[b]->count++;
        }
    }
}

ms_status rp_counts(const rp_catalog *c, rp_results *r)
{
    size_t n = c->n;
    r->is_flagged = ms_calloc("report.flagged", n ? n : 1, 1);
    r->is_clean = ms_calloc("report.clean", n ? n : 1, 1);
    if (!r->is_flagged || !r->is_clean) return MS_ENOMEM;
    r->input = n;
    if (!c->label[RP_TEFF])
        rp_note(r, "counts.fitted: the catalog has no teff column, so no row counts as fitted");
    if (!c->store_status)
        rp_note(r, "store status reasons: the catalog has no store_status column");
    if (!c->fit_flags) rp_note(r, "fit flag reasons: the catalog has no fit_flags column");
    if (!c->cut_flags)
        rp_note(r, "cut flag reasons: the catalog has no cut_flags column (catalog made before "
                   "the Z25 cuts were added)");

    /* store status: one reason per known non-zero status */
    rp_reason *store[MS_ROW_N_STATUS + 1] = {0};
    if (c->store_status) {
        for (int s = 1; s < MS_ROW_N_STATUS; s++) {
            char name[RP_NAME_LEN];
            snprintf(name, sizeof name, "store_%s", ms_row_status_name(s));
            store[s] = add_reason(r, name, "store_status", 0);
        }
        store[MS_ROW_N_STATUS] = add_reason(r, "store_unknown", "store_status", 0);
    }
    if (c->fit_flags) count_bits(r, c->fit_flags, n, (char(*)[RP_NAME_LEN])c->fit_names,
                                 "fit_flags", 0);
    if (c->cut_flags) count_bits(r, c->cut_flags, n, (char(*)[RP_NAME_LEN])c->cut_names,
                                 "cut_flags", 1);

    int64_t info_mask = 0;
    for (int b = 0; b < RP_MAX_FLAG_BITS; b++)
        if (c->fit_names[b][0] && is_informational(c->fit_names[b]))
            info_mask |= (int64_t)1 << b;
    for (size_t i = 0; i < n; i++) {
        int fitted = c->label[RP_TEFF] && isfinite(c->label[RP_TEFF][i]);
        int status = c->store_status ? c->store_status[i] : 0;
        int flagged = status != 0;
        if (status != 0) {
            int k = status > 0 && status < MS_ROW_N_STATUS ? status : MS_ROW_N_STATUS;
            if (store[k]) store[k]->count++;
        }
        if (c->fit_flags && (c->fit_flags[i] & ~info_mask)) flagged = 1;
        if (c->cut_flags && c->cut_flags[i]) flagged = 1;
        r->fitted += (size_t)fitted;
        r->skipped += status != 0;
        r->failed += status == 0 && !fitted;
        r->flagged += (size_t)flagged;
        r->clean += (size_t)(fitted && !flagged);
        r->is_flagged[i] = (uint8_t)flagged;
        r->is_clean[i] = (uint8_t)(fitted && !flagged);
    }
    return MS_OK;
}

/* ------------------------------------------------------------------ comparisons */

ms_status rp_compare(const rp_catalog *c, const char *path, const char *kind, int slot,
                     double radius, rp_results *r)
{
    rp_comparison *out = &r->cmp[slot];
    memset(out, 0, sizeof *out);
    snprintf(out->kind, sizeof out->kind, "%s", kind);
    out->path = path;
    if (!c->ids.routes[0]) {
        rp_note(r, "comparison with the %s %s: the catalog has no obsid, key or ra+dec column "
                "to join on", kind, path);
        return MS_OK;
    }
    const char *cols[RP_N_PARAMS];
    for (int p = 0; p < RP_N_PARAMS; p++) cols[p] = rp_params[p].name;
    size_t n = c->n;
    ms_table t;
    memset(&t, 0, sizeof t);
    long *row = ms_malloc_array("report.match", n ? n : 1, sizeof *row);
    double *work = ms_malloc_array("report.work", n ? n : 1, sizeof *work);
    ms_status st = (!row || !work) ? MS_ENOMEM : MS_OK;
    ms_join_stats js;
    if (st == MS_OK) st = ms_table_join("report", path, &c->ids, radius, row, &js);
    if (st == MS_OK) st = ms_table_read(path, NULL, cols, RP_N_PARAMS, &t);
    /* a table with truth classes (a mixed mock): the labels are judged on its M dwarfs */
    rp_truth_classes tc;
    memset(&tc, 0, sizeof tc);
    if (st == MS_OK) st = rp_truth_classes_read(path, row, n, &tc);
    if (st == MS_OK && tc.have)
        rp_note(r, "%s: labels judged on the table's M dwarfs only (%zu of %zu rows with a "
                "class; the table has %s)", slot == 0 ? "recovery" : "recovery_reference",
                tc.n_dwarf, tc.matched, tc.source);
    if (st == MS_OK) {
        out->have = 1;
        snprintf(out->format, sizeof out->format, "%s", t.format);
        out->table_rows = t.n_rows;
        out->duplicates = js.duplicates;
        out->matched = js.matched;
    }
    for (int p = 0; st == MS_OK && p < RP_N_PARAMS; p++) {
        rp_cmp *x = &out->p[p];
        if (!t.present[p] || !c->label[p]) {
            rp_note(r, "%s.%s: %s", slot == 0 ? "recovery" : "recovery_reference",
                    rp_params[p].name,
                    !t.present[p] ? "the table has no such column" : "the catalog has no such column");
            continue;
        }
        double *ref = ms_malloc_array("report.ref", n ? n : 1, sizeof *ref);
        if (!ref) {
            st = MS_ENOMEM;
            break;
        }
        out->ref[p] = ref;
        const double *tv = ms_table_column(&t, (size_t)p);
        for (size_t i = 0; i < n; i++) ref[i] = row[i] >= 0 ? tv[row[i]] : NAN;
        rp_truth_classes_keep_dwarfs(&tc, n, ref);
        x->have_column = 1;
        ms_stats_compare(c->label[p], ref, NULL, n, work, &x->all);
        ms_stats_compare(c->label[p], ref, r->is_clean, n, work, &x->clean);
        if (c->snr_r)
            ms_stats_compare_binned(c->label[p], ref, NULL, c->snr_r, n, rp_snr_edges,
                                    RP_N_SNR_BINS, work, x->bins);
    }
    if (st == MS_OK && !c->snr_r)
        rp_note(r, "%s by S/N: the catalog has no snr_r column",
                slot == 0 ? "recovery" : "recovery_reference");
    if (st == MS_OK && slot == 0 && tc.have) {
        r->truth_classes = tc; /* the overview's classification section */
        memset(&tc, 0, sizeof tc);
    }
    rp_truth_classes_free(&tc);
    ms_free(row);
    ms_free(work);
    ms_table_free(&t);
    return st;
}

/* ------------------------------------------------------------------ residuals */

ms_status rp_residuals(const rp_catalog *c, rp_results *r)
{
    r->resid_with = r->resid_without = NAN;
    memset(&r->resid_with_s, 0, sizeof r->resid_with_s);
    memset(&r->resid_without_s, 0, sizeof r->resid_without_s);
    if (!c->resid) {
        rp_note(r, "residual_over_sigma: the catalog has no resid_sigma column (made before "
                   "it was added)");
        return MS_OK;
    }
    double *work = ms_malloc_array("report.work", c->n ? c->n : 1, sizeof *work);
    if (!work) return MS_ENOMEM;
    if (c->csn_run) {
        ms_stats_summarize(c->resid, c->n, work, &r->resid_with_s);
        r->resid_with = r->resid_with_s.mean;
        if (c->resid_emu) {
            ms_stats_summarize(c->resid_emu, c->n, work, &r->resid_without_s);
            r->resid_without = r->resid_without_s.mean;
        } else {
            rp_note(r, "residual_over_sigma.without_csn: a --csn run without resid_sigma_emu");
        }
    } else {
        ms_stats_summarize(c->resid, c->n, work, &r->resid_without_s);
        r->resid_without = r->resid_without_s.mean;
        rp_note(r, "residual_over_sigma.with_csn: the catalog was fitted without --csn "
                   "(emulator only)");
    }
    ms_free(work);
    return MS_OK;
}

/* ------------------------------------------------------------------ emulator */

/* Where the catalog's emulator may be: as recorded, relative to the catalog's folder (a
 * relative record), and its file name in the catalog's folder. cand[*n]. */
static void emulator_candidates(const rp_catalog *c, char cand[3][4096], int *n)
{
    *n = 0;
    if (!c->emulator[0]) return;
    snprintf(cand[(*n)++], 4096, "%s", c->emulator);
    char dir_buf[4096], base_buf[4096];
    snprintf(dir_buf, sizeof dir_buf, "%s", c->path);
    snprintf(base_buf, sizeof base_buf, "%s", c->emulator);
    const char *dir = dirname(dir_buf), *base = basename(base_buf);
    if (c->emulator[0] != '/')
        snprintf(cand[(*n)++], 4096, "%.2000s/%.2000s", dir, c->emulator);
    snprintf(cand[(*n)++], 4096, "%.2000s/%.2000s", dir, base);
}

static ms_status read_validation(ms_h5 *f, const char *path, rp_results *r, int *ok)
{
    *ok = 0;
    if (!ms_h5_exists(f, "/validation/accuracy") || !ms_h5_exists(f, "/validation/labels") ||
        !ms_h5_exists(f, "/labels/names")) {
        rp_note(r, "emulator accuracy (Fig. 3): %s has no /validation/accuracy, "
                   "/validation/labels and /labels/names", path);
        return MS_OK;
    }
    int rank = 0;
    size_t dims[2] = {0, 0}, ndims[2] = {0, 0}, adims[2] = {0, 0};
    MS_TRY(ms_h5_dims(f, "/validation/labels", &rank, dims));
    if (rank != 2) MS_ERROR(MS_EFORMAT, "%s: /validation/labels is not 2-D", path);
    MS_TRY(ms_h5_dims(f, "/validation/accuracy", &rank, adims));
    MS_TRY(ms_h5_dims(f, "/labels/names", &rank, ndims));
    if (adims[0] != dims[0] || ndims[0] != dims[1] || dims[1] == 0 || dims[1] > 8)
        MS_ERROR(MS_EFORMAT, "%s: /validation/labels [%zu, %zu], /validation/accuracy [%zu] "
                 "and /labels/names [%zu] do not agree", path, dims[0], dims[1], adims[0],
                 ndims[0]);
    ms_h5_type type;
    size_t len = 0;
    MS_TRY(ms_h5_dset_type(f, "/labels/names", &type, &len));
    if (type != MS_H5_STR || len == 0 || len > 1024)
        MS_ERROR(MS_EFORMAT, "%s: /labels/names is not a string dataset", path);
    char *names = ms_malloc_array("report.emu.names", dims[1], len);
    if (!names) return MS_ENOMEM;
    ms_status st = ms_h5_read_rows(f, "/labels/names", MS_H5_STR, len, 0, dims[1], names);
    for (size_t d = 0; st == MS_OK && d < dims[1]; d++)
        snprintf(r->emu_names[d], sizeof r->emu_names[d], "%.*s", (int)len, names + d * len);
    ms_free(names);
    MS_TRY(st);
    r->emu_n = dims[0];
    r->emu_d = dims[1];
    r->emu_labels = ms_malloc_array("report.emu.labels", dims[0] * dims[1] + 1, sizeof(double));
    r->emu_accuracy = ms_malloc_array("report.emu.acc", dims[0] + 1, sizeof(double));
    if (!r->emu_labels || !r->emu_accuracy) return MS_ENOMEM;
    if (dims[0]) {
        MS_TRY(ms_h5_read_rows(f, "/validation/labels", MS_H5_F64, 0, 0, dims[0], r->emu_labels));
        MS_TRY(ms_h5_read_rows(f, "/validation/accuracy", MS_H5_F64, 0, 0, dims[0],
                               r->emu_accuracy));
    }
    *ok = 1;
    return MS_OK;
}

ms_status rp_emulator(const rp_catalog *c, const char *emulator_opt, rp_results *r)
{
    memset(&r->emu_s, 0, sizeof r->emu_s);
    r->emu_s.median = r->emu_s.max = r->emu_s.mean = NAN;
    ms_h5 *f = NULL;
    if (emulator_opt) {
        MS_TRY(ms_h5_open_read(emulator_opt, 0, &f)); /* asked for: its failure is an error */
        snprintf(r->emulator_path, sizeof r->emulator_path, "%s", emulator_opt);
    } else {
        char cand[3][4096];
        int nc = 0;
        emulator_candidates(c, cand, &nc);
        if (nc == 0) {
            rp_note(r, "emulator accuracy (Fig. 3): the catalog records no emulator file");
            return MS_OK;
        }
        char first_error[RP_NOTE_LEN] = "";
        for (int k = 0; k < nc && !f; k++) {
            if (access(cand[k], R_OK) != 0) continue;
            if (ms_h5_open_read(cand[k], 0, &f) == MS_OK) {
                snprintf(r->emulator_path, sizeof r->emulator_path, "%.4000s", cand[k]);
            } else {
                if (!first_error[0]) snprintf(first_error, sizeof first_error, "%s", ms_error_message());
                ms_error_clear();
                f = NULL;
            }
        }
        if (!f) {
            rp_note(r, "emulator accuracy (Fig. 3): the catalog's emulator %s is not readable%s%s "
                       "(give it with --emulator)", c->emulator, first_error[0] ? ": " : "",
                    first_error);
            return MS_OK;
        }
    }
    int ok = 0;
    ms_status st = read_validation(f, r->emulator_path, r, &ok);
    ms_status cs = ms_h5_close(f);
    MS_TRY(st);
    MS_TRY(cs);
    if (!ok) return MS_OK;
    double *work = ms_malloc_array("report.work", r->emu_n + 1, sizeof *work);
    if (!work) return MS_ENOMEM;
    ms_stats_summarize(r->emu_accuracy, r->emu_n, work, &r->emu_s);
    ms_free(work);
    if (r->emu_s.n == 0) rp_note(r, "emulator accuracy: %s has no validation model",
                                 r->emulator_path);
    return MS_OK;
}

/* ------------------------------------------------------------------ SpT */

double rp_subclass_number(const char *s)
{
    if (!s) return NAN;
    while (*s == ' ') s++;
    if (*s == 'd' || *s == 's' || *s == 'g') s++; /* dwarf / subdwarf / giant prefixes */
    char cls = (char)toupper((unsigned char)*s);
    if (cls != 'M' && cls != 'K') return NAN;
    s++;
    if (!isdigit((unsigned char)*s)) return NAN;
    char *end;
    double v = strtod(s, &end);
    if (cls == 'M') return v <= 9.5 ? v : NAN;
    /* K5 -> -2, K7 -> -1 (Z25: -2 = K5, -1 = K7); K5-K7 in between, earlier K left out */
    return v >= 5 && v <= 7 ? -2 + (v - 5) / 2 : NAN;
}

ms_status rp_spt(const rp_catalog *c, rp_results *r)
{
    memset(&r->spt_diff, 0, sizeof r->spt_diff);
    r->spt_agree1 = NAN;
    if (!c->spt) {
        rp_note(r, "SpT vs subclass (Fig. 13): the catalog has no spt column");
        return MS_OK;
    }
    size_t n = c->n;
    r->subclass_num = ms_malloc_array("report.subclass", n ? n : 1, sizeof(double));
    double *spt = ms_malloc_array("report.spt", n ? n : 1, sizeof(double));
    double *work = ms_malloc_array("report.work", n ? n : 1, sizeof(double));
    if (!r->subclass_num || !spt || !work) {
        ms_free(spt);
        ms_free(work);
        return MS_ENOMEM;
    }
    size_t agree = 0;
    for (size_t i = 0; i < n; i++) {
        spt[i] = isfinite(c->spt[i]) && c->spt[i] > -9000 ? c->spt[i] : NAN;
        r->subclass_num[i] = c->subclass ? rp_subclass_number(c->subclass[i]) : NAN;
        r->spt_n += isfinite(spt[i]);
        if (isfinite(spt[i]) && isfinite(r->subclass_num[i])) {
            r->spt_n_subclass++;
            agree += fabs(spt[i] - r->subclass_num[i]) <= 1.0;
        }
    }
    ms_stats_compare(spt, r->subclass_num, NULL, n, work, &r->spt_diff);
    if (r->spt_n_subclass) r->spt_agree1 = (double)agree / (double)r->spt_n_subclass;
    if (!c->subclass) rp_note(r, "SpT vs subclass: the catalog has no subclass column");
    ms_free(spt);
    ms_free(work);
    return MS_OK;
}
