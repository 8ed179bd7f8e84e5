/* library.c: the empirical library in memory and its HDF5 file (laspm.h). */
#include "mstars/h5.h"
#include "mstars/laspm.h"
#include "mstars/mem.h"

#include <stdio.h>
#include <string.h>

void ms_laspm_library_init(ms_laspm_library *lib)
{
    memset(lib, 0, sizeof *lib);
    snprintf(lib->view, sizeof lib->view, "calibrated");
}

void ms_laspm_library_free(ms_laspm_library *lib)
{
    void *p[] = {lib->wavelength, lib->flux, lib->labels, lib->id, lib->snr, lib->name,
                 lib->source, lib->step_name, lib->step_count, lib->cv_labels};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) ms_free(p[i]);
    char view[16];
    memcpy(view, lib->view, sizeof view);
    memset(lib, 0, sizeof *lib);
    memcpy(lib->view, view, sizeof view);
}

ms_status ms_laspm_library_alloc(ms_laspm_library *lib, size_t n, size_t n_pix)
{
    lib->n = n;
    lib->n_pix = n_pix;
    lib->wavelength = ms_malloc_array("library.wavelength", n_pix + 1, sizeof(double));
    lib->flux = ms_malloc_array("library.flux", n * n_pix + 1, sizeof(float));
    lib->labels = ms_malloc_array("library.labels", n * MS_LASPM_N_LABELS + 1, sizeof(double));
    lib->id = ms_malloc_array("library.id", n + 1, sizeof(int64_t));
    lib->snr = ms_malloc_array("library.snr", n + 1, sizeof(double));
    lib->name = ms_calloc("library.name", n + 1, sizeof *lib->name);
    lib->source = ms_calloc("library.source", n + 1, sizeof *lib->source);
    if (!lib->wavelength || !lib->flux || !lib->labels || !lib->id || !lib->snr || !lib->name ||
        !lib->source)
        return MS_ENOMEM;
    return MS_OK;
}

ms_status ms_laspm_library_step(ms_laspm_library *lib, const char *name, int64_t count)
{
    size_t k = lib->n_steps;
    void *a = ms_realloc("library.step_name", lib->step_name, (k + 1) * sizeof *lib->step_name);
    if (!a) return MS_ENOMEM;
    lib->step_name = a;
    void *b = ms_realloc("library.step_count", lib->step_count, (k + 1) * sizeof *lib->step_count);
    if (!b) return MS_ENOMEM;
    lib->step_count = b;
    memset(lib->step_name[k], 0, sizeof lib->step_name[k]); /* NUL-padded in the file */
    snprintf(lib->step_name[k], sizeof lib->step_name[k], "%s", name);
    lib->step_count[k] = count;
    lib->n_steps = k + 1;
    return MS_OK;
}

/* one label column out of / into the [n x 3] array */
static ms_status write_label(ms_h5 *f, const char *name, const double *lab, size_t n, int d,
                             const char *units, const char *desc)
{
    double *col = ms_malloc_array("library.col", n + 1, sizeof *col);
    if (!col) return MS_ENOMEM;
    for (size_t i = 0; i < n; i++) col[i] = lab[i * MS_LASPM_N_LABELS + d];
    ms_status st = ms_h5_write_array(f, name, MS_H5_F64, 0, 1, &n, col, units, desc);
    ms_free(col);
    return st;
}

static ms_status read_label(ms_h5 *f, const char *name, double *lab, size_t n, int d)
{
    double *col = ms_malloc_array("library.col", n + 1, sizeof *col);
    if (!col) return MS_ENOMEM;
    ms_status st = ms_h5_read_rows(f, name, MS_H5_F64, 0, 0, n, col);
    for (size_t i = 0; st == MS_OK && i < n; i++) lab[i * MS_LASPM_N_LABELS + d] = col[i];
    ms_free(col);
    return st;
}

static const char *const units[MS_LASPM_N_LABELS] = {"K", "dex", "dex"};

ms_status ms_laspm_library_write(const char *path, const ms_laspm_library *lib,
                                 const ms_config *cfg, const char *command)
{
    ms_h5 *f;
    MS_TRY(ms_h5_create(path, 0, &f));
    const size_t n = lib->n, dims[2] = {lib->n, lib->n_pix};
    ms_status st = ms_h5_write_array(f, "/library/wavelength", MS_H5_F64, 0, 1, &lib->n_pix,
                                     lib->wavelength, "Angstrom",
                                     "the spectra store's wavelength grid (vacuum, rest frame)");
    if (st == MS_OK)
        st = ms_h5_write_array(f, "/library/flux", MS_H5_F32, 0, 2, dims, lib->flux, "",
                               "library spectra (the view of attribute `view`), median 1 over "
                               "the match range; bad pixels filled by linear interpolation");
    for (int d = 0; st == MS_OK && d < MS_LASPM_N_LABELS; d++) {
        char name[64], cv[64];
        snprintf(name, sizeof name, "/library/%s", ms_laspm_label_names[d]);
        st = write_label(f, name, lib->labels, n, d, units[d], "the spectrum's label");
        if (st == MS_OK && lib->cv_labels) {
            snprintf(cv, sizeof cv, "/library/cv_%s", ms_laspm_label_names[d]);
            st = write_label(f, cv, lib->cv_labels, n, d, units[d],
                             "leave-one-out prediction: matched against the rest of the library "
                             "(every entry of the same id left out)");
        }
    }
    if (st == MS_OK)
        st = ms_h5_write_array(f, "/library/id", MS_H5_I64, 0, 1, &n, lib->id, "",
                               "star id (entries of one star share it)");
    if (st == MS_OK)
        st = ms_h5_write_array(f, "/library/snr", MS_H5_F64, 0, 1, &n, lib->snr, "",
                               "S/N of the spectrum");
    if (st == MS_OK)
        st = ms_h5_write_array(f, "/library/name", MS_H5_STR, 32, 1, &n, lib->name, "",
                               "name of the spectrum (obsid, template file)");
    if (st == MS_OK)
        st = ms_h5_write_array(f, "/library/source", MS_H5_STR, 32, 1, &n, lib->source, "",
                               "the catalogue the labels came from");
    if (st == MS_OK && lib->n_steps) {
        st = ms_h5_write_array(f, "/curation/step", MS_H5_STR, 48, 1, &lib->n_steps,
                               lib->step_name, "", "curation step (build-library, Du 3.2-3.5)");
        if (st == MS_OK)
            st = ms_h5_write_array(f, "/curation/count", MS_H5_I64, 0, 1, &lib->n_steps,
                                   lib->step_count, "", "spectra (or bins) after the step");
    }
    if (st == MS_OK) st = ms_h5_attr_set_str(f, "/", "view", lib->view);
    if (st == MS_OK && cfg) st = ms_h5_write_provenance(f, cfg, command);
    return ms_h5_commit_or_abort(f, st);
}

ms_status ms_laspm_library_read(const char *path, ms_laspm_library *lib)
{
    ms_laspm_library_init(lib);
    ms_h5 *f;
    MS_TRY(ms_h5_open_read(path, 0, &f));
    int rank;
    size_t dims[2] = {0, 0}, wd[2] = {0, 0};
    ms_status st = ms_h5_dims(f, "/library/flux", &rank, dims);
    if (st == MS_OK && rank != 2)
        st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "%s: /library/flux is not 2-D", path);
    if (st == MS_OK) st = ms_h5_dims(f, "/library/wavelength", &rank, wd);
    if (st == MS_OK && wd[0] != dims[1])
        st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "%s: /library/wavelength has %zu "
                          "pixels, /library/flux %zu", path, wd[0], dims[1]);
    if (st == MS_OK) st = ms_laspm_library_alloc(lib, dims[0], dims[1]);
    const size_t n = dims[0];
    if (st == MS_OK)
        st = ms_h5_read_rows(f, "/library/wavelength", MS_H5_F64, 0, 0, dims[1], lib->wavelength);
    if (st == MS_OK) st = ms_h5_read_rows(f, "/library/flux", MS_H5_F32, 0, 0, n, lib->flux);
    for (int d = 0; st == MS_OK && d < MS_LASPM_N_LABELS; d++) {
        char name[64];
        snprintf(name, sizeof name, "/library/%s", ms_laspm_label_names[d]);
        st = read_label(f, name, lib->labels, n, d);
    }
    if (st == MS_OK) st = ms_h5_read_rows(f, "/library/id", MS_H5_I64, 0, 0, n, lib->id);
    if (st == MS_OK) st = ms_h5_read_rows(f, "/library/snr", MS_H5_F64, 0, 0, n, lib->snr);
    if (st == MS_OK) st = ms_h5_read_rows(f, "/library/name", MS_H5_STR, 32, 0, n, lib->name);
    if (st == MS_OK) st = ms_h5_read_rows(f, "/library/source", MS_H5_STR, 32, 0, n, lib->source);
    for (size_t i = 0; st == MS_OK && i < n; i++) {
        lib->name[i][31] = '\0';
        lib->source[i][31] = '\0';
    }
    char *view = NULL;
    if (st == MS_OK) st = ms_h5_attr_get_str(f, "/", "view", &view);
    if (st == MS_OK) {
        if (strcmp(view, "calibrated") != 0 && strcmp(view, "normalised") != 0)
            st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "%s: view '%s' is neither "
                              "calibrated nor normalised", path, view);
        else
            snprintf(lib->view, sizeof lib->view, "%s", view);
    }
    ms_free(view);
    ms_status cst = ms_h5_close(f);
    if (st == MS_OK) st = cst;
    if (st != MS_OK) ms_laspm_library_free(lib);
    return st;
}
