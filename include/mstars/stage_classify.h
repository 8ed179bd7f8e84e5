/* stage_classify.h: `mstars train-classifier` (src/stage/train_classifier.c) and
 * `mstars classify` (src/stage/classify.c): the L25 CNN classifiers (cnn_class.h). */
#ifndef MSTARS_STAGE_CLASSIFY_H
#define MSTARS_STAGE_CLASSIFY_H

#include "mstars/config.h"

#include <stddef.h>

typedef struct {
    const char *spectra, *labels, *task, *out, *checkpoint;
    size_t folds, models, max_epochs, patience; /* 0: the defaults (4 folds, 1 model, cnn.h) */
    int resume;
    double max_time;                            /* seconds, 0: none */
    const char *command;                        /* provenance */
} ms_train_classifier_args;

typedef struct {
    const char *spectra, *out;
    const char *model[3]; /* spt, wdm, dmgm (ms_class_task order); NULL: not run */
    int resume;
    size_t limit;         /* 0: every row */
    const char *command;
} ms_classify_args;

/* Exit codes: 0 done, 1 failed, 3 stopped by a time limit (--resume continues). */
int ms_stage_train_classifier(const ms_config *cfg, const ms_train_classifier_args *a);
int ms_stage_classify(const ms_config *cfg, const ms_classify_args *a);

#endif
