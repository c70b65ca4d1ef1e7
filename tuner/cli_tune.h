/*
 * cli_tune.h - the `fpx-tune tune` subcommand (see cli_tune.c).
 */
#ifndef FPX_TUNER_CLI_TUNE_H
#define FPX_TUNER_CLI_TUNE_H

#include <stdio.h>

/* Runs `fpx-tune tune`; argv[0] is "tune". Returns an exit code. */
int cli_tune_run(int argc, char **argv);
void cli_tune_usage(FILE *out);

#endif
