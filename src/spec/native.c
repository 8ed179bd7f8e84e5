/* native.c: LAMOST spectra onto the shared native lattice (native.h). */
#include "mstars/native.h"

#include <math.h>

double ms_native_loglam(size_t k)
{
    return MS_NATIVE_LOGLAM0 + (double)k * MS_NATIVE_DLOGLAM;
}

static uint8_t pixel_bits(double flux, double ivar, uint32_t andm, uint32_t orm)
{
    uint8_t b = 0;
    if (orm) b |= MS_NATIVE_ORMASK;
    if (andm) b |= MS_NATIVE_ANDMASK;
    if (!(ivar > 0.0) || !isfinite(ivar) || !isfinite(flux)) b |= MS_NATIVE_NODATA;
    return b;
}

size_t ms_native_place(const double *wave, const double *flux, const double *ivar,
                       const uint32_t *andmask, const uint32_t *ormask, size_t n, float *out_flux,
                       float *out_ivar, uint8_t *out_mask, int *on_lattice)
{
    for (size_t k = 0; k < MS_NATIVE_NPIX; k++) {
        out_flux[k] = NAN;
        out_ivar[k] = 0.0f;
        out_mask[k] = MS_NATIVE_NODATA;
    }
    *on_lattice = 0;
    if (n < 2) return 0;
    /* on the lattice: every pixel within 1% of a lattice position, consecutive */
    double k0 = (log10(wave[0]) - MS_NATIVE_LOGLAM0) / MS_NATIVE_DLOGLAM;
    long first = lround(k0);
    int lattice = 1;
    for (size_t i = 0; i < n && lattice; i++) {
        double k = (log10(wave[i]) - MS_NATIVE_LOGLAM0) / MS_NATIVE_DLOGLAM;
        lattice = isfinite(k) && fabs(k - (double)(first + (long)i)) < 0.01;
    }
    size_t good = 0;
    if (lattice) {
        *on_lattice = 1;
        for (size_t i = 0; i < n; i++) {
            long k = first + (long)i;
            if (k < 0 || k >= MS_NATIVE_NPIX) continue;
            uint8_t b = pixel_bits(flux[i], ivar[i], andmask ? andmask[i] : 0,
                                   ormask ? ormask[i] : 0);
            out_mask[k] = b;
            if (!(b & MS_NATIVE_NODATA)) {
                out_flux[k] = (float)flux[i];
                out_ivar[k] = (float)ivar[i];
            }
            good += b == 0;
        }
        return good;
    }
    /* off the lattice: linear interpolation in log lambda (variance interpolated) */
    size_t j = 0;
    for (size_t k = 0; k < MS_NATIVE_NPIX; k++) {
        double w = pow(10.0, ms_native_loglam(k));
        if (w < wave[0] || w > wave[n - 1]) continue;
        while (j + 2 < n && wave[j + 1] < w) j++;
        double t = (log10(w) - log10(wave[j])) / (log10(wave[j + 1]) - log10(wave[j]));
        if (!(t >= 0.0 && t <= 1.0)) continue;
        uint8_t b = pixel_bits(flux[j], ivar[j], andmask ? andmask[j] : 0, ormask ? ormask[j] : 0);
        b |= pixel_bits(flux[j + 1], ivar[j + 1], andmask ? andmask[j + 1] : 0,
                        ormask ? ormask[j + 1] : 0);
        out_mask[k] = b;
        if (!(b & MS_NATIVE_NODATA)) {
            double var = (1.0 - t) / ivar[j] + t / ivar[j + 1];
            out_flux[k] = (float)((1.0 - t) * flux[j] + t * flux[j + 1]);
            out_ivar[k] = (float)(1.0 / var);
        }
        good += b == 0;
    }
    return good;
}
