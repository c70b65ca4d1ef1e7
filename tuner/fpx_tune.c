/*
 * fpx_tune.c - main() of the fpx-tune command: top-level options and the
 * table-driven dispatch to subcommands, plus the message helpers in cli.h.
 *
 * Exit codes: 0 success, 1 failure while running, 2 bad arguments.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_bench.h"
#include "cli_bench_quant.h"
#include "cli_db.h"
#include "cli_latency.h"
#include "cli_tune.h"

const char *cli_program = "fpx-tune";

/* Every subcommand, in the order the help lists them. */
static const cli_command commands[] = {
    {"formats", "list every supported eXmY format and its limits", cli_formats_run,
     cli_formats_usage},
    {"format", "show one format's properties, or its table of codes", cli_format_run,
     cli_format_usage},
    {"encode", "encode numbers into a format's codes", cli_encode_run, cli_encode_usage},
    {"bench", "time fpx_gemm against cuBLAS on the GPU", fpx__cli_bench, fpx__cli_bench_usage},
    {"bench-quant", "time the GPU FP8 activation quantizer against copy bandwidth", fpx__cli_bench_quant,
     fpx__cli_bench_quant_usage},
    {"list", "one line per tuned winner in the database", fpx__cli_list, fpx__cli_list_usage},
    {"show", "every column of the tuned winners matching filters", fpx__cli_show,
     fpx__cli_show_usage},
    {"export", "write the database's winners as tuning JSON", fpx__cli_export,
     fpx__cli_export_usage},
    {"import", "add the winners of a tuning JSON file", fpx__cli_import, fpx__cli_import_usage},
    {"merge", "add the winners of another database file", fpx__cli_merge, fpx__cli_merge_usage},
    {"clear", "remove every winner and kernel binary (--yes)", fpx__cli_clear,
     fpx__cli_clear_usage},
    {"compile", "compile kernels for an arch into the database (no GPU)", fpx__cli_compile,
     fpx__cli_compile_usage},
    {"tune", "tune kernel configurations on the GPU into the database", cli_tune_run, cli_tune_usage},
    {"latency", "host costs of fpx_gemm: first call, cached first call, warm call", cli_latency_run,
     cli_latency_usage},
};
static const size_t command_count = sizeof commands / sizeof commands[0];

static void vmessage(const char *fmt, va_list ap) {
  fprintf(stderr, "%s: ", cli_program);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

int cli_usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vmessage(fmt, ap);
  va_end(ap);
  return CLI_EXIT_USAGE;
}

int cli_failure(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vmessage(fmt, ap);
  va_end(ap);
  return CLI_EXIT_FAILURE;
}

int cli_is_help(const char *arg) {
  return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int cli_parse_format(const char *name, fpx_format *out_format) {
  if (fpx_format_parse(name, out_format) != FPX_OK)
    return cli_usage_error("%s", fpx_last_error());
  return CLI_EXIT_OK;
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: %s COMMAND [ARGS...]\n"
          "       %s COMMAND --help\n"
          "       %s --help | --version\n"
          "\n"
          "fpx-tune inspects eXmY number formats and (with a GPU) tunes and\n"
          "benchmarks the fpx kernels.\n"
          "\n"
          "commands:\n",
          cli_program, cli_program, cli_program);
  for (size_t i = 0; i < command_count; i++)
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(out,
          "\n"
          "exit status: 0 success, 1 failure while running, 2 bad arguments\n");
}

static const cli_command *find_command(const char *name) {
  for (size_t i = 0; i < command_count; i++)
    if (strcmp(commands[i].name, name) == 0) return &commands[i];
  return NULL;
}

/* Returns code, or CLI_EXIT_FAILURE if stdout could not be written. */
static int finish(int code) {
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "%s: error writing standard output\n", cli_program);
    return code == CLI_EXIT_OK ? CLI_EXIT_FAILURE : code;
  }
  return code;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return CLI_EXIT_USAGE;
  }
  const char *first = argv[1];
  if (cli_is_help(first)) {
    usage(stdout);
    return finish(CLI_EXIT_OK);
  }
  if (strcmp(first, "--version") == 0) {
    unsigned v = fpx_version_number();
    printf("%s %u.%u.%u\n", cli_program, v / 10000, v / 100 % 100, v % 100);
    return finish(CLI_EXIT_OK);
  }
  if (first[0] == '-') return cli_usage_error("unknown option '%s' (try --help)", first);
  const cli_command *cmd = find_command(first);
  if (cmd == NULL) return cli_usage_error("unknown command '%s' (try --help)", first);
  for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
    if (cli_is_help(argv[i])) {
      cmd->usage(stdout);
      return finish(CLI_EXIT_OK);
    }
  return finish(cmd->run(argc - 1, argv + 1));
}
