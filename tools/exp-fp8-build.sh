#!/bin/bash
# exp-fp8-build.sh OUT - the W8A8 fragment-build experiment (NOTES-PERF.md), on
# the GPU machine: three device bundles in one session, bundle-old (commit
# 01fe647: code pairs), bundle-prmt (27f0777 with batches of 2: one byte
# permutation per register) and bundle (27f0777: also batches of 4 wgmmas with
# FP8 X at 256 tokens); GPU tests of the last, ncu kernel times, A/B benches.
set -u
out=$1; mkdir -p $out/csv
log=$out/all.log
bundle/run test_gpu --jobs 16 --filter 'gpu_wgmma/*' > $out/gpu-wgmma.log 2>&1; echo "gpu_wgmma rc=$?" | tee -a $log
bundle/run test_gpu --jobs 16 --filter 'gpu_gemm_fp8/*' > $out/gpu-gemm-fp8.log 2>&1; echo "gpu_gemm_fp8 rc=$?" | tee -a $log
grep -h -E "Synthesis|FAIL" $out/gpu-*.log | tee -a $log
for b in bundle-old bundle-prmt bundle; do
  for fam in "--family w8a8" "--format e3m2 --act e4m3"; do
    ncu --clock-control none -k regex:wgmma_gemm -c 2 --metrics gpu__time_duration.sum \
      $b/run fpx-tune bench --shape 4096,4096 $fam --m 8192 --iters 2 2>&1 |
      grep -E "^ +void |gpu__time_duration" | paste - - | sed -E "s/\(const uint4.*CC 9.0//; s/ +/ /g; s/^/$b $fam: /" >> $out/ncu.txt
  done
done
cat $out/ncu.txt | tee -a $log
for b in bundle-old bundle-prmt bundle; do
  $b/run fpx-tune bench --family w8a8 --model llama3-8b --model llama3-70b --m 128,2048,8192 --iters 10 --csv $out/csv/w8a8-$b.csv > $out/csv/w8a8-$b.log 2>&1
done
for b in bundle-old bundle; do
  $b/run fpx-tune bench --format e3m2 --act e4m3 --model llama3-8b --model llama3-70b --m 2048,8192 --iters 10 --csv $out/csv/w6a8-$b.csv > $out/csv/w6a8-$b.log 2>&1
done
python3 tools/bench-compare.py $out/csv/w8a8-bundle-old.csv $out/csv/w8a8-bundle-prmt.csv old prmt | tee -a $log
python3 tools/bench-compare.py $out/csv/w8a8-bundle-old.csv $out/csv/w8a8-bundle.csv old prmt+b4 | tee -a $log
python3 tools/bench-compare.py $out/csv/w6a8-bundle-old.csv $out/csv/w6a8-bundle.csv old prmt+b4 | tee -a $log
tar czf $out/csv.tgz -C $out csv && rm -rf $out/csv
