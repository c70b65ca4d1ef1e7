#!/bin/sh
# Produces the shipped tuning database for one GPU (run on that GPU from a
# tree with bundle/): the llama3-8b and llama3-70b shapes for FP6 e3m2, FP5
# e2m2, FP4 e2m1 and FP8 e4m3 weight-only, BF16 activations and output,
# per-row scales, M buckets 1..8192. Small M gets the larger time budget: it
# is where the kernel family is meant to win. Each half stops at its time
# limit (SMALL_M_S, LARGE_M_S seconds; keys not reached keep fpx_gemm's own
# choice). Usage: tools/ship-sweep.sh OUTDIR
set -u
out=${1:?usage: tools/ship-sweep.sh OUTDIR}
small_s=${SMALL_M_S:-330}
large_s=${LARGE_M_S:-230}
mkdir -p "$out"
db="$out/fpx.db"
formats=e3m2,e2m2,e2m1,e4m3
timeout "$small_s" bundle/run fpx-tune tune --db "$db" --model llama3-8b --model llama3-70b --format $formats \
  --m 1,2,4,8,16,32,64,128 --budget-s 4 --reps 10 > "$out/tune_small_m.log" 2>&1
echo "small M: rc=$? $(tail -1 "$out/tune_small_m.log")"
timeout "$large_s" bundle/run fpx-tune tune --db "$db" --model llama3-8b --model llama3-70b --format $formats \
  --m 256,512,1024,2048,4096,8192 --budget-s 1 --reps 3 > "$out/tune_large_m.log" 2>&1
echo "large M: rc=$? $(tail -1 "$out/tune_large_m.log")"
bundle/run fpx-tune export --db "$db" -o "$out/shipped.json"
echo "exported $(grep -c '"m_bucket"' "$out/shipped.json") winners"
