/*
 * test_dtype.c - the f16 / bf16 scalar conversions (exhaustively, with ties
 * to even) and dtype names.
 */
#include <float.h>

#include "support.h"

static float bits_to_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* Value of an IEEE binary16 pattern, from its fields. */
static double ref_f16(uint16_t h) {
  unsigned e = (h >> 10) & 31, m = h & 1023;
  double mag = e == 0 ? m * pow(2, -24) : e == 31 ? (m ? NAN : INFINITY)
                                                  : (1 + m / 1024.0) * pow(2, (int)e - 15);
  return (h & 0x8000) ? -mag : mag;
}

Test(dtype, f16_to_f32_decodes_every_pattern_exactly) {
  for (uint32_t h = 0; h < 65536; h++) {
    double want = ref_f16((uint16_t)h);
    float got = fpx_f16_to_f32((uint16_t)h);
    if (isnan(want)) cr_assert(isnan(got), "0x%04x", h);
    else cr_assert(got == want && !signbit(got) == !signbit(want), "0x%04x: %g", h, got);
  }
}

Test(dtype, f16_round_trips_every_pattern) {
  for (uint32_t h = 0; h < 65536; h++) {
    uint16_t back = fpx_f32_to_f16(fpx_f16_to_f32((uint16_t)h));
    if (isnan(ref_f16((uint16_t)h))) cr_assert(isnan(ref_f16(back)), "0x%04x", h);
    else cr_assert_eq(back, h, "0x%04x -> 0x%04x", h, back);
  }
}

Test(dtype, f32_to_f16_ties_go_to_even_and_neighbours_to_nearest) {
  for (uint32_t h = 0; h < 0x7BFF; h++) { /* every pair of adjacent finite positives */
    float lo = fpx_f16_to_f32((uint16_t)h), hi = fpx_f16_to_f32((uint16_t)(h + 1));
    float mid = (float)(((double)lo + hi) / 2); /* exact: 12 significant bits */
    uint32_t even = h % 2 ? h + 1 : h;
    cr_assert_eq(fpx_f32_to_f16(mid), even, "tie above 0x%04x", h);
    cr_assert_eq(fpx_f32_to_f16(nextafterf(mid, 0)), h, "below tie above 0x%04x", h);
    cr_assert_eq(fpx_f32_to_f16(nextafterf(mid, INFINITY)), h + 1, "above tie 0x%04x", h);
    cr_assert_eq(fpx_f32_to_f16(-mid), even | 0x8000);
  }
}

Test(dtype, f32_to_f16_special_values) {
  cr_assert_eq(fpx_f32_to_f16(1.0f), 0x3C00);
  cr_assert_eq(fpx_f32_to_f16(-2.0f), 0xC000);
  cr_assert_eq(fpx_f32_to_f16(65504.0f), 0x7BFF);
  cr_assert_eq(fpx_f32_to_f16(65519.99f), 0x7BFF);
  cr_assert_eq(fpx_f32_to_f16(65520.0f), 0x7C00); /* tie with 65536: even = Inf */
  cr_assert_eq(fpx_f32_to_f16(FLT_MAX), 0x7C00);
  cr_assert_eq(fpx_f32_to_f16(-INFINITY), 0xFC00);
  cr_assert_eq(fpx_f32_to_f16(0x1p-24f), 0x0001);
  cr_assert_eq(fpx_f32_to_f16(0x1p-25f), 0x0000); /* tie with 0 */
  cr_assert_eq(fpx_f32_to_f16(0x1.8p-24f), 0x0002);
  cr_assert_eq(fpx_f32_to_f16(-0.0f), 0x8000);
  cr_assert_eq(fpx_f32_to_f16(-0x1p-30f), 0x8000);
  uint16_t nan = fpx_f32_to_f16(NAN);
  cr_assert((nan & 0x7C00) == 0x7C00 && (nan & 0x03FF) != 0, "0x%04x", nan);
}

Test(dtype, bf16_to_f32_is_the_high_half_of_f32) {
  for (uint32_t b = 0; b < 65536; b++) {
    float got = fpx_bf16_to_f32((uint16_t)b), want = bits_to_f32(b << 16);
    if (isnan(want)) cr_assert(isnan(got));
    else cr_assert(memcmp(&got, &want, sizeof got) == 0, "0x%04x", b);
  }
}

Test(dtype, f32_to_bf16_ties_go_to_even_and_neighbours_to_nearest) {
  for (uint32_t b = 0; b < 0x7F7F; b++) {
    float lo = bits_to_f32(b << 16);
    float mid = bits_to_f32((b << 16) | 0x8000); /* exact midpoint */
    (void)lo;
    uint32_t even = b % 2 ? b + 1 : b;
    cr_assert_eq(fpx_f32_to_bf16(mid), even, "tie above 0x%04x", b);
    cr_assert_eq(fpx_f32_to_bf16(bits_to_f32((b << 16) | 0x7FFF)), b);
    cr_assert_eq(fpx_f32_to_bf16(bits_to_f32((b << 16) | 0x8001)), b + 1);
    cr_assert_eq(fpx_f32_to_bf16(bits_to_f32((b << 16) | 0x80008000u)), even | 0x8000);
  }
}

Test(dtype, f32_to_bf16_special_values) {
  cr_assert_eq(fpx_f32_to_bf16(1.0f), 0x3F80);
  cr_assert_eq(fpx_f32_to_bf16(1.0f + 0x1p-8f), 0x3F80);
  cr_assert_eq(fpx_f32_to_bf16(1.0f + 0x3p-8f), 0x3F82);
  cr_assert_eq(fpx_f32_to_bf16(FLT_MAX), 0x7F80);
  cr_assert_eq(fpx_f32_to_bf16(-INFINITY), 0xFF80);
  cr_assert_eq(fpx_f32_to_bf16(-0.0f), 0x8000);
  cr_assert_eq(fpx_f32_to_bf16(0x1p-133f), 0x0001);
  uint16_t nan = fpx_f32_to_bf16(NAN);
  cr_assert((nan & 0x7F80) == 0x7F80 && (nan & 0x007F) != 0, "0x%04x", nan);
}

Test(dtype, names_and_parsing) {
  fpx_dtype d;
  cr_assert_str_eq(fpx_dtype_name(FPX_DTYPE_F32), "f32");
  cr_assert_str_eq(fpx_dtype_name(FPX_DTYPE_F16), "f16");
  cr_assert_str_eq(fpx_dtype_name(FPX_DTYPE_BF16), "bf16");
  cr_assert_str_eq(fpx_dtype_name(FPX_DTYPE_E4M3), "e4m3");
  cr_assert_str_eq(fpx_dtype_name(FPX_DTYPE_E5M2), "e5m2");
  cr_assert_null(fpx_dtype_name((fpx_dtype)5));
  static const struct { const char *name; fpx_dtype d; } ok[] = {
      {"f32", FPX_DTYPE_F32},  {"fp32", FPX_DTYPE_F32},     {"float32", FPX_DTYPE_F32},
      {"F16", FPX_DTYPE_F16},  {"fp16", FPX_DTYPE_F16},     {"float16", FPX_DTYPE_F16},
      {"bf16", FPX_DTYPE_BF16}, {"bfloat16", FPX_DTYPE_BF16},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    cr_assert_eq(fpx_dtype_parse(ok[i].name, &d), FPX_OK, "%s", ok[i].name);
    cr_assert_eq(d, ok[i].d, "%s", ok[i].name);
  }
}

Test(dtype, unknown_dtype_name_is_invalid_argument_naming_it) {
  fpx_dtype d;
  cr_assert_eq(fpx_dtype_parse("f8", &d), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "'f8'"), "%s", fpx_last_error());
  cr_assert_eq(fpx_dtype_parse(NULL, &d), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_dtype_parse("f32", NULL), FPX_ERR_INVALID_ARGUMENT);
}
