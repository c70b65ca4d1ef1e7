/*
 * candidates.c - the exhaustive and staged search strategies over the
 * candidate configurations of one problem. Both families' tiles (mma.sync:
 * warps and token tiles; wgmma: tokens and stages) go through the same two
 * stages, each with its own measure of how full a launch keeps the GPU.
 */
#include "candidates.h"

#include <math.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "wgmma_config.h"

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

/* Same tile configuration: all but split_k (mma.sync: warps and token
 * tiles; wgmma: tokens and stages). */
static int same_tile(const fpx_wo_config *a, const fpx_wo_config *b) {
  if (a->kernel != b->kernel) return 0;
  if (a->kernel == 1) return a->tokens == b->tokens && a->stages == b->stages;
  return a->warps_n == b->warps_n && a->warps_k == b->warps_k && a->m_tiles == b->m_tiles;
}

/* How many waves a configuration launches for an M x N problem on sms
 * SMs: mma.sync counts warps against about 24 per SM, wgmma counts blocks
 * (one per SM: 384 threads and most of the shared memory). */
static double launched_waves(const fpx_wo_config *c, size_t m, size_t n, double sms) {
  if (c->kernel == 1) {
    if (c->split_k == FPX_SPLIT_K_STREAM) return 1.0; /* shared evenly by one block per SM */
    const size_t blocks = ((n + FPX__WGMMA_BLOCK_ROWS - 1) / FPX__WGMMA_BLOCK_ROWS) *
                          ((m + (size_t)c->tokens - 1) / (size_t)c->tokens);
    return (double)blocks * c->split_k / sms;
  }
  const size_t n_tiles = (n + 15) / 16;
  const size_t blocks = ((n_tiles + c->warps_n - 1) / c->warps_n) *
                        ((m + 8 * (size_t)c->m_tiles - 1) / (8 * (size_t)c->m_tiles));
  return (double)blocks * c->split_k * c->warps_n * c->warps_k / (24.0 * sms);
}

static int in_list(const size_t *list, size_t count, size_t value) {
  for (size_t i = 0; i < count; i++)
    if (list[i] == value) return 1;
  return 0;
}

size_t fpx__tune_stage1(const fpx_wo_config *cand, size_t count, size_t m, size_t n, int sm_count,
                        size_t *out_idx) {
  const double sms = sm_count > 0 ? sm_count : 132;
  size_t out = 0;
  for (size_t i = 0; i < count;) {
    size_t j = i, fill = i;
    double fill_distance = 1e30;
    while (j < count && same_tile(&cand[i], &cand[j])) {
      const double d = fabs(log(launched_waves(&cand[j], m, n, sms))); /* about one wave */
      if (d < fill_distance) {
        fill_distance = d;
        fill = j;
      }
      j++;
    }
    out_idx[out++] = i; /* split-K 1 (the group is in ascending split order) */
    if (fill != i) out_idx[out++] = fill;
    i = j;
  }
  return out;
}

size_t fpx__tune_stage2(const fpx_wo_config *cand, size_t count, const size_t *s1_idx,
                        const double *s1_us, size_t s1_count, size_t *out_idx) {
  size_t top[FPX__TUNE_STAGED_KEEP], kept = 0;
  /* the fastest distinct tile configurations of stage 1; ties keep the earlier */
  for (size_t r = 0; r < FPX__TUNE_STAGED_KEEP; r++) {
    size_t best = (size_t)-1;
    for (size_t i = 0; i < s1_count; i++) {
      if (s1_us[i] < 0) continue;
      int taken = 0;
      for (size_t q = 0; q < kept; q++) taken |= same_tile(&cand[s1_idx[top[q]]], &cand[s1_idx[i]]);
      if (!taken && (best == (size_t)-1 || s1_us[i] < s1_us[best])) best = i;
    }
    if (best == (size_t)-1) break;
    top[kept++] = best;
  }
  size_t n = 0;
  for (size_t t = 0; t < kept; t++)
    for (size_t i = 0; i < count; i++)
      if (same_tile(&cand[i], &cand[s1_idx[top[t]]]) && !in_list(s1_idx, s1_count, i)) out_idx[n++] = i;
  return n;
}

void fpx__tune_wgmma_first(const fpx_wo_config *cand, size_t *idx, size_t n) {
  size_t out = 0;
  for (size_t q = 0; q < n; q++)
    if (cand[idx[q]].kernel == 1) {
      const size_t v = idx[q];
      memmove(idx + out + 1, idx + out, (q - out) * sizeof *idx);
      idx[out++] = v;
    }
}

fpx_status fpx__tune_search(fpx__tune_strategy strategy, const fpx_wo_config *cand,
                            size_t count, size_t m, size_t n, int sm_count,
                            fpx__tune_measure measure, void *user, size_t budget,
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
    size_t n1 = fpx__tune_stage1(cand, count, m, n, sm_count, idx1);
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
