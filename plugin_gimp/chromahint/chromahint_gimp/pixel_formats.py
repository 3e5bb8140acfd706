"""Which Babl format to read a layer with, and the protocol format that names those bytes.

The engine wants sRGB-encoded (non-linear) samples, so every format here is a primed
(R'G'B', Y') Babl format: GEGL converts from whatever the layer stores, linear or not,
and from the image's colour space into sRGB.
"""

from __future__ import annotations

import sys
from array import array
from dataclasses import dataclass


@dataclass(frozen=True)
class PixelFormat:
    babl: str  # Babl format name for Gegl.Buffer.get/set
    protocol: str  # the engine protocol's name for the same bytes
    bytes_per_pixel: int


RESULT = PixelFormat("R'G'B'A u8", "rgba8", 4)  # the engine's reply layer
HINTS = PixelFormat("R'G'B'A u8", "rgba8", 4)  # hints.extract reads 8-bit RGBA

_FORMATS = {
    (8, False, False): PixelFormat("Y' u8", "gray8", 1),
    (8, True, False): PixelFormat("R'G'B' u8", "rgb8", 3),
    (16, False, False): PixelFormat("Y' u16", "gray16", 2),
    (16, True, False): PixelFormat("R'G'B' u16", "rgb16", 6),
    (32, True, True): PixelFormat("R'G'B'A float", "rgbaf32", 16),
    (8, True, True): PixelFormat("R'G'B'A u8", "rgba8", 4),
    (16, True, True): PixelFormat("R'G'B'A u16", "rgba16", 8),
}


def sample_kind(precision_name: str) -> int:
    """8, 16 or 32 (float) from a Gimp.Precision nick ('u16-non-linear') or name.

    u32 is read as u16 (the protocol has no 32-bit integers and 16 bits hold more than the
    engine resolves); half, float and double are read as 32-bit float.
    """
    kind = precision_name.upper().replace("-", "_").removeprefix("GIMP_PRECISION_").split("_")[0]
    if kind == "U8":
        return 8
    if kind in ("U16", "U32"):
        return 16
    if kind in ("HALF", "FLOAT", "DOUBLE"):
        return 32
    raise ValueError(f"unknown GIMP precision {precision_name!r}")


def source_format(precision_name: str, color: bool, alpha: bool) -> PixelFormat:
    """How to read a layer for the engine.

    Transparency travels only in the RGBA formats (the protocol has no gray+alpha), and
    floats only as rgbaf32, so those cases widen to RGBA.
    """
    bits = sample_kind(precision_name)
    if bits == 32:
        return _FORMATS[(32, True, True)]
    if alpha:
        return _FORMATS[(bits, True, True)]
    return _FORMATS[(bits, color, False)]


def to_little_endian(data: bytes, fmt: PixelFormat) -> bytes:
    """Babl gives native-endian samples; the protocol's are little-endian."""
    if sys.byteorder == "little" or fmt.protocol.endswith("8"):
        return data
    samples = array("f" if fmt.protocol.endswith("f32") else "H", data)
    samples.byteswap()
    return samples.tobytes()


def image_message(data: bytes, width: int, height: int, fmt: PixelFormat) -> dict:
    """The protocol's image map for pixels read in `fmt`."""
    expected = width * height * fmt.bytes_per_pixel
    if len(data) != expected:
        raise ValueError(f"read {len(data)} bytes for {width}x{height} {fmt.babl}, not {expected}")
    return {
        "width": width,
        "height": height,
        "format": fmt.protocol,
        "data": to_little_endian(data, fmt),
    }
