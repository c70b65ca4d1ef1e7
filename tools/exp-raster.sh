#!/bin/bash
# exp-raster.sh OUT NAME "G1 G2 ..." [fpx-tune bench arguments] - on the GPU
# machine, from a tree with bundle/: the same `fpx-tune bench` once per tile
# order of the wgmma family (FPX_WGMMA_RASTER=G; "auto" leaves it unset:
# the library's choice), in one session, then tools/bench-compare.py of
# the first order against each other one (time first / time other above 1:
# the other is faster) and, per shape, that time ratio.
# Writes OUT/NAME-G.csv/.log for each G.
set -u
out=${1:?usage: tools/exp-raster.sh OUT NAME "G1 G2 ..." [bench args]}
name=${2:?}
orders=${3:?}
shift 3
mkdir -p "$out"
here=$(dirname "$0")
for g in $orders; do
  if [ "$g" = auto ]; then
    env -u FPX_WGMMA_RASTER bundle/run fpx-tune bench "$@" --csv "$out/$name-$g.csv" > "$out/$name-$g.log" 2>&1
  else
    FPX_WGMMA_RASTER=$g bundle/run fpx-tune bench "$@" --csv "$out/$name-$g.csv" > "$out/$name-$g.log" 2>&1
  fi || echo "$name raster $g: exit status $?"
done
set -- $orders
first=$1
shift
for g in "$@"; do
  echo "== $name: raster $first against $g"
  python3 "$here/bench-compare.py" "$out/$name-$first.csv" "$out/$name-$g.csv" "r$first" "r$g"
  python3 - "$out/$name-$first.csv" "$out/$name-$g.csv" <<'PY'
import csv, sys
def load(p):
    return {(r["format"], r["act"], r["shape"], r["M"]): float(r["fpx_us"])
            for r in csv.DictReader(open(p)) if r.get("kernel", "fpx_gemm") in ("", "fpx_gemm")}
a, b = load(sys.argv[1]), load(sys.argv[2])
print("per shape, time first / time other:")
for k in sorted(a, key=lambda k: (k[0], k[1], int(k[3]), k[2])):
    if k in b:
        print("  %s %s M=%s %-12s %9.1f us %9.1f us  %.3f" % (k[0], k[1], k[3], k[2], a[k], b[k], a[k] / b[k]))
PY
done
