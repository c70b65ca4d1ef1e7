/*
 * cli_bench_wgmma.h - the Hopper wgmma GEMM family inside `fpx-tune bench`
 * (option --wgmma): the list of configurations to time, the timed call
 * through the internal launcher, and the check of its output against
 * fpx_gemm's on the same inputs (see cli_bench_wgmma.c).
 */
#ifndef FPX_TUNER_CLI_BENCH_WGMMA_H
#define FPX_TUNER_CLI_BENCH_WGMMA_H

#include <stddef.h>

#include "context.h"
#include "cuda_api.h"
#include "fpx.h"
#include "timing.h"
#include "wgmma_config.h"

enum { CLI_MAX_WGMMA = 8 };

/* Largest max|wgmma - fpx_gemm| / max|fpx_gemm| a check accepts (f16 and
 * bf16 outputs: a few units in the last place of the largest outputs, far
 * below what a wrong tile or a missed K step gives). */
#define CLI_WGMMA_TOLERANCE 2e-2

/* --wgmma LIST: the configurations, in the order given. */
typedef struct cli_wgmma_list {
  fpx__wgmma_config configs[CLI_MAX_WGMMA];
  size_t count;
} cli_wgmma_list;

/* Parses LIST, comma-separated TOKENS/STAGES items ("128/4,256/4"), into
 * *out. Every item must be well formed, distinct, and valid for some key
 * (tokens 64, 128 or 256, stages 2..8, the ring within the shared memory of
 * an sm_90 block); rules that depend on the key (group scales need tokens
 * <= 128) are left to the run. On error prints a usage message naming cmd
 * and the bad item, and returns CLI_EXIT_USAGE; else CLI_EXIT_OK. */
int cli_wgmma_parse(const char *cmd, const char *list, cli_wgmma_list *out);

/* valid[c] = whether `key` allows list->configs[c] (fpx__wgmma_key_check,
 * fpx__wgmma_config_check). When note_cmd is not NULL, prints a note on
 * stderr for each configuration left out, naming the rule. */
void cli_wgmma_valid(const cli_wgmma_list *list, const fpx__wo_key *key, const char *note_cmd,
                     int valid[CLI_MAX_WGMMA]);

/* The config column of the bench rows: fpx__wo_config_text of the
 * configuration ("wgmma:TOKENS/STAGES[/SPLIT_K or /sk]"). */
void cli_wgmma_label(const fpx__wgmma_config *config, char *buf, size_t size);

/* One launch of the family in the shape fpx__timer_median_us takes: pass a
 * cli_wgmma_call as `arg` and cli_wgmma_timed as `call`. Makes the context
 * current first (as fpx_gemm does on every call). */
typedef struct cli_wgmma_call {
  fpx_ctx *ctx;
  fpx__wo_key key;
  fpx__wgmma_config config;
  fpx_gemm_args args;
} cli_wgmma_call;
fpx_status cli_wgmma_timed(void *arg, CUstream stream);

/* The result of comparing two outputs of `count` elements. */
typedef struct cli_wgmma_check {
  int ok;              /* within CLI_WGMMA_TOLERANCE, every element finite */
  double max_diff;     /* max |got - ref| over the finite pairs */
  double max_ref;      /* max |ref| */
  double rel_diff;     /* max_diff / max_ref (max_diff when max_ref is 0) */
  size_t worst;        /* index of max_diff */
  size_t got_nonfinite; /* elements of got that are NaN or Inf (unwritten:
                           the output is poisoned with NaN first) */
  size_t ref_nonfinite;
} cli_wgmma_check;

/* Compares got with ref, both `count` elements of dtype (f16, bf16 or
 * f32): ok when no element is NaN or Inf and max|got - ref| <= tolerance *
 * max|ref|. */
void cli_wgmma_compare(fpx_dtype dtype, const void *ref, const void *got, size_t count,
                       double tolerance, cli_wgmma_check *out);

/* What measuring one configuration at one point gave. */
typedef struct cli_wgmma_result {
  fpx_status status;     /* FPX_OK, or why the launch or the timing failed */
  const char *stage;     /* "launch" or "timing": where status comes from */
  int compared;          /* the launch ran and `check` holds the comparison */
  cli_wgmma_check check;
  double us;             /* median microseconds; 0 when status != FPX_OK */
} cli_wgmma_result;

/* Measures call->config on call->args, whose y is an output of the
 * caller's for this kernel alone (m x N elements of y_dtype): poisons y
 * with NaN, launches once, copies y into `got` (host, m x N elements) and
 * compares it with `ref` (host: fpx_gemm's output of the same inputs) with
 * CLI_WGMMA_TOLERANCE; then times the call on timer's stream (warmups,
 * reps, the benchmark method), whatever the comparison said. A launch or
 * timing that fails is reported in *out, not returned: the returned status
 * is that of the driver calls around them (memset, synchronisation, copy),
 * after which the stream cannot be trusted. */
fpx_status cli_wgmma_measure(fpx__timer *timer, cli_wgmma_call *call, const void *ref, void *got,
                             int warmups, int reps, cli_wgmma_result *out);

#endif
