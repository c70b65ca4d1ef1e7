/*
 * cli_bench_quant.c - `fpx-tune bench-quant`: times fpx_quantize_activations_gpu
 * on a random [M, K] f16/bf16 matrix by the benchmark method (three warm-up
 * calls, then the L2 flushed before every timed call, CUDA events around the
 * call alone, median; tuner/timing.c) and reports the effective bandwidth,
 * (2 bytes read + 1 byte written) per element plus the scales, against the
 * device-to-device copy bandwidth measured in the same run. The first rows
 * of the result are then checked against the CPU reference.
 */
#include "cli_bench_quant.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_problem.h"
#include "context.h"
#include "cuda_api.h"
#include "error.h"
#include "timing.h"
#include "workload.h"

enum {
  WARMUPS = 3,
  COPY_REPS = 10,
  MIN_ITERS = 30,
  CHECK_ROWS = 16,
};
#define COPY_BYTES ((size_t)1 << 30)

typedef struct quant_opts {
  size_t m, k;
  fpx_act_scale_mode mode;
  fpx_format format;
  fpx_dtype act;
  int iters;
  int device;
} quant_opts;

static const char *mode_name(fpx_act_scale_mode mode) {
  return mode == FPX_ACT_SCALE_PER_TENSOR ? "per-tensor" : mode == FPX_ACT_SCALE_STATIC ? "static" : "per-row";
}

void fpx__cli_bench_quant_usage(FILE *out) {
  fprintf(out,
          "usage: %s bench-quant [--m M] [--k K] [--mode per-row|per-tensor|static]\n"
          "                       [--format e4m3|e5m2] [--act bf16|f16] [--iters N] [--device D]\n"
          "\n"
          "Times fpx_quantize_activations_gpu (X[M,K] f16/bf16 -> FP8 codes + FP32 scales)\n"
          "on random data: three warm-up calls, then the L2 flushed before each timed\n"
          "call, CUDA events around the call alone, median of the reps. Reports the\n"
          "effective bandwidth ((2 bytes read + 1 byte written) per element, plus 4\n"
          "bytes per scale) and its percentage of the device-to-device copy bandwidth\n"
          "measured in the same run, then checks the first rows of the result against\n"
          "the CPU reference (fpx_quantize_activations) bit for bit.\n"
          "\n"
          "options:\n"
          "  --m M          rows (tokens), 1..2147483647 (default 8192)\n"
          "  --k K          columns, a multiple of 8 up to 2^30 (default 8192)\n"
          "  --mode MODE    per-row (default), per-tensor (an amax pass, then the encode\n"
          "                 pass) or static (scale 1/max_finite: the data lie in (-1, 1))\n"
          "  --format F     e4m3 (default) or e5m2\n"
          "  --act A        input type bf16 (default) or f16\n"
          "  --iters N      timed reps, at least %d (default %d)\n"
          "  --device D     CUDA device ordinal (default 0)\n"
          "  -h, --help     this help\n"
          "\n"
          "columns: M, K, mode, format, median microseconds, effective GB/s, percentage\n"
          "of the copy bandwidth.\n"
          "\n"
          "exit status: 0 success, 1 GPU or library failure (or a result that differs\n"
          "from the CPU reference), 2 bad arguments\n",
          cli_program, MIN_ITERS, MIN_ITERS);
}

/* ---- argument parsing ------------------------------------------------------ */

static int parse_mode(const char *v, fpx_act_scale_mode *out) {
  if (strcmp(v, "per-row") == 0) *out = FPX_ACT_SCALE_PER_ROW;
  else if (strcmp(v, "per-tensor") == 0) *out = FPX_ACT_SCALE_PER_TENSOR;
  else if (strcmp(v, "static") == 0) *out = FPX_ACT_SCALE_STATIC;
  else return cli_usage_error("bench-quant: --mode '%s' is not per-row, per-tensor or static", v);
  return CLI_EXIT_OK;
}

static int parse_format(const char *v, fpx_format *out) {
  fpx_format f;
  if (fpx_format_parse(v, &f) != FPX_OK) return cli_usage_error("bench-quant: %s", fpx_last_error());
  if (!((f.exp_bits == 4 && f.man_bits == 3) || (f.exp_bits == 5 && f.man_bits == 2)))
    return cli_usage_error("bench-quant: --format '%s' is not e4m3 or e5m2", v);
  *out = f;
  return CLI_EXIT_OK;
}

static int parse_act(const char *v, fpx_dtype *out) {
  fpx_dtype d;
  if (fpx_dtype_parse(v, &d) != FPX_OK || (d != FPX_DTYPE_BF16 && d != FPX_DTYPE_F16))
    return cli_usage_error("bench-quant: --act '%s' is not bf16 or f16", v);
  *out = d;
  return CLI_EXIT_OK;
}

/* Fills *o from the command line. Returns CLI_EXIT_OK, CLI_EXIT_USAGE, or -1
 * when --help was given. */
static int parse_args(int argc, char **argv, quant_opts *o) {
  static const int iter_range[] = {MIN_ITERS, 100000}, device_range[] = {0, 1023};
  int rc = CLI_EXIT_OK;
  *o = (quant_opts){8192, 8192, FPX_ACT_SCALE_PER_ROW, {4, 3}, FPX_DTYPE_BF16, MIN_ITERS, 0};
  for (int i = 1; i < argc && rc == CLI_EXIT_OK; i++) {
    const char *v;
    int missing = 0;
    if (cli_is_help(argv[i])) return -1;
#define OPT(name) ((v = cli_option_value(argc, argv, &i, name, &missing)) != NULL && !missing)
    if (OPT("--m")) {
      if (!cli_parse_size(v, 1, (size_t)INT32_MAX, &o->m))
        rc = cli_usage_error("bench-quant: --m '%s' is not a number in 1..%d", v, INT32_MAX);
    } else if (OPT("--k")) {
      if (!cli_parse_size(v, 8, (size_t)1 << 30, &o->k) || o->k % 8 != 0)
        rc = cli_usage_error("bench-quant: --k '%s' is not a multiple of 8 in 8..%zu", v, (size_t)1 << 30);
    } else if (OPT("--mode")) rc = parse_mode(v, &o->mode);
    else if (OPT("--format")) rc = parse_format(v, &o->format);
    else if (OPT("--act")) rc = parse_act(v, &o->act);
    else if (OPT("--iters")) rc = cli_parse_choice("bench-quant", "--iters", v, iter_range, 0, &o->iters);
    else if (OPT("--device")) rc = cli_parse_choice("bench-quant", "--device", v, device_range, 0, &o->device);
    else if (missing) rc = cli_usage_error("bench-quant: option %s needs a value", argv[i]);
    else if (argv[i][0] == '-') rc = cli_usage_error("bench-quant: unknown option '%s' (try --help)", argv[i]);
    else rc = cli_usage_error("bench-quant: unexpected argument '%s'", argv[i]);
#undef OPT
  }
  if (rc == CLI_EXIT_OK && o->m > SIZE_MAX / 3 / o->k)
    rc = cli_usage_error("bench-quant: --m %zu --k %zu is too large", o->m, o->k);
  return rc;
}

/* ---- the run --------------------------------------------------------------- */

typedef struct quant_call {
  fpx_ctx *ctx;
  fpx_act_quant_params params;
  fpx_dtype act;
  size_t m, k;
  CUdeviceptr x, codes, scales, nonfinite; /* nonfinite: 0 while timing */
} quant_call;

static fpx_status call_quantize(void *arg, CUstream stream) {
  const quant_call *c = arg;
  return fpx_quantize_activations_gpu(c->ctx, &c->params, c->act, c->x, c->m, c->k, c->codes, c->scales,
                                      c->nonfinite, (fpx_stream)stream);
}

/* The first difference between the GPU's codes and scales and the CPU's,
 * as an error. */
static fpx_status compare(const uint8_t *got, const float *got_scales, const uint8_t *want,
                          const float *want_scales, size_t rows, size_t k, size_t scale_count) {
  for (size_t i = 0; i < scale_count; i++)
    if (memcmp(&got_scales[i], &want_scales[i], sizeof(float)) != 0)
      return fpx__error(FPX_ERR_INTERNAL, "scale %zu is %.9g, the CPU reference %.9g", i,
                        (double)got_scales[i], (double)want_scales[i]);
  for (size_t i = 0; i < rows * k; i++)
    if (got[i] != want[i])
      return fpx__error(FPX_ERR_INTERNAL, "code [%zu][%zu] is 0x%02X, the CPU reference 0x%02X", i / k,
                        i % k, got[i], want[i]);
  return FPX_OK;
}

/* Runs the call once more with the non-finite counter and compares the
 * first rows with the CPU reference; *out_rows = rows compared (0 for the
 * per-tensor mode, whose scale depends on every row). */
static fpx_status check_result(const fpx__cu_table *cu, quant_call *c, CUstream stream, size_t *out_rows) {
  fpx_status st = FPX_OK;
  const size_t rows = c->params.mode == FPX_ACT_SCALE_PER_TENSOR ? 0 : (c->m < CHECK_ROWS ? c->m : CHECK_ROWS);
  const size_t scale_count = c->params.mode == FPX_ACT_SCALE_PER_ROW ? rows : 1;
  uint16_t *x = malloc(rows * c->k * sizeof *x + 1);
  uint8_t *got = malloc(rows * c->k + 1), *want = malloc(rows * c->k + 1);
  float got_scales[CHECK_ROWS], want_scales[CHECK_ROWS];
  unsigned bad_rows = 0;
  *out_rows = 0;
  if (x == NULL || got == NULL || want == NULL) {
    st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "no host memory for the check");
    goto fail;
  }
  FPX_CU(cu, cuMemAlloc(&c->nonfinite, sizeof bad_rows));
  FPX_TRY(call_quantize(c, stream));
  FPX_CU(cu, cuStreamSynchronize(stream));
  FPX_CU(cu, cuMemcpyDtoH(&bad_rows, c->nonfinite, sizeof bad_rows));
  if (bad_rows != 0) {
    st = fpx__error(FPX_ERR_INTERNAL, "%u rows of finite input were counted as non-finite", bad_rows);
    goto fail;
  }
  if (rows > 0) { /* per-tensor: nothing more to compare */
    FPX_CU(cu, cuMemcpyDtoH(x, c->x, rows * c->k * sizeof *x));
    FPX_CU(cu, cuMemcpyDtoH(got, c->codes, rows * c->k));
    FPX_CU(cu, cuMemcpyDtoH(got_scales, c->scales, scale_count * sizeof(float)));
    FPX_TRY(fpx_quantize_activations(&c->params, c->act, x, rows, c->k, want, want_scales));
    FPX_TRY(compare(got, got_scales, want, want_scales, rows, c->k, scale_count));
  }
  *out_rows = rows;
fail:
  if (st != FPX_OK) (void)cu->cuStreamSynchronize(stream);
  if (c->nonfinite) cu->cuMemFree(c->nonfinite);
  c->nonfinite = 0;
  free(x);
  free(got);
  free(want);
  return st;
}

typedef struct quant_run {
  fpx_ctx *ctx;
  const fpx__cu_table *cu;
  CUstream stream;
  fpx__timer timer;
  CUdeviceptr x, codes, scales;
  uint16_t *table, *chunk;
} quant_run;

static fpx_status run(const quant_opts *o, quant_run *r, const char **stage) {
  fpx_status st = FPX_OK;
  fpx_device_info dev;
  fpx__rng rng = {0x243F6A8885A308D3ull};
  double copy_gbps = 0, us = 0;
  int l2_bytes = 0;
  size_t checked = 0;
  fpx_ctx_options ctx_opts = {sizeof ctx_opts, o->device, NULL, 0};
  fpx_format_info info;
  *stage = "cannot use the GPU";
  FPX_TRY(fpx_ctx_create(&ctx_opts, &r->ctx));
  FPX_TRY(fpx__cu_get(&r->cu));
  FPX_TRY(fpx_ctx_device_info(r->ctx, &dev));
  FPX_TRY(fpx_format_get_info(o->format, &info));
  const fpx__cu_table *cu = r->cu;
  *stage = "setup";
  r->table = malloc(65536 * sizeof *r->table);
  r->chunk = malloc(FPX__FILL_CHUNK * sizeof *r->chunk);
  if (r->table == NULL || r->chunk == NULL) {
    st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "no host memory");
    goto fail;
  }
  FPX_CU(cu, cuDeviceGetAttribute(&l2_bytes, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, r->ctx->device));
  FPX_CU(cu, cuStreamCreate(&r->stream, CU_STREAM_NON_BLOCKING));
  FPX_TRY(fpx__timer_create(cu, r->stream, (size_t)(l2_bytes > 0 ? l2_bytes : 0), &r->timer));
  *stage = "copy bandwidth";
  FPX_TRY(fpx__copy_bandwidth_gbps(&r->timer, COPY_BYTES, COPY_REPS, &copy_gbps));
  *stage = "setup";
  const size_t elems = o->m * o->k;
  const size_t scale_count = o->mode == FPX_ACT_SCALE_PER_ROW ? o->m : 1;
  FPX_CU(cu, cuMemAlloc(&r->x, elems * 2));
  FPX_CU(cu, cuMemAlloc(&r->codes, elems));
  FPX_CU(cu, cuMemAlloc(&r->scales, scale_count * sizeof(float)));
  fpx__value_table(o->act, r->table);
  FPX_TRY(fpx__fill_device16(cu, r->x, elems, r->table, &rng, r->chunk));
  quant_call call = {r->ctx, {sizeof call.params, o->mode, 0, (float)(1.0 / info.max_finite), o->format},
                     o->act, o->m, o->k, r->x, r->codes, r->scales, 0};
  *stage = "timing";
  FPX_TRY(fpx__timer_median_us(&r->timer, call_quantize, &call, WARMUPS, o->iters, &us));
  *stage = "check against the CPU reference";
  FPX_TRY(check_result(cu, &call, r->stream, &checked));

  const double bytes = 3.0 * (double)elems + 4.0 * (double)scale_count;
  const double gbps = bytes / (us * 1e3);
  printf("# fpx bench-quant: %s (%s, %d SMs, driver %d.%d)\n", dev.name, dev.arch, dev.sm_count,
         dev.driver_version / 1000, dev.driver_version % 1000 / 10);
  printf("# copy bandwidth (device-to-device, read + write, median of %d x %zu MiB): %.1f GB/s\n", COPY_REPS,
         COPY_BYTES >> 20, copy_gbps);
  printf("# fpx_quantize_activations_gpu: %s [M, K] -> %s codes + FP32 %s scales; L2 flushed (%zu MiB) "
         "before each of %d reps, median; %d warm-ups\n",
         fpx_dtype_name(o->act), info.name, mode_name(o->mode), r->timer.flush_bytes >> 20, o->iters, WARMUPS);
  printf("# effective bytes = 3 per element + 4 per scale (%.0f)\n", bytes);
  printf("%6s %6s %-10s %-6s %10s %9s %7s\n", "M", "K", "mode", "format", "time_us", "GB/s", "%copy");
  printf("%6zu %6zu %-10s %-6s %10.2f %9.1f %6.1f%%\n", o->m, o->k, mode_name(o->mode), info.name, us, gbps,
         100.0 * gbps / copy_gbps);
  if (checked > 0)
    printf("# check: the first %zu row%s equal fpx_quantize_activations bit for bit\n", checked,
           checked == 1 ? "" : "s");
  else printf("# check: no row counted as non-finite (per-tensor codes are not compared)\n");
fail:
  return st;
}

int fpx__cli_bench_quant(int argc, char **argv) {
  quant_opts opts;
  quant_run r;
  const char *stage = "setup";
  memset(&r, 0, sizeof r);
  int rc = parse_args(argc, argv, &opts);
  if (rc == -1) {
    fpx__cli_bench_quant_usage(stdout);
    return CLI_EXIT_OK;
  }
  if (rc != CLI_EXIT_OK) return rc;
  if (run(&opts, &r, &stage) != FPX_OK) {
    const char *detail = fpx_last_error();
    if ((detail == NULL || detail[0] == '\0') && r.ctx != NULL) detail = fpx_ctx_last_error(r.ctx);
    rc = cli_failure("bench-quant: %s: %s", stage, detail && detail[0] ? detail : "unknown error");
  }
  if (r.cu != NULL) {
    if (r.stream) (void)r.cu->cuStreamSynchronize(r.stream);
    if (r.x) r.cu->cuMemFree(r.x);
    if (r.codes) r.cu->cuMemFree(r.codes);
    if (r.scales) r.cu->cuMemFree(r.scales);
  }
  fpx__timer_destroy(&r.timer);
  if (r.cu != NULL && r.stream) r.cu->cuStreamDestroy(r.stream);
  fpx_ctx_destroy(r.ctx);
  free(r.table);
  free(r.chunk);
  return rc;
}
