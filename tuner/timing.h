/*
 * timing.h - GPU timing by the project's benchmark method, shared by
 * `fpx-tune bench` and the tuner: warm-up calls first (compilation and
 * module loading stay out of the numbers), then for every timed rep the L2
 * is flushed by writing a buffer of at least twice its size on the same
 * stream, the call alone is bracketed by CUDA events, and the median of the
 * reps is reported. Also the device-to-device copy bandwidth that effective
 * weight bandwidths are compared against.
 *
 * The driver is reached only through the table the caller passes in, so the
 * timer itself never loads or initialises CUDA (and tests can pass a fake
 * table). A current CUDA context is the caller's business. A timer is not
 * thread-safe; use one per thread and stream.
 */
#ifndef FPX_TUNER_TIMING_H
#define FPX_TUNER_TIMING_H

#include <stddef.h>

#include "cuda_api.h"
#include "fpx.h"

/* The work being timed: enqueues one call on `stream` (asynchronously, as a
 * kernel launch does) and returns its status. */
typedef fpx_status (*fpx__timed_call)(void *arg, CUstream stream);

/* Events, stream and L2 flush buffer of one timing loop. Fields are read-only
 * for callers; flush_bytes = max(256 MiB, 2 x L2), a multiple of 4;
 * flush_value is the 32-bit word of the next flush; it changes with every
 * flush, so consecutive flushes never write the same data. */
typedef struct fpx__timer {
  const fpx__cu_table *cu;
  CUstream stream; /* borrowed: the timer never creates or destroys it */
  CUevent start, stop;
  CUdeviceptr flush;
  size_t flush_bytes;
  unsigned flush_value;
} fpx__timer;

/* The smallest L2 flush buffer, whatever the L2 size. */
#define FPX__TIMER_FLUSH_MIN_BYTES ((size_t)256 << 20)

/* Creates the events and allocates the flush buffer (max(256 MiB,
 * 2 x l2_bytes), in the current context) for timing work on `stream` (0 is
 * the legacy default stream). Returns FPX_ERR_INVALID_ARGUMENT for a NULL
 * `cu` or `out` or an l2_bytes whose double overflows, FPX_ERR_DRIVER when
 * the driver fails. *out is zeroed on failure, and nothing is left
 * allocated. */
fpx_status fpx__timer_create(const fpx__cu_table *cu, CUstream stream, size_t l2_bytes,
                             fpx__timer *out);
/* Frees the flush buffer and destroys the events (not the stream); zeroes
 * *t. Accepts NULL and a zeroed or already destroyed timer. */
void fpx__timer_destroy(fpx__timer *t);

/* Runs `warmups` untimed calls (>= 0) and synchronises the stream; then
 * `reps` (>= 1) times: flush the L2 (cuMemsetD32Async of the flush buffer
 * with a new value), record the start event, call, record the stop event,
 * wait for it and read the elapsed time. Stores the median in microseconds:
 * for an even number of reps the mean of the two middle samples. A failing
 * call's status is returned as is; *out_median_us is 0 on failure, and the
 * stream may still hold queued work (synchronise before freeing what the
 * call used). */
fpx_status fpx__timer_median_us(fpx__timer *t, fpx__timed_call call, void *arg, int warmups,
                                int reps, double *out_median_us);
/* As fpx__timer_median_us, but stores every sample, in microseconds and in
 * the order taken, in out_samples_us[0..reps-1] (caller-owned; zeroed on
 * failure). */
fpx_status fpx__timer_samples_us(fpx__timer *t, fpx__timed_call call, void *arg, int warmups,
                                 int reps, double *out_samples_us);

/* The median of values[0..count-1], which it sorts in place (ascending);
 * for an even count the mean of the two middle values. NaN when count is 0
 * or values is NULL. Values must not be NaN. */
double fpx__median(double *values, size_t count);

/* An fpx_gemm call in the shape fpx__timer_median_us takes: pass a
 * fpx__gemm_call as `arg` and fpx__timed_gemm as `call`. */
typedef struct fpx__gemm_call {
  fpx_ctx *ctx;
  fpx_gemm_args args;
} fpx__gemm_call;
fpx_status fpx__timed_gemm(void *arg, CUstream stream);

/* Device-to-device copy bandwidth in GB/s (1e9 bytes per second), counting
 * both the bytes read and the bytes written: allocates two buffers of
 * `bytes` (a nonzero multiple of 4), fills the source, makes one untimed
 * copy, then times `reps` (>= 1) copies with events and takes the median.
 * The L2 is not flushed between these copies: each one streams many times
 * the L2 size, so a flush would change nothing. Frees both buffers;
 * *out_gbps is 0 on failure. */
fpx_status fpx__copy_bandwidth_gbps(fpx__timer *t, size_t bytes, int reps, double *out_gbps);

#endif
