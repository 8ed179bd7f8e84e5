/* sys_errors.h: a systematic floor of the uncertainties from an external reference (the
 * stars a survey shares with a better one, e.g. APOGEE; or the truth of a mock survey).
 * Pure numerics, no I/O (the catalog side is ms_catalog_calibrate_errors, catalog_post.h).
 *
 * The repeat errors of errors.h see only what changes from one exposure of a star to the
 * next. An error that is the same in every repeat of a star (emulator imperfections, the
 * gap between the models and the data) is invisible to them; against a reference it shows
 * as differences d_i = fit_i - ref_i wider than their known errors
 * err_i = sqrt(e_i^2 + e_ref,i^2). The floor sys >= 0 is the constant that, added in
 * quadrature, makes the spread of the normalised differences
 *
 *     z_i(sys) = (d_i - bias) / sqrt(err_i^2 + sys^2)
 *
 * equal to 1; sys = 0 when the spread is already <= 1. Each |z_i| falls as sys grows, so
 * both spreads below are monotone in sys and the equation is solved by bisection.
 *
 *   MS_SYS_CLIPPED (default): the RMS of z over the rows with |z| <= MS_SYS_CLIP (5), with
 *     sum z^2 / (m - 1) over the m kept rows (the bias is estimated from them) and bias =
 *     their mean difference. The kept rows depend on bias and sys, so the two are iterated
 *     from the MAD solution until the kept rows no longer change (sigma clipping). It
 *     matches the std that honesty is judged by, and drops only gross outliers (a wrong
 *     cross-match, a failed fit): a normal sample loses 6e-7 of its rows at 5 sigma.
 *   MS_SYS_MAD: 1.4826 times the median of |z| (the normal-consistent MAD), bias = the
 *     median difference. Insensitive to the tails, so a floor from it leaves heavy tails
 *     (e.g. a bimodal systematic) with a std above 1; its statistical error is ~1.65
 *     times that of the RMS for normal data.
 *
 * The scaled model (ms_sys_scaled_fit) also rescales the survey's own errors: when they
 * are too large at low S/N (a fit whose noise is damped, e.g. through Cycle-StarNet) and
 * too small at high S/N (the systematics) no constant floor makes both honest, but
 *
 *     var_i = k^2 e_i^2 + sys^2 + e_ref,i^2
 *
 * can. (bias, k, sys) maximise the normal likelihood of the d_i, sum_i [log var_i +
 * (d_i - bias)^2 / var_i] being minimised by Fisher scoring in (k^2, sys^2) >= 0 (the
 * expected Hessian of that sum is sum_i dvar_i dvar_i / var_i^2), bias = the
 * 1/var-weighted mean, and rows beyond MS_SYS_CLIP sqrt(var_i) are dropped and the fit
 * repeated until the kept rows no longer change. k and sys are told apart only by rows
 * whose e_i differ: errors of one size are refused (MS_ENOPROG).
 *
 * The split (ms_sys_split_u) chooses the reference stars that the floor is estimated from
 * by a hash of the star's id, so that the repeats of a star fall on the same side and the
 * other side is left for an independent check:
 *     u(g) = (splitmix64(g) >> 11) 2^-53,   z = g + 0x9e3779b97f4a7c15,
 *     splitmix64(g) = mix(z) (the output of ms_rng_splitmix64, rng.h),
 * a star of id g is used when u(g) < fraction. */
#ifndef MSTARS_SYS_ERRORS_H
#define MSTARS_SYS_ERRORS_H

#include "mstars/status.h"

#include <stddef.h>
#include <stdint.h>

#define MS_SYS_CLIP 5.0

typedef enum { MS_SYS_CLIPPED = 0, MS_SYS_MAD = 1 } ms_sys_spread;

typedef struct {
    double floor;     /* sys >= 0 */
    double bias;      /* clipped mean (MS_SYS_CLIPPED) or median (MS_SYS_MAD) of d */
    double spread0;   /* the spread of z at sys = 0 (over the kept rows) */
    size_t n;         /* rows that took part (use, d finite, err finite and > 0) */
    size_t n_clipped; /* of them, rows beyond MS_SYS_CLIP at the solution (MS_SYS_CLIPPED) */
    int iterations;   /* clipping iterations (MS_SYS_CLIPPED, ms_sys_scaled_fit) */
    double scale;     /* k: 1 for ms_sys_floor_fit, fitted by ms_sys_scaled_fit */
} ms_sys_floor;

/* The floor of differences d[n] with known errors err[n]. Row i takes part when use[i]
 * (use may be NULL: all), d[i] is finite and err[i] is finite and > 0. MS_ENOPROG when
 * fewer than 2 rows take part (or, when clipped, are kept), MS_EINVAL for an unknown
 * spread, MS_ENOMEM. */
ms_status ms_sys_floor_fit(size_t n, const double *d, const double *err, const uint8_t *use,
                           ms_sys_spread how, ms_sys_floor *out);

/* The scaled model (above) of differences d[n] with the survey's errors e[n] (scaled by k)
 * and the reference's errors e_ref[n] (not scaled; NULL: 0). Row i takes part when use[i]
 * (NULL: all), d[i] and e[i] are finite, e[i] > 0 and e_ref[i] is finite and >= 0.
 * out->spread0 is the clipped RMS of (d - bias) / sqrt(e^2 + e_ref^2) at the solution's
 * rows (k = 1, sys = 0). MS_ENOPROG when fewer than 3 rows take part or are kept, when the
 * e_i are all (nearly) equal, or when the scoring does not converge; MS_ENOMEM. */
ms_status ms_sys_scaled_fit(size_t n, const double *d, const double *e, const double *e_ref,
                            const uint8_t *use, ms_sys_floor *out);

/* "clipped" or "mad"; ms_sys_spread_parse returns -1 for another name. */
const char *ms_sys_spread_name(ms_sys_spread how);
int ms_sys_spread_parse(const char *name);

/* The split coordinate u(g) in [0, 1) of a star id g (see above). */
double ms_sys_split_u(int64_t group);

#endif
