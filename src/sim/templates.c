/* templates.c: the Kesseli et al. (2017) template library for `mstars simulate
 * --from-templates` (docs/simulate.md, "Spectra from real templates").
 *
 * Each file SPT[_FEH][_LUM].fits is read (ms_template_read), named by its spectral type,
 * [Fe/H] bin and luminosity class, given the nominal Teff of its type, and resampled onto
 * the model's hi-res rest-frame grid by linear interpolation in ln(lambda) (the template's
 * 0.1 A sampling is finer than the grid's 0.25 A; beyond its 3650-10200 A the edge values).
 * Flux is scaled to median 1. The spectra keep the BOSS resolution (R ~ 2000): the observer
 * applies only the difference kernel to the LAMOST LSF (ms_sim_observe_spectrum input_r). */
#include "model_internal.h"

#include "mstars/mem.h"
#include "mstars/stats.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const ms_sim_template *)a)->name, ((const ms_sim_template *)b)->name);
}

/* Parse "M0_+0.0_Dwarf", "K7_Giant", "B6"; 0 when not a template name we use. */
static int parse_name(const char *base, ms_sim_template *t)
{
    memset(t, 0, sizeof *t);
    size_t len = strlen(base);
    if (len < 7 || strcmp(base + len - 5, ".fits") != 0 || len - 5 >= sizeof t->name) return 0;
    memcpy(t->name, base, len - 5);
    t->name[len - 5] = '\0';
    if (!strchr("OBAFGKM", t->name[0])) return 0; /* L dwarfs and other files: not used */
    size_t k = 1;
    while (t->name[k] >= '0' && t->name[k] <= '9') k++;
    if (k == 1 || k - 0 >= sizeof t->spt) return 0;
    memcpy(t->spt, t->name, k);
    t->spt[k] = '\0';
    const char *p = t->name + k;
    if (*p == '_' && (p[1] == '+' || p[1] == '-')) {
        char *end;
        t->feh = strtod(p + 1, &end) - 0.25; /* the bin label is its upper edge */
        p = end;
    }
    if (*p == '_') {
        if (strcmp(p + 1, "Giant") == 0)
            t->giant = 1;
        else if (strcmp(p + 1, "Dwarf") != 0)
            return 0;
    } else if (*p != '\0') {
        return 0;
    }
    t->teff = ms_sim_teff_of_subtype(t->spt, t->giant);
    if (!isfinite(t->teff)) return 0;
    switch (t->spt[0]) {
    case 'O':
    case 'B': t->kind = MS_SIM_KIND_OB; break;
    case 'A': t->kind = MS_SIM_KIND_A; break;
    case 'F': t->kind = MS_SIM_KIND_F; break;
    case 'G': t->kind = MS_SIM_KIND_G; break;
    case 'K': t->kind = MS_SIM_KIND_K; break;
    default: t->kind = t->giant ? MS_SIM_KIND_MGIANT : MS_SIM_KIND_MDWARF; break;
    }
    t->spt_class = ms_sim_spt_class(t->kind, t->teff);
    t->lum_class = t->giant ? "giant" : "dwarf";
    return 1;
}

static ms_status resample(const ms_sim_model *m, const char *path, double *out)
{
    double *w = NULL, *f = NULL;
    size_t n = 0;
    MS_TRY(ms_template_read(path, &w, &f, &n));
    size_t k = 0;
    for (size_t j = 0; j < m->n; j++) {
        double lam = m->wave[j];
        if (lam <= w[0]) {
            out[j] = f[0];
            continue;
        }
        if (lam >= w[n - 1]) {
            out[j] = f[n - 1];
            continue;
        }
        while (k + 1 < n && w[k + 1] < lam) k++;
        double t = log(lam / w[k]) / log(w[k + 1] / w[k]);
        out[j] = f[k] + t * (f[k + 1] - f[k]);
    }
    ms_free(w);
    ms_free(f);
    double *tmp = ms_malloc_array("template median", m->n, sizeof *tmp);
    if (!tmp) return MS_ENOMEM;
    memcpy(tmp, out, m->n * sizeof *tmp);
    double med = ms_stats_select(tmp, m->n, m->n / 2);
    ms_free(tmp);
    if (!(med > 0)) MS_ERROR(MS_EFORMAT, "%s: template flux has no positive median", path);
    for (size_t j = 0; j < m->n; j++) out[j] /= med;
    return MS_OK;
}

ms_status ms_sim_templates_load(const ms_sim_model *m, const char *dir, ms_sim_template_lib *lib)
{
    memset(lib, 0, sizeof *lib);
    DIR *d = opendir(dir);
    if (!d) MS_ERROR(MS_EIO, "%s: cannot open the template directory", dir);
    size_t cap = 0;
    ms_status st = MS_OK;
    struct dirent *e;
    while (st == MS_OK && (e = readdir(d)) != NULL) {
        ms_sim_template t;
        if (!parse_name(e->d_name, &t)) continue;
        if (lib->n == cap) {
            size_t nc = cap ? 2 * cap : 64;
            ms_sim_template *nt = ms_realloc("sim.templates", lib->t, nc * sizeof *nt);
            if (!nt) {
                st = MS_ENOMEM;
                break;
            }
            lib->t = nt;
            cap = nc;
        }
        lib->t[lib->n++] = t;
    }
    closedir(d);
    if (st == MS_OK && lib->n == 0)
        st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "%s: no template files (SPT[_FEH]_LUM.fits)", dir);
    if (st != MS_OK) {
        ms_sim_templates_free(lib);
        return st;
    }
    qsort(lib->t, lib->n, sizeof *lib->t, cmp_name); /* readdir order is not portable */
    /* groups in first-seen order of the sorted names */
    const char *gname[16][2];
    for (size_t i = 0; i < lib->n; i++) {
        ms_sim_template *t = &lib->t[i];
        int g = 0;
        while (g < lib->ngroups && !(strcmp(gname[g][0], t->spt_class) == 0 &&
                                     strcmp(gname[g][1], t->lum_class) == 0))
            g++;
        if (g == lib->ngroups) {
            if (lib->ngroups == 16) {
                ms_sim_templates_free(lib);
                MS_ERROR(MS_EINVAL, "%s: more than 16 template groups", dir);
            }
            gname[g][0] = t->spt_class;
            gname[g][1] = t->lum_class;
            lib->ngroups++;
        }
        t->group = g;
        lib->group_n[g]++;
    }
    for (size_t i = 0; i < lib->n && st == MS_OK; i++) {
        char path[1024];
        if (snprintf(path, sizeof path, "%s/%s.fits", dir, lib->t[i].name) >= (int)sizeof path) {
            st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "%s: path too long", dir);
            break;
        }
        lib->t[i].flux = ms_malloc_array("template hires", m->n, sizeof(double));
        st = lib->t[i].flux ? resample(m, path, lib->t[i].flux) : MS_ENOMEM;
    }
    if (st != MS_OK) ms_sim_templates_free(lib);
    return st;
}

void ms_sim_templates_free(ms_sim_template_lib *lib)
{
    if (!lib) return;
    for (size_t i = 0; i < lib->n; i++) ms_free(lib->t[i].flux);
    ms_free(lib->t);
    memset(lib, 0, sizeof *lib);
}

size_t ms_sim_templates_pick(const ms_sim_template_lib *lib, uint64_t seed, long i)
{
    ms_sim_rng r;
    ms_sim_rng_seed(&r, seed, MS_SIM_STREAM_TEMPLATE, (uint64_t)i);
    int g = (int)(ms_sim_rng_uniform(&r) * lib->ngroups);
    if (g >= lib->ngroups) g = lib->ngroups - 1;
    int k = (int)(ms_sim_rng_uniform(&r) * lib->group_n[g]);
    if (k >= lib->group_n[g]) k = lib->group_n[g] - 1;
    for (size_t j = 0; j < lib->n; j++)
        if (lib->t[j].group == g && k-- == 0) return j;
    return 0;
}
