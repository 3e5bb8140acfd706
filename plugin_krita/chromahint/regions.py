"""Region guidance for line art: where to number the engine's highest-priority regions.

The engine's `regions` reply labels every pixel with a region id (gray16, 0 = line) and
orders the ids by priority. Reading millions of 16-bit labels one by one in Python would
take seconds, so the labels are sampled on a grid of at most GRID pixels on the long side,
which is plenty to place a number and tint a region on an overlay.

Pure Python (no Krita, no Qt), so it can be tested anywhere.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

GRID = 512


@dataclass(frozen=True)
class Region:
    rank: int  # 1 = highest priority
    id: int  # the engine's region id
    x: float  # where its number goes: a region pixel near its centre, image coordinates
    y: float
    area: int  # approximate pixel count


@dataclass(frozen=True)
class RegionMap:
    regions: list[Region]
    ranks: bytes  # grid_w * grid_h: rank of each grid cell's region, 0 = not shown
    grid_w: int
    grid_h: int


def summarize(
    labels: bytes, width: int, height: int, order: list[int], top: int, grid: int = GRID
) -> RegionMap:
    """The first `top` regions of `order` that are present, with their number positions."""
    if len(labels) != width * height * 2:
        raise ValueError(f"{len(labels)} bytes are not a {width}x{height} gray16 label image")
    wanted = order[:top]
    rank_of = {rid: i + 1 for i, rid in enumerate(wanted)}
    step = max(1, -(-max(width, height) // grid))
    xs = range(0, width, step)
    grid_w, grid_h = len(xs), len(range(0, height, step))
    ids = array("H")
    ids.frombytes(labels)
    # Little-endian on the wire; array uses the machine's order (big-endian machines swap).
    if array("H", [1]).tobytes() != b"\x01\x00":
        ids.byteswap()
    sums: dict[int, list[float]] = {rid: [0.0, 0.0, 0] for rid in wanted}
    ranks = bytearray(grid_w * grid_h)
    cells: dict[int, list[tuple[int, int]]] = {rid: [] for rid in wanted}
    for gy, y in enumerate(range(0, height, step)):
        row = ids[y * width : (y + 1) * width : step]
        for gx, rid in enumerate(row):
            rank = rank_of.get(rid)
            if rank is None:
                continue
            ranks[gy * grid_w + gx] = rank
            acc = sums[rid]
            acc[0] += gx
            acc[1] += gy
            acc[2] += 1
            cells[rid].append((gx, gy))
    regions = []
    for rid in wanted:
        sx, sy, n = sums[rid]
        if not n:
            continue
        cx, cy = sx / n, sy / n
        # The centroid of a C-shaped region lies outside it: use its cell nearest the centroid.
        gx, gy = min(cells[rid], key=lambda c: (c[0] - cx) ** 2 + (c[1] - cy) ** 2)
        regions.append(
            Region(
                rank=rank_of[rid],
                id=rid,
                x=min(width - 1, gx * step + step / 2),
                y=min(height - 1, gy * step + step / 2),
                area=int(n * step * step),
            )
        )
    return RegionMap(regions, bytes(ranks), grid_w, grid_h)
