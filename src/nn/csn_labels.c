/* csn_labels.c: labels of the synthetic training set (Z25 3.3.2, csn.h):
 *   1. isochrone points: Teff on csn.iso_teff, [M/H] on csn.iso_mh, log g from the 5 Gyr
 *      main-sequence relation (ms_mdwarf_logg_ms: the smooth fit to M-dwarf isochrones that
 *      the mock universe also follows), kept inside csn.iso_logg; [alpha/M] = 0.0 / 0.2 /
 *      0.4 at [M/H] >= 0 / -0.5 / -1.0 (linear in between, clamped);
 *   2. a Gaussian mixture around them (one component per point, equal weights, widths
 *      csn.mixture_sigma) sampled to csn.mixture_size continuous points, those outside the
 *      box [lo, hi] (the emulator's training range) rejected;
 *   3. resampling in (Teff, [M/H]) to a reference distribution: each mixture point gets
 *      the weight ref(bin) / count(bin) on a grid of csn.reference_bins, with ref from the
 *      reference sample (a CSV file with teff and m_h columns) or the Gaussian
 *      csn.reference_teff x csn.reference_mh; n labels are drawn with these weights. */
#include "mstars/csn.h"

#include "mstars/csv.h"
#include "mstars/mem.h"
#include "mstars/indices.h"

#include <math.h>
#include <string.h>

static double alpha_of(double m_h)
{
    double a = -0.4 * m_h;
    return a < 0.0 ? 0.0 : (a > 0.4 ? 0.4 : a);
}

static ms_status check_triplet(const ms_cfg_list *l, const char *key)
{
    if (l->n != 3 || !(l->v[2] > 0.0) || l->v[1] < l->v[0])
        MS_ERROR(MS_EINVAL, "configuration key 'csn.%s' must be min, max, step (step > 0)", key);
    return MS_OK;
}

ms_status ms_csn_sample_labels(const ms_cfg_csn *c, uint64_t seed, const char *ref_path,
                               const double lo[4], const double hi[4], size_t n, double *labels)
{
    MS_TRY(check_triplet(&c->iso_teff, "iso_teff"));
    MS_TRY(check_triplet(&c->iso_mh, "iso_mh"));
    if (c->iso_logg.n != 2 || c->mixture_sigma.n != 4 || c->reference_bins.n != 2 ||
        c->reference_teff.n != 2 || c->reference_mh.n != 2)
        MS_ERROR(MS_EINVAL, "configuration keys csn.iso_logg (2 values), mixture_sigma (4), "
                            "reference_bins (2), reference_teff (2), reference_mh (2)");
    if (!(c->reference_bins.v[0] > 0) || !(c->reference_bins.v[1] > 0))
        MS_ERROR(MS_EINVAL, "configuration key 'csn.reference_bins' must be positive");
    /* 1. isochrone points */
    size_t nt = (size_t)floor((c->iso_teff.v[1] - c->iso_teff.v[0]) / c->iso_teff.v[2] + 1e-9) + 1;
    size_t nm = (size_t)floor((c->iso_mh.v[1] - c->iso_mh.v[0]) / c->iso_mh.v[2] + 1e-9) + 1;
    const size_t nmix = (size_t)c->mixture_size;
    double *iso = ms_malloc_array("csn.labels.iso", nt * nm * 4, sizeof(double));
    double *mix = ms_malloc_array("csn.labels.mix", nmix * 4, sizeof(double));
    double *w = ms_malloc_array("csn.labels.w", nmix, sizeof(double));
    ms_status st = MS_OK;
    ms_csv ref;
    memset(&ref, 0, sizeof ref);
    double *hist = NULL, *refh = NULL;
    if (!iso || !mix || !w) {
        st = MS_ENOMEM;
        goto done;
    }
    size_t n_iso = 0;
    for (size_t i = 0; i < nt; i++)
        for (size_t j = 0; j < nm; j++) {
            double T = c->iso_teff.v[0] + (double)i * c->iso_teff.v[2];
            double m = c->iso_mh.v[0] + (double)j * c->iso_mh.v[2];
            double g = ms_mdwarf_logg_ms(T, m);
            if (g < c->iso_logg.v[0] || g > c->iso_logg.v[1]) continue;
            double *p = iso + 4 * n_iso++;
            p[0] = T, p[1] = g, p[2] = m, p[3] = alpha_of(m);
        }
    if (n_iso == 0) {
        st = ms_error_set(MS_EINVAL, __FILE__, __LINE__,
                          "csn labels: no isochrone point inside csn.iso_logg");
        goto done;
    }
    /* 2. the Gaussian mixture, inside the box */
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, seed);
    size_t n_mix = 0, tries = 0;
    while (n_mix < nmix && tries < 50 * nmix + 1000) {
        tries++;
        const double *p = iso + 4 * ms_nn_rng_below(&rng, n_iso);
        double *q = mix + 4 * n_mix;
        int inside = 1;
        for (int d = 0; d < 4; d++) {
            q[d] = p[d] + c->mixture_sigma.v[d] * ms_nn_rng_normal(&rng);
            if (lo && (q[d] < lo[d] || q[d] > hi[d])) inside = 0;
        }
        if (q[1] < c->iso_logg.v[0] || q[1] > c->iso_logg.v[1]) inside = 0;
        n_mix += inside;
    }
    if (n_mix < 100) {
        st = ms_error_set(MS_EINVAL, __FILE__, __LINE__,
                          "csn labels: only %zu mixture points inside the emulator's range "
                          "---> HINT: check csn.iso_teff/iso_mh against the grid",
                          n_mix);
        goto done;
    }
    /* 3. resampling in (Teff, [M/H]) to the reference distribution */
    double t0 = 1e300, t1 = -1e300, m0 = 1e300, m1 = -1e300;
    for (size_t i = 0; i < n_mix; i++) {
        const double *q = mix + 4 * i;
        t0 = fmin(t0, q[0]), t1 = fmax(t1, q[0]), m0 = fmin(m0, q[2]), m1 = fmax(m1, q[2]);
    }
    const double bt = c->reference_bins.v[0], bm = c->reference_bins.v[1];
    const size_t nbt = (size_t)((t1 - t0) / bt) + 1, nbm = (size_t)((m1 - m0) / bm) + 1;
    if (nbt * nbm > (size_t)1 << 24) {
        st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "csn labels: too many resampling bins");
        goto done;
    }
    hist = ms_calloc("csn.labels.hist", nbt * nbm, sizeof(double));
    refh = ms_calloc("csn.labels.ref", nbt * nbm, sizeof(double));
    if (!hist || !refh) {
        st = MS_ENOMEM;
        goto done;
    }
#define BIN(T, M) ((size_t)(((T) - t0) / bt) * nbm + (size_t)(((M) - m0) / bm))
    for (size_t i = 0; i < n_mix; i++) hist[BIN(mix[4 * i], mix[4 * i + 2])] += 1.0;
    if (ref_path && ref_path[0]) {
        if ((st = ms_csv_read(ref_path, &ref)) != MS_OK) goto done;
        long ct = ms_csv_column(&ref, "teff"), cm = ms_csv_column(&ref, "m_h");
        if (ct < 0 || cm < 0) {
            st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__,
                              "%s: the reference distribution needs columns teff and m_h",
                              ref_path);
            goto done;
        }
        size_t used = 0;
        for (size_t r = 0; r < ref.n_rows; r++) {
            double T = ms_csv_number(&ref, r, (size_t)ct), M = ms_csv_number(&ref, r, (size_t)cm);
            if (!isfinite(T) || !isfinite(M) || T < t0 || T > t1 || M < m0 || M > m1) continue;
            refh[BIN(T, M)] += 1.0;
            used++;
        }
        if (used == 0) {
            st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__,
                              "%s: no reference star inside the label range", ref_path);
            goto done;
        }
    } else {
        const double mt = c->reference_teff.v[0], st_ = c->reference_teff.v[1];
        const double mm = c->reference_mh.v[0], sm = c->reference_mh.v[1];
        for (size_t a = 0; a < nbt; a++)
            for (size_t b = 0; b < nbm; b++) {
                double T = t0 + ((double)a + 0.5) * bt, M = m0 + ((double)b + 0.5) * bm;
                double zt = st_ > 0 ? (T - mt) / st_ : 0.0, zm = sm > 0 ? (M - mm) / sm : 0.0;
                refh[a * nbm + b] = exp(-0.5 * (zt * zt + zm * zm));
            }
    }
    double wsum = 0.0;
    for (size_t i = 0; i < n_mix; i++) {
        size_t k = BIN(mix[4 * i], mix[4 * i + 2]);
        w[i] = refh[k] / hist[k];
        wsum += w[i];
    }
#undef BIN
    if (!(wsum > 0.0)) {
        st = ms_error_set(MS_EINVAL, __FILE__, __LINE__,
                          "csn labels: the reference distribution does not overlap the "
                          "isochrone sample");
        goto done;
    }
    /* cumulative weights, then n draws */
    for (size_t i = 1; i < n_mix; i++) w[i] += w[i - 1];
    for (size_t k = 0; k < n; k++) {
        double u = ms_nn_rng_uniform(&rng) * w[n_mix - 1];
        size_t a = 0, b = n_mix - 1;
        while (a < b) {
            size_t mid = (a + b) / 2;
            if (w[mid] < u)
                a = mid + 1;
            else
                b = mid;
        }
        memcpy(labels + 4 * k, mix + 4 * a, 4 * sizeof(double));
    }
done:
    ms_csv_free(&ref);
    ms_free(iso);
    ms_free(mix);
    ms_free(w);
    ms_free(hist);
    ms_free(refh);
    return st;
}
