/* cnn_input.h: the CNN's input from a spectra store, shared by the drivers of train-cnn and
 * predict-cnn (private to src/stage): the store's native pixels and the chosen RV per row,
 * handed to the library's ms_cnn_native_view (cnn.h). */
#ifndef MSTARS_STAGE_CNN_INPUT_H
#define MSTARS_STAGE_CNN_INPUT_H

#include "mstars/cnn.h"
#include "mstars/h5.h"
#include "mstars/native.h"
#include "mstars/survey_job.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t n_rows;
    double loglam[MS_NATIVE_NPIX];
    ms_cnn_view_spec view;
    char source[128];            /* MS_CNN_INPUT */
    char velocity[64];           /* MS_CNN_VEL_RV or MS_CNN_VEL_PIPELINE */
    double *rv_adopted;          /* [n_rows] from the rv catalog, NULL without one */
    int32_t *rv_flag;            /* [n_rows] */
    int rv_in_job;               /* the velocities come from the job's rv method */
    float *flux, *ivar;          /* [chunk, MS_NATIVE_NPIX] scratch */
    uint8_t *mask;
    double *z;                   /* [chunk] */
    size_t chunk;
} ms_cnn_input;

/* The L25 input of this store (its native view; error when it has none) with the velocities
 * of the rv catalog rv_path (the catalog of `mstars rv` over the same store: rows and OBSIDs
 * checked) or, rv_path NULL, the pipeline's; rv_in_job = 1: the velocities of the job's rv
 * method (`fit --methods rv,...`: v_rest of ms_cnn_input_rows; the same definition as an rv
 * catalog's). Scratch for chunks of `chunk` rows. */
ms_status ms_cnn_input_open(ms_h5 *store, const char *path, const char *rv_path, int rv_in_job,
                            size_t chunk, ms_cnn_input *in);
void ms_cnn_input_free(ms_cnn_input *in);
/* MS_EINVAL naming both definitions when the model e was trained on another input (grid,
 * input definition or velocity source) than `in` gives. */
ms_status ms_cnn_input_check(const ms_cnn_input *in, const ms_cnn_ensemble *e, const char *model,
                             const char *spectra);
/* Views out [ck->n, view.n] of the chunk's store rows (ck->n <= chunk, read through
 * ms_survey_rows); ok[i] = 0 (and a row of zeros) where the view cannot be made; rv [n] (km/s,
 * NaN: none) and rv_source [n] (MS_CNN_RV_*) record the velocity of each row. status [n] may
 * be NULL: rows with status != 0 are not ok. v_rest [n]: the velocities chosen by the job's rv
 * method (`fit --methods`: ck->v_start, rv_adopted where rv_flag = 1, else Z*c, else NaN),
 * v_rest_rv [n] (ck->v_start_rv) 1 where it is the rv method's; NULL: chosen here from the rv
 * catalog of ms_cnn_input_open (ms_cnn_choose_rv). */
ms_status ms_cnn_input_rows(ms_cnn_input *in, ms_survey_chunk *ck, const int32_t *status,
                            const double *v_rest, const uint8_t *v_rest_rv, float *out,
                            uint8_t *ok, double *rv, int32_t *rv_source);

#endif
