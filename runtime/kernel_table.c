/*
 * kernel_table.c - the context's in-process table of loaded kernels, keyed
 * by a 64-bit configuration id. On a miss the kernel's binary comes from
 * the user database when it holds a verified copy for this NVRTC and arch,
 * else NVRTC compiles it (outside the table lock) and the binary is stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "context.h"
#include "embedded_templates.h"
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

/* Gets a cubin from the database or NVRTC; *from_db tells which. */
static fpx_status get_cubin(fpx_ctx *ctx, const char *template_name, const char *name_expr,
                            fpx__cubin *cubin, int *from_db) {
  char hash[17];
  int found = 0;
  *from_db = 0;
  fpx__kernel_binary_hash(template_name, name_expr, ctx->info.arch, hash);
  if (ctx->user_db != NULL) {
    void *blob = NULL;
    size_t size = 0;
    memset(cubin, 0, sizeof *cubin);
    if (fpx__cache_get_binary(ctx->user_db, hash, &blob, &size, cubin->lowered_name, &found) == FPX_OK &&
        found) {
      cubin->data = blob;
      cubin->size = size;
      *from_db = 1;
      return FPX_OK;
    }
    fpx__error_clear();
  }
  fpx_status st = fpx__compile(template_name, name_expr, ctx->info.arch, cubin);
  if (st == FPX_OK && ctx->user_db != NULL) {
    /* a database that cannot take the binary only costs a later compile */
    fpx__cache_put_binary(ctx->user_db, hash, ctx->info.arch, fpx__nvrtc_version(), cubin->lowered_name,
                          cubin->data, cubin->size);
    fpx__error_clear();
  }
  return st;
}

fpx_status fpx__ctx_kernel(fpx_ctx *ctx, uint64_t id, const char *template_name,
                           const char *name_expr, CUfunction *out_function) {
  fpx_status st = FPX_OK;
  fpx__cubin cubin = {0};
  CUmodule module = NULL;
  CUfunction function = NULL;
  int from_db = 0;
  *out_function = fpx__ctx_kernel_find(ctx, id);
  if (*out_function != NULL) return FPX_OK;
  /* compile without holding the lock: other threads keep launching */
  FPX_TRY(get_cubin(ctx, template_name, name_expr, &cubin, &from_db));
  pthread_mutex_lock(&ctx->lock);
  *out_function = find(ctx, id); /* another thread may have been faster */
  if (*out_function != NULL) {
    pthread_mutex_unlock(&ctx->lock);
    fpx__cubin_free(&cubin);
    return FPX_OK;
  }
  CUresult r = ctx->cu->cuModuleLoadData(&module, cubin.data);
  if (r == CUDA_SUCCESS) r = ctx->cu->cuModuleGetFunction(&function, module, cubin.lowered_name);
  if (r != CUDA_SUCCESS) {
    st = fpx__cu_error(ctx->cu, r, from_db ? "loading a cached kernel" : "loading a compiled kernel");
    goto unlock;
  }
  if (ctx->kernel_count == ctx->kernel_capacity) {
    size_t cap = ctx->kernel_capacity ? 2 * ctx->kernel_capacity : 16;
    fpx__kernel *grown = realloc(ctx->kernels, cap * sizeof *grown);
    if (grown == NULL) {
      st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "no memory for the kernel table");
      goto unlock;
    }
    ctx->kernels = grown;
    ctx->kernel_capacity = cap;
  }
  ctx->kernels[ctx->kernel_count++] = (fpx__kernel){id, module, function};
  module = NULL;
  *out_function = function;
  __atomic_fetch_add(from_db ? &ctx->kernels_loaded : &ctx->kernels_compiled, 1, __ATOMIC_RELAXED);
unlock:
  if (module != NULL) ctx->cu->cuModuleUnload(module);
  pthread_mutex_unlock(&ctx->lock);
fail:
  fpx__cubin_free(&cubin);
  return st;
}

void fpx__ctx_kernels_release(fpx_ctx *ctx) {
  for (size_t i = 0; i < ctx->kernel_count; i++) ctx->cu->cuModuleUnload(ctx->kernels[i].module);
  free(ctx->kernels);
  ctx->kernels = NULL;
  ctx->kernel_count = ctx->kernel_capacity = 0;
}
