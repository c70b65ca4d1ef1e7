/*
 * wgmma_gemm.c - launches the Hopper wgmma GEMM family: checks the device,
 * the key, the configuration and the arguments, gets the kernel from the
 * context's table (compiling on first use), opts in to its shared memory,
 * writes X permuted into the stream's workspace (the pass the TMA copies
 * need, see the template) and launches the GEMM as a programmatic
 * dependent of that pass (its start overlaps the pass): one block of 384
 * threads per SM at most, each taking every gridDim-th unit (128 weight
 * rows x `tokens` tokens x one split of K), in chunks of tokens when X or
 * the split-K partials would be large.
 */
#include "wgmma_gemm.h"

#include <limits.h>
#include <string.h>

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
  if ((a->m + (size_t)cfg->tokens - 1) / (size_t)cfg->tokens > FPX__MAX_GRID_Y)
    return fpx__error(FPX_ERR_UNSUPPORTED_SHAPE,
                      "wgmma gemm: m = %zu needs more than %d blocks of %d tokens", a->m,
                      FPX__MAX_GRID_Y, cfg->tokens);
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

/* Tensor map of the permuted X of `rows` rows of `row_bytes` bytes at xp:
 * boxes of 128 bytes x tokens rows, 128-byte swizzle, zeros outside. */
static fpx_status encode_x_map(fpx_ctx *ctx, CUdeviceptr xp, size_t rows, size_t row_bytes,
                               int x_size, int tokens, CUtensorMap *map) {
  fpx_status st = FPX_OK;
  const cuuint64_t dims[2] = {row_bytes / (size_t)x_size, rows};
  const cuuint64_t strides[1] = {row_bytes};
  const cuuint32_t box[2] = {128u / (cuuint32_t)x_size, (cuuint32_t)tokens};
  const cuuint32_t element_strides[2] = {1, 1};
  FPX_CU(ctx->cu, cuTensorMapEncodeTiled(
                      map, x_size == 1 ? CU_TENSOR_MAP_DATA_TYPE_UINT8 : CU_TENSOR_MAP_DATA_TYPE_UINT16,
                      2, (void *)xp, dims, strides, box, element_strides,
                      CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                      CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE));
fail:
  return st;
}

/* Tensor map of 16-bit Y (rows x n at y) for the epilogue's TMA stores:
 * boxes of 64 columns x tokens rows, 128-byte swizzle (the layout the
 * kernel writes its tile in); stores past the tensor are dropped. Needs
 * y 16-byte aligned and n % 8 == 0 (row pitch a multiple of 16 bytes). */
static fpx_status encode_y_map(fpx_ctx *ctx, CUdeviceptr y, size_t rows, size_t n, int tokens,
                               CUtensorMap *map) {
  fpx_status st = FPX_OK;
  const cuuint64_t dims[2] = {n, rows};
  const cuuint64_t strides[1] = {n * 2};
  const cuuint32_t box[2] = {64, (cuuint32_t)tokens};
  const cuuint32_t element_strides[2] = {1, 1};
  FPX_CU(ctx->cu, cuTensorMapEncodeTiled(map, CU_TENSOR_MAP_DATA_TYPE_UINT16, 2, (void *)y, dims, strides,
                                         box, element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                                         CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_NONE,
                                         CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE));
fail:
  return st;
}

fpx_status fpx__wgmma_gemm_launch(fpx_ctx *ctx, const fpx__wo_key *key,
                                  const fpx__wgmma_config *cfg, const fpx_gemm_args *args,
                                  CUstream stream) {
  fpx_status st = FPX_OK;
  FPX_TRY(check_args(ctx, key, cfg, args));
  const fpx_weights *w = args->weights;
  char name[FPX__NAME_EXPR_MAX];
  CUfunction gemm = NULL, permute = NULL;
  /* 16-bit Y through TMA stores where the rows allow them (each chunk of
   * tokens below starts n x 2 x a multiple of 8 bytes further) */
  fpx__wgmma_config inst = *cfg;
  inst.y_direct = fpx__wgmma_y_direct(cfg, w->n, (uint64_t)args->y);
  cfg = &inst;
  /* the name expressions are only needed to compile: built on a miss */
  const uint64_t gemm_id = fpx__wgmma_gemm_id(key, cfg);
  const uint64_t permute_id = fpx__wgmma_permute_id(key);
  if ((gemm = fpx__ctx_kernel_find(ctx, gemm_id)) == NULL) {
    fpx__wgmma_gemm_name(key, cfg, name);
    FPX_TRY(fpx__ctx_kernel(ctx, gemm_id, FPX__TEMPLATE_WGMMA, name, &gemm));
  }
  if ((permute = fpx__ctx_kernel_find(ctx, permute_id)) == NULL) {
    fpx__wgmma_permute_name(key, name);
    FPX_TRY(fpx__ctx_kernel(ctx, permute_id, FPX__TEMPLATE_WGMMA, name, &permute));
  }
  const size_t smem = fpx__wgmma_smem_bytes(cfg);
  /* above 48 KB a kernel must opt in; setting it again is cheap and keeps
   * this file independent of how the kernel table loads functions */
  FPX_CU(ctx->cu, cuFuncSetAttribute(gemm, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)smem));

  /* split-K: at most one split per 256-column block, so none is empty;
   * stream-K counts as split 1 for the workspace's chunks (its partials
   * are two tiles per block, below) */
  fpx__wgmma_config run = *cfg;
  const size_t k_blocks = (w->k + 255) / 256;
  const int stream_k = run.split_k == FPX_SPLIT_K_STREAM;
  if (!stream_k && (size_t)run.split_k > k_blocks) run.split_k = (int)k_blocks;
  if (run.raster == 0) run.raster = ctx->wgmma_raster; /* FPX_WGMMA_RASTER, else 0: the rule */
  const int weight_bits = 1 + w->format.exp_bits + w->format.man_bits;
  const unsigned split = stream_k ? 1u : (unsigned)run.split_k;
  /* blocks: one per SM (they stay resident: 384 threads and most of the
   * shared memory each), fewer where the configuration says so */
  size_t max_blocks = (size_t)(ctx->info.sm_count > 0 ? ctx->info.sm_count : 1);
  if (cfg->max_blocks > 0 && (size_t)cfg->max_blocks < max_blocks) max_blocks = (size_t)cfg->max_blocks;

  /* X permuted into a workspace of rows of K rounded up to 32 columns, then
   * the split-K partials; in chunks of whole token tiles that fit
   * FPX__WGMMA_X_WORKSPACE_MAX and FPX__WGMMA_PARTIALS_MAX (at least one) */
  const int fp8 = fpx__dtype_is_fp8(args->x_dtype);
  const int x_size = fp8 ? 1 : 2;
  const size_t tokens = (size_t)cfg->tokens;
  const size_t chunks_per_row = (w->k + 31) / 32 * (size_t)(fp8 ? 2 : 4);
  const size_t row_bytes = chunks_per_row * 16;
  const size_t tile_partial_bytes = fpx__wgmma_partial_bytes(&run, w->n);
  size_t chunk_tiles = FPX__WGMMA_X_WORKSPACE_MAX / (row_bytes * tokens);
  if (tile_partial_bytes > 0 && FPX__WGMMA_PARTIALS_MAX / tile_partial_bytes < chunk_tiles)
    chunk_tiles = FPX__WGMMA_PARTIALS_MAX / tile_partial_bytes;
  if (chunk_tiles < 1) chunk_tiles = 1;
  size_t chunk_rows = chunk_tiles * tokens;
  if (chunk_rows > args->m) chunk_rows = args->m;
  const size_t chunk_y = (chunk_rows + tokens - 1) / tokens;
  const size_t x_bytes = (chunk_rows * row_bytes + 255) / 256 * 256;
  const unsigned grid_x = (unsigned)((w->n + FPX__WGMMA_BLOCK_ROWS - 1) / FPX__WGMMA_BLOCK_ROWS);
  /* the kernel counts a chunk's units (tiles x splits) or stream-K
   * iterations (tiles x column blocks) in an int */
  const unsigned long long per_tile = stream_k ? k_blocks : split;
  if ((unsigned long long)grid_x * chunk_y * per_tile > INT_MAX - 65536)
    return fpx__error(FPX_ERR_UNSUPPORTED_SHAPE,
                      "wgmma gemm: n = %zu with %zu tiles of %zu tokens makes more than %d %s",
                      w->n, chunk_y, tokens, INT_MAX - 65536, stream_k ? "stream-K iterations" : "units");
  const size_t partial_bytes =
      stream_k ? fpx__wgmma_stream_partial_bytes(&run, max_blocks) : chunk_y * tile_partial_bytes;
  CUdeviceptr xp = 0, counters = 0;
  FPX_TRY(fpx__ctx_workspace(ctx, stream, x_bytes + partial_bytes,
                             split > 1 || stream_k ? (size_t)grid_x * chunk_y : 1, &xp, &counters));
  CUdeviceptr partials = split > 1 || stream_k ? xp + x_bytes : 0;

  const size_t y_size = fpx__dtype_size(args->y_dtype);
  int n = (int)w->n, k = (int)w->k, per_tensor = args->x_scale_per_tensor != 0;
  for (size_t m0 = 0; m0 < args->m; m0 += chunk_rows) {
    const size_t rows = args->m - m0 < chunk_rows ? args->m - m0 : chunk_rows;
    int m = (int)rows;
    CUdeviceptr x = args->x + m0 * w->k * (size_t)x_size;
    void *permute_params[] = {&x, &xp, &m, &k};
    FPX_CU(ctx->cu, cuLaunchKernel(permute, (unsigned)((chunks_per_row + 255) / 256),
                                   (unsigned)(rows < 65535 ? rows : 65535), 1, 256, 1, 1, 0, stream,
                                   permute_params, NULL));
    CUtensorMap map;
    FPX_TRY(encode_x_map(ctx, xp, rows, row_bytes, x_size, cfg->tokens, &map));
    CUdeviceptr y = args->y + m0 * w->n * y_size;
    CUtensorMap y_map;
    memset(&y_map, 0, sizeof y_map);
    if (fpx__wgmma_y_tma(key, cfg)) FPX_TRY(encode_y_map(ctx, y, rows, w->n, cfg->tokens, &y_map));
    CUdeviceptr x_scales = !fp8 ? 0 : args->x_scales + (per_tensor ? 0 : m0 * sizeof(float));
    /* no more blocks than units (or stream-K iterations): none is idle */
    const int token_tiles = (int)((rows + tokens - 1) / tokens);
    const size_t units = (size_t)grid_x * (size_t)token_tiles * (size_t)per_tile;
    const size_t blocks = max_blocks < units ? max_blocks : units;
    int split_param = stream_k ? 0 : (int)split; /* 0: stream-K in the kernel */
    /* the tile order (raster_tile in the template): groups of 2^raster_log2
     * token tiles, the first raster_whole_tiles tiles in whole groups */
    const int raster = fpx__wgmma_raster(&run, weight_bits, x_size, blocks, w->n, rows);
    int raster_log2 = 0;
    while ((1 << raster_log2) < raster) raster_log2++;
    int raster_whole_tiles = (token_tiles >> raster_log2 << raster_log2) * (int)grid_x;
    void *params[] = {(void *)&w->packed, &map, (void *)&w->scales, &x_scales, &y, &m, &n, &k,
                      &per_tensor, &split_param, &partials, &counters, &raster_log2,
                      &raster_whole_tiles, &y_map};
    /* a programmatic dependent of the pass: its blocks may start before
     * the pass ends (the kernel waits for it before reading X) */
    CUlaunchAttribute attr = {.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION,
                              .value.programmaticStreamSerializationAllowed = 1};
    const CUlaunchConfig launch = {.gridDimX = (unsigned)blocks, .gridDimY = 1, .gridDimZ = 1,
                                   .blockDimX = FPX__WGMMA_THREADS, .blockDimY = 1, .blockDimZ = 1,
                                   .sharedMemBytes = (unsigned)smem, .hStream = stream,
                                   .attrs = &attr, .numAttrs = 1};
    FPX_CU(ctx->cu, cuLaunchKernelEx(&launch, gemm, params, NULL));
  }
fail:
  return st;
}
