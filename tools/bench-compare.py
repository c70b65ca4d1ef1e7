#!/usr/bin/env python3
"""Compares two CSVs of `fpx-tune bench --csv` taken in one session (for
example the same build with a launch option on and off): per format and M,
the geometric mean over shapes of the speedup over cuBLAS in each run
(cuBLASLt FP8 too where the CSV has it), and of fpx time A / fpx time B
(above 1: B is faster). Rows are fpx_gemm rows matched by format, shape and M.
Usage: tools/bench-compare.py A.csv B.csv [LABEL_A LABEL_B]"""
import collections
import csv
import math
import sys

def load(path):
    rows = [r for r in csv.DictReader(open(path)) if r.get("kernel", "fpx_gemm") in ("", "fpx_gemm")]
    return {(r["format"], r["act"], r["shape"], int(r["M"])): r for r in rows}

def geo(values):
    return math.exp(sum(map(math.log, values)) / len(values)) if values else float("nan")

a, b = load(sys.argv[1]), load(sys.argv[2])
la, lb = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else ("A", "B")
groups = collections.defaultdict(list)
for key in a:
    if key in b:
        groups[(key[0], key[1], key[3])].append((a[key], b[key]))
has_fp8 = any(r.get("fp8_speedup") for r in a.values())
head = "| format | act | M | %s vs cuBLAS | %s vs cuBLAS |" % (la, lb)
if has_fp8:
    head += " %s vs cuBLASLt FP8 | %s vs cuBLASLt FP8 |" % (la, lb)
print(head + " time %s / time %s | shapes |" % (la, lb))
print("|---" * (head.count("|") + 1) + "|")
for (fmt, act, m), pairs in sorted(groups.items()):
    cells = [fmt, act, str(m), "%.3fx" % geo([float(x["speedup"]) for x, _ in pairs]),
             "%.3fx" % geo([float(y["speedup"]) for _, y in pairs])]
    if has_fp8:
        cells += ["%.3fx" % geo([float(x["fp8_speedup"]) for x, _ in pairs if x.get("fp8_speedup")]),
                  "%.3fx" % geo([float(y["fp8_speedup"]) for _, y in pairs if y.get("fp8_speedup")])]
    cells += ["%.3f" % geo([float(x["fpx_us"]) / float(y["fpx_us"]) for x, y in pairs]), str(len(pairs))]
    print("| " + " | ".join(cells) + " |")
