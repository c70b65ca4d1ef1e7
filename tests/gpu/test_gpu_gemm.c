/*
 * test_gpu_gemm.c - GPU tests of the weight-only GEMM and dequantize
 * kernels against the CPU double-precision reference: every format x
 * {f16, bf16} x {per-row, group 64, group 128}, many M, aligned and
 * unaligned N/K, several split-K values; streams, threads, graph capture and
 * bad pointers. Each test creates its CUDA state itself (after Criterion's
 * fork) and skips when no driver or device is present.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "context.h"
#include "cuda_api.h"
#include "fpx.h"

typedef struct gpu {
  fpx_ctx *ctx;
  const fpx__cu_table *cu;
} gpu;

static gpu gpu_open(void) {
  gpu g = {0};
  /* a private database: tests neither read nor leave tuned entries */
  fpx_ctx_options opts = {sizeof opts, 0, ":memory:", 0};
  fpx_status st = fpx_ctx_create(&opts, &g.ctx);
  if (st == FPX_ERR_NO_DEVICE) cr_skip_test("no CUDA device: %s", fpx_last_error());
  cr_assert_eq(st, FPX_OK, "fpx_ctx_create: %s", fpx_last_error());
  cr_assert_eq(fpx__cu_get(&g.cu), FPX_OK);
  return g;
}

static unsigned long long seed_state;
static double uniform(void) { /* xorshift64*, in [-1, 1) */
  seed_state ^= seed_state >> 12;
  seed_state ^= seed_state << 25;
  seed_state ^= seed_state >> 27;
  return (double)((seed_state * 2685821657736338717ull) >> 11) / 4503599627370496.0 - 1.0;
}
static void seed_fresh(void) {
  seed_state = (unsigned long long)time(NULL) * 6364136223846793005ull ^ (unsigned long long)getpid() ^
               (unsigned long long)clock();
  if (seed_state == 0) seed_state = 1;
}

#define CU_OK(g, call) cr_assert_eq((g).cu->call, CUDA_SUCCESS, "%s failed", #call)

/* One problem: random W quantized, random X, GPU result vs reference. */
typedef struct problem {
  fpx_format format;
  fpx_dtype act, out;
  int group;
  size_t m, n, k;
  const fpx_wo_config *config; /* NULL = default */
} problem;

static size_t dsize(fpx_dtype d) { return d == FPX_DTYPE_F32 ? 4 : 2; }

static double load_out(fpx_dtype d, const void *buf, size_t i) {
  if (d == FPX_DTYPE_F32) return ((const float *)buf)[i];
  uint16_t b = ((const uint16_t *)buf)[i];
  return d == FPX_DTYPE_F16 ? fpx_f16_to_f32(b) : fpx_bf16_to_f32(b);
}

typedef struct host_data {
  uint8_t *codes;
  float *scales;
  uint16_t *x;
  double *ref, *mag; /* reference and sum |x||w| per output */
} host_data;

static void make_data(const problem *p, host_data *h) {
  float *w = malloc(p->n * p->k * sizeof *w);
  h->codes = malloc(p->n * p->k);
  h->scales = malloc(fpx_scale_count(p->n, p->k, p->group) * sizeof(float));
  h->x = malloc(p->m * p->k * 2);
  h->ref = malloc(p->m * p->n * sizeof(double));
  h->mag = malloc(p->m * p->n * sizeof(double));
  cr_assert(w && h->codes && h->scales && h->x && h->ref && h->mag);
  for (size_t i = 0; i < p->n * p->k; i++) w[i] = (float)(uniform() * (1.0 + (i % 7)));
  fpx_quant_params qp = {sizeof qp, p->group, NULL};
  cr_assert_eq(fpx_quantize(p->format, FPX_DTYPE_F32, w, p->n, p->k, &qp, h->codes, h->scales), FPX_OK,
               "%s", fpx_last_error());
  for (size_t i = 0; i < p->m * p->k; i++) {
    float v = (float)uniform();
    h->x[i] = p->act == FPX_DTYPE_F16 ? fpx_f32_to_f16(v) : fpx_f32_to_bf16(v);
  }
  cr_assert_eq(fpx_reference_gemm(p->format, p->act, h->x, h->codes, h->scales, p->group, p->m, p->n,
                                  p->k, h->ref),
               FPX_OK, "%s", fpx_last_error());
  /* magnitude bound: reference of |x| against |w| */
  fpx_format_info info;
  fpx_format_get_info(p->format, &info);
  uint8_t *abs_codes = malloc(p->n * p->k);
  uint16_t *abs_x = malloc(p->m * p->k * 2);
  for (size_t i = 0; i < p->n * p->k; i++) abs_codes[i] = h->codes[i] & (uint8_t)~(1u << (info.bits - 1));
  for (size_t i = 0; i < p->m * p->k; i++) abs_x[i] = h->x[i] & 0x7FFF;
  cr_assert_eq(fpx_reference_gemm(p->format, p->act, abs_x, abs_codes, h->scales, p->group, p->m, p->n,
                                  p->k, h->mag),
               FPX_OK);
  free(abs_codes);
  free(abs_x);
  free(w);
}

static void free_data(host_data *h) {
  free(h->codes);
  free(h->scales);
  free(h->x);
  free(h->ref);
  free(h->mag);
}

/* Tolerance: output rounding plus FP32 accumulation over K. */
static int check_result(const problem *p, const host_data *h, const void *y, char *why, size_t why_size) {
  const double u_out = p->out == FPX_DTYPE_F32 ? ldexp(1, -24) : p->out == FPX_DTYPE_F16 ? ldexp(1, -11) : ldexp(1, -8);
  for (size_t i = 0; i < p->m * p->n; i++) {
    double got = load_out(p->out, y, i), want = h->ref[i];
    double tol = u_out * fabs(want) + ((double)p->k * ldexp(1, -22) + ldexp(1, -16)) * h->mag[i] + 1e-30;
    if (!(fabs(got - want) <= tol)) {
      snprintf(why, why_size, "Y[%zu][%zu] = %.9g, reference %.9g (tolerance %.3g)", i / p->n, i % p->n, got,
               want, tol);
      return 0;
    }
  }
  return 1;
}

/* Runs one problem on `stream`; returns after checking. */
static void run_problem(gpu *g, const problem *p, CUstream stream) {
  host_data h;
  fpx_format_info info;
  fpx_format_get_info(p->format, &info);
  make_data(p, &h);
  fpx_weights *w = NULL;
  cr_assert_eq(fpx_weights_upload(g->ctx, p->format, h.codes, h.scales, p->n, p->k, p->group, &w), FPX_OK,
               "%s", fpx_last_error());
  CUdeviceptr dx, dy;
  const size_t ybytes = p->m * p->n * dsize(p->out);
  CU_OK(*g, cuMemAlloc(&dx, p->m * p->k * 2));
  CU_OK(*g, cuMemAlloc(&dy, ybytes));
  CU_OK(*g, cuMemcpyHtoD(dx, h.x, p->m * p->k * 2));
  void *y = malloc(ybytes);
  for (int rep = 0; rep < 2; rep++) { /* second run: warm path, counters re-armed */
    CU_OK(*g, cuMemsetD32Async(dy, 0xFFFFFFFFu, ybytes / 4, stream)); /* NaN poison */
    if (ybytes % 4) CU_OK(*g, cuMemsetD8Async(dy + ybytes - 2, 0xFF, 2, stream));
    fpx_gemm_args a = {sizeof a, w, p->act, p->out, p->m, dx, dy, p->config, 0, 0};
    cr_assert_eq(fpx_gemm(g->ctx, &a, stream), FPX_OK, "fpx_gemm: %s", fpx_last_error());
    CU_OK(*g, cuStreamSynchronize(stream));
    CU_OK(*g, cuMemcpyDtoH(y, dy, ybytes));
    char why[256];
    cr_assert(check_result(p, &h, y, why, sizeof why),
              "%s act=%s out=%s group=%d m=%zu n=%zu k=%zu split=%d rep=%d: %s", info.name,
              fpx_dtype_name(p->act), fpx_dtype_name(p->out), p->group, p->m, p->n, p->k,
              p->config ? p->config->split_k : 0, rep, why);
  }
  free(y);
  g->cu->cuMemFree(dx);
  g->cu->cuMemFree(dy);
  fpx_weights_destroy(w);
  free_data(&h);
}

static const size_t test_m[] = {1, 3, 16, 17, 64, 127, 128, 1000};

/* Every M with the default config on an unaligned shape, and a few split-K
 * and tile configurations on an aligned one, for one format. */
static void run_format(const char *name) {
  gpu g = gpu_open();
  fpx_format f;
  cr_assert_eq(fpx_format_parse(name, &f), FPX_OK);
  seed_fresh();
  static const fpx_dtype acts[] = {FPX_DTYPE_F16, FPX_DTYPE_BF16};
  static const int groups[] = {0, 64, 128};
  fpx_format_info info;
  fpx_format_get_info(f, &info);
  for (int a = 0; a < 2; a++) {
    if (acts[a] == FPX_DTYPE_F16 && info.format.exp_bits == 5 && !info.has_inf) continue;
    for (int gi = 0; gi < 3; gi++) {
      for (size_t mi = 0; mi < sizeof test_m / sizeof test_m[0]; mi++) {
        problem p = {f, acts[a], acts[a], groups[gi], test_m[mi], 200, 328, NULL};
        run_problem(&g, &p, NULL);
      }
      static const fpx_wo_config configs[] = {
          {4, 1, 1, 1, 0, 0, 0}, {2, 2, 2, 3, 0, 0, 0}, {8, 1, 4, 8, 0, 0, 0}, {1, 4, 1, 2, 0, 0, 0}, {4, 2, 8, 5, 0, 0, 0}};
      for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
        problem p = {f, acts[a], FPX_DTYPE_F32, groups[gi], c % 2 ? 37 : 5, 256, 2048, &configs[c]};
        run_problem(&g, &p, NULL);
      }
      /* two token tiles per block (activations prefetched) over a partial
       * second tile, short unaligned K and idle K warps */
      static const fpx_wo_config two_tiles = {1, 4, 2, 1, 0, 0, 0};
      problem p = {f, acts[a], acts[a], groups[gi], 13, 200, 328, &two_tiles};
      run_problem(&g, &p, NULL);
    }
  }
  fpx_ctx_destroy(g.ctx);
}

#define FORMAT_TEST(fmt) \
  Test(gpu_gemm, fmt, .timeout = 600) { run_format(#fmt); }
FORMAT_TEST(e1m1)
FORMAT_TEST(e2m0)
FORMAT_TEST(e1m2)
FORMAT_TEST(e2m1)
FORMAT_TEST(e3m0)
FORMAT_TEST(e1m3)
FORMAT_TEST(e2m2)
FORMAT_TEST(e3m1)
FORMAT_TEST(e4m0)
FORMAT_TEST(e1m4)
FORMAT_TEST(e2m3)
FORMAT_TEST(e3m2)
FORMAT_TEST(e4m1)
FORMAT_TEST(e5m0)
FORMAT_TEST(e1m5)
FORMAT_TEST(e2m4)
FORMAT_TEST(e3m3)
FORMAT_TEST(e4m2)
FORMAT_TEST(e5m1)
FORMAT_TEST(e1m6)
FORMAT_TEST(e2m5)
FORMAT_TEST(e3m4)
FORMAT_TEST(e4m3)
FORMAT_TEST(e5m2)

Test(gpu_gemm, output_dtypes_and_large_k) {
  gpu g = gpu_open();
  seed_fresh();
  fpx_format f = {3, 2};
  problem p1 = {f, FPX_DTYPE_BF16, FPX_DTYPE_F16, 128, 9, 4096, 14336, NULL};
  run_problem(&g, &p1, NULL);
  problem p2 = {f, FPX_DTYPE_F16, FPX_DTYPE_BF16, 0, 1, 1000, 8192, NULL};
  run_problem(&g, &p2, NULL);
  fpx_ctx_destroy(g.ctx);
}

Test(gpu_gemm, dequant_matches_cpu) {
  gpu g = gpu_open();
  seed_fresh();
  static const char *names[] = {"e2m1", "e3m2", "e2m3", "e4m3", "e5m2", "e1m6"};
  for (size_t i = 0; i < 6; i++)
    for (int group = 0; group <= 64; group += 64)
      for (int od = 1; od <= 2; od++) {
        fpx_format f;
        fpx_format_parse(names[i], &f);
        problem p = {f, FPX_DTYPE_BF16, (fpx_dtype)od, group, 1, 40, 520, NULL};
        host_data h;
        make_data(&p, &h);
        fpx_weights *w;
        cr_assert_eq(fpx_weights_upload(g.ctx, f, h.codes, h.scales, p.n, p.k, group, &w), FPX_OK);
        CUdeviceptr d;
        CU_OK(g, cuMemAlloc(&d, p.n * p.k * 2));
        CU_OK(g, cuMemsetD32Async(d, 0xFFFFFFFFu, p.n * p.k / 2, NULL));
        cr_assert_eq(fpx_dequant(g.ctx, w, (fpx_dtype)od, d, NULL), FPX_OK, "%s", fpx_last_error());
        uint16_t *got = malloc(p.n * p.k * 2), *want = malloc(p.n * p.k * 2);
        CU_OK(g, cuMemcpyDtoH(got, d, p.n * p.k * 2));
        cr_assert_eq(fpx_dequantize(f, h.codes, h.scales, p.n, p.k, group, (fpx_dtype)od, want), FPX_OK);
        for (size_t e = 0; e < p.n * p.k; e++) {
          double a = load_out((fpx_dtype)od, got, e), b = load_out((fpx_dtype)od, want, e);
          cr_assert(fabs(a - b) <= ldexp(fabs(b), od == 1 ? -10 : -7), "%s element %zu: %g vs %g", names[i],
                    e, a, b);
        }
        free(got);
        free(want);
        g.cu->cuMemFree(d);
        fpx_weights_destroy(w);
        free_data(&h);
      }
  fpx_ctx_destroy(g.ctx);
}

Test(gpu_gemm, two_streams) {
  gpu g = gpu_open();
  seed_fresh();
  CUstream s1, s2;
  CU_OK(g, cuStreamCreate(&s1, CU_STREAM_NON_BLOCKING));
  CU_OK(g, cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING));
  fpx_format f = {2, 2};
  fpx_wo_config split = {4, 1, 1, 4, 0, 0, 0};
  problem p = {f, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0, 4, 512, 4096, &split};
  run_problem(&g, &p, s1);
  run_problem(&g, &p, s2);
  g.cu->cuStreamDestroy(s1);
  g.cu->cuStreamDestroy(s2);
  fpx_ctx_destroy(g.ctx);
}

typedef struct thread_job {
  gpu *g;
  int index;
} thread_job;

static void *thread_main(void *arg) {
  thread_job *job = arg;
  static const char *names[] = {"e2m1", "e3m2", "e4m3", "e2m2"};
  fpx_format f;
  fpx_format_parse(names[job->index % 4], &f);
  fpx_wo_config cfg = {4, 1, 1, 2, 0, 0, 0};
  problem p = {f, FPX_DTYPE_BF16, FPX_DTYPE_F32, 0, 2 + (size_t)job->index, 96, 1024, &cfg};
  CUstream s;
  /* the test's own stream needs the context current in this thread */
  cr_assert_eq(job->g->cu->cuCtxSetCurrent(job->g->ctx->cu_ctx), CUDA_SUCCESS);
  cr_assert_eq(job->g->cu->cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  for (int rep = 0; rep < 3; rep++) run_problem(job->g, &p, s);
  job->g->cu->cuStreamDestroy(s);
  return NULL;
}

Test(gpu_gemm, threads_share_a_context) {
  gpu g = gpu_open();
  seed_fresh();
  pthread_t threads[4];
  thread_job jobs[4];
  for (int i = 0; i < 4; i++) {
    jobs[i] = (thread_job){&g, i};
    cr_assert_eq(pthread_create(&threads[i], NULL, thread_main, &jobs[i]), 0);
  }
  for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);
  fpx_ctx_destroy(g.ctx);
}

/* fpx_gemm with configuration cfg at m tokens, captured into a CUDA graph
 * (with the output poisoned first) and replayed three times, each replay
 * checked against the CPU reference. */
static void graph_capture_and_replay(gpu g, const fpx_wo_config *cfg, size_t m) {
  seed_fresh();
  fpx_format f = {3, 2};
  problem p = {f, FPX_DTYPE_BF16, FPX_DTYPE_F32, 0, m, 512, 2048, cfg};
  host_data h;
  make_data(&p, &h);
  fpx_weights *w;
  cr_assert_eq(fpx_weights_upload(g.ctx, f, h.codes, h.scales, p.n, p.k, 0, &w), FPX_OK);
  CUstream s;
  CU_OK(g, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  CUdeviceptr dx, dy;
  CU_OK(g, cuMemAlloc(&dx, p.m * p.k * 2));
  CU_OK(g, cuMemAlloc(&dy, p.m * p.n * 4));
  CU_OK(g, cuMemcpyHtoD(dx, h.x, p.m * p.k * 2));
  fpx_gemm_args a = {sizeof a, w, p.act, p.out, p.m, dx, dy, cfg, 0, 0};
  cr_assert_eq(fpx_gemm(g.ctx, &a, s), FPX_OK, "%s", fpx_last_error()); /* warm: compile + workspace */
  CU_OK(g, cuStreamSynchronize(s));
  CUgraph graph;
  CUgraphExec exec;
  CU_OK(g, cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
  CU_OK(g, cuMemsetD32Async(dy, 0xFFFFFFFFu, p.m * p.n, s));
  cr_assert_eq(fpx_gemm(g.ctx, &a, s), FPX_OK, "captured fpx_gemm: %s", fpx_last_error());
  CU_OK(g, cuStreamEndCapture(s, &graph));
  CU_OK(g, cuGraphInstantiate(&exec, graph, 0));
  float *y = malloc(p.m * p.n * 4);
  for (int rep = 0; rep < 3; rep++) {
    CU_OK(g, cuMemsetD32Async(dy, 0xFFFFFFFFu, p.m * p.n, s));
    CU_OK(g, cuStreamSynchronize(s));
    CU_OK(g, cuGraphLaunch(exec, s));
    CU_OK(g, cuStreamSynchronize(s));
    CU_OK(g, cuMemcpyDtoH(y, dy, p.m * p.n * 4));
    char why[256];
    cr_assert(check_result(&p, &h, y, why, sizeof why), "replay %d: %s", rep, why);
  }
  free(y);
  g.cu->cuGraphExecDestroy(exec);
  g.cu->cuGraphDestroy(graph);
  g.cu->cuMemFree(dx);
  g.cu->cuMemFree(dy);
  g.cu->cuStreamDestroy(s);
  fpx_weights_destroy(w);
  free_data(&h);
  fpx_ctx_destroy(g.ctx);
}

Test(gpu_gemm, graph_capture_and_replay) {
  const fpx_wo_config cfg = {4, 1, 1, 4, 0, 0, 0};
  graph_capture_and_replay(gpu_open(), &cfg, 3);
}

/* The wgmma family: two launches per call, the GEMM a programmatic dependent
 * of the X permutation pass; both must be captured and replayed in order. */
Test(gpu_gemm, graph_capture_and_replay_wgmma) {
  gpu g = gpu_open();
  fpx_device_info info;
  cr_assert_eq(fpx_ctx_device_info(g.ctx, &info), FPX_OK);
  if (strcmp(info.arch, "sm_90a") != 0) {
    fpx_ctx_destroy(g.ctx);
    cr_skip_test("%s is %s; the wgmma family needs sm_90a", info.name, info.arch);
  }
  const fpx_wo_config cfg = {.kernel = 1, .tokens = 64, .stages = 4, .split_k = 2};
  graph_capture_and_replay(g, &cfg, 100);
}

Test(gpu_gemm, bad_pointers_and_shapes_are_rejected) {
  gpu g = gpu_open();
  fpx_format f = {2, 1};
  uint8_t codes[16 * 16] = {0};
  float scales[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  fpx_weights *w;
  cr_assert_eq(fpx_weights_upload(g.ctx, f, codes, scales, 16, 16, 0, &w), FPX_OK);
  CUdeviceptr d;
  CU_OK(g, cuMemAlloc(&d, 4096));
  fpx_gemm_args a = {sizeof a, w, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 1, d, d + 1024, NULL, 0, 0};
  a.x = d + 2;
  cr_assert_eq(fpx_gemm(g.ctx, &a, NULL), FPX_ERR_MISALIGNED);
  cr_assert(strstr(fpx_ctx_last_error(g.ctx), "x = 0x") != NULL, "%s", fpx_ctx_last_error(g.ctx));
  a.x = 0;
  cr_assert_eq(fpx_gemm(g.ctx, &a, NULL), FPX_ERR_INVALID_ARGUMENT);
  a.x = d;
  a.y = d + 1025;
  cr_assert_eq(fpx_gemm(g.ctx, &a, NULL), FPX_ERR_MISALIGNED);
  a.y = d + 1024;
  a.m = 0;
  cr_assert_eq(fpx_gemm(g.ctx, &a, NULL), FPX_ERR_UNSUPPORTED_SHAPE);
  a.m = 1;
  a.x_dtype = FPX_DTYPE_F32;
  cr_assert_eq(fpx_gemm(g.ctx, &a, NULL), FPX_ERR_INVALID_ARGUMENT);
  a.x_dtype = FPX_DTYPE_BF16;
  fpx_wo_config bad = {3, 1, 1, 1, 0, 0, 0};
  a.config = &bad;
  cr_assert_eq(fpx_gemm(g.ctx, &a, NULL), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_ctx_last_error(g.ctx), "warps_n 3") != NULL, "%s", fpx_ctx_last_error(g.ctx));
  fpx_weights *odd;
  cr_assert_eq(fpx_weights_upload(g.ctx, f, codes, scales, 1, 12, 0, &odd), FPX_OK);
  a.config = NULL;
  a.weights = odd;
  cr_assert_eq(fpx_gemm(g.ctx, &a, NULL), FPX_ERR_UNSUPPORTED_SHAPE);
  cr_assert(strstr(fpx_ctx_last_error(g.ctx), "multiple of 8") != NULL);
  fpx_weights_destroy(odd);
  g.cu->cuMemFree(d);
  fpx_weights_destroy(w);
  fpx_ctx_destroy(g.ctx);
}

Test(gpu_gemm, tune_on_first_use_keeps_a_correct_winner) {
  fpx_ctx_options opts = {sizeof opts, 0, ":memory:", FPX_CTX_TUNE_ON_FIRST_USE};
  gpu g = {0};
  fpx_status st = fpx_ctx_create(&opts, &g.ctx);
  if (st == FPX_ERR_NO_DEVICE) cr_skip_test("no CUDA device: %s", fpx_last_error());
  cr_assert_eq(st, FPX_OK, "%s", fpx_last_error());
  cr_assert_eq(fpx__cu_get(&g.cu), FPX_OK);
  seed_fresh();
  fpx_format f = {2, 1};
  problem p = {f, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0, 5, 4096, 4096, NULL};
  run_problem(&g, &p, NULL); /* two calls: the first tunes, both are checked */
  fpx_ctx_stats stats;
  memset(&stats, 0, sizeof stats);
  stats.struct_size = sizeof stats;
  cr_assert_eq(fpx_ctx_get_stats(g.ctx, &stats), FPX_OK);
  cr_assert_eq(stats.calls_first_use_tuned, 2, "first-use tuned calls: %llu",
               (unsigned long long)stats.calls_first_use_tuned);
  cr_assert_eq(stats.calls_heuristic, 0);
  cr_assert_eq(stats.lookups, 1);
  cr_assert_gt(stats.kernels_compiled, 1, "the candidates were compiled");
  fpx_ctx_destroy(g.ctx);
}

Test(gpu_gemm, stats_count_explicit_and_heuristic_calls) {
  gpu g = gpu_open();
  seed_fresh();
  fpx_format f = {3, 2};
  fpx_wo_config cfg = {4, 1, 1, 2, 0, 0, 0};
  problem explicit_cfg = {f, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0, 2, 256, 1024, &cfg};
  problem fallback = {f, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0, 2, 256, 1024, NULL};
  run_problem(&g, &explicit_cfg, NULL);
  run_problem(&g, &fallback, NULL);
  fpx_ctx_stats stats;
  memset(&stats, 0, sizeof stats);
  stats.struct_size = sizeof stats;
  cr_assert_eq(fpx_ctx_get_stats(g.ctx, &stats), FPX_OK);
  cr_assert_eq(stats.calls_explicit, 2);
  cr_assert_eq(stats.calls_heuristic, 2); /* no database entry for this made-up shape */
  cr_assert_eq(stats.lookups, 1);
  cr_assert_eq(stats.user_db_open, 1, "%s", stats.user_db_note);
  fpx_ctx_destroy(g.ctx);
}
