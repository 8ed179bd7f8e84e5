/* versions.c: HDF5 and cfitsio library versions for the build description. */
#include "mstars/buildinfo.h"

#include <fitsio.h>
#include <hdf5.h>
#include <stdio.h>

void ms_io_hdf5_version(char *buf, size_t len)
{
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
#ifdef H5_HAVE_PARALLEL
    const char *par = "parallel";
#else
    const char *par = "serial";
#endif
    snprintf(buf, len, "%u.%u.%u (%s)", maj, min, rel, par);
}

void ms_io_cfitsio_version(char *buf, size_t len)
{
    float v = 0;
    fits_get_version(&v); /* the library actually linked, 4.020 for 4.2.0: major + minor/100 + micro/1000 */
    int major = (int)v, rest = (int)((v - (float)major) * 1000.0f + 0.5f);
    snprintf(buf, len, "%d.%d.%d", major, rest / 10, rest % 10);
}
