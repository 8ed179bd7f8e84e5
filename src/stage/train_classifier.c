/* train_classifier.c: the driver of `mstars train-classifier` (L25 1.3 Modules 1-2, 1.4;
 * cnn_class.h): rank 0 joins the store's rows to the label table by OBSID, keeps the rows the
 * task learns from (L25: S/N_max >= 5) and makes their views (native, observed frame); every
 * rank gets the set; the classifier trains data-parallel with this job's ms_comm on the CNN
 * engine (bit-identical for any rank count); rank 0 writes the model file and logs the
 * validation accuracy and confusion matrix.
 *
 * The label table (the truth CSVs of the mock universe have these columns): obsid, spt_class
 * (OB, A, F, G, K, M, GALAXY, QSO), is_wd (0/1), lum_class (dwarf, giant or empty).
 *   spt:  rows with an spt_class of the 8 and is_wd != 1;
 *   wdm:  is_wd = 1 -> WD; spt_class M and is_wd = 0 -> M;
 *   dmgm: spt_class M, is_wd != 1, lum_class dwarf -> dM, giant -> gM. */
#include "mstars/cnn_class.h"
#include "mstars/csv.h"
#include "mstars/h5.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/schema.h"
#include "mstars/stage_classify.h"

#include "class_input.h"
#include "cnn_trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SNR_MIN 5.0 /* L25 1.3 Module 1: S/N_max >= 5 */

typedef struct {
    ms_trainer_set b;   /* every rank: n, L, D = C classes, x, y (one-hot [n, C]), rows */
    int32_t *truth;     /* [n] class index */
    double weight[MS_CLASS_MAX];
    const ms_train_classifier_args *a;
    ms_class_task task;
    const ms_config *cfg;
} class_set;

static void set_free(class_set *s)
{
    ms_trainer_set_free(&s->b);
    ms_free(s->truth);
    memset(s, 0, sizeof *s);
}

typedef struct {
    const char *key;
    size_t row;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
    return strcmp(((const keyed *)a)->key, ((const keyed *)b)->key);
}

/* The task's class of label-table row r, -1 when the row is not the task's. */
static int class_of_row(const ms_csv *t, size_t r, long c_spt, long c_wd, long c_lum,
                        const ms_class_task_def *d, ms_class_task task)
{
    const char *spt = c_spt >= 0 ? ms_csv_cell(t, r, (size_t)c_spt) : "";
    const long long wd = c_wd >= 0 ? ms_csv_integer(t, r, (size_t)c_wd, 0) : 0;
    const char *lum = c_lum >= 0 ? ms_csv_cell(t, r, (size_t)c_lum) : "";
    switch (task) {
    case MS_CLASS_SPT:
        return wd == 1 ? -1 : ms_class_index(d, spt);
    case MS_CLASS_WDM:
        if (wd == 1) return ms_class_index(d, "WD");
        return strcasecmp(spt, "M") == 0 ? ms_class_index(d, "M") : -1;
    case MS_CLASS_DMGM:
        if (wd == 1 || strcasecmp(spt, "M") != 0) return -1;
        if (strcasecmp(lum, "dwarf") == 0) return ms_class_index(d, "dM");
        if (strcasecmp(lum, "giant") == 0) return ms_class_index(d, "gM");
        return -1;
    default:
        return -1;
    }
}

/* Rank 0: the training set. */
static ms_status load_set(const ms_train_classifier_args *a, ms_class_task task, class_set *s)
{
    const ms_class_task_def *d = ms_class_task_get(task);
    ms_csv t;
    memset(&t, 0, sizeof t);
    ms_h5 *f = NULL;
    ms_class_input in;
    memset(&in, 0, sizeof in);
    char (*obsid)[32] = NULL;
    double *snr = NULL;
    int32_t *cls = NULL;
    keyed *keys = NULL;
    ms_status st = ms_csv_read(a->labels, &t);
    long kc = -1, c_spt = -1, c_wd = -1, c_lum = -1;
    if (st == MS_OK) {
        kc = ms_csv_column(&t, "obsid");
        c_spt = ms_csv_column(&t, "spt_class");
        c_wd = ms_csv_column(&t, "is_wd");
        c_lum = ms_csv_column(&t, "lum_class");
        const char *missing = kc < 0 ? "obsid"
                              : task == MS_CLASS_WDM && c_wd < 0 ? "is_wd"
                              : c_spt < 0 ? "spt_class"
                              : task == MS_CLASS_DMGM && c_lum < 0 ? "lum_class" : NULL;
        if (missing)
            st = ms_error_set(MS_ENOTFOUND, __FILE__, __LINE__, "%s: no %s column (task %s needs "
                              "obsid, spt_class%s)", a->labels, missing, d->name,
                              task == MS_CLASS_WDM ? ", is_wd" : task == MS_CLASS_DMGM ?
                              ", lum_class" : "");
    }
    if (st == MS_OK) st = ms_h5_open_read(a->spectra, 0, &f);
    if (st == MS_OK) st = ms_class_input_open(f, a->spectra, 1, &in);
    const size_t N = in.n_rows;
    if (st == MS_OK) {
        obsid = ms_malloc_array("class.obsid", N + 1, sizeof *obsid);
        snr = ms_malloc_array("class.snr", 5 * N + 1, sizeof *snr);
        cls = ms_malloc_array("class.cls", N + 1, sizeof *cls);
        keys = ms_malloc_array("class.keys", t.n_rows + 1, sizeof *keys);
        s->b.x = ms_malloc_array("class.x", N * in.view.n + 1, sizeof(float));
        s->b.y = ms_malloc_array("class.y", N * d->n_classes + 1, sizeof(double));
        s->b.rows = ms_malloc_array("class.rows", N + 1, sizeof(int64_t));
        s->truth = ms_malloc_array("class.truth", N + 1, sizeof(int32_t));
        if (!obsid || !snr || !cls || !keys || !s->b.x || !s->b.y || !s->b.rows || !s->truth)
            st = MS_ENOMEM;
    }
    static const char *snr_names[5] = {MS_META_SNR_U, MS_META_SNR_G, MS_META_SNR_R,
                                       MS_META_SNR_I, MS_META_SNR_Z};
    if (st == MS_OK) st = ms_h5_read_rows(f, MS_META_OBSID, MS_H5_STR, 32, 0, N, obsid);
    for (int b = 0; b < 5 && st == MS_OK; b++)
        st = ms_h5_read_rows(f, snr_names[b], MS_H5_F64, 0, 0, N, snr + (size_t)b * N);
    for (size_t r = 0; st == MS_OK && r < t.n_rows; r++) keys[r] = (keyed){ms_csv_cell(&t, r, (size_t)kc), r};
    if (st == MS_OK) qsort(keys, t.n_rows, sizeof *keys, cmp_keyed);
    size_t cut[4] = {0}; /* unmatched, not this task's, S/N, no view */
    for (size_t i = 0; st == MS_OK && i < N; i++) {
        obsid[i][31] = '\0';
        keyed want = {obsid[i], 0}, *hit = bsearch(&want, keys, t.n_rows, sizeof *keys, cmp_keyed);
        cls[i] = -1;
        if (!hit) {
            cut[0]++;
            continue;
        }
        const int c = class_of_row(&t, hit->row, c_spt, c_wd, c_lum, d, task);
        if (c < 0) {
            cut[1]++;
            continue;
        }
        double smax = -INFINITY;
        for (int b = 0; b < 5; b++) smax = fmax(smax, snr[(size_t)b * N + i]);
        if (!(smax >= SNR_MIN)) {
            cut[2]++;
            continue;
        }
        cls[i] = c;
    }
    size_t count[MS_CLASS_MAX] = {0};
    for (size_t i = 0; st == MS_OK && i < N; i++) {
        if (cls[i] < 0) continue;
        uint8_t good = 0;
        st = ms_class_input_rows(&in, f, i, 1, s->b.x + s->b.n * in.view.n, &good);
        if (st == MS_OK && !good) {
            cut[3]++;
            continue;
        }
        for (size_t c = 0; c < d->n_classes; c++)
            s->b.y[s->b.n * d->n_classes + c] = c == (size_t)cls[i];
        s->truth[s->b.n] = cls[i];
        count[cls[i]]++;
        s->b.rows[s->b.n++] = (int64_t)i;
    }
    if (st == MS_OK) {
        s->b.L = in.view.n;
        s->b.D = d->n_classes;
        ms_log_info("train-classifier %s: %zu training spectra from %zu store rows (not in %s: "
                    "%zu; not a class of this task: %zu; S/N_max < %g: %zu; no view: %zu)",
                    d->name, s->b.n, N, a->labels, cut[0], cut[1], SNR_MIN, cut[2], cut[3]);
        for (size_t c = 0; c < d->n_classes; c++) {
            ms_log_info("  %-7s %zu", d->classes[c], count[c]);
            if (count[c] == 0)
                ms_log_warn("train-classifier %s: no training spectrum of class %s: the model "
                            "will hardly ever predict it", d->name, d->classes[c]);
        }
    }
    ms_free(obsid);
    ms_free(snr);
    ms_free(cls);
    ms_free(keys);
    ms_class_input_free(&in);
    if (f) ms_h5_close(f);
    ms_csv_free(&t);
    return st;
}

/* Rank 0's set to every rank: the true classes. */
static ms_status bcast_extra(ms_trainer *t, ms_trainer_set *b)
{
    (void)t;
    class_set *s = (class_set *)b;
    if (ms_par_rank() != 0) s->truth = ms_malloc_array("class.truth", s->b.n + 1, sizeof(int32_t));
    MS_TRY(ms_par_any_failed(s->truth ? MS_OK : MS_ENOMEM));
    return ms_par_bcast(s->truth, s->b.n * sizeof(int32_t));
}

/* The validation accuracy and confusion matrix (out-of-fold: each validation spectrum
 * predicted by the model that did not train on it), logged and kept in the model file's
 * /validation group. */
static ms_status report(const ms_cnn_ensemble *e, const class_set *s, const char *path)
{
    const size_t C = s->b.D;
    long counts[MS_CLASS_MAX * MS_CLASS_MAX];
    const size_t used = ms_class_confusion(s->truth, e->oof, s->b.n, C, counts);
    long right = 0;
    for (size_t c = 0; c < C; c++) right += counts[c * C + c];
    ms_log_info("train-classifier %s: validation accuracy %.2f%% (%ld of %zu held-out spectra)",
                e->cls, used ? 100.0 * (double)right / (double)used : NAN, right, used);
    char line[256];
    int k = snprintf(line, sizeof line, "  true \\ predicted");
    for (size_t c = 0; c < C && k < (int)sizeof line; c++)
        k += snprintf(line + k, sizeof line - (size_t)k, " %6s", e->labels[c]);
    ms_log_info("%s", line);
    for (size_t r = 0; r < C; r++) {
        k = snprintf(line, sizeof line, "  %-17s", e->labels[r]);
        for (size_t c = 0; c < C && k < (int)sizeof line; c++)
            k += snprintf(line + k, sizeof line - (size_t)k, " %6ld", counts[r * C + c]);
        ms_log_info("%s", line);
    }
    ms_h5 *f;
    MS_TRY(ms_h5_open_update(path, 0, &f));
    int64_t cm[MS_CLASS_MAX * MS_CLASS_MAX];
    for (size_t i = 0; i < C * C; i++) cm[i] = counts[i];
    const size_t dims[2] = {C, C};
    const double acc = used ? (double)right / (double)used : NAN;
    ms_status st = ms_h5_write_array(f, "/validation/confusion", MS_H5_I64, 0, 2, dims, cm, "",
                                     "held-out spectra: row = true class, column = predicted "
                                     "(class order of the labels attribute)");
    if (st == MS_OK) st = ms_h5_attr_set_f64(f, "/", "validation_accuracy", &acc, 1);
    if (st == MS_OK) st = ms_h5_write_array(f, "/train/class", MS_H5_I32, 0, 1, &s->b.n, s->truth,
                                            "", "true class index of each training spectrum");
    if (st != MS_OK) {
        ms_h5_close(f); /* left incomplete: refused by readers */
        return st;
    }
    return ms_h5_commit(f);
}

static ms_status load(ms_trainer *t, ms_trainer_set *b)
{
    (void)t;
    class_set *s = (class_set *)b;
    return load_set(s->a, s->task, s);
}

/* The classification: the class names, the classifiers' input, the class weights 30000/N
 * (weighted softmax cross-entropy, cnn_class.h). */
static ms_status setup(ms_trainer *t, ms_trainer_set *b, ms_cnn_train_opts *o,
                       ms_cnn_ensemble *e)
{
    class_set *s = (class_set *)b;
    const ms_class_task_def *d = ms_class_task_get(s->task);
    size_t count[MS_CLASS_MAX] = {0};
    for (size_t i = 0; i < s->b.n; i++) count[s->truth[i]]++;
    ms_class_weights(count, s->b.D, s->weight);
    for (size_t c = 0; c < s->b.D; c++)
        snprintf(e->labels[c], MS_CNN_LABEL_LEN, "%s", d->classes[c]);
    e->n_labels = s->b.D;
    e->view = ms_class_view_spec();
    snprintf(e->view_source, sizeof e->view_source, "native, observed frame, 3900-8899 A");
    snprintf(e->input_velocity, sizeof e->input_velocity, "%s", MS_CNN_VEL_NONE);
    snprintf(e->cls, sizeof e->cls, "%s", d->name);
    e->softmax = 1;
    o->class_weight = s->weight;
    ms_log0_info("train-classifier %s: %zu model(s) of %zu folds (train:validation %zu:1), "
                 "batch %zu, Adam lr %g, up to %zu epochs (patience %zu), class weights "
                 "30000/N, %d rank(s)", d->name, t->models, t->folds, t->folds - 1, o->batch,
                 o->lr, o->max_epochs, o->patience, ms_par_size());
    return MS_OK;
}

/* Rank 0: the model file, then the validation report in it. */
static ms_status finish(ms_trainer *t, ms_trainer_set *b, ms_cnn_ensemble *e)
{
    (void)t;
    const class_set *s = (const class_set *)b;
    MS_TRY(ms_cnn_ensemble_write(e, s->a->out, s->cfg, s->a->command));
    return report(e, s, s->a->out);
}

int ms_stage_train_classifier(const ms_config *cfg, const ms_train_classifier_args *a)
{
    class_set s;
    memset(&s, 0, sizeof s);
    s.a = a;
    s.cfg = cfg;
    ms_status st = ms_class_task_parse(a->task, &s.task);
    const size_t folds = a->folds ? a->folds : 4, models = a->models ? a->models : 1;
    if (st == MS_OK && models > folds)
        st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "--models %zu exceeds --folds %zu",
                          models, folds);
    ms_cnn_ensemble e;
    ms_cnn_ensemble_init(&e);
    ms_trainer t = {"train-classifier", folds, models, a->max_epochs, a->patience, a->checkpoint,
                    a->resume, a->max_time, load, bcast_extra, setup, finish};
    if (st == MS_OK) st = ms_trainer_run(cfg, &t, &s.b, &e);
    if (st == MS_OK)
        ms_log0_info("train-classifier: wrote %s (%zu model(s), %.1f s)", a->out, e.n_models,
                     e.train_seconds);
    set_free(&s);
    ms_cnn_ensemble_free(&e);
    return ms_trainer_exit_code(st);
}
