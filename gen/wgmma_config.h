/*
 * wgmma_config.h - configurations of the Hopper wgmma GEMM family
 * (templates/wgmma_gemm.cuh): the tile and pipeline parameters, what the
 * family accepts, and the turning of a (key, configuration) pair into a
 * template instance and its in-process id.
 */
#ifndef FPX_GEN_WGMMA_CONFIG_H
#define FPX_GEN_WGMMA_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "fpx.h"

/* A block is 3 warpgroups (one producer, two consumers of 64 weight rows
 * each): 384 threads, 128 weight rows x `tokens` tokens. */
typedef struct fpx__wgmma_config {
  int tokens;  /* tokens per block, the wgmma N: 64, 128 or 256 */
  int stages;  /* depth of the shared-memory ring of X: 2..8 */
  int split_k; /* blocks along K, 1..64, reduced in the kernel, or
                * FPX_SPLIT_K_STREAM (stream-K over the SMs); a launch
                * parameter: not part of the instance */
  int max_blocks; /* blocks launched at most (0: one per SM); each takes
                   * every max_blocks-th unit. Launch parameter, for tests
                   * that make a few blocks run many units. */
  int raster;     /* token tiles per group of the tile order, rounded to
                   * a power of two (0: the library's choice,
                   * fpx__wgmma_raster). Launch parameter. */
  int y_direct;   /* 1: 16-bit Y stored from registers, not through the
                   * staged tile and TMA stores (the launcher sets it where
                   * TMA cannot store Y: N % 8 != 0, Y not 16-byte
                   * aligned). Part of the instance. */
} fpx__wgmma_config;

#define FPX__TEMPLATE_WGMMA "wgmma_gemm.cuh"
#define FPX__WGMMA_THREADS 384
#define FPX__WGMMA_BLOCK_ROWS 128
/* dynamic shared memory one block may opt in to on sm_90 (227 KB) */
#define FPX__WGMMA_SMEM_MAX (227 * 1024)
/* a token's 128 rows of 16-bit Y in the epilogue's shared tile (two
 * halves of 128-byte rows in 128-byte swizzle, as its TMA stores read it) */
#define FPX__WGMMA_TILE_ROW_BYTES 256

/* The wgmma part of a kernel-1 fpx_wo_config: tokens, stages and split_k
 * (0, from callers written before the family had split-K, means 1);
 * max_blocks 0. */
fpx__wgmma_config fpx__wgmma_config_of(const fpx_wo_config *config);

/* Checks what the family computes: the format, x_dtype f16, bf16, e4m3 or
 * e5m2 (FP8 X needs a weight format with an exact FP8 form: E <= 4 and
 * M <= 3, or e5m2), y_dtype f16, bf16 or f32, group_size 0 or 32..256.
 * Names the bad value. */
fpx_status fpx__wgmma_key_check(const fpx__wo_key *key);
/* Checks a configuration for a key: tokens, stages, split_k, group scales
 * only with tokens <= 128 (two accumulators), the ring within
 * FPX__WGMMA_SMEM_MAX.
 * Names the bad value. */
fpx_status fpx__wgmma_config_check(const fpx__wo_key *key, const fpx__wgmma_config *config);
/* Dynamic shared memory of a launch: the ring, its barriers, the slack
 * that aligns the ring to 1024 bytes and, where the total stays within
 * FPX__WGMMA_SMEM_MAX, the epilogue's tile. */
size_t fpx__wgmma_smem_bytes(const fpx__wgmma_config *config);

/* Name expression of the instance, "fpx::wgmma_gemm<E,M,ACT,OUT,GROUP,
 * TOKENS,STAGES,YTMA>" (ACT: 0 f16, 1 bf16, 2 e4m3, 3 e5m2; OUT: 0 f16,
 * 1 bf16, 2 f32; YTMA 1 for 16-bit Y without y_direct). */
void fpx__wgmma_gemm_name(const fpx__wo_key *key, const fpx__wgmma_config *config,
                          char out[FPX__NAME_EXPR_MAX]);
/* In-process id of the instance: family 5 in bits 40 and up, distinct from
 * every fpx__wo_gemm_id. */
uint64_t fpx__wgmma_gemm_id(const fpx__wo_key *key, const fpx__wgmma_config *config);

/* The pass that writes X permuted for the family's TMA copies of key: its
 * name expression, "fpx::wgmma_permute_x<XBYTES,SWAP_MID>" (XBYTES 2 for
 * f16/bf16 X, 1 for FP8; SWAP_MID 1 for FP8 X with weights below 8 bits),
 * and in-process id (family 6 from bit 40). */
void fpx__wgmma_permute_name(const fpx__wo_key *key, char out[FPX__NAME_EXPR_MAX]);
uint64_t fpx__wgmma_permute_id(const fpx__wo_key *key);
/* Largest permuted-X workspace of one launch (bytes): larger M runs in
 * chunks of whole token tiles that fit. */
#define FPX__WGMMA_X_WORKSPACE_MAX ((size_t)256 << 20)
/* Largest split-K partials of one launch (bytes), the same way. */
#define FPX__WGMMA_PARTIALS_MAX ((size_t)256 << 20)
/* Bytes of split-K partials per token tile of a launch over n weight rows:
 * split_k x (128-row tiles) x tokens x 128 floats; 0 without split-K (and
 * with stream-K). */
size_t fpx__wgmma_partial_bytes(const fpx__wgmma_config *config, size_t n);
/* The tile order of a launch of `blocks` blocks over n weight rows and m
 * tokens with weights of `weight_bits` and X of `x_bytes` bytes per value:
 * groups of this many token tiles (a power of two), token tile fastest
 * inside a group (raster_tile in the template). The whole tiles that run
 * at the same time then span R row blocks x G token tiles (R x G =
 * blocks), all at the same K position; G is the one that makes the
 * distinct bytes they read per column block, R x 128 rows of weights + G x
 * tokens rows of X, least: sqrt(blocks x 128 x weight bytes / (tokens x
 * x_bytes)), to the nearest power of two (in ratio), at most the token
 * tiles. 1 for stream-K without whole tiles (fewer than 2 x blocks
 * tiles): its ranges start at staggered K positions, so grouping does not
 * make tiles of one row block read the same weights at the same time
 * (measured 5% slower on 70b qkv at M = 512). config->raster, when not 0,
 * is taken instead of either rule, rounded the same way. */
int fpx__wgmma_raster(const fpx__wgmma_config *config, int weight_bits, int x_bytes, size_t blocks,
                      size_t n, size_t m);
/* Whether a launch stores 16-bit Y from registers (1) rather than through
 * the staged tile and TMA stores (0): config->y_direct, or where TMA cannot
 * store Y, n % 8 != 0 (rows not a multiple of 16 bytes apart) or y not
 * 16-byte aligned. y: Y's device address. */
int fpx__wgmma_y_direct(const fpx__wgmma_config *config, size_t n, uint64_t y);
/* The instance's YTMA: 1 where 16-bit Y leaves through TMA stores (y_dtype
 * not f32, config->y_direct 0); the launch then passes Y's tensor map. */
int fpx__wgmma_y_tma(const fpx__wo_key *key, const fpx__wgmma_config *config);
/* Bytes of stream-K partials of a launch of `blocks` blocks: two tiles of
 * tokens x 128 floats per block (a block shares at most two tiles with
 * others); 0 unless split_k is FPX_SPLIT_K_STREAM. */
size_t fpx__wgmma_stream_partial_bytes(const fpx__wgmma_config *config, size_t blocks);

#endif
