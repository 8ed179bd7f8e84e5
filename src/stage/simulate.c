/* survey.c: the driver of `mstars simulate`: theory grid, survey, side files.
 *
 * Work is split round robin by index (grid model i and observation o go to rank i % size and
 * o % size). Everything random derives from (general.seed, index), the population is drawn
 * identically on every rank, and the few per-observation numbers only known after synthesis
 * (S/N per band, the true TiO5) are summed over ranks (each has exactly one non-zero
 * contribution), so every file is byte-identical for any rank count. Rank 0 writes the side
 * files (each through a temporary name and a rename) and finally COMPLETE, which the run
 * removes first: an interrupted run never looks complete.
 *
 * Before writing, the run removes what an earlier simulate left in the same places (files
 * named spec-*.fits* under spectra/ and lte*.BT-Settl.spec.* under grid/), nothing else. */
#include "mstars/sim.h"

#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_MAX_SIM 1024

/* ------------------------------------------------------------------------------------------
 * Grid axes and names. */

static int axis_values(const ms_cfg_list *l, const char *key, double *v, int max)
{
    if (l->n != 3 || !(l->v[2] > 0) || l->v[1] < l->v[0]) return -1;
    int n = (int)floor((l->v[1] - l->v[0]) / l->v[2] + 1e-6) + 1;
    if (n > max) return -1;
    for (int i = 0; i < n; i++) v[i] = l->v[0] + l->v[2] * i;
    (void)key;
    return n;
}

ms_status ms_sim_grid_axes_build(const ms_cfg_simulate *s, ms_sim_grid_axes *axes)
{
    memset(axes, 0, sizeof *axes);
    double t[512], g[64], z[64];
    int nt = axis_values(&s->grid_teff, "simulate.grid_teff", t, 512);
    int ng = axis_values(&s->grid_logg, "simulate.grid_logg", g, 64);
    int nz = axis_values(&s->grid_mh, "simulate.grid_mh", z, 64);
    if (nt < 0) MS_ERROR(MS_EINVAL, "simulate.grid_teff: need min, max, step with step > 0, "
                                    "max >= min, at most 512 values");
    if (ng < 0) MS_ERROR(MS_EINVAL, "simulate.grid_logg: need min, max, step with step > 0, "
                                    "max >= min, at most 64 values");
    if (nz < 0) MS_ERROR(MS_EINVAL, "simulate.grid_mh: need min, max, step with step > 0, "
                                    "max >= min, at most 64 values");
    if (t[0] < 2000 || t[nt - 1] > 6000)
        MS_ERROR(MS_EINVAL, "simulate.grid_teff: %g-%g K outside the toy physics' 2000-6000 K",
                 t[0], t[nt - 1]);
    size_t n = (size_t)nt * (size_t)ng * (size_t)nz * 3;
    axes->labels = ms_malloc_array("sim.grid", n, sizeof *axes->labels);
    if (!axes->labels) return MS_ENOMEM;
    size_t k = 0;
    for (int iz = 0; iz < nz; iz++)
        for (int ia = 0; ia < 3; ia++)
            for (int ig = 0; ig < ng; ig++)
                for (int it = 0; it < nt; it++) {
                    /* Z25: -0.2..0.2 for [M/H] >= 0, 0..0.4 for -0.5 (and any node between
                     * -1 and 0), 0.2..0.6 for <= -1.0 */
                    double a = z[iz] >= 0 ? -0.2 : (z[iz] <= -1.0 ? 0.2 : 0.0);
                    axes->labels[k++] = (ms_sim_labels){t[it], g[ig], z[iz], a + 0.2 * ia};
                }
    axes->n = n;
    return MS_OK;
}

void ms_sim_grid_axes_free(ms_sim_grid_axes *axes)
{
    ms_free(axes->labels);
    memset(axes, 0, sizeof *axes);
}

static double round1(double v)
{
    double r = round(v * 10.0) / 10.0;
    return r == 0.0 ? 0.0 : r;
}

void ms_sim_grid_name(const ms_sim_labels *lab, const char *ext, char *buf, size_t len)
{
    double mh = round1(lab->m_h), am = round1(lab->alpha_m);
    char mhs[16];
    if (mh == 0.0)
        snprintf(mhs, sizeof mhs, "-0.0"); /* as the real grids name solar metallicity */
    else
        snprintf(mhs, sizeof mhs, "%+.1f", mh);
    snprintf(buf, len, "lte%05.1f-%.1f%sa%+.1f.BT-Settl.%s", lab->teff / 100.0, round1(lab->logg),
             mhs, am, ext);
}

/* ------------------------------------------------------------------------------------------
 * Files and directories. */

static ms_status mkdir_p(const char *path)
{
    char tmp[PATH_MAX_SIM];
    size_t n = strlen(path);
    if (n >= sizeof tmp) MS_ERROR(MS_EINVAL, "%s: path too long", path);
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
                MS_ERROR(MS_EIO, "%s: cannot create directory: %s", tmp, strerror(errno));
            tmp[i] = c;
        }
    }
    return MS_OK;
}

/* mkdir_p for the plate directories, remembering the last few made by this rank (a plate's
 * directory is asked for once per spectrum). */
#define DIR_CACHE 16
static char dir_cache[DIR_CACHE][PATH_MAX_SIM];
static int dir_cache_next;

static ms_status mkdir_cached(const char *dir)
{
    for (int i = 0; i < DIR_CACHE; i++)
        if (strcmp(dir_cache[i], dir) == 0) return MS_OK;
    MS_TRY(mkdir_p(dir));
    snprintf(dir_cache[dir_cache_next], PATH_MAX_SIM, "%s", dir);
    dir_cache_next = (dir_cache_next + 1) % DIR_CACHE;
    return MS_OK;
}

static void dir_cache_clear(void)
{
    for (int i = 0; i < DIR_CACHE; i++) dir_cache[i][0] = '\0';
    dir_cache_next = 0;
}

static const char *clean_pattern; /* nftw has no user pointer */

static int clean_cb(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    const char *base = path + ftw->base;
    if (type == FTW_F) {
        int ours = strcmp(clean_pattern, "spec") == 0
                       ? (strncmp(base, "spec-", 5) == 0 && strstr(base, ".fits") != NULL)
                       : (strncmp(base, "lte", 3) == 0 && strstr(base, ".BT-Settl.spec.") != NULL);
        if (ours) unlink(path);
    } else if (type == FTW_DP && ftw->level > 0) {
        rmdir(path); /* only succeeds when empty */
    }
    return 0;
}

static void clean_tree(const char *dir, const char *pattern)
{
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) return;
    clean_pattern = pattern;
    nftw(dir, clean_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static ms_status join(char *buf, size_t len, const char *a, const char *b)
{
    int n = snprintf(buf, len, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= len) MS_ERROR(MS_EINVAL, "%s/%s: path too long", a, b);
    return MS_OK;
}

/* Open dir/name.tmp for writing. */
static ms_status open_tmp(const char *dir, const char *name, FILE **f, char *tmp, size_t len)
{
    int n = snprintf(tmp, len, "%s/%s.tmp", dir, name);
    if (n < 0 || (size_t)n >= len) MS_ERROR(MS_EINVAL, "%s/%s: path too long", dir, name);
    *f = fopen(tmp, "w");
    if (!*f) MS_ERROR(MS_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    return MS_OK;
}

/* Close and rename dir/name.tmp to dir/name. */
static ms_status close_tmp(FILE *f, const char *tmp, const char *dir, const char *name)
{
    int bad = ferror(f);
    if (fclose(f) != 0) bad = 1;
    if (bad) MS_ERROR(MS_EIO, "%s: write failed: %s", tmp, strerror(errno));
    char final[PATH_MAX_SIM];
    MS_TRY(join(final, sizeof final, dir, name));
    if (rename(tmp, final) != 0)
        MS_ERROR(MS_EIO, "%s: cannot rename to %s: %s", tmp, final, strerror(errno));
    return MS_OK;
}

/* ------------------------------------------------------------------------------------------
 * The grid. */

static ms_status write_grid(const ms_config *cfg, const ms_sim_model *m, const char *out,
                            long *n_models)
{
    const ms_cfg_simulate *s = &cfg->simulate;
    int want7 = strcmp(s->grid_format, "spec7") == 0 || strcmp(s->grid_format, "both") == 0;
    int wantf = strcmp(s->grid_format, "fits") == 0 || strcmp(s->grid_format, "both") == 0;
    if (!want7 && !wantf)
        MS_ERROR(MS_EINVAL, "simulate.grid_format = \"%s\": use spec7, fits or both",
                 s->grid_format);
    ms_sim_grid_axes axes;
    MS_TRY(ms_sim_grid_axes_build(s, &axes));
    char dir[PATH_MAX_SIM];
    ms_status st = join(dir, sizeof dir, out, "grid");
    int rank = ms_par_rank(), size = ms_par_size();
    size_t j0, j1;
    ms_sim_model_range(m, MS_SIM_GRID_WMIN, MS_SIM_GRID_WMAX, &j0, &j1);
    size_t n = j1 - j0;
    double *flux = ms_malloc_array("sim.grid.flux", n, sizeof *flux);
    double *bb = ms_malloc_array("sim.grid.bb", n, sizeof *bb);
    if (!flux || !bb) st = MS_ENOMEM;
    const double *wave = ms_sim_model_wave(m) + j0;
    for (size_t i = (size_t)rank; st == MS_OK && i < axes.n; i += (size_t)size) {
        const ms_sim_labels *lab = &axes.labels[i];
        st = ms_sim_model_flux(m, lab, MS_SIM_SYNTHETIC, j0, j1, NULL, flux);
        if (st != MS_OK) break;
        char name[128], path[PATH_MAX_SIM];
        if (want7) {
            ms_sim_model_blackbody(m, lab->teff, j0, j1, bb);
            ms_sim_grid_name(lab, "spec.7", name, sizeof name);
            if ((st = join(path, sizeof path, dir, name)) != MS_OK) break;
            st = ms_sim_grid_write_spec7(path, wave, flux, bb, n, 0x6772696400ULL + i);
            if (st != MS_OK) break;
        }
        if (wantf) {
            ms_sim_grid_name(lab, "spec.fits", name, sizeof name);
            if ((st = join(path, sizeof path, dir, name)) != MS_OK) break;
            st = ms_sim_grid_write_fits(path, wave, flux, n, lab);
        }
    }
    ms_free(flux);
    ms_free(bb);
    st = ms_par_any_failed(st);
    if (st == MS_OK && rank == 0) {
        FILE *f;
        char tmp[PATH_MAX_SIM];
        st = open_tmp(out, "grid.lst", &f, tmp, sizeof tmp);
        if (st == MS_OK) {
            for (size_t i = 0; i < axes.n; i++) {
                char name[128];
                ms_sim_grid_name(&axes.labels[i], want7 ? "spec.7" : "spec.fits", name,
                                 sizeof name);
                fprintf(f, "grid/%s\n", name);
            }
            st = close_tmp(f, tmp, out, "grid.lst");
        }
    }
    st = ms_par_agree(st);
    *n_models = (long)axes.n;
    ms_sim_grid_axes_free(&axes);
    return st;
}

/* ------------------------------------------------------------------------------------------
 * The survey. */

#define NVALS 6 /* per observation: SNRU..SNRZ, true TiO5 */

/* What a survey run observes with (shared by the mock and the template generator). */
typedef struct {
    const ms_config *cfg;
    const ms_sim_model *m;
    ms_sim_instrument *inst;
    ms_sim_workspace *ws;
    ms_sim_spectrum *sp;
    ms_sim_classes *classes;         /* non-M physics (mock with simulate.fraction_* > 0) */
    double *hires;                   /* [model npix] input spectrum buffer */
    const ms_sim_template_lib *lib;  /* template generator: the templates; NULL: the mock */
    const size_t *tmpl;              /* [n_obs] template of each observation */
    int clean;                       /* templates: no noise, RV, tilt, tellurics, sky, masks */
} survey_ctx;

/* The hi-res spectrum of observation ob into ctx->sp. */
static ms_status observe_one(const survey_ctx *ctx, const ms_sim_star *star, const ms_sim_obs *ob)
{
    uint64_t seed = (uint64_t)ctx->cfg->general.seed;
    size_t ja, jb;
    if (ctx->lib) {
        const ms_sim_template *t = &ctx->lib->t[ctx->tmpl[ob->index]];
        double rv = ctx->clean ? 0.0 : star->rv;
        return ms_sim_observe_spectrum(ctx->m, ctx->inst, t->flux, rv, MS_SIM_TEMPLATE_R, t->teff,
                                       ob, seed, ctx->clean ? 0 : MS_SIM_OBS_ALL, ctx->ws, ctx->sp);
    }
    if (star->kind == MS_SIM_KIND_MDWARF || star->kind == MS_SIM_KIND_MGIANT)
        return ms_sim_observe(ctx->m, ctx->inst, star, ob, seed, MS_SIM_OBS_ALL, ctx->ws, ctx->sp);
    if (!ctx->classes) MS_ERROR(MS_EINVAL, "simulate: no physics for a %s", ms_sim_kind_name((ms_sim_kind)star->kind));
    double rv = ms_sim_classes_rv(star);
    ms_sim_observe_range(ctx->inst, ob, rv, &ja, &jb);
    MS_TRY(ms_sim_classes_flux(ctx->classes, star, ja, jb, ctx->hires + ja));
    double tn = star->kind == MS_SIM_KIND_GALAXY ? 5000.0
                                                 : (star->kind == MS_SIM_KIND_QSO ? 15000.0 : star->lab.teff);
    return ms_sim_observe_spectrum(ctx->m, ctx->inst, ctx->hires, rv, 0.0, tn, ob, seed,
                                   MS_SIM_OBS_ALL, ctx->ws, ctx->sp);
}

static ms_status observe_and_write(const survey_ctx *ctx, const ms_sim_population *pop, long o,
                                   const char *out, double *vals)
{
    const ms_sim_obs *ob = &pop->obs[o];
    const ms_sim_star *star = &pop->stars[ob->star];
    ms_sim_spectrum *sp = ctx->sp;
    MS_TRY(observe_one(ctx, star, ob));
    switch (ob->pathology) {
    case MS_SIM_PATH_ALL_NAN:
        for (int i = 0; i < sp->npix; i++) sp->flux[i] = sp->norm[i] = NAN;
        break;
    case MS_SIM_PATH_ZERO_IVAR:
        for (int i = 0; i < sp->npix; i++) sp->ivar[i] = 0.0f;
        break;
    default: break;
    }
    char path[PATH_MAX_SIM], dir[PATH_MAX_SIM];
    MS_TRY(join(path, sizeof path, out, ob->file));
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    MS_TRY(mkdir_cached(dir));
    const char *base = strrchr(ob->file, '/') ? strrchr(ob->file, '/') + 1 : ob->file;
    char fname[128], objname[32];
    snprintf(fname, sizeof fname, "%s", base);
    char *gz = strstr(fname, ".gz");
    if (gz) *gz = '\0';
    snprintf(objname, sizeof objname, "%lld", star->source_id);
    double bprp = star->bpmag - star->rpmag;
    ms_sim_lamost_header h = {
        .filename = fname, .obsid = ob->obsid, .data_v = ob->data_v, .lmjd = ob->lmjd,
        .planid = ob->planid, .obsdate = ob->obsdate, .ra = star->ra, .dec = star->dec,
        .spid = ob->spid, .fiberid = ob->fiberid, .cls = ob->cls, .subclass = ob->subclass,
        .z = ob->z, .z_err = ob->z_err, .helio_rv = ob->helio_rv, .seeing = ob->seeing,
        .moon_phase = ob->moon_phase, .exptime = ob->exptime, .objname = objname,
        .mag = {star->bpmag + 0.25, star->gmag + 0.15, star->rpmag + 0.05 + 0.05 * bprp,
                star->rpmag - 0.25, star->rpmag - 0.40},
    };
    for (int b = 0; b < 5; b++) h.snr[b] = round(sp->snr[b] * 100.0) / 100.0;
    MS_TRY(ms_sim_lamost_write(path, ob->layout, &h, sp, ob->pathology));
    for (int b = 0; b < 5; b++) vals[b] = h.snr[b];
    int model_star = !ctx->lib && (star->kind == MS_SIM_KIND_MDWARF || star->kind == MS_SIM_KIND_MGIANT);
    vals[5] = model_star ? ms_sim_model_tio5(ctx->m, &star->lab, MS_SIM_SYNTHETIC, 1800.0) : -9999.0;
    return MS_OK;
}

static void write_truth_row(FILE *f, const survey_ctx *ctx, const ms_sim_population *pop, long o,
                            const double *v)
{
    const ms_config *cfg = ctx->cfg;
    const ms_sim_obs *ob = &pop->obs[o];
    const ms_sim_star *s = &pop->stars[ob->star];
    fprintf(f,
            "%ld,%ld,%d,%d,%s,%ld,%s,%s,%d,%s,"
            "%.2f,%.4f,%.4f,%.4f,%.3f,"
            "%.3f,%.4f,%.3f,%s,%s,"
            "%.2f,%.2f,%.2f,%.2f,%.2f,"
            "%d,%.3f,%d,%.2f,%.4f,%.4f,%.3f,"
            "%.6f,%.6f,%ld,%s,%d,%d,%d,"
            "%.8f,%.8f,%.3f,%.4f,%.4f,%.2f,%.4f,%.3f",
            o, s->id, ob->epoch, s->n_obs, ob->file, ob->obsid,
            ob->layout == MS_LAMOST_COADD ? "dr9-coadd" : "dr5-image", ob->data_v, ob->gz,
            ms_sim_pathology_name(ob->pathology),
            s->lab.teff, s->lab.logg, s->lab.m_h, s->lab.alpha_m, s->rv,
            ms_sim_spt_from_teff(s->lab.teff), v[5], v[5] > 0 ? ms_sim_spt_from_tio5(v[5]) : -9999.0,
            ob->cls, ob->subclass,
            v[0], v[1], v[2], v[3], v[4],
            s->active, s->halpha_ew, s->binary, s->binary ? s->lab2.teff : 0.0,
            s->binary ? s->lab2.logg : 0.0, s->binary ? s->radius2 : 0.0, s->binary ? s->dv2 : 0.0,
            s->ra, s->dec, ob->lmjd, ob->planid, ob->spid, ob->fiberid, ob->npix,
            ob->z, ob->z_err, ob->helio_rv, ob->airmass, ob->pwv, ob->lsf_r0, ob->lsf_tilt,
            cfg->simulate.gap_strength);
    /* the classification truth (docs/simulate.md) */
    ms_sim_kind k = (ms_sim_kind)s->kind;
    const char *spt_class = ms_sim_spt_class(k, s->lab.teff), *lum = ms_sim_lum_class(k);
    const char *tname = "";
    if (ctx->lib) {
        const ms_sim_template *t = &ctx->lib->t[ctx->tmpl[o]];
        spt_class = t->spt_class;
        lum = t->lum_class;
        tname = t->name;
    }
    fprintf(f, ",%s,%d,%s,%s,%.5f,%s\n", spt_class, k == MS_SIM_KIND_WD, lum, ms_sim_kind_name(k),
            s->redshift, tname);
}

static const char truth_header[] =
    "obs_index,star_id,epoch,n_obs,file,obsid,layout,data_v,gz,pathology,"
    "teff,logg,m_h,alpha_m,rv,"
    "spt,tio5,spt_tio5,class,subclass,"
    "snr_u,snr_g,snr_r,snr_i,snr_z,"
    "active,halpha_ew,binary,teff2,logg2,radius2,dv2,"
    "ra,dec,lmjd,planid,spid,fiberid,npix,"
    "z,z_err,helio_rv,airmass,pwv,lsf_r6500,lsf_tilt,gap_strength,"
    "spt_class,is_wd,lum_class,kind,redshift,template\n";

/* Gaia DR3-like phot_{g,bp,rp}_mean_flux_over_error = 1.0857 / sigma_mag, with sigma_mag =
 * a + b 10^(0.4 (mag - 17)) (G: 0.3 + 0.6 mmag at 17; BP: 1 + 6; RP: 1 + 3; roughly Riello et
 * al. 2021 Fig. 14): a function of the magnitude only, no random draw, so the rest of the mock
 * is unchanged. The Gaia CMD module of `mstars lumclass` cuts at 20. */
static double flux_over_error(double mag, int band)
{
    static const double a[3] = {0.0003, 0.001, 0.001}, b[3] = {0.0006, 0.006, 0.003};
    return 1.0857 / (a[band] + b[band] * pow(10.0, 0.4 * (mag - 17.0)));
}

static ms_status write_side_files(const survey_ctx *ctx, const ms_sim_population *pop,
                                  const double *vals, const char *out)
{
    FILE *f;
    char tmp[PATH_MAX_SIM];
    MS_TRY(open_tmp(out, "truth.csv", &f, tmp, sizeof tmp));
    fputs(truth_header, f);
    for (long o = 0; o < pop->n_obs; o++) write_truth_row(f, ctx, pop, o, vals + NVALS * o);
    MS_TRY(close_tmp(f, tmp, out, "truth.csv"));

    MS_TRY(open_tmp(out, "input_catalog.csv", &f, tmp, sizeof tmp));
    fputs("obsid,source_id,ra,dec,phot_g_mean_mag,phot_bp_mean_mag,phot_rp_mean_mag,"
          "parallax,parallax_error,ruwe,variable_flag,binary_flag,"
          "phot_g_mean_flux_over_error,phot_bp_mean_flux_over_error,"
          "phot_rp_mean_flux_over_error\n", f);
    for (long o = 0; o < pop->n_obs; o++) {
        const ms_sim_obs *ob = &pop->obs[o];
        const ms_sim_star *s = &pop->stars[ob->star];
        fprintf(f, "%ld,%lld,%.6f,%.6f,%.4f,%.4f,%.4f,%.4f,%.4f,%.3f,%d,%d,%.1f,%.1f,%.1f\n",
                ob->obsid, s->source_id, s->ra, s->dec, s->gmag, s->bpmag, s->rpmag, s->plx,
                s->plx_err, s->ruwe, s->var_flag, s->bin_flag, flux_over_error(s->gmag, 0),
                flux_over_error(s->bpmag, 1), flux_over_error(s->rpmag, 2));
    }
    MS_TRY(close_tmp(f, tmp, out, "input_catalog.csv"));

    MS_TRY(open_tmp(out, "spectra.lst", &f, tmp, sizeof tmp));
    for (long o = 0; o < pop->n_obs; o++) fprintf(f, "%s\n", pop->obs[o].file);
    MS_TRY(close_tmp(f, tmp, out, "spectra.lst"));
    return MS_OK;
}

static int population_mixed(const ms_cfg_simulate *c)
{
    return c->fraction_mgiant + c->fraction_ob + c->fraction_a + c->fraction_f + c->fraction_g +
               c->fraction_k + c->fraction_wd + c->fraction_galaxy + c->fraction_qso > 0;
}

/* Observe and write every observation of pop (round robin over ranks), then the side files. */
static ms_status survey_files(survey_ctx *ctx, const ms_sim_population *pop, const char *out,
                              double *seconds)
{
    int rank = ms_par_rank(), size = ms_par_size();
    const ms_sim_model *m = ctx->m;
    ms_status st = MS_OK;
    ctx->sp = ms_malloc("sim.spectrum", sizeof *ctx->sp);
    ctx->hires = ms_calloc("sim.hires", ms_sim_model_npix(m), sizeof(double));
    double *vals = ms_calloc("sim.truthvals", (size_t)pop->n_obs * NVALS, sizeof *vals);
    if (!ctx->sp || !ctx->hires || !vals) st = MS_ENOMEM;
    if (st == MS_OK) st = ms_sim_instrument_alloc(m, &ctx->inst);
    if (st == MS_OK) st = ms_sim_workspace_alloc(m, &ctx->ws);
    if (st == MS_OK && !ctx->lib && population_mixed(&ctx->cfg->simulate))
        st = ms_sim_classes_alloc(m, &ctx->classes);
    double t0 = ms_par_wtime();
    long mine = 0;
    dir_cache_clear(); /* the run may have removed directories made by an earlier one */
    for (long o = rank; st == MS_OK && o < pop->n_obs; o += size) {
        st = observe_and_write(ctx, pop, o, out, vals + NVALS * o);
        mine++;
        if (rank == 0 && mine % 5000 == 0)
            ms_log_info("simulate: %ld of about %ld spectra on rank 0", mine, pop->n_obs / size);
    }
    double dt = ms_par_wtime() - t0;
    st = ms_par_any_failed(st);
    if (st == MS_OK) st = ms_par_allreduce_sum_d(vals, (size_t)pop->n_obs * NVALS);
    if (st == MS_OK) st = ms_par_allreduce_max_d(&dt, 1);
    if (st == MS_OK && rank == 0) st = write_side_files(ctx, pop, vals, out);
    st = ms_par_agree(st);
    *seconds = dt;
    ms_sim_classes_free(ctx->classes);
    ms_sim_workspace_free(ctx->ws);
    ms_sim_instrument_free(ctx->inst);
    ms_free(ctx->sp);
    ms_free(ctx->hires);
    ms_free(vals);
    return st;
}

static ms_status write_survey(const ms_config *cfg, const ms_sim_model *m, const char *out,
                              long *n_spectra, double *seconds)
{
    ms_sim_population pop;
    ms_status st = ms_sim_population_build(cfg, &pop);
    st = ms_par_any_failed(st);
    if (st != MS_OK) return st;
    survey_ctx ctx = {.cfg = cfg, .m = m};
    st = survey_files(&ctx, &pop, out, seconds);
    *n_spectra = pop.n_obs;
    ms_sim_population_free(&pop);
    return st;
}

/* ------------------------------------------------------------------------------------------ */

/* Rank 0 prepares out_dir: COMPLETE removed, earlier grid/spectra files of this kind removed. */
static ms_status start_dir(const char *out_dir, int what)
{
    ms_status st = MS_OK;
    char path[PATH_MAX_SIM];
    if (ms_par_rank() == 0) {
        st = mkdir_p(out_dir);
        if (st == MS_OK) st = join(path, sizeof path, out_dir, "COMPLETE");
        if (st == MS_OK && unlink(path) != 0 && errno != ENOENT)
            st = ms_error_set(MS_EIO, __FILE__, __LINE__, "%s: cannot remove: %s", path,
                              strerror(errno));
        if (st == MS_OK && (what & MS_SIM_RUN_GRID)) {
            st = join(path, sizeof path, out_dir, "grid");
            if (st == MS_OK) clean_tree(path, "lte");
            if (st == MS_OK) st = mkdir_p(path);
        }
        if (st == MS_OK && (what & MS_SIM_RUN_SURVEY)) {
            st = join(path, sizeof path, out_dir, "spectra");
            if (st == MS_OK) clean_tree(path, "spec");
            if (st == MS_OK) st = mkdir_p(path);
        }
    }
    return ms_par_agree(st);
}

/* Rank 0 writes simulate.cfg and COMPLETE (last). */
static ms_status finish_dir(const ms_config *cfg, const char *out_dir, const ms_sim_stats *local)
{
    ms_status st = MS_OK;
    if (ms_par_rank() == 0) {
        FILE *f;
        char tmp[PATH_MAX_SIM];
        st = open_tmp(out_dir, "simulate.cfg", &f, tmp, sizeof tmp);
        if (st == MS_OK) {
            ms_status wst = ms_config_write(cfg, f, 0);
            st = close_tmp(f, tmp, out_dir, "simulate.cfg");
            if (wst != MS_OK) st = wst;
        }
        if (st == MS_OK) st = open_tmp(out_dir, "COMPLETE", &f, tmp, sizeof tmp);
        if (st == MS_OK) {
            fprintf(f, "grid %ld\nspectra %ld\n", local->n_models, local->n_spectra);
            st = close_tmp(f, tmp, out_dir, "COMPLETE");
        }
    }
    return ms_par_agree(st);
}

ms_status ms_sim_run(const ms_config *cfg, const char *out_dir, int what, ms_sim_stats *stats)
{
    ms_sim_stats local = {0};
    ms_status st = MS_OK;
    if (!out_dir || !*out_dir) MS_ERROR(MS_EINVAL, "simulate: no output directory");
    if (!(what & MS_SIM_RUN_ALL)) MS_ERROR(MS_EINVAL, "simulate: nothing to do");
    st = start_dir(out_dir, what);
    if (st != MS_OK) return st;

    ms_sim_model *m = NULL;
    double t0 = ms_par_wtime();
    double gap[MS_SIM_GAP_PARTS];
    st = ms_sim_gap_parts(&cfg->simulate, gap);
    if (st == MS_OK) st = ms_sim_model_alloc_parts(cfg->simulate.hires_step, gap, &m);
    st = ms_par_any_failed(st);
    if (st != MS_OK) {
        ms_sim_model_free(m);
        return st;
    }
    ms_log0_info("simulate: physics model ready (%zu hi-res pixels, %.2f s)",
                 ms_sim_model_npix(m), ms_par_wtime() - t0);
    if (what & MS_SIM_RUN_GRID) {
        t0 = ms_par_wtime();
        st = write_grid(cfg, m, out_dir, &local.n_models);
        local.grid_seconds = ms_par_wtime() - t0;
        if (st == MS_OK)
            ms_log0_info("simulate: %ld grid models in %.2f s", local.n_models, local.grid_seconds);
    }
    if (st == MS_OK && (what & MS_SIM_RUN_SURVEY)) {
        st = write_survey(cfg, m, out_dir, &local.n_spectra, &local.survey_seconds);
        if (st == MS_OK)
            ms_log0_info("simulate: %ld spectra in %.2f s (%.0f spectra/s/core on %d ranks)",
                         local.n_spectra, local.survey_seconds,
                         local.n_spectra / (local.survey_seconds > 0 ? local.survey_seconds : 1e-9) /
                             ms_par_size(),
                         ms_par_size());
    }
    ms_sim_model_free(m);
    if (st != MS_OK) return st;
    st = finish_dir(cfg, out_dir, &local);
    if (stats) *stats = local;
    return st;
}

ms_status ms_sim_run_templates(const ms_config *cfg_in, const char *tdir, long n, int clean,
                               const char *out_dir, ms_sim_stats *stats)
{
    if (!out_dir || !*out_dir) MS_ERROR(MS_EINVAL, "simulate: no output directory");
    if (n < 1) MS_ERROR(MS_EINVAL, "simulate --from-templates: --n %ld: need at least 1", n);
    /* the observations: the mock's, one per star, none pathological; the objects: templates */
    ms_config cfg = *cfg_in;
    cfg.simulate.n_stars = n;
    cfg.simulate.repeat_fraction = cfg.simulate.pathological_fraction = 0.0;
    cfg.simulate.fraction_mgiant = cfg.simulate.fraction_ob = cfg.simulate.fraction_a = 0.0;
    cfg.simulate.fraction_f = cfg.simulate.fraction_g = cfg.simulate.fraction_k = 0.0;
    cfg.simulate.fraction_wd = cfg.simulate.fraction_galaxy = cfg.simulate.fraction_qso = 0.0;
    MS_TRY(start_dir(out_dir, MS_SIM_RUN_SURVEY));
    ms_sim_stats local = {0};
    ms_sim_model *m = NULL;
    ms_sim_template_lib lib = {0};
    ms_sim_population pop = {0};
    size_t *tmpl = NULL;
    double t0 = ms_par_wtime();
    ms_status st = ms_sim_model_alloc(cfg.simulate.hires_step, 0.0, &m);
    if (st == MS_OK) st = ms_sim_templates_load(m, tdir, &lib);
    if (st == MS_OK) st = ms_sim_population_build(&cfg, &pop);
    if (st == MS_OK) {
        tmpl = ms_malloc_array("sim.templates.pick", (size_t)pop.n_obs, sizeof *tmpl);
        if (!tmpl) st = MS_ENOMEM;
    }
    for (long o = 0; st == MS_OK && o < pop.n_obs; o++) {
        ms_sim_obs *ob = &pop.obs[o];
        ms_sim_star *star = &pop.stars[ob->star];
        tmpl[o] = ms_sim_templates_pick(&lib, (uint64_t)cfg.general.seed, o);
        const ms_sim_template *t = &lib.t[tmpl[o]];
        double logg = t->giant ? 1.0 : (t->kind == MS_SIM_KIND_OB ? 4.0 : 4.5);
        ms_sim_labels lab = {t->teff, logg, t->feh, 0.0};
        ms_sim_template_star(&cfg, star, ob, t->kind, &lab, t->spt, t->giant);
        if (clean) {
            star->rv = 0.0;
            ob->z = 0.0;
            memset(ob->fluxcal, 0, sizeof ob->fluxcal);
        }
    }
    st = ms_par_any_failed(st);
    if (st == MS_OK)
        ms_log0_info("simulate: %zu templates in %d groups read from %s (%.2f s)", lib.n,
                     lib.ngroups, tdir, ms_par_wtime() - t0);
    if (st == MS_OK) {
        survey_ctx ctx = {.cfg = &cfg, .m = m, .lib = &lib, .tmpl = tmpl, .clean = clean};
        st = survey_files(&ctx, &pop, out_dir, &local.survey_seconds);
        local.n_spectra = pop.n_obs;
    }
    if (st == MS_OK)
        ms_log0_info("simulate: %ld template spectra in %.2f s (%.0f spectra/s/core on %d ranks)",
                     local.n_spectra, local.survey_seconds,
                     local.n_spectra / (local.survey_seconds > 0 ? local.survey_seconds : 1e-9) /
                         ms_par_size(),
                     ms_par_size());
    ms_free(tmpl);
    ms_sim_population_free(&pop);
    ms_sim_templates_free(&lib);
    ms_sim_model_free(m);
    if (st == MS_OK) st = finish_dir(&cfg, out_dir, &local);
    if (stats) *stats = local;
    return st;
}
