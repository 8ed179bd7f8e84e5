/* native_view.c: the L25 input from the store's native pixels (seeds_summary.md 1.2 steps
 * 1-5, step 4a: 3900-8899 A): ormask pixels dropped, rest frame with the chosen RV, 1 A linear
 * grid, z-scored per spectrum. A library function of its own (no MPI, no store access) so
 * that any job (train-cnn, predict-cnn, a one-pass survey job) makes the same input from the
 * native pixels and a velocity it has chosen. */
#include "mstars/cnn.h"

#include "mstars/mem.h"
#include "mstars/native.h"
#include "mstars/spec.h"

#include <math.h>

ms_cnn_view_spec ms_cnn_view_l25(void)
{
    ms_cnn_view_spec v = {MS_CNN_L25_LO, 1.0, (size_t)(MS_CNN_L25_HI - MS_CNN_L25_LO) + 1};
    return v;
}

int ms_cnn_choose_rv(double rv_adopted, int32_t rv_flag, double z, double *v_kms)
{
    if (rv_flag == 1 && isfinite(rv_adopted)) {
        *v_kms = rv_adopted;
        return MS_CNN_RV_CATALOG;
    }
    const double v = z * MS_C_KMS;
    if (isfinite(v) && fabs(v) < 3000.0) {
        *v_kms = v;
        return MS_CNN_RV_PIPELINE;
    }
    *v_kms = NAN;
    return MS_CNN_RV_NONE;
}

ms_status ms_cnn_native_view(const ms_cnn_view_spec *v, const double *loglam, const float *flux,
                             const float *ivar, const uint8_t *mask, size_t n_pix, double v_kms,
                             float *out)
{
    const double dop = ms_spec_doppler(v_kms);
    if (!isfinite(dop)) MS_ERROR(MS_EINVAL, "cnn input: no usable velocity (%g km/s)", v_kms);
    double *wave = ms_malloc_array("cnn.native.wave", n_pix + 1, sizeof(double));
    float *iv = ms_malloc_array("cnn.native.ivar", n_pix + 1, sizeof(float));
    if (!wave || !iv) {
        ms_free(wave);
        ms_free(iv);
        return MS_ENOMEM;
    }
    /* rest frame: lambda_rest = lambda_obs / D(v); a dropped pixel has ivar 0 for ms_cnn_view */
    for (size_t k = 0; k < n_pix; k++) {
        wave[k] = pow(10.0, loglam[k]) / dop;
        iv[k] = mask[k] == 0 ? ivar[k] : 0.0f;
    }
    ms_status st = ms_cnn_view(v, wave, flux, iv, n_pix, MS_CNN_MIN_GOOD, out);
    ms_free(wave);
    ms_free(iv);
    return st;
}
