/*
 * reference_gemm.c - the CPU references in double precision, the ground
 * truth for GPU tests and tuner checks:
 *   Y = X * dequant(W)^T                     (weight-only: X dense)
 *   Y = dequant(Xq) * dequant(W)^T           (FP8 activations: Xq codes with
 *                                             per-row or per-tensor scales)
 */
#include <stdint.h>
#include <stdlib.h>

#include "dtype.h"
#include "error.h"
#include "format.h"

/* Checks the shape and the weight arguments shared by both references. */
static fpx_status check_weights(const char *who, fpx_format format, const uint8_t *codes,
                                const float *scales, int group_size, size_t m, size_t n,
                                size_t k, const double *out_y, const fpx__format_traits **t) {
  fpx_status st = FPX_OK;
  FPX_TRY(fpx__format_lookup(format, who, t));
  if (codes == NULL || scales == NULL || out_y == NULL)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: %s is NULL", who,
                      codes == NULL ? "codes" : scales == NULL ? "scales" : "out_y");
  if (m == 0 || n == 0 || k == 0)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: m=%zu n=%zu k=%zu must be >= 1", who, m, n, k);
  if (m > SIZE_MAX / sizeof(double) / k || n > SIZE_MAX / sizeof(double) / k ||
      m > SIZE_MAX / sizeof(double) / n)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: m=%zu n=%zu k=%zu overflows", who, m, n, k);
  if (group_size != 0 && group_size != 32 && group_size != 64 && group_size != 128 &&
      group_size != 256)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: group_size %d is not supported", who,
                      group_size);
  FPX_TRY(fpx__codes_check(*t, codes, n * k, who));
fail:
  return st;
}

/* out_y = xd * dequant(W)^T; takes ownership of xd. */
static fpx_status multiply(const char *who, const fpx__format_traits *t, double *xd,
                           const uint8_t *codes, const float *scales, int group_size, size_t m,
                           size_t n, size_t k, double *out_y) {
  fpx_status st = FPX_OK;
  double *wd = malloc(n * k * sizeof *wd);
  if (wd == NULL || xd == NULL) {
    st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "%s: no memory for %zu x %zu", who, n, k);
    goto fail;
  }
  const size_t span = group_size == 0 ? k : (size_t)group_size;
  const size_t groups = (k + span - 1) / span;
  for (size_t r = 0; r < n; r++)
    for (size_t c = 0; c < k; c++)
      wd[r * k + c] = t->value[codes[r * k + c]] * (double)scales[r * groups + c / span];
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

FPX_API fpx_status fpx_reference_gemm(fpx_format format, fpx_dtype x_dtype,
                                      const void *x, const uint8_t *codes,
                                      const float *scales, int group_size,
                                      size_t m, size_t n, size_t k,
                                      double *out_y) {
  static const char who[] = "fpx_reference_gemm";
  const fpx__format_traits *t;
  fpx_status st = FPX_OK;
  fpx__error_clear();
  if (!fpx__dtype_valid(x_dtype))
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: x_dtype %d is not f32, f16 or bf16", who, (int)x_dtype);
  FPX_CHECK_PTR(x);
  FPX_TRY(check_weights(who, format, codes, scales, group_size, m, n, k, out_y, &t));
  double *xd = malloc(m * k * sizeof *xd);
  if (xd != NULL)
    for (size_t i = 0; i < m * k; i++) xd[i] = fpx__dtype_load(x_dtype, x, i);
  FPX_TRY(multiply(who, t, xd, codes, scales, group_size, m, n, k, out_y));
fail:
  return st;
}

FPX_API fpx_status fpx_reference_gemm_qx(fpx_format x_format, const uint8_t *x_codes,
                                         const float *x_scales, int x_per_tensor,
                                         fpx_format w_format, const uint8_t *w_codes,
                                         const float *w_scales, int w_group_size, size_t m,
                                         size_t n, size_t k, double *out_y) {
  static const char who[] = "fpx_reference_gemm_qx";
  const fpx__format_traits *xt, *wt;
  fpx_status st = FPX_OK;
  fpx__error_clear();
  FPX_TRY(fpx__format_lookup(x_format, who, &xt));
  FPX_CHECK_PTR(x_codes);
  FPX_CHECK_PTR(x_scales);
  FPX_TRY(check_weights(who, w_format, w_codes, w_scales, w_group_size, m, n, k, out_y, &wt));
  FPX_TRY(fpx__codes_check(xt, x_codes, m * k, who));
  double *xd = malloc(m * k * sizeof *xd);
  if (xd != NULL)
    for (size_t i = 0; i < m * k; i++)
      xd[i] = xt->value[x_codes[i]] * (double)x_scales[x_per_tensor ? 0 : i / k];
  FPX_TRY(multiply(who, wt, xd, w_codes, w_scales, w_group_size, m, n, k, out_y));
fail:
  return st;
}
