/*
 * timing.c - the timing loop of the benchmark method (warm-ups, L2 flush,
 * events around the call alone, median) and the copy-bandwidth measurement.
 * Medians are taken over the event times in milliseconds, as the driver
 * reports them, and converted to microseconds last.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "timing.h"

#define FLUSH_FIRST_VALUE 0x3F800000u /* 1.0f, then 1.0f plus one ulp per flush */
#define COPY_FILL_VALUE 0x5A5A5A5Au

static int compare_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double fpx__median(double *values, size_t count) {
  if (values == NULL || count == 0) return NAN;
  qsort(values, count, sizeof *values, compare_double);
  if (count % 2) return values[count / 2];
  return 0.5 * (values[count / 2 - 1] + values[count / 2]);
}

fpx_status fpx__timer_create(const fpx__cu_table *cu, CUstream stream, size_t l2_bytes,
                             fpx__timer *out) {
  fpx_status st = FPX_OK;
  fpx__timer t;
  memset(&t, 0, sizeof t);
  if (out != NULL) memset(out, 0, sizeof *out);
  FPX_CHECK_PTR(out);
  FPX_CHECK_PTR(cu);
  if (l2_bytes > (SIZE_MAX - 3) / 2) {
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: l2_bytes %zu is too large", __func__,
                    l2_bytes);
    goto fail;
  }
  t.cu = cu;
  t.stream = stream;
  t.flush_bytes = (2 * l2_bytes + 3) / 4 * 4;
  if (t.flush_bytes < FPX__TIMER_FLUSH_MIN_BYTES) t.flush_bytes = FPX__TIMER_FLUSH_MIN_BYTES;
  t.flush_value = FLUSH_FIRST_VALUE;
  FPX_CU(cu, cuEventCreate(&t.start, CU_EVENT_DEFAULT));
  FPX_CU(cu, cuEventCreate(&t.stop, CU_EVENT_DEFAULT));
  FPX_CU(cu, cuMemAlloc(&t.flush, t.flush_bytes));
  *out = t;
  return FPX_OK;
fail:
  fpx__timer_destroy(&t);
  return st;
}

void fpx__timer_destroy(fpx__timer *t) {
  if (t == NULL) return;
  if (t->cu != NULL) {
    if (t->flush) t->cu->cuMemFree(t->flush);
    if (t->stop) t->cu->cuEventDestroy(t->stop);
    if (t->start) t->cu->cuEventDestroy(t->start);
  }
  memset(t, 0, sizeof *t);
}

/* Checks the arguments shared by the timing calls. */
static fpx_status check_loop(const char *fn, const fpx__timer *t, fpx__timed_call call,
                             int warmups, int reps) {
  if (t == NULL || t->cu == NULL)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: the timer is %s", fn,
                      t == NULL ? "NULL" : "not created (or already destroyed)");
  if (call == NULL) return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: call is NULL", fn);
  if (warmups < 0)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: warmups %d is negative", fn, warmups);
  if (reps < 1)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: reps %d is not at least 1", fn, reps);
  return FPX_OK;
}

/* The loop itself: warm-ups, then `reps` timed calls, each after an L2
 * flush when `flush`; stores the event times in milliseconds. */
static fpx_status run_reps(fpx__timer *t, fpx__timed_call call, void *arg, int warmups, int reps,
                           int flush, double *ms) {
  fpx_status st = FPX_OK;
  const fpx__cu_table *cu = t->cu;
  for (int i = 0; i < warmups; i++) FPX_TRY(call(arg, t->stream));
  FPX_CU(cu, cuStreamSynchronize(t->stream));
  for (int i = 0; i < reps; i++) {
    float elapsed = 0;
    if (flush)
      FPX_CU(cu, cuMemsetD32Async(t->flush, t->flush_value++, t->flush_bytes / 4, t->stream));
    FPX_CU(cu, cuEventRecord(t->start, t->stream));
    FPX_TRY(call(arg, t->stream));
    FPX_CU(cu, cuEventRecord(t->stop, t->stream));
    FPX_CU(cu, cuEventSynchronize(t->stop));
    FPX_CU(cu, cuEventElapsedTime(&elapsed, t->start, t->stop));
    ms[i] = elapsed;
  }
fail:
  return st;
}

/* Median of the loop in milliseconds. */
static fpx_status median_ms(fpx__timer *t, fpx__timed_call call, void *arg, int warmups, int reps,
                            int flush, double *out_ms) {
  fpx_status st = FPX_OK;
  double *ms = malloc((size_t)reps * sizeof *ms);
  if (ms == NULL) {
    st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "no host memory for %d timing samples", reps);
    goto fail;
  }
  FPX_TRY(run_reps(t, call, arg, warmups, reps, flush, ms));
  *out_ms = fpx__median(ms, (size_t)reps);
fail:
  free(ms);
  return st;
}

fpx_status fpx__timer_median_us(fpx__timer *t, fpx__timed_call call, void *arg, int warmups,
                                int reps, double *out_median_us) {
  fpx_status st = FPX_OK;
  double ms = 0;
  FPX_CHECK_PTR(out_median_us);
  *out_median_us = 0;
  FPX_TRY(check_loop(__func__, t, call, warmups, reps));
  FPX_TRY(median_ms(t, call, arg, warmups, reps, 1, &ms));
  *out_median_us = ms * 1000.0;
fail:
  return st;
}

fpx_status fpx__timer_samples_us(fpx__timer *t, fpx__timed_call call, void *arg, int warmups,
                                 int reps, double *out_samples_us) {
  fpx_status st = FPX_OK;
  FPX_CHECK_PTR(out_samples_us);
  FPX_TRY(check_loop(__func__, t, call, warmups, reps));
  FPX_TRY(run_reps(t, call, arg, warmups, reps, 1, out_samples_us));
  for (int i = 0; i < reps; i++) out_samples_us[i] *= 1000.0;
  return FPX_OK;
fail:
  if (out_samples_us != NULL && reps > 0)
    memset(out_samples_us, 0, (size_t)reps * sizeof *out_samples_us);
  return st;
}

typedef struct copy_call_arg {
  const fpx__cu_table *cu;
  CUdeviceptr dst, src;
  size_t bytes;
} copy_call_arg;

static fpx_status call_copy(void *arg, CUstream stream) {
  copy_call_arg *a = arg;
  fpx_status st = FPX_OK;
  FPX_CU(a->cu, cuMemcpyDtoDAsync(a->dst, a->src, a->bytes, stream));
fail:
  return st;
}

fpx_status fpx__copy_bandwidth_gbps(fpx__timer *t, size_t bytes, int reps, double *out_gbps) {
  fpx_status st = FPX_OK;
  copy_call_arg a = {NULL, 0, 0, bytes};
  double ms = 0;
  FPX_CHECK_PTR(out_gbps);
  *out_gbps = 0;
  FPX_TRY(check_loop(__func__, t, call_copy, 1, reps));
  if (bytes == 0 || bytes % 4 != 0) {
    st = fpx__error(FPX_ERR_INVALID_ARGUMENT, "%s: bytes %zu is not a nonzero multiple of 4",
                    __func__, bytes);
    goto fail;
  }
  a.cu = t->cu;
  FPX_CU(a.cu, cuMemAlloc(&a.src, bytes));
  FPX_CU(a.cu, cuMemAlloc(&a.dst, bytes));
  FPX_CU(a.cu, cuMemsetD32Async(a.src, COPY_FILL_VALUE, bytes / 4, t->stream));
  FPX_TRY(median_ms(t, call_copy, &a, 1, reps, 0, &ms));
  const double us = ms * 1000.0;
  if (!(us > 0)) {
    st = fpx__error(FPX_ERR_INTERNAL, "%s: a copy of %zu bytes timed at %g us", __func__, bytes,
                    us);
    goto fail;
  }
  *out_gbps = 2.0 * (double)bytes / (us * 1e3);
fail:
  /* queued copies must finish before their buffers go; after a failure the
   * stream may be broken, so the result does not matter */
  if (st != FPX_OK && a.cu != NULL) (void)a.cu->cuStreamSynchronize(t->stream);
  if (a.src) a.cu->cuMemFree(a.src);
  if (a.dst) a.cu->cuMemFree(a.dst);
  return st;
}

fpx_status fpx__timed_gemm(void *arg, CUstream stream) {
  const fpx__gemm_call *c = arg;
  return fpx_gemm(c->ctx, &c->args, (fpx_stream)stream);
}
