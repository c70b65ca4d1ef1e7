/*
 * cuda_api.h - the CUDA driver API as a table of function pointers filled by
 * dlopen("libcuda.so.1") once. Nothing else in fpx calls the driver
 * directly, so a machine without a driver gets FPX_ERR_NO_DEVICE, never a
 * link error. Tests may install a different table (fault injection).
 */
#ifndef FPX_RUNTIME_CUDA_API_H
#define FPX_RUNTIME_CUDA_API_H

#include <cuda.h>

#include "fpx.h"

/* Every driver entry point fpx uses (the library, its tuner/benchmark and
 * its GPU tests). cuda.h maps some names to their _v2
 * symbols; the table follows the mapping. */
#define FPX_FORALL_CU(X)        \
  X(cuInit)                     \
  X(cuDriverGetVersion)         \
  X(cuGetErrorName)             \
  X(cuDeviceGetCount)           \
  X(cuDeviceGet)                \
  X(cuDeviceGetName)            \
  X(cuDeviceGetAttribute)       \
  X(cuDevicePrimaryCtxRetain)   \
  X(cuDevicePrimaryCtxRelease)  \
  X(cuCtxSetCurrent)            \
  X(cuCtxGetCurrent)            \
  X(cuModuleLoadData)           \
  X(cuModuleUnload)             \
  X(cuModuleGetFunction)        \
  X(cuFuncSetAttribute)         \
  X(cuLaunchKernel)             \
  X(cuLaunchKernelEx)           \
  X(cuMemAlloc)                 \
  X(cuMemFree)                  \
  X(cuMemcpyHtoD)               \
  X(cuMemsetD8Async)            \
  X(cuStreamIsCapturing)        \
  X(cuStreamSynchronize)        \
  X(cuStreamCreate)             \
  X(cuStreamDestroy)            \
  X(cuStreamBeginCapture)       \
  X(cuStreamEndCapture)         \
  X(cuGraphInstantiate)         \
  X(cuGraphLaunch)              \
  X(cuGraphExecDestroy)         \
  X(cuGraphDestroy)             \
  X(cuCtxSynchronize)           \
  X(cuEventCreate)              \
  X(cuEventRecord)              \
  X(cuEventSynchronize)         \
  X(cuEventElapsedTime)         \
  X(cuEventDestroy)             \
  X(cuMemcpyDtoH)               \
  X(cuMemcpyDtoDAsync)          \
  X(cuMemsetD32Async)           \
  X(cuTensorMapEncodeTiled)

typedef struct fpx__cu_table {
#define FPX__CU_MEMBER(fn) __typeof__(&fn) fn;
  FPX_FORALL_CU(FPX__CU_MEMBER)
#undef FPX__CU_MEMBER
} fpx__cu_table;

/* The loaded table, or FPX_ERR_NO_DEVICE (detail says why). Loads and calls
 * cuInit once per process. The environment variable FPX_CUDA_DRIVER names
 * another library file to load instead of libcuda.so.1. */
fpx_status fpx__cu_get(const fpx__cu_table **out_table);
/* Replaces the table for tests (NULL restores the dlopen'd one). */
void fpx__cu_set_table_for_testing(const fpx__cu_table *table);
/* Turns a failed CUresult into FPX_ERR_DRIVER with "what: CUDA_ERROR_..." */
fpx_status fpx__cu_error(const fpx__cu_table *cu, CUresult r, const char *what);

/* CUDA's limit on gridDim.y and gridDim.z. */
#define FPX__MAX_GRID_Y 65535

/* Calls a driver function; on failure records the error and jumps to fail. */
#define FPX_CU(cu, call)                                    \
  do {                                                      \
    CUresult fpx__r = (cu)->call;                           \
    if (fpx__r != CUDA_SUCCESS) {                           \
      st = fpx__cu_error((cu), fpx__r, #call);              \
      goto fail;                                            \
    }                                                       \
  } while (0)

#endif
