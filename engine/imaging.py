"""Protocol images <-> arrays: decoding every pixel format to lightness, encoding the layer.

All formats carry display-referred (sRGB-encoded) samples; floats are in [0, 1].
Large images are processed in row strips so memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .color import RGB_TO_XYZ, WHITE_D65, XYZ_TO_RGB

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
STRIP_PIXELS = 1 << 21  # rows per strip are chosen so a strip holds about this many pixels

_LIN_LUT_SIZE = 65536
# sRGB decode of every 16-bit code (an 8-bit code c is 16-bit code c * 257).
_SRGB_TO_LINEAR_16 = np.where(
    (v := np.arange(_LIN_LUT_SIZE, dtype=np.float64) / 65535.0) <= 0.04045,
    v / 12.92,
    ((v + 0.055) / 1.055) ** 2.4,
).astype(np.float32)
# sRGB encode of linear light quantised to 1/65535, straight to 8 bits.
_LINEAR_TO_SRGB8 = np.round(
    255.0
    * np.where(
        (u := np.arange(_LIN_LUT_SIZE, dtype=np.float64) / 65535.0) <= 0.0031308,
        u * 12.92,
        1.055 * u ** (1 / 2.4) - 0.055,
    )
).astype(np.uint8)


class ImageError(ValueError):
    """The image fields do not describe a valid image."""


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


def decode(width: int, height: int, fmt: str, data: bytes) -> Raster:
    if fmt not in FORMATS:
        raise ImageError(f"unknown pixel format {fmt!r}; use one of {', '.join(FORMATS)}")
    channels, dtype, _ = FORMATS[fmt]
    itemsize = np.dtype(dtype).itemsize
    expected = width * height * channels * itemsize
    if len(data) != expected:
        raise ImageError(
            f"image data is {len(data)} bytes but {width}x{height} {fmt} needs {expected}"
        )
    pixels = np.frombuffer(data, dtype=dtype).reshape(height, width, channels)
    return Raster(width, height, fmt, pixels)


def _unit(pixels: np.ndarray, fmt: str) -> np.ndarray:
    scale = FORMATS[fmt][2]
    out = pixels.astype(np.float32)
    if scale != 1.0:
        out /= scale
    else:
        np.nan_to_num(out, copy=False, nan=0.0, posinf=1.0, neginf=0.0)
        np.clip(out, 0.0, 1.0, out=out)
    return out


def _linear(pixels: np.ndarray, fmt: str) -> np.ndarray:
    """sRGB-encoded samples -> linear light, via a table for the integer formats."""
    if pixels.dtype == np.uint8:
        return _SRGB_TO_LINEAR_16[pixels.astype(np.int32) * 257]
    if pixels.dtype == np.uint16:
        return _SRGB_TO_LINEAR_16[pixels]
    u = _unit(pixels, fmt)
    return np.where(u <= 0.04045, u / 12.92, ((u + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _f(t: np.ndarray) -> np.ndarray:
    return np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16.0 / 116.0)


def lightness(raster: Raster) -> np.ndarray:
    """CIELAB L (H, W) float32 in [0, 100]; colour inputs are colorized from their lightness."""
    out = np.empty((raster.height, raster.width), np.float32)
    rows = strip_rows(raster.width)
    for y0 in range(0, raster.height, rows):
        px = raster.pixels[y0 : y0 + rows]
        if raster.channels == 1:
            lin_y = _linear(px[..., 0], raster.format)
        else:
            lin = _linear(px[..., :3], raster.format)
            lin_y = lin @ np.array([0.212671, 0.715160, 0.072169], np.float32)
        out[y0 : y0 + rows] = 116.0 * _f(lin_y) - 16.0
    return out


def alpha8(raster: Raster) -> np.ndarray | None:
    """The source's alpha as 8 bits, so transparent parts stay transparent in the layer."""
    if raster.channels != 4:
        return None
    a = raster.pixels[..., 3]
    if a.dtype == np.uint8:
        return a
    return np.round(_unit(a, raster.format) * 255.0).astype(np.uint8)


def lab_to_rgb8(L: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Lab planes -> (..., 3) uint8 sRGB, gamut-clipped; the hot path of every reply."""
    fy = (L + 16.0) / 116.0
    fx = fy + a / 500.0
    fz = fy - b / 200.0
    xyz = []
    for t, white in zip((fx, fy, fz), WHITE_D65, strict=True):
        t3 = t * t * t
        xyz.append(np.where(t3 > 0.008856, t3, (t - 16.0 / 116.0) / 7.787) * white)
    m = XYZ_TO_RGB
    lin = np.stack([m[c, 0] * xyz[0] + m[c, 1] * xyz[1] + m[c, 2] * xyz[2] for c in range(3)])
    # Out of gamut: blend toward the neutral of the same luminance Y in linear light. Y is
    # linear in RGB, so the blend keeps Y (hence L) exact and only lowers the chroma.
    y = np.clip(xyz[1], 0.0, 1.0)
    hi = lin.max(axis=0)
    lo = lin.min(axis=0)
    t = np.ones_like(y)
    over = hi > 1.0
    t[over] = (1.0 - y[over]) / np.maximum(hi[over] - y[over], 1e-12)
    under = lo < 0.0
    t[under] = np.minimum(t[under], y[under] / np.maximum(y[under] - lo[under], 1e-12))
    if over.any() or under.any():
        lin = y + t * (lin - y)
    idx = np.clip(lin * 65535.0 + 0.5, 0, 65535).astype(np.int32)
    return np.moveaxis(_LINEAR_TO_SRGB8[idx], 0, -1)


def rgb8_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 -> (..., 3) float32 Lab."""
    lin = _SRGB_TO_LINEAR_16[rgb.astype(np.int32) * 257]
    xyz = lin @ RGB_TO_XYZ.T / WHITE_D65
    f = _f(xyz)
    return np.stack(
        [
            116.0 * f[..., 1] - 16.0,
            500.0 * (f[..., 0] - f[..., 1]),
            200.0 * (f[..., 1] - f[..., 2]),
        ],
        axis=-1,
    ).astype(np.float32)
