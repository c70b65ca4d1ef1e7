/*
 * workspace.c - per-stream workspaces owned by a context: a byte region
 * (split-K FP32 partials, or the wgmma family's permuted X and partials) plus
 * self-resetting tile counters. Grown on demand, never while
 * the stream is being captured into a CUDA graph.
 */
#include <stdlib.h>

#include "context.h"
#include "error.h"

fpx_status fpx__ctx_workspace(fpx_ctx *ctx, CUstream stream, size_t partial_bytes,
                              size_t counter_count, CUdeviceptr *out_partials,
                              CUdeviceptr *out_counters) {
  fpx_status st = FPX_OK;
  fpx__workspace *ws = NULL;
  CUdeviceptr partials = 0, counters = 0;
  pthread_mutex_lock(&ctx->lock);
  for (size_t i = 0; i < ctx->workspace_count; i++)
    if (ctx->workspaces[i].stream == stream) ws = &ctx->workspaces[i];
  if (ws != NULL && ws->partial_bytes >= partial_bytes && ws->counter_count >= counter_count) {
    *out_partials = ws->partials;
    *out_counters = ws->counters;
    pthread_mutex_unlock(&ctx->lock);
    return FPX_OK;
  }
  CUstreamCaptureStatus capture = CU_STREAM_CAPTURE_STATUS_NONE;
  FPX_CU(ctx->cu, cuStreamIsCapturing(stream, &capture));
  if (capture != CU_STREAM_CAPTURE_STATUS_NONE) {
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT,
                    "fpx_gemm: the workspace of this stream must grow to %zu bytes, "
                    "which cannot happen during graph capture; run the call once before "
                    "capturing",
                    partial_bytes);
    goto fail;
  }
  if (ws == NULL) {
    if (ctx->workspace_count == ctx->workspace_capacity) {
      size_t cap = ctx->workspace_capacity ? 2 * ctx->workspace_capacity : 4;
      fpx__workspace *grown = realloc(ctx->workspaces, cap * sizeof *grown);
      if (grown == NULL) {
        st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "no memory for a workspace entry");
        goto fail;
      }
      ctx->workspaces = grown;
      ctx->workspace_capacity = cap;
    }
    ws = &ctx->workspaces[ctx->workspace_count++];
    *ws = (fpx__workspace){stream, 0, 0, 0, 0};
  }
  /* grow geometrically so a sequence of growing shapes reallocates rarely */
  if (partial_bytes < 2 * ws->partial_bytes) partial_bytes = 2 * ws->partial_bytes;
  if (counter_count < 2 * ws->counter_count) counter_count = 2 * ws->counter_count;
  if (partial_bytes == 0) partial_bytes = 256;
  FPX_CU(ctx->cu, cuMemAlloc(&partials, partial_bytes));
  FPX_CU(ctx->cu, cuMemAlloc(&counters, counter_count * sizeof(unsigned)));
  FPX_CU(ctx->cu, cuMemsetD8Async(counters, 0, counter_count * sizeof(unsigned), stream));
  if (ws->partials != 0 || ws->counters != 0) {
    /* kernels queued on this stream may still use the old buffers */
    FPX_CU(ctx->cu, cuStreamSynchronize(stream));
    ctx->cu->cuMemFree(ws->partials);
    ctx->cu->cuMemFree(ws->counters);
  }
  ws->partials = partials;
  ws->partial_bytes = partial_bytes;
  ws->counters = counters;
  ws->counter_count = counter_count;
  *out_partials = partials;
  *out_counters = counters;
  pthread_mutex_unlock(&ctx->lock);
  return FPX_OK;
fail:
  if (partials) ctx->cu->cuMemFree(partials);
  if (counters) ctx->cu->cuMemFree(counters);
  pthread_mutex_unlock(&ctx->lock);
  return st;
}

void fpx__ctx_workspaces_release(fpx_ctx *ctx) {
  for (size_t i = 0; i < ctx->workspace_count; i++) {
    ctx->cu->cuMemFree(ctx->workspaces[i].partials);
    ctx->cu->cuMemFree(ctx->workspaces[i].counters);
  }
  free(ctx->workspaces);
  ctx->workspaces = NULL;
  ctx->workspace_count = ctx->workspace_capacity = 0;
}
