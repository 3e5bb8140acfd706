"""Edge-aware chroma upsampling: the fast guided filter (He & Sun 2015).

The network predicts ab at working resolution; a local linear model ab = A * L + B is
fitted there and evaluated with the full-resolution lightness, so chroma edges follow
the lightness edges of the original instead of bleeding across them.
"""

from __future__ import annotations

import numpy as np

RADIUS = 2  # box radius at working resolution
EPS = 1e-3  # regularisation, with L scaled to [0, 1]


def _box(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window on the last two axes, edges renormalised."""

    def along(a: np.ndarray, axis: int) -> np.ndarray:
        n = a.shape[axis]
        c = np.cumsum(a, axis=axis, dtype=np.float64)
        pad_shape = list(a.shape)
        pad_shape[axis] = 1
        c = np.concatenate([np.zeros(pad_shape), c], axis=axis)
        hi = np.minimum(np.arange(n) + r + 1, n)
        lo = np.maximum(np.arange(n) - r, 0)
        s = np.take(c, hi, axis=axis) - np.take(c, lo, axis=axis)
        shape = [1] * a.ndim
        shape[axis] = n
        return s / (hi - lo).reshape(shape)

    return along(along(x, -1), -2).astype(np.float32)


def guided_coefficients(guide: np.ndarray, src: np.ndarray) -> np.ndarray:
    """guide (h, w) in [0, 1], src (C, h, w) -> (2C, h, w): mean A then mean B per channel."""
    mean_i = _box(guide, RADIUS)
    var_i = _box(guide * guide, RADIUS) - mean_i * mean_i
    mean_p = _box(src, RADIUS)
    cov = _box(src * guide[None], RADIUS) - mean_i[None] * mean_p
    a = cov / (var_i[None] + EPS)
    b = mean_p - a * mean_i[None]
    return np.concatenate([_box(a, RADIUS), _box(b, RADIUS)], axis=0)


def _linear_taps(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel-centre aligned bilinear sampling positions (as align_corners=False)."""
    pos = (np.arange(n_out, dtype=np.float32) + 0.5) * (n_in / n_out) - 0.5
    pos = np.clip(pos, 0, n_in - 1)
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (pos - i0).astype(np.float32)


class StripUpsampler:
    """Evaluates the guided-filter model at full resolution, one row strip at a time."""

    def __init__(self, coeffs: np.ndarray, out_w: int, out_h: int) -> None:
        _, h, w = coeffs.shape
        x0, x1, fx = _linear_taps(out_w, w)
        self._rows = coeffs[:, :, x0] * (1 - fx) + coeffs[:, :, x1] * fx  # (2C, h, W)
        self._y = _linear_taps(out_h, h)
        self.channels = coeffs.shape[0] // 2

    def strip(self, guide_rows: np.ndarray, y0: int) -> np.ndarray:
        """guide_rows (n, W) in [0, 1] for output rows y0.. -> (C, n, W)."""
        n = guide_rows.shape[0]
        i0, i1, fy = (t[y0 : y0 + n] for t in self._y)
        fy = fy[None, :, None]
        coef = self._rows[:, i0] * (1 - fy) + self._rows[:, i1] * fy
        c = self.channels
        return coef[:c] * guide_rows[None] + coef[c:]
