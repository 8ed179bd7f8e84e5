/* class_input.c: the classifiers' views from the store's native view (class_input.h). */
#include "class_input.h"

#include "mstars/cnn_class.h"
#include "mstars/mem.h"
#include "mstars/native.h"
#include "mstars/schema.h"

#include <math.h>
#include <string.h>

_Static_assert(MS_NATIVE_NPIX == 3910, "class_input.h: the native lattice's size");

ms_status ms_class_input_open(ms_h5 *store, const char *path, size_t chunk, ms_class_input *in)
{
    memset(in, 0, sizeof *in);
    static const char *need[] = {MS_STORE_NATIVE_FLUX, MS_STORE_NATIVE_IVAR, MS_STORE_NATIVE_MASK,
                                 MS_STORE_NATIVE_LOGLAM, MS_META_OBSID, MS_META_STATUS, NULL};
    for (int i = 0; need[i]; i++)
        if (!ms_h5_exists(store, need[i]))
            MS_ERROR(MS_EFORMAT, "%s has no %s: the classifiers need the native view of a "
                     "spectra store; re-run `mstars ingest --reprocess` on its spectra", path,
                     need[i]);
    int rank;
    size_t dims[2];
    MS_TRY(ms_h5_dims(store, MS_STORE_NATIVE_LOGLAM, &rank, dims));
    if (rank != 1 || dims[0] != MS_NATIVE_NPIX)
        MS_ERROR(MS_EFORMAT, "%s: %s has %zu pixels, this build's native lattice %d", path,
                 MS_STORE_NATIVE_LOGLAM, dims[0], MS_NATIVE_NPIX);
    MS_TRY(ms_h5_read_rows(store, MS_STORE_NATIVE_LOGLAM, MS_H5_F64, 0, 0, MS_NATIVE_NPIX, in->wave));
    for (size_t k = 0; k < MS_NATIVE_NPIX; k++) in->wave[k] = pow(10.0, in->wave[k]);
    MS_TRY(ms_h5_dims(store, MS_STORE_NATIVE_FLUX, &rank, dims));
    in->n_rows = dims[0];
    in->chunk = chunk;
    in->view = ms_class_view_spec();
    const size_t np = (size_t)MS_NATIVE_NPIX * chunk;
    in->flux = ms_malloc_array("class.input.flux", np, sizeof(float));
    in->ivar = ms_malloc_array("class.input.ivar", np, sizeof(float));
    in->ivar2 = ms_malloc_array("class.input.ivar2", MS_NATIVE_NPIX, sizeof(float));
    in->mask = ms_malloc_array("class.input.mask", np, 1);
    if (!in->flux || !in->ivar || !in->ivar2 || !in->mask) return MS_ENOMEM;
    return MS_OK;
}

void ms_class_input_free(ms_class_input *in)
{
    ms_free(in->flux);
    ms_free(in->ivar);
    ms_free(in->ivar2);
    ms_free(in->mask);
    memset(in, 0, sizeof *in);
}

ms_status ms_class_input_views(ms_class_input *in, size_t n, float *out, uint8_t *ok)
{
    if (n > in->chunk) MS_ERROR(MS_EINVAL, "classifier input: %zu rows for chunks of %zu", n, in->chunk);
    const size_t np = MS_NATIVE_NPIX;
    for (size_t i = 0; i < n; i++) {
        float *o = out + i * in->view.n;
        ok[i] = ms_class_view_native(in->wave, in->flux + i * np, in->ivar + i * np,
                                     in->mask + i * np, np, in->ivar2, o) == MS_OK;
        if (!ok[i]) {
            ms_error_clear();
            memset(o, 0, in->view.n * sizeof(float));
        }
    }
    return MS_OK;
}

ms_status ms_class_input_rows(ms_class_input *in, ms_h5 *store, size_t row0, size_t n, float *out,
                              uint8_t *ok)
{
    if (n > in->chunk) MS_ERROR(MS_EINVAL, "classifier input: %zu rows for chunks of %zu", n, in->chunk);
    MS_TRY(ms_h5_read_rows(store, MS_STORE_NATIVE_FLUX, MS_H5_F32, 0, row0, n, in->flux));
    MS_TRY(ms_h5_read_rows(store, MS_STORE_NATIVE_IVAR, MS_H5_F32, 0, row0, n, in->ivar));
    MS_TRY(ms_h5_read_rows(store, MS_STORE_NATIVE_MASK, MS_H5_U8, 0, row0, n, in->mask));
    return ms_class_input_views(in, n, out, ok);
}
