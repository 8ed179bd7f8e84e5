/* blas_info.c: which BLAS this binary runs on. */
#include "mstars/buildinfo.h"

#include <stdio.h>

/* OpenBLAS exports these; there is no portable BLAS header that declares them. */
extern char *openblas_get_config(void);
extern int openblas_get_num_threads(void);

void ms_blas_info(char *buf, size_t len)
{
    snprintf(buf, len, "%s, %d thread(s)", openblas_get_config(),
             openblas_get_num_threads());
}
