/*
 * test_format.c - format names, limits and decoding: every code of every
 * supported format against a decoder computed here from the bit fields.
 */
#include "support.h"

Test(format, supported_set_is_every_split_of_3_to_8_bits_with_1_to_5_exponent_bits) {
  size_t expected = 0;
  for (int bits = 3; bits <= 8; bits++)
    for (int e = 1; e <= 5; e++)
      if (bits - 1 - e >= 0) expected++;
  cr_assert_eq(fpx_format_count(), expected);
  int prev_bits = 0, prev_e = 0;
  for (size_t i = 0; i < fpx_format_count(); i++) {
    fpx_format f = fpx_format_at(i);
    int bits = 1 + f.exp_bits + f.man_bits;
    cr_assert(f.exp_bits >= 1 && f.exp_bits <= 5 && bits >= 3 && bits <= 8);
    cr_assert(bits > prev_bits || (bits == prev_bits && f.exp_bits > prev_e),
              "format %zu out of order", i);
    prev_bits = bits;
    prev_e = f.exp_bits;
  }
}

Test(format, format_at_past_the_end_is_zero) {
  fpx_format f = fpx_format_at(fpx_format_count());
  cr_assert_eq(f.exp_bits, 0);
  cr_assert_eq(f.man_bits, 0);
}

Test(format, every_code_of_every_format_decodes_as_its_bit_fields_say) {
  for (size_t i = 0; i < fpx_format_count(); i++) {
    fpx_format f = fpx_format_at(i);
    fpx_format_info info = info_of(f);
    for (unsigned c = 0; c < (unsigned)info.num_codes; c++) {
      double got, want = ref_decode(f.exp_bits, f.man_bits, c);
      cr_assert_eq(fpx_decode_value(f, c, &got), FPX_OK);
      if (isnan(want)) {
        cr_assert(isnan(got), "%s 0x%02x: %g, want NaN", info.name, c, got);
      } else {
        cr_assert(got == want && !signbit(got) == !signbit(want), "%s 0x%02x: %.17g, want %.17g",
                  info.name, c, got, want);
      }
    }
  }
}

Test(format, bulk_decode_to_f32_matches_bit_fields_for_every_code) {
  for (size_t i = 0; i < fpx_format_count(); i++) {
    fpx_format f = fpx_format_at(i);
    fpx_format_info info = info_of(f);
    uint8_t codes[256];
    float out[256];
    for (int c = 0; c < info.num_codes; c++) codes[c] = (uint8_t)c;
    cr_assert_eq(fpx_decode(f, codes, (size_t)info.num_codes, FPX_DTYPE_F32, out), FPX_OK);
    for (int c = 0; c < info.num_codes; c++) {
      double want = ref_decode(f.exp_bits, f.man_bits, (unsigned)c);
      if (isnan(want)) cr_assert(isnan(out[c]));
      else cr_assert(out[c] == (float)want, "%s 0x%02x: %g want %g", info.name, c, out[c], want);
    }
  }
}

Test(format, bulk_decode_to_f16_and_bf16_rounds_each_code_once) {
  for (size_t i = 0; i < fpx_format_count(); i++) {
    fpx_format f = fpx_format_at(i);
    fpx_format_info info = info_of(f);
    uint8_t codes[256];
    uint16_t h[256], b[256];
    for (int c = 0; c < info.num_codes; c++) codes[c] = (uint8_t)c;
    cr_assert_eq(fpx_decode(f, codes, (size_t)info.num_codes, FPX_DTYPE_F16, h), FPX_OK);
    cr_assert_eq(fpx_decode(f, codes, (size_t)info.num_codes, FPX_DTYPE_BF16, b), FPX_OK);
    for (int c = 0; c < info.num_codes; c++) {
      double want = ref_decode(f.exp_bits, f.man_bits, (unsigned)c);
      /* every finite code value is exact in f32, so one rounding from f32 */
      if (isnan(want)) {
        cr_assert(isnan(fpx_f16_to_f32(h[c])) && isnan(fpx_bf16_to_f32(b[c])));
        continue;
      }
      cr_assert_eq(h[c], fpx_f32_to_f16((float)want), "%s 0x%02x f16", info.name, c);
      cr_assert_eq(b[c], fpx_f32_to_bf16((float)want), "%s 0x%02x bf16", info.name, c);
    }
  }
}

Test(format, e5m0_top_values_become_inf_in_f16) {
  uint8_t code = 0x1F; /* 65536, just above the f16 maximum 65504 */
  uint16_t h;
  cr_assert_eq(fpx_decode(fmt("e5m0"), &code, 1, FPX_DTYPE_F16, &h), FPX_OK);
  cr_assert_eq(h, 0x7C00);
}

Test(format, limits_of_the_named_formats) {
  static const struct {
    const char *name;
    int bits, bias;
    double max, min_normal, min_sub;
    int inf, nan;
  } cases[] = {
      {"e4m3", 8, 7, 448, 0x1p-6, 0x1p-9, 0, 1},
      {"e5m2", 8, 15, 57344, 0x1p-14, 0x1p-16, 1, 1},
      {"e2m1", 4, 1, 6, 1, 0.5, 0, 0},
      {"e3m2", 6, 3, 28, 0.25, 0.0625, 0, 0},
      {"e2m3", 6, 1, 7.5, 1, 0.125, 0, 0},
      {"e2m2", 5, 1, 7, 1, 0.25, 0, 0},
      {"e3m4", 8, 3, 31, 0.25, 1.0 / 64, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fpx_format_info info = info_of(fmt(cases[i].name));
    cr_assert_str_eq(info.name, cases[i].name);
    cr_assert_eq(info.bits, cases[i].bits);
    cr_assert_eq(info.num_codes, 1 << cases[i].bits);
    cr_assert_eq(info.bias, cases[i].bias);
    cr_assert(info.max_finite == cases[i].max, "%s max %g", cases[i].name, info.max_finite);
    cr_assert(info.min_normal == cases[i].min_normal, "%s min_normal", cases[i].name);
    cr_assert(info.min_subnormal == cases[i].min_sub, "%s min_subnormal", cases[i].name);
    cr_assert_eq(info.has_inf, cases[i].inf, "%s inf", cases[i].name);
    cr_assert_eq(info.has_nan, cases[i].nan, "%s nan", cases[i].name);
  }
}

Test(format, only_e4m3_and_e5m2_have_non_finite_codes) {
  for (size_t i = 0; i < fpx_format_count(); i++) {
    fpx_format f = fpx_format_at(i);
    fpx_format_info info = info_of(f);
    int special = !strcmp(info.name, "e4m3") || !strcmp(info.name, "e5m2");
    int non_finite = 0;
    for (unsigned c = 0; c < (unsigned)info.num_codes; c++)
      if (!isfinite(ref_decode(f.exp_bits, f.man_bits, c))) non_finite++;
    cr_assert_eq(info.has_nan, special, "%s", info.name);
    cr_assert_eq(non_finite != 0, special, "%s", info.name);
  }
}

Test(format, canonical_names_parse_case_insensitively) {
  fpx_format f;
  cr_assert_eq(fpx_format_parse("E3M2", &f), FPX_OK);
  cr_assert(f.exp_bits == 3 && f.man_bits == 2);
  cr_assert_eq(fpx_format_parse("e1m1", &f), FPX_OK);
  cr_assert(f.exp_bits == 1 && f.man_bits == 1);
  cr_assert_eq(fpx_format_parse("e5m2", &f), FPX_OK);
  cr_assert(f.exp_bits == 5 && f.man_bits == 2);
}

Test(format, aliases_name_the_documented_splits) {
  static const struct { const char *alias; int e, m; } cases[] = {
      {"fp4", 2, 1}, {"fp5", 2, 2}, {"fp6", 3, 2}, {"fp8", 4, 3}, {"FP6", 3, 2},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fpx_format f = fmt(cases[i].alias);
    cr_assert(f.exp_bits == cases[i].e && f.man_bits == cases[i].m, "%s", cases[i].alias);
  }
}

Test(format, bit_count_prefixed_names_parse) {
  fpx_format f = fmt("fp6_e2m3");
  cr_assert(f.exp_bits == 2 && f.man_bits == 3);
  f = fmt("fp8_e5m2");
  cr_assert(f.exp_bits == 5 && f.man_bits == 2);
}

Test(format, bad_names_are_unsupported_and_the_message_names_them) {
  static const char *const names[] = {"e0m3", "e6m2", "e4m4", "fp9", "fp7_e3m2", "e3m",
                                      "xyz", "e3m2 ", "fp6_e3m3", "e10m2"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    fpx_format f = {9, 9};
    cr_assert_eq(fpx_format_parse(names[i], &f), FPX_ERR_UNSUPPORTED_FORMAT, "%s", names[i]);
    cr_assert(contains(fpx_last_error(), names[i]), "'%s' not in '%s'", names[i],
              fpx_last_error());
    cr_assert(f.exp_bits == 0 && f.man_bits == 0, "out_format not cleared for %s", names[i]);
  }
}

Test(format, empty_name_is_unsupported) {
  fpx_format f;
  cr_assert_eq(fpx_format_parse("", &f), FPX_ERR_UNSUPPORTED_FORMAT);
  cr_assert(contains(fpx_last_error(), "empty"), "%s", fpx_last_error());
}

Test(format, null_name_is_unsupported) {
  fpx_format f;
  cr_assert_eq(fpx_format_parse(NULL, &f), FPX_ERR_UNSUPPORTED_FORMAT);
  cr_assert(contains(fpx_last_error(), "NULL"), "%s", fpx_last_error());
}

Test(format, bit_count_mismatch_names_both_counts) {
  fpx_format f;
  cr_assert_eq(fpx_format_parse("fp7_e3m2", &f), FPX_ERR_UNSUPPORTED_FORMAT);
  cr_assert(contains(fpx_last_error(), "fp7_e3m2"));
  cr_assert(contains(fpx_last_error(), "6 bits"), "%s", fpx_last_error());
}

Test(format, parse_with_null_out_is_invalid_argument) {
  cr_assert_eq(fpx_format_parse("e3m2", NULL), FPX_ERR_INVALID_ARGUMENT);
}

Test(format, get_info_of_unsupported_split_fails_and_clears_info) {
  fpx_format_info info;
  memset(&info, 0x5A, sizeof info);
  fpx_format bad = {6, 1};
  cr_assert_eq(fpx_format_get_info(bad, &info), FPX_ERR_UNSUPPORTED_FORMAT);
  cr_assert(contains(fpx_last_error(), "e6m1"), "%s", fpx_last_error());
  cr_assert_eq(info.bits, 0);
  cr_assert_eq(info.name[0], '\0');
  cr_assert_eq(fpx_format_get_info(fmt("e3m2"), NULL), FPX_ERR_INVALID_ARGUMENT);
}

Test(format, decode_value_rejects_codes_wider_than_the_format) {
  double v = 1.0;
  cr_assert_eq(fpx_decode_value(fmt("e2m1"), 0x10, &v), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "0x10"), "%s", fpx_last_error());
  cr_assert(v == 0.0, "out_value not cleared");
  cr_assert_eq(fpx_decode_value(fmt("e4m3"), 256, &v), FPX_ERR_INVALID_ARGUMENT);
}

Test(format, decode_value_rejects_null_out_and_bad_format) {
  double v;
  fpx_format bad = {0, 3};
  cr_assert_eq(fpx_decode_value(fmt("e2m1"), 1, NULL), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_decode_value(bad, 1, &v), FPX_ERR_UNSUPPORTED_FORMAT);
  cr_assert(contains(fpx_last_error(), "e0m3"), "%s", fpx_last_error());
}

Test(format, bulk_decode_rejects_bad_arguments) {
  uint8_t codes[3] = {1, 0x20, 2};
  float out[3] = {7, 7, 7};
  cr_assert_eq(fpx_decode(fmt("e2m1"), codes, 3, FPX_DTYPE_F32, out), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "code 1"), "%s", fpx_last_error());
  cr_assert(out[0] == 7 && out[1] == 7 && out[2] == 7, "output written on failure");
  cr_assert_eq(fpx_decode(fmt("e3m2"), codes, 3, (fpx_dtype)3, out), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_decode(fmt("e3m2"), NULL, 3, FPX_DTYPE_F32, out), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_decode(fmt("e3m2"), codes, 3, FPX_DTYPE_F32, NULL), FPX_ERR_INVALID_ARGUMENT);
  fpx_format bad = {5, 3};
  cr_assert_eq(fpx_decode(bad, codes, 3, FPX_DTYPE_F32, out), FPX_ERR_UNSUPPORTED_FORMAT);
}
