/* classes.c: toy physics of the mock's other populations (docs/simulate.md, "Other
 * populations"): OB-K main-sequence stars, DA white dwarfs, galaxies and QSOs. M dwarfs and
 * M giants use model.c.
 *
 * Stars: F = pi B_lambda(Teff) exp(-sat(sum_c s_c(Teff, [M/H]) tau_c)) as in model.c, with
 * their own opacity templates (vacuum A): hydrogen (strength peaking at 9500 K: Gaussian in log Teff of width 0.09 dex to the
 * cool side, 0.25 dex to the hot side; Balmer H-alpha..H12 and Paschen P10-P16
 * Gaussian cores, Lorentzian wings of 5 A, a Balmer jump below 3646 A), Ca II H and K, the G
 * band (CH 4300), strong metal lines (Ca I 4228, Mg b, Na D, Ca II triplet, O I 7774), a metal
 * forest denser to the blue, He I and He II; and, below 4400 K, model.c's own TiO, MgH and
 * CaH templates fading in (so late K joins the M dwarfs). White dwarfs: hydrogen only, with
 * 30 A pressure wings (scaled with wavelength). Galaxies: the star physics at 4800 K and
 * solar [M/H] (an old population), redshifted by a whole number of hi-res pixels, broadened
 * by the velocity dispersion, plus nebular lines (H-alpha EW star->line_ew, [N II], H-beta,
 * [O III], [O II], [S II]) for the star-forming 40%. QSOs: f_lambda ~ lambda_rest^-1.5 plus
 * broad (FWHM star->vdisp) and narrow emission lines, the mean Lyman-alpha forest
 * transmission exp(-0.0036 (lambda/1215.67)^3.7) blueward of Lyman alpha and a Lyman limit. */
#include "model_internal.h"

#include "mstars/mem.h"
#include "mstars/spec.h"

#include <math.h>
#include <string.h>

enum {
    CL_H_CORE = 0, /* Balmer + Paschen cores */
    CL_H_WING,     /* main-sequence pressure wings */
    CL_WD_WING,    /* white-dwarf pressure wings */
    CL_H_JUMP,     /* Balmer continuum opacity */
    CL_CAHK,
    CL_GBAND,
    CL_STRONG,
    CL_FOREST,
    CL_HEI,
    CL_HEII,
    CL_COUNT
};

struct ms_sim_classes {
    const ms_sim_model *m;
    sim_component comp[CL_COUNT];
    const sim_component *tio, *mgh, *cah[2]; /* model.c's templates */
    double c_tio;                            /* model.c's calibrated TiO scale at 4400 K */
};

#define CLASS_SEED 0x434C415353ULL /* fixed: the physics never depends on general.seed */
#define LN10 2.302585092994046

static const double balmer[] = {6564.61, 4862.68, 4341.69, 4102.89, 3971.20,
                                3890.16, 3836.47, 3798.98, 3771.70, 3751.22};
static const double balmer_tau[] = {6.0, 5.0, 4.0, 3.4, 2.8, 2.3, 1.9, 1.6, 1.3, 1.1};
static const double paschen[] = {9017.4, 8865.2, 8752.9, 8667.4, 8600.8, 8547.7, 8504.8};

static ms_status comp_init(ms_sim_classes *c, int i, double lo, double hi)
{
    size_t j0, j1;
    ms_sim_model_range(c->m, lo, hi, &j0, &j1);
    if (j1 <= j0) MS_ERROR(MS_EINVAL, "sim classes: component %d outside the grid", i);
    c->comp[i].tau = ms_calloc("sim.classes.tau", j1 - j0, sizeof(double));
    if (!c->comp[i].tau) return MS_ENOMEM;
    c->comp[i].j0 = j0;
    c->comp[i].j1 = j1;
    return MS_OK;
}

static void add_lines(const ms_sim_model *m, sim_component *c, const double *w, size_t n,
                      double sigma, double tau0)
{
    for (size_t i = 0; i < n; i++) sim_add_gauss_line(m, c, w[i], sigma, tau0);
}

static ms_status build(ms_sim_classes *c)
{
    const ms_sim_model *m = c->m;
    const double lo = m->wave[0], hi = m->wave[m->n - 1];
    for (int i = 0; i < CL_COUNT; i++) MS_TRY(comp_init(c, i, lo, hi));
    for (size_t i = 0; i < sizeof balmer / sizeof balmer[0]; i++) {
        sim_add_gauss_line(m, &c->comp[CL_H_CORE], balmer[i], 1.2, balmer_tau[i]);
        sim_add_lorentz_line(m, &c->comp[CL_H_WING], balmer[i], 5.0, 0.18 * balmer_tau[i], 150.0);
        double g = 30.0 * balmer[i] / 4862.68;
        sim_add_lorentz_line(m, &c->comp[CL_WD_WING], balmer[i], g, 0.25 * balmer_tau[i], 15.0 * g);
    }
    add_lines(m, &c->comp[CL_H_CORE], paschen, sizeof paschen / sizeof paschen[0], 1.0, 0.8);
    sim_component *bj = &c->comp[CL_H_JUMP];
    for (size_t j = bj->j0; j < bj->j1; j++) {
        double lam = m->wave[j];
        bj->tau[j - bj->j0] = 0.5 * (1.0 - tanh((lam - 3646.0) / 12.0)) * pow(lam / 3646.0, 3.0);
    }
    static const double hk[] = {3934.78, 3969.59};
    sim_add_gauss_line(m, &c->comp[CL_CAHK], hk[0], 0.8, 15.0);
    sim_add_gauss_line(m, &c->comp[CL_CAHK], hk[1], 0.8, 10.0);
    for (int i = 0; i < 2; i++) sim_add_lorentz_line(m, &c->comp[CL_CAHK], hk[i], 3.0, 0.4, 60.0);
    static const sim_band gband = {4290.0, 45.0, 25.0, 0.8, 0.5, 2.0, 0.3};
    sim_add_band(m, &c->comp[CL_GBAND], &gband, 0x47, 0.0, 1.0);
    static const double strong[][3] = {
        /* centre, core tau, wing tau (Lorentzian, 1 A) */
        {4227.92, 6.0, 0.10}, {5168.76, 3.0, 0.05}, {5174.13, 5.0, 0.08}, {5185.05, 6.0, 0.10},
        {5891.58, 8.0, 0.15}, {5897.56, 5.0, 0.10}, {8500.35, 3.0, 0.05}, {8544.44, 5.0, 0.08},
        {8664.52, 4.0, 0.06}, {7774.08, 1.5, 0.0},  {5270.39, 2.0, 0.0},  {4384.78, 2.0, 0.0},
        {4046.96, 2.0, 0.0},  {4064.0, 1.5, 0.0},   {5329.0, 1.5, 0.0},   {6496.9, 1.2, 0.0}};
    for (size_t i = 0; i < sizeof strong / sizeof strong[0]; i++) {
        sim_add_gauss_line(m, &c->comp[CL_STRONG], strong[i][0], 0.3, strong[i][1]);
        if (strong[i][2] > 0)
            sim_add_lorentz_line(m, &c->comp[CL_STRONG], strong[i][0], 1.0, strong[i][2], 30.0);
    }
    /* metal forest: Poisson positions, density 1.5 (5000/lambda)^2 per A, exponential
     * strengths */
    ms_sim_rng r;
    ms_sim_rng_seed(&r, CLASS_SEED, MS_SIM_STREAM_MODEL, 1);
    for (double lam = lo;;) {
        double density = 1.5 * (5000.0 / lam) * (5000.0 / lam);
        lam += -log(ms_sim_rng_uniform(&r)) / density;
        if (lam > hi) break;
        sim_add_gauss_line(m, &c->comp[CL_FOREST], lam, 0.2, -0.6 * log(ms_sim_rng_uniform(&r)));
    }
    static const double hei[] = {4027.33, 4472.73, 4923.30, 5017.08, 5877.25, 6679.99, 7067.14};
    static const double heii[] = {4687.02, 5413.02, 4542.86};
    add_lines(m, &c->comp[CL_HEI], hei, sizeof hei / sizeof hei[0], 1.0, 1.2);
    add_lines(m, &c->comp[CL_HEII], heii, sizeof heii / sizeof heii[0], 1.0, 1.0);
    /* model.c's molecular templates for the coolest K stars */
    for (int i = 0; i < m->ncomp; i++) {
        const sim_component *mc = &m->comp[i];
        if (!(mc->domains & DOM_SYNTH)) continue;
        if (mc->strength == STR_TIO) c->tio = mc;
        if (mc->strength == STR_MGH) c->mgh = mc;
        if (mc->strength == STR_CAH) c->cah[c->cah[0] ? 1 : 0] = mc;
    }
    if (!c->tio || !c->mgh || !c->cah[0] || !c->cah[1])
        MS_ERROR(MS_EINVAL, "sim classes: the model lacks its TiO/MgH/CaH templates");
    c->c_tio = exp(m->cal_y[(int)((4400.0 - SIM_CAL_T0) / SIM_CAL_DT)]);
    return MS_OK;
}

ms_status ms_sim_classes_alloc(const ms_sim_model *m, ms_sim_classes **out)
{
    *out = NULL;
    ms_sim_classes *c = ms_calloc("sim.classes", 1, sizeof *c);
    if (!c) return MS_ENOMEM;
    c->m = m;
    ms_status st = build(c);
    if (st != MS_OK) {
        ms_sim_classes_free(c);
        return st;
    }
    *out = c;
    return MS_OK;
}

void ms_sim_classes_free(ms_sim_classes *c)
{
    if (!c) return;
    for (int i = 0; i < CL_COUNT; i++) ms_free(c->comp[i].tau);
    ms_free(c);
}

double ms_sim_classes_rv(const ms_sim_star *star)
{
    return (star->kind == MS_SIM_KIND_GALAXY || star->kind == MS_SIM_KIND_QSO) ? 0.0 : star->rv;
}

/* tau[k] += s * comp over pixels [j0, j1) */
static void accumulate(const sim_component *c, double s, size_t j0, size_t j1, double *tau)
{
    if (s == 0.0) return;
    size_t a = c->j0 > j0 ? c->j0 : j0, b = c->j1 < j1 ? c->j1 : j1;
    for (size_t j = a; j < b; j++) tau[j - j0] += s * c->tau[j - c->j0];
}

/* Rest-frame flux of a star or white dwarf of Teff T, [M/H] mh over pixels [j0, j1). */
static void star_flux(const ms_sim_classes *c, int wd, double T, double mh, double metal_boost,
                      size_t j0, size_t j1, double *flux)
{
    double s[CL_COUNT] = {0};
    double lt = log10(T);
    double z = pow(10.0, mh);
    if (wd) {
        double e = exp(-0.5 * pow((lt - log10(12500.0)) / 0.18, 2.0));
        s[CL_H_CORE] = s[CL_WD_WING] = 0.3 + 1.5 * e;
        s[CL_H_JUMP] = 0.5 * s[CL_H_CORE];
    } else {
        double dl = lt - log10(9500.0); /* Balmer lines peak in A0-A2, fall fast to cool */
        double h = 0.04 + exp(-0.5 * pow(dl / (dl < 0 ? 0.09 : 0.25), 2.0));
        s[CL_H_CORE] = s[CL_H_WING] = s[CL_H_JUMP] = h;
        s[CL_CAHK] = (0.01 + 1.5 * sim_sigmoid((7500.0 - T) / 500.0)) * sqrt(z);
        s[CL_GBAND] = 1.2 * sim_sigmoid((6200.0 - T) / 400.0) * sqrt(z);
        s[CL_STRONG] = (0.05 + sim_sigmoid((6500.0 - T) / 600.0)) * sqrt(z) * metal_boost;
        s[CL_FOREST] = (0.03 + 1.2 * sim_sigmoid((6500.0 - T) / 600.0)) * z * metal_boost;
        s[CL_HEI] = sim_sigmoid((T - 15000.0) / 2500.0);
        s[CL_HEII] = sim_sigmoid((T - 31000.0) / 1500.0);
    }
    size_t n = j1 - j0;
    memset(flux, 0, n * sizeof *flux);
    for (int i = 0; i < CL_COUNT; i++) accumulate(&c->comp[i], s[i], j0, j1, flux);
    if (!wd && T < 4800.0) { /* molecules fade in below ~4400 K, towards the M dwarfs */
        accumulate(c->tio, c->c_tio * sim_sigmoid((4300.0 - T) / 120.0) * z, j0, j1, flux);
        accumulate(c->mgh, 0.3 * sim_sigmoid((4800.0 - T) / 300.0) * z, j0, j1, flux);
        accumulate(c->cah[0], 0.2 * sim_sigmoid((4200.0 - T) / 100.0) * z, j0, j1, flux);
        accumulate(c->cah[1], 0.2 * sim_sigmoid((4200.0 - T) / 100.0) * z, j0, j1, flux);
    }
    double lnb[256];
    for (size_t a = j0; a < j1; a += 256) {
        size_t b = a + 256 < j1 ? a + 256 : j1;
        sim_log_blackbody(c->m, T, a, b, lnb);
        for (size_t k = a; k < b; k++) {
            double t = flux[k - j0];
            flux[k - j0] = sim_exp(lnb[k - a] - t * 4.0 / (t + 4.0));
        }
    }
}

/* Gaussian emission line of rest equivalent width ew (A) at rest wavelength w0 with velocity
 * dispersion sigma_v (km/s) on observed pixels, continuum level cont (flux at the line). */
static void add_emission(const ms_sim_model *m, double z, double w0, double ew, double sigma_v,
                         double cont, size_t j0, size_t j1, double *flux)
{
    double wc = w0 * (1.0 + z), sl = sigma_v / MS_C_KMS, sw = wc * sl;
    double amp = ew * (1.0 + z) * cont / (sqrt(2.0 * M_PI) * sw); /* observed EW = (1+z) ew */
    size_t a, b;
    ms_sim_model_range(m, wc * exp(-5.0 * sl), wc * exp(5.0 * sl), &a, &b);
    if (a < j0) a = j0;
    if (b > j1) b = j1;
    for (size_t j = a; j < b; j++) {
        double d = log(m->wave[j] / wc) / sl;
        flux[j - j0] += amp * exp(-0.5 * d * d);
    }
}

static double flux_at(const ms_sim_model *m, const double *flux, size_t j0, size_t j1, double w)
{
    double x = sim_model_index(m, w);
    if (x < (double)j0 || x > (double)j1 - 1) return NAN;
    return flux[(size_t)x - j0];
}

static ms_status galaxy_flux(const ms_sim_classes *c, const ms_sim_star *st, size_t j0, size_t j1,
                             double *flux)
{
    const ms_sim_model *m = c->m;
    const double T = 4800.0;
    long k = lround(log(1.0 + st->redshift) / m->h); /* redshift in whole hi-res pixels */
    size_t n = j1 - j0;
    /* rest pixels j - k (and a margin for the broadening) */
    double sp = st->vdisp / MS_C_KMS / m->h; /* dispersion in pixels */
    long half = (long)ceil(4.0 * sp);
    long ra = (long)j0 - k - half, rb = (long)j1 - k + half;
    long ca = ra < 0 ? 0 : ra, cb = rb > (long)m->n ? (long)m->n : rb;
    double *rest = ms_malloc_array("sim.galaxy", (size_t)(rb - ra), sizeof *rest);
    if (!rest) return MS_ENOMEM;
    if (cb > ca) star_flux(c, 0, T, 0.0, 1.3, (size_t)ca, (size_t)cb, rest + (ca - ra));
    /* bluer than the grid: the blackbody, matched to the first rest pixel */
    double ln0 = 0, lnb = 0;
    sim_log_blackbody(m, T, 0, 1, &ln0);
    for (long j = ra; j < ca && j < rb; j++) {
        double lam = exp(m->lnw0 + m->h * (double)j), x = 1.438777e8 / (lam * T);
        lnb = log(3.7417718e27) - 5.0 * log(lam) - x - log1p(-exp(-x));
        rest[j - ra] = exp(lnb - ln0) * (cb > ca ? rest[ca - ra] : exp(ln0)) * 0.7;
    }
    /* velocity dispersion: Gaussian in ln lambda (shift-invariant: one set of weights) */
    double *g = ms_malloc_array("sim.galaxy.kernel", (size_t)(2 * half + 1), sizeof *g);
    if (!g) {
        ms_free(rest);
        return MS_ENOMEM;
    }
    for (long d = -half; d <= half; d++) g[d + half] = exp(-0.5 * (double)(d * d) / (sp * sp));
    long qmax = rb < (long)m->n ? rb : (long)m->n;
    for (size_t j = 0; j < n; j++) {
        long r0 = (long)(j0 + j) - k; /* rest pixel */
        long da = ra - r0 > -half ? ra - r0 : -half, db = qmax - 1 - r0 < half ? qmax - 1 - r0 : half;
        double s = 0, w = 0;
        for (long d = da; d <= db; d++) {
            s += g[d + half] * rest[r0 + d - ra];
            w += g[d + half];
        }
        flux[j] = s / w;
    }
    ms_free(g);
    ms_free(rest);
    if (st->line_ew > 0) {
        static const double lines[][2] = {{6564.61, 1.0},  {6585.27, 0.40}, {6549.86, 0.13},
                                          {4862.68, 0.30}, {5008.24, 0.50}, {4960.30, 0.17},
                                          {3727.09, 0.40}, {3729.88, 0.40}, {6718.29, 0.20},
                                          {6732.67, 0.15}};
        double zq = exp((double)k * m->h) - 1.0;
        double cont[10];
        for (int i = 0; i < 10; i++) cont[i] = flux_at(m, flux, j0, j1, lines[i][0] * (1.0 + zq));
        for (int i = 0; i < 10; i++)
            if (isfinite(cont[i]))
                add_emission(m, zq, lines[i][0], st->line_ew * lines[i][1], 80.0, cont[i], j0, j1,
                             flux);
    }
    return MS_OK;
}

static void qso_flux(const ms_sim_classes *c, const ms_sim_star *st, size_t j0, size_t j1,
                     double *flux)
{
    const ms_sim_model *m = c->m;
    double z = st->redshift;
    /* rest wavelength, equivalent width (A), broad (1) or narrow (0) */
    static const double lines[][3] = {
        {1215.67, 90.0, 1}, {1240.81, 10.0, 1}, {1399.8, 8.0, 1},  {1549.06, 35.0, 1},
        {1640.4, 3.0, 1},   {1908.73, 20.0, 1}, {2799.12, 35.0, 1}, {3728.5, 3.0, 0},
        {4102.89, 5.0, 1},  {4341.69, 12.0, 1}, {4862.68, 50.0, 1}, {4960.30, 5.0, 0},
        {5008.24, 15.0, 0}, {6564.61, 200.0, 1}};
    for (size_t j = j0; j < j1; j++) {
        double lr = m->wave[j] / (1.0 + z);
        flux[j - j0] = pow(lr / 3000.0, -1.5);
    }
    double sb = st->vdisp / 2.3548;
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        add_emission(m, z, lines[i][0], lines[i][1], lines[i][2] > 0 ? sb : 300.0,
                     pow(lines[i][0] / 3000.0, -1.5), j0, j1, flux);
    for (size_t j = j0; j < j1; j++) {
        double lo = m->wave[j], lr = lo / (1.0 + z);
        if (lr < 1215.67) flux[j - j0] *= exp(-0.0036 * pow(lo / 1215.67, 3.7));
        if (lr < 911.75) flux[j - j0] *= exp(-2.0);
    }
}

ms_status ms_sim_classes_flux(const ms_sim_classes *c, const ms_sim_star *star, size_t j0,
                              size_t j1, double *flux)
{
    if (j1 <= j0 || j1 > c->m->n)
        MS_ERROR(MS_EINVAL, "sim classes: pixel range [%zu, %zu) outside [0, %zu)", j0, j1, c->m->n);
    switch (star->kind) {
    case MS_SIM_KIND_OB:
    case MS_SIM_KIND_A:
    case MS_SIM_KIND_F:
    case MS_SIM_KIND_G:
    case MS_SIM_KIND_K:
    case MS_SIM_KIND_WD:
        if (!(star->lab.teff >= 2000 && star->lab.teff <= 60000))
            MS_ERROR(MS_EINVAL, "sim classes: star %ld: Teff %g outside 2000-60000 K", star->id,
                     star->lab.teff);
        star_flux(c, star->kind == MS_SIM_KIND_WD, star->lab.teff, star->lab.m_h, 1.0, j0, j1,
                  flux);
        return MS_OK;
    case MS_SIM_KIND_GALAXY: return galaxy_flux(c, star, j0, j1, flux);
    case MS_SIM_KIND_QSO: qso_flux(c, star, j0, j1, flux); return MS_OK;
    default:
        MS_ERROR(MS_EINVAL, "sim classes: star %ld is a %s (model.c physics)", star->id,
                 ms_sim_kind_name((ms_sim_kind)star->kind));
    }
}
