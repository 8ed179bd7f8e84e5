/* slam_cli.h: the options shared by train-slam and cv-slam (private to src/cli). */
#ifndef MSTARS_SLAM_CLI_H
#define MSTARS_SLAM_CLI_H

#include "cli.h"
#include "mstars/slam.h"

/* The training-set and grid options, as ms_cli_opt rows (spliced into each command's table). */
#define MS_SLAM_CLI_TRAIN_OPTS                                                                    \
    {"spectra", "FILE", "the spectra store (mstars ingest) holding the training spectra", 1},     \
    {"labels", "CSV", "reference label table, joined to the store by obsid, key or position "     \
                      "(join.radius_arcsec; or --key file)", 1},                                  \
    {"label-cols", "LIST", "label columns of the table, 2-4 (default teff,logg,fe_h)", 0},         \
    {"key", "auto|file", "auto (default; obsid is the same): join by obsid, key (obsid or "       \
                         "LMJD-PLANID_spSS-FFF) or position; file: the table's file column "      \
                         "against the store's file names", 0},                                    \
    {"cuts", "LIST", "training cuts col:min:max,... on table columns, open bounds allowed (L21: "   \
                     "teff:2800:4500,e_teff::100,m_h:-2:0.5,e_m_h::0.1,logg:4:)", 0},              \
    {"min-snr", "X", "keep training spectra with store S/N (--snr-col) >= X (default 0)", 0},     \
    {"snr-col", "NAME", "store /meta S/N column for --min-snr and the S/N bins (default snr_i)", 0},\
    {"grid-c", "LIST", "C values (default 2^-5:2^5; also a,b,c)", 0},                              \
    {"grid-epsilon", "LIST", "epsilon values (default 0.01,0.05,0.1,0.15)", 0},                    \
    {"grid-gamma", "LIST", "gamma values, auto = 1/n_labels (default auto,0.2,0.25,0.3,0.5)", 0},  \
    {"cv-folds", "K", "folds of the per-pixel CV (default 8)", 0},                                 \
    {"search", "full|coordinate", "grid search: every point (default, the paper's) or one "        \
                                  "hyperparameter at a time from the centre (~1/6 of the fits)", 0}

/* Fill ts and g from the command line; 0 on success, 2 (usage error, printed) otherwise. */
int ms_slam_cli_train_opts(const ms_cli_ctx *ctx, const char *cmd, ms_slam_ts_opts *ts,
                           ms_slam_grid *g);
/* The command line as text (for provenance), from the given options. */
void ms_slam_cli_command(const ms_cli_ctx *ctx, const char *cmd, char *buf, size_t len);

#endif
