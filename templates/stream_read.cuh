/*
 * stream_read.cuh - the read floor of the benchmark: reads a buffer once
 * with the loads the GEMM kernels use for packed weights (16 bytes,
 * L1 no-allocate, L2 evict-first) and nothing else. Its time, under the
 * benchmark's method, is what a kernel streaming those bytes with these
 * loads can approach. Self-contained: no toolkit headers; sm_80 and later.
 *
 * Grid-stride over 16-byte words, UNROLL independent loads in flight per
 * thread; the words are folded with XOR and written only when the fold
 * equals `never` (the caller passes a value the data cannot make likely),
 * so the loads cannot be removed.
 */
typedef unsigned int fpx_u32;
typedef unsigned long long fpx_u64;

namespace fpx {

__device__ __forceinline__ uint4 stream_load(const uint4 *p, fpx_u64 policy) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {%0,%1,%2,%3}, [%4], %5;"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p), "l"(policy));
  return v;
}

template <int UNROLL>
__global__ void __launch_bounds__(256)
    stream_read(const uint4 *__restrict__ p, fpx_u64 words, fpx_u32 never, fpx_u32 *sink) {
  fpx_u64 policy;
  asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(policy));
  const fpx_u64 stride = (fpx_u64)gridDim.x * blockDim.x;
  fpx_u64 i = (fpx_u64)blockIdx.x * blockDim.x + threadIdx.x;
  fpx_u32 fold = 0;
  for (; i + (UNROLL - 1) * stride < words; i += UNROLL * stride) {
    uint4 v[UNROLL];
#pragma unroll
    for (int u = 0; u < UNROLL; u++) v[u] = stream_load(p + i + u * stride, policy);
#pragma unroll
    for (int u = 0; u < UNROLL; u++) fold ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
  }
  for (; i < words; i += stride) {
    const uint4 v = stream_load(p + i, policy);
    fold ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (fold == never) *sink = fold;
}

}  // namespace fpx
