#!/usr/bin/env python3
"""Compares the compiled kernels of two fpx databases (for example two
`make device-kernels KERNEL_DB=...` outputs of different template versions),
kernel by kernel: the cubins of the same (architecture, lowered name) are
byte-identical or not, per template (weight_only_gemm, wgmma_gemm, ...).
This is how to tell whether a template edit changed the code that a
measurement ran: ptxas output can move with edits to code that never runs,
and any edit of the templates renames internal symbols in some cubins (their
symbol tables differ, their code does not). Prints, per template, the
kernels in both, the identical ones, and for the others how many bytes
differ and whether their code (the ELF .text sections) is identical; then
the kernels found in one database only.
Usage: tools/compare-kernel-dbs.py A.db B.db [SUBSTRING of the lowered name]"""
import collections
import re
import sqlite3
import struct
import sys


def load(path, part):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = db.execute("SELECT arch, lowered_name, blob FROM binaries").fetchall()
    return {(arch, name): blob for arch, name, blob in rows if part in name}


def code_sections(blob):
    """the .text sections of a cubin (64-bit little-endian ELF), by name"""
    shoff = struct.unpack_from("<Q", blob, 0x28)[0]
    entsize, count, names_index = struct.unpack_from("<HHH", blob, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", blob, shoff + i * entsize) for i in range(count)]
    names_at = headers[names_index][4]

    def name(offset):
        end = blob.index(b"\0", names_at + offset)
        return blob[names_at + offset:end].decode()

    return {name(h[0]): blob[h[4]:h[4] + h[5]] for h in headers if name(h[0]).startswith(".text")}


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
        same_code = diff == 0 or code_sections(x) == code_sections(y)
        groups[(key[0], template(key[1]))].append((key[1], diff, same_code))
    for (arch, tmpl), items in sorted(groups.items()):
        changed = [(n, d, c) for n, d, c in items if d]
        print(f"{arch} {tmpl}: {len(items)} in both, {len(items) - len(changed)} identical, "
              f"{sum(1 for _, _, c in changed if c)} more with identical code")
        for name, diff, same_code in changed:
            print(f"  differ in {diff} bytes{' (code identical)' if same_code else ''}: {name}")
    for label, only in (("A", set(a) - set(b)), ("B", set(b) - set(a))):
        if only:
            print(f"only in {label}: {len(only)}")
            for arch, name in sorted(only):
                print(f"  {arch} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
