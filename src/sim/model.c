/* model.c: the toy M-dwarf physics of the mock universe (the "synthetic domain").
 *
 * F(lambda) = pi B_lambda(Teff) * exp(-sat(sum_c s_c(labels) * tau_c(lambda))),
 * sat(t) = 4 t / (t + 4) (cores keep a residual flux of about 2%).
 *
 * Each component c has an opacity template tau_c on the hi-res grid, built once from fixed
 * line lists and a fixed internal seed (molecular bands: a bandhead, an envelope decaying to
 * the red, a smooth pseudo-continuum part and a dense forest of narrow lines; atomic lines:
 * Gaussian cores and Lorentzian pressure wings). Only the scalar strengths s_c depend on the
 * labels, through smooth nonlinear functions of Teff, log g, [M/H] and [alpha/M]; the
 * exponential makes the spectrum nonlinear in them (saturating forests, curve of growth).
 *
 * The TiO strength is calibrated at start-up: for 45 Teff nodes (2400-4600 K) at solar
 * metallicity and main-sequence gravity, a bisection finds the TiO scale whose spectrum (R =
 * 1800 Gaussian LSF, 1 A sampling) has the TiO5 of the SpT relation of method.md section 7 for
 * the Teff-SpT scale of ms_sim_spt_from_teff; a natural cubic spline in ln(scale) joins them.
 *
 * Hi-res grid: log-uniform from 3550 to 9350 A with d(ln lambda) = hires_step / 9350, so the
 * sampling is at most hires_step everywhere (0.25 A: about 35,600 pixels). */
#include "model_internal.h"
#include "mstars/indices.h"

#include "mstars/log.h"
#include "mstars/mem.h"

#include <math.h>
#include <string.h>

#define GRID_LO 3550.0
#define GRID_HI 9350.0
/* Optical depths saturate softly, tau -> tau TAU_MAX / (tau + TAU_MAX), so line and band
 * cores keep a residual flux (exp(-4) ~ 2%) as the source function gives real ones. */
#define TAU_MAX 4.0
#define MODEL_SEED 0x4D53544152534D31ULL /* fixed: the physics never depends on general.seed */

double sim_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* ------------------------------------------------------------------------------------------
 * Reference relations. */

static double interp_table(const double *x, const double *y, int n, double v)
{
    /* x decreasing or increasing; clamp outside */
    int inc = x[n - 1] > x[0];
    if (inc ? v <= x[0] : v >= x[0]) return y[0];
    if (inc ? v >= x[n - 1] : v <= x[n - 1]) return y[n - 1];
    for (int i = 1; i < n; i++) {
        if (inc ? v <= x[i] : v >= x[i]) {
            double t = (v - x[i - 1]) / (x[i] - x[i - 1]);
            return y[i - 1] + t * (y[i] - y[i - 1]);
        }
    }
    return y[n - 1];
}

static const double spt_teff[] = {4400, 4050, 3850, 3680, 3550, 3400, 3200, 3050, 2850, 2700, 2550, 2400};
static const double spt_val[] = {-2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

double ms_sim_spt_from_teff(double teff)
{
    return interp_table(spt_teff, spt_val, (int)(sizeof spt_val / sizeof spt_val[0]), teff);
}

double ms_sim_spt_from_tio5(double tio5) { return -10.775 * tio5 + 8.2; }

double ms_sim_tio5_target(double teff)
{
    double spt = ms_sim_spt_from_teff(teff);
    if (spt > 7.0) spt = 7.0;
    return (8.2 - spt) / 10.775;
}

double ms_sim_logg_ms(double teff, double m_h) { return ms_mdwarf_logg_ms(teff, m_h); }

double ms_sim_alpha_lower(double m_h)
{
    if (m_h >= 0.0) return -0.2;
    if (m_h <= -1.0) return 0.2;
    return -0.2 - 0.4 * m_h;
}

double ms_sim_tio5(const double *wave, const double *flux, size_t n)
{
    if (n < 2 || wave[0] > 7042.0 || wave[n - 1] < 7135.0) return -9999.0;
    double sum[2] = {0, 0};
    int cnt[2] = {0, 0};
    size_t k = 0;
    for (int w = 7042; w <= 7135; w++) {
        int win = (w <= 7046) ? 0 : (w >= 7126 ? 1 : -1);
        if (win < 0) continue;
        while (k + 1 < n && wave[k + 1] < w) k++;
        double t = (w - wave[k]) / (wave[k + 1] - wave[k]);
        double f = flux[k] + t * (flux[k + 1] - flux[k]);
        if (!isfinite(f)) return -9999.0;
        sum[win] += f;
        cnt[win]++;
    }
    double den = sum[0] / cnt[0];
    if (!(den > 0)) return -9999.0;
    return (sum[1] / cnt[1]) / den;
}

/* ------------------------------------------------------------------------------------------
 * Grid and template builders. */

double sim_model_index(const ms_sim_model *m, double wave) { return (log(wave) - m->lnw0) / m->h; }

void ms_sim_model_range(const ms_sim_model *m, double lo, double hi, size_t *j0, size_t *j1)
{
    double a = ceil(sim_model_index(m, lo) - 1e-9), b = floor(sim_model_index(m, hi) + 1e-9);
    if (a < 0) a = 0;
    if (b > (double)m->n - 1) b = (double)m->n - 1;
    if (b < a) {
        *j0 = *j1 = 0;
        return;
    }
    *j0 = (size_t)a;
    *j1 = (size_t)b + 1;
}

sim_component *sim_model_add(ms_sim_model *m, const char *name, sim_strength s,
                             sim_gapscale gs, unsigned domains, double lo, double hi)
{
    if (m->ncomp >= SIM_MAX_COMPONENTS) {
        ms_error_set(MS_EINVAL, __FILE__, __LINE__, "sim model: too many components (%s)", name);
        return NULL;
    }
    size_t j0, j1;
    ms_sim_model_range(m, lo, hi, &j0, &j1);
    if (j1 <= j0) {
        ms_error_set(MS_EINVAL, __FILE__, __LINE__, "sim model: component %s outside the grid",
                     name);
        return NULL;
    }
    double *tau = ms_calloc("sim.tau", j1 - j0, sizeof *tau);
    if (!tau) return NULL;
    sim_component *c = &m->comp[m->ncomp++];
    c->name = name;
    c->strength = s;
    c->gapscale = gs;
    c->domains = domains;
    c->j0 = j0;
    c->j1 = j1;
    c->tau = tau;
    return c;
}

/* Add w * profile(x) for pixels with |lambda - center| <= cut. */
static void add_profile(const ms_sim_model *m, sim_component *c, double center, double cut,
                        int lorentz, double width, double tau0)
{
    double ia = ceil(sim_model_index(m, center - cut)), ib = floor(sim_model_index(m, center + cut));
    if (ia < (double)c->j0) ia = (double)c->j0;
    if (ib > (double)c->j1 - 1) ib = (double)c->j1 - 1;
    if (ib < ia) return;
    for (size_t j = (size_t)ia; j <= (size_t)ib; j++) {
        double d = m->wave[j] - center;
        double p = lorentz ? width * width / (d * d + width * width)
                           : exp(-0.5 * d * d / (width * width));
        c->tau[j - c->j0] += tau0 * p;
    }
}

void sim_add_gauss_line(const ms_sim_model *m, sim_component *c, double center, double sigma,
                        double tau0)
{
    add_profile(m, c, center, 5.0 * sigma, 0, sigma, tau0);
}

void sim_add_lorentz_line(const ms_sim_model *m, sim_component *c, double center, double gamma,
                          double tau0, double cut)
{
    add_profile(m, c, center, cut, 1, gamma, tau0);
}

/* Envelope of a band: smooth head, exponential decay redward, cosine taper over the last
 * 15% of its length. */
static double band_envelope(const sim_band *b, double lam, double shift)
{
    double x = lam - (b->head + shift);
    if (x < -3.0 || x > b->length) return 0.0;
    double head = 0.5 * (1.0 + tanh(x / 0.6));
    double env = head * exp(-(x > 0 ? x : 0.0) / b->scale) * (1.0 + 0.35 * exp(-(x > 0 ? x : 0.0) / 6.0));
    double tap0 = 0.85 * b->length;
    if (x > tap0) {
        double t = (x - tap0) / (b->length - tap0);
        env *= 0.5 * (1.0 + cos(M_PI * t));
    }
    return env;
}

void sim_add_band(const ms_sim_model *m, sim_component *c, const sim_band *b, uint64_t seed,
                  double shift, double weight)
{
    /* smooth pseudo-continuum part */
    for (size_t j = c->j0; j < c->j1; j++) {
        double e = band_envelope(b, m->wave[j], shift);
        if (e > 0) c->tau[j - c->j0] += weight * b->amp * b->cont * e;
    }
    /* forest: Poisson line positions (density * envelope), exponential strengths normalised
     * so the forest averages to the envelope */
    ms_sim_rng r;
    ms_sim_rng_seed(&r, MODEL_SEED, MS_SIM_STREAM_MODEL, seed);
    double lam = b->head - 3.0;
    double norm = 1.0 / (b->density * sqrt(2.0 * M_PI) * b->width);
    for (;;) {
        lam += -log(ms_sim_rng_uniform(&r)) / b->density;
        if (lam > b->head + b->length) break;
        double a = -log(ms_sim_rng_uniform(&r)) * norm;
        double e = band_envelope(b, lam, 0.0);
        if (e <= 0) continue;
        add_profile(m, c, lam + shift, 4.0 * b->width, 0, b->width,
                    weight * b->amp * (1.0 - b->cont) * e * a);
    }
}

/* ------------------------------------------------------------------------------------------
 * The component table. Vacuum wavelengths. */

static const sim_band tio_bands[] = {
    /* head, length, scale, amp, cont, density, width */
    {4955.0, 200.0, 120.0, 1.00, 0.45, 2.5, 0.30},
    {5167.0, 270.0, 150.0, 1.00, 0.45, 2.5, 0.30},
    {5448.0, 300.0, 150.0, 0.90, 0.45, 2.5, 0.30},
    {5847.0, 250.0, 120.0, 0.60, 0.45, 2.5, 0.30},
    {6159.0, 300.0, 150.0, 0.90, 0.45, 2.5, 0.30},
    {6651.0, 170.0, 120.0, 0.70, 0.45, 2.5, 0.30},
    {7053.0, 470.0, 300.0, 1.00, 0.45, 2.5, 0.30},
    {7589.0, 240.0, 150.0, 0.70, 0.45, 2.5, 0.30},
    {8206.0, 180.0, 100.0, 0.35, 0.45, 2.5, 0.30},
    {8432.0, 380.0, 200.0, 0.60, 0.45, 2.5, 0.30},
    {8859.0, 300.0, 150.0, 0.45, 0.45, 2.5, 0.30},
};
#define N_TIO (sizeof tio_bands / sizeof tio_bands[0])

static const sim_band cah_blue = {6382.0, 110.0, 60.0, 0.6, 0.40, 2.0, 0.30};
static const sim_band cah_red = {6830.0, 200.0, 120.0, 1.0, 0.40, 2.0, 0.30};
static const sim_band vo_bands[] = {
    {7400.0, 150.0, 80.0, 1.0, 0.50, 2.0, 0.30},
    {7850.0, 130.0, 70.0, 0.8, 0.50, 2.0, 0.30},
};
static const sim_band feh_band = {8692.0, 150.0, 60.0, 1.0, 0.35, 2.0, 0.30};
static const sim_band mgh_band = {4780.0, 420.0, 150.0, 1.0, 0.40, 2.0, 0.30};

typedef struct {
    double center, core_tau, core_sigma, wing_tau, wing_gamma, wing_cut;
} sim_line;

static const sim_line ki_lines[] = {
    {7667.01, 15.0, 0.25, 0.30, 1.5, 60.0},
    {7701.08, 8.0, 0.25, 0.15, 1.5, 60.0},
};
static const sim_line nai_lines[] = {
    {8185.51, 3.5, 0.25, 0.18, 1.2, 50.0},
    {8197.08, 6.0, 0.25, 0.30, 1.2, 50.0},
    {5891.58, 30.0, 0.25, 1.00, 2.0, 60.0},
    {5897.56, 15.0, 0.25, 0.50, 2.0, 60.0},
};
static const sim_line caii_lines[] = {
    {8500.35, 2.5, 0.30, 0.08, 1.0, 40.0},
    {8544.44, 5.0, 0.30, 0.15, 1.0, 40.0},
    {8664.52, 4.0, 0.30, 0.12, 1.0, 40.0},
};
static const sim_line alpha_lines[] = {
    {4227.92, 20.0, 0.25, 0, 0, 0}, {5168.76, 4.0, 0.25, 0, 0, 0}, {5174.13, 6.0, 0.25, 0, 0, 0},
    {5185.05, 8.0, 0.25, 0, 0, 0},  {6103.65, 1.2, 0.22, 0, 0, 0}, {6123.91, 1.6, 0.22, 0, 0, 0},
    {6163.76, 1.8, 0.22, 0, 0, 0},  {6441.13, 1.0, 0.22, 0, 0, 0}, {6574.59, 1.2, 0.22, 0, 0, 0},
};

#define NLINES(a) (sizeof(a) / sizeof((a)[0]))

static ms_status add_lines(ms_sim_model *m, const char *core_name, const char *wing_name,
                           sim_strength s_core, sim_strength s_wing, const sim_line *lines,
                           size_t nl, double shift, unsigned domains)
{
    double lo = 1e9, hi = 0;
    for (size_t i = 0; i < nl; i++) {
        double cut = lines[i].wing_cut > 0 ? lines[i].wing_cut : 5.0 * lines[i].core_sigma;
        if (lines[i].center - cut < lo) lo = lines[i].center - cut;
        if (lines[i].center + cut > hi) hi = lines[i].center + cut;
    }
    sim_component *c = sim_model_add(m, core_name, s_core, GAPSCALE_NONE, domains, lo + shift,
                                     hi + shift);
    if (!c) return MS_ENOMEM;
    for (size_t i = 0; i < nl; i++)
        sim_add_gauss_line(m, c, lines[i].center + shift, lines[i].core_sigma, lines[i].core_tau);
    if (!wing_name) return MS_OK;
    sim_component *w = sim_model_add(m, wing_name, s_wing, GAPSCALE_NONE, domains, lo + shift,
                                     hi + shift);
    if (!w) return MS_ENOMEM;
    for (size_t i = 0; i < nl; i++)
        sim_add_lorentz_line(m, w, lines[i].center + shift, lines[i].wing_gamma,
                             lines[i].wing_tau, lines[i].wing_cut);
    return MS_OK;
}

ms_status sim_model_add_ki(ms_sim_model *m, double shift, unsigned domains)
{
    return add_lines(m, domains == DOM_OBS ? "K I (shifted)" : "K I", "K I wings", STR_KI_CORE,
                     STR_KI_WING, ki_lines, NLINES(ki_lines), shift, domains);
}

ms_status sim_model_add_vo(ms_sim_model *m, double shift, unsigned domains)
{
    sim_component *c = sim_model_add(m, domains == DOM_OBS ? "VO (shifted)" : "VO", STR_VO,
                                     GAPSCALE_NONE, domains, 7390.0 + shift, 7990.0 + shift);
    if (!c) return MS_ENOMEM;
    for (size_t i = 0; i < NLINES(vo_bands); i++) sim_add_band(m, c, &vo_bands[i], 300 + i, shift, 1.0);
    return MS_OK;
}

void sim_model_tio_band(const ms_sim_model *m, sim_component *c, int i, uint64_t seed,
                        double weight)
{
    sim_add_band(m, c, &tio_bands[i], seed, 0.0, weight);
}

static ms_status build_components(ms_sim_model *m)
{
    sim_component *c = sim_model_add(m, "TiO", STR_TIO, GAPSCALE_TIO, DOM_SYNTH | DOM_OBS,
                                     GRID_LO, GRID_HI);
    if (!c) return MS_ENOMEM;
    for (size_t i = 0; i < N_TIO; i++) sim_add_band(m, c, &tio_bands[i], 100 + i, 0.0, 1.0);

    c = sim_model_add(m, "CaH 6382", STR_CAH, GAPSCALE_NONE, DOM_SYNTH | DOM_OBS, 6370.0, 6500.0);
    if (!c) return MS_ENOMEM;
    sim_add_band(m, c, &cah_blue, 200, 0.0, 1.0);
    c = sim_model_add(m, "CaH 6830", STR_CAH, GAPSCALE_CAH_RED, DOM_SYNTH | DOM_OBS, 6820.0,
                      7035.0);
    if (!c) return MS_ENOMEM;
    sim_add_band(m, c, &cah_red, 201, 0.0, 1.0);

    MS_TRY(sim_model_add_vo(m, 0.0, DOM_SYNTH | DOM_OBS));

    c = sim_model_add(m, "FeH", STR_FEH, GAPSCALE_NONE, DOM_SYNTH | DOM_OBS, 8680.0, 8850.0);
    if (!c) return MS_ENOMEM;
    sim_add_band(m, c, &feh_band, 400, 0.0, 1.0);
    c = sim_model_add(m, "MgH", STR_MGH, GAPSCALE_NONE, DOM_SYNTH | DOM_OBS, 4770.0, 5210.0);
    if (!c) return MS_ENOMEM;
    sim_add_band(m, c, &mgh_band, 500, 0.0, 1.0);

    MS_TRY(sim_model_add_ki(m, 0.0, DOM_SYNTH | DOM_OBS));
    MS_TRY(add_lines(m, "Na I", "Na I wings", STR_NAI_CORE, STR_NAI_WING, nai_lines,
                     NLINES(nai_lines), 0.0, DOM_SYNTH | DOM_OBS));
    MS_TRY(add_lines(m, "Ca II", "Ca II wings", STR_CAII_CORE, STR_CAII_WING, caii_lines,
                     NLINES(caii_lines), 0.0, DOM_SYNTH | DOM_OBS));
    MS_TRY(add_lines(m, "Ca I/Mg I", NULL, STR_ALPHA_LINES, STR_ALPHA_LINES, alpha_lines,
                     NLINES(alpha_lines), 0.0, DOM_SYNTH | DOM_OBS));

    c = sim_model_add(m, "H-alpha", STR_HALPHA, GAPSCALE_NONE, DOM_SYNTH | DOM_OBS, 6550.0,
                      6580.0);
    if (!c) return MS_ENOMEM;
    sim_add_gauss_line(m, c, 6564.61, 0.8, 1.5);

    /* weak metal-line forest over the whole range, denser in the blue */
    c = sim_model_add(m, "metal lines", STR_METALS, GAPSCALE_NONE, DOM_SYNTH | DOM_OBS, GRID_LO,
                      GRID_HI);
    if (!c) return MS_ENOMEM;
    ms_sim_rng r;
    ms_sim_rng_seed(&r, MODEL_SEED, MS_SIM_STREAM_MODEL, 900);
    double lam = GRID_LO;
    for (;;) {
        double density = 1.5 * (5000.0 / lam) * (5000.0 / lam);
        lam += -log(ms_sim_rng_uniform(&r)) / density;
        if (lam > GRID_HI) break;
        double a = -log(ms_sim_rng_uniform(&r)) * 0.12;
        sim_add_gauss_line(m, c, lam, 0.2, a);
    }
    return MS_OK;
}

/* ------------------------------------------------------------------------------------------
 * Strengths. */

static double tio_scale(const ms_sim_model *m, double teff)
{
    /* natural cubic spline of ln C on the nodes, clamped outside */
    double x = (teff - SIM_CAL_T0) / SIM_CAL_DT;
    if (x <= 0) return exp(m->cal_y[0]);
    if (x >= SIM_CAL_N - 1) return exp(m->cal_y[SIM_CAL_N - 1]);
    int i = (int)x;
    double t = x - i, a = 1.0 - t;
    double y = a * m->cal_y[i] + t * m->cal_y[i + 1] +
               ((a * a * a - a) * m->cal_m[i] + (t * t * t - t) * m->cal_m[i + 1]) / 6.0;
    return exp(y);
}

/* All strengths at `lab`. tio_override > 0 replaces the calibrated TiO scale. */
static void strengths(const ms_sim_model *m, const ms_sim_labels *lab, double tio_override,
                      double *s)
{
    double T = lab->teff, mh = lab->m_h, am = lab->alpha_m, dg = lab->logg - 5.0;
    double x = (T - 3500.0) / 500.0;
    double C = tio_override > 0 ? tio_override : tio_scale(m, T);
    s[STR_TIO] = C * pow(10.0, (0.30 + 0.06 * x) * mh + 0.25 * am - 0.15 * dg + 0.05 * mh * mh);
    s[STR_CAH] = (0.25 + 1.6 * sim_sigmoid((3650.0 - T) / 220.0)) *
                 pow(10.0, 0.45 * mh + 0.4 * am + 0.45 * dg);
    s[STR_VO] = 1.8 * sim_sigmoid((3250.0 - T) / 120.0) * pow(10.0, 0.9 * mh);
    s[STR_FEH] = 1.2 * sim_sigmoid((3350.0 - T) / 250.0) * pow(10.0, 0.8 * mh + 0.35 * dg);
    s[STR_MGH] = (0.2 + 0.8 * sim_sigmoid((3900.0 - T) / 300.0)) *
                 pow(10.0, 0.5 * mh + 0.5 * am + 0.5 * dg);
    s[STR_KI_CORE] = (1.0 + 1.5 * sim_sigmoid((3400.0 - T) / 300.0)) * pow(10.0, 0.6 * mh);
    s[STR_KI_WING] = s[STR_KI_CORE] * pow(10.0, 0.9 * dg) *
                     (0.4 + 0.6 * sim_sigmoid((3400.0 - T) / 300.0));
    s[STR_NAI_CORE] = (1.0 + 1.2 * sim_sigmoid((3300.0 - T) / 300.0)) * pow(10.0, 0.6 * mh);
    s[STR_NAI_WING] = s[STR_NAI_CORE] * pow(10.0, 1.0 * dg) *
                      (0.5 + sim_sigmoid((3300.0 - T) / 400.0));
    s[STR_CAII_CORE] = (0.6 + 0.8 * sim_sigmoid((T - 3300.0) / 300.0)) *
                       pow(10.0, 0.35 * (mh + am) - 0.2 * dg);
    s[STR_CAII_WING] = s[STR_CAII_CORE] * pow(10.0, 0.4 * dg) * 0.5;
    s[STR_ALPHA_LINES] = (0.4 + 0.8 * sim_sigmoid((3600.0 - T) / 300.0)) *
                         pow(10.0, 0.5 * (mh + am) + 0.3 * dg);
    s[STR_HALPHA] = 0.8 * sim_sigmoid((T - 3200.0) / 250.0) * pow(10.0, -0.1 * dg);
    s[STR_METALS] = (0.7 + 0.5 * sim_sigmoid((3500.0 - T) / 400.0)) * pow(10.0, 0.9 * mh + 0.2 * am);
    if (lab->logg < 3.5) {
        /* giants only (M dwarfs and the grid stay above log g 4.5): the alkali cores weaken
         * with the pressure (L25 Table 3: K I and Na I shallow in giants); CaH (+0.45 dg), the
         * wings and Ca II (-0.2 dg, deep in giants) follow the terms above */
        double t = (3.5 - lab->logg) / 3.0;
        t = t > 1.0 ? 1.0 : t;
        s[STR_KI_CORE] *= 1.0 - 0.85 * t;
        s[STR_NAI_CORE] *= 1.0 - 0.85 * t;
    }
    /* gap ingredients 3 and 4: each scaled by its own strength (gap.c documents them) */
    s[STR_GAP_MISSING] =
        m->gap_part[MS_SIM_GAP_OPACITY] * 0.35 * sim_sigmoid((3600.0 - T) / 300.0);
    s[STR_GAP_XBAND] = m->gap_part[MS_SIM_GAP_XBAND] * 0.30 * sim_sigmoid((3500.0 - T) / 250.0) *
                       pow(10.0, 0.5 * mh);
}

/* ------------------------------------------------------------------------------------------
 * Spectrum evaluation. */

void sim_log_blackbody(const ms_sim_model *m, double teff, size_t j0, size_t j1, double *out)
{
    const double c2 = 1.438777e8;          /* hc/k in A K */
    const double lnc1 = log(3.7417718e27); /* 2 pi h c^2 in erg/s/cm2/A * A^5 */
    const size_t step = 32;
    double prev_v = 0;
    size_t prev_j = j0;
    for (size_t j = j0;; j += step) {
        size_t jj = j < j1 - 1 ? j : j1 - 1;
        double lam = m->wave[jj], x = c2 / (lam * teff);
        double v = lnc1 - 5.0 * log(lam) - x - log1p(-exp(-x));
        if (jj == j0) {
            out[0] = v;
        } else {
            double dv = (v - prev_v) / (double)(jj - prev_j);
            for (size_t k = prev_j + 1; k <= jj; k++) out[k - j0] = prev_v + dv * (double)(k - prev_j);
        }
        prev_v = v;
        prev_j = jj;
        if (jj == j1 - 1) break;
    }
}

static ms_status model_flux(const ms_sim_model *m, const ms_sim_labels *lab, ms_sim_domain dom,
                            size_t j0, size_t j1, const double *extra_tau, double tio_override,
                            double *flux)
{
    if (j1 <= j0 || j1 > m->n)
        MS_ERROR(MS_EINVAL, "sim model: pixel range [%zu, %zu) outside [0, %zu)", j0, j1, m->n);
    if (!(lab->teff > 1000 && lab->teff < 10000) || !isfinite(lab->logg) || !isfinite(lab->m_h) ||
        !isfinite(lab->alpha_m))
        MS_ERROR(MS_EINVAL, "sim model: labels out of range (Teff %g, log g %g, [M/H] %g, "
                            "[alpha/M] %g)", lab->teff, lab->logg, lab->m_h, lab->alpha_m);
    double s[STR_COUNT];
    strengths(m, lab, tio_override, s);
    unsigned dmask = dom == MS_SIM_OBSERVED ? DOM_OBS : DOM_SYNTH;
    size_t n = j1 - j0;
    /* accumulate the optical depth in flux[], then flux = exp(ln B - tau) */
    if (extra_tau)
        memcpy(flux, extra_tau, n * sizeof *flux);
    else
        memset(flux, 0, n * sizeof *flux);
    for (int ci = 0; ci < m->ncomp; ci++) {
        const sim_component *c = &m->comp[ci];
        if (!(c->domains & dmask)) continue;
        double sc = s[c->strength];
        if (dom == MS_SIM_OBSERVED && c->gapscale != GAPSCALE_NONE)
            sc *= sim_gap_scale(m, c->gapscale, lab);
        if (sc == 0.0) continue;
        size_t a = c->j0 > j0 ? c->j0 : j0, b = c->j1 < j1 ? c->j1 : j1;
        const double *restrict tau = c->tau + (a - c->j0);
        double *restrict f = flux + (a - j0);
        size_t len = b > a ? b - a : 0;
        size_t k = 0;
        for (; k + 8 <= len; k += 8) /* fixed-length blocks vectorize at -O2 */
            for (size_t r = 0; r < 8; r++) f[k + r] += sc * tau[k + r];
        for (; k < len; k++) f[k] += sc * tau[k];
    }
    /* ln B in chunks on the stack, then one exp per pixel */
    double lnb[256];
    for (size_t a = j0; a < j1; a += 256) {
        size_t b = a + 256 < j1 ? a + 256 : j1;
        sim_log_blackbody(m, lab->teff, a, b, lnb);
        double *restrict f = flux + (a - j0);
        const double *restrict lb = lnb;
        size_t len = b - a;
        size_t k = 0;
        for (; k + 8 <= len; k += 8)
            for (size_t r = 0; r < 8; r++)
                f[k + r] = sim_exp(lb[k + r] - f[k + r] * TAU_MAX / (f[k + r] + TAU_MAX));
        for (; k < len; k++) f[k] = sim_exp(lb[k] - f[k] * TAU_MAX / (f[k] + TAU_MAX));
    }
    return MS_OK;
}

ms_status ms_sim_model_flux(const ms_sim_model *m, const ms_sim_labels *lab, ms_sim_domain dom,
                            size_t j0, size_t j1, const double *extra_tau, double *flux)
{
    return model_flux(m, lab, dom, j0, j1, extra_tau, -1.0, flux);
}

void ms_sim_model_blackbody(const ms_sim_model *m, double teff, size_t j0, size_t j1,
                            double *flux)
{
    sim_log_blackbody(m, teff, j0, j1, flux);
    for (size_t k = 0; k < j1 - j0; k++) flux[k] = sim_exp(flux[k]);
}

/* ------------------------------------------------------------------------------------------
 * LSF. */

void sim_lsf_apply_ln(const ms_sim_model *m, const double *flux_hires, size_t off,
                      const double *ln_out, const double *sigma_ln, double sigma_const,
                      size_t nout, double *out)
{
    /* Gaussian weights w_k = exp(-(k - u)^2 a) by recurrence: w_{k+1} = w_k q_k,
     * q_{k+1} = q_k c with c = exp(-2a). Four interleaved chains (stride 4: W *= Q,
     * Q *= c^16) keep the multiplications independent. */
    const double ih = 1.0 / m->h;
    for (size_t i = 0; i < nout; i++) {
        double sp = (sigma_ln ? sigma_ln[i] : sigma_const) * ih; /* sigma in pixels */
        double a = 0.5 / (sp * sp);
        double u = (ln_out[i] - m->lnw0) * ih;
        double ka = ceil(u - 4.0 * sp), kb = floor(u + 4.0 * sp);
        if (ka < (double)off || kb > (double)m->n - 1) {
            out[i] = NAN;
            continue;
        }
        size_t k0 = (size_t)ka, len = (size_t)(kb - ka) + 1;
        double d0 = ka - u;
        double c = sim_exp(-2.0 * a);
        double q0 = sim_exp(-(2.0 * d0 + 1.0) * a);
        double ww = sim_exp(-d0 * d0 * a), qq = q0;
        double w[4], Q[4];
        for (int r = 0; r < 4; r++) {
            w[r] = ww;
            ww *= qq;
            qq *= c;
        }
        double c2 = c * c, c4 = c2 * c2, c16 = c4 * c4;
        c16 *= c16;
        Q[0] = q0 * q0 * q0 * q0 * c4 * c2; /* q0 q1 q2 q3 = q0^4 c^6 */
        for (int r = 1; r < 4; r++) Q[r] = Q[r - 1] * c4;
        double s[4] = {0, 0, 0, 0}, ws[4] = {0, 0, 0, 0};
        const double *f = flux_hires + (k0 - off);
        size_t k = 0;
        for (; k + 4 <= len; k += 4) {
            for (int r = 0; r < 4; r++) {
                s[r] += w[r] * f[k + (size_t)r];
                ws[r] += w[r];
                w[r] *= Q[r];
                Q[r] *= c16;
            }
        }
        for (int r = 0; k + (size_t)r < len; r++) {
            s[r] += w[r] * f[k + (size_t)r];
            ws[r] += w[r];
        }
        out[i] = ((s[0] + s[1]) + (s[2] + s[3])) / ((ws[0] + ws[1]) + (ws[2] + ws[3]));
    }
}

void ms_sim_lsf_apply(const ms_sim_model *m, const double *flux_hires, double ln_shift,
                      const double *wave_out, const double *sigma_ln, double sigma_const,
                      size_t nout, double *out)
{
    for (size_t i = 0; i < nout; i++) out[i] = log(wave_out[i]) - ln_shift;
    /* out doubles as the ln-wavelength buffer: process in place from a copy */
    double buf[512];
    for (size_t a = 0; a < nout; a += 512) {
        size_t b = a + 512 < nout ? a + 512 : nout;
        memcpy(buf, out + a, (b - a) * sizeof *buf);
        sim_lsf_apply_ln(m, flux_hires, 0, buf, sigma_ln ? sigma_ln + a : NULL, sigma_const, b - a,
                         out + a);
    }
}

/* TiO5 of the physics at `lab` through a Gaussian LSF of resolving power R, 1 A pixels. */
static double tio5_measure(const ms_sim_model *m, const ms_sim_labels *lab, ms_sim_domain dom,
                           double R, double tio_override, double *work)
{
    size_t j0, j1;
    ms_sim_model_range(m, 6990.0, 7190.0, &j0, &j1);
    /* work: [j1 - j0], hi-res pixels j0.. */
    if (model_flux(m, lab, dom, j0, j1, NULL, tio_override, work) != MS_OK) return -9999.0;
    double wave[100], lnw[100], f[100];
    size_t n = 0;
    for (int w = 7040; w <= 7137; w++, n++) {
        wave[n] = w;
        lnw[n] = log((double)w);
    }
    sim_lsf_apply_ln(m, work, j0, lnw, NULL, 1.0 / (2.0 * sqrt(2.0 * log(2.0)) * R), n, f);
    return ms_sim_tio5(wave, f, n);
}

double ms_sim_model_tio5(const ms_sim_model *m, const ms_sim_labels *lab, ms_sim_domain dom,
                         double resolving_power)
{
    size_t j0, j1;
    ms_sim_model_range(m, 6990.0, 7190.0, &j0, &j1);
    double *work = ms_malloc_array("sim.tio5", j1 - j0, sizeof *work);
    if (!work) return -9999.0;
    double t = tio5_measure(m, lab, dom, resolving_power, -1.0, work);
    ms_free(work);
    return t;
}

/* Natural cubic spline second derivatives for equally spaced nodes (unit spacing). */
static void spline_init(const double *y, double *mm, int n)
{
    double cp[SIM_CAL_N], dp[SIM_CAL_N];
    mm[0] = mm[n - 1] = 0;
    cp[0] = 0;
    dp[0] = 0;
    for (int i = 1; i < n - 1; i++) {
        double rhs = 6.0 * (y[i + 1] - 2.0 * y[i] + y[i - 1]);
        double den = 4.0 - cp[i - 1];
        cp[i] = 1.0 / den;
        dp[i] = (rhs - dp[i - 1]) / den;
    }
    for (int i = n - 2; i >= 1; i--) mm[i] = dp[i] - cp[i] * mm[i + 1];
}

static ms_status calibrate_tio(ms_sim_model *m)
{
    size_t j0, j1;
    ms_sim_model_range(m, 6990.0, 7190.0, &j0, &j1);
    double *work = ms_malloc_array("sim.calib", j1 - j0, sizeof *work);
    if (!work) return MS_ENOMEM;
    for (int k = 0; k < SIM_CAL_N; k++) {
        double T = SIM_CAL_T0 + SIM_CAL_DT * k;
        ms_sim_labels lab = {T, ms_sim_logg_ms(T, 0.0), 0.0, 0.0};
        double target = ms_sim_tio5_target(T);
        double lo = -12.0, hi = 4.0; /* ln C: TiO5 decreases as C grows */
        for (int it = 0; it < 60; it++) {
            double mid = 0.5 * (lo + hi);
            double t = tio5_measure(m, &lab, MS_SIM_SYNTHETIC, 1800.0, exp(mid), work);
            if (t > target)
                lo = mid;
            else
                hi = mid;
        }
        m->cal_y[k] = 0.5 * (lo + hi);
    }
    ms_free(work);
    spline_init(m->cal_y, m->cal_m, SIM_CAL_N);
    return MS_OK;
}

/* ------------------------------------------------------------------------------------------
 * Life cycle. */

ms_status ms_sim_gap_parts(const ms_cfg_simulate *s, double gap[MS_SIM_GAP_PARTS])
{
    if (s->gap_components.n != MS_SIM_GAP_PARTS)
        MS_ERROR(MS_EINVAL, "configuration key 'simulate.gap_components' needs %d values (one per "
                            "gap ingredient), got %d", MS_SIM_GAP_PARTS, s->gap_components.n);
    for (int i = 0; i < MS_SIM_GAP_PARTS; i++) gap[i] = s->gap_strength * s->gap_components.v[i];
    return MS_OK;
}

ms_status ms_sim_model_alloc(double hires_step, double gap_strength, ms_sim_model **out)
{
    double gap[MS_SIM_GAP_PARTS];
    for (int i = 0; i < MS_SIM_GAP_PARTS; i++) gap[i] = gap_strength;
    return ms_sim_model_alloc_parts(hires_step, gap, out);
}

ms_status ms_sim_model_alloc_parts(double hires_step, const double gap[MS_SIM_GAP_PARTS],
                                   ms_sim_model **out)
{
    *out = NULL;
    if (!(hires_step >= 0.01 && hires_step <= 0.25))
        MS_ERROR(MS_EINVAL, "simulate.hires_step = %g: must lie in [0.01, 0.25] A", hires_step);
    double gmax = 0.0;
    for (int i = 0; i < MS_SIM_GAP_PARTS; i++) {
        if (!(gap[i] >= 0 && gap[i] <= 10))
            MS_ERROR(MS_EINVAL, "simulate.gap_strength x gap_components[%d] = %g: must lie in "
                                "[0, 10]", i, gap[i]);
        if (gap[i] > gmax) gmax = gap[i];
    }
    ms_sim_model *m = ms_calloc("sim.model", 1, sizeof *m);
    if (!m) return MS_ENOMEM;
    m->h = hires_step / GRID_HI;
    m->lnw0 = log(GRID_LO);
    m->n = (size_t)floor((log(GRID_HI) - m->lnw0) / m->h) + 1;
    m->gap = gmax;
    memcpy(m->gap_part, gap, sizeof m->gap_part);
    m->wave = ms_malloc_array("sim.wave", m->n, sizeof *m->wave);
    ms_status st = m->wave ? MS_OK : MS_ENOMEM;
    if (st == MS_OK) {
        for (size_t j = 0; j < m->n; j++) m->wave[j] = exp(m->lnw0 + m->h * (double)j);
        st = build_components(m);
    }
    if (st == MS_OK) st = sim_gap_build(m);
    if (st == MS_OK) st = calibrate_tio(m);
    if (st != MS_OK) {
        ms_sim_model_free(m);
        return st;
    }
    *out = m;
    return MS_OK;
}

void ms_sim_model_free(ms_sim_model *m)
{
    if (!m) return;
    for (int i = 0; i < m->ncomp; i++) ms_free(m->comp[i].tau);
    ms_free(m->wave);
    ms_free(m);
}

size_t ms_sim_model_npix(const ms_sim_model *m) { return m->n; }
const double *ms_sim_model_wave(const ms_sim_model *m) { return m->wave; }
double ms_sim_model_log_step(const ms_sim_model *m) { return m->h; }
double ms_sim_model_gap_strength(const ms_sim_model *m) { return m->gap; }
