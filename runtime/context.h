/*
 * context.h - the fpx_ctx object shared by the runtime files: device facts,
 * the in-process kernel table and the per-stream workspaces.
 */
#ifndef FPX_RUNTIME_CONTEXT_H
#define FPX_RUNTIME_CONTEXT_H

#include <pthread.h>
#include <stdint.h>

#include "cache.h"
#include "config.h"
#include "wgmma_config.h"
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

/* Where a configuration came from (fpx_ctx_stats counters). */
typedef enum fpx__config_source {
  FPX__SRC_EXPLICIT = 0,
  FPX__SRC_USER_EXACT,
  FPX__SRC_USER_NEAREST,
  FPX__SRC_SHIPPED,
  FPX__SRC_HEURISTIC,
  FPX__SRC_FIRST_USE, /* tuned in this process on its first call */
  FPX__SRC_COUNT
} fpx__config_source;

/* One resolved key of the in-process configuration table. */
typedef struct fpx__tuned_entry {
  uint64_t id;        /* fpx__wo_gemm_id of the key with a zero config */
  int64_t n, k;
  int m_bucket;
  int used;
  fpx_wo_config config;
  fpx__config_source source;
} fpx__tuned_entry;

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
  /* configuration lookup (config_lookup.c) */
  fpx__cache *user_db;      /* NULL when absent or unusable */
  fpx__cache *shipped_db;   /* in-memory copy of the embedded databases */
  char user_db_note[256];
  pthread_mutex_t tuned_lock; /* guards the table below */
  fpx__tuned_entry *tuned;
  size_t tuned_count, tuned_capacity; /* capacity: a power of two */
  uint64_t source_calls[FPX__SRC_COUNT];
  uint64_t lookups, kernels_compiled, kernels_loaded;
  int log_fallbacks;        /* FPX_LOG=1 */
  int tune_on_first_use;    /* FPX_CTX_TUNE_ON_FIRST_USE */
  int no_wgmma;             /* FPX_CTX_NO_WGMMA */
  int wgmma_raster;         /* FPX_WGMMA_RASTER: the wgmma tile order's
                             * token tiles per group; 0: the library's */
};

struct fpx_weights {
  fpx_ctx *ctx;
  fpx_format format;
  size_t n, k;
  int group_size;
  CUdeviceptr packed;  /* tiled layout */
  CUdeviceptr scales;  /* FP32 */
};

/* 1 when fpx_gemm without an explicit configuration runs the wgmma family
 * for this key and M x N x K (sm_90, M past the family's threshold, a
 * configuration the family accepts); *out gets that configuration. */
int fpx__gemm_wgmma_choice(const fpx_ctx *ctx, const fpx__wo_key *key, size_t m, size_t n,
                           size_t k, fpx__wgmma_config *out);

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

/* Opens the user and shipped databases for a new context (never fails:
 * problems are noted in ctx->user_db_note), and closes them. */
void fpx__ctx_open_databases(fpx_ctx *ctx, const char *cache_path);
/* The databases shipped inside the library, imported into one in-memory
 * database *out (NULL where none is embedded or it cannot be opened). A
 * file that does not import fails with its name; *out keeps what the
 * others imported. */
fpx_status fpx__shipped_databases_open(fpx__cache **out);
void fpx__ctx_close_databases(fpx_ctx *ctx);
/* The configuration for a problem with no explicit config: the in-process
 * table, else the lookup order of fpx.h; counts the call's source. */
fpx_status fpx__ctx_resolve_config(fpx_ctx *ctx, const fpx__wo_key *key, size_t m, size_t n,
                                   size_t k, fpx_wo_config *out_config);
/* Fills the database key of a problem on a GPU (with this process's NVRTC
 * version and template hash). */
void fpx__cache_key_for(const fpx_device_info *info, const fpx__wo_key *key, size_t n, size_t k,
                        int m_bucket, fpx__cache_key *out);
/* Compiles or loads the kernel of (key, config) into the context without
 * launching it (the tuner warms kernels from several threads). */
fpx_status fpx__ctx_prepare_gemm(fpx_ctx *ctx, const fpx__wo_key *key, const fpx_wo_config *config);

/* The launch of an mma.sync (kernel 0) GEMM instance: grid, block and the
 * kernel's parameters, in the one order weight_only_gemm takes them.
 * params points into the struct itself (and into args and its weights):
 * fill it in place with fpx__wo_launch_init and do not copy it. partials
 * and counters start at 0 (split-K 1); a split-K launch sets them from the
 * workspace before launching. */
typedef struct fpx__wo_launch {
  CUdeviceptr x_scales, partials, counters;
  int x_scale_stride, m, n, k;
  unsigned grid_x, grid_y, threads;
  void *params[11];
} fpx__wo_launch;
void fpx__wo_launch_init(fpx__wo_launch *l, const fpx__wo_key *key, const fpx_wo_config *config,
                         const fpx_gemm_args *args);

/* Launches the GEMM of (key, config) on stream (compiling on first use). */
fpx_status fpx__gemm_launch(fpx_ctx *ctx, const fpx__wo_key *key, const fpx_wo_config *config,
                            const fpx_gemm_args *args, CUstream stream);
/* With FPX_CTX_TUNE_ON_FIRST_USE: when the key's configuration came from a
 * fallback, times the candidates on the caller's buffers and replaces it in
 * the in-process table (first_use_tuning.c); *inout_config gets the winner. */
fpx_status fpx__ctx_tune_first_use(fpx_ctx *ctx, const fpx__wo_key *key, const fpx_gemm_args *args,
                                   CUstream stream, fpx_wo_config *inout_config);
/* The in-process entry of a key, or NULL (caller holds tuned_lock). */
fpx__tuned_entry *fpx__ctx_tuned_entry(fpx_ctx *ctx, const fpx__wo_key *key, size_t m, size_t n,
                                       size_t k);

/* A workspace of at least `partial_bytes` and `counter_count` zeroed counters
 * for `stream`, grown when needed (never while the stream is capturing). */
fpx_status fpx__ctx_workspace(fpx_ctx *ctx, CUstream stream, size_t partial_bytes,
                              size_t counter_count, CUdeviceptr *out_partials,
                              CUdeviceptr *out_counters);
void fpx__ctx_workspaces_release(fpx_ctx *ctx);

#endif
