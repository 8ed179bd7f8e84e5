/* train_cnn.c: the driver of `mstars train-cnn` (L25 1.3 Module 4; cnn.h): rank 0 joins the
 * store's rows to the reference labels (by OBSID) with L25's cuts (usable row, S/N_max >= 5,
 * the requested luminosity class), makes the CNN views; every rank gets the set; the K-fold
 * ensemble trains data-parallel with this job's ms_comm; rank 0 writes the model file. */
#include "mstars/cnn.h"
#include "mstars/csv.h"
#include "mstars/h5.h"
#include "mstars/join_io.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/schema.h"
#include "mstars/stage.h"

#include "cnn_input.h"
#include "cnn_trainer.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SNR_MIN 5.0 /* L25 1.3 Module 4: S/N_max >= 5 */

typedef struct {
    ms_trainer_set b;  /* every rank: n, L, D, x, y, rows */
    double *rv;        /* [n] velocity of each input (rank 0) */
    int32_t *rv_src;   /* [n] MS_CNN_RV_* (rank 0) */
    char labels[MS_N_LABELS][MS_CNN_LABEL_LEN];
    ms_cnn_view_spec view;
    char source[128], velocity[64];
    const ms_train_cnn_args *a;
    const ms_config *cfg;
} train_set;

static void set_free(train_set *s)
{
    ms_trainer_set_free(&s->b);
    ms_free(s->rv);
    ms_free(s->rv_src);
    memset(s, 0, sizeof *s);
}

/* The luminosity class of a LAMOST subclass: giants are "gM*", everything else a dwarf. */
static const char *class_of(const char *subclass)
{
    return tolower((unsigned char)subclass[0]) == 'g' ? "gM" : "dM";
}

/* The label table's column for label k: teff, logg, m_h (or fe_h), alpha_m; -1 when absent. */
static long label_column(const ms_csv *t, int k)
{
    long c = ms_csv_column(t, ms_label_names[k]);
    if (c < 0 && k == 2) c = ms_csv_column(t, "fe_h");
    return c;
}

/* Rank 0: the training set. */
static ms_status load_set(const ms_train_cnn_args *a, double radius, train_set *s)
{
    ms_csv t;
    memset(&t, 0, sizeof t);
    ms_h5 *f = NULL;
    ms_cnn_input in;
    memset(&in, 0, sizeof in);
    char (*sub)[16] = NULL;
    int32_t *status = NULL;
    double *snr = NULL;
    long *match = NULL;
    uint8_t *ok = NULL;
    ms_status st = ms_csv_read(a->labels, &t);
    long lc[MS_N_LABELS], cc = ms_csv_column(&t, "luminosity_class");
    for (int k = 0; k < MS_N_LABELS && st == MS_OK; k++) {
        lc[k] = label_column(&t, k);
        if (lc[k] >= 0) {
            snprintf(s->labels[s->b.D], MS_CNN_LABEL_LEN, "%s", ms_label_names[k]);
            lc[s->b.D++] = lc[k];
        }
    }
    if (st == MS_OK && s->b.D == 0)
        st = ms_error_set(MS_ENOTFOUND, __FILE__, __LINE__, "%s: none of the columns teff, logg, "
                          "m_h (fe_h), alpha_m", a->labels);
    if (st == MS_OK) st = ms_h5_open_read(a->spectra, 0, &f);
    if (st == MS_OK) st = ms_cnn_input_open(f, a->spectra, a->rv, 0, 1, &in);
    const size_t N = in.n_rows;
    if (st == MS_OK) {
        sub = ms_malloc_array("cnn.sub", N + 1, sizeof *sub);
        status = ms_malloc_array("cnn.status", N + 1, sizeof *status);
        snr = ms_malloc_array("cnn.snr", 5 * N + 1, sizeof *snr);
        match = ms_malloc_array("cnn.match", N + 1, sizeof *match);
        ok = ms_malloc_array("cnn.ok", N + 1, 1);
        s->b.x = ms_malloc_array("cnn.x", N * in.view.n + 1, sizeof(float));
        s->b.y = ms_malloc_array("cnn.y", N * s->b.D + 1, sizeof(double));
        s->b.rows = ms_malloc_array("cnn.rows", N + 1, sizeof(int64_t));
        s->rv = ms_malloc_array("cnn.rv", N + 1, sizeof(double));
        s->rv_src = ms_malloc_array("cnn.rv_src", N + 1, sizeof(int32_t));
        if (!sub || !status || !snr || !match || !ok || !s->b.x || !s->b.y || !s->b.rows ||
            !s->rv || !s->rv_src)
            st = MS_ENOMEM;
    }
    static const char *snr_names[5] = {MS_META_SNR_U, MS_META_SNR_G, MS_META_SNR_R,
                                       MS_META_SNR_I, MS_META_SNR_Z};
    if (st == MS_OK) st = ms_h5_read_rows(f, MS_META_SUBCLASS, MS_H5_STR, 16, 0, N, sub);
    if (st == MS_OK) st = ms_h5_read_rows(f, MS_META_STATUS, MS_H5_I32, 0, 0, N, status);
    for (int b = 0; b < 5 && st == MS_OK; b++)
        st = ms_h5_read_rows(f, snr_names[b], MS_H5_F64, 0, 0, N, snr + (size_t)b * N);
    /* every store row's label row, by obsid, key or position (join.h) */
    if (st == MS_OK) {
        ms_join_ids ids;
        st = ms_store_join_ids(f, N, &ids);
        if (st == MS_OK) st = ms_table_join("train-cnn", a->labels, &ids, radius, match, NULL);
        ms_join_ids_free(&ids);
    }
    size_t cut[5] = {0}, by_src[3] = {0}; /* cuts: unmatched, unusable, S/N, class, view */
    for (size_t i = 0; st == MS_OK && i < N; i++) {
        sub[i][15] = '\0';
        if (match[i] < 0) {
            cut[0]++;
            continue;
        }
        const size_t r = (size_t)match[i];
        int fin = 1;
        for (size_t j = 0; j < s->b.D; j++) fin &= isfinite(ms_csv_number(&t, r, (size_t)lc[j]));
        if (status[i] != 0 || !fin) {
            cut[1]++;
            match[i] = -1;
            continue;
        }
        double smax = -INFINITY;
        for (int b = 0; b < 5; b++) smax = fmax(smax, snr[(size_t)b * N + i]);
        if (!(smax >= SNR_MIN)) {
            cut[2]++;
            match[i] = -1;
            continue;
        }
        const char *cls = class_of(sub[i]);
        if (strcmp(cls, a->cls) != 0 ||
            (cc >= 0 && strcasecmp(ms_csv_cell(&t, r, (size_t)cc), a->cls) != 0)) {
            cut[3]++;
            match[i] = -1;
        }
    }
    for (size_t i = 0; st == MS_OK && i < N; i++) {
        if (match[i] < 0) continue;
        const int32_t zero = 0;
        float *x = s->b.x + s->b.n * in.view.n;
        uint8_t good = 0;
        double rv = NAN;
        int32_t src = MS_CNN_RV_NONE;
        ms_survey_chunk ck;
        ms_survey_chunk_plain(&ck, f, i, 1);
        st = ms_cnn_input_rows(&in, &ck, &zero, NULL, NULL, x, &good, &rv, &src);
        if (st == MS_OK && !good) {
            cut[4]++;
            continue;
        }
        s->rv[s->b.n] = rv;
        s->rv_src[s->b.n] = src;
        by_src[src]++;
        for (size_t j = 0; j < s->b.D; j++)
            s->b.y[s->b.n * s->b.D + j] = ms_csv_number(&t, (size_t)match[i], (size_t)lc[j]);
        s->b.rows[s->b.n++] = (int64_t)i;
    }
    if (st == MS_OK) {
        s->b.L = in.view.n;
        s->view = in.view;
        snprintf(s->source, sizeof s->source, "%s", in.source);
        snprintf(s->velocity, sizeof s->velocity, "%s", in.velocity);
        ms_log_info("train-cnn: %zu training spectra of class %s from %zu store rows (not in %s: "
                    "%zu; unusable or missing labels: %zu; S/N_max < %g: %zu; other class: %zu; "
                    "no view: %zu); view %s, %zu pixels", s->b.n, a->cls, N, a->labels, cut[0],
                    cut[1], SNR_MIN, cut[2], cut[3], cut[4], s->source, s->b.L);
        ms_log_info("train-cnn: rest frames from %s: the rv catalog's rv_adopted for %zu, the "
                    "pipeline Z*c for %zu spectra", s->velocity, by_src[MS_CNN_RV_CATALOG],
                    by_src[MS_CNN_RV_PIPELINE]);
    }
    ms_free(sub);
    ms_free(status);
    ms_free(snr);
    ms_free(match);
    ms_free(ok);
    ms_cnn_input_free(&in);
    if (f) ms_h5_close(f);
    ms_csv_free(&t);
    return st;
}

/* Rank 0's set to every rank: the fields beyond ms_trainer_set. */
static ms_status bcast_extra(ms_trainer *t, ms_trainer_set *b)
{
    (void)t;
    train_set *s = (train_set *)b;
    MS_TRY(ms_par_bcast(s->labels, sizeof s->labels));
    MS_TRY(ms_par_bcast(&s->view, sizeof s->view));
    MS_TRY(ms_par_bcast(s->source, sizeof s->source));
    return ms_par_bcast(s->velocity, sizeof s->velocity);
}

/* The ensemble error against the out-of-fold error (each training spectrum predicted by the
 * one model that did not see it): a first look at the error's honesty. */
static void report(const ms_cnn_ensemble *e, const train_set *s)
{
    for (size_t j = 0; j < e->n_labels; j++) {
        double ss = 0.0;
        for (size_t i = 0; i < s->b.n; i++) {
            const double r = e->oof[i * e->n_labels + j] - s->b.y[i * s->b.D + j];
            ss += r * r;
        }
        ms_log0_info("train-cnn: %s out-of-fold rms error %.4g (label std %.4g)", e->labels[j],
                     sqrt(ss / (double)s->b.n), e->y_std[j]);
    }
    if (e->calibrated)
        for (size_t j = 0; j < e->n_labels; j++)
            ms_log0_info("train-cnn: %s error model e^2 = (%.3g std)^2 + %.4g^2 (raw pulls "
                         "oof/std: robust std %.2f)", e->labels[j], e->err_scale[j],
                         e->err_floor[j], e->calib_pull_rstd[j]);
    for (size_t k = 0; k < e->n_models; k++)
        ms_log0_info("train-cnn: model %zu: best validation MSE (z-scored) %.4f at epoch %ld", k + 1,
                     e->best_val[k], e->best_epoch[k]);
}

static ms_status load(ms_trainer *t, ms_trainer_set *b)
{
    train_set *s = (train_set *)b;
    (void)t;
    return load_set(s->a, s->cfg->join.radius_arcsec, s);
}

/* The regression: the labels' names, the input definition, no class weights (MSE). */
static ms_status setup(ms_trainer *t, ms_trainer_set *b, ms_cnn_train_opts *o,
                       ms_cnn_ensemble *e)
{
    (void)t;
    const train_set *s = (const train_set *)b;
    memcpy(e->labels, s->labels, sizeof s->labels);
    e->n_labels = s->b.D;
    e->view = s->view;
    snprintf(e->view_source, sizeof e->view_source, "%s", s->source);
    snprintf(e->input_velocity, sizeof e->input_velocity, "%s", s->velocity);
    snprintf(e->cls, sizeof e->cls, "%s", s->a->cls);
    ms_log0_info("train-cnn: %zu-fold ensemble, batch %zu, Adam lr %g, up to %zu epochs "
                 "(patience %zu), %d rank(s)", o->folds, o->batch, o->lr, o->max_epochs,
                 o->patience, ms_par_size());
    return MS_OK;
}

/* Rank 0: honest errors from the out-of-fold predictions (calibrate.c), the velocities, the
 * model file and the report. */
static ms_status finish(ms_trainer *t, ms_trainer_set *b, ms_cnn_ensemble *e)
{
    (void)t;
    train_set *s = (train_set *)b;
    const ms_train_cnn_args *a = s->a;
    ms_status st = MS_OK;
    ms_cnn_data d = {s->b.x, s->b.y, s->b.rows, s->b.n, s->b.L, s->b.D};
    if (e->n_models >= 3)
        st = ms_cnn_calibrate(e, &d);
    else
        ms_log_warn("train-cnn: %zu models are too few to calibrate the errors (>= 3): "
                    "e_cnn will be the raw ensemble spread", e->n_models);
    if (st == MS_OK) {
        e->train_rv = s->rv;
        e->train_rv_source = s->rv_src;
        s->rv = NULL;
        s->rv_src = NULL;
    }
    if (st == MS_OK) {
        char command[4 * MS_CFG_STR_MAX];
        snprintf(command, sizeof command, "mstars train-cnn --spectra %s --labels %s --class %s --out %s%s%s",
                 a->spectra, a->labels, a->cls, a->out, a->rv ? " --rv " : "", a->rv ? a->rv : "");
        st = ms_cnn_ensemble_write(e, a->out, s->cfg, command);
        if (st == MS_OK) report(e, s);
    }
    return st;
}

int ms_stage_train_cnn(const ms_config *cfg, const ms_train_cnn_args *a)
{
    train_set s;
    memset(&s, 0, sizeof s);
    s.a = a;
    s.cfg = cfg;
    ms_status st = MS_OK;
    if (strcmp(a->cls, "dM") != 0 && strcmp(a->cls, "gM") != 0)
        st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "--class must be dM or gM, not '%s'", a->cls);
    ms_cnn_ensemble e;
    ms_cnn_ensemble_init(&e);
    ms_trainer t = {"train-cnn", a->folds, 0, a->max_epochs, a->patience, a->checkpoint,
                    a->resume, a->max_time, load, bcast_extra, setup, finish};
    if (st == MS_OK) st = ms_trainer_run(cfg, &t, &s.b, &e);
    if (st == MS_OK) ms_log0_info("train-cnn: wrote %s (%zu models, %.1f s)", a->out, e.n_models,
                                  e.train_seconds);
    set_free(&s);
    ms_cnn_ensemble_free(&e);
    return ms_trainer_exit_code(st);
}
