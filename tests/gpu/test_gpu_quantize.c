/*
 * test_gpu_quantize.c - the GPU FP8 quantizer against the CPU reference, bit
 * for bit: fpx_quantize_activations_gpu (per-row with and without an upper
 * bound, per-tensor, static; E4M3 and E5M2; BF16 and F16; odd shapes, rows
 * longer than the registers hold; zero rows, NaN and Inf rows; tiny and huge
 * scales; scales so far from the data that x / scale overflows FP32 or
 * vanishes; rows built so that an FP32 quotient lands exactly on an FP8
 * midpoint; true ties and near-ties, which the fast path hands to the
 * exact one, mixed with units that stay fast), with the FP8 conversion
 * instruction and with the integer encoder; and fpx_weights_quantize_gpu against fpx_quantize +
 * fpx_weights_upload, packed bytes and scales. Outputs are poisoned first
 * (0xFF codes and NaN scales, which no finite row produces) and the bytes
 * past the outputs are checked untouched. Each test creates its CUDA state
 * after Criterion's fork and skips without a driver or device.
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
#include "quantize_fp8.h"

typedef struct gpu {
  fpx_ctx *ctx;
  const fpx__cu_table *cu;
} gpu;

static gpu gpu_open(void) {
  gpu g = {0};
  fpx_ctx_options opts = {sizeof opts, 0, ":memory:", 0};
  fpx_status st = fpx_ctx_create(&opts, &g.ctx);
  if (st == FPX_ERR_NO_DEVICE) cr_skip_test("no CUDA device: %s", fpx_last_error());
  cr_assert_eq(st, FPX_OK, "fpx_ctx_create: %s", fpx_last_error());
  cr_assert_eq(fpx__cu_get(&g.cu), FPX_OK);
  return g;
}

#define CU_OK(g, call) cr_assert_eq((g).cu->call, CUDA_SUCCESS, "%s failed", #call)

static unsigned long long seed_state, seed_used;
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
  seed_used = seed_state;
}

static uint16_t to16(fpx_dtype d, float v) { return d == FPX_DTYPE_F16 ? fpx_f32_to_f16(v) : fpx_f32_to_bf16(v); }
static float from16(fpx_dtype d, uint16_t b) { return d == FPX_DTYPE_F16 ? fpx_f16_to_f32(b) : fpx_bf16_to_f32(b); }
static fpx_format fmt_of(int e5m2) { return e5m2 ? (fpx_format){5, 2} : (fpx_format){4, 3}; }
static const char *mode_text(fpx_act_scale_mode m) {
  return m == FPX_ACT_SCALE_PER_ROW ? "per-row" : m == FPX_ACT_SCALE_PER_TENSOR ? "per-tensor" : "static";
}

/* ---- inputs ---------------------------------------------------------------- */

/* Random rows, each with its own magnitude 2^-10..2^10 (f16: 2^-6..2^8),
 * random signs, never zero. */
static void fill_random(fpx_dtype d, uint16_t *x, size_t m, size_t k) {
  for (size_t r = 0; r < m; r++) {
    const int e = d == FPX_DTYPE_F16 ? (int)(7 * uniform()) + 1 : (int)(10 * uniform());
    const float mag = ldexpf(1.0f, e);
    for (size_t c = 0; c < k; c++) {
      float v = (float)uniform() * mag;
      uint16_t b = to16(d, v);
      if ((b & 0x7FFF) == 0) b = to16(d, mag / 3);
      x[r * k + c] = b;
    }
  }
}

/* 1 when the FP8 rounding of q is a tie (q is the midpoint of two codes). */
static int is_midpoint(fpx_format f, float q) {
  uint8_t below, above;
  fpx_encode_value(f, nextafterf(q, 0.0f), &below);
  fpx_encode_value(f, nextafterf(q, INFINITY), &above);
  return below != above;
}

/* Up to `max` positive inputs x <= limit whose FP32 quotient x / s is exactly
 * an FP8 midpoint while the exact quotient is not: the cases where rounding
 * an FP32 quotient breaks the tie the wrong way half of the time. */
static size_t trap_values(fpx_dtype d, fpx_format f, float s, float limit, uint16_t *out, size_t max) {
  size_t count = 0;
  const uint32_t end = d == FPX_DTYPE_F16 ? 0x7C00u : 0x7F80u; /* the first non-finite pattern */
  for (uint32_t b = 1; b < end && count < max; b++) {
    const float x = from16(d, (uint16_t)b);
    if (x > limit) break;
    volatile float q = x / s;
    if (q == 0 || !isfinite(q) || !is_midpoint(f, q)) continue;
    if (fmaf(-q, s, x) == 0.0f) continue; /* exact: a true tie */
    out[count++] = (uint16_t)b;
  }
  return count;
}

/* Fills row r with trap values for scale s (signs alternating), its first
 * element amax (so that a per-row scale is fp32(amax / max_finite) = s when
 * amax is chosen so). Returns the number of trap values found. */
static size_t fill_trap_row(fpx_dtype d, fpx_format f, uint16_t *row, size_t k, float s, uint16_t amax) {
  uint16_t *traps = malloc(4096 * sizeof *traps);
  cr_assert(traps != NULL);
  const size_t n = trap_values(d, f, s, from16(d, amax), traps, 4096);
  row[0] = amax;
  for (size_t c = 1; c < k; c++) {
    const uint16_t v = n ? traps[(c * 7919) % n] : amax;
    row[c] = (uint16_t)(v | (c % 2 ? 0x8000u : 0));
  }
  free(traps);
  return n;
}

/* ---- one run on the GPU ----------------------------------------------------- */

enum { GUARD = 64 };

typedef struct qcase {
  fpx_act_quant_params p;
  fpx_dtype dtype;
  size_t m, k;
  const uint16_t *x;
} qcase;

typedef struct qout {
  uint8_t *codes;  /* m * k */
  float *scales;   /* m (per row) or 1 */
  unsigned nonfinite;
} qout;

static size_t scale_count(const qcase *c) { return c->p.mode == FPX_ACT_SCALE_PER_ROW ? c->m : 1; }

/* Quantizes on the GPU with `encoder` (AUTO through the public entry),
 * poisoning codes with `poison`, scales with NaN and the counter with ~0
 * first, and checks that nothing past the outputs was written. */
static void gpu_quantize(gpu *g, const qcase *c, fpx__q8_encoder encoder, uint8_t poison, CUstream stream,
                         qout *out) {
  const size_t n = c->m * c->k, ns = scale_count(c);
  CUdeviceptr dx, dc, ds, dn;
  CU_OK(*g, cuMemAlloc(&dx, n * 2));
  CU_OK(*g, cuMemAlloc(&dc, n + GUARD));
  CU_OK(*g, cuMemAlloc(&ds, (ns + GUARD) * sizeof(float)));
  CU_OK(*g, cuMemAlloc(&dn, sizeof(unsigned)));
  CU_OK(*g, cuMemcpyHtoD(dx, c->x, n * 2));
  CU_OK(*g, cuMemsetD8Async(dc, poison, n + GUARD, stream));
  CU_OK(*g, cuMemsetD32Async(ds, 0xFFFFFFFFu, ns + GUARD, stream));
  CU_OK(*g, cuMemsetD32Async(dn, 0xFFFFFFFFu, 1, stream));
  fpx_status st;
  if (encoder == FPX__Q8_ENCODER_AUTO)
    st = fpx_quantize_activations_gpu(g->ctx, &c->p, c->dtype, dx, c->m, c->k, dc, ds, dn, stream);
  else
    st = fpx__quantize_fp8_gpu(g->ctx, "test", &c->p, c->dtype, dx, c->m, c->k, dc, ds, dn, stream, encoder);
  cr_assert_eq(st, FPX_OK, "%s", fpx_last_error());
  CU_OK(*g, cuStreamSynchronize(stream));
  uint8_t *codes = malloc(n + GUARD);
  float *scales = malloc((ns + GUARD) * sizeof(float));
  cr_assert(codes && scales);
  CU_OK(*g, cuMemcpyDtoH(codes, dc, n + GUARD));
  CU_OK(*g, cuMemcpyDtoH(scales, ds, (ns + GUARD) * sizeof(float)));
  CU_OK(*g, cuMemcpyDtoH(&out->nonfinite, dn, sizeof(unsigned)));
  for (size_t i = 0; i < GUARD; i++) {
    cr_assert_eq(codes[n + i], poison, "code byte %zu past the end was written", i);
    uint32_t b;
    memcpy(&b, &scales[ns + i], 4);
    cr_assert_eq(b, 0xFFFFFFFFu, "scale %zu past the end was written", ns + i);
  }
  out->codes = codes;
  out->scales = scales;
  g->cu->cuMemFree(dx);
  g->cu->cuMemFree(dc);
  g->cu->cuMemFree(ds);
  g->cu->cuMemFree(dn);
}

static void qout_free(qout *o) {
  free(o->codes);
  free(o->scales);
}

/* Compares rows [0, m) that `skip` (may be NULL) does not mark; with
 * `skip`, a single (per-tensor or static) scale is not compared: a bad row
 * makes it NaN. */
static void compare(const qcase *c, const qout *got, const uint8_t *want_codes, const float *want_scales,
                    const char *skip, const char *what) {
  const size_t ns = scale_count(c);
  for (size_t i = 0; i < ns; i++) {
    if (skip && (c->p.mode != FPX_ACT_SCALE_PER_ROW || skip[i])) continue;
    cr_assert(memcmp(&got->scales[i], &want_scales[i], 4) == 0,
              "%s: scale %zu is %a, the CPU reference %a (seed %llu)", what, i, (double)got->scales[i],
              (double)want_scales[i], seed_used);
  }
  for (size_t r = 0; r < c->m; r++) {
    if (skip && skip[r]) continue;
    for (size_t col = 0; col < c->k; col++) {
      const size_t i = r * c->k + col;
      cr_assert_eq(got->codes[i], want_codes[i],
                   "%s: code [%zu][%zu] is 0x%02X, the CPU reference 0x%02X (x = %a, scale %a, seed %llu)",
                   what, r, col, got->codes[i], want_codes[i], (double)from16(c->dtype, c->x[i]),
                   (double)want_scales[c->p.mode == FPX_ACT_SCALE_PER_ROW ? r : 0], seed_used);
    }
  }
}

/* Runs the case with both encoders (the instruction one only exists on
 * sm_89+, where AUTO picks it) and compares each with the reference. */
static void check_case(gpu *g, const qcase *c) {
  const size_t n = c->m * c->k;
  uint8_t *want = malloc(n);
  float *want_scales = malloc(scale_count(c) * sizeof(float));
  cr_assert(want && want_scales);
  cr_assert_eq(fpx_quantize_activations(&c->p, c->dtype, c->x, c->m, c->k, want, want_scales), FPX_OK, "%s",
               fpx_last_error());
  for (int e = 0; e < 2; e++) {
    char what[160];
    qout got;
    snprintf(what, sizeof what, "%s %s -> e%dm%d, m = %zu, k = %zu, scale_ub %g, %s encoder",
             mode_text(c->p.mode), fpx_dtype_name(c->dtype), c->p.format.exp_bits, c->p.format.man_bits, c->m,
             c->k, (double)c->p.scale_ub, e ? "integer" : "default");
    gpu_quantize(g, c, e ? FPX__Q8_ENCODER_SOFTWARE : FPX__Q8_ENCODER_AUTO, 0xFF, NULL, &got);
    cr_assert_eq(got.nonfinite, 0, "%s: %u rows counted as non-finite", what, got.nonfinite);
    compare(c, &got, want, want_scales, NULL, what);
    qout_free(&got);
  }
  free(want);
  free(want_scales);
}

static void check_random(gpu *g, fpx_act_quant_params p, fpx_dtype d, size_t m, size_t k) {
  uint16_t *x = malloc(m * k * 2);
  cr_assert(x != NULL);
  fill_random(d, x, m, k);
  const qcase c = {p, d, m, k, x};
  check_case(g, &c);
  free(x);
}

/* ---- activation tests --------------------------------------------------------- */

static const size_t shape_m[] = {1, 7, 1000};
static const size_t shape_k[] = {8, 24, 4104, 8192};

static void per_row_shapes(fpx_dtype d, int e5m2) {
  gpu g = gpu_open();
  seed_fresh();
  const fpx_act_quant_params p = {sizeof p, FPX_ACT_SCALE_PER_ROW, 0, 0, fmt_of(e5m2)};
  for (size_t a = 0; a < 3; a++)
    for (size_t b = 0; b < 4; b++) check_random(&g, p, d, shape_m[a], shape_k[b]);
  /* rows longer than the registers hold (32768): two passes, 16- and 8-byte units */
  check_random(&g, p, d, 3, 40000);
  check_random(&g, p, d, 2, 32776);
  fpx_ctx_destroy(g.ctx);
}
Test(gpu_quantize, per_row_bf16_e4m3_shapes, .timeout = 600) { per_row_shapes(FPX_DTYPE_BF16, 0); }
Test(gpu_quantize, per_row_f16_e4m3_shapes, .timeout = 600) { per_row_shapes(FPX_DTYPE_F16, 0); }
Test(gpu_quantize, per_row_bf16_e5m2_shapes, .timeout = 600) { per_row_shapes(FPX_DTYPE_BF16, 1); }
Test(gpu_quantize, per_row_f16_e5m2_shapes, .timeout = 600) { per_row_shapes(FPX_DTYPE_F16, 1); }

Test(gpu_quantize, per_row_with_upper_bound_saturates, .timeout = 600) {
  gpu g = gpu_open();
  seed_fresh();
  for (int e5m2 = 0; e5m2 < 2; e5m2++)
    for (int d = 1; d <= 2; d++) {
      /* rows have magnitudes 2^-10..2^10 (f16 2^-6..2^8): a bound of 4 clamps some */
      const fpx_act_quant_params p = {sizeof p, FPX_ACT_SCALE_PER_ROW, 4.0f, 0, fmt_of(e5m2)};
      check_random(&g, p, (fpx_dtype)d, 300, 4104);
      check_random(&g, p, (fpx_dtype)d, 7, 24);
    }
  fpx_ctx_destroy(g.ctx);
}

Test(gpu_quantize, per_tensor_and_static, .timeout = 600) {
  gpu g = gpu_open();
  seed_fresh();
  for (int e5m2 = 0; e5m2 < 2; e5m2++)
    for (int d = 1; d <= 2; d++) {
      const fpx_dtype dt = (fpx_dtype)d;
      fpx_act_quant_params p = {sizeof p, FPX_ACT_SCALE_PER_TENSOR, 0, 0, fmt_of(e5m2)};
      check_random(&g, p, dt, 1000, 4104);
      check_random(&g, p, dt, 1, 8);
      check_random(&g, p, dt, 7, 40000);
      p.scale_ub = 2.0f;
      check_random(&g, p, dt, 300, 8192);
      /* static: a scale that saturates the larger rows, one that leaves
       * them alone, and an arbitrary one */
      p = (fpx_act_quant_params){sizeof p, FPX_ACT_SCALE_STATIC, 0, 1.0f / 448.0f, fmt_of(e5m2)};
      check_random(&g, p, dt, 1000, 4104);
      p.static_scale = 16.0f;
      check_random(&g, p, dt, 7, 24);
      p.static_scale = (float)(0.5 + 0.5 * fabs(uniform())) * 0.037f;
      check_random(&g, p, dt, 300, 8192);
    }
  fpx_ctx_destroy(g.ctx);
}

Test(gpu_quantize, zero_rows_get_scale_one, .timeout = 600) {
  gpu g = gpu_open();
  seed_fresh();
  const size_t m = 9, k = 264;
  uint16_t *x = malloc(m * k * 2);
  cr_assert(x != NULL);
  for (int d = 1; d <= 2; d++)
    for (int e5m2 = 0; e5m2 < 2; e5m2++) {
      fill_random((fpx_dtype)d, x, m, k);
      for (size_t c = 0; c < k; c++) {
        x[0 * k + c] = 0;
        x[4 * k + c] = c % 3 ? 0x8000 : 0; /* -0 and +0: signs kept */
        x[8 * k + c] = 0;
      }
      for (int mode = 0; mode < 3; mode++) {
        const fpx_act_quant_params p = {sizeof p, (fpx_act_scale_mode)mode, 0, 0.25f, fmt_of(e5m2)};
        const qcase c = {p, (fpx_dtype)d, m, k, x};
        check_case(&g, &c);
      }
      /* an all-zero tensor: per-tensor scale 1 */
      memset(x, 0, m * k * 2);
      const fpx_act_quant_params p = {sizeof p, FPX_ACT_SCALE_PER_TENSOR, 0, 0, fmt_of(e5m2)};
      const qcase c = {p, (fpx_dtype)d, m, k, x};
      check_case(&g, &c);
    }
  free(x);
  fpx_ctx_destroy(g.ctx);
}

Test(gpu_quantize, nan_and_inf_rows_get_nan_scales_and_are_counted, .timeout = 600) {
  gpu g = gpu_open();
  seed_fresh();
  const size_t m = 9, k = 4104, nan_at = 2 * k + 5, inf_at = 5 * k + k - 1;
  uint16_t *x = malloc(m * k * 2), *clean = malloc(m * k * 2);
  uint8_t *want = malloc(m * k);
  float want_scales[9];
  const char bad_rows[9] = {0, 0, 1, 0, 0, 1, 0, 0, 0}, no_rows[9] = {0};
  cr_assert(x && clean && want);
  for (int d = 1; d <= 2; d++)
    for (int e5m2 = 0; e5m2 < 2; e5m2++)
      for (int mode = 0; mode < 3; mode++) {
        const fpx_dtype dt = (fpx_dtype)d;
        fill_random(dt, x, m, k);
        memcpy(clean, x, m * k * 2);
        clean[nan_at] = clean[inf_at] = 0;
        x[nan_at] = dt == FPX_DTYPE_F16 ? 0x7E00 : 0x7FC0;     /* NaN */
        x[inf_at] = dt == FPX_DTYPE_F16 ? 0xFC00 : 0xFF80;     /* -Inf */
        const fpx_act_quant_params p = {sizeof p, (fpx_act_scale_mode)mode, 0, 0.125f, fmt_of(e5m2)};
        const qcase c = {p, dt, m, k, x}, cc = {p, dt, m, k, clean};
        cr_assert_eq(fpx_quantize_activations(&p, dt, clean, m, k, want, want_scales), FPX_OK);
        for (int e = 0; e < 2; e++) {
          char what[96];
          snprintf(what, sizeof what, "%s %s e%dm%d with NaN/Inf rows, %s encoder", mode_text(p.mode),
                   fpx_dtype_name(dt), p.format.exp_bits, p.format.man_bits, e ? "integer" : "default");
          qout got;
          gpu_quantize(&g, &c, e ? FPX__Q8_ENCODER_SOFTWARE : FPX__Q8_ENCODER_AUTO, 0x5A, NULL, &got);
          cr_assert_eq(got.nonfinite, 2, "%s: counter %u", what, got.nonfinite);
          /* codes are unspecified where the scale or the input is not
           * finite, but written: NaN or saturated codes, never the 0x5A
           * poison (20 in e4m3, 192 in e5m2) */
          if (mode == FPX_ACT_SCALE_PER_ROW) {
            cr_assert(isnan(got.scales[2]) && isnan(got.scales[5]), "%s: %g %g", what, (double)got.scales[2],
                      (double)got.scales[5]);
            for (size_t col = 0; col < k; col++)
              cr_assert(got.codes[2 * k + col] != 0x5A && got.codes[5 * k + col] != 0x5A,
                        "%s: column %zu of a bad row was not written", what, col);
            compare(&cc, &got, want, want_scales, bad_rows, what);
          } else {
            cr_assert(isnan(got.scales[0]), "%s: the one scale is %g", what, (double)got.scales[0]);
            if (mode == FPX_ACT_SCALE_PER_TENSOR) {
              for (size_t i = 0; i < m * k; i++)
                cr_assert(got.codes[i] != 0x5A, "%s: code %zu was not written", what, i);
            } else { /* static: every finite element as without the bad ones */
              cr_assert(got.codes[nan_at] != 0x5A && got.codes[inf_at] != 0x5A, "%s", what);
              got.codes[nan_at] = want[nan_at];
              got.codes[inf_at] = want[inf_at];
              compare(&cc, &got, want, want_scales, no_rows, what);
            }
          }
          qout_free(&got);
        }
      }
  /* without a counter the call still works */
  fill_random(FPX_DTYPE_BF16, x, m, k);
  CUdeviceptr dx, dc, ds;
  CU_OK(g, cuMemAlloc(&dx, m * k * 2));
  CU_OK(g, cuMemAlloc(&dc, m * k));
  CU_OK(g, cuMemAlloc(&ds, m * 4));
  CU_OK(g, cuMemcpyHtoD(dx, x, m * k * 2));
  cr_assert_eq(fpx_quantize_activations_gpu(g.ctx, NULL, FPX_DTYPE_BF16, dx, m, k, dc, ds, 0, NULL), FPX_OK,
               "%s", fpx_last_error());
  CU_OK(g, cuCtxSynchronize());
  g.cu->cuMemFree(dx);
  g.cu->cuMemFree(dc);
  g.cu->cuMemFree(ds);
  free(x);
  free(clean);
  free(want);
  fpx_ctx_destroy(g.ctx);
}

/* A scale s next to x0 / mid (mid an FP8 midpoint) for which the FP32
 * quotient x0 / s is exactly a midpoint while the exact one is not; 0 if
 * none of the five floats around x0 / mid is. */
static float trap_scale(fpx_format f, float x0, double mid) {
  const float s0 = (float)(x0 / mid);
  for (int d = 0; d < 5; d++) {
    uint32_t b;
    float s;
    memcpy(&b, &s0, 4);
    b = d % 2 ? b + (uint32_t)((d + 1) / 2) : b - (uint32_t)((d + 1) / 2);
    memcpy(&s, &b, 4);
    volatile float q = x0 / s;
    if (s > 0 && q != 0 && isfinite(q) && is_midpoint(f, q) && fmaf(-q, s, x0) != 0.0f) return s;
  }
  return 0;
}

/* Rows made of inputs whose FP32 quotient is exactly an FP8 midpoint while
 * the exact one is not, for per-row scales (amax chosen, scale = its
 * quotient) and static scales, including scales below 2^-64 and above 2^64
 * (the power-of-two prescaling; BF16 only). */
Test(gpu_quantize, midpoint_traps_round_the_exact_quotient, .timeout = 600) {
  gpu g = gpu_open();
  seed_fresh();
  const size_t m = 16, k = 1032;
  uint16_t *x = malloc(m * k * 2);
  cr_assert(x != NULL);
  for (int d = 1; d <= 2; d++)
    for (int e5m2 = 0; e5m2 < 2; e5m2++) {
      const fpx_dtype dt = (fpx_dtype)d;
      const fpx_format f = fmt_of(e5m2);
      const float max_finite = e5m2 ? 57344.0f : 448.0f;
      size_t traps = 0;
      /* per row: amax a random value of the dtype, scale fp32(amax / max) */
      for (size_t r = 0; r < m; r++) {
        const float a = from16(dt, to16(dt, ldexpf(1.0f + 0.9f * (float)fabs(uniform()), (int)(6 * uniform()))));
        traps += fill_trap_row(dt, f, x + r * k, k, a / max_finite, to16(dt, a));
      }
      fpx_act_quant_params p = {sizeof p, FPX_ACT_SCALE_PER_ROW, 0, 0, f};
      qcase c = {p, dt, m, k, x};
      check_case(&g, &c);
      /* static scales that trap x0 (and its power-of-two multiples) */
      const double mids[] = {e5m2 ? 2.25 : 2.125, e5m2 ? 3.75 : 2.375, e5m2 ? 0.34375 : 0.28125, 104.0,
                             e5m2 ? 26624.0 : 416.0};
      const float x0s[] = {1.0078125f, 1.3125f, 1.8671875f, 5.75f, 0.6875f, /* BF16 only: */
                           1.1e-36f, 2.9e-38f, 2.2e25f, 1.5e36f};
      for (size_t i = 0; i < sizeof x0s / sizeof x0s[0]; i++) {
        if (dt == FPX_DTYPE_F16 && i >= 5) break;
        const float x0 = from16(dt, to16(dt, x0s[i] * (float)(1.0 + 0.25 * fabs(uniform()))));
        const float s = trap_scale(f, x0, mids[i % 5]);
        if (s == 0) continue;
        const float top = s * max_finite * 1.25f, dtype_max = dt == FPX_DTYPE_F16 ? 65504.0f : 3.3e38f;
        const uint16_t limit = to16(dt, fminf(top, dtype_max)); /* saturating values too */
        for (size_t r = 0; r < m; r++) traps += fill_trap_row(dt, f, x + r * k, k, s, limit);
        p = (fpx_act_quant_params){sizeof p, FPX_ACT_SCALE_STATIC, 0, s, f};
        c = (qcase){p, dt, m, k, x};
        check_case(&g, &c);
      }
      cr_assert_gt(traps, 0, "%s e%dm%d: no trap values found (seed %llu)", fpx_dtype_name(dt), f.exp_bits,
                   f.man_bits, seed_used);
    }
  free(x);
  fpx_ctx_destroy(g.ctx);
}

/* Rows that send units down the exact path on purpose, mixed with units
 * that stay on the fast one: true ties (x / s exactly an FP8 midpoint, with
 * a power-of-two static scale), near-ties of per-row scales (amax a power of
 * two times 1, 1.5 or 1.75, so that 448 x / amax often is a midpoint while
 * x / s is 2^-24 away), and a lone tie in an otherwise random row at every
 * position of a 16-element unit. */
Test(gpu_quantize, ties_and_near_ties_take_the_exact_path, .timeout = 600) {
  gpu g = gpu_open();
  seed_fresh();
  const size_t m = 48, k = 4112;
  uint16_t *x = malloc(m * k * 2);
  cr_assert(x != NULL);
  for (int d = 1; d <= 2; d++)
    for (int e5m2 = 0; e5m2 < 2; e5m2++) {
      const fpx_dtype dt = (fpx_dtype)d;
      const fpx_format f = fmt_of(e5m2);
      const float s = 0.25f; /* static: x / s exact */
      /* FP8 midpoints of this format from 2^-3 to 2^6 (5 significant bits
       * with the last one set), times s: exact in f16 and bf16 */
      float mids[512];
      size_t nm = 0;
      for (int e = -3; e < 6; e++)
        for (int j = 1; j < (e5m2 ? 8 : 16); j += 2) mids[nm++] = ldexpf(1.0f + (float)j / (e5m2 ? 8 : 16), e) * s;
      for (size_t i = 0; i < nm; i++)
        cr_assert(is_midpoint(f, mids[i] / s) && from16(dt, to16(dt, mids[i])) == mids[i], "%a", (double)mids[i]);
      fill_random(dt, x, m, k);
      for (size_t r = 0; r < m; r++)
        for (size_t c = 0; c < k; c++) {
          const size_t i = r * k + c;
          const int sign = (int)((c * 31 + r) % 2);
          if (r % 3 == 0) /* all ties */
            x[i] = (uint16_t)(to16(dt, mids[(c * 7 + r) % nm]) | (sign ? 0x8000u : 0));
          else if (r % 3 == 1 && c % 16 == r % 16) /* one tie per unit, its lane moving with the row */
            x[i] = (uint16_t)(to16(dt, mids[(c + r) % nm]) | (sign ? 0x8000u : 0));
        }
      fpx_act_quant_params p = {sizeof p, FPX_ACT_SCALE_STATIC, 0, s, f};
      qcase c = {p, dt, m, k, x};
      check_case(&g, &c);
      /* per row: amax of few significant bits, other elements random below it */
      static const float mant[] = {1.0f, 1.5f, 1.75f};
      for (size_t r = 0; r < m; r++) {
        const float a = ldexpf(mant[r % 3], (int)(4 * uniform()));
        for (size_t col = 0; col < k; col++) {
          uint16_t b = to16(dt, (float)uniform() * a);
          if ((b & 0x7FFF) == 0) b = to16(dt, a / 3);
          x[r * k + col] = b;
        }
        x[r * k + (r * 37) % k] = to16(dt, a);
      }
      p = (fpx_act_quant_params){sizeof p, FPX_ACT_SCALE_PER_ROW, 0, 0, f};
      c = (qcase){p, dt, m, k, x};
      check_case(&g, &c);
    }
  free(x);
  fpx_ctx_destroy(g.ctx);
}

Test(gpu_quantize, tiny_rows_give_tiny_scales, .timeout = 600) {
  gpu g = gpu_open();
  seed_fresh();
  const size_t m = 64, k = 520;
  uint16_t *x = malloc(m * k * 2);
  cr_assert(x != NULL);
  /* bf16 rows of magnitude 2^-140..2^-100 (subnormal scales), and some of
   * bf16 subnormals only */
  for (size_t r = 0; r < m; r++) {
    const float mag = ldexpf(1.0f, -120 + (int)(20 * uniform()));
    for (size_t c = 0; c < k; c++) {
      uint16_t b = r % 4 == 3 ? (uint16_t)((uint16_t)(fabs(uniform()) * 127) + 1) : to16(FPX_DTYPE_BF16, (float)uniform() * mag);
      if ((b & 0x7FFF) == 0) b = 1;
      x[r * k + c] = (uint16_t)(b | (c % 5 == 0 ? 0x8000 : 0));
    }
  }
  for (int e5m2 = 0; e5m2 < 2; e5m2++)
    for (int mode = 0; mode < 2; mode++) {
      const fpx_act_quant_params p = {sizeof p, (fpx_act_scale_mode)mode, 0, 0, fmt_of(e5m2)};
      const qcase c = {p, FPX_DTYPE_BF16, m, k, x};
      check_case(&g, &c);
    }
  free(x);
  fpx_ctx_destroy(g.ctx);
}

/* Fills n elements with random signs and mantissas, binary exponents
 * uniform in [emin, emax] (clamped to the dtype; below its normal range a
 * random nonzero subnormal), finite and never zero. */
static void fill_band(fpx_dtype d, uint16_t *x, size_t n, int emin, int emax) {
  const int bf16 = d == FPX_DTYPE_BF16, bias = bf16 ? 127 : 15, man = bf16 ? 7 : 10, top = bf16 ? 254 : 30;
  for (size_t i = 0; i < n; i++) {
    int field = emin + (int)((uniform() + 1) / 2 * (emax - emin + 1)) + bias;
    uint32_t m = (uint32_t)((uniform() + 1) / 2 * (1 << man)) & ((1u << man) - 1);
    if (field > top) field = top;
    if (field <= 0) {
      field = 0;
      if (m == 0) m = 1;
    }
    x[i] = (uint16_t)((uniform() < 0 ? 0x8000u : 0) | (uint32_t)field << man | m);
  }
}

/* Scales far from the data: quotients x / s that overflow FP32 (a static
 * scale of 2^-60 with BF16 values up to 2^127, 2^-140 and 2^-149, where the
 * scale is prescaled and F16 overflows too; scale_ub tiny in the per-row and
 * per-tensor modes) must give the saturated code with the sign of x, not
 * the NaN code; quotients that vanish (static 2^70, 2^100, 2^127 with BF16
 * values down to the subnormals) give signed zeros and, around half the
 * smallest subnormal of the format times s, ties to zero and the smallest
 * subnormal code. Rows span the whole range from zero codes to overflow. */
Test(gpu_quantize, extreme_scales_saturate_and_vanish_like_the_reference, .timeout = 600) {
  gpu g = gpu_open();
  seed_fresh();
  const size_t m = 24, ks[] = {1040, 1032}; /* 16- and 8-element units */
  uint16_t *x = malloc(m * ks[0] * 2);
  cr_assert(x != NULL);
  for (int d = 1; d <= 2; d++)
    for (int e5m2 = 0; e5m2 < 2; e5m2++)
      for (int u = 0; u < 2; u++) {
        const fpx_dtype dt = (fpx_dtype)d;
        const int bf16 = dt == FPX_DTYPE_BF16, lo = bf16 ? -133 : -24, hi = bf16 ? 127 : 15;
        const int sub_log2 = e5m2 ? -16 : -9; /* the smallest subnormal of the format */
        const size_t k = ks[u];
        fpx_act_quant_params p = {sizeof p, FPX_ACT_SCALE_STATIC, 0, 0, fmt_of(e5m2)};
        qcase c = {p, dt, m, k, x};
        /* tiny static scales: every row from zero codes to FP32 overflow */
        static const int tiny_log2[] = {-60, -140, -149};
        for (size_t i = 0; i < 3; i++) {
          const int e = tiny_log2[i];
          for (size_t r = 0; r < m; r++) fill_band(dt, x + r * k, k, r % 2 ? lo : sub_log2 + e - 4, hi);
          if (bf16) {
            x[0] = fpx_f32_to_bf16(0x1p100f);
            x[k + 1] = fpx_f32_to_bf16(-0x1p100f);
          }
          c.p.static_scale = ldexpf(1.0f, e);
          check_case(&g, &c);
        }
        /* dynamic scales bounded by a tiny scale_ub: the larger values of
         * every row saturate, most beyond FP32 */
        static const float ubs[] = {1e-30f, 0x1p-40f, 0x1p-126f};
        for (size_t i = 0; i < 3; i++) {
          for (size_t r = 0; r < m; r++) fill_band(dt, x + r * k, k, r % 2 ? lo : -20, hi);
          for (int mode = 0; mode < 2; mode++) {
            c.p = (fpx_act_quant_params){sizeof p, (fpx_act_scale_mode)mode, ubs[i], 0, fmt_of(e5m2)};
            check_case(&g, &c);
          }
        }
        /* huge static scales: quotients from below the smallest subnormal
         * (signed zeros) through the subnormals to saturation where BF16
         * reaches */
        static const int huge_log2[] = {70, 100, 127};
        c.p = (fpx_act_quant_params){sizeof p, FPX_ACT_SCALE_STATIC, 0, 0, fmt_of(e5m2)};
        for (size_t i = 0; i < 3; i++) {
          const int e = huge_log2[i], mid = sub_log2 + e;
          for (size_t r = 0; r < m; r++)
            fill_band(dt, x + r * k, k, r % 3 == 0 ? lo : mid - 3, r % 3 == 1 ? mid + 2 : hi);
          if (bf16) /* half the smallest subnormal (a tie, to zero) and just above it */
            for (size_t col = 0; col < 8; col++)
              x[2 * k + col] = (uint16_t)(fpx_f32_to_bf16(ldexpf(col < 4 ? 1.0f : 1.0078125f, mid - 1)) | (col % 2 ? 0x8000u : 0));
          c.p.static_scale = ldexpf(1.0f, e);
          check_case(&g, &c);
        }
      }
  free(x);
  fpx_ctx_destroy(g.ctx);
}

Test(gpu_quantize, runs_on_a_stream, .timeout = 600) {
  gpu g = gpu_open();
  seed_fresh();
  CUstream s;
  CU_OK(g, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  const size_t m = 33, k = 2056;
  uint16_t *x = malloc(m * k * 2);
  uint8_t *want = malloc(m * k);
  float want_scales[33];
  cr_assert(x && want);
  fill_random(FPX_DTYPE_BF16, x, m, k);
  const fpx_act_quant_params p = {sizeof p, FPX_ACT_SCALE_PER_ROW, 0, 0, {4, 3}};
  const qcase c = {p, FPX_DTYPE_BF16, m, k, x};
  cr_assert_eq(fpx_quantize_activations(&p, FPX_DTYPE_BF16, x, m, k, want, want_scales), FPX_OK);
  qout got;
  gpu_quantize(&g, &c, FPX__Q8_ENCODER_AUTO, 0xFF, s, &got);
  compare(&c, &got, want, want_scales, NULL, "on a stream");
  qout_free(&got);
  CU_OK(g, cuStreamDestroy(s));
  free(x);
  free(want);
  fpx_ctx_destroy(g.ctx);
}

Test(gpu_quantize, bad_arguments_are_rejected_with_a_context) {
  gpu g = gpu_open();
  CUdeviceptr dx;
  CU_OK(g, cuMemAlloc(&dx, 4096));
  cr_assert_eq(fpx_quantize_activations_gpu(g.ctx, NULL, FPX_DTYPE_F32, dx, 1, 8, dx, dx, 0, NULL),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_ctx_last_error(g.ctx), "f32") != NULL, "%s", fpx_ctx_last_error(g.ctx));
  cr_assert_eq(fpx_quantize_activations_gpu(g.ctx, NULL, FPX_DTYPE_BF16, dx + 2, 1, 8, dx, dx, 0, NULL),
               FPX_ERR_MISALIGNED);
  fpx_weights *w = (fpx_weights *)&w;
  cr_assert_eq(fpx_weights_quantize_gpu(g.ctx, (fpx_format){2, 1}, FPX_DTYPE_BF16, dx, 1, 8, &w),
               FPX_ERR_UNSUPPORTED_FORMAT);
  cr_assert_eq(w, NULL);
  cr_assert(strstr(fpx_last_error(), "e2m1") != NULL, "%s", fpx_last_error());
  g.cu->cuMemFree(dx);
  fpx_ctx_destroy(g.ctx);
}

/* ---- weights -------------------------------------------------------------- */

/* fpx_weights_quantize_gpu vs fpx_quantize + fpx_weights_upload: the device
 * buffers, byte for byte. */
static void check_weights(gpu *g, fpx_format f, fpx_dtype d, size_t n, size_t k, const uint16_t *w) {
  fpx_format_info info;
  fpx_format_get_info(f, &info);
  uint8_t *codes = malloc(n * k);
  float *scales = malloc(n * sizeof *scales);
  cr_assert(codes && scales);
  const fpx_quant_params qp = {sizeof qp, 0, NULL};
  cr_assert_eq(fpx_quantize(f, d, w, n, k, &qp, codes, scales), FPX_OK, "%s", fpx_last_error());
  fpx_weights *want = NULL, *got = NULL;
  cr_assert_eq(fpx_weights_upload(g->ctx, f, codes, scales, n, k, 0, &want), FPX_OK, "%s", fpx_last_error());
  CUdeviceptr dw;
  CU_OK(*g, cuMemAlloc(&dw, n * k * 2));
  CU_OK(*g, cuMemcpyHtoD(dw, w, n * k * 2));
  cr_assert_eq(fpx_weights_quantize_gpu(g->ctx, f, d, dw, n, k, &got), FPX_OK, "%s", fpx_last_error());
  cr_assert_eq(got->ctx, g->ctx);
  cr_assert_eq(got->n, n);
  cr_assert_eq(got->k, k);
  cr_assert_eq(got->group_size, 0);
  cr_assert(got->format.exp_bits == f.exp_bits && got->format.man_bits == f.man_bits);
  const size_t bytes = fpx_tiled_packed_size(f, n, k);
  uint8_t *a = malloc(bytes), *b = malloc(bytes);
  float *sa = malloc(n * 4), *sb = malloc(n * 4);
  cr_assert(a && b && sa && sb);
  CU_OK(*g, cuMemcpyDtoH(a, got->packed, bytes));
  CU_OK(*g, cuMemcpyDtoH(b, want->packed, bytes));
  CU_OK(*g, cuMemcpyDtoH(sa, got->scales, n * 4));
  CU_OK(*g, cuMemcpyDtoH(sb, want->scales, n * 4));
  for (size_t i = 0; i < n; i++)
    cr_assert(memcmp(&sa[i], &sb[i], 4) == 0, "%s %s n=%zu k=%zu: scale %zu is %a, fpx_quantize %a (seed %llu)",
              info.name, fpx_dtype_name(d), n, k, i, (double)sa[i], (double)sb[i], seed_used);
  for (size_t i = 0; i < bytes; i++)
    cr_assert_eq(a[i], b[i], "%s %s n=%zu k=%zu: packed byte %zu is 0x%02X, fpx_weights_upload 0x%02X (seed %llu)",
                 info.name, fpx_dtype_name(d), n, k, i, a[i], b[i], seed_used);
  /* and it multiplies like the uploaded weights: same object for fpx_gemm */
  free(a);
  free(b);
  free(sa);
  free(sb);
  fpx_weights_destroy(got);
  fpx_weights_destroy(want);
  g->cu->cuMemFree(dw);
  free(codes);
  free(scales);
}

Test(gpu_quantize, weights_match_fpx_quantize_and_upload, .timeout = 600) {
  gpu g = gpu_open();
  seed_fresh();
  static const size_t shapes[][2] = {{1, 8}, {17, 264}, {100, 4104}, {256, 8192}, {40, 32776}};
  for (int e5m2 = 0; e5m2 < 2; e5m2++)
    for (int d = 1; d <= 2; d++)
      for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const size_t n = shapes[s][0], k = shapes[s][1];
        uint16_t *w = malloc(n * k * 2);
        cr_assert(w != NULL);
        fill_random((fpx_dtype)d, w, n, k);
        if (n > 4) /* one zero row, one row of midpoint traps */
          for (size_t c = 0; c < k; c++) w[3 * k + c] = 0;
        if (n > 4) {
          const float a = from16((fpx_dtype)d, to16((fpx_dtype)d, 1.6875f));
          fill_trap_row((fpx_dtype)d, fmt_of(e5m2), w + 4 * k, k, a / (e5m2 ? 57344.0f : 448.0f),
                        to16((fpx_dtype)d, a));
        }
        check_weights(&g, fmt_of(e5m2), (fpx_dtype)d, n, k, w);
        free(w);
      }
  fpx_ctx_destroy(g.ctx);
}

Test(gpu_quantize, weights_with_nan_or_inf_are_rejected_naming_the_row) {
  gpu g = gpu_open();
  seed_fresh();
  const size_t n = 40, k = 264;
  uint16_t *w = malloc(n * k * 2);
  cr_assert(w != NULL);
  fill_random(FPX_DTYPE_BF16, w, n, k);
  w[23 * k + 100] = 0x7F80; /* +Inf */
  w[31 * k + 7] = 0xFFC1;   /* NaN */
  CUdeviceptr dw;
  CU_OK(g, cuMemAlloc(&dw, n * k * 2));
  CU_OK(g, cuMemcpyHtoD(dw, w, n * k * 2));
  fpx_weights *out = (fpx_weights *)&out;
  cr_assert_eq(fpx_weights_quantize_gpu(g.ctx, (fpx_format){4, 3}, FPX_DTYPE_BF16, dw, n, k, &out),
               FPX_ERR_NON_FINITE);
  cr_assert_eq(out, NULL);
  cr_assert(strstr(fpx_last_error(), "row 23") != NULL && strstr(fpx_last_error(), "2 rows") != NULL, "%s",
            fpx_last_error());
  cr_assert(strstr(fpx_ctx_last_error(g.ctx), "row 23") != NULL, "%s", fpx_ctx_last_error(g.ctx));
  /* the context still works afterwards */
  w[23 * k + 100] = w[31 * k + 7] = 0x3F80;
  CU_OK(g, cuMemcpyHtoD(dw, w, n * k * 2));
  cr_assert_eq(fpx_weights_quantize_gpu(g.ctx, (fpx_format){5, 2}, FPX_DTYPE_BF16, dw, n, k, &out), FPX_OK,
               "%s", fpx_last_error());
  fpx_weights_destroy(out);
  g.cu->cuMemFree(dw);
  free(w);
  fpx_ctx_destroy(g.ctx);
}
