#!/usr/bin/env python3
"""Opcode counts of a kernel's longest loop, from `cuobjdump -sass` output:
the instructions between the target of the longest backward branch and that
branch (the K loop of the mma.sync GEMM), counted by opcode with guard
predicates stripped. With a second argument, the loop's instructions too.
Usage: tools/sass-loop-opcodes.py KERNEL.sass [list]"""
import collections
import re
import sys

lines = open(sys.argv[1]).read().splitlines()
ins = []
for line in lines:
    m = re.match(r'\s*/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;', line)
    if m:
        ins.append((int(m.group(1), 16), m.group(2).strip()))
best = None
for addr, text in ins:
    m = re.search(r'BRA\s+(0x[0-9a-f]+)', text)
    if m:
        target = int(m.group(1), 16)
        if target < addr and (best is None or addr - target > best[1] - best[0]):
            best = (target, addr)
if best is None:
    sys.exit("no backward branch")
lo, hi = best
body = [(a, t) for a, t in ins if lo <= a <= hi]
counts = collections.Counter(re.sub(r'^@!?U?P\w+\s+', '', t).split()[0] for _, t in body)
print(f"{sys.argv[1]} loop {lo:#x}-{hi:#x}: {len(body)} instructions")
print("  " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
if len(sys.argv) > 2:
    for a, t in body:
        print(f"{a:05x} {t}")
