#!/bin/sh
# The W8A8 rowwise keys of the shipped tuning database for one GPU (run on
# that GPU from a tree with bundle/): e4m3 weights x e4m3 activations with
# per-token scales, bf16 output, the llama3-8b and llama3-70b shapes, M
# buckets 1..8192; small M gets the larger budget. Each half stops at its
# time limit (SMALL_M_S, LARGE_M_S seconds; keys not reached keep fpx_gemm's
# own choice). Merge the export into cache/shipped/ with `fpx-tune import`.
# Usage: tools/ship-sweep-w8a8.sh OUTDIR [DB]
set -u
out=${1:?usage: tools/ship-sweep-w8a8.sh OUTDIR [DB]}
db=${2:-$out/fpx-w8a8.db}
small_s=${SMALL_M_S:-200}
large_s=${LARGE_M_S:-80}
mkdir -p "$out"
timeout "$small_s" bundle/run fpx-tune tune --db "$db" --family w8a8 --model llama3-8b --model llama3-70b \
  --m 1,2,4,8,16,32,64,128 --budget-s 3 --reps 10 > "$out/tune_w8a8_small_m.log" 2>&1
echo "small M: rc=$? $(tail -1 "$out/tune_w8a8_small_m.log")"
timeout "$large_s" bundle/run fpx-tune tune --db "$db" --family w8a8 --model llama3-8b --model llama3-70b \
  --m 256,512,1024,2048,4096,8192 --budget-s 1 --reps 3 > "$out/tune_w8a8_large_m.log" 2>&1
echo "large M: rc=$? $(tail -1 "$out/tune_w8a8_large_m.log")"
bundle/run fpx-tune export --db "$db" -o "$out/shipped-w8a8.json"
echo "exported $(grep -c '"m_bucket"' "$out/shipped-w8a8.json") winners"
