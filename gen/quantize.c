/*
 * quantize.c - CPU weight quantization into eXmY codes with FP32 scales
 * (per output row or per group of G consecutive K elements), and the
 * inverse dequantization.
 */
#include <math.h>
#include <string.h>

#include "dtype.h"
#include "error.h"
#include "format.h"

static int group_size_valid(int g) {
  return g == 0 || g == 32 || g == 64 || g == 128 || g == 256;
}

/* Elements of a row that share one scale. */
static size_t group_span(size_t k, int group_size) {
  return group_size == 0 ? k : (size_t)group_size;
}

FPX_API size_t fpx_scale_count(size_t n, size_t k, int group_size) {
  if (!group_size_valid(group_size) || n == 0 || k == 0) return 0;
  const size_t span = group_span(k, group_size), groups = (k + span - 1) / span;
  return n > SIZE_MAX / groups ? 0 : n * groups;
}

static fpx_status check_group_size(int group_size, const char *who) {
  if (group_size_valid(group_size)) return FPX_OK;
  return fpx__error(FPX_ERR_INVALID_ARGUMENT,
                    "%s: group_size %d is not supported (use 0 for per-row, "
                    "or 32, 64, 128, 256)",
                    who, group_size);
}

static fpx_status check_shape(size_t n, size_t k, const char *who) {
  if (n == 0 || k == 0)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: shape %zu x %zu is empty", who, n, k);
  if (n > SIZE_MAX / k)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: shape %zu x %zu overflows", who, n, k);
  return FPX_OK;
}

FPX_API fpx_status fpx_quantize(fpx_format format, fpx_dtype src_dtype,
                                const void *w, size_t n, size_t k,
                                const fpx_quant_params *params,
                                uint8_t *out_codes, float *out_scales) {
  static const char who[] = "fpx_quantize";
  const fpx__format_traits *t;
  fpx_status st = FPX_OK;
  fpx__error_clear();
  FPX_TRY(fpx__format_lookup(format, who, &t));
  if (!fpx__dtype_valid(src_dtype))
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: src_dtype %d is not f32, f16 or bf16", who,
                      (int)src_dtype);
  FPX_CHECK_PTR(params);
  FPX_CHECK_PTR(w);
  FPX_CHECK_PTR(out_codes);
  FPX_CHECK_PTR(out_scales);
  if (params->struct_size < sizeof(fpx_quant_params))
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: params->struct_size %zu < %zu", who,
                      params->struct_size, sizeof(fpx_quant_params));
  FPX_TRY(check_shape(n, k, who));
  FPX_TRY(check_group_size(params->group_size, who));

  const size_t span = group_span(k, params->group_size);
  const size_t groups = (k + span - 1) / span;
  const float *given = params->given_scales;
  /* Validate everything before writing anything. */
  for (size_t r = 0; r < n; r++)
    for (size_t c = 0; c < k; c++)
      if (!isfinite(fpx__dtype_load(src_dtype, w, r * k + c)))
        return fpx__error(FPX_ERR_NON_FINITE, "%s: W[%zu][%zu] is %s", who, r, c,
                          isnan(fpx__dtype_load(src_dtype, w, r * k + c)) ? "NaN" : "infinite");
  if (given != NULL)
    for (size_t i = 0; i < n * groups; i++)
      if (!isfinite(given[i]) || !(given[i] > 0.0f))
        return fpx__error(FPX_ERR_INVALID_ARGUMENT,
                          "%s: given scale for row %zu, column %zu is %g (must be "
                          "finite and > 0)",
                          who, i / groups, (i % groups) * span, (double)given[i]);

  for (size_t r = 0; r < n; r++)
    for (size_t g = 0; g < groups; g++) {
      const size_t c0 = g * span, c1 = c0 + span < k ? c0 + span : k;
      float scale;
      if (given != NULL) {
        scale = given[r * groups + g];
      } else {
        double absmax = 0.0;
        for (size_t c = c0; c < c1; c++) {
          double a = fabs(fpx__dtype_load(src_dtype, w, r * k + c));
          if (a > absmax) absmax = a;
        }
        scale = (float)(absmax / t->info.max_finite);
        if (!(scale > 0.0f)) scale = 1.0f; /* all zero (or underflowed) */
      }
      out_scales[r * groups + g] = scale;
      for (size_t c = c0; c < c1; c++)
        out_codes[r * k + c] =
            fpx__format_encode(t, fpx__dtype_load(src_dtype, w, r * k + c) / (double)scale);
    }
fail:
  return st;
}

FPX_API fpx_status fpx_dequantize(fpx_format format, const uint8_t *codes,
                                  const float *scales, size_t n, size_t k,
                                  int group_size, fpx_dtype dst_dtype,
                                  void *out_w) {
  static const char who[] = "fpx_dequantize";
  const fpx__format_traits *t;
  fpx_status st = FPX_OK;
  fpx__error_clear();
  FPX_TRY(fpx__format_lookup(format, who, &t));
  if (!fpx__dtype_valid(dst_dtype))
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: dst_dtype %d is not f32, f16 or bf16", who,
                      (int)dst_dtype);
  FPX_CHECK_PTR(codes);
  FPX_CHECK_PTR(scales);
  FPX_CHECK_PTR(out_w);
  FPX_TRY(check_shape(n, k, who));
  FPX_TRY(check_group_size(group_size, who));
  FPX_TRY(fpx__codes_check(t, codes, n * k, who));
  const size_t span = group_span(k, group_size);
  const size_t groups = (k + span - 1) / span;
  for (size_t i = 0; i < n * groups; i++)
    if (!isfinite(scales[i]))
      return fpx__error(FPX_ERR_NON_FINITE, "%s: scale %zu (row %zu, group %zu) is %g, not finite",
                        who, i, i / groups, i % groups, (double)scales[i]);
  for (size_t r = 0; r < n; r++)
    for (size_t c = 0; c < k; c++)
      fpx__dtype_store(dst_dtype, out_w, r * k + c,
                       t->value[codes[r * k + c]] * (double)scales[r * groups + c / span]);
fail:
  return st;
}
