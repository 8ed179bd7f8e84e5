/* report_classes.c: the classification in `mstars report` (issues 22 and 24).
 *
 *   - rp_truth_classes_read: the truth classes of a table that has them (a mixed mock's
 *     truth.csv: spt_class, is_wd, lum_class, else kind), per catalog row. The label
 *     comparisons (rp_compare, rp_methods) then judge labels on the table's M dwarfs only:
 *     every label method of mstars models M dwarfs, and an A star's Teff says nothing of them.
 *   - rp_classes: the classification of a catalog that has one (fit --methods class,lum,...
 *     or a classify / lumclass catalog) against those classes: the route of each row (dwarf,
 *     giant, white dwarf, non-M, unclassified, by the rule of fit --methods, README
 *     "Classification inside fit --methods") against the true group, the M-dwarf selection's
 *     completeness and purity, CNN-SPT's 8-class confusion, CNN-WDM and CNN-dMgM on the rows
 *     they are meant for, with Wilson 95% intervals; and how many rows each method ran on
 *     (methods_skipped), checked against skip_reason.
 * Markdown and JSON writers for the overview. */
#include "report_internal.h"

#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/table.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define WILSON_Z 1.959964 /* 95% */

const char *const rp_group_names[RP_N_GROUPS] = {"M dwarf", "M giant", "white dwarf", "non-M"};
const char *const rp_route_names[RP_N_ROUTES] = {"dwarf", "giant", "white dwarf", "non-M",
                                                 "unclassified"};
const char *const rp_spt_names[RP_N_SPT] = {"OB", "A", "F", "G", "K", "M", "GALAXY", "QSO"};

static int spt_index(const char *s)
{
    for (int k = 0; k < RP_N_SPT; k++)
        if (strcasecmp(s, rp_spt_names[k]) == 0) return k;
    return -1;
}

void rp_truth_classes_free(rp_truth_classes *t)
{
    ms_free(t->group);
    memset(t, 0, sizeof *t);
}

ms_status rp_truth_classes_read(const char *path, const long *row, size_t n, rp_truth_classes *t)
{
    memset(t, 0, sizeof *t);
    static const char *const names[4] = {"spt_class", "is_wd", "lum_class", "kind"};
    ms_strlist col[4];
    int present[4] = {0};
    size_t n_rows = 0;
    memset(col, 0, sizeof col);
    MS_TRY(ms_table_read_text(path, names, 4, col, present, &n_rows));
    const int by_spt = present[0], by_kind = !present[0] && present[3];
    ms_status st = MS_OK;
    if (by_spt || by_kind) {
        t->group = ms_malloc_array("report.truth_classes", 4 * (n + 1), sizeof(int8_t));
        if (!t->group) st = MS_ENOMEM;
    }
    if (st == MS_OK && t->group) {
        t->have = 1;
        t->spt = t->group + (n + 1);
        t->wd = t->spt + (n + 1);
        t->giant = t->wd + (n + 1);
        snprintf(t->source, sizeof t->source, "%s", by_spt ? "spt_class, is_wd, lum_class" : "kind");
        for (size_t i = 0; i < n; i++) {
            t->group[i] = t->spt[i] = t->wd[i] = t->giant[i] = -1;
            const long k = row[i];
            if (k < 0 || (size_t)k >= n_rows) continue;
            if (by_spt) {
                const int spt = spt_index(col[0].items[k]);
                const int wd = present[1] ? strcmp(col[1].items[k], "1") == 0 : 0;
                const char *lum = present[2] ? col[2].items[k] : "";
                t->spt[i] = (int8_t)spt;
                t->wd[i] = (int8_t)wd;
                t->giant[i] = strcmp(lum, "giant") == 0 ? 1 : strcmp(lum, "dwarf") == 0 ? 0 : -1;
                if (spt < 0 && !wd) continue;
                t->group[i] = wd ? RP_GROUP_WD : spt != 5 ? RP_GROUP_OTHER
                              : t->giant[i] == 1      ? RP_GROUP_GIANT
                                                      : RP_GROUP_DWARF;
            } else {
                const char *kd = col[3].items[k];
                if (!kd[0]) continue;
                t->group[i] = strcmp(kd, "mdwarf") == 0   ? RP_GROUP_DWARF
                              : strcmp(kd, "mgiant") == 0 ? RP_GROUP_GIANT
                              : strcmp(kd, "wd") == 0     ? RP_GROUP_WD
                                                          : RP_GROUP_OTHER;
            }
            t->matched++;
            t->n_dwarf += t->group[i] == RP_GROUP_DWARF;
        }
    }
    for (int c = 0; c < 4; c++)
        if (present[c]) ms_strlist_free(&col[c]);
    if (st != MS_OK) rp_truth_classes_free(t);
    return st;
}

void rp_truth_classes_keep_dwarfs(const rp_truth_classes *t, size_t n, double *ref)
{
    if (!t->have || !ref) return;
    for (size_t i = 0; i < n; i++)
        if (t->group[i] != RP_GROUP_DWARF) ref[i] = NAN;
}

static void prop(rp_prop *p, size_t k, size_t n)
{
    p->k = k;
    p->n = n;
    ms_stats_wilson(k, n, WILSON_Z, &p->lo, &p->hi);
}

/* The route of fit --methods (README "Classification inside fit --methods"): no view ->
 * unclassified; CNN-SPT not M -> non-M; CNN-WDM white dwarf -> white dwarf; then
 * luminosity_class giant / dwarf; without a verdict CNN-dMgM's giant flag; else dwarf. */
static int route_of(const double *flags, const double *lum, size_t i)
{
    const unsigned f = flags && isfinite(flags[i]) ? (unsigned)flags[i] : 0u;
    if (f & 1u) return RP_ROUTE_UNCLASSIFIED;
    if (f & 4u) return RP_ROUTE_NONM;
    if (f & 8u) return RP_ROUTE_WD;
    const int l = lum && isfinite(lum[i]) ? (int)lum[i] : 0;
    if (l == 2) return RP_ROUTE_GIANT;
    if (l == 1) return RP_ROUTE_DWARF;
    return (f & 16u) ? RP_ROUTE_GIANT : RP_ROUTE_DWARF;
}

static int route_name_index(const char *s)
{
    for (int k = 0; k < RP_N_ROUTES; k++)
        if (strcmp(s, rp_route_names[k]) == 0) return k;
    return -1;
}

void rp_class_stats_free(rp_class_stats *cs)
{
    memset(cs, 0, sizeof *cs);
}

ms_status rp_classes(ms_h5 *f, size_t n, const rp_truth_classes *t, rp_class_stats *cs)
{
    memset(cs, 0, sizeof *cs);
    double *code = NULL, *flags = NULL, *wd = NULL, *dmgm = NULL, *lum = NULL, *skipped = NULL;
    char **reason = NULL, *list = NULL;
    ms_status st = rp_read_opt(f, "class_code", n, &code);
    if (st == MS_OK) st = rp_read_opt(f, "class_flags", n, &flags);
    if (st == MS_OK) st = rp_read_opt(f, "wd_prob", n, &wd);
    if (st == MS_OK) st = rp_read_opt(f, "dmgm_prob", n, &dmgm);
    if (st == MS_OK) st = rp_read_opt(f, "lum_code", n, &lum);
    if (st == MS_OK) st = rp_read_opt(f, "methods_skipped", n, &skipped);
    if (st == MS_OK && ms_h5_exists(f, MS_CATALOG_GROUP "/skip_reason"))
        st = ms_h5_read_strings(f, MS_CATALOG_GROUP "/skip_reason", n, &reason);
    if (st != MS_OK) goto done;
    cs->have = flags != NULL || lum != NULL;
    if (!cs->have) goto done;
    cs->have_truth = t && t->have;
    /* the methods and the rows each ran on */
    if (skipped && ms_h5_attr_get_str(f, "/", "methods", &list) == MS_OK) {
        for (char *tok = strtok(list, ","); tok && cs->n_methods < RP_MAX_METHODS;
             tok = strtok(NULL, ",")) {
            rp_method_route *m = &cs->method[cs->n_methods];
            snprintf(m->name, sizeof m->name, "%s", tok);
            const int g = (int)cs->n_methods++;
            for (size_t i = 0; i < n; i++) {
                const int ran = !(((uint64_t)skipped[i] >> g) & 1u);
                m->ran += (size_t)ran;
                if (cs->have_truth && t->group[i] >= 0) {
                    m->judged_ran[t->group[i]] += (size_t)ran;
                }
            }
        }
    } else
        ms_error_clear();
    /* the route of every row, checked against skip_reason where a method was skipped */
    for (size_t i = 0; i < n; i++) {
        const int r = route_of(flags, lum, i);
        cs->routed[r]++;
        if (reason && reason[i][0]) {
            const int k = route_name_index(reason[i]);
            if (k != r) cs->reason_mismatch++;
        }
        if (!cs->have_truth || t->group[i] < 0) continue;
        const int g = t->group[i];
        cs->judged++;
        cs->confusion[g][r]++;
        /* CNN-SPT on the rows it classified */
        if (code && isfinite(code[i]) && code[i] >= 0 && t->spt[i] >= 0) {
            cs->spt_confusion[t->spt[i]][(int)code[i]]++;
            cs->spt_n++;
            cs->spt_k += t->spt[i] == (int)code[i];
        }
        /* CNN-WDM on M stars and white dwarfs; CNN-dMgM on M dwarfs and giants */
        if (wd && isfinite(wd[i]) && (g == RP_GROUP_WD || g == RP_GROUP_DWARF || g == RP_GROUP_GIANT)) {
            cs->wdm_n++;
            cs->wdm_k += (wd[i] > 0.5) == (g == RP_GROUP_WD);
        }
        if (dmgm && isfinite(dmgm[i]) && (g == RP_GROUP_DWARF || g == RP_GROUP_GIANT)) {
            cs->dmgm_n++;
            cs->dmgm_k += (dmgm[i] > 0.5) == (g == RP_GROUP_GIANT);
        }
    }
    cs->have_spt = code != NULL;
    cs->have_wdm = wd != NULL;
    cs->have_dmgm = dmgm != NULL;
    if (cs->have_truth) {
        size_t right = 0, true_dwarf = 0, routed_dwarf = 0;
        for (int g = 0; g < RP_N_GROUPS; g++) {
            right += cs->confusion[g][g]; /* group g and route g name the same class */
            routed_dwarf += cs->confusion[g][RP_ROUTE_DWARF];
        }
        for (int r = 0; r < RP_N_ROUTES; r++) true_dwarf += cs->confusion[RP_GROUP_DWARF][r];
        prop(&cs->route_acc, right, cs->judged);
        prop(&cs->completeness, cs->confusion[RP_GROUP_DWARF][RP_ROUTE_DWARF], true_dwarf);
        prop(&cs->purity, cs->confusion[RP_GROUP_DWARF][RP_ROUTE_DWARF], routed_dwarf);
        prop(&cs->spt_acc, cs->spt_k, cs->spt_n);
        prop(&cs->wdm_acc, cs->wdm_k, cs->wdm_n);
        prop(&cs->dmgm_acc, cs->dmgm_k, cs->dmgm_n);
    }
done:
    ms_free(code);
    ms_free(flags);
    ms_free(wd);
    ms_free(dmgm);
    ms_free(lum);
    ms_free(skipped);
    ms_free(reason);
    ms_free(list);
    return st;
}

static void md_prop(FILE *md, const rp_prop *p)
{
    if (!p->n)
        fprintf(md, "-");
    else
        fprintf(md, "%zu/%zu = %.1f%% (95%%: %.1f-%.1f%%)", p->k, p->n,
                100.0 * (double)p->k / (double)p->n, 100.0 * p->lo, 100.0 * p->hi);
}

void rp_classes_md(FILE *md, const rp_class_stats *cs, const rp_truth_classes *t)
{
    fprintf(md, "### Classification and routing\n\n");
    fprintf(md, "The route of each row (fit --methods: CNN-SPT, CNN-WDM, then `luminosity_class`, "
                "then CNN-dMgM) decides which methods run on it (`run.dwarfs_only`, "
                "`run.giants_only`; `skip_reason`).\n\n");
    fprintf(md, "| route | rows |\n|---|---|\n");
    for (int r = 0; r < RP_N_ROUTES; r++) fprintf(md, "| %s | %zu |\n", rp_route_names[r], cs->routed[r]);
    if (cs->n_methods) {
        fprintf(md, "\n| method | rows it ran on |%s\n|---|---|%s\n",
                cs->have_truth ? " judged rows it ran on: M dwarf / M giant / white dwarf / non-M |" : "",
                cs->have_truth ? "---|" : "");
        for (size_t k = 0; k < cs->n_methods; k++) {
            const rp_method_route *m = &cs->method[k];
            fprintf(md, "| %s | %zu |", m->name, m->ran);
            if (cs->have_truth)
                fprintf(md, " %zu / %zu / %zu / %zu |", m->judged_ran[0], m->judged_ran[1],
                        m->judged_ran[2], m->judged_ran[3]);
            fprintf(md, "\n");
        }
    }
    if (cs->reason_mismatch)
        fprintf(md, "\n**%zu rows' `skip_reason` differs from the route recomputed from the "
                    "class columns.**\n", cs->reason_mismatch);
    if (!cs->have_truth) {
        fprintf(md, "\n(the table has no truth classes: spt_class, is_wd, lum_class or kind)\n\n");
        return;
    }
    fprintf(md, "\nAgainst the truth classes of the table (%s), %zu judged rows:\n\n", t->source,
            cs->judged);
    fprintf(md, "| true \\ route |");
    for (int r = 0; r < RP_N_ROUTES; r++) fprintf(md, " %s |", rp_route_names[r]);
    fprintf(md, "\n|---|");
    for (int r = 0; r < RP_N_ROUTES; r++) fprintf(md, "---|");
    fprintf(md, "\n");
    for (int g = 0; g < RP_N_GROUPS; g++) {
        fprintf(md, "| %s |", rp_group_names[g]);
        for (int r = 0; r < RP_N_ROUTES; r++) fprintf(md, " %zu |", cs->confusion[g][r]);
        fprintf(md, "\n");
    }
    fprintf(md, "\n- route right (M dwarf, M giant, white dwarf, non-M): ");
    md_prop(md, &cs->route_acc);
    fprintf(md, "\n- M dwarfs routed to the M-dwarf methods (completeness): ");
    md_prop(md, &cs->completeness);
    fprintf(md, "\n- rows routed as M dwarfs that are M dwarfs (purity): ");
    md_prop(md, &cs->purity);
    if (cs->have_spt) {
        fprintf(md, "\n- CNN-SPT, 8 classes: ");
        md_prop(md, &cs->spt_acc);
    }
    if (cs->have_wdm) {
        fprintf(md, "\n- CNN-WDM on the M stars and white dwarfs (white dwarf: wd_prob > 0.5): ");
        md_prop(md, &cs->wdm_acc);
    }
    if (cs->have_dmgm) {
        fprintf(md, "\n- CNN-dMgM on the M dwarfs and giants (giant: dmgm_prob > 0.5): ");
        md_prop(md, &cs->dmgm_acc);
    }
    fprintf(md, "\n\n");
    if (cs->have_spt && cs->spt_n) {
        fprintf(md, "CNN-SPT (rows: truth `spt_class`; a white dwarf is the class of its Teff):\n\n"
                    "| true \\ CNN-SPT |");
        for (int k = 0; k < RP_N_SPT; k++) fprintf(md, " %s |", rp_spt_names[k]);
        fprintf(md, "\n|---|");
        for (int k = 0; k < RP_N_SPT; k++) fprintf(md, "---|");
        fprintf(md, "\n");
        for (int a = 0; a < RP_N_SPT; a++) {
            size_t row = 0;
            for (int b = 0; b < RP_N_SPT; b++) row += cs->spt_confusion[a][b];
            if (!row) continue;
            fprintf(md, "| %s |", rp_spt_names[a]);
            for (int b = 0; b < RP_N_SPT; b++) fprintf(md, " %zu |", cs->spt_confusion[a][b]);
            fprintf(md, "\n");
        }
        fprintf(md, "\n");
    }
    fprintf(md, "The labels above are judged on the table's M dwarfs only (%zu of its %zu "
                "matched rows).\n\n", t->n_dwarf, t->matched);
}

static void json_prop(ms_json *j, const char *key, const rp_prop *p)
{
    ms_json_begin_object(j, key);
    ms_json_int(j, "k", (int64_t)p->k);
    ms_json_int(j, "n", (int64_t)p->n);
    ms_json_number(j, "fraction", p->n ? (double)p->k / (double)p->n : NAN);
    ms_json_number(j, "wilson95_lo", p->lo);
    ms_json_number(j, "wilson95_hi", p->hi);
    ms_json_end_object(j);
}

void rp_classes_json(ms_json *j, const rp_class_stats *cs)
{
    ms_json_begin_object(j, "classification");
    ms_json_begin_object(j, "routed");
    for (int r = 0; r < RP_N_ROUTES; r++) ms_json_int(j, rp_route_names[r], (int64_t)cs->routed[r]);
    ms_json_end_object(j);
    ms_json_begin_object(j, "methods");
    for (size_t k = 0; k < cs->n_methods; k++) {
        const rp_method_route *m = &cs->method[k];
        ms_json_begin_object(j, m->name);
        ms_json_int(j, "ran", (int64_t)m->ran);
        if (cs->have_truth) {
            ms_json_begin_object(j, "judged_ran");
            for (int g = 0; g < RP_N_GROUPS; g++)
                ms_json_int(j, rp_group_names[g], (int64_t)m->judged_ran[g]);
            ms_json_end_object(j);
        }
        ms_json_end_object(j);
    }
    ms_json_end_object(j);
    ms_json_int(j, "skip_reason_mismatch", (int64_t)cs->reason_mismatch);
    ms_json_int(j, "judged", (int64_t)cs->judged);
    if (cs->have_truth) {
        json_prop(j, "route_accuracy", &cs->route_acc);
        json_prop(j, "mdwarf_completeness", &cs->completeness);
        json_prop(j, "mdwarf_purity", &cs->purity);
        if (cs->have_spt) json_prop(j, "spt_accuracy", &cs->spt_acc);
        if (cs->have_wdm) json_prop(j, "wdm_accuracy", &cs->wdm_acc);
        if (cs->have_dmgm) json_prop(j, "dmgm_accuracy", &cs->dmgm_acc);
        ms_json_begin_object(j, "confusion_route");
        for (int g = 0; g < RP_N_GROUPS; g++) {
            ms_json_begin_array(j, rp_group_names[g]);
            for (int r = 0; r < RP_N_ROUTES; r++) ms_json_int(j, NULL, (int64_t)cs->confusion[g][r]);
            ms_json_end_array(j);
        }
        ms_json_end_object(j);
        if (cs->have_spt) {
            ms_json_begin_object(j, "confusion_spt");
            for (int a = 0; a < RP_N_SPT; a++) {
                ms_json_begin_array(j, rp_spt_names[a]);
                for (int b = 0; b < RP_N_SPT; b++) ms_json_int(j, NULL, (int64_t)cs->spt_confusion[a][b]);
                ms_json_end_array(j);
            }
            ms_json_end_object(j);
        }
    }
    ms_json_end_object(j);
}
