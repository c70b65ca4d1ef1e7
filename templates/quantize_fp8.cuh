/*
 * quantize_fp8.cuh - FP16/BF16 -> FP8 (E4M3 or E5M2) quantization on the GPU:
 * per-row, per-tensor and static scales (fpx_quantize_activations_gpu,
 * fpx_weights_quantize_gpu), and the packer of 8-bit codes into the tiled
 * weight layout. Self-contained: no toolkit headers; sm_80 and later.
 * Instantiated by name expression from gen/quantize_fp8_names.c.
 *
 * Results equal the CPU reference (gen/activation_quant.c) bit for bit:
 *   scale = amax / max_finite, one FP32 division (correctly rounded, as the
 *           reference's double quotient rounded to FP32 is), 1 for an
 *           all-zero row, NaN for a row holding NaN or Inf;
 *   code  = the FP8 value nearest to the exact quotient x / scale (ties to
 *           the even code, saturating at +-max_finite, sign of zero kept).
 * The code is not the FP8 rounding of an FP32 quotient: FP32 x / scale often
 * lands exactly on a midpoint of two FP8 values when the exact quotient does
 * not, and rounding twice would then break the tie the wrong way. So each
 * element takes a faithful FP32 quotient q (Markstein: q0 = x * (1/s), one
 * residual step), the exact sign of the remainder x - q * s (one FMA), and
 * turns q into its round-to-odd neighbour: an inexact quotient gets an odd
 * last bit, on the side of the exact value. Round-to-odd at 24 bits followed
 * by round-to-nearest-even at 4 or 3 bits is the correct single rounding.
 * The remainder's sign is exact while s >= 2^-86 and the quotient matters
 * (>= 2^-17); smaller or larger scales are first brought into [2^-85, 2^64]
 * by a power of two applied to x and s alike, which leaves x / s unchanged.
 * Where x / s overflows FP32 (a tiny static scale or scale_ub, a large x)
 * the residual steps make NaN, which the conversion instruction would turn
 * into the NaN code: an element whose first product |x * (1/s)| exceeds
 * 2^20 takes 2^20 with the sign of x instead, which both encoders saturate.
 * That changes no other code: then |x / s| > 2^20 / (1 + 2^-23) (two
 * roundings of relative 2^-24), beyond max_finite, so the code was the
 * saturated one already.
 *
 * The FP8 encode of the round-to-odd value is the cvt.rn.satfinite
 * instruction on sm_89+ (HW = 1), else integer code (HW = 0, or any arch
 * below sm_89): round to nearest even on the f32 bits, saturating.
 *
 * Fast path (HW = 1 on sm_89+, F16 input): a unit of 16 or 8 elements is
 * first encoded from two FP32 products that bracket x / s
 * (encode_unit_fast: 2 FMUL and one conversion per element); where both
 * give the same code it is the right one, and a unit where any element's
 * two codes differ (about 3 in 10^4 random F16 elements; every tie and
 * near-tie) is encoded again by the exact path above. The row amax uses one
 * packed max per two elements on sm_86+.
 *
 * Row kernel: a group of 2^group_log2 threads (32..1024) per row, 32
 * elements per thread per tile, 16-byte loads (L1 bypassed), 16-byte code
 * stores when K % 16 == 0 (U = 16), else 8-byte ones (U = 8). A row of up to
 * 32 * group elements stays in registers between the amax and the encode;
 * longer rows are read twice (amax pass, then encode pass, last tile first
 * and from registers, the rest mostly from L2).
 */
typedef unsigned int fpx_u32;
typedef unsigned long long fpx_u64;

namespace fpx {

/* ---- scalar math --------------------------------------------------------- */

/* FMT: 0 = E4M3 (OCP E4M3FN), 1 = E5M2. */
template <int FMT>
struct Fp8 {
  static constexpr int MAN = FMT ? 2 : 3;
  static constexpr int BIAS = FMT ? 15 : 7;
  static constexpr fpx_u32 MAX_CODE = FMT ? 0x7Bu : 0x7Eu; /* 57344, 448 */
  static constexpr float MAX_FINITE = FMT ? 57344.0f : 448.0f;
  /* f32 bits of the smallest normal FP8 value, 2^(1 - BIAS) */
  static constexpr fpx_u32 MIN_NORMAL_BITS = (fpx_u32)(127 + 1 - BIAS) << 23;
  /* f32 exponent minus FP8 exponent, in place */
  static constexpr fpx_u32 REBIAS = (fpx_u32)(127 - BIAS) << 23;
  static constexpr int SHIFT = 23 - MAN;
  /* 2^(24 - BIAS - MAN): its f32 ulp is the FP8 subnormal spacing */
  static constexpr float SUBNORMAL_MAGIC = FMT ? 128.0f : 16384.0f;
};

/* The scale of a row (or tensor) from the f32 bits of its amax: NaN when the
 * amax is NaN or Inf, else amax (clamped to scale_ub when scale_ub > 0)
 * divided by max_finite, and 1 when that is zero. */
__device__ __forceinline__ float dynamic_scale(fpx_u32 amax_bits, float scale_ub, float max_finite) {
  if (amax_bits >= 0x7F800000u) return __uint_as_float(0x7FC00000u);
  float amax = __uint_as_float(amax_bits);
  if (scale_ub > 0.0f && amax > scale_ub) amax = scale_ub;
  const float s = __fdiv_rn(amax, max_finite);
  return s > 0.0f ? s : 1.0f;
}

/* A scale prepared for the encode: s and x multiplied by p (a power of two,
 * 1 unless s is outside [2^-64, 2^64]), and inv = 1 / (s * p). lo and hi
 * bracket 1 / s for the fast path (encode_unit_fast): inv * (1 -+ 2^-21);
 * when p != 1 there is no fast path and hi is +Inf (fast_allowed fails). */
struct Scale {
  float s, inv, p, lo, hi;
};

__device__ __forceinline__ Scale prepare_scale(float s) {
  Scale r;
  r.p = 1.0f;
  if (s < 0x1p-64f) r.p = 0x1p64f;
  else if (s > 0x1p64f) r.p = 0x1p-64f;
  r.s = __fmul_rn(s, r.p);
  r.inv = __fdiv_rn(1.0f, r.s);
  const bool fast = r.p == 1.0f;
  r.lo = fast ? __fmul_rn(r.inv, 0x1.fffffcp-1f) : 0.0f;
  r.hi = fast ? __fmul_rn(r.inv, 0x1.000002p+0f) : __uint_as_float(0x7F800000u);
  return r;
}

/* Whether the fast path may run on inputs of magnitude at most `bound`
 * (a thread's running amax, f32): the scale needs no prescaling and the
 * bracket products stay below 2^126. False for a NaN or Inf bound and a
 * NaN scale (such rows take the exact path). */
__device__ __forceinline__ bool fast_allowed(const Scale &c, float bound) {
  return __fmul_rn(bound, c.hi) < 0x1p126f;
}

/* f32 bits of x / s rounded to odd at 24 bits, with the sign of x; of
 * +-2^20 where |x / s| is beyond that (any FP8 code saturates there, and an
 * overflowing quotient would otherwise give NaN bits). PRE: x is multiplied
 * by c.p first (that product may overflow to Inf; q0 is then Inf too). */
template <bool PRE>
__device__ __forceinline__ fpx_u32 odd_quotient(float x, const Scale &c) {
  const fpx_u32 sign = __float_as_uint(x) & 0x80000000u;
  if (PRE) x = __fmul_rn(x, c.p);
  const float q0 = __fmul_rn(x, c.inv);
  const float r0 = fmaf(-q0, c.s, x);
  const float q = fmaf(r0, c.inv, q0); /* faithful: one of the two neighbours of x / s */
  const float r = fmaf(-q, c.s, x);    /* exact sign; 0 iff q is exact */
  const fpx_u32 a = __float_as_uint(q) & 0x7FFFFFFFu;
  /* inexact: the odd one of q and its neighbour toward x / s (below q in
   * magnitude when r and x differ in sign) */
  const fpx_u32 below = (__float_as_uint(r) ^ __float_as_uint(x)) >> 31;
  const fpx_u32 odd = r != 0.0f ? ((a - below) | 1u) : a;
  /* |q0| > 2^20 (f32 bits 0x49800000; Inf too) implies
   * |x / s| > 2^20 (1 + 2^-24)^-2 > 57344 */
  constexpr fpx_u32 BIG = 0x49800000u;
  return ((__float_as_uint(q0) & 0x7FFFFFFFu) > BIG ? BIG : odd) | sign;
}

/* FP8 code of the magnitude with f32 bits a (any a: NaN and Inf bits
 * saturate like finite values above max_finite): round to nearest even,
 * saturate at MAX_CODE. */
template <int FMT>
__device__ __forceinline__ fpx_u32 encode_magnitude(fpx_u32 a) {
  typedef Fp8<FMT> F;
  if (a < F::MIN_NORMAL_BITS) /* subnormal or zero: the f32 add rounds to the FP8 spacing */
    return __float_as_uint(__fadd_rn(__uint_as_float(a), F::SUBNORMAL_MAGIC)) -
           __float_as_uint(F::SUBNORMAL_MAGIC);
  const fpx_u32 n = (a - F::REBIAS + ((1u << (F::SHIFT - 1)) - 1u) + ((a >> F::SHIFT) & 1u)) >> F::SHIFT;
  return n < F::MAX_CODE ? n : F::MAX_CODE; /* n grows with a */
}

/* FP8 code of signed f32 bits b, without hardware conversion. */
template <int FMT>
__device__ __forceinline__ fpx_u32 encode_soft(fpx_u32 b) {
  return encode_magnitude<FMT>(b & 0x7FFFFFFFu) | ((b >> 24) & 0x80u);
}

/* ---- end of scalar math -------------------------------------------------- */

/* Two codes in bits 0-7 (b0) and 8-15 (b1) of f32 bit patterns b0, b1. */
template <int FMT, int HW>
__device__ __forceinline__ fpx_u32 encode_pair(fpx_u32 b0, fpx_u32 b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  if constexpr (HW != 0) {
    unsigned short d;
    if constexpr (FMT == 0)
      asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(d) : "f"(__uint_as_float(b1)), "f"(__uint_as_float(b0)));
    else
      asm("cvt.rn.satfinite.e5m2x2.f32 %0, %1, %2;" : "=h"(d) : "f"(__uint_as_float(b1)), "f"(__uint_as_float(b0)));
    return d;
  }
#endif
  return encode_soft<FMT>(b0) | (encode_soft<FMT>(b1) << 8);
}

/* Four codes, byte e of the result the code of f[e] (sm_89+ only). */
template <int FMT>
__device__ __forceinline__ fpx_u32 encode_quad(const float (&f)[4]) {
  fpx_u32 d = 0;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  if constexpr (FMT == 0)
    asm("{\n\t.reg .b16 l, h;\n\tcvt.rn.satfinite.e4m3x2.f32 l, %2, %1;\n\t"
        "cvt.rn.satfinite.e4m3x2.f32 h, %4, %3;\n\tmov.b32 %0, {l, h};\n\t}"
        : "=r"(d) : "f"(f[0]), "f"(f[1]), "f"(f[2]), "f"(f[3]));
  else
    asm("{\n\t.reg .b16 l, h;\n\tcvt.rn.satfinite.e5m2x2.f32 l, %2, %1;\n\t"
        "cvt.rn.satfinite.e5m2x2.f32 h, %4, %3;\n\tmov.b32 %0, {l, h};\n\t}"
        : "=r"(d) : "f"(f[0]), "f"(f[1]), "f"(f[2]), "f"(f[3]));
#endif
  return d;
}

/* byte permute: result byte i = byte sel[i] of the 8 bytes {b:a} */
__device__ __forceinline__ fpx_u32 prmt(fpx_u32 a, fpx_u32 b, fpx_u32 sel) {
  fpx_u32 d;
  asm("prmt.b32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(sel));
  return d;
}

/* 16-byte load of input that no one writes during the kernel, L1 bypassed */
__device__ __forceinline__ uint4 load_input(const void *p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

/* DT: 0 = f16, 1 = bf16. The two elements of a 32-bit word as floats (the
 * one at the lower address first). */
template <int DT>
__device__ __forceinline__ void to_floats(fpx_u32 w, float &lo, float &hi) {
  if constexpr (DT == 1) {
    lo = __uint_as_float(w << 16);
    hi = __uint_as_float(w & 0xFFFF0000u);
  } else {
    asm("{\n\t.reg .b16 l, h;\n\tmov.b32 {l, h}, %2;\n\tcvt.f32.f16 %0, l;\n\tcvt.f32.f16 %1, h;\n\t}"
        : "=f"(lo), "=f"(hi)
        : "r"(w));
  }
}

/* f32 bits of a non-negative f16/bf16 magnitude (NaN and Inf stay above
 * 0x7F800000, so the order of magnitudes is kept). */
template <int DT>
__device__ __forceinline__ fpx_u32 magnitude_bits(fpx_u32 h) {
  if constexpr (DT == 1) return h << 16;
  float f;
  asm("{\n\t.reg .b16 l;\n\tcvt.u16.u32 l, %1;\n\tcvt.f32.f16 %0, l;\n\t}" : "=f"(f) : "r"(h));
  return __float_as_uint(f);
}

/* Running maximum of the 16-bit magnitudes of the elements of words (NaN
 * and Inf above every finite magnitude, as 16-bit patterns). sm_86+: one
 * packed max per word (max.NaN.xorsign.abs: the larger magnitude in each
 * half, a NaN input gives NaN; the sign bits are junk and masked at the
 * end); before: integer maxima of the masked halves. */
template <int DT>
struct AmaxAcc {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 860
  fpx_u32 m;
  __device__ __forceinline__ void zero() { m = 0; }
  __device__ __forceinline__ void max_word(fpx_u32 w) {
    if constexpr (DT == 1) asm("max.NaN.xorsign.abs.bf16x2 %0, %0, %1;" : "+r"(m) : "r"(w));
    else asm("max.NaN.xorsign.abs.f16x2 %0, %0, %1;" : "+r"(m) : "r"(w));
  }
  __device__ __forceinline__ void add(const uint4 &v) {
    max_word(v.x);
    max_word(v.y);
    max_word(v.z);
    max_word(v.w);
  }
  __device__ __forceinline__ fpx_u32 value16() const { return max(m & 0x7FFFu, (m >> 16) & 0x7FFFu); }
#else
  fpx_u32 lo, hi;
  __device__ __forceinline__ void zero() { lo = hi = 0; }
  __device__ __forceinline__ void add(const uint4 &v) {
    lo = max(lo, max(max(v.x & 0x7FFFu, v.y & 0x7FFFu), max(v.z & 0x7FFFu, v.w & 0x7FFFu)));
    hi = max(hi, max(max(v.x & 0x7FFF0000u, v.y & 0x7FFF0000u), max(v.z & 0x7FFF0000u, v.w & 0x7FFF0000u)));
  }
  __device__ __forceinline__ fpx_u32 value16() const { return max(lo, hi >> 16); }
#endif
};

__device__ __forceinline__ fpx_u32 warp_max(fpx_u32 v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = max(v, __shfl_xor_sync(0xFFFFFFFFu, v, o));
  return v;
}

/* Maximum over each group of 2^group_log2 threads (32..1024, aligned in
 * the block). Every thread of the block calls it, once per launch. */
__device__ __forceinline__ fpx_u32 group_max(fpx_u32 v, int group_log2) {
  __shared__ fpx_u32 red[32];
  v = warp_max(v);
  if (group_log2 <= 5) return v;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int wpg_log2 = group_log2 - 5; /* warps per group, log2 */
  if (lane == 0) red[warp] = v;
  __syncthreads();
  v = red[((warp >> wpg_log2) << wpg_log2) + (lane & ((1 << wpg_log2) - 1))];
  for (int o = (1 << wpg_log2) >> 1; o > 0; o >>= 1) v = max(v, __shfl_xor_sync(0xFFFFFFFFu, v, o));
  return v;
}

/* Codes of one unit of U elements held in `in` (U / 8 vectors of 16
 * bytes): U / 4 words, 4 codes each, element order kept. */
template <int DT, int FMT, int HW, int U, bool PRE>
__device__ __forceinline__ void encode_unit(const uint4 (&in)[U / 8], const Scale &c, fpx_u32 (&out)[U / 4]) {
#pragma unroll
  for (int v = 0; v < U / 8; v++) {
    const fpx_u32 w[4] = {in[v].x, in[v].y, in[v].z, in[v].w};
    fpx_u32 pair[4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
      float lo, hi;
      to_floats<DT>(w[i], lo, hi);
      pair[i] = encode_pair<FMT, HW>(odd_quotient<PRE>(lo, c), odd_quotient<PRE>(hi, c));
    }
    out[2 * v] = prmt(pair[0], pair[1], 0x5410u);
    out[2 * v + 1] = prmt(pair[2], pair[3], 0x5410u);
  }
}

/* The fast path (sm_89+, conversion instruction): codes of one unit from
 * the bracket ql = x * lo, qh = x * hi of the exact quotient x / s, and
 * nonzero when a code of ql differs from the code of qh anywhere in the unit
 * (then the caller encodes the unit again with encode_unit). Why the codes
 * are right when they agree: lo <= (1/s)(1 - 2^-21)(1 + 2^-24)^2 and
 * hi >= (1/s)(1 + 2^-21)(1 - 2^-24)^2, so after the rounding of the product
 * (relative 2^-24 while it is a normal f32) |ql| < |x / s| < |qh|; the FP8
 * rounding (nearest even, saturating) is monotonic, so a value between two
 * with one code has that code. Products below 2^-126 (where the bracket may
 * fail) only come from |x / s| < 2^-125, whose code is a zero of the sign
 * of x, as the codes of ql and qh then are. fast_allowed keeps the products
 * finite. The bracket is 2^-20 wide in relative terms: a true tie (x / s on
 * a midpoint) or a quotient within about 2^-21 of one takes the exact path;
 * how often that happens depends on the data (see FAST in quantize_rows). */
template <int DT, int FMT, int U>
__device__ __forceinline__ fpx_u32 encode_unit_fast(const uint4 (&in)[U / 8], const Scale &c,
                                                    fpx_u32 (&out)[U / 4]) {
  fpx_u32 differ = 0;
#pragma unroll
  for (int v = 0; v < U / 8; v++) {
    const fpx_u32 w[4] = {in[v].x, in[v].y, in[v].z, in[v].w};
#pragma unroll
    for (int i = 0; i < 4; i += 2) {
      float x[4];
      to_floats<DT>(w[i], x[0], x[1]);
      to_floats<DT>(w[i + 1], x[2], x[3]);
      float l[4], h[4];
#pragma unroll
      for (int e = 0; e < 4; e++) {
        l[e] = __fmul_rn(x[e], c.lo);
        h[e] = __fmul_rn(x[e], c.hi);
      }
      const fpx_u32 below = encode_quad<FMT>(l), above = encode_quad<FMT>(h);
      differ |= below ^ above;
      out[2 * v + i / 2] = below;
    }
  }
  return differ;
}

enum { MODE_PER_ROW = 0, MODE_PER_TENSOR = 1, MODE_STATIC = 2 };

/*
 * Grid: ceil(m / rows_per_block); block: max(256, 2^group_log2) threads,
 * rows_per_block = blockDim.x >> group_log2. Thread t of a row's group owns,
 * in tile i, the units of U elements starting at column
 * i * 32 * group + (j * group + t) * U, j < 32 / U.
 * DT: 0 = f16, 1 = bf16. FMT: 0 = E4M3, 1 = E5M2. HW: use the FP8 conversion
 * instruction where the arch has it. U: 16 (K % 16 == 0) or 8.
 * mode 0 (per row): scales[row] = the row's scale. mode 1 (per tensor): the
 * scale is scales[0], written by tensor_scale. mode 2 (static): the scale is
 * static_scale; a row with NaN/Inf sets scales[0] to NaN.
 * nonfinite (may be NULL) counts the rows holding NaN or Inf.
 */
template <int DT, int FMT, int HW, int U>
__global__ void __launch_bounds__(1024)
    quantize_rows(const unsigned char *__restrict__ x, unsigned char *__restrict__ codes,
                  float *__restrict__ scales, unsigned *__restrict__ nonfinite, long long m, int k,
                  int group_log2, int mode, float scale_ub, float static_scale) {
  typedef Fp8<FMT> F;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  /* the fast path needs the conversion instruction; BF16 input stays on the
   * exact path: with 8-bit inputs, 448 x / amax is often exactly a midpoint
   * and x / s then 2^-24 away from it (0.8% of uniform random elements with
   * amax 1, a few % over random amax), so most warps would redo most units */
  constexpr bool FAST = HW != 0 && DT == 0;
#else
  constexpr bool FAST = false;
#endif
  constexpr int VEC = U / 8; /* 16-byte loads per unit */
  constexpr int CH = 32 / U; /* units per thread and tile */
  const int group = 1 << group_log2;
  const int t = threadIdx.x & (group - 1);
  const long long row = (long long)blockIdx.x * (blockDim.x >> group_log2) + (threadIdx.x >> group_log2);
  const bool active = row < m;
  const int tile_elems = 32 * group;
  const int tiles = (int)(((long long)k + tile_elems - 1) / tile_elems);
  const unsigned char *xrow = x + (active ? row : 0) * (long long)k * 2;
  unsigned char *crow = codes + (active ? row : 0) * (long long)k;
  uint4 buf[CH][VEC];
  AmaxAcc<DT> acc;
  acc.zero();

  auto load_tile = [&](int tile) {
#pragma unroll
    for (int j = 0; j < CH; j++) {
      const int col = tile * tile_elems + (j * group + t) * U;
#pragma unroll
      for (int v = 0; v < VEC; v++)
        buf[j][v] = active && col < k ? load_input(xrow + (long long)col * 2 + 16 * v) : make_uint4(0, 0, 0, 0);
    }
  };
  auto accumulate = [&]() {
#pragma unroll
    for (int j = 0; j < CH; j++)
#pragma unroll
      for (int v = 0; v < VEC; v++) acc.add(buf[j][v]);
  };
  auto encode_tile = [&](int tile, const Scale &c, bool pre) {
    /* acc bounds every element this thread has loaded so far */
    const bool fast = FAST && fast_allowed(c, __uint_as_float(magnitude_bits<DT>(acc.value16())));
#pragma unroll
    for (int j = 0; j < CH; j++) {
      const int col = tile * tile_elems + (j * group + t) * U;
      if (!(active && col < k)) continue;
      fpx_u32 out[U / 4];
      if (!fast || encode_unit_fast<DT, FMT, U>(buf[j], c, out) != 0) {
        if (pre) encode_unit<DT, FMT, HW, U, true>(buf[j], c, out);
        else encode_unit<DT, FMT, HW, U, false>(buf[j], c, out);
      }
      if constexpr (U == 16) *(uint4 *)(crow + col) = make_uint4(out[0], out[1], out[2], out[3]);
      else *(uint2 *)(crow + col) = make_uint2(out[0], out[1]);
    }
  };
  auto report = [&](fpx_u32 amax_bits) {
    if (!active || t != 0 || amax_bits < 0x7F800000u) return;
    if (nonfinite != nullptr) atomicAdd(nonfinite, 1u);
    if (mode == MODE_STATIC) scales[0] = __uint_as_float(0x7FC00000u);
  };

  const bool per_row = mode == MODE_PER_ROW;
  float s;
  if (per_row) {
    for (int i = 0; i < tiles; i++) {
      load_tile(i);
      accumulate();
    }
    const fpx_u32 amax = group_max(magnitude_bits<DT>(acc.value16()), group_log2);
    s = dynamic_scale(amax, scale_ub, F::MAX_FINITE);
    if (active && t == 0) scales[row] = s;
    report(amax);
  } else {
    s = mode == MODE_PER_TENSOR ? scales[0] : static_scale;
  }
  const Scale c = prepare_scale(s);
  const bool pre = c.p != 1.0f;
  /* last tile first: in per-row mode it is still in registers */
  for (int i = tiles - 1; i >= 0; i--) {
    if (!(per_row && i == tiles - 1)) load_tile(i);
    if (!per_row) accumulate();
    encode_tile(i, c, pre);
  }
  if (!per_row) report(group_max(magnitude_bits<DT>(acc.value16()), group_log2));
}

/* Per-tensor amax: atomicMax of the f32 bits of each block's amax into
 * *amax_bits (zeroed before). vecs = m * k / 8 (16-byte vectors). */
template <int DT>
__global__ void __launch_bounds__(256)
    tensor_amax(const uint4 *__restrict__ x, long long vecs, unsigned *__restrict__ amax_bits) {
  __shared__ fpx_u32 red[8];
  AmaxAcc<DT> acc;
  acc.zero();
  const long long stride = (long long)gridDim.x * blockDim.x;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < vecs; i += 4 * stride) {
    uint4 v[4];
#pragma unroll
    for (int u = 0; u < 4; u++) v[u] = i + u * stride < vecs ? load_input(x + i + u * stride) : make_uint4(0, 0, 0, 0);
#pragma unroll
    for (int u = 0; u < 4; u++) acc.add(v[u]);
  }
  fpx_u32 a = warp_max(magnitude_bits<DT>(acc.value16()));
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = a;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < (int)(blockDim.x >> 5); w++) a = max(a, red[w]);
    atomicMax(amax_bits, a);
  }
}

/* Per-tensor scale from the amax bits tensor_amax left in scales[0]. One
 * thread. */
template <int FMT>
__global__ void tensor_scale(float *scales, float scale_ub) {
  scales[0] = dynamic_scale(__float_as_uint(scales[0]), scale_ub, Fp8<FMT>::MAX_FINITE);
}

/*
 * 8-bit codes [n, k] (row-major, k % 8 == 0) -> the tiled layout of
 * docs/LAYOUT.md, the same bytes as fpx_pack_tiled. For 8 bits there is one
 * plane and element (row, col) of a 16 x 256 block sits at byte
 *   (col / 32) * 512 + (row % 8) * 64 + 2 * (col % 32) + row / 8,
 * so output vector i (16 bytes) interleaves 8 codes of block row r and 8 of
 * row r + 8: r = (i / 4) % 8, columns 32 * ((i / 32) % 8) + 8 * (i % 4) + 0..7.
 * One thread per output vector; padding rows and columns are zero codes.
 */
__global__ void __launch_bounds__(256)
    pack_tiled8(const unsigned char *__restrict__ codes, uint4 *__restrict__ out, int n, int k,
                long long vectors) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= vectors) return;
  const long long block = i >> 8;
  const int v = (int)(i & 255);
  const int k_blocks = (k + 255) >> 8;
  const long long nb = block / k_blocks;
  const int kb = (int)(block % k_blocks);
  const int col = kb * 256 + (v >> 5) * 32 + (v & 3) * 8;
  const long long r0 = nb * 16 + ((v >> 2) & 7), r1 = r0 + 8;
  uint2 lo = make_uint2(0, 0), hi = make_uint2(0, 0);
  if (col < k) {
    if (r0 < n) lo = *(const uint2 *)(codes + r0 * k + col);
    if (r1 < n) hi = *(const uint2 *)(codes + r1 * k + col);
  }
  out[i] = make_uint4(prmt(lo.x, hi.x, 0x5140u), prmt(lo.x, hi.x, 0x7362u), prmt(lo.y, hi.y, 0x5140u),
                      prmt(lo.y, hi.y, 0x7362u));
}

}  // namespace fpx
