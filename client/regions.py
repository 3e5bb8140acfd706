"""A `regions` reply made readable: which pixels belong to the regions shown, where each
region's number goes, and the tints — the same for both plug-ins.

The reply holds a gray16 label image (a region id per pixel, 0 = line or none) and region
ids by priority. Ranks are decoded at full size, so an overlay follows the lines exactly;
numbers are placed at full size or on a grid of at most `grid` cells on the long side (where a
Python loop over every row would be slow); each shown region's number goes in the middle of
its widest run among the middle half of its rows, a point that is always on the region
(unlike a centroid, which falls outside a C-shaped region).
"""

from __future__ import annotations

import re
import sys
from array import array
from dataclasses import dataclass

MAX_SHOWN = 99  # two digits at most in a number
# Well-separated hues, so neighbouring regions never read as one.
COLORS = (
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (0, 128, 128),
)
_RUN = re.compile(rb"([\x01-\xff])\1*")


def color_for(rank: int) -> tuple[int, int, int]:
    return COLORS[(rank - 1) % len(COLORS)]


@dataclass(frozen=True)
class Region:
    rank: int  # 1 = the engine's first choice
    id: int  # the region id in the label image
    x: float  # where its number goes, in image pixels
    y: float
    area: int  # pixels (approximate when sampled on a grid)


@dataclass(frozen=True)
class RegionMap:
    regions: list[Region]
    ranks: bytes  # width * height bytes: the rank of each pixel's region, 0 = not shown
    width: int
    height: int


def decode_labels(labels: bytes, width: int, height: int) -> array:
    """The gray16 label image as an array of region ids (little-endian on the wire)."""
    ids = array("H")
    if ids.itemsize != 2:
        raise RuntimeError("this Python has no 16-bit unsigned array type")
    if len(labels) != 2 * width * height:
        raise ValueError(f"{len(labels)} bytes are not a {width}x{height} gray16 label image")
    ids.frombytes(labels)
    if sys.byteorder == "big":
        ids.byteswap()
    return ids


def _rank_table(order: list[int], count: int) -> bytearray:
    lut = bytearray(65536)
    for rank, region in enumerate(order[: min(count, MAX_SHOWN)], start=1):
        if 0 < region < 65536 and not lut[region]:
            lut[region] = rank
    return lut


def _anchors(mask: bytes, grid_w: int, grid_h: int, step: int, order: list[int], size):
    rows: dict[int, dict[int, tuple[int, int]]] = {}  # rank -> row -> widest (x0, x1)
    cells: dict[int, int] = {}
    for y in range(grid_h):
        row = mask[y * grid_w : (y + 1) * grid_w]
        if not row.strip(b"\x00"):
            continue
        for m in _RUN.finditer(row):
            rank, x0, x1 = row[m.start()], m.start(), m.end()
            cells[rank] = cells.get(rank, 0) + x1 - x0
            best = rows.setdefault(rank, {}).get(y)
            if best is None or x1 - x0 > best[1] - best[0]:
                rows[rank][y] = (x0, x1)
    width, height = size
    out = []
    for rank, per_row in sorted(rows.items()):
        ys = sorted(per_row)
        middle = ys[len(ys) // 4 : len(ys) - len(ys) // 4] or ys
        gy = max(middle, key=lambda r: per_row[r][1] - per_row[r][0])
        x0, x1 = per_row[gy]
        x = min(width - 1, ((x0 + x1) // 2) * step + step // 2)
        y = min(height - 1, gy * step + step // 2)
        out.append(Region(rank, order[rank - 1], x, y, cells[rank] * step * step))
    return out


def rank_mask(labels: bytes, width: int, height: int, order: list[int], count: int) -> bytes:
    """One byte a pixel at full size: the rank of the pixel's region, 0 = not shown.

    When every shown id fits in a byte (the engine numbers regions by priority, so the first
    ones always do), bytes.translate and one big-integer AND do it in C: fast enough for a
    canvas of tens of megapixels without numpy."""
    if len(labels) != 2 * width * height:
        raise ValueError(f"{len(labels)} bytes are not a {width}x{height} gray16 label image")
    lut = _rank_table(order, count)
    if all(0 < r < 256 for r in order[: min(count, MAX_SHOWN)]):
        low, high = labels[0::2], labels[1::2]  # little-endian on the wire
        ranked = low.translate(bytes(lut[:256]))
        small = high.translate(b"\xff" + bytes(255))  # 0xff where the id is below 256
        n = width * height
        both = int.from_bytes(ranked, "little") & int.from_bytes(small, "little")
        return both.to_bytes(n, "little")
    return bytes(map(lut.__getitem__, decode_labels(labels, width, height)))


def region_map(
    labels: bytes, width: int, height: int, order: list[int], count: int, grid: int = 0
) -> RegionMap:
    """The first `count` regions of `order`, ranked 1, 2, …, with their ranks at full size;
    numbers are placed on a grid of at most `grid` cells on the long side when `grid` > 0
    (placing is a Python loop over rows), at full size otherwise."""
    mask = rank_mask(labels, width, height, order, count)
    step = max(1, -(-max(width, height) // grid)) if grid else 1
    if step == 1:
        regions = _anchors(mask, width, height, 1, order, (width, height))
    else:
        rows = range(0, height, step)
        sampled = b"".join(mask[y * width : (y + 1) * width : step] for y in rows)
        grid_w = len(range(0, width, step))
        regions = _anchors(sampled, grid_w, len(rows), step, order, (width, height))
    return RegionMap(regions, mask, width, height)
