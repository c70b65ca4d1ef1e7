/*
 * cli_problem.h - options shared by the GPU subcommands of fpx-tune (see
 * cli_problem.c).
 */
#ifndef FPX_TUNER_CLI_PROBLEM_H
#define FPX_TUNER_CLI_PROBLEM_H

#include <stddef.h>

#include "cli.h"
#include "fpx.h"

enum { CLI_MAX_FORMATS = 16, CLI_MAX_SHAPES = 64, CLI_MAX_MS = 32 };

typedef struct cli_shape {
  char name[40]; /* "70b.gate_up", or "custom" */
  size_t n, k;
} cli_shape;

typedef struct cli_problem {
  const char *cmd; /* "bench", "tune": prefixes messages */
  fpx_format formats[CLI_MAX_FORMATS];
  size_t format_count;
  fpx_dtype act; /* f16 or bf16 */
  int group;
  int device;
  cli_shape shapes[CLI_MAX_SHAPES];
  size_t shape_count;
  size_t ms[CLI_MAX_MS];
  size_t m_count;
} cli_problem;

/* The value of option argv[*i] ("--opt VALUE" or "--opt=VALUE"), or NULL if
 * argv[*i] is not `opt`. Sets *missing when the value is absent. */
const char *cli_option_value(int argc, char **argv, int *i, const char *opt, int *missing);
/* Parses a whole decimal number in [lo, hi]; 1 on success. */
int cli_parse_size(const char *s, size_t lo, size_t hi, size_t *out);
/* Parses an int that must be one of `allowed` (count entries) or in
 * [allowed[0], allowed[1]] when count is 0; prints a usage error naming
 * cmd and opt otherwise. */
int cli_parse_choice(const char *cmd, const char *opt, const char *s, const int *allowed,
                     size_t count, int *out);
/* Handles argv[*i] when it is one of --format LIST, --act, --group, --model,
 * --shape N,K, --m LIST, --device (setting *handled); returns an exit code. */
int cli_problem_option(int argc, char **argv, int *i, cli_problem *o, int *handled);
/* Adds the four layer shapes of a llama3 model (llama3-8b, -70b, -405b). */
int cli_problem_add_model(const char *name, cli_problem *o);
int cli_problem_add_shape(cli_problem *o, const char *name, size_t n, size_t k);
/* Fills defaults (e3m2, the default model, the default M list) and checks
 * the format/dtype pairs. */
int cli_problem_finish(cli_problem *o, const char *default_model, const size_t *default_ms,
                       size_t default_m_count);

#endif
