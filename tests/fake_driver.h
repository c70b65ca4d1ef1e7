/*
 * fake_driver.h - a CUDA driver table for CPU tests of the device entry
 * points: one fake GPU of a chosen compute capability whose memory is host
 * memory and whose launches are recorded, not run (kernels still compile
 * with NVRTC). Installed with fpx__cu_set_table_for_testing; every driver
 * function the tests do not need returns CUDA_ERROR_NOT_SUPPORTED.
 */
#ifndef FPX_TESTS_FAKE_DRIVER_H
#define FPX_TESTS_FAKE_DRIVER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_api.h"
#include "support.h"

/* One recorded launch; the GEMM fields only with fake_gemm_params set (the
 * mma.sync GEMM's parameters: x, x_scales, y and m). */
typedef struct fake_launch {
  unsigned grid[3], block;
  CUdeviceptr x, x_scales, y;
  int m;
} fake_launch;

static int fake_major = 9, fake_gemm_params;
static fake_launch fake_launches[16];
static int fake_launch_count;
static fpx__cu_table fake_table;

static CUresult fake_ok(void) { return CUDA_SUCCESS; }
static CUresult fake_unsupported(void) { return CUDA_ERROR_NOT_SUPPORTED; }
static CUresult fake_error_name(CUresult r, const char **s) {
  (void)r;
  *s = "CUDA_ERROR_FAKE";
  return CUDA_SUCCESS;
}
static CUresult fake_driver_version(int *v) {
  *v = 13000;
  return CUDA_SUCCESS;
}
static CUresult fake_device_count(int *c) {
  *c = 1;
  return CUDA_SUCCESS;
}
static CUresult fake_device_get(CUdevice *d, int ordinal) {
  *d = ordinal;
  return CUDA_SUCCESS;
}
static CUresult fake_device_name(char *name, int len, CUdevice d) {
  (void)d;
  snprintf(name, (size_t)len, "Fake GPU");
  return CUDA_SUCCESS;
}
static CUresult fake_device_attribute(int *v, CUdevice_attribute a, CUdevice d) {
  (void)d;
  *v = a == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR   ? fake_major
       : a == CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT      ? 132
                                                            : 0;
  return CUDA_SUCCESS;
}
static CUresult fake_retain(CUcontext *c, CUdevice d) {
  (void)d;
  *c = (CUcontext)0x1;
  return CUDA_SUCCESS;
}
static CUresult fake_alloc(CUdeviceptr *p, size_t bytes) {
  void *m = malloc(bytes ? bytes : 1);
  if (m == NULL) return CUDA_ERROR_OUT_OF_MEMORY;
  *p = (CUdeviceptr)m;
  return CUDA_SUCCESS;
}
static CUresult fake_free(CUdeviceptr p) {
  free((void *)p);
  return CUDA_SUCCESS;
}
static CUresult fake_htod(CUdeviceptr d, const void *s, size_t bytes) {
  memcpy((void *)d, s, bytes);
  return CUDA_SUCCESS;
}
static CUresult fake_module_load(CUmodule *m, const void *image) {
  (void)image;
  *m = (CUmodule)0x2;
  return CUDA_SUCCESS;
}
static CUresult fake_get_function(CUfunction *f, CUmodule m, const char *name) {
  (void)m, (void)name;
  *f = (CUfunction)0x3;
  return CUDA_SUCCESS;
}
static CUresult fake_launch_kernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                                   unsigned by, unsigned bz, unsigned shared, CUstream s,
                                   void **params, void **extra) {
  (void)f, (void)by, (void)bz, (void)shared, (void)s, (void)extra;
  if (gx == 0 || gy == 0 || gz == 0 || gy > 65535 || gz > 65535) return CUDA_ERROR_INVALID_VALUE;
  if (fake_launch_count < (int)(sizeof fake_launches / sizeof fake_launches[0])) {
    fake_launch *l = &fake_launches[fake_launch_count];
    memset(l, 0, sizeof *l);
    l->grid[0] = gx, l->grid[1] = gy, l->grid[2] = gz, l->block = bx;
    if (fake_gemm_params) {
      l->x = *(CUdeviceptr *)params[1];
      l->x_scales = *(CUdeviceptr *)params[3];
      l->y = *(CUdeviceptr *)params[5];
      l->m = *(int *)params[8];
    }
  }
  fake_launch_count++;
  return CUDA_SUCCESS;
}

/* Installs the fake driver with a GPU of compute capability major.0. */
static inline void fake_driver_install(int major) {
  fake_major = major;
  fake_gemm_params = 0;
  fake_launch_count = 0;
  void **slots = (void **)&fake_table;
  for (size_t i = 0; i < sizeof fake_table / sizeof(void *); i++) slots[i] = (void *)fake_unsupported;
  fake_table.cuInit = (void *)fake_ok;
  fake_table.cuGetErrorName = fake_error_name;
  fake_table.cuDriverGetVersion = fake_driver_version;
  fake_table.cuDeviceGetCount = fake_device_count;
  fake_table.cuDeviceGet = fake_device_get;
  fake_table.cuDeviceGetName = fake_device_name;
  fake_table.cuDeviceGetAttribute = fake_device_attribute;
  fake_table.cuDevicePrimaryCtxRetain = fake_retain;
  fake_table.cuDevicePrimaryCtxRelease = (void *)fake_ok;
  fake_table.cuCtxSetCurrent = (void *)fake_ok;
  fake_table.cuMemAlloc = fake_alloc;
  fake_table.cuMemFree = fake_free;
  fake_table.cuMemcpyHtoD = fake_htod;
  fake_table.cuModuleLoadData = fake_module_load;
  fake_table.cuModuleGetFunction = fake_get_function;
  fake_table.cuModuleUnload = (void *)fake_ok;
  fake_table.cuFuncSetAttribute = (void *)fake_ok;
  fake_table.cuLaunchKernel = fake_launch_kernel;
  fake_table.cuMemsetD8Async = (void *)fake_ok;
  fake_table.cuMemsetD32Async = (void *)fake_ok;
  fake_table.cuStreamSynchronize = (void *)fake_ok;
  fpx__cu_set_table_for_testing(&fake_table);
}

/* A context on the fake GPU, without a tuning database. */
static inline fpx_ctx *fake_ctx(void) {
  fpx_ctx_options o = {sizeof o, 0, "", 0};
  fpx_ctx *ctx = NULL;
  cr_assert_eq(fpx_ctx_create(&o, &ctx), FPX_OK, "%s", fpx_last_error());
  return ctx;
}

#endif
