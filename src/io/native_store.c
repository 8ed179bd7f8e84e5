/* native_store.c: the check that a spectra store carries the native view (native.h) that
 * the template-RV, line-index and CNN methods read (see store.h). */
#include "mstars/h5.h"
#include "mstars/native.h"
#include "mstars/schema.h"
#include "mstars/store.h"

#include <math.h>

ms_status ms_store_check_native(ms_h5 *store, const char *path, const char *const *meta)
{
    static const char *const view[] = {MS_STORE_NATIVE_FLUX, MS_STORE_NATIVE_IVAR,
                                       MS_STORE_NATIVE_MASK, MS_STORE_NATIVE_LOGLAM, NULL};
    for (int i = 0; view[i]; i++)
        if (!ms_h5_exists(store, view[i]))
            MS_ERROR(MS_EFORMAT, "%s has no %s: it was made by an ingest without the native "
                     "view; re-run `mstars ingest --reprocess` on its spectra to add it", path,
                     view[i]);
    int rank;
    size_t dims[2];
    MS_TRY(ms_h5_dims(store, MS_STORE_NATIVE_FLUX, &rank, dims));
    if (rank != 2 || dims[1] != MS_NATIVE_NPIX)
        MS_ERROR(MS_EFORMAT, "%s: %s is not [rows, %d]: not this build's native lattice", path,
                 MS_STORE_NATIVE_FLUX, MS_NATIVE_NPIX);
    MS_TRY(ms_h5_dims(store, MS_STORE_NATIVE_LOGLAM, &rank, dims));
    if (dims[0] != MS_NATIVE_NPIX)
        MS_ERROR(MS_EFORMAT, "%s: %s has %zu pixels, this build's native lattice %d", path,
                 MS_STORE_NATIVE_LOGLAM, dims[0], MS_NATIVE_NPIX);
    double ll[2];
    MS_TRY(ms_h5_read_rows(store, MS_STORE_NATIVE_LOGLAM, MS_H5_F64, 0, 0, 2, ll));
    if (fabs(ll[0] - MS_NATIVE_LOGLAM0) > 1e-9 || fabs(ll[1] - ll[0] - MS_NATIVE_DLOGLAM) > 1e-9)
        MS_ERROR(MS_EFORMAT, "%s: %s is not the lattice 3.5682 + 1e-4 k of this build", path,
                 MS_STORE_NATIVE_LOGLAM);
    for (int i = 0; meta && meta[i]; i++)
        if (!ms_h5_exists(store, meta[i]))
            MS_ERROR(MS_EFORMAT, "%s is not a spectra store of mstars ingest: it has no %s", path,
                     meta[i]);
    return MS_OK;
}
