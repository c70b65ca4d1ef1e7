/*
 * test_gpu_gemm_fp8.c - GPU tests of fpx_gemm with FP8 activations (x_dtype
 * e4m3 / e5m2 with FP32 X scales): W8A8 rowwise on the llama3-8b shapes and
 * on odd sizes, f16/bf16/f32 outputs, a per-tensor X scale, E5M2
 * activations, explicit split-K configurations, eXmY weights with E4M3
 * activations (W-eXmY/A8), the errors, and a printed accuracy statement
 * (W6A8 against W6A16 on uniform and heavy-tailed activations).
 *
 * References are in double: fpx_reference_gemm_qx on small problems (every
 * output compared), and on large ones a local reference computed only for a
 * sample of outputs (2000 random ones, the corners, the whole last row and
 * the whole last column); every output is checked to be written and finite
 * either way. Each test creates its CUDA state itself (after Criterion's
 * fork), skips when no driver or device is present, and the FP8 tests skip
 * below sm_89. FPX_TEST_SEED=N replays a run (the seed is in every message).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stddef.h>
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

/* A context on a GPU with FP8 tensor cores (sm_89 and later), else a skip. */
static gpu gpu_open_fp8(void) {
  gpu g = gpu_open();
  if (g.ctx->sm_version < 89) {
    char arch[16];
    snprintf(arch, sizeof arch, "%s", g.ctx->info.arch);
    fpx_ctx_destroy(g.ctx);
    cr_skip_test("FP8 activations need sm_89 or later; this GPU is %s", arch);
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
/* uniform in [0, n) */
static size_t pick(size_t n) {
  size_t i = (size_t)((uniform() + 1.0) * 0.5 * (double)n);
  return i < n ? i : n - 1;
}
/* standard normal (Box-Muller) */
static double normal(void) {
  const double u1 = (uniform() + 1.0) * 0.5 + 1e-300, u2 = (uniform() + 1.0) * 0.5;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
/* Student-t with 3 degrees of freedom: Z / sqrt(chi2_3 / 3) */
static double student_t3(void) {
  const double a = normal(), b = normal(), c = normal();
  return normal() / sqrt((a * a + b * b + c * c) / 3.0 + 1e-300);
}

static void *xmalloc(size_t size) {
  void *p = malloc(size ? size : 1);
  cr_assert_not_null(p, "out of host memory (%zu bytes)", size);
  return p;
}

static const fpx_format E4M3 = {4, 3}, E5M2 = {5, 2};

static fpx_format parse(const char *name) {
  fpx_format f;
  cr_assert_eq(fpx_format_parse(name, &f), FPX_OK, "%s", fpx_last_error());
  return f;
}

/* The format's name; four rotating buffers, so that one printf may name
 * several formats. */
static const char *format_name(fpx_format f) {
  static char names[4][8];
  static unsigned next;
  char *name = names[next++ % 4];
  fpx_format_info info;
  if (fpx_format_get_info(f, &info) != FPX_OK) return "?";
  snprintf(name, 8, "%s", info.name);
  return name;
}

/* The exact value of every code of a format. */
static void decode_table(fpx_format f, double value[256]) {
  fpx_format_info info;
  cr_assert_eq(fpx_format_get_info(f, &info), FPX_OK);
  for (int c = 0; c < 256; c++) {
    value[c] = NAN;
    if (c < info.num_codes) cr_assert_eq(fpx_decode_value(f, (unsigned)c, &value[c]), FPX_OK);
  }
}

/* ---- host data ----------------------------------------------------------- */

/* Quantized weights on the host and on the device. */
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
 * chunks of rows (the scales of a row depend on that row only), so that
 * 28672 x 4096 needs no full-size float copy. Rows differ in scale. */
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

/* Quantized activations (codes and FP32 scales) as fpx_quantize_activations
 * makes them. */
typedef struct host_x {
  fpx_format format;
  int per_tensor;
  size_t m, k;
  uint8_t *codes;
  float *scales; /* m entries, or 1 */
  double value[256];
} host_x;

/* X[m][k] = uniform * 2^(m % 5 - 2): rows differ in scale by up to 16x, so
 * that a token given another token's scale is off by a power of two. */
static void acts_make(fpx_format xf, int per_tensor, size_t m, size_t k, host_x *x) {
  enum { CHUNK = 64 };
  memset(x, 0, sizeof *x);
  x->format = xf;
  x->per_tensor = per_tensor;
  x->m = m;
  x->k = k;
  x->codes = xmalloc(m * k);
  x->scales = xmalloc((per_tensor ? 1 : m) * sizeof(float));
  decode_table(xf, x->value);
  fpx_act_quant_params ap = {sizeof ap, per_tensor ? FPX_ACT_SCALE_PER_TENSOR : FPX_ACT_SCALE_PER_ROW,
                             0, 0, xf};
  /* per row: chunks of rows; per tensor: one chunk of everything */
  const size_t chunk = per_tensor ? m : CHUNK;
  float *buf = xmalloc(chunk * k * sizeof(float));
  for (size_t r0 = 0; r0 < m; r0 += chunk) {
    const size_t rows = m - r0 < chunk ? m - r0 : chunk;
    for (size_t r = 0; r < rows; r++) {
      const double gain = ldexp(1.0, (int)((r0 + r) % 5) - 2);
      for (size_t c = 0; c < k; c++) buf[r * k + c] = (float)(uniform() * gain);
    }
    cr_assert_eq(fpx_quantize_activations(&ap, FPX_DTYPE_F32, buf, rows, k, x->codes + r0 * k,
                                          x->scales + (per_tensor ? 0 : r0)),
                 FPX_OK, "%s", fpx_last_error());
  }
  free(buf);
}

static void acts_free(host_x *x) {
  free(x->codes);
  free(x->scales);
  memset(x, 0, sizeof *x);
}

static fpx_dtype x_dtype_of(const host_x *x) {
  return x->format.exp_bits == 5 ? FPX_DTYPE_E5M2 : FPX_DTYPE_E4M3;
}

/* ---- running ------------------------------------------------------------- */

static size_t dsize(fpx_dtype d) { return d == FPX_DTYPE_F32 ? 4 : 2; }

static double load_out(fpx_dtype d, const void *buf, size_t i) {
  if (d == FPX_DTYPE_F32) return ((const float *)buf)[i];
  uint16_t b = ((const uint16_t *)buf)[i];
  return d == FPX_DTYPE_F16 ? fpx_f16_to_f32(b) : fpx_bf16_to_f32(b);
}

/* X, its scales and Y on the device. The scale buffer always has m entries:
 * with a per-tensor scale, entries 1.. are NaN, so a kernel that reads a
 * per-token scale there writes NaN. */
typedef struct dev_buffers {
  CUdeviceptr x, xs, y;
  size_t y_bytes;
} dev_buffers;

static void dev_make(gpu *g, const host_x *x, size_t n, fpx_dtype out, dev_buffers *d) {
  d->y_bytes = x->m * n * dsize(out);
  CU_OK(*g, cuMemAlloc(&d->x, x->m * x->k));
  CU_OK(*g, cuMemAlloc(&d->xs, x->m * sizeof(float)));
  CU_OK(*g, cuMemAlloc(&d->y, d->y_bytes));
  CU_OK(*g, cuMemcpyHtoD(d->x, x->codes, x->m * x->k));
  if (x->per_tensor) {
    CU_OK(*g, cuMemsetD32Async(d->xs, 0x7FC00000u, x->m, NULL)); /* quiet NaN */
    CU_OK(*g, cuCtxSynchronize());
    CU_OK(*g, cuMemcpyHtoD(d->xs, x->scales, sizeof(float)));
  } else {
    CU_OK(*g, cuMemcpyHtoD(d->xs, x->scales, x->m * sizeof(float)));
  }
}

static void dev_free(gpu *g, dev_buffers *d) {
  g->cu->cuMemFree(d->x);
  g->cu->cuMemFree(d->xs);
  g->cu->cuMemFree(d->y);
}

/* NaN in every element of Y (0xFFFF is NaN in f16 and bf16 alike). */
static void poison(gpu *g, const dev_buffers *d, CUstream stream) {
  CU_OK(*g, cuMemsetD32Async(d->y, 0xFFFFFFFFu, d->y_bytes / 4, stream));
  if (d->y_bytes % 4) CU_OK(*g, cuMemsetD8Async(d->y + d->y_bytes - 2, 0xFF, 2, stream));
}

static fpx_gemm_args fp8_args(const host_w *w, const host_x *x, fpx_dtype out, const dev_buffers *d,
                              const fpx_wo_config *cfg) {
  fpx_gemm_args a = {sizeof a, w->dev, x_dtype_of(x), out, x->m, d->x, d->y, cfg, d->xs, x->per_tensor};
  return a;
}

/* ---- checking ------------------------------------------------------------ */

/* Problems up to this many multiply-adds get the full reference. */
#define FULL_REFERENCE_MACS ((size_t)1 << 26)
#define RANDOM_SAMPLES 2000

/* Reference of one output in double, from the decoded codes and the scales:
 * the value, sum |x w| and sqrt(sum (x w)^2) over k. */
static void sample_reference(const host_w *w, const host_x *x, size_t i, size_t j, double *out_ref,
                             double *out_mag, double *out_l2) {
  const size_t k = w->k;
  const uint8_t *xc = x->codes + i * k, *wc = w->codes + j * k;
  const float *ws = w->scales + j * w->groups_per_row;
  const double xs = x->scales[x->per_tensor ? 0 : i];
  double s = 0, a = 0, q = 0;
  for (size_t c = 0; c < k; c++) {
    const double p = x->value[xc[c]] * w->value[wc[c]] * (double)ws[w->group ? c / (size_t)w->group : 0];
    s += p;
    a += fabs(p);
    q += p * p;
  }
  *out_ref = s * xs;
  *out_mag = a * fabs(xs);
  *out_l2 = sqrt(q) * fabs(xs);
}

static double unit_roundoff(fpx_dtype out) {
  return out == FPX_DTYPE_F32 ? ldexp(1, -24) : out == FPX_DTYPE_F16 ? ldexp(1, -11) : ldexp(1, -8);
}

/*
 * Tolerance of one output (ref = the exact value, mag = sum |x w|, l2 =
 * sqrt(sum (x w)^2)):
 *   u_out * |ref|                 rounding of the output to its dtype;
 *   (K * 2^-22 + 2^-16) * mag     FP32 accumulation and the scale products,
 *                                 as in the FP16/BF16 tests;
 *   2^-12 * mag                   inside one m16n8k32 FP8 MMA the 32 products
 *                                 are aligned to the largest before they are
 *                                 added;
 *   2^-13 * ceil(K/32) * (|ref| + 4 l2)
 *                                 the FP8 MMA of sm_89/sm_90 returns its FP32
 *                                 accumulator truncated to 13 mantissa bits
 *                                 (e8m13), once per 32-column step; along the
 *                                 way the accumulator stays within the final
 *                                 value plus the excursion of a random walk
 *                                 of the partial sums (4 standard deviations).
 * The last term is loose at large K (a few % of l2 at K = 4096); the RMS
 * check below catches the systematic errors it lets through.
 */
static double tolerance(fpx_dtype out, size_t k, double ref, double mag, double l2) {
  const double steps = (double)((k + 31) / 32);
  return unit_roundoff(out) * fabs(ref) + ((double)k * ldexp(1, -22) + ldexp(1, -16)) * mag +
         ldexp(1, -12) * mag + ldexp(1, -13) * steps * (fabs(ref) + 4 * l2) + 1e-30;
}

/* Bound on the RMS error over many outputs, relative to the RMS of l2: the
 * output rounding, the mean effect of the e8m13 truncation (half an ulp of
 * 13 bits per step, in the direction of the accumulator) and the product
 * alignment. A missing 256-column block (sqrt(256/K) of l2), a token or
 * row with the wrong scale (rows differ by powers of two) or a swapped
 * operand is far above it for K up to 8192. */
static double rms_bound(fpx_dtype out, size_t k) {
  return 2 * unit_roundoff(out) + ldexp(1, -14) * (double)((k + 31) / 32) + ldexp(1, -11);
}

typedef struct check_report {
  size_t checked;
  double rms_rel;     /* RMS error / RMS l2 over the checked outputs */
  double worst_ratio; /* max |got - ref| / tolerance */
} check_report;

/* Checks Y against the reference: every output written and finite, and the
 * sampled (or all) outputs within tolerance; a failure names the output. */
static check_report check_output(const host_w *w, const host_x *x, fpx_dtype out, const void *y,
                                 const char *what) {
  const size_t m = x->m, n = w->n, k = w->k;
  check_report rep = {0, 0, 0};
  for (size_t i = 0; i < m * n; i++) {
    const double v = load_out(out, y, i);
    cr_assert(isfinite(v), "%s seed=%llu: Y[%zu][%zu] = %g (not written or not finite)", what,
              seed_used, i / n, i % n, v);
  }
  const int full = m * n * k <= FULL_REFERENCE_MACS;
  double *qx = NULL;
  size_t count;
  size_t *rows, *cols;
  if (full) {
    count = m * n;
    rows = xmalloc(count * sizeof *rows);
    cols = xmalloc(count * sizeof *cols);
    for (size_t i = 0; i < count; i++) {
      rows[i] = i / n;
      cols[i] = i % n;
    }
    qx = xmalloc(m * n * sizeof *qx);
    cr_assert_eq(fpx_reference_gemm_qx(x->format, x->codes, x->scales, x->per_tensor, w->format,
                                       w->codes, w->scales, w->group, m, n, k, qx),
                 FPX_OK, "%s", fpx_last_error());
  } else {
    /* corners, the last row, the last column, random outputs */
    count = 4 + n + m + RANDOM_SAMPLES;
    rows = xmalloc(count * sizeof *rows);
    cols = xmalloc(count * sizeof *cols);
    size_t c = 0;
    const size_t corner_r[4] = {0, 0, m - 1, m - 1}, corner_c[4] = {0, n - 1, 0, n - 1};
    for (int i = 0; i < 4; i++, c++) {
      rows[c] = corner_r[i];
      cols[c] = corner_c[i];
    }
    for (size_t j = 0; j < n; j++, c++) {
      rows[c] = m - 1;
      cols[c] = j;
    }
    for (size_t i = 0; i < m; i++, c++) {
      rows[c] = i;
      cols[c] = n - 1;
    }
    for (size_t s = 0; s < RANDOM_SAMPLES; s++, c++) {
      rows[c] = pick(m);
      cols[c] = pick(n);
    }
  }
  double err2 = 0, l2sq = 0;
  for (size_t s = 0; s < count; s++) {
    const size_t i = rows[s], j = cols[s];
    double ref, mag, l2;
    sample_reference(w, x, i, j, &ref, &mag, &l2);
    if (qx != NULL) { /* the local reference agrees with the library's */
      cr_assert(fabs(qx[i * n + j] - ref) <= 1e-12 * mag + 1e-300,
                "%s: sampled reference %.17g vs fpx_reference_gemm_qx %.17g at [%zu][%zu]", what, ref,
                qx[i * n + j], i, j);
      ref = qx[i * n + j];
    }
    const double got = load_out(out, y, i * n + j), tol = tolerance(out, k, ref, mag, l2);
    const double err = fabs(got - ref);
    cr_assert(err <= tol, "%s seed=%llu: Y[%zu][%zu] = %.9g, reference %.9g (error %.3g, tolerance %.3g)",
              what, seed_used, i, j, got, ref, err, tol);
    if (err / tol > rep.worst_ratio) rep.worst_ratio = err / tol;
    err2 += err * err;
    l2sq += l2 * l2;
  }
  rep.checked = count;
  rep.rms_rel = l2sq > 0 ? sqrt(err2 / l2sq) : 0;
  if (count >= 256)
    cr_assert(rep.rms_rel <= rms_bound(out, k),
              "%s seed=%llu: RMS error %.3g of the RMS |x w| norm over %zu outputs exceeds %.3g", what,
              seed_used, rep.rms_rel, count, rms_bound(out, k));
  free(rows);
  free(cols);
  free(qx);
  return rep;
}

/* Runs Y = X W^T `reps` times (the second run takes the warm path and the
 * re-armed split-K counters), each on a poisoned Y, and checks each. */
static check_report run_check(gpu *g, const host_w *w, const host_x *x, fpx_dtype out,
                              const fpx_wo_config *cfg, int reps, CUstream stream) {
  dev_buffers d;
  dev_make(g, x, w->n, out, &d);
  void *y = xmalloc(d.y_bytes);
  char what[256];
  snprintf(what, sizeof what, "W %s group %d, X %s%s, Y %s, M=%zu N=%zu K=%zu, config %d/%d/%d/%d",
           format_name(w->format), w->group, format_name(x->format), x->per_tensor ? " per tensor" : "",
           fpx_dtype_name(out), x->m, w->n, w->k, cfg ? cfg->warps_n : 0, cfg ? cfg->warps_k : 0,
           cfg ? cfg->m_tiles : 0, cfg ? cfg->split_k : 0);
  check_report rep = {0, 0, 0};
  for (int r = 0; r < reps; r++) {
    poison(g, &d, stream);
    fpx_gemm_args a = fp8_args(w, x, out, &d, cfg);
    cr_assert_eq(fpx_gemm(g->ctx, &a, stream), FPX_OK, "%s: fpx_gemm: %s", what, fpx_last_error());
    CU_OK(*g, cuStreamSynchronize(stream));
    CU_OK(*g, cuMemcpyDtoH(y, d.y, d.y_bytes));
    rep = check_output(w, x, out, y, what);
  }
  free(y);
  dev_free(g, &d);
  return rep;
}

/* One activation matrix against uploaded weights. */
static check_report run_x(gpu *g, const host_w *w, fpx_format xf, int per_tensor, size_t m,
                          fpx_dtype out, const fpx_wo_config *cfg, int reps) {
  host_x x;
  acts_make(xf, per_tensor, m, w->k, &x);
  check_report rep = run_check(g, w, &x, out, cfg, reps, NULL);
  acts_free(&x);
  return rep;
}

/* ---- W8A8 rowwise ---------------------------------------------------------- */

static const size_t w8a8_m[] = {1, 7, 16, 128, 1000, 4096};

/* e4m3 weights and activations, one scale per row and per token, bf16 out;
 * prints the observed error for each M. */
static void run_w8a8_shape(size_t n, size_t k) {
  gpu g = gpu_open_fp8();
  seed_fresh();
  host_w w;
  weights_make(&g, E4M3, 0, n, k, &w);
  for (size_t i = 0; i < sizeof w8a8_m / sizeof w8a8_m[0]; i++) {
    check_report r = run_x(&g, &w, E4M3, 0, w8a8_m[i], FPX_DTYPE_BF16, NULL, 1);
    printf("gpu_gemm_fp8: W8A8 e4m3 bf16-out M=%-5zu N=%-6zu K=%-6zu: %zu outputs checked, "
           "RMS error %.3g of |xw| norm (bound %.3g), worst error/tolerance %.3f\n",
           w8a8_m[i], n, k, r.checked, r.rms_rel, rms_bound(FPX_DTYPE_BF16, k), r.worst_ratio);
    fflush(stdout);
  }
  weights_free(&w);
  fpx_ctx_destroy(g.ctx);
}

/* llama3-8b: fused QKV, attention output, fused gate/up, down */
Test(gpu_gemm_fp8, w8a8_llama3_8b_qkv_6144x4096, .timeout = 600) { run_w8a8_shape(6144, 4096); }
Test(gpu_gemm_fp8, w8a8_llama3_8b_o_4096x4096, .timeout = 600) { run_w8a8_shape(4096, 4096); }
Test(gpu_gemm_fp8, w8a8_llama3_8b_gate_up_28672x4096, .timeout = 600) { run_w8a8_shape(28672, 4096); }
Test(gpu_gemm_fp8, w8a8_llama3_8b_down_4096x14336, .timeout = 600) { run_w8a8_shape(4096, 14336); }

/* Odd N (one row, a partial 16-row tile, 1000) and K (one k32 step, K not a
 * multiple of 256, 4112 = 16 blocks + 16), every M. */
static void run_w8a8_odd(size_t n) {
  gpu g = gpu_open_fp8();
  seed_fresh();
  static const size_t ks[] = {16, 48, 4112};
  for (size_t ki = 0; ki < 3; ki++) {
    host_w w;
    weights_make(&g, E4M3, 0, n, ks[ki], &w);
    for (size_t i = 0; i < sizeof w8a8_m / sizeof w8a8_m[0]; i++)
      run_x(&g, &w, E4M3, 0, w8a8_m[i], FPX_DTYPE_BF16, NULL, 1);
    weights_free(&w);
  }
  fpx_ctx_destroy(g.ctx);
}
Test(gpu_gemm_fp8, w8a8_odd_sizes_n1, .timeout = 600) { run_w8a8_odd(1); }
Test(gpu_gemm_fp8, w8a8_odd_sizes_n17, .timeout = 600) { run_w8a8_odd(17); }
Test(gpu_gemm_fp8, w8a8_odd_sizes_n1000, .timeout = 600) { run_w8a8_odd(1000); }

Test(gpu_gemm_fp8, w8a8_f16_and_f32_outputs, .timeout = 600) {
  gpu g = gpu_open_fp8();
  seed_fresh();
  static const fpx_dtype outs[] = {FPX_DTYPE_F16, FPX_DTYPE_F32, FPX_DTYPE_BF16};
  static const size_t shapes[][3] = {{1, 200, 336}, {37, 200, 336}, {300, 1000, 1040}, {64, 4096, 4096}};
  for (size_t s = 0; s < 4; s++) {
    host_w w;
    weights_make(&g, E4M3, 0, shapes[s][1], shapes[s][2], &w);
    for (size_t o = 0; o < 3; o++) run_x(&g, &w, E4M3, 0, shapes[s][0], outs[o], NULL, 1);
    weights_free(&w);
  }
  fpx_ctx_destroy(g.ctx);
}

/* One X scale for all tokens; the scale buffer's entries past the first are
 * NaN (see dev_make), so reading a per-token scale shows. */
Test(gpu_gemm_fp8, per_tensor_x_scale, .timeout = 600) {
  gpu g = gpu_open_fp8();
  seed_fresh();
  static const size_t ms[] = {1, 37, 300};
  host_w w;
  weights_make(&g, E4M3, 0, 200, 336, &w);
  for (size_t i = 0; i < 3; i++) {
    run_x(&g, &w, E4M3, 1, ms[i], FPX_DTYPE_BF16, NULL, 1);
    run_x(&g, &w, E4M3, 1, ms[i], FPX_DTYPE_F32, NULL, 1);
  }
  weights_free(&w);
  weights_make(&g, parse("e3m2"), 128, 1000, 4096, &w);
  run_x(&g, &w, E4M3, 1, 64, FPX_DTYPE_BF16, NULL, 1);
  run_x(&g, &w, E5M2, 1, 17, FPX_DTYPE_F32, NULL, 1);
  weights_free(&w);
  fpx_ctx_destroy(g.ctx);
}

/* E5M2 activations against E4M3-path weights (e4m3, e3m2, e2m1) and
 * E5M2-path weights (e5m2): all four mixed MMA kinds. */
Test(gpu_gemm_fp8, e5m2_activations, .timeout = 600) {
  gpu g = gpu_open_fp8();
  seed_fresh();
  static const struct {
    const char *format;
    int group;
  } ws[] = {{"e4m3", 0}, {"e5m2", 0}, {"e3m2", 64}, {"e2m1", 0}};
  static const size_t ms[] = {1, 37, 300};
  for (size_t f = 0; f < 4; f++) {
    host_w w;
    weights_make(&g, parse(ws[f].format), ws[f].group, 200, 336, &w);
    for (size_t i = 0; i < 3; i++) run_x(&g, &w, E5M2, 0, ms[i], i == 1 ? FPX_DTYPE_F32 : FPX_DTYPE_BF16, NULL, 1);
    weights_free(&w);
  }
  host_w w;
  weights_make(&g, E5M2, 0, 4096, 4096, &w);
  run_x(&g, &w, E5M2, 0, 16, FPX_DTYPE_BF16, NULL, 1);
  run_x(&g, &w, E4M3, 0, 16, FPX_DTYPE_BF16, NULL, 1);
  weights_free(&w);
  fpx_ctx_destroy(g.ctx);
}

/* Explicit tile and split-K configurations, per-row and grouped weight
 * scales, K a multiple of 256 and not; each run twice. */
Test(gpu_gemm_fp8, explicit_configs_and_split_k, .timeout = 600) {
  gpu g = gpu_open_fp8();
  seed_fresh();
  static const fpx_wo_config configs[] = {{4, 1, 1, 4, 0, 0, 0}, {2, 2, 2, 3, 0, 0, 0}, {1, 4, 1, 1, 0, 0, 0}, {4, 1, 8, 2, 0, 0, 0}};
  static const size_t shapes[][3] = {{5, 256, 2048}, {37, 200, 1040}, {100, 520, 4096}};
  static const struct {
    const char *format;
    int group;
  } ws[] = {{"e4m3", 0}, {"e3m2", 128}, {"e2m1", 64}};
  for (size_t f = 0; f < 3; f++)
    for (size_t s = 0; s < 3; s++) {
      host_w w;
      weights_make(&g, parse(ws[f].format), ws[f].group, shapes[s][1], shapes[s][2], &w);
      for (size_t c = 0; c < 4; c++)
        run_x(&g, &w, c == 3 && f == 0 ? E5M2 : E4M3, 0, shapes[s][0],
              c % 2 ? FPX_DTYPE_BF16 : FPX_DTYPE_F32, &configs[c], 2);
      weights_free(&w);
    }
  fpx_ctx_destroy(g.ctx);
}

/* ---- W-eXmY / A8 ------------------------------------------------------------ */

/* eXmY weights with E4M3 activations, per-row and grouped scales: small
 * shapes with every output checked, and a 4096 x 4096 one sampled. */
static void run_weights_format(const char *name, const int *groups, size_t group_count) {
  gpu g = gpu_open_fp8();
  seed_fresh();
  const fpx_format f = parse(name);
  static const size_t ms[] = {1, 16, 100};
  for (size_t gi = 0; gi < group_count; gi++) {
    host_w w;
    weights_make(&g, f, groups[gi], 200, 336, &w);
    for (size_t i = 0; i < 3; i++) run_x(&g, &w, E4M3, 0, ms[i], FPX_DTYPE_BF16, NULL, 1);
    run_x(&g, &w, E4M3, 0, 7, FPX_DTYPE_F32, NULL, 1);
    weights_free(&w);
    weights_make(&g, f, groups[gi], 4096, 4096, &w);
    run_x(&g, &w, E4M3, 0, 64, FPX_DTYPE_BF16, NULL, 1);
    weights_free(&w);
  }
  fpx_ctx_destroy(g.ctx);
}

static const int groups_row_128[] = {0, 128};
#define WEIGHTS_TEST(fmt)                                             \
  Test(gpu_gemm_fp8, weights_##fmt##_with_e4m3_activations, .timeout = 600) { \
    run_weights_format(#fmt, groups_row_128, 2);                      \
  }
Test(gpu_gemm_fp8, weights_e3m2_with_e4m3_activations, .timeout = 600) {
  static const int groups[] = {0, 64, 128};
  run_weights_format("e3m2", groups, 3);
}
WEIGHTS_TEST(e2m3)
WEIGHTS_TEST(e2m2)
WEIGHTS_TEST(e2m1)
WEIGHTS_TEST(e3m1)
WEIGHTS_TEST(e4m3)
WEIGHTS_TEST(e4m2)
WEIGHTS_TEST(e5m2) /* the E5M2 path with E4M3 activations */

/* ---- errors ------------------------------------------------------------------ */

/* A small e4m3 problem on the device for the error tests. */
typedef struct small_case {
  host_w w;
  host_x x;
  dev_buffers d;
} small_case;

static void small_make(gpu *g, fpx_format wf, size_t k, small_case *c) {
  weights_make(g, wf, 0, 32, k, &c->w);
  acts_make(E4M3, 0, 4, k, &c->x);
  dev_make(g, &c->x, 32, FPX_DTYPE_BF16, &c->d);
}
static void small_free(gpu *g, small_case *c) {
  dev_free(g, &c->d);
  acts_free(&c->x);
  weights_free(&c->w);
}

/* Y still holds the poison: a rejected call wrote nothing. */
static void assert_untouched(gpu *g, const dev_buffers *d) {
  CU_OK(*g, cuCtxSynchronize());
  uint16_t *y = xmalloc(d->y_bytes);
  CU_OK(*g, cuMemcpyDtoH(y, d->y, d->y_bytes));
  for (size_t i = 0; i < d->y_bytes / 2; i++) cr_assert_eq(y[i], 0xFFFF, "Y element %zu was written", i);
  free(y);
}

Test(gpu_gemm_fp8, weights_beyond_fp8_are_rejected_naming_the_format) {
  gpu g = gpu_open_fp8();
  seed_fresh();
  /* e5m1: its top binade (exponent field 31) has no finite E5M2 code */
  static const char *const names[] = {"e3m4", "e2m5", "e1m6", "e2m4", "e5m1", "e5m0"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    small_case c;
    small_make(&g, parse(names[i]), 64, &c);
    for (int xt = 0; xt < 2; xt++) {
      poison(&g, &c.d, NULL);
      fpx_gemm_args a = fp8_args(&c.w, &c.x, FPX_DTYPE_BF16, &c.d, NULL);
      a.x_dtype = xt ? FPX_DTYPE_E5M2 : FPX_DTYPE_E4M3;
      cr_assert_eq(fpx_gemm(g.ctx, &a, NULL), FPX_ERR_UNSUPPORTED_FORMAT, "%s: %s", names[i],
                   fpx_last_error());
      cr_assert(strstr(fpx_last_error(), names[i]) != NULL, "%s", fpx_last_error());
      cr_assert(strstr(fpx_ctx_last_error(g.ctx), names[i]) != NULL, "%s", fpx_ctx_last_error(g.ctx));
      assert_untouched(&g, &c.d);
    }
    /* the same weights still run with BF16 activations (2-byte X) */
    CUdeviceptr dx16;
    CU_OK(g, cuMemAlloc(&dx16, c.x.m * c.x.k * 2));
    CU_OK(g, cuMemsetD32Async(dx16, 0x3F803F80u, c.x.m * c.x.k / 2, NULL)); /* bf16 ones */
    fpx_gemm_args a = fp8_args(&c.w, &c.x, FPX_DTYPE_BF16, &c.d, NULL);
    a.x_dtype = FPX_DTYPE_BF16;
    a.x = dx16;
    cr_assert_eq(fpx_gemm(g.ctx, &a, NULL), FPX_OK, "%s: %s", names[i], fpx_last_error());
    CU_OK(g, cuCtxSynchronize());
    g.cu->cuMemFree(dx16);
    small_free(&g, &c);
  }
  fpx_ctx_destroy(g.ctx);
}

Test(gpu_gemm_fp8, missing_or_misaligned_x_scales_are_rejected) {
  gpu g = gpu_open_fp8();
  seed_fresh();
  small_case c;
  small_make(&g, E4M3, 64, &c);
  poison(&g, &c.d, NULL);
  fpx_gemm_args a = fp8_args(&c.w, &c.x, FPX_DTYPE_BF16, &c.d, NULL);
  a.x_scales = 0;
  cr_assert_eq(fpx_gemm(g.ctx, &a, NULL), FPX_ERR_INVALID_ARGUMENT, "%s", fpx_last_error());
  cr_assert(strstr(fpx_last_error(), "x_scales") != NULL, "%s", fpx_last_error());
  a.x_scale_per_tensor = 1;
  cr_assert_eq(fpx_gemm(g.ctx, &a, NULL), FPX_ERR_INVALID_ARGUMENT, "%s", fpx_last_error());
  a.x_scales = c.d.xs + 2;
  cr_assert_eq(fpx_gemm(g.ctx, &a, NULL), FPX_ERR_MISALIGNED, "%s", fpx_last_error());
  cr_assert(strstr(fpx_last_error(), "x_scales") != NULL, "%s", fpx_last_error());
  assert_untouched(&g, &c.d);
  small_free(&g, &c);
  fpx_ctx_destroy(g.ctx);
}

Test(gpu_gemm_fp8, k_not_a_multiple_of_16_is_rejected) {
  gpu g = gpu_open_fp8();
  seed_fresh();
  host_w w;
  weights_make(&g, E4M3, 0, 32, 24, &w); /* K = 24: fine for BF16 X, not for FP8 X */
  CUdeviceptr dx, dxs, dy;
  CU_OK(g, cuMemAlloc(&dx, 4096));
  CU_OK(g, cuMemAlloc(&dxs, 256));
  CU_OK(g, cuMemAlloc(&dy, 4096));
  fpx_gemm_args a = {sizeof a, w.dev, FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 2, dx, dy, NULL, dxs, 0};
  cr_assert_eq(fpx_gemm(g.ctx, &a, NULL), FPX_ERR_UNSUPPORTED_SHAPE, "%s", fpx_last_error());
  cr_assert(strstr(fpx_last_error(), "24") != NULL, "%s", fpx_last_error());
  a.x_dtype = FPX_DTYPE_E5M2;
  cr_assert_eq(fpx_gemm(g.ctx, &a, NULL), FPX_ERR_UNSUPPORTED_SHAPE, "%s", fpx_last_error());
  a.x_dtype = FPX_DTYPE_BF16;
  cr_assert_eq(fpx_gemm(g.ctx, &a, NULL), FPX_OK, "%s", fpx_last_error());
  CU_OK(g, cuCtxSynchronize());
  g.cu->cuMemFree(dx);
  g.cu->cuMemFree(dxs);
  g.cu->cuMemFree(dy);
  weights_free(&w);
  fpx_ctx_destroy(g.ctx);
}

/* A caller built against the fpx.h before x_scales existed passes the
 * shorter struct_size: f16/bf16 still work (whatever lies past the end is
 * ignored), FP8 X is an error. Runs on any GPU. */
Test(gpu_gemm_fp8, old_struct_size_runs_bf16_and_rejects_fp8) {
  gpu g = gpu_open();
  seed_fresh();
  const size_t m = 3, n = 40, k = 272;
  host_w w;
  weights_make(&g, parse("e3m2"), 0, n, k, &w);
  uint16_t *x = xmalloc(m * k * 2);
  for (size_t i = 0; i < m * k; i++) x[i] = fpx_f32_to_bf16((float)uniform());
  double *ref = xmalloc(m * n * sizeof *ref);
  cr_assert_eq(fpx_reference_gemm(w.format, FPX_DTYPE_BF16, x, w.codes, w.scales, 0, m, n, k, ref), FPX_OK);
  CUdeviceptr dx, dy;
  CU_OK(g, cuMemAlloc(&dx, m * k * 2));
  CU_OK(g, cuMemAlloc(&dy, m * n * 4));
  CU_OK(g, cuMemcpyHtoD(dx, x, m * k * 2));
  CU_OK(g, cuMemsetD32Async(dy, 0xFFFFFFFFu, m * n, NULL));
  CU_OK(g, cuCtxSynchronize());
  fpx_gemm_args a = {offsetof(fpx_gemm_args, x_scales), w.dev, FPX_DTYPE_BF16, FPX_DTYPE_F32, m, dx, dy,
                     NULL, (fpx_devptr)0xdead0000ull, 7};
  cr_assert_eq(fpx_gemm(g.ctx, &a, NULL), FPX_OK, "%s", fpx_last_error());
  CU_OK(g, cuCtxSynchronize());
  float *y = xmalloc(m * n * 4);
  CU_OK(g, cuMemcpyDtoH(y, dy, m * n * 4));
  for (size_t i = 0; i < m * n; i++)
    cr_assert(fabs(y[i] - ref[i]) <= 1e-5 * (1 + fabs(ref[i])) + (double)k * ldexp(1, -20),
              "old struct_size, bf16: Y[%zu][%zu] = %g, reference %g", i / n, i % n, y[i], ref[i]);
  /* FP8 X: the scales are past the caller's struct */
  CU_OK(g, cuMemsetD32Async(dy, 0xFFFFFFFFu, m * n, NULL));
  CU_OK(g, cuCtxSynchronize());
  a.x_dtype = FPX_DTYPE_E4M3;
  const fpx_status st = fpx_gemm(g.ctx, &a, NULL);
  cr_assert_neq(st, FPX_OK, "an FP8 x_dtype with the old struct_size was accepted");
  cr_assert_neq(fpx_last_error()[0], '\0');
  cr_assert(strstr(fpx_last_error(), "struct_size") != NULL || strstr(fpx_last_error(), "x_scales") != NULL,
            "%s", fpx_last_error());
  CU_OK(g, cuCtxSynchronize());
  CU_OK(g, cuMemcpyDtoH(y, dy, m * n * 4));
  for (size_t i = 0; i < m * n; i++) cr_assert_eq(((uint32_t *)y)[i], 0xFFFFFFFFu, "Y[%zu] was written", i);
  free(y);
  free(x);
  free(ref);
  g.cu->cuMemFree(dx);
  g.cu->cuMemFree(dy);
  weights_free(&w);
  fpx_ctx_destroy(g.ctx);
}

/* Below sm_89 (no FP8 tensor cores) FP8 X is FPX_ERR_UNSUPPORTED_DEVICE
 * naming the needed architecture; skipped on newer GPUs. */
Test(gpu_gemm_fp8, older_gpus_reject_fp8_activations) {
  gpu g = gpu_open();
  if (g.ctx->sm_version >= 89) {
    fpx_ctx_destroy(g.ctx);
    cr_skip_test("this GPU has FP8 tensor cores");
  }
  seed_fresh();
  small_case c;
  small_make(&g, E4M3, 64, &c);
  poison(&g, &c.d, NULL);
  fpx_gemm_args a = fp8_args(&c.w, &c.x, FPX_DTYPE_BF16, &c.d, NULL);
  cr_assert_eq(fpx_gemm(g.ctx, &a, NULL), FPX_ERR_UNSUPPORTED_DEVICE, "%s", fpx_last_error());
  cr_assert(strstr(fpx_last_error(), "sm_89") != NULL, "%s", fpx_last_error());
  assert_untouched(&g, &c.d);
  small_free(&g, &c);
  fpx_ctx_destroy(g.ctx);
}

/* ---- accuracy statement -------------------------------------------------------- */

typedef enum x_dist { X_UNIFORM, X_STUDENT_T3, X_OUTLIER_CHANNELS } x_dist;
static const char *const x_dist_names[] = {"uniform [-1,1)", "Student-t, 3 dof", "N(0,1), 8 channels x100"};

static double x_draw(x_dist d, size_t col) {
  switch (d) {
    case X_UNIFORM: return uniform();
    case X_STUDENT_T3: return student_t3();
    default: return normal() * (col % 512 == 7 ? 100.0 : 1.0);
  }
}

/* ||Y - ref||_F / ||ref||_F */
static double rel_frobenius(fpx_dtype d, const void *y, const double *ref, size_t count) {
  double e = 0, r = 0;
  for (size_t i = 0; i < count; i++) {
    const double v = load_out(d, y, i);
    e += (v - ref[i]) * (v - ref[i]);
    r += ref[i] * ref[i];
  }
  return sqrt(e / r);
}

/*
 * W6A8 (e3m2 weights, activations quantized per token to E4M3) against
 * W6A16 (the same weights, BF16 activations), both measured against the
 * double reference of the same quantized weights times the unquantized
 * BF16 activations, so that only the activation path differs. Printed as a
 * table for the documentation; the asserted bounds:
 *
 *   W6A16: the output rounding (2^-9 relative, bf16) plus FP32
 *     accumulation: < 2^-8 with bf16 output, < 2^-12 with f32.
 *   W6A8: E4M3 keeps 3 mantissa bits, so a normal value is rounded with a
 *     relative error delta, |delta| <= 2^-4; with the row maximum scaled to
 *     448 only values below amax / 28672 are subnormal, and their absolute
 *     error (<= 2^-10 of the scale) is negligible. For weights of random
 *     sign, E[(sum_k x_k delta_k w_k)^2] = sum_k x_k^2 delta_k^2 E[w^2], so
 *     ||Y8 - Y||_F / ||Y||_F ~ sqrt(sum x^2 delta^2 / sum x^2): an x^2-
 *     weighted RMS of delta. When the mantissas are spread evenly the
 *     rounding error is uniform within half a step, RMS 2^-4 / sqrt(3) =
 *     3.6% of the binade's lower end, hence below 3.6% relative: the bound
 *     for uniform activations is 2^-4/sqrt(3) + 2^-8 (output rounding and
 *     FP8 accumulation). Heavy tails put the weight of that average on a
 *     few large values whose delta can each be up to 2^-4: their bound is
 *     2^-4 + 2^-8.
 *   The GPU's W6A8 result and the CPU reference with the same quantized
 *     activations (fpx_reference_gemm_qx) differ by the accumulation only:
 *     their errors agree within 2^-8.
 */
Test(gpu_gemm_fp8, accuracy_w6a8_vs_w6a16, .timeout = 600) {
  gpu g = gpu_open_fp8();
  seed_fresh();
  const size_t m = 64, n = 1024, k = 4096;
  host_w w;
  weights_make(&g, parse("e3m2"), 0, n, k, &w);
  uint16_t *x = xmalloc(m * k * 2);
  uint8_t *xcodes = xmalloc(m * k);
  float *xscales = xmalloc(m * sizeof *xscales);
  double *ref = xmalloc(m * n * sizeof *ref), *ref_qx = xmalloc(m * n * sizeof *ref_qx);
  void *y = xmalloc(m * n * 4);
  CUdeviceptr dx, dxq, dxs, dy;
  CU_OK(g, cuMemAlloc(&dx, m * k * 2));
  CU_OK(g, cuMemAlloc(&dxq, m * k));
  CU_OK(g, cuMemAlloc(&dxs, m * sizeof(float)));
  CU_OK(g, cuMemAlloc(&dy, m * n * 4));
  printf("gpu_gemm_fp8 accuracy: e3m2 weights (per-row scales), M=%zu N=%zu K=%zu; relative Frobenius\n"
         "error against the double reference with unquantized BF16 activations (seed %llu)\n"
         "  %-26s %12s %12s %12s %12s %12s\n",
         m, n, k, seed_used, "activations", "W6A16 bf16", "W6A16 f32", "W6A8 bf16", "W6A8 f32", "W6A8 CPU");
  for (int dist = X_UNIFORM; dist <= X_OUTLIER_CHANNELS; dist++) {
    for (size_t i = 0; i < m * k; i++)
      x[i] = fpx_f32_to_bf16((float)x_draw((x_dist)dist, i % k));
    cr_assert_eq(fpx_reference_gemm(w.format, FPX_DTYPE_BF16, x, w.codes, w.scales, 0, m, n, k, ref), FPX_OK);
    cr_assert_eq(fpx_quantize_activations(NULL, FPX_DTYPE_BF16, x, m, k, xcodes, xscales), FPX_OK, "%s",
                 fpx_last_error());
    cr_assert_eq(fpx_reference_gemm_qx(E4M3, xcodes, xscales, 0, w.format, w.codes, w.scales, 0, m, n, k,
                                       ref_qx),
                 FPX_OK);
    /* the CPU number: the quantized-X reference against the exact one */
    double e_cpu = 0, r_cpu = 0;
    for (size_t i = 0; i < m * n; i++) {
      e_cpu += (ref_qx[i] - ref[i]) * (ref_qx[i] - ref[i]);
      r_cpu += ref[i] * ref[i];
    }
    e_cpu = sqrt(e_cpu / r_cpu);
    CU_OK(g, cuMemcpyHtoD(dx, x, m * k * 2));
    CU_OK(g, cuMemcpyHtoD(dxq, xcodes, m * k));
    CU_OK(g, cuMemcpyHtoD(dxs, xscales, m * sizeof(float)));
    double err[2][2]; /* [A16, A8][bf16, f32] */
    for (int a8 = 0; a8 < 2; a8++)
      for (int o = 0; o < 2; o++) {
        const fpx_dtype out = o ? FPX_DTYPE_F32 : FPX_DTYPE_BF16;
        CU_OK(g, cuMemsetD32Async(dy, 0xFFFFFFFFu, m * n, NULL));
        CU_OK(g, cuCtxSynchronize());
        fpx_gemm_args a = {sizeof a, w.dev, a8 ? FPX_DTYPE_E4M3 : FPX_DTYPE_BF16, out, m, a8 ? dxq : dx,
                           dy, NULL, a8 ? dxs : 0, 0};
        cr_assert_eq(fpx_gemm(g.ctx, &a, NULL), FPX_OK, "%s", fpx_last_error());
        CU_OK(g, cuCtxSynchronize());
        CU_OK(g, cuMemcpyDtoH(y, dy, m * n * dsize(out)));
        for (size_t i = 0; i < m * n; i++)
          cr_assert(isfinite(load_out(out, y, i)), "%s: Y[%zu] not finite", x_dist_names[dist], i);
        err[a8][o] = rel_frobenius(out, y, ref, m * n);
      }
    printf("  %-26s %11.4f%% %11.4f%% %11.4f%% %11.4f%% %11.4f%%\n", x_dist_names[dist], 100 * err[0][0],
           100 * err[0][1], 100 * err[1][0], 100 * err[1][1], 100 * e_cpu);
    fflush(stdout);
    cr_assert_lt(err[0][0], ldexp(1, -8), "%s: W6A16 bf16-out error %g", x_dist_names[dist], err[0][0]);
    cr_assert_lt(err[0][1], ldexp(1, -12), "%s: W6A16 f32-out error %g", x_dist_names[dist], err[0][1]);
    const double bound = (dist == X_UNIFORM ? ldexp(1, -4) / sqrt(3.0) : ldexp(1, -4)) + ldexp(1, -8);
    for (int o = 0; o < 2; o++)
      cr_assert_lt(err[1][o], bound, "%s: W6A8 %s-out error %g exceeds %g", x_dist_names[dist],
                   o ? "f32" : "bf16", err[1][o], bound);
    cr_assert_lt(e_cpu, bound, "%s: CPU W6A8 error %g exceeds %g", x_dist_names[dist], e_cpu, bound);
    cr_assert_lt(fabs(err[1][1] - e_cpu), ldexp(1, -8), "%s: GPU W6A8 %g vs CPU %g", x_dist_names[dist],
                 err[1][1], e_cpu);
  }
  g.cu->cuMemFree(dx);
  g.cu->cuMemFree(dxq);
  g.cu->cuMemFree(dxs);
  g.cu->cuMemFree(dy);
  free(x);
  free(xcodes);
  free(xscales);
  free(ref);
  free(ref_qx);
  free(y);
  weights_free(&w);
  fpx_ctx_destroy(g.ctx);
}
