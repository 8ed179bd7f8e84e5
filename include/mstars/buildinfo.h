/* buildinfo.h: what this binary was built from and against (mstars --version, and the
 * provenance attributes of every output file). */
#ifndef MSTARS_BUILDINFO_H
#define MSTARS_BUILDINFO_H

#include <stddef.h>

const char *ms_version(void);      /* e.g. "0.1.0" */
const char *ms_git_revision(void); /* e.g. "a1b2c3d" or "a1b2c3d-dirty"; "unknown" outside git */

/* Library versions, each one line. */
void ms_io_hdf5_version(char *buf, size_t len);    /* "1.10.8 (parallel)" */
void ms_io_cfitsio_version(char *buf, size_t len); /* "4.2.0" (io module) */
void ms_blas_info(char *buf, size_t len);          /* OpenBLAS config string (nn module) */
void ms_hwloc_version(char *buf, size_t len);      /* par module */

/* Multi-line build description for --version and for provenance attributes. */
void ms_build_description(char *buf, size_t len);

#endif
