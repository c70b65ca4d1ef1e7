/*
 * test_quantize_fp8.c - the GPU FP8 quantizer without a GPU: every kernel
 * instance of templates/quantize_fp8.cuh compiles with NVRTC for sm_80,
 * sm_89 and sm_90a (the FP8 conversion instruction is only emitted for
 * sm_89+, the same instance falls back to integer code below); kernel ids
 * are distinct and apart from the weight-only families; the 8-bit tiled
 * packer's index arithmetic reproduces fpx_pack_tiled; the CPU reference's
 * codes at extreme scales (what the GPU tests compare with); argument validation
 * of fpx_quantize_activations_gpu and fpx_weights_quantize_gpu (on a context
 * that is never used past validation); `fpx-tune bench-quant` arguments.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_support.h"
#include "compile.h"
#include "config.h"
#include "context.h"
#include "fpx.h"
#include "layout.h"
#include "quantize_fp8_names.h"

enum { MAX_NAMES = 64 };

static void compile_all(const char *arch) {
  static char names[MAX_NAMES][FPX__NAME_EXPR_MAX];
  const size_t count = fpx__q8_all_names(names, MAX_NAMES);
  cr_assert_gt(count, 16);
  cr_assert_leq(count, MAX_NAMES);
  for (size_t i = 0; i < count; i++) {
    fpx__cubin cubin;
    fpx_status st = fpx__compile(FPX__TEMPLATE_QUANTIZE_FP8, names[i], arch, &cubin);
    cr_assert_eq(st, FPX_OK, "%s for %s: %s", names[i], arch, fpx_last_error());
    cr_assert_gt(cubin.size, 0);
    cr_assert_gt(strlen(cubin.lowered_name), 0);
    fpx__cubin_free(&cubin);
  }
}
Test(quantize_fp8, every_instance_compiles_sm_80, .timeout = 900) { compile_all("sm_80"); }
Test(quantize_fp8, every_instance_compiles_sm_89, .timeout = 900) { compile_all("sm_89"); }
Test(quantize_fp8, every_instance_compiles_sm_90a, .timeout = 900) { compile_all("sm_90a"); }

Test(quantize_fp8, ids_are_distinct_and_in_their_own_family) {
  uint64_t ids[MAX_NAMES];
  size_t count = 0;
  for (int bf16 = 0; bf16 < 2; bf16++)
    for (int e5m2 = 0; e5m2 < 2; e5m2++)
      for (int hw = 0; hw < 2; hw++)
        for (int unit = 8; unit <= 16; unit += 8) {
          const fpx__q8_rows_key key = {bf16, e5m2, hw, unit};
          ids[count++] = fpx__q8_rows_id(&key);
        }
  for (int i = 0; i < 2; i++) {
    ids[count++] = fpx__q8_amax_id(i);
    ids[count++] = fpx__q8_scale_id(i);
  }
  ids[count++] = fpx__q8_pack_id();
  static char names[MAX_NAMES][FPX__NAME_EXPR_MAX];
  cr_assert_eq(fpx__q8_all_names(names, MAX_NAMES), count);
  for (size_t a = 0; a < count; a++) {
    cr_assert_eq(ids[a] >> 40, FPX__Q8_FAMILY, "id %zu: %llx", a, (unsigned long long)ids[a]);
    for (size_t b = a + 1; b < count; b++) {
      cr_assert_neq(ids[a], ids[b], "%s and %s share an id", names[a], names[b]);
      cr_assert_str_neq(names[a], names[b]);
    }
  }
  /* the weight-only families stay below */
  fpx__wo_key key = {{4, 3}, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 256};
  fpx_wo_config cfg = {8, 4, 8, 1, 0, 0, 0};
  cr_assert_lt(fpx__wo_gemm_id(&key, &cfg) >> 40, FPX__Q8_FAMILY);
  cr_assert_lt(fpx__wo_dequant_id((fpx_format){5, 2}, FPX_DTYPE_BF16, 256) >> 40, FPX__Q8_FAMILY);
}

/* The byte of element (row, col) of a 16 x 256 block of an 8-bit format,
 * in the closed form pack_tiled8 uses. */
static size_t closed_form_byte(unsigned row, unsigned col) {
  return (col / 32) * 512 + (row % 8) * 64 + 2 * (col % 32) + row / 8;
}

Test(quantize_fp8, eight_bit_layout_has_the_closed_form_the_packer_uses) {
  for (unsigned row = 0; row < FPX_TILE_N; row++)
    for (unsigned col = 0; col < FPX_TILE_K; col++) {
      fpx__layout_slot slots[4];
      cr_assert_eq(fpx__layout_locate(8, row, col, slots), 1);
      cr_assert_eq(slots[0].code_shift, 0);
      cr_assert_eq(slots[0].byte + slots[0].bit / 8, closed_form_byte(row, col), "(%u, %u)", row, col);
    }
}

/* pack_tiled8's index arithmetic, one 16-byte output vector per step, in C. */
static void pack_like_the_kernel(const uint8_t *codes, int n, int k, uint8_t *out, size_t bytes) {
  const long long vectors = (long long)(bytes / 16);
  for (long long i = 0; i < vectors; i++) {
    const long long block = i >> 8;
    const int v = (int)(i & 255), k_blocks = (k + 255) >> 8;
    const long long nb = block / k_blocks;
    const int kb = (int)(block % k_blocks);
    const int col = kb * 256 + (v >> 5) * 32 + (v & 3) * 8;
    const long long r0 = nb * 16 + ((v >> 2) & 7), r1 = r0 + 8;
    for (int c = 0; c < 8; c++) {
      out[16 * i + 2 * c] = col < k && r0 < n ? codes[r0 * k + col + c] : 0;
      out[16 * i + 2 * c + 1] = col < k && r1 < n ? codes[r1 * k + col + c] : 0;
    }
  }
}

Test(quantize_fp8, packer_arithmetic_matches_fpx_pack_tiled_on_odd_shapes) {
  static const int shapes[][2] = {{1, 8}, {16, 256}, {17, 264}, {33, 520}, {5, 1000}};
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    const int n = shapes[s][0], k = shapes[s][1];
    const size_t bytes = fpx_tiled_packed_size((fpx_format){4, 3}, (size_t)n, (size_t)k);
    uint8_t *codes = malloc((size_t)n * k), *want = malloc(bytes), *got = malloc(bytes);
    cr_assert(codes && want && got);
    for (int i = 0; i < n * k; i++) {
      codes[i] = (uint8_t)(rng_next(&state) >> 56);
      if ((codes[i] & 0x7F) == 0x7F) codes[i] ^= 1; /* not the NaN codes */
    }
    cr_assert_eq(fpx_pack_tiled((fpx_format){4, 3}, codes, (size_t)n, (size_t)k, want), FPX_OK, "%s",
                 fpx_last_error());
    memset(got, 0xA5, bytes);
    pack_like_the_kernel(codes, n, k, got, bytes);
    cr_assert_eq(memcmp(got, want, bytes), 0, "n = %d, k = %d", n, k);
    free(codes);
    free(want);
    free(got);
  }
}

/* ---- the reference the GPU quantizer is compared with -------------------- */

/* One BF16 row through fpx_quantize_activations; codes into `out`. */
static float reference_row(fpx_act_quant_params p, const float *v, size_t k, uint8_t *out) {
  uint16_t x[8];
  float scale = 0;
  cr_assert_leq(k, 8);
  for (size_t i = 0; i < k; i++) x[i] = fpx_f32_to_bf16(v[i]);
  cr_assert_eq(fpx_quantize_activations(&p, FPX_DTYPE_BF16, x, 1, k, out, &scale), FPX_OK, "%s",
               fpx_last_error());
  return scale;
}

/* Scales far from the data (the GPU tests compare with these codes bit for
 * bit): x / scale beyond FP32 saturates with the sign of x, a quotient far
 * below the smallest subnormal is a zero of the sign of x, half the smallest
 * subnormal ties to zero and just above it is the smallest subnormal. */
Test(quantize_fp8, cpu_reference_saturates_and_vanishes_at_extreme_scales) {
  for (int e5m2 = 0; e5m2 < 2; e5m2++) {
    const fpx_format f = e5m2 ? (fpx_format){5, 2} : (fpx_format){4, 3};
    const uint8_t max = e5m2 ? 0x7B : 0x7E;
    const int sub = e5m2 ? -16 : -9; /* log2 of the smallest subnormal */
    uint8_t c[8];
    /* static 2^-60: 2^100 / 2^-60 overflows FP32; 2^-70 / 2^-60 = 2^-10 */
    const float large[] = {0x1p100f, -0x1p100f, 3.3e38f, 1.0f, -0x1p-133f, 0x1p-70f, 0.0f};
    fpx_act_quant_params p = {sizeof p, FPX_ACT_SCALE_STATIC, 0, 0x1p-60f, f};
    reference_row(p, large, 7, c);
    const uint8_t want_large[] = {max, 0x80 | max, max, max, 0x80, e5m2 ? 0x14 : 0x00, 0x00};
    cr_assert_eq(memcmp(c, want_large, 7), 0, "e%dm%d static 2^-60", f.exp_bits, f.man_bits);
    /* per row, scale_ub 1e-30: the scale is fp32(1e-30 / max_finite), every value saturates */
    p = (fpx_act_quant_params){sizeof p, FPX_ACT_SCALE_PER_ROW, 1e-30f, 0, f};
    const float scale = reference_row(p, large, 4, c);
    cr_assert_eq(scale, (float)((double)1e-30f / (e5m2 ? 57344.0 : 448.0)));
    const uint8_t want_ub[] = {max, 0x80 | max, max, max};
    cr_assert_eq(memcmp(c, want_ub, 4), 0, "e%dm%d scale_ub 1e-30", f.exp_bits, f.man_bits);
    /* static 2^100: signed zeros, the smallest subnormal, the tie below it */
    const float s = 0x1p100f;
    const float tiny[] = {0x1p-133f, -0x1p-133f, ldexpf(1.0f, sub + 100), -ldexpf(1.0f, sub + 100),
                         ldexpf(1.0f, sub + 99), -ldexpf(1.0078125f, sub + 99), 3.3e38f};
    p = (fpx_act_quant_params){sizeof p, FPX_ACT_SCALE_STATIC, 0, s, f};
    reference_row(p, tiny, 7, c);
    const uint8_t want_tiny[] = {0x00, 0x80, 0x01, 0x81, 0x00, 0x81, max};
    cr_assert_eq(memcmp(c, want_tiny, 7), 0, "e%dm%d static 2^100", f.exp_bits, f.man_bits);
  }
}

/* ---- argument validation (the context is never used past validation) ---- */

static struct fpx_ctx fake_ctx;

static void fake_ctx_init(void) {
  memset(&fake_ctx, 0, sizeof fake_ctx);
  pthread_mutex_init(&fake_ctx.lock, NULL);
  fake_ctx.sm_version = 90;
}

#define X ((fpx_devptr)0x10000)
#define CODES ((fpx_devptr)0x20000)
#define SCALES ((fpx_devptr)0x30000)

/* fpx_quantize_activations_gpu with one bad argument: expect status and a
 * message containing `word`, also kept in the context. */
static void expect_act(fpx_status want, const char *word, const fpx_act_quant_params *p, fpx_dtype dt,
                       fpx_devptr x, size_t m, size_t k, fpx_devptr codes, fpx_devptr scales,
                       fpx_devptr nonfinite) {
  fpx_status st = fpx_quantize_activations_gpu(&fake_ctx, p, dt, x, m, k, codes, scales, nonfinite, NULL);
  cr_assert_eq(st, want, "expected %s, got %s: %s", fpx_status_name(want), fpx_status_name(st),
               fpx_last_error());
  cr_assert(contains(fpx_last_error(), word), "'%s' not in: %s", word, fpx_last_error());
  cr_assert(contains(fpx_ctx_last_error(&fake_ctx), word), "%s", fpx_ctx_last_error(&fake_ctx));
}

Test(quantize_fp8, activation_arguments_are_validated_before_any_gpu_work, .init = fake_ctx_init) {
  const fpx_dtype bf16 = FPX_DTYPE_BF16;
  fpx_act_quant_params p = {sizeof p, FPX_ACT_SCALE_PER_ROW, 0, 0, {4, 3}};
  cr_assert_eq(fpx_quantize_activations_gpu(NULL, &p, bf16, X, 4, 64, CODES, SCALES, 0, NULL),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "ctx is NULL"), "%s", fpx_last_error());
  expect_act(FPX_ERR_INVALID_ARGUMENT, "f32", &p, FPX_DTYPE_F32, X, 4, 64, CODES, SCALES, 0);
  expect_act(FPX_ERR_INVALID_ARGUMENT, "e4m3", &p, FPX_DTYPE_E4M3, X, 4, 64, CODES, SCALES, 0);
  expect_act(FPX_ERR_INVALID_ARGUMENT, "x_dtype 9", &p, (fpx_dtype)9, X, 4, 64, CODES, SCALES, 0);
  expect_act(FPX_ERR_INVALID_ARGUMENT, "x is a null", &p, bf16, 0, 4, 64, CODES, SCALES, 0);
  expect_act(FPX_ERR_INVALID_ARGUMENT, "out_codes", &p, bf16, X, 4, 64, 0, SCALES, 0);
  expect_act(FPX_ERR_INVALID_ARGUMENT, "out_scales", &p, bf16, X, 4, 64, CODES, 0, 0);
  expect_act(FPX_ERR_MISALIGNED, "0x10008", &p, bf16, X + 8, 4, 64, CODES, SCALES, 0);
  expect_act(FPX_ERR_MISALIGNED, "out_codes = 0x20008", &p, bf16, X, 4, 64, CODES + 8, SCALES, 0);
  expect_act(FPX_ERR_MISALIGNED, "out_scales = 0x30002", &p, bf16, X, 4, 64, CODES, SCALES + 2, 0);
  expect_act(FPX_ERR_MISALIGNED, "out_nonfinite = 0x40001", &p, bf16, X, 4, 64, CODES, SCALES, 0x40001);
  expect_act(FPX_ERR_INVALID_ARGUMENT, "empty", &p, bf16, X, 0, 64, CODES, SCALES, 0);
  expect_act(FPX_ERR_INVALID_ARGUMENT, "empty", &p, bf16, X, 4, 0, CODES, SCALES, 0);
  expect_act(FPX_ERR_UNSUPPORTED_SHAPE, "k = 12", &p, bf16, X, 4, 12, CODES, SCALES, 0);
  expect_act(FPX_ERR_UNSUPPORTED_SHAPE, "k = 2147483648", &p, bf16, X, 4, (size_t)1 << 31, CODES, SCALES, 0);
  expect_act(FPX_ERR_UNSUPPORTED_SHAPE, "m = 4294967296", &p, bf16, X, (size_t)1 << 32, 64, CODES, SCALES, 0);
}

Test(quantize_fp8, activation_parameters_follow_the_cpu_rules, .init = fake_ctx_init) {
  const fpx_dtype f16 = FPX_DTYPE_F16;
  fpx_act_quant_params p = {sizeof p, FPX_ACT_SCALE_PER_ROW, 0, 0, {3, 2}};
  expect_act(FPX_ERR_UNSUPPORTED_FORMAT, "e3m2", &p, f16, X, 4, 64, CODES, SCALES, 0);
  p = (fpx_act_quant_params){sizeof p - 1, FPX_ACT_SCALE_PER_ROW, 0, 0, {4, 3}};
  expect_act(FPX_ERR_INVALID_ARGUMENT, "struct_size", &p, f16, X, 4, 64, CODES, SCALES, 0);
  p = (fpx_act_quant_params){sizeof p, (fpx_act_scale_mode)3, 0, 0, {4, 3}};
  expect_act(FPX_ERR_INVALID_ARGUMENT, "mode 3", &p, f16, X, 4, 64, CODES, SCALES, 0);
  p = (fpx_act_quant_params){sizeof p, FPX_ACT_SCALE_PER_ROW, -1, 0, {4, 3}};
  expect_act(FPX_ERR_INVALID_ARGUMENT, "scale_ub -1", &p, f16, X, 4, 64, CODES, SCALES, 0);
  p.scale_ub = NAN;
  expect_act(FPX_ERR_INVALID_ARGUMENT, "scale_ub nan", &p, f16, X, 4, 64, CODES, SCALES, 0);
  p.scale_ub = INFINITY;
  expect_act(FPX_ERR_INVALID_ARGUMENT, "scale_ub inf", &p, f16, X, 4, 64, CODES, SCALES, 0);
  p = (fpx_act_quant_params){sizeof p, FPX_ACT_SCALE_STATIC, 0, 0, {5, 2}};
  expect_act(FPX_ERR_INVALID_ARGUMENT, "static_scale 0", &p, f16, X, 4, 64, CODES, SCALES, 0);
  p.static_scale = -2;
  expect_act(FPX_ERR_INVALID_ARGUMENT, "static_scale -2", &p, f16, X, 4, 64, CODES, SCALES, 0);
  p.static_scale = INFINITY;
  expect_act(FPX_ERR_INVALID_ARGUMENT, "static_scale inf", &p, f16, X, 4, 64, CODES, SCALES, 0);
  /* the same parameters give the same message on the CPU */
  uint16_t x[8] = {0};
  uint8_t codes[8];
  float scale;
  cr_assert_eq(fpx_quantize_activations(&p, f16, x, 1, 8, codes, &scale), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "static_scale inf"), "%s", fpx_last_error());
}

static void expect_weights(fpx_status want, const char *word, fpx_format f, fpx_dtype dt, fpx_devptr w,
                           size_t n, size_t k) {
  fpx_weights *out = (fpx_weights *)&out;
  fpx_status st = fpx_weights_quantize_gpu(&fake_ctx, f, dt, w, n, k, &out);
  cr_assert_eq(st, want, "expected %s, got %s: %s", fpx_status_name(want), fpx_status_name(st),
               fpx_last_error());
  cr_assert_eq(out, NULL, "out_weights is cleared on failure");
  cr_assert(contains(fpx_last_error(), word), "'%s' not in: %s", word, fpx_last_error());
  cr_assert(contains(fpx_ctx_last_error(&fake_ctx), word), "%s", fpx_ctx_last_error(&fake_ctx));
}

Test(quantize_fp8, weight_arguments_are_validated_before_any_gpu_work, .init = fake_ctx_init) {
  const fpx_format e4m3 = {4, 3}, e5m2 = {5, 2};
  const fpx_dtype bf16 = FPX_DTYPE_BF16;
  fpx_weights *out = (fpx_weights *)&out;
  cr_assert_eq(fpx_weights_quantize_gpu(NULL, e4m3, bf16, X, 16, 64, &out), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(out, NULL);
  cr_assert(contains(fpx_last_error(), "ctx is NULL"), "%s", fpx_last_error());
  cr_assert_eq(fpx_weights_quantize_gpu(&fake_ctx, e4m3, bf16, X, 16, 64, NULL), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "out_weights"), "%s", fpx_last_error());
  expect_weights(FPX_ERR_UNSUPPORTED_FORMAT, "e3m2", (fpx_format){3, 2}, bf16, X, 16, 64);
  expect_weights(FPX_ERR_UNSUPPORTED_FORMAT, "e2m1", (fpx_format){2, 1}, bf16, X, 16, 64);
  expect_weights(FPX_ERR_UNSUPPORTED_FORMAT, "e3m4", (fpx_format){3, 4}, bf16, X, 16, 64);
  expect_weights(FPX_ERR_UNSUPPORTED_FORMAT, "e6m2", (fpx_format){6, 2}, bf16, X, 16, 64);
  expect_weights(FPX_ERR_INVALID_ARGUMENT, "w_dtype f32", e5m2, FPX_DTYPE_F32, X, 16, 64);
  expect_weights(FPX_ERR_INVALID_ARGUMENT, "w is a null", e5m2, bf16, 0, 16, 64);
  expect_weights(FPX_ERR_MISALIGNED, "w = 0x10004", e4m3, bf16, X + 4, 16, 64);
  expect_weights(FPX_ERR_INVALID_ARGUMENT, "n = 0", e4m3, bf16, X, 0, 64);
  expect_weights(FPX_ERR_UNSUPPORTED_SHAPE, "k = 20", e4m3, FPX_DTYPE_F16, X, 16, 20);
  expect_weights(FPX_ERR_UNSUPPORTED_SHAPE, "k = 2147483648", e4m3, bf16, X, 16, (size_t)1 << 31);
  expect_weights(FPX_ERR_UNSUPPORTED_SHAPE, "n = 1073741825", e4m3, bf16, X, ((size_t)1 << 30) + 1, 64);
}

/* ---- fpx-tune bench-quant (no GPU: bad arguments exit 2) ----------------- */

static cli_result *run_no_gpu(const char *args) {
  static cli_result r;
  cli_run_tool("FPX_CUDA_DRIVER=/nonexistent/libcuda.so.1", args, &r);
  return &r;
}

Test(quantize_fp8, bench_quant_help_describes_the_method) {
  cli_result *r = run_no_gpu("bench-quant --help");
  cr_assert_eq(r->exit_code, 0);
  cr_assert(contains(r->out, "usage:") && contains(r->out, "--mode") && contains(r->out, "L2") &&
                contains(r->out, "median") && contains(r->out, "copy bandwidth"),
            "%s", r->out);
  r = run_no_gpu("--help");
  cr_assert(contains(r->out, "bench-quant"), "%s", r->out);
}

Test(quantize_fp8, bench_quant_rejects_bad_arguments_naming_them) {
  static const char *const cases[][2] = {
      {"bench-quant --m 0", "--m '0'"},          {"bench-quant --k 12", "--k '12'"},
      {"bench-quant --k 0", "--k '0'"},          {"bench-quant --mode rowwise", "rowwise"},
      {"bench-quant --format e3m2", "e3m2"},     {"bench-quant --format e9m9", "e9m9"},
      {"bench-quant --act f32", "f32"},          {"bench-quant --iters 29", "--iters '29'"},
      {"bench-quant --bogus", "--bogus"},        {"bench-quant extra", "extra"},
      {"bench-quant --m", "needs a value"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cli_result *r = run_no_gpu(cases[i][0]);
    cr_assert_eq(r->exit_code, 2, "%s: exit %d: %s", cases[i][0], r->exit_code, r->err);
    cr_assert_str_eq(r->out, "", "%s", cases[i][0]);
    cr_assert(contains(r->err, cases[i][1]), "%s: %s", cases[i][0], r->err);
  }
}

Test(quantize_fp8, bench_quant_without_a_driver_fails_with_exit_1) {
  cli_result *r = run_no_gpu("bench-quant --m 16 --k 64 --mode static --format e5m2 --act f16 --iters 30");
  cr_assert_eq(r->exit_code, 1, "%s", r->err);
  cr_assert(contains(r->err, "cannot use the GPU"), "%s", r->err);
}
