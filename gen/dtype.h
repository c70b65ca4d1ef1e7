/*
 * dtype.h - internal access to elements of f32 / f16 / bf16 buffers as
 * doubles, and exact double -> narrow float rounding.
 */
#ifndef FPX_GEN_DTYPE_H
#define FPX_GEN_DTYPE_H

#include <stddef.h>
#include <stdint.h>

#include "fpx.h"

/* 1 if dtype is a dense float type a host buffer may hold (f32, f16, bf16). */
int fpx__dtype_valid(fpx_dtype dtype);
/* 1 for the FP8 code types (e4m3, e5m2). */
int fpx__dtype_is_fp8(fpx_dtype dtype);
/* Bytes per element (4, 2 or 1); 0 for invalid dtypes. */
size_t fpx__dtype_size(fpx_dtype dtype);
/* Element i of buf as a double (exact). */
double fpx__dtype_load(fpx_dtype dtype, const void *buf, size_t i);
/* Stores v into element i of buf, rounded once to nearest even. */
void fpx__dtype_store(fpx_dtype dtype, void *buf, size_t i, double v);
/* Rounds a double to an IEEE-style binary format with `ebits` exponent and
 * `mbits` mantissa bits (f16: 5,10; bf16: 8,7): one rounding, RNE. */
uint16_t fpx__round_to_ieee16(double x, int ebits, int mbits);

#endif
