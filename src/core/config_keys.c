/* config_keys.c: every configuration key, its default, range, unit and meaning.
 *
 * Defaults follow ../shared/reference/method.md (Zhang et al. 2025, "Z25"). The example
 * file config/example_full.cfg documents the same keys; a unit test checks that the two
 * agree, so a key added here must also be added there. */
#include "mstars/config.h"

#include <float.h>
#include <stddef.h>

#define FIELD(sec, name) offsetof(ms_config, sec.name), sizeof(((ms_config *)0)->sec.name)
#define ANY -DBL_MAX, DBL_MAX

/* Z25 2.4 fit masks: telluric bands, H-alpha, and regions badly modelled (pairs lo, hi). */
#define Z25_FIT_MASKS                                                                      \
    "6270,6330,6546,6586,6700,6725,6850,6885,7150,7350,7587,7687,8100,8240"

const ms_cfg_key ms_config_keys[] = {
    /* general */
    {"general.log_level", MS_CFG_STRING, FIELD(general, log_level), "info", ANY, "",
     "log verbosity: debug, info, warn or error"},
    {"general.seed", MS_CFG_INT, FIELD(general, seed), "20250101", 0, 9.0e15, "",
     "master random seed; every random choice derives from it, independent of rank count"},
    {"general.blas_threads", MS_CFG_INT, FIELD(general, blas_threads), "1", 0, 1024, "",
     "BLAS threads per rank (0: use the cores bound to the rank)"},

    /* preprocess (Z25 2.4) */
    {"preprocess.wave_min", MS_CFG_DOUBLE, FIELD(preprocess, wave_min), "6000", 3000, 12000, "A",
     "first pixel of the rest-frame output grid (vacuum)"},
    {"preprocess.wave_max", MS_CFG_DOUBLE, FIELD(preprocess, wave_max), "8900", 3000, 12000, "A",
     "last pixel of the rest-frame output grid (vacuum)"},
    {"preprocess.wave_step", MS_CFG_DOUBLE, FIELD(preprocess, wave_step), "1", 0.01, 100, "A",
     "pixel size of the uniform output grid"},
    {"preprocess.continuum_sigma", MS_CFG_DOUBLE, FIELD(preprocess, continuum_sigma), "30", 0.5,
     1000, "A", "sigma of the Gaussian kernel of the pseudo-continuum (Z25 2.4)"},
    {"preprocess.continuum_truncate", MS_CFG_DOUBLE, FIELD(preprocess, continuum_truncate), "5", 2,
     20, "sigma", "the continuum kernel is cut at this many sigma (weights below exp(-25) ignored)"},
    {"preprocess.mask_source", MS_CFG_STRING, FIELD(preprocess, mask_source), "ormask", ANY, "",
     "which LAMOST pixel mask marks bad pixels: ormask, andmask, both or none"},
    {"preprocess.fit_masks", MS_CFG_LIST, FIELD(preprocess, fit_masks), Z25_FIT_MASKS, 0, 1e5,
     "A", "wavelength ranges (lo,hi pairs) excluded from every fit (Z25 2.4)"},
    {"preprocess.synthetic_resolution", MS_CFG_DOUBLE, FIELD(preprocess, synthetic_resolution),
     "2000", 10, 1e6, "", "resolving power R of the Gaussian LSF applied to model spectra"},
    {"preprocess.synthetic_error", MS_CFG_DOUBLE, FIELD(preprocess, synthetic_error), "0.01",
     1e-6, 1, "", "normalised flux error given to every model pixel"},
    {"preprocess.min_good_fraction", MS_CFG_DOUBLE, FIELD(preprocess, min_good_fraction), "0.5", 0,
     1, "", "a spectrum with fewer good output pixels than this fraction is flagged unusable"},
    {"preprocess.required_class", MS_CFG_STRING, FIELD(preprocess, required_class), "STAR", ANY,
     "", "LAMOST CLASS a spectrum must have to be fitted (empty: accept all)"},

    /* ingest */
    {"ingest.write_batch", MS_CFG_INT, FIELD(ingest, write_batch), "256", 1, 1e6, "rows",
     "spectra each rank preprocesses between collective writes to the store"},
    {"ingest.min_usable", MS_CFG_INT, FIELD(ingest, min_usable), "1", 0, 1e12, "spectra",
     "ingest exits non-zero when fewer spectra than this are usable"},

    /* simulate (mock universe) */
    {"simulate.n_stars", MS_CFG_INT, FIELD(simulate, n_stars), "2000", 1, 1e8, "stars",
     "number of distinct stars in the mock survey"},
    {"simulate.gap_strength", MS_CFG_DOUBLE, FIELD(simulate, gap_strength), "1", 0, 10, "",
     "scale of the synthetic gap between model physics and observed physics (0: none)"},
    {"simulate.repeat_fraction", MS_CFG_DOUBLE, FIELD(simulate, repeat_fraction), "0.2", 0, 1, "",
     "fraction of stars observed 2-4 times"},
    {"simulate.active_fraction", MS_CFG_DOUBLE, FIELD(simulate, active_fraction), "0.1", 0, 1, "",
     "fraction of stars with H-alpha emission"},
    {"simulate.binary_fraction", MS_CFG_DOUBLE, FIELD(simulate, binary_fraction), "0.03", 0, 1, "",
     "fraction of unresolved binaries"},
    {"simulate.pathological_fraction", MS_CFG_DOUBLE, FIELD(simulate, pathological_fraction),
     "0.02", 0, 1, "", "fraction of files made pathological (truncated, all-NaN, ...)"},
    {"simulate.dr9_fraction", MS_CFG_DOUBLE, FIELD(simulate, dr9_fraction), "0.6", 0, 1, "",
     "fraction of files in the DR9+ COADD table layout (the rest: DR5-8 image layout)"},
    {"simulate.grid_teff", MS_CFG_LIST, FIELD(simulate, grid_teff), "2500,4000,100", 1, 10000,
     "K", "theory grid Teff axis: min, max, step (Z25 subgrid)"},
    {"simulate.grid_logg", MS_CFG_LIST, FIELD(simulate, grid_logg), "4.5,5.5,0.5", -1, 7, "dex",
     "theory grid log g axis: min, max, step"},
    {"simulate.grid_mh", MS_CFG_LIST, FIELD(simulate, grid_mh), "-3,0.5,0.5", -5, 1.5, "dex",
     "theory grid [M/H] axis: min, max, step ([alpha/M] steps follow Z25 per [M/H])"},
    {"simulate.grid_format", MS_CFG_STRING, FIELD(simulate, grid_format), "spec7", ANY, "",
     "file format of the theory grid: spec7, fits or both"},
    {"simulate.hires_step", MS_CFG_DOUBLE, FIELD(simulate, hires_step), "0.25", 0.01, 0.25, "A",
     "wavelength sampling of the theory grid"},
    {"simulate.rv_sigma", MS_CFG_DOUBLE, FIELD(simulate, rv_sigma), "40", 0, 1000, "km/s",
     "dispersion of the mock stars' radial velocities"},
    {"simulate.snr_r_median", MS_CFG_DOUBLE, FIELD(simulate, snr_r_median), "15", 3, 300, "",
     "median S/N in the r band (LAMOST M dwarfs: about 60% below 20)"},
    {"simulate.gzip_fraction", MS_CFG_DOUBLE, FIELD(simulate, gzip_fraction), "0.1", 0, 1, "",
     "fraction of spectrum files written gzip-compressed (.fits.gz), as LAMOST serves them"},

    /* emulator (The Payne, Z25 2.2) */
    {"emulator.labels", MS_CFG_STRING, FIELD(emulator, labels), "teff,logg,m_h,alpha_m", ANY, "",
     "labels the emulator takes, comma-separated, from: teff, logg, m_h, alpha_m"},
    {"emulator.hidden", MS_CFG_INT, FIELD(emulator, hidden), "300", 1, 100000, "neurons",
     "neurons per hidden layer"},
    {"emulator.layers", MS_CFG_INT, FIELD(emulator, layers), "2", 1, 16, "", "hidden layers"},
    {"emulator.leaky_slope", MS_CFG_DOUBLE, FIELD(emulator, leaky_slope), "0.01", 0, 1, "",
     "negative slope of the leaky ReLU"},
    {"emulator.loss", MS_CFG_STRING, FIELD(emulator, loss), "l1", ANY, "", "training loss: l1 or l2"},
    {"emulator.optimizer", MS_CFG_STRING, FIELD(emulator, optimizer), "radam", ANY, "",
     "optimizer: adam or radam"},
    {"emulator.learning_rate", MS_CFG_DOUBLE, FIELD(emulator, learning_rate), "1e-3", 1e-8, 1, "",
     "optimizer step size"},
    {"emulator.batch_size", MS_CFG_INT, FIELD(emulator, batch_size), "256", 1, 1e6, "spectra",
     "global mini-batch size (split over ranks)"},
    {"emulator.epochs", MS_CFG_INT, FIELD(emulator, epochs), "2000", 1, 1e8, "", "training epochs"},
    {"emulator.validation_fraction", MS_CFG_DOUBLE, FIELD(emulator, validation_fraction), "0.2",
     0.01, 0.9, "", "fraction of grid models held out for validation (Z25: 8:2)"},
    {"emulator.validate_every", MS_CFG_INT, FIELD(emulator, validate_every), "10", 1, 1e8, "epochs",
     "epochs between validations (the best validation weights are kept)"},
    {"emulator.checkpoint_every", MS_CFG_INT, FIELD(emulator, checkpoint_every), "50", 1, 1e8,
     "epochs", "epochs between checkpoints for --resume"},
    {"emulator.shard_size", MS_CFG_INT, FIELD(emulator, shard_size), "32", 0, 1e6, "spectra",
     "mini-batches are cut into shards of this many models whose gradients are summed exactly "
     "(fixed point), so training gives identical weights for any rank count; 0: one float "
     "all-reduce of each rank's slice (faster, rank count changes float rounding)"},

    {NULL, MS_CFG_INT, 0, 0, NULL, 0, 0, NULL, NULL},
};
