/*
 * workload.h - random problem data shared by `fpx-tune bench` and the
 * tuner (see workload.c).
 */
#ifndef FPX_TUNER_WORKLOAD_H
#define FPX_TUNER_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "cuda_api.h"
#include "fpx.h"

typedef struct fpx__rng {
  uint64_t s;
} fpx__rng;

/* splitmix64: the next 64 random bits, and a double in [0, 1). */
uint64_t fpx__rng_next(fpx__rng *r);
double fpx__rng_unit(fpx__rng *r);

/* Host staging size of fpx__fill_device16, in 16-bit elements. */
#define FPX__FILL_CHUNK ((size_t)8 << 20)

/* table[i] = the f16/bf16 pattern of (i + 0.5) / 32768 - 1: in (-1, 1) and
 * never zero, indexed by 16 random bits (65536 entries). */
void fpx__value_table(fpx_dtype dtype, uint16_t *table);
/* Fills count 16-bit device elements with random table values, through a
 * host chunk of FPX__FILL_CHUNK elements. */
fpx_status fpx__fill_device16(const fpx__cu_table *cu, CUdeviceptr dst, size_t count,
                              const uint16_t *table, fpx__rng *r, uint16_t *chunk);

/* Host copy of random weights, for checks (malloc'd; free both). */
typedef struct fpx__host_weights {
  uint8_t *tiled; /* fpx_tiled_packed_size bytes */
  float *scales;  /* fpx_scale_count floats */
} fpx__host_weights;

/* Random finite weights of `format` for an n x k matrix in the tiled
 * layout, uploaded; scales in [0.5, 1.5] / max_finite. *out_bytes = packed
 * + scale bytes on the device. keep (may be NULL) receives the host copy. */
fpx_status fpx__random_weights(fpx_ctx *ctx, fpx_format format, int group, size_t n, size_t k,
                               fpx__rng *r, fpx__host_weights *keep, fpx_weights **out,
                               size_t *out_bytes);

#endif
