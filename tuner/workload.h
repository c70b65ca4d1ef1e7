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

/* The FP8 format of an activation dtype: e4m3 for FPX_DTYPE_E4M3, e5m2 for
 * FPX_DTYPE_E5M2; {0, 0} for any other dtype. */
fpx_format fpx__act_format(fpx_dtype act);

/* Writes row `row` of an activation matrix (k BF16 patterns) into out. */
typedef void (*fpx__bf16_row_fn)(void *user, size_t row, size_t k, uint16_t *out);

/* FP8 activations made as a caller would make them: the BF16 rows that
 * row_fn gives are quantized on the host with fpx_quantize_activations (one
 * scale per row, format fpx__act_format(act)), in chunks of rows, and the
 * codes (m*k bytes, row-major) and scales (m floats) copied to the device.
 * scales_host (may be NULL) receives the m scales as well. */
fpx_status fpx__upload_fp8_activations(const fpx__cu_table *cu, fpx_dtype act, size_t m, size_t k,
                                       fpx__bf16_row_fn row_fn, void *user, CUdeviceptr codes,
                                       CUdeviceptr scales, float *scales_host);

/* A row_fn for fpx__upload_fp8_activations: random values of a BF16 value
 * table (fpx__value_table(FPX_DTYPE_BF16, ...)). */
typedef struct fpx__random_rows {
  const uint16_t *table;
  fpx__rng *rng;
} fpx__random_rows;
void fpx__random_bf16_row(void *user, size_t row, size_t k, uint16_t *out);

/* Fills count device bytes with random finite E4M3 codes (every code but
 * the two NaNs, which become +-448), through a host chunk. */
fpx_status fpx__fill_device_e4m3(const fpx__cu_table *cu, CUdeviceptr dst, size_t count, fpx__rng *r);
/* Fills count device floats with random scales in [0.5, 1.5) * unit,
 * through a host chunk. */
fpx_status fpx__fill_device_scales(const fpx__cu_table *cu, CUdeviceptr dst, size_t count, double unit,
                                   fpx__rng *r);

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
