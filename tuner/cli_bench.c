/*
 * cli_bench.c - `fpx-tune bench`: times fpx_gemm (weight-only eXmY GEMM)
 * against cuBLAS BF16/FP16 on the LLM shapes of the benchmark method, in one
 * process and one run, and reports the ratio and the effective weight
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
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_bench.h"
#include "cli_problem.h"
#include "workload.h"
#include "config.h"
#include "context.h"
#include "cublas_loader.h"
#include "cuda_api.h"
#include "error.h"
#include "layout.h"
#include "timing.h"

enum {
  WARMUPS = 3,
  COPY_REPS = 10,
  CONFIG_UNSET = -1,
};
#define COPY_BYTES ((size_t)1 << 30)         /* copy-bandwidth buffer */

typedef struct bench_opts {
  cli_problem p; /* formats, act, group, device, shapes, M values */
  int iters;
  fpx_wo_config config; /* fields CONFIG_UNSET unless given */
  const char *csv_path;
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
          "options:\n"
          "  --format LIST     formats, comma-separated (default e3m2), e.g. e3m2,e2m2,e2m1,e4m3\n"
          "  --act bf16|f16    activation and output type (default bf16)\n"
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
          "  --csv FILE        also write every row to FILE as CSV\n"
          "  -h, --help        this help\n"
          "\n"
          "columns: format, shape, N, K, M, config (warps_n/warps_k/m_tiles/split_k),\n"
          "fpx and cuBLAS median microseconds, speedup (cuBLAS time / fpx time),\n"
          "weight GB/s and its percentage of the measured copy bandwidth; then the\n"
          "geometric mean speedup over the shapes per format and M.\n"
          "\n"
          "exit status: 0 success, 1 GPU or library failure, 2 bad arguments\n",
          cli_program);
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
  o->p.act = FPX_DTYPE_BF16;
  o->iters = 30;
  o->config = (fpx_wo_config){CONFIG_UNSET, CONFIG_UNSET, CONFIG_UNSET, CONFIG_UNSET};
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

/* ---- the run --------------------------------------------------------------- */

typedef struct bench_run {
  const bench_opts *o;
  fpx_ctx *ctx;
  const fpx__cu_table *cu;
  fpx__cublas *blas;     /* NULL without cuBLAS */
  CUstream stream;       /* every timed call runs on it */
  fpx__timer timer;
  FILE *csv;
  fpx_device_info dev;
  double copy_gbps;
  fpx__rng rng;
  uint16_t *value_table; /* 65536 activation values */
  uint16_t *chunk;       /* FPX__FILL_CHUNK host staging */
  double log_speedup[CLI_MAX_FORMATS][CLI_MAX_MS];
  int speedup_count[CLI_MAX_FORMATS][CLI_MAX_MS];
} bench_run;

static void config_text(const fpx_wo_config *c, char *buf, size_t size) {
  snprintf(buf, size, "%d/%d/%d/%d", c->warps_n, c->warps_k, c->m_tiles, c->split_k);
}

/* The configuration for one point: the library default with the fields the
 * user gave replaced; *explicit_cfg says whether to pass it to fpx_gemm. */
static fpx_status point_config(bench_run *b, const fpx_gemm_args *args, fpx_wo_config *out,
                               int *explicit_cfg) {
  fpx_status st = FPX_OK;
  const fpx_wo_config *u = &b->o->config;
  FPX_TRY(fpx_gemm_default_config(b->ctx, args, out));
  *explicit_cfg = 0;
  if (u->warps_n != CONFIG_UNSET) *explicit_cfg = 1, out->warps_n = u->warps_n;
  if (u->warps_k != CONFIG_UNSET) *explicit_cfg = 1, out->warps_k = u->warps_k;
  if (u->m_tiles != CONFIG_UNSET) *explicit_cfg = 1, out->m_tiles = u->m_tiles;
  if (u->split_k != CONFIG_UNSET) *explicit_cfg = 1, out->split_k = u->split_k;
fail:
  return st;
}

static void print_row(bench_run *b, const char *format, const cli_shape *s, size_t m,
                      const char *cfg, double fpx_us, double blas_us, size_t weight_bytes) {
  const double gbps = (double)weight_bytes / (fpx_us * 1e3);
  const double pct = 100.0 * gbps / b->copy_gbps;
  printf("%-6s %-16s %6zu %6zu %5zu %-11s %10.2f ", format, s->name, s->n, s->k, m, cfg, fpx_us);
  if (blas_us > 0) printf("%10.2f %7.2fx", blas_us, blas_us / fpx_us);
  else printf("%10s %8s", "-", "-");
  printf(" %9.1f %6.1f%%\n", gbps, pct);
  fflush(stdout);
  if (b->csv != NULL) {
    fprintf(b->csv, "\"%s\",%s,%s,%d,%s,%zu,%zu,%zu,%s,%.3f,", b->dev.name, format,
            fpx_dtype_name(b->o->p.act), b->o->p.group, s->name, s->n, s->k, m, cfg, fpx_us);
    if (blas_us > 0) fprintf(b->csv, "%.3f,%.4f,", blas_us, blas_us / fpx_us);
    else fprintf(b->csv, ",,");
    fprintf(b->csv, "%zu,%.1f,%.1f,%.2f\n", weight_bytes, gbps, b->copy_gbps, pct);
  }
}

/* Every format and M for one shape. */
static fpx_status cli_shape_all(bench_run *b, const cli_shape *s) {
  fpx_status st = FPX_OK;
  const bench_opts *o = b->o;
  const fpx__cu_table *cu = b->cu;
  CUdeviceptr x = 0, y = 0, w = 0;
  fpx_weights *weights = NULL;
  double blas_us[CLI_MAX_MS] = {0};
  size_t max_m = 0;
  for (size_t i = 0; i < o->p.m_count; i++)
    if (o->p.ms[i] > max_m) max_m = o->p.ms[i];
  FPX_CU(cu, cuMemAlloc(&x, max_m * s->k * 2));
  FPX_CU(cu, cuMemAlloc(&y, max_m * s->n * 2));
  FPX_TRY(fpx__fill_device16(cu, x, max_m * s->k, b->value_table, &b->rng, b->chunk));
  if (b->blas != NULL) {
    FPX_CU(cu, cuMemAlloc(&w, s->n * s->k * 2));
    FPX_TRY(fpx__fill_device16(cu, w, s->n * s->k, b->value_table, &b->rng, b->chunk));
    for (size_t i = 0; i < o->p.m_count; i++) {
      cublas_call_arg a = {b->blas, o->p.act, o->p.ms[i], s->n, s->k, x, w, y};
      FPX_TRY(fpx__timer_median_us(&b->timer, call_cublas, &a, WARMUPS, o->iters, &blas_us[i]));
    }
    cu->cuMemFree(w);
    w = 0;
  }
  for (size_t f = 0; f < o->p.format_count; f++) {
    fpx_format_info info;
    size_t weight_bytes = 0;
    FPX_TRY(fpx_format_get_info(o->p.formats[f], &info));
    FPX_TRY(fpx__random_weights(b->ctx, o->p.formats[f], o->p.group, s->n, s->k, &b->rng, NULL, &weights,
                         &weight_bytes));
    for (size_t i = 0; i < o->p.m_count; i++) {
      fpx__gemm_call a = {b->ctx, {sizeof(fpx_gemm_args), weights, o->p.act, o->p.act, o->p.ms[i], x, y, NULL, 0, 0}};
      fpx_wo_config cfg;
      int explicit_cfg;
      char cfg_buf[32];
      double us;
      FPX_TRY(point_config(b, &a.args, &cfg, &explicit_cfg));
      if (explicit_cfg) a.args.config = &cfg;
      FPX_TRY(fpx__timer_median_us(&b->timer, fpx__timed_gemm, &a, WARMUPS, o->iters, &us));
      config_text(&cfg, cfg_buf, sizeof cfg_buf);
      print_row(b, info.name, s, o->p.ms[i], cfg_buf, us, blas_us[i], weight_bytes);
      if (blas_us[i] > 0) {
        b->log_speedup[f][i] += log(blas_us[i] / us);
        b->speedup_count[f][i]++;
      }
    }
    fpx_weights_destroy(weights);
    weights = NULL;
  }
fail:
  /* let queued work finish before its buffers go (the result does not
   * matter: after a failure the stream may be broken) */
  if (st != FPX_OK) (void)cu->cuStreamSynchronize(b->stream);
  fpx_weights_destroy(weights);
  if (w) cu->cuMemFree(w);
  if (y) cu->cuMemFree(y);
  if (x) cu->cuMemFree(x);
  return st;
}

static void print_geomeans(const bench_run *b) {
  const bench_opts *o = b->o;
  char cell[32];
  if (b->blas == NULL) return;
  printf("\ngeometric mean speedup over %zu shape%s (cuBLAS time / fpx time):\n%-6s",
         o->p.shape_count, o->p.shape_count == 1 ? "" : "s", "format");
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
      if (b->speedup_count[f][i] == 0) snprintf(cell, sizeof cell, "-");
      else snprintf(cell, sizeof cell, "%.2fx", exp(b->log_speedup[f][i] / b->speedup_count[f][i]));
      printf(" %9s", cell);
    }
    printf("\n");
  }
}

static void print_header(const bench_run *b) {
  const bench_opts *o = b->o;
  printf("# fpx bench: %s (%s, %d SMs, driver %d.%d)\n", b->dev.name, b->dev.arch,
         b->dev.sm_count, b->dev.driver_version / 1000, b->dev.driver_version % 1000 / 10);
  printf("# copy bandwidth (device-to-device, read + write, median of %d x %zu MiB): %.1f GB/s\n",
         COPY_REPS, COPY_BYTES >> 20, b->copy_gbps);
  if (b->blas != NULL)
    printf("# baseline: cuBLAS GemmEx %s (%s, version %d), dense %s weights, FP32 accumulate\n",
           fpx_dtype_name(o->p.act), fpx__cublas_library(b->blas), fpx__cublas_version(b->blas),
           fpx_dtype_name(o->p.act));
  else printf("# baseline: none (cuBLAS not available)\n");
  printf("# activations and output %s, scale group %d%s; L2 flushed (%zu MiB) before each of "
         "%d reps, median; %d warm-ups\n",
         fpx_dtype_name(o->p.act), o->p.group, o->p.group == 0 ? " (per row)" : "",
         b->timer.flush_bytes >> 20, o->iters, WARMUPS);
  printf("# config = warps_n/warps_k/m_tiles/split_k (%s)\n",
         o->config.warps_n == CONFIG_UNSET && o->config.warps_k == CONFIG_UNSET &&
                 o->config.m_tiles == CONFIG_UNSET && o->config.split_k == CONFIG_UNSET
             ? "library default, fpx_gemm_default_config"
             : "explicit fields over the library default");
  printf("%-6s %-16s %6s %6s %5s %-11s %10s %10s %8s %9s %7s\n", "format", "shape", "N", "K", "M",
         "config", "fpx_us", "cublas_us", "speedup", "weight_GB/s", "%copy");
  if (b->csv != NULL)
    fprintf(b->csv, "gpu,format,act,group,shape,N,K,M,config,fpx_us,cublas_us,speedup,"
                    "weight_bytes,weight_GBps,copy_GBps,pct_of_copy\n");
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
  fpx_ctx_options ctx_opts = {sizeof ctx_opts, opts.p.device, NULL, 0};
  stage = "cannot use the GPU";
  FPX_TRY(fpx_ctx_create(&ctx_opts, &b->ctx));
  FPX_TRY(fpx__cu_get(&b->cu));
  FPX_TRY(fpx_ctx_device_info(b->ctx, &b->dev));
  const fpx__cu_table *cu = b->cu;
  stage = "setup";
  b->value_table = malloc(65536 * sizeof *b->value_table);
  b->chunk = malloc(FPX__FILL_CHUNK * sizeof *b->chunk);
  if (b->value_table == NULL || b->chunk == NULL) {
    st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "no host memory");
    goto fail;
  }
  fpx__value_table(opts.p.act, b->value_table);
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
  goto done;
fail:
  rc = report_failure(b, stage);
done:
  if (b->csv != NULL && fclose(b->csv) != 0 && rc == CLI_EXIT_OK)
    rc = cli_failure("bench: error writing %s: %s", opts.csv_path, strerror(errno));
  fpx__cublas_close(b->blas);
  fpx__timer_destroy(&b->timer);
  if (b->cu != NULL && b->stream) b->cu->cuStreamDestroy(b->stream);
  fpx_ctx_destroy(b->ctx);
  free(b->chunk);
  free(b->value_table);
  free(b);
  return rc;
}
