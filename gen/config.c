/*
 * config.c - the weight-only family's configuration space and heuristic,
 * and the turning of a configuration into a template instance.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "format.h"
#include "wgmma_config.h"

/* The template's dtype codes: activations 0 f16, 1 bf16, 2 e4m3, 3 e5m2;
 * outputs 0 f16, 1 bf16, 2 f32. */
static int dtype_code(fpx_dtype d) {
  switch (d) {
    case FPX_DTYPE_F16: return 0;
    case FPX_DTYPE_BF16: return 1;
    case FPX_DTYPE_E4M3: return 2;
    case FPX_DTYPE_E5M2: return 3;
    default: return 2; /* f32 output */
  }
}

int fpx__wo_fp8_convertible(fpx_format f) {
  /* E = 5 with M < 2 would put its top binade on E5M2's Inf/NaN codes */
  return (f.exp_bits <= 4 && f.man_bits <= 3) || (f.exp_bits == 5 && f.man_bits == 2);
}

fpx_status fpx__wo_key_check(const fpx__wo_key *key) {
  const fpx__format_traits *t;
  fpx_status st = FPX_OK;
  FPX_TRY(fpx__format_lookup(key->format, "fpx_gemm", &t));
  if (key->x_dtype != FPX_DTYPE_F16 && key->x_dtype != FPX_DTYPE_BF16 &&
      key->x_dtype != FPX_DTYPE_E4M3 && key->x_dtype != FPX_DTYPE_E5M2)
    return fpx_dtype_name(key->x_dtype)
               ? fpx__error(FPX_ERR_INVALID_ARGUMENT,
                            "fpx_gemm: x_dtype %s is not supported (use f16, bf16, e4m3 or e5m2)",
                            fpx_dtype_name(key->x_dtype))
               : fpx__error(FPX_ERR_INVALID_ARGUMENT,
                            "fpx_gemm: x_dtype %d is not a dtype (use f16, bf16, e4m3 or e5m2)",
                            (int)key->x_dtype);
  if ((key->x_dtype == FPX_DTYPE_E4M3 || key->x_dtype == FPX_DTYPE_E5M2) &&
      !fpx__wo_fp8_convertible(key->format))
    return fpx__error(FPX_ERR_UNSUPPORTED_FORMAT,
                      "fpx_gemm: format %s cannot run with FP8 activations (only formats "
                      "with E <= 4 and M <= 3, which convert exactly to E4M3, and e5m2 can)",
                      t->info.name);
  if (key->y_dtype != FPX_DTYPE_F16 && key->y_dtype != FPX_DTYPE_BF16 &&
      key->y_dtype != FPX_DTYPE_F32)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_gemm: y_dtype %d is not f16, bf16 or f32",
                      (int)key->y_dtype);
  if (key->x_dtype == FPX_DTYPE_F16 && t->info.format.exp_bits == 5 && !t->info.has_inf)
    return fpx__error(FPX_ERR_UNSUPPORTED_FORMAT,
                      "fpx_gemm: format %s needs bf16 activations (its largest values "
                      "exceed the f16 range)",
                      t->info.name);
  if (key->group_size != 0 && key->group_size != 32 && key->group_size != 64 &&
      key->group_size != 128 && key->group_size != 256)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "fpx_gemm: group_size %d is not supported",
                      key->group_size);
fail:
  return st;
}

fpx_status fpx__wo_config_check(const fpx_wo_config *c) {
  if (c == NULL) return fpx__error(FPX_ERR_INVALID_ARGUMENT, "config is NULL");
  if (c->kernel != 0 && c->kernel != 1)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "config kernel %d is not 0 (mma.sync) or 1 (wgmma)",
                      c->kernel);
  if (c->kernel == 1) {
    const fpx__wgmma_config w = fpx__wgmma_config_of(c);
    return fpx__wgmma_config_check(NULL, &w); /* the key's rules apply at launch */
  }
  if (c->warps_n != 1 && c->warps_n != 2 && c->warps_n != 4 && c->warps_n != 8)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "config warps_n %d is not 1, 2, 4 or 8", c->warps_n);
  if (c->warps_k != 1 && c->warps_k != 2 && c->warps_k != 4)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "config warps_k %d is not 1, 2 or 4", c->warps_k);
  if (c->m_tiles != 1 && c->m_tiles != 2 && c->m_tiles != 4 && c->m_tiles != 8)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "config m_tiles %d is not 1, 2, 4 or 8", c->m_tiles);
  if (c->split_k < 1 || c->split_k > 64)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT, "config split_k %d is outside 1..64", c->split_k);
  if (c->warps_n * c->warps_k > 16)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT,
                      "config warps_n * warps_k = %d exceeds 16 warps per block",
                      c->warps_n * c->warps_k);
  /* the K-warp reduction buffer is static shared memory: at most 48 KB */
  if ((c->warps_k - 1) * c->warps_n * c->m_tiles * 512 > 47 * 1024)
    return fpx__error(FPX_ERR_INVALID_ARGUMENT,
                      "config (warps_k-1)*warps_n*m_tiles*512 = %d bytes of shared memory "
                      "exceeds 47 KB",
                      (c->warps_k - 1) * c->warps_n * c->m_tiles * 512);
  return FPX_OK;
}

void fpx__wo_config_default(size_t m, size_t n, size_t k, int sm_count,
                            fpx_wo_config *out) {
  memset(out, 0, sizeof *out);
  const size_t n_tiles = (n + 15) / 16, k_blocks = (k + 255) / 256;
  /* up to 32 tokens: one 16-row tile per block, its K split over 4 warps
   * (what tuning picks most at M <= 32 on the H100, cache/shipped/);
   * beyond, 4 tiles per block. Token tiles per block: one up to 8 tokens,
   * two up to 16 (a block reads its weights once for all its tokens, and
   * both prefetch their activations where the registers allow: at M = 16,
   * 1/4/2 ran e3m2 1.28x, e2m1 1.58x, e4m3 1.35x of cuBLAS on the H200
   * against 1.16x, 1.37x, 1.08x for the tuned one-tile winners of the time,
   * NOTES-PERF.md), then 4 and 8 */
  out->warps_n = m <= 32 ? 1 : 4;
  out->warps_k = m <= 32 && k_blocks >= 4 ? 4 : 1;
  out->m_tiles = m <= 8 ? 1 : m <= 16 ? 2 : m <= 32 ? 4 : 8;
  const size_t m_blocks = (m + 8 * (size_t)out->m_tiles - 1) / (8 * (size_t)out->m_tiles);
  const size_t warps = (n_tiles + (size_t)out->warps_n - 1) / (size_t)out->warps_n * m_blocks *
                       (size_t)out->warps_k;
  /* split K until about 8 warps per SM (with 16, K was split where the
   * H200 sweep's M <= 8 winners kept it whole) */
  const size_t target = (size_t)(sm_count > 0 ? sm_count : 132) * 8;
  size_t split = warps >= target ? 1 : (target + warps - 1) / warps;
  /* each K warp of each split keeps at least two column blocks */
  size_t max_split = k_blocks / (2 * (size_t)out->warps_k);
  if (max_split < 1) max_split = 1;
  if (split > max_split) split = max_split;
  if (split > 16) split = 16;
  out->split_k = (int)split;
}

size_t fpx__wo_config_space(fpx_wo_config *out, size_t max) {
  static const int wn[] = {1, 2, 4, 8}, wk[] = {1, 2, 4}, mt[] = {1, 2, 4, 8};
  size_t count = 0;
  for (size_t a = 0; a < 4; a++)
    for (size_t b = 0; b < 3; b++)
      for (size_t c = 0; c < 4; c++) {
        fpx_wo_config cfg = {.warps_n = wn[a], .warps_k = wk[b], .m_tiles = mt[c], .split_k = 1};
        if (fpx__wo_config_check(&cfg) != FPX_OK) continue;
        if (count < max) out[count] = cfg;
        count++;
      }
  fpx__error_clear();
  return count;
}

void fpx__wo_config_text(const fpx_wo_config *c, char *out, size_t size) {
  if (c->kernel == 1 && c->split_k == FPX_SPLIT_K_STREAM)
    snprintf(out, size, "wgmma:%d/%d/sk", c->tokens, c->stages);
  else if (c->kernel == 1 && c->split_k <= 1)
    snprintf(out, size, "wgmma:%d/%d", c->tokens, c->stages);
  else if (c->kernel == 1)
    snprintf(out, size, "wgmma:%d/%d/%d", c->tokens, c->stages, c->split_k);
  else
    snprintf(out, size, "%d/%d/%d/%d", c->warps_n, c->warps_k, c->m_tiles, c->split_k);
}

int fpx__wo_config_equal(const fpx_wo_config *a, const fpx_wo_config *b) {
  if (a->kernel != b->kernel) return 0;
  if (a->kernel == 1) {
    const fpx__wgmma_config wa = fpx__wgmma_config_of(a), wb = fpx__wgmma_config_of(b);
    return wa.tokens == wb.tokens && wa.stages == wb.stages && wa.split_k == wb.split_k;
  }
  return a->warps_n == b->warps_n && a->warps_k == b->warps_k && a->m_tiles == b->m_tiles &&
         a->split_k == b->split_k;
}

void fpx__wo_gemm_name(const fpx__wo_key *key, const fpx_wo_config *c,
                       char out[FPX__NAME_EXPR_MAX]) {
  if (c->kernel == 1) {
    const fpx__wgmma_config w = fpx__wgmma_config_of(c);
    fpx__wgmma_gemm_name(key, &w, out);
    return;
  }
  snprintf(out, FPX__NAME_EXPR_MAX, "fpx::weight_only_gemm<%d,%d,%d,%d,%d,%d,%d,%d>",
           key->format.exp_bits, key->format.man_bits, dtype_code(key->x_dtype),
           dtype_code(key->y_dtype), key->group_size, c->warps_n, c->warps_k, c->m_tiles);
}

void fpx__wo_dequant_name(fpx_format format, fpx_dtype out_dtype, int group_size,
                          char out[FPX__NAME_EXPR_MAX]) {
  snprintf(out, FPX__NAME_EXPR_MAX, "fpx::dequantize<%d,%d,%d,%d>", format.exp_bits,
           format.man_bits, dtype_code(out_dtype), group_size);
}

/* Field packing: 4 bits E, 4 bits M, 2+2 bits dtypes, 9 bits group,
 * 4 bits each for the tile config, 4 bits family. */
uint64_t fpx__wo_gemm_id(const fpx__wo_key *key, const fpx_wo_config *c) {
  if (c->kernel == 1) {
    const fpx__wgmma_config w = fpx__wgmma_config_of(c);
    return fpx__wgmma_gemm_id(key, &w);
  }
  return (uint64_t)key->format.exp_bits | (uint64_t)key->format.man_bits << 4 |
         (uint64_t)dtype_code(key->x_dtype) << 8 | (uint64_t)dtype_code(key->y_dtype) << 10 |
         (uint64_t)key->group_size << 12 | (uint64_t)c->warps_n << 21 |
         (uint64_t)c->warps_k << 25 | (uint64_t)c->m_tiles << 29 | (uint64_t)1 << 40;
}

uint64_t fpx__wo_dequant_id(fpx_format format, fpx_dtype out_dtype, int group_size) {
  return (uint64_t)format.exp_bits | (uint64_t)format.man_bits << 4 |
         (uint64_t)dtype_code(out_dtype) << 10 | (uint64_t)group_size << 12 | (uint64_t)2 << 40;
}

uint64_t fpx__hash64(const void *data, size_t size, uint64_t seed) {
  const unsigned char *p = data;
  uint64_t h = 0xcbf29ce484222325ull ^ seed;
  for (size_t i = 0; i < size; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

uint64_t fpx__kernel_hash(const char *template_source, const char *name_expr,
                          const char *arch) {
  uint64_t h = fpx__hash64(template_source, strlen(template_source), 0);
  h = fpx__hash64(name_expr, strlen(name_expr), h);
  return fpx__hash64(arch, strlen(arch), h);
}

/* Split-K values the candidates try. */
static const int split_values[] = {1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32};

size_t fpx__wo_candidates(size_t m, size_t n, size_t k, int sm_count, fpx_wo_config *out,
                            size_t max) {
  fpx_wo_config space[64];
  const size_t tiles = fpx__wo_config_space(space, 64);
  const size_t n_tiles = (n + 15) / 16, k_blocks = (k + 255) / 256;
  const size_t sms = (size_t)(sm_count > 0 ? sm_count : 132);
  size_t mt_cap = 1; /* no 8-token tiles beyond what M needs */
  while (mt_cap < 8 && 8 * mt_cap < m) mt_cap *= 2;
  size_t count = 0;
  for (size_t t = 0; t < tiles && t < 64; t++) {
    const fpx_wo_config c = space[t];
    if ((size_t)c.m_tiles > mt_cap) continue;
    if ((size_t)c.warps_n > n_tiles && c.warps_n > 1) continue; /* idle warps */
    const size_t blocks = ((n_tiles + c.warps_n - 1) / c.warps_n) *
                          ((m + 8 * (size_t)c.m_tiles - 1) / (8 * (size_t)c.m_tiles));
    for (size_t s = 0; s < sizeof split_values / sizeof split_values[0]; s++) {
      const size_t split = (size_t)split_values[s];
      if (split > 1 && split * (size_t)c.warps_k > k_blocks) break; /* each K warp gets a block */
      if (split == 1 && (size_t)c.warps_k > k_blocks) break;
      if (split > 1 && blocks * (split / 2) >= 8 * sms) break;   /* already many waves */
      if (count < max)
        out[count] = (fpx_wo_config){.warps_n = c.warps_n, .warps_k = c.warps_k,
                                     .m_tiles = c.m_tiles, .split_k = (int)split};
      count++;
    }
  }
  return count < max ? count : max;
}

/* The wgmma part of the candidates: tokens x stages that the family
 * accepts for the key, each with the split-K values worth a try. */
static const int wgmma_tokens[] = {64, 128, 256}, wgmma_stages[] = {3, 4, 6};

/* Blocks of a wgmma launch (one per SM at a time: 384 threads and most of
 * the shared memory). */
static size_t wgmma_blocks(size_t m, size_t n, int tokens) {
  return ((n + FPX__WGMMA_BLOCK_ROWS - 1) / FPX__WGMMA_BLOCK_ROWS) *
         ((m + (size_t)tokens - 1) / (size_t)tokens);
}

/* Largest split-K for the wgmma family: each split keeps at least
 * WGMMA_MIN_SPLIT_BLOCKS 256-column blocks, so that the ring fills. */
#define WGMMA_MIN_SPLIT_BLOCKS 2
static size_t wgmma_max_split(size_t k) {
  const size_t k_blocks = (k + 255) / 256;
  size_t s = k_blocks / WGMMA_MIN_SPLIT_BLOCKS;
  return s < 1 ? 1 : s > 64 ? 64 : s;
}

size_t fpx__gemm_candidates(const fpx__wo_key *key, size_t m, size_t n, size_t k, int sm_count,
                            int sm_version, fpx_wo_config *out, size_t max) {
  size_t count = fpx__wo_candidates(m, n, k, sm_count, out, max);
  if (sm_version != 90 || m < FPX__WGMMA_CANDIDATE_MIN_M || key == NULL ||
      fpx__wgmma_key_check(key) != FPX_OK) {
    fpx__error_clear();
    return count;
  }
  const size_t sms = (size_t)(sm_count > 0 ? sm_count : 132);
  for (size_t t = 0; t < sizeof wgmma_tokens / sizeof wgmma_tokens[0]; t++) {
    /* no token tile wider than M needs, beyond the narrowest */
    if (t > 0 && (size_t)wgmma_tokens[t - 1] >= m) break;
    const size_t blocks = wgmma_blocks(m, n, wgmma_tokens[t]);
    for (size_t s = 0; s < sizeof wgmma_stages / sizeof wgmma_stages[0]; s++) {
      int tile_ok = 0;
      for (size_t v = 0; v < sizeof split_values / sizeof split_values[0]; v++) {
        const size_t split = (size_t)split_values[v];
        if (split > 1 && (split > wgmma_max_split(k) || blocks * split > 8 * sms)) break;
        const fpx__wgmma_config w = {wgmma_tokens[t], wgmma_stages[s], (int)split, 0, 0, 0};
        if (fpx__wgmma_config_check(key, &w) != FPX_OK) break;
        tile_ok = 1;
        if (count < max)
          out[count++] = (fpx_wo_config){.kernel = 1, .split_k = w.split_k, .tokens = w.tokens,
                                         .stages = w.stages};
      }
      /* then stream-K over the SMs, for a tile the key allows */
      if (tile_ok && count < max)
        out[count++] = (fpx_wo_config){.kernel = 1, .split_k = FPX_SPLIT_K_STREAM,
                                       .tokens = wgmma_tokens[t], .stages = wgmma_stages[s]};
    }
  }
  fpx__error_clear();
  return count;
}

/* Split-K by waves. A wgmma block has an SM to itself, so B blocks run in
 * ceil(B / sms) waves, and with split s in ceil(B s / sms) waves of blocks
 * that each take kb / s column blocks plus a fixed WGMMA_BLOCK_FIXED (the
 * pipeline's fill and drain, the epilogue; fitted to H200 runs of the
 * llama3 shapes at M = 64..512, NOTES-PERF.md). The split with the least
 * cost wins if it beats the best so far by 5% (ties keep the smaller);
 * *cost gets its cost in 128-token column-block times. */
#define WGMMA_BLOCK_FIXED 5.0
static int wgmma_wave_split(size_t blocks, size_t sms, size_t k, double *cost) {
  const double kb = (double)((k + 255) / 256);
  size_t best = 1;
  double best_cost = (double)((blocks + sms - 1) / sms) * (kb + WGMMA_BLOCK_FIXED);
  for (size_t s = 2; s <= wgmma_max_split(k); s++) {
    const double c = (double)((blocks * s + sms - 1) / sms) * (kb / (double)s + WGMMA_BLOCK_FIXED);
    if (c < 0.95 * best_cost) {
      best = s;
      best_cost = c;
    }
  }
  *cost = best_cost;
  return (int)best;
}

/* Stream-K against the chosen split (cost `rr`, as wgmma_wave_split's): every
 * block takes tiles x kb / sms column blocks and pays the fixed cost once
 * per tile its range touches (1 + tiles / sms of them). It must win by 5%,
 * and each tile must be shared by few blocks (tiles >= sms / 2): the block
 * that sums a tile reads every other contributor's partials, which the
 * model does not count. On the H200 sweeps of the llama3 shapes it picks
 * stream-K for 70b qkv at M = 32..512, 70b gate_up at M = 32..256 and 8b
 * gate_up at M = 512 (where it won 1.05-1.35x), and for none of the shapes
 * where it lost (under one wave of whole tiles with short K: 8b qkv, o and
 * down); it misses smaller wins (70b o and down at M = 32; NOTES-PERF.md). */
static int wgmma_stream_k_pays(size_t tiles, size_t sms, size_t k, double rr) {
  if (2 * tiles < sms) return 0;
  const double kb = (double)((k + 255) / 256);
  const double range = (double)tiles * kb / (double)sms;
  const double sk = range + WGMMA_BLOCK_FIXED * (1.0 + (double)tiles / (double)sms);
  return sk < 0.95 * rr;
}

/* Time of one column block of a wgmma block with T tokens against one of
 * 128 tokens (dequantization is shared by the tokens, the MMAs are not):
 * fitted to the H200 tuning sweep of the llama3 shapes with BF16
 * activations (NOTES-PERF.md, "Tuning sweep, automatic choice, ...", 2). */
static double wgmma_tokens_cost(int tokens) { return tokens == 64 ? 0.68 : tokens == 128 ? 1.0 : 1.55; }

/* Where the wgmma family starts to beat the mma.sync family's fallback
 * configurations (llama3 shapes, H200; BENCHMARKS.md): M >= 32 (M = 16 is a
 * tie with 16-bit X; with FP8 X the tuned winners take wgmma from M = 32,
 * docs/tuning/h200-ship-w8a8-small-m.log). */
#define WGMMA_MIN_M 32

int fpx__wgmma_auto_config(int sm_version, int sm_count, const fpx__wo_key *key, size_t m,
                           size_t n, size_t k, fpx_wo_config *out) {
  if (sm_version != 90 || m < WGMMA_MIN_M) return 0;
  if (fpx__wgmma_key_check(key) != FPX_OK) {
    fpx__error_clear(); /* a key the family does not take stays on mma.sync */
    return 0;
  }
  const size_t sms = (size_t)(sm_count > 0 ? sm_count : 132);
  fpx__wgmma_config w = {64, 4, 1, 0, 0, 0}; /* tokens and split set below (64 always a candidate) */
  /* the token tile (no wider than M needs; 256 with per-row scales only)
   * and split of least modelled cost; a wider tile must win by 5% */
  static const int tokens[] = {64, 128, 256};
  double best = -1, best_rr = 0, cost;
  for (size_t t = 0; t < 3; t++) {
    if (t > 0 && (size_t)tokens[t - 1] >= m) break;
    if (tokens[t] == 256 && key->group_size != 0) break;
    const int split = wgmma_wave_split(wgmma_blocks(m, n, tokens[t]), sms, k, &cost);
    const double rr = cost;
    cost *= wgmma_tokens_cost(tokens[t]);
    if (best < 0 || cost < 0.95 * best) {
      best = cost;
      best_rr = rr;
      w.tokens = tokens[t];
      w.split_k = split;
    }
  }
  if (wgmma_stream_k_pays(wgmma_blocks(m, n, w.tokens), sms, k, best_rr)) w.split_k = FPX_SPLIT_K_STREAM;
  /* 6 stages won 2-6% over 4 in the sweep with 64 and 128 tokens; with
   * 256, 4 won or tied */
  w.stages = w.tokens <= 128 ? 6 : 4;
  if (fpx__wgmma_config_check(key, &w) != FPX_OK) w.stages = 4;
  if (fpx__wgmma_config_check(key, &w) != FPX_OK) {
    fpx__error_clear();
    return 0;
  }
  *out = (fpx_wo_config){.kernel = 1, .split_k = w.split_k, .tokens = w.tokens, .stages = w.stages};
  return 1;
}
