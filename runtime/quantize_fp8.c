/*
 * quantize_fp8.c - fpx_quantize_activations_gpu and fpx_weights_quantize_gpu:
 * validate, fetch the kernels of templates/quantize_fp8.cuh from the
 * context's table (compiling on first use), launch. The weight path is the
 * same row quantizer with W's rows (one scale per output channel) followed by
 * the 8-bit tiled packer, and makes an fpx_weights like fpx_weights_upload's.
 *
 * Launch shapes: a group of 2^g threads per row, the smallest of 32..1024
 * that holds the row at 32 elements per thread (rows up to 32768 elements
 * stay in registers); blocks of max(256, 2^g) threads. Per-tensor mode runs
 * an amax kernel (atomicMax into out_scales[0]), a one-thread kernel that
 * turns it into the scale, then the row kernel; static mode writes the scale
 * with a memset first.
 */
#include "quantize_fp8.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activation_quant.h"
#include "error.h"
#include "format.h"
#include "quantize_fp8_names.h"

#define MAX_ROWS ((size_t)INT_MAX)
#define MAX_K ((size_t)1 << 30)
#define ELEMENTS_PER_THREAD 32
#define AMAX_THREADS 256
#define PACK_THREADS 256

/* What the input matrix is called in messages: "x" with m rows, or "w" with
 * n rows. */
typedef struct matrix_names {
  const char *matrix, *rows;
} matrix_names;

static fpx_status check_input(const char *who, matrix_names nm, fpx_dtype dtype, fpx_devptr x,
                              size_t rows, size_t k) {
  if (dtype != FPX_DTYPE_F16 && dtype != FPX_DTYPE_BF16) {
    const char *name = fpx_dtype_name(dtype);
    if (name != NULL)
      return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: %s_dtype %s is not f16 or bf16", who, nm.matrix, name);
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: %s_dtype %d is not f16 or bf16", who, nm.matrix, (int)dtype);
  }
  if (x == 0)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: %s is a null device pointer", who, nm.matrix);
  if (x % 16 != 0)
    return fpx__error(FPX_ERR_MISALIGNED, "%s: %s = 0x%llx is not 16-byte aligned", who, nm.matrix,
                      (unsigned long long)x);
  if (rows == 0 || k == 0)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: shape %s = %zu, k = %zu is empty", who, nm.rows, rows, k);
  if (k % 8 != 0)
    return fpx__error(FPX_ERR_UNSUPPORTED_SHAPE, "%s: k = %zu must be a multiple of 8 (16-byte rows)", who, k);
  if (k > MAX_K)
    return fpx__error(FPX_ERR_UNSUPPORTED_SHAPE, "%s: k = %zu is above the limit %zu", who, k, MAX_K);
  if (rows > MAX_ROWS)
    return fpx__error(FPX_ERR_UNSUPPORTED_SHAPE, "%s: %s = %zu is above the limit %zu", who, nm.rows, rows,
                      MAX_ROWS);
  return FPX_OK;
}

/* A device pointer argument: nonzero (unless optional) and aligned. */
static fpx_status check_out(const char *who, const char *name, fpx_devptr p, unsigned align, int optional) {
  if (p == 0 && !optional)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: %s is a null device pointer", who, name);
  if (p % align != 0)
    return fpx__error(FPX_ERR_MISALIGNED, "%s: %s = 0x%llx is not %u-byte aligned", who, name,
                      (unsigned long long)p, align);
  return FPX_OK;
}

/* The kernel `id`, compiling it on first use (the name is only built then). */
static fpx_status get_kernel(fpx_ctx *ctx, uint64_t id, const char *name, CUfunction *out) {
  *out = fpx__ctx_kernel_find(ctx, id);
  if (*out != NULL) return FPX_OK;
  return fpx__ctx_kernel(ctx, id, FPX__TEMPLATE_QUANTIZE_FP8, name, out);
}

static fpx_status rows_kernel(fpx_ctx *ctx, const fpx__q8_rows_key *key, CUfunction *out) {
  const uint64_t id = fpx__q8_rows_id(key);
  char name[FPX__NAME_EXPR_MAX];
  *out = fpx__ctx_kernel_find(ctx, id);
  if (*out != NULL) return FPX_OK;
  fpx__q8_rows_name(key, name);
  return get_kernel(ctx, id, name, out);
}

/* log2 of the threads per row: the smallest group of 32..1024 threads that
 * holds a row of k elements at ELEMENTS_PER_THREAD each. */
static int group_log2_for(size_t k) {
  int g = 5;
  while (g < 10 && ((size_t)ELEMENTS_PER_THREAD << g) < k) g++;
  return g;
}

fpx_status fpx__quantize_fp8_gpu(fpx_ctx *ctx, const char *who, const fpx_act_quant_params *params,
                                 fpx_dtype x_dtype, fpx_devptr x, size_t m, size_t k,
                                 fpx_devptr out_codes, fpx_devptr out_scales,
                                 fpx_devptr out_nonfinite, CUstream stream,
                                 fpx__q8_encoder encoder) {
  fpx_act_quant_params p;
  const fpx__format_traits *t;
  CUfunction rows_fn = NULL, amax_fn = NULL, scale_fn = NULL;
  char name[FPX__NAME_EXPR_MAX];
  fpx_status st = FPX_OK;
  if (ctx == NULL) return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: ctx is NULL", who);
  FPX_TRY(fpx__act_params_resolve(params, who, &p, &t));
  FPX_TRY(check_input(who, (matrix_names){"x", "m"}, x_dtype, x, m, k));
  FPX_TRY(check_out(who, "out_codes", out_codes, 16, 0));
  FPX_TRY(check_out(who, "out_scales", out_scales, 4, 0));
  FPX_TRY(check_out(who, "out_nonfinite", out_nonfinite, 4, 1));

  const int bf16 = x_dtype == FPX_DTYPE_BF16, e5m2 = p.format.exp_bits == 5;
  const fpx__q8_rows_key key = {bf16, e5m2, encoder == FPX__Q8_ENCODER_AUTO && ctx->sm_version >= 89,
                                k % 16 == 0 ? 16 : 8};
  FPX_TRY(fpx__ctx_enter(ctx));
  /* every kernel first: a compile failure leaves the caller's buffers alone */
  FPX_TRY(rows_kernel(ctx, &key, &rows_fn));
  if (p.mode == FPX_ACT_SCALE_PER_TENSOR) {
    fpx__q8_amax_name(bf16, name);
    FPX_TRY(get_kernel(ctx, fpx__q8_amax_id(bf16), name, &amax_fn));
    fpx__q8_scale_name(e5m2, name);
    FPX_TRY(get_kernel(ctx, fpx__q8_scale_id(e5m2), name, &scale_fn));
  }

  if (out_nonfinite != 0) FPX_CU(ctx->cu, cuMemsetD32Async(out_nonfinite, 0, 1, stream));
  float scale_ub = p.scale_ub, static_scale = p.static_scale;
  if (p.mode == FPX_ACT_SCALE_PER_TENSOR) {
    long long vecs = (long long)(m * k / 8);
    long long blocks = (vecs + AMAX_THREADS - 1) / AMAX_THREADS;
    const long long max_blocks = 8LL * (ctx->info.sm_count > 0 ? ctx->info.sm_count : 1);
    if (blocks > max_blocks) blocks = max_blocks;
    void *amax_args[] = {&x, &vecs, &out_scales};
    FPX_CU(ctx->cu, cuMemsetD32Async(out_scales, 0, 1, stream));
    FPX_CU(ctx->cu, cuLaunchKernel(amax_fn, (unsigned)blocks, 1, 1, AMAX_THREADS, 1, 1, 0, stream,
                                   amax_args, NULL));
    void *scale_args[] = {&out_scales, &scale_ub};
    FPX_CU(ctx->cu, cuLaunchKernel(scale_fn, 1, 1, 1, 1, 1, 1, 0, stream, scale_args, NULL));
  } else if (p.mode == FPX_ACT_SCALE_STATIC) {
    unsigned bits;
    memcpy(&bits, &static_scale, sizeof bits);
    FPX_CU(ctx->cu, cuMemsetD32Async(out_scales, bits, 1, stream));
  }
  int group_log2 = group_log2_for(k), mode = (int)p.mode, kk = (int)k;
  long long mm = (long long)m;
  const unsigned threads = (1u << group_log2) > 256 ? (1u << group_log2) : 256;
  const size_t rows_per_block = threads >> group_log2;
  const unsigned grid = (unsigned)((m + rows_per_block - 1) / rows_per_block);
  void *args[] = {&x, &out_codes, &out_scales, &out_nonfinite, &mm, &kk,
                  &group_log2, &mode, &scale_ub, &static_scale};
  FPX_CU(ctx->cu, cuLaunchKernel(rows_fn, grid, 1, 1, threads, 1, 1, 0, stream, args, NULL));
fail:
  return st;
}

FPX_API fpx_status fpx_quantize_activations_gpu(fpx_ctx *ctx, const fpx_act_quant_params *params,
                                                fpx_dtype x_dtype, fpx_devptr x, size_t m,
                                                size_t k, fpx_devptr out_codes,
                                                fpx_devptr out_scales,
                                                fpx_devptr out_nonfinite, fpx_stream stream) {
  fpx__error_clear();
  fpx_status st = fpx__quantize_fp8_gpu(ctx, "fpx_quantize_activations_gpu", params, x_dtype, x, m, k,
                                        out_codes, out_scales, out_nonfinite, (CUstream)stream,
                                        FPX__Q8_ENCODER_AUTO);
  return st != FPX_OK && ctx != NULL ? fpx__ctx_fail(ctx, st) : st;
}

/* Names the first row whose scale is NaN (the rows holding NaN or Inf). */
static fpx_status non_finite_error(fpx_ctx *ctx, const char *who, CUdeviceptr scales, size_t n,
                                   unsigned count) {
  fpx_status st = FPX_OK;
  float *host = malloc(n * sizeof *host);
  size_t row = n;
  if (host == NULL) {
    st = fpx__error(FPX_ERR_NON_FINITE, "%s: %u row%s of W hold NaN or Inf; no weights made", who, count,
                    count == 1 ? "" : "s");
    goto fail;
  }
  FPX_CU(ctx->cu, cuMemcpyDtoH(host, scales, n * sizeof *host));
  for (size_t r = 0; r < n && row == n; r++)
    if (host[r] != host[r]) row = r;
  st = fpx__error(FPX_ERR_NON_FINITE, "%s: row %zu of W holds NaN or Inf (%u row%s in all); no weights made",
                  who, row, count, count == 1 ? "" : "s");
fail:
  free(host);
  return st;
}

FPX_API fpx_status fpx_weights_quantize_gpu(fpx_ctx *ctx, fpx_format format, fpx_dtype w_dtype,
                                            fpx_devptr w, size_t n, size_t k,
                                            fpx_weights **out_weights) {
  static const char who[] = "fpx_weights_quantize_gpu";
  const fpx__format_traits *t;
  fpx_weights *wt = NULL;
  CUdeviceptr tmp = 0;
  CUfunction pack_fn = NULL;
  char name[FPX__NAME_EXPR_MAX];
  int launched = 0;
  fpx_status st = FPX_OK;
  fpx__error_clear();
  if (out_weights == NULL) return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: out_weights is NULL", who);
  *out_weights = NULL;
  if (ctx == NULL) return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: ctx is NULL", who);
  FPX_TRY(fpx__format_lookup(format, who, &t));
  if (!((format.exp_bits == 4 && format.man_bits == 3) || (format.exp_bits == 5 && format.man_bits == 2))) {
    st = fpx__error(FPX_ERR_UNSUPPORTED_FORMAT,
                    "%s: format %s is not e4m3 or e5m2 (the GPU quantizer makes FP8 weights only; "
                    "quantize other formats with fpx_quantize and fpx_weights_upload)",
                    who, t->info.name);
    goto fail;
  }
  FPX_TRY(check_input(who, (matrix_names){"w", "n"}, w_dtype, w, n, k));
  if (n > MAX_K) { /* the limit of every fpx_weights */
    st = fpx__error(FPX_ERR_UNSUPPORTED_SHAPE, "%s: n = %zu is above the limit %zu", who, n, MAX_K);
    goto fail;
  }

  FPX_TRY(fpx__ctx_enter(ctx));
  fpx__q8_pack_name(name);
  FPX_TRY(get_kernel(ctx, fpx__q8_pack_id(), name, &pack_fn));
  const size_t codes_bytes = (n * k + 15) / 16 * 16; /* the row counter follows the codes */
  const size_t packed_bytes = fpx_tiled_packed_size(format, n, k);
  if ((wt = calloc(1, sizeof *wt)) == NULL) {
    st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "%s: no host memory", who);
    goto fail;
  }
  wt->ctx = ctx;
  wt->format = format;
  wt->n = n;
  wt->k = k;
  wt->group_size = 0;
  FPX_CU(ctx->cu, cuMemAlloc(&wt->packed, packed_bytes));
  FPX_CU(ctx->cu, cuMemAlloc(&wt->scales, n * sizeof(float)));
  FPX_CU(ctx->cu, cuMemAlloc(&tmp, codes_bytes + 16));

  const fpx_act_quant_params params = {sizeof params, FPX_ACT_SCALE_PER_ROW, 0, 0, format};
  const CUdeviceptr counter = tmp + codes_bytes;
  launched = 1;
  FPX_TRY(fpx__quantize_fp8_gpu(ctx, who, &params, w_dtype, w, n, k, tmp, wt->scales, counter, NULL,
                                FPX__Q8_ENCODER_AUTO));
  int nn = (int)n, kk = (int)k;
  long long vectors = (long long)(packed_bytes / 16);
  void *args[] = {&tmp, &wt->packed, &nn, &kk, &vectors};
  FPX_CU(ctx->cu, cuLaunchKernel(pack_fn, (unsigned)((vectors + PACK_THREADS - 1) / PACK_THREADS), 1, 1,
                                 PACK_THREADS, 1, 1, 0, NULL, args, NULL));
  FPX_CU(ctx->cu, cuStreamSynchronize(NULL));
  launched = 0;
  unsigned bad_rows = 0;
  FPX_CU(ctx->cu, cuMemcpyDtoH(&bad_rows, counter, sizeof bad_rows));
  if (bad_rows != 0) {
    st = non_finite_error(ctx, who, wt->scales, n, bad_rows);
    goto fail;
  }
  ctx->cu->cuMemFree(tmp);
  *out_weights = wt;
  return FPX_OK;
fail:
  /* queued work must finish before its buffers go; after a failure the
   * stream may be broken, so the result does not matter */
  if (launched) (void)ctx->cu->cuStreamSynchronize(NULL);
  if (tmp) ctx->cu->cuMemFree(tmp);
  if (wt != NULL) {
    if (wt->packed) ctx->cu->cuMemFree(wt->packed);
    if (wt->scales) ctx->cu->cuMemFree(wt->scales);
    free(wt);
  }
  return fpx__ctx_fail(ctx, st);
}
