/*
 * layout.c - the element -> (plane, lane, word, bit) map of the tiled
 * bit-plane layout. It mirrors how a warp holds the A operand of
 * mma.m16n8k16: lane L, k16 tile t, register pair j, half h.
 */
#include "layout.h"

int fpx__layout_locate(int bits, unsigned row, unsigned col, fpx__layout_slot *slots) {
  /* K is permuted inside each 32-column slice so that a thread's activation
   * values for two consecutive k16 tiles are 8 consecutive columns (one
   * 16-byte load): column c of the block belongs to k16 tile
   * t = 2 * (c / 32) + (c % 8) / 4, to the lane column group tig = (c % 32) / 8,
   * and to register r = c % 4 of that lane's four values in the tile. Each
   * k16 tile still covers columns of a single 32-aligned slice, so group
   * scales of 32 or more apply to whole tiles. */
  const unsigned slice = col / 32, w = col % 32;
  const unsigned tig = w / 8, rest = w % 8;
  const unsigned t = 2 * slice + rest / 4, r = rest % 4;
  /* fragment position of register r of lane column group tig in
   * mma.m16n8k16's A operand: columns 2*tig, 2*tig+1, 2*tig+8, 2*tig+9 */
  const unsigned j = (row >= 8 ? 1u : 0u) | ((r >> 1) << 1);
  const unsigned lane = (row % 8) * 4 + tig, half = r & 1;
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
