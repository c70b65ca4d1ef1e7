#!/bin/bash
# exp-xnat.sh OUT - on the GPU machine: X read in place with 256 tokens
# (bundle) against the permutation pass (bundle-old, the build before it):
# the wgmma and fpx_gemm GPU tests of the new build, ncu kernel times on
# 8b o at M = 8192 (e3m2 bf16, W8A8), and same-session A/B benches (fixed
# 256/4 tiles; W8A8 with fpx_gemm's own choice).
set -u
out=${1:?usage: tools/exp-xnat.sh OUT}
mkdir -p "$out"
bundle/run test_gpu --jobs 16 --filter 'gpu_wgmma/*' > "$out/gpu-wgmma.log" 2>&1; echo "gpu_wgmma rc=$?"
bundle/run test_gpu --jobs 16 --filter 'gpu_gemm*/*' > "$out/gpu-gemm.log" 2>&1; echo "gpu_gemm rc=$?"
grep -h -E "Synthesis|FAIL" "$out"/gpu-*.log | head -20
for b in bundle-old bundle; do
  for fam in "--format e3m2" "--family w8a8"; do
    ncu --clock-control none -k regex:wgmma -c 4 --metrics gpu__time_duration.sum \
      $b/run fpx-tune bench --shape 4096,4096 $fam --m 8192 --iters 2 2>&1 |
      grep -E "^ +void |gpu__time_duration" | paste - - | sed "s/^/$b $fam: /" >> "$out/ncu.txt"
  done
done
sed -E 's/ +/ /g' "$out/ncu.txt" | cut -c1-160
tools/bench-ab.sh bundle-old bundle "$out" fixed256 --model llama3-8b --model llama3-70b \
  --format e3m2,e4m3 --m 512,2048,8192 --wgmma 256/4 --iters 10
tools/bench-ab.sh bundle-old bundle "$out" w8a8 --family w8a8 --model llama3-8b --model llama3-70b \
  --m 2048,8192 --iters 10
