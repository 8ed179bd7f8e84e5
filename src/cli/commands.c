/* commands.c: the registered subcommands, in the order of the pipeline. */
#include "cli.h"

extern const ms_cli_cmd ms_cmd_simulate;
extern const ms_cli_cmd ms_cmd_ingest;
extern const ms_cli_cmd ms_cmd_ingest_grid;
extern const ms_cli_cmd ms_cmd_train_emulator;
extern const ms_cli_cmd ms_cmd_emulate;
extern const ms_cli_cmd ms_cmd_train_csn;
extern const ms_cli_cmd ms_cmd_rv;
extern const ms_cli_cmd ms_cmd_lumclass;
extern const ms_cli_cmd ms_cmd_fit;
extern const ms_cli_cmd ms_cmd_train_slam;
extern const ms_cli_cmd ms_cmd_fit_slam;
extern const ms_cli_cmd ms_cmd_cv_slam;
extern const ms_cli_cmd ms_cmd_build_library;
extern const ms_cli_cmd ms_cmd_laspm;
extern const ms_cli_cmd ms_cmd_precision;
extern const ms_cli_cmd ms_cmd_train_cnn;
extern const ms_cli_cmd ms_cmd_predict_cnn;
extern const ms_cli_cmd ms_cmd_train_classifier;
extern const ms_cli_cmd ms_cmd_cnn_classify;
extern const ms_cli_cmd ms_cmd_calibrate_errors;
extern const ms_cli_cmd ms_cmd_combine;
extern const ms_cli_cmd ms_cmd_export;
extern const ms_cli_cmd ms_cmd_report;
extern const ms_cli_cmd ms_cmd_config;

const ms_cli_cmd *const ms_cli_commands[] = {
    &ms_cmd_simulate,
    &ms_cmd_ingest,
    &ms_cmd_ingest_grid,
    &ms_cmd_train_emulator,
    &ms_cmd_emulate,
    &ms_cmd_train_csn,
    &ms_cmd_rv,
    &ms_cmd_fit,
    &ms_cmd_train_slam,
    &ms_cmd_fit_slam,
    &ms_cmd_cv_slam,
    &ms_cmd_build_library,
    &ms_cmd_laspm,
    &ms_cmd_precision,
    &ms_cmd_train_cnn,
    &ms_cmd_predict_cnn,
    &ms_cmd_train_classifier,
    &ms_cmd_cnn_classify,
    &ms_cmd_lumclass,
    &ms_cmd_calibrate_errors,
    &ms_cmd_combine,
    &ms_cmd_export,
    &ms_cmd_report,
    &ms_cmd_config,
    NULL,
};
