/*
 * test_wgmma_compile.c - the Hopper wgmma GEMM family (wgmma_gemm.cuh)
 * compiles with NVRTC, no GPU needed: every instance the family claims for
 * sm_90a into a cubin whose ptxas log has no "wgmma serialized" warning
 * (C7513 and kin: a wgmma pipeline ptxas had to serialize), and into the
 * empty kernel for sm_80 and sm_89; the configuration rules, names and ids.
 *
 * Claimed instances: weight formats e4m3, e3m2, e2m3, e2m2, e2m1 and e5m2,
 * each with f16, bf16, e4m3 and e5m2 activations; group 0 with 64, 128 and
 * 256 tokens and group 128 with 64 and 128 tokens (group scales keep a
 * second accumulator); 4 stages, bf16 output. Also every valid (tokens,
 * stages) pair for e3m2 x bf16, the f16 and f32 outputs and the other group
 * sizes for one format each.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <nvrtc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "config.h"
#include "embedded_templates.h"
#include "fpx.h"
#include "wgmma_config.h"
#include "wgmma_gemm.h"

static const fpx_dtype acts[] = {FPX_DTYPE_F16, FPX_DTYPE_BF16, FPX_DTYPE_E4M3, FPX_DTYPE_E5M2};

/* Compiles an instance for sm_90a with the library's options plus ptxas
 * -v, and checks the log: no serialized wgmma; at most 32 bytes of
 * spills. */
static void compile_sm90a(const fpx__wo_key *key, const fpx__wgmma_config *cfg) {
  char name[FPX__NAME_EXPR_MAX];
  cr_assert_eq(fpx__wgmma_key_check(key), FPX_OK, "%s", fpx_last_error());
  cr_assert_eq(fpx__wgmma_config_check(key, cfg), FPX_OK, "%s", fpx_last_error());
  fpx__wgmma_gemm_name(key, cfg, name);
  const char *source = fpx__template_source(FPX__TEMPLATE_WGMMA);
  cr_assert_not_null(source, "%s is not embedded", FPX__TEMPLATE_WGMMA);
  nvrtcProgram prog;
  cr_assert_eq(nvrtcCreateProgram(&prog, source, FPX__TEMPLATE_WGMMA, 0, NULL, NULL), NVRTC_SUCCESS);
  cr_assert_eq(nvrtcAddNameExpression(prog, name), NVRTC_SUCCESS);
  const char *options[] = {"--gpu-architecture=sm_90a", "-std=c++17", "--diag-suppress=177",
                           "--ptxas-options=-v"};
  nvrtcResult r = nvrtcCompileProgram(prog, 4, options);
  size_t log_size = 0, cubin_size = 0;
  nvrtcGetProgramLogSize(prog, &log_size);
  char *log = calloc(1, log_size + 1);
  cr_assert_not_null(log);
  nvrtcGetProgramLog(prog, log);
  cr_assert_eq(r, NVRTC_SUCCESS, "%s for sm_90a: %s\n%s", name, nvrtcGetErrorString(r), log);
  cr_assert_eq(nvrtcGetCUBINSize(prog, &cubin_size), NVRTC_SUCCESS);
  cr_assert_gt(cubin_size, 0, "%s: no cubin", name);
  cr_assert(strstr(log, "Compiling entry function") != NULL,
            "%s: NVRTC did not pass the ptxas log through, cannot check it:\n%s", name, log);
  cr_assert(strstr(log, "serialized") == NULL, "%s: ptxas serialized the wgmma pipeline:\n%s", name,
            log);
  /* Spills: the persistent 256-token instances keep a value or two in
   * local memory across a unit's epilogue (stored and loaded once per unit,
   * outside the column-block loop; the SASS and the A/B timings are in
   * NOTES-PERF.md; the most, 20 bytes, in 256 x 6-stage instances, which
   * keep both epilogue paths). Up to 32 bytes is reported; more fails. */
  const char *spill = strstr(log, " bytes spill stores");
  cr_assert_not_null(spill, "%s: no spill count in the ptxas log:\n%s", name, log);
  const char *digits = spill;
  while (digits > log && digits[-1] >= '0' && digits[-1] <= '9') digits--;
  const long spill_bytes = strtol(digits, NULL, 10);
  cr_assert_leq(spill_bytes, 32, "%s spills %ld bytes:\n%s", name, spill_bytes, log);
  if (spill_bytes > 0) cr_log_info("%s spills %ld bytes (at most 32 allowed)", name, spill_bytes);
  free(log);
  nvrtcDestroyProgram(&prog);
}

/* Below sm_90a the instance is an empty kernel, compiled as the library
 * compiles it. */
static void compile_empty(const fpx__wo_key *key, const fpx__wgmma_config *cfg, const char *arch) {
  char name[FPX__NAME_EXPR_MAX];
  fpx__cubin cubin;
  fpx__wgmma_gemm_name(key, cfg, name);
  fpx_status st = fpx__compile(FPX__TEMPLATE_WGMMA, name, arch, &cubin);
  cr_assert_eq(st, FPX_OK, "%s for %s: %s", name, arch, fpx_last_error());
  cr_assert_gt(cubin.size, 0);
  cr_assert_gt(strlen(cubin.lowered_name), 0);
  fpx__cubin_free(&cubin);
}

/* The claimed instances of one weight format. */
static void compile_format(const char *format_name, const char *arch) {
  static const fpx__wgmma_config tiles[] = {{64, 4, 1, 0, 0, 0}, {128, 4, 1, 0, 0, 0}, {256, 4, 1, 0, 0, 0}};
  fpx_format f;
  cr_assert_eq(fpx_format_parse(format_name, &f), FPX_OK);
  for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++)
    for (int group = 0; group <= 128; group += 128)
      for (size_t t = 0; t < sizeof tiles / sizeof tiles[0]; t++) {
        if (group != 0 && tiles[t].tokens > 128) continue;
        fpx__wo_key key = {f, acts[a], FPX_DTYPE_BF16, group};
        if (strcmp(arch, "sm_90a") == 0) compile_sm90a(&key, &tiles[t]);
        else compile_empty(&key, &tiles[t], arch);
      }
}

#define FORMAT_TESTS(fmt)                                                                   \
  Test(wgmma_compile, fmt##_sm_90a, .timeout = 900) { compile_format(#fmt, "sm_90a"); }     \
  Test(wgmma_compile, fmt##_sm_80_sm_89_empty, .timeout = 900) {                            \
    compile_format(#fmt, "sm_80");                                                          \
    compile_format(#fmt, "sm_89");                                                          \
  }
FORMAT_TESTS(e4m3)
FORMAT_TESTS(e3m2)
FORMAT_TESTS(e2m3)
FORMAT_TESTS(e2m2)
FORMAT_TESTS(e2m1)
FORMAT_TESTS(e5m2)

/* Every valid (tokens, stages) pair, one format. */
Test(wgmma_compile, every_tokens_and_stages_sm_90a, .timeout = 900) {
  fpx__wo_key key = {{3, 2}, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0};
  int compiled = 0;
  for (int tokens = 64; tokens <= 256; tokens *= 2)
    for (int stages = 2; stages <= 8; stages++) {
      fpx__wgmma_config cfg = {tokens, stages, 1, 0, 0, 0};
      if (fpx__wgmma_config_check(&key, &cfg) != FPX_OK) continue;
      compile_sm90a(&key, &cfg);
      compiled++;
    }
  cr_assert_eq(compiled, 20, "%d (tokens, stages) pairs are valid", compiled); /* not 256 x 8 */
}

Test(wgmma_compile, outputs_and_group_sizes_sm_90a, .timeout = 900) {
  static const fpx_dtype outs[] = {FPX_DTYPE_F16, FPX_DTYPE_F32};
  for (size_t o = 0; o < 2; o++) {
    fpx__wo_key key = {{2, 1}, FPX_DTYPE_BF16, outs[o], 64};
    compile_sm90a(&key, &(fpx__wgmma_config){128, 4, 1, 0, 0, 0});
    fpx__wo_key key8 = {{3, 2}, FPX_DTYPE_E4M3, outs[o], 0};
    compile_sm90a(&key8, &(fpx__wgmma_config){256, 6, 1, 0, 0, 0});
  }
  static const int groups[] = {32, 64, 256};
  for (size_t g = 0; g < 3; g++) {
    fpx__wo_key key = {{2, 3}, FPX_DTYPE_BF16, FPX_DTYPE_BF16, groups[g]};
    compile_sm90a(&key, &(fpx__wgmma_config){128, 5, 1, 0, 0, 0});
    fpx__wo_key key8 = {{2, 3}, FPX_DTYPE_E4M3, FPX_DTYPE_BF16, groups[g]};
    compile_sm90a(&key8, &(fpx__wgmma_config){64, 4, 1, 0, 0, 0});
  }
}

/* 16-bit Y stored from registers (y_direct: the instances the launcher
 * takes where TMA cannot store Y), beside the TMA-store instances the
 * other tests compile: 64, 128 and 256 tokens, FP8 and 16-bit X, group
 * scales. */
Test(wgmma_compile, direct_y_stores_sm_90a, .timeout = 900) {
  const fpx__wo_key w8a8 = {{4, 3}, FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0};
  compile_sm90a(&w8a8, &(fpx__wgmma_config){256, 4, 1, 0, 0, 1});
  const fpx__wo_key e3m2 = {{3, 2}, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0};
  compile_sm90a(&e3m2, &(fpx__wgmma_config){256, 6, 1, 0, 0, 1});
  const fpx__wo_key e2m1 = {{2, 1}, FPX_DTYPE_F16, FPX_DTYPE_F16, 128};
  compile_sm90a(&e2m1, &(fpx__wgmma_config){128, 4, 1, 0, 0, 1});
  compile_sm90a(&e2m1, &(fpx__wgmma_config){64, 6, 1, 0, 0, 1});
}

/* ---- configuration rules ---------------------------------------------- */

Test(wgmma_config, names_and_ids) {
  fpx__wo_key key = {{3, 2}, FPX_DTYPE_E4M3, FPX_DTYPE_F32, 128};
  fpx__wgmma_config cfg = {128, 5, 1, 0, 0, 0};
  char name[FPX__NAME_EXPR_MAX];
  fpx__wgmma_gemm_name(&key, &cfg, name);
  cr_assert_str_eq(name, "fpx::wgmma_gemm<3,2,2,2,128,128,5,0>"); /* f32 Y: no TMA stores */
  {
    fpx__wo_key k16 = key;
    k16.y_dtype = FPX_DTYPE_BF16;
    fpx__wgmma_config direct = cfg;
    fpx__wgmma_gemm_name(&k16, &cfg, name);
    cr_assert_str_eq(name, "fpx::wgmma_gemm<3,2,2,1,128,128,5,1>");
    direct.y_direct = 1;
    fpx__wgmma_gemm_name(&k16, &direct, name);
    cr_assert_str_eq(name, "fpx::wgmma_gemm<3,2,2,1,128,128,5,0>");
    cr_assert_neq(fpx__wgmma_gemm_id(&k16, &cfg), fpx__wgmma_gemm_id(&k16, &direct));
  }
  cr_assert_eq(fpx__wgmma_gemm_id(&key, &cfg) >> 40, 5, "family 5 from bit 40");
  /* ring, barriers, alignment slack, then the epilogue tile where it fits */
  cr_assert_eq(fpx__wgmma_smem_bytes(&cfg), 5 * 128 * 128 + 16 * 5 + 1024 + 128 * 256);
  const fpx__wgmma_config with_tile = {256, 4, 1, 0, 0, 0}, ring_only = {256, 6, 1, 0, 0, 0};
  cr_assert_eq(fpx__wgmma_smem_bytes(&with_tile), 4 * 256 * 128 + 16 * 4 + 1024 + 256 * 256);
  cr_assert_eq(fpx__wgmma_smem_bytes(&ring_only), 6 * 256 * 128 + 16 * 6 + 1024,
               "256 tokens x 6 stages leave no room for the tile: it overlays the ring");
}

Test(wgmma_config, ids_are_distinct_and_never_weight_only_ids) {
  static uint64_t ids[2 * 4 * 3 * 5 * 3 * 7];
  static char names[sizeof ids / sizeof ids[0]][FPX__NAME_EXPR_MAX];
  static const fpx_format formats[] = {{3, 2}, {2, 3}};
  static const int groups[] = {0, 32, 64, 128, 256};
  static const fpx_dtype outs[] = {FPX_DTYPE_F16, FPX_DTYPE_BF16, FPX_DTYPE_F32};
  size_t count = 0;
  for (size_t f = 0; f < 2; f++)
    for (size_t a = 0; a < 4; a++)
      for (size_t o = 0; o < 3; o++)
        for (size_t g = 0; g < 5; g++)
          for (int tokens = 64; tokens <= 256; tokens *= 2)
            for (int stages = 2; stages <= 8; stages++) {
              fpx__wo_key key = {formats[f], acts[a], outs[o], groups[g]};
              fpx__wgmma_config cfg = {tokens, stages, 1, 0, 0, 0};
              fpx__wgmma_gemm_name(&key, &cfg, names[count]);
              ids[count++] = fpx__wgmma_gemm_id(&key, &cfg);
              fpx_wo_config wo = {4, 1, tokens / 64, 1, 0, 0, 0};
              cr_assert_neq(fpx__wgmma_gemm_id(&key, &cfg), fpx__wo_gemm_id(&key, &wo));
            }
  for (size_t i = 0; i < count; i++)
    for (size_t j = i + 1; j < count; j++) {
      cr_assert_neq(ids[i], ids[j], "%s and %s share an id", names[i], names[j]);
      cr_assert_str_neq(names[i], names[j]);
    }
}

Test(wgmma_config, invalid_configs_name_the_value) {
  fpx__wo_key key = {{3, 2}, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0};
  fpx__wgmma_config c = {96, 4, 1, 0, 0, 0};
  cr_assert_eq(fpx__wgmma_config_check(&key, &c), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "tokens 96") != NULL, "%s", fpx_last_error());
  c = (fpx__wgmma_config){128, 1, 1, 0, 0, 0};
  cr_assert_eq(fpx__wgmma_config_check(&key, &c), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "stages 1") != NULL, "%s", fpx_last_error());
  c = (fpx__wgmma_config){256, 8, 1, 0, 0, 0}; /* 256 KB of ring */
  cr_assert_eq(fpx__wgmma_config_check(&key, &c), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "shared memory") != NULL, "%s", fpx_last_error());
  c = (fpx__wgmma_config){256, 7, 1, 0, 0, 0};
  cr_assert_eq(fpx__wgmma_config_check(&key, &c), FPX_OK, "%s", fpx_last_error());
  key.group_size = 64;
  cr_assert_eq(fpx__wgmma_config_check(&key, &c), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "group_size 64") != NULL, "%s", fpx_last_error());
  cr_assert_eq(fpx__wgmma_config_check(&key, NULL), FPX_ERR_INVALID_ARGUMENT);
}

Test(wgmma_config, keys_the_family_cannot_compute_are_rejected) {
  fpx__wo_key key = {{5, 1}, FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0};
  cr_assert_eq(fpx__wgmma_key_check(&key), FPX_ERR_UNSUPPORTED_FORMAT);
  cr_assert(strstr(fpx_last_error(), "e5m1") != NULL, "%s", fpx_last_error());
  key.x_dtype = FPX_DTYPE_F16;
  cr_assert_eq(fpx__wgmma_key_check(&key), FPX_ERR_UNSUPPORTED_FORMAT);
  key.x_dtype = FPX_DTYPE_BF16;
  cr_assert_eq(fpx__wgmma_key_check(&key), FPX_OK, "%s", fpx_last_error());
  key = (fpx__wo_key){{1, 6}, FPX_DTYPE_E5M2, FPX_DTYPE_BF16, 0}; /* M = 6 > 3 */
  cr_assert_eq(fpx__wgmma_key_check(&key), FPX_ERR_UNSUPPORTED_FORMAT);
  key = (fpx__wo_key){{3, 2}, FPX_DTYPE_F32, FPX_DTYPE_BF16, 0};
  cr_assert_eq(fpx__wgmma_key_check(&key), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "x_dtype f32") != NULL, "%s", fpx_last_error());
  key = (fpx__wo_key){{3, 2}, FPX_DTYPE_BF16, FPX_DTYPE_E4M3, 0};
  cr_assert_eq(fpx__wgmma_key_check(&key), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "y_dtype e4m3") != NULL, "%s", fpx_last_error());
  key = (fpx__wo_key){{3, 2}, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 48};
  cr_assert_eq(fpx__wgmma_key_check(&key), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "group_size 48") != NULL, "%s", fpx_last_error());
  key = (fpx__wo_key){{0, 3}, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0};
  cr_assert_eq(fpx__wgmma_key_check(&key), FPX_ERR_UNSUPPORTED_FORMAT);
  cr_assert_eq(fpx__wgmma_key_check(NULL), FPX_ERR_INVALID_ARGUMENT);
}

Test(wgmma_config, launcher_rejects_a_missing_context) {
  fpx__wo_key key = {{3, 2}, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0};
  fpx__wgmma_config cfg = {128, 4, 1, 0, 0, 0};
  fpx_gemm_args args = {sizeof args, NULL, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 1, 0, 0, NULL, 0, 0};
  cr_assert_eq(fpx__wgmma_gemm_launch(NULL, &key, &cfg, &args, NULL), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "ctx is NULL") != NULL, "%s", fpx_last_error());
}

/* The X permutation pass compiles for every architecture the library
 * targets (it has no Hopper-only code): one instance per X element size,
 * and for FP8 X one more with the middle bytes of each word swapped (weights
 * below 8 bits), with their own names and ids. */
Test(wgmma_compile, permute_pass_every_arch, .timeout = 900) {
  static const char *archs[] = {"sm_80", "sm_89", "sm_90a"};
  static const fpx__wo_key keys[] = {{{3, 2}, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0},
                                     {{4, 3}, FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0},
                                     {{3, 2}, FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0}};
  static const char *expected[] = {"fpx::wgmma_permute_x<2,0>", "fpx::wgmma_permute_x<1,0>",
                                   "fpx::wgmma_permute_x<1,1>"};
  for (size_t a = 0; a < 3; a++)
    for (size_t x = 0; x < 3; x++) {
      char name[FPX__NAME_EXPR_MAX];
      fpx__wgmma_permute_name(&keys[x], name);
      cr_assert_str_eq(name, expected[x]);
      fpx__cubin cubin;
      const fpx_status st = fpx__compile(FPX__TEMPLATE_WGMMA, name, archs[a], &cubin);
      cr_assert_eq(st, FPX_OK, "%s for %s: %s", name, archs[a], fpx_last_error());
      cr_assert_gt(cubin.size, 0);
      fpx__cubin_free(&cubin);
    }
  /* f16 and bf16 X share the 16-bit pass; the weight format matters only
   * with FP8 X: e5m2 (8 bits) takes the plain FP8 pass, e2m1 the swapped */
  const fpx__wo_key f16 = {{2, 1}, FPX_DTYPE_F16, FPX_DTYPE_F16, 0};
  const fpx__wo_key e5m2 = {{5, 2}, FPX_DTYPE_E5M2, FPX_DTYPE_BF16, 0};
  const fpx__wo_key e2m1 = {{2, 1}, FPX_DTYPE_E5M2, FPX_DTYPE_BF16, 0};
  cr_assert_eq(fpx__wgmma_permute_id(&f16), fpx__wgmma_permute_id(&keys[0]));
  cr_assert_eq(fpx__wgmma_permute_id(&e5m2), fpx__wgmma_permute_id(&keys[1]));
  cr_assert_eq(fpx__wgmma_permute_id(&e2m1), fpx__wgmma_permute_id(&keys[2]));
  cr_assert_neq(fpx__wgmma_permute_id(&keys[0]), fpx__wgmma_permute_id(&keys[1]));
  cr_assert_neq(fpx__wgmma_permute_id(&keys[1]), fpx__wgmma_permute_id(&keys[2]));
  cr_assert_neq(fpx__wgmma_permute_id(&keys[0]), fpx__wgmma_permute_id(&keys[2]));
  for (size_t x = 0; x < 3; x++)
    cr_assert_eq(fpx__wgmma_permute_id(&keys[x]) >> 40, 6, "family 6 from bit 40");
}
