/*
 * test_pack.c - the plain bit-stream and the tiled bit-plane layouts:
 * round trips for every width and odd shapes, hand-computed bit positions
 * (docs/LAYOUT.md), zero padding, and rejected inputs.
 */
#include <stdlib.h>

#include "support.h"

/* One format of each width 3..8. */
static const char *const by_width[] = {"e1m1", "e2m1", "e2m2", "e3m2", "e3m3", "e4m3"};

static void random_codes(uint8_t *codes, size_t count, int bits, uint64_t seed) {
  uint64_t state = seed;
  for (size_t i = 0; i < count; i++) codes[i] = (uint8_t)(rng_next(&state) & ((1u << bits) - 1));
}

static size_t popcount_bytes(const uint8_t *p, size_t n) {
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += (size_t)__builtin_popcount(p[i]);
  return total;
}

Test(pack, plain_round_trips_every_width_and_count) {
  for (size_t w = 0; w < 6; w++) {
    fpx_format f = fmt(by_width[w]);
    int bits = 3 + (int)w;
    for (size_t count = 1; count <= 70; count++) {
      uint8_t codes[70], back[70], packed[80];
      random_codes(codes, count, bits, count * 31 + w);
      size_t size = fpx_plain_packed_size(f, count);
      cr_assert_eq(size, (count * (size_t)bits + 7) / 8, "%s count %zu", by_width[w], count);
      memset(packed, 0xFF, sizeof packed);
      cr_assert_eq(fpx_pack_plain(f, codes, count, packed), FPX_OK);
      cr_assert_eq(packed[size], 0xFF, "wrote past the end");
      /* unused high bits of the last byte are zero */
      size_t used = count * (size_t)bits % 8;
      if (used) cr_assert_eq(packed[size - 1] >> used, 0, "%s count %zu", by_width[w], count);
      memset(back, 0xEE, sizeof back);
      cr_assert_eq(fpx_unpack_plain(f, packed, count, back), FPX_OK);
      cr_assert_eq(memcmp(codes, back, count), 0, "%s count %zu", by_width[w], count);
    }
  }
}

Test(pack, plain_bit_order_is_lsb_first_across_bytes) {
  uint8_t out[4] = {0xCC, 0xCC, 0xCC, 0xCC};
  /* e2m1: two codes per byte, first in the low nibble */
  const uint8_t c4[3] = {0x1, 0x2, 0x3};
  cr_assert_eq(fpx_pack_plain(fmt("e2m1"), c4, 3, out), FPX_OK);
  cr_assert(out[0] == 0x21 && out[1] == 0x03 && out[2] == 0xCC, "%02x %02x", out[0], out[1]);
  /* e3m2: 111111 | 000001 | 101010 -> bits 0-5, 6-11, 12-17 */
  const uint8_t c6[3] = {0x3F, 0x01, 0x2A};
  cr_assert_eq(fpx_pack_plain(fmt("e3m2"), c6, 3, out), FPX_OK);
  cr_assert(out[0] == 0x7F && out[1] == 0xA0 && out[2] == 0x02, "%02x %02x %02x", out[0],
            out[1], out[2]);
  /* e1m1: 101 | 011 | 111 -> 0xDD, 0x01 */
  const uint8_t c3[3] = {5, 3, 7};
  cr_assert_eq(fpx_pack_plain(fmt("e1m1"), c3, 3, out), FPX_OK);
  cr_assert(out[0] == 0xDD && out[1] == 0x01, "%02x %02x", out[0], out[1]);
}

Test(pack, plain_rejects_bad_input) {
  uint8_t codes[2] = {1, 0x10}, out[2] = {0xCC, 0xCC};
  fpx_format bad = {0, 3};
  cr_assert_eq(fpx_pack_plain(fmt("e2m1"), codes, 2, out), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "code 1 is 0x10"), "%s", fpx_last_error());
  cr_assert(out[0] == 0xCC && out[1] == 0xCC, "written on failure");
  cr_assert_eq(fpx_pack_plain(fmt("e2m1"), NULL, 2, out), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_pack_plain(fmt("e2m1"), codes, 2, NULL), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_unpack_plain(fmt("e2m1"), NULL, 2, out), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_unpack_plain(fmt("e2m1"), codes, 2, NULL), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_pack_plain(bad, codes, 2, out), FPX_ERR_UNSUPPORTED_FORMAT);
  cr_assert_eq(fpx_unpack_plain(bad, codes, 2, out), FPX_ERR_UNSUPPORTED_FORMAT);
  cr_assert_eq(fpx_plain_packed_size(bad, 10), 0);
}

Test(pack, tiled_round_trips_every_width_and_odd_shapes) {
  static const size_t shapes[][2] = {{1, 1}, {16, 256}, {17, 300}, {5, 513}, {33, 257}, {32, 512}};
  for (size_t w = 0; w < 6; w++) {
    fpx_format f = fmt(by_width[w]);
    int bits = 3 + (int)w;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
      size_t n = shapes[s][0], k = shapes[s][1];
      size_t size = fpx_tiled_packed_size(f, n, k);
      cr_assert_eq(size, ((n + 15) / 16) * ((k + 255) / 256) * (size_t)bits * 512);
      uint8_t *codes = malloc(n * k), *back = malloc(n * k), *packed = malloc(size + 1);
      random_codes(codes, n * k, bits, 99 + s);
      memset(packed, 0xFF, size + 1);
      cr_assert_eq(fpx_pack_tiled(f, codes, n, k, packed), FPX_OK, "%s", fpx_last_error());
      cr_assert_eq(packed[size], 0xFF, "wrote past the end");
      memset(back, 0xEE, n * k);
      cr_assert_eq(fpx_unpack_tiled(f, packed, n, k, back), FPX_OK);
      cr_assert_eq(memcmp(codes, back, n * k), 0, "%s %zux%zu", by_width[w], n, k);
      free(codes);
      free(back);
      free(packed);
    }
  }
}

Test(pack, tiled_padding_holds_zero_bits) {
  /* All-ones codes: the packed buffer must hold exactly n*k*b one bits, so
   * every padding element (and every unused byte) is zero. */
  for (size_t w = 0; w < 6; w++) {
    fpx_format f = fmt(by_width[w]);
    int bits = 3 + (int)w;
    size_t n = 17, k = 300, size = fpx_tiled_packed_size(f, n, k);
    uint8_t *codes = malloc(n * k), *packed = malloc(size);
    memset(codes, (1 << bits) - 1, n * k);
    memset(packed, 0xFF, size);
    cr_assert_eq(fpx_pack_tiled(f, codes, n, k, packed), FPX_OK);
    cr_assert_eq(popcount_bytes(packed, size), n * k * (size_t)bits, "%s", by_width[w]);
    free(codes);
    free(packed);
  }
}

/* Packs one nonzero code at (row, col) of an otherwise zero n x k matrix and
 * checks that exactly the expected bytes are nonzero. */
static void check_single(const char *name, size_t n, size_t k, size_t row, size_t col,
                         uint8_t code, const size_t *bytes, const uint8_t *values, int count) {
  fpx_format f = fmt(name);
  size_t size = fpx_tiled_packed_size(f, n, k);
  uint8_t *codes = calloc(n * k, 1), *packed = malloc(size);
  codes[row * k + col] = code;
  cr_assert_eq(fpx_pack_tiled(f, codes, n, k, packed), FPX_OK);
  for (size_t i = 0; i < size; i++) {
    uint8_t want = 0;
    for (int j = 0; j < count; j++)
      if (bytes[j] == i) want = values[j];
    cr_assert_eq(packed[i], want, "%s: byte %zu is 0x%02x, want 0x%02x", name, i, packed[i], want);
  }
  free(codes);
  free(packed);
}

Test(pack, tiled_e3m2_element_9_19_splits_into_4_and_2_bit_planes) {
  /* row 9, col 19: 32-column slice 0, w = 19: lane column group tig = 2,
   * rest = 3 -> k16 tile t = 0, register r = 3. Register pair
   * j = 1 (row >= 8) | 2 (r >= 2) = 3, lane = (9 % 8) * 4 + 2 = 6, half 1,
   * pair number q = 0 * 4 + 3 = 3.
   * 4-bit plane (code bits 5..2): 4 pairs per word -> word 0, slot 3, byte
   * 6 * 16 = 96, bit 16 + 3 * 4 = 28 -> byte 99, high nibble.
   * 2-bit plane (bits 1..0) at 4 * 512 = 2048: word 0, slot 3, byte
   * 2048 + 96 = 2144, bit 16 + 6 = 22 -> byte 2146, bits 6..7. */
  const size_t bytes[2] = {99, 2146};
  const uint8_t values[2] = {0xB0, 0x40}; /* 0x2D = 1011 01 */
  check_single("e3m2", 16, 256, 9, 19, 0x2D, bytes, values, 2);
}

Test(pack, tiled_e4m3_element_in_block_1_1_lands_in_the_last_chunk) {
  /* global (16, 511) of a 32 x 512 matrix: block (1, 1), element (0, 255):
   * slice 7, w = 31: tig 3, rest 7 -> t = 2 * 7 + 1 = 15, r = 3; j = 2,
   * lane 3, half 1, q = 62. One 8-bit plane: 2 pairs per word -> word 31 =
   * chunk 7, word 3, slot 0: byte (7 * 32 + 3) * 16 + 12 = 3644, bit 16 ->
   * byte 3646. Block (1, 1) starts at (1 * 2 + 1) * 8 * 512 = 12288. */
  const size_t bytes[1] = {12288 + 3646};
  const uint8_t values[1] = {0xA7};
  check_single("e4m3", 32, 512, 16, 511, 0xA7, bytes, values, 1);
}

Test(pack, tiled_e1m1_element_7_8_splits_into_2_and_1_bit_planes) {
  /* row 7, col 8: slice 0, w = 8: tig 1, rest 0 -> t = 0, r = 0; j = 0,
   * lane 7 * 4 + 1 = 29, half 0, q = 0.
   * 2-bit plane (bits 2..1): word 0, slot 0, byte 29 * 16 = 464, bit 0.
   * 1-bit plane (bit 0) at 2 * 512: word 0, slot 0, byte 1024 + 464, bit 0. */
  const size_t bytes[2] = {464, 1488};
  const uint8_t values[2] = {0x02, 0x01}; /* 5 = 10 1 */
  check_single("e1m1", 16, 256, 7, 8, 5, bytes, values, 2);
}

Test(pack, tiled_e2m1_second_half_of_each_8_columns_goes_to_the_next_k16_tile) {
  /* row 0, col 4: slice 0, w = 4: tig 0, rest 4 -> t = 1, r = 0; j = 0,
   * lane 0, half 0, q = 4. One 4-bit plane: 4 pairs per word -> word 1,
   * slot 0: byte 4, bit 0. */
  const size_t bytes[1] = {4};
  const uint8_t values[1] = {0x09};
  check_single("e2m1", 16, 256, 0, 4, 0x9, bytes, values, 1);
}

Test(pack, tiled_e3m3_element_0_0_uses_the_first_bit_of_each_plane) {
  /* 7 bits: planes 4 (bits 6..3), 2 (bits 2..1), 1 (bit 0) at 0, 2048, 3072 */
  const size_t bytes[3] = {0, 2048, 3072};
  const uint8_t values[3] = {0x0D, 0x01, 0x01}; /* 0x6B = 1101 01 1 */
  check_single("e3m3", 16, 256, 0, 0, 0x6B, bytes, values, 3);
}

Test(pack, tiled_rejects_bad_input) {
  uint8_t codes[4] = {1, 2, 3, 0x40}, out[4096 * 2];
  fpx_format f = fmt("e3m2"), bad = {5, 5};
  memset(out, 0xCC, sizeof out);
  cr_assert_eq(fpx_pack_tiled(f, codes, 2, 2, out), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "0x40"), "%s", fpx_last_error());
  cr_assert_eq(out[0], 0xCC, "written on failure");
  cr_assert_eq(fpx_pack_tiled(f, NULL, 2, 2, out), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "codes is NULL"), "%s", fpx_last_error());
  cr_assert_eq(fpx_pack_tiled(f, codes, 2, 2, NULL), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "out_packed is NULL"), "%s", fpx_last_error());
  cr_assert_eq(fpx_pack_tiled(f, codes, 0, 2, out), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_pack_tiled(f, codes, 2, 0, out), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_pack_tiled(f, codes, SIZE_MAX / 4, 4, out), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_unpack_tiled(f, NULL, 2, 2, codes), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "packed is NULL"), "%s", fpx_last_error());
  cr_assert_eq(fpx_unpack_tiled(f, out, 2, 2, NULL), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "out_codes is NULL"), "%s", fpx_last_error());
  cr_assert_eq(fpx_unpack_tiled(f, out, 2, 0, codes), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_pack_tiled(bad, codes, 2, 2, out), FPX_ERR_UNSUPPORTED_FORMAT);
  cr_assert(contains(fpx_last_error(), "e5m5"), "%s", fpx_last_error());
  cr_assert_eq(fpx_unpack_tiled(bad, out, 2, 2, codes), FPX_ERR_UNSUPPORTED_FORMAT);
  cr_assert_eq(fpx_tiled_packed_size(bad, 16, 256), 0);
}

Test(pack, tiled_size_beyond_size_max_is_zero_and_such_shapes_are_rejected) {
  fpx_format f = fmt("e4m3");
  /* 1 x 2^60 pads to 16 rows: 2^64 bytes, which wrapped to 0 unchecked */
  cr_assert_eq(fpx_tiled_packed_size(f, 1, (size_t)1 << 60), 0);
  cr_assert_eq(fpx_tiled_packed_size(f, (size_t)1 << 60, 1), 0);
  cr_assert_eq(fpx_tiled_packed_size(f, 16, 256), 8 * 512);
  uint8_t one = 0, out[16];
  cr_assert_eq(fpx_pack_tiled(f, &one, 1, (size_t)1 << 60, out), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "overflows"), "%s", fpx_last_error());
  cr_assert_eq(fpx_unpack_tiled(f, out, (size_t)1 << 60, 1, &one), FPX_ERR_INVALID_ARGUMENT);
}
