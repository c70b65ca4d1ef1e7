/*
 * format.c - the eXmY formats as data: a traits table for every supported
 * split (1 <= E <= 5, 3 <= 1+E+M <= 8), names and aliases, scalar and bulk
 * encode (round to nearest even, saturating) and decode.
 */
#include "format.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "dtype.h"
#include "error.h"

#define FPX__MAX_FORMATS 32

static fpx__format_traits fpx__traits[FPX__MAX_FORMATS];
static size_t fpx__traits_count;
static pthread_once_t fpx__traits_once = PTHREAD_ONCE_INIT;

static int split_supported(int e, int m) {
  return e >= 1 && e <= 5 && m >= 0 && 1 + e + m >= 3 && 1 + e + m <= 8;
}

/* Value of a code from its bit fields, following the semantics in fpx.h. */
static double code_value(int e_bits, int m_bits, unsigned code) {
  const int bits = 1 + e_bits + m_bits;
  const int bias = (1 << (e_bits - 1)) - 1;
  const unsigned e_all = (1u << e_bits) - 1, m_all = (1u << m_bits) - 1;
  const unsigned e = (code >> m_bits) & e_all, m = code & m_all;
  const int negative = (code >> (bits - 1)) & 1;
  double v;
  if (bits == 8 && e_bits == 4 && e == e_all && m == m_all)
    v = NAN;
  else if (bits == 8 && e_bits == 5 && e == e_all)
    v = m ? NAN : INFINITY;
  else if (e == 0)
    v = ldexp((double)m, 1 - bias - m_bits);
  else
    v = ldexp((double)(m | (1u << m_bits)), (int)e - bias - m_bits);
  return negative ? -v : v;
}

static void build_traits(fpx__format_traits *t, int e_bits, int m_bits) {
  fpx_format_info *info = &t->info;
  memset(t, 0, sizeof *t);
  info->format.exp_bits = (uint8_t)e_bits;
  info->format.man_bits = (uint8_t)m_bits;
  /* E and M are single digits; %c keeps the size visible to the compiler */
  snprintf(info->name, sizeof info->name, "e%cm%c", (char)('0' + e_bits), (char)('0' + m_bits));
  info->bits = 1 + e_bits + m_bits;
  info->bias = (1 << (e_bits - 1)) - 1;
  info->num_codes = 1 << info->bits;
  info->has_inf = info->bits == 8 && e_bits == 5;
  info->has_nan = info->bits == 8 && (e_bits == 4 || e_bits == 5);
  t->sign_bit = 1u << (info->bits - 1);
  for (unsigned c = 0; c < (unsigned)info->num_codes; c++) {
    t->value[c] = code_value(e_bits, m_bits, c);
    t->value_f16[c] = fpx__round_to_ieee16(t->value[c], 5, 10);
    t->value_bf16[c] = fpx__round_to_ieee16(t->value[c], 8, 7);
  }
  unsigned max_code = 0;
  for (unsigned c = 0; c < t->sign_bit; c++)
    if (isfinite(t->value[c])) max_code = c;
  t->max_code = max_code;
  for (unsigned c = 0; c < max_code; c++)
    t->midpoint[c] = 0.5 * (t->value[c] + t->value[c + 1]);
  info->max_finite = t->value[max_code];
  info->min_normal = ldexp(1.0, 1 - info->bias);
  info->min_subnormal = t->value[1];
  if (info->has_nan) t->nan_code = (uint8_t)(e_bits == 4 ? 0x7F : 0x7E);
  if (info->has_inf) t->inf_code = 0x7C;
}

static void build_all_traits(void) {
  for (int bits = 3; bits <= 8; bits++)
    for (int e = 1; e <= 5; e++) {
      int m = bits - 1 - e;
      if (split_supported(e, m) && fpx__traits_count < FPX__MAX_FORMATS)
        build_traits(&fpx__traits[fpx__traits_count++], e, m);
    }
}

static const fpx__format_traits *find_traits(fpx_format format) {
  pthread_once(&fpx__traits_once, build_all_traits);
  for (size_t i = 0; i < fpx__traits_count; i++)
    if (fpx__traits[i].info.format.exp_bits == format.exp_bits &&
        fpx__traits[i].info.format.man_bits == format.man_bits)
      return &fpx__traits[i];
  return NULL;
}

fpx_status fpx__format_lookup(fpx_format format, const char *who,
                              const fpx__format_traits **out_traits) {
  const fpx__format_traits *t = find_traits(format);
  *out_traits = t;
  if (t != NULL) return FPX_OK;
  return fpx__error(FPX_ERR_UNSUPPORTED_FORMAT,
                    "%s: format e%um%u is not supported (need 1 <= E <= 5, "
                    "M >= 0, 3 <= 1+E+M <= 8)",
                    who, (unsigned)format.exp_bits, (unsigned)format.man_bits);
}

FPX_API size_t fpx_format_count(void) {
  pthread_once(&fpx__traits_once, build_all_traits);
  return fpx__traits_count;
}

FPX_API fpx_format fpx_format_at(size_t index) {
  fpx_format none = {0, 0};
  pthread_once(&fpx__traits_once, build_all_traits);
  return index < fpx__traits_count ? fpx__traits[index].info.format : none;
}

FPX_API fpx_status fpx_format_get_info(fpx_format format,
                                       fpx_format_info *out_info) {
  const fpx__format_traits *t;
  fpx_status st = FPX_OK;
  fpx__error_clear();
  if (out_info == NULL)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_format_get_info: out_info is NULL");
  memset(out_info, 0, sizeof *out_info);
  FPX_TRY(fpx__format_lookup(format, "fpx_format_get_info", &t));
  *out_info = t->info;
fail:
  return st;
}

/* Parses "eXmY" at s; returns 1 and fills e, m when s is exactly that. */
static int parse_split(const char *s, int *e, int *m) {
  if (tolower((unsigned char)s[0]) != 'e' || !isdigit((unsigned char)s[1])) return 0;
  if (tolower((unsigned char)s[2]) != 'm' || !isdigit((unsigned char)s[3])) return 0;
  if (s[4] != '\0') return 0;
  *e = s[1] - '0';
  *m = s[3] - '0';
  return 1;
}

FPX_API fpx_status fpx_format_parse(const char *name, fpx_format *out_format) {
  static const struct { const char *alias; int e, m; } aliases[] = {
      {"fp4", 2, 1}, {"fp5", 2, 2}, {"fp6", 3, 2}, {"fp8", 4, 3},
  };
  int e = -1, m = -1;
  fpx__error_clear();
  if (out_format == NULL)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_format_parse: out_format is NULL");
  out_format->exp_bits = 0;
  out_format->man_bits = 0;
  if (name == NULL)
    return fpx__error(FPX_ERR_UNSUPPORTED_FORMAT, "format name is NULL");
  if (name[0] == '\0')
    return fpx__error(FPX_ERR_UNSUPPORTED_FORMAT, "format name is empty");
  size_t len = strlen(name);
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (len == 3 && strncasecmp(name, aliases[i].alias, 3) == 0) {
      e = aliases[i].e;
      m = aliases[i].m;
    }
  if (e < 0 && !parse_split(name, &e, &m)) {
    /* "fpB_eXmY": B must equal 1+X+Y */
    if (len == 8 && tolower((unsigned char)name[0]) == 'f' &&
        tolower((unsigned char)name[1]) == 'p' && isdigit((unsigned char)name[2]) &&
        name[3] == '_' && parse_split(name + 4, &e, &m)) {
      if (name[2] - '0' != 1 + e + m)
        return fpx__error(FPX_ERR_UNSUPPORTED_FORMAT,
                          "format '%s': %c bits do not match e%dm%d (%d bits)",
                          name, name[2], e, m, 1 + e + m);
    } else {
      return fpx__error(FPX_ERR_UNSUPPORTED_FORMAT,
                        "unknown format '%s' (expected eXmY such as e3m2, an "
                        "alias fp4/fp5/fp6/fp8, or fpB_eXmY)",
                        name);
    }
  }
  if (!split_supported(e, m))
    return fpx__error(FPX_ERR_UNSUPPORTED_FORMAT,
                      "format '%s' (e%dm%d, %d bits) is not supported: need "
                      "1 <= E <= 5 and 3 <= 1+E+M <= 8",
                      name, e, m, 1 + e + m);
  out_format->exp_bits = (uint8_t)e;
  out_format->man_bits = (uint8_t)m;
  return FPX_OK;
}

fpx_status fpx__codes_check(const fpx__format_traits *t, const uint8_t *codes,
                            size_t count, const char *who) {
  for (size_t i = 0; i < count; i++)
    if (codes[i] >= (unsigned)t->info.num_codes)
      return fpx__error(FPX_ERR_INVALID_ARGUMENT,
                        "%s: code %zu is 0x%02X, which does not fit %s (%d bits)",
                        who, i, codes[i], t->info.name, t->info.bits);
  return FPX_OK;
}

uint8_t fpx__format_encode(const fpx__format_traits *t, double x) {
  const unsigned sign = signbit(x) ? t->sign_bit : 0;
  if (isnan(x)) return (uint8_t)(sign | t->nan_code);
  double a = fabs(x);
  if (isinf(a)) return (uint8_t)(sign | (t->info.has_inf ? t->inf_code : t->max_code));
  if (a >= t->info.max_finite) return (uint8_t)(sign | t->max_code);
  /* first code whose midpoint with its successor is >= a */
  unsigned lo = 0, hi = t->max_code; /* answer in [lo, hi] */
  while (lo < hi) {
    unsigned mid = (lo + hi) / 2;
    if (t->midpoint[mid] < a) lo = mid + 1;
    else hi = mid;
  }
  unsigned code = lo;
  if (code < t->max_code && t->midpoint[code] == a && (code & 1)) code++;
  return (uint8_t)(sign | code);
}

FPX_API fpx_status fpx_decode_value(fpx_format format, unsigned code,
                                    double *out_value) {
  const fpx__format_traits *t;
  fpx_status st = FPX_OK;
  fpx__error_clear();
  if (out_value == NULL)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_decode_value: out_value is NULL");
  *out_value = 0.0;
  FPX_TRY(fpx__format_lookup(format, "fpx_decode_value", &t));
  if (code >= (unsigned)t->info.num_codes)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT,
                      "fpx_decode_value: code 0x%X does not fit %s (%d bits)",
                      code, t->info.name, t->info.bits);
  *out_value = t->value[code];
fail:
  return st;
}

FPX_API fpx_status fpx_encode_value(fpx_format format, double value,
                                    uint8_t *out_code) {
  const fpx__format_traits *t;
  fpx_status st = FPX_OK;
  fpx__error_clear();
  if (out_code == NULL)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_encode_value: out_code is NULL");
  *out_code = 0;
  FPX_TRY(fpx__format_lookup(format, "fpx_encode_value", &t));
  if (isnan(value) && !t->info.has_nan)
    return fpx__error(FPX_ERR_NON_FINITE,
                      "fpx_encode_value: NaN cannot be encoded in %s (it has no NaN)",
                      t->info.name);
  *out_code = fpx__format_encode(t, value);
fail:
  return st;
}

FPX_API fpx_status fpx_encode(fpx_format format, fpx_dtype src_dtype,
                              const void *src, size_t count,
                              uint8_t *out_codes) {
  const fpx__format_traits *t;
  fpx_status st = FPX_OK;
  fpx__error_clear();
  FPX_TRY(fpx__format_lookup(format, "fpx_encode", &t));
  if (!fpx__dtype_valid(src_dtype))
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_encode: src_dtype %d is not f32, f16 or bf16",
                      (int)src_dtype);
  if (count == 0) return FPX_OK;
  FPX_CHECK_PTR(src);
  FPX_CHECK_PTR(out_codes);
  if (!t->info.has_nan)
    for (size_t i = 0; i < count; i++)
      if (isnan(fpx__dtype_load(src_dtype, src, i)))
        return fpx__error(FPX_ERR_NON_FINITE,
                          "fpx_encode: element %zu is NaN and %s has no NaN", i,
                          t->info.name);
  for (size_t i = 0; i < count; i++)
    out_codes[i] = fpx__format_encode(t, fpx__dtype_load(src_dtype, src, i));
fail:
  return st;
}

FPX_API fpx_status fpx_decode(fpx_format format, const uint8_t *codes,
                              size_t count, fpx_dtype dst_dtype, void *out_dst) {
  const fpx__format_traits *t;
  fpx_status st = FPX_OK;
  fpx__error_clear();
  FPX_TRY(fpx__format_lookup(format, "fpx_decode", &t));
  if (!fpx__dtype_valid(dst_dtype))
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_decode: dst_dtype %d is not f32, f16 or bf16",
                      (int)dst_dtype);
  if (count == 0) return FPX_OK;
  FPX_CHECK_PTR(codes);
  FPX_CHECK_PTR(out_dst);
  FPX_TRY(fpx__codes_check(t, codes, count, "fpx_decode"));
  switch (dst_dtype) {
    case FPX_DTYPE_F32:
      for (size_t i = 0; i < count; i++)
        ((float *)out_dst)[i] = (float)t->value[codes[i]];
      break;
    case FPX_DTYPE_F16:
      for (size_t i = 0; i < count; i++)
        ((uint16_t *)out_dst)[i] = t->value_f16[codes[i]];
      break;
    case FPX_DTYPE_BF16:
      for (size_t i = 0; i < count; i++)
        ((uint16_t *)out_dst)[i] = t->value_bf16[codes[i]];
      break;
    default: /* FP8 dtypes were rejected above */
      break;
  }
fail:
  return st;
}
