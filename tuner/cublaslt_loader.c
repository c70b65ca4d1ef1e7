/*
 * cublaslt_loader.c - the benchmark's cuBLASLt FP8 baseline, reached through
 * dlopen so that neither the library nor fpx-tune links against cuBLASLt.
 * The slice of the cuBLASLt ABI in use is declared here with its values
 * (cublasLt.h / library_types.h of CUDA 12 and 13); the outer-vector scale
 * mode exists from cuBLASLt 12.9 on, which is checked at run time from
 * cublasLtGetVersion(), not from the header that happened to be at hand at
 * build time.
 *
 * Layout: cuBLASLt is column-major. Row-major Y[m,n] is column-major
 * Y^T (n x m, ld n) = D; row-major W[n,k] is column-major k x n (ld k) = A
 * with op(A) = T, so op(A) is W (n x k); row-major X[m,k] is column-major
 * k x m (ld k) = B with op(B) = N. Then D = W * X^T = Y^T: the "TN" layout
 * FP8 needs. cuBLASLt's M is our n and its N our m, so the A scale vector
 * is per output channel (w_scales, n entries) and the B one per token
 * (x_scales, m entries).
 */
#include "cublaslt_loader.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cublas_loader.h"
#include "error.h"

/* ---- the slice of the cuBLASLt ABI in use --------------------------------- */

typedef int lt_status;          /* cublasStatus_t */
typedef void *lt_handle;        /* cublasLtHandle_t */
typedef void *lt_matmul_desc;   /* cublasLtMatmulDesc_t */
typedef void *lt_layout;        /* cublasLtMatrixLayout_t */
typedef void *lt_preference;    /* cublasLtMatmulPreference_t */

typedef struct lt_algo {        /* cublasLtMatmulAlgo_t */
  uint64_t data[8];
} lt_algo;

typedef struct lt_heuristic {   /* cublasLtMatmulHeuristicResult_t */
  lt_algo algo;
  size_t workspace_size;
  lt_status state;
  float waves_count;
  int reserved[4];
} lt_heuristic;

enum {
  LT_STATUS_OK = 0,
  LT_STATUS_NOT_SUPPORTED = 15,
  LT_OP_N = 0,
  LT_OP_T = 1,
  LT_R_32F = 0,          /* CUDA_R_32F */
  LT_R_16BF = 14,        /* CUDA_R_16BF */
  LT_R_8F_E4M3 = 28,     /* CUDA_R_8F_E4M3 */
  LT_COMPUTE_32F = 68,   /* CUBLAS_COMPUTE_32F */
  /* cublasLtMatmulDescAttributes_t */
  LT_DESC_TRANSA = 3,
  LT_DESC_TRANSB = 4,
  LT_DESC_A_SCALE_POINTER = 17,
  LT_DESC_B_SCALE_POINTER = 18,
  LT_DESC_FAST_ACCUM = 25,
  LT_DESC_A_SCALE_MODE = 31,
  LT_DESC_B_SCALE_MODE = 32,
  /* cublasLtMatmulMatrixScale_t */
  LT_SCALE_SCALAR_32F = 0,
  LT_SCALE_OUTER_VEC_32F = 3,
  /* cublasLtMatmulPreferenceAttributes_t */
  LT_PREF_MAX_WORKSPACE_BYTES = 1,
  /* the first cuBLASLt with outer-vector scales */
  LT_ROWWISE_VERSION = 120900,
};

typedef lt_status (*create_fn)(lt_handle *handle);
typedef lt_status (*destroy_fn)(lt_handle handle);
typedef size_t (*get_version_fn)(void);
typedef const char *(*status_string_fn)(lt_status status);
typedef lt_status (*desc_create_fn)(lt_matmul_desc *desc, int compute_type, int scale_type);
typedef lt_status (*desc_destroy_fn)(lt_matmul_desc desc);
typedef lt_status (*desc_set_fn)(lt_matmul_desc desc, int attr, const void *buf, size_t size);
typedef lt_status (*layout_create_fn)(lt_layout *layout, int type, uint64_t rows, uint64_t cols,
                                      int64_t ld);
typedef lt_status (*layout_destroy_fn)(lt_layout layout);
typedef lt_status (*pref_create_fn)(lt_preference *pref);
typedef lt_status (*pref_destroy_fn)(lt_preference pref);
typedef lt_status (*pref_set_fn)(lt_preference pref, int attr, const void *buf, size_t size);
typedef lt_status (*heuristic_fn)(lt_handle handle, lt_matmul_desc desc, lt_layout a, lt_layout b,
                                  lt_layout c, lt_layout d, lt_preference pref, int requested,
                                  lt_heuristic *results, int *returned);
typedef lt_status (*matmul_fn)(lt_handle handle, lt_matmul_desc desc, const void *alpha,
                               const void *a, lt_layout a_desc, const void *b, lt_layout b_desc,
                               const void *beta, const void *c, lt_layout c_desc, void *d,
                               lt_layout d_desc, const lt_algo *algo, void *workspace,
                               size_t workspace_bytes, void *stream);

struct fpx__cublaslt {
  void *lib;
  const char *lib_name;
  lt_handle handle;
  size_t version;
  create_fn create;
  destroy_fn destroy;
  get_version_fn get_version;
  status_string_fn status_string; /* optional */
  desc_create_fn desc_create;
  desc_destroy_fn desc_destroy;
  desc_set_fn desc_set;
  layout_create_fn layout_create;
  layout_destroy_fn layout_destroy;
  pref_create_fn pref_create;
  pref_destroy_fn pref_destroy;
  pref_set_fn pref_set;
  heuristic_fn heuristic;
  matmul_fn matmul;
};

struct fpx__lt_plan {
  fpx__lt_problem p;
  lt_matmul_desc desc;
  lt_layout a, b, d; /* W, X, Y (C = D) */
  lt_algo algo;
  size_t workspace_bytes; /* what the algorithm needs */
};

/* Tried in order: the CUDA 13 library, the CUDA 12 one, the dev symlink. */
static const char *const library_names[] = {"libcublasLt.so.13", "libcublasLt.so.12",
                                            "libcublasLt.so"};

const char *fpx__lt_scaling_text(fpx__lt_scaling scaling) {
  return scaling == FPX__LT_SCALE_ROWWISE
             ? "rowwise (outer-vector FP32 scales: per token x per output channel)"
             : "per-tensor (one FP32 scale per matrix)";
}

const char *fpx__lt_scaling_name(fpx__lt_scaling scaling) {
  return scaling == FPX__LT_SCALE_ROWWISE ? "rowwise" : "tensor";
}

static const char *status_name(const fpx__cublaslt *lt, lt_status s) {
  const char *name = fpx__cublas_status_name(s);
  if (name != NULL) return name;
  if (lt != NULL && lt->status_string != NULL && (name = lt->status_string(s)) != NULL) return name;
  return "unknown cublasStatus_t";
}

static fpx_status lt_error(const fpx__cublaslt *lt, lt_status s, const char *what) {
  return fpx__error(s == LT_STATUS_NOT_SUPPORTED ? FPX_ERR_UNSUPPORTED_SHAPE : FPX_ERR_DRIVER,
                    "cuBLASLt %s failed: %s (%d)", what, status_name(lt, s), s);
}

#define LT_TRY(lt, call, what)                  \
  do {                                          \
    lt_status s_ = (call);                      \
    if (s_ != LT_STATUS_OK) {                   \
      st = lt_error((lt), s_, (what));          \
      goto fail;                                \
    }                                           \
  } while (0)

fpx_status fpx__cublaslt_open(fpx__cublaslt **out) {
  fpx_status st = FPX_OK;
  char tried[768];
  fpx__cublaslt *lt = NULL;
  *out = NULL;
  lt = calloc(1, sizeof *lt);
  if (lt == NULL) return fpx__error(FPX_ERR_OUT_OF_MEMORY, "cuBLASLt: no memory");
  lt->lib = fpx__blas_dlopen(library_names, sizeof library_names / sizeof library_names[0], &lt->lib_name,
                             tried, sizeof tried);
  if (lt->lib == NULL) {
    st = fpx__error(FPX_ERR_NO_DEVICE, "cannot load cuBLASLt: %s", tried);
    goto fail;
  }
  struct {
    const char *name;
    void *fn;
    size_t size;
  } syms[] = {
      {"cublasLtCreate", &lt->create, sizeof lt->create},
      {"cublasLtDestroy", &lt->destroy, sizeof lt->destroy},
      {"cublasLtGetVersion", &lt->get_version, sizeof lt->get_version},
      {"cublasLtMatmulDescCreate", &lt->desc_create, sizeof lt->desc_create},
      {"cublasLtMatmulDescDestroy", &lt->desc_destroy, sizeof lt->desc_destroy},
      {"cublasLtMatmulDescSetAttribute", &lt->desc_set, sizeof lt->desc_set},
      {"cublasLtMatrixLayoutCreate", &lt->layout_create, sizeof lt->layout_create},
      {"cublasLtMatrixLayoutDestroy", &lt->layout_destroy, sizeof lt->layout_destroy},
      {"cublasLtMatmulPreferenceCreate", &lt->pref_create, sizeof lt->pref_create},
      {"cublasLtMatmulPreferenceDestroy", &lt->pref_destroy, sizeof lt->pref_destroy},
      {"cublasLtMatmulPreferenceSetAttribute", &lt->pref_set, sizeof lt->pref_set},
      {"cublasLtMatmulAlgoGetHeuristic", &lt->heuristic, sizeof lt->heuristic},
      {"cublasLtMatmul", &lt->matmul, sizeof lt->matmul},
  };
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++)
    if (!fpx__blas_symbol(lt->lib, syms[i].name, syms[i].fn, syms[i].size)) {
      st = fpx__error(FPX_ERR_NO_DEVICE, "cuBLASLt %s lacks %s", lt->lib_name, syms[i].name);
      goto fail;
    }
  fpx__blas_symbol(lt->lib, "cublasLtGetStatusString", &lt->status_string, sizeof lt->status_string);
  lt->version = lt->get_version();
  LT_TRY(lt, lt->create(&lt->handle), "cublasLtCreate");
  *out = lt;
  return FPX_OK;
fail:
  lt->handle = NULL;
  fpx__cublaslt_close(lt);
  return st;
}

const char *fpx__cublaslt_library(const fpx__cublaslt *lt) { return lt->lib_name; }

size_t fpx__cublaslt_version(const fpx__cublaslt *lt) { return lt->version; }

int fpx__cublaslt_has_rowwise(const fpx__cublaslt *lt) { return lt->version >= LT_ROWWISE_VERSION; }

/* Checks what the plan will give cuBLASLt; names the bad value. */
static fpx_status check_problem(const fpx__cublaslt *lt, const fpx__lt_problem *p) {
  const char *why = NULL;
  if (p->m == 0 || p->n == 0 || p->k == 0 || p->m > INT32_MAX || p->n > INT32_MAX || p->k > INT32_MAX)
    why = "every dimension must be in 1..2^31-1";
  else if (p->k % 16 != 0 || p->n % 16 != 0)
    why = "FP8 needs K and N multiples of 16";
  else if (!p->x || !p->w || !p->y || !p->x_scales || !p->w_scales || (p->workspace_bytes && !p->workspace))
    why = "a device pointer is 0";
  else if ((p->x | p->w | p->y | p->workspace) % 16 != 0 || (p->x_scales | p->w_scales) % 4 != 0)
    why = "a device pointer is misaligned (matrices 16 bytes, scales 4)";
  else if (p->scaling != FPX__LT_SCALE_ROWWISE && p->scaling != FPX__LT_SCALE_TENSOR)
    why = "the scaling is neither rowwise nor per-tensor";
  else if (p->scaling == FPX__LT_SCALE_ROWWISE && !fpx__cublaslt_has_rowwise(lt))
    why = "this cuBLASLt is older than 12.9 and has no outer-vector scales";
  if (why == NULL) return FPX_OK;
  return fpx__error(FPX_ERR_UNSUPPORTED_SHAPE, "cuBLASLt FP8 matmul M=%zu N=%zu K=%zu (%s scales): %s",
                    p->m, p->n, p->k, fpx__lt_scaling_name(p->scaling), why);
}

fpx_status fpx__cublaslt_plan(fpx__cublaslt *lt, const fpx__lt_problem *p, fpx__lt_plan **out) {
  fpx_status st = FPX_OK;
  fpx__lt_plan *plan = NULL;
  lt_preference pref = NULL;
  *out = NULL;
  FPX_TRY(check_problem(lt, p));
  plan = calloc(1, sizeof *plan);
  if (plan == NULL) return fpx__error(FPX_ERR_OUT_OF_MEMORY, "cuBLASLt: no memory for a plan");
  plan->p = *p;
  const void *a_scale = (const void *)(uintptr_t)p->w_scales, *b_scale = (const void *)(uintptr_t)p->x_scales;
  const int32_t trans_a = LT_OP_T, trans_b = LT_OP_N;
  const int32_t mode = p->scaling == FPX__LT_SCALE_ROWWISE ? LT_SCALE_OUTER_VEC_32F : LT_SCALE_SCALAR_32F;
  const int8_t fast = p->fast_accum ? 1 : 0;
  const uint64_t max_workspace = p->workspace_bytes;
  LT_TRY(lt, lt->desc_create(&plan->desc, LT_COMPUTE_32F, LT_R_32F), "cublasLtMatmulDescCreate");
  LT_TRY(lt, lt->desc_set(plan->desc, LT_DESC_TRANSA, &trans_a, sizeof trans_a), "setting TRANSA");
  LT_TRY(lt, lt->desc_set(plan->desc, LT_DESC_TRANSB, &trans_b, sizeof trans_b), "setting TRANSB");
  LT_TRY(lt, lt->desc_set(plan->desc, LT_DESC_FAST_ACCUM, &fast, sizeof fast), "setting FAST_ACCUM");
  if (p->scaling == FPX__LT_SCALE_ROWWISE) { /* the scalar mode is the default: left unset */
    LT_TRY(lt, lt->desc_set(plan->desc, LT_DESC_A_SCALE_MODE, &mode, sizeof mode),
           "setting A_SCALE_MODE to OUTER_VEC_32F");
    LT_TRY(lt, lt->desc_set(plan->desc, LT_DESC_B_SCALE_MODE, &mode, sizeof mode),
           "setting B_SCALE_MODE to OUTER_VEC_32F");
  }
  /* the descriptor keeps the device addresses themselves */
  LT_TRY(lt, lt->desc_set(plan->desc, LT_DESC_A_SCALE_POINTER, &a_scale, sizeof a_scale),
         "setting A_SCALE_POINTER");
  LT_TRY(lt, lt->desc_set(plan->desc, LT_DESC_B_SCALE_POINTER, &b_scale, sizeof b_scale),
         "setting B_SCALE_POINTER");
  LT_TRY(lt, lt->layout_create(&plan->a, LT_R_8F_E4M3, p->k, p->n, (int64_t)p->k), "layout of W");
  LT_TRY(lt, lt->layout_create(&plan->b, LT_R_8F_E4M3, p->k, p->m, (int64_t)p->k), "layout of X");
  LT_TRY(lt, lt->layout_create(&plan->d, LT_R_16BF, p->n, p->m, (int64_t)p->n), "layout of Y");
  LT_TRY(lt, lt->pref_create(&pref), "cublasLtMatmulPreferenceCreate");
  LT_TRY(lt, lt->pref_set(pref, LT_PREF_MAX_WORKSPACE_BYTES, &max_workspace, sizeof max_workspace),
         "setting MAX_WORKSPACE_BYTES");
  lt_heuristic best;
  int returned = 0;
  memset(&best, 0, sizeof best);
  LT_TRY(lt, lt->heuristic(lt->handle, plan->desc, plan->a, plan->b, plan->d, plan->d, pref, 1, &best, &returned),
         "cublasLtMatmulAlgoGetHeuristic");
  if (returned < 1 || best.state != LT_STATUS_OK) {
    st = fpx__error(FPX_ERR_UNSUPPORTED_SHAPE,
                    "cuBLASLt offers no FP8 algorithm for M=%zu N=%zu K=%zu with %s scales (%s)", p->m,
                    p->n, p->k, fpx__lt_scaling_name(p->scaling),
                    returned < 1 ? "no result" : status_name(lt, best.state));
    goto fail;
  }
  plan->algo = best.algo;
  plan->workspace_bytes = best.workspace_size;
  lt->pref_destroy(pref);
  *out = plan;
  return FPX_OK;
fail:
  if (pref != NULL) lt->pref_destroy(pref);
  fpx__cublaslt_plan_destroy(lt, plan);
  return st;
}

fpx_status fpx__cublaslt_run(fpx__cublaslt *lt, const fpx__lt_plan *plan, void *stream) {
  const float alpha = 1.0f, beta = 0.0f;
  const fpx__lt_problem *p = &plan->p;
  void *y = (void *)(uintptr_t)p->y;
  lt_status s = lt->matmul(lt->handle, plan->desc, &alpha, (const void *)(uintptr_t)p->w, plan->a,
                           (const void *)(uintptr_t)p->x, plan->b, &beta, y, plan->d, y, plan->d,
                           &plan->algo, (void *)(uintptr_t)p->workspace, plan->workspace_bytes, stream);
  return s == LT_STATUS_OK ? FPX_OK : lt_error(lt, s, "cublasLtMatmul");
}

void fpx__cublaslt_plan_destroy(fpx__cublaslt *lt, fpx__lt_plan *plan) {
  if (plan == NULL) return;
  if (plan->d != NULL) lt->layout_destroy(plan->d);
  if (plan->b != NULL) lt->layout_destroy(plan->b);
  if (plan->a != NULL) lt->layout_destroy(plan->a);
  if (plan->desc != NULL) lt->desc_destroy(plan->desc);
  free(plan);
}

void fpx__cublaslt_close(fpx__cublaslt *lt) {
  if (lt == NULL) return;
  if (lt->handle != NULL) lt->destroy(lt->handle);
  /* the library stays loaded, as cuBLAS does (see cublas_loader.c) */
  free(lt);
}
