/*
 * test_fake_device.c - the device entry points' argument checks and launch
 * geometry on a fake GPU (fake_driver.h): checks that run before the device
 * would, and the launches a call makes, without a GPU.
 */
#include <stdint.h>

#include "fake_driver.h"

static const size_t N = 16, K = 256;

static fpx_weights *upload(fpx_ctx *ctx, const char *format, uint8_t code) {
  uint8_t codes[16 * 256];
  float scales[16];
  memset(codes, code, sizeof codes);
  for (size_t i = 0; i < N; i++) scales[i] = 1.0f;
  fpx_weights *w = NULL;
  cr_assert_eq(fpx_weights_upload(ctx, fmt(format), codes, scales, N, K, 0, &w), FPX_OK, "%s",
               fpx_last_error());
  return w;
}

/* Arguments of a GEMM of w on fake device addresses. */
static fpx_gemm_args gemm_args(const fpx_weights *w, fpx_dtype x_dtype, size_t m) {
  fpx_gemm_args a;
  memset(&a, 0, sizeof a);
  a.struct_size = sizeof a, a.weights = w, a.x_dtype = x_dtype, a.y_dtype = FPX_DTYPE_BF16;
  a.m = m, a.x = 0x100000, a.y = 0x200000, a.x_scales = 0x300000;
  return a;
}

Test(fake_device, upload_tiled_rejects_codes_that_are_not_finite_naming_them) {
  fake_driver_install(9);
  fpx_ctx *ctx = fake_ctx();
  const fpx_format e4m3 = fmt("e4m3");
  const size_t n = 3, k = 40; /* padded to 16 x 256 */
  uint8_t codes[3 * 40], tiled[8 * 512];
  float scales[3] = {1, 1, 1};
  fpx_weights *w = (fpx_weights *)0x1;
  memset(codes, 0x10, sizeof codes);
  codes[2 * k + 5] = 0x7F; /* e4m3 NaN: packing takes any code of the width */
  cr_assert_eq(fpx_pack_tiled(e4m3, codes, n, k, tiled), FPX_OK, "%s", fpx_last_error());
  cr_assert_eq(fpx_weights_upload_tiled(ctx, e4m3, tiled, scales, n, k, 0, &w), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_null(w);
  cr_assert(contains(fpx_last_error(), "fpx_weights_upload_tiled"), "%s", fpx_last_error());
  cr_assert(contains(fpx_last_error(), "row 2, column 5 is 0x7F"), "%s", fpx_last_error());
  codes[2 * k + 5] = 0x10;
  cr_assert_eq(fpx_pack_tiled(e4m3, codes, n, k, tiled), FPX_OK, "%s", fpx_last_error());
  cr_assert_eq(fpx_weights_upload_tiled(ctx, e4m3, tiled, scales, n, k, 0, &w), FPX_OK, "%s",
               fpx_last_error());
  fpx_weights_destroy(w);

  /* a NaN in the padding: row 0, column 100 sits at byte (100 / 32) * 512 +
   * 2 * (100 % 32) of its 8-bit block (docs/LAYOUT.md); the codes unpack
   * unchanged, and the check reports it as padding */
  uint8_t bad[8 * 512], codes_back[3 * 40];
  memcpy(bad, tiled, sizeof bad);
  bad[3 * 512 + 2 * 4] = 0x7F;
  cr_assert_eq(fpx_unpack_tiled(e4m3, bad, n, k, codes_back), FPX_OK, "%s", fpx_last_error());
  cr_assert_eq(memcmp(codes_back, codes, sizeof codes), 0);
  cr_assert_eq(fpx_weights_upload_tiled(ctx, e4m3, bad, scales, n, k, 0, &w), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "row 0, column 100 (padding)"), "%s", fpx_last_error());
  fpx_ctx_destroy(ctx);
}

Test(fake_device, upload_tiled_takes_any_bits_of_a_format_without_non_finite_codes) {
  fake_driver_install(9);
  fpx_ctx *ctx = fake_ctx();
  uint8_t tiled[6 * 512]; /* e3m2: 6 bits per code */
  float scales[16];
  memset(tiled, 0xFF, sizeof tiled);
  for (size_t i = 0; i < N; i++) scales[i] = 1.0f;
  fpx_weights *w = NULL;
  cr_assert_eq(fpx_weights_upload_tiled(ctx, fmt("e3m2"), tiled, scales, N, K, 0, &w), FPX_OK, "%s",
               fpx_last_error());
  fpx_weights_destroy(w);
  fpx_ctx_destroy(ctx);
}

Test(fake_device, upload_errors_name_the_entry_point_and_the_argument) {
  fake_driver_install(9);
  fpx_ctx *ctx = fake_ctx();
  float scales[16] = {1};
  fpx_weights *w = NULL;
  cr_assert_eq(fpx_weights_upload_tiled(ctx, fmt("e4m3"), NULL, scales, N, K, 0, &w),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "fpx_weights_upload_tiled: tiled is NULL"), "%s",
            fpx_last_error());
  cr_assert_eq(fpx_weights_upload(ctx, fmt("e4m3"), NULL, scales, N, K, 0, &w),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "fpx_weights_upload: codes is NULL"), "%s", fpx_last_error());
  fpx_ctx_destroy(ctx);
}

Test(fake_device, gemm_names_an_x_dtype_that_is_no_dtype_by_its_number) {
  fake_driver_install(9);
  fpx_ctx *ctx = fake_ctx();
  fpx_weights *w = upload(ctx, "e3m2", 0x01);
  fpx_gemm_args a = gemm_args(w, (fpx_dtype)99, 1);
  cr_assert_eq(fpx_gemm(ctx, &a, NULL), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "x_dtype 99"), "%s", fpx_last_error());
  cr_assert_eq(fake_launch_count, 0);
  fpx_weights_destroy(w);
  fpx_ctx_destroy(ctx);
}

Test(fake_device, dequant_rejects_weights_of_another_context) {
  fake_driver_install(9);
  fpx_ctx *ctx = fake_ctx(), *other = fake_ctx();
  fpx_weights *w = upload(other, "e3m2", 0x01);
  cr_assert_eq(fpx_dequant(ctx, w, FPX_DTYPE_BF16, 0x3000, NULL), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "another context"), "%s", fpx_last_error());
  cr_assert_eq(fake_launch_count, 0);
  fpx_weights_destroy(w);
  fpx_ctx_destroy(other);
  fpx_ctx_destroy(ctx);
}

/* M beyond 65535 blocks of tokens: consecutive launches over chunks of
 * tokens, each starting at its first token's X, Y and X scale. */
static void check_chunks(fpx_dtype x_dtype, size_t x_bytes, int per_tensor) {
  fake_driver_install(9);
  fpx_ctx *ctx = fake_ctx();
  fpx_weights *w = upload(ctx, "e4m3", 0x10);
  fpx_wo_config cfg = {.warps_n = 1, .warps_k = 1, .m_tiles = 1, .split_k = 1, .kernel = 0};
  fpx_gemm_args a = gemm_args(w, x_dtype, 600000);
  a.config = &cfg, a.x_scale_per_tensor = per_tensor;
  fake_gemm_params = 1;
  cr_assert_eq(fpx_gemm(ctx, &a, NULL), FPX_OK, "%s", fpx_last_error());
  const size_t chunk = (size_t)65535 * 8; /* tokens per launch with one 8-token tile */
  cr_assert_eq(fake_launch_count, 2);
  cr_assert_eq(fake_launches[0].grid[1], 65535);
  cr_assert_eq(fake_launches[1].grid[1], (600000 - chunk + 7) / 8);
  cr_assert_eq(fake_launches[0].m, (int)chunk);
  cr_assert_eq(fake_launches[1].m, (int)(600000 - chunk));
  cr_assert_eq(fake_launches[0].x, a.x);
  cr_assert_eq(fake_launches[1].x, a.x + chunk * K * x_bytes);
  cr_assert_eq(fake_launches[0].y, a.y);
  cr_assert_eq(fake_launches[1].y, a.y + chunk * N * 2);
  if (x_dtype == FPX_DTYPE_E4M3) {
    cr_assert_eq(fake_launches[0].x_scales, a.x_scales);
    cr_assert_eq(fake_launches[1].x_scales, per_tensor ? a.x_scales : a.x_scales + chunk * 4);
  }
  fpx_weights_destroy(w);
  fpx_ctx_destroy(ctx);
}

Test(fake_device, mma_gemm_beyond_65535_token_blocks_runs_in_chunks_bf16) {
  check_chunks(FPX_DTYPE_BF16, 2, 0);
}
Test(fake_device, mma_gemm_beyond_65535_token_blocks_runs_in_chunks_fp8_per_token) {
  check_chunks(FPX_DTYPE_E4M3, 1, 0);
}
Test(fake_device, mma_gemm_beyond_65535_token_blocks_runs_in_chunks_fp8_per_tensor) {
  check_chunks(FPX_DTYPE_E4M3, 1, 1);
}

Test(fake_device, mma_gemm_within_65535_token_blocks_is_one_launch) {
  fake_driver_install(9);
  fpx_ctx *ctx = fake_ctx();
  fpx_weights *w = upload(ctx, "e3m2", 0x01);
  fpx_wo_config cfg = {.warps_n = 1, .warps_k = 1, .m_tiles = 1, .split_k = 1, .kernel = 0};
  fpx_gemm_args a = gemm_args(w, FPX_DTYPE_BF16, (size_t)65535 * 8);
  a.config = &cfg;
  fake_gemm_params = 1;
  cr_assert_eq(fpx_gemm(ctx, &a, NULL), FPX_OK, "%s", fpx_last_error());
  cr_assert_eq(fake_launch_count, 1);
  cr_assert_eq(fake_launches[0].grid[1], 65535);
  cr_assert_eq(fake_launches[0].m, 65535 * 8);
  fpx_weights_destroy(w);
  fpx_ctx_destroy(ctx);
}

Test(fake_device, gemm_beyond_the_wgmma_grid_takes_the_mma_family_in_chunks) {
  fake_driver_install(9);
  fpx_ctx *ctx = fake_ctx();
  fpx_weights *w = upload(ctx, "e3m2", 0x01);
  fpx_gemm_args a = gemm_args(w, FPX_DTYPE_BF16, 20000000); /* 78125 blocks of 256 tokens */
  fpx_wo_config chosen;
  cr_assert_eq(fpx_gemm_default_config(ctx, &a, &chosen), FPX_OK, "%s", fpx_last_error());
  cr_assert_eq(chosen.kernel, 0);
  fake_gemm_params = 1;
  cr_assert_eq(fpx_gemm(ctx, &a, NULL), FPX_OK, "%s", fpx_last_error());
  cr_assert(fake_launch_count >= 2 && fake_launch_count <= 16, "%d launches", fake_launch_count);
  size_t tokens = 0;
  for (int i = 0; i < fake_launch_count; i++) {
    cr_assert(fake_launches[i].grid[1] <= 65535);
    cr_assert_eq(fake_launches[i].x, a.x + tokens * K * 2);
    tokens += (size_t)fake_launches[i].m;
  }
  cr_assert_eq(tokens, a.m);
  fpx_weights_destroy(w);
  fpx_ctx_destroy(ctx);
}
