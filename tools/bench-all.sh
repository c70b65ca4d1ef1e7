#!/bin/bash
# bench-all.sh OUT - the runs behind BENCHMARKS.md, on the GPU machine, from
# the repository root of a tree built with `make device-bundle`: weight-only
# (8 llama3-8b/70b shapes, 4 formats), W8A8 rowwise against cuBLAS BF16 and
# cuBLASLt FP8, W6A8, W5A8 and W4A8 (e3m2, e2m2 and e2m1 weights, E4M3
# activations), the GPU activation quantizer, and fixed wgmma
# configurations against fpx_gemm's own choice. FPX_BENCH_ITERS sets the
# timed calls per point (default 30). Writes OUT/<run>.log and
# OUT/<run>.csv, then the summary tables of tools/bench-report.py.
set -u
out=${1:?usage: tools/bench-all.sh OUT}
mkdir -p "$out"
tool="bundle/run fpx-tune"
run() { # name, then the fpx-tune arguments
  local name=$1; shift
  echo "== $name: fpx-tune $*"
  $tool "$@" > "$out/$name.log" 2>&1 || echo "   (exit status $?; see $out/$name.log)"
}
iters=${FPX_BENCH_ITERS:-30}
run weight-only bench --model llama3-8b --model llama3-70b --format e3m2,e2m2,e2m1,e4m3 \
  --m 1,8,16,32,64,128,512,2048,8192 --iters "$iters" --csv "$out/weight-only.csv"
run w8a8 bench --family w8a8 --model llama3-8b --model llama3-70b --m 1,16,128,2048,8192 \
  --iters "$iters" --csv "$out/w8a8.csv"
run w6a8 bench --model llama3-8b --model llama3-70b --format e3m2,e2m2,e2m1 --act e4m3 \
  --m 1,16,128,512,2048,8192 --iters "$iters" --csv "$out/w6a8.csv"
run quantizer-bf16 bench-quant
run quantizer-f16 bench-quant --act f16
run wgmma-configs bench --model llama3-8b --model llama3-70b --format e3m2 --m 64,128,512,2048 \
  --wgmma 64/4,64/4/4,128/4,128/4/2,256/4,256/4/2 --iters "$iters" --csv "$out/wgmma-configs.csv"
python3 tools/bench-report.py "$out/weight-only.csv"
grep -A3 geometric "$out/w8a8.log" "$out/w6a8.log" "$out/wgmma-configs.log"
grep -E "per-row" "$out"/quantizer-*.log
