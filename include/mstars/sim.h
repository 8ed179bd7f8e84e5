/* sim.h: the mock universe of `mstars simulate`: a toy M-dwarf physics with known truth,
 * a BT-Settl-format theory grid and a LAMOST-format survey written in the real formats.
 *
 * Pipeline of one observed spectrum (docs/simulate.md has the numbers):
 *   labels -> hi-res physics F(lambda) = pi B_lambda(Teff) exp(-sum_c s_c(labels) tau_c(lambda))
 *   (+ the synthetic-gap components in the observed domain) -> unresolved companion ->
 *   H-alpha emission -> telluric absorption (topocentric frame) -> Doppler shift -> LSF
 *   (R ~ 1800, varying with wavelength and fibre) sampled on the LAMOST log-linear pixels ->
 *   flux-calibration error -> flux level -> sky residuals -> noise from the S/N -> IVAR ->
 *   mask runs (IVAR 0) -> FITS file (DR9+ COADD table or DR5-8 image layout).
 *
 * Modules: model.c (physics templates, label strengths, TiO5 calibration), gap.c (the
 * synthetic-gap components), instrument.c (LSF, tellurics, sky, flux calibration, noise,
 * masks), population.c (stars, observations, catalogue), rng.c (counter-seeded streams),
 * survey.c (the MPI driver); the writers live in src/io (lamost_write.c, grid_write.c).
 *
 * Determinism: every random choice comes from a stream seeded by (general.seed, kind, index),
 * so the files are identical for any rank count. The physics templates use a fixed internal
 * seed: the theory grid does not depend on general.seed. */
#ifndef MSTARS_SIM_H
#define MSTARS_SIM_H

#include "mstars/config.h"
#include "mstars/lamost.h"
#include "mstars/status.h"

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------------------------------
 * Random streams (rng.c): xoshiro256** seeded by splitmix64 of (seed, kind, index). */
typedef struct {
    uint64_t s[4];
} ms_sim_rng;

enum {
    MS_SIM_STREAM_CLASS = 8,  /* per star / observation: kind, its labels and header class */
    MS_SIM_STREAM_TEMPLATE = 9, /* per spectrum of the template generator: which template */
    MS_SIM_STREAM_CLASS_OBS = 10, /* per observation of a non-M-dwarf object: header class */
    MS_SIM_STREAM_STAR = 1,   /* per star: labels, photometry, companions */
    MS_SIM_STREAM_OBS = 2,    /* per observation: conditions, instrument, pathology */
    MS_SIM_STREAM_NOISE = 3,  /* per observation: pixel noise and mask runs */
    MS_SIM_STREAM_PLATE = 4,  /* per plate: date, conditions */
    MS_SIM_STREAM_FIELD = 5,  /* per field: sky position */
    MS_SIM_STREAM_MODEL = 6,  /* fixed physics templates */
};

void ms_sim_rng_seed(ms_sim_rng *r, uint64_t seed, uint64_t kind, uint64_t index);
uint64_t ms_sim_rng_u64(ms_sim_rng *r);
double ms_sim_rng_uniform(ms_sim_rng *r);  /* (0, 1) */
double ms_sim_rng_gauss(ms_sim_rng *r);    /* N(0, 1) */
/* Standard normal truncated to [lo, hi] (by rejection; lo < hi). */
double ms_sim_rng_gauss_trunc(ms_sim_rng *r, double lo, double hi);

/* ---------------------------------------------------------------------------------------
 * Labels and reference relations (model.c). */
typedef struct {
    double teff;    /* K */
    double logg;    /* dex (cgs) */
    double m_h;     /* [M/H] */
    double alpha_m; /* [alpha/M] */
} ms_sim_labels;

/* The Teff -> spectral type scale used for the TiO5 calibration: K5 4400, K7 4050, M0 3850,
 * M1 3680, M2 3550, M3 3400, M4 3200, M5 3050, M6 2850, M7 2700, M8 2550, M9 2400 K
 * (SpT: -2 = K5, -1 = K7, 0..9 = M0..M9), piecewise linear, clamped outside. */
double ms_sim_spt_from_teff(double teff);
/* method.md section 7: SpT = -10.775 TiO5 + 8.2. */
double ms_sim_spt_from_tio5(double tio5);
/* The TiO5 the synthetic physics is calibrated to at this Teff (solar metallicity, main
 * sequence gravity): the SpT relation inverted, SpT capped at 7 (TiO saturates). */
double ms_sim_tio5_target(double teff);
/* 5 Gyr main-sequence log g of an M dwarf (smooth fit; metal-poor stars slightly denser). */
double ms_sim_logg_ms(double teff, double m_h);
/* Lower end of the Z25 [alpha/M] range at this [M/H]: -0.2 for [M/H] >= 0, 0.0 for
 * -1 < [M/H] < 0, +0.2 for [M/H] <= -1; the range is [lower, lower + 0.4] in steps of 0.2. */
double ms_sim_alpha_lower(double m_h);

/* TiO5 = mean flux 7126-7135 A / mean flux 7042-7046 A, measured on a spectrum resampled
 * (linear interpolation) onto integer Angstroms (the pixels whose centres fall in each
 * window). Wavelengths increasing, rest frame. -9999 when the windows are not covered or the
 * denominator is not positive. */
double ms_sim_tio5(const double *wave, const double *flux, size_t n);

/* ---------------------------------------------------------------------------------------
 * The physics model (model.c + gap.c). */
typedef enum {
    MS_SIM_SYNTHETIC = 0, /* the theory grid's physics */
    MS_SIM_OBSERVED = 1,  /* plus the synthetic gap, scaled by gap_strength */
} ms_sim_domain;

typedef struct ms_sim_model ms_sim_model; /* opaque; read-only after alloc (thread safe) */

/* Build the hi-res wavelength grid (log-uniform, step hires_step at 9350 A, 3550-9350 A),
 * every opacity template, the gap components for `gap_strength`, and the TiO5 calibration.
 * Takes about 0.1-0.5 s. */
ms_status ms_sim_model_alloc(double hires_step, double gap_strength, ms_sim_model **out);
/* the gap's ingredients, in the order of simulate.gap_components (gap.c describes each) */
enum {
    MS_SIM_GAP_TIO_SCALE,   /* TiO too weak below ~3400 K: degenerate with Teff */
    MS_SIM_GAP_CAH_SCALE,   /* CaH 6830-7030 A mis-scaled near 4000 K */
    MS_SIM_GAP_OPACITY,     /* missing pseudo-continuum opacity */
    MS_SIM_GAP_XBAND,       /* an unmodelled band at 8345 A */
    MS_SIM_GAP_SHIFTS,      /* VO and K I features at shifted wavelengths */
    MS_SIM_GAP_LINE_LIST,   /* another line list for the TiO 8432 A band */
    MS_SIM_GAP_PARTS
};
/* ms_sim_model_alloc with a separate strength for each of the gap's six ingredients (indexed
 * by the enum above), e.g. to see which of them a method cannot undo; ms_sim_model_alloc(h, g)
 * is all six equal to g. ms_sim_model_gap_strength then returns the largest. */
ms_status ms_sim_model_alloc_parts(double hires_step, const double gap[MS_SIM_GAP_PARTS],
                                   ms_sim_model **out);
/* gap[i] = simulate.gap_strength x simulate.gap_components[i] (the list must have 6 values). */
ms_status ms_sim_gap_parts(const ms_cfg_simulate *s, double gap[MS_SIM_GAP_PARTS]);
void ms_sim_model_free(ms_sim_model *m);

size_t ms_sim_model_npix(const ms_sim_model *m);
const double *ms_sim_model_wave(const ms_sim_model *m); /* [npix] vacuum A, increasing */
double ms_sim_model_log_step(const ms_sim_model *m);    /* ln(lambda) step */
double ms_sim_model_gap_strength(const ms_sim_model *m);
/* Index range [*j0, *j1) of the hi-res pixels with lo <= wave <= hi. */
void ms_sim_model_range(const ms_sim_model *m, double lo, double hi, size_t *j0, size_t *j1);

/* Surface flux (erg/s/cm2/A) of a star with `lab` over hi-res pixels [j0, j1) into
 * flux[j1 - j0]. extra_tau (NULL or [j1 - j0]): an additional optical depth added before the
 * exponential (used for tellurics so the spectrum costs one exp per pixel). */
ms_status ms_sim_model_flux(const ms_sim_model *m, const ms_sim_labels *lab, ms_sim_domain dom,
                            size_t j0, size_t j1, const double *extra_tau, double *flux);
/* Blackbody surface flux pi B_lambda(Teff) on the same pixels (the .spec.7 column 3). */
void ms_sim_model_blackbody(const ms_sim_model *m, double teff, size_t j0, size_t j1,
                            double *flux);

/* Gaussian LSF constant in ln(lambda) applied to a hi-res spectrum on the model grid, sampled
 * at the rest-frame wavelengths wave_out[i] * exp(-ln_shift) with dispersion sigma_ln[i] (in
 * ln lambda; NULL: sigma_const for every pixel). Kernel cut at 4 sigma, weights normalised;
 * out[i] = NaN where the kernel leaves the grid. */
void ms_sim_lsf_apply(const ms_sim_model *m, const double *flux_hires, double ln_shift,
                      const double *wave_out, const double *sigma_ln, double sigma_const,
                      size_t nout, double *out);

/* TiO5 of the synthetic physics at `lab`, measured after a Gaussian LSF of resolving power R
 * on a 1 A grid (the calibration's own measurement). */
double ms_sim_model_tio5(const ms_sim_model *m, const ms_sim_labels *lab, ms_sim_domain dom,
                         double resolving_power);

/* ---------------------------------------------------------------------------------------
 * The theory grid (survey.c). Axes from simulate.grid_teff/logg/mh (min, max, step) and the
 * Z25 [alpha/M] rule (three values per [M/H], see ms_sim_alpha_lower). */
typedef struct {
    size_t n;
    ms_sim_labels *labels; /* [n] ordered by [M/H], [alpha/M], log g, Teff (Teff fastest) */
} ms_sim_grid_axes;

ms_status ms_sim_grid_axes_build(const ms_cfg_simulate *s, ms_sim_grid_axes *axes);
void ms_sim_grid_axes_free(ms_sim_grid_axes *axes);
/* BT-Settl file name of a model: lte033.0-5.0-0.0a+0.0.BT-Settl.spec.7 (ext "spec.7") or
 * ".spec.fits" (ext "spec.fits"). */
void ms_sim_grid_name(const ms_sim_labels *lab, const char *ext, char *buf, size_t len);
/* Wavelength span of the theory grid files (A). */
#define MS_SIM_GRID_WMIN 5800.0
#define MS_SIM_GRID_WMAX 9200.0

/* ---------------------------------------------------------------------------------------
 * The population (population.c). */
typedef enum {
    MS_SIM_PATH_NONE = 0,
    MS_SIM_PATH_TRUNCATED,   /* file cut inside the data: the reader fails (MS_EIO) */
    MS_SIM_PATH_ALL_NAN,     /* FLUX all NaN: readable, no usable pixel */
    MS_SIM_PATH_ZERO_IVAR,   /* IVAR all 0: readable, no usable pixel */
    MS_SIM_PATH_NON_STAR,    /* CLASS GALAXY/QSO/Unknown: readable, rejected by class */
    MS_SIM_PATH_SHORT_WAVE,  /* only 3700-6280 A: readable, does not cover 6000-8900 A */
    MS_SIM_PATH_MISSING_EXT, /* DR9+ primary header without the COADD HDU: reader fails */
    MS_SIM_PATH_COUNT
} ms_sim_pathology;

const char *ms_sim_pathology_name(ms_sim_pathology p); /* "none", "truncated", ... */

/* What a mock object is (population.c draws it, classes.c gives the non-M physics). The
 * default population is all MS_SIM_KIND_MDWARF; simulate.fraction_* ask for the others. */
typedef enum {
    MS_SIM_KIND_MDWARF = 0, /* the M-dwarf universe (model.c physics) */
    MS_SIM_KIND_MGIANT,     /* M giant: model.c physics at log g 0-1.5 */
    MS_SIM_KIND_OB,         /* main-sequence stars, classes.c physics */
    MS_SIM_KIND_A,
    MS_SIM_KIND_F,
    MS_SIM_KIND_G,
    MS_SIM_KIND_K,
    MS_SIM_KIND_WD,         /* DA white dwarf */
    MS_SIM_KIND_GALAXY,     /* old stellar continuum + a few lines, redshifted */
    MS_SIM_KIND_QSO,        /* power law + broad redshifted emission lines */
    MS_SIM_KIND_COUNT
} ms_sim_kind;

/* "mdwarf", "mgiant", "ob", "a", "f", "g", "k", "wd", "galaxy", "qso" */
const char *ms_sim_kind_name(ms_sim_kind k);
/* Truth class of the 8-class scheme (OB, A, F, G, K, M, GALAXY, QSO): M dwarfs and giants
 * "M"; a white dwarf gets the class of a main-sequence star of its Teff (OB or A). */
const char *ms_sim_spt_class(ms_sim_kind k, double teff);
/* "dwarf" (M dwarfs, OB-K main sequence), "giant" (M giants), "" (WD, galaxy, QSO). */
const char *ms_sim_lum_class(ms_sim_kind k);
/* Main-sequence spectral subtype of an O-K star of this Teff, as LAMOST writes SUBCLASS
 * ("O", "B5", "A0", ..., "K7"; Pecaut & Mamajek 2013-like scale); off shifts it by that many
 * table entries (a neighbouring subtype). */
const char *ms_sim_subtype_ms(double teff, int off);
/* The Teff of a main-sequence subtype name ("B6", "A0", "M3", "L2"; "O*" 33000 K), or of a
 * giant ("K5", "M0" with giant = 1: gM scale); NAN when the name is not understood. */
double ms_sim_teff_of_subtype(const char *name, int giant);
/* Teff range [lo, hi) a main-sequence kind (OB..K) is drawn from: the geometric midpoints
 * between the last subtype of the class and the first of the next, so ms_sim_subtype_ms names
 * every Teff of the range with the class's letter. */
void ms_sim_kind_teff_range(ms_sim_kind k, double *lo, double *hi);
/* Absolute magnitude M_G and colour BP-RP of a non-M-dwarf kind at this Teff (M giants,
 * OB-K dwarfs, white dwarfs; galaxies and QSOs: colour only, M_G NAN). */
void ms_sim_kind_photometry(ms_sim_kind k, double teff, double *bprp, double *mg);
/* The giant M subtype (0-9) of an M giant of this Teff (gM scale, van Belle-like). */
int ms_sim_giant_subtype(double teff);

typedef struct {
    long id;                 /* star index */
    ms_sim_labels lab;
    double rv;               /* km/s, systemic */
    int n_obs;               /* 1..4 */
    long first_obs;          /* index of its first observation */
    int active;              /* H-alpha emission */
    double halpha_ew;        /* emission equivalent width (A, > 0 emission; 0 inactive) */
    int binary;
    ms_sim_labels lab2;      /* companion (binary only) */
    double radius2;          /* companion radius / primary radius */
    double dv2;              /* companion velocity offset (km/s) */
    double ra, dec;          /* deg */
    long field;
    double snr_latent;       /* star's S/N before per-observation scatter */
    /* Gaia-like catalogue */
    long long source_id;
    double gmag, bpmag, rpmag, plx, plx_err, ruwe, dist_pc;
    int var_flag, bin_flag;
    /* the object's kind (MS_SIM_KIND_MDWARF unless simulate.fraction_* ask otherwise) */
    int kind;
    double redshift;         /* galaxies and QSOs: true z (0 for stars) */
    double vdisp;            /* galaxies: velocity dispersion (km/s) */
    double line_ew;          /* galaxies: H-alpha emission EW (A, 0: passive) */
} ms_sim_star;

typedef struct {
    long index;              /* in truth order */
    long star;
    int epoch;               /* 0.. n_obs - 1 */
    long plate;              /* global plate index */
    long obsid;
    long lmjd;
    char planid[32];
    char obsdate[12];        /* YYYYMMDD, directory of the file */
    int spid, fiberid;
    ms_lamost_layout layout; /* MS_LAMOST_COADD or MS_LAMOST_IMAGE */
    char data_v[16];
    int gz;
    ms_sim_pathology pathology;
    int npix;
    char cls[12], subclass[8];
    double snr_r;            /* target S/N in r */
    double z, z_err;         /* pipeline redshift (noisy RV estimate) */
    double helio_rv;         /* km/s, heliocentric correction of the plate */
    double airmass, pwv;     /* telluric O2 and H2O scalings */
    double lsf_r0;           /* resolving power at 6500 A for this fibre and night */
    double lsf_tilt;         /* dR/R per unit (lambda - 6500) / 2600 */
    double fluxcal[4];       /* Legendre coefficients of ln(flux-calibration error) */
    double flux_level;       /* median r-band flux in the file's units */
    double sky_frac;         /* sky continuum / median r-band stellar flux */
    double seeing, moon_phase, exptime;
    char file[128];          /* path relative to the output directory */
} ms_sim_obs;

typedef struct {
    long n_stars, n_obs;
    ms_sim_star *stars;      /* [n_stars] */
    ms_sim_obs *obs;         /* [n_obs] in truth order (star by star, epoch by epoch) */
} ms_sim_population;

/* Draw the whole population (cheap; every rank computes the same one). */
ms_status ms_sim_population_build(const ms_config *cfg, ms_sim_population *pop);
void ms_sim_population_free(ms_sim_population *pop);
/* The template generator's object: star st (observed once, by ob) becomes a `kind` with
 * labels lab (companion and activity removed), photometry of its kind, and header
 * CLASS STAR, SUBCLASS spt ("gM0" for an M giant), or an M-dwarf subtype for a
 * label_error_fraction of the non-M-dwarfs (stream CLASS / CLASS_OBS). */
void ms_sim_template_star(const ms_config *cfg, ms_sim_star *st, ms_sim_obs *ob,
                          ms_sim_kind kind, const ms_sim_labels *lab, const char *spt, int giant);

/* ---------------------------------------------------------------------------------------
 * The instrument (instrument.c). */
#define MS_SIM_LAMOST_COEFF0 3.5682
#define MS_SIM_LAMOST_COEFF1 1e-4
#define MS_SIM_LAMOST_NPIX_MAX 3909

typedef struct ms_sim_instrument ms_sim_instrument; /* opaque; read-only after alloc */

ms_status ms_sim_instrument_alloc(const ms_sim_model *m, ms_sim_instrument **out);
void ms_sim_instrument_free(ms_sim_instrument *inst);

/* One observed spectrum on LAMOST pixels (arrays of MS_SIM_LAMOST_NPIX_MAX, npix used). */
typedef struct {
    int npix;
    float wave[MS_SIM_LAMOST_NPIX_MAX];
    float flux[MS_SIM_LAMOST_NPIX_MAX];
    float ivar[MS_SIM_LAMOST_NPIX_MAX];
    float andmask[MS_SIM_LAMOST_NPIX_MAX];
    float ormask[MS_SIM_LAMOST_NPIX_MAX];
    float norm[MS_SIM_LAMOST_NPIX_MAX];    /* NORMALIZATION column */
    double model[MS_SIM_LAMOST_NPIX_MAX];  /* noise-free flux (with sky residual 0) */
    double snr[5];                         /* u g r i z as written to SNRU..SNRZ */
} ms_sim_spectrum;

/* Workspace of ms_sim_observe (hi-res buffers); one per thread. */
typedef struct ms_sim_workspace ms_sim_workspace;
ms_status ms_sim_workspace_alloc(const ms_sim_model *m, ms_sim_workspace **out);
void ms_sim_workspace_free(ms_sim_workspace *ws);

/* Flags of ms_sim_observe. */
enum {
    MS_SIM_OBS_NOISE = 1,     /* add pixel noise (otherwise flux = noise-free model) */
    MS_SIM_OBS_TELLURIC = 2,  /* telluric absorption */
    MS_SIM_OBS_SKY = 4,       /* sky residuals and sky-line masks */
    MS_SIM_OBS_MASKS = 8,     /* bad-pixel runs (IVAR 0) */
    MS_SIM_OBS_FLUXCAL = 16,  /* flux-calibration error */
    MS_SIM_OBS_ALL = 31,
};

/* Observe star `star` on observation `obs`: the full chain above. seed: general.seed (noise
 * and mask streams). */
ms_status ms_sim_observe(const ms_sim_model *m, const ms_sim_instrument *inst,
                         const ms_sim_star *star, const ms_sim_obs *obs, uint64_t seed,
                         int flags, ms_sim_workspace *ws, ms_sim_spectrum *out);

/* Observe an arbitrary hi-res rest-frame spectrum (on the model grid) with the observation's
 * instrument, without noise, companion or emission: the "same instrument" path used to compare
 * a grid model with a survey spectrum. flags: MS_SIM_OBS_TELLURIC | MS_SIM_OBS_FLUXCAL. */
ms_status ms_sim_observe_hires(const ms_sim_model *m, const ms_sim_instrument *inst,
                               const double *flux_hires, double rv, const ms_sim_obs *obs,
                               int flags, ms_sim_workspace *ws, ms_sim_spectrum *out);

/* The full chain of ms_sim_observe (tellurics, LSF, flux calibration, level, sky, noise,
 * NORMALIZATION, masks, as `flags` select) for an arbitrary hi-res spectrum on the model grid
 * (flux_hires[ms_sim_model_npix]; only the pixels of ms_sim_observe_range are read), seen at
 * velocity rv. input_r: the resolving power the input already has (0: infinitely sharp, as
 * the toy physics; Kesseli templates: 2000), the LSF applied is then the difference kernel
 * sqrt(sigma_LAMOST^2 - sigma_input^2) (at least 0.2 sigma_LAMOST). norm_teff: the blackbody
 * of the NORMALIZATION column. Noise and masks come from (seed, obs->index) as in
 * ms_sim_observe. */
ms_status ms_sim_observe_spectrum(const ms_sim_model *m, const ms_sim_instrument *inst,
                                  const double *flux_hires, double rv, double input_r,
                                  double norm_teff, const ms_sim_obs *obs, uint64_t seed,
                                  int flags, ms_sim_workspace *ws, ms_sim_spectrum *out);
/* Hi-res pixel range [*ja, *jb) that observing at rv on obs's pixels needs. */
void ms_sim_observe_range(const ms_sim_instrument *inst, const ms_sim_obs *obs, double rv,
                          size_t *ja, size_t *jb);

/* ---------------------------------------------------------------------------------------
 * The non-M physics (classes.c): toy spectra of OB-K main-sequence stars, DA white dwarfs,
 * galaxies and QSOs on the model's hi-res grid (docs/simulate.md). */
typedef struct ms_sim_classes ms_sim_classes; /* opaque; read-only after alloc */

ms_status ms_sim_classes_alloc(const ms_sim_model *m, ms_sim_classes **out);
void ms_sim_classes_free(ms_sim_classes *c);
/* Hi-res flux of `star` (kinds OB..QSO) over pixels [j0, j1) into flux[j1 - j0]: stars and
 * white dwarfs in their rest frame (observe them at star->rv), galaxies and QSOs already
 * redshifted to the observed frame (observe them at rv 0). */
ms_status ms_sim_classes_flux(const ms_sim_classes *c, const ms_sim_star *star, size_t j0,
                              size_t j1, double *flux);
/* The velocity at which ms_sim_classes_flux's output is observed (star->rv, or 0). */
double ms_sim_classes_rv(const ms_sim_star *star);

/* LSF resolving power of an observation at wavelength lambda (A). */
double ms_sim_lsf_resolution(const ms_sim_obs *obs, double lambda);

/* ---------------------------------------------------------------------------------------
 * Writers (src/io/lamost_write.c, src/io/grid_write.c). */

/* Header values of a LAMOST file. */
typedef struct {
    const char *filename; /* FILENAME keyword (base name without .gz) */
    long obsid;
    const char *data_v;
    long lmjd;
    const char *planid;
    const char *obsdate;  /* YYYYMMDD */
    double ra, dec;
    int spid, fiberid;
    const char *cls, *subclass;
    double z, z_err;
    double snr[5];
    double helio_rv, seeing, moon_phase, exptime;
    double mag[5];        /* g r i z y (MAG_PS_* or MAG1..) */
    const char *objname;
} ms_sim_lamost_header;

/* Write one LAMOST LRS file in `layout` (MS_LAMOST_COADD: DR9+ header-only primary with stale
 * NAXIS1/2 cards and a one-row COADD BINTABLE of float32 vectors FLUX, IVAR, WAVELENGTH,
 * ANDMASK, ORMASK, NORMALIZATION; MS_LAMOST_IMAGE: DR5-8 primary image 5 x npix float32 with
 * EXTEN0). A path ending in ".gz" is written gzip-compressed. Pathologies: MISSING_EXT omits
 * the COADD HDU, TRUNCATED cuts the finished file inside its data; the others are data
 * content the caller prepares. */
ms_status ms_sim_lamost_write(const char *path, ms_lamost_layout layout,
                              const ms_sim_lamost_header *h, const ms_sim_spectrum *sp,
                              ms_sim_pathology pathology);

/* BT-Settl .spec.7 ASCII: per row col 1 wavelength (A, 13 chars), col 2 log10(F) + 8 and col 3
 * the blackbody on the same scale, Fortran D exponents (13 chars each), so whitespace and
 * fixed-column (0-12, 13-25) readers both work. A few rows are duplicated and a few adjacent
 * pairs swapped, deterministically from `shuffle_seed`, as real files have. */
ms_status ms_sim_grid_write_spec7(const char *path, const double *wave, const double *flux,
                                  const double *bb, size_t n, uint64_t shuffle_seed);
/* CIFIST FITS: HDU1 BINTABLE with columns Wavelength (micron) and Flux (erg/s/cm2/A), labels
 * as PHXTEFF/PHXLOGG/PHXM_H/PHXALPHA keywords. */
ms_status ms_sim_grid_write_fits(const char *path, const double *wave, const double *flux,
                                 size_t n, const ms_sim_labels *lab);

/* ---------------------------------------------------------------------------------------
 * Real templates (templates.c; reader src/io/template_read.c): the Kesseli et al. (2017)
 * BOSS templates of ../shared/data/templates-kesseli2017 observed through the mock's
 * instrument (docs/simulate.md, "Spectra from real templates"). */

/* Kesseli template file: HDU 2 columns LogLam (log10 vacuum A) and Flux; wave[] in A,
 * increasing; non-finite fluxes read as 0. */
ms_status ms_template_read(const char *path, double **wave, double **flux, size_t *n);

#define MS_SIM_TEMPLATE_R 2000.0 /* resolving power the BOSS templates already have */

typedef struct {
    char name[64];      /* file name without .fits, e.g. "M0_+0.0_Dwarf" */
    char spt[8];        /* spectral type, e.g. "M0", "B6" */
    int giant;          /* luminosity class from the name (Giant) */
    double feh;         /* centre of the name's [Fe/H] bin (label - 0.25; 0 when none) */
    double teff;        /* nominal Teff of the type (ms_sim_teff_of_subtype) */
    ms_sim_kind kind;   /* OB, A, F, G, K, MDWARF or MGIANT (K giants: K) */
    const char *spt_class, *lum_class;
    int group;          /* index of its (spt_class, lum_class) group */
    double *flux;       /* [model npix] on the hi-res grid, median 1 */
} ms_sim_template;

typedef struct {
    size_t n;
    ms_sim_template *t;  /* sorted by name */
    int ngroups;
    int group_n[16];     /* templates per group */
} ms_sim_template_lib;

/* Read every SPT[_FEH][_LUM].fits of dir (types O-M; L dwarfs are left out: the 8-class
 * scheme has no L class) and resample each onto the model's hi-res grid (linear in ln lambda;
 * the edge values beyond the template's 3650-10200 A). */
ms_status ms_sim_templates_load(const ms_sim_model *m, const char *dir, ms_sim_template_lib *lib);
void ms_sim_templates_free(ms_sim_template_lib *lib);
/* Template of spectrum i: a (spt_class, lum_class) group uniformly, then a template of the
 * group uniformly (stream TEMPLATE, index i). */
size_t ms_sim_templates_pick(const ms_sim_template_lib *lib, uint64_t seed, long i);

/* ---------------------------------------------------------------------------------------
 * The driver (survey.c). */
enum { MS_SIM_RUN_GRID = 1, MS_SIM_RUN_SURVEY = 2, MS_SIM_RUN_ALL = 3 };

/* Collective over all ranks: write the grid and/or the survey under out_dir:
 *   grid/lte*.BT-Settl.spec.7 (or .spec.fits), spectra/YYYYMMDD/PLANID/spec-*.fits[.gz],
 *   spectra.lst,
 *   truth.csv, input_catalog.csv, grid.lst, simulate.cfg, and COMPLETE last (removed at the
 *   start, so an interrupted run never looks complete).
 * stats (may be NULL): spectra written and seconds spent on them by this run (all ranks). */
typedef struct {
    long n_models, n_spectra;
    double grid_seconds, survey_seconds;
} ms_sim_stats;

ms_status ms_sim_run(const ms_config *cfg, const char *out_dir, int what, ms_sim_stats *stats);

/* Collective: `n` LAMOST-format spectra from the templates of tdir (ms_sim_templates_load),
 * each observed through the mock's instrument (an observation of the mock survey: plate,
 * fibre, LSF, flux calibration, S/N, layout) at the star's RV with noise, tellurics, sky and
 * masks, or with clean = 1 at RV 0 without any of them nor the flux-calibration tilt. Writes
 * spectra/, spectra.lst, truth.csv (the mock's columns; `template` names the file),
 * input_catalog.csv, simulate.cfg and COMPLETE under out_dir. */
ms_status ms_sim_run_templates(const ms_config *cfg, const char *tdir, long n, int clean,
                               const char *out_dir, ms_sim_stats *stats);

#endif
