/*
 * workload.c - random problem data for the benchmark and the tuner: a
 * splitmix64 generator, random FP16/BF16 activations in (-1, 1) (never
 * zero) filled on the device in chunks, FP8 activations quantized per row
 * on the host from BF16 rows, dense random E4M3 matrices and scales (the
 * cuBLASLt FP8 baseline), and random finite eXmY weights uploaded in the
 * tiled layout.
 */
#include "workload.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "layout.h"

uint64_t fpx__rng_next(fpx__rng *r) { /* splitmix64 */
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double fpx__rng_unit(fpx__rng *r) { return (double)(fpx__rng_next(r) >> 11) * 0x1p-53; }

/* table[i] = the f16/bf16 pattern of (i + 0.5) / 32768 - 1: in (-1, 1), never
 * zero; indexed by 16 random bits. */
void fpx__value_table(fpx_dtype dtype, uint16_t *table) {
  for (unsigned i = 0; i < 65536; i++) {
    float v = (float)(((double)i + 0.5) / 32768.0 - 1.0);
    table[i] = dtype == FPX_DTYPE_BF16 ? fpx_f32_to_bf16(v) : fpx_f32_to_f16(v);
  }
}

/* Fills count 16-bit device elements with random table values. */
fpx_status fpx__fill_device16(const fpx__cu_table *cu, CUdeviceptr dst, size_t count,
                                const uint16_t *table, fpx__rng *r, uint16_t *chunk) {
  fpx_status st = FPX_OK;
  for (size_t done = 0; done < count;) {
    size_t n = count - done < FPX__FILL_CHUNK ? count - done : FPX__FILL_CHUNK;
    for (size_t i = 0; i < n; i += 4) {
      uint64_t bits = fpx__rng_next(r);
      for (size_t j = 0; j < 4 && i + j < n; j++) chunk[i + j] = table[(bits >> (16 * j)) & 0xFFFF];
    }
    FPX_CU(cu, cuMemcpyHtoD(dst + done * 2, chunk, n * 2));
    done += n;
  }
fail:
  return st;
}

fpx_format fpx__act_format(fpx_dtype act) {
  if (act == FPX_DTYPE_E4M3) return (fpx_format){4, 3};
  if (act == FPX_DTYPE_E5M2) return (fpx_format){5, 2};
  return (fpx_format){0, 0};
}

void fpx__random_bf16_row(void *user, size_t row, size_t k, uint16_t *out) {
  fpx__random_rows *g = user;
  (void)row;
  for (size_t i = 0; i < k; i += 4) {
    uint64_t bits = fpx__rng_next(g->rng);
    for (size_t j = 0; j < 4 && i + j < k; j++) out[i + j] = g->table[(bits >> (16 * j)) & 0xFFFF];
  }
}

fpx_status fpx__upload_fp8_activations(const fpx__cu_table *cu, fpx_dtype act, size_t m, size_t k,
                                       fpx__bf16_row_fn row_fn, void *user, CUdeviceptr codes,
                                       CUdeviceptr scales, float *scales_host) {
  fpx_status st = FPX_OK;
  const fpx_act_quant_params params = {sizeof params, FPX_ACT_SCALE_PER_ROW, 0, 0, fpx__act_format(act)};
  uint16_t *rows = NULL;
  uint8_t *chunk_codes = NULL;
  float *chunk_scales = NULL;
  if (params.format.exp_bits == 0)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "FP8 activations: dtype %s is not e4m3 or e5m2",
                      fpx_dtype_name(act) ? fpx_dtype_name(act) : "(invalid)");
  if (m == 0 || k == 0) return FPX_OK;
  const size_t chunk_rows = k >= FPX__FILL_CHUNK ? 1 : FPX__FILL_CHUNK / k;
  rows = malloc(chunk_rows * k * sizeof *rows);
  chunk_codes = malloc(chunk_rows * k);
  chunk_scales = malloc(chunk_rows * sizeof *chunk_scales);
  if (rows == NULL || chunk_codes == NULL || chunk_scales == NULL) {
    st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "FP8 activations: no host memory for %zu rows of %zu", chunk_rows, k);
    goto fail;
  }
  for (size_t done = 0; done < m;) {
    const size_t count = m - done < chunk_rows ? m - done : chunk_rows;
    for (size_t r = 0; r < count; r++) row_fn(user, done + r, k, rows + r * k);
    FPX_TRY(fpx_quantize_activations(&params, FPX_DTYPE_BF16, rows, count, k, chunk_codes, chunk_scales));
    FPX_CU(cu, cuMemcpyHtoD(codes + done * k, chunk_codes, count * k));
    FPX_CU(cu, cuMemcpyHtoD(scales + done * sizeof(float), chunk_scales, count * sizeof(float)));
    if (scales_host != NULL) memcpy(scales_host + done, chunk_scales, count * sizeof(float));
    done += count;
  }
fail:
  free(chunk_scales);
  free(chunk_codes);
  free(rows);
  return st;
}

fpx_status fpx__fill_device_e4m3(const fpx__cu_table *cu, CUdeviceptr dst, size_t count, fpx__rng *r) {
  fpx_status st = FPX_OK;
  const size_t chunk_bytes = FPX__FILL_CHUNK * 2;
  uint8_t *chunk = malloc(count < chunk_bytes ? count : chunk_bytes);
  if (chunk == NULL && count > 0) return fpx__error(FPX_ERR_OUT_OF_MEMORY, "no host memory for E4M3 codes");
  for (size_t done = 0; done < count;) {
    const size_t n = count - done < chunk_bytes ? count - done : chunk_bytes;
    for (size_t i = 0; i < n; i += 8) {
      uint64_t bits = fpx__rng_next(r);
      for (size_t j = 0; j < 8 && i + j < n; j++) {
        uint8_t c = (uint8_t)(bits >> (8 * j));
        chunk[i + j] = (c & 0x7F) == 0x7F ? (uint8_t)(c ^ 0x01) : c; /* NaN -> +-448 */
      }
    }
    FPX_CU(cu, cuMemcpyHtoD(dst + done, chunk, n));
    done += n;
  }
fail:
  free(chunk);
  return st;
}

fpx_status fpx__fill_device_scales(const fpx__cu_table *cu, CUdeviceptr dst, size_t count, double unit,
                                   fpx__rng *r) {
  fpx_status st = FPX_OK;
  const size_t chunk_count = FPX__FILL_CHUNK / 2;
  float *chunk = malloc((count < chunk_count ? count : chunk_count) * sizeof *chunk);
  if (chunk == NULL && count > 0) return fpx__error(FPX_ERR_OUT_OF_MEMORY, "no host memory for scales");
  for (size_t done = 0; done < count;) {
    const size_t n = count - done < chunk_count ? count - done : chunk_count;
    for (size_t i = 0; i < n; i++) chunk[i] = (float)((0.5 + fpx__rng_unit(r)) * unit);
    FPX_CU(cu, cuMemcpyHtoD(dst + done * sizeof(float), chunk, n * sizeof(float)));
    done += n;
  }
fail:
  free(chunk);
  return st;
}

/* 1 if, for this many bits, every byte of the tiled layout holds exactly one
 * whole code (a single 8-bit plane at byte-aligned offsets). */
static int tiled_bytes_are_codes(int bits) {
  if (bits != 8) return 0;
  for (unsigned row = 0; row < FPX_TILE_N; row++)
    for (unsigned col = 0; col < FPX_TILE_K; col++) {
      fpx__layout_slot slots[4];
      if (fpx__layout_locate(bits, row, col, slots) != 1 || slots[0].mask != 0xFF ||
          slots[0].code_shift != 0 || slots[0].bit % 8 != 0)
        return 0;
    }
  return 1;
}

/* Random finite weights of `format` for an n x k matrix, uploaded; scales in
 * [0.5, 1.5] / max_finite. *out_bytes = packed + scale bytes on the device. */
fpx_status fpx__random_weights(fpx_ctx *ctx, fpx_format format, int group, size_t n, size_t k,
                               fpx__rng *r, fpx__host_weights *keep, fpx_weights **out,
                               size_t *out_bytes) {
  fpx_status st = FPX_OK;
  fpx_format_info info;
  uint8_t finite[256] = {0}, finite_codes[256];
  unsigned finite_count = 0;
  uint8_t *tiled = NULL, *codes = NULL;
  float *scales = NULL;
  FPX_TRY(fpx_format_get_info(format, &info));
  for (int c = 0; c < info.num_codes; c++) {
    double v;
    FPX_TRY(fpx_decode_value(format, (unsigned)c, &v));
    if (isfinite(v)) {
      finite[c] = 1;
      finite_codes[finite_count++] = (uint8_t)c;
    }
  }
  const size_t packed = fpx_tiled_packed_size(format, n, k);
  const size_t scale_count = fpx_scale_count(n, k, group);
  tiled = malloc(packed);
  scales = malloc(scale_count * sizeof *scales);
  if (tiled == NULL || scales == NULL) {
    st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "no host memory for a %zu x %zu weight", n, k);
    goto fail;
  }
  const int unpadded = n % FPX_TILE_N == 0 && k % FPX_TILE_K == 0;
  const int all_finite = finite_count == (unsigned)info.num_codes;
  if (unpadded && (all_finite || tiled_bytes_are_codes(info.bits))) {
    for (size_t i = 0; i < packed; i += 8) {
      uint64_t bits = fpx__rng_next(r);
      memcpy(tiled + i, &bits, packed - i < 8 ? packed - i : 8);
    }
    if (!all_finite)
      for (size_t i = 0; i < packed; i++)
        while (!finite[tiled[i]]) tiled[i] = (uint8_t)fpx__rng_next(r);
  } else {
    codes = malloc(n * k);
    if (codes == NULL) {
      st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "no host memory for %zu x %zu codes", n, k);
      goto fail;
    }
    for (size_t i = 0; i < n * k; i++) codes[i] = finite_codes[fpx__rng_next(r) % finite_count];
    FPX_TRY(fpx_pack_tiled(format, codes, n, k, tiled));
  }
  for (size_t i = 0; i < scale_count; i++)
    scales[i] = (float)((0.5 + fpx__rng_unit(r)) / info.max_finite);
  FPX_TRY(fpx_weights_upload_tiled(ctx, format, tiled, scales, n, k, group, out));
  *out_bytes = packed + scale_count * sizeof *scales;
  if (keep != NULL) {
    keep->tiled = tiled;
    keep->scales = scales;
    tiled = NULL;
    scales = NULL;
  }
fail:
  free(codes);
  free(scales);
  free(tiled);
  return st;
}

