/*
 * dtype.c - element types: names of all of them (dense floats and FP8
 * codes), scalar conversions with a single round-to-nearest-even and element
 * load/store of the dense ones.
 */
#include "dtype.h"

#include <math.h>
#include <string.h>
#include <strings.h>

#include "error.h"

int fpx__dtype_valid(fpx_dtype dtype) {
  return dtype == FPX_DTYPE_F32 || dtype == FPX_DTYPE_F16 ||
         dtype == FPX_DTYPE_BF16;
}

int fpx__dtype_is_fp8(fpx_dtype dtype) {
  return dtype == FPX_DTYPE_E4M3 || dtype == FPX_DTYPE_E5M2;
}

size_t fpx__dtype_size(fpx_dtype dtype) {
  switch (dtype) {
    case FPX_DTYPE_F32: return 4;
    case FPX_DTYPE_F16:
    case FPX_DTYPE_BF16: return 2;
    case FPX_DTYPE_E4M3:
    case FPX_DTYPE_E5M2: return 1;
  }
  return 0;
}

FPX_API const char *fpx_dtype_name(fpx_dtype dtype) {
  switch (dtype) {
    case FPX_DTYPE_F32: return "f32";
    case FPX_DTYPE_F16: return "f16";
    case FPX_DTYPE_BF16: return "bf16";
    case FPX_DTYPE_E4M3: return "e4m3";
    case FPX_DTYPE_E5M2: return "e5m2";
  }
  return NULL;
}

FPX_API fpx_status fpx_dtype_parse(const char *name, fpx_dtype *out_dtype) {
  static const struct { const char *name; fpx_dtype dtype; } names[] = {
      {"f32", FPX_DTYPE_F32},   {"fp32", FPX_DTYPE_F32},
      {"float32", FPX_DTYPE_F32}, {"f16", FPX_DTYPE_F16},
      {"fp16", FPX_DTYPE_F16},  {"float16", FPX_DTYPE_F16},
      {"half", FPX_DTYPE_F16},  {"bf16", FPX_DTYPE_BF16},
      {"bfloat16", FPX_DTYPE_BF16}, {"e4m3", FPX_DTYPE_E4M3},
      {"fp8_e4m3", FPX_DTYPE_E4M3}, {"float8_e4m3fn", FPX_DTYPE_E4M3},
      {"e5m2", FPX_DTYPE_E5M2}, {"fp8_e5m2", FPX_DTYPE_E5M2},
      {"float8_e5m2", FPX_DTYPE_E5M2},
  };
  fpx__error_clear();
  if (out_dtype == NULL)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_dtype_parse: out_dtype is NULL");
  *out_dtype = FPX_DTYPE_F32;
  if (name != NULL)
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
      if (strcasecmp(name, names[i].name) == 0) {
        *out_dtype = names[i].dtype;
        return FPX_OK;
      }
  return fpx__error(FPX_ERR_INVALID_ARGUMENT,
                    "unknown dtype '%s' (expected f32, f16, bf16, e4m3 or e5m2)",
                    name ? name : "(null)");
}

uint16_t fpx__round_to_ieee16(double x, int ebits, int mbits) {
  const int bias = (1 << (ebits - 1)) - 1;
  const int emin = 1 - bias;
  const uint16_t sign = signbit(x) ? (uint16_t)0x8000 : 0;
  const uint16_t exp_all = (uint16_t)(((1u << ebits) - 1) << mbits);
  if (isnan(x)) return sign | exp_all | (uint16_t)(1u << (mbits - 1));
  double a = fabs(x);
  if (isinf(a)) return sign | exp_all;
  if (a == 0.0) return sign;
  int e = ilogb(a);
  if (e < emin) e = emin;
  double q = rint(ldexp(a, mbits - e)); /* exact scaling, one rounding */
  if (q >= ldexp(1.0, mbits + 1)) {     /* rounded up into the next binade */
    q = ldexp(q, -1);
    e++;
  }
  if (e > bias) return sign | exp_all; /* overflow: Inf */
  uint32_t qi = (uint32_t)q;
  if (qi < (1u << mbits)) return sign | (uint16_t)qi; /* subnormal or zero */
  return sign | (uint16_t)(((uint32_t)(e + bias) << mbits) | (qi - (1u << mbits)));
}

static double ieee16_to_double(uint16_t h, int ebits, int mbits) {
  const int bias = (1 << (ebits - 1)) - 1;
  const unsigned e = (h >> mbits) & ((1u << ebits) - 1);
  const unsigned m = h & ((1u << mbits) - 1);
  double v;
  if (e == (1u << ebits) - 1)
    v = m ? NAN : INFINITY;
  else if (e == 0)
    v = ldexp((double)m, 1 - bias - mbits);
  else
    v = ldexp((double)(m | (1u << mbits)), (int)e - bias - mbits);
  return (h & 0x8000) ? -v : v;
}

FPX_API uint16_t fpx_f32_to_f16(float x) { return fpx__round_to_ieee16(x, 5, 10); }
FPX_API float fpx_f16_to_f32(uint16_t bits) { return (float)ieee16_to_double(bits, 5, 10); }
FPX_API uint16_t fpx_f32_to_bf16(float x) { return fpx__round_to_ieee16(x, 8, 7); }
FPX_API float fpx_bf16_to_f32(uint16_t bits) {
  uint32_t u = (uint32_t)bits << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

double fpx__dtype_load(fpx_dtype dtype, const void *buf, size_t i) {
  switch (dtype) {
    case FPX_DTYPE_F32: return ((const float *)buf)[i];
    case FPX_DTYPE_F16: return ieee16_to_double(((const uint16_t *)buf)[i], 5, 10);
    case FPX_DTYPE_BF16: return fpx_bf16_to_f32(((const uint16_t *)buf)[i]);
    default: break; /* FP8 codes need a format and a scale: not a dense load */
  }
  return NAN;
}

void fpx__dtype_store(fpx_dtype dtype, void *buf, size_t i, double v) {
  switch (dtype) {
    case FPX_DTYPE_F32: ((float *)buf)[i] = (float)v; break;
    case FPX_DTYPE_F16: ((uint16_t *)buf)[i] = fpx__round_to_ieee16(v, 5, 10); break;
    case FPX_DTYPE_BF16: ((uint16_t *)buf)[i] = fpx__round_to_ieee16(v, 8, 7); break;
    default: break; /* FP8 codes: see fpx__dtype_load */
  }
}
