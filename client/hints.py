"""Hint points from a painted hint layer, in pure Python (no numpy in the editors).

Every painted blob becomes hint points: the layer is cut into cells about one engine
working pixel wide, and each painted cell gives a point with its alpha-weighted mean
colour, so anti-aliased edges count by their alpha instead of being averaged with
transparent black. Connected blobs are reported too (for swatches). Work happens on
bytes with slicing, translate and regex, plus one Counter per run segment, so a
4000x3000 layer with hundreds of blobs takes a fraction of a second.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from .protocol import Point

MIN_ALPHA = 8  # alpha below this is treated as unpainted (stray brush dust)
WORKING_SIZE = 256  # the engine's working resolution: one cell is about one working pixel
DEFAULT_MAX_POINTS = 10_000
_RUN = re.compile(rb"\x01+")


@dataclass
class Blob:
    x: float
    y: float
    rgb: tuple[int, int, int]
    area: int
    bbox: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), image coordinates


@dataclass
class Hints:
    points: list[Point] = field(default_factory=list)
    blobs: list[Blob] = field(default_factory=list)
    cell: int = 1


def to_8bit(data: bytes) -> bytes:
    """16-bit little-endian samples -> 8-bit, keeping the high byte."""
    return data[1::2]


class _Acc:
    """Alpha-weighted sums: weight, x, y, r, g, b, and the pixel count."""

    __slots__ = ("w", "x", "y", "r", "g", "b", "n")

    def __init__(self) -> None:
        self.w = self.x = self.y = self.r = self.g = self.b = 0.0
        self.n = 0

    def add(self, w: float, x: float, y: float, r: float, g: float, b: float, n: int) -> None:
        self.w += w
        self.x += x
        self.y += y
        self.r += r
        self.g += g
        self.b += b
        self.n += n

    def merge(self, o: _Acc) -> None:
        self.add(o.w, o.x, o.y, o.r, o.g, o.b, o.n)


def _segment_sums(seg: bytes, n: int, swap_rb: bool) -> tuple[float, float, float, float]:
    """(sum a, sum a*r, sum a*g, sum a*b) over n RGBA/BGRA pixels."""
    first = seg[:4]
    if seg == first * n:  # flat paint: the common case inside strokes
        counts = ((first, n),)
    else:
        counts = Counter(seg[i : i + 4] for i in range(0, 4 * n, 4)).items()
    sw = sr = sg = sb = 0.0
    for px, k in counts:
        a = px[3] * k
        c0, c1, c2 = px[0], px[1], px[2]
        if swap_rb:
            c0, c2 = c2, c0
        sw += a
        sr += a * c0
        sg += a * c1
        sb += a * c2
    return sw, sr, sg, sb


def extract(
    data: bytes,
    width: int,
    height: int,
    order: str = "RGBA",
    offset: tuple[int, int] = (0, 0),
    image_size: tuple[int, int] | None = None,
    cell: int | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> Hints:
    """Hints from 8-bit 4-channel pixels (`order` RGBA or BGRA, alpha last).

    `offset` is the layer's position in the image and `image_size` the image's size:
    points are returned in image coordinates, and those outside the image are dropped.
    """
    if order not in ("RGBA", "BGRA"):
        raise ValueError(f"unsupported channel order {order!r}")
    if len(data) != width * height * 4:
        raise ValueError(f"{len(data)} bytes do not hold {width}x{height} 4-channel pixels")
    img_w, img_h = image_size or (width, height)
    if cell is None:
        cell = max(1, round(max(img_w, img_h) / WORKING_SIZE))
    while True:
        hints = _extract(data, width, height, order == "BGRA", offset, (img_w, img_h), cell)
        if len(hints.points) <= max_points:
            return hints
        cell *= 2


def _extract(
    data: bytes,
    width: int,
    height: int,
    swap_rb: bool,
    offset: tuple[int, int],
    image_size: tuple[int, int],
    cell: int,
) -> Hints:
    table = bytes(1 if v >= MIN_ALPHA else 0 for v in range(256))
    mask = data[3::4].translate(table)
    ox, oy = offset
    cells: dict[tuple[int, int], _Acc] = {}
    parent: list[int] = []
    run_acc: list[_Acc] = []
    bbox: list[list[int]] = []
    prev: list[tuple[int, int, int]] = []  # (x0, x1, run id) of the previous row

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for y in range(height):
        row = mask[y * width : (y + 1) * width]
        if 1 not in row:
            prev = []
            continue
        cur = []
        base = y * width * 4
        j = 0
        for m in _RUN.finditer(row):
            x0, x1 = m.start(), m.end()
            rid = len(parent)
            parent.append(rid)
            acc = _Acc()
            run_acc.append(acc)
            bbox.append([x0, y, x1, y + 1])
            # 8-connectivity with the previous row's runs.
            while j < len(prev) and prev[j][1] < x0:
                j += 1
            k = j
            while k < len(prev) and prev[k][0] <= x1:
                a, b = find(prev[k][2]), find(rid)
                if a != b:
                    parent[b] = a
                k += 1
            cur.append((x0, x1, rid))
            gy = y + oy
            s0 = x0
            while s0 < x1:
                gx0 = s0 + ox
                s1 = min(x1, s0 + cell - (gx0 % cell))
                n = s1 - s0
                sw, sr, sg, sb = _segment_sums(data[base + 4 * s0 : base + 4 * s1], n, swap_rb)
                if sw > 0:
                    mx = ox + (s0 + s1) / 2.0
                    cy = gy + 0.5
                    key = (gy // cell, gx0 // cell)
                    c = cells.get(key)
                    if c is None:
                        c = cells[key] = _Acc()
                    c.add(sw, sw * mx, sw * cy, sr, sg, sb, n)
                    acc.add(sw, sw * mx, sw * cy, sr, sg, sb, n)
                s0 = s1
        prev = [(x0 - 1, x1, rid) for x0, x1, rid in cur]

    img_w, img_h = image_size
    min_weight = 255.0  # one opaque pixel's worth: less is brush dust
    points = []
    for (_, _), c in sorted(cells.items()):
        if c.w < min_weight:
            continue
        x, y = c.x / c.w, c.y / c.w
        if not (0 <= x < img_w and 0 <= y < img_h):
            continue
        rgb = (round(c.r / c.w), round(c.g / c.w), round(c.b / c.w))
        points.append(Point(round(x, 3), round(y, 3), rgb, cell))

    groups: dict[int, _Acc] = {}
    boxes: dict[int, list[int]] = {}
    for rid, acc in enumerate(run_acc):
        root = find(rid)
        g = groups.get(root)
        if g is None:
            groups[root] = g = _Acc()
            boxes[root] = list(bbox[rid])
        g.merge(acc)
        bb, rb = boxes[root], bbox[rid]
        bb[0], bb[1] = min(bb[0], rb[0]), min(bb[1], rb[1])
        bb[2], bb[3] = max(bb[2], rb[2]), max(bb[3], rb[3])
    blobs = []
    for root, g in groups.items():
        if g.w <= 0:
            continue
        x, y = g.x / g.w, g.y / g.w
        if not (0 <= x < img_w and 0 <= y < img_h):
            continue
        bb = boxes[root]
        blobs.append(
            Blob(
                x=x,
                y=y,
                rgb=(round(g.r / g.w), round(g.g / g.w), round(g.b / g.w)),
                area=g.n,
                bbox=(bb[0] + ox, bb[1] + oy, bb[2] + ox, bb[3] + oy),
            )
        )
    blobs.sort(key=lambda b: (b.bbox[1], b.bbox[0]))  # reading order: top to bottom, then left
    return Hints(points=points, blobs=blobs, cell=cell)
