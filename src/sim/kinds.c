/* kinds.c: the non-M-dwarf kinds of mock object: names, truth classes, the spectral-type
 * <-> Teff scales and the colour-magnitude positions (docs/simulate.md, "Other populations").
 *
 * Main-sequence scale O8-L6: Pecaut & Mamajek (2013)-like for O-K, the mock's own M scale
 * (ms_sim_spt_from_teff) for M, and L0-L6 from 2250 K down in 100 K steps. Giants: a van
 * Belle (1999)-like scale K0-M7 III. */
#include "mstars/sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *kind_names[MS_SIM_KIND_COUNT] = {"mdwarf", "mgiant", "ob", "a", "f",
                                                     "g",      "k",      "wd", "galaxy", "qso"};

const char *ms_sim_kind_name(ms_sim_kind k)
{
    return (k >= 0 && k < MS_SIM_KIND_COUNT) ? kind_names[k] : "unknown";
}

/* Spectral code: O = 0, B = 10, A = 20, F = 30, G = 40, K = 50, M = 60, L = 70, + subtype. */
typedef struct {
    int code;
    double teff;
} sp_entry;

static const sp_entry dwarf_scale[] = {
    {8, 35000}, {9, 32500}, {10, 29000}, {11, 26000}, {12, 20600}, {13, 17000}, {14, 16400},
    {15, 15700}, {16, 14500}, {17, 14000}, {18, 12300}, {19, 10700}, {20, 9700}, {21, 9300},
    {22, 8800}, {23, 8600}, {25, 8250}, {26, 8100}, {27, 7650}, {29, 7450}, {30, 7200},
    {32, 6810}, {33, 6670}, {35, 6510}, {36, 6340}, {37, 6280}, {38, 6170}, {39, 6000},
    {40, 5920}, {41, 5800}, {42, 5770}, {44, 5680}, {45, 5660}, {46, 5590}, {47, 5530},
    {48, 5490}, {49, 5340}, {50, 5280}, {51, 5170}, {52, 5040}, {53, 4830}, {54, 4600},
    {55, 4450}, {56, 4200}, {57, 4050}, {60, 3850}, {61, 3680}, {62, 3550}, {63, 3400},
    {64, 3200}, {65, 3050}, {66, 2850}, {67, 2700}, {68, 2550}, {69, 2400}, {70, 2250},
    {71, 2150}, {72, 2050}, {73, 1950}, {74, 1850}, {75, 1750}, {76, 1650},
};
#define N_DWARF ((int)(sizeof dwarf_scale / sizeof dwarf_scale[0]))

static const sp_entry giant_scale[] = {
    {50, 4750}, {52, 4500}, {53, 4250}, {54, 4100}, {55, 3980}, {57, 3930}, {60, 3895},
    {61, 3810}, {62, 3730}, {63, 3640}, {64, 3560}, {65, 3420}, {66, 3250}, {67, 3100},
};
#define N_GIANT ((int)(sizeof giant_scale / sizeof giant_scale[0]))

static double scale_teff(const sp_entry *t, int n, double code)
{
    if (code <= t[0].code) return t[0].teff;
    if (code >= t[n - 1].code) return t[n - 1].teff;
    for (int i = 1; i < n; i++)
        if (code <= t[i].code) {
            double f = (code - t[i - 1].code) / (double)(t[i].code - t[i - 1].code);
            return exp(log(t[i - 1].teff) + f * (log(t[i].teff) - log(t[i - 1].teff)));
        }
    return t[n - 1].teff;
}

double ms_sim_teff_of_subtype(const char *name, int giant)
{
    static const char letters[] = "OBAFGKML";
    if (!name || !*name) return NAN;
    const char *l = strchr(letters, name[0]);
    if (!l) return NAN;
    char *end;
    double sub = strtod(name + 1, &end);
    if (end == name + 1) sub = name[0] == 'O' ? 8.0 : 0.0; /* "O": the hottest we model */
    if (!(sub >= 0 && sub < 10)) return NAN;
    double code = 10.0 * (double)(l - letters) + sub;
    return giant ? scale_teff(giant_scale, N_GIANT, code) : scale_teff(dwarf_scale, N_DWARF, code);
}

const char *ms_sim_subtype_ms(double teff, int off)
{
    static char names[N_DWARF][4];
    static const char letters[] = "OBAFGKML";
    int best = 0;
    double bd = 1e300;
    for (int i = 0; i < N_DWARF; i++) {
        double d = fabs(log(teff / dwarf_scale[i].teff));
        if (d < bd) {
            bd = d;
            best = i;
        }
    }
    best += off;
    if (best < 0) best = 0;
    if (best > N_DWARF - 1) best = N_DWARF - 1;
    int code = dwarf_scale[best].code;
    if (names[best][0] == '\0') { /* filled once; the same bytes every time */
        if (code < 10)
            snprintf(names[best], sizeof names[best], "O");
        else
            snprintf(names[best], sizeof names[best], "%c%d", letters[code / 10], code % 10);
    }
    return names[best];
}

void ms_sim_kind_teff_range(ms_sim_kind k, double *lo, double *hi)
{
    /* midpoints (geometric) of the scale between classes: B9/A0, A9/F0, F9/G0, G9/K0, K7/M0 */
    const double ob_a = sqrt(10700.0 * 9700.0), a_f = sqrt(7450.0 * 7200.0),
                 f_g = sqrt(6000.0 * 5920.0), g_k = sqrt(5340.0 * 5280.0),
                 k_m = sqrt(4050.0 * 3850.0);
    switch (k) {
    case MS_SIM_KIND_OB: *lo = ob_a; *hi = 35000.0; break;
    case MS_SIM_KIND_A: *lo = a_f; *hi = ob_a; break;
    case MS_SIM_KIND_F: *lo = f_g; *hi = a_f; break;
    case MS_SIM_KIND_G: *lo = g_k; *hi = f_g; break;
    case MS_SIM_KIND_K: *lo = k_m; *hi = g_k; break;
    case MS_SIM_KIND_MGIANT: *lo = 3300.0; *hi = 3950.0; break;
    case MS_SIM_KIND_WD: *lo = 7000.0; *hi = 30000.0; break;
    default: *lo = 3000.0; *hi = 4000.0; break;
    }
}

const char *ms_sim_spt_class(ms_sim_kind k, double teff)
{
    switch (k) {
    case MS_SIM_KIND_MDWARF:
    case MS_SIM_KIND_MGIANT: return "M";
    case MS_SIM_KIND_OB: return "OB";
    case MS_SIM_KIND_A: return "A";
    case MS_SIM_KIND_F: return "F";
    case MS_SIM_KIND_G: return "G";
    case MS_SIM_KIND_K: return "K";
    case MS_SIM_KIND_WD: {
        double lo, hi;
        ms_sim_kind_teff_range(MS_SIM_KIND_OB, &lo, &hi);
        return teff >= lo ? "OB" : "A";
    }
    case MS_SIM_KIND_GALAXY: return "GALAXY";
    case MS_SIM_KIND_QSO: return "QSO";
    default: return "";
    }
}

const char *ms_sim_lum_class(ms_sim_kind k)
{
    if (k == MS_SIM_KIND_MGIANT) return "giant";
    if (k == MS_SIM_KIND_WD || k == MS_SIM_KIND_GALAXY || k == MS_SIM_KIND_QSO) return "";
    return "dwarf";
}

int ms_sim_giant_subtype(double teff)
{
    /* nearest of gM0..gM7 on the giant scale (cooler than M7: M7) */
    int best = 0;
    double bd = 1e300;
    for (int i = 0; i < N_GIANT; i++) {
        if (giant_scale[i].code < 60) continue;
        double d = fabs(teff - giant_scale[i].teff);
        if (d < bd) {
            bd = d;
            best = giant_scale[i].code - 60;
        }
    }
    return best;
}

/* Piecewise-linear interpolation in ln Teff on a decreasing table. */
static double interp_lnt(const double *t, const double *y, int n, double teff)
{
    if (teff >= t[0]) return y[0];
    if (teff <= t[n - 1]) return y[n - 1];
    for (int i = 1; i < n; i++)
        if (teff >= t[i]) {
            double f = log(teff / t[i - 1]) / log(t[i] / t[i - 1]);
            return y[i - 1] + f * (y[i] - y[i - 1]);
        }
    return y[n - 1];
}

void ms_sim_kind_photometry(ms_sim_kind k, double teff, double *bprp, double *mg)
{
    /* main sequence O8-M9 (Pecaut & Mamajek-like; K5-M9 as population.c's M dwarfs) */
    static const double ms_t[] = {35000, 29000, 15700, 12300, 9700, 8080, 7220, 6510,
                                  5920,  5660,  5280,  4830,  4400, 4050, 3850, 3680,
                                  3550,  3400,  3200,  3050,  2850, 2700, 2550, 2400};
    static const double ms_c[] = {-0.37, -0.33, -0.16, -0.09, 0.00, 0.16, 0.37, 0.56,
                                  0.74,  0.84,  0.98,  1.18,  1.60, 1.84, 1.98, 2.16,
                                  2.30,  2.50,  2.83,  3.20,  3.80, 4.20, 4.50, 4.80};
    static const double ms_g[] = {-4.2, -3.3, -1.1, -0.2, 1.0,  1.9,  2.6,  3.4,
                                  4.3,  5.0,  5.8,  6.5,  7.3,  8.0,  8.5,  8.95,
                                  9.4,  10.1, 11.3, 12.4, 13.9, 15.0, 15.9, 17.0};
    /* M giants (RGB/AGB, brighter than the gM line M_G = 1.8 (BP-RP) - 2.2) */
    static const double gi_t[] = {3950, 3800, 3650, 3500, 3300};
    static const double gi_c[] = {1.90, 2.10, 2.40, 2.80, 3.40};
    static const double gi_g[] = {0.30, 0.00, -0.40, -0.80, -1.30};
    /* DA white dwarfs (cooling sequence of log g 8) */
    static const double wd_t[] = {30000, 20000, 15000, 10000, 7000};
    static const double wd_c[] = {-0.45, -0.33, -0.20, 0.00, 0.35};
    static const double wd_g[] = {9.8, 10.3, 10.8, 11.8, 13.3};
    switch (k) {
    case MS_SIM_KIND_MGIANT:
        *bprp = interp_lnt(gi_t, gi_c, 5, teff);
        *mg = interp_lnt(gi_t, gi_g, 5, teff);
        break;
    case MS_SIM_KIND_WD:
        *bprp = interp_lnt(wd_t, wd_c, 5, teff);
        *mg = interp_lnt(wd_t, wd_g, 5, teff);
        break;
    case MS_SIM_KIND_GALAXY:
        *bprp = 1.1;
        *mg = NAN;
        break;
    case MS_SIM_KIND_QSO:
        *bprp = 0.6;
        *mg = NAN;
        break;
    default:
        *bprp = interp_lnt(ms_t, ms_c, 24, teff);
        *mg = interp_lnt(ms_t, ms_g, 24, teff);
        break;
    }
}
