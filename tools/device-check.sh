#!/bin/sh
# GPU-machine check used during development: a subset of the GPU tests, the
# latency targets, a tuning sweep and a benchmark from the tuned database.
# Usage (on the GPU machine, from a tree with bundle/): tools/device-check.sh OUTDIR
set -u
out=${1:-/tmp/fpx-check}
mkdir -p "$out"
export FPX_CACHE_DIR="$out/cache"
mkdir -p "$FPX_CACHE_DIR"
bundle/run test_gpu --jobs 16 --filter 'gpu_gemm/*[a-z]' > "$out/gpu_misc.log" 2>&1; echo "gpu misc tests rc=$?"
bundle/run test_gpu --jobs 16 --filter 'gpu_gemm/e[2-4]m[1-3]' > "$out/gpu_formats.log" 2>&1; echo "gpu format tests rc=$?"
grep -h -E "Synthesis|FAIL" "$out/gpu_misc.log" "$out/gpu_formats.log"
bundle/run fpx-tune latency 2>&1 | tee "$out/latency.log"
bundle/run fpx-tune tune --model llama3-8b --format e3m2 --m 1,2,4,8,16,32,64,128 --budget-s 10 \
  > "$out/tune.log" 2>&1; echo "tune rc=$?"; cat "$out/tune.log"
bundle/run fpx-tune bench --model llama3-8b --format e3m2 --m 1,16,64,128 > "$out/bench_tuned.log" 2>&1
echo "bench rc=$?"; tail -8 "$out/bench_tuned.log"
