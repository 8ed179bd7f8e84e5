/* stage_rv.h: `mstars rv`, the survey job of the RV module (src/stage/rv.c, rv.h). */
#ifndef MSTARS_STAGE_RV_H
#define MSTARS_STAGE_RV_H

#include "mstars/config.h"
#include "mstars/rv.h"
#include "mstars/status.h"

#include <stddef.h>

typedef struct {
    const char *spectra;     /* the spectra store (with the native view) */
    const char *templates;   /* template library (directory or list) */
    const char *out;         /* catalog */
    const char *command;     /* provenance */
    int resume;
    size_t limit;            /* 0: every row */
    ms_rv_settings settings;
} ms_rv_job_opts;

typedef struct {
    long rows, measured, no_rv, skipped, chunks_total, chunks_before;
    long by_from[MS_RV_N_FROM];
    int complete;
    double seconds;
} ms_rv_job_summary;

/* Collective: measure every row of the store into the catalog (work queue, journals,
 * --resume as `mstars fit`). */
ms_status ms_rv_job(const ms_config *cfg, const ms_rv_job_opts *o, ms_rv_job_summary *sum);

#endif
