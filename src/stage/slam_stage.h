/* slam_stage.h: the pieces the SLAM drivers share (private to src/stage). */
#ifndef MSTARS_SLAM_STAGE_H
#define MSTARS_SLAM_STAGE_H

#include "mstars/slam.h"

/* Collective: the per-pixel results px [P] that each rank computed for its own pixels
 * (the others zero) summed over ranks: every rank ends with all of them. Exact. */
ms_status ms_slam_stage_gather_pixels(ms_slam_pixel *px, size_t P);

/* Collective: the final SVR of every pixel at px's hyperparameters, pixel j fitted by rank
 * j % ranks, coef [P, N] and b [P] summed over ranks (exact: one non-zero term each). */
ms_status ms_slam_stage_final_fits(ms_slam_trainer *tr, const ms_slam_pixel *px, size_t P,
                                   size_t N, double *coef, double *b);

/* Collective: search + final fits with pixels spread statically over ranks (j % ranks);
 * every rank ends with the same model. progress_seconds > 0: rank 0 logs its progress. */
ms_status ms_slam_stage_train(const ms_slam_trainset *s, const ms_slam_grid *g,
                              double progress_seconds, const char *what, ms_slam_model *m);

#endif
