/*
 * wgmma_gemm.c - launches the Hopper wgmma GEMM family: checks the device,
 * the key, the configuration and the arguments, gets the kernel from the
 * context's table (compiling on first use), opts in to its shared memory and
 * launches one block of 384 threads per 128 weight rows x `tokens` tokens.
 */
#include "wgmma_gemm.h"

#include <limits.h>

#include "dtype.h"
#include "error.h"

static fpx_status check_args(fpx_ctx *ctx, const fpx__wo_key *key, const fpx__wgmma_config *cfg,
                             const fpx_gemm_args *a) {
  fpx_status st = FPX_OK;
  if (ctx == NULL) return fpx__error(FPX_ERR_INVALID_ARGUMENT, "wgmma gemm: ctx is NULL");
  if (a == NULL) return fpx__error(FPX_ERR_INVALID_ARGUMENT, "wgmma gemm: args is NULL");
  if (ctx->sm_version != 90)
    return fpx__error(FPX_ERR_UNSUPPORTED_DEVICE,
                      "wgmma gemm: %s is %s; the wgmma kernels need sm_90a (Hopper)",
                      ctx->info.name, ctx->info.arch);
  FPX_TRY(fpx__wgmma_key_check(key));
  FPX_TRY(fpx__wgmma_config_check(key, cfg));
  if (a->struct_size < sizeof(fpx_gemm_args))
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "wgmma gemm: args->struct_size %zu < %zu",
                      a->struct_size, sizeof(fpx_gemm_args));
  const fpx_weights *w = a->weights;
  if (w == NULL) return fpx__error(FPX_ERR_INVALID_ARGUMENT, "wgmma gemm: args->weights is NULL");
  if (w->ctx != ctx)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "wgmma gemm: the weights belong to another context");
  if (w->format.exp_bits != key->format.exp_bits || w->format.man_bits != key->format.man_bits ||
      w->group_size != key->group_size || a->x_dtype != key->x_dtype || a->y_dtype != key->y_dtype)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT,
                      "wgmma gemm: the key (e%dm%d, x %s, y %s, group %d) does not match the "
                      "arguments (e%dm%d, x %s, y %s, group %d)",
                      key->format.exp_bits, key->format.man_bits, fpx_dtype_name(key->x_dtype),
                      fpx_dtype_name(key->y_dtype), key->group_size, w->format.exp_bits,
                      w->format.man_bits,
                      fpx_dtype_name(a->x_dtype) ? fpx_dtype_name(a->x_dtype) : "(invalid)",
                      fpx_dtype_name(a->y_dtype) ? fpx_dtype_name(a->y_dtype) : "(invalid)",
                      w->group_size);
  if (a->m == 0 || a->m > INT_MAX)
    return fpx__error(FPX_ERR_UNSUPPORTED_SHAPE, "wgmma gemm: m = %zu is outside 1..%d", a->m, INT_MAX);
  if ((a->m + (size_t)cfg->tokens - 1) / (size_t)cfg->tokens > 65535)
    return fpx__error(FPX_ERR_UNSUPPORTED_SHAPE,
                      "wgmma gemm: m = %zu needs more than 65535 blocks of %d tokens", a->m,
                      cfg->tokens);
  if (w->n > INT_MAX || w->k > INT_MAX)
    return fpx__error(FPX_ERR_UNSUPPORTED_SHAPE, "wgmma gemm: n = %zu, k = %zu exceed %d", w->n,
                      w->k, INT_MAX);
  const int fp8 = fpx__dtype_is_fp8(a->x_dtype);
  /* X is copied in 4-byte words: its rows must start 4-byte aligned */
  if (w->k % (fp8 ? 4 : 2) != 0)
    return fpx__error(FPX_ERR_UNSUPPORTED_SHAPE,
                      "wgmma gemm: K = %zu must be a multiple of %d with %s activations (4-byte "
                      "rows)",
                      w->k, fp8 ? 4 : 2, fpx_dtype_name(a->x_dtype));
  if (a->x == 0 || a->y == 0)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "wgmma gemm: args->%s is a null device pointer",
                      a->x == 0 ? "x" : "y");
  if (a->x % 4 != 0)
    return fpx__error(FPX_ERR_MISALIGNED, "wgmma gemm: x = 0x%llx is not 4-byte aligned",
                      (unsigned long long)a->x);
  const size_t y_size = fpx__dtype_size(a->y_dtype);
  if (a->y % y_size != 0)
    return fpx__error(FPX_ERR_MISALIGNED, "wgmma gemm: y = 0x%llx is not %zu-byte aligned",
                      (unsigned long long)a->y, y_size);
  if (fp8 && a->x_scales == 0)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT,
                      "wgmma gemm: args->x_scales is a null device pointer (needed with %s "
                      "activations)",
                      fpx_dtype_name(a->x_dtype));
  if (fp8 && a->x_scales % 4 != 0)
    return fpx__error(FPX_ERR_MISALIGNED, "wgmma gemm: x_scales = 0x%llx is not 4-byte aligned",
                      (unsigned long long)a->x_scales);
fail:
  return st;
}

fpx_status fpx__wgmma_gemm_launch(fpx_ctx *ctx, const fpx__wo_key *key,
                                  const fpx__wgmma_config *cfg, const fpx_gemm_args *args,
                                  CUstream stream) {
  fpx_status st = FPX_OK;
  FPX_TRY(check_args(ctx, key, cfg, args));
  const fpx_weights *w = args->weights;
  const uint64_t id = fpx__wgmma_gemm_id(key, cfg);
  /* the name expression is only needed to compile: build it on a miss */
  CUfunction fn = fpx__ctx_kernel_find(ctx, id);
  if (fn == NULL) {
    char name[FPX__NAME_EXPR_MAX];
    fpx__wgmma_gemm_name(key, cfg, name);
    FPX_TRY(fpx__ctx_kernel(ctx, id, FPX__TEMPLATE_WGMMA, name, &fn));
  }
  const size_t smem = fpx__wgmma_smem_bytes(cfg);
  /* above 48 KB a kernel must opt in; setting it again is cheap and keeps
   * this file independent of how the kernel table loads functions */
  FPX_CU(ctx->cu, cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)smem));
  const unsigned grid_x = (unsigned)((w->n + FPX__WGMMA_BLOCK_ROWS - 1) / FPX__WGMMA_BLOCK_ROWS);
  const unsigned grid_y = (unsigned)((args->m + (size_t)cfg->tokens - 1) / (size_t)cfg->tokens);
  int m = (int)args->m, n = (int)w->n, k = (int)w->k, per_tensor = args->x_scale_per_tensor != 0;
  CUdeviceptr x_scales = fpx__dtype_is_fp8(args->x_dtype) ? args->x_scales : 0;
  void *params[] = {(void *)&w->packed, (void *)&args->x, (void *)&w->scales, &x_scales,
                    (void *)&args->y, &m, &n, &k, &per_tensor};
  FPX_CU(ctx->cu, cuLaunchKernel(fn, grid_x, grid_y, 1, FPX__WGMMA_THREADS, 1, 1, (unsigned)smem,
                                 stream, params, NULL));
fail:
  return st;
}
