/* cmd_config.c: `mstars config`: print the effective configuration. */
#include "cli.h"

#include <stdio.h>

static const ms_cli_opt opts[] = {
    {"docs", NULL, "write each key's description and unit as a comment", 0},
    {NULL, NULL, NULL, 0},
};

static int run(ms_cli_ctx *ctx)
{
    if (ms_config_write(&ctx->cfg, stdout, ms_cli_flag(ctx, "docs")) != MS_OK)
        return ms_cli_fail("config");
    return 0;
}

const ms_cli_cmd ms_cmd_config = {
    "config", "print the effective configuration (defaults, --config file, --set overrides)",
    NULL,
    "Prints every configuration key with the value a run with the same options would use, in "
    "the libconfig syntax that --config reads. With --docs each key is preceded by its "
    "description and unit. Unknown or mistyped keys are rejected with their name.",
    opts, 0, run};
