/* indices.h: spectral indices of the catalog (method.md section 7, Z25 Table 1 and Eq. 10).
 *
 * All functions are pure computation (no I/O, no MPI, no allocation) on the store's
 * rest-frame 1 A grid (ms_wgrid): `flux` is the continuum-normalised flux, `ivar` its
 * inverse variance (<= 0: missing), `continuum` the pseudo-continuum of /spectra/continuum
 * (the original flux is flux * continuum). continuum may be NULL when `flux` is already
 * un-normalised. Wavelengths are vacuum, as LAMOST's.
 *
 * H-alpha equivalent width (Z25 Eq. 10):
 *   EW = -integral (1 - F/F_c) dlambda over MS_HALPHA_WAVE +/- MS_HALPHA_HALF_WIDTH,
 * EW > 0 for emission (Activity = 1 when EW > MS_ACTIVITY_EW). F is the un-normalised
 * flux (flux * continuum) and F_c a local linear continuum through the mean F of the good
 * pixels of the side bands MS_HALPHA_BLUE_* and MS_HALPHA_RED_* (each at the mean
 * wavelength of those pixels, so that a linear continuum is reproduced exactly). A local continuum and not
 * the pseudo-continuum: the Gaussian-kernel pseudo-continuum (sigma ~50 A) is pulled up by
 * a strong emission line and would shrink its EW. Each grid pixel covers
 * [x - step/2, x + step/2] and enters the integral with the length of its overlap with the
 * window, so the window is exactly 14 A long whatever the grid's phase.
 * Uncertainty: sigma_EW^2 = sum (w_i / F_c,i)^2 / ivar_F,i (w_i the overlap length),
 * the continuum treated as exact. NaN (EW and error) when a window pixel is missing, a
 * side band has fewer than half its pixels, the window falls off the grid, or F_c <= 0.
 *
 * TiO5 = mean F over MS_TIO5_NUM_* / mean F over MS_TIO5_DEN_* (band means of the
 * un-normalised flux over the good pixels whose centres lie in the band, bounds inclusive);
 * SpT = -10.775 TiO5 + 8.2, valid in [-2, 7] (-2 = K5, -1 = K7, 0..7 = M0..M7). Both are
 * MS_INDEX_MISSING (-9999) when they cannot be computed: a band off the grid or with
 * fewer than half of its pixels good, a non-positive denominator, or (SpT only) a value
 * outside [-2, 7]. */
#ifndef MSTARS_INDICES_H
#define MSTARS_INDICES_H

#include "mstars/spec.h"

#include <stddef.h>

#define MS_INDEX_MISSING (-9999.0)

#define MS_HALPHA_WAVE 6564.6       /* vacuum, A */
#define MS_HALPHA_HALF_WIDTH 7.0    /* A */
#define MS_HALPHA_BLUE_LO 6545.0
#define MS_HALPHA_BLUE_HI 6555.0
#define MS_HALPHA_RED_LO 6575.0
#define MS_HALPHA_RED_HI 6585.0
#define MS_ACTIVITY_EW 0.75         /* A: Activity = 1 when EW > this */

/* TiO5 limits as written (Reid et al. 1995, air), applied on the vacuum grid: decided from
 * evidence (issue 17, benchmarks/tio5_air_vacuum.py, RESULTS.md). Converting them to vacuum
 * (+1.96 A) moves SpT by +0.2 subtype; against the LAMOST SUBCLASS of the real M dwarfs the
 * limits as written agree better (bias -0.03 vs +0.19); Z25 apply the relation below to
 * LAMOST (vacuum) spectra and compare it with that subclass (their Fig. 13). */
#define MS_TIO5_NUM_LO 7126.0
#define MS_TIO5_NUM_HI 7135.0
#define MS_TIO5_DEN_LO 7042.0
#define MS_TIO5_DEN_HI 7046.0
#define MS_SPT_MIN (-2.0)
#define MS_SPT_MAX 7.0

/* H-alpha EW (A, > 0 emission) and its 1-sigma error (either output pointer may be NULL
 * for err). Returns the EW (NaN when it cannot be computed; *err NaN too). */
double ms_index_halpha_ew(ms_wgrid grid, const float *flux, const float *ivar,
                          const float *continuum, double *err);

/* Activity flag from an EW: 1 when EW > MS_ACTIVITY_EW, 0 otherwise (also for NaN). */
int ms_index_activity(double ew);

/* TiO5 band ratio, or MS_INDEX_MISSING. ivar may be NULL (every finite pixel good). */
double ms_index_tio5(ms_wgrid grid, const float *flux, const float *ivar,
                     const float *continuum);

/* Spectral type number from TiO5: -10.775 tio5 + 8.2, or MS_INDEX_MISSING when tio5 is
 * missing / not finite or the result lies outside [MS_SPT_MIN, MS_SPT_MAX]. */
double ms_index_spt(double tio5);

/* Format a spectral type number to the nearest half subtype: 0 -> "M0", 3.5 -> "M3.5",
 * -1 -> "K7", -1.5 -> "K6", -2 -> "K5" (values in (-1, 0) that round to -0.5 -> "K7").
 * Missing / out of range -> "" (empty). Returns buf. len >= 8 is always enough. */
char *ms_index_spt_string(double spt, char *buf, size_t len);

/* VBFlag from the crossmatch flags: 2 binary candidate (takes precedence), 1 variable
 * candidate, 0 otherwise. */
int ms_index_vbflag(int variable_candidate, int binary_candidate);

/* Main-sequence surface gravity of an M dwarf: a smooth fit to 5 Gyr isochrone gravities
 * (4.65 at 4000 K, 4.80 at 3500 K, 5.03 at 3000 K, 5.25 at 2600 K; metal-poor stars are
 * denser). Used by the mock universe (sim) and by the CSN's synthetic label draw (nn). */
double ms_mdwarf_logg_ms(double teff, double m_h);

#endif
