/*
 * read_floor.h - the benchmark's read floor: the time to read a device
 * buffer once with the GEMM kernels' weight loads (templates/stream_read.cuh),
 * under the same timing method. cuBLAS time / read floor is the speedup of
 * a GEMM as fast as that read: a measured bound for kernels that stream the
 * weights with these loads.
 */
#ifndef FPX_TUNER_READ_FLOOR_H
#define FPX_TUNER_READ_FLOOR_H

#include <stddef.h>

#include "cuda_api.h"
#include "fpx.h"
#include "timing.h"

#define FPX__TEMPLATE_STREAM_READ "stream_read.cuh"
#define FPX__STREAM_READ_NAME "fpx::stream_read<8>"

/* Median time in microseconds of reading bytes (a multiple of 16, > 0) at
 * ptr (16-byte aligned) with `sm_count` x 8 blocks of 256 threads, `iters`
 * timed launches after 2 warm-ups, L2 flushed before each (t's method).
 * Compiles the kernel on first use in ctx's kernel table. */
fpx_status fpx__read_floor_us(fpx_ctx *ctx, fpx__timer *t, CUdeviceptr ptr, size_t bytes,
                              int sm_count, int iters, double *out_us);

#endif
