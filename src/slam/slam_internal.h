/* slam_internal.h: the prediction workspace shared by model.c and fit.c (private). */
#ifndef MSTARS_SLAM_INTERNAL_H
#define MSTARS_SLAM_INTERNAL_H

#include "mstars/slam.h"

struct ms_slam_ws {
    double *B;     /* [n_train, 1 + n_labels] kernel columns */
    double *Cm;    /* [n_pix, 1 + n_labels] block products */
    double *model; /* [n_pix] the fit's model spectrum */
    double *jac;   /* [n_pix, n_labels] its Jacobian */
    double *w;     /* [n_pix] 1 / (sigma_obs^2 + sigma_model^2), 0 for unused pixels */
};

#endif
