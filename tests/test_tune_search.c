/*
 * test_tune_search.c - the tuner's candidate pruning and search strategies,
 * driven by injected cost functions instead of a GPU.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "candidates.h"
#include "config.h"

/* A synthetic cost landscape: smooth in split-K with a tile-dependent floor. */
static double landscape(void *user, const fpx_wo_config *c) {
  int *calls = user;
  if (calls) (*calls)++;
  const double tile = 10.0 + 3.0 * c->warps_k + 2.0 * fabs(log2((double)c->warps_n) - 2.0) + c->m_tiles;
  return tile + 4.0 * fabs(log2((double)c->split_k) - 2.5);
}

/* Fails every candidate with warps_n == 4; the rest as the landscape. */
static double faulty(void *user, const fpx_wo_config *c) {
  (void)user;
  return c->warps_n == 4 ? -1.0 : landscape(NULL, c);
}

/* As measured on the H100 at small M: four K warps per tile win at split-K 1
 * and lose badly at larger splits, while other tiles prefer a middle split. */
static double k_warps_at_split_one(void *user, const fpx_wo_config *c) {
  (void)user;
  if (c->warps_k == 4) return 10.0 + 6.0 * (c->split_k - 1) + c->warps_n * 0.1;
  return 12.0 + 2.0 * fabs(log2((double)c->split_k) - 2.0) + c->m_tiles;
}

static double always_fails(void *user, const fpx_wo_config *c) {
  (void)user;
  (void)c;
  return -1.0;
}

static double constant(void *user, const fpx_wo_config *c) {
  (void)user;
  (void)c;
  return 5.0;
}

Test(tune_candidates, are_valid_and_pruned_to_the_problem) {
  static fpx_wo_config c[FPX__TUNE_MAX_CANDIDATES];
  size_t count = fpx__wo_candidates(1, 4096, 4096, 132, c, FPX__TUNE_MAX_CANDIDATES);
  cr_assert_gt(count, 10);
  for (size_t i = 0; i < count; i++) {
    cr_assert_eq(fpx__wo_config_check(&c[i]), FPX_OK, "candidate %zu: %s", i, fpx_last_error());
    cr_assert_eq(c[i].m_tiles, 1, "M = 1 needs no wider token tile");
    cr_assert_leq(c[i].split_k * c[i].warps_k, 16, "K = 4096 has 16 blocks");
  }
  size_t big = fpx__wo_candidates(4096, 4096, 4096, 132, c, FPX__TUNE_MAX_CANDIDATES);
  int wide = 0;
  for (size_t i = 0; i < big; i++) wide |= c[i].m_tiles == 8;
  cr_assert(wide, "large M offers 64-token tiles");
}

Test(tune_candidates, respect_the_output_capacity) {
  fpx_wo_config c[5];
  cr_assert_eq(fpx__wo_candidates(64, 8192, 8192, 132, c, 5), 5);
}

Test(tune_search, exhaustive_finds_the_minimum) {
  static fpx_wo_config c[FPX__TUNE_MAX_CANDIDATES];
  size_t count = fpx__wo_candidates(16, 8192, 8192, 132, c, FPX__TUNE_MAX_CANDIDATES);
  int calls = 0;
  fpx__tune_outcome o;
  cr_assert_eq(fpx__tune_search(FPX__TUNE_EXHAUSTIVE, c, count, 64, 8192, 132, landscape, &calls, 0, &o), FPX_OK);
  cr_assert_eq((size_t)calls, count);
  double best = 1e30;
  for (size_t i = 0; i < count; i++) best = fmin(best, landscape(NULL, &c[i]));
  cr_assert_float_eq(o.best_us, best, 1e-12);
  cr_assert_float_eq(landscape(NULL, &o.best), best, 1e-12);
}

Test(tune_search, staged_lands_within_3_percent_and_measures_fewer) {
  static fpx_wo_config c[FPX__TUNE_MAX_CANDIDATES];
  static const size_t shapes[][3] = {{1, 4096, 4096}, {16, 28672, 4096}, {64, 8192, 28672}, {128, 6144, 4096}};
  for (size_t s = 0; s < 4; s++) {
    size_t count = fpx__wo_candidates(shapes[s][0], shapes[s][1], shapes[s][2], 132, c,
                                        FPX__TUNE_MAX_CANDIDATES);
    int calls_full = 0, calls_staged = 0;
    fpx__tune_outcome full, staged;
    cr_assert_eq(fpx__tune_search(FPX__TUNE_EXHAUSTIVE, c, count, shapes[s][0], shapes[s][1], 132, landscape,
                                  &calls_full, 0, &full),
                 FPX_OK);
    cr_assert_eq(fpx__tune_search(FPX__TUNE_STAGED, c, count, shapes[s][0], shapes[s][1], 132, landscape,
                                  &calls_staged, 0, &staged),
                 FPX_OK);
    cr_assert_leq(staged.best_us, full.best_us * 1.03, "shape %zu: staged %g vs %g", s, staged.best_us,
                  full.best_us);
    cr_assert_lt(calls_staged, calls_full);
  }
}

Test(tune_search, staged_finds_tiles_that_win_only_at_split_one) {
  static fpx_wo_config c[FPX__TUNE_MAX_CANDIDATES];
  size_t count = fpx__wo_candidates(1, 4096, 4096, 132, c, FPX__TUNE_MAX_CANDIDATES);
  fpx__tune_outcome full, staged;
  cr_assert_eq(fpx__tune_search(FPX__TUNE_EXHAUSTIVE, c, count, 1, 4096, 132, k_warps_at_split_one, NULL, 0,
                                &full),
               FPX_OK);
  cr_assert_eq(fpx__tune_search(FPX__TUNE_STAGED, c, count, 1, 4096, 132, k_warps_at_split_one, NULL, 0,
                                &staged),
               FPX_OK);
  cr_assert_eq(full.best.warps_k, 4);
  cr_assert_float_eq(staged.best_us, full.best_us, 1e-12);
}

Test(tune_search, failing_candidates_are_skipped_and_counted) {
  static fpx_wo_config c[FPX__TUNE_MAX_CANDIDATES];
  size_t count = fpx__wo_candidates(8, 8192, 8192, 132, c, FPX__TUNE_MAX_CANDIDATES);
  fpx__tune_outcome o;
  cr_assert_eq(fpx__tune_search(FPX__TUNE_EXHAUSTIVE, c, count, 64, 8192, 132, faulty, NULL, 0, &o), FPX_OK);
  cr_assert_neq(o.best.warps_n, 4);
  cr_assert_gt(o.failed, 0);
  cr_assert_eq(o.measured, count);
}

Test(tune_search, all_failing_is_an_error) {
  static fpx_wo_config c[FPX__TUNE_MAX_CANDIDATES];
  size_t count = fpx__wo_candidates(8, 1024, 1024, 132, c, FPX__TUNE_MAX_CANDIDATES);
  fpx__tune_outcome o;
  cr_assert_eq(fpx__tune_search(FPX__TUNE_EXHAUSTIVE, c, count, 64, 8192, 132, always_fails, NULL, 0, &o), FPX_ERR_INTERNAL);
  cr_assert_lt(o.best_us, 0);
}

Test(tune_search, ties_go_to_the_first_candidate_and_budget_is_kept) {
  static fpx_wo_config c[FPX__TUNE_MAX_CANDIDATES];
  size_t count = fpx__wo_candidates(8, 8192, 8192, 132, c, FPX__TUNE_MAX_CANDIDATES);
  fpx__tune_outcome o;
  cr_assert_eq(fpx__tune_search(FPX__TUNE_EXHAUSTIVE, c, count, 64, 8192, 132, constant, NULL, 7, &o), FPX_OK);
  cr_assert_eq(o.measured, 7);
  cr_assert_eq(memcmp(&o.best, &c[0], sizeof o.best), 0);
}

/* Where the untuned choice is wgmma, stage 1 puts the wgmma candidates first,
 * each family in its former order, and keeps every index. */
Test(tune_search, wgmma_candidates_first_keeps_order_and_indices) {
  static fpx_wo_config c[FPX__TUNE_MAX_CANDIDATES];
  static size_t idx[FPX__TUNE_MAX_CANDIDATES];
  const fpx__wo_key key = {{3, 2}, FPX_DTYPE_BF16, FPX_DTYPE_BF16, 0};
  const size_t n = fpx__gemm_candidates(&key, 512, 4096, 4096, 132, 90, c, FPX__TUNE_MAX_CANDIDATES);
  const size_t n1 = fpx__tune_stage1(c, n, 512, 4096, 132, idx);
  size_t wg = 0, first_mma = n1;
  for (size_t i = 0; i < n1; i++) {
    if (c[idx[i]].kernel == 1) wg++;
    else if (first_mma == n1) first_mma = i;
  }
  cr_assert(wg > 0 && first_mma < wg, "the plan starts with mma.sync candidates");
  size_t before[FPX__TUNE_MAX_CANDIDATES];
  memcpy(before, idx, n1 * sizeof *idx);
  fpx__tune_wgmma_first(c, idx, n1);
  for (size_t i = 0; i < n1; i++) cr_assert_eq(c[idx[i]].kernel == 1, i < wg, "position %zu", i);
  /* stable: each family's indices ascend as before (stage 1 lists ascend) */
  for (size_t i = 1; i < n1; i++)
    if (i != wg) cr_assert_lt(idx[i - 1], idx[i]);
  /* a permutation of the former plan */
  size_t sum_before = 0, sum_after = 0;
  for (size_t i = 0; i < n1; i++) sum_before += before[i], sum_after += idx[i];
  cr_assert_eq(sum_before, sum_after);
}
