/*
 * cli.h - declarations shared by the files of the fpx-tune command: the
 * subcommand table entry, exit codes, and small argument helpers.
 *
 * Each subcommand lives in its own tuner/cli_<name>.c and is listed once in
 * the table in fpx_tune.c; adding one means writing its run/usage pair and
 * adding a row there.
 */
#ifndef FPX_TUNER_CLI_H
#define FPX_TUNER_CLI_H

#include <stdio.h>

#include "fpx.h"

/* Exit codes of fpx-tune (documented in its --help and in README.md). */
enum {
  CLI_EXIT_OK = 0,      /* success */
  CLI_EXIT_FAILURE = 1, /* the request was valid but failed while running */
  CLI_EXIT_USAGE = 2,   /* bad arguments: unknown command or option, missing
                           or bad value (including a value the format cannot
                           represent, such as NaN for a format without NaN) */
};

typedef struct cli_command {
  const char *name;    /* as typed: "formats" */
  const char *summary; /* one line for the top-level help */
  /* Runs the subcommand; argv[0] is the subcommand name. Returns an exit code. */
  int (*run)(int argc, char **argv);
  /* Prints the subcommand's usage. */
  void (*usage)(FILE *out);
} cli_command;

/* Program name for messages ("fpx-tune"). */
extern const char *cli_program;

/* Prints "fpx-tune: <message>\n" on stderr; returns CLI_EXIT_USAGE, so that a
 * caller can write `return cli_usage_error(...)`. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "fpx-tune: <message>\n" on stderr; returns CLI_EXIT_FAILURE. */
int cli_failure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* 1 if arg is "-h" or "--help". */
int cli_is_help(const char *arg);
/* Parses a format name; on failure prints the library's message (which names
 * the input) and returns CLI_EXIT_USAGE, else CLI_EXIT_OK. */
int cli_parse_format(const char *name, fpx_format *out_format);

/* Subcommands (tuner/cli_format.c). */
int cli_formats_run(int argc, char **argv);
void cli_formats_usage(FILE *out);
int cli_format_run(int argc, char **argv);
void cli_format_usage(FILE *out);
int cli_encode_run(int argc, char **argv);
void cli_encode_usage(FILE *out);

#endif
