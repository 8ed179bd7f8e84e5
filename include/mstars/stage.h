/* stage.h: the drivers of the commands whose command-line part lives apart from them. Each
 * command `mstars <c>` parses its options in src/cli/cmd_<c>.c and hands them to its driver
 * in src/stage/<c>.c, the one file that orchestrates the command (par, io, the library
 * modules). Drivers return the command's exit status (0 done, 1 failed with the error printed
 * by the caller through ms_cli_fail, 3 stopped by a time limit with a checkpoint). Drivers of
 * the other commands are declared in their modules' headers (store.h: ingest, ingest-grid;
 * survey.h: fit; sim.h: simulate; catalog_post.h: calibrate-errors; export.h). */
#ifndef MSTARS_STAGE_H
#define MSTARS_STAGE_H

#include "mstars/config.h"

#include <stddef.h>

typedef struct {
    const char *grid, *out, *checkpoint; /* checkpoint: never NULL (default <out>.ckpt) */
    int resume;
    double max_time;                     /* seconds, 0: none */
} ms_train_emulator_args;

typedef struct {
    const char *emulator, *observed, *out, *checkpoint, *reference;
    int resume;
    double max_time;
} ms_train_csn_args;

typedef struct {
    const char *const *catalogs; /* complete catalogs of one spectra store */
    size_t n_catalogs;
    const char *out, *command;
    double sigma;                /* disagreement threshold, in combined errors */
    int force;                   /* overwrite out */
    int formal_errors;           /* 1: the methods' errors as written (no three-cornered hat) */
    const char *reference;       /* labels no method trained on: the error scales (NULL: the hat) */
} ms_combine_args;

typedef struct {
    const char *spectra, *labels, *cls, *out, *checkpoint; /* checkpoint: never NULL */
    size_t folds, max_epochs, patience;                     /* 0: the defaults (cnn.h) */
    int resume;
    double max_time;
    const char *rv; /* rv catalog (mstars rv) for the rest frames; NULL: pipeline Z*c */
} ms_train_cnn_args;

typedef struct {
    const char *spectra, *model, *out, *command;
    int resume;
    size_t limit; /* 0: every row */
    const char *rv; /* rv catalog (mstars rv) for the rest frames; NULL: pipeline Z*c */
    int rv_in_job;  /* fit --methods rv,cnn: the rest frames of the job's rv method (v_start) */
} ms_predict_cnn_args;

/* `mstars train-emulator` (src/stage/train_emulator.c). */
int ms_stage_train_emulator(const ms_config *cfg, const ms_train_emulator_args *a);
/* `mstars train-csn` (src/stage/train_csn.c). */
int ms_stage_train_csn(const ms_config *cfg, const ms_train_csn_args *a);

/* `mstars combine` (src/stage/combine.c; combine.h). */
int ms_stage_combine(const ms_config *cfg, const ms_combine_args *a);

/* `mstars train-cnn` (src/stage/train_cnn.c) and `mstars predict-cnn` (predict_cnn.c). */
int ms_stage_train_cnn(const ms_config *cfg, const ms_train_cnn_args *a);
int ms_stage_predict_cnn(const ms_config *cfg, const ms_predict_cnn_args *a);

#endif
