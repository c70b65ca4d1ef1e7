/*
 * layout.c - the element -> (plane, lane, word, bit) map of the tiled
 * bit-plane layout. It mirrors how a warp holds the A operand of
 * mma.m16n8k16: lane L, k16 tile t, register pair j, half h.
 */
#include "layout.h"

int fpx__layout_locate(int bits, unsigned row, unsigned col, fpx__layout_slot *slots) {
  /* fragment coordinates of A[row][col] in mma.m16n8k16 (row-major A) */
  const unsigned t = col / 16, cc = col % 16;
  const unsigned j = (row >= 8 ? 1u : 0u) | (cc >= 8 ? 2u : 0u);
  const unsigned lane = (row % 8) * 4 + (cc % 8) / 2, half = cc % 2;
  const unsigned q = t * 4 + j; /* pair sequence number, 0..63 */
  int planes = 0;
  unsigned plane_offset = 0;    /* in units of 512 bytes */
  unsigned shift = (unsigned)bits;
  for (unsigned p = 8; p >= 1; p /= 2) {
    if (!((unsigned)bits & p)) continue;
    shift -= p;
    const unsigned pairs_per_word = 16 / p;
    const unsigned word = q / pairs_per_word, slot = q % pairs_per_word;
    const unsigned chunk = word / 4, word_in_chunk = word % 4;
    slots[planes].byte = (size_t)plane_offset * 512 + ((size_t)chunk * 32 + lane) * 16 + word_in_chunk * 4;
    slots[planes].bit = 16 * half + slot * p;
    slots[planes].code_shift = shift;
    slots[planes].mask = (1u << p) - 1;
    planes++;
    plane_offset += p;
  }
  return planes;
}
