/* model_internal.h: the physics model's private structure, shared by model.c, gap.c and
 * instrument.c (not installed). */
#ifndef MSTARS_SIM_MODEL_INTERNAL_H
#define MSTARS_SIM_MODEL_INTERNAL_H

#include "mstars/sim.h"

#include <stddef.h>

/* Label-dependent strength functions (one scalar each per spectrum). */
typedef enum {
    STR_TIO = 0,
    STR_CAH,
    STR_VO,
    STR_FEH,
    STR_MGH,
    STR_KI_CORE,
    STR_KI_WING,
    STR_NAI_CORE,
    STR_NAI_WING,
    STR_CAII_CORE,
    STR_CAII_WING,
    STR_ALPHA_LINES,
    STR_HALPHA,
    STR_METALS,
    STR_GAP_MISSING,  /* gap: missing pseudo-continuum opacity */
    STR_GAP_XBAND,    /* gap: unmodelled band */
    STR_COUNT
} sim_strength;

/* Gap rescaling of a component's strength in the observed domain. */
typedef enum {
    GAPSCALE_NONE = 0,
    GAPSCALE_TIO,     /* TiO too weak in the models for cool stars */
    GAPSCALE_CAH_RED, /* CaH 6830-7030 too weak in the models for early M */
} sim_gapscale;

enum { DOM_SYNTH = 1, DOM_OBS = 2 };

typedef struct {
    const char *name;
    sim_strength strength;
    sim_gapscale gapscale;
    unsigned domains;  /* DOM_SYNTH | DOM_OBS */
    size_t j0, j1;     /* hi-res pixel range of tau */
    double *tau;       /* [j1 - j0] optical depth at unit strength */
} sim_component;

#define SIM_MAX_COMPONENTS 48
#define SIM_CAL_N 45       /* TiO calibration nodes 2400..4600 K step 50 */
#define SIM_CAL_T0 2400.0
#define SIM_CAL_DT 50.0

struct ms_sim_model {
    size_t n;          /* hi-res pixels */
    double lnw0, h;    /* ln(wave[0]), ln step */
    double *wave;      /* [n] */
    double gap;        /* gap strength: the largest of gap_part */
    double gap_part[MS_SIM_GAP_PARTS]; /* strength of each gap ingredient (gap.c) */
    int ncomp;
    sim_component comp[SIM_MAX_COMPONENTS];
    /* natural cubic spline of ln C_TiO(Teff) on the calibration nodes */
    double cal_y[SIM_CAL_N], cal_m[SIM_CAL_N];
};

/* Add a component with a fresh zeroed template over [lo, hi] A; returns it or NULL (error
 * recorded) when the table is full or allocation fails. */
sim_component *sim_model_add(ms_sim_model *m, const char *name, sim_strength s,
                             sim_gapscale gs, unsigned domains, double lo, double hi);

/* Template builders (model.c). `shift` moves every feature by that many Angstroms. */
typedef struct {
    double head;     /* bandhead (A) */
    double length;   /* extent redward of the head (A) */
    double scale;    /* e-folding length of the envelope (A) */
    double amp;      /* optical depth scale */
    double cont;     /* fraction of the opacity that is a smooth pseudo-continuum */
    double density;  /* forest lines per A */
    double width;    /* forest line Gaussian sigma (A) */
} sim_band;

void sim_add_band(const ms_sim_model *m, sim_component *c, const sim_band *b, uint64_t seed,
                  double shift, double weight);
/* Gaussian line (sigma in A) with central optical depth tau0. */
void sim_add_gauss_line(const ms_sim_model *m, sim_component *c, double center, double sigma,
                        double tau0);
/* Lorentzian wing (half width gamma, A) with peak optical depth tau0, cut at +-cut A. */
void sim_add_lorentz_line(const ms_sim_model *m, sim_component *c, double center, double gamma,
                          double tau0, double cut);

/* model.c builders reused by gap.c: K I lines and VO bands moved by `shift` A; TiO band
 * `i` of the table alone with forest seed `seed` (index of the 8432 A band: SIM_TIO8432). */
ms_status sim_model_add_ki(ms_sim_model *m, double shift, unsigned domains);
ms_status sim_model_add_vo(ms_sim_model *m, double shift, unsigned domains);
void sim_model_tio_band(const ms_sim_model *m, sim_component *c, int i, uint64_t seed,
                        double weight);
#define SIM_TIO8432 9
#define SIM_TIO8432_SEED 109 /* the forest seed the synthetic TiO uses for that band */

/* gap.c: add the observed-only components and mark the replaced ones synthetic-only. */
ms_status sim_gap_build(ms_sim_model *m);
/* gap.c: multiplicative gap rescaling of a strength in the observed domain. */
double sim_gap_scale(const ms_sim_model *m, sim_gapscale gs, const ms_sim_labels *lab);

/* Hi-res pixel index (fractional) of a wavelength. */
double sim_model_index(const ms_sim_model *m, double wave);

/* ln(pi B_lambda(T)) in erg/s/cm2/A at hi-res pixels [j0, j1) into out (smooth; exact at
 * every 32nd pixel, linear in between). */
void sim_log_blackbody(const ms_sim_model *m, double teff, size_t j0, size_t j1, double *out);

/* LSF on ln-wavelengths already in the rest frame (see ms_sim_lsf_apply); flux_hires[k - off]
 * holds hi-res pixel k (off = 0 for full-grid arrays). */
void sim_lsf_apply_ln(const ms_sim_model *m, const double *flux_hires, size_t off,
                      const double *ln_out, const double *sigma_ln, double sigma_const,
                      size_t nout, double *out);

double sim_sigmoid(double x);

/* exp(x) for |x| <= 700 without a libm call (Cody-Waite reduction, degree-11 Taylor
 * polynomial, relative error below 1e-14; inputs are clamped to [-700, 700]). Pure
 * arithmetic, so results are identical on every rank; about 4x faster than exp(). */
static inline double sim_exp(double x)
{
    x = x < -700.0 ? -700.0 : (x > 700.0 ? 700.0 : x);
    const double shifter = 6755399441055744.0; /* 1.5 * 2^52: rounds to nearest integer */
    double n = (x * 1.4426950408889634 + shifter) - shifter;
    double r = (x - n * 0.693147180369123816490) - n * 1.90821492927058770002e-10;
    double p = 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    union {
        double d;
        unsigned long long u;
    } sc;
    sc.u = (unsigned long long)((long long)n + 1023) << 52;
    return p * sc.d;
}

#endif
