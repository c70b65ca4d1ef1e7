/*
 * cublas_loader.c - the benchmark's cuBLAS baseline, reached through dlopen so
 * that neither the library nor fpx-tune links against cuBLAS. The handful
 * of cuBLAS types and enum values used are declared here with their ABI
 * values (from cublas_api.h / library_types.h of CUDA 12 and 13, unchanged
 * since they were introduced).
 */
#include "cublas_loader.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* ---- the slice of the cuBLAS ABI in use ---------------------------------- */

typedef int cublas_status;  /* cublasStatus_t */
typedef void *cublas_handle; /* cublasHandle_t (struct cublasContext *) */

enum {
  CUBLAS_STATUS_OK = 0,
  CUBLAS_OP_N_ = 0,
  CUBLAS_OP_T_ = 1,
  CUDA_R_16F_ = 2,
  CUDA_R_16BF_ = 14,
  CUBLAS_COMPUTE_32F_ = 68,
  CUBLAS_GEMM_DEFAULT_ = -1,
};

typedef cublas_status (*create_fn)(cublas_handle *handle);
typedef cublas_status (*destroy_fn)(cublas_handle handle);
typedef cublas_status (*get_version_fn)(cublas_handle handle, int *version);
typedef cublas_status (*set_stream_fn)(cublas_handle handle, void *stream);
typedef cublas_status (*gemm_ex_fn)(cublas_handle handle, int transa, int transb, int m, int n,
                                    int k, const void *alpha, const void *a, int a_type, int lda,
                                    const void *b, int b_type, int ldb, const void *beta, void *c,
                                    int c_type, int ldc, int compute_type, int algo);
typedef const char *(*status_string_fn)(cublas_status status);

struct fpx__cublas {
  void *lib;
  const char *lib_name;
  cublas_handle handle;
  int version;
  create_fn create;
  destroy_fn destroy;
  get_version_fn get_version;
  set_stream_fn set_stream;
  gemm_ex_fn gemm_ex;
  status_string_fn status_string; /* optional (cuBLAS >= 11.4) */
};

/* Tried in order: the CUDA 13 library, the CUDA 12 one, the dev symlink. */
static const char *const library_names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so"};

const char *fpx__cublas_status_name(int s) {
  switch (s) {
  case 0: return "CUBLAS_STATUS_SUCCESS";
  case 1: return "CUBLAS_STATUS_NOT_INITIALIZED";
  case 3: return "CUBLAS_STATUS_ALLOC_FAILED";
  case 7: return "CUBLAS_STATUS_INVALID_VALUE";
  case 8: return "CUBLAS_STATUS_ARCH_MISMATCH";
  case 11: return "CUBLAS_STATUS_MAPPING_ERROR";
  case 13: return "CUBLAS_STATUS_EXECUTION_FAILED";
  case 14: return "CUBLAS_STATUS_INTERNAL_ERROR";
  case 15: return "CUBLAS_STATUS_NOT_SUPPORTED";
  case 16: return "CUBLAS_STATUS_LICENSE_ERROR";
  default: return NULL;
  }
}

static const char *status_name(const fpx__cublas *b, cublas_status s) {
  const char *name = fpx__cublas_status_name(s);
  if (name != NULL) return name;
  if (b != NULL && b->status_string != NULL) {
    const char *text = b->status_string(s);
    if (text != NULL) return text;
  }
  return "unknown cublasStatus_t";
}

static fpx_status cublas_error(const fpx__cublas *b, cublas_status s, const char *what) {
  return fpx__error(FPX_ERR_DRIVER, "%s failed: %s (%d)", what, status_name(b, s), s);
}

/* dlsym into a function pointer without a data-to-function pointer cast. */
int fpx__blas_symbol(void *lib, const char *name, void *out_fn, size_t size) {
  void *sym = dlsym(lib, name);
  if (sym == NULL || size != sizeof sym) return 0;
  memcpy(out_fn, &sym, size);
  return 1;
}

void *fpx__blas_dlopen(const char *const *names, size_t count, const char **out_name, char *tried,
                       size_t tried_size) {
  size_t used = 0;
  if (tried_size > 0) tried[0] = '\0';
  *out_name = NULL;
  for (size_t i = 0; i < count; i++) {
    void *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (lib != NULL) {
      *out_name = names[i];
      return lib;
    }
    const char *why = dlerror();
    if (used + 1 >= tried_size) continue;
    int n = snprintf(tried + used, tried_size - used, "%s%s (%s)", used ? "; " : "", names[i],
                     why ? why : "?");
    if (n > 0) used += (size_t)n < tried_size - used ? (size_t)n : tried_size - used - 1;
  }
  return NULL;
}

fpx_status fpx__cublas_open(fpx__cublas **out) {
  fpx_status st = FPX_OK;
  char tried[768];
  fpx__cublas *b = NULL;
  *out = NULL;
  b = calloc(1, sizeof *b);
  if (b == NULL) return fpx__error(FPX_ERR_OUT_OF_MEMORY, "cuBLAS: no memory");
  b->lib = fpx__blas_dlopen(library_names, sizeof library_names / sizeof library_names[0], &b->lib_name,
                            tried, sizeof tried);
  if (b->lib == NULL) {
    st = fpx__error(FPX_ERR_NO_DEVICE, "cannot load cuBLAS: %s", tried);
    goto fail;
  }
  struct {
    const char *name;
    void *fn;
    size_t size;
  } syms[] = {
      {"cublasCreate_v2", &b->create, sizeof b->create},
      {"cublasDestroy_v2", &b->destroy, sizeof b->destroy},
      {"cublasGetVersion_v2", &b->get_version, sizeof b->get_version},
      {"cublasSetStream_v2", &b->set_stream, sizeof b->set_stream},
      {"cublasGemmEx", &b->gemm_ex, sizeof b->gemm_ex},
  };
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++)
    if (!fpx__blas_symbol(b->lib, syms[i].name, syms[i].fn, syms[i].size)) {
      st = fpx__error(FPX_ERR_NO_DEVICE, "cuBLAS %s lacks %s", b->lib_name, syms[i].name);
      goto fail;
    }
  fpx__blas_symbol(b->lib, "cublasGetStatusString", &b->status_string, sizeof b->status_string);
  cublas_status s = b->create(&b->handle);
  if (s != CUBLAS_STATUS_OK) {
    b->handle = NULL;
    st = cublas_error(b, s, "cublasCreate_v2");
    goto fail;
  }
  if (b->get_version(b->handle, &b->version) != CUBLAS_STATUS_OK) b->version = 0;
  *out = b;
  return FPX_OK;
fail:
  fpx__cublas_close(b);
  return st;
}

const char *fpx__cublas_library(const fpx__cublas *b) { return b->lib_name; }

int fpx__cublas_version(const fpx__cublas *b) { return b->version; }

fpx_status fpx__cublas_set_stream(fpx__cublas *b, void *stream) {
  cublas_status s = b->set_stream(b->handle, stream);
  return s == CUBLAS_STATUS_OK ? FPX_OK : cublas_error(b, s, "cublasSetStream_v2");
}

fpx_status fpx__cublas_gemm(fpx__cublas *b, fpx_dtype dtype, size_t m, size_t n, size_t k,
                            fpx_devptr x, fpx_devptr w, fpx_devptr y) {
  const float alpha = 1.0f, beta = 0.0f;
  int type;
  if (dtype == FPX_DTYPE_BF16) type = CUDA_R_16BF_;
  else if (dtype == FPX_DTYPE_F16) type = CUDA_R_16F_;
  else return fpx__error(FPX_ERR_INVALID_ARGUMENT, "cuBLAS gemm: dtype %d is not f16 or bf16", (int)dtype);
  if (m == 0 || n == 0 || k == 0 || m > INT_MAX || n > INT_MAX || k > INT_MAX)
    return fpx__error(FPX_ERR_UNSUPPORTED_SHAPE, "cuBLAS gemm: %zu x %zu x %zu does not fit int", m,
                      n, k);
  /* cuBLAS is column-major. Row-major Y[m,n] is column-major Y^T[n,m];
   * row-major W[n,k] is column-major W^T[k,n] (lda = k), so op(A) = T gives
   * W[n,k]; row-major X[m,k] is column-major X^T[k,m] (ldb = k), op(B) = N.
   * Then Y^T = W * X^T, which is Y = X * W^T. */
  cublas_status s = b->gemm_ex(b->handle, CUBLAS_OP_T_, CUBLAS_OP_N_, (int)n, (int)m, (int)k, &alpha,
                               (const void *)(uintptr_t)w, type, (int)k, (const void *)(uintptr_t)x,
                               type, (int)k, &beta, (void *)(uintptr_t)y, type, (int)n,
                               CUBLAS_COMPUTE_32F_, CUBLAS_GEMM_DEFAULT_);
  return s == CUBLAS_STATUS_OK ? FPX_OK : cublas_error(b, s, "cublasGemmEx");
}

void fpx__cublas_close(fpx__cublas *b) {
  if (b == NULL) return;
  if (b->handle != NULL) b->destroy(b->handle);
  /* The library stays loaded: cuBLAS registers kernels with the CUDA runtime
   * and has exit-time destructors, and unloading it before the process ends
   * is a known source of crashes at exit. */
  free(b);
}
