"""Raw layer bytes from an editor -> the protocol's Image, and the colour-channel swaps both
editors need. Pure Python: extended slice assignment moves whole channels at C speed."""

from __future__ import annotations

import sys
from array import array

from . import protocol as P


def swap_red_blue(data: bytes, sample_bytes: int) -> bytes:
    """BGRA <-> RGBA (the swap is its own inverse), for 1- or 2-byte samples."""
    out = bytearray(data)
    step = 4 * sample_bytes
    for k in range(sample_bytes):
        out[k::step] = data[2 * sample_bytes + k :: step]
        out[2 * sample_bytes + k :: step] = data[k::step]
    return bytes(out)


def to_little_endian(data: bytes, fmt: str, byteorder: str = sys.byteorder) -> bytes:
    """Native-endian 16-bit or float samples -> the protocol's little-endian ones."""
    if byteorder == "little" or fmt.endswith("8"):
        return data
    samples = array("f" if fmt.endswith("f32") else "H", data)
    samples.byteswap()
    return samples.tobytes()


def layer_image(
    data: bytes,
    width: int,
    height: int,
    fmt: str,
    *,
    order: str = "RGBA",
    byteorder: str = sys.byteorder,
) -> P.Image:
    """An image message for a layer's pixels in protocol format `fmt`, whose colour channels
    come in `order` ("RGBA", or Krita's "BGRA") and samples in `byteorder`."""
    if fmt not in P.BYTES_PER_PIXEL:
        raise ValueError(f"unknown protocol pixel format {fmt!r}")
    expected = width * height * P.BYTES_PER_PIXEL[fmt]
    if len(data) != expected:
        raise ValueError(f"got {len(data)} bytes for {width}x{height} {fmt}, not {expected}")
    if order == "BGRA":
        if not fmt.startswith("rgba") or fmt == "rgbaf32":
            raise ValueError(f"BGRA order is for rgba8/rgba16 layers, not {fmt}")
        data = swap_red_blue(data, 1 if fmt == "rgba8" else 2)
    elif order != "RGBA":
        raise ValueError(f"channel order must be 'RGBA' or 'BGRA', not {order!r}")
    return P.Image(width, height, fmt, to_little_endian(data, fmt, byteorder))
