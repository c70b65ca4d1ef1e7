/*
 * tune.h - tuning one weight shape (N, K) for a list of M values on the
 * GPU: candidates measured in child processes (a faulting kernel costs one
 * candidate, never the sweep), each checked against a CPU reference on
 * sampled outputs before it is timed, winners stored in the database.
 */
#ifndef FPX_TUNER_TUNE_H
#define FPX_TUNER_TUNE_H

#include <stddef.h>
#include <stdint.h>

#include "candidates.h"
#include "config.h"
#include "fpx.h"

typedef struct fpx__tune_spec {
  fpx__wo_key key;           /* format, activation/output dtypes, group size */
  size_t n, k;
  const size_t *ms;          /* M values to tune (each stored under its bucket) */
  size_t m_count;
  fpx__tune_strategy strategy;
  double budget_s;           /* per M: stop measuring new candidates after it (0: none) */
  int reps;                  /* timed calls per candidate (median) */
  int device;
  const char *db_path;       /* NULL: default database; "": do not store */
  uint64_t seed;             /* random data */
} fpx__tune_spec;

typedef struct fpx__tune_result {
  size_t m;
  int m_bucket;
  fpx_wo_config best;        /* the winner (valid when best_us > 0) */
  double best_us;
  fpx_wo_config heuristic;   /* what fpx_gemm runs untuned */
  double heuristic_us;       /* its time (< 0 if it failed) */
  double best_error;         /* winner's worst |error| / tolerance on the check */
  size_t candidates, measured, failed, crashed, skipped;
  int stored;                /* 1 when written to the database */
} fpx__tune_result;

/* Tunes spec->m_count keys of one shape; results[i] belongs to spec->ms[i].
 * out_device (may be NULL) receives the GPU it ran on. Must be called
 * before the calling process initialises CUDA (children do the GPU work). */
fpx_status fpx__tune_shape(const fpx__tune_spec *spec, fpx__tune_result *results,
                           fpx_device_info *out_device);

#endif
