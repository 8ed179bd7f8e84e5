/* cnn_trainer.h: the one driver of the trainers on the CNN engine (cnn.h), shared by
 * `mstars train-cnn` (L25 1.3 Module 4: regression of the labels) and `mstars train-classifier`
 * (L25 1.3 Modules 1-2: the classifiers). Private to src/stage.
 *
 * What both do, in this order: rank 0 loads the training set; every rank gets it; the fold
 * count is checked against the set; the training options come from the command (folds, models,
 * epochs, patience, seed, checkpoint, --resume, --max-time) and the job's ms_comm; the K-fold
 * ensemble trains data-parallel (bit-identical for any rank count); a stop at --max-time
 * keeps the checkpoint (MS_EINTERRUPTED, exit code 3); rank 0 finishes (model file, report).
 *
 * The task switch is the `setup` hook: it names the model's outputs and, for a classifier,
 * sets the class weights (o->class_weight: weighted softmax cross-entropy on one-hot y) where
 * a regression leaves them NULL (MSE on the scaled labels). */
#ifndef MSTARS_STAGE_CNN_TRAINER_H
#define MSTARS_STAGE_CNN_TRAINER_H

#include "mstars/cnn.h"
#include "mstars/config.h"
#include "mstars/status.h"

#include <stddef.h>
#include <stdint.h>

/* The training set every rank holds: the first member of a command's own set struct (the
 * hooks get this member and reach the command's fields through it). */
typedef struct {
    size_t n, L, D;  /* spectra, pixels per view, outputs (labels or classes) */
    float *x;        /* [n, L] views */
    double *y;       /* [n, D] labels, or one-hot classes */
    int64_t *rows;   /* [n] store rows */
} ms_trainer_set;

typedef struct ms_trainer ms_trainer;
struct ms_trainer {
    const char *what;                 /* the command, for messages ("train-cnn") */
    size_t folds, models;             /* models 0: every fold's (cnn.h) */
    size_t max_epochs, patience;      /* 0: the defaults of cnn.h */
    const char *checkpoint;
    int resume;
    double max_seconds;               /* 0: none */
    /* rank 0: fill the set (allocations of x, y, rows of the set's own) */
    ms_status (*load)(ms_trainer *t, ms_trainer_set *s);
    /* collective, optional: the command's fields of the set beyond ms_trainer_set */
    ms_status (*bcast)(ms_trainer *t, ms_trainer_set *s);
    /* every rank, before training: the model's outputs and input definition in e, the loss
     * (o->class_weight) and the log line of the settings */
    ms_status (*setup)(ms_trainer *t, ms_trainer_set *s, ms_cnn_train_opts *o,
                       ms_cnn_ensemble *e);
    /* rank 0, after a complete training: calibration, the model file, the report */
    ms_status (*finish)(ms_trainer *t, ms_trainer_set *s, ms_cnn_ensemble *e);
};

/* Collective. e: initialised by the caller (freed by the caller). Returns MS_EINTERRUPTED
 * (logged) when --max-time stopped the training; every rank returns the same status. */
ms_status ms_trainer_run(const ms_config *cfg, ms_trainer *t, ms_trainer_set *s,
                         ms_cnn_ensemble *e);

/* x, y, rows freed and the set zeroed. */
void ms_trainer_set_free(ms_trainer_set *s);

/* The exit code of a trainer command: 0 done, 3 stopped by a time limit, 1 failed. */
int ms_trainer_exit_code(ms_status st);

#endif
