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

/* --family: which kernel family the options describe. */
typedef enum cli_family {
  CLI_FAMILY_DEFAULT = 0,     /* not given: weight-only unless --act is FP8 */
  CLI_FAMILY_WEIGHT_ONLY = 1, /* --family weight-only: f16/bf16 activations */
  CLI_FAMILY_W8A8 = 2,        /* --family w8a8: --format e4m3 --act e4m3 */
} cli_family;

typedef struct cli_problem {
  const char *cmd; /* "bench", "tune": prefixes messages */
  /* Set by the command before parsing: 1 if it runs FP8 activations
   * (--act e4m3|e5m2, --family w8a8); otherwise those are usage errors. */
  int fp8_ok;
  fpx_format formats[CLI_MAX_FORMATS];
  size_t format_count;
  fpx_dtype act; /* f16 or bf16, or e4m3 / e5m2 (FP8 X, per-row scales) */
  int act_given;
  cli_family family;
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
/* Handles argv[*i] when it is one of --format LIST, --act, --family, --group,
 * --model, --shape N,K, --m LIST, --device (setting *handled); returns an
 * exit code. */
int cli_problem_option(int argc, char **argv, int *i, cli_problem *o, int *handled);
/* Adds the four layer shapes of a llama3 model (llama3-8b, -70b, -405b). */
int cli_problem_add_model(const char *name, cli_problem *o);
int cli_problem_add_shape(cli_problem *o, const char *name, size_t n, size_t k);
/* Fills defaults (e3m2, or e4m3 for --family w8a8; the default model, the
 * default M list) and checks the combinations: --family against --format
 * and --act, format/dtype pairs (a format runs with FP8 activations when
 * E <= 4 and M <= 3, or it is e5m2), K % 16 == 0 with FP8
 * activations. Prints the usage error and returns CLI_EXIT_USAGE. */
int cli_problem_finish(cli_problem *o, const char *default_model, const size_t *default_ms,
                       size_t default_m_count);

/* 1 for the FP8 activation dtypes (e4m3, e5m2). */
int cli_act_is_fp8(fpx_dtype act);
/* The output dtype of a problem: the activation dtype for f16/bf16, bf16
 * for FP8 activations (also the dtype of the dense cuBLAS baseline). */
fpx_dtype cli_problem_out_dtype(const cli_problem *o);

#endif
