/*
 * workload.c - random problem data for the benchmark and the tuner: a
 * splitmix64 generator, random FP16/BF16 activations in (-1, 1) (never
 * zero) filled on the device in chunks, and random finite eXmY weights
 * uploaded in the tiled layout.
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

