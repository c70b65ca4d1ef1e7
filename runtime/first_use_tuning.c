/*
 * first_use_tuning.c - FPX_CTX_TUNE_ON_FIRST_USE: the first call of a key
 * whose configuration came from a fallback times the candidates on the
 * caller's own buffers and stream (staged: each tile configuration at
 * split-K 1 and at its middle split-K, each wgmma configuration on sm_90,
 * then every split-K of the fastest mma.sync tile) and keeps the winner in
 * the context's in-process table. No reference check and nothing stored:
 * that is `fpx-tune tune`'s job.
 */
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "error.h"

#define FIRST_USE_REPS 3

/* Mean time of FIRST_USE_REPS launches after one untimed launch, or < 0. */
static float time_config(fpx_ctx *ctx, const fpx__wo_key *key, const fpx_wo_config *c,
                         const fpx_gemm_args *args, CUstream stream, CUevent start, CUevent stop) {
  float ms = -1.f;
  if (fpx__gemm_launch(ctx, key, c, args, stream) != FPX_OK) return -1.f;
  if (ctx->cu->cuEventRecord(start, stream) != CUDA_SUCCESS) return -1.f;
  for (int r = 0; r < FIRST_USE_REPS; r++)
    if (fpx__gemm_launch(ctx, key, c, args, stream) != FPX_OK) return -1.f;
  if (ctx->cu->cuEventRecord(stop, stream) != CUDA_SUCCESS ||
      ctx->cu->cuEventSynchronize(stop) != CUDA_SUCCESS ||
      ctx->cu->cuEventElapsedTime(&ms, start, stop) != CUDA_SUCCESS)
    return -1.f;
  return ms / FIRST_USE_REPS;
}

/* Same tile configuration: all but split_k (mma.sync: warps and token
 * tiles; wgmma: tokens and stages). */
static int same_tile(const fpx_wo_config *a, const fpx_wo_config *b) {
  if (a->kernel != b->kernel) return 0;
  if (a->kernel == 1) return a->tokens == b->tokens && a->stages == b->stages;
  return a->warps_n == b->warps_n && a->warps_k == b->warps_k && a->m_tiles == b->m_tiles;
}

fpx_status fpx__ctx_tune_first_use(fpx_ctx *ctx, const fpx__wo_key *key, const fpx_gemm_args *args,
                                   CUstream stream, fpx_wo_config *inout) {
  const size_t m = args->m, n = args->weights->n, k = args->weights->k;
  fpx_status st = FPX_OK;
  fpx__config_source source;
  CUevent start = NULL, stop = NULL;
  fpx_wo_config *cand = NULL;
  pthread_mutex_lock(&ctx->tuned_lock);
  fpx__tuned_entry *e = fpx__ctx_tuned_entry(ctx, key, m, n, k);
  source = e ? e->source : FPX__SRC_EXPLICIT;
  pthread_mutex_unlock(&ctx->tuned_lock);
  if (source != FPX__SRC_USER_NEAREST && source != FPX__SRC_SHIPPED && source != FPX__SRC_HEURISTIC)
    return FPX_OK;
  CUstreamCaptureStatus capture = CU_STREAM_CAPTURE_STATUS_NONE;
  FPX_CU(ctx->cu, cuStreamIsCapturing(stream, &capture));
  if (capture != CU_STREAM_CAPTURE_STATUS_NONE) return FPX_OK; /* cannot synchronize */
  cand = malloc(1024 * sizeof *cand);
  if (cand == NULL) return fpx__error(FPX_ERR_OUT_OF_MEMORY, "first-use tuning: no memory");
  /* FPX_CTX_NO_WGMMA keeps the search on mma.sync */
  const size_t count = fpx__gemm_candidates(key, m, n, k, ctx->info.sm_count,
                                            ctx->no_wgmma ? 0 : ctx->sm_version, cand, 1024);
  FPX_CU(ctx->cu, cuEventCreate(&start, CU_EVENT_DEFAULT));
  FPX_CU(ctx->cu, cuEventCreate(&stop, CU_EVENT_DEFAULT));
  fpx_wo_config best = *inout;
  float best_ms = time_config(ctx, key, inout, args, stream, start, stop);
  /* stage 1: every tile configuration at split-K 1 and at its middle split */
  fpx_wo_config best_tile = *inout;
  float best_tile_ms = best_ms;
  for (size_t i = 0; i < count;) {
    size_t j = i;
    while (j < count && same_tile(&cand[i], &cand[j])) j++;
    const size_t picks[2] = {i, i + (j - i) / 2};
    for (int p = 0; p < (picks[1] != picks[0] ? 2 : 1); p++) {
      const fpx_wo_config *c = &cand[picks[p]];
      const float ms = time_config(ctx, key, c, args, stream, start, stop);
      if (ms >= 0 && (best_tile_ms < 0 || ms < best_tile_ms)) {
        best_tile_ms = ms;
        best_tile = *c;
      }
    }
    i = j;
  }
  if (best_tile_ms >= 0 && (best_ms < 0 || best_tile_ms < best_ms)) {
    best_ms = best_tile_ms;
    best = best_tile;
  }
  /* stage 2: every split-K of the fastest tile configuration */
  for (size_t i = 0; i < count; i++) {
    if (best_tile.kernel != 0 || !same_tile(&cand[i], &best_tile) ||
        cand[i].split_k == best_tile.split_k || cand[i].split_k == 1)
      continue;
    const float ms = time_config(ctx, key, &cand[i], args, stream, start, stop);
    if (ms >= 0 && (best_ms < 0 || ms < best_ms)) {
      best_ms = ms;
      best = cand[i];
    }
  }
  fpx__error_clear(); /* a failing candidate is not the call's failure */
  *inout = best;
  pthread_mutex_lock(&ctx->tuned_lock);
  e = fpx__ctx_tuned_entry(ctx, key, m, n, k);
  if (e != NULL && e->source == source) {
    e->config = best;
    e->source = FPX__SRC_FIRST_USE;
    ctx->source_calls[source]--; /* this call now counts as first-use tuned */
    ctx->source_calls[FPX__SRC_FIRST_USE]++;
  }
  pthread_mutex_unlock(&ctx->tuned_lock);
fail:
  if (start) ctx->cu->cuEventDestroy(start);
  if (stop) ctx->cu->cuEventDestroy(stop);
  free(cand);
  return st;
}
