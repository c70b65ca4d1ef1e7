/*
 * kernel_table.c - the context's in-process table of loaded kernels, keyed
 * by a 64-bit configuration id: compile (NVRTC) and load (driver) on first
 * use, then a lookup under the context lock.
 */
#include <stdlib.h>

#include "compile.h"
#include "context.h"
#include "error.h"

static CUfunction find(const fpx_ctx *ctx, uint64_t id) {
  for (size_t i = 0; i < ctx->kernel_count; i++)
    if (ctx->kernels[i].id == id) return ctx->kernels[i].function;
  return NULL;
}

CUfunction fpx__ctx_kernel_find(fpx_ctx *ctx, uint64_t id) {
  pthread_mutex_lock(&ctx->lock);
  CUfunction f = find(ctx, id);
  pthread_mutex_unlock(&ctx->lock);
  return f;
}

fpx_status fpx__ctx_kernel(fpx_ctx *ctx, uint64_t id, const char *template_name,
                           const char *name_expr, CUfunction *out_function) {
  fpx_status st = FPX_OK;
  fpx__cubin cubin = {0};
  CUmodule module = NULL;
  CUfunction function = NULL;
  pthread_mutex_lock(&ctx->lock);
  *out_function = find(ctx, id);
  if (*out_function != NULL) {
    pthread_mutex_unlock(&ctx->lock);
    return FPX_OK;
  }
  FPX_TRY(fpx__compile(template_name, name_expr, ctx->info.arch, &cubin));
  FPX_CU(ctx->cu, cuModuleLoadData(&module, cubin.data));
  FPX_CU(ctx->cu, cuModuleGetFunction(&function, module, cubin.lowered_name));
  if (ctx->kernel_count == ctx->kernel_capacity) {
    size_t cap = ctx->kernel_capacity ? 2 * ctx->kernel_capacity : 16;
    fpx__kernel *grown = realloc(ctx->kernels, cap * sizeof *grown);
    if (grown == NULL) {
      st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "no memory for the kernel table");
      goto fail;
    }
    ctx->kernels = grown;
    ctx->kernel_capacity = cap;
  }
  ctx->kernels[ctx->kernel_count++] = (fpx__kernel){id, module, function};
  *out_function = function;
  fpx__cubin_free(&cubin);
  pthread_mutex_unlock(&ctx->lock);
  return FPX_OK;
fail:
  if (module != NULL) ctx->cu->cuModuleUnload(module);
  fpx__cubin_free(&cubin);
  pthread_mutex_unlock(&ctx->lock);
  return st;
}

void fpx__ctx_kernels_release(fpx_ctx *ctx) {
  for (size_t i = 0; i < ctx->kernel_count; i++) ctx->cu->cuModuleUnload(ctx->kernels[i].module);
  free(ctx->kernels);
  ctx->kernels = NULL;
  ctx->kernel_count = ctx->kernel_capacity = 0;
}
