/*
 * test_activation_quant.c - the CPU reference of FP8 activation
 * quantization: per-row scales, the upper bound, per-tensor and static
 * modes, rounding and saturation at 448 (of the exact quotient, not of an
 * FP32 one), zero rows, non-finite input.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "fpx.h"

static double e4m3(uint8_t code) {
  double v;
  cr_assert_eq(fpx_decode_value((fpx_format){4, 3}, code, &v), FPX_OK);
  return v;
}

Test(activation_quant, per_row_scale_is_amax_over_448_and_amax_maps_to_448) {
  const float x[2][4] = {{1.0f, -2.0f, 0.5f, 4.0f}, {-896.0f, 3.0f, 0.0f, 7.0f}};
  uint8_t codes[8];
  float scales[2];
  cr_assert_eq(fpx_quantize_activations(NULL, FPX_DTYPE_F32, x, 2, 4, codes, scales), FPX_OK, "%s",
               fpx_last_error());
  cr_assert_float_eq(scales[0], 4.0f / 448.0f, 1e-12);
  cr_assert_float_eq(scales[1], 2.0f, 0);
  cr_assert_eq(e4m3(codes[3]), 448.0);
  cr_assert_eq(e4m3(codes[4]), -448.0);
  /* 3 / 2 = 1.5 exactly; 7 / 2 = 3.5 exactly */
  cr_assert_eq(e4m3(codes[5]), 1.5);
  cr_assert_eq(e4m3(codes[7]), 3.5);
  /* every element within half a unit in the last place times the scale */
  for (int i = 0; i < 8; i++) {
    const double want = x[i / 4][i % 4] / scales[i / 4], got = e4m3(codes[i]);
    const double ulp = want == 0 ? 0 : ldexp(1.0, (int)floor(log2(fabs(want))) - 3);
    cr_assert_leq(fabs(got - want), ulp / 2 + 1e-12, "element %d: %g vs %g", i, got, want);
  }
}

Test(activation_quant, ties_round_to_even) {
  /* scale 1 (amax 448): 17 lies between 16 and 18 -> 16 (even mantissa) */
  const float x[3] = {448.0f, 17.0f, 19.0f};
  uint8_t codes[3];
  float scale;
  cr_assert_eq(fpx_quantize_activations(NULL, FPX_DTYPE_F32, x, 1, 3, codes, &scale), FPX_OK);
  cr_assert_float_eq(scale, 1.0f, 0);
  cr_assert_eq(e4m3(codes[1]), 16.0);
  cr_assert_eq(e4m3(codes[2]), 20.0); /* between 18 and 20: 20 has the even mantissa */
}

/* An FP32 quotient x / scale often lands exactly on the midpoint of two FP8
 * values when the exact quotient is just beside it; rounding that FP32
 * value would break the tie to the even code. The reference (and the GPU)
 * rounds the exact quotient. */
static float bits_to_float(uint32_t b) {
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

Test(activation_quant, codes_round_the_exact_quotient_not_an_fp32_one) {
  /* per row: 0.1904296875 / fp32(4.0625 / 448) is just above 21 (20 | 22) */
  const float x[2] = {4.0625f, 0.1904296875f};
  uint8_t codes[2];
  float scale;
  cr_assert_eq(fpx_quantize_activations(NULL, FPX_DTYPE_F32, x, 1, 2, codes, &scale), FPX_OK);
  cr_assert_eq(scale, (float)(4.0625 / 448.0));
  volatile float q = x[1] / scale;
  cr_assert_eq(q, 21.0f, "the FP32 quotient is the midpoint");
  cr_assert_eq(e4m3(codes[1]), 22.0, "0x%02X", codes[1]);
  /* static: 1.1875 / s1 just above 17 (16 | 18), 0.0625 / s2 just below 19 (18 | 20) */
  const float s1 = bits_to_float(1032785679u), s2 = bits_to_float(995595318u);
  const float a = 1.1875f, b = 0.0625f;
  fpx_act_quant_params p = {sizeof p, FPX_ACT_SCALE_STATIC, 0, s1, {4, 3}};
  q = a / s1;
  cr_assert_eq(q, 17.0f);
  cr_assert_eq(fpx_quantize_activations(&p, FPX_DTYPE_F32, &a, 1, 1, codes, &scale), FPX_OK);
  cr_assert_eq(e4m3(codes[0]), 18.0, "0x%02X", codes[0]);
  p.static_scale = s2;
  q = b / s2;
  cr_assert_eq(q, 19.0f);
  cr_assert_eq(fpx_quantize_activations(&p, FPX_DTYPE_F32, &b, 1, 1, codes, &scale), FPX_OK);
  cr_assert_eq(e4m3(codes[0]), 18.0, "0x%02X", codes[0]);
}

Test(activation_quant, upper_bound_clamps_amax_and_saturates) {
  const float x[4] = {1000.0f, -50.0f, 10.0f, 0.25f};
  fpx_act_quant_params p = {sizeof p, FPX_ACT_SCALE_PER_ROW, 100.0f, 0, {4, 3}};
  uint8_t codes[4];
  float scale;
  cr_assert_eq(fpx_quantize_activations(&p, FPX_DTYPE_F32, x, 1, 4, codes, &scale), FPX_OK);
  cr_assert_float_eq(scale, 100.0f / 448.0f, 1e-9);
  cr_assert_eq(e4m3(codes[0]), 448.0, "above the bound saturates");
  cr_assert_eq(e4m3(codes[1]), -224.0);
}

Test(activation_quant, zero_rows_get_scale_one_and_zero_codes) {
  const uint16_t x[2][3] = {{0, 0x8000, 0}, {0x3F80, 0, 0}}; /* bf16: +0 -0 +0 / 1 0 0 */
  uint8_t codes[6];
  float scales[2];
  cr_assert_eq(fpx_quantize_activations(NULL, FPX_DTYPE_BF16, x, 2, 3, codes, scales), FPX_OK);
  cr_assert_float_eq(scales[0], 1.0f, 0);
  cr_assert(isfinite(scales[1]) && scales[1] > 0);
  cr_assert_eq(codes[0], 0x00);
  cr_assert_eq(codes[1], 0x80, "the sign of zero is kept");
  cr_assert_eq(e4m3(codes[3]), 448.0);
}

Test(activation_quant, per_tensor_uses_one_amax) {
  const float x[2][2] = {{1.0f, 2.0f}, {-8.0f, 4.0f}};
  fpx_act_quant_params p = {sizeof p, FPX_ACT_SCALE_PER_TENSOR, 0, 0, {0, 0}};
  uint8_t codes[4];
  float scale = -1;
  cr_assert_eq(fpx_quantize_activations(&p, FPX_DTYPE_F32, x, 2, 2, codes, &scale), FPX_OK);
  cr_assert_float_eq(scale, 8.0f / 448.0f, 1e-12);
  cr_assert_eq(e4m3(codes[2]), -448.0);
  cr_assert_eq(e4m3(codes[3]), 224.0);
}

Test(activation_quant, static_scale_and_e5m2) {
  const float x[3] = {1.0f, 3.0f, 1e6f};
  fpx_act_quant_params p = {sizeof p, FPX_ACT_SCALE_STATIC, 0, 0.5f, {5, 2}};
  uint8_t codes[3];
  float scale = -1;
  cr_assert_eq(fpx_quantize_activations(&p, FPX_DTYPE_F32, x, 1, 3, codes, &scale), FPX_OK);
  cr_assert_float_eq(scale, 0.5f, 0);
  double v;
  fpx_decode_value((fpx_format){5, 2}, codes[1], &v);
  cr_assert_eq(v, 6.0);
  fpx_decode_value((fpx_format){5, 2}, codes[2], &v);
  cr_assert_eq(v, 57344.0, "finite overflow saturates");
}

Test(activation_quant, non_finite_input_names_row_and_column_and_writes_nothing) {
  float x[2][3] = {{1, 2, 3}, {4, NAN, 6}};
  uint8_t codes[6];
  float scales[2] = {-7, -7};
  memset(codes, 0xAB, sizeof codes);
  cr_assert_eq(fpx_quantize_activations(NULL, FPX_DTYPE_F32, x, 2, 3, codes, scales), FPX_ERR_NON_FINITE);
  cr_assert(strstr(fpx_last_error(), "X[1][1] is NaN") != NULL, "%s", fpx_last_error());
  for (int i = 0; i < 6; i++) cr_assert_eq(codes[i], 0xAB);
  cr_assert_eq(scales[0], -7);
  x[1][1] = INFINITY;
  cr_assert_eq(fpx_quantize_activations(NULL, FPX_DTYPE_F32, x, 2, 3, codes, scales), FPX_ERR_NON_FINITE);
  cr_assert(strstr(fpx_last_error(), "infinite") != NULL);
}

Test(activation_quant, bad_parameters_are_rejected) {
  const float x[1] = {1};
  uint8_t code;
  float scale;
  fpx_act_quant_params p = {sizeof p, FPX_ACT_SCALE_PER_ROW, 0, 0, {3, 2}};
  cr_assert_eq(fpx_quantize_activations(&p, FPX_DTYPE_F32, x, 1, 1, &code, &scale), FPX_ERR_UNSUPPORTED_FORMAT);
  cr_assert(strstr(fpx_last_error(), "e3m2") != NULL);
  p = (fpx_act_quant_params){sizeof p, FPX_ACT_SCALE_STATIC, 0, 0, {4, 3}};
  cr_assert_eq(fpx_quantize_activations(&p, FPX_DTYPE_F32, x, 1, 1, &code, &scale), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "static_scale") != NULL);
  p = (fpx_act_quant_params){sizeof p, FPX_ACT_SCALE_PER_ROW, -1, 0, {4, 3}};
  cr_assert_eq(fpx_quantize_activations(&p, FPX_DTYPE_F32, x, 1, 1, &code, &scale), FPX_ERR_INVALID_ARGUMENT);
  p = (fpx_act_quant_params){sizeof p, (fpx_act_scale_mode)7, 0, 0, {4, 3}};
  cr_assert_eq(fpx_quantize_activations(&p, FPX_DTYPE_F32, x, 1, 1, &code, &scale), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_quantize_activations(NULL, FPX_DTYPE_F32, NULL, 1, 1, &code, &scale), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_quantize_activations(NULL, FPX_DTYPE_F32, x, 0, 1, &code, &scale), FPX_ERR_INVALID_ARGUMENT);
}

Test(activation_quant, reference_with_quantized_x_hand_computed) {
  /* X = [1, 2] * 0.5 (e4m3 codes 0x38 = 1, 0x40 = 2); W row = [3, -1] * 2 (e2m1) */
  const uint8_t x_codes[2] = {0x38, 0x40}, w_codes[2] = {0x05, 0x0A};
  const float x_scale = 0.5f, w_scale = 2.0f;
  double y = 0;
  cr_assert_eq(fpx_reference_gemm_qx((fpx_format){4, 3}, x_codes, &x_scale, 0, (fpx_format){2, 1}, w_codes,
                                     &w_scale, 0, 1, 1, 2, &y),
               FPX_OK, "%s", fpx_last_error());
  cr_assert_eq(y, 0.5 * 6.0 + 1.0 * -2.0);
}

Test(activation_quant, reference_with_quantized_x_matches_the_dense_reference) {
  enum { M = 3, N = 4, K = 64 };
  float x[M * K], w[N * K], scales_w[N], xdense[M * K];
  uint8_t xq[M * K], wq[N * K];
  for (int i = 0; i < M * K; i++) x[i] = (float)((i * 37 % 101) - 50) / 8.0f;
  for (int i = 0; i < N * K; i++) w[i] = (float)((i * 53 % 89) - 44) / 16.0f;
  /* a power-of-two static scale keeps dequantized X exact in f32 */
  fpx_act_quant_params p = {sizeof p, FPX_ACT_SCALE_STATIC, 0, 0.03125f, {4, 3}};
  float xs;
  cr_assert_eq(fpx_quantize_activations(&p, FPX_DTYPE_F32, x, M, K, xq, &xs), FPX_OK);
  cr_assert_eq(fpx_decode((fpx_format){4, 3}, xq, M * K, FPX_DTYPE_F32, xdense), FPX_OK);
  for (int i = 0; i < M * K; i++) xdense[i] *= xs;
  fpx_quant_params qp = {sizeof qp, 0, NULL};
  cr_assert_eq(fpx_quantize((fpx_format){3, 2}, FPX_DTYPE_F32, w, N, K, &qp, wq, scales_w), FPX_OK);
  double y1[M * N], y2[M * N];
  cr_assert_eq(fpx_reference_gemm_qx((fpx_format){4, 3}, xq, &xs, 1, (fpx_format){3, 2}, wq, scales_w, 0, M, N,
                                     K, y1),
               FPX_OK);
  cr_assert_eq(fpx_reference_gemm((fpx_format){3, 2}, FPX_DTYPE_F32, xdense, wq, scales_w, 0, M, N, K, y2),
               FPX_OK);
  for (int i = 0; i < M * N; i++) cr_assert_eq(y1[i], y2[i], "element %d: %.17g vs %.17g", i, y1[i], y2[i]);
}

Test(activation_quant, reference_with_quantized_x_rejects_bad_codes) {
  const uint8_t x_codes[1] = {0x7F}, w_codes[1] = {0x1F};
  const float s = 1;
  double y;
  cr_assert_eq(fpx_reference_gemm_qx((fpx_format){4, 3}, x_codes, &s, 0, (fpx_format){2, 1}, w_codes, &s, 0, 1, 1,
                                     1, &y),
               FPX_ERR_INVALID_ARGUMENT, "a 5-bit code in a 4-bit format");
  cr_assert(strstr(fpx_last_error(), "e2m1") != NULL, "%s", fpx_last_error());
}
