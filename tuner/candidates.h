/*
 * candidates.h - the search strategies that choose among the candidate
 * configurations of one problem (the candidates: fpx__gemm_candidates in
 * gen/config.h).
 */
#ifndef FPX_TUNER_CANDIDATES_H
#define FPX_TUNER_CANDIDATES_H

#include <stddef.h>

#include "config.h"
#include "fpx.h"

#define FPX__TUNE_MAX_CANDIDATES 1024


/* Measures one candidate: returns its time in microseconds, or a negative
 * value when the candidate failed (wrong result, fault, launch error). */
typedef double (*fpx__tune_measure)(void *user, const fpx_wo_config *config);

typedef enum fpx__tune_strategy {
  FPX__TUNE_EXHAUSTIVE = 0, /* every candidate */
  FPX__TUNE_STAGED = 1,     /* tiles at one split, then all splits of the best tiles */
} fpx__tune_strategy;

#define FPX__TUNE_STAGED_KEEP 6

/* The staged strategy's plan, for callers that measure in batches: stage 1
 * is, per tile configuration (mma.sync: warps and token tiles; wgmma:
 * tokens and stages), its split-K 1 and the split-K whose grid comes
 * closest to one wave (of warps for mma.sync, of one block per SM for
 * wgmma) for this M x N on sm_count SMs; stage 2 is every other split value
 * of the FPX__TUNE_STAGED_KEEP fastest tile configurations of stage 1
 * (s1_us[i] is the time of candidate s1_idx[i], negative when it failed).
 * Both write candidate indices, return the count. */
size_t fpx__tune_stage1(const fpx_wo_config *cand, size_t count, size_t m, size_t n, int sm_count,
                        size_t *out_idx);
size_t fpx__tune_stage2(const fpx_wo_config *cand, size_t count, const size_t *s1_idx,
                        const double *s1_us, size_t s1_count, size_t *out_idx);
/* Reorders idx[0..n-1] (candidate indices) so that the wgmma candidates
 * (kernel 1) come first, each group in its former order: where fpx_gemm's
 * untuned choice is a wgmma kernel, a time budget that runs out then leaves
 * the slower family's candidates unmeasured rather than the faster's. */
void fpx__tune_wgmma_first(const fpx_wo_config *cand, size_t *idx, size_t n);

typedef struct fpx__tune_outcome {
  fpx_wo_config best;
  double best_us;     /* < 0 when no candidate succeeded */
  size_t measured;    /* candidates measured */
  size_t failed;      /* of which failed */
} fpx__tune_outcome;

/* Runs a strategy over `candidates` with a measure callback; ties go to the
 * earlier measured candidate, so the result is deterministic for a
 * deterministic measure. Not thread-safe (static scratch). Stops measuring
 * new candidates when `budget` (a count, 0 = unlimited) is spent. */
fpx_status fpx__tune_search(fpx__tune_strategy strategy, const fpx_wo_config *candidates,
                            size_t count, size_t m, size_t n, int sm_count,
                            fpx__tune_measure measure, void *user, size_t budget,
                            fpx__tune_outcome *out);

#endif
