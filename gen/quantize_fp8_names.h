/*
 * quantize_fp8_names.h - the kernels of templates/quantize_fp8.cuh (FP8
 * quantization and 8-bit tiled packing): their name expressions and the
 * in-process ids the context's kernel table keys them by (family 3, apart
 * from the weight-only families 1 and 2 of config.c).
 */
#ifndef FPX_GEN_QUANTIZE_FP8_NAMES_H
#define FPX_GEN_QUANTIZE_FP8_NAMES_H

#include <stdint.h>

#include "config.h"
#include "fpx.h"

#define FPX__TEMPLATE_QUANTIZE_FP8 "quantize_fp8.cuh"

/* Family number of every kernel here, in bits 40.. of the ids. */
#define FPX__Q8_FAMILY 3

/* One instance of the row quantizer. */
typedef struct fpx__q8_rows_key {
  int bf16;  /* input: 0 = f16, 1 = bf16 */
  int e5m2;  /* output: 0 = e4m3, 1 = e5m2 */
  int hw;    /* 1: FP8 conversion instruction where the arch has one (sm_89+) */
  int unit;  /* elements per thread unit: 16 (K % 16 == 0, 16-byte stores) or 8 */
} fpx__q8_rows_key;

/* fpx::quantize_rows<DT,FMT,HW,U> */
void fpx__q8_rows_name(const fpx__q8_rows_key *key, char out[FPX__NAME_EXPR_MAX]);
uint64_t fpx__q8_rows_id(const fpx__q8_rows_key *key);
/* fpx::tensor_amax<DT>: per-tensor amax of f16 (bf16 = 0) or bf16 input */
void fpx__q8_amax_name(int bf16, char out[FPX__NAME_EXPR_MAX]);
uint64_t fpx__q8_amax_id(int bf16);
/* fpx::tensor_scale<FMT>: per-tensor scale from that amax */
void fpx__q8_scale_name(int e5m2, char out[FPX__NAME_EXPR_MAX]);
uint64_t fpx__q8_scale_id(int e5m2);
/* fpx::pack_tiled8: 8-bit codes -> tiled layout */
void fpx__q8_pack_name(char out[FPX__NAME_EXPR_MAX]);
uint64_t fpx__q8_pack_id(void);

/* Every instance (for compile checks): fills up to max name expressions,
 * returns how many there are. */
size_t fpx__q8_all_names(char (*out)[FPX__NAME_EXPR_MAX], size_t max);

#endif
