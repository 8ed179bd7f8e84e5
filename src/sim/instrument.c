/* instrument.c: what the models never have -- tellurics, Doppler shift, the LAMOST LSF and
 * pixels, flux-calibration error, sky, noise and masks.
 *
 * Order for one observation (rest-frame hi-res flux in, LAMOST pixels out):
 *   1. telluric absorption exp(-(airmass tau_O2 + pwv tau_H2O)) evaluated at the topocentric
 *      wavelength of each rest-frame pixel, lambda_rest D(rv) / (1 + helio_rv / c), since the
 *      files are heliocentric (O2 B 6868 A, O2 A 7594 A, H2O 5870-6000, 6460-6610, 7150-7350,
 *      8110-8360, 8920-9350 A);
 *   2. Gaussian LSF sampled at the LAMOST pixel centres lambda_i = 10^(3.5682 + 1e-4 i) shifted
 *      to the rest frame, resolving power R(lambda) = R0 (1 + tilt u - 0.06 u^2),
 *      u = (lambda - 6500)/2600, R0 ~ 1800 varying with fibre and spectrograph;
 *   3. flux-calibration error exp(sum_k c_k P_k(t)), Legendre P_1..P_3 over 3700-9100 A;
 *   4. flux level: the median r-band (5500-6900 A) flux becomes obs->flux_level;
 *   5. sky: continuum sky_frac * flux_level * (6200/lambda) plus OH/O I/Na sky lines through
 *      the LSF; 3% residuals of the sky lines; ORMASK BRIGHTSKY where a line dominates;
 *   6. noise: sigma_i = k sqrt(F_i + S_i), k set so that the median of F/sigma over the r band
 *      is obs->snr_r; SNRU..SNRZ are the medians over u < 4000, g 4000-5500, r 5500-6900,
 *      i 6900-8400, z > 8400 A (S/N_i > S/N_r follows for M dwarfs from their red slope);
 *   7. bad-pixel runs: Poisson(0.8) runs of 1-60 pixels with ANDMASK = ORMASK = BADCCD or
 *      NODATA and IVAR 0. */
#include "model_internal.h"

#include "mstars/mem.h"
#include "mstars/spec.h"
#include "mstars/stats.h"

#include <math.h>
#include <string.h>

#define LN10 2.302585092994046
#define MASK_BADCCD 1.0f
#define MASK_BRIGHTSKY 8.0f
#define MASK_NODATA 32.0f

typedef struct {
    int o2;             /* 1: scales with airmass; 0: with pwv */
    sim_component seg;  /* template on the model grid (topocentric wavelengths) */
} tell_segment;

#define MAX_TELL 8
#define MAX_SKY 160

struct ms_sim_instrument {
    const ms_sim_model *m;
    int ntell;
    tell_segment tell[MAX_TELL];
    double ln_lamost[MS_SIM_LAMOST_NPIX_MAX];
    double wave_lamost[MS_SIM_LAMOST_NPIX_MAX];
    int band_lo[5], band_hi[5]; /* pixel ranges [lo, hi) of u g r i z */
    int nsky;
    double sky_wave[MAX_SKY], sky_amp[MAX_SKY]; /* amplitude: line flux (A) per unit continuum */
};

struct ms_sim_workspace {
    size_t n;
    double *f;   /* [n] hi-res flux on the model grid */
    double *f2;  /* [n] companion */
    double sig[MS_SIM_LAMOST_NPIX_MAX], lnr[MS_SIM_LAMOST_NPIX_MAX];
    double tmp[MS_SIM_LAMOST_NPIX_MAX], sky[MS_SIM_LAMOST_NPIX_MAX];
    double sigma[MS_SIM_LAMOST_NPIX_MAX];
    double fc[MS_SIM_LAMOST_NPIX_MAX]; /* flux-calibration multiplier (1 without) */
};

static double doppler(double v) { return sqrt((1.0 + v / MS_C_KMS) / (1.0 - v / MS_C_KMS)); }

double ms_sim_lsf_resolution(const ms_sim_obs *obs, double lambda)
{
    double u = (lambda - 6500.0) / 2600.0;
    return obs->lsf_r0 * (1.0 + obs->lsf_tilt * u - 0.06 * u * u);
}

/* ------------------------------------------------------------------------------------------ */

static ms_status add_tell(ms_sim_instrument *inst, int o2, double lo, double hi)
{
    if (inst->ntell >= MAX_TELL) MS_ERROR(MS_EINVAL, "sim instrument: too many telluric segments");
    tell_segment *t = &inst->tell[inst->ntell];
    size_t j0, j1;
    ms_sim_model_range(inst->m, lo, hi, &j0, &j1);
    if (j1 <= j0) MS_ERROR(MS_EINVAL, "sim instrument: telluric segment outside the grid");
    t->seg.tau = ms_calloc("sim.tell", j1 - j0, sizeof(double));
    if (!t->seg.tau) return MS_ENOMEM;
    t->seg.j0 = j0;
    t->seg.j1 = j1;
    t->o2 = o2;
    inst->ntell++;
    return MS_OK;
}

/* Water: a smooth bump over [lo, hi] times a forest of narrow lines. */
static void water(const ms_sim_model *m, sim_component *c, double lo, double hi, double amp,
                  uint64_t seed)
{
    ms_sim_rng r;
    ms_sim_rng_seed(&r, 0x54454C4CULL, MS_SIM_STREAM_MODEL, seed);
    double lam = lo;
    const double density = 1.5, width = 0.25;
    for (;;) {
        lam += -log(ms_sim_rng_uniform(&r)) / density;
        if (lam > hi) break;
        double x = (lam - lo) / (hi - lo);
        double env = sin(M_PI * x);
        double a = -log(ms_sim_rng_uniform(&r)) * amp * env * env /
                   (density * sqrt(2.0 * M_PI) * width) * 0.7;
        sim_add_gauss_line(m, c, lam, width, a);
    }
    for (size_t j = c->j0; j < c->j1; j++) {
        double x = (m->wave[j] - lo) / (hi - lo);
        if (x > 0 && x < 1) c->tau[j - c->j0] += 0.3 * amp * sin(M_PI * x) * sin(M_PI * x);
    }
}

ms_status ms_sim_instrument_alloc(const ms_sim_model *m, ms_sim_instrument **out)
{
    *out = NULL;
    ms_sim_instrument *inst = ms_calloc("sim.instrument", 1, sizeof *inst);
    if (!inst) return MS_ENOMEM;
    inst->m = m;
    ms_status st = MS_OK;
    /* O2 B and A bands: bandheads with forests (scaled by airmass) */
    static const sim_band o2b = {6868.0, 55.0, 40.0, 0.8, 0.30, 1.0, 0.22};
    static const sim_band o2a = {7594.0, 110.0, 60.0, 2.5, 0.30, 1.0, 0.22};
    static const double h2o[][3] = {{5870, 6000, 0.06}, {6460, 6610, 0.08}, {7150, 7350, 0.45},
                                    {8110, 8360, 0.30}, {8920, 9350, 0.80}};
    if ((st = add_tell(inst, 1, 6862.0, 6925.0)) == MS_OK)
        sim_add_band(m, &inst->tell[inst->ntell - 1].seg, &o2b, 0x0B, 0.0, 1.0);
    if (st == MS_OK && (st = add_tell(inst, 1, 7588.0, 7706.0)) == MS_OK)
        sim_add_band(m, &inst->tell[inst->ntell - 1].seg, &o2a, 0x0A, 0.0, 1.0);
    for (size_t i = 0; st == MS_OK && i < sizeof h2o / sizeof h2o[0]; i++)
        if ((st = add_tell(inst, 0, h2o[i][0], h2o[i][1])) == MS_OK)
            water(m, &inst->tell[inst->ntell - 1].seg, h2o[i][0], h2o[i][1], h2o[i][2], 20 + i);
    if (st != MS_OK) {
        ms_sim_instrument_free(inst);
        return st;
    }
    /* LAMOST pixels and bands */
    static const double edges[6] = {0, 4000, 5500, 6900, 8400, 1e9};
    for (int b = 0; b < 5; b++) inst->band_lo[b] = inst->band_hi[b] = -1;
    for (int i = 0; i < MS_SIM_LAMOST_NPIX_MAX; i++) {
        double lg = MS_SIM_LAMOST_COEFF0 + MS_SIM_LAMOST_COEFF1 * i;
        inst->ln_lamost[i] = lg * LN10;
        inst->wave_lamost[i] = pow(10.0, lg);
        for (int b = 0; b < 5; b++)
            if (inst->wave_lamost[i] >= edges[b] && inst->wave_lamost[i] < edges[b + 1]) {
                if (inst->band_lo[b] < 0) inst->band_lo[b] = i;
                inst->band_hi[b] = i + 1;
            }
    }
    /* sky lines: O I, Na D, and OH bands with deterministic line positions */
    static const double atomic[][2] = {{5578.89, 25.0}, {5891.6, 4.0}, {5897.6, 3.0},
                                       {6302.05, 8.0},  {6365.54, 3.0}};
    static const double oh[][2] = {{6830, 6880}, {7240, 7370}, {7710, 7760}, {7820, 7870},
                                   {7910, 8000}, {8280, 8400}, {8420, 8470}, {8750, 8840},
                                   {8880, 8925}, {8940, 9100}};
    for (size_t i = 0; i < sizeof atomic / sizeof atomic[0]; i++) {
        inst->sky_wave[inst->nsky] = atomic[i][0];
        inst->sky_amp[inst->nsky++] = atomic[i][1];
    }
    ms_sim_rng r;
    ms_sim_rng_seed(&r, 0x534B59ULL, MS_SIM_STREAM_MODEL, 1);
    for (size_t b = 0; b < sizeof oh / sizeof oh[0]; b++)
        for (int k = 0; k < 10 && inst->nsky < MAX_SKY; k++) {
            inst->sky_wave[inst->nsky] = oh[b][0] + (oh[b][1] - oh[b][0]) * ms_sim_rng_uniform(&r);
            inst->sky_amp[inst->nsky++] = 2.0 + 10.0 * ms_sim_rng_uniform(&r);
        }
    *out = inst;
    return MS_OK;
}

void ms_sim_instrument_free(ms_sim_instrument *inst)
{
    if (!inst) return;
    for (int i = 0; i < inst->ntell; i++) ms_free(inst->tell[i].seg.tau);
    ms_free(inst);
}

ms_status ms_sim_workspace_alloc(const ms_sim_model *m, ms_sim_workspace **out)
{
    *out = NULL;
    ms_sim_workspace *ws = ms_calloc("sim.workspace", 1, sizeof *ws);
    if (!ws) return MS_ENOMEM;
    ws->n = ms_sim_model_npix(m);
    ws->f = ms_calloc("sim.ws.f", ws->n, sizeof(double));
    ws->f2 = ms_calloc("sim.ws.f2", ws->n, sizeof(double));
    if (!ws->f || !ws->f2) {
        ms_sim_workspace_free(ws);
        return MS_ENOMEM;
    }
    *out = ws;
    return MS_OK;
}

void ms_sim_workspace_free(ms_sim_workspace *ws)
{
    if (!ws) return;
    ms_free(ws->f);
    ms_free(ws->f2);
    ms_free(ws);
}

/* ------------------------------------------------------------------------------------------ */


/* Median of v over pixels [lo, hi) with finite values; NaN when none. */
static double band_median(const double *v, int lo, int hi, int npix, double *scratch)
{
    if (hi > npix) hi = npix;
    size_t n = 0;
    for (int i = lo; i < hi; i++)
        if (isfinite(v[i])) scratch[n++] = v[i];
    /* the upper median (the n/2-th smallest) for even n, as the mock has always drawn it */
    return n ? ms_stats_select(scratch, n, n / 2) : NAN;
}

/* Telluric absorption on the rest-frame hi-res flux ws->f over [ja, jb). */
static void apply_tellurics(const ms_sim_instrument *inst, const ms_sim_obs *obs, double lnD,
                            size_t ja, size_t jb, double *f)
{
    const ms_sim_model *m = inst->m;
    /* rest pixel j sits at topocentric template index j + delta */
    double delta = (lnD - log(1.0 + obs->helio_rv / MS_C_KMS)) / m->h;
    for (int s = 0; s < inst->ntell; s++) {
        const tell_segment *t = &inst->tell[s];
        double scale = t->o2 ? obs->airmass : obs->pwv;
        if (scale <= 0) continue;
        double a = ceil((double)t->seg.j0 - delta), b = floor((double)t->seg.j1 - 1 - delta);
        if (a < (double)ja) a = (double)ja;
        if (b > (double)jb - 2) b = (double)jb - 2;
        for (double jd = a; jd <= b; jd += 1.0) {
            size_t j = (size_t)jd;
            double x = jd + delta - (double)t->seg.j0;
            size_t k = (size_t)x;
            double fr = x - (double)k;
            double tau = t->seg.tau[k];
            if (k + 1 < t->seg.j1 - t->seg.j0) tau += fr * (t->seg.tau[k + 1] - tau);
            f[j] *= sim_exp(-scale * tau);
        }
    }
}

/* Legendre P1..P3 flux-calibration multiplier. */
static double fluxcal(const ms_sim_obs *obs, double lambda)
{
    double t = 2.0 * (lambda - 3700.0) / (9100.0 - 3700.0) - 1.0;
    double p1 = t, p2 = 0.5 * (3 * t * t - 1), p3 = 0.5 * (5 * t * t * t - 3 * t);
    return sim_exp(obs->fluxcal[0] + obs->fluxcal[1] * p1 + obs->fluxcal[2] * p2 +
                   obs->fluxcal[3] * p3);
}

/* Steps 1-4: ws->f[ja, jb) holds the rest-frame hi-res flux; fills out->wave, out->model,
 * out->npix; ws->sig holds the LSF sigma (ln lambda) per pixel. */
static ms_status render(const ms_sim_instrument *inst, const ms_sim_obs *obs, double rv,
                        double input_r, int flags, ms_sim_workspace *ws, size_t ja, size_t jb,
                        ms_sim_spectrum *out)
{
    const ms_sim_model *m = inst->m;
    int npix = obs->npix;
    if (npix < 100 || npix > MS_SIM_LAMOST_NPIX_MAX)
        MS_ERROR(MS_EINVAL, "sim observe: %d pixels (100..%d allowed)", npix, MS_SIM_LAMOST_NPIX_MAX);
    double lnD = log(doppler(rv));
    if (flags & MS_SIM_OBS_TELLURIC) apply_tellurics(inst, obs, lnD, ja, jb, ws->f);
    for (int i = 0; i < npix; i++) {
        double lam = inst->wave_lamost[i];
        ws->sig[i] = 1.0 / (2.0 * sqrt(2.0 * log(2.0)) * ms_sim_lsf_resolution(obs, lam));
        if (input_r > 0) { /* the input is already at input_r: apply the difference kernel */
            double si = 1.0 / (2.0 * sqrt(2.0 * log(2.0)) * input_r);
            double s2 = ws->sig[i] * ws->sig[i] - si * si, smin = 0.04 * ws->sig[i] * ws->sig[i];
            ws->sig[i] = sqrt(s2 > smin ? s2 : smin);
        }
        ws->lnr[i] = inst->ln_lamost[i] - lnD;
        out->wave[i] = (float)lam;
    }
    sim_lsf_apply_ln(m, ws->f, 0, ws->lnr, ws->sig, 0, (size_t)npix, out->model);
    for (int i = 0; i < npix; i++)
        ws->fc[i] = (flags & MS_SIM_OBS_FLUXCAL) ? fluxcal(obs, inst->wave_lamost[i]) : 1.0;
    for (int i = 0; i < npix; i++) out->model[i] *= ws->fc[i];
    double med = band_median(out->model, inst->band_lo[2], inst->band_hi[2], npix, ws->tmp);
    if (!(med > 0)) {
        /* short coverage: normalise on what there is */
        med = band_median(out->model, 0, npix, npix, ws->tmp);
        if (!(med > 0)) MS_ERROR(MS_EFORMAT, "sim observe: observation %ld has no flux", obs->index);
    }
    double scale = obs->flux_level / med;
    for (int i = 0; i < npix; i++) out->model[i] *= scale;
    out->npix = npix;
    return MS_OK;
}

/* Hi-res pixel range the LAMOST pixels need, with LSF margin. */
static void needed_range(const ms_sim_instrument *inst, const ms_sim_obs *obs, double rv,
                         size_t *ja, size_t *jb)
{
    const ms_sim_model *m = inst->m;
    double lnD = log(doppler(rv));
    double lo = exp(inst->ln_lamost[0] - lnD), hi = exp(inst->ln_lamost[obs->npix - 1] - lnD);
    ms_sim_model_range(m, lo * (1.0 - 6e-3), hi * (1.0 + 6e-3), ja, jb);
}

ms_status ms_sim_observe_hires(const ms_sim_model *m, const ms_sim_instrument *inst,
                               const double *flux_hires, double rv, const ms_sim_obs *obs,
                               int flags, ms_sim_workspace *ws, ms_sim_spectrum *out)
{
    if (inst->m != m) MS_ERROR(MS_EINVAL, "sim observe: instrument built for another model");
    size_t ja, jb;
    needed_range(inst, obs, rv, &ja, &jb);
    memcpy(ws->f + ja, flux_hires + ja, (jb - ja) * sizeof(double));
    MS_TRY(render(inst, obs, rv, 0.0, flags, ws, ja, jb, out));
    for (int i = 0; i < out->npix; i++) {
        out->flux[i] = (float)out->model[i];
        out->ivar[i] = 1.0f;
        out->andmask[i] = out->ormask[i] = 0.0f;
        out->norm[i] = 1.0f;
    }
    for (int b = 0; b < 5; b++) out->snr[b] = NAN;
    return MS_OK;
}

static ms_status observe_finish(const ms_sim_instrument *inst, const ms_sim_obs *obs, double rv,
                                double input_r, double norm_teff, uint64_t seed, int flags,
                                ms_sim_workspace *ws, size_t ja, size_t jb, ms_sim_spectrum *out);

void ms_sim_observe_range(const ms_sim_instrument *inst, const ms_sim_obs *obs, double rv,
                          size_t *ja, size_t *jb)
{
    needed_range(inst, obs, rv, ja, jb);
}

ms_status ms_sim_observe_spectrum(const ms_sim_model *m, const ms_sim_instrument *inst,
                                  const double *flux_hires, double rv, double input_r,
                                  double norm_teff, const ms_sim_obs *obs, uint64_t seed,
                                  int flags, ms_sim_workspace *ws, ms_sim_spectrum *out)
{
    if (inst->m != m) MS_ERROR(MS_EINVAL, "sim observe: instrument built for another model");
    if (obs->npix < 100 || obs->npix > MS_SIM_LAMOST_NPIX_MAX)
        MS_ERROR(MS_EINVAL, "sim observe: %d pixels (100..%d allowed)", obs->npix,
                 MS_SIM_LAMOST_NPIX_MAX);
    if (!(norm_teff > 0)) MS_ERROR(MS_EINVAL, "sim observe: NORMALIZATION Teff %g", norm_teff);
    size_t ja, jb;
    needed_range(inst, obs, rv, &ja, &jb);
    memcpy(ws->f + ja, flux_hires + ja, (jb - ja) * sizeof(double));
    return observe_finish(inst, obs, rv, input_r, norm_teff, seed, flags, ws, ja, jb, out);
}

ms_status ms_sim_observe(const ms_sim_model *m, const ms_sim_instrument *inst,
                         const ms_sim_star *star, const ms_sim_obs *obs, uint64_t seed,
                         int flags, ms_sim_workspace *ws, ms_sim_spectrum *out)
{
    if (inst->m != m) MS_ERROR(MS_EINVAL, "sim observe: instrument built for another model");
    if (obs->npix < 100 || obs->npix > MS_SIM_LAMOST_NPIX_MAX)
        MS_ERROR(MS_EINVAL, "sim observe: %d pixels (100..%d allowed)", obs->npix,
                 MS_SIM_LAMOST_NPIX_MAX);
    double rv = star->rv;
    size_t ja, jb;
    needed_range(inst, obs, rv, &ja, &jb);
    /* the star */
    MS_TRY(ms_sim_model_flux(m, &star->lab, MS_SIM_OBSERVED, ja, jb, NULL, ws->f + ja));
    /* an unresolved companion: cooler, scaled by its radius squared, Doppler-offset */
    if (star->binary) {
        long k2 = lround(log(doppler(star->dv2)) / m->h);
        size_t ca = ja, cb = jb;
        if (k2 > 0) ca = ja > (size_t)k2 ? ja - (size_t)k2 : 0;
        if (k2 < 0) cb = jb + (size_t)(-k2) < m->n ? jb + (size_t)(-k2) : m->n;
        MS_TRY(ms_sim_model_flux(m, &star->lab2, MS_SIM_OBSERVED, ca, cb, NULL, ws->f2 + ca));
        double w = star->radius2 * star->radius2;
        for (size_t j = ja; j < jb; j++) {
            long src = (long)j - k2;
            if (src >= (long)ca && src < (long)cb) ws->f[j] += w * ws->f2[src];
        }
    }
    /* H-alpha emission with the star's equivalent width over its local continuum */
    if (star->active && star->halpha_ew > 0) {
        size_t a, b;
        double cont = 0;
        int nc = 0;
        ms_sim_model_range(m, 6540.0, 6550.0, &a, &b);
        for (size_t j = a; j < b; j++, nc++) cont += ws->f[j];
        ms_sim_model_range(m, 6580.0, 6590.0, &a, &b);
        for (size_t j = a; j < b; j++, nc++) cont += ws->f[j];
        cont /= nc > 0 ? nc : 1;
        const double c0 = 6564.61, sg = 0.7;
        ms_sim_model_range(m, c0 - 6 * sg, c0 + 6 * sg, &a, &b);
        double amp = star->halpha_ew * cont / (sqrt(2.0 * M_PI) * sg);
        for (size_t j = a; j < b; j++) {
            double d = (m->wave[j] - c0) / sg;
            ws->f[j] += amp * exp(-0.5 * d * d);
        }
    }
    return observe_finish(inst, obs, rv, 0.0, star->lab.teff, seed, flags, ws, ja, jb, out);
}

/* Steps 1-7 for the rest-frame hi-res flux in ws->f[ja, jb). */
static ms_status observe_finish(const ms_sim_instrument *inst, const ms_sim_obs *obs, double rv,
                                double input_r, double norm_teff, uint64_t seed, int flags,
                                ms_sim_workspace *ws, size_t ja, size_t jb, ms_sim_spectrum *out)
{
    MS_TRY(render(inst, obs, rv, input_r, flags, ws, ja, jb, out));
    int npix = out->npix;

    /* continuum for NORMALIZATION: blackbody x flux calibration x scale (the same scale) */
    ms_sim_rng r;
    ms_sim_rng_seed(&r, seed, MS_SIM_STREAM_NOISE, (uint64_t)obs->index);

    /* sky */
    double *sky = ws->sky;
    double level = obs->flux_level;
    for (int i = 0; i < npix; i++) sky[i] = obs->sky_frac * level * 6200.0 / inst->wave_lamost[i];
    for (int i = 0; i < npix; i++) {
        out->andmask[i] = 0.0f;
        out->ormask[i] = 0.0f;
    }
    double *resid = ws->tmp; /* sky-line residuals */
    for (int i = 0; i < npix; i++) resid[i] = 0.0;
    if (flags & MS_SIM_OBS_SKY) {
        for (int l = 0; l < inst->nsky; l++) {
            double lam = inst->sky_wave[l];
            double li = (log10(lam) - MS_SIM_LAMOST_COEFF0) / MS_SIM_LAMOST_COEFF1;
            if (li < 0 || li > npix - 1) continue;
            double sg = lam / (2.0 * sqrt(2.0 * log(2.0)) * ms_sim_lsf_resolution(obs, lam));
            double flux_l = inst->sky_amp[l] * obs->sky_frac * level * 6200.0 / lam;
            double res = 0.03 * ms_sim_rng_gauss(&r);
            int a = (int)floor(li - 8), b = (int)ceil(li + 8);
            if (a < 0) a = 0;
            if (b > npix - 1) b = npix - 1;
            for (int i = a; i <= b; i++) {
                double lw = inst->wave_lamost[i];
                double d = (lw - lam) / sg;
                double p = flux_l * exp(-0.5 * d * d) / (sqrt(2.0 * M_PI) * sg);
                double cont = obs->sky_frac * level * 6200.0 / lw;
                if (p > 3.0 * cont) out->ormask[i] = (float)((int)out->ormask[i] | (int)MASK_BRIGHTSKY);
                sky[i] += p;
                resid[i] += res * p;
            }
        }
    }

    /* noise level from the r-band S/N */
    double *q = ws->sigma;
    for (int i = 0; i < npix; i++) {
        double fpos = out->model[i] > 0 ? out->model[i] : 0.0;
        q[i] = out->model[i] / sqrt(fpos + sky[i]);
    }
    double medq = band_median(q, inst->band_lo[2], inst->band_hi[2], npix, ws->lnr);
    if (!(medq > 0)) medq = band_median(q, 0, npix, npix, ws->lnr);
    if (!(medq > 0)) MS_ERROR(MS_EFORMAT, "sim observe: observation %ld has no signal", obs->index);
    double k = medq / obs->snr_r;
    for (int i = 0; i < npix; i++) {
        double fpos = out->model[i] > 0 ? out->model[i] : 0.0;
        ws->sigma[i] = k * sqrt(fpos + sky[i]);
    }
    /* per-band S/N (noise-free estimate, as written to SNRU..SNRZ) */
    for (int i = 0; i < npix; i++) ws->sig[i] = out->model[i] / ws->sigma[i];
    for (int b = 0; b < 5; b++) {
        out->snr[b] = band_median(ws->sig, inst->band_lo[b], inst->band_hi[b], npix, ws->lnr);
        if (!isfinite(out->snr[b])) out->snr[b] = -9999.0;
    }
    /* pixel values */
    int noise = (flags & MS_SIM_OBS_NOISE) != 0;
    for (int i = 0; i < npix; i += 2) {
        double g0 = 0, g1 = 0;
        if (noise) {
            double u1 = ms_sim_rng_uniform(&r), u2 = ms_sim_rng_uniform(&r);
            double rad = sqrt(-2.0 * log(u1));
            g0 = rad * cos(2.0 * M_PI * u2);
            g1 = rad * sin(2.0 * M_PI * u2);
        }
        out->flux[i] = (float)(out->model[i] + g0 * ws->sigma[i] + (noise ? resid[i] : 0.0));
        out->ivar[i] = (float)(1.0 / (ws->sigma[i] * ws->sigma[i]));
        if (i + 1 < npix) {
            out->flux[i + 1] =
                (float)(out->model[i + 1] + g1 * ws->sigma[i + 1] + (noise ? resid[i + 1] : 0.0));
            out->ivar[i + 1] = (float)(1.0 / (ws->sigma[i + 1] * ws->sigma[i + 1]));
        }
    }
    /* NORMALIZATION: flux over the star's blackbody continuum through the same calibration */
    {
        const double c2 = 1.438777e8;
        double iD = 1.0 / doppler(rv);
        double ref = 0;
        int nref = 0;
        for (int i = 0; i < npix; i++) {
            double lam = inst->wave_lamost[i] * iD;
            double x = c2 / (lam * norm_teff);
            double t = lam / 6500.0, t2 = t * t;
            double bb = ws->fc[i] / (t2 * t2 * t * (sim_exp(x) - 1.0));
            ws->lnr[i] = bb;
            if (lam > 7025 && lam < 7050) {
                ref += out->model[i] / bb;
                nref++;
            }
        }
        /* continuum level from the quasi-clean 7025-7050 A window, 5% above it */
        double c = nref ? 1.05 * ref / nref : level;
        if (!(c > 0)) c = level;
        for (int i = 0; i < npix; i++) out->norm[i] = (float)(out->flux[i] / (c * ws->lnr[i]));
    }
    /* bad-pixel runs */
    if (flags & MS_SIM_OBS_MASKS) {
        /* Poisson(0.8) runs */
        double L = exp(-0.8), p = ms_sim_rng_uniform(&r);
        int nruns = 0;
        while (p > L && nruns < 10) {
            nruns++;
            p *= ms_sim_rng_uniform(&r);
        }
        for (int k2 = 0; k2 < nruns; k2++) {
            int start = (int)(ms_sim_rng_uniform(&r) * npix);
            int len = 1 + (int)(-8.0 * log(ms_sim_rng_uniform(&r)));
            if (len > 60) len = 60;
            float bit = ms_sim_rng_uniform(&r) < 0.5 ? MASK_BADCCD : MASK_NODATA;
            for (int i = start; i < start + len && i < npix; i++) {
                out->andmask[i] = bit;
                out->ormask[i] = (float)((int)out->ormask[i] | (int)bit);
                out->ivar[i] = 0.0f;
            }
        }
    }
    for (int i = 0; i < npix; i++)
        if (!isfinite(out->model[i])) {
            out->flux[i] = 0.0f;
            out->ivar[i] = 0.0f;
            out->andmask[i] = MASK_NODATA;
            out->ormask[i] = MASK_NODATA;
        }
    return MS_OK;
}
