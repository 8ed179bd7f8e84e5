/* population.c: the mock stars, their observations and their Gaia-like photometry.
 *
 * Stars (stream STAR, index = star id):
 *   Teff: 85% N(3550, 260) and 15% uniform, both within 3000-4000 K;
 *   [M/H]: 90% N(-0.15, 0.25), 10% N(-0.7, 0.3) (a thick-disc tail), clipped to the
 *   intersection of [-1.0, 0.5] and the grid's [M/H] axis;
 *   [alpha/M]: N(0.05 - 0.3 [M/H], 0.06) within [lower, lower + 0.4] of ms_sim_alpha_lower
 *   (the Z25 grid's alpha range, interpolated between its [M/H] nodes);
 *   log g: ms_sim_logg_ms(Teff, [M/H]) + N(0, 0.05), within the grid's log g axis;
 *   RV: N(-5, rv_sigma (1 + 1.5 max(0, -[M/H] - 0.5))) km/s;
 *   observations: 1, or 2-4 (uniform) for a fraction repeat_fraction;
 *   H-alpha emission: probability active_fraction x w(Teff), w rising to cooler stars (mean
 *   about 1); EW 1 + Exp(3) A;
 *   binaries: fraction binary_fraction, companion 100-900 K cooler (>= 2500 K), same
 *   composition, radius ratio from an M-dwarf radius-Teff relation, velocity offset N(0, 15);
 *   sky: 200 stars per field, within 2.5 deg of the field centre (LAMOST footprint
 *   -10 < Dec < 60); photometry from Teff (a Pecaut & Mamajek-like dwarf sequence), [M/H] and
 *   the companion; G tied to the star's S/N (brighter stars, higher S/N) with 0.3 mag scatter;
 *   distance from the distance modulus; Gaia DR3-like parallax errors; RUWE higher for
 *   binaries; variable / binary crossmatch flags.
 * Observations (stream OBS, index = observation): epoch j of a star is on plate (field, j);
 *   S/N_r = star S/N x exp(N(0, 0.3)) with the star's S/N lognormal around snr_r_median
 *   (sigma 0.954, so about 60% of spectra have S/N_r < 20), kept in [3, 300]; layout, gzip,
 *   pixel count (3899-3909), pathology, CLASS/SUBCLASS (subtype from Teff, 10% off by one),
 *   Z = (RV + N(0, 4 + 80/SNR))/c, LSF, flux calibration, flux level, sky. */
#include "mstars/sim.h"
#include "mstars/spec.h"

#include "mstars/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define STARS_PER_FIELD 200
#define MAX_EPOCHS 4

const char *ms_sim_pathology_name(ms_sim_pathology p)
{
    static const char *names[] = {"none",      "truncated",  "all_nan",    "zero_ivar",
                                  "non_star",  "short_wave", "missing_ext"};
    return (p >= 0 && p < MS_SIM_PATH_COUNT) ? names[p] : "unknown";
}

static double interp(const double *x, const double *y, int n, double v)
{
    /* x decreasing */
    if (v >= x[0]) return y[0];
    if (v <= x[n - 1]) return y[n - 1];
    for (int i = 1; i < n; i++)
        if (v >= x[i]) return y[i - 1] + (v - x[i - 1]) / (x[i] - x[i - 1]) * (y[i] - y[i - 1]);
    return y[n - 1];
}

static const double seq_teff[] = {4400, 4050, 3850, 3680, 3550, 3400, 3200, 3050, 2850, 2700, 2550, 2400};
static const double seq_bprp[] = {1.60, 1.84, 1.98, 2.16, 2.30, 2.50, 2.83, 3.20, 3.80, 4.20, 4.50, 4.80};
static const double seq_mg[] = {7.30, 8.00, 8.50, 8.95, 9.40, 10.10, 11.30, 12.40, 13.90, 15.00, 15.90, 17.00};
static const double rad_teff[] = {4400, 4000, 3800, 3600, 3400, 3200, 3000, 2800, 2600, 2400};
static const double rad_r[] = {0.70, 0.62, 0.55, 0.45, 0.34, 0.24, 0.17, 0.13, 0.11, 0.10};
#define NSEQ ((int)(sizeof seq_teff / sizeof seq_teff[0]))
#define NRAD ((int)(sizeof rad_teff / sizeof rad_teff[0]))

static double clampd(double v, double lo, double hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* Days since 1970-01-01 to a civil date (proleptic Gregorian). */
static void civil_from_days(long z, int *y, int *mo, int *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long yy = yoe + era * 400;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *mo = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*mo <= 2));
}

typedef struct {
    double ra, dec;
    long lmjd[MAX_EPOCHS];
} field_info;

static void field_get(uint64_t seed, long f, field_info *fi)
{
    ms_sim_rng r;
    ms_sim_rng_seed(&r, seed, MS_SIM_STREAM_FIELD, (uint64_t)f);
    fi->ra = 360.0 * ms_sim_rng_uniform(&r);
    double s0 = sin(-10.0 * M_PI / 180), s1 = sin(60.0 * M_PI / 180);
    fi->dec = asin(s0 + (s1 - s0) * ms_sim_rng_uniform(&r)) * 180.0 / M_PI;
    long t = 55859 + (long)(2800.0 * ms_sim_rng_uniform(&r));
    for (int j = 0; j < MAX_EPOCHS; j++) {
        fi->lmjd[j] = t;
        t += 20 + (long)(400.0 * ms_sim_rng_uniform(&r));
    }
}

static void make_star(const ms_config *cfg, long s, ms_sim_star *st)
{
    const ms_cfg_simulate *c = &cfg->simulate;
    ms_sim_rng r;
    ms_sim_rng_seed(&r, (uint64_t)cfg->general.seed, MS_SIM_STREAM_STAR, (uint64_t)s);
    memset(st, 0, sizeof *st);
    st->id = s;
    double T;
    if (ms_sim_rng_uniform(&r) < 0.85)
        T = 3550.0 + 260.0 * ms_sim_rng_gauss_trunc(&r, (3000.0 - 3550.0) / 260.0,
                                                    (4000.0 - 3550.0) / 260.0);
    else
        T = 3000.0 + 1000.0 * ms_sim_rng_uniform(&r);
    double mh_lo = c->grid_mh.v[0] > -1.0 ? c->grid_mh.v[0] : -1.0;
    double mh_hi = c->grid_mh.v[1] < 0.5 ? c->grid_mh.v[1] : 0.5;
    double mh = ms_sim_rng_uniform(&r) < 0.9 ? -0.15 + 0.25 * ms_sim_rng_gauss(&r)
                                             : -0.7 + 0.3 * ms_sim_rng_gauss(&r);
    mh = clampd(mh, mh_lo, mh_hi);
    double alo = ms_sim_alpha_lower(mh);
    double am = clampd(0.05 - 0.3 * mh + 0.06 * ms_sim_rng_gauss(&r), alo, alo + 0.4);
    double g = ms_sim_logg_ms(T, mh) + 0.05 * ms_sim_rng_gauss(&r);
    g = clampd(g, c->grid_logg.v[0], c->grid_logg.v[1]);
    st->lab = (ms_sim_labels){T, g, mh, am};
    double rvs = c->rv_sigma * (1.0 + 1.5 * (mh < -0.5 ? -mh - 0.5 : 0.0));
    st->rv = -5.0 + rvs * ms_sim_rng_gauss(&r);
    st->n_obs = ms_sim_rng_uniform(&r) < c->repeat_fraction
                    ? 2 + (int)(3.0 * ms_sim_rng_uniform(&r))
                    : 1;
    if (st->n_obs > MAX_EPOCHS) st->n_obs = MAX_EPOCHS;
    double w = (0.6 + 0.8 * 1.0 / (1.0 + exp(-(3400.0 - T) / 150.0))) / 0.85;
    st->active = ms_sim_rng_uniform(&r) < c->active_fraction * w;
    double ew = 1.0 - 3.0 * log(ms_sim_rng_uniform(&r));
    st->halpha_ew = st->active ? ew : 0.0;
    st->binary = ms_sim_rng_uniform(&r) < c->binary_fraction;
    double dT = 100.0 + 800.0 * ms_sim_rng_uniform(&r);
    double dv = 15.0 * ms_sim_rng_gauss(&r);
    if (st->binary) {
        double T2 = T - dT < 2500.0 ? 2500.0 : T - dT;
        st->lab2 = (ms_sim_labels){T2, ms_sim_logg_ms(T2, mh), mh, am};
        st->radius2 = interp(rad_teff, rad_r, NRAD, T2) / interp(rad_teff, rad_r, NRAD, T);
        st->dv2 = dv;
    }
    /* sky position in the field */
    st->field = s / STARS_PER_FIELD;
    field_info fi;
    field_get((uint64_t)cfg->general.seed, st->field, &fi);
    double rr = 2.5 * sqrt(ms_sim_rng_uniform(&r)), th = 2.0 * M_PI * ms_sim_rng_uniform(&r);
    st->dec = clampd(fi.dec + rr * sin(th), -89.9, 89.9);
    st->ra = fmod(fi.ra + rr * cos(th) / cos(fi.dec * M_PI / 180.0) + 360.0, 360.0);
    /* S/N of the star (lognormal; per-observation scatter added later) */
    st->snr_latent = c->snr_r_median * exp(0.954 * ms_sim_rng_gauss(&r));
    /* photometry */
    double bprp = interp(seq_teff, seq_bprp, NSEQ, T) + 0.15 * mh;
    double MG = interp(seq_teff, seq_mg, NSEQ, T) - 0.6 * mh;
    double grp = 0.2 + 0.4 * bprp;
    if (st->binary) {
        double T2 = st->lab2.teff;
        double MG2 = interp(seq_teff, seq_mg, NSEQ, T2) - 0.6 * mh;
        double bprp2 = interp(seq_teff, seq_bprp, NSEQ, T2) + 0.15 * mh;
        double fG = pow(10.0, -0.4 * (MG2 - MG));
        double MGc = MG - 2.5 * log10(1.0 + fG);
        bprp = (bprp + fG * bprp2) / (1.0 + fG); /* flux-weighted colour (approximation) */
        grp = 0.2 + 0.4 * bprp;
        MG = MGc;
    }
    double G = 15.8 - 3.2 * log10(st->snr_latent / 15.0) + 0.3 * ms_sim_rng_gauss(&r);
    G = clampd(G, 9.0, 18.5);
    double dm = G - MG;
    if (dm < -1.5) { /* closer than 5 pc: keep at 5 pc */
        dm = -1.5;
        G = MG + dm;
    }
    st->gmag = G;
    st->rpmag = G - grp;
    st->bpmag = st->rpmag + bprp;
    st->dist_pc = pow(10.0, (dm + 5.0) / 5.0);
    st->plx_err = 0.015 + 0.035 * pow(10.0, 0.2 * (G - 17.0));
    st->plx = 1000.0 / st->dist_pc + st->plx_err * ms_sim_rng_gauss(&r);
    double ruwe = 1.0 + fabs(0.08 * ms_sim_rng_gauss(&r));
    double ur = ms_sim_rng_uniform(&r), ur2 = ms_sim_rng_uniform(&r);
    if (st->binary && ur < 0.4) ruwe = 1.4 + 3.0 * ur2;
    st->ruwe = ruwe;
    double uv = ms_sim_rng_uniform(&r), ub = ms_sim_rng_uniform(&r);
    st->var_flag = st->active ? uv < 0.3 : uv < 0.01;
    st->bin_flag = st->binary ? ub < 0.5 : ub < 0.005;
    st->source_id = 1000000000000000000LL + (long long)s * 1009LL + (long long)(st->field % 1000);
}

static void subclass_name(int spt, char *buf, size_t len)
{
    if (spt <= -2)
        snprintf(buf, len, "K5");
    else if (spt == -1)
        snprintf(buf, len, "K7");
    else
        snprintf(buf, len, "M%d", spt > 9 ? 9 : spt);
}

static void make_obs(const ms_config *cfg, const ms_sim_star *st, int epoch, long o,
                     ms_sim_obs *ob)
{
    const ms_cfg_simulate *c = &cfg->simulate;
    uint64_t seed = (uint64_t)cfg->general.seed;
    memset(ob, 0, sizeof *ob);
    ob->index = o;
    ob->star = st->id;
    ob->epoch = epoch;
    ob->plate = st->field * MAX_EPOCHS + epoch;
    field_info fi;
    field_get(seed, st->field, &fi);
    ob->lmjd = fi.lmjd[epoch];
    /* plate conditions */
    ms_sim_rng pr;
    ms_sim_rng_seed(&pr, seed, MS_SIM_STREAM_PLATE, (uint64_t)ob->plate);
    ob->helio_rv = -30.0 + 60.0 * ms_sim_rng_uniform(&pr);
    ob->airmass = clampd(1.0 - 0.25 * log(ms_sim_rng_uniform(&pr)), 1.0, 2.5);
    ob->pwv = exp(0.5 * ms_sim_rng_gauss(&pr));
    ob->seeing = 2.0 + 2.5 * ms_sim_rng_uniform(&pr);
    ob->moon_phase = 29.53 * ms_sim_rng_uniform(&pr);
    ob->exptime = 600.0 * (2 + (int)(3.0 * ms_sim_rng_uniform(&pr)));
    double transparency = 0.6 + 0.6 * ms_sim_rng_uniform(&pr);
    /* plan id from the field centre and the epoch (B, M, F, V plates) */
    static const char suffix[MAX_EPOCHS] = {'B', 'M', 'F', 'V'};
    double ra_h = fi.ra / 15.0;
    int rh = (int)ra_h, rm = (int)((ra_h - rh) * 60), rs = (int)(((ra_h - rh) * 60 - rm) * 60);
    double ad = fabs(fi.dec);
    int dd = (int)ad, dmn = (int)((ad - dd) * 60), ds = (int)(((ad - dd) * 60 - dmn) * 60);
    snprintf(ob->planid, sizeof ob->planid, "HD%02d%02d%02d%c%02d%02d%02d%c01", rh % 100,
             rm % 100, rs % 100, fi.dec < 0 ? 'S' : 'N', dd % 100, dmn % 100, ds % 100,
             suffix[epoch]);
    int y, mo, d;
    civil_from_days(ob->lmjd - 1 - 40587, &y, &mo, &d);
    snprintf(ob->obsdate, sizeof ob->obsdate, "%04d%02d%02d", y % 10000, mo % 100, d % 100);
    /* fibre: a fixed permutation of the star's slot in its field, unique on the plate */
    long k = st->id % STARS_PER_FIELD;
    long slot = (k * 1973 + 37 * st->field + 11 * epoch) % 4000;
    ob->spid = (int)(slot / 250) + 1;
    ob->fiberid = (int)(slot % 250) + 1;
    ob->obsid = (1000 + ob->plate) * 100000L + ob->spid * 1000L + ob->fiberid;

    ms_sim_rng r;
    ms_sim_rng_seed(&r, seed, MS_SIM_STREAM_OBS, (uint64_t)o);
    double snr = st->snr_latent;
    for (int it = 0; it < 100; it++) {
        double v = st->snr_latent * exp(0.3 * ms_sim_rng_gauss(&r));
        snr = v;
        if (v >= 3.0 && v <= 300.0) break;
    }
    ob->snr_r = clampd(snr, 3.0, 300.0);
    ob->layout = ms_sim_rng_uniform(&r) < c->dr9_fraction ? MS_LAMOST_COADD : MS_LAMOST_IMAGE;
    int rel = (int)(ms_sim_rng_uniform(&r) * (ob->layout == MS_LAMOST_COADD ? 3 : 4));
    snprintf(ob->data_v, sizeof ob->data_v, "LAMOST DR%d",
             (ob->layout == MS_LAMOST_COADD ? 9 + rel : 5 + rel) % 100);
    ob->gz = ms_sim_rng_uniform(&r) < c->gzip_fraction;
    static const int npix_set[] = {3909, 3909, 3909, 3909, 3908, 3908, 3906, 3904, 3902, 3902, 3899};
    ob->npix = npix_set[(int)(ms_sim_rng_uniform(&r) * 11) % 11];
    double up = ms_sim_rng_uniform(&r), uk = ms_sim_rng_uniform(&r);
    ob->pathology = MS_SIM_PATH_NONE;
    if (up < c->pathological_fraction)
        ob->pathology = (ms_sim_pathology)(1 + (int)(uk * (MS_SIM_PATH_COUNT - 1)) % (MS_SIM_PATH_COUNT - 1));
    if (ob->pathology == MS_SIM_PATH_MISSING_EXT && ob->layout != MS_LAMOST_COADD) {
        ob->layout = MS_LAMOST_COADD;
        snprintf(ob->data_v, sizeof ob->data_v, "LAMOST DR%d", (9 + rel % 3) % 100);
    }
    if (ob->pathology == MS_SIM_PATH_SHORT_WAVE) ob->npix = 2300;
    /* classification */
    int spt = (int)lround(ms_sim_spt_from_teff(st->lab.teff));
    double ue = ms_sim_rng_uniform(&r);
    if (ue < 0.05)
        spt -= 1;
    else if (ue < 0.10)
        spt += 1;
    double uc = ms_sim_rng_uniform(&r);
    if (ob->pathology == MS_SIM_PATH_NON_STAR) {
        static const char *cls[] = {"GALAXY", "QSO", "Unknown"};
        snprintf(ob->cls, sizeof ob->cls, "%s", cls[(int)(uc * 3) % 3]);
        snprintf(ob->subclass, sizeof ob->subclass, "Non");
    } else {
        snprintf(ob->cls, sizeof ob->cls, "STAR");
        subclass_name(spt, ob->subclass, sizeof ob->subclass);
    }
    /* pipeline redshift: a noisy RV */
    double sz = 4.0 + 80.0 / ob->snr_r;
    ob->z = (st->rv + sz * ms_sim_rng_gauss(&r)) / MS_C_KMS;
    ob->z_err = sz * (0.8 + 0.4 * ms_sim_rng_uniform(&r)) / MS_C_KMS;
    /* instrument: spectrograph-dependent resolution, lower towards the CCD edges */
    ms_sim_rng sr;
    ms_sim_rng_seed(&sr, seed, 7, (uint64_t)ob->spid);
    double spec_off = 0.03 * ms_sim_rng_gauss(&sr);
    double e = (ob->fiberid - 125.5) / 125.0;
    ob->lsf_r0 = 1800.0 * (1.0 - 0.08 * e * e) * (1.0 + spec_off + 0.01 * ms_sim_rng_gauss(&r));
    ob->lsf_tilt = 0.12 + 0.03 * ms_sim_rng_gauss(&r);
    ob->fluxcal[0] = 0.0;
    ob->fluxcal[1] = 0.08 * ms_sim_rng_gauss(&r);
    ob->fluxcal[2] = 0.05 * ms_sim_rng_gauss(&r);
    ob->fluxcal[3] = 0.03 * ms_sim_rng_gauss(&r);
    ob->flux_level = 400.0 * pow(10.0, -0.4 * (st->gmag - 14.0)) * (ob->exptime / 1800.0) *
                     transparency;
    double moon = 0.5 * (1.0 - cos(2.0 * M_PI * ob->moon_phase / 29.53));
    ob->sky_frac = clampd(0.03 * pow(10.0, 0.4 * (st->gmag - 13.0)) * (1.0 + 2.0 * moon), 0.005, 20.0);
    snprintf(ob->file, sizeof ob->file, "spectra/%s/%s/spec-%ld-%s_sp%02d-%03d.fits%s",
             ob->obsdate, ob->planid, ob->lmjd, ob->planid, ob->spid, ob->fiberid,
             ob->gz ? ".gz" : "");
}

/* ------------------------------------------------------------------------------------------
 * Other kinds (simulate.fraction_*). Everything here draws from the CLASS streams, so the
 * M dwarfs' STAR/OBS draws, and with all fractions 0 the whole universe, are unchanged. */

static double fraction_of(const ms_cfg_simulate *c, ms_sim_kind k)
{
    switch (k) {
    case MS_SIM_KIND_MGIANT: return c->fraction_mgiant;
    case MS_SIM_KIND_OB: return c->fraction_ob;
    case MS_SIM_KIND_A: return c->fraction_a;
    case MS_SIM_KIND_F: return c->fraction_f;
    case MS_SIM_KIND_G: return c->fraction_g;
    case MS_SIM_KIND_K: return c->fraction_k;
    case MS_SIM_KIND_WD: return c->fraction_wd;
    case MS_SIM_KIND_GALAXY: return c->fraction_galaxy;
    case MS_SIM_KIND_QSO: return c->fraction_qso;
    default: return 0.0;
    }
}

static double fractions_total(const ms_cfg_simulate *c)
{
    double t = 0;
    for (int k = 1; k < MS_SIM_KIND_COUNT; k++) t += fraction_of(c, (ms_sim_kind)k);
    return t;
}

/* Photometry of a non-M-dwarf object from its kind; G keeps its tie to the S/N. */
static void kind_photometry(ms_sim_star *st, ms_sim_rng *r)
{
    double bprp, MG;
    ms_sim_kind_photometry((ms_sim_kind)st->kind, st->lab.teff, &bprp, &MG);
    int extragalactic = st->kind == MS_SIM_KIND_GALAXY || st->kind == MS_SIM_KIND_QSO;
    bprp += 0.05 * ms_sim_rng_gauss(r);
    if (st->kind == MS_SIM_KIND_MGIANT) MG += 0.4 * ms_sim_rng_gauss(r);
    double G = 15.8 - 3.2 * log10(st->snr_latent / 15.0) + 0.3 * ms_sim_rng_gauss(r);
    G = clampd(G, 9.0, 18.5);
    if (extragalactic) {
        st->dist_pc = 0.0; /* no parallax: Gaia measures noise around 0 */
    } else {
        double dm = clampd(G - MG, -1.5, 16.0); /* 5 pc .. 16 kpc */
        G = MG + dm;
        st->dist_pc = pow(10.0, (dm + 5.0) / 5.0);
    }
    double grp = 0.2 + 0.4 * bprp;
    st->gmag = G;
    st->rpmag = G - grp;
    st->bpmag = st->rpmag + bprp;
    st->plx_err = 0.015 + 0.035 * pow(10.0, 0.2 * (G - 17.0));
    st->plx = (extragalactic ? 0.0 : 1000.0 / st->dist_pc) + st->plx_err * ms_sim_rng_gauss(r);
    st->ruwe = 1.0 + fabs(0.08 * ms_sim_rng_gauss(r));
    st->var_flag = ms_sim_rng_uniform(r) < (st->kind == MS_SIM_KIND_QSO ? 0.3 : 0.01);
    st->bin_flag = ms_sim_rng_uniform(r) < 0.005;
}

/* Draw the star's kind; for any kind but M dwarf replace its labels, companion, activity and
 * photometry (stream CLASS, index = star). */
static void assign_kind(const ms_config *cfg, ms_sim_star *st)
{
    const ms_cfg_simulate *c = &cfg->simulate;
    ms_sim_rng r;
    ms_sim_rng_seed(&r, (uint64_t)cfg->general.seed, MS_SIM_STREAM_CLASS, (uint64_t)st->id);
    double u = ms_sim_rng_uniform(&r), cum = 0;
    ms_sim_kind kind = MS_SIM_KIND_MDWARF;
    for (int k = 1; k < MS_SIM_KIND_COUNT; k++) {
        cum += fraction_of(c, (ms_sim_kind)k);
        if (u < cum) {
            kind = (ms_sim_kind)k;
            break;
        }
    }
    if (kind == MS_SIM_KIND_MDWARF) return;
    st->kind = kind;
    st->binary = 0;
    st->lab2 = (ms_sim_labels){0, 0, 0, 0};
    st->radius2 = st->dv2 = 0.0;
    st->active = 0;
    st->halpha_ew = 0.0;
    double lo, hi;
    ms_sim_kind_teff_range(kind, &lo, &hi);
    double T = exp(log(lo) + (log(hi) - log(lo)) * ms_sim_rng_uniform(&r));
    double mh = clampd(-0.15 + 0.25 * ms_sim_rng_gauss(&r), -1.0, 0.5);
    double am = clampd(0.05 - 0.3 * mh + 0.06 * ms_sim_rng_gauss(&r), ms_sim_alpha_lower(mh),
                       ms_sim_alpha_lower(mh) + 0.4);
    double g = 0.15 * ms_sim_rng_gauss(&r);
    switch (kind) {
    case MS_SIM_KIND_MGIANT: /* RGB/AGB: log g falls with Teff */
        st->lab = (ms_sim_labels){T, clampd(0.3 + 1.2 * (T - 3300.0) / 650.0 + g, 0.0, 1.8), mh, am};
        break;
    case MS_SIM_KIND_WD:
        st->lab = (ms_sim_labels){T, 8.0 + g, 0.0, 0.0};
        break;
    case MS_SIM_KIND_GALAXY:
        st->lab = (ms_sim_labels){0, 0, 0, 0};
        st->redshift = 0.02 + 0.23 * ms_sim_rng_uniform(&r);
        st->vdisp = 100.0 + 180.0 * ms_sim_rng_uniform(&r);
        st->line_ew = ms_sim_rng_uniform(&r) < 0.4 ? 5.0 - 15.0 * log(ms_sim_rng_uniform(&r)) : 0.0;
        st->rv = 0.0;
        break;
    case MS_SIM_KIND_QSO:
        st->lab = (ms_sim_labels){0, 0, 0, 0};
        st->redshift = 0.1 + 3.4 * ms_sim_rng_uniform(&r);
        st->vdisp = 2000.0 + 4000.0 * ms_sim_rng_uniform(&r); /* broad-line FWHM (km/s) */
        st->rv = 0.0;
        break;
    default: { /* OB-K main sequence: log g 4.0 (OB) .. 4.6 (K) */
        double lg = 4.0 + 0.6 * clampd((10000.0 - T) / 6000.0, 0.0, 1.0);
        st->lab = (ms_sim_labels){T, lg + 0.5 * g, mh, kind == MS_SIM_KIND_OB ? 0.0 : am};
        break;
    }
    }
    kind_photometry(st, &r);
}

/* Header CLASS/SUBCLASS and pipeline redshift of a non-M-dwarf object's observation (stream
 * CLASS_OBS, index = observation): right for most, M dwarf for label_error_fraction. */
static void kind_obs(const ms_config *cfg, const ms_sim_star *st, ms_sim_obs *ob)
{
    ms_sim_rng r;
    ms_sim_rng_seed(&r, (uint64_t)cfg->general.seed, MS_SIM_STREAM_CLASS_OBS, (uint64_t)ob->index);
    double ue = ms_sim_rng_uniform(&r), uo = ms_sim_rng_uniform(&r), us = ms_sim_rng_uniform(&r);
    double g = ms_sim_rng_gauss(&r);
    if (st->kind == MS_SIM_KIND_GALAXY || st->kind == MS_SIM_KIND_QSO) {
        double sz = 50.0 * (1.0 + st->redshift) / MS_C_KMS;
        ob->z = st->redshift + sz * g;
        ob->z_err = sz;
    }
    if (ob->pathology == MS_SIM_PATH_NON_STAR) return;
    int off = uo < 0.05 ? -1 : (uo < 0.10 ? 1 : 0); /* a neighbouring subtype, as for M dwarfs */
    if (ue < cfg->simulate.label_error_fraction) {
        /* LAMOST calls it an M dwarf (L25: non-M and gM contaminants of the M catalogue) */
        int spt = st->kind == MS_SIM_KIND_MGIANT ? ms_sim_giant_subtype(st->lab.teff)
                                                 : (int)(us * 5.0);
        snprintf(ob->cls, sizeof ob->cls, "STAR");
        snprintf(ob->subclass, sizeof ob->subclass, "M%c", (char)('0' + (spt > 9 ? 9 : spt)));
        return;
    }
    switch (st->kind) {
    case MS_SIM_KIND_MGIANT: {
        int spt = ms_sim_giant_subtype(st->lab.teff) + off;
        snprintf(ob->cls, sizeof ob->cls, "STAR");
        snprintf(ob->subclass, sizeof ob->subclass, "gM%c",
                 (char)('0' + (spt < 0 ? 0 : (spt > 9 ? 9 : spt))));
        break;
    }
    case MS_SIM_KIND_WD:
        snprintf(ob->cls, sizeof ob->cls, "STAR");
        snprintf(ob->subclass, sizeof ob->subclass, "WD");
        break;
    case MS_SIM_KIND_GALAXY:
        snprintf(ob->cls, sizeof ob->cls, "GALAXY");
        snprintf(ob->subclass, sizeof ob->subclass, "Non");
        break;
    case MS_SIM_KIND_QSO:
        snprintf(ob->cls, sizeof ob->cls, "QSO");
        snprintf(ob->subclass, sizeof ob->subclass, "Non");
        break;
    default:
        snprintf(ob->cls, sizeof ob->cls, "STAR");
        snprintf(ob->subclass, sizeof ob->subclass, "%s", ms_sim_subtype_ms(st->lab.teff, off));
        break;
    }
}

void ms_sim_template_star(const ms_config *cfg, ms_sim_star *st, ms_sim_obs *ob,
                          ms_sim_kind kind, const ms_sim_labels *lab, const char *spt, int giant)
{
    ms_sim_rng r;
    ms_sim_rng_seed(&r, (uint64_t)cfg->general.seed, MS_SIM_STREAM_CLASS, (uint64_t)st->id);
    st->kind = kind;
    st->lab = *lab;
    st->binary = 0;
    st->lab2 = (ms_sim_labels){0, 0, 0, 0};
    st->radius2 = st->dv2 = 0.0;
    st->active = 0;
    st->halpha_ew = 0.0;
    kind_photometry(st, &r);
    ms_sim_rng_seed(&r, (uint64_t)cfg->general.seed, MS_SIM_STREAM_CLASS_OBS, (uint64_t)ob->index);
    double ue = ms_sim_rng_uniform(&r), us = ms_sim_rng_uniform(&r);
    snprintf(ob->cls, sizeof ob->cls, "STAR");
    if (kind != MS_SIM_KIND_MDWARF && ue < cfg->simulate.label_error_fraction)
        snprintf(ob->subclass, sizeof ob->subclass, "M%c", (char)('0' + (int)(us * 5.0) % 5));
    else
        snprintf(ob->subclass, sizeof ob->subclass, "%s%.5s", giant && spt[0] == 'M' ? "g" : "",
                 spt);
}

ms_status ms_sim_population_build(const ms_config *cfg, ms_sim_population *pop)
{
    memset(pop, 0, sizeof *pop);
    const ms_cfg_simulate *c = &cfg->simulate;
    if (c->n_stars < 1) MS_ERROR(MS_EINVAL, "simulate.n_stars = %ld: need at least 1", c->n_stars);
    if (c->grid_mh.n != 3 || c->grid_logg.n != 3 || c->grid_teff.n != 3)
        MS_ERROR(MS_EINVAL, "simulate.grid_teff/logg/mh: each needs 3 values (min, max, step)");
    if (c->grid_mh.v[0] > 0.5 || c->grid_mh.v[1] < -1.0)
        MS_ERROR(MS_EINVAL, "simulate.grid_mh [%g, %g] does not overlap the mock stars' "
                            "[M/H] range [-1.0, 0.5]", c->grid_mh.v[0], c->grid_mh.v[1]);
    pop->n_stars = c->n_stars;
    pop->stars = ms_malloc_array("sim.stars", (size_t)pop->n_stars, sizeof *pop->stars);
    if (!pop->stars) return MS_ENOMEM;
    long nobs = 0;
    int mixed = fractions_total(c) > 0;
    for (long s = 0; s < pop->n_stars; s++) {
        make_star(cfg, s, &pop->stars[s]);
        if (mixed) assign_kind(cfg, &pop->stars[s]);
        pop->stars[s].first_obs = nobs;
        nobs += pop->stars[s].n_obs;
    }
    pop->n_obs = nobs;
    pop->obs = ms_malloc_array("sim.obs", (size_t)nobs, sizeof *pop->obs);
    if (!pop->obs) {
        ms_sim_population_free(pop);
        return MS_ENOMEM;
    }
    for (long s = 0; s < pop->n_stars; s++)
        for (int e = 0; e < pop->stars[s].n_obs; e++)
        {
            ms_sim_obs *ob = &pop->obs[pop->stars[s].first_obs + e];
            make_obs(cfg, &pop->stars[s], e, pop->stars[s].first_obs + e, ob);
            if (pop->stars[s].kind != MS_SIM_KIND_MDWARF) kind_obs(cfg, &pop->stars[s], ob);
        }
    return MS_OK;
}

void ms_sim_population_free(ms_sim_population *pop)
{
    ms_free(pop->stars);
    ms_free(pop->obs);
    memset(pop, 0, sizeof *pop);
}
