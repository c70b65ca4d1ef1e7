#!/bin/bash
# cluster-ab.sh OUT - on the GPU machine, from a tree built with `make
# device-bundle`: the wgmma family with and without X shared by clusters of
# 2 (FPX_WGMMA_CLUSTER=1 turns it off), same build, same configurations,
# one session: weight-only e3m2 and e2m1 and W8A8 over the 8 llama3 shapes.
# FPX_BENCH_ITERS sets the timed calls per point (default 20). Writes
# OUT/<run>.log and .csv and prints tools/bench-compare.py's tables.
set -u
out=${1:?usage: tools/cluster-ab.sh OUT}
mkdir -p "$out"
iters=${FPX_BENCH_ITERS:-20}
ms=${AB_M:-64,128,512,2048,8192}
for c in 1 2; do
  FPX_WGMMA_CLUSTER=$c bundle/run fpx-tune bench --model llama3-8b --model llama3-70b \
    --format e3m2,e2m1 --m "$ms" --iters "$iters" --csv "$out/wo-cluster$c.csv" \
    > "$out/wo-cluster$c.log" 2>&1 || echo "weight-only cluster $c: exit status $?"
  FPX_WGMMA_CLUSTER=$c bundle/run fpx-tune bench --family w8a8 --model llama3-8b \
    --model llama3-70b --m "${AB_M_W8A8:-128,2048,8192}" --iters "$iters" \
    --csv "$out/w8a8-cluster$c.csv" > "$out/w8a8-cluster$c.log" 2>&1 ||
    echo "w8a8 cluster $c: exit status $?"
done
python3 tools/bench-compare.py "$out/wo-cluster1.csv" "$out/wo-cluster2.csv" no-cluster cluster2
python3 tools/bench-compare.py "$out/w8a8-cluster1.csv" "$out/w8a8-cluster2.csv" no-cluster cluster2
