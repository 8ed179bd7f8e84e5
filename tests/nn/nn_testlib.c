/* nn_testlib.c: see nn_testlib.h. */
#include "nn_testlib.h"

#include "mstars/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

nn_fx *nn_fx_load(const char *name)
{
    nn_fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/nn/%s.txt", name);
    ms_test_source(rel, f->path, sizeof f->path);
    FILE *in = fopen(f->path, "r");
    if (!in) fail_msg("cannot open fixture %s", f->path);
    char line[4096];
    nn_fx_array *cur = NULL;
    size_t filled = 0;
    while (fgets(line, sizeof line, in)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        if (!cur || filled == cur->n) {
            /* header line */
            nn_fx_array *grown = realloc(f->a, (f->n + 1) * sizeof *f->a);
            assert_non_null(grown);
            f->a = grown;
            cur = &f->a[f->n++];
            memset(cur, 0, sizeof *cur);
            char *tok = strtok(line, " \t\n");
            assert_non_null(tok);
            snprintf(cur->name, sizeof cur->name, "%s", tok);
            tok = strtok(NULL, " \t\n");
            assert_non_null(tok);
            cur->ndim = atoi(tok);
            assert_true(cur->ndim >= 1 && cur->ndim <= 4);
            cur->n = 1;
            for (int d = 0; d < cur->ndim; d++) {
                tok = strtok(NULL, " \t\n");
                assert_non_null(tok);
                cur->dims[d] = (size_t)strtoul(tok, NULL, 10);
                cur->n *= cur->dims[d];
            }
            cur->v = calloc(cur->n ? cur->n : 1, sizeof(double));
            assert_non_null(cur->v);
            filled = 0;
            continue;
        }
        for (char *tok = strtok(line, " \t\n"); tok; tok = strtok(NULL, " \t\n")) {
            if (filled >= cur->n) fail_msg("%s: too many values for %s", f->path, cur->name);
            cur->v[filled++] = strtod(tok, NULL);
        }
    }
    fclose(in);
    if (cur && filled != cur->n) fail_msg("%s: array %s is truncated", f->path, cur->name);
    return f;
}

void nn_fx_free(nn_fx *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) free(f->a[i].v);
    free(f->a);
    free(f);
}

const nn_fx_array *nn_fx_get(const nn_fx *f, const char *name, size_t expect_n)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->a[i].name, name) == 0) {
            if (expect_n && f->a[i].n != expect_n)
                fail_msg("%s: array %s has %zu values, expected %zu", f->path, name, f->a[i].n,
                         expect_n);
            return &f->a[i];
        }
    fail_msg("%s: no array %s", f->path, name);
    return NULL;
}

float *nn_fx_floats(const nn_fx *f, const char *name, size_t expect_n)
{
    const nn_fx_array *a = nn_fx_get(f, name, expect_n);
    float *x = ms_malloc_array("test.fx", a->n, sizeof(float));
    assert_non_null(x);
    for (size_t i = 0; i < a->n; i++) x[i] = (float)a->v[i];
    return x;
}

size_t nn_fx_int(const nn_fx *f, const char *name, size_t i)
{
    const nn_fx_array *a = nn_fx_get(f, name, 0);
    assert_true(i < a->n);
    return (size_t)llround(a->v[i]);
}

/* The criterion: |got - want| <= rtol (|want| + 0.01 max|want|). The second term keeps
 * elements that cancel to near zero (a sum of terms much larger than itself) from
 * demanding more than float32 can give: 1e-5 relative to the element, or to 1% of the
 * array's scale, whichever is looser. */
double nn_check(const float *got, const double *want, size_t n, double rtol, const char *what)
{
    double scale = 0.0;
    for (size_t i = 0; i < n; i++)
        if (fabs(want[i]) > scale) scale = fabs(want[i]);
    double worst = 0.0;
    size_t iw = 0;
    for (size_t i = 0; i < n; i++) {
        double den = fabs(want[i]) + 0.01 * scale;
        double e = den > 0 ? fabs((double)got[i] - want[i]) / den : fabs((double)got[i]);
        if (!(e <= worst)) {
            worst = e;
            iw = i;
        }
    }
    if (getenv("MSTARS_NN_VERBOSE")) {
        double pure = 0.0; /* plain element-wise relative error, for the record */
        for (size_t i = 0; i < n; i++)
            if (want[i] != 0.0 && fabs((double)got[i] - want[i]) / fabs(want[i]) > pure)
                pure = fabs((double)got[i] - want[i]) / fabs(want[i]);
        print_message("  %-48s worst %.2e (plain element-wise %.2e)\n", what, worst, pure);
    }
    if (!(worst <= rtol))
        fail_msg("%s: element %zu is %.9g, expected %.9g (relative error %.3g > %.3g)", what, iw,
                 (double)got[iw], want[iw], worst, rtol);
    return worst;
}

double nn_check_f(const float *got, const float *want, size_t n, double rtol, const char *what)
{
    double *w = malloc((n ? n : 1) * sizeof(double));
    assert_non_null(w);
    for (size_t i = 0; i < n; i++) w[i] = want[i];
    double e = nn_check(got, w, n, rtol, what);
    free(w);
    return e;
}

void nn_fill(float *x, size_t n, double lo, double hi, ms_nn_rng *rng)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * ms_nn_rng_uniform(rng));
}

float *nn_zeros(size_t n)
{
    float *x = ms_calloc("test.zeros", n ? n : 1, sizeof(float));
    assert_non_null(x);
    return x;
}

#include "mstars/config.h"
#include "mstars/h5.h"

void nn_synth_spectrum(const double y[4], const double *wavelength, size_t n_pix, float *flux)
{
    /* scaled labels in about [0, 1] */
    double t = (y[0] - 2800.0) / 1200.0, g = (y[1] - 4.5), m = (y[2] + 1.0) / 1.5,
           a = y[3] / 0.4;
    static const double centre[8] = {6150, 6563, 6710, 7050, 7400, 7700, 8190, 8500};
    static const double width[8] = {40, 6, 25, 60, 30, 8, 5, 70};
    for (size_t p = 0; p < n_pix; p++) {
        double lam = wavelength[p], f = 1.0;
        for (int k = 0; k < 8; k++) {
            double depth;
            if (width[k] > 20) /* molecular bands: deeper at low teff and high metallicity */
                depth = 0.35 * (1.0 - 0.7 * t) * (0.6 + 0.4 * m) * (1.0 + 0.1 * (k % 3) * a);
            else /* atomic lines: gravity and metallicity sensitive */
                depth = 0.25 * (0.5 + 0.5 * g) * (0.7 + 0.3 * m) * (1.0 - 0.3 * t * t);
            double d = (lam - centre[k]) / width[k];
            f -= depth * exp(-0.5 * d * d);
        }
        f += 0.02 * sin(lam / 37.0 + 3.0 * t) * (0.5 + 0.5 * m); /* weak smooth ripple */
        flux[p] = (float)f;
    }
}

void nn_synth_make(nn_synth *s, const size_t n[4], size_t n_pix)
{
    const double lo[4] = {2800, 4.5, -1.0, 0.0}, hi[4] = {4000, 5.5, 0.5, 0.4};
    s->n_models = n[0] * n[1] * n[2] * n[3];
    s->n_pix = n_pix;
    s->flux = ms_malloc_array("synth.flux", s->n_models * n_pix, sizeof(float));
    s->labels = ms_malloc_array("synth.labels", s->n_models * 4, sizeof(double));
    s->wavelength = ms_malloc_array("synth.wave", n_pix, sizeof(double));
    assert_non_null(s->flux);
    assert_non_null(s->labels);
    assert_non_null(s->wavelength);
    for (size_t p = 0; p < n_pix; p++)
        s->wavelength[p] = 6000.0 + 2900.0 * (double)p / (double)(n_pix > 1 ? n_pix - 1 : 1);
    size_t i = 0;
    for (size_t a = 0; a < n[0]; a++)
        for (size_t b = 0; b < n[1]; b++)
            for (size_t c = 0; c < n[2]; c++)
                for (size_t d = 0; d < n[3]; d++, i++) {
                    const size_t idx[4] = {a, b, c, d};
                    double *y = s->labels + i * 4;
                    for (int k = 0; k < 4; k++)
                        y[k] = n[k] > 1 ? lo[k] + (hi[k] - lo[k]) * (double)idx[k] / (double)(n[k] - 1)
                                        : lo[k];
                    nn_synth_spectrum(y, s->wavelength, n_pix, s->flux + i * n_pix);
                }
}

void nn_synth_free(nn_synth *s)
{
    ms_free(s->flux);
    ms_free(s->labels);
    ms_free(s->wavelength);
    memset(s, 0, sizeof *s);
}

void nn_synth_write_store(const nn_synth *s, const char *path, size_t bad_row)
{
    ms_h5 *f;
    assert_int_equal(ms_h5_create(path, 0, &f), MS_OK);
    ms_config cfg;
    assert_int_equal(ms_config_defaults(&cfg), MS_OK);
    assert_int_equal(ms_h5_write_provenance(f, &cfg, "nn_synth_write_store"), MS_OK);
    const size_t N = s->n_models, P = s->n_pix, d2[2] = {N, P};
    float *ivar = ms_malloc_array("synth.ivar", N * P, sizeof(float));
    double *col = ms_malloc_array("synth.col", N, sizeof(double));
    int32_t *status = ms_calloc("synth.status", N, sizeof(int32_t));
    assert_non_null(ivar);
    assert_non_null(col);
    assert_non_null(status);
    for (size_t i = 0; i < N * P; i++) ivar[i] = 1e4f;
    if (bad_row < N) status[bad_row] = 1;
    assert_int_equal(ms_h5_write_array(f, "/spectra/flux", MS_H5_F32, 0, 2, d2, s->flux, "",
                                       "normalised flux"), MS_OK);
    assert_int_equal(ms_h5_write_array(f, "/spectra/ivar", MS_H5_F32, 0, 2, d2, ivar, "",
                                       "inverse variance"), MS_OK);
    assert_int_equal(ms_h5_write_array(f, "/spectra/wavelength", MS_H5_F64, 0, 1, &P,
                                       s->wavelength, "A", "wavelength"), MS_OK);
    const char *names[4] = {"teff", "logg", "m_h", "alpha_m"};
    for (int k = 0; k < 4; k++) {
        for (size_t i = 0; i < N; i++) col[i] = s->labels[i * 4 + (size_t)k];
        char name[64];
        snprintf(name, sizeof name, "/labels/%s", names[k]);
        assert_int_equal(ms_h5_write_array(f, name, MS_H5_F64, 0, 1, &N, col, "", names[k]), MS_OK);
    }
    assert_int_equal(ms_h5_write_array(f, "/meta/status", MS_H5_I32, 0, 1, &N, status, "",
                                       "0 = usable"), MS_OK);
    assert_int_equal(ms_h5_commit(f), MS_OK);
    ms_free(ivar);
    ms_free(col);
    ms_free(status);
}
