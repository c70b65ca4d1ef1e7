/*
 * candidates.c - pruning of the weight-only configuration space for one
 * problem, and the exhaustive and staged search strategies.
 */
#include "candidates.h"

#include <string.h>

#include "config.h"
#include "error.h"

static const int split_values[] = {1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32};

size_t fpx__tune_candidates(size_t m, size_t n, size_t k, int sm_count, fpx_wo_config *out,
                            size_t max) {
  fpx_wo_config space[64];
  const size_t tiles = fpx__wo_config_space(space, 64);
  const size_t n_tiles = (n + 15) / 16, k_blocks = (k + 255) / 256;
  const size_t sms = (size_t)(sm_count > 0 ? sm_count : 132);
  size_t mt_cap = 1; /* no 8-token tiles beyond what M needs */
  while (mt_cap < 8 && 8 * mt_cap < m) mt_cap *= 2;
  size_t count = 0;
  for (size_t t = 0; t < tiles && t < 64; t++) {
    const fpx_wo_config c = space[t];
    if ((size_t)c.m_tiles > mt_cap) continue;
    if ((size_t)c.warps_n > n_tiles && c.warps_n > 1) continue; /* idle warps */
    const size_t blocks = ((n_tiles + c.warps_n - 1) / c.warps_n) *
                          ((m + 8 * (size_t)c.m_tiles - 1) / (8 * (size_t)c.m_tiles));
    for (size_t s = 0; s < sizeof split_values / sizeof split_values[0]; s++) {
      const size_t split = (size_t)split_values[s];
      if (split > 1 && split * (size_t)c.warps_k > k_blocks) break; /* each K warp gets a block */
      if (split == 1 && (size_t)c.warps_k > k_blocks) break;
      if (split > 1 && blocks * (split / 2) >= 8 * sms) break;   /* already many waves */
      if (count < max) out[count] = (fpx_wo_config){c.warps_n, c.warps_k, c.m_tiles, (int)split};
      count++;
    }
  }
  return count < max ? count : max;
}

static void consider(fpx__tune_outcome *o, const fpx_wo_config *c, double us) {
  o->measured++;
  if (us < 0) {
    o->failed++;
    return;
  }
  if (o->best_us < 0 || us < o->best_us) {
    o->best_us = us;
    o->best = *c;
  }
}

static int same_tile(const fpx_wo_config *a, const fpx_wo_config *b) {
  return a->warps_n == b->warps_n && a->warps_k == b->warps_k && a->m_tiles == b->m_tiles;
}

size_t fpx__tune_stage1(const fpx_wo_config *cand, size_t count, size_t *out_idx) {
  size_t n = 0;
  for (size_t i = 0; i < count;) {
    size_t j = i;
    while (j < count && same_tile(&cand[i], &cand[j])) j++;
    out_idx[n++] = i + (j - i) / 2; /* the middle split of this tile */
    i = j;
  }
  return n;
}

size_t fpx__tune_stage2(const fpx_wo_config *cand, size_t count, const size_t *s1_idx,
                        const double *s1_us, size_t s1_count, size_t *out_idx) {
  size_t top[FPX__TUNE_STAGED_KEEP], kept = 0;
  /* the fastest tile configurations of stage 1; ties keep the earlier */
  for (size_t r = 0; r < FPX__TUNE_STAGED_KEEP; r++) {
    size_t best = (size_t)-1;
    for (size_t i = 0; i < s1_count; i++) {
      if (s1_us[i] < 0) continue;
      int taken = 0;
      for (size_t q = 0; q < kept; q++) taken |= top[q] == i;
      if (!taken && (best == (size_t)-1 || s1_us[i] < s1_us[best])) best = i;
    }
    if (best == (size_t)-1) break;
    top[kept++] = best;
  }
  size_t n = 0;
  for (size_t t = 0; t < kept; t++)
    for (size_t i = 0; i < count; i++)
      if (same_tile(&cand[i], &cand[s1_idx[top[t]]]) && i != s1_idx[top[t]]) out_idx[n++] = i;
  return n;
}

fpx_status fpx__tune_search(fpx__tune_strategy strategy, const fpx_wo_config *cand,
                            size_t count, fpx__tune_measure measure, void *user, size_t budget,
                            fpx__tune_outcome *out) {
  static size_t idx1[FPX__TUNE_MAX_CANDIDATES], idx2[FPX__TUNE_MAX_CANDIDATES];
  static double us1[FPX__TUNE_MAX_CANDIDATES];
  memset(out, 0, sizeof *out);
  out->best_us = -1.0;
  if (cand == NULL || measure == NULL || count == 0 || count > FPX__TUNE_MAX_CANDIDATES)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "tune search: %zu candidates (need 1..%d)", count,
                      FPX__TUNE_MAX_CANDIDATES);
  if (budget == 0) budget = (size_t)-1;
  if (strategy == FPX__TUNE_EXHAUSTIVE) {
    for (size_t i = 0; i < count && out->measured < budget; i++) consider(out, &cand[i], measure(user, &cand[i]));
  } else if (strategy == FPX__TUNE_STAGED) {
    size_t n1 = fpx__tune_stage1(cand, count, idx1);
    for (size_t i = 0; i < n1; i++) {
      us1[i] = out->measured < budget ? measure(user, &cand[idx1[i]]) : -1.0;
      if (out->measured < budget) consider(out, &cand[idx1[i]], us1[i]);
    }
    size_t n2 = fpx__tune_stage2(cand, count, idx1, us1, n1, idx2);
    for (size_t i = 0; i < n2 && out->measured < budget; i++) consider(out, &cand[idx2[i]], measure(user, &cand[idx2[i]]));
  } else {
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "tune search: unknown strategy %d", (int)strategy);
  }
  if (out->best_us < 0)
    return fpx__error(FPX_ERR_INTERNAL, "tune search: all %zu measured candidates failed", out->measured);
  return FPX_OK;
}
