/*
 * wgmma_config.c - the Hopper wgmma GEMM family's rules (which keys and
 * configurations it computes, its shared memory) and the turning of a
 * configuration into a template instance name and id.
 */
#include "wgmma_config.h"

#include <math.h>
#include <stdio.h>

#include "error.h"
#include "format.h"

/* The template's dtype codes: X 0 f16, 1 bf16, 2 e4m3, 3 e5m2; Y 0 f16,
 * 1 bf16, 2 f32. */
static int x_code(fpx_dtype d) {
  switch (d) {
    case FPX_DTYPE_F16: return 0;
    case FPX_DTYPE_BF16: return 1;
    case FPX_DTYPE_E4M3: return 2;
    default: return 3; /* e5m2 */
  }
}

static int y_code(fpx_dtype d) { return d == FPX_DTYPE_F16 ? 0 : d == FPX_DTYPE_BF16 ? 1 : 2; }

static const char *dtype_label(fpx_dtype d) {
  const char *name = fpx_dtype_name(d);
  return name ? name : "(invalid)";
}

fpx_status fpx__wgmma_key_check(const fpx__wo_key *key) {
  const fpx__format_traits *t;
  fpx_status st = FPX_OK;
  if (key == NULL) return fpx__error(FPX_ERR_INVALID_ARGUMENT, "wgmma gemm: key is NULL");
  FPX_TRY(fpx__format_lookup(key->format, "wgmma gemm", &t));
  const int e = key->format.exp_bits, m = key->format.man_bits;
  switch (key->x_dtype) {
    case FPX_DTYPE_F16:
      if (e == 5 && !t->info.has_inf)
        return fpx__error(FPX_ERR_UNSUPPORTED_FORMAT,
                          "wgmma gemm: format %s needs bf16 activations (its largest values "
                          "exceed the f16 range)",
                          t->info.name);
      break;
    case FPX_DTYPE_BF16: break;
    case FPX_DTYPE_E4M3:
    case FPX_DTYPE_E5M2:
      /* exact FP8 forms only: e5m1 and e5m0 reach exponent field 31, which
       * E5M2 keeps for Inf and NaN */
      if (!((e <= 4 && m <= 3) || (e == 5 && m == 2)))
        return fpx__error(FPX_ERR_UNSUPPORTED_FORMAT,
                          "wgmma gemm: format %s has no exact FP8 form (E <= 4 and M <= 3 "
                          "become E4M3, e5m2 stays E5M2); use f16 or bf16 activations",
                          t->info.name);
      break;
    default:
      return fpx__error(FPX_ERR_INVALID_ARGUMENT,
                        "wgmma gemm: x_dtype %s is not supported (use f16, bf16, e4m3 or e5m2)",
                        dtype_label(key->x_dtype));
  }
  if (key->y_dtype != FPX_DTYPE_F16 && key->y_dtype != FPX_DTYPE_BF16 &&
      key->y_dtype != FPX_DTYPE_F32)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT,
                      "wgmma gemm: y_dtype %s is not supported (use f16, bf16 or f32)",
                      dtype_label(key->y_dtype));
  if (key->group_size != 0 && key->group_size != 32 && key->group_size != 64 &&
      key->group_size != 128 && key->group_size != 256)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT,
                      "wgmma gemm: group_size %d is not 0, 32, 64, 128 or 256", key->group_size);
fail:
  return st;
}

fpx__wgmma_config fpx__wgmma_config_of(const fpx_wo_config *c) {
  return (fpx__wgmma_config){c->tokens, c->stages, c->split_k == 0 ? 1 : c->split_k, 0, 0, 0};
}

size_t fpx__wgmma_smem_bytes(const fpx__wgmma_config *c) {
  /* as ring_smem_bytes and epilogue_tile_bytes in the template: stages of
   * tokens x 128 bytes, a full and an empty barrier per stage, 1024 bytes
   * to align the ring for the 128-byte swizzle, then the epilogue's tile of
   * tokens rows of 256 bytes where the total stays within the limit */
  const size_t ring = (size_t)c->stages * (size_t)c->tokens * 128 + 16 * (size_t)c->stages + 1024;
  const size_t tile = (size_t)c->tokens * FPX__WGMMA_TILE_ROW_BYTES;
  return ring + tile <= FPX__WGMMA_SMEM_MAX ? ring + tile : ring;
}

fpx_status fpx__wgmma_config_check(const fpx__wo_key *key, const fpx__wgmma_config *c) {
  if (c == NULL) return fpx__error(FPX_ERR_INVALID_ARGUMENT, "wgmma config is NULL");
  if (c->tokens != 64 && c->tokens != 128 && c->tokens != 256)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "wgmma config tokens %d is not 64, 128 or 256",
                      c->tokens);
  if (c->stages < 2 || c->stages > 8)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "wgmma config stages %d is outside 2..8", c->stages);
  if ((c->split_k < 1 || c->split_k > 64) && c->split_k != FPX_SPLIT_K_STREAM)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT,
                      "wgmma config split_k %d is neither 1..64 nor %d (stream-K)", c->split_k,
                      FPX_SPLIT_K_STREAM);
  if (key != NULL && key->group_size != 0 && c->tokens > 128)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT,
                      "wgmma config tokens %d with group_size %d: group scales need tokens <= "
                      "128 (two accumulators)",
                      c->tokens, key->group_size);
  if (c->max_blocks < 0)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "wgmma config max_blocks %d is negative", c->max_blocks);
  if (c->raster < 0)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "wgmma config raster %d is negative", c->raster);
  if (fpx__wgmma_smem_bytes(c) > FPX__WGMMA_SMEM_MAX)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT,
                      "wgmma config stages %d x tokens %d needs %zu bytes of shared memory, more "
                      "than %d",
                      c->stages, c->tokens, fpx__wgmma_smem_bytes(c), FPX__WGMMA_SMEM_MAX);
  return FPX_OK;
}

int fpx__wgmma_raster(const fpx__wgmma_config *c, int weight_bits, int x_bytes, size_t blocks,
                      size_t n, size_t m) {
  const size_t token_tiles = m == 0 ? 1 : (m + (size_t)c->tokens - 1) / (size_t)c->tokens;
  const size_t row_blocks = (n + FPX__WGMMA_BLOCK_ROWS - 1) / FPX__WGMMA_BLOCK_ROWS;
  if (c->raster == 0 && c->split_k == FPX_SPLIT_K_STREAM && row_blocks * token_tiles < 2 * blocks)
    return 1;
  const double g = c->raster != 0 ? c->raster
                                  : sqrt((double)blocks * FPX__WGMMA_BLOCK_ROWS * weight_bits / 8.0 /
                                         ((double)c->tokens * x_bytes));
  int p = 1;
  while ((size_t)p * 2 <= token_tiles && (double)p * sqrt(2.0) < g) p *= 2;
  return p;
}

/* FP32 partial sums of one tile: tokens x 128 rows */
static size_t tile_partial_bytes(const fpx__wgmma_config *c) {
  return (size_t)c->tokens * FPX__WGMMA_BLOCK_ROWS * sizeof(float);
}

size_t fpx__wgmma_stream_partial_bytes(const fpx__wgmma_config *c, size_t blocks) {
  if (c->split_k != FPX_SPLIT_K_STREAM) return 0;
  return 2 * blocks * tile_partial_bytes(c);
}

size_t fpx__wgmma_partial_bytes(const fpx__wgmma_config *c, size_t n) {
  if (c->split_k <= 1) return 0;
  const size_t row_tiles = (n + FPX__WGMMA_BLOCK_ROWS - 1) / FPX__WGMMA_BLOCK_ROWS;
  return (size_t)c->split_k * row_tiles * tile_partial_bytes(c);
}

int fpx__wgmma_y_direct(const fpx__wgmma_config *c, size_t n, uint64_t y) {
  return c->y_direct || n % 8 != 0 || y % 16 != 0;
}

int fpx__wgmma_y_tma(const fpx__wo_key *key, const fpx__wgmma_config *c) {
  return key->y_dtype != FPX_DTYPE_F32 && !c->y_direct;
}

void fpx__wgmma_gemm_name(const fpx__wo_key *key, const fpx__wgmma_config *c,
                          char out[FPX__NAME_EXPR_MAX]) {
  snprintf(out, FPX__NAME_EXPR_MAX, "fpx::wgmma_gemm<%d,%d,%d,%d,%d,%d,%d,%d>", key->format.exp_bits,
           key->format.man_bits, x_code(key->x_dtype), y_code(key->y_dtype), key->group_size,
           c->tokens, c->stages, fpx__wgmma_y_tma(key, c));
}

/* Field packing: 4 bits E, 4 bits M, 2 + 2 bits dtypes, 9 bits group, 3 bits
 * tokens / 64, 4 bits stages, 1 bit YTMA, the family (5) from bit 40. */
uint64_t fpx__wgmma_gemm_id(const fpx__wo_key *key, const fpx__wgmma_config *c) {
  return (uint64_t)key->format.exp_bits | (uint64_t)key->format.man_bits << 4 |
         (uint64_t)x_code(key->x_dtype) << 8 | (uint64_t)y_code(key->y_dtype) << 10 |
         (uint64_t)key->group_size << 12 | (uint64_t)(c->tokens / 64) << 21 |
         (uint64_t)c->stages << 24 | (uint64_t)fpx__wgmma_y_tma(key, c) << 28 | (uint64_t)5 << 40;
}

static int x_bytes(fpx_dtype d) { return d == FPX_DTYPE_E4M3 || d == FPX_DTYPE_E5M2 ? 1 : 2; }

/* FP8 X for weights below 8 bits: the GEMM's A registers hold each k-quad
 * in the order +0, +2, +1, +3 (place_quad), so X's middle bytes swap. */
static int swap_mid(const fpx__wo_key *key) {
  return x_bytes(key->x_dtype) == 1 && 1 + key->format.exp_bits + key->format.man_bits < 8;
}

void fpx__wgmma_permute_name(const fpx__wo_key *key, char out[FPX__NAME_EXPR_MAX]) {
  snprintf(out, FPX__NAME_EXPR_MAX, "fpx::wgmma_permute_x<%d,%d>", x_bytes(key->x_dtype), swap_mid(key));
}

uint64_t fpx__wgmma_permute_id(const fpx__wo_key *key) {
  return (uint64_t)x_bytes(key->x_dtype) | (uint64_t)swap_mid(key) << 4 | (uint64_t)6 << 40;
}
