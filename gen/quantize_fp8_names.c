/*
 * quantize_fp8_names.c - name expressions and kernel-table ids of the FP8
 * quantization kernels (templates/quantize_fp8.cuh).
 *
 * Id layout: bits 40.. family 3; bits 32..35 the kernel (1 rows, 2 amax,
 * 3 scale, 4 pack); low bits the template arguments.
 */
#include "quantize_fp8_names.h"

#include <stdio.h>

enum { KIND_ROWS = 1, KIND_AMAX = 2, KIND_SCALE = 3, KIND_PACK = 4 };

static uint64_t id_of(unsigned kind, unsigned args) {
  return (uint64_t)FPX__Q8_FAMILY << 40 | (uint64_t)kind << 32 | args;
}

void fpx__q8_rows_name(const fpx__q8_rows_key *key, char out[FPX__NAME_EXPR_MAX]) {
  snprintf(out, FPX__NAME_EXPR_MAX, "fpx::quantize_rows<%d,%d,%d,%d>", key->bf16 ? 1 : 0,
           key->e5m2 ? 1 : 0, key->hw ? 1 : 0, key->unit == 16 ? 16 : 8);
}

uint64_t fpx__q8_rows_id(const fpx__q8_rows_key *key) {
  return id_of(KIND_ROWS, (key->bf16 ? 1u : 0u) | (key->e5m2 ? 2u : 0u) | (key->hw ? 4u : 0u) |
                              (key->unit == 16 ? 8u : 0u));
}

void fpx__q8_amax_name(int bf16, char out[FPX__NAME_EXPR_MAX]) {
  snprintf(out, FPX__NAME_EXPR_MAX, "fpx::tensor_amax<%d>", bf16 ? 1 : 0);
}

uint64_t fpx__q8_amax_id(int bf16) { return id_of(KIND_AMAX, bf16 ? 1u : 0u); }

void fpx__q8_scale_name(int e5m2, char out[FPX__NAME_EXPR_MAX]) {
  snprintf(out, FPX__NAME_EXPR_MAX, "fpx::tensor_scale<%d>", e5m2 ? 1 : 0);
}

uint64_t fpx__q8_scale_id(int e5m2) { return id_of(KIND_SCALE, e5m2 ? 1u : 0u); }

void fpx__q8_pack_name(char out[FPX__NAME_EXPR_MAX]) {
  snprintf(out, FPX__NAME_EXPR_MAX, "fpx::pack_tiled8");
}

uint64_t fpx__q8_pack_id(void) { return id_of(KIND_PACK, 0); }

size_t fpx__q8_all_names(char (*out)[FPX__NAME_EXPR_MAX], size_t max) {
  size_t count = 0;
  for (int bf16 = 0; bf16 < 2; bf16++)
    for (int e5m2 = 0; e5m2 < 2; e5m2++)
      for (int hw = 0; hw < 2; hw++)
        for (int unit = 8; unit <= 16; unit += 8) {
          const fpx__q8_rows_key key = {bf16, e5m2, hw, unit};
          if (count < max) fpx__q8_rows_name(&key, out[count]);
          count++;
        }
  for (int i = 0; i < 2; i++) {
    if (count < max) fpx__q8_amax_name(i, out[count]);
    count++;
    if (count < max) fpx__q8_scale_name(i, out[count]);
    count++;
  }
  if (count < max) fpx__q8_pack_name(out[count]);
  return count + 1;
}
