/*
 * activation_quant.c - the CPU reference of per-token (or per-tensor, or
 * static) FP8 activation quantization, as the W8A8 rowwise path uses it:
 * amax per row, optionally clamped by an upper bound, scale = amax / 448,
 * saturating round-to-nearest-even encode; and the parameter rules it
 * shares with the GPU quantizer.
 *
 * Exactness (what the GPU reproduces bit for bit): the scale is the double
 * quotient amax / max_finite rounded to FP32, which equals one correctly
 * rounded FP32 division (53 >= 2 * 24 + 2 bits, so rounding twice is
 * harmless). A code is the FP8 value nearest to the exact quotient x / scale:
 * the double quotient is within 2^-53 of it, while any FP8 midpoint other
 * than the exact quotient itself is at least 2^-30 away in relative terms (x
 * has at most 24 significant bits, scale 24, a midpoint 5), so the double
 * never lands on a midpoint the exact value is not on.
 */
#include <math.h>
#include <string.h>

#include "activation_quant.h"
#include "dtype.h"
#include "error.h"
#include "format.h"

fpx_status fpx__act_params_resolve(const fpx_act_quant_params *params, const char *who,
                                   fpx_act_quant_params *out, const fpx__format_traits **out_t) {
  const fpx_act_quant_params defaults = {sizeof defaults, FPX_ACT_SCALE_PER_ROW, 0, 0, {4, 3}};
  if (params == NULL) params = &defaults;
  if (params->struct_size < sizeof *params)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: params->struct_size %zu < %zu", who,
                      params->struct_size, sizeof *params);
  const fpx_act_quant_params *p = params;
  fpx_format f = p->format;
  if (f.exp_bits == 0 && f.man_bits == 0) f = (fpx_format){4, 3};
  if (!((f.exp_bits == 4 && f.man_bits == 3) || (f.exp_bits == 5 && f.man_bits == 2)))
    return fpx__error(FPX_ERR_UNSUPPORTED_FORMAT, "%s: activation format e%um%u is not e4m3 or e5m2",
                      who, (unsigned)f.exp_bits, (unsigned)f.man_bits);
  if (p->mode != FPX_ACT_SCALE_PER_ROW && p->mode != FPX_ACT_SCALE_PER_TENSOR &&
      p->mode != FPX_ACT_SCALE_STATIC)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: mode %d is not a scale mode", who, (int)p->mode);
  if (!isfinite(p->scale_ub) || p->scale_ub < 0)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: scale_ub %g must be finite and >= 0", who,
                      (double)p->scale_ub);
  if (p->mode == FPX_ACT_SCALE_STATIC && !(isfinite(p->static_scale) && p->static_scale > 0))
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: static_scale %g must be finite and > 0", who,
                      (double)p->static_scale);
  *out = *p;
  out->struct_size = sizeof *out;
  out->format = f;
  return fpx__format_lookup(f, who, out_t);
}

/* The scale for an amax under the parameters (dynamic modes). */
static float dynamic_scale(const fpx_act_quant_params *p, const fpx__format_traits *t, double amax) {
  if (p->scale_ub > 0 && amax > p->scale_ub) amax = p->scale_ub;
  float scale = (float)(amax / t->info.max_finite);
  return scale > 0 ? scale : 1.0f; /* all zero (or underflowed): finite scale, zero codes */
}

FPX_API fpx_status fpx_quantize_activations(const fpx_act_quant_params *params, fpx_dtype x_dtype,
                                            const void *x, size_t m, size_t k,
                                            uint8_t *out_codes, float *out_scales) {
  static const char who[] = "fpx_quantize_activations";
  fpx_act_quant_params resolved;
  const fpx__format_traits *t;
  fpx_status st = FPX_OK;
  fpx__error_clear();
  FPX_TRY(fpx__act_params_resolve(params, who, &resolved, &t));
  params = &resolved;
  if (!fpx__dtype_valid(x_dtype))
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: x_dtype %d is not f32, f16 or bf16", who, (int)x_dtype);
  FPX_CHECK_PTR(x);
  FPX_CHECK_PTR(out_codes);
  FPX_CHECK_PTR(out_scales);
  if (m == 0 || k == 0 || m > SIZE_MAX / k)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: shape %zu x %zu is empty or overflows", who, m, k);
  /* validate everything before writing anything */
  double tensor_amax = 0;
  for (size_t i = 0; i < m * k; i++) {
    const double v = fpx__dtype_load(x_dtype, x, i);
    if (!isfinite(v))
      return fpx__error(FPX_ERR_NON_FINITE, "%s: X[%zu][%zu] is %s", who, i / k, i % k,
                        isnan(v) ? "NaN" : "infinite");
    if (fabs(v) > tensor_amax) tensor_amax = fabs(v);
  }
  float scale = params->mode == FPX_ACT_SCALE_STATIC ? params->static_scale
                                                      : dynamic_scale(params, t, tensor_amax);
  for (size_t r = 0; r < m; r++) {
    if (params->mode == FPX_ACT_SCALE_PER_ROW) {
      double amax = 0;
      for (size_t c = 0; c < k; c++) amax = fmax(amax, fabs(fpx__dtype_load(x_dtype, x, r * k + c)));
      scale = dynamic_scale(params, t, amax);
      out_scales[r] = scale;
    }
    for (size_t c = 0; c < k; c++)
      out_codes[r * k + c] = fpx__format_encode(t, fpx__dtype_load(x_dtype, x, r * k + c) / (double)scale);
  }
  if (params->mode != FPX_ACT_SCALE_PER_ROW) out_scales[0] = scale;
fail:
  return st;
}
