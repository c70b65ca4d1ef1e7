/*
 * read_floor.c - times the stream-read kernel over a buffer (see
 * read_floor.h): the floor the weight-only benchmark compares against.
 */
#include "read_floor.h"

#include "context.h"
#include "error.h"

/* Kernel table id: family 7 (no other family uses it). */
#define STREAM_READ_ID ((uint64_t)7 << 40 | 8)

typedef struct read_call {
  fpx_ctx *ctx;
  CUfunction fn;
  CUdeviceptr ptr, sink;
  unsigned long long words;
  unsigned never;
  unsigned blocks;
} read_call;

static fpx_status launch(void *arg, CUstream stream) {
  read_call *c = arg;
  fpx_status st = FPX_OK;
  void *params[] = {&c->ptr, &c->words, &c->never, &c->sink};
  FPX_CU(c->ctx->cu, cuLaunchKernel(c->fn, c->blocks, 1, 1, 256, 1, 1, 0, stream, params, NULL));
fail:
  return st;
}

fpx_status fpx__read_floor_us(fpx_ctx *ctx, fpx__timer *t, CUdeviceptr ptr, size_t bytes,
                              int sm_count, int iters, double *out_us) {
  fpx_status st = FPX_OK;
  read_call c = {ctx, NULL, ptr, 0, bytes / 16, 0x9e3779b9u, (unsigned)(sm_count > 0 ? sm_count : 132) * 8};
  *out_us = 0;
  if (ctx == NULL || t == NULL || bytes == 0 || bytes % 16 != 0 || ptr % 16 != 0 || iters < 1)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT,
                      "read floor: %zu bytes at 0x%llx, %d iterations (need a positive multiple of "
                      "16 bytes, 16-byte aligned, iterations >= 1)",
                      bytes, (unsigned long long)ptr, iters);
  FPX_TRY(fpx__ctx_kernel(ctx, STREAM_READ_ID, FPX__TEMPLATE_STREAM_READ, FPX__STREAM_READ_NAME, &c.fn));
  FPX_CU(ctx->cu, cuMemAlloc(&c.sink, 4));
  st = fpx__timer_median_us(t, launch, &c, 2, iters, out_us);
  ctx->cu->cuStreamSynchronize(t->stream);
  ctx->cu->cuMemFree(c.sink);
fail:
  return st;
}
