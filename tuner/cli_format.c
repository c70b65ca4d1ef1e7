/*
 * cli_format.c - the subcommands of fpx-tune that inspect number formats:
 *   formats            table of every supported format
 *   format FMT         one format's properties (key: value lines)
 *   format FMT --table one line per code: 0xHH<TAB>value
 *   encode FMT -- X... the code of each value, one per line
 * They need no GPU: everything comes from the library's format traits.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The short names fpx_format_parse accepts besides eXmY. */
static const char *const aliases[] = {"fp4", "fp5", "fp6", "fp8"};
static const size_t alias_count = sizeof aliases / sizeof aliases[0];

/* Prints a value as the tables do: %.9g, and nan / inf / -inf spelled out
 * (never "-nan"). */
static void print_value(FILE *out, double v) {
  if (isnan(v)) fputs("nan", out);
  else if (isinf(v)) fputs(v < 0 ? "-inf" : "inf", out);
  else fprintf(out, "%.9g", v);
}

static const char *yes_no(int flag) { return flag ? "yes" : "no"; }

/* Comma-separated aliases of a format into buf ("" if none). */
static void alias_list(fpx_format f, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < alias_count; i++) {
    fpx_format a;
    if (fpx_format_parse(aliases[i], &a) != FPX_OK) continue;
    if (a.exp_bits != f.exp_bits || a.man_bits != f.man_bits) continue;
    int n = snprintf(buf + used, size - used, "%s%s", used ? "," : "", aliases[i]);
    if (n < 0 || (size_t)n >= size - used) break;
    used += (size_t)n;
  }
}

/* ---- formats ------------------------------------------------------------ */

void cli_formats_usage(FILE *out) {
  fprintf(out,
          "usage: %s formats\n"
          "\n"
          "Prints a table of every supported eXmY format: name, total bits,\n"
          "exponent bias, largest finite value, smallest normal and subnormal\n"
          "values, and whether it has Inf and NaN; then the format aliases.\n",
          cli_program);
}

int cli_formats_run(int argc, char **argv) {
  if (argc > 1) return cli_usage_error("formats: unexpected argument '%s'", argv[1]);
  printf("%-6s %4s %5s %14s %14s %16s %4s %4s\n", "name", "bits", "bias", "max_finite",
         "min_normal", "min_subnormal", "inf", "nan");
  for (size_t i = 0; i < fpx_format_count(); i++) {
    fpx_format_info info;
    if (fpx_format_get_info(fpx_format_at(i), &info) != FPX_OK)
      return cli_failure("formats: %s", fpx_last_error());
    printf("%-6s %4d %5d %14.9g %14.9g %16.9g %4s %4s\n", info.name, info.bits, info.bias,
           info.max_finite, info.min_normal, info.min_subnormal, yes_no(info.has_inf),
           yes_no(info.has_nan));
  }
  printf("\naliases:\n");
  for (size_t i = 0; i < alias_count; i++) {
    fpx_format f;
    fpx_format_info info;
    if (fpx_format_parse(aliases[i], &f) != FPX_OK || fpx_format_get_info(f, &info) != FPX_OK)
      return cli_failure("formats: %s", fpx_last_error());
    printf("  %s=%s\n", aliases[i], info.name);
  }
  return CLI_EXIT_OK;
}

/* ---- format ------------------------------------------------------------- */

void cli_format_usage(FILE *out) {
  fprintf(out,
          "usage: %s format FMT [--table]\n"
          "\n"
          "Prints the properties of format FMT (eXmY such as e3m2, an alias\n"
          "fp4/fp5/fp6/fp8, or fpB_eXmY) as 'key: value' lines. With --table,\n"
          "prints one line per code instead: 0xHH, a tab, and the value the\n"
          "code decodes to (%%.9g, or nan, inf, -inf).\n",
          cli_program);
}

static int print_table(fpx_format f, const fpx_format_info *info) {
  for (int code = 0; code < info->num_codes; code++) {
    double v;
    if (fpx_decode_value(f, (unsigned)code, &v) != FPX_OK)
      return cli_failure("format: %s", fpx_last_error());
    printf("0x%02x\t", code);
    print_value(stdout, v);
    putchar('\n');
  }
  return CLI_EXIT_OK;
}

static void print_properties(const fpx_format_info *info) {
  char names[64];
  alias_list(info->format, names, sizeof names);
  printf("name: %s\n", info->name);
  printf("aliases: %s\n", names[0] ? names : "none");
  printf("bits: %d\n", info->bits);
  printf("exponent_bits: %d\n", info->format.exp_bits);
  printf("mantissa_bits: %d\n", info->format.man_bits);
  printf("bias: %d\n", info->bias);
  printf("max_finite: %.9g\n", info->max_finite);
  printf("min_normal: %.9g\n", info->min_normal);
  printf("min_subnormal: %.9g\n", info->min_subnormal);
  printf("has_inf: %s\n", yes_no(info->has_inf));
  printf("has_nan: %s\n", yes_no(info->has_nan));
  printf("codes: %d\n", info->num_codes);
}

int cli_format_run(int argc, char **argv) {
  const char *name = NULL;
  int table = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--table") == 0) table = 1;
    else if (argv[i][0] == '-') return cli_usage_error("format: unknown option '%s'", argv[i]);
    else if (name != NULL) return cli_usage_error("format: unexpected argument '%s'", argv[i]);
    else name = argv[i];
  }
  if (name == NULL) return cli_usage_error("format: missing format name (try format --help)");
  fpx_format f;
  fpx_format_info info;
  int rc = cli_parse_format(name, &f);
  if (rc != CLI_EXIT_OK) return rc;
  if (fpx_format_get_info(f, &info) != FPX_OK) return cli_failure("format: %s", fpx_last_error());
  if (table) return print_table(f, &info);
  print_properties(&info);
  return CLI_EXIT_OK;
}

/* ---- encode ------------------------------------------------------------- */

void cli_encode_usage(FILE *out) {
  fprintf(out,
          "usage: %s encode FMT [--] X...\n"
          "\n"
          "Encodes each number X into format FMT and prints its code as 0xHH,\n"
          "one per line, in the order given. Rounding is to nearest with ties\n"
          "to the even code; values beyond the largest finite value saturate\n"
          "to it (e5m2 keeps +-inf). X is parsed by strtod: decimal, hex\n"
          "floats, inf and nan are accepted; put -- before negative numbers.\n"
          "A value that is not a number, or NaN for a format without NaN, is a\n"
          "bad argument (exit status 2); nothing is printed then.\n",
          cli_program);
}

/* Parses one whole argument as a double; 1 on success. Overflow and
 * underflow are accepted (strtod's result is the correctly rounded one). */
static int parse_number(const char *s, double *out) {
  char *end;
  errno = 0;
  *out = strtod(s, &end);
  return end != s && *end == '\0';
}

int cli_encode_run(int argc, char **argv) {
  const char *name = NULL;
  int after_dashes = 0, rc = CLI_EXIT_OK;
  size_t count = 0;
  /* argv[i] of each value; at most argc - 1 of them */
  const char **values = calloc((size_t)argc, sizeof *values);
  uint8_t *codes = calloc((size_t)argc, 1);
  fpx_format f;
  if (values == NULL || codes == NULL) {
    rc = cli_failure("encode: out of memory");
    goto done;
  }
  for (int i = 1; i < argc; i++) {
    double ignored;
    if (!after_dashes && strcmp(argv[i], "--") == 0) {
      after_dashes = 1;
    } else if (!after_dashes && argv[i][0] == '-' && !parse_number(argv[i], &ignored)) {
      rc = cli_usage_error("encode: unknown option '%s'", argv[i]);
      goto done;
    } else if (name == NULL && !after_dashes) {
      name = argv[i];
    } else {
      values[count++] = argv[i];
    }
  }
  if (name == NULL) {
    rc = cli_usage_error("encode: missing format name (try encode --help)");
    goto done;
  }
  if ((rc = cli_parse_format(name, &f)) != CLI_EXIT_OK) goto done;
  if (count == 0) {
    rc = cli_usage_error("encode: no values to encode");
    goto done;
  }
  /* Encode every value before printing, so that a bad one prints nothing. */
  for (size_t i = 0; i < count; i++) {
    double v;
    if (!parse_number(values[i], &v)) {
      rc = cli_usage_error("encode: '%s' is not a number", values[i]);
      goto done;
    }
    fpx_status st = fpx_encode_value(f, v, &codes[i]);
    if (st == FPX_ERR_NON_FINITE) {
      rc = cli_usage_error("encode: value '%s': %s", values[i], fpx_last_error());
      goto done;
    }
    if (st != FPX_OK) {
      rc = cli_failure("encode: value '%s': %s", values[i], fpx_last_error());
      goto done;
    }
  }
  for (size_t i = 0; i < count; i++) printf("0x%02x\n", codes[i]);
done:
  free(values);
  free(codes);
  return rc;
}
