/*
 * test_compile.c - kernel templates compile with NVRTC (no GPU needed) for
 * sm_80, sm_89 and sm_90a: every configuration of the weight-only space for
 * one format, and a representative format of every bit width 3..8 with both
 * activation dtypes; the benchmark's read-floor kernel; the no-driver path;
 * configuration ids and hashes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "config.h"
#include "fpx.h"
#include "read_floor.h"

static const char *const archs[] = {"sm_80", "sm_89", "sm_90a"};

static void compile_ok(const fpx__wo_key *key, const fpx_wo_config *cfg, const char *arch) {
  char name[FPX__NAME_EXPR_MAX];
  fpx__cubin cubin;
  cr_assert_eq(fpx__wo_config_check(cfg), FPX_OK, "%s", fpx_last_error());
  fpx__wo_gemm_name(key, cfg, name);
  fpx_status st = fpx__compile(FPX__TEMPLATE_WEIGHT_ONLY, name, arch, &cubin);
  cr_assert_eq(st, FPX_OK, "%s for %s: %s", name, arch, fpx_last_error());
  cr_assert_gt(cubin.size, 0);
  cr_assert_gt(strlen(cubin.lowered_name), 0);
  fpx__cubin_free(&cubin);
}

/* Every configuration of the space, for e3m2 x bf16 (the main format). */
static void compile_space(const char *arch) {
  fpx_wo_config space[64];
  size_t count = fpx__wo_config_space(space, 64);
  cr_assert_gt(count, 8);
  cr_assert_leq(count, 64);
  fpx__wo_key key = {{3, 2}, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0};
  for (size_t i = 0; i < count; i++) compile_ok(&key, &space[i], arch);
}
Test(compile, every_config_sm_80, .timeout = 900) { compile_space("sm_80"); }
Test(compile, every_config_sm_89, .timeout = 900) { compile_space("sm_89"); }
Test(compile, every_config_sm_90a, .timeout = 900) { compile_space("sm_90a"); }

/* One format per bit width (both 8-bit special formats), both activation
 * dtypes, per-row and grouped scales, the smallest and largest tiles. */
static void compile_formats(const char *arch) {
  static const fpx_format formats[] = {{1, 1}, {2, 1}, {2, 2}, {3, 2}, {2, 3},
                                       {3, 3}, {4, 3}, {5, 2}, {5, 1}};
  static const fpx_wo_config cfgs[] = {{1, 1, 1, 1, 0, 0, 0}, {4, 2, 8, 1, 0, 0, 0}};
  for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++)
    for (int act = 1; act <= 2; act++) {
      if (formats[f].exp_bits == 5 && formats[f].man_bits == 1 && act == FPX_DTYPE_F16) continue;
      fpx__wo_key key = {formats[f], (fpx_dtype)act, FPX_DTYPE_F32, act == 1 ? 0 : 128};
      cr_assert_eq(fpx__wo_key_check(&key), FPX_OK, "%s", fpx_last_error());
      compile_ok(&key, &cfgs[f % 2], arch);
    }
  /* the dequantize kernel */
  char name[FPX__NAME_EXPR_MAX];
  fpx__cubin cubin;
  fpx__wo_dequant_name((fpx_format){3, 2}, FPX_DTYPE_BF16, 64, name);
  cr_assert_eq(fpx__compile(FPX__TEMPLATE_WEIGHT_ONLY, name, arch, &cubin), FPX_OK, "%s",
               fpx_last_error());
  fpx__cubin_free(&cubin);
}
Test(compile, formats_sm_80, .timeout = 900) { compile_formats(archs[0]); }
Test(compile, formats_sm_89, .timeout = 900) { compile_formats(archs[1]); }
Test(compile, formats_sm_90a, .timeout = 900) { compile_formats(archs[2]); }

/* FP8 activations (template ACT 2 = e4m3, 3 = e5m2) are instantiated for
 * sm_89 and sm_90a only, the first targets with FP8 tensor cores (the
 * runtime never launches them below sm_89). Weight codes of both FP8
 * targets (e4m3, e3m2, e2m1 become E4M3; e5m2 stays E5M2), per-row and
 * group-128 scales, every output dtype, three tile shapes. */
static void compile_fp8_activations(const char *arch) {
  static const fpx_format formats[] = {{4, 3}, {3, 2}, {2, 1}, {5, 2}};
  static const fpx_dtype acts[] = {FPX_DTYPE_E4M3, FPX_DTYPE_E5M2};
  static const fpx_dtype outs[] = {FPX_DTYPE_BF16, FPX_DTYPE_F16, FPX_DTYPE_F32};
  static const fpx_wo_config cfgs[] = {{1, 1, 1, 1, 0, 0, 0}, {4, 2, 8, 1, 0, 0, 0}, {4, 1, 2, 1, 0, 0, 0}};
  size_t i = 0;
  for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++)
    for (size_t a = 0; a < 2; a++)
      for (int group = 0; group <= 128; group += 128, i++) {
        fpx__wo_key key = {formats[f], acts[a], outs[i % 3], group};
        cr_assert_eq(fpx__wo_key_check(&key), FPX_OK, "%s", fpx_last_error());
        compile_ok(&key, &cfgs[(i / 2) % 3], arch);
      }
}
Test(compile, fp8_activations_sm_89, .timeout = 900) { compile_fp8_activations(archs[1]); }
Test(compile, fp8_activations_sm_90a, .timeout = 900) { compile_fp8_activations(archs[2]); }

/* The benchmark's read-floor kernel (templates/stream_read.cuh). */
Test(compile, stream_read_every_arch, .timeout = 900) {
  for (size_t a = 0; a < sizeof archs / sizeof archs[0]; a++) {
    fpx__cubin cubin;
    fpx_status st = fpx__compile(FPX__TEMPLATE_STREAM_READ, FPX__STREAM_READ_NAME, archs[a], &cubin);
    cr_assert_eq(st, FPX_OK, "%s: %s", archs[a], fpx_last_error());
    cr_assert_gt(cubin.size, 0);
    cr_assert(strstr(cubin.lowered_name, "stream_read") != NULL, "%s", cubin.lowered_name);
    fpx__cubin_free(&cubin);
  }
}

Test(compile, bad_instance_reports_the_nvrtc_log) {
  fpx__cubin cubin;
  /* warps_n = 3 is outside the space: the template's shared-memory array and
   * name still compile, so use a format the template cannot instantiate */
  fpx_status st = fpx__compile(FPX__TEMPLATE_WEIGHT_ONLY, "fpx::weight_only_gemm<0,9,1,1,0,4,1,1>",
                               "sm_90a", &cubin);
  cr_assert_eq(st, FPX_ERR_COMPILE);
  cr_assert(strstr(fpx_last_error(), "NVRTC could not compile") != NULL, "%s", fpx_last_error());
  cr_assert_eq(cubin.data, NULL);
}

Test(compile, bad_arch_is_rejected) {
  fpx__cubin cubin;
  cr_assert_eq(fpx__compile(FPX__TEMPLATE_WEIGHT_ONLY, "fpx::dequantize<3,2,1,0>", "gfx90a", &cubin),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "gfx90a") != NULL);
}

Test(runtime, no_driver_gives_no_device) {
  setenv("FPX_CUDA_DRIVER", "/nonexistent/libcuda.so.1", 1);
  fpx_ctx *ctx = (fpx_ctx *)&ctx;
  cr_assert_eq(fpx_ctx_create(NULL, &ctx), FPX_ERR_NO_DEVICE);
  cr_assert_eq(ctx, NULL);
  cr_assert(strstr(fpx_last_error(), "/nonexistent/libcuda.so.1") != NULL, "%s", fpx_last_error());
  uint8_t code = 0;
  float scale = 1;
  fpx_weights *w = (fpx_weights *)&w;
  cr_assert_eq(fpx_weights_upload(NULL, (fpx_format){2, 1}, &code, &scale, 1, 8, 0, &w),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(w, NULL);
  fpx_gemm_args args = {sizeof args, NULL, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 1, 0, 0, NULL, 0, 0};
  cr_assert_eq(fpx_gemm(NULL, &args, NULL), FPX_ERR_INVALID_ARGUMENT);
  fpx_ctx_destroy(NULL);
  fpx_weights_destroy(NULL);
}

Test(config, hash_is_fnv1a_and_stable) {
  /* FNV-1a 64 test vectors */
  cr_assert_eq(fpx__hash64("", 0, 0), 0xcbf29ce484222325ull);
  cr_assert_eq(fpx__hash64("a", 1, 0), 0xaf63dc4c8601ec8cull);
  uint64_t h1 = fpx__kernel_hash("src", "fpx::k<1>", "sm_90a");
  cr_assert_eq(h1, fpx__kernel_hash("src", "fpx::k<1>", "sm_90a"));
  cr_assert_neq(h1, fpx__kernel_hash("src", "fpx::k<1>", "sm_89"));
  cr_assert_neq(h1, fpx__kernel_hash("src", "fpx::k<2>", "sm_90a"));
}

Test(config, ids_and_names_are_distinct) {
  fpx_wo_config space[64];
  size_t count = fpx__wo_config_space(space, 64);
  static char names[64 * 2 * 3][FPX__NAME_EXPR_MAX];
  uint64_t ids[64 * 2 * 3];
  size_t total = 0;
  for (size_t i = 0; i < count; i++)
    for (int act = 1; act <= 2; act++)
      for (int g = 0; g < 3; g++) {
        fpx__wo_key key = {{3, 2}, (fpx_dtype)act, FPX_DTYPE_F32, g * 64};
        fpx__wo_gemm_name(&key, &space[i], names[total]);
        ids[total++] = fpx__wo_gemm_id(&key, &space[i]);
      }
  for (size_t a = 0; a < total; a++)
    for (size_t b = a + 1; b < total; b++) {
      cr_assert_neq(ids[a], ids[b], "%s and %s share an id", names[a], names[b]);
      cr_assert_str_neq(names[a], names[b]);
    }
}

Test(config, invalid_configs_name_the_field) {
  fpx_wo_config c = {4, 1, 1, 0, 0, 0, 0};
  cr_assert_eq(fpx__wo_config_check(&c), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "split_k 0") != NULL);
  c = (fpx_wo_config){8, 4, 1, 1, 0, 0, 0};
  cr_assert_eq(fpx__wo_config_check(&c), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "16 warps") != NULL);
  c = (fpx_wo_config){4, 1, 3, 1, 0, 0, 0};
  cr_assert_eq(fpx__wo_config_check(&c), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "m_tiles 3") != NULL);
}

Test(config, f16_rejects_all_finite_e5_formats) {
  fpx__wo_key key = {{5, 1}, FPX_DTYPE_F16, FPX_DTYPE_F16, 0};
  cr_assert_eq(fpx__wo_key_check(&key), FPX_ERR_UNSUPPORTED_FORMAT);
  cr_assert(strstr(fpx_last_error(), "e5m1") != NULL);
  key.x_dtype = FPX_DTYPE_BF16;
  cr_assert_eq(fpx__wo_key_check(&key), FPX_OK);
}

Test(config, fp8_activation_instances_carry_the_act_code) {
  static const struct {
    fpx_dtype x;
    const char *prefix;
  } cases[] = {{FPX_DTYPE_F16, "fpx::weight_only_gemm<4,3,0,1,0,"},
               {FPX_DTYPE_BF16, "fpx::weight_only_gemm<4,3,1,1,0,"},
               {FPX_DTYPE_E4M3, "fpx::weight_only_gemm<4,3,2,1,0,"},
               {FPX_DTYPE_E5M2, "fpx::weight_only_gemm<4,3,3,1,0,"}};
  const fpx_wo_config cfg = {4, 1, 1, 1, 0, 0, 0};
  uint64_t ids[4];
  for (size_t i = 0; i < 4; i++) {
    const fpx__wo_key key = {{4, 3}, cases[i].x, FPX_DTYPE_BF16, 0};
    char name[FPX__NAME_EXPR_MAX];
    fpx__wo_gemm_name(&key, &cfg, name);
    cr_assert(strncmp(name, cases[i].prefix, strlen(cases[i].prefix)) == 0, "%s for x %s", name,
              fpx_dtype_name(cases[i].x));
    ids[i] = fpx__wo_gemm_id(&key, &cfg);
    for (size_t j = 0; j < i; j++) cr_assert_neq(ids[i], ids[j], "x %zu and %zu share an id", i, j);
  }
}

/* FP8 X takes the formats whose codes convert exactly to E4M3 (E <= 4,
 * M <= 3) or E5M2 (E <= 5, M <= 2); others are rejected naming the format,
 * which still runs with BF16 X. */
Test(config, fp8_activations_take_formats_that_convert_exactly) {
  static const char *const accepted[] = {"e4m3", "e3m2", "e5m2", "e2m1", "e4m2", "e2m3"};
  static const char *const rejected[] = {"e3m4", "e2m5", "e1m6", "e2m4", "e1m4", "e5m1", "e5m0"};
  static const fpx_dtype acts[] = {FPX_DTYPE_E4M3, FPX_DTYPE_E5M2};
  for (size_t a = 0; a < 2; a++) {
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
      fpx__wo_key key = {{0, 0}, acts[a], FPX_DTYPE_BF16, i % 2 ? 128 : 0};
      cr_assert_eq(fpx_format_parse(accepted[i], &key.format), FPX_OK);
      cr_assert_eq(fpx__wo_key_check(&key), FPX_OK, "%s with x %s: %s", accepted[i],
                   fpx_dtype_name(acts[a]), fpx_last_error());
    }
    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++) {
      fpx__wo_key key = {{0, 0}, acts[a], FPX_DTYPE_F32, 0};
      cr_assert_eq(fpx_format_parse(rejected[i], &key.format), FPX_OK);
      cr_assert_eq(fpx__wo_key_check(&key), FPX_ERR_UNSUPPORTED_FORMAT, "%s with x %s", rejected[i],
                   fpx_dtype_name(acts[a]));
      cr_assert(strstr(fpx_last_error(), rejected[i]) != NULL, "%s", fpx_last_error());
      key.x_dtype = FPX_DTYPE_BF16;
      cr_assert_eq(fpx__wo_key_check(&key), FPX_OK, "%s with bf16 x: %s", rejected[i], fpx_last_error());
    }
  }
}

Test(config, default_fills_the_gpu_at_small_m) {
  fpx_wo_config c;
  fpx__wo_config_default(1, 4096, 4096, 132, &c);
  cr_assert_eq(fpx__wo_config_check(&c), FPX_OK);
  cr_assert_gt(c.split_k, 1);
  fpx__wo_config_default(8192, 57344, 8192, 132, &c);
  cr_assert_eq(c.split_k, 1);
  cr_assert_eq(c.m_tiles, 8);
}

/* Token tiles per block by M: one up to 8 tokens, two up to 16 (one block
 * row of tokens, activations prefetched), then 4 and 8. */
Test(config, default_token_tiles_by_m) {
  static const struct { size_t m; int m_tiles; } cases[] = {{1, 1}, {8, 1}, {9, 2}, {16, 2}, {17, 4}, {32, 4}, {33, 8}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fpx_wo_config c;
    fpx__wo_config_default(cases[i].m, 8192, 8192, 132, &c);
    cr_assert_eq(c.m_tiles, cases[i].m_tiles, "M = %zu: m_tiles %d", cases[i].m, c.m_tiles);
    cr_assert_eq(fpx__wo_config_check(&c), FPX_OK);
  }
}
