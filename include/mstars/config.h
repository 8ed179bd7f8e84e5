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
} ms_cfg_ingest;

typedef struct {
    long n_stars;
    double gap_strength;       /* 0: observed = model physics through the instrument */
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

typedef struct {
    ms_cfg_general general;
    ms_cfg_preprocess preprocess;
    ms_cfg_ingest ingest;
    ms_cfg_simulate simulate;
    ms_cfg_emulator emulator;
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
