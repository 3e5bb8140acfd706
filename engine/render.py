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
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from .imaging import STRIP_PIXELS
from .jobs import Job
from .models.lab_torch import _DELTA
from .upsample import LINEAR_TO_SRGB8, XYZN_TO_RGB, LayerRenderer, guide_maps, taps

log = logging.getLogger("chromahint.engine")

try:
    import numba
except ImportError:  # the torch path below still renders, slower
    numba = None

_LUT = LINEAR_TO_SRGB8.numpy()
# Strips of one layer render side by side; requests rendering at once share these threads.
RENDER_THREADS = max(1, os.cpu_count() or 1)
_POOL = ThreadPoolExecutor(RENDER_THREADS, thread_name_prefix="render")
_M64 = XYZN_TO_RGB.astype(np.float64)


def _kernel(maps, xi, xf, yi, yf, L, Y, alpha, has_alpha, m, lut, out, y0, y1):  # pragma: no cover
    """Rows y0..y1 of out (H, W, 4) uint8; the maths of upsample.LayerRenderer.strip, with
    the bilinear taps of the (4, h, w) guide maps expanded once per working row."""
    width = L.shape[1]
    d = _DELTA
    slope = 3.0 * d * d
    lo_row = np.empty((4, width))
    hi_row = np.empty((4, width))
    current = -1
    for y in range(y0, y1):
        i = yi[y]
        f = yf[y]
        if i != current:
            for c in range(4):
                for x in range(width):
                    j = xi[x]
                    g = xf[x]
                    lo_row[c, x] = maps[c, i, j] * (1.0 - g) + maps[c, i, j + 1] * g
                    hi_row[c, x] = maps[c, i + 1, j] * (1.0 - g) + maps[c, i + 1, j + 1] * g
            current = i
        for x in range(width):
            c0 = lo_row[0, x] + (hi_row[0, x] - lo_row[0, x]) * f
            c1 = lo_row[1, x] + (hi_row[1, x] - lo_row[1, x]) * f
            c2 = lo_row[2, x] + (hi_row[2, x] - lo_row[2, x]) * f
            c3 = lo_row[3, x] + (hi_row[3, x] - lo_row[3, x]) * f
            lum = L[y, x]
            lin = Y[y, x]
            tx = c1 + c0 * lum
            tz = c3 + c2 * lum
            cx = max(tx, d)
            cz = max(tz, d)
            fx = cx * cx * cx + slope * min(tx - d, 0.0)
            fz = cz * cz * cz + slope * min(tz - d, 0.0)
            r = m[0, 0] * fx + m[0, 2] * fz + m[0, 1] * lin
            g2 = m[1, 0] * fx + m[1, 2] * fz + m[1, 1] * lin
            b = m[2, 0] * fx + m[2, 2] * fz + m[2, 1] * lin
            top = max(max(r, g2), b)
            bottom = min(min(r, g2), b)
            if top > 1.0 or bottom < 0.0:
                # Out of gamut: toward the neutral of the same luminance (keeps L exact);
                # in gamut the blend factor is 1, so most pixels skip the divisions.
                hi = max(top - lin, 1e-12)
                lo = max(lin - bottom, 1e-12)
                t = min(max(min((1.0 - lin) / hi, lin / lo), 0.0), 1.0)
                r = lin + (r - lin) * t
                g2 = lin + (g2 - lin) * t
                b = lin + (b - lin) * t
            out[y, x, 0] = lut[min(max(int(r * 65535.0 + 0.5), 0), 65535)]
            out[y, x, 1] = lut[min(max(int(g2 * 65535.0 + 0.5), 0), 65535)]
            out[y, x, 2] = lut[min(max(int(b * 65535.0 + 0.5), 0), 65535)]
            out[y, x, 3] = alpha[y, x] if has_alpha else 255


_fused: Callable[..., None] | None = (
    # error_model="numpy": no zero-division checks (the divisors are clamped above 0).
    numba.njit(cache=True, nogil=True, error_model="numpy")(_kernel) if numba is not None else None
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
    """The rgba8 layer (H, W, 4) as bytes. Strips run on RENDER_THREADS threads (the kernel
    releases the GIL); between strips, in order, `job.checkpoint` reports progress from
    span[0] to span[1] and is where a cancel stops the work."""
    height, width = L_full.shape
    out = np.empty((height, width, 4), np.uint8)
    # Strips of about a million pixels, and at least two per render thread.
    rows = max(1, min(16 * STRIP_PIXELS // max(width, 1), -(-height // (2 * RENDER_THREADS))))
    starts = range(0, height, rows)
    if fused and _fused is not None:
        kernel = _fused
        maps = guide_maps(L_work, ab_work)
        (xi, xf), (yi, yf) = taps(width, maps.shape[2]), taps(height, maps.shape[1])
        has_alpha = alpha is not None
        args = (
            *(t.numpy() for t in (maps, xi, xf, yi, yf)),
            L_full,
            Y_full,
            np.ascontiguousarray(alpha) if has_alpha else np.zeros((1, 1), np.uint8),
            has_alpha,
            _M64,
            _LUT,
            out,
        )

        def strip(y0: int) -> None:
            kernel(*args, y0, min(height, y0 + rows))

    else:
        model = LayerRenderer(L_work, ab_work, width, height)
        writable = (a if a.flags.writeable else a.copy() for a in (out, L_full, Y_full))
        out_t, L_t, Y_t = (torch.from_numpy(a) for a in writable)
        out[..., 3] = 255 if alpha is None else alpha

        def strip(y0: int) -> None:
            y1 = min(height, y0 + rows)
            out_t[y0:y1, :, :3] = model.strip(L_t[y0:y1], Y_t[y0:y1], y0)

    pending = [_POOL.submit(strip, y0) for y0 in starts]
    try:
        for n, future in enumerate(pending, 1):
            future.result()
            if job is not None:
                # The last strip reports span[1] itself (0.3 + 0.7 is not 1.0 in floats).
                last = n == len(pending)
                job.checkpoint(
                    span[1] if last else span[0] + (span[1] - span[0]) * n / len(pending), "render"
                )
    finally:
        for future in pending:
            future.cancel()  # after a cancel (or an error): the strips not begun never run
    return out.data.cast("B")
