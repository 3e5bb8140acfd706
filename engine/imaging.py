"""Protocol images -> arrays: every pixel format decoded to lightness and luminance.

All formats carry display-referred (sRGB-encoded) samples; floats are in [0, 1].
Large images are processed in row strips so memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image as PILImage

from chromahint_client.protocol import Image

from .color import RGB_TO_XYZ, luminance_to_lightness, srgb_to_linear

# format -> (channels, numpy dtype, max value)
FORMATS: dict[str, tuple[int, str, float]] = {
    "gray8": (1, "u1", 255.0),
    "gray16": (1, "<u2", 65535.0),
    "rgb8": (3, "u1", 255.0),
    "rgb16": (3, "<u2", 65535.0),
    "rgba8": (4, "u1", 255.0),
    "rgba16": (4, "<u2", 65535.0),
    "rgbaf32": (4, "<f4", 1.0),
}
STRIP_PIXELS = 1 << 16  # a strip this size keeps its temporaries in cache

_LUMA = RGB_TO_XYZ[1].copy()  # linear RGB -> relative luminance Y
# sRGB decode of every 16-bit code (an 8-bit code c is 16-bit code c * 257).
_LINEAR_16 = srgb_to_linear(np.arange(65536, dtype=np.float32) / 65535.0)


@dataclass(frozen=True)
class Raster:
    width: int
    height: int
    format: str
    pixels: np.ndarray  # (H, W, C) view of the request bytes, no copy

    @property
    def channels(self) -> int:
        return FORMATS[self.format][0]


def strip_rows(width: int) -> int:
    return max(1, STRIP_PIXELS // max(width, 1))


def decode(image: Image) -> Raster:
    """A validated protocol image as an array view of its bytes (no copy)."""
    channels, dtype, _ = FORMATS[image.format]
    pixels = np.frombuffer(image.data, dtype=dtype).reshape(image.height, image.width, channels)
    return Raster(image.width, image.height, image.format, pixels)


def _unit_float(x: np.ndarray) -> np.ndarray:
    x = np.nan_to_num(x.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(x, 0.0, 1.0, out=x)


def channel_unit(raster: Raster, c: int) -> np.ndarray:
    """Channel c of the raster as sRGB-encoded float32 in [0, 1]."""
    scale = FORMATS[raster.format][2]
    px = raster.pixels[..., c]
    return _unit_float(px if scale == 1.0 else px.astype(np.float32) / np.float32(scale))


def _linear(px: np.ndarray) -> np.ndarray:
    """sRGB-encoded samples -> linear light; integer formats go through a table."""
    if px.dtype == np.uint8:
        return _LINEAR_16[px.astype(np.int32) * 257]
    if px.dtype == np.uint16:
        return _LINEAR_16[px]
    return srgb_to_linear(_unit_float(px))


_LIGHTNESS_16 = luminance_to_lightness(_LINEAR_16)


def luminance(raster: Raster) -> tuple[np.ndarray, np.ndarray]:
    """(L, Y): CIELAB lightness in [0, 100] and relative luminance in [0, 1], each (H, W).

    Colour inputs are colorized from their lightness, so only luminance is kept.
    """
    if raster.channels == 1 and raster.pixels.dtype != np.float32:
        # Gray codes map straight to both through tables.
        codes = raster.pixels[..., 0]
        step = 257 if codes.dtype == np.uint8 else 1  # an 8-bit code c is 16-bit code 257c
        return _LIGHTNESS_16[::step][codes], _LINEAR_16[::step][codes]
    Y = np.empty((raster.height, raster.width), np.float32)
    rows = strip_rows(raster.width)
    for y0 in range(0, raster.height, rows):
        px = raster.pixels[y0 : y0 + rows]
        Y[y0 : y0 + rows] = _linear(px[..., :3]) @ _LUMA
    np.clip(Y, 0.0, 1.0, out=Y)
    return luminance_to_lightness(Y), Y


def alpha8(raster: Raster) -> np.ndarray | None:
    """The source's alpha as 8 bits, so transparent parts stay transparent in the layer."""
    if raster.channels != 4:
        return None
    a = raster.pixels[..., 3]
    if a.dtype == np.uint8:
        return a
    scale = 255.0 / FORMATS[raster.format][2]
    src = _unit_float(a) if a.dtype.kind == "f" else a
    return np.round(src * scale).astype(np.uint8)


MIN_WORKING_SIDE = 16


def working_shape(width: int, height: int, working_size: int) -> tuple[int, int]:
    scale = working_size / max(width, height)
    return (
        max(MIN_WORKING_SIDE, round(width * scale)),
        max(MIN_WORKING_SIDE, round(height * scale)),
    )


def resize_plane(plane: np.ndarray, width: int, height: int) -> np.ndarray:
    if plane.shape == (height, width):
        return plane.astype(np.float32, copy=True)
    img = PILImage.fromarray(np.ascontiguousarray(plane, dtype=np.float32), mode="F")
    # reducing_gap: a big downscale first box-reduces by an integer factor (3x faster at
    # 8000x6000 -> 256, and an area average, which is what a downscale should be).
    resized = img.resize((width, height), PILImage.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(resized, dtype=np.float32)
