"""The full-resolution render as one fused pass per strip: guided chroma upsampling,
Lab -> sRGB, gamut mapping at constant luminance and alpha, compiled with numba.

The model is upsample.py's (the guided filter's coefficient rows, evaluated with the
full-resolution lightness; the same gamut mapping and 16-bit sRGB table), so lightness stays
exact and chroma does not bleed across edges; the torch path there is the reference and
the fallback where numba is missing. numba because it installs from wheels on every
platform we ship (llvmlite bundles LLVM: no compiler on the user's machine, unlike
torch.compile's C++ backend or a C extension), and its `nogil` kernels let the engine's
worker threads render side by side.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch

from .imaging import STRIP_PIXELS
from .jobs import Job
from .models.lab_torch import _DELTA
from .upsample import LINEAR_TO_SRGB8, XYZN_TO_RGB, LayerRenderer

log = logging.getLogger("chromahint.engine")

try:
    import numba
except ImportError:  # the torch path below still renders, slower
    numba = None

_LUT = LINEAR_TO_SRGB8.numpy()
_M64 = XYZN_TO_RGB.astype(np.float64)


def _kernel(
    rows, step, yi, yf, L, Y, alpha, has_alpha, m, lut, out, y0, y1
):  # pragma: no cover (numba)
    """Rows y0..y1 of out (H, W, 4) uint8; see upsample.LayerRenderer.strip for the maths."""
    width = L.shape[1]
    d = _DELTA
    slope = 3.0 * d * d
    for y in range(y0, y1):
        i = yi[y]
        f = yf[y]
        for x in range(width):
            c0 = rows[0, i, x] + step[0, i, x] * f
            c1 = rows[1, i, x] + step[1, i, x] * f
            c2 = rows[2, i, x] + step[2, i, x] * f
            c3 = rows[3, i, x] + step[3, i, x] * f
            lum = L[y, x]
            lin = Y[y, x]
            tx = c1 + c0 * lum
            tz = c3 + c2 * lum
            cx = max(tx, d)
            cz = max(tz, d)
            fx = cx * cx * cx + slope * min(tx - d, 0.0)
            fz = cz * cz * cz + slope * min(tz - d, 0.0)
            r = m[0, 0] * fx + m[0, 2] * fz + m[0, 1] * lin
            g = m[1, 0] * fx + m[1, 2] * fz + m[1, 1] * lin
            b = m[2, 0] * fx + m[2, 2] * fz + m[2, 1] * lin
            # Out of gamut: toward the neutral of the same luminance (keeps L exact).
            hi = max(max(max(r, g), b) - lin, 1e-12)
            lo = max(lin - min(min(r, g), b), 1e-12)
            t = min(max(min((1.0 - lin) / hi, lin / lo), 0.0), 1.0)
            r = lin + (r - lin) * t
            g = lin + (g - lin) * t
            b = lin + (b - lin) * t
            out[y, x, 0] = lut[min(max(int(r * 65535.0 + 0.5), 0), 65535)]
            out[y, x, 1] = lut[min(max(int(g * 65535.0 + 0.5), 0), 65535)]
            out[y, x, 2] = lut[min(max(int(b * 65535.0 + 0.5), 0), 65535)]
            out[y, x, 3] = alpha[y, x] if has_alpha else 255


_fused: Callable[..., None] | None = (
    numba.njit(cache=True, nogil=True)(_kernel) if numba is not None else None
)


def fused_available() -> bool:
    return _fused is not None


def warm_up() -> None:
    """Compile (or load the cached compile of) the kernel now, not on the first request."""
    if _fused is None:
        log.warning("numba is not installed: rendering with the slower torch path")
        return
    L = np.full((4, 4), 50.0, np.float32)
    render_rgba8(L, np.zeros((2, 4, 4), np.float32), L, np.full((4, 4), 0.18, np.float32), None)


def render_rgba8(
    L_work: np.ndarray,
    ab_work: np.ndarray,
    L_full: np.ndarray,
    Y_full: np.ndarray,
    alpha: np.ndarray | None,
    job: Job | None = None,
    span: tuple[float, float] = (0.0, 1.0),
    fused: bool = True,
) -> memoryview:
    """The rgba8 layer (H, W, 4) as bytes. Strip by strip, with `job.checkpoint` between
    strips (progress from span[0] to span[1], and where a cancel stops the work)."""
    height, width = L_full.shape
    model = LayerRenderer(L_work, ab_work, width, height)
    out = np.empty((height, width, 4), np.uint8)
    rows = max(1, 16 * STRIP_PIXELS // max(width, 1))
    kernel = _fused if fused else None
    if kernel is not None:
        args = (
            model.rows.numpy(),
            model.step.numpy(),
            model.yi.numpy(),
            model.yf.numpy(),
            L_full,
            Y_full,
            np.zeros((1, 1), np.uint8) if alpha is None else np.ascontiguousarray(alpha),
            alpha is not None,
            _M64,
            _LUT,
            out,
        )
    else:
        writable = (a if a.flags.writeable else a.copy() for a in (out, L_full, Y_full))
        out_t, L_t, Y_t = (torch.from_numpy(a) for a in writable)
        out[..., 3] = 255 if alpha is None else alpha
    for y0 in range(0, height, rows):
        y1 = min(height, y0 + rows)
        if kernel is not None:
            kernel(*args, y0, y1)
        else:
            out_t[y0:y1, :, :3] = model.strip(L_t[y0:y1], Y_t[y0:y1], y0)
        if job is not None:
            job.checkpoint(span[0] + (span[1] - span[0]) * y1 / height, "render")
    return out.data.cast("B")
