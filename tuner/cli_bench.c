/*
 * cli_bench.c - `fpx-tune bench`: times fpx_gemm (eXmY weights with FP16/BF16
 * activations, or with FP8 activations: W8A8 and W-eXmY/A-FP8) against
 * cuBLAS BF16/FP16 on the LLM shapes of the benchmark method, and with FP8
 * activations also against cuBLASLt's FP8 GEMM (E4M3 x E4M3 -> BF16, rowwise
 * scales where this cuBLASLt and GPU run them, else per-tensor), in one
 * process and one run; reports the ratios and the effective weight
 * bandwidth against the device-to-device copy bandwidth measured alongside.
 *
 * Method (the project's benchmark spec): random data, never zeros; three
 * warm-up calls (the first compiles the kernel); then for every timed rep
 * the L2 is flushed by writing a buffer of at least twice its size on the
 * same stream, and the call alone is bracketed by CUDA events; the median
 * of the reps is reported. The loop itself is tuner/timing.c, shared with
 * the tuner.
 *
 * Random weights are written straight into the tiled layout when every bit
 * pattern there is a finite code of the format (all formats below 8 bits,
 * and 8-bit formats whose single plane holds one code per byte, after
 * redrawing the NaN/Inf bytes); other cases go through fpx_pack_tiled.
 * FP8 activations are random BF16 rows quantized per row on the host
 * (fpx_quantize_activations), as a serving stack's quantizer would make
 * them; the dense baselines get dense random data of their own types.
 *
 * With --wgmma, each point also runs the Hopper wgmma family through its
 * internal launcher for every listed configuration valid for the key: its
 * output is first compared with fpx_gemm's on the same inputs (both
 * outputs poisoned before), then it is timed like fpx_gemm and reported as
 * a row of its own (config "wgmma:TOKENS/STAGES", CSV kernel "wgmma").
 *
 * Every format and shape also gets its read floor (read_floor.h): the time
 * to stream its packed weights once, nothing else, by the same method.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_bench.h"
#include "cli_bench_wgmma.h"
#include "cli_problem.h"
#include "workload.h"
#include "config.h"
#include "context.h"
#include "cublas_loader.h"
#include "cublaslt_loader.h"
#include "cuda_api.h"
#include "dtype.h"
#include "error.h"
#include "layout.h"
#include "timing.h"
#include "read_floor.h"

enum {
  WARMUPS = 3,
  COPY_REPS = 10,
  CONFIG_UNSET = -1,
};
#define COPY_BYTES ((size_t)1 << 30)         /* copy-bandwidth buffer */
#define LT_WORKSPACE_BYTES ((size_t)32 << 20) /* cuBLASLt workspace (its Hopper advice) */

typedef struct bench_opts {
  cli_problem p; /* formats, act, group, device, shapes, M values */
  int iters;
  fpx_wo_config config; /* fields CONFIG_UNSET unless given */
  const char *csv_path;
  int fp8_fast_accum; /* cuBLASLt FP8 baseline with fast accumulation */
  cli_wgmma_list wgmma; /* --wgmma: configurations of the wgmma family */
} bench_opts;

static const size_t default_ms[] = {1, 8, 16, 32, 64, 128};

void fpx__cli_bench_usage(FILE *out) {
  fprintf(out,
          "usage: %s bench [OPTIONS]\n"
          "\n"
          "Times fpx_gemm (Y[M,N] = X[M,K] * W[N,K]^T, eXmY weights) against cuBLAS\n"
          "GemmEx (dense f16/bf16 weights, FP32 accumulation) in the same run: L2\n"
          "flushed before every timed call, CUDA events, median of the reps. Also\n"
          "measures the device-to-device copy bandwidth and reports the effective\n"
          "weight bandwidth (packed bytes + scale bytes) / fpx time against it.\n"
          "Needs a GPU; cuBLAS is optional (dlopen'd; without it only fpx is timed).\n"
          "\n"
          "With FP8 activations (--act e4m3|e5m2, or --family w8a8) X is random bf16\n"
          "quantized per token on the host (fpx_quantize_activations), the output is\n"
          "bf16, and a second baseline is timed: cuBLASLt's FP8 matmul, dense e4m3\n"
          "weights x e4m3 activations -> bf16, FP32 compute, the heuristic's best\n"
          "algorithm, with rowwise scales (one FP32 scale per token and per output\n"
          "channel, cuBLASLt 12.9+) where they run, else per-tensor scales; the\n"
          "header says which. Without cuBLASLt (or FP8 support) the reason is\n"
          "printed and only the cuBLAS bf16 baseline is timed.\n"
          "\n"
          "options:\n"
          "  --family F        weight-only (default: eXmY weights, f16/bf16 activations)\n"
          "                    or w8a8 (= --format e4m3 --act e4m3, W8A8 rowwise)\n"
          "  --format LIST     formats, comma-separated (default e3m2; e4m3 for w8a8),\n"
          "                    e.g. e3m2,e2m2,e2m1,e4m3\n"
          "  --act TYPE        activations: bf16 (default) or f16 (also the output type),\n"
          "                    or e4m3 / e5m2 (FP8, per-token scales; output bf16; formats\n"
          "                    with E <= 4 and M <= 3, or e5m2; K %% 16 == 0)\n"
          "  --group G         scale group size 0 (per row), 32, 64, 128, 256 (default 0)\n"
          "  --model NAME      llama3-8b, llama3-70b or llama3-405b: its qkv, o, gate_up and\n"
          "                    down shapes (repeatable; default llama3-8b if no --shape)\n"
          "  --shape N,K       one more shape (repeatable)\n"
          "  --m LIST          token counts, comma-separated (default 1,8,16,32,64,128)\n"
          "  --iters N         timed reps per point (default 30)\n"
          "  --warps-n W       explicit kernel config: 1, 2, 4, 8\n"
          "  --warps-k W       1, 2, 4\n"
          "  --m-tiles T       1, 2, 4, 8\n"
          "  --split-k S       1..64 (fields not given come from the library's default\n"
          "                    configuration for each point)\n"
          "  --device D        CUDA device ordinal (default 0)\n"
          "  --fp8-fast-accum  the cuBLASLt FP8 baseline with fast accumulation\n"
          "                    (CUBLASLT_MATMUL_DESC_FAST_ACCUM; default off)\n"
          "  --wgmma LIST      also time the Hopper wgmma family (sm_90 only) in each\n"
          "                    TOKENS/STAGES[/SPLIT_K] configuration of LIST, e.g.\n"
          "                    128/4,64/4/4 (tokens 64, 128 or 256; stages 2..8; split-K\n"
          "                    1..64, default 1, or sk: stream-K over the SMs; at most\n"
          "                    %d items); a configuration the\n"
          "                    key does not allow (group scales need tokens <= 128) is\n"
          "                    skipped with a note\n"
          "  --csv FILE        also write every row to FILE as CSV\n"
          "  -h, --help        this help\n"
          "\n"
          "columns: format, shape, N, K, M, config (warps_n/warps_k/m_tiles/split_k),\n"
          "fpx and cuBLAS median microseconds, speedup (cuBLAS time / fpx time),\n"
          "with FP8 activations the cuBLASLt FP8 time and vs_fp8 (its time / fpx\n"
          "time), weight GB/s and its percentage of the measured copy bandwidth,\n"
          "floor_us: the read floor of the shape's packed weights (the time to read\n"
          "them once with the kernels' weight loads and nothing else, same method;\n"
          "cuBLAS time / floor_us is the speedup of a GEMM as fast as that read);\n"
          "then the geometric mean speedups over the shapes per format and M. The\n"
          "CSV has every column (fp8_baseline_us, fp8_speedup, fp8_scaling empty\n"
          "when not measured).\n"
          "\n"
          "With --wgmma every point gets one more row per configuration (config\n"
          "wgmma:TOKENS/STAGES, its time in the fpx_us column) and a check column:\n"
          "before timing, the wgmma output is compared once with fpx_gemm's on the\n"
          "same inputs (both outputs poisoned with NaN first): ok when every element\n"
          "is finite and max|wgmma - fpx_gemm| <= %.0e x max|fpx_gemm| (the value\n"
          "printed is that ratio), else MISMATCH (still timed, flagged in the row,\n"
          "left out of the means); ERROR when the launch fails (no time). Then the\n"
          "geometric mean speedups of each configuration over cuBLAS and over\n"
          "fpx_gemm, from checked rows. CSV columns kernel (fpx_gemm or wgmma),\n"
          "check and check_rel_diff come last; tools/bench-report.py reads the\n"
          "fpx_gemm rows.\n"
          "\n"
          "exit status: 0 success, 1 GPU or library failure (or a wgmma row that is\n"
          "MISMATCH or ERROR, after every row is printed), 2 bad arguments (--wgmma\n"
          "on a GPU other than sm_90 included)\n",
          cli_program, CLI_MAX_WGMMA, CLI_WGMMA_TOLERANCE);
}

/* ---- argument parsing ------------------------------------------------------ */

/* Fills *o from the command line. Returns CLI_EXIT_OK, CLI_EXIT_USAGE, or -1
 * when --help was given. */
static int parse_args(int argc, char **argv, bench_opts *o) {
  static const int pow2_8[] = {1, 2, 4, 8}, pow2_4[] = {1, 2, 4}, split_range[] = {1, 64};
  static const int iter_range[] = {1, 100000};
  int rc = CLI_EXIT_OK;
  memset(o, 0, sizeof *o);
  o->p.cmd = "bench";
  o->p.fp8_ok = 1;
  o->p.act = FPX_DTYPE_BF16;
  o->iters = 30;
  o->config = (fpx_wo_config){.warps_n = CONFIG_UNSET, .warps_k = CONFIG_UNSET,
                              .m_tiles = CONFIG_UNSET, .split_k = CONFIG_UNSET};
  for (int i = 1; i < argc && rc == CLI_EXIT_OK; i++) {
    const char *v;
    int missing = 0, handled = 0;
    if (cli_is_help(argv[i])) return -1;
    rc = cli_problem_option(argc, argv, &i, &o->p, &handled);
    if (handled || rc != CLI_EXIT_OK) continue;
#define OPT(name) ((v = cli_option_value(argc, argv, &i, name, &missing)) != NULL && !missing)
    if (OPT("--iters")) rc = cli_parse_choice("bench", "--iters", v, iter_range, 0, &o->iters);
    else if (OPT("--warps-n")) rc = cli_parse_choice("bench", "--warps-n", v, pow2_8, 4, &o->config.warps_n);
    else if (OPT("--warps-k")) rc = cli_parse_choice("bench", "--warps-k", v, pow2_4, 3, &o->config.warps_k);
    else if (OPT("--m-tiles")) rc = cli_parse_choice("bench", "--m-tiles", v, pow2_8, 4, &o->config.m_tiles);
    else if (OPT("--split-k")) rc = cli_parse_choice("bench", "--split-k", v, split_range, 0, &o->config.split_k);
    else if (strcmp(argv[i], "--fp8-fast-accum") == 0) o->fp8_fast_accum = 1;
    else if (OPT("--wgmma")) rc = cli_wgmma_parse("bench", v, &o->wgmma);
    else if (OPT("--csv")) {
      if (v[0] == '\0') rc = cli_usage_error("bench: --csv needs a file name");
      o->csv_path = v;
    } else if (missing) rc = cli_usage_error("bench: option %s needs a value", argv[i]);
    else if (argv[i][0] == '-') rc = cli_usage_error("bench: unknown option '%s' (try --help)", argv[i]);
    else rc = cli_usage_error("bench: unexpected argument '%s'", argv[i]);
#undef OPT
  }
  if (rc != CLI_EXIT_OK) return rc;
  rc = cli_problem_finish(&o->p, "llama3-8b", default_ms, sizeof default_ms / sizeof default_ms[0]);
  if (rc != CLI_EXIT_OK) return rc;
  const fpx_wo_config *c = &o->config;
  if (c->warps_n != CONFIG_UNSET && c->warps_k != CONFIG_UNSET && c->m_tiles != CONFIG_UNSET &&
      c->split_k != CONFIG_UNSET && fpx__wo_config_check(c) != FPX_OK)
    return cli_usage_error("bench: %s", fpx_last_error());
  return CLI_EXIT_OK;
}

/* ---- timed calls ----------------------------------------------------------- */


typedef struct cublas_call_arg {
  fpx__cublas *blas;
  fpx_dtype dtype;
  size_t m, n, k;
  CUdeviceptr x, w, y;
} cublas_call_arg;

static fpx_status call_cublas(void *arg, CUstream stream) {
  cublas_call_arg *a = arg;
  (void)stream; /* set once with fpx__cublas_set_stream */
  return fpx__cublas_gemm(a->blas, a->dtype, a->m, a->n, a->k, a->x, a->w, a->y);
}

typedef struct lt_call_arg {
  fpx__cublaslt *lt;
  const fpx__lt_plan *plan;
} lt_call_arg;

static fpx_status call_lt(void *arg, CUstream stream) {
  lt_call_arg *a = arg;
  return fpx__cublaslt_run(a->lt, a->plan, stream);
}

/* ---- the run --------------------------------------------------------------- */

typedef struct bench_run {
  const bench_opts *o;
  fpx_ctx *ctx;
  const fpx__cu_table *cu;
  fpx__cublas *blas;     /* NULL without cuBLAS */
  fpx__cublaslt *lt;     /* NULL without the FP8 baseline */
  fpx__lt_scaling lt_scaling;
  char lt_note[384];     /* why rowwise scales or the whole baseline are missing */
  CUdeviceptr lt_workspace;
  CUstream stream;       /* every timed call runs on it */
  fpx__timer timer;
  FILE *csv;
  fpx_device_info dev;
  double copy_gbps;
  fpx__rng rng;
  int fp8;               /* FP8 activations */
  fpx_dtype dense;       /* output dtype, and the cuBLAS baseline's */
  uint16_t *value_table; /* 65536 activation values (dense dtype) */
  uint16_t *chunk;       /* FPX__FILL_CHUNK host staging */
  double log_speedup[CLI_MAX_FORMATS][CLI_MAX_MS];
  int speedup_count[CLI_MAX_FORMATS][CLI_MAX_MS];
  double log_speedup_fp8[CLI_MAX_FORMATS][CLI_MAX_MS];
  int speedup_fp8_count[CLI_MAX_FORMATS][CLI_MAX_MS];
  /* --wgmma: per configuration, the log speedups of checked rows over
   * cuBLAS and over fpx_gemm; the rows that failed their check or launch */
  double wgmma_log_blas[CLI_MAX_WGMMA][CLI_MAX_FORMATS][CLI_MAX_MS];
  int wgmma_blas_count[CLI_MAX_WGMMA][CLI_MAX_FORMATS][CLI_MAX_MS];
  double wgmma_log_fpx[CLI_MAX_WGMMA][CLI_MAX_FORMATS][CLI_MAX_MS];
  int wgmma_fpx_count[CLI_MAX_WGMMA][CLI_MAX_FORMATS][CLI_MAX_MS];
  size_t wgmma_mismatches, wgmma_errors;
} bench_run;

/* The buffers of the --wgmma check for one shape: its own output and host
 * copies of both outputs (max M x N elements). */
typedef struct wgmma_buffers {
  CUdeviceptr y;
  void *ref, *got;
} wgmma_buffers;

static void config_text(const fpx_wo_config *c, char *buf, size_t size) {
  fpx__wo_config_text(c, buf, size);
}

/* The configuration for one point: the library default with the fields the
 * user gave replaced; *explicit_cfg says whether to pass it to fpx_gemm. */
static fpx_status point_config(bench_run *b, const fpx_gemm_args *args, fpx_wo_config *out,
                               int *explicit_cfg) {
  fpx_status st = FPX_OK;
  const fpx_wo_config *u = &b->o->config;
  FPX_TRY(fpx_gemm_default_config(b->ctx, args, out));
  *explicit_cfg = 0;
  /* mma.sync fields given over a wgmma default: start from the mma.sync heuristic */
  if (out->kernel != 0 && (u->warps_n != CONFIG_UNSET || u->warps_k != CONFIG_UNSET ||
                           u->m_tiles != CONFIG_UNSET || u->split_k != CONFIG_UNSET))
    fpx__wo_config_default(args->m, args->weights->n, args->weights->k, b->dev.sm_count, out);
  if (u->warps_n != CONFIG_UNSET) *explicit_cfg = 1, out->warps_n = u->warps_n;
  if (u->warps_k != CONFIG_UNSET) *explicit_cfg = 1, out->warps_k = u->warps_k;
  if (u->m_tiles != CONFIG_UNSET) *explicit_cfg = 1, out->m_tiles = u->m_tiles;
  if (u->split_k != CONFIG_UNSET) *explicit_cfg = 1, out->split_k = u->split_k;
fail:
  return st;
}

/* One row of the table and of the CSV. */
typedef struct bench_row {
  const char *format;
  const cli_shape *s;
  size_t m;
  const char *cfg;
  const char *kernel;     /* "fpx_gemm" or "wgmma" */
  double us;              /* the kernel's median; 0: no time (ERROR) */
  double blas_us, lt_us;  /* baselines; 0: not measured */
  size_t weight_bytes;
  const char *check;      /* wgmma rows: "ok", "MISMATCH", "ERROR"; else NULL */
  double rel_diff;        /* wgmma rows that were compared: max|diff| / max|ref| */
  double floor_us;        /* read floor of the packed weights; 0: not measured */
} bench_row;

static void print_row(bench_run *b, const bench_row *r) {
  const double gbps = r->us > 0 ? (double)r->weight_bytes / (r->us * 1e3) : 0;
  const double pct = 100.0 * gbps / b->copy_gbps;
  const int timed = r->us > 0, compared = r->check != NULL && strcmp(r->check, "ERROR") != 0;
  printf("%-6s %-16s %6zu %6zu %5zu %-11s ", r->format, r->s->name, r->s->n, r->s->k, r->m, r->cfg);
  if (timed) printf("%10.2f ", r->us);
  else printf("%10s ", "-");
  if (r->blas_us > 0) printf("%10.2f ", r->blas_us);
  else printf("%10s ", "-");
  if (timed && r->blas_us > 0) printf("%7.2fx", r->blas_us / r->us);
  else printf("%8s", "-");
  if (b->fp8) {
    if (r->lt_us > 0) printf(" %10.2f ", r->lt_us);
    else printf(" %10s ", "-");
    if (timed && r->lt_us > 0) printf("%6.2fx", r->lt_us / r->us);
    else printf("%7s", "-");
  }
  if (timed) printf(" %9.1f %6.1f%%", gbps, pct);
  else printf(" %9s %7s", "-", "-");
  if (r->floor_us > 0) printf(" %8.2f", r->floor_us);
  else printf(" %8s", "-");
  if (b->o->wgmma.count > 0) {
    if (r->check == NULL) printf("  ref");
    else if (compared) printf("  %s %.1e", r->check, r->rel_diff);
    else printf("  %s", r->check);
  }
  printf("\n");
  fflush(stdout);
  if (b->csv == NULL) return;
  fprintf(b->csv, "\"%s\",%s,%s,%d,%s,%zu,%zu,%zu,%s,", b->dev.name, r->format,
          fpx_dtype_name(b->o->p.act), b->o->p.group, r->s->name, r->s->n, r->s->k, r->m, r->cfg);
  if (timed) fprintf(b->csv, "%.3f,", r->us);
  else fprintf(b->csv, ",");
  if (r->blas_us > 0) fprintf(b->csv, "%.3f,", r->blas_us);
  else fprintf(b->csv, ",");
  if (timed && r->blas_us > 0) fprintf(b->csv, "%.4f,", r->blas_us / r->us);
  else fprintf(b->csv, ",");
  fprintf(b->csv, "%zu,", r->weight_bytes);
  if (timed) fprintf(b->csv, "%.1f,%.1f,%.2f,", gbps, b->copy_gbps, pct);
  else fprintf(b->csv, ",%.1f,,", b->copy_gbps);
  if (r->lt_us > 0) {
    fprintf(b->csv, "%.3f,", r->lt_us);
    if (timed) fprintf(b->csv, "%.4f,", r->lt_us / r->us);
    else fprintf(b->csv, ",");
    fprintf(b->csv, "%s,", fpx__lt_scaling_name(b->lt_scaling));
  } else {
    fprintf(b->csv, ",,,");
  }
  fprintf(b->csv, "%s,%s,", r->kernel, r->check ? r->check : "");
  if (compared) fprintf(b->csv, "%.3e,", r->rel_diff);
  else fprintf(b->csv, ",");
  if (r->floor_us > 0) fprintf(b->csv, "%.3f\n", r->floor_us);
  else fprintf(b->csv, "\n");
}

/* The cuBLASLt FP8 baseline of one shape, every M: dense random E4M3
 * weights with per-channel scales against E4M3 activations (x8, xs: the
 * fpx ones when they are E4M3). A point that cuBLASLt cannot run is
 * reported on stderr and left at 0. */
static fpx_status time_fp8_baseline(bench_run *b, const cli_shape *s, CUdeviceptr x8, CUdeviceptr xs,
                                    CUdeviceptr y, double *lt_us) {
  fpx_status st = FPX_OK;
  const bench_opts *o = b->o;
  const fpx__cu_table *cu = b->cu;
  CUdeviceptr w = 0, ws = 0;
  fpx__lt_plan *plan = NULL;
  FPX_CU(cu, cuMemAlloc(&w, s->n * s->k));
  FPX_CU(cu, cuMemAlloc(&ws, s->n * sizeof(float)));
  FPX_TRY(fpx__fill_device_e4m3(cu, w, s->n * s->k, &b->rng));
  FPX_TRY(fpx__fill_device_scales(cu, ws, s->n, 1.0 / 448.0, &b->rng));
  for (size_t i = 0; i < o->p.m_count; i++) {
    const fpx__lt_problem p = {.m = o->p.ms[i], .n = s->n, .k = s->k, .x = x8, .w = w, .y = y,
                               .x_scales = xs, .w_scales = ws, .scaling = b->lt_scaling,
                               .fast_accum = o->fp8_fast_accum, .workspace = b->lt_workspace,
                               .workspace_bytes = LT_WORKSPACE_BYTES};
    fpx_status pst = fpx__cublaslt_plan(b->lt, &p, &plan);
    lt_call_arg a = {b->lt, plan};
    if (pst == FPX_OK) pst = fpx__timer_median_us(&b->timer, call_lt, &a, WARMUPS, o->iters, &lt_us[i]);
    if (pst != FPX_OK) {
      lt_us[i] = 0;
      fprintf(stderr, "%s: bench: warning: no FP8 baseline for %s M=%zu: %s\n", cli_program, s->name,
              o->p.ms[i], fpx_last_error());
    }
    /* the plan's descriptors must outlive the queued calls */
    FPX_CU(cu, cuStreamSynchronize(b->stream));
    fpx__cublaslt_plan_destroy(b->lt, plan);
    plan = NULL;
  }
fail:
  if (st != FPX_OK) (void)cu->cuStreamSynchronize(b->stream);
  fpx__cublaslt_plan_destroy(b->lt, plan);
  if (ws) cu->cuMemFree(ws);
  if (w) cu->cuMemFree(w);
  return st;
}

/* ---- --wgmma ---------------------------------------------------------------- */

static fpx__wo_key wgmma_key(const bench_run *b, size_t f) {
  const bench_opts *o = b->o;
  return (fpx__wo_key){o->p.formats[f], o->p.act, b->dense, o->p.group};
}

/* The --wgmma rows of one point (format f, M index i; `row` is its
 * fpx_gemm row): fpx_gemm's output of `ref` (the call just timed) into a
 * poisoned y, then for each valid configuration the check and the timing
 * (cli_wgmma_measure) and its row. A launch or timing that fails gives an
 * ERROR row and drops that configuration for the other M of this format
 * and shape; driver failures around them end the run. */
static fpx_status wgmma_point(bench_run *b, size_t f, size_t i, const cli_shape *s, fpx__gemm_call *ref,
                              const int *valid, int *failed, wgmma_buffers *wb, bench_row row) {
  fpx_status st = FPX_OK;
  const bench_opts *o = b->o;
  const fpx__cu_table *cu = b->cu;
  const size_t count = ref->args.m * s->n, bytes = count * fpx__dtype_size(b->dense);
  const double fpx_us = row.us;
  int any = 0;
  for (size_t c = 0; c < o->wgmma.count; c++) any |= valid[c] && !failed[c];
  if (!any) return FPX_OK;
  FPX_CU(cu, cuMemsetD8Async(ref->args.y, 0xFF, bytes, b->stream)); /* NaN in f16 and bf16 */
  FPX_TRY(fpx__timed_gemm(ref, b->stream));
  FPX_CU(cu, cuStreamSynchronize(b->stream));
  FPX_CU(cu, cuMemcpyDtoH(wb->ref, ref->args.y, bytes));
  for (size_t c = 0; c < o->wgmma.count; c++) {
    if (!valid[c] || failed[c]) continue;
    cli_wgmma_call call = {b->ctx, wgmma_key(b, f), o->wgmma.configs[c], ref->args};
    cli_wgmma_result res;
    char label[32];
    call.args.y = wb->y;
    call.args.config = NULL;
    cli_wgmma_label(&call.config, label, sizeof label);
    st = cli_wgmma_measure(&b->timer, &call, wb->ref, wb->got, WARMUPS, o->iters, &res);
    if (st != FPX_OK) {
      fprintf(stderr, "%s: bench: ERROR: %s, %s %s M=%zu: the GPU failed while it was checked or timed\n",
              cli_program, label, row.format, s->name, row.m);
      goto fail;
    }
    const cli_wgmma_check *chk = &res.check;
    row.cfg = label;
    row.kernel = "wgmma";
    row.us = res.us;
    row.check = res.status != FPX_OK ? "ERROR" : chk->ok ? "ok" : "MISMATCH";
    row.rel_diff = chk->rel_diff;
    if (res.compared && !chk->ok)
      fprintf(stderr,
              "%s: bench: MISMATCH: %s, %s %s M=%zu: max|wgmma - fpx_gemm| = %.4g at [%zu][%zu] = %.3g x "
              "max|fpx_gemm| (%.4g), tolerance %.0e; non-finite outputs: %zu of wgmma, %zu of fpx_gemm\n",
              cli_program, label, row.format, s->name, row.m, chk->max_diff, chk->worst / s->n,
              chk->worst % s->n, chk->rel_diff, chk->max_ref, CLI_WGMMA_TOLERANCE, chk->got_nonfinite,
              chk->ref_nonfinite);
    if (res.status != FPX_OK) {
      failed[c] = 1;
      fprintf(stderr, "%s: bench: ERROR: %s, %s %s M=%zu: %s failed: %s; skipped for the other M of %s %s\n",
              cli_program, label, row.format, s->name, row.m, res.stage, fpx_last_error(), row.format,
              s->name);
    }
    print_row(b, &row);
    b->wgmma_errors += res.status != FPX_OK;
    b->wgmma_mismatches += res.status == FPX_OK && !chk->ok;
    if (res.status == FPX_OK && chk->ok) {
      if (row.blas_us > 0) {
        b->wgmma_log_blas[c][f][i] += log(row.blas_us / row.us);
        b->wgmma_blas_count[c][f][i]++;
      }
      b->wgmma_log_fpx[c][f][i] += log(fpx_us / row.us);
      b->wgmma_fpx_count[c][f][i]++;
    }
  }
fail:
  return st;
}

/* Every format and M for one shape. */
static fpx_status cli_shape_all(bench_run *b, const cli_shape *s) {
  fpx_status st = FPX_OK;
  const bench_opts *o = b->o;
  const fpx__cu_table *cu = b->cu;
  const size_t dense_bytes = 2; /* f16 / bf16 */
  /* x: dense activations (fpx's, or only cuBLAS's with FP8 activations);
   * x8/xs: FP8 codes and scales for fpx; lt_x8/lt_xs: E4M3 ones for the
   * FP8 baseline when fpx's are E5M2 */
  CUdeviceptr x = 0, y = 0, w = 0, x8 = 0, xs = 0, lt_x8 = 0, lt_xs = 0;
  fpx_weights *weights = NULL;
  double blas_us[CLI_MAX_MS] = {0}, lt_us[CLI_MAX_MS] = {0};
  wgmma_buffers wb = {0, NULL, NULL};
  size_t max_m = 0;
  for (size_t i = 0; i < o->p.m_count; i++)
    if (o->p.ms[i] > max_m) max_m = o->p.ms[i];
  FPX_CU(cu, cuMemAlloc(&y, max_m * s->n * dense_bytes));
  if (o->wgmma.count > 0) {
    FPX_CU(cu, cuMemAlloc(&wb.y, max_m * s->n * dense_bytes));
    wb.ref = malloc(max_m * s->n * dense_bytes);
    wb.got = malloc(max_m * s->n * dense_bytes);
    if (wb.ref == NULL || wb.got == NULL) {
      st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "no host memory for the --wgmma check (2 x %zu bytes)",
                      max_m * s->n * dense_bytes);
      goto fail;
    }
  }
  if (!b->fp8 || b->blas != NULL) {
    FPX_CU(cu, cuMemAlloc(&x, max_m * s->k * dense_bytes));
    FPX_TRY(fpx__fill_device16(cu, x, max_m * s->k, b->value_table, &b->rng, b->chunk));
  }
  if (b->fp8) {
    fpx__random_rows rows = {b->value_table, &b->rng};
    FPX_CU(cu, cuMemAlloc(&x8, max_m * s->k));
    FPX_CU(cu, cuMemAlloc(&xs, max_m * sizeof(float)));
    FPX_TRY(fpx__upload_fp8_activations(cu, o->p.act, max_m, s->k, fpx__random_bf16_row, &rows, x8, xs, NULL));
  }
  if (b->blas != NULL) {
    FPX_CU(cu, cuMemAlloc(&w, s->n * s->k * dense_bytes));
    FPX_TRY(fpx__fill_device16(cu, w, s->n * s->k, b->value_table, &b->rng, b->chunk));
    for (size_t i = 0; i < o->p.m_count; i++) {
      cublas_call_arg a = {b->blas, b->dense, o->p.ms[i], s->n, s->k, x, w, y};
      FPX_TRY(fpx__timer_median_us(&b->timer, call_cublas, &a, WARMUPS, o->iters, &blas_us[i]));
    }
    FPX_CU(cu, cuStreamSynchronize(b->stream));
    cu->cuMemFree(w);
    w = 0;
  }
  if (b->lt != NULL && s->n % 16 != 0) {
    fprintf(stderr, "%s: bench: warning: no FP8 baseline for %s: cuBLASLt FP8 needs N (%zu) a multiple of 16\n",
            cli_program, s->name, s->n);
  } else if (b->lt != NULL) {
    if (o->p.act != FPX_DTYPE_E4M3) {
      fpx__random_rows rows = {b->value_table, &b->rng};
      FPX_CU(cu, cuMemAlloc(&lt_x8, max_m * s->k));
      FPX_CU(cu, cuMemAlloc(&lt_xs, max_m * sizeof(float)));
      FPX_TRY(fpx__upload_fp8_activations(cu, FPX_DTYPE_E4M3, max_m, s->k, fpx__random_bf16_row, &rows,
                                          lt_x8, lt_xs, NULL));
    }
    FPX_TRY(time_fp8_baseline(b, s, lt_x8 ? lt_x8 : x8, lt_xs ? lt_xs : xs, y, lt_us));
  }
  for (size_t f = 0; f < o->p.format_count; f++) {
    fpx_format_info info;
    size_t weight_bytes = 0;
    int wgmma_ok[CLI_MAX_WGMMA] = {0}, wgmma_failed[CLI_MAX_WGMMA] = {0};
    FPX_TRY(fpx_format_get_info(o->p.formats[f], &info));
    const fpx__wo_key key = wgmma_key(b, f);
    cli_wgmma_valid(&o->wgmma, &key, s == &o->p.shapes[0] ? "bench" : NULL, wgmma_ok);
    FPX_TRY(fpx__random_weights(b->ctx, o->p.formats[f], o->p.group, s->n, s->k, &b->rng, NULL, &weights,
                         &weight_bytes));
    double floor_us = 0;
    FPX_TRY(fpx__read_floor_us(b->ctx, &b->timer, weights->packed,
                               fpx_tiled_packed_size(o->p.formats[f], s->n, s->k), b->dev.sm_count,
                               o->iters, &floor_us));
    for (size_t i = 0; i < o->p.m_count; i++) {
      fpx__gemm_call a = {b->ctx,
                          {sizeof(fpx_gemm_args), weights, o->p.act, b->dense, o->p.ms[i], b->fp8 ? x8 : x, y,
                           NULL, b->fp8 ? xs : 0, 0}};
      fpx_wo_config cfg;
      int explicit_cfg;
      char cfg_buf[32];
      double us;
      FPX_TRY(point_config(b, &a.args, &cfg, &explicit_cfg));
      if (explicit_cfg) a.args.config = &cfg;
      FPX_TRY(fpx__timer_median_us(&b->timer, fpx__timed_gemm, &a, WARMUPS, o->iters, &us));
      config_text(&cfg, cfg_buf, sizeof cfg_buf);
      {
        const fpx__wo_key key = {weights->format, a.args.x_dtype, a.args.y_dtype, weights->group_size};
        fpx__wgmma_config auto_wg;
        /* "auto:" only where fpx_gemm runs the automatic choice (a tuned
         * winner shows as itself) */
        if (!explicit_cfg &&
            fpx__gemm_wgmma_choice(b->ctx, &key, o->p.ms[i], weights->n, weights->k, &auto_wg)) {
          const fpx_wo_config chosen = {.kernel = 1, .split_k = auto_wg.split_k,
                                        .tokens = auto_wg.tokens, .stages = auto_wg.stages};
          if (fpx__wo_config_equal(&cfg, &chosen)) {
            char split[16] = "sk";
            if (auto_wg.split_k != FPX_SPLIT_K_STREAM) snprintf(split, sizeof split, "%d", auto_wg.split_k);
            snprintf(cfg_buf, sizeof cfg_buf, "auto:wgmma%d/%d/%s", auto_wg.tokens, auto_wg.stages, split);
          }
        }
      }
      const bench_row row = {info.name, s, o->p.ms[i], cfg_buf, "fpx_gemm", us, blas_us[i], lt_us[i],
                             weight_bytes, NULL, 0, floor_us};
      print_row(b, &row);
      FPX_TRY(wgmma_point(b, f, i, s, &a, wgmma_ok, wgmma_failed, &wb, row));
      if (blas_us[i] > 0) {
        b->log_speedup[f][i] += log(blas_us[i] / us);
        b->speedup_count[f][i]++;
      }
      if (lt_us[i] > 0) {
        b->log_speedup_fp8[f][i] += log(lt_us[i] / us);
        b->speedup_fp8_count[f][i]++;
      }
    }
    FPX_CU(cu, cuStreamSynchronize(b->stream));
    fpx_weights_destroy(weights);
    weights = NULL;
  }
fail:
  /* let queued work finish before its buffers go (the result does not
   * matter: after a failure the stream may be broken) */
  if (st != FPX_OK) (void)cu->cuStreamSynchronize(b->stream);
  fpx_weights_destroy(weights);
  free(wb.ref);
  free(wb.got);
  if (wb.y) cu->cuMemFree(wb.y);
  if (lt_xs) cu->cuMemFree(lt_xs);
  if (lt_x8) cu->cuMemFree(lt_x8);
  if (xs) cu->cuMemFree(xs);
  if (x8) cu->cuMemFree(x8);
  if (w) cu->cuMemFree(w);
  if (y) cu->cuMemFree(y);
  if (x) cu->cuMemFree(x);
  return st;
}

/* One table of geometric mean speedups (baseline time / kernel time). */
static void print_geomean_table(const bench_run *b, const char *baseline, const char *kernel,
                                double log_sum[][CLI_MAX_MS], int count[][CLI_MAX_MS]) {
  const bench_opts *o = b->o;
  char cell[32];
  printf("\ngeometric mean speedup over %zu shape%s (%s time / %s time%s):\n%-6s", o->p.shape_count,
         o->p.shape_count == 1 ? "" : "s", baseline, kernel,
         strncmp(kernel, "wgmma", 5) == 0 ? ", rows whose check passed" : "", "format");
  for (size_t i = 0; i < o->p.m_count; i++) {
    snprintf(cell, sizeof cell, "M=%zu", o->p.ms[i]);
    printf(" %9s", cell);
  }
  printf("\n");
  for (size_t f = 0; f < o->p.format_count; f++) {
    fpx_format_info info;
    if (fpx_format_get_info(o->p.formats[f], &info) != FPX_OK) continue;
    printf("%-6s", info.name);
    for (size_t i = 0; i < o->p.m_count; i++) {
      if (count[f][i] == 0) snprintf(cell, sizeof cell, "-");
      else snprintf(cell, sizeof cell, "%.2fx", exp(log_sum[f][i] / count[f][i]));
      printf(" %9s", cell);
    }
    printf("\n");
  }
}

static void print_geomeans(bench_run *b) {
  int any_fp8 = 0;
  if (b->blas != NULL) print_geomean_table(b, "cuBLAS", "fpx", b->log_speedup, b->speedup_count);
  for (size_t f = 0; f < CLI_MAX_FORMATS; f++)
    for (size_t i = 0; i < CLI_MAX_MS; i++) any_fp8 |= b->speedup_fp8_count[f][i] > 0;
  if (any_fp8) print_geomean_table(b, "cuBLASLt FP8", "fpx", b->log_speedup_fp8, b->speedup_fp8_count);
  /* --wgmma: each configuration, from the rows whose check passed */
  for (size_t c = 0; c < b->o->wgmma.count; c++) {
    char kernel[32];
    cli_wgmma_label(&b->o->wgmma.configs[c], kernel, sizeof kernel);
    if (b->blas != NULL)
      print_geomean_table(b, "cuBLAS", kernel, b->wgmma_log_blas[c], b->wgmma_blas_count[c]);
    print_geomean_table(b, "fpx_gemm", kernel, b->wgmma_log_fpx[c], b->wgmma_fpx_count[c]);
  }
}

static void print_header(const bench_run *b) {
  const bench_opts *o = b->o;
  const char *dense = fpx_dtype_name(b->dense);
  printf("# fpx bench: %s (%s, %d SMs, driver %d.%d)\n", b->dev.name, b->dev.arch,
         b->dev.sm_count, b->dev.driver_version / 1000, b->dev.driver_version % 1000 / 10);
  printf("# copy bandwidth (device-to-device, read + write, median of %d x %zu MiB): %.1f GB/s\n",
         COPY_REPS, COPY_BYTES >> 20, b->copy_gbps);
  if (b->blas != NULL)
    printf("# baseline: cuBLAS GemmEx %s (%s, version %d), dense %s weights, FP32 accumulate\n",
           dense, fpx__cublas_library(b->blas), fpx__cublas_version(b->blas), dense);
  else printf("# baseline: none (cuBLAS not available)\n");
  if (b->fp8 && b->lt != NULL) {
    const size_t v = fpx__cublaslt_version(b->lt);
    printf("# FP8 baseline: cuBLASLt matmul (%s, version %zu.%zu.%zu), dense e4m3 weights x e4m3 "
           "activations -> bf16, FP32 compute, heuristic's best algorithm, fast accumulation %s\n",
           fpx__cublaslt_library(b->lt), v / 10000, v / 100 % 100, v % 100,
           o->fp8_fast_accum ? "on" : "off");
    printf("# FP8 baseline scaling: %s\n", fpx__lt_scaling_text(b->lt_scaling));
    if (b->lt_note[0] != '\0') printf("# (rowwise scales not used: %s)\n", b->lt_note);
  } else if (b->fp8) {
    printf("# FP8 baseline: none (%s)\n", b->lt_note);
  }
  if (b->fp8)
    printf("# activations %s: random bf16 quantized per token on the host (fpx_quantize_activations), "
           "one FP32 scale per token; output bf16; weight scale group %d%s; L2 flushed (%zu MiB) before "
           "each of %d reps, median; %d warm-ups\n",
           fpx_dtype_name(o->p.act), o->p.group, o->p.group == 0 ? " (per row)" : "",
           b->timer.flush_bytes >> 20, o->iters, WARMUPS);
  else
    printf("# activations and output %s, scale group %d%s; L2 flushed (%zu MiB) before each of "
           "%d reps, median; %d warm-ups\n",
           fpx_dtype_name(o->p.act), o->p.group, o->p.group == 0 ? " (per row)" : "",
           b->timer.flush_bytes >> 20, o->iters, WARMUPS);
  printf("# config = warps_n/warps_k/m_tiles/split_k (%s)\n",
         o->config.warps_n == CONFIG_UNSET && o->config.warps_k == CONFIG_UNSET &&
                 o->config.m_tiles == CONFIG_UNSET && o->config.split_k == CONFIG_UNSET
             ? "library default, fpx_gemm_default_config"
             : "explicit fields over the library default");
  if (o->wgmma.count > 0)
    printf("# wgmma:TOKENS/STAGES rows: the Hopper wgmma family (fpx__wgmma_gemm_launch, not in "
           "fpx_gemm's dispatch), timed alike after one check against fpx_gemm on the same inputs; "
           "check = ok or MISMATCH and max|wgmma - fpx_gemm| / max|fpx_gemm| (tolerance %.0e), "
           "ref = the fpx_gemm row it was compared with\n",
           CLI_WGMMA_TOLERANCE);
  printf("%-6s %-16s %6s %6s %5s %-11s %10s %10s %8s", "format", "shape", "N", "K", "M", "config",
         "fpx_us", "cublas_us", "speedup");
  if (b->fp8) printf(" %10s %7s", "lt_fp8_us", "vs_fp8");
  printf(" %9s %7s %8s", "weight_GB/s", "%copy", "floor_us");
  if (o->wgmma.count > 0) printf("  check");
  printf("\n");
  if (b->csv != NULL)
    fprintf(b->csv, "gpu,format,act,group,shape,N,K,M,config,fpx_us,cublas_us,speedup,"
                    "weight_bytes,weight_GBps,copy_GBps,pct_of_copy,fp8_baseline_us,fp8_speedup,"
                    "fp8_scaling,kernel,check,check_rel_diff,read_floor_us\n");
}

/* Probes one scaling mode of the FP8 baseline on a small problem: plans
 * it and runs it once (cuBLASLt may plan a mode that its matmul refuses). */
static fpx_status probe_lt(bench_run *b, fpx__lt_scaling scaling) {
  enum { PM = 16, PN = 256, PK = 256 };
  fpx_status st = FPX_OK;
  const fpx__cu_table *cu = b->cu;
  CUdeviceptr x = 0, w = 0, y = 0, xs = 0, ws = 0;
  fpx__lt_plan *plan = NULL;
  FPX_CU(cu, cuMemAlloc(&x, PM * PK));
  FPX_CU(cu, cuMemAlloc(&w, PN * PK));
  FPX_CU(cu, cuMemAlloc(&y, PM * PN * 2));
  FPX_CU(cu, cuMemAlloc(&xs, PM * sizeof(float)));
  FPX_CU(cu, cuMemAlloc(&ws, PN * sizeof(float)));
  FPX_CU(cu, cuMemsetD8Async(x, 0x38, PM * PK, b->stream)); /* e4m3 1.0 */
  FPX_CU(cu, cuMemsetD8Async(w, 0x38, PN * PK, b->stream));
  FPX_CU(cu, cuMemsetD32Async(xs, 0x3F800000u, PM, b->stream)); /* 1.0f */
  FPX_CU(cu, cuMemsetD32Async(ws, 0x3F800000u, PN, b->stream));
  const fpx__lt_problem p = {.m = PM, .n = PN, .k = PK, .x = x, .w = w, .y = y, .x_scales = xs,
                             .w_scales = ws, .scaling = scaling, .fast_accum = b->o->fp8_fast_accum,
                             .workspace = b->lt_workspace, .workspace_bytes = LT_WORKSPACE_BYTES};
  FPX_TRY(fpx__cublaslt_plan(b->lt, &p, &plan));
  FPX_TRY(fpx__cublaslt_run(b->lt, plan, b->stream));
  FPX_CU(cu, cuStreamSynchronize(b->stream));
fail:
  (void)cu->cuStreamSynchronize(b->stream);
  fpx__cublaslt_plan_destroy(b->lt, plan);
  if (ws) cu->cuMemFree(ws);
  if (xs) cu->cuMemFree(xs);
  if (y) cu->cuMemFree(y);
  if (w) cu->cuMemFree(w);
  if (x) cu->cuMemFree(x);
  return st;
}

/* Sets up the FP8 baseline: loads cuBLASLt and picks rowwise scales when
 * they run, else per-tensor ones. Leaves b->lt NULL, with the reason in
 * b->lt_note, when neither runs; that is not an error. */
static fpx_status open_fp8_baseline(bench_run *b) {
  fpx_status st = FPX_OK;
  if (fpx__cublaslt_open(&b->lt) != FPX_OK) {
    snprintf(b->lt_note, sizeof b->lt_note, "%s", fpx_last_error());
    return FPX_OK;
  }
  FPX_CU(b->cu, cuMemAlloc(&b->lt_workspace, LT_WORKSPACE_BYTES));
  if (!fpx__cublaslt_has_rowwise(b->lt)) {
    snprintf(b->lt_note, sizeof b->lt_note, "%s version %zu predates outer-vector scales (12.9)",
             fpx__cublaslt_library(b->lt), fpx__cublaslt_version(b->lt));
  } else if (probe_lt(b, FPX__LT_SCALE_ROWWISE) == FPX_OK) {
    b->lt_scaling = FPX__LT_SCALE_ROWWISE;
    return FPX_OK;
  } else {
    snprintf(b->lt_note, sizeof b->lt_note, "%s", fpx_last_error());
  }
  b->lt_scaling = FPX__LT_SCALE_TENSOR;
  if (probe_lt(b, FPX__LT_SCALE_TENSOR) == FPX_OK) return FPX_OK;
  char rowwise_note[sizeof b->lt_note];
  snprintf(rowwise_note, sizeof rowwise_note, "%s", b->lt_note);
  snprintf(b->lt_note, sizeof b->lt_note, "cuBLASLt FP8 does not run here: per-tensor: %.160s; rowwise: %.160s",
           fpx_last_error(), rowwise_note);
  fpx__cublaslt_close(b->lt);
  b->lt = NULL;
fail:
  return st;
}

/* Prints the failure detail (the context's, for calls that keep one). */
static int report_failure(const bench_run *b, const char *what) {
  const char *detail = fpx_last_error();
  if ((detail == NULL || detail[0] == '\0') && b->ctx != NULL) detail = fpx_ctx_last_error(b->ctx);
  return cli_failure("bench: %s: %s", what, detail && detail[0] ? detail : "unknown error");
}

int fpx__cli_bench(int argc, char **argv) {
  bench_opts opts;
  bench_run *b = NULL;
  fpx_status st = FPX_OK;
  const char *stage = "setup";
  char what[96];
  int rc = parse_args(argc, argv, &opts);
  if (rc == -1) {
    fpx__cli_bench_usage(stdout);
    return CLI_EXIT_OK;
  }
  if (rc != CLI_EXIT_OK) return rc;
  b = calloc(1, sizeof *b);
  if (b == NULL) return cli_failure("bench: out of memory");
  b->o = &opts;
  b->rng.s = 0x243F6A8885A308D3ull;
  b->fp8 = cli_act_is_fp8(opts.p.act);
  b->dense = cli_problem_out_dtype(&opts.p);
  fpx_ctx_options ctx_opts = {sizeof ctx_opts, opts.p.device, NULL, 0};
  stage = "cannot use the GPU";
  FPX_TRY(fpx_ctx_create(&ctx_opts, &b->ctx));
  FPX_TRY(fpx__cu_get(&b->cu));
  FPX_TRY(fpx_ctx_device_info(b->ctx, &b->dev));
  if (opts.wgmma.count > 0 && b->ctx->sm_version != 90) {
    rc = cli_usage_error("bench: --wgmma needs an sm_90 GPU (the wgmma kernels are sm_90a only); device %d "
                         "is %s (%s)",
                         opts.p.device, b->dev.name, b->dev.arch);
    goto done;
  }
  const fpx__cu_table *cu = b->cu;
  stage = "setup";
  b->value_table = malloc(65536 * sizeof *b->value_table);
  b->chunk = malloc(FPX__FILL_CHUNK * sizeof *b->chunk);
  if (b->value_table == NULL || b->chunk == NULL) {
    st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "no host memory");
    goto fail;
  }
  fpx__value_table(b->dense, b->value_table);
  int l2_bytes = 0;
  FPX_CU(cu, cuDeviceGetAttribute(&l2_bytes, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, b->ctx->device));
  FPX_CU(cu, cuStreamCreate(&b->stream, CU_STREAM_NON_BLOCKING));
  FPX_TRY(fpx__timer_create(cu, b->stream, (size_t)(l2_bytes > 0 ? l2_bytes : 0), &b->timer));
  stage = "copy bandwidth";
  FPX_TRY(fpx__copy_bandwidth_gbps(&b->timer, COPY_BYTES, COPY_REPS, &b->copy_gbps));
  if (fpx__cublas_open(&b->blas) != FPX_OK) {
    fprintf(stderr, "%s: bench: warning: %s; reporting fpx times only\n", cli_program,
            fpx_last_error());
  } else if (fpx__cublas_set_stream(b->blas, b->stream) != FPX_OK) {
    stage = "cuBLAS";
    st = FPX_ERR_DRIVER;
    goto fail;
  }
  if (b->fp8) {
    stage = "cuBLASLt FP8 baseline";
    FPX_TRY(open_fp8_baseline(b));
    if (b->lt == NULL)
      fprintf(stderr, "%s: bench: warning: no cuBLASLt FP8 baseline: %s; comparing with cuBLAS %s only\n",
              cli_program, b->lt_note, fpx_dtype_name(b->dense));
  }
  if (opts.csv_path != NULL && (b->csv = fopen(opts.csv_path, "w")) == NULL) {
    rc = cli_failure("bench: cannot write %s: %s", opts.csv_path, strerror(errno));
    goto done;
  }
  print_header(b);
  for (size_t i = 0; i < opts.p.shape_count; i++) {
    snprintf(what, sizeof what, "shape %s (N=%zu, K=%zu)", opts.p.shapes[i].name, opts.p.shapes[i].n,
             opts.p.shapes[i].k);
    stage = what;
    FPX_TRY(cli_shape_all(b, &opts.p.shapes[i]));
  }
  print_geomeans(b);
  rc = CLI_EXIT_OK;
  if (b->wgmma_mismatches + b->wgmma_errors > 0)
    rc = cli_failure("bench: %zu wgmma row%s MISMATCH and %zu ERROR (see the rows and the messages above)",
                     b->wgmma_mismatches, b->wgmma_mismatches == 1 ? "" : "s", b->wgmma_errors);
  goto done;
fail:
  rc = report_failure(b, stage);
done:
  if (b->csv != NULL && fclose(b->csv) != 0 && rc == CLI_EXIT_OK)
    rc = cli_failure("bench: error writing %s: %s", opts.csv_path, strerror(errno));
  fpx__cublas_close(b->blas);
  fpx__cublaslt_close(b->lt);
  if (b->cu != NULL && b->lt_workspace) b->cu->cuMemFree(b->lt_workspace);
  fpx__timer_destroy(&b->timer);
  if (b->cu != NULL && b->stream) b->cu->cuStreamDestroy(b->stream);
  fpx_ctx_destroy(b->ctx);
  free(b->chunk);
  free(b->value_table);
  free(b);
  return rc;
}
