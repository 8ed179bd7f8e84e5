/* cli.h: subcommand framework of the mstars executable (private to src/cli).
 *
 * Every subcommand declares its options as a table; the framework adds the common ones
 * (--config, --set, --log-level, --help), parses the command line, loads and broadcasts
 * the configuration, and rejects unknown options with a one-line error. */
#ifndef MSTARS_CLI_H
#define MSTARS_CLI_H

#include "mstars/config.h"
#include "mstars/status.h"

#define MS_CLI_MAX_OPTS 32

typedef struct {
    const char *name;    /* long name without dashes, e.g. "out" */
    const char *metavar; /* value placeholder, e.g. "FILE"; NULL for a flag */
    const char *help;
    int required;
} ms_cli_opt;

typedef struct ms_cli_cmd ms_cli_cmd;

/* What a command's run function receives. */
typedef struct {
    const ms_cli_cmd *cmd;
    ms_config cfg;              /* effective configuration (same on every rank) */
    const char *config_path;    /* NULL when only defaults and overrides */
    const char *values[MS_CLI_MAX_OPTS]; /* by option index; flags: "1" or NULL */
    const char *positional;     /* the one positional argument, when the command takes it */
} ms_cli_ctx;

struct ms_cli_cmd {
    const char *name;
    const char *summary;         /* one line for `mstars help` */
    const char *positional_name; /* e.g. "CATALOG"; NULL when the command takes none */
    const char *description;     /* paragraph for `mstars <cmd> --help` */
    const ms_cli_opt *opts;      /* terminated by {NULL} */
    int needs_mpi;
    int (*run)(ms_cli_ctx *ctx); /* returns the process exit code */
};

/* Value of option `name` (NULL when not given). */
const char *ms_cli_get(const ms_cli_ctx *ctx, const char *name);
/* Flag given? */
int ms_cli_flag(const ms_cli_ctx *ctx, const char *name);

/* Numeric option `name`: when given, *out = its value if it is a number in [lo, hi] (else a
 * one-line error on rank 0 naming the command and option, and 0 is returned); when absent,
 * *out is left as it is. Returns 1 otherwise. */
int ms_cli_number(const ms_cli_ctx *ctx, const char *name, double lo, double hi, double *out);

/* Registered commands, terminated by {NULL}. */
extern const ms_cli_cmd *const ms_cli_commands[];

/* Log the current error message and return exit code 1 (for command bodies). */
int ms_cli_fail(const char *what);

#endif
