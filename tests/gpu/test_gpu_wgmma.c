/*
 * test_gpu_wgmma.c - GPU tests of the Hopper wgmma GEMM family, through its
 * internal launcher fpx__wgmma_gemm_launch, against a CPU reference in
 * double: every M in {64, 128, 1000, 4096} x N in {128, 1000, 4096} x K in
 * {256, 4096, 4104} for each weight format (e4m3, e3m2, e2m3, e2m2, e2m1,
 * e5m2) with bf16 activations, and for e3m2 and e4m3 with e4m3 activations;
 * per-row scales and group 128 in turn, every tokens (64/128/256) and
 * several stage counts, bf16 output mostly (f16 and f32 on some shapes).
 * Then unaligned small shapes (N = 1, 200; K = 330, 520: K % 8 != 0 is
 * allowed down to K even, or K % 4 == 0 with FP8 X), f16 activations, e5m2
 * activations, a per-tensor X scale, the other group sizes, launches of a
 * few blocks that each run many units, stream-K, and the launcher's
 * argument checks.
 *
 * Outputs are poisoned (NaN) before each of two launches per problem (cold,
 * then warm). Every output must be written and finite; the values are
 * compared with the reference on every output for problems up to 2^26
 * multiply-adds (where the local reference is also checked against
 * fpx_reference_gemm / fpx_reference_gemm_qx), else on a sample: the four
 * corners, the last row, the last column and 2000 random outputs. Each test
 * creates its CUDA state itself (after Criterion's fork) and skips without
 * a driver or on a GPU other than sm_90. FPX_TEST_SEED=N replays a run.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "context.h"
#include "cuda_api.h"
#include "fpx.h"
#include "wgmma_config.h"
#include "wgmma_gemm.h"

typedef struct gpu {
  fpx_ctx *ctx;
  const fpx__cu_table *cu;
} gpu;

static gpu gpu_open_any(void) {
  gpu g = {0};
  /* a private database: tests neither read nor leave tuned entries */
  fpx_ctx_options opts = {sizeof opts, 0, ":memory:", 0};
  fpx_status st = fpx_ctx_create(&opts, &g.ctx);
  if (st == FPX_ERR_NO_DEVICE) cr_skip_test("no CUDA device: %s", fpx_last_error());
  cr_assert_eq(st, FPX_OK, "fpx_ctx_create: %s", fpx_last_error());
  cr_assert_eq(fpx__cu_get(&g.cu), FPX_OK);
  return g;
}

/* A context on an sm_90 GPU, else a skip. */
static gpu gpu_open(void) {
  gpu g = gpu_open_any();
  if (g.ctx->sm_version != 90) {
    char arch[16];
    snprintf(arch, sizeof arch, "%s", g.ctx->info.arch);
    fpx_ctx_destroy(g.ctx);
    cr_skip_test("the wgmma kernels need sm_90a; this GPU is %s", arch);
  }
  return g;
}

#define CU_OK(g, call) cr_assert_eq((g).cu->call, CUDA_SUCCESS, "%s failed", #call)

/* ---- random numbers ------------------------------------------------------ */

static unsigned long long seed_state, seed_used;
static double uniform(void) { /* xorshift64*, in [-1, 1) */
  seed_state ^= seed_state >> 12;
  seed_state ^= seed_state << 25;
  seed_state ^= seed_state >> 27;
  return (double)((seed_state * 2685821657736338717ull) >> 11) / 4503599627370496.0 - 1.0;
}
static void seed_fresh(void) {
  const char *env = getenv("FPX_TEST_SEED");
  seed_state = env != NULL && *env ? strtoull(env, NULL, 0)
                                   : (unsigned long long)time(NULL) * 6364136223846793005ull ^
                                         (unsigned long long)getpid() ^ (unsigned long long)clock();
  if (seed_state == 0) seed_state = 1;
  seed_used = seed_state;
}
static size_t pick(size_t n) { /* uniform in [0, n) */
  size_t i = (size_t)((uniform() + 1.0) * 0.5 * (double)n);
  return i < n ? i : n - 1;
}

static void *xmalloc(size_t size) {
  void *p = malloc(size ? size : 1);
  cr_assert_not_null(p, "out of host memory (%zu bytes)", size);
  return p;
}

static fpx_format parse(const char *name) {
  fpx_format f;
  cr_assert_eq(fpx_format_parse(name, &f), FPX_OK, "%s", fpx_last_error());
  return f;
}

static const char *format_name(fpx_format f) {
  static char names[4][8];
  static unsigned next;
  char *name = names[next++ % 4];
  fpx_format_info info;
  if (fpx_format_get_info(f, &info) != FPX_OK) return "?";
  snprintf(name, 8, "%s", info.name);
  return name;
}

static void decode_table(fpx_format f, double value[256]) {
  fpx_format_info info;
  cr_assert_eq(fpx_format_get_info(f, &info), FPX_OK);
  for (int c = 0; c < 256; c++) {
    value[c] = NAN;
    if (c < info.num_codes) cr_assert_eq(fpx_decode_value(f, (unsigned)c, &value[c]), FPX_OK);
  }
}

static int is_fp8(fpx_dtype d) { return d == FPX_DTYPE_E4M3 || d == FPX_DTYPE_E5M2; }
static size_t dsize(fpx_dtype d) { return d == FPX_DTYPE_F32 ? 4 : is_fp8(d) ? 1 : 2; }

/* ---- weights ------------------------------------------------------------- */

typedef struct host_w {
  fpx_format format;
  int group;
  size_t n, k, groups_per_row;
  uint8_t *codes;
  float *scales;
  double value[256];
  fpx_weights *dev;
} host_w;

/* W[n][k] = uniform * (1 + (n*k + k') % 7) * 2^(n % 3 - 1), quantized in
 * chunks of rows so that no full-size float copy is needed. */
static void weights_make(gpu *g, fpx_format f, int group, size_t n, size_t k, host_w *w) {
  enum { CHUNK = 64 };
  memset(w, 0, sizeof *w);
  w->format = f;
  w->group = group;
  w->n = n;
  w->k = k;
  w->groups_per_row = group ? (k + (size_t)group - 1) / (size_t)group : 1;
  w->codes = xmalloc(n * k);
  w->scales = xmalloc(n * w->groups_per_row * sizeof(float));
  decode_table(f, w->value);
  float *buf = xmalloc(CHUNK * k * sizeof(float));
  fpx_quant_params qp = {sizeof qp, group, NULL};
  for (size_t r0 = 0; r0 < n; r0 += CHUNK) {
    const size_t rows = n - r0 < CHUNK ? n - r0 : CHUNK;
    for (size_t r = 0; r < rows; r++) {
      const double gain = ldexp(1.0, (int)((r0 + r) % 3) - 1);
      for (size_t c = 0; c < k; c++)
        buf[r * k + c] = (float)(uniform() * (1.0 + (double)(((r0 + r) * k + c) % 7)) * gain);
    }
    cr_assert_eq(fpx_quantize(f, FPX_DTYPE_F32, buf, rows, k, &qp, w->codes + r0 * k,
                              w->scales + r0 * w->groups_per_row),
                 FPX_OK, "%s", fpx_last_error());
  }
  free(buf);
  cr_assert_eq(fpx_weights_upload(g->ctx, f, w->codes, w->scales, n, k, group, &w->dev), FPX_OK,
               "fpx_weights_upload %s %zu x %zu group %d: %s", format_name(f), n, k, group,
               fpx_last_error());
}

static void weights_free(host_w *w) {
  fpx_weights_destroy(w->dev);
  free(w->codes);
  free(w->scales);
  memset(w, 0, sizeof *w);
}

/* ---- activations ----------------------------------------------------------- */

/* X as the GPU reads it: f16/bf16 bit patterns, or FP8 codes with FP32
 * scales (m of them, or one). */
typedef struct host_x {
  fpx_dtype dtype;
  int per_tensor;
  size_t m, k;
  void *data;    /* m * k elements */
  float *scales; /* FP8 only */
  double value[256];
} host_x;

/* X[m][k] = uniform * 2^(m % 5 - 2): rows differ in scale, so a token given
 * another token's data or scale is off by a power of two. */
static void acts_make(fpx_dtype dtype, int per_tensor, size_t m, size_t k, host_x *x) {
  enum { CHUNK = 64 };
  memset(x, 0, sizeof *x);
  x->dtype = dtype;
  x->per_tensor = per_tensor;
  x->m = m;
  x->k = k;
  x->data = xmalloc(m * k * dsize(dtype));
  if (!is_fp8(dtype)) {
    uint16_t *d = x->data;
    for (size_t r = 0; r < m; r++) {
      const double gain = ldexp(1.0, (int)(r % 5) - 2);
      for (size_t c = 0; c < k; c++) {
        const float v = (float)(uniform() * gain);
        d[r * k + c] = dtype == FPX_DTYPE_F16 ? fpx_f32_to_f16(v) : fpx_f32_to_bf16(v);
      }
    }
    return;
  }
  const fpx_format xf = dtype == FPX_DTYPE_E4M3 ? (fpx_format){4, 3} : (fpx_format){5, 2};
  decode_table(xf, x->value);
  x->scales = xmalloc((per_tensor ? 1 : m) * sizeof(float));
  fpx_act_quant_params ap = {sizeof ap, per_tensor ? FPX_ACT_SCALE_PER_TENSOR : FPX_ACT_SCALE_PER_ROW,
                             0, 0, xf};
  const size_t chunk = per_tensor ? m : CHUNK;
  float *buf = xmalloc(chunk * k * sizeof(float));
  for (size_t r0 = 0; r0 < m; r0 += chunk) {
    const size_t rows = m - r0 < chunk ? m - r0 : chunk;
    for (size_t r = 0; r < rows; r++) {
      const double gain = ldexp(1.0, (int)((r0 + r) % 5) - 2);
      for (size_t c = 0; c < k; c++) buf[r * k + c] = (float)(uniform() * gain);
    }
    cr_assert_eq(fpx_quantize_activations(&ap, FPX_DTYPE_F32, buf, rows, k,
                                          (uint8_t *)x->data + r0 * k,
                                          x->scales + (per_tensor ? 0 : r0)),
                 FPX_OK, "%s", fpx_last_error());
  }
  free(buf);
}

static void acts_free(host_x *x) {
  free(x->data);
  free(x->scales);
  memset(x, 0, sizeof *x);
}

/* X[i][c] in double, with its scale (FP8). */
static double x_at(const host_x *x, size_t i, size_t c) {
  if (is_fp8(x->dtype))
    return x->value[((const uint8_t *)x->data)[i * x->k + c]] * (double)x->scales[x->per_tensor ? 0 : i];
  const uint16_t b = ((const uint16_t *)x->data)[i * x->k + c];
  return x->dtype == FPX_DTYPE_F16 ? fpx_f16_to_f32(b) : fpx_bf16_to_f32(b);
}

/* ---- checking ------------------------------------------------------------ */

#define FULL_REFERENCE_MACS ((size_t)1 << 26)
#define RANDOM_SAMPLES 2000

static double load_out(fpx_dtype d, const void *buf, size_t i) {
  if (d == FPX_DTYPE_F32) return ((const float *)buf)[i];
  const uint16_t b = ((const uint16_t *)buf)[i];
  return d == FPX_DTYPE_F16 ? fpx_f16_to_f32(b) : fpx_bf16_to_f32(b);
}

/* Y[i][j] in double, sum |x w| and sqrt(sum (x w)^2) over k. */
static void reference_at(const host_w *w, const host_x *x, size_t i, size_t j, double *out_ref,
                         double *out_mag, double *out_l2) {
  const uint8_t *wc = w->codes + j * w->k;
  const float *ws = w->scales + j * w->groups_per_row;
  double s = 0, a = 0, q = 0;
  for (size_t c = 0; c < w->k; c++) {
    const double p = x_at(x, i, c) * w->value[wc[c]] * (double)ws[w->group ? c / (size_t)w->group : 0];
    s += p;
    a += fabs(p);
    q += p * p;
  }
  *out_ref = s;
  *out_mag = a;
  *out_l2 = sqrt(q);
}

static double unit_roundoff(fpx_dtype out) {
  return out == FPX_DTYPE_F32 ? ldexp(1, -24) : out == FPX_DTYPE_F16 ? ldexp(1, -11) : ldexp(1, -8);
}

/*
 * Tolerance of one output (ref exact, mag = sum |x w|, l2 = sqrt(sum (x
 * w)^2)): the rounding of the output, FP32 accumulation and the scale
 * products ((K 2^-22 + 2^-16) mag, as the weight-only tests). FP8 X adds
 * what the FP8 tensor cores of sm_90 do differently: the products of one
 * k32 step are aligned to the largest before they are added (2^-12 mag),
 * and the accumulator keeps about 13 mantissa bits between steps (2^-13 per
 * step of |ref| plus the random-walk excursion of the partial sums, 4 l2).
 */
static double tolerance(fpx_dtype x_dtype, fpx_dtype out, size_t k, double ref, double mag, double l2) {
  double tol = unit_roundoff(out) * fabs(ref) + ((double)k * ldexp(1, -22) + ldexp(1, -16)) * mag;
  if (is_fp8(x_dtype))
    tol += ldexp(1, -12) * mag + ldexp(1, -13) * (double)((k + 31) / 32) * (fabs(ref) + 4 * l2);
  return tol + 1e-30;
}

/* FP8 X: the per-output tolerance is loose at large K, so the RMS error
 * over the checked outputs (relative to the RMS of l2) must also stay small:
 * a wrong scale (rows differ by powers of two), a missing 256-column block
 * or swapped operands are far above this. */
static double rms_bound(fpx_dtype out, size_t k) {
  return 2 * unit_roundoff(out) + ldexp(1, -14) * (double)((k + 31) / 32) + ldexp(1, -11);
}

static void check_output(const host_w *w, const host_x *x, fpx_dtype out, const void *y,
                         const char *what) {
  const size_t m = x->m, n = w->n, k = w->k;
  for (size_t i = 0; i < m * n; i++) {
    const double v = load_out(out, y, i);
    cr_assert(isfinite(v), "%s seed=%llu: Y[%zu][%zu] = %g (not written or not finite)", what,
              seed_used, i / n, i % n, v);
  }
  const int full = m * n * k <= FULL_REFERENCE_MACS;
  double *lib = NULL;
  size_t count;
  if (full) {
    count = m * n;
    lib = xmalloc(m * n * sizeof *lib);
    if (is_fp8(x->dtype))
      cr_assert_eq(fpx_reference_gemm_qx(x->dtype == FPX_DTYPE_E4M3 ? (fpx_format){4, 3}
                                                                    : (fpx_format){5, 2},
                                         x->data, x->scales, x->per_tensor, w->format, w->codes,
                                         w->scales, w->group, m, n, k, lib),
                   FPX_OK, "%s", fpx_last_error());
    else
      cr_assert_eq(fpx_reference_gemm(w->format, x->dtype, x->data, w->codes, w->scales, w->group, m,
                                      n, k, lib),
                   FPX_OK, "%s", fpx_last_error());
  } else {
    count = 4 + n + m + RANDOM_SAMPLES;
  }
  double err2 = 0, l2sq = 0;
  for (size_t s = 0; s < count; s++) {
    size_t i, j;
    if (full) {
      i = s / n;
      j = s % n;
    } else if (s < 4) { /* corners */
      i = s < 2 ? 0 : m - 1;
      j = s % 2 ? n - 1 : 0;
    } else if (s < 4 + n) { /* the last row */
      i = m - 1;
      j = s - 4;
    } else if (s < 4 + n + m) { /* the last column */
      i = s - 4 - n;
      j = n - 1;
    } else {
      i = pick(m);
      j = pick(n);
    }
    double ref, mag, l2;
    reference_at(w, x, i, j, &ref, &mag, &l2);
    if (lib != NULL)
      cr_assert(fabs(lib[i * n + j] - ref) <= 1e-12 * mag + 1e-300,
                "%s: local reference %.17g vs the library's %.17g at [%zu][%zu]", what, ref,
                lib[i * n + j], i, j);
    const double got = load_out(out, y, i * n + j), err = fabs(got - ref);
    const double tol = tolerance(x->dtype, out, k, ref, mag, l2);
    cr_assert(err <= tol,
              "%s seed=%llu: Y[%zu][%zu] = %.9g, reference %.9g (error %.3g, tolerance %.3g)", what,
              seed_used, i, j, got, ref, err, tol);
    err2 += err * err;
    l2sq += l2 * l2;
  }
  if (is_fp8(x->dtype) && l2sq > 0) {
    const double rms = sqrt(err2 / l2sq);
    cr_assert(rms <= rms_bound(out, k), "%s seed=%llu: RMS error %.3g of RMS l2, bound %.3g", what,
              seed_used, rms, rms_bound(out, k));
  }
  free(lib);
}

/* ---- running ------------------------------------------------------------- */

/* Launches (w, x) -> out with cfg twice (cold, then warm), poisoning Y
 * before each, and checks both results, which must also be identical bit
 * for bit (split-K sums in a fixed order; its tile counters re-arm). With a per-tensor X scale, the
 * scale buffer still has m entries and entries 1.. are NaN: a kernel that
 * reads a per-token scale there writes NaN. */
static void run(gpu *g, const host_w *w, const host_x *x, fpx_dtype out, fpx__wgmma_config cfg) {
  const size_t m = x->m, n = w->n, k = w->k;
  const size_t x_bytes = m * k * dsize(x->dtype), y_bytes = m * n * dsize(out);
  char what[256];
  snprintf(what, sizeof what,
           "%s x=%s y=%s group=%d m=%zu n=%zu k=%zu tokens=%d stages=%d split_k=%d max_blocks=%d "
           "raster=%d%s",
           format_name(w->format), fpx_dtype_name(x->dtype), fpx_dtype_name(out), w->group, m, n, k,
           cfg.tokens, cfg.stages, cfg.split_k, cfg.max_blocks, cfg.raster,
           x->per_tensor ? " per-tensor" : "");
  CUdeviceptr dx, dy, dxs = 0;
  CU_OK(*g, cuMemAlloc(&dx, x_bytes));
  CU_OK(*g, cuMemAlloc(&dy, y_bytes));
  CU_OK(*g, cuMemcpyHtoD(dx, x->data, x_bytes));
  if (is_fp8(x->dtype)) {
    CU_OK(*g, cuMemAlloc(&dxs, m * sizeof(float)));
    CU_OK(*g, cuMemsetD32Async(dxs, 0x7FC00000u, m, NULL)); /* quiet NaN */
    CU_OK(*g, cuCtxSynchronize());
    CU_OK(*g, cuMemcpyHtoD(dxs, x->scales, (x->per_tensor ? 1 : m) * sizeof(float)));
  }
  const fpx__wo_key key = {w->format, x->dtype, out, w->group};
  const fpx_gemm_args args = {sizeof args, w->dev, x->dtype, out, m, dx, dy, NULL, dxs, x->per_tensor};
  void *y = xmalloc(y_bytes), *first = xmalloc(y_bytes);
  for (int rep = 0; rep < 2; rep++) {
    CU_OK(*g, cuMemsetD32Async(dy, 0xFFFFFFFFu, y_bytes / 4, NULL)); /* NaN in f16, bf16, f32 */
    if (y_bytes % 4) CU_OK(*g, cuMemsetD8Async(dy + y_bytes - 2, 0xFF, 2, NULL));
    cr_assert_eq(fpx__ctx_enter(g->ctx), FPX_OK);
    cr_assert_eq(fpx__wgmma_gemm_launch(g->ctx, &key, &cfg, &args, NULL), FPX_OK, "%s: %s", what,
                 fpx_last_error());
    CU_OK(*g, cuCtxSynchronize());
    CU_OK(*g, cuMemcpyDtoH(y, dy, y_bytes));
    check_output(w, x, out, y, what);
    if (rep == 0) memcpy(first, y, y_bytes);
    else cr_assert(memcmp(first, y, y_bytes) == 0, "%s: the warm result differs from the cold one", what);
  }
  free(y);
  free(first);
  g->cu->cuMemFree(dx);
  g->cu->cuMemFree(dy);
  if (dxs) g->cu->cuMemFree(dxs);
}

/* ---- the shape sweep ------------------------------------------------------ */

static const size_t sweep_m[] = {64, 128, 1000, 4096};
static const size_t sweep_n[] = {128, 1000, 4096};
static const size_t sweep_k[] = {256, 4096, 4104};

/* Every (M, N, K) of the sweep for one weight format and X dtype. Problem p
 * (in sweep order) takes per-row scales or group 128 as (N, K) index + M
 * index is even or odd; its tile rotates over tokens 64/128/256 (<= 128 with group scales),
 * stages 2..6 and split-K 1, 3, 2, 7 (at most one split per 256 columns:
 * K = 256 runs unsplit, 4104 splits its 17 blocks unevenly); one problem in four writes f32, one in eight f16, the rest
 * bf16. Weights are made once per (N, K, group). */
static void sweep(const char *format, fpx_dtype x_dtype) {
  gpu g = gpu_open();
  seed_fresh();
  const fpx_format f = parse(format);
  static const int tokens[] = {64, 128, 256};
  static const int stages[] = {4, 2, 6, 3, 5}, splits[] = {1, 3, 2, 7};
  int p = 0;
  for (size_t kn = 0; kn < 9; kn++) {
    const size_t n = sweep_n[kn / 3], k = sweep_k[kn % 3];
    for (int group = 0; group <= 128; group += 128) {
      host_w w;
      weights_make(&g, f, group, n, k, &w);
      for (size_t mi = 0; mi < 4; mi++) {
        /* groups alternate over (N, K) and M: each (N, K, group) takes two M */
        if ((int)((kn + mi) % 2) != (group != 0)) continue;
        host_x x;
        acts_make(x_dtype, 0, sweep_m[mi], k, &x);
        fpx__wgmma_config cfg = {tokens[p % 3], stages[p % 5], splits[p % 4], 0, 0, 0};
        if (group != 0 && cfg.tokens > 128) cfg.tokens = 128;
        const fpx_dtype out = p % 4 == 3 ? FPX_DTYPE_F32 : p % 8 == 5 ? FPX_DTYPE_F16 : FPX_DTYPE_BF16;
        run(&g, &w, &x, out, cfg);
        acts_free(&x);
        p++;
      }
      weights_free(&w);
    }
  }
  cr_assert_eq(p, 36);
  fpx_ctx_destroy(g.ctx);
}

#define SWEEP_TEST(fmt, xd, XD) \
  Test(gpu_wgmma, fmt##_x_##xd, .timeout = 900) { sweep(#fmt, XD); }
SWEEP_TEST(e4m3, bf16, FPX_DTYPE_BF16)
SWEEP_TEST(e3m2, bf16, FPX_DTYPE_BF16)
SWEEP_TEST(e2m3, bf16, FPX_DTYPE_BF16)
SWEEP_TEST(e2m2, bf16, FPX_DTYPE_BF16)
SWEEP_TEST(e2m1, bf16, FPX_DTYPE_BF16)
SWEEP_TEST(e5m2, bf16, FPX_DTYPE_BF16)
SWEEP_TEST(e3m2, e4m3, FPX_DTYPE_E4M3)
SWEEP_TEST(e4m3, e4m3, FPX_DTYPE_E4M3)

/* ---- small and unaligned shapes, other dtypes and groups --------------------- */

typedef struct small_case {
  const char *format;
  fpx_dtype x_dtype, out;
  int group, per_tensor;
  size_t m, n, k;
  fpx__wgmma_config cfg;
} small_case;

static void run_cases(const small_case *cases, size_t count) {
  gpu g = gpu_open();
  seed_fresh();
  for (size_t c = 0; c < count; c++) {
    const small_case *s = &cases[c];
    host_w w;
    host_x x;
    weights_make(&g, parse(s->format), s->group, s->n, s->k, &w);
    acts_make(s->x_dtype, s->per_tensor, s->m, s->k, &x);
    run(&g, &w, &x, s->out, s->cfg);
    acts_free(&x);
    weights_free(&w);
  }
  fpx_ctx_destroy(g.ctx);
}

/* N = 1 and 200 (not a multiple of 16 or 128), K = 330 (even, not a
 * multiple of 8) and 520, M = 1 and 77 (a partial token tile); split-K 2
 * and 3 over 2 or 3 column blocks; 256-token tiles over such K. */
Test(gpu_wgmma, unaligned_shapes, .timeout = 600) {
  static const small_case cases[] = {
      {"e3m2", FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0, 0, 1, 1, 256, {64, 4, 1, 0, 0, 0}},
      {"e3m2", FPX_DTYPE_BF16, FPX_DTYPE_F32, 0, 0, 77, 200, 330, {128, 3, 2, 0, 0, 0}},
      {"e2m1", FPX_DTYPE_BF16, FPX_DTYPE_BF16, 64, 0, 300, 200, 520, {128, 4, 3, 0, 0, 0}},
      {"e4m3", FPX_DTYPE_BF16, FPX_DTYPE_F16, 0, 0, 257, 136, 8, {256, 2, 1, 0, 0, 0}},
      {"e3m2", FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0, 0, 77, 200, 332, {64, 5, 2, 0, 0, 0}},
      {"e4m3", FPX_DTYPE_E4M3, FPX_DTYPE_F32, 128, 0, 130, 1, 520, {128, 2, 3, 0, 0, 0}},
      /* 256-token tiles over short, unaligned K */
      {"e3m2", FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0, 0, 77, 200, 330, {256, 3, 2, 0, 0, 0}},
      {"e3m2", FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0, 0, 300, 200, 520, {256, 4, 1, 0, 0, 0}},
      {"e2m1", FPX_DTYPE_E4M3, FPX_DTYPE_F32, 0, 0, 257, 136, 528, {256, 2, 2, 0, 0, 0}},
      {"e2m3", FPX_DTYPE_F16, FPX_DTYPE_BF16, 0, 0, 513, 1000, 264, {256, 4, 1, 0, 0, 0}},
  };
  run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* Split-K 1 over long K. With 256 tokens and 6 stages the epilogue's
 * output tile has no room of its own and overlays the X stages the loop
 * read last, on a block's last unit: the consumer warpgroups must all be
 * done with them first (one unit per block, then 3 blocks for 16 units,
 * whose earlier units store directly). With 64 and 128 tokens, and 256 x 3
 * stages, the tile has its own room, reused unit after unit. Both launches
 * of run() must also agree bit for bit. */
Test(gpu_wgmma, staged_epilogue_after_long_k, .timeout = 600) {
  static const small_case cases[] = {
      {"e3m2", FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0, 0, 512, 1024, 8192, {256, 6, 1, 0, 0, 0}},
      {"e3m2", FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0, 0, 512, 1024, 8192, {256, 6, 1, 3, 0, 0}},
      {"e4m3", FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0, 0, 512, 1024, 4096, {256, 6, 1, 5, 0, 0}},
      {"e3m2", FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0, 0, 64, 2048, 8192, {64, 6, 1, 0, 0, 0}},
      {"e4m3", FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0, 0, 512, 1024, 4096, {256, 3, 1, 0, 0, 0}},
      {"e2m1", FPX_DTYPE_BF16, FPX_DTYPE_F16, 0, 0, 200, 1000, 4104, {128, 6, 1, 4, 0, 0}},
  };
  run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* A few blocks, each running many units in turn (the launch caps its grid
 * at max_blocks, normally one block per SM): the X ring, its barriers'
 * phases and the epilogue tile carry over from unit to unit, the next
 * unit's weights load during the epilogue, and one block may run several
 * splits of the same tile (split-K partials and counters). Per-row and
 * group scales, f16/bf16/f32 Y, FP8 and 16-bit X, partial tiles in M and
 * N, 256 tokens with the tile in its own room and over the ring. */
Test(gpu_wgmma, few_blocks_many_units, .timeout = 600) {
  static const small_case cases[] = {
      {"e3m2", FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0, 0, 300, 520, 1000, {128, 4, 2, 3, 0, 0}},
      {"e2m1", FPX_DTYPE_BF16, FPX_DTYPE_F32, 0, 0, 130, 300, 520, {64, 3, 3, 2, 0, 0}},
      {"e4m3", FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0, 0, 600, 256, 1024, {256, 6, 1, 2, 0, 0}},
      {"e4m3", FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0, 0, 600, 256, 1024, {256, 4, 3, 4, 0, 0}},
      {"e3m2", FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 64, 0, 200, 400, 768, {128, 5, 2, 1, 0, 0}},
      {"e2m2", FPX_DTYPE_F16, FPX_DTYPE_BF16, 0, 0, 513, 1000, 264, {256, 4, 1, 5, 0, 0}},
      {"e5m2", FPX_DTYPE_F16, FPX_DTYPE_F16, 128, 0, 100, 256, 1024, {64, 4, 4, 3, 0, 0}},
  };
  run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* Stream-K (split_k FPX_SPLIT_K_STREAM): the tiles' column blocks cut
 * into one contiguous range per block. Ranges shorter than a tile (many
 * contributors per tile, up to 16 on 132 blocks), longer ones that start
 * and end inside tiles with whole tiles between, ranges that are exactly
 * one tile each (no partials); with two waves of tiles or more, whole
 * tiles first (15 tiles on 7 blocks, 8 on 4, 128 on 5, 512 on 132), then
 * the ranges; per-row and group scales, f32 Y (direct stores), FP8 X, 256
 * tokens with the output tile over the ring. */
#define SK FPX_SPLIT_K_STREAM
Test(gpu_wgmma, stream_k, .timeout = 600) {
  static const small_case cases[] = {
      {"e3m2", FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0, 0, 300, 520, 1000, {128, 4, SK, 7, 0, 0}},
      {"e2m1", FPX_DTYPE_BF16, FPX_DTYPE_F32, 0, 0, 130, 300, 4104, {64, 3, SK, 0, 0, 0}},
      {"e4m3", FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0, 0, 600, 256, 1024, {256, 4, SK, 5, 0, 0}},
      {"e4m3", FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0, 0, 512, 1024, 4096, {256, 6, SK, 0, 0, 0}},
      {"e3m2", FPX_DTYPE_BF16, FPX_DTYPE_BF16, 64, 0, 200, 400, 768, {128, 5, SK, 4, 0, 0}},
      {"e5m2", FPX_DTYPE_F16, FPX_DTYPE_F16, 128, 0, 100, 256, 1024, {64, 4, SK, 3, 0, 0}},
      {"e2m2", FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0, 0, 256, 1024, 2048, {256, 4, SK, 8, 0, 0}},
      {"e2m3", FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0, 0, 1000, 1000, 520, {64, 4, SK, 5, 0, 0}},
      {"e4m3", FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0, 0, 4096, 4096, 4096, {256, 4, SK, 0, 0, 0}},
  };
  run_cases(cases, sizeof cases / sizeof cases[0]);
}
#undef SK

/* The tile order's groups of token tiles (raster: 0 is the library's
 * choice, which the other tests run): whole groups only (16 token tiles
 * in groups of 4 and 16), whole groups and a rest in row-block order (10
 * token tiles in groups of 4 and 8), with split-K, stream-K and a few
 * blocks running many units, partial tiles in M and N. */
#define SK FPX_SPLIT_K_STREAM
Test(gpu_wgmma, tile_order_groups, .timeout = 600) {
  static const small_case cases[] = {
      {"e3m2", FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0, 0, 1000, 520, 512, {64, 4, 1, 7, 4, 0}},
      {"e4m3", FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0, 0, 1000, 300, 1024, {64, 4, 2, 0, 16, 0}},
      {"e2m1", FPX_DTYPE_BF16, FPX_DTYPE_F32, 0, 0, 600, 1000, 768, {64, 3, 1, 5, 4, 0}},
      {"e3m2", FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0, 0, 1200, 1000, 520, {128, 4, SK, 0, 8, 0}},
      {"e2m2", FPX_DTYPE_BF16, FPX_DTYPE_BF16, 64, 0, 600, 400, 1024, {64, 5, SK, 6, 4, 0}},
      {"e4m3", FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0, 0, 2600, 1024, 512, {256, 4, 1, 0, 8, 0}},
  };
  run_cases(cases, sizeof cases / sizeof cases[0]);
}
#undef SK

/* f16 activations (the FP16 bias correction on the accumulator), e5m2
 * activations (E4M3 x E5M2 and E5M2 x E5M2 wgmma), a per-tensor X scale. */
Test(gpu_wgmma, other_activation_dtypes, .timeout = 600) {
  static const small_case cases[] = {
      {"e3m2", FPX_DTYPE_F16, FPX_DTYPE_F16, 0, 0, 200, 1000, 1024, {128, 4, 1, 0, 0, 0}},
      {"e2m1", FPX_DTYPE_F16, FPX_DTYPE_BF16, 128, 0, 129, 520, 2048, {64, 6, 4, 0, 0, 0}},
      {"e5m2", FPX_DTYPE_F16, FPX_DTYPE_F32, 0, 0, 64, 256, 512, {256, 3, 2, 0, 0, 0}},
      {"e2m3", FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 32, 0, 256, 384, 1024, {128, 4, 1, 0, 0, 0}},
      {"e2m2", FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0, 1, 300, 256, 768, {256, 4, 3, 0, 0, 0}},
      {"e3m2", FPX_DTYPE_E5M2, FPX_DTYPE_BF16, 0, 0, 200, 512, 1024, {128, 4, 2, 0, 0, 0}},
      {"e5m2", FPX_DTYPE_E5M2, FPX_DTYPE_F32, 256, 0, 100, 256, 1024, {64, 4, 4, 0, 0, 0}},
      {"e5m2", FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0, 1, 64, 256, 512, {64, 2, 1, 0, 0, 0}},
  };
  run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* Group sizes 32, 64 and 256 with both activation kinds, at a K that ends
 * inside a group. */
Test(gpu_wgmma, group_sizes, .timeout = 600) {
  static const small_case cases[] = {
      {"e3m2", FPX_DTYPE_BF16, FPX_DTYPE_BF16, 32, 0, 130, 300, 1000, {128, 4, 2, 0, 0, 0}},
      {"e2m2", FPX_DTYPE_BF16, FPX_DTYPE_BF16, 64, 0, 64, 300, 1000, {64, 3, 4, 0, 0, 0}},
      {"e2m3", FPX_DTYPE_BF16, FPX_DTYPE_F32, 256, 0, 200, 300, 1000, {128, 5, 3, 0, 0, 0}},
      {"e3m2", FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 32, 0, 130, 300, 1000, {128, 4, 1, 0, 0, 0}},
      {"e2m1", FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 64, 0, 64, 300, 1000, {64, 3, 2, 0, 0, 0}},
      {"e4m3", FPX_DTYPE_E4M3, FPX_DTYPE_F32, 256, 0, 200, 300, 1000, {128, 5, 4, 0, 0, 0}},
  };
  run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* ---- argument checks -------------------------------------------------------- */

Test(gpu_wgmma, launcher_checks_name_the_bad_value) {
  gpu g = gpu_open();
  seed_fresh();
  host_w w;
  weights_make(&g, parse("e3m2"), 0, 64, 256, &w);
  CUdeviceptr dx, dy;
  CU_OK(g, cuMemAlloc(&dx, 64 * 256 * 2 + 16));
  CU_OK(g, cuMemAlloc(&dy, 64 * 64 * 4));
  const fpx__wo_key key = {w.format, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0};
  const fpx__wgmma_config cfg = {128, 4, 1, 0, 0, 0};
  fpx_gemm_args a = {sizeof a, w.dev, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 64, dx, dy, NULL, 0, 0};
  cr_assert_eq(fpx__ctx_enter(g.ctx), FPX_OK);

  fpx__wgmma_config bad_cfg = {96, 4, 1, 0, 0, 0};
  cr_assert_eq(fpx__wgmma_gemm_launch(g.ctx, &key, &bad_cfg, &a, NULL), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "tokens 96") != NULL, "%s", fpx_last_error());
  bad_cfg = (fpx__wgmma_config){128, 4, 65, 0, 0, 0};
  cr_assert_eq(fpx__wgmma_gemm_launch(g.ctx, &key, &bad_cfg, &a, NULL), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "split_k 65") != NULL, "%s", fpx_last_error());

  fpx__wo_key other = key;
  other.y_dtype = FPX_DTYPE_F32;
  cr_assert_eq(fpx__wgmma_gemm_launch(g.ctx, &other, &cfg, &a, NULL), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "does not match") != NULL, "%s", fpx_last_error());

  fpx_gemm_args b = a;
  b.x = dx + 2;
  cr_assert_eq(fpx__wgmma_gemm_launch(g.ctx, &key, &cfg, &b, NULL), FPX_ERR_MISALIGNED);
  cr_assert(strstr(fpx_last_error(), "4-byte") != NULL, "%s", fpx_last_error());
  b = a;
  b.m = 0;
  cr_assert_eq(fpx__wgmma_gemm_launch(g.ctx, &key, &cfg, &b, NULL), FPX_ERR_UNSUPPORTED_SHAPE);
  b = a;
  b.y = 0;
  cr_assert_eq(fpx__wgmma_gemm_launch(g.ctx, &key, &cfg, &b, NULL), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "args->y") != NULL, "%s", fpx_last_error());

  /* FP8 X needs its scales */
  const fpx__wo_key key8 = {w.format, FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0};
  b = a;
  b.x_dtype = FPX_DTYPE_E4M3;
  cr_assert_eq(fpx__wgmma_gemm_launch(g.ctx, &key8, &cfg, &b, NULL), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "x_scales") != NULL, "%s", fpx_last_error());
  weights_free(&w);

  /* K odd with 16-bit X: rows are not 4-byte aligned */
  weights_make(&g, parse("e3m2"), 0, 64, 255, &w);
  a.weights = w.dev;
  cr_assert_eq(fpx__wgmma_gemm_launch(g.ctx, &key, &cfg, &a, NULL), FPX_ERR_UNSUPPORTED_SHAPE);
  cr_assert(strstr(fpx_last_error(), "K = 255") != NULL, "%s", fpx_last_error());
  weights_free(&w);
  g.cu->cuMemFree(dx);
  g.cu->cuMemFree(dy);
  fpx_ctx_destroy(g.ctx);
}

/* Below (or beyond) sm_90 the launcher refuses before compiling anything. */
Test(gpu_wgmma, other_gpus_get_unsupported_device) {
  gpu g = gpu_open_any();
  if (g.ctx->sm_version == 90) {
    fpx_ctx_destroy(g.ctx);
    cr_skip_test("this GPU is sm_90: nothing to refuse");
  }
  seed_fresh();
  host_w w;
  weights_make(&g, parse("e3m2"), 0, 16, 256, &w);
  const fpx__wo_key key = {w.format, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0};
  const fpx__wgmma_config cfg = {64, 4, 1, 0, 0, 0};
  fpx_gemm_args a = {sizeof a, w.dev, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 1, 16, 16, NULL, 0, 0};
  cr_assert_eq(fpx__wgmma_gemm_launch(g.ctx, &key, &cfg, &a, NULL), FPX_ERR_UNSUPPORTED_DEVICE);
  cr_assert(strstr(fpx_last_error(), g.ctx->info.arch) != NULL, "%s", fpx_last_error());
  weights_free(&w);
  fpx_ctx_destroy(g.ctx);
}
