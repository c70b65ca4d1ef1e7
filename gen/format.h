/*
 * format.h - internal traits of the eXmY formats: one table entry per
 * supported (E, M), computed once, holding limits and decode tables.
 */
#ifndef FPX_GEN_FORMAT_H
#define FPX_GEN_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "fpx.h"

typedef struct fpx__format_traits {
  fpx_format_info info;
  double value[256];     /* decode of every code (NaN / Inf where defined) */
  uint16_t value_f16[256];  /* decode rounded to f16 */
  uint16_t value_bf16[256]; /* decode rounded to bf16 */
  unsigned max_code;     /* largest positive finite code */
  double midpoint[128];  /* midpoint[i] = (value[i] + value[i+1]) / 2 */
  uint8_t nan_code;      /* positive NaN code, if has_nan */
  uint8_t inf_code;      /* positive Inf code, if has_inf */
  unsigned sign_bit;     /* 1 << (bits - 1) */
} fpx__format_traits;

/* Traits of a supported format, or an FPX_ERR_UNSUPPORTED_FORMAT detail naming
 * it (`who` prefixes the message). */
fpx_status fpx__format_lookup(fpx_format format, const char *who,
                              const fpx__format_traits **out_traits);
/* Fails with FPX_ERR_INVALID_ARGUMENT naming the first code >= 2^bits. */
fpx_status fpx__codes_check(const fpx__format_traits *t, const uint8_t *codes,
                            size_t count, const char *who);
/* Encodes a non-NaN double (or NaN where the format has one). */
uint8_t fpx__format_encode(const fpx__format_traits *t, double x);

#endif
