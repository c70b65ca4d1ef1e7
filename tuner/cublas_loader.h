/*
 * cublas_loader.h - cuBLAS, loaded with dlopen, as the baseline of the
 * `fpx-tune bench` subcommand. Only the benchmark uses it: the library never
 * needs cuBLAS, and fpx-tune runs (without a baseline) where it is missing.
 * The few cuBLAS types and constants used are declared in cublas_loader.c
 * (stable ABI values), so no cuBLAS header is needed to build.
 *
 * Not thread-safe: one fpx__cublas per thread.
 */
#ifndef FPX_TUNER_CUBLAS_API_H
#define FPX_TUNER_CUBLAS_API_H

#include <stddef.h>

#include "fpx.h"

typedef struct fpx__cublas fpx__cublas;

/* Loads libcublas.so.13, else libcublas.so.12, else libcublas.so, and
 * creates a handle on the calling thread's current CUDA context (make the
 * fpx context current first). FPX_ERR_NO_DEVICE with a detail naming every
 * file tried when none loads; FPX_ERR_DRIVER when the handle cannot be
 * created. *out is NULL on failure. */
fpx_status fpx__cublas_open(fpx__cublas **out);

/* The file that was loaded ("libcublas.so.13") and cuBLAS's version number
 * (130000 = 13.0.0; 0 if unknown). */
const char *fpx__cublas_library(const fpx__cublas *b);
int fpx__cublas_version(const fpx__cublas *b);

/* Makes later calls run on `stream` (a CUstream; NULL = default stream). */
fpx_status fpx__cublas_set_stream(fpx__cublas *b, void *stream);

/* Y[m,n] = X[m,k] * W[n,k]^T, every matrix row-major and dense, X, W and Y
 * all of `dtype` (FPX_DTYPE_F16 or FPX_DTYPE_BF16), FP32 accumulation
 * (CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT). Asynchronous on the stream.
 * m, n, k must fit in an int. */
fpx_status fpx__cublas_gemm(fpx__cublas *b, fpx_dtype dtype, size_t m, size_t n, size_t k,
                            fpx_devptr x, fpx_devptr w, fpx_devptr y);

/* Destroys the handle and unloads the library; accepts NULL. */
void fpx__cublas_close(fpx__cublas *b);

/* Helpers shared with cublaslt_loader.c. */
/* dlopens the first of names[0..count-1] that loads (RTLD_NOW | RTLD_LOCAL);
 * *out_name is that name. Returns NULL when none loads, with every name and
 * dlerror's reason in tried ("a (why); b (why)"). */
void *fpx__blas_dlopen(const char *const *names, size_t count, const char **out_name, char *tried,
                       size_t tried_size);
/* dlsym into a function pointer of `size` bytes at out_fn; 1 if found. */
int fpx__blas_symbol(void *lib, const char *name, void *out_fn, size_t size);
/* "CUBLAS_STATUS_NOT_SUPPORTED" etc. for the cublasStatus_t values of CUDA
 * 12 and 13; NULL for other values. */
const char *fpx__cublas_status_name(int status);

#endif
