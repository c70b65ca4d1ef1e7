/*
 * test_quantize.c - weight quantization and dequantization: error bounds
 * for every format, scale layout and input dtype; computed and caller-given
 * scales; zero rows; and every rejected input, with outputs left untouched.
 */
#include <stdio.h>
#include <stdlib.h>

#include "support.h"

#define QN 5
#define QK 300 /* not a multiple of any group size: the last group is short */

static const int group_sizes[] = {0, 32, 64, 128, 256};

/* Random weights in [-amp, amp) of `dtype`, row r scaled by 4^(r - 2) so
 * that rows use different scales. Returns the exact values as doubles too. */
static void make_weights(fpx_dtype dtype, uint64_t seed, void *w, double *exact) {
  uint64_t state = seed;
  for (size_t r = 0; r < QN; r++)
    for (size_t c = 0; c < QK; c++) {
      double v = rng_signed_unit(&state) * ldexp(1.0, 2 * ((int)r - 2));
      size_t i = r * QK + c;
      switch (dtype) {
        case FPX_DTYPE_F32: ((float *)w)[i] = (float)v; exact[i] = (float)v; break;
        case FPX_DTYPE_F16:
          ((uint16_t *)w)[i] = fpx_f32_to_f16((float)v);
          exact[i] = fpx_f16_to_f32(((uint16_t *)w)[i]);
          break;
        case FPX_DTYPE_BF16:
          ((uint16_t *)w)[i] = fpx_f32_to_bf16((float)v);
          exact[i] = fpx_bf16_to_f32(((uint16_t *)w)[i]);
          break;
        default: /* FP8 dtypes are not dense weight inputs */
          cr_assert_fail("dtype %d is not a dense float", (int)dtype);
      }
    }
}

static void check_error_bound(fpx_format f, fpx_dtype dtype, int group_size) {
  fpx_format_info info = info_of(f);
  float w[QN * QK];
  double exact[QN * QK];
  uint8_t codes[QN * QK];
  float deq[QN * QK];
  size_t span = group_size ? (size_t)group_size : QK, groups = (QK + span - 1) / span;
  float *scales = malloc(QN * groups * sizeof *scales);
  fpx_quant_params params = {sizeof params, group_size, NULL};
  make_weights(dtype, 0x1234 + (uint64_t)group_size, w, exact);
  cr_assert_eq(fpx_scale_count(QN, QK, group_size), QN * groups);
  cr_assert_eq(fpx_quantize(f, dtype, w, QN, QK, &params, codes, scales), FPX_OK, "%s",
               fpx_last_error());
  cr_assert_eq(fpx_dequantize(f, codes, scales, QN, QK, group_size, FPX_DTYPE_F32, deq), FPX_OK);
  for (size_t r = 0; r < QN; r++)
    for (size_t g = 0; g < groups; g++) {
      size_t c0 = g * span, c1 = c0 + span < QK ? c0 + span : QK;
      double absmax = 0;
      for (size_t c = c0; c < c1; c++) absmax = fmax(absmax, fabs(exact[r * QK + c]));
      float want_scale = (float)(absmax / info.max_finite);
      float scale = scales[r * groups + g];
      cr_assert(scale == want_scale, "%s g=%d row %zu group %zu: scale %g want %g", info.name,
                group_size, r, g, scale, want_scale);
      for (size_t c = c0; c < c1; c++) {
        double x = exact[r * QK + c];
        double bound = 0.5 * ref_ulp(&info, x / scale) * scale + fabs(x) * 0x1p-22;
        double err = fabs(deq[r * QK + c] - x);
        cr_assert(err <= bound, "%s %s g=%d W[%zu][%zu]=%.9g: got %.9g, error %g > %g",
                  info.name, fpx_dtype_name(dtype), group_size, r, c, x,
                  (double)deq[r * QK + c], err, bound);
        double decoded = ref_decode(f.exp_bits, f.man_bits, codes[r * QK + c]);
        cr_assert((float)(decoded * scale) == deq[r * QK + c], "dequantize disagrees");
      }
    }
  free(scales);
}

static void check_all_formats(fpx_dtype dtype) {
  for (size_t i = 0; i < fpx_format_count(); i++)
    for (size_t g = 0; g < sizeof group_sizes / sizeof group_sizes[0]; g++)
      check_error_bound(fpx_format_at(i), dtype, group_sizes[g]);
}

Test(quantize, error_within_half_ulp_times_scale_from_f32) { check_all_formats(FPX_DTYPE_F32); }
Test(quantize, error_within_half_ulp_times_scale_from_f16) { check_all_formats(FPX_DTYPE_F16); }
Test(quantize, error_within_half_ulp_times_scale_from_bf16) { check_all_formats(FPX_DTYPE_BF16); }

Test(quantize, group_maximum_maps_to_the_largest_code) {
  float w[4] = {0.5f, -3.0f, 1.0f, 0.25f};
  uint8_t codes[4];
  float scale;
  fpx_quant_params params = {sizeof params, 0, NULL};
  cr_assert_eq(fpx_quantize(fmt("e2m1"), FPX_DTYPE_F32, w, 1, 4, &params, codes, &scale), FPX_OK);
  cr_assert(scale == 0.5f, "scale %g", scale); /* 3 / 6 */
  cr_assert_eq(codes[0], 0x02);                /* 0.5 / 0.5 = 1 */
  cr_assert_eq(codes[1], 0x0F);                /* -6 */
  cr_assert_eq(codes[2], 0x04);                /* 2 */
  cr_assert_eq(codes[3], 0x01);                /* 0.5 */
}

Test(quantize, zero_rows_get_scale_one_and_zero_codes) {
  float w[3 * 64] = {0};
  for (int c = 0; c < 64; c++) w[2 * 64 + c] = (float)(c + 1);
  uint8_t codes[3 * 64];
  float scales[3 * 2];
  fpx_quant_params params = {sizeof params, 32, NULL};
  memset(codes, 0xA5, sizeof codes);
  cr_assert_eq(fpx_quantize(fmt("e3m2"), FPX_DTYPE_F32, w, 3, 64, &params, codes, scales), FPX_OK);
  for (int i = 0; i < 4; i++) cr_assert(scales[i] == 1.0f, "scale %d = %g", i, scales[i]);
  for (int i = 0; i < 2 * 64; i++) cr_assert_eq(codes[i], 0, "code %d", i);
  cr_assert(scales[4] == (float)(32.0 / 28) && scales[5] == (float)(64.0 / 28));
}

Test(quantize, given_scales_are_used_and_copied_out) {
  float w[2 * 40];
  uint64_t state = 7;
  for (int i = 0; i < 80; i++) w[i] = (float)(rng_signed_unit(&state) * 10);
  float given[2 * 2] = {0.5f, 0.25f, 2.0f, 0.125f}; /* group 32: groups [0,32), [32,40) */
  float scales[4] = {0};
  uint8_t codes[80];
  fpx_format f = fmt("e3m2");
  fpx_quant_params params = {sizeof params, 32, given};
  cr_assert_eq(fpx_quantize(f, FPX_DTYPE_F32, w, 2, 40, &params, codes, scales), FPX_OK);
  cr_assert_eq(memcmp(scales, given, sizeof given), 0);
  for (int r = 0; r < 2; r++)
    for (int c = 0; c < 40; c++) {
      uint8_t want;
      cr_assert_eq(fpx_encode_value(f, w[r * 40 + c] / (double)given[r * 2 + c / 32], &want),
                   FPX_OK);
      cr_assert_eq(codes[r * 40 + c], want, "W[%d][%d]", r, c);
    }
}

static void check_non_finite(float bad, const char *what) {
  float w[3 * 10];
  for (int i = 0; i < 30; i++) w[i] = (float)i;
  w[2 * 10 + 7] = bad;
  uint8_t codes[30];
  float scales[3];
  memset(codes, 0xA5, sizeof codes);
  memset(scales, 0xA5, sizeof scales);
  fpx_quant_params params = {sizeof params, 0, NULL};
  cr_assert_eq(fpx_quantize(fmt("e4m3"), FPX_DTYPE_F32, w, 3, 10, &params, codes, scales),
               FPX_ERR_NON_FINITE);
  cr_assert(contains(fpx_last_error(), "[2][7]"), "%s", fpx_last_error());
  cr_assert(contains(fpx_last_error(), what), "%s", fpx_last_error());
  for (int i = 0; i < 30; i++) cr_assert_eq(codes[i], 0xA5, "codes[%d] written", i);
  for (int i = 0; i < 3; i++) cr_assert_eq(((uint8_t *)scales)[4 * i], 0xA5, "scale written");
}

Test(quantize, nan_in_weights_is_non_finite_naming_row_and_column) { check_non_finite(NAN, "NaN"); }
Test(quantize, inf_in_weights_is_non_finite_naming_row_and_column) {
  check_non_finite(-INFINITY, "infinite");
}

Test(quantize, nan_in_f16_weights_is_non_finite) {
  uint16_t w[4] = {0x3C00, 0x3C00, 0x3C00, 0x7E00};
  uint8_t codes[4] = {0xA5, 0xA5, 0xA5, 0xA5};
  float scales[2] = {-1, -1};
  fpx_quant_params params = {sizeof params, 0, NULL};
  cr_assert_eq(fpx_quantize(fmt("e2m1"), FPX_DTYPE_F16, w, 2, 2, &params, codes, scales),
               FPX_ERR_NON_FINITE);
  cr_assert(contains(fpx_last_error(), "[1][1]"), "%s", fpx_last_error());
  cr_assert(codes[0] == 0xA5 && codes[3] == 0xA5 && scales[0] == -1 && scales[1] == -1);
}

Test(quantize, bad_given_scale_is_invalid_and_writes_nothing) {
  const float bad[] = {0.0f, -1.0f, NAN, INFINITY};
  float w[2 * 64];
  for (int i = 0; i < 128; i++) w[i] = 1.0f;
  for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
    float given[4] = {1, 1, 1, 1};
    given[3] = bad[b]; /* row 1, columns 32.. */
    uint8_t codes[128];
    float scales[4] = {-7, -7, -7, -7};
    memset(codes, 0xA5, sizeof codes);
    fpx_quant_params params = {sizeof params, 32, given};
    cr_assert_eq(fpx_quantize(fmt("e3m2"), FPX_DTYPE_F32, w, 2, 64, &params, codes, scales),
                 FPX_ERR_INVALID_ARGUMENT, "scale %g", bad[b]);
    cr_assert(contains(fpx_last_error(), "row 1, column 32"), "%s", fpx_last_error());
    for (int i = 0; i < 128; i++) cr_assert_eq(codes[i], 0xA5);
    for (int i = 0; i < 4; i++) cr_assert(scales[i] == -7);
  }
}

Test(quantize, scale_count_per_row_and_per_group) {
  cr_assert_eq(fpx_scale_count(3, 300, 0), 3);
  cr_assert_eq(fpx_scale_count(3, 300, 32), 30);
  cr_assert_eq(fpx_scale_count(3, 300, 64), 15);
  cr_assert_eq(fpx_scale_count(3, 300, 128), 9);
  cr_assert_eq(fpx_scale_count(3, 300, 256), 6);
  cr_assert_eq(fpx_scale_count(3, 256, 256), 3);
  cr_assert_eq(fpx_scale_count(3, 300, 16), 0);
  cr_assert_eq(fpx_scale_count(0, 300, 32), 0);
  cr_assert_eq(fpx_scale_count(3, 0, 32), 0);
}

Test(quantize, scale_count_beyond_size_max_is_zero_not_wrapped) {
  /* 2^59 + 2 rows of 32 groups would wrap to 64 */
  cr_assert_eq(fpx_scale_count(((size_t)1 << 59) + 2, 1024, 32), 0);
  cr_assert_eq(fpx_scale_count(SIZE_MAX, 2, 0), SIZE_MAX);
  cr_assert_eq(fpx_scale_count(SIZE_MAX / 2 + 1, 512, 256), 0);
}

Test(quantize, bad_group_size_is_invalid_argument_naming_it) {
  const int bad[] = {16, -1, 1, 100, 512};
  float w[64] = {1};
  uint8_t codes[64];
  float scales[64];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char text[16];
    snprintf(text, sizeof text, "%d", bad[i]);
    fpx_quant_params params = {sizeof params, bad[i], NULL};
    cr_assert_eq(fpx_quantize(fmt("e3m2"), FPX_DTYPE_F32, w, 1, 64, &params, codes, scales),
                 FPX_ERR_INVALID_ARGUMENT);
    cr_assert(contains(fpx_last_error(), text), "%s", fpx_last_error());
    cr_assert_eq(fpx_dequantize(fmt("e3m2"), codes, scales, 1, 64, bad[i], FPX_DTYPE_F32, w),
                 FPX_ERR_INVALID_ARGUMENT);
    cr_assert(contains(fpx_last_error(), text), "%s", fpx_last_error());
  }
}

Test(quantize, rejects_bad_dtype_null_pointers_empty_shapes_and_old_params) {
  float w[4] = {1, 2, 3, 4}, scales[2];
  uint8_t codes[4];
  fpx_format f = fmt("e3m2");
  fpx_quant_params params = {sizeof params, 0, NULL};
  fpx_quant_params small = {sizeof params - 1, 0, NULL};
  cr_assert_eq(fpx_quantize(f, (fpx_dtype)5, w, 2, 2, &params, codes, scales),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_quantize(f, FPX_DTYPE_F32, NULL, 2, 2, &params, codes, scales),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "w is NULL"), "%s", fpx_last_error());
  cr_assert_eq(fpx_quantize(f, FPX_DTYPE_F32, w, 2, 2, NULL, codes, scales),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_quantize(f, FPX_DTYPE_F32, w, 2, 2, &params, NULL, scales),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_quantize(f, FPX_DTYPE_F32, w, 2, 2, &params, codes, NULL),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_quantize(f, FPX_DTYPE_F32, w, 0, 2, &params, codes, scales),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_quantize(f, FPX_DTYPE_F32, w, 2, 0, &params, codes, scales),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_quantize(f, FPX_DTYPE_F32, w, 2, 2, &small, codes, scales),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "struct_size"), "%s", fpx_last_error());
  cr_assert_eq(fpx_quantize(f, FPX_DTYPE_F32, w, SIZE_MAX / 2, 4, &params, codes, scales),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "overflows"), "%s", fpx_last_error());
}

Test(quantize, unsupported_format_is_rejected) {
  float w[4] = {1, 2, 3, 4}, scales[2];
  uint8_t codes[4];
  fpx_format bad = {2, 7};
  fpx_quant_params params = {sizeof params, 0, NULL};
  cr_assert_eq(fpx_quantize(bad, FPX_DTYPE_F32, w, 2, 2, &params, codes, scales),
               FPX_ERR_UNSUPPORTED_FORMAT);
  cr_assert(contains(fpx_last_error(), "e2m7"), "%s", fpx_last_error());
  cr_assert_eq(fpx_dequantize(bad, codes, scales, 2, 2, 0, FPX_DTYPE_F32, w),
               FPX_ERR_UNSUPPORTED_FORMAT);
}

Test(quantize, dequantize_rejects_out_of_range_codes_and_bad_arguments) {
  uint8_t codes[4] = {1, 2, 0x40, 3};
  float scales[2] = {1, 1}, out[4] = {9, 9, 9, 9};
  fpx_format f = fmt("e3m2");
  cr_assert_eq(fpx_dequantize(f, codes, scales, 2, 2, 0, FPX_DTYPE_F32, out),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert(contains(fpx_last_error(), "0x40"), "%s", fpx_last_error());
  for (int i = 0; i < 4; i++) cr_assert(out[i] == 9, "out[%d] written", i);
  codes[2] = 0;
  cr_assert_eq(fpx_dequantize(f, codes, scales, 2, 2, 0, (fpx_dtype)7, out),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_dequantize(f, NULL, scales, 2, 2, 0, FPX_DTYPE_F32, out),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_dequantize(f, codes, NULL, 2, 2, 0, FPX_DTYPE_F32, out),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_dequantize(f, codes, scales, 2, 2, 0, FPX_DTYPE_F32, NULL),
               FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx_dequantize(f, codes, scales, 0, 2, 0, FPX_DTYPE_F32, out),
               FPX_ERR_INVALID_ARGUMENT);
}

Test(quantize, dequantize_rejects_non_finite_scales_naming_them_and_writes_nothing) {
  const uint8_t codes[4] = {1, 2, 3, 4};
  const float bad[3] = {NAN, INFINITY, -INFINITY};
  fpx_format f = fmt("e3m2");
  for (int b = 0; b < 3; b++) {
    float scales[2] = {1, bad[b]}, out[4] = {9, 9, 9, 9};
    cr_assert_eq(fpx_dequantize(f, codes, scales, 2, 2, 0, FPX_DTYPE_F32, out), FPX_ERR_NON_FINITE);
    cr_assert(contains(fpx_last_error(), "scale 1 (row 1"), "%s", fpx_last_error());
    for (int i = 0; i < 4; i++) cr_assert(out[i] == 9, "out[%d] written", i);
  }
  /* zero and negative scales are taken as given */
  float scales[2] = {0, -2}, out[4];
  cr_assert_eq(fpx_dequantize(f, codes, scales, 2, 2, 0, FPX_DTYPE_F32, out), FPX_OK, "%s",
               fpx_last_error());
  cr_assert(out[0] == 0 && out[2] < 0, "%g %g", (double)out[0], (double)out[2]);
}

Test(quantize, dequantize_to_f16_and_bf16_rounds_once) {
  uint8_t codes[4] = {0x07, 0x05, 0x0F, 0x01}; /* e2m1: 6, 3, -6, 0.5 */
  float scales[1] = {1.0f / 3};
  uint16_t h[4], b[4];
  fpx_format f = fmt("e2m1");
  cr_assert_eq(fpx_dequantize(f, codes, scales, 1, 4, 0, FPX_DTYPE_F16, h), FPX_OK);
  cr_assert_eq(fpx_dequantize(f, codes, scales, 1, 4, 0, FPX_DTYPE_BF16, b), FPX_OK);
  const double v[4] = {6, 3, -6, 0.5};
  for (int i = 0; i < 4; i++) {
    double exact = v[i] * (double)scales[0];
    /* nearest f16 / bf16 to the exact product: no representable value closer */
    double gh = fpx_f16_to_f32(h[i]), gb = fpx_bf16_to_f32(b[i]);
    cr_assert(fabs(gh - exact) <= fabs(fpx_f16_to_f32((uint16_t)(h[i] + 1)) - exact) &&
              fabs(gh - exact) <= fabs(fpx_f16_to_f32((uint16_t)(h[i] - 1)) - exact), "f16 %d", i);
    cr_assert(fabs(gb - exact) <= fabs(fpx_bf16_to_f32((uint16_t)(b[i] + 1)) - exact) &&
              fabs(gb - exact) <= fabs(fpx_bf16_to_f32((uint16_t)(b[i] - 1)) - exact), "bf16 %d", i);
  }
}
