/*
 * weight_only.cuh - the weight-only eXmY x FP16/BF16 GEMM family on tensor
 * cores (mma.sync.m16n8k16, sm_80 and later), and the matching dequantize
 * kernel. Self-contained: no toolkit headers. Instantiated by name
 * expression from gen/config.c.
 *
 * Computes Y[M,N] = X[M,K] * dequant(W)[N,K]^T as Y^T = W X^T: weights are
 * the MMA's A operand (16 rows of N per warp), tokens the n8 side.
 *
 * Weights arrive in the tiled bit-plane layout (docs/LAYOUT.md): for each
 * 16 x 256 block a lane reads BITS 16-byte words that hold exactly its A
 * fragments for the block's 16 k16 tiles. A code becomes an FP16 (or BF16)
 * bit pattern by shift and mask, which scales it by 2^(bias - 15) (FP16; the
 * inverse is applied to the FP32 accumulator) or 2^(bias - 127) (BF16; the
 * inverse is applied in the dequantized register, exactly, to keep FP32
 * products out of the subnormal range).
 *
 * Activations: inside each 32-column slice of a block, lane column group tig
 * holds columns 8*tig .. 8*tig+7 of both k16 tiles of the slice (the layout
 * permutes K to match), so X is read with one 16-byte load per token.
 *
 * FP8 activations (ACT 2 = E4M3, 3 = E5M2; sm_89+): one m16n8k32 FP8 MMA per
 * slice. The lane's 8 columns of a slice are its two k-quads of the k32
 * fragment (columns 8*tig+0..3 and 8*tig+4..7, for weights and activations
 * alike), so X is read with one 8-byte load per token and slice. Weight codes
 * become FP8 bit patterns by shift and mask: E <= 4, M <= 3 as E4M3 (scaled
 * by 2^(bias-7)); e5m2 passes through as E5M2; the inverse
 * scale, the weight scale and the token's X scale act on the accumulator.
 * Formats below 8 bits build a k-quad four codes per integer operation, in
 * the column order [+0, +2, +1, +3] in which their planes hold them
 * (place_quad); the two middle bytes of each 4-byte word of X are swapped
 * to match, which leaves every product in the same dot product.
 */
typedef unsigned int fpx_u32;
typedef unsigned long long fpx_u64;

namespace fpx {

/* ---- small PTX helpers ------------------------------------------------ */

__device__ __forceinline__ fpx_u64 evict_first_policy() {
  fpx_u64 policy;
  asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(policy));
  return policy;
}

/* 16-byte streaming load of packed weights: no L1 allocation, L2 evict-first */
__device__ __forceinline__ uint4 load_weights(const uint4 *p, fpx_u64 policy) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {%0,%1,%2,%3}, [%4], %5;"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p), "l"(policy));
  return v;
}

__device__ __forceinline__ uint4 load_activations(const uint4 *p) {
  uint4 v;
  asm volatile("ld.global.nc.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

__device__ __forceinline__ uint2 load_activations8(const uint2 *p) {
  uint2 v;
  asm volatile("ld.global.nc.v2.u32 {%0,%1}, [%2];" : "=r"(v.x), "=r"(v.y) : "l"(p));
  return v;
}

/* Activation registers of one slice and token: 16 bytes of FP16/BF16 or 8
 * bytes of FP8. */
template <int ACT>
struct XVec {
  typedef uint4 type;
  __device__ static type zero() { return make_uint4(0, 0, 0, 0); }
  __device__ static type load(const unsigned char *p) { return load_activations((const uint4 *)p); }
};
template <>
struct XVec<2> {
  typedef uint2 type;
  __device__ static type zero() { return make_uint2(0, 0); }
  __device__ static type load(const unsigned char *p) { return load_activations8((const uint2 *)p); }
};
template <>
struct XVec<3> : XVec<2> {};

/* m16n8k32 FP8 MMA, FP32 accumulation (sm_89+). WT, XT: 0 = E4M3, 1 = E5M2. */
template <int WT, int XT>
__device__ __forceinline__ void mma_16832_fp8(float (&d)[4], const fpx_u32 (&a)[4], fpx_u32 b0,
                                              fpx_u32 b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
#define FPX_MMA_FP8(ta, tb)                                                              \
  asm volatile("mma.sync.aligned.m16n8k32.row.col.f32." ta "." tb ".f32 "               \
               "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"                  \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])                         \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1))
  if (WT == 0 && XT == 0) FPX_MMA_FP8("e4m3", "e4m3");
  else if (WT == 0) FPX_MMA_FP8("e4m3", "e5m2");
  else if (XT == 0) FPX_MMA_FP8("e5m2", "e4m3");
  else FPX_MMA_FP8("e5m2", "e5m2");
#undef FPX_MMA_FP8
#else
  (void)d; (void)a; (void)b0; (void)b1;
  asm volatile("trap;"); /* the runtime never launches FP8 instances below sm_89 */
#endif
}

/* byte permute: result byte i = byte sel[i] of the 8 bytes {b:a} */
__device__ __forceinline__ fpx_u32 prmt(fpx_u32 a, fpx_u32 b, fpx_u32 sel) {
  fpx_u32 d;
  asm("prmt.b32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(sel));
  return d;
}

template <int ACT_BF16>
__device__ __forceinline__ void mma_16816(float (&d)[4], const fpx_u32 (&a)[4], fpx_u32 b0,
                                          fpx_u32 b1) {
  if (ACT_BF16) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

/* exact bf16x2 multiply on sm_80+: fma with -0 addend */
__device__ __forceinline__ fpx_u32 bf16x2_mul(fpx_u32 a, fpx_u32 b) {
  fpx_u32 d;
  asm("fma.rn.bf16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(0x80008000u));
  return d;
}

__device__ __forceinline__ unsigned short f32_to_f16(float x) {
  unsigned short h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(x));
  return h;
}

__device__ __forceinline__ unsigned short f32_to_bf16(float x) {
  unsigned short h;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(x));
  return h;
}

__device__ __forceinline__ float pow2(int e) { return __int_as_float((e + 127) << 23); }

/* ---- format and layout ------------------------------------------------ */

template <int E, int M>
struct Format {
  static constexpr int BITS = 1 + E + M;
  static constexpr int BIAS = (1 << (E - 1)) - 1;
  /* words of the thread's block data taken by planes wider than p */
  __device__ static constexpr int plane_word_offset(int p) {
    return 4 * (((BITS & 8) && p < 8 ? 8 : 0) + ((BITS & 4) && p < 4 ? 4 : 0) +
                ((BITS & 2) && p < 2 ? 2 : 0));
  }
  /* code bits below plane p */
  __device__ static constexpr int plane_code_shift(int p) {
    return ((BITS & 4) && p > 4 ? 4 : 0) + ((BITS & 2) && p > 2 ? 2 : 0) +
           ((BITS & 1) && p > 1 ? 1 : 0);
  }
};

/* Register pair q (= 4 * tile + j) holds two codes, one per 16-bit half.
 * place_pair moves their bits straight from the plane words to where a
 * float format wants them: the sign to bit SIGN_POS (and SIGN_POS + 16), the
 * other code bits up by MAG_SHIFT; all other bits zero. One shift and one
 * masked merge per plane (two for the plane that holds the sign): a plane
 * field sits at bit (q % pairs_per_word) * P of its word, and the masks are
 * disjoint, so no intermediate code is assembled.
 *
 * The plane that holds the sign, where its two copies (magnitude shifted by
 * a, sign by b) cannot overlap (P <= b - a <= 16 - P, which holds for BF16
 * targets up to 7 bits): the pair's fields are masked once and one integer
 * multiply by 2^a + 2^b makes both copies (their bits are disjoint, so the
 * sum carries nothing), then one mask keeps the target bits: a multiply on
 * the FMA pipe instead of two shifts, and one logic operation less. Where a
 * copy would shift right, the word is shifted right by 8 first (shared by
 * the word's upper pairs). */
__device__ __forceinline__ fpx_u32 shift_signed(fpx_u32 x, int s) { return s >= 0 ? x << s : x >> -s; }

template <typename F, int P, int SIGN_POS, int MAG_SHIFT>
__device__ __forceinline__ fpx_u32 place_plane(const fpx_u32 *w, int q) {
  constexpr int pairs_per_word = 16 / P;
  constexpr int cs = F::plane_code_shift(P); /* code bits below this plane */
  constexpr bool has_sign = cs + P == F::BITS;
  constexpr int mag_bits = has_sign ? P - 1 : P;
  constexpr fpx_u32 mag_mask = (((1u << mag_bits) - 1) << (cs + MAG_SHIFT)) * 0x10001u;
  constexpr fpx_u32 sign_mask = (1u << SIGN_POS) * 0x10001u;
  const fpx_u32 word = w[F::plane_word_offset(P) + q / pairs_per_word];
  const int pos = (q % pairs_per_word) * P;
  const int a = cs + MAG_SHIFT - pos, b = SIGN_POS - (pos + P - 1);
  if (has_sign && mag_bits > 0 && b - a >= P && b - a <= 16 - P) {
    const int pre = a < 0 || b < 0 ? 8 : 0;
    if (a + pre >= 0 && b + pre >= 0 && pos >= pre) {
      const fpx_u32 field = (((1u << P) - 1) << (pos - pre)) * 0x10001u;
      const fpx_u32 both = ((word >> pre) & field) * ((1u << (a + pre)) + (1u << (b + pre)));
      return both & (mag_mask | sign_mask);
    }
  }
  fpx_u32 v = 0;
  if (mag_bits > 0) v = shift_signed(word, a) & mag_mask;
  if (has_sign) v |= shift_signed(word, b) & sign_mask;
  return v;
}

template <typename F, int SIGN_POS, int MAG_SHIFT>
__device__ __forceinline__ fpx_u32 place_pair(const fpx_u32 *w, int q) {
  fpx_u32 v = 0;
  if (F::BITS & 8) v |= place_plane<F, 8, SIGN_POS, MAG_SHIFT>(w, q);
  if (F::BITS & 4) v |= place_plane<F, 4, SIGN_POS, MAG_SHIFT>(w, q);
  if (F::BITS & 2) v |= place_plane<F, 2, SIGN_POS, MAG_SHIFT>(w, q);
  if (F::BITS & 1) v |= place_plane<F, 1, SIGN_POS, MAG_SHIFT>(w, q);
  return v;
}

/* Pair q -> two FP16 or BF16 values. FP16: value * 2^(bias-15). BF16: the
 * exact value. */
template <int E, int M, int ACT_BF16>
__device__ __forceinline__ fpx_u32 dequant_pair(const fpx_u32 *w, int q) {
  typedef Format<E, M> F;
  const fpx_u32 v = place_pair<F, 15, ACT_BF16 ? 7 - M : 10 - M>(w, q);
  if (ACT_BF16) {
    constexpr fpx_u32 SCALE = (fpx_u32)(127 + 127 - F::BIAS) << 7; /* 2^(127-bias) */
    return bf16x2_mul(v, SCALE | (SCALE << 16));
  }
  return v;
}

/* FP8 target of a weight format: 0 = E4M3 (E <= 4, M <= 3), 1 = E5M2
 * (e5m2 itself; the runtime refuses e5m0/e5m1, whose top binade would land
 * on E5M2's Inf/NaN codes). */
template <int E, int M>
struct Fp8Target {
  static constexpr int TYPE = (E <= 4 && M <= 3) ? 0 : 1;
  static constexpr int MAN = TYPE == 0 ? 3 : 2;
  static constexpr int BIAS = TYPE == 0 ? 7 : 15;
};

/* Pair q -> two FP8 bit patterns in bits 0-7 and 16-23 (the other bits
 * zero), the value scaled by 2^(bias - target bias). 8-bit formats are their
 * own target: the codes pass through. */
template <int E, int M>
__device__ __forceinline__ fpx_u32 fp8_pair(const fpx_u32 *w, int q) {
  return place_pair<Format<E, M>, 7, Fp8Target<E, M>::MAN - M>(w, q);
}

/* Formats below 8 bits, four codes at once: the codes of pairs q and q + 2
 * (columns +0 +1 and +2 +3 of one row) as FP8 bit patterns in the byte
 * order [+0, +2, +1, +3], which is the order in which a plane of P bits
 * holds their fields: at pos, pos + 2P, pos + 16 and pos + 16 + 2P of one
 * word. So per plane bytes 0 and 2 take one shift and bytes 1 and 3 one
 * 8 - 2P bits longer (the same shift for P = 4), each followed by a masked
 * merge: the sign to bit 7, the other code bits up by MAG_SHIFT. */
template <typename F, int P, int MAG_SHIFT>
__device__ __forceinline__ fpx_u32 quad_plane(const fpx_u32 *w, int q) {
  static_assert(P < 8, "8-bit planes are their own FP8 bytes");
  constexpr int pairs_per_word = 16 / P;
  constexpr int cs = F::plane_code_shift(P);
  constexpr bool has_sign = cs + P == F::BITS;
  constexpr int mag_bits = has_sign ? P - 1 : P;
  constexpr fpx_u32 mag_mask = (((1u << mag_bits) - 1) << (cs + MAG_SHIFT)) * 0x01010101u;
  constexpr fpx_u32 sign_mask = 0x80808080u;
  constexpr int gap = 8 - 2 * P;
  constexpr fpx_u32 even = gap ? 0x00FF00FFu : 0xFFFFFFFFu, odd = gap ? 0xFF00FF00u : 0u;
  const fpx_u32 word = w[F::plane_word_offset(P) + q / pairs_per_word];
  const int pos = (q % pairs_per_word) * P;
  const int a = cs + MAG_SHIFT - pos, b = 8 - P - pos;
  fpx_u32 v = 0;
  if (mag_bits > 0) v = shift_signed(word, a) & (mag_mask & even);
  if (mag_bits > 0 && gap) v |= shift_signed(word, a + gap) & (mag_mask & odd);
  if (has_sign) v |= shift_signed(word, b) & (sign_mask & even);
  if (has_sign && gap) v |= shift_signed(word, b + gap) & (sign_mask & odd);
  return v;
}

template <typename F, int MAG_SHIFT>
__device__ __forceinline__ fpx_u32 place_quad(const fpx_u32 *w, int q) {
  fpx_u32 v = 0;
  if (F::BITS & 4) v |= quad_plane<F, 4, MAG_SHIFT>(w, q);
  if (F::BITS & 2) v |= quad_plane<F, 2, MAG_SHIFT>(w, q);
  if (F::BITS & 1) v |= quad_plane<F, 1, MAG_SHIFT>(w, q);
  return v;
}

/* The k32 A fragment of slice s: register 0 = row g, columns 8*tig+0..3;
 * 1 = row g+8, same columns; 2, 3 = columns 8*tig+4..7 (see the header). The
 * k16 pairs (tile t, register j) hold columns (t&1)*4 + 2*(j>>1) + {0,1} of
 * row g + 8*(j&1). Below 8 bits each register holds its four columns in
 * the order +0, +2, +1, +3 (place_quad). */
template <int E, int M>
__device__ __forceinline__ void fp8_fragment(const fpx_u32 *w, int s, fpx_u32 (&a)[4]) {
  typedef Format<E, M> F;
#pragma unroll
  for (int r = 0; r < 4; r++) {
    const int t = 2 * s + (r >> 1), j = r & 1;
    if constexpr (F::BITS < 8) {
      a[r] = place_quad<F, Fp8Target<E, M>::MAN - M>(w, 4 * t + j);
    } else {
      const fpx_u32 lo = fp8_pair<E, M>(w, 4 * t + j);
      const fpx_u32 hi = fp8_pair<E, M>(w, 4 * t + j + 2);
      a[r] = prmt(lo, hi, 0x6420u);
    }
  }
}

/* ---- the GEMM --------------------------------------------------------- */

/*
 * Grid: x = ceil(ceil(N/16) / WARPS_N), y = ceil(M / (8*MT)), z = split-K.
 * Block: 32 * WARPS_N * WARPS_K threads. Warp (wn, wk) computes the 16 rows
 * n_tile = blockIdx.x * WARPS_N + wn for tokens [blockIdx.y * 8 * MT, +8*MT)
 * over the 256-column blocks kb = kb_begin + wk, + WARPS_K, ... of its split.
 * GROUP: 0 = one scale per row, else the group size (32..256).
 * ACT: 0 = f16, 1 = bf16, 2 = e4m3, 3 = e5m2 (FP8 X with x_scales: one per
 * token when x_scale_stride is 1, one for all when 0).
 * OUT: 0 = f16, 1 = bf16, 2 = f32.
 * Split-K > 1: each split writes FP32 partials to ws[z][M][N]; the last
 * block of an output tile (found with counters[]) sums them in split order
 * (deterministic), writes Y and re-arms its counter.
 */
/* Blocks per SM that ptxas must fit (__launch_bounds__): two token tiles at
 * least 16 warps per SM, i.e. 128 registers (left alone, ptxas took 134-205
 * for them, 12 warps per SM or fewer); 0 elsewhere, which leaves the code
 * exactly as without the bound. */
__host__ __device__ constexpr int wo_min_blocks(int mt, int warps) { return mt == 2 && warps <= 16 ? 16 / warps : 0; }

template <int E, int M, int ACT, int OUT, int GROUP, int WARPS_N, int WARPS_K, int MT>
__global__ void __launch_bounds__(32 * WARPS_N * WARPS_K, wo_min_blocks(MT, WARPS_N * WARPS_K))
    weight_only_gemm(const uint4 *__restrict__ w, const void *__restrict__ x_ptr,
                     const float *__restrict__ scales, const float *__restrict__ x_scales,
                     int x_scale_stride, void *__restrict__ y_ptr, float *__restrict__ ws,
                     unsigned *__restrict__ counters, int m_total, int n_total, int k_total) {
  typedef Format<E, M> F;
  constexpr int BITS = F::BITS;
  constexpr int ACT_BF16 = ACT == 1;
  constexpr bool FP8 = ACT >= 2;
  constexpr int X_BYTES = FP8 ? 1 : 2; /* bytes per activation */
  typedef typename XVec<ACT>::type xvec;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int wn = warp % WARPS_N, wk = warp / WARPS_N;
  const int g = lane >> 2, tig = lane & 3;
  const int n_tiles = (n_total + 15) >> 4;
  const int k_blocks = (k_total + 255) >> 8;
  const int n_tile = blockIdx.x * WARPS_N + wn;
  const bool tile_valid = n_tile < n_tiles;
  const int m0 = blockIdx.y * (8 * MT);
  const int split_k = gridDim.z;
  const int kb_begin = (int)(((long long)blockIdx.z * k_blocks) / split_k);
  const int kb_end = (int)(((long long)(blockIdx.z + 1) * k_blocks) / split_k);
  const int groups_per_row = GROUP ? (k_total + GROUP - 1) / GROUP : 1;
  const int row0 = n_tile * 16 + g, row1 = row0 + 8;
  const fpx_u64 policy = evict_first_policy();
  const unsigned char *x = (const unsigned char *)x_ptr;

  float acc[MT][4];
  float gacc[MT][4];
#pragma unroll
  for (int i = 0; i < MT; i++)
#pragma unroll
    for (int r = 0; r < 4; r++) acc[i][r] = gacc[i][r] = 0.f;

  /* Registers of the prefetched activations (8 slices x MT) and of the
   * weights (two buffers); see PREFETCH_X. */
  constexpr int X_REGS = 8 * MT * (FP8 ? 2 : 4), W_REGS = 2 * BITS * 4;
  /* The loop's forms, each the faster one where it runs (H200, NOTES-PERF.md):
   * - With one token tile the activations of a block whose 256 columns lie
   *   inside K are loaded without checks, at a fixed offset from one pointer
   *   per token tile, and the weights alternate between two buffers (the
   *   loop body twice, so no block copies registers): e3m2's loop went from
   *   598 to 430-474 instructions per block and lane (SASS). W8A8 (8-bit
   *   weights, FP8 X) keeps one buffer: with two, ptxas spilled.
   * - Two token tiles load unchecked too where they prefetch (X_REGS +
   *   W_REGS <= 112), keeping a branch per slice so that the loads of the
   *   last block are not hoisted; with one weight buffer, and the 128
   *   registers of wo_min_blocks (under which e3m2 spills 84 bytes and
   *   e2m2 44, as measured). Unchecked alone took more registers (e2m1
   *   134 -> 137, W4A8 153 -> 216) and lost up to 1.4x on e2m1; with the bound,
   *   M = 16 gained up to 1.22x on the large shapes and lost up to 12% on
   *   8b o and qkv (e3m2, e2m2).
   * - More token tiles keep checked loads and one buffer. */
  constexpr bool PREFETCH_X = MT == 1 || (MT == 2 && X_REGS + W_REGS <= 112); /* see xcur */
  constexpr bool X_UNCHECKED = PREFETCH_X;
  constexpr bool TWO_BUFFERS = MT == 1 && !(FP8 && BITS == 8);

  /* Activation pointers: token tile i's row for lane group g, at the lane's
   * 8 columns of a slice. With X_UNCHECKED a token past M reads row 0 (valid
   * memory; its products land only in accumulator columns that are never
   * stored); otherwise it reads nothing. */
  const unsigned char *xlane[MT];
  bool xvalid[MT];
#pragma unroll
  for (int i = 0; i < MT; i++) {
    const int token = m0 + i * 8 + g;
    xvalid[i] = token < m_total;
    xlane[i] = x + ((long long)(xvalid[i] ? token : 0) * k_total + tig * 8) * X_BYTES;
  }

  const uint4 *wtile = w + (long long)n_tile * k_blocks * (BITS * 32) + lane;
  /* The activations of slice s of block kbx for token tile i. checked:
   * columns past K read as zero (K is a multiple of 8, so a lane's 8
   * columns are all in or all out), and without X_UNCHECKED tokens past M
   * too. */
  auto load_x = [&](bool checked, int kbx, int s, int i) -> xvec {
    const int kcol = kbx * 256 + s * 32;
    if (checked && (kcol + tig * 8 >= k_total || (!X_UNCHECKED && !xvalid[i]))) return XVec<ACT>::zero();
    return XVec<ACT>::load(xlane[i] + (long long)kcol * X_BYTES);
  };
  auto block_in_k = [&](int kbx) { return (kbx + 1) * 256 <= k_total; };
  /* With one token tile, or two where the registers allow, slice s of the
   * next block's activations is loaded into xcur[s] as soon as slice s of
   * this block is done: each load has a block's worth of work to arrive.
   * Otherwise the loads go out right before their use. Two tiles prefetch
   * while activations (8 slices x MT) and weights (two buffers) take at most
   * 112 registers: 1.2-1.9x faster at M = 16 for e3m2 (112) and e2m1 (96)
   * and W8A8 (96), 0.7-0.9x for e4m3 with BF16 X (128; H200, NOTES-PERF.md).
   * With one token tile the prefetch also runs past the warp's last block
   * (harmless: it reads columns inside K, or checks them, and nothing uses
   * it), which keeps a branch out of every slice. */
  xvec xcur[PREFETCH_X ? 8 : 1][PREFETCH_X ? MT : 1];

  /* One block: weights in cur (the next block's go to nxt as the step
   * starts), activations prefetched or loaded here. x_checked: the
   * activation loads of this step (the next block's when prefetching, this
   * block's otherwise) check K and M. */
  auto step = [&](bool x_checked, const uint4 (&cur)[BITS], uint4 (&nxt)[BITS], int kb) {
    const int kb_next = kb + WARPS_K;
    if (kb_next < kb_end) {
#pragma unroll
      for (int i = 0; i < BITS; i++)
        nxt[i] = load_weights(wtile + (long long)kb_next * BITS * 32 + i * 32, policy);
    }
    const fpx_u32 *wr = (const fpx_u32 *)cur;
    constexpr int SLICES_AT_ONCE = MT >= 8 ? 1 : 8 / MT;
#pragma unroll
    for (int s0 = 0; s0 < 8; s0 += SLICES_AT_ONCE) {
      xvec xv[SLICES_AT_ONCE][MT];
#pragma unroll
      for (int s = 0; s < SLICES_AT_ONCE; s++)
#pragma unroll
        for (int i = 0; i < MT; i++)
          xv[s][i] = PREFETCH_X ? xcur[s0 + s][PREFETCH_X ? i : 0] : load_x(x_checked, kb, s0 + s, i);
#pragma unroll
      for (int s = 0; s < SLICES_AT_ONCE; s++) {
        const int slice = s0 + s;
        if constexpr (FP8) {
          fpx_u32 a[4];
          fp8_fragment<E, M>(wr, slice, a);
#pragma unroll
          for (int i = 0; i < MT; i++) {
            fpx_u32 b0 = ((const fpx_u32 *)&xv[s][i])[0];
            fpx_u32 b1 = ((const fpx_u32 *)&xv[s][i])[1];
            if constexpr (BITS < 8) { /* the k order of place_quad */
              b0 = prmt(b0, b0, 0x3120u);
              b1 = prmt(b1, b1, 0x3120u);
            }
            mma_16832_fp8<Fp8Target<E, M>::TYPE, ACT - 2>(GROUP ? gacc[i] : acc[i], a, b0, b1);
          }
        }
#pragma unroll
        for (int tt = 0; tt < (FP8 ? 0 : 2); tt++) {
          const int t = 2 * slice + tt;
          fpx_u32 a[4];
#pragma unroll
          for (int j = 0; j < 4; j++) a[j] = dequant_pair<E, M, ACT_BF16>(wr, 4 * t + j);
#pragma unroll
          for (int i = 0; i < MT; i++) {
            const fpx_u32 *xw = (const fpx_u32 *)&xv[s][i];
            const fpx_u32 b0 = xw[tt ? 2 : 0];
            const fpx_u32 b1 = xw[tt ? 3 : 1];
            if (GROUP) mma_16816<ACT_BF16>(gacc[i], a, b0, b1);
            else mma_16816<ACT_BF16>(acc[i], a, b0, b1);
          }
        }
        if (GROUP && ((slice + 1) * 32) % GROUP == 0) {
          int gi = (kb * 256 + slice * 32) / (GROUP ? GROUP : 1);
          gi = gi < groups_per_row ? gi : groups_per_row - 1;
          const float s0v = row0 < n_total ? scales[(long long)row0 * groups_per_row + gi] : 0.f;
          const float s1v = row1 < n_total ? scales[(long long)row1 * groups_per_row + gi] : 0.f;
#pragma unroll
          for (int i = 0; i < MT; i++) {
            acc[i][0] += gacc[i][0] * s0v;
            acc[i][1] += gacc[i][1] * s0v;
            acc[i][2] += gacc[i][2] * s1v;
            acc[i][3] += gacc[i][3] * s1v;
            gacc[i][0] = gacc[i][1] = gacc[i][2] = gacc[i][3] = 0.f;
          }
        }
        if (PREFETCH_X && (MT == 1 || kb_next < kb_end)) {
#pragma unroll
          for (int i = 0; i < MT; i++) xcur[slice][PREFETCH_X ? i : 0] = load_x(x_checked, kb_next, slice, i);
        }
      }
    }
  };
  /* the step with its X loads checked only where they need it */
  auto run_step = [&](const uint4 (&cur)[BITS], uint4 (&nxt)[BITS], int kb) {
    if (X_UNCHECKED && block_in_k(PREFETCH_X ? kb + WARPS_K : kb)) step(false, cur, nxt, kb);
    else step(true, cur, nxt, kb);
  };

  /* the weight buffers: used in turn with TWO_BUFFERS, else wb is copied to wa */
  uint4 wa[BITS], wb[BITS];
  int kb = kb_begin + wk;
  if (tile_valid && kb < kb_end) {
#pragma unroll
    for (int i = 0; i < BITS; i++) wa[i] = load_weights(wtile + (long long)kb * BITS * 32 + i * 32, policy);
    if (PREFETCH_X) {
      const bool in_k = X_UNCHECKED && block_in_k(kb);
#pragma unroll
      for (int s = 0; s < 8; s++)
#pragma unroll
        for (int i = 0; i < MT; i++)
          xcur[s][PREFETCH_X ? i : 0] = in_k ? load_x(false, kb, s, i) : load_x(true, kb, s, i);
    }
  }
  if constexpr (TWO_BUFFERS) {
    while (tile_valid && kb < kb_end) {
      run_step(wa, wb, kb);
      kb += WARPS_K;
      if (kb >= kb_end) break;
      run_step(wb, wa, kb);
      kb += WARPS_K;
    }
  } else {
    for (; tile_valid && kb < kb_end; kb += WARPS_K) {
      run_step(wa, wb, kb);
#pragma unroll
      for (int i = 0; i < BITS; i++) wa[i] = wb[i];
    }
  }

  /* reduce the K warps of the block through shared memory */
  if (WARPS_K > 1) {
    __shared__ float red[WARPS_K > 1 ? WARPS_K - 1 : 1][WARPS_N][MT * 4][32];
    if (wk > 0) {
#pragma unroll
      for (int i = 0; i < MT; i++)
#pragma unroll
        for (int r = 0; r < 4; r++) red[wk - 1][wn][i * 4 + r][lane] = acc[i][r];
    }
    __syncthreads();
    if (wk == 0) {
#pragma unroll
      for (int v = 0; v < WARPS_K - 1; v++)
#pragma unroll
        for (int i = 0; i < MT; i++)
#pragma unroll
          for (int r = 0; r < 4; r++) acc[i][r] += red[v][wn][i * 4 + r][lane];
    }
  }

  /* per-row scale and the FP16 / FP8 bias correction, on the accumulator */
  const float corr = FP8 ? pow2(Fp8Target<E, M>::BIAS - F::BIAS) : ACT_BF16 ? 1.f : pow2(15 - F::BIAS);
  float rs0 = corr, rs1 = corr;
  if (!GROUP) {
    rs0 *= row0 < n_total ? scales[row0] : 0.f;
    rs1 *= row1 < n_total ? scales[row1] : 0.f;
  }
#pragma unroll
  for (int i = 0; i < MT; i++) {
    float xs0 = 1.f, xs1 = 1.f; /* the X scales of the lane's two tokens */
    if (FP8) {
      const int t0 = m0 + i * 8 + tig * 2;
      xs0 = t0 < m_total ? x_scales[(long long)t0 * x_scale_stride] : 0.f;
      xs1 = t0 + 1 < m_total ? x_scales[(long long)(t0 + 1) * x_scale_stride] : 0.f;
    }
    acc[i][0] *= rs0 * xs0;
    acc[i][1] *= rs0 * xs1;
    acc[i][2] *= rs1 * xs0;
    acc[i][3] *= rs1 * xs1;
  }

  bool write_out = wk == 0 && tile_valid;
  if (split_k > 1) {
    const long long plane = (long long)m_total * n_total;
    if (write_out) {
#pragma unroll
      for (int i = 0; i < MT; i++)
#pragma unroll
        for (int r = 0; r < 4; r++) {
          const int token = m0 + i * 8 + tig * 2 + (r & 1);
          const int row = (r < 2) ? row0 : row1;
          if (token < m_total && row < n_total)
            ws[blockIdx.z * plane + (long long)token * n_total + row] = acc[i][r];
        }
    }
    __threadfence();
    __syncthreads();
    __shared__ unsigned last_flag;
    unsigned *counter = counters + blockIdx.y * gridDim.x + blockIdx.x;
    if (threadIdx.x == 0) {
      const unsigned prev = atomicAdd(counter, 1u);
      last_flag = prev == (unsigned)split_k - 1;
    }
    __syncthreads();
    if (!last_flag) return;
    __threadfence();
    if (threadIdx.x == 0) *counter = 0; /* re-arm for the next launch */
    if (write_out) {
#pragma unroll
      for (int i = 0; i < MT; i++)
#pragma unroll
        for (int r = 0; r < 4; r++) {
          const int token = m0 + i * 8 + tig * 2 + (r & 1);
          const int row = (r < 2) ? row0 : row1;
          float sum = 0.f;
          if (token < m_total && row < n_total)
            for (int z = 0; z < split_k; z++)
              sum += z == (int)blockIdx.z ? acc[i][r]
                                          : __ldcg(ws + z * plane + (long long)token * n_total + row);
          acc[i][r] = sum;
        }
    }
  }
  if (!write_out) return;
#pragma unroll
  for (int i = 0; i < MT; i++)
#pragma unroll
    for (int r = 0; r < 4; r++) {
      const int token = m0 + i * 8 + tig * 2 + (r & 1);
      const int row = (r < 2) ? row0 : row1;
      if (token >= m_total || row >= n_total) continue;
      const long long idx = (long long)token * n_total + row;
      if (OUT == 0) ((unsigned short *)y_ptr)[idx] = f32_to_f16(acc[i][r]);
      else if (OUT == 1) ((unsigned short *)y_ptr)[idx] = f32_to_bf16(acc[i][r]);
      else ((float *)y_ptr)[idx] = acc[i][r];
    }
}

/*
 * Dequantize the tiled weights to a dense [N,K] matrix. One warp per
 * 16 x 256 block; grid x = ceil(N/16) * ceil(K/256) / 4, block 128 threads.
 * OUT: 0 = f16, 1 = bf16.
 */
template <int E, int M, int OUT, int GROUP>
__global__ void __launch_bounds__(128)
    dequantize(const uint4 *__restrict__ w, const float *__restrict__ scales,
               unsigned short *__restrict__ out, int n_total, int k_total) {
  typedef Format<E, M> F;
  constexpr int BITS = F::BITS;
  const int lane = threadIdx.x & 31;
  const int block_id = blockIdx.x * 4 + (threadIdx.x >> 5);
  const int k_blocks = (k_total + 255) >> 8;
  const int n_tiles = (n_total + 15) >> 4;
  if (block_id >= n_tiles * k_blocks) return;
  const int n_tile = block_id / k_blocks, kb = block_id % k_blocks;
  const int g = lane >> 2, tig = lane & 3;
  const int groups_per_row = GROUP ? (k_total + GROUP - 1) / GROUP : 1;
  uint4 v[BITS];
#pragma unroll
  for (int i = 0; i < BITS; i++) v[i] = w[((long long)block_id * BITS + i) * 32 + lane];
  const fpx_u32 *wr = (const fpx_u32 *)v;
#pragma unroll
  for (int t = 0; t < 16; t++)
#pragma unroll
    for (int j = 0; j < 4; j++) {
      /* exact values through the BF16 mapping */
      const fpx_u32 pair = dequant_pair<E, M, 1>(wr, 4 * t + j);
#pragma unroll
      for (int h = 0; h < 2; h++) {
        const int row = n_tile * 16 + g + 8 * (j & 1);
        const int r = (j >> 1) * 2 + h; /* register index within the tile */
        const int col = kb * 256 + (t >> 1) * 32 + tig * 8 + (t & 1) * 4 + r;
        if (row >= n_total || col >= k_total) continue;
        const float value = __int_as_float((h ? pair >> 16 : pair & 0xFFFFu) << 16);
        const float scale = scales[(long long)row * groups_per_row + (GROUP ? col / GROUP : 0)];
        const float y = value * scale;
        out[(long long)row * k_total + col] = OUT ? f32_to_bf16(y) : f32_to_f16(y);
      }
    }
}

}  // namespace fpx
