"""Krita's raw pixel bytes and colour spaces, in pure Python (no numpy).

Krita's `pixelData` is raw in the layer's colour space. For RGBA at integer depths the
channels are stored B, G, R, A (U8, or U16 in the machine's byte order); GRAYA stores gray,
alpha. Extended slice assignment on bytearrays moves whole channels at C speed, so the
changes here take milliseconds even for large images. What is not Krita's own (the
BGRA -> protocol image, the red/blue swap) comes from `chromahint_client.images`.

Only "direct" colour spaces are handled here: RGBA/GRAYA, U8/U16, with the sRGB tone curve
the engine expects. Everything else (floats, linear or wide-gamut profiles, CMYK, Lab) is
converted by Krita's colour management first (see kritadoc.py).

This module imports nothing from Krita or Qt so it can be tested anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chromahint_client.images import swap_red_blue

# Profile names whose tone curve is sRGB's (what the engine's "sRGB-encoded" means).
_SRGB_TRC_MARKERS = ("srgbtrc", "srgb built-in", "srgb iec61966")
_SAMPLE_BYTES = {"U8": 1, "U16": 2, "F16": 2, "F32": 4}
_CHANNELS = {"RGBA": 4, "GRAYA": 2, "CMYKA": 5, "LABA": 4, "XYZA": 4, "YCbCrA": 4, "A": 1}
_SELECTED = bytes(1 if v >= 128 else 0 for v in range(256))
_RUN = re.compile(rb"\x01+")


@dataclass(frozen=True)
class ColorSpace:
    model: str  # Krita's colour model id: RGBA, GRAYA, CMYKA, ...
    depth: str  # U8, U16, F16, F32
    profile: str

    @property
    def sample_bytes(self) -> int:
        return _SAMPLE_BYTES.get(self.depth, 4)

    @property
    def pixel_bytes(self) -> int:
        return _CHANNELS.get(self.model, 4) * self.sample_bytes

    @property
    def srgb_trc(self) -> bool:
        name = self.profile.lower()
        return any(marker in name for marker in _SRGB_TRC_MARKERS)

    @property
    def direct(self) -> bool:
        """Readable as sRGB-encoded BGRA by byte shuffling alone, without Krita converting it."""
        return self.model in ("RGBA", "GRAYA") and self.depth in ("U8", "U16") and self.srgb_trc

    @property
    def writable(self) -> bool:
        """The engine's rgba8 can be written into it by byte shuffling alone."""
        return self.model == "RGBA" and self.direct

    @property
    def is_gray(self) -> bool:
        return self.model == "GRAYA"


# What Krita converts indirect colour spaces to before the bytes reach us (and from, after).
SRGB_PROFILE = "sRGB-elle-V2-srgbtrc.icc"
RGBA8_SRGB = ColorSpace("RGBA", "U8", SRGB_PROFILE)
RGBA16_SRGB = ColorSpace("RGBA", "U16", SRGB_PROFILE)


@dataclass(frozen=True)
class Rect:
    """An image rectangle: x, y, width, height in image pixels."""

    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class LayerPixels:
    """A layer's pixels as read from Krita: sRGB-encoded BGRA, 8 or 16 bits per sample."""

    bgra: bytes
    rect: Rect  # where they lie in the image
    sample_bytes: int  # 1 or 2

    @property
    def format(self) -> str:
        """The protocol pixel format these bytes become (after the red/blue swap)."""
        return "rgba8" if self.sample_bytes == 1 else "rgba16"


def gray_to_bgra(data: bytes, sample_bytes: int) -> bytes:
    """GRAYA (gray, alpha) -> BGRA with the gray copied into all three colour channels."""
    n = len(data) // (2 * sample_bytes)
    out = bytearray(4 * sample_bytes * n)
    step_in, step_out = 2 * sample_bytes, 4 * sample_bytes
    for k in range(sample_bytes):
        gray = data[k::step_in]
        for channel in range(3):
            out[channel * sample_bytes + k :: step_out] = gray
        out[3 * sample_bytes + k :: step_out] = data[sample_bytes + k :: step_in]
    return bytes(out)


def to_bgra(data: bytes, space: ColorSpace) -> bytes:
    """A direct colour space's bytes as BGRA at the same depth."""
    if not space.direct:
        raise ValueError(f"{space} needs Krita's colour conversion first")
    return gray_to_bgra(data, space.sample_bytes) if space.is_gray else data


def is_opaque(bgra: bytes, sample_bytes: int) -> bool:
    """True when no pixel has alpha below full (the high byte decides for 16 bits)."""
    step = 4 * sample_bytes
    alpha = bgra[step - 1 :: step]
    return not alpha.translate(None, b"\xff")


def rgba8_to_bgra(data: bytes, sample_bytes: int) -> bytes:
    """The engine's rgba8 -> BGRA at 8 or 16 bits (v * 257, so 255 stays full scale)."""
    bgra8 = swap_red_blue(data, 1)
    if sample_bytes == 1:
        return bgra8
    out = bytearray(2 * len(bgra8))
    out[0::2] = bgra8
    out[1::2] = bgra8
    return bytes(out)


def rgba8_for(data: bytes, space: ColorSpace) -> bytes:
    """The engine's rgba8 as raw bytes of a writable colour space (RGBA U8/U16, sRGB)."""
    if not space.writable:
        raise ValueError(f"{space} needs Krita's colour conversion to be written")
    return rgba8_to_bgra(data, space.sample_bytes)


def selected_spans(mask: bytes, width: int, height: int) -> list[tuple[int, int, int]]:
    """(row, x0, x1) runs where an 8-bit selection mask is at least half selected."""
    flags = mask.translate(_SELECTED)
    spans = []
    for y in range(height):
        row = flags[y * width : (y + 1) * width]
        spans += [(y, m.start(), m.end()) for m in _RUN.finditer(row)]
    return spans


def merge_spans(
    new: bytes, old: bytes, spans: list[tuple[int, int, int]], width: int, pixel_bytes: int
) -> bytes:
    """`old` with the pixels of `new` copied in over the given (row, x0, x1) spans."""
    out = bytearray(old)
    stride = width * pixel_bytes
    for y, x0, x1 in spans:
        a, b = y * stride + x0 * pixel_bytes, y * stride + x1 * pixel_bytes
        out[a:b] = new[a:b]
    return bytes(out)
