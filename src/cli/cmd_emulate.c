/* cmd_emulate.c: `mstars emulate`: one emulator spectrum (and its label derivatives). */
#include "cli.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/payne.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ms_cli_opt opts[] = {
    {"model", "FILE", "emulator model file written by `mstars train-emulator`", 1},
    {"labels", "VALUES", "label values in the model's order, e.g. 3500,4.8,0,0 (or named: "
                         "teff=3500,logg=4.8,...)", 1},
    {"jacobian", NULL, "also write d flux / d label for every label (per K, per dex)", 0},
    {"out", "FILE", "write the spectrum to this text file instead of standard output", 0},
    {NULL, NULL, NULL, 0},
};

/* Parse "v1,v2,..." or "name=v,..." into y[D] (model order). */
static ms_status parse_values(const ms_emulator *e, const char *text, double *y)
{
    const size_t D = ms_emulator_n_labels(e);
    int set[MS_PAYNE_MAX_LABELS] = {0};
    size_t k = 0;
    const char *p = text;
    while (*p) {
        size_t len = strcspn(p, ",");
        char item[128];
        if (len >= sizeof item) MS_ERROR(MS_EINVAL, "--labels: item too long in '%s'", text);
        memcpy(item, p, len);
        item[len] = '\0';
        char *eq = strchr(item, '=');
        size_t j = k;
        char *num = item;
        if (eq) {
            *eq = '\0';
            int idx = ms_emulator_label_index(e, item);
            if (idx < 0) MS_ERROR(MS_EINVAL, "--labels: the model has no label '%s'", item);
            j = (size_t)idx;
            num = eq + 1;
        }
        if (j >= D)
            MS_ERROR(MS_EINVAL, "--labels: more than the model's %zu labels in '%s'", D, text);
        char *end;
        errno = 0;
        y[j] = strtod(num, &end);
        if (end == num || *end || errno)
            MS_ERROR(MS_EINVAL, "--labels: '%s' is not a number", num);
        set[j] = 1;
        k++;
        p += len;
        if (*p == ',') p++;
    }
    for (size_t j = 0; j < D; j++)
        if (!set[j])
            MS_ERROR(MS_EINVAL, "--labels: no value for label '%s' (the model takes %zu labels)",
                     e->labels[j], D);
    return MS_OK;
}

static int run(ms_cli_ctx *ctx)
{
    const char *path = ms_cli_get(ctx, "model"), *outp = ms_cli_get(ctx, "out");
    const int want_jac = ms_cli_flag(ctx, "jacobian");
    ms_emulator e;
    if (ms_emulator_read(path, &e) != MS_OK) return ms_cli_fail("emulate");
    const size_t D = ms_emulator_n_labels(&e), P = ms_emulator_n_pix(&e);
    double y[MS_PAYNE_MAX_LABELS];
    ms_payne_ws *ws = NULL;
    float *flux = NULL, *jac = NULL;
    FILE *out = stdout;
    ms_status st = parse_values(&e, ms_cli_get(ctx, "labels"), y);
    for (size_t j = 0; st == MS_OK && j < D; j++)
        if (y[j] < e.x_min[j] || y[j] > e.x_max[j])
            ms_log_warn("%s = %g lies outside the training range [%g, %g]: extrapolation",
                        e.labels[j], y[j], e.x_min[j], e.x_max[j]);
    if (st == MS_OK) st = ms_payne_ws_alloc(&e.net, 1, want_jac, &ws);
    if (st == MS_OK) {
        flux = ms_malloc_array("emulate.flux", P, sizeof(float));
        jac = want_jac ? ms_malloc_array("emulate.jac", D * P, sizeof(float)) : NULL;
        if (!flux || (want_jac && !jac)) st = MS_ENOMEM;
    }
    if (st == MS_OK) st = ms_emulator_predict(&e, ws, y, 1, flux, jac);
    if (st == MS_OK && outp) {
        out = fopen(outp, "w");
        if (!out) {
            st = ms_error_set(MS_EIO, __FILE__, __LINE__, "%s: cannot create: %s", outp,
                              strerror(errno));
            out = stdout;
        }
    }
    if (st == MS_OK) {
        fprintf(out, "# mstars emulate: model %s (content hash %s)\n# labels:", path,
                e.content_hash);
        for (size_t j = 0; j < D; j++) fprintf(out, " %s=%.10g", e.labels[j], y[j]);
        fprintf(out, "\n# columns: wavelength_A flux");
        for (size_t j = 0; want_jac && j < D; j++) fprintf(out, " dflux_d%s", e.labels[j]);
        fprintf(out, "\n");
        for (size_t p = 0; p < P; p++) {
            fprintf(out, "%.4f %.7g", e.wavelength[p], (double)flux[p]);
            for (size_t j = 0; want_jac && j < D; j++) fprintf(out, " %.7g", (double)jac[j * P + p]);
            fprintf(out, "\n");
        }
        if (ferror(out))
            st = ms_error_set(MS_EIO, __FILE__, __LINE__, "%s: write failed",
                              outp ? outp : "standard output");
    }
    if (out != stdout && fclose(out) != 0 && st == MS_OK)
        st = ms_error_set(MS_EIO, __FILE__, __LINE__, "%s: write failed: %s", outp, strerror(errno));
    ms_free(flux);
    ms_free(jac);
    ms_payne_ws_free(ws);
    ms_emulator_free(&e);
    return st == MS_OK ? 0 : ms_cli_fail("emulate");
}

const ms_cli_cmd ms_cmd_emulate = {
    "emulate", "print an emulator spectrum (and d flux / d labels) at given labels", NULL,
    "Evaluates the emulator of a model file at one set of labels and writes the wavelength and "
    "the normalised flux, one pixel per line; with --jacobian also the derivative of the flux "
    "with respect to each label in physical units. Labels outside the training range are "
    "evaluated with a warning.",
    opts, 0, run};
