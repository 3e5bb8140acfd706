"""Draw the engine's `regions` reply: the next regions worth a hint, tinted and numbered.

The reply holds a gray16 label image (one region id per pixel, 0 = line or nothing) and
region ids ordered by priority. The overlay tints the first `count` regions and writes
each one's priority number inside it, as RGBA8 bytes for a new layer. Pure Python with
byte-level operations so a few thousand pixels square stays well under a few seconds.
"""

from __future__ import annotations

import re
import sys
from array import array
from dataclasses import dataclass

MAX_REGIONS = 99  # two digits at most in a label
TINT_ALPHA = 110
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
# 3x5 bitmap digits, rows top to bottom.
_GLYPHS = {
    "0": ("111", "101", "101", "101", "111"),
    "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"),
    "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"),
    "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"),
    "7": ("111", "001", "001", "001", "001"),
    "8": ("111", "101", "111", "101", "111"),
    "9": ("111", "101", "111", "001", "111"),
}
_RUN = re.compile(rb"([\x01-\xff])\1*")


@dataclass(frozen=True)
class Anchor:
    rank: int  # 1 = the engine's first choice
    region: int  # the region id in the label image
    x: int
    y: int
    pixels: int


@dataclass
class Overlay:
    rgba: bytes
    anchors: list[Anchor]


def color_for(rank: int) -> tuple[int, int, int]:
    return COLORS[(rank - 1) % len(COLORS)]


def rank_mask(labels: bytes, width: int, height: int, order: list[int], count: int) -> bytes:
    """One byte per pixel: the priority rank (1..count) of its region, 0 elsewhere."""
    ids = array("H")
    if ids.itemsize != 2:
        raise RuntimeError("this Python has no 16-bit unsigned array type")
    ids.frombytes(labels)
    if sys.byteorder == "big":
        ids.byteswap()
    if len(ids) != width * height:
        raise ValueError(f"the label image holds {len(ids)} pixels, not {width}x{height}")
    lut = bytearray(65536)
    for rank, region in enumerate(order[: min(count, MAX_REGIONS)], start=1):
        if 0 < region < 65536 and not lut[region]:
            lut[region] = rank
    return bytes(map(lut.__getitem__, ids))


def _anchors(mask: bytes, width: int, height: int, order: list[int]) -> list[Anchor]:
    """A point well inside each ranked region: the middle of its widest run among the rows
    of the middle half of its height (always on the region, unlike a centroid)."""
    rows: dict[int, dict[int, tuple[int, int]]] = {}  # rank -> row -> widest (x0, x1)
    pixels: dict[int, int] = {}
    for y in range(height):
        row = mask[y * width : (y + 1) * width]
        if not row.strip(b"\x00"):
            continue
        for m in _RUN.finditer(row):
            rank, x0, x1 = row[m.start()], m.start(), m.end()
            pixels[rank] = pixels.get(rank, 0) + x1 - x0
            per_row = rows.setdefault(rank, {})
            best = per_row.get(y)
            if best is None or x1 - x0 > best[1] - best[0]:
                per_row[y] = (x0, x1)
    anchors = []
    for rank, per_row in sorted(rows.items()):
        ys = sorted(per_row)
        middle = ys[len(ys) // 4 : len(ys) - len(ys) // 4] or ys
        y = max(middle, key=lambda r: per_row[r][1] - per_row[r][0])
        x0, x1 = per_row[y]
        anchors.append(Anchor(rank, order[rank - 1], (x0 + x1) // 2, y, pixels[rank]))
    return anchors


def _fill(out: bytearray, width: int, height: int, box: tuple[int, int, int, int], rgba: bytes):
    x0, y0, x1, y1 = max(0, box[0]), max(0, box[1]), min(width, box[2]), min(height, box[3])
    if x0 >= x1 or y0 >= y1:
        return
    span = rgba * (x1 - x0)
    for y in range(y0, y1):
        start = 4 * (y * width + x0)
        out[start : start + len(span)] = span


def label_scale(width: int, height: int) -> int:
    """Pixels per font dot: digits about 1/40 of the image's smaller side, at least 10 px."""
    return max(2, round(min(width, height) / 200))


def _draw_number(out: bytearray, width: int, height: int, anchor: Anchor, scale: int) -> None:
    text = str(anchor.rank)
    text_w = (4 * len(text) - 1) * scale
    text_h = 5 * scale
    pad = scale
    # Keep the label inside the image even for regions at its edge.
    left = min(max(anchor.x - text_w // 2, pad), max(pad, width - text_w - pad))
    top = min(max(anchor.y - text_h // 2, pad), max(pad, height - text_h - pad))
    r, g, b = color_for(anchor.rank)
    backing = bytes((r // 3, g // 3, b // 3, 255))
    box = (left - pad, top - pad, left + text_w + pad, top + text_h + pad)
    _fill(out, width, height, box, backing)
    white = b"\xff\xff\xff\xff"
    for i, ch in enumerate(text):
        gx = left + 4 * scale * i
        for row, bits in enumerate(_GLYPHS[ch]):
            for col, bit in enumerate(bits):
                if bit == "1":
                    x, y = gx + col * scale, top + row * scale
                    _fill(out, width, height, (x, y, x + scale, y + scale), white)


def render(labels: bytes, width: int, height: int, order: list[int], count: int) -> Overlay:
    """RGBA8 overlay: the first `count` regions of `order` tinted and numbered 1, 2, …"""
    mask = rank_mask(labels, width, height, order, count)
    out = bytearray(4 * width * height)
    shown = min(count, MAX_REGIONS, len(order))
    for channel in range(4):
        table = bytearray(256)
        for rank in range(1, shown + 1):
            table[rank] = (*color_for(rank), TINT_ALPHA)[channel]
        out[channel::4] = mask.translate(table)
    anchors = _anchors(mask, width, height, order)
    scale = label_scale(width, height)
    for anchor in anchors:
        _draw_number(out, width, height, anchor, scale)
    return Overlay(bytes(out), anchors)
