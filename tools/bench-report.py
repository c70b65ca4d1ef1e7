#!/usr/bin/env python3
"""Turns the CSV of `fpx-tune bench --csv` into the Markdown tables of
BENCHMARKS.md: geometric-mean speedup over cuBLAS per format and M, and the
M = 1 bandwidth per shape. Usage: tools/bench-report.py BENCH.csv"""
import collections
import csv
import math
import sys

rows = list(csv.DictReader(open(sys.argv[1])))
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
