/*
 * test_encode.c - encoding to eXmY codes: round trips, every midpoint and
 * its neighbours (ties to the even code), saturation, infinities, signed
 * zeros, subnormals and NaN, for scalar and bulk encoding from f32, f16 and
 * bf16.
 */
#include <float.h>

#include "support.h"

static uint8_t enc(fpx_format f, double x) {
  uint8_t code = 0xEE;
  cr_assert_eq(fpx_encode_value(f, x, &code), FPX_OK, "encode %g: %s", x, fpx_last_error());
  return code;
}

/* Largest positive finite code, from the independent decoder. */
static unsigned max_code(fpx_format f, const fpx_format_info *info) {
  unsigned best = 0;
  for (unsigned c = 0; c < (unsigned)info->num_codes / 2; c++)
    if (isfinite(ref_decode(f.exp_bits, f.man_bits, c))) best = c;
  return best;
}

Test(encode, every_finite_value_round_trips_to_its_code) {
  for (size_t i = 0; i < fpx_format_count(); i++) {
    fpx_format f = fpx_format_at(i);
    fpx_format_info info = info_of(f);
    for (unsigned c = 0; c < (unsigned)info.num_codes; c++) {
      double v = ref_decode(f.exp_bits, f.man_bits, c);
      if (!isfinite(v)) continue;
      cr_assert_eq(enc(f, v), c, "%s: %g", info.name, v);
    }
  }
}

Test(encode, midpoints_tie_to_the_even_code_and_neighbours_round_to_nearest) {
  for (size_t i = 0; i < fpx_format_count(); i++) {
    fpx_format f = fpx_format_at(i);
    fpx_format_info info = info_of(f);
    const unsigned sign = (unsigned)info.num_codes / 2, top = max_code(f, &info);
    for (unsigned c = 0; c < top; c++) {
      double lo = ref_decode(f.exp_bits, f.man_bits, c);
      double hi = ref_decode(f.exp_bits, f.man_bits, c + 1);
      double mid = (lo + hi) / 2;
      unsigned even = (c % 2 == 0) ? c : c + 1;
      cr_assert_eq(enc(f, mid), even, "%s: midpoint %.17g of 0x%02x", info.name, mid, c);
      cr_assert_eq(enc(f, -mid), even | sign, "%s: -%.17g", info.name, mid);
      cr_assert_eq(enc(f, nextafter(mid, 0.0)), c, "%s: below %.17g", info.name, mid);
      cr_assert_eq(enc(f, nextafter(mid, INFINITY)), c + 1, "%s: above %.17g", info.name, mid);
      cr_assert_eq(enc(f, -nextafter(mid, 0.0)), c | sign, "%s", info.name);
      cr_assert_eq(enc(f, -nextafter(mid, INFINITY)), (c + 1) | sign, "%s", info.name);
    }
  }
}

Test(encode, finite_values_beyond_max_saturate_to_plus_minus_max) {
  for (size_t i = 0; i < fpx_format_count(); i++) {
    fpx_format f = fpx_format_at(i);
    fpx_format_info info = info_of(f);
    const unsigned sign = (unsigned)info.num_codes / 2, top = max_code(f, &info);
    const double beyond[] = {nextafter(info.max_finite, INFINITY), info.max_finite * 1.75,
                             info.max_finite * 4, 1e300, DBL_MAX};
    for (size_t j = 0; j < sizeof beyond / sizeof beyond[0]; j++) {
      cr_assert_eq(enc(f, beyond[j]), top, "%s: %g", info.name, beyond[j]);
      cr_assert_eq(enc(f, -beyond[j]), top | sign, "%s: -%g", info.name, beyond[j]);
    }
  }
}

Test(encode, maxima_of_the_common_formats) {
  cr_assert_eq(enc(fmt("e4m3"), 448), 0x7E);
  cr_assert_eq(enc(fmt("e4m3"), 1000), 0x7E);
  cr_assert_eq(enc(fmt("e5m2"), 57344), 0x7B);
  cr_assert_eq(enc(fmt("e5m2"), 1e6), 0x7B);
  cr_assert_eq(enc(fmt("e2m1"), 6), 0x07);
  cr_assert_eq(enc(fmt("e2m1"), 100), 0x07);
  cr_assert_eq(enc(fmt("e3m2"), 28), 0x1F);
  cr_assert_eq(enc(fmt("e3m2"), -29), 0x3F);
}

Test(encode, e5m2_keeps_infinities) {
  cr_assert_eq(enc(fmt("e5m2"), INFINITY), 0x7C);
  cr_assert_eq(enc(fmt("e5m2"), -INFINITY), 0xFC);
}

Test(encode, e4m3_saturates_infinities_to_448) {
  cr_assert_eq(enc(fmt("e4m3"), INFINITY), 0x7E);
  cr_assert_eq(enc(fmt("e4m3"), -INFINITY), 0xFE);
}

Test(encode, formats_without_inf_saturate_infinities) {
  cr_assert_eq(enc(fmt("e2m1"), INFINITY), 0x07);
  cr_assert_eq(enc(fmt("e2m1"), -INFINITY), 0x0F);
  cr_assert_eq(enc(fmt("e3m4"), INFINITY), 0x7F);
}

Test(encode, signed_zeros_keep_their_sign) {
  for (size_t i = 0; i < fpx_format_count(); i++) {
    fpx_format f = fpx_format_at(i);
    fpx_format_info info = info_of(f);
    const unsigned sign = (unsigned)info.num_codes / 2;
    cr_assert_eq(enc(f, 0.0), 0);
    cr_assert_eq(enc(f, -0.0), sign, "%s", info.name);
    /* values that round to zero keep their sign too */
    cr_assert_eq(enc(f, info.min_subnormal / 4), 0);
    cr_assert_eq(enc(f, -info.min_subnormal / 4), sign, "%s", info.name);
  }
}

Test(encode, subnormals_of_e3m2) {
  fpx_format f = fmt("e3m2");
  cr_assert_eq(enc(f, 0.0625), 0x01);    /* smallest subnormal */
  cr_assert_eq(enc(f, 0.03125), 0x00);   /* half of it: tie to even 0 */
  cr_assert_eq(enc(f, 0.0468750), 0x01); /* 3/4 of it */
  cr_assert_eq(enc(f, 0.09375), 0x02);   /* 1.5 x: tie between 0x01 and 0x02 */
  cr_assert_eq(enc(f, 0.15625), 0x02);   /* 2.5 x: tie between 0x02 and 0x03 */
  cr_assert_eq(enc(f, 0.1875), 0x03);    /* largest subnormal */
  cr_assert_eq(enc(f, 0.25), 0x04);      /* smallest normal */
  cr_assert_eq(enc(f, -0.1875), 0x23);
}

Test(encode, e2m1_ties_go_to_the_even_code) {
  fpx_format f = fmt("e2m1"); /* 0 0.5 1 1.5 2 3 4 6 */
  cr_assert_eq(enc(f, 5), 0x06);
  cr_assert_eq(enc(f, 3.5), 0x06);
  cr_assert_eq(enc(f, 2.5), 0x04);
  cr_assert_eq(enc(f, 1.75), 0x04);
  cr_assert_eq(enc(f, 1.25), 0x02);
  cr_assert_eq(enc(f, 0.25), 0x00);
  cr_assert_eq(enc(f, -5), 0x0E);
}

Test(encode, e4m3_nan_becomes_0x7f_with_its_sign) {
  cr_assert_eq(enc(fmt("e4m3"), NAN), 0x7F);
  cr_assert_eq(enc(fmt("e4m3"), -NAN), 0xFF);
}

Test(encode, e5m2_nan_becomes_a_nan_code) {
  double v;
  uint8_t code = enc(fmt("e5m2"), NAN);
  cr_assert_eq(fpx_decode_value(fmt("e5m2"), code, &v), FPX_OK);
  cr_assert(isnan(v), "code 0x%02x is not NaN", code);
  cr_assert(isnan(ref_decode(5, 2, code)));
  cr_assert(isnan(ref_decode(5, 2, enc(fmt("e5m2"), -NAN))));
}

Test(encode, nan_into_a_format_without_nan_is_non_finite) {
  for (size_t i = 0; i < fpx_format_count(); i++) {
    fpx_format f = fpx_format_at(i);
    fpx_format_info info = info_of(f);
    if (info.has_nan) continue;
    uint8_t code = 0x55;
    cr_assert_eq(fpx_encode_value(f, NAN, &code), FPX_ERR_NON_FINITE, "%s", info.name);
    cr_assert(contains(fpx_last_error(), info.name), "%s", fpx_last_error());
    cr_assert_eq(code, 0, "out_code not cleared");
  }
}

Test(encode, encode_value_rejects_null_out_and_bad_format) {
  uint8_t code;
  fpx_format bad = {4, 4};
  cr_assert_eq(fpx_encode_value(fmt("e3m2"), 1.0, NULL), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_encode_value(bad, 1.0, &code), FPX_ERR_UNSUPPORTED_FORMAT);
  cr_assert(contains(fpx_last_error(), "e4m4"), "%s", fpx_last_error());
}

Test(encode, bulk_f32_matches_scalar_on_midpoints_and_neighbours) {
  for (size_t i = 0; i < fpx_format_count(); i++) {
    fpx_format f = fpx_format_at(i);
    fpx_format_info info = info_of(f);
    const unsigned top = max_code(f, &info);
    float x[3 * 128];
    uint8_t codes[3 * 128];
    size_t count = 0;
    for (unsigned c = 0; c < top; c++) {
      /* midpoints have at most 8 significant bits: exact in f32 */
      float mid = (float)((ref_decode(f.exp_bits, f.man_bits, c) +
                           ref_decode(f.exp_bits, f.man_bits, c + 1)) / 2);
      x[count++] = mid;
      x[count++] = nextafterf(mid, 0.0f);
      x[count++] = -nextafterf(mid, INFINITY);
    }
    cr_assert_eq(fpx_encode(f, FPX_DTYPE_F32, x, count, codes), FPX_OK);
    for (size_t j = 0; j < count; j++)
      cr_assert_eq(codes[j], enc(f, x[j]), "%s: %g", info.name, x[j]);
    for (unsigned c = 0; c < top; c++)
      cr_assert_eq(codes[3 * c], c % 2 ? c + 1 : c, "%s: tie 0x%02x", info.name, c);
  }
}

/* Bulk encoding from a 16-bit dtype: every midpoint that the dtype holds
 * exactly, and the dtype's own neighbours of it. */
static void check_16bit_input(fpx_dtype dtype, uint16_t (*to16)(float), float (*from16)(uint16_t)) {
  for (size_t i = 0; i < fpx_format_count(); i++) {
    fpx_format f = fpx_format_at(i);
    fpx_format_info info = info_of(f);
    const unsigned top = max_code(f, &info);
    uint16_t x[3 * 128];
    uint8_t codes[3 * 128];
    unsigned lower[3 * 128];
    size_t count = 0;
    for (unsigned c = 0; c < top; c++) {
      double mid = (ref_decode(f.exp_bits, f.man_bits, c) +
                    ref_decode(f.exp_bits, f.man_bits, c + 1)) / 2;
      uint16_t h = to16((float)mid);
      if ((double)from16(h) != mid) continue; /* not exact in this dtype */
      x[count] = h, lower[count++] = c;
      x[count] = (uint16_t)(h - 1), lower[count++] = c;
      x[count] = (uint16_t)(h + 1), lower[count++] = c;
    }
    cr_assert(count > 0 || info.bits == 8, "%s: no midpoint tested", info.name);
    cr_assert_eq(fpx_encode(f, dtype, x, count, codes), FPX_OK);
    for (size_t j = 0; j < count; j += 3) {
      unsigned c = lower[j];
      cr_assert_eq(codes[j], c % 2 ? c + 1 : c, "%s: tie at %g", info.name, from16(x[j]));
      cr_assert_eq(codes[j + 1], c, "%s: below %g", info.name, from16(x[j]));
      cr_assert_eq(codes[j + 2], c + 1, "%s: above %g", info.name, from16(x[j]));
    }
  }
}

Test(encode, bulk_from_f16_rounds_ties_to_even) {
  check_16bit_input(FPX_DTYPE_F16, fpx_f32_to_f16, fpx_f16_to_f32);
}

Test(encode, bulk_from_bf16_rounds_ties_to_even) {
  check_16bit_input(FPX_DTYPE_BF16, fpx_f32_to_bf16, fpx_bf16_to_f32);
}

Test(encode, bulk_from_f16_saturates_and_keeps_inf_for_e5m2) {
  uint16_t x[4] = {0x7C00, 0xFC00, 0x7BFF /* 65504 */, 0x8000};
  uint8_t codes[4];
  cr_assert_eq(fpx_encode(fmt("e5m2"), FPX_DTYPE_F16, x, 4, codes), FPX_OK);
  cr_assert_eq(codes[0], 0x7C);
  cr_assert_eq(codes[1], 0xFC);
  cr_assert_eq(codes[2], 0x7B);
  cr_assert_eq(codes[3], 0x80);
  cr_assert_eq(fpx_encode(fmt("e4m3"), FPX_DTYPE_F16, x, 4, codes), FPX_OK);
  cr_assert_eq(codes[0], 0x7E);
  cr_assert_eq(codes[1], 0xFE);
  cr_assert_eq(codes[2], 0x7E);
}

Test(encode, bulk_nan_in_a_format_without_nan_names_the_index_and_writes_nothing) {
  float x[5] = {1, 2, 3, NAN, 4};
  uint8_t codes[5];
  memset(codes, 0xA5, sizeof codes);
  cr_assert_eq(fpx_encode(fmt("e3m2"), FPX_DTYPE_F32, x, 5, codes), FPX_ERR_NON_FINITE);
  cr_assert(contains(fpx_last_error(), "element 3"), "%s", fpx_last_error());
  for (int i = 0; i < 5; i++) cr_assert_eq(codes[i], 0xA5, "codes[%d] written", i);
}

Test(encode, bulk_nan_from_bf16_into_e4m3_is_the_nan_code) {
  uint16_t x[2] = {0x7FC0, 0xFFC0};
  uint8_t codes[2];
  cr_assert_eq(fpx_encode(fmt("e4m3"), FPX_DTYPE_BF16, x, 2, codes), FPX_OK);
  cr_assert_eq(codes[0], 0x7F);
  cr_assert_eq(codes[1], 0xFF);
}

Test(encode, bulk_rejects_bad_dtype_null_buffers_and_bad_format) {
  float x[2] = {1, 2};
  uint8_t codes[2] = {0xA5, 0xA5};
  fpx_format bad = {6, 2};
  cr_assert_eq(fpx_encode(fmt("e3m2"), (fpx_dtype)9, x, 2, codes), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "9"), "%s", fpx_last_error());
  cr_assert_eq(fpx_encode(fmt("e3m2"), FPX_DTYPE_F32, NULL, 2, codes), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "src"), "%s", fpx_last_error());
  cr_assert_eq(fpx_encode(fmt("e3m2"), FPX_DTYPE_F32, x, 2, NULL), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_encode(bad, FPX_DTYPE_F32, x, 2, codes), FPX_ERR_UNSUPPORTED_FORMAT);
  cr_assert(codes[0] == 0xA5 && codes[1] == 0xA5);
}

Test(encode, bulk_of_zero_elements_succeeds_without_touching_buffers) {
  cr_assert_eq(fpx_encode(fmt("e3m2"), FPX_DTYPE_F32, NULL, 0, NULL), FPX_OK);
}
