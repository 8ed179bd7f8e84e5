/* cmd_export.c: `mstars export CATALOG.h5 --format fits|csv --out FILE`. */
#include "cli.h"
#include "mstars/export.h"
#include "mstars/log.h"

#include <stdio.h>

static const ms_cli_opt opts[] = {
    {"format", "fits|csv", "output format: FITS binary table or CSV", 1},
    {"out", "FILE", "the file to write", 1},
    {"force", NULL, "overwrite FILE when it exists", 0},
    {"names", "hdf5|lamost", "column names: the catalog's (default) or LAMOST / APOGEE style "
                             "(e_teff -> teff_err, snr_r -> snrr, source_id -> gaia_source_id)", 0},
    {NULL, NULL, NULL, 0},
};

static int run(ms_cli_ctx *ctx)
{
    ms_export_opts o = {0, ms_cli_flag(ctx, "force"), 0, NULL, MS_EXPORT_NAMES_HDF5};
    /* a format or naming it does not know is a bad command line: exit 2 */
    if (ms_export_format_parse(ms_cli_get(ctx, "format"), &o.format) != MS_OK) {
        fprintf(stderr, "mstars export: %s (VOTable: export fits; TOPCAT and astropy read it, "
                        "and convert it with one command)\n", ms_error_message());
        return 2;
    }
    if (ms_cli_get(ctx, "names") &&
        ms_export_names_parse(ms_cli_get(ctx, "names"), &o.names) != MS_OK) {
        fprintf(stderr, "mstars export: %s\n", ms_error_message());
        return 2;
    }
    const char *out = ms_cli_get(ctx, "out");
    size_t rows = 0, cols = 0;
    if (ms_export_catalog(ctx->positional, out, &o, &rows, &cols) != MS_OK)
        return ms_cli_fail("export");
    ms_log0_info("export: wrote %zu rows x %zu columns to %s", rows, cols, out);
    return 0;
}

const ms_cli_cmd ms_cmd_export = {
    "export", "write a catalog (HDF5) as a FITS binary table or CSV", "CATALOG",
    "Writes every 1-D dataset of the catalog's /catalog group as a column of a FITS binary "
    "table (units in TUNITn, descriptions as TTYPEn comments, the catalog's provenance "
    "attributes as header keywords) or of a CSV file (header line of column names; NaN as an "
    "empty field; strings quoted when needed). The catalog is streamed in blocks of 65536 "
    "rows. An unfinished catalog is refused; an existing output is refused unless --force. "
    "The output is written under FILE.partial and renamed when complete. Conventions (nulls: "
    "NaN for floats, -1 for signed integers with TNULLn; bit names in TFLAGn; full "
    "descriptions in TCOMMn; obsid as int64; shortest round-trip floats in CSV) are in "
    "README.md, 'What you can rely on'.",
    opts, 0, run};
