/* native.h: the native view of the spectra store: every LAMOST LRS spectrum on one shared
 * log-linear pixel lattice, in the observed (heliocentric, vacuum) frame, not normalised.
 *
 * The store keeps a spectrum's pixels once, as LAMOST measured them; a method declares the
 * preprocessing it needs and derives its view from them on the fly (template RVs: the
 * native pixels themselves; a CNN: rest frame, 1 A, z-scored). The Z25 view
 * (/spectra/..., 6000-8900 A, 1 A, pseudo-continuum normalised) is the one view computed at
 * ingest, because the fits read it many times. docs/store.md describes the layout.
 *
 * The lattice is LAMOST's own: log10(lambda_k) = MS_NATIVE_LOGLAM0 + k MS_NATIVE_DLOGLAM
 * (COEFF0 = 3.5682, COEFF1 = 1e-4 in every release), k < MS_NATIVE_NPIX (3700.0-9099.9 A;
 * LAMOST files hold 3899-3909 of these pixels). A file on the lattice is copied pixel for
 * pixel; a file off it (a different COEFF0 or a linear grid) is interpolated linearly in
 * log lambda, its mask bits ORed over the two pixels used. */
#ifndef MSTARS_NATIVE_H
#define MSTARS_NATIVE_H

#include "mstars/status.h"

#include <stddef.h>
#include <stdint.h>

#define MS_NATIVE_LOGLAM0 3.5682
#define MS_NATIVE_DLOGLAM 1e-4
#define MS_NATIVE_NPIX 3910

/* Bits of /native/mask (0: a good pixel). */
#define MS_NATIVE_ORMASK 1u  /* LAMOST ormask != 0: bad in at least one exposure */
#define MS_NATIVE_ANDMASK 2u /* LAMOST andmask != 0: bad in every exposure */
#define MS_NATIVE_NODATA 4u  /* outside the file's range, ivar <= 0 or flux not finite */

/* log10 of the vacuum wavelength of lattice pixel k (observed frame). */
double ms_native_loglam(size_t k);

/* Place one spectrum (as read: wave in A increasing, flux, ivar, andmask, ormask; masks may
 * be NULL) onto the lattice: flux (NaN where no data), ivar (0 where no data), mask bits.
 * Outputs have MS_NATIVE_NPIX elements. Returns the number of pixels with mask 0, and sets
 * *on_lattice to 1 when the file's pixels were copied without interpolation. */
size_t ms_native_place(const double *wave, const double *flux, const double *ivar,
                       const uint32_t *andmask, const uint32_t *ormask, size_t n, float *out_flux,
                       float *out_ivar, uint8_t *out_mask, int *on_lattice);

#endif
