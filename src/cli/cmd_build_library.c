/* cmd_build_library.c: `mstars build-library`: Du et al. 2025's golden-sample curation
 * (stage_laspm.h). */
#include "cli.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/stage_laspm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CAT 8

static const ms_cli_opt opts[] = {
    {"spectra", "FILE", "the spectra store (mstars ingest) holding the candidate spectra", 1},
    {"labels", "NAME=CSV,...", "label tables in priority order (first wins): CSV with obsid, "
                               "key or ra+dec, and teff, logg and m_h (or fe_h)", 1},
    {"reference", "CSV", "the reference catalogue: offsets of every table and the agreement "
                         "cuts (Du: StarHorse); none: no offsets, no cuts", 0},
    {"out", "FILE", "the library to write (HDF5)", 1},
    {"view", "calibrated|normalised", "library spectra: store flux x continuum (default) or the "
                                      "continuum-normalised flux", 0},
    {"cuts", "DT,DG,DM", "agreement cuts against the reference (default 100,0.2,0.2)", 0},
    {"eps", "X", "DBSCAN radius in the noise-weighted RMS distance (default 1.0)", 0},
    {"per-bin", "N", "at most N spectra per bin (default 7)", 0},
    {"no-dbscan", NULL, "keep every labelled spectrum that passed the cuts (no bins, no "
                        "DBSCAN): a library of all of them", 0},
    {"no-nn-check", NULL, "skip Du 3.5's neural-network check", 0},
    {"nn-steps", "N", "minibatch steps of each NN training (default 2000)", 0},
    {"nn-rounds", "N", "NN trainings, each on a new random split (default 5)", 0},
    {NULL, NULL, NULL, 0},
};

static int run(ms_cli_ctx *ctx)
{
    ms_build_library_opts o;
    memset(&o, 0, sizeof o);
    ms_laspm_opts_default(&o.match);
    o.spectra = ms_cli_get(ctx, "spectra");
    o.reference = ms_cli_get(ctx, "reference");
    o.out = ms_cli_get(ctx, "out");
    o.view = ms_cli_get(ctx, "view") ? ms_cli_get(ctx, "view") : "calibrated";
    if (strcmp(o.view, "calibrated") != 0 && strcmp(o.view, "normalised") != 0) {
        fprintf(stderr, "mstars build-library: --view '%s' is neither calibrated nor normalised\n", o.view);
        return 2;
    }
    const double cut[3] = {100.0, 0.2, 0.2}, bin[3] = {50.0, 0.1, 0.1};
    memcpy(o.cut, cut, sizeof cut);
    memcpy(o.bin, bin, sizeof bin);
    o.bin_keep = 150;
    o.per_bin = 7;
    o.eps = 1.0;
    o.no_dbscan = ms_cli_flag(ctx, "no-dbscan");
    ms_laspm_nn_opts_default(&o.nn);
    memcpy(o.nn.cut, o.cut, sizeof o.nn.cut);
    if (ms_cli_flag(ctx, "no-nn-check")) o.nn.rounds = 0;
    const char *t;
    if ((t = ms_cli_get(ctx, "cuts")) &&
        sscanf(t, "%lf,%lf,%lf", &o.cut[0], &o.cut[1], &o.cut[2]) != 3) {
        fprintf(stderr, "mstars build-library: --cuts '%s' is not DT,DG,DM\n", t);
        return 2;
    }
    if ((t = ms_cli_get(ctx, "eps")) && (sscanf(t, "%lf", &o.eps) != 1 || !(o.eps > 0))) {
        fprintf(stderr, "mstars build-library: --eps '%s' is not a positive number\n", t);
        return 2;
    }
    if ((t = ms_cli_get(ctx, "per-bin"))) {
        long v = strtol(t, NULL, 10);
        if (v < 1) {
            fprintf(stderr, "mstars build-library: --per-bin '%s' is not a positive count\n", t);
            return 2;
        }
        o.per_bin = (size_t)v;
    }
    if ((t = ms_cli_get(ctx, "nn-steps"))) {
        long v = strtol(t, NULL, 10);
        if (v < 1) {
            fprintf(stderr, "mstars build-library: --nn-steps '%s' is not a positive count\n", t);
            return 2;
        }
        o.nn.steps = (size_t)v;
    }
    if ((t = ms_cli_get(ctx, "nn-rounds")) && !ms_cli_flag(ctx, "no-nn-check")) {
        long v = strtol(t, NULL, 10);
        if (v < 0 || v > MS_LASPM_NN_MAX_ROUNDS) {
            fprintf(stderr, "mstars build-library: --nn-rounds '%s' must be 0-%d\n", t,
                    MS_LASPM_NN_MAX_ROUNDS);
            return 2;
        }
        o.nn.rounds = (size_t)v;
    }
    /* NAME=CSV,NAME=CSV (a bare CSV is named by its file name) */
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", ms_cli_get(ctx, "labels"));
    const char *paths[MAX_CAT], *names[MAX_CAT];
    size_t nc = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (nc == MAX_CAT) {
            fprintf(stderr, "mstars build-library: at most %d label tables\n", MAX_CAT);
            return 2;
        }
        char *eq = strchr(tok, '=');
        if (eq) {
            *eq = '\0';
            names[nc] = tok;
            paths[nc] = eq + 1;
        } else {
            const char *slash = strrchr(tok, '/');
            names[nc] = slash ? slash + 1 : tok;
            paths[nc] = tok;
        }
        nc++;
    }
    o.catalogues = paths;
    o.names = names;
    o.n_catalogues = nc;
    char command[8192];
    snprintf(command, sizeof command, "mstars build-library --spectra %s --labels %s%s%s --out %s "
             "--view %s --cuts %g,%g,%g --eps %g --per-bin %zu%s --nn-rounds %zu --nn-steps %zu", o.spectra,
             ms_cli_get(ctx, "labels"), o.reference ? " --reference " : "",
             o.reference ? o.reference : "", o.out, o.view, o.cut[0], o.cut[1], o.cut[2], o.eps,
             o.per_bin, o.no_dbscan ? " --no-dbscan" : "", o.nn.rounds, o.nn.steps);
    o.command = command;
    if (ms_stage_build_library(&ctx->cfg, &o) != MS_OK) return ms_cli_fail("build-library");
    return 0;
}

const ms_cli_cmd ms_cmd_build_library = {
    "build-library", "curate an empirical library from labelled spectra (Du et al. 2025)", NULL,
    "Du et al. 2025 3.2-3.5: the labelled spectra of a store (label tables joined by obsid, key or position, in "
    "priority order); each table shifted onto the reference catalogue by the mean of the "
    "Gaussian core of its differences (3-sigma clipping); spectra whose adopted labels differ "
    "from the reference by more than the cuts are dropped; bins of 50 K x 0.1 x 0.1 dex keep "
    "their 150 highest-S/N spectra; DBSCAN per bin (eps 1.0 in the RMS of the normalised "
    "spectra's difference over the joint noise, minPts 2-5 by the bin's count) keeps the "
    "largest cluster, at most 7 per bin by S/N; single-spectrum bins are kept (Du inspected "
    "them by hand). Then Du 3.5's neural-network check (5 trainings of a 1-A-pixel "
    "6000-8800 A -> 512 -> 64 -> 3 network on random 80/20 splits, test entries beyond the "
    "cuts removed) and a leave-one-out cross-validation of the library with the matcher of "
    "`mstars laspm`. The library file records every step's count (/curation).",
    opts, 0, run};
