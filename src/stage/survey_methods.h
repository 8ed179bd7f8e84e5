/* survey_methods.h: the survey methods of src/stage (private): each opens its models once
 * per rank and fills an ms_survey_method (survey_job.h) for the single command or for
 * `fit --methods` (fit_methods.c). An open function checks the store against its models
 * (naming both files) and returns the rows it sees; it is not collective (the caller agrees
 * the status over ranks). The method's `free` releases what open loaded, also after a failed
 * open. */
#ifndef MSTARS_STAGE_SURVEY_METHODS_H
#define MSTARS_STAGE_SURVEY_METHODS_H

#include "mstars/cnn_class.h"
#include "mstars/laspm.h"
#include "mstars/rv.h"
#include "mstars/stage.h"
#include "mstars/stage_laspm.h"
#include "mstars/stage_rv.h"
#include "mstars/slam_job.h"
#include "mstars/stage_classify.h"
#include "mstars/stage_lumclass.h"
#include "mstars/survey.h"
#include "mstars/survey_job.h"

/* the L25 classifiers (classify.c): counts classified, no view, white dwarfs, giants, then by
 * CNN-SPT class. Sets ck->cls (ms_class_route) and ck->dmgm where the job has them. */
ms_status ms_method_class_open(const ms_config *cfg, const ms_classify_args *a, ms_h5 *store,
                               size_t chunk, ms_survey_method *m);
/* The routing of a classified row (MS_SURVEY_CLASS_*; the rule is classify.c's header). */
int32_t ms_class_route(const ms_class_row *r);
/* dwarf or giant (lumclass.c): counts dwarf, giant, unknown, CMD_flag 1, line dwarf, line
 * giant. class_in_job: the class method runs before it in the same job (its CNN vote is
 * ck->dmgm; o->classify must be NULL). Refines ck->cls with luminosity_class. */
ms_status ms_method_lum_open(const ms_config *cfg, const ms_lum_job_opts *o, int class_in_job,
                             ms_h5 *store, size_t chunk, ms_survey_method *m);
/* rv (rv.c): counts measured, no_rv, skipped, by_from[MS_RV_N_FROM]. Sets ck->v_start. */
ms_status ms_method_rv_open(const ms_config *cfg, const ms_rv_job_opts *o, ms_h5 *store,
                            size_t chunk, ms_survey_method *m);
/* SLAM (fit_slam.c): counts fitted, flagged, skipped. */
ms_status ms_method_slam_open(const ms_config *cfg, const ms_slam_fit_job_opts *o, ms_h5 *store,
                              size_t chunk, ms_survey_method *m);
/* LASPM (laspm.c): counts matched, failed, skipped. */
ms_status ms_method_laspm_open(const ms_config *cfg, const ms_laspm_run_opts *o, ms_h5 *store,
                               size_t chunk, ms_survey_method *m);
/* the CNN ensemble (predict_cnn.c): counts predicted, skipped, flagged (after post). The
 * rest-frame velocity is ck->v_start where the rv method ran. */
ms_status ms_method_cnn_open(const ms_config *cfg, const ms_predict_cnn_args *a, ms_h5 *store,
                             size_t chunk, ms_survey_method *m);
/* the M giants' CNN ensemble (predict_cnn.c; fit --methods cnn_gm): as cnn under the name
 * cnn_gm, the group cnn_gm (cnn_gm_teff, ..., cnn_gm_parameter_flag) and the root attributes
 * cnn_gm_*; a->model must be a gM ensemble (train-cnn --class gM). */
ms_status ms_method_cnn_gm_open(const ms_config *cfg, const ms_predict_cnn_args *a, ms_h5 *store,
                                size_t chunk, ms_survey_method *m);
/* The class of an opened cnn or cnn_gm method's ensemble ("dM", "gM"). */
const char *ms_method_cnn_class(const ms_survey_method *m);
/* Z25 (fit.c): counts fitted, failed, skipped. The start velocity is ck->v_start where the rv
 * method ran. models: the --models file (single command only). */
ms_status ms_method_z25_open(const ms_config *cfg, const ms_survey_opts *o, ms_h5 *store,
                             size_t chunk, ms_survey_method *m);

/* The rows of a store that a job sees: dims[0] of `dataset`, at most limit (> 0). */
ms_status ms_survey_store_rows(ms_h5 *store, const char *dataset, size_t limit, size_t *n_rows);

#endif
