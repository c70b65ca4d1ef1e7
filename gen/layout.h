/*
 * layout.h - geometry of the tiled bit-plane weight layout shared by the
 * packer (pack.c), the kernel generator and, in CUDA form, templates/.
 * The full description is docs/LAYOUT.md.
 */
#ifndef FPX_GEN_LAYOUT_H
#define FPX_GEN_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "fpx.h"

/* Where one plane of one element lives inside its 16 x 256 block. */
typedef struct fpx__layout_slot {
  size_t byte;        /* offset of the little-endian 32-bit word in the block */
  unsigned bit;       /* first bit of the field inside that word */
  unsigned code_shift;/* the field holds (code >> code_shift) & mask */
  unsigned mask;      /* (1 << plane width) - 1 */
} fpx__layout_slot;

static inline size_t fpx__layout_blocks_n(size_t n) { return (n + FPX_TILE_N - 1) / FPX_TILE_N; }
static inline size_t fpx__layout_blocks_k(size_t k) { return (k + FPX_TILE_K - 1) / FPX_TILE_K; }
/* A block holds 16 * 256 codes of `bits` bits: bits * 512 bytes. */
static inline size_t fpx__layout_block_bytes(int bits) { return (size_t)bits * 512; }

/* Fills one slot per plane for element (row, col) of a block (row < 16,
 * col < 256) of a `bits`-bit format; returns the number of planes. */
int fpx__layout_locate(int bits, unsigned row, unsigned col, fpx__layout_slot *slots);

/* The k codes of one row of a tiled n x k weight (for checks on sampled
 * rows without unpacking the whole matrix). */
fpx_status fpx__tiled_row_codes(fpx_format format, const uint8_t *packed, size_t n, size_t k,
                                size_t row, uint8_t *out_codes);

/* FPX_OK when every code of a tiled n x k weight, the padding to whole
 * 16 x 256 blocks included, decodes to a finite value (padded columns meet
 * activations of zero, which a NaN or Inf code would turn into NaN); else
 * an error naming the first such code, its row and column. Formats whose
 * every code is finite take no time; 8-bit ones a scan of the bytes. */
struct fpx__format_traits;
fpx_status fpx__tiled_codes_check(const struct fpx__format_traits *t, const uint8_t *packed,
                                  size_t n, size_t k, const char *who);

#endif
