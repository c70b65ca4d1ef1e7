#!/usr/bin/env python3
"""Turns the CSV of `fpx-tune bench --csv` into the Markdown tables of
BENCHMARKS.md: geometric-mean speedup over cuBLAS per format and M, and the
M = 1 bandwidth per shape, from the rows of fpx_gemm; where the CSV has the
read floor (read_floor_us), the M = 1 time against it and the speedup bound
it sets (cuBLAS time / floor), per shape and as a geometric mean; with `--wgmma` rows
(kernel column "wgmma"), also the geometric-mean speedup of each wgmma
configuration over fpx_gemm, from the rows whose check passed.
Usage: tools/bench-report.py BENCH.csv"""
import collections
import csv
import math
import sys

all_rows = list(csv.DictReader(open(sys.argv[1])))
# CSVs older than the kernel column hold fpx_gemm rows only
rows = [r for r in all_rows if r.get("kernel", "fpx_gemm") in ("", "fpx_gemm")]
wgmma = [r for r in all_rows if r.get("kernel") == "wgmma"]
formats = list(dict.fromkeys(r["format"] for r in rows))
ms = sorted({int(r["M"]) for r in rows})
shapes = list(dict.fromkeys(r["shape"] for r in rows))
speed = collections.defaultdict(list)
for r in rows:
    speed[(r["format"], int(r["M"]))].append(float(r["speedup"]))

def geo(values):
    return math.exp(sum(map(math.log, values)) / len(values))

print("| format | " + " | ".join("M=%d" % m for m in ms) + " |")
print("|---" * (len(ms) + 1) + "|")
for f in formats:
    print("| %s | %s |" % (f, " | ".join("%.2fx" % geo(speed[(f, m)]) for m in ms)))
print()
m1 = min(ms)
print("| shape | N | K | " + " | ".join(formats) + " | cuBLAS us |")
print("|---" * (len(formats) + 4) + "|")
for s in shapes:
    by = {r["format"]: r for r in rows if r["shape"] == s and int(r["M"]) == m1}
    a = by[formats[0]]
    cells = ["%.1f us, %.0f%%" % (float(by[f]["fpx_us"]), float(by[f]["pct_of_copy"])) for f in formats]
    print("| %s | %s | %s | %s | %s |" % (s, a["N"], a["K"], " | ".join(cells), a["cublas_us"]))

if m1 == 1 and rows and rows[0].get("read_floor_us"):
    print()
    print("| M=%d: fpx time / read floor (bound: cuBLAS / floor) | " % m1 + " | ".join(formats) + " |")
    print("|---" * (len(formats) + 1) + "|")
    bounds = collections.defaultdict(list)
    for s in shapes:
        by = {r["format"]: r for r in rows if r["shape"] == s and int(r["M"]) == m1}
        cells = []
        for f in formats:
            r = by[f]
            floor = float(r["read_floor_us"])
            bound = float(r["cublas_us"]) / floor
            bounds[f].append(bound)
            cells.append("%.2f (%.2fx)" % (float(r["fpx_us"]) / floor, bound))
        print("| %s | %s |" % (s, " | ".join(cells)))
    print("| geometric mean of the bound | %s |" % " | ".join("%.2fx" % geo(bounds[f]) for f in formats))

if wgmma:
    base = {(r["format"], r["shape"], r["M"]): float(r["fpx_us"]) for r in rows}
    ratio = collections.defaultdict(list)
    failed = 0
    for r in wgmma:
        key = (r["format"], r["shape"], r["M"])
        if r["check"] != "ok" or key not in base:
            failed += 1
            continue
        ratio[(r["format"], r["config"], int(r["M"]))].append(base[key] / float(r["fpx_us"]))
    pairs = list(dict.fromkeys((r["format"], r["config"]) for r in wgmma))
    print()
    print("| wgmma vs fpx_gemm | " + " | ".join("M=%d" % m for m in ms) + " |")
    print("|---" * (len(ms) + 1) + "|")
    for f, c in pairs:
        cells = ["%.2fx" % geo(ratio[(f, c, m)]) if ratio[(f, c, m)] else "-" for m in ms]
        print("| %s %s | %s |" % (f, c, " | ".join(cells)))
    if failed:
        print("\n%d wgmma rows left out (check not ok)" % failed)
