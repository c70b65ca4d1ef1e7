#!/bin/bash
# exp-m16.sh OUT - on the GPU machine, with bundle-old/ (before) and bundle/
# (after) from `make device-bundle`: the mma.sync family with two token tiles
# per block and its activations prefetched (the M = 9..32 regime), and the
# wgmma family at M = 16. Runs the mma.sync GPU tests on bundle/, then the
# same explicit two-tile configurations with both bundles
# (tools/bench-ab.sh), then the wgmma configurations at M = 16.
set -u
out=${1:?usage: tools/exp-m16.sh OUT}
mkdir -p "$out"
here=$(dirname "$0")
bundle/run test_gpu --jobs 16 --filter 'gpu_gemm/*' > "$out/gpu_gemm.log" 2>&1
echo "gpu_gemm rc=$? $(grep -h Synthesis "$out/gpu_gemm.log")"
shapes="--model llama3-8b --model llama3-70b"
for cfg in "1 4 2 1" "2 2 2 1" "4 4 2 1" "1 2 2 2"; do
  set -- $cfg
  "$here/bench-ab.sh" bundle-old bundle "$out" "m16-$1-$2-$3-$4" $shapes --format e3m2,e2m1,e4m3 \
    --m 16 --iters 20 --warps-n "$1" --warps-k "$2" --m-tiles "$3" --split-k "$4" | tail -4
done
"$here/bench-ab.sh" bundle-old bundle "$out" m32-1-4-2-1 $shapes --format e3m2 --m 32 --iters 20 \
  --warps-n 1 --warps-k 4 --m-tiles 2 --split-k 1 | tail -4
"$here/bench-ab.sh" bundle-old bundle "$out" w8a8-m16-1-4-2-1 --family w8a8 $shapes --m 16 --iters 20 \
  --warps-n 1 --warps-k 4 --m-tiles 2 --split-k 1 | tail -4
bundle/run fpx-tune bench $shapes --format e3m2,e2m1,e4m3 --m 16 --iters 20 \
  --wgmma 64/6,64/6/2,64/6/4 --csv "$out/wgmma-m16.csv" > "$out/wgmma-m16.log" 2>&1
echo "wgmma at M = 16 rc=$?"
python3 - "$out" <<'PY'
import csv, glob, math, os, sys
from collections import defaultdict
out = sys.argv[1]
best = defaultdict(dict)  # (format, shape) -> source -> us
for f in sorted(glob.glob(os.path.join(out, "m16-*-b.csv")) + [os.path.join(out, "wgmma-m16.csv")]):
    for r in csv.DictReader(open(f)):
        src = os.path.basename(f)[:-4] + ":" + r["kernel"] + ":" + r["config"]
        best[(r["format"], r["shape"])][src] = (float(r["fpx_us"]), float(r["cublas_us"]))
print("M = 16, best mma.sync two-tile (new) vs best wgmma vs fpx_gemm (shipped), cuBLAS time / time")
for fmt in ("e3m2", "e2m1", "e4m3"):
    g = defaultdict(list)
    for (f, shape), d in sorted(best.items()):
        if f != fmt: continue
        mma = min(v[0] for k, v in d.items() if k.startswith("m16-"))
        wg = [v[0] for k, v in d.items() if k.startswith("wgmma") and "wgmma" in k.split(":")[1]]
        ship = [v[0] for k, v in d.items() if k.startswith("wgmma") and k.split(":")[1] == "fpx_gemm"]
        cub = next(iter(d.values()))[1]
        row = [cub / mma, cub / min(wg) if wg else float("nan"), cub / ship[0] if ship else float("nan")]
        print(f"  {fmt} {shape:12s} mma2 {row[0]:.2f}  wgmma {row[1]:.2f}  shipped {row[2]:.2f}")
        for i, v in enumerate(row): g[i].append(v)
    print(f"  {fmt} geomean    " + "  ".join(f"{n} {math.exp(sum(map(math.log, g[i])) / len(g[i])):.2f}"
          for i, n in enumerate(("mma2", "wgmma", "shipped"))))
PY
