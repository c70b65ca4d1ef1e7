/*
 * cli_tune.c - `fpx-tune tune`: measures the candidate configurations of
 * each (format, shape, M) key on the GPU and stores the winners in the
 * tuning database, printing each winner against the untuned heuristic.
 */
#include "cli_tune.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_problem.h"
#include "format.h"
#include "tune.h"

static const size_t default_ms[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192};

void cli_tune_usage(FILE *out) {
  fprintf(out,
          "usage: fpx-tune tune [--format LIST] [--act bf16|f16|e4m3|e5m2] [--out bf16|f16|f32]\n"
          "                     [--family weight-only|w8a8] [--group 0|32|64|128|256]\n"
          "                     [--model NAME]... [--shape N,K]...\n"
          "                     [--m LIST] [--budget-s S] [--strategy staged|exhaustive]\n"
          "                     [--reps N] [--db PATH] [--device D] [--seed S]\n"
          "\n"
          "Tunes the weight-only GEMM on the GPU: for every format, shape and M, each\n"
          "candidate configuration runs in a child process (a faulting one is recorded\n"
          "as crashed and the sweep goes on), is checked against a CPU double-precision\n"
          "reference on sampled outputs with the output poisoned and guarded, and is\n"
          "then timed (L2 flushed, CUDA events, median of --reps). The fastest correct\n"
          "configuration is stored in the tuning database under the M bucket of M.\n"
          "On sm_90 (H100, H200) and M >= 16 the Hopper wgmma family is measured too\n"
          "(tokens 64/128/256 x stages 3/4/6 that the key allows), and the faster\n"
          "family wins the key.\n"
          "FP8 activations (--act e4m3|e5m2, --family w8a8) are random bf16 quantized per\n"
          "token on the host (fpx_quantize_activations), and the check runs the CPU\n"
          "reference on the same codes and scales (fpx_reference_gemm_qx).\n"
          "\n"
          "  --family F        weight-only (default) or w8a8 (= --format e4m3 --act e4m3)\n"
          "  --format LIST     formats, comma separated (default e3m2; e4m3 for w8a8)\n"
          "  --act DTYPE       activations: bf16 (default), f16, or e4m3 / e5m2 (FP8 with\n"
          "                    per-token scales; formats with E <= 4 and M <= 3, or E <= 5\n"
          "                    and M <= 2; K a multiple of 16)\n"
          "  --out DTYPE       output: bf16, f16 or f32 (default: act; bf16 for FP8 act)\n"
          "  --group G         scale group size, 0 = per row (default 0)\n"
          "  --model NAME      llama3-8b, llama3-70b or llama3-405b: its four shapes\n"
          "  --shape N,K       one shape (repeatable); default llama3-8b\n"
          "  --m LIST          M values (default 1,2,4,...,8192)\n"
          "  --budget-s S      time per (format, shape, M) key before the remaining\n"
          "                    candidates are skipped (default 30; 0 = no limit);\n"
          "                    fpx_gemm's untuned choice is measured first, always,\n"
          "                    and again after the first stage (the faster counts)\n"
          "  --strategy S      staged (default): every tile configuration at one split\n"
          "                    and every wgmma configuration, then every split of the\n"
          "                    6 fastest tiles; exhaustive: all\n"
          "  --reps N          timed calls per candidate (default 10)\n"
          "  --db PATH         database (default: $FPX_CACHE_DIR/fpx.db, else\n"
          "                    $XDG_CACHE_HOME/fpx/fpx.db, else ~/.cache/fpx/fpx.db);\n"
          "                    --db '' measures without storing\n"
          "\n"
          "Columns: the winner's config (warps_n/warps_k/m_tiles/split_k, or\n"
          "wgmma:tokens/stages) and time, the\n"
          "heuristic's config and time, the gain, and candidates measured/failed/crashed/\n"
          "skipped. Exit status 1 when the GPU cannot be used or nothing could be tuned.\n");
}

typedef struct tune_opts {
  cli_problem p;
  fpx_dtype out;
  int out_given;
  double budget_s;
  fpx__tune_strategy strategy;
  int reps;
  const char *db;
  unsigned long long seed;
} tune_opts;

static int parse_args(int argc, char **argv, tune_opts *o) {
  static const int reps_range[] = {1, 10000}, budget_range[] = {0, 86400};
  int rc = CLI_EXIT_OK;
  memset(o, 0, sizeof *o);
  o->p.cmd = "tune";
  o->p.fp8_ok = 1;
  o->p.act = FPX_DTYPE_BF16;
  o->budget_s = 30;
  o->strategy = FPX__TUNE_STAGED;
  o->reps = 10;
  o->seed = 0x5EED;
  for (int i = 1; i < argc && rc == CLI_EXIT_OK; i++) {
    const char *v;
    int missing = 0, handled = 0, value = 0;
    size_t big = 0;
    if (cli_is_help(argv[i])) return -1;
    rc = cli_problem_option(argc, argv, &i, &o->p, &handled);
    if (handled || rc != CLI_EXIT_OK) continue;
#define OPT(name) ((v = cli_option_value(argc, argv, &i, name, &missing)) != NULL && !missing)
    if (OPT("--out")) {
      if (fpx_dtype_parse(v, &o->out) != FPX_OK ||
          (o->out != FPX_DTYPE_BF16 && o->out != FPX_DTYPE_F16 && o->out != FPX_DTYPE_F32))
        rc = cli_usage_error("tune: --out '%s' is not bf16, f16 or f32", v);
      o->out_given = 1;
    } else if (OPT("--budget-s")) {
      rc = cli_parse_choice("tune", "--budget-s", v, budget_range, 0, &value);
      o->budget_s = value;
    } else if (OPT("--strategy")) {
      if (strcmp(v, "staged") == 0) o->strategy = FPX__TUNE_STAGED;
      else if (strcmp(v, "exhaustive") == 0) o->strategy = FPX__TUNE_EXHAUSTIVE;
      else rc = cli_usage_error("tune: --strategy '%s' is not staged or exhaustive", v);
    } else if (OPT("--reps")) {
      rc = cli_parse_choice("tune", "--reps", v, reps_range, 0, &o->reps);
    } else if (OPT("--db")) {
      o->db = v;
    } else if (OPT("--seed")) {
      if (!cli_parse_size(v, 0, (size_t)-1, &big)) rc = cli_usage_error("tune: --seed '%s' is not a number", v);
      o->seed = big;
    } else if (missing) {
      rc = cli_usage_error("tune: option %s needs a value", argv[i]);
    } else if (argv[i][0] == '-') {
      rc = cli_usage_error("tune: unknown option '%s' (try --help)", argv[i]);
    } else {
      rc = cli_usage_error("tune: unexpected argument '%s'", argv[i]);
    }
#undef OPT
  }
  if (rc != CLI_EXIT_OK) return rc;
  rc = cli_problem_finish(&o->p, "llama3-8b", default_ms, sizeof default_ms / sizeof default_ms[0]);
  if (!o->out_given) o->out = cli_problem_out_dtype(&o->p);
  return rc;
}

static void config_text(const fpx_wo_config *c, char *buf, size_t size) {
  fpx__wo_config_text(c, buf, size);
}

int cli_tune_run(int argc, char **argv) {
  tune_opts o;
  int rc = parse_args(argc, argv, &o);
  if (rc < 0) {
    cli_tune_usage(stdout);
    return CLI_EXIT_OK;
  }
  if (rc != CLI_EXIT_OK) return rc;
  int header = 0, tuned = 0, failures = 0;
  const time_t start = time(NULL);
  const int progress = isatty(STDERR_FILENO);
  const size_t total = o.p.format_count * o.p.shape_count;
  for (size_t f = 0; f < o.p.format_count; f++)
    for (size_t s = 0; s < o.p.shape_count; s++) {
      if (progress) { /* a progress bar on a terminal only */
        const size_t done = f * o.p.shape_count + s, width = 30, filled = done * width / total;
        fprintf(stderr, "\r[%.*s%*s] %zu/%zu %s", (int)filled, "##############################",
                (int)(width - filled), "", done, total, o.p.shapes[s].name);
        fflush(stderr);
      }
      fpx__tune_result results[CLI_MAX_MS];
      fpx_device_info dev;
      fpx__tune_spec spec = {{o.p.formats[f], o.p.act, o.out, o.p.group},
                             o.p.shapes[s].n,
                             o.p.shapes[s].k,
                             o.p.ms,
                             o.p.m_count,
                             o.strategy,
                             o.budget_s,
                             o.reps,
                             o.p.device,
                             o.db,
                             o.seed};
      fpx_format_info info;
      fpx_format_get_info(o.p.formats[f], &info);
      fpx_status st = fpx__tune_shape(&spec, results, &dev);
      if (st == FPX_ERR_NO_DEVICE) return cli_failure("tune: cannot use the GPU: %s", fpx_last_error());
      if (st != FPX_OK) {
        fprintf(stderr, "fpx-tune: tune: %s %s: %s\n", info.name, o.p.shapes[s].name, fpx_last_error());
        failures++;
        continue;
      }
      if (!header) {
        printf("# fpx tune: %s (%s, %d SMs), activations %s%s, output %s, group %d, %s search, %d reps\n",
               dev.name, dev.arch, dev.sm_count, fpx_dtype_name(o.p.act),
               cli_act_is_fp8(o.p.act) ? " (per-token scales)" : "", fpx_dtype_name(o.out), o.p.group,
               o.strategy == FPX__TUNE_STAGED ? "staged" : "exhaustive", o.reps);
        printf("%-6s %-14s %6s %6s %5s %-11s %9s %-11s %9s %6s %s\n", "format", "shape", "N", "K", "M", "best",
               "best_us", "heuristic", "heur_us", "gain", "measured/failed/crashed/skipped");
        header = 1;
      }
      for (size_t i = 0; i < o.p.m_count; i++) {
        const fpx__tune_result *r = &results[i];
        char best[32] = "-", heur[32];
        if (r->best_us > 0) config_text(&r->best, best, sizeof best);
        config_text(&r->heuristic, heur, sizeof heur);
        printf("%-6s %-14s %6zu %6zu %5zu %-11s %9.2f %-11s %9.2f %5.2fx %zu/%zu/%zu/%zu%s\n", info.name,
               o.p.shapes[s].name, spec.n, spec.k, r->m, best, r->best_us, heur, r->heuristic_us,
               r->best_us > 0 && r->heuristic_us > 0 ? r->heuristic_us / r->best_us : 0.0, r->measured, r->failed,
               r->crashed, r->skipped, r->stored ? "" : "  (not stored)");
        if (r->best_us > 0) tuned++;
        else failures++;
      }
      fflush(stdout);
    }
  if (progress) fprintf(stderr, "\r%*s\r", 60, "");
  printf("# %d keys tuned, %d failed, %.0f s\n", tuned, failures, difftime(time(NULL), start));
  return tuned > 0 && failures == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}
