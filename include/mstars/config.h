/* config.h: the run configuration.
 *
 * One plain struct (fixed-size fields only, so MPI can broadcast it as bytes) whose every
 * field is declared once in a key table (src/core/config_keys.c) with its type, default,
 * unit, allowed range and description. From that table come: the defaults (equal to
 * ../shared/reference/method.md), parsing of libconfig files, `--set section.key=value`
 * overrides, the rejection of unknown keys by name, range checks, and the effective
 * configuration text that every output file stores.
 *
 * To add a key: add the field to its section struct below and one row to the table. */
#ifndef MSTARS_CONFIG_H
#define MSTARS_CONFIG_H

#include "mstars/status.h"

#include <stddef.h>
#include <stdio.h>

#define MS_CFG_STR_MAX 256
#define MS_CFG_LIST_MAX 64

typedef struct {
    int n;
    double v[MS_CFG_LIST_MAX];
} ms_cfg_list;

typedef struct {
    char log_level[16];       /* debug | info | warn | error */
    long seed;                /* master seed of every random choice */
    long blas_threads;        /* BLAS threads per rank (0: cores given / ranks per node) */
} ms_cfg_general;

typedef struct {
    double wave_min, wave_max, wave_step;  /* output grid (A, vacuum, rest frame) */
    double continuum_sigma;                /* Gaussian pseudo-continuum kernel (A) */
    double continuum_truncate;             /* kernel cut at this many sigma */
    char mask_source[16];                  /* ormask | andmask | both | none */
    ms_cfg_list fit_masks;                 /* pairs (lo, hi) excluded from fits (A) */
    double synthetic_resolution;           /* R of the Gaussian LSF for model spectra */
    double synthetic_error;                /* normalised error given to model pixels */
    double min_good_fraction;              /* of output pixels; below: spectrum flagged */
    char required_class[16];               /* LAMOST CLASS to accept ("" accepts all) */
} ms_cfg_preprocess;

typedef struct {
    long write_batch;          /* rows gathered per rank before one collective write */
    long min_usable;           /* exit non-zero when fewer spectra than this are usable */
    double grid_alias_max;     /* ingest-grid: largest tolerated aliasing noise (grid_quality.h) */
    int grid_refuse;           /* ingest-grid: write no store when the grid fails the gate */
} ms_cfg_ingest;

typedef struct {
    long n_stars;
    double gap_strength;       /* 0: observed = model physics through the instrument */
    ms_cfg_list gap_components; /* multipliers of the gap's 6 ingredients (sim/gap.c) */
    double repeat_fraction;    /* stars with 2-4 observations */
    double active_fraction;    /* stars with H-alpha emission */
    double binary_fraction;    /* unresolved binaries */
    double pathological_fraction;
    double dr9_fraction;       /* fraction of files in the DR9+ COADD layout */
    ms_cfg_list grid_teff;     /* min, max, step (K) */
    ms_cfg_list grid_logg;     /* min, max, step (dex) */
    ms_cfg_list grid_mh;       /* min, max, step (dex) */
    char grid_format[16];      /* spec7 | fits | both */
    double hires_step;         /* sampling of the theory grid (A) */
    double rv_sigma;           /* km/s, population RV dispersion */
    double snr_r_median;       /* median S/N in r */
    double gzip_fraction;      /* fraction of spectrum files written as .fits.gz */
    /* population mix (sim/population.c, sim/classes.c): fractions of the stars drawn as each
     * non-M-dwarf kind; the rest are M dwarfs. All 0 (default): the M-dwarf universe. */
    double fraction_mgiant, fraction_ob, fraction_a, fraction_f, fraction_g, fraction_k;
    double fraction_wd, fraction_galaxy, fraction_qso;
    double label_error_fraction; /* non-M (and giants) whose LAMOST header says M dwarf */
} ms_cfg_simulate;

typedef struct {
    char labels[MS_CFG_STR_MAX]; /* comma-separated label names from the grid */
    long hidden;               /* neurons per hidden layer */
    long layers;               /* number of hidden layers */
    double leaky_slope;
    char loss[8];              /* l1 | l2 */
    char optimizer[8];         /* adam | radam */
    double learning_rate;
    long batch_size;
    long epochs;
    double validation_fraction;
    long validate_every;       /* epochs between validations */
    long checkpoint_every;     /* epochs between checkpoints */
    long shard_size;           /* models per gradient shard (exact sums); 0: plain all-reduce */
} ms_cfg_emulator;

/* Cycle-StarNet domain adaptation (Z25 3; O'Briain et al. 2021; docs/csn.md). */
typedef struct {
    /* architecture (O'Briain's kurucz_to_apogee_1 defaults) */
    ms_cfg_list dom_filters;   /* E_synth / E_obs conv filters (mirrored by G_synth / G_obs) */
    ms_cfg_list dom_strides;
    ms_cfg_list sh_filters;    /* shared encoder E_sh (mirrored by D_sh) */
    ms_cfg_list sh_strides;
    ms_cfg_list sp_filters;    /* split encoder E_sp (mirrored by D_sp) */
    ms_cfg_list sp_strides;
    long kernel;               /* kernel length of every encoder / decoder convolution */
    long z_shared;             /* channels of the shared latent z_sh */
    long z_split;              /* channels of the split latent z_sp */
    ms_cfg_list dis_x_filters; /* discriminator convolutions on the spectrum */
    ms_cfg_list dis_x_strides;
    long dis_kernel;
    ms_cfg_list dis_z_filters; /* discriminator 1x1 convolutions on the latent */
    double leaky_slope;
    char length_mode[8];       /* pad | crop: how spectra reach an exactly invertible length */
    double flux_mean, flux_std; /* standardisation; 0: from the synthetic training set */
    /* losses (Z25 Eq. 4-7) */
    double lambda_synth, lambda_obs, lambda_adv, lambda_dis;
    double err_floor;          /* observed normalised errors floored at this value */
    double err_max;            /* pixels with larger errors get no weight (0: no cut) */
    double synthetic_error;    /* normalised error given to emulator pixels */
    /* training */
    double learning_rate, beta1, beta2;
    long batch_size;           /* spectra per domain in a global mini-batch */
    long iterations;
    ms_cfg_list lr_milestones; /* iterations where the learning rate is multiplied by lr_gamma */
    double lr_gamma;
    long validate_every, validation_spectra, checkpoint_every;
    /* training sets (Z25 3.3) */
    long n_observed;           /* observed spectra drawn from the store (all when fewer) */
    ms_cfg_list split;         /* train : validation : test */
    long n_synthetic;          /* synthetic spectra (0: as many as observed) */
    ms_cfg_list iso_teff;      /* isochrone points: Teff min, max, step (K) */
    ms_cfg_list iso_mh;        /* [M/H] min, max, step */
    ms_cfg_list iso_logg;      /* log g range kept: min, max */
    long mixture_size;         /* points drawn from the Gaussian mixture */
    ms_cfg_list mixture_sigma; /* component widths: Teff, log g, [M/H], [alpha/M] */
    char reference_file[MS_CFG_STR_MAX]; /* CSV with teff, m_h columns ("" : Gaussian) */
    ms_cfg_list reference_teff; /* Gaussian reference: mean, sigma (K) */
    ms_cfg_list reference_mh;   /* mean, sigma (dex) */
    ms_cfg_list reference_bins; /* resampling bins: Teff (K), [M/H] (dex) */
    int exact_sums;            /* per-spectrum gradients summed in fixed point over ranks */
} ms_cfg_csn;

/* Per-spectrum label and RV fits (Z25 2.3, 3.5; method.md sections 5-6; fit.h). */
typedef struct {
    long presearch_points;     /* Sobol points over the label box (0: start at the centre) */
    double presearch_disagree; /* flag fits ending farther than this from the pre-search best
                                  (max over labels, in units of the training range) */
    long lbfgs_memory;         /* L-BFGS-B correction pairs m */
    double factr;              /* L-BFGS-B relative-reduction tolerance (x machine eps) */
    double pgtol;              /* L-BFGS-B projected-gradient tolerance (preconditioned) */
    long max_iterations;       /* per fit */
    long batch_size;           /* spectra advanced together (one network call per step) */
    char gradient[16];         /* auto | vjp | jacobian */
    int fit_rv;                /* fit a residual velocity with the labels */
    int csn_fit_rv;            /* with a CSN: refit the residual velocity in the observed
                                  domain (default; Z25 keeps the emulator fit's) */
    int synthetic_start;       /* with a CSN: start the observed-domain fit from the fit of
                                  the emulator to CSN_obs->synth(F_obs) (Z25 3.5 step 1) */
    double rv_window;          /* km/s, |dv| bound when the pipeline RV is known */
    double rv_scan_range;      /* km/s, wide scan when it is missing or the fit hits the window */
    double rv_scan_step;       /* km/s */
    long min_good_pixels;      /* fewer usable pixels: flagged, not fitted */
    double bound_tol;          /* a label this close to a bound (range units) is at the bound */
    char error_scaling[16];    /* none | chi2 | inflate */
    double mismatch_max;       /* misfit beyond the noise that sets model_mismatch */
    int emulator_error;        /* add the emulator's per-pixel error to the pixel variance */
    double native_dloglam;     /* native sampling (dex/pixel) for the pixel-correlation
                                  correction of the errors; 0: pixels independent */
    /* Gaussian prior on [alpha/M] in the objective and the errors (fit.h, fit_prior.c) */
    char alpha_prior[16];      /* none | trend (Z25 3.3.2's [alpha/M]([M/H])) | fixed */
    double alpha_prior_sigma;  /* dex: the prior's width */
    double alpha_prior_center; /* dex: the prior's centre when alpha_prior = fixed */
    /* Z25 4 cuts (flags, not deletions) of the catalog (cuts.h) */
    double cut_teff_max;       /* K: teff_hot above this */
    double cut_error_sigma;    /* error_outlier: an error above mean + this x std */
    double cut_chi2_red;       /* chi2_high: reduced chi^2 above this */
} ms_cfg_fit;

typedef struct {
    long chunk_size;           /* spectra per chunk handed out by the master */
    double progress_seconds;   /* seconds between progress lines */
    double max_runtime;        /* seconds after which no new chunk starts (0: no limit) */
    char dwarfs_only[MS_CFG_STR_MAX]; /* fit --methods: methods run on dwarfs only when a
                                         classification group is in the job (survey_job.h) */
    char giants_only[MS_CFG_STR_MAX]; /* fit --methods: methods run on M giants only, likewise */
    double disagree_sigma;     /* fit --methods: disagreement threshold (combined errors) */
} ms_cfg_run;

typedef struct {
    double radius_arcsec;      /* arcsec: position joins of tables to rows (join.h) */
} ms_cfg_join;

typedef struct {
    ms_cfg_general general;
    ms_cfg_preprocess preprocess;
    ms_cfg_ingest ingest;
    ms_cfg_simulate simulate;
    ms_cfg_emulator emulator;
    ms_cfg_csn csn;
    ms_cfg_fit fit;
    ms_cfg_run run;
    ms_cfg_join join;
} ms_config;

typedef enum { MS_CFG_INT, MS_CFG_DOUBLE, MS_CFG_BOOL, MS_CFG_STRING, MS_CFG_LIST } ms_cfg_type;

typedef struct {
    const char *key;        /* "section.name" */
    ms_cfg_type type;
    size_t offset;          /* into ms_config */
    size_t size;            /* bytes of the field (strings: capacity) */
    const char *default_value; /* in --set syntax */
    double min, max;        /* inclusive range for numbers and list elements */
    const char *unit;       /* "" when dimensionless */
    const char *description;
} ms_cfg_key;

/* The key table, terminated by a row with key == NULL. */
extern const ms_cfg_key ms_config_keys[];

/* Look up a key by its full name; NULL when unknown. */
const ms_cfg_key *ms_config_find(const char *key);

/* Fill every field with its default. */
ms_status ms_config_defaults(ms_config *cfg);

/* Apply a libconfig file on top of cfg. Unknown keys, wrong types and out-of-range
 * values are rejected with the file, line and key named. */
ms_status ms_config_load_file(ms_config *cfg, const char *path);

/* Apply one "section.key=value" override (value in the same syntax as defaults;
 * lists comma-separated). */
ms_status ms_config_set(ms_config *cfg, const char *assignment);

/* Cross-key checks (e.g. wave_min < wave_max, mask pairs). */
ms_status ms_config_validate(const ms_config *cfg);

/* Write the configuration in libconfig syntax, one commented line per key.
 * with_docs: also write each key's description and unit as a comment. */
ms_status ms_config_write(const ms_config *cfg, FILE *out, int with_docs);

/* The configuration as text (caller frees with ms_free). */
char *ms_config_to_string(const ms_config *cfg);

/* Format one key's current value in --set syntax into buf. */
void ms_config_format_value(const ms_config *cfg, const ms_cfg_key *k, char *buf, size_t len);

#endif
