/*
 * gemm.c - fpx_gemm and fpx_dequant: validate, pick the configuration, get
 * the kernel from the context's table (compiling on first use), launch.
 */
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "config.h"
#include "context.h"
#include "dtype.h"
#include "error.h"
#include "wgmma_gemm.h"

static fpx_status check_gemm_args(fpx_ctx *ctx, const fpx_gemm_args *a) {
  if (ctx == NULL) return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_gemm: ctx is NULL");
  if (a == NULL) return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_gemm: args is NULL");
  /* callers built before the FP8 fields existed pass the shorter size */
  const size_t old_size = offsetof(fpx_gemm_args, x_scales);
  if (a->struct_size != old_size && a->struct_size < sizeof(fpx_gemm_args))
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_gemm: args->struct_size %zu is neither %zu nor >= %zu",
                      a->struct_size, old_size, sizeof(fpx_gemm_args));
  const int fp8_x = a->x_dtype == FPX_DTYPE_E4M3 || a->x_dtype == FPX_DTYPE_E5M2;
  if (fp8_x && a->struct_size < sizeof(fpx_gemm_args))
    return fpx__error(FPX_ERR_INVALID_ARGUMENT,
                      "fpx_gemm: x_dtype %s needs args->x_scales, which args->struct_size %zu "
                      "does not include",
                      fpx_dtype_name(a->x_dtype), a->struct_size);
  if (a->weights == NULL) return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_gemm: args->weights is NULL");
  if (a->weights->ctx != ctx)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_gemm: the weights belong to another context");
  if (a->m == 0 || a->m > INT_MAX)
    return fpx__error(FPX_ERR_UNSUPPORTED_SHAPE, "fpx_gemm: m = %zu is outside 1..%d", a->m, INT_MAX);
  if (a->weights->k % 8 != 0)
    return fpx__error(FPX_ERR_UNSUPPORTED_SHAPE,
                      "fpx_gemm: K = %zu must be a multiple of 8 (16-byte activation rows)",
                      a->weights->k);
  if (a->m * a->weights->n > (size_t)INT_MAX * 8 || a->m * a->weights->k > (size_t)INT_MAX * 8)
    return fpx__error(FPX_ERR_UNSUPPORTED_SHAPE, "fpx_gemm: m = %zu is too large for this shape", a->m);
  if (a->x == 0 || a->y == 0)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_gemm: args->%s is a null device pointer",
                      a->x == 0 ? "x" : "y");
  if (a->x % 16 != 0)
    return fpx__error(FPX_ERR_MISALIGNED, "fpx_gemm: x = 0x%llx is not 16-byte aligned",
                      (unsigned long long)a->x);
  if (fp8_x) {
    if (a->weights->k % 16 != 0)
      return fpx__error(FPX_ERR_UNSUPPORTED_SHAPE,
                        "fpx_gemm: K = %zu must be a multiple of 16 with FP8 activations "
                        "(16-byte rows)",
                        a->weights->k);
    if (a->x_scales == 0)
      return fpx__error(FPX_ERR_INVALID_ARGUMENT,
                        "fpx_gemm: args->x_scales is a null device pointer (x_dtype %s needs "
                        "the activation scales)",
                        fpx_dtype_name(a->x_dtype));
    if (a->x_scales % 4 != 0)
      return fpx__error(FPX_ERR_MISALIGNED, "fpx_gemm: x_scales = 0x%llx is not 4-byte aligned",
                        (unsigned long long)a->x_scales);
    if (ctx->sm_version < 89)
      return fpx__error(FPX_ERR_UNSUPPORTED_DEVICE,
                        "fpx_gemm: x_dtype %s needs FP8 tensor cores (sm_89 or later); this GPU "
                        "is sm_%d",
                        fpx_dtype_name(a->x_dtype), ctx->sm_version);
  }
  size_t y_size = fpx__dtype_size(a->y_dtype);
  if (y_size != 0 && a->y % y_size != 0)
    return fpx__error(FPX_ERR_MISALIGNED, "fpx_gemm: y = 0x%llx is not %zu-byte aligned",
                      (unsigned long long)a->y, y_size);
  return FPX_OK;
}

/* A kernel-1 configuration on this device and key: sm_90 and what the
 * wgmma family accepts; names the configuration. */
static fpx_status check_wgmma(const fpx_ctx *ctx, const fpx__wo_key *key, const fpx_wo_config *c,
                              const char *who) {
  const fpx__wgmma_config w = fpx__wgmma_config_of(c);
  char text[48];
  fpx_status st = FPX_OK;
  fpx__wo_config_text(c, text, sizeof text);
  if (ctx->sm_version != 90)
    return fpx__error(FPX_ERR_UNSUPPORTED_DEVICE,
                      "%s: config %s (kernel 1) needs an sm_90 GPU (H100, H200); %s is %s", who,
                      text, ctx->info.name, ctx->info.arch);
  FPX_TRY(fpx__wgmma_key_check(key));
  FPX_TRY(fpx__wgmma_config_check(key, &w));
fail:
  return st;
}

static fpx_status resolve(fpx_ctx *ctx, const fpx_gemm_args *a, fpx__wo_key *key,
                          fpx_wo_config *config) {
  fpx_status st = FPX_OK;
  FPX_TRY(check_gemm_args(ctx, a));
  *key = (fpx__wo_key){a->weights->format, a->x_dtype, a->y_dtype, a->weights->group_size};
  FPX_TRY(fpx__wo_key_check(key));
  if (a->config != NULL) {
    *config = *a->config;
    FPX_TRY(fpx__wo_config_check(config));
    if (config->kernel == 1) FPX_TRY(check_wgmma(ctx, key, config, "fpx_gemm"));
    __atomic_fetch_add(&ctx->source_calls[FPX__SRC_EXPLICIT], 1, __ATOMIC_RELAXED);
  } else {
    FPX_TRY(fpx__ctx_resolve_config(ctx, key, a->m, a->weights->n, a->weights->k, config));
  }
fail:
  return st;
}

FPX_API fpx_status fpx_gemm_default_config(fpx_ctx *ctx, const fpx_gemm_args *args,
                                           fpx_wo_config *out_config) {
  fpx__wo_key key;
  fpx_wo_config config;
  fpx_status st = FPX_OK;
  fpx__error_clear();
  if (out_config == NULL)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_gemm_default_config: out_config is NULL");
  memset(out_config, 0, sizeof *out_config);
  FPX_TRY(check_gemm_args(ctx, args));
  key = (fpx__wo_key){args->weights->format, args->x_dtype, args->y_dtype, args->weights->group_size};
  FPX_TRY(fpx__wo_key_check(&key));
  FPX_TRY(fpx__ctx_resolve_config(ctx, &key, args->m, args->weights->n, args->weights->k, &config));
  *out_config = config;
fail:
  return ctx && st != FPX_OK ? fpx__ctx_fail(ctx, st) : st;
}

fpx_status fpx__ctx_prepare_gemm(fpx_ctx *ctx, const fpx__wo_key *key, const fpx_wo_config *config) {
  fpx_status st = FPX_OK;
  CUfunction fn;
  char name[FPX__NAME_EXPR_MAX];
  FPX_TRY(fpx__wo_key_check(key));
  FPX_TRY(fpx__wo_config_check(config));
  if (config->kernel == 1) FPX_TRY(check_wgmma(ctx, key, config, "fpx__ctx_prepare_gemm"));
  FPX_TRY(fpx__ctx_enter(ctx));
  fpx__wo_gemm_name(key, config, name);
  FPX_TRY(fpx__ctx_kernel(ctx, fpx__wo_gemm_id(key, config),
                          config->kernel == 1 ? FPX__TEMPLATE_WGMMA : FPX__TEMPLATE_WEIGHT_ONLY, name,
                          &fn));
fail:
  return st;
}

void fpx__wo_launch_init(fpx__wo_launch *l, const fpx__wo_key *key, const fpx_wo_config *cfg,
                         const fpx_gemm_args *args) {
  const fpx_weights *w = args->weights;
  const int fp8_x = key->x_dtype == FPX_DTYPE_E4M3 || key->x_dtype == FPX_DTYPE_E5M2;
  l->x_scales = fp8_x ? (CUdeviceptr)args->x_scales : 0;
  l->x_scale_stride = fp8_x && !args->x_scale_per_tensor ? 1 : 0;
  l->partials = l->counters = 0;
  l->m = (int)args->m;
  l->n = (int)w->n;
  l->k = (int)w->k;
  l->grid_x = (unsigned)(((w->n + 15) / 16 + cfg->warps_n - 1) / cfg->warps_n);
  l->grid_y = (unsigned)((args->m + 8 * cfg->m_tiles - 1) / (8 * cfg->m_tiles));
  l->threads = 32u * cfg->warps_n * cfg->warps_k;
  void *params[] = {(void *)&w->packed, (void *)&args->x,  (void *)&w->scales, &l->x_scales,
                    &l->x_scale_stride, (void *)&args->y, &l->partials,       &l->counters,
                    &l->m,              &l->n,            &l->k};
  memcpy(l->params, params, sizeof params);
}

fpx_status fpx__gemm_launch(fpx_ctx *ctx, const fpx__wo_key *key, const fpx_wo_config *cfg,
                            const fpx_gemm_args *args, CUstream stream) {
  fpx_status st = FPX_OK;
  const fpx_weights *w = args->weights;
  if (cfg->kernel == 1) {
    fpx_gemm_args full; /* a caller's older, shorter args: the new fields zero */
    const fpx__wgmma_config wcfg = fpx__wgmma_config_of(cfg);
    FPX_TRY(check_wgmma(ctx, key, cfg, "fpx_gemm"));
    memset(&full, 0, sizeof full);
    memcpy(&full, args, args->struct_size < sizeof full ? args->struct_size : sizeof full);
    full.struct_size = sizeof full;
    return fpx__wgmma_gemm_launch(ctx, key, &wcfg, &full, stream);
  }
  const uint64_t id = fpx__wo_gemm_id(key, cfg);
  /* the name expression is only needed to compile: build it on a miss */
  CUfunction fn = fpx__ctx_kernel_find(ctx, id);
  if (fn == NULL) {
    char name[FPX__NAME_EXPR_MAX];
    fpx__wo_gemm_name(key, cfg, name);
    FPX_TRY(fpx__ctx_kernel(ctx, id, FPX__TEMPLATE_WEIGHT_ONLY, name, &fn));
  }
  const size_t k_blocks = (w->k + 255) / 256;
  unsigned split = (unsigned)cfg->split_k;
  if (split > k_blocks) split = (unsigned)k_blocks;
  /* gridDim.y counts blocks of 8 * m_tiles tokens and stops at 65535: a
   * larger M runs as launches over consecutive chunks of tokens, in stream
   * order (the first is the largest, so a split-K workspace sized for it
   * serves them all). The chunk's arguments start at its first token. */
  const size_t chunk_tokens = (size_t)FPX__MAX_GRID_Y * 8 * (size_t)cfg->m_tiles;
  const int chunked = args->m > chunk_tokens;
  fpx_gemm_args part; /* chunked only: a full-size copy (a caller's older, shorter args: the new fields zero) */
  if (chunked) {
    memset(&part, 0, sizeof part);
    memcpy(&part, args, args->struct_size < sizeof part ? args->struct_size : sizeof part);
    part.struct_size = sizeof part;
  }
  const fpx_devptr x_scales = chunked ? part.x_scales : 0;
  const int per_token_scales = chunked && fpx__dtype_is_fp8(key->x_dtype) && !part.x_scale_per_tensor;
  for (size_t m0 = 0; m0 < args->m; m0 += chunk_tokens) {
    if (chunked) {
      part.m = args->m - m0 < chunk_tokens ? args->m - m0 : chunk_tokens;
      part.x = args->x + m0 * w->k * fpx__dtype_size(key->x_dtype);
      part.y = args->y + m0 * w->n * fpx__dtype_size(key->y_dtype);
      if (per_token_scales) part.x_scales = x_scales + m0 * sizeof(float);
    }
    const fpx_gemm_args *a = chunked ? &part : args;
    fpx__wo_launch l;
    fpx__wo_launch_init(&l, key, cfg, a);
    if (split > 1)
      FPX_TRY(fpx__ctx_workspace(ctx, stream, (size_t)split * a->m * w->n * sizeof(float),
                                 (size_t)l.grid_x * l.grid_y, &l.partials, &l.counters));
    FPX_CU(ctx->cu, cuLaunchKernel(fn, l.grid_x, l.grid_y, split, l.threads, 1, 1, 0, stream, l.params, NULL));
  }
fail:
  return st;
}

int fpx__gemm_wgmma_choice(const fpx_ctx *ctx, const fpx__wo_key *key, size_t m, size_t n,
                           size_t k, fpx__wgmma_config *out) {
  fpx_wo_config c;
  if (ctx->no_wgmma ||
      !fpx__wgmma_auto_config(ctx->sm_version, ctx->info.sm_count, key, m, n, k, &c))
    return 0;
  /* beyond the family's grid (65535 blocks of tokens) the mma.sync family
   * runs the call, in chunks of tokens */
  if ((m + (size_t)c.tokens - 1) / (size_t)c.tokens > FPX__MAX_GRID_Y) return 0;
  *out = fpx__wgmma_config_of(&c);
  return 1;
}

FPX_API fpx_status fpx_gemm(fpx_ctx *ctx, const fpx_gemm_args *args, fpx_stream stream) {
  fpx__wo_key key;
  fpx_wo_config cfg;
  fpx_status st = FPX_OK;
  fpx__error_clear();
  FPX_TRY(resolve(ctx, args, &key, &cfg));
  FPX_TRY(fpx__ctx_enter(ctx));
  if (args->config == NULL && ctx->tune_on_first_use)
    FPX_TRY(fpx__ctx_tune_first_use(ctx, &key, args, (CUstream)stream, &cfg));
  FPX_TRY(fpx__gemm_launch(ctx, &key, &cfg, args, (CUstream)stream));
  return FPX_OK;
fail:
  return ctx && st != FPX_OK ? fpx__ctx_fail(ctx, st) : st;
}

FPX_API fpx_status fpx_dequant(fpx_ctx *ctx, const fpx_weights *w, fpx_dtype out_dtype,
                               fpx_devptr out, fpx_stream stream) {
  CUfunction fn;
  char name[FPX__NAME_EXPR_MAX];
  fpx_status st = FPX_OK;
  fpx__error_clear();
  if (ctx == NULL) return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_dequant: ctx is NULL");
  if (w == NULL) {
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_dequant: weights is NULL");
    goto fail;
  }
  if (w->ctx != ctx) {
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_dequant: the weights belong to another context");
    goto fail;
  }
  if (out_dtype != FPX_DTYPE_F16 && out_dtype != FPX_DTYPE_BF16) {
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_dequant: out_dtype %d is not f16 or bf16",
                    (int)out_dtype);
    goto fail;
  }
  if (out == 0 || out % 2 != 0) {
    st = fpx__error(out == 0 ? FPX_ERR_INVALID_ARGUMENT : FPX_ERR_MISALIGNED,
                    "fpx_dequant: out = 0x%llx is %s", (unsigned long long)out,
                    out == 0 ? "a null device pointer" : "not 2-byte aligned");
    goto fail;
  }
  FPX_TRY(fpx__ctx_enter(ctx));
  fpx__wo_dequant_name(w->format, out_dtype, w->group_size, name);
  FPX_TRY(fpx__ctx_kernel(ctx, fpx__wo_dequant_id(w->format, out_dtype, w->group_size),
                          FPX__TEMPLATE_WEIGHT_ONLY, name, &fn));
  const size_t blocks = ((w->n + 15) / 16) * ((w->k + 255) / 256);
  int n = (int)w->n, k = (int)w->k;
  void *params[] = {(void *)&w->packed, (void *)&w->scales, &out, &n, &k};
  FPX_CU(ctx->cu, cuLaunchKernel(fn, (unsigned)((blocks + 3) / 4), 1, 1, 128, 1, 1, 0,
                                 (CUstream)stream, params, NULL));
  return FPX_OK;
fail:
  return fpx__ctx_fail(ctx, st);
}
