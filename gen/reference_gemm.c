/*
 * reference_gemm.c - the CPU reference Y = X * dequant(W)^T in double
 * precision, the ground truth for GPU tests and tuner checks.
 */
#include <stdint.h>
#include <stdlib.h>

#include "dtype.h"
#include "error.h"
#include "format.h"

FPX_API fpx_status fpx_reference_gemm(fpx_format format, fpx_dtype x_dtype,
                                      const void *x, const uint8_t *codes,
                                      const float *scales, int group_size,
                                      size_t m, size_t n, size_t k,
                                      double *out_y) {
  static const char who[] = "fpx_reference_gemm";
  const fpx__format_traits *t;
  double *wd = NULL, *xd = NULL;
  fpx_status st = FPX_OK;
  fpx__error_clear();
  FPX_TRY(fpx__format_lookup(format, who, &t));
  if (!fpx__dtype_valid(x_dtype))
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: x_dtype %d is not a dtype", who,
                      (int)x_dtype);
  FPX_CHECK_PTR(x);
  FPX_CHECK_PTR(codes);
  FPX_CHECK_PTR(scales);
  FPX_CHECK_PTR(out_y);
  if (m == 0 || n == 0 || k == 0)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: m=%zu n=%zu k=%zu must be >= 1", who,
                      m, n, k);
  if (m > SIZE_MAX / sizeof(double) / k || n > SIZE_MAX / sizeof(double) / k ||
      m > SIZE_MAX / sizeof(double) / n)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: m=%zu n=%zu k=%zu overflows", who, m,
                      n, k);
  if (group_size != 0 && group_size != 32 && group_size != 64 && group_size != 128 &&
      group_size != 256)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: group_size %d is not supported", who,
                      group_size);
  FPX_TRY(fpx__codes_check(t, codes, n * k, who));
  wd = malloc(n * k * sizeof *wd);
  xd = malloc(m * k * sizeof *xd);
  if (wd == NULL || xd == NULL) {
    st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "%s: no memory for %zu x %zu", who, n, k);
    goto fail;
  }
  const size_t span = group_size == 0 ? k : (size_t)group_size;
  const size_t groups = (k + span - 1) / span;
  for (size_t r = 0; r < n; r++)
    for (size_t c = 0; c < k; c++)
      wd[r * k + c] = t->value[codes[r * k + c]] * (double)scales[r * groups + c / span];
  for (size_t i = 0; i < m * k; i++) xd[i] = fpx__dtype_load(x_dtype, x, i);
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      double acc = 0.0;
      const double *xr = xd + i * k, *wr = wd + j * k;
      for (size_t c = 0; c < k; c++) acc += xr[c] * wr[c];
      out_y[i * n + j] = acc;
    }
fail:
  free(wd);
  free(xd);
  return st;
}
