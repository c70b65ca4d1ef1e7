/*
 * cli_latency.h - the `fpx-tune latency` subcommand (see cli_latency.c).
 */
#ifndef FPX_TUNER_CLI_LATENCY_H
#define FPX_TUNER_CLI_LATENCY_H

#include <stdio.h>

/* Runs `fpx-tune latency`; argv[0] is "latency". Returns an exit code. */
int cli_latency_run(int argc, char **argv);
void cli_latency_usage(FILE *out);

#endif
