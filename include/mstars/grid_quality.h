/* grid_quality.h: can a model grid support the target resolution? (issue 17, item 1)
 *
 * A model file that is point-sampled (interpolated) rather than convolved before it was
 * written keeps every unresolved line of the molecular forest as a random sample: the
 * value at each point depends on where the point fell among the lines. Convolving such
 * a file to R does not average the forest out, it aliases it into noise that follows the
 * sampling pattern, not the physics; an emulator trained on it learns that noise, and the
 * smooth hot models then fit real stars best (issue 17: 94 of 97 real M dwarfs at one
 * Teff). Two figures per model, over [wave_min, wave_max]:
 *
 *   native sampling: the largest and the median step between model points, and the
 *     samples per FWHM of the target LSF at wave_min (FWHM = wave_min / R), the Nyquist
 *     figure of a properly convolved file (>= 2 to resolve it);
 *   aliasing noise: the model is convolved to R twice, once from its even-numbered and
 *     once from its odd-numbered points; each half-sample is an independent estimate of
 *     the same spectrum, so their difference is pure sampling noise. alias_noise =
 *     robust sigma (1.4826 MAD) over the output pixels of (even - odd) / full. Calibrated
 *     on a simulated unresolved forest point-sampled every 2 A (tests/spec/
 *     test_grid_quality.c): it equals the robust error of the full sample's convolution
 *     against the exact one (the forest convolved from 0.01 A samples) within 30%; half of
 *     it (the figure of ../shared/data/btsettl-cifist/diagnostics/alias_metrics.txt)
 *     underestimates that error by 2x. ~1e-7 for a file that resolves its lines (mock grid:
 *     1e-4), 0.03-0.4 for the CIFIST files of ../shared/data.
 *
 * Threshold (ingest.grid_alias_max, default 0.01): 1% is the accuracy Z25 require of the
 * emulator itself (Eq. 1, median < 1%), the normalised error the grid store gives every
 * model pixel (preprocess.synthetic_error) and the noise of an S/N = 100 spectrum; a model
 * whose own sampling noise is larger makes the fit of a good spectrum follow the sampling
 * pattern instead of the star. A grid passes when no usable model is above it.
 * Pure computation (no I/O, no MPI). */
#ifndef MSTARS_GRID_QUALITY_H
#define MSTARS_GRID_QUALITY_H

#include "mstars/spec.h"
#include "mstars/status.h"

#include <stddef.h>

typedef struct {
    double step_max, step_median; /* native step within [wave_min, wave_max] (A) */
    double samples_per_fwhm;      /* (wave_min / R) / step_max */
    double alias_noise;           /* see above (fraction of the flux) */
} ms_grid_quality;

/* Measure one model (wave strictly increasing, covering the grid with the LSF margin, as
 * for ms_spec_preprocess_synthetic_ws). Errors as ms_spec_convolve_synthetic; MS_ENOMEM. */
ms_status ms_grid_quality_measure(ms_spec_work *w, const double *wave, const double *flux,
                                  size_t n, ms_grid_quality *q);

/* The grid's verdict from its usable models' figures. */
typedef struct {
    size_t n_models, n_bad;       /* models measured; models with alias_noise > alias_max */
    double alias_max;             /* the threshold used */
    double alias_median, alias_worst;
    double samples_min;           /* smallest samples_per_fwhm */
    int pass;                     /* 1: n_bad == 0 */
    char text[400];               /* one line for logs, attributes and the report */
} ms_grid_quality_summary;

/* Summarise q[n] (entries with a non-finite alias_noise are skipped). */
void ms_grid_quality_summarize(const ms_grid_quality *q, size_t n, double alias_max,
                               double resolution, ms_grid_quality_summary *s);

#endif
