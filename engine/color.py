"""sRGB <-> CIELAB (D65) conversions on float32 numpy arrays, channels last.

One place for the colour constants so the engine, training and evaluation agree.
Matches skimage.color.rgb2lab/lab2rgb to ~1e-4.
"""

from __future__ import annotations

import numpy as np

# D65 white point and the sRGB primaries (IEC 61966-2-1).
WHITE_D65 = np.array([0.95047, 1.0, 1.08883], dtype=np.float32)
RGB_TO_XYZ = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ],
    dtype=np.float32,
)
XYZ_TO_RGB = np.linalg.inv(RGB_TO_XYZ.astype(np.float64)).astype(np.float32)
LAB_EPSILON = 0.008856
LAB_KAPPA = 7.787


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, dtype=np.float32)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0.0, None)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055).astype(
        np.float32
    )


def _f(t: np.ndarray) -> np.ndarray:
    return np.where(t > LAB_EPSILON, np.cbrt(t), LAB_KAPPA * t + 16.0 / 116.0)


def _finv(t: np.ndarray) -> np.ndarray:
    t3 = t**3
    return np.where(t3 > LAB_EPSILON, t3, (t - 16.0 / 116.0) / LAB_KAPPA)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """rgb in [0, 1], shape (..., 3) -> Lab, L in [0, 100]."""
    xyz = srgb_to_linear(rgb) @ RGB_TO_XYZ.T / WHITE_D65
    f = _f(xyz)
    lab = np.empty_like(f)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab.astype(np.float32)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """Lab (..., 3) -> sRGB in [0, 1], clipped to the gamut."""
    lab = np.asarray(lab, dtype=np.float32)
    fy = (lab[..., 0] + 16.0) / 116.0
    fx = fy + lab[..., 1] / 500.0
    fz = fy - lab[..., 2] / 200.0
    xyz = np.stack([_finv(fx), _finv(fy), _finv(fz)], axis=-1) * WHITE_D65
    rgb = linear_to_srgb(xyz @ XYZ_TO_RGB.T)
    return np.clip(rgb, 0.0, 1.0)


def luminance_to_lightness(y: np.ndarray) -> np.ndarray:
    """Relative luminance Y in [0, 1] -> CIELAB L in [0, 100]."""
    return (116.0 * _f(np.asarray(y, dtype=np.float32)) - 16.0).astype(np.float32)
