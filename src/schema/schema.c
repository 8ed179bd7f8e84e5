/* schema.c: the table of catalog column groups (schema.h). A new method adds its group
 * here: one extern line and one entry. */
#include "mstars/schema.h"
#include "mstars/mem.h"

#include <string.h>

const char *const ms_label_names[MS_N_LABELS] = {"teff", "logg", "m_h", "alpha_m"};
const char *const ms_label_units[MS_N_LABELS] = {"K", "dex", "dex", "dex"};

/* Each group is defined beside its method's row struct. */
extern const ms_column_group ms_group_z25;
extern const ms_column_group ms_group_csn;
extern const ms_column_group ms_group_rec;
extern const ms_column_group ms_group_rv;
extern const ms_column_group ms_group_slam;
extern const ms_column_group ms_group_laspm;
extern const ms_column_group ms_group_cnn;
extern const ms_column_group ms_group_cnn_gm;
extern const ms_column_group ms_group_lum;
extern const ms_column_group ms_group_survey;
extern const ms_column_group ms_group_class;

static const ms_column_group *const groups[] = {
    &ms_group_z25,
    &ms_group_csn,
    &ms_group_rec,
    &ms_group_rv,
    &ms_group_slam,
    &ms_group_laspm,
    &ms_group_cnn,
    &ms_group_cnn_gm,
    &ms_group_lum,
    &ms_group_survey,
    &ms_group_class,
};

static const ms_method_answers answers[] = {
    {"z25", "fit_flags",
     {"teff", "logg", "m_h", "alpha_m", "rv"},
     {"e_teff", "e_logg", "e_m_h", "e_alpha_m", "e_rv"},
     {"fit_flags", "cut_flags"},
     NULL},
    /* SLAM (fit-slam): no RV; errors include the CV floor once cv-slam --calibrate ran */
    {"slam", "slam_flags",
     {"slam_teff", "slam_logg", "slam_m_h", "slam_alpha_m", NULL},
     {"e_slam_teff", "e_slam_logg", "e_slam_m_h", "e_slam_alpha_m", NULL},
     {"slam_flags", NULL},
     NULL},
    /* template RVs (issue 19): rv_adopted counts where rv_flag = 1 (after the 2012 arc-lamp
     * fix, and a velocity measured) */
    {"rv", "rv_adopted",
     {NULL, NULL, NULL, NULL, "rv_adopted"},
     {NULL, NULL, NULL, NULL, "e_rv_adopted"},
     {NULL, NULL},
     "rv_flag"},
    /* LASPM (issue 23): no flag must be 0 (laspm_flags' curvature and library-edge bits are
     * notes); rows not matched have NaN labels */
    {"laspm", "laspm_teff",
     {"laspm_teff", "laspm_logg", "laspm_m_h", NULL, NULL},
     {"e_laspm_teff", "e_laspm_logg", "e_laspm_m_h", NULL, NULL},
     {NULL, NULL},
     NULL},
    {"cnn", "cnn_n_models",
     {"cnn_teff", "cnn_logg", "cnn_m_h", "cnn_alpha_m", NULL},
     {"e_cnn_teff", "e_cnn_logg", "e_cnn_m_h", "e_cnn_alpha_m", NULL},
     {NULL, NULL},
     "parameter_flag"},
    /* the M giants' ensemble of fit --methods cnn_gm: NaN (and flag 0) on the rows it did not
     * apply to, so it is a candidate on the giants only */
    {"cnn_gm", "cnn_gm_n_models",
     {"cnn_gm_teff", "cnn_gm_logg", "cnn_gm_m_h", "cnn_gm_alpha_m", NULL},
     {"e_cnn_gm_teff", "e_cnn_gm_logg", "e_cnn_gm_m_h", "e_cnn_gm_alpha_m", NULL},
     {NULL, NULL},
     "cnn_gm_parameter_flag"},
};

const ms_method_answers *ms_schema_answers(size_t *n)
{
    *n = sizeof answers / sizeof answers[0];
    return answers;
}

const ms_column_group *const *ms_schema_groups(size_t *n)
{
    *n = sizeof groups / sizeof groups[0];
    return groups;
}

const ms_column_group *ms_schema_group(const char *name)
{
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        if (strcmp(groups[g]->name, name) == 0) return groups[g];
    return NULL;
}

const ms_catalog_column *ms_schema_column(const char *name, const ms_column_group **group)
{
    size_t prefix = strlen(MS_CATALOG_GROUP "/");
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        for (const ms_catalog_column *c = groups[g]->cols; c->name; c++)
            if (strncmp(c->name, MS_CATALOG_GROUP "/", prefix) == 0 &&
                strcmp(c->name + prefix, name) == 0) {
                if (group) *group = groups[g];
                return c;
            }
    if (group) *group = NULL;
    return NULL;
}

const char *const *ms_schema_flag_bits(const char *column)
{
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        for (const ms_flag_bits *f = groups[g]->flags; f && f->column; f++)
            if (strcmp(f->column, column) == 0) return f->bits;
    return NULL;
}

ms_status ms_schema_compose(const ms_column_group *const *chosen, size_t n_groups,
                            ms_catalog_column **cols, size_t *row_size, size_t *base)
{
    size_t n = 0, off = 0;
    for (size_t g = 0; g < n_groups; g++) {
        base[g] = off;
        off += (chosen[g]->row_size + 7) / 8 * 8;
        for (const ms_catalog_column *c = chosen[g]->cols; c->name; c++) n++;
    }
    ms_catalog_column *out = ms_calloc("schema.compose", n + 1, sizeof *out);
    if (!out) return MS_ENOMEM;
    size_t k = 0;
    for (size_t g = 0; g < n_groups; g++)
        for (const ms_catalog_column *c = chosen[g]->cols; c->name; c++) {
            for (size_t j = 0; j < k; j++)
                if (strcmp(out[j].name, c->name) == 0) {
                    ms_free(out);
                    MS_ERROR(MS_EINVAL, "catalog column %s is declared by two of the chosen "
                                        "methods' groups (%s and another)",
                             c->name, chosen[g]->name);
                }
            out[k] = *c;
            out[k].offset += base[g];
            k++;
        }
    *cols = out;
    *row_size = off;
    return MS_OK;
}
