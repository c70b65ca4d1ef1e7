/*
 * context.c - fpx_ctx create/destroy, device facts and the context's
 * last-error detail.
 */
#include "context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

fpx_status fpx__ctx_fail(fpx_ctx *ctx, fpx_status status) {
  if (ctx != NULL) {
    pthread_mutex_lock(&ctx->lock);
    snprintf(ctx->last_error, sizeof ctx->last_error, "%s", fpx_last_error());
    pthread_mutex_unlock(&ctx->lock);
  }
  return status;
}

fpx_status fpx__ctx_enter(fpx_ctx *ctx) {
  fpx_status st = FPX_OK;
  FPX_CU(ctx->cu, cuCtxSetCurrent(ctx->cu_ctx));
fail:
  return st;
}

/* FPX_WGMMA_RASTER: a diagnostic override of the wgmma family's tile
 * order (README), 1..4096; 0 (the library's choice) when unset or not
 * such a number, which FPX_LOG=1 reports. */
static int wgmma_raster_from_env(int log) {
  const char *v = getenv("FPX_WGMMA_RASTER");
  if (v == NULL || v[0] == '\0') return 0;
  char *end;
  const long g = strtol(v, &end, 10);
  if (*end == '\0' && g >= 1 && g <= 4096) return (int)g;
  if (log) fprintf(stderr, "fpx: FPX_WGMMA_RASTER '%s' is not a number in 1..4096: ignored\n", v);
  return 0;
}

FPX_API fpx_status fpx_ctx_create(const fpx_ctx_options *options, fpx_ctx **out_ctx) {
  fpx_status st = FPX_OK;
  fpx_ctx *ctx = NULL;
  const fpx__cu_table *cu;
  int ordinal = 0, count = 0, major = 0, minor = 0;
  const char *cache_path = NULL;
  fpx__error_clear();
  if (out_ctx == NULL)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_ctx_create: out_ctx is NULL");
  *out_ctx = NULL;
  if (options != NULL) {
    if (options->struct_size < sizeof(fpx_ctx_options))
      return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_ctx_create: options->struct_size %zu < %zu",
                        options->struct_size, sizeof(fpx_ctx_options));
    ordinal = options->device;
    cache_path = options->cache_path;
    const unsigned known = FPX_CTX_TUNE_ON_FIRST_USE | FPX_CTX_NO_WGMMA;
    if (options->flags & ~known)
      return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_ctx_create: unknown flags 0x%x",
                        options->flags & ~known);
  }
  FPX_TRY(fpx__cu_get(&cu));
  FPX_CU(cu, cuDeviceGetCount(&count));
  if (count == 0)
    return fpx__error(FPX_ERR_NO_DEVICE, "fpx_ctx_create: the CUDA driver sees no device");
  if (ordinal < 0 || ordinal >= count)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT,
                      "fpx_ctx_create: device %d does not exist (%d device%s)", ordinal, count,
                      count == 1 ? "" : "s");
  ctx = calloc(1, sizeof *ctx);
  if (ctx == NULL) return fpx__error(FPX_ERR_OUT_OF_MEMORY, "fpx_ctx_create: no memory");
  pthread_mutex_init(&ctx->lock, NULL);
  ctx->cu = cu;
  FPX_CU(cu, cuDeviceGet(&ctx->device, ordinal));
  FPX_CU(cu, cuDeviceGetName(ctx->info.name, (int)sizeof ctx->info.name, ctx->device));
  FPX_CU(cu, cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, ctx->device));
  FPX_CU(cu, cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, ctx->device));
  FPX_CU(cu, cuDeviceGetAttribute(&ctx->info.sm_count, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
                                  ctx->device));
  FPX_CU(cu, cuDriverGetVersion(&ctx->info.driver_version));
  ctx->sm_version = major * 10 + minor;
  if (ctx->sm_version < 80) {
    st = fpx__error(FPX_ERR_NO_DEVICE,
                    "fpx_ctx_create: %s has compute capability %d.%d; fpx needs 8.0 or newer",
                    ctx->info.name, major, minor);
    goto fail;
  }
  /* sm_90a unlocks wgmma/setmaxnreg; the "a" targets exist for 9.x only */
  snprintf(ctx->info.arch, sizeof ctx->info.arch, "sm_%d%s", ctx->sm_version,
           major == 9 ? "a" : "");
  FPX_CU(cu, cuDevicePrimaryCtxRetain(&ctx->cu_ctx, ctx->device));
  FPX_TRY(fpx__ctx_enter(ctx));
  fpx__ctx_open_databases(ctx, cache_path);
  ctx->wgmma_raster = wgmma_raster_from_env(ctx->log_fallbacks);
  ctx->tune_on_first_use = options != NULL && (options->flags & FPX_CTX_TUNE_ON_FIRST_USE);
  ctx->no_wgmma = options != NULL && (options->flags & FPX_CTX_NO_WGMMA);
  *out_ctx = ctx;
  return FPX_OK;
fail:
  if (ctx != NULL) {
    if (ctx->cu_ctx) cu->cuDevicePrimaryCtxRelease(ctx->device);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx);
  }
  return st;
}

FPX_API void fpx_ctx_destroy(fpx_ctx *ctx) {
  if (ctx == NULL) return;
  if (fpx__ctx_enter(ctx) == FPX_OK) {
    fpx__ctx_kernels_release(ctx);
    fpx__ctx_workspaces_release(ctx);
  }
  ctx->cu->cuDevicePrimaryCtxRelease(ctx->device);
  fpx__ctx_close_databases(ctx);
  pthread_mutex_destroy(&ctx->lock);
  free(ctx);
}

FPX_API const char *fpx_ctx_last_error(const fpx_ctx *ctx) {
  return ctx == NULL ? "fpx_ctx_last_error: ctx is NULL" : ctx->last_error;
}

FPX_API fpx_status fpx_ctx_device_info(fpx_ctx *ctx, fpx_device_info *out_info) {
  fpx__error_clear();
  if (out_info != NULL) memset(out_info, 0, sizeof *out_info);
  if (ctx == NULL || out_info == NULL)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_ctx_device_info: %s is NULL",
                      ctx == NULL ? "ctx" : "out_info");
  *out_info = ctx->info;
  return FPX_OK;
}
