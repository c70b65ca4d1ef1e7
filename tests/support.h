/*
 * support.h - helpers shared by the CPU tests: an independent decoder of
 * eXmY codes computed from the bit fields (not from the library), the unit
 * in the last place of a format at a given magnitude, a small deterministic
 * random generator, and format lookup by name.
 */
#ifndef FPX_TESTS_SUPPORT_H
#define FPX_TESTS_SUPPORT_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fpx.h"

/* Value of `code` in a format with e exponent and m mantissa bits, from the
 * bit fields and the rules in fpx.h (E4M3FN for e4m3, IEEE for e5m2). */
static inline double ref_decode(int e, int m, unsigned code) {
  const int bits = 1 + e + m, bias = (1 << (e - 1)) - 1;
  const unsigned sign = (code >> (bits - 1)) & 1u;
  const unsigned ef = (code >> m) & ((1u << e) - 1u);
  const unsigned mf = code & ((1u << m) - 1u);
  const double fraction = (double)mf / (double)(1u << m);
  double mag;
  if (bits == 8 && e == 4 && ef == 15 && mf == 7)
    return NAN;
  if (bits == 8 && e == 5 && ef == 31) {
    if (mf != 0) return NAN;
    mag = INFINITY;
  } else if (ef == 0) {
    mag = fraction * pow(2.0, 1 - bias);
  } else {
    mag = (1.0 + fraction) * pow(2.0, (int)ef - bias);
  }
  return sign ? -mag : mag;
}

/* Spacing of the format's values in the binade holding |y| (clamped to the
 * largest finite binade). Half of it bounds the rounding error. */
static inline double ref_ulp(const fpx_format_info *info, double y) {
  const int m = info->format.man_bits;
  double a = fabs(y);
  if (a > info->max_finite) a = info->max_finite;
  if (a < info->min_normal) return ldexp(1.0, 1 - info->bias - m);
  int exponent;
  frexp(a, &exponent); /* a = f * 2^exponent, f in [0.5, 1) */
  return ldexp(1.0, exponent - 1 - m);
}

static inline fpx_format fmt(const char *name) {
  fpx_format f;
  cr_assert_eq(fpx_format_parse(name, &f), FPX_OK, "parse %s: %s", name, fpx_last_error());
  return f;
}

static inline fpx_format_info info_of(fpx_format f) {
  fpx_format_info info;
  cr_assert_eq(fpx_format_get_info(f, &info), FPX_OK, "%s", fpx_last_error());
  return info;
}

/* xorshift64*: deterministic across runs and platforms. */
static inline uint64_t rng_next(uint64_t *state) {
  uint64_t x = *state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * 0x2545F4914F6CDD1DULL;
}
/* Uniform in [-1, 1). */
static inline double rng_signed_unit(uint64_t *state) {
  return (double)(rng_next(state) >> 11) * ldexp(1.0, -52) - 1.0;
}

static inline int contains(const char *haystack, const char *needle) {
  return haystack != NULL && strstr(haystack, needle) != NULL;
}

/* Number of newline characters in s. */
static inline int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++)
    if (*s == '\n') n++;
  return n;
}

/* 1 if `line` (without newline) is a whole line of s. */
static inline int has_line(const char *s, const char *line) {
  size_t len = strlen(line);
  for (const char *p = s; (p = strstr(p, line)) != NULL; p++)
    if ((p == s || p[-1] == '\n') && (p[len] == '\n' || p[len] == '\0')) return 1;
  return 0;
}

#endif
