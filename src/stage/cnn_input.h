/* cnn_input.h: the CNN's input from a spectra store, shared by the drivers of train-cnn and
 * predict-cnn (private to src/stage). */
#ifndef MSTARS_STAGE_CNN_INPUT_H
#define MSTARS_STAGE_CNN_INPUT_H

#include "mstars/cnn.h"
#include "mstars/h5.h"
#include "mstars/survey_job.h"

#include <stddef.h>
#include <stdint.h>

/* What the store offers the CNN. */
typedef struct {
    size_t n_rows, n_pix;
    double *wave;        /* [n_pix] owned */
    ms_cnn_view_spec view;
    char source[64];
    float *flux, *ivar, *cont; /* [chunk, n_pix] scratch */
    double *rv_init, *wrow;    /* [chunk] the store's rest-frame velocity, [n_pix] scratch */
    size_t chunk;
} ms_cnn_input;

/* The L25 view this store can give (today: from the Z25 view, see cnn_input.c), scratch for
 * chunks of `chunk` rows. */
ms_status ms_cnn_input_open(ms_h5 *store, const char *path, size_t chunk, ms_cnn_input *in);
void ms_cnn_input_free(ms_cnn_input *in);
/* Views out [ck->n, view.n] of the chunk's store rows (ck->n <= chunk); ok[i] = 0 (and a row
 * of zeros) where the view cannot be made. status [n] may be NULL: rows with status != 0 are
 * not ok. v_rest [n] may be NULL: the rest frame of row i is v_rest[i] km/s where finite (the
 * rv method's chosen velocity in `fit --methods`), else the store's. */
ms_status ms_cnn_input_rows(ms_cnn_input *in, ms_survey_chunk *ck, const int32_t *status,
                            const double *v_rest, float *out, uint8_t *ok);

#endif
