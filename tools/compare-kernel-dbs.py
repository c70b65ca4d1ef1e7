#!/usr/bin/env python3
"""Compares the compiled kernels of two fpx databases (for example two
`make device-kernels KERNEL_DB=...` outputs of different template versions),
kernel by kernel: the cubins of the same (architecture, lowered name) are
byte-identical or not, per template (weight_only_gemm, wgmma_gemm, ...).
This is how to tell whether a template edit changed the code that a
measurement ran: ptxas output can move with edits to code that never runs,
and a comment-only edit changes a few bytes of some cubins' metadata.
Prints, per template, the kernels in both, the identical ones, and for the
others how many bytes differ; then the kernels found in one database only.
Usage: tools/compare-kernel-dbs.py A.db B.db [SUBSTRING of the lowered name]"""
import collections
import re
import sqlite3
import sys


def load(path, part):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = db.execute("SELECT arch, lowered_name, blob FROM binaries").fetchall()
    return {(arch, name): blob for arch, name, blob in rows if part in name}


def template(name):
    m = re.match(r"_ZN3fpx\d+(\w+?)I", name)
    return m.group(1) if m else name


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    part = sys.argv[3] if len(sys.argv) == 4 else ""
    a, b = load(sys.argv[1], part), load(sys.argv[2], part)
    both = sorted(set(a) & set(b))
    groups = collections.defaultdict(list)
    for key in both:
        x, y = a[key], b[key]
        diff = abs(len(x) - len(y)) + sum(p != q for p, q in zip(x, y))
        groups[(key[0], template(key[1]))].append((key[1], diff))
    for (arch, tmpl), items in sorted(groups.items()):
        changed = [(n, d) for n, d in items if d]
        print(f"{arch} {tmpl}: {len(items)} in both, {len(items) - len(changed)} identical")
        for name, diff in changed:
            print(f"  differ in {diff} bytes: {name}")
    for label, only in (("A", set(a) - set(b)), ("B", set(b) - set(a))):
        if only:
            print(f"only in {label}: {len(only)}")
            for arch, name in sorted(only):
                print(f"  {arch} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
