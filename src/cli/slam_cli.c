/* slam_cli.c: the options shared by train-slam and cv-slam (slam_cli.h). */
#include "slam_cli.h"

#include "mstars/log.h"
#include "mstars/par.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(const char *cmd)
{
    if (ms_par_rank() == 0) fprintf(stderr, "mstars %s: %s\n", cmd, ms_error_message());
    return 2;
}

int ms_slam_cli_train_opts(const ms_cli_ctx *ctx, const char *cmd, ms_slam_ts_opts *ts,
                           ms_slam_grid *g)
{
    memset(ts, 0, sizeof *ts);
    ts->store = ms_cli_get(ctx, "spectra");
    ts->labels = ms_cli_get(ctx, "labels");
    ts->label_cols = ms_cli_get(ctx, "label-cols");
    ts->key = ms_cli_get(ctx, "key");
    ts->cuts = ms_cli_get(ctx, "cuts");
    ts->snr_col = ms_cli_get(ctx, "snr-col");
    ts->radius = ctx->cfg.join.radius_arcsec;
    const char *v = ms_cli_get(ctx, "min-snr");
    if (v) {
        char *end;
        ts->min_snr = strtod(v, &end);
        if (end == v || *end) {
            ms_error_set(MS_EINVAL, __FILE__, __LINE__, "--min-snr '%s' is not a number", v);
            return usage(cmd);
        }
    }
    ms_slam_grid_default(g);
    g->seed = (uint64_t)ctx->cfg.general.seed;
    if ((v = ms_cli_get(ctx, "grid-c")) && ms_slam_parse_list("--grid-c", v, g->c, MS_SLAM_MAX_GRID, &g->n_c))
        return usage(cmd);
    if ((v = ms_cli_get(ctx, "grid-epsilon")) &&
        ms_slam_parse_list("--grid-epsilon", v, g->eps, MS_SLAM_MAX_GRID, &g->n_eps))
        return usage(cmd);
    if ((v = ms_cli_get(ctx, "grid-gamma")) &&
        ms_slam_parse_list("--grid-gamma", v, g->gamma, MS_SLAM_MAX_GRID, &g->n_gamma))
        return usage(cmd);
    if ((v = ms_cli_get(ctx, "cv-folds"))) {
        char *end;
        long k = strtol(v, &end, 10);
        if (end == v || *end || k < 2 || k > 1000) {
            ms_error_set(MS_EINVAL, __FILE__, __LINE__, "--cv-folds '%s' is not 2..1000", v);
            return usage(cmd);
        }
        g->folds = (int)k;
    }
    if ((v = ms_cli_get(ctx, "search"))) {
        if (strcmp(v, "full") == 0) g->search = MS_SLAM_SEARCH_FULL;
        else if (strcmp(v, "coordinate") == 0) g->search = MS_SLAM_SEARCH_COORD;
        else {
            ms_error_set(MS_EINVAL, __FILE__, __LINE__, "--search '%s': full or coordinate", v);
            return usage(cmd);
        }
    }
    return 0;
}

void ms_slam_cli_command(const ms_cli_ctx *ctx, const char *cmd, char *buf, size_t len)
{
    size_t k = (size_t)snprintf(buf, len, "mstars %s", cmd);
    for (int i = 0; ctx->cmd->opts[i].name && k < len; i++) {
        const char *v = ctx->values[i];
        if (!v) continue;
        if (ctx->cmd->opts[i].metavar)
            k += (size_t)snprintf(buf + k, len - k, " --%s %s", ctx->cmd->opts[i].name, v);
        else
            k += (size_t)snprintf(buf + k, len - k, " --%s", ctx->cmd->opts[i].name);
    }
    if (ctx->config_path && k < len) snprintf(buf + k, len - k, " --config %s", ctx->config_path);
}
