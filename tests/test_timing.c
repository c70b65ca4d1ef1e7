/*
 * test_timing.c - the tuner's timing loop (tuner/timing.c) on the CPU: the
 * median, argument checks, and the order of driver calls of the timing loop,
 * checked against a fake driver table that logs every call and replays
 * scripted event times. No GPU and no driver are needed.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cuda_api.h"
#include "timing.h"

/* ---- a fake driver ---------------------------------------------------------- */

#define LOG_SIZE 512
#define MAX_MEMSETS 64

static struct fake_gpu {
  char log[LOG_SIZE]; /* one letter a call: c call, F memset, R record, W event
                         sync, T elapsed, Y stream sync, D copy */
  size_t log_len;
  int events_created, events_destroyed, allocs, frees;
  size_t last_alloc_bytes;
  int memsets;
  unsigned memset_values[MAX_MEMSETS];
  size_t memset_words[MAX_MEMSETS];
  CUdeviceptr memset_ptrs[MAX_MEMSETS];
  const float *elapsed_ms; /* scripted event times, replayed in a cycle */
  int elapsed_count, elapsed_next;
  const char *fail_name; /* this fake fails ... */
  int fail_after;        /* ... after succeeding this many times */
  int calls, call_fail_at; /* the timed call fails on call number call_fail_at (1-based) */
  CUstream stream_seen;
} gpu;

static void log_call(char c) {
  if (gpu.log_len + 1 < LOG_SIZE) gpu.log[gpu.log_len++] = c;
}

static int fails(const char *name) {
  if (gpu.fail_name == NULL || strcmp(gpu.fail_name, name) != 0) return 0;
  return gpu.fail_after-- <= 0;
}

static CUresult fake_get_error_name(CUresult r, const char **name) {
  *name = r == CUDA_ERROR_OUT_OF_MEMORY ? "CUDA_ERROR_OUT_OF_MEMORY" : "CUDA_ERROR_UNKNOWN";
  return CUDA_SUCCESS;
}

static CUresult fake_event_create(CUevent *e, unsigned flags) {
  (void)flags;
  if (fails("cuEventCreate")) return CUDA_ERROR_UNKNOWN;
  *e = (CUevent)(uintptr_t)(0x100 + ++gpu.events_created);
  return CUDA_SUCCESS;
}

static CUresult fake_event_destroy(CUevent e) {
  (void)e;
  gpu.events_destroyed++;
  return CUDA_SUCCESS;
}

static CUresult fake_mem_alloc(CUdeviceptr *p, size_t bytes) {
  if (fails("cuMemAlloc")) return CUDA_ERROR_OUT_OF_MEMORY;
  gpu.last_alloc_bytes = bytes;
  *p = (CUdeviceptr)(0x10000000u * (unsigned)++gpu.allocs);
  return CUDA_SUCCESS;
}

static CUresult fake_mem_free(CUdeviceptr p) {
  (void)p;
  gpu.frees++;
  return CUDA_SUCCESS;
}

static CUresult fake_memset32(CUdeviceptr p, unsigned value, size_t words, CUstream s) {
  (void)s;
  if (fails("cuMemsetD32Async")) return CUDA_ERROR_UNKNOWN;
  log_call('F');
  if (gpu.memsets < MAX_MEMSETS) {
    gpu.memset_ptrs[gpu.memsets] = p;
    gpu.memset_values[gpu.memsets] = value;
    gpu.memset_words[gpu.memsets] = words;
  }
  gpu.memsets++;
  return CUDA_SUCCESS;
}

static CUresult fake_event_record(CUevent e, CUstream s) {
  (void)e, (void)s;
  log_call('R');
  return CUDA_SUCCESS;
}

static CUresult fake_event_sync(CUevent e) {
  (void)e;
  log_call('W');
  return CUDA_SUCCESS;
}

static CUresult fake_elapsed(float *ms, CUevent start, CUevent stop) {
  (void)start, (void)stop;
  if (fails("cuEventElapsedTime")) return CUDA_ERROR_UNKNOWN;
  log_call('T');
  *ms = gpu.elapsed_count ? gpu.elapsed_ms[gpu.elapsed_next++ % gpu.elapsed_count] : 1.0f;
  return CUDA_SUCCESS;
}

static CUresult fake_stream_sync(CUstream s) {
  (void)s;
  log_call('Y');
  return CUDA_SUCCESS;
}

static CUresult fake_copy(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream s) {
  (void)dst, (void)src, (void)bytes, (void)s;
  log_call('D');
  return CUDA_SUCCESS;
}

static fpx__cu_table fake_table(void) {
  fpx__cu_table t;
  memset(&t, 0, sizeof t);
  t.cuGetErrorName = fake_get_error_name;
  t.cuEventCreate = fake_event_create;
  t.cuEventDestroy = fake_event_destroy;
  t.cuMemAlloc = fake_mem_alloc;
  t.cuMemFree = fake_mem_free;
  t.cuMemsetD32Async = fake_memset32;
  t.cuEventRecord = fake_event_record;
  t.cuEventSynchronize = fake_event_sync;
  t.cuEventElapsedTime = fake_elapsed;
  t.cuStreamSynchronize = fake_stream_sync;
  t.cuMemcpyDtoDAsync = fake_copy;
  return t;
}

static fpx_status fake_call(void *arg, CUstream stream) {
  (void)arg;
  gpu.stream_seen = stream;
  log_call('c');
  return ++gpu.calls == gpu.call_fail_at ? FPX_ERR_COMPILE : FPX_OK;
}

#define FAKE_STREAM ((CUstream)(uintptr_t)0x5700)

/* A timer on the fake driver, with an empty log. */
static void make_timer(const fpx__cu_table *table, fpx__timer *t) {
  memset(&gpu, 0, sizeof gpu);
  cr_assert_eq(fpx__timer_create(table, FAKE_STREAM, 50u << 20, t), FPX_OK);
}

/* ---- the median ------------------------------------------------------------- */

Test(timing, median_of_odd_count_is_the_middle_value) {
  double v[] = {1, 2, 3, 4, 5};
  cr_assert_eq(fpx__median(v, 5), 3.0);
}

Test(timing, median_of_even_count_is_the_mean_of_the_middle_two) {
  double v[] = {1, 2, 4, 8};
  cr_assert_eq(fpx__median(v, 4), 3.0);
}

Test(timing, median_sorts_unsorted_values_in_place) {
  double v[] = {9, -1, 7, 3, 3, 0.5};
  cr_assert_eq(fpx__median(v, 6), 3.0);
  for (int i = 1; i < 6; i++) cr_assert_leq(v[i - 1], v[i]);
}

Test(timing, median_of_one_value_is_that_value) {
  double v[] = {42.5};
  cr_assert_eq(fpx__median(v, 1), 42.5);
}

Test(timing, median_of_no_values_is_nan) {
  cr_assert(isnan(fpx__median(NULL, 0)));
}

/* ---- creating and destroying ------------------------------------------------ */

Test(timing, timer_flushes_at_least_256_mib) {
  const fpx__cu_table table = fake_table();
  fpx__timer t;
  make_timer(&table, &t);
  cr_assert_eq(t.flush_bytes, (size_t)256 << 20);
  cr_assert_eq(gpu.last_alloc_bytes, (size_t)256 << 20);
  cr_assert_eq(t.stream, FAKE_STREAM);
  fpx__timer_destroy(&t);
}

Test(timing, timer_flushes_twice_a_large_l2) {
  const fpx__cu_table table = fake_table();
  fpx__timer t;
  memset(&gpu, 0, sizeof gpu);
  cr_assert_eq(fpx__timer_create(&table, FAKE_STREAM, (size_t)200 << 20, &t), FPX_OK);
  cr_assert_eq(t.flush_bytes, (size_t)400 << 20);
  fpx__timer_destroy(&t);
}

Test(timing, timer_create_rejects_a_null_table) {
  fpx__timer t;
  memset(&t, 0xAB, sizeof t);
  cr_assert_eq(fpx__timer_create(NULL, FAKE_STREAM, 0, &t), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "cu is NULL") != NULL, "%s", fpx_last_error());
  cr_assert_null(t.cu);
  cr_assert_eq(t.flush_bytes, 0);
}

Test(timing, timer_create_rejects_an_overflowing_l2_size) {
  const fpx__cu_table table = fake_table();
  fpx__timer t;
  memset(&gpu, 0, sizeof gpu);
  cr_assert_eq(fpx__timer_create(&table, FAKE_STREAM, SIZE_MAX / 2, &t), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "l2_bytes") != NULL, "%s", fpx_last_error());
  cr_assert_eq(gpu.events_created, 0);
}

Test(timing, timer_create_failure_frees_what_it_made) {
  const fpx__cu_table table = fake_table();
  fpx__timer t;
  memset(&gpu, 0, sizeof gpu);
  gpu.fail_name = "cuMemAlloc";
  cr_assert_eq(fpx__timer_create(&table, FAKE_STREAM, 0, &t), FPX_ERR_DRIVER);
  cr_assert(strstr(fpx_last_error(), "cuMemAlloc") != NULL, "%s", fpx_last_error());
  cr_assert(strstr(fpx_last_error(), "CUDA_ERROR_OUT_OF_MEMORY") != NULL, "%s", fpx_last_error());
  cr_assert_eq(gpu.events_created, 2);
  cr_assert_eq(gpu.events_destroyed, 2);
  cr_assert_null(t.cu);
  cr_assert_null(t.start);
}

Test(timing, timer_destroy_frees_everything_once) {
  const fpx__cu_table table = fake_table();
  fpx__timer t;
  make_timer(&table, &t);
  fpx__timer_destroy(&t);
  fpx__timer_destroy(&t);
  fpx__timer_destroy(NULL);
  cr_assert_eq(gpu.events_destroyed, 2);
  cr_assert_eq(gpu.frees, 1);
}

/* ---- the timing loop -------------------------------------------------------- */

Test(timing, each_rep_flushes_then_times_the_call_alone) {
  const fpx__cu_table table = fake_table();
  fpx__timer t;
  double us;
  make_timer(&table, &t);
  cr_assert_eq(fpx__timer_median_us(&t, fake_call, NULL, 2, 3, &us), FPX_OK);
  cr_assert_str_eq(gpu.log, "ccY" "FRcRWT" "FRcRWT" "FRcRWT");
  cr_assert_eq(gpu.stream_seen, FAKE_STREAM);
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(gpu.memset_ptrs[i], t.flush);
    cr_assert_eq(gpu.memset_words[i], t.flush_bytes / 4);
  }
  fpx__timer_destroy(&t);
}

Test(timing, every_flush_writes_a_new_value) {
  const fpx__cu_table table = fake_table();
  fpx__timer t;
  double us;
  make_timer(&table, &t);
  cr_assert_eq(fpx__timer_median_us(&t, fake_call, NULL, 0, 3, &us), FPX_OK);
  cr_assert_eq(fpx__timer_median_us(&t, fake_call, NULL, 0, 2, &us), FPX_OK);
  cr_assert_eq(gpu.memsets, 5);
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < i; j++) cr_assert_neq(gpu.memset_values[i], gpu.memset_values[j]);
  fpx__timer_destroy(&t);
}

Test(timing, median_us_is_the_median_event_time_in_microseconds) {
  static const float ms[] = {3.0f, 1.0f, 2.0f, 5.0f, 4.0f};
  const fpx__cu_table table = fake_table();
  fpx__timer t;
  double us;
  make_timer(&table, &t);
  gpu.elapsed_ms = ms;
  gpu.elapsed_count = 5;
  cr_assert_eq(fpx__timer_median_us(&t, fake_call, NULL, 1, 5, &us), FPX_OK);
  cr_assert_float_eq(us, 3000.0, 1e-9);
  fpx__timer_destroy(&t);
}

Test(timing, median_us_of_even_reps_is_the_mean_of_the_middle_two) {
  static const float ms[] = {0.25f, 0.5f, 0.125f, 1.0f};
  const fpx__cu_table table = fake_table();
  fpx__timer t;
  double us;
  make_timer(&table, &t);
  gpu.elapsed_ms = ms;
  gpu.elapsed_count = 4;
  cr_assert_eq(fpx__timer_median_us(&t, fake_call, NULL, 0, 4, &us), FPX_OK);
  cr_assert_float_eq(us, 375.0, 1e-9);
  fpx__timer_destroy(&t);
}

Test(timing, samples_us_keeps_the_order_taken) {
  static const float ms[] = {0.5f, 0.25f, 2.0f};
  const fpx__cu_table table = fake_table();
  fpx__timer t;
  double samples[3];
  make_timer(&table, &t);
  gpu.elapsed_ms = ms;
  gpu.elapsed_count = 3;
  cr_assert_eq(fpx__timer_samples_us(&t, fake_call, NULL, 1, 3, samples), FPX_OK);
  cr_assert_float_eq(samples[0], 500.0, 1e-9);
  cr_assert_float_eq(samples[1], 250.0, 1e-9);
  cr_assert_float_eq(samples[2], 2000.0, 1e-9);
  fpx__timer_destroy(&t);
}

Test(timing, median_us_rejects_zero_reps) {
  const fpx__cu_table table = fake_table();
  fpx__timer t;
  double us = -1;
  make_timer(&table, &t);
  cr_assert_eq(fpx__timer_median_us(&t, fake_call, NULL, 1, 0, &us), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "reps 0") != NULL, "%s", fpx_last_error());
  cr_assert_eq(us, 0.0);
  cr_assert_eq(gpu.calls, 0);
  fpx__timer_destroy(&t);
}

Test(timing, median_us_rejects_negative_warmups) {
  const fpx__cu_table table = fake_table();
  fpx__timer t;
  double us;
  make_timer(&table, &t);
  cr_assert_eq(fpx__timer_median_us(&t, fake_call, NULL, -1, 5, &us), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "warmups -1") != NULL, "%s", fpx_last_error());
  fpx__timer_destroy(&t);
}

Test(timing, median_us_rejects_a_destroyed_timer) {
  const fpx__cu_table table = fake_table();
  fpx__timer t;
  double us;
  make_timer(&table, &t);
  fpx__timer_destroy(&t);
  cr_assert_eq(fpx__timer_median_us(&t, fake_call, NULL, 0, 1, &us), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(fpx__timer_median_us(NULL, fake_call, NULL, 0, 1, &us), FPX_ERR_INVALID_ARGUMENT);
  cr_assert_eq(gpu.calls, 0);
}

Test(timing, median_us_returns_the_call_failure) {
  const fpx__cu_table table = fake_table();
  fpx__timer t;
  double us = -1;
  make_timer(&table, &t);
  gpu.call_fail_at = 3; /* the first timed rep, after two warm-ups */
  cr_assert_eq(fpx__timer_median_us(&t, fake_call, NULL, 2, 5, &us), FPX_ERR_COMPILE);
  cr_assert_eq(us, 0.0);
  cr_assert_eq(gpu.calls, 3);
  fpx__timer_destroy(&t);
}

Test(timing, median_us_reports_a_driver_failure) {
  const fpx__cu_table table = fake_table();
  fpx__timer t;
  double us = -1;
  make_timer(&table, &t);
  gpu.fail_name = "cuEventElapsedTime";
  gpu.fail_after = 1;
  cr_assert_eq(fpx__timer_median_us(&t, fake_call, NULL, 0, 5, &us), FPX_ERR_DRIVER);
  cr_assert(strstr(fpx_last_error(), "cuEventElapsedTime") != NULL, "%s", fpx_last_error());
  cr_assert_eq(us, 0.0);
  cr_assert_eq(gpu.calls, 2);
  fpx__timer_destroy(&t);
}

/* ---- copy bandwidth --------------------------------------------------------- */

Test(timing, copy_bandwidth_counts_read_and_write) {
  static const float ms[] = {2.0f, 1.0f, 1.0f};
  const fpx__cu_table table = fake_table();
  fpx__timer t;
  double gbps;
  make_timer(&table, &t);
  gpu.elapsed_ms = ms;
  gpu.elapsed_count = 3;
  cr_assert_eq(fpx__copy_bandwidth_gbps(&t, 4000000, 3, &gbps), FPX_OK);
  /* 2 x 4e6 bytes in 1 ms */
  cr_assert_float_eq(gbps, 8.0, 1e-12);
  /* source fill, one warm-up copy, then no L2 flush between the timed copies */
  cr_assert_str_eq(gpu.log, "FDY" "RDRWT" "RDRWT" "RDRWT");
  cr_assert_eq(gpu.allocs, 3); /* flush buffer, source, destination */
  cr_assert_eq(gpu.frees, 2);
  fpx__timer_destroy(&t);
}

Test(timing, copy_bandwidth_rejects_a_size_not_a_multiple_of_4) {
  const fpx__cu_table table = fake_table();
  fpx__timer t;
  double gbps = -1;
  make_timer(&table, &t);
  cr_assert_eq(fpx__copy_bandwidth_gbps(&t, 1022, 3, &gbps), FPX_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(fpx_last_error(), "1022") != NULL, "%s", fpx_last_error());
  cr_assert_eq(gbps, 0.0);
  cr_assert_eq(gpu.allocs, 1);
  fpx__timer_destroy(&t);
}

Test(timing, copy_bandwidth_failure_frees_its_buffers) {
  const fpx__cu_table table = fake_table();
  fpx__timer t;
  double gbps = -1;
  make_timer(&table, &t);
  gpu.fail_name = "cuMemAlloc";
  gpu.fail_after = 1; /* the destination */
  cr_assert_eq(fpx__copy_bandwidth_gbps(&t, 1 << 20, 3, &gbps), FPX_ERR_DRIVER);
  cr_assert_eq(gbps, 0.0);
  cr_assert_eq(gpu.allocs, 2); /* flush buffer and source */
  cr_assert_eq(gpu.frees, 1);
  fpx__timer_destroy(&t);
}
