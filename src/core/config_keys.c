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
    {"ingest.grid_alias_max", MS_CFG_DOUBLE, FIELD(ingest, grid_alias_max), "0.01", 0, 1, "",
     "ingest-grid quality gate: a model whose aliasing noise at the synthetic resolution "
     "(even vs odd samples, include/mstars/grid_quality.h) exceeds this fraction fails; 1% = "
     "Z25's emulator accuracy and the noise of an S/N 100 spectrum"},
    {"ingest.grid_refuse", MS_CFG_BOOL, FIELD(ingest, grid_refuse), "false", 0, 1, "",
     "ingest-grid writes no store when a model fails the quality gate (default: warn)"},

    /* simulate (mock universe) */
    {"simulate.n_stars", MS_CFG_INT, FIELD(simulate, n_stars), "2000", 1, 1e8, "stars",
     "number of distinct stars in the mock survey"},
    {"simulate.gap_strength", MS_CFG_DOUBLE, FIELD(simulate, gap_strength), "1", 0, 10, "",
     "scale of the synthetic gap between model physics and observed physics (0: none)"},
    {"simulate.gap_components", MS_CFG_LIST, FIELD(simulate, gap_components), "1,1,1,1,1,1", 0, 10,
     "", "multipliers of the gap's six ingredients (TiO scale, CaH scale, missing opacity, "
         "unmodelled band, shifted features, other TiO line list), each times gap_strength"},
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
    {"simulate.fraction_mgiant", MS_CFG_DOUBLE, FIELD(simulate, fraction_mgiant), "0", 0, 1, "",
     "fraction of the mock objects drawn as M giants (3300-3950 K, log g 0-1.8); the rest are M dwarfs (docs/simulate.md)"},
    {"simulate.fraction_ob", MS_CFG_DOUBLE, FIELD(simulate, fraction_ob), "0", 0, 1, "",
     "fraction of the mock objects drawn as OB stars (10190-35000 K); the rest are M dwarfs (docs/simulate.md)"},
    {"simulate.fraction_a", MS_CFG_DOUBLE, FIELD(simulate, fraction_a), "0", 0, 1, "",
     "fraction of the mock objects drawn as A stars (7325-10190 K); the rest are M dwarfs (docs/simulate.md)"},
    {"simulate.fraction_f", MS_CFG_DOUBLE, FIELD(simulate, fraction_f), "0", 0, 1, "",
     "fraction of the mock objects drawn as F stars (5960-7325 K); the rest are M dwarfs (docs/simulate.md)"},
    {"simulate.fraction_g", MS_CFG_DOUBLE, FIELD(simulate, fraction_g), "0", 0, 1, "",
     "fraction of the mock objects drawn as G stars (5310-5960 K); the rest are M dwarfs (docs/simulate.md)"},
    {"simulate.fraction_k", MS_CFG_DOUBLE, FIELD(simulate, fraction_k), "0", 0, 1, "",
     "fraction of the mock objects drawn as K dwarfs (3950-5310 K); the rest are M dwarfs (docs/simulate.md)"},
    {"simulate.fraction_wd", MS_CFG_DOUBLE, FIELD(simulate, fraction_wd), "0", 0, 1, "",
     "fraction of the mock objects drawn as DA white dwarfs (7000-30000 K); the rest are M dwarfs (docs/simulate.md)"},
    {"simulate.fraction_galaxy", MS_CFG_DOUBLE, FIELD(simulate, fraction_galaxy), "0", 0, 1, "",
     "fraction of the mock objects drawn as galaxies (old stellar continuum, z 0.02-0.25); the rest are M dwarfs (docs/simulate.md)"},
    {"simulate.fraction_qso", MS_CFG_DOUBLE, FIELD(simulate, fraction_qso), "0", 0, 1, "",
     "fraction of the mock objects drawn as QSOs (power law + broad redshifted lines, z 0.1-3.5); the rest are M dwarfs (docs/simulate.md)"},
    {"simulate.label_error_fraction", MS_CFG_DOUBLE, FIELD(simulate, label_error_fraction), "0.05",
     0, 1, "", "fraction of the non-M objects and of the M giants whose LAMOST header CLASS/SUBCLASS "
               "says M dwarf (the mislabels a classifier must correct)"},

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

    /* csn: Cycle-StarNet domain adaptation (Z25 3; O'Briain et al. 2021; docs/csn.md) */
    {"csn.dom_filters", MS_CFG_LIST, FIELD(csn, dom_filters), "32,64", 1, 65536, "",
     "filters of the domain encoders E_synth and E_obs (the generators mirror them)"},
    {"csn.dom_strides", MS_CFG_LIST, FIELD(csn, dom_strides), "4,4", 1, 64, "",
     "strides of the domain encoder convolutions"},
    {"csn.sh_filters", MS_CFG_LIST, FIELD(csn, sh_filters), "128,256,512", 1, 65536, "",
     "filters of the shared encoder E_sh (the shared decoder D_sh mirrors them)"},
    {"csn.sh_strides", MS_CFG_LIST, FIELD(csn, sh_strides), "4,2,2", 1, 64, "",
     "strides of the shared encoder convolutions"},
    {"csn.sp_filters", MS_CFG_LIST, FIELD(csn, sp_filters), "32,32,32", 1, 65536, "",
     "filters of the split encoder E_sp (observed domain only; D_sp mirrors them)"},
    {"csn.sp_strides", MS_CFG_LIST, FIELD(csn, sp_strides), "4,2,2", 1, 64, "",
     "strides of the split encoder convolutions (same product as sh_strides)"},
    {"csn.kernel", MS_CFG_INT, FIELD(csn, kernel), "7", 1, 64, "pixels",
     "kernel length of every encoder and decoder convolution (no padding)"},
    {"csn.z_shared", MS_CFG_INT, FIELD(csn, z_shared), "25", 1, 4096, "",
     "channels of the shared latent space z_sh (1x1 convolution, then instance norm)"},
    {"csn.z_split", MS_CFG_INT, FIELD(csn, z_split), "4", 1, 4096, "",
     "channels of the split latent space z_sp of the observed domain"},
    {"csn.dis_x_filters", MS_CFG_LIST, FIELD(csn, dis_x_filters), "16,32,64,128,256", 1, 65536,
     "", "filters of the discriminators' convolutions on the spectrum"},
    {"csn.dis_x_strides", MS_CFG_LIST, FIELD(csn, dis_x_strides), "4,4,4,4,4", 1, 64, "",
     "strides of the discriminators' convolutions on the spectrum"},
    {"csn.dis_kernel", MS_CFG_INT, FIELD(csn, dis_kernel), "7", 1, 64, "pixels",
     "kernel length of the discriminators' convolutions on the spectrum"},
    {"csn.dis_z_filters", MS_CFG_LIST, FIELD(csn, dis_z_filters), "32,64,128,256,512", 1, 65536,
     "", "filters of the discriminators' 1x1 convolutions on the latent code"},
    {"csn.leaky_slope", MS_CFG_DOUBLE, FIELD(csn, leaky_slope), "0.1", 0, 1, "",
     "negative slope of the leaky ReLU after every convolution"},
    {"csn.length_mode", MS_CFG_STRING, FIELD(csn, length_mode), "pad", ANY, "",
     "pad (to the next length the convolution stack inverts exactly; pixels outside get the "
     "mean flux and no weight) or crop (to the previous one; outer pixels pass unchanged)"},
    {"csn.flux_mean", MS_CFG_DOUBLE, FIELD(csn, flux_mean), "0", -10, 10, "",
     "global mean subtracted from normalised flux (0 with flux_std 0: from the synthetic set)"},
    {"csn.flux_std", MS_CFG_DOUBLE, FIELD(csn, flux_std), "0", 0, 10, "",
     "global standard deviation dividing normalised flux (0: from the synthetic training set)"},
    {"csn.lambda_synth", MS_CFG_DOUBLE, FIELD(csn, lambda_synth), "3", 0, 1e6, "",
     "weight of the synthetic reconstruction + cycle losses (Z25 Eq. 7 lambda_1)"},
    {"csn.lambda_obs", MS_CFG_DOUBLE, FIELD(csn, lambda_obs), "9", 0, 1e6, "",
     "weight of the observed reconstruction + cycle losses (Z25 Eq. 7 lambda_2)"},
    {"csn.lambda_adv", MS_CFG_DOUBLE, FIELD(csn, lambda_adv), "1", 0, 1e6, "",
     "weight of the generators' adversarial losses (Z25 Eq. 7 lambda_3)"},
    {"csn.lambda_dis", MS_CFG_DOUBLE, FIELD(csn, lambda_dis), "1", 0, 1e6, "",
     "weight of the discriminators' loss"},
    {"csn.err_floor", MS_CFG_DOUBLE, FIELD(csn, err_floor), "0.005", 1e-6, 10, "",
     "observed normalised flux errors are floored at this value in the losses"},
    {"csn.err_max", MS_CFG_DOUBLE, FIELD(csn, err_max), "0", 0, 1e6, "",
     "observed pixels with a larger normalised error get no weight (0: no cut; Z25 uses all)"},
    {"csn.synthetic_error", MS_CFG_DOUBLE, FIELD(csn, synthetic_error), "0.005", 1e-6, 10, "",
     "normalised flux error given to emulator pixels in the losses"},
    {"csn.learning_rate", MS_CFG_DOUBLE, FIELD(csn, learning_rate), "1e-4", 1e-9, 1, "",
     "Adam step size of both optimizers"},
    {"csn.beta1", MS_CFG_DOUBLE, FIELD(csn, beta1), "0.5", 0, 0.999999, "", "Adam beta1"},
    {"csn.beta2", MS_CFG_DOUBLE, FIELD(csn, beta2), "0.999", 0, 0.999999, "", "Adam beta2"},
    {"csn.batch_size", MS_CFG_INT, FIELD(csn, batch_size), "8", 1, 1e5, "spectra",
     "spectra of each domain in a global mini-batch (split over ranks)"},
    {"csn.iterations", MS_CFG_INT, FIELD(csn, iterations), "500000", 1, 1e10, "",
     "training iterations (one generator and one discriminator step each)"},
    {"csn.lr_milestones", MS_CFG_LIST, FIELD(csn, lr_milestones),
     "50000,100000,150000,200000,2500000", 1, 1e10, "",
     "iterations after which the learning rate is multiplied by lr_gamma (O'Briain's list)"},
    {"csn.lr_gamma", MS_CFG_DOUBLE, FIELD(csn, lr_gamma), "0.7", 0.001, 1, "",
     "learning-rate factor at each milestone"},
    {"csn.validate_every", MS_CFG_INT, FIELD(csn, validate_every), "1000", 1, 1e10, "",
     "iterations between validations (a progress line and a history point)"},
    {"csn.validation_spectra", MS_CFG_INT, FIELD(csn, validation_spectra), "256", 1, 1e7,
     "spectra", "spectra of each domain's validation set used at each validation"},
    {"csn.checkpoint_every", MS_CFG_INT, FIELD(csn, checkpoint_every), "5000", 1, 1e10, "",
     "iterations between checkpoints for --resume"},
    {"csn.n_observed", MS_CFG_INT, FIELD(csn, n_observed), "110000", 3, 1e9, "spectra",
     "observed spectra drawn at random from the store, no S/N cut (all when fewer; Z25 3.3.1)"},
    {"csn.split", MS_CFG_LIST, FIELD(csn, split), "8,2,1", 0, 1e6, "",
     "train : validation : test proportions of both training sets"},
    {"csn.n_synthetic", MS_CFG_INT, FIELD(csn, n_synthetic), "0", 0, 1e9, "spectra",
     "synthetic spectra generated with the emulator (0: as many as observed)"},
    {"csn.iso_teff", MS_CFG_LIST, FIELD(csn, iso_teff), "3000,4000,50", 1, 10000, "K",
     "isochrone points: Teff min, max, step (Z25 3.3.2: 3000-4000 K, 5 Gyr)"},
    {"csn.iso_mh", MS_CFG_LIST, FIELD(csn, iso_mh), "-1,0.5,0.5", -5, 2, "dex",
     "isochrone points: [M/H] min, max, step ([alpha/M] 0.4, 0.2, 0 at -1, -0.5, >= 0)"},
    {"csn.iso_logg", MS_CFG_LIST, FIELD(csn, iso_logg), "4,6", -1, 9, "dex",
     "log g range of the label sample (Z25 3.3.2: 4.0-6.0)"},
    {"csn.mixture_size", MS_CFG_INT, FIELD(csn, mixture_size), "1000000", 1, 1e9, "",
     "points drawn from the Gaussian mixture around the isochrone points (Z25: > 1 million)"},
    {"csn.mixture_sigma", MS_CFG_LIST, FIELD(csn, mixture_sigma), "25,0.03,0.25,0.1", 0, 1e4,
     "", "widths of the mixture components in Teff (K), log g, [M/H], [alpha/M] (dex)"},
    {"csn.reference_file", MS_CFG_STRING, FIELD(csn, reference_file), "", ANY, "",
     "CSV with teff and m_h columns giving the reference distribution (empty: the Gaussian)"},
    {"csn.reference_teff", MS_CFG_LIST, FIELD(csn, reference_teff), "3550,300", 0, 1e4, "K",
     "Gaussian reference distribution of Teff: mean, sigma"},
    {"csn.reference_mh", MS_CFG_LIST, FIELD(csn, reference_mh), "-0.2,0.3", -5, 5, "dex",
     "Gaussian reference distribution of [M/H]: mean, sigma"},
    {"csn.reference_bins", MS_CFG_LIST, FIELD(csn, reference_bins), "50,0.1", 1e-3, 1e4, "",
     "bin sizes in Teff (K) and [M/H] (dex) of the resampling to the reference distribution"},
    {"csn.exact_sums", MS_CFG_BOOL, FIELD(csn, exact_sums), "true", 0, 1, "",
     "one GEMM per spectrum and gradients summed spectrum by spectrum in fixed point: training "
     "gives identical weights for any rank count, transfers identical results for any batch "
     "(false: spectra side by side in one GEMM and one float all-reduce per side, 1.5-2x faster)"},

    /* fit: per-spectrum label and RV fits (Z25 2.3, 3.5; fit.h) */
    {"fit.presearch_points", MS_CFG_INT, FIELD(fit, presearch_points), "512", 0, 1e6, "points",
     "Sobol points over the label box whose chi^2 picks each fit's start (0: box centre)"},
    {"fit.presearch_disagree", MS_CFG_DOUBLE, FIELD(fit, presearch_disagree), "0.3", 0, 2,
     "range", "flag fits that end farther than this from the pre-search best (max over labels, "
     "in units of the training range)"},
    {"fit.lbfgs_memory", MS_CFG_INT, FIELD(fit, lbfgs_memory), "10", 1, 100, "",
     "correction pairs kept by L-BFGS-B"},
    {"fit.factr", MS_CFG_DOUBLE, FIELD(fit, factr), "1e10", 0, 1e15, "",
     "L-BFGS-B stops when the relative reduction of chi^2 falls below factr x machine epsilon "
     "(1e10: 2e-6, above the float32 noise of the emulator's chi^2)"},
    {"fit.pgtol", MS_CFG_DOUBLE, FIELD(fit, pgtol), "1e-3", 0, 1e6, "",
     "L-BFGS-B stops when the projected chi^2 gradient falls below this, in variables scaled "
     "by the Gauss-Newton diagonal (a one-sigma offset gives a gradient of about 2)"},
    {"fit.max_iterations", MS_CFG_INT, FIELD(fit, max_iterations), "200", 1, 1e6, "",
     "L-BFGS-B iterations per fit (then flagged not converged)"},
    {"fit.batch_size", MS_CFG_INT, FIELD(fit, batch_size), "64", 1, 4096, "spectra",
     "spectra advanced together; all that need the model join one batched network call"},
    {"fit.gradient", MS_CFG_STRING, FIELD(fit, gradient), "auto", ANY, "",
     "chi^2 gradient: vjp (reverse mode), jacobian (forward mode) or auto (vjp when the model "
     "has it)"},
    {"fit.fit_rv", MS_CFG_BOOL, FIELD(fit, fit_rv), "true", 0, 1, "",
     "fit a residual radial velocity together with the labels"},
    {"fit.csn_fit_rv", MS_CFG_BOOL, FIELD(fit, csn_fit_rv), "true", 0, 1, "",
     "with --csn: fit the residual velocity again in the observed-domain fit, from the emulator "
     "fit's (false: keep the emulator fit's velocity, as Z25 does; the mock survey's RV scatter at "
     "S/N > 50 is then 4.6 instead of 1.9 km/s)"},
    {"fit.synthetic_start", MS_CFG_BOOL, FIELD(fit, synthetic_start), "true", 0, 1, "",
     "with --csn: start the observed-domain fit from the emulator fit to CSN_obs->synth(F_obs) "
     "(Z25 3.5 step 1); false: from the emulator-only fit to F_obs"},
    {"fit.rv_window", MS_CFG_DOUBLE, FIELD(fit, rv_window), "100", 1, 3000, "km/s",
     "bound on the residual velocity when the pipeline RV (Z*c) is known"},
    {"fit.rv_scan_range", MS_CFG_DOUBLE, FIELD(fit, rv_scan_range), "500", 1, 3000, "km/s",
     "wide chi^2 velocity scan (+-) when the pipeline RV is missing or a fit hits rv_window"},
    {"fit.rv_scan_step", MS_CFG_DOUBLE, FIELD(fit, rv_scan_step), "10", 0.1, 1000, "km/s",
     "step of the chi^2 velocity scans"},
    {"fit.min_good_pixels", MS_CFG_INT, FIELD(fit, min_good_pixels), "200", 1, 1e7, "pixels",
     "spectra with fewer usable pixels are flagged and not fitted"},
    {"fit.bound_tol", MS_CFG_DOUBLE, FIELD(fit, bound_tol), "1e-3", 0, 0.5, "range",
     "a label this close to a bound of the training range is flagged at the bound"},
    {"fit.error_scaling", MS_CFG_STRING, FIELD(fit, error_scaling), "inflate", ANY, "",
     "scale the formal errors by sqrt(reduced chi^2): none, chi2 (always) or inflate (only "
     "when above 1: the default, so that a model that misses the data widens its errors)"},
    {"fit.emulator_error", MS_CFG_BOOL, FIELD(fit, emulator_error), "true", 0, 1, "",
     "add the square of the emulator's per-pixel error (RMS over its validation models, "
     "stored by train-emulator) to every pixel's variance, as SLAM adds its cross-validation "
     "error"},
    {"fit.mismatch_max", MS_CFG_DOUBLE, FIELD(fit, mismatch_max), "0.05", 0, 1e6, "",
     "fit_flags bit model_mismatch: the model's misfit beyond the pixel noise (column "
     "model_misfit, normalised flux) above this; 5% is 5x Z25's emulator accuracy"},
    {"fit.native_dloglam", MS_CFG_DOUBLE, FIELD(fit, native_dloglam), "1e-4", 0, 0.01, "dex",
     "native pixel size of the spectra (LAMOST: 1e-4) for the correction of the errors for "
     "correlated resampled pixels; 0: pixels independent"},
    {"fit.alpha_prior", MS_CFG_STRING, FIELD(fit, alpha_prior), "none", ANY, "",
     "Gaussian prior on [alpha/M] added to the chi^2 and to the curvature errors: none, trend "
     "(centred on Z25 3.3.2's empirical [alpha/M] of [M/H]: 0.0 at [M/H] >= 0, 0.2 at -0.5, "
     "0.4 at <= -1.0, smoothed over 0.05 dex) or fixed (centred on fit.alpha_prior_center). "
     "Breaks the Teff-[alpha/M] degeneracy of the low-resolution fit (benchmarks/RESULTS.md, "
     "issue 24 part 3)"},
    {"fit.alpha_prior_sigma", MS_CFG_DOUBLE, FIELD(fit, alpha_prior_sigma), "0.1", 1e-4, 10,
     "dex", "width (1 sigma) of the [alpha/M] prior (fit.alpha_prior)"},
    {"fit.alpha_prior_center", MS_CFG_DOUBLE, FIELD(fit, alpha_prior_center), "0.0", -5, 5,
     "dex", "centre of the [alpha/M] prior when fit.alpha_prior = fixed"},
    {"fit.cut_teff_max", MS_CFG_DOUBLE, FIELD(fit, cut_teff_max), "4300", 0, 1e5, "K",
     "cut flag teff_hot (Z25 4): Teff above this"},
    {"fit.cut_error_sigma", MS_CFG_DOUBLE, FIELD(fit, cut_error_sigma), "5", 0, 1e6, "",
     "cut flag error_outlier (Z25 4): an uncertainty above its mean + this many standard "
     "deviations over the fitted rows"},
    {"fit.cut_chi2_red", MS_CFG_DOUBLE, FIELD(fit, cut_chi2_red), "50", 0, 1e12, "",
     "cut flag chi2_high: reduced chi^2 above this (Z25's 'chi^2 > 50' read as the reduced "
     "chi^2: the raw chi^2 over ~2800 pixels is ~2800 for a perfect fit)"},

    /* run: the survey job (mstars fit) */
    {"run.chunk_size", MS_CFG_INT, FIELD(run, chunk_size), "256", 1, 1e7, "spectra",
     "spectra per chunk of work handed out by the master rank (and per journal record)"},
    {"run.progress_seconds", MS_CFG_DOUBLE, FIELD(run, progress_seconds), "10", 0, 1e6, "s",
     "seconds between progress lines of rank 0 (0: none)"},
    {"run.max_runtime", MS_CFG_DOUBLE, FIELD(run, max_runtime), "0", 0, 1e9, "s",
     "after this many seconds no new chunk starts; the run saves its state and exits 0 so "
     "that it can be resubmitted with --resume (0: no limit)"},
    {"run.dwarfs_only", MS_CFG_STRING, FIELD(run, dwarfs_only), "z25,cnn", ANY, "",
     "fit --methods: the methods (comma-separated) that run only on the rows a classifier of "
     "the same job calls dwarfs (the others get null columns and their not_applicable bit); "
     "without a classification group every method runs on every row; empty: none"},
    {"run.giants_only", MS_CFG_STRING, FIELD(run, giants_only), "cnn_gm", ANY, "",
     "fit --methods: the methods (comma-separated) that run only on the rows a classifier of "
     "the same job calls M giants (as run.dwarfs_only; a method may not be in both; cnn_gm, "
     "the M giants' CNN ensemble, may not be in run.dwarfs_only); empty: none"},
    {"run.disagree_sigma", MS_CFG_DOUBLE, FIELD(run, disagree_sigma), "3", 0, 1e6, "",
     "fit --methods: two methods disagree on a label when they differ by more than this many "
     "combined errors (disagree_flags; as combine --sigma)"},

    /* join: tables (input catalogs, references, training labels) joined to rows (join.h) */
    {"join.radius_arcsec", MS_CFG_DOUBLE, FIELD(join, radius_arcsec), "3", 1e-3, 3600, "arcsec",
     "rows without an obsid or key match are joined to the nearest table row within this "
     "radius (two or more within it: ambiguous, counted, the nearest taken)"},

    {NULL, MS_CFG_INT, 0, 0, NULL, 0, 0, NULL, NULL},
};
