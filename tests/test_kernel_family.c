/*
 * test_kernel_family.c - the wgmma family as a configuration next to
 * mma.sync (fpx_wo_config.kernel = 1): validity, text, ids, the automatic
 * choice, the tuner's candidates and staged search, the database (schema
 * migration, JSON round trip, old files) and the lookup order (an exact
 * winner runs as stored, a fallback gets the automatic choice). No GPU.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache_support.h"
#include "candidates.h"
#include "config.h"
#include "context.h"
#include "wgmma_config.h"

static const fpx__wo_key bf16_key = {{3, 2}, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0};

static fpx_wo_config wgmma(int tokens, int stages) {
  return (fpx_wo_config){.kernel = 1, .tokens = tokens, .stages = stages};
}

/* ---- configuration ------------------------------------------------------ */

Test(kernel_family, wgmma_configs_are_checked_by_the_wgmma_rules) {
  static const int tokens[] = {64, 128, 256}, stages[] = {2, 4, 8};
  for (size_t t = 0; t < 3; t++)
    for (size_t s = 0; s < 3; s++) {
      const fpx_wo_config c = wgmma(tokens[t], stages[s]);
      if (tokens[t] == 256 && stages[s] == 8) { /* the ring exceeds 227 KB */
        cr_assert_eq(fpx__wo_config_check(&c), FPX_ERR_INVALID_ARGUMENT);
        cr_assert(contains(fpx_last_error(), "shared memory"), "%s", fpx_last_error());
        continue;
      }
      cr_assert_eq(fpx__wo_config_check(&c), FPX_OK, "%d/%d: %s", tokens[t], stages[s],
                   fpx_last_error());
    }
  fpx_wo_config c = wgmma(96, 4);
  cr_assert_eq(fpx__wo_config_check(&c), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "tokens 96"), "%s", fpx_last_error());
  c = wgmma(128, 9);
  cr_assert_eq(fpx__wo_config_check(&c), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "stages 9"), "%s", fpx_last_error());
  c = wgmma(0, 0);
  cr_assert_eq(fpx__wo_config_check(&c), FPX_ERR_INVALID_ARGUMENT);
  /* the mma.sync tile fields are ignored for kernel 1; split_k counts
   * (0 means 1, for configurations written before wgmma had split-K) */
  c = wgmma(128, 4);
  c.warps_n = 3;
  cr_assert_eq(fpx__wo_config_check(&c), FPX_OK, "%s", fpx_last_error());
  c.split_k = 64;
  cr_assert_eq(fpx__wo_config_check(&c), FPX_OK, "%s", fpx_last_error());
  c.split_k = 65;
  cr_assert_eq(fpx__wo_config_check(&c), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "split_k 65"), "%s", fpx_last_error());
  c.split_k = -2;
  cr_assert_eq(fpx__wo_config_check(&c), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "split_k -2"), "%s", fpx_last_error());
  /* stream-K: wgmma only */
  c.split_k = FPX_SPLIT_K_STREAM;
  cr_assert_eq(fpx__wo_config_check(&c), FPX_OK, "%s", fpx_last_error());
  c.kernel = 0;
  c.warps_n = 4, c.warps_k = 1, c.m_tiles = 1;
  cr_assert_eq(fpx__wo_config_check(&c), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "split_k -1"), "%s", fpx_last_error());
}

Test(kernel_family, wgmma_split_k_in_text_equality_and_ids) {
  char text[48];
  fpx_wo_config a = wgmma(64, 4), b = wgmma(64, 4);
  b.split_k = 1;
  cr_assert(fpx__wo_config_equal(&a, &b), "split_k 0 and 1 are the same launch");
  fpx__wo_config_text(&b, text, sizeof text);
  cr_assert_str_eq(text, "wgmma:64/4");
  b.split_k = 3;
  cr_assert(!fpx__wo_config_equal(&a, &b));
  fpx__wo_config_text(&b, text, sizeof text);
  cr_assert_str_eq(text, "wgmma:64/4/3");
  b.split_k = FPX_SPLIT_K_STREAM;
  cr_assert(!fpx__wo_config_equal(&a, &b));
  fpx__wo_config_text(&b, text, sizeof text);
  cr_assert_str_eq(text, "wgmma:64/4/sk");
  b.split_k = 3;
  /* split-K is a launch parameter: the same compiled instance */
  cr_assert_eq(fpx__wo_gemm_id(&bf16_key, &a), fpx__wo_gemm_id(&bf16_key, &b));
  const fpx__wgmma_config w1 = {64, 4, 1, 0, 0, 0}, w3 = {64, 4, 3, 0, 0, 0};
  cr_assert_eq(fpx__wgmma_partial_bytes(&w1, 4096), 0);
  /* 3 splits x 32 row tiles x 64 tokens x 128 rows x 4 bytes */
  cr_assert_eq(fpx__wgmma_partial_bytes(&w3, 4096), (size_t)3 * 32 * 64 * 128 * 4);
  cr_assert_eq(fpx__wgmma_partial_bytes(&w3, 4097), (size_t)3 * 33 * 64 * 128 * 4);
}

/* The wgmma tile order: token tiles per group from the traffic balance
 * sqrt(blocks x 128 x weight bytes / (tokens x X bytes)), to the nearest
 * power of two in ratio, within 1 .. the launch's token tiles; 1 for
 * stream-K without whole tiles; an explicit raster rounded the same way. */
/* 16-bit Y through TMA stores only where TMA can store it; each chunk of
 * tokens starts n x 2 x (a multiple of 64) bytes after Y, so the check of
 * Y's own address covers them all */
Test(kernel_family, wgmma_y_direct_where_tma_cannot_store_y) {
  fpx__wgmma_config c = {256, 4, 1, 0, 0, 0};
  cr_assert_eq(fpx__wgmma_y_direct(&c, 4096, 0x7f0000000000ull), 0);
  cr_assert_eq(fpx__wgmma_y_direct(&c, 8, 0x7f0000000010ull), 0);
  cr_assert_eq(fpx__wgmma_y_direct(&c, 4100, 0x7f0000000000ull), 1); /* rows 8200 bytes apart */
  cr_assert_eq(fpx__wgmma_y_direct(&c, 1, 0x7f0000000000ull), 1);
  cr_assert_eq(fpx__wgmma_y_direct(&c, 4096, 0x7f0000000008ull), 1); /* 8-byte aligned only */
  cr_assert_eq(fpx__wgmma_y_direct(&c, 4096, 0x7f0000000002ull), 1);
  c.y_direct = 1;
  cr_assert_eq(fpx__wgmma_y_direct(&c, 4096, 0x7f0000000000ull), 1);
}

Test(kernel_family, wgmma_raster_balances_weight_and_x_traffic) {
  fpx__wgmma_config c = {256, 4, 1, 0, 0, 0};
  cr_assert_eq(fpx__wgmma_raster(&c, 8, 1, 132, 4096, 8192), 8); /* W8A8: sqrt(66) = 8.1 */
  cr_assert_eq(fpx__wgmma_raster(&c, 6, 1, 132, 4096, 8192), 8); /* W6A8: sqrt(49.5) = 7.04 */
  cr_assert_eq(fpx__wgmma_raster(&c, 6, 2, 132, 4096, 8192), 4); /* e3m2 x BF16: sqrt(24.75) = 4.97 */
  cr_assert_eq(fpx__wgmma_raster(&c, 4, 2, 132, 4096, 8192), 4); /* e2m1 x BF16: sqrt(16.5) = 4.06 */
  cr_assert_eq(fpx__wgmma_raster(&c, 8, 1, 132, 4096, 512), 2);  /* two token tiles */
  cr_assert_eq(fpx__wgmma_raster(&c, 8, 1, 132, 4096, 1000), 4); /* four token tiles */
  cr_assert_eq(fpx__wgmma_raster(&c, 8, 1, 132, 4096, 600), 2);  /* three: a power of two within */
  cr_assert_eq(fpx__wgmma_raster(&c, 8, 1, 132, 4096, 1), 1);
  cr_assert_eq(fpx__wgmma_raster(&c, 8, 1, 1, 4096, 8192), 1);   /* one block: sqrt(0.5) */
  c.tokens = 64;
  cr_assert_eq(fpx__wgmma_raster(&c, 8, 1, 132, 4096, 8192), 16); /* sqrt(264) = 16.2 */
  c.raster = 3;
  cr_assert_eq(fpx__wgmma_raster(&c, 8, 1, 132, 4096, 8192), 4);
  c.raster = 100;
  cr_assert_eq(fpx__wgmma_raster(&c, 8, 1, 132, 4096, 1000), 16); /* 16 token tiles of 64 */
  /* stream-K: grouped only with whole tiles (at least 2 x blocks tiles) */
  c = (fpx__wgmma_config){256, 4, FPX_SPLIT_K_STREAM, 0, 0, 0};
  cr_assert_eq(fpx__wgmma_raster(&c, 8, 1, 132, 10240, 512), 1);  /* 80 x 2 tiles */
  cr_assert_eq(fpx__wgmma_raster(&c, 8, 1, 132, 28672, 512), 2);  /* 224 x 2 */
  cr_assert_eq(fpx__wgmma_raster(&c, 8, 1, 132, 16896, 512), 2);  /* 132 x 2 = 2 x 132 */
  cr_assert_eq(fpx__wgmma_raster(&c, 8, 1, 132, 16768, 512), 1);  /* 131 x 2 < 2 x 132 */
  cr_assert_eq(fpx__wgmma_raster(&c, 8, 1, 132, 4096, 8192), 8);  /* 32 x 32 */
  c.raster = 2;
  cr_assert_eq(fpx__wgmma_raster(&c, 8, 1, 132, 10240, 512), 2);
  c.raster = -1;
  cr_assert_eq(fpx__wgmma_config_check(NULL, &c), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "raster -1") != NULL, "%s", fpx_last_error());
}

Test(kernel_family, unknown_kernel_is_rejected_by_name) {
  fpx_wo_config c = {4, 1, 1, 1, 2, 0, 0};
  cr_assert_eq(fpx__wo_config_check(&c), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "kernel 2"), "%s", fpx_last_error());
  c.kernel = -1;
  cr_assert_eq(fpx__wo_config_check(&c), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "kernel -1"), "%s", fpx_last_error());
}

Test(kernel_family, mma_sync_configs_ignore_tokens_and_stages) {
  fpx_wo_config c = {4, 1, 2, 3, 0, 0, 0};
  cr_assert_eq(fpx__wo_config_check(&c), FPX_OK);
  c.tokens = 7;
  c.stages = 99;
  cr_assert_eq(fpx__wo_config_check(&c), FPX_OK, "%s", fpx_last_error());
  c.warps_n = 3;
  cr_assert_eq(fpx__wo_config_check(&c), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "warps_n 3"), "%s", fpx_last_error());
}

Test(kernel_family, text_names_and_ids) {
  char text[48], name[FPX__NAME_EXPR_MAX], wname[FPX__NAME_EXPR_MAX];
  const fpx_wo_config m = {4, 1, 2, 3, 0, 0, 0}, w = wgmma(128, 4);
  fpx__wo_config_text(&m, text, sizeof text);
  cr_assert_str_eq(text, "4/1/2/3");
  fpx__wo_config_text(&w, text, sizeof text);
  cr_assert_str_eq(text, "wgmma:128/4");
  const fpx__wgmma_config wc = {128, 4, 1, 0, 0, 0};
  fpx__wo_gemm_name(&bf16_key, &w, name);
  fpx__wgmma_gemm_name(&bf16_key, &wc, wname);
  cr_assert_str_eq(name, wname);
  cr_assert_eq(fpx__wo_gemm_id(&bf16_key, &w), fpx__wgmma_gemm_id(&bf16_key, &wc));
  cr_assert_neq(fpx__wo_gemm_id(&bf16_key, &w), fpx__wo_gemm_id(&bf16_key, &m));
  const fpx_wo_config w2 = wgmma(128, 6);
  cr_assert_neq(fpx__wo_gemm_id(&bf16_key, &w), fpx__wo_gemm_id(&bf16_key, &w2));
  cr_assert(fpx__wo_config_equal(&w, &w));
  cr_assert(!fpx__wo_config_equal(&w, &w2));
  cr_assert(!fpx__wo_config_equal(&w, &m));
}

Test(kernel_family, automatic_choice_follows_the_thresholds) {
  fpx_wo_config c = {0};
  cr_assert(!fpx__wgmma_auto_config(89, 132, &bf16_key, 4096, 4096, 4096, &c));
  cr_assert(!fpx__wgmma_auto_config(90, 132, &bf16_key, 31, 4096, 4096, &c));
  cr_assert(fpx__wgmma_auto_config(90, 132, &bf16_key, 32, 4096, 4096, &c));
  cr_assert(c.kernel == 1 && c.tokens == 64);
  cr_assert(fpx__wgmma_auto_config(90, 132, &bf16_key, 64, 4096, 4096, &c));
  /* 32 blocks of 64 tokens, 16 column blocks: split 4 fills 128 SMs */
  cr_assert(c.kernel == 1 && c.tokens == 64 && c.stages == 6 && c.split_k == 4);
  /* M = 128: 64 blocks of 64 tokens at split 2 (one wave of 8 + 5 column
   * blocks at 0.68) against 32 blocks of 128 at split 4 (4 + 5): 64 tokens */
  cr_assert(fpx__wgmma_auto_config(90, 132, &bf16_key, 128, 4096, 4096, &c));
  cr_assert(c.tokens == 64 && c.split_k == 2, "%d/%d", c.tokens, c.split_k);
  cr_assert(fpx__wgmma_auto_config(90, 132, &bf16_key, 128, 8192, 8192, &c));
  /* 64 blocks of 128 tokens: split 2 */
  cr_assert(c.tokens == 128 && c.split_k == 2);
  cr_assert(fpx__wgmma_auto_config(90, 132, &bf16_key, 512, 4096, 4096, &c));
  /* 128 blocks of 128 tokens, no split (16 + 5), against 64 of 256 at
   * split 2 ((8 + 5) x 1.55, not 5% less): 128 tokens */
  cr_assert(c.tokens == 128 && c.split_k == 1);
  /* K = 14336: 128 tokens (56 + 5) against 256 at split 2 ((28 + 5) x 1.55) */
  cr_assert(fpx__wgmma_auto_config(90, 132, &bf16_key, 512, 4096, 14336, &c));
  cr_assert(c.tokens == 256 && c.split_k == 2, "%d/%d", c.tokens, c.split_k);
  cr_assert(fpx__wgmma_auto_config(90, 132, &bf16_key, 512, 6144, 4096, &c));
  /* 96 blocks: one wave at 73%; splitting 16 column blocks costs more
   * waves of fixed cost than it saves */
  cr_assert(c.tokens == 256 && c.split_k == 1, "%d/%d", c.tokens, c.split_k);
  cr_assert(fpx__wgmma_auto_config(90, 132, &bf16_key, 2048, 4096, 4096, &c));
  cr_assert_eq(c.tokens, 256);
  const fpx__wo_key grouped = {{3, 2}, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 128};
  cr_assert(fpx__wgmma_auto_config(90, 132, &grouped, 4096, 4096, 4096, &c));
  cr_assert_eq(c.tokens, 128);
  /* FP8 X: the same threshold and model (the tuned W8A8 winners at M = 32
   * and 64 are 64-token tiles at these splits) */
  const fpx__wo_key fp8 = {{4, 3}, FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0};
  cr_assert(!fpx__wgmma_auto_config(90, 132, &fp8, 31, 4096, 4096, &c));
  cr_assert(fpx__wgmma_auto_config(90, 132, &fp8, 32, 4096, 4096, &c));
  cr_assert(c.tokens == 64 && c.stages == 6 && c.split_k == 4, "%d/%d/%d", c.tokens, c.stages,
            c.split_k);
  cr_assert(fpx__wgmma_auto_config(90, 132, &fp8, 128, 4096, 4096, &c));
  cr_assert(c.tokens == 64 && c.split_k == 2, "%d/%d", c.tokens, c.split_k);
  /* the split keeps two 256-column blocks each: K = 1024 allows 2 */
  cr_assert(fpx__wgmma_auto_config(90, 132, &fp8, 128, 4096, 1024, &c));
  cr_assert_eq(c.split_k, 2);
  /* one block: many splits, at most 64, at most one per two column blocks */
  cr_assert(fpx__wgmma_auto_config(90, 132, &fp8, 128, 128, 65536, &c));
  cr_assert(c.split_k >= 32 && c.split_k <= 64, "split %d", c.split_k);
  cr_assert(fpx__wgmma_auto_config(90, 132, &fp8, 128, 128, 4096, &c));
  cr_assert_eq(c.split_k, 8);
  /* 256 tokens: 160 tiles take 2 waves of 132 x (32 + 5); split 2: 3
   * waves of 16 + 5 = 63; 128 tokens at split 2: 5 waves of 16 + 5.
   * Stream-K: 160 x 32 / 132 = 38.8 column blocks + 5 x (1 + 160 / 132)
   * = 49.9, under 0.95 x 63: stream-K instead of the split */
  cr_assert(fpx__wgmma_auto_config(90, 132, &bf16_key, 512, 10240, 8192, &c));
  cr_assert(c.tokens == 256 && c.split_k == FPX_SPLIT_K_STREAM, "%d/%d", c.tokens, c.split_k);
  /* 448 tiles: 4 x (16 + 5) = 84 against 54.3 + 5 x 4.39 = 76.3: stream-K */
  cr_assert(fpx__wgmma_auto_config(90, 132, &bf16_key, 512, 28672, 4096, &c));
  cr_assert(c.tokens == 256 && c.split_k == FPX_SPLIT_K_STREAM, "%d/%d", c.tokens, c.split_k);
  /* 896 tiles: 7 x 37 = 259 against 217.2 + 5 x 7.79 = 256.2: no stream-K */
  cr_assert(fpx__wgmma_auto_config(90, 132, &bf16_key, 512, 57344, 8192, &c));
  cr_assert(c.tokens == 256 && c.split_k == 1, "%d/%d", c.tokens, c.split_k);
  /* 3584 tiles (27.2 waves): neither a split nor stream-K pays */
  cr_assert(fpx__wgmma_auto_config(90, 132, &bf16_key, 2048, 57344, 8192, &c));
  cr_assert(c.tokens == 256 && c.split_k == 1);
  /* 640 tiles, 4.85 waves: 5 x 37 = 185 against 155.2 + 5 x 5.85 = 184.4 */
  cr_assert(fpx__wgmma_auto_config(90, 132, &bf16_key, 2048, 10240, 8192, &c));
  cr_assert(c.tokens == 256 && c.split_k == 1, "%d/%d", c.tokens, c.split_k);
}

Test(kernel_family, wgmma_auto_config_stream_k_at_small_m) {
  fpx_wo_config c;
  /* 64 tokens, 448 tiles: 4 waves of 32 + 5 = 148 against 108.6 + 5 x
   * 4.39 = 130.6: stream-K */
  cr_assert(fpx__wgmma_auto_config(90, 132, &bf16_key, 64, 57344, 8192, &c));
  cr_assert(c.tokens == 64 && c.split_k == FPX_SPLIT_K_STREAM, "%d/%d", c.tokens, c.split_k);
  /* 80 tiles at split 3: 2 waves of 10.7 + 5 = 31.3 against 19.4 + 5 x
   * 1.61 = 27.4: stream-K; the same with FP8 X */
  cr_assert(fpx__wgmma_auto_config(90, 132, &bf16_key, 64, 10240, 8192, &c));
  cr_assert(c.tokens == 64 && c.split_k == FPX_SPLIT_K_STREAM, "%d/%d", c.tokens, c.split_k);
  const fpx__wo_key fp8 = {{4, 3}, FPX_DTYPE_E4M3, FPX_DTYPE_BF16, 0};
  cr_assert(fpx__wgmma_auto_config(90, 132, &fp8, 64, 10240, 8192, &c));
  cr_assert(c.tokens == 64 && c.split_k == FPX_SPLIT_K_STREAM, "%d/%d", c.tokens, c.split_k);
  /* 224 tiles: 2 waves of 16 + 5 = 42 against 27.2 + 5 x 2.70 = 40.7,
   * not 5% less (a tie in the sweep): no stream-K */
  cr_assert(fpx__wgmma_auto_config(90, 132, &bf16_key, 64, 28672, 4096, &c));
  cr_assert(c.tokens == 64 && c.split_k == 1, "%d/%d", c.tokens, c.split_k);
  /* 48 tiles (8b qkv), 64 tiles (70b down at M = 128): fewer than half
   * the SMs, so every tile would have several contributors (stream-K lost
   * there): the split */
  cr_assert(fpx__wgmma_auto_config(90, 132, &bf16_key, 64, 6144, 4096, &c));
  cr_assert(c.tokens == 64 && c.split_k == 2, "%d/%d", c.tokens, c.split_k);
  cr_assert(fpx__wgmma_auto_config(90, 132, &bf16_key, 128, 8192, 28672, &c));
  cr_assert(c.tokens == 128 && c.split_k == 2, "%d/%d", c.tokens, c.split_k);
  /* one tile: a split, never stream-K (132 contributors to one sum) */
  cr_assert(fpx__wgmma_auto_config(90, 132, &bf16_key, 64, 128, 65536, &c));
  cr_assert(c.split_k >= 2 && c.split_k <= 64, "split %d", c.split_k);
}

/* ---- candidates and the staged search ----------------------------------- */

static size_t count_wgmma(const fpx_wo_config *c, size_t count) {
  size_t w = 0;
  for (size_t i = 0; i < count; i++) w += c[i].kernel == 1;
  return w;
}

Test(kernel_family, candidates_add_wgmma_on_sm_90_from_m_64) {
  static fpx_wo_config c[FPX__TUNE_MAX_CANDIDATES], base[FPX__TUNE_MAX_CANDIDATES];
  const size_t nb = fpx__wo_candidates(64, 4096, 4096, 132, base, FPX__TUNE_MAX_CANDIDATES);
  size_t n = fpx__gemm_candidates(&bf16_key, 64, 4096, 4096, 132, 90, c, FPX__TUNE_MAX_CANDIDATES);
  /* M = 64: 64 tokens only; 32 blocks; split-K 1, 2, 3, 4, 5, 6, 8 (each
   * split keeps 2 of the 16 column blocks, 32 x (split - 1) < 2 x 132),
   * then stream-K: 8 per stage count */
  cr_assert_eq(n, nb + 24);
  cr_assert_eq(memcmp(c, base, nb * sizeof *c), 0, "the mma.sync candidates come first, unchanged");
  for (size_t i = nb; i < n; i++) {
    cr_assert_eq(c[i].kernel, 1);
    cr_assert_eq(c[i].tokens, 64);
    cr_assert(c[i].stages == 3 || c[i].stages == 4 || c[i].stages == 6);
    cr_assert((c[i].split_k >= 1 && c[i].split_k <= 8) || c[i].split_k == FPX_SPLIT_K_STREAM);
    /* split-K ascending within a tile, from 1, then stream-K */
    if (i + 1 == n || c[i + 1].stages != c[i].stages) cr_assert_eq(c[i].split_k, FPX_SPLIT_K_STREAM);
    else if (i > nb && c[i].stages == c[i - 1].stages) cr_assert_gt(c[i].split_k, c[i - 1].split_k);
    else cr_assert_eq(c[i].split_k, 1);
    cr_assert_eq(fpx__wo_config_check(&c[i]), FPX_OK);
  }
  /* group scales: no 256-token configurations; M = 1024 (at most 8 waves
   * of 132): 64 tokens (512 blocks, split 1 and 2) and 128 tokens (256
   * blocks, split 1 to 4), each with stream-K */
  const fpx__wo_key grouped = {{3, 2}, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 64};
  n = fpx__gemm_candidates(&grouped, 1024, 4096, 4096, 132, 90, c, FPX__TUNE_MAX_CANDIDATES);
  cr_assert_eq(count_wgmma(c, n), 24);
  for (size_t i = 0; i < n; i++) cr_assert(c[i].kernel == 0 || c[i].tokens <= 128);
  /* M = 4096 with per-row scales: all three token widths; only 256 tokens
   * (512 blocks) splits, in 2; every tile with stream-K */
  n = fpx__gemm_candidates(&bf16_key, 4096, 4096, 4096, 132, 90, c, FPX__TUNE_MAX_CANDIDATES);
  cr_assert_eq(count_wgmma(c, n), 21);
  for (size_t i = 0; i < n; i++)
    cr_assert(c[i].kernel == 0 || c[i].split_k == 1 || c[i].split_k == FPX_SPLIT_K_STREAM ||
              (c[i].tokens == 256 && c[i].split_k == 2));
}

Test(kernel_family, candidates_elsewhere_are_unchanged) {
  static fpx_wo_config c[FPX__TUNE_MAX_CANDIDATES], base[FPX__TUNE_MAX_CANDIDATES];
  static const struct { size_t m; int sm; } cases[] = {{FPX__WGMMA_CANDIDATE_MIN_M - 1, 90}, {1, 90}, {4096, 89}, {4096, 80}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const size_t nb = fpx__wo_candidates(cases[i].m, 4096, 4096, 132, base, FPX__TUNE_MAX_CANDIDATES);
    const size_t n = fpx__gemm_candidates(&bf16_key, cases[i].m, 4096, 4096, 132, cases[i].sm, c,
                                          FPX__TUNE_MAX_CANDIDATES);
    cr_assert_eq(n, nb, "M %zu sm_%d", cases[i].m, cases[i].sm);
    cr_assert_eq(memcmp(c, base, n * sizeof *c), 0);
  }
  /* a key the wgmma family rejects gets none */
  const fpx__wo_key bad = {{3, 2}, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 48};
  const size_t n = fpx__gemm_candidates(&bad, 1024, 4096, 4096, 132, 90, c, FPX__TUNE_MAX_CANDIDATES);
  cr_assert_eq(count_wgmma(c, n), 0);
  /* the cap holds */
  cr_assert_eq(fpx__gemm_candidates(&bf16_key, 1024, 4096, 4096, 132, 90, c, 5), 5);
}

Test(kernel_family, staged_search_splits_wgmma_tiles_like_mma_sync_tiles) {
  static fpx_wo_config c[FPX__TUNE_MAX_CANDIDATES];
  static size_t idx1[FPX__TUNE_MAX_CANDIDATES], idx2[FPX__TUNE_MAX_CANDIDATES];
  static double us1[FPX__TUNE_MAX_CANDIDATES];
  const size_t n = fpx__gemm_candidates(&bf16_key, 64, 4096, 4096, 132, 90, c, FPX__TUNE_MAX_CANDIDATES);
  const size_t n1 = fpx__tune_stage1(c, n, 64, 4096, 132, idx1);
  size_t w1 = 0;
  for (size_t i = 0; i < n1; i++) {
    const fpx_wo_config *s = &c[idx1[i]];
    if (s->kernel == 1) {
      w1++;
      /* split 1, and the one that fills the SMs best: stream-K (exactly
       * one block per SM) */
      cr_assert(s->split_k == 1 || s->split_k == FPX_SPLIT_K_STREAM, "split %d", s->split_k);
    }
    us1[i] = s->kernel == 1 ? 1.0 : 10.0; /* wgmma fastest */
  }
  cr_assert_eq(w1, 6, "3 wgmma tiles x (split 1, stream-K)");
  /* stage 2: the other splits of the fastest tiles, the 3 wgmma tiles first */
  const size_t n2 = fpx__tune_stage2(c, n, idx1, us1, n1, idx2);
  size_t w2 = 0;
  for (size_t i = 0; i < n2; i++) {
    for (size_t j = 0; j < n1; j++) cr_assert_neq(idx2[i], idx1[j], "measured twice");
    w2 += c[idx2[i]].kernel == 1;
  }
  cr_assert_eq(w2, 18, "3 tiles x the 6 splits stage 1 left");
}

static double wgmma_256_fastest(void *user, const fpx_wo_config *c) {
  (void)user;
  if (c->kernel == 1) return c->tokens == 256 && c->stages == 4 ? 1.0 : 2.0;
  return 5.0 + c->split_k;
}

Test(kernel_family, staged_search_can_pick_a_wgmma_winner) {
  static fpx_wo_config c[FPX__TUNE_MAX_CANDIDATES];
  const size_t n = fpx__gemm_candidates(&bf16_key, 4096, 4096, 4096, 132, 90, c, FPX__TUNE_MAX_CANDIDATES);
  fpx__tune_outcome o;
  cr_assert_eq(fpx__tune_search(FPX__TUNE_STAGED, c, n, 4096, 4096, 132, wgmma_256_fastest, NULL, 0, &o),
               FPX_OK, "%s", fpx_last_error());
  cr_assert(o.best.kernel == 1 && o.best.tokens == 256 && o.best.stages == 4);
  cr_assert_eq(fpx__tune_search(FPX__TUNE_EXHAUSTIVE, c, n, 4096, 4096, 132, wgmma_256_fastest, NULL, 0, &o),
               FPX_OK);
  cr_assert(o.best.kernel == 1 && o.best.tokens == 256);
}

/* ---- database ------------------------------------------------------------ */

TestSuite(kernel_family_db, .init = make_tmpdir, .fini = remove_tmpdir);

static fpx__cache *open_db(const char *path, int flags) {
  fpx__cache *c = NULL;
  cr_assert_eq(fpx__cache_open(path, flags, &c), FPX_OK, "%s", fpx_last_error());
  return c;
}

static fpx__cache_winner get(fpx__cache *c, const fpx__cache_key *key) {
  fpx__cache_winner w;
  int found = 0;
  cr_assert_eq(fpx__cache_get_winner(c, key, &w, &found), FPX_OK, "%s", fpx_last_error());
  cr_assert(found);
  return w;
}

Test(kernel_family_db, a_wgmma_winner_round_trips_through_sqlite_and_json) {
  fpx__cache *a = open_db(tmp_path("a.db"), 0);
  fpx__cache_winner w = sample(4096, 1024, 3.0);
  w.config = wgmma(256, 6);
  w.config.warps_n = 8; /* ignored for kernel 1: stored as 0 */
  cr_assert_eq(fpx__cache_put_winner(a, &w), FPX_OK, "%s", fpx_last_error());
  fpx__cache_winner m = sample(4096, 16, 2.0); /* an mma.sync one next to it */
  m.config.tokens = 5; /* ignored for kernel 0: stored as 0 */
  cr_assert_eq(fpx__cache_put_winner(a, &m), FPX_OK, "%s", fpx_last_error());
  fpx__cache_winner got = get(a, &w.key);
  cr_assert(got.config.kernel == 1 && got.config.tokens == 256 && got.config.stages == 6);
  cr_assert_eq(got.config.warps_n, 0);
  got = get(a, &m.key);
  cr_assert(got.config.kernel == 0 && got.config.tokens == 0 && got.config.warps_n == 4);

  char *json = NULL;
  cr_assert_eq(fpx__cache_export_json(a, NULL, &json), FPX_OK, "%s", fpx_last_error());
  cr_assert(contains(json, "\"kernel\":\t1") || contains(json, "\"kernel\": 1"), "%s", json);
  cr_assert(contains(json, "\"tokens\":\t256") || contains(json, "\"tokens\": 256"), "%s", json);
  fpx__cache *b = open_db(tmp_path("b.db"), 0);
  cr_assert_eq(fpx__cache_import_json(b, json, NULL, 0), FPX_OK, "%s", fpx_last_error());
  free(json);
  got = get(b, &w.key);
  cr_assert(got.config.kernel == 1 && got.config.tokens == 256 && got.config.stages == 6);
  got = get(b, &m.key);
  cr_assert_eq(got.config.kernel, 0);
  fpx__cache_close(b);

  /* merge carries them too */
  fpx__cache_close(a);
  fpx__cache *d = open_db(tmp_path("d.db"), 0);
  cr_assert_eq(fpx__cache_merge(d, tmp_path("a.db")), FPX_OK, "%s", fpx_last_error());
  got = get(d, &w.key);
  cr_assert(got.config.kernel == 1 && got.config.tokens == 256 && got.config.stages == 6);
  fpx__cache_close(d);
}

Test(kernel_family_db, json_without_kernel_fields_reads_as_mma_sync) {
  fpx__cache *a = open_db(tmp_path("a.db"), 0);
  fpx__cache_winner w = sample(4096, 64, 3.0);
  cr_assert_eq(fpx__cache_put_winner(a, &w), FPX_OK);
  char *json = NULL;
  cr_assert_eq(fpx__cache_export_json(a, NULL, &json), FPX_OK);
  fpx__cache_close(a);
  /* drop the three fields as an older export lacks them */
  static const char *const fields[] = {"\"kernel\"", "\"tokens\"", "\"stages\""};
  for (size_t f = 0; f < 3; f++) {
    char *p = strstr(json, fields[f]);
    cr_assert_not_null(p, "%s", json);
    char *start = p, *end = p;
    while (*end != ',' && *end != '\n' && *end != '}') end++;
    while (start > json && start[-1] != ',') start--;
    if (start > json) start--; /* the comma before */
    memmove(start, end, strlen(end) + 1);
  }
  cr_assert(!contains(json, "\"kernel\"") && !contains(json, "\"stages\""), "%s", json);
  fpx__cache *b = open_db(tmp_path("b.db"), 0);
  cr_assert_eq(fpx__cache_import_json(b, json, NULL, 0), FPX_OK, "%s\n%s", fpx_last_error(), json);
  free(json);
  const fpx__cache_winner got = get(b, &w.key);
  cr_assert(got.config.kernel == 0 && got.config.warps_n == 4 && got.config.m_tiles == 2);
  fpx__cache_close(b);
}

Test(kernel_family_db, wgmma_winners_are_checked_against_the_key) {
  fpx__cache *a = open_db(":memory:", 0);
  fpx__cache_winner w = sample(4096, 1024, 3.0);
  w.key.group_size = 64;
  w.config = wgmma(256, 4); /* group scales need tokens <= 128 */
  char field[32] = "";
  cr_assert_eq(fpx__cache_winner_check(&w, field), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_str_eq(field, "config");
  cr_assert(contains(fpx_last_error(), "tokens 256"), "%s", fpx_last_error());
  cr_assert_neq(fpx__cache_put_winner(a, &w), FPX_OK);
  w.config = wgmma(128, 5);
  cr_assert_eq(fpx__cache_put_winner(a, &w), FPX_OK, "%s", fpx_last_error());
  w.config = (fpx_wo_config){4, 1, 1, 1, 3, 0, 0};
  cr_assert_eq(fpx__cache_winner_check(&w, field), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "kernel 3"), "%s", fpx_last_error());
  fpx__cache_close(a);
}

Test(kernel_family_db, a_version_2_database_migrates_to_3_keeping_its_rows) {
  const char *path = tmp_path("v2.db");
  cr_assert_eq(fpx__cache_create_v1_for_testing(path), FPX_OK, "%s", fpx_last_error());
  cr_assert_eq(fpx__cache_exec_file_for_testing(
                   path,
                   "ALTER TABLE winners ADD COLUMN candidates_checksum TEXT NOT NULL DEFAULT '';"
                   "CREATE TABLE binaries (hash TEXT PRIMARY KEY NOT NULL, arch TEXT NOT NULL,"
                   " nvrtc_version INTEGER NOT NULL, lowered_name TEXT NOT NULL,"
                   " blob BLOB NOT NULL, checksum TEXT NOT NULL, created_at INTEGER NOT NULL);"
                   "PRAGMA user_version = 2;"
                   "INSERT INTO winners VALUES ('NVIDIA H100 80GB HBM3', 'sm_90a', 132, 12040, "
                   "12040, '0123456789abcdef', 'weight_only', 'e3m2', 'f16', 'f16', 0, 128, "
                   "4096, 1, 2, 1, 4, 3, 7.25, 0.01, 0.001, 1600000000, 'abc')"),
               FPX_OK, "%s", fpx_last_error());
  fpx__cache_winner want = sample(128, 1, 7.25);
  /* read-only: version 2 as is, the row an mma.sync winner */
  fpx__cache *c = open_db(path, FPX__CACHE_READONLY);
  cr_assert_eq(fpx__cache_schema_version(c), 2);
  fpx__cache_winner got = get(c, &want.key);
  cr_assert(got.config.kernel == 0 && got.config.warps_n == 2 && got.config.split_k == 3);
  fpx__cache_close(c);
  /* read-write: migrated, the row kept with kernel 0, wgmma rows writable */
  c = open_db(path, 0);
  cr_assert_eq(fpx__cache_schema_version(c), 3);
  cr_assert_eq(fpx__cache_exec_for_testing(c, "SELECT kernel, tokens, stages FROM winners"), FPX_OK,
               "%s", fpx_last_error());
  got = get(c, &want.key);
  cr_assert(got.config.kernel == 0 && got.config.tokens == 0 && got.config.warps_n == 2);
  cr_assert_str_eq(got.candidates_checksum, "abc");
  fpx__cache_winner w = sample(128, 1024, 3.0);
  w.config = wgmma(128, 4);
  cr_assert_eq(fpx__cache_put_winner(c, &w), FPX_OK, "%s", fpx_last_error());
  got = get(c, &w.key);
  cr_assert(got.config.kernel == 1 && got.config.tokens == 128 && got.config.stages == 4);
  fpx__cache_close(c);
}

/* ---- lookup order ---------------------------------------------------------- */

static fpx_ctx *fake_ctx(const char *db_path, int sm_version) {
  fpx_ctx *ctx = calloc(1, sizeof *ctx);
  cr_assert_not_null(ctx);
  pthread_mutex_init(&ctx->lock, NULL);
  snprintf(ctx->info.name, sizeof ctx->info.name, "Test GPU");
  snprintf(ctx->info.arch, sizeof ctx->info.arch, sm_version == 90 ? "sm_90a" : "sm_89");
  ctx->info.sm_count = 132;
  ctx->info.driver_version = 13000;
  ctx->sm_version = sm_version;
  fpx__ctx_open_databases(ctx, db_path);
  return ctx;
}

static void free_ctx(fpx_ctx *ctx) {
  fpx__ctx_close_databases(ctx);
  pthread_mutex_destroy(&ctx->lock);
  free(ctx);
}

static void put_in(fpx__cache *db, fpx_ctx *ctx, int bucket, fpx_wo_config c) {
  fpx__cache_winner w;
  memset(&w, 0, sizeof w);
  fpx__cache_key_for(&ctx->info, &bf16_key, 4096, 4096, bucket, &w.key);
  w.config = c;
  w.time_us = 10;
  w.check_tolerance = 1;
  w.tuned_at = 1;
  snprintf(w.candidates_checksum, sizeof w.candidates_checksum, "0");
  cr_assert_eq(fpx__cache_put_winner(db, &w), FPX_OK, "%s", fpx_last_error());
}

static void put(fpx_ctx *ctx, int bucket, fpx_wo_config c) { put_in(ctx->user_db, ctx, bucket, c); }

static fpx_wo_config resolve(fpx_ctx *ctx, size_t m) {
  fpx_wo_config c;
  memset(&c, 0xff, sizeof c);
  cr_assert_eq(fpx__ctx_resolve_config(ctx, &bf16_key, m, 4096, 4096, &c), FPX_OK, "%s",
               fpx_last_error());
  return c;
}

Test(kernel_family_db, heuristic_fallback_gets_the_automatic_wgmma_choice_on_sm_90) {
  fpx_ctx *ctx = fake_ctx("", 90);
  fpx_wo_config c = resolve(ctx, 4096);
  cr_assert(c.kernel == 1 && c.tokens == 256 && c.stages == 4, "%d %d %d", c.kernel, c.tokens, c.stages);
  c = resolve(ctx, 16);
  cr_assert_eq(c.kernel, 0);
  cr_assert_eq(ctx->source_calls[FPX__SRC_HEURISTIC], 2);
  free_ctx(ctx);
  ctx = fake_ctx("", 90);
  ctx->no_wgmma = 1;
  cr_assert_eq(resolve(ctx, 4096).kernel, 0);
  free_ctx(ctx);
  ctx = fake_ctx("", 89);
  cr_assert_eq(resolve(ctx, 4096).kernel, 0);
  free_ctx(ctx);
}

Test(kernel_family_db, exact_winners_run_as_stored_whatever_their_kernel) {
  fpx_ctx *ctx = fake_ctx(tmp_path("user.db"), 90);
  cr_assert_not_null(ctx->user_db, "%s", ctx->user_db_note);
  /* an mma.sync winner at M 4096: no automatic wgmma */
  put(ctx, 4096, (fpx_wo_config){2, 2, 8, 1, 0, 0, 0});
  /* a wgmma winner at M 64, below the automatic threshold */
  put(ctx, 64, wgmma(64, 3));
  fpx_wo_config c = resolve(ctx, 4096);
  cr_assert(c.kernel == 0 && c.warps_n == 2 && c.warps_k == 2 && c.m_tiles == 8);
  c = resolve(ctx, 64);
  cr_assert(c.kernel == 1 && c.tokens == 64 && c.stages == 3);
  cr_assert_eq(ctx->source_calls[FPX__SRC_USER_EXACT], 2);
  /* a nearest-bucket fallback at M 2048 (nearest: 4096's mma.sync winner)
   * gets the automatic choice */
  c = resolve(ctx, 2048);
  cr_assert(c.kernel == 1 && c.tokens == 256, "%d %d", c.kernel, c.tokens);
  cr_assert_eq(ctx->source_calls[FPX__SRC_USER_NEAREST], 1);
  free_ctx(ctx);
}

Test(kernel_family_db, a_stored_wgmma_winner_is_skipped_off_sm_90) {
  fpx_ctx *ctx = fake_ctx(tmp_path("user.db"), 90);
  put(ctx, 64, wgmma(64, 3));
  free_ctx(ctx);
  /* same GPU name and arch in the key, but the context says sm_89 */
  ctx = fake_ctx(tmp_path("user.db"), 90);
  ctx->sm_version = 89;
  const fpx_wo_config c = resolve(ctx, 64);
  cr_assert_eq(c.kernel, 0);
  cr_assert_eq(ctx->source_calls[FPX__SRC_USER_EXACT], 0);
  free_ctx(ctx);
}

/* A shipped winner of the exact M bucket runs as stored; one of another
 * bucket is a fallback and gets the automatic wgmma choice. */
Test(kernel_family_db, shipped_exact_winners_run_as_stored) {
  fpx_ctx *ctx = fake_ctx("", 90);
  cr_assert_not_null(ctx->shipped_db);
  put_in(ctx->shipped_db, ctx, 64, (fpx_wo_config){2, 2, 8, 1, 0, 0, 0});
  fpx_wo_config c = resolve(ctx, 64);
  cr_assert(c.kernel == 0 && c.warps_n == 2 && c.warps_k == 2 && c.m_tiles == 8, "%d", c.kernel);
  cr_assert_eq(ctx->source_calls[FPX__SRC_SHIPPED], 1);
  c = resolve(ctx, 128);
  cr_assert_eq(c.kernel, 1);
  cr_assert_eq(ctx->source_calls[FPX__SRC_SHIPPED], 2);
  free_ctx(ctx);
}
