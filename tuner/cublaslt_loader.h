/*
 * cublaslt_loader.h - cuBLASLt, loaded with dlopen, as the FP8 baseline of
 * `fpx-tune bench`: dense E4M3 x E4M3 -> BF16 matmuls with FP32 scales and
 * FP32 accumulation, the GEMM that W8A8 serving stacks fall back on. Only
 * the benchmark uses it; fpx-tune runs without it (BF16 baseline only).
 * The cuBLASLt types and constants used are declared in cublaslt_loader.c
 * with their ABI values, so no cuBLASLt header is needed to build.
 *
 * Not thread-safe: one fpx__cublaslt per thread.
 */
#ifndef FPX_TUNER_CUBLASLT_LOADER_H
#define FPX_TUNER_CUBLASLT_LOADER_H

#include <stddef.h>

#include "fpx.h"

typedef struct fpx__cublaslt fpx__cublaslt;
typedef struct fpx__lt_plan fpx__lt_plan;

/* How the FP32 scales multiply the FP8 product. */
typedef enum fpx__lt_scaling {
  /* Outer vectors (CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F, cuBLASLt
   * 12.9 and later): Y[i][j] = x_scales[i] * w_scales[j] * sum, one scale
   * per token and per output channel (W8A8 rowwise). */
  FPX__LT_SCALE_ROWWISE = 0,
  /* One scale per matrix (A/B_SCALE_POINTER, the default scalar mode):
   * x_scales[0] * w_scales[0] * sum. */
  FPX__LT_SCALE_TENSOR = 1,
} fpx__lt_scaling;

/* "rowwise (outer-vector FP32 scales: per token x per channel)" or
 * "per-tensor (one FP32 scale per matrix)". */
const char *fpx__lt_scaling_text(fpx__lt_scaling scaling);
/* "rowwise" or "tensor" (CSV). */
const char *fpx__lt_scaling_name(fpx__lt_scaling scaling);

/* Loads libcublasLt.so.13, else .so.12, else libcublasLt.so, and creates a
 * handle. FPX_ERR_NO_DEVICE with a detail naming every file tried when none
 * loads (or one lacks a function); FPX_ERR_DRIVER when the handle cannot be
 * created. *out is NULL on failure. */
fpx_status fpx__cublaslt_open(fpx__cublaslt **out);

/* The file that was loaded and cublasLtGetVersion() (130100 = 13.1.0). */
const char *fpx__cublaslt_library(const fpx__cublaslt *lt);
size_t fpx__cublaslt_version(const fpx__cublaslt *lt);
/* 1 if this cuBLASLt knows outer-vector scales (version 12.9 or later;
 * whether the GPU runs them is known only from a matmul). */
int fpx__cublaslt_has_rowwise(const fpx__cublaslt *lt);

/* One matmul, every matrix row-major and dense:
 *   Y[m,n] (bf16) = (X[m,k] (e4m3) * W[n,k]^T (e4m3)) * scales.
 * x_scales holds m floats and w_scales n floats for FPX__LT_SCALE_ROWWISE,
 * one each for FPX__LT_SCALE_TENSOR (device pointers). cuBLASLt FP8 wants
 * the "TN" layout, which this is (W is op(A) = A^T, both K-major), 16-byte
 * aligned pointers and k % 16 == 0, n % 16 == 0; m is free. */
typedef struct fpx__lt_problem {
  size_t m, n, k;
  fpx_devptr x, w, y;
  fpx_devptr x_scales, w_scales;
  fpx__lt_scaling scaling;
  int fast_accum;              /* CUBLASLT_MATMUL_DESC_FAST_ACCUM */
  fpx_devptr workspace;        /* may be 0 when workspace_bytes is 0 */
  size_t workspace_bytes;
} fpx__lt_problem;

/* Describes the problem and asks the heuristic for its best algorithm
 * within the workspace. FPX_ERR_UNSUPPORTED_SHAPE (naming the shape and the
 * scaling) when the dimensions break the FP8 rules or the heuristic offers
 * no algorithm; FPX_ERR_DRIVER when another cuBLASLt call fails.
 * *out is NULL on failure. */
fpx_status fpx__cublaslt_plan(fpx__cublaslt *lt, const fpx__lt_problem *p, fpx__lt_plan **out);
/* Enqueues the planned matmul on `stream` (a CUstream; NULL = default). */
fpx_status fpx__cublaslt_run(fpx__cublaslt *lt, const fpx__lt_plan *plan, void *stream);
/* Accepts NULL. */
void fpx__cublaslt_plan_destroy(fpx__cublaslt *lt, fpx__lt_plan *plan);

/* Destroys the handle; accepts NULL. The library stays loaded (as cuBLAS). */
void fpx__cublaslt_close(fpx__cublaslt *lt);

#endif
