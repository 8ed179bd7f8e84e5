/* main.c: the mstars executable: subcommand dispatch, common options, configuration. */
#include "cli.h"
#include "mstars/buildinfo.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OVERRIDES 128

static const ms_cli_opt common_opts[] = {
    {"config", "FILE", "configuration file (libconfig syntax; see config/example_full.cfg)", 0},
    {"set", "KEY=VALUE", "override one configuration key, e.g. preprocess.continuum_sigma=25 "
                         "(repeatable)", 0},
    {"log-level", "LEVEL", "debug, info, warn or error (overrides general.log_level)", 0},
    {"help", NULL, "show this help", 0},
    {NULL, NULL, NULL, 0},
};

static void print_usage_all(FILE *out)
{
    fprintf(out, "mstars %s: LAMOST M-dwarf survey processor (Zhang et al. 2025 method)\n\n",
            ms_version());
    fprintf(out, "usage: [mpirun -n N] mstars <command> [options]\n\ncommands:\n");
    for (const ms_cli_cmd *const *c = ms_cli_commands; *c; c++)
        fprintf(out, "  %-16s %s\n", (*c)->name, (*c)->summary);
    fprintf(out, "  %-16s %s\n", "help", "this list; `mstars help <command>` for one command");
    fprintf(out, "\n`mstars --version` prints the version and the build configuration.\n"
                 "`mstars <command> --help` lists the command's options.\n");
}

static void print_opts(FILE *out, const ms_cli_opt *opts)
{
    for (const ms_cli_opt *o = opts; o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", o->name, o->metavar ? " " : "",
                 o->metavar ? o->metavar : "");
        fprintf(out, "  %-26s %s%s\n", left, o->help, o->required ? " (required)" : "");
    }
}

static void print_usage_cmd(FILE *out, const ms_cli_cmd *cmd)
{
    fprintf(out, "usage: [mpirun -n N] mstars %s%s%s [options]\n\n%s\n\n%s\n\noptions:\n",
            cmd->name, cmd->positional_name ? " " : "",
            cmd->positional_name ? cmd->positional_name : "", cmd->summary, cmd->description);
    print_opts(out, cmd->opts);
    fprintf(out, "\ncommon options:\n");
    print_opts(out, common_opts);
}

static const ms_cli_cmd *find_cmd(const char *name)
{
    for (const ms_cli_cmd *const *c = ms_cli_commands; *c; c++)
        if (strcmp((*c)->name, name) == 0) return *c;
    return NULL;
}

static int find_opt(const ms_cli_opt *opts, const char *name)
{
    for (int i = 0; opts[i].name; i++)
        if (strcmp(opts[i].name, name) == 0) return i;
    return -1;
}

const char *ms_cli_get(const ms_cli_ctx *ctx, const char *name)
{
    int i = find_opt(ctx->cmd->opts, name);
    return i < 0 ? NULL : ctx->values[i];
}

int ms_cli_flag(const ms_cli_ctx *ctx, const char *name) { return ms_cli_get(ctx, name) != NULL; }

int ms_cli_number(const ms_cli_ctx *ctx, const char *name, double lo, double hi, double *out)
{
    const char *text = ms_cli_get(ctx, name);
    if (!text) return 1;
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !(v >= lo && v <= hi)) {
        if (ms_par_rank() == 0) {
            fprintf(stderr, "mstars %s: --%s '%s' is not a number", ctx->cmd->name, name, text);
            if (isfinite(lo) && isfinite(hi)) fprintf(stderr, " in %g..%g\n", lo, hi);
            else if (isfinite(lo)) fprintf(stderr, " >= %g\n", lo);
            else fprintf(stderr, "\n");
        }
        return 0;
    }
    *out = v;
    return 1;
}

int ms_cli_fail(const char *what)
{
    ms_log_error("%s: %s", what, ms_error_message());
    return 1;
}

typedef struct {
    const char *overrides[MAX_OVERRIDES];
    int n_overrides;
    const char *log_level;
    int help;
} common_values;

/* Parse argv[first..] into ctx and common; prints a one-line error and returns 2 on
 * a bad command line. */
static int parse_args(ms_cli_ctx *ctx, common_values *common, int argc, char **argv, int first)
{
    const ms_cli_cmd *cmd = ctx->cmd;
    int nopts = 0;
    while (cmd->opts[nopts].name) nopts++;
    if (nopts > MS_CLI_MAX_OPTS) {
        fprintf(stderr, "mstars %s: too many options declared\n", cmd->name);
        return 2;
    }
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (cmd->positional_name && !ctx->positional && arg[0] != '-') {
                ctx->positional = arg;
                continue;
            }
            fprintf(stderr, "mstars %s: unexpected argument '%s' (see mstars %s --help)\n",
                    cmd->name, arg, cmd->name);
            return 2;
        }
        char name[64];
        const char *eq = strchr(arg + 2, '=');
        size_t nlen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (nlen >= sizeof name) nlen = sizeof name - 1;
        memcpy(name, arg + 2, nlen);
        name[nlen] = '\0';
        int idx = find_opt(cmd->opts, name);
        const ms_cli_opt *o = idx >= 0 ? &cmd->opts[idx] : NULL;
        int cidx = idx < 0 ? find_opt(common_opts, name) : -1;
        if (!o && cidx >= 0) o = &common_opts[cidx];
        if (!o) {
            fprintf(stderr, "mstars %s: unknown option '--%s' (see mstars %s --help)\n",
                    cmd->name, name, cmd->name);
            return 2;
        }
        const char *value = NULL;
        if (o->metavar) {
            if (eq)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else {
                fprintf(stderr, "mstars %s: option '--%s' needs a value %s\n", cmd->name, name,
                        o->metavar);
                return 2;
            }
        } else if (eq) {
            fprintf(stderr, "mstars %s: option '--%s' takes no value\n", cmd->name, name);
            return 2;
        } else {
            value = "1";
        }
        if (idx >= 0) {
            ctx->values[idx] = value;
        } else if (strcmp(name, "config") == 0) {
            ctx->config_path = value;
        } else if (strcmp(name, "set") == 0) {
            if (common->n_overrides == MAX_OVERRIDES) {
                fprintf(stderr, "mstars %s: more than %d --set options\n", cmd->name,
                        MAX_OVERRIDES);
                return 2;
            }
            common->overrides[common->n_overrides++] = value;
        } else if (strcmp(name, "log-level") == 0) {
            if (ms_log_level_parse(value) < 0) {
                fprintf(stderr, "mstars %s: unknown log level '%s'\n", cmd->name, value);
                return 2;
            }
            common->log_level = value;
        } else {
            common->help = 1;
        }
    }
    if (common->help) return 0;
    for (int i = 0; i < nopts; i++)
        if (cmd->opts[i].required && !ctx->values[i]) {
            fprintf(stderr, "mstars %s: missing required option '--%s %s'\n", cmd->name,
                    cmd->opts[i].name, cmd->opts[i].metavar ? cmd->opts[i].metavar : "");
            return 2;
        }
    if (cmd->positional_name && !ctx->positional) {
        fprintf(stderr, "mstars %s: missing %s (see mstars %s --help)\n", cmd->name,
                cmd->positional_name, cmd->name);
        return 2;
    }
    return 0;
}

/* Rank 0 builds the configuration; every rank gets the same bytes. */
static ms_status build_config(ms_cli_ctx *ctx, const common_values *common)
{
    ms_status st = MS_OK;
    if (ms_par_rank() == 0) {
        st = ms_config_defaults(&ctx->cfg);
        if (st == MS_OK && ctx->config_path) st = ms_config_load_file(&ctx->cfg, ctx->config_path);
        for (int i = 0; st == MS_OK && i < common->n_overrides; i++)
            st = ms_config_set(&ctx->cfg, common->overrides[i]);
        if (st == MS_OK && common->log_level)
            snprintf(ctx->cfg.general.log_level, sizeof ctx->cfg.general.log_level, "%s",
                     common->log_level);
        if (st == MS_OK) st = ms_config_validate(&ctx->cfg);
    }
    st = ms_par_agree(st);
    if (st != MS_OK) return st;
    MS_TRY(ms_par_bcast(&ctx->cfg, sizeof ctx->cfg));
    ms_log_set_level((ms_log_level)ms_log_level_parse(ctx->cfg.general.log_level));
    return MS_OK;
}

int main(int argc, char **argv)
{
    ms_log_init();
    if (argc < 2) {
        print_usage_all(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        char desc[2048];
        ms_build_description(desc, sizeof desc);
        fputs(desc, stdout);
        return 0;
    }
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        if (argc > 2 && find_cmd(argv[2])) {
            print_usage_cmd(stdout, find_cmd(argv[2]));
            return 0;
        }
        if (argc > 2) {
            fprintf(stderr, "mstars: unknown command '%s' (see mstars help)\n", argv[2]);
            return 2;
        }
        print_usage_all(stdout);
        return 0;
    }
    const ms_cli_cmd *cmd = find_cmd(name);
    if (!cmd) {
        fprintf(stderr, "mstars: unknown command '%s' (see mstars help)\n", name);
        return 2;
    }
    ms_cli_ctx *ctx = calloc(1, sizeof *ctx);
    common_values common = {0};
    if (!ctx) {
        fprintf(stderr, "mstars: out of memory\n");
        return 1;
    }
    ctx->cmd = cmd;
    int rc = parse_args(ctx, &common, argc, argv, 2);
    if (rc != 0 || common.help) {
        if (common.help) print_usage_cmd(stdout, cmd);
        free(ctx);
        return rc;
    }
    if (cmd->needs_mpi && ms_par_init(&argc, &argv) != MS_OK) {
        fprintf(stderr, "mstars %s: %s\n", cmd->name, ms_error_message());
        free(ctx);
        return 1;
    }
    if (build_config(ctx, &common) != MS_OK) {
        if (ms_par_rank() == 0) fprintf(stderr, "mstars %s: %s\n", cmd->name, ms_error_message());
        ms_par_finalize();
        free(ctx);
        return 2;
    }
    rc = cmd->run(ctx);
    ms_log_debug("peak tracked memory %.1f MiB, peak RSS %.1f MiB",
                 (double)ms_mem_peak() / 1048576.0, (double)ms_mem_peak_rss() / 1048576.0);
    ms_par_finalize();
    free(ctx);
    return rc;
}
