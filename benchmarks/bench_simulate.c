/* bench_simulate.c: survey-generation throughput of `mstars simulate` on one core.
 *
 * Builds the physics model, instrument and population of config/mock-small.cfg's defaults
 * (gap 1, every instrument effect on), then times, per observation, (a) synthesis alone
 * (ms_sim_observe: physics, companion, emission, tellurics, LSF, resampling, flux
 * calibration, sky, noise, masks) and (b) synthesis plus writing the FITS file (the layouts,
 * gzip fraction and pathologies of the survey) into DIR. Prints spectra per second per core.
 *
 * Usage: bench_simulate [n_spectra] [DIR]   (default 2000, DIR a fresh directory under /tmp).
 * The end-to-end command (`mstars simulate`, all ranks, side files included) is timed by
 * bench_simulate.sh. */
#include "mstars/config.h"
#include "mstars/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000;
    char dir[512];
    if (argc > 2)
        snprintf(dir, sizeof dir, "%s", argv[2]);
    else
        snprintf(dir, sizeof dir, "/tmp/mstars-bench-sim-%ld", (long)getpid());
    if (mkdir(dir, 0777) != 0 && access(dir, W_OK) != 0) {
        fprintf(stderr, "bench_simulate: cannot create %s\n", dir);
        return 1;
    }
    ms_config cfg;
    ms_config_defaults(&cfg);
    cfg.simulate.n_stars = n;
    double t0 = now();
    ms_sim_model *m = NULL;
    ms_sim_instrument *inst = NULL;
    ms_sim_workspace *ws = NULL;
    ms_sim_population pop;
    if (ms_sim_model_alloc(cfg.simulate.hires_step, cfg.simulate.gap_strength, &m) != MS_OK ||
        ms_sim_instrument_alloc(m, &inst) != MS_OK || ms_sim_workspace_alloc(m, &ws) != MS_OK ||
        ms_sim_population_build(&cfg, &pop) != MS_OK) {
        fprintf(stderr, "bench_simulate: %s\n", ms_error_message());
        return 1;
    }
    double t_setup = now() - t0;
    ms_sim_spectrum *sp = malloc(sizeof *sp);
    if (!sp) return 1;
    long nobs = pop.n_obs < n ? pop.n_obs : n;

    /* (a) synthesis only */
    t0 = now();
    double c0 = cpu();
    for (long o = 0; o < nobs; o++) {
        const ms_sim_obs *ob = &pop.obs[o];
        if (ms_sim_observe(m, inst, &pop.stars[ob->star], ob, (uint64_t)cfg.general.seed,
                           MS_SIM_OBS_ALL, ws, sp) != MS_OK) {
            fprintf(stderr, "bench_simulate: %s\n", ms_error_message());
            return 1;
        }
    }
    double t_syn = now() - t0, c_syn = cpu() - c0;

    /* (b) synthesis + file */
    t0 = now();
    c0 = cpu();
    for (long o = 0; o < nobs; o++) {
        const ms_sim_obs *ob = &pop.obs[o];
        const ms_sim_star *st = &pop.stars[ob->star];
        ms_sim_observe(m, inst, st, ob, (uint64_t)cfg.general.seed, MS_SIM_OBS_ALL, ws, sp);
        char path[700];
        snprintf(path, sizeof path, "%s/spec-%ld.fits%s", dir, o, ob->gz ? ".gz" : "");
        ms_sim_lamost_header h = {.filename = "bench.fits", .obsid = ob->obsid,
                                  .data_v = ob->data_v, .lmjd = ob->lmjd, .planid = ob->planid,
                                  .obsdate = ob->obsdate, .ra = st->ra, .dec = st->dec,
                                  .spid = ob->spid, .fiberid = ob->fiberid, .cls = ob->cls,
                                  .subclass = ob->subclass, .z = ob->z, .z_err = ob->z_err,
                                  .helio_rv = ob->helio_rv, .seeing = ob->seeing,
                                  .moon_phase = ob->moon_phase, .exptime = ob->exptime,
                                  .objname = "0"};
        for (int b = 0; b < 5; b++) h.snr[b] = sp->snr[b];
        if (ms_sim_lamost_write(path, ob->layout, &h, sp, ob->pathology) != MS_OK) {
            fprintf(stderr, "bench_simulate: %s\n", ms_error_message());
            return 1;
        }
    }
    double t_all = now() - t0, c_all = cpu() - c0;
    long ngz = 0;
    for (long o = 0; o < nobs; o++) ngz += pop.obs[o].gz;
    printf("bench_simulate: %ld spectra (%.0f%% gzip), setup %.2f s\n", nobs,
           100.0 * (double)ngz / (double)nobs, t_setup);
    printf("  synthesis only      : %8.3f ms/spectrum wall, %7.0f spectra/s/core "
           "(CPU time: %.0f spectra/s)\n",
           1e3 * t_syn / (double)nobs, (double)nobs / t_syn, (double)nobs / c_syn);
    printf("  synthesis + writing : %8.3f ms/spectrum wall, %7.0f spectra/s/core "
           "(CPU time: %.0f spectra/s)  into %s\n",
           1e3 * t_all / (double)nobs, (double)nobs / t_all, (double)nobs / c_all, dir);
    free(sp);
    ms_sim_population_free(&pop);
    ms_sim_workspace_free(ws);
    ms_sim_instrument_free(inst);
    ms_sim_model_free(m);
    return 0;
}
