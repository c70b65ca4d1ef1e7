/*
 * test_reference_gemm.c - the CPU reference Y = X * dequant(W)^T against
 * hand-computed cases, and its rejected inputs (including running out of
 * memory).
 */
#include "support.h"

/* Large allocations must fail with NULL (not abort) under AddressSanitizer
 * so that FPX_ERR_OUT_OF_MEMORY can be provoked. The sanitizer runtime looks
 * this hook up in the executable, so it must stay visible. */
__attribute__((visibility("default"))) const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

Test(reference_gemm, tiny_per_row_case_computed_by_hand) {
  /* e2m1 codes: 0x02 = 1, 0x07 = 6, 0x0D = -3, 0x01 = 0.5
   * dequant W = [[1*0.5, 6*0.5], [-3*2, 0.5*2]] = [[0.5, 3], [-6, 1]]
   * X = [[1, 2], [-1, 0.5]]
   * Y = [[0.5 + 6, -6 + 2], [-0.5 + 1.5, 6 + 0.5]] = [[6.5, -4], [1, 6.5]] */
  const float x[4] = {1, 2, -1, 0.5f};
  const uint8_t codes[4] = {0x02, 0x07, 0x0D, 0x01};
  const float scales[2] = {0.5f, 2.0f};
  double y[4] = {0};
  cr_assert_eq(fpx_reference_gemm(fmt("e2m1"), FPX_DTYPE_F32, x, codes, scales, 0, 2, 2, 2, y),
               FPX_OK);
  cr_assert(y[0] == 6.5 && y[1] == -4 && y[2] == 1 && y[3] == 6.5, "%g %g %g %g", y[0], y[1],
            y[2], y[3]);
}

Test(reference_gemm, group_scales_apply_to_their_columns) {
  /* k = 70, group 32: groups [0,32), [32,64), [64,70) with scales 1, 2, 4.
   * Every code is 1.0 and every x is 1: y = 32 * 1 + 32 * 2 + 6 * 4 = 120.
   * Second row of W uses scales 0.5, 0.25, 0.125: 16 + 8 + 0.75 = 24.75. */
  float x[70];
  uint8_t codes[2 * 70];
  const float scales[6] = {1, 2, 4, 0.5f, 0.25f, 0.125f};
  double y[2];
  for (int i = 0; i < 70; i++) x[i] = 1;
  memset(codes, 0x0C, sizeof codes); /* e3m2: exponent 3 = bias, mantissa 0 -> 1.0 */
  cr_assert_eq(fpx_reference_gemm(fmt("e3m2"), FPX_DTYPE_F32, x, codes, scales, 32, 1, 2, 70, y),
               FPX_OK, "%s", fpx_last_error());
  cr_assert(y[0] == 120 && y[1] == 24.75, "%g %g", y[0], y[1]);
}

Test(reference_gemm, f16_and_bf16_activations_are_read_exactly) {
  const uint16_t xh[2] = {0x3C00 /* 1 */, 0xC100 /* -2.5 */};
  const uint16_t xb[2] = {0x3F80 /* 1 */, 0xC020 /* -2.5 */};
  const uint8_t codes[2] = {0x07, 0x05}; /* e2m1: 6, 3 */
  const float scale = 1;
  double y;
  cr_assert_eq(fpx_reference_gemm(fmt("e2m1"), FPX_DTYPE_F16, xh, codes, &scale, 0, 1, 1, 2, &y),
               FPX_OK);
  cr_assert(y == 6 - 7.5, "%g", y);
  cr_assert_eq(fpx_reference_gemm(fmt("e2m1"), FPX_DTYPE_BF16, xb, codes, &scale, 0, 1, 1, 2, &y),
               FPX_OK);
  cr_assert(y == 6 - 7.5, "%g", y);
}

Test(reference_gemm, rejects_bad_arguments) {
  const float x[4] = {1, 2, 3, 4}, scales[2] = {1, 1};
  uint8_t codes[4] = {1, 2, 3, 0x10};
  double y[4] = {5, 5, 5, 5};
  fpx_format f = fmt("e2m1"), bad = {1, 7};
  cr_assert_eq(fpx_reference_gemm(f, FPX_DTYPE_F32, x, codes, scales, 0, 2, 2, 2, y),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "0x10"), "%s", fpx_last_error());
  cr_assert(y[0] == 5 && y[3] == 5, "written on failure");
  codes[3] = 0;
  cr_assert_eq(fpx_reference_gemm(f, FPX_DTYPE_F32, x, codes, scales, 48, 2, 2, 2, y),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "48"), "%s", fpx_last_error());
  cr_assert_eq(fpx_reference_gemm(f, (fpx_dtype)4, x, codes, scales, 0, 2, 2, 2, y),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_reference_gemm(f, FPX_DTYPE_F32, x, codes, scales, 0, 0, 2, 2, y),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_reference_gemm(f, FPX_DTYPE_F32, NULL, codes, scales, 0, 2, 2, 2, y),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_reference_gemm(f, FPX_DTYPE_F32, x, NULL, scales, 0, 2, 2, 2, y),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_reference_gemm(f, FPX_DTYPE_F32, x, codes, NULL, 0, 2, 2, 2, y),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_reference_gemm(f, FPX_DTYPE_F32, x, codes, scales, 0, 2, 2, 2, NULL),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_reference_gemm(bad, FPX_DTYPE_F32, x, codes, scales, 0, 2, 2, 2, y),
               FPX_ERR_UNSUPPORTED_FORMAT);
}

Test(reference_gemm, shapes_whose_buffers_overflow_size_t_are_invalid) {
  const float x[1] = {1}, scales[1] = {1};
  const uint8_t codes[1] = {1};
  double y[1];
  /* m * k * sizeof(double) wraps around to 0 */
  cr_assert_eq(fpx_reference_gemm(fmt("e2m1"), FPX_DTYPE_F32, x, codes, scales, 0,
                                  SIZE_MAX / 4 + 1, 1, 1, y),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "overflow"), "%s", fpx_last_error());
}

Test(reference_gemm, allocation_failure_is_out_of_memory) {
  const float x[1] = {1}, scales[1] = {1};
  const uint8_t codes[1] = {1};
  double y[1];
  /* 2^52 rows of X need 2^55 bytes: more than any address space holds */
  cr_assert_eq(fpx_reference_gemm(fmt("e2m1"), FPX_DTYPE_F32, x, codes, scales, 0,
                                  (size_t)1 << 52, 1, 1, y),
               FPX_ERR_OUT_OF_MEMORY);
  cr_assert(contains(fpx_last_error(), "memory"), "%s", fpx_last_error());
}
