/*
 * tune.c - the tuning driver for one weight shape: plans the candidate
 * batches (tuner/candidates.c), runs them in child processes
 * (tuner/sandbox.c), where each candidate is first checked against a CPU
 * double-precision reference on sampled outputs, with the output poisoned
 * and guarded by canary bytes, then timed (tuner/timing.c); picks the
 * winners and stores them in the tuning database (cache/). On sm_90 the
 * candidates include the wgmma family's (fpx__gemm_candidates): the child's
 * fpx__gemm_launch dispatches them like any other.
 *
 * FP8 activations (key x_dtype e4m3 / e5m2): X is the same hashed BF16
 * matrix, quantized per row on the host (fpx_quantize_activations) and
 * uploaded as codes plus per-row scales; the reference requantizes the
 * sampled rows the same way and runs fpx_reference_gemm_qx on them.
 *
 * The calling process never initialises CUDA: a first sandbox run reads the
 * device facts in a child, later runs do the GPU work.
 */
#include "tune.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "cache.h"
#include "context.h"
#include "cuda_api.h"
#include "error.h"
#include "layout.h"
#include "sandbox.h"
#include "timing.h"
#include "workload.h"

#define SAMPLE_ROWS 24   /* output features checked per candidate */
#define SAMPLE_TOKENS 16 /* tokens checked per candidate (all when M is smaller) */
#define GUARD_BYTES 4096 /* canary bytes on each side of the output */
#define GUARD_BYTE 0xA5
#define JOB_TIMEOUT_S 180.0
#define COMPILE_THREADS 16

typedef struct tune_job {
  size_t m_index;
  fpx_wo_config config;
  int baseline; /* fpx_gemm's untuned choice: measured first and again after
                  * stage 1, never skipped */
} tune_job;

/* Shared with the children (MAP_SHARED): what they learn for the parent. */
typedef struct shared_area {
  fpx_device_info info;
  size_t l2_bytes;
  double key_start[]; /* per M: when its first candidate started (budget) */
} shared_area;

/* The reference of one M on the sampled outputs. */
typedef struct reference {
  size_t tokens[SAMPLE_TOKENS], token_count;
  double ref[SAMPLE_TOKENS][SAMPLE_ROWS], mag[SAMPLE_TOKENS][SAMPLE_ROWS];
} reference;

typedef struct tune_state {
  const fpx__tune_spec *spec;
  const tune_job *jobs;
  size_t job_count;
  shared_area *shared;
  /* set up in each child */
  fpx_ctx *ctx;
  const fpx__cu_table *cu;
  CUstream stream;
  fpx__timer timer;
  fpx_weights *weights;
  fpx__host_weights host;
  CUdeviceptr x, x_scales, y_alloc; /* x_scales: FP8 activations only */
  size_t m_max, y_elem;
  size_t rows[SAMPLE_ROWS], row_count;
  uint8_t *row_codes;       /* row_count x k */
  double values[256];       /* decoded codes */
  uint16_t table[65536];    /* activation values */
  reference *refs;          /* per M, computed on first use */
  unsigned char *ref_ready;
  void *y_host;             /* one token row of output */
  unsigned char *guard_host;
  /* FP8 activations: the reference's inputs and outputs */
  int fp8;
  fpx_format x_format;
  uint16_t *q_row;          /* one BF16 row of X (k) */
  uint8_t *q_codes;         /* sampled tokens' codes (SAMPLE_TOKENS x k) */
  float q_scales[SAMPLE_TOKENS];
  float *q_w_scales;        /* sampled rows' weight scales (row_count x groups) */
  uint8_t *q_w_abs;         /* sampled rows' codes with the sign cleared */
  double q_ref[SAMPLE_TOKENS * SAMPLE_ROWS], q_mag[SAMPLE_TOKENS * SAMPLE_ROWS];
} tune_state;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Activation X[m][k]: a table value chosen by a hash of (seed, m, k), so the
 * reference recomputes any element without storing X. */
static uint16_t x_bits(const tune_state *s, size_t m, size_t k) {
  uint64_t z = s->spec->seed ^ ((uint64_t)m * s->spec->k + k) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return s->table[(z ^ (z >> 31)) & 0xFFFF];
}

/* Row `row` of X as BF16 patterns (FP8 activations are quantized from it). */
static void x_row(void *user, size_t row, size_t k, uint16_t *out) {
  const tune_state *s = user;
  for (size_t c = 0; c < k; c++) out[c] = x_bits(s, row, c);
}

static double bits_value(fpx_dtype d, uint16_t b) {
  return d == FPX_DTYPE_F16 ? fpx_f16_to_f32(b) : fpx_bf16_to_f32(b);
}

static fpx_status fill_x(tune_state *s) {
  fpx_status st = FPX_OK;
  const size_t k = s->spec->k, total = s->m_max * k;
  uint16_t *chunk = malloc(FPX__FILL_CHUNK * sizeof *chunk);
  if (chunk == NULL) return fpx__error(FPX_ERR_OUT_OF_MEMORY, "tune: no memory for activations");
  for (size_t done = 0; done < total;) {
    size_t count = total - done < FPX__FILL_CHUNK ? total - done : FPX__FILL_CHUNK;
    for (size_t i = 0; i < count; i++) chunk[i] = x_bits(s, (done + i) / k, (done + i) % k);
    FPX_CU(s->cu, cuMemcpyHtoD(s->x + done * 2, chunk, count * 2));
    done += count;
  }
fail:
  free(chunk);
  return st;
}

/* ---- setup in each child -------------------------------------------------- */

static fpx_status setup_device_only(void *user) {
  tune_state *s = user;
  fpx_status st = FPX_OK;
  fpx_ctx_options opts = {sizeof opts, s->spec->device, "", 0};
  int l2 = 0;
  FPX_TRY(fpx_ctx_create(&opts, &s->ctx));
  FPX_TRY(fpx_ctx_device_info(s->ctx, &s->shared->info));
  FPX_TRY(fpx__cu_get(&s->cu));
  FPX_CU(s->cu, cuDeviceGetAttribute(&l2, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, s->ctx->device));
  s->shared->l2_bytes = (size_t)(l2 > 0 ? l2 : 0);
fail:
  return st;
}

typedef struct compile_work {
  tune_state *s;
  fpx_wo_config *tiles;
  size_t count, next;
  pthread_mutex_t lock;
  fpx_status status;
  char message[512];
} compile_work;

static void *compile_thread(void *arg) {
  compile_work *w = arg;
  for (;;) {
    pthread_mutex_lock(&w->lock);
    size_t i = w->next++;
    pthread_mutex_unlock(&w->lock);
    if (i >= w->count) return NULL;
    fpx_status st = fpx__ctx_prepare_gemm(w->s->ctx, &w->s->spec->key, &w->tiles[i]);
    if (st != FPX_OK) {
      pthread_mutex_lock(&w->lock);
      if (w->status == FPX_OK) {
        w->status = st;
        snprintf(w->message, sizeof w->message, "%s", fpx_last_error());
      }
      pthread_mutex_unlock(&w->lock);
    }
  }
}

/* Compiles every tile configuration of the batch, in parallel threads. */
static fpx_status compile_batch(tune_state *s) {
  fpx_status st = FPX_OK;
  compile_work w = {s, malloc(s->job_count * sizeof(fpx_wo_config)), 0, 0, PTHREAD_MUTEX_INITIALIZER,
                    FPX_OK, ""};
  pthread_t threads[COMPILE_THREADS];
  size_t started = 0;
  if (w.tiles == NULL) return fpx__error(FPX_ERR_OUT_OF_MEMORY, "tune: no memory");
  for (size_t i = 0; i < s->job_count; i++) {
    fpx_wo_config c = s->jobs[i].config;
    c.split_k = 1;
    size_t j = 0;
    while (j < w.count && memcmp(&w.tiles[j], &c, sizeof c) != 0) j++;
    if (j == w.count) w.tiles[w.count++] = c;
  }
  for (; started < COMPILE_THREADS && started < w.count; started++)
    if (pthread_create(&threads[started], NULL, compile_thread, &w) != 0) break;
  if (started == 0) compile_thread(&w);
  for (size_t i = 0; i < started; i++) pthread_join(threads[i], NULL);
  if (w.status != FPX_OK) st = fpx__error(w.status, "%s", w.message);
  free(w.tiles);
  return st;
}

/* The FP8 reference's buffers, and the sampled rows' weight scales and
 * sign-free codes (for the magnitudes). */
static fpx_status setup_fp8_reference(tune_state *s, const fpx_format_info *info) {
  const fpx__tune_spec *spec = s->spec;
  const size_t k = spec->k, g = (size_t)spec->key.group_size;
  const size_t groups = g ? (k + g - 1) / g : 1;
  const uint8_t sign = (uint8_t)(1u << (info->bits - 1));
  s->q_row = malloc(k * sizeof *s->q_row);
  s->q_codes = malloc(SAMPLE_TOKENS * k);
  s->q_w_scales = malloc(s->row_count * groups * sizeof *s->q_w_scales);
  s->q_w_abs = malloc(s->row_count * k);
  if (!s->q_row || !s->q_codes || !s->q_w_scales || !s->q_w_abs)
    return fpx__error(FPX_ERR_OUT_OF_MEMORY, "tune: no host memory for the FP8 reference");
  for (size_t i = 0; i < s->row_count; i++)
    memcpy(s->q_w_scales + i * groups, s->host.scales + s->rows[i] * groups, groups * sizeof(float));
  for (size_t i = 0; i < s->row_count * k; i++) s->q_w_abs[i] = (uint8_t)(s->row_codes[i] & ~sign);
  return FPX_OK;
}

static fpx_status setup(void *user) {
  tune_state *s = user;
  const fpx__tune_spec *spec = s->spec;
  fpx_status st = FPX_OK;
  fpx__rng rng = {spec->seed};
  size_t bytes = 0;
  fpx_ctx_options opts = {sizeof opts, spec->device, spec->db_path, 0};
  FPX_TRY(fpx_ctx_create(&opts, &s->ctx));
  FPX_TRY(fpx__cu_get(&s->cu));
  FPX_CU(s->cu, cuStreamCreate(&s->stream, CU_STREAM_NON_BLOCKING));
  FPX_TRY(fpx__timer_create(s->cu, s->stream, s->shared->l2_bytes, &s->timer));
  FPX_TRY(fpx__random_weights(s->ctx, spec->key.format, spec->key.group_size, spec->n, spec->k, &rng,
                              &s->host, &s->weights, &bytes));
  for (size_t i = 0; i < spec->m_count; i++)
    if (spec->ms[i] > s->m_max) s->m_max = spec->ms[i];
  s->y_elem = spec->key.y_dtype == FPX_DTYPE_F32 ? 4 : 2;
  s->x_format = fpx__act_format(spec->key.x_dtype);
  s->fp8 = s->x_format.exp_bits != 0;
  fpx__value_table(s->fp8 ? FPX_DTYPE_BF16 : spec->key.x_dtype, s->table);
  FPX_CU(s->cu, cuMemAlloc(&s->x, s->m_max * spec->k * (s->fp8 ? 1 : 2)));
  FPX_CU(s->cu, cuMemAlloc(&s->y_alloc, 2 * GUARD_BYTES + s->m_max * spec->n * s->y_elem));
  if (s->fp8) {
    FPX_CU(s->cu, cuMemAlloc(&s->x_scales, s->m_max * sizeof(float)));
    FPX_TRY(fpx__upload_fp8_activations(s->cu, spec->key.x_dtype, s->m_max, spec->k, x_row, s, s->x,
                                        s->x_scales, NULL));
  } else {
    FPX_TRY(fill_x(s));
  }
  /* sampled rows, spread over N, decoded from the host copy */
  s->row_count = spec->n < SAMPLE_ROWS ? spec->n : SAMPLE_ROWS;
  s->row_codes = malloc(s->row_count * spec->k);
  s->refs = calloc(spec->m_count, sizeof *s->refs);
  s->ref_ready = calloc(spec->m_count, 1);
  s->y_host = malloc(spec->n * s->y_elem);
  s->guard_host = malloc(GUARD_BYTES);
  if (!s->row_codes || !s->refs || !s->ref_ready || !s->y_host || !s->guard_host) {
    st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "tune: no host memory for the checks");
    goto fail;
  }
  for (size_t i = 0; i < s->row_count; i++) {
    s->rows[i] = s->row_count == 1 ? 0 : i * (spec->n - 1) / (s->row_count - 1);
    FPX_TRY(fpx__tiled_row_codes(spec->key.format, s->host.tiled, spec->n, spec->k, s->rows[i],
                                 s->row_codes + i * spec->k));
  }
  fpx_format_info info;
  FPX_TRY(fpx_format_get_info(spec->key.format, &info));
  if (s->fp8) FPX_TRY(setup_fp8_reference(s, &info));
  for (int c = 0; c < info.num_codes; c++) FPX_TRY(fpx_decode_value(spec->key.format, (unsigned)c, &s->values[c]));
  FPX_TRY(compile_batch(s));
fail:
  return st; /* the child exits after its jobs: no cleanup needed */
}

/* ---- checking one candidate ----------------------------------------------- */

/* The FP8 reference of r's tokens: each sampled X row requantized on the
 * host exactly as it was for the upload, then fpx_reference_gemm_qx on the
 * sampled weight rows; the magnitudes (sum |x w|) are the same product with
 * every sign bit cleared. */
static fpx_status fp8_reference(tune_state *s, reference *r) {
  const fpx__tune_spec *spec = s->spec;
  const size_t k = spec->k, tokens = r->token_count, rows = s->row_count;
  const fpx_act_quant_params params = {sizeof params, FPX_ACT_SCALE_PER_ROW, 0, 0, s->x_format};
  fpx_status st = FPX_OK;
  for (size_t t = 0; t < tokens; t++) {
    x_row(s, r->tokens[t], k, s->q_row);
    FPX_TRY(fpx_quantize_activations(&params, FPX_DTYPE_BF16, s->q_row, 1, k, s->q_codes + t * k, &s->q_scales[t]));
  }
  FPX_TRY(fpx_reference_gemm_qx(s->x_format, s->q_codes, s->q_scales, 0, spec->key.format, s->row_codes,
                                s->q_w_scales, spec->key.group_size, tokens, rows, k, s->q_ref));
  for (size_t i = 0; i < tokens * k; i++) s->q_codes[i] &= 0x7F; /* FP8 sign bit */
  FPX_TRY(fpx_reference_gemm_qx(s->x_format, s->q_codes, s->q_scales, 0, spec->key.format, s->q_w_abs,
                                s->q_w_scales, spec->key.group_size, tokens, rows, k, s->q_mag));
  for (size_t t = 0; t < tokens; t++)
    for (size_t i = 0; i < rows; i++) {
      r->ref[t][i] = s->q_ref[t * rows + i];
      r->mag[t][i] = s->q_mag[t * rows + i];
    }
fail:
  return st;
}

/* The reference of one M on the sampled outputs, computed on first use. */
static fpx_status get_reference(tune_state *s, size_t mi, const reference **out) {
  fpx_status st = FPX_OK;
  reference *r = &s->refs[mi];
  *out = r;
  if (s->ref_ready[mi]) return FPX_OK;
  const fpx__tune_spec *spec = s->spec;
  const size_t m = spec->ms[mi], k = spec->k;
  const int g = spec->key.group_size;
  const size_t span = g ? (size_t)g : k, groups = (k + span - 1) / span;
  r->token_count = 0;
  for (size_t t = 0; t < m && r->token_count < SAMPLE_TOKENS; t++) {
    /* the first and the last tokens */
    size_t token = t < SAMPLE_TOKENS / 2 || m <= SAMPLE_TOKENS ? t : m - (SAMPLE_TOKENS - r->token_count);
    r->tokens[r->token_count++] = token;
  }
  if (s->fp8) {
    FPX_TRY(fp8_reference(s, r));
    s->ref_ready[mi] = 1;
    return FPX_OK;
  }
  for (size_t t = 0; t < r->token_count; t++)
    for (size_t i = 0; i < s->row_count; i++) {
      double acc = 0, mag = 0;
      const uint8_t *codes = s->row_codes + i * k;
      const float *scales = s->host.scales + s->rows[i] * groups;
      for (size_t c = 0; c < k; c++) {
        double x = bits_value(spec->key.x_dtype, x_bits(s, r->tokens[t], c));
        double w = s->values[codes[c]] * (double)scales[c / span];
        acc += x * w;
        mag += fabs(x * w);
      }
      r->ref[t][i] = acc;
      r->mag[t][i] = mag;
    }
  s->ref_ready[mi] = 1;
fail:
  return st;
}

static double load_y(fpx_dtype d, const void *buf, size_t i) {
  if (d == FPX_DTYPE_F32) return ((const float *)buf)[i];
  return bits_value(d, ((const uint16_t *)buf)[i]);
}


/* Runs the candidate once on poisoned output and checks it: guards intact,
 * sampled outputs within tolerance. Returns the worst error / tolerance
 * (> 1 fails; +inf for NaN or a damaged guard). */
static double check(tune_state *s, size_t mi, fpx__gemm_call *call, fpx_status *out_st) {
  const fpx__tune_spec *spec = s->spec;
  const size_t m = spec->ms[mi], n = spec->n, out_bytes = m * n * s->y_elem;
  const CUdeviceptr y = s->y_alloc + GUARD_BYTES;
  fpx_status st = FPX_OK;
  double worst = 0;
  FPX_CU(s->cu, cuMemsetD8Async(s->y_alloc, GUARD_BYTE, GUARD_BYTES, s->stream));
  FPX_CU(s->cu, cuMemsetD8Async(y, 0xFF, out_bytes, s->stream)); /* NaN in every dtype */
  FPX_CU(s->cu, cuMemsetD8Async(y + out_bytes, GUARD_BYTE, GUARD_BYTES, s->stream));
  FPX_TRY(fpx__timed_gemm(call, s->stream));
  FPX_CU(s->cu, cuStreamSynchronize(s->stream));
  for (int side = 0; side < 2; side++) {
    FPX_CU(s->cu, cuMemcpyDtoH(s->guard_host, side ? y + out_bytes : s->y_alloc, GUARD_BYTES));
    for (size_t i = 0; i < GUARD_BYTES; i++)
      if (s->guard_host[i] != GUARD_BYTE) return INFINITY; /* wrote out of bounds */
  }
  const reference *r;
  FPX_TRY(get_reference(s, mi, &r));
  /* FP32 accumulation and the output rounding. With FP8 activations the
   * products (FP8 x eXmY, at most 4 + 4 significand bits) are exact in FP32
   * as BF16 x eXmY ones are, so the same bound holds. */
  const double u_out = spec->key.y_dtype == FPX_DTYPE_F32   ? ldexp(1, -24)
                       : spec->key.y_dtype == FPX_DTYPE_F16 ? ldexp(1, -11)
                                                            : ldexp(1, -8);
  for (size_t t = 0; t < r->token_count; t++) {
    FPX_CU(s->cu, cuMemcpyDtoH(s->y_host, y + r->tokens[t] * n * s->y_elem, n * s->y_elem));
    for (size_t j = 0; j < n; j++)
      if (isnan(load_y(spec->key.y_dtype, s->y_host, j))) return INFINITY; /* never written */
    for (size_t i = 0; i < s->row_count; i++) {
      const double got = load_y(spec->key.y_dtype, s->y_host, s->rows[i]);
      const double tol = u_out * fabs(r->ref[t][i]) +
                         ((double)spec->k * ldexp(1, -22) + ldexp(1, -16)) * r->mag[t][i] + 1e-30;
      const double e = fabs(got - r->ref[t][i]) / tol;
      if (!(e <= worst)) worst = e; /* NaN propagates */
    }
  }
  return worst;
fail:
  *out_st = st;
  return INFINITY;
}

/* Job results: 0 measured, 1 failed its check or launch, 2 skipped (budget). */
static int job(void *user, size_t index, double *out_value, double *out_aux) {
  tune_state *s = user;
  const tune_job *j = &s->jobs[index];
  const fpx__tune_spec *spec = s->spec;
  const double t0 = now_s();
  fpx_status st = FPX_OK;
  if (s->shared->key_start[j->m_index] == 0) s->shared->key_start[j->m_index] = t0;
  if (!j->baseline && spec->budget_s > 0 && t0 - s->shared->key_start[j->m_index] > spec->budget_s)
    return 2;
  fpx__gemm_call call = {s->ctx,
                    {sizeof(fpx_gemm_args), s->weights, spec->key.x_dtype, spec->key.y_dtype,
                     spec->ms[j->m_index], s->x, s->y_alloc + GUARD_BYTES, &j->config, s->x_scales, 0}};
  const double err = check(s, j->m_index, &call, &st);
  *out_aux = err;
  if (st != FPX_OK || !(err <= 1.0)) return 1;
  if (fpx__timer_median_us(&s->timer, fpx__timed_gemm, &call, 2, spec->reps, out_value) != FPX_OK) return 1;
  return 0;
}

static int noop_job(void *user, size_t index, double *out_value, double *out_aux) {
  (void)user;
  (void)index;
  (void)out_value;
  (void)out_aux;
  return 0;
}

/* ---- the parent: plan, run, pick, store ----------------------------------- */

static fpx_status run_batch(tune_state *s, const tune_job *jobs, size_t count, fpx__sandbox_result *res) {
  s->jobs = jobs;
  s->job_count = count;
  if (count == 0) return FPX_OK;
  return fpx__sandbox_run(setup, job, s, count, JOB_TIMEOUT_S, res);
}

static void checksum_hex(const fpx_wo_config *c, size_t count, char out[40]) {
  uint64_t h = fpx__hash64(c, count * sizeof *c, 0);
  snprintf(out, 40, "%016llx", (unsigned long long)h);
}

static void tally(fpx__tune_result *r, const tune_job *j, const fpx__sandbox_result *res) {
  r->measured++;
  if (res->state == FPX__JOB_OK) {
    if (r->best_us <= 0 || res->value < r->best_us) {
      r->best_us = res->value;
      r->best = j->config;
      r->best_error = res->aux;
    }
    /* the untuned choice is timed twice; the faster time counts (its first
     * run, a key's first, follows the reference's CPU work with the GPU
     * idle, and at large M came out up to 1.16x slower than the same
     * configuration timed later) */
    const int untuned = fpx__wo_config_equal(&j->config, &r->heuristic);
    if (untuned && (r->heuristic_us < 0 || res->value < r->heuristic_us)) r->heuristic_us = res->value;
  } else if (res->state == FPX__JOB_FAILED && res->code == 2) {
    r->measured--;
    r->skipped++;
  } else if (res->state == FPX__JOB_CRASHED || res->state == FPX__JOB_TIMEOUT) {
    r->crashed++;
  } else {
    r->failed++;
  }
}

static fpx_status store(const fpx__tune_spec *spec, const fpx_device_info *info,
                        fpx__tune_result *results, fpx_wo_config **cands, size_t *cand_counts) {
  fpx_status st = FPX_OK;
  fpx__cache *db = NULL;
  if (spec->db_path != NULL && spec->db_path[0] == '\0') return FPX_OK;
  FPX_TRY(fpx__cache_open(spec->db_path, 0, &db));
  for (size_t i = 0; i < spec->m_count; i++) {
    fpx__tune_result *r = &results[i];
    if (r->best_us <= 0) continue;
    fpx__cache_winner w;
    memset(&w, 0, sizeof w);
    fpx__cache_key_for(info, &spec->key, spec->n, spec->k, r->m_bucket, &w.key);
    w.config = r->best;
    w.time_us = r->best_us;
    w.check_tolerance = 1.0; /* errors are stored as a fraction of the tolerance */
    w.check_error = r->best_error;
    w.tuned_at = (int64_t)time(NULL);
    checksum_hex(cands[i], cand_counts[i], w.candidates_checksum);
    FPX_TRY(fpx__cache_put_winner(db, &w));
    r->stored = 1;
  }
fail:
  fpx__cache_close(db);
  return st;
}

/* 90 for "sm_90a", 89 for "sm_89", ...; 0 when unreadable. */
static int arch_sm_version(const char *arch) {
  if (strncmp(arch, "sm_", 3) != 0) return 0;
  return atoi(arch + 3);
}

fpx_status fpx__tune_shape(const fpx__tune_spec *spec, fpx__tune_result *results,
                           fpx_device_info *out_device) {
  fpx_status st = FPX_OK;
  tune_state *s = NULL;
  fpx_wo_config **cands = NULL;
  size_t *cand_counts = NULL, *idx = NULL;
  tune_job *jobs = NULL;
  fpx__sandbox_result *res = NULL;
  double *s1_us = NULL;
  size_t shared_bytes = 0;
  if (spec == NULL || results == NULL || spec->ms == NULL || spec->m_count == 0)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "tune: nothing to tune");
  FPX_TRY(fpx__wo_key_check(&spec->key));
  if (spec->n == 0 || spec->k == 0 || spec->k % 8 != 0)
    return fpx__error(FPX_ERR_UNSUPPORTED_SHAPE, "tune: shape N=%zu K=%zu (need N >= 1, K a multiple of 8)",
                      spec->n, spec->k);
  if (spec->reps < 1) return fpx__error(FPX_ERR_INVALID_ARGUMENT, "tune: reps %d < 1", spec->reps);
  for (size_t i = 0; i < spec->m_count; i++)
    if (spec->ms[i] == 0) return fpx__error(FPX_ERR_INVALID_ARGUMENT, "tune: M value %zu is 0", i);
  memset(results, 0, spec->m_count * sizeof *results);

  s = calloc(1, sizeof *s);
  shared_bytes = sizeof(shared_area) + spec->m_count * sizeof(double);
  void *area = mmap(NULL, shared_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  cands = calloc(spec->m_count, sizeof *cands);
  cand_counts = calloc(spec->m_count, sizeof *cand_counts);
  if (s == NULL || area == MAP_FAILED || cands == NULL || cand_counts == NULL) {
    if (area != MAP_FAILED) munmap(area, shared_bytes);
    shared_bytes = 0;
    st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "tune: no memory");
    goto fail;
  }
  memset(area, 0, shared_bytes);
  s->spec = spec;
  s->shared = area;

  /* the device facts, read in a child */
  fpx__sandbox_result probe;
  FPX_TRY(fpx__sandbox_run(setup_device_only, noop_job, s, 1, JOB_TIMEOUT_S, &probe));
  if (out_device != NULL) *out_device = s->shared->info;

  /* batch 1: stage 1 (or everything) plus the heuristic's choice, per M */
  const int sm = arch_sm_version(s->shared->info.arch);
  size_t total = 0;
  for (size_t i = 0; i < spec->m_count; i++) {
    cands[i] = malloc(FPX__TUNE_MAX_CANDIDATES * sizeof **cands);
    if (cands[i] == NULL) {
      st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "tune: no memory");
      goto fail;
    }
    cand_counts[i] = fpx__gemm_candidates(&spec->key, spec->ms[i], spec->n, spec->k,
                                          s->shared->info.sm_count, sm, cands[i],
                                          FPX__TUNE_MAX_CANDIDATES);
    total += cand_counts[i] + 2;
    results[i].m = spec->ms[i];
    results[i].m_bucket = fpx__cache_m_bucket(spec->ms[i]);
    results[i].candidates = cand_counts[i];
    results[i].heuristic_us = -1;
    /* what fpx_gemm runs untuned: the heuristic, or the automatic wgmma choice */
    fpx__wo_config_default(spec->ms[i], spec->n, spec->k, s->shared->info.sm_count, &results[i].heuristic);
    fpx__wgmma_auto_config(sm, s->shared->info.sm_count, &spec->key, spec->ms[i], spec->n, spec->k,
                           &results[i].heuristic);
  }
  jobs = malloc(total * sizeof *jobs);
  res = calloc(total, sizeof *res);
  idx = malloc(FPX__TUNE_MAX_CANDIDATES * sizeof *idx);
  s1_us = malloc(FPX__TUNE_MAX_CANDIDATES * sizeof *s1_us);
  size_t *s1_idx = malloc(spec->m_count * FPX__TUNE_MAX_CANDIDATES * sizeof *s1_idx);
  size_t *s1_count = calloc(spec->m_count, sizeof *s1_count), *s1_first = calloc(spec->m_count, sizeof *s1_first);
  if (!jobs || !res || !idx || !s1_us || !s1_idx || !s1_count || !s1_first) {
    free(s1_idx);
    free(s1_count);
    free(s1_first);
    st = fpx__error(FPX_ERR_OUT_OF_MEMORY, "tune: no memory");
    goto fail;
  }
  size_t count = 0;
  for (size_t i = 0; i < spec->m_count; i++) {
    size_t n1 = spec->strategy == FPX__TUNE_STAGED ? fpx__tune_stage1(cands[i], cand_counts[i], spec->ms[i], spec->n,
                                                                      s->shared->info.sm_count,
                                                                      s1_idx + i * FPX__TUNE_MAX_CANDIDATES)
                                                   : cand_counts[i];
    /* the untuned choice first: a key whose budget runs out still has it,
     * so a stored winner is never slower than what fpx_gemm runs untuned */
    jobs[count++] = (tune_job){i, results[i].heuristic, 1};
    if (results[i].heuristic.kernel == 1 && spec->strategy == FPX__TUNE_STAGED)
      fpx__tune_wgmma_first(cands[i], s1_idx + i * FPX__TUNE_MAX_CANDIDATES, n1);
    s1_first[i] = count;
    s1_count[i] = n1;
    for (size_t q = 0; q < n1; q++) {
      size_t c = spec->strategy == FPX__TUNE_STAGED ? s1_idx[i * FPX__TUNE_MAX_CANDIDATES + q] : q;
      jobs[count++] = (tune_job){i, cands[i][c], 0};
    }
    /* and again with the GPU busy: the winner and the gain compare it with
     * the stage's candidates on equal terms */
    jobs[count++] = (tune_job){i, results[i].heuristic, 1};
  }
  st = run_batch(s, jobs, count, res);
  for (size_t q = 0; q < count; q++) tally(&results[jobs[q].m_index], &jobs[q], &res[q]);
  if (st == FPX_OK && spec->strategy == FPX__TUNE_STAGED) {
    /* batch 2: every split of the fastest tiles of stage 1 */
    size_t count2 = 0;
    for (size_t i = 0; i < spec->m_count; i++) {
      for (size_t q = 0; q < s1_count[i]; q++) {
        const fpx__sandbox_result *r = &res[s1_first[i] + q];
        s1_us[q] = r->state == FPX__JOB_OK ? r->value : -1.0;
      }
      size_t n2 = fpx__tune_stage2(cands[i], cand_counts[i], s1_idx + i * FPX__TUNE_MAX_CANDIDATES, s1_us,
                                   s1_count[i], idx);
      for (size_t q = 0; q < n2; q++) jobs[count2++] = (tune_job){i, cands[i][idx[q]], 0};
    }
    memset(res, 0, total * sizeof *res);
    st = run_batch(s, jobs, count2, res);
    for (size_t q = 0; q < count2; q++) tally(&results[jobs[q].m_index], &jobs[q], &res[q]);
  }
  free(s1_idx);
  free(s1_count);
  free(s1_first);
  if (st != FPX_OK) goto fail;
  FPX_TRY(store(spec, &s->shared->info, results, cands, cand_counts));
fail:
  if (cands != NULL)
    for (size_t i = 0; i < spec->m_count; i++) free(cands[i]);
  free(cands);
  free(cand_counts);
  free(jobs);
  free(res);
  free(idx);
  free(s1_us);
  if (shared_bytes) munmap(s->shared, shared_bytes);
  free(s);
  return st;
}
