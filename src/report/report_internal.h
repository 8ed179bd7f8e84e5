/* report_internal.h: the parts of `mstars report` (private to src/report).
 *
 *   report_catalog.c   reads the catalog (columns that exist, attributes, repeat fits)
 *   report_numbers.c   counts, comparisons with truth/reference, residuals, SpT, emulator
 *   report_figures.c   the PNG figures (through plot.h)
 *   report_write.c     summary.json and summary.md
 *   report_methods.c   a combined catalog: methods against each other and the reference
 *   report.c           ms_report_write: the order of the steps
 */
#ifndef MSTARS_REPORT_INTERNAL_H
#define MSTARS_REPORT_INTERNAL_H

#include "mstars/h5.h"
#include "mstars/join_io.h"
#include "mstars/json.h"
#include "mstars/report.h"
#include "mstars/schema.h"
#include "mstars/stats.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The compared parameters, in the order of summary.json. */
enum { RP_TEFF, RP_LOGG, RP_MH, RP_ALPHA, RP_RV, RP_N_PARAMS };

typedef struct {
    const char *name;  /* catalog / table column and JSON key */
    const char *plot;  /* PLplot label with escapes, unit included */
    const char *symbol; /* PLplot name without the unit */
    const char *text;  /* Markdown label */
    const char *unit;
    int digits;        /* decimals for the page */
} rp_param;

extern const rp_param rp_params[RP_N_PARAMS];

#define RP_N_SNR_BINS 4
extern const double rp_snr_edges[RP_N_SNR_BINS + 1]; /* 5, 10, 20, 50, inf */

#define RP_MAX_FLAG_BITS 32
#define RP_NAME_LEN 48

/* Err_repeat = a / (S/N) + b of one parameter (attributes on /catalog/e_<p>_repeat). */
typedef struct {
    int have;
    double a, b, n_stars;
    size_t n_bins;
    double *bin_min, *bin_max, *bin_n, *bin_scatter; /* [n_bins], one allocation */
    double *bin_inv_snr; /* [n_bins] RMS 1/(S/N) of a bin (the abscissa), NULL if absent */
    char why[200]; /* when !have: what is missing */
} rp_repeat;

typedef struct {
    const char *path;
    size_t n;
    /* strings: n entries of str_len + 1 bytes (NUL-terminated) */
    char **obsid;           /* NULL when the column is absent */
    ms_join_ids ids;        /* obsid, key, ra, dec for joins (join_io.h); ids.side.n = 0: none */
    char **subclass;
    double *label[RP_N_PARAMS]; /* NULL when absent */
    double *snr_r, *gmag, *bpmag, *rpmag, *plx, *spt, *resid, *resid_emu;
    int32_t *store_status;
    int64_t *fit_flags, *cut_flags; /* bits (NULL when absent) */
    char fit_names[RP_MAX_FLAG_BITS][RP_NAME_LEN]; /* "" for unnamed bits */
    char cut_names[RP_MAX_FLAG_BITS][RP_NAME_LEN];
    /* root attributes ("" when absent) */
    char emulator[4096], domain_adaptation[512], version[64], git_revision[64], created[64];
    /* issue 17: the fit's warnings (grid quality gate, catalog sanity; "" when absent) */
    char grid_quality[512], sanity[1024], error_model[256];
    int grid_quality_fail, sanity_fail; /* 1 when the catalog records a failure */
    int csn_run; /* domain adaptation recorded, or resid_sigma_emu present */
    char calibrated[64]; /* the parameters read from <p>_cal (--calibrated), comma-separated */
    rp_repeat repeat[RP_N_PARAMS];
} rp_catalog;

/* calibrated: read <p>_cal for <p> where the catalog has it (report --calibrated). */
ms_status rp_catalog_read(const char *path, int calibrated, rp_catalog *c);
void rp_catalog_free(rp_catalog *c);

/* ------------------------------------------------------------------ classes */

/* The true groups of a table with classes and the routes of fit --methods (report_classes.c). */
enum { RP_GROUP_DWARF, RP_GROUP_GIANT, RP_GROUP_WD, RP_GROUP_OTHER, RP_N_GROUPS };
enum { RP_ROUTE_DWARF, RP_ROUTE_GIANT, RP_ROUTE_WD, RP_ROUTE_NONM, RP_ROUTE_UNCLASSIFIED,
       RP_N_ROUTES };
#define RP_N_SPT 8
extern const char *const rp_group_names[RP_N_GROUPS];
extern const char *const rp_route_names[RP_N_ROUTES];
extern const char *const rp_spt_names[RP_N_SPT];

/* The truth classes of a comparison table, per catalog row (-1: unmatched or unknown). */
typedef struct {
    int have;          /* the table has spt_class (with is_wd, lum_class) or kind */
    char source[48];   /* the columns used */
    int8_t *group;     /* [n] RP_GROUP_* (one allocation with the three below) */
    int8_t *spt;       /* [n] spt_class index (rp_spt_names) */
    int8_t *wd;        /* [n] is_wd */
    int8_t *giant;     /* [n] lum_class: 1 giant, 0 dwarf */
    size_t matched, n_dwarf; /* catalog rows with a class; of them M dwarfs */
} rp_truth_classes;

/* The classes of the table at path for the catalog rows joined to table rows row[n] (-1:
 * none). t->have = 0 (no error) when the table has no class columns. */
ms_status rp_truth_classes_read(const char *path, const long *row, size_t n, rp_truth_classes *t);
void rp_truth_classes_free(rp_truth_classes *t);
/* ref[i] = NaN where the table has classes and row i is not a true M dwarf: the labels are
 * judged on the M dwarfs, the rows every label method of mstars is meant for. */
void rp_truth_classes_keep_dwarfs(const rp_truth_classes *t, size_t n, double *ref);

typedef struct {
    size_t k, n;
    double lo, hi; /* Wilson 95% */
} rp_prop;

#define RP_MAX_METHODS 16
typedef struct {
    char name[24];
    size_t ran;                      /* rows the method ran on (methods_skipped bit clear) */
    size_t judged_ran[RP_N_GROUPS];  /* of them, judged rows of each true group */
} rp_method_route;

typedef struct {
    int have, have_truth, have_spt, have_wdm, have_dmgm;
    size_t routed[RP_N_ROUTES];      /* every row */
    size_t reason_mismatch;          /* skip_reason set and not the recomputed route */
    size_t n_methods;
    rp_method_route method[RP_MAX_METHODS];
    size_t judged;                   /* rows with a true group */
    size_t confusion[RP_N_GROUPS][RP_N_ROUTES];
    size_t spt_confusion[RP_N_SPT][RP_N_SPT], spt_k, spt_n, wdm_k, wdm_n, dmgm_k, dmgm_n;
    rp_prop route_acc, completeness, purity, spt_acc, wdm_acc, dmgm_acc;
} rp_class_stats;

/* The classification of the catalog f (n rows) against t (may be NULL or without classes);
 * cs->have = 0 when the catalog has no class or lum columns. */
ms_status rp_classes(ms_h5 *f, size_t n, const rp_truth_classes *t, rp_class_stats *cs);
void rp_class_stats_free(rp_class_stats *cs);
void rp_classes_md(FILE *md, const rp_class_stats *cs, const rp_truth_classes *t);
void rp_classes_json(ms_json *j, const rp_class_stats *cs);

/* ------------------------------------------------------------------ results */

#define RP_MAX_REASONS 96
#define RP_MAX_NOTES 48
#define RP_MAX_FIGURES 16
#define RP_NOTE_LEN 400

typedef struct {
    char name[RP_NAME_LEN + 8];
    size_t count;
    int informational; /* not counted as "flagged" */
    const char *source; /* "store_status", "fit_flags" or "cut_flags" */
} rp_reason;

typedef struct {
    int have_column;         /* catalog and table both have the parameter */
    ms_stats_summary all;    /* fitted rows matched to the table */
    ms_stats_summary clean;  /* the same, unflagged rows only */
    ms_stats_summary bins[RP_N_SNR_BINS];
} rp_cmp;

/* One comparison table (truth or reference). */
typedef struct {
    int have;
    char kind[16];          /* "truth" or "reference" */
    const char *path;
    char format[8];
    size_t table_rows, duplicates, matched; /* matched: catalog rows with a table row */
    rp_cmp p[RP_N_PARAMS];
    double *ref[RP_N_PARAMS]; /* [n] table values per catalog row (NaN unmatched) */
} rp_comparison;

typedef struct {
    /* counts */
    size_t input, fitted, flagged, failed, skipped, clean;
    size_t n_reasons;
    rp_reason reasons[RP_MAX_REASONS];
    uint8_t *is_flagged; /* [n] */
    uint8_t *is_clean;   /* [n] fitted and not flagged */
    /* comparisons: [0] the primary (truth when given, else reference), [1] the reference
     * when both were given */
    rp_comparison cmp[2];
    rp_truth_classes truth_classes; /* of cmp[0]'s table (have = 0: it has none) */
    /* residuals (Fig. 8) */
    double resid_with, resid_without;          /* means; NaN when unavailable */
    ms_stats_summary resid_with_s, resid_without_s;
    /* emulator (Fig. 3) */
    char emulator_path[4096];
    size_t emu_n, emu_d;
    char emu_names[8][32];
    double *emu_labels;   /* [emu_n, emu_d] */
    double *emu_accuracy; /* [emu_n] */
    ms_stats_summary emu_s;
    /* SpT (Fig. 13) */
    size_t spt_n, spt_n_subclass;
    double spt_agree1;     /* fraction |SpT - subclass| <= 1 */
    ms_stats_summary spt_diff;
    double *subclass_num;  /* [n] LAMOST subclass as a number on the SpT scale */
    /* figures and notes */
    size_t n_figures;
    struct {
        char file[64];
        char key[32];
        char caption[RP_NOTE_LEN];
    } figures[RP_MAX_FIGURES];
    size_t n_notes;
    char notes[RP_MAX_NOTES][RP_NOTE_LEN];
    int summaries_started; /* summary.json / .md are being written (removed on failure) */
} rp_results;

void rp_results_free(rp_results *r);
/* Add a line to the "left out" list of the page (and the JSON "notes"); also logged. */
void rp_note(rp_results *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* report_numbers.c */
ms_status rp_counts(const rp_catalog *c, rp_results *r);
/* Compare with the table at path (kind "truth" or "reference") into r->cmp[slot]. */
ms_status rp_compare(const rp_catalog *c, const char *path, const char *kind, int slot,
                     double radius, rp_results *r);
ms_status rp_residuals(const rp_catalog *c, rp_results *r);
ms_status rp_emulator(const rp_catalog *c, const char *emulator_opt, rp_results *r);
ms_status rp_spt(const rp_catalog *c, rp_results *r);
/* LAMOST subclass text ("M3", "K7", "dM2.5") on the SpT scale (-2 K5, -1 K7, 0..9 M0..M9);
 * NaN for anything else. */
double rp_subclass_number(const char *s);

/* report_figures.c: each returns MS_OK when it drew its figure or left it out with a note;
 * an error only for a failure to write. */
ms_status rp_figures(const rp_catalog *c, const char *out_dir, rp_results *r);

/* report_write.c */
ms_status rp_write_json(const rp_catalog *c, const ms_report_opts *o, const rp_results *r,
                        const char *path);
ms_status rp_write_markdown(const rp_catalog *c, const ms_report_opts *o,
                            const rp_results *r, const char *path);

/* The method-against-method comparison of a combined catalog (report_methods.c): methods.md
 * and methods_<q>.png in out_dir; nothing for a catalog that is not combined. *written receives
 * the number of files written. reference: a table keyed by obsid, or NULL. */
ms_status rp_methods(const char *catalog, const char *reference, double radius,
                     const char *out_dir, int *written);

/* One method's answers in a combined catalog (report_methods.c): value and error columns per
 * quantity of combine.h (the total error where calibrate-errors wrote one), and clean[r] = 1
 * where the method's own flags pass (the schema's answer table). */
typedef struct {
    const ms_method_answers *a;
    double *v[MS_ANSWERS_N], *e[MS_ANSWERS_N]; /* [n] per quantity (teff, logg, m_h, alpha_m, rv); NULL when absent */
    uint8_t *clean;      /* [n] */
} rp_method_cols;
ms_status rp_method_load(ms_h5 *f, const ms_method_answers *a, size_t n, rp_method_cols *m);
void rp_method_free(rp_method_cols *m);
/* /catalog/<name> as doubles [n] into *out (ms_free), or *out = NULL when absent. */
ms_status rp_read_opt(ms_h5 *f, const char *name, size_t n, double **out);

/* The overview that opens summary.md (report_overview.c): every method's recovery against the
 * truth per S/N bin, the Cycle-StarNet effect, the recommended labels against the best single
 * method, the disagreement flag's precision and the warnings. Written to overview.md and
 * overview.json and put at the top of summary.md. */
ms_status rp_overview(const ms_report_opts *o, const rp_catalog *c, rp_results *r);

#endif
