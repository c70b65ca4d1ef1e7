/*
 * weights.c - fpx_weights: eXmY weights packed into the tiled layout on the
 * host and copied to the device once, with their FP32 scales.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "error.h"
#include "format.h"
#include "layout.h"

/* who: the entry point; data_name: its codes argument's name */
static fpx_status check_upload_args(fpx_ctx *ctx, fpx_format format, const void *data,
                                    const float *scales, size_t n, size_t k, int group_size,
                                    fpx_weights **out, const fpx__format_traits **out_traits,
                                    const char *who, const char *data_name) {
  fpx_status st = FPX_OK;
  if (out == NULL) return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: out_weights is NULL", who);
  *out = NULL;
  if (ctx == NULL) return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: ctx is NULL", who);
  FPX_TRY(fpx__format_lookup(format, who, out_traits));
  if (data == NULL || scales == NULL)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: %s is NULL", who,
                      data == NULL ? data_name : "scales");
  if (n == 0 || k == 0 || n > (size_t)1 << 30 || k > (size_t)1 << 30)
    return fpx__error(FPX_ERR_UNSUPPORTED_SHAPE, "%s: shape %zu x %zu is outside 1..2^30 per side",
                      who, n, k);
  size_t count = fpx_scale_count(n, k, group_size);
  if (count == 0)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: group_size %d is not supported", who,
                      group_size);
  for (size_t i = 0; i < count; i++)
    if (!isfinite(scales[i]))
      return fpx__error(FPX_ERR_NON_FINITE, "%s: scale %zu is not finite", who, i);
fail:
  return st;
}

static fpx_status upload(fpx_ctx *ctx, const fpx__format_traits *t, const uint8_t *tiled,
                         const float *scales, size_t n, size_t k, int group_size,
                         fpx_weights **out, const char *who) {
  fpx_status st = FPX_OK;
  fpx_weights *w = calloc(1, sizeof *w);
  const size_t packed_bytes = fpx_tiled_packed_size(t->info.format, n, k);
  const size_t scale_bytes = fpx_scale_count(n, k, group_size) * sizeof(float);
  if (w == NULL) return fpx__error(FPX_ERR_OUT_OF_MEMORY, "%s: no memory", who);
  FPX_TRY(fpx__ctx_enter(ctx));
  w->ctx = ctx;
  w->format = t->info.format;
  w->n = n;
  w->k = k;
  w->group_size = group_size;
  FPX_CU(ctx->cu, cuMemAlloc(&w->packed, packed_bytes));
  FPX_CU(ctx->cu, cuMemAlloc(&w->scales, scale_bytes));
  FPX_CU(ctx->cu, cuMemcpyHtoD(w->packed, tiled, packed_bytes));
  FPX_CU(ctx->cu, cuMemcpyHtoD(w->scales, scales, scale_bytes));
  *out = w;
  return FPX_OK;
fail:
  if (w->packed) ctx->cu->cuMemFree(w->packed);
  if (w->scales) ctx->cu->cuMemFree(w->scales);
  free(w);
  return st;
}

FPX_API fpx_status fpx_weights_upload(fpx_ctx *ctx, fpx_format format, const uint8_t *codes,
                                      const float *scales, size_t n, size_t k, int group_size,
                                      fpx_weights **out_weights) {
  const fpx__format_traits *t = NULL;
  uint8_t *tiled = NULL;
  fpx_status st = FPX_OK;
  fpx__error_clear();
  FPX_TRY(check_upload_args(ctx, format, codes, scales, n, k, group_size, out_weights, &t,
                            "fpx_weights_upload", "codes"));
  for (size_t i = 0; i < n * k; i++)
    if (codes[i] >= (unsigned)t->info.num_codes || !isfinite(t->value[codes[i]])) {
      st = fpx__error(FPX_ERR_INVALID_ARGUMENT,
                      "fpx_weights_upload: code 0x%02X at row %zu, column %zu is not a finite %s value",
                      codes[i], i / k, i % k, t->info.name);
      goto fail;
    }
  tiled = malloc(fpx_tiled_packed_size(format, n, k));
  if (tiled == NULL) {
    st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "fpx_weights_upload: no host memory to pack");
    goto fail;
  }
  FPX_TRY(fpx_pack_tiled(format, codes, n, k, tiled));
  FPX_TRY(upload(ctx, t, tiled, scales, n, k, group_size, out_weights, "fpx_weights_upload"));
fail:
  free(tiled);
  return ctx && st != FPX_OK ? fpx__ctx_fail(ctx, st) : st;
}

FPX_API fpx_status fpx_weights_upload_tiled(fpx_ctx *ctx, fpx_format format, const uint8_t *tiled,
                                            const float *scales, size_t n, size_t k,
                                            int group_size, fpx_weights **out_weights) {
  const fpx__format_traits *t = NULL;
  fpx_status st = FPX_OK;
  fpx__error_clear();
  FPX_TRY(check_upload_args(ctx, format, tiled, scales, n, k, group_size, out_weights, &t,
                            "fpx_weights_upload_tiled", "tiled"));
  FPX_TRY(fpx__tiled_codes_check(t, tiled, n, k, "fpx_weights_upload_tiled"));
  FPX_TRY(upload(ctx, t, tiled, scales, n, k, group_size, out_weights, "fpx_weights_upload_tiled"));
fail:
  return ctx && st != FPX_OK ? fpx__ctx_fail(ctx, st) : st;
}

FPX_API void fpx_weights_destroy(fpx_weights *w) {
  if (w == NULL) return;
  if (fpx__ctx_enter(w->ctx) == FPX_OK) {
    w->ctx->cu->cuMemFree(w->packed);
    w->ctx->cu->cuMemFree(w->scales);
  }
  free(w);
}
