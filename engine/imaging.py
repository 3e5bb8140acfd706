"""Protocol images -> arrays: every pixel format decoded to lightness and luminance.

All formats carry display-referred (sRGB-encoded) samples; floats are in [0, 1].
Large images are processed in row strips so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Iterator
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

LUMA = RGB_TO_XYZ[1].copy()  # linear RGB -> relative luminance Y
# sRGB decode of every 16-bit code (an 8-bit code c is 16-bit code c * 257).
LINEAR_16 = srgb_to_linear(np.arange(65536, dtype=np.float32) / 65535.0)


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


def codes16(px: np.ndarray) -> np.ndarray:
    """Float samples as 16-bit codes (the render's tables read integer codes)."""
    return np.round(_unit_float(px) * np.float32(65535.0)).astype(np.uint16)


def channel_unit(raster: Raster, c: int) -> np.ndarray:
    """Channel c of the raster as sRGB-encoded float32 in [0, 1]."""
    scale = FORMATS[raster.format][2]
    px = raster.pixels[..., c]
    return _unit_float(px if scale == 1.0 else px.astype(np.float32) / np.float32(scale))


def _linear(px: np.ndarray) -> np.ndarray:
    """sRGB-encoded samples -> linear light; integer formats go through a table."""
    if px.dtype == np.uint8:
        return LINEAR_16[px.astype(np.int32) * 257]
    if px.dtype == np.uint16:
        return LINEAR_16[px]
    return srgb_to_linear(_unit_float(px))


LIGHTNESS_16 = luminance_to_lightness(LINEAR_16)
# The same tables for 8-bit codes, contiguous: np.take from them is 2.5x faster than
# indexing a strided view.
LINEAR_8, LIGHTNESS_8 = LINEAR_16[::257].copy(), LIGHTNESS_16[::257].copy()


def luminance(raster: Raster) -> tuple[np.ndarray, np.ndarray]:
    """(L, Y): CIELAB lightness in [0, 100] and relative luminance in [0, 1], each (H, W).

    Colour inputs are colorized from their lightness, so only luminance is kept.
    """
    if raster.channels == 1:  # gray codes map straight to both through tables
        codes = raster.pixels[..., 0]
        eight = codes.dtype == np.uint8
        return (
            np.take(LIGHTNESS_8 if eight else LIGHTNESS_16, codes),
            np.take(LINEAR_8 if eight else LINEAR_16, codes),
        )
    Y = np.empty((raster.height, raster.width), np.float32)
    for y0, px in _strips(raster):
        Y[y0 : y0 + len(px)] = _strip_luminance(px)
    return luminance_to_lightness(Y), Y


def lightness(raster: Raster) -> np.ndarray:
    """CIELAB lightness (H, W) alone: the render computes luminance itself, from the pixels."""
    if raster.channels == 1:
        codes = raster.pixels[..., 0]
        return np.take(LIGHTNESS_8 if codes.dtype == np.uint8 else LIGHTNESS_16, codes)
    L = np.empty((raster.height, raster.width), np.float32)
    for y0, px in _strips(raster):
        L[y0 : y0 + len(px)] = luminance_to_lightness(_strip_luminance(px))
    return L


def lightness_at(raster: Raster, x: float, y: float) -> float:
    """The lightness of the pixel under (x, y), clamped into the image."""
    col = min(max(int(x), 0), raster.width - 1)
    row = min(max(int(y), 0), raster.height - 1)
    pixel = Raster(1, 1, raster.format, raster.pixels[row : row + 1, col : col + 1])
    return float(luminance(pixel)[0][0, 0])


def _strips(raster: Raster) -> Iterator[tuple[int, np.ndarray]]:
    rows = strip_rows(raster.width)
    for y0 in range(0, raster.height, rows):
        yield y0, raster.pixels[y0 : y0 + rows]


def _strip_luminance(px: np.ndarray) -> np.ndarray:
    """Colour samples (n, W, >= 3) -> relative luminance (n, W)."""
    return np.clip(_linear(px[..., :3]) @ LUMA, 0.0, 1.0)


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
