/* cnn_class.h: the Li et al. 2025 (L25) CNN classifiers (seeds_summary.md 1.3 Modules 1-2,
 * 1.4): CNN-SPT (8 spectral classes), CNN-WDM (white dwarf against M) and CNN-dMgM (M dwarf
 * against M giant). The network, the trainer and the model file are the CNN ensemble's
 * (cnn.h): a classifier is an ms_cnn_ensemble with softmax = 1, its labels the class names,
 * its outputs logits. What differs (L25 1.4): one-hot labels, softmax, cross-entropy with
 * class weights 30000/N_class, argmax; the input view is L25 preprocessing 1, 3, 4a, 5 (no
 * rest-frame shift: the observed frame, 3900-8899 A, 1 A, z-scored). A library module: no
 * MPI. */
#ifndef MSTARS_CNN_CLASS_H
#define MSTARS_CNN_CLASS_H

#include "mstars/cnn.h"
#include "mstars/status.h"

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ tasks */
typedef enum { MS_CLASS_SPT = 0, MS_CLASS_WDM = 1, MS_CLASS_DMGM = 2, MS_CLASS_N_TASKS } ms_class_task;

#define MS_CLASS_MAX 8

typedef struct {
    const char *name;                  /* "spt", "wdm", "dmgm" (the model file's class) */
    const char *title;
    size_t n_classes;
    const char *classes[MS_CLASS_MAX]; /* output order */
} ms_class_task_def;

/* spt: OB, A, F, G, K, M, GALAXY, QSO; wdm: M, WD; dmgm: dM, gM. */
const ms_class_task_def *ms_class_task_get(ms_class_task t);
/* MS_EINVAL naming the choices when name is not a task. */
ms_status ms_class_task_parse(const char *name, ms_class_task *t);
/* Index of a class name (case-insensitive) in the task's list, -1 when absent. */
int ms_class_index(const ms_class_task_def *d, const char *name);

/* L25 1.3 Module 1: weight_c = 30000 / N_c over the training set's class counts (0 for a class
 * without spectra). PyTorch's weighted mean divides by the batch's weight sum, so only the
 * ratios matter: every class weighs as much as the others in total. */
void ms_class_weights(const size_t *count, size_t n_classes, double *weight);

/* ------------------------------------------------------------------ the loss */
/* Softmax of logits z [C] in double (max subtracted): p [C]. */
void ms_class_softmax(const float *z, size_t C, double *p);

/* Weighted cross-entropy of B rows of logits z [B, C] against one-hot targets y [B, C], as
 * PyTorch's CrossEntropyLoss(weight = w): loss = scale sum_b w_{c_b} (-log softmax(z_b)_{c_b}),
 * c_b the target's class; dz [B, C] (may be NULL) += scale w_{c_b} (softmax(z_b) - y_b).
 * scale = 1 / (sum of w_{c_b} over the whole mini-batch) gives PyTorch's mean. */
double ms_class_ce_loss(const float *z, const float *y, const double *w, size_t B, size_t C,
                        double scale, float *dz);

/* ------------------------------------------------------------------ the view */
/* L25 preprocessing 1, 3, 4a, 5 of one native spectrum (native.h: observed frame, LAMOST's
 * lattice loglam [n]): pixels with a mask bit, ivar <= 0 or non-finite values dropped, linear
 * interpolation onto 3900-8899 A at 1 A (5000 pixels), z-scored. ivar_scratch [n]. MS_EFORMAT
 * when fewer than 80% of the view lie between good pixels. */
#define MS_CLASS_VIEW_LO 3900.0
#define MS_CLASS_VIEW_N 5000
ms_cnn_view_spec ms_class_view_spec(void);
ms_status ms_class_view_native(const double *wave, const float *flux, const float *ivar,
                               const uint8_t *mask, size_t n, float *ivar_scratch, float *out);

/* ------------------------------------------------------------------ prediction */
/* Class probabilities prob [B, C] of views x [B, n_in]: the mean over the ensemble's models
 * of each model's softmax, in model order. ws for >= B spectra, scratch [B C] floats. */
ms_status ms_class_predict(const ms_cnn_ensemble *e, ms_cnn_ws *ws, const float *x, size_t B,
                           float *scratch, double *prob);

/* Index of the largest probability (the first on ties). */
size_t ms_class_argmax(const double *p, size_t C);

/* Confusion counts [C, C] (row = true class, column = predicted) over the n rows with a true
 * class >= 0 and finite probabilities prob [n, C]; returns the rows counted. */
size_t ms_class_confusion(const int32_t *truth, const float *prob, size_t n, size_t C,
                          long *counts);

/* ------------------------------------------------------------------ catalog row */
/* The column group "class" (src/cnn/class_columns.c) over this row: the classifiers' verdict
 * on one spectrum. NaN / "" where a model was not given. */
enum {
    MS_CLASS_NO_VIEW = 1u << 0,    /* no view (no native pixels, too few good ones, flat) */
    MS_CLASS_LOW_SNR = 1u << 1,    /* S/N_max < 5: below L25's training cut */
    MS_CLASS_NOT_M = 1u << 2,      /* CNN-SPT's class is not M */
    MS_CLASS_WD = 1u << 3,         /* wd_prob > 0.5, where class is M or SPT was not run */
    MS_CLASS_GIANT = 1u << 4,      /* dmgm_prob > 0.5, likewise */
    MS_CLASS_UNCERTAIN = 1u << 5,  /* CNN-SPT's largest probability < 0.5 */
};

typedef struct {
    char cls[8];         /* CNN-SPT's class (argmax), "" without the model or a view */
    int32_t class_code;  /* its index 0..7 (OB, A, F, G, K, M, GALAXY, QSO), -1 none */
    double class_prob;   /* its probability */
    double wd_prob;      /* CNN-WDM: probability of a white dwarf (against M) */
    double dmgm_prob;    /* CNN-dMgM: probability of an M GIANT (against an M dwarf) */
    uint32_t class_flags; /* MS_CLASS_* bits */
    char class_reason[24];/* the verdict in words: "non-M: A" (SPT first), "white dwarf",
                             "M giant", "M dwarf", "M" (no dMgM), "no view", "" (no model) */
} ms_class_row;

/* The classifiers' answers for B views x [B, n_in] (the view of ms_class_view_native):
 * models[t] (ms_class_task order) NULL where not given. out[B] receives cls, class_code,
 * class_prob, wd_prob, dmgm_prob ("", -1, NaN where a model is absent) and zeroed flags; the
 * verdict is ms_class_row_verdict's. ws for >= B spectra; scratch [B MS_CLASS_MAX] floats,
 * prob [B MS_CLASS_MAX] doubles. Each row depends only on its own view. The one call of the
 * classify job and of the survey job. */
ms_status ms_class_run(const ms_cnn_ensemble *const models[MS_CLASS_N_TASKS], ms_cnn_ws *ws,
                       const float *x, size_t B, float *scratch, double *prob, ms_class_row *out);

/* Fill the verdict (class_flags and class_reason) of a row whose probabilities are set
 * (NaN where a model was not given); no_view, snr_max as measured. */
void ms_class_row_verdict(ms_class_row *r, int no_view, double snr_max);

#endif
