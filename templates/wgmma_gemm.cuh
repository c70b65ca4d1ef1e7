/*
 * wgmma_gemm.cuh - the Hopper (sm_90a) weight-only GEMM family for large
 * batches: warpgroup MMA (wgmma.mma_async) with the dequantized weights as
 * the register A operand and the activations as the shared-memory B operand.
 * Self-contained (no toolkit headers); instantiated by name expression from
 * gen/wgmma_config.c as fpx::wgmma_gemm<E, M, ACT, OUT, GROUP, TOKENS, STAGES,
 * YTMA>.
 * The kernel body exists for sm_90a only (wgmma and setmaxnreg); for other
 * targets the instance compiles to an empty kernel that the launcher never
 * runs.
 *
 * Y[M,N] = X[M,K] * dequant(W)[N,K]^T is computed as Y^T = W X^T: weights on
 * the m64 side, tokens on the wgmma N side (TOKENS = 64, 128 or 256).
 *
 * Block: 384 threads = 3 warpgroups. Warpgroup 0 produces (one thread
 * issues the TMA copies of X into a STAGES-deep shared ring), warpgroups 1
 * and 2 consume: each owns 64 weight rows, i.e. four 16-row tiles of the
 * tiled layout (docs/LAYOUT.md), one per warp, so a block covers 128 weight
 * rows x TOKENS tokens. setmaxnreg moves registers from the producer (40)
 * to the consumers (232); it acts on whole warpgroups, hence a producer
 * warpgroup rather than a single warp.
 *
 * Weights (A, registers). Each consumer lane loads its BITS 16-byte words of
 * a 16 x 256 block one block ahead, as weight_only.cuh does. wgmmas go out
 * in batches of BATCH steps (4, a whole stage; 2 with 256 tokens, for
 * registers; fewer when a scale group is shorter), one commit group each:
 * the A fragments of batch b+1 are built while the wgmmas of batch b run
 * (wgmma.fence, commit_group, wait_group 1), so the tensor cores see
 * BATCH wgmmas in flight rather than one (with 64 tokens a single
 * m64n64k16 is too short to cover the wait). Warp w of a warpgroup holds rows 16w..16w+15
 * in the m16nXk16 A-fragment layout, which is what wgmma wants per warp:
 *   - f16/bf16 X: m64nTk16, one k16 tile of the layout per step, the
 *     register pairs j = 0..3 of weight_only.cuh unchanged;
 *   - FP8 X (ACT 2 = e4m3, 3 = e5m2): m64nTk32, one 32-column slice per
 *     step. Register r holds four consecutive k of row g + 8 (r & 1): the
 *     lane's physical columns tig*8 + 0..3 (r < 2) or tig*8 + 4..7 (r >= 2),
 *     i.e. pairs j = (r & 1) and 2 + (r & 1) of k16 tile 2s + (r >> 1).
 *     Weight codes become E4M3 (E <= 4, M <= 3) or E5M2 (e5m2 itself) bytes
 *     by shift and mask; both are exact, the 2^(bias) difference is applied
 *     to the FP32 accumulator. Below 8 bits a register is built four codes
 *     at a time in the column order +0, +2, +1, +3 (place_quad), and the
 *     permutation pass swaps X's middle bytes to match.
 *
 * Activations (B, shared memory, K-major, 128-byte swizzle). A stage holds
 * 128 bytes of K per token (64 columns of f16/bf16, 128 of FP8): TOKENS
 * rows of 128 bytes, 8-row groups 1024 bytes apart, 16-byte chunk c of row r
 * stored at chunk c ^ (r % 8), which is what a TMA copy with 128-byte
 * swizzle writes. The tiled layout permutes K inside each 32-column slice
 * (lane column group tig owns physical columns 8*tig..+7), while wgmma reads
 * k in a fixed order; so B must hold X's columns permuted: with 16-bit X,
 * physical word (column pair) 4*tig + 2*tt + rr of a slice at word 8*tt +
 * 4*rr + tig (tt = k16 tile of the slice, rr = register pair half); with FP8
 * X, physical word 2*tig + rr (four columns) at word 4*rr + tig. The unit
 * that stays contiguous is one 4-byte word, which neither TMA (16-byte
 * granularity) nor 16-byte cp.async can move, and 4-byte cp.async copies
 * cap the kernel at about a fifth of the tensor cores (measured). So a
 * separate pass, wgmma_permute_x below, writes X permuted into a workspace
 * (rows of K rounded up to 32 columns) and the producer copies it by TMA:
 * one 2-D box of 128 bytes x TOKENS rows per stage, completion counted in
 * bytes on the stage's full barrier; columns past the workspace row and
 * tokens past M arrive as zeros. Consumers wait on the full barrier and
 * release the stage on its empty barrier (one arrival per consumer warp)
 * once the wgmmas reading it have completed.
 *
 * K runs over whole 256-column blocks (stages past K are zero-filled, not
 * skipped): ptxas serializes the wgmmas (C7513) when any branch sits between
 * a wgmma and the wait that retires it, so the consumer loop has none (the
 * stage release is a predicated mbarrier.arrive, the group-scale loads read
 * clamped rows unconditionally).
 *
 * Descriptor of B (PTX ISA "matrix descriptor"): start address >> 4 in bits
 * 0-13, leading byte offset 16 >> 4 = 1 (unused for swizzled K-major), stride
 * byte offset 1024 >> 4 = 64 (8 rows x 128 bytes) in bits 32-45, base offset
 * 0 (stages are 1024-aligned), layout type 1 (128-byte swizzle) in bits
 * 62-63. Step q of a stage starts 32 * q bytes into the row.
 *
 * Split-K (gridDim.z > 1, for grids too small to fill the GPU): each split
 * runs the pipeline above over its range of 256-column blocks, stores its
 * accumulators as FP32 partials in their register layout (coalesced float4
 * stores), and the last split of a tile (an atomic counter per tile) adds
 * all partials in split order before the epilogue.
 *
 * Epilogue: per-row scale (GROUP 0) or group scales (GROUP 32..256: a second
 * accumulator restarted with scale-d = 0 at each group and added into the
 * first with the group's scale, as gacc in weight_only.cuh), the exponent
 * bias correction, x_scales[token] for FP8 X, Y[token][row] stored as f16,
 * bf16 or f32 (OUT 0, 1, 2). f16/bf16 Y is staged in shared memory (a
 * tile of its own, or the idle X ring after the block's last unit):
 * stmatrix.trans writes a [token][row] tile in the TMA's 128-byte swizzle,
 * and one thread stores it with two TMA stores, which the consumers do not
 * wait for (the tile's next writer waits until they have read it). Where
 * TMA cannot store Y (N not a multiple of 8, Y not 16-byte aligned), for
 * f32 Y and for 2-stage instances the lanes store straight from the
 * accumulator registers (two values of a lane are rows g and g + 8 of
 * tokens 2*tig + {0, 1}). N is padded to 16 by
 * the layout, K to 256 (zero codes); rows past N and tokens past M are not
 * stored.
 *
 * Limits (checked by gen/wgmma_config.c and the launcher): GROUP != 0
 * needs TOKENS <= 128 (two accumulators); X rows must be 4-byte aligned (K
 * even for 16-bit X, K % 4 == 0 for FP8 X) for the permutation pass.
 */
typedef unsigned int fpx_u32;
typedef unsigned long long fpx_u64;

namespace fpx {
namespace wg {

/* ---- format, layout and code conversion (integer only) --------------- */

template <int E, int M>
struct Format {
  static constexpr int BITS = 1 + E + M;
  static constexpr int BIAS = (1 << (E - 1)) - 1;
  /* words of the lane's block data taken by planes wider than p */
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

/* The two codes of register pair q (= 4 * tile + j), one per 16-bit half. */
template <typename F, int P>
__device__ __forceinline__ fpx_u32 plane_field(const fpx_u32 *w, int q) {
  constexpr int pairs_per_word = 16 / P;
  constexpr fpx_u32 mask = ((1u << P) - 1) * 0x10001u;
  const fpx_u32 word = w[F::plane_word_offset(P) + q / pairs_per_word];
  return ((word >> ((q % pairs_per_word) * P)) & mask) << F::plane_code_shift(P);
}

template <typename F>
__device__ __forceinline__ fpx_u32 code_pair(const fpx_u32 *w, int q) {
  fpx_u32 c = 0;
  if (F::BITS & 8) c |= plane_field<F, 8>(w, q);
  if (F::BITS & 4) c |= plane_field<F, 4>(w, q);
  if (F::BITS & 2) c |= plane_field<F, 2>(w, q);
  if (F::BITS & 1) c |= plane_field<F, 1>(w, q);
  return c;
}

/* Register pair q -> FP16 or BF16 bit patterns of value * 2^(bias - 15)
 * (FP16) or value * 2^(bias - 127) (BF16), placed straight from the plane
 * words without assembling the codes (the same placement as
 * weight_only.cuh's place_pair: the templates compile on their own). Per
 * plane: the field shifted to its target bits and merged; the plane with
 * the sign makes its magnitude and sign copies with one integer multiply by
 * 2^a + 2^b where the copies cannot overlap (P <= b - a <= 16 - P: BF16
 * targets up to 7 bits), after a shift right by 8 where a copy would shift
 * right, then one mask. */
__device__ __forceinline__ fpx_u32 shift_signed(fpx_u32 x, int s) { return s >= 0 ? x << s : x >> -s; }

template <typename F, int P, int MAG_SHIFT>
__device__ __forceinline__ fpx_u32 place_plane16(const fpx_u32 *w, int q) {
  constexpr int pairs_per_word = 16 / P;
  constexpr int cs = F::plane_code_shift(P);
  constexpr bool has_sign = cs + P == F::BITS;
  constexpr int mag_bits = has_sign ? P - 1 : P;
  constexpr fpx_u32 mag_mask = (((1u << mag_bits) - 1) << (cs + MAG_SHIFT)) * 0x10001u;
  constexpr fpx_u32 sign_mask = 0x80008000u;
  const fpx_u32 word = w[F::plane_word_offset(P) + q / pairs_per_word];
  const int pos = (q % pairs_per_word) * P;
  const int a = cs + MAG_SHIFT - pos, b = 15 - (pos + P - 1);
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

template <int E, int M, int ACT_BF16>
__device__ __forceinline__ fpx_u32 place_pair16(const fpx_u32 *w, int q) {
  typedef Format<E, M> F;
  constexpr int MAG_SHIFT = ACT_BF16 ? 7 - M : 10 - M;
  fpx_u32 v = 0;
  if (F::BITS & 8) v |= place_plane16<F, 8, MAG_SHIFT>(w, q);
  if (F::BITS & 4) v |= place_plane16<F, 4, MAG_SHIFT>(w, q);
  if (F::BITS & 2) v |= place_plane16<F, 2, MAG_SHIFT>(w, q);
  if (F::BITS & 1) v |= place_plane16<F, 1, MAG_SHIFT>(w, q);
  return v;
}

/* Four codes (one per byte) -> FP8 bit patterns with TM mantissa bits (3:
 * E4M3, 2: E5M2) of value * 2^(bias - target bias). Exact for E <= 4, M <= 3
 * into E4M3 and for e5m2 into E5M2. */
template <int E, int M, int TM>
__device__ __forceinline__ fpx_u32 place_quad8(fpx_u32 c) {
  constexpr int BITS = 1 + E + M;
  constexpr fpx_u32 MAG_MASK = ((1u << (BITS - 1)) - 1) * 0x01010101u;
  return ((c << (8 - BITS)) & 0x80808080u) | ((c & MAG_MASK) << (TM - M));
}

/* Formats below 8 bits, four codes at once (as weight_only.cuh's
 * place_quad; the templates compile on their own): the codes of pairs q
 * and q + 2 (columns +0 +1 and +2 +3 of one row) as FP8 bit patterns with
 * TM mantissa bits, in the byte order [+0, +2, +1, +3], which is the order
 * in which a plane of P bits holds their fields (pos, pos + 2P, pos + 16,
 * pos + 16 + 2P of one word). Per plane, bytes 0 and 2 take one shift and
 * bytes 1 and 3 one 8 - 2P bits longer (the same for P = 4), each followed
 * by a masked merge: the sign to bit 7, the other code bits up by TM - M.
 * X's words carry their two middle bytes swapped to match
 * (wgmma_permute_x). */
template <int E, int M, int TM, int P>
__device__ __forceinline__ fpx_u32 quad_plane(const fpx_u32 *w, int q) {
  typedef Format<E, M> F;
  static_assert(P < 8, "8-bit planes are their own FP8 bytes");
  constexpr int pairs_per_word = 16 / P;
  constexpr int cs = F::plane_code_shift(P);
  constexpr bool has_sign = cs + P == F::BITS;
  constexpr int mag_bits = has_sign ? P - 1 : P;
  constexpr fpx_u32 mag_mask = (((1u << mag_bits) - 1) << (cs + TM - M)) * 0x01010101u;
  constexpr fpx_u32 sign_mask = 0x80808080u;
  constexpr int gap = 8 - 2 * P;
  constexpr fpx_u32 even = gap ? 0x00FF00FFu : 0xFFFFFFFFu, odd = gap ? 0xFF00FF00u : 0u;
  const fpx_u32 word = w[F::plane_word_offset(P) + q / pairs_per_word];
  const int pos = (q % pairs_per_word) * P;
  const int a = cs + TM - M - pos, b = 8 - P - pos;
  fpx_u32 v = 0;
  if (mag_bits > 0) v = shift_signed(word, a) & (mag_mask & even);
  if (mag_bits > 0 && gap) v |= shift_signed(word, a + gap) & (mag_mask & odd);
  if (has_sign) v |= shift_signed(word, b) & (sign_mask & even);
  if (has_sign && gap) v |= shift_signed(word, b + gap) & (sign_mask & odd);
  return v;
}

template <int E, int M, int TM>
__device__ __forceinline__ fpx_u32 place_quad(const fpx_u32 *w, int q) {
  constexpr int BITS = 1 + E + M;
  fpx_u32 v = 0;
  if (BITS & 4) v |= quad_plane<E, M, TM, 4>(w, q);
  if (BITS & 2) v |= quad_plane<E, M, TM, 2>(w, q);
  if (BITS & 1) v |= quad_plane<E, M, TM, 1>(w, q);
  return v;
}

/* Bytes 0 and 2 of lo, then bytes 0 and 2 of hi: the four codes of two
 * register pairs (columns +0 +1 and +2 +3) in column order. */
__device__ __forceinline__ fpx_u32 bytes_0202(fpx_u32 lo, fpx_u32 hi) {
  return __byte_perm(lo, hi, 0x6420);
}

/* Shared memory of a launch (mirrored by fpx__wgmma_smem_bytes in
 * gen/wgmma_config.c): the X ring at a 1024-byte boundary (1024 bytes of
 * slack), then the epilogue's tile of 16-bit Y (TOKENS x 256 bytes, also
 * at a 1024-byte boundary) where the total stays within the 227 KB a
 * block may have (epilogue_tile_bytes is 0 where it does not: the tile
 * then overlays the ring), then a full and an empty barrier per stage. */
constexpr int SMEM_LIMIT = 227 * 1024;
/* a token's 128 rows of 16-bit Y in the epilogue's tile
 * (FPX__WGMMA_TILE_ROW_BYTES) */
constexpr int Y_TILE_ROW_BYTES = 128 * 2;
__device__ __host__ constexpr int ring_smem_bytes(int tokens, int stages) {
  return stages * tokens * 128 + 16 * stages + 1024;
}
__device__ __host__ constexpr int epilogue_tile_bytes(int tokens, int stages) {
  return ring_smem_bytes(tokens, stages) + tokens * Y_TILE_ROW_BYTES <= SMEM_LIMIT
             ? tokens * Y_TILE_ROW_BYTES
             : 0;
}

/* Tile t of a launch -> its 128-row block (x) and token tile (y), for
 * tiles_x row blocks. The tiles go in groups of 2^raster_log2 token
 * tiles, the token tile fastest inside a group: the tiles running at the
 * same time (persistent blocks take consecutive tiles) then cover about
 * 132 / 2^raster_log2 row blocks of that many token tiles, so each block
 * of weights they read is shared by that many of them in L2 instead of
 * being read again (from DRAM, where the weights outgrow L2) for every
 * token tile. whole_tiles is the number of tiles in whole groups
 * (tiles_y rounded down to a multiple of the group, times tiles_x); the
 * rest, and raster_log2 0, go row blocks fastest. One division, by
 * tiles_x, as the plain order takes, and the test against a kernel
 * parameter: this runs beside live accumulators, where testing against
 * a derived value made the 256-token instances spill 76-172 bytes. A
 * bijection of 0 .. tiles_x * tiles_y - 1
 * (tools/check-stream-k-schedule.py). */
struct TileXY {
  int x, y;
};
__device__ __host__ inline TileXY raster_tile(int t, int tiles_x, int whole_tiles, int raster_log2) {
  const int lg = t < whole_tiles ? raster_log2 : 0;
  const int y0 = t / tiles_x >> lg << lg, i = t - y0 * tiles_x;
  return TileXY{i >> lg, y0 + (i & ((1 << lg) - 1))};
}

/* Word of a 32-column slice of X that becomes word d of the slice in the
 * order the B operand needs (the X permutation above): the slice's C x 4
 * words (C = 4 with 16-bit X, 64-byte slices; C = 2 with FP8 X, 32-byte
 * slices), read as a 4 x C matrix, transposed. */
template <int ACT_FP8>
__device__ __forceinline__ int permuted_source_word(int d) {
  constexpr int C = ACT_FP8 ? 2 : 4;
  return (d & 3) * C + (d >> 2);
}

}  // namespace wg
}  // namespace fpx

/* Everything above is plain integer code that is also valid host C++ (so
 * its bit manipulation can be exercised without a GPU, given stand-ins for
 * __device__, __host__ and __byte_perm); everything below needs the CUDA
 * compiler. */
#if defined(__CUDACC__)
namespace fpx {
namespace wg {

/* ---- PTX wrappers ----------------------------------------------------- */

__device__ __forceinline__ fpx_u32 smem_addr(const void *p) {
  fpx_u32 a;
  asm("{\n.reg .u64 t;\ncvta.to.shared.u64 t, %1;\ncvt.u32.u64 %0, t;\n}\n" : "=r"(a) : "l"(p));
  return a;
}

__device__ __forceinline__ void mbar_init(fpx_u32 bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(bar), "r"(count) : "memory");
}

__device__ __forceinline__ void mbar_wait(fpx_u32 bar, int parity) {
  asm volatile(
      "{\n.reg .pred done;\nWAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT;\n}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}

/* Arrives when pred is nonzero. Predicated rather than branched: a branch
 * between a wgmma and its wait makes ptxas serialize the wgmmas (C7513). */
__device__ __forceinline__ void mbar_arrive_if(fpx_u32 bar, int pred) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %1, 0;\n@p mbarrier.arrive.shared::cta.b64 _, [%0];\n}\n" ::"r"(bar),
      "r"(pred)
      : "memory");
}

/* Arrives on bar and adds `bytes` to the transaction count it waits for. */
__device__ __forceinline__ void mbar_arrive_expect_tx(fpx_u32 bar, fpx_u32 bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes)
               : "memory");
}

/* A tensor map (CUtensorMap, 128 bytes) passed by value as a
 * __grid_constant__ kernel parameter. */
struct alignas(64) TensorMap {
  fpx_u64 opaque[16];
};

/* TMA: the box at (col, row) of the tensor map into shared memory at dst;
 * completion counted in bytes on bar. Coordinates past the tensor read as
 * zeros. */
__device__ __forceinline__ void tma_load_2d(fpx_u32 dst, const TensorMap *map, int col, int row,
                                            fpx_u32 bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%2, %3}], [%4];" ::"r"(dst),
      "l"((fpx_u64)map), "r"(col), "r"(row), "r"(bar)
      : "memory");
}

/* TMA store of the box at (col, row) of the tensor map from shared memory
 * at src, in the thread's bulk group; coordinates past the tensor are not
 * written. The generic-proxy writes to src must be fenced first
 * (fence_proxy_async). */
__device__ __forceinline__ void tma_store_2d(const TensorMap *map, int col, int row, fpx_u32 src) {
  asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%1, %2}], [%3];" ::"l"(
                   (fpx_u64)map),
               "r"(col), "r"(row), "r"(src)
               : "memory");
}
__device__ __forceinline__ void bulk_commit() { asm volatile("cp.async.bulk.commit_group;" ::: "memory"); }
/* the thread's bulk groups have read their shared memory */
__device__ __forceinline__ void bulk_wait_read() {
  asm volatile("cp.async.bulk.wait_group.read 0;" ::: "memory");
}
/* the thread's bulk groups are complete */
__device__ __forceinline__ void bulk_wait() { asm volatile("cp.async.bulk.wait_group 0;" ::: "memory"); }
/* this thread's shared-memory writes become visible to the async proxy */
__device__ __forceinline__ void fence_proxy_async() {
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
}

__device__ __forceinline__ fpx_u32 load_word(const fpx_u32 *p) {
  fpx_u32 v;
  asm volatile("ld.global.nc.u32 %0, [%1];" : "=r"(v) : "l"(p));
  return v;
}

__device__ __forceinline__ uint4 load_weights(const uint4 *p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

__device__ __forceinline__ float load_scale(const float *p) {
  float v;
  asm volatile("ld.global.nc.f32 %0, [%1];" : "=f"(v) : "l"(p));
  return v;
}

/* exact bf16x2 multiply: fma with a -0 addend */
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

/* Two floats -> one register of two f16 (OUT 0) or bf16 (OUT 1), lo in the
 * low half, round to nearest even (as f32_to_f16 / f32_to_bf16). */
template <int OUT>
__device__ __forceinline__ fpx_u32 pack_half2(float lo, float hi) {
  fpx_u32 d;
  if (OUT == 0) asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
  else asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
  return d;
}

/* Four 8x8 matrices of 16-bit values in the mma accumulator layout (lane
 * holds row lane / 4, columns 2 * (lane % 4) + {0, 1}), stored transposed:
 * lanes 8m .. 8m + 7 give the shared addresses of the 8 rows of stored
 * matrix m (= the columns of r[m]), 16 bytes each. */
__device__ __forceinline__ void stmatrix_x4_trans(fpx_u32 addr, const fpx_u32 (&r)[4]) {
  asm volatile("stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [%0], {%1, %2, %3, %4};" ::"r"(addr),
               "r"(r[0]), "r"(r[1]), "r"(r[2]), "r"(r[3])
               : "memory");
}

/* Shared memory matrix descriptor of a K-major operand with 128-byte
 * swizzle: 8-row groups 1024 bytes apart. */
__device__ __forceinline__ fpx_u64 smem_desc_sw128(fpx_u32 addr) {
  return (fpx_u64)((addr & 0x3FFFFu) >> 4) | ((fpx_u64)1 << 16) | ((fpx_u64)(1024 >> 4) << 32) |
         ((fpx_u64)1 << 62);
}

/* Barrier 1 over the two consumer warpgroups (256 threads); the producer
 * warpgroup has exited by then. */
__device__ __forceinline__ void consumer_barrier() { asm volatile("bar.sync 1, 256;" ::: "memory"); }

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
}
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
}

/* Keeps the compiler from moving accesses of accumulator registers across
 * the wgmma wait. */
template <int N>
__device__ __forceinline__ void fence_regs(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; i++) asm volatile("" : "+f"(d[i])::"memory");
}

/* ---- wgmma with A from registers -------------------------------------- */

/* One asm statement per accumulator width: d (32, 64 or 128 floats per
 * thread for N = 64, 128, 256) += A (4 registers) x B (descriptor); scale_d
 * 0 overwrites d instead. SHAPE_TYPES: "m64nNk16.f32.bf16.bf16" etc.; TAIL:
 * ", 0" (imm-trans-b, 16-bit types only) or "". */
#define FPX__WGMMA_N64(SHAPE_TYPES, TAIL) \
  asm volatile( \
      "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n" \
      "wgmma.mma_async.sync.aligned." SHAPE_TYPES " " \
      "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15," \
      "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31}, " \
      "{%32,%33,%34,%35}, %36, p, 1, 1" TAIL ";\n}\n" \
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), \
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), \
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]) \
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(scale_d))

#define FPX__WGMMA_N128(SHAPE_TYPES, TAIL) \
  asm volatile( \
      "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n" \
      "wgmma.mma_async.sync.aligned." SHAPE_TYPES " " \
      "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15," \
      "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31," \
      "%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47," \
      "%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}, " \
      "{%64,%65,%66,%67}, %68, p, 1, 1" TAIL ";\n}\n" \
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), \
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), \
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), \
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), \
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), \
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), \
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]) \
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(scale_d))

#define FPX__WGMMA_N256(SHAPE_TYPES, TAIL) \
  asm volatile( \
      "{\n.reg .pred p;\nsetp.ne.b32 p, %133, 0;\n" \
      "wgmma.mma_async.sync.aligned." SHAPE_TYPES " " \
      "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15," \
      "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31," \
      "%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47," \
      "%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63," \
      "%64,%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79," \
      "%80,%81,%82,%83,%84,%85,%86,%87,%88,%89,%90,%91,%92,%93,%94,%95," \
      "%96,%97,%98,%99,%100,%101,%102,%103,%104,%105,%106,%107,%108,%109,%110,%111," \
      "%112,%113,%114,%115,%116,%117,%118,%119,%120,%121,%122,%123,%124,%125,%126,%127}, " \
      "{%128,%129,%130,%131}, %132, p, 1, 1" TAIL ";\n}\n" \
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), \
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), \
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), \
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), \
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), \
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), \
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), \
        "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), \
        "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), \
        "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), \
        "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), \
        "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), \
        "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), \
        "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), \
        "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127]) \
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(scale_d))

/* TY: 0 f16, 1 bf16 (k16); FP8 (k32), weight type first: 2 e4m3 x e4m3,
 * 3 e4m3 x e5m2, 4 e5m2 x e4m3, 5 e5m2 x e5m2. */
#define FPX__WGMMA_TYPES(N, MACRO)                                 \
  if (TY == 0) MACRO("m64n" #N "k16.f32.f16.f16", ", 0");          \
  else if (TY == 1) MACRO("m64n" #N "k16.f32.bf16.bf16", ", 0");   \
  else if (TY == 2) MACRO("m64n" #N "k32.f32.e4m3.e4m3", "");      \
  else if (TY == 3) MACRO("m64n" #N "k32.f32.e4m3.e5m2", "");      \
  else if (TY == 4) MACRO("m64n" #N "k32.f32.e5m2.e4m3", "");      \
  else MACRO("m64n" #N "k32.f32.e5m2.e5m2", "")

template <int TY>
__device__ __forceinline__ void wgmma(float (&d)[32], const fpx_u32 (&a)[4], fpx_u64 desc,
                                      int scale_d) {
  FPX__WGMMA_TYPES(64, FPX__WGMMA_N64);
}
template <int TY>
__device__ __forceinline__ void wgmma(float (&d)[64], const fpx_u32 (&a)[4], fpx_u64 desc,
                                      int scale_d) {
  FPX__WGMMA_TYPES(128, FPX__WGMMA_N128);
}
template <int TY>
__device__ __forceinline__ void wgmma(float (&d)[128], const fpx_u32 (&a)[4], fpx_u64 desc,
                                      int scale_d) {
  FPX__WGMMA_TYPES(256, FPX__WGMMA_N256);
}

#undef FPX__WGMMA_TYPES
#undef FPX__WGMMA_N64
#undef FPX__WGMMA_N128
#undef FPX__WGMMA_N256

}  // namespace wg

/* ---- the GEMM --------------------------------------------------------- */

/*
 * Grid: persistent blocks (at most one per SM), each running the units
 * below in turn. Tiles of 128 weight rows x TOKENS tokens, numbered in the
 * order of raster_tile (2^raster_log2 token tiles per group, the first
 * raster_whole_tiles tiles in whole groups); split_k >= 1
 * cuts each tile's 256-column blocks into that many units, 0 runs
 * stream-K. With split-K or stream-K, partials holds the FP32 partial
 * tiles (fpx__wgmma_partial_bytes, fpx__wgmma_stream_partial_bytes) and
 * counters one zeroed word per tile, which the kernel leaves zeroed.
 * Block: 384 threads. Dynamic shared memory: fpx__wgmma_smem_bytes (the
 * ring, its barriers, alignment slack, the epilogue tile where it fits).
 * ACT: 0 f16, 1 bf16, 2 e4m3, 3 e5m2. OUT: 0 f16, 1 bf16, 2 f32. GROUP: 0 =
 * one scale per row, else the group size (32..256). x_scales: FP8 X only, M
 * entries, or one with x_scale_per_tensor. x_map: the tensor map of the
 * permuted X (wgmma_permute_x): 2-D, columns innermost, M rows, a box of
 * 128 bytes x TOKENS rows, 128-byte swizzle.
 */
template <int E, int M, int ACT, int OUT, int GROUP, int TOKENS, int STAGES, int YTMA>
__global__ void __launch_bounds__(384, 1)
    wgmma_gemm(const uint4 *__restrict__ w, const __grid_constant__ wg::TensorMap x_map,
               const float *__restrict__ scales, const float *__restrict__ x_scales,
               void *__restrict__ y_ptr, int m_total, int n_total, int k_total,
               int x_scale_per_tensor, int split_k, float4 *__restrict__ partials,
               unsigned *__restrict__ counters, int raster_log2, int raster_whole_tiles,
               const __grid_constant__ wg::TensorMap y_map) {
  static_assert(TOKENS == 64 || TOKENS == 128 || TOKENS == 256, "TOKENS is 64, 128 or 256");
  static_assert(GROUP == 0 || TOKENS <= 128, "group scales need TOKENS <= 128");
  static_assert(STAGES >= 2 && STAGES <= 8, "STAGES is 2..8");
  static_assert(ACT < 2 || (E <= 4 && M <= 3) || (E == 5 && M == 2),
                "FP8 activations need a weight format with an exact FP8 form");
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ == 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using namespace wg;
  typedef Format<E, M> F;
  /* 16-bit Y leaves through the staged tile and TMA stores (the launcher
   * takes YTMA 0 where TMA cannot store Y: N % 8 != 0, Y not 16-byte
   * aligned) */
  constexpr bool Y_TMA = YTMA != 0 && OUT != 2;
  constexpr int BITS = F::BITS;
  constexpr bool FP8 = ACT >= 2;
  constexpr int XBYTES = FP8 ? 1 : 2;
  constexpr int STAGE_K = 128 / XBYTES;           /* X columns per stage */
  constexpr int STAGES_PER_BLOCK = 256 / STAGE_K; /* 4 (16-bit X) or 2 (FP8 X) */
  constexpr int STAGE_BYTES = TOKENS * 128;
  constexpr int NACC = TOKENS / 2;
  constexpr int STEP_K = FP8 ? 32 : 16; /* columns per wgmma */
  /* wgmmas issued back to back per commit group: 4 (a stage), 2 with 256
   * tokens or 128 with group scales (registers: more spill), never more
   * than the steps of one scale group */
  constexpr int GROUP_STEPS = GROUP ? GROUP / STEP_K : 4;
  constexpr int BATCH_MAX = TOKENS == 256 || (GROUP && TOKENS == 128) ? 2 : 4;
  constexpr int BATCH = GROUP_STEPS < BATCH_MAX ? GROUP_STEPS : BATCH_MAX;
  /* column blocks of weights loaded ahead: 2 where the registers allow
   * (accumulators, A fragments, three weight buffers and about 40 more
   * within the consumers' 232), else 1 */
  constexpr int REGS_BESIDES_WEIGHTS = NACC * (GROUP ? 2 : 1) + 2 * BATCH * 4 + 40;
  constexpr int DEPTH = REGS_BESIDES_WEIGHTS + 3 * BITS * 4 <= 232 ? 2 : 1;
  constexpr bool W_E4M3 = E <= 4 && M <= 3; /* FP8 X: weights as E4M3, else E5M2 */
  constexpr int TY = !FP8 ? ACT : 2 + (W_E4M3 ? 0 : 2) + (ACT == 3 ? 1 : 0);
  /* the A operand holds value * 2^(BIAS - TARGET_BIAS) */
  constexpr int TARGET_BIAS = !FP8 ? (ACT == 0 ? 15 : F::BIAS) : (W_E4M3 ? 7 : 15);

  extern __shared__ unsigned char smem_raw[];
  const fpx_u32 smem = (smem_addr(smem_raw) + 1023u) & ~1023u;
  /* the epilogue's [token][row] tile: after the ring where the launch
   * reserved room for it (epilogue_tile_bytes), else over the X ring */
  constexpr bool OWN_TILE = epilogue_tile_bytes(TOKENS, STAGES) > 0;
  const fpx_u32 own_tile = smem + STAGES * STAGE_BYTES;
  const fpx_u32 full_bar = own_tile + (OWN_TILE ? TOKENS * Y_TILE_ROW_BYTES : 0),
                empty_bar = full_bar + 8 * STAGES;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  /* whole 256-column blocks: stages past K are zero-filled rather than
   * skipped, so that no branch sits inside the consumers' wgmma pipeline */
  const int k_blocks = (k_total + 255) >> 8;
  const int tiles_x = (n_total + 127) >> 7;
  const int tiles = tiles_x * ((m_total + TOKENS - 1) / TOKENS);
  /* The block's units, each a range of column blocks of one tile (128
   * weight rows x TOKENS tokens, weight rows fastest), never empty:
   *   split_k >= 1: unit u is split u % split_k of tile u / split_k (the
   *     launcher keeps split_k <= the column blocks), and block b runs
   *     units b, b + gridDim.x, ...;
   *   split_k == 0 (stream-K): with at least two waves of tiles, all but
   *     the last one to two waves' worth run whole, tile b, b + gridDim.x,
   *     ... for block b (dp_tiles of them: neighbouring tiles run at the
   *     same time, so X and the weights are shared in L2). The rest, as
   *     (tile, column block) iterations, tile-major, are cut into
   *     gridDim.x contiguous ranges as even as they can be, at least one
   *     iteration each (the launcher keeps gridDim.x <= the tiles x
   *     column blocks, and the rest is at least a wave of tiles when
   *     dp_tiles > 0); block b then runs the pieces of tiles in range b.
   * A unit is one of `slots` contributors to its tile (slot 0 first along
   * K); with one, it stores Y itself. The cursor `at` is the unit index or
   * the first iteration. */
  const bool stream = split_k == 0;
  const int blocks = gridDim.x;
  const int dp_tiles = stream && tiles >= 2 * blocks ? (tiles / blocks - 1) * blocks : 0;
  const int dp_iters = dp_tiles * k_blocks;
  const int sk_iters = (tiles - dp_tiles) * k_blocks; /* < 2^31: checked by the launcher */
  auto sk_begin = [&](int b) { return dp_iters + (int)((long long)b * sk_iters / blocks); };
  auto sk_owner = [&](int i) {
    return (int)(((long long)(i - dp_iters) * blocks + blocks - 1) / sk_iters);
  };
  struct Unit {
    int tile, slot, slots, row_block, m0, kb_begin, kb_end;
    int next; /* the cursor of the block's next unit */
  };
  auto unit_at = [&](int at) {
    Unit r;
    if (stream && at < dp_iters) { /* a whole tile */
      r.tile = at / k_blocks;
      r.kb_begin = 0;
      r.kb_end = k_blocks;
      r.slot = 0;
      r.slots = 1;
      r.next = r.tile + blocks < dp_tiles ? at + blocks * k_blocks : sk_begin(blockIdx.x);
    } else if (stream) {
      r.tile = at / k_blocks;
      const int tile_begin = r.tile * k_blocks, tile_end = tile_begin + k_blocks;
      const int end = sk_begin(blockIdx.x + 1);
      r.kb_begin = at - tile_begin;
      r.kb_end = (end < tile_end ? end : tile_end) - tile_begin;
      const int first = sk_owner(tile_begin);
      r.slot = (int)blockIdx.x - first;
      r.slots = sk_owner(tile_end - 1) - first + 1;
      r.next = tile_begin + r.kb_end;
    } else {
      r.tile = at / split_k;
      r.slot = at - r.tile * split_k;
      r.slots = split_k;
      r.kb_begin = (int)((long long)r.slot * k_blocks / split_k);
      r.kb_end = (int)((long long)(r.slot + 1) * k_blocks / split_k);
      r.next = at + blocks;
    }
    const TileXY xy = raster_tile(r.tile, tiles_x, raster_whole_tiles, raster_log2);
    r.row_block = xy.x;
    r.m0 = xy.y * TOKENS;
    return r;
  };
  const int first_at = !stream ? (int)blockIdx.x
                       : dp_tiles > 0 ? (int)blockIdx.x * k_blocks
                                      : sk_begin(blockIdx.x);
  const int end_at = stream ? sk_begin(blockIdx.x + 1) : tiles * split_k;
  /* Where contributor z of a tile keeps its partial sums, in tiles of
   * partials: base + z * stride, plus odd0 for z = 0. With split-K
   * [split][tile]. With stream-K (shared tiles lie past dp_tiles) two per
   * block b: 2b for the tile its range starts in, 2b + 1 for the one it
   * ends in (the tiles between are its alone); contributor z of a tile is
   * block first + z, and only the first can have started before the
   * tile. */
  struct Slots {
    int base, stride, odd0;
    __device__ int index(int z) const { return base + z * stride + (z == 0 ? odd0 : 0); }
  };
  auto slots_of = [&](int tile) {
    if (!stream) return Slots{tile, tiles, 0};
    const int tile_begin = tile * k_blocks;
    const int first = sk_owner(tile_begin);
    return Slots{2 * first, 2, sk_begin(first) < tile_begin ? 1 : 0};
  };

  if (threadIdx.x == 0) {
#pragma unroll
    for (int s = 0; s < STAGES; s++) {
      mbar_init(full_bar + 8 * s, 1); /* the producer's arrive.expect_tx */
      mbar_init(empty_bar + 8 * s, 8);  /* one arrival per consumer warp */
    }
  }
  __syncthreads();

  if (warp < 4) {
    /* ---- producer warpgroup: one thread moves the X stages by TMA, unit
     * after unit: the next unit's stages load during this one's epilogue ---- */
    asm volatile("setmaxnreg.dec.sync.aligned.u32 40;");
    if (threadIdx.x != 0) return;
    /* launched as a programmatic dependent of wgmma_permute_x: everything
     * before this (block start, barriers, the consumers' first weight
     * loads) overlaps the pass; X may be read once the pass is complete */
    asm volatile("griddepcontrol.wait;" ::: "memory");
    int slot = 0, phase = 0;
    for (int at = first_at; at < end_at;) {
      const Unit un = unit_at(at);
      at = un.next;
      const int n_stages = (un.kb_end - un.kb_begin) * STAGES_PER_BLOCK;
      for (int it = 0; it < n_stages; it++) {
        mbar_wait(empty_bar + 8 * slot, phase ^ 1);
        mbar_arrive_expect_tx(full_bar + 8 * slot, STAGE_BYTES);
        tma_load_2d(smem + slot * STAGE_BYTES, &x_map, (un.kb_begin * STAGES_PER_BLOCK + it) * STAGE_K,
                    un.m0, full_bar + 8 * slot);
        if (++slot == STAGES) {
          slot = 0;
          phase ^= 1;
        }
      }
    }
    return;
  }

  /* ---- consumer warpgroups: 64 weight rows each, one 16-row tile per warp ---- */
  asm volatile("setmaxnreg.inc.sync.aligned.u32 232;");
  const int cw = warp - 4; /* warp w of a warpgroup holds rows 16w..16w+15 of its 64 */
  const int g = lane >> 2, tig = lane & 3;
  const int ct = threadIdx.x - 128; /* consumer thread 0..255 */
  const int groups_per_row = GROUP ? (k_total + GROUP - 1) / GROUP : 1;
  constexpr fpx_u32 BF16_SCALE = (fpx_u32)(127 + 127 - F::BIAS) << 7; /* 2^(127 - bias) */
  /* the warp's 16-row tile of a unit's weights: its lane's first word, or
   * none past N */
  auto weight_tile = [&](const Unit &un, bool &valid) {
    const int n_tile = un.row_block * 8 + cw;
    valid = n_tile < ((n_total + 15) >> 4);
    return w + (long long)(valid ? n_tile : 0) * k_blocks * (BITS * 32) + lane;
  };

  float acc[NACC];
  float gacc[GROUP ? NACC : 1];
  /* weight words of DEPTH + 1 column blocks in registers: block kb is
   * dequantized while the loads of kb + 1 .. kb + DEPTH are in flight. The
   * kb loop is unrolled DEPTH + 1 times so that each buffer keeps its role
   * (a register move out of a buffer still loading would wait for it). A
   * unit's first DEPTH blocks are loaded before the previous unit's
   * epilogue, so that their latency overlaps it. */
  uint4 wbuf[DEPTH + 1][BITS];
  auto preload = [&](const Unit &un) {
    bool valid;
    const uint4 *wt = weight_tile(un, valid);
#pragma unroll
    for (int d = 0; d < DEPTH; d++)
#pragma unroll
      for (int i = 0; i < BITS; i++)
        wbuf[d][i] = valid && un.kb_begin + d < un.kb_end
                         ? load_weights(wt + (long long)(un.kb_begin + d) * (BITS * 32) + i * 32)
                         : make_uint4(0, 0, 0, 0);
  };
  /* A fragments of two batches: the one whose wgmmas run, the one being built */
  fpx_u32 afrag[2][BATCH][4];
  int slot = 0, phase = 0, prev_slot = 0;
  if (first_at < end_at) preload(unit_at(first_at));

  int next_at = first_at;
  for (int at = first_at; at < end_at; at = next_at) {
    const Unit un = unit_at(at);
    next_at = un.next;
    const int m0 = un.m0, kb_begin = un.kb_begin, kb_end = un.kb_end;
    bool tile_valid;
    const uint4 *wtile = weight_tile(un, tile_valid);
    const int row0 = (un.row_block * 8 + cw) * 16 + g, row1 = row0 + 8;
    const int row0c = row0 < n_total ? row0 : n_total - 1, row1c = row1 < n_total ? row1 : n_total - 1;
    /* acc starts at zero: with per-row scales the unit's first wgmma
     * overwrites it (scale-d 0; zeroing it in the loop would make ptxas
     * serialize the wgmmas, C7515); with group scales it is no wgmma
     * accumulator and gacc restarts at each group */
    if constexpr (GROUP != 0) {
#pragma unroll
      for (int i = 0; i < NACC; i++) acc[i] = 0.f;
    }
    float gs0 = 0.f, gs1 = 0.f; /* scales of the current group, rows g and g + 8 */
    int it = 0;                 /* stages of this unit so far */
    /* one 256-column block: dequantize `cur`, load block kb + DEPTH into `into` */
    auto column_block = [&](const int kb, const uint4(&cur)[BITS], uint4(&into)[BITS]) {
      if (tile_valid && kb + DEPTH < kb_end) {
#pragma unroll
        for (int i = 0; i < BITS; i++)
          into[i] = load_weights(wtile + (long long)(kb + DEPTH) * (BITS * 32) + i * 32);
      }
      const fpx_u32 *wr = (const fpx_u32 *)cur;
#pragma unroll
      for (int st = 0; st < STAGES_PER_BLOCK; st++) {
#pragma unroll
        for (int bq = 0; bq < 4 / BATCH; bq++) {
          /* an even number of batches per 256-column block: the parity is
           * known at compile time */
          fpx_u32(&ab)[BATCH][4] = afrag[(st * (4 / BATCH) + bq) & 1];
#pragma unroll
          for (int j = 0; j < BATCH; j++) {
            const int step = st * 4 + bq * BATCH + j; /* 16-bit X: k16 tile 0..15; FP8 X: slice 0..7 */
            if constexpr (FP8) {
#pragma unroll
              for (int r = 0; r < 4; r++) {
                const int t = 2 * step + (r >> 1);
                if constexpr (BITS < 8) {
                  ab[j][r] = place_quad<E, M, W_E4M3 ? 3 : 2>(wr, 4 * t + (r & 1));
                } else {
                  const fpx_u32 lo = code_pair<F>(wr, 4 * t + (r & 1));
                  const fpx_u32 hi = code_pair<F>(wr, 4 * t + 2 + (r & 1));
                  ab[j][r] = place_quad8<E, M, W_E4M3 ? 3 : 2>(bytes_0202(lo, hi));
                }
              }
            } else {
#pragma unroll
              for (int r = 0; r < 4; r++) {
                ab[j][r] = place_pair16<E, M, ACT>(wr, 4 * step + r);
                if (ACT == 1) ab[j][r] = bf16x2_mul(ab[j][r], BF16_SCALE | (BF16_SCALE << 16));
              }
            }
          }
          /* a batch lies inside one scale group (BATCH divides the steps of a
           * group), so a group starts at a batch's first step and ends at its
           * last; group boundaries fall on 32-column slices */
          const int first = st * 4 + bq * BATCH, last = first + BATCH - 1;
          const int first_col = kb * 256 + first * STEP_K, end_col = kb * 256 + (last + 1) * STEP_K;
          const bool group_start = GROUP && first_col % (GROUP ? GROUP : 1) == 0;
          const bool group_end = GROUP && end_col % (GROUP ? GROUP : 1) == 0;
          if (group_start) {
            int gi = first_col / (GROUP ? GROUP : 1);
            gi = gi < groups_per_row ? gi : groups_per_row - 1;
            /* unconditional loads (clamped rows): no branch inside the wgmma pipeline */
            const float s0 = load_scale(scales + (long long)row0c * groups_per_row + gi);
            const float s1 = load_scale(scales + (long long)row1c * groups_per_row + gi);
            gs0 = row0 < n_total ? s0 : 0.f;
            gs1 = row1 < n_total ? s1 : 0.f;
          }
          if (bq == 0) mbar_wait(full_bar + 8 * slot, phase);
          const fpx_u64 desc = smem_desc_sw128(smem + slot * STAGE_BYTES);
          wgmma_fence();
#pragma unroll
          for (int j = 0; j < BATCH; j++) {
            const fpx_u64 d = desc + 2 * (bq * BATCH + j); /* step q of a stage: +32 * q bytes */
            if constexpr (GROUP != 0) wgmma<TY>(gacc, ab[j], d, group_start && j == 0 ? 0 : 1);
            else wgmma<TY>(acc, ab[j], d, it > 0 || bq > 0 || j > 0);
          }
          wgmma_commit();
          wgmma_wait<1>();
          if (bq == 0) /* the previous stage's wgmmas are complete: release it */
            mbar_arrive_if(empty_bar + 8 * prev_slot, lane == 0 && it > 0);
          if constexpr (GROUP != 0) {
            if (group_end) { /* every block ends a group: GROUP divides 256 */
              wgmma_wait<0>();
              fence_regs(gacc);
#pragma unroll
              for (int i = 0; i < NACC; i++) acc[i] += gacc[i] * ((i & 2) ? gs1 : gs0);
            }
          }
        }
        prev_slot = slot;
        if (++slot == STAGES) {
          slot = 0;
          phase ^= 1;
        }
        it++;
      }
    };
    for (int kb = kb_begin; kb < kb_end; kb += DEPTH + 1) {
      column_block(kb, wbuf[0], wbuf[DEPTH]);
      if (kb + 1 >= kb_end) break;
      column_block(kb + 1, wbuf[1], wbuf[0]);
      if constexpr (DEPTH == 2) {
        if (kb + 2 >= kb_end) break;
        column_block(kb + 2, wbuf[2], wbuf[1]);
      }
    }
    wgmma_wait<0>();
    fence_regs(acc);
    /* the unit's last stage is read: release it (the producer may be
     * filling the others with the next unit's X already) */
    mbar_arrive_if(empty_bar + 8 * prev_slot, lane == 0);
    const bool last_unit = next_at >= end_at;
    if (!last_unit) preload(unit_at(next_at));

    if (un.slots > 1) {
      /* ---- a shared tile: partial sums in the accumulator's own layout
       * (float4 i4 of consumer thread ct at [Slots::index * NACC / 4 +
       * i4][ct]), added in slot order, so the result does not depend on
       * which contributor adds them. With stream-K slot 0 first looks whether
       * all the others are done (it usually comes last: the tile is the
       * end of its range and the start of theirs): then it adds theirs
       * to its accumulators and stores nothing. Otherwise each stores its
       * partials and counts itself on counters[tile]; the last adds them
       * all, its own reloaded (this keeps acc dead across the barrier:
       * with acc live there ptxas spills the 256-token instances). */
      const int tile = un.tile;
      const Slots sl = slots_of(tile);
      __shared__ unsigned tile_state; /* 1: this one adds the partials; 2: all the others were done */
      if (stream && un.slot == 0) { /* split-K's slots run side by side: the look rarely pays */
        consumer_barrier(); /* every thread has read tile_state of the block's previous unit */
        if (ct == 0) tile_state = atomicAdd(counters + tile, 0u) == (unsigned)un.slots - 1 ? 2u : 0u;
        consumer_barrier();
      }
      const bool others_done = stream && un.slot == 0 && tile_state == 2u;
      if (!others_done) {
#pragma unroll
        for (int i4 = 0; i4 < NACC / 4; i4++)
          __stcg(partials + ((long long)sl.index(un.slot) * (NACC / 4) + i4) * 256 + ct,
                 make_float4(acc[4 * i4], acc[4 * i4 + 1], acc[4 * i4 + 2], acc[4 * i4 + 3]));
        __threadfence();
        consumer_barrier();
        if (ct == 0) tile_state = atomicAdd(counters + tile, 1u) == (unsigned)un.slots - 1 ? 1u : 0u;
        consumer_barrier();
        if (tile_state == 0u) continue;
      }
      __threadfence();
      if (ct == 0) counters[tile] = 0; /* re-armed for the next launch */
      if (!others_done) {
#pragma unroll
        for (int i4 = 0; i4 < NACC / 4; i4++) {
          const float4 v = __ldcg(partials + ((long long)sl.index(0) * (NACC / 4) + i4) * 256 + ct);
          acc[4 * i4] = v.x;
          acc[4 * i4 + 1] = v.y;
          acc[4 * i4 + 2] = v.z;
          acc[4 * i4 + 3] = v.w;
        }
      }
      for (int z = 1; z < un.slots; z++) {
        const float4 *pz = partials + (long long)sl.index(z) * (NACC / 4) * 256 + ct;
#pragma unroll
        for (int i4 = 0; i4 < NACC / 4; i4++) {
          const float4 v = __ldcg(pz + i4 * 256);
          acc[4 * i4] += v.x;
          acc[4 * i4 + 1] += v.y;
          acc[4 * i4 + 2] += v.z;
          acc[4 * i4 + 3] += v.w;
        }
      }
    }

    /* ---- epilogue: scales, bias correction, Y[token][row] ---- */
    const float corr = pow2(TARGET_BIAS - F::BIAS);
    float rs0 = corr, rs1 = corr;
    if (!GROUP) {
      rs0 *= row0 < n_total ? load_scale(scales + row0) : 0.f;
      rs1 *= row1 < n_total ? load_scale(scales + row1) : 0.f;
    }
    /* f16/bf16 Y goes through shared memory where TMA can store it
     * (Y_TMA: N % 8 == 0, Y 16-byte aligned): the accumulators are stored
     * transposed by stmatrix into a [token][128 rows] tile, which one
     * thread hands to two TMA stores; the consumers go on to the next unit
     * without waiting for them. The tile has its own room where the shared
     * memory allows; else it overlays the X ring, which is idle only after
     * the block's last unit (before that the producer is loading the next
     * unit's stages). Otherwise, and for f32 Y, the lanes store their
     * values directly. */
    constexpr bool STAGED =
        OUT != 2 && (OWN_TILE || TOKENS * Y_TILE_ROW_BYTES <= STAGES * STAGE_BYTES);
    if (STAGED && Y_TMA && (OWN_TILE || last_unit)) {
      const fpx_u32 tile = OWN_TILE ? own_tile : smem;
      /* FP8 X: the unit's per-token scales, one load per thread into
       * shared memory, read there by the conversion below (loaded inside
       * it, each lane's 2 x TOKENS / 8 loads waited for one after the
       * other between the stmatrix stores); the previous unit's reads of
       * them ended before its second barrier */
      __shared__ __align__(16) float unit_x_scales[FP8 ? TOKENS : 1];
      if (FP8 && ct < TOKENS) {
        const int t = m0 + ct < m_total ? m0 + ct : m_total - 1;
        unit_x_scales[ct] = load_scale(x_scales + (x_scale_per_tensor ? 0 : t));
      }
      /* the previous unit's TMA stores may still read the tile (its
       * issuing thread waits for that), the other warpgroup may still read
       * X stages that the tile overlays (its last wgmmas): nothing has
       * synchronized them since */
      if (ct == 0) bulk_wait_read();
      consumer_barrier();
      const int mi = lane >> 3, mrow = lane & 7; /* the stored matrix and row this lane addresses */
      /* The tile: two [TOKENS][64 rows] halves of 128-byte rows in the
       * TMA's 128-byte swizzle, 16-byte chunk c of token t at c ^ (t % 8)
       * (which also keeps the stmatrix stores conflict-free). The lane's
       * row of its matrix is token 8 (j0 + (mi >> 1)) + mrow, chunk
       * 2 (cw % 4) + (mi & 1) of half cw / 4; t % 8 is mrow; per j0, 8
       * tokens further. */
      const int chunk = (cw & 3) * 2 + (mi & 1);
      const fpx_u32 lane_tile =
          tile + (cw >> 2) * (TOKENS * 128) + (8 * (mi >> 1) + mrow) * 128 + ((chunk ^ mrow) << 4);
#pragma unroll
      for (int j0 = 0; j0 < TOKENS / 8; j0 += 2) {
        fpx_u32 r[4]; /* matrices (j0, rows g), (j0, rows g + 8), (j0 + 1, g), (j0 + 1, g + 8) */
#pragma unroll
        for (int jj = 0; jj < 2; jj++) {
          const int j = j0 + jj;
          float xs0 = 1.f, xs1 = 1.f;
          if (FP8) {
            const float2 xs = *(const float2 *)&unit_x_scales[8 * j + 2 * tig];
            xs0 = xs.x;
            xs1 = xs.y;
          }
#pragma unroll
          for (int v1 = 0; v1 < 2; v1++) {
            const float rs = v1 ? rs1 : rs0;
            r[2 * jj + v1] =
                pack_half2<OUT>(acc[4 * j + 2 * v1] * rs * xs0, acc[4 * j + 2 * v1 + 1] * rs * xs1);
          }
        }
        stmatrix_x4_trans(lane_tile + j0 * (8 * 128), r);
      }
      fence_proxy_async();
      consumer_barrier();
      if (ct == 0) {
        tma_store_2d(&y_map, un.row_block * 128, m0, tile);
        tma_store_2d(&y_map, un.row_block * 128 + 64, m0, tile + TOKENS * 128);
        bulk_commit();
      }
      continue;
    }
    if (!tile_valid) continue;
#pragma unroll
    for (int j = 0; j < TOKENS / 8; j++)
#pragma unroll
      for (int v0 = 0; v0 < 2; v0++) {
        const int token = m0 + 8 * j + 2 * tig + v0;
        if (token >= m_total) continue;
        const float xs = FP8 ? load_scale(x_scales + (x_scale_per_tensor ? 0 : token)) : 1.f;
#pragma unroll
        for (int v1 = 0; v1 < 2; v1++) {
          const int row = v1 ? row1 : row0;
          if (row >= n_total) continue;
          const float v = acc[4 * j + 2 * v1 + v0] * (v1 ? rs1 : rs0) * xs;
          const long long idx = (long long)token * n_total + row;
          if (OUT == 0) ((unsigned short *)y_ptr)[idx] = f32_to_f16(v);
          else if (OUT == 1) ((unsigned short *)y_ptr)[idx] = f32_to_bf16(v);
          else ((float *)y_ptr)[idx] = v;
        }
      }
  }
  /* the last TMA store of Y is complete before the block's shared memory
   * goes */
  if (Y_TMA && ct == 0) bulk_wait();
#endif
}

/*
 * X in the B operand's order, for the TMA copies: xp[row] = X[row] with the
 * words of every 32-column slice permuted (permuted_source_word), rows of
 * `chunks` 16-byte chunks (K rounded up to 32 columns), columns past K zero.
 * One thread per chunk of a row; grid x over a row's chunks, y over rows (a
 * grid-stride loop beyond gridDim.y rows). XBYTES: 2 (f16, bf16) or 1 (FP8);
 * X rows start 4-byte aligned (K * XBYTES % 4 == 0). SWAP_MID (FP8 X with
 * weights below 8 bits) also swaps the two middle bytes of every word: the
 * column order +0, +2, +1, +3 of place_quad's A registers.
 */
template <int XBYTES, int SWAP_MID>
__global__ void __launch_bounds__(256)
    wgmma_permute_x(const fpx_u32 *__restrict__ x, uint4 *__restrict__ xp, int m_total, int k_total) {
  constexpr int C = XBYTES == 1 ? 2 : 4; /* chunks per slice */
  const long long row_words = (long long)k_total * XBYTES / 4;
  const int chunks = (k_total + 31) / 32 * C;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  /* the GEMM launched after this pass may start its blocks now; it waits
   * for this grid to complete (griddepcontrol.wait) before it reads xp */
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
  const int q = blockIdx.x * blockDim.x + threadIdx.x;
  if (q >= chunks) return;
  const int slice = q / C, c = q % C;
  for (long long row = blockIdx.y; row < m_total; row += gridDim.y) {
    fpx_u32 v[4];
#pragma unroll
    for (int t = 0; t < 4; t++) {
      const long long word = (long long)slice * 4 * C + wg::permuted_source_word<XBYTES == 1>(4 * c + t);
      v[t] = word < row_words ? wg::load_word(x + row * row_words + word) : 0u;
      if (SWAP_MID) v[t] = __byte_perm(v[t], 0u, 0x3120);
    }
    xp[row * chunks + q] = make_uint4(v[0], v[1], v[2], v[3]);
  }
}

}  // namespace fpx
#endif /* __CUDACC__ */
