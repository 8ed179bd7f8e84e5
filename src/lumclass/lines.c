/* lines.c: the dwarf/giant line criteria of Li et al. 2025 Table 3 as measured indices, on
 * any rest-frame vacuum wavelength array (the native LAMOST lattice, a template's grid).
 *
 * Bands (vacuum, A; L25 converts Kirkpatrick & McCarthy 1991's air wavelengths to vacuum):
 *   CaH  (6946-7050): CaH3 of Reid, Hawley & Gizis 1995, 6960-6990 over 7042-7046 (air),
 *        i.e. 6961.9-6991.9 over 7043.9-7047.9: a ratio, smaller = deeper dip (dwarfs).
 *   K I  (7667.0, 7701.1): pseudo-EW over 7660-7674 and 7694-7708, continuum through
 *        7640-7652 and 7720-7735.
 *   Na I (8185.5, 8197.0): pseudo-EW over 8177-8203, continuum 8150-8172 and 8208-8225.
 *   Ca II (8500.4, 8544.4, 8664.5): the sum of three pseudo-EWs over 8492-8509, 8535-8554,
 *        8655-8674, one continuum line through 8475-8486 and 8700-8725.
 *   TiO5 (air 7126-7135 over 7042-7046): 7128.0-7137.0 over 7043.9-7047.9 (type, no vote).
 * A pixel counts by the overlap of its cell (between the midpoints to its neighbours) with
 * a band; a band mean is the overlap-weighted mean of the good pixels. The pseudo-continuum
 * of an EW is the straight line through the two continuum band means at the bands' centres;
 * EW = sum_lines (window / covered) sum_i overlap_i (1 - f_i / fc(x_i)). Errors propagate
 * the pixel variances 1/ivar to first order, the continuum means' included. */
#include "mstars/lumclass.h"
#include "mstars/native.h"
#include "mstars/spec.h"

#include <math.h>
#include <stddef.h>

typedef struct {
    double lo, hi;
} band;

static const band cah_num = {6961.9, 6991.9}, cah_den = {7043.9, 7047.9};
static const band tio5_num = {7128.0, 7137.0};

typedef struct {
    band blue, red;
    int n_lines;
    band line[3];
} ew_feature;

static const ew_feature ki_feat = {{7640.0, 7652.0}, {7720.0, 7735.0}, 2,
                                   {{7660.0, 7674.0}, {7694.0, 7708.0}}};
static const ew_feature nai_feat = {{8150.0, 8172.0}, {8208.0, 8225.0}, 1, {{8177.0, 8203.0}}};
static const ew_feature cat_feat = {{8475.0, 8486.0}, {8700.0, 8725.0}, 3,
                                    {{8492.0, 8509.0}, {8535.0, 8554.0}, {8655.0, 8674.0}}};

#define MIN_CONT_COVER 0.5
#define MIN_LINE_COVER 0.7

typedef struct {
    const double *w;
    const float *f, *iv;
    const uint8_t *bad;
    size_t n;
} spectrum;

static int good(const spectrum *s, size_t i, double *f, double *var)
{
    double v = s->f[i];
    if (!isfinite(v)) return 0;
    if (s->bad && s->bad[i]) return 0;
    if (s->iv) {
        double iv = s->iv[i];
        if (!(iv > 0) || !isfinite(iv)) return 0;
        *var = 1.0 / iv;
    } else {
        *var = 0.0;
    }
    *f = v;
    return 1;
}

/* Overlap of pixel i's cell with [lo, hi]. */
static double overlap(const spectrum *s, size_t i, double lo, double hi)
{
    double a = i > 0 ? 0.5 * (s->w[i - 1] + s->w[i]) : s->w[0] - 0.5 * (s->w[1] - s->w[0]);
    double b = i + 1 < s->n ? 0.5 * (s->w[i] + s->w[i + 1])
                            : s->w[i] + 0.5 * (s->w[i] - s->w[i - 1]);
    double o = fmin(b, hi) - fmax(a, lo);
    return o > 0 ? o : 0.0;
}

/* First pixel whose cell may overlap [lo, ...): binary search on the centres. */
static size_t first_pixel(const spectrum *s, double lo)
{
    size_t a = 0, b = s->n;
    while (a < b) {
        size_t m = (a + b) / 2;
        if (s->w[m] < lo) a = m + 1; else b = m;
    }
    return a > 0 ? a - 1 : 0;
}

/* Overlap-weighted mean flux of a band over good pixels and its variance; 0 when less than
 * MIN_CONT_COVER of the band is covered. */
static int band_mean(const spectrum *s, band b, double *mean, double *var)
{
    double sw = 0, sf = 0, sv = 0;
    for (size_t i = first_pixel(s, b.lo); i < s->n && s->w[i > 0 ? i - 1 : 0] <= b.hi; i++) {
        double o = overlap(s, i, b.lo, b.hi), f, v;
        if (o <= 0 || !good(s, i, &f, &v)) continue;
        sw += o;
        sf += o * f;
        sv += o * o * v;
    }
    if (!(sw >= MIN_CONT_COVER * (b.hi - b.lo))) return 0;
    *mean = sf / sw;
    *var = sv / (sw * sw);
    return 1;
}

static double ratio(const spectrum *s, band num, band den, double *err)
{
    double n, vn, d, vd;
    *err = NAN;
    if (!band_mean(s, num, &n, &vn) || !band_mean(s, den, &d, &vd) || !(d > 0)) return NAN;
    double r = n / d;
    *err = sqrt(vn / (d * d) + r * r * vd / (d * d));
    return r;
}

/* Pseudo-EW of a feature (sum over its lines), A; positive for absorption. */
static double pseudo_ew(const spectrum *s, const ew_feature *ft, double *err)
{
    *err = NAN;
    double fb, vb, fr, vr;
    if (!band_mean(s, ft->blue, &fb, &vb) || !band_mean(s, ft->red, &fr, &vr)) return NAN;
    double xb = 0.5 * (ft->blue.lo + ft->blue.hi), xr = 0.5 * (ft->red.lo + ft->red.hi);
    double ew = 0, var_pix = 0, d_fb = 0, d_fr = 0;
    for (int l = 0; l < ft->n_lines; l++) {
        band b = ft->line[l];
        double cover = 0, sum = 0, vsum = 0, db = 0, dr = 0;
        for (size_t i = first_pixel(s, b.lo); i < s->n && s->w[i > 0 ? i - 1 : 0] <= b.hi; i++) {
            double o = overlap(s, i, b.lo, b.hi), f, v;
            if (o <= 0 || !good(s, i, &f, &v)) continue;
            double t = (s->w[i] - xb) / (xr - xb);
            double fc = fb * (1.0 - t) + fr * t;
            if (!(fc > 0)) return NAN;
            cover += o;
            sum += o * (1.0 - f / fc);
            vsum += (o / fc) * (o / fc) * v;
            double g = o * f / (fc * fc); /* d(-o f/fc)/d fc */
            db += g * (1.0 - t);
            dr += g * t;
        }
        if (!(cover >= MIN_LINE_COVER * (b.hi - b.lo))) return NAN;
        double scale = (b.hi - b.lo) / cover;
        ew += scale * sum;
        var_pix += scale * scale * vsum;
        d_fb += scale * db;
        d_fr += scale * dr;
    }
    *err = sqrt(var_pix + d_fb * d_fb * vb + d_fr * d_fr * vr);
    return ew;
}

void ms_lum_measure(const double *wave, const float *flux, const float *ivar,
                    const uint8_t *bad, size_t n, ms_lum_indices *out)
{
    out->cah = out->e_cah = out->ki = out->e_ki = out->nai = out->e_nai = NAN;
    out->cat = out->e_cat = out->tio5 = out->e_tio5 = NAN;
    if (!wave || !flux || n < 2) return;
    spectrum s = {wave, flux, ivar, bad, n};
    out->cah = ratio(&s, cah_num, cah_den, &out->e_cah);
    out->tio5 = ratio(&s, tio5_num, cah_den, &out->e_tio5);
    out->ki = pseudo_ew(&s, &ki_feat, &out->e_ki);
    out->nai = pseudo_ew(&s, &nai_feat, &out->e_nai);
    out->cat = pseudo_ew(&s, &cat_feat, &out->e_cat);
    if (!ivar) { /* no noise given: no errors */
        out->e_cah = out->e_ki = out->e_nai = out->e_cat = out->e_tio5 = NAN;
    }
}

void ms_lum_measure_native(const float *flux, const float *ivar, const uint8_t *mask,
                           unsigned reject_bits, double rv_kms, ms_lum_indices *out)
{
    double wave[MS_NATIVE_NPIX];
    uint8_t bad[MS_NATIVE_NPIX];
    double shift = 1.0 + (isfinite(rv_kms) ? rv_kms : 0.0) / MS_C_KMS;
    for (size_t k = 0; k < MS_NATIVE_NPIX; k++) {
        wave[k] = pow(10.0, ms_native_loglam(k)) / shift;
        bad[k] = mask ? (uint8_t)((mask[k] & reject_bits) != 0) : 0;
    }
    ms_lum_measure(wave, flux, ivar, bad, MS_NATIVE_NPIX, out);
}
