/* synthetic.c: a high-resolution model spectrum through a Gaussian LSF of resolving power
 * R, constant in ln(lambda), onto the output grid (method.md 2.1; Z25 2.2 "convolved to a
 * resolution of R ~ 2000").
 *
 * 1. Fine grid: uniform in u = ln(lambda) with step h = sigma_LSF / 8, sigma_LSF =
 *    1 / (2.3548 R) (FWHM = lambda / R), covering the output grid plus the LSF's reach.
 * 2. The model, taken as piecewise linear in u between its points (any sampling: 0.25 A
 *    mocks, 2-5 A real BT-Settl, finer PHOENIX), is DEPOSITED onto the fine nodes with
 *    linear (tent) weights, c_j = (1/h) integral f(u) T_j(u) du, T_j the hat function of
 *    node j, integrated exactly (Simpson's rule is exact for the quadratic f * T on each
 *    piece between model points and nodes). Not point-sampled: lines narrower than h keep
 *    their equivalent width (the tents sum to 1) and their centroid (the tents reproduce
 *    u); a box average would keep the first but move each unresolved line to its cell
 *    centre (up to h/2 ~ 4 km/s).
 * 3. The deposit adds variance phi (1 - phi) h^2 to a feature at fraction phi between
 *    nodes, h^2/6 on average (and c_j = f + f'' h^2/12 for smooth f). The Gaussian applied
 *    on the fine grid has sigma^2 = sigma_LSF^2 - h^2/6 (work.c), so the LSF's second
 *    moment is kept on average (to +-h^2/12, i.e. 0.07% of the FWHM). Cut at 6 sigma and
 *    renormalised where it runs past the model's ends.
 * 4. Linear interpolation in u onto the output pixels (h is 1/8 of sigma_LSF, so this
 *    costs < 0.2% of a line's depth).
 * The model must cover [wave_min, wave_max] (to 1e-3 of a pixel); output pixels within
 * h/2 of a model end that barely covers the grid take the nearest fine sample. */
#include "spec_internal.h"

#include <math.h>

/* The fine grid may not exceed this many samples (R up to ~2e6 over 6000-8900 A). */
#define MAX_FINE ((size_t)1 << 23)

static ms_status check_model(const ms_spec_work *w, const double *wave, size_t n)
{
    const ms_cfg_preprocess *p = &w->cfg;
    if (n < 2) MS_ERROR(MS_EFORMAT, "model spectrum has %zu wavelength points", n);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(wave[i]) || !(wave[i] > 0))
            MS_ERROR(MS_EFORMAT, "model wavelength %zu is %g", i, wave[i]);
        if (i > 0 && !(wave[i] > wave[i - 1]))
            MS_ERROR(MS_EFORMAT,
                     "model wavelengths not strictly increasing at point %zu (%.4f A after %.4f A)",
                     i, wave[i], wave[i - 1]);
    }
    const double tol = 1e-3 * w->grid.step;
    const double last = w->grid.start + (double)(w->grid.n - 1) * w->grid.step;
    if (wave[0] > w->grid.start + tol || wave[n - 1] < last - tol)
        MS_ERROR(MS_EFORMAT, "model wavelength coverage %.1f-%.1f A misses the grid %.0f-%.0f A",
                 wave[0], wave[n - 1], p->wave_min, last);
    return MS_OK;
}

/* First index i with wave[i] > x (n when none). */
static size_t upper_bound(const double *wave, size_t n, double x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (wave[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Tent deposit (step 2): c[k] = (1/h) integral f T_{jlo+k}, k < nv, of the piecewise-linear
 * model (u[], f[]: m points, u[0] <= node jlo - 1, u[m-1] >= node jhi + 1), walking the
 * intervals between nodes and cutting them at the model points. On a piece [a, b] where f
 * and the falling tent T are both linear, Simpson's rule (exact) reduces to
 *   integral f T = (b - a) / 6 (2 f_a T_a + 2 f_b T_b + f_a T_b + f_b T_a). */
static void tent_deposit(const double *u, const double *f, size_t m, double ubase, double h,
                         size_t jlo, size_t nv, double *c)
{
    const double inv_h = 1.0 / h;
    for (size_t k = 0; k < nv; k++) c[k] = 0.0;
    size_t s = 0; /* model segment [u[s], u[s+1]] */
    double slope = (f[1] - f[0]) / (u[1] - u[0]);
    for (size_t j = jlo - 1; j < jlo + nv; j++) { /* interval [node j, node j + 1] */
        const double n1 = ubase + (double)(j + 1) * h;
        double alpha = ubase + (double)j * h;
        double left = 0.0, total = 0.0; /* integrals of f T_j and of f over the interval */
        while (s + 2 < m && u[s + 1] <= alpha) {
            s++;
            slope = (f[s + 1] - f[s]) / (u[s + 1] - u[s]);
        }
        double fa = f[s] + slope * (alpha - u[s]), ta = 1.0;
        while (alpha < n1) {
            const double beta = u[s + 1] < n1 && s + 2 < m ? u[s + 1] : n1;
            const double fb = f[s] + slope * (beta - u[s]), tb = (n1 - beta) * inv_h;
            const double d = beta - alpha;
            left += d * (2.0 * (fa * ta + fb * tb) + fa * tb + fb * ta);
            total += d * (fa + fb);
            alpha = beta;
            fa = fb;
            ta = tb;
            if (beta < n1) { /* crossed a model point: next segment */
                s++;
                slope = (f[s + 1] - f[s]) / (u[s + 1] - u[s]);
                fa = f[s] + slope * (alpha - u[s]);
            }
        }
        left *= 1.0 / 6.0;
        total *= 0.5;
        /* node j gets the falling tent, node j + 1 the rising one (1 - T_j) */
        if (j >= jlo) c[j - jlo] += left * inv_h;
        if (j + 1 < jlo + nv) c[j + 1 - jlo] += (total - left) * inv_h;
    }
}

ms_status ms_spec_convolve_synthetic(ms_spec_work *w, const double *wave, const double *flux,
                                     size_t n, double *flux_out)
{
    MS_TRY(check_model(w, wave, n));
    MS_TRY(ms_spec_work_synthetic(w));
    const size_t ng = w->grid.n, L = w->lhalf;

    /* 1. fine grid u_j = ubase + j h: the output grid +- (L + 3) samples */
    const double sigma = 1.0 / (MS_SPEC_FWHM_SIGMA * w->cfg.synthetic_resolution);
    const double h = sigma / MS_SPEC_LSF_OVERSAMPLE;
    const double ulo = w->lnx[0], uhi = w->lnx[ng - 1];
    const double span = (uhi - ulo) / h;
    if (!(span < (double)MAX_FINE))
        MS_ERROR(MS_EINVAL, "synthetic_resolution %g needs %.3g fine samples (limit %zu)",
                 w->cfg.synthetic_resolution, span, MAX_FINE);
    const size_t margin = L + 3;
    const size_t nf = (size_t)ceil(span) + 2 * margin + 1;
    const double ubase = ulo - (double)margin * h;
#define NODE(j) (ubase + (double)(j)*h)

    /* fine nodes whose whole tent [node - h, node + h] lies inside the model: jlo..jhi */
    const double uL = log(wave[0]), uR = log(wave[n - 1]);
    size_t jlo = 1, jhi = nf - 2;
    while (jlo < nf - 1 && NODE(jlo - 1) < uL) jlo++;
    while (jhi > jlo && NODE(jhi + 1) > uR) jhi--;
    if (jlo >= nf - 1 || jhi < jlo + 1)
        MS_ERROR(MS_EFORMAT, "model wavelength range %.2f-%.2f A is too short", wave[0],
                 wave[n - 1]);
    const size_t nv = jhi - jlo + 1;

    /* model points spanning nodes jlo - 1 .. jhi + 1 (a node a rounding error outside
     * [u[0], u[m-1]] is extrapolated harmlessly) */
    size_t ia = upper_bound(wave, n, exp(NODE(jlo - 1)));
    ia = ia >= 1 ? ia - 1 : 0;
    size_t ib = upper_bound(wave, n, exp(NODE(jhi + 1)));
    if (ib > n - 1) ib = n - 1;
    const size_t m = ib - ia + 1;
    MS_TRY(ms_spec_work_fine(w, m, nv));
    double *u = w->fine_u;
    for (size_t i = 0; i < m; i++) {
        if (!isfinite(flux[ia + i]))
            MS_ERROR(MS_EFORMAT, "model flux not finite at %.2f A", wave[ia + i]);
        u[i] = log(wave[ia + i]);
    }
#undef NODE

    /* 2. tent deposit onto the fine nodes */
    tent_deposit(u, flux + ia, m, ubase, h, jlo, nv, w->fine);

    /* 3. Gaussian LSF, renormalised at the model's ends */
    ms_spec_kernel lk = {L, w->lkern, w->lcum};
    ms_spec_smooth(w->fine, NULL, nv, lk, w->fine_scratch, w->fine_conv);

    /* 4. linear in u onto the output grid */
    const double *fc = w->fine_conv;
    for (size_t j = 0; j < ng; j++) {
        double pos = (w->lnx[j] - ubase) / h - (double)jlo;
        if (!(pos > 0.0)) {
            flux_out[j] = fc[0];
        } else if (pos >= (double)(nv - 1)) {
            flux_out[j] = fc[nv - 1];
        } else {
            size_t i = (size_t)pos;
            double t = pos - (double)i;
            flux_out[j] = (1.0 - t) * fc[i] + t * fc[i + 1];
        }
    }
    return MS_OK;
}
