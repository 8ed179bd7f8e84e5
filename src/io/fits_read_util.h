/* fits_read_util.h: opening FITS inputs read-only, shared by the LAMOST and grid readers
 * (internal to src/io). */
#ifndef MSTARS_IO_FITS_READ_UTIL_H
#define MSTARS_IO_FITS_READ_UTIL_H

#include "mstars/status.h"

#include <fitsio.h>

/* Open `path` read-only with its name taken literally (no cfitsio extended syntax, so
 * names with '[' work); gzip-compressed files are inflated into memory. A gzip file whose
 * trailer is impossible (truncated or corrupt) is refused before cfitsio sizes a buffer
 * from it. Every failure is MS_EIO (or MS_ENOMEM) with a message naming the file. */
ms_status ms_fits_open_read(const char *path, fitsfile **fp);

/* Record "path: what: cfitsio status N (text)" and return the matching code: MS_EIO when
 * the bytes are missing or unreadable (open, truncation, decompression, not FITS),
 * MS_ENOMEM for allocation, MS_EFITS otherwise. Clears cfitsio's message stack. */
ms_status ms_fits_fail(const char *path, const char *what, int fstatus);

/* Close, ignoring errors (inputs are read-only). */
void ms_fits_close(fitsfile *fp);

#endif
