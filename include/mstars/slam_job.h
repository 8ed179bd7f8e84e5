/* slam_job.h: the SLAM commands' drivers (src/stage/train_slam.c, fit_slam.c, cv_slam.c),
 * collective over MPI ranks. The science is in slam.h (no MPI).
 *
 * train-slam: pixels are independent; rank 0 hands out chunks of pixels (workq.h), each
 * rank searches its pixels' hyperparameters and journals them in <out>.search.h5 (a
 * resumable table written with the catalog machinery, catalog.h: --resume continues an
 * interrupted search); then every rank fits its share of the final SVRs (pixel j on rank
 * j % ranks), the coefficients are summed over ranks (one non-zero term per element: exact)
 * and rank 0 writes the model. The model is bit-identical for any rank count.
 *
 * fit-slam: the survey job with a SLAM model: chunks of store rows on demand, one fit per
 * spectrum, a resumable catalog of the identification columns and the `slam` group.
 *
 * cv-slam: k-fold cross-validation of the whole method (L21 4.1.1): for each fold a model
 * is trained on the other folds (the full per-pixel search, pixels over ranks) and the
 * fold's spectra are fitted; per-star predictions go to a CSV, bias / scatter / pulls per
 * label and S/N bin (bootstrap errors) to the log and a summary file. */
#ifndef MSTARS_SLAM_JOB_H
#define MSTARS_SLAM_JOB_H

#include "mstars/config.h"
#include "mstars/slam.h"

typedef struct {
    ms_slam_ts_opts ts;
    ms_slam_grid grid;
    const char *out;
    const char *command;
    int resume;
    size_t pixels_per_chunk;
} ms_slam_train_job_opts;

ms_status ms_slam_train_job(const ms_config *cfg, const ms_slam_train_job_opts *o);

typedef struct {
    const char *spectra, *model, *out, *command;
    int resume;
    size_t limit;
} ms_slam_fit_job_opts;

typedef struct {
    long rows, fitted, flagged, skipped;
    int complete;
    double seconds;
} ms_slam_fit_summary;

ms_status ms_slam_fit_job(const ms_config *cfg, const ms_slam_fit_job_opts *o,
                          ms_slam_fit_summary *sum);

typedef struct {
    ms_slam_ts_opts ts;
    ms_slam_grid grid;     /* the inner search (its own folds) */
    int folds;             /* outer folds (L21: 10); >= n: leave-one-out */
    const char *out;       /* per-star CSV */
    const char *summary;   /* summary text (NULL: <out>.summary.txt) */
    const char *snr_bins;  /* S/N bin edges "0,20,50,100,inf" */
    int bootstrap;         /* resamples for the error bars (1000) */
    const char *calibrate; /* NULL, or a model (of the same labels) to receive the error floors */
    const char *command;
} ms_slam_cv_job_opts;

ms_status ms_slam_cv_job(const ms_config *cfg, const ms_slam_cv_job_opts *o);

#endif
