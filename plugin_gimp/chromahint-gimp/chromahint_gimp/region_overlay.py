"""Draw a `regions` reply: the next regions worth a hint, tinted and numbered.

Which pixels belong to which shown region, where each number goes and the tints come from
`chromahint_client.regions` (the same for both plug-ins); this module only paints them, as
RGBA8 bytes for a new layer, with byte-level operations so a few thousand pixels square
stays well under a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from chromahint_client.regions import MAX_SHOWN, Region, color_for, region_map

TINT_ALPHA = 110
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


@dataclass
class Overlay:
    rgba: bytes
    regions: list[Region]  # the regions shown, by rank, with where their numbers are


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


def _draw_number(out: bytearray, width: int, height: int, region: Region, scale: int) -> None:
    text = str(region.rank)
    text_w = (4 * len(text) - 1) * scale
    text_h = 5 * scale
    pad = scale
    x, y = int(region.x), int(region.y)
    # Keep the label inside the image even for regions at its edge.
    left = min(max(x - text_w // 2, pad), max(pad, width - text_w - pad))
    top = min(max(y - text_h // 2, pad), max(pad, height - text_h - pad))
    r, g, b = color_for(region.rank)
    backing = bytes((r // 3, g // 3, b // 3, 255))
    box = (left - pad, top - pad, left + text_w + pad, top + text_h + pad)
    _fill(out, width, height, box, backing)
    white = b"\xff\xff\xff\xff"
    for i, ch in enumerate(text):
        gx = left + 4 * scale * i
        for row, bits in enumerate(_GLYPHS[ch]):
            for col, bit in enumerate(bits):
                if bit == "1":
                    px, py = gx + col * scale, top + row * scale
                    _fill(out, width, height, (px, py, px + scale, py + scale), white)


def render(labels: bytes, width: int, height: int, order: list[int], count: int) -> Overlay:
    """RGBA8 overlay: the first `count` regions of `order` tinted and numbered 1, 2, …

    `labels` is the reply's gray16 label image; ValueError when it is not width x height.
    """
    shown = region_map(labels, width, height, order, count)  # full size: one rank per pixel
    out = bytearray(4 * width * height)
    for channel in range(4):
        table = bytearray(256)
        for rank in range(1, min(count, MAX_SHOWN, len(order)) + 1):
            table[rank] = (*color_for(rank), TINT_ALPHA)[channel]
        out[channel::4] = shown.ranks.translate(table)
    scale = label_scale(width, height)
    for region in shown.regions:
        _draw_number(out, width, height, region, scale)
    return Overlay(bytes(out), shown.regions)
