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

#define FPX__STAGED_KEEP 4

fpx_status fpx__tune_search(fpx__tune_strategy strategy, const fpx_wo_config *cand,
                            size_t count, fpx__tune_measure measure, void *user, size_t budget,
                            fpx__tune_outcome *out) {
  memset(out, 0, sizeof *out);
  out->best_us = -1.0;
  if (cand == NULL || measure == NULL || count == 0)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "tune search: no candidates to measure");
  if (budget == 0) budget = (size_t)-1;
  if (strategy == FPX__TUNE_EXHAUSTIVE) {
    for (size_t i = 0; i < count && out->measured < budget; i++) consider(out, &cand[i], measure(user, &cand[i]));
  } else if (strategy == FPX__TUNE_STAGED) {
    /* stage 1: each tile configuration at its middle split value */
    double top_us[FPX__STAGED_KEEP];
    size_t top[FPX__STAGED_KEEP], kept = 0;
    for (size_t i = 0; i < count && out->measured < budget;) {
      size_t j = i;
      while (j < count && same_tile(&cand[i], &cand[j])) j++;
      const size_t pick = i + (j - i) / 2;
      const double us = measure(user, &cand[pick]);
      consider(out, &cand[pick], us);
      if (us >= 0) { /* insertion into the sorted top list; ties keep the earlier */
        size_t pos = kept;
        while (pos > 0 && top_us[pos - 1] > us) pos--;
        if (pos < FPX__STAGED_KEEP) {
          for (size_t q = (kept < FPX__STAGED_KEEP ? kept : FPX__STAGED_KEEP - 1); q > pos; q--) {
            top[q] = top[q - 1];
            top_us[q] = top_us[q - 1];
          }
          top[pos] = pick;
          top_us[pos] = us;
          if (kept < FPX__STAGED_KEEP) kept++;
        }
      }
      i = j;
    }
    /* stage 2: every split value of the best tile configurations */
    for (size_t t = 0; t < kept; t++)
      for (size_t i = 0; i < count && out->measured < budget; i++)
        if (same_tile(&cand[i], &cand[top[t]]) && i != top[t]) consider(out, &cand[i], measure(user, &cand[i]));
  } else {
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "tune search: unknown strategy %d", (int)strategy);
  }
  if (out->best_us < 0)
    return fpx__error(FPX_ERR_INTERNAL, "tune search: all %zu measured candidates failed", out->measured);
  return FPX_OK;
}
