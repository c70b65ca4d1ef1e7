#!/usr/bin/env python3
"""Checks the wgmma kernel's unit schedule (templates/wgmma_gemm.cuh: unit_at,
sk_begin, sk_owner, slots_of) for split-K and stream-K over many (tiles,
column blocks, blocks) triples, with the kernel's integer formulas copied
here: every (tile, column block) iteration is run exactly once; each unit
lies in one tile and is never empty; every contributor to a tile agrees on
the number of contributors and has its own slot 0..slots-1, slot 0 first
along K; the partial-sum indices of shared tiles are distinct and, with
stream-K, below 2 x blocks (the launcher's workspace); the whole tiles run
before the stream-K ranges are unshared. It also checks the tile order
(raster_tile, with the launcher's raster_whole_tiles): a bijection of the
tiles onto (row block, token tile) for every group of 2^lg token tiles, with
the token tile fastest inside whole groups. Run it after changing the
schedule (no GPU needed). Usage: tools/check-stream-k-schedule.py"""
import sys


def schedule(tiles, k_blocks, blocks, split_k):
    """Units of each block as (tile, slot, slots, kb_begin, kb_end), and the
    partial index function, as the kernel computes them (split_k 0:
    stream-K)."""
    stream = split_k == 0
    dp_tiles = (tiles // blocks - 1) * blocks if stream and tiles >= 2 * blocks else 0
    dp_iters = dp_tiles * k_blocks
    sk_iters = (tiles - dp_tiles) * k_blocks

    def sk_begin(b):
        return dp_iters + b * sk_iters // blocks

    def sk_owner(i):
        return ((i - dp_iters) * blocks + blocks - 1) // sk_iters

    def unit_at(b, at):
        if stream and at < dp_iters:
            tile = at // k_blocks
            nxt = at + blocks * k_blocks if tile + blocks < dp_tiles else sk_begin(b)
            return (tile, 0, 1, 0, k_blocks), nxt
        if stream:
            tile = at // k_blocks
            tb, te = tile * k_blocks, tile * k_blocks + k_blocks
            end = sk_begin(b + 1)
            kb_begin, kb_end = at - tb, min(end, te) - tb
            first = sk_owner(tb)
            return (tile, b - first, sk_owner(te - 1) - first + 1, kb_begin, kb_end), tb + kb_end
        tile = at // split_k
        slot = at - tile * split_k
        return (tile, slot, split_k, slot * k_blocks // split_k, (slot + 1) * k_blocks // split_k), at + blocks

    def partial_index(tile, z):
        if not stream:
            return z * tiles + tile
        tb = tile * k_blocks
        first = sk_owner(tb)
        odd0 = 1 if sk_begin(first) < tb else 0
        return 2 * first + 2 * z + (odd0 if z == 0 else 0)

    units = []
    for b in range(blocks):
        first_at = b if not stream else (b * k_blocks if dp_tiles > 0 else sk_begin(b))
        end_at = sk_begin(b + 1) if stream else tiles * split_k
        at, mine = first_at, []
        while at < end_at:
            u, at = unit_at(b, at)
            mine.append(u)
        units.append(mine)
    return units, partial_index, dp_tiles


def check(tiles, k_blocks, blocks, split_k):
    where = "tiles %d, k_blocks %d, blocks %d, split_k %d" % (tiles, k_blocks, blocks, split_k)
    units, partial_index, dp_tiles = schedule(tiles, k_blocks, blocks, split_k)
    seen = {}
    per_tile = {}
    for b, mine in enumerate(units):
        for tile, slot, slots, kb0, kb1 in mine:
            assert 0 <= tile < tiles and 0 <= kb0 < kb1 <= k_blocks, "%s: bad unit %r" % (where, (tile, kb0, kb1))
            for kb in range(kb0, kb1):
                assert (tile, kb) not in seen, "%s: iteration (%d, %d) twice" % (where, tile, kb)
                seen[(tile, kb)] = b
            per_tile.setdefault(tile, []).append((slot, slots, kb0, kb1))
            if split_k == 0 and tile < dp_tiles:
                assert slots == 1 and kb0 == 0 and kb1 == k_blocks, "%s: whole tile %d split" % (where, tile)
    assert len(seen) == tiles * k_blocks, "%s: %d of %d iterations run" % (where, len(seen), tiles * k_blocks)
    indices = set()
    for tile, parts in per_tile.items():
        slots = {p[1] for p in parts}
        assert len(slots) == 1 and slots.pop() == len(parts), "%s: tile %d contributors disagree" % (where, tile)
        order = sorted(parts)
        assert [p[0] for p in order] == list(range(len(parts))), "%s: tile %d slots %r" % (where, tile, order)
        assert all(order[i][3] == order[i + 1][2] for i in range(len(order) - 1)) and order[0][2] == 0, \
            "%s: tile %d slots not in K order" % (where, tile)
        if len(parts) > 1:
            for z in range(len(parts)):
                i = partial_index(tile, z)
                assert i not in indices, "%s: partial index %d twice" % (where, i)
                if split_k == 0:
                    assert 0 <= i < 2 * blocks, "%s: partial index %d >= 2 x blocks" % (where, i)
                indices.add(i)


def raster_tile(t, tiles_x, whole_tiles, raster_log2):
    """the kernel's raster_tile (C integer division: all operands >= 0)"""
    lg = raster_log2 if t < whole_tiles else 0
    y0 = t // tiles_x >> lg << lg
    i = t - y0 * tiles_x
    return i >> lg, y0 + (i & ((1 << lg) - 1))


def check_raster(tiles_x, tiles_y, raster_log2):
    whole_tiles = (tiles_y >> raster_log2 << raster_log2) * tiles_x  # the launcher's
    g = 1 << raster_log2
    seen = set()
    for t in range(tiles_x * tiles_y):
        x, y = raster_tile(t, tiles_x, whole_tiles, raster_log2)
        assert 0 <= x < tiles_x and 0 <= y < tiles_y, (tiles_x, tiles_y, raster_log2, t, x, y)
        assert (x, y) not in seen, (tiles_x, tiles_y, raster_log2, t)
        seen.add((x, y))
        if t < whole_tiles:  # whole group: token tile fastest, groups in order
            assert y // g == t // (g * tiles_x) and y % g == t % g, (tiles_x, tiles_y, raster_log2, t)
        else:  # the rest: row blocks fastest
            assert (x, y) == (t % tiles_x, t // tiles_x), (tiles_x, tiles_y, raster_log2, t)


def main():
    raster_count = 0
    for tiles_x in list(range(1, 12)) + [32, 33, 448]:
        for tiles_y in list(range(1, 20)) + [32, 33]:
            for raster_log2 in range(0, 6):
                check_raster(tiles_x, tiles_y, raster_log2)
                raster_count += 1
    print("tile order checked: %d (row blocks, token tiles, group) cases" % raster_count)
    count = 0
    for blocks in list(range(1, 20)) + [66, 131, 132]:
        for tiles in list(range(1, 40)) + [96, 128, 131, 133, 160, 263, 264, 265, 448, 1024]:
            for k_blocks in (1, 2, 3, 4, 7, 16, 17, 32, 56):
                for split_k in (0, 1, 2, 3, 7):
                    if split_k > k_blocks:
                        continue  # the launcher caps split_k at the column blocks
                    if split_k == 0 and blocks > tiles * k_blocks:
                        continue  # the launcher caps the grid at the iterations
                    if split_k > 0 and blocks > tiles * split_k:
                        continue  # ... and at the units
                    check(tiles, k_blocks, blocks, split_k)
                    count += 1
    print("schedule checked: %d (tiles, column blocks, blocks, split) cases" % count)


if __name__ == "__main__":
    sys.exit(main())
