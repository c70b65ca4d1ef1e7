#!/usr/bin/env python3
"""Checks, bit for bit, the register-pair placement of the kernel templates
(place_plane in templates/weight_only.cuh, place_plane16 in
templates/wgmma_gemm.cuh) against the plain shift-and-mask placement it
replaces: for every eXmY format of 3 to 8 bits, every bit plane, the FP16,
BF16 and FP8 targets, every register pair of a block and random plane words.
The templates use one integer multiply for the two copies (magnitude and
sign) of the sign plane where they cannot overlap; this script is the proof
that the sum of the copies equals their OR and that the masks keep exactly
the target bits. It also checks the FP8 k-quads of formats below 8 bits
(place_quad in both templates: four codes per register, columns in the
order +0, +2, +1, +3) against codes assembled from the planes one by one
and converted to E4M3. Run it after changing any of these functions (no
GPU needed).
Usage: tools/check-plane-placement.py [words per case, default 200]"""
import random
import sys

M32 = 0xFFFFFFFF


def plane_code_shift(bits, p):
    """code bits below plane p (Format::plane_code_shift)"""
    return ((4 if bits & 4 and p > 4 else 0) + (2 if bits & 2 and p > 2 else 0) +
            (1 if bits & 1 and p > 1 else 0))


def shift(x, s):
    return (x << s) & M32 if s >= 0 else x >> -s


def fields(bits, p, sign_pos, mag_shift, q):
    cs = plane_code_shift(bits, p)
    has_sign = cs + p == bits
    mag_bits = p - 1 if has_sign else p
    mag_mask = ((((1 << mag_bits) - 1) << (cs + mag_shift)) * 0x10001) & M32
    sign_mask = ((1 << sign_pos) * 0x10001) & M32
    pos = (q % (16 // p)) * p
    return cs, has_sign, mag_bits, mag_mask, sign_mask, pos


def plain(bits, p, sign_pos, mag_shift, word, q):
    cs, has_sign, mag_bits, mag_mask, sign_mask, pos = fields(bits, p, sign_pos, mag_shift, q)
    v = shift(word, cs + mag_shift - pos) & mag_mask if mag_bits > 0 else 0
    if has_sign:
        v |= shift(word, sign_pos - (pos + p - 1)) & sign_mask
    return v


def template(bits, p, sign_pos, mag_shift, word, q):
    """the templates' placement, step for step"""
    cs, has_sign, mag_bits, mag_mask, sign_mask, pos = fields(bits, p, sign_pos, mag_shift, q)
    a, b = cs + mag_shift - pos, sign_pos - (pos + p - 1)
    if has_sign and mag_bits > 0 and p <= b - a <= 16 - p:
        pre = 8 if a < 0 or b < 0 else 0
        if a + pre >= 0 and b + pre >= 0 and pos >= pre:
            field = ((((1 << p) - 1) << (pos - pre)) * 0x10001) & M32
            both = (((word >> pre) & field) * ((1 << (a + pre)) + (1 << (b + pre)))) & M32
            return both & (mag_mask | sign_mask), True
    return plain(bits, p, sign_pos, mag_shift, word, q), False


def plane_word_offset(bits, p):
    """words of the lane's block data taken by planes wider than p"""
    return 4 * ((8 if bits & 8 and p < 8 else 0) + (4 if bits & 4 and p < 4 else 0) +
                (2 if bits & 2 and p < 2 else 0))


def code(bits, w, q, half):
    """code of pair q, 16-bit half `half`, assembled plane by plane"""
    c = 0
    for p in (8, 4, 2, 1):
        if bits & p:
            ppw = 16 // p
            word = w[plane_word_offset(bits, p) + q // ppw]
            c |= ((word >> ((q % ppw) * p + 16 * half)) & ((1 << p) - 1)) << plane_code_shift(bits, p)
    return c


def quad_want(bits, m, w, q):
    """E4M3 bytes of the codes of pairs q, q + 2, columns +0, +2, +1, +3"""
    v = 0
    for byte, (qq, half) in enumerate(((q, 0), (q + 2, 0), (q, 1), (q + 2, 1))):
        c = code(bits, w, qq, half)
        fp8 = (c >> (bits - 1)) << 7 | (c & ((1 << (bits - 1)) - 1)) << (3 - m)
        v |= fp8 << (8 * byte)
    return v


def quad_template(bits, m, w, q):
    """place_quad / quad_plane, step for step (MAG_SHIFT = 3 - m: E4M3)"""
    v = 0
    for p in (4, 2, 1):
        if not bits & p:
            continue
        cs = plane_code_shift(bits, p)
        has_sign = cs + p == bits
        mag_bits = p - 1 if has_sign else p
        mag_mask = ((((1 << mag_bits) - 1) << (cs + 3 - m)) * 0x01010101) & M32
        sign_mask = 0x80808080
        gap = 8 - 2 * p
        even, odd = (0x00FF00FF, 0xFF00FF00) if gap else (M32, 0)
        word = w[plane_word_offset(bits, p) + q // (16 // p)]
        pos = (q % (16 // p)) * p
        a, b = cs + 3 - m - pos, 8 - p - pos
        if mag_bits > 0:
            v |= shift(word, a) & mag_mask & even
            if gap:
                v |= shift(word, a + gap) & mag_mask & odd
        if has_sign:
            v |= shift(word, b) & sign_mask & even
            if gap:
                v |= shift(word, b + gap) & sign_mask & odd
    return v


def check_quads(rng, words):
    """every format of 3 to 7 bits with an E4M3 form (E <= 4, M <= 3), every
    register of a block (q = 4t + j, t < 16, j < 2), random block data"""
    cases = 0
    for e in range(1, 5):
        for m in range(0, 4):
            bits = 1 + e + m
            if not 3 <= bits <= 7:
                continue
            for t in range(16):
                for j in range(2):
                    q = 4 * t + j
                    for _ in range(words):
                        w = [rng.getrandbits(32) for _ in range(4 * bits)]
                        got, want = quad_template(bits, m, w, q), quad_want(bits, m, w, q)
                        if got != want:
                            print("MISMATCH quad e%dm%d q %d: %08x != %08x" % (e, m, q, got, want))
                            return -1
                        cases += 1
    return cases


def main():
    words = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rng = random.Random(1)
    cases = multiplied = 0
    for e in range(1, 6):
        for m in range(0, 7):
            bits = 1 + e + m
            if not 3 <= bits <= 8:
                continue
            # FP16, BF16, FP8 E4M3 and E5M2 targets (sign bit, magnitude shift)
            for sign_pos, mag_shift in ((15, 10 - m), (15, 7 - m), (7, 3 - m), (7, 2 - m)):
                if mag_shift < 0:
                    continue
                for p in (8, 4, 2, 1):
                    if not bits & p:
                        continue
                    for q in range(64):
                        for _ in range(words):
                            w = rng.getrandbits(32)
                            got, used = template(bits, p, sign_pos, mag_shift, w, q)
                            want = plain(bits, p, sign_pos, mag_shift, w, q)
                            if got != want:
                                print("MISMATCH e%dm%d plane %d target (%d, %d) pair %d word %08x: %08x != %08x"
                                      % (e, m, p, sign_pos, mag_shift, q, w, got, want))
                                return 1
                            cases += 1
                            multiplied += used
    print("ok: %d cases, %d through the multiply" % (cases, multiplied))
    quads = check_quads(rng, words)
    if quads < 0:
        return 1
    print("ok: %d FP8 k-quads" % quads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
