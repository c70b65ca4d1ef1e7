#!/bin/bash
# diag-stall-sites.sh OUT [bench arguments] - on the GPU machine, from a tree
# with bundle/: ncu's sampled warp stalls per SASS instruction of the first
# wgmma GEMM launch of `fpx-tune bench` with the given arguments (default
# W8A8 on 8b o at M = 8192), as CSV (OUT/source.csv), and a summary of the
# instructions with the most samples (OUT/top.txt). NCU_SKIP=N profiles the
# N+1st wgmma GEMM launch instead (e.g. 5 for the first --wgmma row's check
# launch after fpx_gemm's 3 warm-ups, 1 timed call and the reference call).
set -u
out=${1:?usage: tools/diag-stall-sites.sh OUT [bench arguments]}
shift
[ $# -gt 0 ] || set -- --family w8a8 --shape 4096,4096 --m 8192 --iters 1
mkdir -p "$out"
ncu --clock-control none -k regex:wgmma_gemm --launch-skip "${NCU_SKIP:-0}" -c 1 --section SourceCounters --section WarpStateStats \
  --import-source no -f -o "$out/report" bundle/run fpx-tune bench "$@" > "$out/ncu.log" 2>&1
echo "ncu rc=$?"
ncu -i "$out/report.ncu-rep" --page source --print-source sass --csv > "$out/source.csv" 2> "$out/source.err"
echo "source page rc=$? ($(wc -l < "$out/source.csv") lines)"
python3 - "$out/source.csv" > "$out/top.txt" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
# some ncu versions print a "Kernel Name" row above the header
while rows and "Source" not in [h.strip() for h in rows[0]]: rows.pop(0)
if not rows: sys.exit("no header row")
hdr = rows[0]
print("columns:", " | ".join(hdr))
def col(name):
    for i, h in enumerate(hdr):
        if h.strip().lower().startswith(name): return i
    return None
src, samp = col("source"), col("warp stall sampling (all")
if samp is None: samp = col("warp stall sampling")
if src is None or samp is None: sys.exit("columns not found")
def num(v):
    try: return float(v.replace(",", ""))
    except ValueError: return 0.0
body = [r for r in rows[1:] if len(r) > max(src, samp)]
total = sum(num(r[samp]) for r in body) or 1
print(f"total samples {total:.0f}")
for i, r in sorted(enumerate(body), key=lambda x: -num(x[1][samp]))[:40]:
    print(f"{num(r[samp]) / total * 100:5.1f}%  #{i:5d}  {r[src].strip()}")
PY
head -45 "$out/top.txt"
