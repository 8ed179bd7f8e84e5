/* class_input.h: the classifiers' input from a spectra store's native view (L25 preprocessing
 * 1, 3, 4a, 5: cnn_class.h), shared by the drivers of train-classifier and classify (private
 * to src/stage). */
#ifndef MSTARS_STAGE_CLASS_INPUT_H
#define MSTARS_STAGE_CLASS_INPUT_H

#include "mstars/cnn.h"
#include "mstars/h5.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t n_rows, chunk;
    double wave[3910];   /* the native lattice in A (observed frame) */
    float *flux, *ivar, *ivar2; /* [chunk, MS_NATIVE_NPIX] scratch */
    uint8_t *mask;
    ms_cnn_view_spec view;
} ms_class_input;

/* Checks that the store has the native view on this build's lattice; scratch for chunks. */
ms_status ms_class_input_open(ms_h5 *store, const char *path, size_t chunk, ms_class_input *in);
void ms_class_input_free(ms_class_input *in);
/* Views out [n, view.n] of rows [row0, row0 + n) (n <= chunk); ok[i] = 0 (a row of zeros)
 * where no view can be made (no native pixels, too few good pixels, flat). */
ms_status ms_class_input_rows(ms_class_input *in, ms_h5 *store, size_t row0, size_t n, float *out,
                              uint8_t *ok);
/* The same views of the n rows already in in->flux, in->ivar, in->mask (the survey job reads
 * them through ms_survey_rows: one store read per chunk for every method of the job). */
ms_status ms_class_input_views(ms_class_input *in, size_t n, float *out, uint8_t *ok);

#endif
