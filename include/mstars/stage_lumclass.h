/* stage_lumclass.h: `mstars lumclass`, the dwarf/giant module (lumclass.h) over a store: the
 * survey method `lum` (src/stage/lumclass.c) run alone by the survey skeleton; the same method
 * runs inside `fit --methods class,lum,...`. */
#ifndef MSTARS_STAGE_LUMCLASS_H
#define MSTARS_STAGE_LUMCLASS_H

#include "mstars/config.h"
#include "mstars/status.h"

#include <stddef.h>

typedef struct {
    const char *spectra;   /* the spectra store (with the native view and /input columns) */
    const char *out;       /* catalog */
    const char *classify;  /* catalog with /catalog/dmgm_prob by row (mstars classify), or NULL */
    const char *rv;        /* catalog with /catalog/rv_adopted by row (mstars rv), or NULL:
                              the rest frame from the LAMOST Z */
    const char *command;   /* provenance */
    int resume;
    size_t limit;          /* 0: every row */
} ms_lum_job_opts;

typedef struct {
    long rows, dwarf, giant, unknown, cmd_flagged, line_dwarf, line_giant;
    long chunks_total, chunks_before;
    int complete;
    double seconds;
} ms_lum_job_summary;

/* Collective: every row of the store into the catalog (work queue, journals, --resume). */
ms_status ms_lum_job(const ms_config *cfg, const ms_lum_job_opts *o, ms_lum_job_summary *sum);

#endif
