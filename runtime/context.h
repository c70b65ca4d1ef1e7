/*
 * context.h - the fpx_ctx object shared by the runtime files: device facts,
 * the in-process kernel table and the per-stream split-K workspaces.
 */
#ifndef FPX_RUNTIME_CONTEXT_H
#define FPX_RUNTIME_CONTEXT_H

#include <pthread.h>
#include <stdint.h>

#include "cuda_api.h"
#include "fpx.h"

typedef struct fpx__kernel {
  uint64_t id;        /* fpx__wo_gemm_id / fpx__wo_dequant_id */
  CUmodule module;
  CUfunction function;
} fpx__kernel;

typedef struct fpx__workspace {
  CUstream stream;
  CUdeviceptr partials; /* FP32 split-K partials */
  size_t partial_bytes;
  CUdeviceptr counters; /* one unsigned per output tile, kept at zero */
  size_t counter_count;
} fpx__workspace;

struct fpx_ctx {
  const fpx__cu_table *cu;
  CUdevice device;
  CUcontext cu_ctx;   /* the device's primary context (retained) */
  fpx_device_info info;
  int sm_version;     /* 90 for sm_90 */
  pthread_mutex_t lock; /* guards kernels, workspaces, last_error */
  fpx__kernel *kernels;
  size_t kernel_count, kernel_capacity;
  fpx__workspace *workspaces;
  size_t workspace_count, workspace_capacity;
  char last_error[4096];
};

struct fpx_weights {
  fpx_ctx *ctx;
  fpx_format format;
  size_t n, k;
  int group_size;
  CUdeviceptr packed;  /* tiled layout */
  CUdeviceptr scales;  /* FP32 */
};

/* Makes the context's CUDA context current on the calling thread. */
fpx_status fpx__ctx_enter(fpx_ctx *ctx);
/* Copies the thread's error detail into the context and returns status. */
fpx_status fpx__ctx_fail(fpx_ctx *ctx, fpx_status status);

/* The kernel `id`, compiling `name_expr` of `template_name` and loading it on
 * first use. Thread-safe. */
fpx_status fpx__ctx_kernel(fpx_ctx *ctx, uint64_t id, const char *template_name,
                           const char *name_expr, CUfunction *out_function);
/* The loaded kernel `id`, or NULL. Thread-safe. */
CUfunction fpx__ctx_kernel_find(fpx_ctx *ctx, uint64_t id);
void fpx__ctx_kernels_release(fpx_ctx *ctx);

/* A workspace of at least `partial_bytes` and `counter_count` zeroed counters
 * for `stream`, grown when needed (never while the stream is capturing). */
fpx_status fpx__ctx_workspace(fpx_ctx *ctx, CUstream stream, size_t partial_bytes,
                              size_t counter_count, CUdeviceptr *out_partials,
                              CUdeviceptr *out_counters);
void fpx__ctx_workspaces_release(fpx_ctx *ctx);

#endif
