/*
 * config.h - kernel configurations of the weight-only family: the problem
 * key, validity rules for an architecture, the default heuristic, and the
 * instantiation of a configuration into a template name expression.
 */
#ifndef FPX_GEN_CONFIG_H
#define FPX_GEN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "fpx.h"

/* What a weight-only kernel is specialised for, besides its tile config. */
typedef struct fpx__wo_key {
  fpx_format format;
  fpx_dtype x_dtype; /* f16, bf16, or e4m3 / e5m2 (FP8 X with scales) */
  fpx_dtype y_dtype; /* f16, bf16 or f32 */
  int group_size;    /* 0 or 32..256 */
} fpx__wo_key;

#define FPX__TEMPLATE_WEIGHT_ONLY "weight_only.cuh"
#define FPX__NAME_EXPR_MAX 128

/* 1 when the format's codes convert exactly to E4M3 or E5M2 (the weight
 * formats that run with FP8 activations). */
int fpx__wo_fp8_convertible(fpx_format format);
/* Checks the key (dtypes, format/dtype pairs); names the bad value. */
fpx_status fpx__wo_key_check(const fpx__wo_key *key);
/* Checks a configuration against its family's limits; names the bad
 * value. kernel 0 (mma.sync): threads, shared memory, split-K range, with
 * tokens and stages ignored; kernel 1 (wgmma): tokens and stages by the
 * wgmma rules that do not depend on the key (fpx__wgmma_config_check with
 * no key; the group-scale rule is checked at launch) and split_k 1..64,
 * warps_n, warps_k and m_tiles ignored. Any other kernel is FPX_ERR_INVALID_ARGUMENT. */
fpx_status fpx__wo_config_check(const fpx_wo_config *config);
/* "4/1/2/3" (warps_n/warps_k/m_tiles/split_k) for kernel 0,
 * "wgmma:128/4" (tokens/stages) or, with split-K, "wgmma:64/4/3"
 * (tokens/stages/split_k) for kernel 1. */
void fpx__wo_config_text(const fpx_wo_config *config, char *out, size_t size);
/* 1 when two configurations run the same kernel with the same launch (the
 * fields the other family ignores are not compared). */
int fpx__wo_config_equal(const fpx_wo_config *a, const fpx_wo_config *b);
/* The heuristic configuration for a problem on a GPU with sm_count SMs. */
void fpx__wo_config_default(size_t m, size_t n, size_t k, int sm_count,
                            fpx_wo_config *out_config);
/* The compile-time part of the configuration space (split_k = 1): fills up
 * to `max` entries, returns the number of valid configurations. */
size_t fpx__wo_config_space(fpx_wo_config *out_configs, size_t max);

/* The candidate configurations for an M x N x K problem on a GPU with
 * sm_count SMs: the space pruned to token tiles M needs and split-K values
 * that give each K warp a block and do not oversubscribe the GPU. Fills up
 * to max entries, returns the count; deterministic order (tile
 * configurations in space order, split-K ascending within each). */
size_t fpx__wo_candidates(size_t m, size_t n, size_t k, int sm_count, fpx_wo_config *out,
                          size_t max);
/* The smallest M for which the wgmma family is a candidate. */
#define FPX__WGMMA_CANDIDATE_MIN_M 16
/* Every family's candidates for (key, M x N x K) on a GPU of sm_version
 * (90 for sm_90) with sm_count SMs: fpx__wo_candidates, then on sm_90 with
 * M >= FPX__WGMMA_CANDIDATE_MIN_M and a key the wgmma family takes, the
 * wgmma configurations tokens {64, 128, 256} (no wider than M needs) x
 * stages {3, 4, 6} it accepts for the key (kernel 1, in that order), each
 * with split-K ascending from 1 while the launch stays within eight waves
 * of one block per SM and each split keeps two 256-column blocks. Fills up
 * to max, returns the count. */
size_t fpx__gemm_candidates(const fpx__wo_key *key, size_t m, size_t n, size_t k, int sm_count,
                            int sm_version, fpx_wo_config *out, size_t max);

/* The wgmma configuration fpx_gemm picks by itself for a key and M x N x K
 * on a GPU of sm_version with sm_count SMs (without FPX_CTX_NO_WGMMA): 1 and
 * *out (kernel 1) on sm_90 for M >= 32 when the family takes the key (the
 * token tile, no wider than M needs and 256 only with per-row scales, and
 * the split-K of least modelled time: waves of one block per SM, each
 * block's time its column blocks plus a fixed cost, scaled by the tile's
 * cost per column block; a wider tile or a split must win by 5%; at most
 * one split per two 256-column blocks; 6 stages up to 128 tokens, 4 with
 * 256), else 0 and *out untouched. */
int fpx__wgmma_auto_config(int sm_version, int sm_count, const fpx__wo_key *key, size_t m,
                           size_t n, size_t k, fpx_wo_config *out);

/* Name expression of the GEMM instance, "fpx::weight_only_gemm<...>"
 * (kernel 1: fpx__wgmma_gemm_name's "fpx::wgmma_gemm<...>"). */
void fpx__wo_gemm_name(const fpx__wo_key *key, const fpx_wo_config *config,
                       char out[FPX__NAME_EXPR_MAX]);
/* Name expression of the dequantize kernel for (format, out dtype, group). */
void fpx__wo_dequant_name(fpx_format format, fpx_dtype out_dtype, int group_size,
                          char out[FPX__NAME_EXPR_MAX]);
/* A 64-bit integer that identifies a compiled GEMM instance in-process
 * (split_k excluded: it is a launch parameter; kernel 1: fpx__wgmma_gemm_id). */
uint64_t fpx__wo_gemm_id(const fpx__wo_key *key, const fpx_wo_config *config);
uint64_t fpx__wo_dequant_id(fpx_format format, fpx_dtype out_dtype, int group_size);

/* Stable 64-bit FNV-1a hash, the identity of a kernel binary across
 * processes: hash of (template source, name expression, arch). */
uint64_t fpx__hash64(const void *data, size_t size, uint64_t seed);
uint64_t fpx__kernel_hash(const char *template_source, const char *name_expr,
                          const char *arch);

#endif
