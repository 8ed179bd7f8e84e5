/* buildinfo.c: the multi-line build description (see buildinfo.h). In io, which may ask par
 * (the MPI library) and nn (BLAS) for their versions; core stays at the bottom. */
#include "mstars/buildinfo.h"
#include "mstars/par.h"

#include <stdio.h>

void ms_build_description(char *buf, size_t len)
{
    char mpi[256], h5[64], fits[64], blas[256], hw[64];
    ms_par_library_version(mpi, sizeof mpi);
    ms_io_hdf5_version(h5, sizeof h5);
    ms_io_cfitsio_version(fits, sizeof fits);
    ms_blas_info(blas, sizeof blas);
    ms_hwloc_version(hw, sizeof hw);
    snprintf(buf, len,
             "mstars %s (git %s)\n"
             "  compiler: %s\n"
             "  MPI:      %s\n"
             "  HDF5:     %s\n"
             "  cfitsio:  %s\n"
             "  BLAS:     %s\n"
             "  hwloc:    %s\n",
             ms_version(), ms_git_revision(), __VERSION__, mpi, h5, fits, blas, hw);
}
