/* grid.h: reading synthetic model spectra (BT-Settl / PHOENIX) in their real formats.
 *
 *   - MS_GRID_SPEC7: BT-Settl ".spec.7" ASCII: col 1 wavelength (A), col 2 log10(F) + 8
 *     with Fortran D exponents (flux = 10^(col2 - 8) erg/s/cm2/A); rows unsorted and
 *     duplicated; columns may run together without a space (fixed columns 0-12, 13-25).
 *   - MS_GRID_CIFIST_FITS: CIFIST ".spec.fits(.gz)": HDU1 table, columns Wavelength
 *     (micron) and Flux.
 *   - MS_GRID_ASCII2: plain two columns, wavelength (A) and F_lambda.
 * The format is decided from the file name and content. Labels come from the file name:
 * lte{Teff/100}-{logg}{[M/H]}a{[alpha/M]} (e.g. lte033.0-5.0-0.0a+0.0.BT-Settl.spec.7).
 * Output rows are sorted by wavelength and unique (the first of duplicated rows kept). */
#ifndef MSTARS_GRID_H
#define MSTARS_GRID_H

#include "mstars/status.h"

#include <stddef.h>

typedef enum { MS_GRID_SPEC7 = 1, MS_GRID_CIFIST_FITS = 2, MS_GRID_ASCII2 = 3 } ms_grid_format;

typedef struct {
    double teff, logg, m_h, alpha_m; /* from the file name */
} ms_grid_labels;

typedef struct {
    size_t n;
    double *wave; /* [n] Angstrom, strictly increasing */
    double *flux; /* [n] erg/s/cm2/A */
} ms_grid_spectrum;

/* Parse labels from a file name (directory part ignored). MS_EFORMAT naming the file when
 * the name does not follow the lte pattern. */
ms_status ms_grid_parse_name(const char *path, ms_grid_labels *labels);

/* Read one model. Only rows with wave_min <= wavelength <= wave_max are kept (pass 0 and
 * INFINITY for all).
 * `labels` and `format` may be NULL; with labels NULL the name need not follow the lte
 * pattern. CIFIST tables: TUNITn is honoured (micron/um/nm/Angstrom; erg/s/cm2/A,
 * erg/s/cm2/cm, W/m2/um, W/m2/m); without TUNIT the wavelength is taken as micron and the
 * flux as erg/s/cm2/A; an unknown unit is MS_EFORMAT. Compressed ASCII (.gz/.bz2/.xz)
 * is refused (MS_EFORMAT). Errors: MS_EIO (cannot read), MS_EFITS (missing HDU/column),
 * MS_EFORMAT (bad name, unparsable line "file: line N", no row in the window). */
ms_status ms_grid_read(const char *path, double wave_min, double wave_max,
                       ms_grid_spectrum *spec, ms_grid_labels *labels, ms_grid_format *format);

void ms_grid_spectrum_free(ms_grid_spectrum *spec);

/* Name of a format: "spec7", "cifist-fits" or "ascii2". */
const char *ms_grid_format_name(ms_grid_format format);

#endif
