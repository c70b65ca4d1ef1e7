#!/bin/sh
# Produces the shipped tuning database for one GPU (run on that GPU from a
# tree with bundle/): the llama3-8b and llama3-70b shapes, M buckets
# 1..8192; by default FP6 e3m2, FP5 e2m2, FP4 e2m1 and FP8 e4m3 weight-only
# with BF16 activations and output, per-row scales. KEYS replaces the
# format arguments (the W8A8 keys: KEYS="--family w8a8"). Small M gets the
# larger time budget per key (SMALL_BUDGET_S, default 4): it is where the
# kernel family is meant to win. Each half stops at its time limit
# (SMALL_M_S, LARGE_M_S seconds; keys not reached keep fpx_gemm's own
# choice). The export goes to OUTDIR/shipped.json; merge a partial sweep
# into cache/shipped/ with `fpx-tune import`. M_SMALL and M_LARGE replace
# the M lists of the two halves (an empty list skips its half).
# Usage: tools/ship-sweep.sh OUTDIR [DB (default OUTDIR/fpx.db)]
# The W8A8 keys of cache/shipped/nvidia-h200.json:
#   KEYS="--family w8a8" SMALL_BUDGET_S=3 SMALL_M_S=200 LARGE_M_S=80 tools/ship-sweep.sh OUTDIR
# Its W6A8 keys (e3m2 weights, E4M3 activations):
#   KEYS="--format e3m2 --act e4m3" SMALL_BUDGET_S=3 SMALL_M_S=190 LARGE_M_S=150 tools/ship-sweep.sh OUTDIR
# then retuned at M = 512, 2048, 8192 with the TMA-store build:
#   KEYS="--format e3m2 --act e4m3" M_SMALL= M_LARGE=512,2048,8192 LARGE_M_S=120 tools/ship-sweep.sh OUTDIR
# Its W4A8 keys (e2m1 weights, E4M3 activations) and W5A8 keys (e2m2):
#   KEYS="--format e2m1 --act e4m3" SMALL_BUDGET_S=3 SMALL_M_S=190 LARGE_M_S=150 tools/ship-sweep.sh OUTDIR
#   KEYS="--format e2m2 --act e4m3" SMALL_BUDGET_S=3 SMALL_M_S=190 LARGE_M_S=150 tools/ship-sweep.sh OUTDIR
# The keys those sweeps did not reach in their time, with fpx-tune tune
# itself (--budget-s 4 --reps 3): W8A8 --shape 57344,8192 --shape 8192,28672
# --m 1024,4096,8192; W6A8 --shape 8192,28672 --m 512,2048,8192.
# A key tuned again gets a second entry (the templates' hash differs); the
# shipped lookup uses the newer one (tuned_at), and the shipped file keeps
# only that one.
set -u
out=${1:?usage: tools/ship-sweep.sh OUTDIR [DB]}
db=${2:-$out/fpx.db}
keys=${KEYS:---format e3m2,e2m2,e2m1,e4m3}
small_budget=${SMALL_BUDGET_S:-4}
small_s=${SMALL_M_S:-330}
large_s=${LARGE_M_S:-230}
m_small=${M_SMALL-1,2,4,8,16,32,64,128}
m_large=${M_LARGE-256,512,1024,2048,4096,8192}
mkdir -p "$out"
if [ -n "$m_small" ]; then
  # shellcheck disable=SC2086 # $keys is a list of arguments
  timeout "$small_s" bundle/run fpx-tune tune --db "$db" --model llama3-8b --model llama3-70b $keys \
    --m "$m_small" --budget-s "$small_budget" --reps 10 > "$out/tune_small_m.log" 2>&1
  echo "small M: rc=$? $(tail -1 "$out/tune_small_m.log")"
fi
if [ -n "$m_large" ]; then
  # shellcheck disable=SC2086
  timeout "$large_s" bundle/run fpx-tune tune --db "$db" --model llama3-8b --model llama3-70b $keys \
    --m "$m_large" --budget-s 1 --reps 3 > "$out/tune_large_m.log" 2>&1
  echo "large M: rc=$? $(tail -1 "$out/tune_large_m.log")"
fi
bundle/run fpx-tune export --db "$db" -o "$out/shipped.json"
echo "exported $(grep -c '"m_bucket"' "$out/shipped.json") winners"
