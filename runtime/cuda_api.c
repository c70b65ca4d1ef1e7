/*
 * cuda_api.c - dlopen of the CUDA driver and the function-pointer table.
 */
#include "cuda_api.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "error.h"

#define FPX__STR2(x) #x
#define FPX__STR(x) FPX__STR2(x)

static fpx__cu_table fpx__cu_loaded;
static const fpx__cu_table *fpx__cu_override;
static fpx_status fpx__cu_status = FPX_ERR_NO_DEVICE;
static char fpx__cu_reason[512];
static pthread_once_t fpx__cu_once = PTHREAD_ONCE_INIT;

static void load_driver(void) {
  const char *path = getenv("FPX_CUDA_DRIVER");
  if (path == NULL || path[0] == '\0') path = "libcuda.so.1";
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    snprintf(fpx__cu_reason, sizeof fpx__cu_reason,
             "no CUDA driver: cannot load %s (%s)", path, dlerror());
    return;
  }
#define FPX__CU_LOAD(fn)                                                          \
  fpx__cu_loaded.fn = (__typeof__(&fn))dlsym(lib, FPX__STR(fn));                  \
  if (fpx__cu_loaded.fn == NULL) {                                                \
    snprintf(fpx__cu_reason, sizeof fpx__cu_reason,                              \
             "CUDA driver %s lacks %s (driver too old?)", path, FPX__STR(fn));    \
    return;                                                                       \
  }
  FPX_FORALL_CU(FPX__CU_LOAD)
#undef FPX__CU_LOAD
  CUresult r = fpx__cu_loaded.cuInit(0);
  if (r != CUDA_SUCCESS) {
    const char *name = NULL;
    fpx__cu_loaded.cuGetErrorName(r, &name);
    snprintf(fpx__cu_reason, sizeof fpx__cu_reason,
             "CUDA driver loaded but cuInit failed: %s (no usable GPU?)", name ? name : "?");
    return;
  }
  fpx__cu_status = FPX_OK;
}

fpx_status fpx__cu_get(const fpx__cu_table **out_table) {
  if (fpx__cu_override != NULL) {
    *out_table = fpx__cu_override;
    return FPX_OK;
  }
  pthread_once(&fpx__cu_once, load_driver);
  *out_table = fpx__cu_status == FPX_OK ? &fpx__cu_loaded : NULL;
  if (fpx__cu_status != FPX_OK) return fpx__error(FPX_ERR_NO_DEVICE, "%s", fpx__cu_reason);
  return FPX_OK;
}

void fpx__cu_set_table_for_testing(const fpx__cu_table *table) { fpx__cu_override = table; }

fpx_status fpx__cu_error(const fpx__cu_table *cu, CUresult r, const char *what) {
  const char *name = NULL;
  if (cu->cuGetErrorName(r, &name) != CUDA_SUCCESS || name == NULL) name = "unknown CUresult";
  return fpx__error(FPX_ERR_DRIVER, "%s failed: %s (%d)", what, name, (int)r);
}
