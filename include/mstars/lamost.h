/* lamost.h: reading LAMOST low-resolution (LRS) spectra, every data-release layout.
 *
 * The layout is decided from the file's structure, never from DATA_V:
 *   - MS_LAMOST_COADD: DR9 and later. Header-only primary HDU (NAXIS = 0; stale NAXIS1/2
 *     cards may remain), HDU1 BINTABLE "COADD" with one row and vector columns found by
 *     name: FLUX, IVAR, WAVELENGTH, ANDMASK, ORMASK (masks stored as float).
 *   - MS_LAMOST_IMAGE: DR2-DR8. Primary image NAXIS1 = n pixels, NAXIS2 = 5 rows
 *     (flux, inverse variance, wavelength, andmask, ormask; EXTEN0 names them), BITPIX
 *     -32 or -64.
 *   - MS_LAMOST_IMAGE_SUBCONT: DR1 and early plates. Same image, but row 2 is a
 *     continuum-subtracted flux ("Subcontinuum" in EXTEN0), so the wavelength comes from
 *     10^(COEFF0 + COEFF1 * i) (vacuum).
 * gzip-compressed files are read directly. Pixel counts vary (3899..3909). */
#ifndef MSTARS_LAMOST_H
#define MSTARS_LAMOST_H

#include "mstars/status.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    MS_LAMOST_COADD = 1,
    MS_LAMOST_IMAGE = 2,
    MS_LAMOST_IMAGE_SUBCONT = 3,
} ms_lamost_layout;

/* Header metadata. Missing keywords leave NaN (numbers), -1 (integers) or "" (strings). */
typedef struct {
    char obsid[32];      /* OBSID as text (integer in DR9+, sometimes absent in old files) */
    char desig[48];      /* DESIG */
    double ra, dec;      /* RA, DEC (deg) */
    char cls[16];        /* CLASS, e.g. "STAR" */
    char subclass[16];   /* SUBCLASS, e.g. "M2" */
    double z, z_err;     /* Z, Z_ERR (pipeline RV = Z * c) */
    double snr[5];       /* SNRU, SNRG, SNRR, SNRI, SNRZ (SN_U..SN_Z in DR1) */
    long lmjd;           /* LMJD */
    char planid[48];     /* PLANID */
    int spid, fiberid;   /* SPID, FIBERID */
    char data_v[32];     /* DATA_V, e.g. "LAMOST DR10" ("" in early files) */
    ms_lamost_layout layout;
} ms_lamost_meta;

/* Native-pixel spectrum as stored in the file (vacuum, heliocentric wavelengths). */
typedef struct {
    size_t n;            /* pixels */
    double *wave;        /* [n] Angstrom */
    double *flux;        /* [n] */
    double *ivar;        /* [n] inverse variance of flux */
    uint32_t *andmask;   /* [n] */
    uint32_t *ormask;    /* [n] */
} ms_lamost_spectrum;

/* Read one LAMOST LRS file. On success `spec` owns arrays (free with
 * ms_lamost_spectrum_free). On failure nothing is allocated and the error message names
 * the file and the HDU, keyword or column at fault (e.g. "x.fits: HDU 2 has no column
 * IVAR"); status MS_EIO for unreadable/truncated/non-FITS files, MS_EFITS for a missing
 * HDU/column/keyword, MS_EFORMAT for a structure that is none of the known layouts.
 * `meta` may be NULL when the header metadata are not wanted (slightly faster). Masks
 * stored as non-integer, negative or NaN values come back as UINT32_MAX (every bit set). */
ms_status ms_lamost_read(const char *path, ms_lamost_spectrum *spec, ms_lamost_meta *meta);

void ms_lamost_spectrum_free(ms_lamost_spectrum *spec);

/* Name of a layout: "dr9-coadd", "dr2-dr8-image" or "dr1-subcont" (at most 15 chars). */
const char *ms_lamost_layout_name(ms_lamost_layout layout);

#endif
