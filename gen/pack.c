/*
 * pack.c - weight packing: the plain bit-stream interchange layout and the
 * tiled bit-plane layout the GPU kernels read (docs/LAYOUT.md).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "format.h"
#include "layout.h"

FPX_API size_t fpx_plain_packed_size(fpx_format format, size_t count) {
  const fpx__format_traits *t;
  if (fpx__format_lookup(format, "fpx_plain_packed_size", &t) != FPX_OK) return 0;
  return (count / 8) * (size_t)t->info.bits + ((count % 8) * (size_t)t->info.bits + 7) / 8;
}

FPX_API fpx_status fpx_pack_plain(fpx_format format, const uint8_t *codes,
                                  size_t count, uint8_t *out_packed) {
  const fpx__format_traits *t;
  fpx_status st = FPX_OK;
  fpx__error_clear();
  FPX_TRY(fpx__format_lookup(format, "fpx_pack_plain", &t));
  if (count == 0) return FPX_OK;
  FPX_CHECK_PTR(codes);
  FPX_CHECK_PTR(out_packed);
  FPX_TRY(fpx__codes_check(t, codes, count, "fpx_pack_plain"));
  const unsigned b = (unsigned)t->info.bits;
  memset(out_packed, 0, fpx_plain_packed_size(format, count));
  for (size_t i = 0; i < count; i++) {
    size_t bit = i * b;
    unsigned v = (unsigned)codes[i] << (bit % 8); /* at most 15 bits */
    out_packed[bit / 8] |= (uint8_t)v;
    if ((bit % 8) + b > 8) out_packed[bit / 8 + 1] |= (uint8_t)(v >> 8);
  }
fail:
  return st;
}

FPX_API fpx_status fpx_unpack_plain(fpx_format format, const uint8_t *packed,
                                    size_t count, uint8_t *out_codes) {
  const fpx__format_traits *t;
  fpx_status st = FPX_OK;
  fpx__error_clear();
  FPX_TRY(fpx__format_lookup(format, "fpx_unpack_plain", &t));
  if (count == 0) return FPX_OK;
  FPX_CHECK_PTR(packed);
  FPX_CHECK_PTR(out_codes);
  const unsigned b = (unsigned)t->info.bits, mask = (1u << b) - 1;
  for (size_t i = 0; i < count; i++) {
    size_t bit = i * b;
    unsigned v = packed[bit / 8];
    if ((bit % 8) + b > 8) v |= (unsigned)packed[bit / 8 + 1] << 8;
    out_codes[i] = (uint8_t)((v >> (bit % 8)) & mask);
  }
fail:
  return st;
}

FPX_API size_t fpx_tiled_packed_size(fpx_format format, size_t n, size_t k) {
  const fpx__format_traits *t;
  if (fpx__format_lookup(format, "fpx_tiled_packed_size", &t) != FPX_OK) return 0;
  const size_t bn = fpx__layout_blocks_n(n), bk = fpx__layout_blocks_k(k);
  const size_t block_bytes = fpx__layout_block_bytes(t->info.bits);
  if (bk != 0 && bn > SIZE_MAX / bk / block_bytes) return 0; /* the size overflows */
  return bn * bk * block_bytes;
}

/* a_name and b_name: the names of the input and output buffers */
static fpx_status check_tiled_args(const fpx__format_traits *t, const void *a, const char *a_name,
                                   const void *b, const char *b_name, size_t n, size_t k,
                                   const char *who) {
  if (a == NULL || b == NULL)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: %s is NULL", who, a == NULL ? a_name : b_name);
  if (n == 0 || k == 0)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: shape %zu x %zu is empty", who, n, k);
  if (n > SIZE_MAX / k / 8 || fpx_tiled_packed_size(t->info.format, n, k) == 0)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: shape %zu x %zu overflows", who, n, k);
  return FPX_OK;
}

FPX_API fpx_status fpx_pack_tiled(fpx_format format, const uint8_t *codes,
                                  size_t n, size_t k, uint8_t *out_packed) {
  static const char who[] = "fpx_pack_tiled";
  const fpx__format_traits *t;
  fpx_status st = FPX_OK;
  fpx__error_clear();
  FPX_TRY(fpx__format_lookup(format, who, &t));
  FPX_TRY(check_tiled_args(t, codes, "codes", out_packed, "out_packed", n, k, who));
  FPX_TRY(fpx__codes_check(t, codes, n * k, who));
  const int bits = t->info.bits;
  const size_t kb = fpx__layout_blocks_k(k), block_bytes = fpx__layout_block_bytes(bits);
  memset(out_packed, 0, fpx_tiled_packed_size(format, n, k));
  for (size_t r = 0; r < n; r++)
    for (size_t c = 0; c < k; c++) {
      uint8_t *block = out_packed + ((r / FPX_TILE_N) * kb + c / FPX_TILE_K) * block_bytes;
      unsigned code = codes[r * k + c];
      fpx__layout_slot slots[4];
      int planes = fpx__layout_locate(bits, r % FPX_TILE_N, c % FPX_TILE_K, slots);
      for (int p = 0; p < planes; p++) {
        uint32_t v = ((code >> slots[p].code_shift) & slots[p].mask) << (slots[p].bit % 8);
        block[slots[p].byte + slots[p].bit / 8] |= (uint8_t)v;
      }
    }
fail:
  return st;
}

FPX_API fpx_status fpx_unpack_tiled(fpx_format format, const uint8_t *packed,
                                    size_t n, size_t k, uint8_t *out_codes) {
  static const char who[] = "fpx_unpack_tiled";
  const fpx__format_traits *t;
  fpx_status st = FPX_OK;
  fpx__error_clear();
  FPX_TRY(fpx__format_lookup(format, who, &t));
  FPX_TRY(check_tiled_args(t, packed, "packed", out_codes, "out_codes", n, k, who));
  for (size_t r = 0; r < n; r++) FPX_TRY(fpx__tiled_row_codes(format, packed, n, k, r, out_codes + r * k));
fail:
  return st;
}

fpx_status fpx__tiled_row_codes(fpx_format format, const uint8_t *packed, size_t n, size_t k,
                                size_t row, uint8_t *out_codes) {
  const fpx__format_traits *t;
  fpx_status st = FPX_OK;
  FPX_TRY(fpx__format_lookup(format, "fpx__tiled_row_codes", &t));
  if (row >= n)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx__tiled_row_codes: row %zu >= n = %zu", row, n);
  const int bits = t->info.bits;
  const size_t kb = fpx__layout_blocks_k(k), block_bytes = fpx__layout_block_bytes(bits);
  for (size_t c = 0; c < k; c++) {
    const uint8_t *block = packed + ((row / FPX_TILE_N) * kb + c / FPX_TILE_K) * block_bytes;
    fpx__layout_slot slots[4];
    int planes = fpx__layout_locate(bits, row % FPX_TILE_N, c % FPX_TILE_K, slots);
    unsigned code = 0;
    for (int p = 0; p < planes; p++)
      code |= ((block[slots[p].byte + slots[p].bit / 8] >> (slots[p].bit % 8)) & slots[p].mask)
              << slots[p].code_shift;
    out_codes[c] = (uint8_t)code;
  }
fail:
  return st;
}

fpx_status fpx__tiled_codes_check(const fpx__format_traits *t, const uint8_t *packed, size_t n,
                                  size_t k, const char *who) {
  const size_t n_pad = fpx__layout_blocks_n(n) * FPX_TILE_N, k_pad = fpx__layout_blocks_k(k) * FPX_TILE_K;
  fpx_status st = FPX_OK;
  if (!t->info.has_nan && !t->info.has_inf) return FPX_OK; /* every code of the format is finite */
  if (t->info.bits == 8) {
    /* one 8-bit plane: every byte is one code, so a scan of the bytes finds
     * whether there is one to report (the row scan below then locates it) */
    const size_t bytes = fpx_tiled_packed_size(t->info.format, n, k);
    size_t i = 0;
    while (i < bytes && isfinite(t->value[packed[i]])) i++;
    if (i == bytes) return FPX_OK;
  }
  uint8_t *row = malloc(k_pad);
  if (row == NULL) return fpx__error(FPX_ERR_OUT_OF_MEMORY, "%s: no host memory to check the codes", who);
  for (size_t r = 0; r < n_pad; r++) {
    FPX_TRY(fpx__tiled_row_codes(t->info.format, packed, n_pad, k_pad, r, row));
    for (size_t c = 0; c < k_pad; c++)
      if (!isfinite(t->value[row[c]])) {
        st = fpx__error(FPX_ERR_INVALID_ARGUMENT,
                        "%s: the tiled code at row %zu, column %zu%s is 0x%02X, not a finite %s value",
                        who, r, c, r >= n || c >= k ? " (padding)" : "", row[c], t->info.name);
        goto fail;
      }
  }
fail:
  free(row);
  return st;
}
