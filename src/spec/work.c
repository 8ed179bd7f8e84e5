/* work.c: the preprocessing workspace: grid, precomputed kernels and scratch buffers, one
 * allocation for everything sized by the grid, grown buffers for what depends on the
 * input length (spec_internal.h). */
#include "spec_internal.h"

#include "mstars/mem.h"

#include <math.h>
#include <string.h>

/* Round a byte count up to the 64-byte alignment of ms_malloc blocks. */
static size_t align64(size_t bytes) { return (bytes + 63) / 64 * 64; }

/* Carve `bytes` from *cursor (64-byte aligned). */
static void *carve(unsigned char **cursor, size_t bytes)
{
    void *p = *cursor;
    *cursor += align64(bytes);
    return p;
}

static ms_status check_config(const ms_cfg_preprocess *p)
{
    if (!(p->wave_step > 0) || !isfinite(p->wave_step) || !isfinite(p->wave_min) ||
        !(p->wave_max > p->wave_min) || !isfinite(p->wave_max))
        MS_ERROR(MS_EINVAL, "preprocess grid %g-%g A step %g A is empty or invalid", p->wave_min,
                 p->wave_max, p->wave_step);
    if (!(p->wave_min > 0))
        MS_ERROR(MS_EINVAL, "preprocess.wave_min %g A must be positive", p->wave_min);
    if (ms_spec_grid(p).n < 2)
        MS_ERROR(MS_EINVAL, "preprocess grid %g-%g A step %g A has fewer than 2 pixels",
                 p->wave_min, p->wave_max, p->wave_step);
    if (!(p->continuum_sigma > 0) || !(p->continuum_truncate > 0) ||
        !(p->continuum_sigma * p->continuum_truncate / p->wave_step < 1e6))
        MS_ERROR(MS_EINVAL, "preprocess.continuum_sigma %g A x continuum_truncate %g is invalid",
                 p->continuum_sigma, p->continuum_truncate);
    if (!(p->synthetic_resolution > 0) || !isfinite(p->synthetic_resolution))
        MS_ERROR(MS_EINVAL, "preprocess.synthetic_resolution %g must be positive",
                 p->synthetic_resolution);
    if (!(p->synthetic_error > 0) || !isfinite(p->synthetic_error))
        MS_ERROR(MS_EINVAL, "preprocess.synthetic_error %g must be positive", p->synthetic_error);
    return MS_OK;
}

ms_status ms_spec_work_alloc(const ms_cfg_preprocess *p, ms_spec_work **out)
{
    *out = NULL;
    MS_TRY(check_config(p));
    ms_spec_work *w = ms_calloc("spec.work", 1, sizeof *w);
    if (!w) return MS_ENOMEM;
    w->cfg = *p;
    w->grid = ms_spec_grid(p);
    const size_t n = w->grid.n;
    /* Z25 Eq. 3 kernel on the grid, cut at continuum_truncate sigma */
    const size_t K =
        (size_t)floor(p->continuum_truncate * p->continuum_sigma / p->wave_step + 1e-9);
    const size_t nk = 2 * K + 1;
    const size_t padn = ms_spec_conv_pad_len(n, nk);

    size_t bytes = 2 * align64(nk * sizeof(double)) + 6 * align64(n * sizeof(double)) +
                   align64(padn * sizeof(double)) + align64(n * sizeof(size_t)) + align64(n);
    unsigned char *cur = ms_malloc("spec.work.grid", bytes);
    if (!cur) {
        ms_free(w);
        return MS_ENOMEM;
    }
    w->block = cur;
    double *kern = carve(&cur, nk * sizeof(double));
    double *cum = carve(&cur, nk * sizeof(double));
    w->flux = carve(&cur, n * sizeof(double));
    w->ivar = carve(&cur, n * sizeof(double));
    w->cont = carve(&cur, n * sizeof(double));
    w->cden_full = carve(&cur, n * sizeof(double));
    w->scratch.num = carve(&cur, n * sizeof(double));
    w->scratch.den = carve(&cur, n * sizeof(double));
    w->scratch.xpad = carve(&cur, padn * sizeof(double));
    w->scratch.badlist = carve(&cur, n * sizeof(size_t));
    w->good = carve(&cur, n);

    /* w_i = exp(-(lambda - lambda_i)^2 / sigma^2): Z25 Eq. 3 exactly as printed, i.e. with
     * sigma^2 and not 2 sigma^2 (a Gaussian of standard deviation sigma / sqrt(2), 21.2 A
     * for sigma = 30 A). The normalisation cancels in Eq. 2. */
    const double inv_s2 = 1.0 / (p->continuum_sigma * p->continuum_sigma);
    double acc = 0.0;
    for (size_t m = 0; m < nk; m++) {
        double d = ((double)m - (double)K) * p->wave_step;
        kern[m] = exp(-d * d * inv_s2);
        acc += kern[m];
        cum[m] = acc;
    }
    w->ckernel = (ms_spec_kernel){K, kern, cum};
    ms_spec_smooth_den_full(w->ckernel, n, w->cden_full);
    w->scratch.den_full = w->cden_full;
    *out = w;
    return MS_OK;
}

void ms_spec_work_free(ms_spec_work *w)
{
    if (!w) return;
    ms_free(w->block);
    ms_free(w->native_good);
    ms_free(w->lnx);    /* start of the LSF block */
    ms_free(w->fine_u); /* start of the fine-grid block */
    ms_free(w);
}

ms_wgrid ms_spec_work_grid(const ms_spec_work *w) { return w->grid; }

ms_status ms_spec_work_native(ms_spec_work *w, size_t n_native)
{
    if (n_native <= w->native_cap) return MS_OK;
    uint8_t *g = ms_malloc("spec.work.native", n_native);
    if (!g) return MS_ENOMEM;
    ms_free(w->native_good);
    w->native_good = g;
    w->native_cap = n_native;
    return MS_OK;
}

ms_status ms_spec_work_synthetic(ms_spec_work *w)
{
    if (w->lnx) return MS_OK;
    const size_t n = w->grid.n;
    const size_t L = (size_t)ceil(MS_SPEC_LSF_TRUNCATE * MS_SPEC_LSF_OVERSAMPLE);
    const size_t nk = 2 * L + 1;
    unsigned char *cur =
        ms_malloc("spec.work.lsf", align64(n * sizeof(double)) + 2 * align64(nk * sizeof(double)));
    if (!cur) return MS_ENOMEM;
    w->lnx = carve(&cur, n * sizeof(double));
    w->lkern = carve(&cur, nk * sizeof(double));
    w->lcum = carve(&cur, nk * sizeof(double));
    for (size_t j = 0; j < n; j++) w->lnx[j] = log(w->grid.start + (double)j * w->grid.step);
    /* LSF (method.md 2.1): Gaussian of sigma_LSF = 1 / (2.3548 R) in ln lambda, i.e.
     * FWHM = lambda / R, sampled at h = sigma_LSF / MS_SPEC_LSF_OVERSAMPLE. The model is
     * first deposited onto that grid with tent weights (variance h^2 / 6 on average, see
     * synthetic.c), so the Gaussian applied here has sigma^2 = sigma_LSF^2 - h^2 / 6 and
     * the product keeps the LSF's second moment. In units of h: */
    const double os = MS_SPEC_LSF_OVERSAMPLE;
    const double sg = sqrt(os * os - 1.0 / 6.0);
    double acc = 0.0;
    for (size_t m = 0; m < nk; m++) {
        double d = ((double)m - (double)L) / sg;
        w->lkern[m] = exp(-0.5 * d * d);
        acc += w->lkern[m];
        w->lcum[m] = acc;
    }
    w->lhalf = L;
    return MS_OK;
}

ms_status ms_spec_work_fine(ms_spec_work *w, size_t n_in, size_t n_fine)
{
    if (n_in <= w->fine_in_cap && n_fine <= w->fine_cap) return MS_OK;
    if (n_in < w->fine_in_cap) n_in = w->fine_in_cap;
    if (n_fine < w->fine_cap) n_fine = w->fine_cap;
    const size_t nk = 2 * w->lhalf + 1;
    const size_t padn = ms_spec_conv_pad_len(n_fine, nk);
    /* one block: ln(model wavelengths), fine, fine_conv, num, den, xpad */
    size_t bytes = align64(n_in * sizeof(double)) + 4 * align64(n_fine * sizeof(double)) +
                   align64(padn * sizeof(double));
    unsigned char *cur = ms_malloc("spec.work.fine", bytes);
    if (!cur) return MS_ENOMEM;
    ms_free(w->fine_u);
    w->fine_u = carve(&cur, n_in * sizeof(double));
    w->fine = carve(&cur, n_fine * sizeof(double));
    w->fine_conv = carve(&cur, n_fine * sizeof(double));
    w->fine_scratch.num = carve(&cur, n_fine * sizeof(double));
    w->fine_scratch.den = carve(&cur, n_fine * sizeof(double));
    w->fine_scratch.xpad = carve(&cur, padn * sizeof(double));
    w->fine_scratch.badlist = NULL;  /* the fine grid has no bad samples */
    w->fine_scratch.den_full = NULL; /* its length changes from model to model */
    w->fine_in_cap = n_in;
    w->fine_cap = n_fine;
    return MS_OK;
}
